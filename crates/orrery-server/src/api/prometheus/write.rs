//! `POST /api/v1/write`: remote-write 1.0 and 2.0 ingest. Decoding, validation and the
//! append run on a blocking thread; the answer is 204 only once the WAL has the data.

use super::PrometheusState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use orrery_wire::{decompress_write, Version};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A plain-text error, as Prometheus's remote-write receiver answers.
fn text(status: StatusCode, msg: impl Into<String>) -> Response {
    let mut m = msg.into();
    m.push('\n');
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        m,
    )
        .into_response()
}

pub(crate) async fn remote_write(
    State(state): State<Arc<PrometheusState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    state
        .metrics
        .remote_write_requests
        .fetch_add(1, Ordering::Relaxed);
    let max_body = usize::try_from(state.limits.max_body_size).unwrap_or(usize::MAX);
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_big = || {
        state.metrics.rejected("body_too_large");
        text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("too big request body; cannot exceed {max_body} bytes (limit max_body_size)"),
        )
    };
    if declared.is_some_and(|n| n > max_body as u64) {
        return too_big();
    }
    let bytes = match axum::body::to_bytes(body, max_body).await {
        Ok(b) => b,
        Err(_) => return too_big(),
    };
    let header_str = |h| {
        headers
            .get(h)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header_str(header::CONTENT_TYPE);
    let content_encoding = header_str(header::CONTENT_ENCODING);
    let st = state.clone();
    let result = tokio::task::spawn_blocking(move || {
        let limits = st.limits.wire_limits();
        let reject = |e: orrery_wire::WireError| {
            st.metrics.rejected("invalid");
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            (status, e.to_string())
        };
        let raw = decompress_write(content_type.as_deref(), content_encoding.as_deref(), &bytes, &limits)
            .map_err(reject)?;
        let mut slot = None;
        let decoded = raw.decode(&limits, &mut slot).map_err(reject)?;
        if decoded.histograms > 0 || decoded.exemplars > 0 {
            st.metrics.rejected("unsupported");
            return Err((
                StatusCode::BAD_REQUEST,
                format!(
                    "native histograms and exemplars are not supported yet; this request carries {} histogram samples and {} exemplars, nothing from it was stored",
                    decoded.histograms, decoded.exemplars
                ),
            ));
        }
        let n = decoded.batch.sample_count() as u64;
        st.metrics.remote_write_samples.fetch_add(n, Ordering::Relaxed);
        match st.appender.append_batch(&decoded.batch) {
            Ok(out) => Ok((decoded.version, n, out)),
            Err(e) => {
                st.metrics.rejected("storage");
                Err((StatusCode::INTERNAL_SERVER_ERROR, format!("storing samples: {e}")))
            }
        }
    })
    .await;
    let (version, received, out) = match result {
        Ok(Ok(v)) => v,
        Ok(Err((status, msg))) => return text(status, msg),
        Err(e) => {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("write task failed: {e}"),
            )
        }
    };
    let mut resp = if out.too_old > 0 {
        state.metrics.rejected("too_old");
        let window = state.out_of_order_window;
        text(
            StatusCode::BAD_REQUEST,
            format!(
                "{} of {received} samples are older than the out-of-order window ({}s behind the newest sample) and were rejected; {} written",
                out.too_old,
                window.as_secs(),
                out.samples_written
            ),
        )
    } else {
        StatusCode::NO_CONTENT.into_response()
    };
    if version == Version::V2 {
        let h = resp.headers_mut();
        h.insert(
            "X-Prometheus-Remote-Write-Samples-Written",
            HeaderValue::from(out.samples_written + out.duplicates),
        );
        h.insert(
            "X-Prometheus-Remote-Write-Histograms-Written",
            HeaderValue::from(0u64),
        );
        h.insert(
            "X-Prometheus-Remote-Write-Exemplars-Written",
            HeaderValue::from(0u64),
        );
    }
    resp
}
