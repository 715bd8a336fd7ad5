//! Response timing: first response time and agent response times against
//! per-channel limits (defaults from the customer documents: chat first
//! response ≤ 30 s, average response ≤ 2 min; phone answer ≤ 20 s).
//!
//! A response is the time from the first unanswered customer turn to the
//! agent's next turn. For calls, the first response is the queue wait the
//! telephony system reports.

use super::{fill, flag, say, secs, span_evidence, turn_evidence, Analyser, Subject};
use crate::domain::{Analysis, Conversation, Medium, Speaker};
use crate::rules::{ChannelLimits, RuleKind, RuleMeta, RulePack};

enum Check {
    First(ChannelLimits),
    Average(ChannelLimits),
}

pub struct TimingAnalyser {
    rules: Vec<(RuleMeta, Check)>,
}

/// One agent response: the customer turn waited on, the reply, the delay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Response {
    pub customer_turn: usize,
    pub agent_turn: usize,
    pub delay: f64,
}

pub(crate) fn responses(conv: &Conversation) -> Vec<Response> {
    let mut out = Vec::new();
    let mut waiting: Option<usize> = None;
    for (i, t) in conv.turns.iter().enumerate() {
        match t.speaker {
            Speaker::Customer => {
                waiting.get_or_insert(i);
            }
            Speaker::Agent => {
                if let Some(c) = waiting.take() {
                    out.push(Response {
                        customer_turn: c,
                        agent_turn: i,
                        delay: (t.start - conv.turns[c].start).max(0.0),
                    });
                }
            }
        }
    }
    out
}

/// Evidence for a response: the agent's reply, spanning from the customer
/// turn it answered.
fn response_evidence(conv: &Conversation, r: &Response) -> crate::domain::Evidence {
    let mut e = turn_evidence(conv, r.agent_turn, None);
    e.start = conv.turns[r.customer_turn].start;
    e
}

/// Most slow responses cited as evidence.
const MAX_EVIDENCE: usize = 3;

impl TimingAnalyser {
    pub fn build(pack: &RulePack) -> Self {
        let rules = pack
            .rules
            .iter()
            .filter_map(|r| match &r.kind {
                RuleKind::FirstResponse { limits } => {
                    Some((r.meta.clone(), Check::First(limits.clone())))
                }
                RuleKind::ResponseTime { limits } => {
                    Some((r.meta.clone(), Check::Average(limits.clone())))
                }
                _ => None,
            })
            .collect();
        TimingAnalyser { rules }
    }
}

impl Analyser for TimingAnalyser {
    fn name(&self) -> &'static str {
        "timing"
    }

    fn analyse(&self, s: &Subject<'_>, out: &mut Analysis) {
        let conv = s.conv;
        let lang = conv.language;
        let (first, rs) = match conv.medium {
            Medium::Chat => {
                let rs = responses(conv);
                (rs.first().map(|r| r.delay), rs)
            }
            // Within a call, turn gaps are conversation, not waiting.
            Medium::Call => (s.metadata.queue_wait_s, Vec::new()),
        };
        let m = &mut out.metrics;
        m.first_response_s = first;
        m.responses = rs.len();
        if !rs.is_empty() {
            m.avg_response_s = Some(rs.iter().map(|r| r.delay).sum::<f64>() / rs.len() as f64);
            m.max_response_s = rs.iter().map(|r| r.delay).reduce(f64::max);
        }
        let avg = m.avg_response_s;
        for (meta, check) in &self.rules {
            match check {
                Check::First(limits) => {
                    let (Some(limit), Some(value)) = (limits.for_channel(&conv.channel), first)
                    else {
                        continue;
                    };
                    if value <= limit {
                        continue;
                    }
                    let vars = [("value", secs(value)), ("limit", secs(limit))];
                    let evidence = match rs.first() {
                        Some(r) => vec![response_evidence(conv, r)],
                        None => vec![span_evidence(
                            None,
                            0.0,
                            0.0,
                            fill(
                                &say(
                                    lang,
                                    "客户排队等待 {value} 秒后接通",
                                    "customer waited {value} s in queue",
                                ),
                                &vars,
                            ),
                        )],
                    };
                    out.flags
                        .push(flag(meta, fill(&meta.message, &vars), evidence));
                }
                Check::Average(limits) => {
                    let (Some(limit), Some(value)) = (limits.for_channel(&conv.channel), avg)
                    else {
                        continue;
                    };
                    if value <= limit {
                        continue;
                    }
                    let mut slow: Vec<&Response> = rs.iter().filter(|r| r.delay > limit).collect();
                    slow.sort_by(|a, b| b.delay.total_cmp(&a.delay));
                    let evidence = slow
                        .iter()
                        .take(MAX_EVIDENCE)
                        .map(|r| response_evidence(conv, r))
                        .collect();
                    out.flags.push(flag(
                        meta,
                        fill(
                            &meta.message,
                            &[("value", secs(value)), ("limit", secs(limit))],
                        ),
                        evidence,
                    ));
                }
            }
        }
    }
}
