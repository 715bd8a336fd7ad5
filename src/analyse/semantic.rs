//! Semantic rules: a turn matches when its meaning is close enough (cosine
//! of sentence embeddings ≥ the rule's threshold) to one of the rule's
//! example phrases, so paraphrases and speech-recognition errors still
//! count. Required rules flag a window with no matching turn ("agent
//! offered further help"); forbidden rules flag each matching turn. A rule
//! with `when_customer` examples applies only when a customer turn matches
//! one of those ("apologise when the customer complains").
//!
//! Example phrases are embedded once, when the analyser is built.

use super::phrase::window_turns;
use super::{fill, flag, say, span_evidence, turn_evidence, Analyser, Subject};
use crate::domain::{Analysis, Speaker};
use crate::embed::{cosine, EmbedError, TextModels};
use crate::rules::{RuleKind, RuleMeta, RulePack, Window};

struct SemanticRule {
    meta: RuleMeta,
    speaker: Speaker,
    required: bool,
    examples: Vec<Vec<f32>>,
    threshold: f32,
    window: Window,
    when_customer: Vec<Vec<f32>>,
}

pub struct SemanticAnalyser {
    rules: Vec<SemanticRule>,
}

fn best(examples: &[Vec<f32>], x: &[f32]) -> f32 {
    examples
        .iter()
        .map(|e| cosine(e, x))
        .fold(f32::NEG_INFINITY, f32::max)
}

impl SemanticAnalyser {
    pub fn build(pack: &RulePack, models: &TextModels) -> Result<Self, EmbedError> {
        let mut rules = Vec::new();
        for r in &pack.rules {
            let RuleKind::Semantic {
                speaker,
                required,
                examples,
                threshold,
                window,
                when_customer,
            } = &r.kind
            else {
                continue;
            };
            let texts: Vec<&str> = examples
                .iter()
                .chain(when_customer)
                .map(String::as_str)
                .collect();
            let mut emb = models.embed(&texts)?;
            let when = emb.split_off(examples.len());
            rules.push(SemanticRule {
                meta: r.meta.clone(),
                speaker: *speaker,
                required: *required,
                examples: emb,
                threshold: *threshold,
                window: *window,
                when_customer: when,
            });
        }
        Ok(SemanticAnalyser { rules })
    }
}

impl Analyser for SemanticAnalyser {
    fn name(&self) -> &'static str {
        "semantic"
    }

    fn analyse(&self, s: &Subject<'_>, out: &mut Analysis) {
        let Some(sig) = s.signals else { return };
        let conv = s.conv;
        if conv.turns.is_empty() {
            return;
        }
        let score = |i: usize, ex: &[Vec<f32>]| {
            sig.views(i)
                .map(|e| best(ex, e))
                .fold(f32::NEG_INFINITY, f32::max)
        };
        for r in &self.rules {
            if !r.when_customer.is_empty()
                && !conv
                    .turns_of(Speaker::Customer)
                    .any(|(i, _)| score(i, &r.when_customer) >= r.threshold)
            {
                continue;
            }
            let turns = window_turns(conv, r.speaker, &r.window);
            if r.required {
                if turns.iter().any(|&i| score(i, &r.examples) >= r.threshold) {
                    continue;
                }
                let evidence = if turns.is_empty() {
                    vec![span_evidence(
                        Some(r.speaker),
                        0.0,
                        conv.duration,
                        say(
                            conv.language,
                            "（该时段内没有该方发言）",
                            "(no turn by this speaker in the window)",
                        ),
                    )]
                } else {
                    turns
                        .iter()
                        .rev()
                        .take(2)
                        .rev()
                        .map(|&i| turn_evidence(conv, i, None))
                        .collect()
                };
                out.flags
                    .push(flag(&r.meta, r.meta.message.clone(), evidence));
            } else {
                for &i in &turns {
                    let sc = score(i, &r.examples);
                    if sc >= r.threshold {
                        out.flags.push(flag(
                            &r.meta,
                            fill(
                                &r.meta.message,
                                &[
                                    ("match", conv.turns[i].text.clone()),
                                    ("score", format!("{sc:.2}")),
                                ],
                            ),
                            vec![turn_evidence(conv, i, None)],
                        ));
                    }
                }
            }
        }
    }
}
