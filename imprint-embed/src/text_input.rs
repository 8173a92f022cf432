//! Texts to embed: a plain UTF-8 file with one example per line, or a CSV (TSV)
//! file with a header, a `text` column and an optional `label` column.
//!
//! Blank lines of a plain file are not examples (so a trailing newline is
//! harmless). CSV fields may be quoted and then hold commas and newlines. Labels
//! are class names; label = position of the name in sorted order.
//!
//! The file is read as a stream, a line or record at a time, so a text is held
//! once (plus, for CSV, the record it is copied from while that is read), never
//! the whole file beside it.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::error::{EmbedError, io};

/// One text and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TextItem {
    /// 1-based line (plain file) or record (CSV, the header is record 1) number.
    pub line: usize,
    pub text: String,
    pub label: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TextListing {
    pub items: Vec<TextItem>,
    /// Class names in label order; empty without a label column.
    pub label_names: Vec<String>,
}

pub(crate) fn read_texts(path: &Path) -> Result<TextListing, EmbedError> {
    let file = File::open(path).map_err(|e| io(path, "read", e))?;
    let delimiter = match path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).as_deref() {
        Some("csv") => Some(b','),
        Some("tsv") => Some(b'\t'),
        _ => None,
    };
    let (rows, labeled) = match delimiter {
        Some(d) => parse_csv(file, d, path)?,
        None => (parse_lines(BufReader::new(file), path)?, false),
    };
    if rows.is_empty() {
        return Err(EmbedError::EmptyInput { path: path.to_path_buf(), reason: "no text to embed".into() });
    }
    let label_names: Vec<String> = if labeled {
        rows.iter().filter_map(|r| r.2.clone()).collect::<BTreeSet<_>>().into_iter().collect()
    } else {
        Vec::new()
    };
    let items = rows
        .into_iter()
        .map(|(line, text, label)| TextItem {
            line,
            text,
            label: label.and_then(|l| label_names.binary_search(&l).ok()).unwrap_or(0),
        })
        .collect();
    Ok(TextListing { items, label_names })
}

type Row = (usize, String, Option<String>);

fn parse_lines(mut reader: impl BufRead, path: &Path) -> Result<Vec<Row>, EmbedError> {
    let mut rows = Vec::new();
    for number in 1.. {
        let mut raw = Vec::new();
        if reader.read_until(b'\n', &mut raw).map_err(|e| io(path, "read", e))? == 0 {
            break;
        }
        if raw.last() == Some(&b'\n') {
            raw.pop();
        }
        if raw.last() == Some(&b'\r') {
            raw.pop();
        }
        let line = String::from_utf8(raw).map_err(|e| EmbedError::InputLine {
            path: path.to_path_buf(),
            line: number,
            reason: format!("not valid UTF-8 ({})", e.utf8_error()),
        })?;
        if !line.trim().is_empty() {
            rows.push((number, line, None));
        }
    }
    Ok(rows)
}

fn parse_csv(input: impl Read, delimiter: u8, path: &Path) -> Result<(Vec<Row>, bool), EmbedError> {
    let err = |line: usize, reason: String| EmbedError::InputLine { path: path.to_path_buf(), line, reason };
    let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).has_headers(true).from_reader(input);
    let headers = reader.headers().map_err(|e| err(1, e.to_string()))?.clone();
    let column = |name: &str| headers.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
    let text_col = column("text").ok_or_else(|| {
        err(
            1,
            format!(
                "the header has no `text` column (found: {})",
                headers.iter().collect::<Vec<_>>().join(", ")
            ),
        )
    })?;
    let label_col = column("label");
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            err(line, e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let text = record.get(text_col).ok_or_else(|| err(line, "no `text` field".into()))?;
        let label = match label_col {
            Some(c) => {
                let l = record.get(c).map(str::trim).filter(|l| !l.is_empty());
                Some(l.ok_or_else(|| err(line, "empty `label` field".into()))?.to_owned())
            }
            None => None,
        };
        rows.push((line, text.to_owned(), label));
    }
    Ok((rows, label_col.is_some()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, content: &[u8]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("imprint-embed-text-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    #[test]
    fn plain_lines() {
        let p = write("a.txt", b"first line\r\n\n  \nsecond, with comma\n");
        let l = read_texts(&p).unwrap();
        let got: Vec<(usize, &str)> = l.items.iter().map(|i| (i.line, i.text.as_str())).collect();
        assert_eq!(got, [(1, "first line"), (4, "second, with comma")]);
        assert!(l.label_names.is_empty());
        let p = write("bad.txt", b"ok\n\xff\n");
        assert!(matches!(read_texts(&p), Err(EmbedError::InputLine { line: 2, .. })));
        let p = write("empty.txt", b"\n\n");
        assert!(matches!(read_texts(&p), Err(EmbedError::EmptyInput { .. })));
    }

    #[test]
    fn csv_with_labels_and_quotes() {
        let p = write(
            "a.csv",
            b"id,Text,label\n1,\"Hello, world\",greeting\n2,\"two\nlines\",other\n3,bye,greeting\n",
        );
        let l = read_texts(&p).unwrap();
        assert_eq!(l.label_names, ["greeting", "other"]);
        let got: Vec<(usize, &str, usize)> =
            l.items.iter().map(|i| (i.line, i.text.as_str(), i.label)).collect();
        assert_eq!(got, [(2, "Hello, world", 0), (3, "two\nlines", 1), (5, "bye", 0)]);
        let p = write("a.tsv", b"text\nno labels\there\n");
        let e = read_texts(&p).unwrap_err();
        assert!(matches!(e, EmbedError::InputLine { .. }), "{e}");
        let p = write("b.tsv", b"text\tlabel\nsome text\tx\n");
        assert_eq!(read_texts(&p).unwrap().items[0].text, "some text");
    }

    #[test]
    fn csv_errors_name_the_line() {
        for (content, line) in [
            (&b"txt,label\na,b\n"[..], 1),
            (&b"text,label\na,b\nc,\n"[..], 3),
            (&b"text,label\na,b,c\n"[..], 2),
            (&b"text\n\xff\n"[..], 2),
        ] {
            let p = write("e.csv", content);
            let e = read_texts(&p).unwrap_err();
            assert!(matches!(e, EmbedError::InputLine { line: l, .. } if l == line), "{content:?}: {e}");
        }
    }
}
