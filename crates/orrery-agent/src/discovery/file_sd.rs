//! File-based discovery: JSON or YAML files listing `{targets, labels}` groups, as
//! Prometheus's `file_sd_configs`. Files are polled for changes every two seconds and
//! re-read at `refresh_interval` regardless; each target gets `__meta_filepath`. A file
//! that fails to parse keeps its previous targets and the error is logged, as in
//! Prometheus.

use super::{LabelSet, TargetGroup, Update};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::mpsc;
use tracing::warn;

/// File-based discovery.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSdConfig {
    /// Files or globs (`*` in the last path element) of JSON or YAML target lists.
    pub files: Vec<String>,
    /// How often files are re-read even without a change (5m).
    #[serde(
        default = "five_minutes",
        deserialize_with = "orrery_model::de::duration"
    )]
    pub refresh_interval: Duration,
}

fn five_minutes() -> Duration {
    Duration::from_secs(300)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileGroup {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    labels: LabelSet,
}

/// Expands `files` (globs with `*`/`?` in the last path element) to existing files.
pub fn expand(patterns: &[String]) -> Vec<PathBuf> {
    let mut out = BTreeSet::new();
    for p in patterns {
        let path = Path::new(p);
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !name.contains(['*', '?']) {
            if path.is_file() {
                out.insert(path.to_path_buf());
            }
            continue;
        }
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in rd.flatten() {
            let fname = e.file_name();
            if let Some(f) = fname.to_str() {
                if wildcard(name, f) && e.path().is_file() {
                    out.insert(e.path());
                }
            }
        }
    }
    out.into_iter().collect()
}

fn wildcard(pat: &str, s: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pat.chars().collect(), s.chars().collect());
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < s.len() {
        if i < p.len() && (p[i] == '?' || p[i] == s[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(st) = star {
            i = st + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    while i < p.len() && p[i] == '*' {
        i += 1;
    }
    i == p.len()
}

/// Reads one file into groups (sources `<path>:<index>`).
pub fn read_file(path: &Path) -> Result<Vec<TargetGroup>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let is_json = path.extension().is_some_and(|e| e == "json");
    let groups: Vec<FileGroup> = if is_json {
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
    } else {
        serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
    };
    let fp = path.display().to_string();
    Ok(groups
        .into_iter()
        .enumerate()
        .map(|(i, g)| {
            let mut labels = g.labels;
            labels.insert("__meta_filepath".into(), fp.clone());
            TargetGroup {
                source: format!("{fp}:{i}"),
                targets: g
                    .targets
                    .into_iter()
                    .map(|t| LabelSet::from([("__address__".to_string(), t)]))
                    .collect(),
                labels,
            }
        })
        .collect())
}

/// Watches the files of one `file_sd_configs` entry and sends updates until the
/// receiver is gone.
pub async fn run(cfg: FileSdConfig, tx: mpsc::Sender<Update>) {
    let mut known: BTreeMap<PathBuf, (Option<SystemTime>, Vec<String>)> = BTreeMap::new();
    let mut last_full = Instant::now();
    let mut first = true;
    loop {
        let full = first || last_full.elapsed() >= cfg.refresh_interval;
        if full {
            last_full = Instant::now();
        }
        let files = expand(&cfg.files);
        let mut update: Update = Vec::new();
        // Files that disappeared: empty groups for their sources.
        let gone: Vec<PathBuf> = known
            .keys()
            .filter(|p| !files.contains(p))
            .cloned()
            .collect();
        for p in gone {
            if let Some((_, sources)) = known.remove(&p) {
                update.extend(sources.into_iter().map(|source| TargetGroup {
                    source,
                    ..Default::default()
                }));
            }
        }
        for f in files {
            let mtime = std::fs::metadata(&f).and_then(|m| m.modified()).ok();
            let changed = known.get(&f).map(|(m, _)| *m != mtime).unwrap_or(true);
            if !changed && !full {
                continue;
            }
            match read_file(&f) {
                Ok(groups) => {
                    let new_sources: Vec<String> =
                        groups.iter().map(|g| g.source.clone()).collect();
                    if let Some((_, old)) = known.get(&f) {
                        for s in old.iter().filter(|s| !new_sources.contains(s)) {
                            update.push(TargetGroup {
                                source: s.clone(),
                                ..Default::default()
                            });
                        }
                    }
                    update.extend(groups);
                    known.insert(f, (mtime, new_sources));
                }
                Err(e) => {
                    warn!(error = %e, "file_sd: keeping the previous targets of a file that failed to load");
                    let old = known.get(&f).map(|(_, s)| s.clone()).unwrap_or_default();
                    known.insert(f, (mtime, old));
                }
            }
        }
        if (!update.is_empty() || first) && tx.send(update).await.is_err() {
            return;
        }
        first = false;
        tokio::time::sleep(Duration::from_secs(2).min(cfg.refresh_interval)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_filepath_glob() {
        assert!(wildcard("*.json", "a.json"));
        assert!(wildcard("t?.yml", "t1.yml"));
        assert!(!wildcard("*.json", "a.yml"));
        assert!(wildcard("*", ""));
    }

    #[tokio::test]
    async fn files_are_read_and_changes_and_removals_are_sent() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t.json");
        std::fs::write(
            &f,
            r#"[{"targets": ["a:1", "b:2"], "labels": {"env": "prod"}}]"#,
        )
        .unwrap();
        let (tx, mut rx) = mpsc::channel(8);
        let cfg = FileSdConfig {
            files: vec![format!("{}/*.json", dir.path().display())],
            refresh_interval: Duration::from_secs(300),
        };
        let task = tokio::spawn(run(cfg, tx));
        let u = rx.recv().await.unwrap();
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].targets.len(), 2);
        assert_eq!(u[0].labels["env"], "prod");
        assert_eq!(u[0].labels["__meta_filepath"], f.display().to_string());
        // A change is picked up (mtime granularity: write a different size too).
        tokio::time::sleep(Duration::from_millis(1100)).await;
        std::fs::write(&f, r#"[{"targets": ["c:3"]}]"#).unwrap();
        let u = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(u.iter().map(|g| g.targets.len()).sum::<usize>(), 1);
        std::fs::remove_file(&f).unwrap();
        let u = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(u.iter().all(|g| g.targets.is_empty()));
        task.abort();
    }

    #[test]
    fn a_broken_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t.yml");
        std::fs::write(&f, "- targets: [a:1]\n  lables: {}\n").unwrap();
        let e = read_file(&f).unwrap_err();
        assert!(e.contains("t.yml") && e.contains("lables"), "{e}");
    }
}
