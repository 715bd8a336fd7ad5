//! Shared helpers for the review-server tests: a tiny HTTP/1.1 client (real
//! requests over TCP, no client library), a sine-wave WAV writer, results
//! seeded through the real pipeline (chats) or the engine's own
//! conversation-to-result step over a hand-written transcript (calls,
//! without Whisper), and a server started on port 0 against a temporary
//! SQLite database.

#![allow(dead_code)]

pub mod webdriver;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use callqa::domain::{
    Agent, AgentId, Attribution, Conversation, JobHeader, JobId, Language, LanguageChoice, Medium,
    Metadata, Speaker,
};
use callqa::http::api::ServeOptions;
use callqa::http::server::{self, Running};
use callqa::intake::IntakeOptions;
use callqa::pipeline::{Engine, EngineOptions, Outcome, Pipeline, Provenance};
use callqa::rules::RulePack;
use callqa::store::{Saved, Store};
use callqa::wire::ResultWire;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---- HTTP ---------------------------------------------------------------------

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(nl) = body.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = String::from_utf8_lossy(&body[..nl]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
            .expect("chunk size");
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[nl + 2..nl + 2 + size]);
        body = &body[nl + 2 + size + 2..];
    }
}

/// One HTTP/1.1 request over a fresh connection (`Connection: close`).
pub async fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Reply {
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    if let Some(b) = body {
        s.write_all(b).await.unwrap();
    }
    // Read the head, then exactly Content-Length bytes (chromedriver keeps
    // connections open whatever the request says), or chunks, or to EOF.
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let split = loop {
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = s.read(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "connection closed before the headers: {:?}",
            String::from_utf8_lossy(&raw)
        );
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut body = raw[split + 4..].to_vec();
    let no_body =
        method == "HEAD" || status == 204 || status == 304 || (100..200).contains(&status);
    if no_body {
        body.clear();
    } else if let Some(len) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
        while body.len() < len {
            let n = s.read(&mut buf).await.unwrap();
            assert!(
                n > 0,
                "connection closed after {} of {len} bytes",
                body.len()
            );
            body.extend_from_slice(&buf[..n]);
        }
        body.truncate(len);
    } else if find("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        while !body.ends_with(b"0\r\n\r\n") {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            body.extend_from_slice(&buf[..n]);
        }
        body = dechunk(&body);
    } else {
        s.read_to_end(&mut body).await.unwrap();
    }
    Reply {
        status,
        headers,
        body,
    }
}

/// A client for the review API with one token.
#[derive(Clone)]
pub struct Client {
    pub addr: String,
    pub token: Option<String>,
}

impl Client {
    pub fn new(addr: &str, token: Option<&str>) -> Self {
        Client {
            addr: addr.to_owned(),
            token: token.map(str::to_owned),
        }
    }

    fn auth(&self) -> Option<String> {
        self.token.as_ref().map(|t| format!("Bearer {t}"))
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.get_with(path, &[]).await
    }

    pub async fn get_with(&self, path: &str, extra: &[(&str, &str)]) -> Reply {
        let auth = self.auth();
        let mut h: Vec<(&str, &str)> = extra.to_vec();
        if let Some(a) = &auth {
            h.push(("Authorization", a));
        }
        request(&self.addr, "GET", path, &h, None).await
    }

    pub async fn send(&self, method: &str, path: &str, body: &serde_json::Value) -> Reply {
        let auth = self.auth();
        let bytes = serde_json::to_vec(body).unwrap();
        let mut h = vec![("Content-Type", "application/json")];
        if let Some(a) = &auth {
            h.push(("Authorization", a));
        }
        request(&self.addr, method, path, &h, Some(&bytes)).await
    }

    pub async fn send_raw(&self, method: &str, path: &str, body: &str) -> Reply {
        let auth = self.auth();
        let mut h = vec![("Content-Type", "application/json")];
        if let Some(a) = &auth {
            h.push(("Authorization", a));
        }
        request(&self.addr, method, path, &h, Some(body.as_bytes())).await
    }
}

// ---- Audio -----------------------------------------------------------------------

/// A 16-bit mono PCM WAV of a sine tone.
pub fn sine_wav(path: &Path, seconds: f64, rate: u32, freq: f64) {
    let n = (seconds * rate as f64) as u32;
    let data_len = n * 2;
    let mut b = Vec::with_capacity(44 + data_len as usize);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes()); // PCM
    b.extend_from_slice(&1u16.to_le_bytes()); // mono
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * 2).to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..n {
        let v =
            (f64::sin(2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64) * 8000.0) as i16;
        b.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, b).unwrap();
}

// ---- Seeding ------------------------------------------------------------------------

pub fn en_pack() -> RulePack {
    RulePack::load(&repo().join("rules/en")).expect("the English pack loads")
}

/// The rules-only engine of the shipped packs, loaded once per test binary.
pub fn rules_engine() -> &'static Engine {
    static ENGINE: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    ENGINE.get_or_init(|| {
        Engine::load(&EngineOptions {
            rules_dir: repo().join("rules"),
            models_dir: repo().join("models"),
            rules_only: true,
            workers: 1,
            asr: Default::default(),
        })
        .expect("rule packs load")
    })
}

/// A call result as the engine makes it from this transcript, through the
/// engine's own conversation-to-result step (`Engine::assess`: the
/// analysers, scorecard, coaching and redaction of the shipped English
/// pack, which `pack` must be), without Whisper.
pub fn call_result(
    pack: &RulePack,
    job_id: &str,
    agent: (&str, &str),
    turns: &[(Speaker, f64, f64, &str)],
    recording: &Path,
    started_at: &str,
    customer: &str,
) -> ResultWire {
    let engine = rules_engine();
    assert_eq!(
        engine.packs().get(Language::En).map(|p| p.label()),
        Some(pack.label()),
        "call_result scores with the shipped English pack"
    );
    let conv = Conversation::from_turns(
        JobId::new(job_id),
        Medium::Call,
        Language::En,
        None,
        turns.iter().map(|&(s, a, b, t)| (s, a, b, t.to_owned())),
        Attribution::Channels,
    );
    let header = JobHeader {
        id: JobId::new(job_id),
        language: LanguageChoice::Fixed(Language::En),
        agent: Agent {
            id: AgentId::new(agent.0),
            name: Some(format!("{} name", agent.0)),
            team: Some(agent.1.to_owned()),
            role: Some("after_sales".into()),
        },
        metadata: Metadata {
            customer_id: Some(customer.to_owned()),
            started_at: Some(chrono::DateTime::parse_from_rfc3339(started_at).unwrap()),
            resolved: Some(true),
            ..Default::default()
        },
    };
    let r = engine
        .assess(
            &header,
            conv,
            Provenance::default(),
            Some(&callqa::domain::Recording {
                path: recording.to_path_buf(),
                channels: callqa::domain::ChannelMap::Default,
            }),
        )
        .expect("the call is scored");
    ResultWire::from(&r)
}

/// The call the review tests revolve around: the agent never greets,
/// passes the buck at 7.5 s, and the customer threatens to complain.
pub const CALL_TURNS: &[(Speaker, f64, f64, &str)] = &[
    (Speaker::Agent, 0.5, 3.0, "Yes what is it"),
    (Speaker::Customer, 3.5, 7.0, "I want a refund for my order"),
    (
        Speaker::Agent,
        7.5,
        11.0,
        "That's not my department, ask someone else",
    ),
    (
        Speaker::Customer,
        11.5,
        15.0,
        "Then I will file a complaint",
    ),
    (
        Speaker::Agent,
        15.5,
        18.0,
        "Is there anything else, goodbye",
    ),
];

/// A chat job's JSON.
pub fn chat_job(
    id: &str,
    agent: &str,
    team: &str,
    day: u32,
    polite: bool,
    customer: &str,
    csat: Option<f64>,
) -> String {
    let (greet, close) = if polite {
        (
            "Hello, thank you for contacting us, how can I help you today?",
            "It arrives tomorrow. Is there anything else I can help you with?",
        )
    } else {
        ("what", "it arrives tomorrow")
    };
    let mut meta = serde_json::json!({ "customer_id": customer, "resolved": true });
    if let Some(c) = csat {
        meta["csat"] = serde_json::json!(c);
        meta["csat_scale"] = serde_json::json!(5);
    }
    serde_json::json!({
        "id": id,
        "kind": "chat",
        "language": "en",
        "agent": { "id": agent, "name": format!("{agent} name"), "team": team, "role": "after_sales" },
        "messages": [
            { "speaker": "customer", "at": format!("2026-11-{day:02}T10:00:00+08:00"), "text": "Hi, where is my parcel?" },
            { "speaker": "agent", "at": format!("2026-11-{day:02}T10:00:10+08:00"), "text": greet },
            { "speaker": "customer", "at": format!("2026-11-{day:02}T10:00:40+08:00"), "text": "Order 42" },
            { "speaker": "agent", "at": format!("2026-11-{day:02}T10:01:00+08:00"), "text": close }
        ],
        "metadata": meta
    })
    .to_string()
}

/// Runs a chat job through the real pipeline into the store.
pub async fn run_chat(p: &Pipeline, json: String) -> ResultWire {
    match p
        .run_json("test", json.into_bytes())
        .await
        .expect("no transient error")
    {
        Outcome::Done { result, .. } => *result,
        Outcome::Failed(f) => panic!("job rejected: {}", f.reason),
    }
}

pub fn pipeline(store: &Store) -> Pipeline {
    // Rules only: these tests are about review and reports, and the text
    // models have their own tests (tests/models.rs).
    let engine = Engine::load(&EngineOptions {
        rules_dir: repo().join("rules"),
        models_dir: repo().join("models"),
        rules_only: true,
        workers: 2,
        asr: Default::default(),
    })
    .expect("rule packs load");
    Pipeline::new(
        Arc::new(engine),
        store.clone(),
        IntakeOptions {
            recording_roots: Vec::new(),
        },
        2,
    )
}

pub async fn save(store: &Store, r: &ResultWire) {
    assert_eq!(store.save_result(r).await.expect("saved"), Saved::Inserted);
}

// ---- Server ---------------------------------------------------------------------------

pub struct World {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub running: Running,
    pub addr: String,
    pub recording: PathBuf,
    pub rules: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl World {
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = self.running.task.await;
        self.store.close().await;
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// A temp SQLite database, a copy of the rule packs (so pack edits do not
/// touch the repository), a recording root with a 20 s sine WAV, and the
/// server on port 0.
pub async fn world() -> World {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("callqa=info")
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("callqa.db");
    let store = Store::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("SQLite store");
    let rules = dir.path().join("rules");
    copy_dir(&repo().join("rules"), &rules);
    let roots = dir.path().join("recordings");
    std::fs::create_dir_all(&roots).unwrap();
    let recording = roots.join("call-1.wav");
    sine_wav(&recording, 20.0, 16_000, 440.0);
    let recording = recording.canonicalize().unwrap();
    let opts = ServeOptions {
        rules_dir: rules.clone(),
        scheme: rules.join("evaluation.toml"),
        recording_roots: vec![roots],
        media_link_ttl_s: 600,
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let running = server::start(store.clone(), &opts, "127.0.0.1:0", async {
        let _ = rx.await;
    })
    .await
    .expect("server starts");
    let addr = running.addr.to_string();
    World {
        dir,
        store,
        running,
        addr,
        recording,
        rules,
        stop: Some(tx),
    }
}

/// Adds a user directly (as `callqa users add` does) and returns the token.
pub async fn user(
    store: &Store,
    name: &str,
    role: callqa::domain::Role,
    agent: Option<&str>,
) -> String {
    callqa::http::api::create_user(store, name, role, agent)
        .await
        .expect("user created")
}
