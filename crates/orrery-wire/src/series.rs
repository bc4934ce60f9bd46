//! Rules shared by both remote-write versions: turning a sender's label pairs into a
//! validated, sorted [`Labels`], mapping metric types, naming a series' metric family,
//! and rendering label sets in error messages with a bounded size.
//!
//! Label rules, applied in this order for each series:
//!
//! 1. At most `max_labels_per_series` pairs (counted as sent, before empty values
//!    are dropped), checked before any label is decoded.
//! 2. Every name is non-empty and at most `max_label_name_length` bytes; every value
//!    at most `max_label_value_length` bytes. Any UTF-8 name is accepted, as in
//!    Prometheus 3.
//! 3. Pairs are sorted by name if the sender did not sort them, then no name may
//!    appear twice (even when one of the values is empty).
//! 4. Labels with empty values are dropped (an empty value means "absent").
//! 5. A non-empty `__name__` must remain.

use std::collections::HashSet;
use std::fmt::Write as _;

use orrery_model::{Label, Labels, MetricMetadata, MetricType, METRIC_NAME};

use crate::error::{SeriesProblem, WireError};
use crate::Limits;

/// Longest name or value quoted in an error message, in bytes.
const PREVIEW_ITEM_BYTES: usize = 64;
/// Longest label set rendered in an error message, in bytes (roughly).
const PREVIEW_SET_BYTES: usize = 512;

/// Collects and validates the labels of one series.
pub(crate) struct SeriesBuilder<'a> {
    limits: &'a Limits,
    series: usize,
    labels: Vec<Label>,
}

impl<'a> SeriesBuilder<'a> {
    /// Starts series number `series`, which carries `count` label pairs.
    pub(crate) fn new(limits: &'a Limits, series: usize, count: usize) -> Result<Self, WireError> {
        if count > limits.max_labels_per_series {
            return Err(WireError::TooManyLabels {
                series,
                got: count,
                max: limits.max_labels_per_series,
            });
        }
        Ok(SeriesBuilder {
            limits,
            series,
            labels: Vec::with_capacity(count),
        })
    }

    /// Adds one pair as sent.
    pub(crate) fn push(&mut self, name: String, value: String) -> Result<(), WireError> {
        if name.is_empty() {
            return Err(self.error(SeriesProblem::EmptyLabelName));
        }
        if name.len() > self.limits.max_label_name_length {
            return Err(WireError::LabelNameTooLong {
                series: self.series,
                labels: preview(&self.labels),
                name: truncate(&name),
                got: name.len(),
                max: self.limits.max_label_name_length,
            });
        }
        if value.len() > self.limits.max_label_value_length {
            return Err(WireError::LabelValueTooLong {
                series: self.series,
                labels: preview(&self.labels),
                name: truncate(&name),
                got: value.len(),
                max: self.limits.max_label_value_length,
            });
        }
        self.labels.push(Label { name, value });
        Ok(())
    }

    /// An error about this series, showing the labels pushed so far.
    pub(crate) fn error(&self, problem: SeriesProblem) -> WireError {
        WireError::InvalidSeries {
            series: self.series,
            labels: preview(&self.labels),
            problem,
        }
    }

    /// Sorts, checks for duplicates, drops empty values and checks the metric name.
    pub(crate) fn finish(mut self) -> Result<Labels, WireError> {
        // Senders are required to sort, so the check is the common path and the sort
        // (stable, to keep the error message's order meaningful) the rare one.
        if !self.labels.windows(2).all(|w| w[0].name < w[1].name) {
            self.labels.sort_by(|a, b| a.name.cmp(&b.name));
            if let Some(w) = self.labels.windows(2).find(|w| w[0].name == w[1].name) {
                let dup = truncate(&w[0].name);
                return Err(self.error(SeriesProblem::DuplicateLabelName(dup)));
            }
        }
        self.labels.retain(|l| !l.value.is_empty());
        if self
            .labels
            .binary_search_by(|l| l.name.as_str().cmp(METRIC_NAME))
            .is_err()
        {
            return Err(self.error(SeriesProblem::MissingMetricName));
        }
        Ok(Labels::from_sorted_unchecked(self.labels))
    }
}

/// Renders labels as `{a="1", b="2"}`, truncating long values and long sets.
pub(crate) fn preview(labels: &[Label]) -> String {
    let mut out = String::from("{");
    for (i, l) in labels.iter().enumerate() {
        if out.len() > PREVIEW_SET_BYTES {
            out.push_str(", ...");
            break;
        }
        if i > 0 {
            out.push_str(", ");
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "{}={:?}", truncate(&l.name), truncate(&l.value));
    }
    out.push('}');
    out
}

/// `s` cut to at most [`PREVIEW_ITEM_BYTES`] on a character boundary, with `...`
/// appended when something was cut.
pub(crate) fn truncate(s: &str) -> String {
    if s.len() <= PREVIEW_ITEM_BYTES {
        return s.to_owned();
    }
    let mut end = PREVIEW_ITEM_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// The model type of a protobuf `MetricType` number (identical in 1.0 and 2.0);
/// numbers this code does not know map to [`MetricType::Unknown`].
pub(crate) fn metric_type_from_proto(n: i32) -> MetricType {
    MetricType::from_code(i64::from(n))
}

/// The protobuf number of a model type.
pub(crate) fn metric_type_to_proto(t: MetricType) -> i32 {
    i32::from(t.code())
}

/// Suffixes of the classic series of a histogram or summary family.
const FAMILY_SUFFIXES: [&str; 3] = ["_bucket", "_sum", "_count"];

/// Whether series of this type are named `<family>_bucket`, `_sum` or `_count`.
pub(crate) fn has_suffixed_series(t: MetricType) -> bool {
    matches!(
        t,
        MetricType::Histogram | MetricType::GaugeHistogram | MetricType::Summary
    )
}

/// The metric family a series named `name` belongs to, given its type: the name with
/// `_bucket`, `_sum` or `_count` removed for histograms, gauge histograms and summaries,
/// the name itself otherwise (a counter's `_total` stays, as in Prometheus's metadata).
pub(crate) fn metric_family(name: &str, t: MetricType) -> &str {
    if has_suffixed_series(t) {
        for suffix in FAMILY_SUFFIXES {
            if let Some(base) = name.strip_suffix(suffix) {
                if !base.is_empty() {
                    return base;
                }
            }
        }
    }
    name
}

/// The family names `name` may belong to, most specific first: the name itself, then
/// the name without each histogram/summary suffix it ends with.
pub(crate) fn family_candidates(name: &str) -> impl Iterator<Item = (&str, bool)> {
    std::iter::once((name, false)).chain(
        FAMILY_SUFFIXES
            .iter()
            .filter_map(move |s| name.strip_suffix(s))
            .filter(|b| !b.is_empty())
            .map(|b| (b, true)),
    )
}

/// Metadata gathered from 2.0 series: one entry per family, the first one seen wins.
#[derive(Default)]
pub(crate) struct MetadataSet {
    seen: HashSet<String>,
    entries: Vec<MetricMetadata>,
}

impl MetadataSet {
    /// Records metadata for the family of series `name`, unless the family already has
    /// some or the metadata is empty (unspecified type, no help, no unit).
    pub(crate) fn add(&mut self, name: &str, kind: MetricType, help: &str, unit: &str) {
        if kind == MetricType::Unknown && help.is_empty() && unit.is_empty() {
            return;
        }
        let family = metric_family(name, kind);
        if self.seen.contains(family) {
            return;
        }
        self.seen.insert(family.to_owned());
        self.entries.push(MetricMetadata {
            metric_family: family.to_owned(),
            kind,
            help: help.to_owned(),
            unit: unit.to_owned(),
        });
    }

    /// The entries in first-seen order.
    pub(crate) fn into_vec(self) -> Vec<MetricMetadata> {
        self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(pairs: &[(&str, &str)], limits: &Limits) -> Result<Labels, WireError> {
        let mut b = SeriesBuilder::new(limits, 3, pairs.len())?;
        for (n, v) in pairs {
            b.push((*n).to_owned(), (*v).to_owned())?;
        }
        b.finish()
    }

    #[test]
    fn unsorted_labels_are_sorted() {
        let l = build(
            &[("job", "a"), ("__name__", "x"), ("a", "1")],
            &Limits::default(),
        )
        .expect("valid");
        let names: Vec<&str> = l.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["__name__", "a", "job"]);
    }

    #[test]
    fn empty_values_are_dropped() {
        let l = build(
            &[("__name__", "x"), ("a", ""), ("b", "2")],
            &Limits::default(),
        )
        .expect("valid");
        assert_eq!(l, Labels::from_pairs([("__name__", "x"), ("b", "2")]));
    }

    #[test]
    fn duplicate_name_is_reported_with_series_and_labels() {
        let err = build(
            &[("__name__", "x"), ("job", "a"), ("job", "b")],
            &Limits::default(),
        )
        .expect_err("duplicate");
        assert_eq!(err.status(), 400);
        assert_eq!(
            err.to_string(),
            r#"series 3 ({__name__="x", job="a", job="b"}): duplicate label name "job""#
        );
    }

    #[test]
    fn duplicate_name_with_an_empty_value_is_still_a_duplicate() {
        let err = build(
            &[("job", ""), ("__name__", "x"), ("job", "b")],
            &Limits::default(),
        )
        .expect_err("duplicate");
        assert!(
            err.to_string().contains("duplicate label name \"job\""),
            "{err}"
        );
    }

    #[test]
    fn missing_or_empty_metric_name_is_rejected() {
        for pairs in [
            &[("job", "a")][..],
            &[("__name__", ""), ("job", "a")][..],
            &[][..],
        ] {
            let err = build(pairs, &Limits::default()).expect_err("no name");
            assert_eq!(err.status(), 400);
            assert!(err.to_string().contains("missing metric name"), "{err}");
        }
    }

    #[test]
    fn empty_label_name_is_rejected_with_labels_so_far() {
        let err = build(&[("__name__", "x"), ("", "v")], &Limits::default()).expect_err("empty");
        assert_eq!(
            err.to_string(),
            r#"series 3 ({__name__="x"}): empty label name"#
        );
    }

    #[test]
    fn any_utf8_label_name_is_accepted() {
        let l = build(
            &[("__name__", "x"), ("ünïcode.name-1", "v")],
            &Limits::default(),
        )
        .expect("valid");
        assert_eq!(l.get("ünïcode.name-1"), Some("v"));
    }

    #[test]
    fn label_limits_name_the_limit() {
        let limits = Limits {
            max_labels_per_series: 2,
            max_label_name_length: 4,
            max_label_value_length: 3,
            ..Limits::default()
        };
        let err = build(&[("__name__", "x"), ("a", "1"), ("b", "2")], &limits).expect_err("count");
        assert_eq!(
            err.to_string(),
            "too many labels in series 3; got 3; cannot exceed 2 (limit max_labels_per_series)"
        );
        let limits = Limits {
            max_label_name_length: 8,
            ..limits
        };
        let err = build(&[("__name__", "x"), ("abcdefghi", "1")], &limits).expect_err("name");
        assert_eq!(
            err.to_string(),
            "too long label name \"abcdefghi\" in series 3 ({__name__=\"x\"}); got 9 bytes; \
             cannot exceed 8 (limit max_label_name_length)"
        );
        let err = build(&[("__name__", "long")], &limits).expect_err("value");
        assert_eq!(
            err.to_string(),
            "too long value for label \"__name__\" in series 3 ({}); got 4 bytes; \
             cannot exceed 3 (limit max_label_value_length)"
        );
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn preview_is_bounded() {
        let long = "v".repeat(10_000);
        let labels: Vec<Label> = (0..1000)
            .map(|i| Label::new(format!("l{i}"), &long))
            .collect();
        let p = preview(&labels);
        assert!(
            p.len() < PREVIEW_SET_BYTES + 4 * PREVIEW_ITEM_BYTES,
            "{}",
            p.len()
        );
        assert!(p.ends_with(", ...}"), "{p}");
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        let s = "é".repeat(100);
        let t = truncate(&s);
        assert!(t.ends_with("..."));
        assert!(t.len() <= PREVIEW_ITEM_BYTES + 3);
    }

    #[test]
    fn family_strips_suffixes_only_for_histograms_and_summaries() {
        assert_eq!(metric_family("rq_bucket", MetricType::Histogram), "rq");
        assert_eq!(metric_family("rq_sum", MetricType::Summary), "rq");
        assert_eq!(metric_family("rq_count", MetricType::GaugeHistogram), "rq");
        assert_eq!(metric_family("rq", MetricType::Histogram), "rq");
        assert_eq!(metric_family("rq_count", MetricType::Counter), "rq_count");
        assert_eq!(metric_family("rq_total", MetricType::Counter), "rq_total");
        assert_eq!(metric_family("_sum", MetricType::Summary), "_sum");
    }

    #[test]
    fn metric_types_round_trip_through_proto_numbers() {
        for n in 0..8 {
            assert_eq!(metric_type_to_proto(metric_type_from_proto(n)), n);
        }
        assert_eq!(metric_type_from_proto(42), MetricType::Unknown);
        assert_eq!(metric_type_from_proto(-1), MetricType::Unknown);
    }
}
