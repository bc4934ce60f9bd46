//! Static targets: `static_configs` become target groups once, with sources
//! `static/<index>`.

use super::{LabelSet, TargetGroup};
use serde::Deserialize;

/// Static targets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    /// `host:port` of each target.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Labels for all of them.
    #[serde(default)]
    pub labels: LabelSet,
}

/// The groups of a job's `static_configs`.
pub fn groups(configs: &[StaticConfig]) -> Vec<TargetGroup> {
    configs
        .iter()
        .enumerate()
        .map(|(i, c)| TargetGroup {
            source: format!("static/{i}"),
            targets: c
                .targets
                .iter()
                .map(|t| LabelSet::from([("__address__".to_string(), t.clone())]))
                .collect(),
            labels: c.labels.clone(),
        })
        .collect()
}
