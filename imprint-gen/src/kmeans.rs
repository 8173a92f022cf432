//! `kmeans(k)`: k-means centroids with scikit-learn semantics.

use imprint_core::reference_rng::RandomState;
use imprint_core::{ImprintError, ProxyGenerator, Result, RngCore, Shots};
use ndarray::{Array2, ArrayView2, Axis};
use rand::Rng;
use rayon::prelude::*;

use crate::lloyd::lloyd;
use crate::mean::class_mean;
use crate::util::{
    BLOCK, Centred, argmin_first, centre, check_k, gather, map_row_blocks, required_k, sq_dist,
    sq_dist_from_dot,
};

/// Unchecked k-means settings; [`KMeansParams::check`] turns them into a [`KMeans`].
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansParams {
    k: usize,
    max_iter: usize,
    tol: f64,
    n_local_trials: Option<usize>,
    random_state: Option<(u64, SklearnInput)>,
}

/// The dtype scikit-learn's `KMeans` computes in, which sets the weights of
/// its first k-means++ draw (`choice(n, p=w / w.sum())` with `w` of that
/// dtype). The reference's GEN passes a torch tensor, which scikit-learn
/// converts to float64; its k-least-squares passes a float32 numpy array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SklearnInput {
    /// A float32 array (the reference's `kls`).
    Float32,
    /// Float64, e.g. a torch tensor (the reference's `kmeans` GEN).
    Float64,
}

impl KMeansParams {
    /// Default maximum number of Lloyd iterations (scikit-learn's `max_iter`).
    pub const DEFAULT_MAX_ITER: usize = 300;
    /// Default relative tolerance on the centroid shift (scikit-learn's `tol`).
    pub const DEFAULT_TOL: f64 = 1e-4;
    /// Largest number of k-means++ candidates per centre (every candidate
    /// costs a pass over the data; scikit-learn's default for k = 1,000 is 8).
    pub const MAX_LOCAL_TRIALS: usize = 1024;

    /// k-means with `k` clusters and scikit-learn's defaults:
    /// - `max_iter` = [`Self::DEFAULT_MAX_ITER`] (300) Lloyd iterations;
    /// - `tol` = [`Self::DEFAULT_TOL`] (1e-4), relative to the mean per-feature variance;
    /// - `n_local_trials` = `2 + floor(ln k)` k-means++ candidates per centre.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            max_iter: Self::DEFAULT_MAX_ITER,
            tol: Self::DEFAULT_TOL,
            n_local_trials: None,
            random_state: None,
        }
    }

    /// Draws k-means++ as scikit-learn's `KMeans(random_state=seed)` does on
    /// `input` data (the reference's RNG mode): every fit starts a fresh
    /// NumPy `RandomState(seed)`, takes its first centre with
    /// `choice(n, p=w / w.sum())` (unit weights of `input`'s dtype) and its
    /// candidates from `uniform()`; the RNG passed to [`KMeans::fit`] is not
    /// used. `seed` must be below `2^32`, as numpy requires.
    pub fn random_state(mut self, seed: u64, input: SklearnInput) -> Self {
        self.random_state = Some((seed, input));
        self
    }

    /// Sets the maximum number of Lloyd iterations (at least 1).
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Sets the relative tolerance on the summed squared centroid shift
    /// (finite, at least 0; 0 stops only when the labels no longer change).
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    /// Sets the number of k-means++ candidates per centre (1 to
    /// [`Self::MAX_LOCAL_TRIALS`]).
    pub fn n_local_trials(mut self, n_local_trials: usize) -> Self {
        self.n_local_trials = Some(n_local_trials);
        self
    }

    /// Validates the settings.
    pub fn check(&self) -> Result<KMeans> {
        check_k(self.k, "kmeans")?;
        if self.max_iter == 0 {
            return Err(ImprintError::invalid("max_iter", 0, "k-means needs at least one iteration"));
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(ImprintError::invalid("tol", self.tol, "must be finite and at least 0"));
        }
        let n_local_trials = match self.n_local_trials {
            Some(0) => return Err(ImprintError::invalid("n_local_trials", 0, "k-means++ needs a candidate")),
            Some(t) if t > Self::MAX_LOCAL_TRIALS => {
                return Err(ImprintError::invalid(
                    "n_local_trials",
                    t,
                    format!("at most {} k-means++ candidates per centre", Self::MAX_LOCAL_TRIALS),
                ));
            }
            Some(t) => t,
            // scikit-learn: 2 + int(np.log(n_clusters)).
            None => 2 + (self.k as f64).ln().floor() as usize,
        };
        let random_state = match self.random_state {
            Some((seed, input)) => Some((RandomState::from_seed(seed).map(|_| seed as u32)?, input)),
            None => None,
        };
        Ok(KMeans { k: self.k, max_iter: self.max_iter, tol: self.tol, n_local_trials, random_state })
    }
}

/// The k-means proxy generator (reference method `kmeans`), built by
/// [`KMeansParams::check`].
///
/// 1. The data are centred by their mean (scikit-learn does this for dense
///    input; distances are unchanged but GEMM-based distances lose less
///    precision), and the centroids are shifted back at the end.
/// 2. Greedy k-means++: the first centre is a uniformly random sample; each
///    further centre is the best of `2 + floor(ln k)` candidates drawn with
///    probability proportional to the squared distance to the closest centre
///    so far, "best" meaning the smallest total potential
///    `sum_i min_c ||x_i - c||^2` once it is added.
/// 3. Lloyd iterations: assign every sample to its nearest centroid (ties to
///    the lower index), move every centroid to the mean of its samples, and
///    re-seed an empty cluster with the sample farthest from its centroid.
///    Stop when the labels no longer change, or when the summed squared
///    centroid shift is at most `tol * mean_f Var(x_f)`, or after `max_iter`
///    iterations (reported by [`KMeansFit::converged`], not as an error).
///
/// Distances are `||x||^2 - 2 x.c + ||c||^2`, block by block of rows; the
/// Lloyd iterations take the inner products from an unpacked register-tiled
/// kernel ([`imprint_core::gemm::dots_tiled_t_into`]) fused with the labels and
/// the cluster sums, which are accumulated in f64.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeans {
    k: usize,
    max_iter: usize,
    tol: f64,
    n_local_trials: usize,
    random_state: Option<(u32, SklearnInput)>,
}

/// The result of [`KMeans::fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansFit {
    centroids: Array2<f32>,
    init: Vec<usize>,
    init_ties: usize,
    labels: Vec<usize>,
    inertia: f64,
    n_iter: usize,
    converged: bool,
}

impl KMeansFit {
    /// The `k` centroids, one per row, in the coordinates of the input.
    pub fn centroids(&self) -> ArrayView2<'_, f32> {
        self.centroids.view()
    }

    /// Consumes the fit and returns the centroids.
    pub fn into_centroids(self) -> Array2<f32> {
        self.centroids
    }

    /// The samples chosen as initial centres by k-means++, in the order chosen
    /// (empty for `k = 1`, which needs no initialization). Starting another
    /// Lloyd implementation from these rows gives an iteration-matched comparison.
    pub fn init(&self) -> &[usize] {
        &self.init
    }

    /// How many k-means++ choices were ties in exact arithmetic: the best
    /// candidate's potential was within 1e-12 (relative) of a different
    /// candidate's, so rounding decided. They occur with very few samples
    /// (two far-off samples closest to each other give the same potential);
    /// scikit-learn breaks them by its BLAS's rounding, which is not
    /// reproducible, so a reference-mode fit may pick the other one.
    pub fn init_ties(&self) -> usize {
        self.init_ties
    }

    /// The cluster of every sample (`0..k`), its nearest centroid.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// Sum of squared distances of the samples to their centroid (computed in
    /// f64 from the returned centroids).
    pub fn inertia(&self) -> f64 {
        self.inertia
    }

    /// Number of Lloyd iterations run (0 for `k = 1`, solved in closed form).
    pub fn n_iter(&self) -> usize {
        self.n_iter
    }

    /// Whether the iterations stopped by a convergence criterion rather than
    /// by reaching `max_iter`.
    pub fn converged(&self) -> bool {
        self.converged
    }
}

impl KMeans {
    /// The number of clusters.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The maximum number of Lloyd iterations.
    pub fn max_iter(&self) -> usize {
        self.max_iter
    }

    /// The relative tolerance on the centroid shift.
    pub fn tol(&self) -> f64 {
        self.tol
    }

    /// The number of k-means++ candidates per centre.
    pub fn n_local_trials(&self) -> usize {
        self.n_local_trials
    }

    /// The seed of scikit-learn's `random_state` and the input dtype, if
    /// k-means++ draws like it (see [`KMeansParams::random_state`]).
    pub fn random_state(&self) -> Option<(u32, SklearnInput)> {
        self.random_state
    }

    /// Clusters `shots` into `k` clusters. All randomness (the k-means++
    /// initialization) comes from `rng`, or from a fresh NumPy
    /// `RandomState` when [`KMeansParams::random_state`] is set; the result is
    /// the same for any number of rayon threads.
    ///
    /// `k = 1` is solved in closed form: the centroid is the mean accumulated
    /// in f64, and `rng` is not used.
    ///
    /// # Errors
    /// [`ImprintError::InvalidParameter`] if `k` exceeds the number of samples.
    pub fn fit(&self, shots: Shots<'_>, rng: &mut dyn RngCore) -> Result<KMeansFit> {
        let Some(xc) = self.prepare(shots)? else { return self.closed_form(shots) };
        let mut draws = match self.random_state {
            None => Draws::Portable(rng),
            Some((seed, input)) => Draws::Sklearn(Box::new(RandomState::new(seed)), input),
        };
        let (init, init_ties) =
            kmeans_plusplus(xc.data.view(), &xc.sq, self.k, self.n_local_trials, &mut draws);
        Ok(self.lloyd_from(shots, &xc, init, init_ties))
    }

    /// Lloyd's iterations from the samples `init` (indices into `shots`, one
    /// per cluster) as the initial centres, without k-means++: scikit-learn's
    /// `KMeans(init=X[init], n_init=1)`. With the [`KMeansFit::init`] of a
    /// [`KMeans::fit`] it repeats that fit's iterations exactly (the same
    /// centroids, labels and iterations), so it times Lloyd's part alone.
    ///
    /// `k = 1` is solved in closed form, as by [`KMeans::fit`] (`init` may be
    /// empty then).
    ///
    /// # Errors
    /// [`ImprintError::InvalidParameter`] if `k` exceeds the number of
    /// samples, if `init` does not hold `k` indices, or if one is not a sample.
    pub fn fit_from(&self, shots: Shots<'_>, init: &[usize]) -> Result<KMeansFit> {
        let n = shots.n_shots();
        // `k = 1` needs no start: its fits report none.
        if init.len() != self.k && !(self.k == 1 && init.is_empty()) {
            return Err(ImprintError::invalid(
                "init",
                init.len(),
                format!("k-means with k = {} needs {} initial samples", self.k, self.k),
            ));
        }
        if let Some(&i) = init.iter().find(|&&i| i >= n) {
            return Err(ImprintError::invalid("init", i, format!("is not a sample index (n = {n} samples)")));
        }
        let Some(xc) = self.prepare(shots)? else { return self.closed_form(shots) };
        Ok(self.lloyd_from(shots, &xc, init.to_vec(), 0))
    }

    /// Checks `k` against the samples and centres them for Lloyd's
    /// iterations; `None` for `k = 1` ([`KMeans::closed_form`]).
    fn prepare(&self, shots: Shots<'_>) -> Result<Option<Centred>> {
        let (n, k) = (shots.n_shots(), self.k);
        if k > n {
            return Err(ImprintError::invalid(
                "k",
                k,
                format!("k-means cannot make {k} clusters from n = {n} samples"),
            ));
        }
        if k == 1 {
            return Ok(None);
        }
        let xc = centre(shots.view());
        // Distances are f32 inner products: beyond this scale they overflow
        // and Lloyd's labels would be noise (and might never settle).
        if let Some((row, &sq)) = xc.sq.iter().enumerate().find(|&(_, &sq)| sq > MAX_SQUARED_NORM) {
            return Err(ImprintError::Numerical {
                op: "k-means",
                reason: format!(
                    "sample {row} lies {:.3e} from the mean, too far for f32 distances (at most {:.1e}); rescale the data",
                    sq.sqrt(),
                    MAX_SQUARED_NORM.sqrt()
                ),
            });
        }
        Ok(Some(xc))
    }

    /// `k = 1`: the mean, accumulated in f64.
    fn closed_form(&self, shots: Shots<'_>) -> Result<KMeansFit> {
        let x = shots.view();
        let centroids = class_mean(x)?;
        let labels = vec![0; x.nrows()];
        let inertia = inertia(x, centroids.view(), &labels);
        Ok(KMeansFit {
            centroids,
            init: Vec::new(),
            init_ties: 0,
            labels,
            inertia,
            n_iter: 0,
            converged: true,
        })
    }

    /// Lloyd's iterations from the centred samples `init`, back in the
    /// coordinates of the input.
    fn lloyd_from(&self, shots: Shots<'_>, xc: &Centred, init: Vec<usize>, init_ties: usize) -> KMeansFit {
        let tol = self.tol * mean_variance(xc);
        let start = gather(xc.data.view(), &init).mapv(f64::from);
        let run = lloyd(xc.data.view(), start, self.max_iter, tol);
        let centroids = (run.centres + xc.mean.view().insert_axis(Axis(0))).mapv(|v| v as f32);
        let inertia = inertia(shots.view(), centroids.view(), &run.labels);
        KMeansFit {
            centroids,
            init,
            init_ties,
            labels: run.labels,
            inertia,
            n_iter: run.n_iter,
            converged: run.converged,
        }
    }
}

impl ProxyGenerator for KMeans {
    fn name(&self) -> &str {
        "kmeans"
    }

    fn n_proxies(&self) -> Option<usize> {
        Some(self.k)
    }

    fn propose(&self, shots: Shots<'_>, rng: &mut dyn RngCore) -> Result<Array2<f32>> {
        Ok(self.fit(shots, rng)?.into_centroids())
    }
}

/// Registry constructor.
pub(crate) fn from_config(k: Option<usize>) -> Result<Box<dyn ProxyGenerator>> {
    Ok(Box::new(KMeansParams::new(required_k(k, "kmeans")?).check()?))
}

/// Registry constructor for the reference's RNG mode: scikit-learn's
/// `KMeans(n_clusters=k, random_state=seed)` on the torch tensor that
/// `select_proxies` passes (float64 for scikit-learn).
pub(crate) fn reference_from_config(k: Option<usize>, seed: u64) -> Result<Box<dyn ProxyGenerator>> {
    let params = KMeansParams::new(required_k(k, "kmeans")?);
    Ok(Box::new(params.random_state(seed, SklearnInput::Float64).check()?))
}

/// Largest squared distance of a sample from the mean that k-means accepts:
/// products of two such vectors stay finite in f32 (`f32::MAX` is 3.4e38).
const MAX_SQUARED_NORM: f64 = 1e36;

/// Mean over features of the (population) variance of each feature.
fn mean_variance(xc: &Centred) -> f64 {
    xc.sum_sq_dev / (xc.data.nrows() * xc.data.ncols()) as f64
}

/// Sum of squared distances of the rows of `x` to their centroid, in f64,
/// summed block by block in a fixed order.
pub(crate) fn inertia(x: ArrayView2<'_, f32>, centroids: ArrayView2<'_, f32>, labels: &[usize]) -> f64 {
    let n = x.nrows();
    let parts: Vec<f64> = (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            (b * BLOCK..((b + 1) * BLOCK).min(n)).map(|i| sq_dist(x.row(i), centroids.row(labels[i]))).sum()
        })
        .collect();
    parts.iter().sum()
}

/// For each of the candidate samples `ids`: the squared distance of every
/// sample to its nearest centre once that candidate is added (the minimum of
/// `closest` and the distance to the candidate; a sample is at exactly 0 from
/// itself), and the sum of those distances, the candidate's potential.
///
/// One parallel pass over blocks of rows; sums are combined in block order.
fn with_candidates(
    x: ArrayView2<'_, f32>,
    sq: &[f64],
    closest: &[f64],
    ids: &[usize],
) -> (Vec<Vec<f64>>, Vec<f64>) {
    let c = gather(x, ids);
    let t = ids.len();
    let blocks = map_row_blocks(x, c.view(), |start, dots| {
        let rows = dots.nrows();
        let mut mins = vec![0.0f64; t * rows];
        let mut sums = vec![0.0f64; t];
        for (r, d) in dots.outer_iter().enumerate() {
            let i = start + r;
            for (j, (&id, &dot)) in ids.iter().zip(d).enumerate() {
                let dist = if i == id { 0.0 } else { sq_dist_from_dot(sq[i], sq[id], dot) };
                let m = dist.min(closest[i]);
                mins[j * rows + r] = m;
                sums[j] += m;
            }
        }
        (rows, mins, sums)
    });
    let mut mins = vec![Vec::with_capacity(x.nrows()); t];
    let mut sums = vec![0.0f64; t];
    for (rows, block_mins, block_sums) in blocks {
        for j in 0..t {
            mins[j].extend_from_slice(&block_mins[j * rows..(j + 1) * rows]);
            sums[j] += block_sums[j];
        }
    }
    (mins, sums)
}

/// Where k-means++ takes its random numbers.
pub(crate) enum Draws<'a> {
    /// `random_range` and `random::<f64>` of the RNG passed in.
    Portable(&'a mut dyn RngCore),
    /// scikit-learn's calls on a NumPy `RandomState` (boxed: 2.5 KB of
    /// state) for input of the given dtype.
    Sklearn(Box<RandomState>, SklearnInput),
}

impl Draws<'_> {
    /// The first centre, uniform over `0..n` (`n >= 1`).
    fn first(&mut self, n: usize) -> usize {
        match self {
            Draws::Portable(rng) => rng.random_range(0..n),
            // `sample_weight / sample_weight.sum()` with float32 unit weights;
            // n float32 copies of 1/n always pass numpy's float32 sum check.
            Draws::Sklearn(rs, SklearnInput::Float32) => {
                rs.choice_f32(&vec![1.0f32 / n as f32; n]).unwrap_or(0)
            }
            // n float64 copies of 1/n pass numpy's float64 sum check too.
            Draws::Sklearn(rs, SklearnInput::Float64) => rs.choice(&vec![1.0 / n as f64; n]).unwrap_or(0),
        }
    }

    /// A uniform draw in [0, 1).
    fn uniform(&mut self) -> f64 {
        match self {
            Draws::Portable(rng) => rng.random::<f64>(),
            Draws::Sklearn(rs, _) => rs.uniform(0.0, 1.0),
        }
    }
}

/// Relative gap under which two candidates' potentials are a tie in exact
/// arithmetic (their computed values differ only by rounding).
const TIE_RTOL: f64 = 1e-12;

/// Greedy k-means++ (scikit-learn's `_kmeans_plusplus`): the indices of the
/// `k` initial centres, and how many choices were ties (see
/// [`KMeansFit::init_ties`]).
pub(crate) fn kmeans_plusplus(
    x: ArrayView2<'_, f32>,
    sq: &[f64],
    k: usize,
    n_trials: usize,
    draws: &mut Draws<'_>,
) -> (Vec<usize>, usize) {
    let n = x.nrows();
    let first = draws.first(n);
    let mut indices = vec![first];
    let (mut mins, sums) = with_candidates(x, sq, &vec![f64::INFINITY; n], &[first]);
    let mut closest = mins.swap_remove(0);
    let mut potential = sums[0];
    let mut cumsum = vec![0.0f64; n];
    let mut ties = 0;
    for _ in 1..k {
        let mut acc = 0.0;
        for (c, &d) in cumsum.iter_mut().zip(&closest) {
            acc += d;
            *c = acc;
        }
        // numpy.searchsorted(side='left'): the first index whose cumulative
        // sum reaches the draw, clipped to the last sample.
        let candidates: Vec<usize> = (0..n_trials)
            .map(|_| {
                let r = draws.uniform() * potential;
                cumsum.partition_point(|&c| c < r).min(n - 1)
            })
            .collect();
        let (mut mins, sums) = with_candidates(x, sq, &closest, &candidates);
        let best = argmin_first(sums.iter().copied());
        let tied = (0..candidates.len()).any(|j| {
            candidates[j] != candidates[best] && (sums[j] - sums[best]).abs() <= TIE_RTOL * sums[best].abs()
        });
        ties += usize::from(tied);
        closest = mins.swap_remove(best);
        potential = sums[best];
        indices.push(candidates[best]);
    }
    (indices, ties)
}

#[cfg(test)]
mod tests {
    use imprint_core::GenerateExt;
    use imprint_core::RngCore;
    use ndarray::array;
    use proptest::prelude::{ProptestConfig, Strategy, prop_assert, prop_assert_eq, proptest};
    use rand::Rng;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::util::sq_norms;
    use crate::util::testing::blobs;

    fn rng(seed: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(seed)
    }

    fn shots(x: &Array2<f32>) -> Shots<'_> {
        Shots::new(x.view(), "test shots").unwrap()
    }

    // ---- slow, obviously correct references ----

    fn ref_sq(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(u, v)| (u - v).powi(2)).sum()
    }

    fn rows64(x: ArrayView2<'_, f32>) -> Vec<Vec<f64>> {
        x.outer_iter().map(|r| r.iter().map(|&v| f64::from(v)).collect()).collect()
    }

    /// k-means++ with exact distances and the same draws.
    fn ref_plusplus(x: &[Vec<f64>], k: usize, trials: usize, rng: &mut dyn RngCore) -> Vec<usize> {
        let n = x.len();
        let mut ids = vec![rng.random_range(0..n)];
        let mut closest: Vec<f64> = x.iter().map(|p| ref_sq(p, &x[ids[0]])).collect();
        while ids.len() < k {
            let pot: f64 = closest.iter().sum();
            let cands: Vec<usize> = (0..trials)
                .map(|_| {
                    let r = rng.random::<f64>() * pot;
                    let mut acc = 0.0;
                    (0..n)
                        .find(|&i| {
                            acc += closest[i];
                            acc >= r
                        })
                        .unwrap_or(n - 1)
                })
                .collect();
            let pots: Vec<f64> = cands
                .iter()
                .map(|&c| x.iter().zip(&closest).map(|(p, &d)| d.min(ref_sq(p, &x[c]))).sum())
                .collect();
            let best = (0..trials).fold(0, |b, t| if pots[t] < pots[b] { t } else { b });
            closest = x.iter().zip(&closest).map(|(p, &d)| d.min(ref_sq(p, &x[cands[best]]))).collect();
            ids.push(cands[best]);
        }
        ids
    }

    struct RefFit {
        centres: Vec<Vec<f64>>,
        labels: Vec<usize>,
        n_iter: usize,
        converged: bool,
    }

    /// scikit-learn's Lloyd loop written out naively in f64.
    fn ref_lloyd(x: &[Vec<f64>], mut centres: Vec<Vec<f64>>, max_iter: usize, tol: f64) -> RefFit {
        let (n, k, d) = (x.len(), centres.len(), x[0].len());
        let nearest = |c: &Vec<Vec<f64>>, p: &Vec<f64>| {
            (0..k).fold(0, |b, j| if ref_sq(p, &c[j]) < ref_sq(p, &c[b]) { j } else { b })
        };
        let mut labels_old = vec![usize::MAX; n];
        let mut labels = labels_old.clone();
        let (mut n_iter, mut strict, mut converged) = (0, false, false);
        for iter in 0..max_iter {
            n_iter = iter + 1;
            labels = x.iter().map(|p| nearest(&centres, p)).collect();
            let mut sums = vec![vec![0.0; d]; k];
            let mut counts = vec![0usize; k];
            for (p, &l) in x.iter().zip(&labels) {
                counts[l] += 1;
                sums[l].iter_mut().zip(p).for_each(|(s, v)| *s += v);
            }
            let mut far: Vec<usize> = (0..n).collect();
            far.sort_by(|&a, &b| {
                ref_sq(&x[b], &centres[labels[b]])
                    .total_cmp(&ref_sq(&x[a], &centres[labels[a]]))
                    .then(a.cmp(&b))
            });
            let empty: Vec<usize> = (0..k).filter(|&j| counts[j] == 0).collect();
            for (&j, &i) in empty.iter().zip(&far) {
                sums[labels[i]].iter_mut().zip(&x[i]).for_each(|(s, v)| *s -= v);
                counts[labels[i]] -= 1;
                sums[j] = x[i].clone();
                counts[j] = 1;
            }
            let new: Vec<Vec<f64>> = sums
                .into_iter()
                .zip(&counts)
                .map(|(s, &c)| if c > 0 { s.iter().map(|v| v / c as f64).collect() } else { s })
                .collect();
            let shift: f64 = new.iter().zip(&centres).map(|(a, b)| ref_sq(a, b)).sum();
            centres = new;
            if labels == labels_old {
                (strict, converged) = (true, true);
                break;
            }
            if shift <= tol {
                converged = true;
                break;
            }
            labels_old = labels.clone();
        }
        if !strict {
            labels = x.iter().map(|p| nearest(&centres, p)).collect();
        }
        RefFit { centres, labels, n_iter, converged }
    }

    fn centred(x: &Array2<f32>) -> (Array2<f32>, Vec<f64>) {
        let xc = centre(x.view());
        (xc.data, xc.sq)
    }

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= 1e-9 + rel * a.abs().max(b.abs())
    }

    // ---- tests ----

    #[test]
    fn plusplus_matches_the_reference_draws() {
        for seed in 0..6 {
            let x = blobs(seed, 5, 12, 4, 0.5);
            let (xc, sq) = centred(&x);
            for k in [2, 5, 9] {
                let trials = 2 + (k as f64).ln() as usize;
                let (ours, _) =
                    kmeans_plusplus(xc.view(), &sq, k, trials, &mut Draws::Portable(&mut rng(seed + 100)));
                let theirs = ref_plusplus(&rows64(xc.view()), k, trials, &mut rng(seed + 100));
                assert_eq!(ours, theirs, "seed {seed}, k {k}");
            }
        }
    }

    /// Our Lloyd iterations from `start` against the f64 reference's: the same
    /// labels, iterations and convergence, centres within 1e-9.
    fn same_as_reference(xc: ArrayView2<'_, f32>, start: &Array2<f64>, max_iter: usize, tol: f64, ctx: &str) {
        let ours = lloyd(xc, start.clone(), max_iter, tol);
        let start_rows: Vec<Vec<f64>> = start.outer_iter().map(|r| r.to_vec()).collect();
        let theirs = ref_lloyd(&rows64(xc), start_rows, max_iter, tol);
        assert_eq!(ours.labels, theirs.labels, "{ctx}");
        assert_eq!((ours.n_iter, ours.converged), (theirs.n_iter, theirs.converged), "{ctx}");
        for (a, b) in ours.centres.iter().zip(theirs.centres.iter().flatten()) {
            assert!(close(*a, *b, 1e-9), "{ctx}: {a} vs {b}");
        }
    }

    /// From `WIDE_K` centres on, the inner products come from faer's GEMM
    /// over steps of rows (more than one step, more than one block): the same
    /// labels, iterations and centres as the f64 reference.
    #[test]
    fn lloyd_with_many_centres_matches_the_reference() {
        for seed in 0..2 {
            let x = blobs(seed, 30, 90, 40, 1.5);
            let (xc, _) = centred(&x);
            let tol = KMeansParams::DEFAULT_TOL * mean_variance(&centre(x.view()));
            let sq = sq_norms(xc.view());
            let (init, _) = kmeans_plusplus(xc.view(), &sq, 30, 3, &mut Draws::Portable(&mut rng(seed)));
            let start = gather(xc.view(), &init).mapv(f64::from);
            for max_iter in [1, 300] {
                same_as_reference(
                    xc.view(),
                    &start,
                    max_iter,
                    tol,
                    &format!("seed {seed}, max_iter {max_iter}"),
                );
            }
        }
    }

    /// Above `WIDE_DIM` dimensions the GEMM path runs for few centres too:
    /// the same labels, iterations and centres as the f64 reference.
    #[test]
    fn lloyd_in_many_dimensions_matches_the_reference() {
        let x = blobs(4, 5, 60, 1100, 1.5);
        let (xc, _) = centred(&x);
        let tol = KMeansParams::DEFAULT_TOL * mean_variance(&centre(x.view()));
        let sq = sq_norms(xc.view());
        let (init, _) = kmeans_plusplus(xc.view(), &sq, 5, 3, &mut Draws::Portable(&mut rng(4)));
        let start = gather(xc.view(), &init).mapv(f64::from);
        for max_iter in [1, 300] {
            same_as_reference(xc.view(), &start, max_iter, tol, &format!("max_iter {max_iter}"));
        }
    }

    #[test]
    fn lloyd_matches_the_reference_from_the_same_init() {
        for seed in 0..6 {
            let x = blobs(seed, 4, 15, 3, 2.5);
            let (xc, _) = centred(&x);
            let tol = KMeansParams::DEFAULT_TOL * mean_variance(&centre(x.view()));
            // k-means++ starts, and deliberately bad ones: duplicated and
            // far-away centres force the empty-cluster relocation.
            let far = Array2::from_elem((1, 3), 1.0e3f64);
            let dup = gather(xc.view(), &[0, 0, 1, 2]).mapv(f64::from);
            let pp = {
                let sq = sq_norms(xc.view());
                let (init, _) = kmeans_plusplus(xc.view(), &sq, 4, 3, &mut Draws::Portable(&mut rng(seed)));
                gather(xc.view(), &init).mapv(f64::from)
            };
            let with_far = ndarray::concatenate![Axis(0), gather(xc.view(), &[3, 4, 5]).mapv(f64::from), far];
            for (what, start) in [("k-means++", pp), ("duplicate", dup), ("far", with_far)] {
                for max_iter in [1, 2, 300] {
                    let ctx = format!("seed {seed}, {what} start, max_iter {max_iter}");
                    same_as_reference(xc.view(), &start, max_iter, tol, &ctx);
                }
            }
        }
    }

    #[test]
    fn finds_well_separated_blobs_and_reports_consistent_results() {
        let x = blobs(7, 3, 40, 5, 0.3);
        let fit = KMeansParams::new(3).check().unwrap().fit(shots(&x), &mut rng(1)).unwrap();
        assert!(fit.converged() && fit.n_iter() >= 1);
        // Each blob (samples i % 3) is one cluster.
        for i in 0..x.nrows() {
            assert_eq!(fit.labels()[i], fit.labels()[i % 3]);
        }
        let mut distinct = fit.labels()[..3].to_vec();
        distinct.sort();
        assert_eq!(distinct, vec![0, 1, 2]);
        // Labels are the nearest centroids and inertia matches them.
        let c = fit.centroids();
        let mut total = 0.0;
        for (i, r) in x.outer_iter().enumerate() {
            let d: Vec<f64> = c.outer_iter().map(|cr| sq_dist(r, cr)).collect();
            assert_eq!(fit.labels()[i], argmin_first(d.iter().copied()));
            total += d[fit.labels()[i]];
        }
        assert!(close(fit.inertia(), total, 1e-12));
    }

    /// From a fit's own k-means++ samples, `fit_from` repeats its Lloyd
    /// iterations exactly; bad starts are errors; `k = 1` is the mean.
    #[test]
    fn fit_from_the_init_of_a_fit_repeats_it() {
        let x = blobs(5, 6, 70, 12, 1.0);
        for k in [2, 6, 9] {
            let km = KMeansParams::new(k).check().unwrap();
            let fit = km.fit(shots(&x), &mut rng(3)).unwrap();
            let again = km.fit_from(shots(&x), fit.init()).unwrap();
            assert_eq!(again.labels(), fit.labels(), "k = {k}");
            assert_eq!(again.centroids(), fit.centroids(), "k = {k}");
            assert_eq!((again.n_iter(), again.converged()), (fit.n_iter(), fit.converged()), "k = {k}");
            assert_eq!(again.inertia().to_bits(), fit.inertia().to_bits(), "k = {k}");
            assert_eq!(again.init(), fit.init());
        }
        let km = KMeansParams::new(3).check().unwrap();
        for bad in [vec![0, 1], vec![0, 1, 2, 3], vec![0, 1, x.nrows()]] {
            let err = km.fit_from(shots(&x), &bad).unwrap_err();
            assert!(matches!(err, ImprintError::InvalidParameter { .. }), "{bad:?}: {err}");
        }
        let one = KMeansParams::new(1).check().unwrap();
        assert_eq!(
            one.fit_from(shots(&x), &[]).unwrap().centroids(),
            one.fit(shots(&x), &mut rng(0)).unwrap().centroids()
        );
    }

    #[test]
    fn deterministic_and_independent_of_thread_count() {
        let x = blobs(3, 6, 150, 16, 1.5);
        let km = KMeansParams::new(6).check().unwrap();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| km.fit(shots(&x), &mut rng(42)).unwrap())
        };
        let one = run(1);
        let two = run(2);
        assert_eq!(one.labels(), two.labels());
        assert_eq!(one.inertia().to_bits(), two.inertia().to_bits());
        assert!(one.centroids().iter().zip(two.centroids()).all(|(a, b)| a.to_bits() == b.to_bits()));
        assert_eq!(one, run(2));
    }

    /// k-means++ drawing like scikit-learn: `ref_plusplus`'s algorithm on
    /// numpy's draws (`choice` of the first centre, then `uniform`).
    #[test]
    fn random_state_draws_like_scikit_learn_and_ignores_the_rng() {
        let x = blobs(4, 5, 12, 4, 0.5);
        let km = KMeansParams::new(5).random_state(17121997, SklearnInput::Float32).check().unwrap();
        assert_eq!(km.random_state(), Some((17121997, SklearnInput::Float32)));
        let a = km.fit(shots(&x), &mut rng(1)).unwrap();
        let b = km.fit(shots(&x), &mut rng(2)).unwrap();
        assert_eq!(a, b);
        let xc = centre(x.view());
        let mut rs = RandomState::new(17121997);
        let n = x.nrows();
        let first = rs.choice_f32(&vec![1.0f32 / n as f32; n]).unwrap();
        let mut closest: Vec<f64> = (0..n).map(|i| sq_dist(xc.data.row(i), xc.data.row(first))).collect();
        let mut want = vec![first];
        for _ in 1..5 {
            let pot: f64 = closest.iter().sum();
            let cands: Vec<usize> = (0..km.n_local_trials())
                .map(|_| {
                    let r = rs.uniform(0.0, 1.0) * pot;
                    let mut acc = 0.0;
                    (0..n)
                        .find(|&i| {
                            acc += closest[i];
                            acc >= r
                        })
                        .unwrap_or(n - 1)
                })
                .collect();
            let pots: Vec<f64> = cands
                .iter()
                .map(|&c| (0..n).map(|i| closest[i].min(sq_dist(xc.data.row(i), xc.data.row(c)))).sum())
                .collect();
            let best = argmin_first(pots.iter().copied());
            closest =
                (0..n).map(|i| closest[i].min(sq_dist(xc.data.row(i), xc.data.row(cands[best])))).collect();
            want.push(cands[best]);
        }
        assert_eq!(a.init(), &want[..]);
        // Float64 input draws its first centre with float64 weights.
        let f64_fit = KMeansParams::new(5).random_state(17121997, SklearnInput::Float64).check().unwrap();
        let first64 = RandomState::new(17121997).choice(&vec![1.0 / n as f64; n]).unwrap();
        assert_eq!(f64_fit.fit(shots(&x), &mut rng(0)).unwrap().init()[0], first64);
        assert!(matches!(
            KMeansParams::new(2).random_state(1 << 32, SklearnInput::Float64).check(),
            Err(ImprintError::InvalidParameter { name: "seed", .. })
        ));
    }

    #[test]
    fn max_iter_is_a_status_not_an_error() {
        let x = blobs(5, 8, 30, 4, 4.0);
        let fit =
            KMeansParams::new(8).max_iter(1).tol(0.0).check().unwrap().fit(shots(&x), &mut rng(0)).unwrap();
        assert_eq!(fit.n_iter(), 1);
        assert!(!fit.converged());
    }

    #[test]
    fn parameter_and_size_errors() {
        let bad = |p: KMeansParams| p.check().unwrap_err();
        assert!(matches!(bad(KMeansParams::new(0)), ImprintError::InvalidParameter { name: "k", .. }));
        assert!(matches!(
            bad(KMeansParams::new(2).max_iter(0)),
            ImprintError::InvalidParameter { name: "max_iter", .. }
        ));
        assert!(matches!(
            bad(KMeansParams::new(2).tol(-1.0)),
            ImprintError::InvalidParameter { name: "tol", .. }
        ));
        assert!(matches!(
            bad(KMeansParams::new(2).tol(f64::NAN)),
            ImprintError::InvalidParameter { name: "tol", .. }
        ));
        assert!(matches!(
            bad(KMeansParams::new(2).n_local_trials(0)),
            ImprintError::InvalidParameter { name: "n_local_trials", .. }
        ));
        assert_eq!(KMeansParams::new(20).check().unwrap().n_local_trials(), 4);
        assert_eq!(KMeansParams::new(1).check().unwrap().n_local_trials(), 2);
        let x = array![[1.0f32, 2.0], [3.0, 4.0]];
        let err = KMeansParams::new(3).check().unwrap().fit(shots(&x), &mut rng(0)).unwrap_err();
        assert!(matches!(err, ImprintError::InvalidParameter { name: "k", .. }));
        assert!(err.to_string().contains("n = 2"), "{err}");
        // Through the generator interface, n < k keeps the samples instead.
        let g = KMeansParams::new(3).check().unwrap();
        assert_eq!(g.generate(x.view(), &mut rng(0)).unwrap(), x);
    }

    #[test]
    fn data_too_large_for_f32_distances_is_an_error_not_noise() {
        // f32::MAX-scale rows: the inner products would overflow to inf/NaN.
        let x = array![[f32::MAX, 0.0], [f32::MIN, 1.0], [3e38, -1.0], [0.5, 0.5]];
        let err = KMeansParams::new(3).tol(0.0).check().unwrap().fit(shots(&x), &mut rng(0)).unwrap_err();
        assert!(matches!(err, ImprintError::Numerical { .. }), "{err}");
        assert!(err.to_string().contains("rescale"), "{err}");
        assert!(matches!(
            KMeansParams::new(2).n_local_trials(KMeansParams::MAX_LOCAL_TRIALS + 1).check(),
            Err(ImprintError::InvalidParameter { name: "n_local_trials", .. })
        ));
    }

    #[test]
    fn identical_samples_do_not_break_it() {
        let x = Array2::from_elem((10, 3), 2.5f32);
        let fit = KMeansParams::new(4).check().unwrap().fit(shots(&x), &mut rng(0)).unwrap();
        assert!(fit.centroids().iter().all(|v| v.is_finite()));
        assert_eq!(fit.inertia(), 0.0);
        assert!(fit.converged());
    }

    /// Inertia of the nearest-centre assignment to the rows `init` of `x`.
    fn init_inertia(x: &Array2<f32>, init: &[usize]) -> f64 {
        x.outer_iter().map(|r| init.iter().map(|&i| sq_dist(r, x.row(i))).fold(f64::INFINITY, f64::min)).sum()
    }

    fn data(max_n: usize) -> impl Strategy<Value = Array2<f32>> {
        (1..max_n, 1usize..6).prop_flat_map(|(n, d)| {
            proptest::collection::vec(-100.0f32..100.0, n * d)
                .prop_map(move |v| Array2::from_shape_vec((n, d), v).unwrap())
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn k1_is_the_mean(x in data(40)) {
            let fit = KMeansParams::new(1).check().unwrap().fit(shots(&x), &mut rng(0)).unwrap();
            prop_assert_eq!(fit.centroids().to_owned(), class_mean(x.view()).unwrap());
            prop_assert_eq!(fit.labels(), &vec![0; x.nrows()][..]);
        }

        #[test]
        fn at_most_k_centroids_and_no_worse_than_the_init(x in data(60), k in 1usize..8, seed in 0u64..1000) {
            let km = KMeansParams::new(k).check().unwrap();
            let out = km.generate(x.view(), &mut rng(seed)).unwrap();
            prop_assert!(out.nrows() <= k && out.ncols() == x.ncols());
            if k <= x.nrows() && k > 1 {
                let fit = km.fit(shots(&x), &mut rng(seed)).unwrap();
                prop_assert_eq!(fit.centroids().nrows(), k);
                // Same seed, same draws: recompute the init and its inertia.
                let xc = centre(x.view());
                let (init, _) = kmeans_plusplus(
                    xc.data.view(), &xc.sq, k, km.n_local_trials(), &mut Draws::Portable(&mut rng(seed)),
                );
                let before = init_inertia(&x, &init);
                prop_assert!(fit.inertia() <= before * (1.0 + 1e-5) + 1e-6, "{} > {}", fit.inertia(), before);
            }
        }
    }
}
