//! Classification heads on sentence embeddings: multinomial logistic
//! regression (softmax), trained here in Rust with mini-batch Adam and L2,
//! deterministically (a seeded shuffle, no threads), and the sentiment head
//! file that `callqa train-sentiment` writes and the engine loads.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::EmbedError;
use crate::domain::{Polarity, Sentiment};

/// Softmax regression: `p = softmax(W x + b)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogReg {
    pub classes: usize,
    pub dim: usize,
    /// `classes × dim`, row-major.
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
}

/// How `LogReg::fit` trains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitOptions {
    pub epochs: usize,
    pub batch: usize,
    pub learning_rate: f32,
    /// L2 penalty on the weights (not the bias).
    pub l2: f32,
    pub seed: u64,
    /// Weight classes by inverse frequency so a rare class still counts.
    pub balanced: bool,
    /// Hidden units of a one-layer perceptron ([`Mlp`]); 0 for logistic
    /// regression. Absent in head files written before it existed.
    #[serde(default)]
    pub hidden: usize,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            epochs: 30,
            batch: 256,
            learning_rate: 0.01,
            l2: 1e-4,
            seed: 42,
            // Inverse-frequency weights made the head over-predict neutral
            // on the default corpora (held-out accuracy 68.8% vs 73.1%).
            balanced: false,
            hidden: 0,
        }
    }
}

/// A small deterministic generator (SplitMix64) for shuffling and splits:
/// the same seed gives the same order on every machine.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Fisher–Yates.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// Each class's weight in the loss: 1, or with `balanced` the inverse of
/// its share of `labels` (so every class weighs as much in total).
fn class_weights(labels: impl Iterator<Item = usize>, classes: usize, balanced: bool) -> Vec<f32> {
    let mut counts = vec![0usize; classes];
    for c in labels {
        counts[c] += 1;
    }
    let total: usize = counts.iter().sum();
    counts
        .iter()
        .map(|&n| {
            if !balanced || n == 0 {
                1.0
            } else {
                total as f32 / (classes as f32 * n as f32)
            }
        })
        .collect()
}

fn softmax_in_place(z: &mut [f32]) {
    let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut s = 0.0;
    for v in z.iter_mut() {
        *v = (*v - m).exp();
        s += *v;
    }
    for v in z.iter_mut() {
        *v /= s;
    }
}

impl LogReg {
    pub fn zeros(classes: usize, dim: usize) -> Self {
        LogReg {
            classes,
            dim,
            weights: vec![0.0; classes * dim],
            bias: vec![0.0; classes],
        }
    }

    /// Class probabilities of one example.
    pub fn predict_proba(&self, x: &[f32]) -> Vec<f32> {
        let mut z: Vec<f32> = (0..self.classes)
            .map(|c| {
                let w = &self.weights[c * self.dim..(c + 1) * self.dim];
                self.bias[c] + dot(w, x)
            })
            .collect();
        softmax_in_place(&mut z);
        z
    }

    /// The most probable class.
    pub fn predict(&self, x: &[f32]) -> usize {
        argmax(&self.predict_proba(x))
    }

    /// Fits on examples `x` (each `dim` long) with labels `y` in
    /// `0..classes`. Deterministic for a given seed.
    pub fn fit(x: &[Vec<f32>], y: &[usize], classes: usize, opts: &FitOptions) -> Self {
        let dim = x.first().map(|v| v.len()).unwrap_or(0);
        let mut m = LogReg::zeros(classes, dim);
        if x.is_empty() {
            return m;
        }
        let class_weight = class_weights(y.iter().copied(), classes, opts.balanced);
        let np = classes * dim;
        let (mut adam_w, mut adam_b) = (Adam::new(np), Adam::new(classes));
        let mut order: Vec<usize> = (0..x.len()).collect();
        let mut rng = SplitMix64(opts.seed);
        let mut gw = vec![0.0f32; np];
        let mut gb = vec![0.0f32; classes];
        let mut p = vec![0.0f32; classes];
        let mut step = 0i32;
        for _ in 0..opts.epochs {
            rng.shuffle(&mut order);
            for batch in order.chunks(opts.batch.max(1)) {
                gw.iter_mut().for_each(|g| *g = 0.0);
                gb.iter_mut().for_each(|g| *g = 0.0);
                let mut wsum = 0.0f32;
                for &i in batch {
                    let xi = &x[i];
                    for (c, pc) in p.iter_mut().enumerate() {
                        let w = &m.weights[c * dim..(c + 1) * dim];
                        *pc = m.bias[c] + dot(w, xi);
                    }
                    softmax_in_place(&mut p);
                    let sw = class_weight[y[i]];
                    wsum += sw;
                    for c in 0..classes {
                        let d = sw * (p[c] - if c == y[i] { 1.0 } else { 0.0 });
                        gb[c] += d;
                        let g = &mut gw[c * dim..(c + 1) * dim];
                        for (gk, xk) in g.iter_mut().zip(xi) {
                            *gk += d * xk;
                        }
                    }
                }
                let scale = 1.0 / wsum.max(1e-12);
                gw.iter_mut().for_each(|g| *g *= scale);
                gb.iter_mut().for_each(|g| *g *= scale);
                step += 1;
                adam_w.step(&mut m.weights, &gw, opts.l2, opts.learning_rate, step);
                adam_b.step(&mut m.bias, &gb, 0.0, opts.learning_rate, step);
            }
        }
        m
    }
}

pub fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &x)| {
            if x > bv {
                (i, x)
            } else {
                (bi, bv)
            }
        })
        .0
}

/// A perceptron with one hidden layer:
/// `p = softmax(W2 relu(W1 x + b1) + b2)`. Trained like [`LogReg`] (seeded
/// shuffle, mini-batch Adam, L2 on the weights, no threads), keeping the
/// epoch that does best on a seeded validation share of the training
/// examples, so the number of epochs is never chosen on test data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mlp {
    pub classes: usize,
    pub dim: usize,
    pub hidden: usize,
    /// `hidden × dim`, row-major.
    pub w1: Vec<f32>,
    pub b1: Vec<f32>,
    /// `classes × hidden`, row-major.
    pub w2: Vec<f32>,
    pub b2: Vec<f32>,
}

/// Share of the training examples an [`Mlp`] holds out to pick its epoch.
const MLP_VALIDATION: f64 = 0.05;

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Adam on one parameter block.
struct Adam {
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Adam {
    fn new(n: usize) -> Self {
        Adam {
            m: vec![0.0; n],
            v: vec![0.0; n],
        }
    }

    /// One step: `grad` is the batch mean; `l2` applies to `params`.
    fn step(&mut self, params: &mut [f32], grad: &[f32], l2: f32, lr: f32, t: i32) {
        let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
        for k in 0..params.len() {
            let g = grad[k] + l2 * params[k];
            self.m[k] = b1 * self.m[k] + (1.0 - b1) * g;
            self.v[k] = b2 * self.v[k] + (1.0 - b2) * g * g;
            params[k] -= lr * (self.m[k] / c1) / ((self.v[k] / c2).sqrt() + eps);
        }
    }
}

impl Mlp {
    /// Hidden activations of one example.
    fn hidden_of(&self, x: &[f32], h: &mut [f32]) {
        for (j, hj) in h.iter_mut().enumerate() {
            let w = &self.w1[j * self.dim..(j + 1) * self.dim];
            *hj = (self.b1[j] + dot(w, x)).max(0.0);
        }
    }

    fn logits(&self, h: &[f32], z: &mut [f32]) {
        for (c, zc) in z.iter_mut().enumerate() {
            *zc = self.b2[c] + dot(&self.w2[c * self.hidden..(c + 1) * self.hidden], h);
        }
    }

    pub fn predict_proba(&self, x: &[f32]) -> Vec<f32> {
        let mut h = vec![0.0; self.hidden];
        let mut z = vec![0.0; self.classes];
        self.hidden_of(x, &mut h);
        self.logits(&h, &mut z);
        softmax_in_place(&mut z);
        z
    }

    /// Fits on examples `x` (each `dim` long) with labels `y` in
    /// `0..classes`, `opts.hidden` hidden units (at least 1). Deterministic
    /// for a given seed. A seeded 5 % of the examples is held out and the
    /// weights after the epoch with the best accuracy on it (ties: the
    /// lower loss) are returned.
    pub fn fit(x: &[Vec<f32>], y: &[usize], classes: usize, opts: &FitOptions) -> Self {
        let dim = x.first().map(|v| v.len()).unwrap_or(0);
        let hidden = opts.hidden.max(1);
        let mut rng = SplitMix64(opts.seed ^ 0x006D_6C70);
        // He-uniform for the ReLU layer, Glorot-uniform for the output.
        let mut uniform = |n: usize, limit: f32| -> Vec<f32> {
            (0..n)
                .map(|_| ((rng.next_u64() >> 11) as f32 / (1u64 << 53) as f32 * 2.0 - 1.0) * limit)
                .collect()
        };
        let mut m = Mlp {
            classes,
            dim,
            hidden,
            w1: uniform(hidden * dim, (6.0 / dim.max(1) as f32).sqrt()),
            b1: vec![0.0; hidden],
            w2: uniform(classes * hidden, (6.0 / (hidden + classes) as f32).sqrt()),
            b2: vec![0.0; classes],
        };
        if x.is_empty() {
            return m;
        }
        let mut rng = SplitMix64(opts.seed);
        let mut all: Vec<usize> = (0..x.len()).collect();
        rng.shuffle(&mut all);
        let n_val = if x.len() >= 40 {
            ((x.len() as f64 * MLP_VALIDATION).round() as usize).max(1)
        } else {
            0
        };
        let (val, train) = all.split_at(n_val);
        let mut order = train.to_vec();
        let class_weight = class_weights(order.iter().map(|&i| y[i]), classes, opts.balanced);
        let (mut a_w1, mut a_b1) = (Adam::new(m.w1.len()), Adam::new(hidden));
        let (mut a_w2, mut a_b2) = (Adam::new(m.w2.len()), Adam::new(classes));
        let (mut g_w1, mut g_b1) = (vec![0.0f32; m.w1.len()], vec![0.0f32; hidden]);
        let (mut g_w2, mut g_b2) = (vec![0.0f32; m.w2.len()], vec![0.0f32; classes]);
        let mut h = vec![0.0f32; hidden];
        let mut dh = vec![0.0f32; hidden];
        let mut p = vec![0.0f32; classes];
        let mut best: Option<((usize, f64), Mlp)> = None;
        let mut t = 0i32;
        for _ in 0..opts.epochs {
            rng.shuffle(&mut order);
            for batch in order.chunks(opts.batch.max(1)) {
                for g in [&mut g_w1, &mut g_b1, &mut g_w2, &mut g_b2] {
                    g.iter_mut().for_each(|v| *v = 0.0);
                }
                let mut wsum = 0.0f32;
                for &i in batch {
                    let xi = &x[i];
                    m.hidden_of(xi, &mut h);
                    m.logits(&h, &mut p);
                    softmax_in_place(&mut p);
                    let sw = class_weight[y[i]];
                    wsum += sw;
                    dh.iter_mut().for_each(|v| *v = 0.0);
                    for c in 0..classes {
                        let d = sw * (p[c] - if c == y[i] { 1.0 } else { 0.0 });
                        g_b2[c] += d;
                        let w2 = &m.w2[c * hidden..(c + 1) * hidden];
                        let g2 = &mut g_w2[c * hidden..(c + 1) * hidden];
                        for j in 0..hidden {
                            g2[j] += d * h[j];
                            dh[j] += d * w2[j];
                        }
                    }
                    for j in 0..hidden {
                        if h[j] <= 0.0 {
                            continue;
                        }
                        let d = dh[j];
                        g_b1[j] += d;
                        for (g, xk) in g_w1[j * dim..(j + 1) * dim].iter_mut().zip(xi) {
                            *g += d * xk;
                        }
                    }
                }
                let scale = 1.0 / wsum.max(1e-12);
                for g in [&mut g_w1, &mut g_b1, &mut g_w2, &mut g_b2] {
                    g.iter_mut().for_each(|v| *v *= scale);
                }
                t += 1;
                let lr = opts.learning_rate;
                a_w1.step(&mut m.w1, &g_w1, opts.l2, lr, t);
                a_b1.step(&mut m.b1, &g_b1, 0.0, lr, t);
                a_w2.step(&mut m.w2, &g_w2, opts.l2, lr, t);
                a_b2.step(&mut m.b2, &g_b2, 0.0, lr, t);
            }
            if val.is_empty() {
                continue;
            }
            let (mut correct, mut loss) = (0usize, 0.0f64);
            for &i in val {
                let q = m.predict_proba(&x[i]);
                correct += usize::from(argmax(&q) == y[i]);
                loss -= f64::from(q[y[i]].max(1e-12)).ln();
            }
            let better = match &best {
                None => true,
                Some(((c, l), _)) => correct > *c || (correct == *c && loss < *l),
            };
            if better {
                best = Some(((correct, loss), m.clone()));
            }
        }
        best.map(|(_, b)| b).unwrap_or(m)
    }
}

/// The classifier inside a sentiment head: logistic regression, or a
/// perceptron with one hidden layer (`train-sentiment --hidden N`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HeadModel {
    Mlp(Mlp),
    LogReg(LogReg),
}

impl HeadModel {
    pub fn predict_proba(&self, x: &[f32]) -> Vec<f32> {
        match self {
            HeadModel::Mlp(m) => m.predict_proba(x),
            HeadModel::LogReg(m) => m.predict_proba(x),
        }
    }

    /// Input length.
    pub fn dim(&self) -> usize {
        match self {
            HeadModel::Mlp(m) => m.dim,
            HeadModel::LogReg(m) => m.dim,
        }
    }

    pub fn classes(&self) -> usize {
        match self {
            HeadModel::Mlp(m) => m.classes,
            HeadModel::LogReg(m) => m.classes,
        }
    }

    /// Whether every weight array has the length its shape says.
    fn well_formed(&self) -> bool {
        match self {
            HeadModel::Mlp(m) => {
                m.hidden > 0
                    && m.w1.len() == m.hidden * m.dim
                    && m.b1.len() == m.hidden
                    && m.w2.len() == m.classes * m.hidden
                    && m.b2.len() == m.classes
            }
            HeadModel::LogReg(m) => {
                m.weights.len() == m.classes * m.dim && m.bias.len() == m.classes
            }
        }
    }

    /// Fits the model `opts.hidden` asks for.
    pub fn fit(x: &[Vec<f32>], y: &[usize], classes: usize, opts: &FitOptions) -> Self {
        if opts.hidden > 0 {
            HeadModel::Mlp(Mlp::fit(x, y, classes, opts))
        } else {
            HeadModel::LogReg(LogReg::fit(x, y, classes, opts))
        }
    }
}

/// The label order of every sentiment head.
pub const POLARITIES: [Polarity; 3] = [Polarity::Negative, Polarity::Neutral, Polarity::Positive];

pub fn polarity_name(p: Polarity) -> &'static str {
    match p {
        Polarity::Negative => "negative",
        Polarity::Neutral => "neutral",
        Polarity::Positive => "positive",
    }
}

/// What a head was trained on, kept in its file for provenance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Data files and their sha256.
    pub data: Vec<(String, String)>,
    /// Training examples per class (negative, neutral, positive).
    pub per_class: [usize; 3],
    /// Seed and fraction of the deterministic train/test split.
    pub split_seed: u64,
    pub test_fraction: f64,
    /// Most training examples kept per source file (subsampling), if any.
    pub max_per_source: Option<usize>,
    pub fit: Option<FitOptions>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeadFile {
    format: String,
    labels: Vec<String>,
    encoder_sha256: String,
    /// A joint head: the base encoder (USE) whose embedding follows the
    /// sentiment encoder's in the head's input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    joint_sha256: Option<String>,
    model: HeadModel,
    provenance: Provenance,
}

const FORMAT: &str = "callqa-sentiment-head/1";

/// The sentiment head: negative / neutral / positive over the encoder's
/// embeddings.
#[derive(Debug, Clone)]
pub struct SentimentHead {
    pub model: HeadModel,
    /// The encoder it was trained on: a head is only valid with that one.
    pub encoder_sha256: String,
    /// `Some(checksum of USE)` for a joint head, which reads the sentiment
    /// encoder's embedding followed by USE's (USE embeds every turn
    /// anyway, so the second view costs nothing at run time).
    pub joint_sha256: Option<String>,
    pub provenance: Provenance,
}

/// The input of a head: the sentiment encoder's embedding, followed by the
/// base encoder's for a joint head.
pub fn joint_input(primary: &[f32], base: Option<&[f32]>) -> Vec<f32> {
    let mut v = primary.to_vec();
    if let Some(b) = base {
        v.extend_from_slice(b);
    }
    v
}

impl SentimentHead {
    /// Sentiment of one text from its head input ([`joint_input`] for a
    /// joint head; the sentiment encoder's embedding otherwise).
    pub fn predict(&self, input: &[f32]) -> Sentiment {
        debug_assert_eq!(input.len(), self.model.dim(), "sentiment head input");
        let p = self.model.predict_proba(input);
        Sentiment {
            label: POLARITIES[argmax(&p)],
            negative: p[0],
            neutral: p[1],
            positive: p[2],
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), EmbedError> {
        let file = HeadFile {
            format: FORMAT.into(),
            labels: POLARITIES
                .iter()
                .map(|p| polarity_name(*p).into())
                .collect(),
            encoder_sha256: self.encoder_sha256.clone(),
            joint_sha256: self.joint_sha256.clone(),
            model: self.model.clone(),
            provenance: self.provenance.clone(),
        };
        let err = |message: String| EmbedError::Load {
            file: path.to_path_buf(),
            message,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        }
        let json = serde_json::to_string(&file).map_err(|e| err(e.to_string()))?;
        // Write then rename, so a reader never sees half a file.
        let tmp = PathBuf::from(format!("{}.tmp", path.display()));
        std::fs::write(&tmp, json).map_err(|e| err(e.to_string()))?;
        std::fs::rename(&tmp, path).map_err(|e| err(e.to_string()))
    }

    /// A joint head must run beside the base encoder it was trained with.
    pub fn check_base(&self, path: &Path, base_sha256: &str) -> Result<(), EmbedError> {
        match &self.joint_sha256 {
            Some(j) if j != base_sha256 => Err(EmbedError::Load {
                file: path.to_path_buf(),
                message: format!(
                    "a joint head trained beside sentence encoder {}…, but models/encoder/model.onnx is {}…; retrain with `callqa train-sentiment` (or scripts/setup.sh)",
                    j.get(..12).unwrap_or(j),
                    base_sha256.get(..12).unwrap_or(base_sha256)
                ),
            }),
            _ => Ok(()),
        }
    }

    /// Loads a head and checks it fits the encoder it will run on.
    pub fn load(path: &Path, encoder_sha256: &str) -> Result<Self, EmbedError> {
        super::check_file(path, "sentiment head", super::TRAIN_HEAD)?;
        let err = |message: String| EmbedError::Load {
            file: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let f: HeadFile = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
        if f.format != FORMAT {
            return Err(err(format!("format {:?}, expected {FORMAT:?}", f.format)));
        }
        let want: Vec<String> = POLARITIES
            .iter()
            .map(|p| polarity_name(*p).into())
            .collect();
        if f.labels != want || f.model.classes() != 3 {
            return Err(err(format!("labels {:?}, expected {want:?}", f.labels)));
        }
        let (use_dim, e5_dim) = (super::encoder::DIM, super::encoder::E5_DIM);
        let dims: &[usize] = if f.joint_sha256.is_some() {
            &[e5_dim + use_dim, use_dim + use_dim]
        } else {
            &[use_dim, e5_dim]
        };
        if !dims.contains(&f.model.dim()) || !f.model.well_formed() {
            return Err(err(format!(
                "weights for {} dimensions do not fit the encoders we ship ({dims:?})",
                f.model.dim()
            )));
        }
        if f.encoder_sha256 != encoder_sha256 {
            return Err(err(format!(
                "trained on encoder {}…, but the sentiment encoder (models/e5/model.onnx) is {}…; retrain with `callqa train-sentiment` (or scripts/setup.sh)",
                &f.encoder_sha256.get(..12).unwrap_or(&f.encoder_sha256),
                &encoder_sha256.get(..12).unwrap_or(encoder_sha256)
            )));
        }
        Ok(SentimentHead {
            model: f.model,
            encoder_sha256: f.encoder_sha256,
            joint_sha256: f.joint_sha256,
            provenance: f.provenance,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three well-separated blobs in 4 dimensions.
    fn blobs(n: usize, seed: u64) -> (Vec<Vec<f32>>, Vec<usize>) {
        let centres = [
            [2.0, 0.0, 0.0, 1.0],
            [0.0, 2.0, 0.0, 1.0],
            [0.0, 0.0, 2.0, 1.0],
        ];
        let mut rng = SplitMix64(seed);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let c = i % 3;
            let noise = |r: &mut SplitMix64| (r.next_u64() % 1000) as f32 / 1000.0 - 0.5;
            x.push(centres[c].iter().map(|v| v + noise(&mut rng)).collect());
            y.push(c);
        }
        (x, y)
    }

    #[test]
    fn fits_a_separable_toy_set_perfectly() {
        let (x, y) = blobs(300, 1);
        let m = LogReg::fit(
            &x,
            &y,
            3,
            &FitOptions {
                epochs: 50,
                batch: 32,
                learning_rate: 0.05,
                ..FitOptions::default()
            },
        );
        let (tx, ty) = blobs(90, 2);
        let correct = tx
            .iter()
            .zip(&ty)
            .filter(|(x, &y)| m.predict(x) == y)
            .count();
        assert_eq!(correct, 90, "held-out toy accuracy");
        let p = m.predict_proba(&[2.0, 0.0, 0.0, 1.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(p[0] > 0.9, "{p:?}");
    }

    #[test]
    fn training_is_deterministic_for_a_seed() {
        let (x, y) = blobs(120, 3);
        let o = FitOptions {
            epochs: 5,
            batch: 16,
            ..FitOptions::default()
        };
        assert_eq!(LogReg::fit(&x, &y, 3, &o), LogReg::fit(&x, &y, 3, &o));
        let other = LogReg::fit(
            &x,
            &y,
            3,
            &FitOptions {
                seed: 7,
                ..o.clone()
            },
        );
        assert_ne!(LogReg::fit(&x, &y, 3, &o), other);
    }

    #[test]
    fn balanced_weights_lift_a_rare_class() {
        // 1-D, overlapping: class 1 is rare and sits slightly right.
        let mut x = Vec::new();
        let mut y = Vec::new();
        let mut rng = SplitMix64(9);
        for i in 0..1000 {
            let c = usize::from(i % 10 == 0);
            let v = c as f32 * 0.6 + (rng.next_u64() % 1000) as f32 / 1000.0;
            x.push(vec![v, 1.0]);
            y.push(c);
        }
        let count = |balanced| {
            let m = LogReg::fit(
                &x,
                &y,
                2,
                &FitOptions {
                    epochs: 20,
                    batch: 50,
                    learning_rate: 0.05,
                    balanced,
                    ..FitOptions::default()
                },
            );
            x.iter().filter(|v| m.predict(v) == 1).count()
        };
        assert!(count(true) > count(false) + 50);
    }

    /// Classes that no line separates (class 1 inside a ring of class 0):
    /// logistic regression cannot, one hidden layer can.
    #[test]
    fn a_hidden_layer_fits_what_a_line_cannot() {
        let mut rng = SplitMix64(5);
        let mut x = Vec::new();
        let mut y = Vec::new();
        let unit = |r: &mut SplitMix64| (r.next_u64() % 10_000) as f32 / 10_000.0;
        for i in 0..1000 {
            // Half inside radius 0.8, half in the ring 1.2..2.0.
            let inside = i % 2 == 0;
            let r = if inside {
                0.8 * unit(&mut rng)
            } else {
                1.2 + 0.8 * unit(&mut rng)
            };
            let t = unit(&mut rng) * std::f32::consts::TAU;
            x.push(vec![r * t.cos(), r * t.sin()]);
            y.push(usize::from(inside));
        }
        let acc = |m: &HeadModel| {
            x.iter()
                .zip(&y)
                .filter(|(v, &c)| argmax(&m.predict_proba(v)) == c)
                .count() as f32
                / x.len() as f32
        };
        let opts = FitOptions {
            epochs: 60,
            batch: 32,
            learning_rate: 0.01,
            ..FitOptions::default()
        };
        let line = HeadModel::fit(&x, &y, 2, &opts);
        let mlp = HeadModel::fit(
            &x,
            &y,
            2,
            &FitOptions {
                hidden: 16,
                ..opts.clone()
            },
        );
        assert!(matches!(mlp, HeadModel::Mlp(_)));
        assert!(acc(&line) < 0.7, "logistic: {}", acc(&line));
        assert!(acc(&mlp) > 0.97, "one hidden layer: {}", acc(&mlp));
        // Deterministic for a seed; another seed gives other weights.
        let o = FitOptions {
            hidden: 16,
            epochs: 3,
            ..opts.clone()
        };
        assert_eq!(HeadModel::fit(&x, &y, 2, &o), HeadModel::fit(&x, &y, 2, &o));
        assert_ne!(
            HeadModel::fit(&x, &y, 2, &o),
            HeadModel::fit(
                &x,
                &y,
                2,
                &FitOptions {
                    seed: 9,
                    ..o.clone()
                }
            )
        );
    }

    /// A head file with a hidden layer round-trips, and one whose arrays do
    /// not match its shape is refused with the file's name.
    #[test]
    fn hidden_layer_head_files_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let dim = super::super::encoder::E5_DIM + super::super::encoder::DIM;
        let mlp = Mlp {
            classes: 3,
            dim,
            hidden: 4,
            w1: vec![0.01; 4 * dim],
            b1: vec![0.0; 4],
            w2: vec![0.0; 12],
            b2: vec![0.0, 0.0, 1.0],
        };
        let head = SentimentHead {
            model: HeadModel::Mlp(mlp.clone()),
            encoder_sha256: "abc".into(),
            joint_sha256: Some("use1".into()),
            provenance: Provenance::default(),
        };
        let p = dir.path().join("mlp.json");
        head.save(&p).unwrap();
        let back = SentimentHead::load(&p, "abc").unwrap();
        assert_eq!(back.model, head.model);
        assert_eq!(back.predict(&vec![0.1; dim]).label, Polarity::Positive);
        let bad = SentimentHead {
            model: HeadModel::Mlp(Mlp {
                w1: vec![0.0; 3],
                ..mlp
            }),
            ..head
        };
        let pb = dir.path().join("bad.json");
        bad.save(&pb).unwrap();
        let err = SentimentHead::load(&pb, "abc").unwrap_err().to_string();
        assert!(
            err.contains("bad.json") && err.contains("dimensions"),
            "{err}"
        );
    }

    #[test]
    fn head_files_round_trip_and_refuse_another_encoder() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.json");
        let mut model = LogReg::zeros(3, super::super::encoder::DIM);
        model.bias = vec![0.0, 0.0, 1.0];
        let head = SentimentHead {
            model: HeadModel::LogReg(model),
            encoder_sha256: "abc".into(),
            joint_sha256: None,
            provenance: Provenance::default(),
        };
        head.save(&p).unwrap();
        let back = SentimentHead::load(&p, "abc").unwrap();
        assert_eq!(back.model, head.model);
        let s = back.predict(&vec![0.0; 512]);
        assert_eq!(s.label, Polarity::Positive);
        let err = SentimentHead::load(&p, "def").unwrap_err().to_string();
        assert!(err.contains("retrain"), "{err}");
        // A joint head: its input is the sentiment encoder's embedding
        // followed by the base encoder's, and it names that base encoder.
        let joint = SentimentHead {
            model: HeadModel::LogReg(LogReg::zeros(
                3,
                super::super::encoder::E5_DIM + super::super::encoder::DIM,
            )),
            encoder_sha256: "abc".into(),
            joint_sha256: Some("use1".into()),
            provenance: Provenance::default(),
        };
        let pj = dir.path().join("joint.json");
        joint.save(&pj).unwrap();
        let back = SentimentHead::load(&pj, "abc").unwrap();
        assert_eq!(back.joint_sha256.as_deref(), Some("use1"));
        back.check_base(&pj, "use1").unwrap();
        let err = back.check_base(&pj, "use2").unwrap_err().to_string();
        assert!(err.contains("joint") && err.contains("retrain"), "{err}");
        let x = joint_input(&[0.5; 384], Some(&[0.25; 512]));
        assert_eq!((x.len(), x[0], x[384]), (896, 0.5, 0.25));
        assert_eq!(back.predict(&x).neutral, back.predict(&x).negative);
        // A plain head's file has no joint field at all (older engines
        // read it).
        assert!(!std::fs::read_to_string(&p).unwrap().contains("joint"));
        let err = SentimentHead::load(&dir.path().join("none.json"), "abc")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("none.json") && err.contains("setup.sh"),
            "{err}"
        );
    }
}
