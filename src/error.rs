//! What every stage's error must say: which stage failed, why, and whether
//! the job should be retried (a transient fault) or rejected (bad input that
//! will never succeed). The worker acknowledges, retries or dead-letters a
//! message by this disposition alone.

use std::fmt;

/// Whether trying the same job again could succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// A transient fault (database down, broker gone): retry with backoff.
    Retry,
    /// The job itself is bad (malformed, unreadable audio): record it as
    /// failed or dead-letter it; never retry.
    Reject,
}

/// The pipeline stage an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Intake,
    Decode,
    Transcribe,
    Diarize,
    Embed,
    Analyse,
    Score,
    Coach,
    Redact,
    Store,
    Publish,
}

impl Stage {
    pub const ALL: [Stage; 11] = [
        Stage::Intake,
        Stage::Decode,
        Stage::Transcribe,
        Stage::Diarize,
        Stage::Embed,
        Stage::Analyse,
        Stage::Score,
        Stage::Coach,
        Stage::Redact,
        Stage::Store,
        Stage::Publish,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Intake => "intake",
            Stage::Decode => "decode",
            Stage::Transcribe => "transcribe",
            Stage::Diarize => "diarize",
            Stage::Embed => "embed",
            Stage::Analyse => "analyse",
            Stage::Score => "score",
            Stage::Coach => "coach",
            Stage::Redact => "redact",
            Stage::Store => "store",
            Stage::Publish => "publish",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Implemented by each stage's error enum.
pub trait Classify {
    fn disposition(&self) -> Disposition;
}

/// A job that could not be processed, as the pipeline reports it: the
/// stage, why, whether to retry, and the job's id when it could be read (so
/// the worker and the failure record need not parse the message again).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{stage}: {message}")]
pub struct JobError {
    pub stage: Stage,
    pub disposition: Disposition,
    pub message: String,
    pub job_id: Option<String>,
}

impl JobError {
    pub fn new(stage: Stage, err: &(impl Classify + fmt::Display)) -> Self {
        Self::with(stage, err.disposition(), err.to_string())
    }

    pub fn reject(stage: Stage, message: impl Into<String>) -> Self {
        Self::with(stage, Disposition::Reject, message.into())
    }

    pub fn retry(stage: Stage, message: impl Into<String>) -> Self {
        Self::with(stage, Disposition::Retry, message.into())
    }

    fn with(stage: Stage, disposition: Disposition, message: String) -> Self {
        JobError {
            stage,
            disposition,
            message: bounded(&message, MAX_REASON_BYTES),
            job_id: None,
        }
    }

    /// The same error, naming the job it happened to (unless it already
    /// names one).
    pub fn for_job(mut self, job_id: Option<&str>) -> Self {
        if self.job_id.is_none() {
            self.job_id = job_id.map(str::to_owned);
        }
        self
    }
}

/// The longest failure reason kept, in bytes. Reasons echo the offending
/// value (`messages[0].at: invalid value "…"`), and a job may carry a
/// field of any size: a reason travels in an AMQP header (which must fit
/// in one frame), a log line and a database row, so it is cut here, once.
pub const MAX_REASON_BYTES: usize = 400;

/// `s` cut to at most `max` bytes at a character boundary, saying how much
/// was cut; unchanged when it fits.
pub fn bounded(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let note = format!("… ({} bytes cut)", s.len());
    let mut end = max.saturating_sub(note.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{note}", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_bounded_at_a_character_boundary() {
        for (input, max) in [
            ("short".to_owned(), 400),
            ("x".repeat(300_000), 400),
            ("质".repeat(100_000), 400),
            ("a".to_owned() + &"é".repeat(1000), 101),
        ] {
            let out = bounded(&input, max);
            assert!(out.len() <= max, "{} > {max}", out.len());
            if input.len() <= max {
                assert_eq!(out, input);
            } else {
                assert!(
                    out.ends_with(&format!("({} bytes cut)", input.len())),
                    "{out}"
                );
            }
        }
        let e = JobError::reject(Stage::Intake, "y".repeat(1 << 20));
        assert!(e.message.len() <= MAX_REASON_BYTES);
    }
}
