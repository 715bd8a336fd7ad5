//! The `callqa` binary end to end on the embedded default (SQLite file):
//! the README's first command on the shipped samples, a batch that mixes
//! good and bad jobs, and idempotent re-runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn callqa(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_callqa"))
        .current_dir(repo())
        .env_remove("CALLQA_DATABASE")
        .env_remove("CALLQA_CONFIG")
        .args([
            "--database",
            &format!("sqlite://{}", db.display()),
            "--rules",
            "rules",
        ])
        .args(args)
        .output()
        .expect("runs callqa")
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

fn by_id<'a>(results: &'a [Value], id: &str) -> &'a Value {
    results
        .iter()
        .find(|r| r["job_id"] == id)
        .unwrap_or_else(|| panic!("no result {id}"))
}

fn flag_rules(r: &Value) -> Vec<String> {
    r["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn analyzes_the_sample_chats_into_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("qa.db");
    let out = callqa(&db, &["analyze", "samples/chats", "--json", "--rules-only"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results = json_lines(&out);
    assert_eq!(results.len(), 12);

    let clean = by_id(&results, "chat-zh-01");
    assert_eq!(
        (clean["score"].as_f64(), clean["passed"].as_bool()),
        (Some(100.0), Some(true))
    );
    assert!(flag_rules(clean).is_empty());

    let pii = by_id(&results, "chat-zh-04");
    assert_eq!(
        (pii["score"].as_f64(), pii["passed"].as_bool()),
        (Some(0.0), Some(false))
    );
    assert_eq!(flag_rules(pii), ["pii"]);
    assert_eq!(pii["fatal"][0]["item"], "pii");
    let ev = &pii["flags"][0]["evidence"][0];
    assert_eq!(
        (ev["speaker"].as_str(), ev["start"].as_f64()),
        (Some("agent"), Some(45.0))
    );
    assert!(
        ev["text"].as_str().unwrap().contains("**** **** **** 7894"),
        "{ev}"
    );

    let buck = by_id(&results, "chat-en-02");
    assert_eq!(
        flag_rules(buck),
        ["closing", "buck_passing", "complaint_threat"]
    );
    assert_eq!(buck["score"].as_f64(), Some(75.0));
    let attitude = buck["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "attitude")
        .unwrap();
    assert_eq!(attitude["deductions"][0]["points"].as_f64(), Some(15.0));
    assert_eq!(buck["coaching"].as_array().unwrap().len(), 3);

    let slow = by_id(&results, "chat-zh-05");
    assert_eq!(slow["metrics"]["first_response_s"].as_f64(), Some(75.0));
    assert!(flag_rules(slow).contains(&"slow_response".to_owned()));
    assert_eq!(slow["versions"]["rule_pack"], "callqa-default-zh@1.3.0");

    // Stored: 12 rows; a second run stores nothing new.
    let listed = json_lines(&callqa(&db, &["results", "--json"]));
    assert_eq!(listed.len(), 12);
    let again = callqa(&db, &["analyze", "samples/chats", "--rules-only"]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("12 already stored"));
    assert_eq!(json_lines(&callqa(&db, &["results", "--json"])).len(), 12);
    let flagged = json_lines(&callqa(
        &db,
        &["results", "--json", "--flagged", "--agent", "E102"],
    ));
    assert_eq!(flagged.len(), 2);
}

#[test]
fn a_bad_job_is_recorded_as_failed_and_the_batch_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs");
    std::fs::create_dir(&jobs).unwrap();
    std::fs::copy(
        repo().join("samples/chats/zh-01-clean-delivery.json"),
        jobs.join("a.json"),
    )
    .unwrap();
    std::fs::write(
        jobs.join("b.json"),
        r#"{"id":"bad-order","kind":"chat","agent":{"id":"A1"},"messages":[
        {"speaker":"agent","at":"2026-11-02T10:00:05+08:00","text":"您好"},
        {"speaker":"customer","at":"2026-11-02T10:00:01+08:00","text":"在吗"}]}"#,
    )
    .unwrap();
    std::fs::write(jobs.join("c.json"), "{ this is not json").unwrap();
    std::fs::write(
        jobs.join("d.jsonl"),
        concat!(
            r#"{"id":"line-ok","kind":"chat","agent":{"id":"A1"},"messages":[{"speaker":"agent","at":"2026-11-02T10:00:05+08:00","text":"Hello, how can I help? Anything else I can help with?"}]}"#,
            "\n",
            r#"{"id":"line-bad","kind":"chat","agent":{"id":"A1"},"messages":[{"speaker":"robot","at":"2026-11-02T10:00:05+08:00","text":"hi"}]}"#,
            "\n"
        ),
    )
    .unwrap();
    let db = dir.path().join("qa.db");
    let out = callqa(&db, &["analyze", jobs.to_str().unwrap(), "--rules-only"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("2 scored") && stdout.contains("3 rejected"),
        "{stdout}"
    );
    assert!(
        stdout.contains("b.json: rejected at intake: messages[1].at"),
        "{stdout}"
    );

    let results = json_lines(&callqa(&db, &["results", "--json"]));
    let ids: Vec<&str> = results
        .iter()
        .map(|r| r["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&"chat-zh-01") && ids.contains(&"line-ok"));

    let failures = json_lines(&callqa(&db, &["results", "--failures", "--json"]));
    assert_eq!(failures.len(), 3);
    let reason = |id: &str| {
        failures
            .iter()
            .find(|f| f["job_id"] == id)
            .map(|f| f["reason"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no failure for {id}: {failures:?}"))
    };
    assert!(reason("bad-order").contains("time order"));
    assert!(reason("line-bad").contains("messages[0].speaker"));
    let unreadable = failures
        .iter()
        .find(|f| f["job_id"].is_null())
        .expect("failure without id");
    assert!(unreadable["source"].as_str().unwrap().ends_with("c.json"));
}

#[test]
fn bad_configuration_is_reported_not_panicked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("qa.db");
    let out = Command::new(env!("CARGO_BIN_EXE_callqa"))
        .current_dir(repo())
        .args([
            "--database",
            &format!("sqlite://{}", db.display()),
            "--rules",
            "/nonexistent",
            "analyze",
            "samples/chats",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent"));
    let out = callqa(&db, &["analyze", "no-such-dir"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Issue 14, defect 8: the cause once, not "…(os error 2): …(os error 2)".
    assert_eq!(
        stderr.trim(),
        "callqa: cannot read no-such-dir: No such file or directory (os error 2)"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_callqa"))
        .current_dir(repo())
        .args(["--database", "mysql://x", "results"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported database URL"));
}

/// A 16-bit mono PCM WAV at 8 kHz: `seconds` of silence.
fn silent_wav(path: &Path, seconds: f64) {
    let n = (seconds * 8000.0) as u32;
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + 2 * n).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    for v in [1u16, 1] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for v in [8000u32, 16000] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for v in [2u16, 16] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(2 * n).to_le_bytes());
    b.resize(b.len() + 2 * n as usize, 0);
    std::fs::write(path, b).unwrap();
}

/// Issue 14, defect 1: `day2/0001.wav` is not `day1/0001.wav`. Both are
/// stored, each under its own id, and naming one again finds its own
/// result (the same content is the same job).
#[test]
fn recordings_with_the_same_name_in_different_folders_are_different_jobs() {
    let dir = tempfile::tempdir().unwrap();
    for (day, secs) in [("day1", 1.0), ("day2", 2.0)] {
        std::fs::create_dir(dir.path().join(day)).unwrap();
        silent_wav(&dir.path().join(day).join("0001.wav"), secs);
    }
    let day1 = dir.path().join("day1/0001.wav");
    let day2 = dir.path().join("day2/0001.wav");
    let db = dir.path().join("qa.db");
    let out = callqa(
        &db,
        &[
            "analyze",
            day1.to_str().unwrap(),
            day2.to_str().unwrap(),
            "--json",
            "--rules-only",
            "--language",
            "en",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("already stored"), "{stderr}");
    let results = json_lines(&out);
    let ids: Vec<&str> = results
        .iter()
        .map(|r| r["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
    assert!(ids.iter().all(|id| id.starts_with("0001-")), "{ids:?}");
    for r in &results {
        assert_eq!(flag_rules(r), ["no_speech"], "{r}");
    }
    // Both are in the store.
    let stored = json_lines(&callqa(&db, &["results", "--json"]));
    let mut stored_ids: Vec<&str> = stored
        .iter()
        .map(|r| r["job_id"].as_str().unwrap())
        .collect();
    stored_ids.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(stored_ids, expected);

    // day2 again: its own stored result, said to be a repeat on stderr.
    let again = callqa(
        &db,
        &[
            "analyze",
            day2.to_str().unwrap(),
            "--json",
            "--rules-only",
            "--language",
            "en",
        ],
    );
    assert!(again.status.success());
    let again_results = json_lines(&again);
    assert_eq!(again_results.len(), 1);
    assert_eq!(again_results[0]["job_id"], ids[1]);
    assert_eq!(again_results[0]["processed_at"], results[1]["processed_at"]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already stored"));
}

/// Issue 14, defect 8: a file that is not audio is rejected with decode's
/// own message, without the audio library's probe error before it, and a
/// log written to a file or a pipe holds no colour codes.
#[test]
fn a_rejected_recording_logs_no_library_error_and_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("notes.wav");
    std::fs::write(&fake, "this is not audio at all, just text").unwrap();
    let db = dir.path().join("qa.db");
    let out = callqa(&db, &["analyze", fake.to_str().unwrap(), "--rules-only"]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("rejected at decode") && stdout.contains("not an audio file"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("symphonia"), "{stderr}");
    assert!(!stderr.contains("ERROR"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    // Logged events are plain text when redirected (here: the warning
    // that call jobs cannot be transcribed without the speech model).
    let chat = "samples/chats/en-01-clean-refund.json";
    let models = format!("--models={}", dir.path().display());
    let out = callqa(&db, &["analyze", chat, "--rules-only", &models]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("WARN") && stderr.contains("call jobs cannot be transcribed"),
        "{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

/// Issue 12, late metadata: CSAT, resolution and FCR arrive from the CRM
/// after the chats were analysed. `callqa import` updates the stored
/// results (with an audit entry each); the report's KPIs and grades follow;
/// a re-sent job with new metadata updates it too.
#[test]
fn late_metadata_import_changes_kpis_and_grades_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("qa.db");
    let out = callqa(&db, &["analyze", "samples/chats", "--rules-only"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = || {
        let out = callqa(&db, &["report", "--period", "2026-11", "--format", "json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let agent = |r: &Value, id: &str| {
        r["agents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["agent_id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no agent {id}"))
    };
    let before = report();
    let a2 = agent(&before, "A002");
    assert_eq!(a2["kpis"]["csat"].as_f64(), Some(1.5));
    assert_eq!(a2["kpis"]["resolution_rate"].as_f64(), Some(0.0));
    assert_eq!(a2["grade"], "C");
    // The PII leak (chat-zh-04) is fatal: grade C and bonus 0, with the reason.
    let a1 = agent(&before, "A001");
    assert_eq!(
        (a1["grade"].as_str(), a1["bonus"].as_f64()),
        (Some("C"), Some(0.0))
    );
    assert_eq!(a1["grade_note"], "一票否决：泄露客户信息 (chat-zh-04)");

    // The CRM's late figures for A002's two chats: one by ticket id, one by
    // job id; an unknown job is reported, not fatal to the rest.
    let csv = dir.path().join("crm.csv");
    std::fs::write(
        &csv,
        "\u{feff}ticket_id,job_id,csat,resolved,first_contact_resolved,product\n\
         T-8820,,5,是,是,退款\n\
         ,chat-zh-03,4.5,true,true,\n\
         ,chat-nope,3,,,\n",
    )
    .unwrap();
    let out = callqa(
        &db,
        &["import", csv.to_str().unwrap(), "--actor", "crm-sync"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a row matched nothing: {stdout}"
    );
    assert!(
        stdout.starts_with("3 rows: 2 results updated, 0 unchanged, 1 not found"),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("crm.csv:4: no stored result for job chat-nope"));

    let after = report();
    let a2 = agent(&after, "A002");
    assert_eq!(a2["kpis"]["csat"].as_f64(), Some(4.75));
    assert_eq!(a2["kpis"]["resolution_rate"].as_f64(), Some(1.0));
    assert_eq!(a2["kpis"]["fcr_rate"].as_f64(), Some(1.0));
    assert!(
        a2["composite"]["total"].as_f64() > agent(&before, "A002")["composite"]["total"].as_f64()
    );
    assert_eq!(a2["grade"], "S", "{a2}");

    // Importing the same file again changes nothing and logs nothing.
    let again = callqa(&db, &["import", csv.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 results updated, 2 unchanged"));

    // A re-sent job (same id) with a new CSAT: the stored analysis stands,
    // the metadata is updated.
    let mut job: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("samples/chats/zh-01-clean-delivery.json")).unwrap(),
    )
    .unwrap();
    job["metadata"]["csat"] = 2.into();
    let resent = dir.path().join("resent.json");
    std::fs::write(&resent, job.to_string()).unwrap();
    let out = callqa(&db, &["analyze", resent.to_str().unwrap(), "--rules-only"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a1 = agent(&report(), "A001");
    assert_eq!(a1["kpis"]["csat"].as_f64(), Some(3.0), "(2 + 4) / 2");

    // The audit log: who, from where, each field before and after.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let log = rt.block_on(async {
        let store = callqa::store::Store::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        store.metadata_log(None).await.unwrap()
    });
    let rows: Vec<(&str, &str, &str)> = log
        .iter()
        .map(|l| (l.job_id.as_str(), l.actor.as_str(), l.source.as_str()))
        .collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[0], ("chat-zh-02", "crm-sync", "import:crm.csv:2"));
    assert_eq!(rows[1], ("chat-zh-03", "crm-sync", "import:crm.csv:3"));
    assert_eq!(rows[2].0, "chat-zh-01");
    assert!(rows[2].2.starts_with("resend:"), "{rows:?}");
    let changes: Value = serde_json::from_str(&log[0].changes).unwrap();
    assert_eq!(changes["csat"], serde_json::json!([1.0, 5.0]));
    assert_eq!(changes["resolved"], serde_json::json!([false, true]));
    assert_eq!(changes["custom.product"], serde_json::json!([null, "退款"]));
}

/// A flag category the default packs declare (`[[flags]]`
/// `marketing_compliance`, 营销合规): raised with the declared severity,
/// counted by the scorecard, named in the report in the report's language.
#[test]
fn a_pack_declared_flag_reaches_the_result_the_score_and_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("qa.db");
    let chat = |id: &str, lang: &str, agent: &str, words: [&str; 4]| {
        serde_json::json!({
            "id": id, "kind": "chat", "language": lang,
            "agent": {"id": agent, "name": "Test", "team": "理财一组"},
            "messages": [
                {"speaker": "customer", "at": "2026-11-05T10:00:00+08:00", "text": words[0]},
                {"speaker": "agent", "at": "2026-11-05T10:00:10+08:00", "text": words[1]},
                {"speaker": "customer", "at": "2026-11-05T10:00:40+08:00", "text": words[2]},
                {"speaker": "agent", "at": "2026-11-05T10:00:55+08:00", "text": words[3]},
            ]
        })
    };
    let jobs = dir.path().join("jobs");
    std::fs::create_dir(&jobs).unwrap();
    for (name, job) in [
        (
            "zh.json",
            chat(
                "fin-zh-01",
                "zh",
                "F001",
                [
                    "你好，我想了解一下这款理财产品",
                    "您好，很高兴为您服务！这款产品稳赚不赔，年化收益很高。",
                    "真的吗？那我考虑一下",
                    "好的，请问还有其他可以帮您的吗？感谢您的来电，再见。",
                ],
            ),
        ),
        (
            "en.json",
            chat(
                "fin-en-01",
                "en",
                "F002",
                [
                    "Hi, tell me about the savings plan",
                    "Hello, thank you for calling. It is a risk-free investment with high returns.",
                    "Sounds good, I will think about it",
                    "Is there anything else I can help you with? Thank you for calling, goodbye.",
                ],
            ),
        ),
    ] {
        std::fs::write(jobs.join(name), job.to_string()).unwrap();
    }
    let out = callqa(
        &db,
        &["analyze", jobs.to_str().unwrap(), "--json", "--rules-only"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results = json_lines(&out);
    for (id, said) in [
        ("fin-zh-01", "稳赚不赔"),
        ("fin-en-01", "risk-free investment"),
    ] {
        let r = by_id(&results, id);
        let flags = r["flags"].as_array().unwrap();
        let hit: Vec<&Value> = flags
            .iter()
            .filter(|f| f["id"] == "marketing_compliance")
            .collect();
        assert_eq!(hit.len(), 1, "{id}: {flags:?}");
        assert_eq!(hit[0]["rule"], "marketing_claims");
        assert_eq!(hit[0]["severity"], "critical", "the declared severity");
        assert!(
            hit[0]["evidence"][0]["text"]
                .as_str()
                .unwrap()
                .contains(said),
            "{}",
            hit[0]
        );
        assert_eq!(flags.len(), 1, "{id}: only the marketing claim: {flags:?}");
        // The scorecard item "marketing" takes 30 points of the compliance
        // section (weight 30, so 30 of 100 overall).
        assert_eq!(r["score"].as_f64(), Some(70.0), "{id}: {}", r["sections"]);
        assert_eq!(r["passed"], false);
    }

    let report = |lang: &str, format: &str| {
        let out = callqa(
            &db,
            &[
                "report", "--period", "2026-11", "--lang", lang, "--format", format,
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let json: Value = serde_json::from_str(&report("zh", "json")).unwrap();
    assert_eq!(
        json["overall"]["violations_by_flag"]["marketing_compliance"].as_u64(),
        Some(2),
        "{}",
        json["overall"]
    );
    let zh = report("zh", "html");
    assert!(zh.contains("营销合规"), "the Chinese label in the chart");
    let en = report("en", "html");
    assert!(en.contains("Marketing compliance"), "the English label");

    // The Excel export: a sheet per table, the flag with its evidence.
    let xlsx = dir.path().join("report.xlsx");
    let args = [
        "report", "--period", "2026-11", "--lang", "zh", "--format", "xlsx",
    ];
    let out = callqa(&db, &args);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("give it with --out FILE.xlsx"));
    let mut with_out = args.to_vec();
    with_out.extend(["--out", xlsx.to_str().unwrap()]);
    let out = callqa(&db, &with_out);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&xlsx).unwrap()).unwrap();
    let mut part = |name: &str| {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut zip.by_name(name).unwrap(), &mut s).unwrap();
        s
    };
    let book = part("xl/workbook.xml");
    for sheet in [
        "班组与坐席",
        "每周趋势",
        "辅导建议",
        "会话明细",
        "标记明细",
        "无法评分",
    ] {
        assert!(
            book.contains(&format!("name=\"{sheet}\"")),
            "{sheet}: {book}"
        );
    }
    let strings = part("xl/sharedStrings.xml");
    for s in [
        "坐席工号",
        "营销合规",
        "marketing_claims",
        "fin-zh-01",
        "稳赚不赔",
        "risk-free investment",
    ] {
        assert!(strings.contains(s), "{s} in the workbook");
    }
}
