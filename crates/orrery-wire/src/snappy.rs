//! Snappy block format (not the framed format, which remote-write forbids), with the
//! decompressed size checked against the limit before anything is allocated.

use crate::error::WireError;

/// Decompresses `body`, refusing (413) a body whose header announces more than `max`
/// bytes before allocating the output.
pub(crate) fn decompress(body: &[u8], max: usize) -> Result<Vec<u8>, WireError> {
    let len = snap::raw::decompress_len(body).map_err(WireError::CorruptSnappy)?;
    if len > max {
        return Err(WireError::TooBigDecompressed { got: len, max });
    }
    let mut out = vec![0; len];
    let n = snap::raw::Decoder::new()
        .decompress(body, &mut out)
        .map_err(WireError::CorruptSnappy)?;
    out.truncate(n);
    Ok(out)
}

/// Compresses an encoded protobuf message.
///
/// # Panics
///
/// If `raw` is larger than snappy's block format can hold (about 4 GiB); a caller
/// building such a request has a bug, remote-write bodies are a few megabytes.
pub(crate) fn compress(raw: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(raw)
        .expect("BUG: remote-write body too large for snappy; send smaller batches")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let raw = b"hello hello hello hello".repeat(10);
        assert_eq!(decompress(&compress(&raw), raw.len()).expect("valid"), raw);
    }

    #[test]
    fn announced_length_over_limit_is_413_before_decoding() {
        // A header announcing 2^32-1 bytes followed by nothing: refusing it must not
        // depend on the (missing) data.
        let body = [0xff, 0xff, 0xff, 0xff, 0x0f];
        let err = decompress(&body, 1 << 20).expect_err("too big");
        assert_eq!(err.status(), 413);
        assert_eq!(
            err.to_string(),
            "too big decompressed body; got 4294967295 bytes; cannot exceed 1048576 \
             (limit max_decompressed_size)"
        );
    }

    #[test]
    fn corrupt_input_is_400() {
        for body in [&b""[..], &b"\x10garbage"[..], &[0x80, 0x80, 0x80][..]] {
            let err = decompress(body, 1 << 20).expect_err("corrupt");
            assert_eq!(err.status(), 400, "{err}");
            assert!(err.to_string().starts_with("corrupt snappy: "), "{err}");
        }
    }
}
