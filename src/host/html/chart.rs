//! Bar charts as inline SVG: one horizontal bar per label, the value beside it, and an
//! optional limit drawn as a dashed line (bars at the limit are red, near it amber).

use std::fmt::Write;

use super::escape;

/// Width of the label column, in pixels.
const LABEL_W: f64 = 230.0;
/// Width of the longest bar.
const BAR_W: f64 = 420.0;
/// Height of one row.
const ROW_H: f64 = 20.0;
/// Longest label shown in full; longer ones are cut (the whole label is the bar's tooltip).
const LABEL_CHARS: usize = 34;

/// Appends an SVG chart of `bars` (label, value) under the accessible name `title`.
pub fn bars(out: &mut String, title: &str, bars: &[(String, f64)], limit: Option<f64>) {
    let limit = limit.filter(|l| l.is_finite() && *l > 0.0);
    let top = bars
        .iter()
        .map(|(_, v)| *v)
        .filter(|v| v.is_finite())
        .fold(limit.unwrap_or(0.0), f64::max)
        .max(1.0);
    let rows = bars.len().max(1) as f64;
    let height = rows * ROW_H + 24.0;
    let width = LABEL_W + BAR_W + 70.0;
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\"><title>"
    );
    escape::push(out, title);
    out.push_str("</title>");
    if bars.is_empty() {
        out.push_str("<text x=\"4\" y=\"16\">nothing to show</text>");
    }
    for (i, (label, value)) in bars.iter().enumerate() {
        let y = i as f64 * ROW_H;
        let v = if value.is_finite() {
            value.max(0.0)
        } else {
            0.0
        };
        let w = (v / top * BAR_W).max(if v > 0.0 { 1.0 } else { 0.0 });
        let fill = match limit {
            Some(l) if v >= l => "#c62828",
            Some(l) if v >= 0.8 * l => "#ef8f00",
            _ => "#3b6ea5",
        };
        out.push_str("<g><title>");
        escape::push(out, label);
        let _ = write!(out, ": {}</title>", number(*value));
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">",
            LABEL_W - 6.0,
            y + 14.0
        );
        escape::push(out, &short(label));
        let _ = write!(
            out,
            "</text><rect x=\"{LABEL_W}\" y=\"{}\" width=\"{w:.1}\" height=\"{}\" fill=\"{fill}\"/><text x=\"{:.1}\" y=\"{}\">{}</text></g>",
            y + 3.0,
            ROW_H - 6.0,
            LABEL_W + w + 4.0,
            y + 14.0,
            number(*value)
        );
    }
    if let Some(l) = limit.filter(|_| !bars.is_empty()) {
        let x = LABEL_W + l / top * BAR_W;
        let _ = write!(
            out,
            "<line x1=\"{x:.1}\" y1=\"0\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#c62828\" stroke-dasharray=\"4 3\"/><text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\" fill=\"#c62828\">limit {}</text>",
            rows * ROW_H,
            rows * ROW_H + 16.0,
            number(l)
        );
    }
    out.push_str("</svg>");
}

/// A label cut to `LABEL_CHARS` characters, with an ellipsis when it was longer.
fn short(label: &str) -> String {
    if label.chars().count() <= LABEL_CHARS {
        return label.to_string();
    }
    let mut s: String = label.chars().take(LABEL_CHARS - 1).collect();
    s.push('…');
    s
}

/// A value as a person reads it: integers without `.0`.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.2}")
    }
}
