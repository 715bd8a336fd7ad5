//! What analysers find: flags with evidence a human can check in seconds,
//! per-turn notes (sentiment, intent), metrics, and diagnostics for parts of
//! the analysis that could not run.

use super::ids::{FlagId, RuleId, Severity, Speaker};
use super::result::Metrics;

/// The piece of a conversation that supports a flag.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub speaker: Option<Speaker>,
    pub start: f64,
    pub end: f64,
    /// The turn's text (personal data masked), or a description for
    /// evidence that is not speech (a silence, a missing greeting).
    pub text: String,
    /// Index of the turn in the conversation, when the evidence is one.
    pub turn: Option<usize>,
    /// Character range of the match within `text`, for highlighting.
    pub highlight: Option<(usize, usize)>,
    /// How close an approximate phrase match (call transcripts) is to the
    /// rule's phrase, 0–1; `None` for exact matches and other evidence.
    pub similarity: Option<f32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Flag {
    pub id: FlagId,
    pub rule: RuleId,
    pub severity: Severity,
    /// One line saying what was found, in the conversation's language.
    pub message: String,
    pub evidence: Vec<Evidence>,
}

/// A part of the analysis that could not run, reported beside the findings
/// rather than failing the job.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub source: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Polarity {
    Negative,
    Neutral,
    Positive,
}

/// Sentiment of one utterance with class probabilities.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sentiment {
    pub label: Polarity,
    pub negative: f32,
    pub neutral: f32,
    pub positive: f32,
}

impl Sentiment {
    /// Positive minus negative probability, in [-1, 1].
    pub fn valence(&self) -> f32 {
        self.positive - self.negative
    }
}

/// A matched intent with its similarity.
#[derive(Debug, Clone, PartialEq)]
pub struct IntentMatch {
    pub intent: String,
    pub score: f32,
}

/// Model outputs for one turn.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TurnNote {
    pub sentiment: Option<Sentiment>,
    pub intent: Option<IntentMatch>,
}

/// Everything the analysers produced for one conversation.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    pub flags: Vec<Flag>,
    pub diagnostics: Vec<Diagnostic>,
    pub metrics: Metrics,
    /// One per turn when text models ran, else empty.
    pub notes: Vec<TurnNote>,
    /// The conversation's contact reason (`unknown` below the threshold).
    pub contact_reason: Option<IntentMatch>,
}
