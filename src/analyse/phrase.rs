//! Phrase rules: required phrases (greeting, closing, apology, within the
//! first or last turns or seconds), forbidden phrases (buck-passing,
//! rudeness, unauthorised promises) and customer-side triggers (complaint,
//! escalation, churn).
//!
//! On call transcripts, rules with `approximate` on also match what speech
//! recognition misheard (see `rules::approx`): an approximate hit satisfies
//! a required phrase and raises a forbidden phrase or trigger, with its
//! similarity in the evidence.

use super::{fill, flag, say, span_evidence, turn_evidence, Analyser, Subject};
use crate::domain::{Analysis, Conversation, Medium, Speaker};
use crate::rules::approx::ApproxText;
use crate::rules::matcher::{MatchOptions, PhraseMatcher};
use crate::rules::{RuleKind, RuleMeta, RulePack, Window};

enum Check {
    Required(Window),
    Forbidden,
    Trigger,
}

struct PhraseRule {
    meta: RuleMeta,
    speaker: Speaker,
    matcher: PhraseMatcher,
    check: Check,
}

pub struct PhraseAnalyser {
    rules: Vec<PhraseRule>,
    opts: MatchOptions,
}

/// Most evidence items a single customer-trigger flag carries.
const MAX_TRIGGER_EVIDENCE: usize = 5;

impl PhraseAnalyser {
    pub fn build(pack: &RulePack) -> Self {
        let rules = pack
            .rules
            .iter()
            .filter_map(|r| {
                let (speaker, matcher, check) = match &r.kind {
                    RuleKind::RequiredPhrase {
                        speaker,
                        matcher,
                        window,
                    } => (*speaker, matcher, Check::Required(*window)),
                    RuleKind::ForbiddenPhrase { speaker, matcher } => {
                        (*speaker, matcher, Check::Forbidden)
                    }
                    RuleKind::CustomerTrigger { speaker, matcher } => {
                        (*speaker, matcher, Check::Trigger)
                    }
                    _ => return None,
                };
                Some(PhraseRule {
                    meta: r.meta.clone(),
                    speaker,
                    matcher: matcher.clone(),
                    check,
                })
            })
            .collect();
        PhraseAnalyser {
            rules,
            opts: pack.matching.clone(),
        }
    }
}

/// The turns of `speaker` that lie inside a window.
pub(crate) fn window_turns(conv: &Conversation, speaker: Speaker, w: &Window) -> Vec<usize> {
    let all: Vec<usize> = conv.turns_of(speaker).map(|(i, _)| i).collect();
    let n = all.len();
    all.into_iter()
        .enumerate()
        .filter(|&(k, i)| {
            let t = &conv.turns[i];
            w.first_turns.is_none_or(|f| k < f)
                && w.first_seconds.is_none_or(|s| t.start <= s)
                && w.last_turns.is_none_or(|l| k + l >= n)
                && w.last_seconds.is_none_or(|s| t.end >= conv.duration - s)
        })
        .map(|(_, i)| i)
        .collect()
}

impl Analyser for PhraseAnalyser {
    fn name(&self) -> &'static str {
        "phrase"
    }

    fn analyse(&self, s: &Subject<'_>, out: &mut Analysis) {
        let conv = s.conv;
        // A call without speech has nothing to judge (it is flagged
        // no_speech); "greeting missing" there would be noise.
        if conv.turns.is_empty() {
            return;
        }
        // Transcripts of calls, once per turn, when some rule matches
        // approximately; typed chats always match exactly.
        let sounds: Vec<ApproxText> = if conv.medium == Medium::Call
            && self.opts.approximate.is_some()
            && self.rules.iter().any(|r| r.matcher.is_approximate())
        {
            conv.turns
                .iter()
                .map(|t| ApproxText::new(&t.norm, self.opts.language))
                .collect()
        } else {
            Vec::new()
        };
        for r in &self.rules {
            let hit_in = |i: usize| {
                let t = &conv.turns[i];
                r.matcher
                    .first_hit(&t.text, &t.norm, sounds.get(i), &self.opts)
            };
            let evidence_at = |i: usize, hit: crate::rules::matcher::Hit| {
                let mut e = turn_evidence(conv, i, Some(hit.orig));
                e.similarity = hit.similarity;
                e
            };
            match &r.check {
                Check::Required(w) => {
                    let turns = window_turns(conv, r.speaker, w);
                    if turns.iter().any(|&i| hit_in(i).is_some()) {
                        continue;
                    }
                    let evidence = if turns.is_empty() {
                        vec![span_evidence(
                            Some(r.speaker),
                            0.0,
                            conv.duration,
                            say(
                                conv.language,
                                "（该时段内没有坐席发言）",
                                "(no turn by this speaker in the window)",
                            ),
                        )]
                    } else {
                        turns
                            .iter()
                            .take(2)
                            .map(|&i| turn_evidence(conv, i, None))
                            .collect()
                    };
                    out.flags
                        .push(flag(&r.meta, r.meta.message.clone(), evidence));
                }
                Check::Forbidden => {
                    for (i, _) in conv.turns_of(r.speaker) {
                        if let Some(hit) = hit_in(i) {
                            let matched: String = conv.turns[i]
                                .text
                                .chars()
                                .skip(hit.orig.0)
                                .take(hit.orig.1 - hit.orig.0)
                                .collect();
                            out.flags.push(flag(
                                &r.meta,
                                fill(&r.meta.message, &[("match", matched)]),
                                vec![evidence_at(i, hit)],
                            ));
                        }
                    }
                }
                Check::Trigger => {
                    let evidence: Vec<_> = conv
                        .turns_of(r.speaker)
                        .filter_map(|(i, _)| hit_in(i).map(|h| evidence_at(i, h)))
                        .take(MAX_TRIGGER_EVIDENCE)
                        .collect();
                    if !evidence.is_empty() {
                        out.flags
                            .push(flag(&r.meta, r.meta.message.clone(), evidence));
                    }
                }
            }
        }
    }
}
