//! Fuzz target `cli_npy`: the body is `imprint_tests::fuzz::cli_npy`, which
//! `tests/tests/fuzz_regressions.rs` also runs on every seed and regression input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    imprint_tests::fuzz::cli_npy(data);
});
