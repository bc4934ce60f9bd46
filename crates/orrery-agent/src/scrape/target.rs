//! From discovered label sets to scrape targets, as Prometheus's `PopulateLabels`:
//! defaults (`job`, `__scheme__`, `__metrics_path__`, `__scrape_interval__`,
//! `__scrape_timeout__`, `__param_*`), target relabeling, `instance` defaulting to
//! `__address__`, then every `__`-prefixed label is removed.

use crate::config::ScrapeJob;
use crate::discovery::{LabelSet, TargetGroup};
use orrery_model::{parse_duration, Labels, Relabeler};
use rustc_hash::FxHasher;
use std::hash::Hasher;
use std::time::Duration;

/// A target ready to scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Final labels attached to every scraped sample.
    pub labels: Labels,
    /// Labels before relabeling (for the targets API).
    pub discovered: LabelSet,
    /// The URL to scrape.
    pub url: String,
    /// How often.
    pub interval: Duration,
    /// Per-scrape timeout.
    pub timeout: Duration,
    /// Identity of the target within its job (hash of its final labels and URL); also
    /// the delivery shard key, so one target's data stays in order.
    pub hash: u64,
}

/// What became of a discovered target.
#[derive(Debug, Clone, PartialEq)]
pub enum Populated {
    /// Scrape it.
    Active(Target),
    /// Relabeling dropped it (kept for the targets API).
    Dropped(LabelSet),
}

/// Why a discovered target cannot be scraped (it is skipped and logged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// `__scrape_interval__` or `__scrape_timeout__` after relabeling is not a duration.
    #[error("invalid {label}: {reason}")]
    Duration {
        /// The label.
        label: &'static str,
        /// Why it does not parse.
        reason: String,
    },
    /// The target's timeout exceeds its interval, or the interval is zero.
    #[error("target {address}: scrape timeout greater than interval")]
    TimeoutAboveInterval {
        /// The target's `__address__`.
        address: String,
    },
}

/// Applies a job's defaults and relabeling to every target of the groups.
pub fn populate(
    groups: &[&TargetGroup],
    job: &ScrapeJob,
    relabel: &Relabeler,
) -> Vec<Result<Populated, TargetError>> {
    let mut out = Vec::new();
    for g in groups {
        for t in &g.targets {
            let mut ls = g.labels.clone();
            ls.extend(t.iter().map(|(k, v)| (k.clone(), v.clone())));
            out.push(populate_one(ls, job, relabel));
        }
    }
    out
}

fn populate_one(
    mut ls: LabelSet,
    job: &ScrapeJob,
    relabel: &Relabeler,
) -> Result<Populated, TargetError> {
    let sc = &job.config;
    let defaults = [
        ("job", sc.job_name.clone()),
        ("__scheme__", sc.scheme.clone()),
        ("__metrics_path__", sc.metrics_path.clone()),
        ("__scrape_interval__", fmt_duration(job.interval)),
        ("__scrape_timeout__", fmt_duration(job.timeout)),
    ];
    for (k, v) in defaults {
        ls.entry(k.to_string()).or_insert(v);
    }
    for (k, vs) in &sc.params {
        if let Some(v) = vs.first() {
            ls.entry(format!("__param_{k}"))
                .or_insert_with(|| v.clone());
        }
    }
    let discovered = ls.clone();
    let labels = Labels::from_pairs(ls.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let Some(labels) = relabel.process(&labels) else {
        return Ok(Populated::Dropped(discovered));
    };
    let Some(addr) = labels.get("__address__").filter(|a| !a.is_empty()) else {
        return Ok(Populated::Dropped(discovered));
    };
    let interval = labels
        .get("__scrape_interval__")
        .map(parse_duration)
        .transpose()
        .map_err(|reason| TargetError::Duration {
            label: "__scrape_interval__",
            reason,
        })?
        .unwrap_or(job.interval);
    let timeout = labels
        .get("__scrape_timeout__")
        .map(parse_duration)
        .transpose()
        .map_err(|reason| TargetError::Duration {
            label: "__scrape_timeout__",
            reason,
        })?
        .unwrap_or(job.timeout);
    if interval.is_zero() || timeout > interval {
        return Err(TargetError::TimeoutAboveInterval {
            address: addr.to_owned(),
        });
    }
    let scheme = labels.get("__scheme__").unwrap_or("http");
    let path = labels.get("__metrics_path__").unwrap_or("/metrics");
    let mut url = format!("{scheme}://{addr}{path}");
    let mut params: Vec<(String, String)> = Vec::new();
    for (k, vs) in &sc.params {
        let first = labels.get(&format!("__param_{k}")).map(str::to_string);
        for (i, v) in vs.iter().enumerate() {
            let v = if i == 0 {
                first.clone().unwrap_or_else(|| v.clone())
            } else {
                v.clone()
            };
            params.push((k.clone(), v));
        }
    }
    for l in labels.iter() {
        if let Some(k) = l.name.strip_prefix("__param_") {
            if !sc.params.contains_key(k) {
                params.push((k.to_string(), l.value.clone()));
            }
        }
    }
    if !params.is_empty() {
        let q: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&q);
    }
    let instance = labels
        .get("instance")
        .map(str::to_string)
        .unwrap_or_else(|| addr.to_string());
    let mut b = labels.to_builder();
    b.set("instance", instance);
    let final_labels = Labels::from_pairs(
        b.build()
            .iter()
            .filter(|l| !l.name.starts_with("__"))
            .map(|l| (l.name.clone(), l.value.clone())),
    );
    let mut h = FxHasher::default();
    for l in final_labels.iter() {
        h.write(l.name.as_bytes());
        h.write_u8(0xff);
        h.write(l.value.as_bytes());
        h.write_u8(0xff);
    }
    h.write(url.as_bytes());
    Ok(Populated::Active(Target {
        labels: final_labels,
        discovered,
        url,
        interval,
        timeout,
        hash: h.finish(),
    }))
}

/// Prometheus's duration form (`1m`, `15s`, `1m30s`, `500ms`).
pub fn fmt_duration(d: Duration) -> String {
    let mut ms = d.as_millis() as u64;
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, len) in [
        ("y", 365 * 86_400_000u64),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ] {
        if ms >= len {
            out.push_str(&format!("{}{unit}", ms / len));
            ms %= len;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AgentConfig;

    fn cfg(extra: &str) -> AgentConfig {
        AgentConfig::parse(
            &format!("cluster: c\nserver: {{url: http://s}}\nglobal: {{scrape_interval: 15s}}\nscrape_configs:\n  - job_name: node\n{extra}"),
            "t",
        )
        .unwrap()
    }

    fn group(addrs: &[&str]) -> TargetGroup {
        TargetGroup {
            source: "s".into(),
            targets: addrs
                .iter()
                .map(|a| LabelSet::from([("__address__".into(), a.to_string())]))
                .collect(),
            labels: LabelSet::from([
                ("__meta_x".into(), "y".into()),
                ("env".into(), "prod".into()),
            ]),
        }
    }

    #[test]
    fn defaults_instance_and_meta_label_removal() {
        let c = cfg("");
        let job = ScrapeJob::new(c.scrape_configs[0].clone(), &c.global);
        let r = Relabeler::new(&job.config.relabel_configs).unwrap();
        let out = populate(&[&group(&["h:9100"])], &job, &r);
        let Ok(Populated::Active(t)) = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!(t.url, "http://h:9100/metrics");
        assert_eq!(
            t.labels,
            Labels::from_pairs([("env", "prod"), ("instance", "h:9100"), ("job", "node")])
        );
        assert_eq!(t.interval, Duration::from_secs(15));
        assert_eq!(t.discovered["__meta_x"], "y");
    }

    #[test]
    fn relabeling_can_drop_rewrite_address_and_set_params() {
        let c = cfg("    params: {module: [if_mib]}\n    relabel_configs:\n      - {source_labels: [__address__], regex: 'drop.*', action: drop}\n      - {source_labels: [__address__], target_label: __param_target}\n      - {target_label: __address__, replacement: 'snmp:9116'}\n");
        let job = ScrapeJob::new(c.scrape_configs[0].clone(), &c.global);
        let r = Relabeler::new(&job.config.relabel_configs).unwrap();
        let out = populate(&[&group(&["dropme:1", "10.0.0.1"])], &job, &r);
        assert!(matches!(out[0], Ok(Populated::Dropped(_))));
        let Ok(Populated::Active(t)) = &out[1] else {
            panic!("{out:?}")
        };
        assert_eq!(
            t.url,
            "http://snmp:9116/metrics?module=if_mib&target=10.0.0.1"
        );
        assert_eq!(t.labels.get("instance"), Some("snmp:9116"));
    }

    #[test]
    fn durations_print_like_prometheus() {
        assert_eq!(fmt_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1s500ms");
        assert_eq!(fmt_duration(Duration::from_secs(60)), "1m");
    }
}
