//! `callqa import FILE.csv|FILE.jsonl`: late metadata (CSAT, resolution,
//! first-contact resolution, handle time, custom CRM fields) applied to
//! stored results, each change logged. The parsing and the rules are in
//! `report::import`; this only reads the file, connects and prints.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::config::Config;
use crate::report::import::{self, Key};
use crate::store::Store;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// CSV with a header line, or JSON lines; one contact per row, keyed
    /// by job_id or ticket_id.
    pub file: PathBuf,
    /// Name recorded in the audit log (default: $USER, else "import").
    #[arg(long)]
    pub actor: Option<String>,
}

pub async fn import(cfg: Config, a: ImportArgs) -> Result<i32> {
    // The whole file is checked before anything is written.
    let rows = import::read(&a.file)?;
    let actor = a
        .actor
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "import".into());
    let source = format!(
        "import:{}",
        a.file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let store = Store::connect(&cfg.database).await?;
    let s = import::apply(&store, &rows, &actor, &source).await;
    store.close().await;
    let s = s?;
    println!(
        "{} rows: {} results updated, {} unchanged, {} not found",
        s.rows,
        s.updated,
        s.unchanged,
        s.not_found.len()
    );
    for (field, n) in &s.fields {
        println!("  {field}: {n}");
    }
    for (line, key) in &s.not_found {
        let (what, id) = match key {
            Key::Job(j) => ("job", j),
            Key::Ticket(t) => ("ticket", t),
        };
        eprintln!(
            "{}:{line}: no stored result for {what} {id}",
            a.file.display()
        );
    }
    Ok(if s.not_found.is_empty() { 0 } else { 2 })
}
