//! The imprinting pipeline for one class or one task: NORMpre, GEN, NORMpost.

use ndarray::{Array2, ArrayView2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::generator::{GenerateExt, ProxyGenerator};
use crate::head::ImprintedHead;
use crate::norm::{InputNorm, ZeroVectorPolicy};
use crate::weight_norm::{WeightNorm, WeightNormalizer};
use crate::{ImprintError, Result};

/// Imprints classes into an [`ImprintedHead`]: normalizes each class's shots
/// (NORMpre), generates proxies (GEN), normalizes them (NORMpost) and adds them.
///
/// Randomness is seeded per class from `seed` and the class index, so the
/// result does not depend on the number of threads or on which classes are
/// imprinted together.
#[derive(Debug)]
pub struct Imprinter {
    pre: InputNorm,
    generator: Box<dyn ProxyGenerator>,
    post: Box<dyn WeightNormalizer>,
    seed: u64,
}

impl Imprinter {
    /// A pipeline around `generator` with the defaults NORMpre = none,
    /// NORMpost = l2 (rejecting zero proxies) and seed 0.
    pub fn new(generator: impl ProxyGenerator + 'static) -> Self {
        Self::from_boxed(Box::new(generator))
    }

    /// Like [`Imprinter::new`] for a generator chosen at run time.
    pub fn from_boxed(generator: Box<dyn ProxyGenerator>) -> Self {
        Self {
            pre: InputNorm::None,
            generator,
            post: Box::new(WeightNorm::L2(ZeroVectorPolicy::Reject)),
            seed: 0,
        }
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
    pub fn generator(&self) -> &dyn ProxyGenerator {
        self.generator.as_ref()
    }

    /// NORMpre followed by GEN for one class, before NORMpost. `stream`
    /// separates the random streams of different classes.
    pub fn proxies(&self, shots: ArrayView2<'_, f32>, stream: u64) -> Result<Array2<f32>> {
        let shots = self.pre.apply(shots, "shots (NORMpre)")?;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(stream);
        self.generator.generate(shots.view(), &mut rng)
    }

    /// Imprints one new class named `name` and returns its index.
    pub fn imprint_class(
        &self,
        head: &mut ImprintedHead,
        name: impl Into<String>,
        shots: ArrayView2<'_, f32>,
    ) -> Result<usize> {
        let class = head.n_classes();
        let proxies = self.proxies(shots, class as u64).map_err(|e| in_class(e, class))?;
        let proxies = self.post.normalize(proxies.view(), head.weights())?;
        head.add_class(name, proxies.view())
    }

    /// Imprints several new classes (one task). Proxies are generated in
    /// parallel; NORMpost and insertion follow the given order, because
    /// quantile normalization depends on the weights imprinted before.
    /// On error the head is left unchanged.
    pub fn imprint_task<S: AsRef<str> + Sync>(
        &self,
        head: &mut ImprintedHead,
        classes: &[(S, ArrayView2<'_, f32>)],
    ) -> Result<Vec<usize>> {
        let first = head.n_classes();
        let generated: Vec<Array2<f32>> = classes
            .par_iter()
            .enumerate()
            .map(|(i, (_, shots))| {
                self.proxies(*shots, (first + i) as u64).map_err(|e| in_class(e, first + i))
            })
            .collect::<Result<_>>()?;
        let mut updated = head.clone();
        let mut indices = Vec::with_capacity(classes.len());
        for ((name, _), proxies) in classes.iter().zip(generated) {
            let proxies = self.post.normalize(proxies.view(), updated.weights())?;
            indices.push(updated.add_class(name.as_ref(), proxies.view())?);
        }
        *head = updated;
        Ok(indices)
    }

    /// Generates proxies from new samples of an existing class and adds them to it.
    pub fn add_shots(
        &self,
        head: &mut ImprintedHead,
        class: usize,
        shots: ArrayView2<'_, f32>,
    ) -> Result<()> {
        let existing = head.class_proxies(class)?.nrows() as u64;
        let proxies =
            self.proxies(shots, ((class as u64) << 32) | existing).map_err(|e| in_class(e, class))?;
        let proxies = self.post.normalize(proxies.view(), head.weights())?;
        head.extend_class(class, proxies.view())
    }
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
