//! Fuzz target `classifier`: the body is `imprint_tests::fuzz::classifier`, which
//! `tests/tests/fuzz_regressions.rs` also runs on every seed and regression input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    imprint_tests::fuzz::classifier(data);
});
