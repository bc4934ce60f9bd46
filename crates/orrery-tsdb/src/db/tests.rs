//! Database behaviour: appends, queries, restart, cuts, compaction and retention.

use super::*;
use orrery_model::{MatchOp, TimeSeries, WriteRequest, STALE_NAN};
use std::fs::File;
use std::time::Duration;

const H: i64 = 3600 * 1000;

fn opts() -> Options {
    Options {
        fsync: FsyncPolicy::Interval(Duration::from_secs(1)),
        ..Options::default()
    }
}

fn series(name: &str, inst: &str, samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: Labels::from_pairs([("__name__", name), ("instance", inst)]),
        samples: samples.iter().map(|&(t, v)| Sample::new(t, v)).collect(),
    }
}

fn req(ts: Vec<TimeSeries>) -> WriteRequest {
    WriteRequest {
        timeseries: ts,
        metadata: vec![],
    }
}

fn name_eq(n: &str) -> Vec<Matcher> {
    vec![Matcher::equal("__name__", n)]
}

fn all(db: &Db, name: &str) -> Vec<Series> {
    db.select(i64::MIN, i64::MAX, &name_eq(name)).unwrap()
}

/// A regular series `name{instance=i}` every 15s over `[from, to)`, value = t/1000.
fn fill(db: &Db, name: &str, insts: usize, from: i64, to: i64) -> u64 {
    let mut n = 0;
    let mut t = from;
    while t < to {
        let ts = (0..insts)
            .map(|i| series(name, &format!("h{i}"), &[(t, t as f64 / 1000.0)]))
            .collect();
        n += db.append(&req(ts)).unwrap().samples_written;
        t += 15_000;
    }
    n
}

fn count_samples(db: &Db, name: &str) -> usize {
    all(db, name).iter().map(|s| s.samples.len()).sum()
}

#[test]
fn appended_samples_read_back_bit_exact() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let vals = [
        (1000, 1.5),
        (2000, f64::NAN),
        (3000, STALE_NAN),
        (4000, f64::INFINITY),
        (5000, -0.0),
    ];
    let out = db.append(&req(vec![series("m", "a", &vals)])).unwrap();
    assert_eq!(out.samples_written, 5);
    assert_eq!(out.series_created, 1);
    let got = all(&db, "m");
    assert_eq!(got.len(), 1);
    for (g, w) in got[0].samples.iter().zip(vals.iter()) {
        assert!(g.bit_eq(&Sample::new(w.0, w.1)), "{g:?} vs {w:?}");
    }
}

#[test]
fn duplicate_keeps_first_and_out_of_order_window_is_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let t0 = 100 * H;
    db.append(&req(vec![series("m", "a", &[(t0, 1.0)])]))
        .unwrap();
    let out = db
        .append(&req(vec![series(
            "m",
            "a",
            &[
                (t0, 2.0),
                (t0 - 60_000, 3.0),
                (t0 - 60_000, 4.0),
                (t0 - 11 * 60_000, 5.0),
            ],
        )]))
        .unwrap();
    assert_eq!(out.samples_written, 1);
    assert_eq!(out.duplicates, 2);
    assert_eq!(out.too_old, 1);
    let s = &all(&db, "m")[0].samples;
    assert_eq!(s, &[Sample::new(t0 - 60_000, 3.0), Sample::new(t0, 1.0)]);
}

#[test]
fn restart_replays_everything_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let written = {
        let db = Db::open(dir.path(), opts()).unwrap();
        let n = fill(&db, "m", 20, 0, H);
        db.append(&req(vec![series("m", "h0", &[(H - 30_000 + 1, 7.0)])]))
            .unwrap();
        n + 1
    };
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(count_samples(&db, "m") as u64, written);
    // Appending after a restart continues the same series, not a new one.
    let out = db
        .append(&req(vec![series("m", "h0", &[(H, 1.0)])]))
        .unwrap();
    assert_eq!(out.series_created, 0);
}

#[test]
fn second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _db = Db::open(dir.path(), opts()).unwrap();
    let err = Db::open(dir.path(), opts())
        .err()
        .expect("second open must fail");
    assert!(matches!(err, TsdbError::Locked { .. }), "{err}");
    assert!(err.to_string().contains("locked by another process"));
}

#[test]
fn torn_wal_tail_is_truncated_and_earlier_writes_survive() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        fill(&db, "m", 3, 0, 10 * 15_000);
    }
    let listing = wal::list(&dir.path().join(WAL_DIR)).unwrap();
    let last = wal::segment_path(&dir.path().join(WAL_DIR), *listing.segments.last().unwrap());
    let len = std::fs::metadata(&last).unwrap().len();
    // Chop a few bytes off the last record, as a crash mid-write would.
    let f = File::options().write(true).open(&last).unwrap();
    f.set_len(len - 5).unwrap();
    drop(f);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(count_samples(&db, "m"), 27);
    let m = db.metrics();
    let corrupt = m
        .iter()
        .find(|m| m.name == "orrery_tsdb_wal_corruptions_total")
        .unwrap();
    assert_eq!(corrupt.value, 1.0);
    drop(db);
    // The truncation is durable: the next start is clean.
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(count_samples(&db, "m"), 27);
}

#[test]
fn flush_persists_head_to_blocks_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let n = {
        let db = Db::open(dir.path(), opts()).unwrap();
        let n = fill(&db, "m", 50, 0, 3 * H);
        db.flush().unwrap();
        assert_eq!(db.head.num_series(), 0);
        let blocks = db.blocks();
        assert_eq!(blocks.len(), 1, "one block for the whole flush");
        // 3h of data from 0: the block covers the two 2h ranges it touches.
        assert_eq!(
            (blocks[0].meta().min_time, blocks[0].meta().max_time),
            (0, 4 * H)
        );
        assert_eq!(count_samples(&db, "m") as u64, n);
        n
    };
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(count_samples(&db, "m") as u64, n);
    // Only the newest checkpoint and the current segment remain.
    let listing = wal::list(&dir.path().join(WAL_DIR)).unwrap();
    assert_eq!(listing.checkpoints.len(), 1);
}

#[test]
fn overlapping_flushes_are_merged_by_compaction_keeping_first_values() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    fill(&db, "m", 5, 0, 30 * 60_000);
    db.flush().unwrap();
    // Same range again: one duplicate timestamp with a different value, one new one.
    db.append(&req(vec![series(
        "m",
        "h0",
        &[(0, 999.0), (30 * 60_000 - 1, 5.0)],
    )]))
    .unwrap();
    db.flush().unwrap();
    assert_eq!(db.blocks().len(), 2);
    let before = all(&db, "m");
    db.maintain().unwrap();
    assert_eq!(db.blocks().len(), 1, "overlapping blocks must be merged");
    let after = all(&db, "m");
    assert_eq!(before, after);
    let h0 = &after[0].samples;
    assert_eq!(h0[0], Sample::new(0, 0.0), "first value kept");
    assert_eq!(h0.last().unwrap(), &Sample::new(30 * 60_000 - 1, 5.0));
}

#[test]
fn head_is_cut_into_blocks_when_it_spans_one_and_a_half_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let n = {
        let db = Db::open(dir.path(), opts()).unwrap();
        let n = fill(&db, "m", 10, 0, 4 * H);
        db.maintain().unwrap();
        let blocks = db.blocks();
        assert_eq!(blocks.len(), 1);
        assert_eq!(
            (blocks[0].meta().min_time, blocks[0].meta().max_time),
            (0, 2 * H)
        );
        assert!(db.head.min_time() >= 2 * H);
        assert_eq!(count_samples(&db, "m") as u64, n);
        n
    };
    // Restart from checkpoint + newer segments: nothing lost, nothing doubled.
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(count_samples(&db, "m") as u64, n);
}

#[test]
fn retention_deletes_blocks_older_than_the_horizon() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts();
    o.retention_ms = 4 * H;
    let db = Db::open(dir.path(), o).unwrap();
    fill(&db, "old", 2, 0, H);
    db.flush().unwrap();
    fill(&db, "new", 2, 10 * H, 11 * H);
    db.flush().unwrap();
    db.maintain().unwrap();
    assert!(all(&db, "old").is_empty());
    assert_eq!(all(&db, "new").len(), 2);
    let m = db.metrics();
    assert_eq!(
        m.iter()
            .find(|m| m.name == "orrery_tsdb_retention_time_deletions_total")
            .unwrap()
            .value,
        1.0
    );
}

#[test]
fn size_retention_deletes_oldest_blocks_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts();
    o.retention_bytes = 1;
    let db = Db::open(dir.path(), o).unwrap();
    fill(&db, "m", 2, 0, H);
    db.flush().unwrap();
    db.maintain().unwrap();
    assert!(db.blocks().is_empty());
}

#[test]
fn labels_and_series_queries_cover_head_and_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    fill(&db, "a", 2, 0, 60_000);
    db.flush().unwrap();
    fill(&db, "b", 1, 60_000, 120_000);
    assert_eq!(db.label_names(0, H, &[]).unwrap(), ["__name__", "instance"]);
    assert_eq!(db.label_values("__name__", 0, H, &[]).unwrap(), ["a", "b"]);
    assert_eq!(
        db.label_values("instance", 0, H, &[name_eq("b")]).unwrap(),
        ["h0"]
    );
    let re = Matcher::new(MatchOp::Regex, "__name__", "a|b").unwrap();
    assert_eq!(db.series(0, H, &[re]).unwrap().len(), 3);
    // Time bounds apply.
    assert_eq!(db.series(100_000, H, &name_eq("a")).unwrap().len(), 0);
    let err = db
        .select(0, H, &[Matcher::new(MatchOp::Regex, "x", ".*").unwrap()])
        .unwrap_err();
    assert!(err.to_string().contains("non-empty matcher"));
}

#[test]
fn metadata_survives_restart_and_flush() {
    let dir = tempfile::tempdir().unwrap();
    let md = MetricMetadata {
        metric_family: "m".into(),
        kind: orrery_model::MetricType::Gauge,
        help: "h".into(),
        unit: "".into(),
    };
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        let mut r = req(vec![series("m", "a", &[(1, 1.0)])]);
        r.metadata.push(md.clone());
        db.append(&r).unwrap();
        db.flush().unwrap();
    }
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(db.metadata(), vec![md]);
}

#[test]
fn invalid_options_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts();
    o.block_range_ms = 5;
    assert!(matches!(
        Db::open(dir.path(), o),
        Err(TsdbError::InvalidOption(_))
    ));
}

/// Builds a record's payload.
type Build<'a> = &'a dyn Fn(&mut Vec<u8>);

/// Appends records, each payload built by its closure, to the WAL in one write.
fn append_records(w: &mut WalWriter, records: &[(u8, Build<'_>)]) {
    let payloads: Vec<(u8, Vec<u8>)> = records
        .iter()
        .map(|(typ, build)| {
            let mut p = Vec::new();
            build(&mut p);
            (*typ, p)
        })
        .collect();
    let framed: Vec<(u8, &[u8])> = payloads.iter().map(|(t, p)| (*t, p.as_slice())).collect();
    w.append(&framed).unwrap();
}

/// A cut drops series left without data; the same labels then come back under a new
/// id. A crash before the cut's checkpoint replays segments holding both ids, and the
/// samples of each must land in the one series (the CI run that found this lost the
/// newest acknowledged samples of every series).
#[test]
fn replay_joins_samples_of_one_series_written_under_two_ids() {
    let dir = tempfile::tempdir().unwrap();
    let wal_dir = dir.path().join(WAL_DIR);
    std::fs::create_dir_all(&wal_dir).unwrap();
    let labels = Labels::from_pairs([("__name__", "m"), ("instance", "h0")]);
    let other = Labels::from_pairs([("__name__", "m"), ("instance", "h1")]);
    {
        let mut w = WalWriter::create(&wal_dir, 0, 1 << 20).unwrap();
        append_records(
            &mut w,
            &[
                (TYPE_SERIES, &|p| {
                    record::encode_series(p, [(1, &labels), (2, &other)])
                }),
                (TYPE_SAMPLES, &|p| {
                    record::encode_samples(p, 1, &[Sample::new(1000, 1.0), Sample::new(2000, 2.0)]);
                    record::encode_samples(p, 2, &[Sample::new(1000, 5.0)]);
                }),
            ],
        );
        w.roll().unwrap();
        append_records(
            &mut w,
            &[
                (TYPE_SERIES, &|p| record::encode_series(p, [(3, &labels)])),
                (TYPE_SAMPLES, &|p| {
                    record::encode_samples(p, 3, &[Sample::new(3000, 3.0), Sample::new(4000, 4.0)]);
                }),
            ],
        );
        w.sync().unwrap();
    }
    let db = Db::open(dir.path(), opts()).unwrap();
    let got = db
        .select(i64::MIN, i64::MAX, &[Matcher::equal("instance", "h0")])
        .unwrap();
    assert_eq!(got.len(), 1);
    let ts: Vec<(i64, f64)> = got[0].samples.iter().map(|s| (s.t, s.v)).collect();
    assert_eq!(ts, [(1000, 1.0), (2000, 2.0), (3000, 3.0), (4000, 4.0)]);
    let unknown = db
        .metrics()
        .into_iter()
        .find(|m| m.name == "orrery_tsdb_wal_replay_unknown_series_total")
        .map(|m| m.value);
    assert_eq!(unknown, Some(0.0));
    assert_eq!(count_samples(&db, "m"), 5);
}

/// A cut moves series into the block one at a time while appends go on (the WAL lock is
/// not held for the whole cut): samples written during cuts must all be found, both
/// before and after a restart, in the block, the head or both (deduplicated).
#[test]
fn appends_during_cuts_are_neither_lost_nor_doubled() {
    let dir = tempfile::tempdir().unwrap();
    let written = {
        let db = Arc::new(Db::open(dir.path(), opts()).unwrap());
        let writer = {
            let db = db.clone();
            std::thread::spawn(move || fill(&db, "m", 200, 0, 3 * H))
        };
        let mut cuts = 0;
        while !writer.is_finished() {
            db.flush().unwrap();
            cuts += 1;
        }
        let n = writer.join().unwrap();
        assert!(cuts > 1, "the writer finished before a cut ran");
        db.maintain().unwrap();
        assert_eq!(count_samples(&db, "m") as u64, n);
        n
    };
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(count_samples(&db, "m") as u64, written);
}

/// The bug this guards against: after a write failed part-way, the next acknowledged
/// write landed after the torn bytes, and replay (which stops a segment at them) lost
/// it. Each failure here is followed by an acknowledged write; a restart must bring
/// back exactly the acknowledged samples, through the real replay.
#[test]
fn writes_acknowledged_after_failed_wal_writes_and_fsyncs_survive_restart() {
    use orrery_segment::faulty::FaultyFs;
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().unwrap();
    let wal_dir = dir.path().join(WAL_DIR);
    std::fs::create_dir_all(&wal_dir).unwrap();
    let labels = Labels::from_pairs([("__name__", "m"), ("instance", "h0")]);
    let fs = FaultyFs::default();
    let mut w = WalWriter::create_with(fs.clone(), &wal_dir, 0, 1 << 20).unwrap();
    let h = w.sync_handle();
    let samples = |t: i64| {
        let mut p = Vec::new();
        record::encode_samples(&mut p, 1, &[Sample::new(t, t as f64)]);
        p
    };
    // Acknowledges a write: appended, then fsynced, as `FsyncPolicy::Always` does.
    let ack = |w: &mut WalWriter<FaultyFs>, recs: &[(u8, &[u8])]| -> Result<()> {
        let pos = w.append(recs)?;
        h.sync_to(pos)
    };
    let mut series = Vec::new();
    record::encode_series(&mut series, [(1, &labels)]);
    ack(
        &mut w,
        &[(TYPE_SERIES, &series), (TYPE_SAMPLES, &samples(1000))],
    )
    .unwrap();
    // A torn write that is cut off, then one that cannot be.
    fs.fail_writes_after(7);
    ack(&mut w, &[(TYPE_SAMPLES, &samples(2000))]).unwrap_err();
    fs.heal_writes();
    ack(&mut w, &[(TYPE_SAMPLES, &samples(3000))]).unwrap();
    fs.fail_set_len.store(true, Ordering::SeqCst);
    fs.fail_writes_after(12);
    ack(&mut w, &[(TYPE_SAMPLES, &samples(4000))]).unwrap_err();
    fs.heal_writes();
    ack(&mut w, &[(TYPE_SAMPLES, &samples(5000))]).unwrap();
    // An fsync that fails (and drops what it did not make durable).
    fs.fail_sync.store(true, Ordering::SeqCst);
    ack(&mut w, &[(TYPE_SAMPLES, &samples(6000))]).unwrap_err();
    fs.fail_sync.store(false, Ordering::SeqCst);
    ack(&mut w, &[(TYPE_SAMPLES, &samples(7000))]).unwrap();
    drop(w);
    let db = Db::open(dir.path(), opts()).unwrap();
    let got: Vec<i64> = all(&db, "m")
        .iter()
        .flat_map(|s| s.samples.iter().map(|x| x.t))
        .collect();
    assert_eq!(got, [1000, 3000, 5000, 7000]);
}
