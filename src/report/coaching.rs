//! Coaching per agent: the rules that keep firing in the agent's contacts
//! (recurring weaknesses), each compared with the team, with examples of
//! evidence a coach can open (job, speaker, time, text) and the rule pack's
//! concrete suggestion, in the agent's language.
//!
//! A weakness is a rule that raised a violation in at least
//! `min_contacts` of the agent's (scoreable) contacts, or a critical or
//! major violation even once: a single rude reply or leaked card number
//! must reach the agent with its evidence and the fix. Critical and major
//! ones come first and are all shown; the others are ordered by how much
//! more often than in the team (agent rate − team rate), then by count,
//! up to `max_items` in all.
//! The team figure is the team's rate over all its contacts (the agent
//! included) scaled to the agent's number of contacts, so both numbers in
//! "in 7 of 40 contacts; team average 3 of 40" share a denominator.

use serde::Serialize;

use super::kpi::Kpis;
use super::labels::weakness_line;
use super::scheme::CoachingOptions;
use super::{round_to, Contact, CountedFlag};
use crate::domain::{FlagId, Language, Severity, Speaker};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Example {
    pub job_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speaker: Option<Speaker>,
    /// Seconds from the start of the conversation.
    pub start: f64,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Weakness {
    pub rule: String,
    pub flag: FlagId,
    /// The most severe of the rule's violations in the agent's contacts.
    pub severity: Severity,
    pub label: String,
    /// Agent contacts in which the rule fired, of all the agent's contacts.
    pub contacts: usize,
    pub of: usize,
    /// The team's rate scaled to the agent's contacts.
    pub team_equivalent: f64,
    pub team_rate: f64,
    pub summary: String,
    pub suggestion: String,
    pub examples: Vec<Example>,
}

/// What the rule pack says about a rule, in one language.
pub struct RuleText {
    pub label: String,
    pub suggestion: Option<String>,
}

/// The recurring weaknesses of one agent. `text` names a rule and gives
/// its coaching in `lang` (from the rule pack); a result's own coaching
/// entry is the fallback suggestion.
pub fn weaknesses(
    agent: &[&Contact],
    agent_kpis: &Kpis,
    team: &Kpis,
    lang: Language,
    opts: &CoachingOptions,
    text: &dyn Fn(&str, FlagId) -> RuleText,
) -> Vec<Weakness> {
    // Violations are counted over scoreable contacts (see `Kpis::of`).
    let n = agent_kpis.scoreable();
    if n == 0 {
        return Vec::new();
    }
    let mut out: Vec<(f64, Weakness)> = Vec::new();
    for (rule, &k) in &agent_kpis.contacts_by_rule {
        let hits = violations_of(agent, rule);
        let Some(&(_, first)) = hits.first() else {
            continue;
        };
        let severity = hits
            .iter()
            .map(|(_, f)| f.severity)
            .max()
            .unwrap_or(Severity::Info);
        if k < opts.min_contacts.max(1) && severity < Severity::Major {
            continue;
        }
        let team_n = team.scoreable();
        let team_k = team.contacts_by_rule.get(rule).copied().unwrap_or(0);
        let team_rate = if team_n > 0 {
            team_k as f64 / team_n as f64
        } else {
            0.0
        };
        let t = text(rule, first.id);
        let suggestion = t
            .suggestion
            .or_else(|| hits.iter().find_map(|(_, f)| f.coaching.clone()))
            .unwrap_or_default();
        let team_eq = team_rate * n as f64;
        let excess = k as f64 / n as f64 - team_rate;
        out.push((
            excess,
            Weakness {
                rule: rule.clone(),
                flag: first.id,
                severity,
                summary: weakness_line(lang, &t.label, k, n, team_eq),
                label: t.label,
                contacts: k,
                of: n,
                team_equivalent: round_to::<1>(team_eq),
                team_rate: round_to::<4>(team_rate),
                suggestion,
                examples: examples(&hits, opts.examples),
            },
        ));
    }
    worst_first(out, opts.max_items)
}

/// The violations of `rule` in the agent's scoreable contacts.
fn violations_of<'a>(agent: &[&'a Contact], rule: &str) -> Vec<(&'a Contact, &'a CountedFlag)> {
    agent
        .iter()
        .filter(|c| c.scoreable)
        .flat_map(|c| {
            c.flags
                .iter()
                .filter(|f| f.is_violation() && f.rule == rule)
                .map(move |f| (*c, f))
        })
        .collect()
}

/// Up to `max` pieces of evidence, one per conversation: they show the
/// pattern, not one call.
fn examples(hits: &[(&Contact, &CountedFlag)], max: usize) -> Vec<Example> {
    let mut examples = Vec::new();
    let mut seen_jobs = Vec::new();
    for (c, f) in hits {
        if examples.len() >= max {
            break;
        }
        if seen_jobs.contains(&c.job_id.as_str()) {
            continue;
        }
        if let Some(e) = &f.evidence {
            seen_jobs.push(c.job_id.as_str());
            examples.push(Example {
                job_id: c.job_id.clone(),
                speaker: e.speaker,
                start: e.start,
                text: e.text.chars().take(200).collect(),
            });
        }
    }
    examples
}

/// Critical and major weaknesses first, all of them; then the others by
/// excess over the team (the `f64`), by count, up to `max_items` in all.
fn worst_first(mut out: Vec<(f64, Weakness)>, max_items: usize) -> Vec<Weakness> {
    let severe = |w: &Weakness| w.severity >= Severity::Major;
    out.sort_by(|(ea, a), (eb, b)| {
        severe(b)
            .cmp(&severe(a))
            .then(eb.total_cmp(ea))
            .then(b.contacts.cmp(&a.contacts))
            .then(a.rule.cmp(&b.rule))
    });
    let keep = out.iter().filter(|(_, w)| severe(w)).count().max(max_items);
    out.into_iter().take(keep).map(|(_, w)| w).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Severity;
    use crate::report::tests::contact;
    use crate::report::CountedFlag;
    use crate::wire::job::JobKind;
    use crate::wire::result::EvidenceWire;

    fn greeting(job: &str) -> CountedFlag {
        let mut f = CountedFlag::bare(FlagId::GreetingMissing, "greeting", Severity::Major);
        f.evidence = Some(EvidenceWire {
            speaker: Some(Speaker::Agent),
            start: 1.5,
            end: 3.0,
            text: format!("{job}: what do you want"),
            turn: Some(0),
            highlight: None,
            similarity: None,
        });
        f.coaching = Some("from the result".into());
        f
    }

    #[test]
    fn greeting_missing_in_7_of_40_compared_with_the_team() {
        // The agent: 40 contacts, greeting missing in 7, buck-passing once
        // (below min_contacts = 2, but major), closing missing in 2.
        let mut agent: Vec<Contact> = (0..40)
            .map(|i| contact(&format!("a{i:02}"), JobKind::Chat, 80.0, true))
            .collect();
        for c in agent.iter_mut().take(7) {
            let f = greeting(&c.job_id);
            c.flags.push(f);
        }
        agent[10].flags.push(CountedFlag::bare(
            FlagId::ForbiddenPhrase,
            "buck_passing",
            Severity::Major,
        ));
        for i in [20, 21] {
            agent[i].flags.push(CountedFlag::bare(
                FlagId::ClosingMissing,
                "closing",
                Severity::Minor,
            ));
        }
        // The team: the agent plus 80 other contacts with no greeting flag
        // and 4 closing flags → greeting 7/120, closing 6/120.
        let mut others: Vec<Contact> = (0..80)
            .map(|i| contact(&format!("b{i:02}"), JobKind::Chat, 80.0, true))
            .collect();
        for c in others.iter_mut().take(4) {
            c.flags.push(CountedFlag::bare(
                FlagId::ClosingMissing,
                "closing",
                Severity::Minor,
            ));
        }
        let a: Vec<&Contact> = agent.iter().collect();
        let team: Vec<&Contact> = agent.iter().chain(others.iter()).collect();
        let ak = Kpis::of(a.iter().copied());
        let tk = Kpis::of(team.iter().copied());
        let text = |rule: &str, _f: FlagId| RuleText {
            label: match rule {
                "greeting" => "Greeting missing".into(),
                other => other.into(),
            },
            suggestion: (rule == "closing").then(|| "Offer more help, then thank".to_owned()),
        };
        let w = weaknesses(
            &a,
            &ak,
            &tk,
            Language::En,
            &CoachingOptions::default(),
            &text,
        );
        let rules: Vec<&str> = w.iter().map(|x| x.rule.as_str()).collect();
        // Major first: greeting 7/40 vs 7/120 (excess 0.117), then
        // buck_passing, once but major (1/40 vs 1/120); then the minor
        // closing 2/40 vs 6/120 (excess 0).
        assert_eq!(rules, ["greeting", "buck_passing", "closing"]);
        assert_eq!(w[1].severity, Severity::Major);
        // A minor rule seen once is not shown.
        let mut once = agent.clone();
        once[20].flags.clear();
        let a1: Vec<&Contact> = once.iter().collect();
        let w1 = weaknesses(
            &a1,
            &Kpis::of(a1.iter().copied()),
            &tk,
            Language::En,
            &CoachingOptions::default(),
            &text,
        );
        let rules: Vec<&str> = w1.iter().map(|x| x.rule.as_str()).collect();
        assert_eq!(rules, ["greeting", "buck_passing"]);
        let g = &w[0];
        assert_eq!((g.contacts, g.of), (7, 40));
        assert_eq!(g.team_equivalent, 2.3); // 7/120 × 40 = 2.33
        assert_eq!(
            g.summary,
            "Greeting missing in 7 of 40 contacts; team average 2.3 of 40"
        );
        // The pack had no suggestion for greeting: the result's is used.
        assert_eq!(g.suggestion, "from the result");
        assert_eq!(w[2].suggestion, "Offer more help, then thank");
        // Two examples, from two different conversations, with evidence.
        assert_eq!(g.examples.len(), 2);
        assert_eq!(g.examples[0].job_id, "a00");
        assert_eq!(g.examples[1].job_id, "a01");
        assert_eq!(g.examples[0].speaker, Some(Speaker::Agent));
        assert_eq!(g.examples[0].start, 1.5);
        assert!(g.examples[0].text.contains("what do you want"));
    }

    /// Issue 12: an agent whose one critical rudeness flag read "no
    /// recurring weaknesses". Every critical or major flag reaches them,
    /// with its evidence and the fix, beyond `max_items` if need be.
    #[test]
    fn a_single_critical_flag_is_coached_with_evidence_and_fix() {
        let mut c = contact("r1", JobKind::Chat, 60.0, false);
        let mut rude = greeting("r1");
        rude.id = FlagId::ForbiddenPhrase;
        rude.rule = "rudeness".into();
        rude.severity = Severity::Critical;
        c.flags.push(rude);
        let cs = [&c];
        let k = Kpis::of(cs);
        let text = |_: &str, _: FlagId| RuleText {
            label: "服务禁语 (不礼貌用语)".into(),
            suggestion: Some("使用礼貌用语".into()),
        };
        let opts = CoachingOptions {
            max_items: 0,
            ..CoachingOptions::default()
        };
        let w = weaknesses(&cs, &k, &k, Language::Zh, &opts, &text);
        assert_eq!(w.len(), 1);
        assert_eq!(
            w[0].summary,
            "服务禁语 (不礼貌用语)：1 通中有 1 通；班组平均 1 通中 1 通"
        );
        assert_eq!(w[0].suggestion, "使用礼貌用语");
        assert_eq!(w[0].examples[0].job_id, "r1");
    }
}
