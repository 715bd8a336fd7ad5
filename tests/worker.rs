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

/// Backpressure: while the store cannot take writes the worker stops
/// consuming (and says so on /healthz), so an outage longer than all the
/// retries dead-letters nothing; jobs in flight when it began used one
/// retry each. (Bounded retries, then a dead letter, are what a fault that
/// is not the store's gets: see the publish-channel test.)
#[test]
fn a_database_that_stays_down_pauses_consumption_instead_of_dead_lettering() {
    let mut env = Env::postgres("dbdown");
    env.retry_attempts = 2;
    env.retry_backoff_ms = 200;
    let store = env.store();
    let mut w = env.worker("w", &[("CALLQA_PREFETCH", "4")]);
    pg_set_reachable(env.pg_db(), false);
    let (ids, jobs) = batch(&env.prefix, 20);
    env.submit("jobs", &jobs);
    w.wait_for_log("pausing consumption", MINUTE);
    // Far longer than the two retries (0.2 s, 0.4 s) would take.
    std::thread::sleep(Duration::from_secs(5));
    let (code, body) = w.get("/healthz");
    assert_eq!(code, 503, "{body}");
    assert!(body.contains(r#""store":"#), "{body}");
    assert_eq!(w.metric("callqa_jobs_dead_lettered_total"), 0.0);
    assert_eq!(env.ready(&env.names().dead_queue), 0);
    assert!(
        w.metric("callqa_jobs_retried_total") <= 4.0,
        "only the jobs in flight"
    );
    assert!(
        env.ready(&env.names().jobs) >= 16,
        "the rest wait in the queue"
    );

    pg_set_reachable(env.pg_db(), true);
    wait_until("all 20 stored after the outage", MINUTE, || {
        (count(&store) == 20).then_some(())
    });
    assert_eq!(stored_ids(&store), ids.iter().cloned().collect());
    assert_eq!(w.get("/healthz").0, 200);
    assert_eq!(w.metric("callqa_jobs_dead_lettered_total"), 0.0);
    assert!(w.terminate(MINUTE).success());
    assert_eq!(env.ready(&env.names().dead_queue), 0);
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
            r.turns
                .iter()
                .all(|t| t.sentiment.is_some() == (t.speaker == callqa::domain::Speaker::Customer)),
            "{id}: every customer turn, and no agent turn, has a sentiment"
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

// ---- issue 11: never lose, stall or hide work ---------------------------------

/// A chat job with `n` long messages: a result whose transcript is large.
fn long_chat_job(id: &str, n: usize) -> String {
    let messages: Vec<_> = (0..n)
        .map(|i| {
            serde_json::json!({
                "speaker": if i % 2 == 0 { "customer" } else { "agent" },
                "at": format!("2026-11-02T10:{:02}:{:02}+08:00", i / 60, i % 60),
                "text": format!("Message {i}: {}", "the parcel is still on its way, thank you. ".repeat(8)),
            })
        })
        .collect();
    serde_json::json!({
        "id": id, "kind": "chat", "language": "en",
        "agent": {"id": "agent-1", "team": "t1"},
        "messages": messages,
    })
    .to_string()
}

#[test]
fn sqlite_that_refuses_writes_loses_no_job_and_the_worker_recovers() {
    let mut env = Env::sqlite("sqlitefull");
    // Long enough that no job runs out of retries while writes fail.
    env.retry_attempts = 8;
    env.retry_backoff_ms = 200;
    let (ids, jobs) = batch(&env.prefix, 90);
    // SIGXFSZ ignored: past the limit a write fails (SQLite reports
    // SQLITE_FULL / SQLITE_IOERR on COMMIT) instead of killing the worker.
    let mut w = env.worker_after("trap '' XFSZ", "w", &[("CALLQA_PREFETCH", "8")]);
    let store = env.store();
    env.submit("a", &jobs[..30]);
    wait_until("the first 30 stored", MINUTE, || {
        (count(&store) == 30).then_some(())
    });

    limit_file_size(w.pid(), Some(1));
    env.submit("b", &jobs[30..60]);
    let (code, body) = wait_until("unhealthy while writes fail", MINUTE, || {
        let (code, body) = w.get("/healthz");
        (code == 503).then_some((code, body))
    });
    // "cannot write: … disk I/O error", or no answer while the pool
    // replaces the connection.
    assert!(!body.contains(r#""store":"ok""#), "{code} {body}");
    w.wait_for_log("pausing consumption", MINUTE);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(w.metric("callqa_jobs_dead_lettered_total"), 0.0);

    limit_file_size(w.pid(), None);
    env.submit("c", &jobs[60..]);
    wait_until(
        "all 90 stored after the disk has room again",
        MINUTE,
        || (count(&store) == 90).then_some(()),
    );
    assert_eq!(stored_ids(&store), ids.iter().cloned().collect());
    let (code, body) = w.get("/healthz");
    assert_eq!(code, 200, "{body}");
    assert!(
        w.log().contains("failed transaction; closing it"),
        "{}",
        w.log()
    );
    assert!(w.terminate(MINUTE).success(), "{}", w.log());
    // Committed, not held in a transaction only the worker could see.
    assert_eq!(count(&env.store()), 90);
    assert_eq!(env.ready(&env.names().dead_queue), 0);
    assert_eq!(env.ready(&env.names().jobs), 0);
}

#[test]
fn a_huge_echoed_field_is_dead_lettered_once_with_a_bounded_reason() {
    let env = Env::sqlite("hugefield");
    let huge = "9".repeat(300_000);
    let bad_time = format!("{}-bad-time", env.prefix);
    let mut at: serde_json::Value = serde_json::from_str(&chat_job(&bad_time, false)).unwrap();
    at["messages"][0]["at"] = huge.clone().into();
    let bad_name = format!("{}-bad-name", env.prefix);
    let mut name: serde_json::Value = serde_json::from_str(&chat_job(&bad_name, false)).unwrap();
    name[format!("x{huge}")] = 1.into();
    let (ids, mut jobs) = batch(&env.prefix, 20);
    jobs.insert(3, at.to_string());
    jobs.insert(10, name.to_string());
    env.submit("jobs", &jobs);

    let mut w = env.worker("w", &[]);
    let store = env.store();
    wait_until("20 stored and 2 dead letters", MINUTE, || {
        (count(&store) == 20 && env.ready(&env.names().dead_queue) == 2).then_some(())
    });
    // A loop, if there were one, would show as reconnections and repeats.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(w.metric("callqa_broker_reconnects_total"), 0.0);
    assert_eq!(w.metric("callqa_jobs_dead_lettered_total"), 2.0);
    assert!(w.terminate(MINUTE).success());
    assert_eq!(stored_ids(&store), ids.iter().cloned().collect());
    let dead = env.drain(&env.names().dead_queue);
    assert_eq!(dead.len(), 2);
    for m in &dead {
        let reason = m.header(headers::REASON);
        assert!(reason.len() <= 512, "{} bytes", reason.len());
        assert!(reason.contains("bytes cut"), "{reason}");
        assert_eq!(m.header(headers::DISPOSITION), "reject");
        assert!(m.body.len() > 300_000, "the job itself travels untouched");
    }
    let time = dead
        .iter()
        .find(|m| m.message_id.as_deref() == Some(bad_time.as_str()))
        .unwrap();
    assert!(
        time.header(headers::REASON).starts_with("messages[0].at"),
        "{:?}",
        time.headers
    );
    // The failure records are bounded too.
    let failures = block_on(store.list_failures(10)).unwrap();
    assert_eq!(failures.len(), 2);
    assert!(
        failures.iter().all(|f| f.reason.len() <= 512),
        "{failures:?}"
    );
    assert_eq!(env.ready(&env.names().jobs), 0);
}

#[test]
fn results_over_the_size_limit_are_trimmed_or_dead_lettered_and_later_jobs_publish() {
    let mut env = Env::sqlite("bigresult");
    let tap = env.tap("result.*");
    let limit = 12_000;
    let long = format!("{}-long", env.prefix);
    let tagged = format!("{}-tagged", env.prefix);
    let mut too_big: serde_json::Value = serde_json::from_str(&chat_job(&tagged, false)).unwrap();
    too_big["metadata"]["tags"] = (0..100)
        .map(|i| format!("{i}-{}", "t".repeat(150)))
        .collect();
    let mut w = env.worker("w", &[("CALLQA_MAX_RESULT_BYTES", &limit.to_string())]);
    let store = env.store();
    env.submit("big", &[too_big.to_string()]);
    wait_until(
        "the result too large even trimmed dead-lettered",
        MINUTE,
        || (env.ready(&env.names().dead_queue) == 1).then_some(()),
    );
    let (code, body) = w.get("/healthz");
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("max_result_bytes"), "{body}");

    let (ids, mut jobs) = batch(&env.prefix, 10);
    jobs.push(long_chat_job(&long, 60));
    env.submit("later", &jobs);
    wait_until("the later jobs published", MINUTE, || {
        (w.metric("callqa_results_published_total") == 11.0).then_some(())
    });
    let (code, body) = w.get("/healthz");
    assert_eq!(code, 200, "{body}");
    assert!(w.terminate(MINUTE).success());

    let published = env.drain(&tap);
    assert_eq!(published.len(), 11);
    assert!(published.iter().all(|m| m.body.len() <= limit));
    let trimmed = published
        .iter()
        .find(|m| m.message_id.as_deref() == Some(long.as_str()))
        .expect("the long chat published");
    assert_eq!(trimmed.header(headers::TRUNCATED), "turns");
    let json = trimmed.json();
    assert_eq!(json["turns"].as_array().unwrap().len(), 0);
    // The store keeps the whole result.
    let stored = block_on(store.get_result(&long)).unwrap().unwrap();
    assert_eq!(stored.turns.len(), 60);
    assert!(block_on(store.result_exists(&tagged)).unwrap());
    for id in &ids {
        assert!(published
            .iter()
            .any(|m| m.message_id.as_deref() == Some(id)));
    }
    let dead = env.drain(&env.names().dead_queue);
    assert_eq!(dead[0].message_id.as_deref(), Some(tagged.as_str()));
    assert_eq!(dead[0].header(headers::STAGE), "publish");
    assert_eq!(dead[0].header(headers::DISPOSITION), "reject");
    assert!(dead[0].header(headers::REASON).contains("max_result_bytes"));
}

#[test]
fn a_publish_channel_closed_by_the_broker_is_reopened() {
    let mut env = Env::sqlite("reopen");
    env.retry_attempts = 2;
    env.retry_backoff_ms = 200;
    env.tap("result.*");
    let mut w = env.worker("w", &[]);
    let first = format!("{}-1", env.prefix);
    env.submit("one", &[chat_job(&first, false)]);
    wait_until("the first result published", MINUTE, || {
        (w.metric("callqa_results_published_total") == 1.0).then_some(())
    });

    // Publishing to a missing exchange is a channel error: the broker
    // closes the worker's publish channel.
    delete_exchange(&env.names().results);
    let second = format!("{}-2", env.prefix);
    publish_raw(
        &env.names().jobs,
        &second,
        chat_job(&second, false).as_bytes(),
    );
    for _ in 0..300 {
        if env.ready(&env.names().dead_queue) == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(env.ready(&env.names().dead_queue), 1, "{}", w.log());
    let (code, body) = w.get("/healthz");
    assert_eq!(code, 503, "{body}");
    assert!(body.contains(r#""publish":"#), "{body}");

    let tap = env.tap("result.*"); // declares the exchange again
    let third = format!("{}-3", env.prefix);
    env.submit("three", &[chat_job(&third, false)]);
    wait_until("the third result published", MINUTE, || {
        (w.metric("callqa_results_published_total") == 2.0).then_some(())
    });
    assert_eq!(w.get("/healthz").0, 200);
    // Stored before the publish failed.
    assert!(block_on(env.store().result_exists(&second)).unwrap());

    // `callqa replay-dead` puts the dead letter back, retries reset: its
    // stored result is published now.
    let out = env.command().arg("replay-dead").output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("1 dead letter(s) moved"), "{said}");
    wait_until("the replayed job published", MINUTE, || {
        (w.metric("callqa_results_published_total") == 3.0).then_some(())
    });
    assert!(w.terminate(MINUTE).success());
    let got = env.drain(&tap);
    for id in [&second, &third] {
        assert!(
            got.iter()
                .any(|m| m.message_id.as_deref() == Some(id.as_str())),
            "{id}"
        );
    }
    assert_eq!(env.ready(&env.names().dead_queue), 0);
    assert!(w.log().contains("reopened"), "{}", w.log());
}

#[test]
fn bad_data_is_rejected_at_intake_not_retried_as_a_database_fault() {
    let env = Env::postgres("nul");
    let bad = format!("{}-nul", env.prefix);
    let mut job: serde_json::Value = serde_json::from_str(&chat_job(&bad, false)).unwrap();
    job["agent"]["team"] = "t\u{0}1".into();
    let good = format!("{}-good", env.prefix);
    env.submit("jobs", &[job.to_string(), chat_job(&good, false)]);
    let mut w = env.worker("w", &[]);
    let store = env.store();
    wait_until(
        "the good job stored and the bad one dead-lettered",
        MINUTE,
        || (count(&store) == 1 && env.ready(&env.names().dead_queue) == 1).then_some(()),
    );
    assert_eq!(w.metric("callqa_jobs_retried_total"), 0.0);
    assert!(w.terminate(MINUTE).success());
    let dead = env.drain(&env.names().dead_queue);
    assert_eq!(dead[0].header(headers::DISPOSITION), "reject");
    assert_eq!(dead[0].header(headers::STAGE), "intake");
    assert!(dead[0].header(headers::REASON).contains("agent.team"));
}

/// Issue 14, defect 3: bad messages without an id, taken on different
/// channels (where delivery tags both start at 1), get a failure record
/// each instead of one record counting two attempts.
#[test]
fn bad_messages_without_an_id_on_different_channels_get_a_record_each() {
    let env = Env::sqlite("noid");
    let store = env.store();
    for (n, body) in ["first bad message", "second, different bad message"]
        .into_iter()
        .enumerate()
    {
        env.submit(&format!("jobs{n}"), &[body.to_owned()]);
        let mut w = env.worker(&format!("w{n}"), &[]);
        wait_until("the bad message dead-lettered", MINUTE, || {
            (env.ready(&env.names().dead_queue) == n as u32 + 1).then_some(())
        });
        assert!(w.terminate(MINUTE).success(), "{}", w.log());
    }
    let failures = block_on(store.list_failures(10)).unwrap();
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert!(failures
        .iter()
        .all(|f| f.job_id.is_none() && f.attempts == 1 && f.stage == "intake"));
    assert_ne!(failures[0].source, failures[1].source);
    assert!(failures
        .iter()
        .all(|f| f.source.contains("#body-") && !f.source.contains("delivery-")));
}

/// Late metadata as a queue message (`"kind": "metadata"`, the keys of
/// `callqa import`): applied to the stored result with an audit entry and
/// acknowledged, personal data in a custom field masked. One for a job that
/// is never stored is retried (the CRM may answer before the call is
/// recognised), then dead-lettered with its reason; a bad value is
/// rejected at once.
#[test]
fn metadata_messages_update_stored_results_and_unknown_jobs_are_dead_lettered() {
    let env = Env::sqlite("metadata");
    let id = format!("{}-1", env.prefix);
    env.submit("jobs", &[chat_job(&id, false)]);
    let mut w = env.worker(
        "w",
        &[
            ("CALLQA_RETRY_ATTEMPTS", "2"),
            ("CALLQA_RETRY_BACKOFF_MS", "100"),
            ("CALLQA_RETRY_BACKOFF_MAX_MS", "200"),
        ],
    );
    let store = env.store();
    wait_until("the job stored", MINUTE, || {
        block_on(store.result_exists(&id)).ok().filter(|x| *x)
    });
    let missing = format!("{}-never", env.prefix);
    env.submit(
        "metadata",
        &[
            serde_json::json!({"kind": "metadata", "job_id": id, "csat": 4.5,
                               "resolved": "是", "callback": "call me on 13812345678"})
            .to_string(),
            serde_json::json!({"kind": "metadata", "job_id": missing, "csat": 2}).to_string(),
            serde_json::json!({"kind": "metadata", "job_id": id, "csat": 9}).to_string(),
        ],
    );
    wait_until("two dead letters", MINUTE, || {
        (env.ready(&env.names().dead_queue) == 2).then_some(())
    });
    let r = block_on(store.get_result(&id)).unwrap().unwrap();
    assert_eq!(r.metadata.csat, Some(4.5));
    assert_eq!(r.metadata.resolved, Some(true));
    let callback = &r.metadata.custom["callback"];
    assert!(
        !callback.contains("13812345678") && callback.contains("5678"),
        "masked: {callback}"
    );
    let log = block_on(store.metadata_log(Some(&id))).unwrap();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].actor, "queue");
    assert_eq!(w.metric("callqa_jobs_retried_total"), 2.0);
    assert!(w.terminate(MINUTE).success(), "{}", w.log());
    assert!(!w.log().contains("13812345678"));
    assert_eq!(
        env.ready(&env.names().jobs),
        0,
        "the applied one acknowledged"
    );

    let dead = env.drain(&env.names().dead_queue);
    let reason = |m: &Got| m.header(headers::REASON).to_owned();
    let never = dead
        .iter()
        .find(|m| reason(m).contains(&format!("no stored result for job {missing}")))
        .unwrap_or_else(|| panic!("{dead:?}"));
    assert_eq!(never.header(headers::DISPOSITION), "retry");
    assert_eq!(never.header(headers::ATTEMPT), "2");
    let bad = dead
        .iter()
        .find(|m| reason(m).contains("csat"))
        .unwrap_or_else(|| panic!("{dead:?}"));
    assert_eq!(bad.header(headers::DISPOSITION), "reject");
    assert_eq!(bad.header(headers::ATTEMPT), "0");
}
