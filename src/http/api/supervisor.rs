//! Supervisor scores that blend into agents' composite evaluation.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SupervisorQuery {
    pub(super) period: String,
}

#[derive(Serialize)]
pub(super) struct SupervisorDto {
    pub(super) period: String,
    pub(super) agent_id: String,
    pub(super) score: f64,
    pub(super) comment: String,
    pub(super) scored_by: String,
    pub(super) scored_at: String,
}

pub(super) async fn get_supervisor_scores(
    State(st): State<AppState>,
    user: User,
    q: Result<Query<SupervisorQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<SupervisorDto>>> {
    let Query(q) = q?;
    user.require(Role::Reviewer)?;
    let p = parse_period(&st, &q.period).await?;
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
pub(super) struct SupervisorBody {
    pub(super) period: String,
    pub(super) agent_id: String,
    pub(super) score: f64,
    #[serde(default)]
    pub(super) comment: String,
}

pub(super) async fn put_supervisor_score(
    State(st): State<AppState>,
    user: User,
    body: Result<Json<SupervisorBody>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let Json(b) = body?;
    user.require(Role::Supervisor)?;
    let p = parse_period(&st, &b.period).await?;
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
