//! Damaged files must give errors, never panics: every truncation and many byte
//! corruptions of h5py-written fixtures go through the full read path.

use std::path::PathBuf;

use imprint_data::EmbeddingFile;

fn fixture_bytes(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("fixtures").join(name);
    std::fs::read(path).expect("fixture exists")
}

/// Opens and reads; the result is irrelevant, only that it returns.
fn try_read(bytes: Vec<u8>) -> bool {
    EmbeddingFile::from_bytes(bytes, "damaged.h5").and_then(|f| f.read()).is_ok()
}

#[test]
fn every_truncation_is_an_error() {
    for name in ["chunked_gzip.h5", "latest_gzip.h5", "contiguous.h5"] {
        let good = fixture_bytes(name);
        assert!(try_read(good.clone()), "{name} must read");
        for len in 0..good.len() {
            assert!(!try_read(good[..len].to_vec()), "{name} truncated to {len} read fine");
        }
    }
}

#[test]
fn byte_corruption_never_panics() {
    for name in ["chunked_gzip.h5", "latest_gzip.h5", "contiguous.h5"] {
        let good = fixture_bytes(name);
        for pos in 0..good.len() {
            for mask in [0xFF_u8, 0x01, 0x80] {
                let mut bad = good.clone();
                bad[pos] ^= mask;
                // Some flips hit unused bytes and still read: only panics matter here.
                let _ = try_read(bad);
            }
        }
    }
}
