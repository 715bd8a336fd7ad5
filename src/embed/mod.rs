//! Embed stage: the text models, run once per conversation before the
//! analysers. Owns `ort` (ONNX Runtime, loaded from
//! `models/libonnxruntime.so`) and `tokenizers`; the rest of callqa sees
//! plain vectors and `domain::Sentiment`.
//!
//! - [`encoder`]: the multilingual sentence encoder (zh + en), batched,
//!   one session per worker thread.
//! - [`head`]: logistic-regression heads on its embeddings; the sentiment
//!   head is trained by `callqa train-sentiment` (see `learn`).
//! - [`stance`]: the clause that carries a speaker's stance ("I'm not
//!   angry, **but please cancel**"), scored separately for anger.
//!
//! Nothing degrades silently: a missing file is an error naming it and the
//! command that provides it; running without the models is `--rules-only`.

pub mod encoder;
pub mod head;
pub mod stance;

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::analyse::TextSignals;
use crate::domain::{Conversation, Speaker};
use crate::error::{Classify, Disposition};
pub use encoder::{Encoder, DIM};
pub use head::{LogReg, SentimentHead};

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("{what} not found: {} — {fix} (or run with --rules-only to skip the text models)", file.display())]
    Missing {
        file: PathBuf,
        what: &'static str,
        fix: &'static str,
    },
    #[error("{}: {message}", file.display())]
    Load { file: PathBuf, message: String },
    #[error("{0}")]
    Runtime(String),
}

impl Classify for EmbedError {
    fn disposition(&self) -> Disposition {
        match self {
            // A model that cannot load will not load on a retry either.
            EmbedError::Missing { .. } | EmbedError::Load { .. } => Disposition::Reject,
            // Inference can fail for want of memory: try again later.
            EmbedError::Runtime(_) => Disposition::Retry,
        }
    }
}

/// Checks a model file exists before a library that would panic on it
/// (ONNX Runtime) or print an opaque error sees it.
pub(crate) fn check_file(path: &Path, what: &'static str) -> Result<(), EmbedError> {
    let fix = if what == "sentiment head" {
        "train it with `callqa train-sentiment` (scripts/setup.sh does this once and caches it)"
    } else {
        "fetch it with scripts/fetch-models.sh"
    };
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() && m.len() > 0 => Ok(()),
        Ok(_) => Err(EmbedError::Load {
            file: path.to_path_buf(),
            message: format!("{what} is empty or not a file — {fix}"),
        }),
        Err(_) => Err(EmbedError::Missing {
            file: path.to_path_buf(),
            what,
            fix,
        }),
    }
}

/// sha256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<String, EmbedError> {
    use sha2::{Digest, Sha256};
    let err = |e: std::io::Error| EmbedError::Load {
        file: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut f = std::fs::File::open(path).map_err(err)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(err)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Where the model files are, under a models directory
/// (`scripts/fetch-models.sh` fills it; `scripts/setup.sh` adds the head).
#[derive(Debug, Clone)]
pub struct ModelPaths {
    pub dir: PathBuf,
}

impl ModelPaths {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ModelPaths { dir: dir.into() }
    }
    pub fn runtime(&self) -> PathBuf {
        self.dir.join("libonnxruntime.so")
    }
    pub fn encoder(&self) -> PathBuf {
        self.dir.join("encoder").join("model.onnx")
    }
    pub fn tokenizer(&self) -> PathBuf {
        self.dir.join("encoder").join("tokenizer.json")
    }
    pub fn sentiment_head(&self) -> PathBuf {
        self.dir.join("sentiment").join("head.json")
    }
}

/// The encoder with its checksum, for provenance and for checking heads.
pub struct LoadedEncoder {
    pub encoder: Encoder,
    pub sha256: String,
}

impl LoadedEncoder {
    pub fn load(paths: &ModelPaths, workers: usize) -> Result<Self, EmbedError> {
        let encoder = Encoder::load(
            &paths.runtime(),
            &paths.encoder(),
            &paths.tokenizer(),
            workers,
        )?;
        let sha256 = sha256_file(&paths.encoder())?;
        Ok(LoadedEncoder { encoder, sha256 })
    }
}

/// Everything the model-based analysers need: loaded once, shared by all
/// workers (`Arc`).
pub struct TextModels {
    encoder: Encoder,
    sentiment: SentimentHead,
    versions: Vec<(String, String)>,
}

impl TextModels {
    /// Loads the encoder (with a session pool of `workers`) and the
    /// sentiment head from a models directory.
    pub fn load(paths: &ModelPaths, workers: usize) -> Result<Self, EmbedError> {
        // Check every file first so the error names the first missing one
        // before anything slow happens.
        check_file(&paths.runtime(), "ONNX Runtime library")?;
        check_file(&paths.encoder(), "sentence encoder")?;
        check_file(&paths.tokenizer(), "encoder tokenizer")?;
        check_file(&paths.sentiment_head(), "sentiment head")?;
        let LoadedEncoder { encoder, sha256 } = LoadedEncoder::load(paths, workers)?;
        let sentiment = SentimentHead::load(&paths.sentiment_head(), &sha256)?;
        let head_sha = sha256_file(&paths.sentiment_head())?;
        let versions = vec![
            (
                "encoder".to_owned(),
                format!("use-multilingual-v3-int8@{}", &sha256[..12]),
            ),
            (
                "sentiment".to_owned(),
                format!("logreg-3class@{}", &head_sha[..12]),
            ),
        ];
        Ok(TextModels {
            encoder,
            sentiment,
            versions,
        })
    }

    pub fn from_parts(encoder: LoadedEncoder, sentiment: SentimentHead) -> Self {
        let versions = vec![(
            "encoder".to_owned(),
            format!(
                "use-multilingual-v3-int8@{}",
                &encoder.sha256[..12.min(encoder.sha256.len())]
            ),
        )];
        TextModels {
            encoder: encoder.encoder,
            sentiment,
            versions,
        }
    }

    /// Model name → identifier (name and checksum prefix), for results.
    pub fn versions(&self) -> &[(String, String)] {
        &self.versions
    }

    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    pub fn sentiment_head(&self) -> &SentimentHead {
        &self.sentiment
    }

    /// Embeds texts in one batch.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.encoder.embed(texts)
    }

    /// Embeddings and sentiment for every turn of a conversation, in one
    /// encoder run: the turns, plus the stance clause of each customer turn
    /// that has one.
    pub fn signals(&self, conv: &Conversation) -> Result<TextSignals, EmbedError> {
        let n = conv.turns.len();
        let mut texts: Vec<&str> = conv.turns.iter().map(|t| t.text.as_str()).collect();
        let mut stance_of: Vec<Option<usize>> = vec![None; n];
        let mut clauses_of: Vec<std::ops::Range<usize>> = vec![0..0; n];
        for (i, t) in conv.turns.iter().enumerate() {
            let cs = stance::clauses(&t.text, conv.language);
            clauses_of[i] = texts.len()..texts.len() + cs.len();
            texts.extend(cs);
            if t.speaker == Speaker::Customer {
                if let Some(c) = stance::stance_clause(&t.text, conv.language) {
                    stance_of[i] = Some(texts.len());
                    texts.push(c);
                }
            }
        }
        let emb = self.encoder.embed(&texts)?;
        let predict = |k: usize| self.sentiment.predict(&emb[k]);
        let sentiment: Vec<_> = (0..n).map(predict).collect();
        let stance = (0..n)
            .map(|i| stance_of[i].map(predict).unwrap_or(sentiment[i]))
            .collect();
        let clauses = clauses_of.iter().map(|r| emb[r.clone()].to_vec()).collect();
        let stance_embeddings = stance_of
            .iter()
            .map(|k| k.map(|k| emb[k].clone()))
            .collect();
        let mut embeddings = emb;
        embeddings.truncate(n);
        Ok(TextSignals {
            embeddings,
            clauses,
            sentiment,
            stance,
            stance_embeddings,
        })
    }
}

/// Cosine similarity of two L2-normalised vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_name_the_file_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let paths = ModelPaths::new(dir.path());
        let err = TextModels::load(&paths, 1).err().unwrap().to_string();
        assert!(err.contains("libonnxruntime.so"), "{err}");
        assert!(err.contains("scripts/fetch-models.sh"), "{err}");
        assert!(err.contains("--rules-only"), "{err}");
        std::fs::write(paths.runtime(), b"").unwrap();
        let err = TextModels::load(&paths, 1).err().unwrap().to_string();
        assert!(err.contains("empty"), "{err}");
    }
}
