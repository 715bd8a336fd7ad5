//! The multilingual sentence encoders on ONNX Runtime: tokenise with the
//! `tokenizers` crate, shape a batch as the graph wants it, run one
//! session, return one L2-normalised vector per text. Two flavours:
//!
//! - [`Flavour::Use`]: Universal Sentence Encoder multilingual v3 (int8,
//!   512-d, 3 layers), fast; its batch is ragged (all ids concatenated plus
//!   `row_splits`). Used for clauses, semantic rules and intents.
//! - [`Flavour::E5`]: multilingual-e5-small (int8, 384-d, 12 layers), about
//!   a tenth of the speed and markedly better at sentiment; padded batches
//!   (`input_ids`, `attention_mask`) of texts of similar length
//!   ([`buckets`]), every text prefixed `query: `. Used for the sentiment
//!   of customer turns.
//!
//! `Session::run` takes `&mut self`, so sessions live in a small pool: a
//! caller takes one, runs a whole batch (every utterance of a
//! conversation) and gives it back. Sessions are created lazily up to the
//! pool size, each with one intra-op thread, so parallelism comes from
//! running conversations side by side, as the pipeline does.

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, OnceLock};

use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::Tensor;
use tokenizers::Tokenizer;

use super::{check_file, EmbedError};

/// Dimension of the USE encoder's output.
pub const DIM: usize = 512;
/// Dimension of multilingual-e5-small's output.
pub const E5_DIM: usize = 384;

/// Which encoder a model file is: decides tokenising, batching and output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Use,
    E5,
}

impl std::str::FromStr for Flavour {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "use" => Ok(Flavour::Use),
            "e5" => Ok(Flavour::E5),
            _ => Err(format!("unknown encoder {s:?} (use, e5)")),
        }
    }
}

impl Flavour {
    pub fn dim(self) -> usize {
        match self {
            Flavour::Use => DIM,
            Flavour::E5 => E5_DIM,
        }
    }

    /// The name recorded in results' `versions.models`.
    pub fn name(self) -> &'static str {
        match self {
            Flavour::Use => "use-multilingual-v3-int8",
            Flavour::E5 => "multilingual-e5-small-int8",
        }
    }

    /// What the model was trained to see before a text (e5: `query: ` for
    /// symmetric tasks such as classification).
    fn prefix(self) -> &'static str {
        match self {
            Flavour::Use => "",
            Flavour::E5 => "query: ",
        }
    }
}

/// Most tokens kept per text (plus `<s>` and `</s>`): longer texts are cut,
/// which bounds the cost of a pasted document in a chat.
pub const MAX_TOKENS: usize = 254;

const BOS: u32 = 1;
const EOS: u32 = 2;

/// ONNX Runtime allows one environment per process; every encoder shares it.
static ENVIRONMENT: OnceLock<Mutex<Option<(PathBuf, Environment)>>> = OnceLock::new();

/// The process's one ONNX Runtime environment, loaded from `runtime` the
/// first time (the same library, however the path is spelt, afterwards).
pub(super) fn environment(runtime: &Path) -> Result<Environment, EmbedError> {
    let runtime = &std::fs::canonicalize(runtime).map_err(|e| EmbedError::Load {
        file: runtime.to_path_buf(),
        message: e.to_string(),
    })?;
    let cell = ENVIRONMENT.get_or_init(|| Mutex::new(None));
    let mut guard = cell
        .lock()
        .map_err(|_| EmbedError::Runtime("ONNX Runtime environment lock poisoned".into()))?;
    if let Some((path, env)) = guard.as_ref() {
        if path != runtime {
            return Err(EmbedError::Runtime(format!(
                "ONNX Runtime is already loaded from {} in this process; cannot also load {}",
                path.display(),
                runtime.display()
            )));
        }
        return Ok(env.clone());
    }
    let env = ort::init_from(runtime)
        .map_err(|e| EmbedError::Load {
            file: runtime.to_path_buf(),
            message: e.to_string(),
        })?
        .with_name("callqa")
        .build()
        .map_err(|e| EmbedError::Load {
            file: runtime.to_path_buf(),
            message: e.to_string(),
        })?;
    *guard = Some((runtime.to_path_buf(), env.clone()));
    Ok(env)
}

/// A session on `model` with one intra-op and one inter-op thread
/// (parallelism comes from running conversations side by side).
pub(super) fn session(env: &Environment, model: &Path) -> Result<Session, EmbedError> {
    let load = |message: String| EmbedError::Load {
        file: model.to_path_buf(),
        message,
    };
    // Builder errors carry the builder and are neither Send nor Sync:
    // keep only their message.
    Session::builder(env)
        .map_err(|e| load(e.to_string()))?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| load(e.to_string()))?
        .with_intra_threads(1)
        .map_err(|e| load(e.to_string()))?
        .with_inter_threads(1)
        .map_err(|e| load(e.to_string()))?
        .commit_from_file(model)
        .map_err(|e| load(e.to_string()))
}

/// A padded batch as a BERT-style graph takes it (`[batch, len]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Padded {
    pub input_ids: Vec<i64>,
    pub attention_mask: Vec<i64>,
    pub len: usize,
}

/// Most tokens kept per text for e5 (plus `<s>` and `</s>`): 12 layers
/// cost 10× USE per token, and a customer turn's sentiment shows well
/// before its 127th token.
pub const E5_MAX_TOKENS: usize = 126;

/// How texts are cut before encoding (both encoders): part of the key of
/// cached embeddings, so changing the cut never reads stale vectors. Bump
/// it whenever `pad`, `pack` or their limits change.
pub const INPUT_FORM: &str = "use-254-head;e5-126-head";

/// e5's `<pad>` id (XLM-R vocabulary: `<s>` 0, `<pad>` 1, `</s>` 2).
const E5_PAD: i64 = 1;
const E5_EOS: u32 = 2;

/// Pads per-text ids (each already wrapped as `<s> … </s>`) to the longest,
/// cutting over-long texts to `E5_MAX_TOKENS + 2` while keeping their `</s>`.
/// (Keeping head and tail instead was measured and gained nothing: see
/// docs/models.md.)
pub fn pad<T: AsRef<[u32]>>(texts: &[T]) -> Padded {
    let cut = |ids: &T| -> Vec<u32> {
        let ids = ids.as_ref();
        if ids.len() > e5_len(ids.len()) {
            let mut c = ids[..E5_MAX_TOKENS + 1].to_vec();
            c.push(E5_EOS);
            c
        } else {
            ids.to_vec()
        }
    };
    let rows: Vec<Vec<u32>> = texts.iter().map(cut).collect();
    let len = rows.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let mut input_ids = vec![E5_PAD; rows.len() * len];
    let mut attention_mask = vec![0i64; rows.len() * len];
    for (r, ids) in rows.iter().enumerate() {
        for (c, &id) in ids.iter().enumerate() {
            input_ids[r * len + c] = i64::from(id);
            attention_mask[r * len + c] = 1;
        }
    }
    Padded {
        input_ids,
        attention_mask,
        len,
    }
}

/// How many of a text's `n` ids (with `<s>` and `</s>`) e5 reads after
/// `pad` has cut it.
fn e5_len(n: usize) -> usize {
    n.min(E5_MAX_TOKENS + 2)
}

/// A batch as the USE graph takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Packed {
    /// Every text's ids, concatenated.
    pub input_ids: Vec<i32>,
    /// `[0, len0, len0+len1, …]`: `batch + 1` entries.
    pub row_splits: Vec<i64>,
}

/// Packs per-text token ids (each already wrapped as `1 … 2`) into the
/// graph's ragged form, cutting over-long texts to `MAX_TOKENS` while
/// keeping their closing `</s>`.
pub fn pack(texts: &[Vec<u32>]) -> Packed {
    let mut input_ids = Vec::with_capacity(texts.iter().map(|t| t.len()).sum());
    let mut row_splits = Vec::with_capacity(texts.len() + 1);
    row_splits.push(0i64);
    for ids in texts {
        let keep = if ids.len() > MAX_TOKENS + 2 {
            let mut cut: Vec<u32> = ids[..MAX_TOKENS + 1].to_vec();
            cut.push(EOS);
            cut
        } else if ids.is_empty() {
            vec![BOS, EOS]
        } else {
            ids.clone()
        };
        input_ids.extend(keep.iter().map(|&i| i as i32));
        row_splits.push(input_ids.len() as i64);
    }
    Packed {
        input_ids,
        row_splits,
    }
}

struct Pool {
    idle: Vec<Session>,
    created: usize,
}

pub struct Encoder {
    flavour: Flavour,
    env: Environment,
    model: PathBuf,
    tokenizer: Tokenizer,
    pool: Mutex<Pool>,
    returned: Condvar,
    max_sessions: usize,
}

impl Encoder {
    /// Loads the runtime library, the tokenizer and one session (so a bad
    /// model fails here, not on the first job). `max_sessions` bounds the
    /// pool: one per worker thread.
    pub fn load(
        flavour: Flavour,
        runtime: &Path,
        model: &Path,
        tokenizer: &Path,
        max_sessions: usize,
    ) -> Result<Self, EmbedError> {
        check_file(runtime, "ONNX Runtime library", super::FETCH_TEXT_MODEL)?;
        check_file(model, "sentence encoder", super::FETCH_TEXT_MODEL)?;
        check_file(tokenizer, "encoder tokenizer", super::FETCH_TEXT_MODEL)?;
        let env = environment(runtime)?;
        let tok = Tokenizer::from_file(tokenizer).map_err(|e| EmbedError::Load {
            file: tokenizer.to_path_buf(),
            message: e.to_string(),
        })?;
        let enc = Encoder {
            flavour,
            env,
            model: model.to_path_buf(),
            tokenizer: tok,
            pool: Mutex::new(Pool {
                idle: Vec::new(),
                created: 0,
            }),
            returned: Condvar::new(),
            max_sessions: max_sessions.max(1),
        };
        let first = enc.new_session()?;
        enc.lock()?.idle.push(first);
        enc.lock()?.created = 1;
        Ok(enc)
    }

    fn new_session(&self) -> Result<Session, EmbedError> {
        session(&self.env, &self.model)
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Pool>, EmbedError> {
        self.pool
            .lock()
            .map_err(|_| EmbedError::Runtime("encoder session pool lock poisoned".into()))
    }

    /// Takes an idle session, creates one if the pool is not full, or
    /// waits for one to come back.
    fn take(&self) -> Result<Session, EmbedError> {
        let mut pool = self.lock()?;
        loop {
            if let Some(s) = pool.idle.pop() {
                return Ok(s);
            }
            if pool.created < self.max_sessions {
                pool.created += 1;
                drop(pool);
                return self.new_session().inspect_err(|_| {
                    if let Ok(mut p) = self.lock() {
                        p.created -= 1;
                    }
                });
            }
            pool = self
                .returned
                .wait(pool)
                .map_err(|_| EmbedError::Runtime("encoder session pool lock poisoned".into()))?;
        }
    }

    fn give_back(&self, s: Session) {
        if let Ok(mut p) = self.lock() {
            p.idle.push(s);
        }
        self.returned.notify_one();
    }

    pub fn flavour(&self) -> Flavour {
        self.flavour
    }

    /// Length of the vectors this encoder returns.
    pub fn dim(&self) -> usize {
        self.flavour.dim()
    }

    /// Token ids of one text (with the flavour's prefix), wrapped as
    /// `<s> … </s>`.
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>, EmbedError> {
        let prefix = self.flavour.prefix();
        let encoded = if prefix.is_empty() {
            self.tokenizer.encode(text, true)
        } else {
            self.tokenizer.encode(format!("{prefix}{text}"), true)
        };
        encoded
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| EmbedError::Runtime(format!("tokenizer: {e}")))
    }

    /// Embeds texts on one session: one run for USE (ragged), runs of
    /// similar-length texts for e5 ([`buckets`]).
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let ids = texts
            .iter()
            .map(|t| self.tokenize(t))
            .collect::<Result<Vec<_>, _>>()?;
        let mut session = self.take()?;
        let out = match self.flavour {
            Flavour::Use => run(&mut session, pack(&ids), texts.len()),
            Flavour::E5 => run_buckets(&mut session, &ids),
        };
        self.give_back(session);
        out
    }

    /// Embeds many texts in chunks, on up to `threads` sessions at once
    /// (training and evaluation; a job uses `embed`). Chunks hold texts of
    /// similar length, so a padded batch wastes little; the result is in
    /// the order of `texts`.
    pub fn embed_many(
        &self,
        texts: &[&str],
        chunk: usize,
        threads: usize,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| (texts[i].len(), i));
        let sorted: Vec<&str> = order.iter().map(|&i| texts[i]).collect();
        let embedded = self.embed_chunks(&sorted, chunk, threads, progress)?;
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for (v, &i) in embedded.into_iter().zip(&order) {
            out[i] = v;
        }
        Ok(out)
    }

    fn embed_chunks(
        &self,
        texts: &[&str],
        chunk: usize,
        threads: usize,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let chunks: Vec<&[&str]> = texts.chunks(chunk.max(1)).collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let results: Mutex<Vec<Option<Vec<Vec<f32>>>>> = Mutex::new(vec![None; chunks.len()]);
        let failed: Mutex<Option<EmbedError>> = Mutex::new(None);
        std::thread::scope(|s| {
            for _ in 0..threads.max(1) {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= chunks.len() {
                        break;
                    }
                    if failed.lock().map(|f| f.is_some()).unwrap_or(true) {
                        break;
                    }
                    match self.embed(chunks[i]) {
                        Ok(v) => {
                            if let Ok(mut r) = results.lock() {
                                r[i] = Some(v);
                            }
                            progress(chunks[i].len());
                        }
                        Err(e) => {
                            if let Ok(mut f) = failed.lock() {
                                f.get_or_insert(e);
                            }
                            break;
                        }
                    }
                });
            }
        });
        if let Some(e) = failed.into_inner().ok().flatten() {
            return Err(e);
        }
        let results = results
            .into_inner()
            .map_err(|_| EmbedError::Runtime("embedding worker panicked".into()))?;
        let mut out = Vec::with_capacity(texts.len());
        for r in results {
            out.extend(r.ok_or_else(|| EmbedError::Runtime("embedding chunk missing".into()))?);
        }
        Ok(out)
    }
}

fn run(session: &mut Session, packed: Packed, batch: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
    let rt = |e: ort::Error| EmbedError::Runtime(format!("encoder: {e}"));
    let n = packed.input_ids.len();
    let ids = Tensor::from_array(([n], packed.input_ids)).map_err(rt)?;
    let splits = Tensor::from_array(([batch + 1], packed.row_splits)).map_err(rt)?;
    let outputs = session
        .run(ort::inputs!["input_ids" => ids, "row_splits" => splits])
        .map_err(rt)?;
    rows(&outputs, "embeddings", batch, &[DIM], "encoder")
}

/// Output `name` of a run as `batch` rows, each of shape `row` (flattened),
/// checked against `[batch, row…]`; `what` names the model in errors.
pub(super) fn rows(
    outputs: &ort::session::SessionOutputs<'_>,
    name: &str,
    batch: usize,
    row: &[usize],
    what: &str,
) -> Result<Vec<Vec<f32>>, EmbedError> {
    let value = outputs
        .get(name)
        .ok_or_else(|| EmbedError::Runtime(format!("{what} has no output named `{name}`")))?;
    let (shape, data) = value
        .try_extract_tensor::<f32>()
        .map_err(|e| EmbedError::Runtime(format!("{what}: {e}")))?;
    let dims: Vec<i64> = shape.iter().copied().collect();
    let want: Vec<i64> = std::iter::once(batch)
        .chain(row.iter().copied())
        .map(|d| d as i64)
        .collect();
    if dims != want {
        return Err(EmbedError::Runtime(format!(
            "{what} returned shape {dims:?}, expected {want:?}"
        )));
    }
    let len = row.iter().product::<usize>().max(1);
    Ok(data.chunks(len).map(<[f32]>::to_vec).collect())
}

/// What one more run of the e5 graph costs, in padded token positions:
/// on this machine a run of one short text takes 3.6–3.8 ms
/// (`benches/embed.rs`, `e5_encoder_one_short_text`) and ten 25–30-token
/// turns about 60 ms in one run (≈ 0.2 ms a position), so a run's own cost
/// (≈ 3 ms) is that of about 16 token positions.
const RUN_COST_TOKENS: usize = 16;

/// Splits texts sorted by length (`lens`, ascending) into consecutive
/// batches so that padding plus the runs' own cost is least: the cost of a
/// batch is its rows × its longest text + `RUN_COST_TOKENS`. Exact (dynamic
/// programming over the split points); a conversation has tens of texts.
pub fn buckets(lens: &[usize]) -> Vec<std::ops::Range<usize>> {
    let n = lens.len();
    // best[j]: least cost of the first j texts; from[j]: where its last
    // batch starts.
    let mut best = vec![0usize; n + 1];
    let mut from = vec![0usize; n + 1];
    for j in 1..=n {
        best[j] = usize::MAX;
        for i in 0..j {
            let cost = best[i] + (j - i) * lens[j - 1] + RUN_COST_TOKENS;
            if cost < best[j] {
                best[j] = cost;
                from[j] = i;
            }
        }
    }
    let mut out = Vec::new();
    let mut j = n;
    while j > 0 {
        out.push(from[j]..j);
        j = from[j];
    }
    out.reverse();
    out
}

/// Runs e5 over texts of mixed lengths (a conversation's customer turns
/// and their short stance clauses) in batches of similar length, so short
/// texts are not padded to the longest; the result is in the order of
/// `ids`.
fn run_buckets(session: &mut Session, ids: &[Vec<u32>]) -> Result<Vec<Vec<f32>>, EmbedError> {
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&i| (e5_len(ids[i].len()), i));
    let lens: Vec<usize> = order.iter().map(|&i| e5_len(ids[i].len())).collect();
    let mut out: Vec<Vec<f32>> = vec![Vec::new(); ids.len()];
    for b in buckets(&lens) {
        let batch: Vec<&[u32]> = order[b.clone()]
            .iter()
            .map(|&i| ids[i].as_slice())
            .collect();
        let rows = run_padded(session, pad(&batch), batch.len())?;
        for (v, &i) in rows.into_iter().zip(&order[b]) {
            out[i] = v;
        }
    }
    Ok(out)
}

fn run_padded(
    session: &mut Session,
    padded: Padded,
    batch: usize,
) -> Result<Vec<Vec<f32>>, EmbedError> {
    let rt = |e: ort::Error| EmbedError::Runtime(format!("encoder: {e}"));
    let shape = [batch, padded.len];
    let ids = Tensor::from_array((shape, padded.input_ids)).map_err(rt)?;
    let mask = Tensor::from_array((shape, padded.attention_mask)).map_err(rt)?;
    let outputs = session
        .run(ort::inputs!["input_ids" => ids, "attention_mask" => mask])
        .map_err(rt)?;
    rows(&outputs, "sentence_embedding", batch, &[E5_DIM], "encoder")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_concatenates_ids_and_counts_row_splits() {
        let p = pack(&[vec![1, 10, 11, 2], vec![1, 2], vec![1, 7, 2]]);
        assert_eq!(p.input_ids, vec![1, 10, 11, 2, 1, 2, 1, 7, 2]);
        assert_eq!(p.row_splits, vec![0, 4, 6, 9]);
    }

    #[test]
    fn pack_cuts_long_texts_but_keeps_the_closing_id() {
        let long: Vec<u32> = std::iter::once(1)
            .chain(100..100 + 1000)
            .chain(std::iter::once(2))
            .collect();
        let p = pack(&[long, vec![]]);
        assert_eq!(
            p.row_splits,
            vec![0, (MAX_TOKENS + 2) as i64, (MAX_TOKENS + 4) as i64]
        );
        assert_eq!(p.input_ids[MAX_TOKENS + 1], 2);
        assert_eq!(p.input_ids[0], 1);
        // An empty text still gets <s> </s>.
        assert_eq!(&p.input_ids[MAX_TOKENS + 2..], &[1, 2]);
    }

    #[test]
    fn pad_fills_with_pad_ids_and_masks_them_out() {
        let p = pad(&[vec![0, 10, 11, 2], vec![0, 2]]);
        assert_eq!(p.len, 4);
        assert_eq!(p.input_ids, vec![0, 10, 11, 2, 0, 2, 1, 1]);
        assert_eq!(p.attention_mask, vec![1, 1, 1, 1, 1, 1, 0, 0]);
        let long: Vec<u32> = std::iter::once(0)
            .chain(100..1100)
            .chain(std::iter::once(2))
            .collect();
        let p = pad(&[long]);
        assert_eq!(p.len, E5_MAX_TOKENS + 2);
        assert_eq!(p.input_ids[E5_MAX_TOKENS + 1], 2, "keeps </s>");
        assert_eq!(p.input_ids[0], 0, "keeps <s>");
        assert_eq!(p.input_ids[E5_MAX_TOKENS], 100 + E5_MAX_TOKENS as i64 - 1);
    }

    #[test]
    fn buckets_keep_similar_lengths_together() {
        // Ten turns of ~30 tokens and five clauses of ~12: two runs, not
        // five clauses padded to 31.
        let mut lens = vec![11, 12, 12, 13, 14];
        lens.extend([28, 29, 29, 30, 30, 30, 31, 31, 31, 31]);
        assert_eq!(buckets(&lens), vec![0..5, 5..15]);
        // Equal lengths: one run.
        assert_eq!(buckets(&[20; 6]), vec![0..6]);
        // A single long text among short ones runs alone.
        assert_eq!(buckets(&[5, 5, 6, 120]), vec![0..3, 3..4]);
        assert!(buckets(&[]).is_empty());
    }

    #[test]
    fn pack_of_nothing_is_a_single_zero_split() {
        let p = pack(&[]);
        assert!(p.input_ids.is_empty());
        assert_eq!(p.row_splits, vec![0]);
    }
}
