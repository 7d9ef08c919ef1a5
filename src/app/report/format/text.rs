//! The text format: aligned columns for people, colour by status class,
//! and with `-v` a second line with the trace.

use std::fmt::Write as _;

use statuscheck::result::{date, unix_now};

use statuscheck::State;

use super::{
    human_duration, human_elapsed, notes, sanitize, shown_url, state_note, status_text, timestamp, Export, Judged,
    Style,
};
use crate::app::input::Checked;

/// Width of the status column of the text format: fits
/// `HTTP/1.1 503 Service Unavailable`.
const STATUS_COLUMN: usize = 32;

/// Aligned columns for people.
pub struct Text;

impl Export for Text {
    fn record(&mut self, out: &mut String, style: Style, checked: &Checked, judged: Judged) {
        text(out, style, checked, judged);
    }
}

/// `https://example.com/   HTTP/1.1 200 OK   123 ms`, then what the head
/// added (`→ location`, the redirect chain, a block, an expiring
/// certificate), a state other than up with why (`[degraded: …]`, yellow;
/// `[down: …]`, red), and with `-v` a line of trace.
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
    let mut notes = notes(checked, judged);
    if let Some(note) = state_note(checked, judged) {
        let (start, end) = match (style.color, judged.state) {
            (true, State::Degraded) => ("\x1b[33m", "\x1b[0m"),
            (true, State::Down) => ("\x1b[31m", "\x1b[0m"),
            _ => ("", ""),
        };
        notes.push(format!("{start}{note}{end}"));
    }
    let notes = notes.join("  ");
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
