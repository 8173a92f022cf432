//! Running one imprinting method on one task: the unit of work of the grid.

use std::time::Instant;

use imprint_baselines::{KLeastSquaresParams, LeastSquaresParams};
use imprint_core::metrics::{ClassF1, accuracy, per_class_f1};
use imprint_core::{
    Aggregation, GenerateExt, ImprintError, ImprintedHead, InputNorm, Result, WeightNorm, WeightNormalizer,
};
use imprint_data::Task;
use imprint_gen::generator_by_name;
use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// How proxies are produced: a per-class generator or a cross-class oracle.
#[derive(Debug, Clone, PartialEq)]
pub enum ProxyMethod {
    /// A generator from `imprint-gen` by its reference name; `k = None` is the
    /// reference's `k = -1` (all samples).
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

/// One point of the method grid: NORMpre / GEN / NORMpost / NORMinf / AGG and the seed.
#[derive(Debug, Clone, PartialEq)]
pub struct Method {
    /// NORMpre, applied to each class's shots before GEN.
    pub pre: InputNorm,
    /// GEN.
    pub proxy: ProxyMethod,
    /// NORMpost, applied class by class in class order.
    pub post: WeightNorm,
    /// NORMinf, applied to the test embeddings.
    pub inf: InputNorm,
    /// AGG.
    pub aggregation: Aggregation,
    /// Seed of every random choice in GEN.
    pub seed: u64,
}

/// What one method achieved on one task.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Test accuracy in percent.
    pub accuracy: f64,
    /// One-vs-rest F1 per class (in [0, 1]) with class sizes.
    pub f1: Vec<ClassF1>,
    /// Seconds spent generating proxies (GEN or the oracle's fit), summed over classes.
    pub gen_seconds: f64,
    /// Seconds for the whole method: normalization, GEN, imprinting and evaluation.
    pub runtime_seconds: f64,
    /// Number of proxies in the head.
    pub n_proxies: usize,
}

/// Imprints `task`'s classes with `method`, then classifies its test set.
///
/// GEN runs class by class on the calling thread so that its time is
/// comparable with the reference's per-class timing; grids parallelize across
/// methods instead.
pub fn run_method(task: &Task, method: &Method) -> Result<Outcome> {
    let start = Instant::now();
    let mut shots = Vec::with_capacity(task.n_classes());
    for class in task.classes() {
        let what = format!("task '{}', class {} (label {})", task.name(), class.index(), class.label());
        shots.push(method.pre.apply(class.train(), &what)?);
    }
    let (proxies, gen_seconds) = generate(&shots, method)?;

    let mut head = ImprintedHead::with_inference(task.dim(), method.inf, method.aggregation)?;
    for (class, proxies) in task.classes().iter().zip(proxies) {
        let proxies = method.post.normalize(proxies.view(), head.weights())?;
        head.add_class(class.label().to_string(), proxies.view())?;
    }
    let predicted = head.predict(task.test_embeddings())?;
    let accuracy = 100.0 * accuracy(&predicted, task.test_labels())?;
    let f1 = per_class_f1(&predicted, task.test_labels(), task.n_classes())?;
    Ok(Outcome {
        accuracy,
        f1,
        gen_seconds,
        runtime_seconds: start.elapsed().as_secs_f64(),
        n_proxies: head.n_proxies(),
    })
}

/// Proxies per class and the seconds spent producing them.
fn generate(shots: &[Array2<f32>], method: &Method) -> Result<(Vec<Array2<f32>>, f64)> {
    let views: Vec<_> = shots.iter().map(|s| s.view()).collect();
    match &method.proxy {
        ProxyMethod::Generator { name, k } => {
            let generator = generator_by_name(name, *k)?;
            let mut seconds = 0.0;
            let mut out = Vec::with_capacity(views.len());
            for (c, view) in views.iter().enumerate() {
                let mut rng = ChaCha8Rng::seed_from_u64(method.seed);
                rng.set_stream(c as u64);
                let t = Instant::now();
                out.push(generator.generate(*view, &mut rng).map_err(|e| in_class(e, c))?);
                seconds += t.elapsed().as_secs_f64();
            }
            Ok((out, seconds))
        }
        ProxyMethod::LeastSquares { lambda } => {
            let t = Instant::now();
            let w = LeastSquaresParams::new(*lambda).check()?.fit(&views)?;
            let seconds = t.elapsed().as_secs_f64();
            Ok((w.outer_iter().map(|r| r.insert_axis(ndarray::Axis(0)).to_owned()).collect(), seconds))
        }
        ProxyMethod::KLeastSquares { k, lambda } => {
            let t = Instant::now();
            let w = KLeastSquaresParams::new(*k, *lambda).check()?.fit(&views, method.seed)?;
            Ok((w, t.elapsed().as_secs_f64()))
        }
    }
}

fn in_class(err: ImprintError, class: usize) -> ImprintError {
    match err {
        ImprintError::InvalidParameter { name, value, reason } => {
            ImprintError::InvalidParameter { name, value, reason: format!("{reason} (class {class})") }
        }
        other => other,
    }
}
