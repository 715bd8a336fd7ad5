//! Evaluation reports: stored QA results over a period → per-agent and
//! per-team KPIs, a composite score from an evaluation scheme, grades and
//! bonus coefficients, and coaching; rendered as a terminal table, CSV,
//! JSON or a self-contained HTML page with charts.
//!
//! The maths is pure and lives in its own files, each table-tested on
//! hand-checked data: [`kpi`] (KPIs, first-contact resolution), [`scheme`]
//! (the scheme file, item scores, the composite), [`grade`] (forced
//! distribution and thresholds), [`coaching`]. This file turns stored
//! results into [`Contact`]s — leaving out flags that reviewers dismissed
//! and rescoring those results — and assembles the [`Report`]; [`load`] is
//! the only part that reads the store. [`render`] and [`html`] format it.

pub mod coaching;
pub mod grade;
pub mod html;
pub mod import;
pub mod kpi;
pub mod labels;
pub mod period;
pub mod render;
pub mod scheme;
pub mod xlsx;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use crate::domain::{Csat, Flag, FlagId, Language, RuleId, Severity};
use crate::error::{Classify, Disposition};
use crate::rules::PackSet;
use crate::score::Scorecard;
use crate::store::{ResultFilter, Store, StoreError};
use crate::wire::job::JobKind;
use crate::wire::result::EvidenceWire;
use crate::wire::ResultWire;

pub use coaching::Weakness;
pub use grade::{GradeDef, Method};
pub use kpi::Kpis;
pub use period::Period;
pub use scheme::{Composite, Scheme, SchemeError};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Scheme(#[from] SchemeError),
    #[error("{0}")]
    Period(String),
    #[error("{file}:{line}: {message}")]
    Supervisor {
        file: PathBuf,
        line: usize,
        message: String,
    },
}

impl Classify for ReportError {
    fn disposition(&self) -> Disposition {
        match self {
            ReportError::Store(e) => e.disposition(),
            _ => Disposition::Reject,
        }
    }
}

// ---- Rounding for output ------------------------------------------------

pub fn round_to<const D: u32>(x: f64) -> f64 {
    let m = 10f64.powi(D as i32);
    (x * m).round() / m
}

/// Serialises an optional float rounded to `D` decimals: reports show
/// figures, not float noise; the maths keeps full precision.
pub(crate) fn opt_round<const D: u32, S: serde::Serializer>(
    v: &Option<f64>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(x) => s.serialize_some(&round_to::<D>(*x)),
        None => s.serialize_none(),
    }
}

// ---- Contacts -------------------------------------------------------------

/// A flag that counts (not dismissed), with what coaching needs of it.
#[derive(Debug, Clone, PartialEq)]
pub struct CountedFlag {
    pub id: FlagId,
    pub rule: String,
    pub severity: Severity,
    /// The first piece of evidence, for coaching examples.
    pub evidence: Option<EvidenceWire>,
    /// The result's coaching text for this rule, if any.
    pub coaching: Option<String>,
}

impl CountedFlag {
    pub fn bare(id: FlagId, rule: &str, severity: Severity) -> Self {
        CountedFlag {
            id,
            rule: rule.to_owned(),
            severity,
            evidence: None,
            coaching: None,
        }
    }

    /// The agent's own fault: not a customer-risk signal, not info-only.
    pub fn is_violation(&self) -> bool {
        !self.id.is_customer_risk() && self.severity > Severity::Info
    }
}

/// A fatal item of one contact.
#[derive(Debug, Clone, PartialEq)]
pub struct FatalHit {
    pub flag: FlagId,
    pub rule: String,
    /// The scorecard item, when the scorecard made it fatal.
    pub item: Option<String>,
}

/// One stored result as reports see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub job_id: String,
    pub agent_id: String,
    pub agent_name: Option<String>,
    pub team: Option<String>,
    pub role: Option<String>,
    pub kind: JobKind,
    pub language: Language,
    /// Start time in the scheme's local offset; when the job had none, the
    /// time it was processed (`started_is_processed`).
    pub started: Option<DateTime<FixedOffset>>,
    pub started_is_processed: bool,
    /// QA score and verdict after dismissed flags are taken out.
    pub score: f64,
    pub passed: bool,
    /// False for a silent or garbled recording: listed, but left out of
    /// QA averages, pass rates and grades.
    pub scoreable: bool,
    pub unscoreable_reason: Option<String>,
    /// Fatal items (一票否决) that count: scorecard fatal items and flags the
    /// scheme makes fatal, not dismissed.
    pub fatal: Vec<FatalHit>,
    pub flags: Vec<CountedFlag>,
    /// Flags of this result that reviewers dismissed.
    pub dismissed: usize,
    pub first_response_s: Option<f64>,
    pub avg_response_s: Option<f64>,
    pub handle_time_s: f64,
    pub after_call_work_s: Option<f64>,
    pub silence_share: Option<f64>,
    pub csat: Option<Csat>,
    pub resolved: Option<bool>,
    /// First-contact resolution, set when the report sees later contacts.
    pub fcr: Option<bool>,
    pub sentiment_change: Option<f64>,
    /// The model's predicted satisfaction, 1–5 (`metrics.predicted_csat`).
    pub predicted_csat: Option<f64>,
}

impl Contact {
    /// Handle time plus after-call work.
    pub fn aht_s(&self) -> f64 {
        self.handle_time_s + self.after_call_work_s.unwrap_or(0.0)
    }

    /// CSAT on a 5-point scale.
    pub fn csat5(&self) -> Option<f64> {
        self.csat
            .filter(|c| c.scale > 0.0 && c.score.is_finite())
            .map(|c| c.score * 5.0 / c.scale)
    }

    /// A contact from a stored result, without the flags in `dismissed`
    /// (indices into `r.flags`), rescored by `card` when it is the
    /// scorecard that scored the result.
    pub fn from_result(
        r: &ResultWire,
        dismissed: &BTreeSet<usize>,
        card: Option<&Scorecard>,
        tz: FixedOffset,
    ) -> Contact {
        let (score, passed) = rescore(r, dismissed, card);
        let m = &r.metrics;
        Contact {
            job_id: r.job_id.clone(),
            agent_id: r.agent_id.clone(),
            agent_name: r.agent.name.clone(),
            team: r.agent.team.clone(),
            role: r.agent.role.clone(),
            kind: r.kind,
            language: r.language,
            started: r
                .started_at
                .as_deref()
                .or(Some(r.processed_at.as_str()))
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&tz)),
            started_is_processed: r.started_at.is_none(),
            score,
            passed,
            scoreable: r.scoreable,
            unscoreable_reason: r.unscoreable_reason.clone(),
            fatal: r
                .fatal
                .iter()
                .filter(|f| !dismissed.contains(&f.flag_index))
                .filter_map(|f| {
                    let flag = r.flags.get(f.flag_index)?;
                    Some(FatalHit {
                        flag: flag.id,
                        rule: flag.rule.clone(),
                        item: Some(f.item.clone()),
                    })
                })
                .collect(),
            flags: r
                .flags
                .iter()
                .enumerate()
                .filter(|(i, _)| !dismissed.contains(i))
                .map(|(_, f)| CountedFlag {
                    id: f.id,
                    rule: f.rule.clone(),
                    severity: f.severity,
                    evidence: f.evidence.first().cloned(),
                    coaching: r
                        .coaching
                        .iter()
                        .find(|c| c.rule == f.rule)
                        .map(|c| c.text.clone()),
                })
                .collect(),
            dismissed: dismissed.iter().filter(|&&i| i < r.flags.len()).count(),
            first_response_s: m.first_response_s,
            avg_response_s: m.avg_response_s,
            // The CRM's handle time, where it sent one, is the one that counts.
            handle_time_s: r.metadata.handle_time_s.unwrap_or(m.handle_time_s),
            after_call_work_s: m.after_call_work_s.or(r.metadata.after_call_work_s),
            silence_share: m.silence_share,
            csat: r.metadata.csat.map(|score| Csat {
                score,
                scale: r.metadata.csat_scale.unwrap_or(5.0),
            }),
            resolved: r.metadata.resolved,
            fcr: None,
            sentiment_change: match (m.customer_sentiment_start, m.customer_sentiment_end) {
                (Some(a), Some(b)) => Some(b - a),
                _ => None,
            },
            predicted_csat: m.predicted_csat.filter(|x| x.is_finite()),
        }
    }
}

/// A result's score and verdict without the dismissed flags. With the
/// scorecard that scored it (same `id@version`), the scorecard is applied
/// again to the remaining flags — exact, caps and fatal items included.
/// Otherwise the points the dismissed flags cost are given back section by
/// section (a section never above its weight), and a result whose fatal
/// hits were all dismissed is scored by its sections again; this is
/// approximate when an item had reached its cap, and the report counts such
/// results in `rescored_without_scorecard`.
pub fn rescore(
    r: &ResultWire,
    dismissed: &BTreeSet<usize>,
    card: Option<&Scorecard>,
) -> (f64, bool) {
    if !dismissed.iter().any(|&i| i < r.flags.len()) {
        return (r.score, r.passed);
    }
    if let Some(card) = card.filter(|c| c.label() == r.versions.scorecard) {
        let flags: Vec<Flag> = r
            .flags
            .iter()
            .enumerate()
            .filter(|(i, _)| !dismissed.contains(i))
            .map(|(_, f)| Flag {
                id: f.id,
                rule: RuleId::new(f.rule.clone()),
                severity: f.severity,
                message: f.message.clone(),
                evidence: Vec::new(),
            })
            .collect();
        let s = card.apply(&flags);
        return (round_to::<1>(s.score), s.passed);
    }
    let fatal_left = r.fatal.iter().any(|f| !dismissed.contains(&f.flag_index));
    if fatal_left {
        return (r.score, false);
    }
    // Each section's score without the dismissed deductions.
    let mut old_total = 0.0;
    let mut new_total = 0.0;
    for s in &r.sections {
        let lost: f64 = s
            .deductions
            .iter()
            .filter(|d| !dismissed.contains(&d.flag_index))
            .map(|d| d.points)
            .sum();
        old_total += s.score;
        new_total += (s.weight - lost).max(0.0);
    }
    let score = if r.fatal.is_empty() {
        // Give back what the sections give back.
        round_to::<1>((r.score + new_total - old_total).clamp(0.0, 100.0))
    } else {
        // Every fatal hit was dismissed: the sections decide again.
        round_to::<1>(new_total)
    };
    (score, score >= r.pass_score)
}

// ---- The report -------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodInfo {
    pub label: String,
    /// UTC bounds, `[since, until)`.
    pub since: String,
    pub until: String,
    pub utc_offset: String,
    /// First and last day, in the scheme's local time: what headers show.
    pub first_day: String,
    pub last_day: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentReport {
    pub agent_id: String,
    pub name: Option<String>,
    pub team: Option<String>,
    pub role: Option<String>,
    pub language: Language,
    pub kpis: Kpis,
    pub composite: Composite,
    /// Rank within the grading pool (1 = best; ties share a rank).
    pub rank: Option<usize>,
    pub grade: Option<String>,
    pub bonus: Option<f64>,
    /// How the grade was given, or why there is none.
    pub graded_by: grade::Basis,
    /// The reason shown next to the grade, in the report's language: a
    /// fatal item, too few contacts, a pool too small for forced
    /// distribution.
    pub grade_note: Option<String>,
    /// Fatal items (一票否决) in the period.
    pub fatal: Vec<FatalNote>,
    pub coaching: Vec<Weakness>,
    /// The agent's weeks (ISO, local time) in the period.
    pub weeks: Vec<WeekPoint>,
}

/// One agent's week: how their QA went, for the trend over the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeekPoint {
    /// ISO week, e.g. `2026-W45`.
    pub week: String,
    pub contacts: usize,
    #[serde(serialize_with = "opt_round::<2, _>")]
    pub avg_score: Option<f64>,
    #[serde(serialize_with = "opt_round::<4, _>")]
    pub pass_rate: Option<f64>,
    pub violations: usize,
    /// The most frequent violation of the week, by name.
    pub top_violation: Option<String>,
}

/// Weekly points of one agent's contacts (ISO weeks of their local start).
fn weeks_of(cs: &[&Contact], lang: Language) -> Vec<WeekPoint> {
    use chrono::Datelike;
    let mut by: BTreeMap<String, Vec<&Contact>> = BTreeMap::new();
    for c in cs {
        if let Some(t) = c.started {
            let w = t.iso_week();
            by.entry(format!("{}-W{:02}", w.year(), w.week()))
                .or_default()
                .push(c);
        }
    }
    by.into_iter()
        .map(|(week, cs)| {
            let k = Kpis::of(cs.iter().copied());
            let top = k
                .violations_by_flag
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .and_then(|(id, _)| id.parse::<FlagId>().ok())
                .map(|f| labels::flag_label(f, lang).to_owned());
            WeekPoint {
                week,
                contacts: k.contacts,
                avg_score: k.avg_score,
                pass_rate: k.pass_rate,
                violations: k.violations,
                top_violation: top,
            }
        })
        .collect()
}

/// A fatal item of an agent's contact, named for people.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FatalNote {
    pub job_id: String,
    pub flag: FlagId,
    pub label: String,
}

/// A contact that could not be scored, for a human to listen to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnscoreableNote {
    pub job_id: String,
    pub agent_id: String,
    pub kind: JobKind,
    pub started: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamReport {
    pub team: Option<String>,
    pub agents: usize,
    pub kpis: Kpis,
    /// Mean composite of the team's graded agents.
    #[serde(serialize_with = "opt_round::<2, _>")]
    pub avg_composite: Option<f64>,
    pub grades: BTreeMap<String, usize>,
}

/// Mean QA score of one day (local time), for one team or all (`None`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendPoint {
    pub date: String,
    pub team: Option<String>,
    pub contacts: usize,
    pub avg_score: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub period: PeriodInfo,
    /// The language asked for (`--lang`): headings of tables and CSV.
    pub lang: Option<Language>,
    pub scheme: String,
    pub grading: Method,
    pub generated_at: String,
    pub team_filter: Option<String>,
    pub agent_filter: Option<String>,
    /// KPIs of everyone in scope together.
    pub overall: Kpis,
    pub teams: Vec<TeamReport>,
    pub agents: Vec<AgentReport>,
    pub trend: Vec<TrendPoint>,
    /// Contacts in scope that could not be scored, for a human.
    pub unscoreable: Vec<UnscoreableNote>,
    /// Results in scope without a start time, placed by processing time.
    pub placed_by_processing_time: usize,
    /// Flags in scope that reviewers dismissed (or disputes upheld): left
    /// out of every figure.
    pub dismissed_flags: usize,
    /// Results rescored from stored deductions because their scorecard is
    /// not loaded (see `rescore`).
    pub rescored_without_scorecard: usize,
    /// Every contact in scope (for one agent, only theirs), for the
    /// spreadsheet's detail sheets; not in the JSON.
    #[serde(skip)]
    pub contacts: Vec<ContactLine>,
    /// Review plans' progress in the period (sampled contacts reviewed).
    pub plans: Vec<crate::desk::progress::PlanProgress>,
}

/// One contact of a report, with the flags that count and their first
/// evidence (already masked, as stored).
#[derive(Debug, Clone, PartialEq)]
pub struct ContactLine {
    pub job_id: String,
    pub agent_id: String,
    pub agent_name: Option<String>,
    pub team: Option<String>,
    pub kind: JobKind,
    pub language: Language,
    /// Local time, `YYYY-MM-DD HH:MM`.
    pub started: Option<String>,
    pub score: f64,
    pub passed: bool,
    pub scoreable: bool,
    pub unscoreable_reason: Option<String>,
    /// CSAT on a 0–5 scale.
    pub csat5: Option<f64>,
    /// The model's predicted satisfaction, 1–5.
    pub predicted_csat: Option<f64>,
    pub resolved: Option<bool>,
    pub fcr: Option<bool>,
    pub fatal: bool,
    pub flags: Vec<CountedFlag>,
}

/// What a report is made from.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Results started in the period and up to the FCR window after it.
    pub results: Vec<ResultWire>,
    /// `(job id, flag index)` of dismissed flags.
    pub dismissed: Vec<(String, usize)>,
    /// Supervisor score (0–100) per agent id.
    pub supervisor: BTreeMap<String, f64>,
    /// How far the period's review tasks (sampling plans) have got.
    pub plans: Vec<crate::desk::progress::PlanProgress>,
}

pub struct Options<'a> {
    pub scheme: &'a Scheme,
    pub period: &'a Period,
    pub team: Option<&'a str>,
    /// Only this agent's row (graded among their team).
    pub agent: Option<&'a str>,
    /// Language of coaching; default: each agent's most used language.
    pub lang: Option<Language>,
    /// Rule packs, for rescoring, rule names and coaching text.
    pub packs: Option<&'a PackSet>,
}

/// Reads what a report needs from the store: results from the period's
/// start to the FCR window past its end (later contacts tell whether a
/// customer came back), dismissed flags, and supervisor scores stored for
/// the period's label.
pub async fn load(store: &Store, scheme: &Scheme, period: &Period) -> Result<Inputs, ReportError> {
    let window = chrono::Duration::milliseconds((scheme.fcr_window_days * 86_400_000.0) as i64);
    let results = store
        .results_between(&ResultFilter {
            since: Some(period.since_utc()),
            until: Some(Period::utc(period.end + window)),
            ..Default::default()
        })
        .await?;
    let dismissed = store
        .dismissed_flags(Some(&period.since_utc()), Some(&period.until_utc()))
        .await?;
    let supervisor = store
        .supervisor_scores(&period.label)
        .await?
        .into_iter()
        .map(|s| (s.agent_id, s.score))
        .collect();
    let tasks = store
        .tasks(&crate::store::TaskFilter {
            period: Some(period.label.clone()),
            limit: 1_000_000,
            ..Default::default()
        })
        .await?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let plans = crate::desk::progress::progress(tasks.iter().map(|t| t.state()), &now);
    Ok(Inputs {
        results,
        dismissed,
        supervisor,
        plans,
    })
}

/// The most frequent value, ties going to the latest seen.
fn most_common<T: Clone + Ord>(values: impl Iterator<Item = T>) -> Option<T> {
    let mut counts: BTreeMap<T, (usize, usize)> = BTreeMap::new();
    for (i, v) in values.enumerate() {
        let e = counts.entry(v).or_insert((0, 0));
        e.0 += 1;
        e.1 = i;
    }
    counts
        .into_iter()
        .max_by_key(|(_, (n, last))| (*n, *last))
        .map(|(v, _)| v)
}

/// A weakness is named by its flag ("Greeting missing"); where several
/// rules of the pack raise that flag, the scorecard item (or rule id) tells
/// them apart: "Forbidden phrase (Buck-passing)".
fn rule_text(
    packs: Option<&PackSet>,
    lang: Language,
    rule: &str,
    flag: FlagId,
) -> coaching::RuleText {
    let pack = packs.and_then(|p| p.get(lang));
    let rid = RuleId::new(rule);
    let base = labels::flag_label(flag, lang);
    let shared = pack.is_none_or(|p| p.rules.iter().filter(|r| r.meta.flag == flag).count() > 1);
    let label = if shared {
        let item = pack.and_then(|p| {
            p.scorecard
                .sections
                .iter()
                .flat_map(|s| s.items.iter())
                .find(|i| i.rules.contains(&rid))
                .map(|i| i.name.clone())
        });
        format!("{base} ({})", item.unwrap_or_else(|| rule.to_owned()))
    } else {
        base.to_owned()
    };
    coaching::RuleText {
        label,
        suggestion: pack
            .and_then(|p| p.rule(&rid))
            .map(|r| r.meta.coaching.clone())
            .filter(|s| !s.trim().is_empty()),
    }
}

/// A fatal item named for people: the scorecard item's name where the
/// scorecard made it fatal, else the flag's name.
fn fatal_label(packs: Option<&PackSet>, lang: Language, h: &FatalHit) -> String {
    let item = h.item.as_deref().and_then(|id| {
        packs
            .and_then(|p| p.get(lang))
            .and_then(|p| {
                p.scorecard
                    .sections
                    .iter()
                    .flat_map(|s| s.items.iter())
                    .find(|i| i.id == id)
            })
            .map(|i| i.name.clone())
    });
    item.unwrap_or_else(|| labels::flag_label(h.flag, lang).to_owned())
}

/// Builds the report. Pure: everything comes from `inputs` and `o`.
pub fn build(inputs: &Inputs, o: &Options<'_>) -> Report {
    let tz = o.scheme.utc_offset;
    let (mut contacts, without_card) = contacts_of(inputs, o);
    mark_fcr(&mut contacts, &inputs.results, o.scheme.fcr_window_days);
    add_scheme_fatal(&mut contacts, &o.scheme.fatal);
    let scope = scope_of(&contacts, o);

    let mut by_team: BTreeMap<Option<String>, Vec<&Contact>> = BTreeMap::new();
    let mut by_agent: BTreeMap<&str, Vec<&Contact>> = BTreeMap::new();
    for c in &scope {
        by_team.entry(c.team.clone()).or_default().push(c);
        by_agent.entry(c.agent_id.as_str()).or_default().push(c);
    }
    let team_kpis: BTreeMap<Option<String>, Kpis> = by_team
        .iter()
        .map(|(t, cs)| (t.clone(), Kpis::of(cs.iter().copied())))
        .collect();

    let mut agents: Vec<AgentReport> = by_agent
        .iter()
        .map(|(&id, cs)| agent_report(id, cs, &team_kpis, inputs, o))
        .collect();
    grade_agents(&mut agents, o.scheme);
    agents.sort_by(|a, b| {
        a.team
            .cmp(&b.team)
            .then(
                a.rank
                    .unwrap_or(usize::MAX)
                    .cmp(&b.rank.unwrap_or(usize::MAX)),
            )
            .then(a.agent_id.cmp(&b.agent_id))
    });
    let teams = team_reports(team_kpis, &agents);
    let trend = daily_trend(&scope);
    let unscoreable = unscoreable_notes(&scope, o.agent);
    let contact_lines = scope
        .iter()
        .filter(|c| o.agent.is_none_or(|a| c.agent_id == a))
        .map(|c| contact_line(c))
        .collect();
    let placed_by_processing_time = scope.iter().filter(|c| c.started_is_processed).count();
    let overall = Kpis::of(scope.iter().copied());
    let dismissed_flags = scope.iter().map(|c| c.dismissed).sum();
    if let Some(a) = o.agent {
        agents.retain(|x| x.agent_id == a);
    }
    Report {
        period: period_info(o.period, tz),
        lang: o.lang,
        scheme: o.scheme.label(),
        grading: o.scheme.grading.method,
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        team_filter: o.team.map(str::to_owned),
        agent_filter: o.agent.map(str::to_owned),
        overall,
        teams,
        agents,
        trend,
        unscoreable,
        placed_by_processing_time,
        dismissed_flags,
        rescored_without_scorecard: without_card,
        contacts: contact_lines,
        plans: inputs.plans.clone(),
    }
}

/// Every loaded result as a contact, without its dismissed flags, and how
/// many of those were rescored without their scorecard (see `rescore`).
fn contacts_of(inputs: &Inputs, o: &Options<'_>) -> (Vec<Contact>, usize) {
    let mut dismissed: HashMap<&str, BTreeSet<usize>> = HashMap::new();
    for (job, idx) in &inputs.dismissed {
        dismissed.entry(job.as_str()).or_default().insert(*idx);
    }
    let none = BTreeSet::new();
    let mut without_card = 0;
    let contacts = inputs
        .results
        .iter()
        .map(|r| {
            let d = dismissed.get(r.job_id.as_str()).unwrap_or(&none);
            let card = o
                .packs
                .and_then(|p| p.get(r.language))
                .map(|p| &p.scorecard)
                .filter(|c| c.label() == r.versions.scorecard);
            let c = Contact::from_result(r, d, card, o.scheme.utc_offset);
            if card.is_none() && c.dismissed > 0 {
                without_card += 1;
            }
            c
        })
        .collect();
    (contacts, without_card)
}

/// Sets each contact's first-contact resolution. It looks at every loaded
/// contact, including those after the period; `results` are the contacts'
/// stored results, in the same order.
fn mark_fcr(contacts: &mut [Contact], results: &[ResultWire], window_days: f64) {
    let fcr = {
        let keys: Vec<kpi::ContactKey> = results
            .iter()
            .zip(contacts.iter())
            .map(|(r, c)| kpi::ContactKey {
                job_id: &c.job_id,
                customer_id: r.metadata.customer_id.as_deref(),
                // A processing time says nothing of when the customer
                // called: such contacts are not ordered for FCR.
                started: c.started.filter(|_| !c.started_is_processed),
                resolved: c.resolved,
            })
            .collect();
        kpi::first_contact_resolution(&keys, window_days)
    };
    for ((c, f), r) in contacts.iter_mut().zip(fcr).zip(results) {
        // The CRM's own first-contact-resolution mark wins over the
        // return-visit rule.
        c.fcr = r.metadata.first_contact_resolved.or(f);
    }
}

/// Adds the flags the scheme makes fatal whatever the scorecard says.
fn add_scheme_fatal(contacts: &mut [Contact], policy: &scheme::FatalPolicy) {
    for c in contacts {
        let extra: Vec<FatalHit> = c
            .flags
            .iter()
            .filter(|f| policy.flags.contains(&f.id))
            .filter(|f| !c.fatal.iter().any(|h| h.flag == f.id && h.rule == f.rule))
            .map(|f| FatalHit {
                flag: f.id,
                rule: f.rule.clone(),
                item: None,
            })
            .collect();
        for h in extra {
            if !c.fatal.contains(&h) {
                c.fatal.push(h);
            }
        }
    }
}

/// Scope: in the period, in the team; for one agent, their team(s).
fn scope_of<'a>(contacts: &'a [Contact], o: &Options<'_>) -> Vec<&'a Contact> {
    let in_period: Vec<&Contact> = contacts
        .iter()
        .filter(|c| c.started.is_some_and(|t| o.period.contains(t)))
        .filter(|c| o.team.is_none_or(|t| c.team.as_deref() == Some(t)))
        .collect();
    match o.agent {
        Some(a) => {
            let teams: BTreeSet<&Option<String>> = in_period
                .iter()
                .filter(|c| c.agent_id == a)
                .map(|c| &c.team)
                .collect();
            in_period
                .into_iter()
                .filter(|c| teams.contains(&c.team))
                .collect()
        }
        None => in_period,
    }
}

/// One agent's row before grading: KPIs, composite, fatal items, coaching
/// and weeks of their contacts `cs`.
fn agent_report(
    id: &str,
    cs: &[&Contact],
    team_kpis: &BTreeMap<Option<String>, Kpis>,
    inputs: &Inputs,
    o: &Options<'_>,
) -> AgentReport {
    let k = Kpis::of(cs.iter().copied());
    let team = most_common(cs.iter().map(|c| c.team.clone())).flatten();
    let role = most_common(cs.iter().filter_map(|c| c.role.clone()));
    let language = o
        .lang
        .or_else(|| {
            most_common(cs.iter().map(|c| c.language.as_str())).and_then(|l| l.parse().ok())
        })
        .unwrap_or(Language::En);
    // Fatal items of scoreable contacts (a garbled transcript is no
    // basis for a 一票否决 either; it is listed for a human).
    let fatal: Vec<FatalNote> = cs
        .iter()
        .filter(|c| c.scoreable)
        .flat_map(|c| {
            c.fatal.iter().map(|h| FatalNote {
                job_id: c.job_id.clone(),
                flag: h.flag,
                label: fatal_label(o.packs, language, h),
            })
        })
        .collect();
    let composite = o.scheme.composite(
        cs,
        &k,
        role.as_deref(),
        inputs.supervisor.get(id).copied(),
        !fatal.is_empty(),
    );
    let empty = Kpis::default();
    let tk = team_kpis.get(&team).unwrap_or(&empty);
    let text = |rule: &str, flag: FlagId| rule_text(o.packs, language, rule, flag);
    let coaching = coaching::weaknesses(cs, &k, tk, language, &o.scheme.coaching, &text);
    AgentReport {
        agent_id: id.to_owned(),
        name: cs.iter().rev().find_map(|c| c.agent_name.clone()),
        team,
        role,
        language,
        kpis: k,
        composite,
        rank: None,
        grade: None,
        bonus: None,
        graded_by: grade::Basis::NoScore,
        grade_note: None,
        fatal,
        coaching,
        weeks: weeks_of(cs, language),
    }
}

/// Grades: insufficient data, fatal items, pools (see `grade::assign`).
fn grade_agents(agents: &mut [AgentReport], s: &Scheme) {
    let g = &s.grading;
    let candidates: Vec<grade::Candidate> = agents
        .iter()
        .map(|a| grade::Candidate {
            pool: a.team.clone(),
            score: a.composite.total,
            contacts: a.kpis.scoreable(),
            fatal: !a.fatal.is_empty(),
        })
        .collect();
    let graded = grade::assign(&candidates, g, g.within == scheme::Within::Team, &s.fatal);
    for (a, gr) in agents.iter_mut().zip(graded) {
        let def = gr.grade.and_then(|i| g.grades.get(i));
        a.grade = def.map(|d| d.name.clone());
        a.bonus = def.map(|d| match gr.basis {
            grade::Basis::Fatal => s.fatal.bonus.unwrap_or(d.bonus),
            _ => d.bonus,
        });
        a.rank = gr.rank;
        a.graded_by = gr.basis;
        a.grade_note = labels::grade_note(
            a.language,
            gr.basis,
            g.method,
            &a.fatal,
            a.kpis.scoreable(),
            g.min_contacts,
            gr.pool_size,
            g.min_pool,
        );
    }
}

/// Each team's KPIs with its graded agents' mean composite and grades.
fn team_reports(
    team_kpis: BTreeMap<Option<String>, Kpis>,
    agents: &[AgentReport],
) -> Vec<TeamReport> {
    team_kpis
        .into_iter()
        .map(|(team, kpis)| {
            let members: Vec<&AgentReport> = agents.iter().filter(|a| a.team == team).collect();
            let mut grades = BTreeMap::new();
            for a in &members {
                if let Some(gr) = &a.grade {
                    *grades.entry(gr.clone()).or_default() += 1;
                }
            }
            TeamReport {
                agents: members.len(),
                avg_composite: kpi::mean(members.iter().filter_map(|a| a.composite.total)),
                team,
                kpis,
                grades,
            }
        })
        .collect()
}

/// Daily trend, overall and per team.
fn daily_trend(scope: &[&Contact]) -> Vec<TrendPoint> {
    let mut days: BTreeMap<(String, Option<String>), (usize, f64)> = BTreeMap::new();
    for c in scope {
        let Some(t) = c.started else { continue };
        let day = t.format("%Y-%m-%d").to_string();
        for key in [(day.clone(), None), (day, c.team.clone())] {
            let e = days.entry(key).or_insert((0, 0.0));
            e.0 += 1;
            e.1 += c.score;
        }
    }
    // Overall and per-team points coincide when everyone has no team.
    days.into_iter()
        .map(|((date, team), (n, sum))| TrendPoint {
            date,
            team,
            contacts: n,
            avg_score: round_to::<2>(sum / n as f64),
        })
        .collect()
}

/// Contacts in scope that could not be scored (for one agent, theirs).
fn unscoreable_notes(scope: &[&Contact], agent: Option<&str>) -> Vec<UnscoreableNote> {
    scope
        .iter()
        .filter(|c| !c.scoreable)
        .map(|c| UnscoreableNote {
            job_id: c.job_id.clone(),
            agent_id: c.agent_id.clone(),
            kind: c.kind,
            started: c.started.map(|t| t.format("%Y-%m-%d %H:%M").to_string()),
            reason: c.unscoreable_reason.clone().unwrap_or_default(),
        })
        .filter(|n| agent.is_none_or(|a| n.agent_id == a))
        .collect()
}

/// A contact as the spreadsheet's detail sheets list it.
fn contact_line(c: &Contact) -> ContactLine {
    ContactLine {
        job_id: c.job_id.clone(),
        agent_id: c.agent_id.clone(),
        agent_name: c.agent_name.clone(),
        team: c.team.clone(),
        kind: c.kind,
        language: c.language,
        started: c.started.map(|t| t.format("%Y-%m-%d %H:%M").to_string()),
        score: c.score,
        passed: c.passed,
        scoreable: c.scoreable,
        unscoreable_reason: c.unscoreable_reason.clone(),
        csat5: c.csat5(),
        predicted_csat: c.predicted_csat,
        resolved: c.resolved,
        fcr: c.fcr,
        fatal: !c.fatal.is_empty(),
        flags: c.flags.clone(),
    }
}

fn period_info(p: &Period, tz: FixedOffset) -> PeriodInfo {
    PeriodInfo {
        label: p.label.clone(),
        since: p.since_utc(),
        until: p.until_utc(),
        utc_offset: tz.to_string(),
        first_day: p.first_day(),
        last_day: p.last_day(),
    }
}

/// Supervisor scores from a file: CSV lines `agent_id,score[,comment]`
/// (a header line is allowed) or TOML `[scores]` with `agent_id = score`.
pub fn read_supervisor_scores(path: &Path) -> Result<BTreeMap<String, f64>, ReportError> {
    let err = |line: usize, message: String| ReportError::Supervisor {
        file: path.to_path_buf(),
        line,
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(0, format!("cannot read: {e}")))?;
    let mut out = BTreeMap::new();
    let check = |line: usize, id: &str, v: f64| -> Result<(), ReportError> {
        if id.is_empty() || id.len() > 128 {
            return Err(err(
                line,
                format!("agent id {id:?} must be 1 to 128 characters"),
            ));
        }
        if !(0.0..=100.0).contains(&v) {
            return Err(err(
                line,
                format!("score {v} for {id} is not between 0 and 100"),
            ));
        }
        Ok(())
    };
    if path.extension().is_some_and(|e| e == "toml") {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            scores: BTreeMap<String, f64>,
        }
        let f: File = toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start].matches('\n').count() + 1)
                .unwrap_or(0);
            err(line, e.message().to_owned())
        })?;
        for (id, v) in f.scores {
            check(0, &id, v)?;
            out.insert(id, v);
        }
        return Ok(out);
    }
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut cols = line.split(',').map(str::trim);
        let id = cols.next().unwrap_or_default();
        let score = cols.next().unwrap_or_default();
        match score.parse::<f64>() {
            Ok(v) => {
                check(n, id, v)?;
                out.insert(id.to_owned(), v);
            }
            Err(_) if out.is_empty() && n == 1 => continue, // a header
            Err(_) => return Err(err(n, format!("{score:?} is not a score"))),
        }
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::wire::job::{AgentWire, MetadataWire};
    use crate::wire::result::{
        DeductionWire, FatalWire, FlagWire, MetricsWire, SectionWire, VersionsWire,
    };

    /// A contact with only the essentials set; tests fill in the rest.
    pub fn contact(job: &str, kind: JobKind, score: f64, passed: bool) -> Contact {
        Contact {
            job_id: job.into(),
            agent_id: "A1".into(),
            agent_name: None,
            team: Some("T".into()),
            role: None,
            kind,
            language: Language::En,
            started: None,
            started_is_processed: false,
            score,
            passed,
            scoreable: true,
            unscoreable_reason: None,
            fatal: Vec::new(),
            flags: Vec::new(),
            dismissed: 0,
            first_response_s: None,
            avg_response_s: None,
            handle_time_s: 0.0,
            after_call_work_s: None,
            silence_share: None,
            csat: None,
            resolved: None,
            fcr: None,
            sentiment_change: None,
            predicted_csat: None,
        }
    }

    fn flag(id: FlagId, rule: &str, sev: Severity) -> FlagWire {
        FlagWire {
            id,
            rule: rule.into(),
            severity: sev,
            message: String::new(),
            evidence: Vec::new(),
        }
    }

    /// A result as the English default scorecard scores it: the greeting
    /// and closing missing (10 + 10 from script), three long silences
    /// (3 + 3 + 0: the item is capped at 6).
    fn result(scorecard: &str) -> ResultWire {
        let d = |item: &str, f: FlagId, rule: &str, points: f64, i: usize| DeductionWire {
            item: item.into(),
            flag: f,
            rule: rule.into(),
            points,
            flag_index: i,
        };
        let sec = |id: &str, weight: f64, deductions: Vec<DeductionWire>| SectionWire {
            id: id.into(),
            name: id.into(),
            weight,
            score: weight - deductions.iter().map(|d| d.points).sum::<f64>(),
            deductions,
        };
        ResultWire {
            job_id: "j1".into(),
            agent_id: "A1".into(),
            agent: AgentWire {
                id: "A1".into(),
                name: None,
                team: None,
                role: None,
            },
            kind: JobKind::Call,
            language: Language::En,
            channel: "phone".into(),
            started_at: Some("2026-11-02T10:00:00+08:00".into()),
            score: 74.0,
            passed: false,
            pass_score: 80.0,
            scoreable: true,
            unscoreable_reason: None,
            flags: vec![
                flag(FlagId::GreetingMissing, "greeting", Severity::Major),
                flag(FlagId::ClosingMissing, "closing", Severity::Minor),
                flag(FlagId::LongSilence, "long_silence", Severity::Minor),
                flag(FlagId::LongSilence, "long_silence", Severity::Minor),
                flag(FlagId::LongSilence, "long_silence", Severity::Minor),
            ],
            metrics: MetricsWire::default(),
            coaching: Vec::new(),
            sections: vec![
                sec(
                    "script",
                    20.0,
                    vec![
                        d("greeting", FlagId::GreetingMissing, "greeting", 10.0, 0),
                        d("closing", FlagId::ClosingMissing, "closing", 10.0, 1),
                    ],
                ),
                sec("attitude", 30.0, vec![]),
                sec("compliance", 30.0, vec![]),
                sec(
                    "timeliness",
                    20.0,
                    vec![
                        d("silence", FlagId::LongSilence, "long_silence", 3.0, 2),
                        d("silence", FlagId::LongSilence, "long_silence", 3.0, 3),
                        d("silence", FlagId::LongSilence, "long_silence", 0.0, 4),
                    ],
                ),
            ],
            fatal: Vec::new(),
            attribution: crate::domain::Attribution::Channels,
            recording: None,
            turns: Vec::new(),
            contact_reason: None,
            diagnostics: Vec::new(),
            metadata: MetadataWire::default(),
            versions: VersionsWire {
                scorecard: scorecard.into(),
                ..Default::default()
            },
            processed_at: "2026-11-02T03:00:00.000Z".into(),
        }
    }

    fn en_card() -> Scorecard {
        crate::rules::RulePack::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/en"))
            .expect("en pack")
            .scorecard
    }

    #[test]
    fn rescoring_table() {
        let card = en_card();
        let label = card.label();
        // (dismissed flag indices, with the scorecard?) → (score, passed)
        let cases: &[(&[usize], bool, f64, bool)] = &[
            // 0 (script) + 30 + 30 + 14 (timeliness: 20 − 6) = 74.
            (&[], true, 74.0, false),
            (&[0], true, 84.0, true),
            (&[0, 1], true, 94.0, true),
            // One of three silences dismissed: the cap still takes 6, so
            // the scorecard gives nothing back…
            (&[2], true, 74.0, false),
            // …while the stored deductions give back the 3 points that
            // silence cost (the fallback is approximate when an item was
            // capped, and says so in `rescored_without_scorecard`).
            (&[2], false, 77.0, false),
            (&[0, 1], false, 94.0, true),
            (&[9], true, 74.0, false), // out of range: ignored
        ];
        for (dis, with_card, score, passed) in cases {
            let r = result(if *with_card { &label } else { "other@0" });
            let d: BTreeSet<usize> = dis.iter().copied().collect();
            assert_eq!(
                rescore(&r, &d, Some(&card)),
                (*score, *passed),
                "{dis:?} card={with_card}"
            );
        }
        // A dismissed fatal hit no longer fails the result.
        let mut r = result("other@0");
        r.fatal = vec![FatalWire {
            item: "greeting".into(),
            flag_index: 0,
        }];
        r.score = 0.0;
        assert_eq!(rescore(&r, &BTreeSet::from([1]), None), (0.0, false));
        assert_eq!(rescore(&r, &BTreeSet::from([0, 1]), None), (94.0, true));
    }

    /// A minimal stored chat result for report tests.
    fn mini(
        job: &str,
        agent: &str,
        team: &str,
        started: &str,
        score: f64,
        flags: Vec<FlagWire>,
        customer: &str,
    ) -> ResultWire {
        let mut r = result("none");
        r.job_id = job.into();
        r.agent_id = agent.into();
        r.agent = AgentWire {
            id: agent.into(),
            name: Some(format!("{agent} name")),
            team: Some(team.into()),
            role: Some("after_sales".into()),
        };
        r.kind = JobKind::Chat;
        r.started_at = Some(started.into());
        r.score = score;
        r.passed = score >= 80.0;
        r.flags = flags;
        r.sections = Vec::new();
        r.metadata.customer_id = Some(customer.into());
        r
    }

    const QA_ONLY: &str = "[scheme]\nid = \"t\"\nversion = \"1\"\nutc_offset = \"+08:00\"\n[weights]\ncommon = 100\nrole = 0\n[common]\nqa_score = 100\n[grading]\nmin_pool = 1\n";

    #[test]
    fn build_grades_within_teams_and_filters_without_changing_grades() {
        let scheme = Scheme::parse(Path::new("t.toml"), QA_ONLY).unwrap();
        let tz = scheme.utc_offset;
        let period = Period::parse("2026-11", tz).unwrap();
        let g = |s: f64| {
            flag(
                FlagId::GreetingMissing,
                "greeting",
                if s > 0.0 {
                    Severity::Major
                } else {
                    Severity::Minor
                },
            )
        };
        let results = vec![
            mini(
                "a1",
                "A",
                "T1",
                "2026-11-02T09:00:00+08:00",
                90.0,
                vec![],
                "k1",
            ),
            mini(
                "a2",
                "A",
                "T1",
                "2026-11-28T09:00:00+08:00",
                80.0,
                vec![g(1.0)],
                "k2",
            ),
            mini(
                "b1",
                "B",
                "T1",
                "2026-11-03T09:00:00+08:00",
                70.0,
                vec![g(1.0)],
                "k3",
            ),
            mini(
                "c1",
                "C",
                "T1",
                "2026-11-03T10:00:00+08:00",
                60.0,
                vec![g(1.0), g(1.0)],
                "k4",
            ),
            mini(
                "d1",
                "D",
                "T2",
                "2026-11-04T09:00:00+08:00",
                50.0,
                vec![g(1.0)],
                "k5",
            ),
            // After the period, inside the FCR window: k2 came back, so
            // a2 was not resolved first time; this contact is not counted.
            mini(
                "x1",
                "B",
                "T1",
                "2026-12-02T09:00:00+08:00",
                10.0,
                vec![],
                "k2",
            ),
        ];
        let inputs = Inputs {
            results,
            dismissed: vec![("d1".into(), 0)],
            supervisor: BTreeMap::new(),
            plans: Vec::new(),
        };
        let opts = |team: Option<&'static str>, agent: Option<&'static str>| Options {
            scheme: &scheme,
            period: &period,
            team,
            agent,
            lang: None,
            packs: None,
        };
        let r = build(&inputs, &opts(None, None));
        let row =
            |r: &Report, id: &str| r.agents.iter().find(|a| a.agent_id == id).cloned().unwrap();
        let a = row(&r, "A");
        assert_eq!(a.kpis.contacts, 2, "x1 (December) is not in the period");
        assert_eq!(a.kpis.avg_score, Some(85.0));
        // A's trend: week 45 (2 Nov) and week 48 (28 Nov).
        let weeks: Vec<(&str, Option<f64>, Option<f64>)> = a
            .weeks
            .iter()
            .map(|w| (w.week.as_str(), w.avg_score, w.pass_rate))
            .collect();
        assert_eq!(
            weeks,
            [
                ("2026-W45", Some(90.0), Some(1.0)),
                ("2026-W48", Some(80.0), Some(1.0))
            ]
        );
        assert_eq!(
            a.kpis.fcr_rate,
            Some(0.5),
            "a2's customer came back on 2 December"
        );
        // Composite = mean QA score; T1 has three agents → A, B, C; T2 one → B.
        let grades: Vec<(String, Option<String>, Option<usize>)> = r
            .agents
            .iter()
            .map(|x| (x.agent_id.clone(), x.grade.clone(), x.rank))
            .collect();
        assert_eq!(
            grades,
            [
                ("A".to_owned(), Some("A".to_owned()), Some(1)),
                ("B".to_owned(), Some("B".to_owned()), Some(2)),
                ("C".to_owned(), Some("C".to_owned()), Some(3)),
                ("D".to_owned(), Some("B".to_owned()), Some(1)),
            ]
        );
        assert_eq!(row(&r, "A").bonus, Some(1.2));
        // D's only flag was dismissed: no violations, one dismissed flag.
        assert_eq!(row(&r, "D").kpis.violations, 0);
        assert_eq!(r.dismissed_flags, 1);
        assert_eq!(r.rescored_without_scorecard, 1);
        assert_eq!(r.overall.contacts, 5);
        assert_eq!(r.teams.len(), 2);
        assert_eq!(r.teams[0].grades.get("A"), Some(&1));
        let t1 = r.teams[0].avg_composite.unwrap();
        assert!(
            (t1 - 215.0 / 3.0).abs() < 1e-9,
            "(85 + 70 + 60) / 3, got {t1}"
        );
        // Trend: one point per day overall, and per team.
        let overall: Vec<(&str, usize, f64)> = r
            .trend
            .iter()
            .filter(|p| p.team.is_none())
            .map(|p| (p.date.as_str(), p.contacts, p.avg_score))
            .collect();
        assert_eq!(
            overall,
            [
                ("2026-11-02", 1, 90.0),
                ("2026-11-03", 2, 65.0),
                ("2026-11-04", 1, 50.0),
                ("2026-11-28", 1, 80.0)
            ]
        );

        // One agent: graded among their team as before, nothing else shown.
        let only_c = build(&inputs, &opts(None, Some("C")));
        assert_eq!(only_c.agents.len(), 1);
        assert_eq!(only_c.agents[0].grade.as_deref(), Some("C"));
        assert_eq!(only_c.teams.len(), 1);
        assert_eq!(only_c.overall.contacts, 4, "team T1's contacts");
        // One team.
        let t2 = build(&inputs, &opts(Some("T2"), None));
        assert_eq!(
            t2.agents
                .iter()
                .map(|a| a.agent_id.as_str())
                .collect::<Vec<_>>(),
            ["D"]
        );

        // Everyone in one ranking: 4 people → A, B, B, C.
        let all_scheme =
            Scheme::parse(Path::new("t.toml"), &format!("{QA_ONLY}within = \"all\"\n")).unwrap();
        let r = build(
            &inputs,
            &Options {
                scheme: &all_scheme,
                ..opts(None, None)
            },
        );
        let g: Vec<&str> = r
            .agents
            .iter()
            .map(|a| a.grade.as_deref().unwrap())
            .collect();
        assert_eq!(
            g,
            ["A", "B", "B", "C"],
            "sorted by team, then rank: A, B, C in T1; D in T2"
        );
        assert_eq!(row(&r, "C").grade.as_deref(), Some("B"));
        assert_eq!(row(&r, "D").grade.as_deref(), Some("C"));
    }

    /// Issue 12: an agent whose only contact leaked a card number had
    /// grade A; a silent recording scored 100 counted as a pass.
    #[test]
    fn fatal_items_reach_the_grade_and_unscoreable_contacts_are_listed() {
        let scheme =
            Scheme::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/evaluation.toml"))
                .unwrap();
        let qa = Scheme::parse(Path::new("t.toml"), QA_ONLY).unwrap();
        let period = Period::parse("2026-11", scheme.utc_offset).unwrap();
        let pii = flag(FlagId::PiiExposure, "pii", Severity::Critical);
        let day = |d: u32| format!("2026-11-{d:02}T09:00:00+08:00");
        let mut results = vec![
            // P: two good chats, one of them with a card number read out.
            mini("p1", "P", "T", &day(2), 95.0, vec![pii.clone()], "k1"),
            mini("p2", "P", "T", &day(3), 90.0, vec![], "k2"),
            // Q: a silent call scored 100 and two ordinary chats.
            mini("q1", "Q", "T", &day(2), 100.0, vec![], "k3"),
            mini("q2", "Q", "T", &day(3), 70.0, vec![], "k4"),
            mini("q3", "Q", "T", &day(4), 60.0, vec![], "k5"),
        ];
        results[2].kind = JobKind::Call;
        results[2].scoreable = false;
        results[2].passed = false;
        results[2].unscoreable_reason = Some("the recording holds no speech".into());
        let inputs = Inputs {
            results,
            ..Inputs::default()
        };
        for (s, note) in [(&scheme, "shipped scheme"), (&qa, "QA-only scheme")] {
            let r = build(
                &inputs,
                &Options {
                    scheme: s,
                    period: &period,
                    team: None,
                    agent: None,
                    lang: Some(Language::Zh),
                    packs: None,
                },
            );
            let p = r.agents.iter().find(|a| a.agent_id == "P").unwrap();
            assert_eq!(p.grade.as_deref(), Some("C"), "{note}");
            assert_eq!(p.bonus, Some(0.0), "{note}");
            assert_eq!(p.graded_by, grade::Basis::Fatal, "{note}");
            assert_eq!(
                p.grade_note.as_deref(),
                Some("一票否决：泄露客户信息 (p1)"),
                "{note}"
            );
            let q = r.agents.iter().find(|a| a.agent_id == "Q").unwrap();
            assert_eq!(q.kpis.unscoreable, 1);
            assert_eq!(
                q.kpis.avg_score,
                Some(65.0),
                "{note}: the silent call is not averaged"
            );
            assert_eq!(q.kpis.pass_rate, Some(0.0));
            assert_eq!(
                r.unscoreable,
                [UnscoreableNote {
                    job_id: "q1".into(),
                    agent_id: "Q".into(),
                    kind: JobKind::Call,
                    started: Some("2026-11-02 09:00".into()),
                    reason: "the recording holds no speech".into(),
                }]
            );
        }
        // Q's weeks: 2–4 November 2026 are all in ISO week 45; the silent
        // call is counted, not averaged.
        let r = build(
            &inputs,
            &Options {
                scheme: &qa,
                period: &period,
                team: None,
                agent: None,
                lang: Some(Language::En),
                packs: None,
            },
        );
        let q = r.agents.iter().find(|a| a.agent_id == "Q").unwrap();
        assert_eq!(q.weeks.len(), 1);
        assert_eq!(q.weeks[0].week, "2026-W45");
        assert_eq!((q.weeks[0].contacts, q.weeks[0].avg_score), (3, Some(65.0)));
        let p = r.agents.iter().find(|a| a.agent_id == "P").unwrap();
        assert_eq!(
            p.weeks[0].top_violation.as_deref(),
            Some("Personal data exposed")
        );
        // QA-only: P's QA items are 0 for the period, so the composite is 0.
        let r = build(
            &inputs,
            &Options {
                scheme: &qa,
                period: &period,
                team: None,
                agent: None,
                lang: None,
                packs: None,
            },
        );
        let p = r.agents.iter().find(|a| a.agent_id == "P").unwrap();
        assert_eq!(p.composite.total, Some(0.0));
        assert_eq!(
            p.kpis.avg_score,
            Some(92.5),
            "the KPI itself is what happened"
        );
        // Dismissing the PII flag gives P their grade back.
        let inputs = Inputs {
            dismissed: vec![("p1".into(), 0)],
            ..inputs
        };
        let r = build(
            &inputs,
            &Options {
                scheme: &qa,
                period: &period,
                team: None,
                agent: None,
                lang: None,
                packs: None,
            },
        );
        let p = r.agents.iter().find(|a| a.agent_id == "P").unwrap();
        assert_eq!(p.grade.as_deref(), Some("A"));
        assert!(p.fatal.is_empty());
    }

    #[test]
    fn supervisor_files() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("s.csv");
        std::fs::write(&csv, "agent_id,score,comment\nA1,90,good\n A2 , 75.5\n").unwrap();
        let m = read_supervisor_scores(&csv).unwrap();
        assert_eq!(m["A1"], 90.0);
        assert_eq!(m["A2"], 75.5);
        std::fs::write(&csv, "A1,90\nA2,120\n").unwrap();
        let e = read_supervisor_scores(&csv).unwrap_err().to_string();
        assert!(e.contains(":2:") && e.contains("120"), "{e}");
        let toml = dir.path().join("s.toml");
        std::fs::write(&toml, "[scores]\nA1 = 88\n").unwrap();
        assert_eq!(read_supervisor_scores(&toml).unwrap()["A1"], 88.0);
    }
}
