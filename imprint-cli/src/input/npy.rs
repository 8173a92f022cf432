//! A small, validating reader of NumPy `.npy` files (format versions 1, 2
//! and 3): float32 and float64 matrices in C or Fortran order for
//! embeddings; integer, unicode and byte-string vectors for labels.
//!
//! Everything is checked before a value is read: the magic, the version, the
//! header (a Python dict literal, parsed with a depth limit), the dtype, the
//! shape and that the data is exactly as long as the shape says. Errors are
//! one-line reasons; the caller adds the file name.

use imprint::ClassLabel;
use ndarray::Array2;

/// The magic at the start of every `.npy` file.
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Deepest nesting accepted in a header (real headers nest 2 levels).
const MAX_DEPTH: usize = 8;

/// Element types we can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Float,
    Int {
        signed: bool,
    },
    /// `U{n}`: n UCS-4 code units per element.
    Unicode,
    /// `S{n}`: n bytes per element.
    Bytes,
}

/// A parsed `.npy` file: header fields and the raw data bytes.
#[derive(Debug)]
struct Npy<'a> {
    descr: String,
    kind: Kind,
    /// Bytes per element.
    size: usize,
    big_endian: bool,
    fortran: bool,
    shape: Vec<usize>,
    data: &'a [u8],
}

/// Reads a float32 or float64 matrix (rank 2, C or Fortran order) as f32.
///
/// # Errors
/// A reason for every malformed file, wrong dtype or rank, and the first
/// non-finite value (or float64 value outside the float32 range) by row,
/// then column.
pub fn read_matrix(bytes: &[u8]) -> Result<Array2<f32>, String> {
    let npy = parse(bytes)?;
    if npy.kind != Kind::Float || !(npy.size == 4 || npy.size == 8) {
        return Err(format!(
            "dtype '{}' is not supported for embeddings; expected float32 ('<f4') or float64 ('<f8')",
            npy.descr
        ));
    }
    let &[rows, cols] = npy.shape.as_slice() else {
        return Err(format!(
            "array of shape {} is not a matrix; expected rank 2 (rows x features)",
            shape_text(&npy.shape)
        ));
    };
    if rows == 0 {
        return Err(format!("no rows (shape {})", shape_text(&npy.shape)));
    }
    if cols == 0 {
        return Err(format!(
            "zero columns (shape {}); embeddings need at least one feature",
            shape_text(&npy.shape)
        ));
    }
    let index = |i: usize, j: usize| if npy.fortran { j * rows + i } else { i * cols + j };
    let mut values = Vec::with_capacity(rows * cols);
    for i in 0..rows {
        for j in 0..cols {
            let at = index(i, j) * npy.size;
            let raw = &npy.data[at..at + npy.size];
            let v = if npy.size == 4 {
                let b: [u8; 4] = raw.try_into().map_err(|_| "internal: 4-byte element".to_string())?;
                f64::from(if npy.big_endian { f32::from_be_bytes(b) } else { f32::from_le_bytes(b) })
            } else {
                let b: [u8; 8] = raw.try_into().map_err(|_| "internal: 8-byte element".to_string())?;
                if npy.big_endian { f64::from_be_bytes(b) } else { f64::from_le_bytes(b) }
            };
            let single = v as f32;
            if !v.is_finite() {
                return Err(format!("non-finite value {} at row {i}, column {j} (first bad row)", single));
            }
            if !single.is_finite() {
                return Err(format!("value {v:e} at row {i}, column {j} is outside the float32 range"));
            }
            values.push(single);
        }
    }
    Array2::from_shape_vec((rows, cols), values).map_err(|e| format!("internal: {e}"))
}

/// Reads a vector of labels: integers of any width, or unicode (`U`) or
/// byte (`S`) strings, which stay strings.
///
/// # Errors
/// A malformed file, another dtype, a rank other than 1, an integer beyond
/// `i64`, an invalid character or an empty string label.
pub fn read_labels(bytes: &[u8]) -> Result<Vec<ClassLabel>, String> {
    let npy = parse(bytes)?;
    let &[n] = npy.shape.as_slice() else {
        return Err(format!(
            "labels of shape {} are not a vector; expected rank 1 (one label per row)",
            shape_text(&npy.shape)
        ));
    };
    let element = |i: usize| &npy.data[i * npy.size..(i + 1) * npy.size];
    match npy.kind {
        Kind::Int { signed } => (0..n)
            .map(|i| {
                int_label(element(i), signed, npy.big_endian).map_err(|e| format!("label at row {i}: {e}"))
            })
            .collect(),
        Kind::Unicode => (0..n)
            .map(|i| {
                let units = element(i).chunks_exact(4).map(|c| {
                    let b = [c[0], c[1], c[2], c[3]];
                    if npy.big_endian { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) }
                });
                let mut text = String::new();
                for u in units.take_while(|&u| u != 0) {
                    text.push(char::from_u32(u).ok_or_else(|| {
                        format!("label at row {i} holds the invalid character code {u:#x}")
                    })?);
                }
                text_label(text, i)
            })
            .collect(),
        Kind::Bytes => (0..n)
            .map(|i| {
                let raw: Vec<u8> = element(i).iter().copied().take_while(|&b| b != 0).collect();
                let text =
                    String::from_utf8(raw).map_err(|_| format!("label at row {i} is not valid UTF-8"))?;
                text_label(text, i)
            })
            .collect(),
        Kind::Float => Err(format!(
            "labels of dtype '{}' are not supported; expected integers (e.g. '<i4', '<i8') or strings ('<U')",
            npy.descr
        )),
    }
}

fn text_label(text: String, row: usize) -> Result<ClassLabel, String> {
    if text.is_empty() {
        return Err(format!("label at row {row} is an empty string"));
    }
    Ok(ClassLabel::Text(text))
}

fn int_label(raw: &[u8], signed: bool, big_endian: bool) -> Result<ClassLabel, String> {
    let mut b = [0u8; 8];
    let n = raw.len();
    if big_endian {
        for (k, &v) in raw.iter().rev().enumerate() {
            b[k] = v;
        }
    } else {
        b[..n].copy_from_slice(raw);
    }
    // Sign-extend from the element's width.
    let negative = signed && b[n - 1] & 0x80 != 0;
    if negative {
        b[n..].fill(0xff);
    }
    let unsigned = u64::from_le_bytes(b);
    let value = if signed {
        i64::from_le_bytes(b)
    } else {
        i64::try_from(unsigned).map_err(|_| format!("{unsigned} does not fit in a 64-bit signed integer"))?
    };
    Ok(ClassLabel::Int(value))
}

fn shape_text(shape: &[usize]) -> String {
    match shape {
        [n] => format!("({n},)"),
        _ => format!("({})", shape.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")),
    }
}

/// Parses the preamble and header and checks the data length.
fn parse(bytes: &[u8]) -> Result<Npy<'_>, String> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not a .npy file (it does not start with the \\x93NUMPY magic)".into());
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (len, start): (usize, usize) = match major {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => {
            (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12)
        }
        2 | 3 => return Err("truncated .npy header".into()),
        _ => {
            return Err(format!(
                ".npy format version {major}.{minor} is not supported (1.0, 2.0 and 3.0 are)"
            ));
        }
    };
    let end = start.checked_add(len).filter(|&e| e <= bytes.len()).ok_or_else(|| {
        format!("truncated .npy header: it declares {len} bytes but the file has {}", bytes.len() - start)
    })?;
    let header =
        std::str::from_utf8(&bytes[start..end]).map_err(|_| "the .npy header is not text".to_string())?;
    if major < 3 && !header.is_ascii() {
        return Err("the .npy header holds non-ASCII characters (only version 3 allows them)".into());
    }
    let parser = Parser { text: header.as_bytes(), at: 0 };
    let dict = match parser.literal_only()? {
        Lit::Dict(d) => d,
        _ => return Err("the .npy header is not a dict".into()),
    };
    let field = |name: &str| {
        dict.iter()
            .find(|(k, _)| matches!(k, Lit::Str(s) if s == name))
            .map(|(_, v)| v)
            .ok_or_else(|| format!("the .npy header has no '{name}'"))
    };
    let descr = match field("descr")? {
        Lit::Str(s) => s.clone(),
        _ => return Err("structured dtypes are not supported; save a plain numeric array".into()),
    };
    let fortran = match field("fortran_order")? {
        Lit::Bool(b) => *b,
        _ => return Err("'fortran_order' in the .npy header is not True or False".into()),
    };
    let shape = match field("shape")? {
        Lit::Tuple(items) => items
            .iter()
            .map(|v| match v {
                Lit::Int(n) => usize::try_from(*n).map_err(|_| format!("the .npy shape holds the size {n}")),
                _ => Err("the .npy shape holds a non-integer".to_string()),
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err("'shape' in the .npy header is not a tuple".into()),
    };
    let (kind, size, big_endian) = dtype(&descr)?;
    let count = shape
        .iter()
        .try_fold(1usize, |a, &b| a.checked_mul(b))
        .and_then(|n| n.checked_mul(size))
        .ok_or_else(|| format!("the .npy shape {} is too large", shape_text(&shape)))?;
    let data = &bytes[end..];
    if data.len() < count {
        return Err(format!(
            "truncated: shape {} of '{descr}' needs {count} bytes of data, the file holds {}",
            shape_text(&shape),
            data.len()
        ));
    }
    if data.len() > count {
        return Err(format!(
            "{} bytes after the data of shape {} (more than one array in the file?)",
            data.len() - count,
            shape_text(&shape)
        ));
    }
    Ok(Npy { descr, kind, size, big_endian, fortran, shape, data })
}

/// Kind, element size and byte order of a dtype string such as `<f4`.
fn dtype(descr: &str) -> Result<(Kind, usize, bool), String> {
    let (order, rest) = match descr.chars().next() {
        Some(c @ ('<' | '>' | '|' | '=')) => (c, &descr[1..]),
        _ => ('=', descr),
    };
    let big_endian = match order {
        '>' => true,
        '<' | '|' => false,
        _ => cfg!(target_endian = "big"),
    };
    let mut chars = rest.chars();
    let code = chars.next().ok_or_else(|| format!("empty dtype '{descr}'"))?;
    if code == 'O' {
        return Err("object arrays (pickled Python objects) are not supported".into());
    }
    let n: usize = chars.as_str().parse().map_err(|_| format!("dtype '{descr}' is not supported"))?;
    let unsupported = || format!("dtype '{descr}' is not supported");
    match code {
        'f' if n == 4 || n == 8 => Ok((Kind::Float, n, big_endian)),
        'i' | 'u' if matches!(n, 1 | 2 | 4 | 8) => Ok((Kind::Int { signed: code == 'i' }, n, big_endian)),
        'U' if n > 0 => n.checked_mul(4).map(|s| (Kind::Unicode, s, big_endian)).ok_or_else(unsupported),
        'S' if n > 0 => Ok((Kind::Bytes, n, big_endian)),
        _ => Err(unsupported()),
    }
}

/// The subset of Python literals that `.npy` headers use.
#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Str(String),
    Int(i128),
    Bool(bool),
    None,
    Tuple(Vec<Lit>),
    List(Vec<Lit>),
    Dict(Vec<(Lit, Lit)>),
}

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    /// One literal followed by nothing but whitespace.
    fn literal_only(mut self) -> Result<Lit, String> {
        let v = self.literal(0)?;
        self.skip_ws();
        if self.at != self.text.len() {
            return Err(format!("unexpected text in the .npy header at byte {}", self.at));
        }
        Ok(v)
    }

    fn skip_ws(&mut self) {
        while self.text.get(self.at).is_some_and(|c| c.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("malformed .npy header: {what} at byte {}", self.at))
    }

    fn literal(&mut self, depth: usize) -> Result<Lit, String> {
        if depth > MAX_DEPTH {
            return self.err("nesting too deep");
        }
        self.skip_ws();
        match self.text.get(self.at) {
            Some(b'\'' | b'"') => self.string(),
            Some(b'{') => {
                self.at += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_ws();
                    if self.text.get(self.at) == Some(&b'}') {
                        self.at += 1;
                        return Ok(Lit::Dict(items));
                    }
                    let key = self.literal(depth + 1)?;
                    self.skip_ws();
                    if self.text.get(self.at) != Some(&b':') {
                        return self.err("expected ':'");
                    }
                    self.at += 1;
                    let value = self.literal(depth + 1)?;
                    items.push((key, value));
                    if !self.separator(b'}')? {
                        return self.err("expected ',' or '}'");
                    }
                }
            }
            Some(&open @ (b'(' | b'[')) => {
                let close = if open == b'(' { b')' } else { b']' };
                self.at += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_ws();
                    if self.text.get(self.at) == Some(&close) {
                        self.at += 1;
                        return Ok(if open == b'(' { Lit::Tuple(items) } else { Lit::List(items) });
                    }
                    items.push(self.literal(depth + 1)?);
                    if !self.separator(close)? {
                        return self.err("expected ',' or a closing bracket");
                    }
                }
            }
            Some(c) if c.is_ascii_digit() || *c == b'-' => {
                let start = self.at;
                self.at += 1;
                while self.text.get(self.at).is_some_and(u8::is_ascii_digit) {
                    self.at += 1;
                }
                let digits = std::str::from_utf8(&self.text[start..self.at]).map_err(|e| e.to_string())?;
                let value = digits.parse::<i128>().or_else(|_| self.err("bad integer"))?;
                // Python 2 wrote long integers as `3L`.
                if self.text.get(self.at) == Some(&b'L') {
                    self.at += 1;
                }
                Ok(Lit::Int(value))
            }
            Some(_) => {
                for (word, value) in
                    [("True", Lit::Bool(true)), ("False", Lit::Bool(false)), ("None", Lit::None)]
                {
                    if self.text[self.at..].starts_with(word.as_bytes()) {
                        self.at += word.len();
                        return Ok(value);
                    }
                }
                self.err("unexpected character")
            }
            None => self.err("unexpected end"),
        }
    }

    /// After an item: `,` (then maybe `close`) or `close`. Returns whether the
    /// container continues or just closed (the closing byte is left for the caller).
    fn separator(&mut self, close: u8) -> Result<bool, String> {
        self.skip_ws();
        match self.text.get(self.at) {
            Some(b',') => {
                self.at += 1;
                Ok(true)
            }
            Some(&c) if c == close => Ok(true),
            _ => Ok(false),
        }
    }

    fn string(&mut self) -> Result<Lit, String> {
        let quote = self.text[self.at];
        self.at += 1;
        let start = self.at;
        while let Some(&c) = self.text.get(self.at) {
            if c == quote {
                let s = std::str::from_utf8(&self.text[start..self.at]).map_err(|e| e.to_string())?;
                self.at += 1;
                return Ok(Lit::Str(s.to_string()));
            }
            if c == b'\\' {
                return self.err("escape sequences are not supported");
            }
            self.at += 1;
        }
        self.err("unterminated string")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `.npy` file of version `major` with `header` and `data`, padded as NumPy pads.
    fn npy(major: u8, header: &str, data: &[u8]) -> Vec<u8> {
        let prefix = if major == 1 { 10 } else { 12 };
        let mut h = header.to_string();
        while !(prefix + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        let mut out = MAGIC.to_vec();
        out.extend([major, 0]);
        if major == 1 {
            out.extend((h.len() as u16).to_le_bytes());
        } else {
            out.extend((h.len() as u32).to_le_bytes());
        }
        out.extend(h.as_bytes());
        out.extend(data);
        out
    }

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn c_and_fortran_order_f32_and_f64_read_the_same_matrix() {
        let c = npy(
            1,
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
            &f32s(&[1., 2., 3., 4., 5., 6.]),
        );
        let f = npy(
            1,
            "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
            &f32s(&[1., 4., 2., 5., 3., 6.]),
        );
        let d: Vec<u8> = [1f64, 2., 3., 4., 5., 6.].iter().flat_map(|x| x.to_le_bytes()).collect();
        let d = npy(2, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)}", &d);
        let be: Vec<u8> = [1f32, 2., 3., 4., 5., 6.].iter().flat_map(|x| x.to_be_bytes()).collect();
        let be = npy(3, "{\"descr\": \">f4\", \"fortran_order\": False, \"shape\": (2,3)}", &be);
        let expected = ndarray::array![[1f32, 2., 3.], [4., 5., 6.]];
        for bytes in [c, f, d, be] {
            assert_eq!(read_matrix(&bytes).unwrap(), expected);
        }
    }

    #[test]
    fn bad_matrices_name_the_problem() {
        let hdr = |descr: &str, shape: &str| {
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}")
        };
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"not numpy at all".to_vec(), "not a .npy file"),
            (vec![], "not a .npy file"),
            (npy(1, &hdr("<i8", "(1, 1)"), &[0; 8]), "'<i8' is not supported for embeddings"),
            (npy(1, &hdr("<f2", "(1, 1)"), &[0; 2]), "'<f2' is not supported"),
            (npy(1, &hdr("|O", "(1, 1)"), &[0; 8]), "object arrays"),
            (npy(1, &hdr("<f4", "(3,)"), &f32s(&[1., 2., 3.])), "expected rank 2"),
            (npy(1, &hdr("<f4", "(1, 2, 2)"), &f32s(&[1.; 4])), "(1, 2, 2) is not a matrix"),
            (
                npy(1, &hdr("<f4", "(2, 2)"), &f32s(&[1., 2., 3.])),
                "truncated: shape (2, 2) of '<f4' needs 16 bytes",
            ),
            (npy(1, &hdr("<f4", "(1, 2)"), &f32s(&[1., 2., 3.])), "4 bytes after the data"),
            (npy(1, &hdr("<f4", "(0, 2)"), &[]), "no rows"),
            (npy(1, &hdr("<f4", "(2, 0)"), &[]), "zero columns"),
            (
                npy(1, &hdr("<f4", "(2, 2)"), &f32s(&[1., 2., 3., f32::NAN])),
                "non-finite value NaN at row 1, column 1",
            ),
            (
                npy(1, &hdr("<f4", "(2, 2)"), &f32s(&[1., f32::NEG_INFINITY, 3., 4.])),
                "-inf at row 0, column 1",
            ),
            (
                npy(
                    1,
                    &hdr("<f8", "(1, 2)"),
                    &[1f64, 1e300].iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>(),
                ),
                "1e300 at row 0, column 1 is outside the float32 range",
            ),
            (
                npy(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", &[0; 4]),
                "structured",
            ),
            (npy(1, "{'descr': '<f4', 'shape': (1, 1)}", &[0; 4]), "no 'fortran_order'"),
            (
                npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1)", &[0; 4]),
                "malformed .npy header",
            ),
            (npy(1, "[1, 2]", &[]), "not a dict"),
            (npy(1, &hdr("<f4", "(99999999999, 99999999999)"), &[]), "too large"),
            (npy(1, &hdr("<f4", "(-1, 2)"), &[]), "the size -1"),
            (npy(1, &format!("{}{}", "(".repeat(20), ")".repeat(20)), &[]), "nesting too deep"),
        ];
        let mut v9 = npy(1, &hdr("<f4", "(1, 1)"), &[0; 4]);
        v9[6] = 9;
        let mut short = npy(1, &hdr("<f4", "(1, 1)"), &[0; 4]);
        short.truncate(40);
        for (bytes, needle) in
            cases.into_iter().chain([(v9, "version 9.0"), (short, "truncated .npy header")])
        {
            let err = read_matrix(&bytes).unwrap_err();
            assert!(err.contains(needle), "expected {needle:?} in {err:?}");
        }
    }

    #[test]
    fn labels_of_every_integer_width_and_strings() {
        let hdr = |descr: &str, n: usize| {
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({n},), }}")
        };
        let i4: Vec<u8> = [3i32, -1, 7].iter().flat_map(|x| x.to_le_bytes()).collect();
        assert_eq!(read_labels(&npy(1, &hdr("<i4", 3), &i4)).unwrap(), vec![3.into(), (-1).into(), 7.into()]);
        let u1 = npy(1, &hdr("|u1", 2), &[200, 1]);
        assert_eq!(read_labels(&u1).unwrap(), vec![200.into(), 1.into()]);
        let i2be: Vec<u8> = [-300i16, 5].iter().flat_map(|x| x.to_be_bytes()).collect();
        assert_eq!(read_labels(&npy(1, &hdr(">i2", 2), &i2be)).unwrap(), vec![(-300).into(), 5.into()]);
        let big = npy(1, &hdr("<u8", 1), &u64::MAX.to_le_bytes());
        assert!(read_labels(&big).unwrap_err().contains("does not fit"));
        let u: Vec<u8> = "cat\0\0dog\u{e9}\0".chars().flat_map(|c| (c as u32).to_le_bytes()).collect();
        assert_eq!(read_labels(&npy(1, &hdr("<U5", 2), &u)).unwrap(), vec!["cat".into(), "dog\u{e9}".into()]);
        assert_eq!(
            read_labels(&npy(1, &hdr("|S3", 2), b"ab\0xyz")).unwrap(),
            vec!["ab".into(), "xyz".into()]
        );
        let empty = npy(1, &hdr("|S2", 2), b"ab\0\0");
        assert!(read_labels(&empty).unwrap_err().contains("row 1 is an empty string"));
        let f = npy(1, &hdr("<f8", 1), &1f64.to_le_bytes());
        assert!(read_labels(&f).unwrap_err().contains("expected integers"));
        let m = npy(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 1), }", &[0; 8]);
        assert!(read_labels(&m).unwrap_err().contains("expected rank 1"));
        let bad_char = npy(1, &hdr("<U1", 1), &0xD800u32.to_le_bytes());
        assert!(read_labels(&bad_char).unwrap_err().contains("invalid character"));
    }

    #[test]
    fn python_2_long_integers_and_odd_spacing_parse() {
        let bytes = npy(1, "{ 'descr':'<f4' ,'fortran_order' :False,'shape':( 1L ,2L ) }", &f32s(&[1., 2.]));
        assert_eq!(read_matrix(&bytes).unwrap(), ndarray::array![[1f32, 2.]]);
    }
}
