//! Per-series work split across cores.
//!
//! Selecting samples and applying per-series functions (`rate`, `*_over_time`, the
//! lookback of instant selectors) is independent for every series, and it is most of
//! a range query's time. [`map`] cuts the series into one contiguous run per core and
//! concatenates the runs' results in order, so the output is exactly the sequential
//! one: same values, same order, same floating-point operations per series.
//!
//! Small inputs stay on the calling thread, where starting a thread (tens of
//! microseconds) would cost more than it saves.

/// Fewest items worth spreading over threads.
pub(crate) const PARALLEL_MIN_ITEMS: usize = 64;

/// Cores available to this process, asked once: `available_parallelism` reads the
/// cgroup's CPU quota from files on every call.
fn threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// `items.iter().map(f).collect()`, on up to one thread per core. A panic in `f`
/// propagates to the caller as it would sequentially.
pub(crate) fn map<T: Sync, U: Send>(items: &[T], f: impl Fn(&T) -> U + Sync) -> Vec<U> {
    let threads = threads();
    if threads < 2 || items.len() < PARALLEL_MIN_ITEMS {
        return items.iter().map(f).collect();
    }
    let f = &f;
    spread(
        items.len(),
        items.chunks(items.len().div_ceil(threads)),
        |run| run.iter().map(f).collect(),
    )
}

/// `f(item)` for every item, changing it in place, on up to one thread per core;
/// returns what `f` returned, in item order.
pub(crate) fn map_mut<T: Send, U: Send>(items: &mut [T], f: impl Fn(&mut T) -> U + Sync) -> Vec<U> {
    let threads = threads();
    if threads < 2 || items.len() < PARALLEL_MIN_ITEMS {
        return items.iter_mut().map(f).collect();
    }
    let (n, per) = (items.len(), items.len().div_ceil(threads));
    let f = &f;
    spread(n, items.chunks_mut(per), |run| {
        run.iter_mut().map(f).collect()
    })
}

/// Runs `f` on every run, the first on the calling thread and each other one on a
/// thread of its own, and concatenates the results (`n` in all) in run order.
fn spread<R: Send, U: Send>(
    n: usize,
    mut runs: impl Iterator<Item = R>,
    f: impl Fn(R) -> Vec<U> + Sync,
) -> Vec<U> {
    let f = &f;
    std::thread::scope(|scope| {
        // The calling thread takes the first run itself.
        let first = runs.next();
        let handles: Vec<_> = runs.map(|run| scope.spawn(move || f(run))).collect();
        let mut out: Vec<U> = Vec::with_capacity(n);
        if let Some(run) = first {
            out.extend(f(run));
        }
        for h in handles {
            match h.join() {
                Ok(part) => out.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_order_at_every_size() {
        for n in [0, 1, 63, 64, 65, 1000, 1001] {
            let items: Vec<usize> = (0..n).collect();
            let got = super::map(&items, |&i| i * 3);
            let want: Vec<usize> = items.iter().map(|&i| i * 3).collect();
            assert_eq!(got, want, "n = {n}");
            let mut items = items;
            let odd = super::map_mut(&mut items, |i| {
                *i += 1;
                *i % 2 == 1
            });
            assert_eq!(items, (1..=n).collect::<Vec<usize>>(), "n = {n}");
            assert_eq!(odd, items.iter().map(|i| i % 2 == 1).collect::<Vec<_>>());
        }
    }
}
