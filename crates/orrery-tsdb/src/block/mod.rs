//! Immutable, time-partitioned blocks: writer, reader and metadata.
//!
//! A block is a directory `<blocks>/<ULID>/` holding `meta.json`, `index` and `chunks`
//! (names in [`crate::filenames`], bytes specified in `docs/formats/block.md`). It is
//! written once by [`write_block`] and never modified; [`Block`] reads it and is
//! `Send + Sync`: any number of threads may query one block at once.
//!
//! # Design constraints
//!
//! 1. Crash safety: a block is built in `<ULID>.tmp`, every file and the directory are
//!    fsynced, then it is renamed into place and the parent is fsynced. A directory
//!    without the suffix is always complete; a `.tmp` one is garbage to delete.
//! 2. Memory: [`Block::open`] verifies and keeps the whole `index` file in memory plus
//!    small directories (about 4 bytes per series and 12 per label value); samples stay
//!    on disk and are read with positional reads, one chunk record per read, only for
//!    chunks whose time range overlaps the query.
//! 3. Never panic on bad bytes: every read is checked, corruption is
//!    [`TsdbError::Corruption`] with the file and offset. Index and `meta.json` damage is
//!    found at open; chunk damage when the chunk is read (its CRC32C is checked first).
//! 4. Series are sorted by labels and numbered in that order, so a sorted list of series
//!    ids is a list of series sorted by labels.
//! 5. Limits: at most 2^32 series and a 4 GiB index per block; chunks hold at most
//!    [`chunks::MAX_CHUNK_SAMPLES`] samples.

pub mod chunks;
pub mod index;
mod meta;

pub use meta::{new_ulid, parse_ulid, BlockMeta, BlockStats, BLOCK_VERSION, BLOCK_VERSIONS};

use crate::filenames::{BLOCK_CHUNKS, BLOCK_INDEX, BLOCK_META, TMP_SUFFIX};
use crate::postings::postings_for_matchers;
use crate::{Result, TsdbError};
use chunks::{ChunksWriter, CHUNKS_HEADER_SIZE, MAX_CHUNK_SAMPLES};
use index::{encode_index, ChunkMeta, Index, SeriesEntry, SymLabels, SymbolTable};
use orrery_model::{Labels, Matcher, Sample, Series};
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Writes a block from series sorted by labels (strictly increasing; error otherwise),
/// each with samples sorted by `t` with unique `t`, all within `[min_time, max_time)`.
/// Series with no samples are skipped.
///
/// Builds in `<parent>/<ulid>.tmp`, fsyncs files and directory, renames to
/// `<parent>/<ulid>`, fsyncs `parent`. Returns `None`, leaving nothing behind, if no
/// series had samples. Input that breaks the contract is [`TsdbError::Bug`] (the
/// head and compactor always sort), and the temporary directory is removed.
pub fn write_block(
    parent: &Path,
    min_time: i64,
    max_time: i64,
    compaction_level: u32,
    sources: Vec<String>,
    series: impl Iterator<Item = Result<(Labels, Vec<Sample>)>>,
) -> Result<Option<BlockMeta>> {
    if min_time >= max_time {
        return Err(TsdbError::Bug(format!(
            "write_block: empty time range [{min_time}, {max_time})"
        )));
    }
    std::fs::create_dir_all(parent).map_err(|e| TsdbError::io("create dir", parent, e))?;
    let ulid = new_ulid();
    let tmp = parent.join(format!("{ulid}{TMP_SUFFIX}"));
    std::fs::create_dir(&tmp).map_err(|e| TsdbError::io("create dir", &tmp, e))?;
    let meta = BlockMeta {
        ulid,
        min_time,
        max_time,
        stats: BlockStats::default(),
        compaction_level: compaction_level.max(1),
        sources,
        version: BLOCK_VERSION,
    };
    match write_into(&tmp, meta, series) {
        Ok(Some(meta)) => {
            let dst = parent.join(&meta.ulid);
            std::fs::rename(&tmp, &dst).map_err(|e| TsdbError::io("rename", &tmp, e))?;
            orrery_segment::sync_dir(&RealFs, parent)?;
            Ok(Some(meta))
        }
        Ok(None) => {
            remove_tmp(&tmp);
            Ok(None)
        }
        Err(e) => {
            remove_tmp(&tmp);
            Err(e)
        }
    }
}

fn remove_tmp(tmp: &Path) {
    if let Err(e) = std::fs::remove_dir_all(tmp) {
        tracing::warn!(path = %tmp.display(), error = %e, "Could not remove a temporary block directory.");
    }
}

fn write_into(
    dir: &Path,
    mut meta: BlockMeta,
    series: impl Iterator<Item = Result<(Labels, Vec<Sample>)>>,
) -> Result<Option<BlockMeta>> {
    let chunks_path = dir.join(BLOCK_CHUNKS);
    let mut cw = ChunksWriter::create(&chunks_path)?;
    let mut entries: Vec<(SymLabels, Vec<ChunkMeta>)> = Vec::new();
    let mut table = SymbolTable::default();
    let mut prev: Option<Labels> = None;
    let (min_time, max_time) = (meta.min_time, meta.max_time);
    for item in series {
        let (labels, samples) = item?;
        check_labels(&labels, prev.as_ref())?;
        if let Some((i, s)) = samples
            .iter()
            .enumerate()
            .find(|(i, s)| s.t < min_time || s.t >= max_time || (*i > 0 && s.t <= samples[i - 1].t))
        {
            return Err(TsdbError::Bug(format!(
                "write_block: series {labels}: sample {i} at {} is out of order or outside [{min_time}, {max_time})",
                s.t
            )));
        }
        if !samples.is_empty() {
            let k = samples.len().div_ceil(MAX_CHUNK_SAMPLES);
            let per = samples.len().div_ceil(k);
            let mut metas = Vec::with_capacity(k);
            for c in samples.chunks(per) {
                let (offset, len) = cw.add(c)?;
                metas.push(ChunkMeta {
                    offset,
                    len: u32::try_from(len)
                        .map_err(|_| TsdbError::Bug("chunk over 4 GiB".into()))?,
                    mint: c[0].t,
                    maxt: c[c.len() - 1].t,
                    count: c.len() as u32,
                });
            }
            meta.stats.num_samples += samples.len() as u64;
            meta.stats.num_chunks += metas.len() as u64;
            entries.push((table.intern_labels(&labels)?, metas));
        }
        prev = Some(labels);
    }
    if entries.is_empty() {
        return Ok(None);
    }
    meta.stats.num_series = entries.len() as u64;
    let chunks_size = cw.finish()?;
    debug_assert!(chunks_size >= CHUNKS_HEADER_SIZE as u64);
    let index = encode_index(min_time, &table, &entries)?;
    write_file(&dir.join(BLOCK_INDEX), &index)?;
    write_file(&dir.join(BLOCK_META), &meta.encode())?;
    orrery_segment::sync_dir(&RealFs, dir)?;
    Ok(Some(meta))
}

fn check_labels(labels: &Labels, prev: Option<&Labels>) -> Result<()> {
    let bad = |why: &str| {
        Err(TsdbError::Bug(format!(
            "write_block: series {labels}: {why}"
        )))
    };
    if labels.is_empty() {
        return bad("no labels");
    }
    let ls = labels.as_slice();
    if ls.windows(2).any(|w| w[0].name >= w[1].name) {
        return bad("label names not sorted and unique");
    }
    if ls.iter().any(|l| l.value.is_empty()) {
        return bad("empty label value");
    }
    if let Some(p) = prev {
        if p >= labels {
            return bad(&format!(
                "not after the previous series {p} (series must be sorted)"
            ));
        }
    }
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| TsdbError::io("create", path, e))?;
    f.write_all(bytes)
        .map_err(|e| TsdbError::io("write", path, e))?;
    f.sync_all().map_err(|e| TsdbError::io("fsync", path, e))
}

use orrery_segment::RealFs;

/// An open, verified block.
#[derive(Debug)]
pub struct Block {
    dir: PathBuf,
    meta: BlockMeta,
    index: Index,
    chunks: File,
    chunks_path: PathBuf,
    size: u64,
}

impl Block {
    /// Opens the block in `dir`: parses and validates `meta.json`, checks the chunks
    /// header and size, and verifies and loads the whole index (every checksum and
    /// structural rule). Damage is [`TsdbError::Corruption`] naming the file and offset.
    pub fn open(dir: &Path) -> Result<Block> {
        let meta_path = dir.join(BLOCK_META);
        let mb = std::fs::read(&meta_path).map_err(|e| TsdbError::io("read", &meta_path, e))?;
        let meta = BlockMeta::decode(&mb, &meta_path)?;

        let chunks_path = dir.join(BLOCK_CHUNKS);
        let mut chunks =
            File::open(&chunks_path).map_err(|e| TsdbError::io("open", &chunks_path, e))?;
        let chunks_size = chunks
            .metadata()
            .map_err(|e| TsdbError::io("stat", &chunks_path, e))?
            .len();
        let mut head = [0u8; CHUNKS_HEADER_SIZE];
        let n = read_up_to(&mut chunks, &mut head)
            .map_err(|e| TsdbError::io("read", &chunks_path, e))?;
        chunks::check_header(&head[..n], &chunks_path)?;

        let index_path = dir.join(BLOCK_INDEX);
        let ib = std::fs::read(&index_path).map_err(|e| TsdbError::io("read", &index_path, e))?;
        let index_size = ib.len() as u64;
        let index = Index::decode(ib, &index_path, meta.min_time, meta.max_time, chunks_size)?;
        if index.num_series() as u64 != meta.stats.num_series {
            return Err(TsdbError::corruption(
                &meta_path,
                0,
                format!(
                    "numSeries; got {}; index has {}",
                    meta.stats.num_series,
                    index.num_series()
                ),
            ));
        }
        Ok(Block {
            dir: dir.to_path_buf(),
            size: mb.len() as u64 + chunks_size + index_size,
            meta,
            index,
            chunks,
            chunks_path,
        })
    }

    /// The block's metadata.
    pub fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    /// The block's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Total bytes of the block's files on disk.
    pub fn size_bytes(&self) -> u64 {
        self.size
    }

    /// Bytes the open block holds in memory (mostly the index).
    pub fn memory_bytes(&self) -> usize {
        self.index.memory_bytes()
    }

    /// Series matching all `matchers` with at least one sample in `[mint, maxt]`
    /// (inclusive), with those samples, sorted by labels. Only chunks overlapping the
    /// range are read. An empty matcher list selects every series.
    ///
    /// Large selections are split into contiguous runs of series read on separate
    /// threads (one per core, see [`SELECT_PARALLEL_MIN_SERIES`]): decoding chunks is
    /// the bulk of a query's storage time and every series is independent. The runs are
    /// concatenated in order, so the result is the same as a sequential read.
    pub fn select(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<Vec<Series>> {
        let ids = postings_for_matchers(&self.index, matchers);
        // Asked once: `available_parallelism` reads the cgroup's CPU quota from files.
        static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        let threads =
            *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        if threads < 2 || ids.len() < SELECT_PARALLEL_MIN_SERIES {
            return self.select_ids(&ids, mint, maxt);
        }
        let per = ids.len().div_ceil(threads);
        let parts: Vec<Result<Vec<Series>>> = std::thread::scope(|scope| {
            let mut runs = ids.chunks(per);
            // The calling thread reads the first run itself.
            let first = runs.next().unwrap_or(&[]);
            let handles: Vec<_> = runs
                .map(|run| scope.spawn(move || self.select_ids(run, mint, maxt)))
                .collect();
            let mut parts = vec![self.select_ids(first, mint, maxt)];
            for h in handles {
                parts.push(h.join().unwrap_or_else(|_| {
                    Err(TsdbError::Bug("a block select thread panicked".into()))
                }));
            }
            parts
        });
        let mut out = Vec::with_capacity(ids.len());
        for p in parts {
            out.extend(p?);
        }
        Ok(out)
    }

    /// [`Self::select`] for the series `ids` (sorted), on the calling thread.
    ///
    /// Series sorted by labels have their chunks next to each other in the file, so
    /// the records are read in spans of neighbouring records, one `pread` each (see
    /// [`SPAN_MAX_GAP`]), into one buffer reused across spans, and decoded in place.
    fn select_ids(&self, ids: &[u64], mint: i64, maxt: i64) -> Result<Vec<Series>> {
        let mut entries = Vec::with_capacity(ids.len());
        // (entry, chunk) for every chunk to read, in file order when the file is.
        let mut wanted: Vec<(usize, ChunkMeta)> = Vec::with_capacity(ids.len());
        for &id in ids {
            let e = self.index.series(id as u32)?;
            wanted.extend(
                e.chunks
                    .iter()
                    .filter(|c| c.overlaps(mint, maxt))
                    .map(|c| (entries.len(), *c)),
            );
            entries.push(e);
        }
        let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); entries.len()];
        let mut buf: Vec<u8> = Vec::new();
        let mut k = 0;
        while k < wanted.len() {
            let start = wanted[k].1.offset;
            let mut end = record_end(&wanted[k].1);
            let mut last = k + 1;
            while last < wanted.len() {
                let c = &wanted[last].1;
                let c_end = record_end(c);
                if c.offset < end || c.offset - end > SPAN_MAX_GAP || c_end - start > SPAN_MAX_BYTES
                {
                    break;
                }
                end = c_end;
                last += 1;
            }
            let span = (end - start) as usize;
            buf.clear();
            // Zeroed room after the last record lets it be decoded in place too.
            buf.resize(span + crate::chunkenc::pco::DECODE_PADDING, 0);
            chunks::read_span(&self.chunks, &self.chunks_path, start, &mut buf[..span])?;
            for (entry, c) in &wanted[k..last] {
                let at = (c.offset - start) as usize;
                let s =
                    chunks::decode_record(&buf[at..], &self.chunks_path, c.offset, c.len as usize)?;
                self.check_chunk(c, &s)?;
                let out = &mut samples[*entry];
                if out.is_empty() && c.mint >= mint && c.maxt <= maxt {
                    // The usual case, a chunk entirely inside the range: keep the
                    // decoded vector instead of copying it.
                    *out = s;
                } else {
                    let lo = s.partition_point(|p| p.t < mint);
                    let hi = s.partition_point(|p| p.t <= maxt);
                    out.extend_from_slice(&s[lo..hi.max(lo)]);
                }
            }
            k = last;
        }
        Ok(entries
            .iter()
            .zip(samples)
            .filter(|(_, samples)| !samples.is_empty())
            .map(|(e, samples)| Series {
                labels: self.index.labels(e),
                samples,
            })
            .collect())
    }

    /// Label sets of the series matching all `matchers` that have a chunk overlapping
    /// `[mint, maxt]`, sorted. Decides from chunk time ranges without reading samples.
    pub fn series(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<Vec<Labels>> {
        let mut out = Vec::new();
        for id in postings_for_matchers(&self.index, matchers) {
            let e = self.index.series(id as u32)?;
            if e.chunks.iter().any(|c| c.overlaps(mint, maxt)) {
                out.push(self.index.labels(&e));
            }
        }
        Ok(out)
    }

    /// Sorted label names of the series matching `matchers` (all names when empty).
    pub fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>> {
        if matchers.is_empty() {
            return Ok(self
                .index
                .label_names()
                .into_iter()
                .map(str::to_string)
                .collect());
        }
        let mut names = BTreeSet::new();
        for e in self.matching(matchers)? {
            for (n, _) in &e.labels {
                names.insert(*n);
            }
        }
        // Symbol ids sort like their strings.
        Ok(names
            .into_iter()
            .map(|n| self.index.sym(n).to_string())
            .collect())
    }

    /// Sorted values of label `name` over series matching `matchers` (all series when
    /// empty).
    pub fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>> {
        if matchers.is_empty() {
            use crate::postings::PostingsSource;
            return Ok(self
                .index
                .label_values(name)
                .into_iter()
                .map(str::to_string)
                .collect());
        }
        let Some(nid) = self.index.find_sym(name) else {
            return Ok(Vec::new());
        };
        let mut values = BTreeSet::new();
        for e in self.matching(matchers)? {
            if let Ok(i) = e.labels.binary_search_by_key(&nid, |(n, _)| *n) {
                values.insert(e.labels[i].1);
            }
        }
        Ok(values
            .into_iter()
            .map(|v| self.index.sym(v).to_string())
            .collect())
    }

    /// Every series in label order with all its samples, for compaction.
    ///
    /// A series' chunks are neighbours in the file, so each series is one span read
    /// (see [`Self::select_ids`]), not one read per chunk.
    pub fn iter_series(&self) -> impl Iterator<Item = Result<(Labels, Vec<Sample>)>> + '_ {
        (0..self.index.num_series() as u64).map(move |id| {
            // Open verified that every series has a chunk and every chunk a sample.
            match self.select_ids(&[id], i64::MIN, i64::MAX)?.pop() {
                Some(s) => Ok((s.labels, s.samples)),
                None => Err(TsdbError::Bug(format!("series {id} read no samples"))),
            }
        })
    }

    fn matching(&self, matchers: &[Matcher]) -> Result<Vec<SeriesEntry>> {
        postings_for_matchers(&self.index, matchers)
            .into_iter()
            .map(|id| self.index.series(id as u32))
            .collect()
    }

    /// Checks decoded samples against their chunk's meta.
    fn check_chunk(&self, c: &ChunkMeta, s: &[Sample]) -> Result<()> {
        let (first, last) = (s.first().map(|s| s.t), s.last().map(|s| s.t));
        if s.len() != c.count as usize || first != Some(c.mint) || last != Some(c.maxt) {
            return Err(TsdbError::corruption(
                &self.chunks_path,
                c.offset,
                format!(
                    "chunk disagrees with the index; got {} samples in [{first:?}, {last:?}]; want {} in [{}, {}]",
                    s.len(),
                    c.count,
                    c.mint,
                    c.maxt
                ),
            ));
        }
        Ok(())
    }
}

/// The file offset just past `c`'s record.
fn record_end(c: &ChunkMeta) -> u64 {
    c.offset + u64::from(c.len) + chunks::CHUNK_RECORD_OVERHEAD as u64
}

/// Largest run of unwanted bytes [`Block::select`] reads through to keep one span:
/// reading a few KiB more costs less than another system call.
pub const SPAN_MAX_GAP: u64 = 16 << 10;

/// Largest span [`Block::select`] reads at once, which bounds its buffer.
pub const SPAN_MAX_BYTES: u64 = 4 << 20;

/// Fewest matching series for which [`Block::select`] uses more than one thread:
/// below this, starting a thread (tens of microseconds) costs about as much as the
/// decoding it would take over.
pub const SELECT_PARALLEL_MIN_SERIES: usize = 64;

fn read_up_to(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests;
