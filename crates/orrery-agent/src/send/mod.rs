//! Delivery: moves queued remote-write bodies to the server and acknowledges them in
//! the durable queue only after a 2xx, so nothing scraped is lost through server
//! outages or agent restarts (SIGKILL included).
//!
//! Shape: [`Delivery::push`] appends to the [`crate::queue::Queue`] (one `write(2)`,
//! no network). A dispatcher task reads the queue in order and hands each record to
//! shard `shard_key % shards`; each shard task sends its records strictly in order
//! (one request at a time, optionally merging several small records into one
//! request), retrying network errors, 5xx and 429 with exponential backoff and jitter
//! (honouring `Retry-After`). Any other 4xx cannot succeed by retrying: the record is
//! logged with the response body, counted in `dropped_4xx_records`, acknowledged and
//! skipped. A maintenance task fsyncs the active segment every `sync_interval` and
//! persists acknowledgements every `ack_sync_interval`.
//!
//! Ordering: records with the same shard key always go to the same shard while the
//! shard count is fixed; the count changes only after every shard has drained (all
//! records handed out are acknowledged), so per-key order holds across changes.
//!
//! Concurrency: `Delivery` is `Send + Sync`; `push` and `stats` may be called from any
//! task or thread. The queue sits behind one mutex that is never held across an
//! `.await`.

mod shard;
#[cfg(test)]
mod tests;

use crate::queue::{Queue, QueueConfig, QueueError};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::{AbortHandle, JoinHandle};

/// `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("orrery-agent/", env!("CARGO_PKG_VERSION"));
/// Longest `Retry-After` honoured; longer values are capped (a misconfigured
/// receiver must not park the agent for a day).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// Sender settings. Build with [`SenderConfig::new`] and adjust fields.
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// Remote-write endpoint, e.g. `http://host:9090/api/v1/write`.
    pub url: String,
    /// Sent as `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// Fewest parallel shards (at least 1).
    pub min_shards: usize,
    /// Most parallel shards.
    pub max_shards: usize,
    /// Timeout of one request, connect included.
    pub timeout: Duration,
    /// First retry delay.
    pub min_backoff: Duration,
    /// Largest retry delay (without `Retry-After`).
    pub max_backoff: Duration,
    /// Queue directory.
    pub queue_dir: PathBuf,
    /// Bound on the queue's bytes on disk; when full the oldest segment is dropped.
    pub queue_max_bytes: u64,
    /// Segment roll size.
    pub queue_segment_bytes: u64,
    /// Most records handed out and not yet acknowledged (bounds memory).
    pub max_outstanding: usize,
    /// Merge consecutive records of a shard into one request while the decompressed
    /// total stays at or under this many bytes; 0 sends every record alone.
    pub merge_max_bytes: usize,
    /// Most records merged into one request.
    pub merge_max_records: usize,
    /// fsync of the active segment: power loss loses at most this much.
    pub sync_interval: Duration,
    /// Persisting acknowledgements: a crash re-sends at most this much.
    pub ack_sync_interval: Duration,
    /// How often the shard count is reconsidered.
    pub scale_interval: Duration,
    /// Grow shards when the oldest unacknowledged record is older than this and the
    /// backlog keeps growing while requests succeed.
    pub scale_up_age: Duration,
    /// How long [`Delivery::shutdown`] waits for in-flight requests.
    pub shutdown_grace: Duration,
}

impl SenderConfig {
    /// Defaults in the spirit of Prometheus's queue_config.
    pub fn new(url: impl Into<String>, queue_dir: impl Into<PathBuf>) -> Self {
        SenderConfig {
            url: url.into(),
            token: None,
            min_shards: 1,
            max_shards: 16,
            timeout: Duration::from_secs(30),
            min_backoff: Duration::from_millis(30),
            max_backoff: Duration::from_secs(5),
            queue_dir: queue_dir.into(),
            queue_max_bytes: 1 << 30,
            queue_segment_bytes: 16 << 20,
            max_outstanding: 10_000,
            merge_max_bytes: 4 << 20,
            merge_max_records: 50,
            sync_interval: Duration::from_secs(1),
            ack_sync_interval: Duration::from_secs(1),
            scale_interval: Duration::from_secs(10),
            scale_up_age: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
        }
    }

    fn validate(&self) -> Result<reqwest::Url, SendError> {
        let url = reqwest::Url::parse(&self.url)
            .map_err(|e| SendError::Config(format!("bad url {:?}: {e}", self.url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(SendError::Config(format!(
                "bad url scheme; got {:?}; want \"http\" or \"https\"",
                url.scheme()
            )));
        }
        if self.min_shards == 0 || self.max_shards < self.min_shards {
            return Err(SendError::Config(format!(
                "bad shard bounds; got min {} max {}; want 1 <= min <= max",
                self.min_shards, self.max_shards
            )));
        }
        if self.min_backoff.is_zero() || self.max_backoff < self.min_backoff {
            return Err(SendError::Config(format!(
                "bad backoff bounds; got min {:?} max {:?}; want 0 < min <= max",
                self.min_backoff, self.max_backoff
            )));
        }
        if self.max_outstanding == 0 {
            return Err(SendError::Config(
                "max_outstanding must be at least 1".into(),
            ));
        }
        Ok(url)
    }
}

/// Delivery errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The configuration is invalid.
    #[error("invalid sender config: {0}")]
    Config(String),
    /// The queue failed (open, push).
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The HTTP client could not be built.
    #[error("http client: {0}")]
    Client(#[source] reqwest::Error),
    /// The shared HTTP client settings were refused.
    #[error("http client: {0}")]
    Http(#[source] orrery_httpclient::HttpClientError),
    /// `push` after `shutdown` began.
    #[error("delivery is shutting down")]
    ShuttingDown,
}

/// Counters and gauges of a [`Delivery`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryStats {
    /// Records in the queue not yet acknowledged (in flight included).
    pub pending_records: u64,
    /// Their framed bytes.
    pub pending_bytes: u64,
    /// Records acknowledged after a 2xx.
    pub sent_records: u64,
    /// Requests answered 2xx.
    pub sent_requests: u64,
    /// Requests that failed with a network error, 5xx or 429.
    pub failed_requests: u64,
    /// Retries scheduled after such failures.
    pub retried_requests: u64,
    /// Records dropped because the queue was full (oldest first).
    pub dropped_full_records: u64,
    /// Their bytes.
    pub dropped_full_bytes: u64,
    /// Records dropped because the server refused them with a 4xx other than 429.
    pub dropped_4xx_records: u64,
    /// Records lost to on-disk corruption found while running.
    pub dropped_corrupt_records: u64,
    /// Bytes lost to on-disk corruption (at open and while running).
    pub dropped_corrupt_bytes: u64,
    /// Current number of shards.
    pub shards: usize,
    /// Age of the oldest record handed to a shard and not yet acknowledged.
    pub oldest_pending_age: Option<Duration>,
}

#[derive(Default)]
struct Counters {
    sent_records: AtomicU64,
    sent_requests: AtomicU64,
    failed_requests: AtomicU64,
    retried_requests: AtomicU64,
    dropped_4xx_records: AtomicU64,
    shards: AtomicUsize,
}

/// State shared by the handle and its tasks.
struct Shared {
    queue: Mutex<Queue>,
    wake: Notify,
    accepting: AtomicBool,
    counters: Counters,
    client: reqwest::Client,
    url: reqwest::Url,
    cfg: SenderConfig,
    shard_tasks: Mutex<Vec<AbortHandle>>,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        // A panic while holding the lock is a bug elsewhere; the queue's state is
        // still consistent (every mutation completes before returning), so go on.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The running sender: a queue plus its dispatcher, shard and maintenance tasks.
pub struct Delivery {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    dispatcher: Option<JoinHandle<()>>,
    maintenance: Option<JoinHandle<()>>,
}

impl Delivery {
    /// Validates the configuration, opens the queue (repairing a torn tail and
    /// resuming after the last persisted acknowledgement) and starts the tasks.
    pub async fn start(cfg: SenderConfig) -> Result<Delivery, SendError> {
        let url = cfg.validate()?;
        // The shared builder (it also installs ring, reqwest's crypto provider); the
        // token is this sender's own setting, added per request.
        let client = orrery_httpclient::HttpClientConfig::default()
            .client_builder()
            .map_err(SendError::Http)?
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout)
            .user_agent(USER_AGENT)
            .build()
            .map_err(SendError::Client)?;
        let qcfg = QueueConfig {
            dir: cfg.queue_dir.clone(),
            max_bytes: cfg.queue_max_bytes,
            segment_bytes: cfg.queue_segment_bytes,
            max_outstanding: cfg.max_outstanding,
            max_outstanding_bytes: 64 << 20,
        };
        let (queue, report) = tokio::task::spawn_blocking(move || Queue::open(qcfg))
            .await
            .map_err(|e| SendError::Config(format!("queue open task failed: {e}")))??;
        tracing::info!(
            dir = %cfg.queue_dir.display(),
            segments = report.segments,
            pending_records = report.pending_records,
            corrupt_bytes = report.corrupt_bytes,
            "Opened the delivery queue."
        );
        let shared = Arc::new(Shared {
            queue: Mutex::new(queue),
            wake: Notify::new(),
            accepting: AtomicBool::new(true),
            counters: Counters::default(),
            client,
            url,
            cfg,
            shard_tasks: Mutex::new(Vec::new()),
        });
        let (stop, stop_rx) = watch::channel(false);
        let dispatcher = tokio::spawn(dispatch(shared.clone(), stop_rx.clone()));
        let maintenance = tokio::spawn(maintain(shared.clone(), stop_rx));
        Ok(Delivery {
            shared,
            stop,
            dispatcher: Some(dispatcher),
            maintenance: Some(maintenance),
        })
    }

    /// Appends a snappy-compressed remote-write body to the durable queue. Returns once
    /// it is written (durable on process crash); never waits on the network. May drop
    /// the oldest queued data when the queue is full (counted).
    pub fn push(&self, shard_key: u64, body: Vec<u8>) -> Result<(), SendError> {
        if !self.shared.accepting.load(Ordering::Acquire) {
            return Err(SendError::ShuttingDown);
        }
        self.shared.queue().push(shard_key, &body)?;
        self.shared.wake.notify_one();
        Ok(())
    }

    /// Current counters.
    pub fn stats(&self) -> DeliveryStats {
        stats_of(&self.shared)
    }

    /// Stops accepting pushes, lets in-flight requests finish (at most
    /// `shutdown_grace`), then fsyncs the queue and persists acknowledgements.
    /// Unsent records stay queued for the next start.
    pub async fn shutdown(mut self) {
        self.shared.accepting.store(false, Ordering::Release);
        let _ = self.stop.send(true);
        let grace = self.shared.cfg.shutdown_grace;
        let deadline = tokio::time::Instant::now() + grace;
        if let Some(d) = self.dispatcher.take() {
            let abort = d.abort_handle();
            if tokio::time::timeout_at(deadline, d).await.is_err() {
                tracing::warn!(grace = ?grace, "In-flight requests did not finish in time; abandoning them (they stay queued).");
                abort.abort();
            }
        }
        abort_shards(&self.shared);
        if let Some(m) = self.maintenance.take() {
            let abort = m.abort_handle();
            if tokio::time::timeout_at(deadline, m).await.is_err() {
                abort.abort();
            }
        }
        let shared = self.shared.clone();
        let done = tokio::task::spawn_blocking(move || {
            let mut q = shared.queue();
            q.sync().and_then(|()| q.checkpoint())
        })
        .await;
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "Final queue sync failed; unacknowledged data may be re-sent.")
            }
            Err(e) => tracing::error!(error = %e, "Final queue sync task failed."),
        }
    }
}

impl Drop for Delivery {
    /// Without [`Delivery::shutdown`] (a crash, as far as the queue is concerned):
    /// stop every task now. Pushed data is already written; acknowledgements since the
    /// last checkpoint are re-sent on the next start.
    fn drop(&mut self) {
        if let Some(d) = self.dispatcher.take() {
            d.abort();
        }
        if let Some(m) = self.maintenance.take() {
            m.abort();
        }
        abort_shards(&self.shared);
    }
}

fn abort_shards(shared: &Shared) {
    let tasks = std::mem::take(&mut *shared.shard_tasks.lock().unwrap_or_else(|p| p.into_inner()));
    for t in tasks {
        t.abort();
    }
}

fn stats_of(shared: &Shared) -> DeliveryStats {
    let q = shared.queue().stats();
    let c = &shared.counters;
    let now_ms = orrery_model::clock::now_ms();
    DeliveryStats {
        pending_records: q.pending_records,
        pending_bytes: q.pending_bytes,
        sent_records: c.sent_records.load(Ordering::Relaxed),
        sent_requests: c.sent_requests.load(Ordering::Relaxed),
        failed_requests: c.failed_requests.load(Ordering::Relaxed),
        retried_requests: c.retried_requests.load(Ordering::Relaxed),
        dropped_full_records: q.dropped_full_records,
        dropped_full_bytes: q.dropped_full_bytes,
        dropped_4xx_records: c.dropped_4xx_records.load(Ordering::Relaxed),
        dropped_corrupt_records: q.dropped_corrupt_records,
        dropped_corrupt_bytes: q.dropped_corrupt_bytes,
        shards: c.shards.load(Ordering::Relaxed),
        oldest_pending_age: q
            .oldest_in_flight_ms
            .map(|t| Duration::from_millis(now_ms.saturating_sub(t).max(0) as u64)),
    }
}

struct ShardHandle {
    tx: mpsc::UnboundedSender<crate::queue::Record>,
    task: JoinHandle<()>,
}

fn spawn_shards(shared: &Arc<Shared>, n: usize, stop: &watch::Receiver<bool>) -> Vec<ShardHandle> {
    let mut tasks = shared.shard_tasks.lock().unwrap_or_else(|p| p.into_inner());
    tasks.clear();
    let shards: Vec<ShardHandle> = (0..n)
        .map(|i| {
            let (tx, rx) = mpsc::unbounded_channel();
            let task = tokio::spawn(shard::run(shared.clone(), i, rx, stop.clone()));
            tasks.push(task.abort_handle());
            ShardHandle { tx, task }
        })
        .collect();
    shared.counters.shards.store(n, Ordering::Relaxed);
    shards
}

/// Closes every shard's channel and waits until each has sent (or, when stopping,
/// abandoned) what it holds.
async fn drain(shards: Vec<ShardHandle>) {
    let tasks: Vec<JoinHandle<()>> = shards.into_iter().map(|s| s.task).collect();
    for t in tasks {
        let _ = t.await;
    }
}

/// Reads the queue in order and routes records to shards; rescales between batches.
async fn dispatch(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let cfg = shared.cfg.clone();
    let mut n = cfg.min_shards;
    let mut shards = spawn_shards(&shared, n, &stop);
    let mut last_scale = Instant::now();
    let mut last_pending = shared.queue().stats().pending_records;
    let mut last_failed = 0;
    let tick = cfg.scale_interval.min(Duration::from_secs(1));
    loop {
        if *stop.borrow() {
            break;
        }
        loop {
            let next = shared.queue().next_record();
            match next {
                Ok(Some(rec)) => {
                    let i = (rec.entry.shard_key % n as u64) as usize;
                    // A closed channel means the shard task ended (aborted on drop);
                    // the record stays unacknowledged and comes back after restart.
                    let _ = shards[i].tx.send(rec);
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::error!(error = %e, "Reading the delivery queue failed; retrying.");
                    break;
                }
            }
        }
        if last_scale.elapsed() >= cfg.scale_interval {
            last_scale = Instant::now();
            let s = stats_of(&shared);
            let failed = s.failed_requests;
            let desired = desired_shards(&cfg, n, &s, last_pending, failed - last_failed);
            last_pending = s.pending_records;
            last_failed = failed;
            if desired != n {
                tracing::info!(
                    from = n,
                    to = desired,
                    pending = s.pending_records,
                    "Resharding remote write."
                );
                // Drain first so that no record of a key is sent by its new shard
                // before the old shard finished the earlier ones.
                drain(std::mem::take(&mut shards)).await;
                if *stop.borrow() {
                    return;
                }
                n = desired;
                shards = spawn_shards(&shared, n, &stop);
                continue;
            }
        }
        tokio::select! {
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep(tick) => {}
            _ = stop.changed() => {}
        }
    }
    // Shards see the stop signal, finish the request they are in, and exit.
    drain(shards).await;
}

/// The scaling rule: double while the backlog grows, its oldest record is older than
/// `scale_up_age` and requests succeed (more shards do not help a server that is
/// down); halve back towards `min_shards` once nothing is pending.
fn desired_shards(
    cfg: &SenderConfig,
    n: usize,
    s: &DeliveryStats,
    last_pending: u64,
    failed_since: u64,
) -> usize {
    let old = s.oldest_pending_age.is_some_and(|a| a > cfg.scale_up_age);
    if failed_since == 0 && s.pending_records > last_pending && old && n < cfg.max_shards {
        (n * 2).min(cfg.max_shards)
    } else if s.pending_records == 0 && n > cfg.min_shards {
        (n / 2).max(cfg.min_shards)
    } else {
        n
    }
}

/// fsyncs the active segment and persists acknowledgements on their timers.
async fn maintain(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let cfg = &shared.cfg;
    let tick = cfg.sync_interval.min(cfg.ack_sync_interval);
    let mut last_sync = Instant::now();
    let mut last_ack = Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = stop.changed() => return,
        }
        let sync_due = last_sync.elapsed() >= cfg.sync_interval;
        let ack_due = last_ack.elapsed() >= cfg.ack_sync_interval;
        let (handle, job) = {
            let mut q = shared.queue();
            let handle = if sync_due {
                Some(q.sync_handle())
            } else {
                None
            };
            let job = if ack_due {
                q.prepare_checkpoint()
            } else {
                None
            };
            (handle, job)
        };
        if sync_due {
            last_sync = Instant::now();
        }
        if ack_due {
            last_ack = Instant::now();
        }
        let res = tokio::task::spawn_blocking(move || {
            // Segment data first, then the position that may point past it.
            if let Some(h) = handle {
                h.and_then(|h| h.sync()).map_err(|e| (false, e))?;
            }
            if let Some(job) = job {
                job.run().map_err(|e| (true, e))?;
            }
            Ok::<(), (bool, QueueError)>(())
        })
        .await;
        match res {
            Ok(Ok(())) => {}
            Ok(Err((ack_failed, e))) => {
                tracing::error!(error = %e, "Queue sync failed; will retry.");
                if ack_failed {
                    shared.queue().mark_dirty();
                }
            }
            Err(e) => tracing::error!(error = %e, "Queue sync task failed."),
        }
    }
}
