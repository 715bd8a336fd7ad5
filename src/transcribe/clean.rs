//! Guards against Whisper's known failures on telephone audio: text
//! invented on silence or hold music (closing credits of video subtitles,
//! "thanks for watching", 字幕 credits) and decoding loops that repeat a
//! phrase over and over. Pure functions over recognised text.

/// Phrases Whisper produces on silence, music and noise because its
/// training data (subtitled videos) ends that way. A piece of text made
/// only of these is dropped; they never occur in a real service call.
const INVENTED: [&str; 26] = [
    "thank you for watching",
    "thanks for watching",
    "please subscribe",
    "like and subscribe",
    "subtitles by",
    "subtitled by",
    "transcribed by",
    "amara.org",
    "www.",
    ".com",
    "字幕",
    "請不吝點贊",
    "请不吝点赞",
    "订阅",
    "訂閱",
    "点赞",
    "谢谢观看",
    "謝謝觀看",
    "感谢观看",
    "明镜",
    "优优独播剧场",
    "中文字幕",
    "社区提供",
    "转发",
    "打赏",
    "栏目",
];

/// What cleaning did to a piece of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cleaned {
    /// Text to keep (possibly with a loop collapsed).
    Keep { text: String, collapsed: bool },
    /// Nothing to keep: empty, only symbols, or a known invention.
    Drop(&'static str),
}

fn is_cjk(c: char) -> bool {
    crate::text::is_cjk(c)
}

/// Units a loop is made of: words for spaced text, characters for Chinese.
pub(super) fn units(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if is_cjk(c) {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            out.push(c.to_string());
        } else if c.is_whitespace() {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
        } else {
            word.push(c);
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

pub(super) fn key(unit: &str) -> String {
    unit.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn join(units: &[String]) -> String {
    let mut s = String::new();
    for u in units {
        let cjk_join = s.chars().last().is_some_and(is_cjk) && u.chars().next().is_some_and(is_cjk);
        if !s.is_empty() && !cjk_join {
            s.push(' ');
        }
        s.push_str(u);
    }
    s
}

/// Collapses any phrase of 1–8 units repeated `min_repeats` or more times
/// in a row to a single copy. Returns the text and whether anything
/// collapsed.
pub fn collapse_loops(text: &str, min_repeats: usize) -> (String, bool) {
    let units = units(text);
    let keys: Vec<String> = units.iter().map(|u| key(u)).collect();
    let mut out: Vec<String> = Vec::with_capacity(units.len());
    let mut i = 0;
    let mut collapsed = false;
    'outer: while i < units.len() {
        for n in 1..=8usize {
            if i + n * min_repeats > units.len() {
                break;
            }
            let phrase = &keys[i..i + n];
            if phrase.iter().all(|k| k.is_empty()) {
                continue;
            }
            let mut reps = 1;
            while i + (reps + 1) * n <= units.len()
                && &keys[i + reps * n..i + (reps + 1) * n] == phrase
            {
                reps += 1;
            }
            if reps >= min_repeats {
                out.extend_from_slice(&units[i..i + n]);
                i += reps * n;
                collapsed = true;
                continue 'outer;
            }
        }
        out.push(units[i].clone());
        i += 1;
    }
    if collapsed {
        (join(&out), true)
    } else {
        (text.trim().to_owned(), false)
    }
}

/// Shortest phrase (in units) whose immediate repetition, even once, is a
/// decoding loop rather than speech.
const LONG_PHRASE_UNITS: usize = 6;

/// Collapses a long phrase repeated back to back (a whole sentence decoded
/// again and again until the token cap) to one copy, along with a trailing
/// partial copy. Returns the text and whether anything collapsed.
pub fn collapse_long_repeats(text: &str) -> (String, bool) {
    let units = units(text);
    let keys: Vec<String> = units.iter().map(|u| key(u)).collect();
    let mut out: Vec<String> = Vec::with_capacity(units.len());
    let mut i = 0;
    let mut collapsed = false;
    'outer: while i < units.len() {
        let longest = (units.len() - i) / 2;
        for n in (LONG_PHRASE_UNITS..=longest).rev() {
            let phrase = &keys[i..i + n];
            if phrase.iter().filter(|k| !k.is_empty()).count() < LONG_PHRASE_UNITS
                || &keys[i + n..i + 2 * n] != phrase
            {
                continue;
            }
            let mut next = i + 2 * n;
            while next + n <= units.len() && &keys[next..next + n] == phrase {
                next += n;
            }
            // A final copy cut short by the token cap.
            let partial = keys[next..]
                .iter()
                .zip(phrase)
                .take_while(|(a, b)| a == b)
                .count();
            if partial >= LONG_PHRASE_UNITS.min(n) && next + partial == units.len() {
                next += partial;
            }
            out.extend_from_slice(&units[i..i + n]);
            i = next;
            collapsed = true;
            continue 'outer;
        }
        out.push(units[i].clone());
        i += 1;
    }
    if collapsed {
        (join(&out), true)
    } else {
        (text.trim().to_owned(), false)
    }
}

/// Whether the text is mostly a known invention: once the known phrases
/// are taken out, at most a third of its letters (or three) are left.
fn invented(text: &str) -> bool {
    let letters = |s: &str| s.chars().filter(|c| c.is_alphanumeric()).count();
    let mut rest = text.to_lowercase();
    let mut hit = false;
    for p in INVENTED {
        if rest.contains(p) {
            hit = true;
            rest = rest.replace(p, " ");
        }
    }
    let left = letters(&rest);
    hit && (left <= 3 || left * 3 <= letters(text))
}

/// Cleans one piece of recognised text.
pub fn clean(text: &str) -> Cleaned {
    // Bracketed non-speech annotations: [Music], (applause), ♪ …
    let mut t = String::with_capacity(text.len());
    let mut depth = 0i32;
    for c in text.chars() {
        match c {
            '[' | '(' | '（' | '【' => depth += 1,
            ']' | ')' | '）' | '】' => depth = (depth - 1).max(0),
            '♪' | '♫' | '\u{fffd}' => {}
            _ if depth == 0 => t.push(c),
            _ => {}
        }
    }
    let t = t.trim();
    if !t.chars().any(char::is_alphanumeric) {
        return Cleaned::Drop("no words");
    }
    if invented(t) {
        return Cleaned::Drop("text Whisper invents on silence or music");
    }
    let (text, short) = collapse_loops(t, 4);
    let (text, long) = collapse_long_repeats(&text);
    Cleaned::Keep {
        text,
        collapsed: short || long,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_table() {
        let keep = |s: &str, c: bool| Cleaned::Keep {
            text: s.to_owned(),
            collapsed: c,
        };
        let cases: Vec<(&str, Cleaned)> = vec![
            (
                "Hello, how can I help you?",
                keep("Hello, how can I help you?", false),
            ),
            (
                "  您好，请问有什么可以帮您？ ",
                keep("您好，请问有什么可以帮您？", false),
            ),
            ("[Music]", Cleaned::Drop("no words")),
            ("♪ ♪ ♪", Cleaned::Drop("no words")),
            ("...", Cleaned::Drop("no words")),
            (
                "Thank you for watching!",
                Cleaned::Drop("text Whisper invents on silence or music"),
            ),
            (
                "字幕由Amara.org社区提供",
                Cleaned::Drop("text Whisper invents on silence or music"),
            ),
            (
                "请不吝点赞 订阅 转发 打赏支持明镜与点点栏目",
                Cleaned::Drop("text Whisper invents on silence or music"),
            ),
            // A real sentence mentioning a website stays.
            (
                "You can also order on our website at www.example.com tonight",
                keep(
                    "You can also order on our website at www.example.com tonight",
                    false,
                ),
            ),
            ("(laughs) That's fine", keep("That's fine", false)),
            (
                "请问您订阅了我们的会员吗",
                keep("请问您订阅了我们的会员吗", false),
            ),
            (
                "I see. I see. I see. I see. I see. I see.",
                keep("I see.", true),
            ),
            ("no no no", keep("no no no", false)),
            // A whole sentence decoded again and again, the last copy cut.
            (
                "Had he married a more amiable woman, he might have been made still more respectable. Had he married a more amiable woman, he might have been made still more respectable. Had he married a more amiable woman",
                keep("Had he married a more amiable woman, he might have been made still more respectable.", true),
            ),
            ("您好欢迎致电客服中心您好欢迎致电客服中心", keep("您好欢迎致电客服中心", true)),
            // A short phrase said twice is speech.
            ("I said no, I said no", keep("I said no, I said no", false)),
            ("请问请问您是哪位", keep("请问请问您是哪位", false)),
            ("好的好的好的好的好的好的", keep("好的", true)),
            (
                "OK thank you thank you thank you thank you thank you bye",
                keep("OK thank you bye", true),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(clean(input), want, "input {input:?}");
        }
    }
}
