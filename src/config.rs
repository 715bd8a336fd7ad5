//! Configuration: one serde tree with a default for every field, read from
//! a TOML file (`--config`, `CALLQA_CONFIG`, or `./callqa.toml` when
//! present), then `CALLQA_*` environment variables, then command-line flags
//! (applied by `cli`). `callqa.example.toml` documents every field and is
//! parsed in a test.

use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
}

/// Everything callqa can be told.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where results go: `sqlite://PATH` (embedded default) or
    /// `postgres://user@host/db` for many workers. Env: CALLQA_DATABASE.
    pub database: String,
    /// Rule pack directory with one subdirectory per language (zh/, en/).
    /// Env: CALLQA_RULES.
    pub rules: PathBuf,
    /// Model directory filled by scripts/fetch-models.sh. Env: CALLQA_MODELS.
    pub models: PathBuf,
    /// Directories call jobs may read recordings from; nothing outside them
    /// is opened. Env: CALLQA_RECORDING_ROOTS (colon-separated).
    pub recording_roots: Vec<PathBuf>,
    /// Run rules only, without the sentiment/intent/semantic models. Must be
    /// asked for: a missing model is an error otherwise. Env: CALLQA_RULES_ONLY.
    pub rules_only: bool,
    /// Jobs processed at once (0: one per CPU core). Env: CALLQA_CONCURRENCY.
    pub concurrency: usize,
    /// The evaluation scheme for `callqa report` and the report API.
    /// Env: CALLQA_EVALUATION.
    pub evaluation: PathBuf,
    /// The review server (`callqa serve`).
    pub http: HttpConfig,
    /// The queue worker (`callqa worker`) and `callqa submit`.
    pub queue: QueueConfig,
    /// Speech recognition for calls (Whisper model, threads, voice
    /// activity detection, recording limits).
    pub asr: crate::transcribe::AsrOptions,
    /// Redaction of personal data in text and recordings, and retention
    /// (docs/privacy.md).
    pub privacy: crate::redact::PrivacyOptions,
}

/// `[http]`: the review server.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address to listen on. Env: CALLQA_HTTP_LISTEN.
    pub listen: String,
    /// Seconds a signed audio link stays valid (30–86400).
    pub media_link_ttl_s: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: "127.0.0.1:8080".into(),
            media_link_ttl_s: 900,
        }
    }
}

/// RabbitMQ: where jobs come from and results go. Names of queues and
/// exchanges derive from `prefix` (see docs/worker.md).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Broker URL (plain AMQP; the vhost is URL-encoded, `%2f` is `/`).
    /// Env: CALLQA_AMQP_URL.
    pub url: String,
    /// Prefix of every queue and exchange name: `<prefix>.jobs`,
    /// `<prefix>.results`, `<prefix>.dead`, … Env: CALLQA_QUEUE_PREFIX.
    pub prefix: String,
    /// Type of the jobs queue: `classic` or `quorum` (replicated, and can
    /// cap redeliveries of a job that crashes workers). Fixed when the
    /// queue is first declared. Env: CALLQA_QUEUE_TYPE.
    pub queue_type: QueueType,
    /// Quorum queues only: deliveries of one message before the broker
    /// dead-letters it (guards against a job that kills every worker it
    /// reaches); 0 means no limit. Env: CALLQA_DELIVERY_LIMIT.
    pub delivery_limit: u32,
    /// Unacknowledged deliveries a worker holds at once; bounds memory and
    /// in-flight work. Env: CALLQA_PREFETCH.
    pub prefetch: u16,
    /// Retries of a job that failed transiently (database or broker down)
    /// before it is dead-lettered. Env: CALLQA_RETRY_ATTEMPTS.
    pub retry_attempts: u32,
    /// Delay before the first retry, in milliseconds; doubles per attempt.
    /// Env: CALLQA_RETRY_BACKOFF_MS.
    pub retry_backoff_ms: u64,
    /// Upper bound of the retry delay, in milliseconds.
    /// Env: CALLQA_RETRY_BACKOFF_MAX_MS.
    pub retry_backoff_max_ms: u64,
    /// Upper bound of the delay between reconnection attempts after the
    /// broker went away, in milliseconds. Env: CALLQA_RECONNECT_MAX_MS.
    pub reconnect_max_ms: u64,
    /// On SIGTERM, how long in-flight jobs may take to finish, in seconds;
    /// jobs still running then are left unacknowledged and redelivered.
    /// Env: CALLQA_SHUTDOWN_TIMEOUT_S.
    pub shutdown_timeout_s: u64,
    /// Address of the worker's HTTP endpoint (GET /metrics, GET /healthz);
    /// empty disables it. Env: CALLQA_METRICS_LISTEN.
    pub metrics_listen: String,
    /// Largest published result, in bytes (keep it under the broker's
    /// `max_message_size`, 16 MiB by default on RabbitMQ 4). A larger
    /// result is published without its transcript (the store keeps it
    /// whole); one still too large is dead-lettered with the reason.
    /// Env: CALLQA_MAX_RESULT_BYTES.
    pub max_result_bytes: usize,
}

/// RabbitMQ queue types callqa can declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueType {
    Classic,
    Quorum,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            prefix: "callqa".into(),
            queue_type: QueueType::Classic,
            delivery_limit: 10,
            prefetch: 32,
            retry_attempts: 5,
            retry_backoff_ms: 1_000,
            retry_backoff_max_ms: 60_000,
            reconnect_max_ms: 10_000,
            shutdown_timeout_s: 30,
            metrics_listen: "127.0.0.1:9464".into(),
            max_result_bytes: 8 << 20,
        }
    }
}

impl QueueConfig {
    /// Delay before retry number `attempt` (1-based), in milliseconds.
    pub fn retry_delay_ms(&self, attempt: u32) -> u64 {
        let doubled = self
            .retry_backoff_ms
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(32));
        doubled.min(self.retry_backoff_max_ms.max(self.retry_backoff_ms))
    }

    fn apply_env(&mut self) -> Result<(), ConfigError> {
        if let Some(v) = env("CALLQA_AMQP_URL") {
            self.url = v;
        }
        if let Some(v) = env("CALLQA_QUEUE_PREFIX") {
            self.prefix = v;
        }
        if let Some(v) = env("CALLQA_QUEUE_TYPE") {
            self.queue_type = match v.trim() {
                "classic" => QueueType::Classic,
                "quorum" => QueueType::Quorum,
                other => {
                    return Err(ConfigError::Env {
                        var: "CALLQA_QUEUE_TYPE".into(),
                        message: format!("{other:?} is not a queue type (classic or quorum)"),
                    })
                }
            };
        }
        if let Some(v) = env("CALLQA_DELIVERY_LIMIT") {
            self.delivery_limit = parse_num("CALLQA_DELIVERY_LIMIT", &v)?;
        }
        if let Some(v) = env("CALLQA_PREFETCH") {
            self.prefetch = parse_num("CALLQA_PREFETCH", &v)?;
        }
        if let Some(v) = env("CALLQA_RETRY_ATTEMPTS") {
            self.retry_attempts = parse_num("CALLQA_RETRY_ATTEMPTS", &v)?;
        }
        if let Some(v) = env("CALLQA_RETRY_BACKOFF_MS") {
            self.retry_backoff_ms = parse_num("CALLQA_RETRY_BACKOFF_MS", &v)?;
        }
        if let Some(v) = env("CALLQA_RETRY_BACKOFF_MAX_MS") {
            self.retry_backoff_max_ms = parse_num("CALLQA_RETRY_BACKOFF_MAX_MS", &v)?;
        }
        if let Some(v) = env("CALLQA_RECONNECT_MAX_MS") {
            self.reconnect_max_ms = parse_num("CALLQA_RECONNECT_MAX_MS", &v)?;
        }
        if let Some(v) = env("CALLQA_SHUTDOWN_TIMEOUT_S") {
            self.shutdown_timeout_s = parse_num("CALLQA_SHUTDOWN_TIMEOUT_S", &v)?;
        }
        if let Some(v) = env("CALLQA_MAX_RESULT_BYTES") {
            self.max_result_bytes = parse_num("CALLQA_MAX_RESULT_BYTES", &v)?;
        }
        if let Ok(v) = std::env::var("CALLQA_METRICS_LISTEN") {
            // Set but empty means "off", unlike the other variables.
            self.metrics_listen = v.trim().to_owned();
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database: "sqlite://callqa.db".into(),
            rules: "rules".into(),
            models: "models".into(),
            recording_roots: Vec::new(),
            rules_only: false,
            concurrency: 0,
            evaluation: "rules/evaluation.toml".into(),
            http: HttpConfig::default(),
            queue: QueueConfig::default(),
            asr: crate::transcribe::AsrOptions::default(),
            privacy: crate::redact::PrivacyOptions::default(),
        }
    }
}

fn env(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

fn parse_bool(var: &str, v: &str) -> Result<bool, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        other => Err(ConfigError::Env {
            var: var.into(),
            message: format!("{other:?} is not a boolean (true/false)"),
        }),
    }
}

fn parse_num<T: std::str::FromStr>(var: &str, v: &str) -> Result<T, ConfigError> {
    v.trim().parse().map_err(|_| ConfigError::Env {
        var: var.into(),
        message: format!("{v:?} is not a number"),
    })
}

impl Config {
    /// Reads a config file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::File {
            path: path.display().to_string(),
            message: match e.span() {
                Some(s) => format!(
                    "line {}: {}",
                    text[..s.start].matches('\n').count() + 1,
                    e.message()
                ),
                None => e.message().to_owned(),
            },
        })
    }

    /// Defaults, then the config file (explicit, CALLQA_CONFIG, or
    /// ./callqa.toml), then the environment.
    pub fn load(explicit: Option<&Path>) -> Result<Self, ConfigError> {
        let file = explicit
            .map(Path::to_path_buf)
            .or_else(|| env("CALLQA_CONFIG").map(PathBuf::from))
            .or_else(|| Some(PathBuf::from("callqa.toml")).filter(|p| p.is_file()));
        let mut cfg = match file {
            Some(p) => Config::from_file(&p)?,
            None => Config::default(),
        };
        cfg.apply_env()?;
        Ok(cfg)
    }

    /// Applies `CALLQA_*` variables over the current values.
    pub fn apply_env(&mut self) -> Result<(), ConfigError> {
        if let Some(v) = env("CALLQA_DATABASE") {
            self.database = v;
        }
        if let Some(v) = env("CALLQA_RULES") {
            self.rules = v.into();
        }
        if let Some(v) = env("CALLQA_MODELS") {
            self.models = v.into();
        }
        if let Some(v) = env("CALLQA_RECORDING_ROOTS") {
            self.recording_roots = std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect();
        }
        if let Some(v) = env("CALLQA_RULES_ONLY") {
            self.rules_only = parse_bool("CALLQA_RULES_ONLY", &v)?;
        }
        if let Some(v) = env("CALLQA_CONCURRENCY") {
            self.concurrency = parse_num("CALLQA_CONCURRENCY", &v)?;
        }
        if let Some(v) = env("CALLQA_EVALUATION") {
            self.evaluation = v.into();
        }
        if let Some(v) = env("CALLQA_HTTP_LISTEN") {
            self.http.listen = v;
        }
        if let Some(v) = env("CALLQA_ASR_MODEL") {
            self.asr.model = v.into();
        }
        if let Some(v) = env("CALLQA_ASR_ENGLISH_MODEL") {
            self.asr.english_model = v.into();
        }
        if let Some(v) = env("CALLQA_ASR_THREADS") {
            self.asr.threads = parse_num("CALLQA_ASR_THREADS", &v)?;
        }
        self.queue.apply_env()?;
        Ok(())
    }

    /// The number of jobs to process at once.
    pub fn effective_concurrency(&self) -> usize {
        if self.concurrency > 0 {
            self.concurrency
        } else {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses_and_names_every_field() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("callqa.example.toml");
        let cfg = Config::from_file(&path).expect("callqa.example.toml parses");
        assert_eq!(cfg.database, "sqlite://callqa.db");
        assert_eq!(cfg.rules, PathBuf::from("rules"));
        assert!(!cfg.recording_roots.is_empty());
        assert_eq!(cfg.evaluation, PathBuf::from("rules/evaluation.toml"));
        assert_eq!(cfg.http, HttpConfig::default());
        // The example documents the defaults: it must equal them.
        assert_eq!(cfg.queue, QueueConfig::default());
        assert_eq!(cfg.asr, crate::transcribe::AsrOptions::default());
        assert_eq!(cfg.privacy, crate::redact::PrivacyOptions::default());
    }

    #[test]
    fn privacy_section_overrides_and_rejects_typos() {
        let cfg: Config =
            toml::from_str("[privacy]\nmask = \"tag\"\naudio = \"replace\"\nretention_days = 90\n")
                .unwrap();
        assert_eq!(cfg.privacy.mask, crate::redact::MaskStyle::Tag);
        assert_eq!(cfg.privacy.audio, crate::redact::AudioPolicy::Replace);
        assert_eq!(cfg.privacy.retention_days, 90);
        assert_eq!(cfg.privacy.keep_digits, 4, "unset fields keep defaults");
        let err = toml::from_str::<Config>("[privacy]\nstore_raw = true\n").unwrap_err();
        assert!(err.to_string().contains("store_raw"), "{err}");
    }

    #[test]
    fn queue_section_overrides_and_rejects_typos() {
        let cfg: Config = toml::from_str(
            "[queue]\nurl = \"amqp://u:p@mq:5672/qa\"\nprefix = \"acme\"\nqueue_type = \"quorum\"\nprefetch = 8\n",
        )
        .unwrap();
        assert_eq!(cfg.queue.url, "amqp://u:p@mq:5672/qa");
        assert_eq!(cfg.queue.prefix, "acme");
        assert_eq!(cfg.queue.queue_type, QueueType::Quorum);
        assert_eq!(cfg.queue.prefetch, 8);
        assert_eq!(cfg.queue.retry_attempts, 5, "unset fields keep defaults");
        let err = toml::from_str::<Config>("[queue]\nprefech = 8\n").unwrap_err();
        assert!(err.to_string().contains("prefech"), "{err}");
    }

    #[test]
    fn retry_delays_double_up_to_the_cap() {
        let q = QueueConfig {
            retry_backoff_ms: 1000,
            retry_backoff_max_ms: 5000,
            ..QueueConfig::default()
        };
        let delays: Vec<u64> = (1..=5).map(|a| q.retry_delay_ms(a)).collect();
        assert_eq!(delays, [1000, 2000, 4000, 5000, 5000]);
    }

    #[test]
    fn unknown_fields_are_errors_with_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "database = \"sqlite://x.db\"\n\ndatabse = \"typo\"\n").unwrap();
        let err = Config::from_file(&p).unwrap_err().to_string();
        assert!(err.contains("line 3") && err.contains("databse"), "{err}");
    }
}
