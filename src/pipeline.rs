//! The pipeline: the one place that knows the order of the stages.
//!
//! intake → (decode → transcribe, for calls) → conversation → embed (text
//! models) → analyse → score → coach → redact (text, and for calls a
//! redacted copy of the recording) → store → publish (queue worker).
//!
//! `Engine` is the synchronous, CPU-bound part (job in, result out); it
//! never runs on the async executor. `Pipeline` wraps it for async callers
//! (the CLI batch runner and the queue worker): bytes in, a stored result
//! or a stored failure record out, with each stage timed and its errors
//! mapped to a disposition in one place (`stage`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Semaphore;

use crate::analyse::{self, Analyser, Subject};
use crate::decode::{self, DecodeOptions};
use crate::domain::{
    CallJob, Conversation, Diagnostic, Job, Language, LanguageChoice, Medium, QaResult, Speaker,
    Versions,
};
use crate::embed::{EmbedError, ModelPaths, TextModels};
use crate::error::{Classify, JobError, Stage};
use crate::intake::{self, IntakeOptions};
use crate::redact::{AudioPolicy, PrivacyOptions, Redaction, Redactor};
use crate::rules::{PackError, PackSet};
use crate::store::{Saved, Store};
use crate::telemetry::{self, Counter};
use crate::transcribe::{roles, AsrOptions, Transcriber, Transcript, Vocabulary};
use crate::wire::{FailureWire, ResultWire};

/// Runs one stage: times it, traces it, and maps its error to a `JobError`
/// carrying the stage and the disposition.
pub fn stage<T, E: Classify + std::fmt::Display>(
    which: Stage,
    f: impl FnOnce() -> Result<T, E>,
) -> Result<T, JobError> {
    let t = Instant::now();
    let out = f();
    let secs = t.elapsed().as_secs_f64();
    telemetry::observe_stage(which, secs);
    tracing::trace!(stage = %which, secs, "stage done");
    out.map_err(|e| JobError::new(which, &e))
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
}

impl Calls {
    fn transcriber(&self) -> Result<Arc<Transcriber>, JobError> {
        // Holding the lock while loading makes concurrent first calls wait
        // for one load instead of each loading the model.
        let mut slot = self
            .transcriber
            .lock()
            .map_err(|_| JobError::retry(Stage::Transcribe, "speech model lock poisoned"))?;
        if let Some(t) = slot.as_ref() {
            return Ok(t.clone());
        }
        let t = stage(Stage::Transcribe, || {
            Transcriber::load(&self.models_dir, &self.asr, self.workers).map(Arc::new)
        })?;
        *slot = Some(t.clone());
        Ok(t)
    }
}

/// A job's conversation, what a reviewer should know about how it was
/// built (speech recognition notes), and the speech model that built it.
struct Built {
    conv: Conversation,
    notes: Vec<Diagnostic>,
    speech_model: Vec<(String, String)>,
    /// Why the conversation cannot be scored (see [`unscoreable`]).
    unscoreable: Option<String>,
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

    /// A rules-only engine (tests, `--rules-only`).
    pub fn from_packs(packs: PackSet) -> Self {
        let analysers = packs
            .iter()
            .map(|p| {
                let a = analyse::build(p, None).unwrap_or_default();
                (p.language, a)
            })
            .collect();
        let redactor = Redactor::new(PrivacyOptions::text_only(), Some(&packs));
        Engine {
            packs,
            analysers,
            models: None,
            calls: None,
            redactor,
        }
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
    fn conversation(&self, job: &Job) -> Result<Built, JobError> {
        match job {
            Job::Chat(chat) => {
                let language = match chat.header.language {
                    LanguageChoice::Fixed(l) => l,
                    LanguageChoice::Auto => {
                        crate::text::detect_language(chat.messages.iter().map(|m| m.text.as_str()))
                    }
                };
                let conv = stage(Stage::Intake, || {
                    Ok::<_, Never>(Conversation::from_chat(chat, language))
                })?;
                Ok(Built {
                    conv,
                    notes: Vec::new(),
                    speech_model: Vec::new(),
                    unscoreable: None,
                })
            }
            Job::Call(call) => {
                let calls = self.calls.as_ref().ok_or_else(|| {
                    JobError::reject(
                        Stage::Transcribe,
                        "this engine was built without speech recognition",
                    )
                })?;
                let asr = calls.transcriber()?;
                let audio = stage(Stage::Decode, || {
                    decode::decode_file(&call.recording.path, &calls.decode)
                })?;
                let transcript = stage(Stage::Transcribe, || {
                    asr.transcribe(
                        &audio,
                        call.recording.channels,
                        call.header.language,
                        &calls.vocabulary,
                    )
                })?;
                let unscoreable = unscoreable(&transcript);
                let (conv, notes) = self.call_conversation(call, transcript);
                Ok(Built {
                    conv,
                    notes,
                    speech_model: asr.versions(),
                    unscoreable,
                })
            }
        }
    }

    /// A transcript as a conversation: speakers from the channels, or on a
    /// mixed recording inferred from what each utterance says (the pack's
    /// agent and customer phrases are the cues).
    fn call_conversation(&self, call: &CallJob, t: Transcript) -> (Conversation, Vec<Diagnostic>) {
        let speakers: Vec<Speaker> = match t.attribution {
            crate::domain::Attribution::Inferred => {
                let pack = self.packs.get(t.language);
                let cues: Vec<roles::Cue> = t
                    .utterances
                    .iter()
                    .map(|u| match pack.and_then(|p| p.speaker_cue(&u.text)) {
                        Some(Speaker::Agent) => roles::Cue::Agent,
                        Some(Speaker::Customer) => roles::Cue::Customer,
                        None => roles::Cue::None,
                    })
                    .collect();
                roles::infer(&cues)
            }
            _ => t
                .utterances
                .iter()
                .map(|u| u.speaker.unwrap_or(Speaker::Customer))
                .collect(),
        };
        let mut conv = Conversation::from_turns(
            call.header.id.clone(),
            Medium::Call,
            t.language,
            call.header.metadata.channel.clone(),
            t.turns(&speakers),
            t.attribution,
        );
        conv.duration = t.duration;
        conv.started_at = call.header.metadata.started_at;
        conv.timeline = Some(t.timeline);
        let mut notes: Vec<Diagnostic> = t
            .notes
            .into_iter()
            .map(|message| Diagnostic {
                source: "transcribe".into(),
                message,
            })
            .collect();
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

    /// Scores one job. CPU-bound: call from a blocking thread.
    pub fn process(&self, job: &Job) -> Result<QaResult, JobError> {
        let Built {
            conv,
            notes,
            speech_model,
            unscoreable,
        } = self.conversation(job)?;
        let pack = self.packs.get(conv.language).ok_or_else(|| {
            JobError::reject(
                Stage::Analyse,
                format!("no rule pack for language {}", conv.language),
            )
        })?;
        let header = job.header();
        // The text models run once per conversation, all turns in one
        // batch. A model failure is a diagnostic beside the rule findings,
        // not a failed job.
        let (signals, embed_error) = match &self.models {
            Some(m) => match stage(Stage::Embed, || m.signals(&conv)) {
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
        analysis.diagnostics.extend(notes);
        if let Some(e) = embed_error {
            tracing::warn!(job = %header.id, error = %e, "text models failed; rules only for this job");
            analysis.diagnostics.push(crate::domain::Diagnostic {
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
        let coaching = crate::coach::suggest(pack, &analysis.flags);
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
            recording: match job {
                Job::Call(c) => Some(c.recording.path.clone()),
                Job::Chat(_) => None,
            },
            turns: conv.turns,
            analysis,
            scored,
            unscoreable,
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
                    .chain(speech_model)
                    .collect(),
            },
            processed_at: chrono::Utc::now(),
        };
        // Nothing below this line, and nothing that reads the result, sees
        // personal data in clear.
        let redaction = stage(Stage::Redact, || {
            Ok::<_, Never>(self.redactor.result(&mut result))
        })?;
        // Custom CRM fields are free text: masked like the rest.
        for v in result.metadata.custom.values_mut() {
            *v = self.redact_text(v);
        }
        if let Job::Call(call) = job {
            if let Some(copy) = self.redact_audio(call, &redaction)? {
                result.recording = Some(copy);
            }
        }
        Ok(result)
    }

    /// Calls with personal data: writes the recording with those spans
    /// silenced and returns its path (`None`: nothing to silence, or
    /// `[privacy] audio = "off"`).
    pub(crate) fn redact_audio(
        &self,
        call: &CallJob,
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
        // with personal data pay for it.
        let audio = stage(Stage::Decode, || {
            decode::decode_file(&call.recording.path, &calls.decode)
        })?;
        let spans = redaction.time_spans(opts.audio_pad_ms as f64 / 1000.0);
        let dest = crate::redact::audio::copy_path(&opts.audio_dir, call.header.id.as_str());
        let replace = (opts.audio == AudioPolicy::Replace).then_some(call.recording.path.as_path());
        let mut channels: Vec<Vec<f32>> = audio
            .channels
            .iter()
            .map(|c| c.samples().to_vec())
            .collect();
        stage(Stage::Redact, || {
            crate::redact::audio::write_copy(
                &mut channels,
                decode::Pcm16k::RATE,
                &spans,
                &dest,
                replace,
            )
        })?;
        tracing::info!(job = %call.header.id, spans = spans.len(), path = %dest.display(), "redacted recording written");
        // Absolute, so the review server finds it whatever its directory.
        Ok(Some(std::fs::canonicalize(&dest).unwrap_or(dest)))
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
            cpu: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Parses, scores and stores one job given as JSON. Rejections are
    /// stored as failure records and returned as `Outcome::Failed`; an
    /// `Err` is a transient fault (retry) — nothing was stored.
    pub async fn run_json(&self, source: &str, bytes: Vec<u8>) -> Result<Outcome, JobError> {
        let parsed = {
            let intake = self.intake.clone();
            let t = Instant::now();
            let r = intake::parse_job(&bytes, &intake);
            telemetry::observe_stage(Stage::Intake, t.elapsed().as_secs_f64());
            r
        };
        match parsed {
            Ok(job) => self.run_job(source, job).await,
            Err((job_id, e)) => {
                self.fail(job_id, source, JobError::new(Stage::Intake, &e))
                    .await
            }
        }
    }

    /// `run_json`, then publishes the stored result: the queue worker's unit
    /// of work. Publishing comes strictly after the store commit, so a
    /// published result is always in the store; a redelivered job whose
    /// result is already stored is published again (at least once), since
    /// the earlier attempt may have died between the two.
    pub async fn run_json_published<P: Publish>(
        &self,
        source: &str,
        bytes: Vec<u8>,
        publisher: &P,
    ) -> Result<Outcome, JobError> {
        let outcome = self.run_json(source, bytes).await?;
        if let Outcome::Done { result, .. } = &outcome {
            let t = Instant::now();
            let published = publisher.publish(result).await;
            telemetry::observe_stage(Stage::Publish, t.elapsed().as_secs_f64());
            published.map_err(|e| JobError::new(Stage::Publish, &e))?;
        }
        Ok(outcome)
    }

    /// Scores and stores a validated job.
    pub async fn run_job(&self, source: &str, job: Job) -> Result<Outcome, JobError> {
        let job_id = job.id().to_string();
        // Metadata a re-sent job carries (CSAT, resolution, … that the CRM
        // learnt after the call) updates the stored result.
        let late = crate::wire::job::MetadataWire::from(&job.header().metadata);
        // A redelivered job whose result is stored needs no work.
        if stage_store(self.store.result_exists(&job_id).await)? {
            telemetry::count(Counter::JobsDuplicate);
            self.resent(source, &job_id, &late).await?;
            if let Some(r) = stage_store(self.store.get_result(&job_id).await)? {
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
            engine.process(&job).map(|r| ResultWire::from(&r))
        })
        .await
        .map_err(|e| JobError::retry(Stage::Analyse, format!("worker thread failed: {e}")))?;
        match processed {
            Ok(result) => {
                let t = Instant::now();
                let saved = stage_store(self.store.save_result(&result).await)?;
                telemetry::observe_stage(Stage::Store, t.elapsed().as_secs_f64());
                let result = match saved {
                    Saved::Inserted => {
                        telemetry::count(Counter::JobsProcessed);
                        if result.is_flagged() {
                            telemetry::count(Counter::JobsFlagged);
                        }
                        result
                    }
                    Saved::Duplicate => {
                        // Another copy of this job id was stored while this
                        // one was scored (perhaps with other content): the
                        // stored result is the one that counts, and the one
                        // to publish, so stored and published agree.
                        telemetry::count(Counter::JobsDuplicate);
                        self.resent(source, &result.job_id, &late).await?;
                        stage_store(self.store.get_result(&result.job_id).await)?.unwrap_or(result)
                    }
                };
                Ok(Outcome::Done {
                    result: Box::new(result),
                    saved,
                })
            }
            Err(e) if e.disposition == crate::error::Disposition::Reject => {
                self.fail(Some(job_id), source, e).await
            }
            Err(e) => Err(e),
        }
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
        let change = stage_store(
            self.store
                .update_metadata(job_id, &metadata, "job", &format!("resend:{source}"))
                .await,
        )?;
        if let Some(c) = change.filter(|c| !c.changes.is_empty()) {
            let fields: Vec<&str> = c.changes.keys().map(String::as_str).collect();
            tracing::info!(job_id, fields = ?fields, "re-sent job: metadata updated");
        }
        Ok(())
    }

    /// Stores a failure record for a rejected job.
    pub async fn fail(
        &self,
        job_id: Option<String>,
        source: &str,
        e: JobError,
    ) -> Result<Outcome, JobError> {
        if e.disposition == crate::error::Disposition::Retry {
            return Err(e);
        }
        let mut f = FailureWire::new(job_id, source, &e);
        f.reason = self.engine.redact_text(&f.reason);
        stage_store(self.store.save_failure(&f).await)?;
        telemetry::count(Counter::JobsFailed);
        Ok(Outcome::Failed(f))
    }

    /// Reads a job file and runs it.
    pub async fn run_file(&self, path: &Path) -> Result<Outcome, JobError> {
        let source = path.display().to_string();
        match tokio::fs::read(path).await {
            Ok(bytes) => self.run_json(&source, bytes).await,
            Err(e) => {
                let err = intake::IntakeError::Read {
                    path: source.clone(),
                    source: e,
                };
                self.fail(None, &source, JobError::new(Stage::Intake, &err))
                    .await
            }
        }
    }
}

fn stage_store<T>(r: Result<T, crate::store::StoreError>) -> Result<T, JobError> {
    r.map_err(|e| JobError::new(Stage::Store, &e))
}
