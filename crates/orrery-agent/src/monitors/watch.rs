//! The watcher: lists and watches both monitor kinds through kube-runtime (as
//! `DynamicObject`s, so no CRD types are compiled in), keeps each monitor's generated
//! jobs in a store, and sends the full set on every change; [`MonitorsTask`] is the
//! agent's handle that (re)starts it when the `monitors:` section changes.
//!
//! Concurrency: [`run`] is one task that owns its store; the agent reads only the
//! snapshots it sends.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::stream::{self, BoxStream, StreamExt};
use kube::api::DynamicObject;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Api;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::generate::{scrape_configs, sd_base};
use super::MonitorKind;
use crate::config::{MonitorsConfig, ScrapeConfig};
use crate::discovery::kubernetes::{DiscoveryError, Role};

/// `(kind, namespace, name)` of one monitor.
pub(super) type Key = (MonitorKind, String, String);

/// One watch stream's scope.
pub(super) struct StreamInfo {
    kind: MonitorKind,
    namespace: Option<String>,
    synced: bool,
}

/// What stream `stream` yields: a watch event, or `None` when its resource does not
/// exist (the CRD is not installed).
pub(super) struct Msg {
    stream: usize,
    event: Option<Event<DynamicObject>>,
}

/// The generated jobs per monitor, and the streams' re-list buffers.
#[derive(Default)]
pub(super) struct Store {
    jobs: BTreeMap<Key, Vec<ScrapeConfig>>,
    relisting: HashMap<usize, BTreeMap<Key, Vec<ScrapeConfig>>>,
}

/// Watches ServiceMonitors and PodMonitors and sends the generated jobs (all of them)
/// after the first list of both kinds and after every change to the set, until `tx`'s
/// receiver is dropped. A kind whose CRD is not installed counts as empty (and is
/// retried with backoff).
pub async fn run(
    cfg: MonitorsConfig,
    tx: mpsc::Sender<Vec<ScrapeConfig>>,
) -> Result<(), DiscoveryError> {
    let client = sd_base(&cfg, Role::Pod).build().await?.client();
    let namespaces: Vec<Option<String>> = if cfg.namespaces.is_empty() {
        vec![None]
    } else {
        let set: BTreeSet<&String> = cfg.namespaces.iter().collect();
        set.into_iter().cloned().map(Some).collect()
    };
    let mut infos = Vec::new();
    let mut streams: Vec<BoxStream<'static, Msg>> = Vec::new();
    for kind in [MonitorKind::ServiceMonitor, MonitorKind::PodMonitor] {
        let ar = kind.api_resource();
        for ns in &namespaces {
            let api: Api<DynamicObject> = match ns {
                Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
                None => Api::all_with(client.clone(), &ar),
            };
            let stream = infos.len();
            infos.push(StreamInfo {
                kind,
                namespace: ns.clone(),
                synced: false,
            });
            let scope = ns.clone().unwrap_or_else(|| "*".to_owned());
            let events = watcher::watcher(api, watcher::Config::default())
                .default_backoff()
                .filter_map(move |r| {
                    let msg = match r {
                        Ok(event) => Some(Msg {
                            stream,
                            event: Some(event),
                        }),
                        Err(error) if is_not_found(&error) => {
                            tracing::warn!(kind = kind.kind(), namespace = %scope,
                                "monitoring.coreos.com/v1 resource not found (CRD not installed?); retrying with backoff");
                            Some(Msg {
                                stream,
                                event: None,
                            })
                        }
                        Err(error) => {
                            tracing::warn!(kind = kind.kind(), namespace = %scope, error = %error,
                                "monitor list/watch failed; retrying with backoff");
                            None
                        }
                    };
                    futures::future::ready(msg)
                });
            streams.push(events.boxed());
        }
    }
    let mut events = stream::select_all(streams);
    let mut store = Store::default();
    let mut last_sent: Option<String> = None;
    loop {
        let msg = tokio::select! {
            () = tx.closed() => return Ok(()),
            msg = events.next() => msg,
        };
        let Some(msg) = msg else {
            return Ok(());
        };
        store.handle(&mut infos, msg, &cfg);
        if !infos.iter().all(|s| s.synced) {
            continue;
        }
        let snapshot: Vec<ScrapeConfig> = store.jobs.values().flatten().cloned().collect();
        let signature = format!("{snapshot:?}");
        if last_sent.as_ref() == Some(&signature) {
            continue;
        }
        last_sent = Some(signature);
        if tx.send(snapshot).await.is_err() {
            return Ok(());
        }
    }
}

pub(super) fn is_not_found(e: &watcher::Error) -> bool {
    match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => s.code == 404,
        watcher::Error::WatchError(s) => s.code == 404,
        _ => false,
    }
}

impl Store {
    fn handle(&mut self, infos: &mut [StreamInfo], msg: Msg, cfg: &MonitorsConfig) {
        let stream = msg.stream;
        let Some(event) = msg.event else {
            if let Some(info) = infos.get_mut(stream) {
                info.synced = true;
            }
            return;
        };
        let Some(info) = infos.get_mut(stream) else {
            return;
        };
        let kind = info.kind;
        match event {
            Event::Apply(obj) => {
                let (key, jobs) = monitor_jobs(kind, &obj, cfg);
                self.jobs.insert(key, jobs);
            }
            Event::Delete(obj) => {
                self.jobs.remove(&key_of(kind, &obj));
            }
            Event::Init => {
                self.relisting.insert(stream, BTreeMap::new());
            }
            Event::InitApply(obj) => {
                let (key, jobs) = monitor_jobs(kind, &obj, cfg);
                self.relisting.entry(stream).or_default().insert(key, jobs);
            }
            Event::InitDone => {
                let listed = self.relisting.remove(&stream).unwrap_or_default();
                let ns = info.namespace.as_deref();
                // A re-list replaces this stream's scope: monitors deleted meanwhile go.
                self.jobs
                    .retain(|k, _| k.0 != kind || ns.is_some_and(|ns| k.1 != ns));
                self.jobs.extend(listed);
                info.synced = true;
            }
        }
    }
}

pub(super) fn key_of(kind: MonitorKind, obj: &DynamicObject) -> Key {
    (
        kind,
        obj.metadata.namespace.clone().unwrap_or_default(),
        obj.metadata.name.clone().unwrap_or_default(),
    )
}

/// One object's jobs; a monitor that cannot be translated has none (and is logged).
pub(super) fn monitor_jobs(
    kind: MonitorKind,
    obj: &DynamicObject,
    cfg: &MonitorsConfig,
) -> (Key, Vec<ScrapeConfig>) {
    let key = key_of(kind, obj);
    let spec = obj.data.get("spec").cloned().unwrap_or(Value::Null);
    let jobs = match scrape_configs(kind, &key.1, &key.2, &spec, cfg) {
        Ok((jobs, notes)) => {
            if !notes.is_empty() {
                tracing::warn!(kind = kind.kind(), namespace = %key.1, name = %key.2,
                    ignored = %notes.join(", "),
                    "monitor uses settings orrery does not support; they are ignored");
            }
            jobs
        }
        Err(error) => {
            tracing::warn!(kind = kind.kind(), namespace = %key.1, name = %key.2, %error,
                "monitor ignored: it cannot be turned into scrape jobs");
            Vec::new()
        }
    };
    (key, jobs)
}

/// The agent's handle on the monitors watcher: (re)starts it when the `monitors:`
/// section changes, stops it when it is disabled or the handle is dropped.
#[derive(Default)]
pub(crate) struct MonitorsTask {
    /// The running watcher and the configuration it was started with.
    running: Option<(String, JoinHandle<()>)>,
    rx: Option<mpsc::Receiver<Vec<ScrapeConfig>>>,
}

impl MonitorsTask {
    /// Makes the watcher match `cfg`; when it is disabled, `generated` is cleared.
    /// Jobs generated before a restart stay until the new watcher's first snapshot.
    pub(crate) fn ensure(&mut self, cfg: &MonitorsConfig, generated: &mut Vec<ScrapeConfig>) {
        let wanted = cfg.enabled.then(|| format!("{cfg:?}"));
        if wanted.as_ref() == self.running.as_ref().map(|(s, _)| s) {
            return;
        }
        self.stop();
        let Some(signature) = wanted else {
            generated.clear();
            return;
        };
        let (tx, rx) = mpsc::channel(4);
        let cfg = cfg.clone();
        let task = tokio::spawn(async move {
            if let Err(e) = run(cfg, tx).await {
                tracing::error!(error = %e, "monitors discovery stopped");
            }
        });
        self.running = Some((signature, task));
        self.rx = Some(rx);
    }

    /// The next set of generated jobs; never ready while no watcher runs.
    pub(crate) async fn next(&mut self) -> Vec<ScrapeConfig> {
        if let Some(rx) = &mut self.rx {
            if let Some(jobs) = rx.recv().await {
                return jobs;
            }
            // The watcher ended (its error is logged); wait for the next reload.
            self.rx = None;
        }
        std::future::pending().await
    }

    fn stop(&mut self) {
        if let Some((_, task)) = self.running.take() {
            task.abort();
        }
        self.rx = None;
    }
}

impl Drop for MonitorsTask {
    fn drop(&mut self) {
        self.stop();
    }
}
