//! Who said what on a mono recording, where both speakers share one
//! channel. Each utterance (a speech region between pauses) is either the
//! agent's or the customer's; speakers tend to alternate at pauses, and
//! what is said is evidence (agents greet, offer help and close; customers
//! complain and threaten to leave). A two-state Viterbi pass picks the most
//! likely labelling. The result is marked `Attribution::Inferred` so a
//! reviewer knows the labels were guessed.

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

/// The speaker of each utterance of a transcript: from its channel, or on
/// a mixed recording inferred (`infer`) from what each utterance says;
/// `cue` reads a text for the agent's or the customer's typical phrases
/// (the rule pack's, so this module needs no pack).
pub fn speakers(t: &super::Transcript, cue: impl Fn(&str) -> Option<Speaker>) -> Vec<Speaker> {
    match t.attribution {
        crate::domain::Attribution::Inferred => {
            let cues: Vec<Cue> = t
                .utterances
                .iter()
                .map(|u| match cue(&u.text) {
                    Some(Speaker::Agent) => Cue::Agent,
                    Some(Speaker::Customer) => Cue::Customer,
                    None => Cue::None,
                })
                .collect();
            infer(&cues)
        }
        _ => t
            .utterances
            .iter()
            .map(|u| u.speaker.unwrap_or(Speaker::Customer))
            .collect(),
    }
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
