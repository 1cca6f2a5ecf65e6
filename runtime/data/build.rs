//! Puts libtorch's directory on the rpath of every binary of this package (the `weft`
//! executable, tests, benches), so they run without `LD_LIBRARY_PATH`.

fn main() {
    // torch-sys (links = "tch") exports the directory it linked against.
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
}
