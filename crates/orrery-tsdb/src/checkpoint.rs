//! The WAL checkpoint (`docs/formats/checkpoint.md`, magic `ORCP`): a snapshot of the
//! head and the metric metadata, written by a cut so that the segments it covers can be
//! deleted, and read back first at open. It uses the WAL's framing and record payloads
//! (`wal`, `record`); this file knows what goes into one and in which order.
//!
//! The writer streams: the cut runs when the head is largest, so neither the head nor
//! the checkpoint is ever copied whole into memory.

use crate::head::Head;
use crate::record::{self, TYPE_CHUNKS, TYPE_METADATA, TYPE_SAMPLES, TYPE_SERIES};
use crate::wal::{self, SegmentReadEnd};
use crate::{Result, TsdbError};
use orrery_model::MetricMetadata;
use orrery_segment::RealFs;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// Magic at the start of every checkpoint file ("ORCP").
pub const CHECKPOINT_MAGIC: [u8; 4] = *b"ORCP";

/// Writes the head and metadata as checkpoint file `path` (docs/formats/checkpoint.md),
/// atomically. Records are streamed to the file in batches of about 1 MiB, never built
/// for the whole head in memory. Returns the file's size.
pub(crate) fn write_checkpoint(
    path: &Path,
    head: &Head,
    md: &BTreeMap<String, MetricMetadata>,
) -> Result<u64> {
    const FLUSH_AT: usize = 1 << 20;
    let mut size = 0u64;
    orrery_segment::write_atomic::<_, TsdbError>(&RealFs, path, |out, tmp| {
        let mut write = |bytes: &[u8]| -> Result<()> {
            size += bytes.len() as u64;
            out.write_all(bytes)
                .map_err(|e| TsdbError::io("write", tmp, e))
        };
        write(&wal::file_header(CHECKPOINT_MAGIC))?;
        let mut frame = Vec::new();
        let (mut series, mut chunks, mut samples) = (Vec::new(), Vec::new(), Vec::new());
        let mut all = head.all_series().into_iter().peekable();
        while let Some(s) = all.next() {
            let labels = s.labels();
            record::encode_series(&mut series, [(s.id(), &labels)]);
            let (closed, open, ooo) = s.snapshot();
            if !closed.is_empty() {
                record::encode_chunks(&mut chunks, s.id(), closed.iter().map(|c| c.as_slice()));
            }
            record::encode_samples(&mut samples, s.id(), &open);
            record::encode_samples(&mut samples, s.id(), &ooo);
            if series.len() + chunks.len() + samples.len() > FLUSH_AT || all.peek().is_none() {
                // Series first: chunk and sample records refer to their ids.
                frame.clear();
                for (typ, p) in [
                    (TYPE_SERIES, &mut series),
                    (TYPE_CHUNKS, &mut chunks),
                    (TYPE_SAMPLES, &mut samples),
                ] {
                    if !p.is_empty() {
                        wal::encode_record(&mut frame, typ, p);
                        p.clear();
                    }
                }
                write(&frame)?;
            }
        }
        let mut md_payload = Vec::new();
        record::encode_metadata(&mut md_payload, md.values());
        if !md_payload.is_empty() {
            frame.clear();
            wal::encode_record(&mut frame, TYPE_METADATA, &md_payload);
            write(&frame)?;
        }
        Ok(())
    })?;
    Ok(size)
}

/// Reads checkpoint `path`, calling `f(type, payload)` for every record (the same
/// record types as WAL segments). Damage ends reading at the bad record and is returned
/// in [`SegmentReadEnd::Corrupt`]: the caller keeps what came before it.
pub(crate) fn read_checkpoint(
    path: &Path,
    f: impl FnMut(u8, &[u8]) -> Result<()>,
) -> Result<SegmentReadEnd> {
    wal::read_segment(path, CHECKPOINT_MAGIC, f)
}
