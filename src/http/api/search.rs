//! Finding contacts: full-text search over stored (redacted) transcripts
//! with filters, a page at a time. Agents find only their own.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::*;
use crate::domain::{FlagId, Severity};
use crate::store::{ContactSearch, ReviewState};

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum StateParam {
    Pending,
    Confirmed,
    Dismissed,
    Disputed,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SearchQuery {
    /// Words or phrases that must all occur in the transcript.
    pub(super) q: Option<String>,
    pub(super) agent: Option<String>,
    pub(super) team: Option<String>,
    pub(super) period: Option<String>,
    pub(super) since: Option<String>,
    pub(super) until: Option<String>,
    pub(super) channel: Option<String>,
    pub(super) score_min: Option<f64>,
    pub(super) score_max: Option<f64>,
    pub(super) rule: Option<String>,
    pub(super) flag: Option<String>,
    pub(super) severity: Option<String>,
    pub(super) state: Option<StateParam>,
    pub(super) limit: Option<i64>,
    pub(super) offset: Option<i64>,
}

#[derive(Serialize)]
pub(super) struct ContactDto {
    pub(super) job_id: String,
    pub(super) agent_id: String,
    pub(super) team: Option<String>,
    pub(super) kind: String,
    pub(super) language: String,
    pub(super) channel: String,
    pub(super) score: f64,
    pub(super) passed: bool,
    pub(super) flags: i64,
    pub(super) started_at: Option<String>,
    pub(super) snippet: Option<String>,
}

#[derive(Serialize)]
pub(super) struct SearchDto {
    pub(super) total: i64,
    pub(super) offset: i64,
    pub(super) limit: i64,
    pub(super) contacts: Vec<ContactDto>,
}

fn score_bound(field: &str, v: Option<f64>) -> ApiResult<Option<f64>> {
    match v {
        Some(x) if !(x.is_finite() && (0.0..=100.0).contains(&x)) => Err(ApiError::BadRequest(
            format!("{field} must be between 0 and 100"),
        )),
        _ => Ok(v),
    }
}

pub(super) async fn search(
    State(st): State<AppState>,
    user: User,
    q: Result<Query<SearchQuery>, QueryRejection>,
) -> ApiResult<Json<SearchDto>> {
    let Query(q) = q?;
    let (since, until) = Window {
        period: q.period,
        since: q.since,
        until: q.until,
    }
    .resolve(&st)
    .await?;
    let text_q =
        q.q.as_deref()
            .map(|t| text("q", t, 200, false))
            .transpose()?
            .filter(|t| !t.is_empty());
    let opt_ident =
        |field: &str, v: &Option<String>| v.as_deref().map(|x| ident(field, x, 128)).transpose();
    let flag = match &q.flag {
        Some(f) => Some(
            f.parse::<FlagId>()
                .map_err(ApiError::BadRequest)?
                .as_str()
                .to_owned(),
        ),
        None => None,
    };
    let severity = match &q.severity {
        Some(s) => Some(
            s.parse::<Severity>()
                .map_err(ApiError::BadRequest)?
                .as_str()
                .to_owned(),
        ),
        None => None,
    };
    let limit = limit(q.limit, 50)?.min(200);
    let offset = offset(q.offset)?;
    let page = st
        .store()
        .search_contacts(&ContactSearch {
            text: text_q,
            agent_id: narrow_agent(&user, q.agent.as_deref())?,
            team: opt_ident("team", &q.team)?,
            since,
            until,
            channel: opt_ident("channel", &q.channel)?,
            score_min: score_bound("score_min", q.score_min)?,
            score_max: score_bound("score_max", q.score_max)?,
            rule: opt_ident("rule", &q.rule)?,
            flag,
            severity,
            state: q.state.map(|s| match s {
                StateParam::Pending => ReviewState::Pending,
                StateParam::Confirmed => ReviewState::Confirmed,
                StateParam::Dismissed => ReviewState::Dismissed,
                StateParam::Disputed => ReviewState::Disputed,
            }),
            limit,
            offset,
        })
        .await?;
    Ok(Json(SearchDto {
        total: page.total,
        offset,
        limit,
        contacts: page
            .contacts
            .into_iter()
            .map(|c| ContactDto {
                job_id: c.job_id,
                agent_id: c.agent_id,
                team: c.team,
                kind: c.kind,
                language: c.language,
                channel: c.channel,
                score: c.score,
                passed: c.passed,
                flags: c.flag_count,
                started_at: c.started_at,
                snippet: c.snippet,
            })
            .collect(),
    }))
}
