//! How a piece of personal data reads once redacted, and the edits that
//! turn a text into its redacted form, with a map from old character
//! offsets to new ones (highlights must still point at the right words).

use serde::Deserialize;

use crate::domain::{Language, PiiKind};
use crate::text::pii::{Found, Shape};

/// `[privacy] mask`: how masked data is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaskStyle {
    /// Digits become `*` except the last few (`**** **** **** 7894`); an
    /// address keeps its first character and domain (`j***@example.com`).
    #[default]
    Partial,
    /// A type tag in place of the data: `[银行卡 ****7894]`,
    /// `[e-mail j***@example.com]`.
    Tag,
}

/// One piece to mask and how many of its trailing digits stay readable
/// (none for the first half of a number split across two turns).
#[derive(Debug, Clone)]
pub struct Piece {
    pub found: Found,
    pub keep: usize,
}

/// Replace the characters `[start, end)` with `with`.
#[derive(Debug, Clone, PartialEq)]
pub struct Edit {
    pub start: usize,
    pub end: usize,
    pub with: String,
}

fn label(kind: PiiKind, language: Language) -> &'static str {
    match (kind, language) {
        (PiiKind::BankCard, Language::Zh) => "银行卡",
        (PiiKind::CnMobile, Language::Zh) => "手机号",
        (PiiKind::CnId, Language::Zh) => "身份证",
        (PiiKind::Email, Language::Zh) => "邮箱",
        (PiiKind::Address, Language::Zh) => "地址",
        (PiiKind::Name, Language::Zh) => "姓名",
        (PiiKind::BankCard, _) => "card",
        (PiiKind::CnMobile, _) => "mobile",
        (PiiKind::CnId, _) => "ID",
        (PiiKind::Email, _) => "e-mail",
        (PiiKind::Address, _) => "address",
        (PiiKind::Name, _) => "name",
    }
}

fn stars(chars: &[char]) -> String {
    chars
        .iter()
        .map(|&c| {
            if c.is_whitespace() || c == '-' {
                c
            } else {
                '*'
            }
        })
        .collect()
}

fn slice(chars: &[char], (s, e): (usize, usize)) -> &[char] {
    let e = e.min(chars.len());
    &chars[s.min(e)..e]
}

/// The edits for one piece on its own.
fn piece_edits(p: &Piece, chars: &[char], style: MaskStyle, language: Language) -> Vec<Edit> {
    let f = &p.found;
    match (&f.shape, style) {
        (Shape::Digits { tokens, .. }, MaskStyle::Partial) => {
            let cut = tokens.len().saturating_sub(p.keep);
            tokens[..cut]
                .iter()
                .map(|&(s, e)| Edit {
                    start: s,
                    end: e,
                    with: stars(slice(chars, (s, e))),
                })
                .collect()
        }
        (Shape::Digits { tokens, digits }, MaskStyle::Tag) => {
            // Digits shown: the last `keep` of the tokens still readable.
            let shown = if tokens.len() > p.keep {
                let n = digits.chars().count();
                digits
                    .chars()
                    .skip(n.saturating_sub(p.keep))
                    .map(|c| c.to_ascii_uppercase())
                    .collect()
            } else {
                String::new()
            };
            vec![Edit {
                start: f.span.0,
                end: f.span.1,
                with: format!("[{} ****{}]", label(f.kind, language), shown),
            }]
        }
        (Shape::Email { local, .. }, MaskStyle::Partial) => {
            if local.1 <= local.0 + 1 {
                return Vec::new();
            }
            vec![Edit {
                start: local.0 + 1,
                end: local.1,
                with: "***".into(),
            }]
        }
        // A name keeps its first letter (the surname in Chinese: 张**),
        // an address nothing.
        (Shape::Words, MaskStyle::Partial) => {
            let keep = usize::from(f.kind == PiiKind::Name);
            let (s, e) = (f.span.0 + keep, f.span.1);
            if e <= s {
                return Vec::new();
            }
            vec![Edit {
                start: s,
                end: e,
                with: stars(slice(chars, (s, e))),
            }]
        }
        (Shape::Words, MaskStyle::Tag) => vec![Edit {
            start: f.span.0,
            end: f.span.1,
            with: format!("[{}]", label(f.kind, language)),
        }],
        (Shape::Email { local, at }, MaskStyle::Tag) => {
            let first: String = slice(chars, (local.0, local.0 + 1)).iter().collect();
            let domain: String = slice(chars, (at.1, f.span.1)).iter().collect();
            vec![Edit {
                start: f.span.0,
                end: f.span.1,
                with: format!("[{} {first}***@{}]", label(f.kind, language), domain.trim()),
            }]
        }
    }
}

/// Non-overlapping edits, in order, for pieces that may overlap. Pieces
/// that overlap are masked whole, as one.
pub fn edits(pieces: &[Piece], text: &str, style: MaskStyle, language: Language) -> Vec<Edit> {
    let chars: Vec<char> = text.chars().collect();
    let mut sorted: Vec<&Piece> = pieces
        .iter()
        .filter(|p| p.found.span.0 < p.found.span.1 && p.found.span.1 <= chars.len())
        .collect();
    sorted.sort_by_key(|p| p.found.span);
    let mut groups: Vec<Vec<&Piece>> = Vec::new();
    let mut group_end = 0;
    for p in sorted {
        match groups.last_mut() {
            Some(g) if p.found.span.0 < group_end => {
                g.push(p);
                group_end = group_end.max(p.found.span.1);
            }
            _ => {
                group_end = p.found.span.1;
                groups.push(vec![p]);
            }
        }
    }
    let mut out = Vec::new();
    for g in groups {
        if let [one] = g.as_slice() {
            out.extend(piece_edits(one, &chars, style, language));
            continue;
        }
        let start = g.iter().map(|p| p.found.span.0).min().unwrap_or(0);
        let end = g.iter().map(|p| p.found.span.1).max().unwrap_or(start);
        let with = match style {
            MaskStyle::Partial => stars(slice(&chars, (start, end))),
            MaskStyle::Tag => format!("[{} ****]", label(g[0].found.kind, language)),
        };
        out.push(Edit { start, end, with });
    }
    out
}

/// The text with the edits applied (edits in order, not overlapping).
pub fn apply(text: &str, edits: &[Edit]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut next = edits.iter().peekable();
    let mut skip_to = 0;
    for (i, c) in text.chars().enumerate() {
        if let Some(e) = next.peek() {
            if e.start == i {
                out.push_str(&e.with);
                skip_to = e.end;
                next.next();
            }
        }
        if i >= skip_to {
            out.push(c);
        }
    }
    // An edit at the very end (empty range) still applies.
    for e in next {
        out.push_str(&e.with);
    }
    out
}

/// Where old character offset `at` lies in the edited text. An offset
/// inside an edited range goes to the replacement's start (or, for the end
/// of a range, its end), so a highlight still covers the masked data.
pub fn map_offset(edits: &[Edit], at: usize, is_end: bool) -> usize {
    let mut delta: isize = 0;
    for e in edits {
        let new_len = e.with.chars().count() as isize;
        let old_len = (e.end - e.start) as isize;
        if at >= e.end {
            delta += new_len - old_len;
        } else if at > e.start {
            let base = e.start as isize + delta;
            return (if is_end { base + new_len } else { base }).max(0) as usize;
        } else {
            break;
        }
    }
    (at as isize + delta).max(0) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::pii::Detector;

    fn redact(text: &str, style: MaskStyle, language: Language) -> String {
        let pieces: Vec<Piece> = Detector::all(Default::default())
            .find(text, &[], false)
            .into_iter()
            .map(|found| Piece { found, keep: 4 })
            .collect();
        apply(text, &edits(&pieces, text, style, language))
    }

    #[test]
    fn each_style_reads_as_documented() {
        use Language::*;
        use MaskStyle::*;
        let cases = [
            (
                "卡号是6222 0212 3456 7894，对吧",
                Partial,
                Zh,
                "卡号是**** **** **** 7894，对吧",
            ),
            (
                "卡号是6222 0212 3456 7894，对吧",
                Tag,
                Zh,
                "卡号是[银行卡 ****7894]，对吧",
            ),
            (
                "mail jane.doe@example.com.",
                Partial,
                En,
                "mail j***@example.com.",
            ),
            (
                "mail jane.doe@example.com.",
                Tag,
                En,
                "mail [e-mail j***@example.com].",
            ),
            (
                "身份证11010519491231002X",
                Tag,
                Zh,
                "身份证[身份证 ****002X]",
            ),
            ("手机13812345678", Partial, Zh, "手机*******5678"),
            (
                "ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ",
                Partial,
                Zh,
                "ｊ***＠ｅｘａｍｐｌｅ．ｃｏｍ",
            ),
            // The local part is a mobile number: both overlap, masked whole.
            ("13812345678@qq.com", Partial, Zh, "******************"),
            ("nothing here", Tag, En, "nothing here"),
        ];
        for (text, style, lang, want) in cases {
            assert_eq!(redact(text, style, lang), want, "{text:?} {style:?}");
        }
    }

    #[test]
    fn offsets_follow_the_edits() {
        let edits = [Edit {
            start: 2,
            end: 6,
            with: "[x]".into(),
        }];
        // "ab1234cd" → "ab[x]cd"
        assert_eq!(apply("ab1234cd", &edits), "ab[x]cd");
        let cases = [
            (0, false, 0),
            (2, false, 2),
            (2, true, 2),
            (4, false, 2),
            (4, true, 5),
            (6, false, 5),
            (8, true, 7),
        ];
        for (at, is_end, want) in cases {
            assert_eq!(map_offset(&edits, at, is_end), want, "{at} {is_end}");
        }
    }
}
