//! GEN for one combination in the reference's RNG mode: every random draw
//! is the one the reference (DATEXIS/IMPRINT `run_combination`) makes.
//!
//! The reference seeds PyTorch's global generator once per combination
//! (`set_all_seeds(seed)`) and consumes it class after class in task order:
//! for a generator, each class is presampled (`weibull` filter, then
//! `torch.randperm(n)[:fewshot]`) and immediately passed to
//! `select_proxies` (`random`: `torch.randperm`; `fps`: `torch.randint`;
//! `none`: `xavier_uniform_`), so presampling and GEN draws interleave; for
//! `ls`/`kls` all classes are presampled first. k-means (also inside `kls`)
//! draws from a fresh NumPy `RandomState(seed)` per class instead. This
//! module replays that order on one [`TorchGenerator`], so the proxies equal
//! the reference's given the same embeddings (up to float32 summation order
//! in Lloyd iterations and least squares).
//!
//! Input: each class's training rows after NORMpre, before presampling, in
//! task order and in the reference's row order (data sets in order, then
//! file order). Output: the proxies of each class before NORMpost, which the
//! caller normalizes and imprints in class order like any other method.

use std::time::Instant;

use imprint_baselines::{KLeastSquaresParams, LeastSquaresParams};
use imprint_core::reference_rng::{RngMode, TorchGenerator};
use imprint_core::{GenerateExt, ImprintError, ProxyGenerator, Shots};
use imprint_data::{Prefilter, reference_presample_indices};
use imprint_gen::{KMeansParams, SklearnInput, generator_by_name_with};
use ndarray::{Array2, ArrayView2, Axis};

use crate::{BenchError, Result};

/// How one combination makes its proxies in reference mode.
#[derive(Debug, Clone, PartialEq)]
pub enum ReferenceGen {
    /// A per-class generator by its reference name (`proxy_method`); `k =
    /// None` is the reference's `k = -1` (all samples).
    Generator {
        /// Reference name, e.g. `kmeans`.
        name: String,
        /// Proxies per class.
        k: Option<usize>,
    },
    /// The least-squares oracle `ls(lambda)`.
    LeastSquares {
        /// Ridge parameter.
        lambda: f64,
    },
    /// The k-least-squares oracle `kls(k, lambda)`.
    KLeastSquares {
        /// Pseudo-classes per class (`None` = all samples).
        k: Option<usize>,
        /// Ridge parameter.
        lambda: f64,
    },
}

/// Presampling and GEN of one combination (the reference's
/// `presampling_method`, `presampling_quantiles_value`,
/// `presampling_fewshot_value`, `proxy_method`, `k` and `seed`).
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceRecipe {
    /// `all` or `weibull` with its quantiles.
    pub prefilter: Prefilter,
    /// Few-shot count per class (`None` = the reference's `-1`).
    pub fewshot: Option<usize>,
    /// The generator or oracle.
    pub proxy: ReferenceGen,
    /// The combination's seed (torch's generator and scikit-learn's `random_state`).
    pub seed: u64,
}

/// What [`reference_proxies`] produced.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceProxies {
    /// Proxies of each class, before NORMpost, in task order.
    pub proxies: Vec<Array2<f32>>,
    /// Training samples each class kept after presampling.
    pub n_kept: Vec<usize>,
    /// Seconds in GEN (per-class generation summed, or the oracle's fit),
    /// timed like the reference's `total_GEN_time` (presampling excluded).
    pub gen_seconds: f64,
    /// k-means++ choices (GEN `kmeans`) that were ties in exact arithmetic
    /// and so decided by rounding, summed over classes (see
    /// `imprint_gen::KMeansFit::init_ties`): where scikit-learn's BLAS rounds
    /// the other way, the reference picked the other centre.
    pub kmeans_ties: usize,
}

/// Presampling and GEN of every class of one combination with the
/// reference's draws (see the module documentation).
///
/// Classes are processed one after another on the calling thread: the torch
/// generator is a single stream shared by all classes, so they cannot run in
/// parallel (k-means and least squares still use the thread pool inside).
///
/// # Errors
/// [`BenchError::Data`] when presampling fails for a class (a Weibull fit
/// that fails, a filter or few-shot count that keeps nothing), and
/// [`BenchError::Imprint`] for an unknown generator, a bad `k` or `lambda`,
/// non-finite or empty classes, a k-means seed of `2^32` or more, or a failed
/// solve; both name the class.
pub fn reference_proxies(
    classes: &[ArrayView2<'_, f32>],
    recipe: &ReferenceRecipe,
) -> Result<ReferenceProxies> {
    let mut torch = TorchGenerator::new(recipe.seed);
    let mut kept = Vec::with_capacity(classes.len());
    let mut presample =
        |c: usize, class: ArrayView2<'_, f32>, torch: &mut TorchGenerator| -> Result<Array2<f32>> {
            let what = format!("class {c} (reference-mode presampling)");
            let rows = reference_presample_indices(class, recipe.prefilter, recipe.fewshot, torch, &what)
                .map_err(|source| BenchError::Data { context: what.clone(), source })?;
            kept.push(rows.len());
            Ok(class.select(Axis(0), &rows))
        };
    let imprint = |c: usize| {
        move |source: ImprintError| BenchError::Imprint {
            context: format!("class {c} (reference-mode GEN)"),
            source,
        }
    };
    let mut gen_seconds = 0.0;
    let mut kmeans_ties = 0;
    let proxies = match &recipe.proxy {
        ReferenceGen::Generator { name, k } => {
            let generator =
                generator_by_name_with(name, *k, RngMode::Reference, recipe.seed).map_err(imprint(0))?;
            // k-means also runs directly, to count its rounding-decided choices.
            let kmeans = match (generator.name(), generator.n_proxies()) {
                ("kmeans", Some(k)) => Some(
                    KMeansParams::new(k)
                        .random_state(recipe.seed, SklearnInput::Float64)
                        .check()
                        .map_err(imprint(0))?,
                ),
                _ => None,
            };
            let mut out = Vec::with_capacity(classes.len());
            for (c, class) in classes.iter().enumerate() {
                let data = presample(c, *class, &mut torch)?;
                let start = Instant::now();
                let proxies = match &kmeans {
                    Some(km) if selects(generator.as_ref(), data.nrows()) => {
                        let fit = Shots::new(data.view(), "shots").and_then(|s| km.fit(s, &mut torch));
                        let fit = fit.map_err(imprint(c))?;
                        kmeans_ties += fit.init_ties();
                        fit.into_centroids()
                    }
                    _ => select_proxies(generator.as_ref(), data, &mut torch).map_err(imprint(c))?,
                };
                out.push(proxies);
                gen_seconds += start.elapsed().as_secs_f64();
            }
            out
        }
        ReferenceGen::LeastSquares { lambda } => {
            let data = classes
                .iter()
                .enumerate()
                .map(|(c, x)| presample(c, *x, &mut torch))
                .collect::<Result<Vec<_>>>()?;
            let views: Vec<_> = data.iter().map(|d| d.view()).collect();
            let start = Instant::now();
            let w =
                LeastSquaresParams::new(*lambda).check().and_then(|ls| ls.fit(&views)).map_err(imprint(0))?;
            gen_seconds = start.elapsed().as_secs_f64();
            w.outer_iter().map(|r| r.insert_axis(Axis(0)).to_owned()).collect()
        }
        ReferenceGen::KLeastSquares { k, lambda } => {
            let data = classes
                .iter()
                .enumerate()
                .map(|(c, x)| presample(c, *x, &mut torch))
                .collect::<Result<Vec<_>>>()?;
            let views: Vec<_> = data.iter().map(|d| d.view()).collect();
            let start = Instant::now();
            let kls = KLeastSquaresParams::new(*k, *lambda).rng_mode(RngMode::Reference);
            let w = kls.check().and_then(|kls| kls.fit(&views, recipe.seed)).map_err(imprint(0))?;
            gen_seconds = start.elapsed().as_secs_f64();
            w
        }
    };
    Ok(ReferenceProxies { proxies, n_kept: kept, gen_seconds, kmeans_ties })
}

/// Whether `select_proxies` calls the generator on `n` samples rather than
/// returning them: not for `all`, `k = -1` or `n < k`; not for a single
/// sample, except `none`, which draws even then.
fn selects(generator: &dyn ProxyGenerator, n: usize) -> bool {
    let keeps_all = match generator.n_proxies() {
        None => true,
        Some(k) => n < k,
    };
    !(keeps_all || (n == 1 && generator.name() != "none"))
}

/// The reference's `select_proxies` dispatch: all samples for `all`, `k =
/// -1` or fewer samples than `k`; `none` draws even for a single sample; any
/// other generator returns a single sample unchanged without drawing.
fn select_proxies(
    generator: &dyn ProxyGenerator,
    data: Array2<f32>,
    torch: &mut TorchGenerator,
) -> imprint_core::Result<Array2<f32>> {
    if !selects(generator, data.nrows()) {
        return Ok(data);
    }
    generator.generate(data.view(), torch)
}

#[cfg(test)]
mod tests {
    use imprint_core::reference_rng::{randint, randperm, xavier_uniform};
    use ndarray::Array2;

    use super::*;

    fn class(seed: usize, n: usize) -> Array2<f32> {
        Array2::from_shape_fn((n, 3), |(i, j)| {
            ((i * 7 + j * 3 + seed * 5) % 13) as f32 * 0.1 + (i % 2) as f32
        })
    }

    fn recipe(name: &str, k: Option<usize>, fewshot: Option<usize>) -> ReferenceRecipe {
        ReferenceRecipe {
            prefilter: Prefilter::All,
            fewshot,
            proxy: ReferenceGen::Generator { name: name.into(), k },
            seed: 17121997,
        }
    }

    #[test]
    fn presampling_and_gen_draws_interleave_class_by_class() {
        let (a, b) = (class(0, 12), class(1, 9));
        let got = reference_proxies(&[a.view(), b.view()], &recipe("random", Some(2), Some(6))).unwrap();
        // By hand: per class, randperm(n)[:6] then randperm(6)[:2] on one generator.
        let mut torch = TorchGenerator::new(17121997);
        let mut want = Vec::new();
        for x in [&a, &b] {
            let shots = randperm(x.nrows(), &mut torch).unwrap();
            let picks = randperm(6, &mut torch).unwrap();
            let rows: Vec<usize> = picks[..2].iter().map(|&p| shots[p]).collect();
            want.push(x.select(Axis(0), &rows));
        }
        assert_eq!(got.proxies, want);
        assert_eq!(got.n_kept, vec![6, 6]);
    }

    #[test]
    fn single_samples_and_small_classes_draw_nothing_except_none() {
        let one = class(2, 1);
        let many = class(3, 10);
        // fps on a single sample returns it without drawing: the next class's
        // start is the generator's first draw.
        let got = reference_proxies(&[one.view(), many.view()], &recipe("fps", Some(1), None)).unwrap();
        assert_eq!(got.proxies[0], one);
        let first = randint(10, &mut TorchGenerator::new(17121997)).unwrap() as usize;
        assert_eq!(got.proxies[1], many.select(Axis(0), &[first]));
        // none draws Xavier vectors even for a single sample.
        let got = reference_proxies(&[one.view()], &recipe("none", Some(1), None)).unwrap();
        assert_eq!(got.proxies[0], xavier_uniform(1, 3, 1.0, &mut TorchGenerator::new(17121997)));
        // k > n keeps the samples.
        let got = reference_proxies(&[many.view()], &recipe("kmeans", Some(20), None)).unwrap();
        assert_eq!(got.proxies[0], many);
    }

    #[test]
    fn oracles_presample_every_class_first_and_errors_name_the_class() {
        let (a, b) = (class(4, 20), class(5, 20));
        let ls = ReferenceRecipe {
            prefilter: Prefilter::All,
            fewshot: Some(10),
            proxy: ReferenceGen::LeastSquares { lambda: 0.01 },
            seed: 3,
        };
        let got = reference_proxies(&[a.view(), b.view()], &ls).unwrap();
        let mut torch = TorchGenerator::new(3);
        let rows: Vec<Array2<f32>> =
            [&a, &b].iter().map(|x| x.select(Axis(0), &randperm(20, &mut torch).unwrap()[..10])).collect();
        let views: Vec<_> = rows.iter().map(|r| r.view()).collect();
        let w = LeastSquaresParams::new(0.01).check().unwrap().fit(&views).unwrap();
        assert_eq!(got.proxies[1].row(0), w.row(1));
        let kls =
            ReferenceRecipe { proxy: ReferenceGen::KLeastSquares { k: Some(2), lambda: 0.01 }, ..ls.clone() };
        assert_eq!(reference_proxies(&[a.view(), b.view()], &kls).unwrap().proxies[0].nrows(), 2);

        let bad = Array2::from_elem((4, 3), f32::NAN);
        let err = reference_proxies(&[a.view(), bad.view()], &recipe("kmeans", Some(2), None)).unwrap_err();
        assert!(err.to_string().contains("class 1"), "{err}");
        let err = reference_proxies(&[a.view()], &recipe("kmeans++", Some(2), None)).unwrap_err();
        assert!(matches!(err, BenchError::Imprint { .. }), "{err}");
        let weibull =
            ReferenceRecipe { prefilter: Prefilter::Weibull(0.9, 0.1), ..recipe("mean", Some(1), None) };
        assert!(matches!(reference_proxies(&[a.view()], &weibull), Err(BenchError::Data { .. })));
    }
}
