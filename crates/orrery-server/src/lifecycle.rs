//! The metric store's background work while the server runs, kept apart from the API
//! families: periodic maintenance (head cut, compaction, retention) and, with an
//! interval fsync policy, WAL syncs; and closing the store cleanly at shutdown.

use crate::error::ServerError;
use orrery_tsdb::{Db, FsyncPolicy};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tracing::error;

/// The running background loops of one store.
pub(crate) struct Lifecycle {
    db: Arc<Db>,
    tasks: Vec<JoinHandle<()>>,
}

impl Lifecycle {
    /// Starts maintenance every `maintenance_interval` and the WAL sync loop the
    /// store's fsync policy asks for.
    pub fn start(db: Arc<Db>, maintenance_interval: Duration) -> Lifecycle {
        let mut tasks = vec![tokio::spawn(maintenance_loop(
            db.clone(),
            maintenance_interval,
        ))];
        if let FsyncPolicy::Interval(d) = db.options().fsync {
            tasks.push(tokio::spawn(sync_loop(db.clone(), d)));
        }
        Lifecycle { db, tasks }
    }

    /// Stops the loops and closes the store (fsyncing the WAL).
    pub async fn close(self) -> Result<(), ServerError> {
        for t in &self.tasks {
            t.abort();
        }
        let db = self.db;
        tokio::task::spawn_blocking(move || db.close())
            .await
            .map_err(|e| ServerError::Io(std::io::Error::other(e)))??;
        Ok(())
    }
}

async fn maintenance_loop(db: Arc<Db>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        let db = db.clone();
        match tokio::task::spawn_blocking(move || db.maintain()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => error!(error = %e, "storage maintenance failed; will retry"),
            Err(e) => error!(error = %e, "storage maintenance task panicked"),
        }
    }
}

async fn sync_loop(db: Arc<Db>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let db = db.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || db.sync_wal()).await {
            error!(error = %e, "WAL fsync failed");
        }
    }
}
