//! The class mean as a running sum, so that more shots update it exactly.

use ndarray::{Array2, ArrayView2};

use crate::{ImprintError, Result, check_dim, check_embeddings};

/// A running f64 sum of rows and their count: the state of a `mean` class.
///
/// Rows are added in order; [`RunningMean::mean`] divides once and rounds to
/// f32 once. Adding rows in several batches therefore gives exactly (bit for
/// bit) the mean of all of them added at once, which is how the `mean`
/// generator computes it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunningMean {
    sum: Vec<f64>,
    count: u64,
}

impl RunningMean {
    /// An empty sum of `dim`-dimensional rows.
    pub fn new(dim: usize) -> Self {
        Self { sum: vec![0.0; dim], count: 0 }
    }

    /// A sum and count saved earlier; `count` must be positive and every sum finite.
    ///
    /// # Errors
    /// [`ImprintError::InvalidParameter`] for a zero count, an empty sum or a
    /// non-finite value.
    pub fn from_parts(sum: Vec<f64>, count: u64) -> Result<Self> {
        if count == 0 {
            return Err(ImprintError::invalid("count", 0, "a running mean needs at least one row"));
        }
        if sum.is_empty() {
            return Err(ImprintError::invalid("dim", 0, "a running mean needs at least one feature"));
        }
        if let Some(v) = sum.iter().find(|v| !v.is_finite()) {
            return Err(ImprintError::invalid("sum", v, "running sums must be finite"));
        }
        Ok(Self { sum, count })
    }

    /// Adds the rows of `x` (finite, with the sum's dimension), in row order.
    ///
    /// # Errors
    /// Empty, non-finite or mis-sized rows.
    pub fn add(&mut self, x: ArrayView2<'_, f32>) -> Result<()> {
        check_embeddings(x, "rows added to a running mean")?;
        check_dim(x, self.sum.len(), "RunningMean::add")?;
        self.add_unchecked(x);
        Ok(())
    }

    /// [`RunningMean::add`] for rows already validated.
    pub(crate) fn add_unchecked(&mut self, x: ArrayView2<'_, f32>) {
        for row in x.outer_iter() {
            match row.as_slice() {
                Some(r) => self.sum.iter_mut().zip(r).for_each(|(s, &v)| *s += f64::from(v)),
                None => self.sum.iter_mut().zip(row).for_each(|(s, &v)| *s += f64::from(v)),
            }
        }
        self.count += x.nrows() as u64;
    }

    /// The mean of `x`'s rows (at least one, finite), as a `(1, dim)` array.
    pub fn of(x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        let mut m = Self::new(x.ncols());
        m.add(x)?;
        m.mean()
    }

    /// The mean as a `(1, dim)` array.
    ///
    /// # Errors
    /// [`ImprintError::Empty`] before any row was added.
    pub fn mean(&self) -> Result<Array2<f32>> {
        if self.count == 0 {
            return Err(ImprintError::Empty { what: "a running mean (no row added yet)".into() });
        }
        let n = self.count as f64;
        Ok(Array2::from_shape_fn((1, self.sum.len()), |(_, j)| (self.sum[j] / n) as f32))
    }

    /// The f64 sum of every row added.
    pub fn sum(&self) -> &[f64] {
        &self.sum
    }

    /// The number of rows added.
    pub fn count(&self) -> u64 {
        self.count
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Axis, array, concatenate};

    use super::*;

    #[test]
    fn batches_equal_one_pass_bit_for_bit() {
        let a = array![[0.1f32, 1e7], [0.2, 3.0]];
        let b = array![[0.3f32, -1e7], [1e-3, 0.5], [7.0, 1.0]];
        let mut m = RunningMean::new(2);
        m.add(a.view()).unwrap();
        m.add(b.view()).unwrap();
        let all = concatenate![Axis(0), a, b];
        assert_eq!(m.mean().unwrap(), RunningMean::of(all.view()).unwrap());
        assert_eq!(m.count(), 5);
        let again = RunningMean::from_parts(m.sum().to_vec(), m.count()).unwrap();
        assert_eq!(again, m);
    }

    #[test]
    fn bad_input_is_an_error() {
        let mut m = RunningMean::new(2);
        assert!(m.mean().is_err());
        assert!(m.add(array![[1.0f32, 2.0, 3.0]].view()).is_err());
        assert!(m.add(array![[1.0f32, f32::NAN]].view()).is_err());
        assert!(RunningMean::from_parts(vec![1.0], 0).is_err());
        assert!(RunningMean::from_parts(vec![f64::INFINITY], 1).is_err());
        assert_eq!(m.count(), 0);
    }
}
