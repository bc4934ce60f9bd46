//! `orrery check server|agent|config FILE`: the same loading and validation the
//! `server` and `agent` commands run (`ServerConfig::load`, `AgentConfig::load`), so a
//! file the check accepts is one they start with. `check config` guesses the kind.

use anyhow::Result;
use orrery_agent::config::AgentConfig;
use orrery_server::ServerConfig;
use std::path::Path;

/// `orrery check server FILE`.
pub fn check_server(path: &Path) -> Result<()> {
    ServerConfig::load(path)?;
    println!("{}: valid server configuration", path.display());
    Ok(())
}

/// `orrery check agent FILE`.
pub fn check_agent(path: &Path) -> Result<()> {
    let cfg = AgentConfig::load(path)?;
    println!(
        "{}: valid agent configuration (cluster {:?}, {} scrape configs)",
        path.display(),
        cfg.cluster,
        cfg.scrape_configs.len()
    );
    Ok(())
}

/// `orrery check config FILE`: a file with a top-level `cluster:` or `scrape_configs:`
/// key is an agent configuration, any other a server configuration.
pub fn check_config(path: &Path) -> Result<()> {
    // An unreadable file is reported by the check it falls to, with the same message.
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let is_agent = text
        .lines()
        .any(|l| l.starts_with("cluster:") || l.starts_with("scrape_configs:"));
    if is_agent {
        check_agent(path)
    } else {
        check_server(path)
    }
}
