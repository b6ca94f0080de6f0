//! [`render_tune_html`]: the duration and cost curves against memory, the picture Power
//! Tuning users know, as one self-contained HTML page.

use std::fmt::Write as _;

use crate::report::chart::{Series, line_chart};
use crate::report::format::{megabytes, ms, usd};
use crate::report::html::{STYLE, card, escape};

use super::{SizeStatus, TuneReport};

/// The colors of the curves.
const WARM_P50: &str = "#1f77b4";
const WARM_P90: &str = "#6baed6";
const COLD: &str = "#ff7f0e";
const COST: &str = "#2ca02c";

/// Renders the sweep as an HTML page: the picks, a chart of warm p50, warm p90 and cold
/// duration (init included) against memory, a chart of the cost per million invocations
/// against memory, the table, and the note that local CPUs are not Lambda's. No script, no
/// external resource.
pub fn render_tune_html(report: &TuneReport) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>lambda-perf tune: {0}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>lambda-perf tune</h1>\n<div><code>{0}</code></div>\n\
         <p class=\"muted\">{1}</p>\n",
        escape(&report.function),
        escape(&report.note)
    );
    if let Some(warning) = super::terminal::cpu_capped_warning(report) {
        let _ = writeln!(out, "<p><strong>{}</strong></p>", escape(&warning));
    }
    let pick =
        |chosen: Option<u32>| chosen.map_or_else(|| "none".to_owned(), |mb| format!("{mb} MB"));
    out.push_str("<div class=\"cards\">\n");
    card(&mut out, &pick(report.cheapest), "cheapest");
    card(&mut out, &pick(report.fastest), "fastest (warm p50)");
    card(&mut out, &pick(report.balanced), "balanced");
    card(
        &mut out,
        &report.architecture.to_string(),
        &format!("prices: {}", report.prices),
    );
    out.push_str("</div>\n");

    let labels: Vec<String> = report
        .sizes
        .iter()
        .map(|s| s.memory_mb.to_string())
        .collect();
    let usable = |s: &super::SizeResult| s.status == SizeStatus::Ok;
    let values = |f: fn(&super::SizeResult) -> Option<f64>| -> Vec<Option<f64>> {
        report
            .sizes
            .iter()
            .map(|s| if usable(s) { f(s) } else { None })
            .collect()
    };
    out.push_str("<h2>Duration against memory</h2>\n");
    out.push_str(&line_chart(
        "duration against memory",
        "memory (MB)",
        &labels,
        &[
            Series {
                name: "warm p50",
                color: WARM_P50,
                values: values(|s| s.warm_p50_ms),
            },
            Series {
                name: "warm p90",
                color: WARM_P90,
                values: values(|s| s.warm_p90_ms),
            },
            Series {
                name: "cold start (init + duration)",
                color: COLD,
                values: values(|s| Some(s.cold_init_ms? + s.cold_duration_ms?)),
            },
        ],
        &|v| ms(v),
    ));
    let _ = writeln!(
        out,
        "<h2>Cost per million invocations against memory ({})</h2>",
        escape(&report.architecture.to_string())
    );
    out.push_str(&line_chart(
        "cost against memory",
        "memory (MB)",
        &labels,
        &[Series {
            name: "cost per million invocations",
            color: COST,
            values: values(|s| s.cost_per_million_usd),
        }],
        &|v| usd(v),
    ));

    out.push_str(
        "<h2>Sizes</h2>\n<table>\n<tr><th class=\"num\">memory</th><th class=\"num\">CPU</th>\
         <th class=\"num\">cold init</th><th class=\"num\">cold</th><th class=\"num\">warm p50\
         </th><th class=\"num\">warm p90</th><th class=\"num\">billed</th>\
         <th class=\"num\">peak memory</th><th class=\"num\">$ per 1M</th><th></th></tr>\n",
    );
    let text =
        |value: Option<f64>, f: &dyn Fn(f64) -> String| value.map_or_else(|| "-".to_owned(), f);
    for size in &report.sizes {
        let status = match size.status {
            SizeStatus::Ok => String::new(),
            SizeStatus::OutOfMemory => "out of memory".to_owned(),
            SizeStatus::Failed => format!("failed: {}", size.error.as_deref().unwrap_or("")),
        };
        let _ = writeln!(
            out,
            "<tr><td class=\"num\">{} MB</td><td class=\"num\">{:.2}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"status-fail\">{}</td></tr>",
            size.memory_mb,
            size.cpu_cores,
            text(size.cold_init_ms, &ms),
            text(size.cold_duration_ms, &ms),
            text(size.warm_p50_ms, &ms),
            text(size.warm_p90_ms, &ms),
            text(size.warm_billed_ms, &|b| format!("{b:.0} ms")),
            text(size.peak_memory_mb, &megabytes),
            text(size.cost_per_million_usd, &usd),
            escape(&status)
        );
    }
    out.push_str("</table>\n</body>\n</html>\n");
    out
}
