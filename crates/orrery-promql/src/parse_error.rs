//! Parse errors worded and positioned as Prometheus's: `1:35: parse error: unexpected
//! <by> in aggregation`.
//!
//! `promql-parser` (0.11) reports a syntax error only as "invalid promql query" and its
//! lexer and grammar errors without a position, in its own words. When it refuses a
//! query, [`describe`] reads the original text again with a small lexer and a
//! recursive-descent walk that mirror the Prometheus lexer's and grammar's error rules,
//! and reports the first error Prometheus would: lexer errors where its lexer stops,
//! syntax errors at the offending token (`unexpected <token>[ in <context>][, expected
//! <what>]`). The walk only checks structure, it builds nothing; a query it finds
//! nothing wrong with was refused for a semantic reason (argument types and counts,
//! unknown functions), which is mapped from the crate's message and placed at the
//! call or aggregation it names. Anything else keeps the crate's message, unpositioned.
//!
//! Positions are byte offsets shown as Prometheus's `ParseErr` shows them: line from 1,
//! column = offset minus the offset of the last newline before it.

use crate::error::PromqlError;

/// The message for a query `promql-parser` refused with `crate_msg`.
pub(crate) fn describe(query: &str, crate_msg: &str) -> String {
    let mut w = Walk::new(query);
    let found = match w.top() {
        Err(e) => Some(e),
        Ok(()) => semantic(&w, crate_msg),
    };
    match found {
        Some(e) => format!("{} parse error: {}", position(query, e.pos), e.msg),
        None => crate_msg.to_string(),
    }
}

/// A parse error from a check of our own after the crate accepted the query (such
/// as `or` between matchers), positioned by the same walk when it finds it.
pub(crate) fn positioned(query: &str, e: PromqlError) -> PromqlError {
    match e {
        PromqlError::Parse(m) => PromqlError::Parse(describe(query, &m)),
        other => other,
    }
}

/// Prometheus's `line:col:` for byte offset `pos`.
fn position(query: &str, pos: usize) -> String {
    let pos = pos.min(query.len());
    let before = query.as_bytes().get(..pos).unwrap_or_default();
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let last_break = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(-1, |i| i as i64);
    format!("{line}:{}:", pos as i64 - last_break)
}

#[derive(Debug, Clone, PartialEq)]
struct Found {
    pos: usize,
    msg: String,
}

fn found(pos: usize, msg: impl Into<String>) -> Found {
    Found {
        pos,
        msg: msg.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ident,
    MetricIdent,
    Keyword,
    Aggregator,
    /// A binary operator, including `and`/`or`/`unless`/`atan2` and `=`.
    Op,
    /// `=~`, `!~`, `!=` inside braces.
    MatchOp,
    /// `=`: a matcher's operator inside braces, a stray character outside.
    Eql,
    Number,
    Duration,
    Str,
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Comma,
    Colon,
    At,
    Eof,
}

#[derive(Debug, Clone)]
struct Tok {
    kind: Kind,
    start: usize,
    text: String,
}

impl Tok {
    /// Prometheus's `Item.desc()`: how `unexpected …` names the token.
    fn desc(&self) -> String {
        match self.kind {
            Kind::Eof => "end of input".into(),
            Kind::Ident => format!("identifier {}", go_quote(&self.text)),
            Kind::MetricIdent => format!("metric identifier {}", go_quote(&self.text)),
            Kind::Keyword => format!("<{}>", self.text.to_ascii_lowercase()),
            Kind::Aggregator => format!("<aggr:{}>", self.text.to_ascii_lowercase()),
            Kind::Op | Kind::MatchOp => format!("<op:{}>", self.text.to_ascii_lowercase()),
            Kind::Number => format!("number {}", short_quote(&self.text)),
            Kind::Duration => format!("duration {}", short_quote(&self.text)),
            Kind::Str => format!("string {}", short_quote(&self.text)),
            Kind::Colon => "\":\"".into(),
            Kind::At => "<op:@>".into(),
            _ => go_quote(&self.text),
        }
    }
}

/// Go's `%q` of an ASCII-ish token text.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%#U`: `U+0063 'c'`.
fn go_u(c: char) -> String {
    format!("U+{:04X} '{c}'", c as u32)
}

/// Go's `%.10q...` for values longer than 10 characters, `%q` otherwise.
fn short_quote(s: &str) -> String {
    if s.chars().count() > 10 {
        let head: String = s.chars().take(10).collect();
        format!("{}...", go_quote(&head))
    } else {
        go_quote(s)
    }
}

const AGGREGATORS: &[&str] = &[
    "sum",
    "avg",
    "count",
    "min",
    "max",
    "group",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "count_values",
    "quantile",
    "limitk",
    "limit_ratio",
];
const OPERATOR_WORDS: &[&str] = &["and", "or", "unless", "atan2"];
const KEYWORDS: &[&str] = &[
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
];
/// Aggregations that take a parameter before the vector.
const WITH_PARAM: &[&str] = &[
    "topk",
    "bottomk",
    "count_values",
    "quantile",
    "limitk",
    "limit_ratio",
];

/// Prometheus's lexer, as far as its errors go: it is run lazily, token by token, so
/// a syntax error before a lexer error is reported first, as Prometheus does.
struct Lexer<'q> {
    q: &'q str,
    b: &'q [u8],
    i: usize,
    paren_depth: usize,
    in_braces: bool,
    in_brackets: bool,
    got_colon: bool,
}

impl<'q> Lexer<'q> {
    fn new(q: &'q str) -> Self {
        Lexer {
            q,
            b: q.as_bytes(),
            i: 0,
            paren_depth: 0,
            in_braces: false,
            in_brackets: false,
            got_colon: false,
        }
    }

    fn tok(&self, kind: Kind, start: usize) -> Tok {
        Tok {
            kind,
            start,
            text: self.q.get(start..self.i).unwrap_or_default().to_string(),
        }
    }

    fn peek(&self, k: usize) -> Option<u8> {
        self.b.get(self.i + k).copied()
    }

    fn next(&mut self) -> Result<Tok, Found> {
        loop {
            match self.peek(0) {
                Some(c) if c.is_ascii_whitespace() => self.i += 1,
                Some(b'#') if !self.in_brackets => {
                    while self.peek(0).is_some_and(|c| c != b'\n') {
                        self.i += 1;
                    }
                }
                _ => break,
            }
        }
        let start = self.i;
        let Some(c) = self.peek(0) else {
            if self.in_braces {
                return Err(found(start, "unexpected end of input inside braces"));
            }
            if self.in_brackets {
                return Err(found(start, "unclosed left bracket"));
            }
            if self.paren_depth > 0 {
                return Err(found(start, "unclosed left parenthesis"));
            }
            return Ok(self.tok(Kind::Eof, start));
        };
        if self.in_brackets {
            return self.in_bracket(c, start);
        }
        if c == b'"' || c == b'\'' || c == b'`' {
            return self.string(c, start);
        }
        if self.in_braces {
            return self.in_brace(c, start);
        }
        if c.is_ascii_digit() || (c == b'.' && self.peek(1).is_some_and(|d| d.is_ascii_digit())) {
            return Ok(self.number(start));
        }
        if c.is_ascii_alphabetic() || c == b'_' || (c == b':' && !self.in_braces) {
            while self
                .peek(0)
                .is_some_and(|d| d.is_ascii_alphanumeric() || d == b'_' || d == b':')
            {
                self.i += 1;
            }
            let text = &self.q[start..self.i];
            let lower = text.to_ascii_lowercase();
            let kind = if lower == "inf" || lower == "nan" {
                Kind::Number
            } else if AGGREGATORS.contains(&lower.as_str()) {
                Kind::Aggregator
            } else if OPERATOR_WORDS.contains(&lower.as_str()) {
                Kind::Op
            } else if KEYWORDS.contains(&lower.as_str()) {
                Kind::Keyword
            } else if text.contains(':') {
                Kind::MetricIdent
            } else {
                Kind::Ident
            };
            return Ok(self.tok(kind, start));
        }
        self.i += 1;
        let two = |l: &Self, d: u8| l.peek(0) == Some(d);
        let kind = match c {
            b'(' => {
                self.paren_depth += 1;
                Kind::LParen
            }
            b')' => {
                if self.paren_depth == 0 {
                    // Prometheus emits the parenthesis first: the error is after it.
                    return Err(found(self.i, "unexpected right parenthesis ')'"));
                }
                self.paren_depth -= 1;
                Kind::RParen
            }
            b'{' if self.in_braces => {
                return Err(found(start, "unexpected left brace '{' inside braces"))
            }
            b'{' => {
                self.in_braces = true;
                Kind::LBrace
            }
            b'}' if self.in_braces => {
                self.in_braces = false;
                Kind::RBrace
            }
            b'[' => {
                self.in_brackets = true;
                self.got_colon = false;
                Kind::LBracket
            }
            b']' => return Err(found(start, "unexpected right bracket ']'")),
            b',' => Kind::Comma,
            b'@' => Kind::At,
            b'=' if two(self, b'=') => {
                self.i += 1;
                Kind::Op
            }
            b'=' if two(self, b'~') => {
                return Err(found(start, "unexpected character after '=': '~'"))
            }
            b'=' => Kind::Eql,
            b'!' if two(self, b'=') => {
                self.i += 1;
                Kind::Op
            }
            b'!' => return Err(self.after_bang(start, "")),
            b'<' | b'>' => {
                if two(self, b'=') {
                    self.i += 1;
                }
                Kind::Op
            }
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' => Kind::Op,
            _ => {
                let ch = self.q[start..].chars().next().unwrap_or('?');
                return Err(found(start, format!("unexpected character: {ch:?}")));
            }
        };
        Ok(self.tok(kind, start))
    }

    /// The error for a `!` not followed by `=` (or `~` inside braces).
    fn after_bang(&self, start: usize, what: &str) -> Found {
        match self.q.get(start + 1..).and_then(|r| r.chars().next()) {
            Some(d) => found(
                start,
                format!("unexpected character after '!'{what}: {d:?}"),
            ),
            None => found(start, "'!' can not be at the end"),
        }
    }

    /// Prometheus's `lexInsideBraces`: label names, strings, matcher operators, commas.
    fn in_brace(&mut self, c: u8, start: usize) -> Result<Tok, Found> {
        if c.is_ascii_alphabetic() || c == b'_' {
            // No colons in label names (Prometheus's `lexIdentifier`).
            while self
                .peek(0)
                .is_some_and(|d| d.is_ascii_alphanumeric() || d == b'_')
            {
                self.i += 1;
            }
            return Ok(self.tok(Kind::Ident, start));
        }
        self.i += 1;
        let kind = match c {
            b',' => Kind::Comma,
            b'}' => {
                self.in_braces = false;
                Kind::RBrace
            }
            b'{' => return Err(found(start, "unexpected left brace '{' inside braces")),
            b'=' if self.peek(0) == Some(b'~') => {
                self.i += 1;
                Kind::MatchOp
            }
            b'=' => Kind::Eql,
            b'!' if matches!(self.peek(0), Some(b'=' | b'~')) => {
                self.i += 1;
                Kind::MatchOp
            }
            b'!' => return Err(self.after_bang(start, " inside braces")),
            _ => {
                let ch = self.q[start..].chars().next().unwrap_or('?');
                return Err(found(
                    start,
                    format!("unexpected character inside braces: {ch:?}"),
                ));
            }
        };
        Ok(self.tok(kind, start))
    }

    fn string(&mut self, quote: u8, start: usize) -> Result<Tok, Found> {
        self.i += 1;
        loop {
            match self.peek(0) {
                None if quote == b'`' => return Err(found(start, "unterminated raw string")),
                None => return Err(found(start, "unterminated quoted string")),
                Some(b'\\') if quote != b'`' => {
                    self.i += 1;
                    self.escape(quote).map_err(|m| found(start, m))?;
                }
                Some(b'\n') if quote != b'`' => {
                    return Err(found(start, "unterminated quoted string"))
                }
                Some(c) if c == quote => {
                    self.i += 1;
                    return Ok(self.tok(Kind::Str, start));
                }
                Some(_) => self.i += 1,
            }
        }
    }

    /// Prometheus's `lexEscape`, after the backslash; errors are reported at the
    /// string's start.
    fn escape(&mut self, quote: u8) -> Result<(), String> {
        let mut chars = self.q.get(self.i..).unwrap_or_default().chars();
        let Some(c) = chars.next() else {
            return Err("escape sequence not terminated".into());
        };
        self.i += c.len_utf8();
        let (n, base) = match c {
            'a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '\\' => return Ok(()),
            c if c as u32 == quote as u32 => return Ok(()),
            '0'..='7' => (2, 8),
            'x' => (2, 16),
            'u' => (4, 16),
            'U' => (8, 16),
            c => return Err(format!("unknown escape sequence {}", go_u(c))),
        };
        for _ in 0..n {
            let Some(d) = self.q.get(self.i..).and_then(|r| r.chars().next()) else {
                return Err("escape sequence not terminated".into());
            };
            if !d.is_digit(base) {
                return Err(format!("illegal character {} in escape sequence", go_u(d)));
            }
            self.i += d.len_utf8();
        }
        Ok(())
    }

    /// A number or a duration (digits followed by a unit).
    fn number(&mut self, start: usize) -> Tok {
        while self
            .peek(0)
            .is_some_and(|d| d.is_ascii_alphanumeric() || d == b'.' || d == b'_')
        {
            // An exponent sign belongs to the number.
            if matches!(self.peek(0), Some(b'e' | b'E'))
                && matches!(self.peek(1), Some(b'+' | b'-'))
                && !self.q[start..self.i].starts_with("0x")
            {
                self.i += 1;
            }
            self.i += 1;
        }
        let text = &self.q[start..self.i];
        let is_duration = text
            .bytes()
            .last()
            .is_some_and(|c| matches!(c, b's' | b'm' | b'h' | b'd' | b'w' | b'y'))
            && !text.starts_with("0x");
        self.tok(
            if is_duration {
                Kind::Duration
            } else {
                Kind::Number
            },
            start,
        )
    }

    fn in_bracket(&mut self, c: u8, start: usize) -> Result<Tok, Found> {
        if c.is_ascii_digit() {
            return Ok(self.number(start));
        }
        self.i += 1;
        match c {
            b']' => {
                self.in_brackets = false;
                Ok(self.tok(Kind::RBracket, start))
            }
            b':' if !self.got_colon => {
                self.got_colon = true;
                Ok(self.tok(Kind::Colon, start))
            }
            b':' => Err(found(start, "unexpected colon ':'")),
            b'[' => Err(found(start, "unexpected left bracket '[' inside brackets")),
            _ => {
                // Duration arithmetic and other bracket contents are left to the crate.
                Ok(self.tok(Kind::Ident, start))
            }
        }
    }
}

/// A call or aggregation the walk went through, for placing semantic errors.
#[derive(Debug, Clone)]
struct Node {
    name: String,
    start: usize,
    aggregation: bool,
    args: Vec<usize>,
}

/// The recursive-descent walk over Prometheus's grammar, reporting its first error.
struct Walk<'q> {
    lex: Lexer<'q>,
    cur: Option<Tok>,
    nodes: Vec<Node>,
    /// Binary operators: where their left operand starts, and the operator.
    binaries: Vec<(usize, usize)>,
    /// Unary minus/plus positions.
    unaries: Vec<usize>,
    /// Selectors: where they start and their metric name outside braces.
    selectors: Vec<(usize, Option<String>)>,
    /// Where a `[range]` follows something that is not a selector (the `[`).
    bad_range: Option<usize>,
    /// Where a `[range]` follows an `offset` or an `@` of a selector (the `[`).
    offset_before_range: Option<usize>,
    at_before_range: Option<usize>,
    /// Where an expression that `offset` or `@` cannot follow starts.
    misplaced_modifier: Option<usize>,
}

type Step = Result<(), Found>;

impl<'q> Walk<'q> {
    fn new(q: &'q str) -> Self {
        Walk {
            lex: Lexer::new(q),
            cur: None,
            nodes: Vec::new(),
            binaries: Vec::new(),
            unaries: Vec::new(),
            selectors: Vec::new(),
            bad_range: None,
            offset_before_range: None,
            at_before_range: None,
            misplaced_modifier: None,
        }
    }

    fn peek(&mut self) -> Result<&Tok, Found> {
        if self.cur.is_none() {
            let t = self.lex.next()?;
            self.cur = Some(t);
        }
        match &self.cur {
            Some(t) => Ok(t),
            None => Err(found(0, "internal: no token")),
        }
    }

    fn bump(&mut self) -> Result<Tok, Found> {
        self.peek()?;
        self.cur
            .take()
            .ok_or_else(|| found(0, "internal: no token"))
    }

    fn unexpected(&mut self, context: &str, expected: &str) -> Found {
        let t = match self.peek() {
            Ok(t) => t.clone(),
            Err(e) => return e,
        };
        let mut msg = format!("unexpected {}", t.desc());
        if !context.is_empty() {
            msg.push_str(" in ");
            msg.push_str(context);
        }
        if !expected.is_empty() {
            msg.push_str(", expected ");
            msg.push_str(expected);
        }
        found(t.start, msg)
    }

    fn top(&mut self) -> Step {
        if self.peek()?.kind == Kind::Eof {
            return Err(found(0, "no expression found in input"));
        }
        self.expr("")?;
        if self.peek()?.kind != Kind::Eof {
            return Err(self.unexpected("", ""));
        }
        Ok(())
    }

    /// An expression; `context` names the enclosing rule for tokens that cannot
    /// continue it (Prometheus names only aggregations).
    fn expr(&mut self, context: &str) -> Step {
        let start = self.peek()?.start;
        self.unary(context)?;
        while self.peek()?.kind == Kind::Op {
            let op = self.bump()?;
            self.binaries.push((start, op.start));
            if self.peek_word("bool")? {
                self.bump()?;
            }
            if self.peek_word("on")? || self.peek_word("ignoring")? {
                self.bump()?;
                self.label_list()?;
                if self.peek_word("group_left")? || self.peek_word("group_right")? {
                    self.bump()?;
                    if self.peek()?.kind == Kind::LParen {
                        self.label_list()?;
                    }
                }
            }
            self.unary(context)?;
        }
        Ok(())
    }

    fn peek_word(&mut self, w: &str) -> Result<bool, Found> {
        let t = self.peek()?;
        Ok(t.kind == Kind::Keyword && t.text.eq_ignore_ascii_case(w))
    }

    fn unary(&mut self, context: &str) -> Step {
        while self.peek()?.kind == Kind::Op && matches!(self.peek()?.text.as_str(), "+" | "-") {
            let t = self.bump()?;
            self.unaries.push(t.start);
        }
        let start = self.peek()?.start;
        let selector = self.primary(context)?;
        self.postfix(start, selector)
    }

    /// One operand; whether it is a vector selector (which ranges may follow).
    fn primary(&mut self, context: &str) -> Result<bool, Found> {
        let t = self.peek()?.clone();
        match t.kind {
            Kind::Number | Kind::Str => {
                self.bump()?;
                Ok(false)
            }
            Kind::LParen => {
                self.bump()?;
                self.expr("")?;
                self.close(Kind::RParen, "")?;
                Ok(false)
            }
            Kind::Aggregator => {
                self.bump()?;
                let next = self.peek()?.clone();
                let grouping = next.kind == Kind::Keyword
                    && (next.text.eq_ignore_ascii_case("by")
                        || next.text.eq_ignore_ascii_case("without"));
                if next.kind == Kind::LParen || grouping {
                    self.aggregation(t)?;
                    Ok(false)
                } else {
                    // Not followed by a group or `(`, an aggregator's name is a metric's.
                    self.selector(t.start, Some(t.text))
                }
            }
            Kind::Ident | Kind::MetricIdent => {
                self.bump()?;
                if self.peek()?.kind == Kind::LParen && t.kind == Kind::Ident {
                    self.call(t)?;
                    return Ok(false);
                }
                self.selector(t.start, Some(t.text))
            }
            Kind::LBrace => self.selector(t.start, None),
            _ => Err(self.unexpected(context, "")),
        }
    }

    /// A selector after its metric name (if any), at its braces (if any).
    fn selector(&mut self, start: usize, name: Option<String>) -> Result<bool, Found> {
        self.selectors.push((start, name));
        if self.peek()?.kind == Kind::LBrace {
            self.matchers()?;
        }
        Ok(true)
    }

    /// `)` or `]` closing a group; anything else is unexpected there.
    fn close(&mut self, kind: Kind, context: &str) -> Step {
        if self.peek()?.kind == kind {
            self.bump()?;
            Ok(())
        } else {
            Err(self.unexpected(context, ""))
        }
    }

    fn call(&mut self, name: Tok) -> Step {
        self.bump()?;
        let mut node = Node {
            name: name.text,
            start: name.start,
            aggregation: false,
            args: Vec::new(),
        };
        self.args(&mut node, "")?;
        self.nodes.push(node);
        Ok(())
    }

    /// `( [expr {, expr}] )` after the opening parenthesis.
    fn args(&mut self, node: &mut Node, context: &str) -> Step {
        if self.peek()?.kind == Kind::RParen {
            self.bump()?;
            return Ok(());
        }
        loop {
            node.args.push(self.peek()?.start);
            self.expr(context)?;
            match self.peek()?.kind {
                Kind::Comma => {
                    let comma = self.bump()?;
                    if self.peek()?.kind == Kind::RParen {
                        return Err(found(
                            comma.start,
                            "trailing commas not allowed in function call args",
                        ));
                    }
                }
                Kind::RParen => {
                    self.bump()?;
                    return Ok(());
                }
                _ => return Err(self.unexpected(context, "")),
            }
        }
    }

    /// An aggregation after its operator `op`.
    fn aggregation(&mut self, op: Tok) -> Step {
        let mut grouped = false;
        if self.peek_word("by")? || self.peek_word("without")? {
            self.bump()?;
            self.label_list()?;
            grouped = true;
        }
        if self.peek()?.kind != Kind::LParen {
            return Err(self.unexpected("aggregation", ""));
        }
        self.bump()?;
        let mut node = Node {
            name: op.text.to_ascii_lowercase(),
            start: op.start,
            aggregation: true,
            args: Vec::new(),
        };
        self.args(&mut node, "aggregation")?;
        self.nodes.push(node);
        if !grouped && (self.peek_word("by")? || self.peek_word("without")?) {
            self.bump()?;
            self.label_list()?;
        }
        Ok(())
    }

    /// `( label, … )` of `by`/`without`/`on`/`ignoring`/`group_*`.
    fn label_list(&mut self) -> Step {
        if self.peek()?.kind != Kind::LParen {
            return Err(self.unexpected("grouping opts", "\"(\""));
        }
        self.bump()?;
        loop {
            let t = self.peek()?.clone();
            match t.kind {
                Kind::RParen => {
                    self.bump()?;
                    return Ok(());
                }
                Kind::Ident | Kind::Keyword | Kind::Aggregator | Kind::Str => {
                    self.bump()?;
                }
                Kind::Op if OPERATOR_WORDS.contains(&t.text.to_ascii_lowercase().as_str()) => {
                    self.bump()?;
                }
                _ => return Err(self.unexpected("grouping opts", "label")),
            }
            match self.peek()?.kind {
                Kind::Comma => {
                    self.bump()?;
                }
                Kind::RParen => {}
                _ => return Err(self.unexpected("grouping opts", "\",\" or \")\"")),
            }
        }
    }

    /// `{ matcher, … }` from the opening brace.
    fn matchers(&mut self) -> Step {
        self.bump()?;
        loop {
            let quoted = match self.peek()?.kind {
                Kind::RBrace => {
                    self.bump()?;
                    return Ok(());
                }
                Kind::Ident => false,
                Kind::Str => true,
                _ => {
                    return Err(self.unexpected("label matching", "identifier or \"}\""));
                }
            };
            self.bump()?;
            match self.peek()?.kind {
                Kind::MatchOp | Kind::Eql => {
                    self.bump()?;
                    if self.peek()?.kind != Kind::Str {
                        return Err(self.unexpected("label matching", "string"));
                    }
                    self.bump()?;
                }
                // A quoted metric name alone (`{"name"}`) is a matcher too.
                Kind::Comma | Kind::RBrace if quoted => {}
                _ => {
                    return Err(self.unexpected("label matching", "label matching operator"));
                }
            }
            match self.peek()?.kind {
                Kind::Comma => {
                    self.bump()?;
                }
                Kind::RBrace => {}
                _ => return Err(self.unexpected("label matching", "\",\" or \"}\"")),
            }
        }
    }

    /// Ranges, subqueries, `offset` and `@` after the operand that starts at `start`,
    /// noting where Prometheus's checks of their placement would fail.
    fn postfix(&mut self, start: usize, selector: bool) -> Step {
        let (mut ranged, mut offset, mut at) = (false, false, false);
        loop {
            let kind = self.peek()?.kind;
            match kind {
                Kind::LBracket => {
                    let open = self.bump()?.start;
                    // The lexer checks colons; the durations are left to the crate.
                    let mut subquery = false;
                    while self.peek()?.kind != Kind::RBracket {
                        subquery |= self.bump()?.kind == Kind::Colon;
                    }
                    self.bump()?;
                    if !subquery {
                        let slot = if !selector || ranged {
                            &mut self.bad_range
                        } else if offset {
                            &mut self.offset_before_range
                        } else if at {
                            &mut self.at_before_range
                        } else {
                            &mut None
                        };
                        slot.get_or_insert(open);
                    }
                    ranged = true;
                }
                Kind::Keyword if self.peek_word("offset")? => {
                    self.bump()?;
                    if self.peek()?.kind == Kind::Op && self.peek()?.text == "-" {
                        self.bump()?;
                    }
                    // Prometheus 3 reads a plain number as seconds here too.
                    if !matches!(self.peek()?.kind, Kind::Duration | Kind::Number) {
                        return Err(self.unexpected("offset", "duration"));
                    }
                    self.bump()?;
                    offset = true;
                    if !selector && !ranged {
                        self.misplaced_modifier.get_or_insert(start);
                    }
                }
                Kind::At => {
                    self.bump()?;
                    // A signed timestamp is one too.
                    if self.peek()?.kind == Kind::Op
                        && matches!(self.peek()?.text.as_str(), "+" | "-")
                    {
                        self.bump()?;
                    }
                    let t = self.peek()?.clone();
                    let is_fn = t.kind == Kind::Ident
                        && (t.text.eq_ignore_ascii_case("start")
                            || t.text.eq_ignore_ascii_case("end"));
                    if t.kind == Kind::Number {
                        self.bump()?;
                    } else if is_fn {
                        self.bump()?;
                        if self.peek()?.kind == Kind::LParen {
                            self.bump()?;
                            self.close(Kind::RParen, "")?;
                        }
                    } else {
                        return Err(self.unexpected("@", "timestamp"));
                    }
                    at = true;
                    if !selector && !ranged {
                        self.misplaced_modifier.get_or_insert(start);
                    }
                }
                _ => return Ok(()),
            }
        }
    }
}

/// Semantic errors the crate reports after a structurally valid parse, in
/// Prometheus's words and at the node they concern.
fn semantic(w: &Walk<'_>, msg: &str) -> Option<Found> {
    // Binary-operator rules, placed only when the query has one operator (the crate
    // does not say which one it means).
    let one_binary = match w.binaries.as_slice() {
        [b] => Some(*b),
        _ => None,
    };
    for (prefix, at_operator) in [
        ("set operator ", false),
        ("no grouping allowed for ", false),
        ("vector matching only allowed between", false),
        ("bool modifier can only be used", true),
        ("comparisons between scalars must use BOOL modifier", true),
        ("label ", true),
    ] {
        if msg.starts_with(prefix) {
            let (lhs, op) = one_binary?;
            let text = requote(msg).replace("between vectors", "between instant vectors");
            return Some(found(if at_operator { op } else { lhs }, text));
        }
    }
    if msg.starts_with("metric name must not be set twice") {
        let name = quoted_after(msg, "metric name must not be set twice: ")?;
        let (at, _) = w
            .selectors
            .iter()
            .find(|(_, n)| n.as_deref() == Some(name.as_str()))?;
        return Some(found(*at, requote(msg)));
    }
    if msg == "vector selector must contain at least one non-empty matcher" {
        let mut nameless = w.selectors.iter().filter(|(_, n)| n.is_none());
        let (at, _) = nameless.next()?;
        return nameless.next().is_none().then(|| found(*at, msg));
    }
    for (text, at) in [
        ("ranges only allowed for vector selectors", w.bad_range),
        (
            "no offset modifiers allowed before range",
            w.offset_before_range,
        ),
        ("no @ modifiers allowed before range", w.at_before_range),
    ] {
        if msg == text {
            return Some(found(at?, msg));
        }
    }
    if let Some(rest) = msg.strip_suffix(
        " modifier must be preceded by an vector selector or matrix selector or a subquery",
    ) {
        return Some(found(
            w.misplaced_modifier?,
            format!(
                "{rest} modifier must be preceded by an instant vector selector or range vector selector or a subquery"
            ),
        ));
    }
    if let Some(got) = msg.strip_prefix(
        "unary expression only allowed on expressions of type scalar or vector, got: ",
    ) {
        let [at] = w.unaries.as_slice() else {
            return None;
        };
        return Some(found(
            *at,
            format!(
                "unary expression only allowed on expressions of type scalar or instant vector, got {}",
                go_quote(type_words(got))
            ),
        ));
    }
    if let Some((want, got)) = msg
        .strip_prefix("expected type ")
        .and_then(|r| r.split_once(" in aggregation expression, got "))
    {
        // The parameter of the first aggregation that takes one.
        let n = w.nodes.iter().find(|n| {
            n.aggregation && WITH_PARAM.contains(&n.name.as_str()) && n.args.len() == 2
        })?;
        return Some(found(
            *n.args.first()?,
            format!(
                "expected type {} in aggregation parameter, got {}",
                type_words(want),
                type_words(got)
            ),
        ));
    }
    if let Some(name) = quoted_after(msg, "unknown function with name ") {
        let n = w.nodes.iter().find(|n| !n.aggregation && n.name == name)?;
        return Some(found(
            n.start,
            format!("unknown function with name {}", go_quote(&name)),
        ));
    }
    if msg.starts_with("no arguments for aggregate expression") {
        let n = w
            .nodes
            .iter()
            .find(|n| n.aggregation && n.args.is_empty())?;
        return Some(found(
            n.start,
            "no arguments for aggregate expression provided",
        ));
    }
    if msg.starts_with("wrong number of arguments for aggregate expression provided") {
        let n = w.nodes.iter().find(|n| {
            let want = if WITH_PARAM.contains(&n.name.as_str()) {
                2
            } else {
                1
            };
            n.aggregation && !n.args.is_empty() && n.args.len() != want
        })?;
        return Some(found(n.start, msg));
    }
    if let Some(rest) = msg.strip_prefix("expected ") {
        // "expected 1 argument(s) in call to 'abs', got 2"
        if let Some((count, tail)) = rest.split_once(" argument(s) in call to ") {
            let name = quoted_after(tail, "")?;
            let got = tail.rsplit_once("got ")?.1;
            let n = w
                .nodes
                .iter()
                .find(|n| !n.aggregation && n.name == name && n.args.len().to_string() == got)?;
            return Some(found(
                n.start,
                format!(
                    "expected {count} argument(s) in call to {}, got {got}",
                    go_quote(&name)
                ),
            ));
        }
        // "expected type matrix in call to function 'rate', got vector"
        if let Some((want, tail)) = rest
            .strip_prefix("type ")
            .and_then(|r| r.split_once(" in call to function "))
        {
            let name = quoted_after(tail, "")?;
            let got = tail.rsplit_once("got ")?.1;
            let n = w.nodes.iter().find(|n| !n.aggregation && n.name == name)?;
            // Which argument: the only one, or the range vector of a range function
            // (the first, except for `quantile_over_time`).
            let arg = match (n.args.len(), want, name.as_str()) {
                (1, _, _) => 0,
                (_, "matrix", "quantile_over_time") => 1,
                (_, "matrix", _) => 0,
                _ => return None,
            };
            let at = *n.args.get(arg)?;
            return Some(found(
                at,
                format!(
                    "expected type {} in call to function {}, got {}",
                    type_words(want),
                    go_quote(&name),
                    type_words(got)
                ),
            ));
        }
    }
    None
}

/// The crate's message with its single-quoted names double-quoted, as Go's `%q`.
fn requote(msg: &str) -> String {
    msg.replace('\'', "\"")
}

/// The crate's value type names as Prometheus's documentation names them.
fn type_words(t: &str) -> &str {
    match t {
        "vector" => "instant vector",
        "matrix" => "range vector",
        other => other,
    }
}

/// The text between the first pair of single quotes after `prefix`.
fn quoted_after(msg: &str, prefix: &str) -> Option<String> {
    let rest = msg.strip_prefix(prefix)?;
    let start = rest.find('\'')? + 1;
    let len = rest.get(start..)?.find('\'')?;
    rest.get(start..start + len).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use crate::parse_expr;

    /// Each query with the message Prometheus (2.42, whose parser agrees with 3.x on
    /// these) answers through `/api/v1/query`, after `invalid parameter "query": `.
    const CASES: &[(&str, &str)] = &[
        (
            "sum(rate(http_requests_total[5m]) by (job)",
            "1:35: parse error: unexpected <by> in aggregation",
        ),
        (
            "sum(rate(http_requests_total[5m]) by (job))",
            "1:35: parse error: unexpected <by> in aggregation",
        ),
        (
            "sum(rate(http_requests_total[5m])) by",
            "1:38: parse error: unexpected end of input in grouping opts, expected \"(\"",
        ),
        (
            "rate(http_requests_total[5m]) by (job)",
            "1:31: parse error: unexpected <by>",
        ),
        (
            "sum by (job) rate(http_requests_total[5m])",
            "1:14: parse error: unexpected identifier \"rate\" in aggregation",
        ),
        (
            "sum(rate(http_requests_total[5m])) by job",
            "1:39: parse error: unexpected identifier \"job\" in grouping opts, expected \"(\"",
        ),
        (
            "sum(rate(http_requests_total[5m])) by (job) by (x)",
            "1:45: parse error: unexpected <by>",
        ),
        (
            "sum by(job) (x) without (y)",
            "1:17: parse error: unexpected <without>",
        ),
        (
            "sum(rate(x[5m]) by (job)",
            "1:17: parse error: unexpected <by> in aggregation",
        ),
        ("abs(x by (job))", "1:7: parse error: unexpected <by>"),
        ("sum(x y)", "1:7: parse error: unexpected identifier \"y\" in aggregation"),
        ("topk(3 x)", "1:8: parse error: unexpected identifier \"x\" in aggregation"),
        ("avg by (job)", "1:13: parse error: unexpected end of input in aggregation"),
        (
            "sum by (job,,) (x)",
            "1:13: parse error: unexpected \",\" in grouping opts, expected label",
        ),
        (
            "sum by (1) (x)",
            "1:9: parse error: unexpected number \"1\" in grouping opts, expected label",
        ),
        ("sum(x) (job)", "1:8: parse error: unexpected \"(\""),
        ("x +", "1:4: parse error: unexpected end of input"),
        ("1 +* 2", "1:4: parse error: unexpected <op:*>"),
        ("x == == y", "1:6: parse error: unexpected <op:==>"),
        ("x 5", "1:3: parse error: unexpected number \"5\""),
        (
            "x{job=\"very_long_label_value\"} \"a long string here\"",
            "1:32: parse error: unexpected string \"\\\"a long st\"...",
        ),
        (
            "x + on job y",
            "1:8: parse error: unexpected identifier \"job\" in grouping opts, expected \"(\"",
        ),
        (
            "x and on",
            "1:9: parse error: unexpected end of input in grouping opts, expected \"(\"",
        ),
        ("x offset 5m 5m", "1:13: parse error: unexpected duration \"5m\""),
        (
            "x offset",
            "1:9: parse error: unexpected end of input in offset, expected duration",
        ),
        (
            "rate(x[5m] offset)",
            "1:18: parse error: unexpected \")\" in offset, expected duration",
        ),
        (
            "up @ - foo",
            "1:8: parse error: unexpected identifier \"foo\" in @, expected timestamp",
        ),
        (
            "x @ foo",
            "1:5: parse error: unexpected identifier \"foo\" in @, expected timestamp",
        ),
        (
            "x{job=a}",
            "1:7: parse error: unexpected identifier \"a\" in label matching, expected string",
        ),
        (
            "x{job=~}",
            "1:8: parse error: unexpected \"}\" in label matching, expected string",
        ),
        (
            "x{job}",
            "1:6: parse error: unexpected \"}\" in label matching, expected label matching operator",
        ),
        (
            "x{=~\"a\"}",
            "1:3: parse error: unexpected <op:=~> in label matching, expected identifier or \"}\"",
        ),
        (
            "x{job=\"a\",,}",
            "1:11: parse error: unexpected \",\" in label matching, expected identifier or \"}\"",
        ),
        (
            "x{job=\"a\" y=\"b\"}",
            "1:11: parse error: unexpected identifier \"y\" in label matching, expected \",\" or \"}\"",
        ),
        ("avg(x) by (job", "1:15: parse error: unclosed left parenthesis"),
        (
            "histogram_quantile(0.9, rate(x[5m])",
            "1:36: parse error: unclosed left parenthesis",
        ),
        ("foo[5m", "1:7: parse error: unclosed left bracket"),
        ("x{job=\"a\"", "1:10: parse error: unexpected end of input inside braces"),
        ("x )", "1:4: parse error: unexpected right parenthesis ')'"),
        ("1 + )", "1:6: parse error: unexpected right parenthesis ')'"),
        ("x]", "1:2: parse error: unexpected right bracket ']'"),
        ("x{job=\"a\"}}", "1:11: parse error: unexpected character: '}'"),
        ("x ~ y", "1:3: parse error: unexpected character: '~'"),
        ("x{job='a}", "1:7: parse error: unterminated quoted string"),
        (
            "x{job!}",
            "1:6: parse error: unexpected character after '!' inside braces: '}'",
        ),
        (
            "http_requests_total{job=\"a\"}[5m:1m:1m]",
            "1:35: parse error: unexpected colon ':'",
        ),
        ("", "1:1: parse error: no expression found in input"),
        (
            "unknown_fn(x)",
            "1:1: parse error: unknown function with name \"unknown_fn\"",
        ),
        (
            "sum()",
            "1:1: parse error: no arguments for aggregate expression provided",
        ),
        (
            "topk(x)",
            "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, got 1",
        ),
        (
            "sum(x, y)",
            "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 1, got 2",
        ),
        (
            "abs(x, y)",
            "1:1: parse error: expected 1 argument(s) in call to \"abs\", got 2",
        ),
        (
            "rate(x)",
            "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector",
        ),
        (
            "foo{a*\"b\"}",
            "1:6: parse error: unexpected character inside braces: '*'",
        ),
        ("foo{1}", "1:5: parse error: unexpected character inside braces: '1'"),
        (
            "some_metric{a:b=\"b\"}",
            "1:14: parse error: unexpected character inside braces: ':'",
        ),
        ("1 =~ 1", "1:3: parse error: unexpected character after '=': '~'"),
        (
            "x{a=\"1\" or b=\"2\"}",
            "1:9: parse error: unexpected identifier \"or\" in label matching, expected \",\" or \"}\"",
        ),
        ("1 !~ 1", "1:3: parse error: unexpected character after '!': '~'"),
        ("x = 1", "1:3: parse error: unexpected \"=\""),
        (
            "sum some_metric by (test)",
            "1:5: parse error: unexpected identifier \"some_metric\"",
        ),
        (
            "rate(avg)",
            "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector",
        ),
        (
            "topk(some_metric,)",
            "1:17: parse error: trailing commas not allowed in function call args",
        ),
        (
            "abs(x,)",
            "1:6: parse error: trailing commas not allowed in function call args",
        ),
        ("`\\``", "1:4: parse error: unterminated raw string"),
        ("\"\\", "1:1: parse error: escape sequence not terminated"),
        ("\"\\c\"", "1:1: parse error: unknown escape sequence U+0063 'c'"),
        (
            "\"\\x.\"",
            "1:1: parse error: illegal character U+002E '.' in escape sequence",
        ),
        (
            "1 and 1",
            "1:1: parse error: set operator \"and\" not allowed in binary scalar expression",
        ),
        (
            "1 == 1",
            "1:3: parse error: comparisons between scalars must use BOOL modifier",
        ),
        (
            "foo + bool bar",
            "1:5: parse error: bool modifier can only be used on comparison operators",
        ),
        (
            "foo and on(bar) group_left(baz) bar",
            "1:1: parse error: no grouping allowed for \"and\" operation",
        ),
        (
            "foo == on(bar) 10",
            "1:1: parse error: vector matching only allowed between instant vectors",
        ),
        (
            "a + on(instance) group_left(job,instance) b",
            "1:3: parse error: label \"instance\" must not occur in ON and GROUP clause at once",
        ),
        (
            "foo{__name__=\"bar\"}",
            "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\"",
        ),
        (
            "{x=\"\"}",
            "1:1: parse error: vector selector must contain at least one non-empty matcher",
        ),
        (
            "(foo + bar)[5m]",
            "1:12: parse error: ranges only allowed for vector selectors",
        ),
        (
            "rate(food[1m])[1h] offset 1h",
            "1:15: parse error: ranges only allowed for vector selectors",
        ),
        (
            "some_metric OFFSET 1m[5m]",
            "1:22: parse error: no offset modifiers allowed before range",
        ),
        (
            "some_metric @ 1234 [5m]",
            "1:20: parse error: no @ modifiers allowed before range",
        ),
        (
            "floor(1)",
            "1:7: parse error: expected type instant vector in call to function \"floor\", got scalar",
        ),
        (
            "topk(some_metric, other_metric)",
            "1:6: parse error: expected type scalar in aggregation parameter, got instant vector",
        ),
        (
            "count_values(5, other_metric)",
            "1:14: parse error: expected type string in aggregation parameter, got scalar",
        ),
        (
            "-\"string\"",
            "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"string\"",
        ),
        (
            "-test[5m]",
            "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"range vector\"",
        ),
        (
            "1 offset 1d",
            "1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
        ),
    ];

    #[test]
    fn parse_errors_read_as_prometheus_writes_them() {
        let mut wrong = Vec::new();
        for (q, want) in CASES {
            match parse_expr(q) {
                Ok(_) => wrong.push(format!("{q:?} parsed")),
                Err(e) if e.to_string() == *want => {}
                Err(e) => wrong.push(format!("{q:?}\n  got  {e}\n  want {want}")),
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn positions_count_lines_and_columns_as_prometheus() {
        assert_eq!(super::position("ab\ncd", 4), "2:2:");
        assert_eq!(super::position("ab", 2), "1:3:");
        assert_eq!(super::position("", 0), "1:1:");
    }
}
