//! A small, tolerant reader of one-line Python: text becomes tokens, tokens a small expression
//! tree. It never gives up: what it cannot read becomes `Expr::Junk` and marks the text as not
//! well formed, and a missing closing bracket or quote is assumed at the end.

// --- Tokens ---

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Tok {
    Name(String),
    /// A number literal's value, if it is an integer (`600_000` too).
    Num(Option<u64>),
    /// A string literal's text between its quotes; `f` for an f-string.
    Str {
        text: String,
        f: bool,
    },
    Punct(char),
    /// A character that cannot start a token here, or the missing end of an unclosed string.
    Junk,
}

pub(super) fn tokenize(code: &str) -> Vec<Tok> {
    let chars: Vec<char> = code.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' {
            // A comment runs to the end of the line; a string's `#` was read with the string.
            while chars.get(i).is_some_and(|c| *c != '\n') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while chars.get(i).is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            // A prefix such as `f` or `rb` belongs to the string literal right after it.
            let prefix = word.len() <= 2 && word.chars().all(|c| "fFrRbBuU".contains(c));
            if prefix && matches!(chars.get(i), Some('"' | '\'')) {
                string_literal(&chars, &mut i, word.contains(['f', 'F']), &mut toks);
            } else {
                toks.push(Tok::Name(word));
            }
        } else if c.is_ascii_digit() {
            let start = i;
            while chars.get(i).is_some_and(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_') {
                i += 1;
            }
            let digits: String = chars[start..i].iter().filter(|&&c| c != '_').collect();
            toks.push(Tok::Num(digits.parse().ok()));
        } else if c == '"' || c == '\'' {
            string_literal(&chars, &mut i, false, &mut toks);
        } else {
            i += 1;
            toks.push(if "()[],.=+-*/%".contains(c) { Tok::Punct(c) } else { Tok::Junk });
        }
    }
    toks
}

/// Reads the string literal whose opening quote is at `chars[*i]`.
fn string_literal(chars: &[char], i: &mut usize, f: bool, toks: &mut Vec<Tok>) {
    let quote = chars[*i];
    let mut text = String::new();
    *i += 1;
    while let Some(&c) = chars.get(*i) {
        *i += 1;
        if c == quote {
            toks.push(Tok::Str { text, f });
            return;
        }
        text.push(c);
        if c == '\\'
            && let Some(&escaped) = chars.get(*i)
        {
            text.push(escaped);
            *i += 1;
        }
    }
    toks.extend([Tok::Str { text, f }, Tok::Junk]);
}

// --- Expressions ---

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Expr {
    Name(String),
    /// A number literal's value, if it is an integer (`600_000` too).
    Num(Option<u64>),
    /// A string literal's text and, for an f-string, the expressions interpolated in it.
    Str {
        text: String,
        holes: Vec<Expr>,
    },
    /// A list or a tuple.
    Seq(Vec<Expr>),
    Attr(Box<Expr>, String),
    Index(Box<Expr>, Vec<Expr>),
    Call {
        func: Box<Expr>,
        args: Vec<Expr>,
        kwargs: Vec<(String, Expr)>,
    },
    BinOp(Box<Expr>, char, Box<Expr>),
    Junk,
}

pub(super) fn children(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::Name(_) | Expr::Num(_) | Expr::Junk => vec![],
        Expr::Str { holes: items, .. } | Expr::Seq(items) => items.iter().collect(),
        Expr::Attr(x, _) => vec![x],
        Expr::Index(x, index) => std::iter::once(&**x).chain(index).collect(),
        Expr::Call { func, args, kwargs } => std::iter::once(&**func).chain(args).chain(kwargs.iter().map(|(_, v)| v)).collect(),
        Expr::BinOp(l, _, r) => vec![l, r],
    }
}

/// The statements in `code`, and whether it is exactly one well-formed statement.
pub(super) fn parse(code: &str) -> (Vec<Expr>, bool) {
    let mut p = Parser::new(code);
    let mut statements = Vec::new();
    while !p.at_end() {
        statements.push(p.statement());
    }
    let one = statements.len() == 1;
    (statements, p.ok && one)
}

/// Brackets nested deeper than any answer needs; the limit keeps garbage from recursing without end.
const MAX_DEPTH: usize = 32;

/// The items between brackets: positional, keyword, and whether the last one had a comma after it.
#[derive(Default)]
struct Items {
    args: Vec<Expr>,
    kwargs: Vec<(String, Expr)>,
    comma: bool,
}

/// A recursive-descent parser for the little Python the answers are written in: names, numbers,
/// strings, lists, tuples, attributes, calls, indexing and `+ - * / %`.
struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
    /// Cleared at the first thing that is not well formed.
    ok: bool,
}

impl Parser {
    fn new(code: &str) -> Self {
        Self { toks: tokenize(code), pos: 0, depth: 0, ok: true }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }

    fn peek(&self, c: char) -> bool {
        self.toks.get(self.pos) == Some(&Tok::Punct(c))
    }

    fn eat(&mut self, c: char) -> bool {
        let here = self.peek(c);
        self.pos += here as usize;
        here
    }

    /// `return value`, `target = value` or a call: a bare value or a sentence is no answer.
    fn statement(&mut self) -> Expr {
        if matches!(self.toks.get(self.pos), Some(Tok::Name(n)) if n == "return") {
            self.pos += 1;
            return self.expr();
        }
        let e = self.expr();
        if self.eat('=') {
            self.ok &= matches!(e, Expr::Name(_) | Expr::Attr(..) | Expr::Index(..));
            return self.expr();
        }
        self.ok &= matches!(e, Expr::Call { .. });
        e
    }

    /// Sums of products, each left to right.
    fn expr(&mut self) -> Expr {
        let mut e = self.product();
        while let Some(op) = self.operator("+-") {
            e = Expr::BinOp(Box::new(e), op, Box::new(self.product()));
        }
        e
    }

    fn product(&mut self) -> Expr {
        let mut e = self.postfix();
        while let Some(op) = self.operator("*/%") {
            e = Expr::BinOp(Box::new(e), op, Box::new(self.postfix()));
        }
        e
    }

    fn operator(&mut self, ops: &str) -> Option<char> {
        match self.toks.get(self.pos) {
            Some(&Tok::Punct(c)) if ops.contains(c) => {
                self.pos += 1;
                Some(c)
            }
            _ => None,
        }
    }

    /// An atom followed by any `.name`, `(arguments)` and `[index]`.
    fn postfix(&mut self) -> Expr {
        let mut e = self.atom();
        loop {
            if self.eat('.') {
                let Some(Tok::Name(n)) = self.toks.get(self.pos).cloned() else {
                    self.ok = false;
                    return e;
                };
                self.pos += 1;
                e = Expr::Attr(Box::new(e), n);
            } else if self.eat('(') {
                let items = self.items(')');
                e = Expr::Call { func: Box::new(e), args: items.args, kwargs: items.kwargs };
            } else if self.eat('[') {
                let items = self.items(']');
                self.ok &= !items.args.is_empty() && items.kwargs.is_empty();
                e = Expr::Index(Box::new(e), items.args);
            } else {
                return e;
            }
        }
    }

    fn atom(&mut self) -> Expr {
        let Some(tok) = self.toks.get(self.pos).cloned() else {
            self.ok = false;
            return Expr::Junk;
        };
        self.pos += 1;
        match tok {
            Tok::Name(n) => Expr::Name(n),
            Tok::Num(n) => Expr::Num(n),
            Tok::Str { text, f } => {
                let holes = if f { self.holes(&text) } else { Vec::new() };
                Expr::Str { text, holes }
            }
            Tok::Punct(open @ ('(' | '[')) => {
                let mut items = self.items(if open == '(' { ')' } else { ']' });
                self.ok &= items.kwargs.is_empty();
                // `(x)` only groups; `(x,)` is a tuple.
                if open == '(' && items.args.len() == 1 && !items.comma {
                    items.args.remove(0)
                } else {
                    Expr::Seq(items.args)
                }
            }
            _ => {
                self.ok = false;
                Expr::Junk
            }
        }
    }

    /// The comma-separated items up to `close`. Without a closing bracket the items read so far
    /// are kept, so a cut-off answer still reaches the rules.
    fn items(&mut self, close: char) -> Items {
        let mut items = Items::default();
        if self.depth == MAX_DEPTH {
            self.ok = false;
            self.pos = self.toks.len();
            return items;
        }
        self.depth += 1;
        while !self.eat(close) {
            if self.at_end() {
                self.ok = false;
                break;
            }
            match (self.toks.get(self.pos), self.toks.get(self.pos + 1)) {
                (Some(Tok::Name(key)), Some(Tok::Punct('='))) => {
                    let key = key.clone();
                    self.pos += 2;
                    let value = self.expr();
                    items.kwargs.push((key, value));
                }
                _ => {
                    let value = self.expr();
                    items.args.push(value);
                }
            }
            items.comma = self.eat(',');
            self.ok &= items.comma || self.peek(close);
        }
        self.depth -= 1;
        items
    }

    /// The expressions interpolated in an f-string's text; `{{` and `}}` are literal braces.
    fn holes(&mut self, text: &str) -> Vec<Expr> {
        let mut holes = Vec::new();
        let mut rest = text;
        while let Some(at) = rest.find(['{', '}']) {
            let brace = &rest[at..at + 1];
            let after = &rest[at + 1..];
            if let Some(doubled) = after.strip_prefix(brace) {
                rest = doubled;
            } else if brace == "}" {
                self.ok = false;
                rest = after;
            } else {
                let end = after.find('}');
                self.ok &= end.is_some();
                let inside = &after[..end.unwrap_or(after.len())];
                // A conversion or format spec (`{x!r}`, `{x:>8}`) is not part of the expression.
                let expr = inside.split(['!', ':']).next().unwrap_or_default();
                let mut p = Parser::new(expr);
                holes.push(p.expr());
                self.ok &= p.ok && p.at_end();
                rest = end.map_or("", |end| &after[end + 1..]);
            }
        }
        holes
    }
}
