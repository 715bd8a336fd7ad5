//! Intent: the pack's taxonomy (`[[intents]]`, each defined by example
//! phrases in the pack's language) matched by meaning. Each customer turn
//! gets its nearest intent, or `unknown` when even the nearest example is
//! below the pack's threshold; the conversation's contact reason is the
//! best-matched intent over its customer turns.
//!
//! `IntentIndex` is the mechanism on its own (nearest example by cosine), so
//! `callqa eval-intent` measures exactly what runs here.

use super::{Analyser, Subject};
use crate::domain::{Analysis, IntentMatch, Speaker};
use crate::embed::{cosine, EmbedError, TextModels};
use crate::rules::RulePack;

/// The label of a turn or conversation that matches no intent.
pub const UNKNOWN: &str = "unknown";

/// Labelled example embeddings; classifies by the nearest example.
#[derive(Debug, Clone, Default)]
pub struct IntentIndex {
    pub labels: Vec<String>,
    /// (label index, embedding).
    pub examples: Vec<(usize, Vec<f32>)>,
}

impl IntentIndex {
    /// Embeds `(label, examples)` groups in one batch.
    pub fn build(
        models: &TextModels,
        groups: &[(String, Vec<String>)],
    ) -> Result<Self, EmbedError> {
        let texts: Vec<&str> = groups
            .iter()
            .flat_map(|(_, ex)| ex.iter().map(String::as_str))
            .collect();
        let emb = models.embed(&texts)?;
        Ok(Self::from_embeddings(groups, emb))
    }

    /// From precomputed embeddings, in the order of `groups`' examples.
    pub fn from_embeddings(groups: &[(String, Vec<String>)], emb: Vec<Vec<f32>>) -> Self {
        let mut it = emb.into_iter();
        let mut examples = Vec::new();
        for (k, (_, ex)) in groups.iter().enumerate() {
            for _ in ex {
                if let Some(e) = it.next() {
                    examples.push((k, e));
                }
            }
        }
        IntentIndex {
            labels: groups.iter().map(|(l, _)| l.clone()).collect(),
            examples,
        }
    }

    /// The nearest example's label index and its similarity.
    pub fn nearest(&self, x: &[f32]) -> Option<(usize, f32)> {
        self.examples.iter().map(|(k, e)| (*k, cosine(e, x))).fold(
            None,
            |best, (k, s)| match best {
                Some((_, bs)) if bs >= s => best,
                _ => Some((k, s)),
            },
        )
    }
}

pub struct IntentAnalyser {
    index: IntentIndex,
    threshold: f32,
}

impl IntentAnalyser {
    pub fn build(pack: &RulePack, models: &TextModels) -> Result<Self, EmbedError> {
        let groups: Vec<(String, Vec<String>)> = pack
            .intents
            .iter()
            .map(|i| (i.id.clone(), i.examples.clone()))
            .collect();
        Ok(IntentAnalyser {
            index: IntentIndex::build(models, &groups)?,
            threshold: pack.intent_threshold,
        })
    }

    fn label(&self, hit: (usize, f32)) -> IntentMatch {
        IntentMatch {
            intent: if hit.1 >= self.threshold {
                self.index.labels[hit.0].clone()
            } else {
                UNKNOWN.to_owned()
            },
            score: hit.1,
        }
    }
}

impl Analyser for IntentAnalyser {
    fn name(&self) -> &'static str {
        "intent"
    }

    fn analyse(&self, s: &Subject<'_>, out: &mut Analysis) {
        let Some(sig) = s.signals else { return };
        if self.index.examples.is_empty() {
            return;
        }
        let mut best: Option<(usize, f32)> = None;
        for (i, _) in s.conv.turns_of(Speaker::Customer) {
            let Some(hit) = sig.views(i).filter_map(|e| self.index.nearest(e)).fold(
                None,
                |b: Option<(usize, f32)>, h| match b {
                    Some(b) if b.1 >= h.1 => Some(b),
                    _ => Some(h),
                },
            ) else {
                continue;
            };
            if let Some(note) = out.notes.get_mut(i) {
                note.intent = Some(self.label(hit));
            }
            if best.is_none_or(|b| hit.1 > b.1) {
                best = Some(hit);
            }
        }
        out.contact_reason = best.map(|b| self.label(b));
    }
}
