//! Deterministic hashing and a tiny random stream, the only source of "randomness" in the fake.
//!
//! Everything the fake serves is a pure function of the seed and of coordinates such as
//! (repository, hour bucket). SplitMix64 is used instead of `rand`'s generators because its output
//! is fixed by its definition: the same seed yields the same data on every platform and with every
//! future version of this crate's dependencies.

/// One SplitMix64 step: a strong 64-bit mixer.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hashes a list of coordinates into one value (order-sensitive).
pub fn hash(parts: &[u64]) -> u64 {
    parts
        .iter()
        .fold(0x5151_7CC1_B727_220A, |acc, p| mix64(acc ^ mix64(*p)))
}

/// A deterministic random stream seeded from [`hash`].
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(parts: &[u64]) -> Self {
        Rng(hash(parts))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.0)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi] (inclusive); `lo` when the range is empty.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + (self.next_u64() % ((hi - lo + 1) as u64)) as i64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A Poisson-distributed count with mean `lambda` (inverse transform; lambda is small here).
    pub fn poisson(&mut self, lambda: f64) -> u32 {
        if lambda <= 0.0 {
            return 0;
        }
        let u = self.unit();
        let mut p = (-lambda).exp();
        let mut cdf = p;
        let mut k = 0u32;
        while u > cdf && k < 64 {
            k += 1;
            p *= lambda / f64::from(k);
            cdf += p;
        }
        k
    }

    /// Picks one element; `None` for an empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            Some(&items[(self.next_u64() % items.len() as u64) as usize])
        }
    }

    /// 40 lowercase hex digits, shaped like a git SHA-1.
    pub fn sha(&mut self) -> String {
        let mut s = String::with_capacity(40);
        for _ in 0..3 {
            s.push_str(&format!("{:016x}", self.next_u64()));
        }
        s.truncate(40);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same coordinates always give the same stream, different ones a different stream.
    #[test]
    fn rng_is_deterministic_per_coordinates() {
        let a: Vec<u64> = (0..4).map(|_| Rng::new(&[1, 2]).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(Rng::new(&[1, 2]).next_u64(), Rng::new(&[2, 1]).next_u64());
    }

    /// Poisson draws average close to their mean.
    #[test]
    fn poisson_mean_is_close_to_lambda() {
        let mut rng = Rng::new(&[9]);
        let n = 20_000;
        let total: u32 = (0..n).map(|_| rng.poisson(0.7)).sum();
        let mean = f64::from(total) / f64::from(n);
        assert!((mean - 0.7).abs() < 0.05, "mean {mean}");
    }
}
