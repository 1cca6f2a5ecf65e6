//! libFuzzer entry point of `weft_fuzz::component_compile`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| weft_fuzz::component_compile(data));
