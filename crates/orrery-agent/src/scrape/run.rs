//! One target's scrape loop: fetch, parse, label, relabel, detect staleness, add the
//! synthetic series, and hand the result to the sink (the durable queue).
//!
//! Labeling follows Prometheus: target labels are attached to every sample (with
//! `honor_labels: false`, clashing scraped labels are kept as `exported_<name>`),
//! then `metric_relabel_configs` run, then external labels fill in what is missing and
//! `cluster` is set last, so nothing can override it. A series seen in the previous
//! scrape but not in this one gets a stale marker; a failed scrape or a removed target
//! marks every previous series stale, and a removed target its report series (`up`...)
//! too. A loop stopped by a configuration reload hands its state to the target's new
//! loop instead (see [`ScrapeLoop::run`]).
//!
//! Labeling is done once per series, not once per sample: the [`ScrapeCache`] keeps
//! each series' final labels, encoded, under its text as scraped, and the scrape's
//! remote-write body is written straight from those bytes while the body is scanned.

use super::cache::{Lookup, ScrapeCache};
use super::error::{LabelLimitError, ScrapeError};
use super::target::Target;
use crate::config::{ScrapeConfig, ScrapeJob};
use crate::queue::MAX_PAYLOAD_LEN;
use orrery_model::clock::now_ms;
use orrery_model::{Labels, MetricMetadata, Relabeler, STALE_NAN};
use orrery_wire::exposition::{format_for_content_type, ParseLimits, Scanner, SCRAPE_ACCEPT};
use orrery_wire::v1_append;
use rustc_hash::FxHashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Interval;

/// Where scrape results go: the agent's delivery in production, a recorder in tests.
pub trait Sink: Send + Sync {
    /// Stores a write durably: `body` is a snappy-compressed remote-write 1.0 request;
    /// `key` keeps one target's writes in order.
    fn push(&self, key: u64, body: Vec<u8>) -> Result<(), SinkError>;
}

/// Why a sink refused a write: the sink's own error (the delivery's `SendError` in
/// production), kept whole for its `source()`.
pub type SinkError = Box<dyn std::error::Error + Send + Sync>;

/// Health of a target, for `/api/v1/targets`.
#[derive(Debug, Clone, Default)]
pub struct Health {
    /// `up`, `down` or `unknown`.
    pub health: &'static str,
    /// Why the last scrape failed.
    pub last_error: String,
    /// When the last scrape started (ms).
    pub last_scrape_ms: i64,
    /// How long it took.
    pub last_duration: Duration,
    /// Samples in the last scrape after relabeling.
    pub last_samples: usize,
}

/// How the manager steers a running loop.
pub(super) enum Control {
    /// The target is gone, or the agent stops: mark its series stale now.
    Stop,
    /// A configuration reload restarted the job: stop scraping and wait for the
    /// target's new loop to ask for the state (see [`ScrapeLoop::run`]).
    Reload,
    /// The target continues after the reload: send the state to its new loop.
    HandOver(oneshot::Sender<Inheritance>),
}

/// What a loop stopped by a reload passes to the target's new loop.
pub(super) struct Inheritance {
    cache: ScrapeCache,
    /// The old loop's encoded report series labels.
    synthetic: Vec<Vec<u8>>,
    reported: bool,
}

/// Everything a loop needs that is shared by the job's targets.
pub struct JobContext {
    /// The job's settings, intervals resolved.
    pub scrape: ScrapeJob,
    /// HTTP client (TLS, redirects, proxy, compression).
    pub client: reqwest::Client,
    /// The job's HTTP client options, for each request's credentials.
    pub http: orrery_httpclient::HttpClientConfig,
    /// `metric_relabel_configs`.
    pub metric_relabel: Relabeler,
    /// External labels, `cluster` included.
    pub external: Vec<(String, String)>,
    /// The sink.
    pub sink: Arc<dyn Sink>,
}

/// The state one target keeps between scrapes.
pub struct ScrapeLoop {
    job: Arc<JobContext>,
    target: Target,
    /// Series of this target by their scraped text (for labeling, staleness and
    /// `scrape_series_added`).
    cache: ScrapeCache,
    /// Encoded labels of `up` and the other synthetic series, in `SYNTHETIC` order.
    synthetic: Vec<Vec<u8>>,
    /// Whether the report series were written (and not marked stale since).
    reported: bool,
    /// Size of the last scrape's remote-write body, to allocate the next one once.
    last_len: usize,
    /// Largest remote-write body (uncompressed) one scrape may make: [`MAX_BODY`].
    max_body: usize,
    /// Metadata already sent, by family.
    sent_metadata: FxHashMap<String, MetricMetadata>,
    /// Shared with the targets API.
    pub health: Arc<Mutex<Health>>,
}

/// Largest uncompressed remote-write body one scrape may make: the queue's largest
/// record (its compressed form must fit in one), and never near the 4 GiB snappy
/// cannot compress (it would panic). A target can exceed it with no sample_limit and no
/// body_size_limit (a body of short lines with long target labels grows most).
pub const MAX_BODY: usize = if MAX_PAYLOAD_LEN < 1 << 30 {
    MAX_PAYLOAD_LEN
} else {
    1 << 30
};

/// The synthetic series every scrape adds, as Prometheus names them.
pub(super) const SYNTHETIC: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

impl ScrapeLoop {
    /// A loop for a target.
    pub fn new(job: Arc<JobContext>, target: Target) -> Self {
        let mut lp = ScrapeLoop {
            job,
            target,
            cache: ScrapeCache::new(),
            synthetic: Vec::new(),
            reported: false,
            last_len: 0,
            max_body: MAX_BODY,
            sent_metadata: FxHashMap::default(),
            health: Arc::new(Mutex::new(Health {
                health: "unknown",
                ..Default::default()
            })),
        };
        lp.synthetic = SYNTHETIC
            .iter()
            .map(|name| {
                let labels = lp.final_labels(Labels::from_pairs([("__name__", *name)]), false);
                let mut enc = Vec::new();
                v1_append::append_labels(&mut enc, &labels);
                enc
            })
            .collect();
        lp
    }

    /// Runs until the manager says otherwise (see [`Control`]); `inherit` is the state
    /// of the target's loop that a configuration reload stopped, if there was one.
    pub(super) async fn run(
        mut self,
        mut ctl: mpsc::UnboundedReceiver<Control>,
        inherit: Option<oneshot::Receiver<Inheritance>>,
    ) {
        // The old loop hands over as soon as it is out of its last scrape; taking its
        // state first means a stop at any point below marks the right series stale.
        if let Some(rx) = inherit {
            if let Ok(old) = rx.await {
                self.adopt(old);
            }
        }
        // Spread targets over the interval, deterministically per target.
        let iv = self.target.interval;
        let offset = Duration::from_millis(self.target.hash % (iv.as_millis().max(1) as u64));
        let phase = now_ms().rem_euclid(iv.as_millis().max(1) as i64) as u64;
        let wait = (offset.as_millis() as u64 + iv.as_millis() as u64 - phase)
            % (iv.as_millis().max(1) as u64);
        let early = tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(wait)) => None,
            c = ctl.recv() => Some(c),
        };
        let mut tick = tokio::time::interval(iv);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let reload = match early {
            Some(c) => matches!(c, Some(Control::Reload)),
            None => loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    c = ctl.recv() => break matches!(c, Some(Control::Reload)),
                }
                self.scrape_once(now_ms()).await;
            },
        };
        if reload {
            self.retire(ctl, tick).await;
        } else {
            self.mark_all_stale(now_ms());
        }
    }

    /// After a reload stopped this loop: as Prometheus (`scrapePool.reload` disables
    /// the old loop's end-of-run stale markers and gives its cache to the new loop),
    /// the state goes to the target's new loop if the target continues in the new
    /// configuration. If no new loop asks for it by a little over two intervals, when
    /// Prometheus's end-of-run markers would be written, the target is gone and its
    /// series get stale markers timed at the first scrape that did not happen.
    async fn retire(mut self, mut ctl: mpsc::UnboundedReceiver<Control>, mut tick: Interval) {
        let iv = self.target.interval;
        let grace = tokio::time::sleep(iv * 2 + iv / 10);
        tokio::pin!(grace);
        let mut stale_at = None;
        loop {
            tokio::select! {
                _ = tick.tick(), if stale_at.is_none() => stale_at = Some(now_ms()),
                _ = &mut grace => break,
                c = ctl.recv() => match c {
                    Some(Control::Reload) => {}
                    Some(Control::HandOver(tx)) => {
                        let old = Inheritance {
                            cache: std::mem::replace(&mut self.cache, ScrapeCache::new()),
                            synthetic: std::mem::take(&mut self.synthetic),
                            reported: self.reported,
                        };
                        match tx.send(old) {
                            Ok(()) => return,
                            // The new loop is gone already: the series are ours to end.
                            Err(old) => {
                                self.cache = old.cache;
                                self.synthetic = old.synthetic;
                                break;
                            }
                        }
                    }
                    Some(Control::Stop) | None => break,
                },
            }
        }
        self.mark_all_stale(stale_at.unwrap_or_else(now_ms));
    }

    /// Takes over from the loop a reload stopped: its series, and its report series
    /// if their labels changed (external labels did), so that they go stale.
    fn adopt(&mut self, mut old: Inheritance) {
        old.cache.rebase();
        for enc in &old.synthetic {
            if !self.synthetic.contains(enc) {
                old.cache.add_live(enc);
            }
        }
        self.cache = old.cache;
        self.reported = old.reported;
    }

    /// End of run (the target is gone or the agent stops): stale markers for every
    /// series the last successful scrape sent and, as Prometheus's `reportStale`, for
    /// the report series (`up` and the others) if any scrape wrote them.
    pub fn mark_all_stale(&mut self, ts: i64) {
        let mut body = Vec::new();
        self.cache.fail(ts, &mut body);
        if self.reported {
            for labels in &self.synthetic {
                v1_append::append_series(&mut body, labels, ts, STALE_NAN);
            }
            self.reported = false;
        }
        if body.is_empty() {
            return;
        }
        let Some(body) = compress(&body, &self.target.url) else {
            return;
        };
        if let Err(e) = self.job.sink.push(self.target.hash, body) {
            tracing::error!(target = %self.target.url, error = %e, "could not queue stale markers");
        }
    }

    /// One scrape at `ts` (ms): fetch, process, queue.
    pub async fn scrape_once(&mut self, ts: i64) {
        let started = Instant::now();
        let fetched = self.fetch().await;
        let duration = started.elapsed();
        // Room for this scrape's series as last time, plus stale markers and the
        // synthetic series, so the body is allocated once.
        let mut body = Vec::with_capacity(self.last_len + self.last_len / 8 + 1024);
        let outcome =
            fetched.and_then(|(raw, ct)| self.process(&raw, ct.as_deref(), ts, &mut body));
        let (up, scraped, post, added, metadata, err) = match outcome {
            Ok(p) => {
                self.cache.commit(ts, &mut body);
                (
                    1.0,
                    p.scraped,
                    p.post,
                    self.cache.added(),
                    p.metadata,
                    String::new(),
                )
            }
            Err(e) => {
                // This scrape's series are not sent; the previous scrape's go stale.
                body.clear();
                self.cache.fail(ts, &mut body);
                (0.0, 0, 0, 0, Vec::new(), e.to_string())
            }
        };
        let values = [
            up,
            duration.as_secs_f64(),
            scraped as f64,
            post as f64,
            added as f64,
        ];
        for (labels, v) in self.synthetic.iter().zip(values) {
            v1_append::append_series(&mut body, labels, ts, v);
        }
        self.reported = true;
        for m in &metadata {
            v1_append::append_metadata(&mut body, m);
        }
        self.last_len = body.len();
        if let Some(compressed) = compress(&body, &self.target.url) {
            match self.job.sink.push(self.target.hash, compressed) {
                Ok(()) => self.note_metadata(&metadata),
                Err(e) => {
                    tracing::error!(target = %self.target.url, error = %e, "could not queue scrape results")
                }
            }
        }
        let mut h = self.health.lock().unwrap_or_else(|p| p.into_inner());
        *h = Health {
            health: if up == 1.0 { "up" } else { "down" },
            last_error: err,
            last_scrape_ms: ts,
            last_duration: duration,
            last_samples: post,
        };
    }

    async fn fetch(&self) -> Result<(Vec<u8>, Option<String>), ScrapeError> {
        let sc = &self.job.scrape.config;
        let rb = self
            .job
            .client
            .get(&self.target.url)
            .header(reqwest::header::ACCEPT, SCRAPE_ACCEPT)
            .header(
                reqwest::header::USER_AGENT,
                concat!("orrery-agent/", env!("CARGO_PKG_VERSION")),
            )
            .header(
                "X-Prometheus-Scrape-Timeout-Seconds",
                format!("{}", self.target.timeout.as_secs_f64()),
            )
            .timeout(self.target.timeout);
        // Secret files are read again for every scrape, as Prometheus does.
        let rb = self.job.http.authorize(rb).map_err(ScrapeError::Auth)?;
        let mut resp = rb.send().await.map_err(ScrapeError::Http)?;
        if !resp.status().is_success() {
            return Err(ScrapeError::Status(resp.status()));
        }
        let ct = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let limit = if sc.body_size_limit == 0 {
            u64::MAX
        } else {
            sc.body_size_limit
        };
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(ScrapeError::Http)? {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(ScrapeError::BodySizeLimit(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, ct))
    }

    /// Scans a body and appends each sample to `out` as a remote-write series, through
    /// the cache. The body is refused whole on the first problem; a duplicate after
    /// relabeling is reported only if the rest of the body parses, as a parse error
    /// anywhere takes precedence.
    fn process(
        &mut self,
        body: &[u8],
        ct: Option<&str>,
        ts: i64,
        out: &mut Vec<u8>,
    ) -> Result<Processed, ScrapeError> {
        let sc = &self.job.scrape.config;
        // Limits are checked here, after labeling (see `label`), not by the parser on
        // the labels as scraped.
        let limits = ParseLimits::default();
        let honor_timestamps = sc.honor_timestamps;
        let track_timestamps_staleness = sc.track_timestamps_staleness;
        let sample_limit = sc.sample_limit;
        let max_body = self.max_body;
        let mut scan = Scanner::new(body, format_for_content_type(ct), &limits)?;
        self.cache.begin();
        let (mut scraped, mut post) = (0usize, 0usize);
        let mut duplicate: Option<ScrapeError> = None;
        while let Some(s) = scan.next_sample()? {
            scraped += 1;
            let slot = match self.cache.lookup(s.context, s.series, s.timestamp) {
                Lookup::Series(slot) => slot,
                Lookup::Dropped => continue,
                Lookup::Repeated => return Err(scan.duplicate_error().into()),
                Lookup::Miss => {
                    let scraped_labels = scan.labels()?;
                    let labels =
                        self.label(scraped_labels)
                            .map_err(|source| ScrapeError::LabelLimit {
                                line: scan.line(),
                                source,
                            })?;
                    match self
                        .cache
                        .insert(s.context, s.series, s.timestamp, labels.as_ref())
                    {
                        Some(slot) => slot,
                        None => continue,
                    }
                }
            };
            // As Prometheus: a series exposed with its own timestamp gets no stale
            // marker when it goes (the target decides when its samples are), unless
            // asked; an ignored timestamp (honor_timestamps: false) is no timestamp.
            let track = s.timestamp.is_none() || !honor_timestamps || track_timestamps_staleness;
            if !self.cache.mark(slot, track) {
                duplicate.get_or_insert_with(|| {
                    ScrapeError::DuplicateAfterRelabeling(self.cache.labels(slot).to_string())
                });
                continue;
            }
            post += 1;
            let t = match s.timestamp {
                Some(t) if honor_timestamps => t,
                _ => ts,
            };
            v1_append::append_series(out, self.cache.encoded(slot), t, s.value);
            // One compare per sample; stopping here also bounds the memory a hostile
            // target can make the agent spend on the body.
            if out.len() > max_body {
                return Err(ScrapeError::BodyTooLarge {
                    max: max_body,
                    samples: post,
                });
            }
        }
        let metadata = scan.finish()?;
        // Metadata is written after the series; HELP texts are as long as the target
        // makes them.
        let metadata_len: usize = metadata
            .iter()
            .map(|m| m.metric_family.len() + m.help.len() + m.unit.len() + 32)
            .sum();
        if out.len().saturating_add(metadata_len) > max_body {
            return Err(ScrapeError::BodyTooLarge {
                max: max_body,
                samples: post,
            });
        }
        if let Some(e) = duplicate {
            return Err(e);
        }
        if sample_limit > 0 && post > sample_limit {
            return Err(ScrapeError::SampleLimit {
                samples: post,
                limit: sample_limit,
            });
        }
        let metadata = metadata
            .into_iter()
            .filter(|m| self.sent_metadata.get(&m.metric_family) != Some(m))
            .collect();
        Ok(Processed {
            scraped,
            post,
            metadata,
        })
    }

    /// The final labels of a scraped series, or `None` if metric relabeling drops it;
    /// an error if they break a label limit.
    ///
    /// As in Prometheus, the limits apply to the labels after target labels and metric
    /// relabeling, before the external labels and `cluster` (Prometheus adds those
    /// only when sending), and not to series relabeling drops. The result is cached, so
    /// this runs once per series, not once per sample.
    fn label(&self, scraped: Labels) -> Result<Option<Labels>, LabelLimitError> {
        let sc = &self.job.scrape.config;
        let limited =
            sc.label_limit > 0 || sc.label_name_length_limit > 0 || sc.label_value_length_limit > 0;
        let relabel = !self.job.metric_relabel.is_empty();
        if !relabel && !limited {
            return Ok(Some(self.merge_target_labels(scraped, true)));
        }
        let merged = self.merge_target_labels(scraped, false);
        let labels = if relabel {
            match self.job.metric_relabel.process(&merged) {
                Some(l) => l,
                None => return Ok(None),
            }
        } else {
            merged
        };
        verify_label_limits(&labels, sc)?;
        Ok(Some(self.final_labels(labels, true)))
    }

    /// Attaches target labels to a scraped label set, as Prometheus's `honor_labels`,
    /// in one pass over a vector it owns. With `external`, the external labels and
    /// `cluster` are added here too, so the set is sorted only once (the common case:
    /// nothing between target labels and the final set).
    fn merge_target_labels(&self, scraped: Labels, external: bool) -> Labels {
        let honor = self.job.scrape.config.honor_labels;
        let mut v = scraped.into_vec();
        let n0 = v.len();
        let has = |v: &[orrery_model::Label], name: &str| {
            v[..n0].binary_search_by(|l| l.name.as_str().cmp(name)).ok()
        };
        for l in self.target.labels.iter() {
            match has(&v, &l.name) {
                Some(_) if honor => {}
                Some(i) => {
                    let exported = std::mem::replace(&mut v[i].value, l.value.clone());
                    v.push(orrery_model::Label::new(
                        format!("exported_{}", l.name),
                        exported,
                    ));
                }
                None => v.push(l.clone()),
            }
        }
        if external {
            for (k, val) in &self.job.external {
                if k == "cluster" {
                    continue;
                }
                if !v.iter().any(|l| &l.name == k) {
                    v.push(orrery_model::Label::new(k.clone(), val.clone()));
                }
            }
            if let Some((_, c)) = self.job.external.iter().find(|(k, _)| k == "cluster") {
                match v.iter_mut().find(|l| l.name == "cluster") {
                    Some(l) => l.value.clone_from(c),
                    None => v.push(orrery_model::Label::new("cluster", c.clone())),
                }
            }
        }
        v.sort_by(|a, b| a.name.cmp(&b.name));
        // An exported_ name could collide with a scraped label; keep the first, as a
        // builder would have overwritten deterministically.
        v.dedup_by(|b, a| a.name == b.name);
        v.retain(|l| !l.value.is_empty());
        Labels::from_sorted_unchecked(v)
    }

    /// External labels where missing, then `cluster` (always). Synthetic series also
    /// get the target labels here.
    fn final_labels(&self, l: Labels, has_target: bool) -> Labels {
        let mut b = l.to_builder();
        if !has_target {
            for t in self.target.labels.iter() {
                b.set(t.name.clone(), t.value.clone());
            }
        }
        for (k, v) in &self.job.external {
            if k != "cluster" && b.get(k).is_none() {
                b.set(k.clone(), v.clone());
            }
        }
        if let Some((_, c)) = self.job.external.iter().find(|(k, _)| k == "cluster") {
            b.set("cluster", c.clone());
        }
        b.build()
    }

    /// Lowers the bound on one scrape's remote-write body, so tests need not build
    /// 64 MiB bodies.
    #[cfg(test)]
    pub(super) fn set_max_body(&mut self, n: usize) {
        self.max_body = n;
    }

    /// Series labeled by the last scrape (cache misses), dropped ones included.
    #[cfg(test)]
    pub(super) fn cache_misses(&self) -> usize {
        self.cache.misses()
    }

    /// Marks metadata as sent once the write holding it is queued.
    pub fn note_metadata(&mut self, md: &[MetricMetadata]) {
        for m in md {
            self.sent_metadata
                .insert(m.metric_family.clone(), m.clone());
        }
    }
}

/// Snappy-compresses a body, or logs and gives up if it is beyond what snappy can take
/// (compressing would panic). `process` keeps a scrape's body under [`MAX_BODY`] and
/// stale markers are bounded by an earlier body, so this only guards against a bug.
fn compress(body: &[u8], target: &str) -> Option<Vec<u8>> {
    // Well under snappy's 2^32 - 1 byte input limit.
    const SNAPPY_SAFE: usize = 1 << 31;
    if body.len() > SNAPPY_SAFE {
        tracing::error!(
            target,
            bytes = body.len(),
            "remote-write body too large to compress; dropped"
        );
        return None;
    }
    Some(v1_append::compress_v1(body))
}

/// Prometheus's `verifyLabelLimits`, with its messages (which name the setting),
/// plus the series.
fn verify_label_limits(l: &Labels, sc: &ScrapeConfig) -> Result<(), LabelLimitError> {
    let metric = || short(l.metric_name().unwrap_or("")).to_string();
    if sc.label_limit > 0 && l.len() > sc.label_limit {
        return Err(LabelLimitError::Count {
            metric: metric(),
            labels: l.len(),
            limit: sc.label_limit,
        });
    }
    for lb in l.iter() {
        if sc.label_name_length_limit > 0 && lb.name.len() > sc.label_name_length_limit {
            return Err(LabelLimitError::NameLength {
                metric: metric(),
                name: short(&lb.name).to_string(),
                length: lb.name.len(),
                limit: sc.label_name_length_limit,
            });
        }
        if sc.label_value_length_limit > 0 && lb.value.len() > sc.label_value_length_limit {
            return Err(LabelLimitError::ValueLength {
                metric: metric(),
                name: short(&lb.name).to_string(),
                value: short(&lb.value).to_string(),
                length: lb.value.len(),
                limit: sc.label_value_length_limit,
            });
        }
    }
    Ok(())
}

/// At most 50 bytes of `s` (on a char boundary), as Prometheus's `%.50s`, so that a
/// hostile label cannot make the error message huge.
fn short(s: &str) -> &str {
    let mut end = s.len().min(50);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

struct Processed {
    /// Samples in the body.
    scraped: usize,
    /// Samples sent, after metric relabeling.
    post: usize,
    /// Metadata not sent before.
    metadata: Vec<MetricMetadata>,
}
