//! Selecting series ids from an inverted index by label matchers, with Prometheus's
//! semantics (a missing label is the empty string). Shared by the head and blocks so
//! both answer every matcher the same way.
//!
//! Strategy: matchers that do not match the empty string select ids (intersected);
//! matchers that do match it can only remove ids (subtracted) — if every matcher
//! matches empty, we start from all ids. `=~` alternations of literals look up each
//! literal's postings instead of scanning every value of the label.

use orrery_model::{MatchOp, Matcher};

/// An inverted index that can answer the questions matcher selection needs.
pub trait PostingsSource {
    /// Sorted ids of series with `name="value"`.
    fn postings(&self, name: &str, value: &str) -> Vec<u64>;
    /// Every value of `name` present in the index, any order.
    fn label_values(&self, name: &str) -> Vec<&str>;
    /// Every series id, sorted.
    fn all_postings(&self) -> Vec<u64>;
}

/// Sorted ids of the series that match every matcher.
pub fn postings_for_matchers(src: &impl PostingsSource, matchers: &[Matcher]) -> Vec<u64> {
    let mut acc: Option<Vec<u64>> = None;
    let mut subtract: Vec<Vec<u64>> = Vec::new();
    for m in matchers {
        if m.matches_empty() {
            // Only series that carry the label with a value the matcher rejects are out.
            let rejected: Vec<u64> = values_where(src, m, false);
            if !rejected.is_empty() {
                subtract.push(rejected);
            }
        } else {
            let selected = values_where(src, m, true);
            acc = Some(match acc {
                None => selected,
                Some(a) => intersect(&a, &selected),
            });
            if acc.as_ref().is_some_and(|a| a.is_empty()) {
                return Vec::new();
            }
        }
    }
    let mut ids = acc.unwrap_or_else(|| src.all_postings());
    for s in subtract {
        ids = difference(&ids, &s);
    }
    ids
}

/// Union of postings of the values of `m.name` for which `m.matches(value) == want`.
fn values_where(src: &impl PostingsSource, m: &Matcher, want: bool) -> Vec<u64> {
    let lists: Vec<Vec<u64>> = match (m.op, want) {
        (MatchOp::Equal, true) | (MatchOp::NotEqual, false) => {
            vec![src.postings(&m.name, &m.value)]
        }
        _ => match (m.set_matches(), want) {
            (Some(lits), true) => lits
                .iter()
                .filter(|l| !l.is_empty())
                .map(|l| src.postings(&m.name, l))
                .collect(),
            _ => src
                .label_values(&m.name)
                .into_iter()
                .filter(|v| m.matches(v) == want)
                .map(|v| src.postings(&m.name, v))
                .collect(),
        },
    };
    union(lists)
}

fn union(mut lists: Vec<Vec<u64>>) -> Vec<u64> {
    match lists.len() {
        0 => Vec::new(),
        1 => lists.pop().unwrap_or_default(),
        _ => {
            let mut all: Vec<u64> = lists.concat();
            all.sort_unstable();
            all.dedup();
            all
        }
    }
}

fn intersect(a: &[u64], b: &[u64]) -> Vec<u64> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

fn difference(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut j = 0;
    a.iter()
        .copied()
        .filter(|x| {
            while j < b.len() && b[j] < *x {
                j += 1;
            }
            !(j < b.len() && b[j] == *x)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// id 1: {job=a, env=prod}; 2: {job=b}; 3: {job=c, env=dev}; 4: {env=prod}
    struct Fake(BTreeMap<(String, String), Vec<u64>>);

    fn fake() -> Fake {
        let mut m: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
        for (id, pairs) in [
            (1, vec![("job", "a"), ("env", "prod")]),
            (2, vec![("job", "b")]),
            (3, vec![("job", "c"), ("env", "dev")]),
            (4, vec![("env", "prod")]),
        ] {
            for (n, v) in pairs {
                m.entry((n.into(), v.into())).or_default().push(id);
            }
        }
        Fake(m)
    }

    impl PostingsSource for Fake {
        fn postings(&self, n: &str, v: &str) -> Vec<u64> {
            self.0
                .get(&(n.into(), v.into()))
                .cloned()
                .unwrap_or_default()
        }
        fn label_values(&self, n: &str) -> Vec<&str> {
            self.0
                .keys()
                .filter(|k| k.0 == n)
                .map(|k| k.1.as_str())
                .collect()
        }
        fn all_postings(&self) -> Vec<u64> {
            vec![1, 2, 3, 4]
        }
    }

    fn sel(ms: &[(MatchOp, &str, &str)]) -> Vec<u64> {
        let ms: Vec<Matcher> = ms
            .iter()
            .map(|(op, n, v)| Matcher::new(*op, *n, *v).unwrap())
            .collect();
        postings_for_matchers(&fake(), &ms)
    }

    #[test]
    fn matchers_follow_prometheus_semantics() {
        use MatchOp::*;
        assert_eq!(sel(&[(Equal, "job", "a")]), [1]);
        assert_eq!(sel(&[(NotEqual, "job", "a")]), [2, 3, 4]);
        assert_eq!(sel(&[(Equal, "job", "")]), [4]);
        assert_eq!(sel(&[(NotEqual, "job", "")]), [1, 2, 3]);
        assert_eq!(sel(&[(Regex, "job", "a|c")]), [1, 3]);
        assert_eq!(sel(&[(Regex, "job", "a|")]), [1, 4]);
        assert_eq!(sel(&[(Regex, "job", ".*")]), [1, 2, 3, 4]);
        assert_eq!(sel(&[(Regex, "job", ".+")]), [1, 2, 3]);
        assert_eq!(sel(&[(NotRegex, "job", "a|b")]), [3, 4]);
        assert_eq!(sel(&[(Regex, "env", "prod"), (NotEqual, "job", "a")]), [4]);
        assert_eq!(sel(&[(Equal, "job", "zzz")]), Vec::<u64>::new());
        assert_eq!(sel(&[(NotRegex, "env", ".*")]), Vec::<u64>::new());
    }
}
