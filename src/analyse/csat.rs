//! Predicted customer satisfaction per contact (`metrics.predicted_csat`,
//! 1 = very dissatisfied … 5 = very satisfied), read off what the other
//! analysers found: the customer's sentiment trajectory (first, last, mean
//! and worst turn), how the contact ends (who speaks last, the sentiment
//! encoder's embedding of the customer's last turn and of all their turns),
//! its shape (turns, the customer's share) and the flags raised.
//!
//! The model is a ridge regression fitted by `callqa eval-dialogue --fit-out`
//! on NTCIR-14 STC-3 DCH-1's development dialogues (Chinese customer–helpdesk
//! chats on Weibo, each rated by 19 annotators; satisfaction −2…2, mapped
//! here to 1…5 by adding 3 and clamping). Its cross-validated Spearman
//! correlation with the annotators' mean is in docs/models.md. It ships as
//! `csat-stc3.json` beside this file, compiled in. Timing features are not
//! used: STC-3's dialogues have none.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::TextSignals;
use crate::domain::{Analysis, Conversation, Speaker};

/// The hand-made features, in order; the embedding parts follow them.
pub const HAND_FEATURES: &[&str] = &[
    "valence_mean",
    "valence_first",
    "valence_last",
    "valence_min",
    "negative_mean",
    "positive_last",
    "log_turns",
    "customer_turn_share",
    "ends_with_customer",
    "log_flags",
    "log_customer_chars",
];

/// Lowest and highest predicted satisfaction.
pub const RANGE: (f64, f64) = (1.0, 5.0);

/// A fitted model: `y = bias + Σ weights[i] · (x[i] − mean[i]) / scale[i]`
/// on STC-3's −2…2 scale; `predicted_csat = clamp(y + 3, 1, 5)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CsatModel {
    pub format: String,
    /// What the model was fitted on and how well it ranks held-out data.
    pub trained_on: String,
    pub cv_spearman: f64,
    pub alpha: f64,
    /// Length of each of the two embedding blocks (mean of the customer's
    /// turns, then their last turn); 0 for hand features only.
    pub embedding_dim: usize,
    pub features: Vec<String>,
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
    pub weights: Vec<f64>,
    pub bias: f64,
}

pub const FORMAT: &str = "callqa-csat-1";

impl CsatModel {
    /// The raw score on the −2…2 scale the model was fitted on.
    pub fn score(&self, x: &[f64]) -> Option<f64> {
        if x.len() != self.weights.len() {
            return None;
        }
        let mut y = self.bias;
        for (i, v) in x.iter().enumerate() {
            y += self.weights[i] * (v - self.mean[i]) / self.scale[i];
        }
        y.is_finite().then_some(y)
    }

    /// Satisfaction on the 1–5 scale.
    pub fn csat(&self, x: &[f64]) -> Option<f64> {
        self.score(x).map(to_csat)
    }
}

/// STC-3's −2…2 satisfaction onto 1…5.
pub fn to_csat(s: f64) -> f64 {
    (s + 3.0).clamp(RANGE.0, RANGE.1)
}

/// The shipped model, parsed once.
pub fn shipped() -> Option<&'static CsatModel> {
    static MODEL: OnceLock<Option<CsatModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            serde_json::from_str::<CsatModel>(include_str!("csat-stc3.json"))
                .ok()
                .filter(|m| {
                    m.format == FORMAT
                        && m.mean.len() == m.weights.len()
                        && m.scale.len() == m.weights.len()
                })
        })
        .as_ref()
}

/// The model's inputs for one conversation: the hand features, then (when
/// `embedding_dim > 0`) the mean of the customer turns' sentiment-encoder
/// embeddings and the last customer turn's. `None` without a customer turn
/// that has a sentiment, or when the embeddings are not `embedding_dim` long.
pub fn features(
    conv: &Conversation,
    sig: &TextSignals,
    a: &Analysis,
    embedding_dim: usize,
) -> Option<Vec<f64>> {
    let customer: Vec<usize> = conv
        .turns
        .iter()
        .enumerate()
        .filter(|(i, t)| {
            t.speaker == Speaker::Customer && sig.sentiment.get(*i).is_some_and(Option::is_some)
        })
        .map(|(i, _)| i)
        .collect();
    let sent: Vec<_> = customer
        .iter()
        .filter_map(|&i| sig.sentiment.get(i).copied().flatten())
        .collect();
    let (first, last) = (sent.first()?, sent.last()?);
    let n = sent.len() as f64;
    let val: Vec<f64> = sent.iter().map(|s| f64::from(s.valence())).collect();
    let turns = conv.turns.len().max(1) as f64;
    let chars: usize = customer
        .iter()
        .map(|&i| conv.turns[i].text.chars().count())
        .sum();
    let mut x = vec![
        val.iter().sum::<f64>() / n,
        f64::from(first.valence()),
        f64::from(last.valence()),
        val.iter().copied().fold(f64::INFINITY, f64::min),
        sent.iter().map(|s| f64::from(s.negative)).sum::<f64>() / n,
        f64::from(last.positive),
        turns.ln(),
        n / turns,
        f64::from(u8::from(
            conv.turns.last().map(|t| t.speaker) == Some(Speaker::Customer),
        )),
        (a.flags.len() as f64).ln_1p(),
        (chars as f64).ln_1p(),
    ];
    if embedding_dim > 0 {
        let embs: Vec<&Vec<f32>> = customer
            .iter()
            .filter_map(|&i| sig.sentiment_embeddings.get(i).and_then(Option::as_ref))
            .collect();
        if embs.is_empty() || embs.iter().any(|e| e.len() != embedding_dim) {
            return None;
        }
        let mut mean = vec![0.0f64; embedding_dim];
        for e in &embs {
            for (m, v) in mean.iter_mut().zip(e.iter()) {
                *m += f64::from(*v) / embs.len() as f64;
            }
        }
        x.extend(mean);
        x.extend(embs.last()?.iter().map(|v| f64::from(*v)));
    }
    Some(x)
}

/// Predicted satisfaction (1–5) with the shipped model.
pub fn predict(conv: &Conversation, sig: &TextSignals, a: &Analysis) -> Option<f64> {
    let m = shipped()?;
    m.csat(&features(conv, sig, a, m.embedding_dim)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_model_parses_and_maps_into_range() {
        let m = shipped().expect("csat-stc3.json parses");
        assert_eq!(m.features.len(), HAND_FEATURES.len() + 2 * m.embedding_dim);
        assert_eq!(m.weights.len(), m.features.len());
        assert_eq!(to_csat(-9.0), 1.0);
        assert_eq!(to_csat(9.0), 5.0);
        assert_eq!(to_csat(0.5), 3.5);
        let at_mean = m.csat(&m.mean).unwrap();
        assert!((at_mean - to_csat(m.bias)).abs() < 1e-12);
        assert_eq!(m.csat(&[0.0]), None, "wrong length is no prediction");
    }
}
