//! Users of the review page, managed by admins; `create_user` is shared
//! with `callqa users add`.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::*;

#[derive(Serialize)]
pub(super) struct UserDto {
    pub(super) name: String,
    pub(super) role: Role,
    pub(super) agent_id: Option<String>,
    pub(super) created_at: String,
    pub(super) disabled: bool,
}

pub(super) async fn list_users(
    State(st): State<AppState>,
    user: User,
) -> ApiResult<Json<Vec<UserDto>>> {
    user.require(Role::Admin)?;
    Ok(Json(
        st.store()
            .list_users()
            .await?
            .into_iter()
            .map(|u| UserDto {
                name: u.name,
                role: u.role,
                agent_id: u.agent_id,
                created_at: u.created_at,
                disabled: u.disabled,
            })
            .collect(),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewUser {
    pub(super) name: String,
    pub(super) role: Role,
    pub(super) agent_id: Option<String>,
}

#[derive(Serialize)]
pub(super) struct CreatedUser {
    pub(super) name: String,
    pub(super) role: Role,
    pub(super) agent_id: Option<String>,
    /// Shown once; only its hash is stored.
    pub(super) token: String,
}

/// Creates a user; shared with `callqa users add`.
pub async fn create_user(
    store: &Store,
    name: &str,
    role: Role,
    agent_id: Option<&str>,
) -> Result<String, ApiError> {
    let name = ident("name", name, 64)?;
    let agent_id = agent_id.map(|a| ident("agent_id", a, 128)).transpose()?;
    match (role, &agent_id) {
        (Role::Agent, None) => {
            return Err(ApiError::BadRequest(
                "an agent user needs an agent id".into(),
            ))
        }
        (r, Some(_)) if r != Role::Agent => {
            return Err(ApiError::BadRequest(format!(
                "only agent users have an agent id, not {r}"
            )))
        }
        _ => {}
    }
    let token = auth::new_token().map_err(|e| ApiError::Internal(format!("random: {e}")))?;
    match store
        .add_user(&name, role, agent_id.as_deref(), &auth::hash_token(&token))
        .await?
    {
        UserAdded::Added => Ok(token),
        UserAdded::NameTaken => Err(ApiError::Conflict(format!("user {name:?} exists"))),
    }
}

pub(super) async fn add_user(
    State(st): State<AppState>,
    user: User,
    body: Result<Json<NewUser>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<CreatedUser>)> {
    let Json(b) = body?;
    user.require(Role::Admin)?;
    let token = create_user(st.store(), &b.name, b.role, b.agent_id.as_deref()).await?;
    tracing::info!(by = %user.name, name = %b.name, role = %b.role, "user added");
    Ok((
        StatusCode::CREATED,
        Json(CreatedUser {
            name: b.name,
            role: b.role,
            agent_id: b.agent_id,
            token,
        }),
    ))
}

pub(super) async fn disable_user(
    State(st): State<AppState>,
    user: User,
    name: Result<Path<String>, PathRejection>,
) -> ApiResult<StatusCode> {
    let Path(name) = name?;
    user.require(Role::Admin)?;
    let name = ident("name", &name, 64)?;
    if name == user.name {
        return Err(ApiError::BadRequest("you cannot disable yourself".into()));
    }
    if st.store().disable_user(&name).await? {
        tracing::info!(by = %user.name, name = %name, "user disabled");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no user {name:?}")))
    }
}
