//! CSV embeddings: a header row, one row per embedding, every column a
//! number except an optional `label` column.
//!
//! The text is read as a stream, one field at a time (`csv-core`, the parser
//! under the `csv` crate, with the `csv` crate's default dialect): memory
//! holds the matrix (4 bytes per value), the labels and the column names,
//! never the text itself or a whole line of it, so a file of one 150 MB line
//! costs what its values cost.

use std::io::{self, Read};

use csv_core::ReadFieldResult;
use imprint::ClassLabel;
use ndarray::Array2;

use super::{ReadError, TextLabels};

/// Embeddings and the raw `label` column (if the header has one) of a CSV file.
#[derive(Debug)]
pub struct Table {
    /// `rows x features`, in column order (the `label` column left out).
    pub x: Array2<f32>,
    /// The `label` column: integers if every label is written exactly as
    /// an integer, strings as written otherwise (see
    /// [`labels_from_text`](super::labels_from_text)).
    pub labels: Option<Vec<ClassLabel>>,
}

/// The name of the label column.
pub const LABEL_COLUMN: &str = "label";

/// Parses CSV text held in memory (see [`read_from`]).
///
/// # Errors
/// The reasons of [`read_from`], as one line.
pub fn read(bytes: &[u8]) -> Result<Table, String> {
    read_from(bytes, Some(bytes.len() as u64)).map_err(|e| e.to_string())
}

/// Parses CSV text read from `source`, which may be `size` bytes long (used
/// only to reserve the matrix once; any value works).
///
/// A leading UTF-8 byte order mark is skipped. Cells and column names are
/// trimmed of white space. Messages name a row by the line it starts on
/// (lines end with LF or CRLF; blank lines count).
///
/// # Errors
/// [`ReadError::Io`] when `source` fails; otherwise one-line reasons: no
/// header, no or two `label` columns, no feature column, a row with another
/// number of fields, an empty cell, a cell that is not a number or not a
/// finite float32 (named by row, line and column), invalid UTF-8, no rows.
pub fn read_from<R: Read>(source: R, size: Option<u64>) -> Result<Table, ReadError> {
    let mut fields = Fields::new(source)?;
    let header = Header::read(&mut fields)?;
    if header.len == 0 || header.all_empty {
        return Err(ReadError::Invalid(
            "no header row (the first line names the columns, e.g. f0,f1,...,label)".into(),
        ));
    }
    if header.label_columns > 1 {
        return Err(format!("{} columns are named '{LABEL_COLUMN}'; keep one", header.label_columns).into());
    }
    let label_col = header.label_col;
    let n_features = header.len - usize::from(label_col.is_some());
    if n_features == 0 {
        return Err(ReadError::Invalid(
            "no embedding columns: every column but 'label' holds one feature".into(),
        ));
    }
    let header_bytes = fields.consumed;
    let mut values: Vec<f32> = Vec::new();
    let mut labels: Option<TextLabels> = label_col.map(|_| TextLabels::default());
    let mut row = 0usize;
    loop {
        let line = fields.start_record()?;
        let Step::Field { mut last } = fields.next()? else {
            break;
        };
        let mut count = 0usize;
        let mut bad_utf8 = false;
        let mut problem: Option<String> = None;
        let mut empty_label = false;
        loop {
            let i = count;
            count += 1;
            if i < header.len {
                match std::str::from_utf8(&fields.field) {
                    Err(_) => bad_utf8 = true,
                    Ok(_) if bad_utf8 || problem.is_some() => {}
                    Ok(text) => {
                        let cell = text.trim();
                        if Some(i) == label_col {
                            if cell.is_empty() {
                                empty_label = true;
                            } else if let Some(labels) = labels.as_mut() {
                                labels.push(cell);
                            }
                        } else {
                            let col = if label_col.is_some_and(|l| l < i) { i - 1 } else { i };
                            match number(cell, row, line, col, || header.name(i)) {
                                Ok(v) => values.push(v),
                                Err(e) => problem = Some(e),
                            }
                        }
                    }
                }
            }
            if last {
                break;
            }
            match fields.next()? {
                Step::Field { last: l } => last = l,
                // The parser ends a record before it reports the end of the input.
                Step::End => break,
            }
        }
        if count != header.len {
            return Err(format!("line {line} has {count} fields but the header has {}", header.len).into());
        }
        if bad_utf8 {
            return Err(format!("line {line} is not valid UTF-8 text").into());
        }
        if let Some(problem) = problem {
            return Err(problem.into());
        }
        if empty_label {
            return Err(format!("row {row} (line {line}): empty label").into());
        }
        row += 1;
        if row == 1 {
            reserve(&mut values, labels.as_mut(), n_features, size, header_bytes, fields.consumed);
        }
    }
    if row == 0 {
        return Err(ReadError::Invalid("no rows below the header".into()));
    }
    values.shrink_to_fit();
    let x = Array2::from_shape_vec((row, n_features), values).map_err(|e| format!("internal: {e}"))?;
    Ok(Table { x, labels: labels.map(TextLabels::finish) })
}

/// One cell as a finite float32, or the reason it is not one.
fn number(cell: &str, row: usize, line: u64, col: usize, name: impl Fn() -> String) -> Result<f32, String> {
    let at = || format!("row {row} (line {line}), column {col} ('{}')", name());
    if cell.is_empty() {
        return Err(format!("{}: empty value", at()));
    }
    let v: f32 = cell.parse().map_err(|_| format!("{}: '{cell}' is not a number", at()))?;
    if !v.is_finite() {
        let what = if cell.parse::<f64>().is_ok_and(f64::is_finite) {
            format!("value '{cell}' is outside the float32 range")
        } else {
            format!("non-finite value {v}")
        };
        return Err(format!("{what} at {}", at()));
    }
    Ok(v)
}

/// Reserves room for the rows that the rest of the input probably holds,
/// judged from the size of the first row, so that the matrix is allocated
/// about once instead of growing by doubling. Never more values than the
/// rest could hold (each takes at least one byte and a separator).
fn reserve(
    values: &mut Vec<f32>,
    labels: Option<&mut TextLabels>,
    n_features: usize,
    size: Option<u64>,
    header_bytes: u64,
    consumed: u64,
) {
    let Some(size) = size else {
        return;
    };
    let row_bytes = consumed.saturating_sub(header_bytes).max(1);
    let rest = size.saturating_sub(consumed);
    let rows = usize::try_from(rest / row_bytes + 1).unwrap_or(usize::MAX);
    let most = usize::try_from(rest / 2).unwrap_or(usize::MAX).saturating_add(n_features);
    let extra = rows.saturating_mul(n_features).min(most);
    // A failed reservation is not an error: the vector grows as it must.
    let _ = values.try_reserve_exact(extra);
    if let Some(labels) = labels {
        labels.reserve(rows.min(most));
    }
}

/// The header row: the column names (for messages) and what the table's
/// checks need.
struct Header {
    /// Number of columns.
    len: usize,
    /// The names, trimmed, each followed by 0xFF (a byte that UTF-8 text
    /// never holds): one byte of overhead per column, as a header can be as
    /// long as the data.
    names: Vec<u8>,
    /// Whether every name is empty.
    all_empty: bool,
    /// Number of columns named [`LABEL_COLUMN`].
    label_columns: usize,
    /// The first of them.
    label_col: Option<usize>,
}

impl Header {
    /// Reads the first record (none when the input holds no record).
    fn read<R: Read>(fields: &mut Fields<R>) -> Result<Self, ReadError> {
        let line = fields.start_record()?;
        let mut header =
            Self { len: 0, names: Vec::new(), all_empty: true, label_columns: 0, label_col: None };
        let mut bad_utf8 = false;
        while let Step::Field { last } = fields.next()? {
            match std::str::from_utf8(&fields.field) {
                Ok(name) => {
                    let name = name.trim();
                    if name == LABEL_COLUMN {
                        header.label_columns += 1;
                        header.label_col.get_or_insert(header.len);
                    }
                    header.all_empty &= name.is_empty();
                    header.names.extend_from_slice(name.as_bytes());
                }
                Err(_) => bad_utf8 = true,
            }
            header.names.push(0xFF);
            header.len += 1;
            if last {
                break;
            }
        }
        if bad_utf8 {
            return Err(format!("line {line} is not valid UTF-8 text").into());
        }
        header.names.shrink_to_fit();
        Ok(header)
    }

    /// The name of column `i`.
    fn name(&self, i: usize) -> String {
        let name = self.names.split(|&b| b == 0xFF).nth(i).unwrap_or_default();
        String::from_utf8_lossy(name).into_owned()
    }
}

/// What [`Fields::next`] found.
enum Step {
    /// A field (in [`Fields::field`]); `last` when it ends its record.
    Field { last: bool },
    /// The end of the input.
    End,
}

/// Size of the input chunks and of the parser's output buffer.
const CHUNK: usize = 64 * 1024;

/// The fields of CSV text read from a source in chunks, one at a time.
struct Fields<R> {
    source: R,
    core: csv_core::Reader,
    /// The current chunk of input: `buf[at..len]` is not parsed yet.
    buf: Vec<u8>,
    at: usize,
    len: usize,
    eof: bool,
    /// The parser's output buffer.
    out: Vec<u8>,
    /// The field last read, unescaped.
    field: Vec<u8>,
    /// Bytes of input parsed so far.
    consumed: u64,
    /// Line ends skipped between records, which the parser did not see.
    skipped_lines: u64,
    /// Whether the parser has not been called yet.
    first_call: bool,
}

impl<R: Read> Fields<R> {
    /// Starts reading `source`: skips a UTF-8 byte order mark, and a second
    /// one after it (the csv crate's reader skipped one more than it was
    /// given), wherever the source cuts its bytes.
    fn new(source: R) -> io::Result<Self> {
        let mut fields = Self {
            source,
            core: csv_core::Reader::new(),
            buf: vec![0; CHUNK],
            at: 0,
            len: 0,
            eof: false,
            out: vec![0; CHUNK],
            field: Vec::new(),
            consumed: 0,
            skipped_lines: 0,
            first_call: true,
        };
        while fields.len < 6 && !fields.eof {
            fields.fill()?;
        }
        for _ in 0..2 {
            if fields.buf[fields.at..fields.len].starts_with(b"\xef\xbb\xbf") {
                fields.at += 3;
                fields.consumed += 3;
            }
        }
        Ok(fields)
    }

    /// Skips the line ends before a record (the parser skips them too: a
    /// blank line is no record, and CRLF ends a record at its CR) and
    /// returns the record's line: its first byte's, counting `\n`s.
    fn start_record(&mut self) -> io::Result<u64> {
        loop {
            if self.at == self.len && !self.eof {
                self.fill()?;
                continue;
            }
            match self.buf[self.at..self.len].first() {
                Some(&b) if b == b'\r' || b == b'\n' => {
                    self.skipped_lines += u64::from(b == b'\n');
                    self.at += 1;
                    self.consumed += 1;
                }
                _ => return Ok(self.core.line() + self.skipped_lines),
            }
        }
    }

    /// Appends the source's next bytes to the chunk (or notes its end).
    fn fill(&mut self) -> io::Result<()> {
        if self.at == self.len {
            (self.at, self.len) = (0, 0);
        }
        loop {
            match self.source.read(&mut self.buf[self.len..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            return Ok(());
        }
    }

    /// Reads the next field into [`Fields::field`].
    fn next(&mut self) -> io::Result<Step> {
        self.field.clear();
        loop {
            if self.at == self.len && !self.eof {
                self.fill()?;
                continue;
            }
            // Empty only at the end of the input, which is how the parser
            // learns of it. Its first call gets at most 2 bytes: the parser
            // would skip a byte order mark in a longer one (see `new`).
            let mut input = &self.buf[self.at..self.len];
            if std::mem::take(&mut self.first_call) {
                input = &input[..input.len().min(2)];
            }
            let (result, nin, nout) = self.core.read_field(input, &mut self.out);
            self.at += nin;
            self.consumed += nin as u64;
            self.field.extend_from_slice(&self.out[..nout]);
            match result {
                ReadFieldResult::InputEmpty | ReadFieldResult::OutputFull => {}
                ReadFieldResult::Field { record_end } => return Ok(Step::Field { last: record_end }),
                ReadFieldResult::End => return Ok(Step::End),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_and_labels_in_any_column_order() {
        let t = read(b"\xef\xbb\xbff0,label,f1\n1.5,cat,2\n-3, dog ,4e-1\n").unwrap();
        assert_eq!(t.x, ndarray::array![[1.5f32, 2.0], [-3.0, 0.4]]);
        assert_eq!(t.labels.unwrap(), vec!["cat".into(), "dog".into()]);
        let t = read(b"a,b\n1,2\n").unwrap();
        assert!(t.labels.is_none());
    }

    #[test]
    fn bad_tables_name_row_line_and_column() {
        for (text, needle) in [
            (&b""[..], "no header row"),
            (b"label\ncat\n", "no embedding columns"),
            (b"label,x,label\n1,2,3\n", "2 columns are named 'label'"),
            (b"x,y\n", "no rows"),
            (b"x,y\n1,2\n3\n", "line 3 has 1 fields but the header has 2"),
            (b"x,y\n1,2\n3,\n", "row 1 (line 3), column 1 ('y'): empty value"),
            (b"x,y\n1,abc\n", "'abc' is not a number"),
            (b"x,y\n1,2\n3,NaN\n", "non-finite value NaN at row 1 (line 3), column 1 ('y')"),
            (b"x,y\n-inf,2\n", "non-finite value -inf at row 0 (line 2), column 0"),
            (b"x,y\n1e40,2\n", "'1e40' is outside the float32 range"),
            (b"x,label\n1,\n", "row 0 (line 2): empty label"),
            (b"x,y\n1,\xff\n", "not valid UTF-8"),
        ] {
            let err = read(text).unwrap_err();
            assert!(err.contains(needle), "expected {needle:?} in {err:?}");
        }
    }

    #[test]
    fn lines_are_those_where_records_start_whatever_ends_lines() {
        for (text, reason) in [
            (&b"a,b\r\n1,2\r\n3,abc\r\n"[..], "row 1 (line 3), column 1 ('b'): 'abc' is not a number"),
            (b"a,b,label\r\n1,2,x\r\n1,x\r\n", "line 3 has 2 fields but the header has 3"),
            (b"a,label\r\n1,x\r\n2,\r\n", "row 1 (line 3): empty label"),
            (b"a,b\n\n1,2\n\n\n3,abc\n", "row 1 (line 6), column 1 ('b'): 'abc' is not a number"),
            (b"\r\n\r\nx,\xff\n1,2\n", "line 3 is not valid UTF-8 text"),
            (b"a,label\n1,\"two\nlines\"\n\r\n2,\n", "row 1 (line 5): empty label"),
        ] {
            for n in [1, 2, CHUNK] {
                assert_eq!(read_in_chunks(text, n).unwrap_err(), reason, "chunks of {n}");
            }
        }
    }

    /// Hands out `data` `n` bytes at a time, as a pipe may.
    struct Chunks<'a> {
        data: &'a [u8],
        n: usize,
    }

    impl Read for Chunks<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.n.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn read_in_chunks(data: &[u8], n: usize) -> Result<Table, String> {
        read_from(Chunks { data, n }, None).map_err(|e| e.to_string())
    }

    #[test]
    fn a_stream_gives_the_same_table_wherever_it_is_cut() {
        let text = b"\xef\xbb\xbff0,label,f1\r\n1.5,cat,2\r\n\"-3\",\" dog, the \"\"2nd\"\"\",4e-1\r\n";
        for n in [1, 2, 3, 4, 7, CHUNK] {
            let t = read_in_chunks(text, n).unwrap();
            assert_eq!(t.x, ndarray::array![[1.5f32, 2.0], [-3.0, 0.4]], "chunks of {n}");
            assert_eq!(t.labels.unwrap(), vec!["cat".into(), "dog, the \"2nd\"".into()], "chunks of {n}");
        }
        // The parser skips a second byte order mark, as the csv crate's reader does.
        for n in [1, 2, 5, CHUNK] {
            let t = read_in_chunks(b"\xef\xbb\xbf\xef\xbb\xbfa,b\n1,2\n", n).unwrap();
            assert_eq!(t.x, ndarray::array![[1f32, 2.0]], "chunks of {n}");
        }
    }

    #[test]
    fn a_line_longer_than_every_buffer_reads_exactly() {
        // 200,000 columns (about 1.5 MB per line) and a 100 KB label: fields
        // and lines span many chunks of input and of parser output.
        let cols = 200_000;
        let row: Vec<f32> = (0..cols).map(|j| (j as f32 - 1000.0) * 0.125).collect();
        let label = "x".repeat(100_000);
        let table = |last: &str| {
            let mut text = (0..cols).map(|j| format!("f{j}")).collect::<Vec<_>>().join(",");
            text.push_str(",label\n");
            for v in &row[..cols - 1] {
                text.push_str(&format!("{v},"));
            }
            text.push_str(&format!("{last},{label}\n"));
            text
        };
        let text = table(&row[cols - 1].to_string());
        for n in [4093, CHUNK, text.len()] {
            let t = read_in_chunks(text.as_bytes(), n).unwrap();
            assert_eq!(t.x.dim(), (1, cols));
            assert!(t.x.row(0).iter().zip(&row).all(|(a, b)| a == b), "chunks of {n}");
            assert_eq!(t.labels.unwrap(), vec![ClassLabel::from(label.as_str())]);
        }
        let err = read(table("abc").as_bytes()).unwrap_err();
        assert_eq!(
            err,
            format!("row 0 (line 2), column {} ('f{}'): 'abc' is not a number", cols - 1, cols - 1)
        );
    }
}
