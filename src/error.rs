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
    Embed,
    Analyse,
    Score,
    Redact,
    Store,
    Publish,
}

impl Stage {
    pub const ALL: [Stage; 9] = [
        Stage::Intake,
        Stage::Decode,
        Stage::Transcribe,
        Stage::Embed,
        Stage::Analyse,
        Stage::Score,
        Stage::Redact,
        Stage::Store,
        Stage::Publish,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Intake => "intake",
            Stage::Decode => "decode",
            Stage::Transcribe => "transcribe",
            Stage::Embed => "embed",
            Stage::Analyse => "analyse",
            Stage::Score => "score",
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

/// A job that could not be processed, as the pipeline reports it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{stage}: {message}")]
pub struct JobError {
    pub stage: Stage,
    pub disposition: Disposition,
    pub message: String,
}

impl JobError {
    pub fn new(stage: Stage, err: &(impl Classify + fmt::Display)) -> Self {
        JobError {
            stage,
            disposition: err.disposition(),
            message: err.to_string(),
        }
    }

    pub fn reject(stage: Stage, message: impl Into<String>) -> Self {
        JobError {
            stage,
            disposition: Disposition::Reject,
            message: message.into(),
        }
    }

    pub fn retry(stage: Stage, message: impl Into<String>) -> Self {
        JobError {
            stage,
            disposition: Disposition::Retry,
            message: message.into(),
        }
    }
}
