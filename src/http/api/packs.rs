//! Rule packs and scorecards, read and replaced by admins.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::*;

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
    let lang = lang_of(&lang)?;
    if b.rules.len() > PACK_MAX || b.scorecard.len() > PACK_MAX {
        return Err(ApiError::BadRequest(format!(
            "each file must be under {PACK_MAX} bytes"
        )));
    }
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
    let io = |what: &str, e: std::io::Error| ApiError::Internal(format!("{what}: {e}"));
    let mut suffix = [0u8; 6];
    getrandom::fill(&mut suffix).map_err(|e| ApiError::Internal(format!("random: {e}")))?;
    let staging = st.0.rules_dir.join(format!(
        ".staging-{}",
        suffix
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    ));
    std::fs::create_dir(&staging).map_err(|e| io("create staging directory", e))?;
    let cleanup = |r: ApiResult<PackSaved>| {
        let _ = std::fs::remove_dir_all(&staging);
        r
    };
    let result = (|| {
        std::fs::write(staging.join("rules.toml"), &b.rules).map_err(|e| io("write", e))?;
        std::fs::write(staging.join("scorecard.toml"), &b.scorecard).map_err(|e| io("write", e))?;
        let new = RulePack::load(&staging).map_err(|e| {
            let file = e
                .file
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            ApiError::BadRequest(match e.line {
                Some(l) => format!("{file}:{l}: {}", e.message),
                None => format!("{file}: {}", e.message),
            })
        })?;
        if new.language != lang {
            return Err(ApiError::BadRequest(format!(
                "rules.toml is a {} pack, not {lang}",
                new.language
            )));
        }
        let old_rules = std::fs::read_to_string(dir.join("rules.toml")).unwrap_or_default();
        let old_card = std::fs::read_to_string(dir.join("scorecard.toml")).unwrap_or_default();
        if old_rules != b.rules && new.label() == current.label() {
            return Err(ApiError::BadRequest(format!(
                "rules.toml changed but its [pack] version did not ({}): results record the version that scored them",
                new.label()
            )));
        }
        if old_card != b.scorecard && new.scorecard.label() == current.scorecard.label() {
            return Err(ApiError::BadRequest(format!(
                "scorecard.toml changed but its [scorecard] version did not ({})",
                new.scorecard.label()
            )));
        }
        for f in ["rules.toml", "scorecard.toml"] {
            let live = dir.join(f);
            if live.exists() {
                std::fs::copy(&live, dir.join(format!("{f}.bak"))).map_err(|e| io("back up", e))?;
            }
            std::fs::rename(staging.join(f), &live).map_err(|e| io("replace", e))?;
        }
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
    })();
    cleanup(result)
}
