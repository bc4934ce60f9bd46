//! A decoded write that borrows its label strings from the request body: the shape the
//! ingest hot path uses, so that a sample of an existing series costs no allocation.
//!
//! Layout: every series' label pairs back to back in one vector, every sample in
//! another, and one span per series pointing into both. Decoders build it with
//! [`WriteBatch::push_series`]; [`WriteBatch::from_request`] borrows an owned
//! [`WriteRequest`] the same way.

use crate::{Label, Labels, MetricMetadata, Sample, WriteRequest};
use std::ops::Range;

/// One series' slice of a [`WriteBatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesSpan {
    /// Indexes into [`WriteBatch::label_pairs`].
    pub labels: Range<usize>,
    /// Indexes into [`WriteBatch::samples`].
    pub samples: Range<usize>,
}

/// Label pairs sorted by name, unique, without empty values: a borrowed [`Labels`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LabelsRef<'a>(pub &'a [(&'a str, &'a str)]);

impl<'a> LabelsRef<'a> {
    /// Copies into an owned label set.
    pub fn to_labels(&self) -> Labels {
        Labels::from_sorted_unchecked(self.0.iter().map(|(n, v)| Label::new(*n, *v)).collect())
    }

    /// Iterates `(name, value)` pairs in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.0.iter().copied()
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A validated write whose strings live in a buffer owned by the caller.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct WriteBatch<'a> {
    /// All label pairs; each series' run is sorted by name and unique.
    pub label_pairs: Vec<(&'a str, &'a str)>,
    /// All samples, series after series.
    pub samples: Vec<Sample>,
    /// One entry per series.
    pub series: Vec<SeriesSpan>,
    /// Metric metadata carried by the write.
    pub metadata: Vec<MetricMetadata>,
}

impl<'a> WriteBatch<'a> {
    /// Borrows an owned request.
    pub fn from_request(req: &'a WriteRequest) -> Self {
        let mut b = WriteBatch {
            metadata: req.metadata.clone(),
            ..Default::default()
        };
        for ts in &req.timeseries {
            let l0 = b.label_pairs.len();
            b.label_pairs.extend(
                ts.labels
                    .iter()
                    .map(|l| (l.name.as_str(), l.value.as_str())),
            );
            let s0 = b.samples.len();
            b.samples.extend_from_slice(&ts.samples);
            b.series.push(SeriesSpan {
                labels: l0..b.label_pairs.len(),
                samples: s0..b.samples.len(),
            });
        }
        b
    }

    /// Closes a series whose labels and samples were pushed since `labels_from` and
    /// `samples_from`; the caller has sorted and validated the labels.
    pub fn push_series(&mut self, labels_from: usize, samples_from: usize) {
        self.series.push(SeriesSpan {
            labels: labels_from..self.label_pairs.len(),
            samples: samples_from..self.samples.len(),
        });
    }

    /// Iterates series as (labels, samples).
    pub fn iter(&self) -> impl Iterator<Item = (LabelsRef<'_>, &[Sample])> + '_ {
        self.series.iter().map(|s| {
            (
                LabelsRef(&self.label_pairs[s.labels.clone()]),
                &self.samples[s.samples.clone()],
            )
        })
    }

    /// Total samples.
    pub fn sample_count(&self) -> usize {
        self.samples.len()
    }

    /// Copies into an owned request (tests and slow paths).
    pub fn to_request(&self) -> WriteRequest {
        WriteRequest {
            timeseries: self
                .iter()
                .map(|(l, s)| crate::TimeSeries {
                    labels: l.to_labels(),
                    samples: s.to_vec(),
                })
                .collect(),
            metadata: self.metadata.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TimeSeries;

    #[test]
    fn request_round_trips_through_a_batch() {
        let req = WriteRequest {
            timeseries: vec![
                TimeSeries {
                    labels: Labels::from_pairs([("__name__", "a"), ("x", "1")]),
                    samples: vec![Sample::new(1, 1.0), Sample::new(2, 2.0)],
                },
                TimeSeries {
                    labels: Labels::from_pairs([("__name__", "b")]),
                    samples: vec![Sample::new(3, 3.0)],
                },
            ],
            metadata: vec![],
        };
        let b = WriteBatch::from_request(&req);
        assert_eq!(b.sample_count(), 3);
        let (l, s) = b.iter().nth(1).unwrap();
        assert_eq!(l.to_labels(), req.timeseries[1].labels);
        assert_eq!(s, &req.timeseries[1].samples[..]);
        assert_eq!(b.to_request(), req);
    }
}
