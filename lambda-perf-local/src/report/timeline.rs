//! When each invocation ran, on the run's clock, and which ones overlapped.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use super::model::ReportedInvocation;
use super::record::RecordedInvocation;

/// Fills [`ReportedInvocation::started_ms`] (from the run's first hand-out) and
/// [`ReportedInvocation::concurrent_with`] (invocations whose hand-out-to-outcome spans
/// intersect) from the harness's clock. In one sweep over the spans by their start: the time
/// grows with the run and the overlaps it has, not with every pair of invocations (a run of
/// 1,000,000 has 10^12 pairs).
pub(super) fn place(invocations: &mut [ReportedInvocation], runs: &[RecordedInvocation]) {
    let spans: Vec<Option<(Instant, Instant)>> = runs
        .iter()
        .map(|run| {
            let reply = run.reply.as_ref().ok()?;
            Some((reply.handed_out_at?, reply.resolved_at))
        })
        .collect();
    let mut by_start: Vec<(Instant, Instant, usize)> = spans
        .iter()
        .enumerate()
        .filter_map(|(i, span)| span.map(|(start, end)| (start, end, i)))
        .collect();
    let Some(origin) = by_start.iter().map(|&(start, _, _)| start).min() else {
        return;
    };
    by_start.sort_unstable_by_key(|&(start, _, i)| (start, i));
    let mut overlapping: Vec<Vec<usize>> = vec![Vec::new(); runs.len()];
    for (position, &(start, end, i)) in by_start.iter().enumerate() {
        // Every later span starts at or after this one: it overlaps this one if it starts
        // before this one ends (and does not end at this one's start), and none after the
        // first that starts at or after this one's end does.
        for &(other_start, other_end, j) in &by_start[position + 1..] {
            if other_start >= end {
                break;
            }
            if start < other_end {
                overlapping[i].push(j);
                overlapping[j].push(i);
            }
        }
    }
    for (i, invocation) in invocations.iter_mut().enumerate() {
        let Some(Some((start, _))) = spans.get(i) else {
            continue;
        };
        invocation.started_ms = Some(start.duration_since(origin).as_secs_f64() * 1000.0);
        let mut concurrent: Vec<usize> = overlapping[i].iter().map(|&j| runs[j].index).collect();
        concurrent.sort_unstable();
        invocation.concurrent_with = concurrent;
    }
}

/// The invocations that overlapped, in groups of those in flight together (connected by
/// overlaps), each group by index; invocations that ran alone are in none.
pub(super) fn concurrent_groups(
    invocations: &[ReportedInvocation],
) -> Vec<Vec<&ReportedInvocation>> {
    let position: HashMap<usize, usize> = invocations
        .iter()
        .enumerate()
        .map(|(at, invocation)| (invocation.index, at))
        .collect();
    // Each invocation's representative in its group (a union-find by position).
    let mut parent: Vec<usize> = (0..invocations.len()).collect();
    fn root(parent: &mut [usize], mut at: usize) -> usize {
        while parent[at] != at {
            parent[at] = parent[parent[at]];
            at = parent[at];
        }
        at
    }
    for (at, invocation) in invocations.iter().enumerate() {
        for other in &invocation.concurrent_with {
            if let Some(&other) = position.get(other) {
                let (a, b) = (root(&mut parent, at), root(&mut parent, other));
                parent[a.max(b)] = a.min(b);
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<&ReportedInvocation>> = BTreeMap::new();
    for (at, invocation) in invocations.iter().enumerate() {
        if !invocation.concurrent_with.is_empty() {
            groups
                .entry(root(&mut parent, at))
                .or_default()
                .push(invocation);
        }
    }
    let mut groups: Vec<Vec<&ReportedInvocation>> = groups.into_values().collect();
    for group in &mut groups {
        group.sort_by_key(|member| member.index);
    }
    groups.sort_by_key(|group| group[0].index);
    groups
}
