//! Digit runs in text, whatever way they are written: `6222 0212…`,
//! `138-1234-5678`, full-width digits, Chinese numerals (一三八, 幺 and 两),
//! and English words ("four one one one", "double five", "oh"), because
//! transcripts spell numbers out. Used to find personal data.

/// A run of digits with where each came from in the original text.
#[derive(Debug, Clone, PartialEq)]
pub struct DigitRun {
    /// ASCII digits, possibly ending in `x` (the ID check character).
    pub digits: String,
    /// Original character range of each token that produced digits.
    pub tokens: Vec<(usize, usize)>,
}

impl DigitRun {
    /// Original character range of the whole run.
    pub fn span(&self) -> (usize, usize) {
        match (self.tokens.first(), self.tokens.last()) {
            (Some(a), Some(b)) => (a.0, b.1),
            _ => (0, 0),
        }
    }
}

fn chinese_digit(c: char) -> Option<u8> {
    Some(match c {
        '零' | '〇' | '洞' => 0,
        '一' | '幺' | '壹' => 1,
        '二' | '两' | '貳' | '贰' => 2,
        '三' | '叁' => 3,
        '四' | '肆' => 4,
        '五' | '伍' => 5,
        '六' | '陆' | '陸' => 6,
        '七' | '柒' => 7,
        '八' | '捌' => 8,
        '九' | '玖' => 9,
        _ => return None,
    })
}

fn ascii_digit(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8 - b'0'),
        '\u{FF10}'..='\u{FF19}' => Some((c as u32 - 0xFF10) as u8),
        _ => None,
    }
}

fn word_digit(w: &str) -> Option<u8> {
    Some(match w {
        "zero" | "oh" | "o" | "nought" => 0,
        "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        _ => return None,
    })
}

fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '-' | ',' | '.' | '、' | '，' | '/' | '－' | '—' | '_')
}

#[derive(Debug)]
enum Tok {
    Digit(u8, usize, usize),
    /// `double`/`triple` followed by a digit repeats it.
    Repeat(usize, usize, usize),
    X(usize, usize),
    Sep,
    Break,
}

fn tokenize(text: &str) -> Vec<Tok> {
    let chars: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if let Some(d) = ascii_digit(c).or_else(|| chinese_digit(c)) {
            toks.push(Tok::Digit(d, i, i + 1));
            i += 1;
        } else if c.is_ascii_alphabetic() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_alphabetic() {
                i += 1;
            }
            let word: String = chars[start..i]
                .iter()
                .collect::<String>()
                .to_ascii_lowercase();
            toks.push(match word.as_str() {
                "double" => Tok::Repeat(2, start, i),
                "triple" => Tok::Repeat(3, start, i),
                "x" => Tok::X(start, i),
                w => match word_digit(w) {
                    Some(d) => Tok::Digit(d, start, i),
                    None => Tok::Break,
                },
            });
        } else if is_separator(c) {
            toks.push(Tok::Sep);
            i += 1;
        } else {
            toks.push(Tok::Break);
            i += 1;
        }
    }
    toks
}

/// All runs of at least `min_len` digits. Digits may be separated by single
/// separators (space, hyphen, comma, full stop); anything else ends a run.
pub fn digit_runs(text: &str, min_len: usize) -> Vec<DigitRun> {
    let mut runs = Vec::new();
    let mut cur = DigitRun {
        digits: String::new(),
        tokens: Vec::new(),
    };
    let mut pending_repeat: Option<(usize, usize, usize)> = None;
    let mut seps = 0;
    let flush = |cur: &mut DigitRun, runs: &mut Vec<DigitRun>| {
        let run = std::mem::replace(
            cur,
            DigitRun {
                digits: String::new(),
                tokens: Vec::new(),
            },
        );
        if run.digits.len() >= min_len {
            runs.push(run);
        }
    };
    for tok in tokenize(text) {
        match tok {
            Tok::Digit(d, s, e) => {
                if seps > 2 {
                    flush(&mut cur, &mut runs);
                }
                seps = 0;
                let (times, s) = match pending_repeat.take() {
                    Some((n, rs, _)) => (n, rs),
                    None => (1, s),
                };
                for _ in 0..times {
                    cur.digits.push((b'0' + d) as char);
                }
                cur.tokens.push((s, e));
            }
            Tok::Repeat(n, s, e) => {
                if seps > 2 {
                    flush(&mut cur, &mut runs);
                }
                seps = 0;
                pending_repeat = Some((n, s, e));
            }
            Tok::X(s, e) if cur.digits.len() == 17 => {
                cur.digits.push('x');
                cur.tokens.push((s, e));
                seps = 0;
            }
            Tok::Sep => seps += 1,
            Tok::X(..) | Tok::Break => {
                pending_repeat = None;
                seps = 0;
                flush(&mut cur, &mut runs);
            }
        }
    }
    flush(&mut cur, &mut runs);
    runs
}

/// The Luhn checksum used by bank cards.
pub fn luhn_valid(digits: &str) -> bool {
    if digits.len() < 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = (b - b'0') as u32;
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// An 18-character mainland resident ID: 17 digits and a check character
/// (GB 11643), with a plausible birth date.
pub fn cn_id_valid(id: &str) -> bool {
    let b = id.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(|c| c.is_ascii_digit()) {
        return false;
    }
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10x98765432";
    let sum: u32 = b[..17]
        .iter()
        .zip(W)
        .map(|(c, w)| (c - b'0') as u32 * w)
        .sum();
    let want = CHECK[(sum % 11) as usize];
    if b[17].to_ascii_lowercase() != want {
        return false;
    }
    let num = |r: std::ops::Range<usize>| id[r].parse::<u32>().unwrap_or(0);
    let (y, m, d) = (num(6..10), num(10..12), num(12..14));
    (1900..=2100).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&d)
}

/// A mainland mobile number: 11 digits starting 13–19.
pub fn cn_mobile_valid(digits: &str) -> bool {
    let b = digits.as_bytes();
    b.len() == 11
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1])
        && b.iter().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(s: &str) -> Vec<String> {
        digit_runs(s, 4).into_iter().map(|r| r.digits).collect()
    }

    #[test]
    fn finds_digits_however_written() {
        let cases: &[(&str, &[&str])] = &[
            ("卡号是6222 0212 3456 7890", &["6222021234567890"]),
            ("手机138-1234-5678。", &["13812345678"]),
            ("一三八一二三四五六七八", &["13812345678"]),
            ("幺三八 幺二三四 五六七八", &["13812345678"]),
            ("four one one one, one one one one", &["41111111"]),
            ("five five five double four one two", &["5554412"]),
            ("my code is one two", &[]),
            ("１２３４５６", &["123456"]),
            ("11010519491231002x", &["11010519491231002x"]),
            ("call 1234 or 5678", &["1234", "5678"]),
            ("一下 一个 三天", &[]),
        ];
        for (input, want) in cases {
            assert_eq!(runs(input), *want, "input {input:?}");
        }
    }

    #[test]
    fn token_spans_point_into_original_text() {
        let r = &digit_runs("card: four one one one", 4)[0];
        assert_eq!(r.span(), (6, 22));
    }

    #[test]
    fn checksums_accept_valid_and_reject_near_misses() {
        let cases = [
            (luhn_valid("4111111111111111"), true),
            (luhn_valid("4111111111111112"), false),
            (luhn_valid("6222021234567890"), false),
            (luhn_valid("6222021234567894"), true),
            (cn_id_valid("11010519491231002X"), true),
            (cn_id_valid("11010519491231002x"), true),
            (cn_id_valid("110105194912310021"), false),
            (cn_id_valid("110105194913310029"), false),
            (cn_mobile_valid("13812345678"), true),
            (cn_mobile_valid("12812345678"), false),
            (cn_mobile_valid("1381234567"), false),
        ];
        for (i, (got, want)) in cases.into_iter().enumerate() {
            assert_eq!(got, want, "case {i}");
        }
    }
}
