//! [`render_html`]: the report as one self-contained HTML page (inline CSS and SVG, no
//! script, no external resource).

use std::fmt::Write as _;

use super::format::{
    file_size, megabytes, ms, number, opt_ms, output_lines_not_kept, printable, usd, values,
};
use super::model::{Report, ReportedInvocation, Subsegment};
use super::stats::Distribution;

/// The CSS class of every waterfall bar (its colors are in [`STYLE`]).
const WATERFALL_BAR_CLASS: &str = "wf-bar";
/// The fill of cold-start bars in the duration chart.
pub(super) const CHART_COLD_COLOR: &str = "#ff7f0e";
/// The fill of the other bars in the duration chart.
const CHART_WARM_COLOR: &str = "#2ca02c";

pub(crate) const STYLE: &str = r#"
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px;
       color: #222; background: #fff; max-width: 1140px; }
h1 { font-size: 22px; margin: 0 0 4px 0; }
h2 { font-size: 17px; margin: 28px 0 8px 0; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 14px; margin: 16px 0 6px 0; font-weight: 600; }
code, .mono { font-family: "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace;
              font-size: 12px; }
.muted { color: #777; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 8px 12px; min-width: 150px; }
.card .value { font-size: 20px; font-weight: 600; }
.card .label { font-size: 12px; color: #666; }
table { border-collapse: collapse; font-size: 13px; }
th, td { text-align: left; padding: 3px 10px 3px 0; vertical-align: top; }
th { color: #555; font-weight: 600; border-bottom: 1px solid #ccc; }
td.num, th.num { text-align: right; }
tr + tr td { border-top: 1px solid #f0f0f0; }
.status-ok { color: #1a7f37; }
.status-fail { color: #c62828; font-weight: 600; }
.kind-cold { color: #b85c00; font-weight: 600; }
.waterfall { margin-bottom: 14px; }
.wf-row { display: flex; align-items: center; height: 20px; font-size: 12px; }
.wf-label { width: 300px; flex: none; white-space: pre; overflow: hidden; text-overflow: ellipsis; }
.wf-track { position: relative; flex: 1; height: 20px; background: #f6f8fa;
            border-left: 1px solid #ccc; border-right: 1px solid #ccc; }
.wf-bar { position: absolute; top: 3px; height: 14px; min-width: 2px; background: #1f77b4; }
.wf-bar.wf-fault { background: #d62728; }
.wf-bar.wf-error { background: #e6a100; }
.wf-bar.wf-orphan { background: #9467bd; }
.wf-time { width: 150px; flex: none; text-align: right; padding-left: 8px; }
.wf-cause { font-size: 12px; color: #c62828; margin-left: 300px; }
.wf-scale { display: flex; font-size: 11px; color: #777; }
.wf-scale .wf-track { background: none; height: 14px; border: none; }
.problems li { margin-bottom: 6px; }
.problem-kind { font-weight: 600; color: #c62828; }
pre.excerpt { margin: 2px 0 0 0; white-space: pre-wrap; word-break: break-all; color: #555;
              background: #f6f8fa; padding: 4px 6px; font-size: 12px; }
.legend span { display: inline-block; width: 12px; height: 12px; vertical-align: middle;
               margin: 0 4px 0 12px; }
"#;

/// Renders the report as one self-contained HTML page: summary, a bar chart of the duration
/// of each invocation (cold starts in orange, `#ff7f0e`, the others in green), the invocation
/// table, a waterfall per traced invocation (bars of class `wf-bar`, blue `#1f77b4` when the
/// subsegment has no fault, error or throttle, positioned by start and duration), the
/// processes, the metrics and the problems. No script and no external resource.
pub fn render_html(report: &Report) -> String {
    let mut out = String::new();
    let title = format!("lambda-perf report: {}", report.function);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&title)
    );
    let _ = writeln!(
        out,
        "<h1>lambda-perf report</h1>\n<div><code>{}</code></div>",
        escape(&report.function)
    );
    summary(&mut out, report);
    chart(&mut out, report);
    invocation_table(&mut out, report);
    waterfalls(&mut out, report);
    processes(&mut out, report);
    metrics(&mut out, report);
    problems(&mut out, report);
    out.push_str("</body>\n</html>\n");
    out
}

/// Escapes text for HTML content and attribute values; control characters other than line
/// ends and tabs (not allowed in HTML) are written out (`\u{0}`), as [`printable`] does.
pub(crate) fn escape(text: &str) -> String {
    let printable = printable(text, &['\n', '\t', '\r']);
    let mut out = String::with_capacity(printable.len());
    for c in printable.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn card(out: &mut String, value: &str, label: &str) {
    let _ = writeln!(
        out,
        "<div class=\"card\"><div class=\"value\">{}</div><div class=\"label\">{}</div></div>",
        escape(value),
        escape(label)
    );
}

fn percentiles(d: Option<&Distribution>) -> String {
    d.map_or_else(
        || "-".to_owned(),
        |d| format!("{} / {} / {}", ms(d.p50), ms(d.p90), ms(d.p99)),
    )
}

fn summary(out: &mut String, report: &Report) {
    let s = &report.summary;
    out.push_str("<h2>Summary</h2>\n<div class=\"cards\">\n");
    card(out, &s.invocations.to_string(), "invocations");
    card(
        out,
        &format!("{} ({:.1} %)", s.cold_starts, s.cold_start_percent),
        "cold starts",
    );
    card(out, &s.errors.to_string(), "errors");
    card(out, &s.problems.to_string(), "problems");
    card(out, &percentiles(s.init.as_ref()), "init p50 / p90 / p99");
    card(
        out,
        &percentiles(s.duration.as_ref()),
        "duration p50 / p90 / p99",
    );
    let comparison = &s.cold_vs_warm;
    let cold_warm = match (&comparison.cold, &comparison.warm) {
        (Some(cold), Some(warm)) => format!("{} vs {}", ms(cold.p50), ms(warm.p50)),
        (Some(cold), None) => format!("{} vs -", ms(cold.p50)),
        (None, Some(warm)) => format!("- vs {}", ms(warm.p50)),
        (None, None) => "-".to_owned(),
    };
    card(out, &cold_warm, "p50 duration, cold vs warm");
    let resources = &report.resources;
    let package = resources
        .package
        .as_ref()
        .map(|p| format!(" (package {})", file_size(p.bytes)));
    match (&resources.binary, package) {
        (Some(binary), package) => card(
            out,
            &format!("{}{}", file_size(binary.bytes), package.unwrap_or_default()),
            "binary size",
        ),
        (None, Some(package)) => card(out, &format!("not found{package}"), "binary size"),
        (None, None) => {}
    }
    let imposed = match &resources.sizing {
        Some(sizing) => format!(
            "memory size, imposed (cgroup {}, {:.3} of a core{})",
            sizing.cgroup,
            sizing.cpu_cores,
            super::terminal::cpu_cap(sizing)
        ),
        None => "memory size, not imposed".to_owned(),
    };
    card(out, &format!("{} MB", resources.memory_size_mb), &imposed);
    if let Some(peak) = resources.peak_memory_mb {
        card(out, &megabytes(peak), "peak memory");
    }
    if resources.out_of_memory > 0 {
        card(
            out,
            &resources.out_of_memory.to_string(),
            "out of memory (Runtime.OutOfMemory)",
        );
    }
    let billing = &resources.billing;
    if let Some(per_million) = billing.cost_per_million_usd {
        card(
            out,
            &usd(per_million),
            &format!(
                "per million invocations ({}, {})",
                billing.architecture, billing.prices
            ),
        );
    }
    out.push_str("</div>\n");
}

fn chart(out: &mut String, report: &Report) {
    out.push_str("<h2>Duration per invocation</h2>\n");
    let measured: Vec<f64> = report
        .invocations
        .iter()
        .filter_map(|i| i.duration_ms)
        .collect();
    if measured.is_empty() {
        out.push_str("<p class=\"muted\">No invocation has a duration.</p>\n");
        return;
    }
    let max = measured.iter().copied().fold(0.0_f64, f64::max).max(0.001);
    let (width, height, left, bottom, top) = (960.0, 200.0, 60.0, 24.0, 16.0);
    let plot_width = width - left - 10.0;
    let plot_height = height - bottom - top;
    let count = report.invocations.len() as f64;
    let slot = plot_width / count;
    let bar_width = (slot * 0.7).clamp(1.0, 48.0);
    let _ = writeln!(
        out,
        "<svg class=\"chart\" width=\"{width}\" \
         height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" \
         aria-label=\"duration per invocation\">"
    );
    let axis_y = top + plot_height;
    let _ = writeln!(
        out,
        "<line x1=\"{left}\" y1=\"{axis_y}\" x2=\"{}\" y2=\"{axis_y}\" stroke=\"#999\"/>\
         <line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{axis_y}\" stroke=\"#999\"/>\
         <text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\" fill=\"#555\">{}</text>\
         <text x=\"{}\" y=\"{axis_y}\" font-size=\"11\" text-anchor=\"end\" fill=\"#555\">0</text>",
        width - 10.0,
        left - 6.0,
        top + 4.0,
        escape(&ms(max)),
        left - 6.0,
    );
    let labels = report.invocations.len() <= 60;
    for (n, invocation) in report.invocations.iter().enumerate() {
        let x = left + slot * n as f64 + (slot - bar_width) / 2.0;
        if let Some(duration) = invocation.duration_ms {
            let bar_height = (duration / max * plot_height).max(1.0);
            let fill = if invocation.cold_start {
                CHART_COLD_COLOR
            } else {
                CHART_WARM_COLOR
            };
            let stroke = if invocation.status.is_failure() {
                " stroke=\"#d62728\" stroke-width=\"2\""
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "<rect class=\"chart-bar\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar_width:.1}\" \
                 height=\"{bar_height:.1}\" fill=\"{fill}\"{stroke}><title>#{} {} {} {}</title></rect>",
                axis_y - bar_height,
                invocation.index,
                escape(invocation.start_kind.as_deref().unwrap_or("?")),
                invocation.status.as_str(),
                escape(&ms(duration)),
            );
        }
        if invocation.duration_ms.is_none() {
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\" \
                 fill=\"#d62728\">{}</text>",
                x + bar_width / 2.0,
                axis_y - 4.0,
                invocation.status.as_str()
            );
        }
        if labels {
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\" \
                 fill=\"#555\">{}</text>",
                x + bar_width / 2.0,
                axis_y + 14.0,
                invocation.index
            );
        }
    }
    out.push_str("</svg>\n");
    let _ = writeln!(
        out,
        "<div class=\"legend muted\"><span style=\"background:{CHART_COLD_COLOR}\"></span>cold \
         start (cold, restart)<span style=\"background:{CHART_WARM_COLOR}\"></span>other \
         <span style=\"background:#fff;border:2px solid #d62728;box-sizing:border-box\">\
         </span>failed</div>"
    );
}

fn status_cell(invocation: &ReportedInvocation) -> String {
    let class = if invocation.status.is_failure() {
        "status-fail"
    } else {
        "status-ok"
    };
    let error = invocation
        .error
        .as_deref()
        .map(|e| format!(": {}", escape(e)))
        .unwrap_or_default();
    format!(
        "<td class=\"{class}\">{}{error}</td>",
        invocation.status.as_str()
    )
}

fn invocation_table(out: &mut String, report: &Report) {
    out.push_str("<h2>Invocations</h2>\n");
    if report.invocations.is_empty() {
        out.push_str("<p class=\"muted\">None.</p>\n");
        return;
    }
    out.push_str(
        "<table class=\"invocations\">\n<tr><th class=\"num\">#</th><th>request id</th>\
         <th class=\"num\">process</th><th class=\"num\">env</th><th>start</th>\
         <th class=\"num\">duration</th><th class=\"num\">init</th>\
         <th class=\"num\">idle gap</th><th>status</th><th>in flight with</th></tr>\n",
    );
    for invocation in &report.invocations {
        let kind_class = if invocation.cold_start {
            " class=\"kind-cold\""
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "<tr><td class=\"num\">{}</td><td><code>{}</code></td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td{kind_class}>{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td>{}<td>{}</td></tr>",
            invocation.index,
            escape(&invocation.request_id),
            invocation.process,
            invocation.environment,
            escape(invocation.start_kind.as_deref().unwrap_or("?")),
            opt_ms(invocation.duration_ms),
            opt_ms(invocation.init_duration_ms),
            opt_ms(invocation.idle_gap_ms),
            status_cell(invocation),
            invocation
                .concurrent_with
                .iter()
                .map(|index| format!("#{index}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    out.push_str("</table>\n");
}

fn waterfalls(out: &mut String, report: &Report) {
    out.push_str("<h2>Waterfalls</h2>\n");
    let mut drawn = 0;
    for invocation in report
        .invocations
        .iter()
        .filter(|i| !i.subsegments.is_empty())
    {
        waterfall(out, invocation);
        drawn += 1;
    }
    if drawn == 0 {
        out.push_str("<p class=\"muted\">No X-Ray subsegments received.</p>\n");
    } else if drawn < report.invocations.len() {
        let _ = writeln!(
            out,
            "<p class=\"muted\">{} invocation(s) without subsegments (not sampled, or no \
             X-Ray).</p>",
            report.invocations.len() - drawn
        );
    }
}

fn waterfall(out: &mut String, invocation: &ReportedInvocation) {
    let span = invocation.waterfall_span_ms();
    let _ = writeln!(
        out,
        "<div class=\"waterfall\">\n<h3>#{} {} {} <code>{}</code>{}</h3>",
        invocation.index,
        escape(invocation.start_kind.as_deref().unwrap_or("?")),
        invocation.status.as_str(),
        escape(&invocation.request_id),
        invocation
            .trace_id
            .as_deref()
            .map(|t| format!(
                " <span class=\"muted\">trace <code>{}</code></span>",
                escape(t)
            ))
            .unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "<div class=\"wf-scale\"><div class=\"wf-label\"></div><div class=\"wf-track\">\
         <span>0</span><span style=\"position:absolute;right:0\">{}</span></div>\
         <div class=\"wf-time\">start · duration</div></div>",
        escape(&ms(span))
    );
    for root in &invocation.subsegments {
        row(out, root, "", "", span);
    }
    out.push_str("</div>\n");
}

fn row(out: &mut String, node: &Subsegment, prefix: &str, below: &str, span: f64) {
    let start = node.start_ms.clamp(0.0, span);
    let end = node.end_ms.unwrap_or(span).clamp(start, span);
    let left = start / span * 100.0;
    let width = (end - start) / span * 100.0;
    let mut classes = vec![WATERFALL_BAR_CLASS];
    if node.fault {
        classes.push("wf-fault");
    } else if node.error || node.throttle {
        classes.push("wf-error");
    } else if node.orphan {
        classes.push("wf-orphan");
    }
    let flags = node.flags();
    let flags = if flags.is_empty() {
        String::new()
    } else {
        format!(" [{}]", flags.join(", "))
    };
    let namespace = node
        .namespace
        .as_deref()
        .map(|ns| format!(" ({ns})"))
        .unwrap_or_default();
    let tooltip = format!(
        "{}{namespace}: start {}, duration {}{flags}",
        node.name,
        ms(node.start_ms),
        opt_ms(node.duration_ms())
    );
    let _ = writeln!(
        out,
        "<div class=\"wf-row\"><div class=\"wf-label mono\" title=\"{}\">{}{}{}</div>\
         <div class=\"wf-track\"><div class=\"{}\" style=\"left:{left:.3}%;width:{width:.3}%\" \
         title=\"{}\"></div></div><div class=\"wf-time mono\">{} · {}</div></div>",
        escape(&tooltip),
        escape(prefix),
        escape(&node.name),
        escape(&flags),
        classes.join(" "),
        escape(&tooltip),
        escape(&ms(node.start_ms)),
        escape(&opt_ms(node.duration_ms())),
    );
    if let Some(cause) = &node.cause {
        let _ = writeln!(
            out,
            "<div class=\"wf-cause mono\">↳ {}</div>",
            escape(cause)
        );
    }
    let count = node.children.len();
    for (i, child) in node.children.iter().enumerate() {
        let (branch, continuation) = if i + 1 == count {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        row(
            out,
            child,
            &format!("{below}{branch}"),
            &format!("{below}{continuation}"),
            span,
        );
    }
}

fn processes(out: &mut String, report: &Report) {
    out.push_str("<h2>Processes</h2>\n");
    if report.processes.is_empty() {
        out.push_str("<p class=\"muted\">None.</p>\n");
        return;
    }
    out.push_str(
        "<table>\n<tr><th class=\"num\">process</th><th class=\"num\">env</th>\
         <th class=\"num\">invocations</th><th class=\"num\">stdout</th>\
         <th class=\"num\">EMF</th><th class=\"num\">stderr</th>\
         <th class=\"num\">peak memory</th><th>ended</th><th>last stderr lines</th></tr>\n",
    );
    for process in &report.processes {
        let _ = writeln!(
            out,
            "<tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            process.index,
            process.environment,
            process.invocations,
            process.stdout_lines,
            process.emf_lines,
            process.stderr_lines,
            match (process.peak_memory_mb, process.memory_limit_mb) {
                (Some(peak), Some(limit)) => format!(
                    "{} of {} ({:.0} %)",
                    megabytes(peak),
                    megabytes(limit),
                    peak * 100.0 / limit
                ),
                (peak, _) => peak.map(megabytes).unwrap_or_default(),
            },
            escape(&if process.dropped_output_lines > 0 {
                format!(
                    "{}; {}",
                    process.ending(),
                    output_lines_not_kept(process.dropped_output_lines)
                )
            } else {
                process.ending()
            }),
            if process.last_stderr.is_empty() {
                String::new()
            } else {
                format!(
                    "<pre class=\"excerpt\">{}</pre>",
                    escape(&process.last_stderr.join("\n"))
                )
            }
        );
    }
    out.push_str("</table>\n");
}

fn metrics(out: &mut String, report: &Report) {
    out.push_str("<h2>Metrics received</h2>\n");
    if report.metrics.is_empty() {
        out.push_str("<p class=\"muted\">None.</p>\n");
        return;
    }
    out.push_str(
        "<table class=\"metrics\">\n<tr><th>namespace</th><th>name</th><th>unit</th>\
         <th class=\"num\">count</th><th class=\"num\">sum</th><th>values</th>\
         <th>dimensions</th></tr>\n",
    );
    for series in &report.metrics {
        let resolution = if series.high_resolution {
            " <span class=\"muted\">(high resolution)</span>"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td><code>{}</code>{resolution}</td><td>{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"mono\">{}</td>\
             <td class=\"mono\">{}</td></tr>",
            escape(&series.namespace),
            escape(&series.name),
            escape(&series.unit),
            series.values.len(),
            number(series.sum()),
            escape(&values(&series.values, 20)),
            escape(&series.dimensions_text())
        );
    }
    out.push_str("</table>\n");
}

fn problems(out: &mut String, report: &Report) {
    let _ = writeln!(out, "<h2>Problems ({})</h2>", report.problems.len());
    if report.problems.is_empty() {
        out.push_str("<p class=\"muted\">None found.</p>\n");
        return;
    }
    out.push_str("<ul class=\"problems\">\n");
    for problem in &report.problems {
        let excerpt = problem
            .excerpt
            .as_deref()
            .map(|e| format!("<pre class=\"excerpt\">{}</pre>", escape(e)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "<li><span class=\"problem-kind\">{}</span> <span class=\"muted\">{}</span>: \
             {}{excerpt}</li>",
            escape(problem.kind.label()),
            escape(&problem.location),
            escape(&problem.message)
        );
    }
    out.push_str("</ul>\n");
}
