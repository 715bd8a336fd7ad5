//! The QA result of one conversation: score, pass/fail, flags, the
//! scorecard's explanation, metrics and coaching, plus the versions of
//! everything that produced it.

use chrono::{DateTime, Utc};

use super::conversation::{Attribution, Turn};
use super::finding::Analysis;
use super::ids::{FlagId, JobId, Language, RuleId};
use super::job::{Agent, Medium, Metadata};

/// Per-conversation measurements. Fields that do not apply to the medium
/// (response times for calls, silence for chats) are `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    pub turns: usize,
    pub agent_turns: usize,
    pub customer_turns: usize,
    /// Share of talk (calls: speech seconds; chats: characters), 0–1.
    pub agent_talk_share: Option<f64>,
    pub customer_talk_share: Option<f64>,
    /// Seconds from the customer's first message to the agent's first reply
    /// (chats), or queue wait (calls, from metadata).
    pub first_response_s: Option<f64>,
    pub avg_response_s: Option<f64>,
    pub max_response_s: Option<f64>,
    pub responses: usize,
    /// Seconds from first to last turn (chats) or recording length (calls).
    pub handle_time_s: f64,
    pub after_call_work_s: Option<f64>,
    /// Calls: share of the recording where nobody speaks, 0–1.
    pub silence_share: Option<f64>,
    pub longest_silence_s: Option<f64>,
    pub overlap_count: Option<usize>,
    /// Agent speech rate: words (en) or characters (zh) per minute.
    pub agent_speech_rate: Option<f64>,
    /// Customer valence (positive − negative, −1…1) at start and end.
    pub customer_sentiment_start: Option<f64>,
    pub customer_sentiment_end: Option<f64>,
    /// Whether the customer's mood got better or worse over the contact.
    pub customer_sentiment_trend: Option<Trend>,
    /// Predicted customer satisfaction, 1 (very dissatisfied) … 5 (very
    /// satisfied), from the text models (`analyse::csat`); `None` without
    /// them or without a customer turn.
    pub predicted_csat: Option<f64>,
}

/// Direction of the customer's sentiment from the start of a contact to
/// its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    Worsening,
    Stable,
    Improving,
}

/// A deduction the scorecard made, with its reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Deduction {
    pub item: String,
    pub flag: FlagId,
    pub rule: RuleId,
    pub points: f64,
    /// Index of the flag in the result's flags.
    pub flag_index: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SectionScore {
    pub id: String,
    pub name: String,
    pub weight: f64,
    pub score: f64,
    pub deductions: Vec<Deduction>,
}

/// A fatal (auto-fail) item that fired.
#[derive(Debug, Clone, PartialEq)]
pub struct FatalHit {
    pub item: String,
    pub flag_index: usize,
}

/// The scorecard's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub score: f64,
    pub passed: bool,
    pub pass_score: f64,
    pub sections: Vec<SectionScore>,
    pub fatal: Vec<FatalHit>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Coaching {
    pub flag: FlagId,
    pub rule: RuleId,
    pub text: String,
}

/// Identifies what produced a result, so a rescored conversation can be
/// told apart.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Versions {
    pub callqa: String,
    pub rule_pack: String,
    pub scorecard: String,
    /// Model name → identifier (file name and checksum prefix).
    pub models: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct QaResult {
    pub job_id: JobId,
    pub agent: Agent,
    pub medium: Medium,
    pub language: Language,
    pub channel: String,
    pub attribution: Attribution,
    pub metadata: Metadata,
    /// The recording a call was transcribed from (canonical path).
    pub recording: Option<std::path::PathBuf>,
    pub turns: Vec<Turn>,
    pub analysis: Analysis,
    pub scored: Scored,
    /// Why the contact cannot be scored fairly (a silent or garbled
    /// recording); `None` when it can. Such a result keeps its figures for
    /// a human but is left out of QA averages, pass rates and grades.
    pub unscoreable: Option<String>,
    pub coaching: Vec<Coaching>,
    pub versions: Versions,
    pub processed_at: DateTime<Utc>,
}
