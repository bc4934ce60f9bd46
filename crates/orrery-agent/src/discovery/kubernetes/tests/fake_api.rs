//! A fake Kubernetes API server (axum on 127.0.0.1:0) and the list/watch scenarios run
//! against it.
//!
//! The fake serves `GET` list (with `resourceVersion` and equality label selectors) and
//! watch (`?watch=…`: a chunked stream of JSON lines `ADDED`/`MODIFIED`/`DELETED`/
//! `BOOKMARK`, replaying its log after the requested version) for any core or grouped
//! resource, namespaced or not. [`FakeApi::expire`] changes objects without events,
//! compacts the log and drops every watch, so the client's resumed watch gets an
//! `ERROR` event with code 410 and must re-list: the `410 Gone` path.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::super::{KubernetesSdConfig, Role};
use crate::discovery::{TargetGroup, Update};

type ObjKey = (String, String);

/// One watch connection: its namespace, label selector and event sink.
struct Watcher {
    namespace: Option<String>,
    selector: Vec<(String, String)>,
    tx: mpsc::UnboundedSender<Bytes>,
}

/// One resource collection (`pods`, `services`, …).
#[derive(Default)]
struct Collection {
    objects: BTreeMap<ObjKey, Value>,
    /// Every event since the start: `(resourceVersion, type, object)`.
    log: Vec<(u64, &'static str, Value)>,
    /// Watches from a version below this get `410 Gone`.
    compacted: u64,
    watchers: Vec<Watcher>,
}

#[derive(Default)]
struct Inner {
    resource_version: u64,
    collections: HashMap<String, Collection>,
    /// `path?query` of every request, in order.
    requests: Vec<String>,
}

/// Handle to a running fake API server.
#[derive(Clone)]
pub(crate) struct FakeApi {
    inner: Arc<Mutex<Inner>>,
    pub(crate) url: String,
}

fn key(obj: &Value) -> ObjKey {
    let meta = &obj["metadata"];
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    (s(&meta["namespace"]), s(&meta["name"]))
}

fn matches(obj: &Value, namespace: Option<&str>, selector: &[(String, String)]) -> bool {
    let k = key(obj);
    namespace.is_none_or(|ns| k.0 == ns)
        && selector
            .iter()
            .all(|(lk, lv)| obj["metadata"]["labels"][lk].as_str() == Some(lv.as_str()))
}

fn event_line(kind: &str, obj: &Value) -> Bytes {
    let mut line = serde_json::to_vec(&json!({"type": kind, "object": obj})).expect("json");
    line.push(b'\n');
    Bytes::from(line)
}

/// Parses `/api/v1/[namespaces/<ns>/]<resource>` and
/// `/apis/<group>/<version>/[namespaces/<ns>/]<resource>`.
fn parse_path(path: &str) -> Option<(Option<String>, String)> {
    let rest = if let Some(rest) = path.strip_prefix("/api/v1/") {
        rest
    } else {
        let rest = path.strip_prefix("/apis/")?;
        let mut parts = rest.splitn(3, '/');
        let (_group, _version) = (parts.next()?, parts.next()?);
        parts.next()?
    };
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        ["namespaces", ns, resource] => Some((Some((*ns).to_owned()), (*resource).to_owned())),
        [resource] => Some((None, (*resource).to_owned())),
        _ => None,
    }
}

fn parse_selector(q: &HashMap<String, String>) -> Vec<(String, String)> {
    q.get("labelSelector")
        .map(|s| {
            s.split(',')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

async fn handle(
    State(api): State<FakeApi>,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = api.lock();
    inner.requests.push(
        uri.path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
    );
    let Some((namespace, resource)) = parse_path(uri.path()) else {
        return (StatusCode::NOT_FOUND, "no such path").into_response();
    };
    let selector = parse_selector(&q);
    let current = inner.resource_version;
    let coll = inner.collections.entry(resource.clone()).or_default();
    let watch = q.get("watch").is_some_and(|w| w == "true" || w == "1");
    if !watch {
        let items: Vec<&Value> = coll
            .objects
            .values()
            .filter(|o| matches(o, namespace.as_deref(), &selector))
            .collect();
        let list_kind = items
            .first()
            .and_then(|o| o["kind"].as_str())
            .map_or_else(|| "List".to_owned(), |k| format!("{k}List"));
        let body = json!({
            "apiVersion": "v1",
            "kind": list_kind,
            "metadata": {"resourceVersion": current.to_string()},
            "items": items,
        });
        return (
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
    }

    let from: u64 = q
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let (tx, rx) = mpsc::unbounded_channel();
    if from < coll.compacted {
        let status = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": format!("too old resource version: {from} ({})", coll.compacted),
            "reason": "Expired", "code": 410
        });
        let _ = tx.send(event_line("ERROR", &status));
        // The sender is dropped here, so the stream ends after the error, as the API
        // server closes an expired watch.
    } else {
        for (rv, kind, obj) in &coll.log {
            if *rv > from && matches(obj, namespace.as_deref(), &selector) {
                let _ = tx.send(event_line(kind, obj));
            }
        }
        coll.watchers.push(Watcher {
            namespace,
            selector,
            tx,
        });
    }
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response()
}

impl FakeApi {
    /// Starts the server on an ephemeral local port.
    pub(crate) async fn start() -> FakeApi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let api = FakeApi {
            inner: Arc::default(),
            url,
        };
        let app = axum::Router::new().fallback(handle).with_state(api.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        api
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates or replaces an object, notifying matching watches.
    pub(crate) fn upsert(&self, resource: &str, mut obj: Value) {
        let mut inner = self.lock();
        inner.resource_version += 1;
        let rv = inner.resource_version;
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        let coll = inner.collections.entry(resource.to_owned()).or_default();
        let kind = if coll.objects.insert(key(&obj), obj.clone()).is_some() {
            "MODIFIED"
        } else {
            "ADDED"
        };
        Self::publish(coll, rv, kind, obj);
    }

    /// Deletes an object, notifying matching watches.
    pub(crate) fn delete(&self, resource: &str, namespace: &str, name: &str) {
        let mut inner = self.lock();
        inner.resource_version += 1;
        let rv = inner.resource_version;
        let coll = inner.collections.entry(resource.to_owned()).or_default();
        if let Some(mut obj) = coll
            .objects
            .remove(&(namespace.to_owned(), name.to_owned()))
        {
            obj["metadata"]["resourceVersion"] = json!(rv.to_string());
            Self::publish(coll, rv, "DELETED", obj);
        }
    }

    /// Sends a bookmark with the current resource version to every watch of `resource`.
    pub(super) fn bookmark(&self, resource: &str, kind: &str, api_version: &str) {
        let mut inner = self.lock();
        let rv = inner.resource_version.to_string();
        let coll = inner.collections.entry(resource.to_owned()).or_default();
        let obj =
            json!({"kind": kind, "apiVersion": api_version, "metadata": {"resourceVersion": rv}});
        for w in &coll.watchers {
            let _ = w.tx.send(event_line("BOOKMARK", &obj));
        }
    }

    /// Applies `change` to `resource` without any watch event, compacts its history and
    /// drops every watch: a client that resumes gets `410 Gone` and must re-list.
    pub(super) fn expire(
        &self,
        resource: &str,
        change: impl FnOnce(&mut BTreeMap<ObjKey, Value>, u64),
    ) {
        let mut inner = self.lock();
        inner.resource_version += 1;
        let rv = inner.resource_version;
        let coll = inner.collections.entry(resource.to_owned()).or_default();
        change(&mut coll.objects, rv);
        coll.compacted = rv;
        coll.log.clear();
        coll.watchers.clear();
    }

    /// Every request so far, as `path?query`.
    pub(crate) fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }

    fn publish(coll: &mut Collection, rv: u64, kind: &'static str, obj: Value) {
        coll.watchers.retain(|w| {
            !matches(&obj, w.namespace.as_deref(), &w.selector)
                || w.tx.send(event_line(kind, &obj)).is_ok()
        });
        coll.log.push((rv, kind, obj));
    }
}

fn pod(ns: &str, name: &str, ip: &str, app: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{name}"), "labels": {"app": app}},
        "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "img", "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}]}]},
        "status": {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]}
    })
}

/// Receives the next update, failing the test after 5 s.
async fn next(rx: &mut mpsc::Receiver<Update>) -> Update {
    match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
        Ok(Some(update)) => update,
        Ok(None) => panic!("discovery stopped"),
        Err(_) => panic!("no update within 5s"),
    }
}

fn sources(update: &Update) -> Vec<&str> {
    update.iter().map(|g| g.source.as_str()).collect()
}

fn addresses(g: &TargetGroup) -> Vec<&str> {
    g.targets
        .iter()
        .map(|t| t["__address__"].as_str())
        .collect()
}

fn start_discovery(api: &FakeApi, cfg: serde_json::Value) -> mpsc::Receiver<Update> {
    let mut cfg = cfg;
    cfg["api_server"] = json!(api.url);
    let cfg: KubernetesSdConfig = serde_json::from_value(cfg).expect("config");
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move { super::super::run(cfg, tx).await });
    rx
}

#[tokio::test]
async fn pod_role_follows_adds_modifies_deletes_and_relists_after_410() {
    let api = FakeApi::start().await;
    api.upsert("pods", pod("default", "a", "10.0.0.1", "web"));
    api.upsert("pods", pod("default", "other", "10.0.0.2", "db")); // filtered by the label selector
    api.upsert("pods", pod("kube-system", "x", "10.0.0.3", "web")); // outside the namespace
    let mut rx = start_discovery(
        &api,
        json!({"role": "pod", "namespaces": {"names": ["default"]}, "selectors": [{"role": "pod", "label": "app=web"}]}),
    );

    // Initial list: only the selected pod of the selected namespace.
    let update = next(&mut rx).await;
    assert_eq!(sources(&update), ["pod/default/a"]);
    assert_eq!(addresses(&update[0]), ["10.0.0.1:80"]);
    assert_eq!(update[0].labels["__meta_kubernetes_pod_label_app"], "web");
    let requests = api.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.starts_with("/api/v1/namespaces/default/pods?")
                && r.contains("labelSelector=app%3Dweb")),
        "{requests:?}"
    );

    // ADDED.
    api.upsert("pods", pod("default", "b", "10.0.0.4", "web"));
    let update = next(&mut rx).await;
    assert_eq!(sources(&update), ["pod/default/b"]);
    assert_eq!(addresses(&update[0]), ["10.0.0.4:80"]);

    // MODIFIED: the pod got a new IP.
    api.upsert("pods", pod("default", "a", "10.0.0.11", "web"));
    let update = next(&mut rx).await;
    assert_eq!(sources(&update), ["pod/default/a"]);
    assert_eq!(addresses(&update[0]), ["10.0.0.11:80"]);
    assert_eq!(update[0].labels["__meta_kubernetes_pod_ip"], "10.0.0.11");

    // DELETED: an empty group for the source.
    api.delete("pods", "default", "b");
    let update = next(&mut rx).await;
    assert_eq!(
        update,
        vec![TargetGroup {
            source: "pod/default/b".into(),
            ..Default::default()
        }]
    );

    // A bookmark moves the resource version on and produces no update.
    api.bookmark("pods", "Pod", "v1");

    // While the watch is down, `a` is deleted and `c` created; the history is compacted.
    api.expire("pods", |objects, rv| {
        objects.remove(&("default".to_owned(), "a".to_owned()));
        let mut c = pod("default", "c", "10.0.0.5", "web");
        c["metadata"]["resourceVersion"] = json!(rv.to_string());
        objects.insert(("default".to_owned(), "c".to_owned()), c);
    });
    // The resumed watch gets 410, the watcher re-lists, and the re-list reconciles:
    // `a` vanished (empty group) and `c` appeared.
    let update = next(&mut rx).await;
    assert_eq!(sources(&update), ["pod/default/a", "pod/default/c"]);
    assert!(update[0].targets.is_empty());
    assert_eq!(addresses(&update[1]), ["10.0.0.5:80"]);
    let lists = api
        .requests()
        .iter()
        .filter(|r| !r.contains("watch="))
        .count();
    assert_eq!(lists, 2, "{:?}", api.requests());

    // The watch after the re-list delivers changes again.
    api.upsert("pods", pod("default", "d", "10.0.0.6", "web"));
    let update = next(&mut rx).await;
    assert_eq!(sources(&update), ["pod/default/d"]);
}

#[tokio::test]
async fn endpoints_role_is_enriched_from_services_and_pods_and_follows_them() {
    let api = FakeApi::start().await;
    api.upsert("pods", pod("default", "web-1", "10.0.0.1", "web"));
    api.upsert(
        "services",
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "web", "namespace": "default"},
               "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "ports": [{"port": 80}]}}),
    );
    let endpoints = json!({"apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "web", "namespace": "default"},
        "subsets": [{"addresses": [{"ip": "10.0.0.1", "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "default"}}],
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}]});
    api.upsert("endpoints", endpoints);
    let mut rx = start_discovery(&api, json!({"role": "endpoints"}));

    // One update after endpoints, services and pods are all listed, already enriched.
    let update = next(&mut rx).await;
    assert_eq!(sources(&update), ["endpoints/default/web"]);
    let g = &update[0];
    assert_eq!(g.labels["__meta_kubernetes_service_name"], "web");
    assert_eq!(addresses(g), ["10.0.0.1:80"]);
    assert_eq!(g.targets[0]["__meta_kubernetes_pod_name"], "web-1");
    assert_eq!(
        g.targets[0]["__meta_kubernetes_pod_container_port_name"],
        "http"
    );
    for path in ["/api/v1/endpoints?", "/api/v1/services?", "/api/v1/pods?"] {
        assert!(
            api.requests().iter().any(|r| r.starts_with(path)),
            "{path}: {:?}",
            api.requests()
        );
    }

    // A service change re-sends the endpoints group with the new service labels.
    api.upsert(
        "services",
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "web", "namespace": "default", "labels": {"tier": "front"}},
               "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "ports": [{"port": 80}]}}),
    );
    let update = next(&mut rx).await;
    assert_eq!(sources(&update), ["endpoints/default/web"]);
    assert_eq!(
        update[0].labels["__meta_kubernetes_service_label_tier"],
        "front"
    );

    // A pod change re-sends the endpoints that point at the pod.
    api.upsert("pods", pod("default", "web-1", "10.0.0.1", "web-v2"));
    let update = next(&mut rx).await;
    assert_eq!(sources(&update), ["endpoints/default/web"]);
    assert_eq!(
        update[0].targets[0]["__meta_kubernetes_pod_label_app"],
        "web-v2"
    );

    // Deleting the endpoints removes the group.
    api.delete("endpoints", "default", "web");
    let update = next(&mut rx).await;
    assert_eq!(
        update,
        vec![TargetGroup {
            source: "endpoints/default/web".into(),
            ..Default::default()
        }]
    );
}

#[tokio::test]
async fn run_returns_when_the_receiver_is_dropped() {
    let api = FakeApi::start().await;
    let mut cfg = json!({"role": "node"});
    cfg["api_server"] = json!(api.url);
    let cfg: KubernetesSdConfig = serde_json::from_value(cfg).expect("config");
    assert_eq!(cfg.role, Role::Node);
    let (tx, rx) = mpsc::channel(1);
    let task = tokio::spawn(super::super::run(cfg, tx));
    drop(rx);
    let res = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("run must end")
        .expect("join");
    assert!(res.is_ok());
    assert!(api
        .requests()
        .iter()
        .all(|r| r.starts_with("/api/v1/nodes?")));
}
