//! Engine smoke tests on a small in-memory store; the upstream PromQL test scripts
//! (`tests/promqltest.rs`) are the full suite.

use crate::{Engine, MemStore, Value};
use orrery_model::{Labels, Sample};

fn store() -> MemStore {
    let s = MemStore::new();
    for (job, inst, mult) in [("api", "a", 1.0), ("api", "b", 2.0), ("db", "c", 3.0)] {
        s.add(
            Labels::from_pairs([("__name__", "reqs"), ("job", job), ("instance", inst)]),
            (0..=20).map(|i| Sample::new(i * 15_000, i as f64 * mult)),
        );
    }
    s
}

fn scalar_or_vec(v: &Value) -> Vec<(String, f64)> {
    match v {
        Value::Vector(v) => {
            let mut out: Vec<(String, f64)> =
                v.iter().map(|e| (e.labels.to_string(), e.v)).collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            out
        }
        Value::Scalar { v, .. } => vec![(String::new(), *v)],
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn selectors_aggregations_and_binary_operators() {
    let s = store();
    let e = Engine::default();
    let r = e.instant_query(&s, "reqs{job=\"api\"}", 150_000).unwrap();
    assert_eq!(
        scalar_or_vec(&r.value),
        [
            ("reqs{instance=\"a\", job=\"api\"}".into(), 10.0),
            ("reqs{instance=\"b\", job=\"api\"}".into(), 20.0)
        ]
    );
    let r = e.instant_query(&s, "sum by (job) (reqs)", 150_000).unwrap();
    assert_eq!(
        scalar_or_vec(&r.value),
        [
            ("{job=\"api\"}".into(), 30.0),
            ("{job=\"db\"}".into(), 30.0)
        ]
    );
    let r = e
        .instant_query(&s, "reqs / on(job) group_left sum by (job) (reqs)", 150_000)
        .unwrap();
    assert_eq!(scalar_or_vec(&r.value)[0].1, 10.0 / 30.0);
    let r = e.instant_query(&s, "reqs > 25", 150_000).unwrap();
    assert_eq!(
        scalar_or_vec(&r.value),
        [("reqs{instance=\"c\", job=\"db\"}".into(), 30.0)]
    );
    let r = e.instant_query(&s, "1 + 2 * 3", 0).unwrap();
    assert_eq!(scalar_or_vec(&r.value), [(String::new(), 7.0)]);
    // Lookback: 5m after the last sample (at 300s) nothing is left.
    let r = e.instant_query(&s, "reqs", 300_000 + 300_000).unwrap();
    assert!(scalar_or_vec(&r.value).is_empty());
}

#[test]
fn range_query_steps_and_matrix_shape() {
    let s = store();
    let e = Engine::default();
    let r = e.range_query(&s, "count(reqs)", 0, 60_000, 15_000).unwrap();
    match r.value {
        Value::Matrix(m) => {
            assert_eq!(m.len(), 1);
            assert_eq!(m[0].samples.len(), 5);
            assert!(m[0].samples.iter().all(|p| p.v == 3.0));
        }
        other => panic!("{other:?}"),
    }
    let err = e
        .range_query(&s, "reqs[5m]", 0, 60_000, 15_000)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("invalid expression type \"range vector\""),
        "{err}"
    );
}

#[test]
fn many_to_many_matching_is_an_error() {
    let s = store();
    let e = Engine::default();
    let err = e
        .instant_query(&s, "reqs + on(job) reqs", 150_000)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("many-to-many matching not allowed"),
        "{err}"
    );
}

/// A `group_left` join whose "one" side changes series mid-range (a pod moved to
/// another node): each step joins the partner present then, and each partner gives its
/// own result series.
#[test]
fn group_left_follows_a_partner_that_changes_mid_range() {
    let s = MemStore::new();
    s.add(
        Labels::from_pairs([("__name__", "cpu"), ("pod", "p"), ("c", "x")]),
        (0..=8).map(|i| Sample::new(i * 60_000, 10.0 + i as f64)),
    );
    for (node, from, to) in [("n1", 0, 3), ("n2", 4, 8)] {
        let mut pts: Vec<Sample> = (from..=to).map(|i| Sample::new(i * 60_000, 1.0)).collect();
        // End the first placement at once, as a scrape that loses the series would.
        pts.push(Sample::new(to * 60_000 + 30_000, orrery_model::STALE_NAN));
        s.add(
            Labels::from_pairs([("__name__", "info"), ("pod", "p"), ("node", node)]),
            pts,
        );
    }
    let e = Engine::default();
    let r = e
        .range_query(
            &s,
            "cpu * on (pod) group_left (node) info",
            0,
            480_000,
            60_000,
        )
        .unwrap();
    let Value::Matrix(m) = r.value else {
        panic!("{:?}", r.value)
    };
    let got: Vec<(String, Vec<(i64, f64)>)> = m
        .iter()
        .map(|s| {
            (
                s.labels.to_string(),
                s.samples.iter().map(|p| (p.t / 60_000, p.v)).collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "{c=\"x\", node=\"n1\", pod=\"p\"}".to_string(),
                (0..=3).map(|i| (i, 10.0 + i as f64)).collect::<Vec<_>>()
            ),
            (
                "{c=\"x\", node=\"n2\", pod=\"p\"}".to_string(),
                (4..=8).map(|i| (i, 10.0 + i as f64)).collect()
            ),
        ]
    );
    // Two "many" series that the included label makes equal collide.
    for node in ["a", "b"] {
        s.add(
            Labels::from_pairs([("__name__", "mem"), ("pod", "p"), ("node", node)]),
            (0..=8).map(|i| Sample::new(i * 60_000, 1.0)),
        );
    }
    let err = e
        .range_query(
            &s,
            "mem * on (pod) group_left (node) info",
            0,
            60_000,
            60_000,
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("grouping labels must ensure unique matches"),
        "{err}"
    );
}

#[test]
fn selector_regexes_read_perl_classes_as_ascii_like_prometheus() {
    let s = MemStore::new();
    for x in ["12", "١٢"] {
        s.add(
            Labels::from_pairs([("__name__", "m"), ("x", x)]),
            [Sample::new(0, 1.0)],
        );
    }
    let got = |q: &str| {
        let r = Engine::default().instant_query(&s, q, 0).unwrap();
        scalar_or_vec(&r.value)
    };
    // Go's `\d` is [0-9]: the Arabic-Indic digits match only its negation.
    assert_eq!(got(r#"m{x=~"\\d+"}"#), [(r#"m{x="12"}"#.to_string(), 1.0)]);
    assert_eq!(got(r#"m{x!~"\\d+"}"#), [(r#"m{x="١٢"}"#.to_string(), 1.0)]);
}
