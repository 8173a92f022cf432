//! Plain tables, printed as aligned text for a terminal or as Markdown.

/// How a column is aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text, left aligned.
    Left,
    /// Numbers, right aligned.
    Right,
}

/// A titled table of strings.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Shown above the table.
    pub title: String,
    /// Column names.
    pub header: Vec<String>,
    /// Alignment of each column (as many as `header`).
    pub align: Vec<Align>,
    /// Cells, each row as long as `header`.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table; the first column is left aligned, the rest right aligned.
    pub fn new(title: impl Into<String>, header: &[&str]) -> Self {
        let align = (0..header.len()).map(|i| if i == 0 { Align::Left } else { Align::Right }).collect();
        Self {
            title: title.into(),
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            align,
            rows: Vec::new(),
        }
    }

    /// An empty table with owned column names (first left, rest right aligned).
    pub fn with_header(title: impl Into<String>, header: Vec<String>) -> Self {
        let align = (0..header.len()).map(|i| if i == 0 { Align::Left } else { Align::Right }).collect();
        Self { title: title.into(), header, align, rows: Vec::new() }
    }

    /// Sets the alignment of the first `n` columns to [`Align::Left`].
    pub fn left_columns(mut self, n: usize) -> Self {
        for a in self.align.iter_mut().take(n) {
            *a = Align::Left;
        }
        self
    }

    /// Appends a row, padding or truncating it to the header's width.
    pub fn push(&mut self, mut row: Vec<String>) {
        row.resize(self.header.len(), String::new());
        self.rows.push(row);
    }

    /// The cell at (row, column), if any.
    pub fn cell(&self, row: usize, column: usize) -> Option<&str> {
        self.rows.get(row)?.get(column).map(String::as_str)
    }

    /// The row whose first cell is `label`.
    pub fn row(&self, label: &str) -> Option<&[String]> {
        self.rows.iter().find(|r| r.first().map(String::as_str) == Some(label)).map(Vec::as_slice)
    }

    /// The index of the column named `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// Aligned text: the title, the header, a rule, the rows.
    pub fn to_text(&self) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|c| {
                self.rows
                    .iter()
                    .map(|r| r[c].chars().count())
                    .chain(std::iter::once(self.header[c].chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| -> String {
            let parts: Vec<String> = cells
                .iter()
                .zip(&widths)
                .zip(&self.align)
                .map(|((s, &w), a)| {
                    let pad = " ".repeat(w.saturating_sub(s.chars().count()));
                    match a {
                        Align::Left => format!("{s}{pad}"),
                        Align::Right => format!("{pad}{s}"),
                    }
                })
                .collect();
            parts.join("  ").trim_end().to_owned()
        };
        let mut out = String::new();
        if !self.title.is_empty() {
            out.push_str(&self.title);
            out.push('\n');
        }
        out.push_str(&line(&self.header));
        out.push('\n');
        let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
        out.push_str(&rule.join("  "));
        out.push('\n');
        for r in &self.rows {
            out.push_str(&line(r));
            out.push('\n');
        }
        out
    }

    /// A Markdown table, preceded by the title in bold.
    pub fn to_markdown(&self) -> String {
        let esc = |s: &str| s.replace('|', "\\|");
        let mut out = String::new();
        if !self.title.is_empty() {
            out.push_str(&format!("**{}**\n\n", esc(&self.title)));
        }
        let row = |cells: &[String]| {
            format!("| {} |\n", cells.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | "))
        };
        out.push_str(&row(&self.header));
        let rule: Vec<String> = self
            .align
            .iter()
            .map(|a| match a {
                Align::Left => "---".to_owned(),
                Align::Right => "---:".to_owned(),
            })
            .collect();
        out.push_str(&format!("| {} |\n", rule.join(" | ")));
        for r in &self.rows {
            out.push_str(&row(r));
        }
        out
    }
}

/// `91.06` (two decimals), `-` for `None`.
pub fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"))
}

/// `91.06 ± 3.21`, or `91.06 ± -` without a standard deviation.
pub fn fmt_mean_std(mean: f64, std: Option<f64>) -> String {
    format!("{mean:.2} ± {}", fmt_opt(std))
}

/// A p-value: four decimals, or scientific below 0.001.
pub fn fmt_p(p: f64) -> String {
    if p < 1e-3 { format!("{p:.2e}") } else { format!("{p:.4}") }
}

/// Seconds with four decimals, scientific below 0.0001.
pub fn fmt_seconds(s: f64) -> String {
    if s != 0.0 && s.abs() < 1e-4 { format!("{s:.2e}") } else { format!("{s:.4}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_markdown() {
        let mut t = Table::new("T", &["method", "acc"]);
        t.push(vec!["a|b".into(), "1.00".into()]);
        t.push(vec!["long name".into()]);
        let text = t.to_text();
        assert_eq!(text, "T\nmethod      acc\n---------  ----\na|b        1.00\nlong name\n");
        let md = t.to_markdown();
        assert!(md.contains("| method | acc |\n| --- | ---: |\n| a\\|b | 1.00 |\n"));
        assert_eq!(t.row("long name").map(|r| r[1].as_str()), Some(""));
        assert_eq!(t.column("acc"), Some(1));
        assert_eq!(fmt_p(0.5), "0.5000");
        assert_eq!(fmt_p(1e-5), "1.00e-5");
        assert_eq!(fmt_mean_std(91.064, None), "91.06 ± -");
        assert_eq!(fmt_seconds(0.00291), "0.0029");
    }
}
