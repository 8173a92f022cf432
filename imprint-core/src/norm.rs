//! L2 normalization of embeddings (NORMpre, NORMinf) and its zero-vector policy.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use ndarray::{Array2, ArrayView2, ArrayViewMut2, CowArray, Ix2};
use serde::{Deserialize, Serialize};

use crate::{ImprintError, Result};

/// What L2 normalization does with an all-zero vector, whose direction is undefined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub enum ZeroVectorPolicy {
    /// Return [`ImprintError::ZeroVector`] naming the row (the default: a zero
    /// embedding usually means a broken extraction).
    #[default]
    Reject,
    /// Leave the vector as zeros, like `torch.nn.functional.normalize` in the
    /// reference implementation.
    KeepZero,
}

/// Scales every row of `x` to unit L2 norm, in place.
///
/// Norms are accumulated in f64 so that long f32 vectors normalize to 1 within
/// f32 rounding. `what` names `x` in errors.
pub fn l2_normalize_rows_in_place(
    mut x: ArrayViewMut2<'_, f32>,
    policy: ZeroVectorPolicy,
    what: &str,
) -> Result<()> {
    for (row, mut r) in x.outer_iter_mut().enumerate() {
        let norm = match r.as_slice() {
            Some(r) => sum_of_squares(r),
            None => r.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>(),
        }
        .sqrt();
        if norm > 0.0 && norm.is_finite() {
            let inv = 1.0 / norm;
            r.mapv_inplace(|v| (f64::from(v) * inv) as f32);
        } else if norm == 0.0 {
            if policy == ZeroVectorPolicy::Reject {
                return Err(ImprintError::ZeroVector { what: what.to_string(), row });
            }
        } else {
            let (col, &value) = r.iter().enumerate().find(|(_, v)| !v.is_finite()).unwrap_or((0, &f32::NAN));
            return Err(ImprintError::NonFinite { what: what.to_string(), row, col, value });
        }
    }
    Ok(())
}

/// `sum_i v_i^2` in f64 with eight interleaved partial sums combined in a
/// fixed order: no chain of dependent additions, so it vectorizes (on the
/// machine's widest vectors through `pulp`: the eight sums are one AVX-512
/// register, the same sums in the same order on every instruction set).
pub fn sum_of_squares(v: &[f32]) -> f64 {
    static ARCH: LazyLock<pulp::Arch> = LazyLock::new(pulp::Arch::new);
    ARCH.dispatch(SumOfSquares(v))
}

struct SumOfSquares<'a>(&'a [f32]);

impl pulp::WithSimd for SumOfSquares<'_> {
    type Output = f64;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> f64 {
        let mut acc = [0.0f64; 8];
        let chunks = self.0.chunks_exact(8);
        let tail = chunks.remainder();
        for c in chunks {
            for (a, &x) in acc.iter_mut().zip(c) {
                *a += f64::from(x) * f64::from(x);
            }
        }
        let mut total = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
        for &x in tail {
            total += f64::from(x) * f64::from(x);
        }
        total
    }
}

/// Allocating version of [`l2_normalize_rows_in_place`].
pub fn l2_normalize_rows(
    x: ArrayView2<'_, f32>,
    policy: ZeroVectorPolicy,
    what: &str,
) -> Result<Array2<f32>> {
    let mut out = x.to_owned();
    l2_normalize_rows_in_place(out.view_mut(), policy, what)?;
    Ok(out)
}

/// Normalization of embeddings before proxy generation (NORMpre, reference key
/// `normalize_for_proxy_selection`) or of queries before aggregation (NORMinf,
/// reference key `normalize_input_data`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputNorm {
    /// Leave embeddings as they are.
    #[default]
    None,
    /// Scale each embedding to unit L2 norm.
    L2(ZeroVectorPolicy),
}

impl InputNorm {
    /// Applies the normalization to every row of `x`; `what` names `x` in errors.
    pub fn apply(&self, x: ArrayView2<'_, f32>, what: &str) -> Result<Array2<f32>> {
        match *self {
            Self::None => Ok(x.to_owned()),
            Self::L2(policy) => l2_normalize_rows(x, policy, what),
        }
    }

    /// [`InputNorm::apply`] that borrows `x` instead of copying it for `none`.
    pub fn apply_cow<'a>(&self, x: ArrayView2<'a, f32>, what: &str) -> Result<CowArray<'a, f32, Ix2>> {
        match *self {
            Self::None => Ok(CowArray::from(x)),
            Self::L2(policy) => Ok(CowArray::from(l2_normalize_rows(x, policy, what)?)),
        }
    }

    /// Configuration name: `none` or `l2`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::L2(_) => "l2",
        }
    }
}

impl fmt::Display for InputNorm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for InputNorm {
    type Err = ImprintError;

    /// Parses `none` or `l2` (the latter with [`ZeroVectorPolicy::Reject`]).
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Self::None),
            "l2" => Ok(Self::L2(ZeroVectorPolicy::Reject)),
            _ => Err(ImprintError::UnknownName {
                kind: "input normalization",
                name: s.to_string(),
                known: vec!["none".into(), "l2".into()],
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;

    /// On the machine's vectors, the same eight partial sums in the same
    /// order as the plain loop, bit for bit (lengths around the vector widths,
    /// magnitudes whose order of addition shows in the last bits).
    #[test]
    fn sum_of_squares_equals_the_plain_interleaved_sums() {
        for len in (0..40).chain([511, 512, 517, 2048]) {
            let v: Vec<f32> = (0..len)
                .map(|i| ((i * 7919 % 1013) as f32 - 506.0) * 10f32.powi((i % 11) as i32 - 5))
                .collect();
            let mut acc = [0.0f64; 8];
            for (i, &x) in v.iter().enumerate().take(len / 8 * 8) {
                acc[i % 8] += f64::from(x) * f64::from(x);
            }
            let mut want = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
            for &x in &v[len / 8 * 8..] {
                want += f64::from(x) * f64::from(x);
            }
            assert_eq!(sum_of_squares(&v).to_bits(), want.to_bits(), "length {len}");
        }
    }

    #[test]
    fn rows_get_unit_norm() {
        let x = array![[3.0f32, 4.0], [0.0, -2.0]];
        let y = l2_normalize_rows(x.view(), ZeroVectorPolicy::Reject, "x").unwrap();
        assert_eq!(y, array![[0.6, 0.8], [0.0, -1.0]]);
    }

    #[test]
    fn zero_rows_follow_policy() {
        let x = array![[1.0f32, 0.0], [0.0, 0.0]];
        let err = l2_normalize_rows(x.view(), ZeroVectorPolicy::Reject, "queries").unwrap_err();
        assert!(matches!(err, ImprintError::ZeroVector { row: 1, .. }));
        assert!(err.to_string().contains("queries"));
        let kept = l2_normalize_rows(x.view(), ZeroVectorPolicy::KeepZero, "q").unwrap();
        assert_eq!(kept, x);
    }

    #[test]
    fn huge_values_do_not_overflow_and_nan_is_reported() {
        let x = array![[3e30f32, 4e30]];
        let y = l2_normalize_rows(x.view(), ZeroVectorPolicy::Reject, "x").unwrap();
        assert!((y[[0, 0]] - 0.6).abs() < 1e-6);
        let bad = array![[1.0f32, f32::NAN]];
        assert!(matches!(
            l2_normalize_rows(bad.view(), ZeroVectorPolicy::Reject, "x"),
            Err(ImprintError::NonFinite { col: 1, .. })
        ));
    }

    #[test]
    fn names_round_trip() {
        for n in [InputNorm::None, InputNorm::L2(ZeroVectorPolicy::Reject)] {
            assert_eq!(n.name().parse::<InputNorm>().unwrap(), n);
        }
        assert!(matches!("L3".parse::<InputNorm>(), Err(ImprintError::UnknownName { .. })));
    }
}
