//! WAL framing tests: round trips, rolling, every way a tail can be torn, the golden
//! version-1 segment, and write, fsync, truncate and create failures injected through
//! the filesystem trait (`orrery_segment::faulty`).

use super::*;
use crate::checkpoint::CHECKPOINT_MAGIC;
use orrery_segment::faulty::FaultyFs;
use std::sync::atomic::Ordering;

fn write_records(dir: &Path, records: &[(u8, Vec<u8>)], seg_bytes: u64) -> WalWriter {
    let mut w = WalWriter::create(dir, 1, seg_bytes).unwrap();
    for (t, p) in records {
        w.append(&[(*t, p.as_slice())]).unwrap();
    }
    w.sync().unwrap();
    w
}

fn read_all(path: &Path) -> (Vec<(u8, Vec<u8>)>, SegmentReadEnd) {
    let mut got = Vec::new();
    let end = read_segment(path, SEGMENT_MAGIC, |t, p| {
        got.push((t, p.to_vec()));
        Ok(())
    })
    .unwrap();
    (got, end)
}

#[test]
fn records_round_trip_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let recs: Vec<(u8, Vec<u8>)> = (0..100u8)
        .map(|i| (i % 4 + 1, vec![i; i as usize]))
        .collect();
    write_records(dir.path(), &recs, 1 << 20);
    let (got, end) = read_all(&segment_path(dir.path(), 1));
    assert_eq!(got, recs);
    assert!(matches!(end, SegmentReadEnd::Clean { .. }));
}

#[test]
fn segments_roll_at_size_and_records_never_span_them() {
    let dir = tempfile::tempdir().unwrap();
    let recs: Vec<(u8, Vec<u8>)> = (0..10u8).map(|i| (1, vec![i; 400_000])).collect();
    let w = write_records(dir.path(), &recs, 1 << 20);
    assert!(w.segment() > 1);
    let listing = list(dir.path()).unwrap();
    let mut got = Vec::new();
    for n in listing.segments {
        got.extend(read_all(&segment_path(dir.path(), n)).0);
    }
    assert_eq!(got, recs);
}

#[test]
fn restart_after_torn_last_record_keeps_prior_records() {
    let dir = tempfile::tempdir().unwrap();
    let recs: Vec<(u8, Vec<u8>)> = (0..5u8).map(|i| (2, vec![i; 50])).collect();
    write_records(dir.path(), &recs, 1 << 20);
    let path = segment_path(dir.path(), 1);
    let full = std::fs::read(&path).unwrap();
    // Every possible cut inside the last record keeps exactly the first four.
    let last_start = full.len() - (RECORD_HEADER_LEN + 50);
    for cut in last_start + 1..full.len() {
        std::fs::write(&path, &full[..cut]).unwrap();
        let (got, end) = read_all(&path);
        assert_eq!(got, recs[..4], "cut at {cut}");
        match end {
            SegmentReadEnd::Corrupt { offset, error } => {
                assert_eq!(offset as usize, last_start);
                assert!(error.to_string().contains("torn"), "{error}");
            }
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
}

#[test]
fn flipped_byte_is_reported_as_checksum_mismatch_with_offset() {
    let dir = tempfile::tempdir().unwrap();
    let recs: Vec<(u8, Vec<u8>)> = (0..3u8).map(|i| (2, vec![i; 20])).collect();
    write_records(dir.path(), &recs, 1 << 20);
    let path = segment_path(dir.path(), 1);
    let mut bytes = std::fs::read(&path).unwrap();
    let second = FILE_HEADER_LEN + RECORD_HEADER_LEN + 20;
    bytes[second + RECORD_HEADER_LEN + 3] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    let (got, end) = read_all(&path);
    assert_eq!(got.len(), 1);
    match end {
        SegmentReadEnd::Corrupt { offset, error } => {
            assert_eq!(offset as usize, second);
            assert!(error.to_string().contains("checksum mismatch"), "{error}");
            assert!(error.to_string().contains("00000001"), "{error}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn absurd_length_field_is_corruption_not_allocation() {
    let dir = tempfile::tempdir().unwrap();
    let path = segment_path(dir.path(), 1);
    let mut bytes = file_header(SEGMENT_MAGIC).to_vec();
    bytes.extend_from_slice(&u32::MAX.to_le_bytes());
    bytes.extend_from_slice(&[0; 5]);
    std::fs::write(&path, &bytes).unwrap();
    let (got, end) = read_all(&path);
    assert!(got.is_empty());
    assert!(matches!(end, SegmentReadEnd::Corrupt { offset: 8, .. }));
}

#[test]
fn wrong_magic_and_future_version_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = segment_path(dir.path(), 1);
    std::fs::write(&path, b"NOPE\x01\0\0\0").unwrap();
    assert!(matches!(
        read_all(&path).1,
        SegmentReadEnd::Corrupt { offset: 0, .. }
    ));
    std::fs::write(&path, b"ORWL\x09\0\0\0").unwrap();
    let err = read_segment(&path, SEGMENT_MAGIC, |_, _| Ok(())).unwrap_err();
    assert!(err.to_string().contains("unsupported version"), "{err}");
}

#[test]
fn format_constants_match_the_spec() {
    // docs/formats/wal.md: magic "ORWL", version 1, 8-byte file header, 9-byte record header.
    assert_eq!(&SEGMENT_MAGIC, b"ORWL");
    assert_eq!(&CHECKPOINT_MAGIC, b"ORCP");
    assert_eq!(FORMAT_VERSION, 1);
    assert_eq!(FILE_HEADER_LEN, 8);
    assert_eq!(RECORD_HEADER_LEN, 9);
    let mut b = Vec::new();
    encode_record(&mut b, 2, b"abc");
    // len=3, crc32c(0x02 "abc"), type 2, payload.
    assert_eq!(&b[..4], &3u32.to_le_bytes());
    assert_eq!(&b[4..8], &crc32c::crc32c(b"\x02abc").to_le_bytes());
    assert_eq!(b[8], 2);
    assert_eq!(&b[9..], b"abc");
}

/// The records of the golden segment: real Series, Samples and Metadata payloads, an
/// empty one and a type this build does not know, in two appends (one `write(2)` each).
fn golden_batches() -> Vec<Vec<(u8, Vec<u8>)>> {
    use crate::record::{self, TYPE_METADATA, TYPE_SAMPLES, TYPE_SERIES};
    use orrery_model::{Labels, MetricMetadata, MetricType, Sample, STALE_NAN};
    let labels = Labels::from_pairs([("__name__", "up"), ("job", "node")]);
    let mut series = Vec::new();
    record::encode_series(&mut series, [(1, &labels)]);
    let mut samples = Vec::new();
    record::encode_samples(
        &mut samples,
        1,
        &[
            Sample {
                t: 1_700_000_000_000,
                v: 1.0,
            },
            Sample {
                t: 1_700_000_015_000,
                v: STALE_NAN,
            },
        ],
    );
    let mut md = Vec::new();
    record::encode_metadata(
        &mut md,
        [&MetricMetadata {
            metric_family: "up".into(),
            kind: MetricType::Gauge,
            help: "1 if the target is up".into(),
            unit: String::new(),
        }],
    );
    vec![
        vec![
            (TYPE_SERIES, series),
            (TYPE_METADATA, md),
            (TYPE_SAMPLES, samples),
        ],
        vec![(TYPE_SAMPLES, Vec::new()), (200, b"future record".to_vec())],
    ]
}

/// Format freeze: a segment written now must equal, byte for byte, the version-1
/// segment committed under `testdata/wal_v1/` (written by the WAL before its framing
/// moved to `orrery-segment`), and that file must read back to its records. If this
/// fails, the format changed: bump the version, keep reading version 1, update
/// docs/formats/wal.md and add a new golden file instead of replacing this one.
#[test]
fn golden_v1_segment_bytes_are_unchanged() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/wal_v1/00000001");
    let dir = tempfile::tempdir().unwrap();
    let batches = golden_batches();
    let mut w = WalWriter::create(dir.path(), 1, 1 << 20).unwrap();
    for batch in &batches {
        let recs: Vec<(u8, &[u8])> = batch.iter().map(|(t, p)| (*t, p.as_slice())).collect();
        w.append(&recs).unwrap();
    }
    w.sync().unwrap();
    let got = std::fs::read(segment_path(dir.path(), 1)).unwrap();
    if std::env::var_os("ORRERY_WRITE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, &got).unwrap();
    }
    let want = std::fs::read(&golden).expect("testdata/wal_v1/00000001 is committed");
    assert_eq!(got, want, "the WAL's bytes changed");
    assert_eq!(&want[..FILE_HEADER_LEN], b"ORWL\x01\0\0\0");
    let (recs, end) = read_all(&golden);
    assert_eq!(recs, batches.concat());
    assert!(
        matches!(end, SegmentReadEnd::Clean { len } if len == want.len() as u64),
        "{end:?}"
    );
    assert_eq!(file_header(CHECKPOINT_MAGIC), *b"ORCP\x01\0\0\0");
}

/// Every record of every segment in `dir`, in order, read as replay reads them: a
/// segment's records up to its first bad byte, then the next segment. Also returns the
/// segments that ended in bad bytes.
fn replay_all(dir: &Path) -> (Vec<(u8, Vec<u8>)>, Vec<u32>) {
    let mut got = Vec::new();
    let mut damaged = Vec::new();
    for n in list(dir).unwrap().segments {
        let (recs, end) = read_all(&segment_path(dir, n));
        got.extend(recs);
        if matches!(end, SegmentReadEnd::Corrupt { .. }) {
            damaged.push(n);
        }
    }
    (got, damaged)
}

fn rec(i: u8) -> (u8, Vec<u8>) {
    (2, vec![i; 30])
}

fn append_rec<F: orrery_segment::Fs>(w: &mut WalWriter<F>, i: u8) -> Result<u64> {
    let (t, p) = rec(i);
    w.append(&[(t, &p)])
}

#[test]
fn torn_write_is_cut_off_and_the_next_append_lands_in_a_new_segment() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultyFs::default();
    let mut w = WalWriter::create_with(fs.clone(), dir.path(), 1, 1 << 20).unwrap();
    append_rec(&mut w, 0).unwrap();
    fs.fail_writes_after(10);
    let err = append_rec(&mut w, 1).unwrap_err();
    assert!(matches!(err, TsdbError::Io { op: "write", .. }), "{err}");
    fs.heal_writes();
    let pos = append_rec(&mut w, 2).unwrap();
    w.sync_handle().sync_to(pos).unwrap();
    assert_eq!(w.segment(), 2);
    // The torn bytes were cut off: segment 1 ends cleanly after the first record.
    let (first, end) = read_all(&segment_path(dir.path(), 1));
    assert_eq!(first, vec![rec(0)]);
    assert!(matches!(end, SegmentReadEnd::Clean { .. }), "{end:?}");
    assert_eq!(replay_all(dir.path()), (vec![rec(0), rec(2)], vec![]));
}

#[test]
fn torn_write_that_cannot_be_cut_off_ends_its_segment_and_later_appends_survive() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultyFs::default();
    let mut w = WalWriter::create_with(fs.clone(), dir.path(), 1, 1 << 20).unwrap();
    append_rec(&mut w, 0).unwrap();
    fs.fail_set_len.store(true, Ordering::SeqCst);
    fs.fail_writes_after(20);
    append_rec(&mut w, 1).unwrap_err();
    fs.heal_writes();
    let pos = append_rec(&mut w, 2).unwrap();
    w.sync_handle().sync_to(pos).unwrap();
    drop(w);
    // Segment 1 ends in the torn bytes; nothing was written after them in it, so
    // reading on at segment 2 loses nothing acknowledged.
    assert_eq!(replay_all(dir.path()), (vec![rec(0), rec(2)], vec![1]));
}

#[test]
fn appends_fail_until_a_new_segment_can_be_started() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultyFs::default();
    let mut w = WalWriter::create_with(fs.clone(), dir.path(), 1, 1 << 20).unwrap();
    append_rec(&mut w, 0).unwrap();
    // The disk is full and the torn bytes cannot be cut off.
    fs.fail_set_len.store(true, Ordering::SeqCst);
    fs.fail_writes_after(5);
    append_rec(&mut w, 1).unwrap_err();
    fs.fail_writes_after(0);
    for i in 2..4 {
        // Each append tries to start segment 2; its header does not fit, so the
        // append fails and the half-created file is removed again.
        let err = append_rec(&mut w, i).unwrap_err();
        assert!(matches!(err, TsdbError::Io { op: "write", .. }), "{err}");
        assert!(w.needs_roll().unwrap());
        assert_eq!(w.segment(), 1);
        assert_eq!(list(dir.path()).unwrap().segments, vec![1]);
    }
    // A half-created segment that cannot be removed costs its number.
    fs.fail_remove.store(true, Ordering::SeqCst);
    append_rec(&mut w, 4).unwrap_err();
    fs.fail_remove.store(false, Ordering::SeqCst);
    fs.heal_writes();
    let pos = append_rec(&mut w, 5).unwrap();
    w.sync_handle().sync_to(pos).unwrap();
    assert_eq!(w.segment(), 3);
    assert!(!w.needs_roll().unwrap());
    drop(w);
    // Segment 1 ends in torn bytes, segment 2 is the empty leftover: only what was
    // acknowledged comes back.
    assert_eq!(replay_all(dir.path()), (vec![rec(0), rec(5)], vec![1, 2]));
}

#[test]
fn failed_fsync_fails_every_waiter_and_writing_moves_to_a_new_segment() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultyFs::default();
    let mut w = WalWriter::create_with(fs.clone(), dir.path(), 1, 1 << 20).unwrap();
    let h = w.sync_handle();
    let durable = append_rec(&mut w, 0).unwrap();
    h.sync_to(durable).unwrap();
    let waiting: Vec<u64> = (1..5).map(|i| append_rec(&mut w, i).unwrap()).collect();
    fs.fail_sync.store(true, Ordering::SeqCst);
    // The appends wait together (group commit): one fsync runs, fails, and drops
    // their bytes; every one of them must hear of it.
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let waiters: Vec<_> = waiting
            .iter()
            .map(|&pos| {
                let h = h.clone();
                s.spawn(move || h.sync_to(pos))
            })
            .collect();
        waiters.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let fsync_errors = results
        .iter()
        .filter(|r| matches!(r, Err(TsdbError::Io { op: "fsync", .. })))
        .count();
    let not_durable = results
        .iter()
        .filter(|r| matches!(r, Err(TsdbError::WalNotDurable { .. })))
        .count();
    assert_eq!((fsync_errors, not_durable), (1, 3), "{results:?}");
    fs.fail_sync.store(false, Ordering::SeqCst);
    // A later fsync would succeed (the error is reported once), but it must not be
    // taken to mean the dropped bytes are on disk (fsyncgate).
    for &pos in &waiting {
        assert!(matches!(
            h.sync_to(pos),
            Err(TsdbError::WalNotDurable { .. })
        ));
    }
    h.sync_to(durable).unwrap();
    assert!(w.needs_roll().unwrap());
    let after = append_rec(&mut w, 5).unwrap();
    assert_eq!(w.segment(), 2);
    h.sync_to(after).unwrap();
    assert!(matches!(
        h.sync_to(waiting[0]),
        Err(TsdbError::WalNotDurable { .. })
    ));
    drop(w);
    // Exactly the acknowledged records: the first and the one after the failure.
    assert_eq!(replay_all(dir.path()), (vec![rec(0), rec(5)], vec![]));
}

#[test]
fn failed_fsync_while_sealing_a_segment_still_rolls_and_fails_its_waiters() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultyFs::default();
    let mut w = WalWriter::create_with(fs.clone(), dir.path(), 1, 1 << 20).unwrap();
    let h = w.sync_handle();
    let pos = append_rec(&mut w, 0).unwrap();
    fs.fail_sync.store(true, Ordering::SeqCst);
    assert_eq!(w.roll().unwrap(), 2);
    fs.fail_sync.store(false, Ordering::SeqCst);
    assert!(matches!(
        h.sync_to(pos),
        Err(TsdbError::WalNotDurable { .. })
    ));
    let after = append_rec(&mut w, 1).unwrap();
    h.sync_to(after).unwrap();
    drop(w);
    // The failed fsync dropped all of segment 1, its header too (it had never been
    // synced): replay reads that as the end of segment 1 and goes on.
    assert_eq!(replay_all(dir.path()), (vec![rec(1)], vec![1]));
}
