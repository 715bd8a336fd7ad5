//! Per-stage metrics and the job span (issue 14, defect 6 and seam 1): one
//! chat job, one bare recording and one bad job through `Pipeline::run`,
//! then the exact count of each stage in the Prometheus histogram, and the
//! job's fields on every stage event. A binary of its own: the metrics are
//! process-wide, so no other test may run jobs beside this one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use callqa::intake::{Input, IntakeOptions};
use callqa::pipeline::{Engine, EngineOptions, Outcome, Pipeline};
use callqa::store::Store;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Log lines captured in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// 16-bit mono PCM WAV at 8 kHz: `seconds` of silence.
fn silent_wav(path: &Path, seconds: f64) {
    let n = (seconds * 8000.0) as u32;
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + 2 * n).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&8000u32.to_le_bytes());
    b.extend_from_slice(&16000u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(2 * n).to_le_bytes());
    b.resize(b.len() + 2 * n as usize, 0);
    std::fs::write(path, b).unwrap();
}

/// `callqa_stage_seconds_count{stage="…"}` for every stage.
fn stage_counts() -> Vec<(String, u64)> {
    callqa::telemetry::render_prometheus()
        .lines()
        .filter_map(|l| l.strip_prefix("callqa_stage_seconds_count{stage=\""))
        .filter_map(|l| {
            let (stage, n) = l.split_once("\"} ")?;
            Some((stage.to_owned(), n.parse().ok()?))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stage_is_counted_once_per_job_inside_the_jobs_span() {
    let logs = Captured::default();
    tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(logs.clone())
        .init();

    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::load(&EngineOptions {
        rules_dir: repo().join("rules"),
        models_dir: repo().join("models"),
        rules_only: true,
        workers: 1,
        asr: Default::default(),
    })
    .expect("engine loads");
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("m.db").display()))
        .await
        .unwrap();
    let p = Pipeline::new(Arc::new(engine), store, IntakeOptions::default(), 1);

    let chat = repo().join("samples/chats/en-01-clean-refund.json");
    let wav = dir.path().join("0001.wav");
    silent_wav(&wav, 1.0);
    let bad = Input::Message {
        source: "test".into(),
        body: b"{not json".to_vec(),
    };
    for input in [Input::JobFile(chat), Input::Recording(wav), bad] {
        match p.run(input).await.expect("no transient error") {
            Outcome::Done { .. } | Outcome::Failed(_) => {}
        }
    }

    // Intake once per input (the bad one too); the call's decode and
    // transcribe once; the rest once per scored job; the text models not
    // at all (rules only).
    assert_eq!(
        stage_counts(),
        [
            ("intake", 3),
            ("decode", 1),
            ("transcribe", 1),
            // A silent recording: no words, so no voices to tell apart.
            ("diarize", 0),
            ("embed", 0),
            ("analyse", 2),
            ("score", 2),
            ("coach", 2),
            ("redact", 2),
            ("store", 2),
            ("publish", 0),
        ]
        .map(|(s, n)| (s.to_owned(), n))
    );

    // Every stage event after intake is logged inside its job's span, with
    // the job's id, kind, language and agent.
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|e: &serde_json::Value| e["fields"]["message"] == "stage done")
        .collect();
    let of = |stage: &str| -> Vec<&serde_json::Value> {
        events
            .iter()
            .filter(|e| e["fields"]["stage"] == stage)
            .map(|e| &e["span"])
            .collect()
    };
    let coached = of("coach");
    assert_eq!(coached.len(), 2);
    assert_eq!(coached[0]["name"], "job");
    assert_eq!(coached[0]["id"], "chat-en-01");
    assert_eq!(coached[0]["kind"], "chat");
    assert_eq!(coached[0]["language"], "en");
    assert_eq!(coached[0]["agent"], "E101");
    assert!(
        coached[1]["id"].as_str().unwrap().starts_with("0001-"),
        "{}",
        coached[1]
    );
    assert_eq!(coached[1]["kind"], "call");
    assert_eq!(of("transcribe")[0]["id"], coached[1]["id"]);
}
