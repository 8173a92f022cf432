//! Presampling exactly as the reference does it, class by class on one torch
//! generator (`src/data/prefilter.py`, `prefilter_data`): the optional
//! `weibull` filter, then `torch.randperm(n)[:fewshot]`.

use imprint_core::reference_rng::randperm;
use imprint_core::{ImprintError, Presampler, RngCore, Shots};
use ndarray::ArrayView2;

use crate::error::DataError;
use crate::weibull::weibull_keep;

/// The reference's statistical prefilter (`presampling_method`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Prefilter {
    /// `all`: every sample.
    #[default]
    All,
    /// `weibull`: the samples whose distance from the class mean lies between
    /// the `(low, high)` quantiles of a Weibull distribution fitted to those
    /// distances (`presampling_quantiles_value`; see [`weibull_keep`]).
    Weibull(f64, f64),
}

/// The row indices of `class` that `prefilter_data(class, method, quantile,
/// fewshot)` keeps, in the order it returns them: the prefilter's rows in
/// order, then, for a few-shot count `Some(k)`, the first `min(k, n)`
/// entries of `torch.randperm(n)` over those `n` rows, drawn from `rng`
/// (`n - 1` draws of `next_u32`; a `TorchGenerator` gives the reference's
/// draws). `None` (the reference's `-1`) draws nothing.
///
/// # Errors
/// [`DataError::Presampling`] naming `what` when the Weibull filter fails
/// (see [`weibull_keep`]), the filter or a few-shot count of 0 leaves no
/// sample, or the class is too large for the ported `torch.randperm`.
pub fn reference_presample_indices(
    class: ArrayView2<'_, f32>,
    prefilter: Prefilter,
    fewshot: Option<usize>,
    rng: &mut dyn RngCore,
    what: &str,
) -> Result<Vec<usize>, DataError> {
    let fail = |reason: String| DataError::Presampling { what: what.to_string(), reason };
    let kept: Vec<usize> = match prefilter {
        Prefilter::All => (0..class.nrows()).collect(),
        Prefilter::Weibull(low, high) => weibull_keep(class, (low, high)).map_err(|e| match e {
            DataError::Presampling { reason, .. } => fail(format!("weibull presampling: {reason}")),
            other => other,
        })?,
    };
    if kept.is_empty() {
        return Err(fail(format!("presampling {prefilter:?} kept no sample")));
    }
    match fewshot {
        None => Ok(kept),
        Some(0) => Err(fail("a few-shot count of 0 keeps no sample".into())),
        Some(k) => {
            let perm = randperm(kept.len(), rng).map_err(|e| fail(e.to_string()))?;
            Ok(perm.into_iter().take(k).map(|i| kept[i]).collect())
        }
    }
}

/// The reference's presampling of a class (`prefilter_data`) as a stage of
/// an [`imprint_core::Imprinter`]: the `prefilter`, then `fewshot` rows by
/// `torch.randperm` on the random number generator the imprinter passes (the
/// torch generator in reference mode, the class's stream otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Presampling {
    /// `all` or `weibull` with its quantiles.
    pub prefilter: Prefilter,
    /// Rows kept per class (`None`: every row, the reference's `-1`).
    pub fewshot: Option<usize>,
}

impl Presampler for Presampling {
    fn select(&self, shots: Shots<'_>, rng: &mut dyn RngCore) -> imprint_core::Result<Vec<usize>> {
        reference_presample_indices(shots.view(), self.prefilter, self.fewshot, rng, "shots").map_err(|e| {
            ImprintError::invalid(
                "presampling",
                format!("{:?}, few-shot {:?}", self.prefilter, self.fewshot),
                e.to_string(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use imprint_core::TorchGenerator;
    use ndarray::Array2;

    use super::*;

    #[test]
    fn few_shot_is_the_head_of_torch_randperm() {
        let x = Array2::from_shape_fn((30, 2), |(i, j)| (i * 2 + j) as f32);
        let mut torch = TorchGenerator::new(123987);
        let got = reference_presample_indices(x.view(), Prefilter::All, Some(10), &mut torch, "c").unwrap();
        let want = randperm(30, &mut TorchGenerator::new(123987)).unwrap();
        assert_eq!(got, want[..10]);
        // All shots: rows in order, no draw.
        let mut untouched = TorchGenerator::new(1);
        let all = reference_presample_indices(x.view(), Prefilter::All, None, &mut untouched, "c").unwrap();
        assert_eq!(all, (0..30).collect::<Vec<_>>());
        assert_eq!(untouched, TorchGenerator::new(1));
        // More shots than rows: a permutation of all of them.
        let mut many =
            reference_presample_indices(x.view(), Prefilter::All, Some(99), &mut TorchGenerator::new(5), "c")
                .unwrap();
        many.sort();
        assert_eq!(many, (0..30).collect::<Vec<_>>());
    }

    #[test]
    fn weibull_then_few_shot_draws_over_the_kept_rows() {
        let x =
            Array2::from_shape_fn((80, 3), |(i, j)| ((i * 31 + j * 7) % 23) as f32 * 0.05 + (i % 4) as f32);
        let kept = weibull_keep(x.view(), (0.05, 0.95)).unwrap();
        let got = reference_presample_indices(
            x.view(),
            Prefilter::Weibull(0.05, 0.95),
            Some(10),
            &mut TorchGenerator::new(7),
            "c",
        )
        .unwrap();
        let perm = randperm(kept.len(), &mut TorchGenerator::new(7)).unwrap();
        assert_eq!(got, perm[..10].iter().map(|&i| kept[i]).collect::<Vec<_>>());
        let err = reference_presample_indices(
            x.view(),
            Prefilter::Weibull(0.5, 0.1),
            None,
            &mut TorchGenerator::new(7),
            "class 4",
        )
        .unwrap_err();
        assert!(err.to_string().contains("class 4"), "{err}");
        let zero =
            reference_presample_indices(x.view(), Prefilter::All, Some(0), &mut TorchGenerator::new(7), "c");
        assert!(matches!(zero, Err(DataError::Presampling { .. })));
    }
}
