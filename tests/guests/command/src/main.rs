//! A plain WASI program: exports `wasi:cli/run`, none of weft's plugin interfaces.

fn main() {
    println!("hello from a command");
}
