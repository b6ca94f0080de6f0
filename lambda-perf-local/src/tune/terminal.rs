//! [`render_tune_terminal`]: the sweep as a table.

use std::fmt::Write as _;

use crate::report::format::{file_size, megabytes, ms, pad_left, printable, usd};
use crate::sizing::cpu_capped_at;

use super::{SizeStatus, TuneReport};

fn cell(value: Option<f64>, text: fn(f64) -> String) -> String {
    value.map_or_else(|| "-".to_owned(), text)
}

/// What the sizes whose CPU share is more than this machine's CPUs got, when there are any.
pub(crate) fn cpu_capped_warning(report: &TuneReport) -> Option<String> {
    let capped = report.cpu_capped_sizes();
    let cpus = report.machine_cpus?;
    if capped.is_empty() {
        return None;
    }
    let sizes: Vec<String> = capped
        .iter()
        .map(|s| format!("{} MB ({:.2})", s.memory_mb, s.cpu_cores))
        .collect();
    Some(format!(
        "this machine has {cpus} CPU(s): {} got at most {cpus} here, less than on Lambda, so \
         their figures show this machine, not those sizes",
        sizes.join(", ")
    ))
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
        let capped = cpu_capped_at(size.cpu_cores, report.machine_cpus)
            .map(|cpus| format!("CPU capped at {cpus} here"));
        let note = match size.status {
            SizeStatus::Ok => marks
                .into_iter()
                .map(str::to_owned)
                .chain(capped)
                .collect::<Vec<_>>()
                .join(", "),
            SizeStatus::OutOfMemory => "out of memory".to_owned(),
            // The function's own text (its error message), which may hold a line end or a
            // terminal escape sequence: written out, as `run`'s report writes it.
            SizeStatus::Failed => format!(
                "failed: {}",
                printable(size.error.as_deref().unwrap_or("see lambda-perf run"), &[])
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
    if let Some(warning) = cpu_capped_warning(report) {
        let _ = writeln!(out, "\n  {warning}");
    }
    let _ = writeln!(out, "\n{}", report.note);
    out
}

#[cfg(test)]
mod tests {
    use super::super::{SizeResult, SizeStatus, TuneReport, render_tune_html};
    use super::*;
    use crate::pricing::Architecture;

    fn size(memory_mb: u32) -> SizeResult {
        SizeResult {
            memory_mb,
            cpu_cores: f64::from(memory_mb) / 1769.0,
            status: SizeStatus::Ok,
            error: None,
            cold_init_ms: Some(3.0),
            cold_duration_ms: Some(20.0),
            cold_billed_ms: Some(23),
            warm_invocations: 3,
            warm_p50_ms: Some(12.0),
            warm_p90_ms: Some(13.0),
            warm_billed_ms: Some(13.0),
            peak_memory_mb: Some(6.0),
            cost_per_million_usd: Some(1.0),
        }
    }

    fn report(machine_cpus: Option<u32>) -> TuneReport {
        TuneReport {
            function: "fn".into(),
            binary: None,
            package: None,
            architecture: Architecture::X86_64,
            usd_per_gb_second: 0.0000166667,
            usd_per_million_requests: 0.2,
            prices: "us-east-1".into(),
            cgroup: "v2".into(),
            machine_cpus,
            invocations_per_size: 4,
            cold_start_percent: 1.0,
            sizes: vec![size(1769), size(5307), size(10_240)],
            cheapest: Some(1769),
            fastest: Some(1769),
            balanced: Some(1769),
            balanced_weight: 0.5,
            note: String::new(),
        }
    }

    #[test]
    fn sizes_above_the_machines_cpus_are_named() {
        // 5,307 MB (3 vCPUs) and 10,240 MB (5.79) cannot get their share on 2 CPUs.
        let capped = report(Some(2));
        let sizes: Vec<u32> = capped
            .cpu_capped_sizes()
            .iter()
            .map(|s| s.memory_mb)
            .collect();
        assert_eq!(sizes, [5307, 10_240]);
        let text = render_tune_terminal(&capped);
        assert!(
            text.contains(
                "this machine has 2 CPU(s): 5307 MB (3.00), 10240 MB (5.79) got at most 2 here"
            ),
            "{text}"
        );
        let row = |mb: &str| {
            text.lines()
                .find(|l| l.trim_start().starts_with(mb))
                .unwrap()
                .to_owned()
        };
        assert!(row("10240 MB").ends_with("CPU capped at 2 here"), "{text}");
        assert!(!row("1769 MB").contains("capped"), "{text}");
        assert!(render_tune_html(&capped).contains("got at most 2 here"));
        // Enough CPUs, or an unknown machine: nothing to say.
        for machine in [Some(6), None] {
            let text = render_tune_terminal(&report(machine));
            assert!(
                !text.contains("capped") && !text.contains("at most"),
                "{text}"
            );
        }
    }

    #[test]
    fn a_failed_sizes_error_is_shown_with_its_control_characters_written_out() {
        let mut failed = report(None);
        failed.sizes[2].status = SizeStatus::Failed;
        failed.sizes[2].error = Some(
            "1 of 4 invocation(s) failed (error): Function.Error: \u{1b}]0;owned\u{7}\u{1b}[2J\nnext"
                .into(),
        );
        let text = render_tune_terminal(&failed);
        assert!(!text.contains(['\u{1b}', '\u{7}']), "{text:?}");
        let row = text
            .lines()
            .find(|l| l.trim_start().starts_with("10240 MB"))
            .unwrap();
        assert!(
            row.ends_with(
                "failed: 1 of 4 invocation(s) failed (error): Function.Error: \
                 \\u{1b}]0;owned\\u{7}\\u{1b}[2J\\u{a}next"
            ),
            "{row}"
        );
    }
}
