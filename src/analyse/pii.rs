//! Personal data exposed by the agent: bank card numbers (Luhn), mainland
//! mobile numbers, resident ID numbers (GB 11643 checksum) and e-mail
//! addresses, also when spelled out in words or Chinese numerals.
//!
//! In typed chats the checksum decides. Speech recognition drops and merges
//! digits, so in call transcripts a long digit run next to a context word
//! ("card number", "身份证") counts even when its checksum fails. Evidence
//! masks all but the last four digits, so reviewing a flag does not spread
//! the data further.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use super::{fill, flag, turn_evidence, Analyser, Subject};
use crate::domain::{Analysis, Medium, Speaker};
use crate::rules::{PiiKind, RuleKind, RuleMeta, RulePack};
use crate::text::digits::{cn_id_valid, cn_mobile_valid, digit_runs, luhn_valid, DigitRun};

struct PiiRule {
    meta: RuleMeta,
    speaker: Speaker,
    detect: Vec<PiiKind>,
    context: HashMap<PiiKind, Vec<String>>,
}

pub struct PiiAnalyser {
    rules: Vec<PiiRule>,
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
        .expect("static regex")
});
/// An address read aloud: "john dot smith at example dot com".
static SPOKEN_EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b[a-z0-9]+(?: dot [a-z0-9]+)* at [a-z0-9]+(?: dot [a-z0-9]+)* dot (?:com|cn|net|org|edu|gov|io)\b")
        .expect("static regex")
});

/// One exposure found in a turn.
#[derive(Debug, Clone, PartialEq)]
struct Found {
    kind: PiiKind,
    /// Original character ranges to mask, and the overall span.
    mask: Vec<(usize, usize)>,
    span: (usize, usize),
    /// Whether a checksum or format confirmed it (false: context only).
    verified: bool,
}

impl PiiAnalyser {
    pub fn build(pack: &RulePack) -> Self {
        let rules = pack
            .rules
            .iter()
            .filter_map(|r| match &r.kind {
                RuleKind::Pii {
                    speaker,
                    detect,
                    context,
                } => Some(PiiRule {
                    meta: r.meta.clone(),
                    speaker: *speaker,
                    detect: detect.clone(),
                    context: context.clone(),
                }),
                _ => None,
            })
            .collect();
        PiiAnalyser { rules }
    }
}

fn has_context(words: Option<&Vec<String>>, texts: &[&str]) -> bool {
    words.is_some_and(|ws| {
        ws.iter()
            .any(|w| texts.iter().any(|t| t.contains(w.as_str())))
    })
}

fn classify(run: &DigitRun, rule: &PiiRule, spoken: bool, context_texts: &[&str]) -> Option<Found> {
    let d = run.digits.as_str();
    let want = |k| rule.detect.contains(&k);
    let ctx = |k| has_context(rule.context.get(&k), context_texts);
    let digit_tokens: Vec<(usize, usize)> = run.tokens.clone();
    // Keep the last four digits readable.
    let keep = digit_tokens.len().saturating_sub(4);
    let found = |kind, verified| Found {
        kind,
        mask: digit_tokens[..keep].to_vec(),
        span: run.span(),
        verified,
    };
    let n = d.len();
    if want(PiiKind::CnId) && cn_id_valid(d) {
        return Some(found(PiiKind::CnId, true));
    }
    if want(PiiKind::BankCard) && (13..=19).contains(&n) && luhn_valid(d) {
        return Some(found(PiiKind::BankCard, true));
    }
    if want(PiiKind::CnMobile) && cn_mobile_valid(d) {
        return Some(found(PiiKind::CnMobile, true));
    }
    if !spoken {
        return None;
    }
    // Transcripts: a long run beside a context word counts without checksum.
    if want(PiiKind::CnId) && (15..=19).contains(&n) && ctx(PiiKind::CnId) {
        return Some(found(PiiKind::CnId, false));
    }
    if want(PiiKind::BankCard) && (12..=19).contains(&n) && ctx(PiiKind::BankCard) {
        return Some(found(PiiKind::BankCard, false));
    }
    if want(PiiKind::CnMobile) && (10..=12).contains(&n) && ctx(PiiKind::CnMobile) {
        return Some(found(PiiKind::CnMobile, false));
    }
    None
}

fn find_in_turn(
    text: &str,
    norm: &str,
    prev_norm: &str,
    rule: &PiiRule,
    spoken: bool,
) -> Vec<Found> {
    let mut out = Vec::new();
    let contexts = [norm, prev_norm];
    for run in digit_runs(text, 10) {
        if let Some(f) = classify(&run, rule, spoken, &contexts) {
            out.push(f);
        }
    }
    if rule.detect.contains(&PiiKind::Email) {
        for m in EMAIL.find_iter(text) {
            let s = text[..m.start()].chars().count();
            let e = s + m.as_str().chars().count();
            // Mask the local part, keep the domain.
            let at = m
                .as_str()
                .find('@')
                .map(|b| m.as_str()[..b].chars().count())
                .unwrap_or(0);
            out.push(Found {
                kind: PiiKind::Email,
                mask: vec![(s + 1.min(at), s + at)],
                span: (s, e),
                verified: true,
            });
        }
        if spoken && EMAIL.find(text).is_none() {
            if let Some(m) = SPOKEN_EMAIL.find(&text.to_lowercase()) {
                let lower = text.to_lowercase();
                let s = lower[..m.start()].chars().count();
                let e = s + m.as_str().chars().count();
                out.push(Found {
                    kind: PiiKind::Email,
                    mask: vec![(s, e)],
                    span: (s, e),
                    verified: true,
                });
            }
        }
    }
    out
}

fn masked(text: &str, ranges: &[(usize, usize)]) -> String {
    text.chars()
        .enumerate()
        .map(|(i, c)| {
            if ranges.iter().any(|&(s, e)| s <= i && i < e) && !c.is_whitespace() && c != '-' {
                '*'
            } else {
                c
            }
        })
        .collect()
}

fn kind_label(kind: PiiKind, zh: bool) -> &'static str {
    match (kind, zh) {
        (PiiKind::BankCard, true) => "银行卡号",
        (PiiKind::CnMobile, true) => "手机号",
        (PiiKind::CnId, true) => "身份证号",
        (PiiKind::Email, true) => "邮箱地址",
        (PiiKind::BankCard, false) => "bank card number",
        (PiiKind::CnMobile, false) => "mobile number",
        (PiiKind::CnId, false) => "ID number",
        (PiiKind::Email, false) => "e-mail address",
    }
}

impl Analyser for PiiAnalyser {
    fn name(&self) -> &'static str {
        "pii"
    }

    fn analyse(&self, s: &Subject<'_>, out: &mut Analysis) {
        let conv = s.conv;
        let spoken = conv.medium == Medium::Call;
        let zh = conv.language == crate::domain::Language::Zh;
        for rule in &self.rules {
            for (i, t) in conv.turns_of(rule.speaker) {
                let prev = if i > 0 {
                    conv.turns[i - 1].norm.text.as_str()
                } else {
                    ""
                };
                let found = find_in_turn(&t.text, &t.norm.text, prev, rule, spoken);
                if found.is_empty() {
                    continue;
                }
                let all_masks: Vec<(usize, usize)> =
                    found.iter().flat_map(|f| f.mask.iter().copied()).collect();
                let mut ev = turn_evidence(conv, i, Some(found[0].span));
                ev.text = masked(&t.text, &all_masks);
                let kinds: Vec<&str> = found.iter().map(|f| kind_label(f.kind, zh)).collect();
                let verified = found.iter().all(|f| f.verified);
                let mut message = fill(
                    &rule.meta.message,
                    &[("kind", kinds.join(if zh { "、" } else { ", " }))],
                );
                if !verified {
                    message.push_str(if zh {
                        "（依据上下文判定，校验位未通过）"
                    } else {
                        " (by context; checksum not confirmed)"
                    });
                }
                out.flags.push(flag(&rule.meta, message, vec![ev]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_all_but_the_last_four_digits() {
        let text = "卡号6222 0212 3456 7894";
        let runs = digit_runs(text, 10);
        let rule = PiiRule {
            meta: RuleMeta {
                id: crate::domain::RuleId::new("pii"),
                flag: crate::domain::FlagId::PiiExposure,
                severity: crate::domain::Severity::Critical,
                message: String::new(),
                coaching: String::new(),
            },
            speaker: Speaker::Agent,
            detect: PiiKind::ALL.to_vec(),
            context: HashMap::new(),
        };
        let f = classify(&runs[0], &rule, false, &[]).unwrap();
        assert_eq!(masked(text, &f.mask), "卡号**** **** **** 7894");
    }
}
