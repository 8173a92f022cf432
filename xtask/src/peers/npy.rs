//! Arrays as NumPy `.npy` files (format 1.0, little-endian, C order), the
//! exchange format with the Python peers.

use std::path::Path;

use ndarray::ArrayView2;

use imprint_bench::{BenchError, Result};

/// Writes a 2-D f32 array (`<f4`).
pub fn write_f32(path: &Path, x: ArrayView2<'_, f32>) -> Result<()> {
    let x = x.as_standard_layout();
    let mut bytes = header("<f4", &[x.nrows(), x.ncols()]);
    bytes.reserve(x.len() * 4);
    for v in x.iter() {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    write_atomic(path, &bytes)
}

/// Writes a 1-D array of labels or indices (`<i8`).
pub fn write_i64(path: &Path, values: &[usize]) -> Result<()> {
    let mut bytes = header("<i8", &[values.len()]);
    for &v in values {
        bytes.extend_from_slice(&(v as i64).to_le_bytes());
    }
    write_atomic(path, &bytes)
}

/// The magic string, version 1.0 and the header dict, padded with spaces so
/// that the data start at a multiple of 64 bytes.
fn header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let shape = match shape {
        [n] => format!("({n},)"),
        dims => format!("({})", dims.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")),
    };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let unpadded = 6 + 2 + 2 + dict.len() + 1;
    dict.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Writes `bytes` to `path` with the project's atomic write (replacing it).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    imprint_data::write_atomic(path, bytes, true)
        .map_err(|source| BenchError::Data { context: format!("writing {}", path.display()), source })
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;

    #[test]
    fn header_is_padded_to_64_bytes_and_data_follow() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.npy");
        write_f32(&path, array![[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]].view()).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
        assert!(
            header.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"),
            "{header}"
        );
        assert!(header.ends_with('\n'));
        assert_eq!(bytes.len(), 10 + header_len + 6 * 4);
        assert_eq!(&bytes[10 + header_len..10 + header_len + 4], &1.0f32.to_le_bytes());

        write_i64(&path, &[7, 8]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
        assert!(header.contains("'shape': (2,)"), "{header}");
        assert_eq!(&bytes[bytes.len() - 8..], &8i64.to_le_bytes());
    }
}
