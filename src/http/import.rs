//! `POST /api/metadata` (supervisor): late metadata from the CRM for stored
//! results — the same rows as `callqa import`, as JSON:
//! `{"rows": [{"ticket_id": "T-8820", "csat": 5, "resolved": true}, …]}`.
//! Every row is checked before any is applied; the answer is the import's
//! summary (updated, unchanged, not found). Each change is in the metadata
//! audit log under the user's name.

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::api::{ApiError, AppState};
use super::auth::User;
use crate::domain::Role;
use crate::report::import::{self, ImportError, ImportRow, ImportSummary};

/// Most rows one request may carry.
const MAX_ROWS: usize = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataBody {
    rows: Vec<Map<String, Value>>,
}

pub async fn post_metadata(
    State(st): State<AppState>,
    user: User,
    body: Result<Json<MetadataBody>, JsonRejection>,
) -> Result<Json<ImportSummary>, ApiError> {
    user.require(Role::Supervisor)?;
    let Json(b) = body?;
    if b.rows.len() > MAX_ROWS {
        return Err(ApiError::BadRequest(format!(
            "{} rows; at most {MAX_ROWS} per request",
            b.rows.len()
        )));
    }
    let rows = b
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            import::row_of(r)
                .map(|(key, patch)| ImportRow {
                    line: i + 1,
                    key,
                    patch,
                })
                .map_err(|m| ApiError::BadRequest(format!("rows[{i}]: {m}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let summary = import::apply(st.store(), &rows, &user.name, "api:row")
        .await
        .map_err(|e| match e {
            ImportError::Store(s) => ApiError::from(s),
            other => ApiError::BadRequest(other.to_string()),
        })?;
    Ok(Json(summary))
}
