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

/// A COMMIT that fails after SQLite has already rolled back (what
/// SQLITE_FULL or SQLITE_IOERR on COMMIT does) must not leave the pooled
/// connection believing a transaction is still open: before the fix every
/// later "transaction" became a savepoint inside a transaction nobody
/// committed, and results were reported stored but never written. The
/// failure is injected by committing behind sqlx's back, which leaves
/// SQLite and sqlx in exactly that state.
#[tokio::test]
async fn sqlite_store_recovers_after_a_failed_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    let store = Store::connect(path.to_str().unwrap()).await.unwrap();
    store
        .save_result(&result("before", "A1", "2026-11-02T10:00:00Z", 1))
        .await
        .unwrap();

    let mut tx = store.pool().begin().await.unwrap();
    sqlx::raw_sql("COMMIT").execute(&mut *tx).await.unwrap();
    let failed = tx.commit().await;
    assert!(failed.is_err(), "the injected COMMIT must fail");

    // Later writes, a duplicate among them (it rolls back), each committed.
    let after: Vec<String> = (0..5).map(|i| format!("after-{i}")).collect();
    for id in &after {
        let r = result(id, "A1", "2026-11-02T11:00:00Z", 1);
        assert_eq!(store.save_result(&r).await.unwrap(), Saved::Inserted);
        assert_eq!(store.save_result(&r).await.unwrap(), Saved::Duplicate);
    }
    let err = JobError::reject(Stage::Intake, "bad");
    store
        .save_failure(&FailureWire::new(Some("f-1".into()), "f.json", &err))
        .await
        .unwrap();

    // Another connection (another process, or this one after a restart)
    // sees every row.
    let other = Store::connect(path.to_str().unwrap()).await.unwrap();
    assert_eq!(other.count_results().await.unwrap(), 6);
    assert_eq!(other.count_failures().await.unwrap(), 1);
    for id in &after {
        assert!(other.result_exists(id).await.unwrap(), "{id} lost");
    }
}

/// PostgreSQL refuses some values outright (a NUL byte in text, an index
/// key over the row size limit): no retry can store them, so the error
/// says reject, not retry. Intake refuses them first; this is the net.
#[tokio::test]
async fn postgres_data_errors_are_classified_as_reject() {
    use callqa::error::{Classify, Disposition};
    let base = std::env::var("CALLQA_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/callqa_test".into());
    let admin = Store::connect(&base).await.unwrap_or_else(|e| {
        panic!("PostgreSQL must be running for this test ({base}): {e}; run scripts/services.sh")
    });
    let name = format!(
        "callqa_dataerr_{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(admin.pool())
        .await
        .unwrap();
    let url = format!("{}/{name}", base.rsplit_once('/').unwrap().0);
    let store = Store::connect(&url).await.unwrap();

    let mut nul = result("nul-1", "A1", "2026-11-02T10:00:00Z", 0);
    nul.agent.team = Some("t\u{0}".into());
    let err = store.save_result(&nul).await.unwrap_err();
    assert_eq!(err.disposition(), Disposition::Reject, "{err}");
    let long_key = JobError::reject(Stage::Intake, "bad");
    let err = store
        .save_failure(&FailureWire::new(
            Some(incompressible(10_000)),
            "f.json",
            &long_key,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.disposition(), Disposition::Reject, "{err}");
    // The store is fine afterwards.
    store
        .save_result(&result("ok-1", "A1", "2026-11-02T10:00:00Z", 0))
        .await
        .unwrap();
    store.close().await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE {name}")))
        .execute(admin.pool())
        .await
        .unwrap();
}

/// Text PostgreSQL cannot compress into an index row (xorshift letters).
fn incompressible(n: usize) -> String {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect()
}

/// Two messages with one job id but different content, processed at once
/// (a re-send racing the original): the first stored wins, and what is
/// published for each message is the stored result, never the loser's.
#[tokio::test]
async fn copies_of_a_job_id_racing_publish_what_was_stored() {
    use callqa::pipeline::{Engine, Pipeline, Publish};
    use std::sync::{Arc, Mutex};

    #[derive(Default)]
    struct Collect(Mutex<Vec<ResultWire>>);
    impl Publish for Collect {
        type Error = callqa::pipeline::Never;
        fn publish(
            &self,
            result: &ResultWire,
        ) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send {
            self.0.lock().unwrap().push(result.clone());
            std::future::ready(Ok(()))
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(dir.path().join("r.db").to_str().unwrap())
        .await
        .unwrap();
    let packs = callqa::rules::PackSet::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"),
    )
    .unwrap();
    let pipeline = Pipeline::new(
        Arc::new(Engine::with_models(packs, None).unwrap()),
        store.clone(),
        Default::default(),
        4,
    );
    let job = |id: &str, agent: &str, text: &str| {
        serde_json::json!({
            "id": id, "kind": "chat", "language": "en", "agent": {"id": agent},
            "messages": [
                {"speaker": "customer", "at": "2026-11-02T10:00:00+08:00", "text": "Where is my parcel?"},
                {"speaker": "agent", "at": "2026-11-02T10:00:20+08:00", "text": text},
            ],
        })
        .to_string()
        .into_bytes()
    };
    let collect = Arc::new(Collect::default());
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..60 {
        let id = format!("race-{i}");
        for (agent, text) in [
            ("A1", "It arrives tomorrow."),
            ("A2", "That is not my department."),
        ] {
            let (p, c, body) = (pipeline.clone(), collect.clone(), job(&id, agent, text));
            tasks.spawn(async move { p.run_json_published("test", body, &*c).await.unwrap() });
        }
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let published = collect.0.lock().unwrap().clone();
    assert_eq!(published.len(), 120);
    for p in &published {
        let stored = store.get_result(&p.job_id).await.unwrap().unwrap();
        assert_eq!(
            (p.agent_id.as_str(), p.score),
            (stored.agent_id.as_str(), stored.score),
            "{}: published and stored differ",
            p.job_id
        );
    }
}

#[tokio::test]
async fn an_unopenable_sqlite_file_is_named_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        // A folder that does not exist.
        (
            dir.path().join("no-such-folder/qa.db"),
            "No such file or directory",
        ),
        // A folder where the file should be.
        (dir.path().to_path_buf(), "Is a directory"),
    ];
    for (path, why) in cases {
        let err = match Store::connect(&format!("sqlite://{}", path.display())).await {
            Ok(_) => panic!("{} opened", path.display()),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains("cannot open the SQLite database")
                && err.contains(&path.display().to_string())
                && err.contains(why),
            "{err}"
        );
        assert!(!err.contains("timed out"), "{err}");
    }
}
