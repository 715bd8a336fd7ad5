//! The evaluation report as JSON, CSV or HTML.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::*;

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum ReportFormat {
    #[default]
    Json,
    Html,
    Csv,
    /// An Excel workbook (`report::xlsx`).
    Xlsx,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReportQuery {
    pub(super) period: String,
    pub(super) team: Option<String>,
    pub(super) agent: Option<String>,
    #[serde(default)]
    pub(super) format: ReportFormat,
    pub(super) lang: Option<Language>,
}

/// The evaluation report; for an agent, only their own figures (see
/// [`own_figures`]). The store is read here; building and rendering the
/// report (CPU work over every result of the period) runs on a blocking
/// thread, never on the async runtime.
pub(super) async fn report(
    State(st): State<AppState>,
    user: User,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) = q?;
    let scheme = st.scheme().await?;
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
    let own = user.own_agent().map(str::to_owned);
    let body = tokio::task::spawn_blocking(move || {
        let mut r = report::build(
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
        if let Some(own) = &own {
            own_figures(&mut r, &inputs, own);
        }
        render(&r, q.format, q.lang.unwrap_or(Language::En))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("report thread: {e}")))?;
    Ok(body)
}

/// An agent sees their own figures and nothing that adds up colleagues':
/// no team rows, no team trend, overall figures that are their own, and
/// only their own dismissed flags counted. (Their grade and rank within
/// the team stay: that is what the evaluation tells them.)
pub(super) fn own_figures(r: &mut report::Report, inputs: &report::Inputs, agent: &str) {
    r.teams.clear();
    r.trend.clear();
    r.agents.retain(|a| a.agent_id == agent);
    r.contacts.retain(|c| c.agent_id == agent);
    r.unscoreable.retain(|u| u.agent_id == agent);
    // Which colleagues' contacts are sampled for review is not theirs to see.
    r.plans.clear();
    r.overall = r.agents.first().map(|a| a.kpis.clone()).unwrap_or_default();
    let own_jobs: std::collections::BTreeSet<&str> = inputs
        .results
        .iter()
        .filter(|x| x.agent_id == agent)
        .map(|x| x.job_id.as_str())
        .collect();
    r.dismissed_flags = inputs
        .dismissed
        .iter()
        .filter(|(job, _)| own_jobs.contains(job.as_str()))
        .count();
}

fn render(r: &report::Report, format: ReportFormat, lang: Language) -> Response {
    match format {
        ReportFormat::Json => Json(r).into_response(),
        ReportFormat::Csv => (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            report::render::csv(r),
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
            report::html::page(r, lang),
        )
            .into_response(),
        ReportFormat::Xlsx => match report::xlsx::workbook(r, lang) {
            Ok(bytes) => (
                [
                    (
                        header::CONTENT_TYPE,
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    ),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"callqa-report.xlsx\"",
                    ),
                ],
                bytes,
            )
                .into_response(),
            Err(e) => ApiError::Internal(format!("building the workbook: {e}")).into_response(),
        },
    }
}
