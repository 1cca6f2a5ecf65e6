//! Writes a pickle (protocol 2, as `torch.save` does) of plain values and tensors, with only
//! the opcodes and callables PyTorch's `weights_only` loader accepts, so that
//! `torch.load(path)` reads weft's `.pth` files under PyTorch's default safety setting.

use super::unpickle::{Py, TensorRef};

/// The pickle of `value`, whose tensors name storages by key (`data/<key>` in the archive).
pub fn write(value: &Py) -> Vec<u8> {
    let mut out = vec![0x80, 2];
    put(&mut out, value);
    out.push(b'.');
    out
}

fn global(out: &mut Vec<u8>, module: &str, name: &str) {
    out.push(b'c');
    out.extend_from_slice(module.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(name.as_bytes());
    out.push(b'\n');
}

fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'X');
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn int(out: &mut Vec<u8>, n: i64) {
    if let Ok(small) = i32::try_from(n) {
        out.push(b'J');
        out.extend_from_slice(&small.to_le_bytes());
    } else {
        out.extend_from_slice(&[0x8a, 8]);
        out.extend_from_slice(&n.to_le_bytes());
    }
}

fn ints(out: &mut Vec<u8>, items: &[i64]) {
    out.push(b'(');
    for &n in items {
        int(out, n);
    }
    out.push(b't');
}

/// `collections.OrderedDict()`, empty, as a state_dict and a tensor's hooks start.
fn ordered_dict(out: &mut Vec<u8>) {
    global(out, "collections", "OrderedDict");
    out.extend_from_slice(b")R");
}

fn tensor(out: &mut Vec<u8>, t: &TensorRef) {
    global(out, "torch._utils", "_rebuild_tensor_v2");
    out.push(b'(');
    // The persistent id of the storage.
    out.push(b'(');
    string(out, "storage");
    global(out, "torch", &t.storage.class);
    string(out, &t.storage.key);
    string(out, "cpu");
    int(out, t.storage.numel);
    out.extend_from_slice(b"tQ");
    int(out, t.offset);
    ints(out, &t.size);
    ints(out, &t.stride);
    out.push(0x89); // requires_grad = False
    ordered_dict(out); // backward hooks
    out.extend_from_slice(b"tR");
}

fn put(out: &mut Vec<u8>, v: &Py) {
    match v {
        Py::None => out.push(b'N'),
        Py::Bool(true) => out.push(0x88),
        Py::Bool(false) => out.push(0x89),
        Py::Int(n) => int(out, *n),
        Py::Float(f) => {
            out.push(b'G');
            out.extend_from_slice(&f.to_be_bytes());
        }
        Py::Str(s) => string(out, s),
        // Protocol 2 has no bytes opcode; weft writes none (metadata comes from JSON).
        Py::Bytes(b) => string(out, &String::from_utf8_lossy(b)),
        Py::List(items) => {
            out.push(b']');
            if !items.is_empty() {
                out.push(b'(');
                items.iter().for_each(|i| put(out, i));
                out.push(b'e');
            }
        }
        Py::Tuple(items) => {
            out.push(b'(');
            items.iter().for_each(|i| put(out, i));
            out.push(b't');
        }
        Py::Dict(pairs) => {
            // Every dict an OrderedDict: a state_dict must be one, and for the rest the
            // order is kept either way.
            ordered_dict(out);
            if !pairs.is_empty() {
                out.push(b'(');
                for (k, v) in pairs {
                    put(out, k);
                    put(out, v);
                }
                out.push(b'u');
            }
        }
        Py::Tensor(t) => tensor(out, t),
        // Reading-only forms: never built for writing.
        Py::Storage(_) | Py::Global(_) | Py::Dtype(_) => out.push(b'N'),
    }
}
