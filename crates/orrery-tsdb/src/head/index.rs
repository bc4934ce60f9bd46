//! The head's inverted index: interned symbols, series by label hash and by id, and
//! postings lists per label pair. Not synchronised itself; `Head` wraps it in a lock.

use super::series::{encode_labels, label_pairs, MemSeries};
use crate::postings::{postings_for_matchers, PostingsSource};
use orrery_model::{Labels, Matcher};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet, FxHasher};
use std::hash::Hasher;
use std::sync::Arc;

#[derive(Default)]
pub(super) struct Index {
    symbols: HashSet<Arc<str>>,
    by_id: HashMap<u64, Arc<MemSeries>>,
    /// Label-set hash to the series with that hash (almost always one). Holding the
    /// series itself saves the ingest path a second lookup by id.
    by_hash: HashMap<u64, SeriesList>,
    /// name → value → sorted series ids.
    postings: HashMap<Arc<str>, HashMap<Arc<str>, Vec<u64>>>,
}

/// One series, or several on a hash collision; avoids a heap allocation per series.
enum SeriesList {
    One(Arc<MemSeries>),
    Many(Vec<Arc<MemSeries>>),
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
    pub fn get_encoded(&self, enc: &[u8]) -> Option<&Arc<MemSeries>> {
        let list: &[Arc<MemSeries>] = match self.by_hash.get(&hash_encoded(enc))? {
            SeriesList::One(s) => std::slice::from_ref(s),
            SeriesList::Many(v) => v,
        };
        list.iter().find(|s| s.label_bytes() == enc)
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

    pub fn insert(&mut self, id: u64, labels: &Labels) -> Arc<MemSeries> {
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
        let buf = encode_labels(labels.iter().map(|l| (l.name.as_str(), l.value.as_str())));
        let s = Arc::new(MemSeries::new(id, buf));
        self.by_id.insert(id, s.clone());
        let h = hash_encoded(s.label_bytes());
        let entry = match self.by_hash.remove(&h) {
            None => SeriesList::One(s.clone()),
            Some(SeriesList::One(o)) => SeriesList::Many(vec![o, s.clone()]),
            Some(SeriesList::Many(mut v)) => {
                v.push(s.clone());
                SeriesList::Many(v)
            }
        };
        self.by_hash.insert(h, entry);
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
            let h = hash_encoded(s.label_bytes());
            match self.by_hash.remove(&h) {
                Some(SeriesList::Many(mut v)) => {
                    v.retain(|x| x.id() != id);
                    match v.len() {
                        0 => {}
                        1 => {
                            self.by_hash.insert(h, SeriesList::One(v.swap_remove(0)));
                        }
                        _ => {
                            self.by_hash.insert(h, SeriesList::Many(v));
                        }
                    }
                }
                Some(SeriesList::One(o)) if o.id() != id => {
                    self.by_hash.insert(h, SeriesList::One(o));
                }
                _ => {}
            }
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
        (syms + postings + self.by_id.len() * 24 + self.by_hash.len() * 40) as u64
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
    fn removing_series_cleans_postings_hashes_and_symbols() {
        let mut idx = Index::default();
        let a = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        let b = Labels::from_pairs([("__name__", "up"), ("job", "b")]);
        let c = Labels::from_pairs([("__name__", "other"), ("job", "b")]);
        for (i, l) in [&a, &b, &c].into_iter().enumerate() {
            idx.insert(i as u64 + 1, l);
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
