//! Label tables, one test per role: a Kubernetes object as the API server sends it →
//! the exact group and target labels, written from Prometheus's `kubernetes_sd_config`
//! documentation (and its documented address rules), not from the implementation.

use k8s_openapi::api::core::v1::{Endpoints, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use serde_json::{json, Value};

use super::super::endpoints::endpoints_targets;
use super::super::endpointslice::endpointslice_targets;
use super::super::ingress::ingress_targets;
use super::super::node::node_targets;
use super::super::pod::pod_targets;
use super::super::sanitize_label_name;
use super::super::service::service_targets;
use super::super::watch::Store;
use super::super::Related;
use crate::discovery::LabelSet;

fn obj<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("fixture must be a valid object")
}

fn ls(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn container_status(name: &str, id: &str) -> Value {
    json!({"name": name, "containerID": id, "image": "i", "imageID": "i", "ready": true, "restartCount": 0})
}

fn web_pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": "web-1", "namespace": "default", "uid": "uid-web-1",
            "labels": {"app.kubernetes.io/name": "web"},
            "annotations": {"prometheus.io/scrape": "true"},
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Other", "name": "not-controller", "uid": "u0"},
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc", "uid": "u1", "controller": true}
            ]
        },
        "spec": {
            "nodeName": "node-1",
            "containers": [
                {"name": "app", "image": "web:1", "ports": [
                    {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                    {"containerPort": 9090, "protocol": "TCP"}
                ]},
                {"name": "sidecar", "image": "proxy:2"}
            ],
            "initContainers": [{"name": "init", "image": "busybox"}]
        },
        "status": {
            "phase": "Running", "podIP": "10.0.0.5", "hostIP": "192.168.1.10",
            "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
            "containerStatuses": [container_status("app", "containerd://app1")],
            "initContainerStatuses": [container_status("init", "containerd://init1")]
        }
    })
}

/// The `pod` role's pod-level labels for [`web_pod`] (no namespace: that is group-only).
fn web_pod_labels() -> LabelSet {
    ls(&[
        ("__meta_kubernetes_pod_name", "web-1"),
        ("__meta_kubernetes_pod_ip", "10.0.0.5"),
        ("__meta_kubernetes_pod_label_app_kubernetes_io_name", "web"),
        (
            "__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name",
            "true",
        ),
        (
            "__meta_kubernetes_pod_annotation_prometheus_io_scrape",
            "true",
        ),
        (
            "__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape",
            "true",
        ),
        ("__meta_kubernetes_pod_ready", "true"),
        ("__meta_kubernetes_pod_phase", "Running"),
        ("__meta_kubernetes_pod_node_name", "node-1"),
        ("__meta_kubernetes_pod_host_ip", "192.168.1.10"),
        ("__meta_kubernetes_pod_uid", "uid-web-1"),
        ("__meta_kubernetes_pod_controller_kind", "ReplicaSet"),
        ("__meta_kubernetes_pod_controller_name", "web-abc"),
    ])
}

fn with(mut base: LabelSet, extra: &[(&str, &str)]) -> LabelSet {
    base.extend(ls(extra));
    base
}

#[test]
fn sanitize_replaces_each_invalid_character() {
    assert_eq!(
        sanitize_label_name("app.kubernetes.io/name"),
        "app_kubernetes_io_name"
    );
    assert_eq!(sanitize_label_name("a-b_c9"), "a_b_c9");
    assert_eq!(sanitize_label_name("é"), "_");
}

#[test]
fn pod_has_one_target_per_container_port_and_per_portless_container() {
    let tg = pod_targets(&obj::<Pod>(web_pod()));
    assert_eq!(tg.source, "pod/default/web-1");
    assert_eq!(
        tg.labels,
        with(
            web_pod_labels(),
            &[("__meta_kubernetes_namespace", "default")]
        )
    );
    let app = ls(&[
        ("__meta_kubernetes_pod_container_name", "app"),
        ("__meta_kubernetes_pod_container_id", "containerd://app1"),
        ("__meta_kubernetes_pod_container_image", "web:1"),
        ("__meta_kubernetes_pod_container_init", "false"),
    ]);
    assert_eq!(
        tg.targets,
        vec![
            with(
                app.clone(),
                &[
                    ("__address__", "10.0.0.5:8080"),
                    ("__meta_kubernetes_pod_container_port_name", "http"),
                    ("__meta_kubernetes_pod_container_port_number", "8080"),
                    ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
                ]
            ),
            with(
                app,
                &[
                    ("__address__", "10.0.0.5:9090"),
                    ("__meta_kubernetes_pod_container_port_name", ""),
                    ("__meta_kubernetes_pod_container_port_number", "9090"),
                    ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
                ]
            ),
            ls(&[
                ("__address__", "10.0.0.5"),
                ("__meta_kubernetes_pod_container_name", "sidecar"),
                ("__meta_kubernetes_pod_container_id", ""),
                ("__meta_kubernetes_pod_container_image", "proxy:2"),
                ("__meta_kubernetes_pod_container_init", "false"),
            ]),
            ls(&[
                ("__address__", "10.0.0.5"),
                ("__meta_kubernetes_pod_container_name", "init"),
                ("__meta_kubernetes_pod_container_id", "containerd://init1"),
                ("__meta_kubernetes_pod_container_image", "busybox"),
                ("__meta_kubernetes_pod_container_init", "true"),
            ]),
        ]
    );
}

#[test]
fn pod_without_ip_has_no_targets_and_ipv6_is_bracketed() {
    let mut v = web_pod();
    v["status"]["podIP"] = json!(null);
    let tg = pod_targets(&obj::<Pod>(v));
    assert_eq!(tg.source, "pod/default/web-1");
    assert!(tg.targets.is_empty() && tg.labels.is_empty(), "{tg:?}");

    let tg = pod_targets(&obj::<Pod>(json!({
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"containers": [
            {"name": "c", "ports": [{"containerPort": 80}]},
            {"name": "d"}
        ]},
        "status": {"podIP": "fd00::1"}
    })));
    assert_eq!(tg.targets[0]["__address__"], "[fd00::1]:80");
    assert_eq!(tg.targets[1]["__address__"], "[fd00::1]");
    // No Ready condition: Prometheus reports "unknown"; no controller: no controller labels.
    assert_eq!(tg.labels["__meta_kubernetes_pod_ready"], "unknown");
    assert!(!tg
        .labels
        .contains_key("__meta_kubernetes_pod_controller_kind"));
}

#[test]
fn node_target_uses_internal_ip_and_kubelet_port() {
    let node: Node = obj(json!({
        "metadata": {
            "name": "node-1",
            "labels": {"kubernetes.io/os": "linux"},
            "annotations": {"node.alpha/ttl": "0"}
        },
        "spec": {"providerID": "aws:///us-east-1a/i-123"},
        "status": {
            "addresses": [
                {"type": "Hostname", "address": "node-1.local"},
                {"type": "ExternalIP", "address": "1.2.3.4"},
                {"type": "InternalIP", "address": "10.0.0.1"},
                {"type": "InternalIP", "address": "10.0.0.2"}
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}
        }
    }));
    let tg = node_targets(&node);
    assert_eq!(tg.source, "node/node-1");
    assert_eq!(
        tg.labels,
        ls(&[
            ("__meta_kubernetes_node_name", "node-1"),
            (
                "__meta_kubernetes_node_provider_id",
                "aws:///us-east-1a/i-123"
            ),
            ("__meta_kubernetes_node_label_kubernetes_io_os", "linux"),
            (
                "__meta_kubernetes_node_labelpresent_kubernetes_io_os",
                "true"
            ),
            ("__meta_kubernetes_node_annotation_node_alpha_ttl", "0"),
            (
                "__meta_kubernetes_node_annotationpresent_node_alpha_ttl",
                "true"
            ),
        ])
    );
    assert_eq!(
        tg.targets,
        vec![ls(&[
            ("__address__", "10.0.0.1:10250"),
            ("instance", "node-1"),
            ("__meta_kubernetes_node_address_Hostname", "node-1.local"),
            ("__meta_kubernetes_node_address_ExternalIP", "1.2.3.4"),
            ("__meta_kubernetes_node_address_InternalIP", "10.0.0.1"),
        ])]
    );
}

#[test]
fn node_address_falls_back_by_type_priority() {
    let node = |addresses: Value| -> Node {
        obj(json!({
            "metadata": {"name": "n"},
            "status": {"addresses": addresses, "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}
        }))
    };
    let addr = |n: &Node| {
        node_targets(n)
            .targets
            .first()
            .map(|t| t["__address__"].clone())
    };
    let both = json!([{"type": "Hostname", "address": "h"}, {"type": "ExternalDNS", "address": "e.example"}]);
    assert_eq!(addr(&node(both)).as_deref(), Some("e.example:10250"));
    assert_eq!(
        addr(&node(json!([{"type": "Hostname", "address": "h"}]))).as_deref(),
        Some("h:10250")
    );
    assert_eq!(
        addr(&node(json!([{"type": "InternalIP", "address": "fd00::2"}]))).as_deref(),
        Some("[fd00::2]:10250")
    );
    assert_eq!(addr(&node(json!([]))), None);
}

fn web_service() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}, "annotations": {"team": "a"}},
        "spec": {
            "type": "ClusterIP", "clusterIP": "10.96.0.10",
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}, {"name": "dns", "port": 53, "protocol": "UDP"}]
        }
    })
}

fn web_service_labels() -> LabelSet {
    ls(&[
        ("__meta_kubernetes_namespace", "default"),
        ("__meta_kubernetes_service_name", "web"),
        ("__meta_kubernetes_service_label_app", "web"),
        ("__meta_kubernetes_service_labelpresent_app", "true"),
        ("__meta_kubernetes_service_annotation_team", "a"),
        ("__meta_kubernetes_service_annotationpresent_team", "true"),
    ])
}

#[test]
fn service_has_one_target_per_port_at_its_dns_name() {
    let tg = service_targets(&obj::<Service>(web_service()));
    assert_eq!(tg.source, "svc/default/web");
    assert_eq!(tg.labels, web_service_labels());
    let port = |addr: &str, name: &str, number: &str, proto: &str| {
        ls(&[
            ("__address__", addr),
            ("__meta_kubernetes_service_port_name", name),
            ("__meta_kubernetes_service_port_number", number),
            ("__meta_kubernetes_service_port_protocol", proto),
            ("__meta_kubernetes_service_type", "ClusterIP"),
            ("__meta_kubernetes_service_cluster_ip", "10.96.0.10"),
        ])
    };
    assert_eq!(
        tg.targets,
        vec![
            port("web.default.svc:80", "http", "80", "TCP"),
            port("web.default.svc:53", "dns", "53", "UDP")
        ]
    );
}

#[test]
fn external_name_and_load_balancer_services() {
    let tg = service_targets(&obj::<Service>(json!({
        "metadata": {"name": "ext", "namespace": "ns"},
        "spec": {"type": "ExternalName", "externalName": "db.example.com", "ports": [{"port": 5432, "protocol": "TCP"}]}
    })));
    assert_eq!(
        tg.targets,
        vec![ls(&[
            ("__address__", "ext.ns.svc:5432"),
            ("__meta_kubernetes_service_port_name", ""),
            ("__meta_kubernetes_service_port_number", "5432"),
            ("__meta_kubernetes_service_port_protocol", "TCP"),
            ("__meta_kubernetes_service_type", "ExternalName"),
            ("__meta_kubernetes_service_external_name", "db.example.com"),
        ])]
    );
    let tg = service_targets(&obj::<Service>(json!({
        "metadata": {"name": "lb", "namespace": "ns"},
        "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.20", "loadBalancerIP": "1.2.3.4",
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}
    })));
    assert_eq!(
        tg.targets[0]["__meta_kubernetes_service_cluster_ip"],
        "10.96.0.20"
    );
    assert_eq!(
        tg.targets[0]["__meta_kubernetes_service_loadbalancer_ip"],
        "1.2.3.4"
    );
}

/// A pod behind the `web` endpoints: port 8080 is an endpoint port, 9090 is not.
fn backend_pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "default", "uid": "u1"},
        "spec": {"nodeName": "node-1", "containers": [
            {"name": "app", "image": "web:1", "ports": [
                {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}
            ]}
        ]},
        "status": {"phase": "Running", "podIP": "10.0.0.5", "hostIP": "192.168.1.10",
                   "conditions": [{"type": "Ready", "status": "False"}]}
    })
}

fn backend_pod_labels() -> LabelSet {
    ls(&[
        ("__meta_kubernetes_pod_name", "web-1"),
        ("__meta_kubernetes_pod_ip", "10.0.0.5"),
        ("__meta_kubernetes_pod_ready", "false"),
        ("__meta_kubernetes_pod_phase", "Running"),
        ("__meta_kubernetes_pod_node_name", "node-1"),
        ("__meta_kubernetes_pod_host_ip", "192.168.1.10"),
        ("__meta_kubernetes_pod_uid", "u1"),
    ])
}

#[test]
fn endpoints_targets_addresses_ports_and_uncovered_pod_ports() {
    let services: Store<Service> = [obj(web_service())].into_iter().collect();
    let pods: Store<Pod> = [obj(backend_pod())].into_iter().collect();
    let related = Related {
        services: &services,
        pods: &pods,
    };
    let eps: Endpoints = obj(json!({
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "subsets": [{
            "addresses": [{"ip": "10.0.0.5", "nodeName": "node-1",
                           "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "default"}}],
            "notReadyAddresses": [{"ip": "10.0.0.6", "hostname": "web-2"}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]
        }]
    }));
    let tg = endpoints_targets(&eps, &related);
    assert_eq!(tg.source, "endpoints/default/web");
    assert_eq!(
        tg.labels,
        with(
            web_service_labels(),
            &[
                ("__meta_kubernetes_endpoints_name", "web"),
                ("__meta_kubernetes_endpoints_label_app", "web"),
                ("__meta_kubernetes_endpoints_labelpresent_app", "true"),
            ]
        )
    );
    let container = |port_name: &str, port: &str| {
        ls(&[
            ("__meta_kubernetes_pod_container_name", "app"),
            ("__meta_kubernetes_pod_container_image", "web:1"),
            ("__meta_kubernetes_pod_container_init", "false"),
            ("__meta_kubernetes_pod_container_port_name", port_name),
            ("__meta_kubernetes_pod_container_port_number", port),
            ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
        ])
    };
    let mut ready = with(
        container("http", "8080"),
        &[
            ("__address__", "10.0.0.5:8080"),
            ("__meta_kubernetes_endpoint_port_name", "http"),
            ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
            ("__meta_kubernetes_endpoint_ready", "true"),
            ("__meta_kubernetes_endpoint_address_target_kind", "Pod"),
            ("__meta_kubernetes_endpoint_address_target_name", "web-1"),
            ("__meta_kubernetes_endpoint_node_name", "node-1"),
        ],
    );
    ready.extend(backend_pod_labels());
    let not_ready = ls(&[
        ("__address__", "10.0.0.6:8080"),
        ("__meta_kubernetes_endpoint_port_name", "http"),
        ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
        ("__meta_kubernetes_endpoint_ready", "false"),
        ("__meta_kubernetes_endpoint_hostname", "web-2"),
    ]);
    let mut uncovered = with(
        container("metrics", "9090"),
        &[("__address__", "10.0.0.5:9090")],
    );
    uncovered.extend(backend_pod_labels());
    assert_eq!(tg.targets, vec![ready, not_ready, uncovered]);
}

#[test]
fn endpoints_without_service_or_pod_have_only_their_own_labels() {
    let empty_services = Store::default();
    let empty_pods = Store::default();
    let related = Related {
        services: &empty_services,
        pods: &empty_pods,
    };
    let eps: Endpoints = obj(json!({
        "metadata": {"name": "x", "namespace": "ns"},
        "subsets": [{"addresses": [{"ip": "10.0.0.9", "targetRef": {"kind": "Pod", "name": "gone"}}],
                     "ports": [{"port": 80}]}]
    }));
    let tg = endpoints_targets(&eps, &related);
    assert_eq!(
        tg.labels,
        ls(&[
            ("__meta_kubernetes_namespace", "ns"),
            ("__meta_kubernetes_endpoints_name", "x")
        ])
    );
    assert_eq!(
        tg.targets,
        vec![ls(&[
            ("__address__", "10.0.0.9:80"),
            ("__meta_kubernetes_endpoint_port_name", ""),
            ("__meta_kubernetes_endpoint_port_protocol", ""),
            ("__meta_kubernetes_endpoint_ready", "true"),
            ("__meta_kubernetes_endpoint_address_target_kind", "Pod"),
            ("__meta_kubernetes_endpoint_address_target_name", "gone"),
        ])]
    );
}

#[test]
fn endpointslice_targets_carry_conditions_zone_topology_and_enrichment() {
    let services: Store<Service> = [obj(web_service())].into_iter().collect();
    let pods: Store<Pod> = [obj(backend_pod())].into_iter().collect();
    let related = Related {
        services: &services,
        pods: &pods,
    };
    let slice: EndpointSlice = obj(json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "web-abc", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "web"},
                     "annotations": {"note": "x"}},
        "addressType": "IPv4",
        "endpoints": [{
            "addresses": ["10.0.0.5"],
            "conditions": {"ready": true, "serving": true, "terminating": false},
            "hostname": "web-1",
            "nodeName": "node-1",
            "zone": "us-east-1a",
            "deprecatedTopology": {"kubernetes.io/hostname": "node-1"},
            "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "default"}
        }, {
            "addresses": ["10.0.0.7"]
        }],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP", "appProtocol": "http"}]
    }));
    let tg = endpointslice_targets(&slice, &related);
    assert_eq!(tg.source, "endpointslice/default/web-abc");
    assert_eq!(
        tg.labels,
        with(
            web_service_labels(),
            &[
                ("__meta_kubernetes_endpointslice_name", "web-abc"),
                ("__meta_kubernetes_endpointslice_address_type", "IPv4"),
                (
                    "__meta_kubernetes_endpointslice_label_kubernetes_io_service_name",
                    "web"
                ),
                (
                    "__meta_kubernetes_endpointslice_labelpresent_kubernetes_io_service_name",
                    "true"
                ),
                ("__meta_kubernetes_endpointslice_annotation_note", "x"),
                (
                    "__meta_kubernetes_endpointslice_annotationpresent_note",
                    "true"
                ),
            ]
        )
    );
    let port = [
        ("__meta_kubernetes_endpointslice_port_name", "http"),
        ("__meta_kubernetes_endpointslice_port_protocol", "TCP"),
        ("__meta_kubernetes_endpointslice_port", "8080"),
        ("__meta_kubernetes_endpointslice_port_app_protocol", "http"),
    ];
    let mut first = with(
        ls(&port),
        &[
            ("__address__", "10.0.0.5:8080"),
            (
                "__meta_kubernetes_endpointslice_endpoint_conditions_ready",
                "true",
            ),
            (
                "__meta_kubernetes_endpointslice_endpoint_conditions_serving",
                "true",
            ),
            (
                "__meta_kubernetes_endpointslice_endpoint_conditions_terminating",
                "false",
            ),
            ("__meta_kubernetes_endpointslice_endpoint_hostname", "web-1"),
            ("__meta_kubernetes_endpointslice_address_target_kind", "Pod"),
            (
                "__meta_kubernetes_endpointslice_address_target_name",
                "web-1",
            ),
            (
                "__meta_kubernetes_endpointslice_endpoint_node_name",
                "node-1",
            ),
            (
                "__meta_kubernetes_endpointslice_endpoint_zone",
                "us-east-1a",
            ),
            (
                "__meta_kubernetes_endpointslice_endpoint_topology_kubernetes_io_hostname",
                "node-1",
            ),
            (
                "__meta_kubernetes_endpointslice_endpoint_topology_present_kubernetes_io_hostname",
                "true",
            ),
            ("__meta_kubernetes_pod_container_name", "app"),
            ("__meta_kubernetes_pod_container_image", "web:1"),
            ("__meta_kubernetes_pod_container_init", "false"),
            ("__meta_kubernetes_pod_container_port_name", "http"),
            ("__meta_kubernetes_pod_container_port_number", "8080"),
            ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
        ],
    );
    first.extend(backend_pod_labels());
    let second = with(ls(&port), &[("__address__", "10.0.0.7:8080")]);
    let mut uncovered = ls(&[
        ("__address__", "10.0.0.5:9090"),
        ("__meta_kubernetes_pod_container_name", "app"),
        ("__meta_kubernetes_pod_container_image", "web:1"),
        ("__meta_kubernetes_pod_container_init", "false"),
        ("__meta_kubernetes_pod_container_port_name", "metrics"),
        ("__meta_kubernetes_pod_container_port_number", "9090"),
        ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
    ]);
    uncovered.extend(backend_pod_labels());
    assert_eq!(tg.targets, vec![first, second, uncovered]);
}

#[test]
fn ingress_targets_each_rule_host_and_path_with_scheme() {
    let ing: Ingress = obj(json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "site", "namespace": "web", "labels": {"app": "site"}},
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": ["a.example.com"]}, {"hosts": ["*.wild.example.com"]}],
            "rules": [
                {"host": "a.example.com", "http": {"paths": [
                    {"path": "/api", "pathType": "Prefix", "backend": {"service": {"name": "api", "port": {"number": 80}}}},
                    {"pathType": "Prefix", "backend": {"service": {"name": "ui", "port": {"number": 80}}}}
                ]}},
                {"host": "b.example.com"},
                {"host": "x.wild.example.com"},
                {"host": "y.x.wild.example.com"}
            ]
        }
    }));
    let tg = ingress_targets(&ing);
    assert_eq!(tg.source, "ingress/web/site");
    assert_eq!(
        tg.labels,
        ls(&[
            ("__meta_kubernetes_namespace", "web"),
            ("__meta_kubernetes_ingress_name", "site"),
            ("__meta_kubernetes_ingress_label_app", "site"),
            ("__meta_kubernetes_ingress_labelpresent_app", "true"),
            ("__meta_kubernetes_ingress_class_name", "nginx"),
        ])
    );
    let t = |host: &str, scheme: &str, path: &str| {
        ls(&[
            ("__address__", host),
            ("__meta_kubernetes_ingress_scheme", scheme),
            ("__meta_kubernetes_ingress_host", host),
            ("__meta_kubernetes_ingress_path", path),
        ])
    };
    assert_eq!(
        tg.targets,
        vec![
            t("a.example.com", "https", "/api"),
            t("a.example.com", "https", "/"),
            t("b.example.com", "http", "/"),
            t("x.wild.example.com", "https", "/"),
            t("y.x.wild.example.com", "http", "/"),
        ]
    );
}
