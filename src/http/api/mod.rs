//! The JSON API of the review server: results, flags, disputes, agents,
//! reports, calibration, supervisor scores, rule packs and users. Every
//! `/api` route needs a bearer token (see `auth`); agents see only their
//! own conversations. Inputs are checked here, at the edge: lengths, enums
//! (by serde, unknown fields refused), ids and flag indices, so the store
//! and the report only ever see valid values.
//!
//! Routes (docs/review.md has examples):
//!
//! | method | path | who |
//! |---|---|---|
//! | GET | /api/me | anyone signed in |
//! | GET | /api/labels | anyone signed in: flag names in zh and en |
//! | GET | /api/results | agents: their own |
//! | GET | /api/results/{job} | agents: their own |
//! | GET | /api/results/{job}/media-link | agents: their own |
//! | GET | /api/results/{job}/audio | bearer or signed link; `Range` |
//! | GET | /api/flags | review queue; agents: their own |
//! | GET | /api/search | transcript search and filters, paged; agents: their own |
//! | POST | /api/results/{job}/flags/{idx}/review | reviewer+ |
//! | POST | /api/results/{job}/flags/{idx}/dispute | the agent |
//! | POST | /api/results/{job}/flags/{idx}/dispute/decision | supervisor+ |
//! | GET | /api/disputes | agents: their own |
//! | GET | /api/sampling/plans | reviewer+ |
//! | POST | /api/sampling/run | supervisor+: draws a plan for a period, creates tasks |
//! | GET | /api/tasks | reviewer+: my tasks (or `reviewer=all`), progress per plan |
//! | POST | /api/tasks/done | the task's reviewer, or supervisor+ |
//! | GET | /api/agents | agents: themselves |
//! | GET | /api/reports | agents: their own row |
//! | GET | /api/calibration | reviewer+ |
//! | GET | /api/calibration/sessions | reviewer+: sessions, newest first |
//! | POST | /api/calibration/sessions, .../{id}/close | supervisor+ |
//! | GET | /api/calibration/sessions/{id}, PUT .../verdicts | reviewer+ (blind while open) |
//! | GET, PUT | /api/supervisor-scores | reviewer+ / supervisor+ |
//! | GET, PUT | /api/packs/{lang} | admin |
//! | POST | /api/packs/{lang}/backtest | admin: a proposed pack tried on stored contacts, nothing saved |
//! | GET, POST | /api/users, DELETE /api/users/{name} | admin |
//!
//! One file per resource (`results`, `audio`, `reviews`, `queue`,
//! `agents`, `reports`, `calibration`, `supervisor`, `packs`, `users`);
//! `validate` holds the input checks and access helpers they share.

use std::collections::BTreeMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, RwLock};

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::auth::{self, MediaKey, User};
use super::media;
use super::review;
use crate::domain::{Decision, DisputeStatus, Language, Role};
use crate::report::{self, Period, Scheme};
use crate::rules::{PackSet, RulePack};
use crate::store::{
    DisputeDecided, DisputeOpened, ResultFilter, ReviewFilter, Reviewed, Store, StoreError,
    SupervisorScore, UserAdded,
};
use crate::wire::ResultWire;

mod agents;
mod audio;
mod calibration;
mod labels;
mod packs;
mod queue;
mod reports;
mod results;
mod reviews;
mod search;
mod sessions;
mod supervisor;
mod tasks;
mod users;
mod validate;

use results::{flag_statuses, DisputeDto, FlagStatusDto};
pub use users::create_user;
use validate::*;

// ---- Errors -----------------------------------------------------------------

/// An API failure, answered as `{"error": "..."}` with its status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("sign in: send `Authorization: Bearer <token>` with a valid token")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    /// Details are logged, not sent.
    #[error("internal error")]
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(format!("store: {e}"))
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        ApiError::BadRequest(e.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError::BadRequest(e.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> Self {
        ApiError::BadRequest(e.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let mut r = (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

type ApiResult<T> = Result<T, ApiError>;

// ---- State -------------------------------------------------------------------

/// What the server is started with.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Rule pack directory (zh/, en/): names and coaching in reports,
    /// rescoring after dismissals, and pack editing by admins.
    pub rules_dir: PathBuf,
    /// The evaluation scheme file: loaded at start, loaded again when its
    /// modification time changes (edits apply at the next request).
    pub scheme: PathBuf,
    /// Recordings are served only from inside these directories.
    pub recording_roots: Vec<PathBuf>,
    /// How long a media link stays valid, in seconds.
    pub media_link_ttl_s: u64,
}

struct Inner {
    store: Store,
    rules_dir: PathBuf,
    packs: RwLock<Arc<PackSet>>,
    scheme_path: PathBuf,
    scheme: RwLock<LoadedScheme>,
    roots: Vec<PathBuf>,
    media_key: MediaKey,
    media_ttl_s: i64,
    /// Pack edits one at a time.
    pack_edit: tokio::sync::Mutex<()>,
}

/// The evaluation scheme with the modification time of the file it came
/// from; a request only looks at the file's metadata unless it changed.
struct LoadedScheme {
    modified: Option<std::time::SystemTime>,
    scheme: Arc<Scheme>,
}

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    /// Loads the packs and checks the scheme, so a broken file stops the
    /// server at start-up rather than failing requests.
    pub fn new(store: Store, o: &ServeOptions) -> Result<AppState, super::server::HttpError> {
        use super::server::HttpError;
        let packs = PackSet::load(&o.rules_dir).map_err(HttpError::Packs)?;
        let scheme = Scheme::load(&o.scheme).map_err(HttpError::Scheme)?;
        let modified = std::fs::metadata(&o.scheme).and_then(|m| m.modified()).ok();
        let roots = o
            .recording_roots
            .iter()
            .filter_map(|r| match r.canonicalize() {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::warn!(root = %r.display(), error = %e, "recording root unusable; skipped");
                    None
                }
            })
            .collect();
        Ok(AppState(Arc::new(Inner {
            store,
            rules_dir: o.rules_dir.clone(),
            packs: RwLock::new(Arc::new(packs)),
            scheme_path: o.scheme.clone(),
            scheme: RwLock::new(LoadedScheme {
                modified,
                scheme: Arc::new(scheme),
            }),
            roots,
            media_key: MediaKey::random().map_err(HttpError::Random)?,
            media_ttl_s: o.media_link_ttl_s.clamp(30, 86_400) as i64,
            pack_edit: tokio::sync::Mutex::new(()),
        })))
    }

    pub fn store(&self) -> &Store {
        &self.0.store
    }

    fn packs(&self) -> Arc<PackSet> {
        match self.0.packs.read() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The current evaluation scheme: the cached one unless the file's
    /// modification time changed, in which case it is loaded again (off the
    /// async runtime). A file that no longer loads keeps the last good
    /// scheme in use and is logged.
    async fn scheme(&self) -> ApiResult<Arc<Scheme>> {
        let modified = tokio::fs::metadata(&self.0.scheme_path)
            .await
            .and_then(|m| m.modified())
            .ok();
        let cached = {
            let g = match self.0.scheme.read() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            (g.modified == modified).then(|| g.scheme.clone())
        };
        if let Some(s) = cached {
            return Ok(s);
        }
        let path = self.0.scheme_path.clone();
        let loaded = tokio::task::spawn_blocking(move || Scheme::load(&path))
            .await
            .map_err(|e| ApiError::Internal(format!("scheme thread: {e}")))?;
        let mut g = match self.0.scheme.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        match loaded {
            Ok(scheme) => {
                tracing::info!(file = %self.0.scheme_path.display(), "evaluation scheme reloaded");
                *g = LoadedScheme {
                    modified,
                    scheme: Arc::new(scheme),
                };
            }
            Err(e) => {
                tracing::error!(error = %e, "evaluation scheme edited but does not load; the last good one stays in use");
                g.modified = modified;
            }
        }
        Ok(g.scheme.clone())
    }
}

/// All routes, with security headers on every response.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(review::index))
        .route("/assets/review.js", get(review::script))
        .route("/assets/review.css", get(review::style))
        .route("/api/me", get(results::me))
        .route("/api/labels", get(labels::labels))
        .route("/api/results", get(results::list_results))
        .route("/api/results/{job}", get(results::get_result))
        .route("/api/results/{job}/media-link", get(audio::media_link))
        .route("/api/results/{job}/audio", get(audio::audio))
        .route(
            "/api/results/{job}/flags/{idx}/review",
            post(reviews::review_flag),
        )
        .route(
            "/api/results/{job}/flags/{idx}/dispute",
            post(reviews::open_dispute),
        )
        .route(
            "/api/results/{job}/flags/{idx}/dispute/decision",
            post(reviews::decide_dispute),
        )
        .route("/api/flags", get(queue::flag_queue))
        .route("/api/search", get(search::search))
        .route("/api/disputes", get(reviews::list_disputes))
        .route("/api/sampling/plans", get(tasks::list_plans))
        .route("/api/sampling/run", post(tasks::run_plan))
        .route("/api/tasks", get(tasks::list_tasks))
        .route("/api/tasks/done", post(tasks::complete_task))
        .route("/api/agents", get(agents::agents))
        .route("/api/reports", get(reports::report))
        .route("/api/metadata", post(super::import::post_metadata))
        .route("/api/calibration", get(calibration::calibration))
        .route(
            "/api/calibration/sessions",
            get(sessions::list).post(sessions::create),
        )
        .route("/api/calibration/sessions/{id}", get(sessions::get))
        .route(
            "/api/calibration/sessions/{id}/verdicts",
            axum::routing::put(sessions::put_verdict),
        )
        .route(
            "/api/calibration/sessions/{id}/close",
            post(sessions::close),
        )
        .route(
            "/api/supervisor-scores",
            get(supervisor::get_supervisor_scores).put(supervisor::put_supervisor_score),
        )
        .route(
            "/api/packs/{lang}",
            get(packs::get_pack).put(packs::put_pack),
        )
        .route("/api/packs/{lang}/backtest", post(packs::backtest))
        .route("/api/users", get(users::list_users).post(users::add_user))
        .route(
            "/api/users/{name}",
            axum::routing::delete(users::disable_user),
        )
        .fallback(|| async { ApiError::NotFound("no such page or endpoint".into()) })
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(state)
}

async fn security_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}
