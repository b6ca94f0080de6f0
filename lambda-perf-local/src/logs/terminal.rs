//! [`render_logs_terminal`]: the logs report as text.

use std::fmt::Write as _;

use crate::report::Distribution;
use crate::report::format::{megabytes, ms, pad, pad_left, printable, usd};

use super::model::{LambdaPerfFigures, LogsReport};

/// Renders the report as text: invocations and cold starts, the duration percentiles, memory,
/// cost, what lambda-perf's EMF lines add, and the malformed lines.
///
/// ```
/// use lambda_perf_local::logs::{LogFile, LogsReport, render_logs_terminal};
/// use lambda_perf_local::pricing::Architecture;
///
/// let file = LogFile { name: "empty.log".into(), text: String::new() };
/// let text = render_logs_terminal(&LogsReport::build(&[file], Architecture::Arm64));
/// assert!(text.contains("no REPORT lines"));
/// ```
pub fn render_logs_terminal(report: &LogsReport) -> String {
    let mut out = String::new();
    let lines = &report.lines;
    let _ = writeln!(
        out,
        "lambda-perf logs: {} file(s), {} line(s): {} platform, {} EMF, {} other, {} malformed",
        report.files.len(),
        lines.events,
        lines.platform,
        lines.emf,
        lines.output,
        lines.malformed
    );
    invocations(&mut out, report);
    if report.invocations > 0 {
        durations(&mut out, report);
        memory_and_cost(&mut out, report);
    }
    if let Some(figures) = &report.lambda_perf {
        lambda_perf(&mut out, figures);
    }
    malformed(&mut out, report);
    // Text from the logs (excerpts, statuses, client names) may hold escape sequences.
    printable(&out, &['\n', '\t'])
}

fn heading(out: &mut String, text: &str) {
    let _ = writeln!(out, "\n{text}");
}

fn invocations(out: &mut String, report: &LogsReport) {
    heading(out, "Invocations");
    if report.invocations == 0 {
        out.push_str("  no REPORT lines (or platform.report records) in these logs\n");
        return;
    }
    let _ = writeln!(
        out,
        "  invocations {}   cold starts {} ({:.1} %)   restores {}",
        report.invocations, report.cold_starts, report.cold_start_percent, report.restores
    );
    let statuses: Vec<String> = report
        .statuses
        .iter()
        .map(|(status, count)| format!("{status} {count}"))
        .collect();
    let _ = writeln!(out, "  statuses    {}", statuses.join(", "));
    if report.lines.duplicate_reports > 0 {
        let _ = writeln!(
            out,
            "  {} repeated REPORT line(s) counted once",
            report.lines.duplicate_reports
        );
    }
}

fn table_header(out: &mut String, title: &str) {
    let _ = writeln!(
        out,
        "  {} {} {} {} {} {}",
        pad(title, 30),
        pad_left("n", 6),
        pad_left("p50", 10),
        pad_left("p90", 10),
        pad_left("p99", 10),
        pad_left("max", 10)
    );
}

fn table_row(out: &mut String, name: &str, d: Option<&Distribution>) {
    match d {
        None => {
            let _ = writeln!(out, "  {} {}", pad(name, 30), pad_left("0", 6));
        }
        Some(d) => {
            let _ = writeln!(
                out,
                "  {} {} {} {} {} {}",
                pad(name, 30),
                pad_left(&d.count.to_string(), 6),
                pad_left(&ms(d.p50), 10),
                pad_left(&ms(d.p90), 10),
                pad_left(&ms(d.p99), 10),
                pad_left(&ms(d.max), 10)
            );
        }
    }
}

fn durations(out: &mut String, report: &LogsReport) {
    heading(out, "Durations (nearest-rank percentiles)");
    table_header(out, "");
    table_row(
        out,
        "init (REPORT Init Duration)",
        report.init_duration_ms.as_ref(),
    );
    if report.restores > 0 {
        table_row(out, "restore", report.restore_duration_ms.as_ref());
    }
    table_row(out, "duration", report.duration_ms.as_ref());
    table_row(out, "  cold starts", report.cold_duration_ms.as_ref());
    if report.restores > 0 {
        table_row(out, "  restores", report.restored_duration_ms.as_ref());
    }
    table_row(out, "  warm", report.warm_duration_ms.as_ref());
    table_row(out, "billed duration", report.billed_duration_ms.as_ref());
    if report.billed_restore_duration_ms.is_some() {
        table_row(
            out,
            "billed restore",
            report.billed_restore_duration_ms.as_ref(),
        );
    }
}

fn memory_and_cost(out: &mut String, report: &LogsReport) {
    heading(out, "Memory");
    if let (Some(size), Some(used)) = (report.memory_size_mb, report.max_memory_used_mb) {
        // With several sizes, the headroom is that of the size the heaviest invocation ran at.
        let (sizes, at) = if report.memory_sizes_mb.len() > 1 {
            let all: Vec<String> = report
                .memory_sizes_mb
                .iter()
                .map(ToString::to_string)
                .collect();
            let at = report
                .heaviest_memory_size_mb()
                .map(|size| format!(" at {size} MB"))
                .unwrap_or_default();
            (format!(" (sizes seen: {} MB)", all.join(", ")), at)
        } else {
            (String::new(), String::new())
        };
        let _ = writeln!(
            out,
            "  memory size {size} MB{sizes}, max used {}{at}: headroom {} ({:.1} %)",
            megabytes(used),
            megabytes(report.memory_headroom_mb.unwrap_or(0.0)),
            report.memory_headroom_percent.unwrap_or(0.0)
        );
    }
    let prices = &report.prices;
    heading(
        out,
        &format!(
            "Cost ({}, {} ({}), {}, no free tier)",
            prices.architecture,
            prices.initialization_type,
            prices.initialization_type_from,
            prices.source
        ),
    );
    // Spillover invocations of provisioned concurrency have a GB-second price of their own;
    // every request has the same.
    let requests = report.invocations as f64 * prices.usd_per_million_requests / 1e6;
    let compute = report.cost_usd - requests;
    let _ = writeln!(
        out,
        "  {:.4} GB-s billed ({}) + {} requests ({}) = {}",
        report.billed_gb_seconds,
        usd(compute),
        report.invocations,
        usd(requests),
        usd(report.cost_usd)
    );
}

fn lambda_perf(out: &mut String, figures: &LambdaPerfFigures) {
    heading(
        out,
        &format!(
            "lambda-perf EMF lines ({} invocation(s) with facts)",
            figures.invocations
        ),
    );
    let kinds: Vec<String> = figures
        .start_kinds
        .iter()
        .map(|(kind, count)| format!("{kind} {count}"))
        .collect();
    let _ = writeln!(
        out,
        "  start kinds  {}   (restarts {}, pre-warmed {})",
        kinds.join(", "),
        figures.restarts,
        figures.prewarmed
    );
    table_header(out, "");
    table_row(out, "init (in-process)", figures.init_duration_ms.as_ref());
    for client in &figures.client_init_ms {
        table_row(
            out,
            &format!("client init: {}", client.client),
            Some(&client.duration_ms),
        );
    }
    let reuse = &figures.reuse;
    table_row(
        out,
        "idle gap before warm starts",
        reuse.idle_gap_ms.as_ref(),
    );
    table_row(out, "environment lifetime", reuse.lifetime_ms.as_ref());
    if let Some(used) = &figures.cpu_allotment_used {
        let _ = writeln!(
            out,
            "  {} {} {} {} {} {}",
            pad("CPU used of the size's share", 30),
            pad_left(&used.count.to_string(), 6),
            pad_left(&ratio(used.p50), 10),
            pad_left(&ratio(used.p90), 10),
            pad_left(&ratio(used.p99), 10),
            pad_left(&ratio(used.max), 10)
        );
        let _ = writeln!(
            out,
            "    (near 1: CPU-bound, more memory would shorten it; near 0: waiting on I/O)"
        );
    }
    if let Some(pairs) = &figures.init_side_by_side {
        let _ = writeln!(
            out,
            "  init side by side ({} cold start(s)): platform p50 {}, in-process p50 {}, \
             difference p50 {}",
            pairs.pairs,
            ms(pairs.platform_ms.p50),
            ms(pairs.in_process_ms.p50),
            ms(pairs.difference_p50_ms)
        );
    }
    if let Some(count) = reuse.environments {
        let per = reuse
            .invocations_per_environment
            .as_ref()
            .map(|d| format!(", {} invocation(s) each at the median", d.p50))
            .unwrap_or_default();
        let _ = writeln!(out, "  environments {count}{per}");
    }
    if let Some(longest) = reuse.longest_reused_idle_gap_ms {
        let _ = writeln!(
            out,
            "  longest idle gap after which an environment was reused: {}",
            ms(longest)
        );
    }
    if let Some(note) = &reuse.note {
        let _ = writeln!(out, "  ({note})");
    }
}

/// A share as the table shows it: `0.98`.
fn ratio(value: f64) -> String {
    format!("{value:.2}")
}

fn malformed(out: &mut String, report: &LogsReport) {
    let lines = &report.lines;
    if lines.malformed == 0 {
        heading(out, "Malformed lines: none");
        return;
    }
    heading(out, &format!("Malformed lines: {}", lines.malformed));
    for example in &lines.malformed_examples {
        let _ = writeln!(out, "  {}: {}", example.location, example.reason);
        if let Some(excerpt) = &example.excerpt {
            let _ = writeln!(out, "    > {excerpt}");
        }
    }
    let shown = lines.malformed_examples.len();
    if lines.malformed > shown {
        let _ = writeln!(out, "  … and {} more", lines.malformed - shown);
    }
}
