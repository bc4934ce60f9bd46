//! Service discovery: every mechanism (static, file, Kubernetes) produces target groups
//! in Prometheus's model, keyed by a source string; a group with no targets removes the
//! targets that source produced before.

use std::collections::BTreeMap;

pub mod file_sd;
pub mod kubernetes;
pub mod static_sd;

/// A label set before relabeling: `__address__`, `__meta_*` and the group's labels.
pub type LabelSet = BTreeMap<String, String>;

/// Targets from one source, with labels common to all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetGroup {
    /// Identifies the group within its discoverer (e.g. `pod/ns/name`, a file name
    /// and index); a later group with the same source replaces it.
    pub source: String,
    /// One label set per target; each has at least `__address__`.
    pub targets: Vec<LabelSet>,
    /// Labels added to every target of the group (targets' own labels win).
    pub labels: LabelSet,
}

/// What a discoverer sends: full replacements for the groups it names.
pub type Update = Vec<TargetGroup>;
