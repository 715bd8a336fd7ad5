//! Intake: turns job JSON (from files or queue messages) into validated
//! `domain::Job`s, and finds the jobs in the paths a user names. Every
//! error names the field at fault (`messages[3].at: …`) so an operator can
//! fix the source system; every bad job is reported, none dropped.

mod validate;

use std::fs;
use std::path::{Path, PathBuf};

use crate::domain::Job;
use crate::error::{Classify, Disposition};
use crate::wire::JobWire;

pub use validate::metadata as validate_metadata;
pub use validate::resolve_recording;

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Json(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
}

impl Classify for IntakeError {
    fn disposition(&self) -> Disposition {
        // Bad input never improves by retrying.
        Disposition::Reject
    }
}

impl IntakeError {
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        IntakeError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Where recordings named by jobs may be read from.
#[derive(Debug, Clone, Default)]
pub struct IntakeOptions {
    pub recording_roots: Vec<PathBuf>,
}

/// Largest job accepted, in bytes of JSON (8 MiB: a chat of 10 000 long
/// messages). Parsing and analysing a job takes a small multiple of its
/// size, so this bounds a chat job's memory (docs/worker.md).
pub const MAX_JOB_BYTES: usize = 8 << 20;

/// Parses one job from JSON. On failure the error names the JSON path of
/// the bad field. Also returns the job id when it could be read, so a
/// failure record can carry it.
pub fn parse_job(bytes: &[u8], opts: &IntakeOptions) -> Result<Job, (Option<String>, IntakeError)> {
    if bytes.len() > MAX_JOB_BYTES {
        let err = IntakeError::invalid(
            "job",
            format!(
                "the job is {:.1} MiB of JSON, over the {} MiB limit for one job (split the conversation)",
                bytes.len() as f64 / f64::from(1u32 << 20),
                MAX_JOB_BYTES >> 20
            ),
        );
        return Err((None, err));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let wire: JobWire = match serde_path_to_error::deserialize(de) {
        Ok(w) => w,
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let msg = if path == "." || path.is_empty() {
                inner.to_string()
            } else {
                format!("{path}: {inner}")
            };
            return Err((peek_id(bytes), IntakeError::Json(msg)));
        }
    };
    let id = usable_id(wire.id.clone());
    validate::job(wire, opts).map_err(|e| (id, e))
}

/// A queue message that carries late metadata for stored results instead
/// of a job: `{"kind": "metadata", "job_id": "…", "csat": 5, …}`, with the
/// keys of `callqa import` (`job_id` or `ticket_id`, `csat`, `resolved`,
/// `first_contact_resolved`, `handle_time_s`, custom fields …). `None` for
/// anything else (a job, or JSON that is no object: the job parser names
/// what is wrong with it); the fields without `kind` otherwise.
pub fn metadata_message(
    bytes: &[u8],
) -> Option<Result<serde_json::Map<String, serde_json::Value>, IntakeError>> {
    #[derive(serde::Deserialize)]
    struct KindOnly {
        kind: Option<serde_json::Value>,
    }
    if bytes.len() > MAX_JOB_BYTES {
        return None;
    }
    let k = serde_json::from_slice::<KindOnly>(bytes).ok()?;
    if k.kind.as_ref().and_then(|k| k.as_str()) != Some("metadata") {
        return None;
    }
    Some(
        serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(bytes)
            .map(|mut m| {
                m.remove("kind");
                m
            })
            .map_err(|e| IntakeError::Json(e.to_string())),
    )
}

/// Best-effort read of `"id"` from a job that failed to parse (also used
/// by `callqa submit` to label messages without validating them).
pub fn peek_id(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct IdOnly {
        id: String,
    }
    serde_json::from_slice::<IdOnly>(bytes)
        .ok()
        .and_then(|x| usable_id(x.id))
}

/// Only an id that could be valid keys a failure record or a header (a
/// megabyte "id" would exceed an index row or an AMQP frame); a job with
/// any other id is recorded by its source instead.
fn usable_id(id: String) -> Option<String> {
    let ok = !id.trim().is_empty()
        && id.chars().count() <= validate::MAX_ID_LEN
        && !id.chars().any(char::is_control);
    ok.then_some(id)
}

/// One job's worth of input: found on disk, or a queue message.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A JSON file holding one job.
    JobFile(PathBuf),
    /// One line of a JSON-lines file (1-based line number).
    JobLine(PathBuf, usize, String),
    /// An audio file named directly on the command line.
    Recording(PathBuf),
    /// A job's JSON from elsewhere (a queue message), with its origin.
    Message { source: String, body: Vec<u8> },
}

impl Input {
    /// Human-readable origin for messages and failure records.
    pub fn source(&self) -> String {
        match self {
            Input::JobFile(p) | Input::Recording(p) => p.display().to_string(),
            Input::JobLine(p, n, _) => format!("{}:{n}", p.display()),
            Input::Message { source, .. } => source.clone(),
        }
    }
}

/// Recordings this build decodes, by file extension (see `decode`).
pub const AUDIO_EXTENSIONS: [&str; 5] = ["wav", "mp3", "flac", "ogg", "oga"];

/// Why a recording with this extension is refused at intake, if it is: the
/// decoder has no Opus codec, so such a job is rejected before any work.
pub(crate) fn undecodable(p: &Path) -> Option<&'static str> {
    matches!(extension(p).as_str(), "opus" | "webm" | "m4a" | "aac").then_some(
        "this format cannot be decoded (WAV, MP3, FLAC and Ogg Vorbis can); convert it, e.g. `ffmpeg -i call.opus call.flac`",
    )
}

fn extension(p: &Path) -> String {
    p.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Expands the paths a user gave into inputs: directories are walked
/// (recursively, sorted) for `.json` and `.jsonl` jobs; files are taken by
/// extension, and audio files are taken as bare recordings only when named
/// directly (recordings inside a directory are referenced by call jobs).
pub fn collect_inputs(paths: &[PathBuf]) -> Result<Vec<Input>, IntakeError> {
    let mut out = Vec::new();
    for p in paths {
        let meta = fs::metadata(p).map_err(|source| IntakeError::Read {
            path: p.display().to_string(),
            source,
        })?;
        if meta.is_dir() {
            walk(p, &mut out)?;
        } else {
            match extension(p).as_str() {
                "json" => out.push(Input::JobFile(p.clone())),
                "jsonl" | "ndjson" => read_lines(p, &mut out)?,
                e if AUDIO_EXTENSIONS.contains(&e) => out.push(Input::Recording(p.clone())),
                _ => {
                    return Err(IntakeError::invalid(
                        p.display().to_string(),
                        undecodable(p).unwrap_or(
                            "not a job (.json, .jsonl) or a recording (.wav, .mp3, .flac, .ogg)",
                        ),
                    ))
                }
            }
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<Input>) -> Result<(), IntakeError> {
    let read_err = |source| IntakeError::Read {
        path: dir.display().to_string(),
        source,
    };
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(read_err)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(read_err)?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else {
            match extension(&p).as_str() {
                "json" => out.push(Input::JobFile(p)),
                "jsonl" | "ndjson" => read_lines(&p, out)?,
                _ => {}
            }
        }
    }
    Ok(())
}

fn read_lines(p: &Path, out: &mut Vec<Input>) -> Result<(), IntakeError> {
    let text = fs::read_to_string(p).map_err(|source| IntakeError::Read {
        path: p.display().to_string(),
        source,
    })?;
    for (i, line) in text.lines().enumerate() {
        if !line.trim().is_empty() {
            out.push(Input::JobLine(p.to_path_buf(), i + 1, line.to_owned()));
        }
    }
    Ok(())
}

/// How to read a recording named directly on the command line (it has no
/// job file to say). By default: agent `unknown`, language detected,
/// stereo files agent on channel 0, mono files mixed.
#[derive(Debug, Clone)]
pub struct BareRecording {
    pub agent: String,
    pub language: crate::domain::LanguageChoice,
    pub channels: crate::domain::ChannelMap,
}

impl Default for BareRecording {
    fn default() -> Self {
        BareRecording {
            agent: "unknown".into(),
            language: crate::domain::LanguageChoice::Auto,
            channels: crate::domain::ChannelMap::Default,
        }
    }
}

/// A call job for a recording named on the command line. The user named
/// the file, so the recording roots (which guard paths inside jobs from
/// other systems) do not apply.
///
/// The job id is the file's stem followed by the first 16 hex digits of
/// the SHA-256 of its content (`0001-3fa9c2d41b7e0a55`): two recordings
/// called `0001.wav` in different folders are two jobs, and the same
/// recording named again is the same job (its stored result is reused).
pub fn bare_recording(path: &Path, how: &BareRecording) -> Result<Job, IntakeError> {
    use crate::domain::{Agent, AgentId, CallJob, JobHeader, JobId, Metadata, Recording};
    let read_err = |source| IntakeError::Read {
        path: path.display().to_string(),
        source,
    };
    let canon = path.canonicalize().map_err(read_err)?;
    // Only a regular file is hashed: a FIFO or a device would block or
    // never end.
    if !fs::metadata(&canon).map_err(read_err)?.is_file() {
        return Err(IntakeError::invalid(
            path.display().to_string(),
            "not a regular file",
        ));
    }
    let stem: String = canon
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(validate::MAX_ID_LEN - 17)
        .collect();
    let stem = stem.trim();
    if stem.is_empty() {
        return Err(IntakeError::invalid(
            path.display().to_string(),
            "no file name",
        ));
    }
    let id = format!("{stem}-{}", content_digest(&canon).map_err(read_err)?);
    if how.agent.trim().is_empty() {
        return Err(IntakeError::invalid("--agent", "empty"));
    }
    Ok(Job::Call(CallJob {
        header: JobHeader {
            id: JobId::new(id),
            language: how.language,
            agent: Agent {
                id: AgentId::new(how.agent.trim()),
                name: None,
                team: None,
                role: None,
            },
            metadata: Metadata::default(),
        },
        recording: Recording {
            path: canon,
            channels: how.channels,
        },
    }))
}

/// The first 16 hex digits of the SHA-256 of a file's content, read in
/// blocks (recordings can be large).
fn content_digest(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect())
}
