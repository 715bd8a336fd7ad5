//! Agreement between the machine's flags and human decisions, per rule.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CalibrationQuery {
    pub(super) team: Option<String>,
    pub(super) period: Option<String>,
    pub(super) since: Option<String>,
    pub(super) until: Option<String>,
}

#[derive(Serialize)]
pub(super) struct CalibrationDto {
    pub(super) rule: String,
    pub(super) flag: String,
    pub(super) raised: i64,
    pub(super) confirmed: i64,
    pub(super) dismissed: i64,
    pub(super) pending: i64,
    /// confirmed / (confirmed + dismissed); null until a flag is decided.
    pub(super) precision: Option<f64>,
}

#[derive(Serialize)]
pub(super) struct CalibrationReport {
    pub(super) rules: Vec<CalibrationDto>,
    pub(super) raised: i64,
    pub(super) decided: i64,
    /// Share of decided flags that humans confirmed, all rules together.
    pub(super) agreement: Option<f64>,
}

/// Agreement between the machine's flags and human decisions, per rule,
/// least precise first: the rules raising false positives.
pub(super) async fn calibration(
    State(st): State<AppState>,
    user: User,
    q: Result<Query<CalibrationQuery>, QueryRejection>,
) -> ApiResult<Json<CalibrationReport>> {
    let Query(q) = q?;
    user.require(Role::Reviewer)?;
    let (since, until) = Window {
        period: q.period,
        since: q.since,
        until: q.until,
    }
    .resolve(&st)
    .await?;
    let rows = st
        .store()
        .calibration(&ReviewFilter {
            team: q
                .team
                .as_deref()
                .map(|t| ident("team", t, 128))
                .transpose()?,
            since,
            until,
            ..Default::default()
        })
        .await?;
    let mut rules: Vec<CalibrationDto> = rows
        .into_iter()
        .map(|r| {
            let decided = r.confirmed + r.dismissed;
            CalibrationDto {
                precision: (decided > 0)
                    .then(|| report::round_to::<4>(r.confirmed as f64 / decided as f64)),
                pending: r.raised - decided,
                rule: r.rule,
                flag: r.flag,
                raised: r.raised,
                confirmed: r.confirmed,
                dismissed: r.dismissed,
            }
        })
        .collect();
    rules.sort_by(|a, b| {
        a.precision
            .unwrap_or(2.0)
            .total_cmp(&b.precision.unwrap_or(2.0))
            .then(a.rule.cmp(&b.rule))
    });
    let raised = rules.iter().map(|r| r.raised).sum();
    let confirmed: i64 = rules.iter().map(|r| r.confirmed).sum();
    let decided: i64 = rules.iter().map(|r| r.confirmed + r.dismissed).sum();
    Ok(Json(CalibrationReport {
        rules,
        raised,
        decided,
        agreement: (decided > 0).then(|| report::round_to::<4>(confirmed as f64 / decided as f64)),
    }))
}
