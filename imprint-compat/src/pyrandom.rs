//! A bit-exact replica of the parts of CPython's `random` module that the
//! reference uses to build its ImageNet class selections: the MT19937
//! generator seeded from an integer (`random.seed(n)`), `getrandbits`,
//! `_randbelow`, `random()`, `sample(range(n), k)` and `shuffle`.
//!
//! Only needed for reproducing `RANDOM_CLASS_REMAPPINGS`
//! (see [`crate::imagenet`]); not a general-purpose RNG.

const N: usize = 624;
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// CPython's Mersenne Twister, seeded like `random.seed(int)`.
#[derive(Clone)]
pub struct PyRandom {
    state: [u32; N],
    index: usize,
}

impl std::fmt::Debug for PyRandom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PyRandom").field("index", &self.index).finish_non_exhaustive()
    }
}

impl PyRandom {
    /// Equivalent of `random.seed(seed)` for a non-negative integer seed
    /// (CPython feeds the 32-bit words of the integer, least significant
    /// first, to `init_by_array`).
    pub fn new(seed: u64) -> Self {
        let mut key = vec![seed as u32];
        if seed >> 32 != 0 {
            key.push((seed >> 32) as u32);
        }
        let mut rng = Self { state: [0; N], index: N };
        rng.init_by_array(&key);
        rng
    }

    fn init_genrand(&mut self, s: u32) {
        self.state[0] = s;
        for i in 1..N {
            let prev = self.state[i - 1];
            self.state[i] = 1_812_433_253u32.wrapping_mul(prev ^ (prev >> 30)).wrapping_add(i as u32);
        }
        self.index = N;
    }

    fn init_by_array(&mut self, key: &[u32]) {
        self.init_genrand(19_650_218);
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..N.max(key.len()) {
            let prev = self.state[i - 1];
            self.state[i] = (self.state[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                self.state[0] = self.state[N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            let prev = self.state[i - 1];
            self.state[i] =
                (self.state[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                self.state[0] = self.state[N - 1];
                i = 1;
            }
        }
        self.state[0] = 0x8000_0000;
    }

    fn twist(&mut self) {
        for kk in 0..N {
            let y = (self.state[kk] & UPPER_MASK) | (self.state[(kk + 1) % N] & LOWER_MASK);
            let mag = if y & 1 == 1 { MATRIX_A } else { 0 };
            self.state[kk] = self.state[(kk + M) % N] ^ (y >> 1) ^ mag;
        }
        self.index = 0;
    }

    /// The next raw 32-bit output (`genrand_uint32`).
    pub fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }

    /// `random.getrandbits(bits)` for `1 <= bits <= 32`.
    ///
    /// # Panics
    /// If `bits` is 0 or larger than 32 (internal use only).
    pub fn getrandbits(&mut self, bits: u32) -> u32 {
        assert!((1..=32).contains(&bits), "getrandbits supports 1..=32 bits");
        self.next_u32() >> (32 - bits)
    }

    /// `random.random()`: a float in [0, 1) with 53 random bits.
    pub fn random(&mut self) -> f64 {
        let a = f64::from(self.next_u32() >> 5);
        let b = f64::from(self.next_u32() >> 6);
        (a * 67_108_864.0 + b) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// `random._randbelow(n)`: uniform in `0..n` by rejection sampling.
    ///
    /// # Panics
    /// If `n` is 0 (internal use only).
    pub fn randbelow(&mut self, n: u32) -> u32 {
        assert!(n > 0, "randbelow needs n > 0");
        let bits = 32 - n.leading_zeros();
        loop {
            let r = self.getrandbits(bits);
            if r < n {
                return r;
            }
        }
    }

    /// `random.sample(range(n), k)` with CPython's two strategies (a pool for
    /// small populations, a set of selected indices otherwise).
    ///
    /// # Panics
    /// If `k > n` (internal use only).
    pub fn sample_range(&mut self, n: u32, k: usize) -> Vec<u32> {
        assert!(k <= n as usize, "sample larger than population");
        let mut setsize = 21usize;
        if k > 5 {
            // 4 ** ceil(log(3k, 4)), computed like Python (float log).
            let exponent = ((k as f64 * 3.0).ln() / 4f64.ln()).ceil() as u32;
            setsize += 4usize.pow(exponent);
        }
        let mut result = Vec::with_capacity(k);
        if n as usize <= setsize {
            let mut pool: Vec<u32> = (0..n).collect();
            for i in 0..k {
                let j = self.randbelow(n - i as u32) as usize;
                result.push(pool[j]);
                pool[j] = pool[n as usize - i - 1];
            }
        } else {
            let mut selected = std::collections::HashSet::with_capacity(k);
            for _ in 0..k {
                let mut j = self.randbelow(n);
                while selected.contains(&j) {
                    j = self.randbelow(n);
                }
                selected.insert(j);
                result.push(j);
            }
        }
        result
    }

    /// `random.shuffle(items)` (Fisher-Yates from the end).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.randbelow(i as u32 + 1) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values from CPython 3.11:
    //   random.seed(0); [random.getrandbits(32) for _ in range(2)], random.random()
    //   random.seed(2**40 + 5); [random.getrandbits(32) for _ in range(3)]
    //   random.seed(42); random.sample(range(1000), 50)
    //   random.seed(420); random.sample(range(1000), 100)
    #[test]
    fn matches_cpython() {
        let mut r = PyRandom::new(0);
        assert_eq!([r.getrandbits(32), r.getrandbits(32)], [3_626_764_237, 1_654_615_998]);
        assert_eq!(r.random(), 0.757_954_402_940_302_5);
        let mut r = PyRandom::new((1 << 40) + 5);
        assert_eq!([r.next_u32(), r.next_u32(), r.next_u32()], [2_166_296_868, 2_220_160_828, 1_153_647_273]);
        let a = PyRandom::new(42).sample_range(1000, 50);
        assert_eq!(&a[..10], &[654, 114, 25, 759, 281, 250, 228, 142, 754, 104]);
        assert_eq!(&a[47..], &[344, 94, 389]);
        let h = PyRandom::new(420).sample_range(1000, 100);
        assert_eq!(&h[..10], &[26, 689, 800, 373, 279, 412, 97, 782, 679, 694]);
        assert_eq!(&h[97..], &[3, 885, 681]);
    }
}
