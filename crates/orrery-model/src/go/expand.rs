//! Go's `Regexp.Expand`: the `$1`, `${1}`, `$name`, `${name}` and `$$` references in
//! relabel `replacement`/`target_label` values and in `label_replace`'s replacement.
//!
//! Go's rules, which this module follows exactly:
//! - `$$` is a literal `$`.
//! - A reference is `$name` or `${name}`, where a name is the longest non-empty run of
//!   letters (Unicode category L), decimal digits (category Nd) and `_`. So `$1x` names
//!   the group `1x`, and only `${1}x` is group 1 followed by `x`.
//! - A name of ASCII digits only is a group index, unless it has a leading zero or more
//!   than nine digits; then it is looked up as a name, and no group has such a name.
//! - A reference to a group that does not exist, or did not take part in the match,
//!   expands to nothing. A `$` that does not start a valid reference (`$ `, `${x`, a
//!   trailing `$`) is kept as literal text.
//!
//! A [`Template`] is parsed once against the regex whose captures it will expand, so
//! group names are resolved at compile time; it must only be expanded with captures of
//! that same regex.

use std::sync::LazyLock;

use ::regex::{Captures, Regex};

/// A replacement template compiled against one regex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Group(usize),
}

impl Template {
    /// Parses `template`, resolving its references against `regex`'s groups.
    pub fn compile(template: &str, regex: &Regex) -> Template {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut rest = template;
        while let Some(pos) = rest.find('$') {
            lit.push_str(&rest[..pos]);
            rest = &rest[pos + 1..];
            if let Some(after) = rest.strip_prefix('$') {
                lit.push('$');
                rest = after;
                continue;
            }
            let Some((name, after)) = extract_reference(rest) else {
                lit.push('$');
                continue;
            };
            rest = after;
            if let Some(group) = resolve_group(name, regex) {
                if !lit.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut lit)));
                }
                pieces.push(Piece::Group(group));
            }
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            pieces.push(Piece::Literal(lit));
        }
        Template { pieces }
    }

    /// Appends the expansion for one match to `out`.
    pub fn expand(&self, caps: &Captures<'_>, out: &mut String) {
        for p in &self.pieces {
            match p {
                Piece::Literal(s) => out.push_str(s),
                Piece::Group(i) => {
                    if let Some(m) = caps.get(*i) {
                        out.push_str(m.as_str());
                    }
                }
            }
        }
    }

    /// The expansion as a new string.
    pub fn expand_to_string(&self, caps: &Captures<'_>) -> String {
        let mut out = String::new();
        self.expand(caps, &mut out);
        out
    }
}

/// One-shot [`Template::compile`] and [`Template::expand`], for a template used once.
pub fn expand(regex: &Regex, caps: &Captures<'_>, template: &str, out: &mut String) {
    Template::compile(template, regex).expand(caps, out);
}

/// Go's `unicode.IsLetter || unicode.IsDigit || '_'`, as a prefix match.
static NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[\p{L}\p{Nd}_]+").expect("constant pattern"));

/// Reads the reference after a `$`: `name` or `{name}`. Returns the name and the text
/// after the reference, or `None` when there is no valid reference.
fn extract_reference(s: &str) -> Option<(&str, &str)> {
    let (braced, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let end = NAME.find(body)?.end();
    let (name, rest) = body.split_at(end);
    if braced {
        return rest.strip_prefix('}').map(|r| (name, r));
    }
    Some((name, rest))
}

/// The group a reference names, or `None` when it names none (expands to nothing).
fn resolve_group(name: &str, regex: &Regex) -> Option<usize> {
    if name.bytes().all(|b| b.is_ascii_digit())
        && name.len() <= 9
        && !(name.len() > 1 && name.starts_with('0'))
    {
        let n: usize = name.parse().ok()?;
        return (n < regex.captures_len()).then_some(n);
    }
    regex.capture_names().position(|n| n == Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expands `template` for the match of `pattern` (anchored, Go dialect) on `input`.
    fn exp(pattern: &str, input: &str, template: &str) -> String {
        let re = crate::go::regex::compile_anchored(pattern).unwrap();
        let caps = re.captures(input).unwrap();
        let mut out = String::new();
        expand(&re, &caps, template, &mut out);
        out
    }

    #[test]
    fn names_are_as_long_as_possible() {
        assert_eq!(
            exp("(f)(.*)", "foo", "$1x"),
            "",
            "$1x is the group named 1x"
        );
        assert_eq!(exp("(f)(.*)", "foo", "${1}x"), "fx");
        assert_eq!(exp("(f)(.*)", "foo", "$2-$1"), "oo-f");
        assert_eq!(exp("(f)(.*)", "foo", "x_${1}"), "x_f");
        // Go's letters and digits are Unicode: `$1é` and `$1٣` are names too.
        assert_eq!(exp("(f)(.*)", "foo", "$1é"), "");
        assert_eq!(exp("(f)(.*)", "foo", "$1٣"), "");
        // Other characters end the name, among them numbers that are not decimal
        // digits (category No, Nl), which Rust's `char::is_numeric` would take.
        assert_eq!(exp("(f)(.*)", "foo", "$1-$1.$1:"), "f-f.f:");
        assert_eq!(exp("(f)(.*)", "foo", "$1²|$1Ⅻ"), "f²|fⅫ");
    }

    #[test]
    fn dollar_dollar_is_a_dollar() {
        assert_eq!(exp("(.*)", "foo", "$$1 costs $$$1"), "$1 costs $foo");
        assert_eq!(exp("(.*)", "foo", "$$"), "$");
    }

    #[test]
    fn named_groups_work_bare_and_braced() {
        let p = r"(?P<host>[^:]+):(?P<port>\d+)";
        assert_eq!(exp(p, "10.0.0.1:8080", "${port}@$host"), "8080@10.0.0.1");
        assert_eq!(exp(p, "10.0.0.1:8080", "$1|$2"), "10.0.0.1|8080");
    }

    #[test]
    fn numbers_follow_gos_index_rules() {
        // Out of range, leading zeros, unknown names: nothing.
        assert_eq!(exp("(.*)", "foo", "[$2][${nope}][$01][$0]"), "[][][][foo]");
        assert_eq!(exp("(.*)", "foo", "[${01}][$00][$001]"), "[][][]");
        // More than nine digits is a name, not a (huge) index.
        assert_eq!(exp("(.*)", "foo", "[$0000000001][$1000000000]"), "[][]");
        // Nine digits is still an index (out of range here).
        assert_eq!(exp("(.*)", "foo", "[$100000000]"), "[]");
        let many = "(a)".repeat(12);
        assert_eq!(exp(&many, &"a".repeat(12), "$12$10"), "aa");
    }

    #[test]
    fn a_dollar_without_a_valid_reference_is_literal() {
        assert_eq!(exp("(.*)", "foo", "cost: $ 5 ${ $}"), "cost: $ 5 ${ $}");
        assert_eq!(exp("(.*)", "foo", "${1"), "${1");
        assert_eq!(exp("(.*)", "foo", "${}"), "${}");
        assert_eq!(exp("(.*)", "foo", "end$"), "end$");
        assert_eq!(exp("(.*)", "foo", "$-"), "$-");
    }

    #[test]
    fn groups_that_did_not_take_part_expand_to_nothing() {
        assert_eq!(exp("(a)?(b)", "b", "[$1]$2"), "[]b");
    }

    #[test]
    fn templates_are_reusable_across_matches() {
        let re = crate::go::regex::compile_anchored("(.)(.)").unwrap();
        let t = Template::compile("$2$1", &re);
        let caps = re.captures("ab").unwrap();
        assert_eq!(t.expand_to_string(&caps), "ba");
        let caps = re.captures("xy").unwrap();
        assert_eq!(t.expand_to_string(&caps), "yx");
    }
}
