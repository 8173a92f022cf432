//! NumPy's legacy `RandomState` (numpy 1.26), the generator scikit-learn
//! builds from `random_state=seed`: 53-bit doubles, `uniform`, `randint`
//! (masked rejection sampling) and `choice` with probabilities.

use rand::RngCore;

use super::Mt19937;
use crate::{ImprintError, Result};

/// `numpy.random.RandomState(seed)` for an integer seed: MT19937 seeded with
/// `init_genrand(seed)` (`mt19937_seed`, not `init_by_array`, for a scalar).
///
/// As an [`RngCore`], `next_u32` is one MT19937 output and `next_u64` two,
/// the first one high (numpy's `mt19937_next64`).
///
/// ```
/// use imprint_core::reference_rng::RandomState;
///
/// // numpy.random.RandomState(0).random_sample() == 0.5488135039273248
/// assert_eq!(RandomState::new(0).random_sample(), 0.5488135039273248);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RandomState {
    mt: Mt19937,
}

impl RandomState {
    /// `numpy.random.RandomState(seed)`.
    pub fn new(seed: u32) -> Self {
        Self { mt: Mt19937::new(seed) }
    }

    /// `numpy.random.RandomState(seed)` for a seed given as `u64`.
    ///
    /// # Errors
    /// [`ImprintError::InvalidParameter`] above `2^32 - 1`, where numpy
    /// raises "Seed must be between 0 and 2**32 - 1".
    pub fn from_seed(seed: u64) -> Result<Self> {
        u32::try_from(seed)
            .map(Self::new)
            .map_err(|_| ImprintError::invalid("seed", seed, "numpy's RandomState takes seeds below 2^32"))
    }

    /// `random_sample()`: `(a * 2^26 + b) / 2^53` with `a` the top 27 bits
    /// of one output and `b` the top 26 bits of the next.
    pub fn random_sample(&mut self) -> f64 {
        let a = f64::from(self.mt.next_u32() >> 5);
        let b = f64::from(self.mt.next_u32() >> 6);
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// `uniform(low, high)`: `low + (high - low) * random_sample()`.
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.random_sample()
    }

    /// `randint(low, high)` (default dtype int64): masked rejection sampling,
    /// 32-bit draws when `high - low - 1 < 2^32`, 64-bit draws above.
    ///
    /// # Errors
    /// [`ImprintError::InvalidParameter`] if `low >= high` (numpy: "low >= high").
    pub fn randint(&mut self, low: i64, high: i64) -> Result<i64> {
        if low >= high {
            return Err(ImprintError::invalid(
                "high",
                high,
                format!("randint needs low < high (low = {low})"),
            ));
        }
        let range = high.wrapping_sub(low).wrapping_sub(1) as u64;
        let offset = if range == 0 {
            0
        } else if range == u64::from(u32::MAX) {
            u64::from(self.mt.next_u32())
        } else if range < u64::from(u32::MAX) {
            let mask = u64::MAX >> range.leading_zeros();
            loop {
                let v = u64::from(self.mt.next_u32()) & mask;
                if v <= range {
                    break v;
                }
            }
        } else if range == u64::MAX {
            self.next_u64()
        } else {
            let mask = u64::MAX >> range.leading_zeros();
            loop {
                let v = self.next_u64() & mask;
                if v <= range {
                    break v;
                }
            }
        };
        Ok(low.wrapping_add(offset as i64))
    }

    /// `choice(len(p), p=p)` for float64 `p`: one `random_sample()` `u` and
    /// the first index whose normalized cumulative probability exceeds it
    /// (`cdf = p.cumsum(); cdf /= cdf[-1]; cdf.searchsorted(u, 'right')`).
    ///
    /// # Errors
    /// [`ImprintError::InvalidParameter`] for an empty `p`, a negative or
    /// non-finite entry, or a sum further than `sqrt(eps)` from 1 (numpy's checks).
    pub fn choice(&mut self, p: &[f64]) -> Result<usize> {
        self.choice_checked(p, f64::EPSILON.sqrt())
    }

    /// `choice(len(p), p=p)` for a float32 array `p`, which numpy converts to
    /// float64 and checks against the looser `sqrt(float32 eps)`. This is the
    /// call scikit-learn's k-means++ makes for its first centre.
    ///
    /// # Errors
    /// As [`RandomState::choice`], with the float32 tolerance.
    pub fn choice_f32(&mut self, p: &[f32]) -> Result<usize> {
        let p: Vec<f64> = p.iter().map(|&v| f64::from(v)).collect();
        self.choice_checked(&p, f64::from(f32::EPSILON).sqrt())
    }

    fn choice_checked(&mut self, p: &[f64], atol: f64) -> Result<usize> {
        if p.is_empty() {
            return Err(ImprintError::invalid("p", "[]", "choice needs at least one probability"));
        }
        if let Some(bad) = p.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
            return Err(ImprintError::invalid("p", bad, "probabilities must be finite and non-negative"));
        }
        let total = kahan_sum(p);
        if (total - 1.0).abs() > atol {
            return Err(ImprintError::invalid("p", total, "probabilities do not sum to 1"));
        }
        let mut cdf = Vec::with_capacity(p.len());
        let mut acc = 0.0;
        for v in p {
            acc += v;
            cdf.push(acc);
        }
        let last = acc;
        cdf.iter_mut().for_each(|c| *c /= last);
        let u = self.random_sample();
        Ok(cdf.partition_point(|&c| c <= u))
    }
}

/// numpy's `kahan_sum` (compensated summation), used by `choice` to check `p`.
fn kahan_sum(values: &[f64]) -> f64 {
    let (mut sum, mut c) = (0.0f64, 0.0f64);
    for &v in values {
        let y = v - c;
        let t = sum + y;
        c = (t - sum) - y;
        sum = t;
    }
    sum
}

impl RngCore for RandomState {
    fn next_u32(&mut self) -> u32 {
        self.mt.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        let hi = u64::from(self.mt.next_u32());
        let lo = u64::from(self.mt.next_u32());
        (hi << 32) | lo
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(4) {
            let bytes = self.mt.next_u32().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn randint_is_in_range_and_rejects_empty_ranges() {
        let mut rs = RandomState::new(9);
        for (low, high) in [(0i64, 1i64), (0, 7), (-5, 5), (0, 1 << 40), (i64::MIN, i64::MAX)] {
            for _ in 0..50 {
                let v = rs.randint(low, high).unwrap();
                assert!(low <= v && v < high, "{v} outside [{low}, {high})");
            }
        }
        assert!(rs.randint(3, 3).is_err());
        assert!(RandomState::from_seed(1 << 32).is_err());
        assert_eq!(RandomState::from_seed(5).unwrap(), RandomState::new(5));
    }

    #[test]
    fn choice_checks_p_and_picks_by_cumulative_probability() {
        let mut rs = RandomState::new(0);
        // u = 0.5488...: past 0.5, so index 1 of [0.5, 0.5].
        assert_eq!(rs.choice(&[0.5, 0.5]).unwrap(), 1);
        assert_eq!(RandomState::new(0).choice(&[0.0, 1.0, 0.0]).unwrap(), 1);
        for bad in [vec![], vec![0.5], vec![-0.5, 1.5], vec![f64::NAN, 1.0]] {
            assert!(matches!(rs.choice(&bad), Err(ImprintError::InvalidParameter { name: "p", .. })));
        }
        // float32 1/7 seven times sums to 1 - 6e-8: too far for float64, fine for float32.
        let sevenths = vec![1.0f32 / 7.0; 7];
        let as_f64: Vec<f64> = sevenths.iter().map(|&v| f64::from(v)).collect();
        assert!(rs.choice(&as_f64).is_err() == ((kahan_sum(&as_f64) - 1.0).abs() > f64::EPSILON.sqrt()));
        assert!(rs.choice_f32(&sevenths).is_ok());
    }
}
