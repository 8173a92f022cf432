//! `cargo xtask report`: renders records with [`imprint_bench::reproduce::report`].

use std::path::Path;

use imprint_bench::BenchError;

/// Renders the records in `results` into `out` (default: `results`' parent).
pub fn run(results: &Path, out: Option<&Path>, collapse: Option<&Path>) -> Result<(), BenchError> {
    let (report, written) = imprint_bench::reproduce::report(results, out, collapse)?;
    println!("{}", report.to_text());
    let folder =
        written.first().and_then(|p| p.parent()).map(|p| p.display().to_string()).unwrap_or_default();
    eprintln!("wrote {} files to {folder} (report.md, figures/)", written.len());
    Ok(())
}
