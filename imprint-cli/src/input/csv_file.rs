//! CSV embeddings: a header row, one row per embedding, every column a
//! number except an optional `label` column.

use ndarray::Array2;

/// Embeddings and the raw `label` column (if the header has one) of a CSV file.
#[derive(Debug)]
pub struct Table {
    /// `rows x features`, in column order (the `label` column left out).
    pub x: Array2<f32>,
    /// The `label` column as written.
    pub labels: Option<Vec<String>>,
}

/// The name of the label column.
pub const LABEL_COLUMN: &str = "label";

/// Parses CSV text.
///
/// # Errors
/// One-line reasons: no header, no or two `label` columns, no feature
/// column, a row with another number of fields, an empty cell, a cell that
/// is not a number or not a finite float32 (named by row, line and column),
/// invalid UTF-8, no rows.
pub fn read(bytes: &[u8]) -> Result<Table, String> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().has_headers(true).trim(csv::Trim::All).from_reader(bytes);
    let header = reader.headers().map_err(|e| describe(&e))?.clone();
    if header.is_empty() || header.iter().all(str::is_empty) {
        return Err("no header row (the first line names the columns, e.g. f0,f1,...,label)".into());
    }
    let label_columns: Vec<usize> = (0..header.len()).filter(|&i| &header[i] == LABEL_COLUMN).collect();
    if label_columns.len() > 1 {
        return Err(format!("{} columns are named '{LABEL_COLUMN}'; keep one", label_columns.len()));
    }
    let label_col = label_columns.first().copied();
    let features: Vec<usize> = (0..header.len()).filter(|&i| Some(i) != label_col).collect();
    if features.is_empty() {
        return Err("no embedding columns: every column but 'label' holds one feature".into());
    }
    let mut values = Vec::new();
    let mut labels = label_col.map(|_| Vec::new());
    let mut record = csv::StringRecord::new();
    let mut row = 0usize;
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(describe(&e)),
        }
        let line = record.position().map_or(0, |p| p.line());
        for (col, &i) in features.iter().enumerate() {
            let cell = &record[i];
            let at = || format!("row {row} (line {line}), column {col} ('{}')", &header[i]);
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
                return Err(format!("{what} at row {row} (line {line}), column {col} ('{}')", &header[i]));
            }
            values.push(v);
        }
        if let (Some(labels), Some(i)) = (labels.as_mut(), label_col) {
            let label = &record[i];
            if label.is_empty() {
                return Err(format!("row {row} (line {line}): empty label"));
            }
            labels.push(label.to_string());
        }
        row += 1;
    }
    if row == 0 {
        return Err("no rows below the header".into());
    }
    let x = Array2::from_shape_vec((row, features.len()), values).map_err(|e| format!("internal: {e}"))?;
    Ok(Table { x, labels })
}

/// One line for a CSV error, with the line number where there is one.
fn describe(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { pos, expected_len, len } => format!(
            "line {} has {len} fields but the header has {expected_len}",
            pos.as_ref().map_or(0, |p| p.line())
        ),
        csv::ErrorKind::Utf8 { pos, .. } => {
            format!("line {} is not valid UTF-8 text", pos.as_ref().map_or(0, |p| p.line()))
        }
        _ => format!("not a readable CSV file: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_and_labels_in_any_column_order() {
        let t = read(b"\xef\xbb\xbff0,label,f1\n1.5,cat,2\n-3, dog ,4e-1\n").unwrap();
        assert_eq!(t.x, ndarray::array![[1.5f32, 2.0], [-3.0, 0.4]]);
        assert_eq!(t.labels.unwrap(), vec!["cat", "dog"]);
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
}
