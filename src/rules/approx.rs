//! Approximate phrase matching for call transcripts, where speech
//! recognition mishears words: "I will hire a complaint" for "I will file a
//! complaint", 这个不规我管 for 这个不归我管. Chats are typed and are always
//! matched exactly.
//!
//! Only a rule's literal `phrases` (and `exclude` phrases) match
//! approximately, never its `patterns`. A phrase is compared with every
//! stretch of a turn of the same length — characters in Chinese, words in
//! English; recognition errors are mostly substitutions, so no insertions
//! or deletions — and a stretch matches when all of these hold:
//! - Chinese: each character is the same, a homophone (toneless pinyin) or
//!   a near sound (zh/z, n/l, -ng/-n); English: each word is the same or
//!   within a small edit distance (none for words of up to 3 letters, 1 up
//!   to 8 letters, 2 beyond), and a phrase of 3 or more words may have one
//!   word replaced by one at most half different ("hire" for "file");
//! - at least half of the characters or words are exactly the phrase's;
//! - a negation cue in the phrase (不, "not") is heard exactly, so "不归我管"
//!   never matches "也归我管";
//! - an English word never matches its own inflection ("promised" is not
//!   a misheard "promise"; the speaker said something else);
//! - the similarity (1 − cost ÷ length) reaches the pack's threshold.
//!
//! The similarity: Chinese, each homophone costs 0.1 and each near sound
//! 0.5 of a character; English, 1 − the character edits ÷ the characters
//! compared. So 不规我管 for 不归我管 is 0.975, "hire a complaint" for "file a
//! complaint" 0.857.

use crate::domain::Language;
use crate::text::phonetic::{Likeness, Sound};
use crate::text::{is_cjk, normalise, NormText};

/// A pack's settings for approximate matching (`[matching]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ApproxOptions {
    /// Least similarity, in (0, 1], of an approximate match.
    pub threshold: f32,
    /// Shortest phrase that matches approximately: characters (zh) or
    /// words (en). Shorter phrases have too many innocent sound-alikes.
    pub min_length: usize,
}

/// What a Chinese homophone costs, as a share of one character.
const HOMOPHONE_COST: f32 = 0.1;
/// What a near sound (zh/z, n/l, -ng/-n) costs.
const NEAR_COST: f32 = 0.5;

/// A literal phrase prepared once, at pack load, for approximate matching.
#[derive(Debug, Clone)]
pub enum ApproxPhrase {
    Zh {
        chars: Vec<Sound>,
        /// Characters that belong to a negation cue: heard exactly or no match.
        fixed: Vec<bool>,
    },
    En {
        words: Vec<Vec<char>>,
        fixed: Vec<bool>,
    },
}

/// A turn's normalised text prepared once for approximate matching.
#[derive(Debug, Clone)]
pub enum ApproxText {
    /// Characters with their byte range in the normalised text and the
    /// clause they stand in (a space in normalised Chinese stood for
    /// punctuation, and a match never spans one).
    Zh(Vec<(usize, usize, u32, Sound)>),
    /// Words with their byte range.
    En(Vec<(usize, usize, Vec<char>)>),
}

/// An approximate match: a byte range of the normalised text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ApproxHit {
    pub norm: (usize, usize),
    pub similarity: f32,
}

impl ApproxText {
    pub fn new(norm: &NormText, language: Language) -> Self {
        let text = norm.text.as_str();
        match language {
            Language::Zh => {
                let mut clause = 0u32;
                let mut out = Vec::with_capacity(text.len() / 3);
                for (i, c) in text.char_indices() {
                    if c == ' ' {
                        clause += 1;
                    } else {
                        out.push((i, i + c.len_utf8(), clause, Sound::of(c)));
                    }
                }
                ApproxText::Zh(out)
            }
            Language::En => {
                let mut out = Vec::new();
                let mut start = 0;
                for w in text.split(' ') {
                    if !w.is_empty() {
                        out.push((start, start + w.len(), w.chars().collect()));
                    }
                    start += w.len() + 1;
                }
                ApproxText::En(out)
            }
        }
    }
}

impl ApproxPhrase {
    /// Prepares a literal phrase; `None` when it is too short (or has no
    /// Chinese character in a Chinese pack) to match approximately.
    /// `negations` are the pack's normalised negation cues.
    pub fn new(
        phrase: &str,
        language: Language,
        negations: &[String],
        min_length: usize,
    ) -> Option<Self> {
        let n = normalise(phrase, language).text;
        match language {
            Language::Zh => {
                let chars: Vec<char> = n.chars().collect();
                if chars.len() < min_length
                    || chars.contains(&' ')
                    || !chars.iter().any(|&c| is_cjk(c))
                {
                    return None;
                }
                let mut fixed = vec![false; chars.len()];
                for neg in negations {
                    let neg: Vec<char> = neg.chars().collect();
                    if neg.is_empty() || neg.len() > chars.len() {
                        continue;
                    }
                    for s in 0..=chars.len() - neg.len() {
                        if chars[s..s + neg.len()] == neg[..] {
                            fixed[s..s + neg.len()].iter_mut().for_each(|f| *f = true);
                        }
                    }
                }
                Some(ApproxPhrase::Zh {
                    chars: chars.into_iter().map(Sound::of).collect(),
                    fixed,
                })
            }
            Language::En => {
                let words: Vec<&str> = n.split(' ').collect();
                if words.len() < min_length {
                    return None;
                }
                let fixed = words
                    .iter()
                    .map(|w| {
                        negations
                            .iter()
                            .any(|neg| w == neg || (neg == "n't" && w.ends_with("n't")))
                    })
                    .collect();
                Some(ApproxPhrase::En {
                    words: words.iter().map(|w| w.chars().collect()).collect(),
                    fixed,
                })
            }
        }
    }

    /// Every approximate match in a turn, in text order; stretches that
    /// equal the phrase exactly are left to the exact matcher.
    pub fn find(&self, text: &ApproxText, opts: &ApproxOptions) -> Vec<ApproxHit> {
        let mut out = Vec::new();
        match (self, text) {
            (ApproxPhrase::Zh { chars, fixed }, ApproxText::Zh(units)) => {
                let m = chars.len();
                if units.len() < m {
                    return out;
                }
                let budget = (1.0 - opts.threshold) * m as f32 + 1e-4;
                'window: for i in 0..=units.len() - m {
                    let w = &units[i..i + m];
                    if w[0].2 != w[m - 1].2 {
                        continue;
                    }
                    // Cheap test first: enough characters exactly the same.
                    let same = (0..m).filter(|&k| chars[k].ch == w[k].3.ch).count();
                    if same == m || same * 2 < m {
                        continue;
                    }
                    let mut cost = 0.0f32;
                    for k in 0..m {
                        let step = match chars[k].likeness(&w[k].3) {
                            Likeness::Same => continue,
                            _ if fixed[k] => continue 'window,
                            Likeness::Homophone => HOMOPHONE_COST,
                            Likeness::Near => NEAR_COST,
                            Likeness::Different => continue 'window,
                        };
                        cost += step;
                        if cost > budget {
                            continue 'window;
                        }
                    }
                    out.push(ApproxHit {
                        norm: (w[0].0, w[m - 1].1),
                        similarity: 1.0 - cost / m as f32,
                    });
                }
            }
            (ApproxPhrase::En { words, fixed }, ApproxText::En(units)) => {
                let m = words.len();
                if units.len() < m {
                    return out;
                }
                'window: for i in 0..=units.len() - m {
                    let w = &units[i..i + m];
                    // Cheap test first: enough words exactly the same.
                    let same = (0..m).filter(|&k| words[k] == w[k].2).count();
                    if same == m || same * 2 < m {
                        continue;
                    }
                    let (mut edits, mut total) = (0usize, 0usize);
                    let mut replaced = false;
                    for k in 0..m {
                        let (p, t) = (&words[k], &w[k].2);
                        let longer = p.len().max(t.len());
                        total += longer;
                        if p == t {
                            continue;
                        }
                        // The distance is at least the difference in length.
                        let at_least = p.len().abs_diff(t.len());
                        if fixed[k]
                            || (at_least > allowed_edits(p.len()) && 2 * at_least > longer)
                            || inflection(p, t)
                        {
                            continue 'window;
                        }
                        let d = edit_distance(p, t);
                        if d <= allowed_edits(p.len()) {
                            edits += d;
                        } else if !replaced && m >= 3 && 2 * d <= longer {
                            replaced = true;
                            edits += d;
                        } else {
                            continue 'window;
                        }
                    }
                    let similarity = 1.0 - edits as f32 / total.max(1) as f32;
                    if similarity + 1e-4 >= opts.threshold {
                        out.push(ApproxHit {
                            norm: (w[0].0, w[m - 1].1),
                            similarity,
                        });
                    }
                }
            }
            // A pack's phrases and its turns share its language.
            _ => {}
        }
        out
    }
}

/// Character edits a misheard English word of `len` letters may have.
fn allowed_edits(len: usize) -> usize {
    match len {
        0..=3 => 0,
        4..=8 => 1,
        _ => 2,
    }
}

/// Whether one word is the other plus an inflection (-s, -es, -d, -ed,
/// -ing): a different word the speaker said, not a mishearing.
fn inflection(a: &[char], b: &[char]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    long.starts_with(short)
        && matches!(
            long[short.len()..],
            ['s'] | ['e', 's'] | ['d'] | ['e', 'd'] | ['i', 'n', 'g']
        )
}

/// Levenshtein distance between two words.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTS: ApproxOptions = ApproxOptions {
        threshold: 0.85,
        min_length: 0,
    };

    /// Phrase, text, and the best match: matched text and similarity.
    type Case = (&'static str, &'static str, Option<(&'static str, f32)>);

    /// The best approximate match of `phrase` in `text`: the matched
    /// normalised text and its similarity to 3 decimals.
    fn best(language: Language, phrase: &str, text: &str) -> Option<(String, f32)> {
        let negs: Vec<String> = match language {
            Language::Zh => vec!["不".into(), "没".into()],
            Language::En => vec!["not".into(), "n't".into(), "no".into()],
        };
        let min = match language {
            Language::Zh => 3,
            Language::En => 2,
        };
        let p = ApproxPhrase::new(phrase, language, &negs, min)?;
        let norm = normalise(text, language);
        p.find(&ApproxText::new(&norm, language), &OPTS)
            .into_iter()
            .max_by(|a, b| a.similarity.total_cmp(&b.similarity))
            .map(|h| {
                (
                    norm.text[h.norm.0..h.norm.1].to_owned(),
                    (h.similarity * 1000.0).round() / 1000.0,
                )
            })
    }

    #[test]
    fn chinese_matches_by_sound() {
        use Language::Zh;
        #[rustfmt::skip]
        let cases: &[Case] = &[
            ("不归我管", "这个不规我管，你去找快递公司", Some(("不规我管", 0.975))),
            ("还有什么可以帮您", "好的，还有什么可以帮您？", None), // exact: the exact matcher's
            ("还有什么可以帮您", "好的，还有什么可以帮宁？", Some(("还有什么可以帮宁", 0.938))), // nin/ning near
            ("肯定能退", "这个肯定能推的", Some(("肯定能推", 0.975))), // 推 tui1 for 退 tui4
            ("你找别人", "你找别任吧", Some(("你找别任", 0.975))),
            ("你找别人", "你找别的", None),                      // 的 is not a sound of 人
            ("不归我管", "也归我管", None),                      // the negation is heard exactly
            ("不归我管", "不，归我管", None),                    // never across punctuation
            ("不归我管", "不贵我馆", Some(("不贵我馆", 0.95))),   // half the characters exact: 2 of 4 is enough…
            ("烦不烦", "反不反", None),                          // …but 1 of 3 is not
            ("找你们经理", "找你们今里", Some(("找你们今里", 0.88))), // jing/jin near, li homophone
            ("投诉", "偷诉", None),                              // two characters: too short
        ];
        for (phrase, text, want) in cases {
            let want = want.map(|(s, x)| (s.to_owned(), x));
            assert_eq!(best(Zh, phrase, text), want, "{phrase} in {text}");
        }
    }

    #[test]
    fn english_matches_words_within_a_small_edit_distance() {
        use Language::En;
        #[rustfmt::skip]
        let cases: &[Case] = &[
            ("file a complaint", "I will hire a complaint", Some(("hire a complaint", 0.857))),
            ("is there anything else", "If there anything else I can tell you with", Some(("if there anything else", 0.947))),
            ("anything else i can help", "If there anything else I can tell you with", Some(("anything else i can tell", 0.9))),
            ("speak to your manager", "I want to speak to you manager", Some(("speak to you manager", 0.944))),
            ("not my department", "Return my department", None), // "It's not" heard as "Return": beyond an edit distance
            ("not my department", "now my department", None),  // the negation must be heard
            ("i promise", "I promised to call back", None),     // an inflection is another word
            ("i'm leaving", "I'm living in Leeds", None),
            ("file a complaint", "I'll fill in the complaint form", None),
            ("file a complaint", "a file or complaint", None),
            ("speak to a manager", "speak to the manager", None), // "the" is 3 edits from "a": not a short substitution
            ("take it up with the seller", "take it up with the cellar", Some(("take it up with the cellar", 0.905))),
            ("thank you for calling", "thank you for calling", None), // exact
        ];
        for (phrase, text, want) in cases {
            let want = want.map(|(s, x)| (s.to_owned(), x));
            assert_eq!(best(En, phrase, text), want, "{phrase} in {text}");
        }
    }

    #[test]
    fn short_phrases_do_not_match_approximately() {
        let negs = Vec::new();
        assert!(ApproxPhrase::new("投诉", Language::Zh, &negs, 3).is_none());
        assert!(ApproxPhrase::new("不归我管", Language::Zh, &negs, 3).is_some());
        assert!(ApproxPhrase::new("12315", Language::Zh, &negs, 3).is_none());
        assert!(ApproxPhrase::new("unsubscribe", Language::En, &negs, 2).is_none());
        assert!(ApproxPhrase::new("my lawyer", Language::En, &negs, 2).is_some());
    }

    #[test]
    fn edit_distances() {
        let d = |a: &str, b: &str| {
            edit_distance(
                &a.chars().collect::<Vec<_>>(),
                &b.chars().collect::<Vec<_>>(),
            )
        };
        assert_eq!(d("file", "hire"), 2);
        assert_eq!(d("help", "tell"), 2);
        assert_eq!(d("is", "if"), 1);
        assert_eq!(d("", "abc"), 3);
        assert_eq!(d("kitten", "sitting"), 3);
    }
}
