//! `Y^T Y` for the rows of `Y`, block by block: the symmetric rank-k
//! update behind the least-squares oracles and NC1
//! ([`crate::gemm::add_gram_of_rows`]).
//!
//! faer's triangular product ran at about a quarter of the machine's f64
//! multiply-add rate on the least-squares shape (60,000 x 512 in blocks of
//! 1,024 rows; `docs/performance.md`). Here the caller's rows are mapped
//! straight into panels of one vector's width (`[panel][row][lane]`, f64 or
//! f32, see [`Element`]), [`DEPTH`] rows at a time, and their column sums
//! taken on the way (in f64); then a tile keeps `R x C` accumulators of one
//! vector in registers (3 x 8 with AVX-512: 24 fused multiply-adds per 3
//! vector loads and 8 broadcasts) while it walks the rows in order, and adds
//! them to f64 sums. Only tiles that touch the lower triangle run; a task
//! owns one group of row panels (kept in the L1 cache) and up to
//! [`PANELS_PER_TASK`] of its column panels.
//!
//! Every entry is a sum over each [`DEPTH`] rows in order (in f64 or f32),
//! the partial sums added in order in f64; each entry is computed on one
//! thread, so results do not depend on the number of threads (nor do the
//! column sums, see [`ROWS_PER_TASK`]).

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

/// The type the rows are packed in and multiplied in: `f64`, or `f32` with
/// each [`DEPTH`] rows' products summed in f32 and those partial sums added
/// in f64 ([`crate::gemm::GramPrecision`]).
pub(crate) trait Element: Copy + Default + Send + Sync + 'static {
    /// One vector of this type on `S`.
    type V<S: Simd>: Copy + bytemuck::Pod;
    fn from_f64(v: f64) -> Self;
    fn splat<S: Simd>(simd: S, v: Self) -> Self::V<S>;
    fn mul_add<S: Simd>(simd: S, a: Self::V<S>, b: Self::V<S>, c: Self::V<S>) -> Self::V<S>;
    fn as_vectors<S: Simd>(values: &[Self]) -> &[Self::V<S>];
    /// `out[w] += lane w of acc`, one f64 per lane.
    fn add_to<S: Simd>(simd: S, acc: Self::V<S>, out: &mut [f64]);
    /// Lanes of a vector on `S`.
    fn lanes<S: Simd>() -> usize {
        size_of::<Self::V<S>>() / size_of::<Self>()
    }
}

impl Element for f64 {
    type V<S: Simd> = S::f64s;
    fn from_f64(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn splat<S: Simd>(simd: S, v: f64) -> S::f64s {
        simd.splat_f64s(v)
    }
    #[inline(always)]
    fn mul_add<S: Simd>(simd: S, a: S::f64s, b: S::f64s, c: S::f64s) -> S::f64s {
        simd.mul_add_e_f64s(a, b, c)
    }
    #[inline(always)]
    fn as_vectors<S: Simd>(values: &[f64]) -> &[S::f64s] {
        S::as_simd_f64s(values).0
    }
    #[inline(always)]
    fn add_to<S: Simd>(simd: S, acc: S::f64s, out: &mut [f64]) {
        let sum = &mut S::as_mut_simd_f64s(out).0[0];
        *sum = simd.add_f64s(*sum, acc);
    }
}

impl Element for f32 {
    type V<S: Simd> = S::f32s;
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn splat<S: Simd>(simd: S, v: f32) -> S::f32s {
        simd.splat_f32s(v)
    }
    #[inline(always)]
    fn mul_add<S: Simd>(simd: S, a: S::f32s, b: S::f32s, c: S::f32s) -> S::f32s {
        simd.mul_add_e_f32s(a, b, c)
    }
    #[inline(always)]
    fn as_vectors<S: Simd>(values: &[f32]) -> &[S::f32s] {
        S::as_simd_f32s(values).0
    }
    #[inline(always)]
    fn add_to<S: Simd>(_simd: S, acc: S::f32s, out: &mut [f64]) {
        let lanes: &[f32] = bytemuck::cast_slice(std::slice::from_ref(&acc));
        out.iter_mut().zip(lanes).for_each(|(o, &v)| *o += f64::from(v));
    }
}

/// `Y^T Y` and the column sums of `Y`, summed over blocks of rows; the
/// products are kept by tiles, then added to the lower triangle of an output
/// ([`Gram::add_lower_to`]). `E` is the type the products are taken in.
pub(crate) struct Gram<E> {
    dim: usize,
    /// Lanes of the vectors and panels per group that made `tiles`.
    shape: Option<(usize, usize)>,
    /// Per group `g` of `group` panels of rows (`i`), the tiles of every
    /// column panel `q <= (g + 1) * group - 1` (`j`): `[q][c][v][w]` holds
    /// the sum for `i = (g * group + v) * lanes + w`, `j = q * lanes + c`.
    tiles: Vec<Vec<f64>>,
    /// The packed rows of the block being added, reused from block to block
    /// (every entry is written before it is read).
    panels: Vec<E>,
    /// `sum_s y_s`: per block, the sums of each [`ROWS_PER_TASK`] rows in
    /// order, added in order.
    sums: Vec<f64>,
}

impl<E: Element> Gram<E> {
    pub(crate) fn new(dim: usize) -> Self {
        Self { dim, shape: None, tiles: Vec::new(), panels: Vec::new(), sums: vec![0.0; dim] }
    }

    /// Adds `y^T y` and the column sums of `y`, `rows x dim`, whose row `r`
    /// is written by `row(r, out)` (into `out`, `dim` entries), once.
    pub(crate) fn add(&mut self, rows: usize, row: impl Fn(usize, &mut [f64]) + Sync) {
        if self.dim == 0 {
            return;
        }
        let pass = DEPTH * (PASS_BYTES / (DEPTH * self.dim * size_of::<E>())).max(1);
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

/// The register tile for vectors of `bytes` bytes and `lanes` lanes: panels
/// of rows per tile (`R`) and columns per tile (`C`, a divisor of `lanes`).
/// `R x C` accumulators and their operands fill the registers: 3 x 8 of the
/// 32 of AVX-512 (24 fused multiply-adds per 3 vector loads and 8
/// broadcasts), 2 x 4 of the 16 of AVX2.
const fn tile_shape(bytes: usize, lanes: usize) -> (usize, usize) {
    match (bytes, lanes) {
        (64, 16 | 8) => (3, 8),
        (32, 8 | 4) | (16, 4) => (2, 4),
        (16, 2) => (2, 2),
        _ => (1, 1),
    }
}

/// [`tile_shape`] of `E`'s vectors on `S`.
fn shape_of<E: Element, S: Simd>() -> (usize, usize) {
    tile_shape(size_of::<E::V<S>>(), E::lanes::<S>())
}

/// Rows `first..first + rows` (one pass, see [`PASS_BYTES`]) of `Y`, added to `gram`.
struct Update<'a, E, F> {
    first: usize,
    rows: usize,
    row: &'a F,
    gram: &'a mut Gram<E>,
}

impl<E: Element, F: Fn(usize, &mut [f64]) + Sync> WithSimd for Update<'_, E, F> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        let Update { first, rows, row, gram } = self;
        let dim = gram.dim;
        let lanes = E::lanes::<S>();
        let (group, _) = shape_of::<E, S>();
        let n_groups = dim.div_ceil(lanes).div_ceil(group);
        let n_panels = n_groups * group;
        // Rows of each chunk of [`DEPTH`] rows; each is packed on its own.
        let chunks: Vec<usize> = (0..rows).step_by(DEPTH).map(|s| DEPTH.min(rows - s)).collect();
        let mut panels = std::mem::take(&mut gram.panels);
        panels.resize(n_panels * rows * lanes, E::default());
        let sums = match lanes {
            16 => pack::<16, E, F>(first, &chunks, dim, n_panels, row, &mut panels),
            8 => pack::<8, E, F>(first, &chunks, dim, n_panels, row, &mut panels),
            4 => pack::<4, E, F>(first, &chunks, dim, n_panels, row, &mut panels),
            2 => pack::<2, E, F>(first, &chunks, dim, n_panels, row, &mut panels),
            _ => pack::<1, E, F>(first, &chunks, dim, n_panels, row, &mut panels),
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
/// column sums (in f64, of the rows as mapped), in row order.
fn pack<const L: usize, E: Element, F: Fn(usize, &mut [f64]) + Sync>(
    first: usize,
    chunks: &[usize],
    dim: usize,
    n_panels: usize,
    row: &F,
    panels: &mut [E],
) -> Vec<Vec<f64>> {
    // Per task, its first row and its rows of every panel.
    let mut parts: Vec<(usize, Vec<&mut [[E; L]]>)> = Vec::new();
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
struct PackRows<'a, 'p, const L: usize, E, F> {
    start: usize,
    part: Vec<&'p mut [[E; L]]>,
    width: usize,
    dim: usize,
    row: &'a F,
}

impl<const L: usize, E: Element, F: Fn(usize, &mut [f64])> WithSimd for PackRows<'_, '_, L, E, F> {
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
                panel[r] = v.map(E::from_f64);
            }
        }
        sums
    }
}

/// For one group `g` of panels of rows, the tiles of the column panels from
/// `q0` on (as many as `tiles` holds), summed over each packed chunk in turn.
struct Tiles<'a, E> {
    packed: &'a [(&'a [E], usize)],
    g: usize,
    q0: usize,
    tiles: &'a mut [f64],
}

impl<E: Element> WithSimd for Tiles<'_, E> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        match (size_of::<E::V<S>>(), E::lanes::<S>()) {
            (64, 16) => self.run::<S, 3, 8, 16>(simd),
            (64, 8) => self.run::<S, 3, 8, 8>(simd),
            (32, 8) => self.run::<S, 2, 4, 8>(simd),
            (32, 4) | (16, 4) => self.run::<S, 2, 4, 4>(simd),
            (16, 2) => self.run::<S, 2, 2, 2>(simd),
            _ => self.run::<S, 1, 1, 1>(simd),
        }
    }
}

impl<E: Element> Tiles<'_, E> {
    #[inline(always)]
    fn run<S: Simd, const R: usize, const C: usize, const L: usize>(self, simd: S) {
        let Tiles { packed, g, q0, tiles } = self;
        assert_eq!((L, (R, C)), (E::lanes::<S>(), shape_of::<E, S>()), "internal: lanes and tile shape");
        for &(panels, rows) in packed {
            Self::sweep::<S, R, C, L>(simd, panels, rows, g, q0, tiles);
        }
    }

    #[inline(always)]
    fn sweep<S: Simd, const R: usize, const C: usize, const L: usize>(
        simd: S,
        panels: &[E],
        rows: usize,
        g: usize,
        q0: usize,
        tiles: &mut [f64],
    ) {
        let panel = |p: usize| &panels[p * rows * L..(p + 1) * rows * L];
        let a: [&[E::V<S>]; R] = std::array::from_fn(|v| &E::as_vectors::<S>(panel(g * R + v))[..rows]);
        let x_zero = E::splat(simd, E::default());
        for (q, tile) in tiles.chunks_exact_mut(L * R * L).enumerate() {
            let (b, _) = panel(q0 + q).as_chunks::<L>();
            // Columns `h * C..(h + 1) * C` of the panel, one register tile each.
            for h in 0..L / C {
                // acc[c][v]: lane w is the entry (i = (g * R + v) * L + w, j = q * L + h * C + c).
                let mut acc = [[x_zero; R]; C];
                // No exit but the loop's own: a possible panic inside would keep
                // the accumulators in memory, stored after every update.
                for (s, bs) in b.iter().enumerate() {
                    let x: [E::V<S>; R] = std::array::from_fn(|v| a[v].get(s).copied().unwrap_or(x_zero));
                    // `get`, not indexing: no panic path in the loop (see above).
                    let columns = bs.as_chunks::<C>().0.get(h).into_iter().flatten();
                    for (acc, &y) in acc.iter_mut().zip(columns) {
                        let y = E::splat(simd, y);
                        for (acc, &x) in acc.iter_mut().zip(&x) {
                            *acc = E::mul_add(simd, x, y, *acc);
                        }
                    }
                }
                // Loops of constant length, so `acc` stays in registers.
                for (c, acc) in acc.into_iter().enumerate() {
                    for (v, acc) in acc.into_iter().enumerate() {
                        let at = ((h * C + c) * R + v) * L;
                        E::add_to(simd, acc, &mut tile[at..at + L]);
                    }
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

    /// The kernel's arithmetic written out entry by entry: per [`DEPTH`] rows
    /// from the start of each `add`, fused multiply-adds in `E` in row order
    /// from zero, each partial sum added in f64.
    fn emulated<E: Element>(
        parts: &[&[f64]],
        dim: usize,
        i: usize,
        j: usize,
        fma: impl Fn(E, E, E) -> E,
    ) -> f64
    where
        f64: From<E>,
    {
        let mut total = 0.0f64;
        for y in parts {
            for chunk in y.chunks(DEPTH * dim) {
                let mut acc = E::default();
                for row in chunk.chunks_exact(dim) {
                    acc = fma(E::from_f64(row[i]), E::from_f64(row[j]), acc);
                }
                total += f64::from(acc);
            }
        }
        total
    }

    /// Bit for bit against [`emulated`] for every dimension around the panel
    /// widths, rows from one up, in two calls of `add`; the column sums
    /// against the plain sum; the upper triangle and what was already in the
    /// output are kept.
    fn matches_the_emulation<E: Element>(fma: impl Fn(E, E, E) -> E + Copy)
    where
        f64: From<E>,
    {
        for dim in [1, 2, 3, 7, 8, 9, 16, 17, 23, 24, 25, 33, 49, 64, 100] {
            for rows in [1, 2, 5, 31, 300] {
                let y: Vec<f64> = (0..rows * dim).map(|i| noise(i * 31 + dim)).collect();
                let start: Vec<f64> = (0..dim * dim).map(|i| noise(1_000_000 + i)).collect();
                let mut out = start.clone();
                let mut gram = Gram::<E>::new(dim);
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
                let parts = [&y[..half * dim], &y[half * dim..]];
                for i in 0..dim {
                    for j in 0..dim {
                        let got = out[i * dim + j];
                        let want = if j <= i {
                            start[i * dim + j] + 0.5 * emulated::<E>(&parts, dim, i, j, fma)
                        } else {
                            start[i * dim + j]
                        };
                        assert_eq!(
                            got.to_bits(),
                            want.to_bits(),
                            "dim {dim} rows {rows} ({i}, {j}): {got} vs {want}"
                        );
                        if j <= i {
                            // And close to the exact sum: f64 to its rounding, f32 to
                            // one 128-term f32 dot product's (values in [-1, 1]).
                            let exact: f64 = (0..rows).map(|s| y[s * dim + i] * y[s * dim + j]).sum();
                            let tol = if size_of::<E>() == 8 { 1e-13 } else { 1e-5 };
                            assert!(
                                (got - start[i * dim + j] - 0.5 * exact).abs() <= tol * (1.0 + rows as f64)
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn f64_lower_triangle_matches_the_emulation_and_keeps_the_rest() {
        matches_the_emulation::<f64>(f64::mul_add);
    }

    #[test]
    fn f32_lower_triangle_matches_the_emulation_and_keeps_the_rest() {
        matches_the_emulation::<f32>(f32::mul_add);
    }

    /// The same bits on one thread and on several.
    fn thread_count_does_not_matter<E: Element>() {
        let (rows, dim) = (300, 61);
        let y: Vec<f64> = (0..rows * dim).map(noise).collect();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let mut out = vec![0.0; dim * dim];
            let mut gram = Gram::<E>::new(dim);
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

    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        thread_count_does_not_matter::<f64>();
        thread_count_does_not_matter::<f32>();
    }
}
