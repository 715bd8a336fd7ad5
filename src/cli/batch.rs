//! `callqa analyze`'s batch runner: every input through `Pipeline::run`,
//! a bounded number at once, results printed in input order (a summary per
//! job, or one JSON line each) with a progress bar on a terminal, and a
//! tally for the closing summary and the exit code.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use crate::error::JobError;
use crate::intake::Input;
use crate::pipeline::{Outcome, Pipeline};
use crate::store::Saved;
use crate::wire::ResultWire;

/// Runs the inputs, `2 × concurrency` in flight, printing each outcome in
/// input order as it becomes known.
pub(super) async fn run(
    pipeline: &Pipeline,
    inputs: Vec<Input>,
    json: bool,
    concurrency: usize,
) -> Result<Tally> {
    let bar = progress_bar(inputs.len());
    let mut set = tokio::task::JoinSet::new();
    let mut done: BTreeMap<usize, (String, Result<Outcome, JobError>)> = BTreeMap::new();
    let mut next_print = 0usize;
    let mut tally = Tally::default();
    let limit = concurrency.max(1) * 2;
    let mut out = std::io::stdout().lock();
    let mut it = inputs.into_iter().enumerate();
    loop {
        while set.len() < limit {
            let Some((i, input)) = it.next() else { break };
            let p = pipeline.clone();
            set.spawn(async move {
                let source = input.source();
                (i, source, p.run(input).await)
            });
        }
        let Some(joined) = set.join_next().await else {
            break;
        };
        let (i, source, r) = joined.context("job task panicked")?;
        bar.inc(1);
        done.insert(i, (source, r));
        while let Some((source, r)) = done.remove(&next_print) {
            let (line, note) = tally.record(&source, &r, json);
            bar.suspend(|| -> std::io::Result<()> {
                if !line.is_empty() {
                    writeln!(out, "{line}")?;
                }
                if let Some(note) = note {
                    out.flush()?;
                    eprintln!("{note}");
                }
                Ok(())
            })?;
            next_print += 1;
        }
    }
    bar.finish_and_clear();
    Ok(tally)
}

/// A bar on a terminal for more than one input; hidden otherwise.
fn progress_bar(n: usize) -> ProgressBar {
    if n > 1 && std::io::stderr().is_terminal() {
        let b = ProgressBar::new(n as u64);
        b.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} jobs {per_sec} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    } else {
        ProgressBar::hidden()
    }
}

/// What a batch came to.
#[derive(Default)]
pub(super) struct Tally {
    scored: usize,
    passed: usize,
    duplicate: usize,
    pub(super) rejected: usize,
    pub(super) errors: usize,
    flags: BTreeMap<String, usize>,
}

impl Tally {
    /// The line for stdout, and a note for stderr: a job whose id was
    /// already stored is never passed over in silence, since its input may
    /// differ from what was stored under that id.
    fn record(
        &mut self,
        source: &str,
        r: &Result<Outcome, JobError>,
        json: bool,
    ) -> (String, Option<String>) {
        match r {
            Ok(Outcome::Done { result, saved }) => {
                self.scored += 1;
                if result.passed {
                    self.passed += 1;
                }
                let note = (*saved == Saved::Duplicate).then(|| {
                    self.duplicate += 1;
                    format!(
                        "callqa: {source}: job {} was already stored; the stored result is shown and this input was not stored again",
                        result.job_id
                    )
                });
                for f in &result.flags {
                    *self.flags.entry(f.id.to_string()).or_default() += 1;
                }
                if json {
                    (
                        serde_json::to_string(result.as_ref()).unwrap_or_default(),
                        note,
                    )
                } else {
                    (render_result(result, *saved), note)
                }
            }
            Ok(Outcome::Failed(f)) => {
                self.rejected += 1;
                let line = if json {
                    serde_json::to_string(&serde_json::json!({ "failed": f })).unwrap_or_default()
                } else {
                    format!("✗ {source}: rejected at {}: {}", f.stage, f.reason)
                };
                (line, None)
            }
            Err(e) => {
                self.errors += 1;
                let line = format!("✗ {source}: {e} (transient; not stored, run again)");
                // With --json, stdout holds only JSON lines.
                if json {
                    (String::new(), Some(format!("callqa: {line}")))
                } else {
                    (line, None)
                }
            }
        }
    }

    pub(super) fn summary(&self, db: Option<&str>) -> String {
        let flags: Vec<String> = self
            .flags
            .iter()
            .map(|(k, v)| format!("{k} ×{v}"))
            .collect();
        let mut s = format!(
            "{} scored ({} passed QA, {} failed QA), {} rejected as bad input",
            self.scored,
            self.passed,
            self.scored - self.passed,
            self.rejected
        );
        if self.duplicate > 0 {
            s.push_str(&format!(", {} already stored", self.duplicate));
        }
        if self.errors > 0 {
            s.push_str(&format!(", {} transient errors", self.errors));
        }
        if !flags.is_empty() {
            s.push_str(&format!("\nflags: {}", flags.join(", ")));
        }
        if let Some(db) = db {
            s.push_str(&format!("\nstored in {db}; list with `callqa results`"));
        }
        s
    }
}

fn clock(s: f64) -> String {
    let s = s.max(0.0);
    format!("{:02}:{:04.1}", (s / 60.0) as u64, s % 60.0)
}

/// One job's result for a person: verdict line, each flag with its first
/// piece of evidence, then coaching.
pub fn render_result(r: &ResultWire, saved: Saved) -> String {
    let verdict = if r.passed { "PASS" } else { "FAIL" };
    let mark = if r.passed { "✓" } else { "✗" };
    let who = match &r.agent.name {
        Some(n) => format!("{} ({n})", r.agent_id),
        None => r.agent_id.clone(),
    };
    let mut s = format!(
        "{mark} {}  [{} {}]  agent {who}  score {:.1}  {verdict}{}",
        r.job_id,
        match r.kind {
            crate::wire::job::JobKind::Chat => "chat",
            crate::wire::job::JobKind::Call => "call",
        },
        r.language,
        r.score,
        if saved == Saved::Duplicate {
            "  (already stored)"
        } else {
            ""
        }
    );
    if !r.fatal.is_empty() {
        let items: Vec<&str> = r.fatal.iter().map(|f| f.item.as_str()).collect();
        s.push_str(&format!("  fatal: {}", items.join(", ")));
    }
    for f in &r.flags {
        s.push_str(&format!(
            "\n    {} [{}] {}: {}",
            f.id, f.severity, f.rule, f.message
        ));
        if let Some(e) = f.evidence.first() {
            let who = e.speaker.map(|s| s.as_str()).unwrap_or("-");
            let text: String = e.text.chars().take(80).collect();
            s.push_str(&format!(
                "\n        {} {}–{} “{}”",
                who,
                clock(e.start),
                clock(e.end),
                text
            ));
        }
    }
    for c in &r.coaching {
        s.push_str(&format!("\n    → {}", c.text));
    }
    s
}
