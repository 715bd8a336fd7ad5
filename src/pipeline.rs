//! The pipeline: the one place that knows the order of the stages.
//!
//! intake → (decode → transcribe, for calls) → conversation → embed (text
//! models) → analyse → score → coach → redact (text, and for calls a
//! redacted copy of the recording) → store → publish (queue worker).
//!
//! `Pipeline::run` is the one way in for every caller (job files, JSON
//! lines, recordings named on the command line, queue messages): input in,
//! a stored result or a stored failure record out. `Engine` is the
//! synchronous, CPU-bound part (job in, result out; `Engine::assess` takes a
//! conversation already built); it never runs on the async executor.
//!
//! Each job runs inside one tracing span (`job_span`: id, kind, language,
//! agent), and each stage runs once inside `stage` (or `stage_async`),
//! which times it for the metrics, logs it in that span and maps its error
//! to a `JobError` with the stage and the disposition.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::analyse::{self, Analyser, Subject};
use crate::decode::{self, DecodeOptions};
use crate::diarize::{self, Voices};
use crate::domain::{
    CallJob, ChannelMap, Conversation, Diagnostic, Job, JobHeader, JobId, Language, LanguageChoice,
    Medium, QaResult, Recording, Versions,
};
use crate::embed::{EmbedError, ModelPaths, SpeakerEncoder, TextModels};
use crate::error::{Classify, Disposition, JobError, Stage};
use crate::intake::{self, BareRecording, Input, IntakeError, IntakeOptions};
use crate::redact::{AudioPolicy, PrivacyOptions, Redaction, Redactor};
use crate::rules::{PackError, PackSet};
use crate::store::{Saved, Store};
use crate::telemetry::{self, Counter};
use crate::transcribe::{roles, AsrOptions, Transcriber, Transcript, Vocabulary};
use crate::wire::{FailureWire, ResultWire};

/// How a stage's error becomes a `JobError`: a module's error is
/// classified by its `Classify`; a `JobError` from a nested step keeps the
/// stage it names.
pub trait StageError {
    fn at(self, stage: Stage) -> JobError;
}

impl<E: Classify + std::fmt::Display> StageError for E {
    fn at(self, stage: Stage) -> JobError {
        JobError::new(stage, &self)
    }
}

impl StageError for JobError {
    fn at(self, _: Stage) -> JobError {
        self
    }
}

/// Runs one stage of a job: times it (the `callqa_stage_seconds` metric),
/// logs it in the job's span, and maps its error. Called once per stage
/// per job; nothing else times stages.
pub fn stage<T, E: StageError>(
    which: Stage,
    f: impl FnOnce() -> Result<T, E>,
) -> Result<T, JobError> {
    let started = Instant::now();
    let out = f();
    observed(which, started);
    out.map_err(|e| e.at(which))
}

/// `stage` for the stages that wait on I/O (intake, store, publish).
async fn stage_async<T, E: StageError>(
    which: Stage,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, JobError> {
    let started = Instant::now();
    let out = f.await;
    observed(which, started);
    out.map_err(|e| e.at(which))
}

fn observed(which: Stage, started: Instant) {
    let secs = started.elapsed().as_secs_f64();
    telemetry::observe_stage(which, secs);
    tracing::debug!(stage = %which, secs, "stage done");
}

/// The span every event about one job is logged in. The language is
/// recorded once known (detected for `auto` jobs).
pub fn job_span(job: &Job) -> tracing::Span {
    let h = job.header();
    tracing::info_span!(
        "job",
        id = %h.id,
        kind = job.medium().as_str(),
        language = tracing::field::Empty,
        agent = %h.agent.id,
    )
}

/// An error type for stages that cannot fail.
#[derive(Debug)]
pub enum Never {}
impl std::fmt::Display for Never {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {}
    }
}
impl Classify for Never {
    fn disposition(&self) -> crate::error::Disposition {
        match *self {}
    }
}

/// What the engine needs to start.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub rules_dir: std::path::PathBuf,
    /// Model directory (`scripts/fetch-models.sh`, `scripts/setup.sh`).
    pub models_dir: std::path::PathBuf,
    /// Skip the text models (sentiment, intent, semantic rules). Must be
    /// asked for: otherwise a missing model fails `Engine::load`.
    pub rules_only: bool,
    /// Worker threads that will call `process` at once: one encoder
    /// session (and one Whisper state) each.
    pub workers: usize,
    /// Speech recognition for call jobs (`[asr]`).
    pub asr: AsrOptions,
}

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Pack(#[from] PackError),
    #[error(transparent)]
    Models(#[from] EmbedError),
}

/// What call jobs need: the Whisper model, loaded on the first call (a
/// batch of chats never pays for it), and the decoding limits.
struct Calls {
    models_dir: PathBuf,
    asr: AsrOptions,
    workers: usize,
    decode: DecodeOptions,
    /// The packs' vocabulary, handed to the recognizer.
    vocabulary: Vocabulary,
    /// Loaded once; a failed load is not kept, so the next call job tries
    /// again (the file may have been fetched meanwhile).
    transcriber: Mutex<Option<Arc<Transcriber>>>,
    /// The speaker encoder for mono calls, loaded on the first one.
    speaker: Mutex<Option<Arc<SpeakerEncoder>>>,
}

impl Calls {
    /// Decode limits for one call: only the channels the map transcribes
    /// are held (a mixed map is downmixed while decoding), so an 8-channel
    /// file costs the memory of the two channels that are used.
    fn decode_for(&self, map: ChannelMap) -> DecodeOptions {
        let keep = match map {
            ChannelMap::Default => decode::Keep::Only(vec![0, 1]),
            ChannelMap::Split { agent, customer } => decode::Keep::Only(vec![agent, customer]),
            ChannelMap::Mixed => decode::Keep::Downmix,
        };
        DecodeOptions {
            keep,
            ..self.decode.clone()
        }
    }

    fn transcriber(&self) -> Result<Arc<Transcriber>, JobError> {
        load_once(&self.transcriber, Stage::Transcribe, "speech model", || {
            Transcriber::load(&self.models_dir, &self.asr, self.workers)
        })
    }

    fn speaker_encoder(&self) -> Result<Arc<SpeakerEncoder>, JobError> {
        load_once(&self.speaker, Stage::Diarize, "speaker model", || {
            let paths = ModelPaths::new(&self.models_dir);
            SpeakerEncoder::load(
                &paths.runtime(),
                &paths.speaker(),
                &paths.speaker_segmentation(),
            )
        })
    }
}

/// A model loaded on first use and shared. Holding the lock while loading
/// makes concurrent first calls wait for one load instead of each loading
/// the model; a failed load is not kept, so the next job tries again.
/// Loading is not the stage's work: not timed as it.
fn load_once<T, E: StageError>(
    slot: &Mutex<Option<Arc<T>>>,
    stage: Stage,
    what: &str,
    load: impl FnOnce() -> Result<T, E>,
) -> Result<Arc<T>, JobError> {
    let mut slot = slot
        .lock()
        .map_err(|_| JobError::retry(stage, format!("{what} lock poisoned")))?;
    if let Some(t) = slot.as_ref() {
        return Ok(t.clone());
    }
    let t = Arc::new(load().map_err(|e| e.at(stage))?);
    *slot = Some(t.clone());
    Ok(t)
}

/// What a reviewer should know about how a conversation was built (speech
/// recognition notes), the speech model that built it, and whether it can
/// be scored. Empty for chats.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    pub notes: Vec<Diagnostic>,
    pub speech_model: Vec<(String, String)>,
    /// Why the conversation cannot be scored (see [`unscoreable`]).
    pub unscoreable: Option<String>,
}

/// What a reviewer should know about a mono call's speakers.
fn roles_note(v: &Voices, roles: &roles::Roles) -> String {
    let confidence = roles.confidence.unwrap_or(0.5);
    let how = if v.count == 2 {
        format!(
            "two voices told apart by the speaker model (similarity {:.2}) and cut where they change",
            v.similarity
        )
    } else {
        format!(
            "one voice heard, or two too alike to tell apart (similarity {:.2}): speakers inferred from what was said and from turn-taking",
            v.similarity
        )
    };
    let sure = if confidence >= roles::MIN_ROLE_CONFIDENCE {
        format!("roles named with confidence {confidence:.2}")
    } else {
        format!(
            "roles uncertain (confidence {confidence:.2} < {:.2}): flags about what the agent or the customer said may be on the wrong speaker; listen before acting on them",
            roles::MIN_ROLE_CONFIDENCE
        )
    };
    format!("mono recording: {how}; {sure}")
}

/// Share of a call's speech that may be unclear before its transcript is
/// no longer a fair basis for a score.
const MAX_UNCLEAR_SHARE: f64 = 0.5;

/// Why a call's transcript cannot be scored, if it cannot: no recognised
/// words at all, or most of the speech not recognised with confidence.
fn unscoreable(t: &Transcript) -> Option<String> {
    let q = &t.quality;
    if t.utterances.is_empty() {
        return Some(if q.speech_s > 0.0 {
            format!(
                "no words were recognised in {:.1} s of sound (noise, music or unclear speech)",
                q.speech_s
            )
        } else {
            "the recording holds no speech".to_owned()
        });
    }
    (q.unclear_share() > MAX_UNCLEAR_SHARE).then(|| {
        format!(
            "{:.0} % of the speech ({:.1} of {:.1} s) could not be recognised with confidence",
            100.0 * q.unclear_share(),
            q.unclear_s,
            q.speech_s
        )
    })
}

/// Job in, QA result out. Loaded once; shared by all workers.
pub struct Engine {
    packs: PackSet,
    /// Analysers per pack, in the same order as `packs`.
    analysers: Vec<(Language, Vec<Box<dyn Analyser>>)>,
    /// `None` only for an explicit rules-only engine.
    models: Option<Arc<TextModels>>,
    /// `None` for engines built from packs alone (tests of chats).
    calls: Option<Calls>,
    /// Masks personal data in every result before it leaves the engine.
    redactor: Redactor,
}

impl Engine {
    pub fn load(opts: &EngineOptions) -> Result<Self, LoadError> {
        let packs = PackSet::load(&opts.rules_dir)?;
        // The Whisper model loads on the first call job. Without it, chats
        // still run; call jobs fail with the missing file and the fetch
        // command (retried, then dead-lettered by the worker; never lost).
        if let Err(e) = Transcriber::check(&opts.models_dir, &opts.asr) {
            tracing::warn!(error = %e, "call jobs cannot be transcribed");
        }
        let models = if opts.rules_only {
            None
        } else {
            Some(Arc::new(TextModels::load(
                &ModelPaths::new(&opts.models_dir),
                opts.workers,
            )?))
        };
        let mut engine = Self::with_models(packs, models)?;
        engine.calls = Some(Calls {
            models_dir: opts.models_dir.clone(),
            asr: opts.asr.clone(),
            workers: opts.workers,
            decode: DecodeOptions {
                max_duration_s: opts.asr.max_duration_s,
                ..DecodeOptions::default()
            },
            vocabulary: engine.vocabulary(),
            transcriber: Mutex::new(None),
            speaker: Mutex::new(None),
        });
        Ok(engine)
    }

    /// An engine from loaded packs and (unless rules-only) loaded models.
    pub fn with_models(packs: PackSet, models: Option<Arc<TextModels>>) -> Result<Self, LoadError> {
        let mut analysers = Vec::new();
        for p in packs.iter() {
            analysers.push((p.language, analyse::build(p, models.as_deref())?));
        }
        let redactor = Redactor::new(PrivacyOptions::text_only(), Some(&packs));
        Ok(Engine {
            packs,
            analysers,
            models,
            calls: None,
            redactor,
        })
    }

    /// The engine with `[privacy]` settings (mask style, the redacted copy
    /// of recordings). Without it, text is masked in the default style and
    /// no audio is written.
    pub fn with_privacy(mut self, options: PrivacyOptions) -> Self {
        self.redactor = Redactor::new(options, Some(&self.packs));
        self
    }

    /// Personal data in `text` masked the way results are (failure
    /// reasons, anything else that leaves the engine).
    pub fn redact_text(&self, text: &str) -> String {
        // Both languages' conventions: the text's language is unknown.
        self.redactor.text(text, Language::Zh)
    }

    /// Whether the text models are loaded (false only when rules-only).
    pub fn has_models(&self) -> bool {
        self.models.is_some()
    }

    /// The loaded models' names and checksums; `None` when rules-only.
    pub fn models_versions(&self) -> Option<&[(String, String)]> {
        self.models.as_ref().map(|m| m.versions())
    }

    pub fn packs(&self) -> &PackSet {
        &self.packs
    }

    /// The packs' vocabulary lists for the recognizer's prompt.
    fn vocabulary(&self) -> Vocabulary {
        let get = |l: Language| -> Vec<String> {
            self.packs
                .get(l)
                .map(|p| p.vocabulary().to_vec())
                .unwrap_or_default()
        };
        Vocabulary {
            zh: get(Language::Zh),
            en: get(Language::En),
        }
    }

    fn analysers(&self, language: Language) -> &[Box<dyn Analyser>] {
        self.analysers
            .iter()
            .find(|(l, _)| *l == language)
            .map(|(_, a)| a.as_slice())
            .unwrap_or(&[])
    }

    /// Builds the conversation of a job: chats directly, calls through
    /// decoding and transcription. Also returns what a reviewer should know
    /// about how it was built, and the speech model used.
    fn conversation(&self, job: &Job) -> Result<(Conversation, Provenance), JobError> {
        match job {
            Job::Chat(chat) => {
                let language = match chat.header.language {
                    LanguageChoice::Fixed(l) => l,
                    LanguageChoice::Auto => {
                        crate::text::detect_language(chat.messages.iter().map(|m| m.text.as_str()))
                    }
                };
                let conv = Conversation::from_chat(chat, language);
                Ok((conv, Provenance::default()))
            }
            Job::Call(call) => {
                let calls = self.calls.as_ref().ok_or_else(|| {
                    JobError::reject(
                        Stage::Transcribe,
                        "this engine was built without speech recognition",
                    )
                })?;
                let asr = calls.transcriber()?;
                let opts = calls.decode_for(call.recording.channels);
                let audio = stage(Stage::Decode, || {
                    decode::decode_file(&call.recording.path, &opts)
                })?;
                let mut transcript = stage(Stage::Transcribe, || {
                    asr.transcribe(
                        &audio,
                        call.recording.channels,
                        call.header.language,
                        &calls.vocabulary,
                    )
                })?;
                // Mono calls: whose voice is where.
                let mixed = crate::transcribe::mixed_signal(&audio, call.recording.channels);
                let voices = if let (Some(pcm), false) = (mixed, transcript.utterances.is_empty()) {
                    let encoder = calls.speaker_encoder()?;
                    let opts = &calls.asr.diarize;
                    Some(stage(Stage::Diarize, || {
                        let v = diarize::voices(&pcm, &transcript.timeline.mixed, &encoder, opts)?;
                        tracing::debug!(
                            voices = v.count,
                            similarity = v.similarity,
                            windows = v.windows,
                            stretches = ?v.stretches.iter().map(|(s, v)| (s.start, s.end, *v)).collect::<Vec<_>>(),
                            "voices told apart"
                        );
                        diarize::split(&mut transcript, &v);
                        Ok::<_, crate::embed::EmbedError>(v)
                    })?)
                } else {
                    None
                };
                let unscoreable = unscoreable(&transcript);
                let (conv, notes) = self.call_conversation(call, transcript, voices.as_ref());
                Ok((
                    conv,
                    Provenance {
                        notes,
                        speech_model: asr.versions(),
                        unscoreable,
                    },
                ))
            }
        }
    }

    /// A transcript as a conversation: speakers from the channels, or on a
    /// mixed recording inferred from what each utterance says (the pack's
    /// agent and customer phrases are the cues).
    fn call_conversation(
        &self,
        call: &CallJob,
        t: Transcript,
        voices: Option<&Voices>,
    ) -> (Conversation, Vec<Diagnostic>) {
        let pack = self.packs.get(t.language);
        let roles = roles::speakers(&t, |text| pack.and_then(|p| p.speaker_cue(text)));
        let (turns, clocks): (Vec<_>, Vec<_>) = t
            .turns(&roles.speakers)
            .into_iter()
            .map(|d| ((d.speaker, d.start, d.end, d.text), d.clock))
            .unzip();
        let mut conv = Conversation::from_turns(
            call.header.id.clone(),
            Medium::Call,
            t.language,
            call.header.metadata.channel.clone(),
            turns,
            t.attribution,
        );
        for (turn, clock) in conv.turns.iter_mut().zip(clocks) {
            turn.clock = clock;
        }
        conv.duration = t.duration;
        conv.started_at = call.header.metadata.started_at;
        conv.timeline = Some(t.timeline);
        conv.roles_confidence = roles.confidence;
        let mut notes: Vec<Diagnostic> = t
            .notes
            .into_iter()
            .map(|message| Diagnostic {
                source: "transcribe".into(),
                message,
            })
            .collect();
        if let Some(v) = voices {
            notes.push(Diagnostic {
                source: "diarize".into(),
                message: roles_note(v, &roles),
            });
        }
        let q = t.quality;
        if q.unclear_s > 0.0 || q.cut_short > 0 || q.echoes > 0 {
            notes.push(Diagnostic {
                source: "transcribe".into(),
                message: format!(
                    "speech recognition: {:.1} s of {:.1} s of speech not recognised with confidence ({:.0} %){}{}; that time is not counted as silence",
                    q.unclear_s,
                    q.speech_s,
                    100.0 * q.unclear_share(),
                    if q.cut_short > 0 {
                        format!(", {} window(s) cut short by the decoding budget", q.cut_short)
                    } else {
                        String::new()
                    },
                    if q.echoes > 0 {
                        format!(", {} prompt echo(es) removed", q.echoes)
                    } else {
                        String::new()
                    },
                ),
            });
        }
        if t.dropped > 0 || t.collapsed > 0 {
            notes.push(Diagnostic {
                source: "transcribe".into(),
                message: format!(
                    "speech recognition: {} stretch(es) of text invented on noise or music dropped, {} repeated phrase(s) collapsed",
                    t.dropped, t.collapsed
                ),
            });
        }
        (conv, notes)
    }

    /// Scores one job. CPU-bound: call from a blocking thread (inside the
    /// job's span, `job_span`, to have its events carry the job).
    pub fn process(&self, job: &Job) -> Result<QaResult, JobError> {
        let (conv, provenance) = self.conversation(job)?;
        let recording = match job {
            Job::Call(c) => Some(&c.recording),
            Job::Chat(_) => None,
        };
        self.assess(job.header(), conv, provenance, recording)
    }

    /// A conversation in, a redacted QA result out: embed, analyse, score,
    /// coach, redact. `recording` is the call's audio (for the redacted
    /// copy); `None` for chats. CPU-bound: call from a blocking thread.
    pub fn assess(
        &self,
        header: &JobHeader,
        conv: Conversation,
        provenance: Provenance,
        recording: Option<&Recording>,
    ) -> Result<QaResult, JobError> {
        tracing::Span::current().record("language", tracing::field::display(conv.language));
        let pack = self.packs.get(conv.language).ok_or_else(|| {
            JobError::reject(
                Stage::Analyse,
                format!("no rule pack for language {}", conv.language),
            )
        })?;
        // The text models run once per conversation, all turns in one
        // batch.
        let (signals, embed_error) = match &self.models {
            Some(m) => match embed_outcome(stage(Stage::Embed, || m.signals(&conv)))? {
                Ok(s) => (Some(s), None),
                Err(e) => (None, Some(e)),
            },
            None => (None, None),
        };
        let subject = Subject {
            conv: &conv,
            metadata: &header.metadata,
            signals: signals.as_ref(),
        };
        let mut analysis = stage(Stage::Analyse, || {
            Ok::<_, Never>(analyse::run(self.analysers(conv.language), &subject))
        })?;
        analysis.diagnostics.extend(provenance.notes);
        analyse::mark_uncertain_roles(&mut analysis, &conv, roles::MIN_ROLE_CONFIDENCE);
        if let Some(e) = embed_error {
            tracing::warn!(error = %e, "text models failed; rules only for this job");
            analysis.diagnostics.push(Diagnostic {
                source: "embed".into(),
                message: format!(
                    "text models failed, so sentiment, intent and semantic rules did not run: {}",
                    e.message
                ),
            });
        }
        let scored = stage(Stage::Score, || {
            Ok::<_, Never>(pack.scorecard.apply(&analysis.flags))
        })?;
        let coaching = stage(Stage::Coach, || {
            Ok::<_, Never>(crate::coach::suggest(pack, &analysis.flags))
        })?;
        let mut metadata = header.metadata.clone();
        metadata.started_at = metadata.started_at.or(conv.started_at);
        let mut result = QaResult {
            job_id: header.id.clone(),
            agent: header.agent.clone(),
            medium: conv.medium,
            language: conv.language,
            channel: conv.channel.clone(),
            attribution: conv.attribution,
            metadata,
            recording: recording.map(|r| r.path.clone()),
            turns: conv.turns,
            analysis,
            scored,
            unscoreable: provenance.unscoreable,
            coaching,
            versions: Versions {
                callqa: env!("CARGO_PKG_VERSION").to_owned(),
                rule_pack: pack.label(),
                scorecard: pack.scorecard.label(),
                models: self
                    .models
                    .as_ref()
                    .map(|m| m.versions().to_vec())
                    .unwrap_or_default()
                    .into_iter()
                    .chain(provenance.speech_model)
                    .collect(),
            },
            processed_at: chrono::Utc::now(),
        };
        // Nothing after this stage, and nothing that reads the result, sees
        // personal data in clear.
        stage(Stage::Redact, || {
            self.redact(&header.id, recording, &mut result)
        })?;
        Ok(result)
    }

    /// Masks personal data in the result and, for a call with some, points
    /// it at a copy of the recording with those spans silenced.
    fn redact(
        &self,
        id: &JobId,
        recording: Option<&Recording>,
        result: &mut QaResult,
    ) -> Result<(), JobError> {
        let redaction = self.redactor.result(result);
        // Custom CRM fields are free text: masked like the rest.
        for v in result.metadata.custom.values_mut() {
            *v = self.redact_text(v);
        }
        if let Some(path) = recording {
            if let Some(copy) = self.redact_audio(id, path, &redaction)? {
                result.recording = Some(copy);
            }
        }
        Ok(())
    }

    /// Calls with personal data: writes the recording with those spans
    /// silenced and returns its path (`None`: nothing to silence, or
    /// `[privacy] audio = "off"`).
    pub(crate) fn redact_audio(
        &self,
        id: &JobId,
        recording: &Recording,
        redaction: &Redaction,
    ) -> Result<Option<PathBuf>, JobError> {
        let opts = &self.redactor.options;
        if opts.audio == AudioPolicy::Off || redaction.is_empty() {
            return Ok(None);
        }
        let Some(calls) = self.calls.as_ref() else {
            return Ok(None);
        };
        // Decoded again rather than held through the analysis: only calls
        // with personal data pay for it. Timed as part of redaction. Only
        // the channels that were transcribed are decoded and kept (a
        // channel never transcribed was never checked for personal data).
        let audio = decode::decode_file(&recording.path, &calls.decode_for(recording.channels))
            .map_err(|e| e.at(Stage::Decode))?;
        let spans = redaction.time_spans(opts.audio_pad_ms as f64 / 1000.0);
        let dest = crate::redact::audio::copy_path(&opts.audio_dir, id.as_str());
        let replace = (opts.audio == AudioPolicy::Replace).then_some(recording.path.as_path());
        let mut channels: Vec<Vec<f32>> = audio
            .channels
            .into_iter()
            .map(decode::Pcm16k::into_samples)
            .filter(|c| !c.is_empty())
            .collect();
        crate::redact::audio::write_copy(
            &mut channels,
            decode::Pcm16k::RATE,
            &spans,
            &dest,
            replace,
        )
        .map_err(|e| e.at(Stage::Redact))?;
        tracing::info!(spans = spans.len(), path = %dest.display(), "redacted recording written");
        // Absolute, so the review server finds it whatever its directory.
        Ok(Some(std::fs::canonicalize(&dest).unwrap_or(dest)))
    }
}

/// What a text-model failure does to the job. A transient one (inference
/// out of memory, a poisoned session pool) fails the job for a retry: stored
/// without sentiment and intent, a result would be final, since the store
/// keeps the first result of a job id. Any other failure leaves a
/// diagnostic beside the rule findings (`Ok(Err(e))`).
fn embed_outcome<T>(r: Result<T, JobError>) -> Result<Result<T, JobError>, JobError> {
    match r {
        Err(e) if e.disposition == Disposition::Retry => Err(e),
        other => Ok(other),
    }
}

/// How one input ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Scored and stored (or already stored: `saved` says which).
    Done {
        result: Box<ResultWire>,
        saved: Saved,
    },
    /// Rejected: recorded as a failure with its reason.
    Failed(FailureWire),
}

/// The publish stage: where a stored result goes next (the queue worker's
/// results exchange). Implemented outside the pipeline, by the module that
/// owns the transport.
pub trait Publish: Sync {
    type Error: Classify + std::fmt::Display;
    fn publish(
        &self,
        result: &ResultWire,
    ) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send;
}

/// The engine plus storage, for async callers.
#[derive(Clone)]
pub struct Pipeline {
    engine: Arc<Engine>,
    store: Store,
    intake: IntakeOptions,
    /// How recordings named directly (`Input::Recording`) are read.
    recordings: BareRecording,
    /// Bounds CPU-heavy work however many callers there are.
    cpu: Arc<Semaphore>,
}

impl Pipeline {
    pub fn new(
        engine: Arc<Engine>,
        store: Store,
        intake: IntakeOptions,
        concurrency: usize,
    ) -> Self {
        Pipeline {
            engine,
            store,
            intake,
            recordings: BareRecording::default(),
            cpu: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    /// The pipeline reading recordings named directly this way (agent,
    /// language, channels: `callqa analyze call.wav --agent …`).
    pub fn with_recordings(mut self, how: BareRecording) -> Self {
        self.recordings = how;
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Runs one input: intake, scoring, storage. Rejections are stored as
    /// failure records and returned as `Outcome::Failed`; an `Err` is a
    /// transient fault (retry): nothing was stored. The error names the job
    /// when its id could be read.
    pub async fn run(&self, input: Input) -> Result<Outcome, JobError> {
        let source = input.source();
        match self.intake(input).await {
            Ok(job) => self.run_job(&source, job).await,
            Err(e) => self.fail(&source, e).await,
        }
    }

    /// `run`, then publishes the stored result: the queue worker's unit of
    /// work. Publishing comes strictly after the store commit, so a
    /// published result is always in the store; a redelivered job whose
    /// result is already stored is published again (at least once), since
    /// the earlier attempt may have died between the two.
    pub async fn run_published<P: Publish>(
        &self,
        input: Input,
        publisher: &P,
    ) -> Result<Outcome, JobError> {
        let outcome = self.run(input).await?;
        if let Outcome::Done { result, .. } = &outcome {
            let span = tracing::info_span!("job", id = %result.job_id);
            stage_async(Stage::Publish, publisher.publish(result))
                .instrument(span)
                .await
                .map_err(|e| e.for_job(Some(&result.job_id)))?;
        }
        Ok(outcome)
    }

    /// `run` on a job given as JSON (`Input::Message`).
    pub async fn run_json(&self, source: &str, bytes: Vec<u8>) -> Result<Outcome, JobError> {
        self.run(Input::Message {
            source: source.to_owned(),
            body: bytes,
        })
        .await
    }

    /// `run_published` on a job given as JSON (`Input::Message`).
    pub async fn run_json_published<P: Publish>(
        &self,
        source: &str,
        bytes: Vec<u8>,
        publisher: &P,
    ) -> Result<Outcome, JobError> {
        let input = Input::Message {
            source: source.to_owned(),
            body: bytes,
        };
        self.run_published(input, publisher).await
    }

    /// The intake stage for every kind of input: read, parse, validate.
    async fn intake(&self, input: Input) -> Result<Job, JobError> {
        let parse = |body: &[u8]| {
            intake::parse_job(body, &self.intake)
                .map_err(|(id, e)| e.at(Stage::Intake).for_job(id.as_deref()))
        };
        let job = async {
            match input {
                Input::Message { body, .. } => parse(&body),
                Input::JobLine(_, _, line) => parse(line.as_bytes()),
                Input::JobFile(path) => match tokio::fs::read(&path).await {
                    Ok(body) => parse(&body),
                    Err(source) => Err(IntakeError::Read {
                        path: path.display().to_string(),
                        source,
                    }
                    .at(Stage::Intake)),
                },
                Input::Recording(path) => {
                    // The id is a digest of the whole file: off the runtime.
                    let how = self.recordings.clone();
                    tokio::task::spawn_blocking(move || intake::bare_recording(&path, &how))
                        .await
                        .map_err(|e| {
                            JobError::retry(Stage::Intake, format!("intake thread failed: {e}"))
                        })?
                        .map_err(|e| e.at(Stage::Intake))
                }
            }
        };
        stage_async(Stage::Intake, job).await
    }

    /// Scores and stores a validated job, inside its span.
    pub async fn run_job(&self, source: &str, job: Job) -> Result<Outcome, JobError> {
        let job_id = job.id().to_string();
        let span = job_span(&job);
        self.score_and_store(source, job, span.clone())
            .instrument(span)
            .await
            .map_err(|e| e.for_job(Some(&job_id)))
    }

    async fn score_and_store(
        &self,
        source: &str,
        job: Job,
        span: tracing::Span,
    ) -> Result<Outcome, JobError> {
        let job_id = job.id().to_string();
        let store_err = |e: crate::store::StoreError| e.at(Stage::Store);
        // Metadata a re-sent job carries (CSAT, resolution, … that the CRM
        // learnt after the call) updates the stored result.
        let late = crate::wire::job::MetadataWire::from(&job.header().metadata);
        // A redelivered job whose result is stored needs no work.
        if self.store.result_exists(&job_id).await.map_err(store_err)? {
            telemetry::count(Counter::JobsDuplicate);
            self.resent(source, &job_id, &late).await?;
            if let Some(r) = self.store.get_result(&job_id).await.map_err(store_err)? {
                return Ok(Outcome::Done {
                    result: Box::new(r),
                    saved: Saved::Duplicate,
                });
            }
        }
        let permit = self
            .cpu
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| JobError::retry(Stage::Analyse, "shutting down"))?;
        let engine = self.engine.clone();
        let processed = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let _in_span = span.enter();
            engine.process(&job).map(|r| ResultWire::from(&r))
        })
        .await
        .map_err(|e| JobError::retry(Stage::Analyse, format!("worker thread failed: {e}")))?;
        let result = match processed {
            Ok(result) => result,
            Err(e) => return self.fail(source, e.for_job(Some(&job_id))).await,
        };
        let saved = stage_async(Stage::Store, self.store.save_result(&result)).await?;
        let result = match saved {
            Saved::Inserted => {
                telemetry::count(Counter::JobsProcessed);
                if result.is_flagged() {
                    telemetry::count(Counter::JobsFlagged);
                }
                result
            }
            Saved::Duplicate => {
                // Another copy of this job id was stored while this one was
                // scored (perhaps with other content): the stored result is
                // the one that counts, and the one to publish, so stored
                // and published agree.
                telemetry::count(Counter::JobsDuplicate);
                self.resent(source, &result.job_id, &late).await?;
                self.store
                    .get_result(&result.job_id)
                    .await
                    .map_err(store_err)?
                    .unwrap_or(result)
            }
        };
        Ok(Outcome::Done {
            result: Box::new(result),
            saved,
        })
    }

    /// A job id that already has a stored result: that result stands (the
    /// first analysis wins), but the job's metadata is applied to it — a
    /// re-sent job with a new CSAT or resolution updates them, logged in
    /// the metadata audit log; the same metadata changes nothing.
    async fn resent(
        &self,
        source: &str,
        job_id: &str,
        metadata: &crate::wire::job::MetadataWire,
    ) -> Result<(), JobError> {
        let mut metadata = metadata.clone();
        for v in metadata.custom.values_mut() {
            *v = self.engine.redact_text(v);
        }
        let change = self
            .store
            .update_metadata(job_id, &metadata, "job", &format!("resend:{source}"))
            .await
            .map_err(|e| e.at(Stage::Store))?;
        if let Some(c) = change.filter(|c| !c.changes.is_empty()) {
            let fields: Vec<&str> = c.changes.keys().map(String::as_str).collect();
            tracing::info!(job_id, fields = ?fields, "re-sent job: metadata updated");
        }
        Ok(())
    }

    /// A late-metadata message (`intake::metadata_message`): applied to the
    /// stored result(s) it names, with an audit entry (actor `queue`,
    /// source the message's origin), as `callqa import` would. A job id or
    /// ticket id with no stored result yet is a transient error: the CRM
    /// may answer before the call is recognised, so the message is retried
    /// and dead-lettered with its reason only when retries run out.
    pub async fn run_metadata(
        &self,
        source: &str,
        fields: serde_json::Map<String, serde_json::Value>,
    ) -> Result<crate::report::import::ImportSummary, JobError> {
        use crate::report::import::{self, ImportRow, Key};
        let (key, patch) = import::row_of(&fields)
            .map_err(|m| JobError::reject(Stage::Intake, format!("metadata message: {m}")))?;
        let job_id = match &key {
            Key::Job(j) => Some(j.clone()),
            Key::Ticket(_) => None,
        };
        let rows = [ImportRow {
            line: 1,
            key: key.clone(),
            patch,
        }];
        let summary = import::apply(&self.store, &rows, "queue", source)
            .await
            .map_err(|e| JobError::new(Stage::Store, &e).for_job(job_id.as_deref()))?;
        if !summary.not_found.is_empty() {
            let what = match &key {
                Key::Job(j) => format!("job {j}"),
                Key::Ticket(t) => format!("ticket {t}"),
            };
            return Err(JobError::retry(
                Stage::Store,
                format!("metadata message: no stored result for {what} (yet)"),
            )
            .for_job(job_id.as_deref()));
        }
        tracing::info!(%source, updated = summary.updated, unchanged = summary.unchanged,
                       fields = ?summary.fields.keys().collect::<Vec<_>>(), "metadata message applied");
        Ok(summary)
    }

    /// Stores a failure record for a rejected job (a transient error is
    /// returned as it is, for a retry).
    pub async fn fail(&self, source: &str, e: JobError) -> Result<Outcome, JobError> {
        if e.disposition == Disposition::Retry {
            return Err(e);
        }
        let mut f = FailureWire::new(e.job_id.clone(), source, &e);
        f.reason = self.engine.redact_text(&f.reason);
        self.store
            .save_failure(&f)
            .await
            .map_err(|err| err.at(Stage::Store).for_job(e.job_id.as_deref()))?;
        telemetry::count(Counter::JobsFailed);
        Ok(Outcome::Failed(f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14, defect 4: a transient model failure is retried, never
    /// stored as a result without sentiment and intent.
    #[test]
    fn a_transient_model_failure_fails_the_job_for_a_retry() {
        let transient = JobError::retry(Stage::Embed, "out of memory");
        assert_eq!(embed_outcome::<()>(Err(transient.clone())), Err(transient));
        let broken = JobError::reject(Stage::Embed, "no output named embeddings");
        assert_eq!(embed_outcome::<()>(Err(broken.clone())), Ok(Err(broken)));
        assert_eq!(embed_outcome(Ok::<_, JobError>(7)), Ok(Ok(7)));
    }
}
