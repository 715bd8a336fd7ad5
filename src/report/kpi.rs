//! KPI maths over a group of contacts (one agent's, or a team's): averages,
//! rates and counts, plus first-contact resolution across contacts. Pure
//! functions of `Contact`s; table-tested on hand-checked data below.
//!
//! Definitions (docs/evaluation.md repeats them):
//! - a *violation* is a counted (not dismissed) flag of the agent's own
//!   doing: not a customer-risk signal (anger, complaint, churn) and not of
//!   `info` severity;
//! - the *complaint rate* is the share of contacts with a counted
//!   `complaint_threat` flag;
//! - averages skip contacts where the value does not apply (response times
//!   for calls, silence for chats, CSAT where no survey was answered): a
//!   missing value is never counted as zero;
//! - CSAT is put on a 5-point scale (`score × 5 / scale`);
//! - AHT is handle time plus after-call work (0 where none is recorded).

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use super::{opt_round, round_to, Contact};
use crate::domain::FlagId;
use crate::wire::job::JobKind;

/// Flags that belong to the script (greeting, closing, required items).
pub const SCRIPT_FLAGS: [FlagId; 3] = [
    FlagId::GreetingMissing,
    FlagId::ClosingMissing,
    FlagId::ScriptMissing,
];

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Kpis {
    pub contacts: usize,
    pub chats: usize,
    pub calls: usize,
    /// Mean QA score (0–100) after dismissed flags are taken out.
    #[serde(serialize_with = "opt_round::<2, _>")]
    pub avg_score: Option<f64>,
    /// Contacts that could not be scored (silent or garbled recordings):
    /// left out of `avg_score` and `pass_rate`.
    pub unscoreable: usize,
    /// Share of scoreable contacts that passed QA (质检合格率), 0–1.
    #[serde(serialize_with = "opt_round::<4, _>")]
    pub pass_rate: Option<f64>,
    pub violations: usize,
    /// Contacts with at least one violation.
    pub violation_contacts: usize,
    pub violations_by_flag: BTreeMap<String, usize>,
    pub violations_by_rule: BTreeMap<String, usize>,
    /// Per rule: contacts in which it raised a violation at least once.
    pub contacts_by_rule: BTreeMap<String, usize>,
    /// Contacts with no script flag (greeting, closing, required items).
    pub script_compliant: usize,
    pub complaints: usize,
    #[serde(serialize_with = "opt_round::<4, _>")]
    pub complaint_rate: Option<f64>,
    /// Chats: mean seconds to the agent's first reply.
    #[serde(serialize_with = "opt_round::<1, _>")]
    pub first_response_chat_s: Option<f64>,
    /// Calls: mean queue wait before an agent answered.
    #[serde(serialize_with = "opt_round::<1, _>")]
    pub first_response_call_s: Option<f64>,
    /// Chats: mean of each chat's average response time (ART).
    #[serde(serialize_with = "opt_round::<1, _>")]
    pub avg_response_s: Option<f64>,
    #[serde(serialize_with = "opt_round::<1, _>")]
    pub handle_time_s: Option<f64>,
    /// Mean after-call work over contacts where it was recorded.
    #[serde(serialize_with = "opt_round::<1, _>")]
    pub after_call_work_s: Option<f64>,
    /// Mean of handle time + after-call work (AHT).
    #[serde(serialize_with = "opt_round::<1, _>")]
    pub aht_s: Option<f64>,
    /// Calls: mean share of the recording in silence, 0–1.
    #[serde(serialize_with = "opt_round::<4, _>")]
    pub silence_share: Option<f64>,
    /// Mean CSAT on a 5-point scale, over answered surveys only.
    #[serde(serialize_with = "opt_round::<2, _>")]
    pub csat: Option<f64>,
    pub csat_responses: usize,
    /// Mean predicted satisfaction (1–5, the text models' estimate from
    /// the conversation; every analysed contact has one, surveyed or not).
    #[serde(serialize_with = "opt_round::<2, _>")]
    pub predicted_csat: Option<f64>,
    /// First-contact resolution rate, 0–1, over contacts with a customer id.
    #[serde(serialize_with = "opt_round::<4, _>")]
    pub fcr_rate: Option<f64>,
    pub fcr_contacts: usize,
    /// Share of contacts the CRM marked resolved, over those it marked.
    #[serde(serialize_with = "opt_round::<4, _>")]
    pub resolution_rate: Option<f64>,
    pub resolution_known: usize,
    /// Mean change of customer valence (end − start, −2…2).
    #[serde(serialize_with = "opt_round::<3, _>")]
    pub sentiment_change: Option<f64>,
}

/// The mean of the values present; `None` if there are none.
pub fn mean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values
        .into_iter()
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

fn rate(k: usize, n: usize) -> Option<f64> {
    (n > 0).then(|| k as f64 / n as f64)
}

impl Kpis {
    /// Every KPI of a group of contacts.
    pub fn of<'a>(contacts: impl IntoIterator<Item = &'a Contact> + Clone) -> Kpis {
        let all: Vec<&Contact> = contacts.into_iter().collect();
        let n = all.len();
        // A silent or garbled recording has no fair score: it is counted
        // and listed, but not averaged.
        let scored: Vec<&Contact> = all.iter().copied().filter(|c| c.scoreable).collect();
        let mut k = Kpis {
            contacts: n,
            chats: all.iter().filter(|c| c.kind == JobKind::Chat).count(),
            calls: all.iter().filter(|c| c.kind == JobKind::Call).count(),
            avg_score: mean(scored.iter().map(|c| c.score)),
            pass_rate: rate(scored.iter().filter(|c| c.passed).count(), scored.len()),
            unscoreable: n - scored.len(),
            ..Kpis::default()
        };
        // Flags of an unscoreable contact are not a fair finding either (a
        // greeting "missing" from a silent recording): left out too.
        for c in &scored {
            let mut rules_here: Vec<&str> = Vec::new();
            for f in c.flags.iter().filter(|f| f.is_violation()) {
                k.violations += 1;
                *k.violations_by_flag
                    .entry(f.id.as_str().to_owned())
                    .or_default() += 1;
                *k.violations_by_rule.entry(f.rule.clone()).or_default() += 1;
                if !rules_here.contains(&f.rule.as_str()) {
                    rules_here.push(&f.rule);
                }
            }
            for r in rules_here {
                *k.contacts_by_rule.entry(r.to_owned()).or_default() += 1;
            }
            if c.flags.iter().any(|f| f.is_violation()) {
                k.violation_contacts += 1;
            }
            if !c.flags.iter().any(|f| SCRIPT_FLAGS.contains(&f.id)) {
                k.script_compliant += 1;
            }
            if c.flags.iter().any(|f| f.id == FlagId::ComplaintThreat) {
                k.complaints += 1;
            }
        }
        k.complaint_rate = rate(k.complaints, scored.len());
        let chats = || all.iter().filter(|c| c.kind == JobKind::Chat);
        let calls = || all.iter().filter(|c| c.kind == JobKind::Call);
        k.first_response_chat_s = mean(chats().filter_map(|c| c.first_response_s));
        k.first_response_call_s = mean(calls().filter_map(|c| c.first_response_s));
        k.avg_response_s = mean(chats().filter_map(|c| c.avg_response_s));
        k.handle_time_s = mean(all.iter().map(|c| c.handle_time_s));
        k.after_call_work_s = mean(all.iter().filter_map(|c| c.after_call_work_s));
        k.aht_s = mean(all.iter().map(|c| c.aht_s()));
        k.silence_share = mean(calls().filter_map(|c| c.silence_share));
        let csat: Vec<f64> = all.iter().filter_map(|c| c.csat5()).collect();
        k.csat_responses = csat.len();
        k.csat = mean(csat);
        k.predicted_csat = mean(all.iter().filter_map(|c| c.predicted_csat));
        let fcr: Vec<bool> = all.iter().filter_map(|c| c.fcr).collect();
        k.fcr_contacts = fcr.len();
        k.fcr_rate = rate(fcr.iter().filter(|x| **x).count(), fcr.len());
        let resolved: Vec<bool> = all.iter().filter_map(|c| c.resolved).collect();
        k.resolution_known = resolved.len();
        k.resolution_rate = rate(resolved.iter().filter(|x| **x).count(), resolved.len());
        k.sentiment_change = mean(all.iter().filter_map(|c| c.sentiment_change));
        k
    }

    /// Contacts that could be scored: the base of QA figures and grades.
    pub fn scoreable(&self) -> usize {
        self.contacts - self.unscoreable
    }

    /// Violations per contact, for tables.
    pub fn violations_per_contact(&self) -> Option<f64> {
        let n = self.scoreable();
        (n > 0).then(|| round_to::<3>(self.violations as f64 / n as f64))
    }
}

/// What first-contact resolution needs to know of one contact.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactKey<'a> {
    pub job_id: &'a str,
    pub customer_id: Option<&'a str>,
    pub started: Option<DateTime<FixedOffset>>,
    pub resolved: Option<bool>,
}

/// First-contact resolution of each contact, in input order: `None` where
/// it cannot be told (no customer id or no start time); `Some(false)` when
/// the CRM says unresolved, or when the same customer comes back — a later
/// contact (by start time, then job id) within `window_days` days,
/// inclusive; otherwise `Some(true)`. Pass every contact that could be a
/// return visit, including those after the period.
pub fn first_contact_resolution(
    contacts: &[ContactKey<'_>],
    window_days: f64,
) -> Vec<Option<bool>> {
    let window = chrono::Duration::milliseconds((window_days * 86_400_000.0).round() as i64);
    let mut by_customer: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, c) in contacts.iter().enumerate() {
        if let (Some(cust), Some(_)) = (c.customer_id, c.started) {
            by_customer.entry(cust).or_default().push(i);
        }
    }
    let mut out = vec![None; contacts.len()];
    for idxs in by_customer.values_mut() {
        idxs.sort_by(|&a, &b| {
            (contacts[a].started, contacts[a].job_id)
                .cmp(&(contacts[b].started, contacts[b].job_id))
        });
        for (pos, &i) in idxs.iter().enumerate() {
            let (Some(t), resolved) = (contacts[i].started, contacts[i].resolved) else {
                continue;
            };
            let came_back = idxs
                .get(pos + 1)
                .and_then(|&j| contacts[j].started)
                .is_some_and(|t2| t2 - t <= window);
            out[i] = Some(resolved != Some(false) && !came_back);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Csat, Severity};
    use crate::report::tests::contact;
    use crate::report::CountedFlag;

    fn flag(id: FlagId, rule: &str, severity: Severity) -> CountedFlag {
        CountedFlag::bare(id, rule, severity)
    }

    #[test]
    fn kpis_of_hand_checked_contacts() {
        // Three chats and one call, values chosen to check by hand.
        let mut a = contact("a", JobKind::Chat, 90.0, true);
        a.first_response_s = Some(10.0);
        a.avg_response_s = Some(60.0);
        a.handle_time_s = 300.0;
        a.csat = Some(Csat {
            score: 5.0,
            scale: 5.0,
        });
        a.resolved = Some(true);
        a.fcr = Some(true);
        a.sentiment_change = Some(0.5);
        let mut b = contact("b", JobKind::Chat, 70.0, false);
        b.first_response_s = Some(50.0);
        b.avg_response_s = Some(180.0);
        b.handle_time_s = 600.0;
        b.after_call_work_s = Some(60.0);
        b.csat = Some(Csat {
            score: 6.0,
            scale: 10.0,
        });
        b.resolved = Some(false);
        b.fcr = Some(false);
        b.sentiment_change = Some(-0.5);
        b.flags = vec![
            flag(FlagId::GreetingMissing, "greeting", Severity::Major),
            flag(FlagId::ForbiddenPhrase, "buck_passing", Severity::Major),
            flag(FlagId::ForbiddenPhrase, "buck_passing", Severity::Major),
            flag(FlagId::ComplaintThreat, "complaint_threat", Severity::Major),
        ];
        let mut c = contact("c", JobKind::Chat, 80.0, true);
        c.handle_time_s = 120.0;
        // No CSAT, no FCR, no response times: all left out, not zero.
        c.flags = vec![flag(FlagId::ChurnRisk, "churn_risk", Severity::Minor)];
        let mut d = contact("d", JobKind::Call, 100.0, true);
        d.first_response_s = Some(15.0);
        d.handle_time_s = 240.0;
        d.silence_share = Some(0.2);
        d.fcr = Some(true);
        d.flags = vec![flag(FlagId::LongSilence, "long_silence", Severity::Info)];

        let k = Kpis::of([&a, &b, &c, &d]);
        assert_eq!((k.contacts, k.chats, k.calls), (4, 3, 1));
        assert_eq!(k.avg_score, Some(85.0)); // (90+70+80+100)/4
        assert_eq!(k.pass_rate, Some(0.75));
        // greeting + 2× buck_passing; complaint/churn are customer risk,
        // the info-level silence flag is not a violation.
        assert_eq!(k.violations, 3);
        assert_eq!(k.violation_contacts, 1);
        assert_eq!(k.violations_by_flag["forbidden_phrase"], 2);
        assert_eq!(k.violations_by_rule["greeting"], 1);
        assert_eq!(k.contacts_by_rule["buck_passing"], 1);
        assert_eq!(k.script_compliant, 3);
        assert_eq!((k.complaints, k.complaint_rate), (1, Some(0.25)));
        assert_eq!(k.first_response_chat_s, Some(30.0)); // (10+50)/2
        assert_eq!(k.first_response_call_s, Some(15.0));
        assert_eq!(k.avg_response_s, Some(120.0)); // (60+180)/2
        assert_eq!(k.handle_time_s, Some(315.0)); // (300+600+120+240)/4
        assert_eq!(k.after_call_work_s, Some(60.0));
        assert_eq!(k.aht_s, Some(330.0)); // (300+660+120+240)/4
        assert_eq!(k.silence_share, Some(0.2));
        // 5/5 and 6/10 (= 3/5): mean 4.0 over the 2 answered surveys.
        assert_eq!((k.csat, k.csat_responses), (Some(4.0), 2));
        assert_eq!(k.fcr_contacts, 3);
        assert!((k.fcr_rate.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!((k.resolution_rate, k.resolution_known), (Some(0.5), 2));
        assert_eq!(k.sentiment_change, Some(0.0));
        assert_eq!(k.violations_per_contact(), Some(0.75));
    }

    /// A silent recording scored 100 must not lift the average or the
    /// pass rate: it is counted as unscoreable instead.
    #[test]
    fn unscoreable_contacts_are_counted_not_averaged() {
        let a = contact("a", JobKind::Call, 60.0, false);
        let mut silent = contact("s", JobKind::Call, 100.0, true);
        silent.scoreable = false;
        let k = Kpis::of([&a, &silent]);
        assert_eq!(k.contacts, 2);
        assert_eq!(k.unscoreable, 1);
        assert_eq!(k.avg_score, Some(60.0));
        assert_eq!(k.pass_rate, Some(0.0));
        let k = Kpis::of([&silent]);
        assert_eq!((k.avg_score, k.pass_rate), (None, None));
    }

    #[test]
    fn no_contacts_means_no_values_not_zeros() {
        let k = Kpis::of(std::iter::empty::<&Contact>());
        assert_eq!(k.contacts, 0);
        assert_eq!(k.avg_score, None);
        assert_eq!(k.pass_rate, None);
        assert_eq!(k.csat, None);
        assert_eq!(k.violations_per_contact(), None);
    }

    fn t(s: &str) -> Option<DateTime<FixedOffset>> {
        Some(DateTime::parse_from_rfc3339(s).unwrap())
    }

    #[test]
    fn first_contact_resolution_table() {
        // (job, customer, start, resolved) → expected FCR, window 7 days.
        // (job, customer, start, resolved, expected FCR)
        type Case = (
            &'static str,
            Option<&'static str>,
            &'static str,
            Option<bool>,
            Option<bool>,
        );
        let cases: &[Case] = &[
            // c1 comes back after 3 days: the first contact is not FCR,
            // the second is (nothing after it).
            (
                "j1",
                Some("c1"),
                "2026-11-01T10:00:00+08:00",
                Some(true),
                Some(false),
            ),
            (
                "j2",
                Some("c1"),
                "2026-11-04T10:00:00+08:00",
                Some(true),
                Some(true),
            ),
            // c2 comes back exactly 7 days later (inclusive) and then
            // after 7 days and a second: only the last two are apart enough.
            ("j3", Some("c2"), "2026-11-01T00:00:00Z", None, Some(false)),
            ("j4", Some("c2"), "2026-11-08T00:00:00Z", None, Some(true)),
            ("j5", Some("c2"), "2026-11-15T00:00:01Z", None, Some(true)),
            // Marked unresolved by the CRM: never FCR.
            (
                "j6",
                Some("c3"),
                "2026-11-02T00:00:00Z",
                Some(false),
                Some(false),
            ),
            // No customer id or no time: cannot be told.
            ("j7", None, "2026-11-02T00:00:00Z", Some(true), None),
            ("j8", Some("c4"), "", Some(true), None),
            // Same customer, same second: the later job id (not the later
            // line) is the return visit.
            ("j9b", Some("c5"), "2026-11-03T00:00:00Z", None, Some(true)),
            ("j9a", Some("c5"), "2026-11-03T00:00:00Z", None, Some(false)),
        ];
        let keys: Vec<ContactKey> = cases
            .iter()
            .map(|(j, c, s, r, _)| ContactKey {
                job_id: j,
                customer_id: *c,
                started: if s.is_empty() { None } else { t(s) },
                resolved: *r,
            })
            .collect();
        let got = first_contact_resolution(&keys, 7.0);
        for (case, got) in cases.iter().zip(got) {
            assert_eq!(got, case.4, "{}", case.0);
        }
    }
}
