//! The output formats, each a file of its own behind [`Export`]: one result
//! → one record, pure functions of a result, tested without a network
//! (`tests.rs`). A new format is a file here, a variant of [`Format`] and a
//! line in [`exporter`]. What the formats share (the URL shown, the status
//! text, the notes, [`sanitize`]) is here.

mod csv;
mod html;
mod json;
mod junit;
pub(crate) mod markdown;
mod prometheus;
#[cfg(test)]
mod tests;
mod text;
mod tsv;

use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::Duration;

use clap::ValueEnum;
use statuscheck::result::{date, unix_now};
use statuscheck::{Certificate, ErrorKind, Expectation, State, Verdict};
use url::Url;

use crate::app::input::Checked;

pub use html::{Page, PageOptions, UP_ROWS};

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
    /// JUnit XML: a test suite per file, a test case per URL, written at the end
    Junit,
    /// One self-contained HTML page (counts, latency chart, a sortable table), written at the end
    Html,
}

/// One output format.
pub trait Export {
    /// What goes before the first record, with its line ends.
    fn header(&self) -> Option<&'static str> {
        None
    }

    /// Appends one result, with its line end (or keeps it, for a format
    /// written at the end).
    fn record(&mut self, out: &mut String, style: Style, checked: &Checked, judged: Judged);

    /// What a format that groups its records writes after the last one.
    fn end(&mut self) -> Option<String> {
        None
    }

    /// A format written at the end that can be large (JUnit): appends the
    /// next part of it to `out`; whether more is to come. The caller hands
    /// each part to stdout before asking for the next, so memory stays
    /// bounded by a part, however long the list.
    fn end_part(&mut self, _out: &mut String) -> std::io::Result<bool> {
        Ok(false)
    }

    /// `--watch`: a new round starts.
    fn next_round(&mut self) {}

    /// Whether the format shows the server's certificates (parsing them is
    /// work on every https check, so it is done only when asked for).
    fn shows_certificates(&self) -> bool {
        false
    }
}

/// The one place a format is picked from the `--format` value.
pub fn exporter(format: Format) -> Box<dyn Export + Send> {
    match format {
        Format::Text => Box::new(text::Text),
        Format::Tsv => Box::new(tsv::Tsv),
        Format::Json => Box::new(json::Json),
        Format::Csv => Box::new(csv::Csv),
        Format::Markdown => Box::new(markdown::Markdown),
        Format::Prometheus => Box::new(prometheus::Metrics::default()),
        Format::Junit => Box::new(junit::Junit::default()),
        Format::Html => Box::new(html::Html),
    }
}

/// Layout of the text format, learnt from the URLs seen so far.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub color: bool,
    pub url_width: usize,
    pub verbose: bool,
    /// `--watch`: text lines start with the time, JSON gets `checked_at`.
    pub timestamp: bool,
}

/// How the policy judged a result, as the formats show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Judged {
    pub verdict: Verdict,
    pub state: State,
    /// The certificate expires within `--cert-expiry` days.
    pub expiring: bool,
}

impl Judged {
    /// What the engine's judgement of `checked` comes to.
    pub fn of(checked: &Checked) -> Judged {
        let expiring = checked.unmet.iter().any(|unmet| unmet.kind == Expectation::Certificate);
        Judged { verdict: checked.verdict(), state: checked.state, expiring }
    }
}

/// The status line as received, or `error <kind>: <message>`, escaped.
pub fn status_text(checked: &Checked) -> String {
    match &checked.outcome {
        Ok(response) => sanitize(&response.to_string()).into_owned(),
        Err(error) => format!("error {}: {}", error.kind(), sanitize(&crate::app::flags::message(error))),
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
pub(crate) fn elapsed_ms(checked: &Checked) -> Option<f64> {
    checked.target.url.as_ref().ok()?;
    Some((checked.elapsed.as_secs_f64() * 1e6).round() / 1e3)
}

/// `12 ms`, `1.42 s`; empty for lines never checked.
pub(super) fn human_elapsed(checked: &Checked) -> String {
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

/// The expectations `checked` did not meet, as `expect, got …` joined by
/// `; `, escaped (`got` may be server text); empty when all were met.
pub(super) fn unmet_text(checked: &Checked) -> String {
    let unmet = checked.unmet.iter().map(|u| format!("{}, got {}", u.expect, u.got));
    sanitize(&unmet.collect::<Vec<_>>().join("; ")).into_owned()
}

/// `[degraded: latency at most 500ms, got 812ms]`, `[down: status 200, got
/// 404]`: a state other than up, with why. `None` for up, and for a result
/// that is down with nothing unmet: its error says why.
pub(super) fn state_note(checked: &Checked, judged: Judged) -> Option<String> {
    let unmet = unmet_text(checked);
    match judged.state {
        State::Up => None,
        State::Down if unmet.is_empty() => None,
        state if unmet.is_empty() => Some(format!("[{state}]")),
        state => Some(format!("[{state}: {unmet}]")),
    }
}

/// What a result adds to its status line, in words.
pub(super) fn notes(checked: &Checked, judged: Judged) -> Vec<String> {
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
    if judged.state == State::Unknown {
        notes.push("[unknown: every --canary failed]".into());
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
