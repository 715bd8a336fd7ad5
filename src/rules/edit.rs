//! Replacing a pack's files while workers and the review server may be
//! loading it. `rules.toml` and `scorecard.toml` must change together (a
//! scorecard names the rules it counts), so an edit is staged in a hidden
//! folder beside the packs (`rules/.staging-*`, which pack loading skips),
//! checked there, and swapped with the live folder in one atomic
//! `renameat2(RENAME_EXCHANGE)`: a reader sees the old pair or the new pair,
//! never one of each. The old folder is kept as `rules/.previous-NAME`
//! until the next edit, so a reader that opened it just before the swap
//! finishes with it. A staging folder left by a process that died mid-edit
//! is skipped by loading and removed by the next edit. A proposed pack can
//! also be loaded without being saved (`trial`, for back-tests), staged
//! in the system's temporary directory instead.

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{PackError, RulePack};

/// Why an edit was not applied. The live pack is unchanged in every case.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The new files do not load: the pack's own error, file and line.
    #[error(transparent)]
    Invalid(#[from] PackError),
    /// They load, but the caller's check refused them.
    #[error("{0}")]
    Refused(String),
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Staging folders older than this are left-overs of a crash.
const STALE_AFTER: Duration = Duration::from_secs(600);

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> EditError {
    let path = path.to_path_buf();
    move |source| EditError::Io { what, path, source }
}

/// Replaces the pack in `pack_dir` (e.g. `rules/en`) with these two files,
/// if they load as a pack and `accept` agrees (the language, a version
/// bump). The previous files are kept as `rules.toml.bak` and
/// `scorecard.toml.bak`; other files in the folder are kept. Returns the
/// new pack. One edit at a time per pack is the caller's to ensure.
pub fn replace(
    pack_dir: &Path,
    rules: &str,
    scorecard: &str,
    accept: impl FnOnce(&RulePack) -> Result<(), String>,
) -> Result<RulePack, EditError> {
    let parent = pack_dir.parent().unwrap_or(Path::new("."));
    remove_stale_staging(parent);
    let staging = parent.join(format!(".staging-{}", unique_suffix()));
    fs::create_dir(&staging).map_err(io("cannot create", &staging))?;
    let outcome = stage_and_swap(pack_dir, &staging, rules, scorecard, accept);
    if outcome.is_ok() {
        // The staging folder now holds the old pack. It is kept until the
        // next edit as `.previous-NAME`, so a reader that opened it just
        // before the swap can finish reading it.
        let name = pack_dir.file_name().unwrap_or_default().to_string_lossy();
        let previous = parent.join(format!(".previous-{name}"));
        let _ = fs::remove_dir_all(&previous);
        if fs::rename(&staging, &previous).is_ok() {
            return outcome;
        }
    }
    let _ = fs::remove_dir_all(&staging);
    outcome
}

/// Loads these two files as a pack without touching the live one: they
/// are staged, with the pack folder's other files, in a private folder
/// under the system's temporary directory, loaded with the same checks as
/// an edit (`RulePack::load`), and the folder is removed. For trying a
/// proposed pack (a back-test) before it is saved; errors name the file
/// and line as for an edit.
pub fn trial(pack_dir: &Path, rules: &str, scorecard: &str) -> Result<RulePack, EditError> {
    use std::os::unix::fs::DirBuilderExt;
    let staging = std::env::temp_dir().join(format!("callqa-trial-{}", unique_suffix()));
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&staging)
        .map_err(io("cannot create", &staging))?;
    let outcome = stage(pack_dir, &staging, rules, scorecard).and_then(|()| {
        RulePack::load(&staging)
            .map(|p| RulePack {
                dir: pack_dir.to_path_buf(),
                ..p
            })
            .map_err(EditError::from)
    });
    let _ = fs::remove_dir_all(&staging);
    outcome
}

/// Writes the two files into `staging` with the other files of the pack
/// folder, which travel with it.
fn stage(pack_dir: &Path, staging: &Path, rules: &str, scorecard: &str) -> Result<(), EditError> {
    for entry in fs::read_dir(pack_dir).map_err(io("cannot read", pack_dir))? {
        let entry = entry.map_err(io("cannot read", pack_dir))?;
        let name = entry.file_name();
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_file && name != "rules.toml" && name != "scorecard.toml" {
            fs::copy(entry.path(), staging.join(&name))
                .map_err(io("cannot copy", &entry.path()))?;
        }
    }
    for (name, text) in [("rules.toml", rules), ("scorecard.toml", scorecard)] {
        let path = staging.join(name);
        write_synced(&path, text.as_bytes()).map_err(io("cannot write", &path))?;
    }
    Ok(())
}

fn stage_and_swap(
    pack_dir: &Path,
    staging: &Path,
    rules: &str,
    scorecard: &str,
    accept: impl FnOnce(&RulePack) -> Result<(), String>,
) -> Result<RulePack, EditError> {
    stage(pack_dir, staging, rules, scorecard)?;
    for name in ["rules.toml", "scorecard.toml"] {
        let live = pack_dir.join(name);
        if live.is_file() {
            let bak = staging.join(format!("{name}.bak"));
            fs::copy(&live, &bak).map_err(io("cannot back up", &live))?;
        }
    }
    let new = RulePack::load(staging)?;
    accept(&new).map_err(EditError::Refused)?;
    exchange(staging, pack_dir).map_err(io("cannot swap in", pack_dir))?;
    Ok(RulePack {
        dir: pack_dir.to_path_buf(),
        ..new
    })
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Swaps two folders atomically (Linux `renameat2` with `RENAME_EXCHANGE`).
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
    };
    let (ca, cb) = (c(a)?, c(b)?);
    // SAFETY: both are valid NUL-terminated paths that outlive the call;
    // AT_FDCWD resolves relative paths as `rename` would.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn unique_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}-{nanos:x}", std::process::id())
}

/// Removes `.staging-*` folders old enough to be left-overs of a crash.
fn remove_stale_staging(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let stale = e.file_name().to_string_lossy().starts_with(".staging-")
            && e.metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > STALE_AFTER);
        if stale {
            tracing::info!(path = %e.path().display(), "removing a rule-pack edit left by a crash");
            let _ = fs::remove_dir_all(e.path());
        }
    }
}
