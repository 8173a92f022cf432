//! PyTorch's CPU generator and the draws the reference makes from it
//! (torch 2.2.2): `torch.randperm`, `torch.randint`, `Tensor.uniform_` and
//! `torch.nn.init.xavier_uniform_`.
//!
//! The algorithms take any [`RngCore`], reading `next_u32` as torch's
//! `generator->random()` and `next_u64` as `generator->random64()`; with a
//! [`TorchGenerator`] they give torch's numbers bit for bit.

use ndarray::Array2;
use rand::RngCore;

use super::Mt19937;
use crate::{ImprintError, Result};

/// PyTorch's default CPU generator after `torch.manual_seed(seed)`:
/// MT19937 seeded with the low 32 bits of the seed
/// (`at::mt19937::init_with_uint32`).
///
/// As an [`RngCore`], `next_u32` is torch's `random()` (one MT19937 output)
/// and `next_u64` its `random64()` (two outputs, the first in the high half).
///
/// ```
/// use imprint_core::reference_rng::{TorchGenerator, randperm};
///
/// # fn main() -> Result<(), imprint_core::ImprintError> {
/// // torch.manual_seed(0); torch.randperm(5) -> tensor([4, 0, 1, 3, 2])
/// let mut torch = TorchGenerator::new(0);
/// assert_eq!(randperm(5, &mut torch)?, vec![4, 0, 1, 3, 2]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TorchGenerator {
    mt: Mt19937,
}

impl TorchGenerator {
    /// The generator as `torch.manual_seed(seed)` leaves it.
    pub fn new(seed: u64) -> Self {
        Self { mt: Mt19937::new(seed as u32) }
    }

    /// `CPUGeneratorImpl::random()`: one 32-bit output.
    pub fn random(&mut self) -> u32 {
        self.mt.next_u32()
    }

    /// `CPUGeneratorImpl::random64()`: two outputs, the first one high.
    pub fn random64(&mut self) -> u64 {
        let hi = u64::from(self.mt.next_u32());
        let lo = u64::from(self.mt.next_u32());
        (hi << 32) | lo
    }
}

impl RngCore for TorchGenerator {
    fn next_u32(&mut self) -> u32 {
        self.random()
    }

    fn next_u64(&mut self) -> u64 {
        self.random64()
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(4) {
            let bytes = self.random().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// The largest `n` for which [`randperm`] is ported: torch 2.2 draws
/// `random() % (n - i)` below `u32::MAX / 20` and switches to another
/// algorithm (64-bit draws) above it.
pub const RANDPERM_MAX: usize = (u32::MAX / 20) as usize - 1;

/// `torch.randperm(n)` on the CPU: a Fisher-Yates shuffle of `0..n` that
/// swaps position `i` with `i + random() % (n - i)` for `i < n - 1`
/// (`n - 1` draws; none for `n <= 1`).
///
/// # Errors
/// [`ImprintError::InvalidParameter`] for `n > RANDPERM_MAX`.
pub fn randperm(n: usize, rng: &mut dyn RngCore) -> Result<Vec<usize>> {
    if n > RANDPERM_MAX {
        return Err(ImprintError::invalid(
            "n",
            n,
            format!("torch.randperm is reproduced for n <= {RANDPERM_MAX} only"),
        ));
    }
    let mut perm: Vec<usize> = (0..n).collect();
    for i in 0..n.saturating_sub(1) {
        // n - i < 2^32 here, so the modulus is taken as torch takes it.
        let z = (u64::from(rng.next_u32()) % (n - i) as u64) as usize;
        perm.swap(i, i + z);
    }
    Ok(perm)
}

/// `torch.randint(high, (1,))` on the CPU: `random() % high`, or
/// `random64() % high` when `high >= 2^32` (`uniform_int_from_to_distribution`).
///
/// # Errors
/// [`ImprintError::InvalidParameter`] for `high = 0` (torch: empty range).
pub fn randint(high: u64, rng: &mut dyn RngCore) -> Result<u64> {
    if high == 0 {
        return Err(ImprintError::invalid("high", 0, "torch.randint needs a non-empty range"));
    }
    Ok(if high >= 1 << 32 { rng.next_u64() % high } else { u64::from(rng.next_u32()) % high })
}

/// One float32 draw of `Tensor.uniform_(from, to)` on the CPU: the low 24
/// bits of `random()` times `2^-24`, scaled as `x * (to - from) + from` in
/// float32 with a fused multiply-add, as torch's AVX2 and AVX-512 kernels
/// compute it (a CPU without AVX2 rounds the product separately and can
/// differ in the last bit).
pub fn uniform_f32(from: f64, to: f64, rng: &mut dyn RngCore) -> f32 {
    let (from, to) = (from as f32, to as f32);
    let x = (rng.next_u32() & 0x00ff_ffff) as f32 * (1.0 / 16_777_216.0);
    x.mul_add(to - from, from)
}

/// `torch.nn.init.xavier_uniform_(torch.empty(rows, cols), gain)`: entries
/// uniform in `[-a, a)`, `a = sqrt(3) * gain * sqrt(2 / (cols + rows))`
/// (fan-in `cols`, fan-out `rows`), drawn in row-major order.
pub fn xavier_uniform(rows: usize, cols: usize, gain: f64, rng: &mut dyn RngCore) -> Array2<f32> {
    let a = xavier_bound(rows, cols, gain);
    Array2::from_shape_simple_fn((rows, cols), || uniform_f32(-a, a, rng))
}

/// The bound `a` of [`xavier_uniform`], computed in torch's order
/// (`std = gain * sqrt(2 / (fan_in + fan_out))`, `a = sqrt(3) * std`).
pub fn xavier_bound(rows: usize, cols: usize, gain: f64) -> f64 {
    // The sum in f64: rows + cols in usize overflows for absurd sizes.
    let std = gain * (2.0 / (cols as f64 + rows as f64)).sqrt();
    3.0f64.sqrt() * std
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random64_puts_the_first_draw_high() {
        let mut a = TorchGenerator::new(7);
        let mut b = TorchGenerator::new(7);
        let (hi, lo) = (b.random(), b.random());
        assert_eq!(a.random64(), (u64::from(hi) << 32) | u64::from(lo));
        // Seeds differing only above bit 31 seed the same engine.
        assert_eq!(TorchGenerator::new(7 + (1 << 32)), TorchGenerator::new(7));
    }

    #[test]
    fn randperm_draws_n_minus_one_times() {
        for n in [0usize, 1, 2, 9] {
            let mut rng = TorchGenerator::new(3);
            let mut perm = randperm(n, &mut rng).unwrap();
            let mut check = TorchGenerator::new(3);
            for _ in 0..n.saturating_sub(1) {
                check.random();
            }
            assert_eq!(rng, check, "n = {n}");
            perm.sort();
            assert_eq!(perm, (0..n).collect::<Vec<_>>());
        }
        assert!(matches!(
            randperm(RANDPERM_MAX + 1, &mut TorchGenerator::new(0)),
            Err(ImprintError::InvalidParameter { name: "n", .. })
        ));
    }

    #[test]
    fn randint_width_follows_the_range() {
        let mut a = TorchGenerator::new(11);
        let mut b = TorchGenerator::new(11);
        assert_eq!(randint(10, &mut a).unwrap(), u64::from(b.random()) % 10);
        let big = (1u64 << 32) + 5;
        assert_eq!(randint(big, &mut a).unwrap(), b.random64() % big);
        assert!(randint(0, &mut a).is_err());
    }

    #[test]
    fn uniform_stays_in_range_and_xavier_uses_torch_fans() {
        let mut rng = TorchGenerator::new(5);
        assert!((0..1000).map(|_| uniform_f32(-0.5, 0.25, &mut rng)).all(|v| (-0.5..0.25).contains(&v)));
        let a = xavier_bound(4, 46, 1.0);
        assert!((a - (6.0f64 / 50.0).sqrt()).abs() < 1e-15);
        let w = xavier_uniform(4, 46, 1.0, &mut TorchGenerator::new(1));
        assert_eq!(w.dim(), (4, 46));
        assert!(w.iter().all(|&v| f64::from(v.abs()) <= a));
    }
}
