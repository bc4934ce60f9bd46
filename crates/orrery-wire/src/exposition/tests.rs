//! Behaviour tests for exposition parsing: tables of valid bodies with their samples
//! and metadata, bad bodies with their exact messages, limits, negotiation, and a
//! mutation fuzz that must never panic.

use orrery_model::{Labels, MetricMetadata, MetricType};

use super::number::NORMAL_NAN;
use super::*;

/// [`parse_exposition`], cross-checked against [`Scanner`] used the way a caching
/// caller uses it: once with an empty cache (every series parsed), once with the cache
/// the first pass filled (known series not parsed). All three must agree exactly.
fn parse_checked(
    body: &[u8],
    format: Format,
    limits: &ParseLimits,
) -> Result<ParsedScrape, ExpositionError> {
    let want = parse_exposition(body, format, limits);
    let mut cache = std::collections::HashMap::new();
    for pass in 0..2 {
        let got = scan(body, format, limits, &mut cache);
        match (&want, &got) {
            (Ok(w), Ok(g)) => {
                assert_eq!(w.metadata, g.metadata, "pass {pass}");
                assert_eq!(w.samples.len(), g.samples.len(), "pass {pass}");
                for (ws, gs) in w.samples.iter().zip(&g.samples) {
                    assert_eq!(ws.labels, gs.labels, "pass {pass}");
                    assert_eq!(ws.timestamp, gs.timestamp, "pass {pass}");
                    assert_eq!(ws.value.to_bits(), gs.value.to_bits(), "pass {pass}");
                }
            }
            (Err(w), Err(g)) => assert_eq!(w.to_string(), g.to_string(), "pass {pass}"),
            _ => panic!(
                "pass {pass}: parse_exposition {want:?}, scanner {got:?}, body {:?}",
                String::from_utf8_lossy(body)
            ),
        }
    }
    want
}

/// What a caller of [`Scanner`] does to get [`parse_exposition`]'s result.
fn scan(
    body: &[u8],
    format: Format,
    limits: &ParseLimits,
    cache: &mut std::collections::HashMap<(String, u8), Labels>,
) -> Result<ParsedScrape, ExpositionError> {
    let mut sc = Scanner::new(body, format, limits)?;
    let mut out = ParsedScrape::default();
    let mut seen = std::collections::HashSet::new();
    let mut counted = 0;
    while let Some(s) = sc.next_sample()? {
        let key = (s.series.to_string(), s.context);
        let labels = match cache.get(&key) {
            Some(l) => l.clone(),
            None => {
                let l = sc.labels()?;
                cache.insert(key, l.clone());
                l
            }
        };
        counted += 1;
        if limits.sample_limit > 0 && counted > limits.sample_limit {
            continue;
        }
        if !seen.insert((labels.clone(), s.timestamp)) {
            return Err(sc.duplicate_error());
        }
        out.samples.push(ScrapedSample {
            labels,
            timestamp: s.timestamp,
            value: s.value,
        });
    }
    out.metadata = sc.finish()?;
    Ok(out)
}

fn text(body: &str) -> Result<ParsedScrape, ExpositionError> {
    parse_checked(
        body.as_bytes(),
        Format::PrometheusText,
        &ParseLimits::default(),
    )
}

fn om(body: &str) -> Result<ParsedScrape, ExpositionError> {
    parse_checked(
        body.as_bytes(),
        Format::OpenMetrics,
        &ParseLimits::default(),
    )
}

/// Samples as `(series text, timestamp, value)`, for compact expectations.
fn flat(p: &ParsedScrape) -> Vec<(String, Option<i64>, f64)> {
    p.samples
        .iter()
        .map(|s| (s.labels.to_string(), s.timestamp, s.value))
        .collect()
}

fn md(family: &str, kind: MetricType, help: &str, unit: &str) -> MetricMetadata {
    MetricMetadata {
        metric_family: family.into(),
        kind,
        help: help.into(),
        unit: unit.into(),
    }
}

const NODE_EXPORTER: &str = r#"# HELP go_gc_duration_seconds A summary of the pause duration of garbage collection cycles.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0"} 2.1e-05
go_gc_duration_seconds{quantile="0.25"} 3.3e-05
go_gc_duration_seconds{quantile="1"} 0.000891
go_gc_duration_seconds_sum 0.123
go_gc_duration_seconds_count 1234
# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} 1.23456789e+06
node_cpu_seconds_total{cpu="0",mode="user"} 4567.89
# HELP node_filesystem_avail_bytes Filesystem space available to non-root users in bytes.
# TYPE node_filesystem_avail_bytes gauge
node_filesystem_avail_bytes{device="/dev/sda1",fstype="ext4",mountpoint="/"} 1.2345e+10
# HELP http_request_duration_seconds Request latency.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="1"} 33444
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320
# A plain comment that is ignored.
node_load1 0.42
"#;

#[test]
fn node_exporter_like_body_parses_with_metadata() {
    let p = text(NODE_EXPORTER).expect("valid");
    let got = flat(&p);
    let want: Vec<(String, Option<i64>, f64)> = vec![
        (
            r#"go_gc_duration_seconds{quantile="0.0"}"#.into(),
            None,
            2.1e-5,
        ),
        (
            r#"go_gc_duration_seconds{quantile="0.25"}"#.into(),
            None,
            3.3e-5,
        ),
        (
            r#"go_gc_duration_seconds{quantile="1.0"}"#.into(),
            None,
            0.000891,
        ),
        ("go_gc_duration_seconds_sum".into(), None, 0.123),
        ("go_gc_duration_seconds_count".into(), None, 1234.0),
        (
            r#"node_cpu_seconds_total{cpu="0", mode="idle"}"#.into(),
            None,
            1_234_567.89,
        ),
        (
            r#"node_cpu_seconds_total{cpu="0", mode="user"}"#.into(),
            None,
            4567.89,
        ),
        (
            r#"node_filesystem_avail_bytes{device="/dev/sda1", fstype="ext4", mountpoint="/"}"#
                .into(),
            None,
            1.2345e10,
        ),
        (
            r#"http_request_duration_seconds_bucket{le="0.05"}"#.into(),
            None,
            24054.0,
        ),
        (
            r#"http_request_duration_seconds_bucket{le="1.0"}"#.into(),
            None,
            33444.0,
        ),
        (
            r#"http_request_duration_seconds_bucket{le="+Inf"}"#.into(),
            None,
            144_320.0,
        ),
        ("http_request_duration_seconds_sum".into(), None, 53423.0),
        (
            "http_request_duration_seconds_count".into(),
            None,
            144_320.0,
        ),
        ("node_load1".into(), None, 0.42),
    ];
    assert_eq!(got, want);
    assert_eq!(
        p.metadata,
        vec![
            md(
                "go_gc_duration_seconds",
                MetricType::Summary,
                "A summary of the pause duration of garbage collection cycles.",
                ""
            ),
            md(
                "node_cpu_seconds_total",
                MetricType::Counter,
                "Seconds the CPUs spent in each mode.",
                ""
            ),
            md(
                "node_filesystem_avail_bytes",
                MetricType::Gauge,
                "Filesystem space available to non-root users in bytes.",
                ""
            ),
            md(
                "http_request_duration_seconds",
                MetricType::Histogram,
                "Request latency.",
                ""
            ),
        ]
    );
}

#[test]
fn valid_text_bodies() {
    // (name, body, expected samples)
    type Row = (
        &'static str,
        &'static str,
        Vec<(&'static str, Option<i64>, f64)>,
    );
    let rows: Vec<Row> = vec![
        ("empty body", "", vec![]),
        (
            "only blank lines and comments",
            "\n  \n# hi\n#\n\t\n",
            vec![],
        ),
        ("no trailing newline", "a 1", vec![("a", None, 1.0)]),
        (
            "timestamps in ms, negative too",
            "a 1 1395066363000\nb 2 -5\n",
            vec![("a", Some(1_395_066_363_000), 1.0), ("b", Some(-5), 2.0)],
        ),
        (
            "special values",
            "a +Inf\nb -Inf\nc 1e3\nd -0.5\ne .5\n",
            vec![
                ("a", None, f64::INFINITY),
                ("b", None, f64::NEG_INFINITY),
                ("c", None, 1000.0),
                ("d", None, -0.5),
                ("e", None, 0.5),
            ],
        ),
        (
            "escaped label values",
            r#"a{path="C:\\dir\\",msg="say \"hi\"\nbye",odd="\a\x"} 1"#,
            vec![(
                r#"a{msg="say \"hi\"\nbye", odd="\\a\\x", path="C:\\dir\\"}"#,
                None,
                1.0,
            )],
        ),
        (
            "blanks and tabs around tokens, trailing comma, CRLF",
            "  a { x = \"1\" , y=\"2\", }\t 3 \t 7 \r\n",
            vec![(r#"a{x="1", y="2"}"#, Some(7), 3.0)],
        ),
        (
            "no blank needed after the closing brace",
            "a{x=\"1\"}3\n",
            vec![(r#"a{x="1"}"#, None, 3.0)],
        ),
        (
            "labels without commas, as Prometheus accepts",
            "a{x=\"1\" y=\"2\"} 3\n",
            vec![(r#"a{x="1", y="2"}"#, None, 3.0)],
        ),
        ("empty label set", "a{} 1\n", vec![("a", None, 1.0)]),
        (
            "empty label values are absent",
            "a{x=\"\",y=\"1\"} 1\n",
            vec![(r#"a{y="1"}"#, None, 1.0)],
        ),
        (
            "quoted UTF-8 names",
            "{\"my.metric\", \"label.name\"=\"v\", x=\"y\"} 1\n",
            vec![(r#"my.metric{label.name="v", x="y"}"#, None, 1.0)],
        ),
        (
            "colons in metric names",
            "job:rate5m 4\n",
            vec![("job:rate5m", None, 4.0)],
        ),
        (
            "same series at different timestamps",
            "a 1 1000\na 2 2000\n",
            vec![("a", Some(1000), 1.0), ("a", Some(2000), 2.0)],
        ),
        (
            "le is not normalized outside histograms",
            "# TYPE g gauge\ng{le=\"1\"} 1\n",
            vec![(r#"g{le="1"}"#, None, 1.0)],
        ),
        (
            "EOF is a plain comment in text",
            "a 1\n# EOF\nb 2\n",
            vec![("a", None, 1.0), ("b", None, 2.0)],
        ),
        (
            "UTF-8 and NUL in label values",
            "a{x=\"héllo \u{0}wörld\"} 1\n",
            vec![("a{x=\"héllo \\0wörld\"}", None, 1.0)],
        ),
    ];
    for (name, body, want) in rows {
        let p = text(body).unwrap_or_else(|e| panic!("{name}: {e}"));
        let want: Vec<(String, Option<i64>, f64)> = want
            .into_iter()
            .map(|(s, t, v)| (s.to_string(), t, v))
            .collect();
        assert_eq!(flat(&p), want, "{name}");
    }
}

#[test]
fn nan_is_prometheus_canonical_nan() {
    let p = text("a NaN\nb nan\n").expect("valid");
    for s in &p.samples {
        assert_eq!(s.value.to_bits(), NORMAL_NAN.to_bits());
        assert!(!orrery_model::is_stale_nan(s.value));
    }
}

#[test]
fn help_escaping_and_metadata_forms() {
    let p = text(concat!(
        "# HELP a first \\\\ line\\nsecond \\\"kept\\\" \\t\n",
        "#   TYPE   a   untyped  \n",
        "# HELP b\n",
        "# HELPER not metadata\n",
        "# UNIT a seconds\n",
        "# HELP \"c.d\" quoted name\n",
        "# TYPE \"c.d\" counter\n",
    ))
    .expect("valid");
    assert_eq!(
        p.metadata,
        vec![
            md(
                "a",
                MetricType::Unknown,
                "first \\ line\nsecond \\\"kept\\\" \\t",
                ""
            ),
            md("b", MetricType::Unknown, "", ""),
            md("c.d", MetricType::Counter, "quoted name", ""),
        ]
    );
}

#[test]
fn text_errors_name_the_problem_and_line() {
    let rows: &[(&str, &[u8], &str)] = &[
        (
            "garbage",
            b"a 1\n!!!\n",
            "line 2: expected a metric name or \"{\" at the start of a sample, got \"!!!\"",
        ),
        (
            "missing value",
            b"a\n",
            "line 1: expected value after metric in \"a\"",
        ),
        (
            "missing value after labels",
            b"a{x=\"1\"}\n",
            "line 1: expected value after metric in \"a{x=\\\"1\\\"}\"",
        ),
        ("bad float", b"a abc\n", "line 1: invalid float \"abc\""),
        ("hex float", b"a 0x1p3\n", "line 1: invalid float \"0x1p3\""),
        ("signed NaN", b"a -NaN\n", "line 1: invalid float \"-NaN\""),
        (
            "overflowing float",
            b"a 1e999\n",
            "line 1: invalid float \"1e999\"",
        ),
        (
            "float timestamp",
            b"a 1 1.5\n",
            "line 1: invalid timestamp \"1.5\"",
        ),
        (
            "text after timestamp",
            b"a 1 2 3\n",
            "line 1: unexpected text after timestamp: \" 3\"",
        ),
        (
            "exemplar in text",
            b"a 1 # {t=\"x\"} 1\n",
            "line 1: exemplars are only allowed in OpenMetrics, not in the text format",
        ),
        (
            "missing closing brace",
            b"a{x=\"1\" 1\n",
            "line 1: expected label name, got \"1\"",
        ),
        (
            "unterminated label set",
            b"a{x=\"1\",\n",
            "line 1: unterminated label set (missing \"}\") in \"a{x=\\\"1\\\",\"",
        ),
        (
            "unterminated quoted label value",
            b"a{x=\"1} 1\n",
            "line 1: unterminated quoted label value in \"a{x=\\\"1} 1\"",
        ),
        (
            "trailing backslash",
            b"a{x=\"1\\",
            "line 1: unterminated quoted label value in \"a{x=\\\"1\\\\\"",
        ),
        (
            "missing equals",
            b"a{x \"1\"} 1\n",
            "line 1: expected \"=\" after label name \"x\"",
        ),
        (
            "unquoted value",
            b"a{x=1} 1\n",
            "line 1: expected quoted label value after \"x\"=",
        ),
        (
            "bad label name",
            b"a{1x=\"1\"} 1\n",
            "line 1: expected label name, got \"1x=\\\"1\\\"} 1\"",
        ),
        (
            "bad metric name char",
            b"a.b 1\n",
            "line 1: invalid character \".\" in metric name or after it in \"a.b 1\"",
        ),
        (
            "no metric name",
            b"{x=\"1\"} 1\n",
            "line 1: metric name missing in \"{x=\\\"1\\\"} 1\"",
        ),
        (
            "name twice",
            b"a{\"b\"} 1\n",
            "line 1: metric name given twice in \"a{\\\"b\\\"} 1\"",
        ),
        (
            "duplicate label",
            b"a{x=\"1\",x=\"2\"} 1\n",
            "line 1: duplicate label name \"x\"",
        ),
        (
            "__name__ in braces with a name",
            b"a{__name__=\"b\"} 1\n",
            "line 1: duplicate label name \"__name__\"",
        ),
        (
            "invalid UTF-8",
            b"a 1\nb{x=\"\xff\"} 1\n",
            "line 2: invalid UTF-8",
        ),
        (
            "invalid UTF-8 in a comment",
            b"# \xc3\n",
            "line 1: invalid UTF-8",
        ),
        (
            "bad type",
            b"# TYPE a gaugehistogram\n",
            "line 1: invalid metric type \"gaugehistogram\"",
        ),
        (
            "missing type",
            b"# TYPE a\n",
            "line 1: invalid metric type \"\"",
        ),
        (
            "HELP without name",
            b"# HELP 1abc x\n",
            "line 1: expected metric name after HELP, got \"1abc x\"",
        ),
        (
            "duplicate series",
            b"a{x=\"1\",y=\"2\"} 1\nb 1\na{y=\"2\",x=\"1\"} 2\n",
            "line 3: duplicate sample for series a{x=\"1\", y=\"2\"}",
        ),
        (
            "duplicate series via empty label",
            b"a 1\na{x=\"\"} 2\n",
            "line 2: duplicate sample for series a{}",
        ),
        (
            "duplicate series with the same timestamp",
            b"a 1 5\na 2 5\n",
            "line 2: duplicate sample for series a{}",
        ),
    ];
    for (name, body, want) in rows {
        let err =
            parse_checked(body, Format::PrometheusText, &ParseLimits::default()).expect_err(name);
        assert_eq!(err.to_string(), *want, "{name}");
    }
}

const OM_BODY: &str = r#"# TYPE acme_http_router_request_seconds summary
# UNIT acme_http_router_request_seconds seconds
# HELP acme_http_router_request_seconds Latency though all of ACME's HTTP request router.
acme_http_router_request_seconds_sum{path="/api/v1",method="GET"} 9036.32
acme_http_router_request_seconds_count{path="/api/v1",method="GET"} 807283.0
acme_http_router_request_seconds_created{path="/api/v1",method="GET"} 1605281325.0
acme_http_router_request_seconds{path="/api/v1",method="GET",quantile="0.5"} 1.29854
# TYPE go_goroutines gauge
# HELP go_goroutines Number of goroutines that currently exist.
go_goroutines 69
# TYPE process_cpu_seconds counter
# UNIT process_cpu_seconds seconds
# HELP process_cpu_seconds Total user and system CPU time spent in seconds.
process_cpu_seconds_total 4.20072246e+06 # {trace_id="KOO5S4vxi0o"} 0.67 1520879607.789
process_cpu_seconds_created 1605281325.0
# TYPE foo histogram
foo_bucket{le="1"} 0 # {a="b"} 0.5
foo_bucket{le="+Inf"} 17 123 # {} 3
foo_count 17
foo_sum 324789.3
foo_created 1520430000.123
# TYPE bar gaugehistogram
bar_bucket{le="1"} 0
bar_gcount 0
bar_gsum 0
# TYPE st stateset
st{st="a"} 1
st{st="b"} 0
# TYPE build info
build_info{version="1.2"} 1
# TYPE ts gauge
ts 17.0 1520879607.789
ts 18.0 1520879608
# HELP esc Some text and \n some \" escaping
# EOF
"#;

#[test]
fn openmetrics_body_parses_keeps_created_and_converts_timestamps() {
    // `_created` samples are ordinary series, as in Prometheus without the
    // created-timestamp-zero-ingestion feature (its default in 2.x and 3.x).
    let p = om(OM_BODY).expect("valid");
    let want: Vec<(String, Option<i64>, f64)> = [
        (
            r#"acme_http_router_request_seconds_sum{method="GET", path="/api/v1"}"#,
            None,
            9036.32,
        ),
        (
            r#"acme_http_router_request_seconds_count{method="GET", path="/api/v1"}"#,
            None,
            807_283.0,
        ),
        (
            r#"acme_http_router_request_seconds_created{method="GET", path="/api/v1"}"#,
            None,
            1_605_281_325.0,
        ),
        (
            r#"acme_http_router_request_seconds{method="GET", path="/api/v1", quantile="0.5"}"#,
            None,
            1.29854,
        ),
        ("go_goroutines", None, 69.0),
        ("process_cpu_seconds_total", None, 4_200_722.46),
        ("process_cpu_seconds_created", None, 1_605_281_325.0),
        (r#"foo_bucket{le="1.0"}"#, None, 0.0),
        (r#"foo_bucket{le="+Inf"}"#, Some(123_000), 17.0),
        ("foo_count", None, 17.0),
        ("foo_sum", None, 324_789.3),
        ("foo_created", None, 1_520_430_000.123),
        (r#"bar_bucket{le="1"}"#, None, 0.0),
        ("bar_gcount", None, 0.0),
        ("bar_gsum", None, 0.0),
        (r#"st{st="a"}"#, None, 1.0),
        (r#"st{st="b"}"#, None, 0.0),
        (r#"build_info{version="1.2"}"#, None, 1.0),
        ("ts", Some(1_520_879_607_789), 17.0),
        ("ts", Some(1_520_879_608_000), 18.0),
    ]
    .into_iter()
    .map(|(s, t, v)| (s.to_string(), t, v))
    .collect();
    assert_eq!(flat(&p), want);
    assert_eq!(
        p.metadata,
        vec![
            md(
                "acme_http_router_request_seconds",
                MetricType::Summary,
                "Latency though all of ACME's HTTP request router.",
                "seconds"
            ),
            md(
                "go_goroutines",
                MetricType::Gauge,
                "Number of goroutines that currently exist.",
                ""
            ),
            md(
                "process_cpu_seconds",
                MetricType::Counter,
                "Total user and system CPU time spent in seconds.",
                "seconds"
            ),
            md("foo", MetricType::Histogram, "", ""),
            md("bar", MetricType::GaugeHistogram, "", ""),
            md("st", MetricType::StateSet, "", ""),
            md("build", MetricType::Info, "", ""),
            md("ts", MetricType::Gauge, "", ""),
            md(
                "esc",
                MetricType::Unknown,
                "Some text and \n some \" escaping",
                ""
            ),
        ]
    );
}

#[test]
fn openmetrics_edge_forms() {
    // `# EOF` without a line feed, `{}` labels, quoted names, `_created` samples (of
    // the counter and of an unknown type, both kept), a trailing comma.
    let p = om(concat!(
        "# TYPE \"my.counter\" counter\n",
        "{\"my.counter_total\",a=\"1\",} 1\n",
        "{\"my.counter_created\"} 5\n",
        "other_created{} 3\n",
        "# EOF"
    ))
    .expect("valid");
    assert_eq!(
        flat(&p),
        vec![
            (r#"my.counter_total{a="1"}"#.to_string(), None, 1.0),
            ("my.counter_created".to_string(), None, 5.0),
            ("other_created".to_string(), None, 3.0),
        ]
    );
    assert_eq!(om("# EOF\n").expect("empty set"), ParsedScrape::default());
}

#[test]
fn openmetrics_errors_name_the_problem_and_line() {
    let rows: &[(&str, &str, &str)] = &[
        ("empty body", "", "line 1: missing \"# EOF\" at the end of the OpenMetrics body"),
        ("missing EOF", "a 1\n", "line 2: missing \"# EOF\" at the end of the OpenMetrics body"),
        ("content after EOF", "a 1\n# EOF\nb 1\n", "line 3: unexpected content after \"# EOF\""),
        ("blank line after EOF", "# EOF\n\n", "line 2: unexpected content after \"# EOF\""),
        ("empty line", "a 1\n\n# EOF\n", "line 2: empty line (not allowed in OpenMetrics)"),
        ("CRLF", "a 1\r\n# EOF\n", "line 1: carriage return before line feed (not allowed in OpenMetrics)"),
        ("plain comment", "# hello\n# EOF\n", "line 1: invalid comment \"# hello\"; OpenMetrics allows only \"# HELP\", \"# TYPE\", \"# UNIT\" and \"# EOF\""),
        ("EOF with trailing blank", "# EOF \n", "line 1: invalid comment \"# EOF \"; OpenMetrics allows only \"# HELP\", \"# TYPE\", \"# UNIT\" and \"# EOF\""),
        ("untyped is text-only", "# TYPE a untyped\n# EOF\n", "line 1: invalid metric type \"untyped\""),
        ("two blanks before type", "# TYPE a  gauge\n# EOF\n", "line 1: invalid metric type \" gauge\""),
        ("unit not a suffix", "# TYPE foo counter\n# UNIT foo seconds\n# EOF\n", "line 2: unit \"seconds\" is not a suffix of metric \"foo\""),
        ("two spaces before value", "a  1\n# EOF\n", "line 1: expected value after metric in \"a  1\""),
        ("blank in labels", "a{x=\"1\", y=\"2\"} 1\n# EOF\n", "line 1: expected label name, got \" y=\\\"2\\\"} 1\""),
        ("missing comma", "a{x=\"1\"y=\"2\"} 1\n# EOF\n", "line 1: expected \",\" or \"}\" after label value in \"a{x=\\\"1\\\"y=\\\"2\\\"} 1\""),
        ("seconds timestamp garbage", "a 1 x\n# EOF\n", "line 1: invalid timestamp \"x\""),
        ("NaN timestamp", "a 1 NaN\n# EOF\n", "line 1: invalid timestamp \"NaN\""),
        ("two spaces before timestamp", "a 1  2\n# EOF\n", "line 1: expected timestamp after value, got \"  2\""),
        ("garbage after timestamp", "a 1 2 3\n# EOF\n", "line 1: expected end of line or exemplar (\" # {...} value\"), got \" 3\""),
        ("exemplar without value", "a_total 1 # {t=\"x\"}\n# EOF\n", "line 1: expected value after exemplar labels in \"a_total 1 # {t=\\\"x\\\"}\""),
        ("exemplar bad value", "a_total 1 # {t=\"x\"} y\n# EOF\n", "line 1: invalid exemplar value \"y\""),
        ("exemplar bad timestamp", "a_total 1 # {t=\"x\"} 1 z\n# EOF\n", "line 1: invalid exemplar timestamp \"z\""),
        ("exemplar trailing text", "a_total 1 # {t=\"x\"} 1 2 3\n# EOF\n", "line 1: unexpected text after exemplar timestamp: \" 3\""),
        ("exemplar unterminated", "a_total 1 # {t=\"x\n# EOF\n", "line 1: unterminated quoted label value in \"a_total 1 # {t=\\\"x\""),
        ("TYPE without type", "# TYPE a\n# EOF\n", "line 1: expected a space and the type after the metric name, got \"\""),
        ("duplicate", "a 1\na 2\n# EOF\n", "line 2: duplicate sample for series a{}"),
        ("metric name after a space", "a {x=\"1\"} 1\n# EOF\n", "line 1: invalid float \"{x=\\\"1\\\"}\""),
    ];
    for (name, body, want) in rows {
        let err = om(body).expect_err(name);
        assert_eq!(err.to_string(), *want, "{name}");
    }
}

#[test]
fn limits_are_enforced_with_clear_messages() {
    let body = "a{x=\"1\"} 1\na{x=\"2\"} 2\na{x=\"3\"} 3\n";
    let lim = |f: fn(&mut ParseLimits)| {
        let mut l = ParseLimits::default();
        f(&mut l);
        l
    };
    let parse = |l: &ParseLimits| parse_checked(body.as_bytes(), Format::PrometheusText, l);

    assert_eq!(
        parse(&lim(|l| l.sample_limit = 3))
            .expect("at limit")
            .samples
            .len(),
        3
    );
    let err = parse(&lim(|l| l.sample_limit = 2)).expect_err("over");
    assert_eq!(err.to_string(), "sample limit exceeded (3 > 2)");
    assert_eq!(err.line(), None);

    assert!(parse(&lim(|l| l.label_limit = 2)).is_ok());
    let err = parse(&lim(|l| l.label_limit = 1)).expect_err("labels");
    assert_eq!(
        err.to_string(),
        "line 1: label limit exceeded (2 > 1) for series a{x=\"1\"}"
    );

    assert!(parse(&lim(|l| l.label_name_length_limit = 8)).is_ok());
    let err = parse(&lim(|l| l.label_name_length_limit = 7)).expect_err("name length");
    assert_eq!(
        err.to_string(),
        "line 1: label name length limit exceeded (8 > 7) for label \"__name__\" of series a{x=\"1\"}"
    );

    let err = parse_checked(
        b"abc{x=\"1\"} 1\n",
        Format::PrometheusText,
        &lim(|l| l.label_value_length_limit = 2),
    )
    .expect_err("value length");
    assert_eq!(
        err.to_string(),
        "line 1: label value length limit exceeded (3 > 2) for label \"__name__\" of series abc{x=\"1\"}"
    );
}

#[test]
fn syntax_errors_after_the_sample_limit_still_win() {
    let l = ParseLimits {
        sample_limit: 1,
        ..ParseLimits::default()
    };
    let err = parse_checked(b"a 1\nb 2\nc x\n", Format::PrometheusText, &l).expect_err("bad");
    assert_eq!(err.to_string(), "line 3: invalid float \"x\"");
    // Over the limit, later duplicates are not looked for: nothing is stored.
    let err = parse_checked(b"a 1\nb 2\nb 2\n", Format::PrometheusText, &l).expect_err("lim");
    assert_eq!(err.to_string(), "sample limit exceeded (3 > 1)");
}

#[test]
fn created_samples_are_samples_and_count_against_the_sample_limit() {
    let body = "# TYPE c counter\nc_total 1\nc_created 2\n# EOF\n";
    let l = |n| ParseLimits {
        sample_limit: n,
        ..ParseLimits::default()
    };
    let p = parse_checked(body.as_bytes(), Format::OpenMetrics, &l(2)).expect("two samples");
    assert_eq!(
        flat(&p),
        vec![
            ("c_total".to_string(), None, 1.0),
            ("c_created".to_string(), None, 2.0)
        ]
    );
    let err = parse_checked(body.as_bytes(), Format::OpenMetrics, &l(1)).expect_err("over");
    assert_eq!(err.to_string(), "sample limit exceeded (2 > 1)");
}

#[test]
fn huge_lines_parse_and_are_bounded_by_the_value_limit() {
    let big = "v".repeat(1 << 20);
    let body = format!("a{{x=\"{big}\"}} 1\n");
    let p = text(&body).expect("valid");
    assert_eq!(p.samples[0].labels.get("x").map(str::len), Some(1 << 20));
    let l = ParseLimits {
        label_value_length_limit: 4096,
        ..ParseLimits::default()
    };
    let err = parse_checked(body.as_bytes(), Format::PrometheusText, &l).expect_err("long");
    let msg = err.to_string();
    assert!(
        msg.starts_with(
            "line 1: label value length limit exceeded (1048576 > 4096) for label \"x\""
        ),
        "{msg}"
    );
    assert!(msg.len() < 2048, "message stays short: {}", msg.len());
}

#[test]
fn many_series_no_false_duplicates() {
    let mut body = String::new();
    for i in 0..20_000 {
        body.push_str(&format!("m{{i=\"{i}\",j=\"{}\"}} {i}\n", i % 7));
    }
    let p = text(&body).expect("valid");
    assert_eq!(p.samples.len(), 20_000);
    assert_eq!(
        p.samples[123].labels,
        Labels::from_pairs([("__name__", "m"), ("i", "123"), ("j", "4")])
    );
}

#[test]
fn content_type_negotiation() {
    let rows: &[(Option<&str>, Format)] = &[
        (None, Format::PrometheusText),
        (Some(""), Format::PrometheusText),
        (
            Some("text/plain; version=0.0.4; charset=utf-8"),
            Format::PrometheusText,
        ),
        (
            Some("text/plain;version=1.0.0;escaping=allow-utf-8"),
            Format::PrometheusText,
        ),
        (
            Some("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            Format::OpenMetrics,
        ),
        (
            Some("application/openmetrics-text;version=0.0.1"),
            Format::OpenMetrics,
        ),
        (Some(" Application/OpenMetrics-Text "), Format::OpenMetrics),
        (Some("application/json"), Format::PrometheusText),
        (
            Some("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily"),
            Format::PrometheusText,
        ),
    ];
    for (ct, want) in rows {
        assert_eq!(format_for_content_type(*ct), *want, "{ct:?}");
    }
}

#[test]
fn accept_header_prefers_openmetrics_then_text_with_descending_q() {
    let parts: Vec<&str> = SCRAPE_ACCEPT.split(',').collect();
    assert_eq!(
        parts,
        [
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6",
            "application/openmetrics-text;version=0.0.1;q=0.5",
            "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4",
            "text/plain;version=0.0.4;q=0.3",
            "*/*;q=0.2",
        ]
    );
}

#[test]
fn arbitrary_mutations_never_panic() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet = b"{}\"\\=, \t\n#_:aZ09.e+-xIN\xc3\xa9\xff";
    let limits = ParseLimits {
        sample_limit: 50,
        label_limit: 10,
        label_name_length_limit: 20,
        label_value_length_limit: 30,
    };
    for (body, format) in [
        (NODE_EXPORTER, Format::PrometheusText),
        (OM_BODY, Format::OpenMetrics),
    ] {
        for _ in 0..3000 {
            let mut m = body.as_bytes().to_vec();
            for _ in 0..1 + next() % 6 {
                let i = (next() as usize) % m.len();
                match next() % 3 {
                    0 => m[i] = alphabet[(next() as usize) % alphabet.len()],
                    1 => {
                        m.remove(i);
                    }
                    _ => m.insert(i, alphabet[(next() as usize) % alphabet.len()]),
                }
            }
            for f in [Format::PrometheusText, Format::OpenMetrics] {
                let _ = parse_checked(&m, f, &limits);
                let _ = parse_checked(&m, f, &ParseLimits::default());
            }
            let cut = (next() as usize) % m.len();
            let _ = parse_checked(&m[..cut], format, &ParseLimits::default());
        }
    }
}
