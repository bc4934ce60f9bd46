//! The block `index` file: symbols, series (labels and chunk metas) and postings, each a
//! CRC32C-framed section, with a table of contents at the end. Spec:
//! `docs/formats/block.md`.
//!
//! [`encode_index`] builds the whole file in memory (the writer has every series'
//! labels anyway). [`Index::decode`] verifies every checksum and parses every section
//! once, so later lookups cannot fail on well-checked bytes; it keeps the file's bytes
//! and small directories (series offsets, postings offsets) instead of materialising
//! labels, so an open block costs about its index size in memory. Immutable after
//! decoding, so shared reads need no lock.

use super::chunks::{CHUNKS_HEADER_SIZE, CHUNK_RECORD_OVERHEAD};
use crate::chunkenc::pco;
use crate::chunkenc::varint::{put_uvarint, Cursor};
use crate::postings::PostingsSource;
use crate::{Result, TsdbError};
use orrery_model::{Label, Labels};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// First bytes of an index file.
pub const INDEX_MAGIC: [u8; 4] = *b"ORIX";
/// Current index version.
pub const INDEX_VERSION: u8 = 1;
/// Index versions this reader accepts.
pub const INDEX_VERSIONS: &[u8] = &[1];
/// Size of the header (magic and version).
pub const INDEX_HEADER_SIZE: usize = 5;
/// Size of the table of contents at the end of the file.
pub const INDEX_TOC_SIZE: usize = 28;
/// Section framing: a `u32le` length before the payload and a CRC32C after it.
pub const SECTION_OVERHEAD: usize = 8;

/// Where one chunk lives and what it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkMeta {
    /// Offset of the chunk record in the chunks file.
    pub offset: u64,
    /// Length of the record's data part (the record is `len + 5` bytes).
    pub len: u32,
    /// First sample's timestamp.
    pub mint: i64,
    /// Last sample's timestamp.
    pub maxt: i64,
    /// Number of samples.
    pub count: u32,
}

impl ChunkMeta {
    /// True if the chunk may hold samples in `[mint, maxt]`.
    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.mint <= maxt && self.maxt >= mint
    }
}

/// Label pairs as ids into a [`SymbolTable`]; the writer's compact form of a series.
pub type SymLabels = Vec<(u32, u32)>;

/// Interns strings while a block is written, so the writer holds each distinct label
/// name and value once instead of once per series.
#[derive(Debug, Default)]
pub struct SymbolTable {
    ids: HashMap<Box<str>, u32>,
    strings: Vec<Box<str>>,
}

impl SymbolTable {
    /// The id of `s`, adding it if new.
    pub fn intern(&mut self, s: &str) -> Result<u32> {
        if let Some(&id) = self.ids.get(s) {
            return Ok(id);
        }
        let id = u32::try_from(self.strings.len())
            .map_err(|_| TsdbError::Bug("block too big: symbol count exceeds 2^32".into()))?;
        let b: Box<str> = s.into();
        self.strings.push(b.clone());
        self.ids.insert(b, id);
        Ok(id)
    }

    /// Interns a label set.
    pub fn intern_labels(&mut self, l: &Labels) -> Result<SymLabels> {
        l.iter()
            .map(|l| Ok((self.intern(&l.name)?, self.intern(&l.value)?)))
            .collect()
    }
}

/// Builds the index file for series sorted by labels, each with its chunks in time
/// order. Fails only if the block is too big for 32-bit ids and offsets.
pub fn encode_index(
    block_min: i64,
    table: &SymbolTable,
    series: &[(SymLabels, Vec<ChunkMeta>)],
) -> Result<Vec<u8>> {
    let too_big = |what: &str| TsdbError::Bug(format!("block too big: {what} exceeds 2^32"));
    if u32::try_from(series.len()).is_err() {
        return Err(too_big("series count"));
    }
    // The file stores symbols sorted; map insertion ids to sorted positions.
    let mut order: Vec<u32> = (0..table.strings.len() as u32).collect();
    order.sort_unstable_by(|a, b| table.strings[*a as usize].cmp(&table.strings[*b as usize]));
    let syms: Vec<&str> = order.iter().map(|&i| &*table.strings[i as usize]).collect();
    let mut remap = vec![0u64; order.len()];
    for (sorted, &ins) in order.iter().enumerate() {
        remap[ins as usize] = sorted as u64;
    }

    let mut out = Vec::with_capacity(64 + series.len() * 32);
    out.extend_from_slice(&INDEX_MAGIC);
    out.push(INDEX_VERSION);

    // Symbols, front-coded: each shares a prefix with the previous one.
    let symbols_off = out.len() as u64;
    let mut p = Vec::new();
    put_uvarint(&mut p, syms.len() as u64);
    let mut prev: &[u8] = &[];
    for s in &syms {
        let b = s.as_bytes();
        let shared = prev.iter().zip(b).take_while(|(a, b)| a == b).count();
        put_uvarint(&mut p, shared as u64);
        put_uvarint(&mut p, (b.len() - shared) as u64);
        p.extend_from_slice(&b[shared..]);
        prev = b;
    }
    put_section(&mut out, &p)?;

    // Series.
    let series_off = out.len() as u64;
    p.clear();
    put_uvarint(&mut p, series.len() as u64);
    let mut postings: HashMap<(u64, u64), Vec<u32>> = HashMap::new();
    for (sid, (ls, chunks)) in series.iter().enumerate() {
        put_uvarint(&mut p, ls.len() as u64);
        for &(n, v) in ls {
            let (n, v) = (remap[n as usize], remap[v as usize]);
            put_uvarint(&mut p, n);
            put_uvarint(&mut p, v);
            postings.entry((n, v)).or_default().push(sid as u32);
        }
        put_uvarint(&mut p, chunks.len() as u64);
        put_uvarint(&mut p, chunks.first().map_or(0, |c| c.offset));
        let mut prev_maxt = block_min;
        for (i, c) in chunks.iter().enumerate() {
            let gap = if i == 0 {
                (c.mint as u64).wrapping_sub(block_min as u64)
            } else {
                (c.mint as u64).wrapping_sub(prev_maxt as u64)
            };
            put_uvarint(&mut p, gap);
            put_uvarint(&mut p, (c.maxt as u64).wrapping_sub(c.mint as u64));
            put_uvarint(&mut p, u64::from(c.count) - 1);
            put_uvarint(&mut p, u64::from(c.len));
            prev_maxt = c.maxt;
        }
    }
    put_section(&mut out, &p)?;

    // Postings, by name then value (symbol ids sort like the strings).
    let postings_off = out.len() as u64;
    p.clear();
    let mut keys: Vec<(u64, u64)> = postings.keys().copied().collect();
    keys.sort_unstable();
    let mut names: Vec<(u64, Vec<(u64, u64)>)> = Vec::new();
    for k in keys {
        match names.last_mut() {
            Some((n, vs)) if *n == k.0 => vs.push(k),
            _ => names.push((k.0, vec![k])),
        }
    }
    put_uvarint(&mut p, names.len() as u64);
    for (n, vs) in &names {
        put_uvarint(&mut p, *n);
        put_uvarint(&mut p, vs.len() as u64);
        for k in vs {
            let list = &postings[k];
            put_uvarint(&mut p, k.1);
            put_uvarint(&mut p, list.len() as u64);
            let mut prev = 0u32;
            for (i, id) in list.iter().enumerate() {
                put_uvarint(&mut p, u64::from(if i == 0 { *id } else { id - prev }));
                prev = *id;
            }
        }
    }
    put_section(&mut out, &p)?;

    let toc_start = out.len();
    out.extend_from_slice(&symbols_off.to_le_bytes());
    out.extend_from_slice(&series_off.to_le_bytes());
    out.extend_from_slice(&postings_off.to_le_bytes());
    let crc = crc32c::crc32c(&out[toc_start..]);
    out.extend_from_slice(&crc.to_le_bytes());
    if u32::try_from(out.len()).is_err() {
        return Err(too_big("index size"));
    }
    Ok(out)
}

fn put_section(out: &mut Vec<u8>, payload: &[u8]) -> Result<()> {
    let len = u32::try_from(payload.len())
        .map_err(|_| TsdbError::Bug("block too big: index section exceeds 2^32 bytes".into()))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    Ok(())
}

/// One label value's postings list: where its encoded ids start in the file.
#[derive(Debug, Clone, Copy)]
struct ValueEntry {
    value: u32,
    off: u32,
    n: u32,
}

/// A decoded, verified index held in memory.
#[derive(Debug)]
pub struct Index {
    path: PathBuf,
    bytes: Vec<u8>,
    /// Concatenated symbol text and the end offset of each symbol in it.
    sym_text: String,
    sym_ends: Vec<u32>,
    /// File offset of each series entry.
    series_offs: Vec<u32>,
    /// Label names (symbol ids, ascending) and the index of their first value in
    /// `values`; a name's values end where the next name's begin.
    names: Vec<(u32, u32)>,
    values: Vec<ValueEntry>,
    block_min: i64,
}

/// A decoded series entry.
#[derive(Debug, Clone)]
pub struct SeriesEntry {
    /// (name, value) symbol ids.
    pub labels: Vec<(u32, u32)>,
    /// Chunks in time order.
    pub chunks: Vec<ChunkMeta>,
}

impl Index {
    /// Verifies and parses an index file's bytes. `chunks_size` is the size of the
    /// block's chunks file: every chunk must lie inside it, and the last must end at it.
    pub fn decode(
        bytes: Vec<u8>,
        path: &Path,
        block_min: i64,
        block_max: i64,
        chunks_size: u64,
    ) -> Result<Index> {
        let corrupt = |off: usize, reason: String| TsdbError::corruption(path, off as u64, reason);
        if bytes.len() < INDEX_HEADER_SIZE + INDEX_TOC_SIZE {
            return Err(corrupt(
                0,
                format!(
                    "file too short; got {} bytes; want at least {}",
                    bytes.len(),
                    INDEX_HEADER_SIZE + INDEX_TOC_SIZE
                ),
            ));
        }
        if bytes[..4] != INDEX_MAGIC {
            return Err(corrupt(
                0,
                format!(
                    "bad magic; got {:02x?}; want {INDEX_MAGIC:02x?}",
                    &bytes[..4]
                ),
            ));
        }
        if !INDEX_VERSIONS.contains(&bytes[4]) {
            return Err(corrupt(
                4,
                format!(
                    "unsupported version; got {}; want one of {INDEX_VERSIONS:?}",
                    bytes[4]
                ),
            ));
        }
        if u32::try_from(bytes.len()).is_err() {
            return Err(corrupt(0, "index larger than 4 GiB".into()));
        }
        let toc_at = bytes.len() - INDEX_TOC_SIZE;
        let toc = &bytes[toc_at..];
        let want = u32::from_le_bytes([toc[24], toc[25], toc[26], toc[27]]);
        let got = crc32c::crc32c(&toc[..24]);
        if got != want {
            return Err(corrupt(
                toc_at,
                format!("table of contents checksum mismatch; got {got:08x}; want {want:08x}"),
            ));
        }
        let mut offs = [0usize; 3];
        for (i, o) in offs.iter_mut().enumerate() {
            let mut a = [0u8; 8];
            a.copy_from_slice(&toc[i * 8..i * 8 + 8]);
            *o = u64::from_le_bytes(a) as usize;
        }
        // Sections are contiguous: symbols right after the header, each next one
        // right after the previous, the TOC right after postings.
        if offs[0] != INDEX_HEADER_SIZE {
            return Err(corrupt(
                toc_at,
                format!("symbols offset; got {}; want {INDEX_HEADER_SIZE}", offs[0]),
            ));
        }
        let (sym_payload, end) = section(&bytes, offs[0], path)?;
        if offs[1] != end {
            return Err(corrupt(
                toc_at + 8,
                format!("series offset; got {}; want {end}", offs[1]),
            ));
        }
        let (series_payload, end) = section(&bytes, offs[1], path)?;
        if offs[2] != end {
            return Err(corrupt(
                toc_at + 16,
                format!("postings offset; got {}; want {end}", offs[2]),
            ));
        }
        let (postings_payload, end) = section(&bytes, offs[2], path)?;
        if end != toc_at {
            return Err(corrupt(
                end,
                format!(
                    "{} unexpected bytes before the table of contents",
                    toc_at.saturating_sub(end)
                ),
            ));
        }

        let mut ix = Index {
            path: path.to_path_buf(),
            bytes: Vec::new(),
            sym_text: String::new(),
            sym_ends: Vec::new(),
            series_offs: Vec::new(),
            names: Vec::new(),
            values: Vec::new(),
            block_min,
        };
        ix.parse_symbols(sym_payload, offs[0] + 4)?;
        ix.parse_series(series_payload, offs[1] + 4, block_max, chunks_size)?;
        ix.parse_postings(postings_payload, offs[2] + 4)?;
        ix.bytes = bytes;
        Ok(ix)
    }

    fn parse_symbols(&mut self, p: &[u8], base: usize) -> Result<()> {
        let mut c = Cursor::new(p);
        let at = |c: &Cursor, e: &str| {
            TsdbError::corruption(&self.path, (base + c.pos()) as u64, format!("symbols: {e}"))
        };
        let n = c.uvarint_usize(p.len()).map_err(|e| at(&c, e))?;
        let mut ends = Vec::with_capacity(n);
        let mut text: Vec<u8> = Vec::new();
        let mut prev_start = 0usize;
        for i in 0..n {
            let pos = c.pos();
            let shared = c
                .uvarint_usize(text.len() - prev_start)
                .map_err(|e| at(&c, e))?;
            let suffix_len = c.uvarint_usize(p.len()).map_err(|e| at(&c, e))?;
            let suffix = c.bytes(suffix_len).map_err(|e| at(&c, e))?;
            let start = text.len();
            text.extend_from_within(prev_start..prev_start + shared);
            text.extend_from_slice(suffix);
            let cur = &text[start..];
            if std::str::from_utf8(cur).is_err() {
                return Err(TsdbError::corruption(
                    &self.path,
                    (base + pos) as u64,
                    format!("symbols: symbol {i} is not UTF-8"),
                ));
            }
            if i > 0 && text[prev_start..start] >= *cur {
                return Err(TsdbError::corruption(
                    &self.path,
                    (base + pos) as u64,
                    format!("symbols: symbol {i} not after the previous one"),
                ));
            }
            ends.push(u32::try_from(text.len()).map_err(|_| at(&c, "symbols too big"))?);
            prev_start = start;
        }
        if c.remaining() != 0 {
            return Err(at(&c, "trailing bytes"));
        }
        // Each symbol was checked to be UTF-8 on its own, so the concatenation is.
        self.sym_text = String::from_utf8(text)
            .map_err(|_| TsdbError::corruption(&self.path, base as u64, "symbols: not UTF-8"))?;
        self.sym_ends = ends;
        Ok(())
    }

    fn parse_series(
        &mut self,
        p: &[u8],
        base: usize,
        block_max: i64,
        chunks_size: u64,
    ) -> Result<()> {
        let mut c = Cursor::new(p);
        let n = c
            .uvarint_usize(p.len())
            .map_err(|e| TsdbError::corruption(&self.path, base as u64, format!("series: {e}")))?;
        let mut offs = Vec::with_capacity(n);
        let mut prev: Option<Vec<(u32, u32)>> = None;
        let mut next_chunk = CHUNKS_HEADER_SIZE as u64;
        for i in 0..n {
            let start = c.pos();
            let at = |reason: String| {
                TsdbError::corruption(
                    &self.path,
                    (base + start) as u64,
                    format!("series {i}: {reason}"),
                )
            };
            let e = self.read_series(&mut c, p).map_err(|e| at(e.to_string()))?;
            if e.labels.is_empty() {
                return Err(at("no labels".into()));
            }
            if e.labels.windows(2).any(|w| w[0].0 >= w[1].0) {
                return Err(at("label names not sorted and unique".into()));
            }
            if e.labels.iter().any(|l| self.sym(l.1).is_empty()) {
                return Err(at("empty label value".into()));
            }
            if prev.as_ref().is_some_and(|p| *p >= e.labels) {
                return Err(at("series not sorted by labels".into()));
            }
            if e.chunks.is_empty() {
                return Err(at("no chunks".into()));
            }
            for (j, ch) in e.chunks.iter().enumerate() {
                let bad = |r: String| at(format!("chunk {j}: {r}"));
                if ch.offset != next_chunk {
                    return Err(bad(format!(
                        "offset; got {}; want {next_chunk} (chunks are contiguous)",
                        ch.offset
                    )));
                }
                if ch.mint < self.block_min || ch.maxt >= block_max || ch.maxt < ch.mint {
                    return Err(bad(format!(
                        "time range [{}, {}] outside block [{}, {block_max})",
                        ch.mint, ch.maxt, self.block_min
                    )));
                }
                if j > 0 && ch.mint <= e.chunks[j - 1].maxt {
                    return Err(bad("overlaps the previous chunk".into()));
                }
                let span = (ch.maxt as u64).wrapping_sub(ch.mint as u64);
                if ch.count as usize > pco::MAX_SAMPLES || u64::from(ch.count) - 1 > span {
                    return Err(bad(format!(
                        "{} samples cannot fit [{}, {}]",
                        ch.count, ch.mint, ch.maxt
                    )));
                }
                next_chunk = ch.offset + u64::from(ch.len) + CHUNK_RECORD_OVERHEAD as u64;
            }
            offs.push((base + start) as u32);
            prev = Some(e.labels);
        }
        if c.remaining() != 0 {
            return Err(TsdbError::corruption(
                &self.path,
                (base + c.pos()) as u64,
                "series: trailing bytes",
            ));
        }
        if next_chunk != chunks_size {
            return Err(TsdbError::corruption(
                &self.path,
                base as u64,
                format!("chunks file size; got {chunks_size}; index says {next_chunk}"),
            ));
        }
        self.series_offs = offs;
        Ok(())
    }

    /// Reads one series entry; checks only what is needed to decode it safely.
    fn read_series(
        &self,
        c: &mut Cursor<'_>,
        p: &[u8],
    ) -> std::result::Result<SeriesEntry, String> {
        let nsym = self.sym_ends.len() as u64;
        let nl = c.uvarint_usize(p.len())?;
        let mut labels = Vec::with_capacity(nl);
        for _ in 0..nl {
            let (n, v) = (c.uvarint()?, c.uvarint()?);
            if n >= nsym || v >= nsym {
                return Err(format!(
                    "symbol id out of range; got {}; want < {nsym}",
                    n.max(v)
                ));
            }
            labels.push((n as u32, v as u32));
        }
        let nc = c.uvarint_usize(p.len())?;
        let mut offset = c.uvarint()?;
        let mut chunks = Vec::with_capacity(nc);
        let mut prev_maxt = self.block_min;
        for _ in 0..nc {
            let mint = (prev_maxt as u64).wrapping_add(c.uvarint()?) as i64;
            let maxt = (mint as u64).wrapping_add(c.uvarint()?) as i64;
            let count = c
                .uvarint()?
                .checked_add(1)
                .and_then(|x| u32::try_from(x).ok())
                .ok_or("chunk sample count too big")?;
            let len = u32::try_from(c.uvarint()?).map_err(|_| "chunk length too big")?;
            chunks.push(ChunkMeta {
                offset,
                len,
                mint,
                maxt,
                count,
            });
            offset = offset.wrapping_add(u64::from(len) + CHUNK_RECORD_OVERHEAD as u64);
            prev_maxt = maxt;
        }
        Ok(SeriesEntry { labels, chunks })
    }

    fn parse_postings(&mut self, p: &[u8], base: usize) -> Result<()> {
        let mut c = Cursor::new(p);
        let nseries = self.series_offs.len() as u64;
        let nsym = self.sym_ends.len() as u64;
        let path = self.path.clone();
        let at = |c: &Cursor, e: &str| {
            TsdbError::corruption(&path, (base + c.pos()) as u64, format!("postings: {e}"))
        };
        let nn = c.uvarint_usize(p.len()).map_err(|e| at(&c, e))?;
        let mut prev_name: Option<u64> = None;
        for _ in 0..nn {
            let name = c.uvarint().map_err(|e| at(&c, e))?;
            if name >= nsym || prev_name.is_some_and(|p| p >= name) {
                return Err(at(&c, "label name id out of range or not ascending"));
            }
            prev_name = Some(name);
            self.names.push((name as u32, self.values.len() as u32));
            let nv = c.uvarint_usize(p.len()).map_err(|e| at(&c, e))?;
            if nv == 0 {
                return Err(at(&c, "label name without values"));
            }
            let mut prev_value: Option<u64> = None;
            for _ in 0..nv {
                let value = c.uvarint().map_err(|e| at(&c, e))?;
                if value >= nsym || prev_value.is_some_and(|p| p >= value) {
                    return Err(at(&c, "label value id out of range or not ascending"));
                }
                prev_value = Some(value);
                let n = c.uvarint_usize(p.len()).map_err(|e| at(&c, e))?;
                if n == 0 {
                    return Err(at(&c, "empty postings list"));
                }
                let off = (base + c.pos()) as u32;
                let mut id: u64 = 0;
                for i in 0..n {
                    let d = c.uvarint().map_err(|e| at(&c, e))?;
                    if i > 0 && d == 0 {
                        return Err(at(&c, "series ids not strictly ascending"));
                    }
                    id = id
                        .checked_add(d)
                        .ok_or_else(|| at(&c, "series id overflows"))?;
                    if id >= nseries {
                        return Err(at(&c, "series id out of range"));
                    }
                }
                self.values.push(ValueEntry {
                    value: value as u32,
                    off,
                    n: n as u32,
                });
            }
        }
        if c.remaining() != 0 {
            return Err(at(&c, "trailing bytes"));
        }
        Ok(())
    }

    /// Number of series.
    pub fn num_series(&self) -> usize {
        self.series_offs.len()
    }

    /// Bytes held in memory by this index (approximate).
    pub fn memory_bytes(&self) -> usize {
        self.bytes.capacity()
            + self.sym_text.capacity()
            + self.sym_ends.capacity() * 4
            + self.series_offs.capacity() * 4
            + self.names.capacity() * 8
            + self.values.capacity() * std::mem::size_of::<ValueEntry>()
    }

    /// The text of symbol `id` (empty for an out-of-range id, which decode rules out).
    pub fn sym(&self, id: u32) -> &str {
        let i = id as usize;
        let end = self.sym_ends.get(i).copied().unwrap_or(0) as usize;
        let start = if i == 0 {
            0
        } else {
            self.sym_ends.get(i - 1).copied().unwrap_or(0) as usize
        };
        self.sym_text.get(start..end).unwrap_or("")
    }

    /// The id of symbol `s`, if present.
    pub fn find_sym(&self, s: &str) -> Option<u32> {
        let (mut lo, mut hi) = (0usize, self.sym_ends.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.sym(mid as u32).cmp(s) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid as u32),
            }
        }
        None
    }

    /// Decodes series `id`.
    pub fn series(&self, id: u32) -> Result<SeriesEntry> {
        let off = *self
            .series_offs
            .get(id as usize)
            .ok_or_else(|| TsdbError::Bug(format!("series id {id} out of range")))?
            as usize;
        let tail = self.bytes.get(off..).unwrap_or(&[]);
        let mut c = Cursor::new(tail);
        self.read_series(&mut c, tail)
            .map_err(|e| TsdbError::corruption(&self.path, off as u64, format!("series {id}: {e}")))
    }

    /// The label set of a decoded series.
    pub fn labels(&self, e: &SeriesEntry) -> Labels {
        Labels::from_sorted_unchecked(
            e.labels
                .iter()
                .map(|(n, v)| Label::new(self.sym(*n), self.sym(*v)))
                .collect(),
        )
    }

    /// Label names present in the block, sorted.
    pub fn label_names(&self) -> Vec<&str> {
        self.names.iter().map(|(n, _)| self.sym(*n)).collect()
    }

    fn name_values(&self, name: &str) -> &[ValueEntry] {
        let Some(id) = self.find_sym(name) else {
            return &[];
        };
        let Ok(i) = self.names.binary_search_by_key(&id, |(n, _)| *n) else {
            return &[];
        };
        let start = self.names[i].1 as usize;
        let end = self
            .names
            .get(i + 1)
            .map_or(self.values.len(), |(_, s)| *s as usize);
        self.values.get(start..end).unwrap_or(&[])
    }

    fn decode_postings(&self, v: &ValueEntry) -> Vec<u64> {
        let mut c = Cursor::new(self.bytes.get(v.off as usize..).unwrap_or(&[]));
        let mut out = Vec::with_capacity(v.n as usize);
        let mut id = 0u64;
        for _ in 0..v.n {
            // Verified at open; a failure here is impossible short of a bug.
            let Ok(d) = c.uvarint() else { break };
            id += d;
            out.push(id);
        }
        out
    }
}

/// Reads the section framed at `off`: returns its payload and the offset after it.
fn section<'a>(bytes: &'a [u8], off: usize, path: &Path) -> Result<(&'a [u8], usize)> {
    let mut c = Cursor::new(bytes.get(off..).unwrap_or(&[]));
    let corrupt = |reason: String| TsdbError::corruption(path, off as u64, reason);
    let len = c
        .u32le()
        .map_err(|e| corrupt(format!("section header: {e}")))? as usize;
    let payload = c
        .bytes(len)
        .map_err(|e| corrupt(format!("section of {len} bytes: {e}")))?;
    let want = c
        .u32le()
        .map_err(|e| corrupt(format!("section checksum: {e}")))?;
    let got = crc32c::crc32c(payload);
    if got != want {
        return Err(corrupt(format!(
            "section checksum mismatch; got {got:08x}; want {want:08x}"
        )));
    }
    Ok((payload, off + SECTION_OVERHEAD + len))
}

impl PostingsSource for Index {
    fn postings(&self, name: &str, value: &str) -> Vec<u64> {
        let vals = self.name_values(name);
        let Some(id) = self.find_sym(value) else {
            return Vec::new();
        };
        match vals.binary_search_by_key(&id, |v| v.value) {
            Ok(i) => self.decode_postings(&vals[i]),
            Err(_) => Vec::new(),
        }
    }

    fn label_values(&self, name: &str) -> Vec<&str> {
        self.name_values(name)
            .iter()
            .map(|v| self.sym(v.value))
            .collect()
    }

    fn all_postings(&self) -> Vec<u64> {
        (0..self.series_offs.len() as u64).collect()
    }
}
