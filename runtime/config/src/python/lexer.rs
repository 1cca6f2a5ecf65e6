//! Tokens of the Python that MMCV configs are written in: names, numbers, strings (raw, f-
//! and triple-quoted; bytes are refused), operators and logical line ends. Newlines inside
//! brackets and after a backslash do not end a line, as in Python; an indented line does not
//! start a block, since configs have none.

use std::ops::Range;

/// A token and the bytes of the text it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// What it is.
    pub kind: Tok,
    /// Where it is.
    pub span: Range<usize>,
}

/// One piece of an f-string.
#[derive(Debug, Clone, PartialEq)]
pub enum FPart {
    /// Literal text.
    Text(String),
    /// `{expr}` (its tokens; `!r`/`!s` conversions and format specs are refused).
    Expr(Vec<Token>),
}

/// Token kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A name or keyword.
    Name(String),
    /// An integer literal.
    Int(i64),
    /// A float literal.
    Float(f64),
    /// A string literal.
    Str(String),
    /// An f-string.
    FStr(Vec<FPart>),
    /// Punctuation and operators.
    Op(&'static str),
    /// The end of a logical line.
    Newline,
    /// The end of the text.
    End,
}

/// Operators, longest first so that `**` is not read as `*` `*`.
const OPS: [&str; 30] = [
    "**=", "//=", "**", "//", "==", "!=", "<=", ">=", "+=", "-=", "*=", "/=", "->", ":=", "(", ")",
    "[", "]", "{", "}", ",", ":", ".", "=", "+", "-", "*", "/", "%", "<",
];
const MORE_OPS: [&str; 5] = [">", "~", "@", ";", "|"];

/// The token an indented line starts with (configs have no blocks).
pub const INDENT: &str = "<indent>";

/// A lexing error: message and byte offset.
pub type LexError = (String, Range<usize>);

/// Splits `text` (starting at byte `base` of the file) into tokens.
pub fn lex(text: &str, base: usize) -> Result<Vec<Token>, LexError> {
    Lexer {
        src: text,
        pos: 0,
        base,
        depth: 0,
        open: Vec::new(),
        out: Vec::new(),
        line_start: true,
    }
    .run()
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    base: usize,
    depth: usize,
    /// Where each open bracket is, innermost last.
    open: Vec<usize>,
    out: Vec<Token>,
    line_start: bool,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn at(&self, s: &str) -> bool {
        self.src[self.pos..].starts_with(s)
    }

    fn span(&self, start: usize) -> Range<usize> {
        self.base + start..self.base + self.pos
    }

    fn push(&mut self, kind: Tok, start: usize) {
        let span = self.span(start);
        self.out.push(Token { kind, span });
    }

    fn err<T>(&self, msg: impl Into<String>, start: usize) -> Result<T, LexError> {
        Err((
            msg.into(),
            self.base + start..self.base + self.pos.max(start + 1),
        ))
    }

    fn run(mut self) -> Result<Vec<Token>, LexError> {
        while let Some(c) = self.peek() {
            let start = self.pos;
            if self.line_start && self.depth == 0 {
                // Leading blanks of a logical line: allowed only on blank or comment lines.
                let rest = &self.src[self.pos..];
                let indent = rest.len() - rest.trim_start_matches([' ', '\t']).len();
                let after = &rest[indent..];
                self.pos += indent;
                if indent > 0 && !(after.is_empty() || after.starts_with(['\n', '\r', '#'])) {
                    // The parser reports it, after the `if` or `def` above it if any.
                    self.push(Tok::Op(INDENT), start);
                }
                self.line_start = false;
                continue;
            }
            match c {
                '\n' => {
                    self.pos += 1;
                    if self.depth == 0 {
                        if !matches!(self.out.last().map(|t| &t.kind), None | Some(Tok::Newline)) {
                            self.push(Tok::Newline, start);
                        }
                        self.line_start = true;
                    }
                }
                ' ' | '\t' | '\r' | '\x0c' => self.pos += 1,
                '#' => {
                    self.pos = self.src[self.pos..]
                        .find('\n')
                        .map_or(self.src.len(), |n| self.pos + n);
                }
                '\\' => {
                    self.pos += 1;
                    if self.at("\r\n") {
                        self.pos += 2;
                    } else if self.at("\n") {
                        self.pos += 1;
                    } else {
                        return self.err("a backslash outside a string must end the line", start);
                    }
                }
                c if c.is_ascii_digit() || (c == '.' && self.next_is_digit()) => self.number()?,
                c if c.is_alphabetic() || c == '_' => {
                    let word_end = self.src[self.pos..]
                        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .map_or(self.src.len(), |n| self.pos + n);
                    let word = &self.src[self.pos..word_end];
                    let lower = word.to_ascii_lowercase();
                    let after = &self.src[word_end..];
                    if matches!(
                        lower.as_str(),
                        "r" | "u" | "f" | "b" | "rb" | "br" | "fr" | "rf"
                    ) && after.starts_with(['\'', '"'])
                    {
                        self.pos = word_end;
                        self.string(start, &lower)?;
                    } else {
                        self.pos = word_end;
                        self.push(Tok::Name(word.to_string()), start);
                    }
                }
                '\'' | '"' => self.string(start, "")?,
                _ => {
                    let Some(op) = OPS.iter().chain(MORE_OPS.iter()).find(|op| self.at(op)) else {
                        self.pos += c.len_utf8();
                        return self.err(format!("unexpected character {c:?}"), start);
                    };
                    self.pos += op.len();
                    match *op {
                        "(" | "[" | "{" => {
                            self.depth += 1;
                            self.open.push(start);
                        }
                        ")" | "]" | "}" => {
                            if self.depth == 0 {
                                return self.err(format!("unmatched {op:?}"), start);
                            }
                            self.depth -= 1;
                            self.open.pop();
                        }
                        _ => {}
                    }
                    self.push(Tok::Op(op), start);
                }
            }
        }
        if let Some(&at) = self.open.last() {
            self.pos = at + 1;
            return self.err("this bracket is never closed", at);
        }
        let end = self.pos;
        if !matches!(self.out.last().map(|t| &t.kind), None | Some(Tok::Newline)) {
            self.push(Tok::Newline, end);
        }
        self.push(Tok::End, end);
        Ok(self.out)
    }

    fn next_is_digit(&self) -> bool {
        self.src[self.pos + 1..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    }

    fn number(&mut self) -> Result<(), LexError> {
        let start = self.pos;
        let rest = &self.src[self.pos..];
        let lower = rest.get(..2).map(str::to_ascii_lowercase);
        if let Some(radix) = match lower.as_deref() {
            Some("0x") => Some(16),
            Some("0o") => Some(8),
            Some("0b") => Some(2),
            _ => None,
        } {
            let len = 2 + rest[2..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len() - 2);
            self.pos += len;
            let digits = rest[2..len].replace('_', "");
            let v = i64::from_str_radix(&digits, radix);
            return match v {
                Ok(v) => {
                    self.push(Tok::Int(v), start);
                    Ok(())
                }
                Err(_) => self.err("an integer literal that is not a 64-bit integer", start),
            };
        }
        let bytes = rest.as_bytes();
        let mut i = 0;
        let mut float = false;
        let digits = |i: &mut usize| {
            while *i < bytes.len() && (bytes[*i].is_ascii_digit() || bytes[*i] == b'_') {
                *i += 1;
            }
        };
        digits(&mut i);
        if i < bytes.len() && bytes[i] == b'.' {
            float = true;
            i += 1;
            digits(&mut i);
        }
        if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
            let mut j = i + 1;
            if j < bytes.len() && (bytes[j] == b'+' || bytes[j] == b'-') {
                j += 1;
            }
            if j < bytes.len() && bytes[j].is_ascii_digit() {
                float = true;
                i = j;
                digits(&mut i);
            }
        }
        self.pos += i;
        if self.peek().is_some_and(|c| c == 'j' || c == 'J') {
            self.pos += 1;
            return self.err("a complex number", start);
        }
        if self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            return self.err("a malformed number", start);
        }
        let text = rest[..i].replace('_', "");
        if float {
            match text.parse::<f64>() {
                Ok(v) => self.push(Tok::Float(v), start),
                Err(_) => return self.err("a malformed number", start),
            }
        } else {
            if text.len() > 1 && text.starts_with('0') && text.bytes().any(|b| b != b'0') {
                return self.err("a decimal integer with a leading zero", start);
            }
            match text.parse::<i64>() {
                Ok(v) => self.push(Tok::Int(v), start),
                Err(_) => {
                    return self.err("an integer literal that is not a 64-bit integer", start);
                }
            }
        }
        Ok(())
    }

    /// A string literal whose prefix (lowercase) has been read; `self.pos` is at the quote.
    fn string(&mut self, start: usize, prefix: &str) -> Result<(), LexError> {
        if prefix.contains('b') {
            self.pos += 1;
            return self.err(
                "a bytes literal: configs hold text, numbers and containers",
                start,
            );
        }
        let raw = prefix.contains('r');
        let fmt = prefix.contains('f');
        let quote = self.peek().expect("at a quote");
        let triple: String = std::iter::repeat_n(quote, 3).collect();
        let close = if self.at(&triple) {
            triple
        } else {
            quote.to_string()
        };
        self.pos += close.len();
        let mut value = String::new();
        // Where each char of `value` starts in the file (for f-string expressions).
        let mut offsets = Vec::new();
        loop {
            if self.at(&close) {
                break;
            }
            let Some(c) = self.peek() else {
                return self.err("a string is never closed", start);
            };
            if c == '\n' && close.len() == 1 {
                return self.err("a string is never closed on its line", start);
            }
            let at = self.pos;
            if c == '\\' && !raw {
                self.pos += 1;
                let Some(e) = self.peek() else {
                    return self.err("a string is never closed", start);
                };
                self.pos += e.len_utf8();
                let decoded = match e {
                    '\n' => None,
                    'n' => Some('\n'),
                    't' => Some('\t'),
                    'r' => Some('\r'),
                    '0' => Some('\0'),
                    '\\' | '\'' | '"' => Some(e),
                    'a' => Some('\x07'),
                    'b' => Some('\x08'),
                    'f' => Some('\x0c'),
                    'v' => Some('\x0b'),
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex = self.src.get(self.pos..self.pos + n).unwrap_or("");
                        let code = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32);
                        let Some(ch) = code.filter(|_| hex.len() == n) else {
                            return self.err(format!("a malformed \\{e} escape"), at);
                        };
                        self.pos += n;
                        Some(ch)
                    }
                    // Python keeps unknown escapes as written.
                    other => {
                        value.push('\\');
                        offsets.push(at);
                        Some(other)
                    }
                };
                if let Some(ch) = decoded {
                    value.push(ch);
                    offsets.push(at);
                }
            } else {
                self.pos += c.len_utf8();
                value.push(c);
                offsets.push(at);
            }
        }
        let body_end = self.pos;
        self.pos += close.len();
        if fmt {
            let parts = self.fparts(&value, &offsets, body_end, start)?;
            self.push(Tok::FStr(parts), start);
        } else {
            self.push(Tok::Str(value), start);
        }
        Ok(())
    }

    /// Splits an f-string's decoded text into literal text and `{expression}`s.
    fn fparts(
        &self,
        value: &str,
        offsets: &[usize],
        body_end: usize,
        start: usize,
    ) -> Result<Vec<FPart>, LexError> {
        let chars: Vec<char> = value.chars().collect();
        let file_at = |i: usize| offsets.get(i).copied().unwrap_or(body_end);
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '{' if chars.get(i + 1) == Some(&'{') => {
                    text.push('{');
                    i += 2;
                }
                '}' if chars.get(i + 1) == Some(&'}') => {
                    text.push('}');
                    i += 2;
                }
                '{' => {
                    let open = i;
                    let mut depth = 0;
                    let mut j = i + 1;
                    while j < chars.len() && !(chars[j] == '}' && depth == 0) {
                        match chars[j] {
                            '(' | '[' | '{' => depth += 1,
                            ')' | ']' | '}' => depth -= 1,
                            _ => {}
                        }
                        j += 1;
                    }
                    if j >= chars.len() {
                        return Err((
                            "an f-string `{` is never closed".into(),
                            self.base + start..self.base + body_end,
                        ));
                    }
                    let inner: String = chars[open + 1..j].iter().collect();
                    let (from, to) = (file_at(open + 1), file_at(j));
                    if inner.contains(['!', ':']) && !inner.contains("!=") {
                        return Err((
                            "an f-string conversion or format spec (`!r`, `:.2f`): write the \
                             value out"
                                .into(),
                            self.base + from..self.base + to,
                        ));
                    }
                    if !text.is_empty() {
                        parts.push(FPart::Text(std::mem::take(&mut text)));
                    }
                    // The expression's own text, lexed at its place in the file.
                    let src = &self.src[from.min(body_end)..to.min(body_end)];
                    let lead = src.len() - src.trim_start().len();
                    let mut tokens = lex(src.trim(), self.base + from + lead)?;
                    tokens.retain(|t| t.kind != Tok::Newline);
                    parts.push(FPart::Expr(tokens));
                    i = j + 1;
                }
                '}' => {
                    return Err((
                        "a single `}` in an f-string (write `}}`)".into(),
                        self.base + file_at(i)..self.base + file_at(i) + 1,
                    ));
                }
                c => {
                    text.push(c);
                    i += 1;
                }
            }
        }
        if !text.is_empty() {
            parts.push(FPart::Text(text));
        }
        Ok(parts)
    }
}
