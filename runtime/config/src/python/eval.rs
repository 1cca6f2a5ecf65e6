//! Runs a config's assignments as Python would, over values only: numbers, strings, lists,
//! tuples and dicts, a few builtins (`dict`, `range`, `len`, ...) and string methods. Each
//! value remembers the expression that made it, so that an error found later (a wrong type
//! in the schema) points at the Python source.

use indexmap::IndexMap;

use super::parser::{Assign, BinOp, CmpOp, Expr, ExprKind, FPiece, Kwarg, Span, Target};

/// An evaluation error: message and place.
pub type EvalError = (String, Span);

/// A dict key (Python allows any hashable; configs use strings and ints).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// A string key.
    Str(String),
    /// An int key (also `True`/`False`, which Python treats as 1 and 0).
    Int(i64),
}

/// A value with the span of the expression that made it.
#[derive(Debug, Clone)]
pub struct V {
    /// The value.
    pub val: Val,
    /// Where it was written.
    pub span: Span,
}

/// Python values a config can hold.
#[derive(Debug, Clone)]
pub enum Val {
    /// `None`.
    None,
    /// A bool.
    Bool(bool),
    /// An int (64 bits; an overflow is an error).
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A list.
    List(Vec<V>),
    /// A tuple.
    Tuple(Vec<V>),
    /// A dict, in insertion order.
    Dict(IndexMap<Key, V>),
}

/// Longest list or string an expression may build (`[0] * 10**9` is an error, not a hang).
const MAX_LEN: usize = 1 << 22;

/// Most values one variable may hold, nested or not, and the deepest nesting: a config holds
/// thousands; `a = [a, a]` thirty times over would hold a billion, and `a = [a]` a hundred
/// thousand times over would nest too deep to walk.
const MAX_NODES: usize = 1 << 20;
const MAX_NESTING: usize = 64;

/// Counts the values in `v` against `budget`, failing past it or past [`MAX_NESTING`].
fn weigh(v: &Val, depth: usize, budget: &mut usize) -> Result<(), &'static str> {
    if depth > MAX_NESTING {
        return Err("values nested deeper than any config");
    }
    *budget = budget
        .checked_sub(1)
        .ok_or("more values than any config holds")?;
    match v {
        Val::List(xs) | Val::Tuple(xs) => {
            xs.iter().try_for_each(|x| weigh(&x.val, depth + 1, budget))
        }
        Val::Dict(d) => d
            .values()
            .try_for_each(|x| weigh(&x.val, depth + 1, budget)),
        _ => Ok(()),
    }
}

/// The values in `items` (at most [`MAX_NODES`] + 1).
fn nodes(items: &[V]) -> usize {
    let mut budget = MAX_NODES;
    let within = items.iter().try_for_each(|x| weigh(&x.val, 0, &mut budget));
    if within.is_err() {
        MAX_NODES + 1
    } else {
        MAX_NODES - budget
    }
}

/// [`weigh`] with a fresh budget, as an error at `span`.
fn check_size(v: &Val, span: &Span) -> Result<(), EvalError> {
    let mut budget = MAX_NODES;
    weigh(v, 0, &mut budget).map_err(|m| (m.to_string(), span.clone()))
}

/// The module's variables after running `program`, in first-assignment order.
pub fn run(program: &[Assign]) -> Result<IndexMap<String, V>, EvalError> {
    let mut env = Env {
        vars: IndexMap::new(),
        locals: Vec::new(),
    };
    for a in program {
        let value = env.eval(&a.value)?;
        check_size(&value.val, &value.span)?;
        for t in &a.targets {
            env.assign(t, value.clone())?;
        }
    }
    Ok(env.vars)
}

struct Env {
    vars: IndexMap<String, V>,
    /// Comprehension variables, innermost last.
    locals: Vec<(String, V)>,
}

fn type_name(v: &Val) -> &'static str {
    match v {
        Val::None => "None",
        Val::Bool(_) => "bool",
        Val::Int(_) => "int",
        Val::Float(_) => "float",
        Val::Str(_) => "str",
        Val::List(_) => "list",
        Val::Tuple(_) => "tuple",
        Val::Dict(_) => "dict",
    }
}

fn truthy(v: &Val) -> bool {
    match v {
        Val::None => false,
        Val::Bool(b) => *b,
        Val::Int(i) => *i != 0,
        Val::Float(f) => *f != 0.0,
        Val::Str(s) => !s.is_empty(),
        Val::List(x) | Val::Tuple(x) => !x.is_empty(),
        Val::Dict(d) => !d.is_empty(),
    }
}

/// A number as Python's arithmetic sees it.
enum Num {
    I(i64),
    F(f64),
}

fn num(v: &Val) -> Option<Num> {
    match v {
        Val::Bool(b) => Some(Num::I(*b as i64)),
        Val::Int(i) => Some(Num::I(*i)),
        Val::Float(f) => Some(Num::F(*f)),
        _ => None,
    }
}

fn as_f64(n: &Num) -> f64 {
    match n {
        Num::I(i) => *i as f64,
        Num::F(f) => *f,
    }
}

fn to_key(v: &V) -> Result<Key, EvalError> {
    match &v.val {
        Val::Str(s) => Ok(Key::Str(s.clone())),
        Val::Int(i) => Ok(Key::Int(*i)),
        Val::Bool(b) => Ok(Key::Int(*b as i64)),
        other => Err((
            format!(
                "a dict key that is a {} (configs use strings and ints)",
                type_name(other)
            ),
            v.span.clone(),
        )),
    }
}

fn key_val(k: &Key, span: &Span) -> V {
    V {
        val: match k {
            Key::Str(s) => Val::Str(s.clone()),
            Key::Int(i) => Val::Int(*i),
        },
        span: span.clone(),
    }
}

/// Python's `repr` of a float: the shortest text that reads back, with an exponent outside
/// 1e-4 to 1e16.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("an integer exponent");
    if (-4..16).contains(&exp) {
        let s = format!("{f}");
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    }
}

fn repr(v: &Val) -> String {
    match v {
        Val::Str(s) => {
            let quote = if s.contains('\'') && !s.contains('"') {
                '"'
            } else {
                '\''
            };
            let mut out = String::from(quote);
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    '\r' => out.push_str("\\r"),
                    c if c == quote => {
                        out.push('\\');
                        out.push(c);
                    }
                    c => out.push(c),
                }
            }
            out.push(quote);
            out
        }
        other => str_of(other),
    }
}

/// Python's `str()`.
fn str_of(v: &Val) -> String {
    let items = |xs: &[V]| {
        xs.iter()
            .map(|x| repr(&x.val))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match v {
        Val::None => "None".into(),
        Val::Bool(b) => if *b { "True" } else { "False" }.into(),
        Val::Int(i) => i.to_string(),
        Val::Float(f) => float_repr(*f),
        Val::Str(s) => s.clone(),
        Val::List(xs) => format!("[{}]", items(xs)),
        Val::Tuple(xs) if xs.len() == 1 => format!("({},)", repr(&xs[0].val)),
        Val::Tuple(xs) => format!("({})", items(xs)),
        Val::Dict(d) => format!(
            "{{{}}}",
            d.iter()
                .map(|(k, v)| {
                    let k = match k {
                        Key::Str(s) => repr(&Val::Str(s.clone())),
                        Key::Int(i) => i.to_string(),
                    };
                    format!("{k}: {}", repr(&v.val))
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn equal(a: &Val, b: &Val) -> bool {
    match (num(a), num(b)) {
        (Some(Num::I(x)), Some(Num::I(y))) => return x == y,
        (Some(x), Some(y)) => return as_f64(&x) == as_f64(&y),
        _ => {}
    }
    match (a, b) {
        (Val::None, Val::None) => true,
        (Val::Str(x), Val::Str(y)) => x == y,
        (Val::List(x), Val::List(y)) | (Val::Tuple(x), Val::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(&p.val, &q.val))
        }
        (Val::Dict(x), Val::Dict(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| equal(&v.val, &w.val)))
        }
        _ => false,
    }
}

fn order(a: &V, b: &V, span: &Span) -> Result<std::cmp::Ordering, EvalError> {
    match (num(&a.val), num(&b.val)) {
        (Some(Num::I(x)), Some(Num::I(y))) => return Ok(x.cmp(&y)),
        (Some(x), Some(y)) => {
            return as_f64(&x)
                .partial_cmp(&as_f64(&y))
                .ok_or_else(|| ("a comparison with nan".to_string(), span.clone()));
        }
        _ => {}
    }
    match (&a.val, &b.val) {
        (Val::Str(x), Val::Str(y)) => Ok(x.cmp(y)),
        (x, y) => Err((
            format!("cannot order a {} and a {}", type_name(x), type_name(y)),
            span.clone(),
        )),
    }
}

/// The items a `for` walks over.
fn iterate(v: &V) -> Result<Vec<V>, EvalError> {
    match &v.val {
        Val::List(xs) | Val::Tuple(xs) => Ok(xs.clone()),
        Val::Dict(d) => Ok(d.keys().map(|k| key_val(k, &v.span)).collect()),
        Val::Str(s) => Ok(s
            .chars()
            .map(|c| V {
                val: Val::Str(c.to_string()),
                span: v.span.clone(),
            })
            .collect()),
        other => Err((
            format!("a {} is not iterable", type_name(other)),
            v.span.clone(),
        )),
    }
}

impl Env {
    fn lookup(&self, name: &str, span: &Span) -> Result<V, EvalError> {
        if let Some((_, v)) = self.locals.iter().rev().find(|(n, _)| n == name) {
            return Ok(v.clone());
        }
        self.vars.get(name).cloned().ok_or_else(|| {
            let hint = if BUILTINS.contains(&name) {
                format!("`{name}` is a builtin: call it")
            } else {
                format!(
                    "`{name}` is not defined in this file (a base config's variables are not \
                     visible in Python either; use \"{{{{_base_.{name}}}}}\")"
                )
            };
            (hint, span.clone())
        })
    }

    fn assign(&mut self, target: &Target, value: V) -> Result<(), EvalError> {
        match target {
            Target::Name(n) => {
                self.vars.insert(n.clone(), value);
                Ok(())
            }
            Target::Item(n, keys, span) => {
                let keys: Vec<V> = keys
                    .iter()
                    .map(|k| self.eval(k))
                    .collect::<Result<_, _>>()?;
                let Some(mut slot) = self.vars.get_mut(n) else {
                    return Err((format!("`{n}` is not defined"), span.clone()));
                };
                for (i, k) in keys.iter().enumerate() {
                    let last = i + 1 == keys.len();
                    slot = match &mut slot.val {
                        Val::Dict(d) => {
                            let key = to_key(k)?;
                            if last {
                                d.insert(key, value);
                                return Ok(());
                            }
                            d.get_mut(&key)
                                .ok_or_else(|| ("no such key".to_string(), k.span.clone()))?
                        }
                        Val::List(xs) => {
                            let len = xs.len();
                            let at = index(k, len)?;
                            if last {
                                xs[at] = value;
                                return Ok(());
                            }
                            &mut xs[at]
                        }
                        other => {
                            return Err((
                                format!("item assignment into a {}", type_name(other)),
                                span.clone(),
                            ));
                        }
                    };
                }
                unreachable!("returned at the last key")
            }
        }
    }

    fn eval(&mut self, e: &Expr) -> Result<V, EvalError> {
        let span = e.span.clone();
        let val = match &e.kind {
            ExprKind::None => Val::None,
            ExprKind::Bool(b) => Val::Bool(*b),
            ExprKind::Int(i) => Val::Int(*i),
            ExprKind::Float(f) => Val::Float(*f),
            ExprKind::Str(s) => Val::Str(s.clone()),
            ExprKind::FStr(pieces) => {
                let mut out = String::new();
                for p in pieces {
                    match p {
                        FPiece::Text(t) => out.push_str(t),
                        FPiece::Expr(x) => out.push_str(&str_of(&self.eval(x)?.val)),
                    }
                }
                Val::Str(out)
            }
            ExprKind::Name(n) => return self.lookup(n, &span),
            ExprKind::List(items) => Val::List(self.eval_all(items)?),
            ExprKind::Tuple(items) => Val::Tuple(self.eval_all(items)?),
            ExprKind::Dict(items) => {
                let mut d = IndexMap::new();
                for (k, v) in items {
                    match k {
                        Some(k) => {
                            let key = to_key(&self.eval(k)?)?;
                            let value = self.eval(v)?;
                            d.insert(key, value);
                        }
                        None => {
                            let other = self.eval(v)?;
                            let Val::Dict(o) = other.val else {
                                return Err((
                                    "`**` of something that is not a dict".into(),
                                    other.span,
                                ));
                            };
                            d.extend(o);
                        }
                    }
                }
                Val::Dict(d)
            }
            ExprKind::Call { func, args, kwargs } => return self.call(func, args, kwargs, span),
            ExprKind::Index(base, idx) => {
                let b = self.eval(base)?;
                let i = self.eval(idx)?;
                return match &b.val {
                    Val::Dict(d) => d.get(&to_key(&i)?).cloned().ok_or_else(|| {
                        (
                            format!("no key {} in the dict", repr(&i.val)),
                            i.span.clone(),
                        )
                    }),
                    Val::List(xs) | Val::Tuple(xs) => Ok(xs[index(&i, xs.len())?].clone()),
                    Val::Str(s) => {
                        let chars: Vec<char> = s.chars().collect();
                        let at = index(&i, chars.len())?;
                        Ok(V {
                            val: Val::Str(chars[at].to_string()),
                            span,
                        })
                    }
                    other => Err((format!("indexing a {}", type_name(other)), span)),
                };
            }
            ExprKind::Attr(_, name) => {
                return Err((
                    format!(
                        "`.{name}`: attributes are read only as method calls (`.format()`, `.get()`, ...)"
                    ),
                    span,
                ));
            }
            ExprKind::Neg(x, negate) => {
                let v = self.eval(x)?;
                match (num(&v.val), negate) {
                    (Some(Num::I(i)), true) => Val::Int(
                        i.checked_neg()
                            .ok_or_else(|| ("an integer overflow".to_string(), span.clone()))?,
                    ),
                    (Some(Num::F(f)), true) => Val::Float(-f),
                    (Some(Num::I(i)), false) => Val::Int(i),
                    (Some(Num::F(f)), false) => Val::Float(f),
                    (None, _) => {
                        return Err((format!("a sign before a {}", type_name(&v.val)), span));
                    }
                }
            }
            ExprKind::Not(x) => Val::Bool(!truthy(&self.eval(x)?.val)),
            ExprKind::Logic(and, a, b) => {
                let l = self.eval(a)?;
                return if truthy(&l.val) == *and {
                    self.eval(b)
                } else {
                    Ok(l)
                };
            }
            ExprKind::IfElse(cond, yes, no) => {
                let c = self.eval(cond)?;
                return if truthy(&c.val) {
                    self.eval(yes)
                } else {
                    self.eval(no)
                };
            }
            ExprKind::Compare(first, rest) => {
                let mut left = self.eval(first)?;
                for (op, r) in rest {
                    let right = self.eval(r)?;
                    let holds = match op {
                        CmpOp::Eq => equal(&left.val, &right.val),
                        CmpOp::Ne => !equal(&left.val, &right.val),
                        CmpOp::Lt => order(&left, &right, &span)?.is_lt(),
                        CmpOp::Le => order(&left, &right, &span)?.is_le(),
                        CmpOp::Gt => order(&left, &right, &span)?.is_gt(),
                        CmpOp::Ge => order(&left, &right, &span)?.is_ge(),
                        CmpOp::In | CmpOp::NotIn => {
                            let found = match (&left.val, &right.val) {
                                (Val::Str(a), Val::Str(b)) => b.contains(a.as_str()),
                                (_, Val::Dict(d)) => d.contains_key(&to_key(&left)?),
                                (a, Val::List(xs) | Val::Tuple(xs)) => {
                                    xs.iter().any(|x| equal(a, &x.val))
                                }
                                (_, other) => {
                                    return Err((format!("`in` a {}", type_name(other)), span));
                                }
                            };
                            found == (*op == CmpOp::In)
                        }
                    };
                    if !holds {
                        return Ok(V {
                            val: Val::Bool(false),
                            span,
                        });
                    }
                    left = right;
                }
                Val::Bool(true)
            }
            ExprKind::Bin(op, a, b) => {
                let l = self.eval(a)?;
                let r = self.eval(b)?;
                binary(*op, &l, &r, &span)?
            }
            ExprKind::Comp {
                key,
                elt,
                vars,
                iter,
                conds,
            } => {
                let items = iterate(&self.eval(iter)?)?;
                let mut budget = MAX_NODES;
                let mut list = Vec::new();
                let mut dict = IndexMap::new();
                for item in items {
                    let bound = self.bind(vars, item, &span)?;
                    let base = self.locals.len();
                    self.locals.extend(bound);
                    let result = (|| -> Result<(), EvalError> {
                        for c in conds {
                            if !truthy(&self.eval(c)?.val) {
                                return Ok(());
                            }
                        }
                        let v = self.eval(elt)?;
                        weigh(&v.val, 0, &mut budget).map_err(|m| (m.to_string(), span.clone()))?;
                        match key {
                            Some(k) => {
                                let k = to_key(&self.eval(k)?)?;
                                dict.insert(k, v);
                            }
                            None => list.push(v),
                        }
                        Ok(())
                    })();
                    self.locals.truncate(base);
                    result?;
                }
                if key.is_some() {
                    Val::Dict(dict)
                } else {
                    Val::List(list)
                }
            }
        };
        Ok(V { val, span })
    }

    fn bind(&self, vars: &[String], item: V, span: &Span) -> Result<Vec<(String, V)>, EvalError> {
        if vars.len() == 1 {
            return Ok(vec![(vars[0].clone(), item)]);
        }
        let parts = match item.val {
            Val::List(xs) | Val::Tuple(xs) if xs.len() == vars.len() => xs,
            _ => {
                return Err((
                    format!("cannot unpack into {} names", vars.len()),
                    span.clone(),
                ));
            }
        };
        Ok(vars.iter().cloned().zip(parts).collect())
    }

    fn eval_all(&mut self, items: &[Expr]) -> Result<Vec<V>, EvalError> {
        items.iter().map(|e| self.eval(e)).collect()
    }

    fn call(
        &mut self,
        func: &Expr,
        args: &[Expr],
        kwargs: &[Kwarg],
        span: Span,
    ) -> Result<V, EvalError> {
        let args = self.eval_all(args)?;
        let mut kw: IndexMap<Key, V> = IndexMap::new();
        for (name, e) in kwargs {
            let v = self.eval(e)?;
            match name {
                Some(n) => {
                    kw.insert(Key::Str(n.clone()), v);
                }
                None => match v.val {
                    Val::Dict(d) => kw.extend(d),
                    other => {
                        return Err((
                            format!("`**` of a {}, not a dict", type_name(&other)),
                            v.span,
                        ));
                    }
                },
            }
        }
        let val = match &func.kind {
            ExprKind::Attr(obj, method) => {
                let o = self.eval(obj)?;
                method_call(&o, method, &args, &kw, &span)?
            }
            ExprKind::Name(n) if !self.vars.contains_key(n) => builtin(n, &args, kw, &span)?,
            _ => {
                return Err((
                    "a call of something that is not a builtin (configs call dict(), range(), \
                     len() and the like)"
                        .into(),
                    func.span.clone(),
                ));
            }
        };
        Ok(V { val, span })
    }
}

const BUILTINS: [&str; 14] = [
    "dict", "list", "tuple", "range", "int", "float", "str", "bool", "len", "abs", "min", "max",
    "sum", "sorted",
];

fn index(i: &V, len: usize) -> Result<usize, EvalError> {
    let n = match num(&i.val) {
        Some(Num::I(n)) => n,
        _ => {
            return Err((
                format!("an index that is a {}", type_name(&i.val)),
                i.span.clone(),
            ));
        }
    };
    let at = if n < 0 { n + len as i64 } else { n };
    if at < 0 || at >= len as i64 {
        return Err((
            format!("index {n} is out of range (length {len})"),
            i.span.clone(),
        ));
    }
    Ok(at as usize)
}

fn no_kwargs(name: &str, kw: &IndexMap<Key, V>, span: &Span) -> Result<(), EvalError> {
    if kw.is_empty() {
        Ok(())
    } else {
        Err((
            format!("{name}() takes no keyword arguments here"),
            span.clone(),
        ))
    }
}

fn builtin(name: &str, args: &[V], kw: IndexMap<Key, V>, span: &Span) -> Result<Val, EvalError> {
    let arity = |n: std::ops::RangeInclusive<usize>| {
        if n.contains(&args.len()) {
            Ok(())
        } else {
            Err((
                format!("{name}() with {} arguments", args.len()),
                span.clone(),
            ))
        }
    };
    Ok(match name {
        "dict" => {
            arity(0..=1)?;
            let mut d = IndexMap::new();
            if let Some(a) = args.first() {
                match &a.val {
                    Val::Dict(o) => d.extend(o.clone()),
                    _ => {
                        for pair in iterate(a)? {
                            let kv = iterate(&pair)?;
                            if kv.len() != 2 {
                                return Err((
                                    "dict() of items that are not pairs".into(),
                                    pair.span,
                                ));
                            }
                            d.insert(to_key(&kv[0])?, kv[1].clone());
                        }
                    }
                }
            }
            d.extend(kw);
            Val::Dict(d)
        }
        "list" | "tuple" | "sorted" => {
            no_kwargs(name, &kw, span)?;
            arity(0..=1)?;
            let mut items = match args.first() {
                Some(a) => iterate(a)?,
                None => Vec::new(),
            };
            if name == "sorted" {
                let mut failed = None;
                items.sort_by(|a, b| {
                    order(a, b, span).unwrap_or_else(|e| {
                        failed = Some(e);
                        std::cmp::Ordering::Equal
                    })
                });
                if let Some(e) = failed {
                    return Err(e);
                }
            }
            if name == "tuple" {
                Val::Tuple(items)
            } else {
                Val::List(items)
            }
        }
        "range" => {
            no_kwargs(name, &kw, span)?;
            arity(1..=3)?;
            let ints: Vec<i64> = args
                .iter()
                .map(|a| match a.val {
                    Val::Int(i) => Ok(i),
                    Val::Bool(b) => Ok(b as i64),
                    _ => Err((
                        "range() of something that is not an int".to_string(),
                        a.span.clone(),
                    )),
                })
                .collect::<Result<_, _>>()?;
            let (start, stop, step) = match ints[..] {
                [stop] => (0, stop, 1),
                [start, stop] => (start, stop, 1),
                [start, stop, step] => (start, stop, step),
                _ => unreachable!("arity checked"),
            };
            if step == 0 {
                return Err(("range() with a step of 0".into(), span.clone()));
            }
            let count = if (step > 0 && stop > start) || (step < 0 && stop < start) {
                ((stop - start).unsigned_abs() - 1) / step.unsigned_abs() + 1
            } else {
                0
            };
            if count as usize > MAX_LEN {
                return Err(("a range longer than any config needs".into(), span.clone()));
            }
            Val::List(
                (0..count as i64)
                    .map(|k| V {
                        val: Val::Int(start + k * step),
                        span: span.clone(),
                    })
                    .collect(),
            )
        }
        "int" | "float" | "str" | "bool" => {
            no_kwargs(name, &kw, span)?;
            arity(0..=1)?;
            let Some(a) = args.first() else {
                return Ok(match name {
                    "int" => Val::Int(0),
                    "float" => Val::Float(0.0),
                    "str" => Val::Str(String::new()),
                    _ => Val::Bool(false),
                });
            };
            let bad = || (format!("{name}() of {}", repr(&a.val)), a.span.clone());
            match name {
                "str" => Val::Str(str_of(&a.val)),
                "bool" => Val::Bool(truthy(&a.val)),
                "int" => match (&a.val, num(&a.val)) {
                    (_, Some(Num::I(i))) => Val::Int(i),
                    (_, Some(Num::F(f))) if f.is_finite() && f.abs() < 9.2e18 => {
                        Val::Int(f.trunc() as i64)
                    }
                    (Val::Str(s), _) => {
                        Val::Int(s.trim().replace('_', "").parse().map_err(|_| bad())?)
                    }
                    _ => return Err(bad()),
                },
                _ => match (&a.val, num(&a.val)) {
                    (_, Some(n)) => Val::Float(as_f64(&n)),
                    (Val::Str(s), _) => Val::Float(s.trim().parse().map_err(|_| bad())?),
                    _ => return Err(bad()),
                },
            }
        }
        "len" => {
            arity(1..=1)?;
            let n = match &args[0].val {
                Val::Str(s) => s.chars().count(),
                Val::List(x) | Val::Tuple(x) => x.len(),
                Val::Dict(d) => d.len(),
                other => return Err((format!("len() of a {}", type_name(other)), span.clone())),
            };
            Val::Int(n as i64)
        }
        "abs" => {
            arity(1..=1)?;
            match num(&args[0].val) {
                Some(Num::I(i)) => Val::Int(
                    i.checked_abs()
                        .ok_or_else(|| ("an integer overflow".to_string(), span.clone()))?,
                ),
                Some(Num::F(f)) => Val::Float(f.abs()),
                None => {
                    return Err((
                        "abs() of something that is not a number".into(),
                        span.clone(),
                    ));
                }
            }
        }
        "min" | "max" | "sum" => {
            no_kwargs(name, &kw, span)?;
            let items = if args.len() == 1 {
                iterate(&args[0])?
            } else {
                args.to_vec()
            };
            if name == "sum" {
                let mut total = V {
                    val: Val::Int(0),
                    span: span.clone(),
                };
                for x in &items {
                    total = V {
                        val: binary(BinOp::Add, &total, x, span)?,
                        span: span.clone(),
                    };
                }
                return Ok(total.val);
            }
            let mut best: Option<V> = None;
            for x in items {
                best = Some(match best {
                    None => x,
                    Some(b) => {
                        let o = order(&x, &b, span)?;
                        if (name == "min" && o.is_lt()) || (name == "max" && o.is_gt()) {
                            x
                        } else {
                            b
                        }
                    }
                });
            }
            best.ok_or_else(|| (format!("{name}() of nothing"), span.clone()))?
                .val
        }
        other => {
            return Err((
                format!(
                    "`{other}` is not a function a config may call (only {})",
                    BUILTINS.join(", ")
                ),
                span.clone(),
            ));
        }
    })
}

fn method_call(
    o: &V,
    method: &str,
    args: &[V],
    kw: &IndexMap<Key, V>,
    span: &Span,
) -> Result<Val, EvalError> {
    let arg = |i: usize| {
        args.get(i)
            .ok_or_else(|| (format!(".{method}() needs more arguments"), span.clone()))
    };
    Ok(match (&o.val, method) {
        (Val::Dict(_) | Val::List(_), "copy") => o.val.clone(),
        (Val::Dict(d), "get") => match d.get(&to_key(arg(0)?)?) {
            Some(v) => v.val.clone(),
            None => args.get(1).map_or(Val::None, |v| v.val.clone()),
        },
        (Val::Dict(d), "keys") => Val::List(d.keys().map(|k| key_val(k, span)).collect()),
        (Val::Dict(d), "values") => Val::List(d.values().cloned().collect()),
        (Val::Dict(d), "items") => Val::List(
            d.iter()
                .map(|(k, v)| V {
                    val: Val::Tuple(vec![key_val(k, span), v.clone()]),
                    span: span.clone(),
                })
                .collect(),
        ),
        (Val::Str(s), "format") => Val::Str(format_method(s, args, kw, span)?),
        (Val::Str(s), "join") => {
            let parts: Vec<String> = iterate(arg(0)?)?
                .iter()
                .map(|p| match &p.val {
                    Val::Str(x) => Ok(x.clone()),
                    other => Err((format!("join() of a {}", type_name(other)), p.span.clone())),
                })
                .collect::<Result<_, _>>()?;
            Val::Str(parts.join(s))
        }
        (Val::Str(s), "replace") => match (&arg(0)?.val, &arg(1)?.val) {
            (Val::Str(a), Val::Str(b)) => Val::Str(s.replace(a.as_str(), b)),
            _ => {
                return Err((
                    "replace() of something that is not a string".into(),
                    span.clone(),
                ));
            }
        },
        (Val::Str(s), "upper") => Val::Str(s.to_uppercase()),
        (Val::Str(s), "lower") => Val::Str(s.to_lowercase()),
        (v, m) => {
            return Err((
                format!("the method `.{m}()` of a {}", type_name(v)),
                span.clone(),
            ));
        }
    })
}

/// `str.format` with `{}`, `{0}` and `{name}` fields (no format specs).
fn format_method(
    s: &str,
    args: &[V],
    kw: &IndexMap<Key, V>,
    span: &Span,
) -> Result<String, EvalError> {
    let mut out = String::new();
    let mut auto = 0;
    let mut rest = s;
    while let Some(open) = rest.find(['{', '}']) {
        out.push_str(&rest[..open]);
        let tail = &rest[open..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push(tail.as_bytes()[0] as char);
            rest = &tail[2..];
            continue;
        }
        let Some(close) = tail.find('}').filter(|_| tail.starts_with('{')) else {
            return Err(("a lone `}` in a format string".into(), span.clone()));
        };
        let field = &tail[1..close];
        let value = if field.is_empty() {
            auto += 1;
            args.get(auto - 1)
        } else if let Ok(i) = field.parse::<usize>() {
            args.get(i)
        } else if field.contains([':', '!', '.', '[']) {
            return Err((
                "a format spec in .format(): write the value out".into(),
                span.clone(),
            ));
        } else {
            kw.get(&Key::Str(field.to_string()))
        };
        let value = value.ok_or_else(|| (format!("no value for {{{field}}}"), span.clone()))?;
        out.push_str(&str_of(&value.val));
        rest = &tail[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn binary(op: BinOp, l: &V, r: &V, span: &Span) -> Result<Val, EvalError> {
    let overflow = || ("an integer overflow".to_string(), span.clone());
    let too_long = || {
        (
            "a value longer than any config needs".to_string(),
            span.clone(),
        )
    };
    if let (Some(a), Some(b)) = (num(&l.val), num(&r.val)) {
        return Ok(match (a, b) {
            (Num::I(x), Num::I(y)) => match op {
                BinOp::Add => Val::Int(x.checked_add(y).ok_or_else(overflow)?),
                BinOp::Sub => Val::Int(x.checked_sub(y).ok_or_else(overflow)?),
                BinOp::Mul => Val::Int(x.checked_mul(y).ok_or_else(overflow)?),
                BinOp::Div => {
                    if y == 0 {
                        return Err(("a division by zero".into(), span.clone()));
                    }
                    Val::Float(x as f64 / y as f64)
                }
                BinOp::FloorDiv | BinOp::Mod => {
                    if y == 0 {
                        return Err(("a division by zero".into(), span.clone()));
                    }
                    let q = x.checked_div(y).ok_or_else(overflow)?;
                    let r = x - q * y;
                    // Python rounds toward negative infinity.
                    let (q, r) = if r != 0 && ((r < 0) != (y < 0)) {
                        (q - 1, r + y)
                    } else {
                        (q, r)
                    };
                    Val::Int(if op == BinOp::FloorDiv { q } else { r })
                }
                BinOp::Pow => {
                    if y < 0 {
                        Val::Float((x as f64).powf(y as f64))
                    } else {
                        let e = u32::try_from(y).map_err(|_| overflow())?;
                        Val::Int(x.checked_pow(e).ok_or_else(overflow)?)
                    }
                }
            },
            (a, b) => {
                let (x, y) = (as_f64(&a), as_f64(&b));
                let zero = || ("a division by zero".to_string(), span.clone());
                Val::Float(match op {
                    BinOp::Add => x + y,
                    BinOp::Sub => x - y,
                    BinOp::Mul => x * y,
                    BinOp::Div => {
                        if y == 0.0 {
                            return Err(zero());
                        }
                        x / y
                    }
                    BinOp::FloorDiv => {
                        if y == 0.0 {
                            return Err(zero());
                        }
                        (x / y).floor()
                    }
                    BinOp::Mod => {
                        if y == 0.0 {
                            return Err(zero());
                        }
                        x - y * (x / y).floor()
                    }
                    BinOp::Pow => x.powf(y),
                })
            }
        });
    }
    let repeat = |n: &Val| match n {
        Val::Int(n) => Some((*n).max(0) as usize),
        Val::Bool(b) => Some(*b as usize),
        _ => None,
    };
    Ok(match (op, &l.val, &r.val) {
        (BinOp::Add, Val::Str(a), Val::Str(b)) => Val::Str(format!("{a}{b}")),
        (BinOp::Add, Val::List(a), Val::List(b)) => Val::List(a.iter().chain(b).cloned().collect()),
        (BinOp::Add, Val::Tuple(a), Val::Tuple(b)) => {
            Val::Tuple(a.iter().chain(b).cloned().collect())
        }
        (BinOp::Mul, Val::Str(s), n) | (BinOp::Mul, n, Val::Str(s)) if repeat(n).is_some() => {
            let n = repeat(n).expect("checked");
            if s.len().saturating_mul(n) > MAX_LEN {
                return Err(too_long());
            }
            Val::Str(s.repeat(n))
        }
        (BinOp::Mul, Val::List(xs), n) | (BinOp::Mul, n, Val::List(xs)) if repeat(n).is_some() => {
            let n = repeat(n).expect("checked");
            if xs.len().saturating_mul(n) > MAX_LEN {
                return Err(too_long());
            }
            if nodes(xs).saturating_mul(n) > MAX_NODES {
                return Err(too_long());
            }
            Val::List(xs.iter().cloned().cycle().take(xs.len() * n).collect())
        }
        (BinOp::Mul, Val::Tuple(xs), n) | (BinOp::Mul, n, Val::Tuple(xs))
            if repeat(n).is_some() =>
        {
            let n = repeat(n).expect("checked");
            if xs.len().saturating_mul(n) > MAX_LEN {
                return Err(too_long());
            }
            if nodes(xs).saturating_mul(n) > MAX_NODES {
                return Err(too_long());
            }
            Val::Tuple(xs.iter().cloned().cycle().take(xs.len() * n).collect())
        }
        (BinOp::Mod, Val::Str(_), _) => {
            return Err((
                "`%` string formatting: use an f-string".into(),
                span.clone(),
            ));
        }
        (op, a, b) => {
            return Err((
                format!("{op:?} of a {} and a {}", type_name(a), type_name(b)),
                span.clone(),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_python_prints_them() {
        for (f, want) in [
            (0.1, "0.1"),
            (1e-5, "1e-05"),
            (1e-4, "0.0001"),
            (3.0, "3.0"),
            (1e16, "1e+16"),
            (123456.5, "123456.5"),
            (2.5e-7, "2.5e-07"),
        ] {
            assert_eq!(float_repr(f), want);
        }
    }
}
