//! Sampling plans and review tasks: supervisors draw a plan for a period
//! (`rules/sampling.toml`; deterministic, seeded by plan and period
//! unless a seed is given), which creates tasks assigned to reviewers
//! under a workload cap; reviewers list their tasks with due dates and
//! mark them done; everyone on the review side sees each plan's progress.

use std::collections::BTreeMap;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::*;
use crate::desk::progress::PlanProgress;
use crate::desk::sampling::{self, Plan};
use crate::store::{NewTask, TaskFilter};

async fn plans(st: &AppState) -> ApiResult<Vec<Plan>> {
    let path = st.0.rules_dir.join("sampling.toml");
    tokio::task::spawn_blocking(move || sampling::load(&path))
        .await
        .map_err(|e| ApiError::Internal(format!("plan thread: {e}")))?
        .map_err(|e| ApiError::Internal(format!("sampling plans: {e}")))
}

pub(super) async fn list_plans(
    State(st): State<AppState>,
    user: User,
) -> ApiResult<Json<Vec<Plan>>> {
    user.require(Role::Reviewer)?;
    Ok(Json(plans(&st).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RunBody {
    pub(super) plan: String,
    pub(super) period: String,
    /// Default: derived from the plan id and the period, so drawing the
    /// same plan again gives the same sample.
    pub(super) seed: Option<u64>,
}

#[derive(Serialize)]
pub(super) struct RunDto {
    pub(super) plan: String,
    pub(super) period: String,
    pub(super) seed: u64,
    pub(super) contacts: usize,
    pub(super) picked: usize,
    /// Tasks created now (a contact already drawn keeps its task).
    pub(super) created: usize,
    pub(super) by_reason: BTreeMap<&'static str, usize>,
    pub(super) assigned: BTreeMap<String, usize>,
    pub(super) unassigned: usize,
}

/// FNV-1a of the plan id and period label.
fn default_seed(plan: &str, period: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in plan.bytes().chain([0]).chain(period.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

pub(super) async fn run_plan(
    State(st): State<AppState>,
    user: User,
    body: Result<Json<RunBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<RunDto>)> {
    let Json(b) = body?;
    user.require(Role::Supervisor)?;
    let period = parse_period(&st, &b.period).await?;
    let plan = plans(&st)
        .await?
        .into_iter()
        .find(|p| p.id == b.plan)
        .ok_or_else(|| ApiError::NotFound(format!("no sampling plan {:?}", b.plan)))?;
    let seed = b
        .seed
        .unwrap_or_else(|| default_seed(&plan.id, &period.label));
    let all = st
        .store()
        .sampling_candidates(&period.since_utc(), &period.until_utc())
        .await?;
    let picks = sampling::sample(&plan, &all, seed);
    let load = st.store().open_task_load().await?;
    let who = sampling::assign(&picks, &plan.reviewers, plan.max_per_reviewer, &load);
    let due = (chrono::Utc::now() + chrono::Duration::days(i64::from(plan.due_days)))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let tasks: Vec<NewTask> = picks
        .iter()
        .zip(&who)
        .map(|(p, r)| NewTask {
            plan_id: plan.id.clone(),
            period: period.label.clone(),
            job_id: p.job_id.clone(),
            agent_id: p.agent_id.clone(),
            reason: p.reason.as_str().to_owned(),
            reviewer: r.clone(),
            // Stored for the record; i64 holds the same bits.
            seed: seed as i64,
            due_at: due.clone(),
        })
        .collect();
    let created = st.store().add_tasks(&tasks).await?;
    let mut by_reason = BTreeMap::new();
    for p in &picks {
        *by_reason.entry(p.reason.as_str()).or_default() += 1;
    }
    let mut assigned = BTreeMap::new();
    for r in who.iter().flatten() {
        *assigned.entry(r.clone()).or_default() += 1;
    }
    tracing::info!(user = %user.name, plan = %plan.id, period = %period.label, picked = picks.len(), created, "sampling plan drawn");
    Ok((
        StatusCode::CREATED,
        Json(RunDto {
            plan: plan.id,
            period: period.label,
            seed,
            contacts: all.len(),
            picked: picks.len(),
            created,
            by_reason,
            unassigned: who.iter().filter(|w| w.is_none()).count(),
            assigned,
        }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TasksQuery {
    pub(super) plan: Option<String>,
    pub(super) period: Option<String>,
    /// A reviewer's name; reviewers see their own tasks unless they ask
    /// for `all`.
    pub(super) reviewer: Option<String>,
    #[serde(default)]
    pub(super) open: bool,
    pub(super) limit: Option<i64>,
}

#[derive(Serialize)]
pub(super) struct TaskDto {
    pub(super) plan: String,
    pub(super) period: String,
    pub(super) job_id: String,
    pub(super) agent_id: String,
    pub(super) reason: String,
    pub(super) reviewer: Option<String>,
    pub(super) due_at: String,
    pub(super) overdue: bool,
    pub(super) done_at: Option<String>,
    pub(super) done_by: Option<String>,
}

#[derive(Serialize)]
pub(super) struct TasksDto {
    pub(super) tasks: Vec<TaskDto>,
    /// Per plan and period, over every reviewer.
    pub(super) progress: Vec<PlanProgress>,
}

pub(super) async fn list_tasks(
    State(st): State<AppState>,
    user: User,
    q: Result<Query<TasksQuery>, QueryRejection>,
) -> ApiResult<Json<TasksDto>> {
    let Query(q) = q?;
    user.require(Role::Reviewer)?;
    let reviewer = match q.reviewer.as_deref() {
        Some("all") => None,
        Some(r) => Some(ident("reviewer", r, 64)?),
        None => Some(user.name.clone()),
    };
    let plan_id = q
        .plan
        .as_deref()
        .map(|p| ident("plan", p, 64))
        .transpose()?;
    let period = match q.period.as_deref() {
        Some(p) => Some(parse_period(&st, p).await?.label),
        None => None,
    };
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let all = st
        .store()
        .tasks(&TaskFilter {
            plan_id,
            period,
            reviewer: None,
            open_only: false,
            limit: 100_000,
        })
        .await?;
    let progress = crate::desk::progress::progress(all.iter().map(|t| t.state()), &now);
    let n = limit(q.limit, 200)? as usize;
    let tasks = all
        .into_iter()
        .filter(|t| reviewer.is_none() || t.reviewer == reviewer)
        .filter(|t| !q.open || t.done_at.is_none())
        .take(n)
        .map(|t| TaskDto {
            overdue: t.done_at.is_none() && t.due_at < now,
            plan: t.plan_id,
            period: t.period,
            job_id: t.job_id,
            agent_id: t.agent_id,
            reason: t.reason,
            reviewer: t.reviewer,
            due_at: t.due_at,
            done_at: t.done_at,
            done_by: t.done_by,
        })
        .collect();
    Ok(Json(TasksDto { tasks, progress }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DoneBody {
    pub(super) plan: String,
    pub(super) period: String,
    pub(super) job_id: String,
}

/// The assigned reviewer (or a supervisor) marks a task done.
pub(super) async fn complete_task(
    State(st): State<AppState>,
    user: User,
    body: Result<Json<DoneBody>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let Json(b) = body?;
    user.require(Role::Reviewer)?;
    let plan = ident("plan", &b.plan, 64)?;
    let period = parse_period(&st, &b.period).await?.label;
    let job = job_id(&b.job_id)?;
    let task = st
        .store()
        .tasks(&TaskFilter {
            plan_id: Some(plan.clone()),
            period: Some(period.clone()),
            limit: 100_000,
            ..Default::default()
        })
        .await?
        .into_iter()
        .find(|t| t.job_id == job)
        .ok_or_else(|| ApiError::NotFound("no such task".into()))?;
    if task.reviewer.as_deref() != Some(user.name.as_str()) && !user.role.includes(Role::Supervisor)
    {
        return Err(ApiError::Forbidden(
            "this task is another reviewer's".into(),
        ));
    }
    if st
        .store()
        .complete_task(&plan, &period, job, &user.name)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::Conflict("this task is done already".into()))
    }
}
