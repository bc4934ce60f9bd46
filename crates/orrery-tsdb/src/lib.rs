//! Orrery's metric storage: write-ahead log, in-memory head, immutable blocks,
//! compaction and retention.
//!
//! This crate owns every byte under the data directory (see [`filenames`]) and
//! implements `orrery_model::{Appendable, Queryable}` on [`Db`]. It must not know about
//! HTTP, wire formats or PromQL, and it must never panic on what it reads from disk:
//! corruption is a typed [`TsdbError`].
#![deny(missing_docs)]

pub mod block;
mod checkpoint;
pub mod chunkenc;
mod compact;
mod db;
mod error;
pub mod filenames;
mod fsutil;
mod head;
pub mod postings;
mod record;
mod telemetry;
pub mod wal;

pub use db::{Db, Options};
pub use error::{Result, TsdbError};
pub use telemetry::{MetricKind, MetricValue};
pub use wal::FsyncPolicy;
