//! Transcribe: decoded audio (16 kHz mono PCM per channel) → utterances
//! with speaker, time span and text, plus the speech timeline the acoustic
//! analysers read.
//!
//! Per channel: voice activity detection ([`vad`]) finds the speech; only
//! speech goes to Whisper, packed into windows ([`chunk`]) so that silence
//! costs nothing and cannot be "transcribed"; recognised text is cleaned of
//! Whisper's known inventions ([`clean`]). A stereo call has one speaker
//! per channel (the job's channel map); a mono call is transcribed once and
//! its utterances labelled by [`roles`] (the pipeline supplies the cues).
//!
//! This module owns whisper-rs: one model (`WhisperContext`) is loaded and
//! shared; each window is decoded in a fresh `WhisperState`, so a
//! recording's transcript never depends on what was decoded before it.
//! [`budget`] bounds the work of every call.

mod budget;
pub mod chunk;
mod clean;
pub mod echo;
pub mod roles;
pub mod vad;

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use std::sync::OnceLock;

use whisper_rs::{
    DtwMode, DtwModelPreset, DtwParameters, FullParams, SamplingStrategy, WhisperContext,
    WhisperContextParameters, WhisperSegment, WhisperState,
};

use crate::decode::{Audio, Pcm16k};
use crate::domain::{
    Attribution, ChannelMap, Language, LanguageChoice, Span, Speaker, SpeechTimeline,
};
use crate::error::{Classify, Disposition};
pub use vad::VadOptions;

/// `[asr]`: speech recognition settings.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AsrOptions {
    /// Whisper model (whisper.cpp ggml file) for every language; relative
    /// paths are inside the model directory. `ggml-base-q8_0.bin` (Whisper
    /// base with 8-bit weights, chosen from the figures in docs/calls.md)
    /// is multilingual (zh + en). Env: CALLQA_ASR_MODEL.
    pub model: PathBuf,
    /// Optional English-only model used for jobs whose language is `en`
    /// (`ggml-tiny.en.bin`: about 3× faster, less accurate); empty: use
    /// `model` for everything. Env: CALLQA_ASR_ENGLISH_MODEL.
    pub english_model: PathBuf,
    /// Whisper threads per window decoded (0: CPU cores ÷ (jobs at once ×
    /// 2), at least 1, so that a stereo call's two sides decode at once;
    /// 1 on a 2-core machine). More than one thread per window costs CPU
    /// whenever the machine is busier than callqa thinks: whisper.cpp's
    /// threads wait for each other at every step by spinning, and a thread
    /// that waits for one the system has not scheduled burns its time
    /// slice (the per-job CPU budget counts that time). With 0, a job
    /// transcribing alone whose longest window outweighs the rest decodes
    /// its windows in turn on every core (`Transcriber::split_cores`).
    /// Env: CALLQA_ASR_THREADS.
    pub threads: usize,
    /// Longest recording accepted, in seconds; longer ones are rejected
    /// before they are decoded in full.
    pub max_duration_s: f64,
    /// Language of a call with `"language": "auto"` whose speech is too
    /// little to detect one from.
    pub fallback_language: Language,
    /// Voice activity detection.
    pub vad: VadOptions,
    /// Beam width of the first decoding pass (0: greedy, the fastest).
    pub beam_size: usize,
    /// Beam width of the one deterministic re-decoding of a window whose
    /// text the recognizer scored as unlikely (0: none).
    pub fallback_beam_size: usize,
    /// Prompt Whisper with an instruction (Mandarin: simplified
    /// characters) and the pack's vocabulary.
    pub prompt: bool,
    /// Shrink the encoder's context to the window's length instead of
    /// Whisper's fixed 30 s (faster on short windows, slightly less
    /// accurate).
    pub shrink_audio_ctx: bool,
    /// With `shrink_audio_ctx`: the encoder's context never shorter than
    /// this many seconds. Whisper was trained on 30 s; 10 s cut English
    /// telephone WER on real speech from 15.5 to 13.0 % for about 6 % more
    /// CPU on the English sample call and 2 % on the Mandarin one, whose
    /// windows are mostly longer (docs/calls.md, "Encoder context floor").
    pub min_audio_ctx_s: f64,
    /// Below 28: a call with little speech is cut into windows of about an
    /// equal share per decoding thread, none shorter than this many
    /// seconds, so that both sides of a short call keep every core busy.
    /// Off by default (28: a window holds up to 28 s of a channel's
    /// speech): the context Whisper loses costs English accuracy
    /// (docs/calls.md).
    pub min_window_s: f64,
    /// Let Whisper emit timestamp tokens and decode a window in several
    /// passes (off: one pass per window, text tokens only, timed by the
    /// alignment (DTW) — faster, and immune to whisper.cpp's abort on a
    /// final pass under 0.15 s).
    pub timestamps: bool,
    /// Tokens one decoding pass may produce per second of speech in its
    /// window (plus 16): a decoding loop stops there.
    pub tokens_per_second: f64,
    /// A job's recognition may use at most this many CPU seconds per
    /// second of recording (at least `min_budget_s`), whichever threads
    /// decode it; speech not transcribed by then is reported as unclear.
    /// CPU time, not wall time: a busy machine does not cut transcripts.
    pub max_cost_factor: f64,
    pub min_budget_s: f64,
    /// Text whose mean token log-probability is below this is not trusted:
    /// it is left out of the transcript and its time counts as unclear
    /// speech (never as silence).
    pub min_avg_logprob: f32,
    /// `[asr.diarize]`: telling the voices of a mono call apart.
    pub diarize: crate::diarize::DiarizeOptions,
}

impl Default for AsrOptions {
    fn default() -> Self {
        AsrOptions {
            model: PathBuf::from("ggml-base-q8_0.bin"),
            english_model: PathBuf::new(),
            threads: 0,
            max_duration_s: 4.0 * 3600.0,
            fallback_language: Language::Zh,
            vad: VadOptions::default(),
            beam_size: 0,
            fallback_beam_size: 3,
            prompt: true,
            shrink_audio_ctx: true,
            min_audio_ctx_s: 10.0,
            min_window_s: chunk::MAX_WINDOW_S,
            timestamps: false,
            tokens_per_second: 10.0,
            max_cost_factor: 1.0,
            min_budget_s: 20.0,
            min_avg_logprob: -1.2,
            diarize: Default::default(),
        }
    }
}

impl AsrOptions {
    fn resolve(models_dir: &Path, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            models_dir.join(p)
        }
    }

    /// The model files these options name, inside `models_dir`.
    pub fn model_paths(&self, models_dir: &Path) -> Vec<PathBuf> {
        let mut v = vec![Self::resolve(models_dir, &self.model)];
        if !self.english_model.as_os_str().is_empty() {
            v.push(Self::resolve(models_dir, &self.english_model));
        }
        v
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    #[error("Whisper model {path} is missing: run scripts/fetch-models.sh --only whisper")]
    ModelMissing { path: String },
    #[error("cannot load Whisper model {path}: {message}")]
    ModelLoad { path: String, message: String },
    #[error("the channel map puts the {role} on channel {channel}, but the recording has {count} channel(s)")]
    ChannelMissing {
        role: &'static str,
        channel: usize,
        count: usize,
    },
    #[error("the recording has no audio channels")]
    NoChannels,
    #[error("the model {model} is English-only and cannot transcribe Chinese; use a multilingual model ([asr] model = \"ggml-base-q8_0.bin\")")]
    EnglishOnly { model: String },
    #[error("Whisper failed on this recording: {0}")]
    Whisper(String),
}

impl Classify for TranscribeError {
    fn disposition(&self) -> Disposition {
        match self {
            // The worker's set-up, not the job: another attempt (or another
            // worker) may succeed once it is fixed.
            TranscribeError::ModelMissing { .. } | TranscribeError::ModelLoad { .. } => {
                Disposition::Retry
            }
            _ => Disposition::Reject,
        }
    }
}

/// One utterance: a stretch of speech between pauses, on one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Utterance {
    /// Known from the channel; `None` on a mixed recording until roles are
    /// inferred.
    pub speaker: Option<Speaker>,
    pub span: Span,
    pub text: String,
    /// The recognised characters (before cleaning) with the recording time
    /// of the token each began in; `text` is placed in time by aligning
    /// with them ([`align_clock`]).
    pub timed: Vec<(char, f64)>,
    /// On a mixed recording, the voice speaking (0 or 1) when
    /// `crate::diarize` could tell two voices apart.
    pub voice: Option<usize>,
}

/// A call's transcript before it becomes a conversation.
#[derive(Debug, Clone)]
pub struct Transcript {
    pub language: Language,
    pub attribution: Attribution,
    /// In time order.
    pub utterances: Vec<Utterance>,
    /// Speech that produced words, per speaker (or mixed).
    pub timeline: SpeechTimeline,
    pub duration: f64,
    /// Speech regions whose text was dropped as invented or empty.
    pub dropped: usize,
    /// Phrases repeated in a loop that were collapsed.
    pub collapsed: usize,
    /// Facts a reviewer should know (e.g. identical channels treated as one).
    pub notes: Vec<String>,
    /// How much of the speech was recognised with confidence.
    pub quality: Quality,
}

/// What recognition made of a call's speech: the figures that say whether
/// its transcript can be scored.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Quality {
    /// Seconds of speech found by voice activity detection.
    pub speech_s: f64,
    /// Seconds of that speech whose text was not trusted (scored as
    /// unlikely, a decoding loop, prompt echo) or not transcribed within
    /// the budget.
    pub unclear_s: f64,
    /// Windows decoded, and windows cut short or skipped by the budget.
    pub windows: usize,
    pub cut_short: usize,
    /// Windows decoded a second time with beam search.
    pub redecoded: usize,
    /// Stretches of prompt echo removed.
    pub echoes: usize,
}

impl Quality {
    /// Share of the speech that was not recognised with confidence.
    pub fn unclear_share(&self) -> f64 {
        if self.speech_s > 0.0 {
            (self.unclear_s / self.speech_s).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

/// A turn made from utterances, before it becomes a domain [`Turn`](crate::domain::Turn).
#[derive(Debug, Clone, PartialEq)]
pub struct TurnDraft {
    pub speaker: Speaker,
    pub start: f64,
    pub end: f64,
    pub text: String,
    /// `(character index in text, seconds)`: see [`align_clock`].
    pub clock: Vec<(usize, f64)>,
}

impl Transcript {
    /// Turns from utterances whose speakers are known: consecutive
    /// utterances of one speaker with a short pause between them (and
    /// nobody else speaking) become one turn.
    pub fn turns(&self, speakers: &[Speaker]) -> Vec<TurnDraft> {
        const JOIN_GAP_S: f64 = 1.5;
        let mut out: Vec<TurnDraft> = Vec::new();
        for (u, &s) in self.utterances.iter().zip(speakers) {
            let clock = align_clock(&u.text, &u.timed);
            if let Some(last) = out.last_mut() {
                if last.speaker == s && u.span.start - last.end <= JOIN_GAP_S {
                    last.end = last.end.max(u.span.end);
                    if self.language != Language::Zh {
                        last.text.push(' ');
                    }
                    let offset = last.text.chars().count();
                    last.text.push_str(&u.text);
                    last.clock
                        .extend(clock.into_iter().map(|(i, t)| (i + offset, t)));
                    continue;
                }
            }
            out.push(TurnDraft {
                speaker: s,
                start: u.span.start,
                end: u.span.end,
                text: u.text.clone(),
                clock,
            });
        }
        out
    }
}

/// How far ahead (in recognised characters) a character of the final text
/// is looked for: cleaning removes loops and echoes, rarely more.
const CLOCK_LOOKAHEAD: usize = 48;

/// Times for the letters and digits of `text` (the utterance after
/// cleaning, echo removal and tidying) from the recognised characters they
/// came from: each is matched, in order, with the next equal character
/// (ignoring case) among the next few recognised ones. Characters that
/// cannot be matched get no time. Times never decrease.
pub fn align_clock(text: &str, timed: &[(char, f64)]) -> Vec<(usize, f64)> {
    let fold = |c: char| c.to_lowercase().next().unwrap_or(c);
    let mut out = Vec::new();
    let mut j = 0usize;
    let mut last = f64::NEG_INFINITY;
    for (i, c) in text.chars().enumerate() {
        if !c.is_alphanumeric() {
            continue;
        }
        let c = fold(c);
        let end = timed.len().min(j + CLOCK_LOOKAHEAD);
        if let Some(k) = (j..end).find(|&k| fold(timed[k].0) == c) {
            last = last.max(timed[k].1);
            out.push((i, last));
            j = k + 1;
        }
    }
    out
}

/// A loaded Whisper model.
struct Model {
    ctx: WhisperContext,
    name: String,
    sha256: String,
    multilingual: bool,
    n_vocab: usize,
}

/// The instruction that steers Mandarin output to simplified characters.
/// (Without it Whisper base mixes traditional characters in.)
const ZH_PROMPT: &str = "以下是普通话的客服电话录音，使用简体中文。";

/// Vocabulary from the rule packs, per language: product and brand names
/// and key phrases handed to the recognizer with its prompt.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vocabulary {
    pub zh: Vec<String>,
    pub en: Vec<String>,
}

impl Vocabulary {
    pub fn get(&self, language: Language) -> &[String] {
        match language {
            Language::Zh => &self.zh,
            Language::En => &self.en,
        }
    }
}

impl Model {
    fn load(path: &Path) -> Result<Self, TranscribeError> {
        let shown = path.display().to_string();
        if !path.is_file() {
            return Err(TranscribeError::ModelMissing { path: shown });
        }
        let sha256 = crate::embed::sha256_file(path).map_err(|e| TranscribeError::ModelLoad {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let mut params = WhisperContextParameters::default();
        params.use_gpu(false);
        // Token times from the cross-attention alignment (DTW): they say
        // which speech region a word came from, so they must be right to
        // the word; whisper.cpp's default heuristic times drift.
        if let Some(preset) = dtw_preset(path) {
            params.dtw_parameters(DtwParameters {
                mode: DtwMode::ModelPreset {
                    model_preset: preset,
                },
                ..DtwParameters::default()
            });
        }
        let ctx = WhisperContext::new_with_params(path, params).map_err(|e| {
            TranscribeError::ModelLoad {
                path: shown.clone(),
                message: e.to_string(),
            }
        })?;
        let multilingual = ctx.is_multilingual();
        let n_vocab = ctx.n_vocab().max(0) as usize;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or(shown);
        Ok(Model {
            ctx,
            name,
            sha256,
            multilingual,
            n_vocab,
        })
    }

    /// A fresh decoding state for one window. Not pooled: a reused state
    /// carries buffers from earlier windows that made word times (and so
    /// the unclear spans) differ from run to run; a new one costs a few
    /// milliseconds against seconds of decoding.
    fn new_state(&self) -> Result<WhisperState, TranscribeError> {
        self.ctx
            .create_state()
            .map_err(|e| TranscribeError::Whisper(format!("cannot create a decoding state: {e}")))
    }
}

/// The alignment heads preset for a ggml model, from its header: the
/// vocabulary says English-only or multilingual, the encoder depth the
/// size. `None` for a file that is not a known Whisper size.
fn dtw_preset(path: &Path) -> Option<DtwModelPreset> {
    use std::io::Read;
    let mut head = [0u8; 24];
    std::fs::File::open(path).ok()?.read_exact(&mut head).ok()?;
    let word = |i: usize| i32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
    if word(0) != 0x6767_6d6c {
        return None;
    }
    let english = word(4) < 51865;
    Some(match (word(20), english) {
        (4, true) => DtwModelPreset::TinyEn,
        (4, false) => DtwModelPreset::Tiny,
        (6, true) => DtwModelPreset::BaseEn,
        (6, false) => DtwModelPreset::Base,
        (12, true) => DtwModelPreset::SmallEn,
        (12, false) => DtwModelPreset::Small,
        (24, true) => DtwModelPreset::MediumEn,
        (24, false) => DtwModelPreset::Medium,
        _ => return None,
    })
}

/// Text recognised in one window, per piece, and the language Whisper
/// detected (when asked to).
struct WindowText {
    /// Per piece, its stretches of words (usually one).
    pieces: Vec<Vec<Part>>,
    detected: Option<String>,
    /// Recording spans whose text was not trusted or not decoded.
    unclear: Vec<Span>,
    /// Some text was scored as unlikely or hit the token cap.
    doubtful: bool,
    /// The budget stopped decoding before the window's end.
    cut_short: bool,
    /// Decoded a second time with beam search.
    redecoded: bool,
    /// Mean token log-probability of the text kept (higher is likelier).
    score: f64,
}

impl WindowText {
    /// A window the budget left no time for: all its speech is unclear.
    fn skipped(w: &chunk::Window) -> Self {
        WindowText {
            pieces: vec![Vec::new(); w.pieces.len()],
            detected: None,
            unclear: w.pieces.iter().map(|p| p.orig).collect(),
            doubtful: false,
            cut_short: true,
            redecoded: false,
            score: f64::NEG_INFINITY,
        }
    }
}

/// Words of one piece without a long pause between them.
#[derive(Debug, Clone, Default)]
struct Part {
    text: String,
    /// First and last word time inside the window.
    words: Option<(f64, f64)>,
    /// The characters of the recognised text (before tidying) with the
    /// time, inside the window, of the token each began in; characters of
    /// untimed tokens (punctuation) are left out.
    timed: Vec<(char, f64)>,
}

/// Words more than this far apart inside one speech region are separate
/// stretches of speech: the region holds sound without words between them
/// (hold music, a dial tone) that the VAD took for speech.
const WORDLESS_GAP_S: f64 = 2.0;
/// Margins around word times where a span is cut from them.
const BEFORE_WORD_S: f64 = 0.3;
const AFTER_WORD_S: f64 = 0.8;

/// Where each part's speech lies in the recording. One part keeps the
/// region's (VAD-accurate) span unless its words cover less than half of
/// it; several parts keep the region's outer edges and are cut from word
/// times inside, so the wordless sound between them counts as silence.
fn part_spans(piece: &chunk::Piece, parts: &[Part]) -> Vec<Span> {
    let len = piece.orig.len();
    let at = |t: f64| piece.orig.start + (t - piece.at).clamp(0.0, len);
    let n = parts.len();
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| match p.words {
            None => piece.orig,
            Some((a, b)) if n == 1 => {
                if (b - a) + BEFORE_WORD_S + AFTER_WORD_S < 0.5 * len {
                    Span {
                        start: at(a - BEFORE_WORD_S),
                        end: at(b + AFTER_WORD_S),
                    }
                } else {
                    piece.orig
                }
            }
            Some((a, b)) => Span {
                start: if i == 0 {
                    piece.orig.start
                } else {
                    at(a - BEFORE_WORD_S)
                },
                end: if i + 1 == n {
                    piece.orig.end
                } else {
                    at(b + AFTER_WORD_S)
                },
            },
        })
        .collect()
}

/// Which channels hold whom.
enum Layout<'a> {
    Split {
        agent: usize,
        customer: usize,
    },
    /// One signal with both speakers (mono, downmixed, or identical
    /// channels): borrowed from the decoded audio where it is one channel,
    /// so a long recording is not held twice.
    Mixed(Cow<'a, [f32]>),
}

/// Decoders and Whisper threads for windows of `lens` samples, longest
/// first (see `Transcriber::split_cores`): `usual` unless the threads are
/// automatic, the job is alone and the longest window outweighs the rest.
fn split_cores(
    lens: &[usize],
    auto: bool,
    cores: usize,
    alone: bool,
    usual: (usize, usize),
) -> (usize, usize) {
    let longest = lens.first().copied().unwrap_or(0);
    let rest: usize = lens.iter().skip(1).sum();
    if auto && alone && cores > 1 && longest > rest {
        (1, cores.min(4))
    } else {
        usual
    }
}

/// Jobs inside [`Transcriber::transcribe`] in this process, whichever
/// transcriber: a job alone may give one long window every core.
static ACTIVE_JOBS: AtomicUsize = AtomicUsize::new(0);

/// Counts a job in [`ACTIVE_JOBS`] while it lives.
struct ActiveJob;

impl ActiveJob {
    fn enter() -> Self {
        ACTIVE_JOBS.fetch_add(1, Ordering::Relaxed);
        ActiveJob
    }
}

impl Drop for ActiveJob {
    fn drop(&mut self) {
        ACTIVE_JOBS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Speech recognition for calls. Load once; `transcribe` may be called from
/// many threads at once.
pub struct Transcriber {
    main: Model,
    english: Option<Model>,
    opts: AsrOptions,
    threads: usize,
}

/// A window's result slot; a thread that panicked while holding it left
/// nothing half-written (the slot is set in one move), so its value is
/// still good.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whisper's log output goes to `tracing` (target `whisper_rs`), once.
fn route_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(whisper_rs::install_logging_hooks);
}

impl Transcriber {
    /// Checks that the model files exist, without loading them.
    pub fn check(models_dir: &Path, opts: &AsrOptions) -> Result<(), TranscribeError> {
        for p in opts.model_paths(models_dir) {
            if !p.is_file() {
                return Err(TranscribeError::ModelMissing {
                    path: p.display().to_string(),
                });
            }
        }
        Ok(())
    }

    /// Loads the model(s). `workers` is how many jobs run at once; with
    /// `threads = 0` the cores are shared among them, two decoders per job
    /// (see [`AsrOptions::threads`]).
    pub fn load(
        models_dir: &Path,
        opts: &AsrOptions,
        workers: usize,
    ) -> Result<Self, TranscribeError> {
        route_logs();
        let paths = opts.model_paths(models_dir);
        let main = Model::load(&paths[0])?;
        let english = match paths.get(1) {
            Some(p) => Some(Model::load(p)?),
            None => None,
        };
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let threads = if opts.threads > 0 {
            opts.threads
        } else {
            (cores / (workers.max(1) * 2)).max(1)
        };
        Ok(Transcriber {
            main,
            english,
            opts: opts.clone(),
            threads,
        })
    }

    /// The models' names and checksums, for results' versions.
    pub fn versions(&self) -> Vec<(String, String)> {
        std::iter::once(&self.main)
            .chain(self.english.as_ref())
            .map(|m| (format!("whisper:{}", m.name), m.sha256.clone()))
            .collect()
    }

    /// Transcribes a call. CPU-bound (seconds per minute of speech): call
    /// from a blocking thread. `vocabulary` is handed to the recognizer
    /// with its prompt (see [`echo`]).
    pub fn transcribe(
        &self,
        audio: &Audio,
        map: ChannelMap,
        language: LanguageChoice,
        vocabulary: &Vocabulary,
    ) -> Result<Transcript, TranscribeError> {
        let _active = ActiveJob::enter();
        let layout = layout(audio, map)?;
        let notes = layout_notes(map, &layout, audio.channels.len());
        let signals = signals(audio, &layout);
        let budget = budget::Budget::for_audio(
            audio.duration,
            self.opts.max_cost_factor,
            self.opts.min_budget_s,
        );
        let regions = self.speech_regions(&signals);
        let speech_s: f64 = regions.iter().map(|r| total(r)).sum();
        let max_s = chunk::balanced_window_s(speech_s, self.decoders(), self.opts.min_window_s);
        let windows: Vec<Vec<chunk::Window>> = signals
            .iter()
            .zip(&regions)
            .map(|((_, s), r)| chunk::pack_within(s, r, max_s))
            .collect();
        let (language, mut first_done) = self.language(language, &regions, &windows, &budget)?;
        let model = self.model_for(language)?;
        // A window already decoded during detection is reused only when it
        // came from the model used for the rest, without a prompt.
        let prompt = self.prompt_for(language, vocabulary);
        if !std::ptr::eq(model, &self.main) || prompt.is_some() {
            first_done = None;
        }
        let prompt_tokens = prompt_tokens(model, prompt.as_ref(), language)?;
        let prompt = prompt.unwrap_or_default();
        let decoded = self.decode_windows(
            model,
            &windows,
            first_done,
            language,
            &prompt_tokens,
            &budget,
        )?;
        let mut gathered = Gathered::new(speech_s);
        for (i, ((speaker, _), texts)) in signals.iter().zip(decoded).enumerate() {
            let first = gathered.utterances.len();
            for (w, wt) in windows[i].iter().zip(texts) {
                gathered.window(*speaker, w, wt, language, &prompt);
            }
            gathered.strip_joined_echoes(first, &prompt);
        }
        let attribution = match layout {
            Layout::Split { .. } => Attribution::Channels,
            Layout::Mixed(_) => Attribution::Inferred,
        };
        Ok(gathered.finish(language, attribution, audio.duration, notes))
    }

    /// Speech regions per signal, found by voice activity detection.
    fn speech_regions(&self, signals: &[(Option<Speaker>, &[f32])]) -> Vec<Vec<Span>> {
        signals
            .iter()
            .map(|(speaker, s)| {
                let r = vad::detect(s, &self.opts.vad);
                // On a shared channel an utterance is what roles are
                // inferred for: pauses inside a speaker's sentence must not
                // split it, or the alternation between speakers slips.
                if speaker.is_none() {
                    bridge(r, MIXED_TURN_GAP_S)
                } else {
                    r
                }
            })
            .collect()
    }

    /// The language: fixed by the job, or detected on the first window of
    /// the signal with the most speech. Also that window's text (and its
    /// signal) when detection agreed with the language chosen, so it need
    /// not be decoded twice.
    fn language(
        &self,
        choice: LanguageChoice,
        regions: &[Vec<Span>],
        windows: &[Vec<chunk::Window>],
        budget: &budget::Budget,
    ) -> Result<(Language, Option<(usize, WindowText)>), TranscribeError> {
        if let LanguageChoice::Fixed(l) = choice {
            return Ok((l, None));
        }
        let busiest = (0..windows.len())
            .filter(|&i| !windows[i].is_empty())
            .max_by(|&a, &b| total(&regions[a]).total_cmp(&total(&regions[b])));
        let Some(i) = busiest else {
            return Ok((self.opts.fallback_language, None));
        };
        let deadline = budget.start_with(self.threads);
        let wt = self.run_window(&self.main, &windows[i][0], None, &[], &deadline);
        deadline.book();
        let wt = wt?;
        let l = match wt.detected.as_deref() {
            Some("zh") | Some("yue") => Language::Zh,
            Some("en") => Language::En,
            _ => self.opts.fallback_language,
        };
        let first_done = (wt.detected.as_deref() == Some(l.as_str())).then_some((i, wt));
        Ok((l, first_done))
    }

    /// The model for a language: the English-only one for English when
    /// configured, else the main one, which must be multilingual for
    /// Mandarin.
    fn model_for(&self, language: Language) -> Result<&Model, TranscribeError> {
        let model = match (&self.english, language) {
            (Some(en), Language::En) => en,
            _ => &self.main,
        };
        if language == Language::Zh && !model.multilingual {
            return Err(TranscribeError::EnglishOnly {
                model: model.name.clone(),
            });
        }
        Ok(model)
    }

    /// How many decoders a job's windows get and how many Whisper threads
    /// each: [`Self::decoders`] of `self.threads`, except when the threads
    /// are left to callqa (`[asr] threads = 0`), this is the only job
    /// transcribing in the process, and one window outweighs all the others
    /// together (a Mandarin call whose agent speaks most, a one-window
    /// call). Then parallel decoders would leave cores idle while that
    /// window runs, so one decoder takes the windows in turn with every
    /// core (at most 4 threads). On the Mandarin sample call as 8 kHz
    /// µ-law (agent 21.9 s, customer 7.0 s of speech) that cut the wall
    /// time from 3.7–4.9 s to 2.8–3.7 s for the same CPU and the same
    /// transcript; on the English one, whose sides are even, two threads
    /// per window cost more (docs/calls.md).
    fn split_cores(
        &self,
        todo: &[(usize, usize)],
        windows: &[Vec<chunk::Window>],
    ) -> (usize, usize) {
        let lens: Vec<usize> = todo
            .iter()
            .map(|&(i, j)| windows[i][j].samples.len())
            .collect();
        split_cores(
            &lens,
            self.opts.threads == 0,
            rayon::current_num_threads(),
            ACTIVE_JOBS.load(Ordering::Relaxed) <= 1,
            (self.decoders(), self.threads),
        )
    }

    /// How many windows are decoded at once: rayon's threads, each
    /// running Whisper on `threads` of them.
    fn decoders(&self) -> usize {
        (rayon::current_num_threads() / self.threads.max(1)).max(1)
    }

    /// Decodes every signal's windows, longest first, each by the next free
    /// one of [`Self::decoders`] tasks on rayon's pool (one Whisper thread
    /// each unless configured otherwise): the speakers' channels share the
    /// cores, and a channel with more speech than the other does not keep
    /// one core busy while the other idles. `first_done` is a first window
    /// already decoded (during language detection) and its signal. Results
    /// per signal, in window order.
    fn decode_windows(
        &self,
        model: &Model,
        windows: &[Vec<chunk::Window>],
        first_done: Option<(usize, WindowText)>,
        language: Language,
        prompt_tokens: &[i32],
        budget: &budget::Budget,
    ) -> Result<Vec<Vec<WindowText>>, TranscribeError> {
        type Slot = Mutex<Option<Result<WindowText, TranscribeError>>>;
        let slots: Vec<Vec<Slot>> = windows
            .iter()
            .map(|ws| ws.iter().map(|_| Mutex::new(None)).collect())
            .collect();
        if let Some((i, wt)) = first_done {
            if let Some(slot) = slots.get(i).and_then(|s| s.first()) {
                *lock(slot) = Some(Ok(wt));
            }
        }
        let mut todo: Vec<(usize, usize)> = (0..windows.len())
            .flat_map(|i| (0..windows[i].len()).map(move |j| (i, j)))
            .filter(|&(i, j)| lock(&slots[i][j]).is_none())
            .collect();
        // Longest first, so that the last window to start is a short one.
        todo.sort_by_key(|&(i, j)| std::cmp::Reverse(windows[i][j].samples.len()));
        let (decoders, threads) = self.split_cores(&todo, windows);
        let next = AtomicUsize::new(0);
        let decode = || {
            while let Some(&(i, j)) = todo.get(next.fetch_add(1, Ordering::Relaxed)) {
                let w = &windows[i][j];
                let deadline = budget.start_with(threads);
                let out = if deadline.passed() {
                    Ok(WindowText::skipped(w))
                } else {
                    self.run_window(model, w, Some(language), prompt_tokens, &deadline)
                };
                if let Ok(wt) = &out {
                    tracing::debug!(
                        signal = i,
                        window = j,
                        audio_s = w.samples.len() as f64 / 16_000.0,
                        cpu_s = deadline.elapsed_s(),
                        doubtful = wt.doubtful,
                        redecoded = wt.redecoded,
                        "window decoded"
                    );
                }
                deadline.book();
                *lock(&slots[i][j]) = Some(out);
            }
        };
        rayon::scope(|s| {
            for _ in 0..decoders.min(todo.len()) {
                s.spawn(|_| decode());
            }
        });
        slots
            .into_iter()
            .map(|ws| {
                ws.into_iter()
                    .map(|slot| {
                        slot.into_inner()
                            .unwrap_or_else(|e| e.into_inner())
                            .unwrap_or_else(|| {
                                Err(TranscribeError::Whisper("a window was not decoded".into()))
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect()
    }

    /// The prompt for a language: Mandarin's simplified-characters
    /// instruction and the pack's vocabulary; `None` when prompts are off
    /// or there is nothing to say.
    fn prompt_for(&self, language: Language, vocabulary: &Vocabulary) -> Option<echo::Prompt> {
        if !self.opts.prompt {
            return None;
        }
        let p = echo::Prompt {
            instruction: match language {
                Language::Zh => ZH_PROMPT.to_owned(),
                Language::En => String::new(),
            },
            terms: vocabulary.get(language).to_vec(),
        };
        (!p.is_empty()).then_some(p)
    }

    /// Plain whisper.cpp over a whole signal: no voice activity detection,
    /// no packing, whisper.cpp's own 30 s windows, the same decoding
    /// settings. The baseline the ASR benchmark compares the call path
    /// with (scripts/bench-asr.sh); not used by the pipeline.
    pub fn transcribe_plain(
        &self,
        pcm: &Pcm16k,
        language: Language,
    ) -> Result<String, TranscribeError> {
        let w = chunk::Window {
            samples: pcm.samples().to_vec(),
            pieces: vec![chunk::Piece {
                orig: Span {
                    start: 0.0,
                    end: pcm.duration(),
                },
                at: 0.0,
            }],
        };
        let deadline = budget::Deadline::unlimited(self.threads);
        let out = self.run_window(&self.main, &w, Some(language), &[], &deadline)?;
        Ok(out
            .pieces
            .iter()
            .flatten()
            .map(|p| p.text.as_str())
            .collect::<Vec<_>>()
            .join(" "))
    }

    /// Runs Whisper on one window; `language: None` detects it. A window
    /// whose greedy text is partly unlikely is decoded once more with beam
    /// search (deterministic), and the likelier reading kept.
    fn run_window(
        &self,
        model: &Model,
        w: &chunk::Window,
        language: Option<Language>,
        prompt: &[i32],
        deadline: &budget::Deadline,
    ) -> Result<WindowText, TranscribeError> {
        let mut state = model.new_state()?;
        let first = self.decode_window(
            model,
            &mut state,
            w,
            language,
            prompt,
            deadline,
            self.opts.beam_size,
        );
        match first {
            Ok(wt)
                if wt.doubtful
                    && self.opts.fallback_beam_size > 0
                    && self.opts.fallback_beam_size != self.opts.beam_size
                    && !deadline.passed() =>
            {
                let again = self.decode_window(
                    model,
                    &mut state,
                    w,
                    language,
                    prompt,
                    deadline,
                    self.opts.fallback_beam_size,
                );
                Ok(match again {
                    Ok(mut b) if b.score > wt.score && !b.cut_short => {
                        b.redecoded = true;
                        b
                    }
                    _ => WindowText {
                        redecoded: true,
                        ..wt
                    },
                })
            }
            other => other,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn decode_window(
        &self,
        model: &Model,
        state: &mut WhisperState,
        w: &chunk::Window,
        language: Option<Language>,
        prompt: &[i32],
        deadline: &budget::Deadline,
        beam: usize,
    ) -> Result<WindowText, TranscribeError> {
        let mut params = self.params(model, w, language, prompt, beam, deadline.threads());
        let speech_s: f64 = w.pieces.iter().map(|p| p.orig.len()).sum();
        let guard = budget::Guard::new(
            budget::token_cap(speech_s, self.opts.tokens_per_second),
            model.ctx.token_eot(),
            model.n_vocab,
            deadline.clone(),
        );
        // SAFETY: `guard` lives on this stack frame until after `full()`
        // returns, and the callbacks only read it (atomics aside).
        unsafe {
            params.set_filter_logits_callback(Some(budget::cap_tokens));
            params.set_filter_logits_callback_user_data(guard.user_data());
            params.set_start_encoder_callback(Some(budget::before_pass));
            params.set_start_encoder_callback_user_data(guard.user_data());
        }
        state
            .full(params, &w.samples)
            .map_err(|e| TranscribeError::Whisper(e.to_string()))?;
        let mut read = self.read_segments(state, w, model.ctx.token_eot());
        let capped = guard.capped.load(Ordering::Relaxed);
        let cut_short = guard.stopped.load(Ordering::Relaxed);
        if capped {
            read.doubtful = true;
        }
        if cut_short {
            // What the stopped passes would have covered: the pieces after
            // the last decoded word.
            let last = read.tokens.iter().rposition(|v| !v.is_empty());
            let from = last.map_or(0, |i| i + 1);
            read.unclear.extend(w.pieces[from..].iter().map(|p| p.orig));
        }
        let detected = if language.is_none() {
            whisper_rs::get_lang_str(state.full_lang_id_from_state()).map(str::to_owned)
        } else {
            None
        };
        Ok(WindowText {
            pieces: read.tokens.into_iter().map(split_parts).collect(),
            detected,
            unclear: read.unclear,
            doubtful: read.doubtful,
            cut_short,
            redecoded: false,
            score: if read.logprob_n > 0 {
                read.logprob_sum / read.logprob_n as f64
            } else {
                f64::NEG_INFINITY
            },
        })
    }

    /// Whisper's settings for one decoding pass over a window: `beam` wide
    /// (greedy below 2), the prompt only with a known language.
    fn params<'p>(
        &self,
        model: &Model,
        w: &chunk::Window,
        language: Option<Language>,
        prompt: &'p [i32],
        beam: usize,
        threads: usize,
    ) -> FullParams<'static, 'p> {
        let strategy = if beam > 1 {
            SamplingStrategy::BeamSearch {
                beam_size: beam as i32,
                patience: -1.0,
            }
        } else {
            SamplingStrategy::Greedy { best_of: 1 }
        };
        let mut params = FullParams::new(strategy);
        params.set_n_threads(threads as i32);
        params.set_translate(false);
        params.set_language(Some(match language {
            Some(l) if model.multilingual => l.as_str(),
            Some(_) => "en",
            None if model.multilingual => "auto",
            None => "en",
        }));
        // Each window stands alone: text from one never primes the next,
        // which stops a hallucination from propagating.
        params.set_no_context(true);
        params.set_print_special(false);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_timestamps(false);
        params.set_token_timestamps(true);
        params.set_no_timestamps(!self.opts.timestamps);
        params.set_suppress_blank(true);
        params.set_suppress_nst(true);
        // No temperature fallback: sampling made text and cost differ from
        // run to run (see `budget`).
        params.set_temperature(0.0);
        params.set_temperature_inc(0.0);
        if self.opts.shrink_audio_ctx {
            params.set_audio_ctx(audio_ctx_for(w.samples.len(), self.opts.min_audio_ctx_s));
        }
        if !prompt.is_empty() && language.is_some() {
            params.set_tokens(prompt);
        }
        params
    }

    /// The decoded segments' tokens, per piece of the window, keeping only
    /// the text Whisper and the decoder's scores make trustworthy.
    fn read_segments(&self, state: &WhisperState, w: &chunk::Window, eot: i32) -> Segments {
        let mut out = Segments {
            tokens: vec![Vec::new(); w.pieces.len()],
            unclear: Vec::new(),
            logprob_sum: 0.0,
            logprob_n: 0,
            doubtful: false,
        };
        // Punctuation has no sound of its own: it stays with the word
        // before it.
        let mut last_piece: Option<usize> = None;
        for seg in state.as_iter() {
            let (toks, p_sum, plog_sum) = segment_tokens(&seg, w, eot, &mut last_piece);
            if toks.is_empty() {
                continue;
            }
            let k = toks.len() as f32;
            let (mean_p, mean_logprob) = (p_sum / k, plog_sum / k);
            out.logprob_sum += plog_sum as f64;
            out.logprob_n += toks.len();
            // Whisper's own verdict that the window holds no speech, with
            // unsure words, marks invented text; so does text the decoder
            // itself scores as unlikely.
            let silence = seg.no_speech_probability() > 0.6 && mean_p < 0.5;
            let unlikely = mean_logprob < self.opts.min_avg_logprob;
            if silence || unlikely {
                if unlikely {
                    out.doubtful = true;
                    out.unclear.extend(touched_spans(w, &toks));
                }
                tracing::debug!(mean_logprob, silence, "recognised text not trusted");
                continue;
            }
            for (piece, b, t) in toks {
                if let Some(v) = out.tokens.get_mut(piece) {
                    v.push((b, t));
                }
            }
        }
        out
    }
}

/// What a window's decoded segments hold, before they become its text.
struct Segments {
    /// Per piece, its tokens in order: bytes and (for words) time.
    tokens: Vec<Vec<(Vec<u8>, Option<f64>)>>,
    /// Recording spans whose text was not trusted.
    unclear: Vec<Span>,
    /// Sum and count of the token log-probabilities of all text read.
    logprob_sum: f64,
    logprob_n: usize,
    /// Some text was scored as unlikely.
    doubtful: bool,
}

/// A recognised token: the window's piece it fell in, its bytes, and (for
/// words) its time inside the window.
type PieceToken = (usize, Vec<u8>, Option<f64>);

/// One segment's text tokens, each with the piece it fell in, its bytes
/// and (for words) its time; and the sums of their probabilities and
/// log-probabilities. Wordless tokens stay in `last_piece`.
fn segment_tokens(
    seg: &WhisperSegment<'_>,
    w: &chunk::Window,
    eot: i32,
    last_piece: &mut Option<usize>,
) -> (Vec<PieceToken>, f32, f32) {
    let n = seg.n_tokens();
    let mut toks = Vec::with_capacity(n.max(0) as usize);
    let (mut p_sum, mut plog_sum) = (0.0f32, 0.0f32);
    for t in 0..n {
        let Some(tok) = seg.get_token(t) else {
            continue;
        };
        let data = tok.token_data();
        if data.id >= eot {
            continue;
        }
        p_sum += data.p;
        plog_sum += data.plog;
        // DTW time where computed, else the midpoint of the heuristic span
        // (centiseconds).
        let mid = if data.t_dtw >= 0 {
            data.t_dtw as f64 / 100.0
        } else {
            (data.t0 + data.t1) as f64 / 200.0
        };
        let Ok(b) = tok.to_bytes() else { continue };
        let wordless = !String::from_utf8_lossy(b)
            .chars()
            .any(char::is_alphanumeric);
        let piece = match (wordless, *last_piece) {
            (true, Some(p)) => Some(p),
            _ => w.piece_at(mid),
        };
        if let Some(piece) = piece {
            *last_piece = Some(piece);
            toks.push((piece, b.to_vec(), (!wordless).then_some(mid)));
        }
    }
    (toks, p_sum, plog_sum)
}

/// Facts about the channel layout a reviewer should know.
fn layout_notes(map: ChannelMap, layout: &Layout, channels: usize) -> Vec<String> {
    let mut notes = Vec::new();
    if let (ChannelMap::Default, Layout::Mixed(_), n) = (map, layout, channels) {
        if n >= 2 {
            notes.push(format!(
                "the {n} channels carry the same signal, so the recording was treated as mono and speakers were inferred"
            ));
        }
    }
    notes
}

/// The signals to transcribe: (speaker, or `None` when mixed; samples).
fn signals<'a>(audio: &'a Audio, layout: &'a Layout) -> Vec<(Option<Speaker>, &'a [f32])> {
    match layout {
        Layout::Split { agent, customer } => vec![
            (Some(Speaker::Agent), audio.channels[*agent].samples()),
            (Some(Speaker::Customer), audio.channels[*customer].samples()),
        ],
        Layout::Mixed(pcm) => vec![(None, &pcm[..])],
    }
}

/// The prompt as the model's tokens (none without a prompt).
fn prompt_tokens(
    model: &Model,
    prompt: Option<&echo::Prompt>,
    language: Language,
) -> Result<Vec<i32>, TranscribeError> {
    match prompt {
        Some(p) => model
            .ctx
            .tokenize(&p.text(language == Language::Zh), PROMPT_MAX_TOKENS)
            .map_err(|e| TranscribeError::Whisper(format!("cannot tokenize the prompt: {e}"))),
        None => Ok(Vec::new()),
    }
}

/// A call's transcript as it is put together from its decoded windows,
/// signal by signal.
struct Gathered {
    utterances: Vec<Utterance>,
    timeline: SpeechTimeline,
    dropped: usize,
    collapsed: usize,
    quality: Quality,
}

impl Gathered {
    fn new(speech_s: f64) -> Self {
        Gathered {
            utterances: Vec::new(),
            timeline: SpeechTimeline::default(),
            dropped: 0,
            collapsed: 0,
            quality: Quality {
                speech_s,
                ..Quality::default()
            },
        }
    }

    /// Adds one decoded window of a signal (`speaker`: `None` when mixed).
    fn window(
        &mut self,
        speaker: Option<Speaker>,
        w: &chunk::Window,
        wt: WindowText,
        language: Language,
        prompt: &echo::Prompt,
    ) {
        self.quality.windows += 1;
        self.quality.cut_short += wt.cut_short as usize;
        self.quality.redecoded += wt.redecoded as usize;
        self.timeline.unclear.extend(wt.unclear.iter().copied());
        for (piece, parts) in w.pieces.iter().zip(wt.pieces) {
            let spans = part_spans(piece, &parts);
            let at = |t: f64| piece.orig.start + (t - piece.at).clamp(0.0, piece.orig.len());
            for (p, span) in parts.into_iter().zip(spans) {
                let timed: Vec<(char, f64)> =
                    p.timed.into_iter().map(|(c, t)| (c, at(t))).collect();
                self.text(speaker, p.text, timed, span, language, prompt);
            }
        }
    }

    /// Adds the text recognised for one stretch of speech, once cleaned
    /// of prompt echo and Whisper's inventions; what is dropped is counted.
    fn text(
        &mut self,
        speaker: Option<Speaker>,
        raw: String,
        timed: Vec<(char, f64)>,
        span: Span,
        language: Language,
        prompt: &echo::Prompt,
    ) {
        let raw = match language {
            Language::Zh => crate::text::to_simplified(&raw),
            Language::En => raw,
        };
        let (raw, echoed) = echo::strip(&raw, prompt);
        if echoed {
            self.quality.echoes += 1;
            tracing::debug!(
                start = span.start,
                "prompt echo removed from recognised text"
            );
            if raw.trim().is_empty() {
                self.timeline.unclear.push(span);
                return;
            }
        }
        match clean::clean(&raw) {
            clean::Cleaned::Keep { text, collapsed: c } => {
                self.collapsed += c as usize;
                let spans = match speaker {
                    Some(Speaker::Agent) => &mut self.timeline.agent,
                    Some(Speaker::Customer) => &mut self.timeline.customer,
                    None => &mut self.timeline.mixed,
                };
                spans.push(span);
                let timed = match language {
                    Language::Zh => timed
                        .into_iter()
                        .map(|(c, t)| (crate::text::to_simplified_char(c), t))
                        .collect(),
                    Language::En => timed,
                };
                self.utterances.push(Utterance {
                    speaker,
                    span,
                    text,
                    timed,
                    voice: None,
                });
            }
            clean::Cleaned::Drop(why) => {
                if !raw.trim().is_empty() {
                    // Length only: logs never carry what was said (it may
                    // be personal data; see docs/privacy.md).
                    tracing::debug!(
                        start = span.start,
                        chars = raw.chars().count(),
                        why,
                        "dropped recognised text"
                    );
                    self.dropped += 1;
                }
            }
        }
    }

    /// Removes prompt echo split between two recognised pieces ("…电话" |
    /// "录音，…"), which passes the check of each piece alone, from the
    /// utterances of one signal (those from `first` on); utterances left
    /// empty become unclear speech.
    fn strip_joined_echoes(&mut self, first: usize, prompt: &echo::Prompt) {
        let mut texts: Vec<String> = self.utterances[first..]
            .iter()
            .map(|u| u.text.clone())
            .collect();
        let joins = echo::strip_joins(&mut texts, prompt);
        if joins == 0 {
            return;
        }
        self.quality.echoes += joins;
        for (u, t) in self.utterances[first..].iter_mut().zip(texts) {
            u.text = t;
        }
        let mut k = first;
        while k < self.utterances.len() {
            if self.utterances[k].text.trim().is_empty() {
                self.timeline.unclear.push(self.utterances.remove(k).span);
            } else {
                k += 1;
            }
        }
    }

    /// The transcript: utterances in time order, unclear spans in time
    /// order with overlaps joined.
    fn finish(
        mut self,
        language: Language,
        attribution: Attribution,
        duration: f64,
        notes: Vec<String>,
    ) -> Transcript {
        self.utterances
            .sort_by(|a, b| a.span.start.total_cmp(&b.span.start));
        let mut unclear = std::mem::take(&mut self.timeline.unclear);
        unclear.sort_by(|a, b| a.start.total_cmp(&b.start));
        self.timeline.unclear = bridge(unclear, 0.0);
        self.quality.unclear_s = total(&self.timeline.unclear).min(self.quality.speech_s);
        Transcript {
            language,
            attribution,
            utterances: self.utterances,
            timeline: self.timeline,
            duration,
            dropped: self.dropped,
            collapsed: self.collapsed,
            notes,
            quality: self.quality,
        }
    }
}

/// Most prompt tokens (Whisper keeps at most half its 448-token context).
const PROMPT_MAX_TOKENS: usize = 200;

/// Encoder context for a window of `n` samples: 50 frames a second, a
/// second of margin, at least `min_s` seconds, rounded up to a multiple of
/// 16 frames, Whisper's 1500 at most. The rounding lets ggml hand the
/// encoder's self-attention products to its tiled kernels (llamafile's
/// tinyBLAS takes a matrix only when its rows come in fours and its inner
/// length in sixteens); otherwise they run row by row, which cost twice
/// as much as all the quantised weight products together (docs/calls.md).
fn audio_ctx_for(n: usize, min_s: f64) -> i32 {
    const ALIGN: i32 = 16;
    let secs = n as f64 / 16_000.0;
    let min = ((min_s * 50.0).ceil() as i32).clamp(1, 1500);
    let frames = (((secs + 1.0) * 50.0).ceil() as i32).max(min);
    (((frames + ALIGN - 1) / ALIGN) * ALIGN).min(1500)
}

/// The recording spans of the pieces that tokens fell in, cut to the
/// tokens' times (padded).
fn touched_spans(w: &chunk::Window, toks: &[PieceToken]) -> Vec<Span> {
    let timed: Vec<Span> = toks
        .iter()
        .filter_map(|(piece, _, t)| {
            let (p, t) = (w.pieces.get(*piece)?, (*t)?);
            let at = |t: f64| p.orig.start + (t - p.at).clamp(0.0, p.orig.len());
            Some(Span {
                start: at(t - BEFORE_WORD_S),
                end: at(t + AFTER_WORD_S),
            })
        })
        .collect();
    if !timed.is_empty() {
        return timed;
    }
    // No word times: the whole pieces.
    let mut idx: Vec<usize> = toks.iter().map(|(p, _, _)| *p).collect();
    idx.dedup();
    idx.into_iter()
        .filter_map(|i| w.pieces.get(i))
        .map(|p| p.orig)
        .collect()
}

/// Splits a piece's tokens where words are more than `WORDLESS_GAP_S`
/// apart.
fn split_parts(tokens: Vec<(Vec<u8>, Option<f64>)>) -> Vec<Part> {
    /// A word time span, first to last.
    type Times = Option<(f64, f64)>;
    /// Bytes, word times, and the byte offset where each timed token began.
    type Draft = (Vec<u8>, Times, Vec<(usize, f64)>);
    let mut parts: Vec<Draft> = vec![(Vec::new(), None, Vec::new())];
    for (b, t) in tokens {
        if let (Some(t), Some((_, Some((_, last)), _))) = (t, parts.last()) {
            if t - last > WORDLESS_GAP_S {
                parts.push((Vec::new(), None, Vec::new()));
            }
        }
        let Some(cur) = parts.last_mut() else {
            continue;
        };
        if let Some(t) = t {
            cur.2.push((cur.0.len(), t));
        }
        cur.0.extend_from_slice(&b);
        if let Some(t) = t {
            cur.1 = Some(match cur.1 {
                Some((a, z)) => (a.min(t), z.max(t)),
                None => (t, t),
            });
        }
    }
    parts
        .into_iter()
        .map(|(b, words, starts)| Part {
            timed: timed_chars(&b, &starts),
            text: tidy(&String::from_utf8_lossy(&b)),
            words,
        })
        .collect()
}

/// Each character of `bytes` (UTF-8; tokens may split a character) with
/// the time of the timed token it began in (characters before the first
/// timed token have none). Invalid UTF-8: no times.
fn timed_chars(bytes: &[u8], starts: &[(usize, f64)]) -> Vec<(char, f64)> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(text.len());
    let mut k = 0usize;
    let mut current: Option<f64> = None;
    for (i, c) in text.char_indices() {
        // The last timed token that began at or before this character's
        // first byte (punctuation after a word keeps the word's time).
        while k < starts.len() && starts[k].0 <= i {
            current = Some(starts[k].1);
            k += 1;
        }
        if let Some(t) = current {
            out.push((c, t));
        }
    }
    out
}

/// Recognised text as a reader expects it: no replacement characters, no
/// space before punctuation, single spaces.
fn tidy(s: &str) -> String {
    let s = s.replace('\u{fffd}', "");
    let mut out = String::with_capacity(s.len());
    for w in s.split_whitespace() {
        let punct = w.chars().all(|c| !c.is_alphanumeric());
        if !out.is_empty() && !punct {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// Pauses shorter than this on a mixed recording do not end an utterance.
const MIXED_TURN_GAP_S: f64 = 0.4;

/// Joins regions separated by less than `gap` seconds.
fn bridge(regions: Vec<Span>, gap: f64) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::with_capacity(regions.len());
    for r in regions {
        match out.last_mut() {
            Some(last) if r.start - last.end < gap => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

fn total(spans: &[Span]) -> f64 {
    spans.iter().map(Span::len).sum()
}

/// Picks the signals to transcribe from the channel map and the file.
/// The one signal of a recording transcribed as mixed (both speakers on
/// one channel), as [`Transcriber::transcribe`] heard it; `None` where the
/// channels keep the speakers apart.
pub fn mixed_signal(audio: &Audio, map: ChannelMap) -> Option<Cow<'_, [f32]>> {
    match layout(audio, map) {
        Ok(Layout::Mixed(pcm)) => Some(pcm),
        _ => None,
    }
}

fn layout(audio: &Audio, map: ChannelMap) -> Result<Layout<'_>, TranscribeError> {
    let n = audio.channels.len();
    if n == 0 {
        return Err(TranscribeError::NoChannels);
    }
    match map {
        ChannelMap::Mixed if n == 1 => {
            Ok(Layout::Mixed(Cow::Borrowed(audio.channels[0].samples())))
        }
        ChannelMap::Mixed => Ok(Layout::Mixed(Cow::Owned(
            downmix(&audio.channels).into_samples(),
        ))),
        ChannelMap::Default if n == 1 => {
            Ok(Layout::Mixed(Cow::Borrowed(audio.channels[0].samples())))
        }
        ChannelMap::Default => {
            if same_signal(audio.channels[0].samples(), audio.channels[1].samples()) {
                Ok(Layout::Mixed(Cow::Borrowed(audio.channels[0].samples())))
            } else {
                Ok(Layout::Split {
                    agent: 0,
                    customer: 1,
                })
            }
        }
        ChannelMap::Split { agent, customer } => {
            for (role, channel) in [("agent", agent), ("customer", customer)] {
                if channel >= n {
                    return Err(TranscribeError::ChannelMissing {
                        role,
                        channel,
                        count: n,
                    });
                }
            }
            if agent == customer {
                Ok(Layout::Mixed(Cow::Borrowed(
                    audio.channels[agent].samples(),
                )))
            } else {
                Ok(Layout::Split { agent, customer })
            }
        }
    }
}

fn downmix(channels: &[Pcm16k]) -> Pcm16k {
    let len = channels
        .iter()
        .map(|c| c.samples().len())
        .min()
        .unwrap_or(0);
    let k = 1.0 / channels.len().max(1) as f32;
    let mut out = vec![0.0f32; len];
    for c in channels {
        for (o, s) in out.iter_mut().zip(c.samples()) {
            *o += s * k;
        }
    }
    Pcm16k::from_samples(out)
}

/// Whether two channels carry the same signal (a mono call saved as
/// stereo): correlation above 0.98 over the whole recording.
fn same_signal(a: &[f32], b: &[f32]) -> bool {
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b).step_by(4) {
        let (x, y) = (*x as f64, *y as f64);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    aa > 1e-6 && bb > 1e-6 && ab / (aa.sqrt() * bb.sqrt()) > 0.98
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_job_gives_its_dominant_window_every_core() {
        // Mandarin sample call: agent 21.9 s, customer 7.0 s.
        let zh = [350_400, 112_000];
        assert_eq!(split_cores(&zh, true, 2, true, (2, 1)), (1, 2));
        assert_eq!(split_cores(&[16_000], true, 8, true, (4, 2)), (1, 4));
        // Even sides, another job transcribing, or threads set by hand:
        // the usual split.
        assert_eq!(
            split_cores(&[300_000, 300_000], true, 2, true, (2, 1)),
            (2, 1)
        );
        assert_eq!(
            split_cores(&[300_000, 200_000, 150_000], true, 2, true, (2, 1)),
            (2, 1)
        );
        assert_eq!(split_cores(&zh, true, 2, false, (2, 1)), (2, 1));
        assert_eq!(split_cores(&zh, false, 2, true, (2, 1)), (2, 1));
        assert_eq!(split_cores(&zh, true, 1, true, (1, 1)), (1, 1));
        assert_eq!(split_cores(&[], true, 2, true, (2, 1)), (2, 1));
    }

    /// The encoder's context follows the window (50 frames a second and a
    /// second of margin) between the configured floor and Whisper's 30 s.
    #[test]
    fn audio_ctx_follows_the_window_within_its_floor() {
        let s = |secs: f64| (secs * 16_000.0) as usize;
        assert_eq!(audio_ctx_for(s(2.0), 4.0), 208);
        assert_eq!(audio_ctx_for(s(9.0), 4.0), 512);
        assert_eq!(audio_ctx_for(s(9.0), 15.0), 752);
        assert_eq!(audio_ctx_for(s(20.0), 15.0), 1056);
        assert_eq!(audio_ctx_for(s(28.0), 30.0), 1500);
        assert_eq!(audio_ctx_for(s(40.0), 0.0), 1500);
    }

    fn audio(channels: Vec<Vec<f32>>) -> Audio {
        let duration = channels
            .first()
            .map(|c| c.len() as f64 / 16_000.0)
            .unwrap_or(0.0);
        Audio {
            channels: channels.into_iter().map(Pcm16k::from_samples).collect(),
            source_rate: 16_000,
            codec: "pcm_s16le".into(),
            duration,
        }
    }

    fn tone(f: f32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (i as f32 * f * std::f32::consts::TAU / 16_000.0).sin() * 0.3)
            .collect()
    }

    #[test]
    fn channel_layouts() {
        let stereo = audio(vec![tone(300.0, 16_000), tone(500.0, 16_000)]);
        let dup = audio(vec![tone(300.0, 16_000), tone(300.0, 16_000)]);
        let mono = audio(vec![tone(300.0, 16_000)]);
        let kind = |a: &Audio, m: ChannelMap| match layout(a, m) {
            Ok(Layout::Split { agent, customer }) => format!("split {agent} {customer}"),
            Ok(Layout::Mixed(_)) => "mixed".to_owned(),
            Err(e) => e.to_string(),
        };
        let cases = [
            (&stereo, ChannelMap::Default, "split 0 1"),
            (&stereo, ChannelMap::Split { agent: 1, customer: 0 }, "split 1 0"),
            (&stereo, ChannelMap::Mixed, "mixed"),
            (&dup, ChannelMap::Default, "mixed"),
            (&mono, ChannelMap::Default, "mixed"),
            (
                &mono,
                ChannelMap::Split { agent: 0, customer: 1 },
                "the channel map puts the customer on channel 1, but the recording has 1 channel(s)",
            ),
            (
                &stereo,
                ChannelMap::Split { agent: 3, customer: 1 },
                "the channel map puts the agent on channel 3, but the recording has 2 channel(s)",
            ),
        ];
        for (a, m, want) in cases {
            assert_eq!(kind(a, m), want, "{m:?}");
        }
        assert!(matches!(
            layout(&audio(vec![]), ChannelMap::Default),
            Err(TranscribeError::NoChannels)
        ));
    }

    #[test]
    fn words_far_apart_in_one_region_are_separate_speech() {
        let tok = |s: &str, t: Option<f64>| (s.as_bytes().to_vec(), t);
        let parts = split_parts(vec![
            tok(" your", Some(0.3)),
            tok(" account", Some(0.6)),
            tok(".", None),
            tok(" Thank", Some(13.0)),
            tok(" you", Some(13.3)),
        ]);
        let got: Vec<(&str, Option<(f64, f64)>)> =
            parts.iter().map(|p| (p.text.as_str(), p.words)).collect();
        assert_eq!(
            got,
            vec![
                ("your account.", Some((0.3, 0.6))),
                ("Thank you", Some((13.0, 13.3)))
            ]
        );
        // The region 10..25 s sits at 0 s in its window.
        let piece = chunk::Piece {
            orig: Span {
                start: 10.0,
                end: 25.0,
            },
            at: 0.0,
        };
        let spans = part_spans(&piece, &parts);
        assert_eq!(
            spans,
            vec![
                Span {
                    start: 10.0,
                    end: 11.4
                },
                Span {
                    start: 22.7,
                    end: 25.0
                }
            ]
        );
        // One stretch covering most of its region keeps the VAD span; one
        // covering little of it shrinks to its words.
        let one = |a: f64, b: f64| {
            vec![Part {
                text: "x".into(),
                words: Some((a, b)),
                timed: Vec::new(),
            }]
        };
        assert_eq!(part_spans(&piece, &one(0.2, 13.0)), vec![piece.orig]);
        assert_eq!(
            part_spans(&piece, &one(1.0, 2.0)),
            vec![Span {
                start: 10.7,
                end: 12.8
            }]
        );
    }

    #[test]
    fn token_times_reach_the_characters_of_the_cleaned_text() {
        // "卡号6222" where a token split the 号 character: 号 is timed by
        // the token it began in; punctuation keeps the word's time.
        let mut bytes = "卡".as_bytes().to_vec();
        let hao = "号".as_bytes();
        bytes.extend_from_slice(&hao[..2]);
        let second = bytes.len();
        bytes.extend_from_slice(&hao[2..]);
        let third = bytes.len();
        bytes.extend_from_slice("62，".as_bytes());
        let timed = timed_chars(&bytes, &[(0, 1.0), (second, 1.2), (third, 1.5)]);
        assert_eq!(
            timed,
            vec![
                ('卡', 1.0),
                ('号', 1.0),
                ('6', 1.5),
                ('2', 1.5),
                ('，', 1.5)
            ]
        );
        // Cleaning collapsed a loop and tidying changed spaces and case:
        // the kept characters find their own times, in order.
        let rec: Vec<(char, f64)> = "my card is 4111 my card is 4111"
            .chars()
            .enumerate()
            .map(|(i, c)| (c, i as f64 * 0.1))
            .collect();
        let clock = align_clock("My card is 4111.", &rec);
        let times: Vec<(usize, f64)> = clock
            .iter()
            .map(|&(i, t)| (i, (t * 10.0).round() / 10.0))
            .collect();
        assert_eq!(times[0], (0, 0.0));
        assert_eq!(*times.last().unwrap(), (14, 1.4));
        assert_eq!(
            clock.len(),
            12,
            "every letter and digit is timed: {clock:?}"
        );
        // A character that was never recognised (inserted by cleaning) gets no time.
        assert_eq!(align_clock("x", &rec), Vec::new());
    }

    #[test]
    fn utterances_join_into_turns() {
        let u = |s: Option<Speaker>, a: f64, b: f64, t: &str| Utterance {
            speaker: s,
            span: Span { start: a, end: b },
            text: t.into(),
            timed: Vec::new(),
            voice: None,
        };
        let t = Transcript {
            language: Language::En,
            attribution: Attribution::Channels,
            utterances: vec![
                u(Some(Speaker::Agent), 0.0, 2.0, "Hello,"),
                u(Some(Speaker::Agent), 2.5, 4.0, "how can I help?"),
                u(Some(Speaker::Customer), 5.0, 7.0, "My order is late."),
                u(Some(Speaker::Agent), 12.0, 13.0, "Let me check."),
            ],
            timeline: SpeechTimeline::default(),
            duration: 14.0,
            dropped: 0,
            collapsed: 0,
            notes: vec![],
            quality: Quality::default(),
        };
        let speakers: Vec<Speaker> = t.utterances.iter().filter_map(|u| u.speaker).collect();
        let turns: Vec<(Speaker, f64, f64, String)> = t
            .turns(&speakers)
            .into_iter()
            .map(|d| (d.speaker, d.start, d.end, d.text))
            .collect();
        assert_eq!(
            turns,
            vec![
                (
                    Speaker::Agent,
                    0.0,
                    4.0,
                    "Hello, how can I help?".to_owned()
                ),
                (Speaker::Customer, 5.0, 7.0, "My order is late.".to_owned()),
                (Speaker::Agent, 12.0, 13.0, "Let me check.".to_owned()),
            ]
        );
    }
}
