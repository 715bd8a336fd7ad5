//! Who said what on a mono recording, where both speakers share one
//! channel. Where `crate::diarize` told two voices apart, each voice is
//! named agent or customer from what it says (agents greet, offer help and
//! close; customers complain and threaten to leave) and from who speaks
//! first, with a confidence ([`name_voices`]). Otherwise each utterance (a
//! speech region between pauses) is labelled on its own: speakers tend to
//! alternate at pauses, and a two-state Viterbi pass over the cues picks
//! the most likely labelling. Either way the result is marked
//! `Attribution::Inferred` so a reviewer knows the labels were inferred.

use crate::domain::Speaker;

/// What an utterance's words suggest about its speaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cue {
    Agent,
    Customer,
    None,
}

/// Probability that the speaker changes at a pause.
const SWITCH: f64 = 0.7;
/// Probability that a cue names the right speaker.
const CUE_RIGHT: f64 = 0.9;
/// Prior that the agent speaks first (recorded calls open with the
/// agent's greeting).
const AGENT_FIRST: f64 = 0.6;

fn emit(cue: Cue, s: usize) -> f64 {
    let p = match (cue, s) {
        (Cue::None, _) => 0.5,
        (Cue::Agent, 0) | (Cue::Customer, 1) => CUE_RIGHT,
        _ => 1.0 - CUE_RIGHT,
    };
    p.ln()
}

/// Below this confidence a mono call's roles are reported as uncertain.
pub const MIN_ROLE_CONFIDENCE: f64 = 0.8;

/// Speakers of a transcript's utterances, and on a mono call how sure the
/// naming of the roles is.
#[derive(Debug, Clone, PartialEq)]
pub struct Roles {
    pub speakers: Vec<Speaker>,
    /// Mono calls: probability that agent and customer are the right way
    /// round (0.5–1); `None` where channels say who is who.
    pub confidence: Option<f64>,
}

/// The speaker of each utterance of a transcript: from its channel; on a
/// mixed recording whose voices were told apart (`Utterance::voice`), by
/// naming the two voices ([`name_voices`]); otherwise inferred utterance
/// by utterance (`infer`) from what each says and from alternation.
/// `cue` reads a text for the agent's or the customer's typical phrases
/// (the rule pack's, so this module needs no pack).
pub fn speakers(t: &super::Transcript, cue: impl Fn(&str) -> Option<(Speaker, f64)>) -> Roles {
    // The pack's phrases are read only where channels do not say who spoke.
    let weighed =
        || -> Vec<Option<(Speaker, f64)>> { t.utterances.iter().map(|u| cue(&u.text)).collect() };
    match t.attribution {
        crate::domain::Attribution::Inferred
            if !t.utterances.is_empty() && t.utterances.iter().all(|u| u.voice.is_some()) =>
        {
            let voices: Vec<usize> = t.utterances.iter().filter_map(|u| u.voice).collect();
            let (agent, confidence) = name_voices(&voices, &weighed());
            Roles {
                speakers: voices
                    .iter()
                    .map(|&v| {
                        if v == agent {
                            Speaker::Agent
                        } else {
                            Speaker::Customer
                        }
                    })
                    .collect(),
                confidence: Some(confidence),
            }
        }
        crate::domain::Attribution::Inferred => {
            // Weak cues (a bare greeting) do not steer the utterance-by-
            // utterance labelling.
            let cues: Vec<Cue> = weighed()
                .iter()
                .map(|c| match c {
                    Some((Speaker::Agent, w)) if *w >= 0.5 => Cue::Agent,
                    Some((Speaker::Customer, w)) if *w >= 0.5 => Cue::Customer,
                    _ => Cue::None,
                })
                .collect();
            let speakers = infer(&cues);
            Roles {
                confidence: Some(utterance_confidence(&cues)),
                speakers,
            }
        }
        _ => Roles {
            speakers: t
                .utterances
                .iter()
                .map(|u| u.speaker.unwrap_or(Speaker::Customer))
                .collect(),
            confidence: None,
        },
    }
}

/// Which of two voices is the agent, and the probability that this is
/// right: each utterance's cue is evidence for its voice's role (log-odds
/// `ln(CUE_RIGHT / (1 − CUE_RIGHT))` times the cue's strength), and the
/// voice that speaks first is the agent with prior `AGENT_FIRST`.
pub fn name_voices(voices: &[usize], cues: &[Option<(Speaker, f64)>]) -> (usize, f64) {
    let cue_weight = (CUE_RIGHT / (1.0 - CUE_RIGHT)).ln();
    // Log-odds that voice 0 is the agent.
    let mut odds = 0.0;
    if let Some(&first) = voices.first() {
        let prior = (AGENT_FIRST / (1.0 - AGENT_FIRST)).ln();
        odds += if first == 0 { prior } else { -prior };
    }
    for (&v, c) in voices.iter().zip(cues) {
        let Some((speaker, strength)) = c else {
            continue;
        };
        let towards_zero_agent = match (speaker, v) {
            (Speaker::Agent, 0) | (Speaker::Customer, 1) => 1.0,
            _ => -1.0,
        };
        odds += towards_zero_agent * strength * cue_weight;
    }
    let p0 = 1.0 / (1.0 + (-odds).exp());
    if p0 >= 0.5 {
        (0, p0)
    } else {
        (1, 1.0 - p0)
    }
}

/// How sure the utterance-by-utterance labelling of a mono call is, for
/// want of voices: the share of utterances carrying a cue, mapped to
/// 0.5 (none) .. 0.9 (every one), since alternation alone guesses.
fn utterance_confidence(cues: &[Cue]) -> f64 {
    if cues.is_empty() {
        return 0.5;
    }
    let with = cues.iter().filter(|c| **c != Cue::None).count() as f64 / cues.len() as f64;
    0.5 + 0.4 * with
}

/// The most likely speaker of each utterance, given each one's cue.
pub fn infer(cues: &[Cue]) -> Vec<Speaker> {
    if cues.is_empty() {
        return Vec::new();
    }
    let speakers = [Speaker::Agent, Speaker::Customer];
    let trans = |a: usize, b: usize| {
        if a == b {
            (1.0 - SWITCH).ln()
        } else {
            SWITCH.ln()
        }
    };
    let mut score = [
        AGENT_FIRST.ln() + emit(cues[0], 0),
        (1.0 - AGENT_FIRST).ln() + emit(cues[0], 1),
    ];
    let mut back: Vec<[usize; 2]> = Vec::with_capacity(cues.len());
    for &cue in &cues[1..] {
        let mut next = [0.0; 2];
        let mut from = [0usize; 2];
        for s in 0..2 {
            let (best, arg) = (0..2).map(|p| (score[p] + trans(p, s), p)).fold(
                (f64::NEG_INFINITY, 0),
                |acc, x| if x.0 > acc.0 { x } else { acc },
            );
            next[s] = best + emit(cue, s);
            from[s] = arg;
        }
        back.push(from);
        score = next;
    }
    let mut s = if score[0] >= score[1] { 0 } else { 1 };
    let mut path = vec![s];
    for from in back.iter().rev() {
        s = from[s];
        path.push(s);
    }
    path.reverse();
    path.into_iter().map(|s| speakers[s]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Cue::{Agent as A, Customer as C, None as N};
    use Speaker::{Agent as a, Customer as c};

    #[test]
    fn voices_are_named_by_cues_and_who_speaks_first() {
        let ag = |w: f64| Some((a, w));
        let cu = |w: f64| Some((c, w));
        // Voice 1 opens with a full greeting, voice 0 complains: voice 1 is
        // the agent, surely.
        let (agent, p) = name_voices(&[1, 0, 1, 0], &[ag(1.0), cu(1.0), None, None]);
        assert_eq!(agent, 1);
        assert!(p > 0.95, "{p}");
        // No cues: who speaks first decides, with low confidence.
        let (agent, p) = name_voices(&[0, 1, 0], &[None, None, None]);
        assert_eq!(agent, 0);
        assert!(
            (p - AGENT_FIRST).abs() < 1e-9 && p < MIN_ROLE_CONFIDENCE,
            "{p}"
        );
        // Contradicting strong cues cancel out: uncertain.
        let (_, p) = name_voices(&[0, 1, 0, 1], &[ag(1.0), None, cu(1.0), None]);
        assert!(p < MIN_ROLE_CONFIDENCE, "{p}");
        // A customer's bare "hello" (weak) does not outweigh the agent's
        // full greeting and closing.
        let (agent, p) = name_voices(
            &[0, 1, 0, 1, 0],
            &[ag(1.0), ag(0.15), None, ag(0.15), ag(1.0)],
        );
        assert_eq!(agent, 0);
        assert!(p > MIN_ROLE_CONFIDENCE, "{p}");
        // The customer opened, but the agent's phrases are on voice 1.
        let (agent, p) = name_voices(&[0, 1, 0, 1], &[None, ag(1.0), cu(1.0), ag(1.0)]);
        assert_eq!(agent, 1);
        assert!(p > MIN_ROLE_CONFIDENCE, "{p}");
    }

    #[test]
    fn roles_table() {
        let cases: Vec<(Vec<Cue>, Vec<Speaker>)> = vec![
            (vec![], vec![]),
            // No evidence: the agent opens, then turns alternate.
            (vec![N, N, N, N], vec![a, c, a, c]),
            // The customer speaks first (an agent cue on the second turn).
            (vec![N, A, N, N], vec![c, a, c, a]),
            // Two customer utterances in a row, both with customer cues.
            (vec![A, C, C, A], vec![a, c, c, a]),
            // One stray cue against strong alternation loses.
            (vec![A, N, A, N, A, N], vec![a, c, a, c, a, c]),
        ];
        for (cues, want) in cases {
            assert_eq!(infer(&cues), want, "cues {cues:?}");
        }
    }
}
