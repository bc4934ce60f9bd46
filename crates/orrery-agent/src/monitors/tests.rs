//! Tests for monitors: tables of monitor specs (JSON) → the jobs prometheus-operator
//! documents and generates (its golden files, less the single-shard `hashmod` rules),
//! behaviour of the generated relabelings on discovered targets, the merge with the
//! file's jobs, configuration, and the list/watch loop against the fake API server.

use std::time::Duration;

use orrery_model::{Labels, Relabeler};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::*;
use crate::config::{AgentConfig, GlobalConfig, MonitorsConfig, ScrapeConfig};
use crate::discovery::kubernetes::tests::fake_api::FakeApi;
use crate::discovery::kubernetes::Role;

fn sm(spec: Value) -> Vec<Value> {
    let (jobs, notes) = generate_jobs(
        MonitorKind::ServiceMonitor,
        "default",
        "test",
        &spec,
        Role::Endpoints,
    )
    .expect("generate");
    assert!(notes.is_empty(), "{notes:?}");
    jobs
}

fn pm(spec: Value) -> Vec<Value> {
    let (jobs, notes) = generate_jobs(
        MonitorKind::PodMonitor,
        "default",
        "testpodmonitor1",
        &spec,
        Role::Endpoints,
    )
    .expect("generate");
    assert!(notes.is_empty(), "{notes:?}");
    jobs
}

/// The rules every ServiceMonitor job on the `endpoints` role has between the selector
/// and port rules and the `job` rule.
fn sm_standard_rules() -> Vec<Value> {
    let target = json!([
        "__meta_kubernetes_endpoint_address_target_kind",
        "__meta_kubernetes_endpoint_address_target_name"
    ]);
    vec![
        json!({"source_labels": target, "separator": ";", "regex": "Node;(.*)", "replacement": "${1}", "target_label": "node"}),
        json!({"source_labels": target, "separator": ";", "regex": "Pod;(.*)", "replacement": "${1}", "target_label": "pod"}),
        json!({"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"}),
        json!({"source_labels": ["__meta_kubernetes_service_name"], "target_label": "service"}),
        json!({"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"}),
        json!({"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"}),
    ]
}

fn running() -> Value {
    json!({"action": "drop", "source_labels": ["__meta_kubernetes_pod_phase"], "regex": "(Failed|Succeeded)"})
}

fn tmp_job() -> Value {
    json!({"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"})
}

#[test]
fn service_monitor_match_expressions_matches_the_operator_golden() {
    // prometheus-operator pkg/prometheus/testdata/MatchExpressionsServiceMonitor.golden.
    let jobs = sm(json!({
        "selector": {"matchExpressions": [{"key": "alpha", "operator": "In", "values": ["beta", "gamma"]}]},
        "endpoints": [{"port": "web", "interval": "30s"}],
    }));
    let mut rules = vec![
        tmp_job(),
        json!({"action": "keep", "source_labels": ["__meta_kubernetes_service_label_alpha", "__meta_kubernetes_service_labelpresent_alpha"], "regex": "(beta|gamma);true"}),
        json!({"action": "keep", "source_labels": ["__meta_kubernetes_endpoint_port_name"], "regex": "web"}),
    ];
    rules.extend(sm_standard_rules());
    rules.push(running());
    rules.push(json!({"source_labels": ["__meta_kubernetes_service_name"], "target_label": "job", "replacement": "${1}"}));
    rules.push(json!({"target_label": "endpoint", "replacement": "web"}));
    assert_eq!(
        jobs,
        vec![json!({
            "job_name": "serviceMonitor/default/test/0",
            "honor_labels": false,
            "kubernetes_sd_configs": [{"role": "endpoints", "namespaces": {"names": ["default"]}}],
            "scrape_interval": "30s",
            "relabel_configs": rules,
        })]
    );
}

#[test]
fn service_monitor_selectors_labels_and_endpoint_settings() {
    let jobs = sm(json!({
        "jobLabel": "app.kubernetes.io/name",
        "targetLabels": ["team"],
        "podTargetLabels": ["version"],
        "namespaceSelector": {"any": true},
        "selector": {
            "matchLabels": {"tier": "front", "app.kubernetes.io/name": "web"},
            "matchExpressions": [
                {"key": "env", "operator": "NotIn", "values": ["dev", "test"]},
                {"key": "scrape", "operator": "Exists"},
                {"key": "legacy", "operator": "DoesNotExist"},
            ],
        },
        "sampleLimit": 1000,
        "labelLimit": 50,
        "bodySizeLimit": "10MB",
        "endpoints": [
            {"targetPort": "metrics", "path": "/m", "scheme": "HTTPS", "params": {"module": ["http_2xx"]},
             "interval": "15s", "scrapeTimeout": "5s", "honorLabels": true, "honorTimestamps": false,
             "trackTimestampsStaleness": true, "filterRunning": false, "bearerTokenFile": "/var/run/secrets/token",
             "tlsConfig": {"caFile": "/etc/ca.crt", "serverName": "web.default.svc", "insecureSkipVerify": true},
             "relabelings": [{"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node_name", "action": "Replace"}],
             "metricRelabelings": [{"sourceLabels": ["__name__"], "regex": "go_.*", "action": "drop"}]},
            {"targetPort": 8080},
        ],
    }));
    assert_eq!(jobs.len(), 2);
    let selector = vec![
        json!({"action": "keep", "source_labels": ["__meta_kubernetes_service_label_app_kubernetes_io_name", "__meta_kubernetes_service_labelpresent_app_kubernetes_io_name"], "regex": "(web);true"}),
        json!({"action": "keep", "source_labels": ["__meta_kubernetes_service_label_tier", "__meta_kubernetes_service_labelpresent_tier"], "regex": "(front);true"}),
        json!({"action": "drop", "source_labels": ["__meta_kubernetes_service_label_env", "__meta_kubernetes_service_labelpresent_env"], "regex": "(dev|test);true"}),
        json!({"action": "keep", "source_labels": ["__meta_kubernetes_service_labelpresent_scrape"], "regex": "true"}),
        json!({"action": "drop", "source_labels": ["__meta_kubernetes_service_labelpresent_legacy"], "regex": "true"}),
    ];
    let labels = vec![
        json!({"source_labels": ["__meta_kubernetes_service_label_team"], "target_label": "team", "regex": "(.+)", "replacement": "${1}"}),
        json!({"source_labels": ["__meta_kubernetes_pod_label_version"], "target_label": "version", "regex": "(.+)", "replacement": "${1}"}),
        json!({"source_labels": ["__meta_kubernetes_service_name"], "target_label": "job", "replacement": "${1}"}),
        json!({"source_labels": ["__meta_kubernetes_service_label_app_kubernetes_io_name"], "target_label": "job", "regex": "(.+)", "replacement": "${1}"}),
    ];

    let mut rules = vec![tmp_job()];
    rules.extend(selector.clone());
    rules.push(json!({"action": "keep", "source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": "metrics"}));
    rules.extend(sm_standard_rules());
    // filterRunning: false leaves out the phase filter.
    rules.extend(labels.clone());
    rules.push(json!({"target_label": "endpoint", "replacement": "metrics"}));
    rules.push(json!({"source_labels": ["__meta_kubernetes_pod_node_name"], "target_label": "node_name", "action": "replace"}));
    assert_eq!(
        jobs[0],
        json!({
            "job_name": "serviceMonitor/default/test/0",
            "kubernetes_sd_configs": [{"role": "endpoints"}],
            "scrape_interval": "15s",
            "scrape_timeout": "5s",
            "metrics_path": "/m",
            "scheme": "https",
            "params": {"module": ["http_2xx"]},
            "honor_labels": true,
            "honor_timestamps": false,
            "track_timestamps_staleness": true,
            "bearer_token_file": "/var/run/secrets/token",
            "tls_config": {"ca_file": "/etc/ca.crt", "server_name": "web.default.svc", "insecure_skip_verify": true},
            "metric_relabel_configs": [{"source_labels": ["__name__"], "regex": "go_.*", "action": "drop"}],
            "sample_limit": 1000,
            "label_limit": 50,
            "body_size_limit": "10MB",
            "relabel_configs": rules,
        })
    );

    let mut rules = vec![tmp_job()];
    rules.extend(selector);
    rules.push(json!({"action": "keep", "source_labels": ["__meta_kubernetes_pod_container_port_number"], "regex": "8080"}));
    rules.extend(sm_standard_rules());
    rules.push(running());
    rules.extend(labels);
    rules.push(json!({"target_label": "endpoint", "replacement": "8080"}));
    assert_eq!(jobs[1]["job_name"], "serviceMonitor/default/test/1");
    assert_eq!(jobs[1]["relabel_configs"], Value::Array(rules));
    assert_eq!(jobs[1]["honor_labels"], false);
    assert!(jobs[1].get("scrape_interval").is_none());
    assert!(jobs[1].get("honor_timestamps").is_none());
    assert!(jobs[1].get("track_timestamps_staleness").is_none());
}

#[test]
fn service_monitor_on_endpointslices_uses_the_slice_labels() {
    let (jobs, _) = generate_jobs(
        MonitorKind::ServiceMonitor,
        "monitoring",
        "api",
        &json!({"namespaceSelector": {"matchNames": ["a", "b"]}, "endpoints": [{"port": "http"}]}),
        Role::EndpointSlice,
    )
    .expect("generate");
    let job = &jobs[0];
    assert_eq!(
        job["kubernetes_sd_configs"],
        json!([{"role": "endpointslice", "namespaces": {"names": ["a", "b"]}}])
    );
    let rules = job["relabel_configs"].as_array().expect("rules");
    assert_eq!(
        rules[1],
        json!({"action": "keep", "source_labels": ["__meta_kubernetes_endpointslice_port_name"], "regex": "http"})
    );
    assert_eq!(
        rules[2]["source_labels"],
        json!([
            "__meta_kubernetes_endpointslice_address_target_kind",
            "__meta_kubernetes_endpointslice_address_target_name"
        ])
    );
}

#[test]
fn pod_monitor_matches_the_operator_generator() {
    // prometheus-operator's TestPodMonitor... golden (podTargetLabels, honorTimestamps),
    // with the running-pods filter that current operators put right after the first rule.
    let jobs = pm(json!({
        "podTargetLabels": ["example", "env"],
        "podMetricsEndpoints": [{"honorTimestamps": false, "port": "web", "interval": "30s"}],
    }));
    assert_eq!(
        jobs,
        vec![json!({
            "job_name": "podMonitor/default/testpodmonitor1/0",
            "honor_labels": false,
            "honor_timestamps": false,
            "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": ["default"]}}],
            "scrape_interval": "30s",
            "relabel_configs": [
                tmp_job(),
                running(),
                {"action": "keep", "source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": "web"},
                {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
                {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
                {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
                {"source_labels": ["__meta_kubernetes_pod_label_example"], "target_label": "example", "regex": "(.+)", "replacement": "${1}"},
                {"source_labels": ["__meta_kubernetes_pod_label_env"], "target_label": "env", "regex": "(.+)", "replacement": "${1}"},
                {"target_label": "job", "replacement": "default/testpodmonitor1"},
                {"target_label": "endpoint", "replacement": "web"},
            ],
        })]
    );
}

#[test]
fn pod_monitor_selector_port_number_and_job_label() {
    let jobs = pm(json!({
        "jobLabel": "app",
        "selector": {"matchLabels": {"app": "db"}, "matchExpressions": [{"key": "shard", "operator": "In", "values": ["1"]}]},
        "namespaceSelector": {"matchNames": ["data"]},
        "podMetricsEndpoints": [{"portNumber": 9187, "filterRunning": false,
                                 "relabelings": [{"action": "labeldrop", "regex": "pod_template_hash"}]}],
    }));
    assert_eq!(
        jobs[0]["kubernetes_sd_configs"],
        json!([{"role": "pod", "namespaces": {"names": ["data"]}}])
    );
    assert_eq!(
        jobs[0]["relabel_configs"],
        json!([
            tmp_job(),
            {"action": "keep", "source_labels": ["__meta_kubernetes_pod_label_app", "__meta_kubernetes_pod_labelpresent_app"], "regex": "(db);true"},
            {"action": "keep", "source_labels": ["__meta_kubernetes_pod_label_shard", "__meta_kubernetes_pod_labelpresent_shard"], "regex": "(1);true"},
            {"action": "keep", "source_labels": ["__meta_kubernetes_pod_container_port_number"], "regex": "9187"},
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {"target_label": "job", "replacement": "default/testpodmonitor1"},
            {"source_labels": ["__meta_kubernetes_pod_label_app"], "target_label": "job", "regex": "(.+)", "replacement": "${1}"},
            {"action": "labeldrop", "regex": "pod_template_hash"},
        ])
    );
}

#[test]
fn invalid_monitors_are_rejected_with_the_field() {
    let cases = [
        (
            json!({"endpoints": [{"port": "web", "interval": "soon"}]}),
            "spec.endpoints[0]: interval",
        ),
        (
            json!({"selector": {"matchExpressions": [{"key": "a", "operator": "Like"}]}, "endpoints": [{}]}),
            "spec.selector.matchExpressions[0]: unknown operator \"Like\"",
        ),
        (
            json!({"endpoints": [{"relabelings": [{"action": "explode"}]}]}),
            "spec.endpoints[0]: relabelings[0]",
        ),
        (
            json!({"endpoints": [{"metricRelabelings": [{"action": "hashmod", "sourceLabels": ["a"], "targetLabel": "b"}]}]}),
            "spec.endpoints[0]: metricRelabelings[0]",
        ),
        (json!({"endpoints": "web"}), "spec:"),
    ];
    for (spec, want) in cases {
        let err = generate_jobs(
            MonitorKind::ServiceMonitor,
            "ns",
            "m",
            &spec,
            Role::Endpoints,
        )
        .expect_err("must fail")
        .to_string();
        assert!(err.starts_with(want), "{spec}: {err}");
    }
}

#[test]
fn unsupported_settings_are_reported_per_field() {
    let spec = json!({
        "targetLimit": 10,
        "attachMetadata": {"node": true},
        "endpoints": [{
            "port": "web",
            "basicAuth": {"username": {"name": "s", "key": "u"}},
            "bearerTokenSecret": {"name": "", "key": ""},
            "proxyUrl": "http://proxy",
            "tlsConfig": {"ca": {"secret": {"name": "ca", "key": "ca.crt"}}, "serverName": "x"},
            "honorLabels": false,
        }],
    });
    let (jobs, notes) = generate_jobs(
        MonitorKind::ServiceMonitor,
        "ns",
        "m",
        &spec,
        Role::Endpoints,
    )
    .expect("generate");
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        notes,
        [
            "spec.attachMetadata",
            "spec.targetLimit",
            "spec.endpoints[0].basicAuth",
            "spec.endpoints[0].proxyUrl",
            "spec.endpoints[0].tlsConfig.ca",
        ]
    );
}

fn monitors_cfg(extra: Value) -> MonitorsConfig {
    let mut cfg = json!({"enabled": true, "api_server": "http://127.0.0.1:1"});
    if let (Some(c), Some(e)) = (cfg.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    serde_json::from_value(cfg).expect("monitors config")
}

#[test]
fn generated_jobs_connect_like_the_monitors_section_and_relabel_targets() {
    let cfg = monitors_cfg(json!({}));
    let spec = json!({
        "jobLabel": "app",
        "selector": {"matchLabels": {"app": "web"}},
        "endpoints": [{"port": "http", "metricRelabelings": [{"sourceLabels": ["__name__"], "regex": "go_.*", "action": "drop"}]}],
    });
    let (jobs, _) = scrape_configs(MonitorKind::ServiceMonitor, "shop", "web", &spec, &cfg)
        .expect("scrape configs");
    let sc = &jobs[0];
    assert_eq!(sc.job_name, "serviceMonitor/shop/web/0");
    assert_eq!(sc.metrics_path, "/metrics");
    assert_eq!(sc.scheme, "http");
    assert!(sc.scrape_interval.is_none() && sc.honor_timestamps && !sc.honor_labels);
    assert_eq!(sc.metric_relabel_configs.len(), 1);
    let sd = &sc.kubernetes_sd_configs[0];
    assert_eq!(sd.role, Role::Endpoints);
    assert_eq!(sd.api_server.as_deref(), Some("http://127.0.0.1:1"));
    assert_eq!(sd.namespaces.names, ["shop"]);

    // The rules applied to an `endpoints` target of the selected service.
    let relabel = Relabeler::new(&sc.relabel_configs).expect("relabeler");
    let target = |service_app: &str, port: &str, phase: &str| {
        Labels::from_pairs([
            ("__address__", "10.0.0.1:8080"),
            ("job", sc.job_name.as_str()),
            ("__meta_kubernetes_namespace", "shop"),
            ("__meta_kubernetes_service_name", "web-svc"),
            ("__meta_kubernetes_service_label_app", service_app),
            ("__meta_kubernetes_service_labelpresent_app", "true"),
            ("__meta_kubernetes_endpoint_port_name", port),
            ("__meta_kubernetes_endpoint_address_target_kind", "Pod"),
            ("__meta_kubernetes_endpoint_address_target_name", "web-1"),
            ("__meta_kubernetes_pod_name", "web-1"),
            ("__meta_kubernetes_pod_container_name", "app"),
            ("__meta_kubernetes_pod_phase", phase),
        ])
    };
    let out = relabel
        .process(&target("web", "http", "Running"))
        .expect("kept");
    for (name, value) in [
        ("job", "web"),
        ("namespace", "shop"),
        ("service", "web-svc"),
        ("pod", "web-1"),
        ("container", "app"),
        ("endpoint", "http"),
        ("__tmp_prometheus_job_name", "serviceMonitor/shop/web/0"),
    ] {
        assert_eq!(out.get(name), Some(value), "{name} in {out}");
    }
    assert!(relabel.process(&target("db", "http", "Running")).is_none());
    assert!(relabel.process(&target("web", "grpc", "Running")).is_none());
    assert!(relabel
        .process(&target("web", "http", "Succeeded"))
        .is_none());
}

fn job(name: &str, extra: &str) -> ScrapeConfig {
    let text = format!(
        "cluster: c\nserver: {{url: http://s}}\nscrape_configs:\n  - job_name: {name}\n{extra}"
    );
    AgentConfig::parse(&text, "t.yml")
        .expect("config")
        .scrape_configs
        .remove(0)
}

#[test]
fn merge_keeps_file_jobs_and_skips_clashing_or_invalid_generated_ones() {
    let file = vec![job("serviceMonitor/a/b/0", "")];
    let generated = vec![
        job("serviceMonitor/a/b/0", "    metrics_path: /other\n"),
        job(
            "podMonitor/a/c/0",
            "    scrape_interval: 10s\n    scrape_timeout: 5s\n",
        ),
        job(
            "podMonitor/a/d/0",
            "    scrape_interval: 10s\n    scrape_timeout: 5s\n",
        )
        .with_timeout(Duration::from_secs(20)),
    ];
    let merged = merge_jobs(&file, &generated, &GlobalConfig::default());
    let names: Vec<&str> = merged.iter().map(|s| s.job_name.as_str()).collect();
    assert_eq!(names, ["serviceMonitor/a/b/0", "podMonitor/a/c/0"]);
    assert_eq!(merged[0].metrics_path, "/metrics");
}

trait WithTimeout {
    fn with_timeout(self, t: Duration) -> Self;
}

impl WithTimeout for ScrapeConfig {
    fn with_timeout(mut self, t: Duration) -> Self {
        self.scrape_timeout = Some(t);
        self
    }
}

#[test]
fn monitors_section_defaults_off_and_is_validated() {
    let base = "cluster: c\nserver: {url: http://s}\n";
    let c = AgentConfig::parse(base, "a.yml").expect("config");
    assert!(!c.monitors.enabled && c.monitors.namespaces.is_empty());

    let c = AgentConfig::parse(
        &format!("{base}monitors:\n  enabled: true\n  namespaces: [apps]\n  service_discovery_role: endpointslice\n  api_server: https://k8s:6443\n"),
        "a.yml",
    )
    .expect("config");
    assert_eq!(c.monitors.namespaces, ["apps"]);
    assert_eq!(service_role(&c.monitors), Role::EndpointSlice);

    for (section, want) in [
        (
            "monitors:\n  enabled: true\n  service_discovery_role: pod\n",
            "service_discovery_role",
        ),
        (
            "monitors:\n  enabled: true\n  api_server: http://a\n  kubeconfig_file: /k\n",
            "kubeconfig_file",
        ),
        ("monitors:\n  enabeld: true\n", "enabeld"),
    ] {
        let e = AgentConfig::parse(&format!("{base}{section}"), "a.yml").expect_err("invalid");
        assert!(e.to_string().contains(want), "{e}");
    }
}

fn service_monitor(name: &str, interval: &str) -> Value {
    json!({
        "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
        "spec": {"selector": {"matchLabels": {"app": name}}, "endpoints": [{"port": "http", "interval": interval}]},
    })
}

async fn next(rx: &mut mpsc::Receiver<Vec<ScrapeConfig>>) -> Vec<ScrapeConfig> {
    match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
        Ok(Some(jobs)) => jobs,
        Ok(None) => panic!("monitors watcher stopped"),
        Err(_) => panic!("no snapshot within 5s"),
    }
}

fn summary(jobs: &[ScrapeConfig]) -> Vec<(String, Option<Duration>)> {
    jobs.iter()
        .map(|j| (j.job_name.clone(), j.scrape_interval))
        .collect()
}

#[tokio::test]
async fn watcher_follows_service_monitor_adds_changes_and_deletes() {
    let api = FakeApi::start().await;
    api.upsert("servicemonitors", service_monitor("web", "30s"));
    let cfg = monitors_cfg(json!({"api_server": api.url}));
    let (tx, mut rx) = mpsc::channel(4);
    let task = tokio::spawn(run(cfg, tx));

    // The first snapshot comes after both kinds are listed.
    let jobs = next(&mut rx).await;
    assert_eq!(
        summary(&jobs),
        [(
            "serviceMonitor/default/web/0".to_owned(),
            Some(Duration::from_secs(30))
        )]
    );
    assert_eq!(
        jobs[0].kubernetes_sd_configs[0].api_server.as_deref(),
        Some(api.url.as_str())
    );
    for path in [
        "/apis/monitoring.coreos.com/v1/servicemonitors?",
        "/apis/monitoring.coreos.com/v1/podmonitors?",
    ] {
        assert!(
            api.requests().iter().any(|r| r.starts_with(path)),
            "{path}: {:?}",
            api.requests()
        );
    }

    // Changing the interval replaces the job.
    api.upsert("servicemonitors", service_monitor("web", "10s"));
    let jobs = next(&mut rx).await;
    assert_eq!(
        summary(&jobs),
        [(
            "serviceMonitor/default/web/0".to_owned(),
            Some(Duration::from_secs(10))
        )]
    );

    // A second monitor adds its job; a PodMonitor adds one of its kind.
    api.upsert("servicemonitors", service_monitor("api", "1m"));
    let jobs = next(&mut rx).await;
    assert_eq!(jobs.len(), 2);
    api.upsert(
        "podmonitors",
        json!({"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor",
               "metadata": {"name": "db", "namespace": "data"},
               "spec": {"podMetricsEndpoints": [{"port": "metrics"}, {"port": "exporter"}]}}),
    );
    let jobs = next(&mut rx).await;
    let names: Vec<&str> = jobs.iter().map(|j| j.job_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "serviceMonitor/default/api/0",
            "serviceMonitor/default/web/0",
            "podMonitor/data/db/0",
            "podMonitor/data/db/1",
        ]
    );

    // Deleting removes the monitor's jobs.
    api.delete("servicemonitors", "default", "web");
    let jobs = next(&mut rx).await;
    let names: Vec<&str> = jobs.iter().map(|j| j.job_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "serviceMonitor/default/api/0",
            "podMonitor/data/db/0",
            "podMonitor/data/db/1"
        ]
    );

    // A monitor that cannot be translated has no jobs (and the others stay).
    api.upsert("servicemonitors", service_monitor("api", "often"));
    let jobs = next(&mut rx).await;
    assert_eq!(jobs.len(), 2);

    drop(rx);
    let res = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("run ends when the receiver is dropped")
        .expect("join");
    assert!(res.is_ok());
}

#[tokio::test]
async fn watcher_limited_to_namespaces_watches_only_them() {
    let api = FakeApi::start().await;
    api.upsert("servicemonitors", service_monitor("web", "30s"));
    let mut other = service_monitor("x", "30s");
    other["metadata"]["namespace"] = json!("kube-system");
    api.upsert("servicemonitors", other);
    let cfg = monitors_cfg(json!({"api_server": api.url, "namespaces": ["default"]}));
    let (tx, mut rx) = mpsc::channel(4);
    tokio::spawn(run(cfg, tx));
    let jobs = next(&mut rx).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].job_name, "serviceMonitor/default/web/0");
    assert!(api
        .requests()
        .iter()
        .all(|r| r.contains("/namespaces/default/")));
}

/// Polls the agent's targets until `want` holds, failing after 10 s.
async fn wait_targets(
    agent: &crate::Agent,
    what: &str,
    want: impl Fn(&crate::scrape::TargetsSnapshot) -> bool,
) -> crate::scrape::TargetsSnapshot {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let snapshot = agent.targets().await;
        if want(&snapshot) {
            return snapshot;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: {snapshot:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn agent_adds_replaces_and_removes_monitor_jobs() {
    let api = FakeApi::start().await;
    api.upsert(
        "services",
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
               "spec": {"ports": [{"name": "http", "port": 80}]}}),
    );
    api.upsert(
        "endpoints",
        json!({"apiVersion": "v1", "kind": "Endpoints",
               "metadata": {"name": "web", "namespace": "default"},
               "subsets": [{"addresses": [{"ip": "127.0.0.1"}],
                            "ports": [{"name": "http", "port": 1, "protocol": "TCP"}, {"name": "admin", "port": 2, "protocol": "TCP"}]}]}),
    );
    let text = format!(
        "cluster: c\nserver: {{url: http://127.0.0.1:1}}\nscrape_configs:\n  - job_name: file\n    static_configs: [{{targets: ['127.0.0.1:3']}}]\nmonitors:\n  enabled: true\n  api_server: {}\n",
        api.url
    );
    let cfg = AgentConfig::parse(&text, "agent.yml").expect("config");
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = crate::Agent::start(cfg, dir.path()).await.expect("agent");

    // Add: the ServiceMonitor's job scrapes the `http` port only, with the operator's labels.
    api.upsert("servicemonitors", service_monitor("web", "30s"));
    let snapshot = wait_targets(&agent, "monitor job added", |s| {
        s.active
            .iter()
            .any(|t| t.job.starts_with("serviceMonitor/"))
    })
    .await;
    let jobs: Vec<&str> = snapshot.active.iter().map(|t| t.job.as_str()).collect();
    assert_eq!(
        jobs,
        ["file", "serviceMonitor/default/web/0"],
        "{snapshot:?}"
    );
    let t = &snapshot.active[1].target;
    assert_eq!(t.url, "http://127.0.0.1:1/metrics");
    assert_eq!(t.interval, Duration::from_secs(30));
    for (name, value) in [
        ("job", "web"),
        ("namespace", "default"),
        ("service", "web"),
        ("endpoint", "http"),
    ] {
        assert_eq!(t.labels.get(name), Some(value), "{name} in {}", t.labels);
    }

    // Change: a new interval replaces the job's loop.
    api.upsert("servicemonitors", service_monitor("web", "10s"));
    wait_targets(&agent, "interval changed", |s| {
        s.active
            .iter()
            .any(|t| t.target.interval == Duration::from_secs(10))
    })
    .await;

    // Delete: the job goes; the file's job stays.
    api.delete("servicemonitors", "default", "web");
    let snapshot = wait_targets(&agent, "monitor job removed", |s| {
        s.active
            .iter()
            .all(|t| !t.job.starts_with("serviceMonitor/"))
    })
    .await;
    let jobs: Vec<&str> = snapshot.active.iter().map(|t| t.job.as_str()).collect();
    assert_eq!(jobs, ["file"]);
    agent.shutdown().await;
}
