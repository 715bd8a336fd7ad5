//! Text normalisation for matching, shared by rule packs (phrases are
//! normalised the same way as transcripts) and analysers.
//!
//! Chinese has no word boundaries and arrives in full-width forms and, from
//! speech recognition, sometimes in traditional characters; English varies in
//! case and punctuation. `normalise` maps both onto one form while keeping,
//! for every byte of the result, the index of the original character it came
//! from, so a match can be highlighted in the text a human reads.

pub mod digits;
pub mod phonetic;
pub mod pii;

use crate::domain::Language;

/// Normalised text plus a map back to the original's characters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NormText {
    pub text: String,
    /// For each byte of `text`, the index of the original character.
    orig: Vec<u32>,
}

impl NormText {
    /// The original character range `[start, end)` that the normalised byte
    /// range `[start, end)` came from.
    pub fn orig_chars(&self, start: usize, end: usize) -> (usize, usize) {
        if self.orig.is_empty() || start >= end {
            let at = self.orig.get(start).copied().unwrap_or(0) as usize;
            return (at, at);
        }
        let s = self.orig[start.min(self.orig.len() - 1)] as usize;
        let e = self.orig[(end - 1).min(self.orig.len() - 1)] as usize + 1;
        (s, e)
    }
}

/// Whether a character is a CJK ideograph.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// Full-width ASCII forms and the ideographic space to their half-width forms.
pub fn half_width(c: char) -> char {
    match c as u32 {
        0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        0x3000 => ' ',
        _ => c,
    }
}

/// Traditional to simplified Chinese, character for character (the result
/// has exactly as many characters as the input).
pub fn to_simplified(s: &str) -> String {
    if s.chars().any(|c| c.len_utf8() == 3) {
        fast2s::convert(s)
    } else {
        s.to_owned()
    }
}

/// One character in simplified form (itself where the conversion is not
/// one character).
pub fn to_simplified_char(c: char) -> char {
    if c.len_utf8() != 3 {
        return c;
    }
    let s = fast2s::convert(c.encode_utf8(&mut [0u8; 4]));
    let mut it = s.chars();
    match (it.next(), it.next()) {
        (Some(one), None) => one,
        _ => c,
    }
}

/// Normalise text for matching: traditional → simplified, full-width →
/// half-width, lower case, typographic apostrophes to `'`, every other
/// punctuation or symbol to a single space, whitespace collapsed, and spaces
/// that speech recognition puts between Chinese characters removed (spaces
/// that stood for punctuation stay, so "不，归我管" never reads as "不归我管").
pub fn normalise(text: &str, _language: Language) -> NormText {
    let simplified = to_simplified(text);
    let mut out = String::with_capacity(simplified.len());
    let mut orig: Vec<u32> = Vec::with_capacity(simplified.len());
    // Whether the last pushed byte is a space that came from whitespace
    // (not punctuation), and whether the char before it was CJK.
    let mut ws_space_after_cjk = false;
    let mut last_cjk = false;
    for (i, c) in simplified.chars().enumerate() {
        let c = half_width(c);
        let c = match c {
            '\u{2018}' | '\u{2019}' | '\u{02BC}' | '`' => '\'',
            _ => c,
        };
        if c.is_whitespace() || !(c.is_alphanumeric() || c == '\'') {
            let from_ws = c.is_whitespace();
            if out.is_empty() || out.ends_with(' ') {
                // Collapse; punctuation next to whitespace makes the space
                // a real separator.
                if !from_ws {
                    ws_space_after_cjk = false;
                }
                continue;
            }
            ws_space_after_cjk = from_ws && last_cjk;
            out.push(' ');
            orig.push(i as u32);
            last_cjk = false;
            continue;
        }
        let cjk = is_cjk(c);
        if cjk && ws_space_after_cjk && out.ends_with(' ') {
            out.pop();
            orig.pop();
        }
        ws_space_after_cjk = false;
        for l in c.to_lowercase() {
            let before = out.len();
            out.push(l);
            for _ in before..out.len() {
                orig.push(i as u32);
            }
        }
        last_cjk = cjk;
    }
    if out.ends_with(' ') {
        out.pop();
        orig.pop();
    }
    NormText { text: out, orig }
}

/// Guess the language of a conversation from its text: Chinese if a fair
/// share of its letters are Chinese characters.
pub fn detect_language<'a>(texts: impl IntoIterator<Item = &'a str>) -> Language {
    let (mut cjk, mut latin) = (0usize, 0usize);
    for t in texts {
        for c in t.chars() {
            if is_cjk(c) {
                cjk += 1;
            } else if c.is_ascii_alphabetic() {
                latin += 1;
            }
        }
    }
    // A Chinese character carries about as much as an English word of ~4
    // letters, so weigh them accordingly.
    if cjk * 4 >= latin && cjk > 0 {
        Language::Zh
    } else {
        Language::En
    }
}

/// Number of characters in `s`, for converting byte offsets to char offsets.
pub fn char_len(s: &str) -> usize {
    s.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        normalise(s, Language::Zh).text
    }

    #[test]
    fn normalises_chinese_and_english_forms() {
        let cases = [
            ("您好，很高興為您服務！", "您好 很高兴为您服务"),
            ("ＡＢＣ１２３　測試", "abc123 测试"),
            ("不 归 我 管", "不归我管"),
            ("不，归我管", "不 归我管"),
            ("I   can’t GUARANTEE that.", "i can't guarantee that"),
            ("  Hello,  world!! ", "hello world"),
            ("请问 Hello 您好", "请问 hello 您好"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(n(input), want, "input {input:?}");
        }
    }

    #[test]
    fn maps_matches_back_to_original_characters() {
        let t = normalise("您好，很高興為您服務！", Language::Zh);
        let start = t.text.find("高兴").unwrap();
        let (s, e) = t.orig_chars(start, start + "高兴".len());
        let orig: Vec<char> = "您好，很高興為您服務！".chars().collect();
        assert_eq!(orig[s..e].iter().collect::<String>(), "高興");

        let t = normalise("I   CAN’T guarantee", Language::En);
        let start = t.text.find("can't").unwrap();
        assert_eq!(t.orig_chars(start, start + 5), (4, 9));
    }

    #[test]
    fn detects_language() {
        assert_eq!(detect_language(["您好，请问有什么可以帮您"]), Language::Zh);
        assert_eq!(detect_language(["Hello, how can I help?"]), Language::En);
        assert_eq!(detect_language(["我的 iPhone 15 Pro 坏了"]), Language::Zh);
        assert_eq!(detect_language(["12345"]), Language::En);
    }
}
