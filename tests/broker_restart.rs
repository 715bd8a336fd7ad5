//! RabbitMQ restarts under a running worker (`rabbitmqctl stop_app` /
//! `start_app`, a few seconds apart): the worker reconnects with backoff
//! and carries on, and no job is lost or stored twice. A test binary of its
//! own, so no other test of this suite runs while the broker is down; other
//! people's tests on the same broker may see a short outage.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use std::time::Duration;

use common::*;

/// Runs rabbitmqctl as root (directly, or through sudo without a password).
fn rabbitmqctl(args: &[&str]) {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let mut c = if root {
        Command::new("rabbitmqctl")
    } else {
        let mut c = Command::new("sudo");
        c.args(["-n", "rabbitmqctl"]);
        c
    };
    let out = c.args(args).output().unwrap_or_else(|e| {
        panic!("cannot run rabbitmqctl {args:?} (needs root or passwordless sudo): {e}")
    });
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes sure the broker is started again even if the test fails midway.
struct Restart;
impl Drop for Restart {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl").arg("start_app").output();
    }
}

/// A producer like a telephony system's: publishes jobs one by one with
/// confirms, at a steady pace, and on any failure reconnects and publishes
/// the unconfirmed job again. Returns how many times it reconnected.
fn produce(
    settings: callqa::queue::Settings,
    ids: Vec<String>,
    jobs: Vec<String>,
) -> std::thread::JoinHandle<u32> {
    std::thread::spawn(move || {
        block_on(async move {
            let mut reconnects = 0;
            let mut conn: Option<(callqa::queue::Broker, callqa::queue::Publisher)> = None;
            let mut i = 0;
            while i < jobs.len() {
                if conn.is_none() {
                    let opened = async {
                        let b = callqa::queue::Broker::connect(&settings, "test-producer").await?;
                        let p = b.publisher().await?;
                        Ok::<_, callqa::queue::QueueError>((b, p))
                    };
                    match opened.await {
                        Ok(c) => {
                            if i > 0 {
                                reconnects += 1;
                            }
                            conn = Some(c);
                        }
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            continue;
                        }
                    }
                }
                let (_, p) = conn.as_ref().expect("connected");
                match p.submit(Some(&ids[i]), jobs[i].as_bytes()).await {
                    Ok(()) => {
                        i += 1;
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    Err(_) => {
                        conn = None;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
            if let Some((b, _)) = conn {
                b.close().await;
            }
            reconnects
        })
    })
}

#[test]
fn a_broker_restart_mid_run_loses_nothing() {
    const N: usize = 4000;
    let mut env = Env::postgres("restart");
    let tap = env.tap("result.*");
    let store = env.store();
    let count = || block_on(store.count_results()).expect("count results");
    let mut w = env.worker("w", &[]);

    let (ids, jobs) = batch(&env.prefix, N);
    let producer = produce(env.settings(), ids.clone(), jobs);
    wait_until("some results stored", Duration::from_secs(60), || {
        (count() >= 300).then_some(())
    });
    {
        let _guard = Restart;
        assert!(!producer.is_finished(), "the restart must come mid-run");
        rabbitmqctl(&["stop_app"]);
        std::thread::sleep(Duration::from_secs(3));
        rabbitmqctl(&["start_app"]);
        rabbitmqctl(&["await_startup"]);
    }
    let producer_reconnects = producer.join().expect("producer");
    assert!(
        producer_reconnects >= 1,
        "jobs were still being produced across the restart"
    );
    // On a timeout, say where the missing jobs are (stored, queued, dead)
    // and what the worker said last.
    wait_until_or(
        "every job stored after the restart",
        Duration::from_secs(180),
        || (count() == N as i64).then_some(()),
        || {
            let log = w.log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            format!(
                "{} of {N} stored, {} ready on the job queue, {} dead; \
                 the worker's log, last lines first:\n{}",
                count(),
                env.ready(&env.names().jobs),
                env.ready(&env.names().dead_queue),
                tail.join("\n")
            )
        },
    );
    assert!(w.is_running(), "the worker survived the outage");
    let stored: BTreeSet<String> = block_on(store.list_results(&Default::default()))
        .unwrap()
        .into_iter()
        .map(|r| r.job_id)
        .collect();
    assert_eq!(stored, ids.iter().cloned().collect());
    assert!(w.metric("callqa_broker_reconnects_total") >= 1.0);
    assert_eq!(w.metric("callqa_broker_connected"), 1.0);
    assert_eq!(w.metric("callqa_jobs_dead_lettered_total"), 0.0);
    assert!(
        w.log().contains("lost the broker; reconnecting"),
        "{}",
        w.log()
    );
    let (code, body) = w.get("/healthz");
    assert_eq!(code, 200, "healthy again: {body}");
    assert!(w.terminate(Duration::from_secs(60)).success());
    assert_eq!(env.ready(&env.names().jobs), 0);
    assert_eq!(env.ready(&env.names().dead_queue), 0);
    // Every result published at least once (the tap is durable; results
    // whose publish failed in the outage were redone on redelivery).
    let published: BTreeSet<String> = env
        .drain(&tap)
        .into_iter()
        .filter_map(|m| m.message_id)
        .collect();
    assert_eq!(published, ids.iter().cloned().collect());
}
