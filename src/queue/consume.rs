//! Consuming the jobs queue: a stream of deliveries, bounded by the prefetch
//! (the broker never sends more than that many unacknowledged messages), each
//! acknowledged or rejected by the worker once it knows the outcome.

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::Acker;
use lapin::{BasicProperties, Channel, Consumer};

use super::{headers, QueueError};

/// Deliveries from the jobs queue.
pub struct JobStream {
    channel: Channel,
    consumer: Consumer,
    tag: String,
    queue: String,
}

impl JobStream {
    pub(super) async fn start(
        channel: Channel,
        queue: &str,
        tag: &str,
        prefetch: u16,
    ) -> Result<Self, QueueError> {
        channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await?;
        let consumer = channel
            .basic_consume(
                queue.into(),
                tag.into(),
                BasicConsumeOptions {
                    no_ack: false,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
        Ok(JobStream {
            channel,
            consumer,
            tag: tag.to_owned(),
            queue: queue.to_owned(),
        })
    }

    /// The next delivery; `None` once the consumer is cancelled (after the
    /// deliveries already received) or the connection is gone.
    pub async fn next(&mut self) -> Option<Result<Delivery, QueueError>> {
        let d = self.consumer.next().await?;
        Some(d.map_err(QueueError::from).map(|d| Delivery {
            queue: self.queue.clone(),
            redelivered: d.redelivered,
            properties: d.properties,
            body: d.data,
            acker: d.acker,
        }))
    }

    /// Closes the channel; deliveries not yet acknowledged go back to the
    /// queue.
    pub async fn close(self) {
        if self.channel.status().connected() {
            let _ = self.channel.close(200, "bye".into()).await;
        }
    }

    /// Asks the broker to stop sending; deliveries already received still
    /// come out of `next` before it returns `None`.
    pub async fn cancel(&self) -> Result<(), QueueError> {
        self.channel
            .basic_cancel(self.tag.as_str().into(), BasicCancelOptions::default())
            .await?;
        Ok(())
    }
}

/// One job message, not yet acknowledged.
pub struct Delivery {
    queue: String,
    redelivered: bool,
    pub(super) properties: BasicProperties,
    pub(super) body: Vec<u8>,
    acker: Acker,
}

impl Delivery {
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The producer's message id (`callqa submit` sets the job id).
    pub fn message_id(&self) -> Option<&str> {
        self.properties.message_id().as_ref().map(|s| s.as_str())
    }

    /// Whether the broker delivered this message before (to a worker that
    /// died or lost its connection before acknowledging).
    pub fn redelivered(&self) -> bool {
        self.redelivered
    }

    /// Transient failures this job has had so far (0 on a first delivery).
    pub fn attempt(&self) -> u32 {
        header(&self.properties, headers::ATTEMPT)
            .and_then(|v| match v {
                AMQPValue::LongLongInt(n) => u32::try_from(*n).ok(),
                AMQPValue::LongInt(n) => u32::try_from(*n).ok(),
                AMQPValue::LongUInt(n) => Some(*n),
                AMQPValue::ShortInt(n) => u32::try_from(*n).ok(),
                AMQPValue::ShortUInt(n) => Some(u32::from(*n)),
                AMQPValue::LongString(s) => std::str::from_utf8(s.as_bytes()).ok()?.parse().ok(),
                _ => None,
            })
            .unwrap_or(0)
    }

    /// Where the job came from, for failure records and logs: the
    /// producer's message id, else a digest of the body. (Not the delivery
    /// tag: it restarts at 1 on every channel, so different bad messages
    /// would share one failure record.) The same message delivered again
    /// has the same source, so its record counts the attempts.
    pub fn source(&self) -> String {
        source(&self.queue, self.message_id(), &self.body)
    }

    /// False once the channel it came on is closed: it can no longer be
    /// acknowledged, and the broker will deliver it again.
    pub fn can_settle(&self) -> bool {
        self.acker.usable()
    }

    /// Done with it: the broker forgets the message.
    pub async fn ack(&self) -> Result<(), QueueError> {
        let done = self.acker.ack(BasicAckOptions::default()).await?;
        settled(done, "acknowledge")
    }

    /// Gives the message up without re-queueing: the broker dead-letters it
    /// through the jobs queue's `x-dead-letter-exchange` (with an
    /// `x-death` header). The fallback when publishing a dead letter or a
    /// retry ourselves failed.
    pub async fn reject(&self) -> Result<(), QueueError> {
        let done = self
            .acker
            .nack(BasicNackOptions {
                requeue: false,
                multiple: false,
            })
            .await?;
        settled(done, "reject")
    }
}

/// lapin answers `Ok(false)` when the channel died under the delivery: the
/// broker never heard of it and will redeliver the message.
fn settled(done: bool, what: &str) -> Result<(), QueueError> {
    if done {
        Ok(())
    } else {
        Err(QueueError::ChannelGone(what.to_owned()))
    }
}

pub(super) fn header<'a>(props: &'a BasicProperties, name: &str) -> Option<&'a AMQPValue> {
    props.headers().as_ref()?.inner().get(name)
}

/// A delivery's source: `amqp:QUEUE#MESSAGE_ID`, or without a message id
/// `amqp:QUEUE#body-` and the first 16 hex digits of the body's SHA-256.
pub fn source(queue: &str, message_id: Option<&str>, body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    match message_id {
        Some(id) => format!("amqp:{queue}#{id}"),
        None => {
            let digest: String = Sha256::digest(body)
                .iter()
                .take(8)
                .map(|b| format!("{b:02x}"))
                .collect();
            format!("amqp:{queue}#body-{digest}")
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sources_without_a_message_id_differ_by_body_not_by_channel() {
        let a = super::source("jobs", None, b"not json");
        let b = super::source("jobs", None, b"not json either");
        assert_ne!(a, b);
        assert_eq!(a, super::source("jobs", None, b"not json"));
        assert!(a.starts_with("amqp:jobs#body-") && a.len() == "amqp:jobs#body-".len() + 16);
        assert_eq!(super::source("jobs", Some("j-1"), b"x"), "amqp:jobs#j-1");
    }
}
