//! Fuzz target `cli_csv`: the body is `imprint_tests::fuzz::cli_csv`, which
//! `tests/tests/fuzz_regressions.rs` also runs on every seed and regression input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    imprint_tests::fuzz::cli_csv(data);
});
