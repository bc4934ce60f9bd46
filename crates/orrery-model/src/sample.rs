//! A float sample and the staleness marker.

/// The bit pattern Prometheus uses to mark a series as stale: a NaN that is
/// never produced by arithmetic, so it survives storage only if stored bit-exactly.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The stale-marker NaN as an `f64`.
pub const STALE_NAN: f64 = f64::from_bits(STALE_NAN_BITS);

/// Reports whether `v` is the stale marker (and not just any NaN).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One float sample: a millisecond Unix timestamp and a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Milliseconds since the Unix epoch.
    pub t: i64,
    /// The value; NaN, ±Inf and the stale marker are all valid.
    pub v: f64,
}

impl Sample {
    /// Builds a sample.
    pub fn new(t: i64, v: f64) -> Self {
        Sample { t, v }
    }

    /// Compares timestamps and the exact bits of the value, so that NaNs compare equal to
    /// themselves and the stale marker is told apart from an ordinary NaN.
    pub fn bit_eq(&self, other: &Sample) -> bool {
        self.t == other.t && self.v.to_bits() == other.v.to_bits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_marker_is_distinguished_from_ordinary_nan() {
        assert!(is_stale_nan(STALE_NAN));
        assert!(STALE_NAN.is_nan());
        assert!(!is_stale_nan(f64::NAN));
        assert!(!is_stale_nan(1.0));
    }

    #[test]
    fn bit_eq_treats_identical_nans_as_equal() {
        let a = Sample::new(1, f64::NAN);
        assert!(a.bit_eq(&a));
        assert!(!a.bit_eq(&Sample::new(1, STALE_NAN)));
    }
}
