//! Why a scrape failed: [`ScrapeError`], and [`LabelLimitError`] for a series that
//! breaks a label limit. Their texts become the target's `last_error` (what the agent's
//! targets status shows), so they are Prometheus's wording, unchanged from when they
//! were built as strings.

use orrery_httpclient::HttpClientError;
use orrery_wire::ExpositionError;

/// Why one scrape of a target failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScrapeError {
    /// A secret file for the request's credentials could not be read.
    #[error("{0}")]
    Auth(#[source] HttpClientError),
    /// The request failed or the body could not be read (timeouts say so first). Not a
    /// `source()`: the text already holds reqwest's whole chain, as Go prints it.
    #[error("{}", describe(.0))]
    Http(reqwest::Error),
    /// The target answered with a status other than 2xx.
    #[error("server returned HTTP status {0}")]
    Status(reqwest::StatusCode),
    /// The body is larger than `body_size_limit`.
    #[error("body size limit exceeded (limit body_size_limit = {0} bytes)")]
    BodySizeLimit(u64),
    /// The body is not a valid exposition (the message names the line).
    #[error("{0}")]
    Exposition(#[from] ExpositionError),
    /// A series breaks a label limit.
    #[error("line {line}: {source}")]
    LabelLimit {
        /// The body's line of the series' first sample.
        line: usize,
        /// The limit and the series.
        #[source]
        source: LabelLimitError,
    },
    /// Two samples of one series after relabeling.
    #[error("duplicate sample for series {0} after relabeling")]
    DuplicateAfterRelabeling(String),
    /// The remote-write body would exceed the agent's bound for one scrape.
    #[error(
        "remote-write body too large: over {max} bytes uncompressed (the agent's limit for \
         one scrape, the queue's largest record) after {samples} samples; set sample_limit \
         or body_size_limit for this job"
    )]
    BodyTooLarge {
        /// The bound in bytes.
        max: usize,
        /// Samples written when it was crossed.
        samples: usize,
    },
    /// More samples than `sample_limit` after metric relabeling.
    #[error("sample limit exceeded ({samples} > {limit}; limit sample_limit)")]
    SampleLimit {
        /// Samples after relabeling.
        samples: usize,
        /// `sample_limit`.
        limit: usize,
    },
}

/// Prometheus's `verifyLabelLimits` messages, which name the setting; names and
/// values are cut to 50 bytes (Prometheus's `%.50s`) before they get here.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabelLimitError {
    /// More labels than `label_limit`.
    #[error(
        "label_limit exceeded (metric: {metric}, number of labels: {labels}, limit: {limit}) \
         after target labels and metric relabeling"
    )]
    Count {
        /// The metric name.
        metric: String,
        /// The series' labels.
        labels: usize,
        /// `label_limit`.
        limit: usize,
    },
    /// A label name longer than `label_name_length_limit`.
    #[error(
        "label_name_length_limit exceeded (metric: {metric}, label name: {name}, \
         length: {length}, limit: {limit}) after target labels and metric relabeling"
    )]
    NameLength {
        /// The metric name.
        metric: String,
        /// The label name.
        name: String,
        /// Its length in bytes.
        length: usize,
        /// `label_name_length_limit`.
        limit: usize,
    },
    /// A label value longer than `label_value_length_limit`.
    #[error(
        "label_value_length_limit exceeded (metric: {metric}, label name: {name}, \
         value: {value:?}, length: {length}, limit: {limit}) after target labels and \
         metric relabeling"
    )]
    ValueLength {
        /// The metric name.
        metric: String,
        /// The label name.
        name: String,
        /// The value.
        value: String,
        /// Its length in bytes.
        length: usize,
        /// `label_value_length_limit`.
        limit: usize,
    },
}

/// A reqwest error with its chain of causes on one line, as Go prints a wrapped error;
/// a timeout reads as Prometheus's does.
fn describe(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    if e.is_timeout() {
        msg = format!("context deadline exceeded (scrape timeout): {msg}");
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The texts are what `last_error` showed when they were built with `format!`.
    #[test]
    fn texts_are_the_former_strings() {
        let cases: [(ScrapeError, &str); 5] = [
            (
                ScrapeError::BodySizeLimit(10),
                "body size limit exceeded (limit body_size_limit = 10 bytes)",
            ),
            (
                ScrapeError::SampleLimit {
                    samples: 3,
                    limit: 2,
                },
                "sample limit exceeded (3 > 2; limit sample_limit)",
            ),
            (
                ScrapeError::DuplicateAfterRelabeling("up{job=\"a\"}".into()),
                "duplicate sample for series up{job=\"a\"} after relabeling",
            ),
            (
                ScrapeError::BodyTooLarge {
                    max: 64,
                    samples: 5,
                },
                "remote-write body too large: over 64 bytes uncompressed (the agent's limit \
                 for one scrape, the queue's largest record) after 5 samples; set \
                 sample_limit or body_size_limit for this job",
            ),
            (
                ScrapeError::LabelLimit {
                    line: 3,
                    source: LabelLimitError::ValueLength {
                        metric: "m".into(),
                        name: "l".into(),
                        value: "v\"".into(),
                        length: 2,
                        limit: 1,
                    },
                },
                "line 3: label_value_length_limit exceeded (metric: m, label name: l, value: \
                 \"v\\\"\", length: 2, limit: 1) after target labels and metric relabeling",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
        }
        let e = LabelLimitError::Count {
            metric: "m".into(),
            labels: 4,
            limit: 3,
        };
        assert_eq!(
            e.to_string(),
            "label_limit exceeded (metric: m, number of labels: 4, limit: 3) after target \
             labels and metric relabeling"
        );
        let e = LabelLimitError::NameLength {
            metric: "m".into(),
            name: "long".into(),
            length: 4,
            limit: 3,
        };
        assert_eq!(
            e.to_string(),
            "label_name_length_limit exceeded (metric: m, label name: long, length: 4, \
             limit: 3) after target labels and metric relabeling"
        );
    }
}
