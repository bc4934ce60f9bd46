//! Where a real block's bytes go (timestamps, values, per-chunk headers, index), and
//! what a few encoding ideas would give on the same samples.
//!
//! Run with `cargo run --release -p orrery-tsdb --example block_study -- DIR...`, where
//! each `DIR` is a block directory or a data directory (its `blocks/*` are read), e.g.
//! `bench/out/orrery/data` after `bench/run ingest`. The codec study
//! (`codec_study.rs`) works on synthetic series; this one reads the blocks a benchmark
//! run really wrote, so the breakdown in `docs/formats/block.md` is of production-shaped
//! data. Everything here is measurement: it writes nothing and the prototypes below are
//! not a format.
//!
//! The chunk encoding (2, `chunkenc::pco::encode_columns`) is re-created column by column
//! so each part can be counted; the sum is checked against the records on disk.

use orrery_model::Sample;
use orrery_tsdb::block::chunks;
use orrery_tsdb::block::index::{ChunkMeta, Index};
use orrery_tsdb::block::BlockMeta;
use orrery_tsdb::chunkenc::varint::{put_varint, uvarint_len, zigzag};
use orrery_tsdb::filenames::{BLOCKS_DIR, BLOCK_CHUNKS, BLOCK_INDEX, BLOCK_META};
use pco::wrapped::FileCompressor;
use pco::{ChunkConfig, DeltaSpec, PagingSpec};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// Bytes of one category, summed over chunks.
#[derive(Default, Debug, Clone, Copy)]
struct Parts {
    record: u64,   // encoding byte + CRC per record
    header: u64,   // count varint + flags byte
    t_direct: u64, // t0 + delta of regular timestamps
    v_direct: u64, // the one value of constant chunks
    pco_hdr: u64,  // pco's 2-byte wrapped header
    t_meta: u64,
    t_page: u64,
    v_meta: u64,
    v_page: u64,
}

impl Parts {
    fn total(&self) -> u64 {
        self.record
            + self.header
            + self.t_direct
            + self.v_direct
            + self.pco_hdr
            + self.t_meta
            + self.t_page
            + self.v_meta
            + self.v_page
    }
    fn add(&mut self, o: &Parts) {
        self.record += o.record;
        self.header += o.header;
        self.t_direct += o.t_direct;
        self.v_direct += o.v_direct;
        self.pco_hdr += o.pco_hdr;
        self.t_meta += o.t_meta;
        self.t_page += o.t_page;
        self.v_meta += o.v_meta;
        self.v_page += o.v_page;
    }
}

/// (meta bytes, page bytes) of one pco column.
fn pco_column<T: pco::data_types::Number>(nums: &[T], delta: DeltaSpec) -> Res<(u64, u64)> {
    let cfg = ChunkConfig::default()
        .with_compression_level(orrery_tsdb::chunkenc::pco::LEVEL)
        .with_delta_spec(delta)
        .with_paging_spec(PagingSpec::Exact(vec![nums.len()]));
    let fc = FileCompressor::default();
    let mut cc = fc.chunk_compressor(nums, &cfg)?;
    let meta = cc.write_meta(Vec::new())?;
    let page = cc.write_page(0, Vec::new())?;
    Ok((meta.len() as u64, page.len() as u64))
}

fn is_regular(s: &[Sample]) -> bool {
    let d = if s.len() > 1 { s[1].t - s[0].t } else { 0 };
    s.iter()
        .enumerate()
        .all(|(i, x)| x.t == s[0].t + d * i as i64)
}

/// The parts of `encode_columns(s)` plus its 5-byte record frame.
fn parts_current(s: &[Sample]) -> Res<Parts> {
    let mut p = Parts {
        record: chunks::CHUNK_RECORD_OVERHEAD as u64,
        header: uvarint_len(s.len() as u64) as u64 + 1,
        ..Parts::default()
    };
    let regular = is_regular(s);
    let constant = s.iter().all(|x| x.v.to_bits() == s[0].v.to_bits());
    if regular {
        let d = if s.len() > 1 { s[1].t - s[0].t } else { 0 };
        p.t_direct = (uvarint_len(zigzag(s[0].t)) + uvarint_len(zigzag(d))) as u64;
    }
    if constant {
        p.v_direct = 8;
    }
    if !(regular && constant) {
        p.pco_hdr = 2;
    }
    if !regular {
        let ts: Vec<i64> = s.iter().map(|x| x.t).collect();
        (p.t_meta, p.t_page) = pco_column(&ts, DeltaSpec::TryConsecutive(1))?;
    }
    if !constant {
        let vs: Vec<f64> = s.iter().map(|x| x.v).collect();
        (p.v_meta, p.v_page) = pco_column(&vs, DeltaSpec::Auto)?;
    }
    Ok(p)
}

/// Timestamp bytes when the column is `t0`, the series' median interval `m`, and the
/// residuals `t_k - (t0 + k·m)` (pco without deltas, or nothing when all are 0).
fn ts_median_residual(s: &[Sample]) -> Res<u64> {
    if s.len() < 2 {
        return Ok(uvarint_len(zigzag(s[0].t)) as u64);
    }
    let mut d: Vec<i64> = s.windows(2).map(|w| w[1].t - w[0].t).collect();
    d.sort_unstable();
    let m = d[d.len() / 2];
    let res: Vec<i64> = s
        .iter()
        .enumerate()
        .map(|(k, x)| x.t - (s[0].t + k as i64 * m))
        .collect();
    let mut b = Vec::new();
    put_varint(&mut b, s[0].t);
    put_varint(&mut b, m);
    let mut n = b.len() as u64 + 1; // + a flag: residuals present
    if res.iter().any(|&r| r != 0) {
        // Residuals drift after a late scrape only if the schedule drifts; with a fixed
        // ticker they return to ~0, so no deltas (NoOp) is the natural choice; also try
        // first deltas and keep the smaller, as a writer would.
        let (a, b) = pco_column(&res, DeltaSpec::NoOp)?;
        let (c, e) = pco_column(&res, DeltaSpec::TryConsecutive(1))?;
        n += (a + b).min(c + e);
    }
    Ok(n)
}

/// Timestamp bytes as the current encoding spends them (direct or pco column).
fn ts_current(s: &[Sample]) -> Res<u64> {
    let p = parts_current(s)?;
    Ok(p.t_direct + p.t_meta + p.t_page)
}

/// Index bytes a series' chunk metas take (nchunks, first_offset, then per chunk gap,
/// span, count-1, len), as `index.rs` writes them.
fn chunk_meta_bytes(block_min: i64, cs: &[ChunkMeta]) -> u64 {
    let mut n = uvarint_len(cs.len() as u64) + uvarint_len(cs[0].offset);
    let mut prev = block_min;
    for (i, c) in cs.iter().enumerate() {
        let gap = if i == 0 {
            c.mint - block_min
        } else {
            c.mint - prev
        };
        n += uvarint_len(gap as u64)
            + uvarint_len((c.maxt - c.mint) as u64)
            + uvarint_len(u64::from(c.count) - 1)
            + uvarint_len(u64::from(c.len));
        prev = c.maxt;
    }
    n as u64
}

fn find_blocks(dir: &Path, out: &mut Vec<PathBuf>) -> Res<()> {
    if dir.join(BLOCK_META).is_file() {
        out.push(dir.to_path_buf());
        return Ok(());
    }
    let sub = if dir.join(BLOCKS_DIR).is_dir() {
        dir.join(BLOCKS_DIR)
    } else {
        dir.to_path_buf()
    };
    let mut found: Vec<PathBuf> = std::fs::read_dir(&sub)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join(BLOCK_META).is_file())
        .collect();
    found.sort();
    out.extend(found);
    Ok(())
}

fn section_sizes(ib: &[u8]) -> Res<(u64, u64, u64)> {
    let n = ib.len();
    if n < 33 {
        return Err("index too short".into());
    }
    let u = |o: usize| -> Res<u64> {
        let b: [u8; 8] = ib[o..o + 8].try_into()?;
        Ok(u64::from_le_bytes(b))
    };
    let (sym, ser, post) = (u(n - 28)?, u(n - 20)?, u(n - 12)?);
    Ok((ser - sym, post - ser, (n as u64 - 28) - post))
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        return Err("usage: block_study DIR... (block or data directories)".into());
    }
    let mut blocks = Vec::new();
    for a in &args {
        find_blocks(Path::new(a), &mut blocks)?;
    }
    let (mut cur, mut samples, mut n_chunks, mut n_series) = (Parts::default(), 0u64, 0u64, 0u64);
    let (mut idx_sym, mut idx_series, mut idx_post, mut idx_file) = (0u64, 0u64, 0u64, 0u64);
    let (mut idx_chunk_meta, mut chunks_file, mut meta_json) = (0u64, 0u64, 0u64);
    let (mut ts_now, mut ts_med) = (0u64, 0u64);
    // Timestamp columns by content: all series of one scrape share its timestamps, so a
    // writer could store each distinct column once and refer to it (a varint id per chunk).
    let mut ts_seen: HashMap<Vec<i64>, u32> = HashMap::new();
    let (mut ts_shared, mut ts_shared_med) = (0u64, 0u64);
    let mut one_chunk = 0u64; // encode_columns over each series' samples in a block, one chunk
    let mut regular_chunks = 0u64;
    let (mut mismatched, mut mismatch_bytes) = (0u64, 0i64);
    let mut constant_chunks = 0u64;
    // Per series label set: its samples over every block, for the longer-window idea.
    let mut whole: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
    for dir in &blocks {
        let mb = std::fs::read(dir.join(BLOCK_META))?;
        meta_json += mb.len() as u64;
        let meta = BlockMeta::decode(&mb, &dir.join(BLOCK_META))?;
        let cb = std::fs::read(dir.join(BLOCK_CHUNKS))?;
        let ib = std::fs::read(dir.join(BLOCK_INDEX))?;
        chunks_file += cb.len() as u64;
        idx_file += ib.len() as u64;
        let (a, b, c) = section_sizes(&ib)?;
        idx_sym += a;
        idx_series += b;
        idx_post += c;
        let index = Index::decode(
            ib,
            &dir.join(BLOCK_INDEX),
            meta.min_time,
            meta.max_time,
            cb.len() as u64,
        )?;
        for id in 0..index.num_series() as u32 {
            let e = index.series(id)?;
            n_series += 1;
            idx_chunk_meta += chunk_meta_bytes(meta.min_time, &e.chunks);
            let mut all = Vec::new();
            for c in &e.chunks {
                let end = c.offset as usize + c.len as usize + chunks::CHUNK_RECORD_OVERHEAD;
                let rec = cb.get(c.offset as usize..end).ok_or("chunk out of file")?;
                let s =
                    chunks::decode_record(rec, &dir.join(BLOCK_CHUNKS), c.offset, c.len as usize)?;
                let p = parts_current(&s)?;
                // Older records (encoding 1, or another pco level) re-encode to another
                // size; the breakdown is then of today's encoding of the same samples,
                // and the difference is counted so it can be reported.
                let on_disk = u64::from(c.len) + chunks::CHUNK_RECORD_OVERHEAD as u64;
                if p.total() != on_disk {
                    mismatched += 1;
                    mismatch_bytes += on_disk as i64 - p.total() as i64;
                }
                regular_chunks += u64::from(p.t_direct > 0);
                constant_chunks += u64::from(p.v_direct > 0);
                cur.add(&p);
                let (now, med) = (ts_current(&s)?, ts_median_residual(&s)?);
                ts_now += now;
                ts_med += med;
                let key: Vec<i64> = s.iter().map(|x| x.t).collect();
                let next = ts_seen.len() as u32;
                let id = *ts_seen.entry(key).or_insert(next);
                let reference = uvarint_len(u64::from(id)) as u64;
                if id == next {
                    ts_shared += now + reference;
                    ts_shared_med += med + reference;
                } else {
                    ts_shared += reference;
                    ts_shared_med += reference;
                }
                samples += s.len() as u64;
                n_chunks += 1;
                all.extend(s);
            }
            one_chunk += parts_current(&all)?.total();
            whole
                .entry(index.labels(&e).to_string())
                .or_default()
                .extend(all);
        }
    }
    // Longer window: one chunk per series over every block given (up to MAX_CHUNK_SAMPLES,
    // split evenly, as compaction would write it).
    let mut long = 0u64;
    for s in whole.values_mut() {
        s.sort_by_key(|x| x.t);
        let n = s.len().div_ceil(chunks::MAX_CHUNK_SAMPLES);
        let per = s.len().div_ceil(n);
        for c in s.chunks(per) {
            long += parts_current(c)?.total();
        }
    }
    let total = chunks_file + idx_file + meta_json;
    let bps = |b: u64| b as f64 / samples as f64;
    let pct = |b: u64| 100.0 * b as f64 / total as f64;
    println!(
        "blocks {}, series entries {n_series}, distinct series {}, chunks {n_chunks} ({regular_chunks} with regular timestamps, {constant_chunks} constant), samples {samples}, {:.1} samples/chunk\n",
        blocks.len(),
        whole.len(),
        samples as f64 / n_chunks as f64
    );
    println!("| part | bytes | bytes/sample | share |");
    println!("|---|---:|---:|---:|");
    let row = |name: &str, b: u64| println!("| {name} | {b} | {:.3} | {:.1} % |", bps(b), pct(b));
    row("timestamps: pco column pages", cur.t_page);
    row("timestamps: pco column metadata", cur.t_meta);
    row(
        "timestamps: direct t0 + delta (regular chunks)",
        cur.t_direct,
    );
    row("values: pco column pages", cur.v_page);
    row("values: pco column metadata", cur.v_meta);
    row("values: direct (constant chunks)", cur.v_direct);
    row(
        "chunk headers: count + flags + pco header",
        cur.header + cur.pco_hdr,
    );
    row("chunk records: encoding byte + CRC", cur.record);
    row(
        "chunks file magic (and re-encoding differences)",
        (chunks_file as i64 - cur.total() as i64) as u64,
    );
    row("index: symbols", idx_sym);
    row("index: series (labels)", idx_series - idx_chunk_meta);
    row("index: series (chunk metas)", idx_chunk_meta);
    row("index: postings", idx_post);
    row(
        "index: magic, TOC, section frames",
        idx_file - idx_sym - idx_series - idx_post,
    );
    row("meta.json", meta_json);
    println!("| **total** | {total} | **{:.3}** | 100 % |\n", bps(total));

    // Ideas are compared with today's encoding of the same samples (equal to the disk
    // total unless older chunks re-encoded to other sizes, reported below).
    let total = idx_file + meta_json + chunks::CHUNKS_HEADER_SIZE as u64 + cur.total();
    println!("| idea (on these samples) | bytes | bytes/sample | vs today |");
    println!("|---|---:|---:|---:|");
    let idea = |name: &str, b: u64| {
        println!(
            "| {name} | {b} | {:.3} | {:+.1} % |",
            bps(b),
            100.0 * (b as f64 - total as f64) / total as f64
        )
    };
    idea("today", total);
    idea(
        "timestamps as residuals against the series' median interval",
        total - ts_now + ts_med,
    );
    idea(
        "each distinct timestamp column stored once (shared by a scrape's series), varint reference per chunk",
        total - ts_now + ts_shared,
    );
    idea(
        "both: distinct timestamp columns once, as median residuals",
        total - ts_now + ts_shared_med,
    );
    idea(
        "one chunk per series per block",
        total - cur.total() + one_chunk,
    );
    idea(
        "shared pco metadata (bound: metadata free)",
        total - cur.t_meta - cur.v_meta,
    );
    idea(
        "no per-record encoding byte + CRC (bound)",
        total - cur.record,
    );
    idea(
        "one chunk per series over all given blocks (longer window, ≤1920/chunk), same index",
        total - cur.total() + long,
    );
    if mismatched > 0 {
        println!(
            "\n{mismatched} chunks re-encode to other sizes than on disk ({mismatch_bytes:+} bytes): written by an older encoding or level"
        );
    }
    println!(
        "\ndistinct timestamp columns: {} of {n_chunks} chunks",
        ts_seen.len()
    );
    println!(
        "\ntimestamps today {ts_now} B ({:.3} B/sample), as median residuals {ts_med} B ({:.3} B/sample)",
        bps(ts_now),
        bps(ts_med)
    );
    Ok(())
}
