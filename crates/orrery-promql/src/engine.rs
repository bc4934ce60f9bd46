//! The engine's API: instant and range queries over a parsed or textual expression.

use crate::error::{PromqlError, Result};
use crate::eval::{finalize, finalize_labels, Annotations, Evaluator, Positions, StepSeries, Val};
use crate::options::EngineOptions;
use crate::value::{QueryResult, Value, VectorElem};
use orrery_model::{Queryable, Sample, Series};
use promql_parser::parser::value::ValueType;
use promql_parser::parser::Expr;
use std::time::Instant;

/// Evaluates PromQL over any [`Queryable`].
#[derive(Debug, Clone, Default)]
pub struct Engine {
    opts: EngineOptions,
}

impl Engine {
    /// An engine with these options.
    pub fn new(opts: EngineOptions) -> Self {
        Engine { opts }
    }

    /// The options in force.
    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// Evaluates `query` at time `t` (ms).
    pub fn instant_query(&self, q: &dyn Queryable, query: &str, t: i64) -> Result<QueryResult> {
        let expr = crate::parse::parse_expr(query)?;
        let positions = Positions::locate(query, &expr);
        self.instant_eval(q, &expr, t, &positions)
    }

    /// Evaluates a parsed expression at time `t` (ms).
    /// Annotations carry no ` (line:col)` positions: there is no query text.
    pub fn instant_expr(&self, q: &dyn Queryable, expr: &Expr, t: i64) -> Result<QueryResult> {
        self.instant_eval(q, expr, t, &Positions::default())
    }

    fn instant_eval(
        &self,
        q: &dyn Queryable,
        expr: &Expr,
        t: i64,
        positions: &Positions,
    ) -> Result<QueryResult> {
        let mut ev = self.evaluator(q, vec![t], t, t, positions);
        let value = match expr_type(expr) {
            ValueType::Matrix => {
                let arg = ev.eval_range(strip_parens(expr))?;
                let mut m: Vec<Series> = arg
                    .series
                    .iter()
                    .map(|s| Series {
                        labels: finalize_labels(&s.labels),
                        samples: arg.window(s, 0).to_vec(),
                    })
                    .filter(|s| !s.samples.is_empty())
                    .collect();
                m.sort_by(|a, b| a.labels.cmp(&b.labels));
                if m.windows(2).any(|w| w[0].labels == w[1].labels) {
                    return Err(PromqlError::Execution(
                        "vector cannot contain metrics with the same labelset".into(),
                    ));
                }
                Value::Matrix(m)
            }
            _ => match ev.eval(expr)? {
                Val::Scalar(v) => Value::Scalar {
                    t,
                    v: v.first().copied().unwrap_or(f64::NAN),
                },
                Val::String(s) => Value::String { t, s },
                Val::Vector(vs) => Value::Vector(
                    finalize(vs)?
                        .into_iter()
                        .filter_map(|s| {
                            s.values.first().copied().flatten().map(|v| VectorElem {
                                labels: s.labels,
                                t,
                                v,
                            })
                        })
                        .collect(),
                ),
            },
        };
        Ok(finish(value, ev.ann, ev.samples))
    }

    /// Evaluates `query` at `start, start+step, …, end` (ms).
    pub fn range_query(
        &self,
        q: &dyn Queryable,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryResult> {
        let expr = crate::parse::parse_expr(query)?;
        let positions = Positions::locate(query, &expr);
        self.range_eval(q, &expr, start, end, step, &positions)
    }

    /// Evaluates a parsed expression over a range. Annotations carry no ` (line:col)`
    /// positions: there is no query text.
    pub fn range_expr(
        &self,
        q: &dyn Queryable,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryResult> {
        self.range_eval(q, expr, start, end, step, &Positions::default())
    }

    fn range_eval(
        &self,
        q: &dyn Queryable,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
        positions: &Positions,
    ) -> Result<QueryResult> {
        if step <= 0 {
            return Err(PromqlError::Parse(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if end < start {
            return Err(PromqlError::Parse(
                "end timestamp must not be before start time".into(),
            ));
        }
        match expr_type(expr) {
            ValueType::Scalar | ValueType::Vector => {}
            t => {
                return Err(PromqlError::Parse(format!(
                "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                type_name(t)
            )))
            }
        }
        let n = ((end - start) / step + 1) as usize;
        let ts: Vec<i64> = (0..n).map(|i| start + i as i64 * step).collect();
        let mut ev = self.evaluator(q, ts.clone(), start, end, positions);
        let series: Vec<Series> = match ev.eval(expr)? {
            Val::Scalar(v) => vec![Series {
                labels: Default::default(),
                samples: v
                    .into_iter()
                    .zip(&ts)
                    .map(|(v, &t)| Sample { t, v })
                    .collect(),
            }],
            Val::Vector(vs) => to_matrix(finalize(vs)?, &ts),
            Val::String(_) => {
                return Err(PromqlError::Parse(
                    "string is not a valid range query result".into(),
                ))
            }
        };
        Ok(finish(Value::Matrix(series), ev.ann, ev.samples))
    }

    fn evaluator<'a>(
        &'a self,
        q: &'a dyn Queryable,
        ts: Vec<i64>,
        start: i64,
        end: i64,
        positions: &'a Positions,
    ) -> Evaluator<'a> {
        Evaluator {
            q,
            opts: &self.opts,
            ts,
            query_start: start,
            query_end: end,
            ann: Annotations::default(),
            samples: 0,
            deadline: Instant::now() + self.opts.timeout,
            positions,
            frame: None,
        }
    }
}

fn finish(value: Value, ann: Annotations, samples: usize) -> QueryResult {
    QueryResult {
        value,
        warnings: ann.warnings.into_iter().collect(),
        infos: ann.infos.into_iter().collect(),
        samples_loaded: samples,
    }
}

fn to_matrix(vs: Vec<StepSeries>, ts: &[i64]) -> Vec<Series> {
    let mut out: Vec<Series> = vs
        .into_iter()
        .map(|s| Series {
            samples: s
                .values
                .iter()
                .zip(ts)
                .filter_map(|(v, &t)| v.map(|v| Sample { t, v }))
                .collect(),
            labels: s.labels,
        })
        .filter(|s| !s.samples.is_empty())
        .collect();
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    out
}

fn strip_parens(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => strip_parens(&p.expr),
        other => other,
    }
}

fn expr_type(e: &Expr) -> ValueType {
    e.value_type()
}

fn type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::Vector => "instant vector",
        ValueType::Scalar => "scalar",
        ValueType::Matrix => "range vector",
        ValueType::String => "string",
    }
}
