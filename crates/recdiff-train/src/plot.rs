//! Line plots as hand-written SVG (axes, ticks, labels, legends) rendered to PNG with resvg:
//! learning curves from `log.jsonl` (train and valid log loss, valid AUC and UAUC against the step,
//! `curves.svg` / `curves.png`) and the robustness curves.

use crate::TrainError;
use recdiff_experiment::log::LogLine;
use std::fmt::Write as _;
use std::path::Path;

const W: f64 = 720.0;
const H: f64 = 300.0;
const PAD: f64 = 55.0;

/// A named line of (x, y) points.
pub struct Series<'a> {
    pub name: &'a str,
    pub colour: &'a str,
    pub points: Vec<(f64, f64)>,
}

/// The x axis: its label and how ticks are printed.
pub struct XAxis<'a> {
    pub label: &'a str,
    pub tick: fn(f64) -> String,
}

const STEP_AXIS: XAxis<'static> = XAxis { label: "step", tick: |x| format!("{x:.0}") };

/// Colours for up to ten series, then repeated.
pub const PALETTE: [&str; 10] =
    ["steelblue", "firebrick", "darkorange", "seagreen", "purple", "saddlebrown", "deeppink", "gray", "olive", "teal"];

/// Where a panel draws its legend.
#[derive(Clone, Copy)]
enum Legend {
    /// Top right inside the panel (few, short names).
    Inside,
    /// None: the caller draws one shared legend.
    Outside,
}

/// One panel: several series sharing axes, with a title and optionally a legend.
fn panel(svg: &mut String, x0: f64, title: &str, axis: &XAxis<'_>, series: &[Series<'_>], legend: Legend) {
    let pw = W / 2.0 - PAD - 10.0;
    let ph = H - 2.0 * PAD;
    let all = || series.iter().flat_map(|s| s.points.iter());
    let (xmin, xmax) = bounds(all().map(|p| p.0));
    let (ymin, ymax) = bounds(all().map(|p| p.1));
    let sx = |x: f64| x0 + PAD + (x - xmin) / (xmax - xmin) * pw;
    let sy = |y: f64| PAD + ph - (y - ymin) / (ymax - ymin) * ph;
    let _ = write!(svg, r##"<rect x="{}" y="{PAD}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>"##, x0 + PAD);
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" font-size="14" text-anchor="middle">{title}</text>"#,
        x0 + PAD + pw / 2.0,
        PAD - 12.0
    );
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" font-size="12" text-anchor="middle">{}</text>"#,
        x0 + PAD + pw / 2.0,
        H - 12.0,
        axis.label
    );
    for i in 0..=4 {
        let (fx, fy) = (xmin + (xmax - xmin) * i as f64 / 4.0, ymin + (ymax - ymin) * i as f64 / 4.0);
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" font-size="10" text-anchor="middle">{}</text>"#,
            sx(fx),
            PAD + ph + 14.0,
            (axis.tick)(fx)
        );
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" font-size="10" text-anchor="end">{fy:.4}</text>"#,
            x0 + PAD - 4.0,
            sy(fy) + 3.0
        );
    }
    for (i, s) in series.iter().enumerate() {
        let colour = s.colour;
        let path: Vec<String> =
            s.points.iter().filter(|p| p.1.is_finite()).map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y))).collect();
        // A single point is drawn as its marker alone (a one-point polyline is invalid SVG).
        if path.len() > 1 {
            let _ = write!(
                svg,
                r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
                path.join(" ")
            );
        }
        for &(x, y) in s.points.iter().filter(|p| p.1.is_finite()) {
            let _ = write!(svg, r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{colour}"/>"#, sx(x), sy(y));
        }
        if let Legend::Inside = legend {
            legend_entry(svg, x0 + PAD + pw - 110.0, PAD + 14.0 + 16.0 * i as f64, s);
        }
    }
}

fn legend_entry(svg: &mut String, lx: f64, ly: f64, s: &Series<'_>) {
    let colour = s.colour;
    let _ =
        write!(svg, r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{colour}" stroke-width="2"/>"#, lx + 18.0);
    let _ = write!(svg, r#"<text x="{}" y="{}" font-size="11">{}</text>"#, lx + 22.0, ly + 4.0, s.name);
}

fn bounds(v: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) =
        v.filter(|x| x.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 { (lo - 0.5, hi + 0.5) } else { (lo, hi) }
}

/// Reads `<run>/log.jsonl` and writes `<run>/curves.svg`.
pub fn write_curves(run: &Path) -> Result<(), TrainError> {
    let log = run.join(recdiff_experiment::log::LOG_FILE);
    let text = std::fs::read_to_string(&log).map_err(|e| TrainError::io(&log, e))?;
    let records: Vec<LogLine> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .map_err(|e| TrainError::JsonIn { path: log.clone(), source: e })?;
    // Absent values (UAUC without a user key) leave no point.
    let line = |name, colour, f: fn(&LogLine) -> Option<f64>| Series {
        name,
        colour,
        points: records.iter().filter_map(|r| Some((r.step as f64, f(r)?))).collect(),
    };
    let loss = [
        line("train", "steelblue", |r| r.train_terms.get("main").copied()),
        line("valid", "firebrick", |r| r.valid.get("logloss")),
    ];
    let auc = [
        line("valid AUC", "firebrick", |r| r.valid.get("auc")),
        line("valid UAUC", "darkorange", |r| r.valid.get("uauc")),
    ];
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>"#
    );
    panel(&mut svg, 0.0, "log loss (main BCE)", &STEP_AXIS, &loss, Legend::Inside);
    panel(&mut svg, W / 2.0, "ranking", &STEP_AXIS, &auc, Legend::Inside);
    svg.push_str("</svg>\n");
    recdiff_data::write_atomic(&run.join("curves.svg"), svg.as_bytes())?;
    write_png(&svg, &run.join("curves.png"))
}

/// Renders SVG text to a PNG file (fonts from the system; text is skipped where none is found).
pub fn write_png(svg: &str, path: &Path) -> Result<(), TrainError> {
    let mut opt = resvg::usvg::Options::default();
    let db = opt.fontdb_mut();
    db.load_system_fonts();
    // The generic `sans-serif` maps to Arial by default; use a font this machine has.
    let families: Vec<String> = db.faces().flat_map(|f| f.families.iter().map(|(name, _)| name.clone())).collect();
    if let Some(family) = families.iter().find(|f| f.as_str() == "DejaVu Sans").or(families.first()) {
        db.set_sans_serif_family(family.clone());
    }
    let tree =
        resvg::usvg::Tree::from_str(svg, &opt).map_err(|e| TrainError::Plot { path: path.into(), source: e.into() })?;
    let size = tree.size().to_int_size();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| TrainError::Other(format!("{}: empty image", path.display())))?;
    resvg::render(&tree, resvg::tiny_skia::Transform::default(), &mut pixmap.as_mut());
    let png = pixmap.encode_png().map_err(|e| TrainError::Plot { path: path.into(), source: e.into() })?;
    recdiff_data::write_atomic(path, &png)?;
    Ok(())
}

/// Two panels side by side (left and right series, same names) with one legend to their right,
/// as an SVG document.
pub fn two_panels(titles: [&str; 2], axis: &XAxis<'_>, left: &[Series<'_>], right: &[Series<'_>]) -> String {
    let legend_w = 230.0;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{H}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>"#,
        W + legend_w
    );
    panel(&mut svg, 0.0, titles[0], axis, left, Legend::Outside);
    panel(&mut svg, W / 2.0, titles[1], axis, right, Legend::Outside);
    for (i, s) in left.iter().enumerate() {
        legend_entry(&mut svg, W + 5.0, PAD + 8.0 + 18.0 * i as f64, s);
    }
    svg.push_str("</svg>\n");
    svg
}
