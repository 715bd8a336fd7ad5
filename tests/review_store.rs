//! The review tables (schema v2) against both backends: the embedded
//! SQLite file and a real PostgreSQL (CALLQA_TEST_POSTGRES, exported by
//! scripts/test.sh; the test fails if the server is unreachable): users by
//! token hash, decisions, disputes and rulings, the audit log, dismissed
//! flags for reports, the review queue, calibration counts, supervisor
//! scores and agents; transcript search with filters and pages (schema v5).

use callqa::domain::{Decision, DisputeStatus, FlagId, Role, Severity};
use callqa::store::{
    ContactSearch, DisputeDecided, DisputeOpened, ReviewFilter, ReviewState, Store,
    SupervisorScore, UserAdded,
};
use callqa::wire::job::{AgentWire, JobKind, MetadataWire};
use callqa::wire::result::{EvidenceWire, FlagWire, MetricsWire, TurnWire, VersionsWire};
use callqa::wire::ResultWire;

fn flag(id: FlagId, rule: &str, severity: Severity, start: f64) -> FlagWire {
    FlagWire {
        id,
        rule: rule.into(),
        severity,
        message: "m".into(),
        evidence: vec![EvidenceWire {
            speaker: None,
            start,
            end: start + 1.0,
            text: "x".into(),
            turn: None,
            highlight: None,
            similarity: None,
        }],
    }
}

fn result(job: &str, agent: &str, team: &str, started: &str, flags: Vec<FlagWire>) -> ResultWire {
    ResultWire {
        job_id: job.into(),
        agent_id: agent.into(),
        agent: AgentWire {
            id: agent.into(),
            name: None,
            team: Some(team.into()),
            role: Some("after_sales".into()),
        },
        kind: JobKind::Chat,
        language: callqa::domain::Language::En,
        channel: "chat".into(),
        started_at: Some(started.into()),
        score: 100.0 - 10.0 * flags.len() as f64,
        passed: flags.is_empty(),
        pass_score: 80.0,
        scoreable: true,
        unscoreable_reason: None,
        flags,
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
    use FlagId::*;
    use Severity::*;
    // j-1 (A1, T1): a minor closing flag and a critical rudeness flag.
    // j-2 (A2, T2): a major greeting flag. j-3 (A1, October): one flag.
    for r in [
        result(
            "j-1",
            "A1",
            "T1",
            "2026-11-02T10:00:00+08:00",
            vec![
                flag(ClosingMissing, "closing", Minor, 30.0),
                flag(ForbiddenPhrase, "rudeness", Critical, 12.0),
            ],
        ),
        result(
            "j-2",
            "A2",
            "T2",
            "2026-11-05T10:00:00+08:00",
            vec![flag(GreetingMissing, "greeting", Major, 0.0)],
        ),
        result(
            "j-3",
            "A1",
            "T1",
            "2026-10-05T10:00:00+08:00",
            vec![flag(GreetingMissing, "greeting", Major, 0.0)],
        ),
    ] {
        store.save_result(&r).await.unwrap();
    }

    // Users: found by hash, names unique, disabled ones gone.
    assert_eq!(
        store
            .add_user("li", Role::Agent, Some("A1"), "h-li")
            .await
            .unwrap(),
        UserAdded::Added
    );
    assert_eq!(
        store
            .add_user("li", Role::Admin, None, "h-other")
            .await
            .unwrap(),
        UserAdded::NameTaken
    );
    store
        .add_user("qa", Role::Reviewer, None, "h-qa")
        .await
        .unwrap();
    let li = store.user_by_token_hash("h-li").await.unwrap().unwrap();
    assert_eq!(
        (
            li.name.as_str(),
            li.role,
            li.agent_id.as_deref(),
            li.disabled
        ),
        ("li", Role::Agent, Some("A1"), false)
    );
    assert!(store.user_by_token_hash("h-other").await.unwrap().is_none());
    assert!(store.disable_user("qa").await.unwrap());
    assert!(!store.disable_user("nobody").await.unwrap());
    assert!(store.user_by_token_hash("h-qa").await.unwrap().is_none());
    let users = store.list_users().await.unwrap();
    assert_eq!(users.len(), 2);
    assert!(users.iter().find(|u| u.name == "qa").unwrap().disabled);

    // The queue: most severe first, with decisions and disputes joined.
    let all = ReviewFilter::default();
    let q = store.flag_queue(&all).await.unwrap();
    assert_eq!(
        q.iter()
            .map(|r| (r.job_id.as_str(), r.idx, r.severity.as_str()))
            .collect::<Vec<_>>(),
        [
            ("j-1", 1, "critical"),
            ("j-2", 0, "major"),
            ("j-3", 0, "major"),
            ("j-1", 0, "minor")
        ]
    );
    let nov = ReviewFilter {
        since: Some("2026-11-01T00:00:00.000Z".into()),
        until: Some("2026-12-01T00:00:00.000Z".into()),
        ..Default::default()
    };
    assert_eq!(store.flag_queue(&nov).await.unwrap().len(), 3);
    let a1 = ReviewFilter {
        agent_id: Some("A1".into()),
        ..Default::default()
    };
    assert!(store
        .flag_queue(&a1)
        .await
        .unwrap()
        .iter()
        .all(|r| r.agent_id == "A1"));

    // Decisions replace each other; the log keeps them all.
    store
        .review_flag("j-1", 1, Decision::Confirmed, "", "qa")
        .await
        .unwrap();
    store
        .review_flag("j-1", 1, Decision::Dismissed, "misheard", "qa2")
        .await
        .unwrap();
    store
        .review_flag("j-1", 0, Decision::Confirmed, "right", "qa")
        .await
        .unwrap();
    let reviews = store.reviews_of("j-1").await.unwrap();
    assert_eq!(
        reviews
            .iter()
            .map(|v| (v.idx, v.decision, v.reviewer.as_str()))
            .collect::<Vec<_>>(),
        [
            (0, Decision::Confirmed, "qa"),
            (1, Decision::Dismissed, "qa2")
        ]
    );

    // Disputes: one per flag; a ruling once; upheld dismisses the flag.
    assert_eq!(
        store
            .open_dispute("j-2", 0, "A2", "wang", "I greeted")
            .await
            .unwrap(),
        DisputeOpened::Opened
    );
    assert_eq!(
        store
            .open_dispute("j-2", 0, "A2", "wang", "again")
            .await
            .unwrap(),
        DisputeOpened::AlreadyDisputed
    );
    assert_eq!(
        store
            .decide_dispute("j-3", 0, DisputeStatus::Upheld, "c", "boss")
            .await
            .unwrap(),
        DisputeDecided::NoDispute
    );
    let open = store
        .list_disputes(Some(DisputeStatus::Open), None, 10)
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(
        store
            .list_disputes(None, Some("A1"), 10)
            .await
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        store
            .decide_dispute("j-2", 0, DisputeStatus::Upheld, "fair", "boss")
            .await
            .unwrap(),
        DisputeDecided::Decided
    );
    assert_eq!(
        store
            .decide_dispute("j-2", 0, DisputeStatus::Rejected, "no", "boss")
            .await
            .unwrap(),
        DisputeDecided::AlreadyDecided
    );
    let d = &store.disputes_of("j-2").await.unwrap()[0];
    assert_eq!(
        (
            d.status,
            d.decided_by.as_deref(),
            d.decision_comment.as_deref()
        ),
        (DisputeStatus::Upheld, Some("boss"), Some("fair"))
    );
    assert_eq!(
        store.reviews_of("j-2").await.unwrap()[0].decision,
        Decision::Dismissed
    );
    let log: Vec<String> = store
        .log_of("j-2")
        .await
        .unwrap()
        .into_iter()
        .map(|l| format!("{}:{}", l.actor, l.action))
        .collect();
    assert_eq!(log, ["wang:disputed", "boss:upheld"]);
    assert_eq!(store.log_of("j-1").await.unwrap().len(), 3);

    // Reports leave out dismissed flags of the period only.
    assert_eq!(
        store
            .dismissed_flags(
                Some("2026-11-01T00:00:00.000Z"),
                Some("2026-12-01T00:00:00.000Z")
            )
            .await
            .unwrap(),
        [("j-1".to_owned(), 1), ("j-2".to_owned(), 0)]
    );
    assert!(store
        .dismissed_flags(
            Some("2026-10-01T00:00:00.000Z"),
            Some("2026-11-01T00:00:00.000Z")
        )
        .await
        .unwrap()
        .is_empty());
    let q = store.flag_queue(&nov).await.unwrap();
    let j2 = q.iter().find(|r| r.job_id == "j-2").unwrap();
    assert_eq!(
        (j2.decision, j2.dispute),
        (Some(Decision::Dismissed), Some(DisputeStatus::Upheld))
    );

    // Calibration per rule.
    let cal = store.calibration(&all).await.unwrap();
    let row = |rule: &str| cal.iter().find(|c| c.rule == rule).unwrap();
    assert_eq!(
        (
            row("greeting").raised,
            row("greeting").confirmed,
            row("greeting").dismissed
        ),
        (2, 0, 1)
    );
    assert_eq!((row("rudeness").raised, row("rudeness").dismissed), (1, 1));
    assert_eq!((row("closing").confirmed, row("closing").dismissed), (1, 0));
    let cal_t2 = store
        .calibration(&ReviewFilter {
            team: Some("T2".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(cal_t2.len(), 1);

    // Supervisor scores: set, replace, read by period.
    let s = |score: f64| SupervisorScore {
        period: "2026-11".into(),
        agent_id: "A1".into(),
        score,
        comment: "c".into(),
        scored_by: "boss".into(),
        scored_at: "2026-11-30T00:00:00.000Z".into(),
    };
    store.set_supervisor_score(&s(70.0)).await.unwrap();
    store.set_supervisor_score(&s(85.5)).await.unwrap();
    let got = store.supervisor_scores("2026-11").await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].score, 85.5);
    assert!(store.supervisor_scores("2026-10").await.unwrap().is_empty());

    // Agents with contact and flag counts.
    let agents = store.agents(&all).await.unwrap();
    assert_eq!(
        agents
            .iter()
            .map(|a| (a.agent_id.as_str(), a.contacts, a.flags))
            .collect::<Vec<_>>(),
        [("A1", 2, 3), ("A2", 1, 1)]
    );

    // Calibration sessions: listed newest first, contacts counted.
    assert!(store.sessions(10).await.unwrap().is_empty());
    store
        .create_session("s-old", "Old", "boss", &["j-1".to_owned()])
        .await
        .unwrap();
    // Creation times are kept to the millisecond.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    store
        .create_session(
            "s-new",
            "New",
            "boss",
            &["j-1".to_owned(), "j-2".to_owned()],
        )
        .await
        .unwrap();
    assert!(store.close_session("s-old").await.unwrap());
    let listed = store.sessions(10).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|s| (
                s.id.as_str(),
                s.name.as_str(),
                s.contacts,
                s.closed_at.is_some()
            ))
            .collect::<Vec<_>>(),
        [("s-new", "New", 2, false), ("s-old", "Old", 1, true)]
    );
    assert!(listed[0].created_at > listed[1].created_at);
    assert_eq!(store.sessions(1).await.unwrap()[0].id, "s-new");
}

#[tokio::test]
async fn review_tables_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    let store = Store::connect(path.to_str().unwrap()).await.unwrap();
    exercise(&store).await;
    store.close().await;
    // Reopening migrates nothing twice and keeps the reviews.
    let again = Store::connect(path.to_str().unwrap()).await.unwrap();
    assert_eq!(again.reviews_of("j-1").await.unwrap().len(), 2);
    search(&again).await;
}

#[tokio::test]
async fn review_tables_on_postgres() {
    let base = std::env::var("CALLQA_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/callqa_test".into());
    let admin = Store::connect(&base).await.unwrap_or_else(|e| {
        panic!("PostgreSQL must be running for this test ({base}): {e}; run scripts/services.sh")
    });
    let name = format!(
        "callqa_review_{}_{}",
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
    search(&store).await;
    store.close().await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE {name}")))
        .execute(admin.pool())
        .await
        .unwrap();
}

fn with_turns(mut r: ResultWire, texts: &[&str], channel: &str, processed: &str) -> ResultWire {
    r.turns = texts
        .iter()
        .enumerate()
        .map(|(i, t)| TurnWire {
            speaker: if i % 2 == 0 {
                callqa::domain::Speaker::Customer
            } else {
                callqa::domain::Speaker::Agent
            },
            start: i as f64,
            end: i as f64 + 1.0,
            text: (*t).into(),
            sentiment: None,
            intent: None,
        })
        .collect();
    r.channel = channel.into();
    r.processed_at = processed.into();
    r
}

async fn found(store: &Store, q: ContactSearch) -> Vec<String> {
    store
        .search_contacts(&ContactSearch { limit: 100, ..q })
        .await
        .unwrap()
        .contacts
        .into_iter()
        .map(|c| c.job_id)
        .collect()
}

fn text(t: &str) -> ContactSearch {
    ContactSearch {
        text: Some(t.into()),
        ..Default::default()
    }
}

/// Transcript search (Chinese and English, short and long terms, no query
/// syntax leaking through) and filters, on stored (masked) text.
async fn search(store: &Store) {
    use FlagId::*;
    let rows = [
        with_turns(
            result(
                "s-zh-1",
                "Z1",
                "TZ",
                "2026-12-01T02:00:00.000Z",
                vec![flag(GreetingMissing, "greeting", Severity::Minor, 0.0)],
            ),
            &["我想办理退款", "您的手机号是 138****5678 吗"],
            "phone",
            "2026-12-01T03:00:00.000Z",
        ),
        with_turns(
            result("s-zh-2", "Z2", "TZ", "2026-12-02T02:00:00.000Z", vec![]),
            &["查询快递进度", "好的，请稍等"],
            "chat",
            "2026-12-02T03:00:00.000Z",
        ),
        with_turns(
            result(
                "s-en-1",
                "Z1",
                "TZ",
                "2026-12-03T02:00:00.000Z",
                vec![flag(ForbiddenPhrase, "buck_passing", Severity::Major, 0.0)],
            ),
            &[
                "I want a REFUND for order 42",
                "That's not my department (50% sure)",
            ],
            "phone",
            "2026-12-03T03:00:00.000Z",
        ),
    ];
    for r in &rows {
        store.save_result(r).await.unwrap();
    }
    let tz = |q: ContactSearch| ContactSearch {
        team: Some("TZ".into()),
        ..q
    };
    assert_eq!(found(store, tz(text("退款"))).await, ["s-zh-1"]);
    assert_eq!(found(store, tz(text("办理退款"))).await, ["s-zh-1"]);
    assert_eq!(found(store, tz(text("refund"))).await, ["s-en-1"]);
    assert_eq!(found(store, tz(text("want   ORDER"))).await, ["s-en-1"]);
    assert_eq!(
        found(store, tz(text("退款 快递"))).await,
        Vec::<String>::new()
    );
    // Query syntax and wildcards are text.
    assert_eq!(found(store, tz(text("50%"))).await, ["s-en-1"]);
    assert!(found(store, tz(text("%"))).await == ["s-en-1"]);
    assert!(found(store, tz(text("\"\" OR *"))).await.is_empty());
    assert!(found(store, tz(text("_"))).await.is_empty());
    // Only the masked text is stored, so only it is found.
    assert_eq!(found(store, tz(text("138****5678"))).await, ["s-zh-1"]);
    assert!(found(store, tz(text("13812345678"))).await.is_empty());
    // Filters.
    assert_eq!(
        found(
            store,
            tz(ContactSearch {
                channel: Some("phone".into()),
                ..Default::default()
            })
        )
        .await,
        ["s-en-1", "s-zh-1"]
    );
    assert_eq!(
        found(
            store,
            tz(ContactSearch {
                rule: Some("greeting".into()),
                ..Default::default()
            })
        )
        .await,
        ["s-zh-1"]
    );
    assert_eq!(
        found(
            store,
            tz(ContactSearch {
                severity: Some("major".into()),
                agent_id: Some("Z1".into()),
                ..Default::default()
            })
        )
        .await,
        ["s-en-1"]
    );
    assert_eq!(
        found(
            store,
            tz(ContactSearch {
                score_min: Some(95.0),
                ..Default::default()
            })
        )
        .await,
        ["s-zh-2"]
    );
    assert_eq!(
        found(
            store,
            tz(ContactSearch {
                since: Some("2026-12-02T00:00:00.000Z".into()),
                until: Some("2026-12-03T00:00:00.000Z".into()),
                ..Default::default()
            })
        )
        .await,
        ["s-zh-2"]
    );
    store
        .review_flag("s-en-1", 0, Decision::Dismissed, "fine", "qa")
        .await
        .unwrap();
    assert_eq!(
        found(
            store,
            tz(ContactSearch {
                state: Some(ReviewState::Dismissed),
                ..Default::default()
            })
        )
        .await,
        ["s-en-1"]
    );
    assert_eq!(
        found(
            store,
            tz(ContactSearch {
                state: Some(ReviewState::Pending),
                ..Default::default()
            })
        )
        .await,
        ["s-zh-1"]
    );
    // Pages: newest first, with the total on every page.
    let mut seen = Vec::new();
    for offset in [0, 2, 4] {
        let p = store
            .search_contacts(&tz(ContactSearch {
                limit: 2,
                offset,
                ..Default::default()
            }))
            .await
            .unwrap();
        assert_eq!(p.total, 3, "offset {offset}");
        seen.extend(p.contacts.into_iter().map(|c| c.job_id));
    }
    assert_eq!(seen, ["s-en-1", "s-zh-2", "s-zh-1"]);
    let hit = store
        .search_contacts(&tz(ContactSearch {
            limit: 5,
            ..text("退款")
        }))
        .await
        .unwrap();
    assert_eq!(
        hit.contacts[0].snippet.as_deref(),
        Some("我想办理退款 / 您的手机号是 138****5678 吗")
    );
    // Sampling candidates and review tasks (schema v5).
    let c = store
        .sampling_candidates("2026-12-01T00:00:00.000Z", "2026-12-04T00:00:00.000Z")
        .await
        .unwrap();
    let ids: Vec<&str> = c.iter().map(|c| c.job_id.as_str()).collect();
    assert_eq!(ids, ["s-en-1", "s-zh-1", "s-zh-2"]);
    assert!(
        c.iter().all(|c| c.scoreable && !c.critical && !c.disputed),
        "{c:?}"
    );
    let task = |job: &str, reviewer: Option<&str>| callqa::store::NewTask {
        plan_id: "monthly".into(),
        period: "2026-12".into(),
        job_id: job.into(),
        agent_id: "Z1".into(),
        reason: "random".into(),
        reviewer: reviewer.map(str::to_owned),
        seed: -5,
        due_at: "2026-12-10T00:00:00.000Z".into(),
    };
    let new = [task("s-en-1", Some("qa")), task("s-zh-1", None)];
    assert_eq!(store.add_tasks(&new).await.unwrap(), 2);
    assert_eq!(store.add_tasks(&new).await.unwrap(), 0, "idempotent");
    assert_eq!(store.open_task_load().await.unwrap().get("qa"), Some(&1));
    assert!(store
        .complete_task("monthly", "2026-12", "s-en-1", "qa")
        .await
        .unwrap());
    assert!(!store
        .complete_task("monthly", "2026-12", "s-en-1", "qa")
        .await
        .unwrap());
    let open = store
        .tasks(&callqa::store::TaskFilter {
            open_only: true,
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(
        (open[0].job_id.as_str(), open[0].reviewer.as_deref()),
        ("s-zh-1", None)
    );
    // Purged results leave the index.
    store
        .purge_before("2026-12-01T12:00:00.000Z")
        .await
        .unwrap();
    assert!(found(store, tz(text("退款"))).await.is_empty());
    assert_eq!(found(store, tz(text("快递"))).await, ["s-zh-2"]);
}
