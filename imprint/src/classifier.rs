//! The practitioner's head: labelled classes imprinted with a recipe, exact
//! updates, scores, probabilities, top-k and "unknown".

use std::collections::HashMap;

use imprint_core::{
    Aggregation, Generator, ImprintError, ImprintedHead, Imprinter, Incremental, InputNorm, Result, RngMode,
    RunningMean, Stream, WeightNorm, ZeroVectorPolicy, check_dim, check_embeddings, sum_of_squares,
};
use ndarray::{Array2, ArrayView2, Axis, concatenate};
use rayon::prelude::*;

use crate::calibration::{Calibration, knownness_distance};
use crate::label::{ClassLabel, check_one_kind};
use crate::recipe::{Recipe, Updates};

/// In which order the classes of [`Classifier::fit`] are imprinted (and so
/// numbered): the order matters for quantile NORMpost and for each class's
/// random stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClassOrder {
    /// Ascending labels (integers numerically, strings by bytes), as
    /// scikit-learn's `classes_`.
    #[default]
    Sorted,
    /// The order in which labels first appear in the rows.
    FirstSeen,
}

/// What a class keeps so that added shots update it exactly.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Memory {
    /// Every shot given so far, before NORMpre (generators that refit).
    Shots(Array2<f32>),
    /// The running sum of the NORMpre'd shots (`mean`).
    Mean(RunningMean),
    /// Nothing: added shots append proxies (`all`, or [`Updates::Append`]).
    Nothing,
}

/// One class of a [`Classifier`] beyond its proxies.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClassState {
    /// Its random stream: the position at which it was first imprinted.
    pub(crate) stream: usize,
    /// What exact updates need.
    pub(crate) memory: Memory,
    /// Its proxies before NORMpost, kept when NORMpost is quantile (which
    /// depends on the classes before), so that later classes can be normalized again.
    pub(crate) raw: Option<Array2<f32>>,
    /// Batches of shots appended so far (numbers their random streams).
    pub(crate) appended: u64,
}

/// An imprinted classifier head: the proxies of labelled classes, the
/// [`Recipe`] that made them, what exact updates need, and calibration.
///
/// Invariant (with [`Updates::Exact`]): the head equals, bit for bit, the
/// head imprinted once from scratch with the current classes in their current
/// order and all their current shots, each class drawing from the random
/// stream of the position where it was first imprinted. Adding shots to a
/// class or adding a class keeps it; with quantile NORMpost (which normalizes
/// each class against the weights of the classes before it) an update
/// normalizes the changed class and every later class again, and removing a
/// class does too.
///
/// ```
/// use imprint::{ClassLabel, Classifier, GeneratorSpec, Recipe};
/// use ndarray::array;
///
/// # fn main() -> Result<(), imprint_core::ImprintError> {
/// let x = array![[1.0f32, 0.1], [0.9, 0.0], [0.0, 1.0], [0.1, 0.8]];
/// let recipe = Recipe::paper().with_generator(GeneratorSpec::new("mean", None));
/// let mut head = Classifier::fit(recipe, x.view(), &["cat", "cat", "dog", "dog"])?;
/// head.add_shots(&"cat".into(), array![[1.1f32, 0.2]].view())?;
/// head.add_class("fox".into(), array![[-1.0f32, 0.0], [-0.9, 0.1]].view())?;
/// let predicted = head.predict(array![[0.0f32, 0.9], [-1.0, 0.05]].view())?;
/// assert_eq!(predicted, vec![ClassLabel::from("dog"), ClassLabel::from("fox")]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Classifier {
    pub(crate) recipe: Recipe,
    pub(crate) imprinter: Imprinter,
    pub(crate) head: ImprintedHead,
    pub(crate) labels: Vec<ClassLabel>,
    pub(crate) states: Vec<ClassState>,
    pub(crate) next_stream: usize,
    pub(crate) calibration: Calibration,
}

impl Clone for Classifier {
    fn clone(&self) -> Self {
        Self {
            recipe: self.recipe.clone(),
            imprinter: self.recipe.imprinter().expect("internal: the recipe built an imprinter before"),
            head: self.head.clone(),
            labels: self.labels.clone(),
            states: self.states.clone(),
            next_stream: self.next_stream,
            calibration: self.calibration.clone(),
        }
    }
}

impl PartialEq for Classifier {
    fn eq(&self, other: &Self) -> bool {
        self.recipe == other.recipe
            && self.head == other.head
            && self.labels == other.labels
            && self.states == other.states
            && self.next_stream == other.next_stream
            && self.calibration == other.calibration
    }
}

impl Classifier {
    /// An empty classifier for `dim`-dimensional embeddings.
    ///
    /// # Errors
    /// `dim = 0`, or a recipe whose generator does not build.
    pub fn new(recipe: Recipe, dim: usize) -> Result<Self> {
        let imprinter = recipe.imprinter()?;
        let head = ImprintedHead::with_inference(dim, recipe.input_norm, recipe.aggregation)?;
        Ok(Self {
            recipe,
            imprinter,
            head,
            labels: Vec::new(),
            states: Vec::new(),
            next_stream: 0,
            calibration: Calibration::default(),
        })
    }

    /// Imprints one class per distinct label of `y` (one label per row of
    /// `x`), classes in ascending label order ([`ClassOrder::Sorted`]).
    ///
    /// # Errors
    /// Mismatched lengths, no rows, non-finite values, mixed label kinds, and
    /// every error of imprinting (e.g. a zero vector under L2).
    pub fn fit<L: TryInto<ClassLabel, Error: Into<ImprintError>> + Clone>(
        recipe: Recipe,
        x: ArrayView2<'_, f32>,
        y: &[L],
    ) -> Result<Self> {
        Self::fit_ordered(recipe, x, y, ClassOrder::Sorted)
    }

    /// [`Classifier::fit`] with the class order chosen.
    pub fn fit_ordered<L: TryInto<ClassLabel, Error: Into<ImprintError>> + Clone>(
        recipe: Recipe,
        x: ArrayView2<'_, f32>,
        y: &[L],
        order: ClassOrder,
    ) -> Result<Self> {
        let mut classifier = Self::new(recipe, x.ncols())?;
        let groups = group_rows(x, y, order)?;
        let classes: Vec<(ClassLabel, ArrayView2<'_, f32>)> =
            groups.iter().map(|(label, rows)| (label.clone(), rows.view())).collect();
        classifier.add_classes(&classes)?;
        Ok(classifier)
    }

    /// Imprints the classes `classes`, in that order, from rows grouped by
    /// class index: row `i` of `x` is a shot of class `classes[codes[i]]`.
    /// Every class needs at least one row; labels are unique and of one kind.
    ///
    /// The result equals, bit for bit, [`Classifier::new`] followed by
    /// [`Classifier::add_classes`] with each class's rows in row order (so,
    /// with `classes` in ascending order, [`Classifier::fit`] with the rows'
    /// labels). It is the entry point for callers that hold labels as
    /// integer codes (NumPy, data frames): nothing is allocated per row, and
    /// a `mean` generator with exact updates streams the rows once into each
    /// class's running sum instead of copying them per class.
    ///
    /// # Errors
    /// `codes` not one per row, a code without a class, a class without
    /// rows, duplicate or mixed labels, and every error of
    /// [`Classifier::fit`].
    pub fn fit_indexed(
        recipe: Recipe,
        x: ArrayView2<'_, f32>,
        codes: &[usize],
        classes: &[ClassLabel],
    ) -> Result<Self> {
        if codes.len() != x.nrows() {
            return Err(ImprintError::mismatch(
                "labels",
                format!("{} (one per row of the embeddings)", x.nrows()),
                codes.len(),
            ));
        }
        // Shape first; values are checked where they are read.
        check_embeddings(x.slice(ndarray::s![..x.nrows().min(1), ..]), "embeddings")?;
        check_one_kind(classes, "the labels")?;
        let mut indices: Vec<Vec<usize>> = vec![Vec::new(); classes.len()];
        for (i, &c) in codes.iter().enumerate() {
            indices
                .get_mut(c)
                .ok_or_else(|| {
                    ImprintError::invalid("label code", c, format!("row {i}: only {} classes", classes.len()))
                })?
                .push(i);
        }
        if let Some(c) = indices.iter().position(Vec::is_empty) {
            return Err(ImprintError::Empty {
                what: format!("class '{}' (no row has its code {c})", classes[c]),
            });
        }
        let mut classifier = Self::new(recipe, x.ncols())?;
        // Reference RNG mode keeps every class's shots (it refits all classes
        // on every update), so only the portable mode streams.
        let streams_mean = classifier.recipe.updates == Updates::Exact
            && !classifier.refits_all()
            && matches!(classifier.imprinter.generator(), Generator::PerClass(g) if g.incremental() == Incremental::RunningMean);
        if !streams_mean {
            check_embeddings(x, "embeddings")?;
            let shots: Vec<Array2<f32>> = indices.iter().map(|r| x.select(Axis(0), r)).collect();
            let groups: Vec<(ClassLabel, ArrayView2<'_, f32>)> =
                classes.iter().cloned().zip(shots.iter().map(|s| s.view())).collect();
            classifier.add_classes(&groups)?;
            return Ok(classifier);
        }
        for (i, label) in classes.iter().enumerate() {
            if classes[..i].contains(label) {
                return Err(ImprintError::invalid(
                    "class label",
                    label,
                    "the classifier already has a class with this label",
                ));
            }
        }
        // Each class's running sum of its NORMpre'd rows, in row order: what
        // `initial_memory` keeps and, for Incremental::RunningMean, exactly
        // the generator's mean. Classes run in parallel; each row is read
        // once and normalized on the fly (the arithmetic of
        // `l2_normalize_rows_in_place` and `RunningMean::add`, fused).
        let pre_norm = classifier.recipe.pre_norm;
        let dim = x.ncols();
        let sums: Vec<std::result::Result<RunningMean, RowError>> = indices
            .par_iter()
            .map(|rows| {
                let mut sum = vec![0.0f64; dim];
                let mut scratch = vec![0.0f32; dim];
                for &i in rows {
                    let row = x.row(i);
                    let r: &[f32] = match row.to_slice() {
                        Some(r) => r,
                        None => {
                            scratch.iter_mut().zip(row).for_each(|(s, &v)| *s = v);
                            &scratch
                        }
                    };
                    let scale = match pre_norm {
                        InputNorm::None => None,
                        InputNorm::L2(policy) => {
                            let norm = sum_of_squares(r).sqrt();
                            if norm > 0.0 && norm.is_finite() {
                                Some(1.0 / norm)
                            } else if norm == 0.0 {
                                if policy == ZeroVectorPolicy::Reject {
                                    return Err(RowError::Zero(i));
                                }
                                None // a zero row stays as it is
                            } else {
                                return Err(RowError::NonFinite);
                            }
                        }
                    };
                    match scale {
                        Some(inv) => sum
                            .iter_mut()
                            .zip(r)
                            .for_each(|(s, &v)| *s += f64::from((f64::from(v) * inv) as f32)),
                        None => {
                            if r.iter().any(|v| !v.is_finite()) {
                                return Err(RowError::NonFinite);
                            }
                            sum.iter_mut().zip(r).for_each(|(s, &v)| *s += f64::from(v));
                        }
                    }
                }
                RunningMean::from_parts(sum, rows.len() as u64).map_err(|_| RowError::NonFinite)
            })
            .collect();
        // Whatever thread found it, the error `fit` reports: the first
        // non-finite value in `x` (a full check, on error paths only: a
        // class stops at its first bad row), else the first zero vector.
        if sums.iter().any(std::result::Result::is_err) {
            check_embeddings(x, "embeddings")?;
        }
        if let Some(row) = sums
            .iter()
            .filter_map(|s| match s {
                Err(RowError::Zero(row)) => Some(*row),
                _ => None,
            })
            .min()
        {
            return Err(ImprintError::ZeroVector { what: "embeddings (NORMpre)".to_owned(), row });
        }
        // Every error was reported above; a sum that still failed would be a
        // bug, and is an error rather than a class silently left out.
        let sums = sums
            .into_iter()
            .collect::<std::result::Result<Vec<RunningMean>, RowError>>()
            .map_err(|_| ImprintError::invalid("embeddings", "a class's running sum", "is not finite"))?;
        for (c, (label, running)) in classes.iter().zip(sums).enumerate() {
            let raw = running.mean()?;
            let proxies = classifier.imprinter.post_normalize(raw.view(), classifier.head.weights())?;
            classifier.head.add_class(label.to_string(), proxies.view())?;
            classifier.labels.push(label.clone());
            classifier.states.push(ClassState {
                stream: c,
                memory: Memory::Mean(running),
                raw: classifier.keeps_raw().then_some(raw),
                appended: 0,
            });
        }
        classifier.next_stream = classes.len();
        Ok(classifier)
    }

    /// Adds labelled rows: rows with a new label become new classes (appended
    /// in [`ClassOrder::Sorted`] order of the new labels), rows with a known
    /// label are added to that class with [`Classifier::add_shots`]. On error
    /// the classifier is unchanged.
    pub fn partial_fit<L: TryInto<ClassLabel, Error: Into<ImprintError>> + Clone>(
        &mut self,
        x: ArrayView2<'_, f32>,
        y: &[L],
    ) -> Result<()> {
        let groups = group_rows(x, y, ClassOrder::Sorted)?;
        check_one_kind(
            self.labels.iter().chain(groups.iter().map(|(l, _)| l)),
            "the classifier's and the new labels",
        )?;
        let mut updated = self.clone();
        let mut new = Vec::new();
        for (label, rows) in &groups {
            match updated.class_index(label) {
                Some(_) => updated.add_shots(label, rows.view())?,
                None => new.push((label.clone(), rows.view())),
            }
        }
        if !new.is_empty() {
            updated.add_classes(&new)?;
        }
        *self = updated;
        Ok(())
    }

    /// Imprints one new class and returns its index.
    pub fn add_class(&mut self, label: ClassLabel, shots: ArrayView2<'_, f32>) -> Result<usize> {
        Ok(self.add_classes(&[(label, shots)])?[0])
    }

    /// Imprints several new classes (one task), in the given order, and
    /// returns their indices. A joint generator (`ls`, `kls`) refits every
    /// class of the head. On error the classifier is unchanged.
    pub fn add_classes(&mut self, classes: &[(ClassLabel, ArrayView2<'_, f32>)]) -> Result<Vec<usize>> {
        if classes.is_empty() {
            return Ok(Vec::new());
        }
        check_one_kind(
            self.labels.iter().chain(classes.iter().map(|(l, _)| l)),
            "the classifier's and the new labels",
        )?;
        for (i, (label, shots)) in classes.iter().enumerate() {
            if self.class_index(label).is_some() || classes[..i].iter().any(|(l, _)| l == label) {
                return Err(ImprintError::invalid(
                    "class label",
                    label,
                    "the classifier already has a class with this label",
                ));
            }
            check_embeddings(*shots, &format!("shots of class '{label}'"))?;
            check_dim(*shots, self.dim(), "Classifier::add_classes (shots against the head)")?;
        }
        let mut updated = self.clone();
        let first = updated.labels.len();
        for (label, shots) in classes {
            let stream = updated.next_stream;
            updated.next_stream += 1;
            updated.labels.push(label.clone());
            updated.states.push(ClassState {
                stream,
                memory: updated.initial_memory(*shots)?,
                raw: None,
                appended: 0,
            });
        }
        match updated.imprinter.generator() {
            _ if updated.refits_all() => {
                let all = updated.all_shots()?;
                updated.refit_all(all.iter().map(|s| s.view()).collect())?;
            }
            _ => {
                let shots: Vec<ArrayView2<'_, f32>> = classes.iter().map(|(_, s)| *s).collect();
                let streams: Vec<usize> = updated.states[first..].iter().map(|s| s.stream).collect();
                let generated = updated.imprinter.generate(&shots, &streams)?;
                for ((label, _), raw) in classes.iter().zip(generated.proxies) {
                    let c = updated.head.n_classes();
                    let proxies = updated.imprinter.post_normalize(raw.view(), updated.head.weights())?;
                    updated.head.add_class(label.to_string(), proxies.view())?;
                    if updated.keeps_raw() {
                        updated.states[c].raw = Some(raw);
                    }
                }
            }
        }
        let new: Vec<usize> = (first..first + classes.len()).collect();
        let shots: Vec<ArrayView2<'_, f32>> = classes.iter().map(|(_, s)| *s).collect();
        updated.recalibrate(&new, &shots)?;
        *self = updated;
        Ok(new)
    }

    /// Adds shots to the class `label`. With [`Updates::Exact`] the result
    /// equals imprinting the class once with all its shots; see the type's
    /// invariant. On error the classifier is unchanged.
    pub fn add_shots(&mut self, label: &ClassLabel, shots: ArrayView2<'_, f32>) -> Result<()> {
        let c = self.index_of(label)?;
        check_embeddings(shots, &format!("shots added to class '{label}'"))?;
        check_dim(shots, self.dim(), "Classifier::add_shots (shots against the head)")?;
        let mut updated = self.clone();
        if updated.refits_all() {
            let Memory::Shots(old) = &updated.states[c].memory else {
                return Err(ImprintError::invalid(
                    "class",
                    label,
                    "ls and kls refit every class from its shots, but this class kept none (an int8 export)",
                ));
            };
            updated.states[c].memory = Memory::Shots(concatenate![Axis(0), old.view(), shots]);
            let all = updated.all_shots()?;
            updated.refit_all(all.iter().map(|s| s.view()).collect())?;
            updated.recalibrate(&[c], &[all[c].view()])?;
            *self = updated;
            return Ok(());
        }
        let stream = updated.states[c].stream;
        match &mut updated.states[c].memory {
            Memory::Shots(old) => {
                let all = concatenate![Axis(0), old.view(), shots];
                let raw = updated.imprinter.generate(&[all.view()], &[stream])?.proxies.remove(0);
                *old = all.clone();
                updated.set_class_raw(c, raw)?;
                updated.recalibrate(&[c], &[all.view()])?;
            }
            Memory::Mean(running) => {
                let normalized = updated.recipe.pre_norm.apply(shots, "shots (NORMpre)")?;
                running.add(normalized.view())?;
                let raw = running.mean()?;
                updated.set_class_raw(c, raw)?;
            }
            Memory::Nothing => {
                let appended = if updated.imprinter.generator().incremental() == Incremental::Append {
                    updated.imprinter.generate(&[shots], &[stream])?.proxies.remove(0)
                } else {
                    let update = updated.states[c].appended;
                    updated.states[c].appended += 1;
                    updated.generate_appended(c, update, shots)?
                };
                updated.append_class_raw(c, appended)?;
            }
        }
        *self = updated;
        Ok(())
    }

    /// Removes the class `label`; later classes move down one index and keep
    /// their random streams (quantile NORMpost normalizes them again).
    pub fn remove_class(&mut self, label: &ClassLabel) -> Result<()> {
        let c = self.index_of(label)?;
        let mut updated = self.clone();
        updated.head.remove_class(c)?;
        updated.labels.remove(c);
        updated.states.remove(c);
        updated.calibration.remove_class(c);
        if updated.refits_all() {
            if !updated.labels.is_empty() {
                let all = updated.all_shots()?;
                updated.refit_all(all.iter().map(|s| s.view()).collect())?;
            }
        } else if updated.keeps_raw() {
            updated.renormalize_from(c)?;
        }
        *self = updated;
        Ok(())
    }

    /// Renames the class `from` to `to` (labels stay unique and of one kind).
    pub fn rename_class(&mut self, from: &ClassLabel, to: ClassLabel) -> Result<()> {
        let c = self.index_of(from)?;
        if self.class_index(&to).is_some_and(|other| other != c) {
            return Err(ImprintError::invalid(
                "class label",
                &to,
                "the classifier already has a class with this label",
            ));
        }
        check_one_kind(
            self.labels.iter().enumerate().filter(|(i, _)| *i != c).map(|(_, l)| l).chain([&to]),
            "the labels",
        )?;
        self.head.rename_class(c, to.to_string())?;
        self.labels[c] = to;
        Ok(())
    }

    /// The class labels in class-index order.
    pub fn classes(&self) -> &[ClassLabel] {
        &self.labels
    }

    /// Index of the class `label`, if any.
    pub fn class_index(&self, label: &ClassLabel) -> Option<usize> {
        self.labels.iter().position(|l| l == label)
    }

    /// The recipe.
    pub fn recipe(&self) -> &Recipe {
        &self.recipe
    }

    /// Embedding dimension.
    pub fn dim(&self) -> usize {
        self.head.dim()
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.labels.len()
    }

    /// The proxies grouped by class, with NORMinf and AGG (the inference head).
    pub fn head(&self) -> &ImprintedHead {
        &self.head
    }

    /// Proxies per class, in class order.
    pub fn proxy_counts(&self) -> Vec<usize> {
        (0..self.n_classes()).map(|c| self.head.class_proxies(c).map_or(0, |p| p.nrows())).collect()
    }

    /// Shots kept per class for exact updates (0 where a running mean or
    /// nothing is kept).
    pub fn kept_shots(&self) -> Vec<usize> {
        self.states
            .iter()
            .map(|s| match &s.memory {
                Memory::Shots(x) => x.nrows(),
                _ => 0,
            })
            .collect()
    }

    /// The calibration (temperature, rejection thresholds).
    pub fn calibration(&self) -> &Calibration {
        &self.calibration
    }

    /// Class scores, `n x n_classes`, higher is better: for `max` the largest
    /// similarity of the class's proxies (the inner product, the cosine
    /// similarity, or minus a distance); for m-nn the class's share of the
    /// neighbours' votes (in [0, 1], summing to 1 per row).
    ///
    /// # Errors
    /// Besides the input's errors, [`ImprintError::NonFinite`] naming the
    /// row and class whose score overflows float32 (rows of huge values).
    pub fn scores(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        let mut scores = self.head.scores(x)?;
        check_scores(scores.view())?;
        if let Aggregation::Mnn(_) = self.recipe.aggregation {
            for mut row in scores.outer_iter_mut() {
                let total: f32 = row.sum();
                if total > 0.0 {
                    row.mapv_inplace(|v| v / total);
                }
            }
        }
        Ok(scores)
    }

    /// Predicted class index per row (ties to the lowest index).
    pub fn predict_indices(&self, x: ArrayView2<'_, f32>) -> Result<Vec<usize>> {
        self.head.predict(x)
    }

    /// Predicted label per row.
    pub fn predict(&self, x: ArrayView2<'_, f32>) -> Result<Vec<ClassLabel>> {
        Ok(self.predict_indices(x)?.into_iter().map(|c| self.labels[c].clone()).collect())
    }

    /// Class probabilities, `n x n_classes`: a softmax of [`Classifier::scores`]
    /// divided by the calibrated temperature (1 until calibrated, see
    /// [`Classifier::calibrate_temperature`]).
    pub fn predict_proba(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        Ok(crate::calibration::softmax(self.scores(x)?.view(), self.calibration.temperature()))
    }

    /// The `k` most probable labels per row with their probability (with a
    /// calibrated temperature) or score, best first; ties keep class order.
    pub fn top_k(&self, x: ArrayView2<'_, f32>, k: usize) -> Result<Vec<Vec<(ClassLabel, f32)>>> {
        if k == 0 {
            return Err(ImprintError::invalid("k", 0, "top-k needs k >= 1"));
        }
        let values = if self.calibration.is_temperature_calibrated() {
            self.predict_proba(x)?
        } else {
            self.scores(x)?
        };
        Ok(values
            .outer_iter()
            .map(|row| {
                let mut order: Vec<usize> = (0..row.len()).collect();
                order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
                order.into_iter().take(k).map(|c| (self.labels[c].clone(), row[c])).collect()
            })
            .collect())
    }

    /// The predicted class of each row and the row's similarity to that
    /// class's nearest proxy (its "knownness"; see [`crate::Calibration`]).
    pub fn knownness(&self, x: ArrayView2<'_, f32>) -> Result<(Vec<usize>, Vec<f32>)> {
        let predicted = self.predict_indices(x)?;
        let nearest = self
            .head
            .scores_with(&Aggregation::Max { distance: knownness_distance(&self.recipe.aggregation) }, x)?;
        check_scores(nearest.view())?;
        let known = predicted.iter().enumerate().map(|(i, &c)| nearest[[i, c]]).collect();
        Ok((predicted, known))
    }

    /// Predicted label per row, or `None` for rows that belong to no known
    /// class: their knownness is below the predicted class's rejection
    /// threshold (calibrated with [`Classifier::calibrate_rejection`]).
    ///
    /// # Errors
    /// [`ImprintError::InvalidParameter`] when rejection is not calibrated.
    pub fn predict_open(&self, x: ArrayView2<'_, f32>) -> Result<Vec<Option<ClassLabel>>> {
        let (predicted, known) = self.knownness(x)?;
        predicted
            .into_iter()
            .zip(known)
            .map(|(c, k)| {
                Ok(if self.calibration.rejects(c, k)? { None } else { Some(self.labels[c].clone()) })
            })
            .collect()
    }

    /// Classifies rows one by one in effect: rows of the wrong length or with
    /// NaN/Inf get their own error (naming the row and column), the others
    /// are classified together. For serving, where one bad row must not fail
    /// the batch.
    pub fn predict_rows<R: AsRef<[f32]>>(&self, rows: &[R]) -> Vec<Result<ClassLabel>> {
        let dim = self.dim();
        let mut good = Vec::new();
        let mut out: Vec<Option<Result<ClassLabel>>> = rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let row = row.as_ref();
                if row.len() != dim {
                    return Some(Err(ImprintError::mismatch(
                        "Classifier::predict_rows",
                        format!("{dim} values"),
                        format!("row {i} with {}", row.len()),
                    )));
                }
                if let Some((col, &value)) = row.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                    return Some(Err(ImprintError::NonFinite { what: "queries".into(), row: i, col, value }));
                }
                good.push(i);
                None
            })
            .collect();
        if !good.is_empty() {
            let x = Array2::from_shape_fn((good.len(), dim), |(r, j)| rows[good[r]].as_ref()[j]);
            match self.predict(x.view()) {
                Ok(labels) => {
                    for (&i, label) in good.iter().zip(labels) {
                        out[i] = Some(Ok(label));
                    }
                }
                // A row the batch could not take (e.g. a zero vector under an
                // L2 NORMinf that rejects them): classify the rows alone.
                Err(_) => {
                    for &i in &good {
                        let x = Array2::from_shape_vec((1, dim), rows[i].as_ref().to_vec())
                            .expect("internal: the row has dim values");
                        out[i] =
                            Some(self.predict(x.view()).map(|mut l| l.remove(0)).map_err(|e| in_row(e, i)));
                    }
                }
            }
        }
        out.into_iter().map(|r| r.expect("internal: every row has a result")).collect()
    }

    /// Calibrates the softmax temperature on labelled rows (held out from the
    /// shots) by minimizing their negative log-likelihood, and returns the
    /// calibration's effect (NLL and expected calibration error, before and after).
    ///
    /// # Errors
    /// No rows, a label the classifier does not know, mismatched lengths.
    pub fn calibrate_temperature<L: TryInto<ClassLabel, Error: Into<ImprintError>> + Clone>(
        &mut self,
        x: ArrayView2<'_, f32>,
        y: &[L],
    ) -> Result<crate::calibration::TemperatureReport> {
        let truth = self.indices_of(x.nrows(), y)?;
        let scores = self.scores(x)?;
        let report =
            crate::calibration::fit_temperature(scores.view(), &truth, self.calibration.temperature())?;
        self.calibration.set_temperature(report.temperature);
        Ok(report)
    }

    /// Calibrates per-class rejection thresholds from the shots alone: each
    /// class's shots are split into `folds` parts; each part is scored
    /// against the class imprinted from the other parts (out-of-fold
    /// knownness), and the class's threshold is the quantile of those scores
    /// that keeps `target_tpr` of them (e.g. 0.95). `x`/`y` must be the
    /// classifier's training rows (or any labelled rows of known classes).
    ///
    /// Classes with fewer than two rows get the quantile pooled over all
    /// classes. For `ls`/`kls` every fold refits every class.
    ///
    /// Later updates keep the thresholds current where they can: a new class
    /// is calibrated from its shots, a class whose shots are kept is
    /// calibrated again when shots are added; a class without enough shots
    /// gets the most permissive threshold of the others.
    pub fn calibrate_rejection<L: TryInto<ClassLabel, Error: Into<ImprintError>> + Clone>(
        &mut self,
        x: ArrayView2<'_, f32>,
        y: &[L],
        target_tpr: f64,
        folds: usize,
    ) -> Result<()> {
        let truth = self.indices_of(x.nrows(), y)?;
        let thresholds = crate::calibration::rejection_thresholds(self, x, &truth, target_tpr, folds)?;
        if thresholds.iter().all(|(_, t)| t.is_none()) {
            return Err(ImprintError::invalid(
                "shots",
                "too few",
                "rejection calibration needs a class with at least two shots (one to imprint, one to score)",
            ));
        }
        let mut calibration = self.calibration.clone();
        calibration.set_thresholds(vec![f32::NAN; self.n_classes()], target_tpr, folds);
        calibration.update_thresholds(self.n_classes(), &thresholds);
        self.calibration = calibration;
        Ok(())
    }

    /// Calibrates the thresholds of `classes` again from `shots` (one matrix
    /// per class), when rejection is calibrated.
    fn recalibrate(&mut self, classes: &[usize], shots: &[ArrayView2<'_, f32>]) -> Result<()> {
        let (Some(tpr), Some(folds)) = (self.calibration.target_tpr(), self.calibration.folds()) else {
            return Ok(());
        };
        let x = ndarray::concatenate(Axis(0), shots)
            .map_err(|e| ImprintError::invalid("shots", "", e.to_string()))?;
        let truth: Vec<usize> =
            classes.iter().zip(shots).flat_map(|(&c, s)| std::iter::repeat_n(c, s.nrows())).collect();
        let thresholds = crate::calibration::rejection_thresholds(self, x.view(), &truth, tpr, folds)?;
        self.calibration.update_thresholds(self.n_classes(), &thresholds);
        Ok(())
    }

    /// Each class's kept shots, where it keeps them.
    pub(crate) fn kept_shot_matrices(&self) -> Vec<Option<Array2<f32>>> {
        self.states
            .iter()
            .map(|s| match &s.memory {
                Memory::Shots(x) => Some(x.clone()),
                _ => None,
            })
            .collect()
    }

    /// The class index of `label` or an error naming it.
    fn index_of(&self, label: &ClassLabel) -> Result<usize> {
        self.class_index(label).ok_or_else(|| {
            ImprintError::invalid(
                "class label",
                label,
                format!("not a class of this classifier ({} classes)", self.n_classes()),
            )
        })
    }

    /// Class indices of `y`, which must have `n` labels of known classes.
    pub(crate) fn indices_of<L: TryInto<ClassLabel, Error: Into<ImprintError>> + Clone>(
        &self,
        n: usize,
        y: &[L],
    ) -> Result<Vec<usize>> {
        if y.len() != n {
            return Err(ImprintError::mismatch("labels", format!("{n} (one per row)"), y.len()));
        }
        let index: HashMap<&ClassLabel, usize> =
            self.labels.iter().enumerate().map(|(c, l)| (l, c)).collect();
        y.iter()
            .enumerate()
            .map(|(i, l)| {
                let l: ClassLabel = l.clone().try_into().map_err(Into::into)?;
                index.get(&l).copied().ok_or_else(|| {
                    ImprintError::invalid("label", &l, format!("row {i}: not a class of this classifier"))
                })
            })
            .collect()
    }

    /// Whether proxies before NORMpost are kept (quantile NORMpost).
    fn keeps_raw(&self) -> bool {
        self.recipe.post_norm == WeightNorm::Quantile
    }

    /// What a new class keeps, from its first shots.
    fn initial_memory(&self, shots: ArrayView2<'_, f32>) -> Result<Memory> {
        // ls and kls fit every class at once, and in reference mode one torch
        // generator runs through the classes in order: both refit every class
        // from its shots.
        if self.refits_all() {
            return Ok(Memory::Shots(shots.to_owned()));
        }
        if self.recipe.updates == Updates::Append {
            return Ok(Memory::Nothing);
        }
        Ok(match self.imprinter.generator().incremental() {
            Incremental::Refit => Memory::Shots(shots.to_owned()),
            Incremental::RunningMean => {
                let mut running = RunningMean::new(shots.ncols());
                running.add(self.recipe.pre_norm.apply(shots, "shots (NORMpre)")?.view())?;
                Memory::Mean(running)
            }
            Incremental::Append => Memory::Nothing,
        })
    }

    /// Every class's kept shots (joint generators).
    fn all_shots(&self) -> Result<Vec<Array2<f32>>> {
        self.states
            .iter()
            .zip(&self.labels)
            .map(|(s, l)| match &s.memory {
                Memory::Shots(x) => Ok(x.clone()),
                _ => Err(ImprintError::invalid("class", l, "a joint generator needs the class's shots")),
            })
            .collect()
    }

    /// Refits every class with a joint generator from `shots` (one per class, in order).
    fn refit_all(&mut self, shots: Vec<ArrayView2<'_, f32>>) -> Result<()> {
        let streams: Vec<usize> = self.states.iter().map(|s| s.stream).collect();
        let generated = self.imprinter.generate(&shots, &streams)?;
        let mut head =
            ImprintedHead::with_inference(self.dim(), self.recipe.input_norm, self.recipe.aggregation)?;
        for (c, raw) in generated.proxies.into_iter().enumerate() {
            let proxies = self.imprinter.post_normalize(raw.view(), head.weights())?;
            head.add_class(self.labels[c].to_string(), proxies.view())?;
            self.states[c].raw = self.keeps_raw().then_some(raw);
        }
        self.head = head;
        Ok(())
    }

    /// Replaces class `c`'s proxies by `raw` after NORMpost (and normalizes
    /// later classes again under quantile NORMpost).
    fn set_class_raw(&mut self, c: usize, raw: Array2<f32>) -> Result<()> {
        if self.keeps_raw() {
            self.states[c].raw = Some(raw);
            return self.renormalize_from(c);
        }
        let proxies = self.imprinter.post_normalize(raw.view(), self.head.weights_before(c)?)?;
        self.head.replace_class(c, proxies.view())
    }

    /// Appends `raw` proxies to class `c` (after NORMpost).
    fn append_class_raw(&mut self, c: usize, raw: Array2<f32>) -> Result<()> {
        if self.keeps_raw() {
            let all = match self.states[c].raw.take() {
                Some(old) => concatenate![Axis(0), old.view(), raw.view()],
                None => raw,
            };
            self.states[c].raw = Some(all);
            return self.renormalize_from(c);
        }
        let proxies = self.imprinter.post_normalize(raw.view(), self.head.weights_before(c)?)?;
        self.head.extend_class(c, proxies.view())
    }

    /// NORMpost of classes `c..` again, in order, from their raw proxies.
    fn renormalize_from(&mut self, c: usize) -> Result<()> {
        for j in c..self.n_classes() {
            let raw = self.states[j].raw.as_ref().ok_or_else(|| {
                ImprintError::invalid(
                    "class",
                    &self.labels[j],
                    "quantile NORMpost needs the class's proxies before normalization",
                )
            })?;
            let proxies = self.imprinter.post_normalize(raw.view(), self.head.weights_before(j)?)?;
            self.head.replace_class(j, proxies.view())?;
        }
        Ok(())
    }

    /// Proxies of shots appended to class `c` alone ([`Updates::Append`]),
    /// before NORMpost, on the class's `update`-th append stream.
    fn generate_appended(&self, c: usize, update: u64, shots: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        let Generator::PerClass(generator) = self.imprinter.generator() else {
            return Err(ImprintError::invalid(
                "generator",
                self.recipe.generator.name.as_str(),
                "joint generators cannot append",
            ));
        };
        let shots = self.recipe.pre_norm.apply(shots, "shots (NORMpre)")?;
        let mut rng =
            imprint_core::stream_rng(self.recipe.seed, Stream::append(self.states[c].stream, update)?);
        imprint_core::GenerateExt::generate(generator.as_ref(), shots.view(), &mut rng)
    }

    /// Proxies of class `c` imprinted from `shots` alone, after NORMpost as
    /// in its position (the out-of-fold imprint of rejection calibration).
    pub(crate) fn imprint_class_alone(&self, c: usize, shots: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        let raw = self.imprinter.generate(&[shots], &[self.states[c].stream])?.proxies.remove(0);
        self.imprinter.post_normalize(raw.view(), self.head.weights_before(c)?)
    }

    /// The whole head refitted from other shots per class (joint generators).
    pub(crate) fn refitted(&self, shots: Vec<ArrayView2<'_, f32>>) -> Result<ImprintedHead> {
        let mut copy = self.clone();
        copy.refit_all(shots)?;
        Ok(copy.head)
    }

    /// Whether the generator fits every class at once.
    pub(crate) fn is_joint(&self) -> bool {
        matches!(self.imprinter.generator(), Generator::Joint(_))
    }

    /// Whether every update refits every class: joint generators, and the
    /// reference's RNG mode (one torch generator through the classes in order).
    fn refits_all(&self) -> bool {
        self.is_joint() || self.recipe.rng == RngMode::Reference
    }
}

/// Why the streamed `mean` path of [`Classifier::fit_indexed`] stopped at a row.
enum RowError {
    /// An all-zero row (of `x`) under NORMpre = l2 with zero vectors rejected.
    Zero(usize),
    /// A non-finite value somewhere in the class's rows.
    NonFinite,
}

/// Adds the row index to errors about one query.
fn in_row(err: ImprintError, row: usize) -> ImprintError {
    match err {
        ImprintError::ZeroVector { what, .. } => ImprintError::ZeroVector { what, row },
        ImprintError::NonFinite { what, col, value, .. } => ImprintError::NonFinite { what, row, col, value },
        other => other,
    }
}

/// Fails on the first score that is not finite: a row whose values are
/// large enough that its products with the proxies overflow float32.
fn check_scores(scores: ArrayView2<'_, f32>) -> Result<()> {
    match scores.indexed_iter().find(|(_, v)| !v.is_finite()) {
        Some(((row, col), &value)) => Err(ImprintError::NonFinite {
            what: "scores (the row's values are too large for float32 products with the proxies)".into(),
            row,
            col,
            value,
        }),
        None => Ok(()),
    }
}

/// The rows of `x` grouped by label, classes in `order`.
pub(crate) fn group_rows<L: TryInto<ClassLabel, Error: Into<ImprintError>> + Clone>(
    x: ArrayView2<'_, f32>,
    y: &[L],
    order: ClassOrder,
) -> Result<Vec<(ClassLabel, Array2<f32>)>> {
    if y.len() != x.nrows() {
        return Err(ImprintError::mismatch(
            "labels",
            format!("{} (one per row of the embeddings)", x.nrows()),
            y.len(),
        ));
    }
    check_embeddings(x, "embeddings")?;
    let labels =
        y.iter().map(|l| l.clone().try_into().map_err(Into::into)).collect::<Result<Vec<ClassLabel>>>()?;
    check_one_kind(&labels, "the labels")?;
    let mut first_seen: Vec<ClassLabel> = Vec::new();
    let mut rows: HashMap<&ClassLabel, Vec<usize>> = HashMap::new();
    for (i, label) in labels.iter().enumerate() {
        rows.entry(label).or_insert_with(|| {
            first_seen.push(label.clone());
            Vec::new()
        });
        rows.get_mut(label).expect("inserted above").push(i);
    }
    if order == ClassOrder::Sorted {
        first_seen.sort();
    }
    Ok(first_seen
        .into_iter()
        .map(|label| {
            let selected = x.select(Axis(0), &rows[&label]);
            (label, selected)
        })
        .collect())
}
