//! The `pii` kind's settings, read by `crate::analyse::pii`: which kinds
//! of personal data to look for, whose turns, and the context words that
//! make a bare number count.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use toml::Spanned;

use super::Cx;
use crate::domain::Speaker;
use crate::rules::{PackError, PiiKind, RuleKind};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::rules) struct PiiFile {
    speaker: Option<Speaker>,
    #[serde(default)]
    detect: Vec<Spanned<String>>,
    /// Per kind, words near a number that make it that kind.
    #[serde(default)]
    context: BTreeMap<String, Vec<String>>,
}

fn kind_named(name: &str) -> Option<PiiKind> {
    PiiKind::ALL.into_iter().find(|k| k.as_str() == name)
}

impl PiiFile {
    pub(super) fn compile(self, cx: &Cx) -> Result<RuleKind, PackError> {
        cx.need(
            !self.detect.is_empty(),
            "detect = [\"bank_card\", \"cn_mobile\", \"cn_id\", \"email\"]",
        )?;
        let mut detect = Vec::new();
        for d in &self.detect {
            let k = kind_named(d.get_ref()).ok_or_else(|| {
                cx.src.err_at(
                    d.span(),
                    format!(
                        "unknown personal-data kind {:?} (bank_card, cn_mobile, cn_id, email)",
                        d.get_ref()
                    ),
                )
            })?;
            detect.push(k);
        }
        let language = cx.matching.language;
        let mut context = HashMap::new();
        for (k, words) in &self.context {
            let kind = kind_named(k)
                .ok_or_else(|| cx.err(format!("rule {:?}: unknown context kind {k:?}", cx.rid)))?;
            context.insert(
                kind,
                words
                    .iter()
                    .map(|w| crate::text::normalise(w, language).text)
                    .collect(),
            );
        }
        Ok(RuleKind::Pii {
            speaker: self.speaker.unwrap_or(Speaker::Agent),
            detect,
            context,
        })
    }
}
