//! The reference's `weibull` presampling: fit a three-parameter Weibull
//! distribution to each class's distances from its mean and keep the samples
//! between two of its quantiles (`src/data/prefilter.py`, `weibull_sampling`).
//!
//! The fit is SciPy 1.14's `scipy.stats.weibull_min.fit(distances)` on the
//! float32 distances, step by step:
//! 1. the sample skewness `s` (`scipy.stats.skew`, in float32 as numpy
//!    computes it for float32 data);
//! 2. if `s` is below the skewness of shape 1e4 (about -1.14), the generic
//!    start `(1, loc, scale)` of `rv_continuous._fitstart`; otherwise a
//!    method-of-moments start: the shape whose skewness is `s` (bisection on
//!    `[0.02, 1e4]`, SciPy's `bisect` tolerances), then scale and location
//!    from the variance and mean;
//! 3. `optimize.fmin` (Nelder-Mead, `xtol = ftol = 1e-4`, at most 600
//!    evaluations) of the penalized negative log-likelihood, which numpy
//!    evaluates in float32 (the data are float32 and NumPy 1.26 keeps
//!    float64 scalars from upcasting them).
//!
//! Sums follow numpy's pairwise summation and the gamma function is Cephes'
//! (as in `scipy.special.gamma`), so the start is SciPy's to the last bit.
//! The float32 `log`, `pow` of numpy may be SIMD versions that round
//! differently in the last bit, which can move Nelder-Mead's last steps:
//! fitted parameters and quantiles agree with SciPy's to within 1e-4
//! relative (`xtol`); see `docs/reference-mode.md` for the measured agreement.

use ndarray::ArrayView2;

use crate::error::DataError;

/// A three-parameter Weibull (minimum) distribution:
/// `F(x) = 1 - exp(-((x - loc) / scale)^shape)` for `x >= loc`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeibullMin {
    shape: f64,
    loc: f64,
    scale: f64,
}

impl WeibullMin {
    /// The distribution with `shape > 0`, `scale > 0` and a finite `loc`.
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] otherwise.
    pub fn new(shape: f64, loc: f64, scale: f64) -> Result<Self, DataError> {
        let bad =
            |name, value: f64, reason| DataError::InvalidParameter { name, value: value.to_string(), reason };
        if !(shape.is_finite() && shape > 0.0) {
            return Err(bad("shape", shape, "must be finite and positive"));
        }
        if !(scale.is_finite() && scale > 0.0) {
            return Err(bad("scale", scale, "must be finite and positive"));
        }
        if !loc.is_finite() {
            return Err(bad("loc", loc, "must be finite"));
        }
        Ok(Self { shape, loc, scale })
    }

    /// The shape `c`.
    pub fn shape(&self) -> f64 {
        self.shape
    }

    /// The location (the lower end of the support).
    pub fn loc(&self) -> f64 {
        self.loc
    }

    /// The scale.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// `weibull_min.fit(data)` of SciPy 1.14 for float32 data (see the
    /// module documentation).
    ///
    /// # Errors
    /// [`DataError::Presampling`] for fewer than two values, a non-finite
    /// value, values that are all equal (no skewness: SciPy's fit is then
    /// meaningless), a skewness that no Weibull shape in `[0.02, 1e4]` has
    /// (SciPy raises), or an optimum outside the valid parameters (SciPy's
    /// `FitError`).
    pub fn fit(data: &[f32]) -> Result<Self, DataError> {
        let fail = |reason: String| DataError::Presampling { what: "Weibull fit".into(), reason };
        if data.len() < 2 {
            return Err(fail(format!("needs at least 2 values, got {}", data.len())));
        }
        if let Some(v) = data.iter().find(|v| !v.is_finite()) {
            return Err(fail(format!("the data hold a non-finite value ({v})")));
        }
        let s = skewness_f32(data);
        if !s.is_finite() {
            return Err(fail("all values are equal (or nearly), so no shape can be fitted".into()));
        }
        let start = if s < weibull_skewness(1e4) {
            generic_start(data)
        } else {
            let c = bisect(|c| weibull_skewness(c) - s, 0.02, 1e4).ok_or_else(|| {
                fail(format!("no Weibull shape in [0.02, 1e4] has the sample skewness {s}"))
            })?;
            let (g1, g2) = (gamma(1.0 + 1.0 / c), gamma(1.0 + 2.0 / c));
            let var = f64::from(variance_f32(data));
            let scale = (var / (g2 - g1.powf(2.0))).sqrt();
            let loc = f64::from(mean_f32(data)) - scale * g1;
            [c, loc, scale]
        };
        let [shape, loc, scale] = nelder_mead(|theta| penalized_nll(theta, data), start);
        if !(shape > 0.0 && scale > 0.0) {
            return Err(fail(format!(
                "the optimum (shape {shape}, loc {loc}, scale {scale}) is outside the valid parameters"
            )));
        }
        Self::new(shape, loc, scale).map_err(|e| fail(e.to_string()))
    }

    /// The quantile function (`weibull_min.ppf(q, c, loc, scale)`):
    /// `loc + scale * (-ln(1 - q))^(1/c)`; `loc` at `q = 0`, infinity at
    /// `q = 1` and NaN outside `[0, 1]`.
    pub fn ppf(&self, q: f64) -> f64 {
        if q == 0.0 {
            self.loc
        } else if q == 1.0 {
            f64::INFINITY
        } else if q > 0.0 && q < 1.0 {
            (-(-q).ln_1p()).powf(1.0 / self.shape) * self.scale + self.loc
        } else {
            f64::NAN
        }
    }
}

/// The rows of `class` that the reference's `weibull_sampling(class,
/// quantile=(low, high))` keeps, in order: those whose Euclidean distance
/// from the class mean lies in `[ppf(low), ppf(high)]` of the Weibull
/// distribution fitted to all distances.
///
/// Distances are float32 as in torch (mean and norms accumulated in f64,
/// then rounded), and compared with the thresholds rounded to float32, as
/// torch compares a float32 tensor with a Python float.
///
/// # Errors
/// [`DataError::Presampling`] for quantiles outside `[0, 1]` or in the wrong
/// order, a class without rows or with non-finite values, and every error
/// of [`WeibullMin::fit`].
pub fn weibull_keep(class: ArrayView2<'_, f32>, quantiles: (f64, f64)) -> Result<Vec<usize>, DataError> {
    let (low, high) = quantiles;
    if !(0.0..=1.0).contains(&low) || !(0.0..=1.0).contains(&high) || low > high {
        return Err(DataError::Presampling {
            what: "weibull presampling".into(),
            reason: format!("quantiles ({low}, {high}) must satisfy 0 <= low <= high <= 1"),
        });
    }
    let distances = distances_from_mean(class);
    let fit = WeibullMin::fit(&distances)?;
    let (lo, hi) = (fit.ppf(low) as f32, fit.ppf(high) as f32);
    Ok((0..distances.len()).filter(|&i| distances[i] >= lo && distances[i] <= hi).collect())
}

/// `torch.norm(x - x.mean(0), dim=1)` in float32 (accumulated in f64).
fn distances_from_mean(x: ArrayView2<'_, f32>) -> Vec<f32> {
    let n = x.nrows().max(1) as f64;
    let mut sums = vec![0.0f64; x.ncols()];
    for row in x.outer_iter() {
        sums.iter_mut().zip(row).for_each(|(s, &v)| *s += f64::from(v));
    }
    let mean: Vec<f32> = sums.iter().map(|s| (s / n) as f32).collect();
    x.outer_iter()
        .map(|row| {
            let sq: f64 = row.iter().zip(&mean).map(|(&v, &m)| f64::from(v - m).powi(2)).sum();
            sq.sqrt() as f32
        })
        .collect()
}

/// numpy's pairwise summation of float32 values (`add.reduce`, blocks of 128
/// summed with 8 accumulators), in float32.
fn pairwise_sum_f32(x: &[f32]) -> f32 {
    let n = x.len();
    if n < 8 {
        x.iter().fold(-0.0f32, |acc, &v| acc + v)
    } else if n <= 128 {
        let mut r = [0.0f32; 8];
        r.copy_from_slice(&x[..8]);
        let mut i = 8;
        while i < n - n % 8 {
            for (j, acc) in r.iter_mut().enumerate() {
                *acc += x[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &x[i..] {
            res += v;
        }
        res
    } else {
        let mut half = n / 2;
        half -= half % 8;
        pairwise_sum_f32(&x[..half]) + pairwise_sum_f32(&x[half..])
    }
}

/// `numpy.mean` of float32 values, in float32.
fn mean_f32(x: &[f32]) -> f32 {
    pairwise_sum_f32(x) / x.len() as f32
}

/// `numpy.var` (ddof 0) of float32 values, in float32.
fn variance_f32(x: &[f32]) -> f32 {
    let mean = mean_f32(x);
    let sq: Vec<f32> = x.iter().map(|&v| (v - mean) * (v - mean)).collect();
    pairwise_sum_f32(&sq) / x.len() as f32
}

/// `scipy.stats.skew` (biased) of float32 values: central moments in
/// float32, their ratio in float64; NaN when the variance is negligible.
fn skewness_f32(x: &[f32]) -> f64 {
    let mean = mean_f32(x);
    let dev: Vec<f32> = x.iter().map(|&v| v - mean).collect();
    let sq: Vec<f32> = dev.iter().map(|&d| d * d).collect();
    let cube: Vec<f32> = sq.iter().zip(&dev).map(|(&s, &d)| s * d).collect();
    let m2 = pairwise_sum_f32(&sq) / x.len() as f32;
    let m3 = pairwise_sum_f32(&cube) / x.len() as f32;
    // np.finfo(float32).resolution * 10, times the mean, in float32.
    let eps = 1e-6f32 * 10.0 * mean;
    if m2 <= eps * eps {
        return f64::NAN;
    }
    f64::from(m3) / f64::from(m2).powf(1.5)
}

/// The skewness of a Weibull distribution with shape `c` (SciPy's `skew(c)`
/// inside `weibull_min.fit`).
fn weibull_skewness(c: f64) -> f64 {
    let (g1, g2, g3) = (gamma(1.0 + 1.0 / c), gamma(1.0 + 2.0 / c), gamma(1.0 + 3.0 / c));
    let num = 2.0 * g1.powf(3.0) - 3.0 * g1 * g2 + g3;
    let den = (g2 - g1.powf(2.0)).powf(1.5);
    num / den
}

/// The start `(1, loc, scale)` of `rv_continuous._fitstart` for data whose
/// skewness is too negative for the moment start (`_fit_loc_scale_support`
/// with shape 1: mean 1, variance 1).
fn generic_start(x: &[f32]) -> [f64; 3] {
    let scale = f64::from(variance_f32(x)).sqrt();
    let loc = f64::from(mean_f32(x)) - scale;
    let min = x.iter().copied().fold(f32::INFINITY, f32::min);
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let scale = if scale.is_finite() && scale > 0.0 { scale } else { 1.0 };
    if loc < f64::from(min) {
        return [1.0, loc, scale];
    }
    let margin = f64::from(max - min) * 0.1;
    [1.0, f64::from(min) - margin, 1.0]
}

/// SciPy's `bisect(f, a, b)` (`xtol = 2e-12`, `rtol = 4 eps`, 100
/// iterations), or `None` when `f(a)` and `f(b)` have the same sign.
fn bisect(f: impl Fn(f64) -> f64, a: f64, b: f64) -> Option<f64> {
    const XTOL: f64 = 2e-12;
    const RTOL: f64 = 4.0 * f64::EPSILON;
    let (mut xa, xb) = (a, b);
    let (fa, fb) = (f(xa), f(xb));
    if fa * fb > 0.0 {
        return None;
    }
    if fa == 0.0 {
        return Some(xa);
    }
    if fb == 0.0 {
        return Some(xb);
    }
    let mut dm = xb - xa;
    for _ in 0..100 {
        dm *= 0.5;
        let xm = xa + dm;
        let fm = f(xm);
        if fm * fa >= 0.0 {
            xa = xm;
        }
        if fm == 0.0 || dm.abs() < XTOL + RTOL * xm.abs() {
            return Some(xm);
        }
    }
    Some(xa)
}

/// `weibull_min._penalized_nnlf((c, loc, scale), x)` as numpy evaluates it on
/// float32 data: standardized values, log-density and their sum in float32;
/// each value outside the support (or with a non-finite log-density) adds
/// `100 log(f64::MAX)`.
fn penalized_nll(theta: [f64; 3], x: &[f32]) -> f64 {
    let [c, loc, scale] = theta;
    // SciPy's argument check (c > 0, false for NaN) and scale > 0.
    if c.is_nan() || c <= 0.0 || scale <= 0.0 {
        return f64::INFINITY;
    }
    let (loc32, scale32, c32) = (loc as f32, scale as f32, c as f32);
    let log_c = c.ln() as f32;
    let cm1 = (c - 1.0) as f32;
    let mut n_bad = 0usize;
    let mut terms = Vec::with_capacity(x.len());
    for &v in x {
        let z = (v - loc32) / scale32;
        // Outside the support [0, inf] (NaN included).
        if z.is_nan() || z < 0.0 {
            n_bad += 1;
            continue;
        }
        // scipy.special.xlogy on float32 computes in float64 and rounds.
        let xlogy = if cm1 == 0.0 { 0.0 } else { (f64::from(cm1) * f64::from(z).ln()) as f32 };
        let logpdf = (log_c + xlogy) - z.powf(c32);
        if logpdf.is_finite() {
            terms.push(logpdf);
        } else {
            n_bad += 1;
        }
    }
    let total = pairwise_sum_f32(&terms);
    // SciPy's penalty per bad value: 100 * _LOGXMAX = 100 * log(f64::MAX).
    f64::from(-total) + n_bad as f64 * f64::MAX.ln() * 100.0 + x.len() as f64 * scale.ln()
}

/// An objective with SciPy's evaluation budget: a call beyond it is refused
/// (`_MaxFuncCallError`) and the step in progress stops there.
struct Budget<F> {
    f: F,
    calls: usize,
    max: usize,
}

impl<F: Fn([f64; 3]) -> f64> Budget<F> {
    fn eval(&mut self, x: [f64; 3]) -> Option<f64> {
        if self.calls >= self.max {
            return None;
        }
        self.calls += 1;
        Some((self.f)(x))
    }
}

/// `scipy.optimize.fmin(f, x0, disp=0)`: Nelder-Mead with SciPy's initial
/// simplex (5% steps, 0.00025 for zero entries), coefficients 1, 2, 0.5,
/// 0.5, `xatol = fatol = 1e-4` and at most 600 evaluations and iterations.
fn nelder_mead(f: impl Fn([f64; 3]) -> f64, x0: [f64; 3]) -> [f64; 3] {
    const N: usize = 3;
    const MAX: usize = N * 200;
    const TOL: f64 = 1e-4;
    let mut budget = Budget { f, calls: 0, max: MAX };
    let mut sim = [x0; N + 1];
    for k in 0..N {
        sim[k + 1][k] = if x0[k] != 0.0 { 1.05 * x0[k] } else { 0.00025 };
    }
    let mut fsim = [f64::INFINITY; N + 1];
    for k in 0..=N {
        match budget.eval(sim[k]) {
            Some(v) => fsim[k] = v,
            None => break,
        }
    }
    sort_simplex(&mut sim, &mut fsim);
    let mut iterations = 1;
    while budget.calls < MAX && iterations < MAX {
        let spread_x = sim[1..].iter().flat_map(|v| v.iter().zip(&sim[0]).map(|(a, b)| (a - b).abs()));
        let spread_f = fsim[1..].iter().map(|v| (fsim[0] - v).abs());
        if spread_x.fold(f64::NEG_INFINITY, f64::max) <= TOL
            && spread_f.fold(f64::NEG_INFINITY, f64::max) <= TOL
        {
            break;
        }
        if nelder_mead_step(&mut budget, &mut sim, &mut fsim).is_some() {
            iterations += 1;
        }
        sort_simplex(&mut sim, &mut fsim);
    }
    sim[0]
}

/// One iteration of SciPy's Nelder-Mead loop; `None` when the evaluation
/// budget ran out part way (the simplex keeps what was done, as in SciPy).
fn nelder_mead_step<F: Fn([f64; 3]) -> f64>(
    budget: &mut Budget<F>,
    sim: &mut [[f64; 3]; 4],
    fsim: &mut [f64; 4],
) -> Option<()> {
    let combine = |a: f64, xa: &[f64; 3], b: f64, xb: &[f64; 3]| -> [f64; 3] {
        std::array::from_fn(|i| a * xa[i] - b * xb[i])
    };
    let xbar: [f64; 3] = std::array::from_fn(|i| (sim[0][i] + sim[1][i] + sim[2][i]) / 3.0);
    let worst = sim[3];
    let xr = combine(2.0, &xbar, 1.0, &worst);
    let fxr = budget.eval(xr)?;
    if fxr < fsim[0] {
        let xe = combine(3.0, &xbar, 2.0, &worst);
        let fxe = budget.eval(xe)?;
        (sim[3], fsim[3]) = if fxe < fxr { (xe, fxe) } else { (xr, fxr) };
    } else if fxr < fsim[2] {
        (sim[3], fsim[3]) = (xr, fxr);
    } else {
        let shrink = if fxr < fsim[3] {
            let xc = combine(1.5, &xbar, 0.5, &worst);
            let fxc = budget.eval(xc)?;
            if fxc <= fxr {
                (sim[3], fsim[3]) = (xc, fxc);
                false
            } else {
                true
            }
        } else {
            let xcc: [f64; 3] = std::array::from_fn(|i| 0.5 * xbar[i] + 0.5 * worst[i]);
            let fxcc = budget.eval(xcc)?;
            if fxcc < fsim[3] {
                (sim[3], fsim[3]) = (xcc, fxcc);
                false
            } else {
                true
            }
        };
        if shrink {
            for j in 1..4 {
                sim[j] = std::array::from_fn(|i| sim[0][i] + 0.5 * (sim[j][i] - sim[0][i]));
                fsim[j] = budget.eval(sim[j])?;
            }
        }
    }
    Some(())
}

/// Orders the vertices by function value (stable, as numpy's argsort on
/// four elements).
fn sort_simplex(sim: &mut [[f64; 3]; 4], fsim: &mut [f64; 4]) {
    let mut order = [0usize, 1, 2, 3];
    order.sort_by(|&a, &b| fsim[a].total_cmp(&fsim[b]));
    let (s, f) = (*sim, *fsim);
    for (k, &o) in order.iter().enumerate() {
        sim[k] = s[o];
        fsim[k] = f[o];
    }
}

/// Cephes' `Gamma(x)` for `x >= 1` (what `scipy.special.gamma` computes):
/// Stirling's series above 33, otherwise a rational approximation on
/// `[2, 3]` after the recurrence.
fn gamma(x: f64) -> f64 {
    const P: [f64; 7] = [
        0.00016011952247675185,
        0.0011913514700658638,
        0.010421379756176158,
        0.04763678004571372,
        0.20744822764843598,
        0.4942148268014971,
        1.0,
    ];
    const Q: [f64; 8] = [
        -2.3158187332412014e-05,
        0.0005396055804933034,
        -0.004456419138517973,
        0.011813978522206043,
        0.035823639860549865,
        -0.23459179571824335,
        0.0714304917030273,
        1.0,
    ];
    if x > 33.0 {
        return stirling(x);
    }
    let (mut x, mut z) = (x, 1.0);
    while x >= 3.0 {
        x -= 1.0;
        z *= x;
    }
    while x < 2.0 {
        z /= x;
        x += 1.0;
    }
    if x == 2.0 {
        return z;
    }
    x -= 2.0;
    z * polevl(x, &P) / polevl(x, &Q)
}

/// Cephes' `stirf`: Stirling's formula, valid for 33 <= x <= 172.
fn stirling(x: f64) -> f64 {
    const STIR: [f64; 5] = [
        0.0007873113957930937,
        -0.00022954996161337813,
        -0.0026813261780578124,
        0.0034722222160545866,
        0.08333333333334822,
    ];
    const MAXGAM: f64 = 171.6243769563027;
    const MAXSTIR: f64 = 143.016_08;
    const SQTPI: f64 = 2.5066282746310007;
    if x >= MAXGAM {
        return f64::INFINITY;
    }
    let w = 1.0 / x;
    let w = 1.0 + w * polevl(w, &STIR);
    let mut y = x.exp();
    if x > MAXSTIR {
        let v = x.powf(0.5 * x - 0.25);
        y = v * (v / y);
    } else {
        y = x.powf(x - 0.5) / y;
    }
    SQTPI * y * w
}

/// Cephes' `polevl`: Horner's rule, coefficients from the highest power.
fn polevl(x: f64, coef: &[f64]) -> f64 {
    coef[1..].iter().fold(coef[0], |acc, &c| acc * x + c)
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;

    use super::*;

    #[test]
    fn gamma_matches_factorials_and_half_integers() {
        for (n, f) in [(1.0, 1.0), (2.0, 1.0), (3.0, 2.0), (5.0, 24.0), (11.0, 3_628_800.0)] {
            assert!((gamma(n) - f).abs() <= 1e-15 * f, "gamma({n}) = {}", gamma(n));
        }
        let half = std::f64::consts::PI.sqrt();
        assert!((gamma(1.5) - half / 2.0).abs() < 1e-15);
        // Stirling branch: gamma(41) = 40!
        let f40 = (1..=40).fold(1.0f64, |a, k| a * k as f64);
        assert!((gamma(41.0) / f40 - 1.0).abs() < 1e-14);
        assert!((gamma(150.0) / (gamma(149.0) * 149.0) - 1.0).abs() < 1e-13);
    }

    #[test]
    fn pairwise_sum_follows_numpy_blocks() {
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.37).sin()).collect();
        let exact: f64 = x.iter().map(|&v| f64::from(v)).sum();
        assert!((f64::from(pairwise_sum_f32(&x)) - exact).abs() < 1e-4);
        assert_eq!(pairwise_sum_f32(&[1.0, 2.0, 3.0]), 6.0);
        assert_eq!(pairwise_sum_f32(&[]), -0.0);
    }

    #[test]
    fn fit_recovers_the_parameters_of_weibull_quantiles() {
        // Deterministic sample: the quantiles of shape 2.5, loc 0.3, scale 0.2.
        let truth = WeibullMin::new(2.5, 0.3, 0.2).unwrap();
        let data: Vec<f32> = (0..400).map(|i| truth.ppf((i as f64 + 0.5) / 400.0) as f32).collect();
        let fit = WeibullMin::fit(&data).unwrap();
        assert!((fit.shape() - 2.5).abs() < 0.25, "{fit:?}");
        assert!((fit.scale() - 0.2).abs() < 0.03, "{fit:?}");
        assert!((fit.loc() - 0.3).abs() < 0.03, "{fit:?}");
        assert!(fit.loc() < f64::from(data[0]));
    }

    #[test]
    fn ppf_ends_and_inverse() {
        let w = WeibullMin::new(1.0, 1.0, 2.0).unwrap();
        assert_eq!(w.ppf(0.0), 1.0);
        assert_eq!(w.ppf(1.0), f64::INFINITY);
        assert!(w.ppf(1.5).is_nan() && w.ppf(-0.1).is_nan());
        // Exponential with scale 2: median 2 ln 2.
        assert!((w.ppf(0.5) - (1.0 + 2.0 * std::f64::consts::LN_2)).abs() < 1e-15);
    }

    #[test]
    fn degenerate_inputs_are_errors_not_panics() {
        assert!(matches!(WeibullMin::fit(&[1.0]), Err(DataError::Presampling { .. })));
        assert!(matches!(WeibullMin::fit(&[1.0, f32::NAN, 2.0]), Err(DataError::Presampling { .. })));
        assert!(matches!(WeibullMin::fit(&[0.5; 10]), Err(DataError::Presampling { .. })));
        assert!(WeibullMin::new(0.0, 0.0, 1.0).is_err());
        assert!(WeibullMin::new(1.0, f64::NAN, 1.0).is_err());
        let x = Array2::from_shape_fn((20, 3), |(i, j)| ((i * 7 + j * 3) % 11) as f32);
        assert!(weibull_keep(x.view(), (0.9, 0.1)).is_err());
        assert!(weibull_keep(x.view(), (0.0, 1.5)).is_err());
        assert!(weibull_keep(Array2::<f32>::zeros((0, 3)).view(), (0.05, 0.95)).is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Any data, finite or not, gives a valid distribution or an error, never a panic.
        #[test]
        fn fit_never_panics(
            data in proptest::collection::vec(
                proptest::prop_oneof![
                    8 => -1e3f32..1e3,
                    1 => proptest::sample::select(vec![0.0f32, f32::MAX, f32::MIN_POSITIVE, f32::NAN, f32::INFINITY]),
                ],
                0..60,
            ),
            low in 0.0f64..1.0,
        ) {
            if let Ok(fit) = WeibullMin::fit(&data) {
                proptest::prop_assert!(fit.shape() > 0.0 && fit.scale() > 0.0 && fit.loc().is_finite());
                proptest::prop_assert!(fit.ppf(low) >= fit.loc());
            }
            let rows = Array2::from_shape_fn((data.len(), 2), |(i, j)| if j == 0 { data[i] } else { 1.0 });
            let _ = weibull_keep(rows.view(), (low, 1.0));
        }
    }

    #[test]
    fn keep_with_the_full_range_drops_nothing_below_loc() {
        let x =
            Array2::from_shape_fn((60, 4), |(i, j)| ((i * 13 + j * 5) % 17) as f32 * 0.1 + (i % 3) as f32);
        let all = weibull_keep(x.view(), (0.0, 1.0)).unwrap();
        let mid = weibull_keep(x.view(), (0.05, 0.95)).unwrap();
        assert!(mid.len() < all.len() && mid.iter().all(|i| all.contains(i)));
        assert!(mid.windows(2).all(|w| w[0] < w[1]));
    }
}
