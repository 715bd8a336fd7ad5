//! Agreement between two raters (two reviewers, or a reviewer and the
//! machine) who each said, for the same contacts, whether a rule was
//! broken: percent agreement and Cohen's kappa, which discounts the
//! agreement expected by chance from each rater's own rate of "yes".
//!
//! κ = (pₒ − pₑ) / (1 − pₑ), pₑ = p₁·p₂ + (1 − p₁)(1 − p₂), where p₁, p₂
//! are the raters' shares of "yes". When both raters say the same thing
//! for every contact pₑ = 1 and κ is undefined (`None`): there was
//! nothing to disagree about.

use std::collections::BTreeMap;

/// Agreement of two raters over the same items.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Agreement {
    /// Items both rated.
    pub items: usize,
    /// Items they rated the same.
    pub agreed: usize,
    /// `agreed / items`; `None` with no items.
    pub percent: Option<f64>,
    pub kappa: Option<f64>,
}

/// Agreement over pairs of verdicts `(rater 1, rater 2)`, `true` meaning
/// "the rule was broken".
pub fn agreement(pairs: &[(bool, bool)]) -> Agreement {
    let n = pairs.len();
    if n == 0 {
        return Agreement {
            items: 0,
            agreed: 0,
            percent: None,
            kappa: None,
        };
    }
    let agreed = pairs.iter().filter(|(a, b)| a == b).count();
    let nf = n as f64;
    let po = agreed as f64 / nf;
    let p1 = pairs.iter().filter(|(a, _)| *a).count() as f64 / nf;
    let p2 = pairs.iter().filter(|(_, b)| *b).count() as f64 / nf;
    let pe = p1 * p2 + (1.0 - p1) * (1.0 - p2);
    let kappa = ((1.0 - pe).abs() > 1e-12).then(|| (po - pe) / (1.0 - pe));
    Agreement {
        items: n,
        agreed,
        percent: Some(po),
        kappa,
    }
}

/// Agreement per rule: `verdicts` maps a rule to its pairs.
pub fn per_rule<K: Ord + Clone>(
    verdicts: &BTreeMap<K, Vec<(bool, bool)>>,
) -> BTreeMap<K, Agreement> {
    verdicts
        .iter()
        .map(|(k, pairs)| (k.clone(), agreement(pairs)))
        .collect()
}

/// One reviewer's verdict in a calibration session: did `rule` fire on
/// `job`?
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub job_id: String,
    pub rule: String,
    pub reviewer: String,
    pub violated: bool,
}

/// A session's figures for one rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleFigures {
    pub rule: String,
    /// Every pair of reviewers who judged the same contact, pooled.
    pub between_reviewers: Agreement,
    /// Each reviewer's verdict against the machine (a flag of the rule on
    /// the contact, or not).
    pub with_machine: Agreement,
    /// Contacts where the verdicts (the machine's included) differ.
    pub disagreements: Vec<Disagreement>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Disagreement {
    pub job_id: String,
    pub machine: bool,
    /// `(reviewer, violated)`, by reviewer name.
    pub verdicts: Vec<(String, bool)>,
}

/// Per rule: agreement between reviewers and with the machine, and the
/// contacts to discuss. `flagged` holds `(job id, rule)` where the
/// machine raised the rule's flag.
pub fn session(
    verdicts: &[Verdict],
    flagged: &std::collections::BTreeSet<(String, String)>,
) -> Vec<RuleFigures> {
    let mut by_item: BTreeMap<(&str, &str), BTreeMap<&str, bool>> = BTreeMap::new();
    for v in verdicts {
        by_item
            .entry((v.rule.as_str(), v.job_id.as_str()))
            .or_default()
            .insert(v.reviewer.as_str(), v.violated);
    }
    // rule → (reviewer pairs, reviewer–machine pairs, disagreements)
    type Pooled = (Vec<(bool, bool)>, Vec<(bool, bool)>, Vec<Disagreement>);
    let mut rules: BTreeMap<&str, Pooled> = BTreeMap::new();
    for ((rule, job), who) in &by_item {
        let machine = flagged.contains(&(job.to_string(), rule.to_string()));
        let e = rules.entry(rule).or_default();
        let list: Vec<(&str, bool)> = who.iter().map(|(r, v)| (*r, *v)).collect();
        for (i, a) in list.iter().enumerate() {
            e.1.push((a.1, machine));
            for b in &list[i + 1..] {
                e.0.push((a.1, b.1));
            }
        }
        if list.iter().any(|(_, v)| *v != machine) {
            e.2.push(Disagreement {
                job_id: job.to_string(),
                machine,
                verdicts: list.iter().map(|(r, v)| (r.to_string(), *v)).collect(),
            });
        }
    }
    rules
        .into_iter()
        .map(|(rule, (between, machine, disagreements))| RuleFigures {
            rule: rule.to_owned(),
            between_reviewers: agreement(&between),
            with_machine: agreement(&machine),
            disagreements,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_pairs_reviewers_and_the_machine_per_rule() {
        let v = |job: &str, rule: &str, reviewer: &str, violated: bool| Verdict {
            job_id: job.into(),
            rule: rule.into(),
            reviewer: reviewer.into(),
            violated,
        };
        let verdicts = [
            // greeting: both reviewers agree on j1 (yes) and j2 (no); the
            // machine flagged j1 and j2.
            v("j1", "greeting", "li", true),
            v("j1", "greeting", "wang", true),
            v("j2", "greeting", "li", false),
            v("j2", "greeting", "wang", false),
            // buck_passing: the reviewers split on j1; the machine did
            // not flag it. Only li judged j3.
            v("j1", "buck_passing", "li", true),
            v("j1", "buck_passing", "wang", false),
            v("j3", "buck_passing", "li", false),
        ];
        let flagged: std::collections::BTreeSet<(String, String)> =
            [("j1", "greeting"), ("j2", "greeting")]
                .iter()
                .map(|(j, r)| (j.to_string(), r.to_string()))
                .collect();
        let f = session(&verdicts, &flagged);
        let rule = |id: &str| f.iter().find(|r| r.rule == id).unwrap();
        let g = rule("greeting");
        assert_eq!(
            (g.between_reviewers.items, g.between_reviewers.agreed),
            (2, 2)
        );
        assert_eq!(g.between_reviewers.kappa, Some(1.0));
        // Four reviewer verdicts against the machine's two yeses: 2 of 4.
        assert_eq!((g.with_machine.items, g.with_machine.agreed), (4, 2));
        assert_eq!(g.disagreements.len(), 1);
        assert_eq!(g.disagreements[0].job_id, "j2");
        let b = rule("buck_passing");
        assert_eq!(
            (b.between_reviewers.items, b.between_reviewers.agreed),
            (1, 0)
        );
        assert_eq!((b.with_machine.items, b.with_machine.agreed), (3, 2));
        assert_eq!(
            b.disagreements[0].verdicts,
            [("li".to_owned(), true), ("wang".to_owned(), false)]
        );
        assert_eq!(b.disagreements.len(), 1, "j3: li agrees with the machine");
    }

    /// Pairs from a 2×2 table: both yes, 1 yes 2 no, 1 no 2 yes, both no.
    fn table(yy: usize, yn: usize, ny: usize, nn: usize) -> Vec<(bool, bool)> {
        let mut v = vec![(true, true); yy];
        v.extend(vec![(true, false); yn]);
        v.extend(vec![(false, true); ny]);
        v.extend(vec![(false, false); nn]);
        v
    }

    #[test]
    fn percent_agreement_and_kappa() {
        // (yy, yn, ny, nn) → (percent, kappa)
        type Case = ((usize, usize, usize, usize), Option<f64>, Option<f64>);
        let cases: &[Case] = &[
            // The textbook example: 50 items, pₒ = 0.7, pₑ = 0.5, κ = 0.4.
            ((20, 5, 10, 15), Some(0.7), Some(0.4)),
            // Perfect agreement with both answers present: κ = 1.
            ((3, 0, 0, 7), Some(1.0), Some(1.0)),
            // Always opposite, balanced: κ = −1.
            ((0, 5, 5, 0), Some(0.0), Some(-1.0)),
            // Agreement no better than chance: κ = 0.
            ((1, 1, 1, 1), Some(0.5), Some(0.0)),
            // Both always "no": nothing to disagree about, κ undefined.
            ((0, 0, 0, 4), Some(1.0), None),
            // One rater always "yes" (the machine on its own flags): κ = 0
            // whatever the other says.
            ((6, 0, 0, 0), Some(1.0), None),
            ((6, 2, 0, 0), Some(0.75), Some(0.0)),
            // 9 of 10 agree but the disagreement is on the only "yes".
            ((0, 1, 0, 9), Some(0.9), Some(0.0)),
            // Nothing rated.
            ((0, 0, 0, 0), None, None),
        ];
        for &((yy, yn, ny, nn), percent, kappa) in cases {
            let a = agreement(&table(yy, yn, ny, nn));
            let close = |x: Option<f64>, y: Option<f64>| match (x, y) {
                (Some(x), Some(y)) => (x - y).abs() < 1e-9,
                (None, None) => true,
                _ => false,
            };
            assert!(
                close(a.percent, percent) && close(a.kappa, kappa),
                "{yy} {yn} {ny} {nn}: got {a:?}, want {percent:?} {kappa:?}"
            );
            assert_eq!(a.items, yy + yn + ny + nn);
            assert_eq!(a.agreed, yy + nn);
        }
    }

    #[test]
    fn agreement_is_computed_per_rule() {
        let mut v = BTreeMap::new();
        v.insert("greeting", table(20, 5, 10, 15));
        v.insert("buck_passing", table(0, 0, 0, 3));
        let r = per_rule(&v);
        assert_eq!(r["greeting"].items, 50);
        assert!((r["greeting"].kappa.unwrap() - 0.4).abs() < 1e-9);
        assert_eq!(r["buck_passing"].kappa, None);
    }
}
