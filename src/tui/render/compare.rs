//! The comparison view (`4`): every stack of a lesson that compares them
//! (`[[compare]]`), on the same seeded load, side by side. Throughput and
//! latency over time, drawn from each variant's own requests, and the
//! figures of its run (throughput, p50/p95/p99 latency, errors) copied
//! from the metrics in its trace, as `--plain` prints them.
//!
//! ```text
//! ┌ [4 compare] 1 stack 2 workers ─────────────────────────────────────────┐
//! │throughput      ──────────▲───────────────────────── req/s              │
//! │gunicorn -w 4   ▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁   40.0             │
//! │uvicorn         ███████████████████████████████████  640.0  ×16         │
//! │latency p50     ──────────▲───────────────────────── p50 · p95 · p99 err│
//! │gunicorn -w 4   ▁▁▁▁▁▁▅▅▅▅▅▅▅▅▅▅▅▅▅▅▅▅▅▅▅▅▅▅▅▅▅▅▅▅▅  1.6 s …          │
//! └────────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! On a roomy screen the two series are ratatui `Chart`s (one marker per
//! stack, so they read without colour) above a table of the figures; on
//! a small one, one `Sparkline` row per stack with its figures beside it.
//! Every row of a series shares one scale, so the bars compare. `▲` (or
//! the chart's vertical line) is the moment on screen.
//!
//! Throughput in a bucket of time is the requests that finished in it,
//! per second; latency is the median (nearest rank) of theirs. The
//! figures count only the lesson's measured window (after `warmup`), the
//! series the whole run, so the start, while queues fill, shows too.
//!
//! Book: "Sync and async servers" (book/src/concurrency.md), section
//! "Watching it in the player".

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Paragraph, Sparkline};

use super::super::state::{Focus, PlayerState, latency_ns};
use super::super::theme::Theme;
use super::text::{cut, duration};
use crate::trace::Trace;
use crate::trace::metrics::nearest_rank;

/// Below this inner size the series are sparklines, not charts.
const CHART_MIN: (u16, u16) = (60, 14);
/// The markers of the variants' points, in order, and their symbols for
/// the table (so the charts read without colour).
const MARKERS: [(Marker, &str); 4] = [
    (Marker::Dot, "•"),
    (Marker::Block, "█"),
    (Marker::Bar, "▄"),
    (Marker::Braille, "⣿"),
];
const COLOURS: [Color; 4] = [Color::Cyan, Color::Yellow, Color::Magenta, Color::Green];
/// Widest a stack's name column gets.
const NAME_WIDTH: usize = 24;
/// Levels of a sparkline cell (`▁` to `█`).
const LEVELS: u64 = 8;

/// `v` on a scale of `max` as a sparkline level, from 1 up for any value
/// above zero: a stack that does a sixteenth of another's work still
/// shows a bar, not an empty row.
fn level(v: u64, max: u64) -> u64 {
    if v == 0 || max == 0 {
        return 0;
    }
    (u128::from(v) * u128::from(LEVELS)).div_ceil(u128::from(max)) as u64
}

/// One variant, as the view draws it.
struct Variant<'a> {
    name: String,
    trace: &'a Trace,
    on_screen: bool,
}

/// Requests finished per bucket, and the median latency of those, over
/// `[0, end]` in `buckets` equal buckets.
struct Series {
    done: Vec<u64>,
    p50_ns: Vec<Option<u64>>,
}

impl Series {
    fn of(trace: &Trace, end_ns: u64, buckets: usize) -> Series {
        let buckets = buckets.max(1);
        let mut latencies: Vec<Vec<u64>> = vec![Vec::new(); buckets];
        for r in &trace.requests {
            let Some(ns) = latency_ns(r).filter(|_| r.status.is_some()) else {
                continue;
            };
            let b = bucket(r.finished_ns, end_ns, buckets);
            latencies[b].push(ns);
        }
        let done = latencies.iter().map(|l| l.len() as u64).collect();
        let p50_ns = latencies
            .into_iter()
            .map(|mut l| {
                if l.is_empty() {
                    return None;
                }
                l.sort_unstable();
                Some(nearest_rank(&l, 50))
            })
            .collect();
        Series { done, p50_ns }
    }
}

fn bucket(at_ns: u64, end_ns: u64, buckets: usize) -> usize {
    if end_ns == 0 {
        return 0;
    }
    let b = u128::from(at_ns.min(end_ns)) * buckets as u128 / (u128::from(end_ns) + 1);
    usize::try_from(b).unwrap_or(0).min(buckets - 1)
}

pub fn render(state: &PlayerState, frame: &mut Frame, area: Rect) {
    let theme = &state.theme;
    let border = if state.focus == Focus::Stack {
        theme.focused
    } else {
        theme.frame
    };
    let block = Block::bordered()
        .title(super::views_title(state))
        .border_style(border);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 || inner.width < 8 {
        return;
    }
    let current = state.variants.current;
    let variants: Vec<Variant> = state
        .all_variants()
        .into_iter()
        .enumerate()
        .map(|(i, (trace, _))| Variant {
            name: trace
                .meta
                .variant
                .as_ref()
                .map_or_else(|| trace.meta.scenario.clone(), |v| v.name.clone()),
            trace,
            on_screen: i == current || state.variants.is_empty(),
        })
        .collect();
    let end_ns = variants
        .iter()
        .flat_map(|v| v.trace.events.last())
        .map(|e| e.at_ns)
        .max()
        .unwrap_or(0);
    let now = state.event().map_or(0, |e| e.at_ns);
    if inner.width >= CHART_MIN.0 && inner.height >= CHART_MIN.1 {
        charts(&variants, end_ns, now, theme, frame, inner);
    } else {
        sparklines(&variants, end_ns, now, theme, frame, inner);
    }
}

/// The variant's throughput over its measured window, and the ratio to the first's.
fn throughput(v: &Variant) -> Option<f64> {
    v.trace.metrics.as_ref().and_then(|m| m.throughput_per_s)
}

fn per_s(x: Option<f64>) -> String {
    x.map_or_else(|| String::from("-"), |x| format!("{x:.1}"))
}

/// `p50 · p95 · p99 · errors` of a variant's run.
fn latency_figures(v: &Variant) -> String {
    let m = v.trace.metrics.as_ref();
    let errors = m.map_or(0, |m| m.errors);
    match m.and_then(|m| m.latency) {
        Some(l) => format!(
            "{} · {} · {} · {errors}",
            duration(l.p50_ns),
            duration(l.p95_ns),
            duration(l.p99_ns)
        ),
        None => format!("- · - · - · {errors}"),
    }
}

fn style_of(i: usize, theme: &Theme) -> Style {
    if theme.color {
        Style::new().fg(COLOURS[i % COLOURS.len()])
    } else {
        Style::new()
    }
}

/// A rule the width of the series with `▲` at the moment on screen.
fn ruler(width: usize, end_ns: u64, now: u64) -> String {
    let at = if end_ns == 0 || width == 0 {
        0
    } else {
        bucket(now, end_ns, width)
    };
    (0..width)
        .map(|x| if x == at { '▲' } else { '─' })
        .collect()
}

fn sparklines(
    variants: &[Variant],
    end_ns: u64,
    now: u64,
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
) {
    let width = usize::from(area.width);
    let name_w = variants
        .iter()
        .map(|v| v.name.chars().count() + 3)
        .max()
        .unwrap_or(0)
        .clamp(10, NAME_WIDTH);
    let first = throughput(&variants[0]);
    let tput: Vec<String> = variants
        .iter()
        .map(|v| {
            let x = throughput(v);
            match (x, first) {
                (Some(x), Some(b)) if b > 0.0 && !std::ptr::eq(v, &variants[0]) => {
                    format!("{} ×{}", per_s(Some(x)), ratio(x / b))
                }
                _ => per_s(x),
            }
        })
        .collect();
    let lat: Vec<String> = variants.iter().map(latency_figures).collect();
    let figures_w = tput
        .iter()
        .chain(&lat)
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(0)
        .min(width.saturating_sub(name_w + 8) / 2 * 2)
        .max(8);
    let spark_w = width.saturating_sub(name_w + figures_w + 2).max(1);
    let series: Vec<Series> = variants
        .iter()
        .map(|v| Series::of(v.trace, end_ns, spark_w))
        .collect();
    let max_done = series
        .iter()
        .flat_map(|s| s.done.iter())
        .copied()
        .max()
        .unwrap_or(0);
    let max_p50 = series
        .iter()
        .flat_map(|s| s.p50_ns.iter().flatten())
        .copied()
        .max()
        .unwrap_or(0);
    let rule = Line::styled(ruler(spark_w, end_ns, now), theme.dim);
    let mut y = area.y;
    let bottom = area.y + area.height;
    // One row: the name, the series (a sparkline, or the rule on a
    // heading row) and the figures.
    let mut row = |frame: &mut Frame, label: Line, middle: Middle, right: Line| {
        if y >= bottom {
            return;
        }
        let [l, s, r] = Layout::horizontal([
            Constraint::Length(name_w as u16),
            Constraint::Length(spark_w as u16),
            Constraint::Min(0),
        ])
        .areas(Rect {
            y,
            height: 1,
            ..area
        });
        frame.render_widget(Paragraph::new(label), l);
        match middle {
            Middle::Spark(spark) => frame.render_widget(*spark, s),
            Middle::Text(line) => frame.render_widget(Paragraph::new(line), s),
        }
        let r = Rect {
            x: r.x.saturating_add(1),
            width: r.width.saturating_sub(1),
            ..r
        };
        frame.render_widget(Paragraph::new(right), r);
        y += 1;
    };
    // Throughput: one row per stack, one scale.
    row(
        frame,
        Line::styled(cut("throughput", name_w), theme.heading),
        Middle::Text(rule.clone()),
        Line::styled(cut("req/s (measured)", figures_w), theme.heading),
    );
    for (i, (v, s)) in variants.iter().zip(&series).enumerate() {
        let spark = Sparkline::default()
            .data(s.done.iter().map(|&v| level(v, max_done)))
            .max(LEVELS)
            .style(style_of(i, theme));
        row(
            frame,
            name_line(v, name_w, theme),
            Middle::Spark(Box::new(spark)),
            Line::raw(cut(&tput[i], figures_w)),
        );
    }
    row(
        frame,
        Line::styled(cut("latency p50", name_w), theme.heading),
        Middle::Text(rule),
        Line::styled(cut("p50 · p95 · p99 · errors", figures_w), theme.heading),
    );
    for (i, (v, s)) in variants.iter().zip(&series).enumerate() {
        let spark = Sparkline::default()
            .data(s.p50_ns.iter().map(|v| v.map(|v| level(v, max_p50))))
            .max(LEVELS)
            .absent_value_symbol(" ")
            .style(style_of(i, theme));
        row(
            frame,
            name_line(v, name_w, theme),
            Middle::Spark(Box::new(spark)),
            Line::raw(cut(&lat[i], figures_w)),
        );
    }
    let note = match variants[0]
        .trace
        .metrics
        .as_ref()
        .and_then(|m| m.load.as_ref())
    {
        Some(l) if l.warmup_ns > 0 => format!(
            "▲ now · each series on one scale · figures after the {} warm-up",
            duration(l.warmup_ns)
        ),
        _ => String::from("▲ now · each series on one scale"),
    };
    if y < bottom {
        y += 1;
    }
    if y < bottom {
        frame.render_widget(
            Paragraph::new(Line::styled(cut(&note, width), theme.dim)),
            Rect {
                y,
                height: 1,
                ..area
            },
        );
    }
}

/// What a row shows between the name and the figures.
enum Middle<'a> {
    Spark(Box<Sparkline<'a>>),
    Text(Line<'a>),
}

/// `▶ name` for the stack on screen, `  name` for the others.
fn name_line(v: &Variant, width: usize, theme: &Theme) -> Line<'static> {
    let mark = if v.on_screen { "▶ " } else { "  " };
    let style = if v.on_screen {
        theme.marker
    } else {
        Style::new()
    };
    Line::from(vec![
        Span::styled(mark, theme.marker),
        Span::styled(cut(&v.name, width.saturating_sub(3)), style),
    ])
}

/// `16`, `0.25`, `1.5`: a ratio with what precision it needs.
fn ratio(r: f64) -> String {
    let s = if r >= 10.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.2}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn charts(
    variants: &[Variant],
    end_ns: u64,
    now: u64,
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
) {
    let table_rows = variants.len() as u16 + 1;
    let [top, table] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(table_rows)]).areas(area);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
    // A point per two columns: enough to see the shape, few enough to read.
    let buckets = usize::from(left.width / 2).max(4);
    let bucket_s = end_ns as f64 / 1e9 / buckets as f64;
    let end_s = end_ns as f64 / 1e9;
    let series: Vec<Series> = variants
        .iter()
        .map(|v| Series::of(v.trace, end_ns, buckets))
        .collect();
    let mid = |b: usize| (b as f64 + 0.5) * bucket_s;
    let tput: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| {
            s.done
                .iter()
                .enumerate()
                .map(|(b, &n)| {
                    (
                        mid(b),
                        if bucket_s > 0.0 {
                            n as f64 / bucket_s
                        } else {
                            0.0
                        },
                    )
                })
                .collect()
        })
        .collect();
    let lat: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| {
            s.p50_ns
                .iter()
                .enumerate()
                .filter_map(|(b, p)| Some((mid(b), (*p)? as f64 / 1e6)))
                .collect()
        })
        .collect();
    let now_s = now as f64 / 1e9;
    chart(
        "throughput · req/s",
        variants,
        &tput,
        end_s,
        now_s,
        |y| format!("{y:.0}"),
        theme,
        frame,
        left,
    );
    chart(
        "latency p50 · ms",
        variants,
        &lat,
        end_s,
        now_s,
        |y| format!("{y:.0}"),
        theme,
        frame,
        right,
    );
    figures_table(variants, theme, frame, table);
}

#[allow(clippy::too_many_arguments)]
fn chart(
    title: &str,
    variants: &[Variant],
    points: &[Vec<(f64, f64)>],
    end_s: f64,
    now_s: f64,
    label: impl Fn(f64) -> String,
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
) {
    let max = points
        .iter()
        .flatten()
        .map(|p| p.1)
        .fold(0.0f64, f64::max)
        .max(1.0)
        * 1.1;
    let now_line = [(now_s, 0.0), (now_s, max)];
    let mut datasets: Vec<Dataset> = variants
        .iter()
        .zip(points)
        .enumerate()
        .map(|(i, (v, p))| {
            Dataset::default()
                .name(v.name.clone())
                .marker(MARKERS[i % MARKERS.len()].0)
                .graph_type(GraphType::Scatter)
                .style(style_of(i, theme))
                .data(p)
        })
        .collect();
    datasets.push(
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.dim)
            .data(&now_line),
    );
    let chart = Chart::new(datasets)
        .block(Block::default().title(Line::styled(format!(" {title} "), theme.heading)))
        .legend_position(None)
        .x_axis(
            Axis::default()
                .bounds([0.0, end_s.max(f64::EPSILON)])
                .labels(vec![Span::raw("0 s"), Span::raw(format!("{end_s:.1} s"))])
                .style(theme.dim),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, max])
                .labels(vec![Span::raw("0"), Span::raw(label(max))])
                .style(theme.dim),
        );
    frame.render_widget(chart, area);
}

/// The figures side by side: one row per stack, its marker first.
fn figures_table(variants: &[Variant], theme: &Theme, frame: &mut Frame, area: Rect) {
    let width = usize::from(area.width);
    let name_w = NAME_WIDTH + 2;
    let head = format!(
        "{:<name_w$}{:>9}{:>7}{:>10}{:>10}{:>10}{:>8}  app server",
        "  stack", "req/s", "×", "p50", "p95", "p99", "errors"
    );
    let mut lines = vec![Line::styled(cut(&head, width), theme.heading)];
    let first = throughput(&variants[0]);
    for (i, v) in variants.iter().enumerate() {
        let m = v.trace.metrics.as_ref();
        let x = throughput(v);
        let r = match (x, first) {
            (Some(x), Some(b)) if b > 0.0 => ratio(x / b),
            _ => String::from("-"),
        };
        let (p50, p95, p99) = m.and_then(|m| m.latency).map_or_else(
            || ("-".to_string(), "-".to_string(), "-".to_string()),
            |l| (duration(l.p50_ns), duration(l.p95_ns), duration(l.p99_ns)),
        );
        let app = v
            .trace
            .layers
            .iter()
            .find(|l| l.layer == crate::trace::Layer::AppServer)
            .map(|l| l.detail.clone())
            .unwrap_or_default();
        let mark = MARKERS[i % MARKERS.len()].1;
        let on = if v.on_screen { "▶" } else { " " };
        let text = format!(
            "{on}{mark} {:<w$}{:>9}{:>7}{:>10}{:>10}{:>10}{:>8}  {app}",
            cut(&v.name, name_w - 3),
            per_s(x),
            r,
            p50,
            p95,
            p99,
            m.map_or(0, |m| m.errors),
            w = name_w - 3
        );
        let style = if v.on_screen {
            theme.marker
        } else {
            style_of(i, theme)
        };
        lines.push(Line::styled(cut(&text, width), style));
    }
    frame.render_widget(Paragraph::new(lines), area);
}
