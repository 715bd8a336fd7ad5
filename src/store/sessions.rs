//! Calibration sessions (schema v5): a set of contacts several reviewers
//! judge blind, rule by rule, and their verdicts.

use sqlx::Row;

use super::{now, Store, StoreError};
use crate::desk::agreement::Verdict;

#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub id: String,
    pub name: String,
    pub created_by: String,
    pub created_at: String,
    pub closed_at: Option<String>,
    pub jobs: Vec<String>,
}

/// A session as listed: its contacts counted, not named.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSummary {
    pub id: String,
    pub name: String,
    pub created_by: String,
    pub created_at: String,
    pub closed_at: Option<String>,
    pub contacts: i64,
}

impl Store {
    /// Creates a session over `jobs` (which must be stored results).
    pub async fn create_session(
        &self,
        id: &str,
        name: &str,
        by: &str,
        jobs: &[String],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(self.sql(
            "INSERT INTO calibration_sessions (id, name, created_by, created_at) VALUES ($1, $2, $3, $4)",
        ))
        .bind(id)
        .bind(name)
        .bind(by)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        for j in jobs {
            sqlx::query(self.sql(
                "INSERT INTO calibration_items (session_id, job_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            ))
            .bind(id)
            .bind(j)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn session(&self, id: &str) -> Result<Option<SessionRow>, StoreError> {
        let Some(r) = sqlx::query(self.sql(
            "SELECT id, name, created_by, created_at, closed_at FROM calibration_sessions WHERE id = $1",
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let jobs = sqlx::query(
            self.sql("SELECT job_id FROM calibration_items WHERE session_id = $1 ORDER BY job_id"),
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
        Ok(Some(SessionRow {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            created_by: r.try_get("created_by")?,
            created_at: r.try_get("created_at")?,
            closed_at: r.try_get("closed_at")?,
            jobs,
        }))
    }

    /// Sessions, newest first (at most `limit`), each with its number of
    /// contacts.
    pub async fn sessions(&self, limit: i64) -> Result<Vec<SessionSummary>, StoreError> {
        let rows = sqlx::query(self.sql(
            "SELECT s.id, s.name, s.created_by, s.created_at, s.closed_at, COUNT(i.job_id) AS contacts
             FROM calibration_sessions s LEFT JOIN calibration_items i ON i.session_id = s.id
             GROUP BY s.id, s.name, s.created_by, s.created_at, s.closed_at
             ORDER BY s.created_at DESC, s.id DESC LIMIT $1",
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SessionSummary {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    created_by: r.try_get("created_by")?,
                    created_at: r.try_get("created_at")?,
                    closed_at: r.try_get("closed_at")?,
                    contacts: r.try_get("contacts")?,
                })
            })
            .collect()
    }

    /// Records (or replaces) a reviewer's verdict.
    pub async fn set_verdict(&self, session: &str, v: &Verdict) -> Result<(), StoreError> {
        sqlx::query(self.sql(
            "INSERT INTO calibration_verdicts (session_id, job_id, rule, reviewer, violated, at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (session_id, job_id, rule, reviewer) DO UPDATE SET violated = excluded.violated, at = excluded.at",
        ))
        .bind(session)
        .bind(&v.job_id)
        .bind(&v.rule)
        .bind(&v.reviewer)
        .bind(i64::from(v.violated))
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A session's verdicts, all reviewers or one.
    pub async fn verdicts(
        &self,
        session: &str,
        reviewer: Option<&str>,
    ) -> Result<Vec<Verdict>, StoreError> {
        let rows = sqlx::query(self.sql(
            "SELECT job_id, rule, reviewer, violated FROM calibration_verdicts
             WHERE session_id = $1 AND ($2 IS NULL OR reviewer = $2) ORDER BY job_id, rule, reviewer",
        ))
        .bind(session)
        .bind(reviewer.map(str::to_owned))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Verdict {
                    job_id: r.try_get("job_id")?,
                    rule: r.try_get("rule")?,
                    reviewer: r.try_get("reviewer")?,
                    violated: r.try_get::<i64, _>("violated")? != 0,
                })
            })
            .collect()
    }

    /// Closes an open session; false if it was closed or does not exist.
    pub async fn close_session(&self, id: &str) -> Result<bool, StoreError> {
        let n = sqlx::query(self.sql(
            "UPDATE calibration_sessions SET closed_at = $1 WHERE id = $2 AND closed_at IS NULL",
        ))
        .bind(now())
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n > 0)
    }
}
