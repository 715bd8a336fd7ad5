//! Domain types shared by every stage. Nothing here knows JSON, SQL or AMQP:
//! the edges (`wire`, `store`, `queue`, `http`) convert to and from these.

pub mod conversation;
pub mod finding;
pub mod ids;
pub mod job;
pub mod result;
pub mod review;

pub use conversation::{Attribution, Conversation, Span, SpeechTimeline, Turn};
pub use finding::{
    Analysis, Diagnostic, Evidence, Flag, IntentMatch, Polarity, Sentiment, TurnNote,
};
pub use ids::{
    AgentId, CustomFlag, FlagId, FlagInfo, JobId, Language, LanguageChoice, PiiKind, RuleId,
    Severity, Speaker,
};
pub use job::{
    Agent, CallJob, ChannelMap, ChatJob, Csat, Job, JobHeader, Medium, Message, Metadata, Recording,
};
pub use result::{
    Coaching, Deduction, FatalHit, Metrics, QaResult, Scored, SectionScore, Trend, Versions,
};
pub use review::{Decision, DisputeStatus, Role};
