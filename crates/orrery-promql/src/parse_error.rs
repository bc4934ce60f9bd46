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

/// The message for a query `promql-parser` refused with `crate_msg`.
pub(crate) fn describe(query: &str, crate_msg: &str) -> String {
    let mut w = Walk::new(query);
    let found = match w.top() {
        Err(e) => Some(e),
        Ok(()) => semantic(query, &w, crate_msg),
    };
    match found {
        Some(e) => format!("{} parse error: {}", position(query, e.pos), e.msg),
        None => crate_msg.to_string(),
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
    /// `=~`, `!~`, `!=`, `=` inside braces.
    MatchOp,
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
    done: bool,
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
            done: false,
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
            self.done = true;
            return Ok(self.tok(Kind::Eof, start));
        };
        if self.in_brackets {
            return self.in_bracket(c, start);
        }
        if c == b'"' || c == b'\'' || c == b'`' {
            return self.string(c, start);
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
            let kind = if self.in_braces {
                Kind::Ident
            } else if lower == "inf" || lower == "nan" {
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
            b'=' if two(self, b'~') => {
                self.i += 1;
                Kind::MatchOp
            }
            b'=' if two(self, b'=') => {
                self.i += 1;
                Kind::Op
            }
            b'=' if self.in_braces => Kind::MatchOp,
            b'=' => Kind::Op,
            b'!' if two(self, b'=') || two(self, b'~') => {
                self.i += 1;
                if self.in_braces {
                    Kind::MatchOp
                } else {
                    Kind::Op
                }
            }
            b'!' => {
                let what = if self.in_braces { " inside braces" } else { "" };
                return Err(match self.peek(0) {
                    Some(d) => found(
                        start,
                        format!("unexpected character after '!'{what}: '{}'", d as char),
                    ),
                    None => found(start, "unexpected end of input after '!'"),
                });
            }
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

    fn string(&mut self, quote: u8, start: usize) -> Result<Tok, Found> {
        self.i += 1;
        loop {
            match self.peek(0) {
                None => return Err(found(start, "unterminated quoted string")),
                Some(b'\\') if quote != b'`' => self.i += 2,
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
}

type Step = Result<(), Found>;

impl<'q> Walk<'q> {
    fn new(q: &'q str) -> Self {
        Walk {
            lex: Lexer::new(q),
            cur: None,
            nodes: Vec::new(),
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
        self.unary(context)?;
        while self.peek()?.kind == Kind::Op {
            self.bump()?;
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
            self.bump()?;
        }
        self.primary(context)?;
        self.postfix()
    }

    fn primary(&mut self, context: &str) -> Step {
        let t = self.peek()?.clone();
        match t.kind {
            Kind::Number | Kind::Str => {
                self.bump()?;
                Ok(())
            }
            Kind::LParen => {
                self.bump()?;
                self.expr("")?;
                self.close(Kind::RParen, "")
            }
            Kind::Aggregator => self.aggregation(),
            Kind::Ident | Kind::MetricIdent => {
                self.bump()?;
                match self.peek()?.kind {
                    Kind::LParen if t.kind == Kind::Ident => self.call(t),
                    Kind::LBrace => self.matchers(),
                    _ => Ok(()),
                }
            }
            Kind::LBrace => self.matchers(),
            _ => Err(self.unexpected(context, "")),
        }
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
                    self.bump()?;
                }
                Kind::RParen => {
                    self.bump()?;
                    return Ok(());
                }
                _ => return Err(self.unexpected(context, "")),
            }
        }
    }

    fn aggregation(&mut self) -> Step {
        let op = self.bump()?;
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
                Kind::MatchOp => {
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

    /// Ranges, subqueries, `offset` and `@` after an expression.
    fn postfix(&mut self) -> Step {
        loop {
            let kind = self.peek()?.kind;
            match kind {
                Kind::LBracket => {
                    self.bump()?;
                    // The lexer checks colons; the durations are left to the crate.
                    while self.peek()?.kind != Kind::RBracket {
                        self.bump()?;
                    }
                    self.bump()?;
                }
                Kind::Keyword if self.peek_word("offset")? => {
                    self.bump()?;
                    if self.peek()?.kind == Kind::Op && self.peek()?.text == "-" {
                        self.bump()?;
                    }
                    if self.peek()?.kind != Kind::Duration {
                        return Err(self.unexpected("offset", "duration"));
                    }
                    self.bump()?;
                }
                Kind::At => {
                    self.bump()?;
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
                }
                _ => return Ok(()),
            }
        }
    }
}

/// Semantic errors the crate reports after a structurally valid parse, in
/// Prometheus's words and at the node they concern.
fn semantic(_query: &str, w: &Walk<'_>, msg: &str) -> Option<Found> {
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
            if want != "matrix" {
                return None;
            }
            // The range-vector argument is the first one, except for these.
            let arg = match name.as_str() {
                "quantile_over_time" => 1,
                _ => 0,
            };
            let n = w.nodes.iter().find(|n| !n.aggregation && n.name == name)?;
            let at = *n.args.get(arg)?;
            return Some(found(
                at,
                format!(
                    "expected type range vector in call to function {}, got {}",
                    go_quote(&name),
                    type_words(got)
                ),
            ));
        }
    }
    None
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
