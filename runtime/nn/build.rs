//! Links libtorch's directory into test binaries' rpath, and compiles `csrc/`: the fused
//! optimizer kernels that tch's C API does not reach, the evaluator of plugins' elementwise
//! programs, and the TorchScript module access tch lacks (module classes, buffers).

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=csrc/fused.cpp");
    println!("cargo:rerun-if-changed=csrc/program.cpp");
    println!("cargo:rerun-if-changed=csrc/memory.cpp");
    println!("cargo:rerun-if-changed=csrc/script.cpp");
    // torch-sys (links = "tch") exports the directory it linked against.
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        panic!("torch-sys did not report libtorch's directory (DEP_TCH_LIBTORCH_LIB)");
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    let root = Path::new(&lib)
        .parent()
        .expect("libtorch's lib directory has a parent");
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .warnings(false)
        .include(root.join("include"))
        .include(root.join("include/torch/csrc/api/include"))
        .flag("-std=c++17")
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={}", cxx11_abi()))
        // The program evaluator's inner loops must vectorise in every profile; sqrt needs
        // no errno to become one instruction.
        .opt_level(3)
        .flag("-fno-math-errno")
        // `mul-add` is documented as two roundings on every CPU: no silent FMA contraction.
        .flag("-ffp-contract=off")
        // `at::parallel_for` is an OpenMP construct compiled into the caller; torch-sys links
        // libgomp, and the rpath loads libtorch's copy, so both share one thread pool.
        .flag("-fopenmp")
        .file("csrc/fused.cpp")
        .file("csrc/program.cpp")
        .file("csrc/memory.cpp")
        .file("csrc/script.cpp")
        .compile("weft_fused");
}

/// The C++ ABI libtorch was built with, asked the way torch-sys asks (the same Python).
fn cxx11_abi() -> String {
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    if let Ok(v) = std::env::var("LIBTORCH_CXX11_ABI") {
        return v;
    }
    let out = Command::new("python")
        .args([
            "-c",
            "import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))",
        ])
        .output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        _ => "1".into(),
    }
}
