//! The router and the server's lifecycle: open storage, serve, run maintenance in the
//! background, shut down cleanly (stop accepting, finish requests, fsync the WAL).

mod admin;
mod federate;
mod json;
mod params;
mod query;
mod read;
mod status;
mod write;

pub(crate) use json::string as json_string;

use crate::config::ServerConfig;
use crate::error::ServerError;
use crate::telemetry::HttpMetrics;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use orrery_tsdb::{Db, FsyncPolicy};
use std::future::Future;
use std::sync::Arc;
use tracing::{error, info};

/// Shared by every handler.
pub(crate) struct AppState {
    pub db: Arc<Db>,
    pub cfg: ServerConfig,
    pub metrics: HttpMetrics,
    /// The limits every query runs under (`query.*`).
    pub gate: orrery_promql::QueryGate,
}

/// A running-to-be server: storage is open, nothing is listening yet.
pub struct Server {
    state: Arc<AppState>,
}

impl Server {
    /// Validates the configuration and opens storage (replaying the WAL).
    pub fn open(cfg: ServerConfig) -> Result<Server, ServerError> {
        let opts = cfg.storage.to_options().map_err(ServerError::Config)?;
        cfg.query.validate().map_err(ServerError::Config)?;
        let db = Db::open(&cfg.data_dir, opts)?;
        Ok(Server {
            state: Arc::new(AppState {
                db: Arc::new(db),
                gate: orrery_promql::QueryGate::new(cfg.query.limits()),
                cfg,
                metrics: HttpMetrics::default(),
            }),
        })
    }

    /// The router, for tests that call handlers without a socket.
    pub fn router(&self) -> Router {
        router(self.state.clone())
    }

    /// Serves until `shutdown` resolves, then drains requests and syncs the WAL.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let state = self.state.clone();
        let maint = tokio::spawn(maintenance_loop(state.clone()));
        let sync = match state.db.options().fsync {
            FsyncPolicy::Interval(d) => Some(tokio::spawn(sync_loop(state.db.clone(), d))),
            FsyncPolicy::Always => None,
        };
        info!(addr = %listener.local_addr()?, data_dir = %state.cfg.data_dir.display(), "orrery server listening");
        let result = axum::serve(listener, router(state.clone()))
            .with_graceful_shutdown(shutdown)
            .await;
        maint.abort();
        if let Some(s) = sync {
            s.abort();
        }
        let db = state.db.clone();
        tokio::task::spawn_blocking(move || db.close())
            .await
            .map_err(|e| ServerError::Io(std::io::Error::other(e)))??;
        info!("storage closed cleanly");
        result.map_err(ServerError::Io)
    }
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/v1/write", post(write::remote_write))
        .route("/api/v1/query", get(query::query).post(query::query))
        .route(
            "/api/v1/query_range",
            get(query::query_range).post(query::query_range),
        )
        .route(
            "/api/v1/format_query",
            get(query::format_query).post(query::format_query),
        )
        .route(
            "/api/v1/query_exemplars",
            get(query::query_exemplars).post(query::query_exemplars),
        )
        .route("/api/v1/metadata", get(status::metadata))
        .route("/api/v1/status/buildinfo", get(status::buildinfo))
        .route("/federate", get(federate::federate))
        .route("/api/v1/series", get(read::series).post(read::series))
        .route("/api/v1/labels", get(read::labels).post(read::labels))
        .route("/api/v1/label/{name}/values", get(read::label_values))
        .route("/api/v1/admin/flush", post(admin::flush))
        .route("/metrics", get(admin::metrics))
        .route("/-/ready", get(admin::ready))
        .route("/-/healthy", get(admin::ready))
        .fallback(admin::not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .with_state(state)
}

async fn count_requests(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "other".into());
    let resp = next.run(req).await;
    state.metrics.observe(&route, resp.status().as_u16());
    resp
}

async fn maintenance_loop(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(state.cfg.storage.maintenance_interval);
    tick.tick().await;
    loop {
        tick.tick().await;
        let db = state.db.clone();
        match tokio::task::spawn_blocking(move || db.maintain()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => error!(error = %e, "storage maintenance failed; will retry"),
            Err(e) => error!(error = %e, "storage maintenance task panicked"),
        }
    }
}

async fn sync_loop(db: Arc<Db>, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let db = db.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || db.sync_wal()).await {
            error!(error = %e, "WAL fsync failed");
        }
    }
}

#[cfg(test)]
mod grafana_tests;
#[cfg(test)]
mod query_tests;
#[cfg(test)]
mod tests;
