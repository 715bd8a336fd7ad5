//! Tests that hold the architecture (issue 14, seam 5), in the manner of
//! rust-analyzer's tidy test: every source file says what it is for
//! (`//!`), each external crate is used by the one module that owns it, no
//! `unwrap` in production code, and README's "where things live" table
//! names every module in `src/` and nothing that is not there.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, as paths relative to `src/`.
fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            let rel = p
                .strip_prefix(repo().join("src"))
                .unwrap()
                .display()
                .to_string();
            out.push((rel, std::fs::read_to_string(&p).unwrap()));
        }
    }
}

fn all_sources() -> Vec<(String, String)> {
    let mut out = Vec::new();
    sources(&repo().join("src"), &mut out);
    assert!(out.len() > 50, "found only {} files", out.len());
    out
}

/// The part of a file that is not a test: all of a `tests.rs` is a test,
/// and elsewhere everything from the first `#[cfg(test)]` on.
fn production(path: &str, text: &str) -> String {
    if path.ends_with("tests.rs") {
        return String::new();
    }
    match text.find("#[cfg(test)]") {
        Some(i) => text[..i].to_owned(),
        None => text.to_owned(),
    }
}

#[test]
fn every_source_file_starts_with_a_module_doc() {
    let missing: Vec<String> = all_sources()
        .into_iter()
        .filter(|(_, text)| !text.trim_start().starts_with("//!"))
        .map(|(path, _)| path)
        .collect();
    assert!(missing.is_empty(), "files without a `//!` doc: {missing:?}");
}

#[test]
fn each_external_crate_is_used_by_its_owner_only() {
    let owners = [
        ("sqlx", "store/"),
        ("whisper_rs", "transcribe/"),
        ("ort", "embed/"),
        ("tokenizers", "embed/"),
        ("lapin", "queue/"),
        ("axum", "http/"),
        ("symphonia", "decode/"),
        ("pinyin", "text/"),
        ("rayon", "transcribe/"),
    ];
    let mut strays = Vec::new();
    for (path, text) in all_sources() {
        for (krate, owner) in owners {
            let used = text.contains(&format!("{krate}::"))
                && text.lines().any(|l| {
                    let l = l.trim_start();
                    !l.starts_with("//")
                        && (l.starts_with(&format!("use {krate}::"))
                            || l.contains(&format!(" {krate}::"))
                            || l.contains(&format!("({krate}::"))
                            || l.contains(&format!("<{krate}::"))
                            || l.contains(&format!("&{krate}::")))
                });
            if used && !path.starts_with(owner) {
                strays.push(format!("{path} uses {krate} (owned by src/{owner})"));
            }
        }
    }
    assert!(strays.is_empty(), "{strays:#?}");
}

#[test]
fn production_code_does_not_unwrap() {
    let mut found = Vec::new();
    for (path, text) in all_sources() {
        for (n, line) in production(&path, &text).lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            // A regex literal that does not compile is a bug caught by the
            // first test that touches it, not bad input.
            let allowed = code.contains(".expect(\"static regex\")");
            if code.contains(".unwrap()") || (code.contains(".expect(") && !allowed) {
                found.push(format!("src/{path}:{}: {}", n + 1, code));
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn readme_module_table_matches_src() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let table = readme
        .split("Where things live:")
        .nth(1)
        .expect("README has the 'Where things live' table");
    let table: String = table
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .collect::<Vec<_>>()
        .join("\n");
    // Every `src/NAME/` or `src/NAME.rs` the table names.
    let named: BTreeSet<String> = table
        .split('`')
        .filter_map(|w| w.strip_prefix("src/"))
        .map(|w| w.trim_end_matches('/').trim_end_matches(".rs").to_owned())
        .collect();
    let modules: BTreeSet<String> = std::fs::read_dir(repo().join("src"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_stem()?.to_str()?.to_owned();
            (p.is_dir() || p.extension().is_some_and(|e| e == "rs")).then_some(name)
        })
        .filter(|m| m != "lib")
        .collect();
    let missing: Vec<_> = modules.difference(&named).collect();
    let stale: Vec<_> = named.difference(&modules).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "README's module table lacks {missing:?} and names {stale:?}, which are not in src/"
    );
}
