//! Storage for human review (schema v2): users of the review page with
//! hashed tokens, reviewers' decisions on flags, agents' disputes and
//! supervisors' rulings, supervisor scores for evaluations, and an
//! append-only audit log. Every change to a flag's status is written in one
//! transaction with its log entry.

use sqlx::Row;

use super::{now, Store, StoreError};
use crate::domain::{Decision, DisputeStatus, Role};

/// A user of the review page (the token itself is never stored).
#[derive(Debug, Clone, PartialEq)]
pub struct UserRow {
    pub name: String,
    pub role: Role,
    /// For agents: the agent id whose results they may see.
    pub agent_id: Option<String>,
    pub created_at: String,
    pub disabled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserAdded {
    Added,
    /// A user of that name exists; nothing changed.
    NameTaken,
}

/// The current human decision on one flag.
#[derive(Debug, Clone, PartialEq)]
pub struct FlagReview {
    pub job_id: String,
    pub idx: usize,
    pub decision: Decision,
    pub comment: String,
    pub reviewer: String,
    pub decided_at: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dispute {
    pub job_id: String,
    pub idx: usize,
    pub agent_id: String,
    pub opened_by: String,
    pub reason: String,
    pub opened_at: String,
    pub status: DisputeStatus,
    pub decided_by: Option<String>,
    pub decision_comment: Option<String>,
    pub decided_at: Option<String>,
}

/// What a reviewer's decision on a flag did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reviewed {
    Recorded,
    /// The flag is disputed: open (the supervisor rules on it, not a
    /// review) or ruled on (final unless a supervisor or admin reopens
    /// it). Nothing changed.
    Disputed(DisputeStatus),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisputeOpened {
    Opened,
    /// The flag was disputed before (one dispute per flag).
    AlreadyDisputed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisputeDecided {
    Decided,
    /// No dispute of that flag exists.
    NoDispute,
    /// The dispute was already decided.
    AlreadyDecided,
}

/// One entry of a flag's history.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub job_id: String,
    pub idx: usize,
    pub actor: String,
    /// `confirmed`, `dismissed`, `disputed`, `upheld` or `rejected`.
    pub action: String,
    pub comment: String,
    pub at: String,
}

/// One flag of the review queue with its conversation's summary.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueFlagRow {
    pub job_id: String,
    pub idx: usize,
    pub agent_id: String,
    pub team: Option<String>,
    pub kind: String,
    pub score: f64,
    pub started_at: Option<String>,
    pub flag: String,
    pub rule: String,
    pub severity: String,
    pub start_s: f64,
    pub decision: Option<Decision>,
    pub dispute: Option<DisputeStatus>,
}

/// Filters for the review queue, agents and calibration.
#[derive(Debug, Clone, Default)]
pub struct ReviewFilter {
    pub agent_id: Option<String>,
    pub team: Option<String>,
    /// Inclusive lower bound on `started_at` (RFC 3339, UTC).
    pub since: Option<String>,
    /// Exclusive upper bound on `started_at`.
    pub until: Option<String>,
    pub limit: Option<i64>,
}

/// Per rule: how many flags were raised and what humans decided.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationRow {
    pub rule: String,
    pub flag: String,
    pub raised: i64,
    pub confirmed: i64,
    pub dismissed: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SupervisorScore {
    /// `YYYY-MM` or the report's period label.
    pub period: String,
    pub agent_id: String,
    pub score: f64,
    pub comment: String,
    pub scored_by: String,
    pub scored_at: String,
}

/// An agent seen in stored results.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentRow {
    pub agent_id: String,
    pub team: Option<String>,
    pub role: Option<String>,
    pub contacts: i64,
    pub flags: i64,
}

fn corrupt(what: &str, message: String) -> StoreError {
    StoreError::Corrupt {
        job_id: what.to_owned(),
        message,
    }
}

fn idx_of(v: i64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

fn dispute_from(r: &sqlx::any::AnyRow) -> Result<Dispute, StoreError> {
    let job_id: String = r.try_get("job_id")?;
    let status: String = r.try_get("status")?;
    Ok(Dispute {
        status: status.parse().map_err(|e| corrupt(&job_id, e))?,
        idx: idx_of(r.try_get("idx")?),
        agent_id: r.try_get("agent_id")?,
        opened_by: r.try_get("opened_by")?,
        reason: r.try_get("reason")?,
        opened_at: r.try_get("opened_at")?,
        decided_by: r.try_get("decided_by")?,
        decision_comment: r.try_get("decision_comment")?,
        decided_at: r.try_get("decided_at")?,
        job_id,
    })
}

macro_rules! dispute_columns {
    () => {
        "job_id, idx, agent_id, opened_by, reason, opened_at, status, decided_by, decision_comment, decided_at"
    };
}

impl Store {
    // ---- users ---------------------------------------------------------

    /// Adds a user with the SHA-256 of their token.
    pub async fn add_user(
        &self,
        name: &str,
        role: Role,
        agent_id: Option<&str>,
        token_hash: &str,
    ) -> Result<UserAdded, StoreError> {
        let n = sqlx::query(self.sql(
            "INSERT INTO users (name, role, agent_id, token_hash, created_at, disabled)
             VALUES ($1, $2, $3, $4, $5, FALSE) ON CONFLICT (name) DO NOTHING",
        ))
        .bind(name)
        .bind(role.as_str())
        .bind(agent_id.map(str::to_owned))
        .bind(token_hash)
        .bind(now())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(if n == 0 {
            UserAdded::NameTaken
        } else {
            UserAdded::Added
        })
    }

    /// The enabled user holding a token (by its hash).
    pub async fn user_by_token_hash(&self, hash: &str) -> Result<Option<UserRow>, StoreError> {
        let row = sqlx::query(self.sql(
            "SELECT name, role, agent_id, created_at, CASE WHEN disabled THEN CAST(1 AS BIGINT) ELSE CAST(0 AS BIGINT) END AS disabled FROM users WHERE token_hash = $1 AND disabled = FALSE",
        ))
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from).transpose()
    }

    /// An active (not disabled) user by name.
    pub async fn active_user(&self, name: &str) -> Result<Option<UserRow>, StoreError> {
        let row = sqlx::query(self.sql(
            "SELECT name, role, agent_id, created_at, CASE WHEN disabled THEN CAST(1 AS BIGINT) ELSE CAST(0 AS BIGINT) END AS disabled FROM users WHERE name = $1 AND disabled = FALSE",
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from).transpose()
    }

    pub async fn list_users(&self) -> Result<Vec<UserRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, role, agent_id, created_at, CASE WHEN disabled THEN CAST(1 AS BIGINT) ELSE CAST(0 AS BIGINT) END AS disabled FROM users ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from).collect()
    }

    /// Disables a user (their token stops working); false if no such user.
    pub async fn disable_user(&self, name: &str) -> Result<bool, StoreError> {
        let n = sqlx::query(self.sql("UPDATE users SET disabled = TRUE WHERE name = $1"))
            .bind(name)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    // ---- decisions and disputes -----------------------------------------

    /// Records a reviewer's decision on a flag (replacing an earlier one)
    /// with its log entry.
    pub async fn review_flag(
        &self,
        job_id: &str,
        idx: usize,
        decision: Decision,
        comment: &str,
        reviewer: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let at = now();
        self.upsert_review(&mut tx, job_id, idx, decision, comment, reviewer, &at)
            .await?;
        self.log(
            &mut tx,
            job_id,
            idx,
            reviewer,
            decision.as_str(),
            comment,
            &at,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a decision on a flag in role order, checked in the same
    /// transaction as the write: a flag under an open dispute is for the
    /// supervisor's ruling, and a ruling is final for reviewers; only
    /// `overrule` (a supervisor or admin) may decide a ruled flag again.
    pub async fn review_flag_in_order(
        &self,
        job_id: &str,
        idx: usize,
        decision: Decision,
        comment: &str,
        reviewer: &str,
        overrule: bool,
    ) -> Result<Reviewed, StoreError> {
        let mut tx = self.pool.begin().await?;
        let status: Option<String> =
            sqlx::query(self.sql("SELECT status FROM disputes WHERE job_id = $1 AND idx = $2"))
                .bind(job_id)
                .bind(idx as i64)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get(0))
                .transpose()?;
        if let Some(status) = status {
            let status: DisputeStatus = status.parse().map_err(|e| corrupt(job_id, e))?;
            if status == DisputeStatus::Open || !overrule {
                tx.rollback().await?;
                return Ok(Reviewed::Disputed(status));
            }
        }
        let at = now();
        self.upsert_review(&mut tx, job_id, idx, decision, comment, reviewer, &at)
            .await?;
        self.log(
            &mut tx,
            job_id,
            idx,
            reviewer,
            decision.as_str(),
            comment,
            &at,
        )
        .await?;
        tx.commit().await?;
        Ok(Reviewed::Recorded)
    }

    #[allow(clippy::too_many_arguments)]
    async fn upsert_review(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        job_id: &str,
        idx: usize,
        decision: Decision,
        comment: &str,
        reviewer: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(self.sql(
            "INSERT INTO flag_reviews (job_id, idx, decision, comment, reviewer, decided_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (job_id, idx) DO UPDATE SET decision = excluded.decision,
               comment = excluded.comment, reviewer = excluded.reviewer, decided_at = excluded.decided_at",
        ))
        .bind(job_id)
        .bind(idx as i64)
        .bind(decision.as_str())
        .bind(comment)
        .bind(reviewer)
        .bind(at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn log(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        job_id: &str,
        idx: usize,
        actor: &str,
        action: &str,
        comment: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(self.sql(
            "INSERT INTO review_log (job_id, idx, actor, action, comment, at) VALUES ($1, $2, $3, $4, $5, $6)",
        ))
        .bind(job_id)
        .bind(idx as i64)
        .bind(actor)
        .bind(action)
        .bind(comment)
        .bind(at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The current decisions on a result's flags.
    pub async fn reviews_of(&self, job_id: &str) -> Result<Vec<FlagReview>, StoreError> {
        let rows = sqlx::query(self.sql(
            "SELECT job_id, idx, decision, comment, reviewer, decided_at FROM flag_reviews WHERE job_id = $1 ORDER BY idx",
        ))
        .bind(job_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let decision: String = r.try_get("decision")?;
                Ok(FlagReview {
                    job_id: r.try_get("job_id")?,
                    idx: idx_of(r.try_get("idx")?),
                    decision: decision.parse().map_err(|e| corrupt(job_id, e))?,
                    comment: r.try_get("comment")?,
                    reviewer: r.try_get("reviewer")?,
                    decided_at: r.try_get("decided_at")?,
                })
            })
            .collect()
    }

    /// Opens an agent's dispute of a flag; one per flag.
    pub async fn open_dispute(
        &self,
        job_id: &str,
        idx: usize,
        agent_id: &str,
        opened_by: &str,
        reason: &str,
    ) -> Result<DisputeOpened, StoreError> {
        let mut tx = self.pool.begin().await?;
        let at = now();
        let n = sqlx::query(self.sql(
            "INSERT INTO disputes (job_id, idx, agent_id, opened_by, reason, opened_at, status)
             VALUES ($1, $2, $3, $4, $5, $6, 'open') ON CONFLICT (job_id, idx) DO NOTHING",
        ))
        .bind(job_id)
        .bind(idx as i64)
        .bind(agent_id)
        .bind(opened_by)
        .bind(reason)
        .bind(&at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            tx.rollback().await?;
            return Ok(DisputeOpened::AlreadyDisputed);
        }
        self.log(&mut tx, job_id, idx, opened_by, "disputed", reason, &at)
            .await?;
        tx.commit().await?;
        Ok(DisputeOpened::Opened)
    }

    /// A supervisor's ruling on an open dispute. Upholding dismisses the
    /// flag; rejecting confirms it.
    pub async fn decide_dispute(
        &self,
        job_id: &str,
        idx: usize,
        outcome: DisputeStatus,
        comment: &str,
        by: &str,
    ) -> Result<DisputeDecided, StoreError> {
        let Some(decision) = outcome.decision() else {
            return Ok(DisputeDecided::AlreadyDecided);
        };
        let mut tx = self.pool.begin().await?;
        let at = now();
        let n = sqlx::query(self.sql(
            "UPDATE disputes SET status = $1, decided_by = $2, decision_comment = $3, decided_at = $4
             WHERE job_id = $5 AND idx = $6 AND status = 'open'",
        ))
        .bind(outcome.as_str())
        .bind(by)
        .bind(comment)
        .bind(&at)
        .bind(job_id)
        .bind(idx as i64)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            let exists = sqlx::query(
                self.sql("SELECT COUNT(*) FROM disputes WHERE job_id = $1 AND idx = $2"),
            )
            .bind(job_id)
            .bind(idx as i64)
            .fetch_one(&mut *tx)
            .await?
            .try_get::<i64, _>(0)?
                > 0;
            tx.rollback().await?;
            return Ok(if exists {
                DisputeDecided::AlreadyDecided
            } else {
                DisputeDecided::NoDispute
            });
        }
        self.upsert_review(&mut tx, job_id, idx, decision, comment, by, &at)
            .await?;
        self.log(&mut tx, job_id, idx, by, outcome.as_str(), comment, &at)
            .await?;
        tx.commit().await?;
        Ok(DisputeDecided::Decided)
    }

    pub async fn disputes_of(&self, job_id: &str) -> Result<Vec<Dispute>, StoreError> {
        let rows = sqlx::query(self.sql(concat!(
            "SELECT ",
            dispute_columns!(),
            " FROM disputes WHERE job_id = $1 ORDER BY idx"
        )))
        .bind(job_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(dispute_from).collect()
    }

    /// Disputes, oldest first, by status and agent.
    pub async fn list_disputes(
        &self,
        status: Option<DisputeStatus>,
        agent_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Dispute>, StoreError> {
        let rows = sqlx::query(self.sql(concat!(
            "SELECT ",
            dispute_columns!(),
            " FROM disputes WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR agent_id = $2)
             ORDER BY opened_at, job_id, idx LIMIT $3"
        )))
        .bind(status.map(|s| s.as_str().to_owned()))
        .bind(agent_id.map(str::to_owned))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(dispute_from).collect()
    }

    /// A result's review history, oldest first.
    pub async fn log_of(&self, job_id: &str) -> Result<Vec<LogEntry>, StoreError> {
        let rows = sqlx::query(self.sql(
            "SELECT job_id, idx, actor, action, comment, at FROM review_log WHERE job_id = $1 ORDER BY id",
        ))
        .bind(job_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LogEntry {
                    job_id: r.try_get("job_id")?,
                    idx: idx_of(r.try_get("idx")?),
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    comment: r.try_get("comment")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    /// The flags humans dismissed, among results started in a window:
    /// reports leave them out.
    pub async fn dismissed_flags(
        &self,
        since: Option<&str>,
        until: Option<&str>,
    ) -> Result<Vec<(String, usize)>, StoreError> {
        let rows = sqlx::query(self.sql(
            "SELECT v.job_id, v.idx FROM flag_reviews v JOIN results r ON r.job_id = v.job_id
             WHERE v.decision = 'dismissed'
               AND ($1 IS NULL OR COALESCE(r.started_at, r.processed_at) >= $1)
               AND ($2 IS NULL OR COALESCE(r.started_at, r.processed_at) < $2)
             ORDER BY v.job_id, v.idx",
        ))
        .bind(since.map(str::to_owned))
        .bind(until.map(str::to_owned))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, idx_of(r.try_get(1)?))))
            .collect()
    }

    // ---- queue, agents, calibration ---------------------------------------

    /// Flags with their conversation and review status, most severe first,
    /// then newest.
    pub async fn flag_queue(&self, f: &ReviewFilter) -> Result<Vec<QueueFlagRow>, StoreError> {
        let rows = sqlx::query(self.sql(
            "SELECT f.job_id, f.idx, r.agent_id, r.team, r.kind, r.score, r.started_at,
                    f.flag, f.rule, f.severity, f.start_s, v.decision, d.status AS dispute
             FROM flags f
             JOIN results r ON r.job_id = f.job_id
             LEFT JOIN flag_reviews v ON v.job_id = f.job_id AND v.idx = f.idx
             LEFT JOIN disputes d ON d.job_id = f.job_id AND d.idx = f.idx
             WHERE ($1 IS NULL OR r.agent_id = $1)
               AND ($2 IS NULL OR r.team = $2)
               AND ($3 IS NULL OR r.started_at >= $3)
               AND ($4 IS NULL OR r.started_at < $4)
             ORDER BY CASE f.severity WHEN 'critical' THEN 3 WHEN 'major' THEN 2 WHEN 'minor' THEN 1 ELSE 0 END DESC,
                      COALESCE(r.started_at, r.processed_at) DESC, f.job_id, f.idx
             LIMIT $5",
        ))
        .bind(f.agent_id.clone())
        .bind(f.team.clone())
        .bind(f.since.clone())
        .bind(f.until.clone())
        .bind(f.limit.unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let job_id: String = r.try_get("job_id")?;
                let decision: Option<String> = r.try_get("decision")?;
                let dispute: Option<String> = r.try_get("dispute")?;
                Ok(QueueFlagRow {
                    decision: decision
                        .map(|d| d.parse())
                        .transpose()
                        .map_err(|e| corrupt(&job_id, e))?,
                    dispute: dispute
                        .map(|d| d.parse())
                        .transpose()
                        .map_err(|e| corrupt(&job_id, e))?,
                    idx: idx_of(r.try_get("idx")?),
                    agent_id: r.try_get("agent_id")?,
                    team: r.try_get("team")?,
                    kind: r.try_get("kind")?,
                    score: r.try_get("score")?,
                    started_at: r.try_get("started_at")?,
                    flag: r.try_get("flag")?,
                    rule: r.try_get("rule")?,
                    severity: r.try_get("severity")?,
                    start_s: r.try_get("start_s")?,
                    job_id,
                })
            })
            .collect()
    }

    /// Agents seen in results, with their latest team and role.
    pub async fn agents(&self, f: &ReviewFilter) -> Result<Vec<AgentRow>, StoreError> {
        let rows = sqlx::query(self.sql(
            "SELECT agent_id, MAX(team) AS team, MAX(role) AS role, COUNT(*) AS contacts, CAST(COALESCE(SUM(flag_count), 0) AS BIGINT) AS flags
             FROM results
             WHERE ($1 IS NULL OR agent_id = $1)
               AND ($2 IS NULL OR team = $2)
               AND ($3 IS NULL OR started_at >= $3)
               AND ($4 IS NULL OR started_at < $4)
             GROUP BY agent_id ORDER BY agent_id LIMIT $5",
        ))
        .bind(f.agent_id.clone())
        .bind(f.team.clone())
        .bind(f.since.clone())
        .bind(f.until.clone())
        .bind(f.limit.unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AgentRow {
                    agent_id: r.try_get("agent_id")?,
                    team: r.try_get("team")?,
                    role: r.try_get("role")?,
                    contacts: r.try_get("contacts")?,
                    flags: r.try_get("flags")?,
                })
            })
            .collect()
    }

    /// Per rule, flags raised and how humans decided them: the precision
    /// of each rule is confirmed / (confirmed + dismissed).
    pub async fn calibration(&self, f: &ReviewFilter) -> Result<Vec<CalibrationRow>, StoreError> {
        let rows = sqlx::query(self.sql(
            "SELECT f.rule, f.flag, COUNT(*) AS raised,
                    CAST(SUM(CASE WHEN v.decision = 'confirmed' THEN 1 ELSE 0 END) AS BIGINT) AS confirmed,
                    CAST(SUM(CASE WHEN v.decision = 'dismissed' THEN 1 ELSE 0 END) AS BIGINT) AS dismissed
             FROM flags f
             JOIN results r ON r.job_id = f.job_id
             LEFT JOIN flag_reviews v ON v.job_id = f.job_id AND v.idx = f.idx
             WHERE ($1 IS NULL OR r.agent_id = $1)
               AND ($2 IS NULL OR r.team = $2)
               AND ($3 IS NULL OR r.started_at >= $3)
               AND ($4 IS NULL OR r.started_at < $4)
             GROUP BY f.rule, f.flag ORDER BY f.rule, f.flag",
        ))
        .bind(f.agent_id.clone())
        .bind(f.team.clone())
        .bind(f.since.clone())
        .bind(f.until.clone())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CalibrationRow {
                    rule: r.try_get("rule")?,
                    flag: r.try_get("flag")?,
                    raised: r.try_get("raised")?,
                    confirmed: r.try_get("confirmed")?,
                    dismissed: r.try_get("dismissed")?,
                })
            })
            .collect()
    }

    // ---- supervisor scores -----------------------------------------------

    /// Sets (or replaces) a supervisor's score of an agent for a period.
    pub async fn set_supervisor_score(&self, s: &SupervisorScore) -> Result<(), StoreError> {
        sqlx::query(self.sql(
            "INSERT INTO supervisor_scores (period, agent_id, score, comment, scored_by, scored_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (period, agent_id) DO UPDATE SET score = excluded.score,
               comment = excluded.comment, scored_by = excluded.scored_by, scored_at = excluded.scored_at",
        ))
        .bind(&s.period)
        .bind(&s.agent_id)
        .bind(s.score)
        .bind(&s.comment)
        .bind(&s.scored_by)
        .bind(&s.scored_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn supervisor_scores(
        &self,
        period: &str,
    ) -> Result<Vec<SupervisorScore>, StoreError> {
        let rows = sqlx::query(self.sql(
            "SELECT period, agent_id, score, comment, scored_by, scored_at FROM supervisor_scores WHERE period = $1 ORDER BY agent_id",
        ))
        .bind(period)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SupervisorScore {
                    period: r.try_get("period")?,
                    agent_id: r.try_get("agent_id")?,
                    score: r.try_get("score")?,
                    comment: r.try_get("comment")?,
                    scored_by: r.try_get("scored_by")?,
                    scored_at: r.try_get("scored_at")?,
                })
            })
            .collect()
    }
}

fn user_from(r: &sqlx::any::AnyRow) -> Result<UserRow, StoreError> {
    let name: String = r.try_get("name")?;
    let role: String = r.try_get("role")?;
    Ok(UserRow {
        role: role.parse().map_err(|e| corrupt(&name, e))?,
        agent_id: r.try_get("agent_id")?,
        created_at: r.try_get("created_at")?,
        // Any cannot decode SQLite booleans; read it as an integer.
        disabled: r.try_get::<i64, _>("disabled")? != 0,
        name,
    })
}
