//! Where URLs come from: `-u` arguments, files and standard input, read line
//! by line into [`Target`]s and streamed to the runner through a bounded
//! channel, so a list of any length uses the same memory.
//!
//! A line that is not a checkable URL still becomes a target (with the reason
//! in `url`), so it gets its own result row and never stops the run.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{bail, Context};
use statuscheck::mask_userinfo;
use tokio::sync::mpsc;
use url::Url;

use super::shard::Shard;

/// Lines longer than this are reported as invalid, and only this much of
/// them is ever held in memory.
pub const MAX_LINE: usize = 16 * 1024;

/// How much of an over-long or invalid line is echoed back in results.
const ECHO_LIMIT: usize = 200;

/// One URL line to check, with where it came from.
#[derive(Clone, Debug)]
pub struct Target {
    pub source: Source,
    /// The line as written (trimmed; lossily decoded; shortened if huge).
    pub input: String,
    /// The URL to check, or why the line cannot be checked.
    pub url: Result<Url, String>,
}

/// A line, checked.
pub type Checked = statuscheck::Checked<Target>;

impl statuscheck::Target for Target {
    type Parked = Parked;

    fn url(&self) -> Result<&Url, &str> {
        self.url.as_ref().map_err(String::as_str)
    }

    fn park(self) -> Parked {
        Parked::new(self)
    }

    fn unpark(parked: Parked) -> Target {
        parked.unpark()
    }
}

/// A waiting target, about half the size of a [`Target`]: the URL is kept as
/// its text (parsed again when it starts) and the input line only when it
/// differs from that text.
pub struct Parked {
    source: Source,
    /// The URL's text (only targets with a URL wait; others start at once).
    url: Result<Box<str>, String>,
    input: Option<Box<str>>,
}

impl Parked {
    fn new(target: Target) -> Parked {
        let url = target.url.map(|url| String::from(url).into_boxed_str());
        let input = match &url {
            Ok(text) if **text == *target.input => None,
            _ => Some(target.input.into_boxed_str()),
        };
        Parked { source: target.source, url, input }
    }

    fn unpark(self) -> Target {
        let input = match (self.input, &self.url) {
            (Some(input), _) => input.into_string(),
            (None, Ok(text)) => text.to_string(),
            (None, Err(_)) => String::new(),
        };
        let source = self.source;
        // The text came from a parsed URL, so it parses again to the same URL.
        let url = self.url.and_then(|text| Url::parse(&text).map_err(|e| format!("invalid URL at {source}: {e}")));
        Target { source, input, url }
    }
}

/// The URL column of the text format grows to the longest URL seen, up to this.
pub const URL_COLUMN_CAP: usize = 60;

/// How wide the URLs read so far are, for the text format's URL column:
/// the reader thread notes each new widest (at most [`URL_COLUMN_CAP`]
/// of them) with the number of targets before it, so the report can ask for
/// the widest of the first N targets the runner has taken.
#[derive(Clone, Debug, Default)]
pub struct Widths(Arc<Mutex<Vec<(u64, usize)>>>);

impl Widths {
    /// Target number `index` is `width` wide; `widest` is the widest before it.
    fn note(&self, index: u64, width: usize, widest: &mut usize) {
        let width = width.min(URL_COLUMN_CAP);
        if width > *widest {
            *widest = width;
            self.0.lock().unwrap_or_else(|p| p.into_inner()).push((index, width));
        }
    }

    /// The widest of the first `read` targets.
    pub fn widest(&self, read: u64) -> usize {
        let widths = self.0.lock().unwrap_or_else(|p| p.into_inner());
        widths.iter().take_while(|(index, _)| *index < read).last().map_or(0, |(_, width)| *width)
    }
}

/// How wide a target is in the URL column: its URL, or the line as written.
pub fn url_width(target: &Target) -> usize {
    match &target.url {
        Ok(url) => url.as_str().chars().count(),
        Err(_) => target.input.chars().count(),
    }
}

/// Where a line came from: the N-th `-u` argument (from 1), or a line of a
/// file or of stdin. It names each input line uniquely, so `--resume` keys on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Arg(u64),
    Line { name: Arc<str>, line: u64 },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Arg(position) => write!(f, "arg:{position}"),
            Source::Line { name, line } => write!(f, "{name}:{line}"),
        }
    }
}

/// An input that has been opened, so every file error is known before any
/// check starts.
pub enum Input {
    Stdin,
    File { name: Arc<str>, file: File },
}

/// Opens every input up front; a missing file, a directory or no permission is
/// an error for the whole run (exit 2), reported before anything is checked.
pub fn open(paths: &[PathBuf]) -> anyhow::Result<Vec<Input>> {
    paths.iter().map(|path| open_one(path)).collect()
}

fn open_one(path: &Path) -> anyhow::Result<Input> {
    if path.as_os_str() == "-" {
        return Ok(Input::Stdin);
    }
    let name = path.display().to_string();
    let file = File::open(path).with_context(|| format!("cannot read '{name}'"))?;
    let metadata = file.metadata().with_context(|| format!("cannot read '{name}'"))?;
    if metadata.is_dir() {
        bail!("cannot read '{name}': it is a directory");
    }
    Ok(Input::File { name: name.into(), file })
}

/// Starts a thread that sends the targets of `urls` and then of `inputs`, in
/// order. Blocking reads stay off the async runtime, and the bounded channel
/// makes reading wait for checking. Must be called inside the runtime. The thread ends early when the receiver
/// goes away; its result reports a file that failed while being read.
pub fn stream(
    urls: Vec<String>,
    inputs: Vec<Input>,
    capacity: usize,
    shard: Option<Shard>,
    answered: Option<Arc<Answered>>,
    widths: Widths,
) -> (mpsc::Receiver<Target>, std::thread::JoinHandle<anyhow::Result<()>>) {
    let (tx, rx) = mpsc::channel(capacity);
    let runtime = tokio::runtime::Handle::current();
    let handle = std::thread::spawn(move || {
        let mut sender = Sender { tx, runtime, next_index: 0, shard, answered, widths, widest: 0 };
        for (position, url) in (1..).zip(urls) {
            if !sender.send(Source::Arg(position), url.trim().as_bytes(), None) {
                return Ok(());
            }
        }
        for input in inputs {
            let (name, reader): (Arc<str>, Box<dyn Read>) = match input {
                Input::Stdin => ("stdin".into(), Box::new(io::stdin())),
                Input::File { name, file } => (name, Box::new(file)),
            };
            let reader = BufReader::with_capacity(64 * 1024, reader);
            if !send_lines(&mut sender, &name, reader).with_context(|| format!("reading '{name}'"))? {
                return Ok(());
            }
        }
        Ok(())
    });
    (rx, handle)
}

/// Counts the URL lines of the run on a thread of its own, so a progress
/// line can show the real total and an ETA while checks run. Only regular
/// files can be read twice: a pipe, FIFO, `/dev/stdin` or `<(…)` read by a
/// second reader would lose it lines, so with any of those (or `-`) the
/// total stays unknown and the progress line shows the lines read so far.
pub fn count_in_background(urls: &[String], paths: &[PathBuf], shard: Option<Shard>) -> Arc<OnceLock<u64>> {
    let total = Arc::new(OnceLock::new());
    if !paths.iter().all(|path| path.as_os_str() != "-" && is_regular(path)) {
        return total;
    }
    let (urls, paths, result) = (urls.to_vec(), paths.to_vec(), total.clone());
    std::thread::spawn(move || {
        let ours = |line: &[u8]| shard.is_none() || in_shard(shard, &to_target(Source::Arg(0), line, None), line);
        let mut count = urls.iter().filter(|url| ours(url.trim().as_bytes())).count() as u64;
        let mut buf = Vec::new();
        for path in paths {
            let Ok(file) = File::open(&path) else { return };
            // Checked again on the file opened, in case the path changed.
            if !file.metadata().is_ok_and(|m| m.is_file()) {
                return;
            }
            let mut reader = BufReader::with_capacity(64 * 1024, file);
            while let Ok(Some(_)) = read_bounded_line(&mut reader, &mut buf, MAX_LINE) {
                let line = buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&buf).trim_ascii();
                count += u64::from(!line.is_empty() && !line.starts_with(b"#") && ours(line));
            }
        }
        let _ = result.set(count);
    });
    total
}

/// Whether `path` is a regular file, by its type (following symlinks such
/// as `/dev/stdin`), whatever its name.
fn is_regular(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file())
}

struct Sender {
    tx: mpsc::Sender<Target>,
    /// To wait for room in `tx` from this thread.
    runtime: tokio::runtime::Handle,
    next_index: u64,
    shard: Option<Shard>,
    answered: Option<Arc<Answered>>,
    widths: Widths,
    /// The widest target sent so far.
    widest: usize,
}

impl Sender {
    /// Sends one line as a target; `false` once nobody is listening.
    /// `too_long` is the full length of a line that was cut at [`MAX_LINE`].
    fn send(&mut self, source: Source, line: &[u8], too_long: Option<usize>) -> bool {
        if self.answered.as_ref().is_some_and(|answered| answered.contains(&source)) {
            return true;
        }
        let target = to_target(source, line, too_long);
        if !in_shard(self.shard, &target, line) {
            return true;
        }
        self.widths.note(self.next_index, url_width(&target), &mut self.widest);
        self.next_index += 1;
        self.push(target)
    }

    /// When the channel is full, waits for room for a batch of targets, not
    /// for one: the runner frees a slot per target it takes, and waking this
    /// thread for each one cost a futex wait and wake per URL.
    fn push(&mut self, target: Target) -> bool {
        let target = match self.tx.try_send(target) {
            Ok(()) => return true,
            Err(mpsc::error::TrySendError::Closed(_)) => return false,
            Err(mpsc::error::TrySendError::Full(target)) => target,
        };
        let batch = (self.tx.max_capacity() / 4).max(1);
        // The permits not used here go back to the channel as they drop,
        // for the next `try_send`s.
        match self.runtime.block_on(self.tx.reserve_many(batch)) {
            Ok(mut permits) => permits.next().map(|permit| permit.send(target)).is_some(),
            Err(_) => false,
        }
    }
}

/// `--resume`: the lines a previous `--format json` run already answered,
/// by their `source` (`file:line` or `arg:N`). Memory follows what the file
/// holds: one bit per answered line, in small chunks made only where a
/// record falls, so a huge line number costs a chunk, not a bitmap up to it.
#[derive(Debug, Default)]
pub struct Answered {
    files: HashMap<String, LineSet>,
    args: LineSet,
    /// The file does not end with a newline: the earlier run was killed
    /// mid-record (or just before its newline). Then this is the offset
    /// where that last line starts, and the file's length.
    open_end: Option<(u64, u64)>,
    /// That last line does not parse: its input line is checked again.
    cut: bool,
    /// Device and inode, to tell when stdout appends to this very file.
    identity: Option<(u64, u64)>,
}

/// Lines longer than this in a `--resume` file are skipped (their input
/// line is checked again) and only this much of one is held in memory; a
/// record of ours is far shorter.
const MAX_RECORD: usize = 1024 * 1024;

impl Answered {
    /// Reads the JSON Lines of an earlier run; a line that does not parse
    /// (cut short when that run was killed) is skipped: its URL is checked again.
    pub fn load(path: &Path) -> anyhow::Result<Answered> {
        let name = path.display();
        let file = File::open(path).with_context(|| format!("cannot read --resume '{name}'"))?;
        let mut answered = Answered { identity: identity(&file), ..Answered::default() };
        let mut reader = BufReader::with_capacity(64 * 1024, file);
        let (mut buf, mut last_parsed, mut offset, mut last_start) = (Vec::new(), true, 0u64, 0u64);
        while let Some(length) = read_bounded_line(&mut reader, &mut buf, MAX_RECORD)
            .with_context(|| format!("reading --resume '{name}'"))?
        {
            last_parsed = length <= MAX_RECORD && answered.add(&buf);
            last_start = offset;
            offset += length as u64 + 1;
        }
        if !ends_with_newline(reader.get_mut()) {
            answered.open_end = Some((last_start, offset.saturating_sub(1)));
            answered.cut = !last_parsed;
        }
        Ok(answered)
    }

    /// Notes the source of one record; `false` if it is not a record.
    fn add(&mut self, line: &[u8]) -> bool {
        let Ok(record) = serde_json::from_slice::<serde_json::Value>(line) else { return false };
        let Some((name, number)) = record["source"].as_str().and_then(|s| s.rsplit_once(':')) else { return true };
        let Ok(number) = number.parse::<u64>() else { return true };
        match name {
            "arg" => self.args.insert(number),
            file => self.files.entry(file.to_owned()).or_default().insert(number),
        }
        true
    }

    fn contains(&self, source: &Source) -> bool {
        match source {
            Source::Arg(position) => self.args.contains(*position),
            Source::Line { name, line } => self.files.get(name.as_ref()).is_some_and(|lines| lines.contains(*line)),
        }
    }

    /// The earlier run was killed mid-record: that record's line is checked again.
    pub fn was_cut(&self) -> bool {
        self.cut
    }
}

/// What was done so that output appended to the `--resume` file starts on
/// a line of its own.
#[derive(Debug, PartialEq, Eq)]
pub enum Mended {
    /// Nothing was needed: the file ends with a newline or is not stdout.
    Nothing,
    /// The last record was whole but had no newline: one was written.
    Newline,
    /// The last record was cut short: it was removed from the file.
    CutRemoved,
}

/// Called before anything is written. When stdout appends to the `--resume`
/// file itself (same device and inode, as with the README's
/// `--resume results.jsonl … >> results.jsonl`) and that file ends
/// mid-line, the unfinished line is mended: a cut record is removed (its
/// line is checked again, so every line of the file parses), a whole one
/// gets its newline. Nothing is touched if the file changed since it was read.
pub fn mend_resume_output(answered: &Answered) -> io::Result<Mended> {
    use std::io::Write;
    use std::os::fd::AsFd;
    let Some((last_start, length)) = answered.open_end else { return Ok(Mended::Nothing) };
    let stdout = File::from(io::stdout().as_fd().try_clone_to_owned()?);
    let metadata = stdout.metadata()?;
    if answered.identity.is_none() || identity(&stdout) != answered.identity || metadata.len() != length {
        return Ok(Mended::Nothing);
    }
    if answered.cut {
        stdout.set_len(last_start)?;
        return Ok(Mended::CutRemoved);
    }
    (&stdout).write_all(b"\n")?;
    Ok(Mended::Newline)
}

/// Whether the file is empty or ends with a newline, by its last byte (the
/// line reader drops newlines, so it cannot tell).
fn ends_with_newline(file: &mut File) -> bool {
    use std::io::{Seek, SeekFrom};
    let mut last = [0u8];
    file.seek(SeekFrom::End(-1)).and_then(|_| file.read_exact(&mut last)).map_or(true, |()| last[0] == b'\n')
}

fn identity(file: &File) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    file.metadata().ok().map(|m| (m.dev(), m.ino()))
}

/// A set of line numbers, one bit each, in chunks of [`CHUNK_LINES`] made
/// only where a number falls: dense sets cost about a bit per line, sparse
/// ones a few dozen bytes per number, and no number is too large.
#[derive(Debug, Default)]
struct LineSet {
    chunks: HashMap<u64, [u64; CHUNK_WORDS]>,
}

const CHUNK_WORDS: usize = 4;
const CHUNK_LINES: u64 = 64 * CHUNK_WORDS as u64;

impl LineSet {
    fn insert(&mut self, number: u64) {
        let words = self.chunks.entry(number / CHUNK_LINES).or_default();
        let bit = number % CHUNK_LINES;
        words[(bit / 64) as usize] |= 1 << (bit % 64);
    }

    fn contains(&self, number: u64) -> bool {
        let bit = number % CHUNK_LINES;
        self.chunks
            .get(&(number / CHUNK_LINES))
            .is_some_and(|words| words[(bit / 64) as usize] & (1 << (bit % 64)) != 0)
    }
}

/// Whether `target` belongs to this process's shard: by host for URLs, by
/// the line's bytes for lines that are not.
fn in_shard(shard: Option<Shard>, target: &Target, line: &[u8]) -> bool {
    let Some(shard) = shard else { return true };
    match target.url.as_ref().ok().and_then(|url| url.host_str()) {
        Some(host) => shard.includes(host.as_bytes()),
        None => shard.includes(line),
    }
}

/// Sends each URL line of one file; blank lines and `#` comments are skipped
/// but still counted, so line numbers match the file.
fn send_lines(sender: &mut Sender, name: &Arc<str>, mut reader: impl BufRead) -> io::Result<bool> {
    let mut buf = Vec::new();
    let mut number = 0u64;
    while let Some(full_len) = read_bounded_line(&mut reader, &mut buf, MAX_LINE)? {
        number += 1;
        let mut line = buf.as_slice();
        if number == 1 {
            line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        }
        let line = line.trim_ascii();
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        let source = Source::Line { name: name.clone(), line: number };
        let too_long = (full_len > MAX_LINE).then_some(full_len);
        let sent = sender.send(source, line, too_long);
        if !sent {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Reads one line into `buf` (without `\n`), keeping at most `max + 1` bytes
/// of it, and returns the line's full length; `None` at end of input.
fn read_bounded_line(reader: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Option<usize>> {
    buf.clear();
    let mut total = 0;
    loop {
        let available = match reader.fill_buf() {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok((total > 0).then_some(total));
        }
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], true),
            None => (available, false),
        };
        let keep = chunk.len().min((max + 1).saturating_sub(buf.len()));
        buf.extend_from_slice(&chunk[..keep]);
        total += chunk.len();
        let used = chunk.len() + usize::from(done);
        reader.consume(used);
        if done {
            return Ok(Some(total));
        }
    }
}

fn to_target(source: Source, line: &[u8], too_long: Option<usize>) -> Target {
    let url = match (too_long, std::str::from_utf8(line)) {
        (Some(length), _) => Err(format!("line is {length} bytes long; the limit is {MAX_LINE}")),
        (None, Ok(text)) => parse_url(text),
        (None, Err(e)) => Err(format!("not valid UTF-8 (byte {} of the line)", e.valid_up_to() + 1)),
    };
    let url = url.map_err(|reason| format!("invalid URL at {source}: {reason}"));
    let input = echo(line, url.is_ok());
    Target { source, input, url }
}

/// The line as shown back to the user: lossily decoded, its user-info
/// masked (before cutting, so no part of a password survives) and, if huge, cut.
fn echo(line: &[u8], valid: bool) -> String {
    let text = String::from_utf8_lossy(line);
    let masked = mask_userinfo(&text, valid);
    if masked.len() <= ECHO_LIMIT {
        return masked.into_owned();
    }
    let mut cut = ECHO_LIMIT;
    while !masked.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &masked[..cut])
}

/// Turns one trimmed line into the URL to check.
///
/// A line without a scheme (`example.com`, `example.com:8443/x`, `[::1]:80`)
/// is checked as `https://`. Only http and https are accepted; user-info and
/// the fragment are dropped, since neither is ever sent.
pub fn parse_url(text: &str) -> Result<Url, String> {
    let text = if has_scheme(text) { Cow::Borrowed(text) } else { Cow::Owned(format!("https://{text}")) };
    let mut url = Url::parse(&text).map_err(|e| statuscheck::explain_parse_error(&text, e))?;
    match url.scheme() {
        "http" | "https" => {}
        // `bob:secret@host` reads as the scheme `bob`: a user name is never
        // named in a message, so such a line gets no scheme quoted.
        _ if looks_like_userinfo(&text) => {
            return Err("a scheme other than http or https, or user-info without one: only http and https \
                        (write https://USER@HOST)"
                .into())
        }
        other => return Err(format!("scheme '{other}' is not supported: only http and https")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("no host".into());
    }
    if url.port() == Some(0) {
        return Err("port 0 cannot be connected to".into());
    }
    // Setting these cannot fail on an http(s) URL that has a host.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_fragment(None);
    Ok(url)
}

/// `user:password@host` without `//`: an `@` before any `/`.
fn looks_like_userinfo(text: &str) -> bool {
    !text.contains("://") && text.split('/').next().is_some_and(|authority| authority.contains('@'))
}

/// Whether the line names its own scheme. `host:port` looks like
/// `scheme:rest`, so a colon followed by digits (and then nothing, `/`, `?`
/// or `#`) is a port, while `javascript:…` or `mailto:…` is a scheme.
fn has_scheme(text: &str) -> bool {
    if text.contains("://") {
        return true;
    }
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    let is_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let port_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    let is_port = port_len > 0 && matches!(rest.as_bytes().get(port_len), None | Some(b'/' | b'?' | b'#'));
    is_scheme && !is_port
}

#[cfg(test)]
mod tests {
    use super::*;
    use statuscheck::Target as _;

    fn target(url: &str) -> Target {
        Target { source: Source::Arg(1), input: url.into(), url: parse_url(url) }
    }

    #[test]
    fn waiting_targets_come_back_whole() {
        let mut line = target("a.test/x");
        line.source = Source::Line { name: "list.txt".into(), line: 9 };
        let mut same = target("http://a.test/same");
        same.input = same.url.as_ref().unwrap().to_string();
        let invalid = target("ftp://a.test/");
        for t in [line, same, invalid] {
            let back = Target::unpark(t.clone().park());
            assert_eq!((&back.source, &back.input, &back.url), (&t.source, &t.input, &t.url));
        }
    }

    #[test]
    fn widths_answer_for_the_targets_read() {
        let (widths, mut widest) = (Widths::default(), 0);
        for (index, width) in [(0, 10), (1, 5), (2, 30), (3, 200), (4, 7)] {
            widths.note(index, width, &mut widest);
        }
        assert_eq!([0, 1, 2, 3, 4, 9].map(|read| widths.widest(read)), [0, 10, 10, 30, URL_COLUMN_CAP, 60]);
    }

    fn checked(text: &str) -> String {
        parse_url(text).unwrap().to_string()
    }

    #[test]
    fn lines_without_scheme_are_https() {
        assert_eq!(checked("example.com"), "https://example.com/");
        assert_eq!(checked("example.com:8443/x"), "https://example.com:8443/x");
        assert_eq!(checked("localhost:8080"), "https://localhost:8080/");
        assert_eq!(checked("[::1]:8080/h"), "https://[::1]:8080/h");
        assert_eq!(checked("http://example.com"), "http://example.com/");
    }

    #[test]
    fn a_user_name_without_a_scheme_is_never_named_in_the_error() {
        let err = parse_url("bob:S3cret@example.com/x").unwrap_err();
        assert!(!err.contains("bob") && !err.contains("S3cret"), "{err}");
        assert!(err.contains("only http and https"), "{err}");
        assert!(parse_url("gopher:host").unwrap_err().contains("scheme 'gopher'"));
    }

    #[test]
    fn other_schemes_are_refused() {
        for line in ["ftp://example.com/", "file:///etc/passwd", "javascript:alert(1)", "mailto:a@b.c"] {
            let err = parse_url(line).unwrap_err();
            assert!(err.contains("only http and https"), "{line}: {err}");
        }
    }

    #[test]
    fn bad_hosts_and_ports_are_refused() {
        assert!(parse_url("http://").is_err());
        assert!(parse_url("http://example.com:70000/").unwrap_err().contains("port"));
        assert!(parse_url("http://example.com:0/").unwrap_err().contains("port 0"));
        assert!(parse_url("http://exa mple.com/").is_err());
    }

    #[test]
    fn a_host_ending_in_a_number_says_what_happened() {
        for line in
            ["host.example.com.1150", "https://host.example.com.1150:8443/x", "http://u:S3cret@host.example.com.1150/"]
        {
            let err = parse_url(line).unwrap_err();
            assert!(
                err.starts_with("'host.example.com.1150' ends in a number, which URLs read as an IPv4 address"),
                "{err}"
            );
            assert!(!err.contains("S3cret"), "{err}");
        }
        assert_eq!(parse_url("10.0.0.300").unwrap_err(), "'10.0.0.300' is not a valid IPv4 address");
    }

    #[test]
    fn userinfo_and_fragment_are_dropped() {
        assert_eq!(checked("https://user:secret@example.com/p#top"), "https://example.com/p");
    }

    #[test]
    fn echoed_lines_never_keep_userinfo() {
        let echoed = |line: &str| to_target(Source::Arg(1), line.as_bytes(), None).input;
        assert_eq!(echoed("https://user:S3cret@example.com/a@b"), "https://***@example.com/a@b");
        assert_eq!(echoed("user:S3cret@example.com/x"), "***@example.com/x");
        assert_eq!(echoed("ftp://u:S3cret@x/"), "ftp://***@x/");
        assert_eq!(echoed("https://u:pa/ss@host/"), "https://***@host/", "not a URL: the password may hold '/'");
        assert_eq!(echoed("https://a@b@example.com/"), "https://***@example.com/");
        assert_eq!(echoed("example.com/@team"), "example.com/@team", "an '@' in the path is kept");
        assert_eq!(echoed("u:S3cret@example.com/?to=http://x/"), "***@example.com/?to=http://x/");
        let long = format!("https://u:S3cret@example.com/{}", "é".repeat(300));
        let echoed = echoed(&long);
        assert!(echoed.starts_with("https://***@example.com/") && echoed.ends_with("..."), "{echoed}");
        assert!(echoed.len() <= ECHO_LIMIT + 3);
    }

    #[test]
    fn idn_hosts_become_punycode() {
        assert_eq!(checked("https://bücher.example/"), "https://xn--bcher-kva.example/");
    }

    #[test]
    fn control_bytes_never_survive_into_the_url() {
        let url = parse_url("http://example.com/a%0d%0ab\rc").unwrap();
        assert!(url.as_str().bytes().all(|b| b.is_ascii_graphic()), "{url}");
    }

    fn sender(tx: mpsc::Sender<Target>, runtime: &tokio::runtime::Runtime) -> Sender {
        let runtime = runtime.handle().clone();
        Sender { tx, runtime, next_index: 0, shard: None, answered: None, widths: Widths::default(), widest: 0 }
    }

    fn targets(text: &[u8]) -> Vec<Target> {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (tx, mut rx) = mpsc::channel(1000);
        let mut sender = sender(tx, &runtime);
        assert!(send_lines(&mut sender, &Arc::from("list.txt"), text).unwrap());
        drop(sender);
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }

    #[test]
    fn a_full_channel_waits_for_room_and_loses_no_line() {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
        let (tx, mut rx) = mpsc::channel::<Target>(16);
        let reader = runtime.spawn(async move {
            let mut got = Vec::new();
            while let Some(target) = rx.recv().await {
                got.push(target.input);
                tokio::task::yield_now().await;
            }
            got
        });
        let mut sender = sender(tx, &runtime);
        let text: String = (0..100).map(|i| format!("http://h{i}.test/\n")).collect();
        assert!(send_lines(&mut sender, &Arc::from("list.txt"), text.as_bytes()).unwrap());
        drop(sender);
        let got = runtime.block_on(reader).unwrap();
        let want: Vec<String> = (0..100).map(|i| format!("http://h{i}.test/")).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_closed_channel_stops_the_reader() {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (tx, rx) = mpsc::channel(2);
        drop(rx);
        let mut sender = sender(tx, &runtime);
        assert!(!send_lines(&mut sender, &Arc::from("list.txt"), &b"a.test\nb.test\nc.test\n"[..]).unwrap());
    }

    #[test]
    fn comments_blanks_bom_and_crlf() {
        let got = targets(b"\xEF\xBB\xBF# top\r\n\r\n  example.com  \r\n#x\nhttp://a.test/\n");
        let summary: Vec<_> = got.iter().zip(0..).map(|(t, i)| (i, t.source.to_string(), t.input.clone())).collect();
        assert_eq!(
            summary,
            [(0, "list.txt:3".into(), "example.com".into()), (1, "list.txt:5".into(), "http://a.test/".into())]
        );
        assert!(got.iter().all(|t| t.url.is_ok()));
    }

    #[test]
    fn bad_lines_become_invalid_targets_naming_file_and_line() {
        let got = targets(b"ftp://x/\n\xff\xfe\nhttps://ok.test/\n");
        assert_eq!(got.len(), 3);
        assert!(got[0].url.as_ref().unwrap_err().starts_with("invalid URL at list.txt:1: scheme 'ftp'"));
        assert!(got[1].url.as_ref().unwrap_err().contains("list.txt:2: not valid UTF-8"));
        assert_eq!(got[1].input, "\u{FFFD}\u{FFFD}");
        assert!(got[2].url.is_ok());
    }

    fn answered(previous: &str) -> Answered {
        let path =
            std::env::temp_dir().join(format!("statuscheck-resume-{}-{}.jsonl", std::process::id(), previous.len()));
        std::fs::write(&path, previous).unwrap();
        let answered = Answered::load(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        answered
    }

    #[test]
    fn resume_skips_answered_lines_by_source() {
        let answered = answered(
            "{\"source\":\"list.txt:1\",\"input\":\"a.test\"}\n\
             {\"source\":\"list.txt:200\",\"input\":\"b.test\"}\n\
             {\"source\":\"arg:2\",\"input\":\"c.test\"}\n{\"source\":\"list.t",
        );
        let line = |n| Source::Line { name: Arc::from("list.txt"), line: n };
        assert!(answered.contains(&line(1)) && answered.contains(&line(200)));
        assert!(!answered.contains(&line(2)) && !answered.contains(&line(199)));
        assert!(!answered.contains(&Source::Line { name: Arc::from("other.txt"), line: 1 }));
        assert!(answered.contains(&Source::Arg(2)) && !answered.contains(&Source::Arg(1)));
        assert!(answered.was_cut());
    }

    #[test]
    fn resume_line_numbers_of_any_size_cost_a_chunk() {
        let answered =
            answered("{\"source\":\"x:18446744073709551615\"}\n{\"source\":\"x:1000000000\"}\n{\"source\":\"x:0\"}\n");
        let line = |n| Source::Line { name: Arc::from("x"), line: n };
        assert!(answered.contains(&line(u64::MAX)) && answered.contains(&line(1_000_000_000)));
        assert!(!answered.contains(&line(u64::MAX - 1)) && !answered.contains(&line(999_999_999)));
        assert_eq!(answered.files["x"].chunks.len(), 3);
        assert!(!answered.was_cut() && answered.open_end.is_none());
    }

    #[test]
    fn line_sets_are_exact_across_chunk_edges() {
        let mut set = LineSet::default();
        let numbers = [0, 63, 64, CHUNK_LINES - 1, CHUNK_LINES, 5 * CHUNK_LINES + 7];
        for n in numbers {
            set.insert(n);
        }
        for n in 0..7 * CHUNK_LINES {
            assert_eq!(set.contains(n), numbers.contains(&n), "{n}");
        }
    }

    #[test]
    fn huge_lines_are_cut_not_held() {
        let mut text = vec![b'a'; 1_000_000];
        text.extend_from_slice(b"\nexample.com\n");
        let got = targets(&text);
        assert_eq!(got.len(), 2);
        assert!(got[0].url.as_ref().unwrap_err().contains("1000000 bytes long"));
        assert!(got[0].input.len() <= ECHO_LIMIT + 3);
        assert_eq!(got[1].source.to_string(), "list.txt:2");
    }

    #[test]
    fn bounded_line_reader_counts_but_does_not_keep() {
        let mut reader = BufReader::with_capacity(7, &b"0123456789abc\nxy\n\nlast"[..]);
        let mut buf = Vec::new();
        assert_eq!(read_bounded_line(&mut reader, &mut buf, 4).unwrap(), Some(13));
        assert_eq!(buf, b"01234");
        assert_eq!(read_bounded_line(&mut reader, &mut buf, 4).unwrap(), Some(2));
        assert_eq!(buf, b"xy");
        assert_eq!(read_bounded_line(&mut reader, &mut buf, 4).unwrap(), Some(0));
        assert_eq!(read_bounded_line(&mut reader, &mut buf, 4).unwrap(), Some(4));
        assert_eq!(buf, b"last");
        assert_eq!(read_bounded_line(&mut reader, &mut buf, 4).unwrap(), None);
    }
}
