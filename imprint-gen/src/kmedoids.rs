//! `kmedoids(k)`: k medoids with scikit-learn-extra semantics.

use imprint_core::{ImprintError, ProxyGenerator, Result, RngCore, Shots};
use ndarray::{Array1, Array2, ArrayView2};

use crate::util::{
    argmin_first, check_k, gather, map_row_blocks, mean_f64, required_k, sq_dist_from_dot, sq_norms,
};

/// Unchecked settings of [`KMedoids`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KMedoidsParams {
    k: usize,
    max_iter: usize,
}

impl KMedoidsParams {
    /// Default maximum number of iterations (scikit-learn-extra's `max_iter`).
    pub const DEFAULT_MAX_ITER: usize = 300;

    /// `k` medoids with scikit-learn-extra's defaults: Euclidean distance,
    /// method "alternate", init "heuristic", `max_iter` = [`Self::DEFAULT_MAX_ITER`] (300).
    pub fn new(k: usize) -> Self {
        Self { k, max_iter: Self::DEFAULT_MAX_ITER }
    }

    /// Sets the maximum number of iterations (at least 1).
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Validates the settings.
    pub fn check(&self) -> Result<KMedoids> {
        check_k(self.k, "kmedoids")?;
        if self.max_iter == 0 {
            return Err(ImprintError::invalid("max_iter", 0, "k-medoids needs at least one iteration"));
        }
        Ok(KMedoids { k: self.k, max_iter: self.max_iter })
    }
}

/// The k-medoids proxy generator (reference method `kmedoids`): its proxies
/// are actual samples.
///
/// 1. Init "heuristic": the `k` samples with the smallest summed distance to
///    all samples, in increasing order of that sum (ties to the lower index).
///    Deterministic: no randomness is used.
/// 2. "Alternate" iterations: label every sample with its nearest medoid (ties
///    to the lower index); in every non-empty cluster, make the member with the
///    smallest summed distance to the other members the medoid if that sum is
///    strictly smaller than the current medoid's. Stop when no medoid changes.
///
/// Distances are `sqrt(max(0, ||x||^2 - 2 x.y + ||y||^2))` on the data centred
/// by its mean, with the inner products from a faer GEMM, block by block: the
/// sums are accumulated without ever holding an `n x n` matrix (memory
/// `O(256 n)`), at the cost of recomputing in-cluster distances each iteration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KMedoids {
    k: usize,
    max_iter: usize,
}

/// The result of [`KMedoids::fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct KMedoidsFit {
    medoid_indices: Vec<usize>,
    medoids: Array2<f32>,
    labels: Vec<usize>,
    inertia: f64,
    n_iter: usize,
    converged: bool,
}

impl KMedoidsFit {
    /// The indices of the medoids among the samples.
    pub fn medoid_indices(&self) -> &[usize] {
        &self.medoid_indices
    }

    /// The medoids (copies of samples), one per row.
    pub fn medoids(&self) -> ArrayView2<'_, f32> {
        self.medoids.view()
    }

    /// Consumes the fit and returns the medoids.
    pub fn into_medoids(self) -> Array2<f32> {
        self.medoids
    }

    /// The cluster (nearest medoid, `0..k`) of every sample.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// Sum of the (unsquared) distances of the samples to their medoid, as
    /// scikit-learn-extra's `inertia_`.
    pub fn inertia(&self) -> f64 {
        self.inertia
    }

    /// Number of iterations run.
    pub fn n_iter(&self) -> usize {
        self.n_iter
    }

    /// Whether the medoids stopped changing before `max_iter`.
    pub fn converged(&self) -> bool {
        self.converged
    }
}

impl KMedoids {
    /// The number of medoids.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The maximum number of iterations.
    pub fn max_iter(&self) -> usize {
        self.max_iter
    }

    /// Finds `k` medoids of `shots`. Deterministic, and the same for any
    /// number of rayon threads.
    ///
    /// # Errors
    /// [`ImprintError::InvalidParameter`] if `k` exceeds the number of samples.
    pub fn fit(&self, shots: Shots<'_>) -> Result<KMedoidsFit> {
        let (n, k) = (shots.n_shots(), self.k);
        if k > n {
            return Err(ImprintError::invalid(
                "k",
                k,
                format!("k-medoids cannot choose {k} medoids from n = {n} samples"),
            ));
        }
        let x = shots.view();
        // Centring keeps distances but makes the GEMM form lose less precision.
        let mean = mean_f64(x);
        let xc = Array2::from_shape_fn(x.raw_dim(), |(i, j)| (f64::from(x[[i, j]]) - mean[j]) as f32);
        let sq = sq_norms(xc.view());

        let all: Vec<usize> = (0..n).collect();
        let totals = distance_sums(xc.view(), &sq, &all);
        let mut order = all;
        order.sort_by(|&a, &b| totals[a].total_cmp(&totals[b]).then(a.cmp(&b)));
        let mut medoids = order[..k].to_vec();

        // Each cluster's last members and their costs, reused while the
        // members stay the same (the same sums bit for bit). A cluster of every
        // sample (k = 1) starts with `totals`; the others with no members,
        // which no cluster that is not empty matches.
        let mut known: Vec<(Vec<usize>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); k];
        known[0] = ((0..n).collect(), totals);
        let (mut n_iter, mut converged) = (0, false);
        for iter in 0..self.max_iter {
            n_iter = iter + 1;
            let old = medoids.clone();
            let labels = nearest(xc.view(), &sq, &medoids).0;
            let mut members: Vec<Vec<usize>> = vec![Vec::new(); k];
            for (i, &l) in labels.iter().enumerate() {
                members[l].push(i);
            }
            for ((medoid, members), known) in medoids.iter_mut().zip(members).zip(&mut known) {
                if members.is_empty() {
                    continue;
                }
                if known.0 != members {
                    let costs = distance_sums(xc.view(), &sq, &members);
                    *known = (members, costs);
                }
                let (members, costs) = (&known.0, &known.1);
                let best = argmin_first(costs.iter().copied());
                // scikit-learn-extra compares with the first member's cost when
                // the medoid is not in its own cluster (a tie with another medoid).
                let current = members.iter().position(|&i| i == *medoid).unwrap_or(0);
                if costs[best] < costs[current] {
                    *medoid = members[best];
                }
            }
            if medoids == old {
                converged = true;
                break;
            }
        }
        // As scikit-learn-extra: the final labels are those of the final medoids.
        let (labels, dists) = nearest(xc.view(), &sq, &medoids);
        Ok(KMedoidsFit {
            medoids: gather(x, &medoids),
            medoid_indices: medoids,
            labels,
            inertia: dists.sum(),
            n_iter,
            converged,
        })
    }
}

/// For each sample of `x` (centred, squared norms `sq`), the index in `medoids`
/// of its nearest medoid (ties to the lower index) and the distance to it. A
/// medoid is at distance exactly 0 from itself.
fn nearest(x: ArrayView2<'_, f32>, sq: &[f64], medoids: &[usize]) -> (Vec<usize>, Array1<f64>) {
    let c = gather(x, medoids);
    let blocks = map_row_blocks(x, c.view(), |start, dots| {
        dots.outer_iter()
            .enumerate()
            .map(|(r, row)| {
                let i = start + r;
                let d = medoids
                    .iter()
                    .zip(row)
                    .map(|(&m, &dot)| if m == i { 0.0 } else { sq_dist_from_dot(sq[i], sq[m], dot).sqrt() });
                let d: Vec<f64> = d.collect();
                let j = argmin_first(d.iter().copied());
                (j, d[j])
            })
            .collect::<Vec<_>>()
    });
    let (labels, dists): (Vec<usize>, Vec<f64>) = blocks.into_iter().flatten().unzip();
    (labels, Array1::from_vec(dists))
}

/// For each sample `rows[a]`, the sum of its distances to every sample in
/// `rows`, computed by blocks of rows (never the full matrix). Each sum adds
/// the distances in order (`rows[0]` first), as a plain `Iterator::sum`.
fn distance_sums(x: ArrayView2<'_, f32>, sq: &[f64], rows: &[usize]) -> Vec<f64> {
    let m = rows.len();
    let sub = gather(x, rows);
    let sq_rows: Vec<f64> = rows.iter().map(|&r| sq[r]).collect();
    let arch = pulp::Arch::new();
    let blocks = map_row_blocks(sub.view(), sub.view(), |start, dots| {
        let dots = dots.as_slice().expect("internal: fresh array");
        let mut sums = Vec::with_capacity(dots.len() / m);
        let mut distances = vec![0.0f64; SUM_ROWS * m];
        for (g, group) in dots.chunks(SUM_ROWS * m).enumerate() {
            let first = start + g * SUM_ROWS;
            let distances = &mut distances[..group.len()];
            for (r, (dots, out)) in group.chunks_exact(m).zip(distances.chunks_exact_mut(m)).enumerate() {
                arch.dispatch(Distances { sq_a: sq_rows[first + r], sq: &sq_rows, dots, out });
                out[first + r] = 0.0;
            }
            sums.extend(sums_in_order(distances, m));
        }
        sums
    });
    blocks.into_iter().flatten().collect()
}

/// Rows whose distance sums [`sums_in_order`] runs side by side: a sum is a
/// chain of dependent additions, and several chains keep the adder busy.
const SUM_ROWS: usize = 8;

/// The sum of each row of `distances` (rows of `m`, at most [`SUM_ROWS`]),
/// from -0.0 and in column order like `Iterator::sum`, the rows interleaved.
fn sums_in_order(distances: &[f64], m: usize) -> Vec<f64> {
    let rows = distances.len() / m;
    let mut acc = [-0.0f64; SUM_ROWS];
    for b in 0..m {
        for (r, acc) in acc[..rows].iter_mut().enumerate() {
            *acc += distances[r * m + b];
        }
    }
    acc[..rows].to_vec()
}

/// `out[b] = sqrt(sq_dist_from_dot(sq_a, sq[b], dots[b]))`, compiled for the
/// CPU's vector width through `pulp` (the same arithmetic in every lane: no
/// fused operations, a correctly rounded square root).
struct Distances<'a> {
    sq_a: f64,
    sq: &'a [f64],
    dots: &'a [f32],
    out: &'a mut [f64],
}

impl pulp::WithSimd for Distances<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let Distances { sq_a, sq, dots, out } = self;
        for ((o, &s), &d) in out.iter_mut().zip(sq).zip(dots) {
            *o = sq_dist_from_dot(sq_a, s, d).sqrt();
        }
    }
}

impl ProxyGenerator for KMedoids {
    fn name(&self) -> &str {
        "kmedoids"
    }

    fn n_proxies(&self) -> Option<usize> {
        Some(self.k)
    }

    fn propose(&self, shots: Shots<'_>, _rng: &mut dyn RngCore) -> Result<Array2<f32>> {
        Ok(self.fit(shots)?.into_medoids())
    }
}

/// Registry constructor.
pub(crate) fn from_config(k: Option<usize>) -> Result<Box<dyn ProxyGenerator>> {
    Ok(Box::new(KMedoidsParams::new(required_k(k, "kmedoids")?).check()?))
}

#[cfg(test)]
mod tests {
    use imprint_core::GenerateExt;
    use ndarray::array;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::util::testing::blobs;

    /// scikit-learn-extra's `KMedoids.fit` (alternate, heuristic) written out
    /// with the full distance matrix in f64.
    fn reference(x: &Array2<f32>, k: usize, max_iter: usize) -> (Vec<usize>, Vec<usize>) {
        let n = x.nrows();
        let d = Array2::from_shape_fn((n, n), |(i, j)| {
            x.row(i)
                .iter()
                .zip(x.row(j))
                .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                .sum::<f64>()
                .sqrt()
        });
        let sums: Vec<f64> = d.outer_iter().map(|r| r.sum()).collect();
        let mut medoids: Vec<usize> = (0..n).collect();
        medoids.sort_by(|&a, &b| sums[a].total_cmp(&sums[b]).then(a.cmp(&b)));
        medoids.truncate(k);
        let label = |m: &[usize]| -> Vec<usize> {
            (0..n).map(|i| (0..k).fold(0, |b, j| if d[[m[j], i]] < d[[m[b], i]] { j } else { b })).collect()
        };
        for _ in 0..max_iter {
            let old = medoids.clone();
            let labels = label(&medoids);
            for (c, medoid) in medoids.iter_mut().enumerate() {
                let idx: Vec<usize> = (0..n).filter(|&i| labels[i] == c).collect();
                if idx.is_empty() {
                    continue;
                }
                let costs: Vec<f64> = idx.iter().map(|&a| idx.iter().map(|&b| d[[a, b]]).sum()).collect();
                let best = (0..idx.len()).fold(0, |b, t| if costs[t] < costs[b] { t } else { b });
                let cur = idx.iter().position(|&i| i == *medoid).unwrap_or(0);
                if costs[best] < costs[cur] {
                    *medoid = idx[best];
                }
            }
            if medoids == old {
                break;
            }
        }
        let labels = label(&medoids);
        (medoids, labels)
    }

    /// The vectorized distance sums equal the scalar formula summed in order,
    /// bit for bit: subsets of every size around the interleaving and the
    /// GEMM blocks, rows out of order.
    #[test]
    fn distance_sums_equal_the_scalar_sums() {
        let x = blobs(3, 6, 50, 37, 2.0);
        let sq = sq_norms(x.view());
        for len in [1, 2, 7, 8, 9, 17, 255, 256, 257, 300] {
            let rows: Vec<usize> = (0..len).map(|i| (i * 7 + len) % x.nrows()).collect();
            let got = distance_sums(x.view(), &sq, &rows);
            let sub = gather(x.view(), &rows);
            // The inner products from the same blocks of the same GEMM.
            let dots: Vec<Vec<f32>> = map_row_blocks(sub.view(), sub.view(), |_, d| {
                d.outer_iter().map(|r| r.to_vec()).collect::<Vec<_>>()
            })
            .into_iter()
            .flatten()
            .collect();
            for (a, &sum) in got.iter().enumerate() {
                let want: f64 = (0..len)
                    .map(|b| {
                        if a == b {
                            0.0
                        } else {
                            sq_dist_from_dot(sq[rows[a]], sq[rows[b]], dots[a][b]).sqrt()
                        }
                    })
                    .sum();
                assert_eq!(sum.to_bits(), want.to_bits(), "{len} rows, row {a}");
            }
        }
    }

    #[test]
    fn matches_the_brute_force_reference() {
        for seed in 0..8 {
            for (k, spread) in [(1, 2.0), (2, 3.0), (3, 1.0), (5, 4.0)] {
                let x = blobs(seed, 3, 7, 3, spread);
                let g = KMedoidsParams::new(k).check().unwrap();
                let fit = g.fit(Shots::new(x.view(), "x").unwrap()).unwrap();
                let (medoids, labels) = reference(&x, k, KMedoidsParams::DEFAULT_MAX_ITER);
                assert_eq!(fit.medoid_indices(), &medoids[..], "seed {seed}, k {k}");
                assert_eq!(fit.labels(), &labels[..], "seed {seed}, k {k}");
                assert!(fit.converged());
                assert_eq!(fit.medoids(), gather(x.view(), &medoids));
            }
        }
    }

    #[test]
    fn heuristic_init_on_a_line() {
        // On a line the most central points have the smallest distance sums.
        let x = array![[0.0f32], [1.0], [2.0], [3.0], [10.0]];
        let fit = KMedoidsParams::new(1).check().unwrap().fit(Shots::new(x.view(), "x").unwrap()).unwrap();
        assert_eq!(fit.medoid_indices(), &[2]);
        // The GEMM form is exact to f32 rounding of the centred data.
        assert!((fit.inertia() - 12.0).abs() < 1e-5, "{}", fit.inertia());
        let out =
            KMedoidsParams::new(2).check().unwrap().generate(x.view(), &mut ChaCha8Rng::seed_from_u64(0));
        assert_eq!(out.unwrap().nrows(), 2);
    }

    #[test]
    fn errors() {
        assert!(matches!(
            KMedoidsParams::new(0).check(),
            Err(ImprintError::InvalidParameter { name: "k", .. })
        ));
        assert!(matches!(
            KMedoidsParams::new(2).max_iter(0).check(),
            Err(ImprintError::InvalidParameter { name: "max_iter", .. })
        ));
        let x = array![[1.0f32, 2.0]];
        let err =
            KMedoidsParams::new(2).check().unwrap().fit(Shots::new(x.view(), "x").unwrap()).unwrap_err();
        assert!(matches!(err, ImprintError::InvalidParameter { name: "k", .. }));
    }
}
