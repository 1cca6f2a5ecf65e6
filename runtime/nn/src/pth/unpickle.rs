//! A pickle reader that builds values and never runs code: the opcodes `torch.save` emits
//! (protocols 2 to 5), and of Python's callables only the few that rebuild tensors, ordered
//! dicts and NumPy scalars. Anything else a pickle names (a class of the user's, `os.system`)
//! is refused with its name, which is how a `.pth` holding arbitrary objects is told apart
//! from a checkpoint.

use std::collections::HashMap;

use super::PthError;

/// A value read from a pickle.
#[derive(Debug, Clone, PartialEq)]
pub enum Py {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An int that fits 64 bits.
    Int(i64),
    /// A float.
    Float(f64),
    /// A `str`.
    Str(String),
    /// `bytes`.
    Bytes(Vec<u8>),
    /// A list.
    List(Vec<Py>),
    /// A tuple.
    Tuple(Vec<Py>),
    /// A dict (or `OrderedDict`), in insertion order.
    Dict(Vec<(Py, Py)>),
    /// A tensor view of a storage in the archive.
    Tensor(TensorRef),
    /// A storage in the archive (only inside [`TensorRef`] once reading ends).
    Storage(StorageRef),
    /// One of the callables [`ALLOWED`] lists (only while reading).
    Global(&'static str),
    /// A NumPy dtype, by its code (`f8`, `<i4`...; only while reading).
    Dtype(String),
}

/// `('storage', torch.FloatStorage, key, location, numel)`, as `torch.save` writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageRef {
    /// The element type's storage class name, `FloatStorage` for example.
    pub class: String,
    /// The record `data/<key>` holds the bytes.
    pub key: String,
    /// Elements in the storage.
    pub numel: i64,
}

/// What `torch._utils._rebuild_tensor_v2` is called with.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorRef {
    /// The storage it views.
    pub storage: StorageRef,
    /// Offset in elements.
    pub offset: i64,
    /// Shape.
    pub size: Vec<i64>,
    /// Strides in elements.
    pub stride: Vec<i64>,
}

/// The callables a checkpoint may name: what `torch.save` writes for tensors and
/// `OrderedDict`s, and NumPy's scalar (MMCV stores metric values such as `best_score` as
/// NumPy floats). The same set PyTorch's `weights_only` loader allows, less what no
/// checkpoint needs.
const ALLOWED: &[&str] = &[
    "collections.OrderedDict",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_parameter",
    "numpy.core.multiarray.scalar",
    "numpy._core.multiarray.scalar",
    "numpy.dtype",
    // Protocol 2's spelling of `bytes` (a NumPy scalar's payload): encode(str, "latin1").
    "_codecs.encode",
];

/// Storage classes `torch.save` names, which tensors' element types follow from.
pub const STORAGES: &[&str] = &[
    "FloatStorage",
    "DoubleStorage",
    "HalfStorage",
    "BFloat16Storage",
    "LongStorage",
    "IntStorage",
    "ShortStorage",
    "CharStorage",
    "ByteStorage",
    "BoolStorage",
];

/// Deepest nesting of containers accepted: real checkpoints use a handful of levels, and a
/// bound keeps a hostile file from exhausting the stack when the value is walked or dropped.
const MAX_DEPTH: usize = 64;

/// Values a pickle may make us build or copy, per byte of pickle (plus a floor): a real
/// checkpoint builds about one value per ten bytes; a file that copies one big list over and
/// over (DUP, memo) would otherwise make gigabytes out of kilobytes.
const WORK_PER_BYTE: usize = 16;

/// Reads one pickle. `what` names the file for messages.
pub fn read(data: &[u8], what: &str) -> Result<Py, PthError> {
    Unpickler {
        data,
        pos: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        what,
        work: 0,
        budget: data.len().saturating_mul(WORK_PER_BYTE).max(1 << 16),
    }
    .run()
}

struct Unpickler<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Py>,
    marks: Vec<usize>,
    memo: HashMap<u32, Py>,
    what: &'a str,
    /// Values built or copied so far, against `budget`.
    work: usize,
    budget: usize,
}

impl Unpickler<'_> {
    fn err(&self, msg: impl std::fmt::Display) -> PthError {
        PthError::Format(format!("{}: pickle byte {}: {msg}", self.what, self.pos))
    }

    fn take(&mut self, n: usize) -> Result<&[u8], PthError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| self.err("the pickle ends early"))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, PthError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, PthError> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }

    fn u32(&mut self) -> Result<u32, PthError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, PthError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn line(&mut self) -> Result<String, PthError> {
        let rest = &self.data[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| self.err("a name without its line end"))?;
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        self.pos += n + 1;
        Ok(s)
    }

    fn text(&mut self, n: usize) -> Result<Py, PthError> {
        let bytes = self.take(n)?.to_vec();
        String::from_utf8(bytes)
            .map(Py::Str)
            .map_err(|_| self.err("a string that is not UTF-8"))
    }

    fn pop(&mut self) -> Result<Py, PthError> {
        self.stack
            .pop()
            .ok_or_else(|| self.err("the stack is empty"))
    }

    fn top(&mut self) -> Result<&mut Py, PthError> {
        if self.stack.is_empty() {
            return Err(self.err("the stack is empty"));
        }
        Ok(self.stack.last_mut().expect("checked"))
    }

    /// Everything pushed since the last MARK.
    fn pop_mark(&mut self) -> Result<Vec<Py>, PthError> {
        let mark = self
            .marks
            .pop()
            .ok_or_else(|| self.err("no MARK to pop to"))?;
        if mark > self.stack.len() {
            return Err(self.err("a MARK above the stack"));
        }
        Ok(self.stack.split_off(mark))
    }

    fn push(&mut self, v: Py) -> Result<(), PthError> {
        self.charge(1)?;
        self.stack.push(v);
        Ok(())
    }

    fn charge(&mut self, n: usize) -> Result<(), PthError> {
        self.work += n;
        if self.work > self.budget {
            return Err(self.err("far more values than its size allows (a pickle bomb?)"));
        }
        Ok(())
    }

    /// Checks that `v` may go into a container (its nesting stays under [`MAX_DEPTH`]) or be
    /// copied, charging the values it holds. Values on the stack never nest deeper than the
    /// bound, so the walk's own recursion is bounded too.
    fn weigh(&mut self, v: &Py) -> Result<(), PthError> {
        fn walk(v: &Py, depth: usize, nodes: &mut usize) -> usize {
            *nodes += 1;
            let kids: Box<dyn Iterator<Item = &Py>> = match v {
                Py::List(items) | Py::Tuple(items) => Box::new(items.iter()),
                Py::Dict(pairs) => Box::new(pairs.iter().flat_map(|(k, v)| [k, v])),
                _ => return depth,
            };
            kids.map(|k| walk(k, depth + 1, nodes))
                .max()
                .unwrap_or(depth)
        }
        let mut nodes = 0;
        let depth = walk(v, 1, &mut nodes);
        self.charge(nodes)?;
        if depth >= MAX_DEPTH {
            return Err(self.err(format!("values nested over {MAX_DEPTH} deep")));
        }
        Ok(())
    }

    /// Weighs every item that is about to go into one container.
    fn weigh_all(&mut self, items: &[Py]) -> Result<(), PthError> {
        items.iter().try_for_each(|v| self.weigh(v))
    }

    fn global(&self, module: &str, name: &str) -> Result<Py, PthError> {
        let full = format!("{module}.{name}");
        if let Some(allowed) = ALLOWED.iter().find(|a| **a == full) {
            return Ok(Py::Global(allowed));
        }
        if module == "torch" && STORAGES.contains(&name) {
            return Ok(Py::Str(name.to_string()));
        }
        Err(PthError::Refused(format!(
            "{} names the Python object {full}, which a checkpoint of tensors and plain values \
             never holds; weft does not run code from a checkpoint (load it in Python and save \
             the state_dict alone)",
            self.what
        )))
    }

    fn run(mut self) -> Result<Py, PthError> {
        loop {
            let op = self.u8()?;
            match op {
                0x80 => {
                    // PROTO
                    let v = self.u8()?;
                    if v > 5 {
                        return Err(self.err(format!("pickle protocol {v} (5 is the newest)")));
                    }
                }
                0x95 => {
                    // FRAME: a length hint only.
                    self.u64()?;
                }
                b'.' => return self.pop(),
                b'(' => self.marks.push(self.stack.len()),
                b'N' => self.push(Py::None)?,
                0x88 => self.push(Py::Bool(true))?,
                0x89 => self.push(Py::Bool(false))?,
                b'J' => {
                    let v = self.u32()? as i32;
                    self.push(Py::Int(v.into()))?
                }
                b'K' => {
                    let v = self.u8()?;
                    self.push(Py::Int(v.into()))?
                }
                b'M' => {
                    let v = self.u16()?;
                    self.push(Py::Int(v.into()))?
                }
                0x8a => {
                    // LONG1: little-endian two's complement of n bytes.
                    let n = self.u8()? as usize;
                    let bytes = self.take(n)?.to_vec();
                    if n > 8 {
                        return Err(self.err("an integer wider than 64 bits"));
                    }
                    let mut buf = if bytes.last().is_some_and(|b| b & 0x80 != 0) {
                        [0xffu8; 8]
                    } else {
                        [0u8; 8]
                    };
                    buf[..n].copy_from_slice(&bytes);
                    self.push(Py::Int(i64::from_le_bytes(buf)))?
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes"));
                    self.push(Py::Float(v))?
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    let s = self.text(n)?;
                    self.push(s)?
                }
                0x8c => {
                    let n = self.u8()? as usize;
                    let s = self.text(n)?;
                    self.push(s)?
                }
                0x8d => {
                    let n = self.u64()?;
                    let n = usize::try_from(n).map_err(|_| self.err("a string too long"))?;
                    let s = self.text(n)?;
                    self.push(s)?
                }
                b'B' => {
                    let n = self.u32()? as usize;
                    let b = self.take(n)?.to_vec();
                    self.push(Py::Bytes(b))?
                }
                b'C' => {
                    let n = self.u8()? as usize;
                    let b = self.take(n)?.to_vec();
                    self.push(Py::Bytes(b))?
                }
                0x8e => {
                    let n = self.u64()?;
                    let n = usize::try_from(n).map_err(|_| self.err("bytes too long"))?;
                    let b = self.take(n)?.to_vec();
                    self.push(Py::Bytes(b))?
                }
                b'}' => self.push(Py::Dict(Vec::new()))?,
                b']' => self.push(Py::List(Vec::new()))?,
                b')' => self.push(Py::Tuple(Vec::new()))?,
                b't' => {
                    let items = self.pop_mark()?;
                    self.weigh_all(&items)?;
                    self.push(Py::Tuple(items))?
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    self.weigh_all(&items)?;
                    self.push(Py::List(items))?
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    self.weigh_all(&items)?;
                    let dict = pairs(items).map_err(|m| self.err(m))?;
                    self.push(Py::Dict(dict))?
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    if self.stack.len() < n {
                        return Err(self.err("the stack is empty"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.weigh_all(&items)?;
                    self.push(Py::Tuple(items))?
                }
                b'q' => {
                    let k = self.u8()?.into();
                    self.memoize(k)?
                }
                b'r' => {
                    let k = self.u32()?;
                    self.memoize(k)?
                }
                0x94 => {
                    let k = self.memo.len() as u32;
                    self.memoize(k)?
                }
                b'h' => {
                    let k = self.u8()?.into();
                    self.recall(k)?
                }
                b'j' => {
                    let k = self.u32()?;
                    self.recall(k)?
                }
                b'0' => {
                    self.pop()?;
                }
                b'2' => {
                    let v = self.top()?.clone();
                    self.weigh(&v)?;
                    self.push(v)?
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let g = self.global(&module, &name)?;
                    self.push(g)?
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Py::Str(module), Py::Str(name)) = (module, name) else {
                        return Err(self.err("STACK_GLOBAL without two names"));
                    };
                    let g = self.global(&module, &name)?;
                    self.push(g)?
                }
                b'a' => {
                    let v = self.pop()?;
                    self.weigh(&v)?;
                    match self.top()? {
                        Py::List(items) => items.push(v),
                        _ => return Err(self.err("APPEND to something not a list")),
                    }
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.weigh_all(&items)?;
                    match self.top()? {
                        Py::List(list) => list.extend(items),
                        _ => return Err(self.err("APPENDS to something not a list")),
                    }
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.weigh(&k)?;
                    self.weigh(&v)?;
                    match self.top()? {
                        Py::Dict(d) => d.push((k, v)),
                        _ => return Err(self.err("SETITEM on something not a dict")),
                    }
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    self.weigh_all(&items)?;
                    let new = pairs(items).map_err(|m| self.err(m))?;
                    match self.top()? {
                        Py::Dict(d) => d.extend(new),
                        _ => return Err(self.err("SETITEMS on something not a dict")),
                    }
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let storage = persistent(pid).map_err(|m| self.err(m))?;
                    self.push(Py::Storage(storage))?
                }
                b'R' => {
                    let args = self.pop()?;
                    let f = self.pop()?;
                    let v = self.call(f, args)?;
                    self.push(v)?
                }
                b'b' => {
                    // BUILD: an OrderedDict's attributes (a state_dict's `_metadata` of
                    // module versions) and a NumPy dtype's byte order.
                    let state = self.pop()?;
                    if let Py::Dtype(code) = self.top()?
                        && let Py::Tuple(items) = &state
                        && let Some(Py::Str(order)) = items.get(1)
                        && order == ">"
                    {
                        code.insert(0, '>');
                    }
                }
                other => {
                    return Err(self.err(format!(
                        "opcode 0x{other:02x}, which torch.save does not write"
                    )));
                }
            }
        }
    }

    fn memoize(&mut self, k: u32) -> Result<(), PthError> {
        let v = self.top()?.clone();
        self.weigh(&v)?;
        self.memo.insert(k, v);
        Ok(())
    }

    /// The memo holds copies, not references: fine for the immutable values `torch.save`
    /// recalls (names, classes, tuples), wrong for a list or dict changed after it was stored,
    /// so those are refused rather than read stale.
    fn recall(&mut self, k: u32) -> Result<(), PthError> {
        let v = self
            .memo
            .get(&k)
            .cloned()
            .ok_or_else(|| self.err(format!("memo {k} was never stored")))?;
        if matches!(v, Py::List(_) | Py::Dict(_)) {
            return Err(self.err(
                "a list or dict shared by reference, which checkpoint writers do not produce",
            ));
        }
        self.weigh(&v)?;
        self.push(v)
    }

    /// REDUCE with one of [`ALLOWED`]'s callables.
    fn call(&self, f: Py, args: Py) -> Result<Py, PthError> {
        let Py::Global(name) = f else {
            return Err(self.err("REDUCE of something that is not a callable"));
        };
        let Py::Tuple(args) = args else {
            return Err(self.err(format!("{name} called without an argument tuple")));
        };
        let bad = |what: &str| self.err(format!("{name}: {what}"));
        match name {
            "collections.OrderedDict" => Ok(Py::Dict(Vec::new())),
            "torch._utils._rebuild_tensor_v2" => {
                let [Py::Storage(storage), Py::Int(offset), size, stride, ..] = &args[..] else {
                    return Err(bad("not (storage, offset, size, stride, ...)"));
                };
                let size = ints(size).ok_or_else(|| bad("a size that is not ints"))?;
                let stride = ints(stride).ok_or_else(|| bad("a stride that is not ints"))?;
                if size.len() != stride.len() || size.iter().chain(&stride).any(|&d| d < 0) {
                    return Err(bad("size and stride do not describe a tensor"));
                }
                Ok(Py::Tensor(TensorRef {
                    storage: storage.clone(),
                    offset: *offset,
                    size,
                    stride,
                }))
            }
            "torch._utils._rebuild_parameter" => match args.into_iter().next() {
                Some(t @ Py::Tensor(_)) => Ok(t),
                _ => Err(bad("not a tensor")),
            },
            "_codecs.encode" => match &args[..] {
                [Py::Str(text), Py::Str(codec)] if codec == "latin1" || codec == "latin-1" => text
                    .chars()
                    .map(|c| u8::try_from(u32::from(c)).ok())
                    .collect::<Option<Vec<u8>>>()
                    .map(Py::Bytes)
                    .ok_or_else(|| bad("a character outside latin-1")),
                _ => Err(bad("not (text, \"latin1\")")),
            },
            "numpy.dtype" => match args.first() {
                Some(Py::Str(code)) => Ok(Py::Dtype(code.clone())),
                _ => Err(bad("no type code")),
            },
            _ => {
                // numpy's scalar(dtype, bytes)
                let [Py::Dtype(code), Py::Bytes(bytes)] = &args[..] else {
                    return Err(bad("not (dtype, bytes)"));
                };
                numpy_scalar(code, bytes)
                    .ok_or_else(|| bad(&format!("a NumPy {code} scalar, which weft does not read")))
            }
        }
    }
}

fn ints(v: &Py) -> Option<Vec<i64>> {
    match v {
        Py::Tuple(items) | Py::List(items) => items
            .iter()
            .map(|i| match i {
                Py::Int(n) => Some(*n),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

fn pairs(items: Vec<Py>) -> Result<Vec<(Py, Py)>, String> {
    if !items.len().is_multiple_of(2) {
        return Err("a dict of an odd number of items".into());
    }
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Ok(out)
}

fn persistent(pid: Py) -> Result<StorageRef, String> {
    let Py::Tuple(items) = pid else {
        return Err("a persistent id that is not a tuple".into());
    };
    match &items[..] {
        [
            Py::Str(tag),
            Py::Str(class),
            Py::Str(key),
            _location,
            Py::Int(numel),
        ] if tag == "storage" && *numel >= 0 => Ok(StorageRef {
            class: class.clone(),
            key: key.clone(),
            numel: *numel,
        }),
        _ => Err("a persistent id that is not ('storage', type, key, location, size)".into()),
    }
}

/// A NumPy scalar from its dtype code and bytes (little-endian unless the code says `>`).
fn numpy_scalar(code: &str, bytes: &[u8]) -> Option<Py> {
    let big = code.starts_with('>');
    let code = code.trim_start_matches(['<', '>', '|', '=']);
    let mut b = bytes.to_vec();
    if big {
        b.reverse();
    }
    macro_rules! le {
        ($t:ty) => {
            <$t>::from_le_bytes(b.as_slice().try_into().ok()?)
        };
    }
    Some(match code {
        "f8" => Py::Float(le!(f64)),
        "f4" => Py::Float(le!(f32).into()),
        "i8" => Py::Int(le!(i64)),
        "i4" => Py::Int(le!(i32).into()),
        "i2" => Py::Int(le!(i16).into()),
        "i1" => Py::Int(le!(i8).into()),
        "u8" => Py::Int(i64::try_from(le!(u64)).ok()?),
        "u4" => Py::Int(le!(u32).into()),
        "u2" => Py::Int(le!(u16).into()),
        "u1" => Py::Int(le!(u8).into()),
        "b1" => Py::Bool(*b.first()? != 0),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(pickle: &[u8]) -> String {
        match read(pickle, "t.pth") {
            Ok(v) => panic!("read {v:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn plain_values_read_as_python_wrote_them() {
        // pickle.dumps({'a': [1, -2, 300000, 2.5], 'b': (None, True)}, protocol=2)
        let p = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01J\xfe\xff\xff\xffJ\xe0\x93\x04\x00G@\x04\x00\x00\x00\x00\x00\x00eX\x01\x00\x00\x00bq\x03N\x88\x86q\x04u.";
        let v = read(p, "t").unwrap();
        assert_eq!(
            v,
            Py::Dict(vec![
                (
                    Py::Str("a".into()),
                    Py::List(vec![
                        Py::Int(1),
                        Py::Int(-2),
                        Py::Int(300000),
                        Py::Float(2.5)
                    ])
                ),
                (
                    Py::Str("b".into()),
                    Py::Tuple(vec![Py::None, Py::Bool(true)])
                ),
            ])
        );
    }

    #[test]
    fn hostile_pickles_end_in_an_error_not_a_crash_or_gigabytes() {
        // Code: os.system named by GLOBAL.
        assert!(
            err(b"\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03.")
                .contains("posix.system")
        );
        // A million nested lists: EMPTY_LIST then APPEND over and over would nest.
        let mut deep = vec![0x80, 2];
        deep.extend(std::iter::repeat_n(b']', 100_000));
        deep.extend(std::iter::repeat_n(b'a', 100_000));
        deep.push(b'.');
        assert!(err(&deep).contains("nested over"));
        // A list copied into itself by DUP + APPEND doubles each time.
        let mut bomb = vec![0x80, 2, b']', b'K', 1, b'a'];
        for _ in 0..64 {
            bomb.extend_from_slice(b"2a");
        }
        bomb.push(b'.');
        let e = err(&bomb);
        assert!(
            e.contains("pickle bomb") || e.contains("nested over"),
            "{e}"
        );
        // A list stored in the memo, changed, and recalled would be read stale: refused.
        assert!(err(b"\x80\x02]q\x00K\x01ah\x00.").contains("shared by reference"));
        // Truncated, and unknown opcodes.
        assert!(err(b"\x80\x02]q").contains("ends early"));
        assert!(err(b"\x80\x02\xff.").contains("opcode 0xff"));
    }
}
