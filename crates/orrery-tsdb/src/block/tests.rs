//! Behaviour tests for block writing, opening, querying and corruption handling.

use super::chunks::{
    CHUNKS_HEADER_SIZE, CHUNKS_MAGIC, CHUNKS_VERSION, CHUNK_RECORD_OVERHEAD, ENCODING_PCO,
};
use super::index::{
    INDEX_HEADER_SIZE, INDEX_MAGIC, INDEX_TOC_SIZE, INDEX_VERSION, SECTION_OVERHEAD,
};
use super::*;
use orrery_model::{MatchOp, STALE_NAN};
use std::path::Path;

const MIN: i64 = 1_000_000;
const MAX: i64 = MIN + 7_200_000;

fn ls(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

fn samples(n: usize, start: i64, step: i64, v0: f64) -> Vec<Sample> {
    (0..n)
        .map(|i| Sample::new(start + i as i64 * step, v0 + i as f64))
        .collect()
}

/// A small block's worth of series, sorted by labels.
fn fixture() -> Vec<(Labels, Vec<Sample>)> {
    let mut v = vec![
        (
            ls(&[("__name__", "up"), ("job", "api"), ("instance", "a:1")]),
            samples(480, MIN, 15_000, 1.0),
        ),
        (
            ls(&[("__name__", "up"), ("job", "api"), ("instance", "b:1")]),
            samples(10, MIN + 60_000, 15_000, 0.0),
        ),
        (
            ls(&[("__name__", "up"), ("job", "db"), ("instance", "c:1")]),
            vec![Sample::new(MIN + 5, STALE_NAN)],
        ),
        (
            ls(&[
                ("__name__", "http_requests_total"),
                ("job", "api"),
                ("code", "200"),
            ]),
            samples(4000, MIN, 1_000, 100.0),
        ),
        (
            ls(&[
                ("__name__", "http_requests_total"),
                ("job", "api"),
                ("code", "500"),
            ]),
            samples(3, MAX - 3, 1, -1.0),
        ),
        (
            ls(&[("__name__", "http_requests_total"), ("job", "db")]),
            samples(5, MIN + 1_000_000, 1000, 7.0),
        ),
        (ls(&[("__name__", "empty_series")]), vec![]),
    ];
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn write(dir: &Path, series: Vec<(Labels, Vec<Sample>)>) -> Result<Option<BlockMeta>> {
    write_block(dir, MIN, MAX, 1, vec![], series.into_iter().map(Ok))
}

fn write_fixture(dir: &Path) -> Block {
    let meta = write(dir, fixture()).unwrap().unwrap();
    Block::open(&dir.join(&meta.ulid)).unwrap()
}

fn m(op: MatchOp, n: &str, v: &str) -> Matcher {
    Matcher::new(op, n, v).unwrap()
}

fn names_of(b: &Block, ms: &[Matcher]) -> Vec<String> {
    b.select(i64::MIN, i64::MAX, ms)
        .unwrap()
        .into_iter()
        .map(|s| s.labels.to_string())
        .collect()
}

/// What a select should return, computed naively from the fixture.
fn expected(ms: &[Matcher], mint: i64, maxt: i64) -> Vec<Series> {
    fixture()
        .into_iter()
        .filter(|(l, _)| ms.iter().all(|m| m.matches(l.get(&m.name).unwrap_or(""))))
        .map(|(labels, s)| Series {
            labels,
            samples: s
                .into_iter()
                .filter(|s| s.t >= mint && s.t <= maxt)
                .collect(),
        })
        .filter(|s| !s.samples.is_empty())
        .collect()
}

fn assert_same(got: &[Series], want: &[Series]) {
    assert_eq!(
        got.iter().map(|s| &s.labels).collect::<Vec<_>>(),
        want.iter().map(|s| &s.labels).collect::<Vec<_>>()
    );
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.samples.len(), w.samples.len(), "{}", g.labels);
        assert!(
            g.samples.iter().zip(&w.samples).all(|(a, b)| a.bit_eq(b)),
            "{}",
            g.labels
        );
    }
}

#[test]
fn written_block_reopens_with_every_series_and_sample() {
    let d = tempfile::tempdir().unwrap();
    let b = write_fixture(d.path());
    let want: Vec<_> = fixture()
        .into_iter()
        .filter(|(_, s)| !s.is_empty())
        .collect();
    let got: Vec<_> = b.iter_series().collect::<Result<_>>().unwrap();
    assert_eq!(got.len(), want.len());
    for ((gl, gs), (wl, ws)) in got.iter().zip(&want) {
        assert_eq!(gl, wl);
        assert!(
            gs.len() == ws.len() && gs.iter().zip(ws).all(|(a, b)| a.bit_eq(b)),
            "{gl}"
        );
    }
    let m = b.meta();
    assert_eq!(m.stats.num_series, 6);
    assert_eq!(m.stats.num_samples, 480 + 10 + 1 + 4000 + 3 + 5);
    // 4000 samples split into 3 chunks of at most MAX_CHUNK_SAMPLES; others 1 each.
    assert_eq!(m.stats.num_chunks, 3 + 5);
    assert_eq!(
        (m.min_time, m.max_time, m.compaction_level, m.version),
        (MIN, MAX, 1, BLOCK_VERSION)
    );
    assert_eq!(b.dir(), d.path().join(&m.ulid));
    let on_disk: u64 = std::fs::read_dir(b.dir())
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert_eq!(b.size_bytes(), on_disk);
    // No temporary directory is left behind.
    let entries: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, [std::ffi::OsString::from(&m.ulid)]);
}

#[test]
fn select_follows_prometheus_matcher_semantics() {
    use MatchOp::*;
    let d = tempfile::tempdir().unwrap();
    let b = write_fixture(d.path());
    let cases: Vec<Vec<Matcher>> = vec![
        vec![m(Equal, "__name__", "up")],
        vec![m(Equal, "__name__", "up"), m(Equal, "job", "api")],
        vec![m(Equal, "__name__", "nope")],
        vec![m(NotEqual, "job", "api")],
        vec![m(NotEqual, "job", "api"), m(Equal, "__name__", "up")],
        vec![m(Regex, "job", "api|db")],
        vec![m(Regex, "job", "a.*")],
        vec![m(Regex, "instance", ".+")],
        vec![m(Regex, "instance", ".*")],
        vec![m(NotRegex, "instance", ".+")],
        vec![m(NotRegex, "job", "a.*"), m(Regex, "__name__", ".+")],
        // Matchers that accept the empty string also select series without the label.
        vec![m(Equal, "code", "")],
        vec![m(Equal, "code", ""), m(Equal, "job", "api")],
        vec![m(Regex, "code", "500|")],
        vec![m(Regex, "code", "5.*|"), m(Equal, "job", "api")],
        vec![m(NotEqual, "code", "200")],
        vec![m(NotEqual, "code", "")],
        vec![m(Regex, "code", "500|"), m(NotEqual, "code", "")],
        vec![m(Equal, "code", ""), m(Equal, "code", "200")],
        vec![m(NotRegex, "nonexistent", "x")],
        vec![m(Equal, "nonexistent", "")],
    ];
    for ms in &cases {
        for (mint, maxt) in [
            (i64::MIN, i64::MAX),
            (MIN + 60_000, MIN + 120_000),
            (MAX - 2, MAX),
            (MAX, i64::MAX),
        ] {
            let got = b.select(mint, maxt, ms).unwrap();
            assert_same(&got, &expected(ms, mint, maxt));
            let labels = b.series(mint, maxt, ms).unwrap();
            let want: Vec<Labels> = expected(ms, mint, maxt)
                .into_iter()
                .map(|s| s.labels)
                .collect();
            assert_eq!(labels, want, "{ms:?} [{mint}, {maxt}]");
        }
    }
    assert_eq!(
        names_of(&b, &[m(Equal, "job", "db")]),
        [
            r#"http_requests_total{job="db"}"#,
            r#"up{instance="c:1", job="db"}"#
        ]
    );
}

#[test]
fn label_names_and_values_respect_matchers() {
    use MatchOp::*;
    let d = tempfile::tempdir().unwrap();
    let b = write_fixture(d.path());
    assert_eq!(
        b.label_names(&[]).unwrap(),
        ["__name__", "code", "instance", "job"]
    );
    assert_eq!(
        b.label_names(&[m(Equal, "__name__", "up")]).unwrap(),
        ["__name__", "instance", "job"]
    );
    assert_eq!(b.label_values("job", &[]).unwrap(), ["api", "db"]);
    assert_eq!(
        b.label_values("code", &[m(Equal, "job", "api")]).unwrap(),
        ["200", "500"]
    );
    assert_eq!(
        b.label_values("instance", &[m(NotEqual, "job", "api")])
            .unwrap(),
        ["c:1"]
    );
    assert!(b.label_values("nope", &[]).unwrap().is_empty());
    assert!(b
        .label_values("nope", &[m(Equal, "job", "api")])
        .unwrap()
        .is_empty());
}

#[test]
fn series_lookup_uses_chunk_ranges_without_reading_chunks() {
    let d = tempfile::tempdir().unwrap();
    let b = write_fixture(d.path());
    let dir = b.dir().to_path_buf();
    drop(b);
    // Destroy every chunk record; the index is intact.
    let p = dir.join(BLOCK_CHUNKS);
    let mut bytes = std::fs::read(&p).unwrap();
    for x in bytes.iter_mut().skip(CHUNKS_HEADER_SIZE) {
        *x ^= 0x55;
    }
    std::fs::write(&p, bytes).unwrap();
    let b = Block::open(&dir).unwrap();
    let got = b
        .series(MAX - 3, MAX, &[m(MatchOp::Equal, "job", "api")])
        .unwrap();
    assert_eq!(
        got,
        [ls(&[
            ("__name__", "http_requests_total"),
            ("job", "api"),
            ("code", "500")
        ])]
    );
    assert!(b
        .select(MAX - 3, MAX, &[m(MatchOp::Equal, "job", "api")])
        .is_err());
}

#[test]
fn select_reads_only_chunks_overlapping_the_range() {
    let d = tempfile::tempdir().unwrap();
    let meta = write(
        d.path(),
        vec![(ls(&[("a", "b")]), samples(5000, MIN, 1000, 0.0))],
    )
    .unwrap()
    .unwrap();
    assert_eq!(meta.stats.num_chunks, 3);
    let dir = d.path().join(&meta.ulid);
    // Break the first chunk's data; a query on the last third must not notice.
    let p = dir.join(BLOCK_CHUNKS);
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[CHUNKS_HEADER_SIZE + 10] ^= 0xff;
    std::fs::write(&p, bytes).unwrap();
    let b = Block::open(&dir).unwrap();
    let s = b
        .select(MIN + 4_000_000, i64::MAX, &[m(MatchOp::Equal, "a", "b")])
        .unwrap();
    assert_eq!(s[0].samples.len(), 1000);
    let e = b
        .select(MIN, MIN, &[m(MatchOp::Equal, "a", "b")])
        .unwrap_err();
    assert!(
        matches!(&e, TsdbError::Corruption { path, offset, .. } if path.ends_with(BLOCK_CHUNKS) && *offset == CHUNKS_HEADER_SIZE as u64),
        "{e}"
    );
}

#[test]
fn every_flipped_index_byte_fails_open_with_corruption_in_index() {
    let d = tempfile::tempdir().unwrap();
    let dir = write_fixture(d.path()).dir().to_path_buf();
    let p = dir.join(BLOCK_INDEX);
    let good = std::fs::read(&p).unwrap();
    for i in 0..good.len() {
        let mut b = good.clone();
        b[i] ^= 0x01;
        std::fs::write(&p, &b).unwrap();
        match Block::open(&dir) {
            Err(TsdbError::Corruption { path, offset, .. }) => {
                assert!(path.ends_with(BLOCK_INDEX), "byte {i}: {path:?}");
                assert!(offset <= good.len() as u64, "byte {i}: offset {offset}");
            }
            other => panic!("byte {i} flipped: got {other:?}"),
        }
    }
    std::fs::write(&p, &good).unwrap();
    assert!(Block::open(&dir).is_ok());
}

#[test]
fn flipped_chunk_byte_fails_select_with_file_and_record_offset() {
    let d = tempfile::tempdir().unwrap();
    let meta = write(
        d.path(),
        vec![
            (ls(&[("a", "b")]), samples(100, MIN, 1000, 0.0)),
            (ls(&[("a", "c")]), samples(100, MIN, 1000, 5.0)),
        ],
    )
    .unwrap()
    .unwrap();
    let dir = d.path().join(&meta.ulid);
    let p = dir.join(BLOCK_CHUNKS);
    let good = std::fs::read(&p).unwrap();
    let second = Block::open(&dir).unwrap().index.series(1).unwrap().chunks[0].offset;
    for i in CHUNKS_HEADER_SIZE..good.len() {
        let mut b = good.clone();
        b[i] ^= 0x10;
        std::fs::write(&p, &b).unwrap();
        let blk = Block::open(&dir).unwrap();
        let want_off = if (i as u64) < second {
            CHUNKS_HEADER_SIZE as u64
        } else {
            second
        };
        match blk.select(MIN, MAX, &[m(MatchOp::Regex, "a", ".+")]) {
            Err(TsdbError::Corruption { path, offset, .. }) => {
                assert!(path.ends_with(BLOCK_CHUNKS));
                assert_eq!(offset, want_off, "byte {i}");
            }
            other => panic!("byte {i}: got {other:?}"),
        }
    }
    // A damaged header is found at open.
    let mut b = good.clone();
    b[0] ^= 1;
    std::fs::write(&p, &b).unwrap();
    assert!(matches!(
        Block::open(&dir),
        Err(TsdbError::Corruption { offset: 0, .. })
    ));
}

#[test]
fn truncated_files_fail_open_with_corruption() {
    let d = tempfile::tempdir().unwrap();
    let dir = write_fixture(d.path()).dir().to_path_buf();
    for name in [BLOCK_INDEX, BLOCK_CHUNKS] {
        let p = dir.join(name);
        let good = std::fs::read(&p).unwrap();
        for keep in [0, 3, 5, 40, good.len() / 2, good.len() - 1] {
            std::fs::write(&p, &good[..keep]).unwrap();
            let r = Block::open(&dir);
            assert!(
                matches!(r, Err(TsdbError::Corruption { .. })),
                "{name} cut to {keep}: {r:?}"
            );
        }
        std::fs::write(&p, &good).unwrap();
    }
    // Extra bytes after the last chunk are refused too (the index says where it ends).
    let p = dir.join(BLOCK_CHUNKS);
    let mut long = std::fs::read(&p).unwrap();
    long.push(0);
    std::fs::write(&p, &long).unwrap();
    assert!(matches!(
        Block::open(&dir),
        Err(TsdbError::Corruption { .. })
    ));
}

#[test]
fn damaged_meta_fails_open_with_corruption_in_meta() {
    let d = tempfile::tempdir().unwrap();
    let dir = write_fixture(d.path()).dir().to_path_buf();
    let p = dir.join(BLOCK_META);
    let good = std::fs::read_to_string(&p).unwrap();
    for bad in [
        good.replace("\"numSeries\": 6", "\"numSeries\": 7"),
        good.replace('{', "["),
        good[..good.len() / 2].to_string(),
    ] {
        std::fs::write(&p, bad).unwrap();
        let r = Block::open(&dir);
        assert!(
            matches!(&r, Err(TsdbError::Corruption { path, .. }) if path.ends_with(BLOCK_META)),
            "{r:?}"
        );
    }
}

#[test]
fn write_block_rejects_unsorted_or_duplicate_series_and_leaves_nothing() {
    let d = tempfile::tempdir().unwrap();
    let s = samples(3, MIN, 1000, 0.0);
    let bad_inputs = vec![
        vec![
            (ls(&[("a", "2")]), s.clone()),
            (ls(&[("a", "1")]), s.clone()),
        ],
        vec![
            (ls(&[("a", "1")]), s.clone()),
            (ls(&[("a", "1")]), s.clone()),
        ],
        vec![(
            ls(&[("a", "1")]),
            vec![Sample::new(MIN + 5, 1.0), Sample::new(MIN + 5, 2.0)],
        )],
        vec![(
            ls(&[("a", "1")]),
            vec![Sample::new(MIN + 5, 1.0), Sample::new(MIN + 4, 2.0)],
        )],
        vec![(ls(&[("a", "1")]), vec![Sample::new(MAX, 1.0)])],
        vec![(ls(&[("a", "1")]), vec![Sample::new(MIN - 1, 1.0)])],
        vec![(Labels::empty(), s.clone())],
    ];
    for input in bad_inputs {
        let r = write(d.path(), input.clone());
        assert!(matches!(r, Err(TsdbError::Bug(_))), "{input:?}: {r:?}");
    }
    // An error from the input iterator is passed through.
    let r = write_block(
        d.path(),
        MIN,
        MAX,
        1,
        vec![],
        [Err(TsdbError::Decode("boom".into()))].into_iter(),
    );
    assert!(matches!(r, Err(TsdbError::Decode(_))));
    assert_eq!(
        std::fs::read_dir(d.path()).unwrap().count(),
        0,
        "temporary directories left behind"
    );
}

#[test]
fn write_block_without_samples_returns_none_and_leaves_nothing() {
    let d = tempfile::tempdir().unwrap();
    assert!(write(d.path(), vec![]).unwrap().is_none());
    assert!(write(d.path(), vec![(ls(&[("a", "1")]), vec![])])
        .unwrap()
        .is_none());
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
}

#[test]
fn compaction_lineage_is_kept_in_meta() {
    let d = tempfile::tempdir().unwrap();
    let srcs = vec![new_ulid(), new_ulid()];
    let meta = write_block(
        d.path(),
        MIN,
        MAX,
        2,
        srcs.clone(),
        fixture().into_iter().map(Ok),
    )
    .unwrap()
    .unwrap();
    let b = Block::open(&d.path().join(&meta.ulid)).unwrap();
    assert_eq!(b.meta().sources, srcs);
    assert_eq!(b.meta().compaction_level, 2);
    assert_eq!(b.meta(), &meta);
}

#[test]
fn block_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Block>();
}

/// Format freeze: these constants are the on-disk format. If this test fails, the
/// format changed: bump the version, keep reading the old one, update
/// docs/formats/block.md and add a golden block under testdata/.
#[test]
fn format_constants_match_the_spec() {
    assert_eq!(&INDEX_MAGIC, b"ORIX");
    assert_eq!(&CHUNKS_MAGIC, b"ORCK");
    assert_eq!(INDEX_VERSION, 1);
    assert_eq!(CHUNKS_VERSION, 1);
    assert_eq!(BLOCK_VERSION, 1);
    assert_eq!(ENCODING_PCO, 1);
    assert_eq!(super::chunks::ENCODING_COLUMNS, 2);
    assert_eq!(INDEX_HEADER_SIZE, 5);
    assert_eq!(CHUNKS_HEADER_SIZE, 5);
    assert_eq!(INDEX_TOC_SIZE, 28);
    assert_eq!(SECTION_OVERHEAD, 8);
    assert_eq!(CHUNK_RECORD_OVERHEAD, 5);
    assert_eq!(chunks::header(), *b"ORCK\x01");
    let spec = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/formats/block.md"),
    )
    .expect("docs/formats/block.md exists");
    for needle in [
        "| index | `ORIX` | 1 |",
        "| chunks | `ORCK` | 1 |",
        "| meta.json | — | 1 |",
    ] {
        assert!(spec.contains(needle), "spec is missing the row {needle:?}");
    }
}

/// Directory of the checked-in version-1 block; the reader must open it forever.
fn golden_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/block_v1/01KAQ0000000000000000000G0")
}

fn golden_input() -> Vec<(Labels, Vec<Sample>)> {
    fixture()
}

#[test]
fn golden_v1_block_opens_and_reads_back_its_input() {
    let dir = golden_dir();
    if std::env::var_os("ORRERY_WRITE_GOLDEN").is_some() {
        // Regenerate (only when the format version changes, into a new directory).
        let tmp = tempfile::tempdir().unwrap();
        let meta = write(tmp.path(), golden_input()).unwrap().unwrap();
        let mut meta2 = meta.clone();
        meta2.ulid = dir.file_name().unwrap().to_string_lossy().into_owned();
        std::fs::create_dir_all(&dir).unwrap();
        for f in [BLOCK_INDEX, BLOCK_CHUNKS] {
            std::fs::copy(tmp.path().join(&meta.ulid).join(f), dir.join(f)).unwrap();
        }
        std::fs::write(dir.join(BLOCK_META), meta2.encode()).unwrap();
    }
    let b = Block::open(&dir).expect("golden block opens");
    let got: Vec<_> = b.iter_series().collect::<Result<_>>().unwrap();
    let want: Vec<_> = golden_input()
        .into_iter()
        .filter(|(_, s)| !s.is_empty())
        .collect();
    assert_eq!(got.len(), want.len());
    for ((gl, gs), (wl, ws)) in got.iter().zip(&want) {
        assert_eq!(gl, wl);
        assert!(gs.len() == ws.len() && gs.iter().zip(ws).all(|(a, b)| a.bit_eq(b)));
    }
}

#[test]
fn large_selections_read_in_spans_and_threads_match_a_naive_filter() {
    // Enough series for the parallel path, with one to three chunks each, some gaps
    // between wanted chunks (a middle series is not selected) and ranges that cut
    // chunks at both ends.
    let d = tempfile::tempdir().unwrap();
    let n = 3 * SELECT_PARALLEL_MIN_SERIES;
    let mut all: Vec<(Labels, Vec<Sample>)> = (0..n)
        .map(|i| {
            let labels = ls(&[("s", &format!("{i:04}")), ("odd", &(i % 7).to_string())]);
            (labels, samples(100 + (i * 37) % 5000, MIN, 1000, i as f64))
        })
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let meta = write(d.path(), all.clone()).unwrap().unwrap();
    let b = Block::open(&d.path().join(&meta.ulid)).unwrap();
    for (ms, mint, maxt) in [
        (vec![m(MatchOp::Regex, "s", ".+")], MIN, MAX),
        (
            vec![m(MatchOp::NotEqual, "odd", "3")],
            MIN + 1_234_567,
            MIN + 3_000_001,
        ),
        (vec![m(MatchOp::Regex, "s", ".+")], MIN + 150_000, i64::MAX),
    ] {
        let want: Vec<Series> = all
            .iter()
            .filter(|(l, _)| ms.iter().all(|m| m.matches(l.get(&m.name).unwrap_or(""))))
            .map(|(labels, s)| Series {
                labels: labels.clone(),
                samples: s
                    .iter()
                    .copied()
                    .filter(|s| s.t >= mint && s.t <= maxt)
                    .collect(),
            })
            .filter(|s| !s.samples.is_empty())
            .collect();
        assert!(want.len() >= SELECT_PARALLEL_MIN_SERIES);
        assert_same(&b.select(mint, maxt, &ms).unwrap(), &want);
    }
}
