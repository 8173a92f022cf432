//! A small, validating reader of NumPy `.npy` files (format versions 1, 2
//! and 3): float32 and float64 matrices in C or Fortran order for
//! embeddings; integer, unicode and byte-string vectors for labels.
//!
//! Everything is checked before a value is trusted: the magic, the version,
//! the header (a Python dict literal, parsed with a depth limit), the dtype,
//! the shape and that the data is exactly as long as the shape says. Files
//! are read as a stream: memory holds the header and the values read so far
//! (never the file's bytes besides them), and nothing is reserved beyond
//! what the data can hold. Errors are one-line reasons; the caller adds the
//! file name. When a file has several problems, the reason is the one a
//! reader of the whole file checks first: the header, then the data's
//! length, then the dtype and shape, then the first bad value.

use std::io::{self, BufRead, BufReader, Read};

use imprint::ClassLabel;
use ndarray::Array2;

use super::ReadError;

/// The magic at the start of every `.npy` file.
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Deepest nesting accepted in a header (real headers nest 2 levels).
const MAX_DEPTH: usize = 8;

/// Bytes read at a time from the data.
const CHUNK: usize = 64 * 1024;

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

/// The header of a `.npy` file.
#[derive(Debug)]
struct Header {
    descr: String,
    kind: Kind,
    /// Bytes per element.
    size: usize,
    big_endian: bool,
    fortran: bool,
    shape: Vec<usize>,
    /// Bytes of data the shape needs.
    count: usize,
    /// Bytes from the start of the file to the data.
    end: usize,
}

/// Reads a float32 or float64 matrix (rank 2, C or Fortran order) as f32
/// from the bytes of a file (see [`read_matrix_from`]).
///
/// # Errors
/// The reasons of [`read_matrix_from`].
pub fn read_matrix(bytes: &[u8]) -> Result<Array2<f32>, String> {
    read_matrix_from(bytes, Some(bytes.len() as u64)).map_err(|e| e.to_string())
}

/// Reads a float32 or float64 matrix (rank 2, C or Fortran order) as f32
/// from `source`, a file that may be `size` bytes long (used only to bound
/// what is reserved).
///
/// # Errors
/// [`ReadError::Io`] when `source` fails; otherwise a reason for every
/// malformed file, wrong dtype or rank, and the first non-finite value (or
/// float64 value outside the float32 range) by row, then column.
pub fn read_matrix_from<R: Read>(source: R, size: Option<u64>) -> Result<Array2<f32>, ReadError> {
    let mut source = BufReader::with_capacity(CHUNK, source);
    let npy = Header::read(&mut source)?;
    let shape_problem = if npy.kind != Kind::Float || !(npy.size == 4 || npy.size == 8) {
        Some(format!(
            "dtype '{}' is not supported for embeddings; expected float32 ('<f4') or float64 ('<f8')",
            npy.descr
        ))
    } else {
        match *npy.shape.as_slice() {
            [rows, cols] if rows > 0 && cols > 0 => None,
            [0, _] => Some(format!("no rows (shape {})", shape_text(&npy.shape))),
            [_, 0] => Some(format!(
                "zero columns (shape {}); embeddings need at least one feature",
                shape_text(&npy.shape)
            )),
            _ => Some(format!(
                "array of shape {} is not a matrix; expected rank 2 (rows x features)",
                shape_text(&npy.shape)
            )),
        }
    };
    if let Some(problem) = shape_problem {
        npy.check_length(skip_rest(&mut source)?)?;
        return Err(problem.into());
    }
    let (rows, cols) = (npy.shape[0], npy.shape[1]);
    let n = rows * cols;
    // Never more than the file (if its size is known) or a chunk can hold
    // before its bytes arrive: a header may declare any shape.
    let room = size.map_or(CHUNK, |s| usize::try_from(s).unwrap_or(usize::MAX).saturating_sub(npy.end));
    // Fortran order, when the file holds the whole matrix: values go to
    // their row-major places as they arrive (one matrix in memory, not two).
    // They arrive column after column: unless rows are short, a group of
    // columns is gathered first (at least 16, or 4 MiB), so that rows are
    // written in runs instead of a cache line per value.
    let in_place = npy.fortran && n <= room / npy.size;
    let group = if cols <= 16 { 1 } else { ((4 << 20) / (rows * 4)).clamp(16, cols) };
    let mut columns: Vec<f32> = Vec::new();
    let mut values: Vec<f32> = Vec::new();
    if in_place {
        values = vec![0.0; n];
        if group > 1 {
            columns.reserve_exact(group * rows);
        }
    } else {
        let _ = values.try_reserve_exact(n.min(room / npy.size));
    }
    // The first bad value in row-major order, with its reason.
    let mut first_bad: Option<((usize, usize), String)> = None;
    let mut chunk = vec![0u8; CHUNK];
    let mut read = 0usize;
    let mut k = 0usize;
    while read < npy.count {
        let want = CHUNK.min(npy.count - read);
        let got = read_full(&mut source, &mut chunk[..want])?;
        for raw in chunk[..got].chunks_exact(npy.size) {
            let v = if npy.size == 4 {
                let b = [raw[0], raw[1], raw[2], raw[3]];
                f64::from(if npy.big_endian { f32::from_be_bytes(b) } else { f32::from_le_bytes(b) })
            } else {
                let b = [raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7]];
                if npy.big_endian { f64::from_be_bytes(b) } else { f64::from_le_bytes(b) }
            };
            let single = v as f32;
            let (i, j) = if npy.fortran { (k % rows, k / rows) } else { (k / cols, k % cols) };
            if !single.is_finite() && first_bad.as_ref().is_none_or(|(first, _)| (i, j) < *first) {
                let reason = if v.is_finite() {
                    format!("value {v:e} at row {i}, column {j} is outside the float32 range")
                } else {
                    format!("non-finite value {single} at row {i}, column {j} (first bad row)")
                };
                first_bad = Some(((i, j), reason));
            }
            if !in_place {
                values.push(single);
            } else if group == 1 {
                values[i * cols + j] = single;
            } else {
                columns.push(single);
                if columns.len() == group * rows || k + 1 == n {
                    let first = j + 1 - columns.len() / rows;
                    for (i, row) in values.chunks_exact_mut(cols).enumerate() {
                        let run = &mut row[first..first + columns.len() / rows];
                        for (b, v) in run.iter_mut().enumerate() {
                            *v = columns[b * rows + i];
                        }
                    }
                    columns.clear();
                }
            }
            k += 1;
        }
        read += got;
        if got < want {
            break;
        }
    }
    let extra = if read == npy.count { skip_rest(&mut source)? } else { 0 };
    npy.check_length(read as u64 + extra)?;
    if let Some((_, reason)) = first_bad {
        return Err(reason.into());
    }
    values.shrink_to_fit();
    let x = if npy.fortran && !in_place {
        let f = Array2::from_shape_vec(ndarray::ShapeBuilder::f((rows, cols)), values);
        f.map(|a| a.as_standard_layout().into_owned())
    } else {
        Array2::from_shape_vec((rows, cols), values)
    };
    x.map_err(|e| ReadError::Invalid(format!("internal: {e}")))
}

/// Reads a vector of labels from the bytes of a file (see [`read_labels_from`]).
///
/// # Errors
/// The reasons of [`read_labels_from`].
pub fn read_labels(bytes: &[u8]) -> Result<Vec<ClassLabel>, String> {
    read_labels_from(bytes).map_err(|e| e.to_string())
}

/// Reads a vector of labels from `source`: integers of any width, or
/// unicode (`U`) or byte (`S`) strings, which stay strings.
///
/// # Errors
/// [`ReadError::Io`] when `source` fails; otherwise a malformed file,
/// another dtype, a rank other than 1, an integer beyond `i64`, an invalid
/// character or an empty string label.
pub fn read_labels_from<R: Read>(source: R) -> Result<Vec<ClassLabel>, ReadError> {
    let mut source = BufReader::with_capacity(CHUNK, source);
    let npy = Header::read(&mut source)?;
    let problem = match (npy.shape.as_slice(), npy.kind) {
        ([_], Kind::Float) => Some(format!(
            "labels of dtype '{}' are not supported; expected integers (e.g. '<i4', '<i8') or strings ('<U')",
            npy.descr
        )),
        ([_], _) => None,
        _ => Some(format!(
            "labels of shape {} are not a vector; expected rank 1 (one label per row)",
            shape_text(&npy.shape)
        )),
    };
    if let Some(problem) = problem {
        npy.check_length(skip_rest(&mut source)?)?;
        return Err(problem.into());
    }
    let n = npy.shape[0];
    let mut labels = Vec::new();
    // One label per element that the data can hold, at most (see read_matrix_from).
    let _ = labels.try_reserve_exact(n.min(CHUNK));
    let mut first_bad: Option<String> = None;
    let mut element = Vec::new();
    let mut read = 0usize;
    for i in 0..n {
        element.clear();
        // `take`: an element's buffer grows as its bytes arrive, whatever size the dtype declares.
        let got = (&mut source).take(npy.size as u64).read_to_end(&mut element)?;
        read += got;
        if got < npy.size {
            break;
        }
        if first_bad.is_some() {
            continue;
        }
        match label(&npy, &element, i) {
            Ok(label) => labels.push(label),
            Err(reason) => first_bad = Some(reason),
        }
    }
    let extra = if read == npy.count { skip_rest(&mut source)? } else { 0 };
    npy.check_length(read as u64 + extra)?;
    if let Some(reason) = first_bad {
        return Err(reason.into());
    }
    labels.shrink_to_fit();
    Ok(labels)
}

/// Label `i` from its element's bytes.
fn label(npy: &Header, element: &[u8], i: usize) -> Result<ClassLabel, String> {
    match npy.kind {
        Kind::Int { signed } => {
            int_label(element, signed, npy.big_endian).map_err(|e| format!("label at row {i}: {e}"))
        }
        Kind::Unicode => {
            let units = element.chunks_exact(4).map(|c| {
                let b = [c[0], c[1], c[2], c[3]];
                if npy.big_endian { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) }
            });
            let mut text = String::new();
            for u in units.take_while(|&u| u != 0) {
                text.push(
                    char::from_u32(u)
                        .ok_or_else(|| format!("label at row {i} holds the invalid character code {u:#x}"))?,
                );
            }
            text_label(text, i)
        }
        Kind::Bytes => {
            let raw: Vec<u8> = element.iter().copied().take_while(|&b| b != 0).collect();
            let text = String::from_utf8(raw).map_err(|_| format!("label at row {i} is not valid UTF-8"))?;
            text_label(text, i)
        }
        Kind::Float => Err(format!("internal: float labels at row {i}")),
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

/// Fills `buf` from `source` until it is full or the source ends; returns
/// the number of bytes read.
fn read_full(source: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match source.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Reads the rest of `source`, keeping nothing; returns its length.
fn skip_rest(source: &mut impl BufRead) -> io::Result<u64> {
    io::copy(source, &mut io::sink())
}

impl Header {
    /// Reads the preamble and the header, leaving `source` at the data.
    fn read(source: &mut impl Read) -> Result<Self, ReadError> {
        let mut preamble = [0u8; 12];
        if read_full(source, &mut preamble[..10])? < 10 || &preamble[..6] != MAGIC {
            return Err(ReadError::Invalid(
                "not a .npy file (it does not start with the \\x93NUMPY magic)".into(),
            ));
        }
        let (major, minor) = (preamble[6], preamble[7]);
        let (len, start): (usize, usize) = match major {
            1 => (usize::from(u16::from_le_bytes([preamble[8], preamble[9]])), 10),
            2 | 3 => {
                if read_full(source, &mut preamble[10..])? < 2 {
                    return Err(ReadError::Invalid("truncated .npy header".into()));
                }
                (u32::from_le_bytes([preamble[8], preamble[9], preamble[10], preamble[11]]) as usize, 12)
            }
            _ => {
                return Err(format!(
                    ".npy format version {major}.{minor} is not supported (1.0, 2.0 and 3.0 are)"
                )
                .into());
            }
        };
        let mut header = Vec::new();
        // `take`: the buffer grows as the header's bytes arrive, whatever length it declares.
        source.take(len as u64).read_to_end(&mut header)?;
        if header.len() < len {
            return Err(format!(
                "truncated .npy header: it declares {len} bytes but the file has {}",
                header.len()
            )
            .into());
        }
        let header = std::str::from_utf8(&header).map_err(|_| "the .npy header is not text".to_string())?;
        if major < 3 && !header.is_ascii() {
            return Err(ReadError::Invalid(
                "the .npy header holds non-ASCII characters (only version 3 allows them)".into(),
            ));
        }
        let parser = Parser { text: header.as_bytes(), at: 0 };
        let dict = match parser.literal_only()? {
            Lit::Dict(d) => d,
            _ => return Err(ReadError::Invalid("the .npy header is not a dict".into())),
        };
        let field = |name: &str| {
            dict.iter()
                .find(|(k, _)| matches!(k, Lit::Str(s) if s == name))
                .map(|(_, v)| v)
                .ok_or_else(|| format!("the .npy header has no '{name}'"))
        };
        let descr = match field("descr")? {
            Lit::Str(s) => s.clone(),
            _ => {
                return Err(ReadError::Invalid(
                    "structured dtypes are not supported; save a plain numeric array".into(),
                ));
            }
        };
        let fortran = match field("fortran_order")? {
            Lit::Bool(b) => *b,
            _ => {
                return Err(ReadError::Invalid(
                    "'fortran_order' in the .npy header is not True or False".into(),
                ));
            }
        };
        let shape = match field("shape")? {
            Lit::Tuple(items) => items
                .iter()
                .map(|v| match v {
                    Lit::Int(n) => {
                        usize::try_from(*n).map_err(|_| format!("the .npy shape holds the size {n}"))
                    }
                    _ => Err("the .npy shape holds a non-integer".to_string()),
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => return Err(ReadError::Invalid("'shape' in the .npy header is not a tuple".into())),
        };
        let (kind, size, big_endian) = dtype(&descr)?;
        let count = shape
            .iter()
            .try_fold(1usize, |a, &b| a.checked_mul(b))
            .and_then(|n| n.checked_mul(size))
            .ok_or_else(|| format!("the .npy shape {} is too large", shape_text(&shape)))?;
        Ok(Self { descr, kind, size, big_endian, fortran, shape, count, end: start + len })
    }

    /// Checks that the file holds `data` bytes after the header, exactly
    /// what the shape needs.
    fn check_length(&self, data: u64) -> Result<(), ReadError> {
        let count = self.count as u64;
        if data < count {
            return Err(format!(
                "truncated: shape {} of '{}' needs {count} bytes of data, the file holds {data}",
                shape_text(&self.shape),
                self.descr,
            )
            .into());
        }
        if data > count {
            return Err(format!(
                "{} bytes after the data of shape {} (more than one array in the file?)",
                data - count,
                shape_text(&self.shape)
            )
            .into());
        }
        Ok(())
    }
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

    /// Hands out `data` 4093 bytes at a time, as a pipe may.
    struct Pipe<'a>(&'a [u8]);

    impl Read for Pipe<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = 4093.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn large_fortran_matrices_read_from_files_and_pipes_alike() {
        let hdr = |fortran: &str, (rows, cols): (usize, usize)| {
            format!("{{'descr': '<f4', 'fortran_order': {fortran}, 'shape': ({rows}, {cols}), }}")
        };
        // Rows placed one value at a time (10 columns), columns gathered in
        // one group (100) and in groups of 16 (70,000 rows of 20).
        for shape in [(300, 10), (300, 100), (70_000, 20)] {
            let expected = Array2::from_shape_fn(shape, |(i, j)| (i * shape.1 + j) as f32 * 0.5);
            let c = npy(1, &hdr("False", shape), &f32s(expected.as_slice().unwrap()));
            let f = npy(1, &hdr("True", shape), &f32s(&expected.t().iter().copied().collect::<Vec<_>>()));
            // A file's size is known: values go to their place; a pipe's is
            // not: they are read in file order, then reordered.
            for bytes in [&c, &f] {
                assert_eq!(read_matrix(bytes).unwrap(), expected, "{shape:?}");
                assert_eq!(read_matrix_from(Pipe(bytes), None).unwrap(), expected, "{shape:?}");
            }
        }
        let (rows, cols) = (300, 100);
        let mut bad = npy(1, &hdr("True", (rows, cols)), &f32s(&vec![1.0; rows * cols]));
        let end = bad.len();
        let at = end - (rows * cols - 7) * 4; // file index 7: row 7, column 0
        bad[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        let at = end - (rows * cols - rows - 3) * 4; // file index rows + 3: row 3, column 1
        bad[at..at + 4].copy_from_slice(&f32::INFINITY.to_le_bytes());
        for err in
            [read_matrix(&bad).unwrap_err(), read_matrix_from(Pipe(&bad), None).unwrap_err().to_string()]
        {
            assert_eq!(err, "non-finite value inf at row 3, column 1 (first bad row)");
        }
    }
}
