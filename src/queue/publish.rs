//! Publishing with publisher confirms: results to the results exchange,
//! transient failures to a delay queue, bad jobs to the dead-letter queue,
//! and new jobs (`callqa submit`). A publish returns only once the broker
//! has confirmed it; the worker acknowledges a delivery only after that.
//!
//! Every header value is bounded (`MAX_HEADER_BYTES`) and every result is
//! kept under `max_result_bytes`; a channel the broker closed (say, on a
//! message it refused) is reopened on the next publish, so one bad message
//! never stops the others.

use std::sync::{Arc, Mutex};

use lapin::options::BasicPublishOptions;
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, Confirmation, Connection};

use super::consume::Delivery;
use super::{headers, routing, Names, QueueError, MAX_HEADER_BYTES};
use crate::error::{bounded, Disposition, Stage};
use crate::wire::result::DiagnosticWire;
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
    conn: Arc<Connection>,
    channel: Arc<Mutex<Channel>>,
    /// Held while a closed channel is replaced, so tasks that find it
    /// closed together open one new channel, not one each.
    reopening: Arc<tokio::sync::Mutex<()>>,
    names: Names,
    max_result_bytes: usize,
}

impl Publisher {
    pub(super) fn new(
        conn: Arc<Connection>,
        channel: Channel,
        names: Names,
        max_result_bytes: usize,
    ) -> Self {
        Publisher {
            conn,
            channel: Arc::new(Mutex::new(channel)),
            reopening: Arc::new(tokio::sync::Mutex::new(())),
            names,
            max_result_bytes,
        }
    }

    fn current(&self) -> Channel {
        self.channel
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The channel to publish on: the current one, or a new one if the
    /// broker closed it (a channel error, e.g. a message over the broker's
    /// `max_message_size`, closes only the channel, not the connection).
    async fn channel(&self) -> Result<Channel, QueueError> {
        let ch = self.current();
        if ch.status().connected() {
            return Ok(ch);
        }
        let _one_at_a_time = self.reopening.lock().await;
        let ch = self.current();
        if ch.status().connected() {
            return Ok(ch);
        }
        let fresh = super::confirm_channel(&self.conn).await?;
        tracing::warn!("the broker closed the publish channel; reopened it");
        *self
            .channel
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh.clone();
        Ok(fresh)
    }

    /// Closes the channel once outstanding confirms are in.
    pub async fn close(&self) {
        let ch = self.current();
        if ch.status().connected() {
            let _ = ch.close(200, "bye".into()).await;
        }
    }

    /// The message body of a result: the whole result when it fits in
    /// `max_result_bytes`, else the result without its transcript (`turns`,
    /// by far the largest part; the store keeps the whole result) and a
    /// diagnostic saying so. `Err(TooLarge)` when even that does not fit.
    pub fn result_body(&self, result: &ResultWire) -> Result<(Vec<u8>, bool), QueueError> {
        let body = serde_json::to_vec(result)
            .map_err(|e| QueueError::Setting(format!("result not serialisable: {e}")))?;
        if body.len() <= self.max_result_bytes {
            return Ok((body, false));
        }
        let mut slim = result.clone();
        slim.turns = Vec::new();
        slim.diagnostics.push(DiagnosticWire {
            source: "publish".into(),
            message: format!(
                "the transcript is left out of this message: the result is {} bytes, over max_result_bytes ({}); the store has it whole (callqa results --job ID)",
                body.len(),
                self.max_result_bytes
            ),
        });
        let slim_body = serde_json::to_vec(&slim)
            .map_err(|e| QueueError::Setting(format!("result not serialisable: {e}")))?;
        if slim_body.len() <= self.max_result_bytes {
            Ok((slim_body, true))
        } else {
            Err(QueueError::TooLarge {
                size: body.len(),
                max: self.max_result_bytes,
            })
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
        let (body, truncated) = self.result_body(result)?;
        let flags: Vec<&str> = result.flags.iter().map(|f| f.id.as_str()).collect();
        let mut h = FieldTable::default();
        h.insert(headers::JOB_ID.into(), text(&result.job_id));
        h.insert(headers::FLAGS.into(), text(&flags.join(",")));
        if truncated {
            h.insert(headers::TRUNCATED.into(), text("turns"));
        }
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

    /// Puts a dead letter back on the jobs queue (`callqa replay-dead`):
    /// body and properties as they were, without the headers callqa and
    /// the broker added (`x-callqa-attempt` among them, so it gets its
    /// retries again, and `x-death`).
    pub(super) async fn replay(
        &self,
        props: &BasicProperties,
        body: &[u8],
    ) -> Result<(), QueueError> {
        let mut h = FieldTable::default();
        if let Some(old) = props.headers() {
            for (k, v) in old.inner() {
                let name = k.as_str();
                if !name.starts_with("x-callqa-")
                    && name != "x-death"
                    && !name.starts_with("x-first-death")
                    && !name.starts_with("x-last-death")
                {
                    h.insert(k.clone(), v.clone());
                }
            }
        }
        let props = copy_props(props).with_headers(h);
        self.confirm("", &self.names.jobs, true, body, props).await
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
            .channel()
            .await?
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

/// A header value, cut to `MAX_HEADER_BYTES` (reasons echo job fields of
/// any size; the job itself and the failure record say the rest).
fn text(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(bounded(s, MAX_HEADER_BYTES)))
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
