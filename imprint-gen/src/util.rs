//! Numeric helpers shared by the generators: validation of `k`, means
//! accumulated in f64, and GEMM-based squared distances computed block by
//! block.
//!
//! Determinism: every parallel loop here works on fixed blocks of rows whose
//! results are collected in block order, and each block's GEMM runs on one
//! thread, so results are bit-identical for any number of rayon threads.

use imprint_core::{ImprintError, Result};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, s};
use rayon::prelude::*;

/// Rows per GEMM block: bounds the memory of a block to `BLOCK x columns`
/// and fixes how work is split, independently of the thread count.
pub(crate) const BLOCK: usize = 256;

/// Rejects `k = 0` for the generator `generator`.
pub(crate) fn check_k(k: usize, generator: &str) -> Result<()> {
    if k == 0 {
        return Err(ImprintError::invalid(
            "k",
            0,
            format!("generator '{generator}' needs at least one proxy"),
        ));
    }
    Ok(())
}

/// The `k` a generator chosen by name needs, or an error naming it.
pub(crate) fn required_k(k: Option<usize>, generator: &str) -> Result<usize> {
    k.ok_or_else(|| ImprintError::invalid("k", "none", format!("generator '{generator}' needs k")))
}

/// Column means, accumulated in f64 in row order (so the result does not
/// depend on threads). `x` must have at least one row.
pub(crate) fn mean_f64(x: ArrayView2<'_, f32>) -> Array1<f64> {
    let mut sum = Array1::<f64>::zeros(x.ncols());
    let s = sum.as_slice_mut().expect("fresh array");
    for row in x.outer_iter() {
        match row.as_slice() {
            Some(r) => s.iter_mut().zip(r).for_each(|(s, &v)| *s += f64::from(v)),
            None => s.iter_mut().zip(row).for_each(|(s, &v)| *s += f64::from(v)),
        }
    }
    sum / x.nrows() as f64
}

/// Data centred by its mean: distances are unchanged, but GEMM-based squared
/// distances `|x|^2 - 2 x.y + |y|^2` lose much less precision near the data.
pub(crate) struct Centred {
    /// `x - mean`, rounded to f32, standard layout.
    pub(crate) data: Array2<f32>,
    /// Squared norms of the rows of `data`, in f64.
    pub(crate) sq: Vec<f64>,
    /// The column means, in f64.
    pub(crate) mean: Array1<f64>,
    /// `sum_ij (x_ij - mean_j)^2` in f64 from the unrounded differences.
    pub(crate) sum_sq_dev: f64,
}

/// Centres `x` (at least one row), one parallel pass over blocks of rows after
/// the mean; block results are combined in block order.
pub(crate) fn centre(x: ArrayView2<'_, f32>) -> Centred {
    let mean = mean_f64(x);
    let (n, dim) = x.dim();
    let mut data = Array2::<f32>::zeros((n, dim));
    let m = mean.as_slice().expect("fresh array");
    let x = x.as_standard_layout();
    let rows = x.as_slice().expect("standard layout");
    let blocks: Vec<_> = data.axis_chunks_iter_mut(ndarray::Axis(0), BLOCK).collect();
    let arch = pulp::Arch::new();
    let parts: Vec<(Vec<f64>, f64)> = blocks
        .into_par_iter()
        .enumerate()
        .map(|(b, mut out)| {
            let out = out.as_slice_mut().expect("fresh array");
            let input = &rows[b * BLOCK * dim..b * BLOCK * dim + out.len()];
            arch.dispatch(CentreBlock { input, mean: m, out, dim })
        })
        .collect();
    let mut sq = Vec::with_capacity(n);
    let mut sum_sq_dev = 0.0;
    for (s, d) in parts {
        sq.extend(s);
        sum_sq_dev += d;
    }
    Centred { data, sq, mean, sum_sq_dev }
}

/// One block of [`centre`]: `out = input - mean` rounded to f32, the squared
/// norms of `out`, and the summed squared deviations before rounding. Run
/// through `pulp` so that the loops compile for the CPU's SIMD level.
struct CentreBlock<'a> {
    input: &'a [f32],
    mean: &'a [f64],
    out: &'a mut [f32],
    dim: usize,
}

impl pulp::WithSimd for CentreBlock<'_> {
    type Output = (Vec<f64>, f64);

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> Self::Output {
        let CentreBlock { input, mean, out, dim } = self;
        let mut sq = Vec::with_capacity(out.len() / dim.max(1));
        let mut dev = 0.0;
        let mut diff = vec![0.0f64; dim];
        for (row, o) in input.chunks_exact(dim).zip(out.chunks_exact_mut(dim)) {
            for ((d, &v), &mu) in diff.iter_mut().zip(row).zip(mean) {
                *d = f64::from(v) - mu;
            }
            for (o, &d) in o.iter_mut().zip(&diff) {
                *o = d as f32;
            }
            dev += sum8(&diff, |d| d * d);
            sq.push(sq_norm(o));
        }
        (sq, dev)
    }
}

/// `sum_i f(v_i)` in f64 with eight interleaved partial sums combined in a
/// fixed order: it vectorizes, and the result is the same on every run.
#[inline]
fn sum8(values: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = values.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += f(v);
        }
    }
    let mut total = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for &v in tail {
        total += f(v);
    }
    total
}

/// `sum_i f(a_i, b_i)` in f64, the two-slice form of [`sum8`].
#[inline]
fn sum8_pairs(a: &[f32], b: &[f32], f: impl Fn(f64, f64) -> f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ta, tb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for ((acc, &u), &v) in acc.iter_mut().zip(x).zip(y) {
            *acc += f(f64::from(u), f64::from(v));
        }
    }
    let mut total = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (&u, &v) in ta.iter().zip(tb) {
        total += f(f64::from(u), f64::from(v));
    }
    total
}

/// Squared L2 norm of a row, accumulated in f64.
#[inline]
pub(crate) fn sq_norm(row: &[f32]) -> f64 {
    imprint_core::sum_of_squares(row)
}

/// Squared L2 norm of every row, accumulated in f64.
pub(crate) fn sq_norms(x: ArrayView2<'_, f32>) -> Vec<f64> {
    let x = x.as_standard_layout();
    let dim = x.ncols().max(1);
    x.as_slice().expect("standard layout").chunks(dim).map(sq_norm).collect()
}

/// Exact squared Euclidean distance, accumulated in f64.
pub(crate) fn sq_dist(a: ArrayView1<'_, f32>, b: ArrayView1<'_, f32>) -> f64 {
    match (a.as_slice(), b.as_slice()) {
        (Some(a), Some(b)) => sq_dist_slices(a, b),
        _ => a.iter().zip(b).map(|(&u, &v)| (f64::from(u) - f64::from(v)).powi(2)).sum(),
    }
}

/// [`sq_dist`] on contiguous rows.
#[inline]
pub(crate) fn sq_dist_slices(a: &[f32], b: &[f32]) -> f64 {
    sum8_pairs(a, b, |u, v| (u - v) * (u - v))
}

/// `a * b^T` on the calling thread (callers parallelize over row blocks).
pub(crate) fn dots_seq(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>) -> Array2<f32> {
    imprint_core::gemm::dots_seq(a, b).expect("internal: callers pass matching dimensions")
}

/// Runs `f(start, dots)` for every block of [`BLOCK`] rows of `x` starting at
/// row `start`, with `dots = x[start..start + BLOCK] * c^T`; blocks run in
/// parallel, results come back in block order.
pub(crate) fn map_row_blocks<T, F>(x: ArrayView2<'_, f32>, c: ArrayView2<'_, f32>, f: F) -> Vec<T>
where
    T: Send,
    F: Fn(usize, ArrayView2<'_, f32>) -> T + Sync,
{
    let n = x.nrows();
    let c = c.as_standard_layout();
    let c = c.view();
    (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            let start = b * BLOCK;
            let end = (start + BLOCK).min(n);
            let dots = dots_seq(x.slice(s![start..end, ..]), c);
            f(start, dots.view())
        })
        .collect()
}

/// Squared distance from the inner product and the squared norms, clipped at
/// zero (rounding can make it slightly negative).
#[inline]
pub(crate) fn sq_dist_from_dot(sq_a: f64, sq_b: f64, dot: f32) -> f64 {
    (sq_a + sq_b - 2.0 * f64::from(dot)).max(0.0)
}

/// Index of the first smallest value (ties to the lower index).
pub(crate) fn argmin_first(values: impl IntoIterator<Item = f64>) -> usize {
    let mut best = (0, f64::INFINITY);
    for (i, v) in values.into_iter().enumerate() {
        if v < best.1 {
            best = (i, v);
        }
    }
    best.0
}

/// Gathers the rows `rows` of `x` into a new standard-layout array.
pub(crate) fn gather(x: ArrayView2<'_, f32>, rows: &[usize]) -> Array2<f32> {
    x.select(ndarray::Axis(0), rows)
}

/// Seeded test data shared by the generators' unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Gaussian blobs: `per` samples around each of `centres` random centres.
    pub(crate) fn blobs(seed: u64, centres: usize, per: usize, dim: usize, spread: f32) -> Array2<f32> {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        let mid = Array2::from_shape_fn((centres, dim), |_| r.random_range(-10.0f32..10.0));
        let mut normal = move || {
            // Box-Muller: keeps the dev-dependencies small.
            let (u, v): (f32, f32) = (r.random_range(f32::EPSILON..1.0), r.random());
            (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
        };
        Array2::from_shape_fn((centres * per, dim), |(i, j)| mid[[i % centres, j]] + spread * normal())
    }
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;

    #[test]
    fn blocks_cover_every_row_in_order() {
        let x = Array2::from_shape_fn((2 * BLOCK + 3, 2), |(i, j)| (i + j) as f32);
        let c = array![[1.0f32, 0.0]];
        let starts: Vec<(usize, usize)> = map_row_blocks(x.view(), c.view(), |s, d| (s, d.nrows()));
        assert_eq!(starts, vec![(0, BLOCK), (BLOCK, BLOCK), (2 * BLOCK, 3)]);
        let firsts: Vec<f32> = map_row_blocks(x.view(), c.view(), |_, d| d[[0, 0]]);
        assert_eq!(firsts, vec![0.0, BLOCK as f32, 2.0 * BLOCK as f32]);
    }

    #[test]
    fn helpers() {
        assert_eq!(argmin_first([3.0, 1.0, 1.0, 2.0]), 1);
        assert_eq!(sq_dist_from_dot(1.0, 1.0, 1.0000001), 0.0);
        let x = array![[1.0f32, 2.0], [3.0, 4.0]];
        assert_eq!(mean_f64(x.view()), array![2.0, 3.0]);
        assert_eq!(sq_norms(x.view()), vec![5.0, 25.0]);
        assert_eq!(sq_dist(x.row(0), x.row(1)), 8.0);
        assert!(matches!(check_k(0, "g"), Err(ImprintError::InvalidParameter { name: "k", .. })));
        assert!(matches!(required_k(None, "g"), Err(ImprintError::InvalidParameter { name: "k", .. })));
    }
}
