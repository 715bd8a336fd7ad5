//! Late metadata for stored results: CSAT, resolution, first-contact
//! resolution, handle time and any custom CRM field, which the CRM knows
//! only after the call. Read from a CSV file (a header line naming the
//! columns) or JSON lines, one contact per row, keyed by `job_id` or
//! `ticket_id`; applied to the stored results with an audit entry each
//! (`Store::update_metadata`). Reports then use the new values: KPIs,
//! composites and grades follow.
//!
//! Columns (CSV) or keys (JSON): `job_id` or `ticket_id` (one is needed),
//! `csat`, `csat_scale`, `resolved`, `first_contact_resolved` (or `fcr`),
//! `handle_time_s`, `after_call_work_s`, `queue_wait_s`, `customer_id`;
//! any other column is a custom field (`custom.NAME` in the result). An
//! empty cell (or JSON `null`) leaves the stored value as it is. Booleans:
//! `true`/`false`, `yes`/`no`, `1`/`0`, `是`/`否`. `started_at` and
//! `channel` cannot be imported (they decided the result's period and
//! thresholds).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Classify, Disposition};
use crate::redact::{PrivacyOptions, Redactor};
use crate::store::{MetadataChange, Store, StoreError};
use crate::wire::job::MetadataWire;

/// Most rows one import may hold.
pub const MAX_ROWS: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}:{line}: {message}")]
    Row {
        file: String,
        line: usize,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Classify for ImportError {
    fn disposition(&self) -> Disposition {
        match self {
            ImportError::Store(e) => e.disposition(),
            _ => Disposition::Reject,
        }
    }
}

/// How a row names its contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Key {
    Job(String),
    /// Every stored result with this ticket id.
    Ticket(String),
}

/// One row: which contact, and the metadata to set.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRow {
    /// Line in the file (1-based), for messages.
    pub line: usize,
    pub key: Key,
    pub patch: MetadataWire,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportSummary {
    pub rows: usize,
    /// Stored results whose metadata changed (one audit entry each).
    pub updated: usize,
    /// Results found whose metadata already had these values.
    pub unchanged: usize,
    /// Rows whose job id or ticket id matches no stored result.
    pub not_found: Vec<(usize, Key)>,
    /// Changed fields, over all results.
    pub fields: BTreeMap<String, usize>,
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "是" | "已解决" => Some(true),
        "false" | "no" | "n" | "0" | "否" | "未解决" => Some(false),
        _ => None,
    }
}

/// A row as field → value (CSV cells are strings; JSON keeps its types)
/// → the key and the metadata patch, validated like a job's metadata.
pub fn row_of(fields: &Map<String, Value>) -> Result<(Key, MetadataWire), String> {
    let text = |v: &Value| -> Option<String> {
        match v {
            Value::Null => None,
            Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
            other => Some(other.to_string()),
        }
    };
    let number = |k: &str, v: &Value| -> Result<Option<f64>, String> {
        match v {
            Value::Number(n) => Ok(n.as_f64()),
            _ => match text(v) {
                None => Ok(None),
                Some(s) => s
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .map(Some)
                    .ok_or_else(|| format!("{k}: {s:?} is not a number")),
            },
        }
    };
    let boolean = |k: &str, v: &Value| -> Result<Option<bool>, String> {
        match v {
            Value::Bool(b) => Ok(Some(*b)),
            _ => match text(v) {
                None => Ok(None),
                Some(s) => parse_bool(&s)
                    .map(Some)
                    .ok_or_else(|| format!("{k}: {s:?} is not true or false")),
            },
        }
    };
    let mut job = None;
    let mut ticket = None;
    let mut m = MetadataWire::default();
    for (k, v) in fields {
        let name = k.trim().trim_start_matches('\u{feff}');
        match name {
            "job_id" | "id" => job = text(v),
            "ticket_id" => ticket = text(v),
            "csat" => m.csat = number(name, v)?,
            "csat_scale" => m.csat_scale = number(name, v)?,
            "resolved" => m.resolved = boolean(name, v)?,
            "first_contact_resolved" | "fcr" => m.first_contact_resolved = boolean(name, v)?,
            "handle_time_s" => m.handle_time_s = number(name, v)?,
            "after_call_work_s" => m.after_call_work_s = number(name, v)?,
            "queue_wait_s" => m.queue_wait_s = number(name, v)?,
            "customer_id" => m.customer_id = text(v),
            "started_at" | "channel" => {
                if text(v).is_some() {
                    return Err(format!(
                        "{name} cannot be imported: it decided the result's period and thresholds"
                    ));
                }
            }
            "custom" => {
                if let Value::Object(o) = v {
                    for (ck, cv) in o {
                        if let Some(t) = text(cv) {
                            m.custom.insert(ck.clone(), t);
                        }
                    }
                }
            }
            "" => {}
            other => {
                if let Some(t) = text(v) {
                    m.custom.insert(other.to_owned(), t);
                }
            }
        }
    }
    if m.csat.is_none() && m.csat_scale.is_some() {
        return Err("csat_scale without csat".into());
    }
    crate::intake::validate_metadata(&m).map_err(|e| e.to_string())?;
    // Custom fields are free text: personal data in them is masked like
    // everything else that is stored.
    if !m.custom.is_empty() {
        let redactor = Redactor::new(PrivacyOptions::text_only(), None);
        for v in m.custom.values_mut() {
            *v = redactor.text(v, crate::domain::Language::Zh);
        }
    }
    let key = match (job, ticket) {
        (Some(j), _) => Key::Job(j),
        (None, Some(t)) => Key::Ticket(t),
        (None, None) => return Err("neither job_id nor ticket_id".into()),
    };
    Ok((key, m))
}

/// Splits CSV text into records of cells (RFC 4180: quoted cells may hold
/// commas, doubled quotes and line breaks), with each record's first line.
fn csv_records(text: &str) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    let mut cell = String::new();
    let mut record: Vec<String> = Vec::new();
    let mut quoted = false;
    let mut line = 1;
    let mut start = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut cell));
                if record.iter().any(|c| !c.trim().is_empty()) {
                    out.push((start, std::mem::take(&mut record)));
                }
                record.clear();
                line += 1;
                start = line;
            }
            (_, c) => {
                if c == '\n' {
                    line += 1;
                }
                cell.push(c);
            }
        }
    }
    record.push(cell);
    if record.iter().any(|c| !c.trim().is_empty()) {
        out.push((start, record));
    }
    out
}

/// Parses an import file's text; `name` is for messages, its extension
/// (`.csv`, else JSON lines) picks the format.
pub fn parse(name: &str, text: &str) -> Result<Vec<ImportRow>, ImportError> {
    let err = |line: usize, message: String| ImportError::Row {
        file: name.to_owned(),
        line,
        message,
    };
    let text = text.trim_start_matches('\u{feff}');
    let mut rows = Vec::new();
    if name.to_ascii_lowercase().ends_with(".csv") {
        let mut records = csv_records(text).into_iter();
        let Some((_, header)) = records.next() else {
            return Ok(rows);
        };
        for (line, cells) in records {
            if cells.len() > header.len() {
                return Err(err(
                    line,
                    format!("{} cells, but the header has {}", cells.len(), header.len()),
                ));
            }
            let fields: Map<String, Value> = header
                .iter()
                .zip(cells)
                .map(|(h, c)| (h.trim().to_owned(), Value::String(c)))
                .collect();
            let (key, patch) = row_of(&fields).map_err(|m| err(line, m))?;
            rows.push(ImportRow { line, key, patch });
        }
    } else {
        for (i, l) in text.lines().enumerate() {
            if l.trim().is_empty() {
                continue;
            }
            let v: Value =
                serde_json::from_str(l).map_err(|e| err(i + 1, format!("not JSON: {e}")))?;
            let Value::Object(o) = v else {
                return Err(err(i + 1, "not a JSON object".into()));
            };
            let (key, patch) = row_of(&o).map_err(|m| err(i + 1, m))?;
            rows.push(ImportRow {
                line: i + 1,
                key,
                patch,
            });
        }
    }
    if rows.len() > MAX_ROWS {
        return Err(err(0, format!("{} rows; at most {MAX_ROWS}", rows.len())));
    }
    Ok(rows)
}

/// Reads and parses an import file.
pub fn read(path: &Path) -> Result<Vec<ImportRow>, ImportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&path.display().to_string(), &text)
}

/// Applies rows to the stored results: each changed result gets an audit
/// entry naming `actor` and `source` (with the row's line).
pub async fn apply(
    store: &Store,
    rows: &[ImportRow],
    actor: &str,
    source: &str,
) -> Result<ImportSummary, ImportError> {
    let mut s = ImportSummary {
        rows: rows.len(),
        ..Default::default()
    };
    for r in rows {
        let jobs = match &r.key {
            Key::Job(j) => vec![j.clone()],
            Key::Ticket(t) => store.jobs_by_ticket(t).await?,
        };
        let mut found = false;
        for job in jobs {
            let src = format!("{source}:{}", r.line);
            let Some(MetadataChange { changes, .. }) =
                store.update_metadata(&job, &r.patch, actor, &src).await?
            else {
                continue;
            };
            found = true;
            if changes.is_empty() {
                s.unchanged += 1;
            } else {
                s.updated += 1;
                for k in changes.keys() {
                    *s.fields.entry(k.clone()).or_default() += 1;
                }
            }
        }
        if !found {
            s.not_found.push((r.line, r.key.clone()));
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_table() {
        let text = "\u{feff}job_id,ticket_id,csat,csat_scale,resolved,fcr,handle_time_s,product\n\
                    chat-zh-01,,5,,是,1,320,\"电视, 55寸\"\n\
                    ,T-8820,9,10,no,,,\n\
                    \n\
                    chat-en-01,,,,,,,\"say \"\"hi\"\"\"\n";
        let rows = parse("crm.csv", text).unwrap();
        assert_eq!(rows.len(), 3);
        let r = &rows[0];
        assert_eq!((r.line, &r.key), (2, &Key::Job("chat-zh-01".into())));
        assert_eq!(r.patch.csat, Some(5.0));
        assert_eq!(r.patch.resolved, Some(true));
        assert_eq!(r.patch.first_contact_resolved, Some(true));
        assert_eq!(r.patch.handle_time_s, Some(320.0));
        assert_eq!(r.patch.custom["product"], "电视, 55寸");
        let r = &rows[1];
        assert_eq!(r.key, Key::Ticket("T-8820".into()));
        assert_eq!((r.patch.csat, r.patch.csat_scale), (Some(9.0), Some(10.0)));
        assert_eq!(r.patch.resolved, Some(false));
        assert!(r.patch.custom.is_empty(), "empty cells set nothing");
        assert_eq!(rows[2].line, 5);
        assert_eq!(rows[2].patch.custom["product"], "say \"hi\"");
        assert_eq!(rows[2].patch.csat, None);
    }

    #[test]
    fn bad_rows_name_file_line_and_problem() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "a.csv",
                "job_id,csat\nj1,7\n",
                "a.csv:2: metadata.csat: 7 is outside 0–5",
            ),
            (
                "a.csv",
                "job_id,csat\nj1,lots\n",
                "a.csv:2: csat: \"lots\" is not a number",
            ),
            (
                "a.csv",
                "csat\n4\n",
                "a.csv:2: neither job_id nor ticket_id",
            ),
            (
                "a.csv",
                "job_id,resolved\nj1,maybe\n",
                "is not true or false",
            ),
            (
                "a.csv",
                "job_id,started_at\nj1,2026-11-01T00:00:00Z\n",
                "started_at cannot be imported",
            ),
            (
                "a.csv",
                "job_id\nj1,2\n",
                "a.csv:2: 2 cells, but the header has 1",
            ),
            (
                "a.jsonl",
                "{\"job_id\": \"j1\"}\n[1]\n",
                "a.jsonl:2: not a JSON object",
            ),
            (
                "a.jsonl",
                "{\"job_id\": \"j1\", \"handle_time_s\": -3}\n",
                "metadata.handle_time_s",
            ),
        ];
        for (name, text, want) in cases {
            let e = parse(name, text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn json_lines_keep_types_and_custom_fields() {
        let text = "{\"job_id\": \"j1\", \"csat\": 4.5, \"resolved\": true, \"custom\": {\"tier\": \"gold\"}, \"order_value\": 120}\n";
        let rows = parse("late.jsonl", text).unwrap();
        assert_eq!(rows[0].patch.csat, Some(4.5));
        assert_eq!(rows[0].patch.resolved, Some(true));
        assert_eq!(rows[0].patch.custom["tier"], "gold");
        assert_eq!(rows[0].patch.custom["order_value"], "120");
        // Personal data in a custom field is masked before it is stored.
        let rows = parse(
            "late.jsonl",
            "{\"job_id\": \"j1\", \"note\": \"call back on 13800138000\"}\n",
        )
        .unwrap();
        assert!(
            !rows[0].patch.custom["note"].contains("13800138000"),
            "{:?}",
            rows[0].patch.custom
        );
    }
}
