//! Jobs as the pipeline sees them: validated, typed, with recording paths
//! already resolved inside the configured roots. The JSON form lives in
//! `wire::job`; `intake` converts one into the other.

use std::path::PathBuf;

use chrono::{DateTime, FixedOffset};

use super::ids::{AgentId, JobId, LanguageChoice, Speaker};

/// One unit of work: a chat log or a call recording to score.
#[derive(Debug, Clone)]
pub enum Job {
    Chat(ChatJob),
    Call(CallJob),
}

impl Job {
    pub fn header(&self) -> &JobHeader {
        match self {
            Job::Chat(c) => &c.header,
            Job::Call(c) => &c.header,
        }
    }
    pub fn id(&self) -> &JobId {
        &self.header().id
    }
    pub fn medium(&self) -> Medium {
        match self {
            Job::Chat(_) => Medium::Chat,
            Job::Call(_) => Medium::Call,
        }
    }
}

/// Whether a conversation was typed or spoken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Medium {
    Chat,
    Call,
}

impl Medium {
    pub fn as_str(self) -> &'static str {
        match self {
            Medium::Chat => "chat",
            Medium::Call => "call",
        }
    }
    /// The timing channel used when the job's metadata names none.
    pub fn default_channel(self) -> &'static str {
        match self {
            Medium::Chat => "chat",
            Medium::Call => "phone",
        }
    }
}

/// What every job carries besides its content.
#[derive(Debug, Clone, PartialEq)]
pub struct JobHeader {
    pub id: JobId,
    pub language: LanguageChoice,
    pub agent: Agent,
    pub metadata: Metadata,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub id: AgentId,
    pub name: Option<String>,
    pub team: Option<String>,
    /// The agent's role for evaluation weights (pre_sales, after_sales, …).
    pub role: Option<String>,
}

/// Customer satisfaction as surveyed, on its own scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Csat {
    pub score: f64,
    pub scale: f64,
}

impl Csat {
    /// The score on a 0–1 scale, so 4.5/5 and 9/10 compare.
    pub fn normalised(self) -> f64 {
        self.score / self.scale
    }
}

/// Facts about the contact that the CRM or telephony system knows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    /// Timing channel (`chat`, `phone`, `wechat`, …) choosing thresholds.
    pub channel: Option<String>,
    pub customer_id: Option<String>,
    pub csat: Option<Csat>,
    pub ticket_id: Option<String>,
    /// When the contact began (calls: the recording's start).
    pub started_at: Option<DateTime<FixedOffset>>,
    /// Whether the issue was resolved, as the CRM recorded it.
    pub resolved: Option<bool>,
    /// Seconds the customer waited in queue before an agent answered.
    pub queue_wait_s: Option<f64>,
    /// After-call work in seconds, from the telephony system.
    pub after_call_work_s: Option<f64>,
    pub tags: Vec<String>,
    /// Resolved at the first contact, as the CRM recorded it (overrides
    /// the report's return-visit rule).
    pub first_contact_resolved: Option<bool>,
    /// Handle time in seconds as the CRM or telephony system recorded it.
    pub handle_time_s: Option<f64>,
    /// Any other CRM field, by name (e.g. `order_value`, `product`).
    pub custom: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatJob {
    pub header: JobHeader,
    /// Never empty, in time order.
    pub messages: Vec<Message>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub speaker: Speaker,
    pub at: DateTime<FixedOffset>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CallJob {
    pub header: JobHeader,
    pub recording: Recording,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    /// Canonical path, already checked to lie inside a recording root.
    pub path: PathBuf,
    pub channels: ChannelMap,
}

/// Which audio channel carries which speaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelMap {
    /// Nothing said: stereo files use agent = 0, customer = 1; mono files
    /// are transcribed once and speakers inferred.
    Default,
    Split {
        agent: usize,
        customer: usize,
    },
    /// Both speakers on one (possibly downmixed) channel: roles inferred.
    Mixed,
}
