//! The upstream PromQL conformance suite: runs Prometheus's promqltest scripts and the
//! parser cases from the `promql/` folder of the conformance data (found by
//! `orrery_testkit::conformance`; see `docs/testing.md`) against this crate, through the
//! library runner `orrery_promql::script`. This file only finds the files, tabulates
//! and compares with the known-failure lists. Without the data both tests print one skip
//! line and pass, or fail when `CI` is set.
//!
//! Both tests are green-but-honest: what currently fails is listed in
//! `tests/promqltest/known_failures.txt` (evals, `file:line  reason`) and
//! `tests/promqltest/known_parser_failures.txt` (parser cases, `case#N  reason`). A test
//! fails when something not listed fails, and when something listed now passes.
//! `PROMQLTEST_UPDATE=1 cargo test -p orrery-promql --test promqltest` rewrites the lists
//! from the current run. Run with `-- --nocapture` to see the per-file table;
//! `PROMQLTEST_VERBOSE=1` also lists every skipped eval.

mod promqltest {
    pub mod known;
}

use orrery_promql::script::{self, short, EvalReport, Outcome, Runner, SKIP_NATIVE};
use orrery_promql::{Engine, EngineOptions};
use promqltest::known;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Files of the current set that need experimental syntax (a later goal).
const EXPERIMENTAL: &[&str] = &[
    "duration_expression",
    "extended_vectors",
    "fill-modifier",
    "info",
    "limit",
    "start_timestamps",
    "type_and_unit",
];

/// The `promql/` folder of the conformance data, or `None` when the suite skips.
fn conformance_dir() -> Option<PathBuf> {
    orrery_testkit::conformance::dir("promqltest", "promql")
}

fn list_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/promqltest")
        .join(name)
}

fn test_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "test"))
            .collect(),
        Err(e) => panic!("cannot list {}: {e}", dir.display()),
    };
    v.sort();
    v
}

#[derive(Default)]
struct Counts {
    pass: usize,
    skip: usize,
    skip_native: usize,
    fail: usize,
    cross: usize,
}

impl Counts {
    fn add(&mut self, o: &Outcome) {
        match o {
            Outcome::Pass => self.pass += 1,
            Outcome::Skip(r) => {
                self.skip += 1;
                if r == SKIP_NATIVE {
                    self.skip_native += 1;
                }
            }
            Outcome::Fail { .. } => self.fail += 1,
            Outcome::CrossFail { .. } => {
                self.fail += 1;
                self.cross += 1;
            }
        }
    }
    fn merge(&mut self, o: &Counts) {
        self.pass += o.pass;
        self.skip += o.skip;
        self.skip_native += o.skip_native;
        self.fail += o.fail;
        self.cross += o.cross;
    }
    fn line(&self) -> String {
        format!(
            "pass {}, skip {}, fail {} (cross-check {})",
            self.pass, self.skip, self.fail, self.cross
        )
    }
}

#[test]
fn promql_conformance() {
    let Some(dir) = conformance_dir() else {
        return;
    };
    script::quiet_engine_panics();
    let engine = Engine::new(EngineOptions {
        lookback_delta_ms: 5 * 60 * 1000,
        default_subquery_step_ms: 60 * 1000,
        // Upstream's test engine (promqltest's NewTestEngine) enables the
        // `promql-delayed-name-removal` feature; the scripts are written for it.
        delayed_name_removal: true,
        ..EngineOptions::default()
    });
    let mut files: Vec<(String, PathBuf, bool)> = Vec::new();
    let mut skipped_files = Vec::new();
    for p in test_files(&dir) {
        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let name = format!("{stem}.test");
        if EXPERIMENTAL.contains(&stem) {
            skipped_files.push(name);
        } else {
            files.push((name, p, false));
        }
    }
    let v3 = dir.join("v3.0.1");
    assert!(v3.is_dir(), "missing {}", v3.display());
    for p in test_files(&v3) {
        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        files.push((format!("v3.0.1/{stem}.test"), p, true));
    }

    let mut total = Counts::default();
    let mut table = Vec::new();
    let mut failing: Vec<(String, String)> = Vec::new();
    let mut details: Vec<(String, String, String)> = Vec::new();
    for (name, path, legacy) in &files {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let cmds = script::parse_script(&text);
        let reports: Vec<EvalReport> = Runner::new(engine.clone(), *legacy).run(&cmds);
        let mut c = Counts::default();
        let verbose = std::env::var("PROMQLTEST_VERBOSE").is_ok_and(|v| v == "1");
        for r in &reports {
            c.add(&r.outcome);
            if verbose {
                if let Outcome::Skip(why) = &r.outcome {
                    eprintln!("skip {name}:{}  {}  ({why})", r.line, short(&r.expr, 100));
                }
            }
            if let Outcome::Fail { reason, detail } | Outcome::CrossFail { reason, detail } =
                &r.outcome
            {
                let key = format!("{name}:{}", r.line);
                failing.push((key.clone(), reason.clone()));
                details.push((key, r.expr.clone(), detail.clone()));
            }
        }
        table.push(format!("{name}: {}", c.line()));
        total.merge(&c);
    }

    let list = list_path("known_failures.txt");
    let known = known::read(&list).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("\n== PromQL conformance (promqltest scripts) ==");
    for f in &skipped_files {
        eprintln!("{f}: skipped file (needs experimental syntax; a later goal)");
    }
    for l in &table {
        eprintln!("{l}");
    }
    eprintln!(
        "TOTAL: {} [{} evals; {} skipped as \"{SKIP_NATIVE}\"; {} files run, {} skipped]",
        total.line(),
        total.pass + total.skip + total.fail,
        total.skip_native,
        files.len(),
        skipped_files.len()
    );
    if !details.is_empty() {
        eprintln!("\n-- failures ([new] = not in known_failures.txt) --");
        for (key, expr, detail) in &details {
            let tag = if known.contains_key(key) {
                ""
            } else {
                " [new]"
            };
            eprintln!(
                "{key}{tag}  {}\n      {}",
                short(expr, 100),
                short(detail, 220)
            );
        }
    }

    if known::update_requested() {
        known::write(
            &list,
            "Evals of the upstream PromQL test scripts that currently fail (file:line  reason).\n\
             Generated by `PROMQLTEST_UPDATE=1 cargo test -p orrery-promql --test promqltest`;\n\
             the suite fails on a failure not listed here and on a listed eval that passes.",
            &failing,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        eprintln!("\nrewrote {} ({} entries)", list.display(), failing.len());
        return;
    }
    let v = known::compare(&known, &failing);
    for n in &v.new_failures {
        eprintln!("NEW FAILURE: {n}");
    }
    for s in &v.stale {
        eprintln!("NOW PASSING: {s} (remove it from known_failures.txt)");
    }
    assert!(
        v.new_failures.is_empty() && v.stale.is_empty(),
        "{} eval(s) fail that are not in known_failures.txt, {} listed eval(s) now pass \
         (remove them from known_failures.txt); see the lines above, or rewrite the list \
         with PROMQLTEST_UPDATE=1",
        v.new_failures.len(),
        v.stale.len()
    );
}

#[derive(Deserialize)]
struct ParseCases {
    cases: Vec<ParseCase>,
}

#[derive(Deserialize)]
struct ParseCase {
    input: String,
    #[serde(default)]
    fail: bool,
    #[serde(default)]
    errors: Vec<ParseCaseError>,
}

#[derive(Deserialize)]
struct ParseCaseError {
    msg: String,
    #[serde(default)]
    pos: Vec<usize>,
}

/// Prometheus's rendering of a parse error at byte `pos` of `input` (`ParseErr.Error`).
fn rendered(input: &str, pos: usize, msg: &str) -> String {
    let before = input.as_bytes().get(..pos).unwrap_or_default();
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let last_break = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(-1, |i| i as i64);
    format!("{line}:{}: parse error: {msg}", pos as i64 - last_break)
}

/// Must-fail cases whose first error Orrery renders exactly as Prometheus, position
/// included; the test fails if fewer do (a regression of `parse_error.rs`).
const PARSE_ERRORS_EXACT_AT_LEAST: usize = 105;

#[test]
fn parser_cases() {
    let Some(dir) = conformance_dir() else {
        return;
    };
    let path = dir.join("parser/parse_cases.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    // Inputs holding invalid UTF-8 were dumped as lone-surrogate escapes (`\uDCFF`),
    // which no Rust string can hold: load them as U+FFFD and skip those cases.
    let surrogate = regex::Regex::new(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}").expect("regex");
    let text = surrogate.replace_all(&text, r"\uFFFD");
    let cases: ParseCases =
        serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()));
    let mut unrepresentable = 0;
    let (mut fail_ok, mut fail_exact, mut fail_accepted) = (0, 0, 0);
    let mut positioned = 0;
    let mut unpositioned = Vec::new();
    let (mut ok_ok, mut ok_rejected) = (0, 0);
    let mut failing = Vec::new();
    for (i, c) in cases.cases.iter().enumerate() {
        if c.input.contains('\u{FFFD}') {
            unrepresentable += 1;
            continue;
        }
        let r = std::panic::catch_unwind(|| orrery_promql::parse_expr(&c.input))
            .unwrap_or_else(|_| Err(orrery_promql::PromqlError::Parse("parser panicked".into())));
        let key = format!("case#{i}");
        let input = short(&format!("{:?}", c.input), 80);
        match (c.fail, r) {
            (true, Err(e)) => {
                fail_ok += 1;
                let msg = e.to_string();
                if c.errors.iter().all(|x| msg.contains(&x.msg)) {
                    fail_exact += 1;
                }
                match c.errors.first() {
                    Some(x)
                        if msg
                            == rendered(&c.input, x.pos.first().copied().unwrap_or(0), &x.msg) =>
                    {
                        positioned += 1
                    }
                    Some(x) => unpositioned.push(format!(
                        "{input}\n    got  {msg}\n    want {}",
                        rendered(&c.input, x.pos.first().copied().unwrap_or(0), &x.msg)
                    )),
                    None => {}
                }
            }
            (true, Ok(_)) => {
                fail_accepted += 1;
                failing.push((key, format!("must fail but parsed: {input}")));
            }
            (false, Ok(_)) => ok_ok += 1,
            (false, Err(e)) => {
                ok_rejected += 1;
                failing.push((
                    key,
                    format!(
                        "must parse but failed: {input} ({})",
                        short(&e.to_string(), 60)
                    ),
                ));
            }
        }
    }
    eprintln!(
        "\n== PromQL parser cases ({}; {unrepresentable} skipped: invalid UTF-8 input, not representable as a Rust string) ==",
        cases.cases.len()
    );
    eprintln!(
        "must fail: {} — rejected {fail_ok} (expected message contained: {fail_exact}), wrongly accepted {fail_accepted}",
        fail_ok + fail_accepted
    );
    eprintln!(
        "must fail, first error exactly as Prometheus renders it (position and text): {positioned}"
    );
    for u in &unpositioned {
        eprintln!("  differs: {u}");
    }
    assert!(
        positioned >= PARSE_ERRORS_EXACT_AT_LEAST,
        "only {positioned} parse errors read exactly as Prometheus's (at least {PARSE_ERRORS_EXACT_AT_LEAST} did)"
    );
    eprintln!(
        "must parse: {} — parsed {ok_ok}, rejected {ok_rejected}",
        ok_ok + ok_rejected
    );
    let list = list_path("known_parser_failures.txt");
    let known = known::read(&list).unwrap_or_else(|e| panic!("{e}"));
    for (k, r) in &failing {
        let tag = if known.contains_key(k) { "" } else { " [new]" };
        eprintln!("{k}{tag}  {r}");
    }
    if known::update_requested() {
        known::write(
            &list,
            "Parser cases (index in parse_cases.yaml) that currently disagree with Prometheus.\n\
             Generated by `PROMQLTEST_UPDATE=1 cargo test -p orrery-promql --test promqltest`;\n\
             the test fails on a disagreement not listed here and on a listed case that agrees.",
            &failing,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        eprintln!("rewrote {} ({} entries)", list.display(), failing.len());
        return;
    }
    let v = known::compare(&known, &failing);
    for n in &v.new_failures {
        eprintln!("NEW FAILURE: {n}");
    }
    for s in &v.stale {
        eprintln!("NOW PASSING: {s} (remove it from known_parser_failures.txt)");
    }
    assert!(
        v.new_failures.is_empty() && v.stale.is_empty(),
        "{} parser case(s) disagree that are not in known_parser_failures.txt, {} listed \
         case(s) now agree (remove them); rewrite with PROMQLTEST_UPDATE=1",
        v.new_failures.len(),
        v.stale.len()
    );
}
