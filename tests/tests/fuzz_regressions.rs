//! Replays the fuzz corpora in CI: every file in `fuzz/seeds/<target>/` and
//! `fuzz/regressions/<target>/` goes through the same function the cargo-fuzz
//! target calls (`imprint_tests::fuzz::*`), so a fixed crash stays fixed
//! without running the fuzzer. See `docs/fuzzing.md`.
//!
//! The committed seed corpus is (re)built by
//! `cargo run -p imprint-tests --example write_fuzz_seeds`.

#![allow(clippy::unwrap_used)]
// test code: a failure should stop it loudly
// The one unsafe item is the allocator wrapper below, which only forwards to
// `System`: it lets CI catch inputs that ask for absurd allocations, which
// abort under the fuzzer's AddressSanitizer but may pass unnoticed otherwise.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fs;
use std::path::{Path, PathBuf};

use imprint_tests::fuzz;

type Target = fn(&[u8]) -> bool;

/// Every target, with the number of regression inputs committed for it (a
/// guard against inputs deleted by accident; a target whose fuzzing found
/// nothing has none, and no folder).
const TARGETS: [(&str, Target, usize); 7] = [
    ("hdf5_embeddings", fuzz::hdf5_embeddings, 2),
    ("config", fuzz::config, 1),
    ("saved_head", fuzz::saved_head, 2),
    ("classifier", fuzz::classifier, 1),
    ("cli_csv", fuzz::cli_csv, 1),
    ("cli_npy", fuzz::cli_npy, 0),
    ("cli_labels", fuzz::cli_labels, 0),
];

/// Fewest seeds a target's corpus may hold (a guard against a corpus that
/// was deleted or emptied by accident).
const MIN_SEEDS: usize = 10;

/// Largest single allocation one input may request (the fuzzer runs with
/// `-rss_limit_mb=4096`, and AddressSanitizer refuses requests above 1 TiB).
const MAX_REQUEST: usize = 1 << 30;

thread_local! {
    /// Largest allocation request seen on this thread since the last reset.
    static LARGEST_REQUEST: Cell<usize> = const { Cell::new(0) };
}

fn note_request(size: usize) {
    // `try_with`: the slot may be gone while a thread shuts down.
    let _ = LARGEST_REQUEST.try_with(|l| l.set(l.get().max(size)));
}

/// The system allocator, recording the largest request per thread.
struct RecordingAllocator;

// SAFETY: every method forwards to `System` with the caller's arguments.
unsafe impl GlobalAlloc for RecordingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_request(layout.size());
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_request(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through this allocator with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_request(new_size);
        // SAFETY: as for `dealloc`; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: RecordingAllocator = RecordingAllocator;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("fuzz")
}

/// The files of `dir`, sorted; panics if the folder is missing or empty.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no inputs: nothing would be tested", dir.display());
    files
}

/// Runs `target` on every file of `dir`; returns (inputs run, inputs accepted).
fn replay(target: Target, dir: &Path) -> (usize, usize) {
    let files = inputs(dir);
    let mut accepted = 0;
    for path in &files {
        let bytes = fs::read(path).unwrap();
        LARGEST_REQUEST.with(|l| l.set(0));
        let ok = std::panic::catch_unwind(|| target(&bytes))
            .unwrap_or_else(|_| panic!("{} panicked (see above)", path.display()));
        let largest = LARGEST_REQUEST.with(Cell::get);
        assert!(
            largest <= MAX_REQUEST,
            "{} asked the allocator for {largest} bytes at once (limit {MAX_REQUEST})",
            path.display()
        );
        accepted += usize::from(ok);
    }
    (files.len(), accepted)
}

#[test]
fn seed_corpora_run_clean_and_exercise_both_paths() {
    let mut total = 0;
    for (name, target, _) in TARGETS {
        let dir = fuzz_dir().join("seeds").join(name);
        let (ran, accepted) = replay(target, &dir);
        assert_eq!(ran, inputs(&dir).len());
        assert!(ran >= MIN_SEEDS, "{name}: only {ran} seeds");
        assert!(accepted >= 1, "{name}: no seed is accepted, so the deep checks never run");
        assert!(accepted < ran, "{name}: every seed is accepted, so no error path runs");
        eprintln!("{name}: {ran} seeds, {accepted} accepted");
        total += ran;
    }
    assert!(total >= TARGETS.len() * MIN_SEEDS, "ran {total} seed inputs");
}

#[test]
fn regression_inputs_run_clean() {
    let mut total = 0;
    for (name, target, committed) in TARGETS {
        let dir = fuzz_dir().join("regressions").join(name);
        if committed == 0 && !dir.exists() {
            eprintln!("{name}: no regression inputs");
            continue;
        }
        let (ran, _) = replay(target, &dir);
        assert!(ran >= committed, "{name}: {ran} regression inputs, {committed} were committed");
        eprintln!("{name}: {ran} regression inputs");
        total += ran;
    }
    let committed: usize = TARGETS.iter().map(|t| t.2).sum();
    assert!(total >= committed, "ran {total} regression inputs");
}
