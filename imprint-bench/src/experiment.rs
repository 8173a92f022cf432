//! Running one imprinting method on one task: the unit of work of the grid.

use std::time::Instant;

use imprint_baselines::{KLeastSquaresParams, LeastSquaresParams};
use imprint_core::metrics::{ClassF1, accuracy, per_class_f1};
use imprint_core::{
    Aggregation, GenerateExt, ImprintError, ImprintedHead, InputNorm, Result, WeightNorm, WeightNormalizer,
};
use imprint_data::Task;
use imprint_gen::generator_by_name;
use ndarray::{Array2, ArrayView2, CowArray, Ix2};
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

/// A task with the normalized copies that its combinations share: the
/// classes' shots under each NORMpre and the test embeddings under each
/// NORMinf in use, computed once per task instead of once per combination.
#[derive(Debug)]
pub struct PreparedTask<'t> {
    task: &'t Task,
    shots: Vec<(InputNorm, Vec<CowArray<'t, f32, Ix2>>)>,
    queries: Vec<(InputNorm, CowArray<'t, f32, Ix2>)>,
}

impl<'t> PreparedTask<'t> {
    /// Normalizes `task` once for every NORMpre and NORMinf of `methods`.
    pub fn new<'m>(task: &'t Task, methods: impl IntoIterator<Item = &'m Method>) -> Result<Self> {
        let mut prepared = Self { task, shots: Vec::new(), queries: Vec::new() };
        for method in methods {
            if !prepared.shots.iter().any(|(n, _)| *n == method.pre) {
                let shots = task
                    .classes()
                    .iter()
                    .map(|class| {
                        let what = format!(
                            "task '{}', class {} (label {})",
                            task.name(),
                            class.index(),
                            class.label()
                        );
                        normalized(method.pre, class.train(), &what)
                    })
                    .collect::<Result<_>>()?;
                prepared.shots.push((method.pre, shots));
            }
            if !prepared.queries.iter().any(|(n, _)| *n == method.inf) {
                let what = format!("task '{}', test embeddings", task.name());
                prepared.queries.push((method.inf, normalized(method.inf, task.test_embeddings(), &what)?));
            }
        }
        Ok(prepared)
    }

    /// The task.
    pub fn task(&self) -> &Task {
        self.task
    }

    fn shots(&self, norm: InputNorm) -> Result<Vec<ArrayView2<'_, f32>>> {
        let (_, shots) = self.shots.iter().find(|(n, _)| *n == norm).ok_or_else(|| not_prepared(norm))?;
        Ok(shots.iter().map(|s| s.view()).collect())
    }

    fn queries(&self, norm: InputNorm) -> Result<ArrayView2<'_, f32>> {
        self.queries.iter().find(|(n, _)| *n == norm).map(|(_, q)| q.view()).ok_or_else(|| not_prepared(norm))
    }
}

/// `x` under `norm`: the view itself for `none`, a normalized copy for `l2`.
fn normalized<'a>(norm: InputNorm, x: ArrayView2<'a, f32>, what: &str) -> Result<CowArray<'a, f32, Ix2>> {
    Ok(match norm {
        InputNorm::None => CowArray::from(x),
        InputNorm::L2(_) => CowArray::from(norm.apply(x, what)?),
    })
}

fn not_prepared(norm: InputNorm) -> ImprintError {
    ImprintError::invalid("normalization", norm.name(), "the prepared task was made for other methods")
}

/// Imprints the task's classes with `method`, then classifies its test set.
///
/// GEN runs class by class on the calling thread so that its time is
/// comparable with the reference's per-class timing; grids parallelize across
/// methods instead. The normalized shots and queries come from `task`
/// (shared by every method of the task), so `runtime_seconds` covers GEN,
/// NORMpost, imprinting and evaluation.
pub fn run_method(task: &PreparedTask<'_>, method: &Method) -> Result<Outcome> {
    let start = Instant::now();
    let shots = task.shots(method.pre)?;
    let (proxies, gen_seconds) = generate(&shots, method)?;

    // The queries are normalized already (NORMinf, shared by the task's methods).
    let mut head = ImprintedHead::with_inference(task.task.dim(), InputNorm::None, method.aggregation)?;
    for (class, proxies) in task.task.classes().iter().zip(proxies) {
        let proxies = method.post.normalize(proxies.view(), head.weights())?;
        head.add_class(class.label().to_string(), proxies.view())?;
    }
    let predicted = head.predict(task.queries(method.inf)?)?;
    let accuracy = 100.0 * accuracy(&predicted, task.task.test_labels())?;
    let f1 = per_class_f1(&predicted, task.task.test_labels(), task.task.n_classes())?;
    Ok(Outcome {
        accuracy,
        f1,
        gen_seconds,
        runtime_seconds: start.elapsed().as_secs_f64(),
        n_proxies: head.n_proxies(),
    })
}

/// Proxies per class and the seconds spent producing them.
fn generate(views: &[ArrayView2<'_, f32>], method: &Method) -> Result<(Vec<Array2<f32>>, f64)> {
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
            let w = LeastSquaresParams::new(*lambda).check()?.fit(views)?;
            let seconds = t.elapsed().as_secs_f64();
            Ok((w.outer_iter().map(|r| r.insert_axis(ndarray::Axis(0)).to_owned()).collect(), seconds))
        }
        ProxyMethod::KLeastSquares { k, lambda } => {
            let t = Instant::now();
            let w = KLeastSquaresParams::new(*k, *lambda).check()?.fit(views, method.seed)?;
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
