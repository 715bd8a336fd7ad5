//! The evaluation scheme (考核方案): a TOML file naming the KPI targets,
//! which KPI items count with what weight (common items for everyone plus
//! items per role), how data and supervisor scores blend, and how grades
//! and bonuses are given. Loaded and validated once, with the file and line
//! of a mistake. `rules/evaluation.toml` is the shipped example.
//!
//! Item scores (0–100) from KPIs — docs/evaluation.md explains each:
//! - time items (`first_response`, `avg_response`, `handle_time`,
//!   `silence`): per contact, 100 at or under target, falling linearly to 0
//!   at twice the target; averaged over contacts where the value applies;
//! - rates with a target (`fcr`, `resolution`): `min(100, 100 × rate / target)`;
//! - `csat`: per answered survey `min(100, 100 × score / target)` with the
//!   target of its scale (5 or 10; other scales scale the 5-point target);
//! - plain shares: `pass_rate` = 100 × pass rate, `script` = 100 × share of
//!   contacts with no script flag, `violations` = 100 × share of contacts
//!   with no violation, `complaints` = 100 × (1 − complaint rate);
//! - `qa_score` = mean QA score; `sentiment` = 50 + 25 × mean valence change,
//!   clamped to 0–100.
//!
//! An item without data for a person (no chats for `avg_response`, no
//! surveys for `csat`) is left out and the remaining weights of its group
//! are scaled up; it never counts as 0.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::FixedOffset;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::grade::{GradeDef, Method};
use super::kpi::Kpis;
use super::{opt_round, Contact};
use crate::domain::FlagId;
use crate::wire::job::JobKind;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct SchemeError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for SchemeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.file.display(), l, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

// ---- The file format ----------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemeFile {
    scheme: HeaderFile,
    #[serde(default)]
    targets: Targets,
    #[serde(default)]
    weights: WeightsFile,
    common: Spanned<BTreeMap<String, f64>>,
    #[serde(default)]
    roles: BTreeMap<String, Spanned<BTreeMap<String, f64>>>,
    #[serde(default)]
    grading: GradingFile,
    #[serde(default)]
    coaching: CoachingOptions,
    #[serde(default)]
    fatal: FatalFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderFile {
    id: String,
    version: String,
    #[serde(default)]
    description: String,
    /// Local time of the contact centre, for periods and daily trends.
    #[serde(default = "utc")]
    utc_offset: Spanned<String>,
    #[serde(default = "seven")]
    fcr_window_days: f64,
}

fn utc() -> Spanned<String> {
    Spanned::new(0..0, "+00:00".to_owned())
}
fn seven() -> f64 {
    7.0
}

/// KPI targets from the customer's service standards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Targets {
    pub first_response_chat_s: f64,
    pub first_response_call_s: f64,
    pub avg_response_s: f64,
    pub handle_time_s: f64,
    pub silence_share: f64,
    pub fcr: f64,
    pub resolution: f64,
    /// CSAT target on a 5-point scale.
    pub csat5: f64,
    /// CSAT target on a 10-point scale.
    pub csat10: f64,
}

impl Default for Targets {
    fn default() -> Self {
        Targets {
            first_response_chat_s: 30.0,
            first_response_call_s: 20.0,
            avg_response_s: 120.0,
            handle_time_s: 600.0,
            silence_share: 0.15,
            fcr: 0.80,
            resolution: 0.85,
            csat5: 4.5,
            csat10: 8.0,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct WeightsFile {
    common: Spanned<f64>,
    role: f64,
    data: Spanned<f64>,
    supervisor: f64,
}

impl Default for WeightsFile {
    fn default() -> Self {
        WeightsFile {
            common: Spanned::new(0..0, 60.0),
            role: 40.0,
            data: Spanned::new(0..0, 80.0),
            supervisor: 20.0,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct GradingFile {
    method: Spanned<String>,
    within: Spanned<String>,
    min_contacts: usize,
    min_pool: usize,
    small_pools: Spanned<String>,
    grades: Vec<GradeFile>,
}

impl Default for GradingFile {
    fn default() -> Self {
        GradingFile {
            method: Spanned::new(0..0, "forced".into()),
            within: Spanned::new(0..0, "team".into()),
            min_contacts: 1,
            min_pool: 5,
            small_pools: Spanned::new(0..0, "thresholds".into()),
            grades: Vec::new(),
        }
    }
}

/// `[fatal]`: what a fatal item (一票否决) does to the period's evaluation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct FatalFile {
    flags: Spanned<Vec<String>>,
    qa_score: Option<f64>,
    max_grade: Option<Spanned<String>>,
    bonus: Option<f64>,
}

impl Default for FatalFile {
    fn default() -> Self {
        FatalFile {
            flags: Spanned::new(0..0, vec!["pii_exposure".into()]),
            qa_score: Some(0.0),
            max_grade: None,
            bonus: Some(0.0),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GradeFile {
    name: Spanned<String>,
    share: u32,
    #[serde(default)]
    min_score: Option<f64>,
    bonus: f64,
}

/// How coaching picks weaknesses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CoachingOptions {
    /// A rule is a recurring weakness when it fired in at least this many
    /// of the agent's contacts.
    pub min_contacts: usize,
    /// At most this many weaknesses per agent, worst first.
    pub max_items: usize,
    /// Example pieces of evidence per weakness.
    pub examples: usize,
}

impl Default for CoachingOptions {
    fn default() -> Self {
        CoachingOptions {
            min_contacts: 2,
            max_items: 5,
            examples: 2,
        }
    }
}

// ---- The compiled scheme -------------------------------------------------

/// A KPI that can be an item of the composite score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Item {
    QaScore,
    PassRate,
    FirstResponse,
    AvgResponse,
    HandleTime,
    Silence,
    Fcr,
    Resolution,
    Csat,
    Script,
    Complaints,
    Violations,
    Sentiment,
}

impl Item {
    pub const ALL: [Item; 13] = [
        Item::QaScore,
        Item::PassRate,
        Item::FirstResponse,
        Item::AvgResponse,
        Item::HandleTime,
        Item::Silence,
        Item::Fcr,
        Item::Resolution,
        Item::Csat,
        Item::Script,
        Item::Complaints,
        Item::Violations,
        Item::Sentiment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Item::QaScore => "qa_score",
            Item::PassRate => "pass_rate",
            Item::FirstResponse => "first_response",
            Item::AvgResponse => "avg_response",
            Item::HandleTime => "handle_time",
            Item::Silence => "silence",
            Item::Fcr => "fcr",
            Item::Resolution => "resolution",
            Item::Csat => "csat",
            Item::Script => "script",
            Item::Complaints => "complaints",
            Item::Violations => "violations",
            Item::Sentiment => "sentiment",
        }
    }
}

impl std::str::FromStr for Item {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Item::ALL
            .into_iter()
            .find(|i| i.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Item::ALL.iter().map(|i| i.as_str()).collect();
                format!(
                    "unknown KPI item {s:?} (expected one of {})",
                    names.join(", ")
                )
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Within {
    /// Forced distribution within each team.
    Team,
    /// One ranking of everyone in the report.
    All,
}

/// How pools smaller than `min_pool` are graded under forced distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SmallPools {
    /// By each grade's `min_score`, person by person.
    Thresholds,
    /// All small pools together in one forced distribution (by thresholds
    /// if even that pool is smaller than `min_pool`).
    Merge,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Grading {
    pub method: Method,
    pub within: Within,
    /// People with fewer scoreable contacts in the period are not graded
    /// ("insufficient data").
    pub min_contacts: usize,
    /// Forced distribution only over pools of at least this many people.
    pub min_pool: usize,
    pub small_pools: SmallPools,
    /// Best first.
    pub grades: Vec<GradeDef>,
}

/// What a fatal item (一票否决) does to an agent's evaluation for the
/// period: a contact with a fatal scorecard item, or with one of `flags`,
/// after reviewers' dismissals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FatalPolicy {
    /// Flags that are fatal in the evaluation whatever the scorecard says.
    pub flags: Vec<FlagId>,
    /// The QA items (`qa_score`, `pass_rate`) score this for the period;
    /// `None` leaves them as they are.
    pub qa_score: Option<f64>,
    /// Index into the grades: the best grade such an agent can get.
    pub max_grade: usize,
    /// The bonus coefficient; `None` keeps the grade's.
    pub bonus: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scheme {
    pub id: String,
    pub version: String,
    pub description: String,
    pub utc_offset: FixedOffset,
    pub fcr_window_days: f64,
    pub targets: Targets,
    /// Weights of common vs role items, and of data vs supervisor score
    /// (each pair adds up to 100).
    pub common_weight: f64,
    pub role_weight: f64,
    pub data_weight: f64,
    pub supervisor_weight: f64,
    pub common: Vec<(Item, f64)>,
    pub roles: BTreeMap<String, Vec<(Item, f64)>>,
    pub grading: Grading,
    pub coaching: CoachingOptions,
    pub fatal: FatalPolicy,
}

fn default_grades() -> Vec<GradeDef> {
    [
        ("S", 10, 90.0, 1.5),
        ("A", 20, 80.0, 1.2),
        ("B", 50, 60.0, 1.0),
        ("C", 20, 0.0, 0.8),
    ]
    .into_iter()
    .map(|(n, share, min, bonus)| GradeDef {
        name: n.into(),
        share,
        min_score: min,
        bonus,
    })
    .collect()
}

/// Parses `+08:00`, `-05:30`, `Z` or `UTC`.
pub fn parse_offset(s: &str) -> Result<FixedOffset, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("z") || s.eq_ignore_ascii_case("utc") {
        return FixedOffset::east_opt(0).ok_or_else(|| "bad offset".into());
    }
    let bad = || format!("utc_offset {s:?} is not like \"+08:00\"");
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'+') => (1, &s[1..]),
        Some(b'-') => (-1, &s[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').ok_or_else(bad)?;
    let h: i32 = h.parse().map_err(|_| bad())?;
    let m: i32 = m.parse().map_err(|_| bad())?;
    if h > 14 || m > 59 {
        return Err(bad());
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60)).ok_or_else(bad)
}

struct Src<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Src<'_> {
    fn err(&self, span: Option<std::ops::Range<usize>>, message: impl Into<String>) -> SchemeError {
        SchemeError {
            file: self.path.to_path_buf(),
            line: span.filter(|s| s.end > 0).map(|s| {
                self.text[..s.start.min(self.text.len())]
                    .matches('\n')
                    .count()
                    + 1
            }),
            message: message.into(),
        }
    }

    fn items(
        &self,
        group: &str,
        map: &Spanned<BTreeMap<String, f64>>,
    ) -> Result<Vec<(Item, f64)>, SchemeError> {
        let span = Some(map.span());
        let mut out = Vec::new();
        for (k, w) in map.get_ref() {
            let item: Item = k
                .parse()
                .map_err(|e: String| self.err(span.clone(), format!("[{group}]: {e}")))?;
            if !(w.is_finite() && *w >= 0.0) {
                return Err(self.err(span, format!("[{group}] {k}: weight must not be negative")));
            }
            out.push((item, *w));
        }
        let total: f64 = out.iter().map(|(_, w)| w).sum();
        if (total - 100.0).abs() > 1e-6 {
            return Err(self.err(
                span,
                format!("[{group}] weights add up to {total}, not 100"),
            ));
        }
        Ok(out)
    }
}

impl Scheme {
    pub fn label(&self) -> String {
        format!("{}@{}", self.id, self.version)
    }

    pub fn load(path: &Path) -> Result<Scheme, SchemeError> {
        let text = std::fs::read_to_string(path).map_err(|e| SchemeError {
            file: path.to_path_buf(),
            line: None,
            message: format!("cannot read evaluation scheme: {e}"),
        })?;
        Scheme::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Scheme, SchemeError> {
        let src = Src { path, text };
        let file: SchemeFile =
            toml::from_str(text).map_err(|e| src.err(e.span(), e.message().to_owned()))?;
        let h = &file.scheme;
        let utc_offset = parse_offset(h.utc_offset.get_ref())
            .map_err(|e| src.err(Some(h.utc_offset.span()), e))?;
        if !(h.fcr_window_days.is_finite() && h.fcr_window_days > 0.0) {
            return Err(src.err(None, "[scheme] fcr_window_days must be more than 0"));
        }
        src.check_targets(&file.targets)?;
        let w = &file.weights;
        src.check_weights(w)?;
        let common = src.items("common", &file.common)?;
        let mut roles = BTreeMap::new();
        for (name, map) in &file.roles {
            roles.insert(name.clone(), src.items(&format!("roles.{name}"), map)?);
        }
        let grading = src.grading(&file.grading)?;
        let fatal = src.fatal(&file.fatal, &grading.grades)?;
        Ok(Scheme {
            id: h.id.clone(),
            version: h.version.clone(),
            description: h.description.clone(),
            utc_offset,
            fcr_window_days: h.fcr_window_days,
            targets: file.targets,
            common_weight: *w.common.get_ref(),
            role_weight: w.role,
            data_weight: *w.data.get_ref(),
            supervisor_weight: w.supervisor,
            common,
            roles,
            grading,
            coaching: file.coaching,
            fatal,
        })
    }
}

impl Src<'_> {
    /// Every target is positive; rates and CSAT are within their scale.
    fn check_targets(&self, t: &Targets) -> Result<(), SchemeError> {
        for (name, v) in [
            ("first_response_chat_s", t.first_response_chat_s),
            ("first_response_call_s", t.first_response_call_s),
            ("avg_response_s", t.avg_response_s),
            ("handle_time_s", t.handle_time_s),
            ("silence_share", t.silence_share),
            ("fcr", t.fcr),
            ("resolution", t.resolution),
            ("csat5", t.csat5),
            ("csat10", t.csat10),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(self.err(None, format!("[targets] {name} must be more than 0")));
            }
        }
        for (name, v, max) in [
            ("fcr", t.fcr, 1.0),
            ("resolution", t.resolution, 1.0),
            ("silence_share", t.silence_share, 1.0),
            ("csat5", t.csat5, 5.0),
            ("csat10", t.csat10, 10.0),
        ] {
            if v > max {
                return Err(self.err(None, format!("[targets] {name} must be at most {max}")));
            }
        }
        Ok(())
    }

    /// Each pair of weights is non-negative and adds up to 100.
    fn check_weights(&self, w: &WeightsFile) -> Result<(), SchemeError> {
        for (a, b, span, what) in [
            (
                *w.common.get_ref(),
                w.role,
                w.common.span(),
                "common + role",
            ),
            (
                *w.data.get_ref(),
                w.supervisor,
                w.data.span(),
                "data + supervisor",
            ),
        ] {
            if a < 0.0 || b < 0.0 || (a + b - 100.0).abs() > 1e-6 {
                return Err(self.err(
                    Some(span),
                    format!("[weights] {what} must be two non-negative weights adding up to 100"),
                ));
            }
        }
        Ok(())
    }

    /// `[grading]`: the method, pools and grades.
    fn grading(&self, g: &GradingFile) -> Result<Grading, SchemeError> {
        let method = match g.method.get_ref().as_str() {
            "forced" => Method::Forced,
            "thresholds" => Method::Thresholds,
            other => {
                return Err(self.err(
                    Some(g.method.span()),
                    format!("[grading] method {other:?} (expected \"forced\" or \"thresholds\")"),
                ))
            }
        };
        let within = match g.within.get_ref().as_str() {
            "team" => Within::Team,
            "all" => Within::All,
            other => {
                return Err(self.err(
                    Some(g.within.span()),
                    format!("[grading] within {other:?} (expected \"team\" or \"all\")"),
                ))
            }
        };
        let grades = if g.grades.is_empty() {
            default_grades()
        } else {
            self.grades(&g.grades, method)?
        };
        let small_pools = match g.small_pools.get_ref().as_str() {
            "thresholds" => SmallPools::Thresholds,
            "merge" => SmallPools::Merge,
            other => {
                return Err(self.err(
                    Some(g.small_pools.span()),
                    format!(
                        "[grading] small_pools {other:?} (expected \"thresholds\" or \"merge\")"
                    ),
                ))
            }
        };
        Ok(Grading {
            method,
            within,
            min_contacts: g.min_contacts,
            min_pool: g.min_pool.max(1),
            small_pools,
            grades,
        })
    }

    /// The grades, best first: unique names, bonuses not negative, and
    /// what `method` needs — falling thresholds, or shares adding up to 100.
    fn grades(&self, grades: &[GradeFile], method: Method) -> Result<Vec<GradeDef>, SchemeError> {
        let mut out: Vec<GradeDef> = Vec::new();
        let n = grades.len();
        for (i, gf) in grades.iter().enumerate() {
            let span = Some(gf.name.span());
            let name = gf.name.get_ref().trim().to_owned();
            if name.is_empty() || name.chars().count() > 16 {
                return Err(self.err(span, "grade names must be 1 to 16 characters"));
            }
            if out.iter().any(|o| o.name == name) {
                return Err(self.err(span, format!("duplicate grade {name:?}")));
            }
            if !(gf.bonus.is_finite() && gf.bonus >= 0.0) {
                return Err(self.err(span, format!("grade {name}: bonus must not be negative")));
            }
            let min_score = match gf.min_score {
                Some(m) => m,
                None if method == Method::Thresholds && i + 1 < n => {
                    return Err(self.err(
                        span,
                        format!("grade {name}: thresholds grading needs min_score (all but the last grade)"),
                    ));
                }
                None => 0.0,
            };
            if let Some(prev) = out.last() {
                if method == Method::Thresholds && min_score >= prev.min_score {
                    return Err(self.err(
                        span,
                        format!("grade {name}: min_score must be below the grade above it"),
                    ));
                }
            }
            out.push(GradeDef {
                name,
                share: gf.share,
                min_score,
                bonus: gf.bonus,
            });
        }
        let total: u32 = out.iter().map(|g| g.share).sum();
        if method == Method::Forced && total != 100 {
            return Err(self.err(
                grades.first().map(|g| g.name.span()),
                format!("[grading] grade shares add up to {total}, not 100"),
            ));
        }
        Ok(out)
    }

    /// `[fatal]`, with `max_grade` looked up among `grades`.
    fn fatal(&self, f: &FatalFile, grades: &[GradeDef]) -> Result<FatalPolicy, SchemeError> {
        let mut flags = Vec::new();
        for name in f.flags.get_ref() {
            let id: FlagId = name.parse().map_err(|e: String| {
                self.err(Some(f.flags.span()), format!("[fatal] flags: {e}"))
            })?;
            flags.push(id);
        }
        if let Some(q) = f.qa_score {
            if !(0.0..=100.0).contains(&q) {
                return Err(self.err(None, "[fatal] qa_score must be between 0 and 100"));
            }
        }
        if let Some(b) = f.bonus {
            if !(b.is_finite() && b >= 0.0) {
                return Err(self.err(None, "[fatal] bonus must not be negative"));
            }
        }
        let max_grade = match &f.max_grade {
            None => grades.len().saturating_sub(1),
            Some(name) => grades
                .iter()
                .position(|g| g.name == name.get_ref().trim())
                .ok_or_else(|| {
                    self.err(
                        Some(name.span()),
                        format!(
                            "[fatal] max_grade {:?} is not one of the grades",
                            name.get_ref()
                        ),
                    )
                })?,
        };
        Ok(FatalPolicy {
            flags,
            qa_score: f.qa_score,
            max_grade,
            bonus: f.bonus,
        })
    }
}

// ---- Item scores and the composite -----------------------------------------

/// 100 at or under the target, linearly down to 0 at twice the target.
pub fn time_score(value: f64, target: f64) -> f64 {
    if value <= target {
        100.0
    } else if value >= 2.0 * target {
        0.0
    } else {
        100.0 * (2.0 * target - value) / target
    }
}

/// `min(100, 100 × value / target)`.
pub fn ratio_score(value: f64, target: f64) -> f64 {
    (100.0 * value / target).min(100.0)
}

/// The CSAT target for a survey scale.
pub fn csat_target(t: &Targets, scale: f64) -> f64 {
    if (scale - 10.0).abs() < 1e-9 {
        t.csat10
    } else {
        t.csat5 * scale / 5.0
    }
}

/// One item's 0–100 score for a group of contacts, or `None` without data.
pub fn item_score(item: Item, contacts: &[&Contact], k: &Kpis, t: &Targets) -> Option<f64> {
    use super::kpi::mean;
    // Script, violation and complaint counts are over scoreable contacts.
    let n = k.scoreable();
    let share = |x: usize| (n > 0).then(|| 100.0 * x as f64 / n as f64);
    match item {
        Item::QaScore => k.avg_score,
        Item::PassRate => k.pass_rate.map(|r| 100.0 * r),
        Item::FirstResponse => mean(contacts.iter().filter_map(|c| {
            let target = match c.kind {
                JobKind::Chat => t.first_response_chat_s,
                JobKind::Call => t.first_response_call_s,
            };
            c.first_response_s.map(|v| time_score(v, target))
        })),
        Item::AvgResponse => mean(
            contacts
                .iter()
                .filter(|c| c.kind == JobKind::Chat)
                .filter_map(|c| c.avg_response_s.map(|v| time_score(v, t.avg_response_s))),
        ),
        Item::HandleTime => mean(
            contacts
                .iter()
                .map(|c| time_score(c.aht_s(), t.handle_time_s)),
        ),
        Item::Silence => mean(
            contacts
                .iter()
                .filter(|c| c.kind == JobKind::Call)
                .filter_map(|c| c.silence_share.map(|v| time_score(v, t.silence_share))),
        ),
        Item::Fcr => k.fcr_rate.map(|r| ratio_score(r, t.fcr)),
        Item::Resolution => k.resolution_rate.map(|r| ratio_score(r, t.resolution)),
        Item::Csat => mean(contacts.iter().filter_map(|c| {
            c.csat
                .filter(|s| s.scale > 0.0)
                .map(|s| ratio_score(s.score, csat_target(t, s.scale)))
        })),
        Item::Script => share(k.script_compliant),
        Item::Complaints => k.complaint_rate.map(|r| 100.0 * (1.0 - r)),
        Item::Violations => share(n.saturating_sub(k.violation_contacts)),
        Item::Sentiment => k
            .sentiment_change
            .map(|d| (50.0 + 25.0 * d).clamp(0.0, 100.0)),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemScore {
    pub item: Item,
    /// `common` or the role's name.
    pub group: String,
    pub weight: f64,
    #[serde(serialize_with = "opt_round::<2, _>")]
    pub score: Option<f64>,
}

/// How a person's composite score was made.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Composite {
    pub items: Vec<ItemScore>,
    #[serde(serialize_with = "opt_round::<2, _>")]
    pub common: Option<f64>,
    /// The role whose items applied, if the scheme has the person's role.
    pub role: Option<String>,
    #[serde(serialize_with = "opt_round::<2, _>")]
    pub role_score: Option<f64>,
    /// Common and role items blended.
    #[serde(serialize_with = "opt_round::<2, _>")]
    pub data: Option<f64>,
    #[serde(serialize_with = "opt_round::<2, _>")]
    pub supervisor: Option<f64>,
    /// The final score that grades are given by.
    #[serde(serialize_with = "opt_round::<2, _>")]
    pub total: Option<f64>,
}

/// Weighted mean of the items that have data; `None` if none has.
fn weighted(scores: &[(f64, Option<f64>)]) -> Option<f64> {
    let (sum, wsum) = scores
        .iter()
        .filter_map(|(w, s)| s.map(|s| (w * s, *w)))
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    (wsum > 0.0).then(|| sum / wsum)
}

impl Scheme {
    /// The composite score of one person from their contacts and KPIs.
    /// With `fatal` (a fatal item in the period), the QA items score what
    /// the scheme's `[fatal] qa_score` says.
    pub fn composite(
        &self,
        contacts: &[&Contact],
        k: &Kpis,
        role: Option<&str>,
        supervisor: Option<f64>,
        fatal: bool,
    ) -> Composite {
        let mut items = Vec::new();
        let fatal_qa = self.fatal.qa_score.filter(|_| fatal);
        let mut score_group = |group: &str, list: &[(Item, f64)]| {
            let scored: Vec<(f64, Option<f64>)> = list
                .iter()
                .map(|&(item, w)| {
                    let s = match (item, fatal_qa) {
                        (Item::QaScore | Item::PassRate, Some(q)) => Some(q),
                        _ => item_score(item, contacts, k, &self.targets),
                    };
                    items.push(ItemScore {
                        item,
                        group: group.to_owned(),
                        weight: w,
                        score: s,
                    });
                    (w, s)
                })
                .collect();
            weighted(&scored)
        };
        let common = score_group("common", &self.common);
        let role_items = role.and_then(|r| self.roles.get_key_value(r));
        let role_score = role_items.and_then(|(name, list)| score_group(name, list));
        let data = match role_items {
            Some(_) => weighted(&[(self.common_weight, common), (self.role_weight, role_score)]),
            None => common,
        };
        let total = match (data, supervisor) {
            (Some(d), Some(s)) => weighted(&[
                (self.data_weight, Some(d)),
                (self.supervisor_weight, Some(s)),
            ]),
            (d, _) => d,
        };
        Composite {
            items,
            common,
            role: role_items.map(|(n, _)| n.clone()),
            role_score,
            data,
            supervisor,
            total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Csat;
    use crate::report::tests::contact;

    fn shipped() -> Scheme {
        Scheme::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/evaluation.toml"))
            .expect("rules/evaluation.toml loads")
    }

    #[test]
    fn item_mappings_table() {
        // (value, target) → score, for the linear time mapping.
        for (v, t, want) in [
            (10.0, 30.0, 100.0),
            (30.0, 30.0, 100.0),
            (45.0, 30.0, 50.0),
            (60.0, 30.0, 0.0),
            (90.0, 30.0, 0.0),
        ] {
            assert_eq!(time_score(v, t), want, "time {v}/{t}");
        }
        for (v, t, want) in [(0.8, 0.8, 100.0), (0.6, 0.8, 75.0), (0.95, 0.85, 100.0)] {
            assert!((ratio_score(v, t) - want).abs() < 1e-9, "ratio {v}/{t}");
        }
        let t = Targets::default();
        assert_eq!(csat_target(&t, 5.0), 4.5);
        assert_eq!(csat_target(&t, 10.0), 8.0);
        assert_eq!(csat_target(&t, 7.0), 6.3);
    }

    #[test]
    fn composite_of_hand_checked_agent() {
        // The shipped scheme: common FRT 20, ART 15, FCR 25, resolution 20,
        // CSAT 15, script 5; after_sales role: fcr 40, resolution 30,
        // qa_score 30; common 60 % + role 40 %; data 80 % + supervisor 20 %.
        let s = shipped();
        let mut a = contact("a", JobKind::Chat, 90.0, true);
        a.first_response_s = Some(45.0); // chat target 30 → 50
        a.avg_response_s = Some(60.0); // → 100
        a.csat = Some(Csat {
            score: 9.0,
            scale: 10.0,
        }); // 9/8 → 100
        a.resolved = Some(true);
        a.fcr = Some(true);
        let mut b = contact("b", JobKind::Call, 70.0, false);
        b.first_response_s = Some(10.0); // call target 20 → 100
                                         // b: no CSAT (left out), not resolved, FCR unknown.
        b.resolved = Some(false);
        let cs = [&a, &b];
        let k = Kpis::of(cs);
        let got = s.composite(&cs, &k, Some("after_sales"), None, false);
        let item = |i: Item, g: &str| {
            got.items
                .iter()
                .find(|x| x.item == i && x.group == g)
                .unwrap()
                .score
        };
        assert_eq!(item(Item::FirstResponse, "common"), Some(75.0)); // (50+100)/2
        assert_eq!(item(Item::AvgResponse, "common"), Some(100.0));
        assert_eq!(item(Item::Fcr, "common"), Some(100.0)); // 1/1 vs 0.8
                                                            // resolution 1/2 = 0.5 vs 0.85 → 58.82…
        let res = 100.0 * 0.5 / 0.85;
        assert!((item(Item::Resolution, "common").unwrap() - res).abs() < 1e-9);
        assert_eq!(item(Item::Csat, "common"), Some(100.0));
        assert_eq!(item(Item::Script, "common"), Some(100.0));
        let common =
            (20.0 * 75.0 + 15.0 * 100.0 + 25.0 * 100.0 + 20.0 * res + 15.0 * 100.0 + 5.0 * 100.0)
                / 100.0;
        assert!((got.common.unwrap() - common).abs() < 1e-9);
        // Role: fcr 100, resolution 58.82, qa 80.
        let role = (40.0 * 100.0 + 30.0 * res + 30.0 * 80.0) / 100.0;
        assert!((got.role_score.unwrap() - role).abs() < 1e-9);
        let data = 0.6 * common + 0.4 * role;
        assert!((got.data.unwrap() - data).abs() < 1e-9);
        assert_eq!(got.total, got.data, "no supervisor score: data only");
        let with_sup = s.composite(&cs, &k, Some("after_sales"), Some(50.0), false);
        assert!((with_sup.total.unwrap() - (0.8 * data + 0.2 * 50.0)).abs() < 1e-9);
        // An unknown role: common items only.
        let other = s.composite(&cs, &k, Some("astronaut"), None, false);
        assert_eq!(other.role, None);
        assert_eq!(other.data, other.common);
    }

    #[test]
    fn missing_csat_is_left_out_not_zero() {
        let s = shipped();
        let mut a = contact("a", JobKind::Chat, 90.0, true);
        a.csat = Some(Csat {
            score: 4.5,
            scale: 5.0,
        });
        let b = contact("b", JobKind::Chat, 90.0, true); // no survey
        let k = Kpis::of([&a, &b]);
        assert_eq!(k.csat, Some(4.5));
        assert_eq!(
            item_score(Item::Csat, &[&a, &b], &k, &s.targets),
            Some(100.0)
        );
        // Nobody answered: the item has no score and its weight goes to
        // the others, so the common score is the mean of what is left.
        let k2 = Kpis::of([&b]);
        assert_eq!(item_score(Item::Csat, &[&b], &k2, &s.targets), None);
        let c = s.composite(&[&b], &k2, None, None, false);
        // Only script (5) has data here → common = script score = 100.
        assert_eq!(c.common, Some(100.0));
    }

    #[test]
    fn bad_schemes_name_the_problem() {
        let base = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/evaluation.toml"),
        )
        .unwrap();
        let cases: &[(&str, &str, &str)] = &[
            ("fcr = 25", "fcr = 30", "[common] weights add up to 105"),
            ("script = 5", "scripts = 5", "unknown KPI item \"scripts\""),
            (
                "method = \"forced\"",
                "method = \"bell\"",
                "method \"bell\"",
            ),
            (
                "utc_offset = \"+08:00\"",
                "utc_offset = \"8\"",
                "utc_offset",
            ),
            ("share = 10", "share = 15", "shares add up to 105"),
            ("common = 60", "common = 70", "common + role"),
        ];
        for (from, to, want) in cases {
            assert!(base.contains(from), "fixture lacks {from}");
            let text = base.replacen(from, to, 1);
            let err = Scheme::parse(Path::new("evaluation.toml"), &text)
                .expect_err(to)
                .to_string();
            assert!(err.contains(want), "{to}: {err}");
            assert!(err.starts_with("evaluation.toml"), "{err}");
        }
    }
}
