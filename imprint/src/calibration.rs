//! Probabilities and "unknown": a softmax temperature calibrated on labelled
//! rows, and per-class rejection thresholds calibrated from the shots alone.

use imprint_core::{AggregateExt, Aggregation, Distance, ImprintError, Result};
use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::classifier::Classifier;

/// Bins of the expected calibration error.
pub const ECE_BINS: usize = 15;

/// The softmax temperatures a head may hold: a loaded head outside them is
/// refused (scores divided by less than 1e-6 overflow float32 and give NaN
/// probabilities). The fit searches `exp(-12.25)` to `exp(6.25)`, inside them.
pub const TEMPERATURES: std::ops::RangeInclusive<f32> = 1e-6..=1e6;

/// The calibration of a classifier.
///
/// * **Temperature** `T`: probabilities are `softmax(scores / T)`; `T = 1`
///   until [`Classifier::calibrate_temperature`] fits it.
/// * **Rejection**: a row's *knownness* is its similarity to the nearest proxy
///   of its predicted class under the head's distance (the inner product or
///   cosine similarity, or minus the distance; for m-nn its ranking
///   distance). A row is "unknown" when its knownness is below its predicted
///   class's threshold, calibrated by [`Classifier::calibrate_rejection`]
///   from out-of-fold knownness of the shots at a target true-positive rate.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    thresholds: Option<Vec<f32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target_tpr: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    folds: Option<usize>,
}

impl Calibration {
    /// The softmax temperature (1 when not calibrated).
    pub fn temperature(&self) -> f32 {
        self.temperature.unwrap_or(1.0)
    }

    /// Whether a temperature was calibrated.
    pub fn is_temperature_calibrated(&self) -> bool {
        self.temperature.is_some()
    }

    /// The rejection threshold of each class, if calibrated.
    pub fn thresholds(&self) -> Option<&[f32]> {
        self.thresholds.as_deref()
    }

    /// The true-positive rate the thresholds were calibrated for.
    pub fn target_tpr(&self) -> Option<f64> {
        self.target_tpr
    }

    pub(crate) fn set_temperature(&mut self, t: f32) {
        self.temperature = Some(t);
    }

    /// The folds of the cross-fitting the thresholds came from.
    pub fn folds(&self) -> Option<usize> {
        self.folds
    }

    pub(crate) fn set_thresholds(&mut self, thresholds: Vec<f32>, target_tpr: f64, folds: usize) {
        self.thresholds = Some(thresholds);
        self.target_tpr = Some(target_tpr);
        self.folds = Some(folds);
    }

    /// Replaces the thresholds of some classes (after they changed); classes
    /// without enough shots to calibrate get the most permissive threshold of
    /// the others.
    pub(crate) fn update_thresholds(&mut self, n_classes: usize, updated: &[(usize, Option<f32>)]) {
        let Some(t) = &mut self.thresholds else { return };
        t.resize(n_classes, f32::NAN);
        for &(c, v) in updated {
            t[c] = v.unwrap_or(f32::NAN);
        }
        let permissive = t.iter().copied().filter(|v| !v.is_nan()).fold(f32::INFINITY, f32::min);
        let permissive = if permissive.is_finite() { permissive } else { f32::MIN };
        t.iter_mut().filter(|v| v.is_nan()).for_each(|v| *v = permissive);
    }

    /// Forgets the threshold of a removed class.
    pub(crate) fn remove_class(&mut self, c: usize) {
        if let Some(t) = &mut self.thresholds
            && c < t.len()
        {
            t.remove(c);
        }
    }

    /// Checks the calibration against a classifier of `n_classes` (loading).
    pub(crate) fn check(&self, n_classes: usize) -> Result<()> {
        if let Some(t) = self.temperature
            && !(TEMPERATURES.contains(&t))
        {
            return Err(ImprintError::invalid(
                "temperature",
                t,
                format!("must lie in [{}, {}]", TEMPERATURES.start(), TEMPERATURES.end()),
            ));
        }
        if let Some(th) = &self.thresholds {
            if th.len() != n_classes {
                return Err(ImprintError::mismatch("rejection thresholds", n_classes, th.len()));
            }
            if th.iter().any(|v| !v.is_finite()) {
                return Err(ImprintError::invalid(
                    "threshold",
                    "non-finite",
                    "thresholds must be finite numbers",
                ));
            }
            if !self.target_tpr.is_some_and(|t| t > 0.0 && t <= 1.0) || self.folds.is_none_or(|f| f < 2) {
                return Err(ImprintError::invalid(
                    "rejection",
                    "incomplete",
                    "thresholds need target_tpr in (0, 1] and folds >= 2",
                ));
            }
        }
        Ok(())
    }

    /// Whether knownness `k` of a row predicted as class `c` is rejected.
    pub(crate) fn rejects(&self, c: usize, k: f32) -> Result<bool> {
        let thresholds = self.thresholds.as_ref().ok_or_else(|| {
            ImprintError::invalid(
                "rejection",
                "not calibrated",
                "calibrate rejection thresholds first (Classifier::calibrate_rejection)",
            )
        })?;
        Ok(thresholds.get(c).is_some_and(|&t| k < t))
    }
}

/// The distance whose nearest-proxy similarity is a row's knownness.
pub fn knownness_distance(aggregation: &Aggregation) -> Distance {
    match aggregation {
        Aggregation::Max { distance } => *distance,
        Aggregation::Mnn(p) => p.ranking_distance(),
    }
}

/// Row-wise `softmax(scores / t)`.
pub fn softmax(scores: ArrayView2<'_, f32>, t: f32) -> Array2<f32> {
    let mut out = scores.mapv(|s| s / t);
    for mut row in out.outer_iter_mut() {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if !max.is_finite() {
            // Every class at -inf (no proxy reachable): uniform.
            row.fill(1.0 / row.len() as f32);
            continue;
        }
        let mut total = 0.0f64;
        row.mapv_inplace(|v| {
            let e = (v - max).exp();
            total += f64::from(e);
            e
        });
        row.mapv_inplace(|v| (f64::from(v) / total) as f32);
    }
    out
}

/// What [`Classifier::calibrate_temperature`] did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TemperatureReport {
    /// The fitted temperature.
    pub temperature: f32,
    /// Mean negative log-likelihood of the rows before (at the previous temperature).
    pub nll_before: f64,
    /// ... and after.
    pub nll_after: f64,
    /// Expected calibration error (15 equal-width bins of confidence) before.
    pub ece_before: f64,
    /// ... and after.
    pub ece_after: f64,
    /// Rows used.
    pub n: usize,
}

/// Mean negative log-likelihood of `truth` under `softmax(scores / t)`, in f64.
fn nll(scores: ArrayView2<'_, f32>, truth: &[usize], t: f64) -> f64 {
    let mut total = 0.0;
    for (row, &y) in scores.outer_iter().zip(truth) {
        let z: Vec<f64> = row.iter().map(|&s| f64::from(s) / t).collect();
        let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !max.is_finite() {
            total += (row.len() as f64).ln();
            continue;
        }
        let lse = max + z.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
        let zy = if z[y].is_finite() { z[y] } else { -1e30 };
        total += lse - zy;
    }
    total / truth.len() as f64
}

/// Expected calibration error of `probabilities` against `truth`: the
/// average over [`ECE_BINS`] equal-width bins of confidence of
/// |accuracy - confidence|, weighted by the bin's share of rows.
pub fn expected_calibration_error(probabilities: ArrayView2<'_, f32>, truth: &[usize]) -> f64 {
    let mut bins = [(0usize, 0.0f64, 0.0f64); ECE_BINS];
    for (row, &y) in probabilities.outer_iter().zip(truth) {
        let (best, &confidence) = row
            .iter()
            .enumerate()
            .fold((0, &f32::NEG_INFINITY), |acc, (i, v)| if *v > *acc.1 { (i, v) } else { acc });
        let bin = ((f64::from(confidence) * ECE_BINS as f64) as usize).min(ECE_BINS - 1);
        bins[bin].0 += 1;
        bins[bin].1 += f64::from(confidence);
        bins[bin].2 += f64::from(u8::from(best == y));
    }
    let n = truth.len() as f64;
    bins.iter().filter(|b| b.0 > 0).map(|&(_, conf, hits)| (hits - conf).abs() / n).sum::<f64>()
        * if n > 0.0 { 1.0 } else { 0.0 }
}

/// Fits `t` minimizing the NLL over `log t` in [-12, 6] (coarse grid, then
/// golden-section refinement); deterministic.
pub(crate) fn fit_temperature(
    scores: ArrayView2<'_, f32>,
    truth: &[usize],
    previous: f32,
) -> Result<TemperatureReport> {
    if truth.is_empty() {
        return Err(ImprintError::Empty { what: "labelled rows for temperature calibration".into() });
    }
    let f = |log_t: f64| nll(scores, truth, log_t.exp());
    let grid: Vec<f64> = (0..=72).map(|i| -12.0 + 0.25 * f64::from(i)).collect();
    let best = grid.iter().copied().min_by(|a, b| f(*a).total_cmp(&f(*b))).expect("non-empty grid");
    let (mut lo, mut hi) = (best - 0.25, best + 0.25);
    let golden = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..60 {
        let a = hi - golden * (hi - lo);
        let b = lo + golden * (hi - lo);
        if f(a) <= f(b) { hi = b } else { lo = a }
    }
    let temperature = ((lo + hi) / 2.0).exp() as f32;
    let ece = |t: f32| expected_calibration_error(softmax(scores, t).view(), truth);
    Ok(TemperatureReport {
        temperature,
        nll_before: nll(scores, truth, f64::from(previous)),
        nll_after: nll(scores, truth, f64::from(temperature)),
        ece_before: ece(previous),
        ece_after: ece(temperature),
        n: truth.len(),
    })
}

/// `quantile(values, q)` with linear interpolation (NumPy's default).
fn quantile(values: &mut [f32], q: f64) -> f32 {
    values.sort_by(f32::total_cmp);
    let h = (values.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(values.len() - 1);
    (f64::from(values[lo]) + (h - lo as f64) * f64::from(values[hi] - values[lo])) as f32
}

/// Checks the settings of rejection calibration.
pub(crate) fn check_rejection_settings(target_tpr: f64, folds: usize) -> Result<()> {
    if !(target_tpr > 0.0 && target_tpr <= 1.0) {
        return Err(ImprintError::invalid("target_tpr", target_tpr, "must be in (0, 1]"));
    }
    if folds < 2 {
        return Err(ImprintError::invalid("folds", folds, "cross-fitting needs at least 2 folds"));
    }
    Ok(())
}

/// Rejection thresholds of the classes that have rows in `truth` (see
/// [`Classifier::calibrate_rejection`]): `None` for a class with fewer than
/// two out-of-fold scores. Row `i` of `x` is a shot of class `truth[i]`; fold
/// `f` holds every `folds`-th row of each class, starting at its `f`-th.
pub(crate) fn rejection_thresholds(
    classifier: &Classifier,
    x: ArrayView2<'_, f32>,
    truth: &[usize],
    target_tpr: f64,
    folds: usize,
) -> Result<Vec<(usize, Option<f32>)>> {
    check_rejection_settings(target_tpr, folds)?;
    let n_classes = classifier.n_classes();
    let rows: Vec<Vec<usize>> =
        (0..n_classes).map(|c| (0..truth.len()).filter(|&i| truth[i] == c).collect()).collect();
    let distance = knownness_distance(&classifier.recipe().aggregation);
    let max = Aggregation::Max { distance };
    let input_norm = classifier.recipe().input_norm;
    let mut scores: Vec<Vec<f32>> = vec![Vec::new(); n_classes];
    for f in 0..folds {
        let held: Vec<Vec<usize>> =
            rows.iter().map(|r| r.iter().copied().skip(f).step_by(folds).collect()).collect();
        let kept: Vec<Vec<usize>> = rows
            .iter()
            .zip(&held)
            .map(|(r, h)| r.iter().copied().filter(|i| !h.contains(i)).collect())
            .collect();
        // A class whose rows all fall into the held-out part cannot be imprinted without them.
        let usable = |c: usize| !held[c].is_empty() && !kept[c].is_empty();
        if classifier.is_joint() {
            // Every class is refitted at once, from its kept rows (or its kept
            // shots when `x` has none of its rows).
            if !(0..n_classes).all(|c| rows[c].is_empty() || usable(c)) {
                continue;
            }
            let own = classifier.kept_shot_matrices();
            let shots: Vec<Array2<f32>> = (0..n_classes)
                .map(|c| match (rows[c].is_empty(), own.get(c)) {
                    (false, _) => Ok(x.select(Axis(0), &kept[c])),
                    (true, Some(Some(s))) => Ok(s.clone()),
                    (true, _) => {
                        Err(ImprintError::invalid("class", c, "ls/kls rejection needs every class's shots"))
                    }
                })
                .collect::<Result<_>>()?;
            let head = classifier.refitted(shots.iter().map(|s| s.view()).collect())?;
            for c in (0..n_classes).filter(|&c| !rows[c].is_empty()) {
                let queries = x.select(Axis(0), &held[c]);
                let s = head.scores_with(&max, queries.view())?;
                scores[c].extend(s.column(c).iter().copied());
            }
        } else {
            for c in (0..n_classes).filter(|&c| usable(c)) {
                let shots = x.select(Axis(0), &kept[c]);
                let proxies = classifier.imprint_class_alone(c, shots.view())?;
                let queries =
                    input_norm.apply(x.select(Axis(0), &held[c]).view(), "held-out shots (NORMinf)")?;
                let s = max.class_scores(proxies.view(), &vec![0; proxies.nrows()], 1, queries.view())?;
                scores[c].extend(s.column(0).iter().copied());
            }
        }
    }
    let q = 1.0 - target_tpr;
    Ok(scores
        .into_iter()
        .enumerate()
        .filter(|(c, _)| !rows[*c].is_empty())
        .map(|(c, mut s)| {
            s.retain(|v| v.is_finite());
            (c, (s.len() >= 2).then(|| quantile(&mut s, q)))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;

    #[test]
    fn softmax_rows_sum_to_one_and_temperature_sharpens() {
        let s = array![[1.0f32, 0.0], [0.5, 0.5]];
        let p = softmax(s.view(), 1.0);
        assert!(p.outer_iter().all(|r| (r.sum() - 1.0).abs() < 1e-6));
        assert!(softmax(s.view(), 0.1)[[0, 0]] > p[[0, 0]]);
        assert_eq!(
            softmax(array![[f32::NEG_INFINITY, f32::NEG_INFINITY]].view(), 1.0),
            array![[0.5f32, 0.5]]
        );
    }

    #[test]
    fn temperature_fit_lowers_nll_and_ece_on_overconfident_scores() {
        // Scores that are right 75% of the time but very confident at T = 0.05.
        let scores = array![
            [1.0f32, 0.0],
            [1.0, 0.0],
            [1.0, 0.0],
            [1.0, 0.0],
            [0.0, 1.0],
            [0.0, 1.0],
            [0.0, 1.0],
            [0.0, 1.0]
        ];
        let truth = [0, 0, 0, 1, 1, 1, 1, 0];
        let r = fit_temperature(scores.view(), &truth, 0.05).unwrap();
        assert!(r.nll_after < r.nll_before, "{r:?}");
        assert!(r.ece_after < r.ece_before, "{r:?}");
        // The optimum: p = 0.75 for the predicted class, so 1 / T = ln 3.
        assert!((r.temperature - 1.0 / 3f32.ln()).abs() < 1e-3, "{r:?}");
        assert!(fit_temperature(scores.view(), &[], 1.0).is_err());
    }

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(quantile(&mut [3.0, 1.0, 2.0, 4.0], 0.5), 2.5);
        assert_eq!(quantile(&mut [5.0], 0.05), 5.0);
    }
}
