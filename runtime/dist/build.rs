//! Compiles the c10d shim against the headers of the libtorch that torch-sys links:
//! `csrc/c10d.cpp` always (TCPStore and ProcessGroupGloo, in libtorch_cpu), and
//! `csrc/nccl.cpp` (ProcessGroupNCCL, in libtorch_cuda) when that libtorch has CUDA and the
//! CUDA and NCCL headers are found; it then sets `cfg(weft_nccl)`.
//!
//! The wheel ships no Gloo headers; `csrc/gloo_decls/` declares the few Gloo names that
//! `ProcessGroupGloo.hpp` mentions (Gloo itself is compiled into libtorch_cpu). NCCL's and
//! the CUDA runtime's headers come with the wheel's `nvidia-*` dependencies; the CUDA
//! compiler-runtime and CCCL headers that `cuda_runtime.h` includes do not, and `make setup`
//! puts them in `WEFT_CUDA_HEADERS` (default `~/.cache/weft/cuda-headers-13.0`).

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=csrc");
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    println!("cargo:rerun-if-env-changed=WEFT_CUDA_HEADERS");
    println!("cargo:rerun-if-env-changed=XDG_CACHE_HOME");
    println!("cargo:rustc-check-cfg=cfg(weft_nccl)");
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        panic!("torch-sys did not report libtorch's directory (DEP_TCH_LIBTORCH_LIB)");
    };
    let lib = PathBuf::from(lib);
    // This package's own binaries (the allreduce benchmark, tests) find libtorch at run time.
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    let root = lib.parent().expect("libtorch's lib directory has a parent");
    // Every torch 2.13 wheel is built with the C++11 ABI; a mismatch fails at link time.
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".into());
    let base = || {
        let mut b = cc::Build::new();
        b.cpp(true)
            .pic(true)
            .warnings(false)
            .include(root.join("include"))
            .include(root.join("include/torch/csrc/api/include"))
            // c++20 silences the headers' deprecation warnings about c++17 constructs.
            .flag("-std=c++20")
            .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={abi}"));
        b
    };
    // NCCL first: c10d.cpp's connect calls into nccl.cpp only when that is built.
    let nccl = lib.join("libtorch_cuda.so").exists()
        && {
            match cuda_includes(root) {
                Ok(dirs) => {
                    let mut b = base();
                    for d in &dirs {
                        b.include(d);
                    }
                    b.define("USE_C10D_NCCL", None)
                        .define("USE_CUDA", None)
                        // c10's CUDA headers size a padding by the cache line; the value is fixed
                        // by the ABI, not by this compiler's tuning.
                        .flag("-Wno-interference-size")
                        .file("csrc/nccl.cpp")
                        .compile("weft_nccl");
                    // ProcessGroupNCCL is in libtorch_cuda (torch-sys links it); device selection
                    // is in libc10_cuda, which torch-sys does not name.
                    println!("cargo:rustc-link-lib=dylib=c10_cuda");
                    println!("cargo:rustc-cfg=weft_nccl");
                    true
                }
                Err(missing) => {
                    println!(
                        "cargo:warning=libtorch has CUDA but {missing} is missing: weft-dist is built without NCCL (run `make setup`)"
                    );
                    false
                }
            }
        };
    let mut c10d = base();
    c10d.include("csrc/gloo_decls")
        .define("USE_C10D_GLOO", None)
        .file("csrc/c10d.cpp")
        .file("csrc/reducer.cpp");
    if nccl {
        c10d.define("WEFT_WITH_NCCL", None);
    }
    c10d.compile("weft_c10d");
}

/// The include directories NCCL's process group needs, or the first header not found.
fn cuda_includes(torch_root: &Path) -> Result<Vec<PathBuf>, String> {
    // torch/ sits in site-packages beside nvidia/.
    let site = torch_root.parent().expect("torch's folder has a parent");
    // `make` sets WEFT_CUDA_HEADERS; a plain `cargo build` looks where `make setup` puts them.
    let side = std::env::var_os("WEFT_CUDA_HEADERS")
        .map(PathBuf::from)
        .or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
            Some(cache.join("weft/cuda-headers-13.0"))
        })
        .unwrap_or_default()
        .join("nvidia/cu13/include");
    let dirs = [
        site.join("nvidia/cu13/include"),
        site.join("nvidia/nccl/include"),
        side.clone(),
        side.join("cccl"),
    ];
    let wanted = [
        (&dirs[0], "cuda_runtime.h"),
        (&dirs[1], "nccl.h"),
        (&dirs[2], "crt/host_config.h"),
        (&dirs[3], "cuda/std/version"),
    ];
    for (dir, header) in wanted {
        if !dir.join(header).exists() {
            return Err(dir.join(header).display().to_string());
        }
    }
    Ok(dirs.to_vec())
}
