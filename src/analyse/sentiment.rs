//! Sentiment: each turn's negative / neutral / positive probabilities into
//! the notes, the customer's mood at the start and end of the contact and
//! its direction (worsening / improving), and `customer_anger` rules that
//! fire when enough customer turns are strongly negative.
//!
//! Anger is judged on the stance clause (see `embed::stance`), so "I'm not
//! angry, but please cancel" is scored as the calm request it is.

use super::{fill, flag, turn_evidence, Analyser, Subject};
use crate::domain::{Analysis, Speaker, Trend};
use crate::rules::{RuleKind, RuleMeta, RulePack};

struct AngerRule {
    meta: RuleMeta,
    threshold: f32,
    min_turns: usize,
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
    pub fn build(pack: &RulePack) -> Self {
        let anger = pack
            .rules
            .iter()
            .filter_map(|r| match r.kind {
                RuleKind::CustomerAnger {
                    threshold,
                    min_turns,
                } => Some(AngerRule {
                    meta: r.meta.clone(),
                    threshold,
                    min_turns,
                }),
                _ => None,
            })
            .collect();
        SentimentAnalyser { anger }
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
            note.sentiment = Some(*sent);
        }
        let customer: Vec<usize> = conv.turns_of(Speaker::Customer).map(|(i, _)| i).collect();
        let valences: Vec<f64> = customer
            .iter()
            .filter_map(|&i| sig.sentiment.get(i).map(|x| x.valence() as f64))
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
                .filter_map(|&i| sig.stance.get(i).map(|x| (i, x.negative)))
                .filter(|&(_, p)| p >= rule.threshold)
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
