//! Agents seen in stored results, with contacts and flags.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AgentsQuery {
    pub(super) team: Option<String>,
    pub(super) period: Option<String>,
    pub(super) since: Option<String>,
    pub(super) until: Option<String>,
}

#[derive(Serialize)]
pub(super) struct AgentDto {
    pub(super) agent_id: String,
    pub(super) team: Option<String>,
    pub(super) role: Option<String>,
    pub(super) contacts: i64,
    pub(super) flags: i64,
}

pub(super) async fn agents(
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
    .resolve(&st)
    .await?;
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
