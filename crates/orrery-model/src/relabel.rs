//! Relabeling with Prometheus's semantics: the `relabel_config` YAML shape, its
//! validation, and the rule engine the agent (target and metric relabeling) and the
//! server (write relabeling) both run.
//!
//! [`RelabelConfig`] is the raw, serde-parsed rule exactly as a user writes it, with
//! Prometheus's defaults. [`Relabeler::new`] validates a list of rules the way
//! Prometheus validates them when it loads its configuration and compiles them once;
//! [`Relabeler::process`] then applies them, in order, to one label set. Processing
//! is pure, allocation-light and never fails: a rule can only change labels or drop
//! the set. A `Relabeler` is immutable and can be shared across threads.
//!
//! Points where Go and Rust differ and that this module bridges on purpose:
//! 1. Regexes are RE2 in Prometheus. They are anchored as `^(?s:<regex>)$`, and the
//!    Perl classes `\d \w \s \b` (and their negations) are rewritten to their ASCII
//!    meaning, as in Go, because the `regex` crate makes them Unicode-aware. Inside a
//!    character class an unescaped `[` (that does not start `[:name:]`), `&` and `~`
//!    are literal as in Go, and `\Q…\E` quoting is supported.
//! 2. `$1`, `${1}`, `$name`, `${name}` and `$$` in `replacement` and `target_label`
//!    follow Go's `Regexp.Expand`: a name is as long as possible (`$1x` is the group
//!    named `1x`, hence empty), unknown or unmatched groups expand to nothing, and a
//!    `$` not followed by a valid reference is kept as is.
//! 3. `lowercase` and `uppercase` use Go's per-character simple case mapping (no
//!    `ß` → `SS`, no final-sigma rule), not Rust's full mapping.
//! 4. Label names follow Prometheus 3's UTF-8 validation: any non-empty name is valid.

use std::fmt;

use regex::{Captures, Regex};
use serde::Deserialize;
use thiserror::Error;

use crate::labels::{Label, Labels};

/// The default `regex`: matches anything and captures it as `$1`.
const DEFAULT_REGEX: &str = "(.*)";
/// The default `separator` placed between source label values.
const DEFAULT_SEPARATOR: &str = ";";
/// The default `replacement`: the first capture group.
const DEFAULT_REPLACEMENT: &str = "$1";

/// One `relabel_config` entry as written in YAML, with Prometheus's defaults.
///
/// Parse it with any serde format; unknown fields are rejected. It is only checked
/// when it is compiled by [`Relabeler::new`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelabelConfig {
    /// Labels whose values are joined with `separator` to form the input of `regex`;
    /// a missing label contributes an empty string.
    pub source_labels: Vec<String>,
    /// Placed between the source label values; default `;`.
    pub separator: String,
    /// The label written by `replace`, `hashmod`, `lowercase` and `uppercase`, or
    /// compared by `keepequal` and `dropequal`. For `replace` it may contain
    /// capture-group references.
    pub target_label: String,
    /// An RE2 regular expression, anchored at both ends; default `(.*)`.
    pub regex: String,
    /// The modulus for `hashmod`; must be non-zero for that action.
    pub modulus: u64,
    /// The value (for `replace`) or the label name (for `labelmap`) written when
    /// `regex` matches, with capture-group references; default `$1`.
    pub replacement: String,
    /// What to do; default `replace`.
    pub action: RelabelAction,
}

impl Default for RelabelConfig {
    /// Prometheus's `DefaultRelabelConfig`: a `replace` with `(.*)`, `;` and `$1`.
    fn default() -> Self {
        RelabelConfig {
            source_labels: Vec::new(),
            separator: DEFAULT_SEPARATOR.to_string(),
            target_label: String::new(),
            regex: DEFAULT_REGEX.to_string(),
            modulus: 0,
            replacement: DEFAULT_REPLACEMENT.to_string(),
            action: RelabelAction::Replace,
        }
    }
}

/// The relabeling action of a rule. In YAML the names are case-insensitive, as in
/// Prometheus (`replace`, `Replace` and `REPLACE` are the same action).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum RelabelAction {
    /// Sets `target_label` to the expanded `replacement` when `regex` matches the
    /// joined source values; an empty result deletes the label.
    #[default]
    Replace,
    /// Drops the label set when `regex` does not match the joined source values.
    Keep,
    /// Drops the label set when `regex` matches the joined source values.
    Drop,
    /// Drops the label set when the joined source values differ from the value of
    /// `target_label`.
    KeepEqual,
    /// Drops the label set when the joined source values equal the value of
    /// `target_label`.
    DropEqual,
    /// Sets `target_label` to the MD5 of the joined source values (last 8 bytes,
    /// big-endian) modulo `modulus`.
    HashMod,
    /// For every label whose name matches `regex`, copies its value to the label
    /// named by the expanded `replacement`.
    LabelMap,
    /// Removes every label whose name matches `regex`.
    LabelDrop,
    /// Removes every label whose name does not match `regex`.
    LabelKeep,
    /// Sets `target_label` to the lowercased joined source values.
    Lowercase,
    /// Sets `target_label` to the uppercased joined source values.
    Uppercase,
}

impl RelabelAction {
    /// Every action, in the order Prometheus documents them.
    pub const ALL: [RelabelAction; 11] = [
        RelabelAction::Replace,
        RelabelAction::Keep,
        RelabelAction::Drop,
        RelabelAction::KeepEqual,
        RelabelAction::DropEqual,
        RelabelAction::HashMod,
        RelabelAction::LabelMap,
        RelabelAction::LabelDrop,
        RelabelAction::LabelKeep,
        RelabelAction::Lowercase,
        RelabelAction::Uppercase,
    ];

    /// The YAML name of the action (`replace`, `keepequal`, `hashmod`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            RelabelAction::Replace => "replace",
            RelabelAction::Keep => "keep",
            RelabelAction::Drop => "drop",
            RelabelAction::KeepEqual => "keepequal",
            RelabelAction::DropEqual => "dropequal",
            RelabelAction::HashMod => "hashmod",
            RelabelAction::LabelMap => "labelmap",
            RelabelAction::LabelDrop => "labeldrop",
            RelabelAction::LabelKeep => "labelkeep",
            RelabelAction::Lowercase => "lowercase",
            RelabelAction::Uppercase => "uppercase",
        }
    }
}

impl fmt::Display for RelabelAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for RelabelAction {
    type Error = String;

    /// Parses an action name case-insensitively, like Prometheus.
    fn try_from(s: String) -> Result<Self, Self::Error> {
        let lower = s.to_ascii_lowercase();
        RelabelAction::ALL
            .into_iter()
            .find(|a| a.as_str() == lower)
            .ok_or_else(|| format!("unknown relabel action {s:?}"))
    }
}

/// A relabel rule that [`Relabeler::new`] refused. Every message names the rule by
/// its zero-based position in the list and the offending field, and otherwise uses
/// Prometheus's wording so that searches for its messages still help.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RelabelError {
    /// An entry of `source_labels` is not a valid label name (it is empty).
    #[error("relabel rule {index}: {name:?} is not a valid label name in 'source_labels'")]
    InvalidSourceLabel {
        /// Position of the rule in the list.
        index: usize,
        /// The offending name.
        name: String,
    },
    /// `regex` does not compile.
    #[error("relabel rule {index}: invalid 'regex' {pattern:?}: {source}")]
    InvalidRegex {
        /// Position of the rule in the list.
        index: usize,
        /// The pattern as the user wrote it.
        pattern: String,
        /// The regex crate's reason.
        #[source]
        source: regex::Error,
    },
    /// `hashmod` without a non-zero `modulus`.
    #[error("relabel rule {index}: relabel configuration for hashmod requires non-zero 'modulus'")]
    ZeroModulus {
        /// Position of the rule in the list.
        index: usize,
    },
    /// The action needs a `target_label` and none was given.
    #[error(
        "relabel rule {index}: relabel configuration for {action} action requires 'target_label' value"
    )]
    MissingTargetLabel {
        /// Position of the rule in the list.
        index: usize,
        /// The rule's action.
        action: RelabelAction,
    },
    /// `lowercase`, `uppercase`, `keepequal` and `dropequal` take no `replacement`.
    #[error("relabel rule {index}: 'replacement' can not be set for {action} action")]
    ReplacementNotAllowed {
        /// Position of the rule in the list.
        index: usize,
        /// The rule's action.
        action: RelabelAction,
    },
    /// The `replacement` of a `labelmap` is not a valid label name template.
    #[error("relabel rule {index}: {replacement:?} is invalid 'replacement' for {action} action")]
    InvalidReplacement {
        /// Position of the rule in the list.
        index: usize,
        /// The rule's action.
        action: RelabelAction,
        /// The offending replacement.
        replacement: String,
    },
    /// A field the action does not use was set to something other than its default.
    #[error(
        "relabel rule {index}: {action} action requires only {allowed}, and no other fields, but '{field}' is set"
    )]
    UnexpectedField {
        /// Position of the rule in the list.
        index: usize,
        /// The rule's action.
        action: RelabelAction,
        /// The fields the action accepts, quoted.
        allowed: &'static str,
        /// The field that should not be set.
        field: &'static str,
    },
}

/// A validated, compiled list of relabel rules.
///
/// Build it once per configuration load with [`Relabeler::new`], then call
/// [`Relabeler::process`] for every label set.
#[derive(Debug, Clone, Default)]
pub struct Relabeler {
    rules: Vec<Rule>,
}

/// One compiled rule: the config's strings turned into what processing needs.
#[derive(Debug, Clone)]
struct Rule {
    action: RelabelAction,
    source_labels: Vec<String>,
    separator: String,
    regex: Regex,
    /// `target_label` as a template (only `replace` expands it).
    target_template: Template,
    target_label: String,
    replacement: Template,
    modulus: u64,
}

impl Relabeler {
    /// Validates and compiles `configs`, checking each rule as Prometheus does when
    /// it loads its configuration. The first bad rule is reported.
    pub fn new(configs: &[RelabelConfig]) -> Result<Relabeler, RelabelError> {
        let rules = configs
            .iter()
            .enumerate()
            .map(|(index, cfg)| Rule::compile(index, cfg))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Relabeler { rules })
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when there are no rules, so [`Relabeler::process`] returns its input.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Applies the rules in order. `None` means a `keep`, `drop`, `keepequal` or
    /// `dropequal` rule dropped the label set. As in Prometheus, a set whose labels
    /// were all removed is not dropped here: `Some` of an empty set is returned and
    /// the caller decides what an empty set means.
    pub fn process(&self, labels: &Labels) -> Option<Labels> {
        if self.rules.is_empty() {
            return Some(labels.clone());
        }
        let mut b = Builder::new(labels);
        let mut val = String::new();
        for rule in &self.rules {
            if !rule.apply(&mut b, &mut val) {
                return None;
            }
        }
        Some(b.finish())
    }
}

impl Rule {
    fn compile(index: usize, cfg: &RelabelConfig) -> Result<Rule, RelabelError> {
        use RelabelAction::*;
        let action = cfg.action;

        // Prometheus parses `source_labels` as label names and compiles the regex
        // while reading YAML, before the rule-level checks below.
        if let Some(name) = cfg.source_labels.iter().find(|n| !is_valid_label_name(n)) {
            return Err(RelabelError::InvalidSourceLabel {
                index,
                name: name.clone(),
            });
        }
        let regex = compile_regex(&cfg.regex).map_err(|source| RelabelError::InvalidRegex {
            index,
            pattern: cfg.regex.clone(),
            source,
        })?;

        if action == HashMod && cfg.modulus == 0 {
            return Err(RelabelError::ZeroModulus { index });
        }
        let needs_target = matches!(
            action,
            Replace | HashMod | Lowercase | Uppercase | KeepEqual | DropEqual
        );
        // With UTF-8 label names any non-empty name, with or without `$` references,
        // is a valid target, so "required" and "valid" are the same check.
        if needs_target && !is_valid_label_name(&cfg.target_label) {
            return Err(RelabelError::MissingTargetLabel { index, action });
        }
        if matches!(action, Lowercase | Uppercase | KeepEqual | DropEqual)
            && cfg.replacement != DEFAULT_REPLACEMENT
        {
            return Err(RelabelError::ReplacementNotAllowed { index, action });
        }
        if action == LabelMap && !is_valid_label_name(&cfg.replacement) {
            return Err(RelabelError::InvalidReplacement {
                index,
                action,
                replacement: cfg.replacement.clone(),
            });
        }
        let unexpected = |allowed, field| RelabelError::UnexpectedField {
            index,
            action,
            allowed,
            field,
        };
        if matches!(action, KeepEqual | DropEqual) {
            let allowed = "'source_labels' and 'target_label'";
            if cfg.regex != DEFAULT_REGEX {
                return Err(unexpected(allowed, "regex"));
            }
            if cfg.modulus != 0 {
                return Err(unexpected(allowed, "modulus"));
            }
            if cfg.separator != DEFAULT_SEPARATOR {
                return Err(unexpected(allowed, "separator"));
            }
        }
        if matches!(action, LabelDrop | LabelKeep) {
            let allowed = "'regex'";
            if !cfg.source_labels.is_empty() {
                return Err(unexpected(allowed, "source_labels"));
            }
            if !cfg.target_label.is_empty() {
                return Err(unexpected(allowed, "target_label"));
            }
            if cfg.modulus != 0 {
                return Err(unexpected(allowed, "modulus"));
            }
            if cfg.separator != DEFAULT_SEPARATOR {
                return Err(unexpected(allowed, "separator"));
            }
            if cfg.replacement != DEFAULT_REPLACEMENT {
                return Err(unexpected(allowed, "replacement"));
            }
        }

        Ok(Rule {
            action,
            source_labels: cfg.source_labels.clone(),
            separator: cfg.separator.clone(),
            target_template: Template::compile(&cfg.target_label, &regex),
            target_label: cfg.target_label.clone(),
            replacement: Template::compile(&cfg.replacement, &regex),
            regex,
            modulus: cfg.modulus,
        })
    }

    /// Applies the rule to `b`; false means the label set is dropped. `val` is a
    /// scratch buffer for the joined source values.
    fn apply(&self, b: &mut Builder<'_>, val: &mut String) -> bool {
        use RelabelAction::*;
        val.clear();
        for (i, name) in self.source_labels.iter().enumerate() {
            if i > 0 {
                val.push_str(&self.separator);
            }
            val.push_str(b.get(name));
        }
        let val = val.as_str();
        match self.action {
            Keep => return self.regex.is_match(val),
            Drop => return !self.regex.is_match(val),
            KeepEqual => return b.get(&self.target_label) == val,
            DropEqual => return b.get(&self.target_label) != val,
            Replace => {
                // No match: no change at all.
                if let Some(caps) = self.regex.captures(val) {
                    let mut target = String::new();
                    self.target_template.expand(&caps, &mut target);
                    // A target that expands to an invalid (empty) name is skipped.
                    if is_valid_label_name(&target) {
                        let mut value = String::new();
                        self.replacement.expand(&caps, &mut value);
                        b.set(&target, value);
                    }
                }
            }
            Lowercase => b.set(&self.target_label, go_to_lower(val)),
            Uppercase => b.set(&self.target_label, go_to_upper(val)),
            HashMod => {
                let sum = md5(val.as_bytes());
                let mut tail = [0u8; 8];
                tail.copy_from_slice(&sum[8..]);
                let m = u64::from_be_bytes(tail) % self.modulus;
                b.set(&self.target_label, m.to_string());
            }
            LabelMap => {
                for (name, value) in b.snapshot() {
                    if let Some(caps) = self.regex.captures(&name) {
                        let mut target = String::new();
                        self.replacement.expand(&caps, &mut target);
                        // Prometheus would write a label with an empty name here and
                        // fail the series later; skipping it keeps `Labels` valid.
                        if !target.is_empty() {
                            b.set(&target, value);
                        }
                    }
                }
            }
            LabelDrop => {
                for (name, _) in b.snapshot() {
                    if self.regex.is_match(&name) {
                        b.delete(&name);
                    }
                }
            }
            LabelKeep => {
                for (name, _) in b.snapshot() {
                    if !self.regex.is_match(&name) {
                        b.delete(&name);
                    }
                }
            }
        }
        true
    }
}

/// Prometheus 3's UTF-8 label name check: any non-empty (valid UTF-8) string.
fn is_valid_label_name(name: &str) -> bool {
    !name.is_empty()
}

/// Working label set while rules run, shaped like Prometheus's `labels.Builder`:
/// the untouched input, the labels set so far in the order they were first set,
/// and the names deleted. The shape matters for `labelmap`, whose iteration order
/// (input labels in name order, then labels set by earlier rules in the order they
/// were set) decides which value wins when two names map to the same target.
struct Builder<'a> {
    base: &'a Labels,
    add: Vec<Label>,
    del: Vec<String>,
}

impl<'a> Builder<'a> {
    fn new(base: &'a Labels) -> Self {
        Builder {
            base,
            add: Vec::new(),
            del: Vec::new(),
        }
    }

    /// The current value of `name`, empty when absent.
    fn get(&self, name: &str) -> &str {
        if let Some(l) = self.add.iter().find(|l| l.name == name) {
            return &l.value;
        }
        if self.del.iter().any(|d| d == name) {
            return "";
        }
        self.base.get(name).unwrap_or("")
    }

    /// Sets `name`; an empty value deletes it.
    fn set(&mut self, name: &str, value: String) {
        if value.is_empty() {
            self.delete(name);
            return;
        }
        match self.add.iter_mut().find(|l| l.name == name) {
            Some(l) => l.value = value,
            None => self.add.push(Label::new(name, value)),
        }
    }

    fn delete(&mut self, name: &str) {
        self.add.retain(|l| l.name != name);
        if !self.del.iter().any(|d| d == name) {
            self.del.push(name.to_string());
        }
    }

    fn is_shadowed(&self, name: &str) -> bool {
        self.del.iter().any(|d| d == name) || self.add.iter().any(|l| l.name == name)
    }

    /// A copy of the current labels in Prometheus's `Builder.Range` order, so that
    /// a rule can change the builder while it walks them.
    fn snapshot(&self) -> Vec<(String, String)> {
        let mut out = Vec::with_capacity(self.base.len() + self.add.len());
        for l in self.base {
            if !self.is_shadowed(&l.name) {
                out.push((l.name.clone(), l.value.clone()));
            }
        }
        for l in &self.add {
            out.push((l.name.clone(), l.value.clone()));
        }
        out
    }

    fn finish(self) -> Labels {
        if self.add.is_empty() && self.del.is_empty() {
            return self.base.clone();
        }
        let mut v: Vec<Label> = self
            .base
            .iter()
            .filter(|l| !self.is_shadowed(&l.name))
            .cloned()
            .collect();
        v.extend(self.add);
        v.sort_by(|a, b| a.name.cmp(&b.name));
        Labels::from_sorted_unchecked(v)
    }
}

/// A `replacement` or `target_label` compiled against its rule's regex, expanded with
/// Go's `Regexp.Expand` rules.
#[derive(Debug, Clone)]
struct Template {
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone)]
enum Piece {
    Literal(String),
    Group(usize),
}

impl Template {
    fn compile(template: &str, regex: &Regex) -> Template {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut rest = template;
        while let Some(pos) = rest.find('$') {
            lit.push_str(&rest[..pos]);
            rest = &rest[pos + 1..];
            if let Some(after) = rest.strip_prefix('$') {
                lit.push('$');
                rest = after;
                continue;
            }
            let Some((name, after)) = extract_reference(rest) else {
                // Malformed reference: the `$` is literal text.
                lit.push('$');
                continue;
            };
            rest = after;
            if !lit.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut lit)));
            }
            if let Some(group) = resolve_group(name, regex) {
                pieces.push(Piece::Group(group));
            }
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            pieces.push(Piece::Literal(lit));
        }
        Template { pieces }
    }

    fn expand(&self, caps: &Captures<'_>, out: &mut String) {
        for p in &self.pieces {
            match p {
                Piece::Literal(s) => out.push_str(s),
                Piece::Group(i) => {
                    if let Some(m) = caps.get(*i) {
                        out.push_str(m.as_str());
                    }
                }
            }
        }
    }
}

/// Reads the reference after a `$`: `name` or `{name}`, where a name is a non-empty
/// run of letters, digits and underscores taken as long as possible. Returns the
/// name and the text after it, or `None` when there is no valid reference.
fn extract_reference(s: &str) -> Option<(&str, &str)> {
    let (braced, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let end = body
        .char_indices()
        .find(|&(_, c)| !(c.is_alphanumeric() || c == '_'))
        .map_or(body.len(), |(i, _)| i);
    if end == 0 {
        return None;
    }
    let name = &body[..end];
    let rest = &body[end..];
    if braced {
        return rest.strip_prefix('}').map(|r| (name, r));
    }
    Some((name, rest))
}

/// The capture group a reference names: a decimal index without leading zeros, or a
/// group name. `None` (expands to nothing) for unknown names and out-of-range indexes.
fn resolve_group(name: &str, regex: &Regex) -> Option<usize> {
    if name.bytes().all(|b| b.is_ascii_digit()) {
        // Go parses at most nine digits and refuses leading zeros; anything else is
        // looked up as a name, and no group can be named with digits only.
        if name.len() > 9 || (name.len() > 1 && name.starts_with('0')) {
            return None;
        }
        let n: usize = name.parse().ok()?;
        return (n < regex.captures_len()).then_some(n);
    }
    regex.capture_names().position(|n| n == Some(name))
}

/// Compiles a Prometheus regex: RE2 syntax made Go-compatible, anchored at both
/// ends, with `.` matching newlines.
fn compile_regex(pattern: &str) -> Result<Regex, regex::Error> {
    Regex::new(&format!("^(?s:{})$", go_compatible_pattern(pattern)))
}

/// Rewrites the parts of RE2 syntax that the `regex` crate reads differently.
fn go_compatible_pattern(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut in_class = false;
    // Index of the first item inside the current class, where `]` is literal.
    let mut class_first = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let Some(&next) = chars.get(i + 1) else {
                    out.push('\\');
                    break;
                };
                i += 2;
                match next {
                    'd' => out.push_str("[0-9]"),
                    'D' => out.push_str("[^0-9]"),
                    'w' => out.push_str("[0-9A-Za-z_]"),
                    'W' => out.push_str("[^0-9A-Za-z_]"),
                    's' => out.push_str(r"[\t\n\f\r ]"),
                    'S' => out.push_str(r"[^\t\n\f\r ]"),
                    'b' if !in_class => out.push_str(r"(?-u:\b)"),
                    'B' if !in_class => out.push_str(r"(?-u:\B)"),
                    'Q' => {
                        let start = i;
                        while i < chars.len()
                            && !(chars[i] == '\\' && chars.get(i + 1) == Some(&'E'))
                        {
                            i += 1;
                        }
                        let quoted: String = chars[start..i].iter().collect();
                        out.push_str(&regex::escape(&quoted));
                        if i < chars.len() {
                            i += 2; // the `\E`
                        }
                    }
                    'p' | 'P' | 'x' if chars.get(i) == Some(&'{') => {
                        // `\p{Greek}`, `\x{10FFFF}`: copy the braces verbatim.
                        out.push('\\');
                        out.push(next);
                        while i < chars.len() {
                            out.push(chars[i]);
                            i += 1;
                            if chars[i - 1] == '}' {
                                break;
                            }
                        }
                    }
                    _ => {
                        out.push('\\');
                        out.push(next);
                    }
                }
                continue;
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                i += 1;
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                class_first = i;
                continue;
            }
            '[' if in_class => {
                if chars.get(i + 1) == Some(&':') {
                    // `[:alpha:]`: copy through the closing `:]`.
                    let mut j = i + 2;
                    while j + 1 < chars.len() && !(chars[j] == ':' && chars[j + 1] == ']') {
                        j += 1;
                    }
                    let end = (j + 2).min(chars.len());
                    out.extend(&chars[i..end]);
                    i = end;
                    continue;
                }
                out.push_str(r"\[");
            }
            ']' if in_class && i != class_first => {
                in_class = false;
                out.push(']');
            }
            '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            '{' if !in_class => match repetition_len(&chars[i..]) {
                Some(n) => {
                    out.extend(&chars[i..i + n]);
                    i += n;
                    continue;
                }
                None => out.push_str(r"\{"),
            },
            '}' if !in_class => out.push_str(r"\}"),
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

/// The length of the counted repetition `{n}`, `{n,}` or `{n,m}` that `s` starts
/// with; `None` when it is not one, and RE2 reads that `{` as a literal.
fn repetition_len(s: &[char]) -> Option<usize> {
    let mut i = 1;
    let digits = |i: &mut usize| {
        let start = *i;
        while s.get(*i).is_some_and(|c| c.is_ascii_digit()) {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return None;
    }
    if s.get(i) == Some(&',') {
        i += 1;
        digits(&mut i);
    }
    (s.get(i) == Some(&'}')).then_some(i + 1)
}

/// Go's `strings.ToLower`: per-character simple case mapping.
fn go_to_lower(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    s.chars()
        .map(|c| match c {
            '\u{130}' => 'i',
            _ => single(c, c.to_lowercase()),
        })
        .collect()
}

/// Go's `strings.ToUpper`: per-character simple case mapping.
fn go_to_upper(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_uppercase();
    }
    s.chars()
        .map(|c| match c {
            // Greek with ypogegrammeni: the simple mapping is the titlecase letter,
            // while the full mapping expands to two characters.
            '\u{1F80}'..='\u{1F87}' | '\u{1F90}'..='\u{1F97}' | '\u{1FA0}'..='\u{1FA7}' => {
                char::from_u32(c as u32 + 8).unwrap_or(c)
            }
            '\u{1FB3}' => '\u{1FBC}',
            '\u{1FC3}' => '\u{1FCC}',
            '\u{1FF3}' => '\u{1FFC}',
            _ => single(c, c.to_uppercase()),
        })
        .collect()
}

/// The mapped character when the full mapping is a single character, else `c`
/// (characters whose only mapping expands have no simple mapping).
fn single(c: char, mut mapped: impl Iterator<Item = char>) -> char {
    match (mapped.next(), mapped.next()) {
        (Some(m), None) => m,
        _ => c,
    }
}

/// MD5 (RFC 1321), used only by `hashmod`, where Prometheus defines the shard by it.
/// Short enough to keep here rather than add a dependency to the bottom crate.
fn md5(data: &[u8]) -> [u8; 16] {
    const S: [u32; 16] = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
    const K: [u32; 64] = [
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
        0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
        0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
        0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
        0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
        0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
        0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
        0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
        0xeb86d391,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64).wrapping_mul(8)).to_le_bytes());

    let mut h: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
    for block in msg.chunks_exact(64) {
        let mut m = [0u32; 16];
        for (w, b) in m.iter_mut().zip(block.chunks_exact(4)) {
            *w = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        let [mut a, mut b, mut c, mut d] = h;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(K[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[(i / 16) * 4 + i % 4]));
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 16];
    for (o, w) in out.chunks_exact_mut(4).zip(h) {
        o.copy_from_slice(&w.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests;
