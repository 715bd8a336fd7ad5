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
