//! [`render_tune_terminal`]: the sweep as a table.

use std::fmt::Write as _;

use crate::report::format::{file_size, megabytes, ms, pad_left, usd};

use super::{SizeStatus, TuneReport};

fn cell(value: Option<f64>, text: fn(f64) -> String) -> String {
    value.map_or_else(|| "-".to_owned(), text)
}

/// Renders the sweep: one row per size (CPU share, cold init and duration, warm p50 and p90,
/// billed duration, peak memory, cost per million invocations), then the cheapest, fastest
/// and balanced sizes, and the note that local CPUs are not Lambda's.
pub fn render_tune_terminal(report: &TuneReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "lambda-perf tune: {}", report.function);
    let _ = writeln!(
        out,
        "  {} invocation(s) per size (the first cold), cgroup {}, {} prices ({}), cost with \
         {}% cold starts",
        report.invocations_per_size,
        report.cgroup,
        report.architecture,
        report.prices,
        report.cold_start_percent
    );
    if let Some(binary) = &report.binary {
        let package = report
            .package
            .as_ref()
            .map(|p| format!(", package {}", file_size(p.bytes)))
            .unwrap_or_default();
        let _ = writeln!(out, "  binary {}{package}", file_size(binary.bytes));
    }
    out.push('\n');
    let header = [
        pad_left("memory", 9),
        pad_left("CPU", 6),
        pad_left("cold init", 10),
        pad_left("cold", 10),
        pad_left("warm p50", 10),
        pad_left("warm p90", 10),
        pad_left("billed", 9),
        pad_left("peak mem", 9),
        pad_left("$ per 1M", 10),
        "  ".to_owned(),
    ];
    let _ = writeln!(out, "  {}", header.join(" ").trim_end());
    for size in &report.sizes {
        let marks: Vec<&str> = [
            (report.cheapest, "cheapest"),
            (report.fastest, "fastest"),
            (report.balanced, "balanced"),
        ]
        .into_iter()
        .filter(|(chosen, _)| *chosen == Some(size.memory_mb))
        .map(|(_, name)| name)
        .collect();
        let note = match size.status {
            SizeStatus::Ok => marks.join(", "),
            SizeStatus::OutOfMemory => "out of memory".to_owned(),
            SizeStatus::Failed => format!(
                "failed: {}",
                size.error.as_deref().unwrap_or("see lambda-perf run")
            ),
        };
        let row = [
            pad_left(&format!("{} MB", size.memory_mb), 9),
            pad_left(&format!("{:.2}", size.cpu_cores), 6),
            pad_left(&cell(size.cold_init_ms, ms), 10),
            pad_left(&cell(size.cold_duration_ms, ms), 10),
            pad_left(&cell(size.warm_p50_ms, ms), 10),
            pad_left(&cell(size.warm_p90_ms, ms), 10),
            pad_left(&cell(size.warm_billed_ms, |b| format!("{b:.0} ms")), 9),
            pad_left(&cell(size.peak_memory_mb, megabytes), 9),
            pad_left(&cell(size.cost_per_million_usd, usd), 10),
            note,
        ];
        let _ = writeln!(out, "  {}", row.join(" ").trim_end());
    }
    out.push('\n');
    let pick =
        |chosen: Option<u32>| chosen.map_or_else(|| "none".to_owned(), |mb| format!("{mb} MB"));
    let _ = writeln!(
        out,
        "  cheapest {}   fastest {}   balanced {} (cost and p50 weighted {}/{})",
        pick(report.cheapest),
        pick(report.fastest),
        pick(report.balanced),
        report.balanced_weight,
        1.0 - report.balanced_weight
    );
    let _ = writeln!(out, "\n{}", report.note);
    out
}
