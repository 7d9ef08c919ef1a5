//! Results → bytes: one record per check in the chosen format, the summary on
//! stderr, and messages to the user. Formatting is a pure function of a
//! result, so every format is tested without a network; a new format is a new
//! arm in [`format_record`] and a variant of [`Format`].

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::time::Duration;

use serde_json::json;

use crate::cli::Format;
use crate::outcome::{Checked, OkCodes, Verdict};

/// Where the URL column of the text format ends (longer URLs push the rest).
const URL_COLUMN: usize = 40;
/// Width of the status column of the text format.
const STATUS_COLUMN: usize = 24;

/// Writes results as they come and keeps the tally for the summary.
pub struct Report<W: Write> {
    out: W,
    format: Format,
    color: bool,
    ok_codes: OkCodes,
    line: String,
    pub summary: Summary,
}

impl<W: Write> Report<W> {
    pub fn new(out: W, format: Format, color: bool, ok_codes: OkCodes) -> Self {
        Report {
            out,
            format,
            color,
            ok_codes,
            line: String::with_capacity(256),
            summary: Summary::default(),
        }
    }

    /// Formats and writes one result. Output is buffered: the runner calls
    /// [`Report::flush`] whenever it is about to wait.
    pub fn emit(&mut self, checked: &Checked) -> io::Result<()> {
        let verdict = self.ok_codes.verdict(&checked.outcome);
        self.summary.add(verdict);
        self.line.clear();
        format_record(&mut self.line, self.format, self.color, checked, verdict);
        self.out.write_all(self.line.as_bytes())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Appends one result, with its line end, in `format`.
pub fn format_record(
    out: &mut String,
    format: Format,
    color: bool,
    checked: &Checked,
    verdict: Verdict,
) {
    match format {
        Format::Text => text(out, color, checked),
        Format::Tsv => tsv(out, checked),
        Format::Json => jsonl(out, checked, verdict),
    }
}

/// `https://example.com/   HTTP/1.1 200 OK   123 ms`
fn text(out: &mut String, color: bool, checked: &Checked) {
    let shown_url = sanitize(shown_url(checked));
    let status = match &checked.outcome {
        Ok(response) => sanitize(&response.to_string()).into_owned(),
        Err(error) => format!("error {}: {}", error.kind(), sanitize(&error.to_string())),
    };
    let elapsed = match &checked.outcome {
        Err(e) if e.kind() == crate::outcome::ErrorKind::InvalidUrl => String::new(),
        _ => human_elapsed(checked.elapsed),
    };
    let (start, end) = match (color, &checked.outcome) {
        (false, _) => ("", ""),
        (true, Ok(response)) => (class_color(response.code), "\x1b[0m"),
        (true, Err(_)) => ("\x1b[31m", "\x1b[0m"),
    };
    let _ = writeln!(
        out,
        "{shown_url:<URL_COLUMN$}  {start}{status:<STATUS_COLUMN$}{end}  {elapsed:>8}"
    );
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
        Ok(r) => (
            r.code.to_string(),
            sanitize(&r.reason).into_owned(),
            String::new(),
        ),
        Err(e) => (
            String::new(),
            String::new(),
            format!("{}: {}", e.kind(), sanitize(&e.to_string())),
        ),
    };
    let elapsed = elapsed_ms(checked)
        .map(|ms| format!("{ms:.3}"))
        .unwrap_or_default();
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

/// The URL as checked, or the line as written when it is not a URL.
fn shown_url(checked: &Checked) -> &str {
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

fn human_elapsed(elapsed: Duration) -> String {
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

/// The tally behind the summary line and the exit status.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub ok: u64,
    pub failed: u64,
    pub errors: u64,
}

impl Summary {
    fn add(&mut self, verdict: Verdict) {
        match verdict {
            Verdict::Ok => self.ok += 1,
            Verdict::Failed => self.failed += 1,
            Verdict::Error => self.errors += 1,
        }
    }

    pub fn checked(&self) -> u64 {
        self.ok + self.failed + self.errors
    }

    pub fn all_ok(&self) -> bool {
        self.failed == 0 && self.errors == 0
    }

    /// `10 checked: 8 ok, 1 failed, 1 error in 1.42s`
    pub fn line(&self, elapsed: Duration) -> String {
        let errors = if self.errors == 1 { "error" } else { "errors" };
        format!(
            "{} checked: {} ok, {} failed, {} {errors} in {:.2}s",
            self.checked(),
            self.ok,
            self.failed,
            self.errors,
            elapsed.as_secs_f64()
        )
    }
}

/// A message for the user on stderr, named as ours. A closed stderr is
/// ignored: there is nowhere left to complain to.
pub fn message(text: &str) {
    note(&format!("statuscheck: {text}"));
}

/// A line on stderr as it is (the summary).
pub fn note(text: &str) {
    let _ = writeln!(io::stderr().lock(), "{}", sanitize(text));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{parse_url, Source, Target};
    use crate::outcome::{CheckError, HttpVersion, Phase, Response};
    use std::net::SocketAddr;
    use std::sync::Arc;

    fn checked(line: &str, outcome: Result<Response, CheckError>) -> Checked {
        let url = parse_url(line).map_err(|e| format!("invalid URL at list.txt:3: {e}"));
        let source = Source::Line {
            name: Arc::from("list.txt"),
            line: 3,
        };
        let outcome = match &url {
            Err(e) => Err(CheckError::InvalidUrl(e.clone())),
            Ok(_) => outcome,
        };
        Checked {
            target: Target {
                index: 0,
                source,
                input: line.into(),
                url,
            },
            outcome,
            elapsed: Duration::from_micros(12_345),
        }
    }

    fn ok(code: u16, reason: &str) -> Result<Response, CheckError> {
        Ok(Response {
            version: HttpVersion::Http11,
            code,
            reason: reason.into(),
        })
    }

    fn refused() -> Result<Response, CheckError> {
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        Err(CheckError::Connect {
            addr,
            reason: "connection refused".into(),
        })
    }

    fn render(format: Format, color: bool, c: &Checked) -> String {
        let mut out = String::new();
        let verdict = OkCodes::default().verdict(&c.outcome);
        format_record(&mut out, format, color, c, verdict);
        out
    }

    #[test]
    fn text_shows_status_line_and_time() {
        let line = render(
            Format::Text,
            false,
            &checked("https://a.test/", ok(200, "OK")),
        );
        assert_eq!(
            line,
            format!(
                "{:<40}  {:<24}  {:>8}\n",
                "https://a.test/", "HTTP/1.1 200 OK", "12 ms"
            )
        );
        let line = render(Format::Text, false, &checked("http://b.test/", refused()));
        assert!(
            line.contains("error connect: connection refused (127.0.0.1:9)"),
            "{line}"
        );
    }

    #[test]
    fn text_colours_by_class_only_when_asked() {
        assert!(
            render(Format::Text, true, &checked("a.test", ok(200, "OK")))
                .contains("\x1b[32mHTTP/1.1 200 OK")
        );
        assert!(
            render(Format::Text, true, &checked("a.test", ok(404, "Not Found")))
                .contains("\x1b[33m")
        );
        assert!(render(Format::Text, true, &checked("a.test", refused())).contains("\x1b[31merror"));
        assert!(!render(Format::Text, false, &checked("a.test", refused())).contains('\x1b'));
    }

    #[test]
    fn tsv_has_five_fields_and_no_stray_tabs() {
        let line = render(
            Format::Tsv,
            false,
            &checked("https://a.test/", ok(301, "Moved\tPermanently")),
        );
        assert_eq!(
            line,
            "https://a.test/\t301\tMoved\\tPermanently\t12.345\t\n"
        );
        let line = render(Format::Tsv, false, &checked("ftp://x/\x1b[2J", ok(200, "")));
        let fields: Vec<&str> = line.trim_end_matches('\n').split('\t').collect();
        assert_eq!(fields.len(), 5);
        assert_eq!(fields[0], "ftp://x/\\u{1b}[2J");
        assert_eq!((fields[1], fields[3]), ("", ""));
        assert!(fields[4].starts_with("invalid-url: invalid URL at list.txt:3: scheme 'ftp'"));
    }

    #[test]
    fn json_carries_every_documented_field() {
        let record: serde_json::Value = serde_json::from_str(&render(
            Format::Json,
            false,
            &checked("a.test/x", ok(404, "Not Found")),
        ))
        .unwrap();
        assert_eq!(
            record,
            json!({"input": "a.test/x", "source": "list.txt:3", "url": "https://a.test/x", "ok": false,
                   "code": 404, "reason": "Not Found", "http_version": "1.1", "elapsed_ms": 12.345, "error": null})
        );
        let record: serde_json::Value =
            serde_json::from_str(&render(Format::Json, false, &checked("a.test", refused())))
                .unwrap();
        assert_eq!(
            record["error"],
            json!({"kind": "connect", "message": "connection refused (127.0.0.1:9)"})
        );
        assert_eq!(
            (record["ok"].as_bool(), record["code"].is_null()),
            (Some(false), true)
        );
        let invalid: serde_json::Value = serde_json::from_str(&render(
            Format::Json,
            false,
            &checked("ftp://x/", ok(200, "")),
        ))
        .unwrap();
        assert_eq!(
            (invalid["url"].is_null(), invalid["elapsed_ms"].is_null()),
            (true, true)
        );
        assert_eq!(invalid["error"]["kind"], "invalid-url");
    }

    #[test]
    fn timeouts_read_well_in_every_format() {
        let timeout = Err(CheckError::Timeout {
            phase: Phase::Read,
            limit: Duration::from_secs(10),
        });
        let c = checked("a.test", timeout);
        assert!(render(Format::Text, false, &c).contains("error timeout: no status line after 10s"));
        assert!(render(Format::Tsv, false, &c).ends_with("\ttimeout: no status line after 10s\n"));
    }

    #[test]
    fn summary_counts_and_words() {
        let mut s = Summary::default();
        for v in [Verdict::Ok, Verdict::Ok, Verdict::Failed, Verdict::Error] {
            s.add(v);
        }
        assert_eq!(
            s.line(Duration::from_millis(1420)),
            "4 checked: 2 ok, 1 failed, 1 error in 1.42s"
        );
        assert!(!s.all_ok());
        assert!(Summary::default().all_ok());
    }

    #[test]
    fn sanitize_escapes_controls_only() {
        assert_eq!(sanitize("caf\u{e9} ok"), "caf\u{e9} ok");
        assert_eq!(sanitize("a\tb\r\n\x1b[0m\0"), "a\\tb\\r\\n\\u{1b}[0m\\u{0}");
    }
}
