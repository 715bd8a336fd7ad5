//! Rated dialogues (`callqa eval-dialogue`): how well callqa's per-contact
//! signals rank conversations that people rated for satisfaction, and the
//! predicted-satisfaction model (`analyse::csat`) fitted and measured on
//! them by cross-validation.
//!
//! Input: JSONL, one dialogue a line, `{"id", "turns": [{"speaker":
//! "customer"|"agent", "text"}], "quality_mean": {"S", …}}` (NTCIR-14
//! STC-3 DCH-1's format as in ../shared/eval-data/dialog). Every dialogue
//! runs through the same text models and analysers as a job.
//!
//! The model is ridge regression on standardised features; its penalty is
//! chosen by an inner cross-validation inside each outer training fold, so
//! the outer folds' Spearman is a held-out figure. Folds are assigned by a
//! seeded hash of the dialogue id: deterministic.

use std::path::Path;

use super::corpus::split_hash;
use super::LearnError;
use crate::analyse::csat::{self, CsatModel, HAND_FEATURES};
use crate::analyse::{self, Analyser, Subject};
use crate::domain::{Attribution, Conversation, JobId, Language, Medium, Metadata, Speaker};
use crate::embed::TextModels;
use crate::rules::RulePack;

/// One rated dialogue.
#[derive(Debug, Clone)]
pub struct Rated {
    pub id: String,
    pub turns: Vec<(Speaker, String)>,
    /// The human satisfaction score (STC-3: mean of annotators, −2…2).
    pub satisfaction: f64,
}

#[derive(serde::Deserialize)]
struct Line {
    id: serde_json::Value,
    turns: Vec<LineTurn>,
    quality_mean: std::collections::HashMap<String, f64>,
}

#[derive(serde::Deserialize)]
struct LineTurn {
    speaker: String,
    text: String,
}

pub fn read(path: &Path) -> Result<Vec<Rated>, LearnError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| LearnError::Data(format!("{}: {e}", path.display())))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |m: String| LearnError::Data(format!("{}:{}: {m}", path.display(), n + 1));
        let l: Line = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        let satisfaction = *l
            .quality_mean
            .get("S")
            .ok_or_else(|| bad("no quality_mean.S".into()))?;
        let turns = l
            .turns
            .into_iter()
            .map(|t| {
                let s = match t.speaker.as_str() {
                    "customer" => Speaker::Customer,
                    "agent" => Speaker::Agent,
                    other => return Err(bad(format!("unknown speaker {other:?}"))),
                };
                Ok((s, t.text))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let id = match l.id {
            serde_json::Value::String(s) => s,
            v => v.to_string(),
        };
        out.push(Rated {
            id,
            turns,
            satisfaction,
        });
    }
    Ok(out)
}

/// What callqa says about one rated dialogue.
#[derive(Debug, Clone)]
pub struct Observed {
    pub satisfaction: f64,
    pub id: String,
    /// Mean valence of the customer turns.
    pub mean_valence: Option<f64>,
    pub qa_score: f64,
    /// `csat::features` with the embedding blocks.
    pub features: Option<Vec<f64>>,
    /// With the shipped model.
    pub predicted_csat: Option<f64>,
}

/// Runs every dialogue through the text models and the pack's analysers.
pub fn observe(
    models: &TextModels,
    pack: &RulePack,
    language: Language,
    dialogues: &[Rated],
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<Observed>, LearnError> {
    let analysers: Vec<Box<dyn Analyser>> = analyse::build(pack, Some(models))?;
    let dim = models.sentiment_encoder().dim();
    let metadata = Metadata::default();
    let one = |d: &Rated| -> Result<Observed, LearnError> {
        let conv = Conversation::from_turns(
            JobId::new(&d.id),
            Medium::Chat,
            language,
            None,
            d.turns
                .iter()
                .enumerate()
                .map(|(i, (s, t))| (*s, i as f64 * 30.0, i as f64 * 30.0 + 10.0, t.clone())),
            Attribution::Typed,
        );
        let sig = models.signals(&conv)?;
        let subject = Subject {
            conv: &conv,
            metadata: &metadata,
            signals: Some(&sig),
        };
        let a = analyse::run(&analysers, &subject);
        let vals: Vec<f64> = sig
            .sentiment
            .iter()
            .flatten()
            .map(|s| f64::from(s.valence()))
            .collect();
        Ok(Observed {
            satisfaction: d.satisfaction,
            id: d.id.clone(),
            mean_valence: (!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64),
            qa_score: pack.scorecard.apply(&a.flags).score,
            features: csat::features(&conv, &sig, &a, dim),
            predicted_csat: a.metrics.predicted_csat,
        })
    };
    // Two threads: each conversation is one batch per encoder, as in a job.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: std::sync::Mutex<Vec<Option<Result<Observed, LearnError>>>> =
        std::sync::Mutex::new((0..dialogues.len()).map(|_| None).collect());
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(4);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= dialogues.len() {
                    break;
                }
                let r = one(&dialogues[i]);
                if let Ok(mut v) = slots.lock() {
                    v[i] = Some(r);
                }
                progress(1);
            });
        }
    });
    let slots = slots
        .into_inner()
        .map_err(|_| LearnError::Data("a dialogue worker panicked".into()))?;
    slots
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(LearnError::Data("dialogue not processed".into()))))
        .collect()
}

/// Spearman's rank correlation (ties get their mean rank).
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    let (rx, ry) = (ranks(x), ranks(y));
    pearson(&rx, &ry)
}

fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let mean = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = mean;
        }
        i = j + 1;
    }
    r
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len()) as f64;
    if n < 2.0 {
        return 0.0;
    }
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx == 0.0 || syy == 0.0 {
        0.0
    } else {
        sxy / (sxx * syy).sqrt()
    }
}

/// Penalties the inner cross-validation chooses from.
pub const ALPHAS: &[f64] = &[1.0, 10.0, 100.0, 1000.0, 10000.0];

/// Standardisation and the normal equations of one training set, reusable
/// for every penalty.
struct Gram {
    mean: Vec<f64>,
    scale: Vec<f64>,
    xtx: Vec<f64>,
    xty: Vec<f64>,
    y_mean: f64,
    d: usize,
}

fn gram(x: &[&[f64]], y: &[f64]) -> Gram {
    let d = x.first().map(|r| r.len()).unwrap_or(0);
    let n = x.len().max(1) as f64;
    let mut mean = vec![0.0; d];
    for r in x {
        for (m, v) in mean.iter_mut().zip(r.iter()) {
            *m += v / n;
        }
    }
    let mut scale = vec![0.0; d];
    for r in x {
        for k in 0..d {
            scale[k] += (r[k] - mean[k]).powi(2) / n;
        }
    }
    for s in &mut scale {
        *s = if *s > 1e-12 { s.sqrt() } else { 1.0 };
    }
    let y_mean = y.iter().sum::<f64>() / n;
    let mut xtx = vec![0.0; d * d];
    let mut xty = vec![0.0; d];
    let mut z = vec![0.0; d];
    for (r, &t) in x.iter().zip(y) {
        for k in 0..d {
            z[k] = (r[k] - mean[k]) / scale[k];
        }
        for i in 0..d {
            let zi = z[i];
            xty[i] += zi * (t - y_mean);
            let row = &mut xtx[i * d..i * d + d];
            for j in i..d {
                row[j] += zi * z[j];
            }
        }
    }
    for i in 0..d {
        for j in 0..i {
            xtx[i * d + j] = xtx[j * d + i];
        }
    }
    Gram {
        mean,
        scale,
        xtx,
        xty,
        y_mean,
        d,
    }
}

/// Solves `(XᵀX + αI) w = Xᵀy` by Cholesky.
fn solve(g: &Gram, alpha: f64) -> Option<Vec<f64>> {
    let d = g.d;
    let mut l = g.xtx.clone();
    for i in 0..d {
        l[i * d + i] += alpha;
    }
    for j in 0..d {
        let mut s = l[j * d + j];
        for k in 0..j {
            s -= l[j * d + k] * l[j * d + k];
        }
        if s <= 0.0 {
            return None;
        }
        let djj = s.sqrt();
        l[j * d + j] = djj;
        for i in j + 1..d {
            let mut s = l[i * d + j];
            for k in 0..j {
                s -= l[i * d + k] * l[j * d + k];
            }
            l[i * d + j] = s / djj;
        }
    }
    let mut z = g.xty.clone();
    for i in 0..d {
        for k in 0..i {
            z[i] -= l[i * d + k] * z[k];
        }
        z[i] /= l[i * d + i];
    }
    for i in (0..d).rev() {
        for k in i + 1..d {
            z[i] -= l[k * d + i] * z[k];
        }
        z[i] /= l[i * d + i];
    }
    Some(z)
}

fn model(g: &Gram, w: Vec<f64>, alpha: f64, embedding_dim: usize) -> CsatModel {
    let mut features: Vec<String> = HAND_FEATURES.iter().map(|s| (*s).to_owned()).collect();
    for block in ["customer_mean", "customer_last"] {
        features.extend((0..embedding_dim).map(|i| format!("{block}_{i}")));
    }
    features.truncate(g.d);
    CsatModel {
        format: csat::FORMAT.to_owned(),
        trained_on: String::new(),
        cv_spearman: 0.0,
        alpha,
        embedding_dim,
        features,
        mean: g.mean.clone(),
        scale: g.scale.clone(),
        weights: w,
        bias: g.y_mean,
    }
}

fn fold_of(seed: u64, id: &str, k: usize) -> usize {
    (split_hash(seed, id) % k as u64) as usize
}

/// Fits with the penalty an inner `k`-fold cross-validation prefers.
fn fit_tuned(
    x: &[&[f64]],
    y: &[f64],
    ids: &[&str],
    k: usize,
    seed: u64,
    embedding_dim: usize,
) -> Option<CsatModel> {
    let mut best = (f64::NEG_INFINITY, ALPHAS[0]);
    let inner: Vec<usize> = ids.iter().map(|id| fold_of(seed ^ 0x9e37, id, k)).collect();
    let mut preds: Vec<Vec<f64>> = vec![vec![0.0; y.len()]; ALPHAS.len()];
    for f in 0..k {
        let tr: Vec<usize> = (0..y.len()).filter(|&i| inner[i] != f).collect();
        let g = gram(
            &tr.iter().map(|&i| x[i]).collect::<Vec<_>>(),
            &tr.iter().map(|&i| y[i]).collect::<Vec<_>>(),
        );
        for (a, &alpha) in ALPHAS.iter().enumerate() {
            let m = model(&g, solve(&g, alpha)?, alpha, embedding_dim);
            for i in (0..y.len()).filter(|&i| inner[i] == f) {
                preds[a][i] = m.score(x[i])?;
            }
        }
    }
    for (a, &alpha) in ALPHAS.iter().enumerate() {
        let r = spearman(&preds[a], y);
        if r > best.0 {
            best = (r, alpha);
        }
    }
    let g = gram(x, y);
    Some(model(&g, solve(&g, best.1)?, best.1, embedding_dim))
}

/// Held-out figures of the satisfaction model.
#[derive(Debug, Clone)]
pub struct CrossValidated {
    pub folds: usize,
    pub n: usize,
    pub spearman: f64,
    /// Penalty each outer fold's inner CV chose.
    pub alphas: Vec<f64>,
    /// Fitted on everything (penalty by CV), for shipping.
    pub model: CsatModel,
}

/// Outer `folds`-fold CV of the model on `observed` (those with features),
/// keeping only the first `HAND_FEATURES` when `embedding_dim` is 0.
pub fn cross_validate(
    observed: &[Observed],
    folds: usize,
    seed: u64,
    embedding_dim: usize,
) -> Result<CrossValidated, LearnError> {
    let keep = HAND_FEATURES.len() + 2 * embedding_dim;
    let rows: Vec<(&Observed, &[f64])> = observed
        .iter()
        .filter_map(|o| o.features.as_deref().map(|f| (o, f)))
        .filter(|(_, f)| f.len() >= keep)
        .map(|(o, f)| (o, &f[..keep]))
        .collect();
    let folds = folds.max(2);
    if rows.len() < folds * 4 {
        return Err(LearnError::Data(format!(
            "only {} dialogues with a customer turn: too few for {folds}-fold cross-validation",
            rows.len()
        )));
    }
    let fold: Vec<usize> = rows
        .iter()
        .map(|(o, _)| fold_of(seed, &o.id, folds))
        .collect();
    let mut pred = vec![0.0; rows.len()];
    let mut alphas = Vec::new();
    let fail = || LearnError::Data("the ridge system is singular".into());
    for f in 0..folds {
        let tr: Vec<usize> = (0..rows.len()).filter(|&i| fold[i] != f).collect();
        let x: Vec<&[f64]> = tr.iter().map(|&i| rows[i].1).collect();
        let y: Vec<f64> = tr.iter().map(|&i| rows[i].0.satisfaction).collect();
        let ids: Vec<&str> = tr.iter().map(|&i| rows[i].0.id.as_str()).collect();
        let m = fit_tuned(&x, &y, &ids, folds, seed, embedding_dim).ok_or_else(fail)?;
        alphas.push(m.alpha);
        for i in (0..rows.len()).filter(|&i| fold[i] == f) {
            pred[i] = m.score(rows[i].1).ok_or_else(fail)?;
        }
    }
    let y: Vec<f64> = rows.iter().map(|(o, _)| o.satisfaction).collect();
    let spearman = spearman(&pred, &y);
    let x: Vec<&[f64]> = rows.iter().map(|(_, f)| *f).collect();
    let ids: Vec<&str> = rows.iter().map(|(o, _)| o.id.as_str()).collect();
    let mut model = fit_tuned(&x, &y, &ids, folds, seed, embedding_dim).ok_or_else(fail)?;
    model.cv_spearman = (spearman * 1000.0).round() / 1000.0;
    Ok(CrossValidated {
        folds,
        n: rows.len(),
        spearman,
        alphas,
        model,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_of_monotone_and_reversed_ranks() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert!((spearman(&x, &[10.0, 20.0, 30.0, 40.0, 50.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&x, &[5.0, 4.0, 3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        assert_eq!(ranks(&[3.0, 1.0, 3.0]), vec![2.5, 1.0, 2.5]);
    }

    #[test]
    fn ridge_recovers_a_linear_relation() {
        let x: Vec<Vec<f64>> = (0..200)
            .map(|i| {
                let a = (i as f64 * 0.37).sin();
                let b = (i as f64 * 0.11).cos();
                vec![a, b]
            })
            .collect();
        let y: Vec<f64> = x.iter().map(|r| 2.0 * r[0] - r[1] + 0.5).collect();
        let rows: Vec<&[f64]> = x.iter().map(Vec::as_slice).collect();
        let g = gram(&rows, &y);
        let m = model(&g, solve(&g, 1e-6).unwrap(), 1e-6, 0);
        for (r, t) in rows.iter().zip(&y) {
            assert!((m.score(r).unwrap() - t).abs() < 1e-4);
        }
    }
}
