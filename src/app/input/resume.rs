//! `--resume`: which lines an earlier `--format json` run already answered
//! ([`Answered`], kept one bit per line in [`LineSet`]s), and mending the end
//! of that file when the new output is appended to it ([`mend_resume_output`]).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use anyhow::Context;

use super::{read_bounded_line, Source};

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

    pub(super) fn contains(&self, source: &Source) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

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
}
