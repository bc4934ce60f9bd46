//! Label matchers (`=`, `!=`, `=~`, `!~`) with Prometheus's semantics: regexes are fully
//! anchored and read in Go's dialect ([`crate::go::regex`]), and a missing label matches
//! as the empty string.

use crate::go::regex::compile_anchored;
use crate::MatcherError;
use regex::Regex;

/// The four matcher operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    Regex,
    /// `!~`
    NotRegex,
}

/// A compiled label matcher.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// Label name.
    pub name: String,
    /// Operator.
    pub op: MatchOp,
    /// The value or pattern as written.
    pub value: String,
    re: Option<Regex>,
    /// For regexes that are an alternation of plain literals (`a|b|c`), the literals;
    /// storage answers these from the index without scanning every value.
    alternatives: Option<Vec<String>>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Matcher {
    /// Builds a matcher, compiling the regex for `=~` and `!~`.
    pub fn new(
        op: MatchOp,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, MatcherError> {
        let name = name.into();
        let value = value.into();
        let (re, alternatives) = match op {
            MatchOp::Regex | MatchOp::NotRegex => {
                let re = compile_anchored(&value).map_err(|source| MatcherError::Regex {
                    name: name.clone(),
                    pattern: value.clone(),
                    source,
                })?;
                (Some(re), literal_alternatives(&value))
            }
            _ => (None, None),
        };
        Ok(Matcher {
            name,
            op,
            value,
            re,
            alternatives,
        })
    }

    /// Shorthand for an `=` matcher, which cannot fail.
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Matcher {
            name: name.into(),
            op: MatchOp::Equal,
            value: value.into(),
            re: None,
            alternatives: None,
        }
    }

    /// Tests a label value; pass `""` for a label the series does not have.
    pub fn matches(&self, v: &str) -> bool {
        match self.op {
            MatchOp::Equal => self.value == v,
            MatchOp::NotEqual => self.value != v,
            MatchOp::Regex => self.regex_matches(v),
            MatchOp::NotRegex => !self.regex_matches(v),
        }
    }

    fn regex_matches(&self, v: &str) -> bool {
        if let Some(alts) = &self.alternatives {
            return alts.iter().any(|a| a == v);
        }
        self.re.as_ref().is_some_and(|re| re.is_match(v))
    }

    /// True if this matcher accepts the empty string, i.e. also series without the label.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// The literal values a `=~` matcher accepts, when it is a plain alternation such as
    /// `a|b|c` (or a single literal); `None` when the index must test every value.
    pub fn set_matches(&self) -> Option<&[String]> {
        match self.op {
            MatchOp::Regex => self.alternatives.as_deref(),
            _ => None,
        }
    }
}

/// Splits `a|b|c` into literals when no alternative has regex metacharacters.
fn literal_alternatives(pattern: &str) -> Option<Vec<String>> {
    const META: &[char] = &[
        '\\', '.', '+', '*', '?', '(', ')', '[', ']', '{', '}', '^', '$',
    ];
    if pattern.contains(META) {
        return None;
    }
    Some(pattern.split('|').map(str::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_is_fully_anchored() {
        let m = Matcher::new(MatchOp::Regex, "job", "api").unwrap();
        assert!(m.matches("api"));
        assert!(!m.matches("api-server"));
        let m = Matcher::new(MatchOp::Regex, "job", "a.*").unwrap();
        assert!(m.matches("abc"));
        assert!(!m.matches("xabc"));
    }

    #[test]
    fn dot_matches_newline_as_in_prometheus() {
        let m = Matcher::new(MatchOp::Regex, "x", "a.b").unwrap();
        assert!(m.matches("a\nb"));
    }

    #[test]
    fn alternation_of_literals_is_detected() {
        let m = Matcher::new(MatchOp::Regex, "job", "a|b|c").unwrap();
        assert_eq!(
            m.set_matches(),
            Some(&["a".to_string(), "b".into(), "c".into()][..])
        );
        assert!(m.matches("b") && !m.matches("d"));
        let m = Matcher::new(MatchOp::Regex, "job", "a|b.*").unwrap();
        assert_eq!(m.set_matches(), None);
        let m = Matcher::new(MatchOp::NotRegex, "job", "a|b").unwrap();
        assert_eq!(m.set_matches(), None);
        assert!(m.matches("c") && !m.matches("a"));
    }

    #[test]
    fn empty_alternative_matches_missing_label() {
        let m = Matcher::new(MatchOp::Regex, "job", "a|").unwrap();
        assert!(m.matches_empty());
    }

    #[test]
    fn perl_classes_are_ascii_as_in_prometheus() {
        // Prometheus compiles matchers with Go's regexp, where `\d` is [0-9].
        let m = Matcher::new(MatchOp::Regex, "x", r"\d+").unwrap();
        assert!(m.matches("123"));
        assert!(!m.matches("١٢٣"), "Arabic-Indic digits are not \\d");
        let m = Matcher::new(MatchOp::NotRegex, "x", r"\w+").unwrap();
        assert!(m.matches("é"));
    }

    #[test]
    fn quoted_literals_work_in_matchers() {
        let m = Matcher::new(MatchOp::Regex, "x", r"a\Q.*\Eb").unwrap();
        assert!(m.matches("a.*b"));
        assert!(!m.matches("axxb"));
        assert_eq!(m.set_matches(), None);
        // A brace that is not a repetition is a literal in RE2.
        let m = Matcher::new(MatchOp::Regex, "x", "a{b}").unwrap();
        assert!(m.matches("a{b}"));
    }

    #[test]
    fn bad_regex_is_an_error_naming_the_label() {
        let e = Matcher::new(MatchOp::Regex, "job", "(").unwrap_err();
        assert!(e.to_string().contains("\"job\""), "{e}");
    }
}
