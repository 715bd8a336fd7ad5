//! Embed stage: the text models, run once per conversation before the
//! analysers. Owns `ort` (ONNX Runtime, loaded from
//! `models/libonnxruntime.so`) and `tokenizers`; the rest of callqa sees
//! plain vectors and `domain::Sentiment`.
//!
//! - [`encoder`]: the multilingual sentence encoders (zh + en), batched,
//!   one session per worker thread: USE (fast; every turn and clause, for
//!   intents, semantic rules and anger phrases) and multilingual-e5-small
//!   (12 layers; customer turns only, for sentiment, and read beside USE
//!   by the intent head).
//! - [`head`]: logistic-regression heads on the embeddings; the sentiment
//!   head (on e5) is trained by `callqa train-sentiment` (see `learn`).
//! - [`speaker`]: the speaker encoder (GE2E LSTM, 256-d) that mono calls'
//!   speaker separation (`crate::diarize`) runs on.
//! - [`stance`]: the clause that carries a speaker's stance ("I'm not
//!   angry, **but please cancel**"), scored separately for anger.
//!
//! Nothing degrades silently: a missing file is an error naming it and the
//! command that provides it; running without the models is `--rules-only`.

pub mod encoder;
pub mod head;
pub mod speaker;
pub mod stance;

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::analyse::TextSignals;
use crate::domain::{Conversation, Sentiment, Speaker};
use crate::error::{Classify, Disposition};
pub use encoder::{Encoder, Flavour, DIM, E5_DIM};
pub use head::{LogReg, SentimentHead};
pub use speaker::{
    SpeakerEncoder, MEL_BANDS, SEG_FIELD, SEG_HOP, SEG_SPEAKERS, SEG_WINDOW, SPEAKER_DIM,
};

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("{what} not found: {} — {fix}", file.display())]
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
            // The worker's set-up, not the job (as for the speech model):
            // another attempt, or another worker, may succeed once the
            // model is fetched. Text models load when the engine starts;
            // the speaker models on the first mono call.
            EmbedError::Missing { .. } | EmbedError::Load { .. } => Disposition::Retry,
            // Inference can fail for want of memory: try again later.
            EmbedError::Runtime(_) => Disposition::Retry,
        }
    }
}

/// How to provide a missing file, by who needs it: the text models (which
/// `--rules-only` skips), their trained head, or the speaker models (which
/// every mono call needs).
pub(crate) const FETCH_TEXT_MODEL: &str =
    "fetch it with scripts/fetch-models.sh, or run with --rules-only to skip the text models";
pub(crate) const TRAIN_HEAD: &str = "train it with `callqa train-sentiment` (scripts/setup.sh does this once and caches it), or run with --rules-only to skip the text models";
pub(crate) const FETCH_SPEAKER_MODEL: &str =
    "fetch it with scripts/fetch-models.sh (mono calls need it)";

/// Checks a model file exists before a library that would panic on it
/// (ONNX Runtime) or print an opaque error sees it; `fix` says how to get
/// it.
pub(crate) fn check_file(
    path: &Path,
    what: &'static str,
    fix: &'static str,
) -> Result<(), EmbedError> {
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
    /// multilingual-e5-small, the sentiment encoder.
    pub fn e5(&self) -> PathBuf {
        self.dir.join("e5").join("model.onnx")
    }
    pub fn e5_tokenizer(&self) -> PathBuf {
        self.dir.join("e5").join("tokenizer.json")
    }
    /// The model file and tokenizer of a flavour.
    pub fn of(&self, flavour: Flavour) -> (PathBuf, PathBuf) {
        match flavour {
            Flavour::Use => (self.encoder(), self.tokenizer()),
            Flavour::E5 => (self.e5(), self.e5_tokenizer()),
        }
    }
    /// The speaker encoder (mono calls' voices).
    pub fn speaker(&self) -> PathBuf {
        self.dir.join("speaker-ge2e.onnx")
    }

    /// The speaker segmentation model (mono calls' speaker changes).
    pub fn speaker_segmentation(&self) -> PathBuf {
        self.dir.join("speaker-seg.onnx")
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
    pub fn load(paths: &ModelPaths, flavour: Flavour, workers: usize) -> Result<Self, EmbedError> {
        let (model, tokenizer) = paths.of(flavour);
        let encoder = Encoder::load(flavour, &paths.runtime(), &model, &tokenizer, workers)?;
        let sha256 = sha256_file(&model)?;
        Ok(LoadedEncoder { encoder, sha256 })
    }
}

/// Everything the model-based analysers need: loaded once, shared by all
/// workers (`Arc`).
pub struct TextModels {
    encoder: Encoder,
    /// The encoder the sentiment head was trained on (e5 as shipped; USE
    /// for a head trained with `--encoder use`).
    sentiment_encoder: Option<Encoder>,
    sentiment: SentimentHead,
    versions: Vec<(String, String)>,
}

fn version(flavour: Flavour, sha256: &str) -> String {
    format!("{}@{}", flavour.name(), sha256.get(..12).unwrap_or(sha256))
}

impl TextModels {
    /// Loads the encoders (each with a session pool of `workers`) and the
    /// sentiment head from a models directory. The head says which encoder
    /// it was trained on (by checksum): e5 as shipped, or USE.
    pub fn load(paths: &ModelPaths, workers: usize) -> Result<Self, EmbedError> {
        // Check every file first so the error names the first missing one
        // before anything slow happens.
        check_file(&paths.runtime(), "ONNX Runtime library", FETCH_TEXT_MODEL)?;
        check_file(&paths.encoder(), "sentence encoder", FETCH_TEXT_MODEL)?;
        check_file(&paths.tokenizer(), "encoder tokenizer", FETCH_TEXT_MODEL)?;
        check_file(
            &paths.e5(),
            "sentiment encoder (multilingual-e5-small)",
            FETCH_TEXT_MODEL,
        )?;
        check_file(
            &paths.e5_tokenizer(),
            "sentiment encoder tokenizer",
            FETCH_TEXT_MODEL,
        )?;
        check_file(&paths.sentiment_head(), "sentiment head", TRAIN_HEAD)?;
        let base = LoadedEncoder::load(paths, Flavour::Use, workers)?;
        let head_sha = sha256_file(&paths.sentiment_head())?;
        let (sentiment_encoder, sentiment) =
            match SentimentHead::load(&paths.sentiment_head(), &base.sha256) {
                Ok(head) => (None, head),
                Err(_) => {
                    let e5 = LoadedEncoder::load(paths, Flavour::E5, workers)?;
                    let head = SentimentHead::load(&paths.sentiment_head(), &e5.sha256)?;
                    (Some(e5), head)
                }
            };
        sentiment.check_base(&paths.sentiment_head(), &base.sha256)?;
        let mut versions = vec![("encoder".to_owned(), version(Flavour::Use, &base.sha256))];
        if let Some(e5) = &sentiment_encoder {
            versions.push((
                "sentiment_encoder".to_owned(),
                version(Flavour::E5, &e5.sha256),
            ));
        }
        let kind = if sentiment.joint_sha256.is_some() {
            "logreg-3class-joint"
        } else {
            "logreg-3class"
        };
        versions.push((
            "sentiment".to_owned(),
            format!("{kind}@{}", &head_sha[..12]),
        ));
        Ok(TextModels {
            encoder: base.encoder,
            sentiment_encoder: sentiment_encoder.map(|e| e.encoder),
            sentiment,
            versions,
        })
    }

    /// The sentiment encoder when it is not the base one (e5 as shipped):
    /// customer turns have its embeddings too, so intents label in the
    /// joint space of the two (`analyse::intent`).
    pub fn second_encoder(&self) -> Option<&Encoder> {
        self.sentiment_encoder.as_ref()
    }

    /// The encoder sentiment runs on.
    pub fn sentiment_encoder(&self) -> &Encoder {
        self.sentiment_encoder.as_ref().unwrap_or(&self.encoder)
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

    /// The sentiment of each text, as the pipeline scores a customer turn
    /// (both encoders for a joint head).
    pub fn sentiment_of(&self, texts: &[&str]) -> Result<Vec<Sentiment>, EmbedError> {
        let primary = self.sentiment_encoder().embed(texts)?;
        let base = match self.sentiment.joint_sha256 {
            Some(_) => Some(self.encoder.embed(texts)?),
            None => None,
        };
        Ok(primary
            .iter()
            .enumerate()
            .map(|(i, v)| self.predict_sentiment(v, || base.as_ref().map_or(&[][..], |b| &b[i])))
            .collect())
    }

    /// The head's verdict from a text's sentiment-encoder embedding, with
    /// its base-encoder embedding (`base`, asked for only by a joint head).
    fn predict_sentiment<'a>(
        &self,
        primary: &[f32],
        base: impl FnOnce() -> &'a [f32],
    ) -> Sentiment {
        let base = self.sentiment.joint_sha256.as_ref().map(|_| base());
        self.sentiment.predict(&head::joint_input(primary, base))
    }

    /// Embeds texts in one batch.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.encoder.embed(texts)
    }

    /// Embeddings of every turn of a conversation and the sentiment of its
    /// customer turns: one USE run over the turns, their clauses and the
    /// stance clause of each customer turn that has one; the sentiment
    /// encoder over the customer turns and their stance clauses, in runs of
    /// similar length (none when the head is on USE). Agent turns get no
    /// sentiment: the heads learnt from reviews and tweets, where "how can
    /// I help you?" reads as a complaint, and an agent's mood is not what
    /// QA asks about.
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
        let customer: Vec<usize> = (0..n)
            .filter(|&i| conv.turns[i].speaker == Speaker::Customer)
            .collect();
        // Which texts the sentiment head reads: customer turns and their
        // stance clauses, embedded by the sentiment encoder.
        let wanted: Vec<usize> = customer
            .iter()
            .copied()
            .chain(customer.iter().filter_map(|&i| stance_of[i]))
            .collect();
        let sent_emb: std::collections::HashMap<usize, Vec<f32>> = match &self.sentiment_encoder {
            Some(e5) => {
                let t: Vec<&str> = wanted.iter().map(|&k| texts[k]).collect();
                wanted.iter().copied().zip(e5.embed(&t)?).collect()
            }
            None => wanted.iter().map(|&k| (k, emb[k].clone())).collect(),
        };
        let predict = |k: usize| {
            sent_emb
                .get(&k)
                .map(|v| self.predict_sentiment(v, || emb[k].as_slice()))
        };
        let sentiment: Vec<Option<Sentiment>> = (0..n).map(predict).collect();
        let stance = (0..n)
            .map(|i| stance_of[i].and_then(predict).or(sentiment[i]))
            .collect();
        let clauses = clauses_of.iter().map(|r| emb[r.clone()].to_vec()).collect();
        let stance_embeddings = stance_of
            .iter()
            .map(|k| k.map(|k| emb[k].clone()))
            .collect();
        let sentiment_embeddings = (0..n).map(|i| sent_emb.get(&i).cloned()).collect();
        let mut embeddings = emb;
        embeddings.truncate(n);
        Ok(TextSignals {
            embeddings,
            clauses,
            sentiment,
            stance,
            stance_embeddings,
            sentiment_embeddings,
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
