#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| dsm_fuzz::wallet_text(data));
