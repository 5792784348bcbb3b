#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| dsm_fuzz::owned_slot(data));
