//! The review queue: flagged conversations, most severe first, a page at
//! a time (`limit`, `offset`); the number of conversations on all pages
//! is in the `X-Total-Count` header, so the body stays the plain list it
//! always was.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum QueueStatus {
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
pub(super) struct QueueQuery {
    #[serde(default)]
    pub(super) status: QueueStatus,
    pub(super) agent: Option<String>,
    pub(super) team: Option<String>,
    pub(super) period: Option<String>,
    pub(super) since: Option<String>,
    pub(super) until: Option<String>,
    pub(super) limit: Option<i64>,
    pub(super) offset: Option<i64>,
}

#[derive(Serialize)]
pub(super) struct QueueFlagDto {
    pub(super) idx: usize,
    pub(super) flag: String,
    pub(super) rule: String,
    pub(super) severity: String,
    pub(super) start_s: f64,
    pub(super) decision: Option<Decision>,
    pub(super) dispute: Option<DisputeStatus>,
}

#[derive(Serialize)]
pub(super) struct QueueItemDto {
    pub(super) job_id: String,
    pub(super) agent_id: String,
    pub(super) team: Option<String>,
    pub(super) kind: String,
    pub(super) score: f64,
    pub(super) started_at: Option<String>,
    pub(super) max_severity: String,
    pub(super) flags: Vec<QueueFlagDto>,
}

/// The header that carries how many conversations match on all pages.
const TOTAL: &str = "x-total-count";

/// Flagged conversations, most severe first: each with all its flags, kept
/// when any flag matches the status asked for; `limit` of them from
/// `offset` on, and the number on all pages in `X-Total-Count`. The
/// queue is built from at most 20,000 flags of the window.
pub(super) async fn flag_queue(
    State(st): State<AppState>,
    user: User,
    q: Result<Query<QueueQuery>, QueryRejection>,
) -> ApiResult<([(&'static str, String); 1], Json<Vec<QueueItemDto>>)> {
    let Query(q) = q?;
    let n = limit(q.limit, 100)? as usize;
    let skip = offset(q.offset)? as usize;
    let (since, until) = Window {
        period: q.period,
        since: q.since,
        until: q.until,
    }
    .resolve(&st)
    .await?;
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
    items.retain(|it| it.flags.iter().any(matches));
    let total = items.len();
    let out = items
        .into_iter()
        .skip(skip)
        .take(n)
        .map(|mut it| {
            it.flags.sort_by_key(|f| f.idx);
            it
        })
        .collect();
    Ok(([(TOTAL, total.to_string())], Json(out)))
}
