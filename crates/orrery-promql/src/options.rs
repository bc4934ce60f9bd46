//! Engine settings. They sit apart from `engine.rs` because both the engine (which
//! holds them) and the evaluator (which reads them on every step) need them; here
//! neither module has to import the other for them.

use std::time::Duration;

/// Engine settings; the defaults are Prometheus's.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// How far back a selector looks for the latest sample (default 5m).
    pub lookback_delta_ms: i64,
    /// Step of subqueries written without one, `x[5m:]` (default 1m).
    pub default_subquery_step_ms: i64,
    /// Most samples a query may hold in memory (default 50,000,000).
    pub max_samples: usize,
    /// Longest a query may run (default 2m).
    pub timeout: Duration,
    /// Prometheus's `promql-delayed-name-removal` feature flag (default off). Off,
    /// functions and operators that drop `__name__` drop it at once, and series left
    /// with equal label sets are an error where they meet, as Prometheus 3 does by
    /// default. On, the name is only marked and removed when the result is built, so
    /// it stays readable (`label_replace(rate(x[1m]), "__name__", …)`, `sum by
    /// (__name__)`) and series differing only by name do not collide mid-query.
    pub delayed_name_removal: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_delta_ms: 5 * 60 * 1000,
            default_subquery_step_ms: 60 * 1000,
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            delayed_name_removal: false,
        }
    }
}
