//! Delivery tests against a small in-process remote-write receiver on 127.0.0.1:
//! retries, `Retry-After`, 4xx drops, outages and restarts (clean and crash-like).
//! Each record's body is a snappy-compressed protobuf with one length-delimited
//! field 1 holding `key:seq`, so merged requests decode to their records in order.

use super::*;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use tokio::net::TcpListener;

#[derive(Default)]
struct RxState {
    /// Answer the next `fail_next` requests with `fail_status`.
    fail_next: usize,
    fail_status: u16,
    retry_after: Option<&'static str>,
    /// Refuse (400) bodies containing a record with this text.
    reject: Option<String>,
    /// Accepted records in arrival order.
    received: Vec<String>,
    requests: usize,
    request_times: Vec<Instant>,
    header_errors: Vec<String>,
    delay: Duration,
}

type Rx = Arc<Mutex<RxState>>;

struct Receiver {
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Receiver {
    async fn start(listener: TcpListener, state: Rx) -> Receiver {
        let app = axum::Router::new()
            .route("/api/v1/write", axum::routing::post(write))
            .with_state(state.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Receiver {
            shutdown: Some(tx),
            task,
        }
    }

    async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.abort();
        let _ = self.task.await;
    }
}

async fn write(State(st): State<Rx>, headers: HeaderMap, body: Bytes) -> Response {
    let delay = st.lock().unwrap().delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut s = st.lock().unwrap();
    s.requests += 1;
    s.request_times.push(Instant::now());
    for (name, want) in [
        ("content-type", "application/x-protobuf"),
        ("content-encoding", "snappy"),
        ("x-prometheus-remote-write-version", "0.1.0"),
        ("user-agent", USER_AGENT),
        ("authorization", "Bearer sekret"),
    ] {
        let got = headers.get(name).and_then(|v| v.to_str().ok());
        if got != Some(want) {
            s.header_errors
                .push(format!("{name}: got {got:?}; want {want:?}"));
        }
    }
    if s.fail_next > 0 {
        s.fail_next -= 1;
        let status = StatusCode::from_u16(s.fail_status).unwrap();
        let mut h = HeaderMap::new();
        if let Some(ra) = s.retry_after {
            h.insert("retry-after", ra.parse().unwrap());
        }
        return (status, h, "try later").into_response();
    }
    let Some(records) = decode(&body) else {
        return (StatusCode::BAD_REQUEST, "bad snappy or protobuf").into_response();
    };
    if let Some(bad) = &s.reject {
        if records.iter().any(|r| r == bad) {
            return (StatusCode::BAD_REQUEST, format!("invalid series in {bad}")).into_response();
        }
    }
    s.received.extend(records);
    StatusCode::NO_CONTENT.into_response()
}

fn encode(key: u64, seq: u32) -> Vec<u8> {
    let text = format!("{key}:{seq}");
    let mut raw = vec![0x0a, text.len() as u8];
    raw.extend_from_slice(text.as_bytes());
    snap::raw::Encoder::new().compress_vec(&raw).unwrap()
}

fn decode(body: &[u8]) -> Option<Vec<String>> {
    let raw = snap::raw::Decoder::new().decompress_vec(body).ok()?;
    let mut out = Vec::new();
    let mut rest = &raw[..];
    while !rest.is_empty() {
        if rest.len() < 2 || rest[0] != 0x0a || rest.len() < 2 + rest[1] as usize {
            return None;
        }
        let n = rest[1] as usize;
        out.push(String::from_utf8(rest[2..2 + n].to_vec()).ok()?);
        rest = &rest[2 + n..];
    }
    Some(out)
}

fn config(addr: SocketAddr, dir: &std::path::Path) -> SenderConfig {
    SenderConfig {
        token: Some("sekret".into()),
        min_shards: 2,
        max_shards: 4,
        timeout: Duration::from_secs(2),
        min_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(100),
        sync_interval: Duration::from_millis(100),
        ack_sync_interval: Duration::from_millis(100),
        scale_interval: Duration::from_millis(200),
        scale_up_age: Duration::from_millis(100),
        shutdown_grace: Duration::from_secs(2),
        ..SenderConfig::new(format!("http://{addr}/api/v1/write"), dir)
    }
}

/// A free port with nothing listening on it (connection refused until bound again).
async fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(8);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every pushed (key, seq) was received exactly once, and in push order per key.
fn assert_exactly_once_in_order(received: &[String], pushed: &[(u64, u32)]) {
    let mut per_key: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
    for r in received {
        let (k, s) = r.split_once(':').unwrap();
        per_key
            .entry(k.parse().unwrap())
            .or_default()
            .push(s.parse().unwrap());
    }
    let mut want: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
    for (k, s) in pushed {
        want.entry(*k).or_default().push(*s);
    }
    assert_eq!(per_key, want, "per key: exactly once and in order");
}

fn push_all(d: &Delivery, keys: u64, per_key: u32, pushed: &mut Vec<(u64, u32)>, seq0: u32) {
    for seq in seq0..seq0 + per_key {
        for key in 0..keys {
            d.push(key, encode(key, seq)).unwrap();
            pushed.push((key, seq));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_503_then_delivers_every_record_once_in_order_per_key() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Rx::default();
    {
        let mut s = state.lock().unwrap();
        s.fail_next = 5;
        s.fail_status = 503;
    }
    let rx = Receiver::start(listener, state.clone()).await;
    let d = Delivery::start(config(addr, dir.path())).await.unwrap();
    let mut pushed = Vec::new();
    push_all(&d, 8, 25, &mut pushed, 0);
    wait_for("all records", || {
        state.lock().unwrap().received.len() >= pushed.len()
    })
    .await;
    wait_for("pending drained", || d.stats().pending_records == 0).await;
    let s = d.stats();
    assert_eq!(s.sent_records, 200);
    assert!(s.failed_requests >= 5 && s.retried_requests >= 5, "{s:?}");
    assert_eq!(s.dropped_4xx_records, 0);
    d.shutdown().await;
    {
        let st = state.lock().unwrap();
        assert!(st.header_errors.is_empty(), "{:?}", st.header_errors);
        assert_exactly_once_in_order(&st.received, &pushed);
    }
    rx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_on_429_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Rx::default();
    {
        let mut s = state.lock().unwrap();
        s.fail_next = 1;
        s.fail_status = 429;
        s.retry_after = Some("1");
    }
    let rx = Receiver::start(listener, state.clone()).await;
    let d = Delivery::start(config(addr, dir.path())).await.unwrap();
    d.push(1, encode(1, 0)).unwrap();
    wait_for("the record", || state.lock().unwrap().received.len() == 1).await;
    {
        let st = state.lock().unwrap();
        assert_eq!(st.requests, 2);
        let gap = st.request_times[1] - st.request_times[0];
        // Backoff alone would retry after at most 10 ms.
        assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
    }
    assert_eq!(d.stats().failed_requests, 1);
    d.shutdown().await;
    rx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_400_record_is_dropped_counted_and_later_records_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let addr = closed_port().await;
    let state = Rx::default();
    state.lock().unwrap().reject = Some("3:1".into());
    let mut cfg = config(addr, dir.path());
    cfg.min_shards = 1;
    cfg.max_shards = 1;
    let d = Delivery::start(cfg).await.unwrap();
    // Pushed while the receiver is down, so they are merged into one request when it
    // comes up; the 400 must then drop only the bad record.
    let mut pushed = Vec::new();
    for seq in 0..4 {
        d.push(3, encode(3, seq)).unwrap();
        if seq != 1 {
            pushed.push((3, seq));
        }
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let rx = Receiver::start(TcpListener::bind(addr).await.unwrap(), state.clone()).await;
    wait_for("pending drained", || d.stats().pending_records == 0).await;
    let s = d.stats();
    assert_eq!(s.dropped_4xx_records, 1, "{s:?}");
    assert_eq!(s.sent_records, 3);
    assert_exactly_once_in_order(&state.lock().unwrap().received, &pushed);
    d.shutdown().await;
    rx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_then_recovery_delivers_everything_once() {
    let dir = tempfile::tempdir().unwrap();
    let addr = closed_port().await;
    let state = Rx::default();
    let d = Delivery::start(config(addr, dir.path())).await.unwrap();
    let mut pushed = Vec::new();
    // Pushes keep working while every connection is refused.
    for round in 0..10 {
        push_all(&d, 5, 10, &mut pushed, round * 10);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(d.stats().failed_requests > 0);
    assert_eq!(d.stats().pending_records, 500);
    let rx = Receiver::start(TcpListener::bind(addr).await.unwrap(), state.clone()).await;
    push_all(&d, 5, 10, &mut pushed, 100);
    wait_for("pending drained", || d.stats().pending_records == 0).await;
    let s = d.stats();
    assert_eq!(s.sent_records, 550);
    assert!(s.sent_requests < 550, "backlog is merged: {s:?}");
    d.shutdown().await;
    assert_exactly_once_in_order(&state.lock().unwrap().received, &pushed);
    rx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_after_shutdown_delivers_everything_once() {
    let dir = tempfile::tempdir().unwrap();
    let addr = closed_port().await;
    let state = Rx::default();
    let mut pushed = Vec::new();
    let d = Delivery::start(config(addr, dir.path())).await.unwrap();
    push_all(&d, 4, 20, &mut pushed, 0);
    tokio::time::sleep(Duration::from_millis(150)).await;
    d.shutdown().await;

    let d = Delivery::start(config(addr, dir.path())).await.unwrap();
    assert_eq!(d.stats().pending_records, 80);
    let rx = Receiver::start(TcpListener::bind(addr).await.unwrap(), state.clone()).await;
    push_all(&d, 4, 5, &mut pushed, 20);
    wait_for("pending drained", || d.stats().pending_records == 0).await;
    d.shutdown().await;
    assert_exactly_once_in_order(&state.lock().unwrap().received, &pushed);

    // Acknowledgements were persisted: a third start sends nothing again.
    let d = Delivery::start(config(addr, dir.path())).await.unwrap();
    assert_eq!(d.stats().pending_records, 0);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(state.lock().unwrap().received.len(), pushed.len());
    d.shutdown().await;
    rx.stop().await;
}

/// Starts a delivery on a directory a dropped one may still hold for a moment (its
/// aborted tasks release the queue lock asynchronously).
async fn start_after_crash(cfg: SenderConfig) -> Delivery {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        match Delivery::start(cfg.clone()).await {
            Ok(d) => return d,
            Err(SendError::Queue(QueueError::Locked { .. })) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_after_crash_without_shutdown_delivers_everything_once() {
    let dir = tempfile::tempdir().unwrap();
    let addr = closed_port().await;
    let state = Rx::default();
    let mut pushed = Vec::new();
    let d = Delivery::start(config(addr, dir.path())).await.unwrap();
    push_all(&d, 4, 20, &mut pushed, 0);
    // No shutdown, no final sync or checkpoint: as far as the queue is concerned,
    // the process died here.
    drop(d);

    let d = start_after_crash(config(addr, dir.path())).await;
    assert_eq!(d.stats().pending_records, 80);
    let rx = Receiver::start(TcpListener::bind(addr).await.unwrap(), state.clone()).await;
    push_all(&d, 4, 5, &mut pushed, 20);
    wait_for("pending drained", || d.stats().pending_records == 0).await;
    // Let the acknowledgements reach the checkpoint, then crash again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(d);
    let d = start_after_crash(config(addr, dir.path())).await;
    assert_eq!(d.stats().pending_records, 0);
    tokio::time::sleep(Duration::from_millis(100)).await;
    d.shutdown().await;
    assert_exactly_once_in_order(&state.lock().unwrap().received, &pushed);
    rx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_grow_with_a_slow_backlog_and_order_holds_across_resharding() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Rx::default();
    state.lock().unwrap().delay = Duration::from_millis(25);
    let rx = Receiver::start(listener, state.clone()).await;
    let mut cfg = config(addr, dir.path());
    cfg.min_shards = 1;
    cfg.max_shards = 4;
    cfg.merge_max_bytes = 0;
    let d = Delivery::start(cfg).await.unwrap();
    let mut pushed = Vec::new();
    let mut max_shards = 0;
    for round in 0..10 {
        push_all(&d, 6, 2, &mut pushed, round * 2);
        max_shards = max_shards.max(d.stats().shards);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for("pending drained", || {
        max_shards = max_shards.max(d.stats().shards);
        d.stats().pending_records == 0
    })
    .await;
    assert!(max_shards > 1, "shards never grew");
    // Idle: shrinks back to the minimum.
    wait_for("shrink", || d.stats().shards == 1).await;
    d.shutdown().await;
    assert_exactly_once_in_order(&state.lock().unwrap().received, &pushed);
    rx.stop().await;
}

#[tokio::test]
async fn invalid_config_is_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = SenderConfig::new("ftp://x/", dir.path().join("q"));
    assert!(matches!(
        Delivery::start(cfg.clone()).await,
        Err(SendError::Config(_))
    ));
    cfg.url = "http://127.0.0.1:1/api/v1/write".into();
    cfg.min_shards = 3;
    cfg.max_shards = 2;
    assert!(matches!(
        Delivery::start(cfg).await,
        Err(SendError::Config(_))
    ));
    assert!(!dir.path().join("q").exists());
}
