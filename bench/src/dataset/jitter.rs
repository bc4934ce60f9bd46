//! When a target's scrapes really happen: per-scrape timestamp jitter, rare late scrapes,
//! and the restarts of the process behind a target (which reset its counters).
//!
//! Real servers do not receive samples at `start + offset + k·15000` exactly. Prometheus
//! only snaps a scrape's timestamp to the interval when it is within 2 ms of it
//! (`scrape.timestamp-tolerance`), and other senders (OpenTelemetry, Telegraf, vmagent,
//! federation) do not snap at all. Now and then a scrape is late by a second or more (a
//! slow target, a GC pause, a busy scraper), and the next one is back on schedule because
//! the scrape loop ticks on a fixed ticker.
//!
//! Everything here is a pure function of the seed, the target's own stream id and the
//! step, so every series of one scrape shares that scrape's timestamp (as in a real
//! scrape), and a series' timestamps never depend on which other series are generated.

use orrery_testkit::rng::{mix, Rng};

/// Whether timestamps jitter (the default) or sit on the 15 s grid exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Jitter {
    /// `start + offset + k·15000` exactly: the old, idealised generator.
    None,
    /// A few ms of jitter per scrape and rare late scrapes (see the module doc).
    Realistic,
}

/// How a target's sender treats timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderClass {
    /// Prometheus: a scrape within [`PROMETHEUS_TOLERANCE_MS`] of the schedule is snapped to it.
    Prometheus,
    /// A sender that never aligns (OpenTelemetry collector, Telegraf, vmagent, ...).
    Unaligned,
}

/// Largest absolute jitter of an on-time scrape.
pub const MAX_JITTER_MS: i64 = 5;
/// Prometheus snaps timestamps this close to the schedule (its default tolerance).
pub const PROMETHEUS_TOLERANCE_MS: i64 = 2;
/// Probability that one scrape is late (a few per mille).
pub const LATE_PER_SCRAPE: f64 = 0.003;
/// Shortest delay of a late scrape.
pub const LATE_MIN_MS: i64 = 1_000;
/// Longest delay of a late scrape; far below the interval, so a series' timestamps stay increasing.
pub const LATE_MAX_MS: i64 = 3_000;
/// Share of targets whose sender does not align timestamps at all.
pub const UNALIGNED_SHARE: f64 = 0.5;
/// Probability per step that the process behind a target restarts: about once a day.
pub const RESTART_PER_STEP: f64 = 1.0 / 5_760.0;

/// Salts that keep the jitter, class and restart draws of one target independent.
const SALT_JITTER: u64 = 0x6a09_e667_f3bc_c908;
const SALT_CLASS: u64 = 0xbb67_ae85_84ca_a73b;
const SALT_RESTART: u64 = 0x3c6e_f372_fe94_f82b;

/// The sender class of the target with stream id `stream`.
pub fn sender_class(seed: u64, stream: u64) -> SenderClass {
    if Rng::derive(seed ^ SALT_CLASS, stream).chance(UNALIGNED_SHARE) {
        SenderClass::Unaligned
    } else {
        SenderClass::Prometheus
    }
}

/// Milliseconds the scrape of target `stream` at `step` is off its schedule.
///
/// The draw is stateless (a hash of seed, stream and step), so it can be asked for any step
/// in any order. On-time jitter is triangular on `[-5, 5]` ms (the sum of two uniforms:
/// small offsets common, 5 ms rare); a late scrape is uniform on 1–3 s.
pub fn scrape_jitter_ms(seed: u64, stream: u64, class: SenderClass, step: u32) -> i64 {
    let mut r = Rng::derive(seed ^ SALT_JITTER, mix(stream) ^ step as u64);
    if r.chance(LATE_PER_SCRAPE) {
        return LATE_MIN_MS + r.below((LATE_MAX_MS - LATE_MIN_MS + 1) as u64) as i64;
    }
    let half = MAX_JITTER_MS as f64 / 2.0;
    let j = (r.range(-half, half) + r.range(-half, half)).round() as i64;
    match class {
        SenderClass::Prometheus if j.abs() <= PROMETHEUS_TOLERANCE_MS => 0,
        _ => j,
    }
}

/// The steps in `0..steps` at which the process behind target `stream` restarts, in order.
pub fn restart_steps(seed: u64, stream: u64, steps: u32) -> Vec<u32> {
    let mut r = Rng::derive(seed ^ SALT_RESTART, stream);
    (1..steps).filter(|_| r.chance(RESTART_PER_STEP)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_time_jitter_is_bounded_and_prometheus_snaps_small_offsets() {
        for stream in 0..50u64 {
            for step in 0..2_000u32 {
                for class in [SenderClass::Prometheus, SenderClass::Unaligned] {
                    let j = scrape_jitter_ms(1, stream, class, step);
                    if j < LATE_MIN_MS {
                        assert!(j.abs() <= MAX_JITTER_MS, "jitter {j}");
                        if class == SenderClass::Prometheus {
                            assert!(j == 0 || j.abs() > PROMETHEUS_TOLERANCE_MS, "unsnapped {j}");
                        }
                    } else {
                        assert!(j <= LATE_MAX_MS, "late {j}");
                    }
                }
            }
        }
    }

    #[test]
    fn unaligned_senders_are_off_the_grid_most_of_the_time() {
        let n = 20_000u32;
        let off = (0..n)
            .filter(|&k| scrape_jitter_ms(3, 9, SenderClass::Unaligned, k) != 0)
            .count();
        // P(round(u1 + u2) == 0) is about 0.2 for the triangular distribution on [-5, 5].
        assert!(
            off as f64 / n as f64 > 0.7,
            "only {off} of {n} off the grid"
        );
        let snapped_off = (0..n)
            .filter(|&k| scrape_jitter_ms(3, 9, SenderClass::Prometheus, k) != 0)
            .count();
        assert!(
            snapped_off > 0 && snapped_off < off,
            "{snapped_off} vs {off}"
        );
    }

    #[test]
    fn late_scrapes_are_a_few_per_mille() {
        let mut late = 0u64;
        let mut total = 0u64;
        for stream in 0..100u64 {
            for step in 0..5_000u32 {
                total += 1;
                if scrape_jitter_ms(7, stream, SenderClass::Unaligned, step) >= LATE_MIN_MS {
                    late += 1;
                }
            }
        }
        let rate = late as f64 / total as f64;
        assert!(
            (rate - LATE_PER_SCRAPE).abs() < LATE_PER_SCRAPE * 0.2,
            "late rate {rate}"
        );
    }

    #[test]
    fn draws_are_deterministic_per_seed_and_differ_across_seeds() {
        let a: Vec<i64> = (0..1_000)
            .map(|k| scrape_jitter_ms(5, 2, SenderClass::Unaligned, k))
            .collect();
        let b: Vec<i64> = (0..1_000)
            .map(|k| scrape_jitter_ms(5, 2, SenderClass::Unaligned, k))
            .collect();
        let c: Vec<i64> = (0..1_000)
            .map(|k| scrape_jitter_ms(6, 2, SenderClass::Unaligned, k))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(restart_steps(5, 2, 100_000), restart_steps(5, 2, 100_000));
        let classes: Vec<SenderClass> = (0..100).map(|s| sender_class(5, s)).collect();
        assert!(
            classes.contains(&SenderClass::Prometheus) && classes.contains(&SenderClass::Unaligned)
        );
    }

    #[test]
    fn restarts_are_about_once_a_day() {
        let day = 5_760u32;
        let n: usize = (0..200u64).map(|s| restart_steps(1, s, day).len()).sum();
        assert!((120..=280).contains(&n), "{n} restarts in 200 target-days");
    }
}
