//! What the user sees: one record per result on stdout (in the chosen
//! format, filtered by `--only-failed`/`--summary-only`), the live progress
//! line and the summary on stderr, and messages.

mod format;
mod github;
mod progress;
pub mod spool;
mod summary;
mod writer;

use std::io::{self, Write};
use std::time::Duration;

use statuscheck::{State, Verdict};

use crate::app::input::{Checked, Widths};

pub use format::{sanitize, Format, PageOptions, UP_ROWS};
pub use format::{shown_url, status_text, timestamp};
use format::{Export, Judged, Page, Style};
use github::Github;
use progress::Progress;
use spool::Row;
pub use summary::Summary;
pub use writer::Output;

/// Which results are written to stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Show {
    All,
    /// `--only-failed`: results that are not ok.
    Failed,
    /// `--summary-only`: none.
    Nothing,
}

/// How results are shown, decided once from the command line.
#[derive(Clone, Debug)]
pub struct Options {
    pub format: Format,
    pub color: bool,
    pub show: Show,
    pub progress: bool,
    /// Text gets a second line per URL with the trace.
    pub verbose: bool,
    /// `--watch`: after the first round, print only results that changed.
    pub watch: bool,
    /// `--github`: annotations on stderr, and the job summary appended to
    /// this file (`$GITHUB_STEP_SUMMARY`) when it is given.
    pub github: Option<Option<std::path::PathBuf>>,
    /// The HTML page (`--format html`, `--html FILE`), if one is written.
    pub html: Option<PageOptions>,
}

impl Options {
    /// Whether anything shown needs the server's certificate (subject,
    /// issuer, expiry): parsing it is work on every https check, so it is
    /// done only when asked for.
    pub fn wants_certificates(&self) -> bool {
        format::exporter(self.format).shows_certificates() || self.verbose || self.html.is_some()
    }
}

/// Writes results as they come and keeps the tally for the summary.
pub struct Report<W: Write> {
    out: W,
    options: Options,
    style: Style,
    line: String,
    progress: Progress,
    /// The format chosen.
    export: Box<dyn Export + Send>,
    /// `--watch`: the last outcome of each line, to print only changes.
    changes: Option<Changes>,
    /// `--github`: what GitHub Actions is told.
    github: Option<Github>,
    /// This round's canaries all failed with a network error: down reads unknown.
    inconclusive: bool,
    /// Rounds so far, and how many of them were inconclusive.
    rounds: (u64, u64),
    /// The HTML page, written at the end of each round.
    page: Option<Page>,
    pub summary: Summary,
}

impl Report<Output> {
    /// A report whose records a writer thread of their own writes to `out`
    /// (see [`Output`]).
    pub fn with_writer_thread(out: impl Write + Send + 'static, options: Options) -> io::Result<Self> {
        let progress = Progress::new(options.progress);
        let output = Output::spawn(out, progress.shares_stdout_terminal())?;
        let page = options.html.clone().map(Page::new).transpose()?;
        Ok(Report { page, ..Report::with_progress(output, options, progress) })
    }

    /// Writes what formats keep until the end ([`Report::end`]), then the
    /// large ones (JUnit, the HTML page to stdout) a part at a time, each
    /// handed to stdout before the next is made, so that none is ever held
    /// whole. An interrupted run writes what it has.
    pub async fn end_streamed(&mut self) -> io::Result<()> {
        self.end_github();
        self.end()?;
        let mut more = self.options.show != Show::Nothing;
        while more {
            self.line.clear();
            more = self.export.end_part(&mut self.line)?;
            self.out.write_all(self.line.as_bytes())?;
            if more {
                self.out.send().await?;
            }
        }
        while self.more_output()? {
            self.out.send().await?;
        }
        self.flush()
    }
}

impl<W: Write> Report<W> {
    /// `--github`: says how many down URLs got no annotation, and writes the
    /// job summary (once: `--github` is refused with `--watch`).
    fn end_github(&mut self) {
        let Some(mut github) = self.github.take() else { return };
        if let Some(line) = github.more_line() {
            self.progress.hide_while(|| say(&line));
        }
        if let Err(error) = github.write_summary() {
            message(&format!("writing the job summary to $GITHUB_STEP_SUMMARY: {error}"));
        }
    }

    fn with_progress(out: W, options: Options, progress: Progress) -> Self {
        let style = Style { color: options.color, url_width: 0, verbose: options.verbose, timestamp: options.watch };
        let line = String::with_capacity(256);
        let changes = options.watch.then(Changes::default);
        let export = format::exporter(options.format);
        let github = options.github.clone().map(Github::new);
        let summary = Summary::default();
        let (inconclusive, rounds, page) = (false, (0, 0), None);
        Report { out, options, style, line, progress, export, changes, github, inconclusive, rounds, page, summary }
    }

    /// Whether a progress line may be shown (then the caller counts the list).
    pub fn wants_total(&self) -> bool {
        self.progress.wanted()
    }

    /// The number of URLs in the run, filled in once counted.
    pub fn set_total(&mut self, total: std::sync::Arc<std::sync::OnceLock<u64>>) {
        self.progress.set_total(total);
    }

    /// Writes the header of formats that have one.
    pub fn begin(&mut self) -> io::Result<()> {
        match self.export.header() {
            Some(header) if self.options.show != Show::Nothing => self.out.write_all(header.as_bytes()),
            _ => Ok(()),
        }
    }

    /// The runner has taken `read` targets of this round: they count toward
    /// the progress total, and widen the text URL column (targets are read
    /// ahead of results, so most are known before their line is printed).
    pub fn targets_read(&mut self, read: u64, widths: &Widths) {
        self.progress.set_read(read);
        self.style.url_width = self.style.url_width.max(widths.widest(read));
    }

    /// A round starts; `inconclusive` when its canaries all failed with a
    /// network error (then results that are down are shown as unknown).
    pub fn start_round(&mut self, inconclusive: bool) {
        self.inconclusive = inconclusive;
        self.rounds.0 += 1;
        self.rounds.1 += u64::from(inconclusive);
    }

    /// Whether the last round was inconclusive (the run's status, exit 3).
    pub fn inconclusive(&self) -> bool {
        self.inconclusive
    }

    /// Tallies one result and writes it if it is to be shown; the state it
    /// was shown in. Output is buffered: the run loop calls
    /// [`Report::flush`] whenever it is about to wait.
    pub fn emit(&mut self, checked: &Checked) -> io::Result<State> {
        let mut judged = Judged::of(checked);
        if self.inconclusive && judged.state == State::Down {
            judged.state = State::Unknown;
        }
        let verdict = judged.verdict;
        self.summary.add(checked, judged);
        if let Some(page) = &mut self.page {
            page.add(checked, judged)?;
        }
        self.progress.done(&self.summary);
        if let Some(annotation) = self.github.as_mut().and_then(|github| github.add(Row::of(checked, judged))) {
            self.progress.hide_while(|| say(&annotation));
        }
        let shown = match self.options.show {
            Show::All => true,
            Show::Failed => verdict != Verdict::Ok,
            Show::Nothing => false,
        };
        let changed = self.changes.as_mut().is_none_or(|changes| changes.record(checked, judged.state));
        if !shown || !changed {
            return Ok(judged.state);
        }

        self.line.clear();
        self.export.record(&mut self.line, self.style, checked, judged);
        self.out.write_all(self.line.as_bytes())?;
        Ok(judged.state)
    }

    /// `--watch`: a new round starts; lines not seen in the last one are
    /// forgotten, so memory stays flat however long it watches.
    pub fn next_round(&mut self) {
        if let Some(changes) = &mut self.changes {
            changes.next_round();
        }
        self.export.next_round();
    }

    /// Writes what formats keep until the end (Prometheus), after the last
    /// result. An interrupted run writes what it has.
    pub fn end(&mut self) -> io::Result<()> {
        if let (Some(text), true) = (self.export.end(), self.options.show != Show::Nothing) {
            self.out.write_all(text.as_bytes())?;
        }
        // The HTML page is written whole to a file; stdout gets it in parts
        // (`more_output`).
        if let Some(page) = &mut self.page {
            page.finish_round()?;
        }
        self.flush()
    }

    /// The round was cut short by a signal: the HTML page says so.
    pub fn interrupted(&mut self) {
        if let Some(page) = &mut self.page {
            page.interrupted();
        }
    }

    /// Hands the writer the next part of what goes to stdout in parts after
    /// [`Report::end`] (the HTML page); false when nothing is left.
    pub fn more_output(&mut self) -> io::Result<bool> {
        match &mut self.page {
            Some(page) => page.next_part(&mut self.out),
            None => Ok(false),
        }
    }

    pub fn flush(&mut self) -> io::Result<()> {
        let out = &mut self.out;
        self.progress.hide_while(|| out.flush())
    }

    /// Where the records go.
    pub fn output(&mut self) -> &mut W {
        &mut self.out
    }

    /// Clears the progress line and prints the summary on stderr, as text or
    /// (`--summary-json`) as one JSON object.
    pub fn finish(&self, elapsed: Duration, interrupted: bool, as_json: bool) {
        self.progress.clear();
        if as_json {
            let mut json = self.summary.json(elapsed, interrupted);
            json["inconclusive"] = self.inconclusive.into();
            json["inconclusive_rounds"] = self.rounds.1.into();
            note(&json.to_string());
            return;
        }
        let prefix = if interrupted { "interrupted: " } else { "" };
        for (i, line) in self.summary.lines(elapsed).iter().enumerate() {
            note(&format!("{}{line}", if i == 0 { prefix } else { "" }));
        }
        if let Some(line) = self.inconclusive_line() {
            note(&line);
        }
    }

    /// What the summary says of inconclusive rounds, if there were any.
    fn inconclusive_line(&self) -> Option<String> {
        let (rounds, inconclusive) = self.rounds;
        let why = "every --canary failed with a network error, so down reads unknown";
        match (inconclusive, rounds) {
            (0, _) => None,
            (_, 1) => Some(format!("  inconclusive: {why}")),
            (n, _) => Some(format!("  inconclusive: {n} of {rounds} rounds ({why})")),
        }
    }

    /// Clears the progress line without a summary.
    pub fn abandon(&self) {
        self.progress.clear();
    }
}

/// The last outcome and state of each input line, by its source, for `--watch`.
#[derive(Default)]
struct Changes {
    round: u64,
    last: std::collections::HashMap<String, (u64, String)>,
}

impl Changes {
    /// Notes this round's outcome and state; whether either differs from
    /// the last round's (always true in the first round): a URL that turns
    /// degraded with the same status line is a change.
    fn record(&mut self, checked: &Checked, state: State) -> bool {
        let key = format!("{}\0{}", checked.target.source, checked.target.input);
        let outcome = match &checked.outcome {
            Ok(response) => format!("{state} {response}"),
            Err(error) => format!("{state} {}: {}", error.kind(), crate::app::flags::message(error)),
        };
        let previous = self.last.insert(key, (self.round, outcome.clone()));
        self.round == 0 || previous.is_none_or(|(_, before)| before != outcome)
    }

    fn next_round(&mut self) {
        let finished = self.round;
        self.last.retain(|_, (round, _)| *round == finished);
        self.round += 1;
    }
}

/// A message for the user on stderr, named as ours. A closed stderr is
/// ignored: there is nowhere left to complain to.
pub fn message(text: &str) {
    note(&format!("statuscheck: {text}"));
}

/// A line of our own on stderr, escaped already (a workflow command).
fn say(line: &str) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// A line on stderr as it is.
fn note(text: &str) {
    let _ = writeln!(io::stderr().lock(), "{}", sanitize(text));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::input::{parse_url, Source, Target};
    use statuscheck::{HttpVersion, Response};

    #[test]
    fn a_change_of_state_alone_is_a_change() {
        let target = Target::plain(Source::Arg(1), "a.test".into(), parse_url("https://a.test/"));
        let mut checked = Checked::invalid(target, "");
        checked.outcome = Ok(Response::new(HttpVersion::Http11, 200, "OK"));
        let mut changes = Changes::default();
        assert!(changes.record(&checked, State::Up), "the first round prints everything");
        changes.next_round();
        assert!(!changes.record(&checked, State::Up));
        changes.next_round();
        assert!(changes.record(&checked, State::Degraded), "the same status line, slower");
        changes.next_round();
        assert!(!changes.record(&checked, State::Degraded));
    }
}
