//! Recordings: short-lived signed media links and range-served audio.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::*;

#[derive(Serialize)]
pub(super) struct MediaLinkDto {
    pub(super) url: String,
    pub(super) expires_at: i64,
}

/// Percent-encodes a path segment.
pub(super) fn encode_segment(s: &str) -> String {
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

pub(super) async fn media_link(
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
    let sig = st.0.media_key.sign(&r.job_id, &user.name, expires);
    Ok(Json(MediaLinkDto {
        url: format!(
            "/api/results/{}/audio?exp={expires}&u={}&sig={sig}",
            encode_segment(&r.job_id),
            encode_segment(&user.name)
        ),
        expires_at: expires,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MediaQuery {
    pub(super) exp: Option<i64>,
    /// The user the link was made for.
    pub(super) u: Option<String>,
    pub(super) sig: Option<String>,
}

pub(super) async fn audio(
    State(st): State<AppState>,
    headers: HeaderMap,
    job: Result<Path<String>, PathRejection>,
    q: Result<Query<MediaQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let Path(job) = job?;
    let Query(q) = q?;
    let job = job_id(&job)?;
    let r = match (q.exp, q.u, q.sig) {
        (Some(exp), Some(name), Some(sig)) => {
            let invalid = || ApiError::Forbidden("the media link is invalid or has expired".into());
            if sig.len() != 64
                || !st
                    .0
                    .media_key
                    .verify(job, &name, exp, &sig, chrono::Utc::now().timestamp())
            {
                return Err(invalid());
            }
            // Checked at every use, not only when the link was made: a
            // user disabled since (or whose access changed) loses it now.
            let user = st
                .store()
                .active_user(&name)
                .await?
                .map(User::from)
                .ok_or_else(invalid)?;
            match st.store().get_result(job).await? {
                Some(r) if user.may_read(&r.agent_id) => r,
                Some(_) => return Err(invalid()),
                None => return Err(ApiError::NotFound(format!("no result {job:?}"))),
            }
        }
        (None, None, None) => {
            let user = auth::authenticate(&st, &headers).await?;
            readable_result(&st, &user, job).await?
        }
        _ => {
            return Err(ApiError::BadRequest(
                "a media link needs exp, u and sig".into(),
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
