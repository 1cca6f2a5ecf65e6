//! libFuzzer entry point of `weft_fuzz::checkpoint`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| weft_fuzz::checkpoint(data));
