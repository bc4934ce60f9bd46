//! Content negotiation: which remote-write version a Content-Type header selects, and
//! whether the Content-Encoding is one we can read.
//!
//! Parsing is tolerant in the ways real senders differ: the media type is compared
//! case-insensitively, spaces around `;` and `=` are ignored, parameter names are
//! case-insensitive, the `proto` value may be quoted, and parameters other than `proto`
//! (such as `charset`) are ignored. The `proto` value itself is a fully qualified
//! protobuf name and is compared exactly. An absent or empty header means remote-write
//! 1.0, as in Prometheus's receiver.

use crate::error::WireError;
use crate::series::truncate;
use crate::Version;

/// The only media type remote-write uses.
const MEDIA_TYPE: &str = "application/x-protobuf";
/// `proto` parameter of remote-write 1.0.
const PROTO_V1: &str = "prometheus.WriteRequest";
/// `proto` parameter of remote-write 2.0.
const PROTO_V2: &str = "io.prometheus.write.v2.Request";

/// The version a Content-Type selects.
pub(crate) fn version_for(content_type: Option<&str>) -> Result<Version, WireError> {
    let raw = content_type.unwrap_or("").trim();
    if raw.is_empty() {
        return Ok(Version::V1);
    }
    let unsupported = || WireError::UnsupportedContentType { got: truncate(raw) };
    let mut parts = raw.split(';');
    let media = parts.next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case(MEDIA_TYPE) {
        return Err(unsupported());
    }
    for param in parts {
        let Some((key, value)) = param.split_once('=') else {
            continue;
        };
        if !key.trim().eq_ignore_ascii_case("proto") {
            continue;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        // The first `proto` parameter decides; a sender has no reason to send two.
        return match value {
            PROTO_V1 => Ok(Version::V1),
            PROTO_V2 => Ok(Version::V2),
            _ => Err(unsupported()),
        };
    }
    Ok(Version::V1)
}

/// Accepts an absent, empty or `snappy` Content-Encoding.
pub(crate) fn check_encoding(content_encoding: Option<&str>) -> Result<(), WireError> {
    let raw = content_encoding.unwrap_or("").trim();
    if raw.is_empty() || raw.eq_ignore_ascii_case("snappy") {
        Ok(())
    } else {
        Err(WireError::UnsupportedContentEncoding { got: truncate(raw) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_negotiation_table() {
        let table: &[(Option<&str>, Option<Version>)] = &[
            (None, Some(Version::V1)),
            (Some(""), Some(Version::V1)),
            (Some("  "), Some(Version::V1)),
            (Some("application/x-protobuf"), Some(Version::V1)),
            (Some("Application/X-Protobuf"), Some(Version::V1)),
            (
                Some("application/x-protobuf;proto=prometheus.WriteRequest"),
                Some(Version::V1),
            ),
            (
                Some("application/x-protobuf; proto=prometheus.WriteRequest"),
                Some(Version::V1),
            ),
            (
                Some("application/x-protobuf;proto=io.prometheus.write.v2.Request"),
                Some(Version::V2),
            ),
            (
                Some("application/x-protobuf ; PROTO = io.prometheus.write.v2.Request "),
                Some(Version::V2),
            ),
            (
                Some("application/x-protobuf;proto=\"io.prometheus.write.v2.Request\""),
                Some(Version::V2),
            ),
            (
                Some("application/x-protobuf;charset=utf-8"),
                Some(Version::V1),
            ),
            (
                Some("application/x-protobuf;charset=utf-8;proto=io.prometheus.write.v2.Request"),
                Some(Version::V2),
            ),
            (
                Some("application/x-protobuf;proto=io.prometheus.write.v3.Request"),
                None,
            ),
            (
                Some("application/x-protobuf;proto=prometheus.writerequest"),
                None,
            ),
            (Some("application/x-protobuf;proto="), None),
            (Some("application/json"), None),
            (Some("text/plain;proto=prometheus.WriteRequest"), None),
            (Some("application/x-protobuf-extra"), None),
        ];
        for (ct, want) in table {
            let got = version_for(*ct);
            match (got, want) {
                (Ok(v), Some(w)) => assert_eq!(v, *w, "{ct:?}"),
                (Err(e), None) => {
                    assert_eq!(e.status(), 415, "{ct:?}");
                    let msg = e.to_string();
                    assert!(
                        msg.contains(&format!("{:?}", ct.unwrap_or("").trim())),
                        "{msg}"
                    );
                    assert!(msg.contains("io.prometheus.write.v2.Request"), "{msg}");
                }
                (got, want) => panic!("{ct:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn unsupported_content_type_message_names_received_and_accepted() {
        let err = version_for(Some("application/json")).expect_err("json");
        assert_eq!(
            err.to_string(),
            "unsupported content type \"application/json\"; remote-write accepts \
             \"application/x-protobuf\" (1.0), \
             \"application/x-protobuf;proto=prometheus.WriteRequest\" (1.0) or \
             \"application/x-protobuf;proto=io.prometheus.write.v2.Request\" (2.0)"
        );
    }

    #[test]
    fn content_encoding_must_be_snappy_or_absent() {
        assert!(check_encoding(None).is_ok());
        assert!(check_encoding(Some("")).is_ok());
        assert!(check_encoding(Some("snappy")).is_ok());
        assert!(check_encoding(Some(" Snappy ")).is_ok());
        for bad in ["gzip", "zstd", "identity", "snappy, gzip"] {
            let err = check_encoding(Some(bad)).expect_err(bad);
            assert_eq!(err.status(), 415);
            assert_eq!(
                err.to_string(),
                format!("unsupported content encoding {bad:?}; remote-write accepts \"snappy\"")
            );
        }
    }
}
