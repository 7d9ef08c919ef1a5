//! Where URLs come from: `-u` arguments, files and standard input, read line
//! by line into [`Target`]s and streamed to the runner through a bounded
//! channel, so a list of any length uses the same memory.
//!
//! A line that is not a checkable URL still becomes a target (with the reason
//! in `url`), so it gets its own result row and never stops the run.
//!
//! The targets themselves are [`target`]'s, the lines an earlier run
//! already answered (`--resume`) are [`resume`]'s, and the URLs of a checks
//! file (`--checks`), with their entries, are [`checks`]'s.

mod checks;
mod resume;
mod target;

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use anyhow::{bail, Context};
use statuscheck::Profile;
use tokio::sync::mpsc;

pub use self::checks::check_budgets;
use self::checks::Planned;
pub use self::resume::{mend_resume_output, Answered, Mended};
pub use self::target::parse_url;
use self::target::{to_target, url_width};
pub use self::target::{Checked, Entry, Target, Widths};
use super::shard::Shard;

/// Lines longer than this are reported as invalid, and only this much of
/// them is ever held in memory.
pub const MAX_LINE: usize = 16 * 1024;

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
    File {
        name: Arc<str>,
        file: File,
    },
    /// A checks file, read and judged whole when opened.
    Checks {
        name: Arc<str>,
        planned: Vec<Planned>,
    },
}

/// Opens every input up front, the checks files first; a missing file, a
/// directory, no permission or a bad checks file is an error for the whole
/// run (exit 2), reported before anything is checked. `base` is the command
/// line's profile, the first layer of every checks file entry's.
pub fn open(checks: &[PathBuf], paths: &[PathBuf], base: &Profile) -> anyhow::Result<Vec<Input>> {
    let checks = checks.iter().map(|path| open_checks(path, base));
    checks.chain(paths.iter().map(|path| open_one(path))).collect()
}

fn open_checks(path: &Path, base: &Profile) -> anyhow::Result<Input> {
    let Input::File { name, file } = open_one(path)? else {
        bail!("--checks reads a file, not standard input");
    };
    let planned = checks::read(&name, file, base)?;
    Ok(Input::Checks { name, planned })
}

/// How many targets the checks files of `inputs` hold in `shard`, for the
/// progress line's total.
pub fn planned_count(inputs: &[Input], shard: Option<Shard>) -> u64 {
    let planned = inputs.iter().flat_map(|input| match input {
        Input::Checks { planned, .. } => planned.as_slice(),
        _ => &[],
    });
    let ours = |p: &&Planned| {
        shard.is_none() || in_shard(shard, &to_target(Source::Arg(0), p.url.as_bytes(), None), p.url.as_bytes())
    };
    planned.filter(ours).count() as u64
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
                Input::Checks { name, planned } => match send_planned(&mut sender, &name, planned) {
                    true => continue,
                    false => return Ok(()),
                },
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
/// `planned` is the URLs of the checks files (see [`planned_count`]).
pub fn count_in_background(
    urls: &[String],
    paths: &[PathBuf],
    shard: Option<Shard>,
    planned: u64,
) -> Arc<OnceLock<u64>> {
    let total = Arc::new(OnceLock::new());
    if !paths.iter().all(|path| path.as_os_str() != "-" && is_regular(path)) {
        return total;
    }
    let (urls, paths, result) = (urls.to_vec(), paths.to_vec(), total.clone());
    std::thread::spawn(move || {
        let ours = |line: &[u8]| shard.is_none() || in_shard(shard, &to_target(Source::Arg(0), line, None), line);
        let mut count = planned + urls.iter().filter(|url| ours(url.trim().as_bytes())).count() as u64;
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
        self.send_entry(source, line, too_long, None)
    }

    /// The same, for a URL of a checks file `entry`.
    fn send_entry(&mut self, source: Source, line: &[u8], too_long: Option<usize>, entry: Option<Arc<Entry>>) -> bool {
        if self.answered.as_ref().is_some_and(|answered| answered.contains(&source)) {
            return true;
        }
        let mut target = to_target(source, line, too_long);
        target.entry = entry;
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

/// Sends the URLs of one checks file, each named by its line in the file.
fn send_planned(sender: &mut Sender, name: &Arc<str>, planned: Vec<Planned>) -> bool {
    planned.into_iter().all(|Planned { line, url, entry }| {
        sender.send_entry(Source::Line { name: name.clone(), line }, url.as_bytes(), None, Some(entry))
    })
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

#[cfg(test)]
mod tests {
    use super::target::ECHO_LIMIT;
    use super::*;

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
