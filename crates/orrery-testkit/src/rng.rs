//! A small deterministic PRNG (SplitMix64), the stable hashing helpers built on its
//! finalizer, and the seed of a randomised test.
//!
//! The benchmark must produce the same dataset for the same seed on every machine and
//! every run, and a randomised test must replay from the seed it printed, so the project
//! owns its generator instead of depending on `rand` and its version policy. SplitMix64
//! is fast, passes BigCrush, and needs one `u64` of state, which matters because every
//! generated series carries its own stream.

/// The environment variable that fixes the seed of a randomised test.
pub const ENV_SEED: &str = "ORRERY_TEST_SEED";

/// The seed for a randomised test: `ORRERY_TEST_SEED` if set, otherwise the clock. It is
/// printed (the test harness shows it when the test fails) so that a failure can be
/// replayed.
///
/// # Panics
/// When `ORRERY_TEST_SEED` is set but is not a `u64`.
pub fn seed(test: &str) -> u64 {
    let seed = match std::env::var(ENV_SEED) {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{ENV_SEED}={s:?} is not a u64: {e}")),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    };
    println!("{test}: seed {seed} (replay with {ENV_SEED}={seed})");
    seed
}

/// A SplitMix64 stream. Not cryptographic; only for synthetic data.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A stream seeded from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// A stream derived from a parent seed and a stream id, so independent streams can
    /// be created in any order and still get the same numbers.
    pub fn derive(seed: u64, stream: u64) -> Self {
        Rng::new(mix(seed ^ mix(stream.wrapping_add(0x9e37_79b9_7f4a_7c15))))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.state)
    }

    /// A float uniformly distributed in `[0, 1)`.
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// An integer uniformly distributed in `[0, n)`; `n` must be positive.
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0, "BUG: below(0)");
        // Multiply-shift keeps the bias below 2^-64 * n, irrelevant for synthetic data.
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// An integer uniformly distributed in `[lo, hi)`; the range must not be empty.
    pub fn range_u64(&mut self, lo: u64, hi: u64) -> u64 {
        assert!(lo < hi, "empty range {lo}..{hi}");
        lo + self.below(hi - lo)
    }

    /// A float uniformly distributed in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// An approximately normal value with mean 0 and standard deviation 1
    /// (Irwin–Hall with four uniforms: cheap, bounded, good enough for wandering gauges).
    pub fn normalish(&mut self) -> f64 {
        let s = self.f64() + self.f64() + self.f64() + self.f64();
        (s - 2.0) * 1.732_050_8
    }

    /// `n` lowercase hex characters.
    pub fn hex(&mut self, n: usize) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        (0..n)
            .map(|_| HEX[self.below(16) as usize] as char)
            .collect()
    }

    /// `n` characters from the alphabet Kubernetes uses for generated name suffixes.
    pub fn k8s_suffix(&mut self, n: usize) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..n)
            .map(|_| ALPHABET[self.below(ALPHABET.len() as u64) as usize] as char)
            .collect()
    }
}

/// The SplitMix64 finalizer: a good 64-bit mixing function.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a over bytes, then mixed: a stable hash (unlike `std`'s `RandomState`).
pub fn hash_str(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    mix(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_gives_same_stream() {
        let a: Vec<u64> = {
            let mut r = Rng::derive(7, 3);
            (0..5).map(|_| r.next_u64()).collect()
        };
        let mut r = Rng::derive(7, 3);
        assert!(a.iter().all(|&x| x == r.next_u64()));
        assert_ne!(Rng::derive(7, 4).next_u64(), a[0]);
    }

    #[test]
    fn floats_stay_in_unit_interval() {
        let mut r = Rng::new(1);
        for _ in 0..10_000 {
            let x = r.f64();
            assert!((0.0..1.0).contains(&x));
            assert!(r.below(10) < 10);
        }
    }
}
