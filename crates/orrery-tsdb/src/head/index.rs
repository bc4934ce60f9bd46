//! The head's inverted index: interned symbols, series by label hash and by id, and
//! postings lists per label pair. Not synchronised itself; `Head` wraps it in a lock.

use super::series::{MemSeries, SymPair};
use crate::postings::{postings_for_matchers, PostingsSource};
use orrery_model::{Labels, LabelsRef, Matcher};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet, FxHasher};
use std::hash::Hasher;
use std::sync::Arc;

#[derive(Default)]
pub(super) struct Index {
    symbols: HashSet<Arc<str>>,
    by_id: HashMap<u64, Arc<MemSeries>>,
    /// Label-set hash to the ids with that hash (almost always one).
    by_hash: HashMap<u64, IdList>,
    /// name → value → sorted series ids.
    postings: HashMap<Arc<str>, HashMap<Arc<str>, Vec<u64>>>,
}

/// One id, or several on a hash collision; avoids a heap allocation per series.
enum IdList {
    One(u64),
    Many(Vec<u64>),
}

/// Hashes label pairs; owned, borrowed and interned label sets hash alike.
fn hash_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> u64 {
    let mut h = FxHasher::default();
    for (n, v) in pairs {
        h.write(n.as_bytes());
        h.write_u8(0xff);
        h.write(v.as_bytes());
        h.write_u8(0xff);
    }
    h.finish()
}

fn hash_labels(labels: &Labels) -> u64 {
    hash_pairs(labels.iter().map(|l| (l.name.as_str(), l.value.as_str())))
}

impl Index {
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn get(&self, labels: LabelsRef<'_>) -> Option<Arc<MemSeries>> {
        let ids: &[u64] = match self.by_hash.get(&hash_pairs(labels.iter()))? {
            IdList::One(id) => std::slice::from_ref(id),
            IdList::Many(v) => v,
        };
        ids.iter()
            .filter_map(|id| self.by_id.get(id))
            .find(|s| same_labels(s.sym_labels(), labels))
            .cloned()
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
        let syms: Box<[SymPair]> = labels
            .iter()
            .map(|l| (self.intern(&l.name), self.intern(&l.value)))
            .collect();
        for (n, v) in syms.iter() {
            let list = self
                .postings
                .entry(n.clone())
                .or_default()
                .entry(v.clone())
                .or_default();
            // Ids are mostly increasing; keep the list sorted either way.
            match list.last() {
                Some(&last) if last > id => {
                    let i = list.partition_point(|&x| x < id);
                    list.insert(i, id);
                }
                _ => list.push(id),
            }
        }
        let s = Arc::new(MemSeries::new(id, syms));
        self.by_id.insert(id, s.clone());
        let h = hash_labels(labels);
        match self.by_hash.remove(&h) {
            None => self.by_hash.insert(h, IdList::One(id)),
            Some(IdList::One(o)) => self.by_hash.insert(h, IdList::Many(vec![o, id])),
            Some(IdList::Many(mut v)) => {
                v.push(id);
                self.by_hash.insert(h, IdList::Many(v))
            }
        };
        s
    }

    pub fn remove(&mut self, id: u64) {
        let Some(s) = self.by_id.remove(&id) else {
            return;
        };
        let h = hash_pairs(s.sym_labels().iter().map(|(n, v)| (&**n, &**v)));
        match self.by_hash.remove(&h) {
            Some(IdList::Many(mut v)) => {
                v.retain(|&x| x != id);
                if let [one] = v[..] {
                    self.by_hash.insert(h, IdList::One(one));
                } else if !v.is_empty() {
                    self.by_hash.insert(h, IdList::Many(v));
                }
            }
            Some(IdList::One(o)) if o != id => {
                self.by_hash.insert(h, IdList::One(o));
            }
            _ => {}
        }
        for (n, v) in s.sym_labels() {
            let Some(values) = self.postings.get_mut(n) else {
                continue;
            };
            if let Some(list) = values.get_mut(v) {
                if let Ok(i) = list.binary_search(&id) {
                    list.remove(i);
                }
                if list.is_empty() {
                    values.remove(v);
                }
            }
            if values.is_empty() {
                self.postings.remove(n);
            }
        }
        // Symbols no longer referenced by any series are dropped so churn does not
        // grow memory forever; an Arc count of 1 means only the symbol table holds it.
        drop(s);
        self.symbols.retain(|a| Arc::strong_count(a) > 1);
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

fn same_labels(a: &[SymPair], b: LabelsRef<'_>) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b.iter())
            .all(|((n, v), (bn, bv))| **n == *bn && **v == *bv)
}
