//! Which fields each rule kind reads. A rule is one flat TOML table, so
//! serde's `deny_unknown_fields` only catches names no kind knows; this
//! table catches the rest: a field that does not apply to the rule's kind
//! (a `threshold` on a `forbidden_phrase` rule) is a load error naming the
//! field and the kinds that read it, never a setting silently ignored.

use super::{RuleFile, SourceFile};
use crate::rules::PackError;

/// Fields every rule has, whatever its kind.
const COMMON: [&str; 7] = [
    "id", "kind", "flag", "severity", "message", "coaching", "enabled",
];

const WINDOW: [&str; 4] = ["first_turns", "first_seconds", "last_turns", "last_seconds"];
const PHRASES: [&str; 6] = [
    "speaker",
    "phrases",
    "patterns",
    "exclude",
    "negation",
    "approximate",
];

/// The fields a kind reads besides `COMMON`; `None` for an unknown kind
/// (reported by the caller).
fn of_kind(kind: &str) -> Option<Vec<&'static str>> {
    let mut v: Vec<&'static str> = Vec::new();
    match kind {
        "required_phrase" => {
            v.extend(PHRASES);
            v.extend(WINDOW);
        }
        "forbidden_phrase" | "customer_trigger" => v.extend(PHRASES),
        "pii" => v.extend(["speaker", "detect", "context"]),
        "first_response" | "response_time" => v.push("max_seconds"),
        "long_silence" | "interruption" => v.push("min_seconds"),
        "no_speech" => {}
        "semantic" => {
            v.extend([
                "speaker",
                "required",
                "examples",
                "threshold",
                "when_customer",
            ]);
            v.extend(WINDOW);
        }
        "customer_anger" => v.extend([
            "threshold",
            "min_turns",
            "examples",
            "counter_examples",
            "margin",
        ]),
        _ => return None,
    }
    Some(v)
}

/// The optional fields a rule sets.
fn set(r: &RuleFile) -> Vec<&'static str> {
    let checks: [(&'static str, bool); 21] = [
        ("speaker", r.speaker.is_some()),
        ("phrases", !r.phrases.is_empty()),
        ("patterns", !r.patterns.is_empty()),
        ("exclude", !r.exclude.is_empty()),
        ("negation", r.negation.is_some()),
        ("approximate", r.approximate.is_some()),
        ("first_turns", r.first_turns.is_some()),
        ("first_seconds", r.first_seconds.is_some()),
        ("last_turns", r.last_turns.is_some()),
        ("last_seconds", r.last_seconds.is_some()),
        ("detect", !r.detect.is_empty()),
        ("context", !r.context.is_empty()),
        ("max_seconds", !r.max_seconds.is_empty()),
        ("min_seconds", r.min_seconds.is_some()),
        ("examples", !r.examples.is_empty()),
        ("threshold", r.threshold.is_some()),
        ("required", r.required.is_some()),
        ("min_turns", r.min_turns.is_some()),
        ("when_customer", !r.when_customer.is_empty()),
        ("counter_examples", !r.counter_examples.is_empty()),
        ("margin", r.margin.is_some()),
    ];
    checks
        .into_iter()
        .filter(|(_, is_set)| *is_set)
        .map(|(f, _)| f)
        .collect()
}

/// Fails on the first field the rule sets that its kind does not read.
pub(super) fn check(src: &SourceFile, r: &RuleFile) -> Result<(), PackError> {
    let kind = r.kind.get_ref().as_str();
    let Some(allowed) = of_kind(kind) else {
        return Ok(());
    };
    for field in set(r) {
        if COMMON.contains(&field) || allowed.contains(&field) {
            continue;
        }
        let readers: Vec<&str> = KINDS
            .iter()
            .copied()
            .filter(|k| of_kind(k).is_some_and(|f| f.contains(&field)))
            .collect();
        return Err(src.err_at(
            r.kind.span(),
            format!(
                "rule {:?}: `{field}` does not apply to a {kind} rule (it is read by {})",
                r.id.get_ref(),
                readers.join(", ")
            ),
        ));
    }
    Ok(())
}

/// Every rule kind.
pub const KINDS: [&str; 11] = [
    "required_phrase",
    "forbidden_phrase",
    "customer_trigger",
    "pii",
    "first_response",
    "response_time",
    "long_silence",
    "interruption",
    "no_speech",
    "semantic",
    "customer_anger",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_field_list() {
        for k in KINDS {
            assert!(of_kind(k).is_some(), "{k}");
        }
        assert!(of_kind("sentiment").is_none());
    }
}
