//! Who am I, stored results and one result with its flags' review
//! status and history.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::*;

// ---- DTOs ----------------------------------------------------------------------

#[derive(Serialize)]
pub(super) struct MeDto {
    pub(super) name: String,
    pub(super) role: Role,
    pub(super) agent_id: Option<String>,
}

#[derive(Serialize)]
pub(super) struct ResultRowDto {
    pub(super) job_id: String,
    pub(super) agent_id: String,
    pub(super) team: Option<String>,
    pub(super) kind: String,
    pub(super) language: String,
    pub(super) score: f64,
    pub(super) passed: bool,
    pub(super) flags: i64,
    pub(super) started_at: Option<String>,
}

#[derive(Serialize)]
pub(super) struct ReviewDto {
    pub(super) decision: Decision,
    pub(super) comment: String,
    pub(super) reviewer: String,
    pub(super) decided_at: String,
}

#[derive(Serialize)]
pub(super) struct DisputeDto {
    pub(super) job_id: String,
    pub(super) idx: usize,
    pub(super) agent_id: String,
    pub(super) opened_by: String,
    pub(super) reason: String,
    pub(super) opened_at: String,
    pub(super) status: DisputeStatus,
    pub(super) decided_by: Option<String>,
    pub(super) decision_comment: Option<String>,
    pub(super) decided_at: Option<String>,
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
pub(super) struct FlagStatusDto {
    pub(super) idx: usize,
    /// Whether the flag took points off the agent (only those can be
    /// disputed).
    pub(super) costs_points: bool,
    pub(super) review: Option<ReviewDto>,
    pub(super) dispute: Option<DisputeDto>,
}

#[derive(Serialize)]
pub(super) struct LogDto {
    pub(super) idx: usize,
    pub(super) actor: String,
    pub(super) action: String,
    pub(super) comment: String,
    pub(super) at: String,
}

#[derive(Serialize)]
pub(super) struct ResultDetail {
    pub(super) result: ResultWire,
    pub(super) flags: Vec<FlagStatusDto>,
    pub(super) log: Vec<LogDto>,
    pub(super) has_audio: bool,
}

pub(super) async fn flag_statuses(st: &AppState, r: &ResultWire) -> ApiResult<Vec<FlagStatusDto>> {
    let reviews = st.store().reviews_of(&r.job_id).await?;
    let disputes = st.store().disputes_of(&r.job_id).await?;
    let mut by_idx: BTreeMap<usize, FlagStatusDto> = (0..r.flags.len())
        .map(|i| {
            (
                i,
                FlagStatusDto {
                    idx: i,
                    costs_points: costs_points(r, i),
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

pub(super) async fn me(user: User) -> Json<MeDto> {
    Json(MeDto {
        name: user.name,
        role: user.role,
        agent_id: user.agent_id,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ResultsQuery {
    pub(super) agent: Option<String>,
    pub(super) team: Option<String>,
    pub(super) period: Option<String>,
    pub(super) since: Option<String>,
    pub(super) until: Option<String>,
    #[serde(default)]
    pub(super) flagged: bool,
    pub(super) limit: Option<i64>,
}

pub(super) async fn list_results(
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
    .resolve(&st)
    .await?;
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

pub(super) async fn get_result(
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
