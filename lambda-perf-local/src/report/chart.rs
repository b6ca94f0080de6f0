//! Inline SVG charts shared by the HTML reports: a [`line_chart`] of values against
//! categories (the tuning curves), and a [`percentile_chart`] of distributions. No script,
//! no external resource.

use std::fmt::Write as _;

use super::html::escape;
use super::stats::Distribution;

/// One curve of a [`line_chart`]: a value per category, `None` where there is none.
pub(crate) struct Series<'a> {
    pub(crate) name: &'a str,
    pub(crate) color: &'a str,
    pub(crate) values: Vec<Option<f64>>,
}

/// Curves of `series` against the categories `x_labels`, evenly spaced, on a y axis from 0
/// to the largest value; `y_text` writes a value for the axis and tooltips. Each curve is a
/// `polyline` of class `curve` (broken where a value is missing) with a circle per point.
pub(crate) fn line_chart(
    aria: &str,
    x_title: &str,
    x_labels: &[String],
    series: &[Series<'_>],
    y_text: &dyn Fn(f64) -> String,
) -> String {
    let (width, height, left, right, top, bottom) = (960.0, 260.0, 90.0, 20.0, 16.0, 40.0);
    let plot_width = width - left - right;
    let plot_height = height - top - bottom;
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max)
        .max(f64::MIN_POSITIVE)
        * 1.1;
    let count = x_labels.len();
    let x = |i: usize| {
        if count <= 1 {
            left + plot_width / 2.0
        } else {
            left + plot_width * i as f64 / (count - 1) as f64
        }
    };
    let y = |value: f64| top + plot_height * (1.0 - value / max);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg class=\"chart\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} \
         {height}\" role=\"img\" aria-label=\"{}\">",
        escape(aria)
    );
    for fraction in [0.0, 0.5, 1.0] {
        let value = max / 1.1 * fraction;
        let at = y(value);
        let _ = writeln!(
            out,
            "<line x1=\"{left}\" y1=\"{at:.1}\" x2=\"{:.1}\" y2=\"{at:.1}\" stroke=\"#e3e3e3\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" \
             fill=\"#555\">{}</text>",
            width - right,
            left - 6.0,
            at + 4.0,
            escape(&y_text(value))
        );
    }
    for (i, label) in x_labels.iter().enumerate() {
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\" \
             fill=\"#555\">{}</text>",
            x(i),
            top + plot_height + 16.0,
            escape(label)
        );
    }
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\" \
         fill=\"#777\">{}</text>",
        left + plot_width / 2.0,
        height - 4.0,
        escape(x_title)
    );
    for curve in series {
        let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for (i, value) in curve.values.iter().enumerate() {
            match value.filter(|v| v.is_finite()) {
                Some(value) => {
                    if let Some(run) = runs.last_mut() {
                        run.push((x(i), y(value)));
                    }
                }
                None => runs.push(Vec::new()),
            }
        }
        for run in runs.iter().filter(|run| run.len() > 1) {
            let points: Vec<String> = run.iter().map(|(a, b)| format!("{a:.1},{b:.1}")).collect();
            let _ = writeln!(
                out,
                "<polyline class=\"curve\" data-series=\"{}\" fill=\"none\" stroke=\"{}\" \
                 stroke-width=\"2\" points=\"{}\"/>",
                escape(curve.name),
                curve.color,
                points.join(" ")
            );
        }
        for (i, value) in curve.values.iter().enumerate() {
            if let Some(value) = value.filter(|v| v.is_finite()) {
                let _ = writeln!(
                    out,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"{}\"><title>{} at {}: \
                     {}</title></circle>",
                    x(i),
                    y(value),
                    curve.color,
                    escape(curve.name),
                    escape(&x_labels[i]),
                    escape(&y_text(value))
                );
            }
        }
    }
    out.push_str("</svg>\n<div class=\"legend muted\">");
    for curve in series {
        let _ = write!(
            out,
            "<span style=\"background:{}\"></span>{}",
            curve.color,
            escape(curve.name)
        );
    }
    out.push_str("</div>\n");
    out
}

/// One horizontal strip per distribution on a shared scale: to p50 dark, to p90 medium, to
/// p99 light, and a tick at the maximum.
pub(crate) fn percentile_chart(
    rows: &[(String, &Distribution)],
    text: &dyn Fn(f64) -> String,
) -> String {
    let (width, row_height, label_width, right) = (960.0, 26.0, 230.0, 110.0);
    let track = width - label_width - right;
    let max = rows
        .iter()
        .map(|(_, d)| d.max)
        .fold(0.0_f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let height = row_height * rows.len() as f64 + 8.0;
    let scale = |value: f64| label_width + track * (value / max).clamp(0.0, 1.0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg class=\"chart\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} \
         {height}\" role=\"img\" aria-label=\"percentiles\">"
    );
    for (n, (label, d)) in rows.iter().enumerate() {
        let top = 4.0 + row_height * n as f64;
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\" \
             fill=\"#333\">{}</text>",
            label_width - 8.0,
            top + 15.0,
            escape(label)
        );
        for (from, to, color, name) in [
            (0.0, d.p50, "#1f77b4", "p50"),
            (d.p50, d.p90, "#6baed6", "p90"),
            (d.p90, d.p99, "#c6dbef", "p99"),
        ] {
            let _ = writeln!(
                out,
                "<rect class=\"percentile\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" \
                 height=\"16\" fill=\"{color}\"><title>{} {name} {}</title></rect>",
                scale(from),
                top + 3.0,
                (scale(to) - scale(from)).max(0.0),
                escape(label),
                escape(&text(to))
            );
        }
        let _ = writeln!(
            out,
            "<line x1=\"{0:.1}\" y1=\"{1:.1}\" x2=\"{0:.1}\" y2=\"{2:.1}\" stroke=\"#d62728\" \
             stroke-width=\"2\"><title>{3} max {4}</title></line>\
             <text x=\"{5:.1}\" y=\"{6:.1}\" font-size=\"11\" fill=\"#555\">p50 {7}</text>",
            scale(d.max),
            top + 1.0,
            top + 21.0,
            escape(label),
            escape(&text(d.max)),
            width - right + 8.0,
            top + 15.0,
            escape(&text(d.p50))
        );
    }
    out.push_str("</svg>\n");
    out.push_str(
        "<div class=\"legend muted\"><span style=\"background:#1f77b4\"></span>to p50\
         <span style=\"background:#6baed6\"></span>to p90<span style=\"background:#c6dbef\">\
         </span>to p99<span style=\"background:#d62728\"></span>max</div>\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_break_at_missing_values() {
        let labels: Vec<String> = ["128", "256", "512"].map(String::from).to_vec();
        let svg = line_chart(
            "duration",
            "memory (MB)",
            &labels,
            &[Series {
                name: "warm p50",
                color: "#1f77b4",
                values: vec![Some(40.0), None, Some(10.0)],
            }],
            &|v| format!("{v:.0} ms"),
        );
        assert_eq!(svg.matches("<circle").count(), 2);
        // No segment of two points: no polyline at all.
        assert_eq!(svg.matches("<polyline").count(), 0);
        assert!(svg.contains("warm p50 at 128: 40 ms"));
        let joined = line_chart(
            "cost",
            "memory (MB)",
            &labels,
            &[Series {
                name: "cost",
                color: "#000",
                values: vec![Some(1.0), Some(2.0), Some(3.0)],
            }],
            &|v| format!("{v}"),
        );
        assert_eq!(joined.matches("class=\"curve\"").count(), 1);
    }

    #[test]
    fn strips_share_a_scale() {
        let small = Distribution::of(&[1.0, 2.0, 3.0]).unwrap();
        let large = Distribution::of(&[10.0, 20.0, 30.0]).unwrap();
        let svg = percentile_chart(
            &[("small".into(), &small), ("large".into(), &large)],
            &|v| format!("{v}"),
        );
        assert_eq!(svg.matches("class=\"percentile\"").count(), 6);
        assert!(svg.contains("large max 30"));
    }
}
