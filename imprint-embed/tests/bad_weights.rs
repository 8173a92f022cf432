//! Damaged and hostile weights files end in an error that names the file, never
//! a panic or an unbounded allocation: every truncation and a flipped byte at
//! every position of a small legacy `.pth`, hand-made hostile structures, and
//! samples of both on the real weights when they are present.

#![allow(clippy::unwrap_used)] // test helpers: a failure should stop the test loudly

mod common;

use std::path::Path;

use imprint_embed::{EfficientNetLite, EfficientNetVariant, EmbedError, MiniLm};

use common::{weights, write_legacy_pth};

fn load(bytes: &[u8]) -> Result<EfficientNetLite, EmbedError> {
    EfficientNetLite::from_pth_bytes(bytes, Path::new("w.pth"), EfficientNetVariant::Lite0)
}

fn small() -> Vec<u8> {
    write_legacy_pth(&[
        ("_conv_stem.weight".into(), vec![32, 3, 3, 3], vec![0.5; 864]),
        ("_bn0.weight".into(), vec![32], vec![1.0; 32]),
        ("scalar".into(), vec![], vec![2.0]),
    ])
}

#[test]
fn a_well_formed_small_file_reads_to_the_first_missing_tensor() {
    let e = load(&small()).unwrap_err();
    assert!(matches!(&e, EmbedError::MissingTensor { name, .. } if name == "_bn0.bias"), "{e}");
}

#[test]
fn every_truncation_is_an_error() {
    let full = small();
    for cut in 0..full.len() {
        let e = load(&full[..cut]).unwrap_err();
        assert!(e.to_string().contains("w.pth"), "cut {cut}: {e}");
    }
}

#[test]
fn a_flipped_byte_anywhere_never_panics() {
    let full = small();
    for at in 0..full.len() {
        for mask in [0xff, 0x01, 0x80] {
            let mut b = full.clone();
            b[at] ^= mask;
            // Flips inside the float data still load; everything else must be an error.
            if let Err(e) = load(&b) {
                assert!(e.to_string().contains("w.pth"), "byte {at}: {e}");
            }
        }
    }
}

#[test]
fn hostile_structures_are_refused() {
    let ok = small();
    let pos = |needle: &[u8]| ok.windows(needle.len()).position(|w| w == needle).unwrap();
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    cases.push(("zip format", b"PK\x03\x04rest".to_vec()));
    cases.push(("empty", Vec::new()));
    cases.push(("a huge string length", b"\x80\x02X\xff\xff\xff\xff".to_vec()));
    // The first storage declares more elements than its record holds.
    let mut b = ok.clone();
    let at = pos(b"cpuJ\x60\x03\x00\x00") + 4;
    b[at..at + 4].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    cases.push(("storage larger than declared", b));
    // A size that reaches past the storage.
    let mut b = ok.clone();
    let at = pos(b"(J\x20\x00\x00\x00J\x03") + 2;
    b[at..at + 4].copy_from_slice(&64u32.to_le_bytes());
    cases.push(("tensor beyond its storage", b));
    // A negative dimension.
    let mut b = ok.clone();
    b[at..at + 4].copy_from_slice(&(-1i32).to_le_bytes());
    cases.push(("negative size", b));
    // A storage count that overflows when multiplied by the element size.
    let mut b = ok.clone();
    let data_start = b.len() - (8 + 864 * 4) - (8 + 32 * 4) - (8 + 4);
    b[data_start..data_start + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    cases.push(("element count of 2^64 - 1", b));
    for (what, bytes) in cases {
        let e = load(&bytes).unwrap_err();
        assert!(matches!(e, EmbedError::Weights { .. }), "{what}: {e}");
        assert!(e.to_string().contains("w.pth"), "{what}: {e}");
    }
}

#[test]
fn damaged_real_weights_never_panic() {
    let Some(path) = weights("IMPRINT_EFFICIENTNET_LITE0_PTH") else { return };
    let full = std::fs::read(&path).unwrap();
    // Cuts spread over the file, denser in the pickled header (the first 48 KiB).
    let cuts = (0..48).map(|i| i * 1000).chain((1..32).map(|i| full.len() / 32 * i));
    for cut in cuts {
        assert!(load(&full[..cut]).is_err(), "cut at {cut} loaded");
    }
    for i in 0..96 {
        let mut b = full.clone();
        let at = if i < 64 { i * 733 % 48_000 } else { (i * 7_919_993) % full.len() };
        b[at] ^= 0xa5;
        let _ = load(&b);
    }
}

#[test]
fn damaged_minilm_files_are_errors() {
    let tokenizer =
        br#"{"version": "1.0", "model": {"type": "WordLevel", "vocab": {}, "unk_token": "[UNK]"}}"#;
    let cases: [(&[u8], &[u8]); 4] = [
        (b"", tokenizer),
        (b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":1}        ", tokenizer),
        (b"\x02\x00\x00\x00\x00\x00\x00\x00{}", tokenizer),
        (b"\x02\x00\x00\x00\x00\x00\x00\x00{}", b"not json"),
    ];
    for (st, tok) in cases {
        let e =
            MiniLm::from_bytes(st, Path::new("m.safetensors"), tok, Path::new("tokenizer.json")).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("m.safetensors") || text.contains("tokenizer.json"), "{text}");
    }
    let Some(dir) = weights("IMPRINT_MINILM_DIR") else { return };
    let st = std::fs::read(dir.join("model.safetensors")).unwrap();
    let tok = std::fs::read(dir.join("tokenizer.json")).unwrap();
    for cut in [0, 7, 8, 100, 10_000, st.len() / 2, st.len() - 1] {
        let e = MiniLm::from_bytes(&st[..cut], Path::new("m.safetensors"), &tok, Path::new("t.json"));
        assert!(matches!(e, Err(EmbedError::Weights { .. })), "cut {cut}");
    }
    let e = MiniLm::from_bytes(&st, Path::new("m.safetensors"), &tok[..tok.len() / 2], Path::new("t.json"));
    assert!(matches!(e, Err(EmbedError::Tokenizer { .. })));
}
