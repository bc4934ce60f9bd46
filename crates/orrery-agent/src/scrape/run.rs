//! One target's scrape loop: fetch, parse, label, relabel, detect staleness, add the
//! synthetic series, and hand the result to the sink (the durable queue).
//!
//! Labeling follows Prometheus: target labels are attached to every sample (with
//! `honor_labels: false`, clashing scraped labels are kept as `exported_<name>`),
//! then `metric_relabel_configs` run, then external labels fill in what is missing and
//! `cluster` is set last, so nothing can override it. A series seen in the previous
//! scrape but not in this one gets a stale marker; a failed scrape or a removed target
//! marks every previous series stale.

use super::target::Target;
use crate::config::ScrapeConfig;
use orrery_model::{
    Labels, MetricMetadata, Relabeler, Sample, TimeSeries, WriteRequest, STALE_NAN,
};
use orrery_wire::exposition::{
    format_for_content_type, parse_exposition, ParseLimits, SCRAPE_ACCEPT,
};
use rustc_hash::FxHashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where scrape results go: the agent's delivery in production, a recorder in tests.
pub trait Sink: Send + Sync {
    /// Stores a write durably; `key` keeps one target's writes in order.
    fn push(&self, key: u64, req: &WriteRequest) -> Result<(), String>;
}

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

/// Everything a loop needs that is shared by the job's targets.
pub struct JobContext {
    /// The job's settings.
    pub sc: ScrapeConfig,
    /// HTTP client (TLS, redirects, compression).
    pub client: reqwest::Client,
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
    /// Series of the last successful scrape (for staleness and `scrape_series_added`).
    prev: FxHashMap<Labels, ()>,
    /// Metadata already sent, by family.
    sent_metadata: FxHashMap<String, MetricMetadata>,
    /// Shared with the targets API.
    pub health: Arc<Mutex<Health>>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl ScrapeLoop {
    /// A loop for a target.
    pub fn new(job: Arc<JobContext>, target: Target) -> Self {
        ScrapeLoop {
            job,
            target,
            prev: FxHashMap::default(),
            sent_metadata: FxHashMap::default(),
            health: Arc::new(Mutex::new(Health {
                health: "unknown",
                ..Default::default()
            })),
        }
    }

    /// Runs until `stop` fires, then marks the target's series stale.
    pub async fn run(mut self, mut stop: tokio::sync::watch::Receiver<bool>) {
        // Spread targets over the interval, deterministically per target.
        let iv = self.target.interval;
        let offset = Duration::from_millis(self.target.hash % (iv.as_millis().max(1) as u64));
        let phase = now_ms().rem_euclid(iv.as_millis().max(1) as i64) as u64;
        let wait = (offset.as_millis() as u64 + iv.as_millis() as u64 - phase)
            % (iv.as_millis().max(1) as u64);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
            _ = stop.changed() => { return; }
        }
        let mut tick = tokio::time::interval(iv);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => break,
            }
            self.scrape_once(now_ms()).await;
        }
        self.mark_all_stale(now_ms());
    }

    /// Emits stale markers for every series of the last successful scrape.
    pub fn mark_all_stale(&mut self, ts: i64) {
        if self.prev.is_empty() {
            return;
        }
        let series: Vec<TimeSeries> = self
            .prev
            .drain()
            .map(|(labels, _)| TimeSeries {
                labels,
                samples: vec![Sample::new(ts, STALE_NAN)],
            })
            .collect();
        let req = WriteRequest {
            timeseries: series,
            metadata: vec![],
        };
        if let Err(e) = self.job.sink.push(self.target.hash, &req) {
            tracing::error!(target = %self.target.url, error = %e, "could not queue stale markers");
        }
    }

    /// One scrape at `ts` (ms): fetch, process, queue.
    pub async fn scrape_once(&mut self, ts: i64) {
        let started = Instant::now();
        let fetched = self.fetch().await;
        let duration = started.elapsed();
        let outcome = fetched.and_then(|(body, ct)| self.process(&body, ct.as_deref(), ts));
        let mut req = WriteRequest::default();
        // Series before this index are stale markers; after it, this scrape's series
        // (then the synthetic ones, which `prev` does not track).
        let mut stale_count = 0usize;
        let (up, scraped, post, added, err) = match outcome {
            Ok(p) => {
                let added = p
                    .series
                    .iter()
                    .filter(|s| !self.prev.contains_key(&s.labels))
                    .count();
                {
                    // Borrow, do not clone: the current label sets are only looked up.
                    let current: rustc_hash::FxHashSet<&Labels> =
                        p.series.iter().map(|s| &s.labels).collect();
                    for (labels, _) in self.prev.drain() {
                        if !current.contains(&labels) {
                            req.timeseries.push(TimeSeries {
                                labels,
                                samples: vec![Sample::new(ts, STALE_NAN)],
                            });
                        }
                    }
                }
                let post = p.series.len();
                stale_count = req.timeseries.len();
                req.timeseries.extend(p.series);
                req.metadata = p.metadata;
                (1.0, p.scraped, post, added, String::new())
            }
            Err(e) => {
                for (labels, _) in self.prev.drain() {
                    req.timeseries.push(TimeSeries {
                        labels,
                        samples: vec![Sample::new(ts, STALE_NAN)],
                    });
                }
                (0.0, 0, 0, 0, e)
            }
        };
        for (name, v) in [
            ("up", up),
            ("scrape_duration_seconds", duration.as_secs_f64()),
            ("scrape_samples_scraped", scraped as f64),
            ("scrape_samples_post_metric_relabeling", post as f64),
            ("scrape_series_added", added as f64),
        ] {
            let labels = self.final_labels(Labels::from_pairs([("__name__", name)]), false);
            req.timeseries.push(TimeSeries {
                labels,
                samples: vec![Sample::new(ts, v)],
            });
        }
        match self.job.sink.push(self.target.hash, &req) {
            Ok(()) => self.note_metadata(&req.metadata),
            Err(e) => {
                tracing::error!(target = %self.target.url, error = %e, "could not queue scrape results")
            }
        }
        if up == 1.0 {
            // The request is queued: move this scrape's label sets into `prev`
            // instead of having cloned them.
            let n = req.timeseries.len() - 5;
            self.prev = req
                .timeseries
                .drain(stale_count..n)
                .map(|t| (t.labels, ()))
                .collect();
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

    async fn fetch(&self) -> Result<(Vec<u8>, Option<String>), String> {
        let sc = &self.job.sc;
        let mut rb = self
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
        if let Some(b) = &sc.basic_auth {
            let pw = match (&b.password, &b.password_file) {
                (Some(p), _) => Some(p.clone()),
                (None, Some(f)) => Some(read_secret(f)?),
                _ => None,
            };
            rb = rb.basic_auth(&b.username, pw);
        }
        let bearer = match (&sc.bearer_token, &sc.bearer_token_file, &sc.authorization) {
            (Some(t), _, _) => Some(format!("Bearer {t}")),
            (None, Some(f), _) => Some(format!("Bearer {}", read_secret(f)?)),
            (_, _, Some(a)) => match (&a.credentials, &a.credentials_file) {
                (Some(c), _) => Some(format!("{} {c}", a.kind)),
                (None, Some(f)) => Some(format!("{} {}", a.kind, read_secret(f)?)),
                _ => None,
            },
            _ => None,
        };
        if let Some(v) = bearer {
            rb = rb.header(reqwest::header::AUTHORIZATION, v);
        }
        let mut resp = rb.send().await.map_err(|e| describe(&e))?;
        if !resp.status().is_success() {
            return Err(format!("server returned HTTP status {}", resp.status()));
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
        while let Some(chunk) = resp.chunk().await.map_err(|e| describe(&e))? {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(format!(
                    "body size limit exceeded (limit body_size_limit = {limit} bytes)"
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, ct))
    }

    fn process(&self, body: &[u8], ct: Option<&str>, ts: i64) -> Result<Processed, String> {
        let sc = &self.job.sc;
        let limits = ParseLimits {
            sample_limit: 0,
            label_limit: sc.label_limit,
            label_name_length_limit: sc.label_name_length_limit,
            label_value_length_limit: sc.label_value_length_limit,
        };
        let parsed = parse_exposition(body, format_for_content_type(ct), &limits)
            .map_err(|e| e.to_string())?;
        let scraped = parsed.samples.len();
        let mut series: Vec<TimeSeries> = Vec::with_capacity(scraped);
        let relabel = !self.job.metric_relabel.is_empty();
        for s in parsed.samples {
            let merged = self.merge_target_labels(s.labels);
            let labels = if relabel {
                let Some(relabeled) = self.job.metric_relabel.process(&merged) else {
                    continue;
                };
                self.final_labels(relabeled, true)
            } else {
                merged
            };
            let t = if sc.honor_timestamps {
                s.timestamp.unwrap_or(ts)
            } else {
                ts
            };
            series.push(TimeSeries {
                labels,
                samples: vec![Sample::new(t, s.value)],
            });
        }
        // Duplicates after labeling (e.g. relabeling merged two series) fail the scrape.
        {
            let mut seen: rustc_hash::FxHashSet<&Labels> = rustc_hash::FxHashSet::default();
            if let Some(dup) = series.iter().find(|t| !seen.insert(&t.labels)) {
                return Err(format!(
                    "duplicate sample for series {} after relabeling",
                    dup.labels
                ));
            }
        }
        if sc.sample_limit > 0 && series.len() > sc.sample_limit {
            return Err(format!(
                "sample limit exceeded ({} > {}; limit sample_limit)",
                series.len(),
                sc.sample_limit
            ));
        }
        let metadata = parsed
            .metadata
            .into_iter()
            .filter(|m| self.sent_metadata.get(&m.metric_family) != Some(m))
            .collect();
        Ok(Processed {
            series,
            scraped,
            metadata,
        })
    }

    /// Attaches target labels to a scraped label set, as Prometheus's `honor_labels`,
    /// in one pass over a vector it owns. Without metric relabeling the external labels
    /// and `cluster` are added here too, so the set is sorted only once.
    fn merge_target_labels(&self, scraped: Labels) -> Labels {
        let honor = self.job.sc.honor_labels;
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
        if self.job.metric_relabel.is_empty() {
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

    /// Marks metadata as sent once the write holding it is queued.
    pub fn note_metadata(&mut self, md: &[MetricMetadata]) {
        for m in md {
            self.sent_metadata
                .insert(m.metric_family.clone(), m.clone());
        }
    }
}

struct Processed {
    series: Vec<TimeSeries>,
    scraped: usize,
    metadata: Vec<MetricMetadata>,
}

fn read_secret(path: &std::path::Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("reading {}: {e}", path.display()))
}

fn describe(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    if e.is_timeout() {
        msg = format!("context deadline exceeded (scrape timeout): {msg}");
    }
    msg
}
