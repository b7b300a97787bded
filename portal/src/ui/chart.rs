//! Server-side SVG charts (plotters, SVG backend) that always come with their data as a table:
//! the table is the text alternative (WCAG 1.1.1) and what a screen reader reads; the SVG is
//! `aria-hidden`. Templates use `{% include "ui/chart.html" %}` with a `chart` variable.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

/// A rendered chart and its table.
pub struct Chart {
    pub id: &'static str,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub svg: String,
    pub rows: Vec<(String, String)>,
}

const WIDTH: u32 = 640;
const HEIGHT: u32 = 280;

/// A bar chart of labelled values (e.g. m³ per month). Values are drawn as doubles (pixel
/// positions only); the table shows them exactly.
pub fn bars(
    id: &'static str,
    title: String,
    x_label: String,
    y_label: String,
    lang: super::Lang,
    points: &[(String, Decimal)],
) -> Chart {
    let svg = match draw_bars(points) {
        Ok(svg) => svg,
        Err(e) => {
            // The table still carries the data; a chart that cannot be drawn is left out.
            tracing::warn!(error = %e, chart = id, "chart drawing failed");
            String::new()
        }
    };
    Chart {
        id,
        title,
        x_label,
        y_label,
        svg,
        rows: points
            .iter()
            .map(|(l, v)| (l.clone(), super::format::number(lang, *v)))
            .collect(),
    }
}

fn draw_bars(points: &[(String, Decimal)]) -> Result<String, String> {
    use plotters::prelude::*;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let max = points
            .iter()
            .filter_map(|(_, v)| v.to_f64())
            .fold(0.0_f64, f64::max)
            .max(1.0);
        let n = points.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(0..n, 0.0..max * 1.1)
            .map_err(|e| e.to_string())?;
        let labels: Vec<String> = points.iter().map(|(l, _)| l.clone()).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n.min(12))
            .x_label_formatter(&|i| labels.get(*i).cloned().unwrap_or_default())
            .draw()
            .map_err(|e| e.to_string())?;
        let bar = RGBColor(0x00, 0x50, 0x8a).filled();
        chart
            .draw_series(points.iter().enumerate().map(|(i, (_, v))| {
                let y = v.to_f64().unwrap_or(0.0);
                Rectangle::new([(i, 0.0), (i + 1, y)], bar)
            }))
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}
