//! `meta.json`: a block's identity, time range, statistics and compaction lineage, plus
//! ULID generation. The file is JSON so operators can read it; it is parsed strictly
//! (unknown fields refused) and validated after parsing.
//!
//! Pure code apart from [`new_ulid`], which reads the clock and a process-wide counter.

use crate::{Result, TsdbError};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Mutex;

/// The block format version written in `meta.json` (and in the index and chunks
/// headers). Readers accept exactly [`BLOCK_VERSIONS`].
pub const BLOCK_VERSION: u32 = 1;

/// Block format versions this reader opens.
pub const BLOCK_VERSIONS: &[u32] = &[1];

/// Counts over a whole block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BlockStats {
    /// Samples stored.
    pub num_samples: u64,
    /// Series stored (each has at least one sample).
    pub num_series: u64,
    /// Chunks stored.
    pub num_chunks: u64,
}

/// What `meta.json` says about a block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BlockMeta {
    /// The block's ULID, also its directory name.
    pub ulid: String,
    /// Inclusive lower bound of sample timestamps (milliseconds).
    pub min_time: i64,
    /// Exclusive upper bound of sample timestamps, like Prometheus.
    pub max_time: i64,
    /// Counts.
    pub stats: BlockStats,
    /// 1 for a block cut from the head; compaction of level-n blocks gives n+1.
    pub compaction_level: u32,
    /// ULIDs of the level-1 blocks this block's data came from (empty for level 1).
    pub sources: Vec<String>,
    /// Block format version ([`BLOCK_VERSION`]).
    pub version: u32,
}

impl BlockMeta {
    /// Serializes to the bytes of `meta.json` (pretty-printed, trailing newline).
    pub fn encode(&self) -> Vec<u8> {
        // Serializing plain integers and strings into a Vec cannot fail.
        let mut b = serde_json::to_vec_pretty(self).unwrap_or_default();
        b.push(b'\n');
        b
    }

    /// Parses and validates `meta.json` bytes; `path` is only used in errors.
    pub fn decode(bytes: &[u8], path: &Path) -> Result<BlockMeta> {
        let m: BlockMeta = serde_json::from_slice(bytes).map_err(|e| {
            TsdbError::corruption(path, e.column() as u64, format!("invalid JSON: {e}"))
        })?;
        m.validate()
            .map_err(|reason| TsdbError::corruption(path, 0, reason))?;
        Ok(m)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if !BLOCK_VERSIONS.contains(&self.version) {
            return Err(format!(
                "unsupported block version; got {}; want one of {BLOCK_VERSIONS:?}",
                self.version
            ));
        }
        if parse_ulid(&self.ulid).is_none() {
            return Err(format!("invalid ulid {:?}", self.ulid));
        }
        if self.min_time >= self.max_time {
            return Err(format!(
                "empty time range; got minTime {} >= maxTime {}",
                self.min_time, self.max_time
            ));
        }
        if self.compaction_level == 0 {
            return Err("compaction level 0; want >= 1".into());
        }
        if let Some(s) = self.sources.iter().find(|s| parse_ulid(s).is_none()) {
            return Err(format!("invalid source ulid {s:?}"));
        }
        Ok(())
    }
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// State behind [`new_ulid`]: the last (millisecond, random) pair handed out, so that
/// ULIDs made in the same millisecond by this process still sort in creation order.
static LAST_ULID: Mutex<(u64, u128)> = Mutex::new((0, 0));

/// A new 26-character ULID: 48 bits of Unix milliseconds then 80 random bits, Crockford
/// base32. Within one process ULIDs strictly increase (the random part is incremented
/// when the clock has not moved). The randomness comes from the clock's nanoseconds,
/// the process id and a counter, mixed with SplitMix64; it is unique, not secret.
pub fn new_ulid() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let ms = (now.as_millis() as u64) & ((1 << 48) - 1);
    let mut last = LAST_ULID.lock().unwrap_or_else(|p| p.into_inner());
    let mut seed = u64::from(now.subsec_nanos())
        ^ (u64::from(std::process::id()) << 32)
        ^ (last.1 as u64).rotate_left(17);
    let hi = splitmix64(&mut seed);
    let lo = splitmix64(&mut seed);
    let mut rand = ((u128::from(hi) << 64) | u128::from(lo)) & ((1u128 << 80) - 1);
    let ms = if ms <= last.0 {
        // Same (or earlier) millisecond: keep order by continuing from the last value.
        rand = (last.1 + 1) & ((1u128 << 80) - 1);
        if rand == 0 {
            last.0 + 1
        } else {
            last.0
        }
    } else {
        ms
    };
    *last = (ms, rand);
    encode_ulid((u128::from(ms) << 80) | rand)
}

fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn encode_ulid(v: u128) -> String {
    (0..26)
        .map(|i| CROCKFORD[((v >> (5 * (25 - i))) & 31) as usize] as char)
        .collect()
}

/// Parses a ULID (upper-case Crockford base32, 26 characters, first at most '7').
pub fn parse_ulid(s: &str) -> Option<u128> {
    if s.len() != 26 {
        return None;
    }
    let mut v: u128 = 0;
    for (i, c) in s.bytes().enumerate() {
        let d = CROCKFORD.iter().position(|&x| x == c)? as u128;
        if i == 0 && d > 7 {
            return None;
        }
        v = (v << 5) | d;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulids_are_valid_and_strictly_increasing() {
        let mut prev = new_ulid();
        assert_eq!(prev.len(), 26);
        for _ in 0..10_000 {
            let u = new_ulid();
            assert!(parse_ulid(&u).is_some(), "{u}");
            assert!(u > prev, "{u} <= {prev}");
            prev = u;
        }
    }

    #[test]
    fn ulid_time_prefix_is_now() {
        let u = parse_ulid(&new_ulid()).unwrap();
        let ms = (u >> 80) as u64;
        let now = orrery_model::clock::now_ms() as u64;
        assert!(ms <= now + 1000 && ms + 60_000 > now, "{ms} vs {now}");
    }

    #[test]
    fn ulid_round_trips_through_text() {
        for v in [
            0u128,
            1,
            u128::MAX >> 2,
            0x0123_4567_89ab_cdef_0123_4567_89ab_cdef,
        ] {
            assert_eq!(parse_ulid(&encode_ulid(v)), Some(v));
        }
        assert!(parse_ulid("8ZZZZZZZZZZZZZZZZZZZZZZZZZ").is_none());
        assert!(parse_ulid("0000000000000000000000000I").is_none());
        assert!(parse_ulid("short").is_none());
    }

    fn meta() -> BlockMeta {
        BlockMeta {
            ulid: new_ulid(),
            min_time: 0,
            max_time: 7_200_000,
            stats: BlockStats {
                num_samples: 10,
                num_series: 2,
                num_chunks: 2,
            },
            compaction_level: 1,
            sources: vec![],
            version: BLOCK_VERSION,
        }
    }

    #[test]
    fn meta_json_round_trips_with_camel_case_fields() {
        let m = meta();
        let b = m.encode();
        let text = String::from_utf8(b.clone()).unwrap();
        assert!(text.contains("\"minTime\": 0"), "{text}");
        assert!(text.contains("\"numSamples\": 10"), "{text}");
        assert_eq!(BlockMeta::decode(&b, Path::new("m")).unwrap(), m);
    }

    #[test]
    fn invalid_meta_is_corruption() {
        let p = Path::new("meta.json");
        let bad = [
            br#"{"ulid":"x"}"#.to_vec(),
            b"not json".to_vec(),
            String::from_utf8(meta().encode())
                .unwrap()
                .replace("\"version\": 1", "\"version\": 99")
                .into_bytes(),
            String::from_utf8(meta().encode())
                .unwrap()
                .replace("\"maxTime\": 7200000", "\"maxTime\": 0")
                .into_bytes(),
            String::from_utf8(meta().encode())
                .unwrap()
                .replace("\"version\": 1", "\"version\": 1, \"extra\": 2")
                .into_bytes(),
        ];
        for b in bad {
            let r = BlockMeta::decode(&b, p);
            assert!(
                matches!(r, Err(TsdbError::Corruption { .. })),
                "{:?}: {r:?}",
                String::from_utf8_lossy(&b)
            );
        }
    }
}
