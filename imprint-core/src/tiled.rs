//! Register-tiled reductions over every pair of rows of two row-major
//! matrices: inner products (the thin GEMM of [`crate::gemm`]), Manhattan and
//! Chebyshev distances (no GEMM form).
//!
//! One tiler, three element operations ([`PairOp`]): rows of `a` by rows of
//! `b` in tiles of 4 x 5 with 512-bit vectors (2 x 4 with narrower ones), so
//! every vector loaded feeds several accumulators and the loop runs at the
//! vector units' speed, not the loads'. No packing: rows stream from memory
//! once per tile.
//!
//! Every entry is reduced in a fixed order that does not depend on the tile it
//! falls in: SIMD lanes across the dimension (each lane in order), then the
//! lanes, then the scalar tail. So an entry is the same bit for bit whatever
//! the shapes around it, and the same on any number of threads.

use pulp::{Simd, WithSimd};

/// An element-wise reduction of two rows: `fold(acc, x, y)` over the
/// elements, from `0`.
pub(crate) trait PairOp {
    /// How the lanes of an accumulator are reduced.
    const LANES: Lanes;
    /// One vector step.
    fn step<S: Simd>(simd: S, acc: S::f32s, x: S::f32s, y: S::f32s) -> S::f32s;
    /// One scalar step (the tail after the last full vector).
    fn scalar(acc: f32, x: f32, y: f32) -> f32;
    /// Combines the reduced lanes with the reduced tail.
    fn combine(lanes: f32, tail: f32) -> f32;
}

/// The reduction of an accumulator's lanes: pulp's `reduce_sum_f32s` or
/// `reduce_max_f32s`, whose order of operations fixes the result's bits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lanes {
    Sum,
    Max,
}

impl Lanes {
    /// One accumulator's lanes, reduced.
    #[inline(always)]
    fn reduce<S: Simd>(self, simd: S, acc: S::f32s) -> f32 {
        match self {
            Lanes::Sum => simd.reduce_sum_f32s(acc),
            Lanes::Max => simd.reduce_max_f32s(acc),
        }
    }
}

/// `<x, y>`, by fused multiply-adds.
pub(crate) struct Dot;

impl PairOp for Dot {
    const LANES: Lanes = Lanes::Sum;

    #[inline(always)]
    fn step<S: Simd>(simd: S, acc: S::f32s, x: S::f32s, y: S::f32s) -> S::f32s {
        simd.mul_add_e_f32s(x, y, acc)
    }
    #[inline(always)]
    fn scalar(acc: f32, x: f32, y: f32) -> f32 {
        acc + x * y
    }
    #[inline(always)]
    fn combine(lanes: f32, tail: f32) -> f32 {
        lanes + tail
    }
}

/// `sum |x - y|`.
pub(crate) struct Manhattan;

impl PairOp for Manhattan {
    const LANES: Lanes = Lanes::Sum;

    #[inline(always)]
    fn step<S: Simd>(simd: S, acc: S::f32s, x: S::f32s, y: S::f32s) -> S::f32s {
        simd.add_f32s(acc, simd.abs_f32s(simd.sub_f32s(x, y)))
    }
    #[inline(always)]
    fn scalar(acc: f32, x: f32, y: f32) -> f32 {
        acc + (x - y).abs()
    }
    #[inline(always)]
    fn combine(lanes: f32, tail: f32) -> f32 {
        lanes + tail
    }
}

/// `max |x - y|`.
pub(crate) struct Chebyshev;

impl PairOp for Chebyshev {
    const LANES: Lanes = Lanes::Max;

    #[inline(always)]
    fn step<S: Simd>(simd: S, acc: S::f32s, x: S::f32s, y: S::f32s) -> S::f32s {
        simd.max_f32s(acc, simd.abs_f32s(simd.sub_f32s(x, y)))
    }
    #[inline(always)]
    fn scalar(acc: f32, x: f32, y: f32) -> f32 {
        acc.max((x - y).abs())
    }
    #[inline(always)]
    fn combine(lanes: f32, tail: f32) -> f32 {
        lanes.max(tail)
    }
}

/// Where [`pairwise_into`] writes the entry of `a` row `i` and `b` row `j`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Layout {
    /// `out[i * n_b + j]`: a row per row of `a`.
    RowsOfA,
    /// `out[j * n_a + i]`: a row per row of `b` (the transpose; same tiles, same bits).
    RowsOfB,
}

/// `reduce(a row i, b row j)` for every pair, for row-major `a` (`n_a x dim`)
/// and `b` (`n_b x dim`), into `out` laid out as `layout` says, on the calling
/// thread.
///
/// # Panics
/// If `dim == 0` or the slice lengths do not match `dim` and `out`.
pub(crate) fn pairwise_into<O: PairOp>(a: &[f32], b: &[f32], dim: usize, out: &mut [f32], layout: Layout) {
    assert!(dim > 0, "internal: tiled reductions need dim > 0");
    assert!(a.len().is_multiple_of(dim) && b.len().is_multiple_of(dim), "internal: rows of dim values");
    assert_eq!(out.len(), (a.len() / dim) * (b.len() / dim), "internal: output shape");
    pulp::Arch::new().dispatch(Tiler::<O> { a, b, dim, out, layout, op: std::marker::PhantomData });
}

struct Tiler<'a, O> {
    a: &'a [f32],
    b: &'a [f32],
    dim: usize,
    out: &'a mut [f32],
    layout: Layout,
    op: std::marker::PhantomData<O>,
}

impl<O: PairOp> WithSimd for Tiler<'_, O> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Tiler { a, b, dim, out, layout, .. } = self;
        let (n_a, n_b) = (a.len() / dim, b.len() / dim);
        let reducer = Reducer::new::<S>();
        // 32 vector registers with AVX-512 hold a 4 x 5 tile of accumulators,
        // the 4 + 1 operands and a temporary; 16 with AVX2 hold 2 x 4.
        let wide = size_of::<S::f32s>() >= 64;
        let (max_rows, max_cols) = if wide { (4, 5) } else { (2, 4) };
        // Rows of `b` in chunks of at most CHUNK_BYTES, each swept by every
        // row of `a` while it stays in the core's L2 cache.
        let chunk = (CHUNK_BYTES / (dim * size_of::<f32>())).max(max_cols);
        let mut j0 = 0;
        while j0 < n_b {
            let width = chunk.min(n_b - j0);
            // Columns in groups of nearly equal size (20 = 4 x 5, 8 = 2 x 4).
            let groups = width.div_ceil(max_cols);
            let mut i = 0;
            while i < n_a {
                let rows = match n_a - i {
                    r if r >= max_rows => max_rows,
                    r if r >= 2 => 2,
                    _ => 1,
                };
                // The next rows of `a`, split among this row's tiles, which
                // fetch them into the cache while they compute.
                let next = &a[((i + rows) * dim).min(a.len())..((i + rows + max_rows) * dim).min(a.len())];
                let next_rows = next.len() / dim;
                let mut j = j0;
                for g in 0..groups {
                    // Group g covers columns j0 + [g * width / groups, (g + 1) * width / groups).
                    let cols = j0 + (g + 1) * width / groups - j;
                    let ahead = &next[g * next_rows / groups * dim..(g + 1) * next_rows / groups * dim];
                    let at = Tile { a, b, dim, i, j, n_a, n_b, layout, reducer, ahead };
                    match (rows, cols) {
                        (4, 5) => at.run::<O, S, 4, 5>(simd, out),
                        (4, 4) => at.run::<O, S, 4, 4>(simd, out),
                        (4, 3) => at.run::<O, S, 4, 3>(simd, out),
                        (4, 2) => at.run::<O, S, 4, 2>(simd, out),
                        (4, _) => at.run::<O, S, 4, 1>(simd, out),
                        (2, 5) => at.run::<O, S, 2, 5>(simd, out),
                        (2, 4) => at.run::<O, S, 2, 4>(simd, out),
                        (2, 3) => at.run::<O, S, 2, 3>(simd, out),
                        (2, 2) => at.run::<O, S, 2, 2>(simd, out),
                        (2, _) => at.run::<O, S, 2, 1>(simd, out),
                        (_, 5) => at.run::<O, S, 1, 5>(simd, out),
                        (_, 4) => at.run::<O, S, 1, 4>(simd, out),
                        (_, 3) => at.run::<O, S, 1, 3>(simd, out),
                        (_, 2) => at.run::<O, S, 1, 2>(simd, out),
                        _ => at.run::<O, S, 1, 1>(simd, out),
                    }
                    j += cols;
                }
                i += rows;
            }
            j0 += width;
        }
    }
}

/// Bytes of `b` swept at once by every row of `a` (half of a typical L2).
const CHUNK_BYTES: usize = 128 * 1024;

/// The tile of [`Tiler`] at rows `i..` of `a` and `j..` of `b`.
struct Tile<'a> {
    a: &'a [f32],
    b: &'a [f32],
    dim: usize,
    i: usize,
    j: usize,
    n_a: usize,
    n_b: usize,
    layout: Layout,
    reducer: Reducer,
    /// Rows of `a` to prefetch, about one cache line per step.
    ahead: &'a [f32],
}

impl Tile<'_> {
    #[inline(always)]
    fn run<O: PairOp, S: Simd, const R: usize, const C: usize>(&self, simd: S, out: &mut [f32]) {
        if C == 0 {
            return;
        }
        let dim = self.dim;
        let a: [&[f32]; R] = std::array::from_fn(|r| &self.a[(self.i + r) * dim..(self.i + r + 1) * dim]);
        let b: [&[f32]; C] = std::array::from_fn(|c| &self.b[(self.j + c) * dim..(self.j + c + 1) * dim]);
        let a_split: [(&[S::f32s], &[f32]); R] = a.map(S::as_simd_f32s);
        let b_split: [(&[S::f32s], &[f32]); C] = b.map(S::as_simd_f32s);
        let len = a_split[0].0.len();
        let a_vec: [&[S::f32s]; R] = a_split.map(|(v, _)| &v[..len]);
        let b_vec: [&[S::f32s]; C] = b_split.map(|(v, _)| &v[..len]);
        let mut acc = [[simd.splat_f32s(0.0); C]; R];
        // Elements of `ahead` per step, whole cache lines (one line for one row).
        let stride = self.ahead.len().div_ceil(len.max(1)).next_multiple_of(LINE_F32S);
        for l in 0..len {
            self.reducer.prefetch(self.ahead, l * stride, stride);
            let x: [S::f32s; R] = std::array::from_fn(|r| a_vec[r][l]);
            for c in 0..C {
                let y = b_vec[c][l];
                for r in 0..R {
                    acc[r][c] = O::step(simd, acc[r][c], x[r], y);
                }
            }
        }
        let lanes = self.reducer.tile(simd, O::LANES, &acc);
        for r in 0..R {
            for c in 0..C {
                // From -0.0, as `Iterator::sum` of f32 does (exact zeros keep their sign).
                let tail = a_split[r].1.iter().zip(b_split[c].1).fold(-0.0, |t, (&x, &y)| O::scalar(t, x, y));
                let (i, j) = (self.i + r, self.j + c);
                let at = match self.layout {
                    Layout::RowsOfA => i * self.n_b + j,
                    Layout::RowsOfB => j * self.n_a + i,
                };
                out[at] = O::combine(lanes[r][c], tail);
            }
        }
    }
}

/// f32 values per cache line.
const LINE_F32S: usize = 64 / size_of::<f32>();

/// Reduces the accumulators of a tile: with AVX-512, 16 at a time
/// ([`reduce16`]); otherwise one by one. Also prefetches the rows a tiler
/// reads next.
#[derive(Clone, Copy)]
struct Reducer {
    #[cfg(target_arch = "x86_64")]
    v4: Option<pulp::x86::V4>,
    #[cfg(target_arch = "x86_64")]
    sse: Option<pulp::core_arch::x86::Sse>,
}

impl Reducer {
    /// For the instruction set of `S`.
    #[inline(always)]
    fn new<S: Simd>() -> Self {
        Reducer {
            #[cfg(target_arch = "x86_64")]
            v4: if size_of::<S::f32s>() == 64 { pulp::x86::V4::try_new() } else { None },
            #[cfg(target_arch = "x86_64")]
            sse: pulp::core_arch::x86::Sse::try_new(),
        }
    }

    /// Asks for the cache lines of `rows[from..from + len]` (those that exist)
    /// to be brought into L1 ahead of use: rows streamed from memory once per
    /// tile otherwise stall the loop on each first touch. Prefetches change
    /// no result.
    #[inline(always)]
    fn prefetch(self, rows: &[f32], from: usize, len: usize) {
        #[cfg(target_arch = "x86_64")]
        if let Some(sse) = self.sse {
            let end = (from + len).min(rows.len());
            for at in (from..end).step_by(LINE_F32S) {
                sse._mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(rows[at..].as_ptr().cast());
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (rows, from, len);
    }

    /// `lanes.reduce(acc[r][c])` for every accumulator, bit for bit.
    #[inline(always)]
    fn tile<S: Simd, const R: usize, const C: usize>(
        self,
        simd: S,
        lanes: Lanes,
        acc: &[[S::f32s; C]; R],
    ) -> [[f32; C]; R] {
        let mut out = [[0.0f32; C]; R];
        #[cfg(target_arch = "x86_64")]
        if let Some(v4) = self.v4 {
            // Batches of 16, the last of 4, 8 or 16 (its trip counts are
            // constants once R and C are, so every loop unrolls).
            let n = R * C;
            for start in (0..n).step_by(16) {
                let len = (n - start).min(16);
                let mut batch = [v4.avx512f._mm512_setzero_ps(); 16];
                for (i, slot) in batch[..len].iter_mut().enumerate() {
                    let at = start + i;
                    *slot = bytemuck::cast(acc[at / C][at % C]);
                }
                let reduced = match len {
                    1..=4 => reduce16::<4>(v4, lanes, &batch),
                    5..=8 => reduce16::<8>(v4, lanes, &batch),
                    _ => reduce16::<16>(v4, lanes, &batch),
                };
                for i in 0..len {
                    let at = start + i;
                    out[at / C][at % C] = reduced[(i % 4) * 4 + i / 4];
                }
            }
            return out;
        }
        for r in 0..R {
            for c in 0..C {
                out[r][c] = lanes.reduce(simd, acc[r][c]);
            }
        }
        out
    }
}

/// The lanes of `acc[..N]` (N = 4, 8 or 16), reduced at once by the tree of
/// pulp's AVX-512 `reduce_sum_f32s` / `reduce_max_f32s`: halves of 256 bits,
/// then 128, 64 and 32, the lower half always the first operand. At each
/// level two vectors become one by two shuffles and one operation, where one
/// accumulator at a time takes eight instructions for its four levels.
/// Accumulator `i` ends in lane `(i % 4) * 4 + i / 4`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn reduce16<const N: usize>(
    v4: pulp::x86::V4,
    lanes: Lanes,
    acc: &[core::arch::x86_64::__m512; 16],
) -> [f32; 16] {
    let f = v4.avx512f;
    let mut v = *acc;
    let mut live = N;
    // Each level pairs vectors 2i and 2i + 1 (the last with itself when
    // `live` is odd) into vector i: the lower halves against the upper halves.
    // (No closures: they would not inline pulp's intrinsics.)
    macro_rules! level {
        ($shuffle:ident, $lower:literal, $upper:literal) => {
            let pairs = live.div_ceil(2);
            for i in 0..pairs {
                let (x, y) = (v[2 * i], v[(2 * i + 1).min(live - 1)]);
                let (lo, hi) = (f.$shuffle::<$lower>(x, y), f.$shuffle::<$upper>(x, y));
                v[i] = match lanes {
                    Lanes::Sum => f._mm512_add_ps(lo, hi),
                    Lanes::Max => f._mm512_max_ps(lo, hi),
                };
            }
            live = pairs;
        };
    }
    // 256-bit halves: [x.lo, y.lo] against [x.hi, y.hi].
    level!(_mm512_shuffle_f32x4, 0x44, 0xEE);
    // 128-bit halves of each accumulator's 256 bits.
    level!(_mm512_shuffle_f32x4, 0x88, 0xDD);
    // 64-bit halves within each 128-bit block.
    level!(_mm512_shuffle_ps, 0x44, 0xEE);
    // 32-bit halves.
    level!(_mm512_shuffle_ps, 0x88, 0xDD);
    debug_assert_eq!(live, 1);
    bytemuck::cast(v[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pseudo-random values in [-1, 1) from an index (no RNG dependency).
    fn noise(i: usize) -> f32 {
        let h = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        ((h >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    /// Every tile shape (rows 4/2/1, columns 1 to 5), vector tails and
    /// dimensions below one vector, against f64 sums; every entry equal bit for
    /// bit to the same pair computed alone.
    fn check<O: PairOp>(exact: impl Fn(&[f32], &[f32]) -> f64) {
        for (n_a, n_b, dim) in [
            (1, 1, 1),
            (3, 7, 5),
            (7, 20, 33),
            (9, 13, 16),
            (13, 50, 47),
            (4, 8, 64),
            (6, 3, 100),
            (5, 9, 515),
        ] {
            let a: Vec<f32> = (0..n_a * dim).map(|i| noise(i) * 3.0).collect();
            let b: Vec<f32> = (0..n_b * dim).map(|i| noise(7_000_000 + i)).collect();
            let mut out = vec![0.0f32; n_a * n_b];
            pairwise_into::<O>(&a, &b, dim, &mut out, Layout::RowsOfA);
            let mut transposed = vec![0.0f32; n_a * n_b];
            pairwise_into::<O>(&a, &b, dim, &mut transposed, Layout::RowsOfB);
            for i in 0..n_a {
                for j in 0..n_b {
                    let (x, y) = (&a[i * dim..(i + 1) * dim], &b[j * dim..(j + 1) * dim]);
                    let got = out[i * n_b + j];
                    let want = exact(x, y);
                    assert!(
                        (f64::from(got) - want).abs() <= 1e-6 * dim as f64 * (1.0 + want.abs()),
                        "{n_a}x{n_b}x{dim} ({i}, {j}): {got} vs {want}"
                    );
                    let mut one = [0.0f32];
                    pairwise_into::<O>(x, y, dim, &mut one, Layout::RowsOfA);
                    assert_eq!(one[0].to_bits(), got.to_bits(), "{n_a}x{n_b}x{dim} ({i}, {j})");
                    let t = transposed[j * n_a + i];
                    assert_eq!(t.to_bits(), got.to_bits(), "{n_a}x{n_b}x{dim} ({i}, {j}) transposed");
                }
            }
        }
    }

    /// The batched reduction of [`Reducer`] against pulp's one accumulator at
    /// a time, bit for bit: every tile size up to 4 x 5, sums of values whose
    /// order of addition shows in the last bits, maxima with NaN lanes.
    #[test]
    fn batched_lane_reduction_equals_one_at_a_time() {
        fn run<S: Simd, const R: usize, const C: usize>(simd: S, seed: usize) {
            for lanes in [Lanes::Sum, Lanes::Max] {
                let width = size_of::<S::f32s>() / size_of::<f32>();
                let mut acc = [[simd.splat_f32s(0.0); C]; R];
                for (t, a) in acc.iter_mut().flatten().enumerate() {
                    let values: Vec<f32> = (0..width)
                        .map(|l| {
                            let i = seed * 1000 + t * width + l;
                            match i % 37 {
                                5 if lanes == Lanes::Max => f32::NAN,
                                _ => noise(i) * 10f32.powi((i % 9) as i32 - 4),
                            }
                        })
                        .collect();
                    *a = bytemuck::pod_read_unaligned(bytemuck::cast_slice(&values));
                }
                let got = Reducer::new::<S>().tile(simd, lanes, &acc);
                for r in 0..R {
                    for c in 0..C {
                        let want = lanes.reduce(simd, acc[r][c]);
                        assert_eq!(got[r][c].to_bits(), want.to_bits(), "{R}x{C} ({r}, {c}) seed {seed}");
                    }
                }
            }
        }
        struct All;
        impl WithSimd for All {
            type Output = ();
            #[inline(always)]
            fn with_simd<S: Simd>(self, simd: S) {
                for seed in 0..20 {
                    run::<S, 1, 1>(simd, seed);
                    run::<S, 1, 5>(simd, seed);
                    run::<S, 2, 3>(simd, seed);
                    run::<S, 2, 5>(simd, seed);
                    run::<S, 4, 3>(simd, seed);
                    run::<S, 4, 4>(simd, seed);
                    run::<S, 4, 5>(simd, seed);
                }
            }
        }
        pulp::Arch::new().dispatch(All);
        // The generic path too, whatever the machine.
        All.with_simd(pulp::Scalar::new());
    }

    #[test]
    fn manhattan_matches_f64_and_does_not_depend_on_the_tiling() {
        check::<Manhattan>(|x, y| x.iter().zip(y).map(|(&u, &v)| (f64::from(u) - f64::from(v)).abs()).sum());
    }

    #[test]
    fn chebyshev_is_exact_and_does_not_depend_on_the_tiling() {
        // A maximum of f32 differences: exact up to the rounding of each difference.
        check::<Chebyshev>(|x, y| {
            x.iter().zip(y).map(|(&u, &v)| f64::from((u - v).abs())).fold(0.0, f64::max)
        });
    }
}
