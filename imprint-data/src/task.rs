//! Task construction: concatenate data sets, map labels, split, presample.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use ndarray::{Array2, ArrayView2};

use crate::embeddings::Embeddings;
use crate::error::DataError;
use crate::layout::{Split, reference_path};
use crate::mapping::LabelMapping;
use crate::presample::{FewShot, presample};
use crate::read::read_embeddings;

/// The train and test embeddings of one data set under one backbone.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceData {
    name: String,
    train: Embeddings,
    test: Embeddings,
}

impl SourceData {
    /// Pairs the two splits of data set `name`.
    ///
    /// # Errors
    /// [`DataError::DimMismatch`] when train and test dimensions differ.
    pub fn new(name: impl Into<String>, train: Embeddings, test: Embeddings) -> Result<Self, DataError> {
        let name = name.into();
        if train.dim() != test.dim() {
            return Err(DataError::DimMismatch {
                task: name.clone(),
                dataset: format!("{name} (test)"),
                found: test.dim(),
                expected: train.dim(),
            });
        }
        Ok(Self { name, train, test })
    }

    /// Reads both splits of `dataset` under `backbone` from the reference layout below
    /// `root` (see [`reference_path`]).
    ///
    /// # Errors
    /// Every error of [`read_embeddings`], and [`DataError::DimMismatch`].
    pub fn load(root: impl AsRef<Path>, dataset: &str, backbone: &str) -> Result<Self, DataError> {
        let root = root.as_ref();
        let train = read_embeddings(reference_path(root, dataset, backbone, Split::Train))?;
        let test = read_embeddings(reference_path(root, dataset, backbone, Split::Test))?;
        Self::new(dataset, train, test)
    }

    /// The data set's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The training split.
    pub fn train(&self) -> &Embeddings {
        &self.train
    }

    /// The test split.
    pub fn test(&self) -> &Embeddings {
        &self.test
    }
}

/// How to build a [`Task`] from one or more [`SourceData`].
///
/// The steps, in the reference's order:
/// 1. concatenate the data sets, adding to each one's labels the number of distinct
///    training labels of the data sets before it (so CombiDigits' second data set has
///    labels 10..19);
/// 2. apply the label mapping, if any (unlisted labels are dropped; several old labels
///    may merge into one);
/// 3. keep the labels of the task split, if any (otherwise every remaining label,
///    ascending); class `i` of the task is the `i`-th label of the split, as in the
///    reference, so test labels are remapped to `0..n_classes` in split order;
/// 4. presample each class's training rows ([`FewShot`]), seeded per class.
///
/// A class without training or test samples after steps 1-3 is an error naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSpec {
    name: String,
    mapping: Option<LabelMapping>,
    split: Option<Vec<usize>>,
    shots: FewShot,
    seed: u64,
}

impl TaskSpec {
    /// A task named `name`; defaults: no mapping, no split (all labels), all shots, seed 0.
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into(), mapping: None, split: None, shots: FewShot::All, seed: 0 }
    }

    /// Sets the label mapping (applied after the offsets).
    pub fn mapping(mut self, mapping: LabelMapping) -> Self {
        self.mapping = Some(mapping);
        self
    }

    /// Sets the task split: the labels (after mapping) to keep, in class order.
    pub fn split(mut self, labels: Vec<usize>) -> Self {
        self.split = Some(labels);
        self
    }

    /// Sets the per-class few-shot count.
    pub fn shots(mut self, shots: FewShot) -> Self {
        self.shots = shots;
        self
    }

    /// Sets the presampling seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The task's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Builds the task.
    ///
    /// # Errors
    /// [`DataError::NoDatasets`], [`DataError::DimMismatch`], [`DataError::InvalidSplit`]
    /// (empty split or a repeated label), [`DataError::EmptyTask`] when nothing is left in
    /// a split, [`DataError::EmptyClass`] naming the first class without train or test
    /// samples, [`DataError::LabelOverflow`] when a label plus its data set's offset
    /// does not fit in `usize`.
    pub fn build(&self, sources: &[SourceData]) -> Result<Task, DataError> {
        let task = &self.name;
        let first = sources.first().ok_or_else(|| DataError::NoDatasets { task: task.clone() })?;
        let dim = first.train.dim();
        if let Some(s) = sources.iter().find(|s| s.train.dim() != dim || s.test.dim() != dim) {
            return Err(DataError::DimMismatch {
                task: task.clone(),
                dataset: s.name.clone(),
                found: if s.train.dim() != dim { s.train.dim() } else { s.test.dim() },
                expected: dim,
            });
        }

        // Steps 1 and 2: the task label of every row, None when dropped.
        let mut offset = 0;
        let mut train_labels = Vec::with_capacity(sources.len());
        let mut test_labels = Vec::with_capacity(sources.len());
        for s in sources {
            train_labels.push(self.relabel(s, Split::Train, offset)?);
            test_labels.push(self.relabel(s, Split::Test, offset)?);
            offset += s.train.n_classes();
        }

        // Step 3: the class order.
        let classes: Vec<usize> = match &self.split {
            Some(split) => {
                if split.is_empty() {
                    return Err(DataError::InvalidSplit { task: task.clone(), reason: "no labels".into() });
                }
                let mut seen = BTreeSet::new();
                if let Some(dup) = split.iter().find(|&&l| !seen.insert(l)) {
                    return Err(DataError::InvalidSplit {
                        task: task.clone(),
                        reason: format!("label {dup} is listed twice"),
                    });
                }
                split.clone()
            }
            None => train_labels
                .iter()
                .chain(&test_labels)
                .flatten()
                .flatten()
                .copied()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
        };
        let index: HashMap<usize, usize> = classes.iter().enumerate().map(|(i, &l)| (l, i)).collect();

        let train_rows = gather(sources.iter().map(|s| s.train.embeddings()), &train_labels, &index, dim);
        let test_rows = gather(sources.iter().map(|s| s.test.embeddings()), &test_labels, &index, dim);
        for (split, rows) in [("train", &train_rows), ("test", &test_rows)] {
            if rows.iter().all(|(_, n)| *n == 0) {
                return Err(DataError::EmptyTask { task: task.clone(), split });
            }
            if let Some(i) = rows.iter().position(|(_, n)| *n == 0) {
                return Err(DataError::EmptyClass { task: task.clone(), label: classes[i], split });
            }
        }

        // Step 4, and the test set as one matrix labelled by class index.
        let class_data = classes
            .iter()
            .zip(train_rows)
            .enumerate()
            .map(|(i, (&label, (values, n)))| {
                let all = to_matrix(values, n, dim);
                ClassData {
                    index: i,
                    label,
                    train: presample(all.view(), self.shots, self.seed, label),
                    n_train_available: n,
                }
            })
            .collect::<Vec<_>>();
        let mut test_values = Vec::new();
        let mut test_class = Vec::new();
        for (s, labels) in sources.iter().zip(&test_labels) {
            for (row, label) in s.test.embeddings().outer_iter().zip(labels) {
                if let Some(&i) = label.as_ref().and_then(|l| index.get(l)) {
                    test_values.extend(row.iter().copied());
                    test_class.push(i);
                }
            }
        }
        let n_test = test_class.len();
        Ok(Task {
            name: task.clone(),
            classes: class_data,
            test_embeddings: to_matrix(test_values, n_test, dim),
            test_labels: test_class,
        })
    }

    /// The task label of every row of one split of `source` (None when dropped).
    /// A label so large that adding `offset` overflows is an error, not a panic.
    fn relabel(
        &self,
        source: &SourceData,
        split: Split,
        offset: usize,
    ) -> Result<Vec<Option<usize>>, DataError> {
        let labels = match split {
            Split::Train => source.train.labels(),
            Split::Test => source.test.labels(),
        };
        labels
            .iter()
            .map(|&l| {
                let l = l.checked_add(offset).ok_or_else(|| DataError::LabelOverflow {
                    task: self.name.clone(),
                    dataset: source.name.clone(),
                    split: split.as_str(),
                    label: l,
                    offset,
                })?;
                Ok(match &self.mapping {
                    Some(m) => m.get(l),
                    None => Some(l),
                })
            })
            .collect()
    }
}

/// Per task class, the row-major values of its rows (in source and file order) and
/// their count.
fn gather<'a>(
    matrices: impl Iterator<Item = ArrayView2<'a, f32>>,
    labels: &[Vec<Option<usize>>],
    index: &HashMap<usize, usize>,
    dim: usize,
) -> Vec<(Vec<f32>, usize)> {
    let mut out = vec![(Vec::new(), 0); index.len()];
    for (x, labels) in matrices.zip(labels) {
        for (row, label) in x.outer_iter().zip(labels) {
            if let Some(&i) = label.as_ref().and_then(|l| index.get(l)) {
                let (values, n) = &mut out[i];
                values.reserve(dim);
                values.extend(row.iter().copied());
                *n += 1;
            }
        }
    }
    out
}

fn to_matrix(values: Vec<f32>, n: usize, dim: usize) -> Array2<f32> {
    // Every row pushed exactly `dim` values, so the shape always matches.
    Array2::from_shape_vec((n, dim), values).unwrap_or_else(|_| Array2::zeros((0, dim)))
}

/// The training data of one class of a [`Task`].
#[derive(Debug, Clone, PartialEq)]
pub struct ClassData {
    index: usize,
    label: usize,
    train: Array2<f32>,
    n_train_available: usize,
}

impl ClassData {
    /// The class index in the task, `0..n_classes` (the head's class order).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The class label before remapping to the index (after offsets and mapping).
    pub fn label(&self) -> usize {
        self.label
    }

    /// The presampled training embeddings, `n_shots x dim`.
    pub fn train(&self) -> ArrayView2<'_, f32> {
        self.train.view()
    }

    /// Number of presampled training samples.
    pub fn n_train(&self) -> usize {
        self.train.nrows()
    }

    /// Number of training samples before presampling.
    pub fn n_train_available(&self) -> usize {
        self.n_train_available
    }
}

/// One imprinting task: per-class training data and a labelled test set.
///
/// Invariants: at least one class; every class has at least one training and one test
/// sample; every test label is a class index.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    name: String,
    classes: Vec<ClassData>,
    test_embeddings: Array2<f32>,
    test_labels: Vec<usize>,
}

impl Task {
    /// The task's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The classes in head order.
    pub fn classes(&self) -> &[ClassData] {
        &self.classes
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.classes.len()
    }

    /// Embedding dimension.
    pub fn dim(&self) -> usize {
        self.test_embeddings.ncols()
    }

    /// The training embeddings of class `index`, or `None` when out of range.
    pub fn train_of(&self, index: usize) -> Option<ArrayView2<'_, f32>> {
        self.classes.get(index).map(ClassData::train)
    }

    /// All training embeddings stacked class by class, with their class indices.
    pub fn train_stacked(&self) -> (Array2<f32>, Vec<usize>) {
        let n: usize = self.classes.iter().map(ClassData::n_train).sum();
        let mut values = Vec::with_capacity(n * self.dim());
        let mut labels = Vec::with_capacity(n);
        for c in &self.classes {
            values.extend(c.train.iter().copied());
            labels.extend(std::iter::repeat_n(c.index, c.n_train()));
        }
        (to_matrix(values, n, self.dim()), labels)
    }

    /// The test embeddings, `n_test x dim`.
    pub fn test_embeddings(&self) -> ArrayView2<'_, f32> {
        self.test_embeddings.view()
    }

    /// The class index of each test row.
    pub fn test_labels(&self) -> &[usize] {
        &self.test_labels
    }

    /// The original label (after offsets and mapping) of each class, in head order.
    pub fn class_labels(&self) -> Vec<usize> {
        self.classes.iter().map(ClassData::label).collect()
    }
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;

    use super::*;

    #[test]
    fn a_label_that_overflows_with_its_offset_is_an_error() {
        let part = || Embeddings::new(Array2::ones((2, 2)), vec![0, usize::MAX]).unwrap();
        let a = SourceData::new("A", part(), part()).unwrap();
        let b = SourceData::new("B", part(), part()).unwrap();
        // Alone, the label needs no offset and is fine.
        assert_eq!(TaskSpec::new("t").build(std::slice::from_ref(&a)).unwrap().n_classes(), 2);
        let err = TaskSpec::new("t").build(&[a, b]).unwrap_err();
        assert!(matches!(err, DataError::LabelOverflow { offset: 2, split: "train", .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("task `t`") && msg.contains("`B`") && msg.contains("overflows"), "{msg}");
    }
}
