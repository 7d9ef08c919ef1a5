//! One result → one record, in each output format. Pure functions of a
//! result, tested without a network. A new format is a variant of
//! [`Format`] and an arm in [`header`] and [`record`].

use std::borrow::Cow;
use std::collections::hash_map::{Entry, HashMap};
use std::fmt::Write as _;
use std::time::Duration;

use clap::ValueEnum;
use serde_json::json;
use statuscheck::result::{date, unix_now};
use statuscheck::{Certificate, ErrorKind, Verdict};
use url::Url;

use crate::app::input::Checked;

/// The output formats (`--format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people
    Text,
    /// url, code, reason, elapsed_ms, error; tab-separated, no header
    Tsv,
    /// One JSON object per line (JSON Lines)
    Json,
    /// RFC 4180 CSV with a header, the same fields as JSON
    Csv,
    /// A Markdown table, for an issue or a CI job summary
    Markdown,
    /// Prometheus text format (blackbox_exporter's metric names), written at the end
    Prometheus,
}

/// Columns of the CSV format, which carries the same fields as JSON.
const CSV_HEADER: &str = "input,source,url,ok,code,reason,http_version,elapsed_ms,error_kind,error_message\r\n";

/// Width of the status column of the text format: fits
/// `HTTP/1.1 503 Service Unavailable`.
const STATUS_COLUMN: usize = 32;

/// Layout of the text format, learnt from the URLs seen so far.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub color: bool,
    pub url_width: usize,
    pub verbose: bool,
    /// `--watch`: text lines start with the time, JSON gets `checked_at`.
    pub timestamp: bool,
}

/// How the policy judged a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Judged {
    pub verdict: Verdict,
    /// The certificate expires within `--cert-expiry` days.
    pub expiring: bool,
}

/// What goes before the first record, if anything, with its line ends.
pub fn header(format: Format) -> Option<&'static str> {
    match format {
        Format::Csv => Some(CSV_HEADER),
        Format::Markdown => Some("| URL | Status | Time |\n|---|---|--:|\n"),
        Format::Text | Format::Tsv | Format::Json | Format::Prometheus => None,
    }
}

/// Appends one result, with its line end, in `format`.
pub fn record(out: &mut String, format: Format, style: Style, checked: &Checked, judged: Judged) {
    match format {
        Format::Text => text(out, style, checked, judged),
        Format::Tsv => tsv(out, checked),
        Format::Json => jsonl(out, checked, judged, style.timestamp),
        Format::Csv => csv(out, checked, judged.verdict),
        Format::Markdown => markdown(out, checked, judged),
        // Grouped by metric, so written at the end; see `Metrics`.
        Format::Prometheus => {}
    }
}

/// The Prometheus text format groups series by metric, each metric once with
/// its `# HELP` and `# TYPE`, so results are kept (a few lines per URL) and
/// written when the run ends. Names follow blackbox_exporter's.
///
/// A label set may appear only once, so a URL listed twice (or two invalid
/// lines with the same text) keeps one set of series: the answer that came last.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Where each `url` label's series are in `series`.
    seen: HashMap<String, usize>,
    /// Per URL, in the order first seen: its lines of each metric.
    series: Vec<[String; METRICS.len()]>,
}

const METRICS: [(&str, &str); 8] = [
    ("probe_success", "Whether the check succeeded (1) or not (0)"),
    ("probe_http_status_code", "Status code of the final response, 0 if there was none"),
    ("probe_duration_seconds", "How long the whole check took"),
    ("probe_http_duration_seconds", "Duration of each phase of the last request"),
    ("probe_http_redirects", "Number of redirects followed"),
    ("probe_http_version", "HTTP version of the final response, 0 if there was none"),
    ("probe_ip_protocol", "IP version of the address connected to, 0 if none"),
    ("probe_ssl_earliest_cert_expiry", "Earliest expiry of the verified certificate chain, as a Unix time"),
];

impl Metrics {
    /// Keeps the series of one result.
    pub fn add(&mut self, checked: &Checked, judged: Judged) {
        let url = label_value(shown_url(checked));
        let response = checked.outcome.as_ref().ok();
        let trace = &checked.trace;
        let mut series: [String; METRICS.len()] = Default::default();
        let mut put = |metric: usize, labels: &str, value: f64| {
            let _ = writeln!(series[metric], "{}{{url=\"{url}\"{labels}}} {value}", METRICS[metric].0);
        };
        put(0, "", f64::from(u8::from(judged.verdict == Verdict::Ok)));
        put(1, "", f64::from(response.map_or(0, |r| r.code)));
        put(2, "", checked.elapsed.as_secs_f64());
        for (phase, took) in
            [("resolve", trace.dns), ("connect", trace.connect), ("tls", trace.tls), ("processing", trace.ttfb)]
        {
            put(3, &format!(",phase=\"{phase}\""), took.unwrap_or_default().as_secs_f64());
        }
        put(4, "", checked.redirects.len() as f64);
        put(5, "", response.map_or(0.0, |r| if r.version.number() == "1.0" { 1.0 } else { 1.1 }));
        put(6, "", trace.address.map_or(0.0, |a| if a.is_ipv4() { 4.0 } else { 6.0 }));
        if let Some(cert) = checked.earliest_expiry() {
            put(7, "", cert.not_after as f64);
        }
        match self.seen.entry(url) {
            Entry::Occupied(known) => self.series[*known.get()] = series,
            Entry::Vacant(new) => {
                new.insert(self.series.len());
                self.series.push(series);
            }
        }
    }

    /// The whole exposition, one metric after another.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (metric, (name, help)) in METRICS.iter().enumerate() {
            if self.series.iter().any(|url| !url[metric].is_empty()) {
                let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n");
                self.series.iter().for_each(|url| out.push_str(&url[metric]));
            }
        }
        out
    }
}

/// A label value as the format wants it: `\`, `"` and line feeds escaped.
fn label_value(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// `https://example.com/   HTTP/1.1 200 OK   123 ms`, then what the head
/// added (`→ location`, the redirect chain, a block, an expiring
/// certificate), and with `-v` a line of trace.
fn text(out: &mut String, style: Style, checked: &Checked, judged: Judged) {
    let url = sanitize(shown_url(checked));
    let status = status_text(checked);
    let elapsed = human_elapsed(checked);
    let (start, end) = match (style.color, &checked.outcome) {
        (false, _) => ("", ""),
        (true, Ok(response)) => (class_color(response.code), "\x1b[0m"),
        (true, Err(_)) => ("\x1b[31m", "\x1b[0m"),
    };
    let width = style.url_width;
    let notes = notes(checked, judged).join("  ");
    if style.timestamp {
        out.push_str(&timestamp(unix_now()));
        out.push(' ');
    }
    let line = format!("{url:<width$}  {start}{status:<STATUS_COLUMN$}{end}  {elapsed:>8}  {notes}");
    let _ = writeln!(out, "{}", line.trim_end());
    if style.verbose && checked.target.url.is_ok() {
        let _ = writeln!(out, "    {}", trace_text(checked));
    }
}

/// What a result adds to its status line, in words.
fn notes(checked: &Checked, judged: Judged) -> Vec<String> {
    let mut notes = Vec::new();
    if let Ok(response) = &checked.outcome {
        if let (Some(location), true) = (&response.location, checked.redirects.is_empty()) {
            notes.push(format!("→ {}", sanitize(&shown_location(location))));
        }
        if let Some(by) = response.blocked_by {
            notes.push(format!("[blocked by {by}]"));
        }
    }
    if !checked.redirects.is_empty() {
        notes.push(format!("via {}", sanitize(&chain(checked))));
    }
    if judged.expiring {
        if let Some(cert) = checked.earliest_expiry() {
            notes.push(expiring_note(cert, checked.certificate()));
        }
    }
    if checked.attempts > 1 {
        notes.push(format!("[{} attempts]", checked.attempts));
    }
    notes
}

/// `[certificate expires in 5 days]`, naming the certificate when it is an
/// intermediate rather than the leaf.
fn expiring_note(earliest: &Certificate, leaf: Option<&Certificate>) -> String {
    let days = earliest.days_left(unix_now());
    if leaf == Some(earliest) {
        format!("[certificate expires in {days} days]")
    } else {
        format!("[intermediate certificate {} expires in {days} days]", sanitize(&earliest.subject))
    }
}

/// An absolute `Location` as `url` shows URLs (the host in punycode, so
/// `bаnk.test` with a Cyrillic `а` cannot pass for `bank.test`); a
/// relative one as sent.
fn shown_location(location: &str) -> Cow<'_, str> {
    match Url::parse(location) {
        Ok(url) if url.has_host() => Cow::Owned(url.into()),
        _ => Cow::Borrowed(location),
    }
}

/// `http://a/ → 301 → https://a/ → 200`
fn chain(checked: &Checked) -> String {
    let mut text = String::new();
    for hop in &checked.redirects {
        let _ = write!(text, "{} → {} → ", hop.url, hop.code);
    }
    match (&checked.final_url, &checked.outcome) {
        (Some(url), Ok(response)) => {
            let _ = write!(text, "{url} → {}", response.code);
        }
        (Some(url), Err(error)) => {
            let _ = write!(text, "{url} → {}", error.kind());
        }
        (None, _) => text.push_str("(stopped)"),
    }
    text
}

/// `address 127.0.0.1:443  dns 1 ms  connect 0 ms  tls 4 ms  ttfb 2 ms  TLS 1.3 …`
fn trace_text(checked: &Checked) -> String {
    let trace = &checked.trace;
    let mut parts = Vec::new();
    if let Some(address) = trace.address {
        parts.push(format!("address {address}"));
    }
    for (name, phase) in [("dns", trace.dns), ("connect", trace.connect), ("tls", trace.tls), ("ttfb", trace.ttfb)] {
        if let Some(took) = phase {
            parts.push(format!("{name} {}", human_duration(took)));
        }
    }
    if let Some(session) = &trace.tls_session {
        parts.push(format!("{} {}", session.version, session.cipher));
        if let Some(cert) = &session.certificate {
            let days = cert.days_left(unix_now());
            parts.push(format!(
                "certificate {} (issuer {}) expires {}, in {days} days",
                sanitize(&cert.subject),
                sanitize(&cert.issuer),
                date(cert.not_after)
            ));
        }
        if let Some(earliest) = session.earliest_expiry.as_ref().filter(|e| session.certificate.as_ref() != Some(e)) {
            parts.push(format!(
                "intermediate {} expires {}, in {} days",
                sanitize(&earliest.subject),
                date(earliest.not_after),
                earliest.days_left(unix_now())
            ));
        }
    }
    parts.join("  ")
}

/// 2xx green, 3xx cyan, 4xx yellow, 5xx red.
fn class_color(code: u16) -> &'static str {
    match code {
        200..=299 => "\x1b[32m",
        300..=399 => "\x1b[36m",
        400..=499 => "\x1b[33m",
        500..=599 => "\x1b[31m",
        _ => "",
    }
}

/// `url<TAB>code<TAB>reason<TAB>elapsed_ms<TAB>error`; fields never hold a
/// tab or line break, because `sanitize` escapes every control character.
fn tsv(out: &mut String, checked: &Checked) {
    let url = sanitize(shown_url(checked));
    let (code, reason, error) = match &checked.outcome {
        Ok(r) => (r.code.to_string(), sanitize(&r.reason).into_owned(), String::new()),
        Err(e) => (String::new(), String::new(), format!("{}: {}", e.kind(), sanitize(&e.to_string()))),
    };
    let elapsed = elapsed_ms(checked).map(|ms| format!("{ms:.3}")).unwrap_or_default();
    let _ = writeln!(out, "{url}\t{code}\t{reason}\t{elapsed}\t{error}");
}

/// One JSON object per line; the field set is a documented contract.
fn jsonl(out: &mut String, checked: &Checked, judged: Judged, with_time: bool) {
    let target = &checked.target;
    let response = checked.outcome.as_ref().ok();
    let trace = &checked.trace;
    let ms = |d: Option<Duration>| d.map(|d| (d.as_secs_f64() * 1e6).round() / 1e3);
    let tls = trace.tls_session.as_ref().map(|session| {
        let cert = session.certificate.as_ref();
        let earliest = session.earliest_expiry.as_ref();
        json!({
            "version": session.version,
            "cipher": session.cipher,
            "subject": cert.map(|c| c.subject.as_str()),
            "issuer": cert.map(|c| c.issuer.as_str()),
            "not_after": cert.map(|c| date(c.not_after)),
            "days_left": earliest.map(|c| c.days_left(unix_now())),
            "expiring": judged.expiring,
            "earliest_expiry": earliest.map(|c| json!({"subject": c.subject, "not_after": date(c.not_after)})),
        })
    });
    let mut record = json!({
        "input": target.input,
        "source": target.source.to_string(),
        "url": target.url.as_ref().ok().map(|u| u.as_str()),
        "ok": judged.verdict == Verdict::Ok,
        "code": response.map(|r| r.code),
        "reason": response.map(|r| r.reason.as_str()),
        "http_version": response.map(|r| r.version.number()),
        "elapsed_ms": elapsed_ms(checked),
        "error": checked.outcome.as_ref().err().map(|e| json!({
            "kind": e.kind().as_str(),
            "message": e.to_string(),
        })),
        "location": response.and_then(|r| r.location.as_deref()),
        "redirects": checked.redirects.iter().map(|hop| json!({"url": hop.url.as_str(), "code": hop.code})).collect::<Vec<_>>(),
        "final_url": checked.final_url.as_ref().map(|u| u.as_str()),
        "blocked": response.is_some_and(|r| r.blocked_by.is_some()),
        "blocked_by": response.and_then(|r| r.blocked_by),
        "retry_after": response.and_then(|r| r.retry_after),
        "address": trace.address.map(|a| a.to_string()),
        "timings_ms": {
            "dns": ms(trace.dns),
            "connect": ms(trace.connect),
            "tls": ms(trace.tls),
            "ttfb": ms(trace.ttfb),
            "total": elapsed_ms(checked),
        },
        "tls": tls,
        "attempts": checked.attempts,
    });
    if with_time {
        // `--watch`: when the result was printed.
        record["checked_at"] = json!(timestamp(unix_now()));
    }
    let _ = writeln!(out, "{record}");
}

/// RFC 4180: CRLF line ends, fields quoted when they hold a comma or a
/// quote, quotes doubled. Same fields as JSON, error split in two, and
/// escaped as in every other format; see [`csv_cell`].
fn csv(out: &mut String, checked: &Checked, verdict: Verdict) {
    let target = &checked.target;
    let response = checked.outcome.as_ref().ok();
    let error = checked.outcome.as_ref().err();
    let fields: [Cow<str>; 10] = [
        Cow::Borrowed(&target.input),
        Cow::Owned(target.source.to_string()),
        Cow::Borrowed(target.url.as_ref().map(|u| u.as_str()).unwrap_or("")),
        Cow::Borrowed(if verdict == Verdict::Ok { "true" } else { "false" }),
        Cow::Owned(response.map(|r| r.code.to_string()).unwrap_or_default()),
        Cow::Borrowed(response.map(|r| r.reason.as_str()).unwrap_or("")),
        Cow::Borrowed(response.map(|r| r.version.number()).unwrap_or("")),
        Cow::Owned(elapsed_ms(checked).map(|ms| format!("{ms:.3}")).unwrap_or_default()),
        Cow::Borrowed(error.map(|e| e.kind().as_str()).unwrap_or("")),
        Cow::Owned(error.map(|e| e.to_string()).unwrap_or_default()),
    ];
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_cell(out, field);
    }
    out.push_str("\r\n");
}

/// One CSV cell. Control and invisible characters are escaped by
/// [`sanitize`], so no line break, tab or escape sequence is ever raw; a
/// cell that a spreadsheet would take for a formula (`=`, `+`, `-`, `@`
/// first: OWASP's CSV-injection advice) gets a `'` in front and quotes.
fn csv_cell(out: &mut String, field: &str) {
    let field = sanitize(field);
    let formula = field.starts_with(['=', '+', '-', '@']);
    if formula || field.contains([',', '"']) {
        let _ = write!(out, "\"{}{}\"", if formula { "'" } else { "" }, field.replace('"', "\"\""));
    } else {
        out.push_str(&field);
    }
}

/// A row of a Markdown table, for pasting into an issue or a CI summary.
fn markdown(out: &mut String, checked: &Checked, judged: Judged) {
    let url = markdown_cell(shown_url(checked));
    let mut status = status_text(checked);
    for note in notes(checked, judged) {
        status = format!("{status} {note}");
    }
    let status = markdown_cell(&status);
    let _ = writeln!(out, "| {url} | {status} | {} |", human_elapsed(checked));
}

/// Text as a Markdown table cell that shows as the text itself: what a
/// server sends (`![x](https://evil.test/t.png)`, `<img>`) never becomes an
/// image, a link, emphasis or HTML: a backslash before each of
/// ``\ ` * _ [ ] ! ~ |`` (CommonMark's escapes), entities for `< > &`.
fn markdown_cell(text: &str) -> String {
    let text = sanitize(text);
    let mut cell = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '<' => cell.push_str("&lt;"),
            '>' => cell.push_str("&gt;"),
            '&' => cell.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '!' | '~' | '|' => {
                cell.push('\\');
                cell.push(c);
            }
            _ => cell.push(c),
        }
    }
    cell
}

/// The status line as received, or `error <kind>: <message>`, escaped.
fn status_text(checked: &Checked) -> String {
    match &checked.outcome {
        Ok(response) => sanitize(&response.to_string()).into_owned(),
        Err(error) => format!("error {}: {}", error.kind(), sanitize(&error.to_string())),
    }
}

/// The URL as checked, or the line as written when it is not a URL.
pub fn shown_url(checked: &Checked) -> &str {
    match &checked.target.url {
        Ok(url) => url.as_str(),
        Err(_) => &checked.target.input,
    }
}

/// Milliseconds with microsecond precision; `None` for lines never checked.
fn elapsed_ms(checked: &Checked) -> Option<f64> {
    checked.target.url.as_ref().ok()?;
    Some((checked.elapsed.as_secs_f64() * 1e6).round() / 1e3)
}

/// `12 ms`, `1.42 s`; empty for lines never checked.
fn human_elapsed(checked: &Checked) -> String {
    match &checked.outcome {
        Err(e) if e.kind() == ErrorKind::InvalidUrl => String::new(),
        _ => human_duration(checked.elapsed),
    }
}

/// `2026-11-25T09:50:05Z`, for `--watch` lines.
pub fn timestamp(unix: i64) -> String {
    let seconds = unix.rem_euclid(86_400);
    format!("{}T{:02}:{:02}:{:02}Z", date(unix), seconds / 3600, seconds / 60 % 60, seconds % 60)
}

pub fn human_duration(elapsed: Duration) -> String {
    let ms = elapsed.as_secs_f64() * 1000.0;
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

/// Escapes control characters so that nothing a server or an input file
/// holds can move the cursor, change colours or break a TSV row, and
/// invisible ones so that nothing can hide or reorder what is shown.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    let escaped = |c: char| c.is_control() || is_invisible(c);
    if !text.chars().any(escaped) {
        return Cow::Borrowed(text);
    }
    let mut clean = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if escaped(c) {
            clean.extend(c.escape_default());
        } else {
            clean.push(c);
        }
    }
    Cow::Owned(clean)
}

/// Unicode's format characters (category Cf: bidi overrides and isolates
/// such as U+202E, zero-width spaces and joiners, U+FEFF, tags) and the
/// line and paragraph separators (Zl, Zp), as of Unicode 15. They show as
/// nothing, or turn the text around them: `evil.test\u{202e}moc.knab`.
fn is_invisible(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x2028..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::input::{parse_url, Source, Target};
    use statuscheck::{CheckError, HttpVersion, OkCodes, Phase, Response};
    use std::net::SocketAddr;
    use std::sync::Arc;

    fn checked(line: &str, outcome: Result<Response, CheckError>) -> Checked {
        let url = parse_url(line).map_err(|e| format!("invalid URL at list.txt:3: {e}"));
        let source = Source::Line { name: Arc::from("list.txt"), line: 3 };
        let outcome = match &url {
            Err(e) => Err(CheckError::InvalidUrl(e.clone())),
            Ok(_) => outcome,
        };
        let target = Target { source, input: line.into(), url };
        let mut checked = Checked::invalid(target, "");
        checked.outcome = outcome;
        checked.elapsed = Duration::from_micros(12_345);
        checked.attempts = 1;
        checked
    }

    fn ok(code: u16, reason: &str) -> Result<Response, CheckError> {
        Ok(Response::new(HttpVersion::Http11, code, reason))
    }

    fn refused() -> Result<Response, CheckError> {
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        Err(CheckError::Connect { addr, reason: "connection refused".into() })
    }

    fn render_with(format: Format, color: bool, c: &Checked) -> String {
        let mut out = String::new();
        let verdict = OkCodes::default().verdict(&c.outcome);
        let style = Style { color, url_width: 40, verbose: false, timestamp: false };
        record(&mut out, format, style, c, Judged { verdict, expiring: false });
        out
    }

    fn render(format: Format, c: &Checked) -> String {
        render_with(format, false, c)
    }

    #[test]
    fn text_shows_status_line_and_time() {
        let line = render(Format::Text, &checked("https://a.test/", ok(200, "OK")));
        let expected = format!("{:<40}  {:<32}  {:>8}\n", "https://a.test/", "HTTP/1.1 200 OK", "12 ms");
        assert_eq!(line, expected);
        let line = render(Format::Text, &checked("http://b.test/", refused()));
        assert!(line.contains("error connect: connection refused (127.0.0.1:9)"), "{line}");
    }

    #[test]
    fn text_colours_by_class_only_when_asked() {
        let coloured = |c: &Checked| render_with(Format::Text, true, c);
        assert!(coloured(&checked("a.test", ok(200, "OK"))).contains("\x1b[32mHTTP/1.1 200 OK"));
        assert!(coloured(&checked("a.test", ok(301, ""))).contains("\x1b[36m"));
        assert!(coloured(&checked("a.test", ok(404, "Not Found"))).contains("\x1b[33m"));
        assert!(coloured(&checked("a.test", ok(503, ""))).contains("\x1b[31m"));
        assert!(coloured(&checked("a.test", refused())).contains("\x1b[31merror"));
        assert!(!render(Format::Text, &checked("a.test", refused())).contains('\x1b'));
    }

    #[test]
    fn tsv_has_five_fields_and_no_stray_tabs() {
        let line = render(Format::Tsv, &checked("https://a.test/", ok(301, "Moved\tPermanently")));
        assert_eq!(line, "https://a.test/\t301\tMoved\\tPermanently\t12.345\t\n");
        let line = render(Format::Tsv, &checked("ftp://x/\x1b[2J", ok(200, "")));
        let fields: Vec<&str> = line.trim_end_matches('\n').split('\t').collect();
        assert_eq!(fields.len(), 5);
        assert_eq!(fields[0], "ftp://x/\\u{1b}[2J");
        assert_eq!((fields[1], fields[3]), ("", ""));
        assert!(fields[4].starts_with("invalid-url: invalid URL at list.txt:3: scheme 'ftp'"));
    }

    #[test]
    fn json_carries_every_documented_field() {
        let parse = |c: &Checked| -> serde_json::Value { serde_json::from_str(&render(Format::Json, c)).unwrap() };
        let record = parse(&checked("a.test/x", ok(404, "Not Found")));
        let expected = json!({"input": "a.test/x", "source": "list.txt:3", "url": "https://a.test/x",
            "ok": false, "code": 404, "reason": "Not Found", "http_version": "1.1",
            "elapsed_ms": 12.345, "error": null, "location": null, "redirects": [], "final_url": null,
            "blocked": false, "blocked_by": null, "retry_after": null, "address": null,
            "timings_ms": {"dns": null, "connect": null, "tls": null, "ttfb": null, "total": 12.345},
            "tls": null, "attempts": 1});
        assert_eq!(record, expected);
        let keys: Vec<&String> = record.as_object().unwrap().keys().collect();
        assert_eq!(
            keys[..9],
            ["input", "source", "url", "ok", "code", "reason", "http_version", "elapsed_ms", "error"]
        );
        let record = parse(&checked("a.test", refused()));
        assert_eq!(record["error"], json!({"kind": "connect", "message": "connection refused (127.0.0.1:9)"}));
        assert_eq!((record["ok"].as_bool(), record["code"].is_null()), (Some(false), true));
        let invalid = parse(&checked("ftp://x/", ok(200, "")));
        assert_eq!((invalid["url"].is_null(), invalid["elapsed_ms"].is_null()), (true, true));
        assert_eq!(invalid["error"]["kind"], "invalid-url");
    }

    #[test]
    fn csv_quotes_per_rfc_4180() {
        assert_eq!(header(Format::Csv).unwrap().split(',').count(), 10);
        assert!(header(Format::Csv).unwrap().ends_with("error_message\r\n"));
        let line = render(Format::Csv, &checked("https://a.test/?q=1,2", ok(200, "Say \"hi\"")));
        assert_eq!(
            line,
            "\"https://a.test/?q=1,2\",list.txt:3,\"https://a.test/?q=1,2\",true,200,\"Say \"\"hi\"\"\",1.1,12.345,,\r\n"
        );
        let line = render(Format::Csv, &checked("a.test", refused()));
        assert!(line.ends_with(",false,,,,12.345,connect,connection refused (127.0.0.1:9)\r\n"), "{line}");
    }

    #[test]
    fn prometheus_groups_series_by_metric() {
        let mut metrics = Metrics::default();
        let judged = |c: &Checked| Judged { verdict: OkCodes::default().verdict(&c.outcome), expiring: false };
        let a = checked("https://a.test/x?q=\"1\"", ok(200, "OK"));
        let b = checked("http://b.test/", refused());
        metrics.add(&a, judged(&a));
        metrics.add(&b, judged(&b));
        let text = metrics.text();
        assert_eq!(text.matches("# TYPE probe_success gauge").count(), 1);
        assert!(text.contains("probe_success{url=\"https://a.test/x?q=%221%22\"} 1\n"), "{text}");
        assert!(text.contains("probe_success{url=\"http://b.test/\"} 0\n"));
        assert!(text.contains("probe_http_status_code{url=\"http://b.test/\"} 0\n"));
        assert!(text.contains("probe_http_duration_seconds{url=\"http://b.test/\",phase=\"tls\"} 0\n"));
        assert!(!text.contains("probe_ssl_earliest_cert_expiry"), "no certificate, no series");
        assert_eq!(label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    /// A check whose chain has `leaf` and, expiring first, `earliest`.
    fn with_chain(leaf: Certificate, earliest: Certificate) -> Checked {
        let mut c = checked("https://a.test/", ok(200, "OK"));
        let mut session = statuscheck::TlsSession::new("TLS 1.3", "TLS13_AES_128_GCM_SHA256");
        (session.certificate, session.earliest_expiry) = (Some(leaf), Some(earliest));
        c.trace.tls_session = Some(session);
        c
    }

    #[test]
    fn expiry_is_the_chains_and_names_the_intermediate() {
        let now = unix_now();
        let leaf = Certificate::new("CN=a.test", "CN=I", now + 60 * 86_400 + 600);
        let intermediate = Certificate::new("CN=I\x1b[2J", "CN=R", now + 5 * 86_400 + 600);
        let c = with_chain(leaf.clone(), intermediate.clone());
        let judged = Judged { verdict: Verdict::Failed, expiring: true };
        let mut out = String::new();
        record(
            &mut out,
            Format::Json,
            Style { color: false, url_width: 40, verbose: false, timestamp: false },
            &c,
            judged,
        );
        let tls: serde_json::Value = serde_json::from_str::<serde_json::Value>(&out).unwrap()["tls"].clone();
        assert_eq!((tls["subject"].as_str(), tls["days_left"].as_i64()), (Some("CN=a.test"), Some(5)));
        assert_eq!(tls["not_after"], date(leaf.not_after));
        assert_eq!(
            tls["earliest_expiry"],
            json!({"subject": intermediate.subject, "not_after": date(intermediate.not_after)})
        );
        let mut text = String::new();
        record(
            &mut text,
            Format::Text,
            Style { color: false, url_width: 40, verbose: true, timestamp: false },
            &c,
            judged,
        );
        assert!(text.contains("[intermediate certificate CN=I\\u{1b}[2J expires in 5 days]"), "{text}");
        assert!(text.contains("certificate CN=a.test (issuer CN=I) expires "), "{text}");
        assert!(text.contains("intermediate CN=I\\u{1b}[2J expires "), "{text}");
        assert!(!text.contains('\x1b'), "{text}");
        let mut metrics = Metrics::default();
        metrics.add(&c, judged);
        let expected =
            format!("probe_ssl_earliest_cert_expiry{{url=\"https://a.test/\"}} {}\n", intermediate.not_after);
        assert!(metrics.text().contains(&expected), "{}", metrics.text());
        // When the leaf is the first to expire the note is as before.
        let leaf_first = with_chain(leaf.clone(), leaf);
        let mut text = String::new();
        record(
            &mut text,
            Format::Text,
            Style { color: false, url_width: 40, verbose: false, timestamp: false },
            &leaf_first,
            judged,
        );
        assert!(text.contains("[certificate expires in 60 days]"), "{text}");
    }

    #[test]
    fn markdown_rows_escape_pipes() {
        assert!(header(Format::Markdown).unwrap().starts_with("| URL | Status | Time |\n|---|"));
        let line = render(Format::Markdown, &checked("https://a.test/", ok(200, "a|b")));
        assert_eq!(line, "| https://a.test/ | HTTP/1.1 200 a\\|b | 12 ms |\n");
    }

    #[test]
    fn timeouts_read_well_in_every_format() {
        let timeout = Err(CheckError::Timeout { phase: Phase::Read, limit: Duration::from_secs(10) });
        let c = checked("a.test", timeout);
        assert!(render(Format::Text, &c).contains("error timeout: no status line after 10s"));
        assert!(render(Format::Tsv, &c).ends_with("\ttimeout: no status line after 10s\n"));
        assert!(render(Format::Markdown, &c).contains("| error timeout: no status line after 10s |"));
    }

    #[test]
    fn csv_escapes_controls_and_neutralises_formulas() {
        let line = render(Format::Csv, &checked("https://a.test/", ok(200, "\x1b]0;pwned\x07\r\nx")));
        assert!(line.contains(",200,\\u{1b}]0;pwned\\u{7}\\r\\nx,1.1,"), "{line:?}");
        assert_eq!(line.matches(['\r', '\n', '\x1b', '\x07']).count(), 2, "only the row's own CRLF: {line:?}");
        let line = render(Format::Csv, &checked("https://a.test/", ok(200, "=HYPERLINK(\"http://evil.test\")")));
        assert!(line.contains(",200,\"'=HYPERLINK(\"\"http://evil.test\"\")\",1.1,"), "{line}");
        for reason in ["+1", "-1+2", "@SUM(A1)"] {
            let line = render(Format::Csv, &checked("https://a.test/", ok(200, reason)));
            assert!(line.contains(&format!(",200,\"'{reason}\",1.1,")), "{line}");
        }
        let line = render(Format::Csv, &checked("=cmd|'/c calc'!A0", ok(200, "")));
        assert!(line.starts_with("\"'=cmd|'/c calc'!A0\",list.txt:3,,false,"), "{line}");
        let line = render(Format::Csv, &checked("https://a.test/", ok(200, "\tTab")));
        assert!(line.contains(",200,\\tTab,"), "a tab is escaped, so it never leads a cell: {line}");
    }

    #[test]
    fn markdown_does_not_pass_links_images_or_html() {
        let reason = "![x](https://evil.test/t.png) [y](https://evil.test/) <img src=x> *a* _b_ `c` ~d~ &amp; \\";
        let line = render(Format::Markdown, &checked("https://a.test/", ok(200, reason)));
        let escaped = "\\!\\[x\\](https://evil.test/t.png) \\[y\\](https://evil.test/) &lt;img src=x&gt; \
                       \\*a\\* \\_b\\_ \\`c\\` \\~d\\~ &amp;amp; \\\\";
        assert_eq!(line, format!("| https://a.test/ | HTTP/1.1 200 {escaped} | 12 ms |\n"));
        let line = render(Format::Markdown, &checked("https://a.test/a_b?c=1&d=2", ok(200, "OK")));
        assert!(line.starts_with("| https://a.test/a\\_b?c=1&amp;d=2 |"), "{line}");
    }

    #[test]
    fn invisible_and_direction_characters_are_escaped() {
        for c in [
            '\u{202A}',
            '\u{202E}',
            '\u{2066}',
            '\u{2069}',
            '\u{200E}',
            '\u{200F}',
            '\u{061C}',
            '\u{2028}',
            '\u{2029}',
            '\u{200B}',
            '\u{200D}',
            '\u{2060}',
            '\u{2064}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{E0041}',
        ] {
            let text = format!("a{c}b");
            assert_eq!(sanitize(&text), format!("a\\u{{{:x}}}b", u32::from(c)), "U+{:04X}", u32::from(c));
        }
        assert_eq!(sanitize("bücher ü 日本 \u{a0}"), "bücher ü 日本 \u{a0}", "visible text is kept");
        let line = render(Format::Text, &checked("https://a.test/", ok(200, "OK\u{202E}txt.exe")));
        assert!(line.contains("HTTP/1.1 200 OK\\u{202e}txt.exe"), "{line}");
        let tsv = render(Format::Tsv, &checked("https://a.test/", ok(200, "\u{2028}\u{FEFF}")));
        assert!(tsv.contains("\t\\u{2028}\\u{feff}\t"), "{tsv}");
    }

    #[test]
    fn location_note_shows_the_host_as_punycode() {
        let with_location = |location: &str| {
            let mut response = Response::new(HttpVersion::Http11, 301, "Moved");
            response.location = Some(location.into());
            render(Format::Text, &checked("https://a.test/", Ok(response)))
        };
        let line = with_location("https://bаnk.test/login");
        assert!(line.contains("→ https://xn--bnk-6cd.test/login"), "{line}");
        let line = with_location("/next\u{202E}");
        assert!(line.contains("→ /next\\u{202e}"), "relative, as sent but escaped: {line}");
    }

    #[test]
    fn prometheus_keeps_one_series_per_label_set() {
        let mut metrics = Metrics::default();
        let judged = |c: &Checked| Judged { verdict: OkCodes::default().verdict(&c.outcome), expiring: false };
        for c in [
            checked("https://a.test/", ok(500, "")),
            checked("ftp://x/", ok(200, "")),
            checked("b.test", ok(200, "OK")),
            checked("a.test", ok(204, "")),
            checked("ftp://x/", ok(200, "")),
        ] {
            metrics.add(&c, judged(&c));
        }
        let text = metrics.text();
        let series: Vec<&str> = text.lines().filter(|l| l.starts_with("probe_http_status_code")).collect();
        assert_eq!(
            series,
            [
                "probe_http_status_code{url=\"https://a.test/\"} 204",
                "probe_http_status_code{url=\"ftp://x/\"} 0",
                "probe_http_status_code{url=\"https://b.test/\"} 200"
            ],
            "the last answer for a URL wins"
        );
        let samples: Vec<&str> =
            text.lines().filter(|l| !l.starts_with('#')).map(|l| l.rsplit_once(' ').unwrap().0).collect();
        let unique: std::collections::HashSet<&&str> = samples.iter().collect();
        assert_eq!(unique.len(), samples.len(), "{text}");
    }

    #[test]
    fn timestamps_are_utc_rfc3339() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(1_764_064_205), "2025-11-25T09:50:05Z");
    }

    #[test]
    fn sanitize_escapes_controls_only() {
        assert_eq!(sanitize("caf\u{e9} ok"), "caf\u{e9} ok");
        assert_eq!(sanitize("a\tb\r\n\x1b[0m\0"), "a\\tb\\r\\n\\u{1b}[0m\\u{0}");
    }
}
