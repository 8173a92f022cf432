//! `Y^T Y` in f64 for the rows of `Y`, block by block: the symmetric rank-k
//! update behind the least-squares oracles and NC1
//! ([`crate::gemm::add_gram_of_rows`]).
//!
//! faer's triangular product ran at about a quarter of the machine's f64
//! multiply-add rate on the least-squares shape (60,000 x 512 in blocks of
//! 1,024 rows; `docs/performance.md`). Here the caller's rows are mapped
//! straight into panels of one vector's width (`[panel][row][lane]`, f64),
//! [`DEPTH`] rows at a time, and their column sums taken on the way; then a
//! tile keeps `R x L` accumulators of `L` lanes in registers (3 x 8 with
//! AVX-512: 24 fused multiply-adds per 3 vector loads and 8 broadcasts)
//! while it walks the rows in order. Only tiles that touch the lower
//! triangle run; a task owns one group of row panels (kept in the L1 cache)
//! and up to [`PANELS_PER_TASK`] of its column panels.
//!
//! Every entry is a sum over each [`DEPTH`] rows in order, the partial sums
//! added in order; each entry is computed on one thread, so results do not
//! depend on the number of threads (nor do the column sums, see
//! [`ROWS_PER_TASK`]).

use pulp::{Simd, WithSimd};
use rayon::prelude::*;

/// Rows of `y` packed and swept at once: the panels of one tile (3 x 8 KiB of
/// rows, plus the 8 KiB of the column panel) stay in the L1 cache.
const DEPTH: usize = 128;

/// Bytes of packed rows per parallel pass: whole [`DEPTH`]s of rows up to
/// this size (at least one), so that the threads meet less often while the
/// pass stays in the L2 cache (2 x 128 rows at d = 512 were about 10% faster
/// than one; at d = 2,048, where one already takes 2 MiB, two were slower).
const PASS_BYTES: usize = 1 << 20;

/// Column panels per task of the sweep: tasks of about equal work, so the
/// threads finish a pass together.
const PANELS_PER_TASK: usize = 12;

/// Rows that one task maps and packs: a fixed split, so the column sums
/// (added per task, then task after task) do not depend on the threads.
const ROWS_PER_TASK: usize = 16;

/// `Y^T Y` and the column sums of `Y`, summed over blocks of rows; the
/// products are kept by tiles, then added to the lower triangle of an output
/// ([`Gram::add_lower_to`]).
pub(crate) struct Gram {
    dim: usize,
    /// Lanes of the vectors and panels per group that made `tiles`.
    shape: Option<(usize, usize)>,
    /// Per group `g` of `group` panels of rows (`i`), the tiles of every
    /// column panel `q <= (g + 1) * group - 1` (`j`): `[q][c][v][w]` holds
    /// the sum for `i = (g * group + v) * lanes + w`, `j = q * lanes + c`.
    tiles: Vec<Vec<f64>>,
    /// The packed rows of the block being added, reused from block to block
    /// (every entry is written before it is read).
    panels: Vec<f64>,
    /// `sum_s y_s`: per block, the sums of each [`ROWS_PER_TASK`] rows in
    /// order, added in order.
    sums: Vec<f64>,
}

impl Gram {
    pub(crate) fn new(dim: usize) -> Self {
        Self { dim, shape: None, tiles: Vec::new(), panels: Vec::new(), sums: vec![0.0; dim] }
    }

    /// Adds `y^T y` and the column sums of `y`, `rows x dim`, whose row `r`
    /// is written by `row(r, out)` (into `out`, `dim` entries), once.
    pub(crate) fn add(&mut self, rows: usize, row: impl Fn(usize, &mut [f64]) + Sync) {
        if self.dim == 0 {
            return;
        }
        let pass = DEPTH * (PASS_BYTES / (DEPTH * self.dim * size_of::<f64>())).max(1);
        for first in (0..rows).step_by(pass) {
            let block = pass.min(rows - first);
            pulp::Arch::new().dispatch(Update { first, rows: block, row: &row, gram: self });
        }
    }

    /// The column sums of every row added so far.
    pub(crate) fn sums(&self) -> &[f64] {
        &self.sums
    }

    /// `out[i][j] += alpha * sum y_i y_j` for `j <= i`; the upper triangle of
    /// `out` (row-major `dim x dim`) is left alone.
    pub(crate) fn add_lower_to(&self, alpha: f64, out: &mut [f64]) {
        let dim = self.dim;
        assert_eq!(out.len(), dim * dim, "internal: out is dim x dim");
        let Some((lanes, group)) = self.shape else { return };
        for i in 0..dim {
            let (panel, w) = (i / lanes, i % lanes);
            let (g, v) = (panel / group, panel % group);
            for j in 0..=i {
                let (q, c) = (j / lanes, j % lanes);
                out[i * dim + j] += alpha * self.tiles[g][((q * lanes + c) * group + v) * lanes + w];
            }
        }
    }
}

/// Panels of rows per tile for vectors of `lanes` f64: 3 x 8 accumulators
/// and their operands fill the 32 registers of AVX-512; 2 x 4 the 16 of AVX2.
const fn group_for(lanes: usize) -> usize {
    match lanes {
        8 => 3,
        2 | 4 => 2,
        _ => 1,
    }
}

/// Rows `first..first + rows` (one pass, see [`PASS_BYTES`]) of `Y`, added to `gram`.
struct Update<'a, F> {
    first: usize,
    rows: usize,
    row: &'a F,
    gram: &'a mut Gram,
}

impl<F: Fn(usize, &mut [f64]) + Sync> WithSimd for Update<'_, F> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        let Update { first, rows, row, gram } = self;
        let dim = gram.dim;
        let lanes = size_of::<S::f64s>() / size_of::<f64>();
        let group = group_for(lanes);
        let n_groups = dim.div_ceil(lanes).div_ceil(group);
        let n_panels = n_groups * group;
        // Rows of each chunk of [`DEPTH`] rows; each is packed on its own.
        let chunks: Vec<usize> = (0..rows).step_by(DEPTH).map(|s| DEPTH.min(rows - s)).collect();
        let mut panels = std::mem::take(&mut gram.panels);
        panels.resize(n_panels * rows * lanes, 0.0);
        let sums = match lanes {
            8 => pack::<8, F>(first, &chunks, dim, n_panels, row, &mut panels),
            4 => pack::<4, F>(first, &chunks, dim, n_panels, row, &mut panels),
            2 => pack::<2, F>(first, &chunks, dim, n_panels, row, &mut panels),
            _ => pack::<1, F>(first, &chunks, dim, n_panels, row, &mut panels),
        };
        for part in sums {
            gram.sums.iter_mut().zip(part).for_each(|(s, p)| *s += p);
        }
        if gram.shape.is_none() {
            gram.shape = Some((lanes, group));
            gram.tiles = (0..n_groups).map(|g| vec![0.0; (g + 1) * group * lanes * group * lanes]).collect();
        }
        let mut packed = Vec::with_capacity(chunks.len());
        let mut rest = &panels[..];
        for &rows in &chunks {
            let (chunk, tail) = rest.split_at(n_panels * rows * lanes);
            packed.push((chunk, rows));
            rest = tail;
        }
        // A task: one group of row panels (kept in the L1 cache) and up to
        // [`PANELS_PER_TASK`] column panels, streamed past, chunk after chunk.
        let tile = group * lanes * lanes;
        let tasks: Vec<(usize, usize, &mut [f64])> = gram
            .tiles
            .iter_mut()
            .enumerate()
            .flat_map(|(g, tiles)| {
                tiles
                    .chunks_mut(PANELS_PER_TASK * tile)
                    .enumerate()
                    .map(move |(t, tiles)| (g, t * PANELS_PER_TASK, tiles))
            })
            .collect();
        tasks.into_par_iter().for_each(|(g, q0, tiles)| {
            pulp::Arch::new().dispatch(Tiles { packed: &packed, g, q0, tiles });
        });
        gram.panels = panels;
    }
}

/// Writes rows `first..` of `Y` straight into panels of `L` columns: per
/// chunk (`chunks` holds their rows), `[panel][row][lane]` with the columns
/// past `dim` zero, [`ROWS_PER_TASK`] rows per task; returns each task's
/// column sums, in row order.
fn pack<const L: usize, F: Fn(usize, &mut [f64]) + Sync>(
    first: usize,
    chunks: &[usize],
    dim: usize,
    n_panels: usize,
    row: &F,
    panels: &mut [f64],
) -> Vec<Vec<f64>> {
    // Per task, its first row and its rows of every panel.
    let mut parts: Vec<(usize, Vec<&mut [[f64; L]]>)> = Vec::new();
    let (mut rest, mut start) = (panels, first);
    for &rows in chunks {
        let (chunk, tail) = rest.split_at_mut(n_panels * rows * L);
        let tasks = parts.len();
        parts.extend((0..rows.div_ceil(ROWS_PER_TASK)).map(|t| (start + t * ROWS_PER_TASK, Vec::new())));
        for panel in chunk.chunks_exact_mut(rows * L) {
            let (panel, _) = panel.as_chunks_mut::<L>();
            for ((_, part), rows) in parts[tasks..].iter_mut().zip(panel.chunks_mut(ROWS_PER_TASK)) {
                part.push(rows);
            }
        }
        (rest, start) = (tail, start + rows);
    }
    parts
        .into_par_iter()
        .map(|(start, part)| {
            pulp::Arch::new().dispatch(PackRows { start, part, width: n_panels * L, dim, row })
        })
        .collect()
}

/// One task of [`pack`]: rows `start..` into its rows of every panel,
/// compiled for the machine's vectors (`row` inlined into it).
struct PackRows<'a, 'p, const L: usize, F> {
    start: usize,
    part: Vec<&'p mut [[f64; L]]>,
    width: usize,
    dim: usize,
    row: &'a F,
}

impl<const L: usize, F: Fn(usize, &mut [f64])> WithSimd for PackRows<'_, '_, L, F> {
    type Output = Vec<f64>;

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) -> Vec<f64> {
        let PackRows { start, mut part, width, dim, row } = self;
        // The mapped row, then zero columns up to the panels' width.
        let mut values = vec![0.0f64; width];
        let mut sums = vec![0.0f64; dim];
        for r in 0..part.first().map_or(0, |p| p.len()) {
            row(start + r, &mut values[..dim]);
            sums.iter_mut().zip(&values).for_each(|(s, v)| *s += v);
            for (panel, v) in part.iter_mut().zip(values.as_chunks::<L>().0) {
                panel[r] = *v;
            }
        }
        sums
    }
}

/// For one group `g` of panels of rows, the tiles of the column panels from
/// `q0` on (as many as `tiles` holds), summed over each packed chunk in turn.
struct Tiles<'a> {
    packed: &'a [(&'a [f64], usize)],
    g: usize,
    q0: usize,
    tiles: &'a mut [f64],
}

impl WithSimd for Tiles<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        match size_of::<S::f64s>() / size_of::<f64>() {
            8 => self.run::<S, { group_for(8) }, 8>(simd),
            4 => self.run::<S, { group_for(4) }, 4>(simd),
            2 => self.run::<S, { group_for(2) }, 2>(simd),
            _ => self.run::<S, { group_for(1) }, 1>(simd),
        }
    }
}

impl Tiles<'_> {
    #[inline(always)]
    fn run<S: Simd, const R: usize, const L: usize>(self, simd: S) {
        let Tiles { packed, g, q0, tiles } = self;
        assert_eq!(L, size_of::<S::f64s>() / size_of::<f64>(), "internal: lanes of a vector");
        for &(panels, rows) in packed {
            Self::sweep::<S, R, L>(simd, panels, rows, g, q0, tiles);
        }
    }

    #[inline(always)]
    fn sweep<S: Simd, const R: usize, const L: usize>(
        simd: S,
        panels: &[f64],
        rows: usize,
        g: usize,
        q0: usize,
        tiles: &mut [f64],
    ) {
        let panel = |p: usize| &panels[p * rows * L..(p + 1) * rows * L];
        let a: [&[S::f64s]; R] = std::array::from_fn(|v| &S::as_simd_f64s(panel(g * R + v)).0[..rows]);
        let x_zero = simd.splat_f64s(0.0);
        for (q, tile) in tiles.chunks_exact_mut(L * R * L).enumerate() {
            let b = panel(q0 + q);
            // acc[c][v]: lane w is the entry (i = (g * R + v) * L + w, j = q * L + c).
            let mut acc = [[simd.splat_f64s(0.0); R]; L];
            // No exit but the loop's own: a possible panic inside would keep
            // the accumulators in memory, stored after every update.
            for (s, bs) in b.chunks_exact(L).enumerate() {
                let x: [S::f64s; R] = std::array::from_fn(|v| a[v].get(s).copied().unwrap_or(x_zero));
                for (acc, &y) in acc.iter_mut().zip(bs) {
                    let y = simd.splat_f64s(y);
                    for (acc, &x) in acc.iter_mut().zip(&x) {
                        *acc = simd.mul_add_e_f64s(x, y, *acc);
                    }
                }
            }
            let (sums, _) = S::as_mut_simd_f64s(tile);
            for (sums, acc) in sums.chunks_exact_mut(R).zip(acc) {
                for (sum, acc) in sums.iter_mut().zip(acc) {
                    *sum = simd.add_f64s(*sum, acc);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(i: usize) -> f64 {
        let h = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        ((h >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }

    /// Against the plain triple loop (f64, row order) for every dimension
    /// around the panel widths, rows from one up; the upper triangle and
    /// what was already in the output are kept.
    #[test]
    fn lower_triangle_matches_the_plain_sum_and_keeps_the_rest() {
        for dim in [1, 2, 3, 7, 8, 9, 16, 23, 24, 25, 33, 49, 64, 100] {
            for rows in [1, 2, 5, 31, 300] {
                let y: Vec<f64> = (0..rows * dim).map(|i| noise(i * 31 + dim)).collect();
                let start: Vec<f64> = (0..dim * dim).map(|i| noise(1_000_000 + i)).collect();
                let mut out = start.clone();
                let mut gram = Gram::new(dim);
                let half = rows / 2;
                let y = &y;
                let copy = |offset: usize| {
                    move |r: usize, out: &mut [f64]| {
                        out.copy_from_slice(&y[(offset + r) * dim..(offset + r + 1) * dim]);
                    }
                };
                gram.add(half, copy(0));
                gram.add(rows - half, copy(half));
                gram.add_lower_to(0.5, &mut out);
                for (j, &got) in gram.sums().iter().enumerate() {
                    let want: f64 = (0..rows).map(|s| y[s * dim + j]).sum();
                    assert!(
                        (got - want).abs() <= 1e-13 * (1.0 + rows as f64),
                        "dim {dim} rows {rows} sum {j}"
                    );
                }
                for i in 0..dim {
                    for j in 0..dim {
                        let sum: f64 = (0..rows).map(|s| y[s * dim + i] * y[s * dim + j]).sum();
                        let want = if j <= i { start[i * dim + j] + 0.5 * sum } else { start[i * dim + j] };
                        let got = out[i * dim + j];
                        assert!(
                            (got - want).abs() <= 1e-13 * (1.0 + rows as f64),
                            "dim {dim} rows {rows} ({i}, {j}): {got} vs {want}"
                        );
                        if j > i {
                            assert_eq!(got.to_bits(), want.to_bits(), "upper triangle changed");
                        }
                    }
                }
            }
        }
    }

    /// The same bits on one thread and on several.
    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let (rows, dim) = (300, 61);
        let y: Vec<f64> = (0..rows * dim).map(noise).collect();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let mut out = vec![0.0; dim * dim];
            let mut gram = Gram::new(dim);
            pool.install(|| gram.add(rows, |r, out| out.copy_from_slice(&y[r * dim..(r + 1) * dim])));
            gram.add_lower_to(1.0, &mut out);
            out.extend_from_slice(gram.sums());
            out
        };
        let one = run(1);
        for threads in [2, 3, 8] {
            assert!(
                one.iter().zip(run(threads)).all(|(a, b)| a.to_bits() == b.to_bits()),
                "{threads} threads"
            );
        }
    }
}
