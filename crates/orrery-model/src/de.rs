//! serde helpers for configuration structs, so every crate that reads configuration
//! accepts durations and sizes the same way:
//! `#[serde(deserialize_with = "orrery_model::de::duration")]`.

use crate::{parse_duration, parse_size};
use serde::{Deserialize, Deserializer};
use std::time::Duration;

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrStr {
    Num(u64),
    Str(String),
}

/// A Prometheus duration string (`1h30m`, `15d`).
pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s).map_err(serde::de::Error::custom)
}

/// An optional Prometheus duration string.
pub fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let s = Option::<String>::deserialize(d)?;
    s.map(|s| parse_duration(&s).map_err(serde::de::Error::custom))
        .transpose()
}

/// A byte size: a number of bytes or a string with a unit (`128MiB`, `15GB`).
pub fn size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match NumOrStr::deserialize(d)? {
        NumOrStr::Num(n) => Ok(n),
        NumOrStr::Str(s) => parse_size(&s).map_err(serde::de::Error::custom),
    }
}
