//! Scrape loop behaviour against a local target: labeling, synthetic series,
//! staleness, and failures reported as `up=0` with a reason.

use super::*;
use crate::config::AgentConfig;
use orrery_model::{is_stale_nan, Labels, Relabeler, WriteRequest};
use std::sync::Mutex as StdMutex;

#[derive(Default)]
struct Recorder(StdMutex<Vec<WriteRequest>>);

impl Sink for Recorder {
    fn push(&self, _key: u64, req: &WriteRequest) -> Result<(), String> {
        self.0.lock().unwrap().push(req.clone());
        Ok(())
    }
}

/// A target whose body the test changes between scrapes.
async fn target(body: Arc<StdMutex<Vec<u8>>>) -> String {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let b = body.lock().unwrap().clone();
            async move { b }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(l, app).await });
    addr
}

fn job(extra: &str, sink: Arc<Recorder>) -> Arc<JobContext> {
    let cfg = AgentConfig::parse(
        &format!("cluster: prod\nserver: {{url: http://s}}\nexternal_labels: {{region: eu, cluster: nope}}\nscrape_configs:\n  - job_name: app\n    scrape_interval: 1s\n{extra}"),
        "t",
    )
    .unwrap();
    let sc = cfg.scrape_configs[0].clone();
    let _ = rustls::crypto::ring::default_provider().install_default();
    Arc::new(JobContext {
        metric_relabel: Relabeler::new(&sc.metric_relabel_configs).unwrap(),
        sc,
        client: reqwest::Client::new(),
        external: cfg.all_external_labels().into_iter().collect(),
        sink,
    })
}

fn tgt(addr: &str) -> Target {
    Target {
        labels: Labels::from_pairs([("instance", addr), ("job", "app")]),
        discovered: Default::default(),
        url: format!("http://{addr}/metrics"),
        interval: std::time::Duration::from_secs(1),
        timeout: std::time::Duration::from_secs(1),
        hash: 7,
    }
}

fn find<'a>(req: &'a WriteRequest, name: &str) -> Vec<&'a orrery_model::TimeSeries> {
    req.timeseries
        .iter()
        .filter(|t| t.labels.metric_name() == Some(name))
        .collect()
}

#[tokio::test]
async fn samples_get_target_external_and_cluster_labels_and_synthetic_series() {
    let body = Arc::new(StdMutex::new(
        b"# TYPE a counter\na_total{job=\"inner\"} 3\nb 1\n".to_vec(),
    ));
    let addr = target(body.clone()).await;
    let rec = Arc::new(Recorder::default());
    let mut lp = ScrapeLoop::new(job("", rec.clone()), tgt(&addr));
    lp.scrape_once(1000).await;
    let reqs = rec.0.lock().unwrap().clone();
    let r = &reqs[0];
    let a = find(r, "a_total")[0];
    assert_eq!(a.labels.get("cluster"), Some("prod"), "cluster always wins");
    assert_eq!(a.labels.get("region"), Some("eu"));
    assert_eq!(a.labels.get("job"), Some("app"));
    assert_eq!(
        a.labels.get("exported_job"),
        Some("inner"),
        "honor_labels: false keeps the scraped one as exported_"
    );
    assert_eq!(find(r, "up")[0].samples[0].v, 1.0);
    assert_eq!(find(r, "scrape_samples_scraped")[0].samples[0].v, 2.0);
    assert_eq!(find(r, "scrape_series_added")[0].samples[0].v, 2.0);
    assert_eq!(find(r, "up")[0].labels.get("instance"), Some(addr.as_str()));
    assert!(r.metadata.iter().any(|m| m.metric_family == "a"));
    assert_eq!(lp.health.lock().unwrap().health, "up");
}

#[tokio::test]
async fn a_vanished_series_gets_a_stale_marker_and_a_broken_target_is_down_with_a_reason() {
    let body = Arc::new(StdMutex::new(b"a 1\nb 2\n".to_vec()));
    let addr = target(body.clone()).await;
    let rec = Arc::new(Recorder::default());
    let mut lp = ScrapeLoop::new(job("", rec.clone()), tgt(&addr));
    lp.scrape_once(1000).await;
    *body.lock().unwrap() = b"a 1\n".to_vec();
    lp.scrape_once(2000).await;
    let r = rec.0.lock().unwrap()[1].clone();
    let b = find(&r, "b");
    assert_eq!(b.len(), 1);
    assert!(is_stale_nan(b[0].samples[0].v) && b[0].samples[0].t == 2000);
    // Garbage: up=0, the reason in the health, and every previous series goes stale.
    *body.lock().unwrap() = b"a 1\nthis is { not metrics\n".to_vec();
    lp.scrape_once(3000).await;
    let r = rec.0.lock().unwrap()[2].clone();
    assert_eq!(find(&r, "up")[0].samples[0].v, 0.0);
    assert!(is_stale_nan(find(&r, "a")[0].samples[0].v));
    let h = lp.health.lock().unwrap().clone();
    assert_eq!(h.health, "down");
    assert!(h.last_error.contains("line 2"), "{}", h.last_error);
    // Invalid UTF-8 and duplicate series fail the same way.
    *body.lock().unwrap() = b"a{x=\"\xff\"} 1\n".to_vec();
    lp.scrape_once(4000).await;
    assert!(
        lp.health.lock().unwrap().last_error.contains("UTF-8"),
        "{}",
        lp.health.lock().unwrap().last_error
    );
    *body.lock().unwrap() = b"a 1\na 2\n".to_vec();
    lp.scrape_once(5000).await;
    assert!(
        lp.health.lock().unwrap().last_error.contains("duplicate"),
        "{}",
        lp.health.lock().unwrap().last_error
    );
}

#[tokio::test]
async fn body_size_and_sample_limits_fail_the_scrape_with_the_limit_named() {
    let body = Arc::new(StdMutex::new(b"a 1\nb 2\nc 3\n".to_vec()));
    let addr = target(body.clone()).await;
    let rec = Arc::new(Recorder::default());
    let mut lp = ScrapeLoop::new(job("    sample_limit: 2\n", rec.clone()), tgt(&addr));
    lp.scrape_once(1000).await;
    assert!(
        lp.health
            .lock()
            .unwrap()
            .last_error
            .contains("sample_limit"),
        "{}",
        lp.health.lock().unwrap().last_error
    );
    let mut lp = ScrapeLoop::new(job("    body_size_limit: 5\n", rec.clone()), tgt(&addr));
    lp.scrape_once(1000).await;
    assert!(
        lp.health
            .lock()
            .unwrap()
            .last_error
            .contains("body_size_limit"),
        "{}",
        lp.health.lock().unwrap().last_error
    );
}

#[tokio::test]
async fn metric_relabeling_can_drop_series_and_cannot_change_cluster() {
    let body = Arc::new(StdMutex::new(b"keep 1\ndrop_me 2\n".to_vec()));
    let addr = target(body.clone()).await;
    let rec = Arc::new(Recorder::default());
    let extra = "    metric_relabel_configs:\n      - {source_labels: [__name__], regex: 'drop_.*', action: drop}\n      - {target_label: cluster, replacement: hijack}\n";
    let mut lp = ScrapeLoop::new(job(extra, rec.clone()), tgt(&addr));
    lp.scrape_once(1000).await;
    let r = rec.0.lock().unwrap()[0].clone();
    assert!(find(&r, "drop_me").is_empty());
    assert_eq!(find(&r, "keep")[0].labels.get("cluster"), Some("prod"));
    assert_eq!(
        find(&r, "scrape_samples_post_metric_relabeling")[0].samples[0].v,
        1.0
    );
}
