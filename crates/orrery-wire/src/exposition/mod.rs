//! Scrape-side parsing of the Prometheus text exposition format 0.0.4 (and its 1.0.0
//! variant with quoted UTF-8 names) and of OpenMetrics 1.0 text, into samples and
//! family metadata, plus the label-value escaping that writers of the format need.
//!
//! # Brief overview
//!
//! * [`SCRAPE_ACCEPT`] is the Accept header a scrape sends, and
//!   [`format_for_content_type`] picks the [`Format`] of the answer.
//! * [`parse_exposition`] parses one whole body into a [`ParsedScrape`], or refuses it
//!   whole with an [`ExpositionError`] saying what was wrong and on which line: an
//!   exposition is valid or it is not, nothing is half-ingested.
//! * [`Scanner`] gives the same samples one at a time with their series text, parsing
//!   a sample's labels only when asked, for callers that cache per series (the agent's
//!   scrape loop): a known series then costs no label parsing and no allocation.
//! * [`WordHasher`] and [`SeededWords`] are the keyed hasher the parser uses for its
//!   maps, for callers that key their own maps by series text.
//! * [`escape_label_value`] and [`write_label_value`] are the writer's side of the
//!   label-value escapes, for code that writes the text format (the server's `/metrics`
//!   and `/federate`).
//!
//! The parser is one line-oriented byte scanner with a strict (OpenMetrics) and a
//! tolerant (text) mode; it is pure, keeps no state between calls and never panics.
//! Apart from the output, it allocates a label scratch buffer, a map entry and 4 bytes
//! per sample for the duplicate check, and the metadata per family; the output is bounded by a small
//! constant factor of the body size (each label costs its two strings plus 48 bytes).
//!
//! # Semantics (the same as Prometheus 3's scraper unless noted)
//!
//! 1. The body must be UTF-8 as a whole, comments included (the error names the line).
//! 2. Text format: empty lines and blanks around tokens are allowed, `# HELP` and
//!    `# TYPE` lines give metadata (`untyped` means unknown), other comments are
//!    ignored, and a line feed after the last line is optional. Unlike Prometheus, a
//!    `\r` before the line feed is tolerated (Windows exporters).
//! 3. OpenMetrics: tokens are separated by exactly one space, the only comments are
//!    `# HELP`, `# TYPE`, `# UNIT` and `# EOF`, empty lines are errors, the body must
//!    end with `# EOF` (one optional line feed after it, nothing else), and a unit must
//!    be a `_`-separated suffix of the family name.
//! 4. Names: `[a-zA-Z_:][a-zA-Z0-9_:]*` metric names and `[a-zA-Z_][a-zA-Z0-9_]*` label
//!    names unquoted, or any UTF-8 quoted (`{"my.metric", "label.name"="v"}`, and
//!    `# TYPE "my.metric" counter`), as Prometheus 3 accepts in both formats.
//! 5. Escapes: label values (and quoted names) unescape `\\`, `\"` and `\n`; HELP text
//!    unescapes `\\` and `\n` (and `\"` in OpenMetrics). Any other backslash sequence
//!    is kept as written, as Prometheus does.
//! 6. Values follow Go's `strconv.ParseFloat` without hex floats and `_` (Prometheus
//!    refuses `p`, `P` and `_`): `1`, `-1.5e3`, `.5`, `+Inf`, `-inf`, `NaN`,
//!    `Infinity`, case-insensitive; a signed NaN and out-of-range numbers (`1e400`) are
//!    errors. Every NaN becomes Prometheus's canonical NaN (`0x7ff8000000000001`), so a
//!    scraped NaN is never mistaken for the stale marker.
//! 7. Timestamps: text gives integer milliseconds; OpenMetrics gives seconds, possibly
//!    fractional, converted to milliseconds by truncation toward zero. Plain decimals
//!    are converted exactly (`1520879607.789` is `1520879607789`, where Prometheus's
//!    `int64(f * 1000)` can be off by one); exponent forms go through `f64`.
//! 8. The `le` label of a histogram and the `quantile` label of a summary (type from
//!    the last `# TYPE` line) are rewritten in OpenMetrics canonical form (`1` becomes
//!    `1.0`, `1e6` stays `1e+06`), as Prometheus 3 does, so series identities match.
//! 9. OpenMetrics `_created` samples (`foo_created 1.6e9` of a counter, histogram or
//!    summary `foo`) are ordinary samples of a series named `foo_created`, as
//!    Prometheus 2.x and 3.x ingest them by default (only its
//!    `created-timestamp-zero-ingestion` feature flag drops them); they count against
//!    the sample limit like any sample. Exemplars (` # {..} value [ts]`) are checked
//!    and discarded; the text format has none and refuses them.
//! 10. A label with an empty value is absent. The same label name twice in one sample,
//!     no metric name, or the same series (labels and timestamp) twice in one body is
//!     an error for the whole scrape.
//! 11. Limits are checked on the labels as scraped (before any relabeling and without
//!     target labels) and count `__name__` as a label; `__name__`'s value is the metric
//!     name, so the value length limit applies to it. A body over the sample limit is
//!     still parsed to the end so the error reports the true count, and a syntax error
//!     later in the body takes precedence, as in Prometheus. Callers that want
//!     Prometheus's after-relabeling semantics pass zeros and check afterwards.

mod escape;
mod hash;
mod number;
mod parser;
#[cfg(test)]
mod tests;

pub use escape::{escape_label_value, write_label_value};
pub use hash::{SeededWords, WordHasher};

use crate::series::truncate;

/// The Accept header a scrape sends: Prometheus 3's default `scrape_protocols`
/// (OpenMetrics 1.0.0, OpenMetrics 0.0.1, text 1.0.0, text 0.0.4) with the same
/// q-values, UTF-8 names allowed (`escaping=allow-utf-8` on the 1.0.0 formats), then
/// anything.
pub const SCRAPE_ACCEPT: &str =
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,\
application/openmetrics-text;version=0.0.1;q=0.5,\
text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,\
text/plain;version=0.0.4;q=0.3,\
*/*;q=0.2";

/// A text exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format (`text/plain; version=0.0.4` or `1.0.0`).
    PrometheusText,
    /// OpenMetrics 1.0 text (`application/openmetrics-text`).
    OpenMetrics,
}

/// The format of a scrape answer with this Content-Type: `application/openmetrics-text`
/// (any version and parameters, media type compared case-insensitively) is
/// OpenMetrics; everything else, including a missing header, is the Prometheus text
/// format. Prometheus 2 fell back the same way; Prometheus 3 fails such scrapes unless
/// `fallback_scrape_protocol` is set, and the caller may do so before calling this.
pub fn format_for_content_type(ct: Option<&str>) -> Format {
    let media = ct.unwrap_or("").split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case("application/openmetrics-text") {
        Format::OpenMetrics
    } else {
        Format::PrometheusText
    }
}

/// One sample of a scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapedSample {
    /// The series, `__name__` included, sorted, without empty values.
    pub labels: orrery_model::Labels,
    /// The exposed timestamp in milliseconds, if the line had one.
    pub timestamp: Option<i64>,
    /// The value; NaN is always Prometheus's canonical NaN.
    pub value: f64,
}

/// What one exposition body contains.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedScrape {
    /// Samples in body order.
    pub samples: Vec<ScrapedSample>,
    /// One entry per family named by a HELP, TYPE or UNIT line, in order of first
    /// appearance; the family name is as written on those lines (`foo` for an
    /// OpenMetrics counter with samples `foo_total`, usually `foo_total` in text).
    pub metadata: Vec<orrery_model::MetricMetadata>,
}

/// Bounds on one scrape; 0 means no limit for each of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParseLimits {
    /// Most samples in the body.
    pub sample_limit: usize,
    /// Most labels in one sample, `__name__` included.
    pub label_limit: usize,
    /// Longest label name, in bytes.
    pub label_name_length_limit: usize,
    /// Longest label value (and metric name), in bytes.
    pub label_value_length_limit: usize,
}

/// Why a scrape body was refused. Messages start lowercase, say what and where (`line
/// N: ...`), and quote input in truncated form.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExpositionError {
    /// The body is malformed on this line.
    #[error("line {line}: {message}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The same series with the same timestamp appears twice.
    #[error("line {line}: duplicate sample for series {series}")]
    DuplicateSample {
        /// Line of the second occurrence.
        line: usize,
        /// The series, truncated.
        series: String,
    },
    /// More samples than `sample_limit`.
    #[error("sample limit exceeded ({got} > {limit})")]
    SampleLimit {
        /// Samples in the body.
        got: usize,
        /// `ParseLimits::sample_limit`.
        limit: usize,
    },
    /// A sample with more labels than `label_limit`.
    #[error("line {line}: label limit exceeded ({got} > {limit}) for series {series}")]
    LabelLimit {
        /// 1-based line number.
        line: usize,
        /// Labels of the sample, `__name__` included.
        got: usize,
        /// `ParseLimits::label_limit`.
        limit: usize,
        /// The series, truncated.
        series: String,
    },
    /// A label name longer than `label_name_length_limit`.
    #[error(
        "line {line}: label name length limit exceeded ({got} > {limit}) for label {name:?} \
         of series {series}"
    )]
    LabelNameLength {
        /// 1-based line number.
        line: usize,
        /// Length of the name in bytes.
        got: usize,
        /// `ParseLimits::label_name_length_limit`.
        limit: usize,
        /// The label name, truncated.
        name: String,
        /// The series, truncated.
        series: String,
    },
    /// A label value longer than `label_value_length_limit`.
    #[error(
        "line {line}: label value length limit exceeded ({got} > {limit}) for label {name:?} \
         of series {series}"
    )]
    LabelValueLength {
        /// 1-based line number.
        line: usize,
        /// Length of the value in bytes.
        got: usize,
        /// `ParseLimits::label_value_length_limit`.
        limit: usize,
        /// The label name, truncated.
        name: String,
        /// The series, truncated.
        series: String,
    },
    /// An OpenMetrics body that does not end with `# EOF`.
    #[error("line {line}: missing \"# EOF\" at the end of the OpenMetrics body")]
    MissingEof {
        /// The line after the last one.
        line: usize,
    },
}

impl ExpositionError {
    /// The 1-based line the error is about; `None` for the sample limit, which is
    /// about the whole body.
    pub fn line(&self) -> Option<usize> {
        match self {
            ExpositionError::Syntax { line, .. }
            | ExpositionError::DuplicateSample { line, .. }
            | ExpositionError::LabelLimit { line, .. }
            | ExpositionError::LabelNameLength { line, .. }
            | ExpositionError::LabelValueLength { line, .. }
            | ExpositionError::MissingEof { line } => Some(*line),
            ExpositionError::SampleLimit { .. } => None,
        }
    }
}

/// Parses one scrape body in `format` with `limits`; see the module docs for the exact
/// rules. The body is refused whole on the first problem.
pub fn parse_exposition(
    body: &[u8],
    format: Format,
    limits: &ParseLimits,
) -> Result<ParsedScrape, ExpositionError> {
    parser::Parser::new(utf8(body)?, format == Format::OpenMetrics, limits).run()
}

fn utf8(body: &[u8]) -> Result<&str, ExpositionError> {
    match simdutf8::basic::from_utf8(body) {
        Ok(s) => Ok(s),
        Err(_) => {
            let valid = std::str::from_utf8(body).map_or_else(|e| e.valid_up_to(), |s| s.len());
            let line = 1 + body[..valid].iter().filter(|&&b| b == b'\n').count();
            Err(ExpositionError::Syntax {
                line,
                message: "invalid UTF-8".into(),
            })
        }
    }
}

/// A sample as [`Scanner`] yields it: its series as written, before any label is
/// parsed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawSample<'a> {
    /// The metric name and label set exactly as they appear in the line (blanks
    /// between them included), e.g. `node_cpu_seconds_total{cpu="0",mode="idle"}`.
    pub series: &'a str,
    /// What else decides the labels of `series`: the format, and whether the last TYPE
    /// line makes `le` or `quantile` values normalized. Equal `series` and `context`
    /// (under equal [`ParseLimits`]) always give equal labels and validity.
    pub context: u8,
    /// The value; NaN is always Prometheus's canonical NaN.
    pub value: f64,
    /// The exposed timestamp in milliseconds, if the line had one.
    pub timestamp: Option<i64>,
}

/// Parses a body sample by sample without parsing the labels of a sample unless asked,
/// for callers that cache per series: a scrape of known series then costs no label
/// parsing and no allocation.
///
/// The rules are [`parse_exposition`]'s, with two differences the caller takes over:
/// a sample's labels are validated (label syntax, duplicate or missing names, limits)
/// only by [`Scanner::labels`], which the caller must call for every series it has not
/// already validated under the same [`RawSample::context`] and limits; and duplicate
/// series are not detected (a caller keyed by series finds them itself, and can build
/// the same error with [`Scanner::duplicate_error`]). Everything else, including line
/// numbers, error precedence within a line and the sample limit, is the same.
pub struct Scanner<'a> {
    p: parser::Parser<'a>,
    /// The current sample line.
    line: &'a str,
}

impl<'a> Scanner<'a> {
    /// A scanner over `body`; fails only if the body is not UTF-8.
    pub fn new(
        body: &'a [u8],
        format: Format,
        limits: &'a ParseLimits,
    ) -> Result<Self, ExpositionError> {
        Ok(Scanner {
            p: parser::Parser::new(utf8(body)?, format == Format::OpenMetrics, limits),
            line: "",
        })
    }

    /// The next sample, `None` at the end of a valid body (then call
    /// [`Scanner::finish`]).
    pub fn next_sample(&mut self) -> Result<Option<RawSample<'a>>, ExpositionError> {
        let Some(line) = self.p.next_sample_line()? else {
            return Ok(None);
        };
        self.line = line;
        let end = match self.p.scan_series(line) {
            Some(end) => end,
            None => self.p.series(line)?.1,
        };
        let (value, timestamp) = match self.p.suffix(line, end) {
            Ok(v) => v,
            Err(e) => {
                // The full parse reads the series first, so its error wins.
                self.p.series(line)?;
                return Err(e);
            }
        };
        self.p.count();
        Ok(Some(RawSample {
            series: &line[..end.end],
            context: self.p.series_context(),
            value,
            timestamp,
        }))
    }

    /// The labels of the current sample: `__name__` included, sorted, without empty
    /// values, validated against the limits.
    pub fn labels(&mut self) -> Result<orrery_model::Labels, ExpositionError> {
        let (name, _) = self.p.series(self.line)?;
        self.p.prepare(name)?;
        Ok(self.p.scratch_labels())
    }

    /// [`parse_exposition`]'s error for the current sample being a duplicate.
    pub fn duplicate_error(&mut self) -> ExpositionError {
        match self.p.series(self.line) {
            Ok((name, _)) => match self.p.prepare(name) {
                Ok(()) => self.p.duplicate(),
                Err(e) => e,
            },
            Err(e) => e,
        }
    }

    /// The 1-based line of the current sample.
    pub fn line(&self) -> usize {
        self.p.line_number()
    }

    /// Checks the sample limit and returns the metadata, as [`ParsedScrape::metadata`].
    pub fn finish(mut self) -> Result<Vec<orrery_model::MetricMetadata>, ExpositionError> {
        self.p.check_sample_limit()?;
        Ok(self.p.take_metadata())
    }
}

/// Quotes `s` for an error message, truncated.
fn quote(s: &str) -> String {
    format!("{:?}", truncate(s))
}
