//! Compiles `csrc/c10d.cpp` against the c10d headers of the libtorch that torch-sys links.
//! The wheel ships no Gloo headers; `csrc/gloo_decls/` declares the few Gloo names that
//! `ProcessGroupGloo.hpp` mentions (Gloo itself is compiled into libtorch_cpu).

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=csrc");
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        panic!("torch-sys did not report libtorch's directory (DEP_TCH_LIBTORCH_LIB)");
    };
    // This package's own binaries (the allreduce benchmark, tests) find libtorch at run time.
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    let root = Path::new(&lib)
        .parent()
        .expect("libtorch's lib directory has a parent");
    // Every torch 2.13 wheel is built with the C++11 ABI; a mismatch fails at link time.
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".into());
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .warnings(false)
        .include("csrc/gloo_decls")
        .include(root.join("include"))
        .include(root.join("include/torch/csrc/api/include"))
        // c++20 silences the headers' deprecation warnings about c++17 constructs.
        .flag("-std=c++20")
        .define("USE_C10D_GLOO", None)
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={abi}"))
        .file("csrc/c10d.cpp")
        .compile("weft_c10d");
}
