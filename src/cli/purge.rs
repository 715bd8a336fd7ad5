//! `callqa purge`: retention. Deletes what the store holds about contacts
//! processed before a cut-off, and the redacted recordings of those calls.

use std::path::Path;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;

use crate::config::Config;
use crate::store::Store;

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Delete data processed before this date (YYYY-MM-DD, midnight UTC, or
    /// an RFC 3339 time). Default: now minus `[privacy] retention_days`.
    #[arg(long)]
    pub before: Option<String>,
}

/// The cut-off from `--before` or the retention setting.
pub fn cutoff(
    before: Option<&str>,
    retention_days: u32,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>> {
    match before {
        Some(s) => {
            if let Ok(d) = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
                return Ok(d.and_hms_opt(0, 0, 0).context("midnight")?.and_utc());
            }
            DateTime::parse_from_rfc3339(s.trim())
                .map(|t| t.with_timezone(&Utc))
                .with_context(|| format!("--before {s:?}: expected YYYY-MM-DD or an RFC 3339 time"))
        }
        None if retention_days > 0 => Ok(now - chrono::Duration::days(i64::from(retention_days))),
        None => bail!("nothing to purge: give --before DATE or set [privacy] retention_days"),
    }
}

pub async fn purge(cfg: Config, a: PurgeArgs) -> Result<i32> {
    let at = cutoff(a.before.as_deref(), cfg.privacy.retention_days, Utc::now())?;
    let before = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let store = Store::connect(&cfg.database).await?;
    let purged = store.purge_before(&before).await;
    store.close().await;
    let purged = purged?;
    // Only our redacted copies are deleted; an original recording belongs
    // to the centre's recording system.
    let mut audio = 0;
    let dir = std::fs::canonicalize(&cfg.privacy.audio_dir).ok();
    for r in &purged.recordings {
        let p = Path::new(r);
        let ours = dir
            .as_ref()
            .zip(std::fs::canonicalize(p).ok())
            .is_some_and(|(d, f)| f.starts_with(d));
        if ours && std::fs::remove_file(p).is_ok() {
            audio += 1;
        }
    }
    println!(
        "purged before {before}: {} results, {} flags, {} failure records, {} review records, {} redacted recordings",
        purged.results, purged.flags, purged.failures, purged.reviews, audio
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoff_from_date_time_or_retention() {
        let now = DateTime::parse_from_rfc3339("2026-12-02T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let cases: &[(Option<&str>, u32, Option<&str>)] = &[
            (Some("2026-11-01"), 0, Some("2026-11-01T00:00:00+00:00")),
            (
                Some("2026-11-01T10:00:00+08:00"),
                0,
                Some("2026-11-01T02:00:00+00:00"),
            ),
            (None, 30, Some("2026-11-02T08:00:00+00:00")),
            (None, 0, None),
            (Some("yesterday"), 30, None),
        ];
        for (before, days, want) in cases {
            let got = cutoff(*before, *days, now).ok().map(|t| t.to_rfc3339());
            assert_eq!(got.as_deref(), *want, "{before:?} {days}");
        }
    }
}
