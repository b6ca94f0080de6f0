//! [`render_terminal`]: the report as text for a terminal, with box-drawn waterfalls.

use std::fmt::Write as _;

use super::format::{
    char_width, file_size, fit, megabytes, ms, output_lines_not_kept, pad, pad_left, printable,
    usd, values, width as columns,
};
use super::harness_stop::HarnessStop;
use super::model::{Report, ReportedInvocation, Status, Subsegment};
use super::resources::{Resources, SizingReport};
use super::stats::Distribution;
use super::timeline::concurrent_groups;

/// The narrowest layout drawn; narrower widths are widened to it.
const MIN_WIDTH: usize = 60;
/// Partial blocks, by eighths of a cell.
const EIGHTHS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/// Renders the report for a terminal `width` columns wide (at least 60 are used), with ANSI
/// colors when `color` is true (and no escape sequence at all otherwise).
///
/// Sections: the invocation table (start kind, duration, init, idle gap, status), a
/// waterfall per traced invocation (subsegments drawn as a tree with `├─ └─ │` and time bars
/// scaled to the handler's duration), the processes, the metrics received, the summary (with
/// the code size beside init, the memory size and peak, and the billed duration and its
/// price) and the problems.
pub fn render_terminal(report: &Report, width: usize, color: bool) -> String {
    let painter = Painter { color };
    let width = width.max(MIN_WIDTH);
    let mut out = String::new();
    let title = format!("lambda-perf report: {}", report.function);
    line(&mut out, &painter.bold(&fit(&title, width)));
    invocation_table(&mut out, report, width, &painter);
    concurrency(&mut out, report, width, &painter);
    waterfalls(&mut out, report, width, &painter);
    processes(&mut out, report, width, &painter);
    metrics(&mut out, report, width, &painter);
    summary(&mut out, report, width, &painter);
    problems(&mut out, report, width, &painter);
    out
}

/// Text the function chose (a name, a start kind, a cause), with its control characters
/// written out: never sent to the terminal as they are.
fn shown(text: &str) -> String {
    printable(text, &[])
}

fn line(out: &mut String, text: &str) {
    out.push_str(text);
    out.push('\n');
}

fn heading(out: &mut String, text: &str, painter: &Painter) {
    out.push('\n');
    line(out, &painter.bold(text));
}

/// ANSI styling, or none.
struct Painter {
    color: bool,
}

impl Painter {
    fn paint(&self, text: &str, code: &str) -> String {
        if self.color && !text.is_empty() {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn bold(&self, text: &str) -> String {
        self.paint(text, "1")
    }

    fn dim(&self, text: &str) -> String {
        self.paint(text, "2")
    }

    fn status(&self, text: &str, status: Status) -> String {
        match status {
            Status::Ok => self.paint(text, "32"),
            _ => self.paint(text, "31"),
        }
    }

    fn start_kind(&self, text: &str, cold: bool) -> String {
        if cold {
            self.paint(text, "33")
        } else {
            text.to_owned()
        }
    }
}

fn invocation_table(out: &mut String, report: &Report, width: usize, painter: &Painter) {
    heading(out, "Invocations", painter);
    if report.invocations.is_empty() {
        line(out, "  (none)");
        return;
    }
    // "  #  request id  proc env start     duration   init  idle gap status": the process and
    // environment columns only when there is room, the status on a line of its own when
    // there is too little.
    let status_min = 16;
    // The index, process and environment columns: as wide as their largest number, never
    // cut.
    let widest = |number: fn(&ReportedInvocation) -> usize, least: usize| {
        report
            .invocations
            .iter()
            .map(|i| number(i).to_string().len())
            .max()
            .unwrap_or(0)
            .max(least)
    };
    let index_width = widest(|i| i.index, 3);
    let process_width = widest(|i| i.process, 4);
    let env_width = widest(|i| i.environment, 3);
    let narrow = 2 + index_width + 1 + 1 + 4 * (9 + 1);
    let with_process = narrow + process_width + 1 + env_width + 1;
    let longest_id = report
        .invocations
        .iter()
        .map(|i| columns(&i.request_id))
        .max()
        .unwrap_or(0)
        .clamp(10, 36);
    let show_process = width >= with_process + 10 + status_min;
    let fixed = if show_process { with_process } else { narrow };
    let id_width = longest_id
        .min(width.saturating_sub(fixed + status_min))
        .max(8);
    let status_width = width.saturating_sub(fixed + id_width);
    let inline_status = status_width >= status_min;
    let row =
        |index: &str, id: &str, process: &str, env: &str, cells: [String; 4], status: &str| {
            let process = if show_process {
                format!(
                    "{} {} ",
                    pad_left(process, process_width),
                    pad_left(env, env_width)
                )
            } else {
                String::new()
            };
            let [kind, duration, init, gap] = cells;
            let text = format!(
                "  {} {} {process}{kind} {duration} {init} {gap} {status}",
                pad_left(index, index_width),
                pad(id, id_width),
            );
            text.trim_end().to_owned()
        };
    let header = row(
        "#",
        "request id",
        "proc",
        "env",
        [
            pad("start", 9),
            pad_left("duration", 9),
            pad_left("init", 9),
            pad_left("idle gap", 9),
        ],
        if inline_status { "status" } else { "" },
    );
    line(out, &painter.dim(&header));
    let mut previous_process = None;
    for invocation in &report.invocations {
        if let Some(previous) = previous_process.filter(|p| *p != invocation.process) {
            let text = format!("      {}", process_change(report, previous, invocation));
            line(out, &painter.dim(&fit(&text, width)));
        }
        previous_process = Some(invocation.process);
        let kind = shown(invocation.start_kind.as_deref().unwrap_or("?"));
        let status = match &invocation.error {
            // The function's own text: its control characters written out, never sent to
            // the terminal (as for its stderr and the problems below).
            Some(error) => format!("{}: {}", invocation.status.as_str(), printable(error, &[])),
            None => invocation.status.as_str().to_owned(),
        };
        let (inline, below, indent) = if inline_status {
            let mut lines = wrap_words(&status, status_width).into_iter();
            let first = lines.next().unwrap_or_default();
            (first, lines.collect(), fixed + id_width)
        } else {
            (String::new(), wrap_words(&status, width - 6), 6)
        };
        let text = row(
            &invocation.index.to_string(),
            &invocation.request_id,
            &invocation.process.to_string(),
            &invocation.environment.to_string(),
            [
                painter.start_kind(&pad(&kind, 9), invocation.cold_start),
                time_in(invocation.duration_ms, "", 9),
                time_in(invocation.init_duration_ms, "", 9),
                time_in(invocation.idle_gap_ms, "", 9),
            ],
            &painter.status(&inline, invocation.status),
        );
        line(out, &text);
        // The status (an error message) is wrapped, never cut.
        let indent = " ".repeat(indent);
        for rest in below {
            line(
                out,
                &format!("{indent}{}", painter.status(&rest, invocation.status)),
            );
        }
    }
}

/// The line between two invocations of different processes: what the harness did.
fn process_change(report: &Report, previous: usize, next: &ReportedInvocation) -> String {
    let stop = report
        .processes
        .iter()
        .find(|p| p.index == previous)
        .and_then(|p| p.stopped_by_harness);
    let (process, environment) = (next.process, next.environment);
    match stop {
        Some(HarnessStop::Restart) => format!(
            "↻ the harness restarted the function: process {process}, same environment \
             {environment}"
        ),
        Some(HarnessStop::FreshEnvironment) => {
            format!("✱ the harness started a fresh environment {environment}: process {process}")
        }
        Some(HarnessStop::Reset) => format!(
            "↻ started again after a failure, as Lambda does: process {process}, same \
             environment {environment}"
        ),
        _ => format!("process {process} (environment {environment})"),
    }
}

/// Invocations in flight at the same time, each group on one time axis.
fn concurrency(out: &mut String, report: &Report, width: usize, painter: &Painter) {
    let groups = concurrent_groups(&report.invocations);
    if groups.is_empty() {
        return;
    }
    heading(out, "Concurrent invocations", painter);
    for group in groups {
        let start = group
            .iter()
            .filter_map(|i| i.started_ms)
            .fold(f64::INFINITY, f64::min);
        let end = group
            .iter()
            .filter_map(|i| Some(i.started_ms? + i.in_flight_ms()?))
            .fold(start, f64::max);
        let span = (end - start).max(0.001);
        let indices: Vec<String> = group.iter().map(|i| format!("#{}", i.index)).collect();
        let title = format!(
            "  {} in flight at once, in process {} ({} in all, each from hand-out to answer)",
            indices.join(", "),
            group[0].process,
            ms(span)
        );
        line(out, &fit(&title, width));
        // "  #<n> <kind>  <start> <duration> <bar>", `#<n>` never cut.
        let index_width = group
            .iter()
            .map(|i| i.index.to_string().len() + 1)
            .max()
            .unwrap_or(0)
            .max(4);
        let bar_width = width
            .saturating_sub(2 + index_width + 1 + 10 + 11 + 11)
            .max(10);
        for invocation in &group {
            let (Some(at), Some(duration)) = (invocation.started_ms, invocation.in_flight_ms())
            else {
                continue;
            };
            let offset = at - start;
            let text = format!(
                "  {} {} {} {} {}",
                pad(&format!("#{}", invocation.index), index_width),
                pad(&shown(invocation.start_kind.as_deref().unwrap_or("?")), 9),
                time_in(Some(offset), "+", 10),
                time_in(Some(duration), "", 10),
                painter.paint(
                    bar(offset, Some(offset + duration), span, bar_width).trim_end(),
                    "36"
                )
            );
            line(out, text.trim_end());
        }
    }
}

fn waterfalls(out: &mut String, report: &Report, width: usize, painter: &Painter) {
    heading(out, "Waterfalls", painter);
    let traced: Vec<&ReportedInvocation> = report
        .invocations
        .iter()
        .filter(|i| !i.subsegments.is_empty())
        .collect();
    if traced.is_empty() {
        line(out, "  (no X-Ray subsegments received)");
        return;
    }
    for invocation in &traced {
        waterfall(out, invocation, width, painter);
    }
    let untraced = report.invocations.len() - traced.len();
    if untraced > 0 {
        let mut note = String::new();
        let text =
            format!("  {untraced} invocation(s) without subsegments (not sampled, or no X-Ray)");
        wrap_into(&mut note, &text, width, 4);
        for note_line in note.lines() {
            line(out, &painter.dim(note_line));
        }
    }
}

/// One row of a waterfall before layout.
struct Row<'a> {
    prefix: String,
    /// The prefix continuing below this row (for the cause line).
    below: String,
    node: &'a Subsegment,
}

fn collect_rows<'a>(node: &'a Subsegment, below: &str, rows: &mut Vec<Row<'a>>) {
    let count = node.children.len();
    for (i, child) in node.children.iter().enumerate() {
        let last = i + 1 == count;
        let (branch, continuation) = if last {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        rows.push(Row {
            prefix: format!("{below}{branch}"),
            below: format!("{below}{continuation}"),
            node: child,
        });
        collect_rows(child, &format!("{below}{continuation}"), rows);
    }
}

fn label(node: &Subsegment) -> String {
    let mut text = shown(&node.name);
    for flag in node.flags() {
        text.push_str(&format!(" [{flag}]"));
    }
    text
}

fn waterfall(out: &mut String, invocation: &ReportedInvocation, width: usize, painter: &Painter) {
    let span = invocation.waterfall_span_ms();
    let title = format!(
        "  #{} {} {} {}{}",
        invocation.index,
        shown(invocation.start_kind.as_deref().unwrap_or("?")),
        invocation.status.as_str(),
        invocation.request_id,
        invocation
            .trace_id
            .as_deref()
            .map(|t| format!("  trace {t}"))
            .unwrap_or_default()
    );
    out.push('\n');
    line(out, &painter.bold(&fit(&title, width)));
    let mut rows = Vec::new();
    for root in &invocation.subsegments {
        rows.push(Row {
            prefix: String::new(),
            below: String::new(),
            node: root,
        });
        collect_rows(root, "", &mut rows);
    }
    let widest = rows
        .iter()
        .map(|r| columns(&r.prefix) + columns(&label(r.node)))
        .max()
        .unwrap_or(0);
    // "  <label> <start> <duration> <bar>"
    let times = 1 + 10 + 1 + 10 + 1;
    let label_width = widest.clamp(12, (width * 2 / 5).max(12));
    let bar_width = width.saturating_sub(2 + label_width + times).max(10);
    let header = format!(
        "  {} {} {} {}",
        pad("subsegment", label_width),
        pad_left("start", 10),
        pad_left("duration", 10),
        fit(&format!("0…{}", ms(span)), bar_width)
    );
    line(out, &painter.dim(&header));
    for row in &rows {
        let node = row.node;
        let text = format!("{}{}", row.prefix, label(node));
        let bar_text = bar(node.start_ms, node.end_ms, span, bar_width);
        let code = if node.fault {
            "31"
        } else if node.error || node.throttle {
            "33"
        } else if node.orphan {
            "35"
        } else {
            "36"
        };
        let _ = writeln!(
            out,
            "  {} {} {} {}",
            pad(&text, label_width),
            time_in(Some(node.start_ms), "", 10),
            time_in(node.duration_ms(), "", 10),
            painter.paint(bar_text.trim_end(), code)
        );
        if let Some(cause) = &node.cause {
            let below = if node.children.is_empty() {
                row.below.clone()
            } else {
                format!("{}│  ", row.below)
            };
            let text = format!("  {below}↳ {}", shown(cause));
            line(out, &painter.paint(&fit(&text, width), "31"));
        }
    }
}

/// A time in milliseconds (`-` when absent) after `prefix`, right-aligned in `cells`
/// columns: in seconds when too long in milliseconds (`2000 s`, `1e297 s`), never cut to
/// digits without their unit.
fn time_in(value: Option<f64>, prefix: &str, cells: usize) -> String {
    let fits = |text: String| (columns(&text) <= cells).then_some(text);
    let text = match value {
        None => "-".to_owned(),
        Some(value) => {
            let seconds = value / 1000.0;
            fits(format!("{prefix}{}", ms(value)))
                .or_else(|| fits(format!("{prefix}{seconds:.0} s")))
                .unwrap_or_else(|| format!("{prefix}{seconds:.0e} s"))
        }
    };
    pad_left(&text, cells)
}

/// A time bar of `cells` columns for `[start, end]` on a scale of `0..span` ms: full blocks
/// and a partial block by eighths; `▏` for a bar too short to see; `░` while in progress.
pub(crate) fn bar(start: f64, end: Option<f64>, span: f64, cells: usize) -> String {
    let span = span.max(f64::MIN_POSITIVE);
    let scale = cells as f64 / span;
    let start = start.clamp(0.0, span);
    let first_cell = ((start * scale).floor() as usize).min(cells.saturating_sub(1));
    let mut text = " ".repeat(first_cell);
    let available = cells - first_cell;
    match end {
        None => text.push_str(&"░".repeat(available)),
        Some(end) => {
            let end = end.clamp(start, span);
            let eighths = (((end - start) * scale * 8.0).round() as usize).min(available * 8);
            if eighths == 0 {
                text.push('▏');
            } else {
                text.push_str(&"█".repeat(eighths / 8));
                if eighths % 8 > 0 {
                    text.push(EIGHTHS[eighths % 8]);
                }
            }
        }
    }
    let fill = cells.saturating_sub(columns(&text));
    text.push_str(&" ".repeat(fill));
    text
}

fn processes(out: &mut String, report: &Report, width: usize, painter: &Painter) {
    heading(out, "Processes", painter);
    if report.processes.is_empty() {
        line(out, "  (none)");
        return;
    }
    for process in &report.processes {
        let memory = match (process.peak_memory_mb, process.memory_limit_mb) {
            (Some(peak), Some(limit)) => format!(
                "; peak memory {} of {} ({:.0} %)",
                megabytes(peak),
                megabytes(limit),
                peak * 100.0 / limit
            ),
            (Some(peak), None) => format!("; peak memory {}", megabytes(peak)),
            _ => String::new(),
        };
        let ended = process.ending();
        let text = format!(
            "  process {} (environment {}): {} invocation(s), {} stdout line(s) of which {} EMF, \
             {} stderr line(s){memory}; {ended}",
            process.index,
            process.environment,
            process.invocations,
            process.stdout_lines,
            process.emf_lines,
            process.stderr_lines,
        );
        wrap_into(out, &text, width, 4);
        if process.dropped_output_lines > 0 {
            let dropped = format!(
                "    {}",
                output_lines_not_kept(process.dropped_output_lines)
            );
            wrap_into(out, &dropped, width, 6);
        }
        if !process.last_stderr.is_empty() {
            let shown = process.last_stderr.len();
            let label = if shown < process.stderr_lines {
                format!("    last {shown} of {} stderr lines:", process.stderr_lines)
            } else {
                "    stderr:".to_owned()
            };
            line(out, &painter.dim(&label));
            for stderr in &process.last_stderr {
                wrap_into(out, &format!("      {}", printable(stderr, &[])), width, 8);
            }
        }
    }
}

fn metrics(out: &mut String, report: &Report, width: usize, painter: &Painter) {
    heading(out, "Metrics received", painter);
    if report.metrics.is_empty() {
        line(out, "  (none)");
        return;
    }
    let name_width = report
        .metrics
        .iter()
        .map(|m| columns(&shown(&m.name)))
        .max()
        .unwrap_or(0)
        .clamp(6, width / 3);
    let unit_width = report
        .metrics
        .iter()
        .map(|m| columns(&m.unit))
        .max()
        .unwrap_or(0)
        .clamp(4, 16);
    // `×N`, never cut: as wide as the largest count.
    let count_width = report
        .metrics
        .iter()
        .map(|m| columns(&format!("×{}", m.values.len())))
        .max()
        .unwrap_or(0)
        .max(5);
    let value_width = width.saturating_sub(2 + name_width + 1 + unit_width + 1 + count_width + 1);
    let mut namespace: Option<&str> = None;
    for series in &report.metrics {
        if namespace != Some(series.namespace.as_str()) {
            namespace = Some(&series.namespace);
            line(out, &painter.dim(&format!(" {}", shown(&series.namespace))));
        }
        let count = format!("×{}", series.values.len());
        let row = format!(
            "  {} {} {} {}",
            pad(&shown(&series.name), name_width),
            pad(&series.unit, unit_width),
            pad_left(&count, count_width),
            fit(&values(&series.values, 12), value_width)
        );
        line(out, row.trim_end());
        let dimensions = if series.dimensions.is_empty() {
            "(no dimensions)".to_owned()
        } else {
            shown(&series.dimensions_text())
        };
        let indent = " ".repeat(4);
        line(
            out,
            &painter.dim(&fit(&format!("{indent}{dimensions}"), width)),
        );
    }
}

fn distribution(name: &str, d: Option<&Distribution>) -> String {
    match d {
        None => format!("  {} -", pad(name, 14)),
        Some(d) => format!(
            "  {} n={}  p50 {}  p90 {}  p99 {}  (min {}, max {})",
            pad(name, 14),
            d.count,
            ms(d.p50),
            ms(d.p90),
            ms(d.p99),
            ms(d.min),
            ms(d.max)
        ),
    }
}

fn summary(out: &mut String, report: &Report, width: usize, painter: &Painter) {
    heading(out, "Summary", painter);
    let s = &report.summary;
    let counts = format!(
        "  invocations {}   cold starts {} ({:.1} %)   errors {}   problems {}",
        s.invocations, s.cold_starts, s.cold_start_percent, s.errors, s.problems
    );
    wrap_into(out, &counts, width, 4);
    wrap_into(out, &distribution("init", s.init.as_ref()), width, 17);
    wrap_into(out, &code_size(&report.resources), width, 17);
    for (name, d) in [
        ("duration", s.duration.as_ref()),
        ("cold duration", s.cold_vs_warm.cold.as_ref()),
        ("warm duration", s.cold_vs_warm.warm.as_ref()),
    ] {
        wrap_into(out, &distribution(name, d), width, 17);
    }
    if let Some(difference) = s.cold_vs_warm.p50_difference_ms {
        let ratio = s
            .cold_vs_warm
            .p50_ratio
            .map(|r| format!(" (×{r:.2})"))
            .unwrap_or_default();
        let sign = if difference >= 0.0 { "+" } else { "" };
        let text = format!(
            "  {} cold p50 is {sign}{} against warm{ratio}",
            pad("cold vs warm", 14),
            ms(difference)
        );
        wrap_into(out, &text, width, 17);
    }
    for text in resources(&report.resources) {
        wrap_into(out, &text, width, 17);
    }
}

/// `code size      binary 3.10 MB, package 1.20 MB`: beside init, which it drives.
fn code_size(resources: &Resources) -> String {
    let binary = resources.binary.as_ref().map_or_else(
        || "binary not found".to_owned(),
        |b| format!("binary {}", file_size(b.bytes)),
    );
    let package = resources
        .package
        .as_ref()
        .map(|p| format!(", package {}", file_size(p.bytes)))
        .unwrap_or_default();
    format!("  {} {binary}{package}", pad("code size", 14))
}

/// `; this machine has 2 CPUs: at most 2 here` when the size's CPU share is more than the
/// machine's CPUs.
pub(crate) fn cpu_cap(sizing: &SizingReport) -> String {
    sizing
        .cpu_capped_at()
        .map(|cpus| format!("; this machine has {cpus} CPU(s): at most {cpus} here"))
        .unwrap_or_default()
}

/// The memory size and peak, out-of-memory kills, and what Lambda would bill.
fn resources(resources: &Resources) -> Vec<String> {
    let size = resources.memory_size_mb;
    let peak = |limit: f64| {
        resources.peak_memory_mb.map_or_else(String::new, |peak| {
            format!(": peak {} ({:.0} %)", megabytes(peak), peak * 100.0 / limit)
        })
    };
    let memory = match &resources.sizing {
        Some(sizing) => format!(
            "  {} {size} MB imposed (cgroup {}, CPU {:.3} of a core{}){}",
            pad("memory", 14),
            sizing.cgroup,
            sizing.cpu_cores,
            cpu_cap(sizing),
            peak(f64::from(size))
        ),
        None => format!(
            "  {} {size} MB configured, not imposed (--memory MB sizes the run){}",
            pad("memory", 14),
            resources
                .peak_memory_mb
                .map(|peak| format!(": peak {}", megabytes(peak)))
                .unwrap_or_default()
        ),
    };
    let mut lines = vec![memory];
    if resources.out_of_memory > 0 {
        lines.push(format!(
            "  {} {} invocation(s) killed for memory (Runtime.OutOfMemory)",
            pad("out of memory", 14),
            resources.out_of_memory
        ));
    }
    let billing = &resources.billing;
    if billing.invocations > 0 {
        let per_million = billing
            .cost_per_million_usd
            .map(|cost| format!(", {} per million", usd(cost)))
            .unwrap_or_default();
        lines.push(format!(
            "  {} {} invocation(s), {} ms billed at {size} MB = {:.5} GB-s: {}{per_million} \
             ({} prices, {})",
            pad("billed", 14),
            billing.invocations,
            billing.billed_ms,
            billing.gb_seconds,
            usd(billing.cost_usd),
            billing.architecture,
            billing.prices
        ));
    }
    lines
}

fn problems(out: &mut String, report: &Report, width: usize, painter: &Painter) {
    if report.problems.is_empty() {
        heading(out, "Problems: none", painter);
        return;
    }
    heading(
        out,
        &format!("Problems ({})", report.problems.len()),
        painter,
    );
    for problem in &report.problems {
        let mark = painter.paint("✗", "31");
        let text = format!(
            "{} {}: {}",
            problem.kind.label(),
            problem.location,
            printable(&problem.message, &[])
        );
        let mut wrapped = String::new();
        wrap_into(&mut wrapped, &format!("  ✗ {text}"), width, 4);
        out.push_str(&wrapped.replacen('✗', &mark, 1));
        if let Some(excerpt) = &problem.excerpt {
            let excerpt = printable(excerpt, &[]);
            line(out, &painter.dim(&fit(&format!("    > {excerpt}"), width)));
        }
    }
}

/// Appends `text` wrapped at spaces to `width` columns, continuation lines indented by
/// `indent` spaces. Nothing is cut: a word longer than a line is broken.
fn wrap_into(out: &mut String, text: &str, width: usize, indent: usize) {
    let leading = text.chars().take_while(|c| *c == ' ').count();
    let body = &text[leading..];
    let first_width = width.saturating_sub(leading).max(1);
    let first = wrap_words(body, first_width);
    let first_line = first.first().cloned().unwrap_or_default();
    line(out, &format!("{}{first_line}", " ".repeat(leading)));
    let consumed = first_line.chars().count();
    let rest = body.chars().skip(consumed).collect::<String>();
    if rest.trim().is_empty() {
        return;
    }
    let rest_width = width.saturating_sub(indent).max(1);
    for rest_line in wrap_words(&rest, rest_width) {
        line(out, &format!("{}{rest_line}", " ".repeat(indent)));
    }
}

/// `text` split at spaces into lines of at most `width` columns, keeping runs of spaces
/// inside a line; a word longer than a line is broken. At least one line (possibly empty).
pub(crate) fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut started = false;
    for word in text.trim_start().split(' ') {
        if word.is_empty() && !started {
            continue;
        }
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let used = columns(&current);
            let gap = usize::from(started);
            let word_width: usize = word.iter().map(|c| char_width(*c)).sum();
            if used + gap + word_width <= width {
                if started {
                    current.push(' ');
                }
                current.extend(word.iter());
                started = true;
                break;
            }
            if started {
                lines.push(current.trim_end().to_owned());
                current.clear();
                started = false;
                if word.is_empty() {
                    break;
                }
                continue;
            }
            // A word longer than a whole line: as much of it as fits (at least a character).
            let mut fits = 0;
            let mut taken = 0;
            for c in &word {
                let columns = char_width(*c);
                if taken > 0 && fits + columns > width {
                    break;
                }
                fits += columns;
                taken += 1;
            }
            let rest = word.split_off(taken);
            lines.push(word.iter().collect());
            word = rest;
        }
    }
    let last = current.trim_end().to_owned();
    if !last.is_empty() || lines.is_empty() {
        lines.push(last);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_scaled_by_eighths() {
        assert_eq!(bar(0.0, Some(10.0), 10.0, 10), "██████████");
        assert_eq!(bar(5.0, Some(10.0), 10.0, 10), "     █████");
        assert_eq!(bar(0.0, Some(0.0), 10.0, 4), "▏   ");
        assert_eq!(bar(0.0, Some(1.25), 10.0, 8), "█    ".to_owned() + "   ");
        assert_eq!(bar(0.0, Some(0.5), 10.0, 4), "▎   ");
        assert_eq!(bar(2.0, None, 4.0, 4), "  ░░");
        // Out of range: clamped.
        assert_eq!(bar(-3.0, Some(99.0), 4.0, 4), "████");
    }

    #[test]
    fn wrapping_keeps_every_word() {
        let mut out = String::new();
        wrap_into(&mut out, "  alpha beta gamma delta", 12, 4);
        assert_eq!(out, "  alpha beta\n    gamma\n    delta\n");
        assert_eq!(wrap_words("abcdefgh ij", 3), ["abc", "def", "gh", "ij"]);
        assert_eq!(wrap_words("", 3), [""]);
        assert_eq!(wrap_words("a   b  c", 6), ["a   b", "c"]);
        assert_eq!(wrap_words("注文を検索 ab", 4), ["注文", "を検", "索", "ab"]);
        let mut out = String::new();
        wrap_into(&mut out, "  ab  cd", 40, 4);
        assert_eq!(out, "  ab  cd\n");
    }
}
