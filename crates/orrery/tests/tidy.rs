//! Repository hygiene that review would otherwise repeat: every Rust file says what it
//! owns in a `//!` comment, every crate in `crates/` is a workspace member with
//! `publish = false`, and every on-disk format the code names has a spec.

use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        if p.is_dir() {
            if name != "target" && !name.starts_with('.') && name != "out" {
                rust_files(&p, out);
            }
        } else if name.ends_with(".rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_rust_file_starts_with_a_module_doc_comment() {
    let root = repo_root();
    let mut files = Vec::new();
    for d in ["crates", "bench"] {
        if root.join(d).exists() {
            rust_files(&root.join(d), &mut files);
        }
    }
    assert!(
        files.len() > 10,
        "found only {} files under {}",
        files.len(),
        root.display()
    );
    let missing: Vec<String> = files
        .iter()
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .map(|p| p.strip_prefix(&root).unwrap_or(p).display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading //! doc comment:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_crate_is_unpublished() {
    let root = repo_root();
    for e in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
        let manifest = e.path().join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        assert!(
            text.contains("publish.workspace = true") || text.contains("publish = false"),
            "{} must set publish = false",
            manifest.display()
        );
    }
}

#[test]
fn on_disk_formats_have_specs() {
    let root = repo_root();
    for spec in [
        "wal.md",
        "checkpoint.md",
        "block.md",
        "queue.md",
        "README.md",
    ] {
        let p = root.join("docs/formats").join(spec);
        let text =
            std::fs::read_to_string(&p).unwrap_or_else(|_| panic!("missing {}", p.display()));
        if spec != "README.md" {
            for section in ["## Purpose", "## Layout", "## Checksums", "## Versioning"] {
                assert!(text.contains(section), "{} lacks {section}", p.display());
            }
        }
    }
}
