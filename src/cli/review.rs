//! The evaluation and review subcommands: `callqa report`, `callqa users`
//! and `callqa serve`. Arguments and output only; the work is in
//! `report` and `http`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};

use crate::config::Config;
use crate::domain::{Language, Role};
use crate::http::api::{create_user, ServeOptions};
use crate::report::{self, Period, Scheme};
use crate::rules::PackSet;
use crate::store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
    Html,
    /// An Excel workbook, one sheet per table; needs `--out`.
    Xlsx,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A month (2026-11), a day (2026-11-03) or days (2026-11-01..2026-11-15),
    /// in the scheme's local time.
    #[arg(long)]
    pub period: String,
    /// Only this team.
    #[arg(long)]
    pub team: Option<String>,
    /// Only this agent (graded and compared within their team).
    #[arg(long)]
    pub agent: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Language of headings, and of all coaching (default: each agent's own).
    #[arg(long, value_parser = parse_lang)]
    pub lang: Option<Language>,
    /// Evaluation scheme file (default: `evaluation` in the config).
    #[arg(long)]
    pub scheme: Option<PathBuf>,
    /// Supervisor scores (CSV `agent_id,score` or TOML `[scores]`); they
    /// override scores stored through the API for the same agent.
    #[arg(long)]
    pub supervisor: Option<PathBuf>,
}

fn parse_lang(s: &str) -> Result<Language, String> {
    s.parse()
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user and print their token (shown once; only a hash is kept).
    Add {
        #[arg(long)]
        name: String,
        /// agent, reviewer, supervisor or admin.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// For agents: the agent id whose results they may see.
        #[arg(long)]
        agent_id: Option<String>,
    },
    /// List users.
    List,
    /// Disable a user: their token stops working.
    Disable {
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (overrides [http] listen / CALLQA_HTTP_LISTEN).
    #[arg(long)]
    pub listen: Option<String>,
}

pub async fn report(cfg: Config, a: ReportArgs) -> Result<i32> {
    // Rule packs give rule names, coaching text, exact rescoring and the
    // flags they declare (which the scheme may name); a report still works
    // without them.
    let packs = match PackSet::load(&cfg.rules) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::warn!(error = %e, "rule packs not loaded: rule names and rescoring fall back to stored results");
            None
        }
    };
    let scheme_path = a.scheme.clone().unwrap_or_else(|| cfg.evaluation.clone());
    let scheme = Scheme::load(&scheme_path)?;
    let period = Period::parse(&a.period, scheme.utc_offset).map_err(anyhow::Error::msg)?;
    let store = Store::connect(&cfg.database).await?;
    let mut inputs = report::load(&store, &scheme, &period).await?;
    store.close().await;
    if let Some(f) = &a.supervisor {
        inputs.supervisor.extend(report::read_supervisor_scores(f)?);
    }
    let r = report::build(
        &inputs,
        &report::Options {
            scheme: &scheme,
            period: &period,
            team: a.team.as_deref(),
            agent: a.agent.as_deref(),
            lang: a.lang,
            packs: packs.as_ref(),
        },
    );
    let lang = a.lang.unwrap_or(Language::En);
    let bytes = match a.format {
        Format::Table => report::render::table(&r, lang).into_bytes(),
        Format::Csv => report::render::csv(&r).into_bytes(),
        Format::Json => report::render::json(&r).into_bytes(),
        Format::Html => report::html::page(&r, lang).into_bytes(),
        Format::Xlsx if a.out.is_none() => {
            anyhow::bail!("--format xlsx writes a binary file: give it with --out FILE.xlsx")
        }
        Format::Xlsx => report::xlsx::workbook(&r, lang)
            .map_err(|e| anyhow::anyhow!("building the workbook: {e}"))?,
    };
    match &a.out {
        Some(p) => {
            std::fs::write(p, bytes).with_context(|| format!("writing {}", p.display()))?;
            eprintln!(
                "callqa: report for {} ({} agents, {} contacts) written to {}",
                r.period.label,
                r.agents.len(),
                r.overall.contacts,
                p.display()
            );
        }
        None => {
            use std::io::Write;
            std::io::stdout()
                .write_all(&bytes)
                .context("writing the report")?;
        }
    }
    Ok(0)
}

pub async fn users(cfg: Config, u: UsersCommand) -> Result<i32> {
    let store = Store::connect(&cfg.database).await?;
    match u {
        UsersCommand::Add {
            name,
            role,
            agent_id,
        } => {
            let token = create_user(&store, &name, role, agent_id.as_deref())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{token}");
            eprintln!("callqa: user {name:?} ({role}) added; the token above is shown only once");
        }
        UsersCommand::List => {
            println!(
                "{:<24} {:<10} {:<16} {:<8} created",
                "name", "role", "agent", "enabled"
            );
            for u in store.list_users().await? {
                println!(
                    "{:<24} {:<10} {:<16} {:<8} {}",
                    u.name,
                    u.role,
                    u.agent_id.as_deref().unwrap_or("-"),
                    if u.disabled { "no" } else { "yes" },
                    u.created_at
                );
            }
        }
        UsersCommand::Disable { name } => {
            if !store.disable_user(&name).await? {
                bail!("no user {name:?}");
            }
            eprintln!("callqa: user {name:?} disabled");
        }
    }
    store.close().await;
    Ok(0)
}

pub async fn serve(cfg: Config, s: ServeArgs) -> Result<i32> {
    let listen = s.listen.unwrap_or_else(|| cfg.http.listen.clone());
    let store = Store::connect(&cfg.database).await?;
    // Results of redacted calls point at the redacted copy, so its
    // directory is served too.
    let mut recording_roots = cfg.recording_roots.clone();
    if cfg.privacy.audio != crate::redact::AudioPolicy::Off {
        recording_roots.push(cfg.privacy.audio_dir.clone());
    }
    let opts = ServeOptions {
        rules_dir: cfg.rules.clone(),
        scheme: cfg.evaluation.clone(),
        recording_roots,
        media_link_ttl_s: cfg.http.media_link_ttl_s,
    };
    eprintln!(
        "callqa: review page on http://{listen}/ (sign in with a token from `callqa users add`)"
    );
    crate::http::server::serve(store.clone(), &opts, &listen).await?;
    store.close().await;
    Ok(0)
}
