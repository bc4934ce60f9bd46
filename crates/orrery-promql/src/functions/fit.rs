//! The least-squares line of `deriv` and `predict_linear`.
//!
//! [`linear_regression`] is Prometheus's fit of one window: Kahan-compensated sums of
//! `x`, `y`, `xy` and `x²` with `x` in seconds relative to the intercept time. Doing
//! that per step costs the whole window every step: a 30m window of 15s samples
//! evaluated every 15s visits each sample 120 times.
//!
//! [`SlidingFit`] gets the same line from sums that slide with the window instead: a
//! step adds the points that entered and subtracts those that left. Three things keep
//! those sums as accurate as the per-window ones:
//!
//! - The fit is shift-invariant, so the sums use `u = t - anchor` with a fixed anchor;
//!   covariance and variance are the same for any anchor, and the intercept is moved to
//!   the evaluation time at the end. The anchor is moved to the window's first point
//!   (and the sums are rebuilt) once it falls more than a window length behind, so `u`
//!   stays within two window lengths and the `Σu² - (Σu)²/n` cancellation stays as
//!   mild as Prometheus's own `Σx² - (Σx)²/n`.
//! - Values are taken relative to the anchor point's value as well, so a large gauge
//!   that barely moves (disk bytes) does not drown its covariance in rounding.
//! - Every sum is compensated on the way in and on the way out.
//!
//! Windows with a non-finite value and windows whose sums stop being finite are fitted
//! directly, so Inf and NaN behave exactly as Prometheus's per-window code does.

use super::seconds;
use crate::eval::kahan_inc;
use orrery_model::Sample;

/// Least-squares fit of the points with times relative to `intercept_t` (seconds),
/// with Kahan-compensated sums. Returns (slope, intercept at `intercept_t`). A constant
/// series has slope 0, unless the constant is infinite, which gives NaN.
pub(super) fn linear_regression(w: &[Sample], intercept_t: i64) -> (f64, f64) {
    let init = w.first().map_or(f64::NAN, |p| p.v);
    let constant = w.iter().all(|p| p.v == init);
    if constant {
        if init.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init);
    }
    let n = w.len() as f64;
    let (mut sx, mut cx) = (0.0, 0.0);
    let (mut sy, mut cy) = (0.0, 0.0);
    let (mut sxy, mut cxy) = (0.0, 0.0);
    let (mut sx2, mut cx2) = (0.0, 0.0);
    for p in w {
        let x = seconds(p.t - intercept_t);
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(p.v, sy, cy);
        (sxy, cxy) = kahan_inc(x * p.v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

/// A compensated sum that values can be added to and taken out of.
#[derive(Clone, Copy, Default)]
struct Sum {
    s: f64,
    c: f64,
}

impl Sum {
    #[inline]
    fn add(&mut self, v: f64) {
        (self.s, self.c) = kahan_inc(v, self.s, self.c);
    }

    fn value(self) -> f64 {
        self.s + self.c
    }
}

/// The sums of `u`, `w`, `u·w` and `u²` over `pts[lo..hi]`, with `u` the time in
/// seconds since the anchor's and `w` the value minus the anchor's.
#[derive(Clone, Copy, Default)]
struct Sums {
    u: Sum,
    /// Of `w`, the value minus the anchor's.
    y: Sum,
    uy: Sum,
    u2: Sum,
}

impl Sums {
    #[inline]
    fn add(&mut self, p: &Sample, anchor: Sample, sign: f64) {
        let u = seconds(p.t - anchor.t);
        let w = p.v - anchor.v;
        self.u.add(sign * u);
        self.y.add(sign * w);
        self.uy.add(sign * (u * w));
        self.u2.add(sign * (u * u));
    }
}

/// The fit of a window that moves forward over one series' points; see the module
/// documentation.
pub(super) struct SlidingFit<'a> {
    pts: &'a [Sample],
    /// Window length (ms): how far the anchor may fall behind the window.
    range: i64,
    /// `pts[lo..hi]` is what `sums` hold; `valid` is false until they hold anything.
    lo: usize,
    hi: usize,
    valid: bool,
    anchor: Sample,
    sums: Sums,
    /// Non-finite values in `pts[lo..hi]`.
    nonfinite: usize,
    /// The points before `scanned` were checked for changes; `last_change` is the
    /// highest `j < scanned` whose value differs from the one before it (0: none).
    scanned: usize,
    last_change: usize,
}

impl<'a> SlidingFit<'a> {
    pub(super) fn new(pts: &'a [Sample], range: i64) -> Self {
        SlidingFit {
            pts,
            range,
            lo: 0,
            hi: 0,
            valid: false,
            anchor: Sample { t: 0, v: 0.0 },
            sums: Sums::default(),
            nonfinite: 0,
            scanned: 1,
            last_change: 0,
        }
    }

    /// (slope, intercept at `intercept_t`) of `pts[lo..hi]`, which must hold at least
    /// two points; the same line as [`linear_regression`] up to rounding.
    pub(super) fn fit(&mut self, lo: usize, hi: usize, intercept_t: i64) -> (f64, f64) {
        let pts = self.pts;
        self.slide(lo, hi);
        if self.nonfinite > 0 {
            return linear_regression(&pts[lo..hi], intercept_t);
        }
        if self.constant(lo, hi) {
            return (0.0, pts[lo].v);
        }
        let n = (hi - lo) as f64;
        let (su, sy, suy, su2) = (
            self.sums.u.value(),
            self.sums.y.value(),
            self.sums.uy.value(),
            self.sums.u2.value(),
        );
        if !(su.is_finite() && sy.is_finite() && suy.is_finite() && su2.is_finite()) {
            self.valid = false;
            return linear_regression(&pts[lo..hi], intercept_t);
        }
        let cov = suy - su * sy / n;
        let var = su2 - su * su / n;
        let slope = cov / var;
        // x = t - intercept_t is u moved by the anchor's offset, y is w plus the
        // anchor's value.
        let mean_x = su / n - seconds(intercept_t - self.anchor.t);
        (slope, (sy / n + self.anchor.v) - slope * mean_x)
    }

    /// Moves the sums to `pts[lo..hi]`: by the points that entered and left if the
    /// window moved forward and the anchor is recent enough, else by rebuilding them
    /// anchored at the window's start (windows only move backwards under `@`).
    fn slide(&mut self, lo: usize, hi: usize) {
        let pts = self.pts;
        let forward = self.valid && lo >= self.lo && hi >= self.hi && lo < self.hi;
        if forward && pts[lo].t - self.anchor.t <= self.range {
            for p in &pts[self.hi..hi] {
                self.sums.add(p, self.anchor, 1.0);
                self.nonfinite += usize::from(!p.v.is_finite());
            }
            for p in &pts[self.lo..lo] {
                self.sums.add(p, self.anchor, -1.0);
                self.nonfinite -= usize::from(!p.v.is_finite());
            }
        } else {
            // A non-finite anchor value would poison every sum; such windows are
            // fitted directly anyway, and the next rebuild picks a new anchor.
            self.anchor = pts[lo];
            if !self.anchor.v.is_finite() {
                self.anchor.v = 0.0;
            }
            self.sums = Sums::default();
            self.nonfinite = 0;
            for p in &pts[lo..hi] {
                self.sums.add(p, self.anchor, 1.0);
                self.nonfinite += usize::from(!p.v.is_finite());
            }
        }
        (self.lo, self.hi, self.valid) = (lo, hi, true);
    }

    /// Whether every value of `pts[lo..hi]` equals the first (NaN equals nothing).
    fn constant(&mut self, lo: usize, hi: usize) -> bool {
        let pts = self.pts;
        if hi < self.scanned {
            return pts[lo + 1..hi].iter().all(|p| p.v == pts[lo].v);
        }
        for j in self.scanned..hi {
            if pts[j].v != pts[j - 1].v {
                self.last_change = j;
            }
        }
        self.scanned = hi;
        self.last_change <= lo
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator, so a failure names its seed.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= tol * a.abs().max(b.abs())
    }

    /// Windows as `for_each_window` gives them: `(end - range, end]` for each end.
    fn windows(pts: &[Sample], ends: &[i64], range: i64) -> Vec<(usize, usize)> {
        ends.iter()
            .map(|&end| {
                let lo = pts.partition_point(|p| p.t <= end - range);
                let hi = pts.partition_point(|p| p.t <= end).max(lo);
                (lo, hi)
            })
            .collect()
    }

    /// The line by the two-pass centred formula over values taken relative to the
    /// first (exact for values within a factor of two of it), which has no
    /// cancellation to speak of: the reference both fits are held to.
    fn centred(w: &[Sample], intercept_t: i64) -> (f64, f64) {
        let n = w.len() as f64;
        let y0 = w[0].v;
        let mx = w.iter().map(|p| seconds(p.t - intercept_t)).sum::<f64>() / n;
        let my = w.iter().map(|p| p.v - y0).sum::<f64>() / n;
        let (mut cov, mut var) = (0.0, 0.0);
        for p in w {
            let dx = seconds(p.t - intercept_t) - mx;
            cov += dx * ((p.v - y0) - my);
            var += dx * dx;
        }
        let slope = cov / var;
        (slope, (my + y0) - slope * mx)
    }

    /// Every window with two or more points: the sliding fit agrees with the centred
    /// reference to 1e-7; windows with a non-finite value or a flat one agree exactly
    /// with the direct fit. (The direct fit itself can be further off the reference:
    /// its `Σxy - ΣxΣy/n` over raw values loses 1e-5 of the slope of a 5e11 gauge
    /// over two points, and Prometheus shares that rounding.)
    fn check(pts: &[Sample], ends: &[i64], range: i64, what: &str) {
        let mut fit = SlidingFit::new(pts, range);
        for (i, (lo, hi)) in windows(pts, ends, range).into_iter().enumerate() {
            if hi - lo < 2 {
                continue;
            }
            let w = &pts[lo..hi];
            let direct = linear_regression(w, ends[i]);
            let got = fit.fit(lo, hi, ends[i]);
            let flat = w.iter().all(|p| p.v == w[0].v);
            if flat || w.iter().any(|p| !p.v.is_finite()) {
                assert!(
                    close(got.0, direct.0, 0.0) && close(got.1, direct.1, 0.0),
                    "{what}: step {i} window {lo}..{hi}: sliding {got:?}, direct {direct:?}"
                );
                continue;
            }
            let want = centred(w, ends[i]);
            assert!(
                close(got.0, want.0, 1e-7) && close(got.1, want.1, 1e-7),
                "{what}: step {i} window {lo}..{hi}: sliding {got:?}, centred {want:?}"
            );
        }
    }

    /// Values with the shapes dashboards fit: a large gauge draining slowly with noise
    /// (disk bytes), a counter, a flat run, and values around zero.
    fn series(rng: &mut Rng, kind: u64, n: usize) -> Vec<Sample> {
        let mut t = 1_700_000_000_000 + (rng.next() % 15_000) as i64;
        let mut v = match kind {
            0 => 5e11,
            1 => 0.0,
            _ => rng.unit() - 0.5,
        };
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(Sample { t, v });
            // Mostly regular scrapes, with the odd gap.
            t += if rng.next().is_multiple_of(50) {
                95_000
            } else {
                15_000 + (rng.next() % 40) as i64
            };
            v = match kind {
                0 => {
                    v - 1e4 * rng.unit()
                        + if rng.next().is_multiple_of(200) {
                            3e9
                        } else {
                            0.0
                        }
                }
                1 => v + (rng.next() % 100) as f64,
                2 if rng.next().is_multiple_of(7) => v + rng.unit(),
                2 => v,
                _ => rng.unit() - 0.5,
            };
        }
        out
    }

    #[test]
    fn sliding_fit_matches_the_direct_fit() {
        for seed in 1..=40u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let kind = seed % 4;
            let pts = series(&mut rng, kind, 700);
            let first = pts[0].t;
            let step = [15_000, 60_000, 7_000][(seed % 3) as usize];
            let range = [300_000, 1_800_000, 3_600_000][(seed % 3) as usize];
            let ends: Vec<i64> = (0..800).map(|i| first + i * step).collect();
            check(&pts, &ends, range, &format!("seed {seed} kind {kind}"));
        }
    }

    #[test]
    fn non_finite_values_and_flat_windows_fit_as_prometheus_does() {
        let mut pts: Vec<Sample> = (0..200)
            .map(|i| Sample {
                t: i * 15_000,
                v: if i < 60 { 7.0 } else { i as f64 },
            })
            .collect();
        pts[100].v = f64::INFINITY;
        pts[140].v = f64::NAN;
        pts[170].v = f64::NEG_INFINITY;
        for p in &mut pts[180..200] {
            p.v = f64::INFINITY;
        }
        let ends: Vec<i64> = (0..220).map(|i| i * 15_000).collect();
        check(&pts, &ends, 300_000, "specials");
        // A flat window yields slope 0 and the value, an infinite flat one NaN.
        let mut fit = SlidingFit::new(&pts, 300_000);
        assert_eq!(fit.fit(10, 30, 29 * 15_000), (0.0, 7.0));
        let (slope, icpt) = fit.fit(182, 199, 199 * 15_000);
        assert!(slope.is_nan() && icpt.is_nan());
    }

    #[test]
    fn windows_that_move_backwards_rebuild_the_sums() {
        let pts: Vec<Sample> = (0..100)
            .map(|i| Sample {
                t: i * 10_000,
                v: (i * i) as f64,
            })
            .collect();
        // As `@` can pin or reorder window ends.
        let ends = [
            500_000, 900_000, 400_000, 400_000, 990_000, 100_000, 600_000,
        ];
        check(&pts, &ends, 200_000, "backwards");
    }
}
