//! When each invocation ran, on the run's clock, and which ones overlapped.

use std::time::Instant;

use super::model::ReportedInvocation;
use super::record::RecordedInvocation;

/// Fills [`ReportedInvocation::started_ms`] (from the run's first hand-out) and
/// [`ReportedInvocation::concurrent_with`] (invocations whose hand-out-to-outcome spans
/// intersect) from the harness's clock.
pub(super) fn place(invocations: &mut [ReportedInvocation], runs: &[RecordedInvocation]) {
    let spans: Vec<Option<(Instant, Instant)>> = runs
        .iter()
        .map(|run| {
            let reply = run.reply.as_ref().ok()?;
            Some((reply.handed_out_at?, reply.resolved_at))
        })
        .collect();
    let Some(origin) = spans.iter().flatten().map(|(start, _)| *start).min() else {
        return;
    };
    for (i, invocation) in invocations.iter_mut().enumerate() {
        let Some(Some((start, _))) = spans.get(i) else {
            continue;
        };
        invocation.started_ms = Some(start.duration_since(origin).as_secs_f64() * 1000.0);
        let (start, end) = spans[i].unwrap_or((*start, *start));
        invocation.concurrent_with = spans
            .iter()
            .enumerate()
            .filter(|(j, other)| {
                *j != i
                    && other.is_some_and(|(other_start, other_end)| {
                        other_start < end && start < other_end
                    })
            })
            .map(|(j, _)| runs[j].index)
            .collect();
    }
}

/// The invocations that overlapped, in groups of those in flight together (connected by
/// overlaps), each group by index; invocations that ran alone are in none.
pub(super) fn concurrent_groups(
    invocations: &[ReportedInvocation],
) -> Vec<Vec<&ReportedInvocation>> {
    let mut groups: Vec<Vec<&ReportedInvocation>> = Vec::new();
    for invocation in invocations.iter().filter(|i| !i.concurrent_with.is_empty()) {
        let overlaps = |group: &Vec<&ReportedInvocation>| {
            group
                .iter()
                .any(|member| member.concurrent_with.contains(&invocation.index))
        };
        // Every group this one overlaps becomes one, with it.
        let (mut joined, rest): (Vec<_>, Vec<_>) = groups.into_iter().partition(overlaps);
        let mut group: Vec<&ReportedInvocation> = joined.drain(..).flatten().collect();
        group.push(invocation);
        group.sort_by_key(|member| member.index);
        groups = rest;
        groups.push(group);
    }
    groups.sort_by_key(|group| group[0].index);
    groups
}
