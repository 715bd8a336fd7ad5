//! Phrase matching that suits both Chinese and English: phrases are
//! normalised like the text they search, English phrases get word
//! boundaries, and a hit can be cancelled by an exclusion, a negation cue
//! before it ("I can't guarantee", "不能保证") or by standing in quotes.
//! On call transcripts a matcher also finds its phrases approximately
//! (`approx`) where the exact search finds nothing, and the same
//! exclusions, negations and quotes cancel those hits.

use regex::{Regex, RegexBuilder};

use super::approx::{ApproxHit, ApproxOptions, ApproxPhrase, ApproxText};
use crate::domain::Language;
use crate::text::{normalise, NormText};

/// Options shared by a pack's phrase rules.
#[derive(Debug, Clone)]
pub struct MatchOptions {
    pub language: Language,
    /// Negation cues, normalised.
    pub negations: Vec<String>,
    /// Characters (zh) or words (en) before a hit searched for negation.
    pub negation_window: usize,
    pub skip_quoted: bool,
    /// Approximate matching of call transcripts; `None` turns it off for
    /// every rule of the pack.
    pub approximate: Option<ApproxOptions>,
}

/// A compiled set of phrases and patterns with optional exclusions.
#[derive(Debug, Clone)]
pub struct PhraseMatcher {
    find: Regex,
    exclude: Option<Regex>,
    negation: bool,
    /// The literal phrases, prepared for approximate matching; empty when
    /// the rule matches exactly only.
    approx: Vec<ApproxPhrase>,
    approx_exclude: Vec<ApproxPhrase>,
}

/// A hit: byte range in the normalised text and char range in the original.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub norm: (usize, usize),
    pub orig: (usize, usize),
    /// For an approximate hit, how close it is to the phrase (0–1).
    pub similarity: Option<f32>,
}

/// Turns a literal phrase into a regex over normalised text.
pub fn phrase_regex(phrase: &str, language: Language) -> Option<String> {
    let n = normalise(phrase, language).text;
    if n.is_empty() {
        return None;
    }
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let mut re = String::new();
    if word(n.chars().next()) {
        re.push_str(r"(?-u:\b)");
    }
    re.push_str(&regex::escape(&n));
    if word(n.chars().last()) {
        re.push_str(r"(?-u:\b)");
    }
    Some(re)
}

/// Builds one alternation from literal phrases and raw patterns. Raw
/// patterns are checked one by one first so an error names the culprit.
pub fn alternation(
    phrases: &[String],
    patterns: &[String],
    language: Language,
) -> Result<Option<Regex>, (usize, String)> {
    let mut parts: Vec<String> = phrases
        .iter()
        .filter_map(|p| phrase_regex(p, language))
        .collect();
    for (i, p) in patterns.iter().enumerate() {
        compile(p).map_err(|e| (i, e))?;
        parts.push(format!("(?:{p})"));
    }
    if parts.is_empty() {
        return Ok(None);
    }
    compile(&parts.join("|"))
        .map(Some)
        .map_err(|e| (usize::MAX, e))
}

fn compile(re: &str) -> Result<Regex, String> {
    RegexBuilder::new(re)
        .case_insensitive(true)
        .size_limit(50 << 20)
        .build()
        .map_err(|e| e.to_string())
}

impl PhraseMatcher {
    pub fn new(find: Regex, exclude: Option<Regex>, negation: bool) -> Self {
        PhraseMatcher {
            find,
            exclude,
            negation,
            approx: Vec::new(),
            approx_exclude: Vec::new(),
        }
    }

    /// Also match these phrases (and exclusions) approximately on call
    /// transcripts.
    pub fn approximate(mut self, phrases: Vec<ApproxPhrase>, exclude: Vec<ApproxPhrase>) -> Self {
        self.approx = phrases;
        self.approx_exclude = exclude;
        self
    }

    /// Whether the matcher has phrases to match approximately.
    pub fn is_approximate(&self) -> bool {
        !self.approx.is_empty()
    }

    /// Whether the normalised text contains an uncancelled hit; returns the
    /// first such hit. With `sounds` (a call transcript's turn, prepared by
    /// `ApproxText::new`) and approximate matching on, a text without an
    /// uncancelled exact hit is searched approximately, away from the
    /// cancelled exact hits.
    pub fn first_hit(
        &self,
        text: &str,
        norm: &NormText,
        sounds: Option<&ApproxText>,
        opts: &MatchOptions,
    ) -> Option<Hit> {
        let approx = match (sounds, &opts.approximate) {
            (Some(t), Some(o)) if self.is_approximate() => Some((t, o)),
            _ => None,
        };
        // Cheap rejection first: most turns match nothing.
        let exact = self.find.is_match(&norm.text);
        if !exact && approx.is_none() {
            return None;
        }
        let mut excluded: Vec<(usize, usize)> = match &self.exclude {
            Some(x) if exact || approx.is_some() => x
                .find_iter(&norm.text)
                .map(|m| (m.start(), m.end()))
                .collect(),
            _ => Vec::new(),
        };
        let mut quotes: Option<Vec<(usize, usize)>> = None;
        let mut keeps =
            |s: usize, e: usize, excluded: &[(usize, usize)]| -> Option<(usize, usize)> {
                if excluded.iter().any(|&(xs, xe)| xs < e && s < xe) {
                    return None;
                }
                if self.negation && negated(&norm.text[..s], opts) {
                    return None;
                }
                let orig = norm.orig_chars(s, e);
                let quotes = quotes.get_or_insert_with(|| {
                    if opts.skip_quoted {
                        quoted_regions(text)
                    } else {
                        Vec::new()
                    }
                });
                if quotes.iter().any(|&(qs, qe)| qs <= orig.0 && orig.1 <= qe) {
                    return None;
                }
                Some(orig)
            };
        let mut cancelled = Vec::new();
        if exact {
            for m in self.find.find_iter(&norm.text) {
                let (s, e) = (m.start(), m.end());
                if let Some(orig) = keeps(s, e, &excluded) {
                    return Some(Hit {
                        norm: (s, e),
                        orig,
                        similarity: None,
                    });
                }
                cancelled.push((s, e));
            }
        }
        let (t, o) = approx?;
        // An approximate hit where an exact one was cancelled would only
        // dodge the cancellation.
        let mut hits: Vec<ApproxHit> = self
            .approx
            .iter()
            .flat_map(|p| p.find(t, o))
            .filter(|h| !cancelled.iter().any(|&(s, e)| s < h.norm.1 && h.norm.0 < e))
            .collect();
        if hits.is_empty() {
            return None;
        }
        excluded.extend(
            self.approx_exclude
                .iter()
                .flat_map(|p| p.find(t, o))
                .map(|h| h.norm),
        );
        hits.sort_by(|a, b| {
            a.norm
                .0
                .cmp(&b.norm.0)
                .then(b.similarity.total_cmp(&a.similarity))
        });
        hits.into_iter().find_map(|h| {
            keeps(h.norm.0, h.norm.1, &excluded).map(|orig| Hit {
                norm: h.norm,
                orig,
                similarity: Some(h.similarity),
            })
        })
    }
}

/// Whether a negation cue stands just before a hit, within its clause.
fn negated(before: &str, opts: &MatchOptions) -> bool {
    let window: String = match opts.language {
        Language::Zh => {
            // Chinese: the last few characters of the same clause.
            let clause = before.rsplit(' ').next().unwrap_or("");
            let chars: Vec<char> = clause.chars().collect();
            let from = chars.len().saturating_sub(opts.negation_window);
            chars[from..].iter().collect()
        }
        Language::En => {
            let words: Vec<&str> = before.split(' ').filter(|w| !w.is_empty()).collect();
            let from = words.len().saturating_sub(opts.negation_window);
            format!(" {} ", words[from..].join(" "))
        }
    };
    opts.negations.iter().any(|neg| match opts.language {
        Language::Zh => window.contains(neg.as_str()),
        Language::En => {
            window.contains(&format!(" {neg} ")) || (neg == "n't" && window.contains("n't "))
        }
    })
}

/// Character ranges of the original text enclosed in quotation marks.
fn quoted_regions(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut open: Option<(char, usize)> = None;
    for (i, c) in text.chars().enumerate() {
        match open {
            None => {
                if matches!(c, '"' | '“' | '「' | '『') {
                    open = Some((c, i));
                }
            }
            Some((o, start)) => {
                let closes = matches!(
                    (o, c),
                    ('"', '"') | ('“', '”') | ('「', '」') | ('『', '』')
                );
                if closes {
                    out.push((start, i + 1));
                    open = None;
                }
            }
        }
    }
    out
}
