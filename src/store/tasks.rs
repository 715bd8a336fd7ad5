//! Review tasks drawn by sampling plans (schema v5): the contacts a plan
//! may pick in a window, reviewers' open workload, the tasks themselves
//! (idempotent per plan, period and contact) and their completion.

use std::collections::BTreeMap;

use sqlx::Row;

use super::{now, Backend, Store, StoreError};
use crate::desk::sampling::Candidate;

/// A task to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    pub plan_id: String,
    pub period: String,
    pub job_id: String,
    pub agent_id: String,
    pub reason: String,
    pub reviewer: Option<String>,
    pub seed: i64,
    pub due_at: String,
}

/// A stored task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRow {
    pub plan_id: String,
    pub period: String,
    pub job_id: String,
    pub agent_id: String,
    pub reason: String,
    pub reviewer: Option<String>,
    pub created_at: String,
    pub due_at: String,
    pub done_at: Option<String>,
    pub done_by: Option<String>,
}

impl TaskRow {
    /// What a plan's progress needs of the task (`desk::progress`).
    pub fn state(&self) -> crate::desk::progress::TaskState<'_> {
        crate::desk::progress::TaskState {
            plan: &self.plan_id,
            period: &self.period,
            done: self.done_at.is_some(),
            due_at: &self.due_at,
            assigned: self.reviewer.is_some(),
        }
    }
}

/// Which tasks to list.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub plan_id: Option<String>,
    pub period: Option<String>,
    pub reviewer: Option<String>,
    pub open_only: bool,
    pub limit: i64,
}

impl Store {
    /// Contacts started in `[since, until)`, with what sampling needs:
    /// a critical flag, an open or decided dispute, and whether the
    /// result could be scored.
    pub async fn sampling_candidates(
        &self,
        since: &str,
        until: &str,
    ) -> Result<Vec<Candidate>, StoreError> {
        let scoreable = match self.backend {
            Backend::Sqlite => "CASE WHEN (r.result ->> 'scoreable') = 0 THEN CAST(0 AS BIGINT) ELSE CAST(1 AS BIGINT) END",
            Backend::Postgres => "CASE WHEN (r.result::jsonb->>'scoreable') = 'false' THEN CAST(0 AS BIGINT) ELSE CAST(1 AS BIGINT) END",
        };
        let q = format!(
            "SELECT r.job_id, r.agent_id, r.team, {scoreable} AS scoreable,
                    CASE WHEN EXISTS (SELECT 1 FROM flags f WHERE f.job_id = r.job_id AND f.severity = 'critical') THEN CAST(1 AS BIGINT) ELSE CAST(0 AS BIGINT) END AS critical,
                    CASE WHEN EXISTS (SELECT 1 FROM disputes d WHERE d.job_id = r.job_id) THEN CAST(1 AS BIGINT) ELSE CAST(0 AS BIGINT) END AS disputed
             FROM results r WHERE r.started_at >= $1 AND r.started_at < $2 ORDER BY r.job_id"
        );
        let q = match self.backend {
            Backend::Postgres => q,
            Backend::Sqlite => q.replace('$', "?"),
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(q))
            .bind(since)
            .bind(until)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Candidate {
                    job_id: r.try_get("job_id")?,
                    agent_id: r.try_get("agent_id")?,
                    team: r.try_get("team")?,
                    scoreable: r.try_get::<i64, _>("scoreable")? != 0,
                    critical: r.try_get::<i64, _>("critical")? != 0,
                    disputed: r.try_get::<i64, _>("disputed")? != 0,
                })
            })
            .collect()
    }

    /// Open tasks per reviewer, all plans together.
    pub async fn open_task_load(&self) -> Result<BTreeMap<String, usize>, StoreError> {
        let rows = sqlx::query(
            "SELECT reviewer, COUNT(*) FROM review_tasks WHERE reviewer IS NOT NULL AND done_at IS NULL GROUP BY reviewer",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let n: i64 = r.try_get(1)?;
                Ok((r.try_get(0)?, usize::try_from(n).unwrap_or(0)))
            })
            .collect()
    }

    /// Stores tasks in one transaction; a task already drawn for the same
    /// plan, period and contact is kept as it is. Returns how many are new.
    pub async fn add_tasks(&self, tasks: &[NewTask]) -> Result<usize, StoreError> {
        let mut tx = self.pool.begin().await?;
        let at = now();
        let mut n = 0;
        for t in tasks {
            n += sqlx::query(self.sql(
                "INSERT INTO review_tasks (plan_id, period, job_id, agent_id, reason, reviewer, seed, created_at, due_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (plan_id, period, job_id) DO NOTHING",
            ))
            .bind(&t.plan_id)
            .bind(&t.period)
            .bind(&t.job_id)
            .bind(&t.agent_id)
            .bind(&t.reason)
            .bind(t.reviewer.clone())
            .bind(t.seed)
            .bind(&at)
            .bind(&t.due_at)
            .execute(&mut *tx)
            .await?
            .rows_affected() as usize;
        }
        tx.commit().await?;
        Ok(n)
    }

    /// Tasks, soonest due first.
    pub async fn tasks(&self, f: &TaskFilter) -> Result<Vec<TaskRow>, StoreError> {
        let rows = sqlx::query(self.sql(
            "SELECT plan_id, period, job_id, agent_id, reason, reviewer, created_at, due_at, done_at, done_by
             FROM review_tasks
             WHERE ($1 IS NULL OR plan_id = $1) AND ($2 IS NULL OR period = $2)
               AND ($3 IS NULL OR reviewer = $3) AND ($4 = 0 OR done_at IS NULL)
             ORDER BY due_at, plan_id, job_id LIMIT $5",
        ))
        .bind(f.plan_id.clone())
        .bind(f.period.clone())
        .bind(f.reviewer.clone())
        .bind(f.open_only as i64)
        .bind(f.limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TaskRow {
                    plan_id: r.try_get("plan_id")?,
                    period: r.try_get("period")?,
                    job_id: r.try_get("job_id")?,
                    agent_id: r.try_get("agent_id")?,
                    reason: r.try_get("reason")?,
                    reviewer: r.try_get("reviewer")?,
                    created_at: r.try_get("created_at")?,
                    due_at: r.try_get("due_at")?,
                    done_at: r.try_get("done_at")?,
                    done_by: r.try_get("done_by")?,
                })
            })
            .collect()
    }

    /// Marks a task done; false if there is no such open task.
    pub async fn complete_task(
        &self,
        plan_id: &str,
        period: &str,
        job_id: &str,
        by: &str,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(self.sql(
            "UPDATE review_tasks SET done_at = $1, done_by = $2
             WHERE plan_id = $3 AND period = $4 AND job_id = $5 AND done_at IS NULL",
        ))
        .bind(now())
        .bind(by)
        .bind(plan_id)
        .bind(period)
        .bind(job_id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n > 0)
    }
}
