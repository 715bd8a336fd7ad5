//! The `customer_anger` kind's settings, read by
//! `crate::analyse::sentiment`: how negative a turn must be, how many such
//! turns raise the flag, and optional angry and calm examples.

use serde::Deserialize;

use super::Cx;
use crate::rules::{PackError, RuleKind};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::rules) struct AngerFile {
    threshold: Option<f32>,
    min_turns: Option<usize>,
    #[serde(default)]
    examples: Vec<String>,
    /// Calm (if negative) turns that are not anger.
    #[serde(default)]
    counter_examples: Vec<String>,
    /// How much closer to `examples` than to `counter_examples` a turn
    /// must be.
    margin: Option<f32>,
}

impl AngerFile {
    pub(super) fn compile(self, cx: &Cx) -> Result<RuleKind, PackError> {
        let threshold = cx.unit(self.threshold, 0.8)?;
        cx.need(
            self.examples.is_empty() || !self.counter_examples.is_empty(),
            "counter_examples (calm turns) when it has examples",
        )?;
        Ok(RuleKind::CustomerAnger {
            threshold,
            min_turns: self.min_turns.unwrap_or(1).max(1),
            examples: self.examples,
            counter_examples: self.counter_examples,
            margin: self.margin.unwrap_or(0.1),
        })
    }
}
