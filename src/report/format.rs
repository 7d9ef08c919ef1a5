//! One result → one record, in each output format. Pure functions of a
//! result, tested without a network. A new format is a variant of
//! [`Format`](crate::cli::Format) and an arm in [`header`] and [`record`].

use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::Duration;

use serde_json::json;

use crate::cli::Format;
use crate::outcome::{Checked, ErrorKind, Verdict};

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
}

/// What goes before the first record, if anything, with its line ends.
pub fn header(format: Format) -> Option<&'static str> {
    match format {
        Format::Csv => Some(CSV_HEADER),
        Format::Markdown => Some("| URL | Status | Time |\n|---|---|--:|\n"),
        Format::Text | Format::Tsv | Format::Json => None,
    }
}

/// Appends one result, with its line end, in `format`.
pub fn record(out: &mut String, format: Format, style: Style, checked: &Checked, verdict: Verdict) {
    match format {
        Format::Text => text(out, style, checked),
        Format::Tsv => tsv(out, checked),
        Format::Json => jsonl(out, checked, verdict),
        Format::Csv => csv(out, checked, verdict),
        Format::Markdown => markdown(out, checked),
    }
}

/// `https://example.com/   HTTP/1.1 200 OK   123 ms`
fn text(out: &mut String, style: Style, checked: &Checked) {
    let url = sanitize(shown_url(checked));
    let status = status_text(checked);
    let elapsed = human_elapsed(checked);
    let (start, end) = match (style.color, &checked.outcome) {
        (false, _) => ("", ""),
        (true, Ok(response)) => (class_color(response.code), "\x1b[0m"),
        (true, Err(_)) => ("\x1b[31m", "\x1b[0m"),
    };
    let width = style.url_width;
    let line = format!("{url:<width$}  {start}{status:<STATUS_COLUMN$}{end}  {elapsed:>8}");
    let _ = writeln!(out, "{}", line.trim_end());
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
fn jsonl(out: &mut String, checked: &Checked, verdict: Verdict) {
    let target = &checked.target;
    let response = checked.outcome.as_ref().ok();
    let record = json!({
        "input": target.input,
        "source": target.source.to_string(),
        "url": target.url.as_ref().ok().map(|u| u.as_str()),
        "ok": verdict == Verdict::Ok,
        "code": response.map(|r| r.code),
        "reason": response.map(|r| r.reason.as_str()),
        "http_version": response.map(|r| r.version.number()),
        "elapsed_ms": elapsed_ms(checked),
        "error": checked.outcome.as_ref().err().map(|e| json!({
            "kind": e.kind().as_str(),
            "message": e.to_string(),
        })),
    });
    let _ = writeln!(out, "{record}");
}

/// RFC 4180: CRLF line ends, fields quoted when they hold a comma, a quote or
/// a line break, quotes doubled. Same fields as JSON, error split in two.
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
        if field.contains([',', '"', '\r', '\n']) {
            let _ = write!(out, "\"{}\"", field.replace('"', "\"\""));
        } else {
            out.push_str(field);
        }
    }
    out.push_str("\r\n");
}

/// A row of a Markdown table, for pasting into an issue or a CI summary.
fn markdown(out: &mut String, checked: &Checked) {
    let cell = |text: &str| sanitize(text).replace('|', "\\|");
    let url = cell(shown_url(checked));
    let status = cell(&status_text(checked));
    let _ = writeln!(out, "| {url} | {status} | {} |", human_elapsed(checked));
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

pub fn human_duration(elapsed: Duration) -> String {
    let ms = elapsed.as_secs_f64() * 1000.0;
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

/// Escapes control characters so that nothing a server or an input file
/// holds can move the cursor, change colours or break a TSV row.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut clean = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            clean.extend(c.escape_default());
        } else {
            clean.push(c);
        }
    }
    Cow::Owned(clean)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{parse_url, Source, Target};
    use crate::outcome::{CheckError, HttpVersion, OkCodes, Phase, Response};
    use std::net::SocketAddr;
    use std::sync::Arc;

    fn checked(line: &str, outcome: Result<Response, CheckError>) -> Checked {
        let url = parse_url(line).map_err(|e| format!("invalid URL at list.txt:3: {e}"));
        let source = Source::Line { name: Arc::from("list.txt"), line: 3 };
        let outcome = match &url {
            Err(e) => Err(CheckError::InvalidUrl(e.clone())),
            Ok(_) => outcome,
        };
        let target = Target { index: 0, source, input: line.into(), url };
        Checked { target, outcome, elapsed: Duration::from_micros(12_345) }
    }

    fn ok(code: u16, reason: &str) -> Result<Response, CheckError> {
        Ok(Response { version: HttpVersion::Http11, code, reason: reason.into() })
    }

    fn refused() -> Result<Response, CheckError> {
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        Err(CheckError::Connect { addr, reason: "connection refused".into() })
    }

    fn render_with(format: Format, color: bool, c: &Checked) -> String {
        let mut out = String::new();
        let verdict = OkCodes::default().verdict(&c.outcome);
        record(&mut out, format, Style { color, url_width: 40 }, c, verdict);
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
            "elapsed_ms": 12.345, "error": null});
        assert_eq!(record, expected);
        let keys: Vec<&String> = record.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["input", "source", "url", "ok", "code", "reason", "http_version", "elapsed_ms", "error"]);
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
    fn sanitize_escapes_controls_only() {
        assert_eq!(sanitize("caf\u{e9} ok"), "caf\u{e9} ok");
        assert_eq!(sanitize("a\tb\r\n\x1b[0m\0"), "a\\tb\\r\\n\\u{1b}[0m\\u{0}");
    }
}
