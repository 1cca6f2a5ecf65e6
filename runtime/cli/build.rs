//! Puts libtorch's directory on the rpath of every binary of this package (the `weft`
//! executable, tests, benches), so they run without `LD_LIBRARY_PATH`, and keeps
//! libtorch_cuda among their libraries.

fn main() {
    // torch-sys (links = "tch") exports the directory it linked against.
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
        // torch-sys asks for -ltorch_cuda, but no symbol of it is referenced, so the linker's
        // --as-needed drops it; its static initialisers are what register CUDA with ATen,
        // and without them every CUDA call says "Cannot initialize CUDA without ATen_cuda
        // library" on a machine with GPUs (tch-rs issue 329, pytorch issue 36437).
        if std::path::Path::new(&lib).join("libtorch_cuda.so").exists() {
            println!(
                "cargo:rustc-link-arg=-Wl,--push-state,--no-as-needed,-ltorch_cuda,--pop-state"
            );
        }
    }
}
