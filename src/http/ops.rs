//! The operations endpoint of a long-running callqa process (the queue
//! worker): `GET /metrics` in the Prometheus text format and `GET /healthz`
//! (200 when every probe passes, 503 naming the failing ones otherwise).
//! Self-contained: callers hand in probes; this file knows nothing about
//! brokers or databases.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::telemetry;

/// How long one probe may take before it counts as failed.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// One dependency whose health `/healthz` reports.
pub trait Probe: Send + Sync + 'static {
    /// Short name in the report (`broker`, `store`).
    fn name(&self) -> &'static str;
    /// `Err` says what is wrong.
    fn check(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>>;
}

/// The routes: GET /metrics and GET /healthz.
pub fn router(probes: Vec<Arc<dyn Probe>>) -> Router {
    let probes = Arc::new(probes);
    Router::new().route("/metrics", get(metrics)).route(
        "/healthz",
        get(move || {
            let probes = probes.clone();
            async move { health(&probes).await }
        }),
    )
}

/// Serves `router` on an already-bound listener until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn metrics() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        telemetry::render_prometheus(),
    )
        .into_response()
}

async fn health(probes: &[Arc<dyn Probe>]) -> Response {
    let mut checks = serde_json::Map::new();
    let mut healthy = true;
    for p in probes {
        let status = match tokio::time::timeout(PROBE_TIMEOUT, p.check()).await {
            Ok(Ok(())) => "ok".to_owned(),
            Ok(Err(e)) => {
                healthy = false;
                e
            }
            Err(_) => {
                healthy = false;
                format!("no answer within {} s", PROBE_TIMEOUT.as_secs())
            }
        };
        checks.insert(p.name().to_owned(), status.into());
    }
    let body = serde_json::json!({ "healthy": healthy, "checks": checks }).to_string();
    let code = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    struct Fixed(&'static str, Result<(), String>);
    impl Probe for Fixed {
        fn name(&self) -> &'static str {
            self.0
        }
        fn check(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
            let r = self.1.clone();
            Box::pin(async move { r })
        }
    }

    async fn get_path(probes: Vec<Arc<dyn Probe>>, path: &str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, router(probes), async move {
            let _ = rx.await;
        }));
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        let _ = tx.send(());
        server.await.unwrap().unwrap();
        out
    }

    #[tokio::test]
    async fn healthz_is_200_when_all_probes_pass_and_503_naming_the_failure() {
        let ok = get_path(
            vec![
                Arc::new(Fixed("broker", Ok(()))),
                Arc::new(Fixed("store", Ok(()))),
            ],
            "/healthz",
        )
        .await;
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        assert!(ok.contains(r#""healthy":true"#), "{ok}");
        let bad = get_path(
            vec![
                Arc::new(Fixed("broker", Err("not connected".into()))),
                Arc::new(Fixed("store", Ok(()))),
            ],
            "/healthz",
        )
        .await;
        assert!(bad.starts_with("HTTP/1.1 503"), "{bad}");
        assert!(bad.contains(r#""broker":"not connected""#), "{bad}");
        assert!(bad.contains(r#""store":"ok""#), "{bad}");
    }

    #[tokio::test]
    async fn metrics_are_prometheus_text() {
        telemetry::count(telemetry::Counter::JobsRetried);
        let m = get_path(Vec::new(), "/metrics").await;
        assert!(m.starts_with("HTTP/1.1 200"), "{m}");
        assert!(m.contains("text/plain; version=0.0.4"), "{m}");
        assert!(
            m.contains("# TYPE callqa_jobs_retried_total counter"),
            "{m}"
        );
        assert!(
            m.contains("callqa_stage_seconds_bucket{stage=\"publish\",le=\"+Inf\"}"),
            "{m}"
        );
        assert!(m.contains("# TYPE callqa_jobs_in_flight gauge"), "{m}");
        let retried: u64 = m
            .lines()
            .find_map(|l| l.strip_prefix("callqa_jobs_retried_total "))
            .and_then(|v| v.trim().parse().ok())
            .expect("a retried counter line");
        assert!(retried >= 1, "{m}");
    }
}
