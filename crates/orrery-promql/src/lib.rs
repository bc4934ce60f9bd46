//! PromQL evaluation: parses with the `promql-parser` crate and evaluates over
//! `orrery_model::Queryable`, with Prometheus's semantics (staleness, lookback, step
//! alignment, `offset` and `@`, subqueries, extrapolation, NaN handling, errors,
//! warnings and infos).
//!
//! This crate owns query semantics. It must not know storage internals (it reads only
//! through `Queryable`, so it is tested on the in-memory [`MemStore`]), must not do
//! I/O, and must never panic on a query: every failure is a [`PromqlError`].
//!
//! Entry points: [`Engine::instant_query`] and [`Engine::range_query`]. The
//! [`script`] module runs Prometheus's promqltest scripts (and gives rule unit tests
//! their series notation and loader).
#![deny(missing_docs)]

mod engine;
mod error;
mod eval;
mod functions;
mod memstore;
mod parse;
pub mod script;
mod value;

#[cfg(test)]
mod tests;

pub use engine::{Engine, EngineOptions};
pub use error::PromqlError;
pub use memstore::MemStore;
pub use parse::parse_expr;
pub use value::{QueryResult, Value, VectorElem};
