//! The page itself, made from a round's tally and rows: a head whose
//! Content-Security-Policy lets in only the page's own stylesheet and
//! script (`report.css`, `report.js`, named by their SHA-256), the counts,
//! the latency chart in inline SVG, then the table, a row at a time.
//!
//! Everything a server sent (reason phrases, `Location`, certificate
//! subjects, error messages) and every input line goes through [`text`] or
//! [`attr`]: escaped, never markup.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::LazyLock;

use statuscheck::result::unix_now;
use statuscheck::State;

use super::super::super::spool::{Row, Spool};
use super::super::super::summary::Histogram;
use super::super::{human_duration, sanitize, shown_location, timestamp};
use super::{PageOptions, Tally};

const CSS: &str = include_str!("report.css");
const JS: &str = include_str!("report.js");

/// What the top of the page shows.
pub(super) struct Head<'a> {
    pub(super) tally: &'a Tally,
    pub(super) options: &'a PageOptions,
    pub(super) interrupted: bool,
    /// Rows in the table.
    pub(super) rows: u64,
}

/// The whole page: head, counts, chart, then the table, a row at a time
/// from each spool in turn.
pub(super) fn render(out: &mut impl Write, head: &Head, spools: [&mut Spool; 2]) -> io::Result<()> {
    out.write_all(top(head).as_bytes())?;
    let mut line = String::with_capacity(1024);
    for spool in spools {
        spool.for_each(|row| {
            line.clear();
            table_row(&mut line, &row);
            out.write_all(line.as_bytes())
        })?;
    }
    write!(out, "</tbody>\n</table>\n</main>\n<footer>statuscheck {}</footer>\n", env!("CARGO_PKG_VERSION"))?;
    write!(out, "<script>{JS}</script>\n</body>\n</html>\n")?;
    out.flush()
}

/// Everything before the table's rows.
fn top(head: &Head) -> String {
    let tally = head.tally;
    let mut html = String::with_capacity(16 * 1024);
    html.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(html, "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">", *POLICY);
    html.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    html.push_str(
        "<meta name=\"color-scheme\" content=\"light dark\">\n<meta name=\"referrer\" content=\"no-referrer\">\n",
    );
    if let Some(every) = head.options.refresh {
        let _ = writeln!(html, "<meta http-equiv=\"refresh\" content=\"{}\">", every.as_secs().max(1));
    }
    let _ = writeln!(html, "<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>", title(tally));
    let _ =
        writeln!(html, "<header>\n<h1>statuscheck report</h1>\n<p class=\"meta\">{}</p>\n</header>", meta_line(head));
    html.push_str("<main>\n");
    state_cards(&mut html, tally);
    html.push_str("<div class=\"overview\">\n");
    classes(&mut html, tally);
    latency(&mut html, &tally.latency);
    html.push_str("</div>\n");
    table_top(&mut html, head);
    html
}

/// `statuscheck: 2 down, 1 degraded of 120` or `statuscheck: 120 up`.
fn title(tally: &Tally) -> String {
    let not_up: Vec<String> = [State::Down, State::Unknown, State::Degraded]
        .into_iter()
        .filter(|s| tally.count(*s) > 0)
        .map(|s| format!("{} {s}", tally.count(s)))
        .collect();
    match not_up.is_empty() {
        true => format!("statuscheck: {} up", grouped(tally.checked())),
        false => format!("statuscheck: {} of {}", not_up.join(", "), grouped(tally.checked())),
    }
}

/// `120 URLs checked · 2026-11-25T09:50:05Z · rewritten every 30 s`.
fn meta_line(head: &Head) -> String {
    let mut line = format!("{} checked · {}", urls(head.tally.checked()), timestamp(unix_now()));
    if let Some(every) = head.options.refresh {
        let _ = write!(line, " · checked again every {}", human_duration(every));
    }
    if head.interrupted {
        line.push_str(" · <strong>interrupted</strong>: the round was cut short");
    }
    line
}

fn state_cards(html: &mut String, tally: &Tally) {
    html.push_str("<section class=\"cards\" aria-label=\"URLs by state\">\n");
    for state in State::ALL {
        let _ = writeln!(
            html,
            "<div class=\"card s-{state}\"><span class=\"n\">{}</span> <span class=\"what\">{state}</span></div>",
            grouped(tally.count(*state))
        );
    }
    html.push_str("</section>\n");
}

fn classes(html: &mut String, tally: &Tally) {
    html.push_str("<section class=\"classes\">\n<h2>Status classes</h2>\n<table class=\"mini\">\n<tr>");
    for class in 1..=5 {
        let _ = write!(html, "<th>{class}xx</th>");
    }
    html.push_str("<th>no answer</th></tr>\n<tr>");
    for class in (1..=5).chain([0]) {
        let _ = write!(html, "<td class=\"c{class}\">{}</td>", grouped(tally.classes[class]));
    }
    html.push_str("</tr>\n</table>\n</section>\n");
}

/// Bin edges of the chart, in µs: 1, 2, 5, 10, 20, 50 ms … 500 s; the first
/// bin is under 1 ms, the last from 500 s up.
pub(super) fn edges() -> Vec<u64> {
    let mut edges = Vec::new();
    let mut decade = 1_000;
    while decade <= 100_000_000 {
        edges.extend([decade, 2 * decade, 5 * decade]);
        decade *= 10;
    }
    edges
}

/// The latency histogram as inline SVG: one bar per bin between the fastest
/// and the slowest, with the percentiles above it.
fn latency(html: &mut String, histogram: &Histogram) {
    html.push_str("<section class=\"latency\">\n<h2>Latency</h2>\n");
    let edges = edges();
    let mut bins = vec![0u64; edges.len() + 1];
    for (lower, n) in histogram.counts() {
        bins[edges.partition_point(|edge| *edge <= lower)] += n;
    }
    let (Some(first), Some(last)) = (bins.iter().position(|n| *n > 0), bins.iter().rposition(|n| *n > 0)) else {
        html.push_str("<p>No URL was checked.</p>\n</section>\n");
        return;
    };
    let quantiles: Vec<String> = [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)]
        .iter()
        .filter_map(|(name, q)| Some(format!("{name} {}", human_duration(histogram.quantile(*q)?))))
        .collect();
    let _ = writeln!(html, "<p>{}</p>", quantiles.join(" · "));
    chart(html, &bins[first..=last], first, &edges);
    html.push_str("</section>\n");
}

/// Bars for `bins` (the first being bin `first` of `edges`).
fn chart(html: &mut String, bins: &[u64], first: usize, edges: &[u64]) {
    const WIDTH: f64 = 640.0;
    const HEIGHT: f64 = 180.0;
    const TOP: f64 = 18.0;
    const BOTTOM: f64 = 22.0;
    let most = bins.iter().copied().max().unwrap_or(1).max(1) as f64;
    let slot = WIDTH / bins.len() as f64;
    let _ = writeln!(
        html,
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"How many URLs took how long\">"
    );
    let _ = writeln!(html, "<line class=\"axis\" x1=\"0\" y1=\"{0}\" x2=\"{WIDTH}\" y2=\"{0}\"/>", HEIGHT - BOTTOM);
    for (i, n) in bins.iter().enumerate() {
        let bin = first + i;
        let height = (HEIGHT - TOP - BOTTOM) * *n as f64 / most;
        let (x, y) = (i as f64 * slot + slot * 0.1, HEIGHT - BOTTOM - height);
        let middle = i as f64 * slot + slot / 2.0;
        let _ = writeln!(
            html,
            "<g><title>{} URLs: {}</title><rect class=\"bar\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{height:.1}\"/>\
             <text class=\"count\" x=\"{middle:.1}\" y=\"{:.1}\">{}</text>\
             <text class=\"label\" x=\"{middle:.1}\" y=\"{:.1}\">{}</text></g>",
            grouped(*n),
            bin_range(bin, edges),
            slot * 0.8,
            y - 4.0,
            if *n > 0 { grouped(*n) } else { String::new() },
            HEIGHT - 6.0,
            text(&bin_label(bin, edges)),
        );
    }
    html.push_str("</svg>\n");
}

/// `<1 ms`, `20 ms`, `1 s`: the bin's lower edge.
pub(super) fn bin_label(bin: usize, edges: &[u64]) -> String {
    match bin {
        0 => format!("<{}", micros(edges[0])),
        _ => micros(edges[bin - 1]),
    }
}

/// `10–20 ms`, `under 1 ms`, `500 s or more`.
pub(super) fn bin_range(bin: usize, edges: &[u64]) -> String {
    match (bin.checked_sub(1).map(|i| edges[i]), edges.get(bin)) {
        (None, Some(upper)) => format!("under {}", micros(*upper)),
        (Some(lower), Some(upper)) => format!("{} to {}", micros(lower), micros(*upper)),
        (Some(lower), None) => format!("{} or more", micros(lower)),
        (None, None) => String::new(),
    }
}

fn micros(us: u64) -> String {
    match us {
        0..1_000_000 => format!("{} ms", us / 1000),
        _ => format!("{} s", us / 1_000_000),
    }
}

/// The note on what was left out, the controls (shown by the script) and
/// the table's head.
fn table_top(html: &mut String, head: &Head) {
    let tally = head.tally;
    let _ = writeln!(html, "<section class=\"results\">\n<h2>Results: {} rows</h2>", grouped(head.rows));
    if tally.left_out > 0 {
        let _ = writeln!(
            html,
            "<p class=\"left-out\">Every URL that is not up is listed, and the first {} that are up; \
             left out: <strong>{} up</strong>.</p>",
            grouped(tally.up_rows),
            urls(tally.left_out)
        );
    }
    html.push_str(
        "<div id=\"controls\" class=\"controls\" hidden>\
         <label>Filter <input id=\"filter\" type=\"search\" placeholder=\"URL, code, reason…\" autocomplete=\"off\"></label> \
         <label>State <select id=\"state\"><option value=\"\">all</option>",
    );
    for state in State::ALL {
        let _ = write!(html, "<option>{state}</option>");
    }
    html.push_str("</select></label> <output id=\"shown\" aria-live=\"polite\"></output></div>\n");
    html.push_str(
        "</section>\n<table id=\"results\">\n<thead><tr>\
         <th>State</th><th>URL</th><th>Code</th><th>Total</th><th>DNS</th><th>Connect</th><th>TLS</th>\
         <th>TTFB</th><th title=\"Days until the first certificate of the chain expires\">Cert days</th>\
         <th>Reason</th></tr></thead>\n<tbody>\n",
    );
}

/// One URL's row. Numeric cells carry their value in `data-v` for sorting.
fn table_row(html: &mut String, row: &Row) {
    let state = attr(&row.state);
    let _ =
        write!(html, "<tr data-state=\"{state}\" class=\"s-{state}\"><td data-v=\"{}\">{state}</td>", severity(row));
    url_cell(html, row);
    match row.code {
        Some(code) => {
            let _ = write!(html, "<td data-v=\"{code}\">{code}</td>");
        }
        None => html.push_str("<td data-v=\"\"></td>"),
    }
    let timings = row.timings_ms;
    for ms in [row.elapsed_ms, timings.dns, timings.connect, timings.tls, timings.ttfb] {
        match ms {
            Some(ms) => {
                let _ = write!(html, "<td data-v=\"{ms}\">{}</td>", milliseconds(ms));
            }
            None => html.push_str("<td data-v=\"\"></td>"),
        }
    }
    cert_cell(html, row);
    reason_cell(html, row);
    html.push_str("</tr>\n");
}

/// Sorting by state puts the worst first: down, unknown, degraded, up.
fn severity(row: &Row) -> u8 {
    match row.state.as_str() {
        "down" => 0,
        "degraded" => 2,
        "up" => 3,
        _ => 1,
    }
}

/// The checks file's name, the URL (a link only when it is one), and where
/// it was listed.
fn url_cell(html: &mut String, row: &Row) {
    html.push_str("<td class=\"url\">");
    if let Some(name) = &row.name {
        let _ = write!(html, "<span class=\"name\">{}</span>", text(name));
    }
    if row.url.starts_with("http://") || row.url.starts_with("https://") {
        let _ = write!(html, "<a href=\"{}\" rel=\"noreferrer noopener\">{}</a>", attr(&row.url), text(&row.url));
    } else {
        let _ = write!(html, "<span class=\"line\">{}</span>", text(&row.url));
    }
    let source = match (&row.file, row.line, &row.group) {
        (Some(file), Some(line), group) => Some(format!("{file}:{line}{}", group_suffix(group))),
        (_, _, Some(group)) => Some(group.clone()),
        _ => None,
    };
    if let Some(source) = source {
        let _ = write!(html, "<span class=\"src\">{}</span>", text(&source));
    }
    html.push_str("</td>");
}

fn group_suffix(group: &Option<String>) -> String {
    group.as_ref().map(|g| format!(" · {g}")).unwrap_or_default()
}

/// Days left on the first certificate of the chain to expire; its subject
/// in the tooltip.
fn cert_cell(html: &mut String, row: &Row) {
    let Some(days) = row.cert_days_left else {
        html.push_str("<td data-v=\"\"></td>");
        return;
    };
    let expiring = days < 0 || row.unmet.iter().any(|(kind, _, _)| kind == "certificate");
    let class = if expiring { " class=\"bad\"" } else { "" };
    let subject = row.cert_subject.as_deref().unwrap_or("");
    let _ = write!(html, "<td data-v=\"{days}\"{class} title=\"{}\">{days}</td>", attr(subject));
}

/// Why: the reason phrase, where a redirect pointed, the error, and every
/// expectation not met.
fn reason_cell(html: &mut String, row: &Row) {
    html.push_str("<td class=\"why\">");
    if let Some(reason) = &row.reason {
        html.push_str(&text(reason));
    }
    if let Some(location) = &row.location {
        let _ = write!(html, " <span class=\"loc\">→ {}</span>", text(&shown_location(location)));
    }
    if let Some(kind) = &row.error_kind {
        let cause = row.error_cause.as_ref().map(|c| format!(" ({c})")).unwrap_or_default();
        let message = row.error.as_deref().unwrap_or("");
        let _ = write!(html, "<span class=\"err\">{}{}</span>: {}", text(kind), text(&cause), text(message));
    }
    if !row.unmet.is_empty() {
        html.push_str("<ul class=\"unmet\">");
        for (kind, expect, got) in &row.unmet {
            let _ = write!(html, "<li>{}: expected {}, got {}</li>", text(kind), text(expect), text(got));
        }
        html.push_str("</ul>");
    }
    html.push_str("</td>");
}

/// `0.4 ms`, `12 ms`, `1.42 s`.
pub(super) fn milliseconds(ms: f64) -> String {
    match ms {
        ms if ms < 10.0 => format!("{ms:.1} ms"),
        ms if ms < 1000.0 => format!("{ms:.0} ms"),
        ms => format!("{:.2} s", ms / 1000.0),
    }
}

/// `1 URL`, `1,234 URLs`.
fn urls(n: u64) -> String {
    format!("{} URL{}", grouped(n), if n == 1 { "" } else { "s" })
}

/// `1,234,567`.
pub(super) fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Text for an element's content: control and invisible characters shown
/// as escapes (as in every format), then `& < >` as entities.
pub(super) fn text(raw: &str) -> Cow<'_, str> {
    escape(raw, false)
}

/// Text for a quoted attribute value: as [`text`], quotes too.
pub(super) fn attr(raw: &str) -> Cow<'_, str> {
    escape(raw, true)
}

fn escape(raw: &str, quotes: bool) -> Cow<'_, str> {
    let clean = sanitize(raw);
    let special = |c: char| matches!(c, '&' | '<' | '>') || (quotes && matches!(c, '"' | '\''));
    if !clean.contains(special) {
        return clean;
    }
    let mut out = String::with_capacity(clean.len() + 16);
    for c in clean.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if quotes => out.push_str("&quot;"),
            '\'' if quotes => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The page's Content-Security-Policy: nothing may load (no image, font,
/// frame or connection, not even from the file's own directory), and only
/// this stylesheet and this script run, named by their SHA-256.
static POLICY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; style-src '{}'; script-src '{}'; base-uri 'none'; form-action 'none'",
        sha256_source(CSS),
        sha256_source(JS)
    )
});

/// `sha256-<base64>`, as CSP names an inline element by its content.
pub(super) fn sha256_source(content: &str) -> String {
    format!("sha256-{}", base64(ring::digest::digest(&ring::digest::SHA256, content.as_bytes()).as_ref()))
}

/// Standard base64 with padding (RFC 4648), for the hashes above.
pub(super) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        for i in 0..4 {
            match i <= chunk.len() {
                true => out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63])),
                false => out.push('='),
            }
        }
    }
    out
}
