//! PromQL evaluation: parses with the `promql-parser` crate and evaluates over
//! `orrery_model::Queryable`, with Prometheus's semantics (staleness, lookback, step
//! alignment, `offset` and `@`, subqueries, extrapolation, NaN handling, errors,
//! warnings and infos).
//!
//! This crate owns query semantics. It must not know storage internals (it reads only
//! through `Queryable`, so it is tested on the in-memory [`MemStore`]), must not do
//! I/O, and must never panic on a query: every failure is a [`PromqlError`]. Queries
//! from any caller run under one [`QueryGate`] (slots, deadline, series and sample
//! limits).
//!
//! Entry points: [`Engine::instant_query`] and [`Engine::range_query`]. The
//! [`script`] module runs Prometheus's promqltest scripts (and gives rule unit tests
//! their series notation and loader).
#![deny(missing_docs)]

mod engine;
mod error;
mod eval;
mod functions;
mod limits;
mod memstore;
mod options;
mod parse;
mod parse_error;
pub mod script;
mod value;

#[cfg(test)]
mod tests;

pub use engine::Engine;
pub use error::PromqlError;
pub use limits::{Admitted, QueryGate, QueryLimits, QuerySettings, SeriesLimited};
pub use memstore::MemStore;
pub use options::EngineOptions;
pub use parse::{has_selector, parse_expr, parse_selector};
/// The parsed expression [`parse_expr`] returns and [`Engine`] evaluates.
pub use promql_parser::parser::Expr;
pub use value::{QueryResult, Value, VectorElem};
