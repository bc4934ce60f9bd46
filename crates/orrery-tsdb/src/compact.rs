//! Compaction: choosing which blocks to merge and merging them, and the k-way merge of
//! sorted series lists that queries use too.
//!
//! Design constraints:
//! 1. Overlapping blocks (from flushes, out-of-order data or an interrupted cut) are
//!    merged first, whatever their size.
//! 2. Otherwise blocks are merged into aligned windows of 3, 9, 27… block ranges, up to
//!    the maximum block length, and only once a window is entirely older than the head.
//! 3. Memory is bounded by one series per source block: sources are read series by
//!    series in label order.
//! 4. On equal timestamps the sample from the older source wins ("first value kept").

use crate::block::{self, Block, BlockMeta};
use crate::Result;
use orrery_model::{Labels, Sample};
use std::sync::Arc;

/// Picks the next set of blocks to merge, or `None`. `blocks` is sorted by min time.
pub(crate) fn plan(
    blocks: &[Arc<Block>],
    range: i64,
    max_block: i64,
    head_min: i64,
) -> Option<Vec<Arc<Block>>> {
    // Overlaps first.
    let mut group: Vec<Arc<Block>> = Vec::new();
    let mut group_max = i64::MIN;
    for b in blocks {
        if !group.is_empty() && b.meta().min_time < group_max {
            group.push(b.clone());
            group_max = group_max.max(b.meta().max_time);
            continue;
        }
        if group.len() > 1 {
            return Some(group);
        }
        group = vec![b.clone()];
        group_max = b.meta().max_time;
    }
    if group.len() > 1 {
        return Some(group);
    }
    // Then aligned windows, smallest first.
    let newest = blocks.iter().map(|b| b.meta().max_time).max()?;
    let complete_before = head_min.min(newest);
    let mut w = range.saturating_mul(3);
    while w <= max_block {
        let mut i = 0;
        while i < blocks.len() {
            let start = blocks[i].meta().min_time.div_euclid(w) * w;
            let end = start.saturating_add(w);
            let members: Vec<Arc<Block>> = blocks
                .iter()
                .filter(|b| b.meta().min_time >= start && b.meta().max_time <= end)
                .cloned()
                .collect();
            if members.len() > 1 && end <= complete_before {
                return Some(members);
            }
            i += members.len().max(1);
        }
        w = w.saturating_mul(3);
    }
    None
}

/// Merges `sources` into one new block in `dir`. Returns its meta, or `None` when the
/// sources held no samples at all.
pub(crate) fn run(dir: &std::path::Path, sources: &[Arc<Block>]) -> Result<Option<BlockMeta>> {
    let min_time = sources.iter().map(|b| b.meta().min_time).min().unwrap_or(0);
    let max_time = sources.iter().map(|b| b.meta().max_time).max().unwrap_or(0);
    let level = sources
        .iter()
        .map(|b| b.meta().compaction_level)
        .max()
        .unwrap_or(0)
        + 1;
    let mut src_ids: Vec<String> = Vec::new();
    for b in sources {
        if b.meta().sources.is_empty() {
            src_ids.push(b.meta().ulid.clone());
        } else {
            src_ids.extend(b.meta().sources.iter().cloned());
        }
        src_ids.push(b.meta().ulid.clone());
    }
    src_ids.sort();
    src_ids.dedup();
    // Sources ordered oldest first so that on equal timestamps the first write wins.
    let mut ordered: Vec<&Arc<Block>> = sources.iter().collect();
    ordered.sort_by(|a, b| a.meta().ulid.cmp(&b.meta().ulid));
    let iters: Vec<_> = ordered.iter().map(|b| b.iter_series().peekable()).collect();
    let merged = MergeIter { iters };
    block::write_block(dir, min_time, max_time, level, src_ids, merged)
}

type SeriesItem = Result<(Labels, Vec<Sample>)>;

/// K-way merge of label-sorted series iterators; equal label sets have their samples
/// merged, earlier iterators winning ties.
struct MergeIter<I: Iterator<Item = SeriesItem>> {
    iters: Vec<std::iter::Peekable<I>>,
}

impl<I: Iterator<Item = SeriesItem>> Iterator for MergeIter<I> {
    type Item = SeriesItem;

    fn next(&mut self) -> Option<SeriesItem> {
        // Surface errors first.
        for it in &mut self.iters {
            if matches!(it.peek(), Some(Err(_))) {
                return it.next();
            }
        }
        let min: Labels = self
            .iters
            .iter_mut()
            .filter_map(|it| match it.peek() {
                Some(Ok((l, _))) => Some(l.clone()),
                _ => None,
            })
            .min()?;
        let mut samples: Option<Vec<Sample>> = None;
        for it in &mut self.iters {
            if matches!(it.peek(), Some(Ok((l, _))) if *l == min) {
                if let Some(Ok((_, s))) = it.next() {
                    samples = Some(match samples {
                        None => s,
                        Some(acc) => crate::head::merge_sorted(acc, &s),
                    });
                }
            }
        }
        Some(Ok((min, samples.unwrap_or_default())))
    }
}

/// Merges label-sorted lists of series from several sources (earlier lists win ties
/// on equal timestamps) into one label-sorted list.
pub(crate) fn merge_series_lists(
    parts: Vec<Vec<(Labels, Vec<Sample>)>>,
) -> Vec<(Labels, Vec<Sample>)> {
    let non_empty: Vec<_> = parts.into_iter().filter(|p| !p.is_empty()).collect();
    if non_empty.len() <= 1 {
        return non_empty.into_iter().next().unwrap_or_default();
    }
    let iters = non_empty
        .into_iter()
        .map(|p| p.into_iter().map(Ok::<_, crate::TsdbError>).peekable())
        .collect();
    MergeIter { iters }.filter_map(|r| r.ok()).collect()
}
