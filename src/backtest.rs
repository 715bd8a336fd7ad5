//! Back-testing a rule change (`callqa backtest`): the stored contacts of
//! a period are run again through the rules of the packs in use and
//! through an edited copy, and the two are compared per rule — which
//! contacts would gain or lose a flag — with the mean QA score and pass
//! rate under each. A QA lead sees what a new phrase would do before the
//! pack goes live.
//!
//! Both sides see the same input: the stored transcript (redacted, as
//! stored) and metadata, with the rule analysers only (no text models, no
//! speech timeline). Comparing against the edited pack's own baseline run,
//! not against the stored flags, means a difference comes from the edit
//! alone, not from what a re-run cannot see (sentiment, silences).
//!
//! Two callers: `callqa backtest` (an edited copy of the rules directory)
//! and the review server's `POST /api/packs/{lang}/backtest` (one
//! language's proposed files, before they are saved). Both read the
//! period's contacts with `contacts_of` and compare with `run`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::analyse::{self, Analyser, Subject};
use crate::domain::{Conversation, Flag, JobId, Medium, Metadata};
use crate::report::Period;
use crate::rules::{PackSet, RulePack};
use crate::store::{ResultFilter, Store, StoreError};
use crate::wire::job::JobKind;
use crate::wire::ResultWire;

/// What would change for one rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleChange {
    pub rule: String,
    pub flag: String,
    /// Contacts the rule flags now.
    pub before: usize,
    /// Contacts it would flag with the edited pack.
    pub after: usize,
    /// Job ids that would gain this rule's flag.
    pub gained: Vec<String>,
    /// Job ids that would lose it.
    pub lost: Vec<String>,
}

/// Mean QA score and pass rate over scoreable contacts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scores {
    pub avg_score: Option<f64>,
    pub pass_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backtest {
    pub contacts: usize,
    /// Contacts in a language neither pack covers.
    pub skipped: usize,
    /// Per rule, rules that change first; unchanged rules are listed too.
    pub rules: Vec<RuleChange>,
    pub before: Scores,
    pub after: Scores,
    /// `zh: pack@version → pack@version`, per language.
    pub packs: Vec<String>,
}

/// The stored contact as a conversation the analysers can read.
pub fn conversation_of(r: &ResultWire) -> (Conversation, Metadata) {
    let medium = match r.kind {
        JobKind::Chat => Medium::Chat,
        JobKind::Call => Medium::Call,
    };
    let mut conv = Conversation::from_turns(
        JobId::new(r.job_id.clone()),
        medium,
        r.language,
        Some(r.channel.clone()),
        r.turns
            .iter()
            .map(|t| (t.speaker, t.start, t.end, t.text.clone())),
        r.attribution,
    );
    let started = r
        .started_at
        .as_deref()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
    conv.started_at = started;
    let m = &r.metadata;
    // CSAT and fields no rule reads keep their defaults.
    let metadata = Metadata {
        channel: Some(r.channel.clone()),
        customer_id: m.customer_id.clone(),
        ticket_id: m.ticket_id.clone(),
        started_at: started,
        resolved: m.resolved,
        queue_wait_s: m.queue_wait_s,
        after_call_work_s: m.after_call_work_s,
        tags: m.tags.clone(),
        ..Metadata::default()
    };
    (conv, metadata)
}

/// The stored contacts a back-test of `period` runs over.
pub async fn contacts_of(store: &Store, period: &Period) -> Result<Vec<ResultWire>, StoreError> {
    store
        .results_between(&ResultFilter {
            since: Some(period.since_utc()),
            until: Some(period.until_utc()),
            ..Default::default()
        })
        .await
}

/// A pack with its rule analysers.
type Built<'a> = (&'a RulePack, Vec<Box<dyn Analyser>>);

/// Rule analysers per language of a pack set.
fn analysers(packs: &PackSet) -> BTreeMap<&'static str, Built<'_>> {
    packs
        .iter()
        .filter_map(|p| {
            analyse::build(p, None)
                .ok()
                .map(|a| (p.language.as_str(), (p, a)))
        })
        .collect()
}

fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Runs `results` through `current` and `edited` and compares them.
pub fn run(results: &[ResultWire], current: &PackSet, edited: &PackSet) -> Backtest {
    let old = analysers(current);
    let new = analysers(edited);
    // rule → (flag, job ids before, job ids after)
    let mut per_rule: BTreeMap<String, (String, BTreeSet<String>, BTreeSet<String>)> =
        BTreeMap::new();
    let (mut s_old, mut s_new, mut p_old, mut p_new) = (vec![], vec![], vec![], vec![]);
    let mut skipped = 0;
    for r in results {
        let lang = r.language.as_str();
        let (Some((po, ao)), Some((pn, an))) = (old.get(lang), new.get(lang)) else {
            skipped += 1;
            continue;
        };
        let (conv, metadata) = conversation_of(r);
        let subject = Subject {
            conv: &conv,
            metadata: &metadata,
            signals: None,
        };
        let before: Vec<Flag> = analyse::run(ao, &subject).flags;
        let after: Vec<Flag> = analyse::run(an, &subject).flags;
        for (flags, side) in [(&before, 0), (&after, 1)] {
            for f in flags {
                let e = per_rule
                    .entry(f.rule.as_str().to_owned())
                    .or_insert_with(|| {
                        (f.id.as_str().to_owned(), BTreeSet::new(), BTreeSet::new())
                    });
                if side == 0 {
                    e.1.insert(r.job_id.clone());
                } else {
                    e.2.insert(r.job_id.clone());
                }
            }
        }
        if r.scoreable {
            let (a, b) = (po.scorecard.apply(&before), pn.scorecard.apply(&after));
            s_old.push(a.score);
            s_new.push(b.score);
            p_old.push(f64::from(u8::from(a.passed)));
            p_new.push(f64::from(u8::from(b.passed)));
        }
    }
    let mut rules: Vec<RuleChange> = per_rule
        .into_iter()
        .map(|(rule, (flag, b, a))| RuleChange {
            before: b.len(),
            after: a.len(),
            gained: a.difference(&b).cloned().collect(),
            lost: b.difference(&a).cloned().collect(),
            rule,
            flag,
        })
        .collect();
    rules.sort_by_key(|c| (c.gained.is_empty() && c.lost.is_empty(), c.rule.clone()));
    let packs = edited
        .iter()
        .map(|p| {
            let was = current
                .get(p.language)
                .map(|c| c.label())
                .unwrap_or_else(|| "none".into());
            format!("{}: {was} → {}", p.language, p.label())
        })
        .collect();
    Backtest {
        contacts: results.len() - skipped,
        skipped,
        rules,
        before: Scores {
            avg_score: mean(&s_old),
            pass_rate: mean(&p_old),
        },
        after: Scores {
            avg_score: mean(&s_new),
            pass_rate: mean(&p_new),
        },
        packs,
    }
}
