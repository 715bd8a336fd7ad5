//! `callqa backtest --rules DIR --period P`: arguments and output only;
//! the comparison is in `crate::backtest`. `--rules` (the global flag)
//! names the edited packs; the packs in use are the configured ones
//! (`rules` in the config file or `CALLQA_RULES`) unless `--baseline`
//! names others.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use crate::config::Config;
use crate::report::{Period, Scheme};
use crate::rules::PackSet;
use crate::store::Store;

#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// The packs to compare against (default: the configured `rules`,
    /// before the `--rules` flag, which names the edited copy).
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// A month (2026-11), a day or days, in the evaluation scheme's local time.
    #[arg(long)]
    pub period: String,
    /// One JSON document instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn backtest(cfg: Config, in_use: PathBuf, a: BacktestArgs) -> Result<i32> {
    let baseline = a.baseline.unwrap_or(in_use);
    if baseline == cfg.rules {
        anyhow::bail!(
            "give the edited packs with --rules DIR (the packs in use are {})",
            baseline.display()
        );
    }
    // Packs first: they declare their own flags, which the scheme may name.
    let current = PackSet::load(&baseline).context("the rule packs in use")?;
    let edited = PackSet::load(&cfg.rules).context("the edited rule packs (--rules)")?;
    let scheme = Scheme::load(&cfg.evaluation)?;
    let period = Period::parse(&a.period, scheme.utc_offset).map_err(anyhow::Error::msg)?;
    let store = Store::connect(&cfg.database).await?;
    let results = crate::backtest::contacts_of(&store, &period).await?;
    store.close().await;
    let b = tokio::task::spawn_blocking(move || crate::backtest::run(&results, &current, &edited))
        .await
        .context("back-test thread")?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&b)?);
        return Ok(0);
    }
    println!("back-test of {} over {} contacts", period.label, b.contacts);
    for p in &b.packs {
        println!("  {p}");
    }
    let f =
        |x: Option<f64>, scale: f64| x.map_or("–".to_owned(), |v| format!("{:.1}", v * scale));
    println!(
        "QA score {} → {}, pass rate {} % → {} %",
        f(b.before.avg_score, 1.0),
        f(b.after.avg_score, 1.0),
        f(b.before.pass_rate, 100.0),
        f(b.after.pass_rate, 100.0)
    );
    for r in &b.rules {
        if r.gained.is_empty() && r.lost.is_empty() {
            continue;
        }
        println!(
            "{} ({}): {} → {} contacts",
            r.rule, r.flag, r.before, r.after
        );
        for j in &r.gained {
            println!("  + {j}");
        }
        for j in &r.lost {
            println!("  - {j}");
        }
    }
    if b.rules
        .iter()
        .all(|r| r.gained.is_empty() && r.lost.is_empty())
    {
        println!("no rule would flag a different contact");
    }
    Ok(0)
}
