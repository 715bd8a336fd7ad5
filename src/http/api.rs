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
//! | GET | /api/results | agents: their own |
//! | GET | /api/results/{job} | agents: their own |
//! | GET | /api/results/{job}/media-link | agents: their own |
//! | GET | /api/results/{job}/audio | bearer or signed link; `Range` |
//! | GET | /api/flags | review queue; agents: their own |
//! | POST | /api/results/{job}/flags/{idx}/review | reviewer+ |
//! | POST | /api/results/{job}/flags/{idx}/dispute | the agent |
//! | POST | /api/results/{job}/flags/{idx}/dispute/decision | supervisor+ |
//! | GET | /api/disputes | agents: their own |
//! | GET | /api/agents | agents: themselves |
//! | GET | /api/reports | agents: their own row |
//! | GET | /api/calibration | reviewer+ |
//! | GET, PUT | /api/supervisor-scores | reviewer+ / supervisor+ |
//! | GET, PUT | /api/packs/{lang} | admin |
//! | GET, POST | /api/users, DELETE /api/users/{name} | admin |

use std::collections::BTreeMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, RwLock};

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::auth::{self, MediaKey, User};
use super::media;
use super::review;
use crate::domain::{Decision, DisputeStatus, Language, Role};
use crate::report::{self, Period, Scheme};
use crate::rules::{PackSet, RulePack};
use crate::store::{
    DisputeDecided, DisputeOpened, ResultFilter, ReviewFilter, Store, StoreError, SupervisorScore,
    UserAdded,
};
use crate::wire::ResultWire;

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
    /// The evaluation scheme file, read for every report (edits apply at
    /// once).
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
    scheme: PathBuf,
    roots: Vec<PathBuf>,
    media_key: MediaKey,
    media_ttl_s: i64,
    /// Pack edits one at a time.
    pack_edit: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    /// Loads the packs and checks the scheme, so a broken file stops the
    /// server at start-up rather than failing requests.
    pub fn new(store: Store, o: &ServeOptions) -> Result<AppState, super::server::HttpError> {
        use super::server::HttpError;
        let packs = PackSet::load(&o.rules_dir).map_err(HttpError::Packs)?;
        Scheme::load(&o.scheme).map_err(HttpError::Scheme)?;
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
            scheme: o.scheme.clone(),
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

    fn scheme(&self) -> ApiResult<Scheme> {
        Scheme::load(&self.0.scheme)
            .map_err(|e| ApiError::Internal(format!("evaluation scheme: {e}")))
    }
}

/// All routes, with security headers on every response.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(review::index))
        .route("/assets/review.js", get(review::script))
        .route("/assets/review.css", get(review::style))
        .route("/api/me", get(me))
        .route("/api/results", get(list_results))
        .route("/api/results/{job}", get(get_result))
        .route("/api/results/{job}/media-link", get(media_link))
        .route("/api/results/{job}/audio", get(audio))
        .route("/api/results/{job}/flags/{idx}/review", post(review_flag))
        .route("/api/results/{job}/flags/{idx}/dispute", post(open_dispute))
        .route(
            "/api/results/{job}/flags/{idx}/dispute/decision",
            post(decide_dispute),
        )
        .route("/api/flags", get(flag_queue))
        .route("/api/disputes", get(list_disputes))
        .route("/api/agents", get(agents))
        .route("/api/reports", get(report))
        .route("/api/metadata", post(super::import::post_metadata))
        .route("/api/calibration", get(calibration))
        .route(
            "/api/supervisor-scores",
            get(get_supervisor_scores).put(put_supervisor_score),
        )
        .route("/api/packs/{lang}", get(get_pack).put(put_pack))
        .route("/api/users", get(list_users).post(add_user))
        .route("/api/users/{name}", axum::routing::delete(disable_user))
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

// ---- Validation ----------------------------------------------------------------

/// Free text (comments, reasons): trimmed, at most `max` characters, no
/// control characters but newlines and tabs.
fn text(field: &str, v: &str, max: usize, required: bool) -> ApiResult<String> {
    let v = v.trim();
    if required && v.is_empty() {
        return Err(ApiError::BadRequest(format!("{field} must not be empty")));
    }
    if v.chars().count() > max {
        return Err(ApiError::BadRequest(format!(
            "{field} is longer than {max} characters"
        )));
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(ApiError::BadRequest(format!(
            "{field} contains control characters"
        )));
    }
    Ok(v.to_owned())
}

/// Names and ids: 1–`max` characters, letters (any script), digits and
/// `- _ . @ :`.
fn ident(field: &str, v: &str, max: usize) -> ApiResult<String> {
    let ok = !v.is_empty()
        && v.chars().count() <= max
        && v.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '@' | ':'));
    if ok {
        Ok(v.to_owned())
    } else {
        Err(ApiError::BadRequest(format!(
            "{field} must be 1 to {max} letters, digits or - _ . @ :"
        )))
    }
}

/// A job id from a path: what intake accepts, bounded.
fn job_id(v: &str) -> ApiResult<&str> {
    if v.is_empty() || v.chars().count() > 200 || v.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(
            "job id must be 1 to 200 printable characters".into(),
        ));
    }
    Ok(v)
}

fn limit(v: Option<i64>, default: i64) -> ApiResult<i64> {
    match v.unwrap_or(default) {
        n @ 1..=1000 => Ok(n),
        n => Err(ApiError::BadRequest(format!(
            "limit {n} is not between 1 and 1000"
        ))),
    }
}

fn utc_time(field: &str, v: &str) -> ApiResult<String> {
    chrono::DateTime::parse_from_rfc3339(v)
        .map(Period::utc)
        .map_err(|_| ApiError::BadRequest(format!("{field} {v:?} is not an RFC 3339 time")))
}

/// A time window from `period` (in the scheme's local time) or `since`/`until`.
#[derive(Debug, Default)]
struct Window {
    period: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

impl Window {
    fn resolve(&self, st: &AppState) -> ApiResult<(Option<String>, Option<String>)> {
        if let Some(p) = &self.period {
            if self.since.is_some() || self.until.is_some() {
                return Err(ApiError::BadRequest(
                    "give period or since/until, not both".into(),
                ));
            }
            let p = parse_period(st, p)?;
            return Ok((Some(p.since_utc()), Some(p.until_utc())));
        }
        Ok((
            self.since
                .as_deref()
                .map(|s| utc_time("since", s))
                .transpose()?,
            self.until
                .as_deref()
                .map(|s| utc_time("until", s))
                .transpose()?,
        ))
    }
}

fn parse_period(st: &AppState, p: &str) -> ApiResult<Period> {
    if p.len() > 40 {
        return Err(ApiError::BadRequest("period is too long".into()));
    }
    let tz = st.scheme()?.utc_offset;
    Period::parse(p, tz).map_err(ApiError::BadRequest)
}

/// An agent asking for someone else's data is refused; everyone else may
/// filter as they like.
fn narrow_agent(user: &User, asked: Option<&str>) -> ApiResult<Option<String>> {
    if let Some(a) = asked {
        ident("agent", a, 128)?;
    }
    match (user.own_agent(), asked) {
        (Some(own), Some(a)) if a != own => Err(ApiError::Forbidden(
            "agents can only see their own results".into(),
        )),
        (Some(own), _) => Ok(Some(own.to_owned())),
        (None, a) => Ok(a.map(str::to_owned)),
    }
}

/// A stored result the user may read; anything else is "not found", so an
/// agent cannot even learn that another agent's job exists.
async fn readable_result(st: &AppState, user: &User, job: &str) -> ApiResult<ResultWire> {
    let job = job_id(job)?;
    match st.store().get_result(job).await? {
        Some(r) if user.may_read(&r.agent_id) => Ok(r),
        _ => Err(ApiError::NotFound(format!("no result {job:?}"))),
    }
}

fn check_idx(r: &ResultWire, idx: usize) -> ApiResult<()> {
    if idx < r.flags.len() {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!(
            "result {} has no flag {idx} (it has {})",
            r.job_id,
            r.flags.len()
        )))
    }
}

// ---- DTOs ----------------------------------------------------------------------

#[derive(Serialize)]
struct MeDto {
    name: String,
    role: Role,
    agent_id: Option<String>,
}

#[derive(Serialize)]
struct ResultRowDto {
    job_id: String,
    agent_id: String,
    team: Option<String>,
    kind: String,
    language: String,
    score: f64,
    passed: bool,
    flags: i64,
    started_at: Option<String>,
}

#[derive(Serialize)]
struct ReviewDto {
    decision: Decision,
    comment: String,
    reviewer: String,
    decided_at: String,
}

#[derive(Serialize)]
struct DisputeDto {
    job_id: String,
    idx: usize,
    agent_id: String,
    opened_by: String,
    reason: String,
    opened_at: String,
    status: DisputeStatus,
    decided_by: Option<String>,
    decision_comment: Option<String>,
    decided_at: Option<String>,
}

impl From<crate::store::Dispute> for DisputeDto {
    fn from(d: crate::store::Dispute) -> Self {
        DisputeDto {
            job_id: d.job_id,
            idx: d.idx,
            agent_id: d.agent_id,
            opened_by: d.opened_by,
            reason: d.reason,
            opened_at: d.opened_at,
            status: d.status,
            decided_by: d.decided_by,
            decision_comment: d.decision_comment,
            decided_at: d.decided_at,
        }
    }
}

#[derive(Serialize)]
struct FlagStatusDto {
    idx: usize,
    review: Option<ReviewDto>,
    dispute: Option<DisputeDto>,
}

#[derive(Serialize)]
struct LogDto {
    idx: usize,
    actor: String,
    action: String,
    comment: String,
    at: String,
}

#[derive(Serialize)]
struct ResultDetail {
    result: ResultWire,
    flags: Vec<FlagStatusDto>,
    log: Vec<LogDto>,
    has_audio: bool,
}

async fn flag_statuses(st: &AppState, r: &ResultWire) -> ApiResult<Vec<FlagStatusDto>> {
    let reviews = st.store().reviews_of(&r.job_id).await?;
    let disputes = st.store().disputes_of(&r.job_id).await?;
    let mut by_idx: BTreeMap<usize, FlagStatusDto> = (0..r.flags.len())
        .map(|i| {
            (
                i,
                FlagStatusDto {
                    idx: i,
                    review: None,
                    dispute: None,
                },
            )
        })
        .collect();
    for v in reviews {
        if let Some(s) = by_idx.get_mut(&v.idx) {
            s.review = Some(ReviewDto {
                decision: v.decision,
                comment: v.comment,
                reviewer: v.reviewer,
                decided_at: v.decided_at,
            });
        }
    }
    for d in disputes {
        if let Some(s) = by_idx.get_mut(&d.idx) {
            s.dispute = Some(d.into());
        }
    }
    Ok(by_idx.into_values().collect())
}

// ---- Handlers: who am I, results -------------------------------------------------

async fn me(user: User) -> Json<MeDto> {
    Json(MeDto {
        name: user.name,
        role: user.role,
        agent_id: user.agent_id,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResultsQuery {
    agent: Option<String>,
    team: Option<String>,
    period: Option<String>,
    since: Option<String>,
    until: Option<String>,
    #[serde(default)]
    flagged: bool,
    limit: Option<i64>,
}

async fn list_results(
    State(st): State<AppState>,
    user: User,
    q: Result<Query<ResultsQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<ResultRowDto>>> {
    let Query(q) = q?;
    let (since, until) = Window {
        period: q.period,
        since: q.since,
        until: q.until,
    }
    .resolve(&st)?;
    let rows = st
        .store()
        .list_results(&ResultFilter {
            agent_id: narrow_agent(&user, q.agent.as_deref())?,
            team: q
                .team
                .as_deref()
                .map(|t| ident("team", t, 128))
                .transpose()?,
            since,
            until,
            flagged_only: q.flagged,
            limit: Some(limit(q.limit, 100)?),
        })
        .await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| ResultRowDto {
                job_id: r.job_id,
                agent_id: r.agent_id,
                team: r.team,
                kind: r.kind,
                language: r.language,
                score: r.score,
                passed: r.passed,
                flags: r.flag_count,
                started_at: r.started_at,
            })
            .collect(),
    ))
}

async fn get_result(
    State(st): State<AppState>,
    user: User,
    job: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<ResultDetail>> {
    let Path(job) = job?;
    let r = readable_result(&st, &user, &job).await?;
    let flags = flag_statuses(&st, &r).await?;
    let log = st
        .store()
        .log_of(&r.job_id)
        .await?
        .into_iter()
        .map(|l| LogDto {
            idx: l.idx,
            actor: l.actor,
            action: l.action,
            comment: l.comment,
            at: l.at,
        })
        .collect();
    Ok(Json(ResultDetail {
        has_audio: r.recording.is_some() && !st.0.roots.is_empty(),
        result: r,
        flags,
        log,
    }))
}

// ---- Audio ---------------------------------------------------------------------------

#[derive(Serialize)]
struct MediaLinkDto {
    url: String,
    expires_at: i64,
}

/// Percent-encodes a path segment.
fn encode_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn media_link(
    State(st): State<AppState>,
    user: User,
    job: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<MediaLinkDto>> {
    let Path(job) = job?;
    let r = readable_result(&st, &user, &job).await?;
    if r.recording.is_none() {
        return Err(ApiError::NotFound(format!(
            "result {job:?} has no recording"
        )));
    }
    let expires = chrono::Utc::now().timestamp() + st.0.media_ttl_s;
    let sig = st.0.media_key.sign(&r.job_id, expires);
    Ok(Json(MediaLinkDto {
        url: format!(
            "/api/results/{}/audio?exp={expires}&sig={sig}",
            encode_segment(&r.job_id)
        ),
        expires_at: expires,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MediaQuery {
    exp: Option<i64>,
    sig: Option<String>,
}

async fn audio(
    State(st): State<AppState>,
    headers: HeaderMap,
    job: Result<Path<String>, PathRejection>,
    q: Result<Query<MediaQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let Path(job) = job?;
    let Query(q) = q?;
    let job = job_id(&job)?;
    let r = match (q.exp, q.sig) {
        (Some(exp), Some(sig)) => {
            if sig.len() != 64
                || !st
                    .0
                    .media_key
                    .verify(job, exp, &sig, chrono::Utc::now().timestamp())
            {
                return Err(ApiError::Forbidden(
                    "the media link is invalid or has expired".into(),
                ));
            }
            st.store()
                .get_result(job)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("no result {job:?}")))?
        }
        (None, None) => {
            let user = auth::authenticate(&st, &headers).await?;
            readable_result(&st, &user, job).await?
        }
        _ => {
            return Err(ApiError::BadRequest(
                "a media link needs both exp and sig".into(),
            ))
        }
    };
    let stored = r
        .recording
        .as_deref()
        .ok_or_else(|| ApiError::NotFound(format!("result {job:?} has no recording")))?;
    let path = media::checked_path(stored, &st.0.roots).await?;
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    media::serve_file(&path, range).await
}

// ---- Reviews and disputes --------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewBody {
    decision: Decision,
    #[serde(default)]
    comment: String,
}

async fn review_flag(
    State(st): State<AppState>,
    user: User,
    p: Result<Path<(String, usize)>, PathRejection>,
    body: Result<Json<ReviewBody>, JsonRejection>,
) -> ApiResult<Json<FlagStatusDto>> {
    let Path((job, idx)) = p?;
    let Json(b) = body?;
    user.require(Role::Reviewer)?;
    // Dismissing takes a flag out of an agent's pay: say why.
    let comment = text(
        "comment",
        &b.comment,
        2000,
        b.decision == Decision::Dismissed,
    )?;
    let r = readable_result(&st, &user, &job).await?;
    check_idx(&r, idx)?;
    st.store()
        .review_flag(&r.job_id, idx, b.decision, &comment, &user.name)
        .await?;
    tracing::info!(user = %user.name, job = %r.job_id, idx, decision = b.decision.as_str(), "flag reviewed");
    one_status(&st, &r, idx).await
}

async fn one_status(st: &AppState, r: &ResultWire, idx: usize) -> ApiResult<Json<FlagStatusDto>> {
    flag_statuses(st, r)
        .await?
        .into_iter()
        .find(|s| s.idx == idx)
        .map(Json)
        .ok_or_else(|| ApiError::Internal("flag status vanished".into()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DisputeBody {
    reason: String,
}

async fn open_dispute(
    State(st): State<AppState>,
    user: User,
    p: Result<Path<(String, usize)>, PathRejection>,
    body: Result<Json<DisputeBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<FlagStatusDto>)> {
    let Path((job, idx)) = p?;
    let Json(b) = body?;
    if user.role != Role::Agent {
        return Err(ApiError::Forbidden(
            "only the agent of a conversation can dispute its flags".into(),
        ));
    }
    let reason = text("reason", &b.reason, 2000, true)?;
    let r = readable_result(&st, &user, &job).await?;
    check_idx(&r, idx)?;
    let dismissed = st
        .store()
        .reviews_of(&r.job_id)
        .await?
        .iter()
        .any(|v| v.idx == idx && v.decision == Decision::Dismissed);
    if dismissed {
        return Err(ApiError::Conflict("this flag is already dismissed".into()));
    }
    match st
        .store()
        .open_dispute(&r.job_id, idx, &r.agent_id, &user.name, &reason)
        .await?
    {
        DisputeOpened::Opened => {
            tracing::info!(user = %user.name, job = %r.job_id, idx, "flag disputed");
            Ok((StatusCode::CREATED, one_status(&st, &r, idx).await?))
        }
        DisputeOpened::AlreadyDisputed => Err(ApiError::Conflict(
            "this flag was disputed already (one dispute per flag)".into(),
        )),
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Outcome {
    Upheld,
    Rejected,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    outcome: Outcome,
    comment: String,
}

async fn decide_dispute(
    State(st): State<AppState>,
    user: User,
    p: Result<Path<(String, usize)>, PathRejection>,
    body: Result<Json<DecisionBody>, JsonRejection>,
) -> ApiResult<Json<FlagStatusDto>> {
    let Path((job, idx)) = p?;
    let Json(b) = body?;
    user.require(Role::Supervisor)?;
    let comment = text("comment", &b.comment, 2000, true)?;
    let r = readable_result(&st, &user, &job).await?;
    check_idx(&r, idx)?;
    let outcome = match b.outcome {
        Outcome::Upheld => DisputeStatus::Upheld,
        Outcome::Rejected => DisputeStatus::Rejected,
    };
    match st
        .store()
        .decide_dispute(&r.job_id, idx, outcome, &comment, &user.name)
        .await?
    {
        DisputeDecided::Decided => {
            tracing::info!(user = %user.name, job = %r.job_id, idx, outcome = outcome.as_str(), "dispute decided");
            one_status(&st, &r, idx).await
        }
        DisputeDecided::NoDispute => Err(ApiError::NotFound("this flag has no dispute".into())),
        DisputeDecided::AlreadyDecided => {
            Err(ApiError::Conflict("this dispute is decided already".into()))
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DisputesQuery {
    status: Option<DisputeStatus>,
    limit: Option<i64>,
}

async fn list_disputes(
    State(st): State<AppState>,
    user: User,
    q: Result<Query<DisputesQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<DisputeDto>>> {
    let Query(q) = q?;
    let list = st
        .store()
        .list_disputes(q.status, user.own_agent(), limit(q.limit, 200)?)
        .await?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}

// ---- Review queue ------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
enum QueueStatus {
    /// Not decided yet.
    Pending,
    Confirmed,
    Dismissed,
    /// With an open dispute.
    Disputed,
    #[default]
    All,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueQuery {
    #[serde(default)]
    status: QueueStatus,
    agent: Option<String>,
    team: Option<String>,
    period: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<i64>,
}

#[derive(Serialize)]
struct QueueFlagDto {
    idx: usize,
    flag: String,
    rule: String,
    severity: String,
    start_s: f64,
    decision: Option<Decision>,
    dispute: Option<DisputeStatus>,
}

#[derive(Serialize)]
struct QueueItemDto {
    job_id: String,
    agent_id: String,
    team: Option<String>,
    kind: String,
    score: f64,
    started_at: Option<String>,
    max_severity: String,
    flags: Vec<QueueFlagDto>,
}

/// Flagged conversations, most severe first: each with all its flags, kept
/// when any flag matches the status asked for.
async fn flag_queue(
    State(st): State<AppState>,
    user: User,
    q: Result<Query<QueueQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<QueueItemDto>>> {
    let Query(q) = q?;
    let (since, until) = Window {
        period: q.period,
        since: q.since,
        until: q.until,
    }
    .resolve(&st)?;
    let rows = st
        .store()
        .flag_queue(&ReviewFilter {
            agent_id: narrow_agent(&user, q.agent.as_deref())?,
            team: q
                .team
                .as_deref()
                .map(|t| ident("team", t, 128))
                .transpose()?,
            since,
            until,
            limit: Some(20_000),
        })
        .await?;
    let mut items: Vec<QueueItemDto> = Vec::new();
    let mut pos: BTreeMap<String, usize> = BTreeMap::new();
    for r in rows {
        let i = *pos.entry(r.job_id.clone()).or_insert_with(|| {
            items.push(QueueItemDto {
                job_id: r.job_id.clone(),
                agent_id: r.agent_id.clone(),
                team: r.team.clone(),
                kind: r.kind.clone(),
                score: r.score,
                started_at: r.started_at.clone(),
                // Rows come most severe first.
                max_severity: r.severity.clone(),
                flags: Vec::new(),
            });
            items.len() - 1
        });
        items[i].flags.push(QueueFlagDto {
            idx: r.idx,
            flag: r.flag,
            rule: r.rule,
            severity: r.severity,
            start_s: r.start_s,
            decision: r.decision,
            dispute: r.dispute,
        });
    }
    let matches = |f: &QueueFlagDto| match q.status {
        QueueStatus::All => true,
        QueueStatus::Pending => f.decision.is_none(),
        QueueStatus::Confirmed => f.decision == Some(Decision::Confirmed),
        QueueStatus::Dismissed => f.decision == Some(Decision::Dismissed),
        QueueStatus::Disputed => f.dispute == Some(DisputeStatus::Open),
    };
    let n = limit(q.limit, 100)? as usize;
    let out = items
        .into_iter()
        .filter(|it| it.flags.iter().any(matches))
        .map(|mut it| {
            it.flags.sort_by_key(|f| f.idx);
            it
        })
        .take(n)
        .collect();
    Ok(Json(out))
}

// ---- Agents, reports, calibration ---------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentsQuery {
    team: Option<String>,
    period: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

#[derive(Serialize)]
struct AgentDto {
    agent_id: String,
    team: Option<String>,
    role: Option<String>,
    contacts: i64,
    flags: i64,
}

async fn agents(
    State(st): State<AppState>,
    user: User,
    q: Result<Query<AgentsQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<AgentDto>>> {
    let Query(q) = q?;
    let (since, until) = Window {
        period: q.period,
        since: q.since,
        until: q.until,
    }
    .resolve(&st)?;
    let rows = st
        .store()
        .agents(&ReviewFilter {
            agent_id: user.own_agent().map(str::to_owned),
            team: q
                .team
                .as_deref()
                .map(|t| ident("team", t, 128))
                .transpose()?,
            since,
            until,
            limit: Some(5000),
        })
        .await?;
    Ok(Json(
        rows.into_iter()
            .map(|a| AgentDto {
                agent_id: a.agent_id,
                team: a.team,
                role: a.role,
                contacts: a.contacts,
                flags: a.flags,
            })
            .collect(),
    ))
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ReportFormat {
    #[default]
    Json,
    Html,
    Csv,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportQuery {
    period: String,
    team: Option<String>,
    agent: Option<String>,
    #[serde(default)]
    format: ReportFormat,
    lang: Option<Language>,
}

/// The evaluation report; for an agent, their own row among their team.
async fn report(
    State(st): State<AppState>,
    user: User,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) = q?;
    let scheme = st.scheme()?;
    let period = Period::parse(&q.period, scheme.utc_offset).map_err(ApiError::BadRequest)?;
    let agent = narrow_agent(&user, q.agent.as_deref())?;
    let team = match user.role {
        Role::Agent => None,
        _ => q
            .team
            .as_deref()
            .map(|t| ident("team", t, 128))
            .transpose()?,
    };
    let inputs = report::load(st.store(), &scheme, &period)
        .await
        .map_err(|e| ApiError::Internal(format!("report: {e}")))?;
    let packs = st.packs();
    let r = report::build(
        &inputs,
        &report::Options {
            scheme: &scheme,
            period: &period,
            team: team.as_deref(),
            agent: agent.as_deref(),
            lang: q.lang,
            packs: Some(&packs),
        },
    );
    let lang = q.lang.unwrap_or(Language::En);
    Ok(match q.format {
        ReportFormat::Json => Json(r).into_response(),
        ReportFormat::Csv => (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            report::render::csv(&r),
        )
            .into_response(),
        ReportFormat::Html => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'unsafe-inline'",
                ),
            ],
            report::html::page(&r, lang),
        )
            .into_response(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CalibrationQuery {
    team: Option<String>,
    period: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

#[derive(Serialize)]
struct CalibrationDto {
    rule: String,
    flag: String,
    raised: i64,
    confirmed: i64,
    dismissed: i64,
    pending: i64,
    /// confirmed / (confirmed + dismissed); null until a flag is decided.
    precision: Option<f64>,
}

#[derive(Serialize)]
struct CalibrationReport {
    rules: Vec<CalibrationDto>,
    raised: i64,
    decided: i64,
    /// Share of decided flags that humans confirmed, all rules together.
    agreement: Option<f64>,
}

/// Agreement between the machine's flags and human decisions, per rule,
/// least precise first: the rules raising false positives.
async fn calibration(
    State(st): State<AppState>,
    user: User,
    q: Result<Query<CalibrationQuery>, QueryRejection>,
) -> ApiResult<Json<CalibrationReport>> {
    let Query(q) = q?;
    user.require(Role::Reviewer)?;
    let (since, until) = Window {
        period: q.period,
        since: q.since,
        until: q.until,
    }
    .resolve(&st)?;
    let rows = st
        .store()
        .calibration(&ReviewFilter {
            team: q
                .team
                .as_deref()
                .map(|t| ident("team", t, 128))
                .transpose()?,
            since,
            until,
            ..Default::default()
        })
        .await?;
    let mut rules: Vec<CalibrationDto> = rows
        .into_iter()
        .map(|r| {
            let decided = r.confirmed + r.dismissed;
            CalibrationDto {
                precision: (decided > 0)
                    .then(|| report::round_to::<4>(r.confirmed as f64 / decided as f64)),
                pending: r.raised - decided,
                rule: r.rule,
                flag: r.flag,
                raised: r.raised,
                confirmed: r.confirmed,
                dismissed: r.dismissed,
            }
        })
        .collect();
    rules.sort_by(|a, b| {
        a.precision
            .unwrap_or(2.0)
            .total_cmp(&b.precision.unwrap_or(2.0))
            .then(a.rule.cmp(&b.rule))
    });
    let raised = rules.iter().map(|r| r.raised).sum();
    let confirmed: i64 = rules.iter().map(|r| r.confirmed).sum();
    let decided: i64 = rules.iter().map(|r| r.confirmed + r.dismissed).sum();
    Ok(Json(CalibrationReport {
        rules,
        raised,
        decided,
        agreement: (decided > 0).then(|| report::round_to::<4>(confirmed as f64 / decided as f64)),
    }))
}

// ---- Supervisor scores -----------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SupervisorQuery {
    period: String,
}

#[derive(Serialize)]
struct SupervisorDto {
    period: String,
    agent_id: String,
    score: f64,
    comment: String,
    scored_by: String,
    scored_at: String,
}

async fn get_supervisor_scores(
    State(st): State<AppState>,
    user: User,
    q: Result<Query<SupervisorQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<SupervisorDto>>> {
    let Query(q) = q?;
    user.require(Role::Reviewer)?;
    let p = parse_period(&st, &q.period)?;
    let list = st.store().supervisor_scores(&p.label).await?;
    Ok(Json(
        list.into_iter()
            .map(|s| SupervisorDto {
                period: s.period,
                agent_id: s.agent_id,
                score: s.score,
                comment: s.comment,
                scored_by: s.scored_by,
                scored_at: s.scored_at,
            })
            .collect(),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SupervisorBody {
    period: String,
    agent_id: String,
    score: f64,
    #[serde(default)]
    comment: String,
}

async fn put_supervisor_score(
    State(st): State<AppState>,
    user: User,
    body: Result<Json<SupervisorBody>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let Json(b) = body?;
    user.require(Role::Supervisor)?;
    let p = parse_period(&st, &b.period)?;
    if !(b.score.is_finite() && (0.0..=100.0).contains(&b.score)) {
        return Err(ApiError::BadRequest(
            "score must be between 0 and 100".into(),
        ));
    }
    st.store()
        .set_supervisor_score(&SupervisorScore {
            period: p.label,
            agent_id: ident("agent_id", &b.agent_id, 128)?,
            score: b.score,
            comment: text("comment", &b.comment, 2000, false)?,
            scored_by: user.name.clone(),
            scored_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- Rule packs (admin) ------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackDto {
    rules: String,
    scorecard: String,
}

fn pack_dir(st: &AppState, lang: Language) -> ApiResult<PathBuf> {
    st.packs()
        .get(lang)
        .map(|p| p.dir.clone())
        .ok_or_else(|| ApiError::NotFound(format!("no rule pack for {lang}")))
}

fn lang_of(s: &str) -> ApiResult<Language> {
    s.parse().map_err(ApiError::BadRequest)
}

async fn get_pack(
    State(st): State<AppState>,
    user: User,
    lang: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<PackDto>> {
    let Path(lang) = lang?;
    user.require(Role::Admin)?;
    let dir = pack_dir(&st, lang_of(&lang)?)?;
    let read = |f: &str| {
        std::fs::read_to_string(dir.join(f))
            .map_err(|e| ApiError::Internal(format!("read {f}: {e}")))
    };
    Ok(Json(PackDto {
        rules: read("rules.toml")?,
        scorecard: read("scorecard.toml")?,
    }))
}

#[derive(Serialize)]
struct PackSaved {
    language: Language,
    pack: String,
    scorecard: String,
}

const PACK_MAX: usize = 512 * 1024;

/// Replaces a language's rule pack and scorecard, after loading both
/// exactly as the worker will (`RulePack::load`); a pack that does not load
/// is refused with its file and line and nothing changes. A changed file
/// must carry a new version, because stored results name the version that
/// scored them. The previous files are kept as `*.bak`. Workers pick the
/// new pack up when they restart; this server uses it at once.
async fn put_pack(
    State(st): State<AppState>,
    user: User,
    lang: Result<Path<String>, PathRejection>,
    body: Result<Json<PackDto>, JsonRejection>,
) -> ApiResult<Json<PackSaved>> {
    let Path(lang) = lang?;
    let Json(b) = body?;
    user.require(Role::Admin)?;
    let lang = lang_of(&lang)?;
    if b.rules.len() > PACK_MAX || b.scorecard.len() > PACK_MAX {
        return Err(ApiError::BadRequest(format!(
            "each file must be under {PACK_MAX} bytes"
        )));
    }
    let _one_at_a_time = st.0.pack_edit.lock().await;
    let dir = pack_dir(&st, lang)?;
    let current = st
        .packs()
        .get(lang)
        .cloned()
        .ok_or_else(|| ApiError::NotFound(format!("no rule pack for {lang}")))?;
    let st2 = st.clone();
    let saved = tokio::task::spawn_blocking(move || replace_pack(&st2, &dir, lang, &current, &b))
        .await
        .map_err(|e| ApiError::Internal(format!("pack edit thread: {e}")))??;
    tracing::info!(user = %user.name, language = %lang, pack = %saved.pack, scorecard = %saved.scorecard, "rule pack replaced");
    Ok(Json(saved))
}

fn replace_pack(
    st: &AppState,
    dir: &FsPath,
    lang: Language,
    current: &RulePack,
    b: &PackDto,
) -> ApiResult<PackSaved> {
    let io = |what: &str, e: std::io::Error| ApiError::Internal(format!("{what}: {e}"));
    let mut suffix = [0u8; 6];
    getrandom::fill(&mut suffix).map_err(|e| ApiError::Internal(format!("random: {e}")))?;
    let staging = st.0.rules_dir.join(format!(
        ".staging-{}",
        suffix
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    ));
    std::fs::create_dir(&staging).map_err(|e| io("create staging directory", e))?;
    let cleanup = |r: ApiResult<PackSaved>| {
        let _ = std::fs::remove_dir_all(&staging);
        r
    };
    let result = (|| {
        std::fs::write(staging.join("rules.toml"), &b.rules).map_err(|e| io("write", e))?;
        std::fs::write(staging.join("scorecard.toml"), &b.scorecard).map_err(|e| io("write", e))?;
        let new = RulePack::load(&staging).map_err(|e| {
            let file = e
                .file
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            ApiError::BadRequest(match e.line {
                Some(l) => format!("{file}:{l}: {}", e.message),
                None => format!("{file}: {}", e.message),
            })
        })?;
        if new.language != lang {
            return Err(ApiError::BadRequest(format!(
                "rules.toml is a {} pack, not {lang}",
                new.language
            )));
        }
        let old_rules = std::fs::read_to_string(dir.join("rules.toml")).unwrap_or_default();
        let old_card = std::fs::read_to_string(dir.join("scorecard.toml")).unwrap_or_default();
        if old_rules != b.rules && new.label() == current.label() {
            return Err(ApiError::BadRequest(format!(
                "rules.toml changed but its [pack] version did not ({}): results record the version that scored them",
                new.label()
            )));
        }
        if old_card != b.scorecard && new.scorecard.label() == current.scorecard.label() {
            return Err(ApiError::BadRequest(format!(
                "scorecard.toml changed but its [scorecard] version did not ({})",
                new.scorecard.label()
            )));
        }
        for f in ["rules.toml", "scorecard.toml"] {
            let live = dir.join(f);
            if live.exists() {
                std::fs::copy(&live, dir.join(format!("{f}.bak"))).map_err(|e| io("back up", e))?;
            }
            std::fs::rename(staging.join(f), &live).map_err(|e| io("replace", e))?;
        }
        let packs = PackSet::load(&st.0.rules_dir)
            .map_err(|e| ApiError::Internal(format!("reloading rule packs: {e}")))?;
        match st.0.packs.write() {
            Ok(mut p) => *p = Arc::new(packs),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(packs),
        }
        Ok(PackSaved {
            language: lang,
            pack: new.label(),
            scorecard: new.scorecard.label(),
        })
    })();
    cleanup(result)
}

// ---- Users (admin) ---------------------------------------------------------------------------

#[derive(Serialize)]
struct UserDto {
    name: String,
    role: Role,
    agent_id: Option<String>,
    created_at: String,
    disabled: bool,
}

async fn list_users(State(st): State<AppState>, user: User) -> ApiResult<Json<Vec<UserDto>>> {
    user.require(Role::Admin)?;
    Ok(Json(
        st.store()
            .list_users()
            .await?
            .into_iter()
            .map(|u| UserDto {
                name: u.name,
                role: u.role,
                agent_id: u.agent_id,
                created_at: u.created_at,
                disabled: u.disabled,
            })
            .collect(),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
    role: Role,
    agent_id: Option<String>,
}

#[derive(Serialize)]
struct CreatedUser {
    name: String,
    role: Role,
    agent_id: Option<String>,
    /// Shown once; only its hash is stored.
    token: String,
}

/// Creates a user; shared with `callqa users add`.
pub async fn create_user(
    store: &Store,
    name: &str,
    role: Role,
    agent_id: Option<&str>,
) -> Result<String, ApiError> {
    let name = ident("name", name, 64)?;
    let agent_id = agent_id.map(|a| ident("agent_id", a, 128)).transpose()?;
    match (role, &agent_id) {
        (Role::Agent, None) => {
            return Err(ApiError::BadRequest(
                "an agent user needs an agent id".into(),
            ))
        }
        (r, Some(_)) if r != Role::Agent => {
            return Err(ApiError::BadRequest(format!(
                "only agent users have an agent id, not {r}"
            )))
        }
        _ => {}
    }
    let token = auth::new_token().map_err(|e| ApiError::Internal(format!("random: {e}")))?;
    match store
        .add_user(&name, role, agent_id.as_deref(), &auth::hash_token(&token))
        .await?
    {
        UserAdded::Added => Ok(token),
        UserAdded::NameTaken => Err(ApiError::Conflict(format!("user {name:?} exists"))),
    }
}

async fn add_user(
    State(st): State<AppState>,
    user: User,
    body: Result<Json<NewUser>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<CreatedUser>)> {
    let Json(b) = body?;
    user.require(Role::Admin)?;
    let token = create_user(st.store(), &b.name, b.role, b.agent_id.as_deref()).await?;
    tracing::info!(by = %user.name, name = %b.name, role = %b.role, "user added");
    Ok((
        StatusCode::CREATED,
        Json(CreatedUser {
            name: b.name,
            role: b.role,
            agent_id: b.agent_id,
            token,
        }),
    ))
}

async fn disable_user(
    State(st): State<AppState>,
    user: User,
    name: Result<Path<String>, PathRejection>,
) -> ApiResult<StatusCode> {
    let Path(name) = name?;
    user.require(Role::Admin)?;
    let name = ident("name", &name, 64)?;
    if name == user.name {
        return Err(ApiError::BadRequest("you cannot disable yourself".into()));
    }
    if st.store().disable_user(&name).await? {
        tracing::info!(by = %user.name, name = %name, "user disabled");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no user {name:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_text_are_checked() {
        assert!(ident("name", "li.wei@cc", 64).is_ok());
        assert!(ident("name", "王芳", 64).is_ok());
        for bad in ["", "a b", "x/y", "<script>", &"x".repeat(65)] {
            assert!(ident("name", bad, 64).is_err(), "{bad:?}");
        }
        assert_eq!(text("comment", "  ok \n", 10, true).unwrap(), "ok");
        assert!(text("comment", " ", 10, true).is_err());
        assert!(text("comment", "", 10, false).is_ok());
        assert!(text("comment", "12345678901", 10, false).is_err());
        assert!(text("comment", "a\u{7}b", 10, false).is_err());
        assert_eq!(encode_segment("a b/ç"), "a%20b%2F%C3%A7");
        assert!(job_id(&"j".repeat(201)).is_err());
        assert_eq!(limit(None, 100).unwrap(), 100);
        assert!(limit(Some(0), 100).is_err());
    }
}
