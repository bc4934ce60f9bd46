//! Scrape loop behaviour against a local target: labeling, synthetic series,
//! staleness, and failures reported as `up=0` with a reason.

use super::*;
use crate::config::AgentConfig;
use orrery_model::{is_stale_nan, Labels, Relabeler, WriteRequest};
use std::sync::Mutex as StdMutex;

#[derive(Default)]
struct Recorder(StdMutex<Vec<WriteRequest>>);

impl Sink for Recorder {
    fn push(&self, _key: u64, body: Vec<u8>) -> Result<(), SinkError> {
        let req = orrery_wire::decode_write(None, None, &body, &Default::default())
            .map_err(|e| e.to_string())?
            .request;
        self.0.lock().unwrap().push(req);
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
        http: sc.http_client_config(),
        scrape: crate::config::ScrapeJob::new(sc, &cfg.global),
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

fn value(req: &WriteRequest, name: &str) -> f64 {
    find(req, name)[0].samples[0].v
}

#[tokio::test]
async fn known_series_are_not_labeled_again_and_count_as_added_once() {
    let body = Arc::new(StdMutex::new(b"a{x=\"1\"} 1\nb 2\n".to_vec()));
    let addr = target(body.clone()).await;
    let rec = Arc::new(Recorder::default());
    let mut lp = ScrapeLoop::new(job("", rec.clone()), tgt(&addr));
    lp.scrape_once(1000).await;
    assert_eq!(lp.cache_misses(), 2);
    // Same series, new values; `c` is new; the same labels written differently
    // (blanks) are a new text but not a new series.
    *body.lock().unwrap() = b"a{x=\"1\"} 5\nb 6\nc 7\n".to_vec();
    lp.scrape_once(2000).await;
    assert_eq!(lp.cache_misses(), 1, "only c is labeled");
    *body.lock().unwrap() = b"a{ x=\"1\" } 8\nb 9\nc 10\n".to_vec();
    lp.scrape_once(3000).await;
    assert_eq!(lp.cache_misses(), 1);
    let reqs = rec.0.lock().unwrap().clone();
    assert_eq!(value(&reqs[0], "scrape_series_added"), 2.0);
    assert_eq!(value(&reqs[1], "scrape_series_added"), 1.0);
    assert_eq!(value(&reqs[2], "scrape_series_added"), 0.0);
    let a = find(&reqs[2], "a");
    assert_eq!((a.len(), a[0].samples[0].v), (1, 8.0));
    assert_eq!(a[0].labels.get("x"), Some("1"));
    assert_eq!(a[0].labels.get("cluster"), Some("prod"));
    assert!(reqs[2]
        .timeseries
        .iter()
        .all(|t| !is_stale_nan(t.samples[0].v)));
    // A failure empties the cache: everything is labeled (and added) again.
    *body.lock().unwrap() = b"garbage{\n".to_vec();
    lp.scrape_once(4000).await;
    *body.lock().unwrap() = b"a{x=\"1\"} 1\nb 2\n".to_vec();
    lp.scrape_once(5000).await;
    assert_eq!(lp.cache_misses(), 2);
    let reqs = rec.0.lock().unwrap().clone();
    assert_eq!(find(&reqs[3], "a").len(), 1, "stale marker for a");
    assert!(is_stale_nan(find(&reqs[3], "c")[0].samples[0].v));
    assert_eq!(value(&reqs[4], "scrape_series_added"), 2.0);
}

#[tokio::test]
async fn relabeling_two_lines_into_one_series_fails_the_scrape_cached_or_not() {
    let body = Arc::new(StdMutex::new(b"a{x=\"1\"} 1\n".to_vec()));
    let addr = target(body.clone()).await;
    let rec = Arc::new(Recorder::default());
    let extra = "    metric_relabel_configs:\n      - {regex: x, action: labeldrop}\n";
    let mut lp = ScrapeLoop::new(job(extra, rec.clone()), tgt(&addr));
    lp.scrape_once(1000).await;
    assert_eq!(lp.health.lock().unwrap().health, "up");
    // The first line is a cache hit, the second a miss labeled into the same series.
    *body.lock().unwrap() = b"a{x=\"1\"} 1\na{x=\"2\"} 2\n".to_vec();
    lp.scrape_once(2000).await;
    let h = lp.health.lock().unwrap().clone();
    assert_eq!(h.health, "down");
    assert!(
        h.last_error.contains("duplicate sample"),
        "{}",
        h.last_error
    );
    assert!(
        h.last_error.contains("after relabeling"),
        "{}",
        h.last_error
    );
    let r = rec.0.lock().unwrap()[1].clone();
    assert!(is_stale_nan(value(&r, "a")));
    assert_eq!(value(&r, "up"), 0.0);
    // Both misses now (the failure emptied the cache): still refused.
    lp.scrape_once(3000).await;
    assert_eq!(lp.health.lock().unwrap().health, "down");
    // A syntax error later in the body wins over the duplicate, as before.
    *body.lock().unwrap() = b"a{x=\"1\"} 1\na{x=\"2\"} 2\nbad line\n".to_vec();
    lp.scrape_once(4000).await;
    let err = lp.health.lock().unwrap().last_error.clone();
    assert!(err.contains("line 3"), "{err}");
}

#[tokio::test]
async fn dropped_series_are_remembered_as_dropped() {
    let body = Arc::new(StdMutex::new(
        b"keep 1\ndrop_me 2\ndrop_me_too 3\n".to_vec(),
    ));
    let addr = target(body.clone()).await;
    let rec = Arc::new(Recorder::default());
    let extra = "    metric_relabel_configs:\n      - {source_labels: [__name__], regex: 'drop_.*', action: drop}\n";
    let mut lp = ScrapeLoop::new(job(extra, rec.clone()), tgt(&addr));
    lp.scrape_once(1000).await;
    assert_eq!(lp.cache_misses(), 3);
    lp.scrape_once(2000).await;
    assert_eq!(lp.cache_misses(), 0, "drop decisions come from the cache");
    let r = rec.0.lock().unwrap()[1].clone();
    assert_eq!(value(&r, "scrape_samples_scraped"), 3.0);
    assert_eq!(value(&r, "scrape_samples_post_metric_relabeling"), 1.0);
    assert!(find(&r, "drop_me").is_empty());
    // The same text twice is still the parser's duplicate, dropped or not.
    *body.lock().unwrap() = b"keep 1\ndrop_me 2\ndrop_me 3\n".to_vec();
    lp.scrape_once(3000).await;
    let err = lp.health.lock().unwrap().last_error.clone();
    assert!(
        err.contains("line 3: duplicate sample for series drop_me"),
        "{err}"
    );
}

#[tokio::test]
async fn openmetrics_bodies_use_the_cache_too() {
    let body = "# TYPE a counter\n# HELP a Help.\na_total 1\na_created 123\n\
                # TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n\
                h_count 2\nh_sum 3\n# EOF\n";
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || async move {
            (
                [(
                    "content-type",
                    "application/openmetrics-text; version=1.0.0",
                )],
                body,
            )
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(l, app).await });
    let rec = Arc::new(Recorder::default());
    let mut lp = ScrapeLoop::new(job("", rec.clone()), tgt(&addr));
    lp.scrape_once(1000).await;
    lp.scrape_once(2000).await;
    assert_eq!(lp.cache_misses(), 0);
    let reqs = rec.0.lock().unwrap().clone();
    for r in &reqs {
        assert_eq!(
            value(r, "up"),
            1.0,
            "{}",
            lp.health.lock().unwrap().last_error
        );
        assert_eq!(
            value(r, "scrape_samples_scraped"),
            6.0,
            "a_created is an ordinary sample"
        );
        assert_eq!(value(r, "a_created"), 123.0);
        let le: Vec<_> = find(r, "h_bucket")
            .iter()
            .map(|t| t.labels.get("le").unwrap().to_string())
            .collect();
        assert_eq!(le, ["1.0", "+Inf"], "le is normalized");
    }
    assert!(reqs[0].metadata.iter().any(|m| m.metric_family == "a"));
    assert!(reqs[1].metadata.is_empty(), "metadata is sent once");
}

#[tokio::test]
async fn changing_target_labels_starts_a_new_loop_with_a_new_cache() {
    let body = Arc::new(StdMutex::new(b"a 1\n".to_vec()));
    let addr = target(body.clone()).await;
    let rec = Arc::new(Recorder::default());
    let mut m = ScrapeManager::new();
    m.set_job(job("", rec.clone())).unwrap();
    let group = |env: &str| crate::discovery::TargetGroup {
        source: "s".into(),
        targets: vec![crate::discovery::LabelSet::from([(
            "__address__".to_string(),
            addr.clone(),
        )])],
        labels: crate::discovery::LabelSet::from([("env".to_string(), env.to_string())]),
    };
    let env_of = |rec: &Recorder| -> Vec<(String, bool)> {
        rec.0
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| find(r, "a"))
            .map(|t| {
                (
                    t.labels.get("env").unwrap_or("").to_string(),
                    is_stale_nan(t.samples[0].v),
                )
            })
            .collect()
    };
    m.update("app", vec![group("blue")]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while env_of(&rec).is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    m.update("app", vec![group("green")]);
    while !env_of(&rec).iter().any(|(e, _)| e == "green") && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    m.stop_all().await;
    let seen = env_of(&rec);
    assert!(
        seen.contains(&("blue".into(), true)),
        "blue goes stale: {seen:?}"
    );
    let first_green = seen.iter().position(|(e, _)| e == "green").unwrap();
    assert!(
        seen[first_green..].iter().all(|(e, _)| e == "green"),
        "no cached blue labels after the change: {seen:?}"
    );
}

#[tokio::test]
async fn series_with_explicit_timestamps_get_no_stale_markers_unless_tracked() {
    let body = Arc::new(StdMutex::new(b"a 1 1000\nb 2\n".to_vec()));
    let addr = target(body.clone()).await;
    let stale_names = |rec: &Recorder, i: usize| -> Vec<String> {
        let r = rec.0.lock().unwrap()[i].clone();
        let mut v: Vec<String> = r
            .timeseries
            .iter()
            .filter(|t| is_stale_nan(t.samples[0].v))
            .map(|t| t.labels.metric_name().unwrap_or("").to_string())
            .collect();
        v.sort();
        v
    };
    // Prometheus skips staleness for series exposed with a timestamp...
    let rec = Arc::new(Recorder::default());
    let mut lp = ScrapeLoop::new(job("", rec.clone()), tgt(&addr));
    lp.scrape_once(10_000).await;
    *body.lock().unwrap() = b"c 3\n".to_vec();
    lp.scrape_once(20_000).await;
    assert_eq!(stale_names(&rec, 1), ["b"]);
    // ...and on a failure too.
    *body.lock().unwrap() = b"a 1 1000\nb 2\n".to_vec();
    lp.scrape_once(30_000).await;
    *body.lock().unwrap() = b"garbage{\n".to_vec();
    lp.scrape_once(40_000).await;
    assert_eq!(stale_names(&rec, 3), ["b"]);
    // ...unless track_timestamps_staleness is set, or honor_timestamps is false (the
    // timestamp is then ignored).
    for extra in [
        "    track_timestamps_staleness: true\n",
        "    honor_timestamps: false\n",
    ] {
        let rec = Arc::new(Recorder::default());
        *body.lock().unwrap() = b"a 1 1000\nb 2\n".to_vec();
        let mut lp = ScrapeLoop::new(job(extra, rec.clone()), tgt(&addr));
        lp.scrape_once(10_000).await;
        *body.lock().unwrap() = b"c 3\n".to_vec();
        lp.scrape_once(20_000).await;
        assert_eq!(stale_names(&rec, 1), ["a", "b"], "{extra}");
    }
}

#[tokio::test]
async fn label_limits_apply_to_the_final_labels_not_the_scraped_ones() {
    let body = Arc::new(StdMutex::new(b"a 1\n".to_vec()));
    let addr = target(body.clone()).await;
    let rec = Arc::new(Recorder::default());
    let outcome = |extra: &str, text: &'static [u8]| {
        let (rec, addr, body) = (rec.clone(), addr.clone(), body.clone());
        let extra = extra.to_string();
        async move {
            *body.lock().unwrap() = text.to_vec();
            let mut lp = ScrapeLoop::new(job(&extra, rec), tgt(&addr));
            lp.scrape_once(1000).await;
            let h = lp.health.lock().unwrap().clone();
            (h.health, h.last_error)
        }
    };
    // One scraped label, but `instance` and `job` make three; the external labels
    // (`region`, `cluster`) are not counted, as Prometheus adds them only when sending.
    let (health, err) = outcome("    label_limit: 2\n", b"a 1\n").await;
    assert_eq!(health, "down");
    assert!(
        err.contains("label_limit exceeded")
            && err.contains("number of labels: 3, limit: 2")
            && err.contains("line 1")
            && err.contains("metric relabeling"),
        "{err}"
    );
    assert_eq!(outcome("    label_limit: 3\n", b"a 1\n").await.0, "up");
    // Five labels as scraped, three after metric relabeling drops four of them.
    let drop_xyzw = "    label_limit: 3\n    metric_relabel_configs:\n      - {regex: '[xyzw]', action: labeldrop}\n";
    let (health, err) = outcome(drop_xyzw, b"a{x=\"1\",y=\"2\",z=\"3\",w=\"4\"} 1\n").await;
    assert_eq!(health, "up", "{err}");
    // The target's `instance` value is longer than the scraped ones.
    let (health, err) = outcome("    label_value_length_limit: 5\n", b"a 1\n").await;
    assert_eq!(health, "down");
    assert!(
        err.contains("label_value_length_limit exceeded") && err.contains("instance"),
        "{err}"
    );
    // A name added by relabeling counts; one relabeling removes does not.
    let rename = "    label_name_length_limit: 8\n    metric_relabel_configs:\n      - {source_labels: [x], target_label: a_long_name, action: replace}\n      - {regex: x, action: labeldrop}\n";
    let (health, err) = outcome(rename, b"a{x=\"1\"} 1\n").await;
    assert_eq!(health, "down");
    assert!(
        err.contains("label_name_length_limit exceeded") && err.contains("a_long_name"),
        "{err}"
    );
    let long_scraped = "    label_name_length_limit: 8\n    metric_relabel_configs:\n      - {regex: a_long_name, action: labeldrop}\n";
    let (health, err) = outcome(long_scraped, b"a{a_long_name=\"1\"} 1\n").await;
    assert_eq!(health, "up", "{err}");
}

#[tokio::test]
async fn a_scrape_whose_remote_write_body_is_too_large_fails_instead_of_panicking() {
    let many: String = (0..200).map(|i| format!("s{i} {i}\n")).collect();
    let body = Arc::new(StdMutex::new(b"a 1\n".to_vec()));
    let addr = target(body.clone()).await;
    let rec = Arc::new(Recorder::default());
    let mut lp = ScrapeLoop::new(job("", rec.clone()), tgt(&addr));
    // The real bound is the queue's record limit (64 MiB); a small one stands in.
    lp.set_max_body(4096);
    lp.scrape_once(1000).await;
    assert_eq!(lp.health.lock().unwrap().health, "up");
    *body.lock().unwrap() = many.into_bytes();
    lp.scrape_once(2000).await;
    let h = lp.health.lock().unwrap().clone();
    assert_eq!(h.health, "down");
    assert!(
        h.last_error.contains("4096 bytes")
            && h.last_error.contains("sample_limit")
            && h.last_error.contains("body_size_limit"),
        "{}",
        h.last_error
    );
    let r = rec.0.lock().unwrap()[1].clone();
    assert_eq!(value(&r, "up"), 0.0);
    assert!(is_stale_nan(value(&r, "a")), "the previous series go stale");
    assert!(
        find(&r, "s1").is_empty(),
        "nothing of the refused scrape is sent"
    );
    // Huge HELP texts count too.
    let help = format!("# HELP a {}\na 1\n", "h".repeat(8192));
    *body.lock().unwrap() = help.into_bytes();
    lp.scrape_once(3000).await;
    assert_eq!(lp.health.lock().unwrap().health, "down");
}

/// A discovered group with one target, `env` label given.
fn group_of(addr: &str, env: &str) -> crate::discovery::TargetGroup {
    crate::discovery::TargetGroup {
        source: "s".into(),
        targets: vec![crate::discovery::LabelSet::from([(
            "__address__".to_string(),
            addr.to_string(),
        )])],
        labels: crate::discovery::LabelSet::from([("env".to_string(), env.to_string())]),
    }
}

/// Every recorded sample of series `name` as (stale, timestamp), in order.
fn samples_of(rec: &Recorder, name: &str) -> Vec<(bool, i64)> {
    rec.0
        .lock()
        .unwrap()
        .iter()
        .flat_map(|r| find(r, name))
        .map(|t| (is_stale_nan(t.samples[0].v), t.samples[0].t))
        .collect()
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_target_that_goes_away_marks_its_report_series_stale_too() {
    let body = Arc::new(StdMutex::new(b"a 1\n".to_vec()));
    let addr = target(body.clone()).await;
    let rec = Arc::new(Recorder::default());
    let mut m = ScrapeManager::new();
    m.set_job(job("", rec.clone())).unwrap();
    let ups = |rec: &Recorder| samples_of(rec, "up");
    // Discovery drops the target.
    m.update("app", vec![group_of(&addr, "blue")]);
    wait_until("a scrape", || !ups(&rec).is_empty()).await;
    m.update(
        "app",
        vec![crate::discovery::TargetGroup {
            source: "s".into(),
            targets: vec![],
            labels: Default::default(),
        }],
    );
    wait_until("stale up", || ups(&rec).iter().any(|u| u.0)).await;
    for name in SYNTHETIC.iter().chain(&["a"]) {
        let s = samples_of(&rec, name);
        assert!(s.last().is_some_and(|l| l.0), "{name} ends stale: {s:?}");
    }
    // The agent stops.
    let rec = Arc::new(Recorder::default());
    let mut m = ScrapeManager::new();
    m.set_job(job("", rec.clone())).unwrap();
    m.update("app", vec![group_of(&addr, "blue")]);
    wait_until("a scrape", || !ups(&rec).is_empty()).await;
    m.stop_all().await;
    for name in SYNTHETIC.iter().chain(&["a"]) {
        let s = samples_of(&rec, name);
        assert!(s.last().is_some_and(|l| l.0), "{name} ends stale: {s:?}");
    }
}

#[tokio::test]
async fn a_reload_hands_a_continuing_target_over_without_stale_markers() {
    let body = Arc::new(StdMutex::new(b"a 1\nb 2\n".to_vec()));
    let addr = target(body.clone()).await;
    let rec = Arc::new(Recorder::default());
    let mut m = ScrapeManager::new();
    m.set_job(job("", rec.clone())).unwrap();
    m.update("app", vec![group_of(&addr, "blue")]);
    wait_until("a scrape", || !samples_of(&rec, "up").is_empty()).await;
    // A reload changes the job (metric relabeling now drops `b`); discovery sends the
    // same target again.
    let drop_b = "    metric_relabel_configs:\n      - {source_labels: [__name__], regex: b, action: drop}\n";
    m.set_job(job(drop_b, rec.clone())).unwrap();
    m.update("app", vec![group_of(&addr, "blue")]);
    let before = samples_of(&rec, "up").len();
    wait_until("two scrapes by the new loop", || {
        samples_of(&rec, "up").len() >= before + 2
    })
    .await;
    m.stop_all().await;
    let ups = samples_of(&rec, "up");
    let a = samples_of(&rec, "a");
    // Only the final stop marks anything of the continuing target stale.
    assert!(ups[..ups.len() - 1].iter().all(|u| !u.0), "{ups:?}");
    assert!(a[..a.len() - 1].iter().all(|s| !s.0), "{a:?}");
    // `b`, which the new rules drop, goes stale once the new loop has scraped, as it
    // would if the old loop's cache carried on (Prometheus reuses it on reload).
    let b = samples_of(&rec, "b");
    assert!(b.last().is_some_and(|l| l.0), "{b:?}");
    assert_eq!(b.iter().filter(|s| s.0).count(), 1, "{b:?}");
    // Only the new loop's first scrape counts no new series: `a` was known.
    let added: Vec<f64> = rec
        .0
        .lock()
        .unwrap()
        .iter()
        .flat_map(|r| find(r, "scrape_series_added"))
        .filter(|t| !is_stale_nan(t.samples[0].v))
        .map(|t| t.samples[0].v)
        .collect();
    assert_eq!(added[0], 2.0);
    assert!(added[1..].iter().all(|&v| v == 0.0), "{added:?}");
}

#[tokio::test]
async fn a_target_gone_after_a_reload_still_gets_its_stale_markers() {
    let body = Arc::new(StdMutex::new(b"a 1\n".to_vec()));
    let addr = target(body.clone()).await;
    let rec = Arc::new(Recorder::default());
    let mut m = ScrapeManager::new();
    m.set_job(job("", rec.clone())).unwrap();
    m.update("app", vec![group_of(&addr, "blue")]);
    wait_until("a scrape", || !samples_of(&rec, "up").is_empty()).await;
    // After the reload discovery finds another target (env changed: a new identity).
    m.set_job(job("", rec.clone())).unwrap();
    m.update("app", vec![group_of(&addr, "green")]);
    let blue_up_stale = |rec: &Recorder| {
        rec.0.lock().unwrap().iter().any(|r| {
            find(r, "up")
                .iter()
                .any(|t| t.labels.get("env") == Some("blue") && is_stale_nan(t.samples[0].v))
        })
    };
    // Like Prometheus's end-of-run staleness, a little over two intervals later.
    wait_until("blue's stale markers", || blue_up_stale(&rec)).await;
    let blue_a: Vec<bool> = rec
        .0
        .lock()
        .unwrap()
        .iter()
        .flat_map(|r| find(r, "a"))
        .filter(|t| t.labels.get("env") == Some("blue"))
        .map(|t| is_stale_nan(t.samples[0].v))
        .collect();
    assert_eq!(blue_a.last(), Some(&true), "{blue_a:?}");
    m.stop_all().await;
}

/// A job whose client is built from its own HTTP client options, as the agent does.
fn job_with_client(extra: &str, sink: Arc<Recorder>) -> Arc<JobContext> {
    let plain = job(extra, sink);
    let http = plain.scrape.config.http_client_config();
    Arc::new(JobContext {
        scrape: plain.scrape.clone(),
        client: http.build().unwrap(),
        http,
        metric_relabel: Relabeler::new(&plain.scrape.config.metric_relabel_configs).unwrap(),
        external: plain.external.clone(),
        sink: plain.sink.clone(),
    })
}

#[tokio::test]
async fn credentials_are_sent_and_secret_files_are_read_for_every_scrape() {
    let seen = Arc::new(StdMutex::new(Vec::<String>::new()));
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move |h: axum::http::HeaderMap| {
            let auth = h
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            s.lock().unwrap().push(auth);
            async { "a 1\n" }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(l, app).await });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "one\n").unwrap();
    let rec = Arc::new(Recorder::default());
    let extra = format!(
        "    authorization: {{credentials_file: {}}}\n",
        file.display()
    );
    let mut lp = ScrapeLoop::new(job_with_client(&extra, rec.clone()), tgt(&addr));
    lp.scrape_once(1000).await;
    std::fs::write(&file, "two").unwrap();
    lp.scrape_once(2000).await;
    assert_eq!(*seen.lock().unwrap(), ["Bearer one", "Bearer two"]);
    // A secret that cannot be read fails the scrape with the setting named.
    std::fs::remove_file(&file).unwrap();
    lp.scrape_once(3000).await;
    let h = lp.health.lock().unwrap().clone();
    assert_eq!(h.health, "down");
    assert!(
        h.last_error.contains("authorization.credentials_file"),
        "{}",
        h.last_error
    );
}

#[tokio::test]
async fn proxy_url_sends_scrapes_through_the_proxy() {
    // An HTTP proxy gets the absolute URL; this one answers every request itself.
    let body = Arc::new(StdMutex::new(b"via_proxy 1\n".to_vec()));
    let proxy = target(body).await;
    let rec = Arc::new(Recorder::default());
    let extra = format!("    proxy_url: http://{proxy}\n");
    // Nothing listens on the target's own address.
    let mut lp = ScrapeLoop::new(job_with_client(&extra, rec.clone()), tgt("192.0.2.1:9"));
    lp.scrape_once(1000).await;
    let reqs = rec.0.lock().unwrap().clone();
    assert_eq!(find(&reqs[0], "via_proxy").len(), 1);
    assert_eq!(lp.health.lock().unwrap().health, "up");
}
