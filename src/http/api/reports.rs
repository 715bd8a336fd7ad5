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

/// The evaluation report; for an agent, their own row among their team.
pub(super) async fn report(
    State(st): State<AppState>,
    user: User,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) = q?;
    let scheme = st.scheme()?;
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
    let r = report::build(
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
    let lang = q.lang.unwrap_or(Language::En);
    Ok(match q.format {
        ReportFormat::Json => Json(r).into_response(),
        ReportFormat::Csv => (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            report::render::csv(&r),
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
            report::html::page(&r, lang),
        )
            .into_response(),
    })
}
