//! The phrase kinds' settings (`required_phrase`, `forbidden_phrase`,
//! `customer_trigger`), read by `crate::analyse::phrase`: phrases or
//! patterns, exclusions, negation, approximate matching, and for required
//! phrases the window they must appear in.

use serde::Deserialize;
use toml::Spanned;

use super::{window, Cx};
use crate::domain::Speaker;
use crate::rules::approx::ApproxPhrase;
use crate::rules::matcher::{alternation, PhraseMatcher};
use crate::rules::{PackError, RuleKind};

/// `forbidden_phrase` and `customer_trigger`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::rules) struct PhraseFile {
    speaker: Option<Speaker>,
    #[serde(default)]
    phrases: Vec<String>,
    #[serde(default)]
    patterns: Vec<Spanned<String>>,
    #[serde(default)]
    exclude: Vec<String>,
    negation: Option<bool>,
    /// Also match call transcripts approximately (default: the pack's
    /// `[matching] approximate`).
    approximate: Option<bool>,
}

/// `required_phrase`: a phrase rule with a window. The phrase fields are
/// repeated rather than shared through `#[serde(flatten)]`, which cannot
/// be combined with `deny_unknown_fields`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::rules) struct RequiredPhraseFile {
    speaker: Option<Speaker>,
    #[serde(default)]
    phrases: Vec<String>,
    #[serde(default)]
    patterns: Vec<Spanned<String>>,
    #[serde(default)]
    exclude: Vec<String>,
    negation: Option<bool>,
    approximate: Option<bool>,
    first_turns: Option<usize>,
    first_seconds: Option<f64>,
    last_turns: Option<usize>,
    last_seconds: Option<f64>,
}

/// Which of the two unwindowed phrase kinds a [`PhraseFile`] is.
#[derive(Debug, Clone, Copy)]
pub(super) enum Side {
    /// `forbidden_phrase`: the agent (by default) must not say it.
    Forbidden,
    /// `customer_trigger`: a customer-side risk, once per conversation.
    Customer,
}

impl RequiredPhraseFile {
    pub(super) fn compile(self, cx: &Cx) -> Result<RuleKind, PackError> {
        let w = window(
            self.first_turns,
            self.first_seconds,
            self.last_turns,
            self.last_seconds,
        );
        let phrases = PhraseFile {
            speaker: self.speaker,
            phrases: self.phrases,
            patterns: self.patterns,
            exclude: self.exclude,
            negation: self.negation,
            approximate: self.approximate,
        };
        Ok(RuleKind::RequiredPhrase {
            speaker: phrases.speaker.unwrap_or(Speaker::Agent),
            matcher: phrases.matcher(cx, false)?,
            window: w,
        })
    }
}

impl PhraseFile {
    pub(super) fn compile(self, cx: &Cx, side: Side) -> Result<RuleKind, PackError> {
        let matcher = self.matcher(cx, true)?;
        Ok(match side {
            Side::Forbidden => RuleKind::ForbiddenPhrase {
                speaker: self.speaker.unwrap_or(Speaker::Agent),
                matcher,
            },
            Side::Customer => RuleKind::CustomerTrigger {
                speaker: self.speaker.unwrap_or(Speaker::Customer),
                matcher,
            },
        })
    }

    fn matcher(&self, cx: &Cx, negation_default: bool) -> Result<PhraseMatcher, PackError> {
        let (rid, src) = (cx.rid, cx.src);
        let language = cx.matching.language;
        let patterns: Vec<String> = self.patterns.iter().map(|p| p.get_ref().clone()).collect();
        let find = alternation(&self.phrases, &patterns, language)
            .map_err(|(i, e)| match self.patterns.get(i) {
                Some(p) => src.err_at(p.span(), format!("invalid pattern in rule {rid:?}: {e}")),
                None => cx.err(format!("rule {rid:?}: {e}")),
            })?
            .ok_or_else(|| {
                cx.err(format!(
                    "rule {rid:?} ({}) needs phrases or patterns",
                    cx.kind
                ))
            })?;
        let exclude = alternation(&self.exclude, &[], language)
            .map_err(|(_, e)| cx.err(format!("rule {rid:?} exclude: {e}")))?;
        let matcher = PhraseMatcher::new(find, exclude, self.negation.unwrap_or(negation_default));
        let approx = match &cx.matching.approximate {
            Some(o) if self.approximate.unwrap_or(cx.approximate_default) => o,
            _ => return Ok(matcher),
        };
        let prepare = |phrases: &[String]| -> Vec<ApproxPhrase> {
            phrases
                .iter()
                .filter_map(|p| {
                    ApproxPhrase::new(p, language, &cx.matching.negations, approx.min_length)
                })
                .collect()
        };
        Ok(matcher.approximate(prepare(&self.phrases), prepare(&self.exclude)))
    }
}
