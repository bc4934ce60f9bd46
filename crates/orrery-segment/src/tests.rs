//! Framing tests: golden bytes, every way a tail can be torn, the `end` bound, and the
//! atomic-replace and lock helpers on a real temporary directory.

use super::*;
use std::io::Cursor;

fn frames(records: &[(u8, &[u8])]) -> Vec<u8> {
    let mut b = file_header(*b"TEST", 1).to_vec();
    for (t, p) in records {
        encode_frame(&mut b, *t, p);
    }
    b
}

fn read_all(bytes: &[u8], end: Option<u64>) -> (Vec<(u8, Vec<u8>)>, Frame, u64) {
    let mut r = Cursor::new(bytes);
    r.set_position(FILE_HEADER_LEN as u64);
    let mut fr = FrameReader::new(r, FILE_HEADER_LEN as u64, 1 << 10);
    if let Some(end) = end {
        fr = fr.with_end(end);
    }
    let mut got = Vec::new();
    let mut body = Vec::new();
    loop {
        match fr.next_frame(&mut body).unwrap() {
            Frame::Record { typ, .. } => got.push((typ, body.clone())),
            other => return (got, other, fr.offset()),
        }
    }
}

#[test]
fn header_and_frame_bytes_are_golden() {
    // A failure here means every format built on this crate changed: see framing.md.
    assert_eq!(file_header(*b"ORWL", 1), *b"ORWL\x01\0\0\0");
    let mut b = Vec::new();
    encode_frame(&mut b, 2, b"abc");
    let mut want = 3u32.to_le_bytes().to_vec();
    want.extend_from_slice(&crc32c::crc32c(b"\x02abc").to_le_bytes());
    want.push(2);
    want.extend_from_slice(b"abc");
    assert_eq!(b, want);
    let mut parts = Vec::new();
    encode_frame_parts(&mut parts, 2, &[b"a", b"", b"bc"]);
    assert_eq!(parts, want);
    assert_eq!((FILE_HEADER_LEN, RECORD_HEADER_LEN), (8, 9));
    assert_eq!(MAX_PAYLOAD_LEN, 64 << 20);
}

#[test]
fn headers_are_checked_for_length_magic_and_version() {
    assert_eq!(check_header(b"TEST\x01\0\0\0", *b"TEST", 1), Ok(()));
    assert_eq!(
        check_header(b"TES", *b"TEST", 1),
        Err(HeaderError::Torn { got: 3 })
    );
    assert!(matches!(
        check_header(b"NOPE\x01\0\0\0", *b"TEST", 1),
        Err(HeaderError::BadMagic { .. })
    ));
    assert_eq!(
        check_header(b"TEST\x09\0\0\0", *b"TEST", 1),
        Err(HeaderError::UnsupportedVersion { got: 9, want: 1 })
    );
}

#[test]
fn frames_round_trip_and_end_cleanly() {
    let recs: Vec<(u8, &[u8])> = vec![(1, b""), (2, b"hello"), (255, &[7; 300])];
    let bytes = frames(&recs);
    let (got, end, offset) = read_all(&bytes, None);
    assert_eq!(end, Frame::End);
    assert_eq!(offset, bytes.len() as u64);
    assert_eq!(got.len(), 3);
    assert_eq!(got[2], (255, vec![7; 300]));
}

#[test]
fn every_cut_inside_the_last_frame_is_torn_at_its_offset() {
    let bytes = frames(&[(1, b"first"), (1, b"second record")]);
    let last = FILE_HEADER_LEN + RECORD_HEADER_LEN + 5;
    for cut in last + 1..bytes.len() {
        for end in [None, Some(cut as u64)] {
            let (got, e, offset) = read_all(&bytes[..cut], end);
            assert_eq!(got, vec![(1, b"first".to_vec())], "cut at {cut}");
            match e {
                Frame::Bad(e) => {
                    assert!(e.is_torn(), "cut at {cut}: {e}");
                    assert_eq!(e.offset(), last as u64);
                    assert_eq!(offset, last as u64);
                }
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
    }
}

#[test]
fn reading_stops_at_end_even_if_the_file_is_longer() {
    let bytes = frames(&[(1, b"counted"), (1, b"appended after")]);
    let first_end = (FILE_HEADER_LEN + RECORD_HEADER_LEN + 7) as u64;
    let (got, e, _) = read_all(&bytes, Some(first_end));
    assert_eq!(got.len(), 1);
    assert_eq!(e, Frame::End);
    // An `end` inside the second frame: that frame is torn as far as the caller knows.
    let (_, e, _) = read_all(&bytes, Some(first_end + 12));
    assert!(
        matches!(e, Frame::Bad(FrameError::TornRecord { got: 12, .. })),
        "{e:?}"
    );
}

#[test]
fn flipped_byte_and_absurd_length_are_damage_not_torn() {
    let mut bytes = frames(&[(1, b"one"), (1, b"two")]);
    let second = FILE_HEADER_LEN + RECORD_HEADER_LEN + 3;
    bytes[second + RECORD_HEADER_LEN + 1] ^= 0x40;
    let (got, e, _) = read_all(&bytes, None);
    assert_eq!(got.len(), 1);
    match e {
        Frame::Bad(e @ FrameError::Checksum { .. }) => {
            assert!(!e.is_torn());
            assert_eq!(e.offset(), second as u64);
            assert!(e.to_string().contains("checksum mismatch"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    let mut bytes = file_header(*b"TEST", 1).to_vec();
    bytes.extend_from_slice(&u32::MAX.to_le_bytes());
    bytes.extend_from_slice(&[0; 5]);
    let (_, e, _) = read_all(&bytes, None);
    assert!(
        matches!(e, Frame::Bad(FrameError::TooLong { offset: 8, .. })),
        "{e:?}"
    );
}

#[test]
fn write_atomic_replaces_the_file_and_leaves_no_tmp() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("file");
    write_atomic_bytes(&RealFs, &path, b"old").unwrap();
    write_atomic(&RealFs, &path, |w, _tmp| {
        std::io::Write::write_all(w, b"new").map_err(|e| FsError::io("write", "tmp", e))
    })
    .unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"new");
    assert!(!tmp_path(&path).exists());
    // A failing writer leaves the old file in place.
    let err = write_atomic(&RealFs, &path, |_, tmp| {
        Err::<(), _>(FsError::io("write", tmp, std::io::Error::other("boom")))
    });
    assert!(err.is_err());
    assert_eq!(std::fs::read(&path).unwrap(), b"new");
}

#[test]
fn a_held_dir_lock_refuses_a_second_holder_until_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("LOCK");
    let held = DirLock::acquire(&RealFs, &path).unwrap();
    assert_eq!(held.path(), path);
    assert!(matches!(
        DirLock::acquire(&RealFs, &path),
        Err(FsError::Locked { .. })
    ));
    drop(held);
    DirLock::acquire(&RealFs, &path).unwrap();
}
