//! The speech evaluation set for tests that need real human recordings
//! (scripts/fetch-speech-eval.sh, which scripts/setup.sh --test runs).

use std::path::PathBuf;
use std::process::Command;

/// Its directory, fetched and checked by the script; fails the test when
/// it is missing, with the command that provides it.
pub fn dir() -> PathBuf {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(repo.join("scripts/fetch-speech-eval.sh"))
        .arg("--print-dir")
        .output()
        .expect("run scripts/fetch-speech-eval.sh --print-dir");
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(
        dir.join("refs.tsv").is_file(),
        "{} has no refs.tsv: run scripts/fetch-speech-eval.sh",
        dir.display()
    );
    dir
}
