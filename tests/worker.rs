//! The queue worker end to end: the real `callqa` binary against a real
//! RabbitMQ, with SQLite or a fresh PostgreSQL database per test. Each test
//! uses its own queue prefix and job ids, so tests (and other people's test
//! runs on the same broker) never see each other's messages.
//!
//! The broker-restart test lives in tests/broker_restart.rs, a binary of its
//! own, so it never runs beside these.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use callqa::queue::headers;
use common::*;

const MINUTE: Duration = Duration::from_secs(60);

fn stored_ids(store: &callqa::store::Store) -> BTreeSet<String> {
    block_on(store.list_results(&callqa::store::ResultFilter::default()))
        .expect("list results")
        .into_iter()
        .map(|r| r.job_id)
        .collect()
}

fn count(store: &callqa::store::Store) -> i64 {
    block_on(store.count_results()).expect("count results")
}

#[test]
fn round_trip_of_many_chat_jobs_stores_publishes_and_acks_each_once() {
    let mut env = Env::sqlite("roundtrip");
    let flagged_tap = env.tap("result.flagged");
    let clean_tap = env.tap("result.clean");
    let (ids, jobs) = batch(&env.prefix, 300);
    env.submit("jobs", &jobs);
    assert_eq!(env.ready(&env.names().jobs), 300);

    let mut w = env.worker("w", &[("CALLQA_PREFETCH", "16")]);
    let store = env.store();
    wait_until("all 300 results stored", MINUTE, || {
        (count(&store) == 300).then_some(())
    });
    assert_eq!(stored_ids(&store), ids.iter().cloned().collect());

    // Healthy while connected to both; metrics count what happened.
    let (code, body) = w.get("/healthz");
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains(r#""broker":"ok""#) && body.contains(r#""store":"ok""#),
        "{body}"
    );
    wait_until("300 results published", MINUTE, || {
        (w.metric("callqa_results_published_total") == 300.0).then_some(())
    });
    assert_eq!(w.metric("callqa_jobs_processed_total"), 300.0);
    assert_eq!(w.metric("callqa_jobs_flagged_total"), 100.0);
    assert_eq!(w.metric("callqa_jobs_dead_lettered_total"), 0.0);
    assert_eq!(w.metric("callqa_broker_connected"), 1.0);
    let (_, metrics) = w.get("/metrics");
    assert!(
        metrics.contains("callqa_stage_seconds_count{stage=\"publish\"} 300"),
        "{metrics}"
    );

    // Every job acknowledged: none left ready, and none returns to the
    // queue when the worker lets go of its channel.
    assert!(w.terminate(MINUTE).success(), "{}", w.log());
    assert_eq!(env.ready(&env.names().jobs), 0);
    assert_eq!(env.ready(&env.names().dead_queue), 0);

    // Published with the right routing key, once each, with headers.
    let flagged = env.drain(&flagged_tap);
    let clean = env.drain(&clean_tap);
    assert_eq!((flagged.len(), clean.len()), (100, 200));
    for (i, id) in ids.iter().enumerate() {
        let want = if i % 3 == 0 { &flagged } else { &clean };
        let got: Vec<_> = want
            .iter()
            .filter(|m| m.message_id.as_deref() == Some(id))
            .collect();
        assert_eq!(got.len(), 1, "{id} published once under its key");
        let m = got[0];
        assert_eq!(m.header(headers::JOB_ID), id);
        let body = m.json();
        assert_eq!(body["job_id"], id.as_str());
        if i % 3 == 0 {
            assert_eq!(m.routing_key, "result.flagged");
            assert!(
                m.header(headers::FLAGS).contains("forbidden_phrase"),
                "{m:?}"
            );
            assert_eq!(m.header(headers::PASSED), "false");
            assert!(!body["flags"].as_array().unwrap().is_empty());
        } else {
            assert_eq!(m.routing_key, "result.clean");
            assert_eq!(m.header(headers::FLAGS), "");
            assert_eq!(body["flags"].as_array().unwrap().len(), 0);
        }
    }
}

#[test]
fn poison_messages_are_dead_lettered_with_their_reason_and_never_requeued() {
    let env = Env::sqlite("poison");
    let good = format!("{}-good", env.prefix);
    let bad_field = format!("{}-bad-field", env.prefix);
    let mut bad_time: serde_json::Value =
        serde_json::from_str(&chat_job(&bad_field, false)).unwrap();
    bad_time["messages"][1]["at"] = "yesterday at ten".into();
    env.submit(
        "jobs",
        &[
            "this is not JSON at all".to_owned(),
            bad_time.to_string(),
            chat_job(&good, false),
        ],
    );
    let mut w = env.worker("w", &[]);
    let store = env.store();
    wait_until("the good job stored", MINUTE, || {
        (count(&store) == 1).then_some(())
    });
    wait_until("two dead letters", MINUTE, || {
        (env.ready(&env.names().dead_queue) == 2).then_some(())
    });
    // Give a requeue loop, if there were one, time to show itself.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(w.metric("callqa_jobs_dead_lettered_total"), 2.0);
    assert_eq!(w.metric("callqa_jobs_failed_total"), 2.0);
    assert_eq!(w.metric("callqa_jobs_retried_total"), 0.0);
    assert!(w.terminate(MINUTE).success());
    assert_eq!(env.ready(&env.names().jobs), 0, "nothing requeued");

    let dead = env.drain(&env.names().dead_queue);
    assert_eq!(dead.len(), 2);
    let not_json = dead
        .iter()
        .find(|m| m.body == b"this is not JSON at all")
        .expect("the non-JSON message, body intact");
    assert_eq!(not_json.header(headers::STAGE), "intake");
    assert_eq!(not_json.header(headers::DISPOSITION), "reject");
    assert!(
        not_json.header(headers::REASON).contains("expected"),
        "{:?}",
        not_json.headers
    );
    let field = dead
        .iter()
        .find(|m| m.message_id.as_deref() == Some(bad_field.as_str()))
        .expect("the job with a bad time");
    assert_eq!(field.header(headers::JOB_ID), bad_field);
    assert!(
        field.header(headers::REASON).contains("messages[1].at"),
        "the reason names the field: {:?}",
        field.headers
    );
    assert_eq!(field.header(headers::ATTEMPT), "0");
    assert!(!field.header(headers::DEAD_AT).is_empty());

    // Also recorded as failures, once each.
    let failures = block_on(store.list_failures(10)).unwrap();
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert!(failures
        .iter()
        .all(|f| f.attempts == 1 && f.stage == "intake"));
}

#[test]
fn a_worker_killed_mid_batch_and_restarted_leaves_exactly_one_result_per_job() {
    let mut env = Env::postgres("sigkill");
    let tap = env.tap("result.*");
    let (ids, jobs) = batch(&env.prefix, 1500);
    env.submit("jobs", &jobs);
    let store = env.store();

    let mut first = env.worker("first", &[("CALLQA_PREFETCH", "64")]);
    let at_kill = wait_until("the first worker to store some results", MINUTE, || {
        let n = count(&store);
        (n >= 50).then_some(n)
    });
    first.kill9();
    let left = env.ready(&env.names().jobs);
    assert!(
        at_kill < 1500 && left > 0,
        "the kill must land mid-batch (stored {at_kill}, {left} left)"
    );

    let mut second = env.worker("second", &[]);
    wait_until("all 1500 results stored", Duration::from_secs(180), || {
        (count(&store) == 1500).then_some(())
    });
    assert_eq!(stored_ids(&store), ids.iter().cloned().collect());
    assert!(second.terminate(MINUTE).success());
    assert_eq!(env.ready(&env.names().jobs), 0);
    assert_eq!(env.ready(&env.names().dead_queue), 0);
    assert_eq!(block_on(store.count_failures()).unwrap(), 0);

    // Results are published at least once: every job, duplicates only for
    // those the first worker had stored but not acknowledged.
    let published = env.drain(&tap);
    let distinct: BTreeSet<String> = published
        .iter()
        .filter_map(|m| m.message_id.clone())
        .collect();
    assert_eq!(distinct, ids.iter().cloned().collect());
    assert!(
        published.len() - distinct.len() <= 64,
        "at most a prefetch of repeats"
    );
}

#[test]
fn two_workers_share_a_queue_and_a_postgres_store_without_duplicates() {
    let env = Env::postgres("two");
    let (ids, jobs) = batch(&env.prefix, 800);
    env.submit("jobs", &jobs);
    // Both start on an empty database at once: migrations must not collide.
    let mut a = env.worker(
        "a",
        &[("CALLQA_PREFETCH", "8"), ("CALLQA_CONCURRENCY", "1")],
    );
    let mut b = env.worker(
        "b",
        &[("CALLQA_PREFETCH", "8"), ("CALLQA_CONCURRENCY", "1")],
    );
    let store = env.store();
    wait_until("all 800 results stored", Duration::from_secs(180), || {
        (count(&store) == 800).then_some(())
    });
    assert_eq!(stored_ids(&store), ids.iter().cloned().collect());
    let (pa, pb) = (
        a.metric("callqa_jobs_processed_total"),
        b.metric("callqa_jobs_processed_total"),
    );
    assert!(pa > 0.0 && pb > 0.0, "both workers took jobs: {pa} + {pb}");
    assert_eq!(pa + pb, 800.0, "each job scored by one worker only");
    assert_eq!(
        a.metric("callqa_jobs_duplicate_total") + b.metric("callqa_jobs_duplicate_total"),
        0.0
    );
    assert!(a.terminate(MINUTE).success());
    assert!(b.terminate(MINUTE).success());
    assert_eq!(env.ready(&env.names().jobs), 0);
}

#[test]
fn sigterm_stops_consuming_finishes_in_flight_jobs_and_exits_zero() {
    let mut env = Env::sqlite("sigterm");
    let tap = env.tap("result.*");
    let (ids, jobs) = batch(&env.prefix, 2000);
    env.submit("jobs", &jobs);
    let store = env.store();
    let mut w = env.worker("w", &[("CALLQA_PREFETCH", "100")]);
    wait_until("some results stored", MINUTE, || {
        (count(&store) >= 20).then_some(())
    });
    let status = w.terminate(MINUTE);
    assert!(status.success(), "exit status {status}:\n{}", w.log());
    let log = w.log();
    assert!(log.contains("stopping: no new jobs"), "{log}");
    assert!(log.contains("worker stopped"), "{log}");
    assert!(!log.contains("shutdown timeout"), "{log}");

    // Nothing lost: every job is stored or still waiting, not both.
    let stored = stored_ids(&store);
    let waiting = env.drain(&env.names().jobs);
    assert!(!waiting.is_empty(), "SIGTERM must come mid-batch");
    assert_eq!(stored.len() + waiting.len(), 2000);
    let waiting_ids: BTreeSet<String> = waiting
        .iter()
        .filter_map(|m| m.message_id.clone())
        .collect();
    assert!(stored.is_disjoint(&waiting_ids));
    assert_eq!(
        stored.union(&waiting_ids).cloned().collect::<BTreeSet<_>>(),
        ids.iter().cloned().collect()
    );
    // In-flight and already-received deliveries were finished, not handed
    // back: nothing waiting was delivered before.
    assert!(
        waiting.iter().all(|m| !m.redelivered),
        "in-flight jobs were abandoned"
    );
    // Every stored result was published before its acknowledgement.
    assert_eq!(env.drain(&tap).len(), stored.len());
}

#[test]
fn a_transient_database_outage_is_retried_with_backoff_and_recovers() {
    let env = Env::postgres("dbblip");
    let store = env.store();
    let mut w = env.worker("w", &[]);
    // The database goes away after the worker started (and migrated).
    pg_set_reachable(env.pg_db(), false);
    let id = format!("{}-1", env.prefix);
    env.submit("jobs", &[chat_job(&id, true)]);
    wait_until("a retry scheduled", MINUTE, || {
        (w.metric("callqa_jobs_retried_total") >= 1.0).then_some(())
    });
    let (code, body) = w.get("/healthz");
    assert_eq!(code, 503, "unhealthy while the store is down: {body}");
    assert!(
        body.contains(r#""store":"#) && body.contains(r#""broker":"ok""#),
        "{body}"
    );
    pg_set_reachable(env.pg_db(), true);
    wait_until("the job stored after the outage", MINUTE, || {
        block_on(store.result_exists(&id)).ok().filter(|x| *x)
    });
    assert_eq!(w.metric("callqa_jobs_dead_lettered_total"), 0.0);
    assert!(w.log().contains("transient failure; retrying later"));
    assert!(w.terminate(MINUTE).success());
    assert_eq!(env.ready(&env.names().dead_queue), 0);
    assert_eq!(env.ready(&env.names().jobs), 0);
}

#[test]
fn a_database_that_stays_down_is_retried_a_bounded_number_of_times_then_dead_lettered() {
    let mut env = Env::postgres("dbdown");
    env.retry_attempts = 2;
    env.retry_backoff_ms = 200;
    let mut w = env.worker("w", &[]);
    pg_admin(&format!("DROP DATABASE \"{}\" WITH (FORCE)", env.pg_db()));
    let id = format!("{}-1", env.prefix);
    env.submit("jobs", &[chat_job(&id, false)]);
    wait_until("the job dead-lettered", MINUTE, || {
        (env.ready(&env.names().dead_queue) == 1).then_some(())
    });
    assert_eq!(w.metric("callqa_jobs_retried_total"), 2.0);
    assert_eq!(w.metric("callqa_jobs_dead_lettered_total"), 1.0);
    assert!(w.terminate(MINUTE).success());
    let dead = env.drain(&env.names().dead_queue);
    let m = &dead[0];
    assert_eq!(m.message_id.as_deref(), Some(id.as_str()));
    assert_eq!(m.header(headers::DISPOSITION), "retry");
    assert_eq!(m.header(headers::STAGE), "store");
    assert_eq!(m.header(headers::ATTEMPT), "2");
    assert!(
        m.header(headers::REASON)
            .contains("gave up after 2 retries"),
        "{:?}",
        m.headers
    );
    assert_eq!(env.ready(&env.names().jobs), 0);
}

#[test]
fn a_quorum_jobs_queue_round_trips_and_dead_letters_too() {
    let env = Env::sqlite("quorum");
    let (ids, mut jobs) = batch(&env.prefix, 40);
    jobs.push("{\"id\": \"half a job\"".to_owned());
    let quorum = [
        ("CALLQA_QUEUE_TYPE", "quorum"),
        ("CALLQA_DELIVERY_LIMIT", "5"),
    ];
    // submit declares the topology: it must declare the same queue type.
    let file = write_jobs(env.dir.path(), "jobs", &jobs);
    let out = env
        .command()
        .envs(quorum)
        .arg("submit")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut w = env.worker("w", &quorum);
    let store = env.store();
    wait_until("40 results and one dead letter", MINUTE, || {
        (count(&store) == 40 && env.ready(&env.names().dead_queue) == 1).then_some(())
    });
    assert_eq!(stored_ids(&store), ids.iter().cloned().collect());
    assert!(w.terminate(MINUTE).success());
    assert_eq!(env.ready(&env.names().jobs), 0);
    let dead = env.drain(&env.names().dead_queue);
    assert_eq!(dead[0].header(headers::STAGE), "intake");
}

#[test]
fn a_worker_refuses_a_jobs_queue_declared_with_other_arguments() {
    let env = Env::sqlite("mismatch");
    env.submit("jobs", &[chat_job(&format!("{}-1", env.prefix), false)]); // classic
    let mut w = env.spawn_worker("w", &[("CALLQA_QUEUE_TYPE", "quorum")]);
    let status = w.wait(MINUTE);
    assert_eq!(status.code(), Some(1), "{}", w.log());
    let log = w.log();
    assert!(log.contains("exists with other arguments"), "{log}");
    assert!(log.contains("PRECONDITION"), "{log}");
    assert_eq!(env.ready(&env.names().jobs), 1, "the job stays queued");
}

#[test]
fn the_worker_runs_the_text_models_when_not_rules_only() {
    let env = Env::sqlite("models");
    let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    assert!(
        models.join("encoder/model.onnx").exists(),
        "models/ is missing: run scripts/setup.sh (scripts/test.sh does)"
    );
    let (ids, jobs) = batch(&env.prefix, 6);
    env.submit("jobs", &jobs);
    let models_dir = models.display().to_string();
    let mut w = env.worker(
        "w",
        &[("CALLQA_RULES_ONLY", "0"), ("CALLQA_MODELS", &models_dir)],
    );
    let store = env.store();
    wait_until("6 results stored", MINUTE, || {
        (count(&store) == 6).then_some(())
    });
    for id in &ids {
        let r = block_on(store.get_result(id)).unwrap().expect("stored");
        assert!(
            !r.versions.models.is_empty(),
            "{id}: model versions recorded"
        );
        assert!(
            r.turns.iter().all(|t| t.sentiment.is_some()),
            "{id}: every turn has a sentiment"
        );
        assert!(r.diagnostics.is_empty(), "{id}: {:?}", r.diagnostics);
    }
    let (_, metrics) = w.get("/metrics");
    assert!(
        metrics.contains("callqa_stage_seconds_count{stage=\"embed\"} 6"),
        "{metrics}"
    );
    assert!(w.terminate(MINUTE).success());
}
