//! `kls`: least squares over k-means pseudo-classes, several weights per class.

use imprint_core::reference_rng::RngMode;
use imprint_core::{ImprintError, JointGenerator, Result, Shots, Stream, StreamRng, check_dim, stream_rng};
use imprint_gen::{KMeansParams, SklearnInput};
use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

use crate::least_squares::LeastSquaresParams;

/// Parameters of [`KLeastSquares`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KLeastSquaresParams {
    k: Option<usize>,
    lambda: f64,
    rng_mode: RngMode,
    random_state: u64,
}

impl KLeastSquaresParams {
    /// `k` pseudo-classes per class (`None` = the reference's `k = -1`: every
    /// class keeps its raw samples) and the ridge `lambda`; k-means draws with
    /// [`RngMode::Portable`] (the default).
    pub fn new(k: Option<usize>, lambda: f64) -> Self {
        Self { k, lambda, rng_mode: RngMode::Portable, random_state: 0 }
    }

    /// Draws as the reference: every class's k-means is the reference's
    /// `KMeans(n_clusters=k, random_state=seed)`, a fresh NumPy
    /// `RandomState(seed)` each (see `imprint_gen::KMeansParams::random_state`),
    /// whatever random streams the caller passes.
    pub fn reference(mut self, seed: u64) -> Self {
        self.rng_mode = RngMode::Reference;
        self.random_state = seed;
        self
    }

    /// Validates `k >= 1` and `lambda` (finite, >= 0).
    pub fn check(self) -> Result<KLeastSquares> {
        if self.k == Some(0) {
            return Err(ImprintError::invalid("k", 0, "kls needs at least one pseudo-class per class"));
        }
        LeastSquaresParams::new(self.lambda).check()?;
        Ok(KLeastSquares {
            k: self.k,
            lambda: self.lambda,
            rng_mode: self.rng_mode,
            random_state: self.random_state,
        })
    }
}

/// k-least-squares (an oracle): k-means (scikit-learn semantics, see
/// `imprint_gen::KMeans`) splits each class into `k` pseudo-classes, one
/// least-squares problem is solved over all pseudo-classes (see
/// [`crate::LeastSquares`]) and the weights are regrouped by class.
///
/// As in the reference, a class with fewer than `k` samples (or every class
/// when `k` is `None`) keeps its raw samples as proxies and takes no part in
/// the least-squares problem; `k = 1` is plain least squares. A pseudo-class
/// left empty by k-means (only possible with duplicate samples) is dropped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KLeastSquares {
    k: Option<usize>,
    lambda: f64,
    rng_mode: RngMode,
    random_state: u64,
}

impl KLeastSquares {
    /// Proxies per class, in the order of `classes`. k-means of class `c`
    /// draws from [`Stream::class`]`(c)` under `seed` (as in an
    /// [`imprint_core::Imprinter`]), or, with [`KLeastSquaresParams::reference`],
    /// from NumPy's `RandomState` of the reference's seed; results do not
    /// depend on thread count.
    ///
    /// # Errors
    /// Empty or non-finite classes, mismatched dimensions, a failed solve; in
    /// reference mode a seed of `2^32` or more (numpy's limit).
    pub fn fit(&self, classes: &[ArrayView2<'_, f32>], seed: u64) -> Result<Vec<Array2<f32>>> {
        let mut rngs: Vec<StreamRng> =
            (0..classes.len()).map(|c| stream_rng(seed, Stream::class(c))).collect();
        self.fit_with(classes, &mut rngs)
    }

    /// [`KLeastSquares::fit`] with class `c`'s k-means drawing from `rngs[c]`
    /// (ignored in reference mode).
    pub fn fit_with(
        &self,
        classes: &[ArrayView2<'_, f32>],
        rngs: &mut [StreamRng],
    ) -> Result<Vec<Array2<f32>>> {
        if classes.is_empty() {
            return Err(ImprintError::Empty { what: "classes given to k-least squares".into() });
        }
        if rngs.len() != classes.len() {
            return Err(ImprintError::mismatch("k-least squares: random streams", classes.len(), rngs.len()));
        }
        let ls = LeastSquaresParams::new(self.lambda).check()?;
        if self.k == Some(1) {
            let w = ls.fit(classes)?;
            return Ok(w.outer_iter().map(|r| r.insert_axis(Axis(0)).to_owned()).collect());
        }
        // Pseudo-classes of every class, or None for a class that keeps its samples.
        let dim = classes[0].ncols();
        let splits: Vec<Option<Vec<Array2<f32>>>> = classes
            .par_iter()
            .zip(rngs.par_iter_mut())
            .enumerate()
            .map(|(c, (x, rng))| {
                let shots = Shots::new(*x, &format!("shots of class {c} (k-least squares)"))?;
                // Classes kept raw never reach the least-squares check of dimensions.
                check_dim(*x, dim, "k-least squares: class against class 0")?;
                match self.k {
                    Some(k) if shots.n_shots() >= k => {
                        let params = match self.rng_mode {
                            RngMode::Portable => KMeansParams::new(k),
                            RngMode::Reference => {
                                KMeansParams::new(k).random_state(self.random_state, SklearnInput::Float32)
                            }
                        };
                        let fit = params.check()?.fit(shots, rng)?;
                        Ok(Some(split_by_label(*x, fit.labels(), k)))
                    }
                    _ => Ok(None),
                }
            })
            .collect::<Result<_>>()?;
        let pseudo: Vec<ArrayView2<'_, f32>> =
            splits.iter().flatten().flat_map(|parts| parts.iter().map(|p| p.view())).collect();
        let weights = if pseudo.is_empty() { Array2::zeros((0, 0)) } else { ls.fit(&pseudo)? };
        let mut next = 0;
        Ok(classes
            .iter()
            .zip(&splits)
            .map(|(x, split)| match split {
                None => x.to_owned(),
                Some(parts) => {
                    let w = weights.slice(ndarray::s![next..next + parts.len(), ..]).to_owned();
                    next += parts.len();
                    w
                }
            })
            .collect())
    }
}

impl JointGenerator for KLeastSquares {
    fn name(&self) -> &str {
        "kls"
    }

    fn propose_joint(&self, classes: &[Shots<'_>], rngs: &mut [StreamRng]) -> Result<Vec<Array2<f32>>> {
        let views: Vec<ArrayView2<'_, f32>> = classes.iter().map(|s| s.view()).collect();
        self.fit_with(&views, rngs)
    }
}

/// The rows of `x` grouped by cluster label, empty clusters dropped.
fn split_by_label(x: ArrayView2<'_, f32>, labels: &[usize], k: usize) -> Vec<Array2<f32>> {
    (0..k)
        .map(|cluster| {
            let rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == cluster).collect();
            x.select(Axis(0), &rows)
        })
        .filter(|part| part.nrows() > 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, array};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::least_squares::LeastSquaresParams;

    fn blobs() -> Vec<Array2<f32>> {
        // Two classes, each with two well separated modes.
        let a = array![[1.0f32, 0.0, 0.1], [1.1, 0.0, 0.0], [0.0, 0.0, 1.0], [0.1, 0.0, 1.1]];
        let b = array![[0.0f32, 1.0, 0.0], [0.0, 1.1, 0.1], [-1.0, 0.0, 0.0], [-1.1, 0.1, 0.0]];
        vec![a, b]
    }

    #[test]
    fn k1_is_least_squares_and_k2_splits_modes() {
        let data = blobs();
        let views: Vec<_> = data.iter().map(|d| d.view()).collect();
        let ls = LeastSquaresParams::new(0.05).check().unwrap().fit(&views).unwrap();
        let k1 = KLeastSquaresParams::new(Some(1), 0.05).check().unwrap().fit(&views, 3).unwrap();
        assert_eq!(k1.len(), 2);
        assert_eq!(k1[0].row(0), ls.row(0));
        let k2 = KLeastSquaresParams::new(Some(2), 0.05).check().unwrap().fit(&views, 3).unwrap();
        assert_eq!((k2[0].nrows(), k2[1].nrows()), (2, 2));
        // Equal to least squares over the four modes as pseudo-classes, in some order.
        let modes: Vec<Array2<f32>> = data
            .iter()
            .flat_map(|d| {
                [d.slice(ndarray::s![..2, ..]).to_owned(), d.slice(ndarray::s![2.., ..]).to_owned()]
            })
            .collect();
        let mv: Vec<_> = modes.iter().map(|m| m.view()).collect();
        let want = LeastSquaresParams::new(0.05).check().unwrap().fit(&mv).unwrap();
        for got in k2.iter().flat_map(|w| w.outer_iter().collect::<Vec<_>>()) {
            assert!(
                want.outer_iter().any(|w| w.iter().zip(&got).all(|(a, b)| (a - b).abs() < 1e-5)),
                "{got} not among {want}"
            );
        }
    }

    #[test]
    fn small_classes_keep_their_samples_and_bad_k_is_an_error() {
        let data = blobs();
        let small = array![[0.3f32, 0.3, 0.3]];
        let views = vec![data[0].view(), small.view()];
        let got = KLeastSquaresParams::new(Some(3), 0.05).check().unwrap().fit(&views, 0).unwrap();
        assert_eq!(got[0].nrows(), 3);
        assert_eq!(got[1], small);
        let all = KLeastSquaresParams::new(None, 0.05).check().unwrap().fit(&views, 0).unwrap();
        assert_eq!(all[0], data[0]);
        assert!(KLeastSquaresParams::new(Some(0), 0.05).check().is_err());
        assert!(KLeastSquaresParams::new(Some(2), -0.1).check().is_err());
        let kls = KLeastSquaresParams::new(Some(2), 0.05).check().unwrap();
        assert!(matches!(kls.fit(&[], 0), Err(ImprintError::Empty { .. })));
    }

    #[test]
    fn reference_mode_clusters_every_class_with_random_state_seed() {
        let data = blobs();
        let views: Vec<_> = data.iter().map(|d| d.view()).collect();
        let kls = KLeastSquaresParams::new(Some(2), 0.05).reference(12412312).check().unwrap();
        // The streams passed in are ignored: the seed is the reference's random_state.
        let got = kls.fit(&views, 999).unwrap();
        // The same pseudo-classes as k-means with random_state, solved as plain least squares.
        let km = KMeansParams::new(2).random_state(12412312, SklearnInput::Float32).check().unwrap();
        let mut parts = Vec::new();
        for x in &data {
            let fit = km.fit(Shots::new(x.view(), "x").unwrap(), &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
            parts.extend(split_by_label(x.view(), fit.labels(), 2));
        }
        let pv: Vec<_> = parts.iter().map(|p| p.view()).collect();
        let want = LeastSquaresParams::new(0.05).check().unwrap().fit(&pv).unwrap();
        let flat: Vec<f32> = got.iter().flat_map(|w| w.iter().copied()).collect();
        assert_eq!(flat, want.iter().copied().collect::<Vec<_>>());
        assert!(
            KLeastSquaresParams::new(Some(2), 0.05)
                .reference(1 << 32)
                .check()
                .unwrap()
                .fit(&views, 0)
                .is_err()
        );
    }

    #[test]
    fn classes_of_different_dimensions_are_an_error_even_when_kept_raw() {
        // Every class has fewer samples than k (or k = -1), so none reaches least squares.
        let (a, b) = (array![[1.0f32, 0.0]], array![[0.0f32, 1.0, 0.0]]);
        for k in [None, Some(5)] {
            let kls = KLeastSquaresParams::new(k, 0.05).check().unwrap();
            let err = kls.fit(&[a.view(), b.view()], 0).unwrap_err();
            assert!(matches!(err, ImprintError::DimensionMismatch { .. }), "{err}");
            assert!(err.to_string().contains("k-least squares"), "{err}");
        }
    }
}
