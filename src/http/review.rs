//! The review page for compliance officers: one HTML file, one script and
//! one stylesheet, embedded in the binary with `include_str!` (no CDN, no
//! build step; the machines are often offline). The page holds no data:
//! it signs in with a token kept in sessionStorage and reads everything
//! from the API.

use axum::http::header;
use axum::response::IntoResponse;

const INDEX: &str = include_str!("assets/review.html");
const SCRIPT: &str = include_str!("assets/review.js");
const STYLE: &str = include_str!("assets/review.css");

/// Only our own script, style and media; no inline code, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; media-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

pub async fn index() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CSP),
        ],
        INDEX,
    )
}

pub async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
}

pub async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE)
}
