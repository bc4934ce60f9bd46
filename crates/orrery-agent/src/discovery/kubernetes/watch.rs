//! The event loop: one kube-runtime watcher per (resource, namespace), all polled from
//! one task, feeding per-kind object stores; each change is turned into the groups it
//! affects and sent.
//!
//! Design constraints:
//! 1. The stores have one writer, the loop; label production only reads them.
//! 2. Nothing is sent before every stream has finished its first list, so `endpoints`
//!    groups are never sent without the services and pods that enrich them.
//! 3. A re-list (`Init` … `InitDone`, after `410 Gone` or a failed resume) buffers the
//!    listed objects and then replaces the store's contents *within that stream's
//!    namespace*, so objects deleted while the watch was down get empty groups.
//! 4. Watch errors are logged and retried by the watcher's backoff; they never end the
//!    loop. The loop ends when the receiver of the updates is dropped.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Debug;

use futures::stream::{self, BoxStream, StreamExt};
use k8s_openapi::api::core::v1::{Endpoints, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use super::endpoints::{endpoints_source, endpoints_targets};
use super::endpointslice::{endpointslice_source, endpointslice_targets, SERVICE_NAME_LABEL};
use super::ingress::{ingress_source, ingress_targets};
use super::node::{node_source, node_targets};
use super::pod::{pod_source, pod_targets};
use super::service::{service_source, service_targets};
use super::{KubernetesDiscovery, Related, Role};
use crate::discovery::{TargetGroup, Update};

/// `(namespace, name)`; the namespace is empty for cluster-scoped objects (nodes).
pub(crate) type ObjKey = (String, String);

/// The current objects of one kind, plus the buffers of streams that are re-listing.
pub(crate) struct Store<K> {
    objects: BTreeMap<ObjKey, K>,
    relisting: HashMap<usize, BTreeMap<ObjKey, K>>,
}

impl<K> Default for Store<K> {
    fn default() -> Self {
        Store {
            objects: BTreeMap::new(),
            relisting: HashMap::new(),
        }
    }
}

impl<K: Resource> FromIterator<K> for Store<K> {
    fn from_iter<I: IntoIterator<Item = K>>(iter: I) -> Self {
        let objects = iter.into_iter().map(|o| (key_of(&o), o)).collect();
        Store {
            objects,
            relisting: HashMap::new(),
        }
    }
}

fn key_of<K: Resource>(obj: &K) -> ObjKey {
    (
        obj.meta().namespace.clone().unwrap_or_default(),
        obj.meta().name.clone().unwrap_or_default(),
    )
}

impl<K: Resource> Store<K> {
    /// The object `namespace/name`, if present.
    pub(crate) fn get(&self, namespace: &str, name: &str) -> Option<&K> {
        self.objects.get(&(namespace.to_owned(), name.to_owned()))
    }

    /// Applies one watch event from stream `stream` (scoped to `namespace`, `None` for all)
    /// and returns the keys whose object changed or vanished.
    fn handle(&mut self, stream: usize, namespace: Option<&str>, event: Event<K>) -> Vec<ObjKey> {
        match event {
            Event::Apply(obj) => {
                let key = key_of(&obj);
                self.objects.insert(key.clone(), obj);
                vec![key]
            }
            Event::Delete(obj) => {
                let key = key_of(&obj);
                self.objects.remove(&key);
                vec![key]
            }
            Event::Init => {
                self.relisting.insert(stream, BTreeMap::new());
                Vec::new()
            }
            Event::InitApply(obj) => {
                self.relisting
                    .entry(stream)
                    .or_default()
                    .insert(key_of(&obj), obj);
                Vec::new()
            }
            Event::InitDone => {
                let listed = self.relisting.remove(&stream).unwrap_or_default();
                let in_scope = |k: &ObjKey| namespace.is_none_or(|ns| k.0 == ns);
                let gone: Vec<ObjKey> = self
                    .objects
                    .keys()
                    .filter(|k| in_scope(k) && !listed.contains_key(*k))
                    .cloned()
                    .collect();
                for k in &gone {
                    self.objects.remove(k);
                }
                let mut touched = gone;
                touched.extend(listed.keys().cloned());
                self.objects.extend(listed);
                touched
            }
        }
    }
}

/// One watch event, tagged with its kind.
// Each event is moved once, from its stream to the loop; boxing the large variants would
// add an allocation per event for no gain.
#[allow(clippy::large_enum_variant)]
enum Change {
    Node(Event<Node>),
    Pod(Event<Pod>),
    Service(Event<Service>),
    Endpoints(Event<Endpoints>),
    EndpointSlice(Event<EndpointSlice>),
    Ingress(Event<Ingress>),
}

/// A change from stream number `stream`.
struct Msg {
    stream: usize,
    change: Change,
}

/// Which namespace a stream covers (`None`: all, or cluster-scoped).
struct StreamInfo {
    namespace: Option<String>,
    synced: bool,
}

/// The loop's state: every store, and whether the first full update went out.
struct State {
    role: Role,
    streams: Vec<StreamInfo>,
    initial_sent: bool,
    nodes: Store<Node>,
    pods: Store<Pod>,
    services: Store<Service>,
    endpoints: Store<Endpoints>,
    slices: Store<EndpointSlice>,
    ingresses: Store<Ingress>,
}

/// Runs the discoverer until the receiver of `tx` is dropped.
pub(super) async fn run(d: KubernetesDiscovery, tx: mpsc::Sender<Update>) {
    let (streams, infos) = open_streams(&d);
    let mut state = State {
        role: d.role,
        streams: infos,
        initial_sent: false,
        nodes: Store::default(),
        pods: Store::default(),
        services: Store::default(),
        endpoints: Store::default(),
        slices: Store::default(),
        ingresses: Store::default(),
    };
    let mut events = stream::select_all(streams);
    loop {
        let msg = tokio::select! {
            () = tx.closed() => return,
            msg = events.next() => msg,
        };
        // Watcher streams never end; if they all did, there is nothing left to watch.
        let Some(msg) = msg else {
            return;
        };
        if let Some(update) = state.handle(msg) {
            if tx.send(update).await.is_err() {
                return;
            }
        }
    }
}

/// The role's watch streams (primary resource, plus services and pods for the endpoint
/// roles), one per namespace, with their stream numbers' namespaces.
fn open_streams(d: &KubernetesDiscovery) -> (Vec<BoxStream<'static, Msg>>, Vec<StreamInfo>) {
    let mut s = Streams {
        d,
        streams: Vec::new(),
        infos: Vec::new(),
    };
    match d.role {
        Role::Node => {
            let cfg = s.config(Role::Node);
            s.add(Api::<Node>::all(d.client.clone()), cfg, None, Change::Node);
        }
        Role::Pod => s.add_namespaced(Role::Pod, Change::Pod),
        Role::Service => s.add_namespaced(Role::Service, Change::Service),
        Role::Endpoints => {
            s.add_namespaced(Role::Endpoints, Change::Endpoints);
            s.add_namespaced(Role::Service, Change::Service);
            s.add_namespaced(Role::Pod, Change::Pod);
        }
        Role::EndpointSlice => {
            s.add_namespaced(Role::EndpointSlice, Change::EndpointSlice);
            s.add_namespaced(Role::Service, Change::Service);
            s.add_namespaced(Role::Pod, Change::Pod);
        }
        Role::Ingress => s.add_namespaced(Role::Ingress, Change::Ingress),
    }
    (s.streams, s.infos)
}

/// Collects watch streams, numbering them in order.
struct Streams<'a> {
    d: &'a KubernetesDiscovery,
    streams: Vec<BoxStream<'static, Msg>>,
    infos: Vec<StreamInfo>,
}

impl Streams<'_> {
    /// The watcher configuration with the selectors configured for `role`'s resource.
    fn config(&self, role: Role) -> watcher::Config {
        let mut cfg = watcher::Config::default();
        if let Some(s) = self.d.selectors.iter().find(|s| s.role == role) {
            if let Some(l) = s.label.as_deref().filter(|l| !l.is_empty()) {
                cfg = cfg.labels(l);
            }
            if let Some(f) = s.field.as_deref().filter(|f| !f.is_empty()) {
                cfg = cfg.fields(f);
            }
        }
        cfg
    }

    /// One stream of `K` (whose selectors are `role`'s) per configured namespace, or one
    /// for all namespaces.
    fn add_namespaced<K>(&mut self, role: Role, wrap: fn(Event<K>) -> Change)
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug
            + Send
            + Sync
            + 'static,
    {
        let namespaces: Vec<Option<String>> = match &self.d.namespaces {
            None => vec![None],
            Some(names) => names.iter().cloned().map(Some).collect(),
        };
        for ns in namespaces {
            let api = match &ns {
                Some(ns) => Api::<K>::namespaced(self.d.client.clone(), ns),
                None => Api::<K>::all(self.d.client.clone()),
            };
            let cfg = self.config(role);
            self.add(api, cfg, ns, wrap);
        }
    }

    fn add<K>(
        &mut self,
        api: Api<K>,
        cfg: watcher::Config,
        namespace: Option<String>,
        wrap: fn(Event<K>) -> Change,
    ) where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    {
        let stream = self.infos.len();
        self.infos.push(StreamInfo {
            namespace: namespace.clone(),
            synced: false,
        });
        let kind = K::kind(&()).into_owned();
        let events = watcher::watcher(api, cfg)
            .default_backoff()
            .filter_map(move |r| {
                let msg = match r {
                    Ok(event) => Some(Msg {
                        stream,
                        change: wrap(event),
                    }),
                    Err(error) => {
                        tracing::warn!(
                            kind = %kind,
                            namespace = namespace.as_deref().unwrap_or("*"),
                            error = %error,
                            "kubernetes list/watch failed; retrying with backoff",
                        );
                        None
                    }
                };
                futures::future::ready(msg)
            });
        self.streams.push(events.boxed());
    }
}

fn is_done<K>(event: &Event<K>) -> bool {
    matches!(event, Event::InitDone)
}

impl State {
    /// Applies one change; returns the update to send, if any.
    fn handle(&mut self, msg: Msg) -> Option<Update> {
        let stream = msg.stream;
        let ns = self.streams.get(stream).and_then(|s| s.namespace.clone());
        let ns = ns.as_deref();
        let (done, dirty): (bool, BTreeSet<ObjKey>) = match msg.change {
            Change::Node(ev) => (
                is_done(&ev),
                self.nodes.handle(stream, ns, ev).into_iter().collect(),
            ),
            Change::Pod(ev) => {
                let done = is_done(&ev);
                let keys = self.pods.handle(stream, ns, ev);
                (done, self.pods_changed(keys))
            }
            Change::Service(ev) => {
                let done = is_done(&ev);
                let keys = self.services.handle(stream, ns, ev);
                (done, self.services_changed(keys))
            }
            Change::Endpoints(ev) => (
                is_done(&ev),
                self.endpoints.handle(stream, ns, ev).into_iter().collect(),
            ),
            Change::EndpointSlice(ev) => (
                is_done(&ev),
                self.slices.handle(stream, ns, ev).into_iter().collect(),
            ),
            Change::Ingress(ev) => (
                is_done(&ev),
                self.ingresses.handle(stream, ns, ev).into_iter().collect(),
            ),
        };
        if done {
            if let Some(s) = self.streams.get_mut(stream) {
                s.synced = true;
            }
        }
        if !self.initial_sent {
            if !self.streams.iter().all(|s| s.synced) {
                return None;
            }
            self.initial_sent = true;
            let all = self.primary_keys();
            return (!all.is_empty()).then(|| all.iter().map(|k| self.group(k)).collect());
        }
        (!dirty.is_empty()).then(|| dirty.iter().map(|k| self.group(k)).collect())
    }

    /// Keys of every object of the role's own kind.
    fn primary_keys(&self) -> Vec<ObjKey> {
        match self.role {
            Role::Node => self.nodes.objects.keys().cloned().collect(),
            Role::Pod => self.pods.objects.keys().cloned().collect(),
            Role::Service => self.services.objects.keys().cloned().collect(),
            Role::Endpoints => self.endpoints.objects.keys().cloned().collect(),
            Role::EndpointSlice => self.slices.objects.keys().cloned().collect(),
            Role::Ingress => self.ingresses.objects.keys().cloned().collect(),
        }
    }

    /// The role's objects affected by a change of these pods.
    fn pods_changed(&self, pods: Vec<ObjKey>) -> BTreeSet<ObjKey> {
        let pods: BTreeSet<ObjKey> = pods.into_iter().collect();
        let points_at = |ns: &str, r: Option<&k8s_openapi::api::core::v1::ObjectReference>| {
            r.is_some_and(|r| {
                r.kind.as_deref() == Some("Pod")
                    && pods.contains(&(
                        r.namespace.clone().unwrap_or_else(|| ns.to_owned()),
                        r.name.clone().unwrap_or_default(),
                    ))
            })
        };
        match self.role {
            Role::Pod => pods.clone(),
            Role::Endpoints => self
                .endpoints
                .objects
                .iter()
                .filter(|((ns, _), eps)| {
                    eps.subsets.iter().flatten().any(|s| {
                        let ready = s.addresses.iter().flatten();
                        let not_ready = s.not_ready_addresses.iter().flatten();
                        ready
                            .chain(not_ready)
                            .any(|a| points_at(ns, a.target_ref.as_ref()))
                    })
                })
                .map(|(k, _)| k.clone())
                .collect(),
            Role::EndpointSlice => self
                .slices
                .objects
                .iter()
                .filter(|((ns, _), eps)| {
                    eps.endpoints
                        .iter()
                        .any(|e| points_at(ns, e.target_ref.as_ref()))
                })
                .map(|(k, _)| k.clone())
                .collect(),
            _ => BTreeSet::new(),
        }
    }

    /// The role's objects affected by a change of these services.
    fn services_changed(&self, services: Vec<ObjKey>) -> BTreeSet<ObjKey> {
        match self.role {
            Role::Service => services.into_iter().collect(),
            Role::Endpoints => services
                .into_iter()
                .filter(|k| self.endpoints.objects.contains_key(k))
                .collect(),
            Role::EndpointSlice => self
                .slices
                .objects
                .iter()
                .filter(|((ns, _), eps)| {
                    let svc = eps
                        .metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get(SERVICE_NAME_LABEL));
                    svc.is_some_and(|svc| {
                        services
                            .iter()
                            .any(|(sns, sname)| sns == ns && sname == svc)
                    })
                })
                .map(|(k, _)| k.clone())
                .collect(),
            _ => BTreeSet::new(),
        }
    }

    /// The current group for the role's object `key`; empty if it no longer exists.
    fn group(&self, key: &ObjKey) -> TargetGroup {
        let (ns, name) = (key.0.as_str(), key.1.as_str());
        let related = Related {
            services: &self.services,
            pods: &self.pods,
        };
        let (group, source) = match self.role {
            Role::Node => (
                self.nodes.get(ns, name).map(node_targets),
                node_source(name),
            ),
            Role::Pod => (
                self.pods.get(ns, name).map(pod_targets),
                pod_source(ns, name),
            ),
            Role::Service => (
                self.services.get(ns, name).map(service_targets),
                service_source(ns, name),
            ),
            Role::Endpoints => (
                self.endpoints
                    .get(ns, name)
                    .map(|e| endpoints_targets(e, &related)),
                endpoints_source(ns, name),
            ),
            Role::EndpointSlice => (
                self.slices
                    .get(ns, name)
                    .map(|e| endpointslice_targets(e, &related)),
                endpointslice_source(ns, name),
            ),
            Role::Ingress => (
                self.ingresses.get(ns, name).map(ingress_targets),
                ingress_source(ns, name),
            ),
        };
        group.unwrap_or_else(|| TargetGroup {
            source,
            ..Default::default()
        })
    }
}
