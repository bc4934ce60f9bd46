//! One target's scrape cache, as Prometheus's `scrapeCache`: from a series as written
//! in the exposition to its final labels, already encoded for remote write.
//!
//! Almost every series of a scrape was in the previous one, so labeling it again
//! (parsing its labels, adding target labels, relabeling, sorting, encoding) is wasted
//! work. The cache keys each series by its text as scraped (metric name and label
//! block) plus the scanner's context, and keeps the outcome: a series slot holding the
//! final labels as remote-write `Label` fields, or the decision that metric relabeling
//! drops it. A known series then costs one hash lookup and no allocation.
//!
//! Two raw texts can label to the same final series (relabeling merged them, or the
//! same labels were written differently), so raw entries point to series slots, which
//! are unique by encoded labels; that is how duplicates after relabeling are found.
//!
//! Epochs replace per-scrape sets: every scrape gets a new epoch, entries and slots
//! record the epoch they were last seen in. Seen twice in one epoch is a duplicate;
//! not seen in a successful scrape's epoch means gone (a stale marker if it was
//! tracked, then eviction). As in Prometheus, only samples without an exposed
//! timestamp are tracked for staleness, unless `track_timestamps_staleness` is set.
//! A failed scrape empties the cache, so the next scrape starts over as after a
//! restart, which is what `scrape_series_added` reports then.
//!
//! The cache is only valid for one set of target labels, labeling rules and parse
//! limits; a target whose labels change is a new target with a new loop and a new
//! cache (see `ScrapeManager::update`), so nothing here compares them.

use orrery_model::{Labels, STALE_NAN};
use orrery_wire::exposition::SeededWords;
use orrery_wire::v1_append;
use std::collections::HashMap;
use std::sync::Arc;

/// What a raw series led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lookup {
    /// A known series: its slot.
    Series(u32),
    /// Metric relabeling drops it.
    Dropped,
    /// The same text with the same timestamp again in this scrape: the parser's
    /// duplicate-sample error.
    Repeated,
    /// Not known: label it and [`ScrapeCache::insert`] it.
    Miss,
}

/// The target of a raw entry that metric relabeling drops.
const DROPPED: u32 = u32::MAX;

struct RawEntry {
    /// Series slot, or `DROPPED`.
    series: u32,
    /// Epoch it was last seen in.
    seen: u64,
    /// The timestamp of its last occurrence (`None`: none exposed), so that the same
    /// text again with the same timestamp gets the parser's duplicate-sample error.
    ///
    /// Only the last occurrence is remembered. For a kept series that loses nothing:
    /// any second occurrence of its slot in a scrape is refused anyway (see
    /// [`ScrapeCache::mark`]). For a series metric relabeling drops it means exactly:
    /// detected is an occurrence of the same text, in the same scanner context, with
    /// the same timestamp as that text's previous occurrence in the scrape (`d 1` twice,
    /// `d 1 5` twice); not detected are a timestamp repeated with another in between
    /// (`d 1 5`, `d 1 6`, `d 1 5`) and two spellings of one dropped series (label
    /// order, blanks, an empty label, quoting), which have no slot to meet in.
    /// Prometheus reports none of these (its loop skips dropped series before any
    /// duplicate check), so the misses only differ from `parse_exposition`'s stricter
    /// view, never from Prometheus.
    ts: Option<i64>,
}

struct Series {
    /// The final labels as `Label` fields of a remote-write 1.0 `TimeSeries`.
    labels: Arc<[u8]>,
    /// Epoch it was last seen in.
    seen: u64,
    /// Whether its sample in epoch `seen` counts for staleness: Prometheus tracks only
    /// samples without an exposed timestamp (unless `track_timestamps_staleness`).
    tracked: bool,
    /// Tracked in the last successful scrape, so it gets a stale marker when it is not
    /// tracked in the next one (gone, or exposed with a timestamp now).
    live: bool,
}

/// See the module docs. Not shared: one scrape loop owns it.
pub(super) struct ScrapeCache {
    /// Context byte and series text, to the outcome.
    raw: HashMap<Box<[u8]>, RawEntry, SeededWords>,
    /// Scratch for building `raw` keys.
    key: Vec<u8>,
    /// Series slots; `None` is free (and listed in `free`).
    series: Vec<Option<Series>>,
    free: Vec<u32>,
    /// Encoded labels to their slot.
    by_labels: HashMap<Arc<[u8]>, u32, SeededWords>,
    epoch: u64,
    /// Slots created in this epoch.
    added: usize,
    /// Labelings done in this epoch (cache misses).
    misses: usize,
}

impl ScrapeCache {
    pub(super) fn new() -> Self {
        let seeded = SeededWords::random();
        ScrapeCache {
            raw: HashMap::with_hasher(seeded.clone()),
            key: Vec::new(),
            series: Vec::new(),
            free: Vec::new(),
            by_labels: HashMap::with_hasher(seeded),
            epoch: 0,
            added: 0,
            misses: 0,
        }
    }

    /// Starts a scrape.
    pub(super) fn begin(&mut self) {
        self.epoch += 1;
        self.added = 0;
        self.misses = 0;
    }

    /// Series new to the cache in this scrape (`scrape_series_added`).
    pub(super) fn added(&self) -> usize {
        self.added
    }

    /// Series labeled in this scrape, dropped ones included.
    #[cfg(test)]
    pub(super) fn misses(&self) -> usize {
        self.misses
    }

    /// Raw entries and series slots in use.
    #[cfg(test)]
    pub(super) fn len(&self) -> (usize, usize) {
        (self.raw.len(), self.by_labels.len())
    }

    /// Capacities of the raw map, the labels map and the slot vector.
    #[cfg(test)]
    pub(super) fn capacity(&self) -> [usize; 3] {
        [
            self.raw.capacity(),
            self.by_labels.capacity(),
            self.series.capacity(),
        ]
    }

    fn set_key(&mut self, context: u8, text: &str) {
        self.key.clear();
        self.key.push(context);
        self.key.extend_from_slice(text.as_bytes());
    }

    /// Finds a raw series and records it as seen with timestamp `ts`.
    pub(super) fn lookup(&mut self, context: u8, text: &str, ts: Option<i64>) -> Lookup {
        self.set_key(context, text);
        let Some(e) = self.raw.get_mut(&self.key[..]) else {
            return Lookup::Miss;
        };
        if e.seen == self.epoch && e.ts == ts {
            return Lookup::Repeated;
        }
        e.seen = self.epoch;
        e.ts = ts;
        match e.series {
            DROPPED => Lookup::Dropped,
            s => Lookup::Series(s),
        }
    }

    /// Records a series [`ScrapeCache::lookup`] missed, with its final labels (`None`:
    /// dropped), and returns its slot. Call right after the lookup that missed.
    pub(super) fn insert(
        &mut self,
        context: u8,
        text: &str,
        ts: Option<i64>,
        labels: Option<&Labels>,
    ) -> Option<u32> {
        self.misses += 1;
        let slot = labels.map(|l| self.slot(l));
        self.set_key(context, text);
        self.raw.insert(
            self.key.as_slice().into(),
            RawEntry {
                series: slot.unwrap_or(DROPPED),
                seen: self.epoch,
                ts,
            },
        );
        slot
    }

    /// The slot of these final labels, created if needed.
    fn slot(&mut self, labels: &Labels) -> u32 {
        let mut enc = Vec::new();
        v1_append::append_labels(&mut enc, labels);
        if let Some(&s) = self.by_labels.get(&enc[..]) {
            return s;
        }
        self.added += 1;
        self.new_slot(enc.into())
    }

    /// A new slot for these encoded labels.
    fn new_slot(&mut self, enc: Arc<[u8]>) -> u32 {
        let series = Series {
            labels: enc.clone(),
            seen: 0,
            tracked: false,
            live: false,
        };
        let s = match self.free.pop() {
            Some(s) => {
                self.series[s as usize] = Some(series);
                s
            }
            None => {
                self.series.push(Some(series));
                (self.series.len() - 1) as u32
            }
        };
        self.by_labels.insert(enc, s);
        s
    }

    /// Marks a slot seen in this scrape, `track`ed for staleness or not; false if it
    /// already was seen (a duplicate after relabeling).
    pub(super) fn mark(&mut self, slot: u32, track: bool) -> bool {
        match self.series.get_mut(slot as usize) {
            Some(Some(s)) if s.seen != self.epoch => {
                s.seen = self.epoch;
                s.tracked = track;
                true
            }
            _ => false,
        }
    }

    /// The encoded labels of a slot.
    pub(super) fn encoded(&self, slot: u32) -> &[u8] {
        match self.series.get(slot as usize) {
            Some(Some(s)) => &s.labels,
            _ => &[],
        }
    }

    /// The labels of a slot, for messages.
    pub(super) fn labels(&self, slot: u32) -> Labels {
        v1_append::decode_labels(self.encoded(slot))
    }

    /// Ends a successful scrape: live series not tracked in it get a stale marker at
    /// `ts` in `out` (Prometheus's previous-minus-current tracked series), series not
    /// seen are forgotten with their raw entries, and the tracked ones are live.
    pub(super) fn commit(&mut self, ts: i64, out: &mut Vec<u8>) {
        let epoch = self.epoch;
        for (i, slot) in self.series.iter_mut().enumerate() {
            let Some(s) = slot else { continue };
            if s.seen == epoch {
                if s.live && !s.tracked {
                    v1_append::append_series(out, &s.labels, ts, STALE_NAN);
                }
                s.live = s.tracked;
                continue;
            }
            if s.live {
                v1_append::append_series(out, &s.labels, ts, STALE_NAN);
            }
            self.by_labels.remove(&s.labels[..]);
            *slot = None;
            self.free.push(i as u32);
        }
        // A raw entry seen in this epoch points to a slot seen in it, so no entry
        // outlives its slot.
        self.raw.retain(|_, e| e.seen == epoch);
        self.shrink_if_sparse();
    }

    /// Gives memory back after a spike: evicting never shrinks a map or the slot
    /// vector, so a target that once exposed a million series would keep their room
    /// for ever. Checking is three comparisons per scrape; acting (rehashing, or
    /// compacting the slots) costs O(series) and happens only when less than a quarter
    /// of the room is used, leaving it half used so that small swings do not repeat it.
    fn shrink_if_sparse(&mut self) {
        // Below this, the room is not worth a rehash.
        const MIN_ROOM: usize = 1024;
        let sparse = |len: usize, cap: usize| cap > MIN_ROOM && len < cap / 4;
        if sparse(self.raw.len(), self.raw.capacity()) {
            self.raw.shrink_to(self.raw.len() * 2);
        }
        if sparse(self.by_labels.len(), self.by_labels.capacity()) {
            self.by_labels.shrink_to(self.by_labels.len() * 2);
        }
        let used = self.series.len() - self.free.len();
        if sparse(used, self.series.capacity()) {
            self.compact(used);
        }
    }

    /// Moves the used slots to the front of a new, smaller vector and renumbers the
    /// raw entries and the labels map; freed slots scattered through the vector would
    /// otherwise keep it long.
    fn compact(&mut self, used: usize) {
        let mut renumber = vec![DROPPED; self.series.len()];
        let mut packed = Vec::with_capacity(used * 2);
        for (i, s) in std::mem::take(&mut self.series).into_iter().enumerate() {
            if let Some(s) = s {
                renumber[i] = packed.len() as u32;
                packed.push(Some(s));
            }
        }
        let new = |old: u32| renumber.get(old as usize).copied().unwrap_or(DROPPED);
        for e in self.raw.values_mut() {
            if e.series != DROPPED {
                e.series = new(e.series);
            }
        }
        for s in self.by_labels.values_mut() {
            *s = new(*s);
        }
        self.series = packed;
        self.free = Vec::new();
    }

    /// Prepares the cache of a loop stopped by a configuration reload for the target's
    /// new loop: only the series the old loop sent last (live) are kept, as slots
    /// without raw entries. The new rules may label a text differently, so every text
    /// is labeled again; one that labels to a kept series finds its slot (not added,
    /// not stale), and kept series the new loop does not produce go stale at its first
    /// commit. This is Prometheus's reuse of the old scrape cache on reload, made safe
    /// for rules that changed.
    pub(super) fn rebase(&mut self) {
        self.raw = HashMap::with_hasher(self.raw.hasher().clone());
        for (i, slot) in self.series.iter_mut().enumerate() {
            if slot.as_ref().is_some_and(|s| !s.live) {
                if let Some(s) = slot.take() {
                    self.by_labels.remove(&s.labels[..]);
                }
                self.free.push(i as u32);
            }
        }
    }

    /// Records a series sent before under these encoded labels but not written through
    /// the cache (a synthetic series whose labels a reload changed), so that it goes
    /// stale like any series the next scrape does not produce.
    pub(super) fn add_live(&mut self, encoded: &[u8]) {
        let s = match self.by_labels.get(encoded) {
            Some(&s) => s,
            None => self.new_slot(encoded.into()),
        };
        if let Some(Some(s)) = self.series.get_mut(s as usize) {
            s.live = true;
        }
    }

    /// Ends a failed scrape, or the target: every series the last successful scrape
    /// sent gets a stale marker at `ts` in `out`, and the cache is emptied.
    pub(super) fn fail(&mut self, ts: i64, out: &mut Vec<u8>) {
        for s in self.series.iter().flatten() {
            if s.live {
                v1_append::append_series(out, &s.labels, ts, STALE_NAN);
            }
        }
        self.raw = HashMap::with_hasher(self.raw.hasher().clone());
        self.by_labels = HashMap::with_hasher(self.by_labels.hasher().clone());
        self.series = Vec::new();
        self.free = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(name: &str) -> Labels {
        Labels::from_pairs([("__name__", name), ("job", "j")])
    }

    fn stale(names: &[&str], ts: i64) -> Vec<u8> {
        let mut out = Vec::new();
        for n in names {
            let mut enc = Vec::new();
            v1_append::append_labels(&mut enc, &labels(n));
            v1_append::append_series(&mut out, &enc, ts, STALE_NAN);
        }
        out
    }

    #[test]
    fn maps_and_slots_shrink_after_a_spike() {
        let mut c = ScrapeCache::new();
        let mut out = Vec::new();
        let names: Vec<String> = (0..20_000).map(|i| format!("s{i}")).collect();
        c.begin();
        for n in &names {
            assert_eq!(c.lookup(0, n, None), Lookup::Miss);
            let s = c.insert(0, n, None, Some(&labels(n))).unwrap();
            assert!(c.mark(s, true));
        }
        c.commit(1, &mut out);
        let spike = c.capacity();
        assert!(spike.iter().all(|&n| n >= 20_000), "{spike:?}");
        // Keep a few series whose slots are spread out, so shrinking must compact.
        let kept: Vec<&String> = names.iter().step_by(2_000).collect();
        c.begin();
        for n in &kept {
            let Lookup::Series(s) = c.lookup(0, n, None) else {
                panic!("{n} is known")
            };
            assert!(c.mark(s, true));
        }
        c.commit(2, &mut out);
        let after = c.capacity();
        assert!(after.iter().all(|&n| n < 1_000), "{after:?}");
        // Every kept series still resolves to its own labels, and new ones get slots.
        c.begin();
        for n in &kept {
            let Lookup::Series(s) = c.lookup(0, n, None) else {
                panic!("{n} is still known")
            };
            assert!(c.mark(s, true));
            assert_eq!(c.labels(s), labels(n));
        }
        assert_eq!(c.lookup(0, "new", None), Lookup::Miss);
        let s = c.insert(0, "new", None, Some(&labels("new"))).unwrap();
        assert!(c.mark(s, true));
        assert_eq!(c.labels(s), labels("new"));
        out.clear();
        c.commit(3, &mut out);
        assert!(out.is_empty());
        assert_eq!(c.len(), (kept.len() + 1, kept.len() + 1));
    }

    #[test]
    fn encoded_labels_decode_back() {
        let l = Labels::from_pairs([("__name__", "a"), ("x", &"é".repeat(100)[..])]);
        let mut enc = Vec::new();
        v1_append::append_labels(&mut enc, &l);
        assert_eq!(v1_append::decode_labels(&enc), l);
    }

    #[test]
    fn hit_miss_staleness_and_eviction() {
        let mut c = ScrapeCache::new();
        let mut out = Vec::new();
        c.begin();
        assert_eq!(c.lookup(0, "a", None), Lookup::Miss);
        let a = c.insert(0, "a", None, Some(&labels("a"))).unwrap();
        assert!(c.mark(a, true));
        assert_eq!(c.lookup(0, "b", None), Lookup::Miss);
        let b = c.insert(0, "b", None, Some(&labels("b"))).unwrap();
        assert!(c.mark(b, true));
        c.commit(1, &mut out);
        assert!(out.is_empty());
        assert_eq!((c.added(), c.misses()), (2, 2));

        // Only `a` again: a hit, and `b` gets a stale marker and is forgotten.
        c.begin();
        assert_eq!(c.lookup(0, "a", None), Lookup::Series(a));
        assert!(c.mark(a, true));
        c.commit(2, &mut out);
        assert_eq!((c.added(), c.misses()), (0, 0));
        assert_eq!(out, stale(&["b"], 2));
        assert_eq!(c.len(), (1, 1));
        assert!(c.encoded(b).is_empty(), "b's slot is free");
        // The same text in another context is another series.
        c.begin();
        assert_eq!(c.lookup(1, "a", None), Lookup::Miss);
    }

    #[test]
    fn two_texts_relabeled_into_one_series_share_a_slot_and_collide() {
        let mut c = ScrapeCache::new();
        c.begin();
        assert_eq!(c.lookup(0, "a{x=\"1\"}", None), Lookup::Miss);
        let s1 = c.insert(0, "a{x=\"1\"}", None, Some(&labels("a"))).unwrap();
        assert!(c.mark(s1, true));
        assert_eq!(c.lookup(0, "a{x=\"2\"}", None), Lookup::Miss);
        let s2 = c.insert(0, "a{x=\"2\"}", None, Some(&labels("a"))).unwrap();
        assert_eq!(s1, s2);
        assert!(!c.mark(s2, true), "the second is a duplicate");
        assert_eq!(c.labels(s1), labels("a"));
        assert_eq!(c.added(), 1);
    }

    #[test]
    fn repeated_text_with_the_same_timestamp_is_the_parsers_duplicate() {
        let mut c = ScrapeCache::new();
        c.begin();
        c.lookup(0, "a", Some(5));
        c.insert(0, "a", Some(5), None);
        assert_eq!(c.lookup(0, "a", Some(6)), Lookup::Dropped);
        assert_eq!(c.lookup(0, "a", Some(6)), Lookup::Repeated);
    }

    #[test]
    fn drop_decisions_are_cached_and_forgotten_when_gone() {
        let mut c = ScrapeCache::new();
        let mut out = Vec::new();
        c.begin();
        assert_eq!(c.lookup(0, "d", None), Lookup::Miss);
        assert_eq!(c.insert(0, "d", None, None), None);
        c.commit(1, &mut out);
        c.begin();
        assert_eq!(c.lookup(0, "d", None), Lookup::Dropped);
        c.commit(2, &mut out);
        assert_eq!((c.added(), c.misses()), (0, 0));
        assert_eq!(c.len(), (1, 0));
        c.begin();
        c.commit(3, &mut out);
        assert_eq!(c.len(), (0, 0));
        assert!(out.is_empty(), "dropped series never get stale markers");
    }

    #[test]
    fn a_failure_marks_only_sent_series_stale_and_empties_the_cache() {
        let mut c = ScrapeCache::new();
        let mut out = Vec::new();
        c.begin();
        c.lookup(0, "a", None);
        let a = c.insert(0, "a", None, Some(&labels("a"))).unwrap();
        c.mark(a, true);
        c.commit(1, &mut out);
        c.begin();
        c.lookup(0, "a", None);
        c.mark(a, true);
        c.lookup(0, "new", None);
        let n = c.insert(0, "new", None, Some(&labels("new"))).unwrap();
        c.mark(n, true);
        c.fail(2, &mut out);
        assert_eq!(out, stale(&["a"], 2), "only `a` was ever sent");
        assert_eq!(c.len(), (0, 0));
        c.begin();
        assert_eq!(c.lookup(0, "a", None), Lookup::Miss);
    }
}
