//! The `relabel_config` entry as a user writes it: the serde shape with Prometheus's
//! defaults, the action names, and the errors [`super::Relabeler::new`] reports when it
//! validates a list. Nothing here compiles or runs a rule.

use std::fmt;

use serde::Deserialize;
use thiserror::Error;

/// The default `regex`: matches anything and captures it as `$1`.
pub(super) const DEFAULT_REGEX: &str = "(.*)";
/// The default `separator` placed between source label values.
pub(super) const DEFAULT_SEPARATOR: &str = ";";
/// The default `replacement`: the first capture group.
pub(super) const DEFAULT_REPLACEMENT: &str = "$1";

/// One `relabel_config` entry as written in YAML, with Prometheus's defaults.
///
/// Parse it with any serde format; unknown fields are rejected. It is only checked
/// when it is compiled by [`super::Relabeler::new`].
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

/// A relabel rule that [`super::Relabeler::new`] refused. Every message names the rule by
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
