//! The line scanner behind [`super::parse_exposition`]: one pass over the body, one
//! line at a time, with an OpenMetrics (strict) and a text (tolerant) mode.
//!
//! Strings borrow from the body until a sample is accepted; only then are its labels
//! copied into a [`Labels`]. Duplicate series are found through a map from a keyed
//! 64-bit hash of the labels and timestamp to the last sample with that hash, plus a
//! per-sample link to the previous one with the same hash; a match is confirmed by
//! comparing labels, so a collision can never cause a false error, and the random key
//! keeps a target from crafting collisions to make the check quadratic.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use orrery_model::{Label, Labels, MetricMetadata, MetricType, METRIC_NAME};

use super::hash::{SeededWords, WordHasher};
use super::number::{format_om_float, parse_om_timestamp, parse_text_timestamp, parse_value};
use super::{quote, ExpositionError, ParseLimits, ParsedScrape, ScrapedSample};
use crate::series::truncate;

type Result<T> = std::result::Result<T, ExpositionError>;

/// End of a `same_hash` chain.
const NONE: u32 = u32::MAX;

/// A label as scanned: borrowed from the body unless unescaping or normalizing
/// changed it.
type Pair<'a> = (Cow<'a, str>, Cow<'a, str>);

/// One parse of one body.
pub(crate) struct Parser<'a> {
    src: &'a str,
    om: bool,
    limits: &'a ParseLimits,
    out: ParsedScrape,
    /// Line being parsed, 1-based.
    line: usize,
    /// Family index in `out.metadata` by name (looked up on every HELP and TYPE line).
    families: HashMap<Cow<'a, str>, usize, SeededWords>,
    /// Type of the last `# TYPE` line (decides `le`/`quantile` normalization).
    type_kind: MetricType,
    /// Labels of the sample being parsed (the metric name included once known).
    scratch: Vec<Pair<'a>>,
    /// Per stored sample, the previous stored sample with the same hash, or `NONE`.
    same_hash: Vec<u32>,
    /// Last stored sample with a given hash.
    seen: HashMap<u64, u32, BuildHasherDefault<IdentityHasher>>,
    /// Per-parse random key of the series hash, so a target cannot craft collisions.
    seed: u64,
    /// Recent `le`/`quantile` values and their canonical form (`None`: already
    /// canonical or not a number); they repeat on every bucket line.
    canonical: Vec<(&'a str, Option<String>)>,
    /// Samples counted against the limit (stored or not).
    counted: usize,
    /// Where the next line starts.
    pos: usize,
    /// The end was reached (or `# EOF` in OpenMetrics).
    done: bool,
}

/// Where a sample's series (metric name and label set) ends in its line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SeriesEnd {
    /// Index just after the series: after the `}`, or after the name without labels.
    pub end: usize,
    /// Whether there was a label set.
    pub braces: bool,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(src: &'a str, om: bool, limits: &'a ParseLimits) -> Self {
        Parser {
            src,
            om,
            limits,
            out: ParsedScrape::default(),
            line: 0,
            families: HashMap::with_hasher(SeededWords::random()),
            type_kind: MetricType::Unknown,
            scratch: Vec::with_capacity(16),
            same_hash: Vec::new(),
            seen: HashMap::default(),
            seed: SeededWords::random().seed(),
            canonical: Vec::new(),
            counted: 0,
            pos: 0,
            done: false,
        }
    }

    pub(crate) fn run(mut self) -> Result<ParsedScrape> {
        while let Some(line) = self.next_sample_line()? {
            self.sample(line)?;
        }
        self.finish()
    }

    /// Consumes comment, metadata and empty lines up to the next sample line and
    /// returns it (without leading blanks in text mode); `None` at the end of a valid
    /// body.
    pub(crate) fn next_sample_line(&mut self) -> Result<Option<&'a str>> {
        let src = self.src;
        let bytes = src.as_bytes();
        while !self.done && self.pos < bytes.len() {
            self.line += 1;
            let start = self.pos;
            // `str::find` with an ASCII char is a memchr, word at a time.
            let end = src[start..].find('\n').map_or(bytes.len(), |p| start + p);
            // Cut at ASCII bytes only, so always on char boundaries.
            let line = &src[start..end];
            self.pos = end + 1;
            let sample = if self.om {
                if line == "# EOF" {
                    if self.pos < bytes.len() {
                        self.line += 1;
                        return Err(self.syntax("unexpected content after \"# EOF\"".into()));
                    }
                    self.done = true;
                    return Ok(None);
                }
                self.om_line(line)?
            } else {
                self.text_line(line)?
            };
            if sample.is_some() {
                return Ok(sample);
            }
        }
        if self.om && !self.done {
            return Err(ExpositionError::MissingEof {
                line: self.line + 1,
            });
        }
        self.done = true;
        Ok(None)
    }

    fn finish(self) -> Result<ParsedScrape> {
        self.check_sample_limit()?;
        Ok(self.out)
    }

    pub(crate) fn check_sample_limit(&self) -> Result<()> {
        let limit = self.limits.sample_limit;
        if limit > 0 && self.counted > limit {
            return Err(ExpositionError::SampleLimit {
                got: self.counted,
                limit,
            });
        }
        Ok(())
    }

    /// The metadata found so far, taken out.
    pub(crate) fn take_metadata(&mut self) -> Vec<MetricMetadata> {
        std::mem::take(&mut self.out.metadata)
    }

    /// Counts one sample against the sample limit.
    pub(crate) fn count(&mut self) {
        self.counted += 1;
    }

    pub(crate) fn line_number(&self) -> usize {
        self.line
    }

    /// What, besides its text, decides how a series is read: the format, and whether
    /// `le` or `quantile` values are normalized (from the last TYPE line).
    pub(crate) fn series_context(&self) -> u8 {
        let normalize = match self.type_kind {
            MetricType::Histogram => 1,
            MetricType::Summary => 2,
            _ => 0,
        };
        u8::from(self.om) | (normalize << 1)
    }

    fn syntax(&self, message: String) -> ExpositionError {
        ExpositionError::Syntax {
            line: self.line,
            message,
        }
    }

    fn text_line(&mut self, line: &'a str) -> Result<Option<&'a str>> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let line = line.trim_start_matches([' ', '\t']);
        if line.is_empty() {
            return Ok(None);
        }
        if let Some(rest) = line.strip_prefix('#') {
            self.text_comment(rest)?;
            return Ok(None);
        }
        Ok(Some(line))
    }

    fn om_line(&mut self, line: &'a str) -> Result<Option<&'a str>> {
        if line.is_empty() {
            return Err(self.syntax("empty line (not allowed in OpenMetrics)".into()));
        }
        if line.ends_with('\r') {
            return Err(
                self.syntax("carriage return before line feed (not allowed in OpenMetrics)".into())
            );
        }
        if line.starts_with('#') {
            self.om_comment(line)?;
            return Ok(None);
        }
        Ok(Some(line))
    }

    /// A text-format comment, after the `#`: HELP and TYPE give metadata, anything
    /// else is ignored.
    fn text_comment(&mut self, rest: &'a str) -> Result<()> {
        let rest = rest.trim_start_matches([' ', '\t']);
        let (kind, after) = if let Some(a) = rest.strip_prefix("HELP") {
            (Meta::Help, a)
        } else if let Some(a) = rest.strip_prefix("TYPE") {
            (Meta::Type, a)
        } else {
            return Ok(());
        };
        if !after.starts_with([' ', '\t']) {
            // `# HELPER ...` or a bare `# HELP`: an ordinary comment.
            return Ok(());
        }
        let after = after.trim_start_matches([' ', '\t']);
        let (name, n) = self.meta_name(after, kind)?;
        let text = &after[n..];
        let text = match kind {
            Meta::Help => {
                // One blank separates the name from the text; the rest is text.
                if text.starts_with([' ', '\t']) {
                    &text[1..]
                } else if text.is_empty() {
                    text
                } else {
                    return Err(self.syntax(format!(
                        "invalid character {} after the metric name in HELP",
                        quote(&text[..text.chars().next().map_or(0, char::len_utf8)])
                    )));
                }
            }
            _ => text.trim_matches([' ', '\t']),
        };
        self.meta(kind, name, text)
    }

    /// An OpenMetrics comment line: `# HELP`, `# TYPE` or `# UNIT` (`# EOF` is handled
    /// by the caller); anything else is an error.
    fn om_comment(&mut self, line: &'a str) -> Result<()> {
        let (kind, after) = if let Some(a) = line.strip_prefix("# HELP ") {
            (Meta::Help, a)
        } else if let Some(a) = line.strip_prefix("# TYPE ") {
            (Meta::Type, a)
        } else if let Some(a) = line.strip_prefix("# UNIT ") {
            (Meta::Unit, a)
        } else {
            return Err(self.syntax(format!(
                "invalid comment {}; OpenMetrics allows only \"# HELP\", \"# TYPE\", \
                 \"# UNIT\" and \"# EOF\"",
                quote(line)
            )));
        };
        let (name, n) = self.meta_name(after, kind)?;
        let text = &after[n..];
        let text = if let Some(t) = text.strip_prefix(' ') {
            t
        } else if text.is_empty() && kind != Meta::Type {
            text
        } else {
            return Err(self.syntax(format!(
                "expected a space and the {} after the metric name, got {}",
                kind.what(),
                quote(text)
            )));
        };
        self.meta(kind, name, text)
    }

    /// The metric name of a HELP/TYPE/UNIT line, bare or quoted, and its length.
    fn meta_name(&self, s: &'a str, kind: Meta) -> Result<(Cow<'a, str>, usize)> {
        let b = s.as_bytes();
        match b.first() {
            Some(b'"') => {
                let (name, end) = self.quoted(s, 0, "metric name")?;
                Ok((name, end))
            }
            Some(&c) if is_metric_start(c) => {
                let end = scan_metric_name(b, 0);
                Ok((Cow::Borrowed(&s[..end]), end))
            }
            _ => Err(self.syntax(format!(
                "expected metric name after {}, got {}",
                kind.keyword(),
                quote(s)
            ))),
        }
    }

    fn meta(&mut self, kind: Meta, name: Cow<'a, str>, text: &'a str) -> Result<()> {
        let mut parsed_type = MetricType::Unknown;
        match kind {
            Meta::Type => {
                parsed_type = match (text, self.om) {
                    ("counter", _) => MetricType::Counter,
                    ("gauge", _) => MetricType::Gauge,
                    ("histogram", _) => MetricType::Histogram,
                    ("summary", _) => MetricType::Summary,
                    ("untyped", false) | ("unknown", true) => MetricType::Unknown,
                    ("gaugehistogram", true) => MetricType::GaugeHistogram,
                    ("info", true) => MetricType::Info,
                    ("stateset", true) => MetricType::StateSet,
                    _ => {
                        return Err(self.syntax(format!("invalid metric type {}", quote(text))));
                    }
                };
            }
            Meta::Unit => {
                let ok = text.is_empty()
                    || name
                        .strip_suffix(text)
                        .is_some_and(|head| head.ends_with('_'));
                if !ok {
                    return Err(self.syntax(format!(
                        "unit {} is not a suffix of metric {}",
                        quote(text),
                        quote(&name)
                    )));
                }
            }
            Meta::Help => {}
        }
        let idx = match self.families.get(&name) {
            Some(&i) => i,
            None => {
                self.out.metadata.push(MetricMetadata {
                    metric_family: name.to_string(),
                    kind: MetricType::Unknown,
                    help: String::new(),
                    unit: String::new(),
                });
                self.families
                    .insert(name.clone(), self.out.metadata.len() - 1);
                self.out.metadata.len() - 1
            }
        };
        let md = &mut self.out.metadata[idx];
        match kind {
            Meta::Help => md.help = unescape_help(text, self.om).into_owned(),
            Meta::Unit => md.unit = text.to_owned(),
            Meta::Type => {
                md.kind = parsed_type;
                self.type_kind = parsed_type;
            }
        }
        Ok(())
    }

    /// One sample line (leading blanks already removed in text mode).
    fn sample(&mut self, line: &'a str) -> Result<()> {
        let (name, at) = self.series(line)?;
        let (value, timestamp) = self.suffix(line, at)?;
        self.add(name, timestamp, value)
    }

    /// Parses the metric name and label set at the start of a sample line: the labels
    /// go to `scratch`, the name is returned with where the series ends.
    pub(crate) fn series(&mut self, line: &'a str) -> Result<(Cow<'a, str>, SeriesEnd)> {
        let b = line.as_bytes();
        self.scratch.clear();
        let mut name: Option<Cow<'a, str>> = None;
        let mut i = 0;
        if is_metric_start(b[0]) {
            i = scan_metric_name(b, 0);
            name = Some(Cow::Borrowed(&line[..i]));
        } else if b[0] != b'{' {
            return Err(self.syntax(format!(
                "expected a metric name or \"{{\" at the start of a sample, got {}",
                quote(line)
            )));
        }
        let mut braces = false;
        let j = if self.om { i } else { skip_blanks(b, i) };
        if b.get(j) == Some(&b'{') {
            i = self.labels(line, j + 1, &mut name, false)?;
            braces = true;
        }
        match name {
            Some(n) => Ok((n, SeriesEnd { end: i, braces })),
            None => Err(self.syntax(format!("metric name missing in {}", quote(line)))),
        }
    }

    /// Where the series of a sample line ends, found without parsing it: the end of
    /// the name, or the first `}` outside quotes. It agrees with [`Parser::series`] on
    /// every line that parses; `None` means the line needs the full parse.
    pub(crate) fn scan_series(&self, line: &str) -> Option<SeriesEnd> {
        let b = line.as_bytes();
        let i = match b.first()? {
            &c if is_metric_start(c) => scan_metric_name(b, 0),
            b'{' => 0,
            _ => return None,
        };
        let j = if self.om { i } else { skip_blanks(b, i) };
        if b.get(j) != Some(&b'{') {
            return (i > 0).then_some(SeriesEnd {
                end: i,
                braces: false,
            });
        }
        let mut k = j + 1;
        loop {
            match *b.get(k)? {
                b'}' => {
                    return Some(SeriesEnd {
                        end: k + 1,
                        braces: true,
                    })
                }
                b'"' => {
                    k += 1;
                    loop {
                        match *b.get(k)? {
                            b'"' => break,
                            b'\\' => k += 2,
                            _ => k += 1,
                        }
                    }
                    k += 1;
                }
                _ => k += 1,
            }
        }
    }

    /// The value and timestamp after the series (which ends at `at`), and in
    /// OpenMetrics the exemplar, checked.
    pub(crate) fn suffix(&mut self, line: &'a str, at: SeriesEnd) -> Result<(f64, Option<i64>)> {
        let b = line.as_bytes();
        let i = at.end;
        let j = if self.om { i } else { skip_blanks(b, i) };
        // Value: after exactly one space in OpenMetrics; after blanks, or right after
        // the `}`, in text.
        let (value_tok, rest) = if self.om {
            match b.get(i) {
                Some(b' ') => token(line, i + 1),
                None => return Err(self.expected_value(line)),
                Some(_) => return Err(self.bad_name_char(line, i)),
            }
        } else if j == b.len() {
            return Err(self.expected_value(line));
        } else if j == i && !at.braces {
            return Err(self.bad_name_char(line, i));
        } else {
            token(line, j)
        };
        if value_tok.is_empty() {
            return Err(self.expected_value(line));
        }
        let Some(value) = parse_value(value_tok) else {
            return Err(self.syntax(format!("invalid float {}", quote(value_tok))));
        };

        // Timestamp, and in OpenMetrics an exemplar.
        let timestamp = if self.om {
            self.om_suffix(line, rest)?
        } else {
            self.text_suffix(line, rest)?
        };
        Ok((value, timestamp))
    }

    fn expected_value(&self, line: &str) -> ExpositionError {
        self.syntax(format!("expected value after metric in {}", quote(line)))
    }

    fn bad_name_char(&self, line: &str, i: usize) -> ExpositionError {
        let c = line[i..].chars().next().unwrap_or(' ');
        self.syntax(format!(
            "invalid character {} in metric name or after it in {}",
            quote(c.encode_utf8(&mut [0; 4])),
            quote(line)
        ))
    }

    /// After the value in text mode: blanks, an optional integer timestamp, blanks.
    fn text_suffix(&self, line: &'a str, at: usize) -> Result<Option<i64>> {
        let b = line.as_bytes();
        let i = skip_blanks(b, at);
        if i == b.len() {
            return Ok(None);
        }
        let (tok, after) = token(line, i);
        if tok.starts_with('#') {
            return Err(self.syntax(
                "exemplars are only allowed in OpenMetrics, not in the text format".into(),
            ));
        }
        let Some(ts) = parse_text_timestamp(tok) else {
            return Err(self.syntax(format!("invalid timestamp {}", quote(tok))));
        };
        if skip_blanks(b, after) != b.len() {
            return Err(self.syntax(format!(
                "unexpected text after timestamp: {}",
                quote(&line[after..])
            )));
        }
        Ok(Some(ts))
    }

    /// After the value in OpenMetrics: `[ SP timestamp ] [ SP # SP labels SP value
    /// [ SP timestamp ] ]`, the exemplar checked and discarded.
    fn om_suffix(&mut self, line: &'a str, at: usize) -> Result<Option<i64>> {
        let b = line.as_bytes();
        if at == b.len() {
            return Ok(None);
        }
        // `token` stopped at a space.
        let mut i = at + 1;
        let mut ts = None;
        if b.get(i) != Some(&b'#') {
            let (tok, after) = token(line, i);
            if tok.is_empty() {
                return Err(self.syntax(format!(
                    "expected timestamp after value, got {}",
                    quote(&line[at..])
                )));
            }
            let Some(t) = parse_om_timestamp(tok) else {
                return Err(self.syntax(format!("invalid timestamp {}", quote(tok))));
            };
            ts = Some(t);
            if after == b.len() {
                return Ok(ts);
            }
            i = after + 1;
        }
        if !line[i..].starts_with("# {") {
            return Err(self.syntax(format!(
                "expected end of line or exemplar (\" # {{...}} value\"), got {}",
                quote(&line[i - 1..])
            )));
        }
        let mut none = None;
        let i = self.labels(line, i + 3, &mut none, true)?;
        let (tok, after) = match b.get(i) {
            Some(b' ') => token(line, i + 1),
            _ => ("", i),
        };
        if tok.is_empty() {
            return Err(self.syntax(format!(
                "expected value after exemplar labels in {}",
                quote(line)
            )));
        }
        if parse_value(tok).is_none() {
            return Err(self.syntax(format!("invalid exemplar value {}", quote(tok))));
        }
        if after == b.len() {
            return Ok(ts);
        }
        let (tok, after) = token(line, after + 1);
        if parse_om_timestamp(tok).is_none() {
            return Err(self.syntax(format!("invalid exemplar timestamp {}", quote(tok))));
        }
        if after != b.len() {
            return Err(self.syntax(format!(
                "unexpected text after exemplar timestamp: {}",
                quote(&line[after..])
            )));
        }
        Ok(ts)
    }

    /// Parses a label set from just after `{` and returns the index after `}`.
    /// Labels go to `scratch` (not for exemplars); a quoted string standing alone is
    /// the metric name.
    fn labels(
        &mut self,
        line: &'a str,
        mut i: usize,
        name: &mut Option<Cow<'a, str>>,
        exemplar: bool,
    ) -> Result<usize> {
        let b = line.as_bytes();
        let om = self.om;
        let blanks = |i: usize| if om { i } else { skip_blanks(b, i) };
        loop {
            i = blanks(i);
            let Some(&c) = b.get(i) else {
                return Err(self.syntax(format!(
                    "unterminated label set (missing \"}}\") in {}",
                    quote(line)
                )));
            };
            if c == b'}' {
                return Ok(i + 1);
            }
            let lname: Cow<'a, str>;
            if c == b'"' {
                let (q, end) = self.quoted(line, i, "label name")?;
                i = blanks(end);
                if !exemplar && matches!(b.get(i), Some(b',' | b'}')) {
                    if name.is_some() {
                        return Err(
                            self.syntax(format!("metric name given twice in {}", quote(line)))
                        );
                    }
                    *name = Some(q);
                    if b[i] == b',' {
                        i += 1;
                    }
                    continue;
                }
                lname = q;
            } else if is_label_start(c) {
                let end = scan_label_name(b, i);
                lname = Cow::Borrowed(&line[i..end]);
                i = blanks(end);
            } else {
                return Err(self.syntax(format!("expected label name, got {}", quote(&line[i..]))));
            }
            if b.get(i) != Some(&b'=') {
                return Err(
                    self.syntax(format!("expected \"=\" after label name {}", quote(&lname)))
                );
            }
            i = blanks(i + 1);
            if b.get(i) != Some(&b'"') {
                return Err(self.syntax(format!(
                    "expected quoted label value after {}=",
                    quote(&lname)
                )));
            }
            let (value, end) = self.quoted(line, i, "label value")?;
            if !exemplar {
                self.scratch.push((lname, value));
            }
            i = blanks(end);
            match b.get(i) {
                Some(b',') => i += 1,
                Some(b'}') => {}
                // Prometheus's text parser accepts labels without commas between.
                Some(_) if !om => {}
                _ => {
                    return Err(self.syntax(format!(
                        "expected \",\" or \"}}\" after label value in {}",
                        quote(line)
                    )))
                }
            }
        }
    }

    /// A double-quoted string starting at `b[i] == '"'`, unescaped, and the index
    /// after its closing quote.
    fn quoted(&self, s: &'a str, i: usize, what: &str) -> Result<(Cow<'a, str>, usize)> {
        let b = s.as_bytes();
        let start = i + 1;
        let mut j = start;
        let mut escaped = false;
        loop {
            match b.get(j) {
                None => {
                    return Err(self.syntax(format!("unterminated quoted {what} in {}", quote(s))));
                }
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    if j + 1 >= b.len() {
                        return Err(
                            self.syntax(format!("unterminated quoted {what} in {}", quote(s)))
                        );
                    }
                    j += 2;
                }
                Some(_) => j += 1,
            }
        }
        let raw = &s[start..j];
        let v = if escaped {
            Cow::Owned(unescape(raw, true))
        } else {
            Cow::Borrowed(raw)
        };
        Ok((v, j + 1))
    }

    /// Validates the labels in `scratch` plus the name, checks limits and duplicates,
    /// and stores the sample.
    fn add(&mut self, name: Cow<'a, str>, timestamp: Option<i64>, value: f64) -> Result<()> {
        self.prepare(name)?;
        self.counted += 1;
        let limit = self.limits.sample_limit;
        if limit > 0 && self.counted > limit {
            // Keep parsing to count and validate the rest, store nothing more.
            return Ok(());
        }
        self.store(timestamp, value)
    }

    /// Completes the labels in `scratch` with the name: normalizes `le`/`quantile`,
    /// sorts, drops empty values and checks names and limits.
    pub(crate) fn prepare(&mut self, name: Cow<'a, str>) -> Result<()> {
        let normalize = match self.type_kind {
            MetricType::Histogram => Some("le"),
            MetricType::Summary => Some("quantile"),
            _ => None,
        };
        if let Some(key) = normalize {
            for (n, v) in &mut self.scratch {
                if n.as_ref() == key {
                    if let Cow::Borrowed(raw) = v {
                        if let Some(c) = canonical(&mut self.canonical, raw) {
                            *v = Cow::Owned(c);
                        }
                    } else if let Some(f) = parse_value(v) {
                        *v = Cow::Owned(format_om_float(f));
                    }
                }
            }
        }
        self.scratch.push((Cow::Borrowed(METRIC_NAME), name));
        self.scratch.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if let Some(w) = self.scratch.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(self.syntax(format!("duplicate label name {}", quote(&w[0].0))));
        }
        self.scratch.retain(|(_, v)| !v.is_empty());
        if !self.scratch.iter().any(|(n, _)| n == METRIC_NAME) {
            return Err(self.syntax("metric name missing (empty)".into()));
        }
        self.check_label_limits()?;
        Ok(())
    }

    /// The prepared labels in `scratch` as owned labels.
    pub(crate) fn scratch_labels(&self) -> Labels {
        Labels::from_sorted_unchecked(
            self.scratch
                .iter()
                .map(|(n, v)| Label {
                    name: n.to_string(),
                    value: v.to_string(),
                })
                .collect(),
        )
    }

    /// The error for a sample whose prepared labels in `scratch` were already seen.
    pub(crate) fn duplicate(&self) -> ExpositionError {
        ExpositionError::DuplicateSample {
            line: self.line,
            series: self.series_text(),
        }
    }

    /// Stores the sample in `scratch` unless it is a duplicate.
    fn store(&mut self, timestamp: Option<i64>, value: f64) -> Result<()> {
        let h = hash_series(self.seed, &self.scratch, timestamp);
        let idx = self.out.samples.len();
        let head = match self.seen.entry(h) {
            Entry::Occupied(mut e) => {
                // Walk the samples with this hash; almost always one, which is then
                // the duplicate.
                let mut k = *e.get();
                while k != NONE {
                    let s = &self.out.samples[k as usize];
                    if s.timestamp == timestamp && same(&s.labels, &self.scratch) {
                        return Err(self.duplicate());
                    }
                    k = self.same_hash[k as usize];
                }
                std::mem::replace(e.get_mut(), idx as u32)
            }
            Entry::Vacant(e) => {
                e.insert(idx as u32);
                NONE
            }
        };
        self.same_hash.push(head);
        let labels: Vec<Label> = self
            .scratch
            .drain(..)
            .map(|(n, v)| Label {
                name: n.into_owned(),
                value: v.into_owned(),
            })
            .collect();
        self.out.samples.push(ScrapedSample {
            labels: Labels::from_sorted_unchecked(labels),
            timestamp,
            value,
        });
        Ok(())
    }

    fn check_label_limits(&self) -> Result<()> {
        let l = self.limits;
        if l.label_limit > 0 && self.scratch.len() > l.label_limit {
            return Err(ExpositionError::LabelLimit {
                line: self.line,
                got: self.scratch.len(),
                limit: l.label_limit,
                series: self.series_text(),
            });
        }
        for (n, v) in &self.scratch {
            if l.label_name_length_limit > 0 && n.len() > l.label_name_length_limit {
                return Err(ExpositionError::LabelNameLength {
                    line: self.line,
                    got: n.len(),
                    limit: l.label_name_length_limit,
                    name: truncate(n),
                    series: self.series_text(),
                });
            }
            if l.label_value_length_limit > 0 && v.len() > l.label_value_length_limit {
                return Err(ExpositionError::LabelValueLength {
                    line: self.line,
                    got: v.len(),
                    limit: l.label_value_length_limit,
                    name: truncate(n),
                    series: self.series_text(),
                });
            }
        }
        Ok(())
    }

    /// The sample in `scratch` in Prometheus's `name{a="1", b="2"}` form, truncated.
    fn series_text(&self) -> String {
        let mut s = String::new();
        let name = self
            .scratch
            .iter()
            .find(|(n, _)| n == METRIC_NAME)
            .map_or("", |(_, v)| v);
        s.push_str(&truncate(name));
        s.push('{');
        let mut first = true;
        for (n, v) in self.scratch.iter().filter(|(n, _)| n != METRIC_NAME) {
            if !first {
                s.push_str(", ");
            }
            first = false;
            s.push_str(&truncate(n));
            s.push('=');
            s.push_str(&quote(v));
        }
        s.push('}');
        truncate_long(s)
    }
}

/// The canonical form of an `le`/`quantile` value if it differs from `raw`, through a
/// small cache of recent values.
fn canonical<'a>(cache: &mut Vec<(&'a str, Option<String>)>, raw: &'a str) -> Option<String> {
    const CACHE: usize = 32;
    if let Some((_, c)) = cache.iter().find(|(r, _)| *r == raw) {
        return c.clone();
    }
    let c = parse_value(raw).map(format_om_float).filter(|c| c != raw);
    if cache.len() == CACHE {
        cache.remove(0);
    }
    cache.push((raw, c.clone()));
    c
}

/// Caps a composed message part at 1 KiB.
fn truncate_long(mut s: String) -> String {
    const MAX: usize = 1024;
    if s.len() > MAX {
        let mut end = MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meta {
    Help,
    Type,
    Unit,
}

impl Meta {
    fn keyword(self) -> &'static str {
        match self {
            Meta::Help => "HELP",
            Meta::Type => "TYPE",
            Meta::Unit => "UNIT",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Meta::Help => "help text",
            Meta::Type => "type",
            Meta::Unit => "unit",
        }
    }
}

fn is_metric_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

fn is_label_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn scan_metric_name(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':') {
        i += 1;
    }
    i
}

fn scan_label_name(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
        i += 1;
    }
    i
}

fn skip_blanks(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    i
}

/// The token starting at `i` up to the next space or tab (or the end), and the index
/// where it stops.
fn token(s: &str, i: usize) -> (&str, usize) {
    let b = s.as_bytes();
    let mut j = i;
    while j < b.len() && b[j] != b' ' && b[j] != b'\t' {
        j += 1;
    }
    (&s[i..j], j)
}

/// Unescapes `\\`, `\n` and (if `quote`) `\"`; other backslash sequences stay as
/// written.
fn unescape(raw: &str, quote: bool) -> String {
    let b = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut seg = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            let rep = match b[i + 1] {
                b'\\' => Some('\\'),
                b'n' => Some('\n'),
                b'"' if quote => Some('"'),
                _ => None,
            };
            if let Some(c) = rep {
                out.push_str(&raw[seg..i]);
                out.push(c);
                i += 2;
                seg = i;
                continue;
            }
            // Skip the escaped byte too, so `\\\"`-like runs pair up correctly; it is
            // ASCII or the start of a character, and it is copied with the segment.
            i += 1;
            if b[i] < 0x80 {
                i += 1;
            }
            continue;
        }
        i += 1;
    }
    out.push_str(&raw[seg..]);
    out
}

fn unescape_help(text: &str, om: bool) -> Cow<'_, str> {
    if text.contains('\\') {
        Cow::Owned(unescape(text, om))
    } else {
        Cow::Borrowed(text)
    }
}

/// Whether stored `labels` equal the (sorted, non-empty) scratch pairs.
fn same(labels: &Labels, scratch: &[Pair<'_>]) -> bool {
    labels.len() == scratch.len()
        && labels
            .iter()
            .zip(scratch)
            .all(|(l, (n, v))| l.name == **n && l.value == **v)
}

/// A keyed 64-bit hash of a series and timestamp: 8-byte words mixed by a folded
/// 128-bit multiply (the wyhash primitive). Collisions are confirmed by comparison, so
/// the hash only has to be fast and spread well.
fn hash_series(seed: u64, pairs: &[Pair<'_>], ts: Option<i64>) -> u64 {
    let mut h = WordHasher::new(seed);
    for (n, v) in pairs {
        h.bytes(n.as_bytes());
        h.word(0xff);
        h.bytes(v.as_bytes());
        h.word(0xfe);
    }
    match ts {
        Some(t) => {
            h.word(1);
            h.word(t as u64);
        }
        None => h.word(0),
    }
    h.finish()
}

/// Keys of `Parser::seen` are already hashes.
#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, i: u64) {
        self.0 = i;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
