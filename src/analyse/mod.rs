//! Analysers: each reads a conversation (plus model signals when the text
//! models ran) and adds flags, metrics or notes to the analysis. Every
//! analyser has the same shape: built once from a rule pack, then
//! `analyse` per conversation; none calls another, and none knows the order
//! in which the pipeline runs them.
//!
//! Model-based analysers (sentiment and anger, intent, semantic rules)
//! read the `TextSignals` the embed stage computed; intent and semantic
//! rules also embed their example phrases once, when they are built.

mod acoustics;
pub mod csat;
pub mod intent;
mod metrics;
mod phrase;
mod pii;
pub mod semantic;
mod sentiment;
mod timing;

use crate::domain::{
    Analysis, Conversation, Evidence, Flag, Language, Metadata, Sentiment, Speaker, TurnNote,
};
use crate::embed::{EmbedError, TextModels};
use crate::rules::{RuleMeta, RulePack};

/// Per-turn outputs of the text models, computed once per conversation by
/// the embed stage and shared by every model-based analyser.
#[derive(Debug, Clone, Default)]
pub struct TextSignals {
    /// One L2-normalised embedding per turn.
    pub embeddings: Vec<Vec<f32>>,
    /// Per turn: embeddings of its clauses when it has more than one
    /// (`embed::stance::clauses`), else empty. Semantic rules and intents
    /// match the best of the turn and its clauses.
    pub clauses: Vec<Vec<Vec<f32>>>,
    /// One per turn; `None` for agent (and other non-customer) turns.
    pub sentiment: Vec<Option<Sentiment>>,
    /// One per turn: the sentiment of the clause that carries the
    /// speaker's stance (after a final "but"/"但是"; see
    /// `embed::stance`), or of the whole turn when there is no such clause;
    /// customer turns only. Customer anger is judged on this.
    pub stance: Vec<Option<Sentiment>>,
    /// One per turn: the embedding of that stance clause, when the turn has
    /// one (customer turns only).
    pub stance_embeddings: Vec<Option<Vec<f32>>>,
    /// One per turn: the sentiment encoder's embedding of a customer turn
    /// (e5 as shipped), which predicted satisfaction also reads.
    pub sentiment_embeddings: Vec<Option<Vec<f32>>>,
}

impl TextSignals {
    /// The embeddings a turn is matched on: the whole turn, then its clauses.
    pub fn views(&self, turn: usize) -> impl Iterator<Item = &[f32]> {
        self.embeddings
            .get(turn)
            .into_iter()
            .chain(self.clauses.get(turn).into_iter().flatten())
            .map(Vec::as_slice)
    }

    /// What the speaker stands behind: the stance clause when the turn has
    /// one, else the whole turn and its clauses.
    pub fn stance_views(&self, turn: usize) -> Vec<&[f32]> {
        match self.stance_embeddings.get(turn).and_then(Option::as_ref) {
            Some(e) => vec![e.as_slice()],
            None => self.views(turn).collect(),
        }
    }
}

/// What an analyser sees.
pub struct Subject<'a> {
    pub conv: &'a Conversation,
    pub metadata: &'a Metadata,
    pub signals: Option<&'a TextSignals>,
}

pub trait Analyser: Send + Sync {
    fn name(&self) -> &'static str;
    fn analyse(&self, subject: &Subject<'_>, out: &mut Analysis);
}

/// The analysers a pack needs, in no meaningful order. With `models`, the
/// model-based ones too (their example phrases are embedded here, once);
/// `None` is a rules-only engine, which the caller must have asked for.
pub fn build(
    pack: &RulePack,
    models: Option<&TextModels>,
) -> Result<Vec<Box<dyn Analyser>>, EmbedError> {
    let mut out: Vec<Box<dyn Analyser>> = vec![
        Box::new(acoustics::AcousticsAnalyser::build(pack)),
        Box::new(metrics::MetricsAnalyser::build(pack)),
        Box::new(phrase::PhraseAnalyser::build(pack)),
        Box::new(pii::PiiAnalyser::build(pack)),
        Box::new(timing::TimingAnalyser::build(pack)),
    ];
    if let Some(models) = models {
        out.push(Box::new(sentiment::SentimentAnalyser::build(pack, models)?));
        out.push(Box::new(intent::IntentAnalyser::build(pack, models)?));
        out.push(Box::new(semantic::SemanticAnalyser::build(pack, models)?));
    }
    Ok(out)
}

/// On a mono call whose roles are uncertain (`Conversation::roles_confidence`
/// below `min`), every flag resting on who said something (evidence with a
/// speaker) says so in its message, so nobody acts on it without
/// listening. Returns how many flags were marked.
pub fn mark_uncertain_roles(analysis: &mut Analysis, conv: &Conversation, min: f64) -> usize {
    let Some(confidence) = conv.roles_confidence.filter(|c| *c < min) else {
        return 0;
    };
    let note = match conv.language {
        Language::Zh => format!("（说话人角色不确定，置信度 {confidence:.2}，请听录音核实）"),
        Language::En => {
            format!(" (speaker roles uncertain, confidence {confidence:.2}: check the recording)")
        }
    };
    let mut marked = 0;
    for f in &mut analysis.flags {
        if f.evidence.iter().any(|e| e.speaker.is_some()) {
            f.message.push_str(&note);
            marked += 1;
        }
    }
    marked
}

/// Runs every analyser over one conversation.
pub fn run(analysers: &[Box<dyn Analyser>], subject: &Subject<'_>) -> Analysis {
    let mut out = Analysis::default();
    if subject.signals.is_some() {
        out.notes = vec![TurnNote::default(); subject.conv.turns.len()];
    }
    for a in analysers {
        a.analyse(subject, &mut out);
    }
    // Read off everything the analysers found, so it comes last.
    if let Some(sig) = subject.signals {
        out.metrics.predicted_csat = csat::predict(subject.conv, sig, &out);
    }
    // Flags in conversation order, so evidence reads like the transcript.
    out.flags.sort_by(|a, b| {
        let t = |f: &Flag| f.evidence.first().map(|e| e.start).unwrap_or(f64::MAX);
        t(a).total_cmp(&t(b)).then(a.id.cmp(&b.id))
    });
    out
}

// ---- Helpers shared by analysers -------------------------------------

/// Fills `{name}` placeholders in a pack message.
pub(crate) fn fill(template: &str, vars: &[(&str, String)]) -> String {
    let mut s = template.to_owned();
    for (k, v) in vars {
        s = s.replace(&format!("{{{k}}}"), v);
    }
    s
}

pub(crate) fn flag(meta: &RuleMeta, message: String, evidence: Vec<Evidence>) -> Flag {
    Flag {
        id: meta.flag,
        rule: meta.id.clone(),
        severity: meta.severity,
        message,
        evidence,
    }
}

/// Evidence pointing at a whole turn, optionally highlighting a char range.
pub(crate) fn turn_evidence(
    conv: &Conversation,
    idx: usize,
    highlight: Option<(usize, usize)>,
) -> Evidence {
    let t = &conv.turns[idx];
    Evidence {
        speaker: Some(t.speaker),
        start: t.start,
        end: t.end,
        text: t.text.clone(),
        turn: Some(idx),
        highlight,
        similarity: None,
    }
}

/// Evidence that is not a turn (a silence, an absent greeting).
pub(crate) fn span_evidence(
    speaker: Option<Speaker>,
    start: f64,
    end: f64,
    text: String,
) -> Evidence {
    Evidence {
        speaker,
        start,
        end,
        text,
        turn: None,
        highlight: None,
        similarity: None,
    }
}

/// Seconds formatted for messages.
pub(crate) fn secs(x: f64) -> String {
    if x >= 10.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

pub(crate) fn say(language: Language, zh: &str, en: &str) -> String {
    match language {
        Language::Zh => zh.to_owned(),
        Language::En => en.to_owned(),
    }
}
