//! Helpers for the function tests: a store built from selector-shaped series, and
//! instant queries reduced to `(labels, value)` pairs.

use crate::{Engine, MemStore, Value};
use orrery_model::{Labels, Sample, METRIC_NAME};
use promql_parser::parser::Expr;

pub(super) fn store(series: &[(&str, &[f64])]) -> MemStore {
    let s = MemStore::new();
    for (sel, vals) in series {
        let e = crate::parse_expr(sel).expect("selector");
        let Expr::VectorSelector(vs) = e else {
            panic!("not a selector: {sel}")
        };
        let mut pairs: Vec<(String, String)> = vs
            .matchers
            .matchers
            .iter()
            .map(|m| (m.name.clone(), m.value.clone()))
            .collect();
        if let Some(n) = vs.name {
            pairs.push((METRIC_NAME.into(), n));
        }
        s.add(
            Labels::from_pairs(pairs),
            vals.iter()
                .enumerate()
                .map(|(i, &v)| Sample::new(i as i64 * 300_000, v)),
        );
    }
    s
}

/// Instant query results as `(labels, value)` in result order.
pub(super) fn query(s: &MemStore, q: &str, t: i64) -> Vec<(String, f64)> {
    let r = Engine::default()
        .instant_query(s, q, t)
        .unwrap_or_else(|e| panic!("{q}: {e}"));
    match r.value {
        Value::Vector(v) => v.into_iter().map(|e| (e.labels.to_string(), e.v)).collect(),
        Value::Scalar { v, .. } => vec![(String::new(), v)],
        other => panic!("{q}: unexpected {other:?}"),
    }
}

pub(super) fn sorted(mut v: Vec<(String, f64)>) -> Vec<(String, f64)> {
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

pub(super) fn err(s: &MemStore, q: &str) -> String {
    match Engine::default().instant_query(s, q, 0) {
        Ok(r) => panic!("{q}: expected an error, got {:?}", r.value),
        Err(e) => e.to_string(),
    }
}
