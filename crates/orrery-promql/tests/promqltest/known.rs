//! The checked-in lists of known failures: one `key  reason` per line (`#` comments).
//!
//! The suite fails when something fails that is not listed, and when something listed
//! no longer fails (so the list never hides a fix). `PROMQLTEST_UPDATE=1` rewrites the
//! list from the current run instead.

use std::collections::BTreeMap;
use std::path::Path;

/// Whether this run should rewrite the lists.
pub fn update_requested() -> bool {
    std::env::var("PROMQLTEST_UPDATE").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Reads a list: key → reason. A missing file is an empty list.
pub fn read(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(format!("reading {}: {e}", path.display())),
    };
    let mut out = BTreeMap::new();
    for (n, l) in text.lines().enumerate() {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let (key, reason) = match l.split_once(char::is_whitespace) {
            Some((k, r)) => (k, r.trim()),
            None => (l, ""),
        };
        if out.insert(key.to_string(), reason.to_string()).is_some() {
            return Err(format!(
                "{}:{}: duplicate entry {key}",
                path.display(),
                n + 1
            ));
        }
    }
    Ok(out)
}

/// Writes a list with a header, entries in the given order.
pub fn write(path: &Path, header: &str, entries: &[(String, String)]) -> Result<(), String> {
    let mut s = String::new();
    for h in header.lines() {
        s.push_str("# ");
        s.push_str(h);
        s.push('\n');
    }
    for (k, r) in entries {
        s.push_str(k);
        s.push_str("  ");
        s.push_str(r);
        s.push('\n');
    }
    std::fs::write(path, s).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// The verdict of comparing a run with a list.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Failing now, not listed.
    pub new_failures: Vec<String>,
    /// Listed, not failing now.
    pub stale: Vec<String>,
}

/// Compares the failing keys of a run with the list.
pub fn compare(known: &BTreeMap<String, String>, failing: &[(String, String)]) -> Verdict {
    let mut v = Verdict::default();
    let now: std::collections::HashSet<&str> = failing.iter().map(|(k, _)| k.as_str()).collect();
    for (k, r) in failing {
        if !known.contains_key(k) {
            v.new_failures.push(format!("{k}  {r}"));
        }
    }
    for k in known.keys() {
        if !now.contains(k.as_str()) {
            v.stale.push(k.clone());
        }
    }
    v
}
