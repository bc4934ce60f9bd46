//! Compression study: bytes per sample and speed of the head's XOR chunk against the
//! block's pco chunk, on synthetic series shaped like real Kubernetes scrapes.
//!
//! Run with `cargo run --release -p orrery-tsdb --example codec_study`. The results
//! table and the decisions it supports are in `docs/formats/block.md`; re-run this
//! when changing `chunkenc::pco`'s configuration or the block writer's chunk size.
//!
//! Every series is 7,680 samples (32 h at a 15 s interval) with millisecond jitter on the
//! timestamps; generation is deterministic (fixed seeds), so runs are comparable.

use orrery_model::Sample;
use orrery_tsdb::chunkenc::pco::{self, TsDelta};
use orrery_tsdb::chunkenc::XorChunk;
use std::time::Instant;

const LEN: usize = 7_680;

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
    /// Roughly normal with mean 0 and standard deviation `sd` (sum of 4 uniforms).
    fn normal(&mut self, sd: f64) -> f64 {
        let s: f64 = (0..4).map(|_| self.unit() - 0.5).sum();
        s * sd * 1.732
    }
}

/// Scrape timestamps: 15 s interval, a per-target offset, jitter of a few ms.
fn timestamps(r: &mut Rng) -> Vec<i64> {
    let start = 1_790_000_000_000 + (r.next() % 15_000) as i64;
    let mut last = i64::MIN;
    (0..LEN)
        .map(|i| {
            let t = (start + i as i64 * 15_000 + r.normal(3.0).round() as i64).max(last + 1);
            last = t;
            t
        })
        .collect()
}

/// A series kind with its share of a typical Kubernetes cluster's series.
struct Kind {
    name: &'static str,
    share: f64,
    gen: fn(&mut Rng) -> Vec<f64>,
}

fn counter_requests(r: &mut Rng) -> Vec<f64> {
    // Integer request counter at 0.05-20 req/s, reset (pod restart) about once a day.
    let rate = 0.05 + r.unit() * 20.0;
    let mut v = (r.next() % 100_000) as f64;
    (0..LEN)
        .map(|_| {
            if r.next().is_multiple_of(5_760) {
                v = 0.0;
            }
            v += (rate * 15.0 * (0.5 + r.unit())).floor();
            v
        })
        .collect()
}

fn counter_bytes(r: &mut Rng) -> Vec<f64> {
    // Network byte counter at 1 KB/s - 10 MB/s.
    let rate = 10f64.powf(3.0 + r.unit() * 4.0);
    let mut v = (r.next() % 1_000_000_000) as f64;
    (0..LEN)
        .map(|_| {
            v += (rate * 15.0 * (0.7 + 0.6 * r.unit())).floor();
            v
        })
        .collect()
}

fn counter_cpu_seconds(r: &mut Rng) -> Vec<f64> {
    // node_cpu_seconds_total / container_cpu_usage_seconds_total: float counter with
    // 2 decimals (node exporter) or full precision (cAdvisor).
    let busy = r.unit();
    let full = r.next().is_multiple_of(2);
    let mut v = r.unit() * 1e6;
    (0..LEN)
        .map(|_| {
            v += 15.0 * busy * (0.8 + 0.4 * r.unit());
            if full {
                v
            } else {
                (v * 100.0).round() / 100.0
            }
        })
        .collect()
}

fn gauge_memory(r: &mut Rng) -> Vec<f64> {
    // Memory bytes in 4 KiB pages, slow random walk around a working set.
    let mut pages = 50_000 + (r.next() % 2_000_000) as i64;
    (0..LEN)
        .map(|_| {
            if r.next().is_multiple_of(3) {
                pages += r.normal(200.0) as i64;
            }
            pages = pages.max(1);
            (pages * 4096) as f64
        })
        .collect()
}

fn gauge_load(r: &mut Rng) -> Vec<f64> {
    // node_load1: exponentially smoothed, printed with 2 decimals.
    let mut l = r.unit() * 4.0;
    (0..LEN)
        .map(|_| {
            l = (l * 0.92 + 0.08 * (l + r.normal(1.0)).max(0.0)).max(0.0);
            (l * 100.0).round() / 100.0
        })
        .collect()
}

fn gauge_noisy(r: &mut Rng) -> Vec<f64> {
    // A recorded ratio or temperature with full float precision.
    let base = r.unit() * 100.0;
    (0..LEN)
        .map(|_| base + r.normal(base * 0.05 + 0.1))
        .collect()
}

fn histogram_bucket(r: &mut Rng) -> Vec<f64> {
    // One `le` bucket of a request histogram: cumulative counts, most scrapes add a few.
    let rate = r.unit() * 5.0 * r.unit();
    let mut v = (r.next() % 10_000) as f64;
    (0..LEN)
        .map(|_| {
            if r.unit() < (rate * 15.0).min(0.95) {
                v += (rate * 15.0 * r.unit() * 2.0).ceil();
            }
            v
        })
        .collect()
}

fn constant(r: &mut Rng) -> Vec<f64> {
    // `up`, `kube_pod_info`: 1 forever, with a rare 0 (failed scrape).
    (0..LEN)
        .map(|_| {
            if r.next().is_multiple_of(2_000) {
                0.0
            } else {
                1.0
            }
        })
        .collect()
}

const KINDS: &[Kind] = &[
    Kind {
        name: "histogram bucket",
        share: 0.35,
        gen: histogram_bucket,
    },
    Kind {
        name: "constant (up, info)",
        share: 0.20,
        gen: constant,
    },
    Kind {
        name: "counter requests",
        share: 0.12,
        gen: counter_requests,
    },
    Kind {
        name: "counter bytes",
        share: 0.05,
        gen: counter_bytes,
    },
    Kind {
        name: "counter cpu seconds",
        share: 0.10,
        gen: counter_cpu_seconds,
    },
    Kind {
        name: "gauge memory bytes",
        share: 0.10,
        gen: gauge_memory,
    },
    Kind {
        name: "gauge load average",
        share: 0.03,
        gen: gauge_load,
    },
    Kind {
        name: "gauge noisy float",
        share: 0.05,
        gen: gauge_noisy,
    },
];

const SERIES_PER_KIND: usize = 20;

fn series_of(kind: &Kind, seed: u64) -> Vec<Sample> {
    let mut r = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let ts = timestamps(&mut r);
    let vs = (kind.gen)(&mut r);
    ts.into_iter()
        .zip(vs)
        .map(|(t, v)| Sample::new(t, v))
        .collect()
}

fn xor_bytes(s: &[Sample]) -> usize {
    let mut c = XorChunk::new();
    for x in s {
        c.append(x.t, x.v);
    }
    c.bytes().len()
}

fn pco_bytes(s: &[Sample], level: usize, d: TsDelta) -> usize {
    let mut b = Vec::new();
    pco::encode_with(s, &mut b, level, d);
    b.len()
}

/// Bytes per sample of `f` over all series of `kind` cut into chunks of `n`.
fn bps(all: &[Vec<Sample>], n: usize, f: &dyn Fn(&[Sample]) -> usize) -> f64 {
    let mut bytes = 0;
    let mut samples = 0;
    for s in all {
        for c in s.chunks(n) {
            bytes += f(c);
            samples += c.len();
        }
    }
    bytes as f64 / samples as f64
}

fn main() {
    let data: Vec<Vec<Vec<Sample>>> = KINDS
        .iter()
        .enumerate()
        .map(|(k, kind)| {
            (0..SERIES_PER_KIND)
                .map(|i| series_of(kind, (k * 1000 + i) as u64 + 1))
                .collect()
        })
        .collect();
    let sizes = [120, 480, 1920];
    let mix = |f: &dyn Fn(&[Vec<Sample>]) -> f64| -> f64 {
        KINDS.iter().zip(&data).map(|(k, d)| k.share * f(d)).sum()
    };

    println!(
        "## bytes per sample (XOR vs pco level {}, t deltas {:?})\n",
        pco::LEVEL,
        pco::TS_DELTA
    );
    print!("| series kind | share |");
    for n in sizes {
        print!(" XOR {n} | pco {n} |");
    }
    println!();
    println!("|---|---|{}", "---|---|".repeat(sizes.len()));
    for (kind, d) in KINDS.iter().zip(&data) {
        print!("| {} | {:.0} % |", kind.name, kind.share * 100.0);
        for n in sizes {
            print!(
                " {:.2} | {:.2} |",
                bps(d, n, &xor_bytes),
                bps(d, n, &|c| pco_bytes(c, pco::LEVEL, pco::TS_DELTA))
            );
        }
        println!();
    }
    print!("| **weighted mix** | 100 % |");
    for n in sizes {
        print!(
            " **{:.2}** | **{:.2}** |",
            mix(&|d| bps(d, n, &xor_bytes)),
            mix(&|d| bps(d, n, &|c| pco_bytes(c, pco::LEVEL, pco::TS_DELTA)))
        );
    }
    println!("\n");

    println!("## pco settings, weighted mix, bytes per sample\n");
    print!("| level | t deltas |");
    for n in sizes {
        print!(" {n} |");
    }
    println!();
    println!("|---|---|{}", "---|".repeat(sizes.len()));
    for level in [4, 8, 12] {
        for (dn, d) in [
            ("auto", TsDelta::Auto),
            ("first", TsDelta::First),
            ("second", TsDelta::Second),
        ] {
            print!("| {level} | {dn} |");
            for n in sizes {
                print!(" {:.3} |", mix(&|s| bps(s, n, &|c| pco_bytes(c, level, d))));
            }
            println!();
        }
    }
    println!();

    println!("## speed (all kinds, million samples per second, one core)\n");
    println!("| codec | chunk | encode | decode |");
    println!("|---|---|---|---|");
    let flat: Vec<&Vec<Sample>> = data.iter().flatten().collect();
    for n in sizes {
        let chunks: Vec<&[Sample]> = flat.iter().flat_map(|s| s.chunks(n)).collect();
        let total: usize = chunks.iter().map(|c| c.len()).sum();

        let t0 = Instant::now();
        let xs: Vec<XorChunk> = chunks
            .iter()
            .map(|c| {
                let mut x = XorChunk::new();
                for s in c.iter() {
                    x.append(s.t, s.v);
                }
                x
            })
            .collect();
        let enc = t0.elapsed().as_secs_f64();
        let t0 = Instant::now();
        let mut sink = 0f64;
        for x in &xs {
            for s in x.iter() {
                sink += s.v;
            }
        }
        let dec = t0.elapsed().as_secs_f64();
        println!(
            "| XOR | {n} | {:.1} | {:.1} |",
            total as f64 / enc / 1e6,
            total as f64 / dec / 1e6
        );

        let t0 = Instant::now();
        let ps: Vec<Vec<u8>> = chunks
            .iter()
            .map(|c| {
                let mut b = Vec::new();
                pco::encode(c, &mut b);
                b
            })
            .collect();
        let enc = t0.elapsed().as_secs_f64();
        let t0 = Instant::now();
        for b in &ps {
            for s in pco::decode(b).expect("decodes") {
                sink += s.v;
            }
        }
        let dec = t0.elapsed().as_secs_f64();
        println!(
            "| pco | {n} | {:.1} | {:.1} |",
            total as f64 / enc / 1e6,
            total as f64 / dec / 1e6
        );
        std::hint::black_box(sink);
    }
}
