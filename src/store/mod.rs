//! Storage of results and failure records in SQLite (the embedded default,
//! one file, no server) or PostgreSQL (shared by many workers). This module
//! owns sqlx; the rest of callqa sees `Store` and wire types.
//!
//! Writes are idempotent by job id: storing a result a second time (a
//! redelivered message) changes nothing and says so.

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, AssertSqlSafe, Connection as _, Row};

mod metadata;
mod purge;
mod reviews;
mod search;
mod sessions;
mod tasks;

pub use metadata::{merge as merge_metadata, MetadataChange, MetadataLogRow};

pub use purge::Purged;
pub use search::{ContactRow, ContactSearch, ReviewState, SearchPage};
pub use sessions::{SessionRow, SessionSummary};
pub use tasks::{NewTask, TaskFilter, TaskRow};

pub use reviews::{
    AgentRow, CalibrationRow, Dispute, DisputeDecided, DisputeOpened, FlagReview, LogEntry,
    QueueFlagRow, ReviewFilter, Reviewed, SupervisorScore, UserAdded, UserRow,
};

use crate::error::{Classify, Disposition};
use crate::wire::{FailureWire, ResultWire};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("database: {0}")]
    Query(#[from] sqlx::Error),
    #[error("unsupported database URL {0:?} (expected sqlite://PATH or postgres://…)")]
    Url(String),
    #[error("stored result {job_id} is unreadable: {message}")]
    Corrupt { job_id: String, message: String },
    #[error("cannot open the SQLite database {path}: {source} (check that the folder exists and is writable by this user)")]
    SqliteFile {
        path: String,
        source: std::io::Error,
    },
}

impl Classify for StoreError {
    fn disposition(&self) -> Disposition {
        match self {
            StoreError::Url(_) | StoreError::Corrupt { .. } => Disposition::Reject,
            StoreError::Query(e) if is_data_error(e) => Disposition::Reject,
            // Connections drop, pools time out, servers restart: retry.
            _ => Disposition::Retry,
        }
    }
}

/// Errors about the data itself, which no retry can fix: decoding, and
/// what the database refuses in a value (PostgreSQL SQLSTATE class 22, data
/// exception: a NUL byte in text, a bad encoding, a value out of range;
/// class 54, program limit exceeded: a key over the index row size; SQLite
/// SQLITE_TOOBIG). Not constraint violations (class 23): those are races
/// the idempotent writes already handle, or bugs worth retrying loudly.
fn is_data_error(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::TypeNotFound { .. }
        | sqlx::Error::Encode(_) => true,
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => {
                code.starts_with("22")
                    || code.starts_with("54")
                    // SQLITE_TOOBIG (a string or blob over the length limit).
                    || code == "18"
            }
            None => false,
        },
        _ => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// What storing a result did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    Inserted,
    /// A result for this job id was already stored; nothing changed.
    Duplicate,
}

/// One row of `callqa results`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    pub job_id: String,
    pub agent_id: String,
    pub team: Option<String>,
    pub kind: String,
    pub language: String,
    pub score: f64,
    pub passed: bool,
    pub flag_count: i64,
    pub started_at: Option<String>,
    pub processed_at: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FailureRow {
    pub job_id: Option<String>,
    pub source: String,
    pub stage: String,
    pub reason: String,
    pub attempts: i64,
    pub failed_at: String,
}

/// Filters for listing results.
#[derive(Debug, Clone, Default)]
pub struct ResultFilter {
    pub agent_id: Option<String>,
    pub team: Option<String>,
    /// Inclusive lower bound on `started_at` (RFC 3339, UTC).
    pub since: Option<String>,
    /// Exclusive upper bound on `started_at`.
    pub until: Option<String>,
    pub flagged_only: bool,
    pub limit: Option<i64>,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        include_str!("migrations/0001_init.sqlite.sql"),
        include_str!("migrations/0001_init.postgres.sql"),
    ),
    // Review: users, flag decisions, disputes, supervisor scores, audit log.
    (
        2,
        include_str!("migrations/0002_reviews.sqlite.sql"),
        include_str!("migrations/0002_reviews.postgres.sql"),
    ),
    // One row rewritten by health checks: a probe that commits a write.
    (
        3,
        include_str!("migrations/0003_health.sqlite.sql"),
        include_str!("migrations/0003_health.postgres.sql"),
    ),
    // Late metadata: results by ticket id, and the metadata audit log.
    (
        4,
        include_str!("migrations/0004_metadata.sqlite.sql"),
        include_str!("migrations/0004_metadata.postgres.sql"),
    ),
    // The review desk: transcript search (SQLite FTS5 trigram, PostgreSQL
    // pg_trgm), review tasks drawn by sampling plans, calibration sessions.
    (
        5,
        include_str!("migrations/0005_review_desk.sqlite.sql"),
        include_str!("migrations/0005_review_desk.postgres.sql"),
    ),
];

/// Opens (creating if needed) the file an SQLite URL names, so a folder
/// that is missing or not writable is reported at once with the operating
/// system's reason, instead of as a pool timeout ten seconds later.
fn check_sqlite_file(url: &str) -> Result<(), StoreError> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
        return Ok(());
    }
    let read_only = url.contains("mode=ro");
    std::fs::OpenOptions::new()
        .read(true)
        .write(!read_only)
        .create(!read_only)
        .truncate(false)
        .open(path)
        .map(drop)
        .map_err(|source| StoreError::SqliteFile {
            path: path.to_owned(),
            source,
        })
}

/// Normalises a database setting: a bare path means an SQLite file.
pub fn database_url(setting: &str) -> String {
    if setting.contains("://") || setting.starts_with("sqlite:") {
        setting.to_owned()
    } else {
        format!("sqlite://{setting}")
    }
}

impl Store {
    /// Connects, creating an SQLite file if needed, and migrates the schema.
    pub async fn connect(setting: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let mut url = database_url(setting);
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::Url(setting.to_owned()));
        };
        if backend == Backend::Sqlite && !url.contains("mode=") && !url.contains(":memory:") {
            url.push_str(if url.contains('?') {
                "&mode=rwc"
            } else {
                "?mode=rwc"
            });
        }
        if backend == Backend::Sqlite {
            check_sqlite_file(&url)?;
        }
        let opts = AnyConnectOptions::from_str(&url).map_err(|source| StoreError::Connect {
            url: redact(&url),
            source,
        })?;
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                // One writer at a time is all SQLite allows anyway.
                Backend::Sqlite => 1,
                Backend::Postgres => 8,
            })
            .acquire_timeout(Duration::from_secs(10))
            // A connection whose transaction could not be committed or rolled
            // back is never reused: after a failed COMMIT (SQLITE_FULL or
            // SQLITE_IOERR) SQLite has already rolled back, sqlx's ROLLBACK
            // then fails and sqlx still counts a transaction open, so the next
            // "transaction" would be a savepoint inside a transaction that is
            // never committed, and every later write would vanish silently.
            // Closing the connection rolls back whatever is left; the pool
            // opens a fresh one.
            .after_release(|conn, _| {
                Box::pin(async move {
                    if !conn.is_in_transaction() {
                        return Ok(true);
                    }
                    // A dropped transaction queues its rollback: let it run.
                    conn.ping().await?;
                    let clean = !conn.is_in_transaction();
                    if !clean {
                        tracing::warn!("database connection left inside a failed transaction; closing it");
                    }
                    Ok(clean)
                })
            })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        sqlx::raw_sql("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(opts)
            .await
            .map_err(|source| StoreError::Connect {
                url: redact(&url),
                source,
            })?;
        let store = Store { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Placeholders are written `$1`; SQLite spells them `?1`.
    fn sql(&self, q: &'static str) -> AssertSqlSafe<Cow<'static, str>> {
        AssertSqlSafe(match self.backend {
            Backend::Postgres => Cow::Borrowed(q),
            Backend::Sqlite => Cow::Owned(q.replace('$', "?")),
        })
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            // Several workers may start at once.
            sqlx::raw_sql("SELECT pg_advisory_xact_lock(7402519)")
                .execute(&mut *tx)
                .await?;
        }
        sqlx::raw_sql("CREATE TABLE IF NOT EXISTS callqa_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)")
            .execute(&mut *tx)
            .await?;
        let done: Vec<i64> = sqlx::query("SELECT version FROM callqa_migrations")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get::<i64, _>(0))
            .collect::<Result<_, _>>()?;
        for (version, sqlite, postgres) in MIGRATIONS {
            if done.contains(version) {
                continue;
            }
            let script = match self.backend {
                Backend::Sqlite => sqlite,
                Backend::Postgres => postgres,
            };
            sqlx::raw_sql(*script).execute(&mut *tx).await?;
            sqlx::query(
                self.sql("INSERT INTO callqa_migrations (version, applied_at) VALUES ($1, $2)"),
            )
            .bind(*version)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Stores a result and its flags in one transaction; a second store of
    /// the same job id is a no-op reported as `Duplicate`. A stored result
    /// clears an earlier failure record of the same job.
    pub async fn save_result(&self, r: &ResultWire) -> Result<Saved, StoreError> {
        let json = serde_json::to_string(r).map_err(|e| StoreError::Corrupt {
            job_id: r.job_id.clone(),
            message: e.to_string(),
        })?;
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(self.sql(
            "INSERT INTO results (job_id, agent_id, team, role, kind, language, channel, score, passed, flag_count, customer_id, started_at, processed_at, result, ticket_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
             ON CONFLICT (job_id) DO NOTHING",
        ))
        .bind(&r.job_id)
        .bind(&r.agent_id)
        .bind(r.agent.team.clone())
        .bind(r.agent.role.clone())
        .bind(kind_str(r))
        .bind(r.language.as_str())
        .bind(&r.channel)
        .bind(r.score)
        .bind(r.passed)
        .bind(r.flags.len() as i64)
        .bind(r.metadata.customer_id.clone())
        .bind(r.started_at.as_deref().map(utc))
        .bind(&r.processed_at)
        .bind(json)
        .bind(r.metadata.ticket_id.clone())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            tx.rollback().await?;
            return Ok(Saved::Duplicate);
        }
        for (i, f) in r.flags.iter().enumerate() {
            let (start, end) = f
                .evidence
                .first()
                .map(|e| (e.start, e.end))
                .unwrap_or((0.0, 0.0));
            sqlx::query(self.sql(
                "INSERT INTO flags (job_id, idx, agent_id, flag, rule, severity, start_s, end_s) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            ))
            .bind(&r.job_id)
            .bind(i as i64)
            .bind(&r.agent_id)
            .bind(f.id.as_str())
            .bind(&f.rule)
            .bind(f.severity.as_str())
            .bind(start)
            .bind(end)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(self.sql("DELETE FROM failures WHERE job_key = $1"))
            .bind(&r.job_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Saved::Inserted)
    }

    /// Records a job that could not be processed. One record per job id
    /// (or per source when the id was unreadable); a repeat bumps `attempts`.
    /// A job that already has a result is not marked failed.
    pub async fn save_failure(&self, f: &FailureWire) -> Result<(), StoreError> {
        let key = match &f.job_id {
            Some(id) => id.clone(),
            None => format!("source:{}", f.source),
        };
        if let Some(id) = &f.job_id {
            if self.result_exists(id).await? {
                return Ok(());
            }
        }
        sqlx::query(self.sql(
            "INSERT INTO failures (job_key, job_id, source, stage, disposition, reason, attempts, failed_at)
             VALUES ($1, $2, $3, $4, $5, $6, 1, $7)
             ON CONFLICT (job_key) DO UPDATE SET source = excluded.source, stage = excluded.stage,
               disposition = excluded.disposition, reason = excluded.reason,
               attempts = failures.attempts + 1, failed_at = excluded.failed_at",
        ))
        .bind(key)
        .bind(f.job_id.clone())
        .bind(&f.source)
        .bind(f.stage.as_str())
        .bind(match f.disposition {
            Disposition::Retry => "retry",
            Disposition::Reject => "reject",
        })
        .bind(&f.reason)
        .bind(&f.failed_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn result_exists(&self, job_id: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(self.sql("SELECT COUNT(*) FROM results WHERE job_id = $1"))
            .bind(job_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>(0)? > 0)
    }

    pub async fn get_result(&self, job_id: &str) -> Result<Option<ResultWire>, StoreError> {
        let row = sqlx::query(self.sql("SELECT result FROM results WHERE job_id = $1"))
            .bind(job_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let json: String = r.try_get(0)?;
            serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
                job_id: job_id.to_owned(),
                message: e.to_string(),
            })
        })
        .transpose()
    }

    pub async fn count_results(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) FROM results")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>(0)?)
    }

    pub async fn count_failures(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) FROM failures")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>(0)?)
    }

    /// Results, newest first, with optional filters.
    pub async fn list_results(&self, f: &ResultFilter) -> Result<Vec<ResultRow>, StoreError> {
        let rows = sqlx::query(self.sql(
            "SELECT job_id, agent_id, team, kind, language, score, CASE WHEN passed THEN CAST(1 AS BIGINT) ELSE CAST(0 AS BIGINT) END AS passed, flag_count, started_at, processed_at
             FROM results
             WHERE ($1 IS NULL OR agent_id = $1)
               AND ($2 IS NULL OR team = $2)
               AND ($3 IS NULL OR started_at >= $3)
               AND ($4 IS NULL OR started_at < $4)
               AND ($5 = 0 OR flag_count > 0)
             ORDER BY COALESCE(started_at, processed_at) DESC, job_id
             LIMIT $6",
        ))
        .bind(f.agent_id.clone())
        .bind(f.team.clone())
        .bind(f.since.clone())
        .bind(f.until.clone())
        .bind(f.flagged_only as i64)
        .bind(f.limit.unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ResultRow {
                    job_id: r.try_get("job_id")?,
                    agent_id: r.try_get("agent_id")?,
                    team: r.try_get("team")?,
                    kind: r.try_get("kind")?,
                    language: r.try_get("language")?,
                    score: r.try_get("score")?,
                    // Any cannot decode SQLite booleans; read it as an integer.
                    passed: r.try_get::<i64, _>("passed")? != 0,
                    flag_count: r.try_get("flag_count")?,
                    started_at: r.try_get("started_at")?,
                    processed_at: r.try_get("processed_at")?,
                })
            })
            .collect()
    }

    /// Full results in a period, for reports. A result without a start
    /// time is placed at the time it was processed.
    pub async fn results_between(&self, f: &ResultFilter) -> Result<Vec<ResultWire>, StoreError> {
        let rows = sqlx::query(self.sql(
            "SELECT job_id, result FROM results
             WHERE ($1 IS NULL OR agent_id = $1)
               AND ($2 IS NULL OR team = $2)
               AND ($3 IS NULL OR COALESCE(started_at, processed_at) >= $3)
               AND ($4 IS NULL OR COALESCE(started_at, processed_at) < $4)
             ORDER BY COALESCE(started_at, processed_at), job_id",
        ))
        .bind(f.agent_id.clone())
        .bind(f.team.clone())
        .bind(f.since.clone())
        .bind(f.until.clone())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get(0)?;
                let json: String = r.try_get(1)?;
                serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
                    job_id: id,
                    message: e.to_string(),
                })
            })
            .collect()
    }

    pub async fn list_failures(&self, limit: i64) -> Result<Vec<FailureRow>, StoreError> {
        let rows = sqlx::query(self.sql(
            "SELECT job_id, source, stage, reason, attempts, failed_at FROM failures ORDER BY failed_at DESC LIMIT $1",
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(FailureRow {
                    job_id: r.try_get("job_id")?,
                    source: r.try_get("source")?,
                    stage: r.try_get("stage")?,
                    reason: r.try_get("reason")?,
                    attempts: r.try_get("attempts")?,
                    failed_at: r.try_get("failed_at")?,
                })
            })
            .collect()
    }

    /// Round trip to the database, for health checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").fetch_one(&self.pool).await?;
        Ok(())
    }

    /// Commits a one-row write: whether results can be stored now. A
    /// database that answers `SELECT 1` may still refuse every write (a
    /// full disk, a read-only file), which is what matters to a worker.
    pub async fn probe_write(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(self.sql(
            "INSERT INTO callqa_health (id, checked_at) VALUES (1, $1)
             ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
        ))
        .bind(now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The pool, for modules that add their own tables (reviews).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn kind_str(r: &ResultWire) -> &'static str {
    match r.kind {
        crate::wire::job::JobKind::Chat => "chat",
        crate::wire::job::JobKind::Call => "call",
    }
}

/// RFC 3339 in UTC with a `Z`, so text comparison orders times.
pub fn utc(t: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| {
            d.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        })
        .unwrap_or_else(|_| t.to_owned())
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Hides a password in a database URL for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
