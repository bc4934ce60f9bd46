//! The server's settings, as read from YAML (`--config`) and flags. Every field has a
//! default, documented in `docs/configuration.md`; unknown keys are an error.
//!
//! Two stages, as the agent's configuration: serde checks shapes and names
//! ([`ServerConfig::parse`]), then [`ServerConfig::validate`] checks what serde cannot.
//! `orrery server` and `orrery check` both go through [`ServerConfig::load`], so a file
//! one refuses the other refuses too.

use orrery_model::parse_duration;
use orrery_model::yaml::{self, YamlFileError};
use orrery_tsdb::{FsyncPolicy, Options};
use orrery_wire::Limits;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every setting with its default, as YAML: printed by `orrery server --help` and
/// quoted verbatim in `docs/configuration.md` (a test keeps both, and the defaults in
/// code, in agreement).
pub const CONFIG_REFERENCE: &str = r#"listen: 127.0.0.1:9090          # address for every HTTP API
data_dir: ./orrery-data          # WAL, checkpoints and blocks; locked while a server runs

storage:
  retention_time: 15d            # blocks whose data is all older than newest sample - this are deleted
  retention_size: 15GB           # oldest blocks are deleted while blocks + WAL exceed this; 0 = no limit
  block_range: 2h                # the head is cut into blocks of this length (min 1m)
  out_of_order_window: 10m       # samples this far behind the newest one are accepted; older: 400, counted
  wal_segment_size: 128MiB       # WAL segment length (min 1MiB)
  wal_fsync: always              # "always": fsync before each 2xx; or a duration such as "1s": fsync on
                                 # that timer (a power loss may then lose up to that much acknowledged data)
  maintenance_interval: 1m       # how often the head is checked for cutting and compaction/retention run

limits:
  max_body_size: 32MiB           # compressed remote-write body; larger: 413
  max_decompressed_size: 64MiB   # body after snappy decompression; larger: 413
  max_series_per_request: 200000 # more: 400 naming the limit
  max_labels_per_series: 64      # more: 400 naming the series and the limit
  max_label_name_length: 1024    # bytes; longer: 400
  max_label_value_length: 4096   # bytes; longer: 400

query:
  lookback_delta: 5m             # how far back a selector looks for a series' latest sample
  timeout: 2m                    # longest a query may run (a request's "timeout" can only lower it); 503
  max_samples: 50000000          # samples one query may hold in memory; more: 422 naming the limit
  max_concurrent: 20             # queries evaluated at once; others wait up to their timeout, then 503
  max_series: 0                  # series one query may read from storage; more: 422; 0 = no limit
  delayed_name_removal: false    # Prometheus's promql-delayed-name-removal flag: drop metric names at the end
"#;

/// Why a server configuration is unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read, or its YAML is not the right shape (the message has
    /// line and column); the same texts as every configuration file's.
    #[error(transparent)]
    File(#[from] YamlFileError),
    /// A value is invalid; the message names the setting.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong and where.
        message: String,
    },
}

/// Everything `orrery server` can be configured with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on (default `127.0.0.1:9090`).
    pub listen: SocketAddr,
    /// Data directory (default `./orrery-data`).
    pub data_dir: PathBuf,
    /// Storage settings.
    pub storage: StorageConfig,
    /// Ingest limits.
    pub limits: LimitsConfig,
    /// Query settings and limits.
    pub query: QueryConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
            data_dir: PathBuf::from("./orrery-data"),
            storage: StorageConfig::default(),
            limits: LimitsConfig::default(),
            query: QueryConfig::default(),
        }
    }
}

impl ServerConfig {
    /// Reads, parses and validates a file.
    pub fn load(path: &Path) -> Result<ServerConfig, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| YamlFileError::read(path, source))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and validates text; `name` is used in messages.
    pub fn parse(text: &str, name: &str) -> Result<ServerConfig, ConfigError> {
        let cfg: ServerConfig = yaml::parse(text, name)?;
        cfg.validate().map_err(|message| ConfigError::Invalid {
            path: name.to_string(),
            message,
        })?;
        Ok(cfg)
    }

    /// Checks what serde cannot, section by section; the message names the setting.
    pub fn validate(&self) -> Result<(), String> {
        self.storage.to_options()?;
        self.query.validate()
    }
}

/// Storage settings (`storage:` in YAML).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Delete data older than this (default `15d`).
    #[serde(deserialize_with = "orrery_model::de::duration")]
    pub retention_time: Duration,
    /// Delete the oldest blocks while storage uses more than this (default `15GB`; `0` disables).
    #[serde(deserialize_with = "orrery_model::de::size")]
    pub retention_size: u64,
    /// Length of a block cut from the head (default `2h`).
    #[serde(deserialize_with = "orrery_model::de::duration")]
    pub block_range: Duration,
    /// How far behind the newest sample a sample may be and still be accepted (default `10m`).
    #[serde(deserialize_with = "orrery_model::de::duration")]
    pub out_of_order_window: Duration,
    /// WAL segment size (default `128MiB`).
    #[serde(deserialize_with = "orrery_model::de::size")]
    pub wal_segment_size: u64,
    /// `always` (fsync before acknowledging, the default) or a duration such as `1s`
    /// (fsync in the background at that interval).
    pub wal_fsync: String,
    /// How often the head is checked for cutting, and compaction and retention run (default `1m`).
    #[serde(deserialize_with = "orrery_model::de::duration")]
    pub maintenance_interval: Duration,
}

impl Default for StorageConfig {
    fn default() -> Self {
        let o = Options::default();
        StorageConfig {
            retention_time: Duration::from_millis(o.retention_ms as u64),
            retention_size: o.retention_bytes,
            block_range: Duration::from_millis(o.block_range_ms as u64),
            out_of_order_window: Duration::from_millis(o.out_of_order_window_ms as u64),
            wal_segment_size: o.wal_segment_bytes,
            wal_fsync: "always".into(),
            maintenance_interval: Duration::from_secs(60),
        }
    }
}

impl StorageConfig {
    /// The storage engine's options, or a message naming the bad setting.
    pub fn to_options(&self) -> Result<Options, String> {
        let fsync = match self.wal_fsync.trim() {
            "always" => FsyncPolicy::Always,
            other => FsyncPolicy::Interval(parse_duration(other).map_err(|e| {
                format!("storage.wal_fsync: want \"always\" or a duration such as \"1s\"; {e}")
            })?),
        };
        // Both drive tokio intervals, which panic on a zero period; a zero here would
        // stop fsyncs or maintenance silently, so it is refused.
        if matches!(fsync, FsyncPolicy::Interval(d) if d.is_zero()) {
            return Err("storage.wal_fsync: an interval must be positive (or \"always\")".into());
        }
        if self.maintenance_interval.is_zero() {
            return Err("storage.maintenance_interval must be positive".into());
        }
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Ok(Options {
            block_range_ms: ms(self.block_range),
            retention_ms: ms(self.retention_time),
            retention_bytes: self.retention_size,
            out_of_order_window_ms: ms(self.out_of_order_window),
            wal_segment_bytes: self.wal_segment_size,
            fsync,
            ..Options::default()
        })
    }
}

/// Limits on what one request may carry (`limits:` in YAML).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest compressed request body (default `32MiB`); bigger gets 413.
    #[serde(deserialize_with = "orrery_model::de::size")]
    pub max_body_size: u64,
    /// Largest body after snappy decompression (default `64MiB`); bigger gets 413.
    #[serde(deserialize_with = "orrery_model::de::size")]
    pub max_decompressed_size: u64,
    /// Series per remote-write request (default 200000).
    pub max_series_per_request: usize,
    /// Labels per series (default 64).
    pub max_labels_per_series: usize,
    /// Bytes in a label name (default 1024).
    pub max_label_name_length: usize,
    /// Bytes in a label value (default 4096).
    pub max_label_value_length: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let l = Limits::default();
        LimitsConfig {
            max_body_size: 32 << 20,
            max_decompressed_size: l.max_decompressed_bytes as u64,
            max_series_per_request: l.max_series_per_request,
            max_labels_per_series: l.max_labels_per_series,
            max_label_name_length: l.max_label_name_length,
            max_label_value_length: l.max_label_value_length,
        }
    }
}

impl LimitsConfig {
    /// The decoder's limits.
    pub fn wire_limits(&self) -> Limits {
        Limits {
            max_decompressed_bytes: usize::try_from(self.max_decompressed_size)
                .unwrap_or(usize::MAX),
            max_series_per_request: self.max_series_per_request,
            max_labels_per_series: self.max_labels_per_series,
            max_label_name_length: self.max_label_name_length,
            max_label_value_length: self.max_label_value_length,
        }
    }
}

/// Query settings and limits (`query:` in YAML).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueryConfig {
    /// How far back a selector looks for the latest sample (default `5m`).
    #[serde(deserialize_with = "orrery_model::de::duration")]
    pub lookback_delta: Duration,
    /// Longest a query may run (default `2m`); a request's `timeout` may only lower it.
    #[serde(deserialize_with = "orrery_model::de::duration")]
    pub timeout: Duration,
    /// Samples one query may hold in memory (default 50,000,000).
    pub max_samples: usize,
    /// Queries evaluated at once (default 20); more wait up to their timeout.
    pub max_concurrent: usize,
    /// Series one query may read from storage; 0 (the default) means no limit.
    pub max_series: usize,
    /// Prometheus's `promql-delayed-name-removal` feature flag (default off): functions
    /// and operators only mark the metric name, which is removed when the result is
    /// built, instead of dropping it at once.
    pub delayed_name_removal: bool,
}

impl Default for QueryConfig {
    fn default() -> Self {
        QueryConfig {
            lookback_delta: Duration::from_secs(5 * 60),
            timeout: Duration::from_secs(120),
            max_samples: 50_000_000,
            max_concurrent: 20,
            max_series: 0,
            delayed_name_removal: false,
        }
    }
}

impl QueryConfig {
    /// The limits of the query gate every query (HTTP or rules) runs under.
    pub fn limits(&self) -> orrery_promql::QueryLimits {
        orrery_promql::QueryLimits {
            max_concurrent: self.max_concurrent,
            max_samples: self.max_samples,
            max_series: self.max_series,
            timeout: self.timeout,
            lookback_delta_ms: i64::try_from(self.lookback_delta.as_millis()).unwrap_or(i64::MAX),
            delayed_name_removal: self.delayed_name_removal,
        }
    }

    /// Checks what serde cannot: a positive lookback, timeout and concurrency.
    pub fn validate(&self) -> Result<(), String> {
        if self.lookback_delta.is_zero() {
            return Err("query.lookback_delta must be positive".into());
        }
        if self.timeout.is_zero() {
            return Err("query.timeout must be positive".into());
        }
        if self.max_concurrent == 0 {
            return Err("query.max_concurrent must be at least 1".into());
        }
        if self.max_concurrent > tokio::sync::Semaphore::MAX_PERMITS {
            return Err(format!(
                "query.max_concurrent must be at most {}",
                tokio::sync::Semaphore::MAX_PERMITS
            ));
        }
        if self.max_samples == 0 {
            return Err("query.max_samples must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documentation() {
        let c = ServerConfig::default();
        assert_eq!(c.listen.to_string(), "127.0.0.1:9090");
        let o = c.storage.to_options().unwrap();
        assert_eq!(o.retention_ms, 15 * 86_400_000);
        assert_eq!(o.retention_bytes, 15_000_000_000);
        assert_eq!(o.out_of_order_window_ms, 600_000);
        assert_eq!(o.fsync, FsyncPolicy::Always);
    }

    #[test]
    fn documented_reference_parses_to_the_defaults_and_is_in_the_docs() {
        let parsed: ServerConfig = serde_saphyr::from_str(CONFIG_REFERENCE).unwrap();
        let def = ServerConfig::default();
        assert_eq!(parsed.listen, def.listen);
        assert_eq!(parsed.data_dir, def.data_dir);
        assert_eq!(
            format!("{:?}", parsed.storage),
            format!("{:?}", def.storage)
        );
        assert_eq!(format!("{:?}", parsed.limits), format!("{:?}", def.limits));
        assert_eq!(format!("{:?}", parsed.query), format!("{:?}", def.query));
        assert_eq!(def.query.validate(), Ok(()));
        let doc = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/configuration.md"
        ))
        .unwrap();
        assert!(
            doc.contains(CONFIG_REFERENCE),
            "docs/configuration.md must quote CONFIG_REFERENCE verbatim"
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected_with_their_name() {
        let e =
            serde_saphyr::from_str::<ServerConfig>("storage:\n  retension_time: 1d\n").unwrap_err();
        assert!(e.to_string().contains("retension_time"), "{e}");
        let e =
            serde_saphyr::from_str::<ServerConfig>("storage:\n  retention_time: 1x\n").unwrap_err();
        assert!(e.to_string().contains("unknown unit"), "{e}");
        let e = serde_saphyr::from_str::<ServerConfig>("listen: nowhere\n").unwrap_err();
        assert!(!e.to_string().is_empty());
    }

    #[test]
    fn query_settings_parse_and_bad_ones_name_the_key() {
        let c: ServerConfig =
            serde_saphyr::from_str("query:\n  timeout: 30s\n  max_series: 1000\n").unwrap();
        assert_eq!(c.query.timeout, Duration::from_secs(30));
        assert_eq!(c.query.max_series, 1000);
        assert_eq!(c.query.max_concurrent, 20);
        assert!(!c.query.delayed_name_removal);
        let c: ServerConfig =
            serde_saphyr::from_str("query:\n  delayed_name_removal: true\n").unwrap();
        assert!(c.query.limits().delayed_name_removal);
        let q = QueryConfig {
            max_concurrent: 0,
            ..Default::default()
        };
        assert!(q.validate().unwrap_err().contains("query.max_concurrent"));
        let e = serde_saphyr::from_str::<ServerConfig>("query:\n  max_sample: 1\n").unwrap_err();
        assert!(e.to_string().contains("max_sample"), "{e}");
    }

    #[test]
    fn parse_runs_every_check_the_server_runs() {
        for (text, key) in [
            ("query: {max_concurrent: 0}\n", "query.max_concurrent"),
            ("storage:\n  wal_fsync: sometimes\n", "storage.wal_fsync"),
            ("query:\n  timeout: 0s\n", "query.timeout"),
            // Zero periods would panic the fsync or maintenance timer and silently
            // stop fsyncs or head cuts.
            ("storage:\n  wal_fsync: 0s\n", "storage.wal_fsync"),
            (
                "storage:\n  maintenance_interval: 0s\n",
                "storage.maintenance_interval",
            ),
            (
                "query: {max_concurrent: 4611686018427387904}\n",
                "query.max_concurrent",
            ),
        ] {
            let e = ServerConfig::parse(text, "s.yml").unwrap_err();
            assert!(matches!(e, ConfigError::Invalid { .. }), "{text}: {e}");
            assert!(e.to_string().starts_with("s.yml: "), "{e}");
            assert!(e.to_string().contains(key), "{text}: {e}");
        }
        let e = ServerConfig::parse("query:\n  max_sample: 1\n", "s.yml").unwrap_err();
        assert!(
            matches!(e, ConfigError::File(YamlFileError::Parse { .. })),
            "{e}"
        );
        assert!(ServerConfig::parse(CONFIG_REFERENCE, "ref").is_ok());
        assert!(matches!(
            ServerConfig::load(Path::new("/nonexistent/orrery.yml")),
            Err(ConfigError::File(YamlFileError::Read { .. }))
        ));
    }

    #[test]
    fn bad_fsync_setting_names_the_key() {
        let s = StorageConfig {
            wal_fsync: "sometimes".into(),
            ..Default::default()
        };
        assert!(s.to_options().unwrap_err().contains("storage.wal_fsync"));
    }
}
