//! The formats, each tested on results made by hand.

use super::prometheus::{label_value, Metrics};
use super::*;
use crate::app::input::{parse_url, Source, Target};
use serde_json::json;
use statuscheck::result::{date, unix_now};
use statuscheck::Certificate;
use statuscheck::{CheckError, HttpVersion, Phase, Policy, Response};
use std::net::SocketAddr;
use std::sync::Arc;

fn header(format: Format) -> Option<&'static str> {
    exporter(format).header()
}

fn record(out: &mut String, format: Format, style: Style, checked: &Checked, judged: Judged) {
    exporter(format).record(out, style, checked, judged);
}

fn checked(line: &str, outcome: Result<Response, CheckError>) -> Checked {
    let url = parse_url(line).map_err(|e| format!("invalid URL at list.txt:3: {e}"));
    let source = Source::Line { name: Arc::from("list.txt"), line: 3 };
    let outcome = match &url {
        Err(e) => Err(CheckError::InvalidUrl(e.clone())),
        Ok(_) => outcome,
    };
    let target = Target::plain(source, line.into(), url);
    let mut checked = Checked::invalid(target, "");
    checked.outcome = outcome;
    checked.elapsed = Duration::from_micros(12_345);
    checked.attempts = 1;
    (checked.state, checked.unmet) = Policy::default().judge(&checked, Vec::new());
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
    let style = Style { color, url_width: 40, verbose: false, timestamp: false };
    record(&mut out, format, style, c, Judged::of(c));
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
fn tsv_has_seven_fields_and_no_stray_tabs() {
    let line = render(Format::Tsv, &checked("https://a.test/", ok(301, "Moved\tPermanently")));
    assert_eq!(line, "https://a.test/\t301\tMoved\\tPermanently\t12.345\t\tup\t\n");
    let line = render(Format::Tsv, &checked("ftp://x/\x1b[2J", ok(200, "")));
    let fields: Vec<&str> = line.trim_end_matches('\n').split('\t').collect();
    assert_eq!(fields.len(), 7);
    assert_eq!((fields[5], fields[6]), ("down", ""), "an error is down; the error says why");
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
        "tls": null, "attempts": 1, "state": "down",
        "unmet": [{"kind": "status", "expect": "status 100-399", "got": "404"}], "name": null, "group": null});
    assert_eq!(record, expected);
    let keys: Vec<&String> = record.as_object().unwrap().keys().collect();
    assert_eq!(keys[..9], ["input", "source", "url", "ok", "code", "reason", "http_version", "elapsed_ms", "error"]);
    let record = parse(&checked("a.test", refused()));
    assert_eq!(
        record["error"],
        json!({"kind": "connect", "cause": null, "message": "connection refused (127.0.0.1:9)"})
    );
    let mut expired = checked("a.test", refused());
    expired.outcome = Err(statuscheck::CheckError::tls(statuscheck::TlsCause::Expired, "certificate expired"));
    assert_eq!(parse(&expired)["error"], json!({"kind": "tls", "cause": "expired", "message": "certificate expired"}));
    assert_eq!((record["ok"].as_bool(), record["code"].is_null()), (Some(false), true));
    let invalid = parse(&checked("ftp://x/", ok(200, "")));
    assert_eq!((invalid["url"].is_null(), invalid["elapsed_ms"].is_null()), (true, true));
    assert_eq!(invalid["error"]["kind"], "invalid-url");
}

#[test]
fn csv_quotes_per_rfc_4180() {
    assert_eq!(header(Format::Csv).unwrap().split(',').count(), 14);
    assert!(header(Format::Csv).unwrap().ends_with("error_message,state,unmet,name,group\r\n"));
    let line = render(Format::Csv, &checked("https://a.test/?q=1,2", ok(200, "Say \"hi\"")));
    assert_eq!(
        line,
        "\"https://a.test/?q=1,2\",list.txt:3,\"https://a.test/?q=1,2\",true,200,\"Say \"\"hi\"\"\",1.1,12.345,,,up,,,\r\n"
    );
    let line = render(Format::Csv, &checked("a.test", refused()));
    assert!(line.ends_with(",false,,,,12.345,connect,connection refused (127.0.0.1:9),down,,,\r\n"), "{line}");
}

#[test]
fn prometheus_groups_series_by_metric() {
    let mut metrics = Metrics::default();
    let judged = Judged::of;
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
    let judged = Judged { verdict: Verdict::Failed, state: State::Down, expiring: true };
    let mut out = String::new();
    record(&mut out, Format::Json, Style { color: false, url_width: 40, verbose: false, timestamp: false }, &c, judged);
    let tls: serde_json::Value = serde_json::from_str::<serde_json::Value>(&out).unwrap()["tls"].clone();
    assert_eq!((tls["subject"].as_str(), tls["days_left"].as_i64()), (Some("CN=a.test"), Some(5)));
    assert_eq!(tls["not_after"], date(leaf.not_after));
    assert_eq!(
        tls["earliest_expiry"],
        json!({"subject": intermediate.subject, "not_after": date(intermediate.not_after)})
    );
    let mut text = String::new();
    record(&mut text, Format::Text, Style { color: false, url_width: 40, verbose: true, timestamp: false }, &c, judged);
    assert!(text.contains("[intermediate certificate CN=I\\u{1b}[2J expires in 5 days]"), "{text}");
    assert!(text.contains("certificate CN=a.test (issuer CN=I) expires "), "{text}");
    assert!(text.contains("intermediate CN=I\\u{1b}[2J expires "), "{text}");
    assert!(!text.contains('\x1b'), "{text}");
    let mut metrics = Metrics::default();
    metrics.add(&c, judged);
    let expected = format!("probe_ssl_earliest_cert_expiry{{url=\"https://a.test/\"}} {}\n", intermediate.not_after);
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
    assert!(header(Format::Markdown).unwrap().starts_with("| URL | Status | Time | State |\n|---|"));
    let line = render(Format::Markdown, &checked("https://a.test/", ok(200, "a|b")));
    assert_eq!(line, "| https://a.test/ | ` HTTP/1.1 200 a\\|b ` | 12 ms | ` up ` |\n");
}

#[test]
fn timeouts_read_well_in_every_format() {
    let timeout = Err(CheckError::Timeout { phase: Phase::Read, limit: Duration::from_secs(10) });
    let c = checked("a.test", timeout);
    assert!(render(Format::Text, &c).contains("error timeout: no status line after 10s"));
    assert!(render(Format::Tsv, &c).ends_with("\ttimeout: no status line after 10s\tdown\t\n"));
    assert!(render(Format::Markdown, &c).contains("| ` error timeout: no status line after 10s ` |"));
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
    // Server text is one code span (rendered by cmark-gfm in tests/reports.rs).
    let reason = "![x](https://evil.test/t.png) <img src=x> `c` ``d`` phish@evil.test a|b \\";
    let line = render(Format::Markdown, &checked("https://a.test/", ok(200, reason)));
    let code = "``` HTTP/1.1 200 ![x](https://evil.test/t.png) <img src=x> `c` ``d`` phish@evil.test a\\|b \\ ```";
    assert_eq!(line, format!("| https://a.test/ | {code} | 12 ms | ` up ` |\n"));
    let line = render(Format::Markdown, &checked("https://a.test/a_b?c=1&d=2", ok(200, "OK")));
    assert!(line.starts_with("| https://a.test/a\\_b?c=1&amp;d=2 |"), "{line}");
    let line = render(Format::Markdown, &checked("https://a.test/", ok(200, "`x\r\n")));
    assert!(line.contains("| `` HTTP/1.1 200 `x\\r\\n `` |"), "a backtick and controls: {line}");
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
    let judged = Judged::of;
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

/// A result judged by `policy`, with what the engine found in the content.
fn judged_by(
    policy: &Policy,
    line: &str,
    outcome: Result<Response, CheckError>,
    content: Vec<statuscheck::Unmet>,
) -> Checked {
    let mut c = checked(line, outcome);
    (c.state, c.unmet) = policy.judge(&c, content);
    c
}

#[test]
fn every_format_shows_the_state_and_what_was_unmet() {
    use statuscheck::{Expectation, Unmet};
    let slow = Policy::default().degraded_after(Some(Duration::from_millis(10)));
    let degraded = judged_by(&slow, "https://a.test/", ok(200, "OK"), vec![]);
    let server_text = Unmet::new(Expectation::Header, "header server = nginx", "evil\x1b[2J\tx");
    let down =
        judged_by(&Policy::new("200".parse().unwrap()), "https://b.test/", ok(404, "Not Found"), vec![server_text]);
    let note = "[degraded: latency at most 10ms, got 12ms]";
    assert!(render(Format::Text, &degraded).trim_end().ends_with(note), "{}", render(Format::Text, &degraded));
    assert!(render_with(Format::Text, true, &degraded).contains(&format!("\x1b[33m{note}\x1b[0m")));
    let text = render_with(Format::Text, true, &down);
    let why = "status 200, got 404; header server = nginx, got evil\\u{1b}[2J\\tx";
    assert!(text.contains(&format!("\x1b[31m[down: {why}]\x1b[0m")), "{text:?}");
    assert_eq!(text.matches('\x1b').count(), 4, "only our own colours: {text:?}");
    let tsv = render(Format::Tsv, &down);
    assert!(tsv.ends_with(&format!("\tdown\t{why}\n")), "{tsv:?}");
    assert_eq!(tsv.matches('\t').count(), 6);
    assert!(render(Format::Csv, &degraded).ends_with(",degraded,\"latency at most 10ms, got 12ms\",,\r\n"));
    let md = render(Format::Markdown, &down);
    assert!(md.ends_with("| ` down: status 200, got 404; header server = nginx, got evil\\u{1b}[2J\\tx ` |\n"), "{md}");
    let mut metrics = Metrics::default();
    metrics.add(&degraded, Judged::of(&degraded));
    metrics.add(&down, Judged::of(&down));
    let text = metrics.text();
    for series in [
        "statuscheck_state{url=\"https://a.test/\",state=\"degraded\"} 1",
        "statuscheck_state{url=\"https://a.test/\",state=\"up\"} 0",
        "statuscheck_state{url=\"https://b.test/\",state=\"down\"} 1",
        "probe_success{url=\"https://a.test/\"} 1",
        "probe_success{url=\"https://b.test/\"} 0",
    ] {
        assert!(text.contains(series), "{series} in\n{text}");
    }
}

#[test]
fn csv_carries_name_and_group() {
    use crate::app::input::Entry;
    let mut c = checked("https://a.test/", ok(200, "OK"));
    c.target.entry = Some(Arc::new(Entry { name: Some("=API".into()), group: Some("web, api".into()), profile: None }));
    assert!(render(Format::Csv, &c).ends_with(",up,,\"'=API\",\"web, api\"\r\n"), "{}", render(Format::Csv, &c));
}
