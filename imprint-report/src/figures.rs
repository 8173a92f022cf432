//! SVG line charts and scatter plots (plotters' SVG backend, text as SVG
//! `<text>`, no system fonts needed).

use std::ops::Range;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

/// A figure of the report: an SVG document and the file it is written to.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// File name under `figures/`, e.g. `cd_gen_k20.svg`.
    pub file_name: String,
    /// Caption.
    pub title: String,
    /// The SVG text.
    pub svg: String,
}

/// A named polyline (or set of points) of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// (x, y) points, drawn in order.
    pub points: Vec<(f64, f64)>,
}

/// Most legend entries drawn; beyond that the legend is left out.
const MAX_LEGEND: usize = 12;

/// Chart kind: lines through the points, or points only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Lines with point markers.
    Lines,
    /// Markers only.
    Points,
}

/// Draws series on x/y axes (x logarithmic if `log_x`; points with x <= 0
/// are then left out). Non-finite points are left out. Errors (as text)
/// when nothing is left to draw or plotters fails.
pub fn chart(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
    style: Style,
    log_x: bool,
) -> Result<String, String> {
    let series: Vec<Series> = series
        .iter()
        .map(|s| Series {
            name: s.name.clone(),
            points: s
                .points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite() && (!log_x || *x > 0.0))
                .collect(),
        })
        .filter(|s| !s.points.is_empty())
        .collect();
    let all = || series.iter().flat_map(|s| s.points.iter());
    let (Some(x0), Some(x1)) =
        (all().map(|p| p.0).min_by(f64::total_cmp), all().map(|p| p.0).max_by(f64::total_cmp))
    else {
        return Err("no finite points to draw".into());
    };
    let y0 = all().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let y1 = all().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let pad_y = if y1 > y0 { (y1 - y0) * 0.08 } else { 1.0 };
    let yr = (y0 - pad_y)..(y1 + pad_y);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (820, 520)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        if log_x {
            let (a, b) = if x1 > x0 { (x0 / 1.25, x1 * 1.25) } else { (x0 / 2.0, x0 * 2.0) };
            let keys = log_key_points(a, b);
            draw(&root, title, x_desc, y_desc, (a..b).log_scale().with_key_points(keys), yr, &series, style)?;
        } else {
            let pad_x = if x1 > x0 { (x1 - x0) * 0.04 } else { 1.0 };
            draw(&root, title, x_desc, y_desc, (x0 - pad_x)..(x1 + pad_x), yr, &series, style)?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// Tick positions 1, 2, 5 x 10^n within [lo, hi] (lo > 0).
fn log_key_points(lo: f64, hi: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let (first, last) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    for n in first..=last.min(first + 20) {
        for m in [1.0, 2.0, 5.0] {
            let v = m * 10f64.powi(n);
            if v >= lo && v <= hi {
                out.push(v);
            }
        }
    }
    out
}

/// A tick label: integers without decimals, others with up to three
/// significant digits and no float noise (`0.3`, not `0.30000000000000004`).
fn fmt_tick(v: f64) -> String {
    if v == v.round() && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    let digits = (2 - v.abs().log10().floor() as i32).clamp(0, 12) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_owned() } else { s }
}

#[allow(clippy::too_many_arguments)]
fn draw<X>(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    xr: X,
    yr: Range<f64>,
    series: &[Series],
    style: Style,
) -> Result<(), String>
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
{
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(xr, yr)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .light_line_style(WHITE.mix(0.0))
        .x_label_formatter(&|v| fmt_tick(*v))
        .draw()
        .map_err(|e| err(&e))?;
    for (i, s) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        if style == Style::Lines {
            chart
                .draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(2)))
                .map_err(|e| err(&e))?
                .label(s.name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
        let points = chart
            .draw_series(s.points.iter().map(|&p| Circle::new(p, 4, color.filled())))
            .map_err(|e| err(&e))?;
        if style == Style::Points {
            points.label(s.name.clone()).legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
        }
    }
    if series.len() <= MAX_LEGEND {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(&e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks() {
        assert_eq!(log_key_points(0.08, 3.5), vec![0.1, 0.2, 0.5, 1.0, 2.0]);
        assert_eq!(log_key_points(0.8, 250.0), vec![1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0]);
        assert_eq!(fmt_tick(0.30000000000000004), "0.3");
        assert_eq!(fmt_tick(20.0), "20");
        assert_eq!(fmt_tick(2.5), "2.5");
        assert_eq!(fmt_tick(0.0125), "0.0125");
    }

    #[test]
    fn charts_are_svg_with_labels() {
        let s = vec![
            Series { name: "mean".into(), points: vec![(1.0, 50.0), (10.0, 70.0), (100.0, 80.0)] },
            Series { name: "kmeans <k=5>".into(), points: vec![(1.0, 45.0), (10.0, 72.0), (f64::NAN, 1.0)] },
        ];
        let svg = chart("Low & data", "shots", "acc", &s, Style::Lines, true).unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("Low &amp; data"));
        assert!(svg.contains("kmeans &lt;k=5&gt;"));
        let one = vec![Series { name: "p".into(), points: vec![(2.0, 3.0)] }];
        assert!(chart("one", "x", "y", &one, Style::Points, false).is_ok());
        assert!(chart("one", "x", "y", &one, Style::Points, true).is_ok());
        let none = vec![Series { name: "p".into(), points: vec![(-1.0, 3.0)] }];
        assert!(chart("none", "x", "y", &none, Style::Points, true).is_err());
        assert!(chart("none", "x", "y", &[], Style::Lines, false).is_err());
    }
}
