//! Call acoustics from the speech timeline (voice activity detection): dead
//! air, the agent talking over the customer, and recordings without speech;
//! plus the silence and overlap metrics.
//!
//! Only the timeline counts as speech here, not transcript times: Whisper's
//! segment times are padded and merged, VAD's are measured. A call without
//! a timeline (a transcript from elsewhere) gets no acoustic findings,
//! except `no_speech` when it has no turns either.

use super::{fill, flag, say, secs, span_evidence, turn_evidence, Analyser, Subject};
use crate::domain::{
    Analysis, Attribution, Conversation, Evidence, Medium, Span, Speaker, SpeechTimeline,
};
use crate::rules::{RuleKind, RuleMeta, RulePack};

enum Check {
    LongSilence { min_seconds: f64 },
    Interruption { min_seconds: f64 },
    NoSpeech,
}

pub struct AcousticsAnalyser {
    rules: Vec<(RuleMeta, Check)>,
}

/// Agent-over-customer overlaps at least this long count in
/// `overlap_count`; shorter ones are region edges touching (VAD pads each
/// region by about 0.1 s), not anyone talking over anyone.
const MIN_OVERLAP_S: f64 = 0.3;

impl AcousticsAnalyser {
    pub fn build(pack: &RulePack) -> Self {
        let rules = pack
            .rules
            .iter()
            .filter_map(|r| match r.kind {
                RuleKind::LongSilence { min_seconds } => {
                    Some((r.meta.clone(), Check::LongSilence { min_seconds }))
                }
                RuleKind::Interruption { min_seconds } => {
                    Some((r.meta.clone(), Check::Interruption { min_seconds }))
                }
                RuleKind::NoSpeech => Some((r.meta.clone(), Check::NoSpeech)),
                _ => None,
            })
            .collect();
        AcousticsAnalyser { rules }
    }
}

/// Spans merged into disjoint, ordered ones; empty and non-finite spans
/// are left out.
fn union<'a>(spans: impl IntoIterator<Item = &'a Span>) -> Vec<Span> {
    let mut v: Vec<Span> = spans
        .into_iter()
        .filter(|s| s.start.is_finite() && s.end.is_finite() && !s.is_empty())
        .copied()
        .collect();
    v.sort_by(|a, b| a.start.total_cmp(&b.start));
    let mut out: Vec<Span> = Vec::with_capacity(v.len());
    for s in v {
        match out.last_mut() {
            Some(last) if s.start <= last.end => last.end = last.end.max(s.end),
            _ => out.push(s),
        }
    }
    out
}

/// The silences between consecutive speech spans (so not before the first
/// speech, which is ringing, nor after the last, which is hang-up).
fn gaps(speech: &[Span]) -> Vec<Span> {
    speech
        .windows(2)
        .map(|w| Span {
            start: w[0].end,
            end: w[1].start,
        })
        .collect()
}

/// Whether the timeline has a channel per speaker (rather than one mixed
/// channel), so overlaps can be attributed. Roles inferred on a mono
/// recording never can: one channel has no overlaps to measure.
fn split_channels(conv: &Conversation, tl: &SpeechTimeline) -> bool {
    match conv.attribution {
        Attribution::Inferred => false,
        Attribution::Channels if tl.mixed.is_empty() => true,
        _ => !tl.agent.is_empty() || !tl.customer.is_empty(),
    }
}

/// Each agent speech span that starts while the customer is speaking: the
/// time from the agent's start to whichever ends first.
fn overlaps(agent: &[Span], customer: &[Span]) -> Vec<Span> {
    // Someone pausing for breath mid-sentence still holds the floor: each
    // side's speech is one stretch across pauses shorter than this.
    const FLOOR_HELD_S: f64 = 1.0;
    let held = |spans: &[Span]| {
        let mut out: Vec<Span> = Vec::new();
        for c in union(spans) {
            match out.last_mut() {
                Some(last) if c.start - last.end < FLOOR_HELD_S => last.end = last.end.max(c.end),
                _ => out.push(c),
            }
        }
        out
    };
    let customer = held(customer);
    held(agent)
        .iter()
        .filter_map(|a| {
            // Customer spans are disjoint: only the last one starting before
            // the agent can still be going on.
            let i = customer.partition_point(|c| c.start < a.start);
            let c = customer.get(i.checked_sub(1)?)?;
            (a.start < c.end).then(|| Span {
                start: a.start,
                end: a.end.min(c.end),
            })
        })
        .collect()
}

/// The speaker's turn overlapping a span the most.
fn turn_over(conv: &Conversation, speaker: Speaker, span: Span) -> Option<usize> {
    let shared = |start: f64, end: f64| end.min(span.end) - start.max(span.start);
    conv.turns_of(speaker)
        .filter(|(_, t)| t.start < span.end && t.end > span.start)
        .max_by(|(_, a), (_, b)| shared(a.start, a.end).total_cmp(&shared(b.start, b.end)))
        .map(|(i, _)| i)
}

/// Evidence for an interruption: what the agent said over the customer,
/// timed to the overlap, then the customer turn that was cut into.
fn interruption_evidence(conv: &Conversation, o: Span, description: String) -> Vec<Evidence> {
    let agent = match turn_over(conv, Speaker::Agent, o) {
        Some(i) => Evidence {
            start: o.start,
            end: o.end,
            ..turn_evidence(conv, i, None)
        },
        None => span_evidence(Some(Speaker::Agent), o.start, o.end, description),
    };
    let customer = turn_over(conv, Speaker::Customer, o).map(|i| turn_evidence(conv, i, None));
    std::iter::once(agent).chain(customer).collect()
}

impl Analyser for AcousticsAnalyser {
    fn name(&self) -> &'static str {
        "acoustics"
    }

    fn analyse(&self, s: &Subject<'_>, out: &mut Analysis) {
        let conv = s.conv;
        if conv.medium != Medium::Call {
            return;
        }
        let lang = conv.language;
        let tl = conv.timeline.as_ref();
        let speech = tl
            .map(|tl| union(tl.agent.iter().chain(&tl.customer).chain(&tl.mixed)))
            .unwrap_or_default();
        // Unclear sound is not silence: dead air is measured over it too.
        let sound = tl
            .map(|tl| {
                union(
                    tl.agent
                        .iter()
                        .chain(&tl.customer)
                        .chain(&tl.mixed)
                        .chain(&tl.unclear),
                )
            })
            .unwrap_or_default();
        let silences = gaps(&sound);
        let overlaps = tl
            .filter(|tl| split_channels(conv, tl))
            .map(|tl| overlaps(&tl.agent, &tl.customer));

        if tl.is_some() {
            let m = &mut out.metrics;
            if conv.duration > 0.0 {
                let spoken: f64 = sound
                    .iter()
                    .map(|s| (s.end.min(conv.duration) - s.start.max(0.0)).max(0.0))
                    .sum();
                m.silence_share = Some((1.0 - spoken / conv.duration).clamp(0.0, 1.0));
            }
            m.longest_silence_s =
                (!speech.is_empty()).then(|| silences.iter().map(Span::len).fold(0.0, f64::max));
            m.overlap_count = overlaps
                .as_ref()
                .map(|o| o.iter().filter(|o| o.len() >= MIN_OVERLAP_S).count());
        }

        for (meta, check) in &self.rules {
            match check {
                Check::LongSilence { min_seconds } => {
                    for g in silences.iter().filter(|g| g.len() >= *min_seconds) {
                        let vars = [("value", secs(g.len()))];
                        let text =
                            fill(&say(lang, "静默 {value} 秒", "{value} s of silence"), &vars);
                        out.flags.push(flag(
                            meta,
                            fill(&meta.message, &vars),
                            vec![span_evidence(None, g.start, g.end, text)],
                        ));
                    }
                }
                Check::Interruption { min_seconds } => {
                    let long = overlaps
                        .iter()
                        .flatten()
                        .filter(|o| o.len() >= *min_seconds);
                    for &o in long {
                        let vars = [("value", secs(o.len()))];
                        let description = fill(
                            &say(
                                lang,
                                "坐席在客户说话时插话 {value} 秒",
                                "agent spoke over the customer for {value} s",
                            ),
                            &vars,
                        );
                        out.flags.push(flag(
                            meta,
                            fill(&meta.message, &vars),
                            interruption_evidence(conv, o, description),
                        ));
                    }
                }
                Check::NoSpeech => {
                    if sound.is_empty() && conv.turns.is_empty() {
                        let text = say(lang, "录音中没有语音", "no speech in the recording");
                        out.flags.push(flag(
                            meta,
                            meta.message.clone(),
                            vec![span_evidence(None, 0.0, conv.duration.max(0.0), text)],
                        ));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::domain::{JobId, Language, Metadata};

    use Speaker::{Agent as A, Customer as C};

    fn pack(lang: &str) -> RulePack {
        RulePack::load(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("rules")
                .join(lang),
        )
        .expect("default pack loads")
    }

    /// Speech spans `(start, end)` per side; `None`: no timeline at all.
    type Spans = &'static [(f64, f64)];

    struct Case {
        name: &'static str,
        medium: Medium,
        /// Agent, customer and mixed speech; `None`: no timeline.
        timeline: Option<(Spans, Spans, Spans)>,
        turns: &'static [(Speaker, f64, f64, &'static str)],
        duration: f64,
        /// Rules that fired, each with its first evidence span.
        flags: &'static [(&'static str, f64, f64)],
        /// silence_share, longest_silence_s, overlap_count.
        metrics: (Option<f64>, Option<f64>, Option<usize>),
    }

    const CALL: Medium = Medium::Call;
    const NO: Spans = &[];

    fn conv(lang: Language, c: &Case) -> Conversation {
        let mono =
            matches!(c.timeline, Some((a, b, m)) if a.is_empty() && b.is_empty() && !m.is_empty());
        let mut conv = Conversation::from_turns(
            JobId::new(c.name),
            c.medium,
            lang,
            None,
            c.turns.iter().map(|&(s, a, b, t)| (s, a, b, t.to_owned())),
            if mono {
                Attribution::Inferred
            } else {
                Attribution::Channels
            },
        );
        let spans = |v: Spans| v.iter().map(|&(start, end)| Span { start, end }).collect();
        conv.timeline = c.timeline.map(|(a, b, m)| SpeechTimeline {
            agent: spans(a),
            customer: spans(b),
            mixed: spans(m),
            unclear: Vec::new(),
        });
        conv.duration = c.duration;
        conv
    }

    /// Sound the recognizer could not make out is not dead air.
    #[test]
    fn unclear_sound_is_not_silence() {
        let c = Case {
            name: "12 s gap",
            medium: CALL,
            timeline: Some((&[(2.0, 6.0), (20.0, 25.0)], &[(6.5, 8.0)], NO)),
            turns: &[],
            duration: 30.0,
            flags: &[],
            metrics: (None, None, None),
        };
        let p = pack("en");
        let mut conv = conv(Language::En, &c);
        assert_eq!(analyse(&p, &conv).flags.len(), 1);
        if let Some(tl) = conv.timeline.as_mut() {
            tl.unclear.push(Span {
                start: 9.0,
                end: 19.0,
            });
        }
        let a = analyse(&p, &conv);
        assert!(a.flags.is_empty(), "{:?}", a.flags);
        assert_eq!(a.metrics.longest_silence_s, Some(1.0));
    }

    fn analyse(pack: &RulePack, conv: &Conversation) -> Analysis {
        let mut out = Analysis::default();
        AcousticsAnalyser::build(pack).analyse(
            &Subject {
                conv,
                metadata: &Metadata::default(),
                signals: None,
            },
            &mut out,
        );
        out
    }

    #[rustfmt::skip]
    const CASES: &[Case] = &[
        Case { name: "12 s gap", medium: CALL, timeline: Some((&[(2.0, 6.0), (20.0, 25.0)], &[(6.5, 8.0)], NO)), turns: &[], duration: 30.0,
            flags: &[("long_silence", 8.0, 20.0)], metrics: (Some(0.65), Some(12.0), Some(0)) },
        Case { name: "9 s gap", medium: CALL, timeline: Some((&[(2.0, 6.0), (17.0, 25.0)], &[(6.5, 8.0)], NO)), turns: &[], duration: 30.0,
            flags: &[], metrics: (Some(1.0 - 13.5 / 30.0), Some(9.0), Some(0)) },
        Case { name: "two long gaps, two flags", medium: CALL, timeline: Some((&[(1.0, 2.0), (14.0, 15.0)], &[(30.0, 31.0)], NO)), turns: &[], duration: 40.0,
            flags: &[("long_silence", 2.0, 14.0), ("long_silence", 15.0, 30.0)], metrics: (Some(1.0 - 3.0 / 40.0), Some(15.0), Some(0)) },
        Case { name: "leading 5 s and trailing 25 s are not dead air", medium: CALL, timeline: Some((&[(5.0, 10.0)], &[(10.5, 15.0)], NO)), turns: &[], duration: 40.0,
            flags: &[], metrics: (Some(1.0 - 9.5 / 40.0), Some(0.5), Some(0)) },
        Case { name: "touching speech has no gap", medium: CALL, timeline: Some((&[(1.0, 5.0)], &[(5.0, 9.0)], NO)), turns: &[], duration: 10.0,
            flags: &[], metrics: (Some(0.2), Some(0.0), Some(0)) },
        Case { name: "agent starts 2 s before the customer ends", medium: CALL, timeline: Some((&[(4.0, 9.0)], &[(1.0, 6.0)], NO)), turns: &[], duration: 10.0,
            flags: &[("interruption", 4.0, 6.0)], metrics: (Some(0.2), Some(0.0), Some(1)) },
        Case { name: "both pause mid-sentence: one talk-over, measured across the pauses", medium: CALL, timeline: Some((&[(4.0, 5.0), (5.5, 9.0)], &[(1.0, 5.2), (5.8, 6.5)], NO)), turns: &[], duration: 10.0,
            flags: &[("interruption", 4.0, 6.5)], metrics: (Some(1.0 - 7.7 / 10.0), Some(0.3), Some(1)) },
        Case { name: "agent inside a customer span", medium: CALL, timeline: Some((&[(3.0, 4.5)], &[(1.0, 8.0)], NO)), turns: &[], duration: 10.0,
            flags: &[("interruption", 3.0, 4.5)], metrics: (Some(0.3), Some(0.0), Some(1)) },
        Case { name: "0.5 s overlap: counted, not flagged", medium: CALL, timeline: Some((&[(5.5, 9.0)], &[(1.0, 6.0)], NO)), turns: &[], duration: 10.0,
            flags: &[], metrics: (Some(0.2), Some(0.0), Some(1)) },
        Case { name: "0.2 s of touching edges: not counted", medium: CALL, timeline: Some((&[(5.8, 9.0)], &[(1.0, 6.0)], NO)), turns: &[], duration: 10.0,
            flags: &[], metrics: (Some(0.2), Some(0.0), Some(0)) },
        Case { name: "customer starting over the agent", medium: CALL, timeline: Some((&[(1.0, 6.0)], &[(4.0, 9.0)], NO)), turns: &[], duration: 10.0,
            flags: &[], metrics: (Some(0.2), Some(0.0), Some(0)) },
        Case { name: "both starting at once", medium: CALL, timeline: Some((&[(1.0, 6.0)], &[(1.0, 6.0)], NO)), turns: &[], duration: 10.0,
            flags: &[], metrics: (Some(0.5), Some(0.0), Some(0)) },
        Case { name: "mono: silence found, overlaps unknown", medium: CALL, timeline: Some((NO, NO, &[(1.0, 4.0), (16.0, 20.0)])), turns: &[], duration: 20.0,
            flags: &[("long_silence", 4.0, 16.0)], metrics: (Some(1.0 - 7.0 / 20.0), Some(12.0), None) },
        Case { name: "empty timeline, no turns", medium: CALL, timeline: Some((NO, NO, NO)), turns: &[], duration: 30.0,
            flags: &[("no_speech", 0.0, 30.0)], metrics: (Some(1.0), None, Some(0)) },
        Case { name: "no timeline, no turns", medium: CALL, timeline: None, turns: &[], duration: 30.0,
            flags: &[("no_speech", 0.0, 30.0)], metrics: (None, None, None) },
        Case { name: "empty timeline but turns", medium: CALL, timeline: Some((NO, NO, NO)), turns: &[(A, 1.0, 3.0, "hello")], duration: 30.0,
            flags: &[], metrics: (Some(1.0), None, Some(0)) },
        Case { name: "no timeline: transcript gaps are not measured", medium: CALL, timeline: None, turns: &[(A, 1.0, 3.0, "hello"), (C, 30.0, 32.0, "hi")], duration: 40.0,
            flags: &[], metrics: (None, None, None) },
        Case { name: "zero duration: no silence share", medium: CALL, timeline: Some((&[(1.0, 2.0)], NO, NO)), turns: &[], duration: 0.0,
            flags: &[], metrics: (None, Some(0.0), Some(0)) },
        Case { name: "chat: nothing at all", medium: Medium::Chat, timeline: Some((&[(1.0, 2.0), (20.0, 21.0)], &[(1.5, 19.0)], NO)), turns: &[(C, 0.0, 0.0, "hi")], duration: 30.0,
            flags: &[], metrics: (None, None, None) },
    ];

    #[test]
    fn acoustic_rules_and_metrics() {
        let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => (a - b).abs() < 1e-9,
            (a, b) => a == b,
        };
        let mut failures = Vec::new();
        for (lang, p) in [(Language::En, pack("en")), (Language::Zh, pack("zh"))] {
            for c in CASES {
                let a = analyse(&p, &conv(lang, c));
                let got: Vec<(&str, f64, f64)> = a
                    .flags
                    .iter()
                    .map(|f| (f.rule.as_str(), f.evidence[0].start, f.evidence[0].end))
                    .collect();
                if got != c.flags {
                    failures.push(format!(
                        "{lang} {}: flags {got:?}, want {:?}",
                        c.name, c.flags
                    ));
                }
                let m = &a.metrics;
                let (share, longest, overlaps) = c.metrics;
                if !close(m.silence_share, share)
                    || !close(m.longest_silence_s, longest)
                    || m.overlap_count != overlaps
                {
                    failures.push(format!(
                        "{lang} {}: metrics ({:?}, {:?}, {:?}), want {:?}",
                        c.name, m.silence_share, m.longest_silence_s, m.overlap_count, c.metrics
                    ));
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// What a reviewer reads: message, evidence speaker, time and text.
    #[test]
    fn messages_and_evidence_in_the_conversation_language() {
        let silence = Case {
            name: "silence",
            medium: CALL,
            timeline: Some((&[(2.0, 6.0), (20.0, 25.0)], &[(6.5, 8.0)], NO)),
            turns: &[],
            duration: 30.0,
            flags: &[],
            metrics: (None, None, None),
        };
        let over_turns = Case {
            name: "over turns",
            medium: CALL,
            timeline: Some((&[(4.0, 9.0)], &[(1.0, 6.0)], NO)),
            turns: &[
                (C, 1.0, 6.0, "my parcel never came and"),
                (A, 4.0, 9.0, "let me check that"),
            ],
            duration: 10.0,
            flags: &[],
            metrics: (None, None, None),
        };
        let over_no_turns = Case {
            name: "over",
            turns: &[],
            ..over_turns
        };
        let silent = Case {
            name: "silent",
            timeline: Some((NO, NO, NO)),
            duration: 12.5,
            ..over_no_turns
        };
        let ev = |speaker, start, end, text: &str, turn| Evidence {
            speaker,
            start,
            end,
            text: text.to_owned(),
            turn,
            highlight: None,
            similarity: None,
        };
        #[rustfmt::skip]
        let cases: Vec<(Language, &Case, &str, Vec<Evidence>)> = vec![
            (Language::En, &silence, "12 s of dead air", vec![ev(None, 8.0, 20.0, "12 s of silence", None)]),
            (Language::Zh, &silence, "通话中出现 12 秒无人说话", vec![ev(None, 8.0, 20.0, "静默 12 秒", None)]),
            (Language::En, &over_turns, "The agent talked over the customer for 2.0 s",
                vec![ev(Some(A), 4.0, 6.0, "let me check that", Some(1)), ev(Some(C), 1.0, 6.0, "my parcel never came and", Some(0))]),
            (Language::En, &over_no_turns, "The agent talked over the customer for 2.0 s",
                vec![ev(Some(A), 4.0, 6.0, "agent spoke over the customer for 2.0 s", None)]),
            (Language::Zh, &over_no_turns, "坐席在客户说话时插话 2.0 秒",
                vec![ev(Some(A), 4.0, 6.0, "坐席在客户说话时插话 2.0 秒", None)]),
            (Language::En, &silent, "No speech found in the recording", vec![ev(None, 0.0, 12.5, "no speech in the recording", None)]),
            (Language::Zh, &silent, "录音中没有检测到语音", vec![ev(None, 0.0, 12.5, "录音中没有语音", None)]),
        ];
        for (lang, c, message, evidence) in cases {
            let p = pack(match lang {
                Language::En => "en",
                Language::Zh => "zh",
            });
            let a = analyse(&p, &conv(lang, c));
            assert_eq!(a.flags.len(), 1, "{lang} {}: {:?}", c.name, a.flags);
            assert_eq!(a.flags[0].message, message, "{lang} {}", c.name);
            assert_eq!(a.flags[0].evidence, evidence, "{lang} {}", c.name);
        }
    }

    #[test]
    fn inferred_roles_never_count_overlaps() {
        let overlap = CASES
            .iter()
            .find(|c| c.name == "agent starts 2 s before the customer ends");
        let mut c = conv(Language::En, overlap.expect("case"));
        c.attribution = Attribution::Inferred;
        let a = analyse(&pack("en"), &c);
        assert!(a.flags.is_empty(), "{:?}", a.flags);
        assert_eq!(a.metrics.overlap_count, None);
        assert_eq!(a.metrics.longest_silence_s, Some(0.0));
    }

    #[test]
    fn a_pack_without_acoustic_rules_still_measures() {
        let mut p = pack("en");
        p.rules.retain(|r| {
            !matches!(
                r.kind,
                RuleKind::LongSilence { .. } | RuleKind::Interruption { .. } | RuleKind::NoSpeech
            )
        });
        let gap = CASES.iter().find(|c| c.name == "12 s gap").expect("case");
        let a = analyse(&p, &conv(Language::En, gap));
        assert!(a.flags.is_empty(), "{:?}", a.flags);
        assert_eq!(a.metrics.longest_silence_s, Some(12.0));
    }
}
