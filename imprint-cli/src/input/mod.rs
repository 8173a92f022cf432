//! Input files of every subcommand (`--train`, `--test`, `--input`, `--val`,
//! `--unknown`) and their labels.
//!
//! | format | recognized by | embeddings | labels |
//! |---|---|---|---|
//! | HDF5 | extension `.h5`, `.hdf5`, `.hdf`, `.he5`, or the HDF5 signature | dataset `embeddings`, float32 `N x D` | dataset `labels`, integers `N` (the reference layout); class names when the file's `label_names` attribute names every label (`imprint embed` writes it) |
//! | NumPy | extension `.npy`, or the `\x93NUMPY` magic | float32 or float64 `N x D`, C or Fortran order | `--labels FILE.npy` (integers or strings) or `--labels FILE.txt` |
//! | CSV | extension `.csv` | a header row; every column but `label` | the `label` column, or `--labels` |
//!
//! Labels keep their kind: HDF5 labels are integers (or the class names of
//! `label_names`), integer `.npy` labels are integers,
//! string `.npy` labels strings; labels read from text (a CSV `label`
//! column, a `.txt` file) are integers only if every one of them is written
//! exactly as an integer (`7`, `-2`; not `07` or `+2`), and strings otherwise,
//! so that they are written back as they appear.
//!
//! Files are regular files or pipes, read once from front to back (see
//! `open`). CSV, `.npy` and text label files are read as a stream: memory
//! holds what they decode to (4 bytes per value, the labels, a CSV file's
//! column names), not their bytes. HDF5 files and heads are read whole, as
//! their readers take bytes. The readers of [`csv_file`], [`npy`] and
//! [`read_text_labels`] also take bytes, for the fuzz targets.

pub mod csv_file;
pub mod npy;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use imprint::ClassLabel;
use ndarray::Array2;

use crate::error::{CliError, Result};

/// The formats of input files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// HDF5 in the reference layout (`embeddings`, `labels`).
    Hdf5,
    /// A NumPy `.npy` matrix.
    Npy,
    /// CSV with a header row.
    Csv,
}

impl Format {
    /// The format of `path`: by its extension, else by its first bytes.
    pub fn of(path: &Path, start: &[u8]) -> Option<Self> {
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("h5" | "hdf5" | "hdf" | "he5") => return Some(Self::Hdf5),
            Some("npy") => return Some(Self::Npy),
            Some("csv") => return Some(Self::Csv),
            _ => {}
        }
        if start.starts_with(b"\x89HDF\r\n\x1a\n") {
            Some(Self::Hdf5)
        } else if start.starts_with(npy::MAGIC) {
            Some(Self::Npy)
        } else {
            None
        }
    }

    /// The format's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hdf5 => "HDF5",
            Self::Npy => "NumPy .npy",
            Self::Csv => "CSV",
        }
    }
}

/// The rows of an input file, validated: at least one row and one column,
/// every value finite, labels (where present) one per row and of one kind.
#[derive(Debug)]
pub struct Input {
    /// The file the rows came from.
    pub path: PathBuf,
    /// Its format.
    pub format: Format,
    /// `rows x features`.
    pub x: Array2<f32>,
    /// One label per row, when the file (or `--labels`) has them.
    pub labels: Option<Vec<ClassLabel>>,
}

impl Input {
    /// Reads `path`, with labels from `labels` (a `.npy` or text file) for
    /// `.npy` and CSV files.
    ///
    /// # Errors
    /// A missing or unreadable file, an unknown format, every malformed
    /// content (see the readers), `--labels` with an HDF5 file or with a CSV
    /// file that has a `label` column, and a label count other than the row count.
    pub fn read(path: &Path, labels: Option<&Path>) -> Result<Self> {
        let (file, size) = open(path)?;
        let (start, source) = peek(path, file)?;
        let format = Format::of(path, &start).ok_or_else(|| {
            CliError::input(
                path,
                "unknown input format: expected an HDF5 (.h5), NumPy (.npy) or CSV (.csv) file",
            )
        })?;
        let (x, own) = match format {
            Format::Hdf5 => {
                if let Some(l) = labels {
                    return Err(CliError::Usage(format!(
                        "--labels {}: {} is an HDF5 file, which carries its own labels",
                        l.display(),
                        path.display()
                    )));
                }
                let bytes = read_all(path, source, size)?;
                let file = imprint_data::EmbeddingFile::from_bytes(bytes, path)?;
                let names = match file.attributes()?.remove(imprint_data::LABEL_NAMES) {
                    Some(imprint_data::AttrValue::TextList(names)) => Some(names),
                    _ => None,
                };
                let (x, y) = file.read()?.into_parts();
                (x, Some(hdf5_labels(y, names).map_err(|e| CliError::input(path, e.to_string()))?))
            }
            Format::Npy => (npy::read_matrix_from(source, size).map_err(|e| e.at(path))?, None),
            Format::Csv => {
                let table = csv_file::read_from(source, size).map_err(|e| e.at(path))?;
                (table.x, table.labels)
            }
        };
        let labels = match (own, labels) {
            (Some(_), Some(l)) => {
                return Err(CliError::Usage(format!(
                    "--labels {}: {} already has a '{}' column",
                    l.display(),
                    path.display(),
                    csv_file::LABEL_COLUMN
                )));
            }
            (Some(own), None) => Some(own),
            (None, Some(l)) => {
                let labels = read_labels(l)?;
                if labels.len() != x.nrows() {
                    return Err(CliError::input(
                        l,
                        format!("{} labels, but {} has {} rows", labels.len(), path.display(), x.nrows()),
                    ));
                }
                Some(labels)
            }
            (None, None) => None,
        };
        Ok(Self { path: path.to_path_buf(), format, x, labels })
    }

    /// Number of features per row.
    pub fn dim(&self) -> usize {
        self.x.ncols()
    }

    /// The labels, or an error saying how to give them.
    pub fn require_labels(&self) -> Result<&[ClassLabel]> {
        self.labels.as_deref().ok_or_else(|| {
            let how = match self.format {
                Format::Csv => "add a 'label' column or pass --labels FILE",
                _ => "pass --labels FILE (.npy or one label per line)",
            };
            CliError::input(&self.path, format!("this {} file has no labels; {how}", self.format.name()))
        })
    }

    /// Checks that the rows have the head's dimension.
    pub fn check_dim(&self, head: &Path, dim: usize) -> Result<()> {
        if self.dim() == dim {
            return Ok(());
        }
        Err(CliError::input(
            &self.path,
            format!(
                "rows have dimension {}, but the head {} has dimension {dim}",
                self.dim(),
                head.display()
            ),
        ))
    }
}

/// A selection of classes by label, as given to `--classes`: labels separated
/// by commas, and ranges of integer labels `A-B` (both ends included), e.g.
/// `0-4,7` or `cat,dog`. A label is selected when it is written exactly as
/// an item, or is an integer inside a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassFilter {
    spec: String,
    items: Vec<String>,
    ranges: Vec<(i64, i64)>,
}

impl std::str::FromStr for ClassFilter {
    type Err = String;

    fn from_str(spec: &str) -> std::result::Result<Self, String> {
        let mut items = Vec::new();
        let mut ranges = Vec::new();
        for item in spec.split(',').map(str::trim) {
            if item.is_empty() {
                return Err(format!(
                    "'{spec}' has an empty item; write labels separated by commas, e.g. 0-4,7"
                ));
            }
            let range = item.split_once('-').and_then(|(a, b)| {
                let digits = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
                (digits(a) && digits(b)).then(|| (a.parse::<i64>(), b.parse::<i64>()))
            });
            match range {
                Some((Ok(a), Ok(b))) if a <= b => ranges.push((a, b)),
                Some((Ok(a), Ok(b))) => {
                    return Err(format!("range {a}-{b} is empty (its start is above its end)"));
                }
                Some(_) => return Err(format!("range '{item}' does not fit in 64-bit integers")),
                None => items.push(item.to_string()),
            }
        }
        Ok(Self { spec: spec.to_string(), items, ranges })
    }
}

impl ClassFilter {
    /// Whether `label` is selected.
    pub fn contains(&self, label: &ClassLabel) -> bool {
        if let ClassLabel::Int(v) = label
            && self.ranges.iter().any(|&(a, b)| (a..=b).contains(v))
        {
            return true;
        }
        let text = label.to_string();
        self.items.contains(&text)
    }

    /// As given.
    pub fn spec(&self) -> &str {
        &self.spec
    }
}

impl Input {
    /// Keeps only the rows whose label `filter` selects (`flag` names the
    /// option in messages).
    ///
    /// # Errors
    /// A file without labels, or a selection that keeps no row.
    pub fn select(&mut self, filter: &ClassFilter, flag: &str) -> Result<()> {
        let labels = self.labels.as_ref().ok_or_else(|| {
            CliError::input(
                &self.path,
                format!("{flag} {} selects rows by label, but the file has no labels", filter.spec()),
            )
        })?;
        let rows: Vec<usize> = (0..labels.len()).filter(|&i| filter.contains(&labels[i])).collect();
        if rows.is_empty() {
            return Err(CliError::input(
                &self.path,
                format!("no row has a label in {flag} {}", filter.spec()),
            ));
        }
        let kept = rows.iter().map(|&i| labels[i].clone()).collect();
        self.x = self.x.select(ndarray::Axis(0), &rows);
        self.labels = Some(kept);
        Ok(())
    }
}

/// An HDF5 file's labels: the class names of its `label_names` attribute when
/// it names every label, else the integer labels themselves.
fn hdf5_labels(labels: Vec<usize>, names: Option<Vec<String>>) -> imprint::Result<Vec<ClassLabel>> {
    match names {
        Some(names) if labels.iter().all(|&l| l < names.len()) => {
            Ok(labels.into_iter().map(|l| ClassLabel::from(&names[l])).collect())
        }
        _ => labels.into_iter().map(ClassLabel::try_from).collect(),
    }
}

/// Why an input stream could not be read: the source failed, or its
/// content is malformed (a one-line reason, without the file's name).
#[derive(Debug)]
pub enum ReadError {
    /// Reading from the source failed.
    Io(io::Error),
    /// The content is malformed.
    Invalid(String),
}

impl ReadError {
    /// The command line's error for the file at `path`.
    fn at(self, path: &Path) -> CliError {
        match self {
            Self::Io(source) => CliError::Io { path: path.to_path_buf(), action: "read", source },
            Self::Invalid(reason) => CliError::input(path, reason),
        }
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io(e) => write!(f, "read failed: {e}"),
            Self::Invalid(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for ReadError {}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<String> for ReadError {
    fn from(reason: String) -> Self {
        Self::Invalid(reason)
    }
}

/// Opens an input file: a regular file (with its size) or a pipe (a named
/// FIFO, or `<(command)` in a shell), read once, front to back. Anything
/// else is refused before it is read: a directory, and devices and sockets
/// (`/dev/zero` never ends, a terminal waits for typing).
fn open(path: &Path) -> Result<(File, Option<u64>)> {
    let failed = |source: io::Error| match source.kind() {
        io::ErrorKind::NotFound => CliError::input(path, "file not found"),
        io::ErrorKind::IsADirectory => CliError::input(path, "is a directory, not a file"),
        _ => CliError::Io { path: path.to_path_buf(), action: "read", source },
    };
    // Checked before opening (opening a device can block or act) and again
    // on what was opened (the path may have changed in between).
    kind(path, &std::fs::metadata(path).map_err(failed)?)?;
    let file = File::open(path).map_err(failed)?;
    let size = kind(path, &file.metadata().map_err(failed)?)?;
    Ok((file, size))
}

/// The size of a regular file, `None` for a pipe, an error for the rest.
fn kind(path: &Path, meta: &std::fs::Metadata) -> Result<Option<u64>> {
    let t = meta.file_type();
    if t.is_file() {
        return Ok(Some(meta.len()));
    }
    if t.is_dir() {
        return Err(CliError::input(path, "is a directory, not a file"));
    }
    #[cfg(unix)]
    if std::os::unix::fs::FileTypeExt::is_fifo(&t) {
        return Ok(None);
    }
    Err(CliError::input(path, format!("is {}, not a regular file or a pipe", imprint_data::file_kind(&t))))
}

/// The first bytes of `file` (up to 8, enough to recognize a format) and a
/// reader of the whole file, those bytes included; an error for an empty file.
fn peek(path: &Path, file: File) -> Result<(Vec<u8>, impl Read)> {
    let mut start = Vec::with_capacity(8);
    (&file).take(8).read_to_end(&mut start).map_err(|e| ReadError::Io(e).at(path))?;
    if start.is_empty() {
        return Err(CliError::input(path, "file is empty (0 bytes)"));
    }
    Ok((start.clone(), io::Cursor::new(start).chain(file)))
}

/// The rest of `source`, whole (`size`, when known, reserves it at once).
fn read_all(path: &Path, mut source: impl Read, size: Option<u64>) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if let Some(size) = size.and_then(|s| usize::try_from(s).ok()) {
        // A file that cannot be held fails below, where its bytes do not fit.
        let _ = bytes.try_reserve_exact(size);
    }
    source.read_to_end(&mut bytes).map_err(|e| ReadError::Io(e).at(path))?;
    Ok(bytes)
}

/// Reads a whole file (see [`open`] for what can be read), with one-line
/// errors for a missing, empty or special file.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    let (file, size) = open(path)?;
    let (_, source) = peek(path, file)?;
    read_all(path, source, size)
}

/// Labels from a `.npy` file or a text file with one label per line.
fn read_labels(path: &Path) -> Result<Vec<ClassLabel>> {
    let (file, _) = open(path)?;
    let (start, source) = peek(path, file)?;
    let labels = if Format::of(path, &start) == Some(Format::Npy) {
        npy::read_labels_from(source)
    } else {
        read_text_labels_from(BufReader::new(source))
    };
    labels.map_err(|e| e.at(path))
}

/// Labels from text held in memory (see [`read_text_labels_from`]).
///
/// # Errors
/// The reasons of [`read_text_labels_from`].
pub fn read_text_labels(bytes: &[u8]) -> std::result::Result<Vec<ClassLabel>, String> {
    read_text_labels_from(bytes).map_err(|e| e.to_string())
}

/// Labels from text, one per line, read from `source` a line at a time:
/// each line trimmed of white space, a last line that is empty (after a
/// final newline) ignored; integers if every label is written exactly as an
/// integer (see [`labels_from_text`]).
///
/// # Errors
/// [`ReadError::Io`] when `source` fails; otherwise invalid UTF-8 (with its
/// byte offset), an empty line (with its number) or no label at all.
pub fn read_text_labels_from(mut source: impl BufRead) -> std::result::Result<Vec<ClassLabel>, ReadError> {
    /// The lines so far, as `str::split('\n')` cuts them.
    #[derive(Default)]
    struct Lines {
        labels: TextLabels,
        count: usize,
        first_empty: Option<usize>,
        last_empty: bool,
    }
    impl Lines {
        fn note(&mut self, label: &str) {
            if label.is_empty() {
                self.first_empty.get_or_insert(self.count);
            } else if self.first_empty.is_none() {
                self.labels.push(label);
            }
            self.last_empty = label.is_empty();
            self.count += 1;
        }
    }
    let mut lines = Lines::default();
    let mut line = Vec::new();
    let mut offset = 0usize;
    // An empty text is one empty line.
    let mut ends_with_newline = true;
    loop {
        line.clear();
        let got = source.read_until(b'\n', &mut line)?;
        if got == 0 {
            break;
        }
        let text = std::str::from_utf8(&line).map_err(|e| {
            format!("not a text file of labels (invalid UTF-8 at byte {})", offset + e.valid_up_to())
        })?;
        lines.note(text.trim());
        offset += got;
        ends_with_newline = line.last() == Some(&b'\n');
    }
    if ends_with_newline {
        lines.note("");
    }
    // A last empty line is a final newline (or trailing blanks), not a missing label.
    if lines.last_empty {
        lines.count -= 1;
        if lines.first_empty == Some(lines.count) {
            lines.first_empty = None;
        }
    }
    if let Some(i) = lines.first_empty {
        return Err(format!("line {} is empty (one label per line)", i + 1).into());
    }
    if lines.labels.is_empty() {
        return Err(ReadError::Invalid("no labels".into()));
    }
    Ok(lines.labels.finish())
}

/// Integers if every label is written exactly as an integer, else strings.
pub fn labels_from_text(labels: Vec<String>) -> Vec<ClassLabel> {
    let mut text = TextLabels::default();
    for label in &labels {
        text.push(label);
    }
    text.finish()
}

/// Labels read as text, one at a time, that become integers if every one is
/// written exactly as an integer and strings otherwise (as
/// [`labels_from_text`] decides). They are kept as integers (8 bytes each)
/// until one is not, then as strings: a column of integer labels does not
/// cost a string per row.
#[derive(Debug, Default)]
pub(crate) struct TextLabels {
    ints: Vec<i64>,
    texts: Option<Vec<String>>,
}

impl TextLabels {
    /// Adds a label.
    pub(crate) fn push(&mut self, label: &str) {
        if let Some(texts) = self.texts.as_mut() {
            texts.push(label.to_string());
            return;
        }
        match label.parse::<i64>().ok().filter(|v| v.to_string() == label) {
            Some(v) => self.ints.push(v),
            None => {
                let ints = std::mem::take(&mut self.ints);
                let mut texts = Vec::with_capacity(ints.capacity().max(ints.len() + 1));
                texts.extend(ints.into_iter().map(|v| v.to_string()));
                texts.push(label.to_string());
                self.texts = Some(texts);
            }
        }
    }

    /// Whether there is no label.
    pub(crate) fn is_empty(&self) -> bool {
        self.ints.is_empty() && self.texts.as_ref().is_none_or(Vec::is_empty)
    }

    /// Reserves room for `n` more labels (as integers, while they are).
    pub(crate) fn reserve(&mut self, n: usize) {
        // A failed reservation is not an error: the vector grows as it must.
        let _ = match self.texts.as_mut() {
            Some(texts) => texts.try_reserve_exact(n),
            None => self.ints.try_reserve_exact(n),
        };
    }

    /// The labels.
    pub(crate) fn finish(self) -> Vec<ClassLabel> {
        match self.texts {
            Some(texts) => texts.into_iter().map(ClassLabel::Text).collect(),
            None => self.ints.into_iter().map(ClassLabel::Int).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_labels_are_integers_only_when_all_are_written_as_integers() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(labels_from_text(s(&["3", "-1", "3"])), vec![3.into(), (-1).into(), 3.into()]);
        assert_eq!(labels_from_text(s(&["3", "07"])), vec!["3".into(), "07".into()]);
        assert_eq!(labels_from_text(s(&["+2"])), vec!["+2".into()]);
        assert_eq!(labels_from_text(s(&["cat", "1"])), vec!["cat".into(), "1".into()]);
    }

    #[test]
    fn class_filters_select_items_and_integer_ranges() {
        let f: ClassFilter = "0-4, 7,cat,07".parse().unwrap();
        for (label, selected) in [
            (ClassLabel::Int(0), true),
            (ClassLabel::Int(4), true),
            (ClassLabel::Int(5), false),
            (ClassLabel::Int(7), true),
            (ClassLabel::Int(-1), false),
            (ClassLabel::from("cat"), true),
            (ClassLabel::from("07"), true),
            (ClassLabel::from("3"), false),
            (ClassLabel::from("dog"), false),
        ] {
            assert_eq!(f.contains(&label), selected, "{label:?}");
        }
        let names: ClassFilter = "cat-dog,a".parse().unwrap();
        assert!(names.contains(&ClassLabel::from("cat-dog")), "a dash between words is a label");
        assert!("3-1".parse::<ClassFilter>().unwrap_err().contains("empty"));
        assert!("1,,2".parse::<ClassFilter>().unwrap_err().contains("empty item"));
    }

    #[test]
    fn formats_by_extension_then_signature() {
        assert_eq!(Format::of(Path::new("a.H5"), b""), Some(Format::Hdf5));
        assert_eq!(Format::of(Path::new("a.csv"), b"\x93NUMPY"), Some(Format::Csv));
        assert_eq!(Format::of(Path::new("a.bin"), b"\x93NUMPY\x01\x00"), Some(Format::Npy));
        assert_eq!(Format::of(Path::new("a"), b"\x89HDF\r\n\x1a\n"), Some(Format::Hdf5));
        assert_eq!(Format::of(Path::new("a.txt"), b"1,2"), None);
    }

    #[test]
    fn text_labels_read_line_by_line_as_the_whole_text_splits() {
        let ok = |text: &[u8]| read_text_labels(text).unwrap();
        assert_eq!(ok(b"3\n-1\n3\n"), vec![3.into(), (-1).into(), 3.into()]);
        assert_eq!(ok(b" cat \r\ndog"), vec!["cat".into(), "dog".into()]);
        assert_eq!(ok(b"a\nb\n  \t"), vec!["a".into(), "b".into()]);
        for (text, reason) in [
            (&b"a\n\nb\n"[..], "line 2 is empty (one label per line)"),
            (b"a\nb\n\n", "line 3 is empty (one label per line)"),
            (b"\n", "line 1 is empty (one label per line)"),
            (b"", "no labels"),
            (b" \r\n", "line 1 is empty (one label per line)"),
            (b" \t", "no labels"),
            (b"a\n\nb\xff\n", "not a text file of labels (invalid UTF-8 at byte 4)"),
        ] {
            assert_eq!(read_text_labels(text).unwrap_err(), reason);
        }
    }

    #[cfg(unix)]
    #[test]
    fn devices_are_refused_before_they_are_read() {
        let refused = |what: &str, err: CliError| {
            assert_eq!(
                err.to_string(),
                format!("{what}: is a character device, not a regular file or a pipe")
            );
        };
        refused("/dev/null", read_file(Path::new("/dev/null")).unwrap_err());
        // Endless: reading it would never stop.
        refused("/dev/zero", Input::read(Path::new("/dev/zero"), None).unwrap_err());
        refused("/dev/zero", read_labels(Path::new("/dev/zero")).unwrap_err());
    }

    #[cfg(unix)]
    #[test]
    fn named_and_anonymous_pipes_are_read_once_as_a_stream() {
        use std::io::Write;
        use std::os::fd::AsRawFd;

        let dir = tempfile::tempdir().unwrap();
        // A named FIFO, with more rows than a pipe buffers (the writer blocks
        // until they are read), CRLF line ends and a byte order mark.
        let fifo = dir.path().join("rows.csv");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        let rows = 20_000;
        let mut text = b"\xef\xbb\xbfa,b,label\r\n".to_vec();
        for i in 0..rows {
            text.extend(format!("{i},-{i}.5,c{}\r\n", i % 3).bytes());
        }
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::write(&fifo, text))
        };
        let input = Input::read(&fifo, None).unwrap();
        writer.join().unwrap().unwrap();
        assert_eq!(input.x.dim(), (rows, 2));
        assert_eq!(input.x.row(7).to_vec(), vec![7.0, -7.5]);
        let labels = input.labels.unwrap();
        assert_eq!((labels[0].clone(), labels[rows - 1].clone()), ("c0".into(), "c1".into()));

        // `--input <(command) --labels <(command)`: the shell passes /dev/fd/N.
        let (matrix, mut matrix_writer) = std::io::pipe().unwrap();
        let (labels, mut labels_writer) = std::io::pipe().unwrap();
        let mut npy = b"\x93NUMPY\x01\x00".to_vec();
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
        npy.extend(u16::try_from(header.len() + 1).unwrap().to_le_bytes());
        npy.extend(header.bytes().chain([b'\n']));
        npy.extend([1f32, 2., 3., 4., 5., 6.].iter().flat_map(|v| v.to_le_bytes()));
        let writers = std::thread::spawn(move || {
            matrix_writer.write_all(&npy)?;
            drop(matrix_writer);
            labels_writer.write_all(b"cat\ndog\n")
        });
        let fd = |f: &std::io::PipeReader| PathBuf::from(format!("/dev/fd/{}", f.as_raw_fd()));
        let input = Input::read(&fd(&matrix), Some(&fd(&labels))).unwrap();
        writers.join().unwrap().unwrap();
        assert_eq!(input.format, Format::Npy);
        assert_eq!(input.x, ndarray::array![[1f32, 2., 3.], [4., 5., 6.]]);
        assert_eq!(input.labels, Some(vec!["cat".into(), "dog".into()]));
    }
}
