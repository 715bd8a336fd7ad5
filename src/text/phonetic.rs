//! How Chinese characters sound, for matching call transcripts in which
//! speech recognition wrote a homophone: 不规我管 for 不归我管, 退宽 for 退款.
//! Owns the `pinyin` crate; the rest of callqa sees `Sound` and `Likeness`.
//!
//! Tones are ignored (telephone audio and recognisers lose them first), and
//! two characters whose syllables differ only by the distinctions speakers
//! of many dialects and 8 kHz audio blur — zh/z, ch/c, sh/s, n/l, and a
//! final -ng after a, e or i (the "fuzzy pinyin" of Chinese input methods)
//! — sound near.

use pinyin::ToPinyin;

/// A character with its toneless pinyin, looked up once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sound {
    pub ch: char,
    /// Toneless syllable of the character's most common reading; `None`
    /// for anything that is not a Chinese character.
    syllable: Option<&'static str>,
    /// The syllable's initial and final with the fuzzy distinctions merged.
    loose: Option<(&'static str, &'static str)>,
}

/// How alike two characters sound, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Likeness {
    Different,
    /// The same syllable up to zh/z, ch/c, sh/s, n/l, -ng/-n.
    Near,
    /// Different characters, the same toneless syllable.
    Homophone,
    /// The same character.
    Same,
}

impl Sound {
    pub fn of(ch: char) -> Self {
        let syllable = ch.to_pinyin().map(|p| p.plain());
        Sound {
            ch,
            syllable,
            loose: syllable.map(loose),
        }
    }

    /// The toneless syllable, for Chinese characters.
    pub fn syllable(&self) -> Option<&'static str> {
        self.syllable
    }

    pub fn likeness(&self, other: &Sound) -> Likeness {
        if self.ch == other.ch {
            return Likeness::Same;
        }
        match (self.syllable, other.syllable) {
            (Some(a), Some(b)) if a == b => Likeness::Homophone,
            (Some(_), Some(_)) if self.loose == other.loose => Likeness::Near,
            _ => Likeness::Different,
        }
    }
}

/// Splits a toneless syllable into initial and final.
fn split(s: &'static str) -> (&'static str, &'static str) {
    const INITIALS: [&str; 23] = [
        "zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x",
        "r", "z", "c", "s", "y", "w",
    ];
    INITIALS
        .iter()
        .find(|i| s.starts_with(*i))
        .map(|i| s.split_at(i.len()))
        .unwrap_or(("", s))
}

/// A syllable with the fuzzy distinctions merged.
fn loose(s: &'static str) -> (&'static str, &'static str) {
    let (initial, fin) = split(s);
    let initial = match initial {
        "zh" => "z",
        "ch" => "c",
        "sh" => "s",
        "n" => "l",
        other => other,
    };
    // an/ang, en/eng, in/ing, ian/iang, uan/uang — but not ong/iong,
    // which have no -n partner.
    let fin = match fin.strip_suffix('g') {
        Some(f) if f.ends_with('n') && !f.ends_with("on") => f,
        _ => fin,
    };
    (initial, fin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn likeness_of_character_pairs() {
        use Likeness::*;
        let cases = [
            ('归', '归', Same),
            ('归', '规', Homophone),
            ('款', '宽', Homophone),
            ('是', '四', Near),      // shi / si
            ('南', '蓝', Near),      // nan / lan
            ('今', '经', Near),      // jin / jing
            ('东', '动', Homophone), // tones ignored
            ('中', '钟', Homophone),
            ('工', '根', Different), // gong has no -n partner
            ('归', '我', Different),
            ('a', 'a', Same),
            ('a', 'b', Different),
            ('1', '一', Different),
        ];
        for (a, b, want) in cases {
            assert_eq!(Sound::of(a).likeness(&Sound::of(b)), want, "{a} {b}");
        }
    }

    #[test]
    fn syllables_are_toneless() {
        assert_eq!(Sound::of('归').syllable(), Some("gui"));
        assert_eq!(Sound::of('绿').syllable(), Some("lü"));
        assert_eq!(Sound::of('x').syllable(), None);
    }
}
