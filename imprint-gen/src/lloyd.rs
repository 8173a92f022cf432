//! Lloyd iterations of k-means (scikit-learn's `_kmeans_single_lloyd`): every
//! iteration labels each sample with its nearest centre and moves each centre
//! to the mean of its samples, in one pass over the data.
//!
//! Hamerly's bounds (skip samples whose centre provably stays) were measured
//! here and left out: on class-like data in 512 dimensions the nearest and
//! second nearest centres are almost equidistant, so they skipped under 5% of
//! the samples in most iterations while the bookkeeping made each iteration
//! 2.5 times slower.

use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use rayon::prelude::*;
use std::sync::Mutex;

use crate::util::sq_norms;

/// The state Lloyd's algorithm ends in, in centred coordinates.
pub(crate) struct Lloyd {
    pub(crate) centres: Array2<f64>,
    pub(crate) labels: Vec<usize>,
    pub(crate) n_iter: usize,
    pub(crate) converged: bool,
}

/// Lloyd iterations from `centres` (scikit-learn's `_kmeans_single_lloyd`);
/// `tol` is absolute here. The fit runs on a pool thread, so each of its
/// parallel steps starts inside the pool rather than handing off from the
/// calling thread and waking it again.
pub(crate) fn lloyd(x: ArrayView2<'_, f32>, centres: Array2<f64>, max_iter: usize, tol: f64) -> Lloyd {
    rayon::scope(|_| lloyd_on(x, centres, max_iter, tol))
}

fn lloyd_on(x: ArrayView2<'_, f32>, mut centres: Array2<f64>, max_iter: usize, tol: f64) -> Lloyd {
    let n = x.nrows();
    let mut labels = vec![usize::MAX; n];
    let mut labels_old = vec![usize::MAX; n];
    let (mut n_iter, mut strict, mut converged) = (0, false, false);
    for iter in 0..max_iter {
        n_iter = iter + 1;
        let mut sums = Sums { sums: Array2::zeros(centres.raw_dim()), counts: vec![0; centres.nrows()] };
        assign(x, centres.view(), &mut labels, Some(&mut sums));
        let updated = update(x, &labels, centres.view(), sums);
        let shift: f64 = updated
            .as_slice()
            .expect("internal: fresh array")
            .iter()
            .zip(centres.as_slice().expect("internal: standard layout"))
            .map(|(a, b)| (a - b).powi(2))
            .sum();
        centres = updated;
        if labels == labels_old {
            (strict, converged) = (true, true);
            break;
        }
        if shift <= tol {
            converged = true;
            break;
        }
        labels_old.copy_from_slice(&labels);
    }
    if !strict {
        // The last update moved the centres: relabel so labels match them.
        assign(x, centres.view(), &mut labels, None);
    }
    Lloyd { centres, labels, n_iter, converged }
}

/// Rows per block of [`assign`]: every block sums its rows per cluster on
/// its own, and the block sums are added in order, so this fixes the
/// rounding of the sums (1,024 since the sums were introduced; changing it
/// changes the last bits of the centres).
const ASSIGN_BLOCK: usize = 1024;

/// From this many centres on, a part's inner products come from faer's GEMM
/// ([`imprint_core::gemm::dots_seq`]): its packed
/// microkernel ran at 45 to 58 G multiply-adds per second on one core for
/// 24 to 50 centres (1,024 x 512 rows, AVX-512), the unpacked tiles of
/// [`imprint_core::gemm::dots_tiled_into`] at 35 to 36; at 20 centres both
/// ran at 37.
const WIDE_K: usize = 24;

/// Above this many dimensions the inner products come from faer's GEMM
/// whatever the number of centres: a tile of the unpacked kernel reads 9
/// rows at once (4 of the data, 5 centres), 36 KiB at 1,024 dimensions but
/// 72 KiB at 2,048, past the 48 KiB L1 cache, while faer's packing blocks
/// the summed dimension. k-means from the same centres, n = 6,000, k = 20:
/// at d = 1,024 tiles 0.082 to 0.090 s, GEMM 0.099 to 0.102 s; at d = 2,048
/// tiles 0.40 s, GEMM 0.29 s (`cargo xtask bench-peers`, "our init" rows).
const WIDE_DIM: usize = 1024;

/// Blocks whose partial sums [`assign`] holds at once: bounds its memory to
/// `GROUP x min(k, ASSIGN_BLOCK) x dim` f64, independently of the thread count.
const GROUP: usize = 8;

/// Every cluster's sum of rows and number of rows.
struct Sums {
    /// `k x dim`.
    sums: Array2<f64>,
    counts: Vec<usize>,
}

/// Labels every row of `x` with its nearest centre (ties to the lower index)
/// and, if `sums` is given, adds every row to its cluster's sum and count:
/// one pass over the data. Each block sums its rows in order, and block sums
/// are added in block order, so the result does not depend on the number of
/// threads.
fn assign(
    x: ArrayView2<'_, f32>,
    centres: ArrayView2<'_, f64>,
    labels: &mut [usize],
    mut sums: Option<&mut Sums>,
) {
    let (k, dim) = centres.dim();
    if dim == 0 {
        // Every centre is at distance 0: the first wins, and sums are empty.
        labels.fill(0);
        if let Some(Sums { counts, .. }) = sums {
            counts[0] += labels.len();
        }
        return;
    }
    let c = centres.mapv(|v| v as f32);
    let c_sq = sq_norms(c.view());
    let near = Nearest {
        centres: c.as_slice().expect("internal: fresh array"),
        c_sq: &c_sq,
        k,
        dim,
        arch: pulp::Arch::new(),
    };
    let x = x.as_standard_layout();
    let data = x.as_slice().expect("internal: standard layout");
    let with_sums = sums.is_some();
    for (group, group_labels) in
        data.chunks(GROUP * ASSIGN_BLOCK * dim).zip(labels.chunks_mut(GROUP * ASSIGN_BLOCK))
    {
        let blocks: Vec<(&[f32], &mut [usize])> =
            group.chunks(ASSIGN_BLOCK * dim).zip(group_labels.chunks_mut(ASSIGN_BLOCK)).collect();
        let results: Vec<ClusterSums> = blocks
            .into_par_iter()
            .map(|(block, labels)| {
                let sums = ClusterSums::new(k, if with_sums { labels.len().min(k) * dim } else { 0 });
                let sums = with_sums.then_some(Mutex::new(sums));
                near.parts(block, labels, sums.as_ref());
                sums.map_or_else(ClusterSums::default, |s| {
                    s.into_inner().expect("internal: no panic holds it")
                })
            })
            .collect();
        if let Some(Sums { sums, counts }) = sums.as_deref_mut() {
            // Cluster by cluster, on every thread: each cluster's block sums in block order.
            let sums = sums.as_slice_mut().expect("internal: fresh array");
            sums.par_chunks_mut(dim).zip(counts.par_iter_mut()).enumerate().for_each(|(l, (row, count))| {
                for block in &results {
                    if let Some((part, members)) = block.cluster(l, dim) {
                        row.iter_mut().zip(part).for_each(|(s, &p)| *s += p);
                        *count += members;
                    }
                }
            });
        }
    }
}

/// What labels rows: the centres in f32 and their squared norms.
struct Nearest<'a> {
    /// `k x dim`, row-major.
    centres: &'a [f32],
    c_sq: &'a [f64],
    k: usize,
    dim: usize,
    arch: pulp::Arch,
}

impl Nearest<'_> {
    /// Labels `rows` (`labels.len()` rows of a block, from one of its
    /// [`SUM_ROWS`] boundaries) and, with `sums`, adds them to their clusters'
    /// sums, [`SUM_ROWS`] at a time: a part's rows are summed right after they
    /// are labelled, while they are in the L2 cache.
    ///
    /// The parts are halved with `rayon::join_context`: unless another thread
    /// is idle, both halves run here in order, as one loop would. If an idle
    /// thread takes the second half, it only labels it, and its rows are
    /// summed here after the first half's, so every cluster still adds its
    /// rows in row order and the sums keep their bits; a block then needs no
    /// longer than its share of the time when a core stalls or the blocks do
    /// not divide evenly among the threads.
    fn parts(&self, rows: &[f32], labels: &mut [usize], sums: Option<&Mutex<ClusterSums>>) {
        let parts = labels.len().div_ceil(SUM_ROWS);
        if parts <= 1 {
            self.label(rows, labels);
            if let Some(sums) = sums {
                self.sum(rows, labels, &mut sums.lock().expect("internal: no panic holds it"));
            }
            return;
        }
        let half = parts / 2 * SUM_ROWS;
        let (rows_a, rows_b) = rows.split_at(half * self.dim);
        let (labels_a, labels_b) = labels.split_at_mut(half);
        let (_, moved) = rayon::join_context(
            |_| self.parts(rows_a, labels_a, sums),
            |context| {
                if context.migrated() {
                    self.parts(rows_b, labels_b, None);
                } else {
                    self.parts(rows_b, &mut *labels_b, sums);
                }
                context.migrated()
            },
        );
        if let Some(sums) = sums.filter(|_| moved) {
            let mut sums = sums.lock().expect("internal: no panic holds it");
            for (part, labels) in rows_b.chunks(SUM_ROWS * self.dim).zip(labels_b.chunks(SUM_ROWS)) {
                self.sum(part, labels, &mut sums);
            }
        }
    }

    /// Labels a part's rows: their inner products with the centres, centre
    /// by centre ([`imprint_core::gemm::dots_tiled_t_into`], which prefetches
    /// the rows ahead of its tiles; from [`WIDE_K`] centres or above
    /// [`WIDE_DIM`] dimensions, faer's GEMM, copied into that layout), then
    /// [`nearest`] on the CPU's vectors.
    fn label(&self, rows: &[f32], labels: &mut [usize]) {
        let (n, k, dim) = (labels.len(), self.k, self.dim);
        // `k x n`: centre j's products with the rows at `j * n..`.
        let mut dots = vec![0.0f32; n * k];
        if k >= WIDE_K || dim > WIDE_DIM {
            let rows = ArrayView2::from_shape((n, dim), rows).expect("internal: rows x dim");
            let centres = ArrayView2::from_shape((k, dim), self.centres).expect("internal: k x dim centres");
            let product = imprint_core::gemm::dots_seq(rows, centres).expect("internal: same dimension");
            ArrayViewMut2::from_shape((k, n), &mut dots)
                .expect("internal: k x n products")
                .assign(&product.t());
        } else {
            imprint_core::gemm::dots_tiled_t_into(rows, self.centres, dim, &mut dots);
        }
        self.arch.dispatch(Label { dots: &dots, c_sq: self.c_sq, labels });
    }

    /// Adds a labelled part's rows to their clusters' sums, on the CPU's vectors.
    fn sum(&self, rows: &[f32], labels: &[usize], sums: &mut ClusterSums) {
        self.arch.dispatch(Sum { rows, dim: self.dim, labels, sums });
    }
}

/// [`nearest`] through `pulp`, so that it compiles for the CPU's SIMD level.
struct Label<'a> {
    dots: &'a [f32],
    c_sq: &'a [f64],
    labels: &'a mut [usize],
}

impl pulp::WithSimd for Label<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        nearest(self.dots, self.c_sq, self.labels);
    }
}

/// [`ClusterSums::add`] through `pulp`, so that it compiles for the CPU's SIMD level.
struct Sum<'a> {
    rows: &'a [f32],
    dim: usize,
    labels: &'a [usize],
    sums: &'a mut ClusterSums,
}

impl pulp::WithSimd for Sum<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        self.sums.add(self.rows, self.dim, self.labels);
    }
}

/// Labels rows by their nearest centre from their inner products with the
/// centres (`dots`, `k x n`: centre `j`'s products with the `n` rows at
/// `j * n..`) and the centres' squared norms (`||x||^2`, the same for every
/// centre, is left out): for each row, [`argmin_first`](crate::util::argmin_first)
/// of `c_sq[j] - 2 dot[j]`. One centre at a time against every row, so the
/// rows fill the vector lanes, no comparison waits on the one before, and no
/// lane needs a branch.
#[inline(always)]
fn nearest(dots: &[f32], c_sq: &[f64], labels: &mut [usize]) {
    // From (0, infinity), strictly smaller values move, as in `argmin_first`.
    if labels.is_empty() {
        return;
    }
    let mut best = vec![f64::INFINITY; labels.len()];
    labels.fill(0);
    for (j, (products, &s)) in dots.chunks_exact(labels.len()).zip(c_sq).enumerate() {
        for ((best, label), &dot) in best.iter_mut().zip(labels.iter_mut()).zip(products) {
            let v = s - 2.0 * f64::from(dot);
            let less = v < *best;
            *best = if less { v } else { *best };
            *label = if less { j } else { *label };
        }
    }
}

/// Rows whose labels [`Nearest::parts`] finds before it adds them to the sums,
/// cluster by cluster: the rows (512 KiB at 512 dimensions) are still in the
/// L2 cache, and a cluster's sum stays in registers while its rows are added
/// (adding each row as it is labelled read and wrote one of up to `k` sums of
/// 4 KiB each, more than the L1 cache holds at 20 centres).
const SUM_ROWS: usize = 256;

/// Columns of a cluster's sum kept in registers while its rows are added
/// (8 vectors of AVX-512).
const SUM_LANES: usize = 64;

/// The per-cluster sums of one block: a slot per cluster present, in the
/// order they first appear; every row is added to its slot in row order.
#[derive(Default)]
struct ClusterSums {
    /// `slot[c]`: where cluster `c` sums, or `usize::MAX`.
    slot: Vec<usize>,
    /// The clusters present, in slot order.
    present: Vec<usize>,
    /// `dim` f64 per slot.
    partial: Vec<f64>,
    /// Rows per slot.
    members: Vec<usize>,
    /// Scratch: the rows of `part`, grouped by slot (in row order within each).
    order: Vec<usize>,
    /// Scratch: where each slot's rows start in `order`.
    starts: Vec<usize>,
    /// Scratch: where each slot's next row goes in `order`.
    next: Vec<usize>,
}

impl ClusterSums {
    /// No cluster yet, out of `k`, with room for `capacity` sums.
    fn new(k: usize, capacity: usize) -> Self {
        Self { slot: vec![usize::MAX; k], partial: Vec::with_capacity(capacity), ..Self::default() }
    }

    /// Cluster `l`'s sum and number of rows, if it has any.
    fn cluster(&self, l: usize, dim: usize) -> Option<(&[f64], usize)> {
        let s = *self.slot.get(l)?;
        (s != usize::MAX).then(|| (&self.partial[s * dim..(s + 1) * dim], self.members[s]))
    }

    /// Adds the rows of `part` (`labels.len()` rows of `dim`) to their clusters' sums.
    #[inline(always)]
    fn add(&mut self, part: &[f32], dim: usize, labels: &[usize]) {
        for &l in labels {
            if self.slot[l] == usize::MAX {
                self.slot[l] = self.present.len();
                self.present.push(l);
                self.partial.resize(self.partial.len() + dim, 0.0f64);
                self.members.push(0);
            }
        }
        // A counting sort of the rows by slot, stable.
        let slots = self.present.len();
        self.starts.clear();
        self.starts.resize(slots + 1, 0);
        for &l in labels {
            self.starts[self.slot[l] + 1] += 1;
        }
        for s in 0..slots {
            self.starts[s + 1] += self.starts[s];
        }
        self.order.resize(labels.len(), 0);
        self.next.clone_from(&self.starts);
        for (r, &l) in labels.iter().enumerate() {
            let s = self.slot[l];
            self.order[self.next[s]] = r;
            self.next[s] += 1;
        }
        for (s, acc) in self.partial.chunks_exact_mut(dim).enumerate() {
            let members = &self.order[self.starts[s]..self.starts[s + 1]];
            if members.is_empty() {
                continue;
            }
            self.members[s] += members.len();
            let (wide, tail) = acc.as_chunks_mut::<SUM_LANES>();
            for (c, acc) in wide.iter_mut().enumerate() {
                let mut sum = *acc;
                for &r in members {
                    let row = &part[r * dim + c * SUM_LANES..r * dim + (c + 1) * SUM_LANES];
                    for (a, &v) in sum.iter_mut().zip(row) {
                        *a += f64::from(v);
                    }
                }
                *acc = sum;
            }
            let done = wide.len() * SUM_LANES;
            for &r in members {
                let row = &part[r * dim + done..(r + 1) * dim];
                for (a, &v) in tail.iter_mut().zip(row) {
                    *a += f64::from(v);
                }
            }
        }
    }
}

/// The means of the clusters given by `labels` from their `sums` and counts, with empty
/// clusters re-seeded (see [`relocate_empty`]).
fn update(x: ArrayView2<'_, f32>, labels: &[usize], old: ArrayView2<'_, f64>, sums: Sums) -> Array2<f64> {
    let Sums { sums: mut centres, mut counts } = sums;
    relocate_empty(x, labels, old, &mut centres, &mut counts);
    for (mut row, &count) in centres.outer_iter_mut().zip(&counts) {
        if count > 0 {
            row /= count as f64;
        }
    }
    centres
}

/// scikit-learn's `_relocate_empty_clusters_dense`: each empty cluster takes
/// one of the samples farthest from their (old) centre, farthest first (ties to
/// the lower index); the sample leaves its cluster's sum. Labels are not
/// changed. `centres` holds sums, not yet means.
fn relocate_empty(
    x: ArrayView2<'_, f32>,
    labels: &[usize],
    old: ArrayView2<'_, f64>,
    centres: &mut Array2<f64>,
    counts: &mut [usize],
) {
    let empty: Vec<usize> = (0..counts.len()).filter(|&j| counts[j] == 0).collect();
    if empty.is_empty() {
        return;
    }
    let dist: Vec<f64> = (0..x.nrows())
        .into_par_iter()
        .map(|i| x.row(i).iter().zip(old.row(labels[i])).map(|(&v, &c)| (f64::from(v) - c).powi(2)).sum())
        .collect();
    let mut order: Vec<usize> = (0..x.nrows()).collect();
    order.sort_by(|&a, &b| dist[b].total_cmp(&dist[a]).then(a.cmp(&b)));
    for (&new, &far) in empty.iter().zip(&order) {
        let from = labels[far];
        let point = x.row(far).mapv(f64::from);
        let mut row = centres.row_mut(from);
        row -= &point;
        centres.row_mut(new).assign(&point);
        counts[new] = 1;
        // If this empties `from`, its centre stays at the leftover sum (about
        // zero, the data mean), as in scikit-learn.
        counts[from] -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::argmin_first;

    /// Whatever the threads and whichever halves of a block idle threads
    /// take (3 blocks for up to 6 threads, so they take many), the fit is the
    /// same to the bit.
    #[test]
    fn halves_taken_by_idle_threads_keep_the_bits() {
        let (n, dim, k) = (2 * ASSIGN_BLOCK + 3 * SUM_ROWS - 5, 96, 5);
        let x = Array2::from_shape_fn((n, dim), |(i, j)| {
            let h = ((i * dim + j) as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            ((h >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0 + (i % k) as f32 * 0.1
        });
        let start = x.slice(ndarray::s![..k, ..]).mapv(f64::from);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| lloyd(x.view(), start.clone(), 30, 0.0))
        };
        let one = run(1);
        assert!(one.n_iter > 2, "the fit should take a few iterations");
        for threads in [2, 3, 6] {
            for _ in 0..10 {
                let other = run(threads);
                assert_eq!(other.labels, one.labels, "{threads} threads");
                assert_eq!(other.n_iter, one.n_iter, "{threads} threads");
                assert!(
                    other.centres.iter().zip(&one.centres).all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{threads} threads"
                );
            }
        }
    }

    /// Rows label as `argmin_first` does: ties, NaN,
    /// infinities, signed zeros, any number of centres and of rows.
    #[test]
    fn nearest_equals_argmin_first() {
        let pool = [0.0f32, -0.0, 1.0, -1.0, 2.5, f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1e30, 3.0];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut draw = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for k in 1..=13 {
            for rows in [1, 7, 8, 29] {
                for _ in 0..200 {
                    let dots: Vec<f32> = (0..rows * k).map(|_| pool[draw(pool.len())]).collect();
                    let c_sq: Vec<f64> =
                        (0..k).map(|_| [0.0, 1.0, 4.0, 1e60, f64::INFINITY][draw(5)]).collect();
                    // The same products a centre at a time, as `nearest` takes them.
                    let by_centre: Vec<f32> =
                        (0..k * rows).map(|t| dots[(t % rows) * k + t / rows]).collect();
                    let mut labels = vec![usize::MAX; rows];
                    nearest(&by_centre, &c_sq, &mut labels);
                    for (r, &label) in labels.iter().enumerate() {
                        let row = &dots[r * k..(r + 1) * k];
                        let want =
                            argmin_first(row.iter().zip(&c_sq).map(|(&dot, &s)| s - 2.0 * f64::from(dot)));
                        assert_eq!(label, want, "row {row:?} c_sq {c_sq:?}");
                    }
                }
            }
        }
    }

    /// Cluster by cluster, in parts, equals adding each row to its
    /// cluster's sum as it comes, bit for bit (dimensions around
    /// [`SUM_LANES`], clusters in any order, some absent).
    #[test]
    fn cluster_sums_equal_row_by_row_sums() {
        for dim in [1, 63, 64, 65, 130, 512] {
            let (rows, k) = (700, 9);
            let data: Vec<f32> = (0..rows * dim)
                .map(|i| ((i * 7919 % 1009) as f32 - 504.0) * 1.37e-3 + 1.0 / (1 + i % 13) as f32)
                .collect();
            let labels: Vec<usize> =
                (0..rows).map(|r| (r * r + 3 * r) % 7 + usize::from(r % 5 == 0)).collect();
            let mut sums = ClusterSums::new(k, 0);
            for (p, part) in data.chunks(SUM_ROWS * dim).enumerate() {
                sums.add(part, dim, &labels[p * SUM_ROWS..p * SUM_ROWS + part.len() / dim]);
            }
            let mut want = vec![vec![0.0f64; dim]; k];
            let mut order = Vec::new();
            for (row, &l) in data.chunks_exact(dim).zip(&labels) {
                if !order.contains(&l) {
                    order.push(l);
                }
                want[l].iter_mut().zip(row).for_each(|(a, &v)| *a += f64::from(v));
            }
            assert_eq!(sums.present, order, "dim {dim}");
            for (l, want) in want.iter().enumerate() {
                let members = labels.iter().filter(|&&m| m == l).count();
                match sums.cluster(l, dim) {
                    Some((got, count)) => {
                        assert!(
                            got.iter().zip(want).all(|(g, w)| g.to_bits() == w.to_bits()),
                            "dim {dim} cluster {l}"
                        );
                        assert_eq!(count, members, "dim {dim} cluster {l}");
                    }
                    None => assert_eq!(members, 0, "dim {dim} cluster {l}"),
                }
            }
        }
    }
}
