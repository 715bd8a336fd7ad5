//! Calibration sessions: a supervisor picks contacts, several reviewers
//! judge each rule on each contact blind (a reviewer sees only their own
//! verdicts while the session is open), and once it is closed everyone on
//! the review side sees, per rule, agreement between reviewers and with
//! the machine (percent and Cohen's kappa) and the contacts to discuss.

use std::collections::BTreeSet;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::*;
use crate::desk::agreement::{self, Agreement, Verdict};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewSession {
    pub(super) name: String,
    pub(super) jobs: Vec<String>,
}

#[derive(Serialize)]
pub(super) struct CreatedSession {
    pub(super) id: String,
}

pub(super) async fn create(
    State(st): State<AppState>,
    user: User,
    body: Result<Json<NewSession>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<CreatedSession>)> {
    let Json(b) = body?;
    user.require(Role::Supervisor)?;
    let name = text("name", &b.name, 200, true)?;
    if b.jobs.is_empty() || b.jobs.len() > 200 {
        return Err(ApiError::BadRequest("jobs: give 1 to 200 job ids".into()));
    }
    for j in &b.jobs {
        if !st.store().result_exists(job_id(j)?).await? {
            return Err(ApiError::NotFound(format!("no result {j:?}")));
        }
    }
    let mut raw = [0u8; 8];
    getrandom::fill(&mut raw).map_err(|e| ApiError::Internal(format!("random: {e}")))?;
    let id: String = raw.iter().map(|x| format!("{x:02x}")).collect();
    st.store()
        .create_session(&id, &name, &user.name, &b.jobs)
        .await?;
    tracing::info!(user = %user.name, session = %id, contacts = b.jobs.len(), "calibration session created");
    Ok((StatusCode::CREATED, Json(CreatedSession { id })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    pub(super) limit: Option<i64>,
}

#[derive(Serialize)]
pub(super) struct SessionItemDto {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) created_by: String,
    pub(super) created_at: String,
    pub(super) closed: bool,
    pub(super) closed_at: Option<String>,
    /// How many contacts the session holds.
    pub(super) contacts: i64,
}

/// Sessions, newest first, so the page can offer them to open.
pub(super) async fn list(
    State(st): State<AppState>,
    user: User,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<SessionItemDto>>> {
    let Query(q) = q?;
    user.require(Role::Reviewer)?;
    let rows = st.store().sessions(limit(q.limit, 100)?).await?;
    Ok(Json(
        rows.into_iter()
            .map(|s| SessionItemDto {
                closed: s.closed_at.is_some(),
                id: s.id,
                name: s.name,
                created_by: s.created_by,
                created_at: s.created_at,
                closed_at: s.closed_at,
                contacts: s.contacts,
            })
            .collect(),
    ))
}

#[derive(Serialize)]
pub(super) struct AgreementDto {
    pub(super) items: usize,
    pub(super) agreed: usize,
    pub(super) percent: Option<f64>,
    pub(super) kappa: Option<f64>,
}

impl From<Agreement> for AgreementDto {
    fn from(a: Agreement) -> Self {
        AgreementDto {
            items: a.items,
            agreed: a.agreed,
            percent: a.percent.map(report::round_to::<4>),
            kappa: a.kappa.map(report::round_to::<4>),
        }
    }
}

#[derive(Serialize)]
pub(super) struct DisagreementDto {
    pub(super) job_id: String,
    pub(super) machine: bool,
    pub(super) verdicts: Vec<(String, bool)>,
}

#[derive(Serialize)]
pub(super) struct RuleFiguresDto {
    pub(super) rule: String,
    pub(super) between_reviewers: AgreementDto,
    pub(super) with_machine: AgreementDto,
    pub(super) disagreements: Vec<DisagreementDto>,
}

#[derive(Serialize)]
pub(super) struct VerdictDto {
    pub(super) job_id: String,
    pub(super) rule: String,
    pub(super) reviewer: String,
    pub(super) violated: bool,
}

#[derive(Serialize)]
pub(super) struct SessionDto {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) created_by: String,
    pub(super) closed: bool,
    pub(super) jobs: Vec<String>,
    /// While open: only the caller's own (blind); when closed: everyone's.
    pub(super) verdicts: Vec<VerdictDto>,
    /// Only once closed.
    pub(super) figures: Option<Vec<RuleFiguresDto>>,
}

pub(super) async fn get(
    State(st): State<AppState>,
    user: User,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<SessionDto>> {
    let Path(id) = id?;
    user.require(Role::Reviewer)?;
    let s = st
        .store()
        .session(&ident("session", &id, 64)?)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no calibration session {id:?}")))?;
    let closed = s.closed_at.is_some();
    let verdicts = st
        .store()
        .verdicts(&s.id, (!closed).then_some(user.name.as_str()))
        .await?;
    let figures = if closed {
        let mut flagged = BTreeSet::new();
        for j in &s.jobs {
            if let Some(r) = st.store().get_result(j).await? {
                flagged.extend(r.flags.iter().map(|f| (j.clone(), f.rule.clone())));
            }
        }
        Some(
            agreement::session(&verdicts, &flagged)
                .into_iter()
                .map(|f| RuleFiguresDto {
                    rule: f.rule,
                    between_reviewers: f.between_reviewers.into(),
                    with_machine: f.with_machine.into(),
                    disagreements: f
                        .disagreements
                        .into_iter()
                        .map(|d| DisagreementDto {
                            job_id: d.job_id,
                            machine: d.machine,
                            verdicts: d.verdicts,
                        })
                        .collect(),
                })
                .collect(),
        )
    } else {
        None
    };
    Ok(Json(SessionDto {
        id: s.id,
        name: s.name,
        created_by: s.created_by,
        closed,
        jobs: s.jobs,
        verdicts: verdicts
            .into_iter()
            .map(|v| VerdictDto {
                job_id: v.job_id,
                rule: v.rule,
                reviewer: v.reviewer,
                violated: v.violated,
            })
            .collect(),
        figures,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VerdictBody {
    pub(super) job_id: String,
    pub(super) rule: String,
    pub(super) violated: bool,
}

pub(super) async fn put_verdict(
    State(st): State<AppState>,
    user: User,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<VerdictBody>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let Path(id) = id?;
    let Json(b) = body?;
    user.require(Role::Reviewer)?;
    let s = st
        .store()
        .session(&ident("session", &id, 64)?)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no calibration session {id:?}")))?;
    if s.closed_at.is_some() {
        return Err(ApiError::Conflict("this session is closed".into()));
    }
    if !s.jobs.contains(&b.job_id) {
        return Err(ApiError::NotFound(format!(
            "{:?} is not in this session",
            b.job_id
        )));
    }
    st.store()
        .set_verdict(
            &s.id,
            &Verdict {
                job_id: b.job_id,
                rule: ident("rule", &b.rule, 128)?,
                reviewer: user.name.clone(),
                violated: b.violated,
            },
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn close(
    State(st): State<AppState>,
    user: User,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<StatusCode> {
    let Path(id) = id?;
    user.require(Role::Supervisor)?;
    if st
        .store()
        .close_session(&ident("session", &id, 64)?)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::Conflict(
            "no open calibration session of that id".into(),
        ))
    }
}
