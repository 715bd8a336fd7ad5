//! Sampling plans (抽检计划): which contacts of a period humans review,
//! and who reviews them. A plan is data (`rules/sampling.toml`): a random
//! share of the contacts in its scope, plus every contact with a critical
//! flag, every disputed one and every one that could not be scored (or
//! was transcribed too poorly to score), plus enough random contacts that
//! each agent has a minimum. The draw is deterministic: the same seed and
//! contacts give the same sample, whatever order the contacts come in.
//! Picked contacts are assigned to the plan's reviewers, least loaded
//! first, never beyond a reviewer's cap; what does not fit is left
//! unassigned and reported.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct PlanError {
    pub file: PathBuf,
    pub message: String,
}

/// One sampling plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Stable id, used in task records (letters, digits, `-`, `_`).
    pub id: String,
    /// Shown to people.
    pub name: String,
    /// Only contacts of this team (default: all teams).
    #[serde(default)]
    pub team: Option<String>,
    /// Only contacts of this agent.
    #[serde(default)]
    pub agent: Option<String>,
    /// Share of the other contacts drawn at random, 0–100 (rounded up).
    #[serde(default)]
    pub random_percent: f64,
    /// Every contact with a critical flag.
    #[serde(default = "yes")]
    pub all_critical: bool,
    /// Every contact with a disputed flag.
    #[serde(default = "yes")]
    pub all_disputed: bool,
    /// Every contact that could not be scored (no speech, poor
    /// transcription).
    #[serde(default = "yes")]
    pub all_unscoreable: bool,
    /// At least this many contacts per agent with contacts in scope.
    #[serde(default)]
    pub min_per_agent: usize,
    /// Reviewers (user names) who get the tasks.
    #[serde(default)]
    pub reviewers: Vec<String>,
    /// Most open tasks one reviewer holds.
    #[serde(default = "default_cap")]
    pub max_per_reviewer: usize,
    /// Days from the draw to a task's due date.
    #[serde(default = "default_due")]
    pub due_days: u32,
}

fn yes() -> bool {
    true
}
fn default_cap() -> usize {
    50
}
fn default_due() -> u32 {
    3
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    #[serde(default)]
    plan: Vec<Plan>,
}

/// Reads and checks the plans; a missing file means no plans.
pub fn load(path: &Path) -> Result<Vec<Plan>, PlanError> {
    let err = |message: String| PlanError {
        file: path.to_path_buf(),
        message,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(err(e.to_string())),
    };
    let file: PlanFile = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
    let mut ids = BTreeSet::new();
    for p in &file.plan {
        let ok_id = !p.id.is_empty()
            && p.id.len() <= 64
            && p.id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok_id {
            return Err(err(format!(
                "plan id {:?}: use letters, digits, - and _",
                p.id
            )));
        }
        if !ids.insert(p.id.clone()) {
            return Err(err(format!("plan id {:?} appears twice", p.id)));
        }
        if !(p.random_percent.is_finite() && (0.0..=100.0).contains(&p.random_percent)) {
            return Err(err(format!("plan {}: random_percent must be 0–100", p.id)));
        }
        if p.max_per_reviewer == 0 {
            return Err(err(format!(
                "plan {}: max_per_reviewer must be at least 1",
                p.id
            )));
        }
    }
    Ok(file.plan)
}

/// A contact the plan may pick.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub job_id: String,
    pub agent_id: String,
    pub team: Option<String>,
    pub critical: bool,
    pub disputed: bool,
    pub scoreable: bool,
}

/// Why a contact was picked (the first reason that applies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Critical,
    Disputed,
    Unscoreable,
    Random,
    AgentMinimum,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Critical => "critical",
            Reason::Disputed => "disputed",
            Reason::Unscoreable => "unscoreable",
            Reason::Random => "random",
            Reason::AgentMinimum => "agent_minimum",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pick {
    pub job_id: String,
    pub agent_id: String,
    pub reason: Reason,
}

/// A position for each contact that depends only on the seed and its id
/// (SplitMix64 over FNV-1a), so input order never changes the draw.
fn draw_key(seed: u64, job_id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in job_id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = h ^ seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn add<'a>(picked: &mut BTreeMap<&'a str, Pick>, c: &'a Candidate, reason: Reason) {
    picked.entry(c.job_id.as_str()).or_insert_with(|| Pick {
        job_id: c.job_id.clone(),
        agent_id: c.agent_id.clone(),
        reason,
    });
}

/// The contacts `plan` picks among `all`, sorted by job id.
pub fn sample(plan: &Plan, all: &[Candidate], seed: u64) -> Vec<Pick> {
    let mut scope: Vec<&Candidate> = all
        .iter()
        .filter(|c| {
            plan.team
                .as_deref()
                .is_none_or(|t| c.team.as_deref() == Some(t))
        })
        .filter(|c| plan.agent.as_deref().is_none_or(|a| c.agent_id == a))
        .collect();
    scope.sort_by_key(|c| (draw_key(seed, &c.job_id), c.job_id.clone()));
    scope.dedup_by(|a, b| a.job_id == b.job_id);
    let mut picked: BTreeMap<&str, Pick> = BTreeMap::new();
    for c in &scope {
        let must = if plan.all_critical && c.critical {
            Some(Reason::Critical)
        } else if plan.all_disputed && c.disputed {
            Some(Reason::Disputed)
        } else if plan.all_unscoreable && !c.scoreable {
            Some(Reason::Unscoreable)
        } else {
            None
        };
        if let Some(r) = must {
            add(&mut picked, c, r);
        }
    }
    let rest: Vec<&Candidate> = scope
        .iter()
        .copied()
        .filter(|c| !picked.contains_key(c.job_id.as_str()))
        .collect();
    let n = (plan.random_percent / 100.0 * rest.len() as f64 - 1e-9)
        .ceil()
        .max(0.0) as usize;
    for c in rest.iter().take(n) {
        add(&mut picked, c, Reason::Random);
    }
    let mut per_agent: BTreeMap<&str, usize> = BTreeMap::new();
    for p in picked.values() {
        *per_agent.entry(p.agent_id.as_str()).or_default() += 1;
    }
    let mut extra = Vec::new();
    for c in &rest {
        let have = per_agent.entry(c.agent_id.as_str()).or_default();
        if *have < plan.min_per_agent && !picked.contains_key(c.job_id.as_str()) {
            *have += 1;
            extra.push(*c);
        }
    }
    for c in extra {
        add(&mut picked, c, Reason::AgentMinimum);
    }
    picked.into_values().collect()
}

/// Who reviews each pick: the least loaded reviewer (open tasks held
/// before plus those given now; ties by name), never beyond `cap`.
/// Picks that fit nobody get `None`.
pub fn assign(
    picks: &[Pick],
    reviewers: &[String],
    cap: usize,
    load: &BTreeMap<String, usize>,
) -> Vec<Option<String>> {
    let mut held: BTreeMap<&str, usize> = reviewers
        .iter()
        .map(|r| (r.as_str(), load.get(r).copied().unwrap_or(0)))
        .collect();
    picks
        .iter()
        .map(|_| {
            let (name, n) = held
                .iter_mut()
                .filter(|(_, n)| **n < cap)
                .min_by_key(|(name, n)| (**n, **name))?;
            *n += 1;
            Some((*name).to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(random_percent: f64, min_per_agent: usize) -> Plan {
        Plan {
            id: "p".into(),
            name: "p".into(),
            team: None,
            agent: None,
            random_percent,
            all_critical: true,
            all_disputed: true,
            all_unscoreable: true,
            min_per_agent,
            reviewers: vec![],
            max_per_reviewer: 50,
            due_days: 3,
        }
    }

    /// `n` contacts per agent `A0..`: `c-A0-00`…; the listed job ids are
    /// critical, disputed or unscoreable.
    fn contacts(
        agents: usize,
        n: usize,
        critical: &[&str],
        disputed: &[&str],
        unscoreable: &[&str],
    ) -> Vec<Candidate> {
        (0..agents)
            .flat_map(|a| {
                (0..n)
                    .map(move |i| format!("c-A{a}-{i:02}"))
                    .map(move |id| (a, id))
            })
            .map(|(a, id)| Candidate {
                critical: critical.contains(&id.as_str()),
                disputed: disputed.contains(&id.as_str()),
                scoreable: !unscoreable.contains(&id.as_str()),
                agent_id: format!("A{a}"),
                team: Some(if a % 2 == 0 { "T1" } else { "T2" }.into()),
                job_id: id,
            })
            .collect()
    }

    fn count(p: &[Pick], r: Reason) -> usize {
        p.iter().filter(|x| x.reason == r).count()
    }

    #[test]
    fn plans_pick_what_they_say() {
        // (agents, per agent, random %, min per agent, critical, disputed,
        //  unscoreable) → (total, critical, disputed, unscoreable, random, minimum)
        type Case = (
            usize,
            usize,
            f64,
            usize,
            &'static [&'static str],
            &'static [&'static str],
            &'static [&'static str],
            [usize; 6],
        );
        let cases: &[Case] = &[
            // 10 % of 100 contacts: 10 random.
            (4, 25, 10.0, 0, &[], &[], &[], [10, 0, 0, 0, 10, 0]),
            // 5 % of 30 rounds up to 2.
            (3, 10, 5.0, 0, &[], &[], &[], [2, 0, 0, 0, 2, 0]),
            // 0 % and no minimum: only the musts.
            (
                2,
                10,
                0.0,
                0,
                &["c-A0-03"],
                &["c-A1-04"],
                &["c-A1-09"],
                [3, 1, 1, 1, 0, 0],
            ),
            // Critical and disputed at once counts as critical.
            (
                1,
                5,
                0.0,
                0,
                &["c-A0-01"],
                &["c-A0-01"],
                &[],
                [1, 1, 0, 0, 0, 0],
            ),
            // Musts are outside the random share: 10 % of the other 18.
            (
                2,
                10,
                10.0,
                0,
                &["c-A0-00", "c-A1-00"],
                &[],
                &[],
                [4, 2, 0, 0, 2, 0],
            ),
            // Each agent gets at least 3: 0 % random → 3 × 4 by minimum.
            (4, 10, 0.0, 3, &[], &[], &[], [12, 0, 0, 0, 0, 12]),
            // A critical contact counts towards its agent's minimum.
            (2, 10, 0.0, 2, &["c-A0-05"], &[], &[], [4, 1, 0, 0, 0, 3]),
            // An agent with fewer contacts than the minimum gives all.
            (1, 2, 0.0, 5, &[], &[], &[], [2, 0, 0, 0, 0, 2]),
            // 100 %: everything.
            (2, 7, 100.0, 0, &["c-A0-00"], &[], &[], [14, 1, 0, 0, 13, 0]),
        ];
        for (i, &(agents, n, pct, min, crit, disp, unsc, want)) in cases.iter().enumerate() {
            let p = sample(&plan(pct, min), &contacts(agents, n, crit, disp, unsc), 7);
            let got = [
                p.len(),
                count(&p, Reason::Critical),
                count(&p, Reason::Disputed),
                count(&p, Reason::Unscoreable),
                count(&p, Reason::Random),
                count(&p, Reason::AgentMinimum),
            ];
            assert_eq!(got, want, "case {i}");
            if min > 0 {
                for a in 0..agents {
                    let have = p.iter().filter(|x| x.agent_id == format!("A{a}")).count();
                    assert!(have >= min.min(n), "case {i}: A{a} has {have}");
                }
            }
        }
    }

    #[test]
    fn the_draw_depends_on_the_seed_not_the_order() {
        let all = contacts(3, 40, &[], &[], &[]);
        let a = sample(&plan(10.0, 0), &all, 42);
        let mut reversed = all.clone();
        reversed.reverse();
        assert_eq!(
            a,
            sample(&plan(10.0, 0), &reversed, 42),
            "same seed, same sample"
        );
        let b = sample(&plan(10.0, 0), &all, 43);
        assert_eq!(a.len(), b.len());
        assert_ne!(a, b, "another seed, another sample");
        // Sorted by job id, no duplicates.
        assert!(a.windows(2).all(|w| w[0].job_id < w[1].job_id));
    }

    #[test]
    fn scope_by_team_and_agent() {
        let all = contacts(4, 10, &["c-A1-00", "c-A2-00"], &[], &[]);
        let mut p = plan(0.0, 0);
        p.team = Some("T1".into());
        let got: Vec<String> = sample(&p, &all, 1).into_iter().map(|x| x.job_id).collect();
        assert_eq!(got, ["c-A2-00"], "A1 is in T2");
        p.team = None;
        p.agent = Some("A1".into());
        let got: Vec<String> = sample(&p, &all, 1).into_iter().map(|x| x.job_id).collect();
        assert_eq!(got, ["c-A1-00"]);
    }

    #[test]
    fn assignment_balances_load_under_a_cap() {
        let picks: Vec<Pick> = (0..7)
            .map(|i| Pick {
                job_id: format!("j{i}"),
                agent_id: "A".into(),
                reason: Reason::Random,
            })
            .collect();
        let reviewers = vec!["li".to_owned(), "wang".to_owned()];
        let mut load = BTreeMap::new();
        load.insert("li".to_owned(), 2);
        let got = assign(&picks, &reviewers, 4, &load);
        let names: Vec<&str> = got.iter().map(|g| g.as_deref().unwrap_or("-")).collect();
        // wang starts at 0, li at 2; both stop at 4; one left over.
        assert_eq!(names, ["wang", "wang", "li", "wang", "li", "wang", "-"]);
        assert_eq!(assign(&picks[..1], &[], 4, &load), [None]);
    }

    #[test]
    fn the_shipped_plans_load() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        let plans = load(&dir.join("sampling.toml")).expect("rules/sampling.toml loads");
        assert!(!plans.is_empty());
        assert!(load(&dir.join("no-such-file.toml")).unwrap().is_empty());
        let bad = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            bad.path(),
            "[[plan]]\nid = \"x\"\nname = \"x\"\nrandom_percent = 120\n",
        )
        .unwrap();
        assert!(load(bad.path()).unwrap_err().message.contains("0–100"));
        std::fs::write(
            bad.path(),
            "[[plan]]\nid = \"x\"\nname = \"x\"\ncolour = 1\n",
        )
        .unwrap();
        assert!(load(bad.path()).is_err(), "unknown fields are refused");
    }
}
