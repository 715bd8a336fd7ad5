//! The result JSON pinned (issue 14, seam 5): sample chats scored by the
//! rules-only engine must give exactly the JSON in `tests/golden/` (only
//! `processed_at` is set aside), and every example in docs/jobs.md must be
//! true: the jobs parse, the result example is part of the real result of
//! the same sample, the failure record example is a failure record.
//!
//! A deliberate change to the result is blessed with
//! `CALLQA_BLESS=1 cargo test --test golden`, then the diff is reviewed.

use std::path::PathBuf;

use callqa::intake::{parse_job, IntakeOptions};
use callqa::pipeline::{Engine, EngineOptions};
use callqa::wire::{FailureWire, ResultWire};
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn engine() -> Engine {
    Engine::load(&EngineOptions {
        rules_dir: repo().join("rules"),
        models_dir: repo().join("models"),
        rules_only: true,
        workers: 1,
        asr: Default::default(),
    })
    .expect("rule packs load")
}

/// The result JSON of a sample chat, `processed_at` blanked.
fn result_of(engine: &Engine, sample: &str) -> Value {
    let bytes = std::fs::read(repo().join("samples/chats").join(sample)).unwrap();
    let job = parse_job(&bytes, &IntakeOptions::default()).expect("the sample parses");
    let result = engine.process(&job).expect("the sample is scored");
    let mut v = serde_json::to_value(ResultWire::from(&result)).unwrap();
    v["processed_at"] = Value::String("(set aside)".into());
    v
}

/// The fenced ```json blocks of a Markdown file, in order.
fn json_blocks(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    for line in markdown.lines() {
        match (&mut block, line.trim_start()) {
            (None, "```json") => block = Some(String::new()),
            (Some(b), "```") => {
                out.push(std::mem::take(b));
                block = None;
            }
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            (None, _) => {}
        }
    }
    out
}

/// Whether `part` is in `whole`: objects key by key, arrays as an ordered
/// selection (the docs abbreviate: sections without deductions and most
/// turns are left out, a `{"...": "..."}` element marks a cut), everything
/// else equal. Returns where they differ.
fn contained(part: &Value, whole: &Value, at: &str) -> Result<(), String> {
    match (part, whole) {
        (Value::Object(p), Value::Object(w)) => {
            for (k, pv) in p {
                let wv = w
                    .get(k)
                    .ok_or_else(|| format!("{at}.{k}: not in the result"))?;
                contained(pv, wv, &format!("{at}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(p), Value::Array(w)) => {
            let elided = serde_json::json!({"...": "..."});
            let mut rest = w.iter().enumerate();
            for pv in p.iter().filter(|v| **v != elided) {
                if !rest
                    .by_ref()
                    .any(|(j, wv)| contained(pv, wv, &format!("{at}[{j}]")).is_ok())
                {
                    return Err(format!(
                        "{at}: the docs show {pv}, which is not in the result"
                    ));
                }
            }
            Ok(())
        }
        _ if part == whole => Ok(()),
        _ => Err(format!("{at}: the docs say {part}, the result has {whole}")),
    }
}

#[test]
fn sample_results_match_the_golden_files() {
    let engine = engine();
    let mut changed = Vec::new();
    for (sample, golden) in [
        ("en-02-buck-passing.json", "chat-en-02.result.json"),
        ("zh-04-pii-card.json", "chat-zh-04.result.json"),
    ] {
        let got = serde_json::to_string_pretty(&result_of(&engine, sample)).unwrap() + "\n";
        let path = repo().join("tests/golden").join(golden);
        if std::env::var_os("CALLQA_BLESS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (CALLQA_BLESS=1 writes it)", path.display()));
        if got != want {
            changed.push(format!(
                "{golden}: the result changed; review it, then bless with CALLQA_BLESS=1\n{got}"
            ));
        }
    }
    assert!(changed.is_empty(), "{}", changed.join("\n"));
}

#[test]
fn the_examples_in_docs_jobs_md_are_true() {
    let doc = std::fs::read_to_string(repo().join("docs/jobs.md")).unwrap();
    let blocks = json_blocks(&doc);
    assert_eq!(
        blocks.len(),
        4,
        "chat job, call job, result, failure record"
    );

    // The chat job parses as it is.
    let chat = parse_job(blocks[0].as_bytes(), &IntakeOptions::default())
        .unwrap_or_else(|(_, e)| panic!("the chat job example: {e}"));
    assert_eq!(chat.id().as_str(), "chat-zh-02");

    // The call job parses once its recording exists under a root.
    let root = tempfile::tempdir().unwrap();
    let wav = root.path().join("2026/11/02/0001.wav");
    std::fs::create_dir_all(wav.parent().unwrap()).unwrap();
    std::fs::write(&wav, b"RIFF").unwrap();
    let opts = IntakeOptions {
        recording_roots: vec![root.path().to_path_buf()],
    };
    let call = parse_job(blocks[1].as_bytes(), &opts)
        .unwrap_or_else(|(_, e)| panic!("the call job example: {e}"));
    assert_eq!(call.id().as_str(), "call-2026-11-02-0001");

    // The result example is the real result of that sample, abbreviated.
    let example: Value = serde_json::from_str(&blocks[2]).expect("the result example is JSON");
    assert_eq!(example["job_id"], "chat-en-02");
    let mut real = result_of(&engine(), "en-02-buck-passing.json");
    real["processed_at"] = example["processed_at"].clone();
    if let Err(e) = contained(&example, &real, "result") {
        panic!("docs/jobs.md's result example is not what callqa produces: {e}");
    }

    // The failure record example is one.
    let failure: FailureWire =
        serde_json::from_str(&blocks[3]).expect("the failure record example");
    assert_eq!(failure.job_id.as_deref(), Some("bad-order"));
}
