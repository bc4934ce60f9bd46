//! Immutable, time-partitioned blocks: writer, reader and metadata.
