//! The HTML report: one self-contained page (no request leaves it: a strict
//! Content-Security-Policy lets in only its own stylesheet and script, by
//! hash), written at the end of each round from the rows spooled as they
//! came ([`Spool`]) and a tally of fixed size ([`Tally`]), so memory stays
//! flat however long the list. On top, the counts by state and status class
//! and a latency histogram in inline SVG; below, a table of every URL that is
//! not up and of the first [`UP_ROWS`] that are (in that order), which a
//! small script sorts and filters (the table reads the same with JavaScript
//! off).
//!
//! This file keeps what a page needs as results come and writes it where it
//! goes; `html/markup.rs` makes the page itself.

mod markup;

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use statuscheck::State;

use super::super::spool::{Row, Spool};
use super::super::summary::Histogram;
use super::{Export, Judged, Style};
use crate::app::input::Checked;
use markup::{render, Head};

/// The most rows of URLs that are up on a page: every URL that is not up is
/// listed, and the first 5,000 that are (a page of a million rows opens in
/// no browser); the page says how many were left out.
pub const UP_ROWS: u64 = 5_000;

/// How much of the page is handed to the stdout writer at a time.
const PART: u64 = 64 * 1024;

/// Where the page goes and what it holds, decided once from the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageOptions {
    /// `--format html`: the page goes to stdout at the end of the run.
    pub stdout: bool,
    /// `--html FILE`: the page replaces FILE (a new file renamed over it) at
    /// the end of every round.
    pub file: Option<PathBuf>,
    /// `--watch`'s interval: the page reloads itself this often.
    pub refresh: Option<Duration>,
    /// The most rows of URLs that are up ([`UP_ROWS`]; 0 with `--only-failed`).
    pub up_rows: u64,
}

/// `--format html`: nothing per record (the rows go to the [`Page`]).
pub struct Html;

impl Export for Html {
    fn record(&mut self, _: &mut String, _: Style, _: &Checked, _: Judged) {}

    fn shows_certificates(&self) -> bool {
        true
    }
}

/// What a round's page needs, kept as the results come.
pub struct Page {
    options: PageOptions,
    /// The rows of URLs that are not up, and of those that are: the page
    /// lists the first before the second, worst first with or without its
    /// script, without holding either.
    not_up: Spool,
    up: Spool,
    tally: Tally,
    /// The round was cut short by a signal.
    interrupted: bool,
    /// The page written for stdout, handed over a part at a time.
    unsent: Option<File>,
}

/// The round's counts: fixed size, whatever the length of the list.
#[derive(Default)]
struct Tally {
    /// By state, in the order of `State::ALL`.
    states: [u64; State::ALL.len()],
    /// Answers by status class: index 1 is 1xx … 5 is 5xx; 0 is no answer.
    classes: [u64; 6],
    latency: Histogram,
    /// Rows of URLs that are up, on the page and left off it.
    up_rows: u64,
    left_out: u64,
}

impl Tally {
    fn checked(&self) -> u64 {
        self.states.iter().sum()
    }

    fn count(&self, state: State) -> u64 {
        State::ALL.iter().position(|s| *s == state).map_or(0, |i| self.states[i])
    }
}

impl Page {
    pub fn new(options: PageOptions) -> io::Result<Page> {
        let (not_up, up) = (Spool::new()?, Spool::new()?);
        Ok(Page { options, not_up, up, tally: Tally::default(), interrupted: false, unsent: None })
    }

    /// Counts one result, and keeps its row when the page will show it.
    pub fn add(&mut self, checked: &Checked, judged: Judged) -> io::Result<()> {
        let tally = &mut self.tally;
        if let Some(i) = State::ALL.iter().position(|s| *s == judged.state) {
            tally.states[i] += 1;
        }
        let class = checked.outcome.as_ref().map_or(0, |r| usize::from(r.code / 100).min(5));
        tally.classes[class] += 1;
        if checked.target.url.is_ok() {
            tally.latency.record(checked.elapsed);
        }
        if judged.state != State::Up {
            return self.not_up.push(&Row::of(checked, judged));
        }
        if tally.up_rows >= self.options.up_rows {
            tally.left_out += 1;
            return Ok(());
        }
        tally.up_rows += 1;
        self.up.push(&Row::of(checked, judged))
    }

    /// The round was cut short: the page says so.
    pub fn interrupted(&mut self) {
        self.interrupted = true;
    }

    /// Writes the round's page: over FILE, and for stdout into a file that
    /// [`Page::next_part`] hands over. The next round starts empty.
    pub fn finish_round(&mut self) -> io::Result<()> {
        let rows = self.not_up.len() + self.up.len();
        let head = Head { tally: &self.tally, options: &self.options, interrupted: self.interrupted, rows };
        let written = match &self.options.file {
            Some(path) => replace(path, |out| render(out, &head, [&mut self.not_up, &mut self.up]))
                .map_err(|e| io::Error::new(e.kind(), format!("writing the HTML report '{}': {e}", path.display())))?,
            None => {
                let mut file = tempfile::tempfile()?;
                render(&mut BufWriter::new(&mut file), &head, [&mut self.not_up, &mut self.up])?;
                file
            }
        };
        if self.options.stdout {
            let mut written = written;
            written.seek(SeekFrom::Start(0))?;
            self.unsent = Some(written);
        }
        self.tally = Tally::default();
        self.interrupted = false;
        Ok(())
    }

    /// Appends the next part of the page for stdout to `out`; false when
    /// nothing is left.
    pub fn next_part(&mut self, out: &mut impl Write) -> io::Result<bool> {
        let Some(file) = &mut self.unsent else { return Ok(false) };
        let mut part = Vec::with_capacity(PART as usize);
        file.take(PART).read_to_end(&mut part)?;
        if part.is_empty() {
            self.unsent = None;
            return Ok(false);
        }
        out.write_all(&part)?;
        Ok(true)
    }
}

/// Writes `path` whole or not at all: the page goes to a new file in the
/// same directory, renamed over `path` once complete, so a reader (a browser
/// reloading a `--watch` page, a web server) never sees half of one.
fn replace(path: &Path, write: impl FnOnce(&mut BufWriter<&mut File>) -> io::Result<()>) -> io::Result<File> {
    use std::os::unix::fs::PermissionsExt;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".statuscheck-")
        .suffix(".html.tmp")
        .permissions(std::fs::Permissions::from_mode(0o644))
        .tempfile_in(dir)?;
    let mut out = BufWriter::new(temp.as_file_mut());
    write(&mut out)?;
    out.flush()?;
    drop(out);
    temp.persist(path).map_err(|e| e.error)
}

#[cfg(test)]
mod tests;
