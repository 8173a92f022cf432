//! Progress on stderr, drawn only on a terminal, and row-chunked work.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use ndarray::{ArrayView2, Axis};

use crate::error::Result;

/// Rows per chunk of predictions (one progress step each).
pub const CHUNK_ROWS: usize = 8192;

/// Whether progress may be drawn: stderr is a terminal and `--quiet` is off.
pub fn visible(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

/// A spinner with a message, for steps of unknown length (hidden unless [`visible`]).
pub fn spinner(show: bool, message: impl Into<String>) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed} {wide_msg}") {
        bar.set_style(style);
    }
    bar.set_message(message.into());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// A bar over `rows` rows (hidden unless `show`).
pub fn rows_bar(show: bool, rows: usize, message: impl Into<String>) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(rows as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} rows ETA {eta} {wide_msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message.into());
    bar
}

/// Applies `f` to blocks of [`CHUNK_ROWS`] rows of `x` in order, advancing
/// `bar`, and concatenates the results. `f` gets the block and the index of
/// its first row (for messages). Rows are independent in every aggregation,
/// so the result equals one call on all rows. The bar is left for the
/// caller to finish.
pub fn by_chunks<T>(
    x: ArrayView2<'_, f32>,
    bar: &ProgressBar,
    mut f: impl FnMut(ArrayView2<'_, f32>, usize) -> Result<Vec<T>>,
) -> Result<Vec<T>> {
    let mut out = Vec::with_capacity(x.nrows());
    for (i, block) in x.axis_chunks_iter(Axis(0), CHUNK_ROWS).enumerate() {
        let n = block.nrows();
        out.extend(f(block, i * CHUNK_ROWS)?);
        bar.inc(n as u64);
    }
    Ok(out)
}
