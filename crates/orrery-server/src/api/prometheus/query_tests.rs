//! The query endpoints through the router: exact JSON, every error path with
//! Prometheus's status and `errorType`, and each configured query limit.

use crate::{Server, ServerConfig};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use orrery_model::{Labels, MetricMetadata, MetricType, Sample, TimeSeries, WriteRequest};
use serde_json::{json, Value};
use tower::ServiceExt;

/// Newest sample time of the test data (ms): 2023-11-14T22:13:20Z.
pub(super) const T0: i64 = 1_700_000_000_000;

/// A server on `dir` with `tweak` applied to its config.
pub(super) fn server_with(dir: &std::path::Path, tweak: impl FnOnce(&mut ServerConfig)) -> Server {
    let mut cfg = ServerConfig {
        data_dir: dir.to_path_buf(),
        ..Default::default()
    };
    cfg.storage.wal_fsync = "1s".into();
    tweak(&mut cfg);
    Server::open(cfg).unwrap()
}

/// `up` for three instances (1, 1, 0) and a counter `http_requests_total` for two
/// jobs, every 15s over the 10 minutes up to [`T0`], with metadata; written through
/// remote write 1.0 as a sender would.
pub(super) async fn load(r: &Router) {
    let mut timeseries = Vec::new();
    let times: Vec<i64> = (0..=40).map(|i| T0 - 600_000 + i * 15_000).collect();
    for (inst, v) in [("h0", 1.0), ("h1", 1.0), ("h2", 0.0)] {
        timeseries.push(TimeSeries {
            labels: Labels::from_pairs([("__name__", "up"), ("instance", inst), ("job", "node")]),
            samples: times.iter().map(|&t| Sample::new(t, v)).collect(),
        });
    }
    for (job, per_step) in [("api", 10.0), ("web", 2.5)] {
        timeseries.push(TimeSeries {
            labels: Labels::from_pairs([
                ("__name__", "http_requests_total"),
                ("instance", "h0"),
                ("job", job),
            ]),
            samples: times
                .iter()
                .enumerate()
                .map(|(i, &t)| Sample::new(t, i as f64 * per_step))
                .collect(),
        });
    }
    let metadata = vec![
        MetricMetadata {
            metric_family: "http_requests_total".into(),
            kind: MetricType::Counter,
            help: "Requests served.".into(),
            unit: String::new(),
        },
        MetricMetadata {
            metric_family: "up".into(),
            kind: MetricType::Gauge,
            help: "Whether the target answered.".into(),
            unit: String::new(),
        },
    ];
    let body = orrery_wire::encode_v1(&WriteRequest {
        timeseries,
        metadata,
    });
    let (s, b) = send(
        r,
        Request::post("/api/v1/write")
            .header("content-type", orrery_wire::CONTENT_TYPE_V1)
            .header("content-encoding", "snappy")
            .header("x-prometheus-remote-write-version", "0.1.0")
            .body(Body::from(body))
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
}

pub(super) async fn send(r: &Router, req: Request<Body>) -> (StatusCode, String) {
    let resp = r.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&body).to_string())
}

pub(super) async fn get(r: &Router, uri: &str) -> (StatusCode, String) {
    send(r, Request::get(uri).body(Body::empty()).unwrap()).await
}

pub(super) async fn post_form(r: &Router, uri: &str, form: &str) -> (StatusCode, String) {
    send(
        r,
        Request::post(uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form.to_string()))
            .unwrap(),
    )
    .await
}

pub(super) fn parse(b: &str) -> Value {
    serde_json::from_str(b).unwrap_or_else(|e| panic!("not JSON ({e}): {b}"))
}

/// Asserts an error envelope with this status and `errorType`; returns the message.
async fn expect_error(r: &Router, uri: &str, status: StatusCode, kind: &str) -> String {
    let (s, b) = get(r, uri).await;
    assert_eq!(s, status, "{uri}: {b}");
    let v = parse(&b);
    assert_eq!(v["status"], "error", "{b}");
    assert_eq!(v["errorType"], kind, "{uri}: {b}");
    let prefix = format!(r#"{{"status":"error","errorType":"{kind}","error":""#);
    assert!(
        b.starts_with(&prefix),
        "keys out of Prometheus's order: {b}"
    );
    v["error"].as_str().unwrap_or_default().to_string()
}

fn secs(ms: i64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

#[tokio::test]
async fn instant_results_have_prometheus_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let r = server_with(dir.path(), |_| {}).router();
    load(&r).await;
    let (s, b) = get(
        &r,
        &format!("/api/v1/query?query=1%2B1&time={}", secs(T0 + 781)),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        b,
        r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000.781,"2"]}}"#
    );
    let (_, b) = get(&r, "/api/v1/query?query=%22hi%22&time=1.5").await;
    assert_eq!(
        b,
        r#"{"status":"success","data":{"resultType":"string","result":[1.5,"hi"]}}"#
    );
    let (_, b) = get(
        &r,
        &format!(
            "/api/v1/query?query=up%7Binstance%3D%22h2%22%7D&time={}",
            T0 / 1000
        ),
    )
    .await;
    assert_eq!(
        b,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","instance":"h2","job":"node"},"value":[1700000000,"0"]}]}}"#
    );
    let (_, b) = get(
        &r,
        &format!(
            "/api/v1/query?query=sum(up)%20by%20(job)&time={}",
            T0 / 1000
        ),
    )
    .await;
    assert_eq!(
        b,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"node"},"value":[1700000000,"2"]}]}}"#
    );
    // A range selector in an instant query is a matrix of raw samples.
    let (_, b) = get(
        &r,
        &format!(
            "/api/v1/query?query=up%7Binstance%3D%22h0%22%7D%5B30s%5D&time={}",
            T0 / 1000
        ),
    )
    .await;
    assert_eq!(
        b,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up","instance":"h0","job":"node"},"values":[[1699999985,"1"],[1700000000,"1"]]}]}}"#
    );
    // Nothing within the lookback: an empty vector, not null.
    let (_, b) = get(&r, "/api/v1/query?query=up&time=1000").await;
    assert_eq!(
        b,
        r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#
    );
    // Special values.
    let (_, b) = get(&r, "/api/v1/query?query=-1%2F0&time=0").await;
    assert!(b.contains(r#"[0,"-Inf"]"#), "{b}");
}

#[tokio::test]
async fn range_results_and_limit_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let r = server_with(dir.path(), |_| {}).router();
    load(&r).await;
    let uri = format!(
        "/api/v1/query_range?query=http_requests_total&start={}&end={}&step=1m",
        (T0 - 120_000) / 1000,
        T0 / 1000
    );
    let (s, b) = get(&r, &uri).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        b,
        concat!(
            r#"{"status":"success","data":{"resultType":"matrix","result":["#,
            r#"{"metric":{"__name__":"http_requests_total","instance":"h0","job":"api"},"values":[[1699999880,"320"],[1699999940,"360"],[1700000000,"400"]]},"#,
            r#"{"metric":{"__name__":"http_requests_total","instance":"h0","job":"web"},"values":[[1699999880,"80"],[1699999940,"90"],[1700000000,"100"]]}"#,
            r#"]}}"#
        )
    );
    let (_, b) = get(&r, &format!("{uri}&limit=1")).await;
    let v = parse(&b);
    assert_eq!(v["data"]["result"].as_array().unwrap().len(), 1);
    assert_eq!(v["warnings"], json!(["results truncated due to limit"]));
    assert!(
        b.ends_with(r#"]},"warnings":["results truncated due to limit"]}"#),
        "{b}"
    );
    // Instant vectors are truncated the same way; scalars are not affected.
    let (_, b) = get(
        &r,
        &format!("/api/v1/query?query=up&time={}&limit=2", T0 / 1000),
    )
    .await;
    let v = parse(&b);
    assert_eq!(v["data"]["result"].as_array().unwrap().len(), 2);
    assert_eq!(v["warnings"][0], "results truncated due to limit");
    let (_, b) = get(
        &r,
        &format!("/api/v1/query?query=up&time={}&limit=3", T0 / 1000),
    )
    .await;
    assert!(!b.contains("warnings"), "{b}");
    // Step as float seconds and as a Prometheus duration agree.
    let (_, a) = get(&r, &uri.replace("step=1m", "step=60")).await;
    let (_, c) = get(&r, &uri.replace("step=1m", "step=60.0")).await;
    assert_eq!(a, c);
}

#[tokio::test]
async fn bad_queries_are_bad_data_400() {
    let dir = tempfile::tempdir().unwrap();
    let r = server_with(dir.path(), |_| {}).router();
    for uri in [
        "/api/v1/query?query=sum(",
        "/api/v1/query?query=",
        "/api/v1/query",
        "/api/v1/query_range?query=rate(x)&start=0&end=10&step=1",
        "/api/v1/format_query?query=foo%7B",
        "/api/v1/query_exemplars?query=foo%7B",
    ] {
        let m = expect_error(&r, uri, StatusCode::BAD_REQUEST, "bad_data").await;
        assert!(m.starts_with("invalid parameter \"query\": "), "{uri}: {m}");
    }
    let m = expect_error(
        &r,
        "/api/v1/query_range?query=up%5B5m%5D&start=0&end=10&step=1",
        StatusCode::BAD_REQUEST,
        "bad_data",
    )
    .await;
    assert!(
        m.contains("invalid expression type \"range vector\""),
        "{m}"
    );
    for (uri, want) in [
        (
            "/api/v1/query?query=up&time=soon",
            "invalid parameter \"time\": cannot parse \"soon\" to a valid timestamp",
        ),
        (
            "/api/v1/query?query=up&limit=-1",
            "invalid parameter \"limit\"",
        ),
        (
            "/api/v1/query?query=up&timeout=later",
            "invalid parameter \"timeout\": cannot parse \"later\" to a valid duration",
        ),
    ] {
        let m = expect_error(&r, uri, StatusCode::BAD_REQUEST, "bad_data").await;
        assert!(m.starts_with(want), "{uri}: {m}");
    }
}

/// Parse errors carry Prometheus's position and words, after the parameter prefix
/// Prometheus 3 gives both query endpoints (2.42 left it off `query_range`) and
/// `match[]`; the bodies are byte for byte Prometheus's, `<` and `>` escaped as its
/// encoder does.
#[tokio::test]
async fn parse_errors_have_prometheus_positions() {
    let dir = tempfile::tempdir().unwrap();
    let r = server_with(dir.path(), |_| {}).router();
    for (uri, want) in [
        (
            "/api/v1/query?query=sum(rate(http_requests_total%5B5m%5D)%20by%20(job))",
            r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:35: parse error: unexpected \u003cby\u003e in aggregation"}"#,
        ),
        (
            "/api/v1/query_range?query=sum(x)%20by&start=0&end=10&step=1",
            r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:10: parse error: unexpected end of input in grouping opts, expected \"(\""}"#,
        ),
        (
            "/api/v1/series?match[]=foo%7B",
            r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"match[]\": 1:5: parse error: unexpected end of input inside braces"}"#,
        ),
    ] {
        let (status, body) = get(&r, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert_eq!(body, want, "{uri}");
    }
}

#[tokio::test]
async fn range_parameters_are_checked_in_prometheus_order() {
    let dir = tempfile::tempdir().unwrap();
    let r = server_with(dir.path(), |_| {}).router();
    for (uri, want) in [
        (
            "/api/v1/query_range?query=up&end=10&step=1",
            "invalid parameter \"start\": cannot parse \"\" to a valid timestamp",
        ),
        (
            "/api/v1/query_range?query=up&start=0&step=1",
            "invalid parameter \"end\": cannot parse \"\" to a valid timestamp",
        ),
        (
            "/api/v1/query_range?query=up&start=10&end=5&step=1",
            "invalid parameter \"end\": end timestamp must not be before start time",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=10",
            "invalid parameter \"step\": cannot parse \"\" to a valid duration",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=10&step=0",
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=10&step=-15s",
            "invalid parameter \"step\": cannot parse \"-15s\" to a valid duration",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=10&step=-1",
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=11001&step=1",
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ),
    ] {
        let m = expect_error(&r, uri, StatusCode::BAD_REQUEST, "bad_data").await;
        assert_eq!(m, want, "{uri}");
    }
    // Exactly 11,000 steps (11,001 points) is still allowed, as in Prometheus.
    let (s, b) = get(&r, "/api/v1/query_range?query=1&start=0&end=11000&step=1").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        parse(&b)["data"]["result"][0]["values"]
            .as_array()
            .unwrap()
            .len(),
        11_001
    );
}

#[tokio::test]
async fn a_tiny_timeout_is_a_503_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let r = server_with(dir.path(), |_| {}).router();
    load(&r).await;
    let m = expect_error(
        &r,
        &format!("/api/v1/query?query=up&time={}&timeout=0.000001", T0 / 1000),
        StatusCode::SERVICE_UNAVAILABLE,
        "timeout",
    )
    .await;
    assert!(m.starts_with("query timed out in "), "{m}");
    let m = expect_error(
        &r,
        "/api/v1/query_range?query=up&start=0&end=100&step=1&timeout=0s",
        StatusCode::SERVICE_UNAVAILABLE,
        "timeout",
    )
    .await;
    assert!(m.starts_with("query timed out in "), "{m}");
}

#[tokio::test]
async fn max_samples_and_max_series_fail_422_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let r = server_with(dir.path(), |c| c.query.max_samples = 10).router();
    load(&r).await;
    let m = expect_error(
        &r,
        &format!(
            "/api/v1/query_range?query=up&start={}&end={}&step=15",
            (T0 - 600_000) / 1000,
            T0 / 1000
        ),
        StatusCode::UNPROCESSABLE_ENTITY,
        "execution",
    )
    .await;
    assert!(m.contains("too many samples") && m.contains("10"), "{m}");

    let dir = tempfile::tempdir().unwrap();
    let r = server_with(dir.path(), |c| c.query.max_series = 2).router();
    load(&r).await;
    let t = T0 / 1000;
    let (s, b) = get(
        &r,
        &format!("/api/v1/query?query=http_requests_total&time={t}"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "2 series are within the limit: {b}");
    let m = expect_error(
        &r,
        &format!("/api/v1/query?query=up&time={t}"),
        StatusCode::UNPROCESSABLE_ENTITY,
        "execution",
    )
    .await;
    assert!(m.contains("query.max_series = 2"), "{m}");
}

#[tokio::test]
async fn a_full_queue_fails_503_naming_max_concurrent() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server_with(dir.path(), |c| c.query.max_concurrent = 1);
    let r = srv.router();
    let held = srv
        .query_gate()
        .admit(srv.query_gate().default_settings())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let m = expect_error(
        &r,
        "/api/v1/query?query=1&timeout=200ms",
        StatusCode::SERVICE_UNAVAILABLE,
        "timeout",
    )
    .await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(200));
    assert!(m.contains("query.max_concurrent = 1"), "{m}");
    drop(held);
    let (s, _) = get(&r, "/api/v1/query?query=1&timeout=200ms").await;
    assert_eq!(s, StatusCode::OK);
    let (_, metrics) = get(&r, "/metrics").await;
    for want in [
        "orrery_query_duration_seconds_count{endpoint=\"query\"} 2",
        "orrery_query_failures_total{endpoint=\"query\",error_type=\"timeout\"} 1",
        "orrery_queries_in_flight 0",
    ] {
        assert!(metrics.contains(want), "missing {want:?} in:\n{metrics}");
    }
}

#[tokio::test]
async fn federation_obeys_max_series() {
    let dir = tempfile::tempdir().unwrap();
    let r = server_with(dir.path(), |c| c.query.max_series = 1).router();
    let now = super::query::now_ms();
    let req = WriteRequest {
        timeseries: ["a", "b"]
            .iter()
            .map(|job| TimeSeries {
                labels: Labels::from_pairs([("__name__", "up"), ("job", job)]),
                samples: vec![Sample::new(now - 1_000, 1.0)],
            })
            .collect(),
        metadata: vec![],
    };
    let (s, _) = send(
        &r,
        Request::post("/api/v1/write")
            .header("content-type", orrery_wire::CONTENT_TYPE_V1)
            .header("content-encoding", "snappy")
            .body(Body::from(orrery_wire::encode_v1(&req)))
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b) = get(&r, "/federate?match[]=up").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b.contains("query.max_series = 1"), "{b}");
    let (s, _) = get(&r, "/federate?match[]=up%7Bjob%3D%22a%22%7D").await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn format_query_pretty_prints() {
    let dir = tempfile::tempdir().unwrap();
    let r = server_with(dir.path(), |_| {}).router();
    let (s, b) = get(&r, "/api/v1/format_query?query=foo/bar").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b, r#"{"status":"success","data":"foo / bar"}"#);
    let (_, b) = post_form(
        &r,
        "/api/v1/format_query",
        "query=sum+by(job)(rate(x%5B5m%5D))",
    )
    .await;
    assert_eq!(parse(&b)["data"], "sum by (job) (rate(x[5m]))");
}

#[tokio::test]
async fn buildinfo_claims_a_prometheus_3_version() {
    let dir = tempfile::tempdir().unwrap();
    let r = server_with(dir.path(), |_| {}).router();
    let (s, b) = get(&r, "/api/v1/status/buildinfo").await;
    assert_eq!(s, StatusCode::OK);
    let v = parse(&b);
    assert_eq!(v["data"]["version"], "3.5.0");
    for k in ["revision", "branch", "buildUser", "buildDate", "goVersion"] {
        assert!(v["data"][k].is_string(), "{k} in {b}");
    }
    assert!(b.starts_with(r#"{"status":"success","data":{"version":"3.5.0","revision":"#));
}

#[tokio::test]
async fn metadata_comes_from_remote_write() {
    let dir = tempfile::tempdir().unwrap();
    let r = server_with(dir.path(), |_| {}).router();
    load(&r).await;
    let (s, b) = get(&r, "/api/v1/metadata").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        b,
        concat!(
            r#"{"status":"success","data":{"http_requests_total":[{"type":"counter","help":"Requests served.","unit":""}],"#,
            r#""up":[{"type":"gauge","help":"Whether the target answered.","unit":""}]}}"#
        )
    );
    let (_, b) = get(&r, "/api/v1/metadata?limit=1").await;
    assert_eq!(parse(&b)["data"].as_object().unwrap().len(), 1);
    let (_, b) = get(&r, "/api/v1/metadata?metric=up&limit_per_metric=1").await;
    assert_eq!(parse(&b)["data"]["up"][0]["type"], "gauge");
    assert_eq!(parse(&b)["data"].as_object().unwrap().len(), 1);
    let (_, b) = get(&r, "/api/v1/metadata?metric=nope").await;
    assert_eq!(b, r#"{"status":"success","data":{}}"#);
    let m = expect_error(
        &r,
        "/api/v1/metadata?limit=x",
        StatusCode::BAD_REQUEST,
        "bad_data",
    )
    .await;
    assert_eq!(m, "limit must be a number");
}

#[tokio::test]
async fn exemplars_are_empty_but_requests_are_validated() {
    let dir = tempfile::tempdir().unwrap();
    let r = server_with(dir.path(), |_| {}).router();
    let (s, b) = get(
        &r,
        "/api/v1/query_exemplars?query=up&start=1700000000000&end=1700003600000",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b, r#"{"status":"success","data":[]}"#);
    let (_, b) = get(&r, "/api/v1/query_exemplars?query=1%2B1").await;
    assert_eq!(b, r#"{"status":"success"}"#);
    expect_error(
        &r,
        "/api/v1/query_exemplars?query=up&start=10&end=5",
        StatusCode::BAD_REQUEST,
        "bad_data",
    )
    .await;
}

#[tokio::test]
async fn federate_exposes_latest_samples_as_untyped_text() {
    let dir = tempfile::tempdir().unwrap();
    let r = server_with(dir.path(), |_| {}).router();
    // Federation reads the lookback window before *now*, so write fresh samples.
    let now = super::query::now_ms();
    let req = WriteRequest {
        timeseries: vec![
            TimeSeries {
                labels: Labels::from_pairs([("__name__", "up"), ("job", "a")]),
                samples: vec![
                    Sample::new(now - 20_000, 0.0),
                    Sample::new(now - 5_000, 1.0),
                ],
            },
            TimeSeries {
                labels: Labels::from_pairs([("__name__", "bytes"), ("job", "a")]),
                samples: vec![Sample::new(now - 5_000, 2e6)],
            },
            TimeSeries {
                labels: Labels::from_pairs([("__name__", "gone"), ("job", "a")]),
                samples: vec![Sample::new(now - 5_000, orrery_model::STALE_NAN)],
            },
        ],
        metadata: vec![],
    };
    let (s, _) = send(
        &r,
        Request::post("/api/v1/write")
            .header("content-type", orrery_wire::CONTENT_TYPE_V1)
            .header("content-encoding", "snappy")
            .body(Body::from(orrery_wire::encode_v1(&req)))
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let resp = r
        .clone()
        .oneshot(
            Request::get("/federate?match[]=%7Bjob%3D%22a%22%7D&match[]=up")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let t = now - 5_000;
    assert_eq!(
        String::from_utf8_lossy(&body),
        format!(
            "# TYPE bytes untyped\nbytes{{job=\"a\"}} 2e+06 {t}\n# TYPE up untyped\nup{{job=\"a\"}} 1 {t}\n"
        )
    );
    let (s, b) = get(&r, "/federate?match[]=rate(x%5B5m%5D)").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b.contains("match[]"), "{b}");
    let (s, b) = get(&r, "/federate").await;
    assert_eq!((s, b.as_str()), (StatusCode::OK, ""));
}
