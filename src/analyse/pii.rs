//! Personal data exposed by the agent: bank card numbers (Luhn), mainland
//! mobile numbers, resident ID numbers (GB 11643 checksum) and e-mail
//! addresses, also when spelled out in words or Chinese numerals or
//! written full-width (detection: `text::pii`).
//!
//! In typed chats the checksum decides. Speech recognition drops and merges
//! digits, so in call transcripts a long digit run next to a context word
//! ("card number", "身份证") counts even when its checksum fails. Evidence
//! masks all but the last four digits; the redact stage then masks every
//! turn, whoever spoke, in the configured style.

use super::{fill, flag, turn_evidence, Analyser, Subject};
use crate::domain::{Analysis, Medium, Speaker};
use crate::rules::{PiiKind, RuleKind, RuleMeta, RulePack};
use crate::text::pii::{Detector, Found, Shape};

struct PiiRule {
    meta: RuleMeta,
    speaker: Speaker,
    detector: Detector,
}

pub struct PiiAnalyser {
    rules: Vec<PiiRule>,
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
                    detector: Detector {
                        detect: detect.clone(),
                        context: context.clone(),
                    },
                }),
                _ => None,
            })
            .collect();
        PiiAnalyser { rules }
    }
}

/// Character ranges to mask in the flag's evidence: all digits but the
/// last four, the local part of an address but its first character.
fn mask_ranges(f: &Found) -> Vec<(usize, usize)> {
    match &f.shape {
        Shape::Digits { tokens, .. } => {
            let keep = tokens.len().saturating_sub(4);
            tokens[..keep].to_vec()
        }
        Shape::Email { local, .. } => vec![((local.0 + 1).min(local.1), local.1)],
        Shape::Words => vec![((f.span.0 + 1).min(f.span.1), f.span.1)],
    }
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
        (PiiKind::Address, true) => "住址",
        (PiiKind::Name, true) => "姓名",
        (PiiKind::BankCard, false) => "bank card number",
        (PiiKind::CnMobile, false) => "mobile number",
        (PiiKind::CnId, false) => "ID number",
        (PiiKind::Email, false) => "e-mail address",
        (PiiKind::Address, false) => "street address",
        (PiiKind::Name, false) => "name",
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
                let found = rule.detector.find(&t.text, &[&t.norm.text, prev], spoken);
                if found.is_empty() {
                    continue;
                }
                let all_masks: Vec<(usize, usize)> = found.iter().flat_map(mask_ranges).collect();
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
        let d = Detector::all(Default::default());
        let f = &d.find(text, &[], false)[0];
        assert_eq!(masked(text, &mask_ranges(f)), "卡号**** **** **** 7894");
    }
}
