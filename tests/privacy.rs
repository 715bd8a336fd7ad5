//! Personal data never leaves the engine in clear: chats with card, ID and
//! mobile numbers and e-mail addresses (half- and full-width, in Chinese
//! numerals and English words, split across turns, partly masked) go
//! through the `callqa` binary into SQLite and PostgreSQL, through the
//! queue worker (RabbitMQ) and through the pipeline into the review
//! server; then the CLI output and logs, the database files and rows, the
//! published messages, the worker's log and the API responses are
//! searched for the raw data; and a call with a card number read aloud
//! goes through the worker (Whisper) into PostgreSQL.
//! The PII flag must still say what kind of data the agent exposed, where.

mod common;
mod support;

use std::path::Path;
use std::process::{Command, Output};

use callqa::domain::Role;
use serde_json::Value;
use sqlx::Connection as _;
use support::{pipeline, repo, user, world, Client};

/// Fixtures: the two sample chats with personal data and the made-up ones
/// in tests/fixtures/privacy (see its README).
const INPUTS: &[&str] = &[
    "samples/chats/zh-04-pii-card.json",
    "samples/chats/en-04-pii.json",
    "tests/fixtures/privacy",
];

/// Everything that must never be found, in any spelling the fixtures use.
const RAW: &[&str] = &[
    // zh-04 and en-04
    "6222 0212 3456",
    "6222021234567894",
    "4111 1111 1111",
    "4111111111111111",
    "jane.doe@",
    "ane.doe",
    "jane.d@",
    // privacy-zh-01
    "11010519491231",
    "１３９１２３４",
    "1391234",
    "ｉ．ｌｅｉ",
    "li.lei",
    "幺五零幺二三四",
    "15012348",
    "6217 0031",
    "62170031",
    "2345 6781",
    "6228 4800",
    // privacy-en-01
    "one three eight double one",
    "tom dot baker",
    "TOM.BAKER",
    "tom.baker",
    "5500 0000 0000",
    "550000000000",
    // names and addresses (patterns), privacy-zh-01 and privacy-en-01
    "王小明",
    "建国路88号",
    "1001室",
    "Peter Quill",
    "Quill",
    "Evergreen Terrace",
    "742 Evergreen",
    // bad-job
    "6222021234567894",
];

fn assert_clean(what: &str, text: &str) {
    for raw in RAW {
        assert!(!text.contains(raw), "{what}: {raw:?} in clear:\n{text}");
    }
}

/// The binary in the repository root (fixture paths are relative to it).
fn callqa(database: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_callqa"))
        .current_dir(repo())
        .env_remove("CALLQA_DATABASE")
        .env_remove("CALLQA_CONFIG")
        .env("RUST_LOG", "callqa=debug")
        .args(["--database", database, "--rules", "rules"])
        .args(args)
        .output()
        .expect("runs callqa")
}

fn out_text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Analyses the fixtures into `database`; checks and returns the results.
fn analyse_and_check_cli(database: &str) -> Vec<Value> {
    let mut args = vec!["analyze", "--json", "--rules-only"];
    args.extend(INPUTS);
    let out = callqa(database, &args);
    let text = out_text(&out);
    // One job is rejected on purpose, so the batch exits 2.
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert_clean("analyze output", &text);
    let results: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("job_id").is_some() && v.get("turns").is_some())
        .collect();
    let ids: Vec<&str> = results
        .iter()
        .filter_map(|r| r["job_id"].as_str())
        .collect();
    assert_eq!(ids.len(), 4, "{ids:?}");
    check_results(&results);

    for job in ["chat-zh-04", "chat-en-04", "privacy-zh-01", "privacy-en-01"] {
        let out = callqa(database, &["results", "--job", job]);
        assert!(out.status.success(), "{}", out_text(&out));
        assert_clean("results --job", &out_text(&out));
    }
    let listed = callqa(database, &["results", "--json"]);
    assert_clean("results --json", &out_text(&listed));
    let failures = callqa(database, &["results", "--failures", "--json"]);
    let f = out_text(&failures);
    assert!(f.contains("privacy-bad-01"), "{f}");
    assert_clean("results --failures", &f);
    results
}

/// `callqa purge`: nothing before 2000, everything before tomorrow, with
/// counts; then the store is empty.
fn purge_and_check(database: &str) {
    let out = callqa(database, &["purge", "--before", "2000-01-01"]);
    let text = out_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(": 0 results, 0 flags, 0 failure records"),
        "{text}"
    );
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let out = callqa(database, &["purge", "--before", &tomorrow]);
    let text = out_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(": 4 results, "), "{text}");
    assert!(text.contains(" 1 failure records"), "{text}");
    let listed = callqa(database, &["results", "--json"]);
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout).trim(),
        "",
        "no results left"
    );
    let failures = callqa(database, &["results", "--failures", "--json"]);
    assert_eq!(
        String::from_utf8_lossy(&failures.stdout).trim(),
        "",
        "no failures left"
    );
}

fn result<'a>(results: &'a [Value], id: &str) -> &'a Value {
    results
        .iter()
        .find(|r| r["job_id"] == id)
        .unwrap_or_else(|| panic!("no result {id}"))
}

fn turn(r: &Value, i: usize) -> &str {
    r["turns"][i]["text"].as_str().unwrap()
}

/// The masked forms, and the flag saying what was exposed, where.
fn check_results(results: &[Value]) {
    let zh04 = result(results, "chat-zh-04");
    assert_eq!(
        turn(zh04, 3),
        "好的，您目前绑定的卡号是**** **** **** 7894，对吧？"
    );
    let pii = zh04["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "pii_exposure")
        .expect("pii flag");
    assert_eq!(pii["message"], "坐席完整说出了客户的银行卡号");
    assert_eq!(pii["evidence"][0]["speaker"], "agent");
    assert_eq!(pii["evidence"][0]["turn"], 3);
    assert_eq!(pii["evidence"][0]["text"], turn(zh04, 3));

    let en04 = result(results, "chat-en-04");
    assert_eq!(
        turn(en04, 3),
        "Thanks. I see card **** **** **** 1111 and the e-mail j***@example.com on the account. What's the new address?"
    );
    assert_eq!(turn(en04, 4), "j***@example.org");

    let zh = result(results, "privacy-zh-01");
    let want = [
        (
            1,
            "您好，很高兴为您服务。您的身份证号是**************002X，对吗？",
        ),
        (2, "对，新手机号是*******５６７８"),
        (3, "好的，邮箱还是ｌ***＠ｅｘａｍｐｌｅ．ｃｎ吗？"),
        (4, "备用电话*******八八六六"),
        (5, "我的新卡号是**** ****"),
        (6, "**** 6781"),
        (7, "旧卡是**** **** **** 5512"),
    ];
    for (i, text) in want {
        assert_eq!(turn(zh, i), text, "privacy-zh-01 turn {i}");
    }
    // A name given as one keeps its surname; an address is masked whole.
    assert_eq!(
        turn(zh, 9),
        "还有，我叫王**，新收货地址是********************"
    );
    let kinds = zh["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "pii_exposure")
        .expect("the agent read out the ID and the e-mail");
    assert!(
        kinds["message"].as_str().unwrap().contains("身份证号"),
        "{kinds}"
    );

    let en = result(results, "privacy-en-01");
    let t1 = turn(en, 1);
    assert!(
        t1.ends_with("three three four four, is that right?"),
        "{t1}"
    );
    assert_eq!(
        turn(en, 2),
        "Yes. My email is t*** at example dot com, or T***@EXAMPLE.COM typed."
    );
    assert!(
        turn(en, 3).contains("**** **** **** 0004"),
        "{}",
        turn(en, 3)
    );
    assert_eq!(
        turn(en, 4),
        "Yes, my name is P**** ***** and I moved to *** ********* ******** *** **."
    );
    // One flag per turn where the agent read data out: the mobile, then
    // the card.
    let pii: Vec<(&str, i64)> = en["flags"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "pii_exposure")
        .map(|f| {
            (
                f["message"].as_str().unwrap(),
                f["evidence"][0]["turn"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        pii,
        [
            ("The agent read out the customer's full mobile number", 1),
            ("The agent read out the customer's full bank card number", 3)
        ]
    );
}

/// Every file SQLite wrote (the database, its WAL), as text.
fn sqlite_files(dir: &Path) -> String {
    let mut all = String::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(e.unwrap().path()).unwrap();
        all.push_str(&String::from_utf8_lossy(&bytes));
    }
    all
}

#[test]
fn sqlite_rows_files_and_cli_output_hold_no_raw_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("qa.db");
    let url = format!("sqlite://{}", db.display());
    analyse_and_check_cli(&url);
    let files = sqlite_files(dir.path());
    assert!(files.contains("privacy-zh-01"), "the rows are in the files");
    assert_clean("SQLite files", &files);
    purge_and_check(&url);
}

#[test]
fn postgres_rows_hold_no_raw_data() {
    let name = format!(
        "callqa_{}",
        common::unique("privacy").replace(['-', 'x'], "_")
    );
    common::pg_admin(&format!("CREATE DATABASE \"{name}\""));
    let url = common::pg_url_for(&name);
    analyse_and_check_cli(&url);
    let rows = common::block_on(async {
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        let mut all = String::new();
        for q in [
            "SELECT result FROM results",
            "SELECT reason FROM failures",
            "SELECT source FROM failures",
        ] {
            let v: Vec<String> = sqlx::query_scalar(q).fetch_all(&mut c).await.unwrap();
            all.push_str(&v.join("\n"));
        }
        all
    });
    purge_and_check(&url);
    let _ = std::thread::spawn(move || {
        common::pg_admin(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
    })
    .join();
    assert!(rows.contains("privacy-en-01"), "{rows}");
    assert_clean("PostgreSQL rows", &rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_api_serves_only_masked_text() {
    let w = world().await;
    let p = pipeline(&w.store);
    for f in [
        "samples/chats/zh-04-pii-card.json",
        "samples/chats/en-04-pii.json",
        "tests/fixtures/privacy/zh-pii-forms.json",
        "tests/fixtures/privacy/en-pii-spoken.json",
    ] {
        let bytes = std::fs::read(repo().join(f)).unwrap();
        p.run_json(f, bytes).await.expect("stored");
    }
    let token = user(&w.store, "root", Role::Admin, None).await;
    let api = Client::new(&w.addr, Some(&token));
    let mut seen = String::new();
    for path in [
        "/api/results",
        "/api/results/chat-zh-04",
        "/api/results/chat-en-04",
        "/api/results/privacy-zh-01",
        "/api/results/privacy-en-01",
        "/api/flags",
    ] {
        let r = api.get(path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert_clean(path, &r.text());
        seen.push_str(&r.text());
    }
    assert!(seen.contains("**** **** **** 7894"), "{seen}");
    assert!(seen.contains("ｌ***＠ｅｘａｍｐｌｅ．ｃｎ"), "{seen}");
    w.stop().await;
}

/// Runs a worker (with `extra_env`) over the submitted jobs until `n`
/// results are stored (within `secs` seconds), stops it, and returns it
/// with everything published to the `taps`.
fn work_until_stored(
    env: &common::Env,
    extra_env: &[(&str, &str)],
    n: usize,
    secs: u64,
    taps: [&str; 2],
) -> (common::Worker, String) {
    let mut w = env.worker("w", extra_env);
    let store = env.store();
    common::wait_until(
        &format!("{n} result(s) stored"),
        std::time::Duration::from_secs(secs),
        || {
            let stored = common::block_on({
                let store = store.clone();
                async move { store.count_results().await.unwrap() }
            });
            (stored as usize == n).then_some(())
        },
    );
    assert!(
        w.terminate(std::time::Duration::from_secs(60)).success(),
        "{}",
        w.log()
    );
    let mut published = String::new();
    for q in taps {
        for m in env.drain(q) {
            published.push_str(&m.json().to_string());
        }
    }
    (w, published)
}

#[test]
fn worker_publishes_and_logs_only_masked_text() {
    let mut env = common::Env::sqlite("privacy");
    let flagged = env.tap("result.flagged");
    let clean = env.tap("result.clean");
    let lines: Vec<String> = [
        "samples/chats/zh-04-pii-card.json",
        "samples/chats/en-04-pii.json",
        "tests/fixtures/privacy/zh-pii-forms.json",
        "tests/fixtures/privacy/en-pii-spoken.json",
        "tests/fixtures/privacy/bad-job.json",
    ]
    .iter()
    .map(|f| {
        let v: Value = serde_json::from_slice(&std::fs::read(repo().join(f)).unwrap()).unwrap();
        v.to_string()
    })
    .collect();
    env.submit("jobs", &lines);
    let (w, published) = work_until_stored(&env, &[], 4, 60, [&flagged, &clean]);
    let store = env.store();
    assert!(published.contains("**** **** **** 7894"), "{published}");
    assert_clean("published results", &published);
    // The rejected job went to the dead-letter queue as it arrived (the
    // sender's input); its recorded reason is masked.
    let failures = common::block_on({
        let store = store.clone();
        async move { store.list_failures(10).await.unwrap() }
    });
    assert_eq!(failures.len(), 1);
    assert_clean("failure record", &format!("{failures:?}"));
    assert_clean("worker log", &w.log());
}

// The agent reads a card number back on a call.
const CARD_CALL: &str = "\
customer\t0.5\ten-gb\tHello, which card did you charge for my order?
agent\t+0.6\ten-us\tThe card number on file is four one one one, one one one one, one one one one, one one one one.
agent\t+0.3\ten-us\tIs there anything else I can help you with?
";

/// A call, through the queue worker into PostgreSQL: the transcript, the
/// stored row, the published result and the worker's log hold the card
/// number only masked, and the result points at the redacted recording.
#[test]
fn a_call_is_masked_through_the_worker_into_postgres() {
    let mut env = common::Env::postgres("privacy_call");
    let flagged = env.tap("result.flagged");
    let clean = env.tap("result.clean");
    let rec = tempfile::tempdir().unwrap();
    let script = rec.path().join("card.tsv");
    std::fs::write(&script, CARD_CALL).unwrap();
    let o = Command::new(repo().join("scripts/synth-call.sh"))
        .arg(&script)
        .arg(rec.path().join("card.wav"))
        .args(["--rate", "8000"])
        .output()
        .expect("runs scripts/synth-call.sh");
    assert!(
        o.status.success(),
        "scripts/synth-call.sh (espeak-ng and sox: scripts/setup.sh --test): {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let job = serde_json::json!({
        "id": "privacy-call-01", "kind": "call", "language": "en",
        "agent": {"id": "A900"},
        "recording": {"path": "card.wav"},
    });
    env.submit("jobs", &[job.to_string()]);
    let models = repo().join("models");
    let roots = rec.path().to_string_lossy().into_owned();
    let models = models.to_string_lossy().into_owned();
    let (w, published) = work_until_stored(
        &env,
        &[
            ("CALLQA_RECORDING_ROOTS", roots.as_str()),
            ("CALLQA_MODELS", models.as_str()),
        ],
        1,
        300,
        [&flagged, &clean],
    );
    assert!(published.contains("privacy-call-01"), "{published}");
    assert!(published.contains("****"), "{published}");
    assert!(published.contains("pii_exposure"), "{published}");
    assert!(published.contains(".redacted.wav"), "{published}");
    assert_clean("published call result", &published);
    let url = common::pg_url_for(env.pg_db());
    let rows = common::block_on(async move {
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        let v: Vec<String> = sqlx::query_scalar("SELECT result FROM results")
            .fetch_all(&mut c)
            .await
            .unwrap();
        v.join("\n")
    });
    assert!(rows.contains("privacy-call-01"), "{rows}");
    assert_clean("PostgreSQL call row", &rows);
    assert_clean("worker log", &w.log());
}
