#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| dsm_fuzz::backup_file(data));
