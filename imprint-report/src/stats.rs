//! Statistics of the paper's analysis (reference `analysis/`):
//! medians over seeds, mean and standard deviation across (FM, task),
//! average ranks, the Friedman test, and pairwise Wilcoxon signed-rank tests
//! with Holm's correction (the critical-difference diagram's cliques).
//!
//! Conventions taken from the reference:
//! - [`std_dev`] takes `ddof`; pandas' `std` (used by the reference) is `ddof = 1`.
//! - Ranks: higher accuracy = rank 1. The result tables rank with ties
//!   averaged (`Series.rank(ascending=False)`, [`RankTies::Average`]); the CD
//!   diagram's average ranks use `method="dense"` ([`RankTies::Dense`]).
//! - The reference's CD diagram (`analysis/cd_diag.py`) draws no Nemenyi
//!   critical difference (`cd=None`); it connects methods whose pairwise
//!   Wilcoxon-Holm test is not significant. It calls
//!   `wilcoxon(perf_1, perf_2, zero_method="pratt")` and first requires the
//!   Friedman test to reject at alpha (0.05).
//! - [`wilcoxon`] follows SciPy 1.17's `scipy.stats.wilcoxon` with
//!   `method="auto"`: exact null distribution when n <= 50 and there are no
//!   ties or zeros; otherwise, for n <= 13, the exact sign-flip permutation
//!   distribution (what SciPy's `PermutationMethod` computes deterministically
//!   for 2^n <= 9999 resamples); otherwise the normal approximation with tie
//!   correction (and Pratt's adjustment for `zero_method="pratt"`), without
//!   continuity correction unless asked. Here n counts zeros too, as in SciPy.
//!   Older SciPy versions (which the reference may have used) differ for
//!   samples with ties or zeros.

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

use crate::error::{ReportError, Result};

fn check_finite(test: &'static str, values: &[f64]) -> Result<()> {
    if values.is_empty() {
        return Err(ReportError::Stats { test, reason: "no values".into() });
    }
    if let Some(pos) = values.iter().position(|v| !v.is_finite()) {
        return Err(ReportError::Stats {
            test,
            reason: format!("value {} at position {pos} is not finite", values[pos]),
        });
    }
    Ok(())
}

/// The median (mean of the two middle values for even counts), like
/// `numpy.median` / pandas' `median`.
pub fn median(values: &[f64]) -> Result<f64> {
    check_finite("median", values)?;
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Ok(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// The arithmetic mean.
pub fn mean(values: &[f64]) -> Result<f64> {
    check_finite("mean", values)?;
    Ok(values.iter().sum::<f64>() / values.len() as f64)
}

/// The standard deviation with `ddof` delta degrees of freedom
/// (`ddof = 1`: pandas' default and the reference's; `ddof = 0`: numpy's).
pub fn std_dev(values: &[f64], ddof: usize) -> Result<f64> {
    let m = mean(values)?;
    if values.len() <= ddof {
        return Err(ReportError::Stats {
            test: "std",
            reason: format!("{} values are too few for ddof = {ddof}", values.len()),
        });
    }
    let ss: f64 = values.iter().map(|v| (v - m) * (v - m)).sum();
    Ok((ss / (values.len() - ddof) as f64).sqrt())
}

/// How tied values are ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RankTies {
    /// Ties get the mean of the ranks they span (pandas/scipy `"average"`).
    Average,
    /// Ties share a rank and the next distinct value gets the next integer (`"dense"`).
    Dense,
}

/// Ranks with the *largest* value ranked 1 (`rank(ascending=False)`).
pub fn rank_descending(values: &[f64], ties: RankTies) -> Result<Vec<f64>> {
    check_finite("rank", values)?;
    let neg: Vec<f64> = values.iter().map(|v| -v).collect();
    Ok(rank_ascending(&neg, ties).0)
}

/// Ascending ranks and the sizes of the tie groups.
fn rank_ascending(values: &[f64], ties: RankTies) -> (Vec<f64>, Vec<usize>) {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut groups = Vec::new();
    let mut i = 0;
    let mut dense = 0.0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        dense += 1.0;
        let r = match ties {
            RankTies::Average => (i + j) as f64 / 2.0 + 1.0,
            RankTies::Dense => dense,
        };
        for &idx in &order[i..=j] {
            ranks[idx] = r;
        }
        groups.push(j - i + 1);
        i = j + 1;
    }
    (ranks, groups)
}

fn check_matrix(test: &'static str, scores: &[Vec<f64>]) -> Result<usize> {
    let Some(first) = scores.first() else {
        return Err(ReportError::Stats { test, reason: "no blocks (rows)".into() });
    };
    let k = first.len();
    for (i, row) in scores.iter().enumerate() {
        if row.len() != k {
            return Err(ReportError::Stats {
                test,
                reason: format!("row {i} has {} methods, row 0 has {k}", row.len()),
            });
        }
        check_finite(test, row)?;
    }
    Ok(k)
}

/// Average rank of each method: `scores[block][method]` (blocks are e.g.
/// (FM, task) pairs), ranked within each block with the best score ranked 1,
/// then averaged over blocks.
pub fn average_ranks(scores: &[Vec<f64>], ties: RankTies) -> Result<Vec<f64>> {
    let k = check_matrix("average_ranks", scores)?;
    let mut sums = vec![0.0; k];
    for row in scores {
        for (s, r) in sums.iter_mut().zip(rank_descending(row, ties)?) {
            *s += r;
        }
    }
    Ok(sums.into_iter().map(|s| s / scores.len() as f64).collect())
}

/// A test statistic and its p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestResult {
    /// The statistic (chi-square for Friedman, min(R+, R-) for Wilcoxon).
    pub statistic: f64,
    /// The p-value.
    pub p_value: f64,
}

/// Friedman's chi-square test (`scipy.stats.friedmanchisquare`) on
/// `scores[block][method]`, with the tie correction; needs >= 3 methods.
pub fn friedman(scores: &[Vec<f64>]) -> Result<TestResult> {
    let k = check_matrix("friedman", scores)?;
    if k < 3 {
        return Err(ReportError::Stats {
            test: "friedman",
            reason: format!("needs at least 3 methods, got {k}"),
        });
    }
    let n = scores.len() as f64;
    let kf = k as f64;
    let mut rank_sums = vec![0.0; k];
    let mut tie_sum = 0.0;
    for row in scores {
        let (ranks, groups) = rank_ascending(row, RankTies::Average);
        for (s, r) in rank_sums.iter_mut().zip(ranks) {
            *s += r;
        }
        tie_sum += groups.iter().map(|&t| (t * t * t - t) as f64).sum::<f64>();
    }
    let c = 1.0 - tie_sum / (kf * (kf * kf - 1.0) * n);
    if c <= 0.0 {
        return Err(ReportError::Stats { test: "friedman", reason: "every block is one big tie".into() });
    }
    let ssbn: f64 = rank_sums.iter().map(|s| s * s).sum();
    let statistic = (12.0 / (kf * n * (kf + 1.0)) * ssbn - 3.0 * n * (kf + 1.0)) / c;
    let p_value = chi2_sf(statistic, kf - 1.0)?;
    Ok(TestResult { statistic, p_value })
}

fn chi2_sf(x: f64, df: f64) -> Result<f64> {
    let dist =
        ChiSquared::new(df).map_err(|e| ReportError::Stats { test: "chi-square", reason: e.to_string() })?;
    Ok(dist.sf(x.max(0.0)))
}

fn normal_sf(z: f64) -> f64 {
    // N(0, 1) parameters are always valid.
    Normal::standard().sf(z)
}

/// How zero differences are treated (SciPy's `zero_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ZeroMethod {
    /// Drop zeros before ranking (SciPy's default).
    #[default]
    Wilcox,
    /// Rank zeros with the rest, then drop their ranks (the reference's CD diagram).
    Pratt,
    /// Rank zeros and split their ranks between R+ and R-.
    Zsplit,
}

/// Which null distribution to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WilcoxonMethod {
    /// SciPy's `"auto"` (see the module docs).
    #[default]
    Auto,
    /// The exact distribution of the statistic without ties.
    Exact,
    /// The normal approximation.
    Asymptotic,
}

/// The distribution actually used for a p-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WilcoxonNull {
    /// Exact signed-rank distribution.
    Exact,
    /// Exact enumeration of all sign flips (small samples with ties or zeros).
    Permutation,
    /// Normal approximation.
    Asymptotic,
}

/// Options of [`wilcoxon`] (two-sided).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WilcoxonOptions {
    /// Zero handling.
    pub zero_method: ZeroMethod,
    /// Continuity correction of the normal approximation (SciPy default: off).
    pub correction: bool,
    /// Null distribution.
    pub method: WilcoxonMethod,
}

/// Result of [`wilcoxon`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WilcoxonResult {
    /// min(R+, R-).
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// The null distribution used.
    pub null: WilcoxonNull,
}

/// Two-sided Wilcoxon signed-rank test on paired samples (`d = x - y`).
pub fn wilcoxon(x: &[f64], y: &[f64], options: WilcoxonOptions) -> Result<WilcoxonResult> {
    if x.len() != y.len() {
        return Err(ReportError::Stats {
            test: "wilcoxon",
            reason: format!("paired samples differ in length: {} vs {}", x.len(), y.len()),
        });
    }
    let d: Vec<f64> = x.iter().zip(y).map(|(a, b)| a - b).collect();
    wilcoxon_differences(&d, options)
}

/// Two-sided Wilcoxon signed-rank test on differences.
pub fn wilcoxon_differences(d: &[f64], options: WilcoxonOptions) -> Result<WilcoxonResult> {
    check_finite("wilcoxon", d)?;
    let n_total = d.len();
    let n_zero = d.iter().filter(|v| **v == 0.0).count();
    if n_zero == n_total {
        return Err(ReportError::Stats { test: "wilcoxon", reason: "all differences are zero".into() });
    }
    // Values ranked: without zeros for "wilcox", with them otherwise.
    let ranked: Vec<f64> = match options.zero_method {
        ZeroMethod::Wilcox => d.iter().copied().filter(|v| *v != 0.0).collect(),
        ZeroMethod::Pratt | ZeroMethod::Zsplit => d.to_vec(),
    };
    let abs: Vec<f64> = ranked.iter().map(|v| v.abs()).collect();
    let (ranks, groups) = rank_ascending(&abs, RankTies::Average);
    let r_zero: f64 = ranked.iter().zip(&ranks).filter(|(v, _)| **v == 0.0).map(|(_, r)| r).sum();
    let zsplit_half = if options.zero_method == ZeroMethod::Zsplit { r_zero / 2.0 } else { 0.0 };
    let r_plus: f64 =
        ranked.iter().zip(&ranks).filter(|(v, _)| **v > 0.0).map(|(_, r)| r).sum::<f64>() + zsplit_half;
    let r_minus: f64 =
        ranked.iter().zip(&ranks).filter(|(v, _)| **v < 0.0).map(|(_, r)| r).sum::<f64>() + zsplit_half;
    let has_ties = groups.iter().any(|&t| t > 1);
    let count = ranked.len() as f64;

    let null = match options.method {
        WilcoxonMethod::Exact => WilcoxonNull::Exact,
        WilcoxonMethod::Asymptotic => WilcoxonNull::Asymptotic,
        WilcoxonMethod::Auto if n_total > 50 => WilcoxonNull::Asymptotic,
        WilcoxonMethod::Auto if !has_ties && n_zero == 0 => WilcoxonNull::Exact,
        WilcoxonMethod::Auto if n_total <= 13 => WilcoxonNull::Permutation,
        WilcoxonMethod::Auto => WilcoxonNull::Asymptotic,
    };
    let p_value = match null {
        WilcoxonNull::Exact => {
            let pmf_counts = signed_rank_counts(ranked.len());
            let total = 2f64.powi(ranked.len() as i32);
            let cdf = |k: f64| -> f64 {
                if k < 0.0 { 0.0 } else { pmf_counts.iter().take(k as usize + 1).sum::<f64>() / total }
            };
            let sf = |k: f64| -> f64 { pmf_counts.iter().skip(k.max(0.0) as usize).sum::<f64>() / total };
            (2.0 * sf(r_plus.floor()).min(cdf(r_plus.ceil()))).clamp(0.0, 1.0)
        }
        WilcoxonNull::Permutation => {
            // Sign flips of the non-zero entries (zeros flip onto themselves).
            let nonzero: Vec<f64> =
                ranked.iter().zip(&ranks).filter(|(v, _)| **v != 0.0).map(|(_, r)| *r).collect();
            let gamma = (r_plus * f64::EPSILON * 100.0).abs();
            let (mut less, mut greater) = (0u64, 0u64);
            let patterns = 1u64 << nonzero.len();
            for mask in 0..patterns {
                let stat: f64 = nonzero
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask >> i & 1 == 1)
                    .map(|(_, r)| r)
                    .sum::<f64>()
                    + zsplit_half;
                less += u64::from(stat <= r_plus + gamma);
                greater += u64::from(stat >= r_plus - gamma);
            }
            let (pl, pg) = (less as f64 / patterns as f64, greater as f64 / patterns as f64);
            (2.0 * pl.min(pg)).clamp(0.0, 1.0)
        }
        WilcoxonNull::Asymptotic => {
            let mut mn = count * (count + 1.0) * 0.25;
            let mut se = count * (count + 1.0) * (2.0 * count + 1.0);
            let mut tie_groups = groups.clone();
            if options.zero_method == ZeroMethod::Pratt && n_zero > 0 {
                let nz = n_zero as f64;
                mn -= nz * (nz + 1.0) * 0.25;
                se -= nz * (nz + 1.0) * (2.0 * nz + 1.0);
                // Zeros (the smallest |d|, so the first group) are not ties here.
                tie_groups[0] = 0;
            }
            let tie_correct: f64 = tie_groups.iter().map(|&t| (t * t * t).saturating_sub(t) as f64).sum();
            let se = ((se - tie_correct / 2.0) / 24.0).sqrt();
            if se <= 0.0 || !se.is_finite() {
                return Err(ReportError::Stats {
                    test: "wilcoxon",
                    reason: "zero variance under the null".into(),
                });
            }
            let mut z = (r_plus - mn) / se;
            if options.correction {
                z -= z.signum() * 0.5 / se;
            }
            (2.0 * normal_sf(z.abs())).min(1.0)
        }
    };
    Ok(WilcoxonResult { statistic: r_plus.min(r_minus), p_value, null })
}

/// Number of sign assignments of ranks 1..=n with each positive-rank sum
/// 0..=n(n+1)/2 (exact in f64 for n <= 50, counts < 2^53).
fn signed_rank_counts(n: usize) -> Vec<f64> {
    let max = n * (n + 1) / 2;
    let mut counts = vec![0.0; max + 1];
    counts[0] = 1.0;
    for r in 1..=n {
        for s in (r..=max).rev() {
            counts[s] += counts[s - r];
        }
    }
    counts
}

/// Holm's step-down correction: which hypotheses are rejected at `alpha`.
/// Sorted by p-value, the i-th smallest (0-based) is rejected while
/// `p <= alpha / (m - i)`; testing stops at the first that is not.
/// The flags are returned in input order.
pub fn holm(p_values: &[f64], alpha: f64) -> Vec<bool> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut reject = vec![false; m];
    for (i, &idx) in order.iter().enumerate() {
        if p_values[idx] <= alpha / (m - i) as f64 {
            reject[idx] = true;
        } else {
            break;
        }
    }
    reject
}

/// What to do with two methods whose scores are identical in every block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdenticalPairs {
    /// p = 1, not significant (they cannot be told apart).
    #[default]
    NotSignificant,
    /// The reference's `cd_diag.py`: p = 0 and marked significant.
    AsReference,
}

/// One pairwise comparison of [`pairwise_wilcoxon_holm`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairwiseComparison {
    /// Index of the first method.
    pub a: usize,
    /// Index of the second method.
    pub b: usize,
    /// Unadjusted two-sided p-value.
    pub p_value: f64,
    /// Whether the difference is significant after Holm's correction.
    pub significant: bool,
}

/// The reference's post-hoc analysis: the Friedman test on
/// `scores[block][method]`, then a two-sided Wilcoxon test for every pair of
/// methods (`a < b`, in index order) with Holm's correction at `alpha`.
/// Returns the Friedman result and the comparisons (the comparisons are
/// computed even when Friedman does not reject; the reference stops there).
pub fn pairwise_wilcoxon_holm(
    scores: &[Vec<f64>],
    alpha: f64,
    options: WilcoxonOptions,
    identical: IdenticalPairs,
) -> Result<(TestResult, Vec<PairwiseComparison>)> {
    let k = check_matrix("pairwise_wilcoxon_holm", scores)?;
    let friedman = friedman(scores)?;
    let column = |j: usize| scores.iter().map(|row| row[j]).collect::<Vec<f64>>();
    let mut pairs = Vec::new();
    let mut forced = Vec::new();
    for a in 0..k {
        for b in a + 1..k {
            let (x, y) = (column(a), column(b));
            if x == y {
                let (p, sig) = match identical {
                    IdenticalPairs::NotSignificant => (1.0, false),
                    IdenticalPairs::AsReference => (0.0, true),
                };
                pairs.push(PairwiseComparison { a, b, p_value: p, significant: false });
                forced.push(sig);
                continue;
            }
            let p = wilcoxon(&x, &y, options)?.p_value;
            pairs.push(PairwiseComparison { a, b, p_value: p, significant: false });
            forced.push(false);
        }
    }
    let p: Vec<f64> = pairs.iter().map(|c| c.p_value).collect();
    for ((c, rejected), forced) in pairs.iter_mut().zip(holm(&p, alpha)).zip(forced) {
        c.significant = rejected || forced;
    }
    Ok((friedman, pairs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() <= 1e-12 + 1e-9 * b.abs(), "{a} vs {b}");
    }

    fn w(d: &[f64], zero_method: ZeroMethod) -> WilcoxonResult {
        wilcoxon_differences(d, WilcoxonOptions { zero_method, ..Default::default() }).unwrap()
    }

    // Expected values: SciPy 1.17.1, scipy.stats.wilcoxon(d, zero_method=...),
    // and the docstring example (statistic 24.0, p 0.041259765625).
    #[test]
    fn wilcoxon_matches_scipy() {
        let d1 = [6., 8., 14., 16., 23., 24., 28., 29., 41., -48., 49., 56., 60., -67., 75.];
        let r = w(&d1, ZeroMethod::Wilcox);
        assert_eq!((r.statistic, r.p_value, r.null), (24.0, 0.041259765625, WilcoxonNull::Exact));
        let asym = |correction| WilcoxonOptions {
            method: WilcoxonMethod::Asymptotic,
            correction,
            ..Default::default()
        };
        close(wilcoxon_differences(&d1, asym(false)).unwrap().p_value, 0.04088813291185591);
        close(wilcoxon_differences(&d1, asym(true)).unwrap().p_value, 0.043772323763041174);

        let d2 = [1., 2., 2., -3., 3., 4., 5., -5., 6., 7., 7., 8., -9., 10., 11., 12.];
        let r = w(&d2, ZeroMethod::Wilcox);
        assert_eq!((r.statistic, r.null), (25.0, WilcoxonNull::Asymptotic));
        close(r.p_value, 0.02608359855428478);

        let d3 = [0., 1.5, -2., 3., 0., 4., 5.5, -6., 7., 8.];
        let r = w(&d3, ZeroMethod::Wilcox);
        assert_eq!((r.statistic, r.p_value, r.null), (8.0, 0.1953125, WilcoxonNull::Permutation));
        let r = w(&d3, ZeroMethod::Pratt);
        assert_eq!((r.statistic, r.p_value), (12.0, 0.171875));
        let r = w(&d3, ZeroMethod::Zsplit);
        assert_eq!((r.statistic, r.p_value), (13.5, 0.171875));

        let d4 = [0., 0., 1., -2., 3., 4., 4., -5., 6., 7., 8., 9., -10., 11., 12., 13., 14., 15., 16., 17.];
        let r = w(&d4, ZeroMethod::Pratt);
        assert_eq!(r.statistic, 25.0);
        close(r.p_value, 0.003352428144508433);
        let r = w(&d4, ZeroMethod::Wilcox);
        assert_eq!(r.statistic, 19.0);
        close(r.p_value, 0.0037742038605135175);
        let r = w(&d4, ZeroMethod::Zsplit);
        assert_eq!(r.statistic, 26.5);
        close(r.p_value, 0.003377365694429732);

        // d = [((i * 37) % 61) - 20.0 + i / 100.0 for i in range(1, 61)]: n > 50.
        let d5: Vec<f64> = (1..=60).map(|i| ((i * 37) % 61) as f64 - 20.0 + i as f64 / 100.0).collect();
        let r = w(&d5, ZeroMethod::Wilcox);
        assert_eq!((r.statistic, r.null), (380.0, WilcoxonNull::Asymptotic));
        close(r.p_value, 8.200707995901569e-05);

        let r = w(&[1., 2., 2., -3., 5., 6., 7., 8.], ZeroMethod::Wilcox);
        assert_eq!((r.statistic, r.p_value), (4.0, 0.0546875));

        // Paired samples as in cd_diag.py (zero_method="pratt"), with a zero and a float tie.
        let x = [0.9, 0.85, 0.7, 0.95, 0.6, 0.88, 0.77, 0.81];
        let y = [0.8, 0.85, 0.72, 0.9, 0.55, 0.8, 0.7, 0.8];
        let r = wilcoxon(&x, &y, WilcoxonOptions { zero_method: ZeroMethod::Pratt, ..Default::default() })
            .unwrap();
        assert_eq!((r.statistic, r.p_value), (3.0, 0.046875));

        assert!(matches!(
            wilcoxon_differences(&[0.0, 0.0], WilcoxonOptions::default()),
            Err(ReportError::Stats { .. })
        ));
        assert!(matches!(
            wilcoxon(&[1.0], &[1.0, 2.0], WilcoxonOptions::default()),
            Err(ReportError::Stats { .. })
        ));
        assert!(matches!(
            wilcoxon_differences(&[f64::NAN], WilcoxonOptions::default()),
            Err(ReportError::Stats { .. })
        ));
    }

    /// scipy.stats.friedmanchisquare: docstring example, and a case with ties.
    #[test]
    fn friedman_matches_scipy() {
        let groups = [
            [72., 96., 88., 92., 74., 76., 82.],
            [120., 120., 132., 120., 101., 96., 112.],
            [76., 95., 104., 96., 84., 72., 76.],
        ];
        let rows: Vec<Vec<f64>> = (0..7).map(|i| groups.iter().map(|g| g[i]).collect()).collect();
        let r = friedman(&rows).unwrap();
        close(r.statistic, 10.57142857142857);
        close(r.p_value, 0.005063414171757498);
        let groups = [[1., 2., 3., 4., 5.], [1., 3., 2., 4., 6.], [2., 2., 3., 5., 5.], [0., 1., 3., 4., 4.]];
        let rows: Vec<Vec<f64>> = (0..5).map(|i| groups.iter().map(|g| g[i]).collect()).collect();
        let r = friedman(&rows).unwrap();
        close(r.statistic, 5.153846153846149);
        close(r.p_value, 0.16087223358256736);
        assert!(friedman(&[vec![1.0, 2.0]]).is_err());
        assert!(friedman(&[vec![1.0, 2.0, 3.0], vec![1.0]]).is_err());
    }

    /// pandas: rank(ascending=False) and method="dense"; Series.std(); numpy median;
    /// scipy chi2.sf / norm.sf.
    #[test]
    fn descriptive_statistics_match_pandas() {
        assert_eq!(
            rank_descending(&[3.0, 1.0, 3.0, 2.0], RankTies::Average).unwrap(),
            vec![1.5, 4.0, 1.5, 3.0]
        );
        assert_eq!(
            rank_descending(&[3.0, 1.0, 3.0, 2.0], RankTies::Dense).unwrap(),
            vec![1.0, 3.0, 1.0, 2.0]
        );
        close(std_dev(&[1.0, 2.5, 4.0, 10.0], 1).unwrap(), 3.944933459514875);
        assert_eq!(median(&[1.0, 2.5, 4.0, 10.0]).unwrap(), 3.25);
        assert_eq!(median(&[5.0, 1.0, 3.0]).unwrap(), 3.0);
        assert!(std_dev(&[1.0], 1).is_err());
        assert!(median(&[]).is_err());
        close(chi2_sf(3.5, 2.0).unwrap(), 0.1737739434504451);
        close(chi2_sf(50.0, 7.0).unwrap(), 1.4444852779215397e-08);
        close(normal_sf(1.96), 0.024997895148220435);
        let ranks = average_ranks(&[vec![0.9, 0.8, 0.7], vec![0.7, 0.8, 0.9]], RankTies::Average).unwrap();
        assert_eq!(ranks, vec![2.0, 2.0, 2.0]);
    }

    #[test]
    fn holm_step_down() {
        // Sorted: 0.01 <= 0.05/4 and 0.012 <= 0.05/3 are rejected; 0.03 > 0.05/2 stops,
        // so 0.04 is kept although it is below 0.05.
        assert_eq!(holm(&[0.03, 0.01, 0.012, 0.04], 0.05), vec![false, true, true, false]);
        assert_eq!(holm(&[0.02, 0.01, 0.012, 0.5], 0.05), vec![true, true, true, false]);
        assert_eq!(holm(&[], 0.05), Vec::<bool>::new());
        let scores = vec![
            vec![0.90, 0.80, 0.80],
            vec![0.91, 0.81, 0.81],
            vec![0.92, 0.79, 0.79],
            vec![0.95, 0.85, 0.85],
            vec![0.89, 0.70, 0.70],
            vec![0.93, 0.75, 0.75],
        ];
        let (f, pairs) =
            pairwise_wilcoxon_holm(&scores, 0.05, WilcoxonOptions::default(), IdenticalPairs::AsReference)
                .unwrap();
        assert!(f.p_value < 0.05);
        assert_eq!(pairs.len(), 3);
        assert!(pairs[2].significant && pairs[2].p_value == 0.0);
        let (_, pairs) =
            pairwise_wilcoxon_holm(&scores, 0.05, WilcoxonOptions::default(), IdenticalPairs::NotSignificant)
                .unwrap();
        assert!(!pairs[2].significant);
    }
}
