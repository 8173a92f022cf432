//! Quantile normalization of proxies onto the distribution of the weights
//! already imprinted (NORMpost = quantile, Hosoda et al.).
//!
//! The targets are computed as the reference computes them, in float32:
//! levels `torch.arange(0, 1, 1/d, dtype=float32) + 1/(2d)` and
//! `torch.quantile` (linear interpolation) on the float32 weights. That is
//! what produced the paper's numbers; it differs from the float64 quantiles
//! `(i + 0.5) / d` in the last bits of the levels and, with hundreds of
//! thousands of imprinted weights, in the float32 rank `q * (n - 1)`, which
//! moved one task of the bundled check by 0.10 points before it was matched.
//! [`quantile_sorted`] keeps the float64 (numpy) definition for other uses.

use ndarray::{Array2, ArrayView2};

/// `numpy.quantile(sorted, q)` with the default linear interpolation, for
/// ascending `sorted` with at least one element and `q` in [0, 1]; a `q`
/// outside [0, 1] is clamped to it (numpy raises), a NaN `q` gives NaN.
///
/// # Panics
/// If `sorted` is empty (internal invariant).
#[cfg(test)]
pub(crate) fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    assert!(!sorted.is_empty(), "internal: quantile of an empty set");
    // Unclamped, q > 1 indexed past the end (a panic).
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// The reference's quantile levels for `dim` features,
/// `torch.arange(0, 1, 1/dim, dtype=torch.float32) + 1/(2*dim)`, bit for bit
/// (torch 2.2 on the CPU).
///
/// torch sizes the range as `ceil(1 / (1/dim))` in float64, which is
/// `dim + 1` for some `dim` (49, 98, 103, ...); the reference then fails to
/// assign the levels, and callers here use the first `dim`. Elements are
/// `float(start + step * i)` in float64, except in blocks of 16 handled as
/// two 8-lane vectors, whose lanes are `float(float(step * i0) + j * step)`
/// (`Vectorized<float>::arange`). Ranges over 32,768 elements are split
/// across threads in torch; this reproduces one thread.
pub fn reference_levels(dim: usize) -> Vec<f32> {
    if dim == 0 {
        return Vec::new();
    }
    let step = 1.0 / dim as f64;
    let n = (1.0 / step).ceil() as usize;
    let mut levels = Vec::with_capacity(n);
    while levels.len() + 16 <= n {
        for _ in 0..2 {
            let base = (step * levels.len() as f64) as f32;
            for j in 0..8 {
                levels.push((f64::from(base) + j as f64 * step) as f32);
            }
        }
    }
    while levels.len() < n {
        levels.push((step * levels.len() as f64) as f32);
    }
    let half = (1.0 / (2.0 * dim as f64)) as f32;
    levels.iter_mut().for_each(|l| *l += half);
    levels
}

/// `torch.quantile(values, q)` for ascending float32 `sorted` (at least one
/// element) and `q` in [0, 1], computed like torch 2.2 on the CPU: the rank
/// `q * (n - 1)` in float32, then `lerp` between its neighbours with a fused
/// multiply-add (`start + w * (end - start)` for `w < 0.5`, else
/// `end + (w - 1) * (end - start)`), as its AVX2/AVX-512 kernels do.
///
/// # Panics
/// If `sorted` is empty (internal invariant).
pub(crate) fn torch_quantile_sorted(sorted: &[f32], q: f32) -> f32 {
    assert!(!sorted.is_empty(), "internal: quantile of an empty set");
    let last = sorted.len() - 1;
    let rank = q.clamp(0.0, 1.0) * last as f32;
    let below = (rank as usize).min(last);
    let above = (rank.ceil() as usize).min(last);
    let weight = rank - below as f32;
    let (start, end) = (sorted[below], sorted[above]);
    if (end - start).is_infinite() {
        // Neighbours more than f32::MAX apart, where torch's float32 lerp
        // gives an infinity or NaN: the lerp in f64 stays between them.
        let (start, end) = (f64::from(start), f64::from(end));
        return (f64::from(weight).mul_add(end - start, start)) as f32;
    }
    if weight.abs() < 0.5 {
        weight.mul_add(end - start, start)
    } else {
        (weight - 1.0).mul_add(end - start, end)
    }
}

/// The `dim` target values of quantile normalization against `reference`
/// (every weight already imprinted), ascending, or `None` when the
/// reference is empty: `torch.quantile` of the flattened weights at
/// [`reference_levels`]`(dim)`, in float32 as the reference computes them.
pub(crate) fn quantile_targets(reference: ArrayView2<'_, f32>, dim: usize) -> Option<Vec<f32>> {
    if reference.is_empty() {
        return None;
    }
    let mut sorted: Vec<f32> = reference.iter().copied().collect();
    sorted.sort_unstable_by(f32::total_cmp);
    Some(reference_levels(dim).into_iter().take(dim).map(|q| torch_quantile_sorted(&sorted, q)).collect())
}

/// Gives each proxy (row) the target values in the rank order of its own
/// entries: its smallest entry receives `targets[0]`, its largest the last.
/// Ties keep their column order (stable sort), so results are deterministic.
///
/// # Panics
/// If `targets.len() != proxies.ncols()` (internal invariant).
pub(crate) fn assign_by_rank(proxies: ArrayView2<'_, f32>, targets: &[f32]) -> Array2<f32> {
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

/// `torch.quantile(sorted, q)` in float32 (the reference's NORMpost), for
/// ascending `sorted`; `None` when it is empty.
pub fn torch_quantile(sorted: &[f32], q: f32) -> Option<f32> {
    (!sorted.is_empty()).then(|| torch_quantile_sorted(sorted, q))
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
        let sorted32 = [1.0f32, 2.0, 3.0, 4.0];
        assert_eq!(torch_quantile_sorted(&sorted32, 2.0), 4.0);
        assert_eq!(torch_quantile_sorted(&sorted32, -1.0), 1.0);
        assert_eq!(torch_quantile_sorted(&[7.0f32], 0.6), 7.0);
    }

    /// Neighbours more than f32::MAX apart: torch's float32 lerp overflows
    /// (`end - start` is infinite, the result -inf or NaN); ours is the f64
    /// lerp, between them. Neighbours closer than that keep torch's bits.
    #[test]
    fn neighbours_far_apart_give_a_finite_quantile() {
        let sorted = [-f32::MAX, 3e38];
        for q in [0.0, 0.25, 0.5, 0.75, 1.0] {
            let got = torch_quantile_sorted(&sorted, q);
            let (start, end) = (-f64::from(f32::MAX), f64::from(3e38f32));
            let want = f64::from(q).mul_add(end - start, start) as f32;
            assert!(got.is_finite() && got == want, "q = {q}: {got} vs {want}");
        }
        // 1e38 apart: torch's fused lerp, unchanged.
        let near = [-5e37f32, 5e37];
        assert_eq!(torch_quantile_sorted(&near, 0.75), (-0.25f32).mul_add(1e38, 5e37));
    }

    #[test]
    fn levels_are_torch_arange_plus_half_a_step() {
        // torch.arange(0, 1, 1/4, dtype=float32) + 1/8 = [0.125, 0.375, 0.625, 0.875]
        assert_eq!(reference_levels(4), vec![0.125, 0.375, 0.625, 0.875]);
        // torch.arange(0, 1, 1/20, dtype=float32)[9] is 0.45000002 (a vector lane)
        let l = reference_levels(20);
        assert_eq!(l.len(), 20);
        assert_eq!(l[9], 0.450_000_02f32 + 0.025);
        // ceil(1 / (1/49)) = 50 in float64: torch makes one level too many.
        assert_eq!(reference_levels(49).len(), 50);
        assert!(reference_levels(0).is_empty());
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
        // dim = 49: torch's extra level is dropped, one target per feature.
        let wide = ndarray::Array2::from_shape_fn((2, 49), |(i, j)| (i * 49 + j) as f32);
        assert_eq!(quantile_targets(wide.view(), 49).unwrap().len(), 49);
    }
}
