//! Personal data in text: bank card numbers (Luhn), mainland mobile numbers,
//! resident ID numbers (GB 11643 checksum) and e-mail addresses, written in
//! half- or full-width forms, in Chinese numerals or English words, or read
//! aloud ("jane dot doe at example dot com"); street addresses and names by
//! pattern only (no model): a Chinese address is a road, street or lane
//! with a number and 号 (with the province, city and district before it and
//! the building, unit and room after it) or a residential compound with a
//! building number; an English one a house number, words and a street
//! type ("12 Baker Street, Apt 4"); a name is what follows "我叫",
//! "我的名字是", "姓名", "收件人", "联系人", "my name is", "in the name of",
//! "the name on the account is" (Chinese: two or three Han characters;
//! English: one or two capitalised words). Other names and addresses said
//! without such a frame are not found.
//!
//! Shared by the PII analyser (what the agent disclosed: a flag) and the
//! redact stage (what nobody may read in clear afterwards). A checksum or
//! format confirms a number; where the caller allows it (call transcripts,
//! where speech recognition drops and changes digits, and redaction, which
//! would rather mask too much), a long digit run beside a context word
//! ("卡号", "card number") counts without one.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use super::digits::{cn_id_valid, cn_mobile_valid, digit_runs, luhn_valid, DigitRun};
use super::half_width;
use crate::domain::PiiKind;

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
        .expect("static regex")
});
/// An address read aloud: "john dot smith at example dot com".
static SPOKEN_EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b[a-z0-9]+(?: dot [a-z0-9]+)* at [a-z0-9]+(?: dot [a-z0-9]+)* dot (?:com|cn|net|org|edu|gov|io)\b")
        .expect("static regex")
});

/// A mainland address: administrative parts, then a road, street or lane
/// with its number and 号, then building, unit, floor and room; or a
/// residential compound with a building number.
static CN_ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    const NUM: &str = "[0-9０-９一二三四五六七八九十百千零〇两]";
    let admin = r"(?:\p{Han}{2,8}?(?:省|自治区|特别行政区|市|自治州|地区|区|县|旗|镇|乡|街道))*";
    let street = format!(r"\p{{Han}}{{1,10}}?(?:路|街|大道|巷|弄|胡同|里){NUM}{{1,5}}号(?:院|楼)?");
    let compound = format!(
        r"\p{{Han}}{{2,10}}?(?:小区|花园|公寓|大厦|苑|新村|家园){NUM}{{1,4}}(?:栋|幢|号楼|座)"
    );
    let rest = format!(
        r"(?:[A-Za-z]?{NUM}{{1,5}}(?:号楼|栋|幢|座|单元|层|楼|室|号|户)|[-－]{NUM}{{1,5}})*"
    );
    Regex::new(&format!("{admin}(?:{street}|{compound}){rest}")).expect("static regex")
});
/// An English street address: house number, one to four words, a street
/// type, and an optional flat or suite.
static EN_ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b\d{1,5}[A-Za-z]?\s+(?:[A-Za-z'.]+\s+){1,4}(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|way|court|ct|place|pl|terrace|close|crescent|square|sq)\b\.?(?:,?\s*(?:apt|apartment|suite|unit|flat)\.?\s*#?\s*[A-Za-z0-9]+)?",
    )
    .expect("static regex")
});
/// A name after a phrase that introduces one; the name is group 1.
static CN_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:我叫|我的名字(?:是|叫)|名字叫|姓名(?:是|为)?[：:]?|收件人(?:是|叫)?[：:]?|联系人(?:是|叫)?[：:]?|户主(?:是|叫)?[：:]?)\s*(\p{Han}{2,3})",
    )
    .expect("static regex")
});
static EN_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:[Mm]y name is|[Mm]y name's|[Ii]n the name of|[Tt]he name on the account is|[Tt]he account holder is)\s+([A-Z][a-z]+(?:[ -][A-Z][a-z]+)?)",
    )
    .expect("static regex")
});

/// Words of a Chinese name frame that are not a name ("我叫一下" is not one).
const NOT_A_NAME: &[&str] = &["什么", "一下", "客服", "您好", "你好", "这个", "那个"];

/// The shortest digit run that can be personal data (a mobile number
/// recognised with a digit dropped).
const MIN_RUN: usize = 10;

/// Where the parts of a piece of personal data are, as character ranges of
/// the text it was found in.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// Each token that produced digits ("6222", "四", "double five").
    Digits {
        tokens: Vec<(usize, usize)>,
        /// The ASCII digits (an ID may end in `x`).
        digits: String,
    },
    /// Words (a street address, a name): masked as a whole.
    Words,
    /// An address: the local part, and the `@` (or spoken " at ").
    Email {
        local: (usize, usize),
        at: (usize, usize),
    },
}

/// One piece of personal data found in a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub kind: PiiKind,
    /// Character range of the whole piece.
    pub span: (usize, usize),
    pub shape: Shape,
    /// Whether a checksum or format confirmed it (false: context only).
    pub verified: bool,
}

/// What to look for and which words make a long digit run count without a
/// checksum.
#[derive(Debug, Clone, Default)]
pub struct Detector {
    pub detect: Vec<PiiKind>,
    /// Normalised context words per kind (`text::normalise`).
    pub context: HashMap<PiiKind, Vec<String>>,
}

fn has_context(words: Option<&Vec<String>>, texts: &[&str]) -> bool {
    words.is_some_and(|ws| {
        ws.iter()
            .any(|w| !w.is_empty() && texts.iter().any(|t| t.contains(w.as_str())))
    })
}

impl Detector {
    /// Every kind, with the given context words.
    pub fn all(context: HashMap<PiiKind, Vec<String>>) -> Self {
        Detector {
            detect: PiiKind::ALL.to_vec(),
            context,
        }
    }

    fn classify(&self, run: &DigitRun, by_context: bool, contexts: &[&str]) -> Option<Found> {
        let d = run.digits.as_str();
        let want = |k| self.detect.contains(&k);
        let ctx = |k| has_context(self.context.get(&k), contexts);
        let found = |kind, verified| Found {
            kind,
            span: run.span(),
            shape: Shape::Digits {
                tokens: run.tokens.clone(),
                digits: run.digits.clone(),
            },
            verified,
        };
        let n = d.len();
        if want(PiiKind::CnId) && cn_id_valid(d) {
            return Some(found(PiiKind::CnId, true));
        }
        if want(PiiKind::BankCard) && (13..=19).contains(&n) && luhn_valid(d) {
            return Some(found(PiiKind::BankCard, true));
        }
        if want(PiiKind::CnMobile) && cn_mobile_valid(d) {
            return Some(found(PiiKind::CnMobile, true));
        }
        if !by_context {
            return None;
        }
        if want(PiiKind::CnId) && (15..=19).contains(&n) && ctx(PiiKind::CnId) {
            return Some(found(PiiKind::CnId, false));
        }
        if want(PiiKind::BankCard) && (12..=19).contains(&n) && ctx(PiiKind::BankCard) {
            return Some(found(PiiKind::BankCard, false));
        }
        if want(PiiKind::CnMobile) && (10..=12).contains(&n) && ctx(PiiKind::CnMobile) {
            return Some(found(PiiKind::CnMobile, false));
        }
        None
    }

    /// Personal data in `text`. `contexts` are normalised texts in which
    /// context words are looked for (the turn and the one before it);
    /// `by_context` lets a context word stand in for a failed checksum.
    /// Pieces may overlap (an address whose local part is a phone number).
    pub fn find(&self, text: &str, contexts: &[&str], by_context: bool) -> Vec<Found> {
        let mut out: Vec<Found> = digit_runs(text, MIN_RUN)
            .iter()
            .filter_map(|r| self.classify(r, by_context, contexts))
            .collect();
        if self.detect.contains(&PiiKind::Email) {
            out.extend(emails(text));
        }
        if self.detect.contains(&PiiKind::Address) {
            out.extend(addresses(text));
        }
        if self.detect.contains(&PiiKind::Name) {
            out.extend(names(text));
        }
        out.sort_by_key(|f| f.span);
        out
    }
}

/// E-mail addresses, written (half- or full-width) or read aloud.
fn emails(text: &str) -> Vec<Found> {
    // Full-width forms map one character to one, so character offsets in
    // the half-width copy are offsets in the original.
    let half: String = text.chars().map(half_width).collect();
    let char_at = |s: &str, byte: usize| s[..byte].chars().count();
    let mut out = Vec::new();
    for m in EMAIL.find_iter(&half) {
        let s = char_at(&half, m.start());
        let e = s + m.as_str().chars().count();
        let at = m
            .as_str()
            .find('@')
            .map(|b| s + m.as_str()[..b].chars().count())
            .unwrap_or(s);
        out.push(Found {
            kind: PiiKind::Email,
            span: (s, e),
            shape: Shape::Email {
                local: (s, at),
                at: (at, at + 1),
            },
            verified: true,
        });
    }
    // Lower-casing ASCII keeps offsets; other characters are left alone.
    let lower: String = half.chars().map(|c| c.to_ascii_lowercase()).collect();
    for m in SPOKEN_EMAIL.find_iter(&lower) {
        let s = char_at(&lower, m.start());
        let e = s + m.as_str().chars().count();
        if out.iter().any(|f| f.span.0 < e && s < f.span.1) {
            continue;
        }
        let at = m
            .as_str()
            .find(" at ")
            .map_or(0, |b| m.as_str()[..b].chars().count());
        out.push(Found {
            kind: PiiKind::Email,
            span: (s, e),
            shape: Shape::Email {
                local: (s, s + at),
                at: (s + at, s + at + 4),
            },
            verified: true,
        });
    }
    out
}

fn words(kind: PiiKind, text: &str, start_byte: usize, end_byte: usize) -> Found {
    let s = text[..start_byte].chars().count();
    let e = s + text[start_byte..end_byte].chars().count();
    Found {
        kind,
        span: (s, e),
        shape: Shape::Words,
        verified: false,
    }
}

/// Street addresses, Chinese and English (patterns; see the module doc).
fn addresses(text: &str) -> Vec<Found> {
    // Words a Chinese address is introduced with, which the pattern (any
    // Han characters before 市, 区, 路) takes in.
    const LEAD_IN: &[&str] = &[
        "收货地址是",
        "收货地址",
        "住址是",
        "住址",
        "地址是",
        "地址",
        "寄到",
        "送到",
        "发到",
        "住在",
        "我家在",
        "在",
        "到",
        "是",
    ];
    let mut out: Vec<Found> = CN_ADDRESS
        .find_iter(text)
        .map(|m| {
            // The address starts after the last lead-in word before its
            // first administrative or street unit.
            let found = m.as_str();
            let unit = found
                .char_indices()
                .find(|(_, c)| "省市区县镇乡路街巷弄道".contains(*c))
                .map_or(found.len(), |(i, _)| i);
            let head = &found[..unit];
            let cut = LEAD_IN
                .iter()
                .filter_map(|w| head.rfind(*w).map(|i| i + w.len()))
                .max()
                .unwrap_or(0);
            words(PiiKind::Address, text, m.start() + cut, m.end())
        })
        .collect();
    for m in EN_ADDRESS.find_iter(text) {
        out.push(words(PiiKind::Address, text, m.start(), m.end()));
    }
    out
}

/// Names someone gives as names.
fn names(text: &str) -> Vec<Found> {
    let mut out = Vec::new();
    for c in CN_NAME.captures_iter(text) {
        if let Some(m) = c.get(1) {
            if NOT_A_NAME.iter().any(|w| m.as_str().starts_with(w)) {
                continue;
            }
            out.push(words(PiiKind::Name, text, m.start(), m.end()));
        }
    }
    for c in EN_NAME.captures_iter(text) {
        if let Some(m) = c.get(1) {
            out.push(words(PiiKind::Name, text, m.start(), m.end()));
        }
    }
    out
}

/// Characters that stand for a digit someone already masked.
fn is_mask_char(c: char) -> bool {
    matches!(c, '*' | '＊' | '•' | '●' | '×' | 'x' | 'X' | '#')
}

/// Numbers someone already partly masked (`6222 0212 **** 7894`): runs of
/// digits and mask characters (single separators between them) with at
/// least one of each and eleven or more in all. The digits they still show
/// are found here, since a plain digit run stops at the first `*`.
pub fn partly_masked(text: &str) -> Vec<Found> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let is_digit = |c: char| half_width(c).is_ascii_digit();
        if !(is_digit(chars[i]) || is_mask_char(chars[i])) {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i;
        let (mut digits, mut masks) = (0usize, 0usize);
        let mut tokens = Vec::new();
        let mut seen = String::new();
        let mut j = i;
        while j < chars.len() {
            let c = chars[j];
            if is_digit(c) {
                digits += 1;
                tokens.push((j, j + 1));
                seen.push(half_width(c));
                end = j + 1;
            } else if is_mask_char(c) {
                masks += 1;
                end = j + 1;
            } else if matches!(c, ' ' | '-' | '\u{3000}' | '－')
                && chars
                    .get(j + 1)
                    .is_some_and(|&n| is_digit(n) || is_mask_char(n))
            {
                // One separator inside the run.
            } else {
                break;
            }
            j += 1;
        }
        // Letters around an `x` make it a word, not a masked digit.
        let in_word = |k: usize| chars.get(k).is_some_and(|c| c.is_ascii_alphabetic());
        let word = start > 0 && in_word(start - 1) || in_word(end);
        if digits > 0 && masks > 0 && digits + masks >= 11 && !word {
            let n = digits + masks;
            out.push(Found {
                kind: match n {
                    11 => PiiKind::CnMobile,
                    18 => PiiKind::CnId,
                    _ => PiiKind::BankCard,
                },
                span: (start, end),
                shape: Shape::Digits {
                    tokens,
                    digits: seen,
                },
                verified: false,
            });
        }
        i = j.max(i + 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str, by_context: bool) -> Vec<(PiiKind, String)> {
        let mut ctx = HashMap::new();
        ctx.insert(
            PiiKind::BankCard,
            vec!["卡号".to_owned(), "card".to_owned()],
        );
        ctx.insert(PiiKind::CnMobile, vec!["手机".to_owned()]);
        let d = Detector::all(ctx);
        let norm = crate::text::normalise(text, crate::domain::Language::Zh);
        d.find(text, &[&norm.text], by_context)
            .into_iter()
            .map(|f| {
                let s: String = text
                    .chars()
                    .skip(f.span.0)
                    .take(f.span.1 - f.span.0)
                    .collect();
                (f.kind, s)
            })
            .collect()
    }

    #[test]
    fn finds_addresses_and_names_by_pattern() {
        use PiiKind::*;
        let cases: &[(&str, &[(PiiKind, &str)])] = &[
            (
                "新收货地址是北京市朝阳区建国路88号2号楼1001室",
                &[(Address, "北京市朝阳区建国路88号2号楼1001室")],
            ),
            (
                "寄到北京市朝阳区建国路88号2号楼1001室，谢谢",
                &[(Address, "北京市朝阳区建国路88号2号楼1001室")],
            ),
            (
                "地址是上海市浦东新区幸福小区3栋2单元501室",
                &[(Address, "上海市浦东新区幸福小区3栋2单元501室")],
            ),
            ("我叫王小明，订单没到", &[(Name, "王小明")]),
            ("收件人：李娜", &[(Name, "李娜")]),
            (
                "Please send it to 221B Baker Street, Apt 4 today",
                &[(Address, "221B Baker Street, Apt 4")],
            ),
            ("Hi, my name is John Smith and", &[(Name, "John Smith")]),
            ("The account is in the name of Mary.", &[(Name, "Mary")]),
            // Not personal data: no number with 号, no name frame.
            ("这个不归我管，你去找快递公司", &[]),
            ("订单号12345678还没发货", &[]),
            ("我叫一下同事", &[]),
            ("my name is not important", &[]),
            ("I will be there in 5 minutes, the road is busy", &[]),
        ];
        for (text, want) in cases {
            let got = kinds(text, false);
            let want: Vec<(PiiKind, String)> =
                want.iter().map(|(k, s)| (*k, s.to_string())).collect();
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn finds_each_kind_however_written() {
        use PiiKind::*;
        // (text, by context, what is found)
        type Case<'a> = (&'a str, bool, &'a [(PiiKind, &'a str)]);
        let cases: &[Case] = &[
            (
                "卡号6222 0212 3456 7894",
                false,
                &[(BankCard, "6222 0212 3456 7894")],
            ),
            (
                "身份证11010519491231002X",
                false,
                &[(CnId, "11010519491231002X")],
            ),
            (
                "手机一三八一二三四五六七八",
                false,
                &[(CnMobile, "一三八一二三四五六七八")],
            ),
            (
                "１３８１２３４５６７８",
                false,
                &[(CnMobile, "１３８１２３４５６７８")],
            ),
            (
                "mail jane.doe@example.com ok",
                false,
                &[(Email, "jane.doe@example.com")],
            ),
            (
                "邮箱ｊａｎｅ．ｄｏｅ＠ｅｘａｍｐｌｅ．ｃｏｍ",
                false,
                &[(Email, "ｊａｎｅ．ｄｏｅ＠ｅｘａｍｐｌｅ．ｃｏｍ")],
            ),
            (
                "it's jane dot doe at example dot com",
                false,
                &[(Email, "jane dot doe at example dot com")],
            ),
            // A checksum that fails counts only beside a context word.
            ("卡号6222 0212 3456 7890", false, &[]),
            (
                "卡号6222 0212 3456 7890",
                true,
                &[(BankCard, "6222 0212 3456 7890")],
            ),
            ("订单6222 0212 3456 7890", true, &[]),
            ("no numbers here", true, &[]),
        ];
        for (text, by_context, want) in cases {
            let want: Vec<(PiiKind, String)> =
                want.iter().map(|(k, s)| (*k, (*s).to_owned())).collect();
            assert_eq!(kinds(text, *by_context), want, "{text:?}");
        }
    }

    #[test]
    fn partly_masked_numbers_are_found_by_what_they_still_show() {
        let cases: &[(&str, Option<&str>)] = &[
            ("卡号6222 0212 **** 7894", Some("622202127894")),
            ("138****5678", Some("1385678")),
            ("**** **** **** 7894", Some("7894")),
            ("box 12x34", None),
            ("1234", None),
        ];
        for (text, want) in cases {
            let got = partly_masked(text);
            let digits = got.first().map(|f| match &f.shape {
                Shape::Digits { digits, .. } => digits.clone(),
                Shape::Email { .. } | Shape::Words => String::new(),
            });
            assert_eq!(digits.as_deref(), *want, "{text:?}");
        }
    }
}
