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
//!
//! [`assign`] decides who is graded how, before those rules run: people
//! with too few scoreable contacts get no grade ("insufficient data"); a
//! fatal item (一票否决) takes a person out of the distribution and caps
//! their grade; forced distribution runs only over pools of at least
//! `min_pool` people, smaller pools being graded by thresholds or merged.

use std::collections::BTreeMap;

use serde::Serialize;

use super::scheme::{FatalPolicy, Grading, SmallPools};

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

/// How a person's grade was given (or why there is none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Forced distribution within their pool (team, or everyone).
    Forced,
    /// Forced distribution over all small pools merged.
    ForcedMerged,
    /// By the grades' `min_score`.
    Thresholds,
    /// A fatal item: the grade is capped and the person is not in the
    /// distribution.
    Fatal,
    /// Fewer scoreable contacts than `min_contacts`: no grade.
    InsufficientData,
    /// No composite score: no grade.
    NoScore,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Forced => "forced",
            Basis::ForcedMerged => "forced_merged",
            Basis::Thresholds => "thresholds",
            Basis::Fatal => "fatal",
            Basis::InsufficientData => "insufficient_data",
            Basis::NoScore => "no_score",
        }
    }
}

/// What grading needs to know of one person.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The pool (team) they are graded in, under `within = "team"`.
    pub pool: Option<String>,
    pub score: Option<f64>,
    /// Scoreable contacts in the period.
    pub contacts: usize,
    /// A fatal item in the period.
    pub fatal: bool,
}

/// One person's grade.
#[derive(Debug, Clone, PartialEq)]
pub struct Graded {
    /// Index into the grades.
    pub grade: Option<usize>,
    pub basis: Basis,
    /// Rank in the pool they were graded in (1 = best, ties share).
    pub rank: Option<usize>,
    /// Size of that pool.
    pub pool_size: usize,
}

fn ranks(scores: &[f64]) -> Vec<usize> {
    scores
        .iter()
        .map(|&s| scores.iter().filter(|&&o| key(o) > key(s)).count() + 1)
        .collect()
}

/// Grades everyone: see the module docs. `by_team` false pools everyone
/// together (`within = "all"`).
pub fn assign(
    people: &[Candidate],
    g: &Grading,
    by_team: bool,
    fatal: &FatalPolicy,
) -> Vec<Graded> {
    let mut out: Vec<Graded> = vec![
        Graded {
            grade: None,
            basis: Basis::NoScore,
            rank: None,
            pool_size: 0,
        };
        people.len()
    ];
    let last = g.grades.len().saturating_sub(1);
    let threshold = |s: f64| {
        by_threshold(&[s], &g.grades)
            .first()
            .copied()
            .unwrap_or(last)
    };
    let mut pools: BTreeMap<Option<String>, Vec<usize>> = BTreeMap::new();
    for (i, p) in people.iter().enumerate() {
        let Some(score) = p.score else { continue };
        if p.contacts < g.min_contacts {
            out[i].basis = Basis::InsufficientData;
        } else if p.fatal {
            // Capped: the worse of the cap and what the score alone earns.
            out[i].grade = Some(threshold(score).max(fatal.max_grade.min(last)));
            out[i].basis = Basis::Fatal;
        } else {
            let k = if by_team { p.pool.clone() } else { None };
            pools.entry(k).or_default().push(i);
        }
    }
    let mut grade_pool = |members: &[usize], method: Method, basis: Basis| {
        let scores: Vec<f64> = members
            .iter()
            .map(|&i| people[i].score.unwrap_or(0.0))
            .collect();
        let idx = match method {
            Method::Forced => forced(&scores, &g.grades),
            Method::Thresholds => by_threshold(&scores, &g.grades),
        };
        for ((&i, gi), rank) in members.iter().zip(idx).zip(ranks(&scores)) {
            out[i] = Graded {
                grade: Some(gi),
                basis,
                rank: Some(rank),
                pool_size: members.len(),
            };
        }
    };
    let mut small: Vec<usize> = Vec::new();
    for members in pools.values() {
        match g.method {
            Method::Thresholds => grade_pool(members, Method::Thresholds, Basis::Thresholds),
            Method::Forced if members.len() >= g.min_pool => {
                grade_pool(members, Method::Forced, Basis::Forced)
            }
            Method::Forced => match g.small_pools {
                SmallPools::Thresholds => {
                    grade_pool(members, Method::Thresholds, Basis::Thresholds)
                }
                SmallPools::Merge => small.extend(members),
            },
        }
    }
    if !small.is_empty() {
        small.sort_unstable();
        if small.len() >= g.min_pool {
            grade_pool(&small, Method::Forced, Basis::ForcedMerged);
        } else {
            grade_pool(&small, Method::Thresholds, Basis::Thresholds);
        }
    }
    out
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

    fn grading(min_contacts: usize, min_pool: usize, small: SmallPools) -> Grading {
        Grading {
            method: Method::Forced,
            within: super::super::scheme::Within::Team,
            min_contacts,
            min_pool,
            small_pools: small,
            grades: sabc(),
        }
    }

    fn cap_c() -> FatalPolicy {
        FatalPolicy {
            flags: Vec::new(),
            qa_score: Some(0.0),
            max_grade: 3,
            bonus: Some(0.0),
        }
    }

    /// The worked examples of docs/evaluation.md, "Fair grades": each
    /// person is `team:score:contacts`, with `!` for a fatal item; the
    /// result is each person's grade (`-` none) and how it was given.
    #[test]
    fn assign_table() {
        use Basis::*;
        use SmallPools::{Merge, Thresholds as Thr};
        // (name, min_contacts, min_pool, small pools, people, grades, bases)
        type Case<'a> = (
            &'a str,
            usize,
            usize,
            SmallPools,
            &'a str,
            &'a str,
            &'a [Basis],
        );
        let cases: &[Case] = &[
            (
                "a team of 3 is below min_pool 5: thresholds, not A/B/C by force",
                2,
                5,
                Thr,
                "T:85:20 T:70:20 T:65:20",
                "ABB",
                &[Thresholds, Thresholds, Thresholds],
            ),
            (
                "the same team with min_pool 1: forced distribution",
                2,
                1,
                Thr,
                "T:85:20 T:70:20 T:65:20",
                "ABC",
                &[Forced, Forced, Forced],
            ),
            (
                "one scoreable contact (a garbled call does not count): no grade",
                2,
                5,
                Thr,
                "T:95:1 T:70:20",
                "-B",
                &[InsufficientData, Thresholds],
            ),
            (
                "fatal item: capped at C and out of the distribution of the other five",
                2,
                5,
                Thr,
                "T:89.6:2! T:91:20 T:85:20 T:80:20 T:75:20 T:60:20",
                "CABBBC",
                &[Fatal, Forced, Forced, Forced, Forced, Forced],
            ),
            (
                "small teams merged: 2 + 3 people make one pool of 5",
                2,
                5,
                Merge,
                "T1:88:9 T1:72:9 T2:90:9 T2:65:9 T2:60:9",
                "BBABC",
                &[
                    ForcedMerged,
                    ForcedMerged,
                    ForcedMerged,
                    ForcedMerged,
                    ForcedMerged,
                ],
            ),
            (
                "merged but still under 5: thresholds",
                2,
                5,
                Merge,
                "T1:88:9 T2:65:9",
                "AB",
                &[Thresholds, Thresholds],
            ),
            (
                "a full team of 5 is forced; a team of 1 beside it by thresholds",
                2,
                5,
                Thr,
                "T1:91:9 T1:85:9 T1:80:9 T1:75:9 T1:60:9 T2:99:9",
                "ABBBCS",
                &[Forced, Forced, Forced, Forced, Forced, Thresholds],
            ),
        ];
        for (name, min_c, min_p, small, people, want, bases) in cases {
            let cands: Vec<Candidate> = people
                .split_whitespace()
                .map(|p| {
                    let fatal = p.ends_with('!');
                    let mut parts = p.trim_end_matches('!').split(':');
                    Candidate {
                        pool: parts.next().map(str::to_owned),
                        score: parts.next().and_then(|s| s.parse().ok()),
                        contacts: parts.next().and_then(|s| s.parse().ok()).unwrap_or(0),
                        fatal,
                    }
                })
                .collect();
            let got = assign(&cands, &grading(*min_c, *min_p, *small), true, &cap_c());
            let grades: String = got
                .iter()
                .map(|g| {
                    g.grade
                        .map(|i| sabc()[i].name.clone())
                        .unwrap_or("-".into())
                })
                .collect();
            assert_eq!(grades, *want, "{name}");
            let b: Vec<Basis> = got.iter().map(|g| g.basis).collect();
            assert_eq!(b, bases.to_vec(), "{name}");
        }
    }

    /// A fatal item caps the grade; a score that earns less keeps less.
    #[test]
    fn fatal_cap_is_a_ceiling() {
        let mut cap_b = cap_c();
        cap_b.max_grade = 2;
        let cands: Vec<Candidate> = [95.0, 50.0]
            .iter()
            .map(|&s| Candidate {
                pool: None,
                score: Some(s),
                contacts: 10,
                fatal: true,
            })
            .collect();
        let got = assign(&cands, &grading(1, 5, SmallPools::Thresholds), true, &cap_b);
        let g: Vec<Option<usize>> = got.iter().map(|g| g.grade).collect();
        assert_eq!(g, [Some(2), Some(3)], "95 → B (cap), 50 → C (its own)");
    }

    #[test]
    fn threshold_table() {
        let scores = [95.0, 90.0, 89.999, 80.0, 60.0, 59.9, 0.0];
        // 89.999 rounds to 90.00 at 0.01: an S, like the tie rule.
        assert_eq!(names(&by_threshold(&scores, &sabc())), "SSSABCC");
    }
}
