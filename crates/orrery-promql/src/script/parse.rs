//! Parsing of promqltest scripts into commands: `load`, `load_with_nhcb`, `clear` and
//! `eval` with its expectations, in both the current `expect …` syntax and the older
//! `eval_fail`/`eval_warn`/`eval_info`/`eval_ordered` headers with
//! `expected_fail_message`/`expected_fail_regexp`.
//!
//! A malformed line never panics: it becomes a [`Command::Error`] carrying its line, so
//! the runner reports it and carries on with the next block.

use super::series::{parse_duration_ms, parse_number, parse_series_line, SeqValue, SeriesDesc};
use orrery_model::Labels;
use regex::Regex;
use std::sync::LazyLock;

static EVAL_INSTANT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$")
        .expect("static regex")
});
static EVAL_RANGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$",
    )
    .expect("static regex")
});
static EXPECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$")
        .expect("static regex")
});
static EXPECT_RANGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$")
        .expect("static regex")
});
static LOAD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^load(?:_(with_nhcb))?\s+(.+?)$").expect("static regex"));

/// A script command with the 1-based line it starts on.
#[derive(Debug)]
pub enum Command {
    /// `clear`: empty the store.
    Clear,
    /// `load <interval>` (or `load_with_nhcb`) and its series lines.
    Load {
        /// The line of the `load` header.
        line: usize,
        /// The interval between a series' samples.
        interval_ms: i64,
        /// `load_with_nhcb`: classic histogram families also become custom-bucket
        /// native histograms.
        with_nhcb: bool,
        /// Each series line with its 1-based line number.
        series: Vec<(usize, SeriesDesc)>,
    },
    /// An `eval` block.
    Eval(Box<Eval>),
    /// A line the runner could not parse; the rest of its block is dropped.
    Error {
        /// The offending line.
        line: usize,
        /// What is wrong with it.
        msg: String,
    },
}

/// How a string expectation matches.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Any message (no `msg:` or `regex:` given).
    Any,
    /// `msg: <text>`: exactly this message.
    Exact(String),
    /// `regex: <re>`: a message this regex finds a match in.
    Regex(Regex),
}

impl Matcher {
    /// Whether the message `s` satisfies the expectation.
    pub fn matches(&self, s: &str) -> bool {
        match self {
            Matcher::Any => true,
            Matcher::Exact(m) => m == s,
            Matcher::Regex(r) => r.is_match(s),
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Matcher::Any => f.write_str("<any>"),
            Matcher::Exact(m) => write!(f, "msg {m:?}"),
            Matcher::Regex(r) => write!(f, "regex {:?}", r.as_str()),
        }
    }
}

/// An expected series with its 1-based position among the series lines.
#[derive(Debug, Clone)]
pub struct ExpectedSeries {
    /// 1-based position among the eval's series lines (the order `ordered` checks).
    pub pos: usize,
    /// The series' labels.
    pub labels: Labels,
    /// The expected values: one for an instant query, one per step for a range query.
    pub values: Vec<SeqValue>,
}

/// What an eval expects back.
#[derive(Debug, Clone)]
pub enum Expected {
    /// Series lines (possibly none: an empty result).
    Series(Vec<ExpectedSeries>),
    /// A bare number: a scalar result.
    Scalar(f64),
    /// `expect string "…"`: a string result.
    String(String),
}

/// Instant or range.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// `eval instant at <t>`.
    Instant {
        /// Evaluation time, ms.
        t: i64,
    },
    /// `eval range from <start> to <end> step <step>`.
    Range {
        /// First step, ms.
        start: i64,
        /// Last step (inclusive), ms.
        end: i64,
        /// Step, ms.
        step: i64,
    },
}

/// One `eval` block.
#[derive(Debug)]
pub struct Eval {
    /// The line of the `eval` header.
    pub line: usize,
    /// The PromQL expression.
    pub expr: String,
    /// Instant or range, with its times.
    pub kind: Kind,
    /// `eval_fail` (v3.0 header).
    pub legacy_fail: bool,
    /// `eval_warn` (v3.0 header).
    pub legacy_warn: bool,
    /// `eval_info` (v3.0 header).
    pub legacy_info: bool,
    /// `eval_ordered` (v3.0 header).
    pub legacy_ordered: bool,
    /// `expected_fail_message <text>` (v3.0).
    pub expected_fail_message: Option<String>,
    /// `expected_fail_regexp <re>` (v3.0).
    pub expected_fail_regexp: Option<Regex>,
    /// `expect fail` lines.
    pub fail: Vec<Matcher>,
    /// `expect warn` lines.
    pub warn: Vec<Matcher>,
    /// `expect info` lines.
    pub info: Vec<Matcher>,
    /// `expect no_warn`.
    pub no_warn: bool,
    /// `expect no_info`.
    pub no_info: bool,
    /// `expect ordered`.
    pub ordered: bool,
    /// `expect range vector from … to … step …` for an instant query.
    pub range_vector: Option<(i64, i64, i64)>,
    /// The expected result.
    pub expected: Expected,
    /// The eval or its expectation involves native histograms.
    pub expects_histogram: bool,
}

impl Eval {
    /// Whether the query must fail (either syntax).
    pub fn is_fail(&self) -> bool {
        self.legacy_fail || !self.fail.is_empty()
    }
    /// Whether the result's order is checked (either syntax).
    pub fn is_ordered(&self) -> bool {
        self.legacy_ordered || self.ordered
    }
    /// `expect string` and `expect range vector` evals are not re-run as range queries.
    pub fn exclude_from_range_check(&self) -> bool {
        self.range_vector.is_some() || matches!(self.expected, Expected::String(_))
    }
}

/// Trimmed lines, full-line comments blanked.
fn lines(input: &str) -> Vec<&str> {
    input
        .split('\n')
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                ""
            } else {
                l
            }
        })
        .collect()
}

/// Parses a whole script. Never panics; bad lines become [`Command::Error`].
pub fn parse_script(input: &str) -> Vec<Command> {
    let lines = lines(input);
    let mut cmds = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let word = l
            .split([' ', '\t'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let (next, cmd) = if word == "clear" {
            (i + 1, Command::Clear)
        } else if word.starts_with("load") {
            parse_load(&lines, i)
        } else if word.starts_with("eval") {
            parse_eval(&lines, i)
        } else {
            (
                skip_block(&lines, i),
                Command::Error {
                    line: i + 1,
                    msg: format!("invalid command {l:?}"),
                },
            )
        };
        cmds.push(cmd);
        i = next;
    }
    cmds
}

/// The index of the blank line ending the block that starts at `i`.
fn skip_block(lines: &[&str], i: usize) -> usize {
    let mut j = i + 1;
    while j < lines.len() && !lines[j].is_empty() {
        j += 1;
    }
    j
}

fn err(lines: &[&str], start: usize, line: usize, msg: String) -> (usize, Command) {
    (skip_block(lines, start), Command::Error { line, msg })
}

fn parse_load(lines: &[&str], i: usize) -> (usize, Command) {
    let Some(c) = LOAD.captures(lines[i]) else {
        return err(lines, i, i + 1, "invalid load command".into());
    };
    let with_nhcb = c.get(1).is_some();
    let interval_ms = match parse_duration_ms(&c[2]) {
        Ok(d) => d,
        Err(e) => return err(lines, i, i + 1, format!("invalid load interval: {e}")),
    };
    let mut series = Vec::new();
    let mut j = i + 1;
    while j < lines.len() && !lines[j].is_empty() {
        match parse_series_line(lines[j]) {
            Ok(d) => series.push((j + 1, d)),
            Err(e) => return err(lines, i, j + 1, format!("invalid series line: {e}")),
        }
        j += 1;
    }
    (
        j,
        Command::Load {
            line: i + 1,
            interval_ms,
            with_nhcb,
            series,
        },
    )
}

fn parse_eval(lines: &[&str], i: usize) -> (usize, Command) {
    let l = lines[i];
    let (modifier, expr, kind) = if let Some(c) = EVAL_INSTANT.captures(l) {
        let at = c.get(2).map_or("0", |m| m.as_str());
        let t = match parse_duration_ms(at) {
            Ok(t) => t,
            Err(e) => return err(lines, i, i + 1, format!("invalid eval time: {e}")),
        };
        (
            c.get(1).map(|m| m.as_str().to_string()),
            c[3].to_string(),
            Kind::Instant { t },
        )
    } else if let Some(c) = EVAL_RANGE.captures(l) {
        let parsed = (
            parse_duration_ms(&c[2]),
            parse_duration_ms(&c[3]),
            parse_duration_ms(&c[4]),
        );
        let (start, end, step) = match parsed {
            (Ok(s), Ok(e), Ok(st)) => (s, e, st),
            (a, b, c) => {
                let e = [a, b, c]
                    .into_iter()
                    .find_map(|r| r.err())
                    .unwrap_or_default();
                return err(lines, i, i + 1, format!("invalid range definition: {e}"));
            }
        };
        if end < start {
            return err(lines, i, i + 1, "end timestamp before start".into());
        }
        (
            c.get(1).map(|m| m.as_str().to_string()),
            c[5].to_string(),
            Kind::Range { start, end, step },
        )
    } else {
        return err(lines, i, i + 1, format!("invalid eval command {l:?}"));
    };
    let mut ev = Eval {
        line: i + 1,
        expr,
        kind,
        legacy_fail: modifier.as_deref() == Some("fail"),
        legacy_warn: modifier.as_deref() == Some("warn"),
        legacy_info: modifier.as_deref() == Some("info"),
        legacy_ordered: modifier.as_deref() == Some("ordered"),
        expected_fail_message: None,
        expected_fail_regexp: None,
        fail: Vec::new(),
        warn: Vec::new(),
        info: Vec::new(),
        no_warn: false,
        no_info: false,
        ordered: false,
        range_vector: None,
        expected: Expected::Series(Vec::new()),
        expects_histogram: false,
    };
    let mut series: Vec<ExpectedSeries> = Vec::new();
    let mut scalar: Option<f64> = None;
    let mut string: Option<String> = None;
    let mut j = i + 1;
    while j < lines.len() && !lines[j].is_empty() {
        let d = lines[j];
        let lineno = j + 1;
        j += 1;
        if ev.legacy_fail {
            if let Some(m) = d.strip_prefix("expected_fail_message") {
                ev.expected_fail_message = Some(m.trim().to_string());
                break;
            }
            if let Some(p) = d.strip_prefix("expected_fail_regexp") {
                match Regex::new(p.trim()) {
                    Ok(r) => ev.expected_fail_regexp = Some(r),
                    Err(e) => return err(lines, i, lineno, format!("invalid regexp: {e}")),
                }
                break;
            }
        }
        if d.starts_with("expect range vector") {
            let Some(c) = EXPECT_RANGE.captures(d) else {
                return err(lines, i, lineno, format!("invalid range vector line {d:?}"));
            };
            match (
                parse_duration_ms(&c[1]),
                parse_duration_ms(&c[2]),
                parse_duration_ms(&c[3]),
            ) {
                (Ok(s), Ok(e), Ok(st)) if e >= s => ev.range_vector = Some((s, e, st)),
                _ => return err(lines, i, lineno, format!("invalid range vector line {d:?}")),
            }
            continue;
        }
        if let Some(rest) = d.strip_prefix("expect string") {
            match parse_string_literal(rest.trim()) {
                Ok(s) => string = Some(s),
                Err(e) => return err(lines, i, lineno, e),
            }
            continue;
        }
        if d.split(' ').next() == Some("expect") {
            let Some(c) = EXPECT.captures(d) else {
                return err(
                    lines,
                    i,
                    lineno,
                    format!("invalid expect statement {d:?}, must match `expect <type> <match_type>: <string>`"),
                );
            };
            let m = match (c.get(2).map(|m| m.as_str()), c.get(3)) {
                (Some("msg"), Some(s)) => Matcher::Exact(s.as_str().trim().to_string()),
                (Some("regex"), Some(s)) => match Regex::new(s.as_str().trim()) {
                    Ok(r) => Matcher::Regex(r),
                    Err(e) => return err(lines, i, lineno, format!("invalid regex: {e}")),
                },
                _ => Matcher::Any,
            };
            match &c[1] {
                "fail" => ev.fail.push(m),
                "warn" => ev.warn.push(m),
                "info" => ev.info.push(m),
                "no_warn" => ev.no_warn = true,
                "no_info" => ev.no_info = true,
                _ => ev.ordered = true,
            }
            if (!ev.warn.is_empty() && ev.no_warn)
                || (!ev.info.is_empty() && ev.no_info)
                || ev.fail.len() > 1
            {
                return err(lines, i, lineno, "contradictory expect lines".into());
            }
            continue;
        }
        if let Some(f) = parse_number(d) {
            scalar = Some(f);
            break;
        }
        if d.contains("{{") {
            ev.expects_histogram = true;
        }
        match parse_series_line(d) {
            Ok(s) => {
                if s.values.len() > 1
                    && matches!(ev.kind, Kind::Instant { .. })
                    && ev.range_vector.is_none()
                {
                    return err(
                        lines,
                        i,
                        lineno,
                        "multiple values in an instant evaluation need 'expect range vector'"
                            .into(),
                    );
                }
                series.push(ExpectedSeries {
                    pos: series.len() + 1,
                    labels: s.labels,
                    values: s.values,
                });
            }
            Err(e) => return err(lines, i, lineno, format!("invalid expected series: {e}")),
        }
    }
    // Like the reference, a block ends at the first blank line; a scalar or a legacy
    // failure message ends it early and the remaining lines are ignored.
    let end = skip_block(lines, j.saturating_sub(1).max(i));
    ev.expected = match (scalar, string) {
        (Some(f), _) => Expected::Scalar(f),
        (None, Some(s)) => Expected::String(s),
        (None, None) => Expected::Series(series),
    };
    (end, Command::Eval(Box::new(ev)))
}

/// `"…"` or `` `…` `` after `expect string`.
fn parse_string_literal(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err(
            "expected string literal not valid - a quoted string literal is required".into(),
        );
    }
    match super::series::parse_quoted(s) {
        Ok((v, rest)) if rest.trim().is_empty() && !s.starts_with('\'') => Ok(v),
        _ => Err(
            "expected string literal not valid - check that the string is correctly quoted".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_syntaxes_and_reports_bad_lines() {
        let cmds = parse_script(
            "# c\nload 1m\n  foo{a=\"b\"} 1+1x3\n\neval instant at 1m foo\n  expect no_warn\n  foo{a=\"b\"} 2\n\n\
             eval_fail range from 0 to 2m step 1m foo[\n  expected_fail_message bad\n\nbogus line\n\n\
             eval instant at 0 1\n  1\n\neval instant at 5m \"a\"\n  expect string \"a\"\n\nclear\n",
        );
        assert!(matches!(
            cmds[0],
            Command::Load {
                line: 2,
                interval_ms: 60_000,
                ..
            }
        ));
        let Command::Eval(e) = &cmds[1] else {
            panic!("{:?}", cmds[1])
        };
        assert!(e.no_warn && matches!(e.kind, Kind::Instant { t: 60_000 }));
        let Command::Eval(e) = &cmds[2] else {
            panic!("{:?}", cmds[2])
        };
        assert!(e.is_fail() && e.expected_fail_message.as_deref() == Some("bad"));
        assert!(matches!(cmds[3], Command::Error { line: 12, .. }));
        let Command::Eval(e) = &cmds[4] else { panic!() };
        assert!(matches!(e.expected, Expected::Scalar(v) if v == 1.0));
        let Command::Eval(e) = &cmds[5] else { panic!() };
        assert!(matches!(&e.expected, Expected::String(s) if s == "a"));
        assert!(matches!(cmds[6], Command::Clear));
    }
}
