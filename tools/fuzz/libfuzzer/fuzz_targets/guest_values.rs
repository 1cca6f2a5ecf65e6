//! libFuzzer entry point of `weft_fuzz::guest_values`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| weft_fuzz::guest_values(data));
