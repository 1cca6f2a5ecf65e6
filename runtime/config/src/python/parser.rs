//! The statements and expressions of MMCV configs, parsed into a small tree: assignments
//! (chained, or into a variable's item), and expressions from literals, containers, calls,
//! comprehensions, f-strings and operators with Python's precedence. Every other statement
//! (`import`, `def`, `if`, ...) is an error at its keyword.

use std::ops::Range;

use super::lexer::{FPart, INDENT, Tok, Token};

/// Bytes of the file.
pub type Span = Range<usize>;

/// A parse error: message and place.
pub type ParseError = (String, Span);

/// An expression and where it was written.
#[derive(Debug, Clone)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where.
    pub span: Span,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `//`
    FloorDiv,
    /// `%`
    Mod,
    /// `**`
    Pow,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `in`
    In,
    /// `not in`
    NotIn,
}

/// An f-string piece, parsed.
#[derive(Debug, Clone)]
pub enum FPiece {
    /// Literal text.
    Text(String),
    /// An expression's `str()`.
    Expr(Expr),
}

/// Expression kinds.
#[derive(Debug, Clone)]
pub enum ExprKind {
    /// `None`.
    None,
    /// `True`/`False`.
    Bool(bool),
    /// An int.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// An f-string.
    FStr(Vec<FPiece>),
    /// A variable or builtin.
    Name(String),
    /// `[...]`.
    List(Vec<Expr>),
    /// `(a, b)`.
    Tuple(Vec<Expr>),
    /// `{k: v, **d}` (`None` key: unpacking).
    Dict(Vec<(Option<Expr>, Expr)>),
    /// `f(a, k=v, **d)`.
    Call {
        /// The callee.
        func: Box<Expr>,
        /// Positional arguments.
        args: Vec<Expr>,
        /// Keyword arguments.
        kwargs: Vec<Kwarg>,
    },
    /// `x[i]`.
    Index(Box<Expr>, Box<Expr>),
    /// `x.name` (only a few methods are evaluated).
    Attr(Box<Expr>, String),
    /// `-x`, `+x`.
    Neg(Box<Expr>, bool),
    /// `not x`.
    Not(Box<Expr>),
    /// `a op b`.
    Bin(BinOp, Box<Expr>, Box<Expr>),
    /// `a < b <= c`.
    Compare(Box<Expr>, Vec<(CmpOp, Expr)>),
    /// `a and b` (true) / `a or b` (false).
    Logic(bool, Box<Expr>, Box<Expr>),
    /// `a if cond else b`.
    IfElse(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `[elt for var in iter if cond]`, `{k: v for ...}` (the key in `key`).
    Comp {
        /// The key of a dict comprehension.
        key: Option<Box<Expr>>,
        /// The element (value).
        elt: Box<Expr>,
        /// Loop variables (one, or a tuple of names).
        vars: Vec<String>,
        /// The iterable.
        iter: Box<Expr>,
        /// `if` conditions.
        conds: Vec<Expr>,
    },
}

/// A keyword argument (`None`: `**mapping`).
pub type Kwarg = (Option<String>, Expr);

/// An assignment target.
#[derive(Debug, Clone)]
pub enum Target {
    /// `name = ...`.
    Name(String),
    /// `name[k1][k2] = ...`.
    Item(String, Vec<Expr>, Span),
}

/// One top-level statement.
#[derive(Debug, Clone)]
pub struct Assign {
    /// `a = b = value`: every target.
    pub targets: Vec<Target>,
    /// The value.
    pub value: Expr,
}

/// Parses a file's tokens into its assignments.
pub fn parse(tokens: &[Token]) -> Result<Vec<Assign>, ParseError> {
    let mut p = Parser {
        t: tokens,
        i: 0,
        depth: 0,
    };
    let mut out = Vec::new();
    while !p.is(&Tok::End) {
        if p.eat(&Tok::Newline) {
            continue;
        }
        if let Some(a) = p.statement()? {
            out.push(a);
        }
    }
    Ok(out)
}

/// Parses the tokens of an f-string's `{...}`.
fn parse_inner(tokens: &[Token], span: Span) -> Result<Expr, ParseError> {
    if tokens.len() <= 1 {
        return Err(("an empty `{}` in an f-string".into(), span));
    }
    let mut p = Parser {
        t: tokens,
        i: 0,
        depth: 0,
    };
    let e = p.expr()?;
    if !p.is(&Tok::End) {
        return Err(p.unexpected("the end of the f-string expression"));
    }
    Ok(e)
}

const STATEMENT_KEYWORDS: [&str; 17] = [
    "import", "from", "def", "class", "if", "elif", "else", "for", "while", "with", "try", "del",
    "lambda", "return", "assert", "global", "async",
];

/// Deepest expression tree accepted: configs nest a few levels; the bound keeps a hostile
/// file (100 000 `[` or `-`, a sum of a million terms) from overflowing the stack here and in
/// the evaluator, which walks the same tree.
const MAX_DEPTH: usize = 200;

/// How one level of left-associative operators joins its operands.
#[derive(Clone, Copy)]
enum Join {
    Bin(BinOp),
    /// `and` when true, `or` when false.
    Logic(bool),
}

struct Parser<'a> {
    t: &'a [Token],
    i: usize,
    /// Depth of the expression being parsed (nesting and operator chains).
    depth: usize,
}

impl Parser<'_> {
    fn tok(&self) -> &Token {
        &self.t[self.i.min(self.t.len() - 1)]
    }

    fn is(&self, k: &Tok) -> bool {
        &self.tok().kind == k
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(&self.tok().kind, Tok::Op(o) if *o == op)
    }

    fn is_name(&self, n: &str) -> bool {
        matches!(&self.tok().kind, Tok::Name(x) if x == n)
    }

    /// Steps over the current token when `matched`; returns `matched`.
    fn advance_if(&mut self, matched: bool) -> bool {
        if matched {
            self.i += 1;
        }
        matched
    }

    fn eat(&mut self, k: &Tok) -> bool {
        let matched = self.is(k);
        self.advance_if(matched)
    }

    fn eat_op(&mut self, op: &str) -> bool {
        let matched = self.is_op(op);
        self.advance_if(matched)
    }

    fn eat_name(&mut self, n: &str) -> bool {
        let matched = self.is_name(n);
        self.advance_if(matched)
    }

    fn unexpected(&self, wanted: &str) -> ParseError {
        let t = self.tok();
        let found = match &t.kind {
            Tok::Name(n) => format!("`{n}`"),
            Tok::Op(o) => format!("`{o}`"),
            Tok::Int(_) | Tok::Float(_) => "a number".into(),
            Tok::Str(_) | Tok::FStr(_) => "a string".into(),
            Tok::Newline => "the end of the line".into(),
            Tok::End => "the end of the file".into(),
        };
        (format!("expected {wanted}, found {found}"), t.span.clone())
    }

    /// One level deeper; an error past [`MAX_DEPTH`].
    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err((
                format!("an expression nested more than {MAX_DEPTH} deep"),
                self.tok().span.clone(),
            ));
        }
        Ok(())
    }

    fn expect_op(&mut self, op: &str) -> Result<(), ParseError> {
        if self.eat_op(op) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("`{op}`")))
        }
    }

    fn statement(&mut self) -> Result<Option<Assign>, ParseError> {
        if self.is_op(INDENT) {
            return Err((
                "an indented line: configs are assignments at the top level (if, for, def \
                 and class blocks are not read)"
                    .into(),
                self.tok().span.clone(),
            ));
        }
        if let Tok::Name(n) = &self.tok().kind
            && STATEMENT_KEYWORDS.contains(&n.as_str())
        {
            let what = match n.as_str() {
                "import" | "from" => "an import of code: a config is data (plugins are \
                    WebAssembly components listed in custom_imports)"
                    .to_string(),
                "lambda" => "a lambda: a config is data, not code".to_string(),
                kw => format!("a `{kw}` statement: configs are assignments at the top level"),
            };
            return Err((what, self.tok().span.clone()));
        }
        let first = self.expr()?;
        if !self.is_op("=") {
            // A docstring or a bare constant does nothing; anything else would be code.
            if matches!(first.kind, ExprKind::Str(_) | ExprKind::Int(_)) {
                self.end_line()?;
                return Ok(None);
            }
            if self.is_op(":") {
                return Err((
                    "an annotated assignment: write `name = value`".into(),
                    self.tok().span.clone(),
                ));
            }
            if let Tok::Op(op) = self.tok().kind
                && op.ends_with('=')
                && op.len() > 1
                && !["==", "!=", "<=", ">="].contains(&op)
            {
                return Err((
                    format!("`{op}`: write the value out (`x = x + 1` is fine)"),
                    self.tok().span.clone(),
                ));
            }
            return Err((
                "a statement that is not an assignment (a config is `name = value` lines)".into(),
                first.span,
            ));
        }
        let mut targets = vec![target(first)?];
        let mut value;
        loop {
            self.expect_op("=")?;
            value = self.tuple_or_expr()?;
            if self.is_op("=") {
                targets.push(target(value.clone())?);
            } else {
                break;
            }
        }
        self.end_line()?;
        Ok(Some(Assign { targets, value }))
    }

    fn end_line(&mut self) -> Result<(), ParseError> {
        if self.eat_op(";") {
            return Err((
                "`;`: one assignment per line".into(),
                self.t[self.i - 1].span.clone(),
            ));
        }
        if self.eat(&Tok::Newline) || self.is(&Tok::End) {
            Ok(())
        } else {
            Err(self.unexpected("the end of the line"))
        }
    }

    /// `a, b` without brackets is a tuple at the right of `=`.
    fn tuple_or_expr(&mut self) -> Result<Expr, ParseError> {
        let first = self.expr()?;
        if !self.is_op(",") {
            return Ok(first);
        }
        let start = first.span.start;
        let mut items = vec![first];
        while self.eat_op(",") {
            if self.is(&Tok::Newline) || self.is(&Tok::End) || self.is_op("=") {
                break;
            }
            items.push(self.expr()?);
        }
        let end = items.last().map_or(start, |e| e.span.end);
        Ok(Expr {
            kind: ExprKind::Tuple(items),
            span: start..end,
        })
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        let outer = self.depth;
        let e = self.enter().and_then(|()| self.expr_inner());
        self.depth = outer;
        e
    }

    fn expr_inner(&mut self) -> Result<Expr, ParseError> {
        if self.is_name("lambda") {
            return Err((
                "a lambda: a config is data, not code".into(),
                self.tok().span.clone(),
            ));
        }
        let body = self.or_expr()?;
        if self.eat_name("if") {
            let cond = self.or_expr()?;
            if !self.eat_name("else") {
                return Err(self.unexpected("`else`"));
            }
            let other = self.expr()?;
            let span = body.span.start..other.span.end;
            return Ok(Expr {
                kind: ExprKind::IfElse(Box::new(cond), Box::new(body), Box::new(other)),
                span,
            });
        }
        Ok(body)
    }

    fn or_expr(&mut self) -> Result<Expr, ParseError> {
        self.left_assoc(Self::and_expr, |p| {
            Ok(p.is_name("or").then_some(Join::Logic(false)))
        })
    }

    fn and_expr(&mut self) -> Result<Expr, ParseError> {
        self.left_assoc(Self::not_expr, |p| {
            Ok(p.is_name("and").then_some(Join::Logic(true)))
        })
    }

    fn not_expr(&mut self) -> Result<Expr, ParseError> {
        let start = self.tok().span.start;
        if self.eat_name("not") {
            let e = self.not_expr()?;
            let span = start..e.span.end;
            return Ok(Expr {
                kind: ExprKind::Not(Box::new(e)),
                span,
            });
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, ParseError> {
        let first = self.arith()?;
        let mut rest = Vec::new();
        loop {
            let op = match &self.tok().kind {
                Tok::Op("==") => CmpOp::Eq,
                Tok::Op("!=") => CmpOp::Ne,
                Tok::Op("<") => CmpOp::Lt,
                Tok::Op("<=") => CmpOp::Le,
                Tok::Op(">") => CmpOp::Gt,
                Tok::Op(">=") => CmpOp::Ge,
                Tok::Name(n) if n == "in" => CmpOp::In,
                Tok::Name(n) if n == "not" => {
                    self.i += 1;
                    if !self.is_name("in") {
                        return Err(self.unexpected("`in`"));
                    }
                    CmpOp::NotIn
                }
                Tok::Name(n) if n == "is" => {
                    return Err((
                        "`is`: compare values with `==`".into(),
                        self.tok().span.clone(),
                    ));
                }
                _ => break,
            };
            self.i += 1;
            rest.push((op, self.arith()?));
        }
        if rest.is_empty() {
            return Ok(first);
        }
        let span = first.span.start..rest.last().expect("one").1.span.end;
        Ok(Expr {
            kind: ExprKind::Compare(Box::new(first), rest),
            span,
        })
    }

    fn arith(&mut self) -> Result<Expr, ParseError> {
        self.left_assoc(Self::term, |p| {
            Ok(match &p.tok().kind {
                Tok::Op("+") => Some(Join::Bin(BinOp::Add)),
                Tok::Op("-") => Some(Join::Bin(BinOp::Sub)),
                _ => None,
            })
        })
    }

    fn term(&mut self) -> Result<Expr, ParseError> {
        self.left_assoc(Self::factor, |p| {
            Ok(match &p.tok().kind {
                Tok::Op("*") => Some(Join::Bin(BinOp::Mul)),
                Tok::Op("/") => Some(Join::Bin(BinOp::Div)),
                Tok::Op("//") => Some(Join::Bin(BinOp::FloorDiv)),
                Tok::Op("%") => Some(Join::Bin(BinOp::Mod)),
                Tok::Op(op @ ("@" | "|")) => {
                    return Err((format!("the `{op}` operator"), p.tok().span.clone()));
                }
                _ => None,
            })
        })
    }

    /// One level of left-associative operators (`or`, `and`, `+ -`, `* / // %`):
    /// `operand (op operand)*`, where `op` reads the operator at the cursor (None ends the
    /// level). Each operator counts towards the nesting depth, so a long chain is refused
    /// like deep nesting.
    fn left_assoc(
        &mut self,
        operand: fn(&mut Self) -> Result<Expr, ParseError>,
        op: impl Fn(&Self) -> Result<Option<Join>, ParseError>,
    ) -> Result<Expr, ParseError> {
        let mut left = operand(self)?;
        let outer = self.depth;
        while let Some(join) = op(self)? {
            self.i += 1;
            self.enter()?;
            let (l, r) = (Box::new(left), Box::new(operand(self)?));
            let span = l.span.start..r.span.end;
            let kind = match join {
                Join::Bin(op) => ExprKind::Bin(op, l, r),
                Join::Logic(and) => ExprKind::Logic(and, l, r),
            };
            left = Expr { kind, span };
        }
        self.depth = outer;
        Ok(left)
    }

    fn factor(&mut self) -> Result<Expr, ParseError> {
        let start = self.tok().span.start;
        for (op, negate) in [("-", true), ("+", false)] {
            if self.eat_op(op) {
                self.enter()?;
                let e = self.factor()?;
                self.depth -= 1;
                let span = start..e.span.end;
                return Ok(Expr {
                    kind: ExprKind::Neg(Box::new(e), negate),
                    span,
                });
            }
        }
        if self.is_op("~") {
            return Err(("the `~` operator".into(), self.tok().span.clone()));
        }
        self.power()
    }

    fn power(&mut self) -> Result<Expr, ParseError> {
        let base = self.postfix()?;
        if self.eat_op("**") {
            self.enter()?;
            let exp = self.factor()?;
            self.depth -= 1;
            let span = base.span.start..exp.span.end;
            return Ok(Expr {
                kind: ExprKind::Bin(BinOp::Pow, Box::new(base), Box::new(exp)),
                span,
            });
        }
        Ok(base)
    }

    fn postfix(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.atom()?;
        let outer = self.depth;
        loop {
            if self.is_op("(") || self.is_op("[") || self.is_op(".") {
                self.enter()?;
            }
            if self.eat_op("(") {
                let (args, kwargs) = self.call_args()?;
                let end = self.t[self.i - 1].span.end;
                let span = e.span.start..end;
                e = Expr {
                    kind: ExprKind::Call {
                        func: Box::new(e),
                        args,
                        kwargs,
                    },
                    span,
                };
            } else if self.eat_op("[") {
                if self.is_op(":") {
                    return Err((
                        "a slice: write the items out".into(),
                        self.tok().span.clone(),
                    ));
                }
                let idx = self.tuple_or_expr()?;
                if self.is_op(":") {
                    return Err((
                        "a slice: write the items out".into(),
                        self.tok().span.clone(),
                    ));
                }
                self.expect_op("]")?;
                let span = e.span.start..self.t[self.i - 1].span.end;
                e = Expr {
                    kind: ExprKind::Index(Box::new(e), Box::new(idx)),
                    span,
                };
            } else if self.eat_op(".") {
                let Tok::Name(name) = &self.tok().kind else {
                    return Err(self.unexpected("a name after `.`"));
                };
                let name = name.clone();
                let span = e.span.start..self.tok().span.end;
                self.i += 1;
                e = Expr {
                    kind: ExprKind::Attr(Box::new(e), name),
                    span,
                };
            } else {
                self.depth = outer;
                return Ok(e);
            }
        }
    }

    fn call_args(&mut self) -> Result<(Vec<Expr>, Vec<Kwarg>), ParseError> {
        let mut args = Vec::new();
        let mut kwargs = Vec::new();
        while !self.eat_op(")") {
            if self.eat_op("**") {
                kwargs.push((None, self.expr()?));
            } else if self.is_op("*") {
                return Err((
                    "`*args` unpacking: write the items out".into(),
                    self.tok().span.clone(),
                ));
            } else if let Tok::Name(n) = &self.tok().kind
                && matches!(self.t.get(self.i + 1).map(|t| &t.kind), Some(Tok::Op("=")))
            {
                let n = n.clone();
                self.i += 2;
                kwargs.push((Some(n), self.expr()?));
            } else {
                if !kwargs.is_empty() {
                    return Err((
                        "a positional argument after a keyword argument".into(),
                        self.tok().span.clone(),
                    ));
                }
                let e = self.expr()?;
                if self.is_name("for") {
                    return Err((
                        "a generator expression: use a list `[... for ...]`".into(),
                        e.span,
                    ));
                }
                args.push(e);
            }
            if !self.eat_op(",") {
                self.expect_op(")")?;
                break;
            }
        }
        Ok((args, kwargs))
    }

    /// `for a in it if c ...` after an element.
    fn comp_tail(&mut self) -> Result<(Vec<String>, Expr, Vec<Expr>), ParseError> {
        let mut vars = Vec::new();
        loop {
            let Tok::Name(n) = &self.tok().kind else {
                return Err(self.unexpected("a loop variable"));
            };
            vars.push(n.clone());
            self.i += 1;
            if !self.eat_op(",") {
                break;
            }
        }
        if !self.eat_name("in") {
            return Err(self.unexpected("`in`"));
        }
        let iter = self.or_expr()?;
        let mut conds = Vec::new();
        while self.eat_name("if") {
            conds.push(self.or_expr()?);
        }
        if self.is_name("for") {
            return Err((
                "a comprehension with two `for`s".into(),
                self.tok().span.clone(),
            ));
        }
        Ok((vars, iter, conds))
    }

    fn atom(&mut self) -> Result<Expr, ParseError> {
        let t = self.tok().clone();
        let start = t.span.start;
        let done = |p: &Parser, kind| Expr {
            kind,
            span: start..p.t[p.i - 1].span.end,
        };
        match t.kind {
            Tok::Int(v) => {
                self.i += 1;
                Ok(done(self, ExprKind::Int(v)))
            }
            Tok::Float(v) => {
                self.i += 1;
                Ok(done(self, ExprKind::Float(v)))
            }
            Tok::Str(_) | Tok::FStr(_) => {
                // Adjacent literals join, as in Python.
                let mut pieces: Vec<FPiece> = Vec::new();
                let mut plain = true;
                while let Tok::Str(_) | Tok::FStr(_) = &self.tok().kind {
                    match self.tok().kind.clone() {
                        Tok::Str(s) => pieces.push(FPiece::Text(s)),
                        Tok::FStr(parts) => {
                            plain = false;
                            for part in parts {
                                pieces.push(match part {
                                    FPart::Text(s) => FPiece::Text(s),
                                    FPart::Expr(tokens) => {
                                        FPiece::Expr(parse_inner(&tokens, self.tok().span.clone())?)
                                    }
                                });
                            }
                        }
                        _ => unreachable!("matched above"),
                    }
                    self.i += 1;
                }
                if plain {
                    let text: String = pieces
                        .into_iter()
                        .map(|p| match p {
                            FPiece::Text(s) => s,
                            FPiece::Expr(_) => unreachable!("plain strings only"),
                        })
                        .collect();
                    Ok(done(self, ExprKind::Str(text)))
                } else {
                    Ok(done(self, ExprKind::FStr(pieces)))
                }
            }
            Tok::Name(n) => {
                self.i += 1;
                let kind = match n.as_str() {
                    "None" => ExprKind::None,
                    "True" => ExprKind::Bool(true),
                    "False" => ExprKind::Bool(false),
                    _ => ExprKind::Name(n),
                };
                Ok(done(self, kind))
            }
            Tok::Op("(") => {
                self.i += 1;
                if self.eat_op(")") {
                    return Ok(done(self, ExprKind::Tuple(Vec::new())));
                }
                let first = self.expr()?;
                if self.is_name("for") {
                    return Err((
                        "a generator expression: use a list `[... for ...]`".into(),
                        first.span,
                    ));
                }
                if self.eat_op(")") {
                    // Parentheses only group.
                    return Ok(Expr {
                        kind: first.kind,
                        span: start..self.t[self.i - 1].span.end,
                    });
                }
                let mut items = vec![first];
                while self.eat_op(",") {
                    if self.is_op(")") {
                        break;
                    }
                    items.push(self.expr()?);
                }
                self.expect_op(")")?;
                Ok(done(self, ExprKind::Tuple(items)))
            }
            Tok::Op("[") => {
                self.i += 1;
                let mut items = Vec::new();
                while !self.eat_op("]") {
                    if self.is_op("*") {
                        return Err((
                            "`*` unpacking: write the items out".into(),
                            self.tok().span.clone(),
                        ));
                    }
                    let e = self.expr()?;
                    if self.eat_name("for") {
                        let (vars, iter, conds) = self.comp_tail()?;
                        self.expect_op("]")?;
                        return Ok(done(
                            self,
                            ExprKind::Comp {
                                key: None,
                                elt: Box::new(e),
                                vars,
                                iter: Box::new(iter),
                                conds,
                            },
                        ));
                    }
                    items.push(e);
                    if !self.eat_op(",") {
                        self.expect_op("]")?;
                        break;
                    }
                }
                Ok(done(self, ExprKind::List(items)))
            }
            Tok::Op("{") => {
                self.i += 1;
                let mut items = Vec::new();
                while !self.eat_op("}") {
                    if self.eat_op("**") {
                        items.push((None, self.or_expr()?));
                    } else {
                        let k = self.expr()?;
                        if !self.eat_op(":") {
                            return Err((
                                "a set: configs use lists, dicts and tuples".into(),
                                k.span,
                            ));
                        }
                        let v = self.expr()?;
                        if self.eat_name("for") {
                            let (vars, iter, conds) = self.comp_tail()?;
                            self.expect_op("}")?;
                            return Ok(done(
                                self,
                                ExprKind::Comp {
                                    key: Some(Box::new(k)),
                                    elt: Box::new(v),
                                    vars,
                                    iter: Box::new(iter),
                                    conds,
                                },
                            ));
                        }
                        items.push((Some(k), v));
                    }
                    if !self.eat_op(",") {
                        self.expect_op("}")?;
                        break;
                    }
                }
                Ok(done(self, ExprKind::Dict(items)))
            }
            _ => Err(self.unexpected("a value")),
        }
    }
}

fn target(e: Expr) -> Result<Target, ParseError> {
    let span = e.span.clone();
    match e.kind {
        ExprKind::Name(n) => Ok(Target::Name(n)),
        ExprKind::Index(mut base, idx) => {
            let mut keys = vec![*idx];
            loop {
                match base.kind {
                    ExprKind::Name(n) => {
                        keys.reverse();
                        return Ok(Target::Item(n, keys, span));
                    }
                    ExprKind::Index(b, i) => {
                        keys.push(*i);
                        base = b;
                    }
                    _ => break,
                }
            }
            Err((
                "an assignment into something that is not a variable's item".into(),
                span,
            ))
        }
        ExprKind::Tuple(_) => Err((
            "unpacking assignment (`a, b = ...`): assign each name".into(),
            span,
        )),
        ExprKind::Attr(..) => Err((
            "an attribute assignment (`x.y = ...`): configs hold dicts; write `x['y'] = ...`"
                .into(),
            span,
        )),
        _ => Err(("the left of `=` must be a name".into(), span)),
    }
}
