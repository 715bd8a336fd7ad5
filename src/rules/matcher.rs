//! Phrase matching that suits both Chinese and English: phrases are
//! normalised like the text they search, English phrases get word
//! boundaries, and a hit can be cancelled by an exclusion, a negation cue
//! before it ("I can't guarantee", "不能保证") or by standing in quotes.

use regex::{Regex, RegexBuilder};

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
}

/// A compiled set of phrases and patterns with optional exclusions.
#[derive(Debug, Clone)]
pub struct PhraseMatcher {
    find: Regex,
    exclude: Option<Regex>,
    negation: bool,
}

/// A hit: byte range in the normalised text and char range in the original.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub norm: (usize, usize),
    pub orig: (usize, usize),
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
        }
    }

    /// Whether the normalised text contains an uncancelled hit; returns the
    /// first such hit.
    pub fn first_hit(&self, text: &str, norm: &NormText, opts: &MatchOptions) -> Option<Hit> {
        // Cheap rejection first: most turns match nothing.
        if !self.find.is_match(&norm.text) {
            return None;
        }
        let excluded: Vec<(usize, usize)> = match &self.exclude {
            Some(x) => x
                .find_iter(&norm.text)
                .map(|m| (m.start(), m.end()))
                .collect(),
            None => Vec::new(),
        };
        let quotes = if opts.skip_quoted {
            quoted_regions(text)
        } else {
            Vec::new()
        };
        for m in self.find.find_iter(&norm.text) {
            let (s, e) = (m.start(), m.end());
            if excluded.iter().any(|&(xs, xe)| xs < e && s < xe) {
                continue;
            }
            if self.negation && negated(&norm.text[..s], opts) {
                continue;
            }
            let orig = norm.orig_chars(s, e);
            if quotes.iter().any(|&(qs, qe)| qs <= orig.0 && orig.1 <= qe) {
                continue;
            }
            return Some(Hit { norm: (s, e), orig });
        }
        None
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
