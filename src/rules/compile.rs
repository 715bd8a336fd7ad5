//! One `[[rules]]` table of `rules.toml` → a compiled [`Rule`]: the table
//! split into the fields every rule has ([`CommonFile`]) and its kind's own
//! ([`KindFile`], compiled by `kinds`), each mistake reported with the file
//! and line.

use std::collections::HashMap;

use serde::Deserialize;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::kinds::{fields_of, Cx, KindFile};
use super::matcher::MatchOptions;
use super::{PackError, Rule, RuleMeta, SourceFile};
use crate::domain::{FlagId, RuleId, Severity};

/// The fields every rule has, whatever its kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CommonFile {
    pub id: Spanned<String>,
    pub kind: Spanned<String>,
    flag: Spanned<String>,
    /// May be left out when the flag is one the pack declares with a
    /// severity.
    severity: Option<Spanned<String>>,
    message: String,
    coaching: String,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// One `[[rules]]` table → its common fields and its kind's settings; a
/// field the kind does not read is an error with its line.
pub(super) fn split(
    src: &SourceFile,
    table: Spanned<DeValue<'_>>,
) -> Result<(CommonFile, KindFile), PackError> {
    let span = table.span();
    let DeValue::Table(t) = table.into_inner() else {
        return Err(src.err_at(span, "each rule must be a [[rules]] table"));
    };
    let (mut common, mut own) = (DeTable::new(), DeTable::new());
    let common_fields = fields_of::<CommonFile>();
    for (k, v) in t {
        match common_fields.contains(&k.get_ref().as_ref()) {
            true => common.insert(k, v),
            false => own.insert(k, v),
        };
    }
    let common: CommonFile = serde::Deserialize::deserialize(
        serde::de::IntoDeserializer::into_deserializer(Spanned::new(span.clone(), common)),
    )
    .map_err(|e: toml::de::Error| src.de_err(&e))?;
    let kind = KindFile::parse(
        src,
        common.id.get_ref(),
        &common.kind,
        Spanned::new(span, own),
    )?;
    Ok((common, kind))
}

/// Compiles one rule.
pub(super) fn rule(
    src: &SourceFile,
    r: CommonFile,
    kind: KindFile,
    matching: &MatchOptions,
    approximate_default: bool,
    declared: &HashMap<FlagId, Severity>,
) -> Result<Rule, PackError> {
    let flag: FlagId = r
        .flag
        .get_ref()
        .parse()
        .map_err(|e: String| src.err_at(r.flag.span(), e))?;
    if matches!(flag, FlagId::Custom(_)) && !declared.contains_key(&flag) {
        return Err(src.err_at(
            r.flag.span(),
            format!(
                "flag {:?} is not built in and this pack does not declare it in [[flags]]",
                r.flag.get_ref()
            ),
        ));
    }
    let severity: Severity = match (&r.severity, declared.get(&flag)) {
        (Some(s), _) => s
            .get_ref()
            .parse()
            .map_err(|e: String| src.err_at(s.span(), e))?,
        (None, Some(s)) => *s,
        (None, None) => {
            return Err(src.err_at(
                r.id.span(),
                format!(
                    "rule {:?} has no severity (only rules raising a flag the pack declares may leave it out)",
                    r.id.get_ref()
                ),
            ))
        }
    };
    let rid = r.id.get_ref().clone();
    let valid_id = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if rid.is_empty() || !rid.chars().all(valid_id) {
        return Err(src.err_at(
            r.id.span(),
            format!("rule id {rid:?} must be letters, digits, '_', '-' or '.'"),
        ));
    }
    let meta = RuleMeta {
        id: RuleId::new(rid.clone()),
        flag,
        severity,
        message: r.message.clone(),
        coaching: r.coaching.clone(),
    };
    let cx = Cx {
        src,
        rid: &rid,
        kind: kind.name(),
        id_span: r.id.span(),
        matching,
        approximate_default,
    };
    Ok(Rule {
        meta,
        kind: kind.compile(&cx)?,
    })
}
