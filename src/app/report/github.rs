//! GitHub Actions: an error annotation on the list's line for each URL that
//! is down, and a Markdown job summary appended to `$GITHUB_STEP_SUMMARY`.
//!
//! Annotations are workflow commands (`::error file=F,line=L,title=T::M`),
//! written to stderr: the runner reads commands from both streams of a
//! `run:` step (actions/runner's `ScriptHandler` gives each an
//! `OutputManager`), and stdout stays the chosen format's alone, so a piped
//! JUnit or JSON is never corrupted. Everything in them is escaped by GitHub's rules
//! ([`data`], [`property`]), after [`sanitize`], so no server text can end
//! a command or start another. GitHub shows at most 10 error annotations
//! per step and a summary of at most 1 MiB: both are capped here, and say
//! how many more there were.

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::PathBuf;

use statuscheck::State;

use super::format::markdown::{code_cell, markdown_cell};
use super::format::sanitize;
use super::spool::{Row, Spool};

/// GitHub shows at most this many error annotations of a step.
pub const ANNOTATIONS: u64 = 10;
/// The largest job summary GitHub takes from a step.
pub const SUMMARY_BYTES: usize = 1 << 20;
/// The slowest URLs listed in the summary.
const SLOWEST: usize = 10;

/// What is kept for GitHub while the run goes: the down rows in a spool,
/// the counts by state and the slowest few, so memory stays flat.
pub struct Github {
    /// `$GITHUB_STEP_SUMMARY`, when set.
    summary: Option<PathBuf>,
    annotated: u64,
    not_annotated: u64,
    states: [u64; State::ALL.len()],
    down: Option<Spool>,
    down_rows: u64,
    spool_failed: Option<io::Error>,
    /// (milliseconds, URL), slowest first.
    slowest: Vec<(f64, String)>,
}

impl Github {
    pub fn new(summary: Option<PathBuf>) -> Github {
        Github {
            summary,
            annotated: 0,
            not_annotated: 0,
            states: [0; State::ALL.len()],
            down: None,
            down_rows: 0,
            spool_failed: None,
            slowest: Vec::new(),
        }
    }

    /// Takes one result; the annotation to write now, if it gets one.
    pub fn add(&mut self, row: Row) -> Option<String> {
        if let Some(i) = State::ALL.iter().position(|s| s.as_str() == row.state) {
            self.states[i] += 1;
        }
        if let Some(ms) = row.elapsed_ms {
            self.note_time(ms, &row.url);
        }
        if row.state != State::Down.as_str() {
            return None;
        }
        let annotation = if self.annotated < ANNOTATIONS {
            self.annotated += 1;
            Some(annotation(&row))
        } else {
            self.not_annotated += 1;
            None
        };
        if self.summary.is_some() {
            self.keep_down(&row);
        }
        annotation
    }

    fn note_time(&mut self, ms: f64, url: &str) {
        if self.slowest.len() == SLOWEST && self.slowest.last().is_some_and(|(last, _)| *last >= ms) {
            return;
        }
        let at = self.slowest.partition_point(|(other, _)| *other >= ms);
        self.slowest.insert(at, (ms, url.to_owned()));
        self.slowest.truncate(SLOWEST);
    }

    fn keep_down(&mut self, row: &Row) {
        if self.spool_failed.is_some() {
            return;
        }
        let pushed = match &mut self.down {
            Some(spool) => spool.push(row),
            None => Spool::new().and_then(|spool| self.down.insert(spool).push(row)),
        };
        match pushed {
            Ok(()) => self.down_rows += 1,
            Err(error) => self.spool_failed = Some(error),
        }
    }

    /// The line that says how many down URLs got no annotation, if any did not.
    pub fn more_line(&self) -> Option<String> {
        (self.not_annotated > 0).then(|| {
            format!(
                "::notice title=statuscheck::{} more down URLs were not annotated (GitHub shows at most {ANNOTATIONS} \
                 error annotations per step){}",
                self.not_annotated,
                if self.summary.is_some() { "; the job summary lists them" } else { "" }
            )
        })
    }

    /// Appends the job summary to `$GITHUB_STEP_SUMMARY`, when it is set.
    pub fn write_summary(&mut self) -> io::Result<()> {
        let Some(path) = self.summary.clone() else { return Ok(()) };
        if let Some(error) = self.spool_failed.take() {
            return Err(error);
        }
        let text = self.summary_text()?;
        let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
        file.write_all(text.as_bytes())
    }

    /// The summary: counts by state, the down URLs, the slowest; at most
    /// [`SUMMARY_BYTES`], saying how many down URLs did not fit.
    fn summary_text(&mut self) -> io::Result<String> {
        let mut head = String::from("## statuscheck\n\n| State | URLs |\n|---|--:|\n");
        for (state, n) in State::ALL.iter().zip(self.states) {
            let _ = writeln!(head, "| {state} | {n} |");
        }
        let mut slowest = String::new();
        if !self.slowest.is_empty() {
            slowest.push_str("\n### Slowest\n\n| URL | Time (ms) |\n|---|--:|\n");
            for (ms, url) in &self.slowest {
                let _ = writeln!(slowest, "| {} | {ms:.1} |", markdown_cell(url));
            }
        }
        // Room for the line that says how many more there were.
        let budget = SUMMARY_BYTES.saturating_sub(head.len() + slowest.len() + 200);
        let mut down = String::new();
        let mut shown = 0;
        if let Some(spool) = &mut self.down {
            let _ =
                write!(down, "\n### Down ({})\n\n| URL | Line | Status | Why |\n|---|---|---|---|\n", self.down_rows);
            for row in spool.reader()? {
                let line = down_row(&row?);
                if down.len() + line.len() > budget {
                    break;
                }
                down.push_str(&line);
                shown += 1;
            }
            if shown < self.down_rows {
                let _ = writeln!(
                    down,
                    "\n_{} more down URLs not shown: a job summary holds at most 1 MiB._",
                    self.down_rows - shown
                );
            }
        }
        let mut text = head;
        if text.len() + down.len() <= SUMMARY_BYTES {
            text.push_str(&down);
        }
        if text.len() + slowest.len() <= SUMMARY_BYTES {
            text.push_str(&slowest);
        }
        Ok(text)
    }
}

/// One down URL in the summary: the URL (ours, as text), its line, and in
/// code spans what the server said and what was expected of it.
fn down_row(row: &Row) -> String {
    let place = match (&row.file, row.line) {
        (Some(file), Some(line)) => markdown_cell(&format!("{file}:{line}")),
        _ => String::new(),
    };
    format!("| {} | {place} | {} | {} |\n", markdown_cell(&row.url), code_cell(&status(row)), code_cell(&why(row)))
}

/// `::error file=list.txt,line=3,title=…::…`: where the line is, and why it is down.
fn annotation(row: &Row) -> String {
    let mut properties = Vec::new();
    if let (Some(file), Some(line)) = (&row.file, row.line) {
        properties.push(format!("file={}", property(file)));
        properties.push(format!("line={line}"));
    }
    let name = row.name.as_deref().unwrap_or(&row.url);
    properties.push(format!("title={}", property(&format!("down: {name}"))));
    let why = why(row);
    let message = match (status(row), why.is_empty()) {
        (status, true) => format!("{}: {status}", row.url),
        (status, false) => format!("{}: {status} ({why})", row.url),
    };
    format!("::error {}::{}", properties.join(","), data(&message))
}

/// `HTTP 404 Not Found`, or `error connect: connection refused`.
fn status(row: &Row) -> String {
    match (&row.error_kind, row.code) {
        (Some(kind), _) => format!("error {kind}: {}", row.error.as_deref().unwrap_or("")),
        (None, Some(code)) => format!("HTTP {code} {}", row.reason.as_deref().unwrap_or("")).trim_end().to_owned(),
        (None, None) => String::new(),
    }
}

/// The expectations not met, and where a redirect pointed.
fn why(row: &Row) -> String {
    let mut why: Vec<String> =
        row.unmet.iter().map(|(kind, expect, got)| format!("{kind}: expected {expect}, got {got}")).collect();
    if let Some(location) = &row.location {
        why.push(format!("location: {location}"));
    }
    why.join("; ")
}

/// A workflow command's message: `%`, CR and LF escaped as GitHub reads
/// them, after [`sanitize`] (so CR and LF are already `\r`, `\n`).
fn data(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in sanitize(text).chars() {
        match c {
            '%' => escaped.push_str("%25"),
            '\r' => escaped.push_str("%0D"),
            '\n' => escaped.push_str("%0A"),
            _ => escaped.push(c),
        }
    }
    escaped
}

/// A workflow command's property value: also `:` and `,`, which end it.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down(url: &str, reason: &str) -> Row {
        Row {
            url: url.into(),
            file: Some("deploy, prod:1.txt".into()),
            line: Some(7),
            state: "down".into(),
            code: Some(500),
            reason: Some(reason.into()),
            elapsed_ms: Some(5.0),
            ..Row::default()
        }
    }

    #[test]
    fn escaping_follows_githubs_rules() {
        assert_eq!(data("100% a\rb\nc::d"), "100%25 a\\rb\\nc::d");
        assert_eq!(property("a:b,c%"), "a%3Ab%2Cc%25");
        let line = annotation(&down("https://a.test/", "x\r\n::error::forged %0A"));
        assert_eq!(
            line,
            "::error file=deploy%2C prod%3A1.txt,line=7,title=down%3A https%3A//a.test/::\
             https://a.test/: HTTP 500 x\\r\\n::error::forged %250A"
        );
        assert_eq!(line.lines().count(), 1);
    }

    #[test]
    fn at_most_ten_annotations_and_the_rest_are_counted() {
        let mut github = Github::new(None);
        let lines: Vec<String> = (0..13).filter_map(|i| github.add(down(&format!("https://a.test/{i}"), ""))).collect();
        assert_eq!(lines.len(), 10);
        assert!(github.add(Row { state: "up".into(), ..Row::default() }).is_none());
        let more = github.more_line().unwrap();
        assert!(more.starts_with("::notice title=statuscheck::3 more down URLs were not annotated"), "{more}");
        assert!(Github::new(None).more_line().is_none());
    }

    #[test]
    fn the_summary_is_capped_and_says_how_many_more() {
        let path = std::env::temp_dir().join(format!("statuscheck-summary-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let mut github = Github::new(Some(path.clone()));
        let reason = "r".repeat(2000);
        for i in 0..600 {
            github.add(down(&format!("https://a.test/{i}"), &reason));
        }
        github.add(Row {
            url: "https://fast.test/".into(),
            state: "up".into(),
            elapsed_ms: Some(1.0),
            ..Row::default()
        });
        github.write_summary().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(text.len() <= SUMMARY_BYTES, "{}", text.len());
        assert!(text.len() > SUMMARY_BYTES - 4096, "{}", text.len());
        let shown = text.matches("| deploy, prod:1.txt:7 |").count();
        assert!(text.contains(&format!("_{} more down URLs not shown", 600 - shown)), "{shown}");
        assert!(text.contains("| up | 1 |\n| degraded | 0 |\n| down | 600 |"));
        assert!(text.contains("### Slowest"));
    }
}
