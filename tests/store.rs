//! The store against both backends: the embedded SQLite file and a real
//! PostgreSQL (CALLQA_TEST_POSTGRES, exported by scripts/test.sh; the test
//! fails if the server is unreachable). Results are idempotent by job id,
//! failures are counted per job and cleared by a later result.

use callqa::error::{JobError, Stage};
use callqa::store::{ResultFilter, Saved, Store};
use callqa::wire::job::{AgentWire, JobKind, MetadataWire};
use callqa::wire::result::{EvidenceWire, FlagWire, MetricsWire, VersionsWire};
use callqa::wire::{FailureWire, ResultWire};

fn result(job: &str, agent: &str, started: &str, flags: usize) -> ResultWire {
    ResultWire {
        job_id: job.into(),
        agent_id: agent.into(),
        agent: AgentWire {
            id: agent.into(),
            name: None,
            team: Some("t1".into()),
            role: None,
        },
        kind: JobKind::Chat,
        language: callqa::domain::Language::En,
        channel: "chat".into(),
        started_at: Some(started.into()),
        score: if flags > 0 { 70.0 } else { 100.0 },
        passed: flags == 0,
        pass_score: 80.0,
        scoreable: true,
        unscoreable_reason: None,
        flags: (0..flags)
            .map(|i| FlagWire {
                id: callqa::domain::FlagId::ForbiddenPhrase,
                rule: "buck_passing".into(),
                severity: callqa::domain::Severity::Major,
                message: "m".into(),
                evidence: vec![EvidenceWire {
                    speaker: None,
                    start: i as f64,
                    end: i as f64 + 1.0,
                    text: "x".into(),
                    turn: None,
                    highlight: None,
                    similarity: None,
                }],
            })
            .collect(),
        metrics: MetricsWire::default(),
        coaching: vec![],
        sections: vec![],
        fatal: vec![],
        attribution: callqa::domain::Attribution::Typed,
        recording: None,
        turns: vec![],
        contact_reason: None,
        diagnostics: vec![],
        metadata: MetadataWire::default(),
        versions: VersionsWire::default(),
        processed_at: "2026-11-20T00:00:00.000Z".into(),
    }
}

async fn exercise(store: &Store) {
    // Two runs of the same job: one row, the second reported as duplicate.
    let a = result("j-1", "A1", "2026-11-02T10:00:00+08:00", 2);
    assert_eq!(store.save_result(&a).await.unwrap(), Saved::Inserted);
    assert_eq!(store.save_result(&a).await.unwrap(), Saved::Duplicate);
    store
        .save_result(&result("j-2", "A1", "2026-10-31T23:00:00+00:00", 0))
        .await
        .unwrap();
    store
        .save_result(&result("j-3", "A2", "2026-11-15T09:00:00+00:00", 0))
        .await
        .unwrap();
    assert_eq!(store.count_results().await.unwrap(), 3);
    assert_eq!(store.get_result("j-1").await.unwrap().unwrap(), a);
    assert!(store.get_result("nope").await.unwrap().is_none());

    // Filters: agent, flagged, and the period by UTC start time
    // (2026-11-02T10:00+08:00 is 02:00Z, inside November).
    let rows = store
        .list_results(&ResultFilter {
            agent_id: Some("A1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let flagged = store
        .list_results(&ResultFilter {
            flagged_only: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        flagged
            .iter()
            .map(|r| (r.job_id.as_str(), r.flag_count, r.passed))
            .collect::<Vec<_>>(),
        [("j-1", 2, false)]
    );
    let nov = store
        .results_between(&ResultFilter {
            since: Some("2026-11-01T00:00:00.000Z".into()),
            until: Some("2026-12-01T00:00:00.000Z".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        nov.iter().map(|r| r.job_id.as_str()).collect::<Vec<_>>(),
        ["j-1", "j-3"]
    );

    // Failures: one record per job, attempts counted; cleared by a result.
    let err = JobError::reject(Stage::Intake, "messages[0].at: bad");
    store
        .save_failure(&FailureWire::new(Some("j-9".into()), "f.json", &err))
        .await
        .unwrap();
    store
        .save_failure(&FailureWire::new(Some("j-9".into()), "f.json", &err))
        .await
        .unwrap();
    store
        .save_failure(&FailureWire::new(None, "broken.json", &err))
        .await
        .unwrap();
    let f = store.list_failures(10).await.unwrap();
    assert_eq!(f.len(), 2);
    let j9 = f
        .iter()
        .find(|f| f.job_id.as_deref() == Some("j-9"))
        .unwrap();
    assert_eq!((j9.attempts, j9.stage.as_str()), (2, "intake"));
    store
        .save_result(&result("j-9", "A1", "2026-11-03T00:00:00Z", 0))
        .await
        .unwrap();
    assert_eq!(store.count_failures().await.unwrap(), 1);
    // A job that has a result is never marked failed afterwards.
    store
        .save_failure(&FailureWire::new(Some("j-1".into()), "f.json", &err))
        .await
        .unwrap();
    assert_eq!(store.count_failures().await.unwrap(), 1);
}

#[tokio::test]
async fn sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(dir.path().join("r.db").to_str().unwrap())
        .await
        .unwrap();
    exercise(&store).await;
    // Reopening runs no migration twice and keeps the data.
    store.close().await;
    let again = Store::connect(dir.path().join("r.db").to_str().unwrap())
        .await
        .unwrap();
    assert_eq!(again.count_results().await.unwrap(), 4);
}

#[tokio::test]
async fn postgres_store() {
    let base = std::env::var("CALLQA_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/callqa_test".into());
    let admin = Store::connect(&base).await.unwrap_or_else(|e| {
        panic!("PostgreSQL must be running for this test ({base}): {e}; run scripts/services.sh")
    });
    let name = format!(
        "callqa_store_{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(admin.pool())
        .await
        .unwrap();
    let url = format!("{}/{name}", base.rsplit_once('/').unwrap().0);
    let store = Store::connect(&url).await.unwrap();
    exercise(&store).await;
    store.close().await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE {name}")))
        .execute(admin.pool())
        .await
        .unwrap();
}
