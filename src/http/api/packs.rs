//! Rule packs and scorecards, read and replaced by admins, and a proposed
//! pack back-tested on the stored contacts before it is saved.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::*;
use crate::backtest::Backtest;
use crate::rules::edit::{self, EditError};

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PackDto {
    pub(super) rules: String,
    pub(super) scorecard: String,
}

pub(super) fn pack_dir(st: &AppState, lang: Language) -> ApiResult<PathBuf> {
    st.packs()
        .get(lang)
        .map(|p| p.dir.clone())
        .ok_or_else(|| ApiError::NotFound(format!("no rule pack for {lang}")))
}

pub(super) fn lang_of(s: &str) -> ApiResult<Language> {
    s.parse().map_err(ApiError::BadRequest)
}

pub(super) async fn get_pack(
    State(st): State<AppState>,
    user: User,
    lang: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<PackDto>> {
    let Path(lang) = lang?;
    user.require(Role::Admin)?;
    let dir = pack_dir(&st, lang_of(&lang)?)?;
    let read = |f: &str| {
        std::fs::read_to_string(dir.join(f))
            .map_err(|e| ApiError::Internal(format!("read {f}: {e}")))
    };
    Ok(Json(PackDto {
        rules: read("rules.toml")?,
        scorecard: read("scorecard.toml")?,
    }))
}

#[derive(Serialize)]
pub(super) struct PackSaved {
    pub(super) language: Language,
    pub(super) pack: String,
    pub(super) scorecard: String,
}

pub(super) const PACK_MAX: usize = 512 * 1024;

/// The language of a proposed pack (from the path), once its two files are
/// known to be within `PACK_MAX`.
fn proposed(lang: &str, rules: &str, scorecard: &str) -> ApiResult<Language> {
    let lang = lang_of(lang)?;
    if rules.len() > PACK_MAX || scorecard.len() > PACK_MAX {
        return Err(ApiError::BadRequest(format!(
            "each file must be under {PACK_MAX} bytes"
        )));
    }
    Ok(lang)
}

/// Replaces a language's rule pack and scorecard, after loading both
/// exactly as the worker will (`RulePack::load`); a pack that does not load
/// is refused with its file and line and nothing changes. A changed file
/// must carry a new version, because stored results name the version that
/// scored them. The previous files are kept as `*.bak`. Workers pick the
/// new pack up when they restart; this server uses it at once.
pub(super) async fn put_pack(
    State(st): State<AppState>,
    user: User,
    lang: Result<Path<String>, PathRejection>,
    body: Result<Json<PackDto>, JsonRejection>,
) -> ApiResult<Json<PackSaved>> {
    let Path(lang) = lang?;
    let Json(b) = body?;
    user.require(Role::Admin)?;
    let lang = proposed(&lang, &b.rules, &b.scorecard)?;
    let _one_at_a_time = st.0.pack_edit.lock().await;
    let dir = pack_dir(&st, lang)?;
    let current = st
        .packs()
        .get(lang)
        .cloned()
        .ok_or_else(|| ApiError::NotFound(format!("no rule pack for {lang}")))?;
    let st2 = st.clone();
    let saved = tokio::task::spawn_blocking(move || replace_pack(&st2, &dir, lang, &current, &b))
        .await
        .map_err(|e| ApiError::Internal(format!("pack edit thread: {e}")))??;
    tracing::info!(user = %user.name, language = %lang, pack = %saved.pack, scorecard = %saved.scorecard, "rule pack replaced");
    Ok(Json(saved))
}

pub(super) fn replace_pack(
    st: &AppState,
    dir: &FsPath,
    lang: Language,
    current: &RulePack,
    b: &PackDto,
) -> ApiResult<PackSaved> {
    let old_rules = std::fs::read_to_string(dir.join("rules.toml")).unwrap_or_default();
    let old_card = std::fs::read_to_string(dir.join("scorecard.toml")).unwrap_or_default();
    // Staged, checked and swapped in with both files at once (a worker
    // loading packs meanwhile sees the old pair or the new, never a mix).
    let new = crate::rules::edit::replace(dir, &b.rules, &b.scorecard, |new| {
        if new.language != lang {
            return Err(format!("rules.toml is a {} pack, not {lang}", new.language));
        }
        if old_rules != b.rules && new.label() == current.label() {
            return Err(format!(
                "rules.toml changed but its [pack] version did not ({}): results record the version that scored them",
                new.label()
            ));
        }
        if old_card != b.scorecard && new.scorecard.label() == current.scorecard.label() {
            return Err(format!(
                "scorecard.toml changed but its [scorecard] version did not ({})",
                new.scorecard.label()
            ));
        }
        Ok(())
    })
    .map_err(edit_error)?;
    let packs = PackSet::load(&st.0.rules_dir)
        .map_err(|e| ApiError::Internal(format!("reloading rule packs: {e}")))?;
    match st.0.packs.write() {
        Ok(mut p) => *p = Arc::new(packs),
        Err(poisoned) => *poisoned.into_inner() = Arc::new(packs),
    }
    Ok(PackSaved {
        language: lang,
        pack: new.label(),
        scorecard: new.scorecard.label(),
    })
}

/// A pack that does not load is the client's to fix (`rules.toml:31: …`,
/// the file named without the server's folders); anything else is ours.
fn edit_error(e: EditError) -> ApiError {
    match e {
        EditError::Invalid(e) => {
            let file = e
                .file
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            ApiError::BadRequest(match e.line {
                Some(l) => format!("{file}:{l}: {}", e.message),
                None => format!("{file}: {}", e.message),
            })
        }
        EditError::Refused(why) => ApiError::BadRequest(why),
        io => ApiError::Internal(io.to_string()),
    }
}

/// The body of a back-test: the proposed files, as for `PUT`, and the
/// period whose stored contacts they are tried on.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BacktestBody {
    pub(super) rules: String,
    pub(super) scorecard: String,
    pub(super) period: String,
}

/// Tries a proposed pack before it is saved: the two files are loaded as
/// `PUT` would (`RulePack::load`, in a temporary folder; a pack that does
/// not load is a 400 with its file and line), put in place of this
/// language's pack in a copy of the packs in use, and the period's stored
/// contacts are compared under both (`crate::backtest`), answering the
/// JSON of `callqa backtest --json`. Nothing is saved.
pub(super) async fn backtest(
    State(st): State<AppState>,
    user: User,
    lang: Result<Path<String>, PathRejection>,
    body: Result<Json<BacktestBody>, JsonRejection>,
) -> ApiResult<Json<Backtest>> {
    let Path(lang) = lang?;
    let Json(b) = body?;
    user.require(Role::Admin)?;
    let lang = proposed(&lang, &b.rules, &b.scorecard)?;
    let period = parse_period(&st, &b.period).await?;
    let dir = pack_dir(&st, lang)?;
    // The pack first: a broken one is refused before any contact is read.
    let proposed = tokio::task::spawn_blocking(move || edit::trial(&dir, &b.rules, &b.scorecard))
        .await
        .map_err(|e| ApiError::Internal(format!("back-test thread: {e}")))?
        .map_err(edit_error)?;
    if proposed.language != lang {
        return Err(ApiError::BadRequest(format!(
            "rules.toml is a {} pack, not {lang}",
            proposed.language
        )));
    }
    let results = crate::backtest::contacts_of(st.store(), &period).await?;
    let contacts = results.len();
    let current = st.packs();
    let out = tokio::task::spawn_blocking(move || {
        crate::backtest::run(&results, &current, &current.with(proposed))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("back-test thread: {e}")))?;
    tracing::info!(user = %user.name, language = %lang, period = %period.label, contacts, "proposed rule pack back-tested");
    Ok(Json(out))
}
