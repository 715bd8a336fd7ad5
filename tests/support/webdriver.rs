//! A minimal W3C WebDriver client for the end-to-end test: starts Debian's
//! `chromedriver` on a free port, opens a headless Chromium session and
//! speaks the handful of commands the test needs over plain HTTP (the
//! `request` helper). Missing browser or driver is a test failure with
//! a message saying what to install, never a skip.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::request;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn tool(env: &str, default: &str, package: &str) -> PathBuf {
    let p = PathBuf::from(std::env::var(env).unwrap_or_else(|_| default.to_owned()));
    assert!(
        p.is_file(),
        "{} not found: the end-to-end test needs Debian's {package} (scripts/setup.sh --test installs it; or set {env})",
        p.display()
    );
    p
}

pub struct Browser {
    driver: Child,
    addr: String,
    session: String,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

async fn call(addr: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let bytes = body.map(|b| serde_json::to_vec(&b).unwrap());
    let r = request(
        addr,
        method,
        path,
        &[("Content-Type", "application/json")],
        bytes.as_deref(),
    )
    .await;
    let v: Value = serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("WebDriver {method} {path}: not JSON ({e}): {}", r.text()));
    assert!(
        r.status == 200,
        "WebDriver {method} {path} failed ({}): {}",
        r.status,
        v["value"]["message"]
    );
    v["value"].clone()
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with the flags this
    /// machine needs (no sandbox as root, no GPU, no background network).
    pub async fn start() -> Browser {
        let chromium = tool("CALLQA_CHROMIUM", "/usr/bin/chromium", "chromium");
        let driver_bin = tool(
            "CALLQA_CHROMEDRIVER",
            "/usr/bin/chromedriver",
            "chromium-driver",
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver_bin.display()));
        let addr = format!("127.0.0.1:{port}");
        let t0 = Instant::now();
        loop {
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                let r = request(&addr, "GET", "/status", &[], None).await;
                if r.status == 200 && r.json()["value"]["ready"] == true {
                    break;
                }
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "chromedriver did not start on {addr}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                        "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                        "--autoplay-policy=no-user-gesture-required", "--window-size=1400,1200",
                        format!("--user-data-dir={}", profile.path().display()),
                    ]
                }
            }}
        });
        let v = call(&addr, "POST", "/session", Some(caps)).await;
        let session = v["sessionId"].as_str().expect("session id").to_owned();
        Browser {
            driver,
            addr,
            session,
            _profile: profile,
        }
    }

    async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        call(
            &self.addr,
            method,
            &format!("/session/{}{path}", self.session),
            body,
        )
        .await
    }

    pub async fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url }))).await;
    }

    pub async fn find(&self, css: &str) -> String {
        let v = self
            .cmd(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT].as_str().expect("element id").to_owned()
    }

    pub async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.cmd("POST", &format!("/element/{id}/click"), Some(json!({})))
            .await;
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.cmd(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Runs a script (a function body; `arguments` holds `args`).
    pub async fn js(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Polls a script until it returns something truthy; its value.
    pub async fn wait_for(&self, what: &str, script: &str, args: Value) -> Value {
        let t0 = Instant::now();
        loop {
            let v = self.js(script, args.clone()).await;
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return v;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "timed out waiting for {what} (last value {v})"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        let v = self.cmd("GET", "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("base64 PNG"))
            .expect("PNG decodes")
    }

    pub async fn quit(self) {
        let _ = request(
            &self.addr,
            "DELETE",
            &format!("/session/{}", self.session),
            &[],
            None,
        )
        .await;
    }
}
