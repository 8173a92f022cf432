//! The paper's tables, statistics and figures from a folder of result
//! records (ours, or the reference's own JSON output).
//!
//! [`render`] turns records (and, optionally, the neural-collapse value of
//! each task) into a [`Report`]: sections T1-T8 of the paper, each a list of
//! tables, notes and figures, printable as aligned text
//! ([`Report::to_text`]) or Markdown ([`Report::to_markdown`]).
//! [`write_report`] writes `report.md` and `figures/*.svg`.
//!
//! # What is computed
//! Per (task, method) the median accuracy over seeds, where a task is
//! (backbone, datasets, mapping, task split, few-shot value) and a method
//! the nine settings of [`MethodKey`] ([`select`]). Per method row of a
//! table: average and standard deviation (ddof 1) over tasks, average rank,
//! number of tasks, and the paper's value; then Friedman's test and pairwise
//! Wilcoxon-Holm tests ([`compare`]), and critical-difference diagrams
//! ([`cd_diagram`]). Tables T1-T4, T6-T8 use the tasks with all training
//! samples (few-shot value -1), as the paper's; T5 varies the few-shot value.
//!
//! A table whose records are missing is left out with a note naming the
//! records it needs; odd input (one task, one seed, NaN accuracies, no
//! records at all) gives notes, never a panic.
//!
//! # Example
//! ```
//! use imprint_report::render;
//!
//! # fn main() -> Result<(), imprint_report::ReportError> {
//! let report = render(&[], &[])?;
//! assert!(report.to_text().contains("No records"));
//! assert!(report.to_markdown().starts_with("# "));
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use imprint_compat::Record;

pub use crate::error::{ReportError, Result};

pub mod cd_diagram;
pub mod compare;
mod curves;
mod error;
pub mod figures;
mod paper;
pub mod select;
pub mod stats;
pub mod table;

pub use compare::{Comparison, MethodStats, PairTest, RowSpec, Significance};
pub use figures::Figure;
pub use select::{DataKey, MethodKey, Summary, TaskKey};
pub use table::Table;

/// Neural collapse of one task (paper eq. 1), as the runner writes it to
/// `neural_collapse.json` (a JSON array of these).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskCollapse {
    /// `backbone_name`.
    pub backbone_name: String,
    /// `dataset_name`.
    pub dataset_name: Vec<String>,
    /// `mapping_name`.
    pub mapping_name: String,
    /// `task_name`.
    pub task_name: String,
    /// NC1 = Tr(Sigma_W Sigma_B^+) / C.
    pub nc1: f64,
    /// Variability collapse index.
    pub vci: f64,
}

impl TaskCollapse {
    /// The task's data key.
    pub fn data_key(&self) -> DataKey {
        DataKey {
            backbone_name: self.backbone_name.clone(),
            dataset_name: self.dataset_name.clone(),
            mapping_name: self.mapping_name.clone(),
            task_name: self.task_name.clone(),
        }
    }
}

/// Reads a `neural_collapse.json` (a JSON array of [`TaskCollapse`]).
pub fn read_collapse(path: impl AsRef<Path>) -> Result<Vec<TaskCollapse>> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Io {
        path: path.to_owned(),
        action: "read",
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| ReportError::CorruptFile {
        path: path.to_owned(),
        reason: format!("not a JSON array of neural-collapse values: {e}"),
    })
}

/// Writes a `neural_collapse.json` atomically (temporary file, then rename),
/// creating the parent folder.
pub fn write_collapse(path: impl AsRef<Path>, values: &[TaskCollapse]) -> Result<()> {
    let path = path.as_ref();
    let text = serde_json::to_string_pretty(values)
        .map_err(|source| ReportError::Serialize { path: path.to_owned(), source })?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_dir(dir)?;
    }
    write_atomic(path, text.as_bytes())
}

/// One block of a section.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A remark (one line).
    Note(String),
    /// A plain table.
    Table(Table),
    /// A comparison of methods with its tests.
    Comparison(Comparison),
    /// A reference to a figure of [`Report::figures`].
    Figure {
        /// File name under `figures/`.
        file_name: String,
        /// Caption.
        title: String,
    },
}

/// A section of the report: one of the paper's tables (T1-T8) or the overview.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// Short id: `overview`, `T1`, ..., `T8`.
    pub id: String,
    /// Title.
    pub title: String,
    /// Content in order.
    pub blocks: Vec<Block>,
}

impl Section {
    fn new(id: &str, title: &str) -> Self {
        Self { id: id.to_owned(), title: title.to_owned(), blocks: Vec::new() }
    }

    fn note(&mut self, text: impl Into<String>) {
        self.blocks.push(Block::Note(text.into()));
    }

    /// The comparisons of the section.
    pub fn comparisons(&self) -> impl Iterator<Item = &Comparison> {
        self.blocks.iter().filter_map(|b| if let Block::Comparison(c) = b { Some(c) } else { None })
    }

    /// The first comparison whose title contains `text`.
    pub fn comparison(&self, text: &str) -> Option<&Comparison> {
        self.comparisons().find(|c| c.title.contains(text))
    }

    /// The plain tables of the section.
    pub fn tables(&self) -> impl Iterator<Item = &Table> {
        self.blocks.iter().filter_map(|b| if let Block::Table(t) = b { Some(t) } else { None })
    }

    /// The first plain table whose title contains `text`.
    pub fn table(&self, text: &str) -> Option<&Table> {
        self.tables().find(|t| t.title.contains(text))
    }

    /// The notes of the section.
    pub fn notes(&self) -> impl Iterator<Item = &str> {
        self.blocks.iter().filter_map(|b| if let Block::Note(n) = b { Some(n.as_str()) } else { None })
    }

    /// The heading: `T1 Prior methods ...`, or the title alone for the overview.
    pub fn heading(&self) -> String {
        if self.id == "overview" { self.title.clone() } else { format!("{} {}", self.id, self.title) }
    }

    /// Whether the section only says why it is left out.
    pub fn is_omitted(&self) -> bool {
        self.blocks.iter().all(|b| matches!(b, Block::Note(_)))
    }
}

/// The rendered report.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Number of records given.
    pub n_records: usize,
    /// Overview, then T1-T8, in order.
    pub sections: Vec<Section>,
    /// Every figure, in the order referenced.
    pub figures: Vec<Figure>,
}

impl Report {
    /// The section with this id (`overview`, `T1`, ...).
    pub fn section(&self, id: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.id == id)
    }

    /// The figure written to `figures/{file_name}`.
    pub fn figure(&self, file_name: &str) -> Option<&Figure> {
        self.figures.iter().find(|f| f.file_name == file_name)
    }

    /// Aligned plain text for a terminal.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for s in &self.sections {
            let head = s.heading();
            out.push_str(&format!("{head}\n{}\n\n", "=".repeat(head.chars().count())));
            for b in &s.blocks {
                match b {
                    Block::Note(n) => out.push_str(&format!("note: {n}\n\n")),
                    Block::Table(t) => out.push_str(&format!("{}\n", t.to_text())),
                    Block::Comparison(c) => {
                        for t in c.tables() {
                            out.push_str(&format!("{}\n", t.to_text()));
                        }
                        for n in c.note_lines() {
                            out.push_str(&format!("note: {n}\n"));
                        }
                        out.push('\n');
                    }
                    Block::Figure { file_name, title } => {
                        out.push_str(&format!("figure: figures/{file_name} ({title})\n\n"))
                    }
                }
            }
        }
        out
    }

    /// Markdown for `report.md` (figures linked from `figures/`).
    pub fn to_markdown(&self) -> String {
        let mut out = String::from("# IMPRINT reproduction report\n\n");
        for s in &self.sections {
            out.push_str(&format!("## {}\n\n", s.heading()));
            for b in &s.blocks {
                match b {
                    Block::Note(n) => out.push_str(&format!("> {n}\n\n")),
                    Block::Table(t) => out.push_str(&format!("{}\n", t.to_markdown())),
                    Block::Comparison(c) => {
                        for t in c.tables() {
                            out.push_str(&format!("{}\n", t.to_markdown()));
                        }
                        for n in c.note_lines() {
                            out.push_str(&format!("- {n}\n"));
                        }
                        out.push('\n');
                    }
                    Block::Figure { file_name, title } => {
                        out.push_str(&format!("![{title}](figures/{file_name})\n\n"))
                    }
                }
            }
        }
        out
    }
}

/// Renders the report of `records`, with the NC1 of each task from
/// `collapse` where given (matched on backbone, datasets, mapping, task).
pub fn render(records: &[Record], collapse: &[TaskCollapse]) -> Result<Report> {
    let summary = Summary::build(records);
    let collapse: BTreeMap<DataKey, &TaskCollapse> = collapse.iter().map(|c| (c.data_key(), c)).collect();
    let mut report = Report { n_records: records.len(), sections: Vec::new(), figures: Vec::new() };
    report.sections.push(overview(&summary, collapse.len()));
    if summary.n_cells() == 0 {
        return Ok(report);
    }
    let figs = &mut report.figures;
    let sections = vec![
        paper::prior_methods(&summary, figs),
        paper::generation(&summary, figs),
        paper::norm(&summary),
        paper::agg(&summary),
        curves::low_data(&summary, figs),
        curves::proxies(&summary, &collapse, figs),
        paper::kls(&summary),
        paper::runtime(&summary),
    ];
    report.sections.extend(sections);
    Ok(report)
}

fn overview(summary: &Summary, n_collapse: usize) -> Section {
    let mut s = Section::new("overview", "Records");
    if summary.n_records == 0 {
        s.note("No records: nothing to report.");
        return s;
    }
    let n_tasks = summary.tasks().count();
    s.note(format!(
        "{} records; {} used in {} (task, method) cells over {} tasks; seeds: {}.",
        summary.n_records,
        summary.n_used(),
        summary.n_cells(),
        n_tasks,
        summary.seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
    ));
    if summary.n_non_finite > 0 {
        s.note(format!("{} records with a non-finite accuracy were skipped.", summary.n_non_finite));
    }
    if summary.n_presampled > 0 {
        s.note(format!(
            "{} records with presampling_method != \"all\" were left out (the tables use all samples).",
            summary.n_presampled
        ));
    }
    let mut by_seeds: BTreeMap<usize, usize> = BTreeMap::new();
    for (_, _, c) in summary.cells() {
        *by_seeds.entry(c.n_seeds).or_default() += 1;
    }
    s.note(format!(
        "Seeds per cell (the paper uses 3): {}.",
        by_seeds.iter().map(|(k, v)| format!("{v} cells with {k}")).collect::<Vec<_>>().join(", ")
    ));
    if summary.n_cells() == 0 {
        s.note("No records: none has a usable accuracy with presampling \"all\".");
    }
    s.note(format!("Neural-collapse values given for {n_collapse} tasks."));
    s.note(
        "Each cell is the median accuracy over seeds; averages and std (ddof 1) are over tasks; \
         ranks are within a task among the table's methods (1 = best, ties averaged).",
    );
    s
}

/// Writes `report.md` and `figures/*.svg` under `out_dir` (created if
/// missing), each atomically. Returns the written paths, `report.md` first.
pub fn write_report(report: &Report, out_dir: &Path) -> Result<Vec<PathBuf>> {
    let fig_dir = out_dir.join("figures");
    create_dir(&fig_dir)?;
    let md = out_dir.join("report.md");
    write_atomic(&md, report.to_markdown().as_bytes())?;
    let mut out = vec![md];
    for f in &report.figures {
        let p = fig_dir.join(&f.file_name);
        write_atomic(&p, f.svg.as_bytes())?;
        out.push(p);
    }
    Ok(out)
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.to_owned(),
        action: "create directory",
        source,
    })
}

/// The project's atomic write, replacing the file.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    imprint_data::write_atomic(path, bytes, true)
        .map_err(|source| ReportError::Write { path: path.to_owned(), source })
}
