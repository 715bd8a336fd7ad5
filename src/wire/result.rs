//! The JSON form of QA results and failure records: what `analyze --json`
//! prints, what the store keeps and what the worker publishes. Built from
//! `domain::QaResult`; read back by reports and the review API.

use serde::{Deserialize, Serialize};

use super::job::{AgentWire, JobKind, MetadataWire};
use crate::domain::{
    self, Attribution, FlagId, Language, Medium, Polarity, QaResult, Severity, Speaker,
};
use crate::error::{Disposition, JobError, Stage};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultWire {
    pub job_id: String,
    pub agent_id: String,
    pub agent: AgentWire,
    pub kind: JobKind,
    pub language: Language,
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// 0–100.
    pub score: f64,
    pub passed: bool,
    pub pass_score: f64,
    /// False when the contact cannot be scored fairly (silent or garbled
    /// recording): left out of averages, pass rates and grades.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub scoreable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unscoreable_reason: Option<String>,
    pub flags: Vec<FlagWire>,
    pub metrics: MetricsWire,
    pub coaching: Vec<CoachingWire>,
    pub sections: Vec<SectionWire>,
    /// Fatal (auto-fail) items that fired.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fatal: Vec<FatalWire>,
    pub attribution: Attribution,
    /// Calls: the recording's path, for the review page's audio player.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<String>,
    pub turns: Vec<TurnWire>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_reason: Option<IntentWire>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<DiagnosticWire>,
    pub metadata: MetadataWire,
    pub versions: VersionsWire,
    pub processed_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlagWire {
    pub id: FlagId,
    pub rule: String,
    pub severity: Severity,
    pub message: String,
    pub evidence: Vec<EvidenceWire>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<Speaker>,
    pub start: f64,
    pub end: f64,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn: Option<usize>,
    /// `[start, end)` character offsets of the match within `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub highlight: Option<[usize; 2]>,
    /// Approximate phrase matches on call transcripts: the match's
    /// similarity to the rule's phrase (0–1, 3 decimals). Absent for exact
    /// matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsWire {
    pub turns: usize,
    pub agent_turns: usize,
    pub customer_turns: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_talk_share: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_talk_share: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_response_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_response_s: Option<f64>,
    pub responses: usize,
    pub handle_time_s: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_call_work_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silence_share: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longest_silence_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap_count: Option<usize>,
    /// Agent speech rate, in `agent_speech_rate_unit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_speech_rate: Option<f64>,
    /// `words_per_minute` (English) or `chars_per_minute` (Chinese).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_speech_rate_unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_sentiment_start: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_sentiment_end: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_sentiment_trend: Option<domain::Trend>,
    /// Predicted satisfaction, 1–5 (docs/models.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_csat: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoachingWire {
    pub flag: FlagId,
    pub rule: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SectionWire {
    pub id: String,
    pub name: String,
    pub weight: f64,
    pub score: f64,
    pub deductions: Vec<DeductionWire>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeductionWire {
    pub item: String,
    pub flag: FlagId,
    pub rule: String,
    pub points: f64,
    /// Index into `flags`.
    pub flag_index: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FatalWire {
    pub item: String,
    pub flag_index: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnWire {
    pub speaker: Speaker,
    pub start: f64,
    pub end: f64,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<SentimentWire>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<IntentWire>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentimentWire {
    pub label: Polarity,
    pub negative: f32,
    pub neutral: f32,
    pub positive: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntentWire {
    pub intent: String,
    pub score: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnosticWire {
    pub source: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VersionsWire {
    pub callqa: String,
    pub rule_pack: String,
    pub scorecard: String,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub models: std::collections::BTreeMap<String, String>,
}

/// A job that could not be processed, with its reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureWire {
    /// Absent when the job was too malformed to have a readable id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// Where the job came from: a file path or a queue message id.
    pub source: String,
    pub stage: Stage,
    pub disposition: Disposition,
    pub reason: String,
    pub failed_at: String,
}

impl FailureWire {
    pub fn new(job_id: Option<String>, source: impl Into<String>, err: &JobError) -> Self {
        FailureWire {
            job_id,
            source: source.into(),
            stage: err.stage,
            disposition: err.disposition,
            reason: err.message.clone(),
            failed_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }
    }
}

/// Rounds seconds to milliseconds so results read cleanly.
fn ms(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn round3(x: Option<f64>) -> Option<f64> {
    x.map(ms)
}

impl From<&domain::Agent> for AgentWire {
    fn from(a: &domain::Agent) -> Self {
        AgentWire {
            id: a.id.to_string(),
            name: a.name.clone(),
            team: a.team.clone(),
            role: a.role.clone(),
        }
    }
}

impl From<&domain::Metadata> for MetadataWire {
    fn from(m: &domain::Metadata) -> Self {
        MetadataWire {
            channel: m.channel.clone(),
            customer_id: m.customer_id.clone(),
            csat: m.csat.map(|c| c.score),
            csat_scale: m.csat.map(|c| c.scale),
            ticket_id: m.ticket_id.clone(),
            started_at: m.started_at.map(|t| t.to_rfc3339()),
            resolved: m.resolved,
            queue_wait_s: m.queue_wait_s,
            after_call_work_s: m.after_call_work_s,
            tags: m.tags.clone(),
            first_contact_resolved: m.first_contact_resolved,
            handle_time_s: m.handle_time_s,
            custom: m.custom.clone(),
        }
    }
}

impl From<&domain::Metrics> for MetricsWire {
    fn from(m: &domain::Metrics) -> Self {
        MetricsWire {
            turns: m.turns,
            agent_turns: m.agent_turns,
            customer_turns: m.customer_turns,
            agent_talk_share: round3(m.agent_talk_share),
            customer_talk_share: round3(m.customer_talk_share),
            first_response_s: round3(m.first_response_s),
            avg_response_s: round3(m.avg_response_s),
            max_response_s: round3(m.max_response_s),
            responses: m.responses,
            handle_time_s: ms(m.handle_time_s),
            after_call_work_s: m.after_call_work_s,
            silence_share: round3(m.silence_share),
            longest_silence_s: round3(m.longest_silence_s),
            overlap_count: m.overlap_count,
            agent_speech_rate: m.agent_speech_rate.map(|r| r.round()),
            agent_speech_rate_unit: None,
            customer_sentiment_start: round3(m.customer_sentiment_start),
            customer_sentiment_end: round3(m.customer_sentiment_end),
            customer_sentiment_trend: m.customer_sentiment_trend,
            predicted_csat: m.predicted_csat.map(|x| (x * 100.0).round() / 100.0),
        }
    }
}

impl From<&domain::Flag> for FlagWire {
    fn from(f: &domain::Flag) -> Self {
        FlagWire {
            id: f.id,
            rule: f.rule.to_string(),
            severity: f.severity,
            message: f.message.clone(),
            evidence: f
                .evidence
                .iter()
                .map(|e| EvidenceWire {
                    speaker: e.speaker,
                    start: ms(e.start),
                    end: ms(e.end),
                    text: e.text.clone(),
                    turn: e.turn,
                    highlight: e.highlight.map(|(a, b)| [a, b]),
                    similarity: e
                        .similarity
                        .map(|x| (f64::from(x) * 1000.0).round() / 1000.0),
                })
                .collect(),
        }
    }
}

impl From<&domain::IntentMatch> for IntentWire {
    fn from(i: &domain::IntentMatch) -> Self {
        IntentWire {
            intent: i.intent.clone(),
            score: (i.score * 1000.0).round() / 1000.0,
        }
    }
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

impl From<&domain::SectionScore> for SectionWire {
    fn from(s: &domain::SectionScore) -> Self {
        SectionWire {
            id: s.id.clone(),
            name: s.name.clone(),
            weight: s.weight,
            score: (s.score * 10.0).round() / 10.0,
            deductions: s
                .deductions
                .iter()
                .map(|d| DeductionWire {
                    item: d.item.clone(),
                    flag: d.flag,
                    rule: d.rule.to_string(),
                    points: d.points,
                    flag_index: d.flag_index,
                })
                .collect(),
        }
    }
}

impl From<&domain::Versions> for VersionsWire {
    fn from(v: &domain::Versions) -> Self {
        VersionsWire {
            callqa: v.callqa.clone(),
            rule_pack: v.rule_pack.clone(),
            scorecard: v.scorecard.clone(),
            models: v.models.iter().cloned().collect(),
        }
    }
}

/// A turn with its sentiment and intent, where text models ran.
fn turn_wire(t: &domain::Turn, note: Option<&domain::TurnNote>) -> TurnWire {
    TurnWire {
        speaker: t.speaker,
        start: ms(t.start),
        end: ms(t.end),
        text: t.text.clone(),
        sentiment: note.and_then(|n| n.sentiment).map(|s| SentimentWire {
            label: s.label,
            negative: s.negative,
            neutral: s.neutral,
            positive: s.positive,
        }),
        intent: note.and_then(|n| n.intent.as_ref()).map(IntentWire::from),
    }
}

/// The metrics, with the unit of the agent's speech rate in `lang`.
fn metrics_wire(m: &domain::Metrics, lang: Language) -> MetricsWire {
    let mut m: MetricsWire = m.into();
    m.agent_speech_rate_unit = m.agent_speech_rate.map(|_| {
        match lang {
            Language::Zh => "chars_per_minute",
            Language::En => "words_per_minute",
        }
        .to_owned()
    });
    m
}

impl From<&QaResult> for ResultWire {
    fn from(r: &QaResult) -> Self {
        let a = &r.analysis;
        ResultWire {
            job_id: r.job_id.to_string(),
            agent_id: r.agent.id.to_string(),
            agent: (&r.agent).into(),
            kind: match r.medium {
                Medium::Chat => JobKind::Chat,
                Medium::Call => JobKind::Call,
            },
            language: r.language,
            channel: r.channel.clone(),
            started_at: r.metadata.started_at.map(|t| t.to_rfc3339()),
            score: (r.scored.score * 10.0).round() / 10.0,
            passed: r.scored.passed && r.unscoreable.is_none(),
            pass_score: r.scored.pass_score,
            scoreable: r.unscoreable.is_none(),
            unscoreable_reason: r.unscoreable.clone(),
            flags: a.flags.iter().map(FlagWire::from).collect(),
            metrics: metrics_wire(&a.metrics, r.language),
            coaching: r
                .coaching
                .iter()
                .map(|c| CoachingWire {
                    flag: c.flag,
                    rule: c.rule.to_string(),
                    text: c.text.clone(),
                })
                .collect(),
            sections: r.scored.sections.iter().map(SectionWire::from).collect(),
            fatal: r
                .scored
                .fatal
                .iter()
                .map(|f| FatalWire {
                    item: f.item.clone(),
                    flag_index: f.flag_index,
                })
                .collect(),
            attribution: r.attribution,
            recording: r.recording.as_ref().map(|p| p.display().to_string()),
            turns: r
                .turns
                .iter()
                .enumerate()
                .map(|(i, t)| turn_wire(t, a.notes.get(i)))
                .collect(),
            contact_reason: a.contact_reason.as_ref().map(IntentWire::from),
            diagnostics: a
                .diagnostics
                .iter()
                .map(|d| DiagnosticWire {
                    source: d.source.clone(),
                    message: d.message.clone(),
                })
                .collect(),
            metadata: (&r.metadata).into(),
            versions: (&r.versions).into(),
            processed_at: r
                .processed_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }
    }
}

impl ResultWire {
    /// Whether any flag was raised (the worker routes these to compliance).
    pub fn is_flagged(&self) -> bool {
        !self.flags.is_empty()
    }
}
