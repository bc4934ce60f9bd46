//! Opening a queue is its recovery: take the lock, clear what a crash left (`*.tmp`),
//! read the ack checkpoint, delete acknowledged segments, verify every remaining record,
//! truncate a torn tail, and start a new segment for writing (`docs/formats/queue.md`,
//! Write & recovery). Damage is reported in the [`OpenReport`] and never fails the open;
//! only a newer format version or an I/O failure does.

use super::checkpoint::AckCheckpoint;
use super::filenames::{parse_segment_name, segment_name, ACK_FILE, LOCK_FILE, TMP_SUFFIX};
use super::segment::{check_header, read_frame, read_full, Frame};
use super::{
    create_segment, Entry, Fs, OpenReport, Outstanding, Pos, Queue, QueueConfig, QueueError,
    QueueFile, QueueStats, RealFs, SegMeta, FILE_HEADER_LEN, SEGMENT_MAGIC, TYPE_ENTRY,
};
use orrery_segment::DirLock;
use std::collections::BTreeMap;
use std::io::{BufReader, Seek, SeekFrom};
use std::sync::{Arc, Mutex};

impl Queue<RealFs> {
    /// Opens (or creates) a queue on the real filesystem.
    pub fn open(cfg: QueueConfig) -> Result<(Self, OpenReport), QueueError> {
        Queue::open_with(RealFs, cfg)
    }
}

impl<F: Fs> Queue<F> {
    /// Opens (or creates) a queue through `fs`: removes temporary files, reads the ack
    /// checkpoint, deletes acknowledged segments, verifies every remaining record,
    /// truncates a torn tail, and starts a new segment for writing.
    pub fn open_with(fs: F, cfg: QueueConfig) -> Result<(Self, OpenReport), QueueError> {
        let fs = Arc::new(fs);
        let dir = cfg.dir.clone();
        fs.create_dir_all(&dir)
            .map_err(|e| QueueError::io("create dir", &dir, e))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = DirLock::acquire(&*fs, &lock_path)?;
        let mut report = OpenReport::default();
        let mut seg_numbers = Vec::new();
        for name in fs
            .list(&dir)
            .map_err(|e| QueueError::io("read dir", &dir, e))?
        {
            let path = dir.join(&name);
            if name.ends_with(TMP_SUFFIX) {
                fs.remove(&path)
                    .map_err(|e| QueueError::io("remove", &path, e))?;
            } else if let Some(n) = parse_segment_name(&name) {
                seg_numbers.push(n);
            }
        }
        seg_numbers.sort_unstable();

        let ack_path = dir.join(ACK_FILE);
        let ack = match fs.read(&ack_path) {
            Ok(bytes) => match AckCheckpoint::decode(&ack_path, &bytes) {
                Ok(a) => a,
                Err(e @ QueueError::UnsupportedVersion { .. }) => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, "Unreadable queue ack checkpoint; re-reading from the oldest segment.");
                    report.checkpoint_reset = Some(e);
                    AckCheckpoint::default()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => AckCheckpoint::default(),
            Err(e) => return Err(QueueError::io("read", &ack_path, e)),
        };
        let watermark = ack.watermark;
        let acked_before: std::collections::BTreeSet<Pos> = ack.acked.into_iter().collect();

        let mut segments = BTreeMap::new();
        let mut outstanding = BTreeMap::new();
        let mut stats = QueueStats::default();
        let last = seg_numbers.last().copied();
        for &n in &seg_numbers {
            let path = dir.join(segment_name(n));
            if n < watermark.segment {
                fs.remove(&path)
                    .map_err(|e| QueueError::io("remove", &path, e))?;
                continue;
            }
            let is_last = Some(n) == last;
            let file_len = fs
                .len(&path)
                .map_err(|e| QueueError::io("stat", &path, e))?;
            let file = fs
                .open_read(&path)
                .map_err(|e| QueueError::io("open", &path, e))?;
            let mut r = BufReader::with_capacity(1 << 16, file);
            let mut header = [0u8; FILE_HEADER_LEN as usize];
            let got =
                read_full(&mut r, &mut header).map_err(|e| QueueError::io("read", &path, e))?;
            match check_header(&path, SEGMENT_MAGIC, &header[..got]) {
                Ok(()) => {}
                Err(e @ QueueError::UnsupportedVersion { .. }) => return Err(e),
                Err(e) => {
                    // A segment whose header is damaged (or was torn while it was being
                    // created) holds nothing we can trust: report it and remove it.
                    tracing::warn!(error = %e, "Removing queue segment with a damaged header.");
                    report.corrupt_bytes += file_len;
                    report.corruptions.push(e);
                    drop(r);
                    fs.remove(&path)
                        .map_err(|e| QueueError::io("remove", &path, e))?;
                    continue;
                }
            }
            let mut meta = SegMeta {
                len: file_len,
                file_len,
                unacked_records: 0,
                unacked_bytes: 0,
            };
            let mut offset = FILE_HEADER_LEN;
            if n == watermark.segment && watermark.offset > offset {
                // Everything before the watermark is acknowledged; skip it unread.
                offset = watermark.offset.min(file_len);
                r.seek(SeekFrom::Start(offset))
                    .map_err(|e| QueueError::io("seek", &path, e))?;
            }
            loop {
                match read_frame(&mut r, &path, offset, file_len)? {
                    Frame::End => break,
                    Frame::Record {
                        typ,
                        body,
                        framed_len,
                    } => {
                        let pos = Pos { segment: n, offset };
                        if acked_before.contains(&pos) {
                            let appended_ms = if typ == TYPE_ENTRY {
                                Entry::decode(&path, offset, body).map_or(0, |e| e.appended_ms)
                            } else {
                                0
                            };
                            outstanding.insert(
                                pos,
                                Outstanding {
                                    acked: true,
                                    framed: framed_len,
                                    appended_ms,
                                },
                            );
                        } else {
                            meta.unacked_records += 1;
                            meta.unacked_bytes += framed_len;
                        }
                        offset += framed_len;
                    }
                    Frame::Corrupt(e) => {
                        let lost = file_len - offset;
                        report.corrupt_bytes += lost;
                        meta.len = offset;
                        if is_last {
                            tracing::warn!(error = %e, lost_bytes = lost, "Truncating torn queue tail.");
                            let f = fs
                                .open_write(&path)
                                .map_err(|e| QueueError::io("open", &path, e))?;
                            f.set_len(offset)
                                .map_err(|e| QueueError::io("truncate", &path, e))?;
                            f.sync_data()
                                .map_err(|e| QueueError::io("fsync", &path, e))?;
                            meta.file_len = offset;
                        } else {
                            tracing::error!(error = %e, lost_bytes = lost, "Damaged queue segment; skipping its remainder.");
                        }
                        report.corruptions.push(e);
                        break;
                    }
                }
            }
            stats.pending_records += meta.unacked_records;
            stats.pending_bytes += meta.unacked_bytes;
            segments.insert(n, meta);
        }
        stats.dropped_corrupt_bytes = report.corrupt_bytes;

        let next = segments
            .keys()
            .next_back()
            .copied()
            .unwrap_or(0)
            .max(watermark.segment)
            .max(last.unwrap_or(0))
            + 1;
        let read_pos = match segments.keys().next() {
            Some(&first) if first == watermark.segment => Pos {
                segment: first,
                offset: watermark.offset.max(FILE_HEADER_LEN),
            },
            Some(&first) => Pos {
                segment: first,
                offset: FILE_HEADER_LEN,
            },
            None => Pos {
                segment: next,
                offset: FILE_HEADER_LEN,
            },
        };
        let writer = create_segment(&*fs, &dir, next)?;
        segments.insert(next, SegMeta::empty());
        let total_bytes = segments.values().map(|m| m.file_len).sum();
        report.segments = segments.len();
        report.pending_records = stats.pending_records;
        let segment_bytes = cfg
            .segment_bytes
            .min(cfg.max_bytes / 4)
            .max(FILE_HEADER_LEN + 1);
        let q = Queue {
            fs,
            segment_bytes,
            cfg,
            segments,
            writer,
            reader: None,
            read_pos,
            outstanding,
            handed: 0,
            handed_bytes: 0,
            dirty: true,
            generation: 0,
            checkpoint_io: Arc::new(Mutex::new(0)),
            total_bytes,
            stats,
            _lock: lock,
        };
        Ok((q, report))
    }
}
