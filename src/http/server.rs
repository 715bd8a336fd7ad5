//! Starting the review server: bind, serve the router, stop gracefully on
//! a signal (in-flight requests finish). Tests start it on port 0 through
//! [`start`] and get the address back.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use super::api::{router, AppState, ServeOptions};
use super::guard::{self, Guarded, PeerAddr, SignIns};
use crate::error::{Classify, Disposition};
use crate::report::SchemeError;
use crate::rules::PackError;
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("serving: {0}")]
    Serve(std::io::Error),
    #[error("rule packs: {0}")]
    Packs(PackError),
    #[error("evaluation scheme: {0}")]
    Scheme(SchemeError),
    #[error("no randomness from the operating system: {0}")]
    Random(getrandom::Error),
}

impl Classify for HttpError {
    fn disposition(&self) -> Disposition {
        match self {
            HttpError::Bind { .. } | HttpError::Serve(_) => Disposition::Retry,
            _ => Disposition::Reject,
        }
    }
}

/// Failed sign-ins (a bearer token that is refused) one client address may
/// make per window before it is answered 429 until the window ends.
pub const MAX_FAILED_SIGN_INS: u32 = 20;
pub const SIGN_IN_WINDOW: Duration = Duration::from_secs(60);
/// A connection that sends nothing for this long while the server waits
/// for a request is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A server running in the background.
pub struct Running {
    pub addr: SocketAddr,
    pub task: tokio::task::JoinHandle<Result<(), HttpError>>,
}

/// Binds `listen` (e.g. `127.0.0.1:0`) and serves in a background task
/// until `shutdown` completes.
pub async fn start(
    store: Store,
    opts: &ServeOptions,
    listen: &str,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Running, HttpError> {
    let state = AppState::new(store, opts)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| HttpError::Bind {
            addr: listen.to_owned(),
            source,
        })?;
    let addr = listener.local_addr().map_err(HttpError::Serve)?;
    let app = router(state).layer(axum::middleware::from_fn_with_state(
        SignIns::new(MAX_FAILED_SIGN_INS, SIGN_IN_WINDOW),
        guard::sign_ins,
    ));
    let listener = Guarded::new(listener, IDLE_TIMEOUT);
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<PeerAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(HttpError::Serve)
    });
    Ok(Running { addr, task })
}

/// Serves until Ctrl-C or SIGTERM.
pub async fn serve(store: Store, opts: &ServeOptions, listen: &str) -> Result<(), HttpError> {
    let running = start(store, opts, listen, shutdown_signal()).await?;
    tracing::info!(addr = %running.addr, "review server listening");
    running
        .task
        .await
        .map_err(|e| HttpError::Serve(std::io::Error::other(e)))?
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
