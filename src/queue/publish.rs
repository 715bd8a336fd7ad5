//! Publishing with publisher confirms: results to the results exchange,
//! transient failures to a delay queue, bad jobs to the dead-letter queue,
//! and new jobs (`callqa submit`). A publish returns only once the broker
//! has confirmed it; the worker acknowledges a delivery only after that.

use lapin::options::BasicPublishOptions;
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, Confirmation};

use super::consume::Delivery;
use super::{headers, routing, Names, QueueError};
use crate::error::{Disposition, Stage};
use crate::wire::ResultWire;

/// Persistent messages survive a broker restart.
const PERSISTENT: u8 = 2;

/// Why a job is dead-lettered; written into its headers.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub job_id: Option<String>,
    pub stage: Stage,
    pub disposition: Disposition,
    pub reason: String,
    /// Transient failures before this one gave up (0 for rejected jobs).
    pub attempts: u32,
}

/// A confirm-mode channel. Cheap to clone; safe to share between tasks.
#[derive(Clone)]
pub struct Publisher {
    channel: Channel,
    names: Names,
}

impl Publisher {
    pub(super) fn new(channel: Channel, names: Names) -> Self {
        Publisher { channel, names }
    }

    /// Closes the channel once outstanding confirms are in.
    pub async fn close(&self) {
        if self.channel.status().connected() {
            let _ = self.channel.close(200, "bye".into()).await;
        }
    }

    /// The routing key a result is published with.
    pub fn routing_key(result: &ResultWire) -> &'static str {
        if result.is_flagged() {
            routing::FLAGGED
        } else {
            routing::CLEAN
        }
    }

    /// Publishes a stored result. Not `mandatory`: a results exchange
    /// nobody has bound a queue to yet is not an error (the store has it).
    pub async fn publish_result(&self, result: &ResultWire) -> Result<(), QueueError> {
        let body = serde_json::to_vec(result)
            .map_err(|e| QueueError::Setting(format!("result not serialisable: {e}")))?;
        let flags: Vec<&str> = result.flags.iter().map(|f| f.id.as_str()).collect();
        let mut h = FieldTable::default();
        h.insert(headers::JOB_ID.into(), text(&result.job_id));
        h.insert(headers::FLAGS.into(), text(&flags.join(",")));
        h.insert(headers::SCORE.into(), AMQPValue::Double(result.score));
        h.insert(headers::PASSED.into(), AMQPValue::Boolean(result.passed));
        let props = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_delivery_mode(PERSISTENT)
            .with_message_id(short(&result.job_id).into())
            .with_type("callqa.result".into())
            .with_app_id("callqa".into())
            .with_timestamp(now_secs())
            .with_headers(h);
        let key = Self::routing_key(result);
        self.confirm(&self.names.results, key, false, &body, props)
            .await
    }

    /// Sends a copy of a job to the dead-letter queue with the reason in its
    /// headers. The caller then acknowledges the original.
    pub async fn dead_letter(&self, d: &Delivery, why: &DeadLetter) -> Result<(), QueueError> {
        let mut h = d.properties.headers().clone().unwrap_or_default();
        h.insert(headers::REASON.into(), text(&why.reason));
        h.insert(headers::STAGE.into(), text(why.stage.as_str()));
        h.insert(
            headers::DISPOSITION.into(),
            text(match why.disposition {
                Disposition::Reject => "reject",
                Disposition::Retry => "retry",
            }),
        );
        h.insert(
            headers::ATTEMPT.into(),
            AMQPValue::LongLongInt(i64::from(why.attempts)),
        );
        h.insert(
            headers::DEAD_AT.into(),
            text(&chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        );
        if let Some(id) = &why.job_id {
            h.insert(headers::JOB_ID.into(), text(id));
        }
        let props = copy_props(&d.properties).with_headers(h);
        self.confirm(&self.names.dead_exchange, "", true, &d.body, props)
            .await
    }

    /// Parks a copy of a job in the delay queue for `delay_ms`, marked as
    /// attempt `attempt`; when its TTL expires the broker moves it back to
    /// the jobs queue. The caller then acknowledges the original.
    pub async fn retry(&self, d: &Delivery, attempt: u32, delay_ms: u64) -> Result<(), QueueError> {
        let mut h = d.properties.headers().clone().unwrap_or_default();
        h.insert(
            headers::ATTEMPT.into(),
            AMQPValue::LongLongInt(i64::from(attempt)),
        );
        let props = copy_props(&d.properties).with_headers(h);
        self.confirm("", &self.names.retry(delay_ms), true, &d.body, props)
            .await
    }

    /// Publishes a job to the jobs queue (`callqa submit`), `mandatory` so
    /// a missing queue is an error rather than a lost job.
    pub async fn submit(&self, job_id: Option<&str>, body: &[u8]) -> Result<(), QueueError> {
        let mut props = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_delivery_mode(PERSISTENT)
            .with_app_id("callqa".into())
            .with_timestamp(now_secs());
        if let Some(id) = job_id {
            props = props.with_message_id(short(id).into());
        }
        self.confirm("", &self.names.jobs, true, body, props).await
    }

    async fn confirm(
        &self,
        exchange: &str,
        key: &str,
        mandatory: bool,
        body: &[u8],
        props: BasicProperties,
    ) -> Result<(), QueueError> {
        let target = if exchange.is_empty() {
            format!("queue {key}")
        } else {
            format!("exchange {exchange} ({key})")
        };
        let confirm = self
            .channel
            .basic_publish(
                exchange.into(),
                key.into(),
                BasicPublishOptions {
                    mandatory,
                    ..Default::default()
                },
                body,
                props,
            )
            .await?
            .await?;
        match confirm {
            Confirmation::Ack(None) | Confirmation::NotRequested => Ok(()),
            Confirmation::Ack(Some(returned)) => Err(QueueError::Unroutable {
                target,
                reply: returned.reply_text.to_string(),
            }),
            Confirmation::Nack(_) => Err(QueueError::Nacked { target }),
        }
    }
}

/// The pipeline's publish stage is a confirmed publish of the result.
impl crate::pipeline::Publish for Publisher {
    type Error = QueueError;
    fn publish(
        &self,
        result: &ResultWire,
    ) -> impl std::future::Future<Output = Result<(), QueueError>> + Send {
        self.publish_result(result)
    }
}

/// The properties worth keeping on a copy of a job; the expiration of the
/// original (if any) is dropped, since the delay queues set their own TTL.
fn copy_props(p: &BasicProperties) -> BasicProperties {
    let mut out = BasicProperties::default().with_delivery_mode(PERSISTENT);
    if let Some(v) = p.content_type() {
        out = out.with_content_type(v.clone());
    }
    if let Some(v) = p.message_id() {
        out = out.with_message_id(v.clone());
    }
    if let Some(v) = p.correlation_id() {
        out = out.with_correlation_id(v.clone());
    }
    if let Some(v) = p.timestamp() {
        out = out.with_timestamp(*v);
    }
    if let Some(v) = p.app_id() {
        out = out.with_app_id(v.clone());
    }
    if let Some(v) = p.kind() {
        out = out.with_type(v.clone());
    }
    out
}

fn text(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s))
}

/// AMQP short strings hold at most 255 bytes; longer ids are cut at a
/// character boundary (the full id is in the body and a header).
fn short(s: &str) -> String {
    let mut end = s.len().min(255);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

fn now_secs() -> u64 {
    chrono::Utc::now().timestamp().max(0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_strings_are_cut_at_a_char_boundary() {
        let long = "质".repeat(100); // 300 bytes
        let s = short(&long);
        assert_eq!(s.len(), 255);
        assert_eq!(s.chars().count(), 85);
        assert_eq!(short("job-1"), "job-1");
    }
}
