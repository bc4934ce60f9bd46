//! Scraping: turning discovered groups into targets per job and keeping exactly one
//! scrape loop running per active target.
//!
//! Concurrency contract: the manager is owned by one task (the agent's update loop);
//! each scrape loop is its own tokio task, steered through a channel ([`run::Control`]).
//! A loop stopped because its target is gone (or the agent stops) queues stale markers
//! for its series and report series. A loop stopped by a configuration reload does not:
//! as Prometheus's `scrapePool.reload`, it hands its state to the target's new loop once
//! discovery shows the target again, and only marks its series stale if that does not
//! happen within a little over two intervals (the target is gone after the reload).

mod cache;
mod error;
mod run;
mod target;

#[cfg(test)]
mod tests;

pub use error::{LabelLimitError, ScrapeError};
use run::Control;
#[cfg(test)]
use run::SYNTHETIC;
pub use run::{Health, JobContext, ScrapeLoop, Sink, SinkError};
pub use target::{fmt_duration, populate, Populated, Target};

use crate::discovery::{LabelSet, TargetGroup, Update};
use orrery_model::{RelabelError, Relabeler};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

struct Running {
    target: Target,
    health: Arc<Mutex<Health>>,
    ctl: mpsc::UnboundedSender<Control>,
    handle: JoinHandle<()>,
}

struct JobState {
    ctx: Arc<JobContext>,
    relabel: Relabeler,
    groups: BTreeMap<String, TargetGroup>,
    loops: HashMap<u64, Running>,
    /// Loops a reload stopped, by target, until the target's new loop takes their
    /// state or they give up and mark their series stale.
    retiring: HashMap<u64, Running>,
    dropped: Vec<LabelSet>,
}

/// One active target as the targets API shows it.
#[derive(Debug, Clone)]
pub struct ActiveTarget {
    /// The job.
    pub job: String,
    /// The target.
    pub target: Target,
    /// Its health.
    pub health: Health,
}

/// What the targets API shows.
#[derive(Debug, Clone, Default)]
pub struct TargetsSnapshot {
    /// Targets being scraped.
    pub active: Vec<ActiveTarget>,
    /// Discovered targets dropped by relabeling, with their job.
    pub dropped: Vec<(String, LabelSet)>,
}

/// All jobs and their loops.
#[derive(Default)]
pub struct ScrapeManager {
    jobs: BTreeMap<String, JobState>,
}

impl ScrapeManager {
    /// An empty manager.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a job, or replaces one (a reload): its loops stop scraping and wait to
    /// hand over to the new loops of the targets that continue. Its groups start empty.
    pub fn set_job(&mut self, ctx: Arc<JobContext>) -> Result<(), RelabelError> {
        let relabel = Relabeler::new(&ctx.scrape.config.relabel_configs)?;
        let name = ctx.scrape.config.job_name.clone();
        let mut retiring = HashMap::new();
        if let Some(old) = self.jobs.remove(&name) {
            // Still waiting from an earlier reload: they keep waiting.
            retiring = old.retiring;
            for (h, r) in old.loops {
                let _ = r.ctl.send(Control::Reload);
                // A target has one loop: a newer one replaces an older one still
                // waiting, which then ends as a gone target.
                if let Some(older) = retiring.insert(h, r) {
                    let _ = older.ctl.send(Control::Stop);
                }
            }
        }
        self.jobs.insert(
            name,
            JobState {
                ctx,
                relabel,
                groups: BTreeMap::new(),
                loops: HashMap::new(),
                retiring,
                dropped: Vec::new(),
            },
        );
        Ok(())
    }

    /// Names of the jobs.
    pub fn job_names(&self) -> Vec<String> {
        self.jobs.keys().cloned().collect()
    }

    /// Stops and removes a job.
    pub fn remove_job(&mut self, name: &str) {
        if let Some(old) = self.jobs.remove(name) {
            stop_loops(old.loops.into_values().chain(old.retiring.into_values()));
        }
    }

    /// Applies a discovery update to a job and starts/stops loops to match.
    pub fn update(&mut self, job: &str, update: Update) {
        let Some(st) = self.jobs.get_mut(job) else {
            return;
        };
        for g in update {
            if g.targets.is_empty() {
                st.groups.remove(&g.source);
            } else {
                st.groups.insert(g.source.clone(), g);
            }
        }
        let groups: Vec<&TargetGroup> = st.groups.values().collect();
        let mut wanted: HashMap<u64, Target> = HashMap::new();
        st.dropped.clear();
        for p in populate(&groups, &st.ctx.scrape, &st.relabel) {
            match p {
                Ok(Populated::Active(t)) => {
                    wanted.insert(t.hash, t);
                }
                Ok(Populated::Dropped(ls)) => st.dropped.push(ls),
                Err(e) => tracing::warn!(job, error = %e, "skipping target"),
            }
        }
        let gone: Vec<u64> = st
            .loops
            .keys()
            .filter(|h| !wanted.contains_key(h))
            .copied()
            .collect();
        stop_loops(gone.into_iter().filter_map(|h| st.loops.remove(&h)));
        // Those that gave up already have nothing left to hand over.
        st.retiring.retain(|_, r| !r.handle.is_finished());
        for (h, t) in wanted {
            if st.loops.contains_key(&h) {
                continue;
            }
            // The target continues after a reload: its new loop takes the old one's
            // state, so neither marks anything stale for the change.
            let inherit = st.retiring.remove(&h).map(|old| {
                let (tx, rx) = oneshot::channel();
                let _ = old.ctl.send(Control::HandOver(tx));
                rx
            });
            let lp = ScrapeLoop::new(st.ctx.clone(), t.clone());
            let health = lp.health.clone();
            let (ctl, rx) = mpsc::unbounded_channel();
            let handle = tokio::spawn(lp.run(rx, inherit));
            st.loops.insert(
                h,
                Running {
                    target: t,
                    health,
                    ctl,
                    handle,
                },
            );
        }
    }

    /// The current targets.
    pub fn snapshot(&self) -> TargetsSnapshot {
        let mut out = TargetsSnapshot::default();
        for (name, st) in &self.jobs {
            for r in st.loops.values() {
                let health = r.health.lock().unwrap_or_else(|p| p.into_inner()).clone();
                out.active.push(ActiveTarget {
                    job: name.clone(),
                    target: r.target.clone(),
                    health,
                });
            }
            out.dropped
                .extend(st.dropped.iter().map(|d| (name.clone(), d.clone())));
        }
        out.active
            .sort_by(|a, b| (&a.job, &a.target.url).cmp(&(&b.job, &b.target.url)));
        out
    }

    /// Stops every loop and waits for them to queue their stale markers.
    pub async fn stop_all(&mut self) {
        let mut handles = Vec::new();
        for (_, st) in std::mem::take(&mut self.jobs) {
            for r in st.loops.into_values().chain(st.retiring.into_values()) {
                let _ = r.ctl.send(Control::Stop);
                handles.push(r.handle);
            }
        }
        for h in handles {
            let _ = h.await;
        }
    }
}

fn stop_loops(loops: impl Iterator<Item = Running>) {
    for r in loops {
        // The loop marks its series stale and exits by itself.
        let _ = r.ctl.send(Control::Stop);
    }
}
