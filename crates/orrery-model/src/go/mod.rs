//! Go and Prometheus compatibility: the places where Prometheus's behaviour comes from
//! Go's standard library and Rust's would differ, bridged once for every crate.
//!
//! - [`regex`]: RE2 patterns as Go's `regexp` reads them (`\d \w \s \b` ASCII, `\Q…\E`,
//!   RE2's literal braces), anchored as `^(?s:…)$` the way label matchers, relabeling
//!   and `label_replace` anchor them.
//! - [`expand`]: Go's `Regexp.Expand` for `$1`, `${name}` and `$$` templates.
//! - [`time`]: civil-date arithmetic, RFC 3339 parsing and formatting as Go's `time`
//!   does it (proleptic Gregorian calendar, UTC, no leap seconds).
//! - [`strings`]: Go's `strings.ToLower`/`ToUpper` (simple per-character case mapping).
//!
//! Label matchers, relabel rules and PromQL functions call these, and so must anything
//! new that speaks Prometheus or Alertmanager syntax (Alertmanager matchers, LogQL line
//! filters, rule templates): a second copy is how the copies came to disagree. This
//! module holds only Go semantics; it knows nothing about labels, rules or queries.

pub mod expand;
pub mod regex;
pub mod strings;
pub mod time;
