//! # callqa — automated QA (智能质检) for contact-centre calls and chats
//!
//! The module tree is the pipeline. A job flows through these stages, in
//! the order that only [`pipeline`] knows; [`pipeline::Pipeline::run`] is
//! the one way in, each job runs in one tracing span, and each stage is
//! timed and its error mapped once, in [`pipeline::stage`]:
//!
//! | stage | module | what it does |
//! |---|---|---|
//! | intake | [`intake`] | job JSON (file, CLI, queue) or a bare recording → validated [`domain::Job`] |
//! | decode | [`decode`] | (calls) recording → 16 kHz mono PCM per speaker channel |
//! | transcribe | [`transcribe`] | (calls) voice activity → Whisper per channel → utterances merged by time |
//! | diarize | [`diarize`] | (mono calls) voices told apart by a speaker encoder; utterances cut where the voice changes |
//! | conversation | [`domain::conversation`] | chat messages or transcript → turns with speaker, time, text |
//! | embed | [`embed`] | sentence embeddings and sentiment per turn (ONNX Runtime), once per conversation |
//! | analyse | [`analyse`] | rules, personal data, timing, metrics, sentiment, intent, semantic rules → flags with evidence |
//! | score | [`score`] | scorecard (data) → 0–100, pass/fail, which item cost what |
//! | coach | [`coach`] | a concrete suggestion per rule that fired |
//! | redact | [`redact`] | personal data masked in turns, evidence and coaching; for calls, a recording with it silenced |
//! | store | [`store`] | results and failure records in SQLite or PostgreSQL |
//! | publish | [`queue`] | results to RabbitMQ, routed `result.flagged` / `result.clean` |
//!
//! Around them: [`domain`] (types every stage shares), [`wire`] (the JSON
//! at the edges), [`rules`] (rule packs a QA team edits), [`text`]
//! (normalisation for Chinese and English), [`learn`] (training and
//! evaluating the sentiment head, intent matching and speech recognition),
//! [`config`], [`cli`], [`logging`], [`telemetry`], [`desk`] (the review
//! desk's sampling plans and agreement figures), [`backtest`] (a rule
//! change tried on stored contacts), and [`error`] (every error says retry
//! or reject). The [`worker`] runs the pipeline behind RabbitMQ
//! ([`queue`]) and serves metrics and health ([`http::ops`]); [`report`]
//! builds evaluation reports and [`http`] serves the review page.

pub mod analyse;
pub mod backtest;
pub mod cli;
pub mod coach;
pub mod config;
pub mod decode;
pub mod desk;
pub mod diarize;
pub mod domain;
pub mod embed;
pub mod error;
pub mod http;
pub mod intake;
pub mod learn;
pub mod logging;
pub mod pipeline;
pub mod queue;
pub mod redact;
pub mod report;
pub mod rules;
pub mod score;
pub mod store;
pub mod telemetry;
pub mod text;
pub mod transcribe;
pub mod wire;
pub mod worker;
