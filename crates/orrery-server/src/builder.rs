//! Assembling a server from components that are already open: the metric store today
//! (the log store, rule manager and notifier next), each mounted as one or more API
//! families (a router, the path prefixes it owns, and its error envelope).
//!
//! The builder owns what no family may skip or duplicate:
//! - one authentication layer ([`Authenticator`]) around every route of every family
//!   and around the fallback;
//! - request counting for `/metrics`;
//! - one fallback: a path under a family's prefix gets a 404 in that family's envelope
//!   (Prometheus JSON under `/api/v1/` and `/federate`, a family's own shape under its
//!   prefix; the longest prefix wins), any other path gets Go's plain-text
//!   `404 page not found`, as Prometheus answers paths outside its API. A refusal by the
//!   authenticator is answered in the same envelope.

use crate::api::admin::{self, AdminState};
use crate::api::prometheus::{self, PrometheusState};
use crate::auth::{AllowAll, Authenticator};
use crate::config::ServerConfig;
use crate::error::ServerError;
use crate::lifecycle::Lifecycle;
use crate::telemetry::HttpMetrics;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use orrery_promql::QueryGate;
use orrery_tsdb::Db;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tracing::info;

/// Renders a failure (status and message) in a family's error shape.
pub type Envelope = fn(StatusCode, &str) -> Response;

/// The envelope of paths no family owns: plain text, as Go's `http.Error` writes it.
pub fn plain_text(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response()
}

/// One API family: its routes (without a fallback), the path prefixes it owns and the
/// envelope its errors use.
pub struct Family {
    router: Router,
    prefixes: Vec<String>,
    envelope: Envelope,
}

impl Family {
    /// A family answering its unknown paths and refusals with `envelope`.
    pub fn new(router: Router, envelope: Envelope) -> Family {
        Family {
            router,
            prefixes: Vec::new(),
            envelope,
        }
    }

    /// Claims paths starting with `prefix` for this family's 404s and refusals.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Family {
        self.prefixes.push(prefix.into());
        self
    }
}

/// Builds a [`Server`] from open components.
pub struct ServerBuilder {
    cfg: ServerConfig,
    db: Arc<Db>,
    gate: Option<Arc<QueryGate>>,
    auth: Arc<dyn Authenticator>,
    families: Vec<Family>,
}

impl ServerBuilder {
    /// A server over an open metric store, with the settings of `cfg` (its `storage`
    /// section has already been used to open `db`).
    pub fn new(cfg: ServerConfig, db: Arc<Db>) -> ServerBuilder {
        ServerBuilder {
            cfg,
            db,
            gate: None,
            auth: Arc::new(AllowAll),
            families: Vec::new(),
        }
    }

    /// Runs queries through `gate` instead of a new one from `query:`, so that other
    /// query callers (rule evaluation) share its slots and limits.
    pub fn query_gate(mut self, gate: Arc<QueryGate>) -> ServerBuilder {
        self.gate = Some(gate);
        self
    }

    /// Asks `auth` about every request (default: [`AllowAll`]).
    pub fn authenticator(mut self, auth: Arc<dyn Authenticator>) -> ServerBuilder {
        self.auth = auth;
        self
    }

    /// Mounts another API family next to the Prometheus and admin ones. Its routes must
    /// not overlap theirs (axum refuses overlapping routes when [`Self::build`] merges
    /// them, by panicking: a wiring mistake, caught by any test that builds the server).
    pub fn family(mut self, family: Family) -> ServerBuilder {
        self.families.push(family);
        self
    }

    /// Merges the families into one router behind the fallback and the seams.
    pub fn build(self) -> Result<Server, ServerError> {
        self.cfg.validate().map_err(ServerError::Config)?;
        let gate = self
            .gate
            .unwrap_or_else(|| Arc::new(QueryGate::new(self.cfg.query.limits())));
        let metrics = Arc::new(HttpMetrics::default());
        let prom = Arc::new(PrometheusState {
            storage: self.db.clone(),
            appender: self.db.clone(),
            gate: gate.clone(),
            metrics: metrics.clone(),
            limits: self.cfg.limits.clone(),
            out_of_order_window: self.cfg.storage.out_of_order_window,
        });
        let adm = Arc::new(AdminState {
            store: self.db.clone(),
            metrics: metrics.clone(),
        });
        let mut families = vec![
            prometheus::PREFIXES.iter().fold(
                Family::new(prometheus::routes(prom), prometheus::error::envelope),
                |f, p| f.prefix(*p),
            ),
            // Owns no prefix: its paths' 404s are the plain default.
            Family::new(admin::routes(adm), plain_text),
        ];
        families.extend(self.families);
        let mut router = Router::new();
        let mut envelopes: Vec<(String, Envelope)> = Vec::new();
        for f in families {
            router = router.merge(f.router);
            envelopes.extend(f.prefixes.into_iter().map(|p| (p, f.envelope)));
        }
        // Longest prefix first, so that a family mounted under another's prefix wins.
        envelopes.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        let seam = Arc::new(Seam {
            auth: self.auth,
            envelopes,
        });
        let router = router
            .merge(Router::new().fallback(not_found).with_state(seam.clone()))
            .layer(middleware::from_fn_with_state(seam, authenticate))
            .layer(middleware::from_fn_with_state(metrics, count_requests));
        Ok(Server {
            router,
            db: self.db,
            gate,
            maintenance_interval: self.cfg.storage.maintenance_interval,
            data_dir: self.cfg.data_dir,
        })
    }
}

/// What the fallback and the authentication layer need.
struct Seam {
    auth: Arc<dyn Authenticator>,
    /// Prefix and envelope, longest prefix first.
    envelopes: Vec<(String, Envelope)>,
}

impl Seam {
    /// The envelope of the family owning `path`, if one does.
    fn envelope(&self, path: &str) -> Option<Envelope> {
        self.envelopes
            .iter()
            .find(|(p, _)| path.starts_with(p.as_str()))
            .map(|(_, e)| *e)
    }
}

async fn not_found(State(seam): State<Arc<Seam>>, req: Request) -> Response {
    match seam.envelope(req.uri().path()) {
        Some(envelope) => envelope(StatusCode::NOT_FOUND, "no such endpoint"),
        None => plain_text(StatusCode::NOT_FOUND, "404 page not found"),
    }
}

async fn authenticate(State(seam): State<Arc<Seam>>, req: Request, next: Next) -> Response {
    match seam.auth.authenticate(&req) {
        Ok(()) => next.run(req).await,
        Err(d) => seam.envelope(req.uri().path()).unwrap_or(plain_text)(d.status, &d.message),
    }
}

async fn count_requests(
    State(metrics): State<Arc<HttpMetrics>>,
    req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "other".into());
    let resp = next.run(req).await;
    metrics.observe(&route, resp.status().as_u16());
    resp
}

/// A server ready to serve: components are open, nothing is listening yet.
pub struct Server {
    router: Router,
    db: Arc<Db>,
    gate: Arc<QueryGate>,
    maintenance_interval: Duration,
    data_dir: std::path::PathBuf,
}

impl Server {
    /// Validates the configuration, opens the metric store it names (replaying the
    /// WAL) and builds a server over it with the defaults of [`ServerBuilder`].
    pub fn open(cfg: ServerConfig) -> Result<Server, ServerError> {
        cfg.validate().map_err(ServerError::Config)?;
        let opts = cfg.storage.to_options().map_err(ServerError::Config)?;
        let db = Arc::new(Db::open(&cfg.data_dir, opts)?);
        ServerBuilder::new(cfg, db).build()
    }

    /// The merged router, for tests that call handlers without a socket.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// The query gate the server's queries run through, to share with other callers.
    pub fn query_gate(&self) -> &Arc<QueryGate> {
        &self.gate
    }

    /// Serves until `shutdown` resolves, then drains requests and closes storage.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let lifecycle = Lifecycle::start(self.db.clone(), self.maintenance_interval);
        info!(addr = %listener.local_addr()?, data_dir = %self.data_dir.display(), "orrery server listening");
        let result = axum::serve(listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await;
        lifecycle.close().await?;
        info!("storage closed cleanly");
        result.map_err(ServerError::Io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Denied;
    use axum::body::Body;
    use axum::routing::get;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tower::ServiceExt;

    /// Lets a request through only with `x-token: ok`, counting what it is asked.
    #[derive(Default)]
    struct TokenAuth {
        asked: AtomicUsize,
    }

    impl Authenticator for TokenAuth {
        fn authenticate(&self, req: &Request) -> Result<(), Denied> {
            self.asked.fetch_add(1, Ordering::Relaxed);
            match req.headers().get("x-token") {
                Some(v) if v == "ok" => Ok(()),
                _ => Err(Denied {
                    status: StatusCode::UNAUTHORIZED,
                    message: "no token".into(),
                }),
            }
        }
    }

    fn custom_envelope(status: StatusCode, message: &str) -> Response {
        (status, format!("custom: {message}")).into_response()
    }

    fn server(dir: &std::path::Path, auth: Arc<dyn Authenticator>) -> Router {
        let cfg = ServerConfig {
            data_dir: dir.to_path_buf(),
            ..Default::default()
        };
        let db = Arc::new(Db::open(dir, cfg.storage.to_options().unwrap()).unwrap());
        let custom = Family::new(
            Router::new().route("/custom/hello", get(|| async { "hi" })),
            custom_envelope,
        )
        .prefix("/custom/");
        ServerBuilder::new(cfg, db)
            .authenticator(auth)
            .family(custom)
            .build()
            .unwrap()
            .router()
    }

    async fn call(r: &Router, uri: &str, token: Option<&str>) -> (StatusCode, String, String) {
        let mut req = Request::get(uri);
        if let Some(t) = token {
            req = req.header("x-token", t);
        }
        let resp = r
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let ct = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, ct, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn every_mounted_route_passes_through_the_authenticator() {
        let dir = tempfile::tempdir().unwrap();
        let auth = Arc::new(TokenAuth::default());
        let r = server(dir.path(), auth.clone());
        // A family mounted through the builder cannot skip the seam.
        assert_eq!(
            call(&r, "/custom/hello", None).await,
            (
                StatusCode::UNAUTHORIZED,
                "text/plain; charset=utf-8".into(),
                "custom: no token".into()
            )
        );
        let (s, _, b) = call(&r, "/custom/hello", Some("ok")).await;
        assert_eq!((s, b.as_str()), (StatusCode::OK, "hi"));
        // Nor can the built-in families, nor the fallback; refusals use the envelope
        // of the family owning the path.
        let (s, ct, b) = call(&r, "/api/v1/query?query=1", None).await;
        assert_eq!(
            (s, ct.as_str()),
            (StatusCode::UNAUTHORIZED, "application/json")
        );
        assert_eq!(
            b,
            r#"{"status":"error","errorType":"bad_data","error":"no token"}"#
        );
        let (s, _, b) = call(&r, "/-/ready", None).await;
        assert_eq!((s, b.as_str()), (StatusCode::UNAUTHORIZED, "no token\n"));
        let (s, _, _) = call(&r, "/nowhere", None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, _, _) = call(&r, "/-/ready", Some("ok")).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(auth.asked.load(Ordering::Relaxed), 6);
    }

    /// A gate handed to the builder is the one HTTP queries wait on: a slot held by
    /// another caller (rule evaluation, say) makes an HTTP query queue and time out.
    #[tokio::test]
    async fn http_queries_share_a_gate_given_to_the_builder() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = ServerConfig {
            data_dir: dir.path().to_path_buf(),
            ..Default::default()
        };
        let db = Arc::new(Db::open(dir.path(), cfg.storage.to_options().unwrap()).unwrap());
        let gate = Arc::new(QueryGate::new(orrery_promql::QueryLimits {
            max_concurrent: 1,
            ..cfg.query.limits()
        }));
        let server = ServerBuilder::new(cfg, db)
            .query_gate(gate.clone())
            .build()
            .unwrap();
        assert!(Arc::ptr_eq(server.query_gate(), &gate));
        let r = server.router();
        let held = gate.admit(gate.default_settings()).await.unwrap();
        let (s, _, b) = call(&r, "/api/v1/query?query=1&timeout=50ms", None).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{b}");
        assert!(b.contains("query.max_concurrent = 1"), "{b}");
        drop(held);
        let (s, _, b) = call(&r, "/api/v1/query?query=1", None).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }

    #[tokio::test]
    async fn unknown_paths_get_a_404_in_the_envelope_of_the_family_owning_them() {
        let dir = tempfile::tempdir().unwrap();
        let r = server(dir.path(), Arc::new(AllowAll));
        let (s, ct, b) = call(&r, "/api/v1/nope", None).await;
        assert_eq!(
            (s, ct.as_str()),
            (StatusCode::NOT_FOUND, "application/json")
        );
        assert_eq!(
            b,
            r#"{"status":"error","errorType":"not_found","error":"no such endpoint"}"#
        );
        let (s, _, b) = call(&r, "/custom/nope", None).await;
        assert_eq!(
            (s, b.as_str()),
            (StatusCode::NOT_FOUND, "custom: no such endpoint")
        );
        for uri in ["/nope", "/-/nope", "/graph"] {
            assert_eq!(
                call(&r, uri, None).await,
                (
                    StatusCode::NOT_FOUND,
                    "text/plain; charset=utf-8".into(),
                    "404 page not found\n".into()
                ),
                "{uri}"
            );
        }
    }
}
