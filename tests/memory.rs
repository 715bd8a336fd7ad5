//! The memory bound of one call job, measured on the real binary: a
//! one-hour, eight-channel (silent) FLAC analysed by `callqa analyze`,
//! peak resident memory read from the kernel (`getrusage` of the waited
//! child). Before the decode stage held only the mapped channels, this file
//! took about 2 GB; docs/worker.md states the bound this test holds. Its
//! own test binary, so no other child process shares the reading.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Peak resident set of the largest child this process has waited for, in
/// bytes (Linux reports kilobytes).
fn children_peak_rss() -> u64 {
    // SAFETY: getrusage fills the struct it is given and reads nothing else.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0, "getrusage failed");
    u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024
}

fn sox_silence(path: &Path, secs: u32, channels: u32) {
    let out = Command::new("sox")
        .args(["-n", "-r", "8000", "-c", &channels.to_string(), "-b", "16"])
        .arg(path)
        .args(["trim", "0", &secs.to_string()])
        .output()
        .expect("sox is on PATH (scripts/setup.sh --test installs it)");
    assert!(
        out.status.success(),
        "sox failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `callqa analyze --json` on one recording; returns its result.
fn analyze(dir: &Path, recording: &Path) -> serde_json::Value {
    let db = dir.join("qa.db");
    let out = Command::new(env!("CARGO_BIN_EXE_callqa"))
        .current_dir(repo())
        .env_remove("CALLQA_DATABASE")
        .env_remove("CALLQA_CONFIG")
        .args([
            "--database",
            &format!("sqlite://{}", db.display()),
            "--rules",
            "rules",
            "analyze",
            "--json",
            "--language",
            "zh",
        ])
        .arg(recording)
        .output()
        .expect("runs callqa");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let line = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(line.trim()).expect("one result JSON")
}

#[test]
fn one_hour_eight_channel_flac_holds_two_channels() {
    let dir = tempfile::tempdir().unwrap();
    // The same job on ten seconds first: the models and the process.
    let short = dir.path().join("short-8ch.flac");
    sox_silence(&short, 10, 8);
    analyze(dir.path(), &short);
    let base = children_peak_rss();
    let long = dir.path().join("long-8ch.flac");
    sox_silence(&long, 3600, 8);
    let result = analyze(dir.path(), &long);
    // Silence: nothing to score, and the result says so.
    assert_eq!(result["scoreable"], false, "{result}");
    let peak = children_peak_rss();
    let grew = peak.saturating_sub(base) as f64;
    // Two held channels (the default map: agent 0, customer 1) of one hour
    // at 16 kHz f32: 460.8 MB. All eight would be 1.84 GB.
    let two_channels = 2.0 * 3600.0 * callqa::decode::BYTES_PER_CHANNEL_SECOND;
    eprintln!(
        "callqa analyze: peak RSS {} MiB on 10 s, {} MiB on 1 h of 8-channel FLAC (+{:.0} MiB; two channels' PCM is {:.0} MiB)",
        base >> 20,
        peak >> 20,
        grew / f64::from(1 << 20),
        two_channels / f64::from(1 << 20)
    );
    assert!(
        grew < 1.15 * two_channels && grew > 0.85 * two_channels,
        "peak RSS grew by {:.0} MiB for one hour; two channels' PCM is {:.0} MiB",
        grew / f64::from(1 << 20),
        two_channels / f64::from(1 << 20)
    );
}
