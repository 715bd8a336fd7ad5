//! Reviewers' decisions on flags, agents' disputes and supervisors'
//! rulings.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReviewBody {
    pub(super) decision: Decision,
    #[serde(default)]
    pub(super) comment: String,
}

pub(super) async fn review_flag(
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
    let overrule = user.role.includes(Role::Supervisor);
    match st
        .store()
        .review_flag_in_order(&r.job_id, idx, b.decision, &comment, &user.name, overrule)
        .await?
    {
        Reviewed::Recorded => {
            tracing::info!(user = %user.name, job = %r.job_id, idx, decision = b.decision.as_str(), "flag reviewed");
            one_status(&st, &r, idx).await
        }
        Reviewed::Disputed(DisputeStatus::Open) => Err(ApiError::Conflict(
            "this flag is disputed: the supervisor rules on the dispute".into(),
        )),
        Reviewed::Disputed(ruled) => Err(ApiError::Forbidden(format!(
            "a supervisor ruled on this flag's dispute ({}): only a supervisor or admin can reopen it",
            ruled.as_str()
        ))),
    }
}

pub(super) async fn one_status(
    st: &AppState,
    r: &ResultWire,
    idx: usize,
) -> ApiResult<Json<FlagStatusDto>> {
    flag_statuses(st, r)
        .await?
        .into_iter()
        .find(|s| s.idx == idx)
        .map(Json)
        .ok_or_else(|| ApiError::Internal("flag status vanished".into()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DisputeBody {
    pub(super) reason: String,
}

pub(super) async fn open_dispute(
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
    if !costs_points(&r, idx) {
        return Err(ApiError::Conflict(
            "this flag costs you no points (nothing was deducted for it): there is nothing to dispute"
                .into(),
        ));
    }
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
pub(super) enum Outcome {
    Upheld,
    Rejected,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DecisionBody {
    pub(super) outcome: Outcome,
    pub(super) comment: String,
}

pub(super) async fn decide_dispute(
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
pub(super) struct DisputesQuery {
    pub(super) status: Option<DisputeStatus>,
    pub(super) limit: Option<i64>,
}

pub(super) async fn list_disputes(
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
