//! Replays what Grafana's Prometheus data source sends (health check, build info,
//! metric browser, Explore and dashboard range queries, exemplar probe) against a
//! server holding data written through remote write, and checks each answer the way
//! Grafana reads it.

use super::query_tests::{get, load, parse, post_form, server_with, T0};
use axum::http::StatusCode;

/// Grafana sends form-encoded POSTs by default (`httpMethod: POST`).
const FORM: &str = "/api/v1/query";

#[tokio::test]
async fn grafana_prometheus_datasource_session() {
    let dir = tempfile::tempdir().unwrap();
    let r = server_with(dir.path(), |_| {}).router();
    load(&r).await;
    let end = T0 / 1000;
    let start = end - 600;

    // "Save & test": an instant `1+1` with the time in float seconds.
    let (s, b) = post_form(&r, FORM, "query=1%2B1&time=1700000000.123").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let v = parse(&b);
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"]["resultType"], "scalar");
    assert_eq!(v["data"]["result"][1], "2");
    assert_eq!(v["data"]["result"][0].as_f64(), Some(1_700_000_000.123));

    // Build info decides the features Grafana uses; it must look like Prometheus >= 2.x.
    let (s, b) = get(&r, "/api/v1/status/buildinfo").await;
    assert_eq!(s, StatusCode::OK);
    let version = parse(&b)["data"]["version"].as_str().unwrap().to_string();
    let major: u32 = version.split('.').next().unwrap().parse().unwrap();
    assert!(major >= 3, "{version}");

    // Metric browser: metric names, label names, label values, series.
    let (s, b) = get(
        &r,
        &format!("/api/v1/label/__name__/values?start={start}&end={end}"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        parse(&b)["data"],
        serde_json::json!(["http_requests_total", "up"])
    );
    let (_, b) = get(
        &r,
        &format!("/api/v1/label/__name__/values?start={start}&end={end}&limit=1"),
    )
    .await;
    assert_eq!(
        parse(&b)["data"],
        serde_json::json!(["http_requests_total"])
    );
    let (_, b) = get(&r, &format!("/api/v1/labels?start={start}&end={end}")).await;
    assert_eq!(
        parse(&b)["data"],
        serde_json::json!(["__name__", "instance", "job"])
    );
    let (_, b) = post_form(
        &r,
        "/api/v1/labels",
        &format!("match%5B%5D=http_requests_total&start={start}&end={end}"),
    )
    .await;
    assert_eq!(
        parse(&b)["data"],
        serde_json::json!(["__name__", "instance", "job"])
    );
    let (_, b) = get(
        &r,
        &format!(
            "/api/v1/label/job/values?match%5B%5D=http_requests_total&start={start}&end={end}"
        ),
    )
    .await;
    assert_eq!(parse(&b)["data"], serde_json::json!(["api", "web"]));
    let (s, b) = get(
        &r,
        &format!("/api/v1/series?match%5B%5D=%7B__name__%3D%22up%22%7D&start={start}&end={end}&limit=40000"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(parse(&b)["data"].as_array().unwrap().len(), 3);
    let (_, b) = post_form(
        &r,
        "/api/v1/series",
        &format!("match%5B%5D=up&start={start}&end={end}&limit=2"),
    )
    .await;
    let v = parse(&b);
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["warnings"][0], "results truncated due to limit");

    // Metric metadata for the query editor's hints.
    let (s, b) = get(&r, "/api/v1/metadata").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        parse(&b)["data"]["http_requests_total"][0]["type"],
        "counter"
    );

    // A dashboard panel: a range query with float-second bounds and step.
    let (s, b) = post_form(
        &r,
        "/api/v1/query_range",
        &format!(
            "query=sum+by+(job)+(http_requests_total)&start={start}.000&end={end}.000&step=60"
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let v = parse(&b);
    assert_eq!(v["data"]["resultType"], "matrix");
    let result = v["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 2);
    assert_eq!(result[0]["metric"], serde_json::json!({"job": "api"}));
    let values = result[0]["values"].as_array().unwrap();
    assert_eq!(values.len(), 11);
    assert_eq!(values[10], serde_json::json!([1_700_000_000, "400"]));
    assert_eq!(values[0][0].as_f64(), Some(start as f64));

    // Explore runs the same expression as an instant query next to the graph.
    let (s, b) = post_form(&r, FORM, &format!("query=up+%3D%3D+0&time={end}")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let v = parse(&b);
    assert_eq!(v["data"]["result"].as_array().unwrap().len(), 1);
    assert_eq!(v["data"]["result"][0]["metric"]["instance"], "h2");

    // The exemplar probe, with millisecond timestamps: must succeed.
    let (s, b) = get(
        &r,
        &format!(
            "/api/v1/query_exemplars?query=http_requests_total&start={}&end={}",
            start * 1000,
            end * 1000
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(parse(&b)["status"], "success");
    let (s, _) = post_form(
        &r,
        "/api/v1/query_exemplars",
        &format!("query=http_requests_total&start={start}.5&end={end}.5"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    // A typo in the query editor: Grafana shows `error` from a 400 bad_data.
    let (s, b) = post_form(&r, FORM, &format!("query=sum(up&time={end}")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let v = parse(&b);
    assert_eq!(v["errorType"], "bad_data");
    assert!(v["error"].as_str().unwrap().contains("query"), "{b}");
}
