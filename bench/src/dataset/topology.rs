//! The shape of the dataset: clusters, nodes, deployments and pods, and the series each
//! scrape target exposes.
//!
//! Per cluster (every series carries `cluster`, `job` and `instance`):
//! - apiserver instances with `apiserver_request_duration_seconds` (classic histogram by
//!   verb/resource/code) and `apiserver_request_total`;
//! - nodes, each with a node-exporter target (CPU seconds per cpu and mode, memory,
//!   filesystem, network, disk, load) and a kubelet/cAdvisor target (`container_*` per
//!   container and per pod);
//! - one kube-state-metrics target with `kube_pod_*` info and status series per pod;
//! - the `up`/`scrape_*` series Prometheus adds for every target.
//!
//! Pods belong to deployments. A `churn` fraction of deployments roll out once during the
//! range: their pods are replaced one by one 30s apart, with new names, uids, container ids
//! and image tag, possibly on another node.

use std::collections::BTreeMap;

use orrery_model::Labels;

use super::jitter;
use super::{Config, Dataset, FamilyKind, Jitter, Model, SeriesSpec, Target, SCRAPE_INTERVAL_MS};
use orrery_testkit::rng::{hash_str, mix, Rng};

/// Apiserver histogram bucket bounds (a subset of the real apiserver's).
const APISERVER_LE: [f64; 22] = [
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
    10.0, 15.0, 20.0, 30.0, 60.0,
];
/// Series per apiserver verb/resource/code combination: buckets + `+Inf` + sum + count + request_total.
const APISERVER_SERIES_PER_COMBO: usize = APISERVER_LE.len() + 4;
const VERBS: [(&str, &[&str], f64); 7] = [
    ("GET", &["200", "404"], 0.02),
    ("LIST", &["200"], 0.15),
    ("WATCH", &["200"], 20.0),
    ("POST", &["201", "409"], 0.04),
    ("PUT", &["200", "409"], 0.03),
    ("PATCH", &["200"], 0.03),
    ("DELETE", &["200", "404"], 0.05),
];
const RESOURCES: [(&str, &str); 14] = [
    ("pods", ""),
    ("nodes", ""),
    ("leases", "coordination.k8s.io"),
    ("configmaps", ""),
    ("endpoints", ""),
    ("services", ""),
    ("secrets", ""),
    ("deployments", "apps"),
    ("replicasets", "apps"),
    ("events", ""),
    ("namespaces", ""),
    ("endpointslices", "discovery.k8s.io"),
    ("jobs", "batch"),
    ("serviceaccounts", ""),
];
const NAMESPACES: [&str; 10] = [
    "kube-system",
    "monitoring",
    "ingress",
    "payments",
    "checkout",
    "search",
    "catalog",
    "identity",
    "data",
    "default",
];
const APP_WORDS: [&str; 16] = [
    "api",
    "worker",
    "frontend",
    "gateway",
    "cache",
    "indexer",
    "scheduler",
    "consumer",
    "router",
    "auth",
    "billing",
    "ledger",
    "notifier",
    "exporter",
    "sync",
    "proxy",
];
const CPU_MODES: [(&str, f64, f64); 8] = [
    ("idle", 0.55, 0.95),
    ("user", 0.03, 0.35),
    ("system", 0.01, 0.08),
    ("iowait", 0.0005, 0.02),
    ("irq", 0.0, 0.002),
    ("softirq", 0.001, 0.01),
    ("steal", 0.0, 0.004),
    ("nice", 0.0, 0.0005),
];
const MOUNTS: [(&str, &str, &str); 3] = [
    ("/dev/nvme0n1p1", "/", "xfs"),
    ("/dev/nvme1n1", "/var/lib/kubelet", "ext4"),
    ("tmpfs", "/run", "tmpfs"),
];
/// Rough series per node (node-exporter with 8 cpus, target series, 30 pods), used only
/// to size the number of nodes; the exact fill happens pod by pod.
const EST_SERIES_PER_NODE: usize = 130 + 30 * 40;
const PODS_PER_NODE: usize = 30;
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

type Pairs = Vec<(&'static str, String)>;

struct Builder {
    cfg: Config,
    steps: u32,
    rng: Rng,
    targets: Vec<Target>,
    series: Vec<SeriesSpec>,
    families: BTreeMap<String, FamilyKind>,
    next_stream: u64,
}

struct Node {
    name: String,
    ip: String,
    kubelet: u32,
    kubelet_base: Pairs,
}

struct Deployment {
    namespace: &'static str,
    name: String,
    replicas: usize,
    containers: Vec<ContainerSpec>,
}

#[derive(Clone)]
struct ContainerSpec {
    name: &'static str,
    cpu: f64,
    mem: f64,
}

/// One incarnation of a pod: names and ids change when it is replaced.
struct PodIdentity {
    name: String,
    rs: String,
    uid: String,
    ip: String,
    image_tag: u32,
}

pub(super) fn build(cfg: Config) -> Dataset {
    let steps = ((cfg.hours * 3600.0 * 1000.0) / SCRAPE_INTERVAL_MS as f64)
        .round()
        .max(2.0) as u32;
    let aligned_end = cfg.end_ms - cfg.end_ms.rem_euclid(SCRAPE_INTERVAL_MS);
    // A late scrape (at most 3 s) of the last step must still be before the end, so the
    // jittered grid ends one step earlier.
    let margin = match cfg.jitter {
        Jitter::None => 0,
        Jitter::Realistic => SCRAPE_INTERVAL_MS,
    };
    let start_ms = aligned_end - margin - steps as i64 * SCRAPE_INTERVAL_MS;
    let mut b = Builder {
        rng: Rng::derive(cfg.seed, u64::MAX),
        cfg: cfg.clone(),
        steps,
        targets: Vec::new(),
        series: Vec::new(),
        families: BTreeMap::new(),
        next_stream: 0,
    };
    let clusters = cfg.clusters.max(1);
    for c in 0..clusters {
        let budget = cfg.series / clusters + usize::from(c < cfg.series % clusters);
        b.cluster(c, budget);
    }
    Dataset {
        config: cfg,
        start_ms,
        steps,
        targets: b.targets,
        series: b.series,
        families: b.families,
    }
}

impl Builder {
    fn stream(&mut self) -> u64 {
        self.next_stream += 1;
        self.next_stream
    }

    fn target(&mut self, job: &str, instance: &str) -> u32 {
        let id = hash_str(&format!("{job}/{instance}"));
        let offset = (mix(self.cfg.seed ^ id) % SCRAPE_INTERVAL_MS as u64) as i64;
        // node-exporter's counters are the kernel's and kube-state-metrics' are read from
        // the API server: neither resets when the exporter restarts.
        let restarts = if job == "node-exporter" || job == "kube-state-metrics" {
            Vec::new()
        } else {
            jitter::restart_steps(self.cfg.seed, id, self.steps)
        };
        self.targets.push(Target {
            job: job.to_string(),
            offset_ms: offset,
            stream: id,
            class: jitter::sender_class(self.cfg.seed, id),
            restarts,
        });
        (self.targets.len() - 1) as u32
    }

    /// Adds one series. `stream` is `None` for a series with its own random stream.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        kind: FamilyKind,
        family: &str,
        name: &str,
        base: &Pairs,
        extra: &[(&str, &str)],
        target: u32,
        life: (u32, u32),
        model: Model,
        stream: Option<u64>,
    ) {
        if !self.families.contains_key(family) {
            self.families.insert(family.to_string(), kind);
        }
        let labels = Labels::from_pairs(
            std::iter::once(("__name__", name))
                .chain(base.iter().map(|(n, v)| (*n, v.as_str())))
                .chain(extra.iter().copied()),
        );
        let stream = stream.unwrap_or_else(|| self.stream());
        self.series.push(SeriesSpec {
            labels,
            target,
            first_step: life.0,
            end_step: life.1,
            model,
            stream,
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn counter(
        &mut self,
        name: &str,
        base: &Pairs,
        extra: &[(&str, &str)],
        t: u32,
        life: (u32, u32),
        rate: f64,
        quantum: f64,
    ) {
        let m = Model::Counter {
            rate,
            noise: 0.35,
            quantum,
            reset_per_step: 1.0 / 50_000.0,
        };
        self.add(
            FamilyKind::Counter,
            name,
            name,
            base,
            extra,
            t,
            life,
            m,
            None,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn gauge(
        &mut self,
        name: &str,
        base: &Pairs,
        extra: &[(&str, &str)],
        t: u32,
        life: (u32, u32),
        mean: f64,
        sd: f64,
        move_prob: f64,
        quantum: f64,
    ) {
        let m = Model::Gauge {
            mean,
            sd,
            move_prob,
            quantum,
        };
        self.add(FamilyKind::Gauge, name, name, base, extra, t, life, m, None);
    }

    fn info(
        &mut self,
        name: &str,
        base: &Pairs,
        extra: &[(&str, &str)],
        t: u32,
        life: (u32, u32),
        v: f64,
    ) {
        self.add(
            FamilyKind::Info,
            name,
            name,
            base,
            extra,
            t,
            life,
            Model::Constant(v),
            None,
        );
    }

    /// The series Prometheus records for every scrape of a target.
    fn target_series(&mut self, base: &Pairs, t: u32, scraped: f64) {
        let life = (0, self.steps);
        self.info("up", base, &[], t, life, 1.0);
        let dur = self.rng.range(0.005, 0.4);
        self.gauge(
            "scrape_duration_seconds",
            base,
            &[],
            t,
            life,
            dur,
            dur * 0.1,
            1.0,
            0.0,
        );
        self.gauge(
            "scrape_samples_scraped",
            base,
            &[],
            t,
            life,
            scraped,
            3.0,
            0.1,
            1.0,
        );
        self.gauge(
            "scrape_samples_post_metric_relabeling",
            base,
            &[],
            t,
            life,
            scraped,
            3.0,
            0.1,
            1.0,
        );
        self.info("scrape_series_added", base, &[], t, life, 0.0);
    }

    fn cluster(&mut self, c: usize, budget: usize) {
        let cluster = format!("cluster-{c}");
        let start_len = self.series.len();
        let used = |b: &Builder| b.series.len() - start_len;

        // Control plane: sized to about 8% of the cluster's series.
        let instances = if budget >= 20_000 { 3 } else { 2 };
        let combos = (budget * 8 / 100 / instances / APISERVER_SERIES_PER_COMBO).max(1);
        for i in 0..instances {
            self.apiserver(&cluster, c, i, combos);
        }

        // kube-state-metrics: one target per cluster.
        let ksm_instance = format!("10.{c}.255.2:8080");
        let ksm = self.target("kube-state-metrics", &ksm_instance);
        let ksm_base: Pairs = vec![
            ("cluster", cluster.clone()),
            ("job", "kube-state-metrics".into()),
            ("instance", ksm_instance),
            ("service", "kube-state-metrics".into()),
            ("endpoint", "http-metrics".into()),
        ];
        let mut ksm_meta = ksm_base.clone();
        ksm_meta.push(("namespace", "monitoring".into()));
        self.target_series(&ksm_meta, ksm, budget as f64 * 0.4);

        // Nodes with node-exporter and kubelet targets.
        let remaining = budget.saturating_sub(used(self));
        let n_nodes = (remaining as f64 / EST_SERIES_PER_NODE as f64)
            .round()
            .max(1.0) as usize;
        let nodes: Vec<Node> = (0..n_nodes).map(|n| self.node(&cluster, c, n)).collect();

        // Deployments until the budget is used up, pods spread round-robin over nodes.
        let mut deployments = Vec::new();
        let mut next_node = 0usize;
        'fill: for d in 0.. {
            let mut dep = self.deployment(d);
            let mut placed = 0;
            for _ in 0..dep.replicas {
                let left = budget.saturating_sub(used(self));
                let per_pod = pod_series(dep.containers.len());
                if left < pod_series(1) {
                    dep.replicas = placed;
                    if placed > 0 {
                        deployments.push(dep);
                    }
                    break 'fill;
                }
                if per_pod > left {
                    // The last pod of the cluster: shrink it to fit.
                    let fit = (1..dep.containers.len())
                        .rev()
                        .find(|&k| pod_series(k) <= left)
                        .unwrap_or(1);
                    if placed == 0 {
                        dep.containers.truncate(fit);
                    } else {
                        dep.replicas = placed;
                        deployments.push(dep);
                        continue 'fill;
                    }
                }
                let id = self.pod_identity(&dep, c, 0);
                let node = next_node % nodes.len();
                next_node += 1;
                self.pod(
                    &cluster,
                    &dep,
                    &id,
                    &nodes[node],
                    ksm,
                    &ksm_base,
                    (0, self.steps),
                );
                placed += 1;
            }
            deployments.push(dep);
        }

        // Churn: rollouts replace every pod of some deployments, 30s apart.
        let pods_so_far: Vec<(usize, usize)> = {
            // (deployment, node) in the order pods were placed above.
            let mut v = Vec::new();
            let mut n = 0usize;
            for (di, dep) in deployments.iter().enumerate() {
                for _ in 0..dep.replicas {
                    v.push((di, n % nodes.len()));
                    n += 1;
                }
            }
            v
        };
        let mut pod_ix = 0usize;
        let mut stale_fixups: Vec<(usize, usize, u32)> = Vec::new();
        for (di, dep) in deployments.iter().enumerate() {
            let first_pod = pod_ix;
            pod_ix += dep.replicas;
            if !self.rng.chance(self.cfg.churn) || self.steps < 20 {
                continue;
            }
            let lo = self.steps / 10;
            let hi = self.steps * 9 / 10;
            let s0 = lo + self.rng.below((hi - lo).max(1) as u64) as u32;
            if s0 as usize + 2 * dep.replicas >= self.steps as usize {
                continue;
            }
            for r in 0..dep.replicas {
                let s = s0 + 2 * r as u32;
                let id = self.pod_identity(dep, c, 1);
                let node = self.rng.below(nodes.len() as u64) as usize;
                self.pod(
                    &cluster,
                    dep,
                    &id,
                    &nodes[node],
                    ksm,
                    &ksm_base,
                    (s, self.steps),
                );
                stale_fixups.push((di, first_pod + r, s));
            }
        }
        debug_assert_eq!(pod_ix, pods_so_far.len(), "BUG: pod count mismatch");
        // End the replaced pods' series: find them by their pod name, which is unique.
        if !stale_fixups.is_empty() {
            let mut end_of_pod: BTreeMap<String, u32> = BTreeMap::new();
            let original_pods = self.original_pod_names(start_len, &cluster);
            for &(_, p, s) in &stale_fixups {
                end_of_pod.insert(original_pods[p].clone(), s);
            }
            for spec in &mut self.series[start_len..] {
                if spec.first_step != 0 {
                    continue;
                }
                if let Some(&s) = spec.labels.get("pod").and_then(|p| end_of_pod.get(p)) {
                    spec.end_step = s;
                }
            }
        }
    }

    /// Names of the pods created at step 0 in this cluster, in creation order.
    fn original_pod_names(&self, start_len: usize, cluster: &str) -> Vec<String> {
        let mut names = Vec::new();
        for s in &self.series[start_len..] {
            if s.first_step == 0
                && s.labels.get("cluster") == Some(cluster)
                && s.labels.metric_name() == Some("kube_pod_info")
            {
                names.push(s.labels.get("pod").unwrap_or_default().to_string());
            }
        }
        names
    }

    fn apiserver(&mut self, cluster: &str, c: usize, i: usize, combos: usize) {
        let instance = format!("10.{c}.0.{}:6443", 10 + i);
        let t = self.target("apiserver", &instance);
        let base: Pairs = vec![
            ("cluster", cluster.to_string()),
            ("job", "apiserver".into()),
            ("instance", instance),
            ("namespace", "default".into()),
            ("service", "kubernetes".into()),
            ("endpoint", "https".into()),
        ];
        self.target_series(&base, t, (combos * APISERVER_SERIES_PER_COMBO) as f64);
        let life = (0, self.steps);
        let mut made = 0;
        'outer: for (resource, group) in RESOURCES {
            for (verb, codes, mean) in VERBS {
                for (ci, code) in codes.iter().enumerate() {
                    if made == combos {
                        break 'outer;
                    }
                    made += 1;
                    // Errors are rarer than successes; popular resources get more traffic.
                    let rate = self.rng.range(0.05, 20.0) / (1.0 + 10.0 * ci as f64);
                    let scope = if resource == "nodes" || resource == "namespaces" {
                        "cluster"
                    } else {
                        "namespace"
                    };
                    let extra: [(&str, &str); 7] = [
                        ("verb", verb),
                        ("resource", resource),
                        ("group", group),
                        ("version", "v1"),
                        ("scope", scope),
                        ("code", code),
                        ("component", "apiserver"),
                    ];
                    let stream = self.stream();
                    let fam = "apiserver_request_duration_seconds";
                    let mean = mean * self.rng.range(0.5, 2.0);
                    for le in APISERVER_LE {
                        let frac = 1.0 - (-le / mean).exp();
                        let le_s = format_le(le);
                        let mut ex = extra.to_vec();
                        ex.push(("le", &le_s));
                        self.add(
                            FamilyKind::Histogram,
                            fam,
                            "apiserver_request_duration_seconds_bucket",
                            &base,
                            &ex,
                            t,
                            life,
                            Model::Bucket { rate, frac },
                            Some(stream),
                        );
                    }
                    let mut ex = extra.to_vec();
                    ex.push(("le", "+Inf"));
                    self.add(
                        FamilyKind::Histogram,
                        fam,
                        "apiserver_request_duration_seconds_bucket",
                        &base,
                        &ex,
                        t,
                        life,
                        Model::Bucket { rate, frac: 1.0 },
                        Some(stream),
                    );
                    self.add(
                        FamilyKind::Histogram,
                        fam,
                        "apiserver_request_duration_seconds_count",
                        &base,
                        &extra,
                        t,
                        life,
                        Model::Bucket { rate, frac: 1.0 },
                        Some(stream),
                    );
                    self.add(
                        FamilyKind::Histogram,
                        fam,
                        "apiserver_request_duration_seconds_sum",
                        &base,
                        &extra,
                        t,
                        life,
                        Model::HistSum { rate, mean },
                        Some(stream),
                    );
                    self.counter("apiserver_request_total", &base, &extra, t, life, rate, 1.0);
                }
            }
        }
    }

    fn node(&mut self, cluster: &str, c: usize, n: usize) -> Node {
        let ip = format!("10.{c}.{}.{}", 16 + n / 200, 10 + n % 200);
        let name = format!("ip-{}.eu-west-1.compute.internal", ip.replace('.', "-"));
        let life = (0, self.steps);

        // node-exporter.
        let instance = format!("{ip}:9100");
        let t = self.target("node-exporter", &instance);
        let pod_suffix = self.rng.k8s_suffix(5);
        let base: Pairs = vec![
            ("cluster", cluster.to_string()),
            ("job", "node-exporter".into()),
            ("instance", instance),
            ("namespace", "monitoring".into()),
            ("pod", format!("node-exporter-{pod_suffix}")),
            ("container", "node-exporter".into()),
            ("service", "node-exporter".into()),
            ("endpoint", "https".into()),
        ];
        let cpus = [4usize, 8, 8, 16][self.rng.below(4) as usize];
        self.target_series(&base, t, (cpus * 8 + 70) as f64);
        for cpu in 0..cpus {
            let cpu_s = cpu.to_string();
            for (mode, lo, hi) in CPU_MODES {
                let rate = self.rng.range(lo, hi);
                self.counter(
                    "node_cpu_seconds_total",
                    &base,
                    &[("cpu", &cpu_s), ("mode", mode)],
                    t,
                    life,
                    rate,
                    0.01,
                );
            }
        }
        let mem = cpus as f64 * 4.0 * GIB;
        self.info("node_memory_MemTotal_bytes", &base, &[], t, life, mem);
        self.info("node_memory_SwapTotal_bytes", &base, &[], t, life, 0.0);
        for (name, share) in [
            ("node_memory_MemAvailable_bytes", 0.45),
            ("node_memory_MemFree_bytes", 0.15),
            ("node_memory_Cached_bytes", 0.3),
            ("node_memory_Buffers_bytes", 0.02),
            ("node_memory_Active_bytes", 0.4),
            ("node_memory_Inactive_bytes", 0.2),
        ] {
            let mean = mem * share * self.rng.range(0.7, 1.3);
            self.gauge(name, &base, &[], t, life, mean, mean * 0.002, 0.95, 4096.0);
        }
        for (dev, mnt, fs) in MOUNTS {
            let ex = [("device", dev), ("mountpoint", mnt), ("fstype", fs)];
            let size = (self.rng.range(20.0, 200.0) * GIB / 4096.0).round() * 4096.0;
            let avail = size * self.rng.range(0.2, 0.9);
            self.info("node_filesystem_size_bytes", &base, &ex, t, life, size);
            self.gauge(
                "node_filesystem_avail_bytes",
                &base,
                &ex,
                t,
                life,
                avail,
                4096.0 * 64.0,
                0.4,
                4096.0,
            );
            self.gauge(
                "node_filesystem_free_bytes",
                &base,
                &ex,
                t,
                life,
                avail * 1.05,
                4096.0 * 64.0,
                0.4,
                4096.0,
            );
            let files = (size / 16384.0).round();
            self.info("node_filesystem_files", &base, &ex, t, life, files);
            self.gauge(
                "node_filesystem_files_free",
                &base,
                &ex,
                t,
                life,
                files * 0.9,
                20.0,
                0.3,
                1.0,
            );
        }
        for (dev, scale) in [("eth0", 1.0), ("lo", 0.2)] {
            let bytes = self.rng.range(1e4, 5e6) * scale;
            for dir in ["receive", "transmit"] {
                self.counter(
                    &format!("node_network_{dir}_bytes_total"),
                    &base,
                    &[("device", dev)],
                    t,
                    life,
                    bytes,
                    1.0,
                );
                self.counter(
                    &format!("node_network_{dir}_packets_total"),
                    &base,
                    &[("device", dev)],
                    t,
                    life,
                    bytes / 900.0,
                    1.0,
                );
                self.counter(
                    &format!("node_network_{dir}_errs_total"),
                    &base,
                    &[("device", dev)],
                    t,
                    life,
                    0.0,
                    1.0,
                );
                self.counter(
                    &format!("node_network_{dir}_drop_total"),
                    &base,
                    &[("device", dev)],
                    t,
                    life,
                    0.0005,
                    1.0,
                );
            }
        }
        for dev in ["nvme0n1", "nvme1n1"] {
            let ex = [("device", dev)];
            let r = self.rng.range(1e3, 2e6);
            self.counter("node_disk_read_bytes_total", &base, &ex, t, life, r, 512.0);
            self.counter(
                "node_disk_written_bytes_total",
                &base,
                &ex,
                t,
                life,
                r * 3.0,
                512.0,
            );
            self.counter(
                "node_disk_reads_completed_total",
                &base,
                &ex,
                t,
                life,
                r / 16384.0,
                1.0,
            );
            self.counter(
                "node_disk_writes_completed_total",
                &base,
                &ex,
                t,
                life,
                r / 8192.0,
                1.0,
            );
            let io = self.rng.range(0.001, 0.3);
            self.counter(
                "node_disk_io_time_seconds_total",
                &base,
                &ex,
                t,
                life,
                io,
                0.001,
            );
        }
        let load = cpus as f64 * self.rng.range(0.05, 0.6);
        for (name, sd) in [
            ("node_load1", 0.3),
            ("node_load5", 0.1),
            ("node_load15", 0.04),
        ] {
            self.gauge(name, &base, &[], t, life, load, load * sd, 1.0, 0.01);
        }
        for (name, lo, hi) in [
            ("node_context_switches_total", 2e3, 5e4),
            ("node_intr_total", 1e3, 3e4),
            ("node_forks_total", 1.0, 50.0),
        ] {
            let rate = self.rng.range(lo, hi);
            self.counter(name, &base, &[], t, life, rate, 1.0);
        }
        let boot = (self.cfg.end_ms / 1000 - self.rng.below(30 * 86_400) as i64) as f64;
        self.info("node_boot_time_seconds", &base, &[], t, life, boot);
        self.info(
            "node_uname_info",
            &base,
            &[
                ("nodename", &name),
                ("release", "6.1.0-18-cloud-amd64"),
                ("machine", "x86_64"),
                ("sysname", "Linux"),
            ],
            t,
            life,
            1.0,
        );

        // kubelet's cAdvisor endpoint; pod series are added by `pod`.
        let instance = format!("{ip}:10250");
        let kubelet = self.target("kubelet", &instance);
        let kubelet_base: Pairs = vec![
            ("cluster", cluster.to_string()),
            ("job", "kubelet".into()),
            ("instance", instance),
            ("metrics_path", "/metrics/cadvisor".into()),
            ("node", name.clone()),
            ("service", "kubelet".into()),
            ("endpoint", "https-metrics".into()),
        ];
        self.target_series(&kubelet_base, kubelet, (PODS_PER_NODE * 20) as f64);
        Node {
            name,
            ip,
            kubelet,
            kubelet_base,
        }
    }

    fn deployment(&mut self, d: usize) -> Deployment {
        let namespace = NAMESPACES[self.rng.below(NAMESPACES.len() as u64) as usize];
        let word = APP_WORDS[self.rng.below(APP_WORDS.len() as u64) as usize];
        let name = format!("{namespace}-{word}-{d}");
        let replicas = [1usize, 2, 2, 3, 3, 3, 4, 6][self.rng.below(8) as usize];
        let n_containers = match self.rng.below(20) {
            0 => 3,
            1..=5 => 2,
            _ => 1,
        };
        let names = ["app", "istio-proxy", "log-shipper"];
        let containers = (0..n_containers)
            .map(|i| ContainerSpec {
                name: names[i],
                cpu: self.rng.range(0.002, 1.5) / (1 + 3 * i) as f64,
                mem: self.rng.range(30e6, 2e9) / (1 + 3 * i) as f64,
            })
            .collect();
        Deployment {
            namespace,
            name,
            replicas,
            containers,
        }
    }

    fn pod_identity(&mut self, dep: &Deployment, c: usize, generation: u32) -> PodIdentity {
        // The ReplicaSet hash is per deployment and generation; derive it from the name.
        let mut rs_rng = Rng::derive(
            self.cfg.seed,
            hash_str(&format!("{c}/{}/{generation}", dep.name)),
        );
        let rs = rs_rng.k8s_suffix(10);
        let uid = format!(
            "{}-{}-{}-{}-{}",
            self.rng.hex(8),
            self.rng.hex(4),
            self.rng.hex(4),
            self.rng.hex(4),
            self.rng.hex(12)
        );
        PodIdentity {
            name: format!("{}-{rs}-{}", dep.name, self.rng.k8s_suffix(5)),
            rs,
            uid,
            ip: format!(
                "10.{}.{}.{}",
                100 + c,
                self.rng.below(256),
                self.rng.below(256)
            ),
            image_tag: 40 + generation,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn pod(
        &mut self,
        cluster: &str,
        dep: &Deployment,
        id: &PodIdentity,
        node: &Node,
        ksm: u32,
        ksm_base: &Pairs,
        life: (u32, u32),
    ) {
        let _ = cluster;
        let ns = dep.namespace;
        // kube-state-metrics series.
        let mut kb = ksm_base.clone();
        kb.push(("namespace", ns.to_string()));
        kb.push(("pod", id.name.clone()));
        kb.push(("uid", id.uid.clone()));
        let rs_name = format!("{}-{}", dep.name, id.rs);
        self.info(
            "kube_pod_info",
            &kb,
            &[
                ("host_ip", &node.ip),
                ("pod_ip", &id.ip),
                ("node", &node.name),
                ("created_by_kind", "ReplicaSet"),
                ("created_by_name", &rs_name),
                ("priority_class", ""),
                ("host_network", "false"),
            ],
            ksm,
            life,
            1.0,
        );
        for phase in ["Pending", "Running", "Succeeded", "Failed", "Unknown"] {
            self.info(
                "kube_pod_status_phase",
                &kb,
                &[("phase", phase)],
                ksm,
                life,
                f64::from(u8::from(phase == "Running")),
            );
        }
        for cond in ["true", "false", "unknown"] {
            self.info(
                "kube_pod_status_ready",
                &kb,
                &[("condition", cond)],
                ksm,
                life,
                f64::from(u8::from(cond == "true")),
            );
        }
        self.info(
            "kube_pod_status_scheduled",
            &kb,
            &[("condition", "true")],
            ksm,
            life,
            1.0,
        );
        let created = (self.dataset_start_s() + life.0 as i64 * 15
            - self.rng.below(86_400) as i64 * i64::from(life.0 == 0)) as f64;
        self.info("kube_pod_created", &kb, &[], ksm, life, created);
        self.info("kube_pod_start_time", &kb, &[], ksm, life, created + 2.0);
        self.info(
            "kube_pod_owner",
            &kb,
            &[
                ("owner_kind", "ReplicaSet"),
                ("owner_name", &rs_name),
                ("owner_is_controller", "true"),
            ],
            ksm,
            life,
            1.0,
        );

        // cAdvisor pod-level network series.
        let mut pb = node.kubelet_base.clone();
        pb.push(("namespace", ns.to_string()));
        pb.push(("pod", id.name.clone()));
        let pod_cgroup = format!("/kubepods/burstable/pod{}", id.uid);
        let pause = self.rng.hex(64);
        let net = self.rng.range(100.0, 2e6);
        let mut nb = pb.clone();
        nb.push(("id", pod_cgroup.clone()));
        nb.push(("name", pause));
        nb.push(("image", "registry.k8s.io/pause:3.9".into()));
        for dir in ["receive", "transmit"] {
            self.counter(
                &format!("container_network_{dir}_bytes_total"),
                &nb,
                &[("interface", "eth0")],
                node.kubelet,
                life,
                net,
                1.0,
            );
            self.counter(
                &format!("container_network_{dir}_packets_total"),
                &nb,
                &[("interface", "eth0")],
                node.kubelet,
                life,
                net / 700.0,
                1.0,
            );
        }

        for cs in &dep.containers {
            let image = format!(
                "registry.example.com/{ns}/{}-{}:v1.{}.0",
                dep.name, cs.name, id.image_tag
            );
            let cid = self.rng.hex(64);
            // kube-state-metrics per container.
            let mut kc = kb.clone();
            kc.push(("container", cs.name.to_string()));
            self.info(
                "kube_pod_container_info",
                &kc,
                &[
                    ("image", &image),
                    ("container_id", &format!("containerd://{cid}")),
                ],
                ksm,
                life,
                1.0,
            );
            let restarts = if self.rng.chance(0.1) {
                self.rng.below(5) as f64
            } else {
                0.0
            };
            self.info(
                "kube_pod_container_status_restarts_total",
                &kc,
                &[],
                ksm,
                life,
                restarts,
            );
            self.info(
                "kube_pod_container_status_running",
                &kc,
                &[],
                ksm,
                life,
                1.0,
            );
            self.info("kube_pod_container_status_ready", &kc, &[], ksm, life, 1.0);
            let req_cpu = (cs.cpu * 1.2 * 100.0).ceil() / 100.0;
            let req_mem = (cs.mem * 1.5 / 1_048_576.0).ceil() * 1_048_576.0;
            self.info(
                "kube_pod_container_resource_requests",
                &kc,
                &[("resource", "cpu"), ("unit", "core")],
                ksm,
                life,
                req_cpu,
            );
            self.info(
                "kube_pod_container_resource_requests",
                &kc,
                &[("resource", "memory"), ("unit", "byte")],
                ksm,
                life,
                req_mem,
            );
            self.info(
                "kube_pod_container_resource_limits",
                &kc,
                &[("resource", "cpu"), ("unit", "core")],
                ksm,
                life,
                req_cpu * 2.0,
            );
            self.info(
                "kube_pod_container_resource_limits",
                &kc,
                &[("resource", "memory"), ("unit", "byte")],
                ksm,
                life,
                req_mem * 2.0,
            );

            // cAdvisor per container.
            let mut cb = pb.clone();
            cb.push(("container", cs.name.to_string()));
            cb.push(("id", format!("{pod_cgroup}/{cid}")));
            cb.push(("name", cid));
            cb.push(("image", image));
            let k = node.kubelet;
            self.counter(
                "container_cpu_usage_seconds_total",
                &cb,
                &[],
                k,
                life,
                cs.cpu,
                0.0,
            );
            self.counter(
                "container_cpu_user_seconds_total",
                &cb,
                &[],
                k,
                life,
                cs.cpu * 0.7,
                0.01,
            );
            self.counter(
                "container_cpu_system_seconds_total",
                &cb,
                &[],
                k,
                life,
                cs.cpu * 0.3,
                0.01,
            );
            let throttled = if self.rng.chance(0.2) {
                cs.cpu * 0.1
            } else {
                0.0
            };
            self.counter(
                "container_cpu_cfs_throttled_seconds_total",
                &cb,
                &[],
                k,
                life,
                throttled,
                0.0,
            );
            self.gauge(
                "container_memory_working_set_bytes",
                &cb,
                &[],
                k,
                life,
                cs.mem,
                cs.mem * 0.005,
                0.9,
                4096.0,
            );
            self.gauge(
                "container_memory_rss",
                &cb,
                &[],
                k,
                life,
                cs.mem * 0.8,
                cs.mem * 0.004,
                0.9,
                4096.0,
            );
            self.gauge(
                "container_memory_cache",
                &cb,
                &[],
                k,
                life,
                cs.mem * 0.2,
                cs.mem * 0.002,
                0.5,
                4096.0,
            );
            let dev = [("device", "/dev/nvme0n1")];
            let io = self.rng.range(0.0, 5e4);
            self.counter(
                "container_fs_reads_bytes_total",
                &cb,
                &dev,
                k,
                life,
                io,
                4096.0,
            );
            self.counter(
                "container_fs_writes_bytes_total",
                &cb,
                &dev,
                k,
                life,
                io * 2.0,
                4096.0,
            );
            self.info(
                "container_spec_memory_limit_bytes",
                &cb,
                &[],
                k,
                life,
                req_mem * 2.0,
            );
        }
    }

    fn dataset_start_s(&self) -> i64 {
        self.cfg.end_ms / 1000 - self.steps as i64 * 15
    }
}

/// Series one pod with `containers` containers adds: kube-state-metrics (13 per pod + 8 per
/// container) and cAdvisor (4 per pod + 10 per container).
fn pod_series(containers: usize) -> usize {
    13 + 4 + containers * 18
}

/// Formats a bucket bound the way Prometheus client libraries do (`0.005`, `1`, `60`).
fn format_le(le: f64) -> String {
    if le.fract() == 0.0 {
        format!("{le:.0}")
    } else {
        format!("{le}")
    }
}
