//! The acoustic kinds' settings (`long_silence`, `interruption`,
//! `no_speech`), read by `crate::analyse::acoustics`.

use serde::Deserialize;

use super::Cx;
use crate::rules::PackError;

/// `long_silence` and `interruption`: the shortest stretch that counts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::rules) struct MinSecondsFile {
    min_seconds: Option<f64>,
}

/// `no_speech` reads nothing of its own.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::rules) struct NoSpeechFile {}

impl MinSecondsFile {
    pub(super) fn compile(self, cx: &Cx) -> Result<f64, PackError> {
        cx.positive(self.min_seconds, "min_seconds")
    }
}
