//! Retention: deleting everything stored about contacts older than a
//! cut-off (`callqa purge`, `[privacy] retention_days`).

use sqlx::Row;

use super::{Store, StoreError};
use crate::wire::ResultWire;

/// What a purge removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Purged {
    pub results: u64,
    pub flags: u64,
    pub failures: u64,
    /// Flag decisions, disputes and review-log entries.
    pub reviews: u64,
    /// The recording paths the removed results named (the caller deletes
    /// the redacted copies among them; originals are not ours to delete).
    pub recordings: Vec<String>,
}

impl Store {
    /// Deletes results processed before `before` (RFC 3339, UTC, as
    /// stored) with their flags and review data, and failure records from
    /// before it, in one transaction.
    pub async fn purge_before(&self, before: &str) -> Result<Purged, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut out = Purged::default();
        let rows = sqlx::query(self.sql("SELECT result FROM results WHERE processed_at < $1"))
            .bind(before)
            .fetch_all(&mut *tx)
            .await?;
        for r in rows {
            let json: String = r.try_get(0)?;
            let recording = serde_json::from_str::<ResultWire>(&json)
                .ok()
                .and_then(|r| r.recording);
            out.recordings.extend(recording);
        }
        for table in ["review_log", "flag_reviews", "disputes"] {
            let q = match table {
                "review_log" => "DELETE FROM review_log WHERE job_id IN (SELECT job_id FROM results WHERE processed_at < $1)",
                "flag_reviews" => "DELETE FROM flag_reviews WHERE job_id IN (SELECT job_id FROM results WHERE processed_at < $1)",
                _ => "DELETE FROM disputes WHERE job_id IN (SELECT job_id FROM results WHERE processed_at < $1)",
            };
            out.reviews += sqlx::query(self.sql(q))
                .bind(before)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        out.flags = sqlx::query(self.sql(
            "DELETE FROM flags WHERE job_id IN (SELECT job_id FROM results WHERE processed_at < $1)",
        ))
        .bind(before)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        out.results = sqlx::query(self.sql("DELETE FROM results WHERE processed_at < $1"))
            .bind(before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        out.failures = sqlx::query(self.sql("DELETE FROM failures WHERE failed_at < $1"))
            .bind(before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(out)
    }
}
