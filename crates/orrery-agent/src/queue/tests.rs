//! Queue tests on real temporary directories: round trips, restarts at the ack
//! position, torn and corrupt files, the size bound, and injected write faults.

use super::filenames::parse_segment_name;
use super::*;
use orrery_segment::faulty::FaultyFs;
use std::io::Write;

fn cfg(dir: &Path) -> QueueConfig {
    QueueConfig {
        segment_bytes: 1 << 20,
        ..QueueConfig::new(dir)
    }
}

fn payload(i: u32) -> Vec<u8> {
    format!("record-{i:05}").into_bytes()
}

/// Drains the queue, returning the payloads in order and acking when `ack` says so.
fn drain<F: Fs>(q: &mut Queue<F>, ack: impl Fn(&Record) -> bool) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(r) = q.next_record().unwrap() {
        if ack(&r) {
            assert!(q.ack(r.pos));
        }
        out.push(r.entry.payload);
    }
    out
}

fn segment_files(dir: &Path) -> Vec<u64> {
    let mut v: Vec<u64> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| parse_segment_name(e.unwrap().file_name().to_str().unwrap()))
        .collect();
    v.sort_unstable();
    v
}

#[test]
fn format_constants_match_the_spec() {
    let spec = include_str!("../../../../docs/formats/queue.md");
    assert!(spec.contains("`ORAQ` (0x4F 0x52 0x41 0x51)"));
    assert!(spec.contains("`ORAK` (0x4F 0x52 0x41 0x4B)"));
    assert_eq!(&SEGMENT_MAGIC, b"ORAQ");
    assert_eq!(&ACK_MAGIC, b"ORAK");
    assert!(spec.contains("Magic `ORAQ` (segments) and `ORAK` (ack checkpoint), version 1"));
    assert_eq!(FORMAT_VERSION, 1);
    let index = include_str!("../../../../docs/formats/README.md");
    assert!(index.contains("| `ORAQ` | `4f 52 41 51` |"));
    assert!(index.contains("| `ORAK` | `4f 52 41 4b` |"));
}

#[test]
fn fixed_sizes_are_frozen() {
    // A failure here means the on-disk format changed: bump FORMAT_VERSION and the spec.
    assert_eq!(FILE_HEADER_LEN, 8);
    assert_eq!(RECORD_HEADER_LEN, 9);
    assert_eq!(Entry::framed_len(0), 25);
    assert_eq!(checkpoint::FIXED_LEN, 32);
}

#[test]
fn entry_and_checkpoint_bytes_are_golden() {
    let mut buf = Vec::new();
    Entry {
        shard_key: 0x0102_0304_0506_0708,
        appended_ms: 1_700_000_000_000,
        payload: b"abc".to_vec(),
    }
    .encode_into(&mut buf);
    let crc = crc32c::crc32c(&buf[8..]);
    let mut want = vec![19, 0, 0, 0];
    want.extend_from_slice(&crc.to_le_bytes());
    want.push(1);
    want.extend_from_slice(&[8, 7, 6, 5, 4, 3, 2, 1]);
    want.extend_from_slice(&1_700_000_000_000i64.to_le_bytes());
    want.extend_from_slice(b"abc");
    assert_eq!(buf, want);

    let ck = AckCheckpoint {
        watermark: Pos {
            segment: 3,
            offset: 8,
        },
        acked: vec![Pos {
            segment: 3,
            offset: 50,
        }],
    };
    let mut buf = Vec::new();
    ck.encode_into(&mut buf);
    assert_eq!(&buf[..8], b"ORAK\x01\0\0\0");
    assert_eq!(buf.len(), checkpoint::FIXED_LEN + 16);
    assert_eq!(AckCheckpoint::decode(Path::new("ack"), &buf).unwrap(), ck);
}

#[test]
fn records_round_trip_in_order_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let c = QueueConfig {
        segment_bytes: 200,
        ..cfg(dir.path())
    };
    let (mut q, _) = Queue::open(c).unwrap();
    for i in 0..50 {
        q.push(u64::from(i % 3), &payload(i)).unwrap();
    }
    assert!(segment_files(dir.path()).len() > 5, "segments roll at size");
    let mut keys = Vec::new();
    let mut got = Vec::new();
    while let Some(r) = q.next_record().unwrap() {
        keys.push(r.entry.shard_key);
        got.push(r.entry.payload);
    }
    assert_eq!(got, (0..50).map(payload).collect::<Vec<_>>());
    assert_eq!(
        keys,
        (0..50u32).map(|i| u64::from(i % 3)).collect::<Vec<_>>()
    );
    assert_eq!(q.stats().pending_records, 50);
}

#[test]
fn restart_resumes_after_ack_position_including_out_of_order_acks() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut q, _) = Queue::open(cfg(dir.path())).unwrap();
        for i in 0..10 {
            q.push(7, &payload(i)).unwrap();
        }
        let recs: Vec<Record> = std::iter::from_fn(|| q.next_record().unwrap()).collect();
        // Acks arrive out of order from parallel shards: 0-4, then 7 and 9.
        for i in [0, 1, 2, 3, 4, 7, 9] {
            assert!(q.ack(recs[i].pos));
        }
        assert!(!q.ack(recs[0].pos), "a second ack does not count");
        assert_eq!(q.watermark(), recs[5].pos);
        q.checkpoint().unwrap();
    }
    let (mut q, report) = Queue::open(cfg(dir.path())).unwrap();
    assert_eq!(report.pending_records, 3);
    assert!(report.corruptions.is_empty());
    let got = drain(&mut q, |_| true);
    assert_eq!(got, vec![payload(5), payload(6), payload(8)]);
    assert_eq!(q.stats().pending_records, 0);
}

#[test]
fn restart_without_checkpoint_redelivers_unacked_records() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut q, _) = Queue::open(cfg(dir.path())).unwrap();
        for i in 0..5 {
            q.push(1, &payload(i)).unwrap();
        }
        // Handed out but never acked, and the process "crashes" (no checkpoint).
        assert_eq!(drain(&mut q, |_| false).len(), 5);
    }
    let (mut q, _) = Queue::open(cfg(dir.path())).unwrap();
    assert_eq!(
        drain(&mut q, |_| true),
        (0..5).map(payload).collect::<Vec<_>>()
    );
}

#[test]
fn acked_segments_are_deleted_after_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let c = QueueConfig {
        segment_bytes: 100,
        ..cfg(dir.path())
    };
    let (mut q, _) = Queue::open(c.clone()).unwrap();
    for i in 0..20 {
        q.push(1, &payload(i)).unwrap();
    }
    let before = segment_files(dir.path()).len();
    assert!(before > 3);
    drain(&mut q, |_| true);
    q.checkpoint().unwrap();
    assert_eq!(
        segment_files(dir.path()).len(),
        1,
        "only the active segment is left"
    );
    assert_eq!(q.stats().segments, 1);
    drop(q);
    let (mut q, report) = Queue::open(c).unwrap();
    assert_eq!(report.pending_records, 0);
    assert!(q.next_record().unwrap().is_none());
}

#[test]
fn restart_after_torn_last_record_keeps_prior_records() {
    let dir = tempfile::tempdir().unwrap();
    let seg;
    {
        let (mut q, _) = Queue::open(cfg(dir.path())).unwrap();
        for i in 0..5 {
            q.push(1, &payload(i)).unwrap();
        }
        seg = q.writer.segment;
    }
    let path = dir.path().join(segment_name(seg));
    let full = std::fs::read(&path).unwrap();
    let last_start = full.len() as u64 - Entry::framed_len(payload(4).len());
    // Every cut inside the last record keeps exactly the first four.
    for cut in (last_start + 1..full.len() as u64).step_by(3) {
        for n in segment_files(dir.path()) {
            if n != seg {
                std::fs::remove_file(dir.path().join(segment_name(n))).unwrap();
            }
        }
        std::fs::write(&path, &full[..cut as usize]).unwrap();
        let (mut q, report) = Queue::open(cfg(dir.path())).unwrap();
        match &report.corruptions[..] {
            [QueueError::Corruption {
                path: p,
                offset,
                detail,
            }] => {
                assert_eq!(p, &path);
                assert_eq!(*offset, last_start);
                assert!(detail.contains("torn"), "{detail}");
            }
            other => panic!("cut at {cut}: {other:?}"),
        }
        assert_eq!(report.corrupt_bytes, cut - last_start);
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            last_start,
            "truncated"
        );
        assert_eq!(
            drain(&mut q, |_| false),
            (0..4).map(payload).collect::<Vec<_>>()
        );
    }
}

#[test]
fn flipped_byte_is_reported_with_offset_and_only_that_segment_tail_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let c = QueueConfig {
        segment_bytes: 120,
        ..cfg(dir.path())
    };
    {
        let (mut q, _) = Queue::open(c.clone()).unwrap();
        for i in 0..12 {
            q.push(1, &payload(i)).unwrap();
        }
    }
    // Segments hold 3 records each (8 + 3 × 38 bytes). Damage the second record of
    // the first segment: it and the third are lost; every later segment survives.
    let first = segment_files(dir.path())[0];
    let path = dir.path().join(segment_name(first));
    let mut bytes = std::fs::read(&path).unwrap();
    let rec = Entry::framed_len(payload(0).len()) as usize;
    let second = FILE_HEADER_LEN as usize + rec;
    bytes[second + RECORD_HEADER_LEN as usize + 20] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();

    let (mut q, report) = Queue::open(c).unwrap();
    match &report.corruptions[..] {
        [QueueError::Corruption {
            path: p,
            offset,
            detail,
        }] => {
            assert_eq!(p, &path);
            assert_eq!(*offset, second as u64);
            assert!(detail.contains("checksum mismatch"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    let got = drain(&mut q, |_| true);
    let want: Vec<Vec<u8>> = (0..12)
        .filter(|i| *i != 1 && *i != 2)
        .map(payload)
        .collect();
    assert_eq!(got, want);
    assert_eq!(q.stats().dropped_corrupt_bytes, 2 * rec as u64);
}

#[test]
fn corruption_appearing_while_running_skips_the_segment_tail_and_counts_it() {
    let dir = tempfile::tempdir().unwrap();
    let c = QueueConfig {
        segment_bytes: 120,
        ..cfg(dir.path())
    };
    let (mut q, _) = Queue::open(c).unwrap();
    for i in 0..6 {
        q.push(1, &payload(i)).unwrap();
    }
    let first = segment_files(dir.path())[0];
    let path = dir.path().join(segment_name(first));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[FILE_HEADER_LEN as usize + 3] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let got = drain(&mut q, |_| true);
    assert_eq!(got, (3..6).map(payload).collect::<Vec<_>>());
    let s = q.stats();
    assert_eq!(s.dropped_corrupt_records, 3);
    assert_eq!(s.pending_records, 0);
}

#[test]
fn unreadable_ack_checkpoint_redelivers_from_the_oldest_segment() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut q, _) = Queue::open(cfg(dir.path())).unwrap();
        for i in 0..4 {
            q.push(1, &payload(i)).unwrap();
        }
        let r = q.next_record().unwrap().unwrap();
        q.ack(r.pos);
        q.checkpoint().unwrap();
    }
    let ack = dir.path().join(ACK_FILE);
    let mut bytes = std::fs::read(&ack).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&ack, &bytes).unwrap();
    let (mut q, report) = Queue::open(cfg(dir.path())).unwrap();
    assert!(matches!(
        report.checkpoint_reset,
        Some(QueueError::Corruption { .. })
    ));
    // Duplicates, never loss.
    assert_eq!(
        drain(&mut q, |_| true),
        (0..4).map(payload).collect::<Vec<_>>()
    );
}

#[test]
fn newer_format_version_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut q, _) = Queue::open(cfg(dir.path())).unwrap();
        q.push(1, b"x").unwrap();
    }
    let n = segment_files(dir.path())[0];
    let path = dir.path().join(segment_name(n));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[4] = 2;
    std::fs::write(&path, &bytes).unwrap();
    match Queue::open(cfg(dir.path())) {
        Err(QueueError::UnsupportedVersion {
            got: 2, want: 1, ..
        }) => {}
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("opened a version 2 segment"),
    }
}

#[test]
fn full_queue_drops_the_oldest_segment_and_counts_it() {
    let dir = tempfile::tempdir().unwrap();
    let rec = Entry::framed_len(payload(0).len());
    let c = QueueConfig {
        max_bytes: 1000,
        segment_bytes: 250,
        ..cfg(dir.path())
    };
    let (mut q, _) = Queue::open(c).unwrap();
    for i in 0..100 {
        q.push(1, &payload(i)).unwrap();
        assert!(q.stats().disk_bytes <= 1000, "bounded after push {i}");
    }
    let s = q.stats();
    assert!(s.dropped_full_records > 0);
    assert_eq!(s.dropped_full_bytes, s.dropped_full_records * rec);
    assert_eq!(s.pending_records + s.dropped_full_records, 100);
    // What is left is the newest data, in order, ending with the last push.
    let got = drain(&mut q, |_| true);
    assert_eq!(got.len() as u64, s.pending_records);
    let first = 100 - got.len() as u32;
    assert_eq!(got, (first..100).map(payload).collect::<Vec<_>>());
}

#[test]
fn full_queue_ignores_acks_for_records_of_a_dropped_segment() {
    let dir = tempfile::tempdir().unwrap();
    let c = QueueConfig {
        max_bytes: 1000,
        segment_bytes: 250,
        ..cfg(dir.path())
    };
    let (mut q, _) = Queue::open(c).unwrap();
    q.push(1, &payload(0)).unwrap();
    let in_flight = q.next_record().unwrap().unwrap();
    for i in 1..60 {
        q.push(1, &payload(i)).unwrap();
    }
    assert!(!q.ack(in_flight.pos), "its segment was dropped");
    let got = drain(&mut q, |_| true);
    assert_eq!(got.last(), Some(&payload(59)));
    assert_eq!(q.stats().pending_records, 0);
}

#[test]
fn record_bigger_than_the_queue_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let c = QueueConfig {
        max_bytes: 1000,
        ..cfg(dir.path())
    };
    let (mut q, _) = Queue::open(c).unwrap();
    assert!(matches!(
        q.push(1, &[0u8; 1000]),
        Err(QueueError::RecordTooLarge { got: 1000, .. })
    ));
    assert_eq!(q.stats().pending_records, 0);
}

#[test]
fn outstanding_window_bounds_what_is_handed_out() {
    let dir = tempfile::tempdir().unwrap();
    let c = QueueConfig {
        max_outstanding: 3,
        ..cfg(dir.path())
    };
    let (mut q, _) = Queue::open(c).unwrap();
    for i in 0..6 {
        q.push(1, &payload(i)).unwrap();
    }
    let a: Vec<Record> = std::iter::from_fn(|| q.next_record().unwrap()).collect();
    assert_eq!(a.len(), 3);
    // Acking the second does not free the window: the first still holds the watermark.
    q.ack(a[1].pos);
    assert!(q.next_record().unwrap().is_none());
    q.ack(a[0].pos);
    assert_eq!(
        q.next_record().unwrap().map(|r| r.entry.payload),
        Some(payload(3))
    );
    assert_eq!(q.stats().in_flight, 2);
}

#[test]
fn second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_q, _) = Queue::open(cfg(dir.path())).unwrap();
    assert!(matches!(
        Queue::open(cfg(dir.path())),
        Err(QueueError::Locked { .. })
    ));
}

#[test]
fn unknown_record_type_is_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let seg;
    {
        let (mut q, _) = Queue::open(cfg(dir.path())).unwrap();
        q.push(1, &payload(0)).unwrap();
        seg = q.writer.segment;
    }
    // Append a frame of type 9 (from a newer build), then a normal entry.
    let path = dir.path().join(segment_name(seg));
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    let body = b"future";
    let crc = crc32c::crc32c_append(crc32c::crc32c(&[9]), body);
    let mut frame = (body.len() as u32).to_le_bytes().to_vec();
    frame.extend_from_slice(&crc.to_le_bytes());
    frame.push(9);
    frame.extend_from_slice(body);
    Entry {
        shard_key: 1,
        appended_ms: 0,
        payload: payload(1),
    }
    .encode_into(&mut frame);
    f.write_all(&frame).unwrap();
    drop(f);
    let (mut q, report) = Queue::open(cfg(dir.path())).unwrap();
    assert_eq!(report.pending_records, 3);
    assert_eq!(drain(&mut q, |_| true), vec![payload(0), payload(1)]);
    assert_eq!(q.stats().skipped_unknown_records, 1);
    assert_eq!(q.stats().pending_records, 0);
}

#[test]
fn leftover_temporary_files_are_removed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ack.tmp"), b"half").unwrap();
    let _ = Queue::open(cfg(dir.path())).unwrap();
    assert!(!dir.path().join("ack.tmp").exists());
}

#[test]
fn failed_write_is_an_error_and_later_pushes_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    // Only segment writes tear, as before the fake moved to orrery-segment: the ack
    // file's atomic replace keeps writing.
    let fs = FaultyFs::budget_new_files_only();
    {
        let (mut q, _) = Queue::open_with(fs.clone(), cfg(dir.path())).unwrap();
        q.push(1, &payload(0)).unwrap();
        // The next write gets 10 bytes onto disk, then fails.
        fs.fail_writes_after(10);
        assert!(matches!(
            q.push(1, &payload(1)),
            Err(QueueError::Io { op: "write", .. })
        ));
        fs.heal_writes();
        q.push(1, &payload(2)).unwrap();
        assert_eq!(q.stats().pending_records, 2);
        assert_eq!(drain(&mut q, |_| false), vec![payload(0), payload(2)]);
    }
    let (mut q, report) = Queue::open_with(fs, cfg(dir.path())).unwrap();
    assert!(report.corruptions.is_empty(), "{:?}", report.corruptions);
    assert_eq!(drain(&mut q, |_| true), vec![payload(0), payload(2)]);
}

#[test]
fn torn_write_left_on_disk_is_truncated_at_next_open() {
    let dir = tempfile::tempdir().unwrap();
    // Only segment writes tear, as before the fake moved to orrery-segment: the ack
    // file's atomic replace keeps writing.
    let fs = FaultyFs::budget_new_files_only();
    {
        let (mut q, _) = Queue::open_with(fs.clone(), cfg(dir.path())).unwrap();
        q.push(1, &payload(0)).unwrap();
        fs.fail_writes_after(12);
        // Simulate a crash right after the torn write: the cleanup (set_len) is
        // skipped by leaking the queue's state, so the torn bytes stay on disk.
        let _ = q.push(1, &payload(1));
        let seg = q.writer.segment;
        let path = dir.path().join(segment_name(seg));
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(&[0xAB; 12]).unwrap();
    }
    fs.heal_writes();
    let (mut q, report) = Queue::open_with(fs, cfg(dir.path())).unwrap();
    assert_eq!(report.corruptions.len(), 1);
    assert_eq!(drain(&mut q, |_| true), vec![payload(0)]);
}

/// Format freeze: a segment and an ack file written now must equal, byte for byte, the
/// version-1 files committed under `testdata/queue_v1/` (written by the queue before
/// its framing moved to `orrery-segment`), and a queue opened on those files must hand
/// out what they hold. If this fails, the format changed: bump the version, keep
/// reading version 1, update docs/formats/queue.md and add new golden files.
#[test]
fn golden_v1_segment_and_ack_bytes_are_unchanged() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/queue_v1");
    let entries: Vec<Entry> = [b"first".to_vec(), Vec::new(), vec![0xAB; 40]]
        .into_iter()
        .enumerate()
        .map(|(i, payload)| Entry {
            shard_key: i as u64 * 7,
            appended_ms: 1_700_000_000_000 + i as i64,
            payload,
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut q, _) = Queue::open(cfg(dir.path())).unwrap();
        for e in &entries {
            q.push_entry(e).unwrap();
        }
        // Ack the second only: the ack file then holds a watermark and one position.
        let _first = q.next_record().unwrap().unwrap();
        let second = q.next_record().unwrap().unwrap();
        assert!(q.ack(second.pos));
        q.checkpoint().unwrap();
        q.sync().unwrap();
    }
    let names = [segment_name(1), ACK_FILE.to_string()];
    if std::env::var_os("ORRERY_WRITE_GOLDEN").is_some() {
        std::fs::create_dir_all(&golden).unwrap();
        for name in &names {
            std::fs::copy(dir.path().join(name), golden.join(name)).unwrap();
        }
    }
    let replay = tempfile::tempdir().unwrap();
    for name in &names {
        let got = std::fs::read(dir.path().join(name)).unwrap();
        let want = std::fs::read(golden.join(name)).expect("testdata/queue_v1 is committed");
        assert_eq!(got, want, "the queue's bytes changed in {name}");
        std::fs::write(replay.path().join(name), &want).unwrap();
    }
    let (mut q, report) = Queue::open(cfg(replay.path())).unwrap();
    assert!(report.corruptions.is_empty(), "{:?}", report.corruptions);
    let got: Vec<Entry> = std::iter::from_fn(|| q.next_record().unwrap())
        .map(|r| r.entry)
        .collect();
    assert_eq!(got, vec![entries[0].clone(), entries[2].clone()]);
}
