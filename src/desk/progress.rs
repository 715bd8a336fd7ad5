//! How far the review tasks of each sampling plan have got: total, done,
//! overdue (open past their due time), not assigned to anyone. One
//! computation for the tasks API and the evaluation report.

use std::collections::BTreeMap;

use serde::Serialize;

/// One task as progress needs it.
#[derive(Debug, Clone, Copy)]
pub struct TaskState<'a> {
    pub plan: &'a str,
    pub period: &'a str,
    pub done: bool,
    /// RFC 3339, compared as text with `now` (both UTC, same format).
    pub due_at: &'a str,
    pub assigned: bool,
}

/// One plan's tasks in one period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PlanProgress {
    pub plan: String,
    pub period: String,
    pub total: usize,
    pub done: usize,
    pub overdue: usize,
    pub unassigned: usize,
}

/// Progress per plan and period, ordered by plan then period.
pub fn progress<'a>(
    tasks: impl IntoIterator<Item = TaskState<'a>>,
    now: &str,
) -> Vec<PlanProgress> {
    let mut by: BTreeMap<(&str, &str), PlanProgress> = BTreeMap::new();
    for t in tasks {
        let p = by
            .entry((t.plan, t.period))
            .or_insert_with(|| PlanProgress {
                plan: t.plan.to_owned(),
                period: t.period.to_owned(),
                ..Default::default()
            });
        p.total += 1;
        p.done += usize::from(t.done);
        p.overdue += usize::from(!t.done && t.due_at < now);
        p.unassigned += usize::from(!t.assigned);
    }
    by.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_done_overdue_and_unassigned_per_plan_and_period() {
        let t = |plan, period, done, due_at, assigned| TaskState {
            plan,
            period,
            done,
            due_at,
            assigned,
        };
        let now = "2026-11-20T00:00:00.000Z";
        let p = progress(
            [
                t("weekly", "2026-11", true, "2026-11-10T00:00:00.000Z", true),
                t("weekly", "2026-11", false, "2026-11-10T00:00:00.000Z", true),
                t(
                    "weekly",
                    "2026-11",
                    false,
                    "2026-11-30T00:00:00.000Z",
                    false,
                ),
                t(
                    "critical",
                    "2026-11",
                    true,
                    "2026-11-10T00:00:00.000Z",
                    true,
                ),
                t("weekly", "2026-10", false, "2026-10-10T00:00:00.000Z", true),
            ],
            now,
        );
        let row = |plan: &str, period: &str, total, done, overdue, unassigned| PlanProgress {
            plan: plan.into(),
            period: period.into(),
            total,
            done,
            overdue,
            unassigned,
        };
        assert_eq!(
            p,
            vec![
                row("critical", "2026-11", 1, 1, 0, 0),
                row("weekly", "2026-10", 1, 0, 1, 0),
                row("weekly", "2026-11", 3, 1, 1, 1),
            ]
        );
    }
}
