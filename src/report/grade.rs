//! Grading: composite scores → grades (S/A/B/C by default), by forced
//! distribution or by thresholds, each grade with a bonus coefficient.
//!
//! Forced distribution, for N graded people sorted by score (best first):
//! - each grade's cumulative quota is `N × cumulative share / 100`, rounded
//!   to the nearest whole person, halves rounded *down* (so a small team
//!   never gets more top grades than its share allows); the last grade ends
//!   at N;
//! - position p (0-based) gets the first grade whose cumulative quota
//!   exceeds p;
//! - ties (scores equal to 0.01) all get the best grade any of them
//!   reached: a tie across a boundary is resolved in the agents' favour,
//!   and the next grade starts after them.
//!
//! E.g. S 10 / A 20 / B 50 / C 20 gives, for N = 1: B; N = 3: A, B, C;
//! N = 5: A, B, B, B, C; N = 10: S, A, A, B×5, C, C.

use serde::Serialize;

/// One grade of a scheme.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GradeDef {
    pub name: String,
    /// Percentage of people in this grade under forced distribution.
    pub share: u32,
    /// Lowest composite score for this grade under thresholds.
    pub min_score: f64,
    /// Bonus coefficient (绩效系数) paid with this grade.
    pub bonus: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Forced,
    Thresholds,
}

/// Scores are compared to 0.01: closer ones are ties.
fn key(score: f64) -> i64 {
    (score * 100.0).round() as i64
}

/// Cumulative quota after each grade, for `n` people.
pub fn quotas(n: usize, grades: &[GradeDef]) -> Vec<usize> {
    let mut cum = 0u64;
    let mut out = Vec::with_capacity(grades.len());
    for (i, g) in grades.iter().enumerate() {
        cum += u64::from(g.share);
        let q = if i + 1 == grades.len() {
            n as u64
        } else {
            let whole = n as u64 * cum;
            // Nearest, halves down: remainder above one half rounds up.
            whole / 100 + u64::from(whole % 100 > 50)
        };
        out.push(q.min(n as u64) as usize);
    }
    out
}

/// Grade index (into `grades`) of each score, by forced distribution.
pub fn forced(scores: &[f64], grades: &[GradeDef]) -> Vec<usize> {
    if grades.is_empty() {
        return vec![0; scores.len()];
    }
    let q = quotas(scores.len(), grades);
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| key(scores[b]).cmp(&key(scores[a])).then(a.cmp(&b)));
    let mut out = vec![grades.len() - 1; scores.len()];
    let mut pos = 0;
    while pos < order.len() {
        // The tie group starting here shares its first member's grade.
        let k = key(scores[order[pos]]);
        let grade = q.iter().position(|&c| c > pos).unwrap_or(grades.len() - 1);
        while pos < order.len() && key(scores[order[pos]]) == k {
            out[order[pos]] = grade;
            pos += 1;
        }
    }
    out
}

/// Grade index of each score, by thresholds: the first grade (best first)
/// whose `min_score` the score reaches; the last grade otherwise.
pub fn by_threshold(scores: &[f64], grades: &[GradeDef]) -> Vec<usize> {
    scores
        .iter()
        .map(|&s| {
            grades
                .iter()
                .position(|g| key(s) >= key(g.min_score))
                .unwrap_or(grades.len().saturating_sub(1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sabc() -> Vec<GradeDef> {
        [
            ("S", 10, 90.0, 1.5),
            ("A", 20, 80.0, 1.2),
            ("B", 50, 60.0, 1.0),
            ("C", 20, 0.0, 0.8),
        ]
        .into_iter()
        .map(|(n, s, m, b)| GradeDef {
            name: n.into(),
            share: s,
            min_score: m,
            bonus: b,
        })
        .collect()
    }

    fn names(idx: &[usize]) -> String {
        let g = sabc();
        idx.iter()
            .map(|&i| g[i].name.as_str())
            .collect::<Vec<_>>()
            .join("")
    }

    #[test]
    fn quotas_round_halves_down() {
        // n → cumulative quotas for S, A, B, C (shares 10/20/50/20).
        let cases: &[(usize, [usize; 4])] = &[
            (0, [0, 0, 0, 0]),
            (1, [0, 0, 1, 1]), // 0.1, 0.3, 0.8
            (2, [0, 1, 2, 2]), // 0.2, 0.6, 1.6
            (3, [0, 1, 2, 3]), // 0.3, 0.9, 2.4
            (4, [0, 1, 3, 4]), // 0.4, 1.2, 3.2
            (5, [0, 1, 4, 5]), // 0.5 ↓, 1.5 ↓, 4.0
            (7, [1, 2, 6, 7]), // 0.7, 2.1, 5.6
            (10, [1, 3, 8, 10]),
            (15, [1, 4, 12, 15]), // 1.5 ↓, 4.5 ↓, 12.0
            (20, [2, 6, 16, 20]),
        ];
        for (n, want) in cases {
            assert_eq!(quotas(*n, &sabc()), want.to_vec(), "n = {n}");
        }
    }

    #[test]
    fn forced_distribution_table() {
        // Scores in input order → grades in input order.
        let cases: &[(&str, &[f64], &str)] = &[
            ("empty", &[], ""),
            ("one person is B", &[99.0], "B"),
            ("two", &[70.0, 90.0], "BA"),
            ("three", &[50.0, 90.0, 70.0], "CAB"),
            ("five", &[91.0, 85.0, 80.0, 75.0, 60.0], "ABBBC"),
            (
                "ten, distinct",
                &[99.0, 95.0, 90.0, 85.0, 80.0, 75.0, 70.0, 65.0, 60.0, 55.0],
                "SAABBBBBCC",
            ),
            (
                "ten, tie across S/A gets S for both; A starts after them",
                &[99.0, 99.0, 90.0, 85.0, 80.0, 75.0, 70.0, 65.0, 60.0, 55.0],
                "SSABBBBBCC",
            ),
            (
                "ten, tie across B/C: all tied get B",
                &[99.0, 95.0, 90.0, 85.0, 80.0, 75.0, 70.0, 60.0, 60.0, 60.0],
                "SAABBBBBBB",
            ),
            (
                "all equal: everyone gets the top reachable grade",
                &[80.0, 80.0, 80.0],
                "AAA",
            ),
            ("equal to 0.01 are ties", &[80.004, 79.996, 10.0], "AAC"),
        ];
        for (name, scores, want) in cases {
            assert_eq!(names(&forced(scores, &sabc())), *want, "{name}");
        }
    }

    #[test]
    fn threshold_table() {
        let scores = [95.0, 90.0, 89.999, 80.0, 60.0, 59.9, 0.0];
        // 89.999 rounds to 90.00 at 0.01: an S, like the tie rule.
        assert_eq!(names(&by_threshold(&scores, &sabc())), "SSSABCC");
    }
}
