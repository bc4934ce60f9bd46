//! `orrery agent` and `orrery demo`: wiring only. The agent
//! reloads on SIGHUP and `POST /-/reload`, and on SIGTERM/SIGINT stops scraping (queuing
//! stale markers) and syncs its queue before exiting.

use anyhow::{Context, Result};
use orrery_agent::api::{router, ApiState};
use orrery_agent::config::AgentConfig;
use orrery_agent::Agent;
use orrery_server::ServerConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Flags of `orrery agent`.
#[derive(clap::Args)]
pub struct AgentArgs {
    /// Agent configuration file (YAML: cluster, server, scrape_configs, …).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Directory for the durable queue [default: ./orrery-agent-data].
    #[arg(long, value_name = "DIR", default_value = "./orrery-agent-data")]
    pub data_dir: PathBuf,
    /// Address of the status API (/api/v1/targets, /-/reload, /metrics).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9091")]
    pub listen: SocketAddr,
}

/// Flags of `orrery demo`.
#[derive(clap::Args)]
pub struct DemoArgs {
    /// Where the demo keeps its data.
    #[arg(long, value_name = "DIR", default_value = "./orrery-demo")]
    pub data_dir: PathBuf,
    /// Address of the server's HTTP API (Prometheus-compatible).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9090")]
    pub listen: SocketAddr,
    /// Address of the agent's status API.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9091")]
    pub agent_listen: SocketAddr,
    /// Where to scrape a node-exporter (one started later is found at its next scrape).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9100")]
    pub node_exporter: SocketAddr,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// `orrery agent`.
pub fn run_agent(args: AgentArgs) -> Result<()> {
    let cfg = AgentConfig::load(&args.config)?;
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let agent = Arc::new(Agent::start(cfg, &args.data_dir).await?);
        tracing::info!(addr = %args.listen, data_dir = %args.data_dir.display(), "orrery agent running");
        let api = StatusApi::serve(listener, agent.clone(), args.config.clone());
        let hup = reload_on_sighup(agent.clone(), args.config.clone());
        crate::shutdown_signal().await;
        hup.abort();
        // The reload task holds the agent; wait until it is really gone.
        let _ = hup.await;
        api.stop().await;
        stop(agent).await;
        Ok(())
    })
}

/// The agent's status API, served until [`StatusApi::stop`].
struct StatusApi {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl StatusApi {
    fn serve(
        listener: tokio::net::TcpListener,
        agent: Arc<Agent>,
        config_path: PathBuf,
    ) -> StatusApi {
        let state = Arc::new(ApiState { agent, config_path });
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router(state))
                .with_graceful_shutdown(async move {
                    let _ = stop_rx.await;
                })
                .await
        });
        StatusApi { stop, task }
    }

    /// Stops accepting and waits until every connection is closed: each one holds the
    /// agent, which must be released before it can shut down.
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

async fn stop(agent: Arc<Agent>) {
    match Arc::try_unwrap(agent) {
        Ok(a) => a.shutdown().await,
        Err(_) => tracing::warn!("agent still in use at shutdown; its queue stays on disk"),
    }
}

fn reload_on_sighup(agent: Arc<Agent>, path: PathBuf) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            match AgentConfig::load(&path) {
                Ok(cfg) => match agent.reload(cfg).await {
                    Ok(()) => tracing::info!("configuration reloaded"),
                    Err(e) => {
                        tracing::error!(error = %e, "reload failed; keeping the previous configuration")
                    }
                },
                Err(e) => {
                    tracing::error!(error = %e, "reload failed; keeping the previous configuration")
                }
            }
        }
    })
}

/// The demo agent's configuration: the server, the agent and the node-exporter
/// address are always scraped, so a node-exporter started after the demo is found at
/// its next scrape (until then its `up` is 0).
fn demo_config(args: &DemoArgs) -> String {
    format!(
        "cluster: demo\nserver:\n  url: http://{0}\nglobal:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: orrery\n    static_configs:\n      - targets: [\"{0}\"]\n  - job_name: orrery-agent\n    static_configs:\n      - targets: [\"{1}\"]\n  - job_name: node\n    static_configs:\n      - targets: [\"{2}\"]\n",
        args.listen, args.agent_listen, args.node_exporter
    )
}

/// `orrery demo`: a server and an agent in one process, scraping the server itself,
/// the agent and a local node-exporter (whenever one answers at its address).
pub fn run_demo(args: DemoArgs) -> Result<()> {
    // Only for the startup message: the node job is there either way.
    let node = std::net::TcpStream::connect_timeout(
        &args.node_exporter,
        std::time::Duration::from_millis(300),
    )
    .is_ok();
    let yaml = demo_config(&args);
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let config_path = args.data_dir.join("agent.yml");
    std::fs::write(&config_path, &yaml)
        .with_context(|| format!("writing {}", config_path.display()))?;
    let agent_cfg = AgentConfig::parse(&yaml, "demo agent configuration")?;
    let server_cfg = ServerConfig {
        listen: args.listen,
        data_dir: args.data_dir.join("server"),
        ..Default::default()
    };
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let agent_listener = tokio::net::TcpListener::bind(args.agent_listen)
            .await
            .with_context(|| format!("listening on {}", args.agent_listen))?;
        let server = tokio::task::spawn_blocking(move || crate::open_server(server_cfg)).await.context("opening storage")??;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server_task = tokio::spawn(server.serve(listener, async move {
            let _ = stop_rx.await;
        }));
        let agent = Arc::new(Agent::start(agent_cfg, &args.data_dir.join("agent")).await?);
        let api = StatusApi::serve(agent_listener, agent.clone(), config_path);
        println!(
            "Orrery demo is running.\n  Prometheus API and Grafana data source: http://{0}\n  try: curl -s 'http://{0}/api/v1/query' --data-urlencode 'query=sum by (job) (up)'\n  agent targets: http://{1}/api/v1/targets\n  scraping: orrery, orrery-agent{2}\nPress Ctrl-C to stop.",
            args.listen,
            args.agent_listen,
            if node {
                format!(", node-exporter at {}", args.node_exporter)
            } else {
                format!(
                    ", node-exporter at {} (none answers yet: its up is 0 until one listens there)",
                    args.node_exporter
                )
            }
        );
        crate::shutdown_signal().await;
        api.stop().await;
        stop(agent).await;
        let _ = stop_tx.send(());
        server_task.await.context("server task")??;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Demo {
        #[command(flatten)]
        args: DemoArgs,
    }

    #[test]
    fn the_demo_always_scrapes_the_node_exporter_address() {
        // Nothing listens on port 1: the node job is configured anyway, so a
        // node-exporter started there later is scraped without a restart.
        let demo = Demo::parse_from(["demo", "--node-exporter", "127.0.0.1:1"]);
        let yaml = demo_config(&demo.args);
        let cfg = AgentConfig::parse(&yaml, "demo").expect("a valid agent configuration");
        let jobs: Vec<&str> = cfg
            .scrape_configs
            .iter()
            .map(|s| s.job_name.as_str())
            .collect();
        assert_eq!(jobs, ["orrery", "orrery-agent", "node"]);
        assert!(yaml.contains("targets: [\"127.0.0.1:1\"]"), "{yaml}");
    }
}
