//! `Y^T Y` in f64 for the rows of `Y`, block by block: the symmetric rank-k
//! update behind the least-squares oracles and NC1
//! ([`crate::gemm::add_gram_of_rows`]).
//!
//! faer's triangular product ran at about a quarter of the machine's f64
//! multiply-add rate on the least-squares shape (60,000 x 512 in blocks of
//! 1,024 rows; `docs/performance.md`). Here every [`DEPTH`] rows are packed
//! into panels of one vector's width (`[panel][row][lane]`, f64), and a tile
//! keeps `R x L` accumulators of `L` lanes in registers (3 x 8 with AVX-512:
//! 24 fused multiply-adds per 3 vector loads and 8 broadcasts) while it
//! walks the rows in order. Only tiles that touch the lower triangle run; a
//! task owns one group of row panels (kept in the L1 cache) and its tiles.
//!
//! Every entry is a sum over each [`DEPTH`] rows in order, the partial sums
//! added in order; each entry is computed on one thread, so results do not
//! depend on the number of threads.

use pulp::{Simd, WithSimd};
use rayon::prelude::*;

/// Rows of `y` packed and swept at once: the panels of one tile (3 x 8 KiB of
/// rows, plus the 8 KiB of the column panel) stay in the L1 cache.
const DEPTH: usize = 128;

/// `Y^T Y` summed over blocks of rows, kept by tiles, then added to the lower
/// triangle of an output ([`Gram::add_lower_to`]).
pub(crate) struct Gram {
    dim: usize,
    /// Lanes of the vectors and panels per group that made `tiles`.
    shape: Option<(usize, usize)>,
    /// Per group `g` of `group` panels of rows (`i`), the tiles of every
    /// column panel `q <= (g + 1) * group - 1` (`j`): `[q][c][v][w]` holds
    /// the sum for `i = (g * group + v) * lanes + w`, `j = q * lanes + c`.
    tiles: Vec<Vec<f64>>,
}

impl Gram {
    pub(crate) fn new(dim: usize) -> Self {
        Self { dim, shape: None, tiles: Vec::new() }
    }

    /// Adds `y^T y` for row-major `y` (`rows x dim`).
    ///
    /// # Panics
    /// If `y.len()` is not `rows * dim`.
    pub(crate) fn add(&mut self, y: &[f64], rows: usize) {
        let dim = self.dim;
        assert_eq!(y.len(), rows * dim, "internal: y is rows x dim");
        if dim == 0 {
            return;
        }
        for block in y.chunks(DEPTH * dim) {
            pulp::Arch::new().dispatch(Update { y: block, rows: block.len() / dim, gram: self });
        }
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

struct Update<'a> {
    y: &'a [f64],
    rows: usize,
    gram: &'a mut Gram,
}

impl WithSimd for Update<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        let Update { y, rows, gram } = self;
        let dim = gram.dim;
        let lanes = size_of::<S::f64s>() / size_of::<f64>();
        let group = group_for(lanes);
        // Panels of `lanes` columns, `[panel][row][lane]`, padded with zero
        // columns up to a whole group.
        let n_groups = dim.div_ceil(lanes).div_ceil(group);
        let mut panels = vec![0.0f64; n_groups * group * rows * lanes];
        panels.par_chunks_mut(rows * lanes).enumerate().for_each(|(p, panel)| {
            let columns = (p * lanes).min(dim)..((p + 1) * lanes).min(dim);
            for (row, out) in y.chunks_exact(dim).zip(panel.chunks_exact_mut(lanes)) {
                out[..columns.len()].copy_from_slice(&row[columns.clone()]);
            }
        });
        if gram.shape.is_none() {
            gram.shape = Some((lanes, group));
            gram.tiles = (0..n_groups).map(|g| vec![0.0; (g + 1) * group * lanes * group * lanes]).collect();
        }
        let panels = &panels[..];
        // One group per task: its panels stay in the L1 cache while the
        // column panels stream past.
        gram.tiles.par_iter_mut().enumerate().for_each(|(g, tiles)| {
            pulp::Arch::new().dispatch(Tiles { panels, rows, g, tiles });
        });
    }
}

/// The tiles of one group `g` of panels of rows, with every column panel on
/// or below its last row.
struct Tiles<'a> {
    panels: &'a [f64],
    rows: usize,
    g: usize,
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
        let Tiles { panels, rows, g, tiles } = self;
        assert_eq!(L, size_of::<S::f64s>() / size_of::<f64>(), "internal: lanes of a vector");
        let panel = |p: usize| &panels[p * rows * L..(p + 1) * rows * L];
        let a: [&[S::f64s]; R] = std::array::from_fn(|v| &S::as_simd_f64s(panel(g * R + v)).0[..rows]);
        let x_zero = simd.splat_f64s(0.0);
        for (q, tile) in tiles.chunks_exact_mut(L * R * L).enumerate() {
            let b = panel(q);
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
                gram.add(&y[..rows / 2 * dim], rows / 2);
                gram.add(&y[rows / 2 * dim..], rows - rows / 2);
                gram.add_lower_to(0.5, &mut out);
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
            pool.install(|| gram.add(&y, rows));
            gram.add_lower_to(1.0, &mut out);
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
