//! Table-driven relabeling tests written from Prometheus's `relabel_config`
//! documentation: every action, every default, the classic configurations, and the
//! configuration checks. The regex dialect, template expansion and case mapping rules
//! themselves are pinned next to their code in `crate::go`; the cases here show that
//! rules use them.

use super::*;
use crate::labels::Labels;

/// One processing case: rules as YAML (a list of `relabel_config`), an input label
/// set, and the expected output (`None` = dropped).
struct Case {
    name: &'static str,
    input: &'static [(&'static str, &'static str)],
    rules: &'static str,
    want: Option<&'static [(&'static str, &'static str)]>,
}

const CASES: &[Case] = &[
    // ---- replace ----
    Case {
        name: "replace with all defaults copies the source value to the target",
        input: &[("a", "foo")],
        rules: "- {source_labels: [a], target_label: b}",
        want: Some(&[("a", "foo"), ("b", "foo")]),
    },
    Case {
        name: "replace whose regex does not match leaves labels unchanged",
        input: &[("a", "foo"), ("b", "old")],
        rules: "- {source_labels: [a], regex: 'bar(.*)', target_label: b, replacement: new}",
        want: Some(&[("a", "foo"), ("b", "old")]),
    },
    Case {
        name: "regex is anchored at both ends: a partial match is no match",
        input: &[("a", "foobar")],
        rules: "
- {source_labels: [a], regex: foo, target_label: b, replacement: x}
- {source_labels: [a], regex: 'foo.*', target_label: c, replacement: y}",
        want: Some(&[("a", "foobar"), ("c", "y")]),
    },
    Case {
        name: "__address__ rewrite to port 9100 with $1:9100",
        input: &[("__address__", "10.0.0.1:8080"), ("job", "node")],
        rules: r#"
- source_labels: [__address__]
  regex: '([^:]+)(?::\d+)?'
  replacement: '$1:9100'
  target_label: __address__"#,
        want: Some(&[("__address__", "10.0.0.1:9100"), ("job", "node")]),
    },
    Case {
        name: "__address__ rewrite adds the port when there is none",
        input: &[("__address__", "node-1")],
        rules: r#"
- source_labels: [__address__]
  regex: '([^:]+)(?::\d+)?'
  replacement: '$1:9100'
  target_label: __address__"#,
        want: Some(&[("__address__", "node-1:9100")]),
    },
    Case {
        name: "multiple source labels are joined with the default ; separator",
        input: &[("a", "foo"), ("b", "bar")],
        rules: "- {source_labels: [a, b], regex: '(.*);(.*)', replacement: '$2-$1', target_label: c}",
        want: Some(&[("a", "foo"), ("b", "bar"), ("c", "bar-foo")]),
    },
    Case {
        name: "a custom separator joins the source values",
        input: &[("a", "foo"), ("b", "bar")],
        rules: "- {source_labels: [a, b], separator: '/', target_label: c}",
        want: Some(&[("a", "foo"), ("b", "bar"), ("c", "foo/bar")]),
    },
    Case {
        name: "an empty separator concatenates",
        input: &[("a", "foo"), ("b", "bar")],
        rules: "- {source_labels: [a, b], separator: '', target_label: c}",
        want: Some(&[("a", "foo"), ("b", "bar"), ("c", "foobar")]),
    },
    Case {
        name: "a missing source label contributes an empty string",
        input: &[("a", "foo"), ("b", "bar")],
        rules: "- {source_labels: [a, missing, b], target_label: c}",
        want: Some(&[("a", "foo"), ("b", "bar"), ("c", "foo;;bar")]),
    },
    Case {
        name: "replace producing an empty value deletes the target label",
        input: &[("a", "foo"), ("b", "keep")],
        rules: "- {source_labels: [missing], target_label: a}",
        want: Some(&[("b", "keep")]),
    },
    Case {
        name: "replace with no source labels sets a static value",
        input: &[("a", "foo")],
        rules: "- {target_label: env, replacement: prod}",
        want: Some(&[("a", "foo"), ("env", "prod")]),
    },
    Case {
        name: "replace can write the metric name",
        input: &[("__name__", "old_total"), ("a", "x")],
        rules: "- {source_labels: [__name__], regex: 'old_(.*)', replacement: 'new_$1', target_label: __name__}",
        want: Some(&[("__name__", "new_total"), ("a", "x")]),
    },
    Case {
        name: "target_label may use capture groups",
        input: &[("a", "foo")],
        rules: "- {source_labels: [a], regex: '(f)(.*)', target_label: 'x_${1}', replacement: '$2'}",
        want: Some(&[("a", "foo"), ("x_f", "oo")]),
    },
    Case {
        name: "a target_label that expands to an empty name is skipped",
        input: &[("b", "x")],
        rules: "- {source_labels: [a], target_label: '$1', replacement: v}",
        want: Some(&[("b", "x")]),
    },
    Case {
        name: "${1}x is group 1 followed by x",
        input: &[("a", "foo")],
        rules: "- {source_labels: [a], target_label: b, replacement: '${1}x'}",
        want: Some(&[("a", "foo"), ("b", "foox")]),
    },
    Case {
        name: "named groups work as $name and ${name}",
        input: &[("__address__", "10.0.0.1:8080")],
        rules: r#"
- source_labels: [__address__]
  regex: '(?P<host>[^:]+):(?P<port>\d+)'
  replacement: '${port}@$host'
  target_label: b"#,
        want: Some(&[("__address__", "10.0.0.1:8080"), ("b", "8080@10.0.0.1")]),
    },
    Case {
        name: "dollars in label values are not expanded",
        input: &[("a", "$1${x}")],
        rules: "- {source_labels: [a], target_label: b}",
        want: Some(&[("a", "$1${x}"), ("b", "$1${x}")]),
    },
    Case {
        name: "explicit defaults behave like omitted fields",
        input: &[("a", "foo")],
        rules: "- {source_labels: [a], separator: ';', regex: '(.*)', replacement: '$1', action: replace, target_label: b}",
        want: Some(&[("a", "foo"), ("b", "foo")]),
    },
    // ---- keep / drop ----
    Case {
        name: "keep keeps a matching set",
        input: &[("job", "node")],
        rules: "- {source_labels: [job], regex: 'node|kubelet', action: keep}",
        want: Some(&[("job", "node")]),
    },
    Case {
        name: "keep drops a set that does not match",
        input: &[("job", "api")],
        rules: "- {source_labels: [job], regex: 'node|kubelet', action: keep}",
        want: None,
    },
    Case {
        name: "keep by Kubernetes annotation",
        input: &[
            ("__meta_kubernetes_pod_annotation_prometheus_io_scrape", "true"),
            ("__address__", "10.1.2.3:8080"),
        ],
        rules: "
- source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
  action: keep
  regex: true",
        want: Some(&[
            ("__address__", "10.1.2.3:8080"),
            ("__meta_kubernetes_pod_annotation_prometheus_io_scrape", "true"),
        ]),
    },
    Case {
        name: "keep with .+ drops a set missing the source label",
        input: &[("a", "x")],
        rules: "- {source_labels: [missing], regex: '.+', action: keep}",
        want: None,
    },
    Case {
        name: "keep with the default regex keeps everything",
        input: &[("a", "x")],
        rules: "- {action: keep}",
        want: Some(&[("a", "x")]),
    },
    Case {
        name: "drop drops a matching set",
        input: &[("__name__", "go_gc_duration_seconds"), ("job", "x")],
        rules: "- {source_labels: [__name__], regex: 'go_.*', action: drop}",
        want: None,
    },
    Case {
        name: "drop keeps a set that does not match",
        input: &[("__name__", "up"), ("job", "x")],
        rules: "- {source_labels: [__name__], regex: 'go_.*', action: drop}",
        want: Some(&[("__name__", "up"), ("job", "x")]),
    },
    Case {
        name: "drop with the default regex drops everything",
        input: &[("a", "x")],
        rules: "- {action: drop}",
        want: None,
    },
    Case {
        name: "regex . matches newlines",
        input: &[("a", "foo\nbar")],
        rules: "- {source_labels: [a], regex: 'foo.bar', action: keep}",
        want: Some(&[("a", "foo\nbar")]),
    },
    Case {
        name: "keep over several sources and a separator",
        input: &[("ns", "prod"), ("app", "web")],
        rules: "- {source_labels: [ns, app], separator: '/', regex: 'prod/.*', action: keep}",
        want: Some(&[("app", "web"), ("ns", "prod")]),
    },
    // ---- keepequal / dropequal ----
    Case {
        name: "keepequal keeps when the joined sources equal the target's value",
        input: &[("__meta_port", "8080"), ("port", "8080")],
        rules: "- {source_labels: [__meta_port], target_label: port, action: keepequal}",
        want: Some(&[("__meta_port", "8080"), ("port", "8080")]),
    },
    Case {
        name: "keepequal drops when they differ",
        input: &[("__meta_port", "8080"), ("port", "9090")],
        rules: "- {source_labels: [__meta_port], target_label: port, action: keepequal}",
        want: None,
    },
    Case {
        name: "keepequal treats two missing labels as equal",
        input: &[("a", "x")],
        rules: "- {source_labels: [missing], target_label: also_missing, action: keepequal}",
        want: Some(&[("a", "x")]),
    },
    Case {
        name: "dropequal drops when equal",
        input: &[("a", "1"), ("b", "2"), ("c", "1;2")],
        rules: "- {source_labels: [a, b], target_label: c, action: dropequal}",
        want: None,
    },
    Case {
        name: "dropequal keeps when different",
        input: &[("a", "1"), ("c", "2")],
        rules: "- {source_labels: [a], target_label: c, action: dropequal}",
        want: Some(&[("a", "1"), ("c", "2")]),
    },
    // ---- hashmod ----
    Case {
        name: "hashmod uses the last 8 bytes of the md5, big-endian, modulo",
        input: &[("a", "foo"), ("b", "bar"), ("c", "baz")],
        rules: "- {source_labels: [c], target_label: d, modulus: 1000, action: hashmod}",
        want: Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "976")]),
    },
    Case {
        name: "hashmod hashes the raw bytes, newlines included",
        input: &[("a", "foo\nbar")],
        rules: "- {source_labels: [a], target_label: d, modulus: 1000, action: hashmod}",
        want: Some(&[("a", "foo\nbar"), ("d", "734")]),
    },
    Case {
        name: "hashmod with the largest modulus",
        input: &[("a", "foo")],
        rules: "- {source_labels: [a], target_label: d, modulus: 18446744073709551615, action: hashmod}",
        want: Some(&[("a", "foo"), ("d", "17145033699835028696")]),
    },
    Case {
        name: "hashmod over joined sources",
        input: &[("ns", "ns"), ("pod", "pod-a")],
        rules: "- {source_labels: [ns, pod], target_label: shard, modulus: 10, action: hashmod}",
        want: Some(&[("ns", "ns"), ("pod", "pod-a"), ("shard", "8")]),
    },
    Case {
        name: "hashmod sharding keeps this shard's targets and removes the temporary label",
        input: &[("__address__", "10.0.0.3:9100")],
        rules: "
- {source_labels: [__address__], modulus: 4, target_label: __tmp_hash, action: hashmod}
- {source_labels: [__tmp_hash], regex: '3', action: keep}
- {regex: __tmp_hash, action: labeldrop}",
        want: Some(&[("__address__", "10.0.0.3:9100")]),
    },
    Case {
        name: "hashmod sharding drops other shards' targets",
        input: &[("__address__", "10.0.0.4:9100")],
        rules: "
- {source_labels: [__address__], modulus: 4, target_label: __tmp_hash, action: hashmod}
- {source_labels: [__tmp_hash], regex: '3', action: keep}",
        want: None,
    },
    // ---- labelmap ----
    Case {
        name: "labelmap copies Kubernetes pod labels to plain names",
        input: &[
            ("__meta_kubernetes_namespace", "prod"),
            ("__meta_kubernetes_pod_label_app", "web"),
            ("__meta_kubernetes_pod_label_tier", "frontend"),
        ],
        rules: "- {regex: '__meta_kubernetes_pod_label_(.+)', action: labelmap}",
        want: Some(&[
            ("__meta_kubernetes_namespace", "prod"),
            ("__meta_kubernetes_pod_label_app", "web"),
            ("__meta_kubernetes_pod_label_tier", "frontend"),
            ("app", "web"),
            ("tier", "frontend"),
        ]),
    },
    Case {
        name: "labelmap with a replacement template",
        input: &[("__meta_zone", "eu")],
        rules: "- {regex: '__meta_(.+)', replacement: 'meta_${1}_label', action: labelmap}",
        want: Some(&[("__meta_zone", "eu"), ("meta_zone_label", "eu")]),
    },
    Case {
        name: "labelmap: on a name collision the last label in name order wins",
        input: &[("bar_a", "2"), ("foo_a", "1")],
        rules: "- {regex: '(?:foo|bar)_(.*)', action: labelmap}",
        want: Some(&[("a", "1"), ("bar_a", "2"), ("foo_a", "1")]),
    },
    Case {
        name: "labelmap: labels set by earlier rules come after the input labels",
        input: &[("x_a", "input")],
        rules: "
- {target_label: w_a, replacement: earlier}
- {regex: '[wx]_(.*)', action: labelmap}",
        want: Some(&[("a", "earlier"), ("w_a", "earlier"), ("x_a", "input")]),
    },
    Case {
        name: "labelmap does not see the labels it creates",
        input: &[("xxa", "1")],
        rules: "- {regex: 'x(.*)', action: labelmap}",
        want: Some(&[("xa", "1"), ("xxa", "1")]),
    },
    Case {
        name: "labelmap skips names that expand to empty",
        input: &[("foo", "1")],
        rules: "- {regex: 'foo(.*)', action: labelmap}",
        want: Some(&[("foo", "1")]),
    },
    // ---- labeldrop / labelkeep ----
    Case {
        name: "labeldrop removes __meta_ labels",
        input: &[
            ("__meta_kubernetes_namespace", "prod"),
            ("__meta_kubernetes_pod_name", "p"),
            ("job", "k8s"),
        ],
        rules: "- {regex: '__meta_.*', action: labeldrop}",
        want: Some(&[("job", "k8s")]),
    },
    Case {
        name: "labeldrop matches whole names only",
        input: &[("job", "x"), ("job_name", "y")],
        rules: "- {regex: job, action: labeldrop}",
        want: Some(&[("job_name", "y")]),
    },
    Case {
        name: "labelkeep keeps only matching names",
        input: &[("__name__", "up"), ("instance", "h:1"), ("job", "x"), ("pod", "p")],
        rules: "- {regex: '__name__|job|instance', action: labelkeep}",
        want: Some(&[("__name__", "up"), ("instance", "h:1"), ("job", "x")]),
    },
    Case {
        name: "labelkeep removing everything returns an empty set, not a drop",
        input: &[("a", "1")],
        rules: "- {regex: nothing, action: labelkeep}",
        want: Some(&[]),
    },
    // ---- lowercase / uppercase ----
    Case {
        name: "lowercase sets the target to the lowercased joined value",
        input: &[("a", "FooBar"), ("b", "BAZ")],
        rules: "- {source_labels: [a, b], target_label: c, action: lowercase}",
        want: Some(&[("a", "FooBar"), ("b", "BAZ"), ("c", "foobar;baz")]),
    },
    Case {
        name: "uppercase sets the target to the uppercased joined value",
        input: &[("a", "foo")],
        rules: "- {source_labels: [a], target_label: a, action: uppercase}",
        want: Some(&[("a", "FOO")]),
    },
    Case {
        name: "case mapping is Go's per-character simple mapping",
        input: &[("a", "ÀÉ ΟΔΟΣ İ"), ("b", "straße ﬁ")],
        rules: "
- {source_labels: [a], target_label: lower, action: lowercase}
- {source_labels: [b], target_label: upper, action: uppercase}",
        want: Some(&[
            ("a", "ÀÉ ΟΔΟΣ İ"),
            ("b", "straße ﬁ"),
            ("lower", "àé οδοσ i"),
            ("upper", "STRAßE ﬁ"),
        ]),
    },
    Case {
        name: "lowercase of an empty value deletes the target",
        input: &[("a", "x"), ("b", "y")],
        rules: "- {source_labels: [missing], target_label: a, action: lowercase}",
        want: Some(&[("b", "y")]),
    },
    // ---- rule order, action names, regex dialect ----
    Case {
        name: "rules apply in order and see earlier results",
        input: &[("a", "foo")],
        rules: "
- {source_labels: [a], target_label: b, replacement: 'x-$1'}
- {source_labels: [b], regex: 'x-.*', action: keep}
- {source_labels: [a], target_label: a, replacement: ''}
- {source_labels: [a], regex: '', action: keep}",
        want: Some(&[("b", "x-foo")]),
    },
    Case {
        name: "action names are case-insensitive",
        input: &[("a", "x")],
        rules: "- {source_labels: [a], regex: y, action: Keep}",
        want: None,
    },
    Case {
        name: "no rules returns the input",
        input: &[("a", "x")],
        rules: "[]",
        want: Some(&[("a", "x")]),
    },
    Case {
        name: r"\d, \w and \s are ASCII-only as in Go",
        input: &[("digits", "١٢٣"), ("word", "é"), ("space", "\u{a0}")],
        rules: r"
- {source_labels: [digits], regex: '\d+', target_label: d, replacement: hit}
- {source_labels: [word], regex: '\w', target_label: w, replacement: hit}
- {source_labels: [space], regex: '\s', target_label: s, replacement: hit}
- {source_labels: [digits], regex: '[^\d]+', target_label: nd, replacement: hit}",
        want: Some(&[
            ("digits", "١٢٣"),
            ("nd", "hit"),
            ("space", "\u{a0}"),
            ("word", "é"),
        ]),
    },
    Case {
        name: r"RE2 literals: a stray {, a [ inside a class, \Q...\E quoting",
        input: &[("a", "x{y}"), ("b", "[z"), ("c", ".*")],
        rules: r"
- {source_labels: [a], regex: 'x{y}', action: keep}
- {source_labels: [b], regex: '[[]z', action: keep}
- {source_labels: [c], regex: '\Q.*\E', action: keep}
- {source_labels: [a], regex: 'x{1,2}\{y\}', action: keep}",
        want: Some(&[("a", "x{y}"), ("b", "[z"), ("c", ".*")]),
    },
];

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

fn parse(yaml: &str) -> Vec<RelabelConfig> {
    serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("parsing {yaml:?}: {e}"))
}

#[test]
fn relabel_cases_match_prometheus_documentation() {
    let mut failures = Vec::new();
    for case in CASES {
        let relabeler = match Relabeler::new(&parse(case.rules)) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{}: config rejected: {e}", case.name));
                continue;
            }
        };
        let got = relabeler.process(&labels(case.input));
        let want = case.want.map(labels);
        if got != want {
            failures.push(format!(
                "{}:\n   got {:?}\n  want {:?}",
                case.name,
                got.map(|l| l.to_string()),
                want.map(|l| l.to_string())
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

/// Rules that parse but that [`Relabeler::new`] must refuse, with a piece of the
/// expected message.
const INVALID: &[(&str, &str)] = &[
    (
        "- {source_labels: [a]}",
        "rule 0: relabel configuration for replace action requires 'target_label' value",
    ),
    (
        "- {source_labels: [a], target_label: b, action: hashmod}",
        "rule 0: relabel configuration for hashmod requires non-zero 'modulus'",
    ),
    (
        "- {source_labels: [a], modulus: 2, action: hashmod}",
        "requires 'target_label' value",
    ),
    (
        "- {source_labels: [a], action: lowercase}",
        "for lowercase action requires 'target_label'",
    ),
    (
        "- {source_labels: [a], action: uppercase}",
        "for uppercase action requires 'target_label'",
    ),
    (
        "- {source_labels: [a], action: keepequal}",
        "for keepequal action requires 'target_label'",
    ),
    (
        "- {source_labels: [a], action: dropequal}",
        "for dropequal action requires 'target_label'",
    ),
    (
        "- {action: keep}\n- {source_labels: [a], regex: '(', action: keep}",
        "rule 1: invalid 'regex' \"(\"",
    ),
    (
        "- {source_labels: [a], target_label: b, replacement: x, action: lowercase}",
        "'replacement' can not be set for lowercase action",
    ),
    (
        "- {source_labels: [a], target_label: b, replacement: x, action: uppercase}",
        "'replacement' can not be set for uppercase action",
    ),
    (
        "- {source_labels: [a], target_label: b, replacement: x, action: keepequal}",
        "'replacement' can not be set for keepequal action",
    ),
    (
        "- {source_labels: [a], target_label: b, regex: 'x', action: keepequal}",
        "keepequal action requires only 'source_labels' and 'target_label', and no other fields, but 'regex' is set",
    ),
    (
        "- {source_labels: [a], target_label: b, separator: ',', action: dropequal}",
        "but 'separator' is set",
    ),
    (
        "- {source_labels: [a], target_label: b, modulus: 3, action: dropequal}",
        "but 'modulus' is set",
    ),
    (
        "- {regex: 'x', source_labels: [a], action: labeldrop}",
        "labeldrop action requires only 'regex', and no other fields, but 'source_labels' is set",
    ),
    (
        "- {regex: 'x', target_label: a, action: labelkeep}",
        "labelkeep action requires only 'regex', and no other fields, but 'target_label' is set",
    ),
    (
        "- {regex: 'x', replacement: y, action: labeldrop}",
        "but 'replacement' is set",
    ),
    (
        "- {regex: 'x', separator: '', action: labelkeep}",
        "but 'separator' is set",
    ),
    (
        "- {regex: 'x', modulus: 1, action: labeldrop}",
        "but 'modulus' is set",
    ),
    (
        "- {regex: 'x', replacement: '', action: labelmap}",
        "\"\" is invalid 'replacement' for labelmap action",
    ),
    (
        "- {source_labels: [a, ''], target_label: b}",
        "rule 0: \"\" is not a valid label name in 'source_labels'",
    ),
    (
        "- {action: keep}\n- {action: keep}\n- {target_label: '', action: replace}",
        "relabel rule 2:",
    ),
];

#[test]
fn invalid_rules_are_refused_with_rule_index_and_field() {
    let mut failures = Vec::new();
    for (yaml, want) in INVALID {
        match Relabeler::new(&parse(yaml)) {
            Ok(_) => failures.push(format!(
                "{yaml:?}: accepted, want error containing {want:?}"
            )),
            Err(e) if !e.to_string().contains(want) => {
                failures.push(format!("{yaml:?}: got {e:?}, want {want:?}"))
            }
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn yaml_errors_name_the_problem() {
    let cases = [
        (
            "- {action: frobnicate}",
            "unknown relabel action \"frobnicate\"",
        ),
        ("- {target: x}", "target"),
        ("- {modulus: -1, action: hashmod, target_label: x}", ""),
    ];
    for (yaml, want) in cases {
        match serde_saphyr::from_str::<Vec<RelabelConfig>>(yaml) {
            Ok(c) => panic!("{yaml:?} parsed as {c:?}"),
            Err(e) => assert!(e.to_string().contains(want), "{yaml:?}: {e}"),
        }
    }
}

#[test]
fn defaults_are_prometheus_defaults() {
    let parsed = parse("- {}");
    let d = &parsed[0];
    assert_eq!(d, &RelabelConfig::default());
    assert!(d.source_labels.is_empty());
    assert_eq!(d.separator, ";");
    assert_eq!(d.target_label, "");
    assert_eq!(d.regex, "(.*)");
    assert_eq!(d.modulus, 0);
    assert_eq!(d.replacement, "$1");
    assert_eq!(d.action, RelabelAction::Replace);
    // A bare default rule has no target label, which Prometheus refuses.
    assert!(matches!(
        Relabeler::new(&parsed),
        Err(RelabelError::MissingTargetLabel { index: 0, .. })
    ));
}

#[test]
fn every_action_parses_from_its_yaml_name() {
    for action in RelabelAction::ALL {
        let yaml = format!("- {{action: {action}}}");
        assert_eq!(parse(&yaml)[0].action, action, "{yaml}");
        let upper = format!("- {{action: {}}}", action.as_str().to_uppercase());
        assert_eq!(parse(&upper)[0].action, action, "{upper}");
    }
}

#[test]
fn valid_rules_for_every_action_compile() {
    let yaml = "
- {source_labels: [a], target_label: b}
- {source_labels: [a], action: keep}
- {source_labels: [a], action: drop}
- {source_labels: [a], target_label: b, action: keepequal}
- {source_labels: [a], target_label: b, action: dropequal}
- {source_labels: [a], target_label: b, modulus: 8, action: hashmod}
- {regex: '__meta_(.+)', action: labelmap}
- {regex: 'x', action: labeldrop}
- {regex: 'x', action: labelkeep}
- {source_labels: [a], target_label: b, action: lowercase}
- {source_labels: [a], target_label: b, action: uppercase}
- {source_labels: [a], target_label: 'x_$1'}
- {source_labels: [a], target_label: 'ünïcödé.name'}";
    let r = Relabeler::new(&parse(yaml)).unwrap();
    assert_eq!(r.len(), 13);
}

#[test]
fn processing_without_changes_returns_an_equal_set() {
    let r = Relabeler::new(&parse("- {source_labels: [a], regex: nope, action: drop}")).unwrap();
    let input = labels(&[("a", "1"), ("b", "2")]);
    assert_eq!(r.process(&input), Some(input));
}
