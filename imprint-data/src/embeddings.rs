//! A validated matrix of embeddings with one class label per row.

use std::collections::BTreeMap;

use ndarray::{Array2, ArrayView1, ArrayView2, Axis};

use crate::error::{DataError, Origin};

/// Embeddings (one sample per row) with their class labels.
///
/// Invariants, checked by [`Embeddings::new`] and by every reader: at least one row,
/// dimension at least one, as many labels as rows, and every entry finite.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    embeddings: Array2<f32>,
    labels: Vec<usize>,
}

impl Embeddings {
    /// Validates and wraps an `n x dim` embedding matrix and its `n` labels.
    ///
    /// # Errors
    /// [`DataError::ZeroRows`], [`DataError::ZeroDim`], [`DataError::LengthMismatch`] or
    /// [`DataError::NonFinite`] (naming the first bad row), with origin
    /// [`Origin::Memory`].
    pub fn new(embeddings: Array2<f32>, labels: Vec<usize>) -> Result<Self, DataError> {
        Self::with_origin(embeddings, labels, &Origin::Memory)
    }

    /// [`Embeddings::new`] with errors naming `origin`.
    pub(crate) fn with_origin(
        embeddings: Array2<f32>,
        labels: Vec<usize>,
        origin: &Origin,
    ) -> Result<Self, DataError> {
        validate(embeddings.view(), labels.len(), origin)?;
        Ok(Self { embeddings, labels })
    }

    /// The `n x dim` embedding matrix.
    pub fn embeddings(&self) -> ArrayView2<'_, f32> {
        self.embeddings.view()
    }

    /// The label of each row.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// Number of samples (rows).
    pub fn n_samples(&self) -> usize {
        self.embeddings.nrows()
    }

    /// Embedding dimension (columns).
    pub fn dim(&self) -> usize {
        self.embeddings.ncols()
    }

    /// One sample's embedding.
    ///
    /// Returns `None` when `row` is out of range.
    pub fn row(&self, row: usize) -> Option<ArrayView1<'_, f32>> {
        (row < self.n_samples()).then(|| self.embeddings.row(row))
    }

    /// The distinct labels in ascending order, with their number of samples.
    pub fn class_counts(&self) -> BTreeMap<usize, usize> {
        let mut counts = BTreeMap::new();
        for &label in &self.labels {
            *counts.entry(label).or_insert(0) += 1;
        }
        counts
    }

    /// The number of distinct labels.
    pub fn n_classes(&self) -> usize {
        self.class_counts().len()
    }

    /// The rows whose label is `label`, in file order (an empty `0 x dim` matrix if none).
    pub fn rows_of(&self, label: usize) -> Array2<f32> {
        let idx: Vec<usize> =
            self.labels.iter().enumerate().filter_map(|(i, &l)| (l == label).then_some(i)).collect();
        self.embeddings.select(Axis(0), &idx)
    }

    /// Splits into the embedding matrix and the labels.
    pub fn into_parts(self) -> (Array2<f32>, Vec<usize>) {
        (self.embeddings, self.labels)
    }
}

/// Checks the invariants of [`Embeddings`] on a matrix and a label count.
pub(crate) fn validate(
    embeddings: ArrayView2<'_, f32>,
    n_labels: usize,
    origin: &Origin,
) -> Result<(), DataError> {
    let (n_rows, dim) = embeddings.dim();
    if n_rows != n_labels {
        return Err(DataError::LengthMismatch { origin: origin.clone(), n_rows, n_labels });
    }
    if n_rows == 0 {
        return Err(DataError::ZeroRows { origin: origin.clone() });
    }
    if dim == 0 {
        return Err(DataError::ZeroDim { origin: origin.clone() });
    }
    for (row, values) in embeddings.outer_iter().enumerate() {
        if let Some((col, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(DataError::NonFinite { origin: origin.clone(), row, col, value });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn accessors_and_counts() {
        let e = Embeddings::new(array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], vec![2, 0, 2]).unwrap();
        assert_eq!(e.n_samples(), 3);
        assert_eq!(e.dim(), 2);
        assert_eq!(e.n_classes(), 2);
        assert_eq!(e.class_counts()[&2], 2);
        assert_eq!(e.rows_of(2), array![[1.0, 2.0], [5.0, 6.0]]);
        assert_eq!(e.rows_of(7).dim(), (0, 2));
        assert_eq!(e.row(1).unwrap().to_vec(), vec![3.0, 4.0]);
        assert!(e.row(3).is_none());
    }

    #[test]
    fn rejects_invalid_input() {
        let mismatch = Embeddings::new(Array2::zeros((2, 3)), vec![0]);
        assert!(matches!(mismatch, Err(DataError::LengthMismatch { n_rows: 2, n_labels: 1, .. })));
        assert!(matches!(Embeddings::new(Array2::zeros((0, 3)), vec![]), Err(DataError::ZeroRows { .. })));
        assert!(matches!(Embeddings::new(Array2::zeros((2, 0)), vec![0, 1]), Err(DataError::ZeroDim { .. })));
        let mut x = Array2::zeros((4, 3));
        x[[2, 1]] = f32::NAN;
        x[[3, 0]] = f32::INFINITY;
        let err = Embeddings::new(x, vec![0; 4]).unwrap_err();
        assert!(matches!(err, DataError::NonFinite { row: 2, col: 1, .. }));
        assert!(err.to_string().contains("in-memory embeddings"));
    }
}
