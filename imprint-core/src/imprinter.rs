//! The imprinting pipeline for one class or one task: NORMpre, GEN, NORMpost.

use std::time::Instant;

use ndarray::{Array2, ArrayView2, CowArray, Ix2};
use rayon::prelude::*;

use crate::check::Shots;
use crate::generator::{GenerateExt, Generator, JointGenerateExt, JointGenerator, ProxyGenerator};
use crate::head::ImprintedHead;
use crate::norm::{InputNorm, ZeroVectorPolicy};
use crate::presampler::Presampler;
use crate::random::{Stream, StreamRng, stream_rng};
use crate::reference_rng::{RngMode, TorchGenerator};
use crate::weight_norm::{WeightNorm, WeightNormalizer};
use crate::{ImprintError, Result, RngCore};

/// Imprints classes into an [`ImprintedHead`]: normalizes each class's shots
/// (NORMpre), generates proxies (GEN), normalizes them (NORMpost) and adds them.
///
/// Every imprinting path of the project (the experiment grid, the practitioner
/// head, the command line and the Python package) goes through this type.
///
/// Randomness comes from [`stream_rng`]: class `c` of a head draws from
/// [`Stream::class`]`(c)` under the imprinter's seed, so the result does not
/// depend on the number of threads or on which classes are imprinted together.
/// In [`RngMode::Reference`] every draw is the reference's instead: one
/// [`TorchGenerator`] seeded with the seed runs through the classes in order
/// (presampling, then GEN, class after class, as the reference's
/// `run_combination`), with generators built in their reference flavour.
#[derive(Debug)]
pub struct Imprinter {
    pre: InputNorm,
    presampler: Option<Box<dyn Presampler>>,
    generator: Generator,
    post: Box<dyn WeightNormalizer>,
    seed: u64,
    rng_mode: RngMode,
}

/// Proxies generated for some classes (after NORMpre and GEN, before NORMpost)
/// and the time GEN took.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// The proxies of each class, in the order the classes were given.
    pub proxies: Vec<Array2<f32>>,
    /// Seconds spent in GEN (the generator's own work, without NORMpre or
    /// presampling), summed over classes: the reference's `total_GEN_time`.
    pub gen_seconds: f64,
    /// Shots each class kept after presampling (all of them without a presampler).
    pub n_shots: Vec<usize>,
}

/// What [`Imprinter::imprint_task`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskReport {
    /// Indices of the new classes in the head, in the order given.
    pub classes: Vec<usize>,
    /// Seconds spent in GEN, summed over the classes (see [`Generated`]).
    pub gen_seconds: f64,
}

impl Imprinter {
    /// A pipeline around a per-class `generator` with the defaults NORMpre =
    /// none, NORMpost = l2 (rejecting zero proxies) and seed 0.
    pub fn new(generator: impl ProxyGenerator + 'static) -> Self {
        Self::from_generator(Generator::PerClass(Box::new(generator)))
    }

    /// Like [`Imprinter::new`] for a generator chosen at run time.
    pub fn from_boxed(generator: Box<dyn ProxyGenerator>) -> Self {
        Self::from_generator(Generator::PerClass(generator))
    }

    /// A pipeline around a generator that needs every class of a task at once
    /// (`ls`, `kls`), with the same defaults as [`Imprinter::new`].
    pub fn joint(generator: impl JointGenerator + 'static) -> Self {
        Self::from_generator(Generator::Joint(Box::new(generator)))
    }

    /// A pipeline around a generator of either kind.
    pub fn from_generator(generator: Generator) -> Self {
        Self {
            pre: InputNorm::None,
            presampler: None,
            generator,
            post: Box::new(WeightNorm::L2(ZeroVectorPolicy::Reject)),
            seed: 0,
            rng_mode: RngMode::Portable,
        }
    }

    /// Sets a presampler, applied to each class after NORMpre and before GEN.
    pub fn with_presampler(mut self, presampler: impl Presampler + 'static) -> Self {
        self.presampler = Some(Box::new(presampler));
        self
    }

    /// Draws every random number as the reference does ([`RngMode::Reference`];
    /// the generator must be built in the same mode, e.g. by
    /// `imprint_gen::generator_by_name_with`) or portably (the default).
    pub fn with_rng_mode(mut self, rng_mode: RngMode) -> Self {
        self.rng_mode = rng_mode;
        self
    }

    /// The random-number mode.
    pub fn rng_mode(&self) -> RngMode {
        self.rng_mode
    }

    /// Sets NORMpre, applied to shots before proxy generation.
    pub fn with_pre_norm(mut self, pre: InputNorm) -> Self {
        self.pre = pre;
        self
    }

    /// Sets NORMpost, applied to generated proxies.
    pub fn with_post_norm(mut self, post: impl WeightNormalizer + 'static) -> Self {
        self.post = Box::new(post);
        self
    }

    /// Sets the seed of every random choice.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The proxy generator.
    pub fn generator(&self) -> &Generator {
        &self.generator
    }

    /// NORMpre.
    pub fn pre_norm(&self) -> InputNorm {
        self.pre
    }

    /// NORMpost.
    pub fn post_norm(&self) -> &dyn WeightNormalizer {
        self.post.as_ref()
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// NORMpre followed by GEN for the classes at head positions
    /// `positions[i]` with shots `classes[i]`, before NORMpost.
    ///
    /// A per-class generator runs the classes in parallel, each on its own
    /// random stream; a joint generator sees them all at once, as one task.
    pub fn generate<'a>(&self, classes: &[ArrayView2<'a, f32>], positions: &[usize]) -> Result<Generated> {
        if classes.len() != positions.len() {
            return Err(ImprintError::mismatch(
                "Imprinter::generate: positions",
                classes.len(),
                positions.len(),
            ));
        }
        match self.rng_mode {
            RngMode::Portable => self.generate_portable(classes, positions),
            RngMode::Reference => self.generate_reference(classes, positions),
        }
    }

    /// NORMpre, then the presampler on the class's stream (if any).
    fn prepare<'a>(
        &self,
        shots: ArrayView2<'a, f32>,
        c: usize,
        rng: &mut dyn RngCore,
    ) -> Result<CowArray<'a, f32, Ix2>> {
        let shots = self.pre.apply_cow(shots, "shots (NORMpre)").map_err(|e| in_class(e, c))?;
        let Some(presampler) = &self.presampler else {
            return Ok(shots);
        };
        let valid = Shots::new(shots.view(), "shots (presampling)").map_err(|e| in_class(e, c))?;
        let rows = presampler.select(valid, rng).map_err(|e| in_class(e, c))?;
        if rows.is_empty() || rows.iter().any(|&r| r >= shots.nrows()) {
            return Err(in_class(
                ImprintError::invalid(
                    "presampler",
                    format!("{presampler:?}"),
                    "selected no row or a row out of range",
                ),
                c,
            ));
        }
        Ok(CowArray::from(shots.select(ndarray::Axis(0), &rows)))
    }

    /// Portable draws: every class on its own stream, classes in parallel.
    fn generate_portable<'a>(
        &self,
        classes: &[ArrayView2<'a, f32>],
        positions: &[usize],
    ) -> Result<Generated> {
        let mut rngs: Vec<StreamRng> =
            positions.iter().map(|&c| stream_rng(self.seed, Stream::class(c))).collect();
        match &self.generator {
            Generator::PerClass(generator) => {
                let timed: Vec<(Array2<f32>, f64, usize)> = classes
                    .par_iter()
                    .zip(rngs.par_iter_mut())
                    .zip(positions)
                    .map(|((shots, rng), &c)| {
                        let shots = self.prepare(*shots, c, rng)?;
                        let start = Instant::now();
                        let proxies = generator.generate(shots.view(), rng).map_err(|e| in_class(e, c))?;
                        Ok((proxies, start.elapsed().as_secs_f64(), shots.nrows()))
                    })
                    .collect::<Result<_>>()?;
                Ok(Generated {
                    gen_seconds: timed.iter().map(|(_, s, _)| s).sum(),
                    n_shots: timed.iter().map(|(_, _, n)| *n).collect(),
                    proxies: timed.into_iter().map(|(p, _, _)| p).collect(),
                })
            }
            Generator::Joint(generator) => {
                let prepared: Vec<CowArray<'a, f32, Ix2>> = classes
                    .par_iter()
                    .zip(rngs.par_iter_mut())
                    .zip(positions)
                    .map(|((shots, rng), &c)| self.prepare(*shots, c, rng))
                    .collect::<Result<_>>()?;
                self.generate_joint(generator.as_ref(), &prepared, &mut rngs)
            }
        }
    }

    /// The reference's draws: one torch generator through the classes in
    /// order, presampling then GEN per class (all presampling first for the
    /// joint generators), and the reference's `select_proxies` dispatch.
    fn generate_reference<'a>(
        &self,
        classes: &[ArrayView2<'a, f32>],
        positions: &[usize],
    ) -> Result<Generated> {
        let mut torch = TorchGenerator::new(self.seed);
        match &self.generator {
            Generator::PerClass(generator) => {
                let mut out = Generated { proxies: Vec::new(), gen_seconds: 0.0, n_shots: Vec::new() };
                for (shots, &c) in classes.iter().zip(positions) {
                    let shots = self.prepare(*shots, c, &mut torch)?;
                    let start = Instant::now();
                    let proxies = if reference_selects(generator.as_ref(), shots.nrows()) {
                        generator.generate(shots.view(), &mut torch).map_err(|e| in_class(e, c))?
                    } else {
                        Shots::new(shots.view(), "shots").map_err(|e| in_class(e, c))?.view().to_owned()
                    };
                    out.gen_seconds += start.elapsed().as_secs_f64();
                    out.n_shots.push(shots.nrows());
                    out.proxies.push(proxies);
                }
                Ok(out)
            }
            Generator::Joint(generator) => {
                let prepared: Vec<CowArray<'a, f32, Ix2>> = classes
                    .iter()
                    .zip(positions)
                    .map(|(shots, &c)| self.prepare(*shots, c, &mut torch))
                    .collect::<Result<_>>()?;
                let mut rngs: Vec<StreamRng> =
                    positions.iter().map(|&c| stream_rng(self.seed, Stream::class(c))).collect();
                self.generate_joint(generator.as_ref(), &prepared, &mut rngs)
            }
        }
    }

    fn generate_joint(
        &self,
        generator: &dyn JointGenerator,
        prepared: &[CowArray<'_, f32, Ix2>],
        rngs: &mut [StreamRng],
    ) -> Result<Generated> {
        let views: Vec<ArrayView2<'_, f32>> = prepared.iter().map(|x| x.view()).collect();
        let start = Instant::now();
        let proxies = generator.generate_joint(&views, rngs)?;
        Ok(Generated {
            proxies,
            gen_seconds: start.elapsed().as_secs_f64(),
            n_shots: views.iter().map(|v| v.nrows()).collect(),
        })
    }

    /// NORMpost of one class's `proxies`, given the weights imprinted before
    /// it (the reference distribution of quantile normalization).
    pub fn post_normalize(
        &self,
        proxies: ArrayView2<'_, f32>,
        imprinted: ArrayView2<'_, f32>,
    ) -> Result<Array2<f32>> {
        self.post.normalize(proxies, imprinted)
    }

    /// Imprints one new class named `name` and returns its index. A joint
    /// generator sees it as a task of one class.
    pub fn imprint_class(
        &self,
        head: &mut ImprintedHead,
        name: impl Into<String>,
        shots: ArrayView2<'_, f32>,
    ) -> Result<usize> {
        let report = self.imprint_task(head, &[(name.into(), shots)])?;
        Ok(report.classes[0])
    }

    /// Imprints several new classes (one task). NORMpost and insertion follow
    /// the given order, because quantile normalization depends on the weights
    /// imprinted before. On error the head is left unchanged.
    pub fn imprint_task<S: AsRef<str> + Sync>(
        &self,
        head: &mut ImprintedHead,
        classes: &[(S, ArrayView2<'_, f32>)],
    ) -> Result<TaskReport> {
        let first = head.n_classes();
        let shots: Vec<ArrayView2<'_, f32>> = classes.iter().map(|(_, x)| *x).collect();
        let positions: Vec<usize> = (first..first + classes.len()).collect();
        let generated = self.generate(&shots, &positions)?;
        let mut updated = head.clone();
        let mut indices = Vec::with_capacity(classes.len());
        for ((name, _), proxies) in classes.iter().zip(generated.proxies) {
            let proxies = self.post.normalize(proxies.view(), updated.weights())?;
            indices.push(updated.add_class(name.as_ref(), proxies.view())?);
        }
        *head = updated;
        Ok(TaskReport { classes: indices, gen_seconds: generated.gen_seconds })
    }

    /// Generates proxies from new samples of an existing class alone and
    /// appends them to it (NORMpost against every weight in the head).
    ///
    /// This is exact only for generators whose proxies append
    /// ([`crate::Incremental::Append`]); for the others it is an
    /// approximation that grows the class with every call. The draws come
    /// from [`Stream::append`], numbered by the class's current proxy count, so
    /// they never repeat another class's or another addition's draws. Joint
    /// generators cannot add to one class: refit the task.
    pub fn add_shots(
        &self,
        head: &mut ImprintedHead,
        class: usize,
        shots: ArrayView2<'_, f32>,
    ) -> Result<()> {
        let generator = match &self.generator {
            Generator::PerClass(g) => g,
            Generator::Joint(g) => {
                return Err(ImprintError::invalid(
                    "generator",
                    g.name(),
                    "a joint generator fits every class at once; imprint the task again with all shots",
                ));
            }
        };
        let update = head.class_proxies(class)?.nrows() as u64;
        let shots = self.pre.apply(shots, "shots (NORMpre)").map_err(|e| in_class(e, class))?;
        let mut rng = stream_rng(self.seed, Stream::append(class, update)?);
        let proxies = generator.generate(shots.view(), &mut rng).map_err(|e| in_class(e, class))?;
        let proxies = self.post.normalize(proxies.view(), head.weights())?;
        head.extend_class(class, proxies.view())
    }
}

/// Whether the reference's `select_proxies` runs the generator on `n`
/// samples: not when it keeps every sample (`all`, or fewer than `k`), and
/// not for a single sample, except for `none`, which draws even then.
fn reference_selects(generator: &dyn ProxyGenerator, n: usize) -> bool {
    let keeps_all = generator.n_proxies().is_none_or(|k| n < k);
    !(keeps_all || (n == 1 && generator.name() != "none"))
}

/// Adds the class index to errors about "shots" so the user knows which class failed.
fn in_class(err: ImprintError, class: usize) -> ImprintError {
    match err {
        ImprintError::Empty { what } => ImprintError::Empty { what: format!("class {class}: {what}") },
        ImprintError::NonFinite { what, row, col, value } => {
            ImprintError::NonFinite { what: format!("class {class}: {what}"), row, col, value }
        }
        ImprintError::ZeroVector { what, row } => {
            ImprintError::ZeroVector { what: format!("class {class}: {what}"), row }
        }
        ImprintError::ZeroDim { what } => ImprintError::ZeroDim { what: format!("class {class}: {what}") },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, array, s};
    use rand::RngCore;

    use super::*;
    use crate::Shots;

    /// A tiny generator for pipeline tests: the first row, plus a random sign flip
    /// so that seeding is observable.
    #[derive(Debug)]
    struct FirstRow;

    impl ProxyGenerator for FirstRow {
        fn name(&self) -> &str {
            "first-row"
        }
        fn n_proxies(&self) -> Option<usize> {
            Some(1)
        }
        fn propose(&self, shots: Shots<'_>, rng: &mut dyn RngCore) -> Result<Array2<f32>> {
            let sign = if rng.next_u32().is_multiple_of(2) { 1.0 } else { -1.0 };
            Ok(shots.view().slice(s![..1, ..]).mapv(|v| v * sign))
        }
    }

    #[test]
    fn task_equals_class_by_class() {
        let a = array![[3.0f32, 4.0], [1.0, 1.0]];
        let b = array![[0.0f32, 2.0]];
        let imprinter = Imprinter::new(FirstRow).with_seed(7);
        let mut one = ImprintedHead::new(2).unwrap();
        imprinter.imprint_class(&mut one, "a", a.view()).unwrap();
        imprinter.imprint_class(&mut one, "b", b.view()).unwrap();
        let mut task = ImprintedHead::new(2).unwrap();
        imprinter.imprint_task(&mut task, &[("a", a.view()), ("b", b.view())]).unwrap();
        assert!(one.n_classes() == 2);
        assert_eq!(one, task);
        let norms: Vec<f32> = task.weights().outer_iter().map(|r| r.dot(&r)).collect();
        assert!(norms.iter().all(|n| (n - 1.0).abs() < 1e-6), "NORMpost = l2 by default");
    }

    #[test]
    fn a_failing_class_is_named_and_leaves_the_head_unchanged() {
        let good = array![[1.0f32, 0.0]];
        let bad = array![[1.0f32, f32::INFINITY]];
        let imprinter = Imprinter::new(FirstRow);
        let mut head = ImprintedHead::new(2).unwrap();
        imprinter.imprint_class(&mut head, "g", good.view()).unwrap();
        let err = imprinter.imprint_task(&mut head, &[("x", good.view()), ("y", bad.view())]).unwrap_err();
        assert!(err.to_string().contains("class 2"), "{err}");
        assert_eq!(head.n_classes(), 1);
        let zero = array![[0.0f32, 0.0]];
        let err = imprinter.imprint_class(&mut head, "z", zero.view()).unwrap_err();
        assert!(matches!(err, ImprintError::ZeroVector { .. }), "{err}");
        let empty = Array2::<f32>::zeros((0, 2));
        assert!(matches!(
            imprinter.imprint_class(&mut head, "e", empty.view()),
            Err(ImprintError::Empty { .. })
        ));
    }

    #[test]
    fn add_shots_extends_a_class() {
        let imprinter = Imprinter::new(FirstRow).with_post_norm(WeightNorm::None);
        let mut head = ImprintedHead::new(2).unwrap();
        imprinter.imprint_class(&mut head, "a", array![[1.0f32, 0.0]].view()).unwrap();
        imprinter.add_shots(&mut head, 0, array![[0.0f32, 5.0]].view()).unwrap();
        assert_eq!(head.class_proxies(0).unwrap().nrows(), 2);
        assert!(imprinter.add_shots(&mut head, 3, array![[0.0f32, 5.0]].view()).is_err());
    }
}
