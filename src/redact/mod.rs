//! Redact: personal data masked in everything that leaves the engine.
//!
//! Runs after the analysers (the PII flag needs to see the agent's
//! disclosure) and before the result becomes wire JSON, so the store, the
//! published message, the CLI, the review API and reports only ever see
//! masked text. What it masks: bank card numbers, mainland mobile and ID
//! numbers and e-mail addresses ([`crate::text::pii`]) in every turn,
//! whoever said it; numbers split across two turns; numbers that arrive
//! partly masked; and, as a net, any flag message, evidence, coaching text
//! or diagnostic. For calls it also says where in time the masked data was
//! spoken ([`Redaction::time_spans`]), so [`audio`] can silence it.

pub mod audio;
pub mod mask;

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::domain::{Evidence, Language, PiiKind, QaResult, Turn};
use crate::rules::{PackSet, RuleKind};
use crate::text::pii::{partly_masked, Detector, Found, Shape};
pub use mask::MaskStyle;
use mask::{Edit, Piece};

/// `[privacy] audio`: what happens to a call's recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AudioPolicy {
    /// No redacted copy is written; the review page serves the original.
    Off,
    /// A redacted copy is written to `audio_dir` and served instead of the
    /// original; the original is left alone (the centre's own recording
    /// system stays the system of record).
    #[default]
    Keep,
    /// As `keep`, then the original file is deleted.
    Replace,
}

/// `[privacy]`: redaction of text and audio, raw data and retention.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacyOptions {
    /// How masked data reads: `partial` (`**** **** **** 7894`,
    /// `j***@example.com`) or `tag` (`[银行卡 ****7894]`).
    pub mask: MaskStyle,
    /// Trailing digits left readable (0 masks them all).
    pub keep_digits: usize,
    /// Calls: `off`, `keep` (write a redacted copy, keep the original) or
    /// `replace` (write a redacted copy, delete the original).
    pub audio: AudioPolicy,
    /// Where redacted copies of recordings are written (`<job id>.wav`).
    pub audio_dir: PathBuf,
    /// Silence added before and after each span of personal data, in
    /// milliseconds (spans come from the recognizer's token times; see
    /// docs/privacy.md).
    pub audio_pad_ms: u64,
    /// `callqa purge` without `--before` deletes data older than this many
    /// days; 0 keeps everything.
    pub retention_days: u32,
}

impl Default for PrivacyOptions {
    fn default() -> Self {
        PrivacyOptions {
            mask: MaskStyle::Partial,
            keep_digits: 4,
            audio: AudioPolicy::Keep,
            audio_dir: "redacted-audio".into(),
            audio_pad_ms: 1000,
            retention_days: 0,
        }
    }
}

impl PrivacyOptions {
    /// Text redaction only (engines built in tests and benchmarks write no
    /// files).
    pub fn text_only() -> Self {
        PrivacyOptions {
            audio: AudioPolicy::Off,
            ..PrivacyOptions::default()
        }
    }
}

/// Context words every pack gets, in both languages, on top of the words
/// its own `pii` rules name: redaction would rather mask an order number
/// than leak a card.
const CONTEXT: &[(PiiKind, &[&str])] = &[
    (
        PiiKind::BankCard,
        &[
            "卡号",
            "银行卡",
            "信用卡",
            "储蓄卡",
            "账号",
            "card",
            "account number",
        ],
    ),
    (
        PiiKind::CnId,
        &[
            "身份证",
            "证件号",
            "id number",
            "id card",
            "identity",
            "passport",
        ],
    ),
    (
        PiiKind::CnMobile,
        &[
            "手机",
            "电话",
            "号码",
            "联系方式",
            "phone",
            "mobile",
            "cell",
        ],
    ),
];

/// Masks personal data; built once from the rule packs and `[privacy]`.
#[derive(Debug, Clone)]
pub struct Redactor {
    detector: Detector,
    pub options: PrivacyOptions,
}

/// What was masked in a result's turns: per turn, the original character
/// ranges and the turn's original length in characters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Redaction {
    pub turns: Vec<TurnRedaction>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TurnRedaction {
    pub turn: usize,
    pub start: f64,
    pub end: f64,
    /// Length of the original text in characters.
    pub chars: usize,
    pub spans: Vec<(usize, usize)>,
    pub kinds: Vec<PiiKind>,
    /// The turn's character times from the recognizer (see
    /// [`Turn::clock`]); empty: placed by character position.
    pub clock: Vec<(usize, f64)>,
}

impl Redaction {
    pub fn is_empty(&self) -> bool {
        self.turns.is_empty()
    }

    /// Seconds to silence, padded by `pad_s` and merged where they overlap.
    /// Each masked character range is placed by the recognizer's token
    /// times where the turn has them: from the time of the last timed
    /// character before the range to that of the first one after it (the
    /// neighbouring words), so the whole of the data's own words lies
    /// inside however coarse the times. Without times it is placed by
    /// character position within the turn and widened by a tenth of the
    /// turn (the longer the turn, the rougher the estimate). Either way it
    /// is clamped to the turn padded by `pad_s`.
    pub fn time_spans(&self, pad_s: f64) -> Vec<(f64, f64)> {
        let mut out: Vec<(f64, f64)> = Vec::new();
        for t in &self.turns {
            let len = (t.end - t.start).max(0.0);
            for &(s, e) in &t.spans {
                let (a, b) = match by_clock(&t.clock, s, e) {
                    Some((a, b)) => (a.unwrap_or(t.start) - pad_s, b.unwrap_or(t.end) + pad_s),
                    None => {
                        let at = |c: usize| t.start + len * c as f64 / t.chars.max(1) as f64;
                        let pad = pad_s + len * 0.1;
                        (at(s) - pad, at(e) + pad)
                    }
                };
                let a = a.max(t.start - pad_s).max(0.0);
                let b = b.min(t.end + pad_s);
                out.push((a, b.max(a)));
            }
        }
        out.sort_by(|x, y| x.0.total_cmp(&y.0));
        let mut merged: Vec<(f64, f64)> = Vec::new();
        for (a, b) in out {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        merged
    }
}

/// Where characters `s..e` were spoken, from a turn's clock: the time of
/// the last timed character before `s` and of the first one at or after
/// `e` (`None` where the range starts or ends the timed text: the turn's
/// edge). `None` when the range has no timed character of its own (the
/// clock does not cover it).
fn by_clock(clock: &[(usize, f64)], s: usize, e: usize) -> Option<(Option<f64>, Option<f64>)> {
    if !clock.iter().any(|&(i, _)| i >= s && i < e) {
        return None;
    }
    let before = clock.iter().rev().find(|&&(i, _)| i < s).map(|&(_, t)| t);
    let after = clock.iter().find(|&&(i, _)| i >= e).map(|&(_, t)| t);
    Some((before, after))
}

impl Redactor {
    /// A redactor for every kind, with the context words of every pack's
    /// `pii` rules and the built-in ones.
    pub fn new(options: PrivacyOptions, packs: Option<&PackSet>) -> Self {
        let mut context: HashMap<PiiKind, Vec<String>> = HashMap::new();
        for (kind, words) in CONTEXT {
            for w in *words {
                let norm = crate::text::normalise(w, Language::Zh).text;
                context.entry(*kind).or_default().push(norm);
            }
        }
        for pack in packs.into_iter().flat_map(|p| p.iter()) {
            for rule in &pack.rules {
                if let RuleKind::Pii { context: c, .. } = &rule.kind {
                    for (k, words) in c {
                        context.entry(*k).or_default().extend(words.iter().cloned());
                    }
                }
            }
        }
        Redactor {
            detector: Detector::all(context),
            options,
        }
    }

    fn pieces(&self, text: &str, contexts: &[&str]) -> Vec<Piece> {
        let keep = self.options.keep_digits;
        let found = self.detector.find(text, contexts, true);
        // A partly masked number inside a whole one (an ID's check `X`
        // reads as a mask character) is the whole one.
        let masked: Vec<Found> = partly_masked(text)
            .into_iter()
            .filter(|m| {
                !found
                    .iter()
                    .any(|f| f.span.0 < m.span.1 && m.span.0 < f.span.1)
            })
            .collect();
        found
            .into_iter()
            .chain(masked)
            .map(|found| Piece { found, keep })
            .collect()
    }

    /// Any text (a message, a failure reason) with personal data masked.
    pub fn text(&self, text: &str, language: Language) -> String {
        let norm = crate::text::normalise(text, language);
        let pieces = self.pieces(text, &[&norm.text]);
        if pieces.is_empty() {
            return text.to_owned();
        }
        let edits = mask::edits(&pieces, text, self.options.mask, language);
        mask::apply(text, &edits)
    }

    /// Masks the result in place: turns, evidence, flag messages, coaching
    /// and diagnostics. Returns where the turns were masked.
    pub fn result(&self, r: &mut QaResult) -> Redaction {
        let language = r.language;
        let n = r.turns.len();
        let mut pieces: Vec<Vec<Piece>> = (0..n)
            .map(|i| {
                let t = &r.turns[i];
                let prev = if i > 0 {
                    r.turns[i - 1].norm.text.as_str()
                } else {
                    ""
                };
                self.pieces(&t.text, &[&t.norm.text, prev])
            })
            .collect();
        for i in 1..n {
            let (a, b) = pieces.split_at_mut(i);
            split_numbers(
                &self.detector,
                &r.turns[i - 1],
                &r.turns[i],
                self.options.keep_digits,
                &mut a[i - 1],
                &mut b[0],
            );
        }
        let mut edits: Vec<Vec<Edit>> = Vec::with_capacity(n);
        let mut redaction = Redaction::default();
        let orig_len: Vec<usize> = r.turns.iter().map(|t| t.text.chars().count()).collect();
        for (i, p) in pieces.iter().enumerate() {
            let e = mask::edits(p, &r.turns[i].text, self.options.mask, language);
            if !e.is_empty() {
                let t = &r.turns[i];
                redaction.turns.push(TurnRedaction {
                    turn: i,
                    start: t.start,
                    end: t.end,
                    chars: orig_len[i],
                    spans: p.iter().map(|p| p.found.span).collect(),
                    kinds: p.iter().map(|p| p.found.kind).collect(),
                    clock: t.clock.clone(),
                });
                let t = &mut r.turns[i];
                let text = mask::apply(&t.text, &e);
                *t = Turn::new(t.speaker, t.start, t.end, text, language);
            }
            edits.push(e);
        }
        for flag in &mut r.analysis.flags {
            flag.message = self.text(&flag.message, language);
            for ev in &mut flag.evidence {
                self.evidence(ev, &r.turns, &orig_len, &edits, language);
            }
        }
        for c in &mut r.coaching {
            c.text = self.text(&c.text, language);
        }
        for d in &mut r.analysis.diagnostics {
            d.message = self.text(&d.message, language);
        }
        redaction
    }

    fn evidence(
        &self,
        ev: &mut Evidence,
        turns: &[Turn],
        orig_len: &[usize],
        edits: &[Vec<Edit>],
        language: Language,
    ) {
        // Evidence quoting a whole turn (its text, or the analyser's own
        // masked copy of it) becomes the redacted turn, highlight moved.
        if let Some(i) = ev.turn {
            if i < turns.len() && ev.text.chars().count() == orig_len[i] {
                ev.text = turns[i].text.clone();
                ev.highlight = ev.highlight.map(|(s, e)| {
                    (
                        mask::map_offset(&edits[i], s, false),
                        mask::map_offset(&edits[i], e, true),
                    )
                });
                return;
            }
        }
        let masked = self.text(&ev.text, language);
        if masked != ev.text {
            ev.text = masked;
            // Offsets into the old text no longer hold.
            ev.highlight = None;
        }
    }
}

/// A number split across two adjacent turns (`…卡号是6222 0212` then
/// `3456 7894`): found in the two texts joined, then masked in both, the
/// first part whole and the second keeping its last digits.
fn split_numbers(
    detector: &Detector,
    a: &Turn,
    b: &Turn,
    keep: usize,
    out_a: &mut Vec<Piece>,
    out_b: &mut Vec<Piece>,
) {
    let len_a = a.text.chars().count();
    let joined = format!("{}\n{}", a.text, b.text);
    let start_b = len_a + 1;
    for f in detector.find(&joined, &[&a.norm.text, &b.norm.text], true) {
        let Shape::Digits { tokens, digits } = &f.shape else {
            continue;
        };
        if !(f.span.0 < len_a && f.span.1 > start_b) {
            continue;
        }
        let left: Vec<(usize, usize)> = tokens.iter().copied().filter(|t| t.1 <= len_a).collect();
        let right: Vec<(usize, usize)> = tokens
            .iter()
            .filter(|t| t.0 >= start_b)
            .map(|t| (t.0 - start_b, t.1 - start_b))
            .collect();
        let part = |tokens: Vec<(usize, usize)>, keep: usize| -> Option<Piece> {
            let span = (tokens.first()?.0, tokens.last()?.1);
            Some(Piece {
                found: Found {
                    kind: f.kind,
                    span,
                    shape: Shape::Digits {
                        tokens,
                        digits: digits.clone(),
                    },
                    verified: f.verified,
                },
                keep,
            })
        };
        out_a.extend(part(left, 0));
        out_b.extend(part(right, keep));
    }
}

#[cfg(test)]
mod tests;
