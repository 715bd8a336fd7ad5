//! RabbitMQ: the topology callqa declares, job deliveries in, results, retries
//! and dead letters out. This module owns lapin; the worker sees `Broker`,
//! `JobStream`, `Delivery` and `Publisher`.
//!
//! ```text
//!  producers ──► <p>.jobs ──► worker ──► store (commit) ──► <p>.results (topic)
//!                 ▲   │ x-dead-letter-exchange                 result.flagged
//!                 │   ▼                                        result.clean
//!   TTL expiry ── <p>.jobs.retry.<ms>ms ◄── worker (transient fault, attempt n)
//!                     <p>.dead (fanout) ──► <p>.jobs.dead ◄── worker (rejected
//!                                                 or retries exhausted, with
//!                                                 x-callqa-reason)
//! ```
//!
//! Every message callqa publishes waits for the broker's publisher confirm,
//! and everything but results is published `mandatory`, so a message is
//! either routed to a queue or the publish fails: nothing vanishes.

mod consume;
mod publish;

use std::sync::Arc;

use lapin::options::{
    BasicAckOptions, BasicGetOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
    QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Connection, ConnectionProperties, ExchangeKind};

use crate::config::{QueueConfig, QueueType};
use crate::error::{Classify, Disposition};

pub use consume::{Delivery, JobStream};
pub use publish::{DeadLetter, Publisher};

/// Header names callqa reads and writes. All start with `x-callqa-`.
pub mod headers {
    /// Transient failures so far (absent on a first delivery).
    pub const ATTEMPT: &str = "x-callqa-attempt";
    /// Dead letters: why the job could not be processed.
    pub const REASON: &str = "x-callqa-reason";
    /// Dead letters: the pipeline stage that failed (`intake`, `store`, …).
    pub const STAGE: &str = "x-callqa-stage";
    /// Dead letters: `reject` (bad job) or `retry` (transient, retries used up).
    pub const DISPOSITION: &str = "x-callqa-disposition";
    /// Dead letters: when the worker dead-lettered the job (RFC 3339).
    pub const DEAD_AT: &str = "x-callqa-dead-at";
    /// Dead letters and results: the job's id, when it could be read.
    pub const JOB_ID: &str = "x-callqa-job-id";
    /// Results: comma-separated flag ids (empty when clean).
    pub const FLAGS: &str = "x-callqa-flags";
    /// Results: the score, 0–100.
    pub const SCORE: &str = "x-callqa-score";
    /// Results: whether the job passed QA.
    pub const PASSED: &str = "x-callqa-passed";
    /// Results: what was left out to keep the message under
    /// `max_result_bytes` (`turns`: the transcript; the store has it).
    pub const TRUNCATED: &str = "x-callqa-truncated";
}

/// The longest value callqa writes into a header, in bytes. A header must
/// fit in one AMQP frame with all the others (`frame_max`, 128 KiB by
/// default): a longer one makes the broker close the connection, and the
/// message would come back forever.
pub const MAX_HEADER_BYTES: usize = 512;

/// Routing keys of the results exchange.
pub mod routing {
    /// A result with at least one flag: what compliance tools bind to.
    pub const FLAGGED: &str = "result.flagged";
    /// A result without flags.
    pub const CLEAN: &str = "result.clean";
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("cannot connect to RabbitMQ at {url}: {source}")]
    Connect { url: String, source: lapin::Error },
    #[error("RabbitMQ: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("RabbitMQ refused (nack) the message for {target}")]
    Nacked { target: String },
    #[error("RabbitMQ could not route the message for {target}: {reply}")]
    Unroutable { target: String, reply: String },
    #[error("cannot {0} the delivery: its channel is closed (the broker will redeliver it)")]
    ChannelGone(String),
    #[error("invalid queue setting: {0}")]
    Setting(String),
    #[error("the result is {size} bytes, over max_result_bytes ({max}) even without its transcript; it is in the store")]
    TooLarge { size: usize, max: usize },
}

impl Classify for QueueError {
    fn disposition(&self) -> Disposition {
        match self {
            // Publishing it again would not make it smaller.
            QueueError::Setting(_) | QueueError::TooLarge { .. } => Disposition::Reject,
            // Connections drop and brokers restart: try again later.
            _ => Disposition::Retry,
        }
    }
}

/// The names of everything callqa declares, derived from one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// Jobs in (durable queue).
    pub jobs: String,
    /// Results out (durable topic exchange).
    pub results: String,
    /// Dead-letter exchange (fanout), the jobs queue's `x-dead-letter-exchange`.
    pub dead_exchange: String,
    /// Dead-letter queue bound to `dead_exchange`.
    pub dead_queue: String,
    prefix: String,
}

impl Names {
    pub fn new(prefix: &str) -> Self {
        Names {
            jobs: format!("{prefix}.jobs"),
            results: format!("{prefix}.results"),
            dead_exchange: format!("{prefix}.dead"),
            dead_queue: format!("{prefix}.jobs.dead"),
            prefix: prefix.to_owned(),
        }
    }

    /// The delay queue holding retries due in `delay_ms`. Named by delay,
    /// not attempt number, so changing the backoff never redeclares a
    /// queue with a different TTL (which RabbitMQ refuses).
    pub fn retry(&self, delay_ms: u64) -> String {
        format!("{}.jobs.retry.{delay_ms}ms", self.prefix)
    }
}

/// What to declare and how to consume, from `[queue]`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub url: String,
    pub names: Names,
    pub queue_type: QueueType,
    pub delivery_limit: u32,
    pub prefetch: u16,
    /// Delay of each retry, in attempt order (1-based attempt = index + 1).
    pub retry_delays_ms: Vec<u64>,
    /// Largest result published whole (`[queue] max_result_bytes`).
    pub max_result_bytes: usize,
}

impl Settings {
    pub fn from_config(q: &QueueConfig) -> Result<Self, QueueError> {
        if q.prefix.trim().is_empty() || q.prefix.len() > 200 {
            return Err(QueueError::Setting(format!(
                "prefix {:?} must be 1–200 characters",
                q.prefix
            )));
        }
        if q.prefetch == 0 {
            return Err(QueueError::Setting(
                "prefetch 0 would mean unbounded deliveries; use 1 or more".into(),
            ));
        }
        Ok(Settings {
            url: q.url.clone(),
            names: Names::new(q.prefix.trim()),
            queue_type: q.queue_type,
            delivery_limit: q.delivery_limit,
            prefetch: q.prefetch,
            retry_delays_ms: (1..=q.retry_attempts)
                .map(|a| q.retry_delay_ms(a))
                .collect(),
            max_result_bytes: q.max_result_bytes,
        })
    }

    /// Retries allowed before a transient failure is dead-lettered.
    pub fn retry_attempts(&self) -> u32 {
        self.retry_delays_ms.len() as u32
    }
}

/// One connection to RabbitMQ.
pub struct Broker {
    conn: Arc<Connection>,
    settings: Settings,
}

impl Broker {
    /// Connects once (the worker retries with backoff around this).
    pub async fn connect(settings: &Settings, role: &str) -> Result<Self, QueueError> {
        let name = format!("callqa {role} pid {}", std::process::id());
        let conn = Connection::connect(
            &settings.url,
            ConnectionProperties::default().with_connection_name(name.into()),
        )
        .await
        .map_err(|source| QueueError::Connect {
            url: redact(&settings.url),
            source,
        })?;
        Ok(Broker {
            conn: Arc::new(conn),
            settings: settings.clone(),
        })
    }

    pub fn names(&self) -> &Names {
        &self.settings.names
    }

    pub fn is_connected(&self) -> bool {
        self.conn.status().connected()
    }

    /// Declares queues, exchanges and bindings. Idempotent; every worker
    /// and `submit` runs it, so whichever starts first creates them.
    pub async fn declare(&self) -> Result<(), QueueError> {
        self.declare_all().await.map_err(|e| match e {
            QueueError::Amqp(e) if is_precondition_failed(&e) => QueueError::Setting(format!(
                "{e}: a queue or exchange with prefix {:?} exists with other arguments \
                 (queue_type, delivery_limit or retry delays differ from when it was \
                 first declared); use the original settings or a new prefix",
                self.settings.names.prefix
            )),
            e => e,
        })
    }

    async fn declare_all(&self) -> Result<(), QueueError> {
        let s = &self.settings;
        let n = &s.names;
        let ch = self.conn.create_channel().await?;
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        ch.exchange_declare(
            n.dead_exchange.as_str().into(),
            ExchangeKind::Fanout,
            durable,
            FieldTable::default(),
        )
        .await?;
        let mut dead_args = FieldTable::default();
        // Dead letters can pile up during an outage: keep them on disk.
        dead_args.insert("x-queue-mode".into(), text("lazy"));
        ch.queue_declare(
            n.dead_queue.as_str().into(),
            QueueDeclareOptions::durable(),
            dead_args,
        )
        .await?;
        ch.queue_bind(
            n.dead_queue.as_str().into(),
            n.dead_exchange.as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;

        let mut jobs_args = FieldTable::default();
        jobs_args.insert("x-dead-letter-exchange".into(), text(&n.dead_exchange));
        if s.queue_type == QueueType::Quorum {
            jobs_args.insert("x-queue-type".into(), text("quorum"));
            if s.delivery_limit > 0 {
                jobs_args.insert(
                    "x-delivery-limit".into(),
                    AMQPValue::LongLongInt(i64::from(s.delivery_limit)),
                );
            }
        }
        ch.queue_declare(
            n.jobs.as_str().into(),
            QueueDeclareOptions::durable(),
            jobs_args,
        )
        .await?;

        let mut delays = s.retry_delays_ms.clone();
        delays.dedup();
        for delay in delays {
            // Expired retries go back to the jobs queue through the default
            // exchange. One queue per delay: TTLs expire only at the head of
            // a queue, so mixing delays would hold short ones behind long.
            let mut args = FieldTable::default();
            args.insert(
                "x-message-ttl".into(),
                AMQPValue::LongLongInt(delay.min(i64::MAX as u64) as i64),
            );
            args.insert("x-dead-letter-exchange".into(), text(""));
            args.insert("x-dead-letter-routing-key".into(), text(&n.jobs));
            ch.queue_declare(
                n.retry(delay).as_str().into(),
                QueueDeclareOptions::durable(),
                args,
            )
            .await?;
        }

        ch.exchange_declare(
            n.results.as_str().into(),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await?;
        let _ = ch.close(200, "declared".into()).await;
        Ok(())
    }

    /// A channel in publisher-confirm mode (reopened on this connection
    /// if the broker closes it).
    pub async fn publisher(&self) -> Result<Publisher, QueueError> {
        let ch = confirm_channel(&self.conn).await?;
        Ok(Publisher::new(
            self.conn.clone(),
            ch,
            self.settings.names.clone(),
            self.settings.max_result_bytes,
        ))
    }

    /// Moves the messages now in the dead-letter queue back to the jobs
    /// queue (without their dead-letter and attempt headers), each removed
    /// from the dead-letter queue only once the copy is confirmed; at most
    /// `limit`, and never more than were there at the start (a job that
    /// fails again while this runs waits for the next replay). Returns how
    /// many were moved.
    pub async fn replay_dead(&self, limit: Option<u64>) -> Result<u64, QueueError> {
        let publisher = self.publisher().await?;
        let ch = self.conn.create_channel().await?;
        let dead = self.settings.names.dead_queue.as_str();
        let there = ch
            .queue_declare(
                dead.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?
            .message_count();
        let todo = limit.map_or(u64::from(there), |l| l.min(u64::from(there)));
        let mut moved = 0;
        while moved < todo {
            let Some(msg) = ch
                .basic_get(dead.into(), BasicGetOptions { no_ack: false })
                .await?
            else {
                break;
            };
            let d = &msg.delivery;
            publisher.replay(&d.properties, &d.data).await?;
            d.acker.ack(BasicAckOptions::default()).await?;
            moved += 1;
        }
        let _ = ch.close(200, "replayed".into()).await;
        publisher.close().await;
        Ok(moved)
    }

    /// Starts consuming the jobs queue with manual acknowledgement and the
    /// configured prefetch.
    pub async fn consume(&self, tag: &str) -> Result<JobStream, QueueError> {
        let ch = self.conn.create_channel().await?;
        JobStream::start(ch, &self.settings.names.jobs, tag, self.settings.prefetch).await
    }

    /// Closes the connection cleanly (unacknowledged deliveries return to
    /// their queue).
    pub async fn close(&self) {
        if self.is_connected() {
            let _ = self.conn.close(200, "bye".into()).await;
        }
    }
}

/// RabbitMQ refuses to redeclare an existing queue with other arguments
/// (PRECONDITION_FAILED): a configuration mismatch retrying cannot fix.
fn is_precondition_failed(e: &lapin::Error) -> bool {
    use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
    matches!(e.kind(), lapin::ErrorKind::ProtocolError(p)
        if matches!(p.kind(), AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED)))
}

/// A new channel in publisher-confirm mode.
async fn confirm_channel(conn: &Connection) -> Result<lapin::Channel, QueueError> {
    let ch = conn.create_channel().await?;
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    Ok(ch)
}

fn text(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s))
}

/// Hides the password in a broker URL for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_derive_from_the_prefix() {
        let n = Names::new("acme.qa");
        assert_eq!(n.jobs, "acme.qa.jobs");
        assert_eq!(n.results, "acme.qa.results");
        assert_eq!(n.dead_exchange, "acme.qa.dead");
        assert_eq!(n.dead_queue, "acme.qa.jobs.dead");
        assert_eq!(n.retry(2000), "acme.qa.jobs.retry.2000ms");
    }

    #[test]
    fn settings_refuse_unbounded_prefetch_and_list_retry_delays() {
        let mut q = QueueConfig {
            retry_attempts: 3,
            retry_backoff_ms: 500,
            ..QueueConfig::default()
        };
        let s = Settings::from_config(&q).unwrap();
        assert_eq!(s.retry_delays_ms, [500, 1000, 2000]);
        assert_eq!(s.retry_attempts(), 3);
        q.prefetch = 0;
        let err = Settings::from_config(&q).unwrap_err();
        assert!(err.to_string().contains("prefetch"), "{err}");
        assert_eq!(err.disposition(), Disposition::Reject);
    }

    #[test]
    fn redact_hides_passwords() {
        assert_eq!(
            redact("amqp://guest:secret@mq:5672/%2f"),
            "amqp://guest:***@mq:5672/%2f"
        );
        assert_eq!(redact("amqp://mq:5672"), "amqp://mq:5672");
    }
}
