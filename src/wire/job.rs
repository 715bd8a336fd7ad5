//! The JSON form of jobs, as telephony and CRM systems publish them. Every
//! struct denies unknown fields so a typo is an error, not a silently
//! ignored setting. `intake` validates these into `domain::Job`.

use serde::{Deserialize, Serialize};

use crate::domain::Speaker;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    Chat,
    Call,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LanguageWire {
    Zh,
    En,
    Auto,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobWire {
    pub id: String,
    pub kind: JobKind,
    #[serde(default = "auto")]
    pub language: LanguageWire,
    pub agent: AgentWire,
    /// Chat jobs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<MessageWire>>,
    /// Call jobs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<RecordingWire>,
    #[serde(default)]
    pub metadata: MetadataWire,
}

fn auto() -> LanguageWire {
    LanguageWire::Auto
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentWire {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageWire {
    pub speaker: Speaker,
    /// RFC 3339 time with offset, e.g. `2026-11-02T10:00:05+08:00`.
    pub at: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingWire {
    /// Relative to a recording root, or absolute inside one.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<ChannelsWire>,
}

/// `{"agent": 0, "customer": 1}` or `"mixed"` for a mono recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ChannelsWire {
    Split(ChannelSplitWire),
    Layout(ChannelLayoutWire),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSplitWire {
    pub agent: usize,
    pub customer: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelLayoutWire {
    Mixed,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csat: Option<f64>,
    /// The scale `csat` is on (5 or 10); 5 if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csat_scale: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_wait_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_call_work_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Resolved at the first contact, as the CRM recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_contact_resolved: Option<bool>,
    /// Handle time in seconds as the CRM recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle_time_s: Option<f64>,
    /// Other CRM fields, by name (at most 32, names like labels).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub custom: std::collections::BTreeMap<String, String>,
}
