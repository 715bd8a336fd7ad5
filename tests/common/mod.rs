//! Shared helpers for the tests that run the real `callqa` binary against a
//! real RabbitMQ and PostgreSQL: services from CALLQA_TEST_AMQP and
//! CALLQA_TEST_POSTGRES (exported by scripts/test.sh), unique names per test
//! so concurrent runs never share a queue or a database, generated chat
//! jobs, and a worker process handle. A missing service fails the test with
//! a message saying how to start it; nothing is skipped.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use lapin::options::{
    BasicGetOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Connection, ConnectionProperties};
use sqlx::postgres::PgConnection;
use sqlx::Connection as _;

pub const SERVICES_HINT: &str =
    "start the services with scripts/services.sh (scripts/test.sh does it)";

pub fn amqp_url() -> String {
    std::env::var("CALLQA_TEST_AMQP")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

pub fn postgres_url() -> String {
    std::env::var("CALLQA_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/callqa_test".into())
}

/// A name no other test or test run uses: `t<pid>x<n>x<time>-<what>`.
pub fn unique(what: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 1_000_000_000;
    format!(
        "t{}x{}x{t}-{what}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")
}

// ---- jobs -------------------------------------------------------------------

/// A realistic English chat job. `flagged` jobs contain buck-passing and
/// rudeness (forbidden phrases); clean ones greet, help and close, raising
/// no flag with the shipped pack.
pub fn chat_job(id: &str, flagged: bool) -> String {
    let agent: [&str; 3] = if flagged {
        [
            "That is not my department.",
            "You will have to ask someone else, deal with it.",
            "Bye.",
        ]
    } else {
        [
            "Hello, thank you for contacting us, how can I help you today?",
            "I have checked your order: the parcel arrives tomorrow before noon.",
            "Is there anything else I can help you with? Have a great day.",
        ]
    };
    let customer = [
        "Hi, my parcel has not arrived yet.",
        "It was due on Monday.",
        "OK, thanks.",
    ];
    let mut messages = Vec::new();
    for i in 0..3 {
        messages.push(serde_json::json!({
            "speaker": "customer",
            "at": format!("2026-11-02T10:0{}:00+08:00", i * 2),
            "text": customer[i],
        }));
        messages.push(serde_json::json!({
            "speaker": "agent",
            "at": format!("2026-11-02T10:0{}:20+08:00", i * 2),
            "text": agent[i],
        }));
    }
    serde_json::json!({
        "id": id,
        "kind": "chat",
        "language": "en",
        "agent": {"id": format!("agent-{}", id.len() % 7), "team": "t1"},
        "messages": messages,
        "metadata": {"channel": "web"},
    })
    .to_string()
}

/// Writes jobs (one JSON per line) to a .jsonl file for `callqa submit`.
pub fn write_jobs(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let p = dir.join(format!("{name}.jsonl"));
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

/// `count` job ids with a common stem; every third is flagged.
pub fn batch(stem: &str, count: usize) -> (Vec<String>, Vec<String>) {
    let ids: Vec<String> = (0..count).map(|i| format!("{stem}-{i:05}")).collect();
    let jobs = ids
        .iter()
        .enumerate()
        .map(|(i, id)| chat_job(id, i % 3 == 0))
        .collect();
    (ids, jobs)
}

// ---- the environment of one test ---------------------------------------------

/// Queue names, database and scratch directory of one test. Deletes its
/// queues, exchanges and database when dropped.
pub struct Env {
    pub prefix: String,
    pub database: String,
    pub dir: tempfile::TempDir,
    pub retry_attempts: u32,
    pub retry_backoff_ms: u64,
    taps: Vec<String>,
    pg_db: Option<String>,
}

impl Env {
    /// An SQLite database in a temporary directory.
    pub fn sqlite(what: &str) -> Env {
        require_broker();
        let dir = tempfile::tempdir().unwrap();
        let database = format!("sqlite://{}", dir.path().join("callqa.db").display());
        Env::with(what, database, dir, None)
    }

    /// A fresh PostgreSQL database of its own.
    pub fn postgres(what: &str) -> Env {
        require_broker();
        let dir = tempfile::tempdir().unwrap();
        let name = unique(what).replace(['-', 'x'], "_").to_lowercase();
        let name = format!("callqa_{name}");
        pg_admin(&format!("CREATE DATABASE \"{name}\""));
        let database = pg_url_for(&name);
        Env::with(what, database, dir, Some(name))
    }

    fn with(what: &str, database: String, dir: tempfile::TempDir, pg_db: Option<String>) -> Env {
        Env {
            prefix: unique(what),
            database,
            dir,
            retry_attempts: 3,
            retry_backoff_ms: 300,
            taps: Vec::new(),
            pg_db,
        }
    }

    pub fn names(&self) -> callqa::queue::Names {
        callqa::queue::Names::new(&self.prefix)
    }

    pub fn pg_db(&self) -> &str {
        self.pg_db.as_deref().expect("a PostgreSQL env")
    }

    /// The store the worker writes to, opened from the test.
    pub fn store(&self) -> callqa::store::Store {
        block_on(callqa::store::Store::connect(&self.database)).expect("open the test store")
    }

    /// Declares the topology (as `submit` and the worker do) and binds a
    /// durable "tap" queue to the results exchange for `key`, so the test
    /// sees every published result. Taps are deleted with the env.
    pub fn tap(&mut self, key: &str) -> String {
        let names = self.names();
        let q = format!("{}.tap.{key}", self.prefix);
        let (exchange, queue) = (names.results.clone(), q.clone());
        let settings = self.settings();
        block_on(async move {
            let broker = callqa::queue::Broker::connect(&settings, "test")
                .await
                .expect("connect");
            broker.declare().await.expect("declare topology");
            broker.close().await;
            let ch = amqp().await.create_channel().await.unwrap();
            ch.queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap();
            ch.queue_bind(
                queue.as_str().into(),
                exchange.as_str().into(),
                key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        });
        self.taps.push(q.clone());
        q
    }

    pub fn settings(&self) -> callqa::queue::Settings {
        callqa::queue::Settings::from_config(&self.queue_config()).unwrap()
    }

    pub fn queue_config(&self) -> callqa::config::QueueConfig {
        callqa::config::QueueConfig {
            url: amqp_url(),
            prefix: self.prefix.clone(),
            retry_attempts: self.retry_attempts,
            retry_backoff_ms: self.retry_backoff_ms,
            ..Default::default()
        }
    }

    /// `callqa submit` of the given job lines; panics unless it succeeds.
    pub fn submit(&self, name: &str, lines: &[String]) {
        let file = write_jobs(self.dir.path(), name, lines);
        let out = self
            .command()
            .arg("submit")
            .arg(&file)
            .output()
            .expect("run callqa submit");
        assert!(
            out.status.success(),
            "callqa submit failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            said.contains(&format!("{} job(s) published", lines.len())),
            "{said}"
        );
    }

    /// The `callqa` binary with this env's settings and nothing inherited
    /// from the caller's CALLQA_* variables or working directory.
    pub fn command(&self) -> Command {
        self.configure(Command::new(env!("CARGO_BIN_EXE_callqa")))
    }

    fn configure(&self, mut c: Command) -> Command {
        for (k, _) in std::env::vars() {
            if k.starts_with("CALLQA_") {
                c.env_remove(k);
            }
        }
        c.current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env("CALLQA_AMQP_URL", amqp_url())
            .env("CALLQA_QUEUE_PREFIX", &self.prefix)
            .env("CALLQA_DATABASE", &self.database)
            .env("CALLQA_RULES", rules_dir())
            .env("CALLQA_RULES_ONLY", "1")
            .env("CALLQA_RETRY_ATTEMPTS", self.retry_attempts.to_string())
            .env("CALLQA_RETRY_BACKOFF_MS", self.retry_backoff_ms.to_string())
            .env("CALLQA_RECONNECT_MAX_MS", "1000")
            .env("CALLQA_METRICS_LISTEN", "127.0.0.1:0");
        c
    }

    /// Starts `callqa worker` and waits until it consumes.
    pub fn worker(&self, label: &str, extra_env: &[(&str, &str)]) -> Worker {
        let mut w = self.spawn_worker(label, extra_env);
        w.wait_for_log("consuming", Duration::from_secs(60));
        w.metrics = w.log().lines().find_map(|l| {
            let l = l.split_once("endpoint listening")?.1;
            l.split_once("addr=")?.1.trim().parse().ok()
        });
        w
    }

    /// Starts `callqa worker` through `sh -c`, running `prelude` first
    /// (e.g. `trap '' XFSZ` so a file-size limit makes writes fail instead
    /// of killing the process), and waits until it consumes. The shell
    /// `exec`s the worker, so the pid is the worker's.
    pub fn worker_after(&self, prelude: &str, label: &str, extra_env: &[(&str, &str)]) -> Worker {
        let script = format!("{prelude}; exec \"$0\" worker");
        let mut c = self.configure(Command::new("sh"));
        c.arg("-c").arg(script).arg(env!("CARGO_BIN_EXE_callqa"));
        let mut w = self.start_worker(c, label, extra_env, true);
        w.wait_for_log("consuming", Duration::from_secs(60));
        w.metrics = w.log().lines().find_map(|l| {
            let l = l.split_once("endpoint listening")?.1;
            l.split_once("addr=")?.1.trim().parse().ok()
        });
        w
    }

    /// Starts `callqa worker` without waiting for anything.
    pub fn spawn_worker(&self, label: &str, extra_env: &[(&str, &str)]) -> Worker {
        let mut c = self.command();
        c.arg("worker");
        self.start_worker(c, label, extra_env, false)
    }

    /// `piped`: the log goes through a pipe that this process copies to the
    /// file, so the worker's own file limits never touch its log.
    fn start_worker(
        &self,
        mut c: Command,
        label: &str,
        extra_env: &[(&str, &str)],
        piped: bool,
    ) -> Worker {
        let log = self.dir.path().join(format!("worker-{label}.log"));
        let file = std::fs::File::create(&log).unwrap();
        c.env("RUST_LOG", "warn,callqa=debug").stdout(Stdio::null());
        if piped {
            c.stderr(Stdio::piped());
        } else {
            c.stderr(file.try_clone().unwrap());
        }
        for (k, v) in extra_env {
            c.env(k, v);
        }
        let mut child = c.spawn().expect("start callqa worker");
        if let Some(mut err) = child.stderr.take() {
            let mut file = file;
            std::thread::spawn(move || {
                // As it comes, so the test sees what was logged so far.
                let mut buf = [0u8; 4096];
                while let Ok(n) = err.read(&mut buf) {
                    if n == 0 || file.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
        Worker {
            child,
            log,
            metrics: None,
            label: label.to_owned(),
        }
    }

    pub fn ready(&self, queue: &str) -> u32 {
        queue_depth(queue).0
    }

    /// Every message in a queue, taken off it.
    pub fn drain(&self, queue: &str) -> Vec<Got> {
        drain(queue)
    }

    /// Every queue and exchange this env may have created.
    fn all_queues(&self) -> Vec<String> {
        let n = self.names();
        let q = self.queue_config();
        let mut v = vec![n.jobs.clone(), n.dead_queue.clone()];
        for a in 1..=q.retry_attempts {
            v.push(n.retry(q.retry_delay_ms(a)));
        }
        v.extend(self.taps.iter().cloned());
        v.dedup();
        v
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let queues = self.all_queues();
        let n = self.names();
        let exchanges = [n.results.clone(), n.dead_exchange.clone()];
        let pg = self.pg_db.clone();
        // A thread of its own: Drop may run inside a runtime or during a panic.
        let _ = std::thread::spawn(move || {
            block_on(async move {
                if let Ok(conn) = Connection::connect(&amqp_url(), Default::default()).await {
                    for q in queues {
                        if let Ok(ch) = conn.create_channel().await {
                            let _ = ch
                                .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                                .await;
                        }
                    }
                    for e in exchanges {
                        if let Ok(ch) = conn.create_channel().await {
                            let _ = ch
                                .exchange_delete(
                                    e.as_str().into(),
                                    ExchangeDeleteOptions::default(),
                                )
                                .await;
                        }
                    }
                    let _ = conn.close(200, "bye".into()).await;
                }
            });
            if let Some(db) = pg {
                pg_admin_quiet(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"));
            }
        })
        .join();
    }
}

// ---- the worker process --------------------------------------------------------

pub struct Worker {
    child: Child,
    log: PathBuf,
    pub metrics: Option<SocketAddr>,
    pub label: String,
}

impl Worker {
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn wait_for_log(&mut self, needle: &str, within: Duration) {
        let end = Instant::now() + within;
        loop {
            if self.log().contains(needle) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "worker {} exited ({status}) before logging {needle:?}:\n{}",
                    self.label,
                    self.log()
                );
            }
            assert!(
                Instant::now() < end,
                "worker {} did not log {needle:?} within {within:?}:\n{}",
                self.label,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// GET on the worker's ops endpoint: (status code, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        let addr = self.metrics.expect("worker has a metrics endpoint");
        http_get(addr, path)
    }

    /// A counter or gauge from /metrics.
    pub fn metric(&self, name: &str) -> f64 {
        let (code, body) = self.get("/metrics");
        assert_eq!(code, 200, "{body}");
        body.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no metric {name} in:\n{body}"))
    }

    /// SIGTERM, then the exit status (panics if it takes over `within`).
    pub fn terminate(&mut self, within: Duration) -> ExitStatus {
        signal(self.child.id(), "TERM");
        self.wait(within)
    }

    pub fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL the worker");
        let _ = self.child.wait();
    }

    pub fn wait(&mut self, within: Duration) -> ExitStatus {
        let end = Instant::now() + within;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                panic!(
                    "worker {} did not exit within {within:?}:\n{}",
                    self.label,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill")
        .success();
    assert!(ok, "kill -{sig} {pid} failed");
}

pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connect to the ops endpoint {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let code = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (code, body)
}

/// Polls `f` until it returns Some, or panics with `what` after `within`.
pub fn wait_until<T>(what: &str, within: Duration, f: impl FnMut() -> Option<T>) -> T {
    wait_until_or(what, within, f, String::new)
}

/// As [`wait_until`]; on a timeout the message adds what `explain` says
/// (the state the test was waiting on).
pub fn wait_until_or<T>(
    what: &str,
    within: Duration,
    mut f: impl FnMut() -> Option<T>,
    explain: impl FnOnce() -> String,
) -> T {
    let end = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() >= end {
            panic!("timed out after {within:?}: {what}; {}", explain());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---- broker ------------------------------------------------------------------

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

async fn amqp() -> Connection {
    Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .unwrap_or_else(|e| {
            panic!(
                "RabbitMQ is not reachable at {}: {e}; {SERVICES_HINT}",
                amqp_url()
            )
        })
}

pub fn require_broker() {
    block_on(async {
        let c = amqp().await;
        let _ = c.close(200, "ok".into()).await;
    });
}

/// (ready messages, consumers) of a queue; panics if it does not exist.
pub fn queue_depth(queue: &str) -> (u32, u32) {
    let queue = queue.to_owned();
    block_on(async move {
        let c = amqp().await;
        let ch = c.create_channel().await.unwrap();
        let q = ch
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap_or_else(|e| panic!("queue {queue} does not exist: {e}"));
        let _ = c.close(200, "ok".into()).await;
        (q.message_count(), q.consumer_count())
    })
}

/// A message taken off a queue by a test.
#[derive(Debug, Clone)]
pub struct Got {
    pub routing_key: String,
    pub redelivered: bool,
    pub message_id: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Got {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no header {name} in {:?}", self.headers))
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

pub fn drain(queue: &str) -> Vec<Got> {
    let queue = queue.to_owned();
    block_on(async move {
        let c = amqp().await;
        let ch = c.create_channel().await.unwrap();
        let mut out = Vec::new();
        while let Some(m) = ch
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap_or_else(|e| panic!("basic.get on {queue}: {e}"))
        {
            let d = &m.delivery;
            let headers = d
                .properties
                .headers()
                .as_ref()
                .map(|h| {
                    h.inner()
                        .iter()
                        .map(|(k, v)| (k.to_string(), value_text(v)))
                        .collect()
                })
                .unwrap_or_default();
            out.push(Got {
                routing_key: d.routing_key.to_string(),
                redelivered: d.redelivered,
                message_id: d.properties.message_id().as_ref().map(|s| s.to_string()),
                headers,
                body: d.data.clone(),
            });
        }
        let _ = c.close(200, "ok".into()).await;
        out
    })
}

fn value_text(v: &AMQPValue) -> String {
    match v {
        AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        AMQPValue::ShortString(s) => s.to_string(),
        AMQPValue::LongLongInt(n) => n.to_string(),
        AMQPValue::LongInt(n) => n.to_string(),
        AMQPValue::Boolean(b) => b.to_string(),
        AMQPValue::Double(d) => d.to_string(),
        other => format!("{other:?}"),
    }
}

// ---- PostgreSQL ----------------------------------------------------------------

/// The test server's URL with another database name.
pub fn pg_url_for(db: &str) -> String {
    let base = postgres_url();
    let cut = base
        .rfind('/')
        .expect("CALLQA_TEST_POSTGRES ends in /DATABASE");
    let (head, tail) = base.split_at(cut);
    let query = tail.find('?').map(|q| &tail[q..]).unwrap_or("");
    format!("{head}/{db}{query}")
}

/// Runs one statement on the test server's maintenance database.
pub fn pg_admin(sql: &str) {
    let sql = sql.to_owned();
    block_on(async move {
        let mut c = PgConnection::connect(&postgres_url())
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL is not reachable at {}: {e}; {SERVICES_HINT}",
                    postgres_url()
                )
            });
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&mut c)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let _ = c.close().await;
    })
}

fn pg_admin_quiet(sql: &str) {
    let sql = sql.to_owned();
    block_on(async move {
        if let Ok(mut c) = PgConnection::connect(&postgres_url()).await {
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut c)
                .await;
            let _ = c.close().await;
        }
    })
}

/// Refuses new connections to a database and ends the open ones (the
/// database "goes down" without losing its tables), or lets them in again.
pub fn pg_set_reachable(db: &str, reachable: bool) {
    pg_admin(&format!(
        "ALTER DATABASE \"{db}\" WITH ALLOW_CONNECTIONS {reachable}"
    ));
    if !reachable {
        pg_admin(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'"
        ));
    }
}

/// Deletes an exchange (its bindings go with it).
pub fn delete_exchange(name: &str) {
    let name = name.to_owned();
    block_on(async move {
        let c = amqp().await;
        let ch = c.create_channel().await.unwrap();
        ch.exchange_delete(name.as_str().into(), ExchangeDeleteOptions::default())
            .await
            .unwrap_or_else(|e| panic!("delete exchange {name}: {e}"));
        let _ = c.close(200, "ok".into()).await;
    })
}

/// Sets a running process's file-size limit (`prlimit --fsize`): with a
/// soft limit of 1 byte every write that extends or rewrites a file past
/// its first byte fails (EFBIG), as on a full disk; `None` lifts it.
pub fn limit_file_size(pid: u32, soft: Option<u64>) {
    let soft = soft.map_or("unlimited".to_owned(), |b| b.to_string());
    let ok = Command::new("prlimit")
        .arg("--pid")
        .arg(pid.to_string())
        .arg(format!("--fsize={soft}:unlimited"))
        .status()
        .expect("run prlimit (util-linux)")
        .success();
    assert!(ok, "prlimit --fsize={soft} on {pid} failed");
}

/// Publishes one job straight to a queue, declaring nothing (`callqa
/// submit` declares the whole topology, which would undo a test's damage).
pub fn publish_raw(queue: &str, message_id: &str, body: &[u8]) {
    let (queue, message_id, body) = (queue.to_owned(), message_id.to_owned(), body.to_vec());
    block_on(async move {
        let c = amqp().await;
        let ch = c.create_channel().await.unwrap();
        ch.confirm_select(lapin::options::ConfirmSelectOptions::default())
            .await
            .unwrap();
        ch.basic_publish(
            "".into(),
            queue.as_str().into(),
            lapin::options::BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            &body,
            lapin::BasicProperties::default()
                .with_message_id(message_id.as_str().into())
                .with_delivery_mode(2),
        )
        .await
        .unwrap()
        .await
        .unwrap();
        let _ = c.close(200, "ok".into()).await;
    })
}
