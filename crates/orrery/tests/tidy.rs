//! Repository hygiene that review would otherwise repeat: every Rust file says what it
//! owns in a `//!` comment, every crate in `crates/` is a workspace member with
//! `publish = false`, every on-disk format the code names has a spec, and the crate
//! graph is the one docs/architecture.md draws (layers, dev-only test support, every dependency a
//! workspace dependency).

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

// ---------------------------------------------------------------------------------
// The crate graph (docs/architecture.md, "Which way dependencies point"): dependencies point down, and every
// dependency comes from the root `[workspace.dependencies]`.
// ---------------------------------------------------------------------------------

/// Each workspace crate's layer, from docs/architecture.md ("Which way dependencies point"): a crate may depend
/// only on crates of a lower layer (so never upward, never sideways, and no library on
/// `orrery-server`, `orrery-agent` or the binary). Crates docs/architecture.md plans are listed
/// before they exist. A crate missing here fails the check: whoever adds it puts it here
/// (and in docs/architecture.md) at the layer it belongs to.
const LAYERS: &[(&str, u8)] = &[
    // The floor.
    ("orrery-model", 0),
    ("orrery-segment", 0),
    ("orrery-httpclient", 0),
    // Formats, storage and query languages.
    ("orrery-wire", 1),
    ("orrery-tsdb", 1),
    ("orrery-promql", 1),
    ("orrery-template", 1),
    ("orrery-logs", 1),
    // Rules and notification.
    ("orrery-rules", 2),
    ("orrery-notify", 2),
    // The two roles, which assemble the libraries.
    ("orrery-server", 3),
    ("orrery-agent", 3),
    // The binary, which only wires; and the benchmark, beside it.
    ("orrery", 4),
    ("orrery-bench", 4),
];

/// Dev-only: allowed as a `[dev-dependencies]` entry of any crate and as a normal
/// dependency of the crates listed with it; it must itself depend on no workspace crate.
const DEV_ONLY: &[(&str, &[&str])] = &[("orrery-testkit", &["orrery-bench"])];

/// One dependency entry of a manifest.
#[derive(Debug, PartialEq)]
struct Dep {
    name: String,
    /// `dependencies`, `dev-dependencies` or `build-dependencies` (target tables too).
    kind: String,
    /// `name.workspace = true` or `workspace = true` in its table.
    workspace: bool,
    /// 1-based line of the entry.
    line: usize,
}

/// What `crate_graph` needs from a `Cargo.toml`: the package name and the dependency
/// entries. A line parser instead of the `toml` crate (which is not in the lock tree):
/// it understands the forms cargo manifests use, namely `[dependencies]` sections (also
/// `dev-`, `build-` and `[target.'…'.dependencies]`) with `name = "1"`,
/// `name = { … }` (inline tables are single-line in TOML) and `name.workspace = true`
/// lines, and `[dependencies.name]` tables.
fn parse_manifest(text: &str) -> (Option<String>, Vec<Dep>) {
    let mut package = None;
    let mut deps: Vec<Dep> = Vec::new();
    // The current section: ("package" | dependency kind, table-form dependency name).
    let mut section: (String, Option<usize>) = (String::new(), None);
    for (i, raw) in text.lines().enumerate() {
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let header = header.trim();
            // `target.'cfg(unix)'.dependencies` → `dependencies`.
            let header = match header.strip_prefix("target.") {
                Some(t) => match t.find("'.").or_else(|| t.find("\".")) {
                    Some(at) => &t[at + 2..],
                    None => t.split_once('.').map_or(t, |(_, rest)| rest),
                },
                None => header,
            };
            section = (String::new(), None);
            for kind in ["dev-dependencies", "build-dependencies", "dependencies"] {
                if header == kind {
                    section = (kind.to_string(), None);
                    break;
                }
                if let Some(name) = header.strip_prefix(&format!("{kind}.")) {
                    deps.push(Dep {
                        name: unquote(name).to_string(),
                        kind: kind.to_string(),
                        workspace: false,
                        line: i + 1,
                    });
                    section = (kind.to_string(), Some(deps.len() - 1));
                    break;
                }
            }
            if header == "package" {
                section = ("package".to_string(), None);
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        match &section {
            (s, None) if s == "package" && key == "name" => {
                package = Some(unquote(value).to_string());
            }
            (kind, Some(at)) if !kind.is_empty() && key == "workspace" && value == "true" => {
                deps[*at].workspace = true;
            }
            (_, Some(_)) => {}
            (s, None) if s == "package" => {}
            (kind, None) if !kind.is_empty() => {
                let (name, workspace) = match key.strip_suffix(".workspace") {
                    Some(name) => (name, value == "true"),
                    None => (
                        key,
                        value.starts_with('{')
                            && value
                                .trim_matches(|c| c == '{' || c == '}')
                                .split(',')
                                .any(|kv| {
                                    kv.split_once('=').is_some_and(|(k, v)| {
                                        k.trim() == "workspace" && v.trim() == "true"
                                    })
                                }),
                    ),
                };
                deps.push(Dep {
                    name: unquote(name).to_string(),
                    kind: kind.clone(),
                    workspace,
                    line: i + 1,
                });
            }
            _ => {}
        }
    }
    (package, deps)
}

/// The line without a `#` comment (a `#` inside a quoted string is kept).
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') => return &line[..i],
            _ => {}
        }
    }
    line
}

fn unquote(s: &str) -> &str {
    s.trim().trim_matches(|c| c == '"' || c == '\'')
}

/// The violations of the rules above in the given manifests (`(path, text)`, all
/// workspace members), one line each. A dependency named like a member is a workspace
/// crate; the others are only checked for coming from the workspace.
fn crate_graph_violations(manifests: &[(String, String)]) -> Vec<String> {
    let layer = |n: &str| LAYERS.iter().find(|(c, _)| *c == n).map(|(_, l)| *l);
    let dev_only = |n: &str| DEV_ONLY.iter().find(|(c, _)| *c == n).map(|(_, ok)| *ok);
    let parsed: Vec<(&String, Option<String>, Vec<Dep>)> = manifests
        .iter()
        .map(|(path, text)| {
            let (name, deps) = parse_manifest(text);
            (path, name, deps)
        })
        .collect();
    let members: Vec<&str> = parsed.iter().filter_map(|(_, n, _)| n.as_deref()).collect();
    let mut out = Vec::new();
    for (path, name, deps) in &parsed {
        let Some(name) = name else {
            out.push(format!("{path}: no [package] name"));
            continue;
        };
        let own = layer(name);
        if own.is_none() && dev_only(name).is_none() {
            out.push(format!(
                "{path}: crate {name} has no layer; add it to LAYERS in crates/orrery/tests/tidy.rs \
                 (and to docs/architecture.md) at the layer it belongs to"
            ));
        }
        for d in deps {
            let at = format!("{path}:{}", d.line);
            if !d.workspace {
                out.push(format!(
                    "{at}: [{}] {} is not a workspace dependency; declare it once in the root \
                     [workspace.dependencies] and write `{}.workspace = true`",
                    d.kind, d.name, d.name
                ));
            }
            if !members.contains(&d.name.as_str()) {
                continue;
            }
            if let Some(allowed) = dev_only(&d.name) {
                if d.kind != "dev-dependencies" && !allowed.contains(&name.as_str()) {
                    out.push(format!(
                        "{at}: {name} depends on the dev-only {} in [{}]; it may only be a \
                         [dev-dependencies] entry (or a dependency of {})",
                        d.name,
                        d.kind,
                        allowed.join(", ")
                    ));
                }
                continue;
            }
            if dev_only(name).is_some() {
                out.push(format!(
                    "{at}: the dev-only {name} depends on the workspace crate {}; it must \
                     depend on none (every crate's tests use it)",
                    d.name
                ));
                continue;
            }
            match (own, layer(&d.name)) {
                (Some(a), Some(b)) if b >= a => out.push(format!(
                    "{at}: {name} (layer {a}) depends on {} (layer {b}); dependencies must \
                     point to a lower layer (docs/architecture.md, Which way dependencies point)",
                    d.name
                )),
                _ => {}
            }
        }
    }
    out
}

/// Every member's manifest: `crates/*/Cargo.toml` and `bench/Cargo.toml`.
fn member_manifests(root: &Path) -> Vec<(String, String)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("Cargo.toml"))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    paths.push(root.join("bench/Cargo.toml"));
    paths
        .iter()
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.strip_prefix(root).unwrap_or(p).display().to_string(),
                std::fs::read_to_string(p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn crate_dependencies_point_down_and_come_from_the_workspace() {
    let manifests = member_manifests(&repo_root());
    assert!(
        manifests.len() >= 8,
        "found only {} manifests",
        manifests.len()
    );
    let v = crate_graph_violations(&manifests);
    assert!(v.is_empty(), "crate graph violations:\n{}", v.join("\n"));
}

#[test]
fn the_crate_graph_check_catches_what_it_is_for() {
    let m = |path: &str, text: &str| (path.to_string(), text.to_string());
    let manifests = [
        m(
            "model/Cargo.toml",
            "[package]\nname = \"orrery-model\"\n\n[dependencies]\nregex.workspace = true\n\
             orrery-promql = { workspace = true }  # upward\n",
        ),
        m(
            "promql/Cargo.toml",
            "[package]\nname = \"orrery-promql\"\n[dependencies]\n\
             orrery-model = { path = \"../orrery-model\" }\nrand = \"0.8\"\n\
             orrery-testkit.workspace = true\n[dev-dependencies]\n\
             orrery-testkit.workspace = true\n[dependencies.orrery-wire]\nworkspace = true\n",
        ),
        m(
            "wire/Cargo.toml",
            "[package]\nname = \"orrery-wire\"\n[target.'cfg(unix)'.dependencies]\n\
             orrery-server.workspace = true\n",
        ),
        m("server/Cargo.toml", "[package]\nname = \"orrery-server\"\n"),
        m(
            "testkit/Cargo.toml",
            "[package]\nname = \"orrery-testkit\"\n[dependencies]\norrery-model.workspace = true\n",
        ),
        m(
            "bench/Cargo.toml",
            "[package]\nname = \"orrery-bench\"\n[dependencies]\norrery-testkit.workspace = true\n",
        ),
        m(
            "new/Cargo.toml",
            "[package]\nname = \"orrery-new\"\n[dependencies]\nserde.workspace = true\n",
        ),
    ];
    let v = crate_graph_violations(&manifests);
    let has = |what: &str| v.iter().any(|l| l.contains(what));
    assert!(
        has("model/Cargo.toml:6: orrery-model (layer 0) depends on orrery-promql (layer 1)"),
        "{v:#?}"
    );
    assert!(
        has("promql/Cargo.toml:4: [dependencies] orrery-model is not a workspace dependency"),
        "{v:#?}"
    );
    assert!(
        has("promql/Cargo.toml:5: [dependencies] rand is not a workspace dependency"),
        "{v:#?}"
    );
    assert!(has("promql/Cargo.toml:6: orrery-promql depends on the dev-only orrery-testkit in [dependencies]"), "{v:#?}");
    assert!(
        has("promql/Cargo.toml:9: orrery-promql (layer 1) depends on orrery-wire (layer 1)"),
        "{v:#?}"
    );
    assert!(
        has("wire/Cargo.toml:4: orrery-wire (layer 1) depends on orrery-server (layer 3)"),
        "{v:#?}"
    );
    assert!(has("testkit/Cargo.toml:4: the dev-only orrery-testkit depends on the workspace crate orrery-model"), "{v:#?}");
    assert!(
        has("new/Cargo.toml: crate orrery-new has no layer"),
        "{v:#?}"
    );
    assert_eq!(v.len(), 8, "only these (bench may use the testkit): {v:#?}");
}
