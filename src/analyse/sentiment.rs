//! Sentiment: each customer turn's negative / neutral / positive
//! probabilities into the notes (agent turns have none: see
//! `TextModels::signals`), the customer's mood at the start and end of the contact and
//! its direction (worsening / improving), and `customer_anger` rules that
//! fire when enough customer turns are strongly negative.
//!
//! A generic sentiment head calls many calm turns negative ("退款怎么还没到账？"
//! is 0.95 negative), so a turn is angry only when its stance clause is
//! strongly negative **and** reads as anger: closer, by at least a margin,
//! to the rule's angry example phrases than to its calm counter-examples.
//! Both are judged on the stance clause (see `embed::stance`), so "I'm not
//! angry, but please cancel" is scored as the calm request it is.

use super::{fill, flag, turn_evidence, Analyser, Subject, TextSignals};
use crate::domain::{Analysis, Speaker, Trend};
use crate::embed::{cosine, EmbedError, TextModels};
use crate::rules::{RuleKind, RuleMeta, RulePack};

struct AngerRule {
    meta: RuleMeta,
    threshold: f32,
    min_turns: usize,
    examples: Vec<Vec<f32>>,
    counter: Vec<Vec<f32>>,
    margin: f32,
}

impl AngerRule {
    /// How much closer the turn's stance is to anger than to calm; `None`
    /// when the rule has no examples (negativity alone decides).
    fn anger_margin(&self, sig: &TextSignals, turn: usize) -> Option<f32> {
        if self.examples.is_empty() {
            return None;
        }
        let best = |set: &[Vec<f32>]| {
            sig.stance_views(turn)
                .iter()
                .flat_map(|v| set.iter().map(|e| cosine(e, v)))
                .fold(f32::NEG_INFINITY, f32::max)
        };
        Some(best(&self.examples) - best(&self.counter))
    }
}

pub struct SentimentAnalyser {
    anger: Vec<AngerRule>,
}

/// Customer turns averaged for the start and for the end mood.
const EDGE_TURNS: usize = 2;
/// Valence change (−2…2 scale of positive − negative) that counts as a
/// trend rather than noise.
const TREND_DELTA: f64 = 0.3;
const MAX_EVIDENCE: usize = 5;

impl SentimentAnalyser {
    pub fn build(pack: &RulePack, models: &TextModels) -> Result<Self, EmbedError> {
        let mut anger = Vec::new();
        for r in &pack.rules {
            let RuleKind::CustomerAnger {
                threshold,
                min_turns,
                examples,
                counter_examples,
                margin,
            } = &r.kind
            else {
                continue;
            };
            let texts: Vec<&str> = examples
                .iter()
                .chain(counter_examples)
                .map(String::as_str)
                .collect();
            let mut emb = models.embed(&texts)?;
            let counter = emb.split_off(examples.len());
            anger.push(AngerRule {
                meta: r.meta.clone(),
                threshold: *threshold,
                min_turns: *min_turns,
                examples: emb,
                counter,
                margin: *margin,
            });
        }
        Ok(SentimentAnalyser { anger })
    }
}

/// Mean valence of the first and last customer turns (up to `EDGE_TURNS`
/// each, never sharing a turn), and the direction between them.
pub(crate) fn trajectory(valences: &[f64]) -> Option<(f64, f64, Trend)> {
    if valences.len() < 2 {
        return None;
    }
    let k = EDGE_TURNS.min(valences.len() / 2).max(1);
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    let start = mean(&valences[..k]);
    let end = mean(&valences[valences.len() - k..]);
    let trend = if end - start >= TREND_DELTA {
        Trend::Improving
    } else if start - end >= TREND_DELTA {
        Trend::Worsening
    } else {
        Trend::Stable
    };
    Some((start, end, trend))
}

impl Analyser for SentimentAnalyser {
    fn name(&self) -> &'static str {
        "sentiment"
    }

    fn analyse(&self, s: &Subject<'_>, out: &mut Analysis) {
        let Some(sig) = s.signals else { return };
        let conv = s.conv;
        for (note, sent) in out.notes.iter_mut().zip(&sig.sentiment) {
            note.sentiment = *sent;
        }
        let customer: Vec<usize> = conv.turns_of(Speaker::Customer).map(|(i, _)| i).collect();
        let valences: Vec<f64> = customer
            .iter()
            .filter_map(|&i| sig.sentiment.get(i).copied().flatten())
            .map(|x| x.valence() as f64)
            .collect();
        if let Some((start, end, trend)) = trajectory(&valences) {
            out.metrics.customer_sentiment_start = Some(start);
            out.metrics.customer_sentiment_end = Some(end);
            out.metrics.customer_sentiment_trend = Some(trend);
        } else if let Some(&v) = valences.first() {
            out.metrics.customer_sentiment_start = Some(v);
            out.metrics.customer_sentiment_end = Some(v);
        }
        for rule in &self.anger {
            let angry: Vec<(usize, f32)> = customer
                .iter()
                .filter_map(|&i| {
                    sig.stance
                        .get(i)
                        .copied()
                        .flatten()
                        .map(|x| (i, x.negative))
                })
                .filter(|&(i, p)| {
                    p >= rule.threshold
                        && rule.anger_margin(sig, i).is_none_or(|m| m >= rule.margin)
                })
                .collect();
            if angry.len() < rule.min_turns {
                continue;
            }
            let peak = angry.iter().map(|&(_, p)| p).fold(0.0f32, f32::max);
            let evidence = angry
                .iter()
                .take(MAX_EVIDENCE)
                .map(|&(i, _)| turn_evidence(conv, i, None))
                .collect();
            out.flags.push(flag(
                &rule.meta,
                fill(
                    &rule.meta.message,
                    &[
                        ("value", format!("{:.0}", peak * 100.0)),
                        ("count", angry.len().to_string()),
                    ],
                ),
                evidence,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trajectory_compares_the_first_and_last_customer_turns() {
        let cases: &[(&[f64], Option<Trend>)] = &[
            (&[], None),
            (&[-0.5], None),
            (&[-0.8, 0.6], Some(Trend::Improving)),
            (&[0.5, 0.4, -0.6, -0.7], Some(Trend::Worsening)),
            (&[0.1, -0.1, 0.2, 0.0], Some(Trend::Stable)),
            (&[-0.9, -0.8, 0.0, 0.5, 0.7], Some(Trend::Improving)),
        ];
        for (v, want) in cases {
            assert_eq!(trajectory(v).map(|t| t.2), *want, "{v:?}");
        }
        let (start, end, _) = trajectory(&[-0.8, -0.6, 0.2, 0.4, 0.6]).unwrap();
        assert!((start - -0.7).abs() < 1e-9 && (end - 0.5).abs() < 1e-9);
    }
}
