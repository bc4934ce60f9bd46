//! Assembly: delivery, discovery tasks per job, the scrape manager, and reload.
//!
//! Concurrency contract: one update task owns the [`ScrapeManager`]; discovery tasks
//! send `(job, update)` to it; the API reads target snapshots through it. When
//! `monitors:` is enabled, the monitors watcher sends the full set of jobs generated from
//! ServiceMonitors and PodMonitors; the task merges them with the file's jobs and
//! re-applies (unchanged jobs keep their loops).

use crate::config::{AgentConfig, ConfigError, InvalidConfig, ScrapeConfig, ScrapeJob};
use crate::discovery::{file_sd, kubernetes, static_sd, Update};
use crate::monitors::{self, MonitorsTask};
use crate::scrape::{JobContext, ScrapeManager, Sink, SinkError, TargetsSnapshot};
use crate::send::{Delivery, DeliveryStats, SendError, SenderConfig};
use orrery_httpclient::HttpClientError;
use orrery_model::yaml::YamlFileError;
use orrery_model::{RelabelError, Relabeler};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Why the agent could not start or reload.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The configuration is unusable.
    #[error("{0}")]
    Config(InvalidConfig),
    /// `server.token_file` could not be read.
    #[error("server.token_file {}: {source}", .path.display())]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A job's HTTP client could not be made (a certificate file, the proxy URL).
    #[error("job {job:?}: {source}")]
    Client {
        /// The job's name.
        job: String,
        /// Why.
        #[source]
        source: HttpClientError,
    },
    /// A job's relabel rules were refused (the configuration check lets none through).
    #[error("job {job:?}: {field}: {source}")]
    Relabel {
        /// The job's name.
        job: String,
        /// `relabel_configs` or `metric_relabel_configs`.
        field: &'static str,
        /// The rule's problem.
        #[source]
        source: RelabelError,
    },
    /// The agent is shutting down and takes no more commands.
    #[error("agent is stopping")]
    Stopping,
    /// The queue or sender could not start.
    #[error("delivery: {0}")]
    Delivery(#[source] SendError),
}

impl AgentConfig {
    /// Reads and checks a file (see [`AgentConfig::parse`]).
    pub fn load(path: &Path) -> Result<AgentConfig, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| YamlFileError::read(path, source))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and checks text; `name` is used in messages. Three steps: the shape
    /// ([`AgentConfig::from_yaml`]), the file's own settings ([`AgentConfig::validate`]),
    /// and, when enabled, the `monitors:` section
    /// ([`MonitorsConfig::validate`](crate::config::MonitorsConfig::validate)). This is
    /// assembly, so it lives here, above both `config` and `monitors`.
    pub fn parse(text: &str, name: &str) -> Result<AgentConfig, ConfigError> {
        let cfg = AgentConfig::from_yaml(text, name)?;
        check(&cfg).map_err(|problem| ConfigError::Invalid {
            path: name.to_string(),
            problem: Box::new(problem),
        })?;
        Ok(cfg)
    }
}

/// Every check of a parsed configuration: its own settings, then its monitors section.
fn check(cfg: &AgentConfig) -> Result<(), InvalidConfig> {
    cfg.validate()?;
    if cfg.monitors.enabled {
        cfg.monitors.validate().map_err(InvalidConfig::Monitors)?;
    }
    Ok(())
}

/// Pushes scrape results into the durable queue as remote-write bodies.
struct DeliverySink(Arc<Delivery>);

impl Sink for DeliverySink {
    fn push(&self, key: u64, body: Vec<u8>) -> Result<(), SinkError> {
        Ok(self.0.push(key, body)?)
    }
}

enum Command {
    Snapshot(oneshot::Sender<TargetsSnapshot>),
    Reload(Box<AgentConfig>, oneshot::Sender<Result<(), AgentError>>),
    Stop(oneshot::Sender<()>),
}

/// A running agent.
pub struct Agent {
    commands: mpsc::Sender<Command>,
    delivery: Arc<Delivery>,
    task: JoinHandle<()>,
}

impl Agent {
    /// Starts delivery (resuming any queued data in `data_dir`), discovery and scraping.
    pub async fn start(cfg: AgentConfig, data_dir: &Path) -> Result<Agent, AgentError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let token = match (&cfg.server.token, &cfg.server.token_file) {
            (Some(t), _) => Some(t.clone()),
            (None, Some(f)) => Some(
                std::fs::read_to_string(f)
                    .map_err(|source| AgentError::TokenFile {
                        path: f.clone(),
                        source,
                    })?
                    .trim()
                    .to_string(),
            ),
            _ => None,
        };
        let mut sender = SenderConfig::new(
            format!("{}/api/v1/write", cfg.server.url.trim_end_matches('/')),
            data_dir.join("queue"),
        );
        sender.token = token;
        sender.min_shards = cfg.queue.min_shards;
        sender.max_shards = cfg.queue.max_shards;
        sender.timeout = cfg.queue.remote_timeout;
        sender.queue_max_bytes = cfg.queue.max_size;
        let delivery = Arc::new(
            Delivery::start(sender)
                .await
                .map_err(AgentError::Delivery)?,
        );
        let (ctx, crx) = mpsc::channel(16);
        let task = tokio::spawn(update_loop(cfg, delivery.clone(), crx));
        Ok(Agent {
            commands: ctx,
            delivery,
            task,
        })
    }

    /// The current targets.
    pub async fn targets(&self) -> TargetsSnapshot {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Snapshot(tx)).await.is_err() {
            return TargetsSnapshot::default();
        }
        rx.await.unwrap_or_default()
    }

    /// Applies a new configuration; unchanged jobs keep their loops.
    pub async fn reload(&self, cfg: AgentConfig) -> Result<(), AgentError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Reload(Box::new(cfg), tx))
            .await
            .map_err(|_| AgentError::Stopping)?;
        rx.await.unwrap_or(Err(AgentError::Stopping))
    }

    /// Delivery statistics.
    pub fn delivery_stats(&self) -> DeliveryStats {
        self.delivery.stats()
    }

    /// Stops scraping (queuing stale markers), then delivery.
    pub async fn shutdown(self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Stop(tx)).await.is_ok() {
            let _ = rx.await;
        }
        let _ = self.task.await;
        match Arc::try_unwrap(self.delivery) {
            Ok(d) => d.shutdown().await,
            Err(_) => tracing::warn!("delivery still referenced at shutdown; queue stays on disk"),
        }
    }
}

struct Jobs {
    manager: ScrapeManager,
    discovery: Vec<JoinHandle<()>>,
    /// Each job's configuration as last applied, to keep unchanged jobs' loops.
    signature: std::collections::BTreeMap<String, String>,
    /// The monitors watcher, and the jobs it generated last.
    monitors: MonitorsTask,
    monitor_jobs: Vec<ScrapeConfig>,
}

async fn update_loop(
    cfg: AgentConfig,
    delivery: Arc<Delivery>,
    mut commands: mpsc::Receiver<Command>,
) {
    let (utx, mut urx) = mpsc::channel::<(String, Update)>(64);
    let mut jobs = Jobs {
        manager: ScrapeManager::new(),
        discovery: Vec::new(),
        signature: Default::default(),
        monitors: MonitorsTask::default(),
        monitor_jobs: Vec::new(),
    };
    if let Err(e) = apply_config(&mut jobs, &cfg, &delivery, &utx) {
        tracing::error!(error = %e, "initial configuration failed");
    }
    // The configuration in force, re-applied when the monitors' jobs change.
    let mut current = cfg;
    loop {
        tokio::select! {
            Some((job, update)) = urx.recv() => jobs.manager.update(&job, update),
            generated = jobs.monitors.next() => {
                jobs.monitor_jobs = generated;
                if let Err(e) = apply_config(&mut jobs, &current, &delivery, &utx) {
                    tracing::error!(error = %e, "applying the monitors' jobs failed");
                }
            }
            cmd = commands.recv() => match cmd {
                Some(Command::Snapshot(tx)) => {
                    let _ = tx.send(jobs.manager.snapshot());
                }
                Some(Command::Reload(cfg, tx)) => {
                    let res = apply_config(&mut jobs, &cfg, &delivery, &utx);
                    if res.is_ok() {
                        current = *cfg;
                    }
                    let _ = tx.send(res);
                }
                Some(Command::Stop(tx)) => {
                    stop(&mut jobs).await;
                    let _ = tx.send(());
                    break;
                }
                None => {
                    stop(&mut jobs).await;
                    break;
                }
            },
        }
    }
}

async fn stop(jobs: &mut Jobs) {
    for d in jobs.discovery.drain(..) {
        d.abort();
    }
    jobs.manager.stop_all().await;
}

fn apply_config(
    jobs: &mut Jobs,
    cfg: &AgentConfig,
    delivery: &Arc<Delivery>,
    utx: &mpsc::Sender<(String, Update)>,
) -> Result<(), AgentError> {
    check(cfg).map_err(AgentError::Config)?;
    jobs.monitors.ensure(&cfg.monitors, &mut jobs.monitor_jobs);
    let scrape_configs = monitors::merge_jobs(&cfg.scrape_configs, &jobs.monitor_jobs, &cfg.global);
    let external: Vec<(String, String)> = cfg.all_external_labels().into_iter().collect();
    // Build every job first so a bad reload changes nothing.
    let mut contexts = Vec::new();
    for (i, sc) in scrape_configs.into_iter().enumerate() {
        let client = match build_client(&sc) {
            Ok(client) => client,
            // A monitor's job (after the file's) that cannot start is skipped, not fatal.
            Err(error) if i >= cfg.scrape_configs.len() => {
                tracing::warn!(job = %sc.job_name, %error, "monitor job skipped");
                continue;
            }
            Err(source) => {
                return Err(AgentError::Client {
                    job: sc.job_name,
                    source,
                })
            }
        };
        let metric_relabel =
            Relabeler::new(&sc.metric_relabel_configs).map_err(|source| AgentError::Relabel {
                job: sc.job_name.clone(),
                field: "metric_relabel_configs",
                source,
            })?;
        let http = sc.http_client_config();
        // Later stages need only the job: its intervals are resolved once, here.
        let scrape = ScrapeJob::new(sc, &cfg.global);
        let signature = format!("{scrape:?}{external:?}");
        contexts.push((
            signature,
            Arc::new(JobContext {
                scrape,
                client,
                http,
                metric_relabel,
                external: external.clone(),
                sink: Arc::new(DeliverySink(delivery.clone())),
            }),
        ));
    }
    for d in jobs.discovery.drain(..) {
        d.abort();
    }
    let wanted: Vec<String> = contexts
        .iter()
        .map(|(_, c)| c.scrape.config.job_name.clone())
        .collect();
    for name in jobs.manager.job_names() {
        if !wanted.contains(&name) {
            jobs.manager.remove_job(&name);
            jobs.signature.remove(&name);
        }
    }
    for (signature, ctx) in contexts {
        let name = ctx.scrape.config.job_name.clone();
        if jobs.signature.get(&name) != Some(&signature) {
            jobs.manager
                .set_job(ctx.clone())
                .map_err(|source| AgentError::Relabel {
                    job: name.clone(),
                    field: "relabel_configs",
                    source,
                })?;
            jobs.signature.insert(name.clone(), signature);
        }
        spawn_discovery(&mut jobs.discovery, &ctx, utx);
    }
    Ok(())
}

/// Starts a job's discoverers; every update is tagged with the job and its sources are
/// prefixed with the discoverer's index so two mechanisms never share a source.
fn spawn_discovery(
    tasks: &mut Vec<JoinHandle<()>>,
    ctx: &JobContext,
    utx: &mpsc::Sender<(String, Update)>,
) {
    let job = ctx.scrape.config.job_name.clone();
    let mut idx = 0usize;
    let mut forward = |tasks: &mut Vec<JoinHandle<()>>| {
        let (tx, mut rx) = mpsc::channel::<Update>(16);
        let utx = utx.clone();
        let job = job.clone();
        let prefix = idx;
        idx += 1;
        tasks.push(tokio::spawn(async move {
            while let Some(mut u) = rx.recv().await {
                for g in &mut u {
                    g.source = format!("{prefix}/{}", g.source);
                }
                if utx.send((job.clone(), u)).await.is_err() {
                    return;
                }
            }
        }));
        tx
    };
    let tx = forward(tasks);
    let groups = static_sd::groups(&ctx.scrape.config.static_configs);
    tasks.push(tokio::spawn(async move {
        let _ = tx.send(groups).await;
    }));
    for f in &ctx.scrape.config.file_sd_configs {
        let tx = forward(tasks);
        tasks.push(tokio::spawn(file_sd::run(f.clone(), tx)));
    }
    for k in &ctx.scrape.config.kubernetes_sd_configs {
        let tx = forward(tasks);
        let k = k.clone();
        let job = job.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = kubernetes::run(k, tx).await {
                tracing::error!(job, error = %e, "kubernetes discovery stopped");
            }
        }));
    }
}

fn build_client(sc: &ScrapeConfig) -> Result<reqwest::Client, orrery_httpclient::HttpClientError> {
    sc.http_client_config()
        .client_builder()?
        .gzip(sc.enable_compression)
        .build()
        .map_err(orrery_httpclient::HttpClientError::Build)
}
