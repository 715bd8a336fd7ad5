//! The store on a real PostgreSQL, as many workers use it: concurrent
//! start-ups migrating one fresh database, concurrent writers storing the
//! same jobs (each stored once), and the listing and failure records the
//! CLI reads. Each test creates and drops a database of its own.

mod common;

use std::process::Command;

use callqa::store::{ResultFilter, Saved, Store};
use callqa::wire::{FailureWire, ResultWire};
use common::*;
use sqlx::Connection as _;

/// A fresh database, dropped at the end.
struct Db(String);
impl Db {
    fn new(what: &str) -> Db {
        let name = format!("callqa_{}", unique(what).replace(['-', 'x'], "_"));
        pg_admin(&format!("CREATE DATABASE \"{name}\""));
        Db(name)
    }
    fn url(&self) -> String {
        pg_url_for(&self.0)
    }
    fn scalar(&self, sql: &str) -> i64 {
        let (url, sql) = (self.url(), sql.to_owned());
        block_on(async move {
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            let v: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut c)
                .await
                .unwrap();
            v
        })
    }
}
impl Drop for Db {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.0);
        let _ = std::thread::spawn(move || pg_admin(&sql)).join();
    }
}

/// Real results, scored by `callqa analyze --json --no-store`.
fn results(stem: &str, n: usize) -> Vec<ResultWire> {
    let dir = tempfile::tempdir().unwrap();
    let (_, jobs) = batch(stem, n);
    let file = write_jobs(dir.path(), "jobs", &jobs);
    let out = Command::new(env!("CARGO_BIN_EXE_callqa"))
        .current_dir(dir.path())
        .env("CALLQA_RULES", rules_dir())
        .args(["analyze", "--json", "--no-store", "--rules-only"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Vec<ResultWire> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a result line"))
        .collect();
    assert_eq!(v.len(), n);
    v
}

#[test]
fn concurrent_start_ups_migrate_one_fresh_database() {
    let db = Db::new("migrate");
    let url = db.url();
    let stores: Vec<Result<Store, String>> = block_on(async move {
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move { Store::connect(&url).await.map_err(|e| e.to_string()) })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    for s in &stores {
        if let Err(e) = s {
            panic!("a concurrent start-up failed: {e}");
        }
    }
    assert!(db.scalar("SELECT COUNT(*) FROM callqa_migrations") >= 1);
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM callqa_migrations"),
        db.scalar("SELECT COUNT(DISTINCT version) FROM callqa_migrations")
    );
    assert_eq!(db.scalar("SELECT COUNT(*) FROM results"), 0);
}

#[test]
fn concurrent_writers_of_the_same_jobs_store_each_once() {
    let db = Db::new("writers");
    let rs = results(&unique("w"), 60);
    let flags: i64 = rs.iter().map(|r| r.flags.len() as i64).sum();
    assert!(flags > 0, "some test jobs raise flags");
    let url = db.url();
    let (inserted, duplicate) = block_on(async move {
        let a = Store::connect(&url).await.unwrap();
        let b = Store::connect(&url).await.unwrap();
        let mut tasks = Vec::new();
        for r in &rs {
            for s in [&a, &b] {
                let (s, r) = (s.clone(), r.clone());
                tasks.push(tokio::spawn(async move { s.save_result(&r).await }));
            }
        }
        let (mut ins, mut dup) = (0, 0);
        for t in tasks {
            match t.await.unwrap().expect("save_result") {
                Saved::Inserted => ins += 1,
                Saved::Duplicate => dup += 1,
            }
        }
        (ins, dup)
    });
    assert_eq!((inserted, duplicate), (60, 60));
    assert_eq!(db.scalar("SELECT COUNT(*) FROM results"), 60);
    assert_eq!(db.scalar("SELECT COUNT(*) FROM flags"), flags);
}

#[test]
fn listing_and_failure_records_work_on_postgres() {
    let db = Db::new("listing");
    let rs = results(&unique("l"), 6);
    let url = db.url();
    block_on(async move {
        let s = Store::connect(&url).await.unwrap();
        let job = rs[1].job_id.clone();
        let e = callqa::error::JobError::retry(callqa::error::Stage::Store, "database down");
        let f = FailureWire::new(Some(job.clone()), "amqp:q#1", &e);
        s.save_failure(&f).await.unwrap();
        s.save_failure(&f).await.unwrap();
        let failures = s.list_failures(10).await.unwrap();
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].attempts, 2);
        assert_eq!(failures[0].stage, "store");

        for r in &rs {
            assert_eq!(s.save_result(r).await.unwrap(), Saved::Inserted);
        }
        assert_eq!(
            s.count_failures().await.unwrap(),
            0,
            "a stored result clears its failure"
        );
        let rows = s.list_results(&ResultFilter::default()).await.unwrap();
        assert_eq!(rows.len(), 6);
        for r in &rs {
            let row = rows.iter().find(|x| x.job_id == r.job_id).unwrap();
            assert_eq!(row.passed, r.passed, "{}", r.job_id);
            assert_eq!(row.flag_count, r.flags.len() as i64);
        }
        let flagged = s
            .list_results(&ResultFilter {
                flagged_only: true,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(flagged.len(), rs.iter().filter(|r| r.is_flagged()).count());
        assert_eq!(s.get_result(&job).await.unwrap().as_ref(), Some(&rs[1]));
    });
}

/// Late metadata on PostgreSQL (the row is locked `FOR UPDATE` there):
/// two concurrent imports of different fields both land, each logged,
/// and results are found by ticket id.
#[test]
fn late_metadata_updates_and_audit_work_on_postgres() {
    let db = Db::new("metadata");
    let mut rs = results(&unique("m"), 2);
    rs[0].metadata.ticket_id = Some("T-1".into());
    let url = db.url();
    let job = rs[0].job_id.clone();
    block_on(async move {
        let s = Store::connect(&url).await.unwrap();
        for r in &rs {
            s.save_result(r).await.unwrap();
        }
        assert_eq!(s.jobs_by_ticket("T-1").await.unwrap(), vec![job.clone()]);
        let csat = callqa::wire::job::MetadataWire {
            csat: Some(5.0),
            ..Default::default()
        };
        let resolved = callqa::wire::job::MetadataWire {
            resolved: Some(true),
            ..Default::default()
        };
        let (a, b) = tokio::join!(
            s.update_metadata(&job, &csat, "crm", "import:a.csv:2"),
            s.update_metadata(&job, &resolved, "crm", "import:b.csv:2"),
        );
        assert!(!a.unwrap().unwrap().changes.is_empty());
        assert!(!b.unwrap().unwrap().changes.is_empty());
        let r = s.get_result(&job).await.unwrap().unwrap();
        assert_eq!(
            (r.metadata.csat, r.metadata.resolved),
            (Some(5.0), Some(true))
        );
        assert_eq!(s.metadata_log(Some(&job)).await.unwrap().len(), 2);
        assert!(s
            .update_metadata("no-such-job", &csat, "crm", "x")
            .await
            .unwrap()
            .is_none());
    });
}
