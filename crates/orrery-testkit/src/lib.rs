//! Test support shared by the end-to-end tests (`crates/*/tests/`) and the benchmark
//! (`bench/`): what both used to copy.
//!
//! - [`proc`]: child processes with their output in a log file, started on a free
//!   loopback port ([`ports`]), waited for until they answer, stopped with SIGTERM or
//!   SIGKILL, and never outliving a test.
//! - [`rng`]: a seeded SplitMix64 stream, so synthetic data and random delays can be
//!   replayed from a printed seed.
//! - [`promql_compare`]: when two answers of `/api/v1/query_range` are equal (the
//!   compliance test and the benchmark's query phase must agree on that).
//! - [`conformance`]: where the upstream conformance data is, and what a suite does when
//!   it is not there (skip with one line, or fail when `CI` is set).
//!
//! This crate is **dev-only**: it may be a `[dev-dependencies]` entry of any crate and a
//! normal dependency of `orrery-bench`, never a normal dependency of a product crate
//! (`tests/tidy.rs` checks). It must not depend on any `orrery-*` crate (so every crate's
//! tests can use it without a cycle), and it keeps its own dependencies to what the tree
//! already builds. Being test support, it panics with a message on harness failures
//! (a port that cannot be bound, a log file that cannot be created), except where the
//! benchmark needs an error it can report.
#![deny(missing_docs)]

pub mod conformance;
pub mod ports;
pub mod proc;
pub mod promql_compare;
pub mod rng;
