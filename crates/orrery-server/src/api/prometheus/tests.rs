//! HTTP behaviour through the router, without a socket: shapes, status codes, limits.

use crate::{Server, ServerConfig};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use orrery_model::{Labels, Sample, TimeSeries, WriteRequest};
use serde_json::Value;
use tower::ServiceExt;

fn server(dir: &std::path::Path) -> Server {
    let mut cfg = ServerConfig {
        data_dir: dir.to_path_buf(),
        ..Default::default()
    };
    cfg.storage.wal_fsync = "1s".into();
    cfg.limits.max_body_size = 64 * 1024;
    Server::open(cfg).unwrap()
}

fn req_of(n_series: usize, t: i64) -> WriteRequest {
    WriteRequest {
        timeseries: (0..n_series)
            .map(|i| TimeSeries {
                labels: Labels::from_pairs([
                    ("__name__", "up"),
                    ("job", "j"),
                    ("instance", format!("h{i}").as_str()),
                ]),
                samples: vec![Sample::new(t, i as f64)],
            })
            .collect(),
        metadata: vec![],
    }
}

async fn send(r: &Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let resp = r.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, String::from_utf8_lossy(&body).to_string())
}

fn write(body: Vec<u8>, content_type: &str) -> Request<Body> {
    Request::post("/api/v1/write")
        .header("content-type", content_type)
        .header("content-encoding", "snappy")
        .body(Body::from(body))
        .unwrap()
}

async fn get_json(r: &Router, uri: &str) -> (StatusCode, Value) {
    let (s, _, b) = send(r, Request::get(uri).body(Body::empty()).unwrap()).await;
    (s, serde_json::from_str(&b).unwrap_or(Value::Null))
}

async fn series_count(r: &Router) -> usize {
    let (_, v) = get_json(r, "/api/v1/series?match[]=up").await;
    v["data"].as_array().map(|a| a.len()).unwrap_or(0)
}

#[tokio::test]
async fn remote_write_v1_then_series_and_labels_answer_in_prometheus_shape() {
    let dir = tempfile::tempdir().unwrap();
    let r = server(dir.path()).router();
    let (s, _, _) = send(
        &r,
        write(
            orrery_wire::encode_v1(&req_of(3, 1000)),
            orrery_wire::CONTENT_TYPE_V1,
        ),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = get_json(&r, "/api/v1/series?match[]=up&start=0&end=10").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["status"], "success");
    assert_eq!(
        v["data"][0],
        serde_json::json!({"__name__": "up", "instance": "h0", "job": "j"})
    );
    let (_, v) = get_json(&r, "/api/v1/labels").await;
    assert_eq!(
        v["data"],
        serde_json::json!(["__name__", "instance", "job"])
    );
    let (_, v) = get_json(&r, "/api/v1/label/instance/values?limit=2").await;
    assert_eq!(v["data"], serde_json::json!(["h0", "h1"]));
    assert_eq!(
        v["warnings"],
        serde_json::json!(["results truncated due to limit"])
    );
    // Outside the time range: nothing.
    let (_, v) = get_json(&r, "/api/v1/series?match[]=up&start=100&end=200").await;
    assert_eq!(v["data"], serde_json::json!([]));
}

#[tokio::test]
async fn remote_write_v2_reports_written_counts_in_headers() {
    let dir = tempfile::tempdir().unwrap();
    let r = server(dir.path()).router();
    let (s, h, _) = send(
        &r,
        write(
            orrery_wire::encode_v2(&req_of(4, 1000)),
            orrery_wire::CONTENT_TYPE_V2,
        ),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(h["x-prometheus-remote-write-samples-written"], "4");
    assert_eq!(h["x-prometheus-remote-write-histograms-written"], "0");
    assert_eq!(series_count(&r).await, 4);
}

#[tokio::test]
async fn rejected_writes_leave_storage_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let r = server(dir.path()).router();
    let good = orrery_wire::encode_v1(&req_of(2, 1000));
    let (s, _, b) = send(&r, write(good.clone(), "text/plain")).await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{b}");
    let (s, _, b) = send(
        &r,
        write(
            b"\x0a\xff\xff not snappy".to_vec(),
            orrery_wire::CONTENT_TYPE_V1,
        ),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b.contains("snappy"), "{b}");
    let (s, _, b) = send(&r, write(vec![0; 100 * 1024], orrery_wire::CONTENT_TYPE_V1)).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(b.contains("max_body_size"), "{b}");
    let mut no_name = req_of(1, 1000);
    no_name.timeseries[0].labels = Labels::from_pairs([("job", "x")]);
    let (s, _, b) = send(
        &r,
        write(
            orrery_wire::encode_v1(&no_name),
            orrery_wire::CONTENT_TYPE_V1,
        ),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b.contains("__name__"), "{b}");
    assert_eq!(series_count(&r).await, 0);
    let (_, v) = get_json(&r, "/api/v1/labels").await;
    assert_eq!(v["data"], serde_json::json!([]));
}

#[tokio::test]
async fn samples_older_than_the_window_get_an_explained_400_and_the_rest_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let r = server(dir.path()).router();
    let now = 10 * 3600 * 1000;
    send(
        &r,
        write(
            orrery_wire::encode_v1(&req_of(1, now)),
            orrery_wire::CONTENT_TYPE_V1,
        ),
    )
    .await;
    let mut mixed = req_of(2, now - 3600 * 1000);
    mixed.timeseries[1].samples[0].t = now + 1;
    let (s, _, b) = send(
        &r,
        write(orrery_wire::encode_v1(&mixed), orrery_wire::CONTENT_TYPE_V1),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        b.contains("1 of 2 samples are older than the out-of-order window"),
        "{b}"
    );
    assert!(b.contains("1 written"), "{b}");
    let metrics = send(&r, Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .2;
    assert!(
        metrics.contains("orrery_tsdb_samples_too_old_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("orrery_remote_write_rejected_requests_total{reason=\"too_old\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn api_errors_use_the_prometheus_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let r = server(dir.path()).router();
    let (s, v) = get_json(&r, "/api/v1/series").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        v,
        serde_json::json!({"status": "error", "errorType": "bad_data", "error": "no match[] parameter provided"})
    );
    let (s, v) = get_json(&r, "/api/v1/series?match[]=up&start=yesterday").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["error"].as_str().unwrap().contains("\"start\""));
    let (s, v) = get_json(&r, "/api/v1/series?match[]=up&start=10&end=5").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["errorType"], "bad_data");
    let (s, v) = get_json(&r, "/api/v1/labels?match[]=rate(x[5m])").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["error"].as_str().unwrap().contains("match[]"));
    let (s, _) = get_json(&r, "/api/v1/nope").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn form_post_series_lookup_works_like_get() {
    let dir = tempfile::tempdir().unwrap();
    let r = server(dir.path()).router();
    send(
        &r,
        write(
            orrery_wire::encode_v1(&req_of(2, 1000)),
            orrery_wire::CONTENT_TYPE_V1,
        ),
    )
    .await;
    let req = Request::post("/api/v1/series")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(
            "match%5B%5D=up%7Binstance%3D%22h1%22%7D&start=0",
        ))
        .unwrap();
    let (s, _, b) = send(&r, req).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let v: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn flush_persists_and_metrics_report_it() {
    let dir = tempfile::tempdir().unwrap();
    let r = server(dir.path()).router();
    send(
        &r,
        write(
            orrery_wire::encode_v1(&req_of(5, 1000)),
            orrery_wire::CONTENT_TYPE_V1,
        ),
    )
    .await;
    let (s, _, _) = send(
        &r,
        Request::post("/api/v1/admin/flush")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(series_count(&r).await, 5);
    let (s, h, body) = send(&r, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(h["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    for want in [
        "orrery_tsdb_samples_appended_total 5",
        "orrery_tsdb_blocks 1",
        "orrery_tsdb_head_series 0",
        "orrery_http_requests_total{code=\"204\",handler=\"/api/v1/write\"} 1",
        "orrery_remote_write_samples_total 5",
        "process_resident_memory_bytes",
    ] {
        assert!(body.contains(want), "missing {want:?} in:\n{body}");
    }
}

/// One selector parser for `match[]` and queries: a raw string with a backslash works
/// on every endpoint that takes `match[]`, as it does in `/api/v1/query`.
#[tokio::test]
async fn raw_string_selectors_work_in_every_match_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let r = server(dir.path()).router();
    let now = super::query::now_ms();
    let wr = WriteRequest {
        timeseries: ["a.b", "axb"]
            .into_iter()
            .map(|job| TimeSeries {
                labels: Labels::from_pairs([("__name__", "up"), ("job", job)]),
                samples: vec![Sample::new(now, 1.0)],
            })
            .collect(),
        metadata: vec![],
    };
    let (s, _, _) = send(
        &r,
        write(orrery_wire::encode_v1(&wr), orrery_wire::CONTENT_TYPE_V1),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    // {job=~`a\.b`}, urlencoded.
    let sel = "%7Bjob%3D~%60a%5C.b%60%7D";
    let (s, v) = get_json(&r, &format!("/api/v1/series?match[]={sel}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["data"],
        serde_json::json!([{"__name__": "up", "job": "a.b"}])
    );
    let (s, v) = get_json(&r, &format!("/api/v1/labels?match[]={sel}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"], serde_json::json!(["__name__", "job"]));
    let (s, v) = get_json(&r, &format!("/api/v1/label/job/values?match[]={sel}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"], serde_json::json!(["a.b"]));
    let (s, v) = get_json(&r, &format!("/api/v1/query?query={sel}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["result"].as_array().unwrap().len(), 1);
    let (s, _, body) = send(
        &r,
        Request::get(format!("/federate?match[]={sel}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        format!("# TYPE up untyped\nup{{job=\"a.b\"}} 1 {now}\n")
    );
}

/// Prometheus's grammar has no `or` between matchers: a 400 on `match[]` and in
/// queries alike (the query used to be a 422 `execution` error).
#[tokio::test]
async fn or_inside_braces_is_bad_data_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let r = server(dir.path()).router();
    let sel = "%7Bjob%3D%22a%22%20or%20job%3D%22b%22%7D";
    for uri in [
        format!("/api/v1/series?match[]={sel}"),
        format!("/api/v1/query?query={sel}"),
    ] {
        let (s, v) = get_json(&r, &uri).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}: {v}");
        assert_eq!(v["errorType"], "bad_data");
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains(r#"unexpected identifier "or""#),
            "{v}"
        );
    }
}

/// The 413 for a body that decompresses past the limit names the setting as it is
/// spelled in the configuration, `max_decompressed_size`.
#[tokio::test]
async fn too_big_decompressed_bodies_name_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = ServerConfig {
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    cfg.limits.max_decompressed_size = 1024;
    let r = Server::open(cfg).unwrap().router();
    let body = orrery_wire::encode_v1(&req_of(200, 1000));
    let (s, _, b) = send(&r, write(body, orrery_wire::CONTENT_TYPE_V1)).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{b}");
    assert!(b.contains("(limit max_decompressed_size)"), "{b}");
    assert!(b.contains("cannot exceed 1024"), "{b}");
}
