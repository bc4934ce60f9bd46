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
//! Files: `config` holds what a user writes (the YAML shape, actions, and the errors
//! validation reports), `engine` compiles and runs the rules, `md5` is the hash that
//! `hashmod` shards by. The Go semantics the rules depend on live in [`crate::go`],
//! shared with label matchers and PromQL, and this module must not copy them:
//! - regexes are compiled by [`crate::go::regex::compile_anchored`] (`^(?s:…)$`, ASCII
//!   `\d \w \s \b`, `\Q…\E`);
//! - `$1`, `${name}` and `$$` in `replacement` and `target_label` are expanded by
//!   [`crate::go::expand::Template`];
//! - `lowercase` and `uppercase` use [`crate::go::strings`]'s simple case mapping.
//!
//! Label names follow Prometheus 3's UTF-8 validation: any non-empty name is valid.

mod config;
mod engine;
mod md5;

pub use config::{RelabelAction, RelabelConfig, RelabelError};
pub use engine::Relabeler;

#[cfg(test)]
mod tests;
