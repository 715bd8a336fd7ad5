//! Identifiers and small closed vocabularies shared by every stage.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(s: impl Into<String>) -> Self {
                $name(s.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// A job's id, unique per conversation; results are idempotent by it.
    JobId
);
string_id!(
    /// An agent's id as the contact centre's systems know it.
    AgentId
);
string_id!(
    /// The id of a rule in a rule pack (`greeting`, `buck_passing`, …).
    RuleId
);

/// Who spoke a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    Agent,
    Customer,
}

impl Speaker {
    pub fn as_str(self) -> &'static str {
        match self {
            Speaker::Agent => "agent",
            Speaker::Customer => "customer",
        }
    }
    pub fn other(self) -> Speaker {
        match self {
            Speaker::Agent => Speaker::Customer,
            Speaker::Customer => Speaker::Agent,
        }
    }
}

impl fmt::Display for Speaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The language a conversation is analysed in; each has its own rule pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    Zh,
    En,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::Zh, Language::En];
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Zh => "zh",
            Language::En => "en",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Language {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "zh" => Ok(Language::Zh),
            "en" => Ok(Language::En),
            other => Err(format!(
                "unknown language {other:?} (expected \"zh\" or \"en\")"
            )),
        }
    }
}

/// The language a job asks for: fixed, or detected from the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LanguageChoice {
    Fixed(Language),
    Auto,
}

/// How serious a flag is; scorecards deduct by severity unless an item says
/// otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Minor,
    Major,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Minor => "minor",
            Severity::Major => "major",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "info" => Ok(Severity::Info),
            "minor" => Ok(Severity::Minor),
            "major" => Ok(Severity::Major),
            "critical" => Ok(Severity::Critical),
            other => Err(format!("unknown severity {other:?}")),
        }
    }
}

/// The kind of a flag. Reports and dashboards rely on these ids, so the set
/// is closed; rule packs choose which flag each rule raises, and the rule id
/// tells rules of one flag apart (e.g. `buck_passing` and `rudeness` both
/// raise `forbidden_phrase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagId {
    GreetingMissing,
    ClosingMissing,
    /// A required script item other than greeting and closing (apology,
    /// identity verification, …).
    ScriptMissing,
    ForbiddenPhrase,
    UnauthorizedPromise,
    PiiExposure,
    CustomerAnger,
    ComplaintThreat,
    ChurnRisk,
    LongSilence,
    Interruption,
    SlowFirstResponse,
    SlowResponse,
    /// A call in which no speech was found at all.
    NoSpeech,
}

impl FlagId {
    pub const ALL: [FlagId; 14] = [
        FlagId::GreetingMissing,
        FlagId::ClosingMissing,
        FlagId::ScriptMissing,
        FlagId::ForbiddenPhrase,
        FlagId::UnauthorizedPromise,
        FlagId::PiiExposure,
        FlagId::CustomerAnger,
        FlagId::ComplaintThreat,
        FlagId::ChurnRisk,
        FlagId::LongSilence,
        FlagId::Interruption,
        FlagId::SlowFirstResponse,
        FlagId::SlowResponse,
        FlagId::NoSpeech,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FlagId::GreetingMissing => "greeting_missing",
            FlagId::ClosingMissing => "closing_missing",
            FlagId::ScriptMissing => "script_missing",
            FlagId::ForbiddenPhrase => "forbidden_phrase",
            FlagId::UnauthorizedPromise => "unauthorized_promise",
            FlagId::PiiExposure => "pii_exposure",
            FlagId::CustomerAnger => "customer_anger",
            FlagId::ComplaintThreat => "complaint_threat",
            FlagId::ChurnRisk => "churn_risk",
            FlagId::LongSilence => "long_silence",
            FlagId::Interruption => "interruption",
            FlagId::SlowFirstResponse => "slow_first_response",
            FlagId::SlowResponse => "slow_response",
            FlagId::NoSpeech => "no_speech",
        }
    }

    /// Customer-side risk signals: they route a conversation to compliance
    /// but are not the agent's fault by themselves.
    pub fn is_customer_risk(self) -> bool {
        matches!(
            self,
            FlagId::CustomerAnger | FlagId::ComplaintThreat | FlagId::ChurnRisk
        )
    }
}

impl fmt::Display for FlagId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FlagId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FlagId::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| format!("unknown flag id {s:?}"))
    }
}

/// The kinds of personal data callqa detects (the PII analyser flags
/// them, the redact stage masks them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PiiKind {
    BankCard,
    CnMobile,
    CnId,
    Email,
    /// A street address (patterns; see `text::pii`).
    Address,
    /// A person's name where someone says it is one ("我叫…", "my name is …").
    Name,
}

impl PiiKind {
    pub const ALL: [PiiKind; 6] = [
        PiiKind::BankCard,
        PiiKind::CnMobile,
        PiiKind::CnId,
        PiiKind::Email,
        PiiKind::Address,
        PiiKind::Name,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            PiiKind::BankCard => "bank_card",
            PiiKind::CnMobile => "cn_mobile",
            PiiKind::CnId => "cn_id",
            PiiKind::Email => "email",
            PiiKind::Address => "address",
            PiiKind::Name => "name",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_ids_round_trip_through_serde_and_from_str() {
        for f in FlagId::ALL {
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, format!("\"{}\"", f.as_str()));
            assert_eq!(f.as_str().parse::<FlagId>().unwrap(), f);
        }
        assert!("greeting".parse::<FlagId>().is_err());
    }
}
