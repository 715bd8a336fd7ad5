//! The response-time kinds' settings (`first_response`, `response_time`),
//! read by `crate::analyse::timing`: a limit in seconds per channel.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::Cx;
use crate::rules::{ChannelLimits, PackError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::rules) struct LimitsFile {
    /// Seconds per channel (`chat`, `phone`, …, and `default`).
    #[serde(default)]
    max_seconds: BTreeMap<String, f64>,
}

impl LimitsFile {
    pub(super) fn compile(self, cx: &Cx) -> Result<ChannelLimits, PackError> {
        cx.need(
            !self.max_seconds.is_empty(),
            "max_seconds (e.g. { chat = 30 })",
        )?;
        for (ch, v) in &self.max_seconds {
            if !(v.is_finite() && *v > 0.0) {
                return Err(cx.err(format!(
                    "rule {:?}: max_seconds.{ch} must be positive",
                    cx.rid
                )));
            }
        }
        Ok(ChannelLimits(self.max_seconds))
    }
}
