//! libFuzzer entry point of `weft_fuzz::python_config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| weft_fuzz::python_config(data));
