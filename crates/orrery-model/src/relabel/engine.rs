//! Compiling a list of relabel rules (Prometheus's load-time checks) and applying it
//! to one label set. Processing is pure and never fails: a rule can only change labels
//! or drop the set.

use ::regex::Regex;

use super::config::{DEFAULT_REGEX, DEFAULT_REPLACEMENT, DEFAULT_SEPARATOR};
use super::md5::md5;
use super::{RelabelAction, RelabelConfig, RelabelError};
use crate::go::expand::Template;
use crate::go::regex::compile_anchored;
use crate::go::strings::{to_lower, to_upper};
use crate::labels::{Label, Labels};

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
        let regex = compile_anchored(&cfg.regex).map_err(|source| RelabelError::InvalidRegex {
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
            Lowercase => b.set(&self.target_label, to_lower(val)),
            Uppercase => b.set(&self.target_label, to_upper(val)),
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
