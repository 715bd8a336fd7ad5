//! The review server's guards against abuse, below the routes:
//!
//! - [`SignIns`]: failed sign-ins (a request with a bearer token answered
//!   401) are counted per client address and logged; past `max_failures` in
//!   a window the address gets 429 with `Retry-After` until the window
//!   ends, so tokens cannot be guessed at network speed.
//! - [`Guarded`]: the listener, whose connections are closed when the client
//!   sends nothing for `idle` while the server waits to read (request
//!   headers trickled or never finished, a connection opened and left), so
//!   half-open requests cannot hold the server's connections.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;

/// Failed sign-ins per client address.
pub struct SignIns {
    max_failures: u32,
    window: Duration,
    by_addr: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

/// Addresses remembered at most; past it, windows that ended are dropped
/// (and if none has, the oldest).
const MAX_TRACKED: usize = 10_000;

impl SignIns {
    /// At most `max_failures` failed sign-ins per address per `window`.
    pub fn new(max_failures: u32, window: Duration) -> Arc<Self> {
        Arc::new(SignIns {
            max_failures,
            window,
            by_addr: Mutex::new(HashMap::new()),
        })
    }

    /// How long `ip` must wait before trying again, if it must.
    fn wait(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let map = self.by_addr.lock().unwrap_or_else(|p| p.into_inner());
        let (start, n) = *map.get(&ip)?;
        let end = start + self.window;
        (n >= self.max_failures && now < end).then(|| end - now)
    }

    /// Counts one failure of `ip`; returns the failures in its window.
    fn failed(&self, ip: IpAddr, now: Instant) -> u32 {
        let mut map = self.by_addr.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_TRACKED && !map.contains_key(&ip) {
            let window = self.window;
            map.retain(|_, (start, _)| now.duration_since(*start) < window);
            if map.len() >= MAX_TRACKED {
                if let Some(oldest) = map.iter().min_by_key(|(_, (s, _))| *s).map(|(k, _)| *k) {
                    map.remove(&oldest);
                }
            }
        }
        let entry = map.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1
    }
}

/// The client's address, as the guarded listener accepted it.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, Guarded>> for PeerAddr {
    fn connect_info(stream: IncomingStream<'_, Guarded>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}

/// Middleware: refuses addresses with too many failed sign-ins, counts and
/// logs each new one.
pub async fn sign_ins(
    State(limit): State<Arc<SignIns>>,
    ConnectInfo(PeerAddr(peer)): ConnectInfo<PeerAddr>,
    req: Request,
    next: Next,
) -> Response {
    let ip = peer.ip();
    // Only a request that presents a token signs in; one without is
    // simply not signed in, and guesses nothing.
    if super::auth::bearer(req.headers()).is_none() {
        return next.run(req).await;
    }
    if let Some(wait) = limit.wait(ip, Instant::now()) {
        let secs = wait.as_secs().max(1);
        let mut r = (
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many failed sign-ins from this address; try again in {secs} s\n"),
        )
            .into_response();
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let path = req.uri().path().to_owned();
    let response = next.run(req).await;
    if response.status() == StatusCode::UNAUTHORIZED {
        let n = limit.failed(ip, Instant::now());
        tracing::warn!(client = %ip, path = %path, failures = n, "failed sign-in");
    }
    response
}

/// A TCP listener whose connections close after `idle` without a byte
/// from the client while the server waits to read.
pub struct Guarded {
    inner: TcpListener,
    idle: Duration,
}

impl Guarded {
    pub fn new(inner: TcpListener, idle: Duration) -> Self {
        Guarded { inner, idle }
    }
}

impl Listener for Guarded {
    type Io = IdleTimeout<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = Listener::accept(&mut self.inner).await;
        (IdleTimeout::new(io, self.idle), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A stream that fails a read with `TimedOut` once `idle` has passed since
/// the last byte in either direction.
pub struct IdleTimeout<S> {
    inner: S,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl<S> IdleTimeout<S> {
    fn new(inner: S, idle: Duration) -> Self {
        IdleTimeout {
            inner,
            idle,
            deadline: Box::pin(tokio::time::sleep(idle)),
        }
    }

    fn touch(&mut self) {
        let at = tokio::time::Instant::now() + self.idle;
        self.deadline.as_mut().reset(at);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleTimeout<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                this.touch();
                Poll::Ready(r)
            }
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client sent nothing for too long",
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            if n > 0 {
                this.touch();
            }
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_past_the_limit_wait_for_the_window() {
        let s = SignIns::new(3, Duration::from_secs(60));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        assert_eq!(s.wait(ip, t0), None);
        for n in 1..=3 {
            assert_eq!(s.failed(ip, t0), n);
        }
        let wait = s.wait(ip, t0 + Duration::from_secs(10)).expect("blocked");
        assert_eq!(wait, Duration::from_secs(50));
        assert_eq!(s.wait(other, t0), None, "per address");
        // The window ends: a fresh start.
        let later = t0 + Duration::from_secs(61);
        assert_eq!(s.wait(ip, later), None);
        assert_eq!(s.failed(ip, later), 1);
    }

    /// A client that starts a request and stops is cut off; one that
    /// finishes it is served.
    #[tokio::test]
    async fn half_open_requests_are_closed() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let listener = Guarded::new(tcp, Duration::from_millis(300));
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
        let server = tokio::spawn(async move { axum::serve(listener, app).await });

        let mut half = TcpStream::connect(addr).await.unwrap();
        half.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let mut buf = Vec::new();
        // Without the guard this read would wait for ever.
        let n = tokio::time::timeout(Duration::from_secs(10), half.read_to_end(&mut buf))
            .await
            .expect("the server closed the half-open connection");
        // Closed: an end of stream, or a reset.
        drop(n);
        assert!(buf.is_empty(), "no response to an unfinished request");

        let mut whole = TcpStream::connect(addr).await.unwrap();
        whole
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut buf = Vec::new();
        whole.read_to_end(&mut buf).await.unwrap();
        let text = String::from_utf8_lossy(&buf);
        assert!(
            text.starts_with("HTTP/1.1 200") && text.ends_with("ok"),
            "{text}"
        );
        server.abort();
    }
}
