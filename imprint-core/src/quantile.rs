//! Quantile normalization of proxies onto the distribution of the weights
//! already imprinted (NORMpost = quantile, Hosoda et al.).

use ndarray::{Array2, ArrayView2};

/// `numpy.quantile(sorted, q)` with the default linear interpolation, for
/// ascending `sorted` with at least one element and `q` in [0, 1]; a `q`
/// outside [0, 1] is clamped to it (numpy raises), a NaN `q` gives NaN.
///
/// # Panics
/// If `sorted` is empty (internal invariant).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    assert!(!sorted.is_empty(), "internal: quantile of an empty set");
    // Unclamped, q > 1 indexed past the end (a panic).
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// The `dim` target values `y_i = quantile(reference, (i + 0.5) / dim)`,
/// ascending, or `None` when the reference is empty.
pub fn quantile_targets(reference: ArrayView2<'_, f32>, dim: usize) -> Option<Vec<f32>> {
    if reference.is_empty() {
        return None;
    }
    let mut sorted: Vec<f64> = reference.iter().map(|&v| f64::from(v)).collect();
    sorted.sort_unstable_by(f64::total_cmp);
    Some((0..dim).map(|i| quantile_sorted(&sorted, (i as f64 + 0.5) / dim as f64) as f32).collect())
}

/// Gives each proxy (row) the target values in the rank order of its own
/// entries: its smallest entry receives `targets[0]`, its largest the last.
/// Ties keep their column order (stable sort), so results are deterministic.
///
/// # Panics
/// If `targets.len() != proxies.ncols()` (internal invariant).
pub fn assign_by_rank(proxies: ArrayView2<'_, f32>, targets: &[f32]) -> Array2<f32> {
    assert_eq!(targets.len(), proxies.ncols(), "internal: one target per column");
    let mut out = Array2::<f32>::zeros(proxies.raw_dim());
    let mut order: Vec<usize> = Vec::with_capacity(targets.len());
    for (row, mut dst) in proxies.outer_iter().zip(out.outer_iter_mut()) {
        order.clear();
        order.extend(0..row.len());
        order.sort_by(|&a, &b| row[a].total_cmp(&row[b]));
        for (rank, &col) in order.iter().enumerate() {
            dst[col] = targets[rank];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;

    #[test]
    fn matches_numpy_linear_quantiles() {
        // numpy.quantile([1, 2, 3, 4], [0.125, 0.375, 0.625, 0.875]) = 1.375 2.125 2.875 3.625
        let sorted = [1.0, 2.0, 3.0, 4.0];
        let got: Vec<f64> =
            [0.125, 0.375, 0.625, 0.875].iter().map(|&q| quantile_sorted(&sorted, q)).collect();
        assert_eq!(got, vec![1.375, 2.125, 2.875, 3.625]);
        assert_eq!(quantile_sorted(&[5.0], 0.3), 5.0);
        assert_eq!(quantile_sorted(&sorted, 0.0), 1.0);
        assert_eq!(quantile_sorted(&sorted, 1.0), 4.0);
    }

    #[test]
    fn q_outside_the_unit_interval_is_clamped() {
        let sorted = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&sorted, 2.0), 4.0);
        assert_eq!(quantile_sorted(&sorted, f64::INFINITY), 4.0);
        assert_eq!(quantile_sorted(&sorted, -1.0), 1.0);
        assert!(quantile_sorted(&sorted, f64::NAN).is_nan());
    }

    #[test]
    fn proxies_take_targets_in_rank_order() {
        let reference = array![[4.0f32, 1.0], [3.0, 2.0]];
        let targets = quantile_targets(reference.view(), 2).unwrap();
        // quantiles at 0.25 and 0.75 of [1, 2, 3, 4]
        assert_eq!(targets, vec![1.75, 3.25]);
        let proxies = array![[10.0f32, -10.0], [0.0, 0.0]];
        let out = assign_by_rank(proxies.view(), &targets);
        assert_eq!(out, array![[3.25, 1.75], [1.75, 3.25]]);
        assert!(quantile_targets(ndarray::Array2::<f32>::zeros((0, 2)).view(), 2).is_none());
    }
}
