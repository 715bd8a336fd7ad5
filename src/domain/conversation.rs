//! A conversation: turns with speaker, time and text, whatever the medium.
//! Every analyser reads this and nothing else, so chats and calls share
//! rules and scorecards.

use chrono::{DateTime, FixedOffset};

use super::ids::{JobId, Language, Speaker};
use super::job::Medium;
use crate::text::NormText;

/// Where the speaker labels came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attribution {
    /// Typed chat: the platform knows who wrote each message.
    Typed,
    /// Each speaker on their own audio channel.
    Channels,
    /// One mixed channel; roles inferred from what was said.
    Inferred,
}

#[derive(Debug, Clone)]
pub struct Turn {
    pub speaker: Speaker,
    /// Seconds from the start of the conversation.
    pub start: f64,
    pub end: f64,
    pub text: String,
    /// Normalised text for matching (see `text::normalise`).
    pub norm: NormText,
    /// When some of `text`'s characters were spoken: `(character index,
    /// seconds)`, in order, from the recognizer's token times. Empty for
    /// chats and wherever the recognizer gave no times; used to place
    /// redacted personal data in the recording.
    pub clock: Vec<(usize, f64)>,
}

impl Turn {
    pub fn new(speaker: Speaker, start: f64, end: f64, text: String, language: Language) -> Self {
        let norm = crate::text::normalise(&text, language);
        Turn {
            speaker,
            start,
            end,
            text,
            norm,
            clock: Vec::new(),
        }
    }
}

/// A span of time in seconds.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Span {
    pub start: f64,
    pub end: f64,
}

impl Span {
    pub fn len(&self) -> f64 {
        self.end - self.start
    }
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// When each side was speaking, from voice activity detection (calls only).
#[derive(Debug, Clone, Default)]
pub struct SpeechTimeline {
    /// Speech per speaker when each has a channel; empty for mixed calls.
    pub agent: Vec<Span>,
    pub customer: Vec<Span>,
    /// Speech on a mixed (mono) recording.
    pub mixed: Vec<Span>,
    /// Sound the recognizer could not turn into trusted words (text scored
    /// as unlikely, prompt echo, speech left untranscribed by the decoding
    /// budget): not in the transcript, but never counted as silence.
    pub unclear: Vec<Span>,
}

#[derive(Debug, Clone)]
pub struct Conversation {
    pub job_id: JobId,
    pub medium: Medium,
    pub language: Language,
    /// Timing channel name (`chat`, `phone`, …) that selects thresholds.
    pub channel: String,
    pub started_at: Option<DateTime<FixedOffset>>,
    /// In time order; may be empty only for calls without speech.
    pub turns: Vec<Turn>,
    /// Seconds from start to end (a recording's full length for calls).
    pub duration: f64,
    pub attribution: Attribution,
    pub timeline: Option<SpeechTimeline>,
    /// Mono calls: probability that agent and customer are the right way
    /// round (see `transcribe::roles`); `None` where channels or the chat
    /// platform say who is who.
    pub roles_confidence: Option<f64>,
}

impl Conversation {
    pub fn turns_of(&self, speaker: Speaker) -> impl Iterator<Item = (usize, &Turn)> {
        self.turns
            .iter()
            .enumerate()
            .filter(move |(_, t)| t.speaker == speaker)
    }
}

impl Conversation {
    /// A typed chat as a conversation: times in seconds from the first
    /// message; a message is instantaneous, so its turn ends where it starts.
    pub fn from_chat(job: &super::job::ChatJob, language: Language) -> Self {
        let t0 = job.messages.first().map(|m| m.at);
        let turns: Vec<Turn> = job
            .messages
            .iter()
            .map(|m| {
                let at = t0
                    .map(|t0| (m.at - t0).num_milliseconds() as f64 / 1000.0)
                    .unwrap_or(0.0);
                Turn::new(m.speaker, at, at, m.text.clone(), language)
            })
            .collect();
        let duration = turns.last().map(|t| t.end).unwrap_or(0.0);
        let h = &job.header;
        Conversation {
            job_id: h.id.clone(),
            medium: Medium::Chat,
            language,
            channel: h
                .metadata
                .channel
                .clone()
                .unwrap_or_else(|| Medium::Chat.default_channel().to_owned()),
            started_at: h.metadata.started_at.or(t0),
            turns,
            duration,
            attribution: Attribution::Typed,
            timeline: None,
            roles_confidence: None,
        }
    }
}

impl Conversation {
    /// A conversation from turns `(speaker, start, end, text)`, already in
    /// time order. Used for transcripts, tests and benchmarks.
    pub fn from_turns(
        job_id: JobId,
        medium: Medium,
        language: Language,
        channel: Option<String>,
        turns: impl IntoIterator<Item = (Speaker, f64, f64, String)>,
        attribution: Attribution,
    ) -> Self {
        let turns: Vec<Turn> = turns
            .into_iter()
            .map(|(s, a, b, t)| Turn::new(s, a, b, t, language))
            .collect();
        let duration = turns.iter().map(|t| t.end).fold(0.0, f64::max);
        Conversation {
            job_id,
            medium,
            language,
            channel: channel.unwrap_or_else(|| medium.default_channel().to_owned()),
            started_at: None,
            turns,
            duration,
            attribution,
            timeline: None,
            roles_confidence: None,
        }
    }
}
