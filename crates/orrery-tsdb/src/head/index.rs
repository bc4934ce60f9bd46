//! The head's inverted index: interned symbols, series by label hash and by id, and
//! postings lists per label pair. Not synchronised itself; `Head` wraps it in a lock.

use super::series::{label_pairs, MemSeries};
use crate::postings::{postings_for_matchers, PostingsSource};
use orrery_model::{Labels, Matcher};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet, FxHasher};
use std::hash::Hasher;
use std::sync::Arc;

#[derive(Default)]
pub(super) struct Index {
    symbols: HashSet<Arc<str>>,
    by_id: HashMap<u64, Arc<MemSeries>>,
    /// Series by the hash of their compact labels. Holding the series itself saves the
    /// ingest path a second lookup by id.
    by_hash: SeriesTable,
    /// name → value → sorted series ids.
    postings: HashMap<Arc<str>, HashMap<Arc<str>, Vec<u64>>>,
}

/// Series by label hash: open addressing with linear probing, the full hash stored
/// next to each series. A probe compares hashes without touching a series (a series
/// with a different label set is dereferenced only on a 64-bit hash collision), and
/// the ingest path can prefetch a slot, then its series, then its label bytes, before
/// it needs them (see `Lookup::get_all`). Colliding label sets simply take further
/// slots. 16 bytes per slot, at most 3/4 full.
#[derive(Default)]
struct SeriesTable {
    slots: Box<[Slot]>,
    len: usize,
}

#[derive(Default)]
struct Slot {
    hash: u64,
    series: Option<Arc<MemSeries>>,
}

impl SeriesTable {
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// The slot a hash probes first. FxHash's low bits are its weakest, so the index
    /// is taken from the top of a multiplied hash.
    fn home(&self, hash: u64) -> usize {
        let bits = self.slots.len().trailing_zeros();
        if bits == 0 {
            return 0;
        }
        (hash.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - bits)) as usize
    }

    /// The first series in `hash`'s probe run that has that hash and passes `is`, and
    /// its slot: the one probe loop of the table.
    fn find(
        &self,
        hash: u64,
        mut is: impl FnMut(&MemSeries) -> bool,
    ) -> Option<(usize, &Arc<MemSeries>)> {
        let mask = self.mask();
        let mut i = self.home(hash);
        loop {
            let slot = self.slots.get(i)?;
            let s = slot.series.as_ref()?;
            if slot.hash == hash && is(s) {
                return Some((i, s));
            }
            i = (i + 1) & mask;
        }
    }

    /// The first series in `hash`'s probe sequence with that hash, without comparing
    /// labels (a guess for prefetching; [`SeriesTable::get`] decides).
    fn first_with_hash(&self, hash: u64) -> Option<&MemSeries> {
        self.find(hash, |_| true).map(|(_, s)| &**s)
    }

    fn get(&self, hash: u64, enc: &[u8]) -> Option<&Arc<MemSeries>> {
        self.find(hash, |s| s.label_bytes() == enc).map(|(_, s)| s)
    }

    fn prefetch(&self, hash: u64) {
        if let Some(slot) = self.slots.get(self.home(hash)) {
            prefetch(slot as *const Slot as *const u8, 1);
        }
    }

    fn insert(&mut self, hash: u64, s: Arc<MemSeries>) {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        self.place(hash, s);
        self.len += 1;
    }

    fn place(&mut self, hash: u64, s: Arc<MemSeries>) {
        let mask = self.mask();
        let mut i = self.home(hash);
        while self.slots[i].series.is_some() {
            i = (i + 1) & mask;
        }
        self.slots[i] = Slot {
            hash,
            series: Some(s),
        };
    }

    fn grow(&mut self) {
        let n = (self.slots.len() * 2).max(16);
        let old = std::mem::replace(
            &mut self.slots,
            std::iter::repeat_with(Slot::default).take(n).collect(),
        );
        for slot in old.into_vec() {
            if let Some(s) = slot.series {
                self.place(slot.hash, s);
            }
        }
    }

    /// Removes the series with this hash and id; later slots of its probe run shift
    /// back so every series stays reachable from its home slot without tombstones.
    fn remove(&mut self, hash: u64, id: u64) -> Option<Arc<MemSeries>> {
        let mask = self.mask();
        let (mut i, _) = self.find(hash, |s| s.id() == id)?;
        let removed = self.slots[i].series.take();
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            if self.slots[j].series.is_none() {
                break;
            }
            let k = self.home(self.slots[j].hash);
            // The entry at j may move to the hole at i only if its home is not in the
            // cyclic range (i, j].
            let stays = if i <= j {
                i < k && k <= j
            } else {
                i < k || k <= j
            };
            if !stays {
                self.slots[i] = std::mem::take(&mut self.slots[j]);
                i = j;
            }
        }
        self.len -= 1;
        removed
    }

    fn memory_bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Slot>()
    }
}

/// Asks the CPU to start loading `lines` cache lines from `p` (a hint: it never faults
/// and does nothing off x86-64).
#[inline(always)]
pub(super) fn prefetch(p: *const u8, lines: usize) {
    #[cfg(target_arch = "x86_64")]
    for k in 0..lines {
        // SAFETY: `_mm_prefetch` needs SSE, which every x86-64 CPU has (it is in the
        // target's baseline features). A prefetch is only a hint to the cache: it does
        // not dereference the address and cannot fault, whatever the address, and
        // `wrapping_add` forms the address without `add`'s in-bounds requirement.
        // (`unused_unsafe`: newer toolchains declare the intrinsic safe to call.)
        #[allow(unused_unsafe)]
        unsafe {
            core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                p.wrapping_add(k * 64) as *const i8,
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (p, lines);
}

/// Hashes a label set in its compact form (`series::encode_labels`), which is
/// prefix-free: equal label sets, and only they, have equal bytes.
pub(super) fn hash_encoded(buf: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(buf);
    h.finish()
}

impl Index {
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// The series whose labels encode to `enc` (see `series::encode_labels_into`).
    #[cfg(test)]
    pub fn get_encoded(&self, enc: &[u8]) -> Option<&Arc<MemSeries>> {
        self.by_hash.get(hash_encoded(enc), enc)
    }

    /// [`Index::get_encoded`] with `hash == hash_encoded(enc)` computed already.
    pub fn get_hashed(&self, hash: u64, enc: &[u8]) -> Option<&Arc<MemSeries>> {
        self.by_hash.get(hash, enc)
    }

    /// Starts loading the table slot `hash` probes first.
    pub fn prefetch_slot(&self, hash: u64) {
        self.by_hash.prefetch(hash);
    }

    /// The series `get_hashed(hash, ..)` most likely returns, for prefetching.
    pub fn candidate(&self, hash: u64) -> Option<&MemSeries> {
        self.by_hash.first_with_hash(hash)
    }

    pub fn by_id(&self, id: u64) -> Option<Arc<MemSeries>> {
        self.by_id.get(&id).cloned()
    }

    fn intern(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.symbols.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.symbols.insert(a.clone());
        a
    }

    /// Adds a series; `enc` is `labels` in compact form (`series::encode_labels`) and
    /// `hash` is `hash_encoded(&enc)`, both computed by the caller for its lookup.
    pub fn insert(
        &mut self,
        id: u64,
        labels: &Labels,
        enc: Box<[u8]>,
        hash: u64,
    ) -> Arc<MemSeries> {
        for l in labels.iter() {
            let n = self.intern(&l.name);
            let v = self.intern(&l.value);
            let list = self.postings.entry(n).or_default().entry(v).or_default();
            // Ids are mostly increasing; keep the list sorted either way.
            match list.last() {
                Some(&last) if last > id => {
                    let i = list.partition_point(|&x| x < id);
                    list.insert(i, id);
                }
                _ => list.push(id),
            }
        }
        let s = Arc::new(MemSeries::new(id, enc));
        self.by_id.insert(id, s.clone());
        self.by_hash.insert(hash, s.clone());
        s
    }

    /// Removes series, touching each affected postings list once (removing one id at
    /// a time from a list of every series of a job would be quadratic).
    pub fn remove_many(&mut self, ids: &[u64]) {
        let mut dead: HashSet<u64> = HashSet::default();
        let mut removed: Vec<Arc<MemSeries>> = Vec::with_capacity(ids.len());
        for &id in ids {
            let Some(s) = self.by_id.remove(&id) else {
                continue;
            };
            dead.insert(id);
            self.by_hash.remove(hash_encoded(s.label_bytes()), id);
            removed.push(s);
        }
        let mut touched: HashSet<(&[u8], &[u8])> = HashSet::default();
        for s in &removed {
            touched.extend(label_pairs(s.label_bytes()));
        }
        for (n, v) in touched {
            let (Ok(n), Ok(v)) = (std::str::from_utf8(n), std::str::from_utf8(v)) else {
                continue;
            };
            let Some(values) = self.postings.get_mut(n) else {
                continue;
            };
            if let Some(list) = values.get_mut(v) {
                list.retain(|x| !dead.contains(x));
                if list.is_empty() {
                    values.remove(v);
                }
            }
            if values.is_empty() {
                self.postings.remove(n);
            }
        }
        // Symbols no longer used by any postings key are dropped so churn does not
        // grow memory forever; a count of 1 means only the symbol table holds it.
        if !dead.is_empty() {
            self.symbols.retain(|a| Arc::strong_count(a) > 1);
        }
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<MemSeries>> {
        self.by_id.values()
    }

    pub fn select(&self, matchers: &[Matcher]) -> Vec<Arc<MemSeries>> {
        postings_for_matchers(self, matchers)
            .into_iter()
            .filter_map(|id| self.by_id.get(&id).cloned())
            .collect()
    }

    pub fn label_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.postings.keys().map(|k| k.to_string()).collect();
        v.sort();
        v
    }

    pub fn label_values(&self, name: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .postings
            .get(name)
            .map(|m| m.keys().map(|k| k.to_string()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    pub fn memory_bytes(&self) -> u64 {
        let syms: usize = self.symbols.iter().map(|s| s.len() + 32).sum();
        let postings: usize = self
            .postings
            .values()
            .flat_map(|m| m.values())
            .map(|l| l.capacity() * 8 + 48)
            .sum();
        (syms + postings + self.by_id.len() * 24 + self.by_hash.memory_bytes()) as u64
    }
}

impl PostingsSource for Index {
    fn postings(&self, name: &str, value: &str) -> Vec<u64> {
        self.postings
            .get(name)
            .and_then(|m| m.get(value))
            .cloned()
            .unwrap_or_default()
    }

    fn label_values(&self, name: &str) -> Vec<&str> {
        self.postings
            .get(name)
            .map(|m| m.keys().map(|k| &**k).collect())
            .unwrap_or_default()
    }

    fn all_postings(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.by_id.keys().copied().collect();
        v.sort_unstable();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orrery_model::Labels;

    fn enc(l: &Labels) -> Vec<u8> {
        let mut v = Vec::new();
        super::super::series::encode_labels_into(
            &mut v,
            l.iter().map(|l| (l.name.as_str(), l.value.as_str())),
        );
        v
    }

    #[test]
    fn table_keeps_colliding_series_reachable_through_removals() {
        // Every series under one of two hashes, so probe runs overlap and wrap; remove
        // in an order that exercises the backward shift.
        let mut t = SeriesTable::default();
        let series: Vec<Arc<MemSeries>> = (0..40u64)
            .map(|i| Arc::new(MemSeries::new(i, vec![i as u8].into_boxed_slice())))
            .collect();
        let hash = |i: u64| if i.is_multiple_of(3) { 7 } else { u64::MAX - 1 };
        for s in &series {
            t.insert(hash(s.id()), s.clone());
        }
        let mut live: Vec<u64> = (0..40).collect();
        for id in [5u64, 0, 39, 12, 13, 14, 1, 2, 3, 30, 21, 8] {
            assert_eq!(t.remove(hash(id), id).map(|s| s.id()), Some(id));
            assert!(t.remove(hash(id), id).is_none());
            live.retain(|&x| x != id);
            for &x in &live {
                let got = t.get(hash(x), &[x as u8]).map(|s| s.id());
                assert_eq!(got, Some(x), "series {x} lost after removing {id}");
            }
            assert!(t.get(hash(id), &[id as u8]).is_none());
        }
        assert_eq!(t.len, live.len());
    }

    #[test]
    fn removing_series_cleans_postings_hashes_and_symbols() {
        let mut idx = Index::default();
        let a = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        let b = Labels::from_pairs([("__name__", "up"), ("job", "b")]);
        let c = Labels::from_pairs([("__name__", "other"), ("job", "b")]);
        for (i, l) in [&a, &b, &c].into_iter().enumerate() {
            let e = enc(l);
            let hash = hash_encoded(&e);
            idx.insert(i as u64 + 1, l, e.into_boxed_slice(), hash);
        }
        assert!(idx.get_encoded(&enc(&b)).is_some());
        idx.remove_many(&[1, 2, 99]);
        assert_eq!(idx.len(), 1);
        assert!(idx.get_encoded(&enc(&a)).is_none());
        assert!(idx.get_encoded(&enc(&c)).is_some());
        assert_eq!(idx.label_values("__name__"), ["other"]);
        assert_eq!(idx.label_values("job"), ["b"]);
        let mut syms: Vec<String> = idx.symbols.iter().map(|s| s.to_string()).collect();
        syms.sort();
        assert_eq!(syms, ["__name__", "b", "job", "other"]);
    }
}
