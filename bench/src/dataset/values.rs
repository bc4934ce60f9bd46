//! Value models: how a counter, gauge, constant or histogram series moves from one
//! scrape to the next.
//!
//! A [`ValueGen`] is the per-series state. It draws from the series' own stream, so the
//! values are the same whatever order series are generated in. Histogram series of one
//! histogram share a stream and draw the same numbers in the same order every step
//! (even the ones a given member ignores), which keeps `_bucket` cumulative across `le`
//! and equal to `_count` at `+Inf`.
//!
//! Counters reset in two ways: rarely on their own (`reset_per_step`), and all together
//! when the process behind their target restarts (the target's restart steps), as a real
//! process restart does.

use super::{Dataset, SeriesSpec};
use orrery_testkit::rng::Rng;

/// How a series' value evolves per 15s step.
#[derive(Debug, Clone, PartialEq)]
pub enum Model {
    /// Always the same value (info series, limits, sizes, `up`).
    Constant(f64),
    /// A counter that grows by about `rate` per second, with relative noise, rounded to
    /// `quantum` (0 for full precision), and resets to zero with `reset_per_step`.
    Counter {
        /// Mean increase per second.
        rate: f64,
        /// Relative standard deviation of one step's increase.
        noise: f64,
        /// Rounding step of the value (0.01 for /proc/stat seconds, 1 for bytes).
        quantum: f64,
        /// Probability of a reset at each step.
        reset_per_step: f64,
    },
    /// A mean-reverting random walk that moves only on some steps.
    Gauge {
        /// Long-run mean.
        mean: f64,
        /// Standard deviation of one move.
        sd: f64,
        /// Probability that the value changes at a step.
        move_prob: f64,
        /// Rounding step of the value (4096 for memory, 0 for full precision).
        quantum: f64,
    },
    /// A histogram member: `_bucket` (`frac` = the share of observations at or below its
    /// `le`, 1 for `+Inf`) or `_count` (`frac` = 1). `rate` is observations per second.
    Bucket {
        /// Observations per second of the whole histogram.
        rate: f64,
        /// Cumulative share of observations in this bucket.
        frac: f64,
    },
    /// A histogram's `_sum`: observations times a jittered mean.
    HistSum {
        /// Observations per second of the whole histogram.
        rate: f64,
        /// Mean observed value in seconds.
        mean: f64,
    },
}

/// The state of one series while its samples are generated.
#[derive(Debug, Clone)]
pub struct ValueGen {
    rng: Rng,
    value: f64,
    started: bool,
    /// The step of the next value; `next` is called once per step from the first.
    step: u32,
    /// The target's restart steps not yet reached, last first.
    restarts: Vec<u32>,
}

const STEP_SECONDS: f64 = 15.0;
/// Histogram groups reset (apiserver restart) with this probability per step.
const HIST_RESET_PER_STEP: f64 = 1.0 / 20_000.0;

impl ValueGen {
    /// The state for `series` of `dataset` before its first sample.
    pub fn new(dataset: &Dataset, series: &SeriesSpec) -> Self {
        let mut restarts: Vec<u32> = dataset.targets[series.target as usize]
            .restarts
            .iter()
            .copied()
            .filter(|&s| s > series.first_step && s < series.end_step)
            .collect();
        restarts.reverse();
        ValueGen {
            rng: Rng::derive(dataset.config.seed, series.stream),
            value: 0.0,
            started: false,
            step: series.first_step,
            restarts,
        }
    }

    /// Whether the target's process restarted at the current step; advances the step.
    fn restarted(&mut self) -> bool {
        let now = self.step;
        self.step += 1;
        if self.restarts.last() == Some(&now) {
            self.restarts.pop();
            true
        } else {
            false
        }
    }

    /// The next value of a series following `model`.
    pub fn next(&mut self, model: &Model) -> f64 {
        let restarted = self.restarted();
        match *model {
            Model::Constant(v) => v,
            Model::Counter {
                rate,
                noise,
                quantum,
                reset_per_step,
            } => {
                if !self.started {
                    // Counters start where a long-running process would be: hours to days in.
                    self.value = rate * self.rng.range(3_600.0, 30.0 * 86_400.0);
                } else if self.rng.chance(reset_per_step) || restarted {
                    // The draw comes first so the stream does not depend on the restarts.
                    self.value = 0.0;
                } else {
                    let inc = rate * STEP_SECONDS * (1.0 + noise * self.rng.normalish());
                    self.value += inc.max(0.0);
                }
                self.started = true;
                quantize(self.value, quantum)
            }
            Model::Gauge {
                mean,
                sd,
                move_prob,
                quantum,
            } => {
                if !self.started {
                    self.value = mean + sd * 3.0 * self.rng.normalish();
                    self.started = true;
                } else if self.rng.chance(move_prob) {
                    self.value += (mean - self.value) * 0.05 + sd * self.rng.normalish();
                }
                self.value = self.value.max(0.0);
                quantize(self.value, quantum)
            }
            Model::Bucket { rate, frac } => {
                let (inc, u, reset, _jitter) = self.hist_step(rate);
                if reset || restarted {
                    self.value = 0.0;
                } else {
                    self.value += (inc * frac + u).floor();
                }
                self.value
            }
            Model::HistSum { rate, mean } => {
                let (inc, _u, reset, jitter) = self.hist_step(rate);
                if reset || restarted {
                    self.value = 0.0;
                } else {
                    self.value += inc * mean * jitter;
                }
                self.value
            }
        }
    }

    /// One step of a histogram group's shared stream: the number of new observations,
    /// a rounding offset shared by all buckets, whether the group resets, and the jitter of the mean.
    /// Every member draws all four so the stream stays in lockstep.
    fn hist_step(&mut self, rate: f64) -> (f64, f64, bool, f64) {
        let first = !self.started;
        self.started = true;
        let m = rate * STEP_SECONDS;
        let inc = (m + m.sqrt() * self.rng.normalish()).round().max(0.0);
        let u = self.rng.f64();
        let reset = self.rng.chance(HIST_RESET_PER_STEP);
        let jitter = self.rng.range(0.7, 1.3);
        if first {
            // Start with some history so the first values are not all tiny.
            return ((m * 2_000.0).round(), u, false, jitter);
        }
        (inc, u, reset, jitter)
    }
}

fn quantize(v: f64, quantum: f64) -> f64 {
    if quantum > 0.0 {
        (v / quantum).round() * quantum
    } else {
        v
    }
}
