//! The queue worker (`callqa worker`): consumes jobs from RabbitMQ, runs each
//! through the pipeline (which stores, then publishes, the result) and
//! settles the delivery by the outcome, in one place (`settle`):
//!
//! | outcome | what happens to the message |
//! |---|---|
//! | scored, stored, published | acknowledged |
//! | bad job (rejected) | failure record stored; copy dead-lettered with `x-callqa-reason`; acknowledged |
//! | transient fault, retries left | copy parked in the delay queue with `x-callqa-attempt` + 1; acknowledged |
//! | transient fault, retries used up | copy dead-lettered with the reason; acknowledged |
//! | publishing that copy failed | rejected without requeue: the broker dead-letters it |
//! | worker or connection died first | nothing: the broker redelivers; the store is idempotent by job id |
//!
//! Around that: reconnection with capped exponential backoff when the broker
//! goes away, graceful shutdown (stop consuming, finish in-flight jobs,
//! return) when `shutdown` resolves, and the ops endpoint (metrics, health).
//! In-flight work is bounded by the prefetch; CPU work by the pipeline.
//!
//! Backpressure: when the store cannot take a write, the worker stops taking
//! deliveries (the jobs wait in the queue instead of using up their retries)
//! and reports unhealthy, probing the store each second; it resumes when a
//! write commits again. A message redelivered `delivery_limit` times (on a
//! classic queue; a quorum queue's broker counts itself) is rejected to the
//! dead-letter exchange unprocessed, so nothing can loop.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::config::{QueueConfig, QueueType};
use crate::error::{Classify, Disposition, JobError, Stage};
use crate::http::ops::{self, Probe};
use crate::pipeline::{Outcome, Pipeline};
use crate::queue::{Broker, DeadLetter, Delivery, JobStream, Publisher, QueueError, Settings};
use crate::store::Store;
use crate::telemetry::{self, Counter, Gauge};
use crate::wire::FailureWire;

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("cannot listen on {addr} for metrics and health: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
}

/// How the worker runs, from `[queue]`.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    pub settings: Settings,
    pub reconnect_max: Duration,
    pub shutdown_timeout: Duration,
    /// Address for GET /metrics and /healthz; `None` turns it off.
    pub metrics_listen: Option<String>,
}

impl WorkerOptions {
    pub fn from_config(q: &QueueConfig) -> Result<Self, QueueError> {
        Ok(WorkerOptions {
            settings: Settings::from_config(q)?,
            reconnect_max: Duration::from_millis(q.reconnect_max_ms.max(100)),
            shutdown_timeout: Duration::from_secs(q.shutdown_timeout_s),
            metrics_listen: Some(q.metrics_listen.trim().to_owned()).filter(|a| !a.is_empty()),
        })
    }
}

/// What the job tasks share.
struct Shared {
    pipeline: Pipeline,
    settings: Settings,
    connected: AtomicBool,
    /// Set when a job could not be stored for a transient reason; cleared
    /// when a probe write commits. Consuming pauses while it is set.
    store_down: AtomicBool,
    /// Why the last result publish failed; `None` once one succeeds.
    publish_failure: Mutex<Option<String>>,
    redeliveries: Redeliveries,
}

impl Shared {
    fn set_publish_failure(&self, why: Option<String>) {
        *self
            .publish_failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = why;
    }

    fn publish_failure(&self) -> Option<String> {
        self.publish_failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// How often a paused worker checks whether the store takes writes again.
const STORE_PROBE_EVERY: Duration = Duration::from_secs(1);

/// Redeliveries seen per message, for classic queues (which, unlike quorum
/// queues, count nothing): a message whose handling kills the channel or
/// the connection before it can be settled would otherwise come back for
/// ever. Keyed by a hash of the message id and body; bounded in size.
struct Redeliveries {
    limit: u32,
    seen: Mutex<HashMap<u64, u32>>,
}

impl Redeliveries {
    const MAX_TRACKED: usize = 10_000;

    fn new(settings: &Settings) -> Self {
        Redeliveries {
            limit: match settings.queue_type {
                QueueType::Classic => settings.delivery_limit,
                QueueType::Quorum => 0,
            },
            seen: Mutex::new(HashMap::new()),
        }
    }

    fn key(d: &Delivery) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        d.message_id().hash(&mut h);
        d.body().hash(&mut h);
        h.finish()
    }

    /// Counts a redelivery; true when the message has now been delivered
    /// more than `limit` times (the first delivery is not a redelivery).
    fn exceeded(&self, d: &Delivery) -> bool {
        if self.limit == 0 || !d.redelivered() {
            return false;
        }
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= Self::MAX_TRACKED {
            seen.clear();
        }
        let n = seen.entry(Self::key(d)).or_insert(0);
        *n += 1;
        *n + 1 > self.limit
    }

    fn forget(&self, d: &Delivery) {
        if self.limit == 0 || !d.redelivered() {
            return;
        }
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&Self::key(d));
    }
}

/// A worker ready to run; `ops_addr` is where its metrics endpoint listens.
pub struct Worker {
    shared: Arc<Shared>,
    opts: WorkerOptions,
    ops: Option<tokio::net::TcpListener>,
}

impl Worker {
    /// Binds the ops endpoint (so a taken port fails start-up, loudly).
    pub async fn new(opts: WorkerOptions, pipeline: Pipeline) -> Result<Self, WorkerError> {
        let ops =
            match &opts.metrics_listen {
                Some(addr) => Some(tokio::net::TcpListener::bind(addr).await.map_err(
                    |source| WorkerError::Listen {
                        addr: addr.clone(),
                        source,
                    },
                )?),
                None => None,
            };
        Ok(Worker {
            shared: Arc::new(Shared {
                pipeline,
                settings: opts.settings.clone(),
                connected: AtomicBool::new(false),
                store_down: AtomicBool::new(false),
                publish_failure: Mutex::new(None),
                redeliveries: Redeliveries::new(&opts.settings),
            }),
            opts,
            ops,
        })
    }

    pub fn ops_addr(&self) -> Option<SocketAddr> {
        self.ops.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Runs until `shutdown` resolves and in-flight jobs are finished. Fails
    /// only on a setting the broker refuses (e.g. a queue declared with
    /// other arguments); an unreachable broker is retried forever.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), WorkerError> {
        let Worker { shared, opts, ops } = self;
        let (stop_tx, mut stop) = watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });

        let (ops_stop, ops_stopped) = tokio::sync::oneshot::channel::<()>();
        let ops_task = ops.map(|listener| {
            if let Ok(addr) = listener.local_addr() {
                info!(%addr, "metrics and health endpoint listening");
            }
            let probes: Vec<Arc<dyn Probe>> = vec![
                Arc::new(BrokerProbe(shared.clone())),
                Arc::new(StoreProbe(shared.pipeline.store().clone())),
                Arc::new(PublishProbe(shared.clone())),
            ];
            tokio::spawn(ops::serve(listener, ops::router(probes), async move {
                let _ = ops_stopped.await;
            }))
        });

        let names = &shared.settings.names;
        info!(queue = %names.jobs, results = %names.results, dead = %names.dead_queue,
              prefetch = shared.settings.prefetch, retries = shared.settings.retry_attempts(),
              "worker starting");
        let mut backoff = Backoff::new(Duration::from_millis(200), opts.reconnect_max);
        let mut sessions = 0u64;
        let mut fatal = None;
        while !*stop.borrow() {
            let connected = tokio::select! {
                r = open_session(&shared.settings, sessions) => r,
                _ = stop.changed() => break,
            };
            match connected {
                Err(e) if e.disposition() == Disposition::Reject => {
                    fatal = Some(e);
                    break;
                }
                Err(e) => {
                    let wait = backoff.next_delay();
                    warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "broker unavailable");
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stop.changed() => break,
                    }
                }
                Ok((broker, publisher, stream)) => {
                    if sessions > 0 {
                        telemetry::count(Counter::BrokerReconnects);
                    }
                    sessions += 1;
                    backoff.reset();
                    shared.connected.store(true, Ordering::Relaxed);
                    telemetry::gauge_set(Gauge::BrokerConnected, 1);
                    info!(session = sessions, "consuming");
                    let end = consume(&shared, &opts, stream, publisher, &mut stop).await;
                    shared.connected.store(false, Ordering::Relaxed);
                    telemetry::gauge_set(Gauge::BrokerConnected, 0);
                    broker.close().await;
                    match end {
                        SessionEnd::Stopped => break,
                        SessionEnd::Lost(why) => {
                            warn!(reason = %why, "lost the broker; reconnecting")
                        }
                    }
                }
            }
        }
        let _ = ops_stop.send(());
        if let Some(t) = ops_task {
            let _ = t.await;
        }
        match fatal {
            Some(e) => Err(e.into()),
            None => {
                info!("worker stopped");
                Ok(())
            }
        }
    }
}

async fn open_session(
    settings: &Settings,
    n: u64,
) -> Result<(Broker, Publisher, JobStream), QueueError> {
    let broker = Broker::connect(settings, "worker").await?;
    broker.declare().await?;
    let publisher = broker.publisher().await?;
    let tag = format!("callqa-worker-{}-{n}", std::process::id());
    let stream = broker.consume(&tag).await?;
    Ok((broker, publisher, stream))
}

enum SessionEnd {
    /// Asked to stop; in-flight jobs are finished.
    Stopped,
    /// The connection or the consumer went away.
    Lost(String),
}

/// Takes deliveries until asked to stop or the connection is lost, then
/// waits for the jobs in flight.
async fn consume(
    shared: &Arc<Shared>,
    opts: &WorkerOptions,
    mut stream: JobStream,
    publisher: Publisher,
    stop: &mut watch::Receiver<bool>,
) -> SessionEnd {
    let mut tasks = JoinSet::new();
    let mut stopping = false;
    let mut probe = tokio::time::interval(STORE_PROBE_EVERY);
    // Deliveries that arrived while the store was down: started when it is
    // back (or, on shutdown, handed back to the broker with the channel).
    let mut held: Vec<Delivery> = Vec::new();
    let end = loop {
        let paused = shared.store_down.load(Ordering::Relaxed);
        if stopping && paused {
            // Deliveries not yet taken go back to the queue with the channel.
            break SessionEnd::Stopped;
        }
        if *stop.borrow() && !stopping {
            stopping = true;
            info!(
                in_flight = tasks.len(),
                "stopping: no new jobs, finishing those in flight"
            );
            // Deliveries already received still come out of the stream,
            // then it ends.
            if let Err(e) = stream.cancel().await {
                break SessionEnd::Lost(e.to_string());
            }
        }
        tokio::select! {
            _ = stop.changed(), if !stopping => {}
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(e) = joined {
                    warn!(error = %e, "job task failed");
                }
            }
            _ = probe.tick(), if paused => {
                let store = shared.pipeline.store();
                if let Ok(Ok(())) = tokio::time::timeout(Duration::from_secs(2), store.probe_write()).await {
                    shared.store_down.store(false, Ordering::Relaxed);
                    info!(held = held.len(), "the store takes writes again; consuming");
                    for d in held.drain(..) {
                        telemetry::gauge_add(Gauge::JobsInFlight, 1);
                        tasks.spawn(handle(shared.clone(), publisher.clone(), d));
                    }
                }
            }
            next = stream.next(), if !paused => match next {
                // The store went down since this loop last looked.
                Some(Ok(d)) if shared.store_down.load(Ordering::Relaxed) => held.push(d),
                Some(Ok(d)) => {
                    telemetry::gauge_add(Gauge::JobsInFlight, 1);
                    tasks.spawn(handle(shared.clone(), publisher.clone(), d));
                }
                Some(Err(e)) => break SessionEnd::Lost(e.to_string()),
                None if stopping => break SessionEnd::Stopped,
                None => break SessionEnd::Lost("the broker cancelled the consumer".into()),
            },
        }
    };
    let drain = async {
        while let Some(joined) = tasks.join_next().await {
            if let Err(e) = joined {
                warn!(error = %e, "job task failed");
            }
        }
    };
    if matches!(end, SessionEnd::Stopped) {
        if tokio::time::timeout(opts.shutdown_timeout, drain)
            .await
            .is_err()
        {
            warn!(
                left = tasks.len(),
                "shutdown timeout: jobs still running are left unacknowledged and will be redelivered"
            );
            tasks.abort_all();
        }
    } else {
        // Their acknowledgements will fail; the broker redelivers them.
        drain.await;
    }
    stream.close().await;
    publisher.close().await;
    end
}

/// Decrements the in-flight gauge however the job task ends.
struct InFlight;
impl Drop for InFlight {
    fn drop(&mut self) {
        telemetry::gauge_add(Gauge::JobsInFlight, -1);
    }
}

/// What to do with a delivery once its outcome is known.
enum Settle {
    Ack,
    Retry { attempt: u32, delay_ms: u64 },
    DeadLetter(DeadLetter),
}

/// One delivery, start to finish.
async fn handle(shared: Arc<Shared>, publisher: Publisher, d: Delivery) {
    let _in_flight = InFlight;
    let source = d.source();
    let attempt = d.attempt();
    let settling = Settling {
        publisher: &publisher,
        delivery: &d,
    };
    if shared.redeliveries.exceeded(&d) {
        warn!(%source, limit = shared.redeliveries.limit,
              "delivered too many times without being settled; rejecting it to the dead-letter queue unprocessed");
        match d.reject().await {
            Ok(()) => {
                telemetry::count(Counter::JobsDeadLettered);
                shared.redeliveries.forget(&d);
            }
            Err(e) => warn!(%source, error = %e, "could not reject the delivery"),
        }
        return;
    }
    // Late metadata (CSAT, resolution … from the CRM) for a stored result.
    if let Some(fields) = crate::intake::metadata_message(d.body()) {
        let applied = match fields {
            Ok(f) => shared.pipeline.run_metadata(&source, f).await,
            Err(e) => Err(JobError::new(Stage::Intake, &e)),
        };
        let action = match applied {
            Ok(_) => Settle::Ack,
            Err(e) => on_error(&shared, &d, &source, attempt, e).await,
        };
        if settle(&settling, &source, action).await {
            shared.redeliveries.forget(&d);
        }
        return;
    }
    let input = crate::intake::Input::Message {
        source: source.clone(),
        body: d.body().to_vec(),
    };
    let outcome = shared.pipeline.run_published(input, &publisher).await;
    match &outcome {
        Err(e)
            if e.stage == Stage::Store
                && e.disposition == Disposition::Retry
                && !shared.store_down.swap(true, Ordering::Relaxed) =>
        {
            warn!(error = %e.message, "cannot write to the store; pausing consumption until it takes writes again");
        }
        Err(e) if e.stage == Stage::Store => {}
        Err(e) if e.stage == Stage::Publish => shared.set_publish_failure(Some(e.message.clone())),
        Ok(Outcome::Done { .. }) => shared.set_publish_failure(None),
        _ => {}
    }
    let action = match outcome {
        Ok(Outcome::Done { result, saved }) => {
            telemetry::count(Counter::ResultsPublished);
            debug!(%source, job_id = %result.job_id, score = result.score,
                   flags = result.flags.len(), ?saved, redelivered = d.redelivered(), "job done");
            Settle::Ack
        }
        Ok(Outcome::Failed(f)) => Settle::DeadLetter(DeadLetter {
            job_id: f.job_id,
            stage: f.stage,
            disposition: Disposition::Reject,
            reason: f.reason,
            attempts: attempt,
        }),
        Err(e) => on_error(&shared, &d, &source, attempt, e).await,
    };
    if settle(&settling, &source, action).await {
        shared.redeliveries.forget(&d);
    }
}

/// A job that ended in an error the pipeline did not record: retry it if
/// the error is transient and retries are left, else dead-letter it.
async fn on_error(
    shared: &Shared,
    d: &Delivery,
    source: &str,
    attempt: u32,
    e: JobError,
) -> Settle {
    let delays = &shared.settings.retry_delays_ms;
    if e.disposition == Disposition::Retry {
        if let Some(&delay_ms) = delays.get(attempt as usize) {
            if d.can_settle() {
                let error = shared.pipeline.engine().redact_text(&e.message);
                warn!(%source, stage = %e.stage, %error, attempt = attempt + 1,
                      delay_ms, "transient failure; retrying later");
            }
            return Settle::Retry {
                attempt: attempt + 1,
                delay_ms,
            };
        }
    }
    let job_id = e.job_id.clone();
    // Best effort, so `callqa results --failures` lists it too; the store
    // may well be what is down.
    // Reasons may quote the job; personal data in them is masked.
    let message = shared.pipeline.engine().redact_text(&e.message);
    let mut record = FailureWire::new(job_id.clone(), source, &e);
    record.reason = message.clone();
    let store = shared.pipeline.store();
    if let Ok(Err(err)) =
        tokio::time::timeout(Duration::from_secs(2), store.save_failure(&record)).await
    {
        debug!(%source, error = %err, "could not record the failure in the store");
    }
    Settle::DeadLetter(DeadLetter {
        job_id,
        stage: e.stage,
        disposition: e.disposition,
        reason: if e.disposition == Disposition::Retry {
            format!("{message} (gave up after {attempt} retries)")
        } else {
            message
        },
        attempts: attempt,
    })
}

/// What settling a delivery takes from the broker: the delivery's
/// acknowledgement and the publisher's copies of it. The seam `settle` is
/// tested through; [`Settling`] is the real one.
trait Settlement: Sync {
    /// False once the delivery's channel is closed.
    fn can_settle(&self) -> bool;
    /// Parks a copy in the delay queue as attempt `attempt` (confirmed).
    fn retry(
        &self,
        attempt: u32,
        delay_ms: u64,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;
    /// Sends a copy to the dead-letter queue with `why` in its headers
    /// (confirmed).
    fn dead_letter(&self, why: &DeadLetter) -> impl Future<Output = Result<(), QueueError>> + Send;
    /// The broker forgets the delivery.
    fn ack(&self) -> impl Future<Output = Result<(), QueueError>> + Send;
    /// The broker dead-letters the delivery itself, without requeueing.
    fn reject(&self) -> impl Future<Output = Result<(), QueueError>> + Send;
}

/// A delivery and the publisher its copies go out on.
struct Settling<'a> {
    publisher: &'a Publisher,
    delivery: &'a Delivery,
}

impl Settlement for Settling<'_> {
    fn can_settle(&self) -> bool {
        self.delivery.can_settle()
    }
    fn retry(
        &self,
        attempt: u32,
        delay_ms: u64,
    ) -> impl Future<Output = Result<(), QueueError>> + Send {
        self.publisher.retry(self.delivery, attempt, delay_ms)
    }
    fn dead_letter(&self, why: &DeadLetter) -> impl Future<Output = Result<(), QueueError>> + Send {
        self.publisher.dead_letter(self.delivery, why)
    }
    fn ack(&self) -> impl Future<Output = Result<(), QueueError>> + Send {
        self.delivery.ack()
    }
    fn reject(&self) -> impl Future<Output = Result<(), QueueError>> + Send {
        self.delivery.reject()
    }
}

/// The one place a delivery is acknowledged, retried or dead-lettered.
/// True when the broker has settled it.
async fn settle(d: &impl Settlement, source: &str, action: Settle) -> bool {
    if !d.can_settle() {
        // The connection went down under this job (the worker is already
        // reconnecting): the broker hands the message out again.
        debug!(%source, "channel closed; the broker will redeliver this job");
        return false;
    }
    let copied = match &action {
        Settle::Ack => Ok(()),
        Settle::Retry { attempt, delay_ms } => {
            let r = d.retry(*attempt, *delay_ms).await;
            if r.is_ok() {
                telemetry::count(Counter::JobsRetried);
            }
            r
        }
        Settle::DeadLetter(why) => {
            let r = d.dead_letter(why).await;
            if r.is_ok() {
                telemetry::count(Counter::JobsDeadLettered);
                warn!(%source, stage = %why.stage, reason = %why.reason,
                      attempts = why.attempts, "dead-lettered");
            }
            r
        }
    };
    let settled = match copied {
        Ok(()) => d.ack().await,
        Err(e) => {
            // The copy did not make it: let the broker dead-letter the
            // original instead, so the job is neither lost nor looping.
            warn!(%source, error = %e, "could not publish the retry or dead letter; rejecting to the dead-letter exchange");
            let r = d.reject().await;
            if r.is_ok() {
                telemetry::count(Counter::JobsDeadLettered);
            }
            r
        }
    };
    match settled {
        Ok(()) => true,
        Err(e) => {
            // The channel is gone: the broker will redeliver this message.
            warn!(%source, error = %e, "could not settle the delivery; it will be redelivered");
            false
        }
    }
}

/// Exponential backoff with a cap and a little jitter, so workers that lost
/// the broker together do not reconnect in lockstep.
struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    fn new(first: Duration, max: Duration) -> Self {
        Backoff {
            first,
            max: max.max(first),
            next: first,
        }
    }

    fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|t| t.subsec_nanos())
            .unwrap_or(0);
        let jitter_ms = (d.as_millis() as u64 / 5).max(1);
        d + Duration::from_millis(u64::from(nanos) % jitter_ms)
    }

    fn reset(&mut self) {
        self.next = self.first;
    }
}

struct BrokerProbe(Arc<Shared>);
impl Probe for BrokerProbe {
    fn name(&self) -> &'static str {
        "broker"
    }
    fn check(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        let up = self.0.connected.load(Ordering::Relaxed);
        Box::pin(async move {
            if up {
                Ok(())
            } else {
                Err("not connected".into())
            }
        })
    }
}

/// Healthy when a write commits (a full disk still answers `SELECT 1`).
struct StoreProbe(Store);
impl Probe for StoreProbe {
    fn name(&self) -> &'static str {
        "store"
    }
    fn check(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move {
            self.0
                .probe_write()
                .await
                .map_err(|e| format!("cannot write: {e}"))
        })
    }
}

/// Unhealthy from a failed result publish until the next one succeeds.
struct PublishProbe(Arc<Shared>);
impl Probe for PublishProbe {
    fn name(&self) -> &'static str {
        "publish"
    }
    fn check(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        let failure = self.0.publish_failure();
        Box::pin(async move {
            match failure {
                None => Ok(()),
                Some(why) => Err(format!("the last result could not be published: {why}")),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `settle` asked of the broker.
    #[derive(Debug, Clone, PartialEq)]
    enum Call {
        Retry { attempt: u32, delay_ms: u64 },
        DeadLetter(DeadLetter),
        Ack,
        Reject,
    }

    /// A delivery whose channel is `open` or closed, whose copies fail to
    /// publish with `publish_fails`, and whose ack and reject fail with
    /// `settle_fails` (the channel went down); it records every call.
    struct Fake {
        open: bool,
        publish_fails: bool,
        settle_fails: bool,
        calls: Mutex<Vec<Call>>,
    }

    impl Fake {
        fn new(open: bool, publish_fails: bool, settle_fails: bool) -> Self {
            Fake {
                open,
                publish_fails,
                settle_fails,
                calls: Mutex::new(Vec::new()),
            }
        }
        /// Everything works.
        fn healthy() -> Self {
            Fake::new(true, false, false)
        }
        /// The retry or dead-letter copy is not confirmed.
        fn copy_fails() -> Self {
            Fake::new(true, true, false)
        }
        /// The channel closed under the job, before it was settled.
        fn closed() -> Self {
            Fake::new(false, false, false)
        }
        /// The channel closes during the ack or reject.
        fn settle_lost() -> Self {
            Fake::new(true, false, true)
        }
        /// Neither the copy nor the reject gets through.
        fn all_lost() -> Self {
            Fake::new(true, true, true)
        }

        fn answer(&self, call: Call) -> Result<(), QueueError> {
            let fails = match call {
                Call::Retry { .. } | Call::DeadLetter(_) => self.publish_fails,
                Call::Ack | Call::Reject => self.settle_fails,
            };
            self.calls.lock().unwrap().push(call);
            if fails {
                Err(QueueError::ChannelGone("fake".into()))
            } else {
                Ok(())
            }
        }
    }

    impl Settlement for Fake {
        fn can_settle(&self) -> bool {
            self.open
        }
        fn retry(
            &self,
            attempt: u32,
            delay_ms: u64,
        ) -> impl Future<Output = Result<(), QueueError>> + Send {
            std::future::ready(self.answer(Call::Retry { attempt, delay_ms }))
        }
        fn dead_letter(
            &self,
            why: &DeadLetter,
        ) -> impl Future<Output = Result<(), QueueError>> + Send {
            std::future::ready(self.answer(Call::DeadLetter(why.clone())))
        }
        fn ack(&self) -> impl Future<Output = Result<(), QueueError>> + Send {
            std::future::ready(self.answer(Call::Ack))
        }
        fn reject(&self) -> impl Future<Output = Result<(), QueueError>> + Send {
            std::future::ready(self.answer(Call::Reject))
        }
    }

    fn bad_job() -> DeadLetter {
        DeadLetter {
            job_id: Some("call-0042".into()),
            stage: Stage::Intake,
            disposition: Disposition::Reject,
            reason: "the job has no audio".into(),
            attempts: 0,
        }
    }

    fn gave_up() -> DeadLetter {
        DeadLetter {
            job_id: None,
            stage: Stage::Store,
            disposition: Disposition::Retry,
            reason: "database is down (gave up after 3 retries)".into(),
            attempts: 3,
        }
    }

    #[tokio::test]
    async fn settle_acks_retries_and_dead_letters_through_the_broker() {
        use Call::*;
        let retry = || Settle::Retry {
            attempt: 2,
            delay_ms: 30_000,
        };
        #[rustfmt::skip]
        let cases: Vec<(&str, Fake, Settle, Vec<Call>, bool)> = vec![
            // (case, broker, action, calls made, settled)
            ("ack", Fake::healthy(), Settle::Ack, vec![Ack], true),
            ("retry", Fake::healthy(), retry(), vec![Retry { attempt: 2, delay_ms: 30_000 }, Ack], true),
            ("reject", Fake::healthy(), Settle::DeadLetter(bad_job()), vec![DeadLetter(bad_job()), Ack], true),
            ("retries used up", Fake::healthy(), Settle::DeadLetter(gave_up()), vec![DeadLetter(gave_up()), Ack], true),
            ("retry copy not published", Fake::copy_fails(), retry(), vec![Retry { attempt: 2, delay_ms: 30_000 }, Reject], true),
            ("dead letter not published", Fake::copy_fails(), Settle::DeadLetter(bad_job()), vec![DeadLetter(bad_job()), Reject], true),
            ("channel closed: ack", Fake::closed(), Settle::Ack, vec![], false),
            ("channel closed: retry", Fake::closed(), retry(), vec![], false),
            ("channel closed: dead letter", Fake::closed(), Settle::DeadLetter(bad_job()), vec![], false),
            ("ack lost", Fake::settle_lost(), Settle::Ack, vec![Ack], false),
            ("copy and reject lost", Fake::all_lost(), retry(), vec![Retry { attempt: 2, delay_ms: 30_000 }, Reject], false),
        ];
        for (case, fake, action, calls, settled) in cases {
            let got = settle(&fake, "amqp:callqa.jobs#call-0042", action).await;
            assert_eq!(got, settled, "{case}: settled");
            assert_eq!(*fake.calls.lock().unwrap(), calls, "{case}: calls");
        }
    }

    #[test]
    fn backoff_doubles_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(500));
        let base: Vec<u64> = (0..5)
            .map(|_| {
                let d = b.next_delay().as_millis() as u64;
                // Strip the jitter (under a fifth of the base).
                [100, 200, 400, 500]
                    .into_iter()
                    .rev()
                    .find(|&x| d >= x)
                    .unwrap()
            })
            .collect();
        assert_eq!(base, [100, 200, 400, 500, 500]);
        b.reset();
        assert!(b.next_delay() < Duration::from_millis(121));
    }
}
