//! Conversation metrics that need no rule: turn counts, talk share, handle
//! time, after-call work, and for calls speech rate and silence from the
//! voice-activity timeline.

use super::{Analyser, Subject};
use crate::domain::{Analysis, Language, Medium, Span, Speaker};
use crate::rules::RulePack;

pub struct MetricsAnalyser;

impl MetricsAnalyser {
    pub fn build(_pack: &RulePack) -> Self {
        MetricsAnalyser
    }
}

fn total(spans: &[Span]) -> f64 {
    spans.iter().map(|s| s.len().max(0.0)).sum()
}

/// Words (English) or characters (Chinese) in a text, for speech rate.
fn units(text: &str, language: Language) -> usize {
    match language {
        Language::Zh => text.chars().filter(|c| c.is_alphanumeric()).count(),
        Language::En => text.split_whitespace().count(),
    }
}

impl Analyser for MetricsAnalyser {
    fn name(&self) -> &'static str {
        "metrics"
    }

    fn analyse(&self, s: &Subject<'_>, out: &mut Analysis) {
        let conv = s.conv;
        let m = &mut out.metrics;
        m.turns = conv.turns.len();
        m.agent_turns = conv.turns_of(Speaker::Agent).count();
        m.customer_turns = conv.turns_of(Speaker::Customer).count();
        m.handle_time_s = conv.duration;
        m.after_call_work_s = s.metadata.after_call_work_s;
        let (agent, customer) = match (conv.medium, &conv.timeline) {
            (Medium::Call, Some(tl)) if !tl.agent.is_empty() || !tl.customer.is_empty() => {
                (total(&tl.agent), total(&tl.customer))
            }
            (Medium::Call, _) => {
                let dur = |sp| {
                    conv.turns_of(sp)
                        .map(|(_, t)| (t.end - t.start).max(0.0))
                        .sum::<f64>()
                };
                (dur(Speaker::Agent), dur(Speaker::Customer))
            }
            (Medium::Chat, _) => {
                let chars = |sp| {
                    conv.turns_of(sp)
                        .map(|(_, t)| t.text.chars().count())
                        .sum::<usize>() as f64
                };
                (chars(Speaker::Agent), chars(Speaker::Customer))
            }
        };
        if agent + customer > 0.0 {
            m.agent_talk_share = Some(agent / (agent + customer));
            m.customer_talk_share = Some(customer / (agent + customer));
        }
        if conv.medium == Medium::Call {
            let agent_time: f64 = conv
                .turns_of(Speaker::Agent)
                .map(|(_, t)| (t.end - t.start).max(0.0))
                .sum();
            let agent_units: usize = conv
                .turns_of(Speaker::Agent)
                .map(|(_, t)| units(&t.text, conv.language))
                .sum();
            if agent_time > 1.0 {
                m.agent_speech_rate = Some(agent_units as f64 * 60.0 / agent_time);
            }
        }
    }
}
