//! Reading the prefix of a body that body expectations look at: the framing
//! the head names (`Content-Length`, `Transfer-Encoding: chunked`, or until
//! the server closes) taken off, at most [`BODY_LIMIT`] bytes kept, nothing
//! decompressed. Pure functions, no I/O: the caller feeds what it reads, so
//! every rule is unit-tested, and a malformed chunk ends the body as a cut.

use std::fmt;
use std::time::Duration;

use super::Cut;
use crate::result::{HumanDuration, BODY_LIMIT};

/// The longest chunk-size line (size and extensions) read.
const MAX_CHUNK_LINE: usize = 4096;

/// Whether an answer to `request` with this final code has a body: not
/// an answer to `HEAD`, nor a 1xx, 204 or 304 (RFC 9110 6.4.1).
pub fn has_body(request: &[u8], code: u16) -> bool {
    !request.starts_with(b"HEAD ") && !matches!(code, 100..=199 | 204 | 304)
}

/// Why a body was read only in part; shown in an unmet expectation's `got`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyCut {
    /// It went on past [`BODY_LIMIT`]: only the prefix was read.
    Limit,
    /// The server closed the connection before the end its framing named.
    Eof,
    /// The check's deadline came (after this timeout).
    Deadline(Duration),
    /// The chunked framing was malformed, in this way.
    Framing(&'static str),
    /// Reading failed, for this reason.
    Failed(String),
    /// The head did not end (how, and the check's timeout): no body came.
    Head(Cut, Duration),
}

impl fmt::Display for BodyCut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyCut::Limit => write!(f, "the {} KiB limit", BODY_LIMIT / 1024),
            BodyCut::Eof => f.write_str("the server closed the connection before the body's end"),
            BodyCut::Deadline(timeout) => write!(f, "the timeout of {}", HumanDuration(*timeout)),
            BodyCut::Framing(what) => write!(f, "malformed chunked framing: {what}"),
            BodyCut::Failed(reason) => write!(f, "reading failed: {reason}"),
            BodyCut::Head(cut, timeout) => write!(f, "the head {}", cut.describe(*timeout)),
        }
    }
}

/// How the body's end is found (RFC 9112 6.3).
#[derive(Debug)]
enum Framing {
    /// This many bytes are still to come.
    Length(u64),
    Chunked(Chunks),
    /// Until the server closes the connection.
    Close,
}

/// Reads a body from chunks however they are split, keeping at most
/// [`BODY_LIMIT`] bytes of it.
#[derive(Debug)]
pub struct BodyReader {
    framing: Framing,
    bytes: Vec<u8>,
    cut: Option<BodyCut>,
    done: bool,
}

impl BodyReader {
    /// A reader for the body of a head with these fields (lower-cased
    /// names): chunked if the last transfer coding is, until the server
    /// closes for any other coding, else `Content-Length` if every value
    /// given agrees, else until the server closes.
    pub fn new(headers: &[(String, String)]) -> Self {
        let framing = match (last_transfer_coding(headers), content_length(headers)) {
            (Some(coding), _) if coding.eq_ignore_ascii_case("chunked") => Framing::Chunked(Chunks::default()),
            (Some(_), _) | (None, None) => Framing::Close,
            (None, Some(length)) => Framing::Length(length),
        };
        let expected = match framing {
            Framing::Length(length) => usize::try_from(length).unwrap_or(BODY_LIMIT).min(BODY_LIMIT),
            _ => 0,
        };
        let mut reader = BodyReader { framing, bytes: Vec::with_capacity(expected), cut: None, done: false };
        reader.done = matches!(reader.framing, Framing::Length(0));
        reader
    }

    /// Takes the next bytes received; `true` once the body is as complete
    /// as it will be (its end, the limit, or malformed framing).
    pub fn feed(&mut self, input: &[u8]) -> bool {
        if self.done {
            return true;
        }
        let step = match &mut self.framing {
            Framing::Length(left) => {
                let take = usize::try_from(*left).unwrap_or(usize::MAX).min(input.len());
                *left -= take as u64;
                let step = keep(&mut self.bytes, &input[..take]);
                if *left == 0 && step == Step::More {
                    Step::Done
                } else {
                    step
                }
            }
            Framing::Close => keep(&mut self.bytes, input),
            Framing::Chunked(chunks) => chunks.feed(input, &mut self.bytes).unwrap_or_else(Step::Malformed),
        };
        match step {
            Step::More => {}
            Step::Done => self.done = true,
            Step::Full => self.stop(BodyCut::Limit),
            Step::Malformed(what) => self.stop(BodyCut::Framing(what)),
        }
        self.done
    }

    /// The server closed the connection: the end of a body read until
    /// then, a cut of any other.
    pub fn eof(&mut self) {
        match self.framing {
            Framing::Close => self.done = true,
            _ => self.stop(BodyCut::Eof),
        }
    }

    /// Reading ends here, for this reason, unless the body already ended.
    pub fn stop(&mut self, cut: BodyCut) {
        if !self.done {
            (self.cut, self.done) = (Some(cut), true);
        }
    }

    /// What was read, and why it ended early if it did.
    pub fn finish(self) -> (Vec<u8>, Option<BodyCut>) {
        (self.bytes, self.cut)
    }
}

/// What a piece of input came to.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// All of it taken; more to come.
    More,
    /// The body ended.
    Done,
    /// The body goes on past the limit.
    Full,
    Malformed(&'static str),
}

/// Appends what fits under [`BODY_LIMIT`]; `Full` if not all of it did.
fn keep(bytes: &mut Vec<u8>, data: &[u8]) -> Step {
    let room = BODY_LIMIT - bytes.len();
    bytes.extend_from_slice(&data[..data.len().min(room)]);
    if data.len() > room {
        Step::Full
    } else {
        Step::More
    }
}

/// The last transfer coding named, over every `Transfer-Encoding` field.
fn last_transfer_coding(headers: &[(String, String)]) -> Option<&str> {
    headers
        .iter()
        .filter(|(name, _)| name == "transfer-encoding")
        .flat_map(|(_, value)| value.split(','))
        .map(str::trim)
        .rfind(|coding| !coding.is_empty())
}

/// The `Content-Length`, if every value of every such field is the same
/// number (a list of one repeated value is allowed, RFC 9110 8.6).
fn content_length(headers: &[(String, String)]) -> Option<u64> {
    let mut values = headers
        .iter()
        .filter(|(name, _)| name == "content-length")
        .flat_map(|(_, value)| value.split(','))
        .map(|value| value.trim());
    let first = values.next()?;
    let digits = |value: &str| !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    if !digits(first) || values.any(|other| other != first) {
        return None;
    }
    first.parse().ok()
}

/// The chunked coding (RFC 9112 7.1), taken off as bytes come. Trailers
/// are not read: the body is complete at its last chunk.
#[derive(Debug)]
enum Chunks {
    /// In a chunk-size line: the size so far, its digits, whether the
    /// extensions began, and the line's length so far.
    Size {
        size: u64,
        digits: u8,
        extension: bool,
        length: usize,
    },
    /// In a chunk's data, with this much still to come.
    Data(u64),
    /// After a chunk's data, before its line end (`\r` seen or not).
    DataEnd {
        cr: bool,
    },
    Done,
}

impl Default for Chunks {
    fn default() -> Self {
        Chunks::Size { size: 0, digits: 0, extension: false, length: 0 }
    }
}

impl Chunks {
    /// Takes `input`, appending the data it holds to `out` (never past
    /// [`BODY_LIMIT`]).
    fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<Step, &'static str> {
        while !input.is_empty() {
            match self {
                Chunks::Data(left) => {
                    let take = usize::try_from(*left).unwrap_or(usize::MAX).min(input.len());
                    if keep(out, &input[..take]) == Step::Full {
                        return Ok(Step::Full);
                    }
                    *left -= take as u64;
                    input = &input[take..];
                    if *left == 0 {
                        *self = Chunks::DataEnd { cr: false };
                    }
                }
                _ => {
                    self.byte(input[0])?;
                    input = &input[1..];
                }
            }
            if let Chunks::Done = self {
                return Ok(Step::Done);
            }
        }
        Ok(Step::More)
    }

    /// One byte of a chunk-size line or of the line end after data.
    fn byte(&mut self, byte: u8) -> Result<(), &'static str> {
        match self {
            Chunks::Size { size, digits, extension, length } => {
                *length += 1;
                if *length > MAX_CHUNK_LINE {
                    return Err("a chunk-size line over 4 KiB");
                }
                match byte {
                    b'\n' if *digits == 0 => return Err("a chunk without a size"),
                    b'\n' if *size == 0 => *self = Chunks::Done,
                    b'\n' => *self = Chunks::Data(*size),
                    _ if *extension => {}
                    b';' | b' ' | b'\t' | b'\r' if *digits > 0 => *extension = true,
                    _ => {
                        let digit = (byte as char).to_digit(16).ok_or("a chunk size that is not hexadecimal")?;
                        if *digits == 16 {
                            return Err("a chunk size over 16 hexadecimal digits");
                        }
                        (*size, *digits) = ((*size << 4) | u64::from(digit), *digits + 1);
                    }
                }
            }
            Chunks::DataEnd { cr } => match byte {
                b'\r' if !*cr => *cr = true,
                b'\n' => *self = Chunks::default(),
                _ => return Err("no line end after a chunk's data"),
            },
            Chunks::Data(_) | Chunks::Done => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    /// Feeds `input` in pieces of `size` bytes, then the end of the
    /// connection if the body had not ended.
    fn read(headers: &[(&str, &str)], input: &[u8], size: usize) -> (Vec<u8>, Option<BodyCut>) {
        let mut reader = BodyReader::new(&fields(headers));
        if !input.chunks(size.max(1)).any(|piece| reader.feed(piece)) {
            reader.eof();
        }
        reader.finish()
    }

    const CHUNKED: &[(&str, &str)] = &[("transfer-encoding", "chunked")];

    #[test]
    fn content_length_reads_that_many_bytes() {
        let length = [("content-length", "5")];
        assert_eq!(read(&length, b"hello, and more", 100), (b"hello".to_vec(), None));
        assert_eq!(read(&length, b"hel", 1), (b"hel".to_vec(), Some(BodyCut::Eof)));
        let mut zero = BodyReader::new(&fields(&[("content-length", "0")]));
        assert!(zero.feed(b"ignored"));
        assert_eq!(zero.finish(), (vec![], None));
        // Agreeing duplicates are one length; disagreeing ones none.
        assert_eq!(read(&[("content-length", "2, 2")], b"abc", 1).0, b"ab");
        let disagree = [("content-length", "2"), ("content-length", "3")];
        assert_eq!(read(&disagree, b"abcd", 1), (b"abcd".to_vec(), None), "read until close");
        assert_eq!(read(&[("content-length", "-1")], b"abcd", 3), (b"abcd".to_vec(), None));
    }

    #[test]
    fn chunked_framing_is_taken_off_however_split() {
        let body = b"4;name=value\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\n";
        for size in 1..=body.len() {
            assert_eq!(read(CHUNKED, body, size), (b"Wikipedia in\r\n\r\nchunks.".to_vec(), None), "size {size}");
        }
        // Bare LF line ends, upper-case hex, a coding list ending in chunked.
        let body = b"A\nabcdefghij\n0\n\n";
        assert_eq!(read(&[("transfer-encoding", "gzip, chunked")], body, 3).0, b"abcdefghij");
        // Any other last coding is read until close, as sent.
        assert_eq!(read(&[("transfer-encoding", "chunked, gzip")], b"3\r\nabc", 2).0, b"3\r\nabc");
    }

    #[test]
    fn chunked_over_content_length() {
        let both = [("content-length", "2"), ("transfer-encoding", "chunked")];
        assert_eq!(read(&both, b"3\r\nabc\r\n0\r\n\r\n", 4), (b"abc".to_vec(), None));
    }

    #[test]
    fn malformed_chunks_cut_the_body() {
        let cases: [(&[u8], &str); 5] = [
            (b"3\r\nabc\r\nzz\r\n", "a chunk size that is not hexadecimal"),
            (b"3\r\nabcX", "no line end after a chunk's data"),
            (b"\n", "a chunk without a size"),
            (b"11112222333344445\r\n", "a chunk size over 16 hexadecimal digits"),
            (b";x\r\n", "a chunk size that is not hexadecimal"),
        ];
        for (input, what) in cases {
            for size in [1, input.len()] {
                let (_, cut) = read(CHUNKED, input, size);
                assert_eq!(cut, Some(BodyCut::Framing(what)), "{input:?} by {size}");
            }
        }
        let mut long = b"1;".to_vec();
        long.resize(MAX_CHUNK_LINE + 10, b'x');
        assert_eq!(read(CHUNKED, &long, 1000).1, Some(BodyCut::Framing("a chunk-size line over 4 KiB")));
        // The largest size is fine, and ends as a cut at the limit.
        let (bytes, cut) = read(CHUNKED, &[&b"ffffffffffffffff\r\n"[..], &[b'a'; BODY_LIMIT + 1]].concat(), 4096);
        assert_eq!((bytes.len(), cut), (BODY_LIMIT, Some(BodyCut::Limit)));
        let (bytes, cut) = read(CHUNKED, b"5\r\nab", 1);
        assert_eq!((bytes, cut), (b"ab".to_vec(), Some(BodyCut::Eof)));
    }

    #[test]
    fn at_most_the_limit_is_kept() {
        let endless = vec![b'x'; BODY_LIMIT + 10];
        for size in [1000, BODY_LIMIT, endless.len()] {
            let (bytes, cut) = read(&[], &endless, size);
            assert_eq!((bytes.len(), cut), (BODY_LIMIT, Some(BodyCut::Limit)));
        }
        let exact = vec![b'x'; BODY_LIMIT];
        assert_eq!(read(&[("content-length", "65536")], &exact, 7000).1, None);
        let huge = [("content-length", "99999999999999999999")];
        assert_eq!(read(&huge, &exact, 7000).1, None, "not a number we read: until close");
        let (bytes, cut) = read(&[("content-length", "9999999999")], &endless, 7000);
        assert_eq!((bytes.len(), cut), (BODY_LIMIT, Some(BodyCut::Limit)));
    }

    #[test]
    fn stopping_keeps_what_was_read() {
        let mut reader = BodyReader::new(&[]);
        assert!(!reader.feed(b"partial"));
        reader.stop(BodyCut::Deadline(Duration::from_secs(2)));
        reader.stop(BodyCut::Eof);
        assert_eq!(reader.finish(), (b"partial".to_vec(), Some(BodyCut::Deadline(Duration::from_secs(2)))));
        let mut ended = BodyReader::new(&fields(&[("content-length", "2")]));
        assert!(ended.feed(b"ok"));
        ended.stop(BodyCut::Deadline(Duration::from_secs(2)));
        assert_eq!(ended.finish().1, None, "a body that ended was not cut");
    }

    #[test]
    fn which_answers_have_a_body() {
        assert!(has_body(b"GET / HTTP/1.1\r\n", 200));
        assert!(has_body(b"GET / HTTP/1.1\r\n", 404));
        assert!(!has_body(b"HEAD / HTTP/1.1\r\n", 200));
        assert!(!has_body(b"GET / HTTP/1.1\r\n", 204));
        assert!(!has_body(b"GET / HTTP/1.1\r\n", 304));
    }

    #[test]
    fn cuts_say_why_in_words() {
        assert_eq!(BodyCut::Limit.to_string(), "the 64 KiB limit");
        assert_eq!(BodyCut::Deadline(Duration::from_secs(2)).to_string(), "the timeout of 2s");
        assert_eq!(
            BodyCut::Head(Cut::Deadline, Duration::from_secs(2)).to_string(),
            "the head was not complete after 2s"
        );
    }
}
