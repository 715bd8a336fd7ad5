//! Validation of wire jobs into domain jobs: one place that checks every
//! field, so later stages can trust their input.

use std::path::{Component, Path, PathBuf};

use chrono::{DateTime, FixedOffset};

use super::{IntakeError, IntakeOptions};
use crate::domain::{
    Agent, AgentId, CallJob, ChannelMap, ChatJob, Csat, Job, JobHeader, JobId, Language,
    LanguageChoice, Message, Metadata, Recording,
};
use crate::wire::job::{
    AgentWire, ChannelLayoutWire, ChannelsWire, JobKind, JobWire, LanguageWire, MetadataWire,
};

pub(super) const MAX_ID_LEN: usize = 200;
/// Names, teams, channels, customer and ticket ids, tags: stored in indexed
/// columns and echoed in headers, so bounded like ids.
const MAX_LABEL_LEN: usize = 200;
const MAX_MESSAGES: usize = 10_000;
const MAX_TEXT_CHARS: usize = 20_000;

pub(super) fn job(w: JobWire, opts: &IntakeOptions) -> Result<Job, IntakeError> {
    let header = JobHeader {
        id: JobId::new(id_field("id", &w.id)?),
        language: match w.language {
            LanguageWire::Zh => LanguageChoice::Fixed(Language::Zh),
            LanguageWire::En => LanguageChoice::Fixed(Language::En),
            LanguageWire::Auto => LanguageChoice::Auto,
        },
        agent: agent(&w.agent)?,
        metadata: metadata(&w.metadata)?,
    };
    match w.kind {
        JobKind::Chat => {
            if w.recording.is_some() {
                return Err(IntakeError::invalid(
                    "recording",
                    "a chat job has messages, not a recording",
                ));
            }
            let messages = w.messages.ok_or_else(|| {
                IntakeError::invalid("messages", "missing: a chat job needs messages")
            })?;
            Ok(Job::Chat(ChatJob {
                header,
                messages: chat_messages(messages)?,
            }))
        }
        JobKind::Call => {
            if w.messages.is_some() {
                return Err(IntakeError::invalid(
                    "messages",
                    "a call job has a recording, not messages",
                ));
            }
            let rec = w.recording.ok_or_else(|| {
                IntakeError::invalid("recording", "missing: a call job needs a recording")
            })?;
            let path = resolve_recording(&rec.path, &opts.recording_roots)?;
            let channels = match rec.channels {
                None => ChannelMap::Default,
                Some(ChannelsWire::Layout(ChannelLayoutWire::Mixed)) => ChannelMap::Mixed,
                Some(ChannelsWire::Split(s)) => {
                    if s.agent == s.customer {
                        return Err(IntakeError::invalid(
                            "recording.channels",
                            format!("agent and customer are both channel {}", s.agent),
                        ));
                    }
                    ChannelMap::Split {
                        agent: s.agent,
                        customer: s.customer,
                    }
                }
            };
            Ok(Job::Call(CallJob {
                header,
                recording: Recording { path, channels },
            }))
        }
    }
}

fn id_field(field: &str, s: &str) -> Result<String, IntakeError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(IntakeError::invalid(field, "empty"));
    }
    if t.chars().count() > MAX_ID_LEN {
        return Err(IntakeError::invalid(
            field,
            format!("longer than {MAX_ID_LEN} characters"),
        ));
    }
    if t.chars().any(char::is_control) {
        return Err(IntakeError::invalid(field, "contains control characters"));
    }
    Ok(t.to_owned())
}

/// An optional label: at most `MAX_LABEL_LEN` characters, no NUL or other
/// control character (PostgreSQL refuses NUL in text, and a value it
/// refuses must be rejected here, not retried as a database fault).
fn label(field: &str, s: &Option<String>) -> Result<Option<String>, IntakeError> {
    let Some(s) = s.as_deref() else {
        return Ok(None);
    };
    if s.chars().count() > MAX_LABEL_LEN {
        return Err(IntakeError::invalid(
            field,
            format!("longer than {MAX_LABEL_LEN} characters"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(IntakeError::invalid(field, "contains control characters"));
    }
    Ok(Some(s.to_owned()).filter(|s| !s.trim().is_empty()))
}

fn agent(a: &AgentWire) -> Result<Agent, IntakeError> {
    Ok(Agent {
        id: AgentId::new(id_field("agent.id", &a.id)?),
        name: label("agent.name", &a.name)?,
        team: label("agent.team", &a.team)?,
        role: label("agent.role", &a.role)?,
    })
}

fn time(field: &str, s: &str) -> Result<DateTime<FixedOffset>, IntakeError> {
    DateTime::parse_from_rfc3339(s.trim()).map_err(|e| {
        IntakeError::invalid(
            field,
            format!(
                "{s:?} is not an RFC 3339 time with offset (e.g. 2026-11-02T10:00:05+08:00): {e}"
            ),
        )
    })
}

fn non_negative(field: &str, v: Option<f64>) -> Result<Option<f64>, IntakeError> {
    match v {
        Some(x) if !x.is_finite() || x < 0.0 => Err(IntakeError::invalid(
            field,
            format!("{x} must be a non-negative number of seconds"),
        )),
        other => Ok(other),
    }
}

/// Most custom CRM fields a job may carry.
pub const MAX_CUSTOM_FIELDS: usize = 32;

/// Custom CRM fields: names and values are labels (no NUL, bounded).
pub fn custom_fields(
    m: &std::collections::BTreeMap<String, String>,
) -> Result<std::collections::BTreeMap<String, String>, IntakeError> {
    if m.len() > MAX_CUSTOM_FIELDS {
        return Err(IntakeError::invalid(
            "metadata.custom",
            format!("{} fields; at most {MAX_CUSTOM_FIELDS}", m.len()),
        ));
    }
    for (k, v) in m {
        if k.trim().is_empty() {
            return Err(IntakeError::invalid(
                "metadata.custom",
                "an empty field name",
            ));
        }
        label("metadata.custom", &Some(k.clone()))?;
        label(&format!("metadata.custom.{k}"), &Some(v.clone()))?;
    }
    Ok(m.clone())
}

/// Validates job metadata (also late metadata: `callqa import`).
pub fn metadata(m: &MetadataWire) -> Result<Metadata, IntakeError> {
    let csat = match (m.csat, m.csat_scale) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(IntakeError::invalid(
                "metadata.csat_scale",
                "given without metadata.csat",
            ))
        }
        (Some(score), scale) => {
            let scale = scale.unwrap_or(5.0);
            if !(scale.is_finite() && scale > 0.0) {
                return Err(IntakeError::invalid(
                    "metadata.csat_scale",
                    format!("{scale} must be positive (5 or 10)"),
                ));
            }
            if !(score.is_finite() && (0.0..=scale).contains(&score)) {
                return Err(IntakeError::invalid(
                    "metadata.csat",
                    format!(
                        "{score} is outside 0–{scale}; set metadata.csat_scale for another scale (e.g. 10)"
                    ),
                ));
            }
            Some(Csat { score, scale })
        }
    };
    for (i, tag) in m.tags.iter().enumerate() {
        label(&format!("metadata.tags[{i}]"), &Some(tag.clone()))?;
    }
    Ok(Metadata {
        channel: label("metadata.channel", &m.channel)?
            .map(|c| c.trim().to_ascii_lowercase())
            .filter(|c| !c.is_empty()),
        customer_id: label("metadata.customer_id", &m.customer_id)?,
        csat,
        ticket_id: label("metadata.ticket_id", &m.ticket_id)?,
        started_at: m
            .started_at
            .as_deref()
            .map(|s| time("metadata.started_at", s))
            .transpose()?,
        resolved: m.resolved,
        queue_wait_s: non_negative("metadata.queue_wait_s", m.queue_wait_s)?,
        after_call_work_s: non_negative("metadata.after_call_work_s", m.after_call_work_s)?,
        tags: m.tags.clone(),
        first_contact_resolved: m.first_contact_resolved,
        handle_time_s: non_negative("metadata.handle_time_s", m.handle_time_s)?,
        custom: custom_fields(&m.custom)?,
    })
}

fn chat_messages(ms: Vec<crate::wire::job::MessageWire>) -> Result<Vec<Message>, IntakeError> {
    if ms.is_empty() {
        return Err(IntakeError::invalid("messages", "empty conversation"));
    }
    if ms.len() > MAX_MESSAGES {
        return Err(IntakeError::invalid(
            "messages",
            format!("{} messages; at most {MAX_MESSAGES}", ms.len()),
        ));
    }
    let mut out: Vec<Message> = Vec::with_capacity(ms.len());
    for (i, m) in ms.into_iter().enumerate() {
        let at = time(&format!("messages[{i}].at"), &m.at)?;
        if let Some(prev) = out.last() {
            if at < prev.at {
                return Err(IntakeError::invalid(
                    format!("messages[{i}].at"),
                    format!(
                        "{} is earlier than messages[{}].at {}: messages must be in time order",
                        m.at.trim(),
                        i - 1,
                        prev.at.to_rfc3339()
                    ),
                ));
            }
        }
        if m.text.trim().is_empty() {
            return Err(IntakeError::invalid(format!("messages[{i}].text"), "empty"));
        }
        if m.text.contains('\0') {
            return Err(IntakeError::invalid(
                format!("messages[{i}].text"),
                "contains a NUL character",
            ));
        }
        if m.text.chars().count() > MAX_TEXT_CHARS {
            return Err(IntakeError::invalid(
                format!("messages[{i}].text"),
                format!("longer than {MAX_TEXT_CHARS} characters"),
            ));
        }
        out.push(Message {
            speaker: m.speaker,
            at,
            text: m.text,
        });
    }
    Ok(out)
}

/// Accepts only a regular file with one link. Checked with `stat`, which
/// never blocks (opening a named pipe waits for a writer forever), and
/// before anything opens it. A second hard link could be a way in to a file
/// outside the roots (links are made where one can write, pointing anywhere
/// on the same filesystem), so multiply-linked files are refused too.
fn regular_file(path: &str, c: PathBuf) -> Result<PathBuf, IntakeError> {
    let field = "recording.path";
    let meta =
        std::fs::metadata(&c).map_err(|e| IntakeError::invalid(field, format!("{path}: {e}")))?;
    if !meta.is_file() {
        return Err(IntakeError::invalid(
            field,
            format!("{path} is not a regular file (a directory, pipe or device); refused"),
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.nlink() > 1 {
            return Err(IntakeError::invalid(
                field,
                format!(
                    "{path} has {} hard links; a recording must have one (a hard link can reach a file outside the roots); refused",
                    meta.nlink()
                ),
            ));
        }
    }
    Ok(c)
}

/// Resolves a recording path named by a job inside the configured roots.
/// Relative paths are tried against each root; absolute ones must already
/// lie inside one. Symbolic links and `..` are resolved before the check,
/// so nothing outside the roots can be reached.
pub fn resolve_recording(path: &str, roots: &[PathBuf]) -> Result<PathBuf, IntakeError> {
    let field = "recording.path";
    if path.trim().is_empty() {
        return Err(IntakeError::invalid(field, "empty"));
    }
    if let Some(why) = super::undecodable(Path::new(path)) {
        return Err(IntakeError::invalid(field, format!("{path}: {why}")));
    }
    if roots.is_empty() {
        return Err(IntakeError::invalid(
            field,
            "no recording roots are configured (set CALLQA_RECORDING_ROOTS or recording_roots)",
        ));
    }
    let p = Path::new(path);
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(IntakeError::invalid(
            field,
            format!("{path} contains '..'; recording paths may not leave their root"),
        ));
    }
    let canon_roots: Vec<PathBuf> = roots.iter().filter_map(|r| r.canonicalize().ok()).collect();
    // What the file system says is only reported for paths inside a root:
    // a different answer for "missing" and "outside" would tell a job's
    // author which files exist elsewhere on the machine.
    let not_found = || {
        IntakeError::invalid(
            field,
            format!(
                "{path} not found in the recording roots ({}); a path that leaves its root \
                 through a link counts as not found",
                roots
                    .iter()
                    .map(|r| r.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    };
    let candidates: Vec<(PathBuf, &PathBuf)> = if p.is_absolute() {
        // Decided on the text of the path, before anything is opened.
        let owner = canon_roots
            .iter()
            .zip(roots)
            .find(|(canon, raw)| p.starts_with(canon) || p.starts_with(raw))
            .map(|(canon, _)| canon);
        match owner {
            Some(root) => vec![(p.to_path_buf(), root)],
            None => {
                return Err(IntakeError::invalid(
                    field,
                    format!("{path} is outside the recording roots; refused"),
                ))
            }
        }
    } else {
        canon_roots.iter().map(|r| (r.join(p), r)).collect()
    };
    for (candidate, root) in candidates {
        if let Ok(c) = candidate.canonicalize() {
            if c.starts_with(root) {
                return regular_file(path, c);
            }
            return Err(not_found());
        }
    }
    Err(not_found())
}
