//! Charts drawn on the server as inline SVG: vertical bars, a line, horizontal bars. No
//! script and no inline style (the CSP forbids both): only SVG presentation attributes.
//!
//! Each chart is an `svg role="img"` named by its `<title>` and described by its `<desc>`;
//! every mark carries its own `<title>` (the browser shows it on hover). A chart never stands
//! alone: the page puts the same numbers in a table beside it, which is what screen readers
//! and the RGAA ask for. Colours keep a contrast of at least 4.5:1 on white.

use maud::{html, Markup};

/// Closed (final) figures.
pub const FINAL_COLOUR: &str = "#0b3d91";
/// Provisional figures (day not closed yet): orange, 4.9:1 on white.
pub const PROVISIONAL_COLOUR: &str = "#b34700";
const GRID: &str = "#c8c8c8";
const AXIS: &str = "#555555";
const TEXT: &str = "#1a1a1a";

const W: f64 = 720.0;
const H: f64 = 260.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 44.0;
/// At most this many labels under the x axis (one every k bars beyond).
const MAX_X_LABELS: usize = 12;

/// One bar or point: its label under the axis, its value, and whether it is provisional.
#[derive(Debug, Clone)]
pub struct Datum {
    pub label: String,
    pub value: f64,
    pub provisional: bool,
}

/// How a chart writes a value (hover titles, values at the end of horizontal bars).
pub type Fmt = fn(f64) -> String;

/// What the values of a chart are, for the ticks of its y axis: their decimals follow the
/// step between grid lines (0,005 h apart must not all read "0,01 h").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    Hours,
    /// Ratios in [0, 1], written as percentages.
    Percent,
}

impl Axis {
    fn tick(self, v: f64, step: f64) -> String {
        let (scale, unit) = match self {
            Axis::Hours => (1.0, "\u{a0}h"),
            Axis::Percent => (100.0, "\u{a0}%"),
        };
        format!("{}{unit}", fr_number(v * scale, decimals_of(step * scale)))
    }
}

/// The fewest decimals that write `step` exactly (at most 6).
fn decimals_of(step: f64) -> usize {
    (0..6)
        .find(|&d| {
            let x = step * 10f64.powi(d as i32);
            (x - x.round()).abs() < 1e-6 * x.abs().max(1.0)
        })
        .unwrap_or(6)
}

/// A number the French way: `1 234,5`.
pub fn fr_number(x: f64, digits: usize) -> String {
    let s = format!("{:.*}", digits, x.abs());
    let (int, frac) = s.split_once('.').map_or((s.as_str(), None), |(i, f)| (i, Some(f)));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push('\u{202f}');
        }
        grouped.push(c);
    }
    let sign = if x < 0.0 && s.bytes().any(|b| b.is_ascii_digit() && b != b'0') { "-" } else { "" };
    match frac {
        Some(f) => format!("{sign}{grouped},{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// A ratio in [0, 1] as a French percentage: `42,5 %`.
pub fn fr_percent(x: f64) -> String {
    format!("{}\u{a0}%", fr_number(x * 100.0, 1))
}

/// Hours with two decimals: `3,25 h`.
pub fn fr_hours(x: f64) -> String {
    format!("{}\u{a0}h", fr_number(x, 2))
}

/// A count: `12`.
pub fn fr_count(x: f64) -> String {
    fr_number(x, 0)
}

/// The top of the y axis and the step between grid lines: 1, 2, 2.5 or 5 times a power of
/// ten, about four steps up to the largest value.
fn nice_scale(max: f64) -> (f64, f64) {
    if !max.is_finite() || max <= 0.0 {
        return (1.0, 0.25);
    }
    let raw = max / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let n = raw / mag;
    let step = mag
        * if n <= 1.0 {
            1.0
        } else if n <= 2.0 {
            2.0
        } else if n <= 2.5 {
            2.5
        } else if n <= 5.0 {
            5.0
        } else {
            10.0
        };
    ((max / step).ceil().max(1.0) * step, step)
}

fn y_of(v: f64, top: f64) -> f64 {
    TOP + (H - TOP - BOTTOM) * (1.0 - (v / top).clamp(0.0, 1.0))
}

/// Axes, horizontal grid lines with their values, and the x labels (one slot per datum).
fn frame(data: &[Datum], top: f64, step: f64, axis: Axis) -> Markup {
    let n = data.len().max(1);
    let slot = (W - LEFT - RIGHT) / n as f64;
    let every = n.div_ceil(MAX_X_LABELS);
    let ticks = ((top / step).round() as usize).min(20);
    html! {
        @for i in 0..=ticks {
            @let v = step * i as f64;
            @let y = y_of(v, top);
            line x1=(LEFT) x2=(W - RIGHT) y1=(y) y2=(y) stroke=(if i == 0 { AXIS } else { GRID }) stroke-width="1" {}
            text x=(LEFT - 6.0) y=(y + 4.0) text-anchor="end" font-size="12" fill=(TEXT) { (axis.tick(v, step)) }
        }
        line x1=(LEFT) x2=(LEFT) y1=(TOP) y2=(H - BOTTOM) stroke=(AXIS) stroke-width="1" {}
        @for (i, d) in data.iter().enumerate() {
            @if i % every == 0 {
                text x=(LEFT + slot * (i as f64 + 0.5)) y=(H - BOTTOM + 18.0) text-anchor="middle" font-size="12" fill=(TEXT) { (d.label) }
            }
        }
    }
}

fn legend(data: &[Datum]) -> Markup {
    let provisional = data.iter().any(|d| d.provisional);
    html! {
        @if provisional {
            g font-size="12" fill=(TEXT) {
                rect x=(LEFT) y=(H - 16.0) width="12" height="12" fill=(FINAL_COLOUR) {}
                text x=(LEFT + 18.0) y=(H - 6.0) { "clos (définitif)" }
                rect x=(LEFT + 140.0) y=(H - 16.0) width="12" height="12" fill=(PROVISIONAL_COLOUR) {}
                text x=(LEFT + 158.0) y=(H - 6.0) { "non clos (provisoire)" }
            }
        }
    }
}

fn state_fr(d: &Datum) -> &'static str {
    if d.provisional {
        " (provisoire)"
    } else {
        ""
    }
}

/// Vertical bars, one per datum; provisional ones in orange, with a legend.
pub fn bar_chart(id: &str, title: &str, desc: &str, data: &[Datum], axis: Axis, fmt: Fmt) -> Markup {
    let max = data.iter().map(|d| d.value).fold(0.0, f64::max);
    let (top, step) = nice_scale(max);
    let n = data.len().max(1);
    let slot = (W - LEFT - RIGHT) / n as f64;
    let bw = (slot * 0.7).max(1.0);
    html! {
        figure class="chart" {
            figcaption { (title) }
            svg role="img" viewBox={ "0 0 " (W) " " (H) } aria-labelledby={ (id) "-t " (id) "-d" } {
                title id={ (id) "-t" } { (title) }
                desc id={ (id) "-d" } { (desc) }
                (frame(data, top, step, axis))
                @for (i, d) in data.iter().enumerate() {
                    @let y = y_of(d.value, top);
                    rect x=(LEFT + slot * i as f64 + (slot - bw) / 2.0) y=(y) width=(bw) height=((H - BOTTOM - y).max(0.0))
                        fill=(if d.provisional { PROVISIONAL_COLOUR } else { FINAL_COLOUR }) {
                        title { (d.label) " : " (fmt(d.value)) (state_fr(d)) }
                    }
                }
                (legend(data))
            }
        }
    }
}

/// A line through the data (rates: `top` fixed at 1 = 100 %); provisional points orange.
pub fn line_chart(id: &str, title: &str, desc: &str, data: &[Datum], top: Option<f64>, axis: Axis, fmt: Fmt) -> Markup {
    let max = data.iter().map(|d| d.value).fold(0.0, f64::max);
    let (top, step) = match top {
        Some(t) => (t, t / 4.0),
        None => nice_scale(max),
    };
    let n = data.len().max(1);
    let slot = (W - LEFT - RIGHT) / n as f64;
    let points: Vec<(f64, f64)> = data.iter().enumerate().map(|(i, d)| (LEFT + slot * (i as f64 + 0.5), y_of(d.value, top))).collect();
    let path = points.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect::<Vec<_>>().join(" ");
    html! {
        figure class="chart" {
            figcaption { (title) }
            svg role="img" viewBox={ "0 0 " (W) " " (H) } aria-labelledby={ (id) "-t " (id) "-d" } {
                title id={ (id) "-t" } { (title) }
                desc id={ (id) "-d" } { (desc) }
                (frame(data, top, step, axis))
                polyline points=(path) fill="none" stroke=(FINAL_COLOUR) stroke-width="2.5" {}
                @for (d, (x, y)) in data.iter().zip(&points) {
                    circle cx=(x) cy=(y) r="4" fill=(if d.provisional { PROVISIONAL_COLOUR } else { FINAL_COLOUR }) {
                        title { (d.label) " : " (fmt(d.value)) (state_fr(d)) }
                    }
                }
                (legend(data))
            }
        }
    }
}

/// Horizontal bars with their label on the left and their value at the end (categories:
/// transfer reasons, topics).
pub fn hbar_chart(id: &str, title: &str, desc: &str, data: &[Datum], fmt: Fmt) -> Markup {
    const ROW: f64 = 26.0;
    const LABEL_W: f64 = 230.0;
    const VALUE_W: f64 = 70.0;
    let h = ROW * data.len().max(1) as f64 + 8.0;
    let max = data.iter().map(|d| d.value).fold(0.0, f64::max);
    let scale = if max > 0.0 { (W - LABEL_W - VALUE_W) / max } else { 0.0 };
    html! {
        figure class="chart" {
            figcaption { (title) }
            svg role="img" viewBox={ "0 0 " (W) " " (h) } aria-labelledby={ (id) "-t " (id) "-d" } {
                title id={ (id) "-t" } { (title) }
                desc id={ (id) "-d" } { (desc) }
                line x1=(LABEL_W) x2=(LABEL_W) y1="0" y2=(h) stroke=(AXIS) stroke-width="1" {}
                @for (i, d) in data.iter().enumerate() {
                    @let y = 4.0 + ROW * i as f64;
                    @let w = (d.value * scale).max(0.0);
                    text x=(LABEL_W - 8.0) y=(y + 16.0) text-anchor="end" font-size="12" fill=(TEXT) { (truncate(&d.label, 34)) }
                    rect x=(LABEL_W) y=(y + 3.0) width=(w) height=(ROW - 8.0) fill=(if d.provisional { PROVISIONAL_COLOUR } else { FINAL_COLOUR }) {
                        title { (d.label) " : " (fmt(d.value)) }
                    }
                    text x=(LABEL_W + w + 6.0) y=(y + 16.0) font-size="12" fill=(TEXT) { (fmt(d.value)) }
                }
            }
        }
    }
}

/// A small bar showing how much of a playback was heard: `ratio` of its width filled.
pub fn ratio_bar(ratio: f64, label: &str) -> Markup {
    const BW: f64 = 160.0;
    let filled = BW * ratio.clamp(0.0, 1.0);
    html! {
        svg class="ratio" role="img" aria-label=(label) width=(BW) height="14" viewBox={ "0 0 " (BW) " 14" } {
            title { (label) }
            rect x="0" y="1" width=(BW) height="12" fill="#ffffff" stroke=(AXIS) stroke-width="1" {}
            rect x="0" y="1" width=(filled) height="12" fill=(FINAL_COLOUR) {}
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max - 1).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_numbers() {
        assert_eq!(fr_number(1234.56, 1), "1\u{202f}234,6");
        assert_eq!(fr_number(0.0, 2), "0,00");
        assert_eq!(fr_number(-3.0, 0), "-3");
        assert_eq!(fr_number(-0.001, 1), "0,0");
        assert_eq!(fr_percent(0.425), "42,5\u{a0}%");
        assert_eq!(fr_count(1_000_000.0), "1\u{202f}000\u{202f}000");
    }

    #[test]
    fn axis_ticks_have_the_decimals_of_their_step() {
        assert_eq!(decimals_of(0.005), 3);
        assert_eq!(decimals_of(2.5), 1);
        assert_eq!(decimals_of(20.0), 0);
        assert_eq!(Axis::Hours.tick(0.015, 0.005), "0,015\u{a0}h");
        assert_eq!(Axis::Percent.tick(0.25, 0.25), "25\u{a0}%");
    }

    #[test]
    fn scales_are_round_and_cover_the_maximum() {
        assert_eq!(nice_scale(0.0), (1.0, 0.25));
        assert_eq!(nice_scale(7.3), (8.0, 2.0));
        assert_eq!(nice_scale(100.0), (100.0, 25.0));
        let (top, step) = nice_scale(0.0123);
        assert!((0.0123..=0.02).contains(&top) && step > 0.0, "{top} {step}");
    }

    #[test]
    fn a_bar_chart_is_an_image_with_a_title_and_one_bar_per_datum() {
        let data: Vec<Datum> = (0..30).map(|i| Datum { label: format!("{i}"), value: f64::from(i), provisional: i > 27 }).collect();
        let svg = bar_chart("h", "Heures productives", "par jour", &data, Axis::Hours, fr_hours).into_string();
        assert!(svg.contains("role=\"img\"") && svg.contains("<title id=\"h-t\">Heures productives</title>"), "{svg}");
        assert_eq!(svg.matches("<rect").count(), 30 + 2, "bars and the legend's two swatches");
        assert!(svg.contains("<figcaption>Heures productives</figcaption>"), "a visible title");
        assert!(svg.contains(PROVISIONAL_COLOUR) && svg.contains("non clos (provisoire)"));
        assert!(!svg.contains("style="), "no inline style under the CSP");
    }
}
