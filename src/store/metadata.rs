//! Late metadata (schema v4): CSAT, resolution, first-contact resolution,
//! handle time and custom CRM fields that arrive after a result was stored
//! — from `callqa import`, the import API, or a re-sent job. A change
//! rewrites the stored result's `metadata` and is logged in `metadata_log`
//! (who, from where, each field before and after) in one transaction.
//!
//! A patch only sets: fields it leaves out keep their stored value, and
//! custom fields are merged by name. `started_at` and `channel` are never
//! changed here: they decided the result's period and thresholds, so a
//! change to them needs the job analysed again under a new id.

use std::collections::BTreeMap;

use serde_json::Value;
use sqlx::Row;

use super::{now, Backend, Store, StoreError};
use crate::wire::job::MetadataWire;

/// What an update did to one stored result.
#[derive(Debug, Clone, PartialEq)]
pub struct MetadataChange {
    pub job_id: String,
    /// Field → (before, after); empty when the patch changed nothing.
    pub changes: BTreeMap<String, (Value, Value)>,
}

/// One row of the metadata audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct MetadataLogRow {
    pub job_id: String,
    pub actor: String,
    /// Where the change came from: `import:FILE:LINE`, `api`, `resend:…`.
    pub source: String,
    /// JSON object: field → `[before, after]`.
    pub changes: String,
    pub at: String,
}

/// Fields a patch may not change (see the module docs).
const FIXED: [&str; 2] = ["started_at", "channel"];

/// `stored` with `patch` applied, and what changed. Pure.
pub fn merge(
    stored: &MetadataWire,
    patch: &MetadataWire,
) -> (MetadataWire, BTreeMap<String, (Value, Value)>) {
    let as_map = |m: &MetadataWire| match serde_json::to_value(m) {
        Ok(Value::Object(o)) => o,
        _ => serde_json::Map::new(),
    };
    let before = as_map(stored);
    let mut after = before.clone();
    let mut changes = BTreeMap::new();
    for (k, v) in as_map(patch) {
        if FIXED.contains(&k.as_str()) {
            continue;
        }
        let old = before.get(&k).cloned().unwrap_or(Value::Null);
        if k == "custom" {
            // Merged by name: other custom fields stay.
            let mut merged = match &old {
                Value::Object(o) => o.clone(),
                _ => serde_json::Map::new(),
            };
            if let Value::Object(new) = v {
                for (name, val) in new {
                    let prev = merged.get(&name).cloned().unwrap_or(Value::Null);
                    if prev != val {
                        changes.insert(format!("custom.{name}"), (prev, val.clone()));
                        merged.insert(name, val);
                    }
                }
            }
            after.insert(k, Value::Object(merged));
        } else if old != v {
            changes.insert(k.clone(), (old, v.clone()));
            after.insert(k, v);
        }
    }
    let merged = serde_json::from_value(Value::Object(after)).unwrap_or_else(|_| stored.clone());
    (merged, changes)
}

impl Store {
    /// Applies a metadata patch to a stored result, logging the change;
    /// `None` if no result has that job id.
    pub async fn update_metadata(
        &self,
        job_id: &str,
        patch: &MetadataWire,
        actor: &str,
        source: &str,
    ) -> Result<Option<MetadataChange>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let select = match self.backend {
            Backend::Postgres => "SELECT result FROM results WHERE job_id = $1 FOR UPDATE",
            Backend::Sqlite => "SELECT result FROM results WHERE job_id = $1",
        };
        let Some(row) = sqlx::query(self.sql(select))
            .bind(job_id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let json: String = row.try_get(0)?;
        let corrupt = |e: serde_json::Error| StoreError::Corrupt {
            job_id: job_id.to_owned(),
            message: e.to_string(),
        };
        let mut result: crate::wire::ResultWire = serde_json::from_str(&json).map_err(corrupt)?;
        let (merged, changes) = merge(&result.metadata, patch);
        if changes.is_empty() {
            tx.rollback().await?;
            return Ok(Some(MetadataChange {
                job_id: job_id.to_owned(),
                changes,
            }));
        }
        result.metadata = merged;
        let json = serde_json::to_string(&result).map_err(corrupt)?;
        sqlx::query(self.sql(
            "UPDATE results SET result = $1, customer_id = $2, ticket_id = $3 WHERE job_id = $4",
        ))
        .bind(json)
        .bind(result.metadata.customer_id.clone())
        .bind(result.metadata.ticket_id.clone())
        .bind(job_id)
        .execute(&mut *tx)
        .await?;
        let log: serde_json::Map<String, Value> = changes
            .iter()
            .map(|(k, (a, b))| (k.clone(), Value::Array(vec![a.clone(), b.clone()])))
            .collect();
        sqlx::query(self.sql(
            "INSERT INTO metadata_log (job_id, actor, source, changes, at) VALUES ($1, $2, $3, $4, $5)",
        ))
        .bind(job_id)
        .bind(actor)
        .bind(source)
        .bind(Value::Object(log).to_string())
        .bind(now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(MetadataChange {
            job_id: job_id.to_owned(),
            changes,
        }))
    }

    /// Job ids of the stored results with this ticket id.
    pub async fn jobs_by_ticket(&self, ticket_id: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            self.sql("SELECT job_id FROM results WHERE ticket_id = $1 ORDER BY job_id"),
        )
        .bind(ticket_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>(0)?))
            .collect()
    }

    /// The metadata audit log of one result (all results: `None`), oldest
    /// first.
    pub async fn metadata_log(
        &self,
        job_id: Option<&str>,
    ) -> Result<Vec<MetadataLogRow>, StoreError> {
        let rows = sqlx::query(self.sql(
            "SELECT job_id, actor, source, changes, at FROM metadata_log
             WHERE ($1 IS NULL OR job_id = $1) ORDER BY id",
        ))
        .bind(job_id.map(str::to_owned))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MetadataLogRow {
                    job_id: r.try_get("job_id")?,
                    actor: r.try_get("actor")?,
                    source: r.try_get("source")?,
                    changes: r.try_get("changes")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_sets_what_the_patch_has_and_logs_it() {
        let stored = MetadataWire {
            customer_id: Some("C1".into()),
            csat: Some(2.0),
            ticket_id: Some("T-1".into()),
            started_at: Some("2026-11-02T10:00:00+08:00".into()),
            custom: BTreeMap::from([("product".into(), "tv".into())]),
            ..Default::default()
        };
        let patch = MetadataWire {
            csat: Some(5.0),
            resolved: Some(true),
            started_at: Some("2030-01-01T00:00:00+08:00".into()),
            custom: BTreeMap::from([("order_value".into(), "120".into())]),
            ..Default::default()
        };
        let (m, ch) = merge(&stored, &patch);
        assert_eq!(m.csat, Some(5.0));
        assert_eq!(m.resolved, Some(true));
        assert_eq!(m.customer_id.as_deref(), Some("C1"), "left out: kept");
        assert_eq!(
            m.started_at.as_deref(),
            Some("2026-11-02T10:00:00+08:00"),
            "never changed here"
        );
        assert_eq!(m.custom.len(), 2, "custom fields merged by name");
        let keys: Vec<&str> = ch.keys().map(String::as_str).collect();
        assert_eq!(keys, ["csat", "custom.order_value", "resolved"]);
        assert_eq!(ch["csat"], (Value::from(2.0), Value::from(5.0)));
        // The same patch again changes nothing.
        let (_, again) = merge(&m, &patch);
        assert!(again.is_empty());
    }
}
