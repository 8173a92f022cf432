//! `cargo xtask report`, and the report step of `reproduce`.

use std::path::Path;

use imprint_bench::report::{TaskCollapse, read_collapse, render, write_collapse, write_report};
use imprint_bench::{BenchError, DataCombination, load_all};
use imprint_core::Collapse;

/// File name of the NC1 values beside the records.
const COLLAPSE_FILE: &str = "neural_collapse.json";

/// Renders the records in `results` into `out` (default: `results`' parent).
pub fn run(results: &Path, out: Option<&Path>, collapse: Option<&Path>) -> Result<(), BenchError> {
    let out = out.map(Path::to_path_buf).unwrap_or_else(|| {
        results.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(results).to_path_buf()
    });
    let default_collapse = out.join(COLLAPSE_FILE);
    let collapse = match collapse {
        Some(path) => read_collapse(path)?,
        None if default_collapse.exists() => read_collapse(&default_collapse)?,
        None => Vec::new(),
    };
    render_and_write(results, &out, &collapse)
}

/// Writes `neural_collapse.json`, then renders the report of `records` into `out`.
pub fn write_collapse_and_report(
    out: &Path,
    records: &Path,
    collapse: &[(DataCombination, Collapse)],
) -> Result<(), BenchError> {
    let collapse: Vec<TaskCollapse> = collapse
        .iter()
        .map(|(d, c)| TaskCollapse {
            backbone_name: d.backbone_name.clone(),
            dataset_name: d.dataset_name.clone(),
            mapping_name: d.mapping_name.clone(),
            task_name: d.task_name.clone(),
            nc1: c.nc1,
            vci: c.vci,
        })
        .collect();
    write_collapse(out.join(COLLAPSE_FILE), &collapse)?;
    render_and_write(records, out, &collapse)
}

fn render_and_write(records: &Path, out: &Path, collapse: &[TaskCollapse]) -> Result<(), BenchError> {
    let records = load_all(records)?;
    let report = render(&records, collapse)?;
    println!("{}", report.to_text());
    let written = write_report(&report, out)?;
    eprintln!("wrote {} files to {} (report.md, figures/)", written.len(), out.display());
    Ok(())
}
