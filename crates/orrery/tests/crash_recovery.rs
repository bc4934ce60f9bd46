//! Crash recovery, end to end, against the real binary: "acknowledged means durable".
//!
//! Writer threads stream remote-write requests (1.0 from one writer, 2.0 from the other)
//! and record exactly which ones were answered 2xx. The server is then SIGKILLed at a
//! seeded random moment, and the data directory is opened with `orrery_tsdb::Db` to
//! check that every acknowledged sample is there with its exact bits (NaN, the stale
//! marker, ±Inf and -0.0 included) and that nothing else is, except samples of the one
//! request per writer that was in flight when the process died. The server is then
//! restarted on the same directory to check the series API and that a second recovery
//! finds exactly what the first one did.
//!
//! Replay a failure with `ORRERY_TEST_SEED=<seed printed by the test>`.

mod common;

use common::{get_api, http, mix64, post_remote_write, Orrery, Proc, Rng};
use orrery_model::{Labels, Matcher, Queryable, Sample, TimeSeries, WriteRequest, STALE_NAN};
use orrery_tsdb::{Db, Options};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const METRIC: &str = "orrery_e2e_crash";
/// Series in the workload; series `j` belongs to writer `j % WRITERS`.
const SERIES: usize = 200;
const WRITERS: usize = 2;
/// Samples per series in one request.
const SAMPLES_PER_REQUEST: usize = 4;
const STEP_MS: i64 = 1_000;
/// Fixed, so that every run writes the same values at the same timestamps.
const BASE_MS: i64 = 1_700_000_000_000;
/// A writer waits when it is this many requests ahead of another, so that timestamps
/// never spread beyond the server's out-of-order window (10m; this is 80s).
const MAX_LEAD: usize = 20;
/// Upper bound on requests per writer, so a test can never run away.
const MAX_REQUESTS: usize = 20_000;

fn series_labels(j: usize) -> Labels {
    Labels::from_pairs([
        ("__name__", METRIC.to_string()),
        ("series", format!("{j:03}")),
        ("writer", (j % WRITERS).to_string()),
    ])
}

/// The value of series `j` at sample index `idx`: mostly counter-like, sometimes special.
fn value(j: usize, idx: usize) -> f64 {
    let h = mix64(((j as u64) << 32) ^ idx as u64);
    match h % 64 {
        0 => f64::NAN,
        1 => STALE_NAN,
        2 => f64::INFINITY,
        3 => f64::NEG_INFINITY,
        4 => -0.0,
        5 => f64::MIN_POSITIVE / 8.0, // subnormal
        6..=15 => (h >> 11) as f64 / 1024.0 - 1e12,
        _ => idx as f64 * 0.5 + j as f64,
    }
}

fn timestamp(idx: usize) -> i64 {
    BASE_MS + idx as i64 * STEP_MS
}

fn expected_sample(j: usize, idx: usize) -> Sample {
    Sample::new(timestamp(idx), value(j, idx))
}

/// Request `r` of writer `w`: its series, sample indexes `r*4 .. r*4+4`.
fn request(w: usize, r: usize) -> WriteRequest {
    let timeseries = (w..SERIES)
        .step_by(WRITERS)
        .map(|j| TimeSeries {
            labels: series_labels(j),
            samples: (r * SAMPLES_PER_REQUEST..(r + 1) * SAMPLES_PER_REQUEST)
                .map(|idx| expected_sample(j, idx))
                .collect(),
        })
        .collect();
    WriteRequest {
        timeseries,
        metadata: Vec::new(),
    }
}

/// What one writer saw: requests `0..acked` were answered 2xx; request `acked` was sent
/// and got no 2xx when `in_flight` is set.
#[derive(Debug, Clone, Default)]
struct WriterLog {
    acked: usize,
    in_flight: bool,
    /// A non-2xx answer: (request, status, body). Never expected.
    bad_status: Option<(usize, u16, String)>,
    /// The transport error that ended the writer (expected after SIGKILL).
    error: Option<String>,
}

struct Writers {
    progress: Arc<Vec<AtomicUsize>>,
    stop: Arc<AtomicBool>,
    handles: Vec<JoinHandle<WriterLog>>,
}

impl Writers {
    /// Starts the writers; with `pace`, each waits that long between requests.
    fn start(server: &Orrery, pace: Option<Duration>) -> Writers {
        let progress: Arc<Vec<AtomicUsize>> =
            Arc::new((0..WRITERS).map(|_| AtomicUsize::new(0)).collect());
        let finished: Arc<Vec<AtomicBool>> =
            Arc::new((0..WRITERS).map(|_| AtomicBool::new(false)).collect());
        let stop = Arc::new(AtomicBool::new(false));
        let url = server.url("/api/v1/write");
        let handles = (0..WRITERS)
            .map(|w| {
                let (progress, finished, stop, url) = (
                    progress.clone(),
                    finished.clone(),
                    stop.clone(),
                    url.clone(),
                );
                std::thread::Builder::new()
                    .name(format!("writer-{w}"))
                    .spawn(move || {
                        let log = write_loop(w, &url, pace, &progress, &finished, &stop);
                        finished[w].store(true, Ordering::SeqCst);
                        log
                    })
                    .expect("spawning a writer thread")
            })
            .collect();
        Writers {
            progress,
            stop,
            handles,
        }
    }

    fn acked_total(&self) -> usize {
        self.progress.iter().map(|p| p.load(Ordering::SeqCst)).sum()
    }

    /// Waits until the writers together have `n` acknowledged requests.
    fn wait_acked(&self, n: usize, timeout: Duration) {
        let started = Instant::now();
        while self.acked_total() < n {
            assert!(
                !self.handles.iter().all(|h| h.is_finished()),
                "all writers stopped after {} acknowledged requests, before {n}",
                self.acked_total()
            );
            assert!(
                started.elapsed() < timeout,
                "only {} of {n} requests acknowledged after {timeout:?}",
                self.acked_total()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn join(self) -> Vec<WriterLog> {
        self.stop.store(true, Ordering::SeqCst);
        let logs: Vec<WriterLog> = self
            .handles
            .into_iter()
            .map(|h| h.join().expect("a writer thread panicked"))
            .collect();
        for (w, log) in logs.iter().enumerate() {
            println!(
                "writer {w}: {} requests acknowledged ({} samples), in flight at the end: {}, ended by: {}",
                log.acked,
                log.acked * SAMPLES_PER_REQUEST * SERIES / WRITERS,
                log.in_flight,
                log.error.as_deref().unwrap_or("stop")
            );
            if let Some((r, status, body)) = &log.bad_status {
                panic!("writer {w}: request {r} was answered {status}, not 2xx: {body}");
            }
        }
        logs
    }
}

fn write_loop(
    w: usize,
    url: &str,
    pace: Option<Duration>,
    progress: &[AtomicUsize],
    finished: &[AtomicBool],
    stop: &AtomicBool,
) -> WriterLog {
    let agent = http();
    let mut log = WriterLog::default();
    for r in 0..MAX_REQUESTS {
        // Stay within MAX_LEAD requests of every writer still running.
        loop {
            let behind = (0..WRITERS)
                .filter(|&o| o != w && !finished[o].load(Ordering::SeqCst))
                .map(|o| progress[o].load(Ordering::SeqCst))
                .min();
            if stop.load(Ordering::SeqCst) || behind.is_none_or(|m| r <= m + MAX_LEAD) {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
        if let Some(p) = pace {
            std::thread::sleep(p);
        }
        let req = request(w, r);
        let v2 = w % 2 == 1;
        let body = if v2 {
            orrery_wire::encode_v2(&req)
        } else {
            orrery_wire::encode_v1(&req)
        };
        match post_remote_write(&agent, url, v2, &body) {
            Ok((status, _)) if (200..300).contains(&status) => {
                log.acked = r + 1;
                progress[w].store(r + 1, Ordering::SeqCst);
            }
            Ok((status, body)) => {
                log.in_flight = true;
                log.bad_status = Some((r, status, body));
                break;
            }
            Err(e) => {
                log.in_flight = true;
                log.error = Some(e.to_string());
                break;
            }
        }
    }
    log
}

/// Every sample of every workload series, as recovered from a data directory.
type Snapshot = BTreeMap<Labels, Vec<Sample>>;

/// Opens `dir` with `Db`, reads back the workload and checks it against the writers'
/// logs: every acknowledged sample present with its exact bits, nothing unknown, and of
/// an in-flight request only its own samples. Returns what it read.
fn verify(dir: &Path, logs: &[WriterLog], what: &str) -> Snapshot {
    let started = Instant::now();
    let db = Db::open(dir, Options::default())
        .unwrap_or_else(|e| panic!("{what}: Db::open({}) failed: {e}", dir.display()));
    let series = db
        .select(i64::MIN, i64::MAX, &[Matcher::equal("__name__", METRIC)])
        .unwrap_or_else(|e| panic!("{what}: select failed: {e}"));
    drop(db);
    let mut by_labels: Snapshot = series.into_iter().map(|s| (s.labels, s.samples)).collect();
    let mut problems: Vec<String> = Vec::new();
    let (mut acked_samples, mut in_flight_sent) = (0usize, 0usize);
    let mut in_flight_found = [0usize; WRITERS];
    for j in 0..SERIES {
        let log = &logs[j % WRITERS];
        let labels = series_labels(j);
        let acked_end = log.acked * SAMPLES_PER_REQUEST;
        let optional_end = if log.in_flight {
            acked_end + SAMPLES_PER_REQUEST
        } else {
            acked_end
        };
        acked_samples += acked_end;
        in_flight_sent += optional_end - acked_end;
        let Some(samples) = by_labels.remove(&labels) else {
            if acked_end > 0 {
                problems.push(format!(
                    "series {labels}: missing entirely; {acked_end} samples were acknowledged"
                ));
            }
            continue;
        };
        let mut found_acked = 0usize;
        for (pos, s) in samples.iter().enumerate() {
            let off = s.t - BASE_MS;
            let idx = usize::try_from(off / STEP_MS)
                .ok()
                .filter(|_| off % STEP_MS == 0);
            let Some(idx) = idx.filter(|&i| i < optional_end) else {
                problems.push(format!(
                    "series {labels}: unexpected sample #{pos} t={} v={} (bits {:#018x}); acknowledged up to index {acked_end}, sent up to {optional_end}",
                    s.t, s.v, s.v.to_bits()
                ));
                continue;
            };
            let want = expected_sample(j, idx);
            if !s.bit_eq(&want) {
                problems.push(format!(
                    "series {labels}: sample t={} has value {} (bits {:#018x}), want {} (bits {:#018x})",
                    s.t,
                    s.v,
                    s.v.to_bits(),
                    want.v,
                    want.v.to_bits()
                ));
            }
            if idx < acked_end {
                found_acked += 1;
            } else {
                in_flight_found[j % WRITERS] += 1;
            }
        }
        if found_acked != acked_end {
            let have: BTreeSet<i64> = samples.iter().map(|s| s.t).collect();
            let missing: Vec<i64> = (0..acked_end)
                .map(timestamp)
                .filter(|t| !have.contains(t))
                .collect();
            problems.push(format!(
                "series {labels}: {found_acked} of {acked_end} acknowledged samples found; missing timestamps (first 10 of {}): {:?}",
                missing.len(),
                &missing[..missing.len().min(10)]
            ));
        }
        by_labels.insert(labels, samples);
    }
    let known: BTreeSet<Labels> = (0..SERIES).map(series_labels).collect();
    for l in by_labels.keys().filter(|l| !known.contains(*l)) {
        problems.push(format!("unexpected series {l}"));
    }
    assert!(
        problems.is_empty(),
        "{what}: {} problems in {} (first 20):\n{}",
        problems.len(),
        dir.display(),
        problems
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    for (w, &found) in in_flight_found.iter().enumerate() {
        let sent = SAMPLES_PER_REQUEST * SERIES / WRITERS;
        if found > 0 && found < sent {
            // Allowed (it was never acknowledged), but worth knowing: a request is
            // appended as one WAL record, so it is usually all there or not at all.
            println!("{what}: note: writer {w}'s in-flight request was recovered partially ({found} of {sent} samples)");
        }
    }
    let in_flight_found: usize = in_flight_found.iter().sum();
    println!(
        "{what}: all {acked_samples} acknowledged samples of {} series present and bit-exact; {in_flight_found} of {in_flight_sent} in-flight samples present ({:?})",
        by_labels.len(),
        started.elapsed()
    );
    by_labels
}

/// Restarts the server on `dir`, checks that `/api/v1/series` lists exactly the series
/// of `snapshot`, stops it with SIGTERM and checks that a second recovery reads the same.
fn restart_and_compare(dir: &Path, config: Option<&Path>, snapshot: &Snapshot, logs: &[WriterLog]) {
    let mut server = Orrery::start(dir, config);
    let data = get_api(
        &http(),
        &server.url("/api/v1/series"),
        &[
            ("match[]", &format!("{{__name__=\"{METRIC}\"}}")),
            ("start", &((BASE_MS / 1000) - 60).to_string()),
            ("end", "4102444800"),
        ],
    );
    let listed: BTreeSet<BTreeMap<String, String>> = data
        .as_array()
        .expect("series data is an array")
        .iter()
        .map(|s| serde_json::from_value(s.clone()).expect("a series is an object of strings"))
        .collect();
    let want: BTreeSet<BTreeMap<String, String>> = snapshot
        .keys()
        .map(|l| {
            l.iter()
                .map(|p| (p.name.clone(), p.value.clone()))
                .collect()
        })
        .collect();
    assert_eq!(
        listed.len(),
        want.len(),
        "after restart /api/v1/series lists {} series, recovery found {}",
        listed.len(),
        want.len()
    );
    assert_eq!(
        listed, want,
        "after restart /api/v1/series differs from the recovered series"
    );
    println!("restarted server lists the same {} series", listed.len());
    server.terminate();
    drop(server);
    let again = verify(dir, logs, "second recovery");
    assert!(
        again.len() == snapshot.len()
            && again.iter().zip(snapshot).all(|((la, sa), (lb, sb))| {
                la == lb && sa.len() == sb.len() && sa.iter().zip(sb).all(|(a, b)| a.bit_eq(b))
            }),
        "a restart changed the recovered data"
    );
}

/// Prints the server's warnings and errors, shown if the test fails: a maintenance
/// error before the kill explains a directory left in an unusual state.
fn print_log_problems(server: &Orrery) {
    for line in server.proc.log_text().lines() {
        if line.contains("WARN") || line.contains("ERROR") {
            println!("server log: {line}");
        }
    }
}

/// A fresh data directory, removed afterwards unless `ORRERY_TEST_KEEP_DATA` is set
/// (to inspect what a failed run left behind).
fn data_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("orrery-e2e-data-")
        .disable_cleanup(std::env::var_os("ORRERY_TEST_KEEP_DATA").is_some())
        .tempdir()
        .expect("creating a data directory")
}

#[test]
fn sigkill_mid_stream_loses_no_acknowledged_sample() {
    let seed = common::seed("sigkill_mid_stream_loses_no_acknowledged_sample");
    let mut rng = Rng::new(seed);
    let dir = data_dir();
    let mut server = Orrery::start(dir.path(), None);
    let writers = Writers::start(&server, None);
    writers.wait_acked(5, Duration::from_secs(30));
    let delay = Duration::from_millis(rng.range_u64(0, 2_000));
    println!("streaming; SIGKILL in {delay:?}");
    std::thread::sleep(delay);
    server.sigkill();
    print_log_problems(&server);
    drop(server);
    let logs = writers.join();
    let snapshot = verify(dir.path(), &logs, "recovery after SIGKILL");
    restart_and_compare(dir.path(), None, &snapshot, &logs);
}

#[test]
fn sigkill_during_block_cuts_and_compaction_loses_no_acknowledged_sample() {
    let seed =
        common::seed("sigkill_during_block_cuts_and_compaction_loses_no_acknowledged_sample");
    let mut rng = Rng::new(seed);
    let dir = data_dir();
    let config_dir = data_dir();
    let config = config_dir.path().join("orrery.yml");
    // A 1m block range makes maintenance cut the head every ~25 requests (4s of data
    // each), on top of the explicit flushes, which write overlapping blocks.
    std::fs::write(
        &config,
        "storage:\n  maintenance_interval: 1s\n  block_range: 1m\n",
    )
    .expect("writing the config");
    let mut server = Orrery::start(dir.path(), Some(&config));
    let agent = http();
    // Paced, because every compaction rewrites what came before: unpaced writers make
    // each flush wait longer for maintenance, and the test's length would grow with it.
    let writers = Writers::start(&server, Some(Duration::from_millis(20)));
    writers.wait_acked(5, Duration::from_secs(30));
    let flush = |server: &Orrery| -> u16 {
        let resp = agent
            .post(&server.url("/api/v1/admin/flush"))
            .send_empty()
            .expect("POST /api/v1/admin/flush");
        common::read_reply(resp).0
    };
    for i in 0..3 {
        std::thread::sleep(Duration::from_millis(rng.range_u64(100, 600)));
        let (before, t0) = (writers.acked_total(), Instant::now());
        let status = flush(&server);
        assert_eq!(status, 204, "flush {i} answered {status}");
        println!(
            "flush {i} took {:?}; acknowledged requests {before} before it, {} after",
            t0.elapsed(),
            writers.acked_total()
        );
    }
    // Wait for maintenance to have merged blocks, so the kill lands on a directory that
    // has been through cuts, checkpoints and compactions.
    let started = Instant::now();
    loop {
        let compactions = server
            .metric(&agent, "orrery_tsdb_compactions_total")
            .unwrap_or(0.0);
        if compactions >= 1.0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no compaction within 30s of three flushes with maintenance_interval 1s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let m = |n| server.metric(&agent, n).unwrap_or(f64::NAN);
    println!(
        "before the kill: head cuts {}, blocks {}, compactions {}, compaction failures {}",
        m("orrery_tsdb_head_cuts_total"),
        m("orrery_tsdb_blocks"),
        m("orrery_tsdb_compactions_total"),
        m("orrery_tsdb_compaction_failures_total")
    );
    assert_eq!(
        m("orrery_tsdb_compaction_failures_total"),
        0.0,
        "a compaction failed"
    );
    // Keep flushing in the background so the kill may land inside a cut.
    let flush_url = server.url("/api/v1/admin/flush");
    let flush_seed = rng.next_u64();
    let flusher = std::thread::spawn(move || {
        let agent = http();
        let mut rng = Rng::new(flush_seed);
        let mut done = 0usize;
        loop {
            match agent.post(&flush_url).send_empty() {
                Ok(resp) => {
                    let (status, body) = common::read_reply(resp);
                    assert_eq!(status, 204, "background flush answered {status}: {body}");
                    done += 1;
                }
                Err(_) => return done,
            }
            std::thread::sleep(Duration::from_millis(rng.range_u64(20, 300)));
        }
    });
    let delay = Duration::from_millis(rng.range_u64(0, 3_000));
    println!("streaming and flushing; SIGKILL in {delay:?}");
    std::thread::sleep(delay);
    server.sigkill();
    print_log_problems(&server);
    drop(server);
    let flushes = flusher.join().expect("the flusher thread panicked");
    println!("{flushes} background flushes completed before the kill");
    let logs = writers.join();
    let snapshot = verify(
        dir.path(),
        &logs,
        "recovery after SIGKILL during cuts and compaction",
    );
    restart_and_compare(dir.path(), Some(&config), &snapshot, &logs);
}

#[test]
fn restart_after_clean_shutdown_keeps_everything() {
    let dir = data_dir();
    let mut server = Orrery::start(dir.path(), None);
    let agent = http();
    let writers = Writers::start(&server, None);
    writers.wait_acked(30, Duration::from_secs(60));
    let resp = agent
        .post(&server.url("/api/v1/admin/flush"))
        .send_empty()
        .expect("POST /api/v1/admin/flush");
    assert_eq!(common::read_reply(resp).0, 204, "flush");
    let flushed_at = writers.acked_total();
    writers.wait_acked(flushed_at + 30, Duration::from_secs(60));
    let logs = writers.join();
    assert!(
        logs.iter().all(|l| !l.in_flight),
        "a write failed without a kill: {logs:?}"
    );
    let sent: usize = logs
        .iter()
        .map(|l| l.acked * SAMPLES_PER_REQUEST * SERIES / WRITERS)
        .sum();
    let m = |n| server.metric(&agent, n).unwrap_or(f64::NAN);
    assert_eq!(
        m("orrery_tsdb_samples_appended_total"),
        sent as f64,
        "samples appended vs acknowledged"
    );
    assert_eq!(
        m("orrery_tsdb_samples_too_old_total"),
        0.0,
        "samples rejected as too old"
    );
    assert_eq!(
        m("orrery_tsdb_samples_duplicate_total"),
        0.0,
        "samples rejected as duplicates"
    );
    println!(
        "{sent} samples acknowledged (flush after {flushed_at} requests); stopping with SIGTERM"
    );
    server.terminate();
    drop(server);
    let snapshot = verify(dir.path(), &logs, "after clean shutdown");
    assert_eq!(snapshot.len(), SERIES);
    restart_and_compare(dir.path(), None, &snapshot, &logs);
}

#[test]
fn second_server_on_same_dir_is_refused() {
    let dir = data_dir();
    let mut first = Orrery::start(dir.path(), None);
    let port = common::free_port();
    let mut second = Proc::spawn(
        "second orrery",
        &mut Orrery::command(dir.path(), port, None),
    );
    let status = second
        .wait_timeout(Duration::from_secs(30))
        .unwrap_or_else(|| {
            panic!(
                "a second server on a locked data dir kept running; log:\n{}",
                second.log_tail(20)
            )
        });
    let log = second.log_text();
    assert_eq!(
        status.code(),
        Some(1),
        "second server exited with {status}; log:\n{log}"
    );
    assert!(
        log.contains("locked by another process"),
        "second server's error does not say the directory is locked:\n{log}"
    );
    println!(
        "second server refused: {}",
        log.lines()
            .find(|l| l.contains("locked"))
            .unwrap_or_default()
    );
    // The first server is unharmed and still takes writes.
    let agent = http();
    let body = orrery_wire::encode_v1(&request(0, 0));
    let (status, text) = post_remote_write(&agent, &first.url("/api/v1/write"), false, &body)
        .expect("write to the first server");
    assert_eq!(
        status, 204,
        "first server after the refused second one: {text}"
    );
    first.terminate();
}
