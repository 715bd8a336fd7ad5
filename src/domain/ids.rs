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

/// The kind of a flag. Reports and dashboards group by these ids. The
/// built-in ones are fixed; a rule pack may declare more (`[[flags]]` in
/// `rules.toml`, e.g. 营销合规 `marketing_compliance`), which become
/// [`FlagId::Custom`]. The rule id tells rules of one flag apart (e.g.
/// `buck_passing` and `rudeness` both raise `forbidden_phrase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
    /// A category a rule pack declares.
    Custom(CustomFlag),
}

/// The id of a pack-declared flag category, interned for the life of the
/// process (there are a handful per pack), so that [`FlagId`] stays `Copy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CustomFlag(&'static str);

impl CustomFlag {
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

/// What a rule pack says about a flag category it declares.
#[derive(Debug, Clone, PartialEq)]
pub struct FlagInfo {
    /// Names for people: Chinese, English.
    pub label_zh: &'static str,
    pub label_en: &'static str,
    /// The severity of the pack's rules that raise it and name none.
    pub severity: Severity,
    /// A customer-side risk signal (routes to compliance, costs the agent
    /// nothing, cannot be disputed), like `complaint_threat`.
    pub customer_side: bool,
}

/// Interned custom ids and the declarations loaded packs made.
struct Registry {
    ids: std::collections::BTreeSet<&'static str>,
    declared: std::collections::BTreeMap<&'static str, FlagInfo>,
}

static REGISTRY: std::sync::RwLock<Registry> = std::sync::RwLock::new(Registry {
    ids: std::collections::BTreeSet::new(),
    declared: std::collections::BTreeMap::new(),
});

fn registry() -> std::sync::RwLockReadGuard<'static, Registry> {
    REGISTRY.read().unwrap_or_else(|e| e.into_inner())
}

fn registry_mut() -> std::sync::RwLockWriteGuard<'static, Registry> {
    REGISTRY.write().unwrap_or_else(|e| e.into_inner())
}

/// Lower-case ASCII letters, digits and `_`, starting with a letter, at
/// most 64 characters: the same shape as the built-in ids.
fn valid_flag_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn intern(s: &str) -> &'static str {
    if let Some(&k) = registry().ids.get(s) {
        return k;
    }
    let mut r = registry_mut();
    if let Some(&k) = r.ids.get(s) {
        return k;
    }
    let k: &'static str = Box::leak(s.to_owned().into_boxed_str());
    r.ids.insert(k);
    k
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
            FlagId::Custom(c) => c.as_str(),
        }
    }

    fn builtin(s: &str) -> Option<FlagId> {
        FlagId::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// Declares a pack's own flag category (or updates the declaration
    /// when a pack is edited). Fails for a built-in id or a malformed one.
    pub fn declare(id: &str, info: FlagInfo) -> Result<FlagId, String> {
        if FlagId::builtin(id).is_some() {
            return Err(format!(
                "flag {id:?} is built in; declare only new categories"
            ));
        }
        if !valid_flag_id(id) {
            return Err(format!(
                "flag id {id:?} must be lower-case letters, digits and '_', starting with a letter (at most 64)"
            ));
        }
        let k = intern(id);
        registry_mut().declared.insert(k, info);
        Ok(FlagId::Custom(CustomFlag(k)))
    }

    /// The pack declarations loaded so far, for labels and filters.
    pub fn declared() -> Vec<(FlagId, FlagInfo)> {
        registry()
            .declared
            .iter()
            .map(|(k, v)| (FlagId::Custom(CustomFlag(k)), v.clone()))
            .collect()
    }

    /// A pack-declared flag's declaration; `None` for built-ins and for
    /// custom ids read from stored results that no loaded pack declares.
    pub fn info(self) -> Option<FlagInfo> {
        match self {
            FlagId::Custom(c) => registry().declared.get(c.as_str()).cloned(),
            _ => None,
        }
    }

    /// Customer-side risk signals: they route a conversation to compliance
    /// but are not the agent's fault by themselves.
    pub fn is_customer_risk(self) -> bool {
        match self {
            FlagId::CustomerAnger | FlagId::ComplaintThreat | FlagId::ChurnRisk => true,
            FlagId::Custom(_) => self.info().is_some_and(|i| i.customer_side),
            _ => false,
        }
    }

    /// Any well-formed id, built in or not: what stored results and
    /// exchanged messages carry (a pack that declared it may not be loaded
    /// in this process).
    pub fn read(s: &str) -> Result<FlagId, String> {
        match FlagId::builtin(s) {
            Some(f) => Ok(f),
            None if valid_flag_id(s) => Ok(FlagId::Custom(CustomFlag(intern(s)))),
            None => Err(format!("malformed flag id {s:?}")),
        }
    }
}

impl fmt::Display for FlagId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A flag id as written by a person (a pack, a scorecard, a filter): a
/// built-in id or one a loaded pack declares.
impl FromStr for FlagId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(f) = FlagId::builtin(s) {
            return Ok(f);
        }
        if let Some(&k) = registry().declared.keys().find(|k| **k == s) {
            return Ok(FlagId::Custom(CustomFlag(k)));
        }
        Err(format!(
            "unknown flag id {s:?} (not built in, and no rule pack declares it in [[flags]])"
        ))
    }
}

impl Serialize for FlagId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FlagId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        FlagId::read(&s).map_err(serde::de::Error::custom)
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

    #[test]
    fn packs_declare_their_own_flags() {
        let info = FlagInfo {
            label_zh: "营销合规",
            label_en: "Marketing compliance",
            severity: Severity::Major,
            customer_side: false,
        };
        assert!("ids_test_marketing".parse::<FlagId>().is_err());
        // Stored results may carry it before any pack declares it.
        let read: FlagId = serde_json::from_str("\"ids_test_marketing\"").unwrap();
        assert_eq!(read.info(), None);
        let f = FlagId::declare("ids_test_marketing", info.clone()).unwrap();
        assert_eq!(f, read);
        assert_eq!(f.as_str(), "ids_test_marketing");
        assert_eq!("ids_test_marketing".parse::<FlagId>().unwrap(), f);
        assert_eq!(f.info(), Some(info.clone()));
        assert!(!f.is_customer_risk());
        assert_eq!(serde_json::to_string(&f).unwrap(), "\"ids_test_marketing\"");
        assert!(FlagId::declare("closing_missing", info.clone()).is_err());
        assert!(FlagId::declare("Bad Id", info.clone()).is_err());
        assert!(serde_json::from_str::<FlagId>("\"Bad Id\"").is_err());
        let side = FlagId::declare(
            "ids_test_refund_push",
            FlagInfo {
                customer_side: true,
                ..info
            },
        )
        .unwrap();
        assert!(side.is_customer_risk());
    }
}
