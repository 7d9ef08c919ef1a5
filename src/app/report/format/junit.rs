//! The JUnit XML format, for the test report pages of Jenkins, GitLab and
//! GitHub: a list of URLs read as a test suite. One `<testsuite>` per input
//! file (per group, for checks-file lines that have one), one `<testcase>`
//! per line: `<failure>` for an answer that is down, `<error>` for a check
//! that ended in an error (invalid lines too), `<skipped>` for `unknown`
//! (an inconclusive run). The schema it is tested against is the one
//! Jenkins' xUnit plugin validates JUnit files with (tests/junit/).
//!
//! The suites' counts come first in the document, so it is written at the
//! end: each result goes to a [`Spool`] (a temporary file) as it comes, and
//! only the per-suite counts stay in memory. The first [`OWN_SPOOLS`] suites
//! get a spool each, read once at the end; the suites after them (a checks
//! file with many groups) share one, read once per suite. The document is
//! handed to stdout a part at a time.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;

use super::{sanitize, Export, Judged, Style};
use crate::app::input::Checked;
use crate::app::report::spool::{Reader, Row, Spool};

/// The text handed to stdout at a time while the document is written.
const PART: usize = 64 * 1024;

/// Suites with a spool (a temporary file, one descriptor) of their own: few,
/// as the descriptors kept free for other uses than checks are (`fdlimit`).
const OWN_SPOOLS: usize = 8;

/// The suite of lines given with `--url` (they have no file).
const ARGUMENTS: &str = "--url";

/// The JUnit format: rows spooled, counts kept, the document written at the end.
#[derive(Default)]
pub struct Junit {
    /// The suites' spools: one each for the first [`OWN_SPOOLS`], then one shared.
    spools: Vec<Spool>,
    /// The first error writing the spool: the document would miss rows, so
    /// the run ends with it instead of writing one.
    failed: Option<io::Error>,
    suites: Vec<Suite>,
    index: HashMap<Key, usize>,
    writing: Writing,
}

/// Which suite a row belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Group(String),
    File(Option<String>),
}

impl Key {
    fn of(row: &Row) -> Key {
        match &row.group {
            Some(group) => Key::Group(group.clone()),
            None => Key::File(row.file.clone()),
        }
    }

    fn name(&self) -> &str {
        match self {
            Key::Group(group) => group,
            Key::File(file) => file.as_deref().unwrap_or(ARGUMENTS),
        }
    }
}

/// One `<testsuite>`'s counts.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Counts {
    tests: u64,
    failures: u64,
    errors: u64,
    skipped: u64,
    seconds: f64,
}

struct Suite {
    key: Key,
    counts: Counts,
    /// Its rows' spool, in `spools`.
    spool: usize,
}

/// What a test case came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Passed,
    Failure,
    Error,
    Skipped,
}

impl Outcome {
    fn of(row: &Row) -> Outcome {
        match (row.state.as_str(), &row.error_kind) {
            ("unknown", _) => Outcome::Skipped,
            (_, Some(_)) => Outcome::Error,
            ("down", None) => Outcome::Failure,
            _ => Outcome::Passed,
        }
    }
}

/// Where the writing of the document is.
#[derive(Default)]
enum Writing {
    #[default]
    NotStarted,
    /// The rows of suite `suite`, read from `rows`.
    Suite {
        suite: usize,
        rows: Reader,
    },
    Done,
}

impl Counts {
    fn add(&mut self, row: &Row) {
        self.tests += 1;
        self.seconds += seconds(row);
        match Outcome::of(row) {
            Outcome::Passed => {}
            Outcome::Failure => self.failures += 1,
            Outcome::Error => self.errors += 1,
            Outcome::Skipped => self.skipped += 1,
        }
    }

    fn sum<'a>(all: impl Iterator<Item = &'a Counts>) -> Counts {
        all.fold(Counts::default(), |mut sum, c| {
            sum.tests += c.tests;
            sum.failures += c.failures;
            sum.errors += c.errors;
            sum.skipped += c.skipped;
            sum.seconds += c.seconds;
            sum
        })
    }
}

impl Export for Junit {
    fn record(&mut self, _: &mut String, _: Style, checked: &Checked, judged: Judged) {
        if self.failed.is_none() {
            if let Err(error) = self.push(&Row::of(checked, judged)) {
                self.failed = Some(error);
            }
        }
    }

    fn end_part(&mut self, out: &mut String) -> io::Result<bool> {
        if let Some(error) = self.failed.take() {
            self.writing = Writing::Done;
            return Err(io::Error::new(error.kind(), format!("keeping results for the JUnit report: {error}")));
        }
        while out.len() < PART {
            if !self.step(out)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

impl Junit {
    fn push(&mut self, row: &Row) -> io::Result<()> {
        let key = Key::of(row);
        let index = match self.index.get(&key) {
            Some(index) => *index,
            None => self.new_suite(key)?,
        };
        let suite = &mut self.suites[index];
        self.spools[suite.spool].push(row)?;
        suite.counts.add(row);
        Ok(())
    }

    /// A suite seen for the first time, with its own spool while there are
    /// fewer than [`OWN_SPOOLS`], else the shared one after them.
    fn new_suite(&mut self, key: Key) -> io::Result<usize> {
        let spool = self.suites.len().min(OWN_SPOOLS);
        if spool == self.spools.len() {
            self.spools.push(Spool::new()?);
        }
        self.index.insert(key.clone(), self.suites.len());
        self.suites.push(Suite { key, counts: Counts::default(), spool });
        Ok(self.suites.len() - 1)
    }

    /// Writes the next piece of the document: a suite's opening, a test
    /// case, or a suite's end. Whether there is more.
    fn step(&mut self, out: &mut String) -> io::Result<bool> {
        match &mut self.writing {
            Writing::NotStarted => {
                out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
                let all = Counts::sum(self.suites.iter().map(|s| &s.counts));
                let _ = writeln!(
                    out,
                    "<testsuites name=\"statuscheck\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.3}\">",
                    all.tests, all.failures, all.errors, all.seconds
                );
                self.open_suite(0, out)?;
            }
            Writing::Suite { suite, rows } => {
                let suite = *suite;
                match rows.next() {
                    Some(row) => {
                        let row = row?;
                        if self.index.get(&Key::of(&row)) == Some(&suite) {
                            testcase(out, &row);
                        }
                    }
                    None => {
                        out.push_str("  </testsuite>\n");
                        self.open_suite(suite + 1, out)?;
                    }
                }
            }
            Writing::Done => return Ok(false),
        }
        Ok(true)
    }

    /// Opens suite `suite` and a pass over the rows for it, or ends the
    /// document when there is no such suite.
    fn open_suite(&mut self, suite: usize, out: &mut String) -> io::Result<()> {
        let Some(Suite { key, counts, spool }) = self.suites.get(suite) else {
            out.push_str("</testsuites>\n");
            self.writing = Writing::Done;
            return Ok(());
        };
        let _ = write!(out, "  <testsuite name=\"{}\"", attribute(key.name()));
        if let Key::File(Some(file)) = key {
            let _ = write!(out, " file=\"{}\"", attribute(file));
        }
        let _ = writeln!(
            out,
            " tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
            counts.tests, counts.failures, counts.errors, counts.skipped, counts.seconds
        );
        self.writing = Writing::Suite { suite, rows: self.spools[*spool].reader()? };
        Ok(())
    }
}

/// The check's time in seconds (0 for lines never checked).
fn seconds(row: &Row) -> f64 {
    row.elapsed_ms.unwrap_or(0.0) / 1000.0
}

/// One `<testcase>`: name, the URL or its checks-file name; classname, the
/// file; what went wrong, if anything, as a message and as text.
fn testcase(out: &mut String, row: &Row) {
    let name = row.name.as_deref().unwrap_or(&row.url);
    let classname = row.file.as_deref().unwrap_or(ARGUMENTS);
    let _ = write!(
        out,
        "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\"",
        attribute(name),
        attribute(classname),
        seconds(row)
    );
    let (element, kind, message) = match Outcome::of(row) {
        Outcome::Passed => {
            out.push_str("/>\n");
            return;
        }
        Outcome::Skipped => ("skipped", "unknown", "not judged: the run was inconclusive".to_owned()),
        Outcome::Error => {
            let kind = row.error_kind.as_deref().unwrap_or("error");
            ("error", kind, format!("{kind}: {}", row.error.as_deref().unwrap_or("")))
        }
        Outcome::Failure => ("failure", "down", failure_message(row)),
    };
    let _ = writeln!(
        out,
        ">\n      <{element} type=\"{}\" message=\"{}\">{}</{element}>\n    </testcase>",
        attribute(kind),
        attribute(&message),
        text(&details(row))
    );
}

/// `status: expected status 100-399, got 404; header: …`, or the status
/// line when no expectation says why.
fn failure_message(row: &Row) -> String {
    if row.unmet.is_empty() {
        return format!("down: {}", status(row));
    }
    let unmet: Vec<String> =
        row.unmet.iter().map(|(kind, expect, got)| format!("{kind}: expected {expect}, got {got}")).collect();
    unmet.join("; ")
}

/// `404 Not Found`.
fn status(row: &Row) -> String {
    match (row.code, &row.reason) {
        (Some(code), Some(reason)) => format!("{code} {reason}"),
        (Some(code), None) => code.to_string(),
        _ => String::new(),
    }
}

/// The failure's or error's text: where the line is, the URL, what came.
fn details(row: &Row) -> String {
    let mut lines = Vec::new();
    if let (Some(file), Some(line)) = (&row.file, row.line) {
        lines.push(format!("{file}:{line}"));
    }
    lines.push(format!("url: {}", row.url));
    lines.push(format!("state: {}", row.state));
    if row.code.is_some() {
        lines.push(format!("status: {}", status(row)));
    }
    if let Some(location) = &row.location {
        lines.push(format!("location: {location}"));
    }
    if let Some(error) = &row.error {
        let cause = row.error_cause.as_deref().map(|c| format!(" ({c})")).unwrap_or_default();
        lines.push(format!("error: {}{cause}: {error}", row.error_kind.as_deref().unwrap_or("")));
    }
    for (kind, expect, got) in &row.unmet {
        lines.push(format!("unmet {kind}: expected {expect}, got {got}"));
    }
    lines.iter().map(|line| sanitize(line).into_owned()).collect::<Vec<_>>().join("\n")
}

/// Text for an attribute value: control characters escaped as `\u{…}`
/// ([`sanitize`]: XML 1.0 forbids most of them, and attributes would fold
/// the rest), characters XML 1.0 forbids replaced, markup escaped.
fn attribute(value: &str) -> String {
    escape(&sanitize(value), true)
}

/// Text for element content; the text has its own line ends.
fn text(value: &str) -> String {
    escape(value, false)
}

fn escape(value: &str, quotes: bool) -> String {
    let mut escaped = String::with_capacity(value.len() + 16);
    for c in value.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            // Always, so that `]]>` never appears.
            '>' => escaped.push_str("&gt;"),
            '"' if quotes => escaped.push_str("&quot;"),
            '\'' if quotes => escaped.push_str("&apos;"),
            '\t' | '\n' if !quotes => escaped.push(c),
            c if xml_char(c) => escaped.push(c),
            _ => escaped.push('\u{FFFD}'),
        }
    }
    escaped
}

/// XML 1.0's `Char`: tab, line feed, carriage return, and U+0020 on, less
/// the surrogates (no `char` is one) and U+FFFE, U+FFFF.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(url: &str, file: &str, state: &str) -> Row {
        Row {
            url: url.into(),
            file: Some(file.into()),
            line: Some(3),
            state: state.into(),
            elapsed_ms: Some(12.0),
            ..Row::default()
        }
    }

    fn document(junit: &mut Junit) -> String {
        let mut all = String::new();
        loop {
            let mut part = String::new();
            let more = junit.end_part(&mut part).unwrap();
            all.push_str(&part);
            if !more {
                return all;
            }
        }
    }

    #[test]
    fn rows_are_grouped_by_file_and_group_with_counts() {
        let mut junit = Junit::default();
        let mut down = row("https://b.test/", "b.txt", "down");
        down.code = Some(404);
        down.unmet = vec![("status".into(), "status 100-399".into(), "404".into())];
        let mut error = row("https://c.test/", "a.txt", "down");
        error.error_kind = Some("connect".into());
        error.error = Some("connection refused".into());
        let mut grouped = row("https://d.test/", "checks.toml", "unknown");
        grouped.group = Some("api".into());
        grouped.name = Some("the API".into());
        for row in [row("https://a.test/", "a.txt", "up"), down, error, grouped, row("x", "b.txt", "degraded")] {
            junit.push(&row).unwrap();
        }
        let xml = document(&mut junit);
        assert!(
            xml.contains("<testsuites name=\"statuscheck\" tests=\"5\" failures=\"1\" errors=\"1\" time=\"0.060\">")
        );
        let suites: Vec<&str> = xml.lines().filter(|l| l.contains("<testsuite ")).collect();
        assert_eq!(suites.len(), 3, "{xml}");
        assert!(suites[0].contains("name=\"a.txt\" file=\"a.txt\" tests=\"2\" failures=\"0\" errors=\"1\""));
        assert!(suites[1].contains("name=\"b.txt\" file=\"b.txt\" tests=\"2\" failures=\"1\" errors=\"0\""));
        assert!(suites[2].contains("name=\"api\" tests=\"1\" failures=\"0\" errors=\"0\" skipped=\"1\""));
        assert!(xml.contains("<failure type=\"down\" message=\"status: expected status 100-399, got 404\">"));
        assert!(xml.contains("<error type=\"connect\" message=\"connect: connection refused\">a.txt:3\n"));
        assert!(xml.contains("<testcase name=\"the API\" classname=\"checks.toml\" time=\"0.012\">\n      <skipped"));
        let b = xml.find("name=\"b.txt\"").unwrap();
        assert!(xml[b..].find("https://b.test/").unwrap() < xml[b..].find("</testsuite>").unwrap());
        assert!(xml.ends_with("  </testsuite>\n</testsuites>\n"));
    }

    #[test]
    fn suites_past_the_own_spools_share_one_and_keep_their_rows() {
        let mut junit = Junit::default();
        for i in 0..100 {
            for g in 0..OWN_SPOOLS + 4 {
                let mut row = row(&format!("https://a.test/{g}/{i}"), "checks.toml", "up");
                row.group = Some(format!("g{g}"));
                junit.push(&row).unwrap();
            }
        }
        assert_eq!(junit.spools.len(), OWN_SPOOLS + 1);
        let xml = document(&mut junit);
        let suites: Vec<&str> = xml.split("<testsuite ").skip(1).collect();
        assert_eq!(suites.len(), OWN_SPOOLS + 4);
        for (g, suite) in suites.iter().enumerate() {
            assert!(suite.starts_with(&format!("name=\"g{g}\" tests=\"100\"")), "{suite}");
            assert_eq!(suite.matches("<testcase ").count(), 100, "g{g}");
            assert_eq!(suite.matches(&format!("https://a.test/{g}/")).count(), 100, "g{g}");
        }
    }

    #[test]
    fn server_text_cannot_leave_its_attribute_or_element() {
        let mut junit = Junit::default();
        let mut down = row("https://a.test/\"><x>", "a.txt", "down");
        down.code = Some(500);
        down.reason = Some("]]></failure><x a='1'>\u{0}\u{1b}\u{FFFE}\r\n&amp;".into());
        junit.push(&down).unwrap();
        let xml = document(&mut junit);
        assert!(!xml.contains("<x"), "{xml}");
        assert!(!xml.contains("]]>"));
        assert!(xml.contains("\\u{0}\\u{1b}\u{FFFD}\\r\\n&amp;amp;"), "{xml}");
        assert!(!xml.chars().any(|c| !xml_char(c)));
        assert_eq!(xml.matches("</failure>").count(), 1);
    }

    #[test]
    fn an_empty_run_is_an_empty_document_and_parts_stay_small() {
        assert_eq!(
            document(&mut Junit::default()),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <testsuites name=\"statuscheck\" tests=\"0\" failures=\"0\" errors=\"0\" time=\"0.000\">\n</testsuites>\n"
        );
        let mut junit = Junit::default();
        for i in 0..5000 {
            junit.push(&row(&format!("https://a.test/{i}"), "a.txt", "up")).unwrap();
        }
        let mut parts = 0;
        loop {
            let mut part = String::new();
            let more = junit.end_part(&mut part).unwrap();
            assert!(part.len() < PART + 4096, "a part is about {PART} bytes: {}", part.len());
            parts += 1;
            if !more {
                break;
            }
        }
        assert!(parts > 2, "{parts}");
    }
}
