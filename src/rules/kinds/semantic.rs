//! The `semantic` kind's settings, read by `crate::analyse::semantic`:
//! example phrases matched by meaning, a similarity threshold, required
//! or forbidden, a window, and the customer turns that make it apply.

use serde::Deserialize;

use super::{window, Cx};
use crate::domain::Speaker;
use crate::rules::{PackError, RuleKind};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::rules) struct SemanticFile {
    speaker: Option<Speaker>,
    /// Required (default) or forbidden.
    required: Option<bool>,
    #[serde(default)]
    examples: Vec<String>,
    threshold: Option<f32>,
    /// Apply only when a customer turn means one of these.
    #[serde(default)]
    when_customer: Vec<String>,
    first_turns: Option<usize>,
    first_seconds: Option<f64>,
    last_turns: Option<usize>,
    last_seconds: Option<f64>,
}

impl SemanticFile {
    pub(super) fn compile(self, cx: &Cx) -> Result<RuleKind, PackError> {
        cx.need(!self.examples.is_empty(), "examples")?;
        Ok(RuleKind::Semantic {
            speaker: self.speaker.unwrap_or(Speaker::Agent),
            required: self.required.unwrap_or(true),
            threshold: cx.unit(self.threshold, 0.6)?,
            window: window(
                self.first_turns,
                self.first_seconds,
                self.last_turns,
                self.last_seconds,
            ),
            examples: self.examples,
            when_customer: self.when_customer,
        })
    }
}
