//! Where the upstream conformance data is (Prometheus's promqltest scripts and parser
//! cases, the compliance tester's query list, …; see `docs/testing.md`), and what a suite
//! does when it is missing.
//!
//! The data is not part of the repository. It is found, in this order:
//! 1. the directory named by `ORRERY_CONFORMANCE_DIR` (it must exist when the variable is
//!    set: a wrong path is an error, not a skip);
//! 2. `<repository>/../shared/conformance`, the folder next to a checkout in the
//!    project's shared workspace.
//!
//! When neither exists, a suite prints [`SKIP_LINE`] once (straight to the test binary's
//! stderr, so `cargo test` shows it even for a passing test) and passes, unless the
//! environment variable `CI` is set (to anything, as for the tests that need
//! Prometheus): then the suite fails with the same message, because a CI run must not
//! pass by skipping.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Once;

/// The environment variable that names the conformance directory.
pub const ENV_DIR: &str = "ORRERY_CONFORMANCE_DIR";

/// What a suite prints (after its name and `: `) when it skips for want of the data.
pub const SKIP_LINE: &str = "skipped: conformance data not found; see docs/testing.md";

/// The repository root (the workspace this crate belongs to), canonical when it can be.
pub fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// `<repo_root>/../shared/conformance`, written without the `..` when it can be.
fn default_dir(repo_root: &Path) -> PathBuf {
    match repo_root.parent() {
        Some(parent) => parent.join("shared/conformance"),
        None => repo_root.join("../shared/conformance"),
    }
}

/// Whether this run is a CI run: `CI` is set, to any value (`.ci/run` sets `CI=1`;
/// GitHub, GitLab and most CI systems set `CI=true`). The end-to-end tests that need
/// Prometheus use the same rule.
pub fn is_ci() -> bool {
    std::env::var_os("CI").is_some()
}

/// Where the conformance data was looked for and what was found, without side effects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The conformance root directory.
    Found(PathBuf),
    /// `ORRERY_CONFORMANCE_DIR` names a directory that does not exist.
    BadEnv(PathBuf),
    /// Neither the variable nor the default folder exists; the default that was tried.
    Missing(PathBuf),
}

/// Looks the data up from an explicit value of `ORRERY_CONFORMANCE_DIR` and a repository
/// root (the pure part of [`root`], for tests).
pub fn lookup(env_dir: Option<&Path>, repo_root: &Path) -> Lookup {
    if let Some(dir) = env_dir.filter(|d| !d.as_os_str().is_empty()) {
        return if dir.is_dir() {
            Lookup::Found(dir.to_path_buf())
        } else {
            Lookup::BadEnv(dir.to_path_buf())
        };
    }
    let default = default_dir(repo_root);
    if default.is_dir() {
        Lookup::Found(default)
    } else {
        Lookup::Missing(default)
    }
}

/// The conformance root for the suite `suite` (a test binary's name, used in messages),
/// or `None` when the suite should skip. Prints [`SKIP_LINE`] the first time it returns
/// `None` in this process.
///
/// # Panics
/// When `ORRERY_CONFORMANCE_DIR` names a missing directory, and when the data is missing
/// and [`is_ci`] is true.
pub fn root(suite: &str) -> Option<PathBuf> {
    let env = std::env::var_os(ENV_DIR).map(PathBuf::from);
    match lookup(env.as_deref(), &repo_root()) {
        Lookup::Found(dir) => Some(dir),
        Lookup::BadEnv(dir) => panic!(
            "{suite}: {ENV_DIR}={} is not a directory; point it at the conformance data \
             (see docs/testing.md)",
            dir.display()
        ),
        Lookup::Missing(default) => {
            if is_ci() {
                panic!(
                    "{suite}: conformance data not found (CI is set, so this fails instead \
                     of skipping): {ENV_DIR} is unset and {} does not exist; see docs/testing.md",
                    default.display()
                );
            }
            static SKIP: Once = Once::new();
            SKIP.call_once(|| {
                // Not eprintln!: the test harness captures that for passing tests.
                let _ = writeln!(std::io::stderr(), "{suite}: {SKIP_LINE}");
            });
            None
        }
    }
}

/// `root(suite)` joined with `sub` (e.g. `promql`), or `None` when the suite skips.
///
/// # Panics
/// As [`root`], and when the data is there but `sub` is not (an incomplete copy).
pub fn dir(suite: &str, sub: &str) -> Option<PathBuf> {
    let dir = root(suite)?.join(sub);
    assert!(
        dir.exists(),
        "{suite}: the conformance data has no {} (an incomplete copy?); see docs/testing.md",
        dir.display()
    );
    Some(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_wins_and_must_name_a_directory() {
        let t = tempfile::tempdir().unwrap();
        let repo = t.path().join("repo");
        std::fs::create_dir(&repo).unwrap();
        std::fs::create_dir_all(t.path().join("shared/conformance")).unwrap();
        let own = t.path().join("mine");
        std::fs::create_dir(&own).unwrap();
        assert_eq!(lookup(Some(&own), &repo), Lookup::Found(own.clone()));
        let gone = t.path().join("gone");
        assert_eq!(lookup(Some(&gone), &repo), Lookup::BadEnv(gone));
    }

    #[test]
    fn without_the_variable_the_folder_beside_the_repository_is_used() {
        let t = tempfile::tempdir().unwrap();
        let repo = t.path().join("repo");
        std::fs::create_dir(&repo).unwrap();
        let default = t.path().join("shared/conformance");
        assert_eq!(lookup(None, &repo), Lookup::Missing(default.clone()));
        assert_eq!(
            lookup(Some(Path::new("")), &repo),
            Lookup::Missing(default.clone())
        );
        std::fs::create_dir_all(t.path().join("shared/conformance")).unwrap();
        assert_eq!(lookup(None, &repo), Lookup::Found(default));
    }
}
