//! RE2 regular expressions with Go's semantics, on top of the `regex` crate.
//!
//! Both engines take RE2 syntax, but they read a few pieces of it differently, and
//! Prometheus users write patterns for Go:
//! - The Perl classes `\d \w \s` (and `\D \W \S`) and the boundaries `\b \B` are ASCII
//!   in Go and Unicode-aware in the `regex` crate, so `\d` would match `١` here.
//! - `\Q…\E` quotes a literal in Go; the `regex` crate has no such syntax.
//! - Inside a class, Go reads an unescaped `[` (that does not open `[:name:]`), `&` and
//!   `~` as literals, where the `regex` crate reserves them for nested classes and set
//!   operations.
//! - A `{` or `}` that does not form a counted repetition is a literal in Go and an
//!   error in the `regex` crate.
//!
//! [`translate`] rewrites those pieces, and [`compile_anchored`] builds the fully
//! anchored, dot-matches-newline form `^(?s:…)$` that Prometheus uses for label
//! matchers, relabel rules and `label_replace`. This module must not grow fast paths
//! for particular callers (matchers keep their own literal shortcut); it owns only the
//! dialect.

use std::borrow::Cow;

use ::regex::Regex;

/// Compiles `pattern` the way Prometheus compiles label-matcher, relabel and
/// `label_replace` regexes: Go's dialect, anchored at both ends, `.` matching `\n`.
pub fn compile_anchored(pattern: &str) -> Result<Regex, ::regex::Error> {
    Regex::new(&format!("^(?s:{})$", translate(pattern)))
}

/// Compiles `pattern` in Go's dialect without anchoring it, for searches such as a
/// line filter that may match anywhere.
pub fn compile(pattern: &str) -> Result<Regex, ::regex::Error> {
    Regex::new(&translate(pattern))
}

/// Rewrites the parts of RE2 syntax that the `regex` crate reads differently from Go
/// (see the module docs). A pattern with none of `\ [ { }` means the same to both and
/// is returned as it is.
pub fn translate(pattern: &str) -> Cow<'_, str> {
    if !pattern.contains(['\\', '[', '{', '}']) {
        return Cow::Borrowed(pattern);
    }
    Cow::Owned(rewrite(pattern))
}

fn rewrite(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut in_class = false;
    // Index of the first item inside the current class, where `]` is literal.
    let mut class_first = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let Some(&next) = chars.get(i + 1) else {
                    out.push('\\');
                    break;
                };
                i += 2;
                match next {
                    'd' => out.push_str("[0-9]"),
                    'D' => out.push_str("[^0-9]"),
                    'w' => out.push_str("[0-9A-Za-z_]"),
                    'W' => out.push_str("[^0-9A-Za-z_]"),
                    's' => out.push_str(r"[\t\n\f\r ]"),
                    'S' => out.push_str(r"[^\t\n\f\r ]"),
                    'b' if !in_class => out.push_str(r"(?-u:\b)"),
                    'B' if !in_class => out.push_str(r"(?-u:\B)"),
                    'Q' => {
                        let start = i;
                        while i < chars.len()
                            && !(chars[i] == '\\' && chars.get(i + 1) == Some(&'E'))
                        {
                            i += 1;
                        }
                        let quoted: String = chars[start..i].iter().collect();
                        out.push_str(&::regex::escape(&quoted));
                        if i < chars.len() {
                            i += 2; // the `\E`
                        }
                    }
                    'p' | 'P' | 'x' if chars.get(i) == Some(&'{') => {
                        // `\p{Greek}`, `\x{10FFFF}`: copy the braces verbatim.
                        out.push('\\');
                        out.push(next);
                        while i < chars.len() {
                            out.push(chars[i]);
                            i += 1;
                            if chars[i - 1] == '}' {
                                break;
                            }
                        }
                    }
                    _ => {
                        out.push('\\');
                        out.push(next);
                    }
                }
                continue;
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                i += 1;
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                class_first = i;
                continue;
            }
            '[' if in_class => {
                if chars.get(i + 1) == Some(&':') {
                    // `[:alpha:]`: copy through the closing `:]`.
                    let mut j = i + 2;
                    while j + 1 < chars.len() && !(chars[j] == ':' && chars[j + 1] == ']') {
                        j += 1;
                    }
                    let end = (j + 2).min(chars.len());
                    out.extend(&chars[i..end]);
                    i = end;
                    continue;
                }
                out.push_str(r"\[");
            }
            ']' if in_class && i != class_first => {
                in_class = false;
                out.push(']');
            }
            '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            '{' if !in_class => match repetition_len(&chars[i..]) {
                Some(n) => {
                    out.extend(&chars[i..i + n]);
                    i += n;
                    continue;
                }
                None => out.push_str(r"\{"),
            },
            '}' if !in_class => out.push_str(r"\}"),
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

/// The length of the counted repetition `{n}`, `{n,}` or `{n,m}` that `s` starts
/// with; `None` when it is not one, and RE2 reads that `{` as a literal.
fn repetition_len(s: &[char]) -> Option<usize> {
    let mut i = 1;
    let digits = |i: &mut usize| {
        let start = *i;
        while s.get(*i).is_some_and(|c| c.is_ascii_digit()) {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return None;
    }
    if s.get(i) == Some(&',') {
        i += 1;
        digits(&mut i);
    }
    (s.get(i) == Some(&'}')).then_some(i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, s: &str) -> bool {
        compile_anchored(pattern)
            .unwrap_or_else(|e| panic!("{pattern:?}: {e}"))
            .is_match(s)
    }

    #[test]
    fn perl_classes_are_ascii_as_in_go() {
        assert!(!matches(r"\d+", "١٢٣"), "Arabic-Indic digits are not \\d");
        assert!(matches(r"\d+", "123"));
        assert!(matches(r"[^\d]+", "١٢٣"));
        assert!(matches(r"\D+", "١٢٣"));
        assert!(!matches(r"\w", "é"));
        assert!(matches(r"\W", "é"));
        assert!(matches(r"\w+", "a_Z9"));
        assert!(!matches(r"\s", "\u{a0}"));
        assert!(matches(r"\s+", "\t\n\x0c\r "));
        assert!(matches(r"\S", "\u{a0}"));
    }

    #[test]
    fn word_boundary_is_ascii_as_in_go() {
        // `é` is not an ASCII word character, so a boundary sits between it and `f`.
        assert!(matches(r".*\bfoo", "éfoo"));
        assert!(!matches(r".*\Bfoo", "éfoo"));
        // Inside a class `\b` is no escape Go knows, and neither engine accepts it.
        assert!(compile_anchored(r"[\b]").is_err());
    }

    #[test]
    fn quoted_literals_braces_and_brackets_are_re2_literals() {
        assert!(matches(r"\Q.*\E", ".*"));
        assert!(!matches(r"\Q.*\E", "ab"));
        assert!(matches(r"a\Q.\Eb", "a.b"));
        assert!(!matches(r"a\Q.\Eb", "axb"));
        // An unterminated `\Q` quotes to the end, as in Go.
        assert!(matches(r"x\Q(+", "x(+"));
        assert!(matches("x{y}", "x{y}"));
        assert!(matches(r"x{1,2}\{y\}", "xx{y}"));
        assert!(matches("a{,2}", "a{,2}"));
        assert!(matches("[[]z", "[z"));
        assert!(matches("[a&&b]+", "a&&b"));
        assert!(matches("[~]", "~"));
        assert!(matches("[]a]+", "]a"));
    }

    #[test]
    fn unicode_classes_posix_classes_and_repetition_still_work() {
        assert!(matches(r"\p{Greek}+", "αβγ"));
        assert!(matches(r"\x{41}", "A"));
        assert!(matches("a{3}", "aaa"));
        assert!(!matches("a{3}", "aa"));
        assert!(matches("[[:alpha:]]+", "abc"));
        assert!(!matches("[[:alpha:]]+", "αβγ"));
    }

    #[test]
    fn anchoring_and_dot_follow_prometheus() {
        assert!(!matches("foo", "foobar"));
        assert!(matches("foo.*", "foobar"));
        assert!(!matches("bar", "foobar"));
        assert!(matches("foo.bar", "foo\nbar"));
        // An alternation is anchored as a whole, not just its first and last branch.
        assert!(!matches("a|b", "ab"));
        assert!(compile(r"\d").is_ok_and(|re| re.is_match("x1y")));
    }

    #[test]
    fn plain_patterns_are_not_rewritten() {
        assert!(matches!(translate("a.*|b+"), Cow::Borrowed("a.*|b+")));
        assert_eq!(translate(r"\d"), "[0-9]");
        assert!(compile_anchored("(").is_err());
    }
}
