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

#[cfg(test)]
mod tests {
    use super::*;

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
