//! [`render_logs_html`]: the logs report as one self-contained HTML page.

use std::fmt::Write as _;

use crate::report::Distribution;
use crate::report::chart::percentile_chart;
use crate::report::format::{megabytes, ms, usd};
use crate::report::html::{STYLE, card, escape};

use super::model::LogsReport;

/// Renders the same report as [`render_logs_terminal`](super::render_logs_terminal) as one
/// HTML page: cards for the counts, memory and cost, the statuses, percentile strips of init and
/// durations, lambda-perf's figures and the malformed lines. No script, no external
/// resource.
pub fn render_logs_html(report: &LogsReport) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>lambda-perf logs</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>lambda-perf logs</h1>\n<div class=\"muted\">{}</div>\n",
        escape(&report.files.join(", "))
    );
    out.push_str("<h2>Summary</h2>\n<div class=\"cards\">\n");
    card(&mut out, &report.invocations.to_string(), "invocations");
    card(
        &mut out,
        &format!(
            "{} ({:.1} %)",
            report.cold_starts, report.cold_start_percent
        ),
        "cold starts",
    );
    if let Some(d) = &report.init_duration_ms {
        card(
            &mut out,
            &format!("{} / {}", ms(d.p50), ms(d.p99)),
            "Init Duration p50 / p99",
        );
    }
    if let (Some(size), Some(used)) = (report.memory_size_mb, report.max_memory_used_mb) {
        // The size the heaviest invocation ran at, whose headroom is shown.
        let size = report.heaviest_memory_size_mb().unwrap_or(size);
        card(
            &mut out,
            &format!("{} of {size} MB", megabytes(used)),
            &format!(
                "max memory used (headroom {}, {:.1} %)",
                megabytes(report.memory_headroom_mb.unwrap_or(0.0)),
                report.memory_headroom_percent.unwrap_or(0.0)
            ),
        );
    }
    card(
        &mut out,
        &format!("{:.4} GB-s", report.billed_gb_seconds),
        "billed",
    );
    card(
        &mut out,
        &usd(report.cost_usd),
        &format!(
            "cost ({}, {})",
            report.prices.architecture, report.prices.initialization_type
        ),
    );
    out.push_str("</div>\n");
    if report.invocations > 0 {
        let statuses: Vec<String> = report
            .statuses
            .iter()
            .map(|(status, count)| format!("{status} {count}"))
            .collect();
        let _ = writeln!(
            out,
            "<p>statuses: {}; restores {}</p>",
            escape(&statuses.join(", ")),
            report.restores
        );
    }
    if report.lines.duplicate_reports > 0 {
        let _ = writeln!(
            out,
            "<p class=\"muted\">{} repeated REPORT line(s) counted once</p>",
            report.lines.duplicate_reports
        );
    }

    let mut named: Vec<(&str, Option<&Distribution>)> = vec![
        ("Init Duration", report.init_duration_ms.as_ref()),
        ("Restore Duration", report.restore_duration_ms.as_ref()),
        ("duration", report.duration_ms.as_ref()),
        ("cold-start duration", report.cold_duration_ms.as_ref()),
        ("duration of restores", report.restored_duration_ms.as_ref()),
        ("warm duration", report.warm_duration_ms.as_ref()),
        ("billed duration", report.billed_duration_ms.as_ref()),
        (
            "Billed Restore Duration",
            report.billed_restore_duration_ms.as_ref(),
        ),
    ];
    if let Some(figures) = &report.lambda_perf {
        named.push(("in-process init", figures.init_duration_ms.as_ref()));
        named.push(("idle gap before warm", figures.reuse.idle_gap_ms.as_ref()));
    }
    let rows: Vec<(String, &Distribution)> = named
        .into_iter()
        .filter_map(|(label, d)| Some((format!("{label} (n={})", d?.count), d?)))
        .collect();
    out.push_str("<h2>Durations (nearest-rank percentiles)</h2>\n");
    if rows.is_empty() {
        out.push_str("<p class=\"muted\">No REPORT lines in these logs.</p>\n");
    } else {
        out.push_str(&percentile_chart(&rows, &|v| ms(v)));
        out.push_str(
            "<table>\n<tr><th></th><th class=\"num\">n</th><th class=\"num\">p50</th>\
             <th class=\"num\">p90</th><th class=\"num\">p99</th><th class=\"num\">max</th></tr>\n",
        );
        for (label, d) in &rows {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                escape(label),
                d.count,
                ms(d.p50),
                ms(d.p90),
                ms(d.p99),
                ms(d.max)
            );
        }
        out.push_str("</table>\n");
    }

    if let Some(figures) = &report.lambda_perf {
        out.push_str("<h2>lambda-perf EMF lines</h2>\n<ul>\n");
        let kinds: Vec<String> = figures
            .start_kinds
            .iter()
            .map(|(kind, count)| format!("{kind} {count}"))
            .collect();
        let _ = writeln!(out, "<li>start kinds: {}</li>", escape(&kinds.join(", ")));
        if let Some(pairs) = &figures.init_side_by_side {
            let _ = writeln!(
                out,
                "<li>init side by side ({} cold starts): platform p50 {}, in-process p50 {}, \
                 difference p50 {}</li>",
                pairs.pairs,
                ms(pairs.platform_ms.p50),
                ms(pairs.in_process_ms.p50),
                ms(pairs.difference_p50_ms)
            );
        }
        for client in &figures.client_init_ms {
            let _ = writeln!(
                out,
                "<li>client init <code>{}</code>: n={} p50 {} max {}</li>",
                escape(&client.client),
                client.duration_ms.count,
                ms(client.duration_ms.p50),
                ms(client.duration_ms.max)
            );
        }
        if let Some(used) = &figures.cpu_allotment_used {
            let _ = writeln!(
                out,
                "<li>CPU used of the memory size's share: n={} p50 {:.2} p90 {:.2} max {:.2} \
                 (near 1: CPU-bound, more memory would shorten it; near 0: waiting on I/O)</li>",
                used.count, used.p50, used.p90, used.max
            );
        }
        let reuse = &figures.reuse;
        if let (Some(count), Some(lifetime)) = (reuse.environments, &reuse.lifetime_ms) {
            let _ = writeln!(
                out,
                "<li>{count} environment(s), lifetime p50 {} max {}</li>",
                ms(lifetime.p50),
                ms(lifetime.max)
            );
        }
        if let Some(longest) = reuse.longest_reused_idle_gap_ms {
            let _ = writeln!(
                out,
                "<li>longest idle gap after which an environment was reused: {}</li>",
                ms(longest)
            );
        }
        if let Some(note) = &reuse.note {
            let _ = writeln!(out, "<li class=\"muted\">{}</li>", escape(note));
        }
        out.push_str("</ul>\n");
    }

    let lines = &report.lines;
    let _ = writeln!(
        out,
        "<h2>Lines ({} read, {} malformed)</h2>\n<p class=\"muted\">{} platform, {} EMF, {} \
         other</p>",
        lines.events, lines.malformed, lines.platform, lines.emf, lines.output
    );
    if !lines.malformed_examples.is_empty() {
        out.push_str("<ul class=\"problems\">\n");
        for example in &lines.malformed_examples {
            let excerpt = example
                .excerpt
                .as_deref()
                .map(|e| format!("<pre class=\"excerpt\">{}</pre>", escape(e)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "<li><span class=\"muted\">{}</span>: {}{excerpt}</li>",
                escape(&example.location),
                escape(&example.reason)
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}
