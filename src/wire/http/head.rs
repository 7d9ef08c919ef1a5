//! Reading a response head: the status line and the header fields a check
//! keeps, from chunks however they are split, within fixed limits
//! ([`HeadParser`]). Pure functions, no I/O, so every rule is unit-tested.

use crate::result::{HttpVersion, Response};

/// The longest status line we read before calling the response malformed.
pub const MAX_STATUS_LINE: usize = 8 * 1024;

/// The most of a response head we ever read: every interim (1xx) head and
/// the final one together. curl's limit (MAX_HTTP_RESP_HEADER_SIZE), so any
/// head curl accepts, we read whole.
pub const MAX_HEAD: usize = 300 * 1024;

/// The longest header line we keep, curl's per-line limit
/// (CURL_MAX_HTTP_HEADER). Only the fields a check uses are kept at all
/// (see [`HeadParser::new`]), so a check holds at most this much of a head.
pub const MAX_FIELD_LINE: usize = 100 * 1024;

/// Header names longer than this are no name we keep (unless a rule says
/// otherwise, see [`Fields::longest_name`]): such a line is skipped before
/// its colon arrives.
pub const LONGEST_KEPT_NAME: usize = 64;

/// How many received bytes a protocol error quotes.
const QUOTE_LIMIT: usize = 64;

/// `Retry-After` in its delay-seconds form (the HTTP-date form is not read).
pub fn retry_after_seconds(value: &str) -> Option<u64> {
    value.trim().parse().ok()
}

/// Why a final head ended before its blank line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// It was still going at [`MAX_HEAD`].
    Limit,
    /// The server closed the connection.
    Eof,
    /// The check's deadline came first.
    Deadline,
}

impl Cut {
    /// How a head was cut, in words that follow "the head": `is over 300
    /// KiB`, or `was not complete after 2s` (`timeout`, the check's).
    pub fn describe(self, timeout: std::time::Duration) -> String {
        match self {
            Cut::Limit => format!("is over {} KiB", MAX_HEAD / 1024),
            Cut::Eof => "ended (the server closed the connection)".into(),
            Cut::Deadline => format!("was not complete after {}", crate::result::HumanDuration(timeout)),
        }
    }
}

/// A final response head, as much of it as was read.
#[derive(Debug)]
pub struct Head {
    pub response: Response,
    /// Header fields, names lower-cased, in arrival order; empty when the
    /// code's headers were not wanted.
    pub headers: Vec<(String, String)>,
    /// `Some` when the headers were wanted but did not all arrive; the ones
    /// in `headers` did, each whole.
    pub cut: Option<Cut>,
}

/// What [`HeadParser::feed`] made of a chunk.
#[derive(Debug, PartialEq, Eq)]
pub enum Fed {
    /// Read on.
    More,
    /// The head is as complete as it will be; `used` bytes of the chunk
    /// belonged to it (the rest is body or, after CONNECT, the tunnel).
    Done { used: usize },
}

/// Where in the response the parser is.
#[derive(Debug, PartialEq, Eq)]
enum Part {
    StatusLine,
    /// The header fields of a 1xx, read to their blank line and dropped.
    Interim,
    Headers,
    Done,
}

/// What of a final head is read: whether a code's header fields are read
/// (if not, the head is done at its status line), and which fields are kept
/// (by lower-cased name; the bytes of the others are counted toward the
/// limit but never held). A trait object, so that a rule made of the
/// expectations of a check costs a parser no more room than a fixed one.
pub trait Fields: Sync {
    /// Whether the header fields of a final head with this code are read.
    fn reads(&self, code: u16) -> bool;
    /// Whether the field of this lower-cased name is kept.
    fn keeps(&self, name: &str) -> bool;
    /// The longest name kept: a line longer than this without a colon yet
    /// is skipped.
    fn longest_name(&self) -> usize {
        LONGEST_KEPT_NAME
    }
}

/// A fixed rule: two functions.
#[derive(Clone, Copy, Debug)]
pub struct Fixed {
    pub reads: fn(u16) -> bool,
    pub keeps: fn(&str) -> bool,
}

impl Fields for Fixed {
    fn reads(&self, code: u16) -> bool {
        (self.reads)(code)
    }

    fn keeps(&self, name: &str) -> bool {
        (self.keeps)(name)
    }
}

/// Reads a response head from chunks however they are split: line ends are
/// found across chunk boundaries, interim 1xx heads are skipped (RFC 9110
/// 15.2), header fields are kept as each line completes, and all heads
/// together are bounded by [`MAX_HEAD`]. No I/O: the caller feeds it.
pub struct HeadParser<'a> {
    /// Which heads are read past their status line, which fields kept.
    fields: &'a dyn Fields,
    part: Part,
    /// The line being read, without its `\n` (bounded by the limits).
    line: Vec<u8>,
    /// The line being read is one we do not keep: its bytes are dropped.
    skipping: bool,
    /// The last header line was kept (so a folded continuation of it is too).
    last_kept: bool,
    /// Bytes of head taken so far, every head together.
    taken: usize,
    interim: usize,
    response: Option<Response>,
    headers: Vec<(String, String)>,
    cut: Option<Cut>,
}

impl std::fmt::Debug for HeadParser<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeadParser").field("part", &self.part).field("taken", &self.taken).finish_non_exhaustive()
    }
}

impl<'a> HeadParser<'a> {
    /// A parser that reads and keeps what `fields` says.
    pub fn new(fields: &'a dyn Fields) -> Self {
        HeadParser {
            fields,
            part: Part::StatusLine,
            line: Vec::with_capacity(256),
            skipping: false,
            last_kept: false,
            taken: 0,
            interim: 0,
            response: None,
            headers: Vec::new(),
            cut: None,
        }
    }

    /// Takes the next bytes received. An error is a protocol error: bytes
    /// that cannot be a status line, a malformed or too long one, a `101`
    /// we never asked for, or interim heads filling the limit.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Fed, String> {
        let mut used = 0;
        while used < chunk.len() && self.part != Part::Done {
            let room = MAX_HEAD - self.taken;
            if room == 0 {
                break;
            }
            let rest = &chunk[used..chunk.len().min(used + room)];
            let newline = rest.iter().position(|&b| b == b'\n');
            let piece = &rest[..newline.unwrap_or(rest.len())];
            let taken = piece.len() + usize::from(newline.is_some());
            self.taken += taken;
            used += taken;
            let held = if self.skipping { piece.len() } else { self.hold(piece) };
            if self.part == Part::StatusLine {
                self.check_status_line_so_far()?;
            } else {
                self.skip_unless_kept();
            }
            if self.part == Part::Headers && self.line.len() > MAX_FIELD_LINE {
                // The head ends at the first byte over the limit, however
                // the reads split it: the rest of the chunk is not used.
                let unused = piece.len() - held + usize::from(newline.is_some());
                (self.taken, used) = (self.taken - unused, used - unused);
                self.stop(Cut::Limit);
                break;
            }
            if newline.is_some() {
                let mut line = std::mem::take(&mut self.line);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if std::mem::take(&mut self.skipping) {
                    self.last_kept = false;
                } else {
                    self.on_line(&line)?;
                }
            }
        }
        match self.part {
            Part::Done => Ok(Fed::Done { used }),
            _ if self.taken < MAX_HEAD => Ok(Fed::More),
            Part::Headers => {
                self.stop(Cut::Limit);
                Ok(Fed::Done { used })
            }
            _ => Err(format!(
                "no final response in the first {} KiB: {} interim (1xx) responses",
                MAX_HEAD / 1024,
                self.interim
            )),
        }
    }

    /// The server closed the connection. A status line without its line
    /// end still counts (liberal servers), a head without its blank line is
    /// [`Cut::Eof`]; nothing at all, or only interim heads, is an error.
    pub fn eof(&mut self) -> Result<(), String> {
        match self.part {
            Part::StatusLine if self.taken == 0 => {
                Err("empty response: the server closed the connection without a byte".into())
            }
            Part::StatusLine if !self.line.is_empty() => {
                let line = std::mem::take(&mut self.line);
                self.on_line(line.strip_suffix(b"\r").unwrap_or(&line))?;
                match self.part {
                    Part::Headers => self.stop(Cut::Eof),
                    Part::Done => {}
                    _ => return Err(self.closed_after_interim()),
                }
                Ok(())
            }
            Part::StatusLine | Part::Interim => Err(self.closed_after_interim()),
            Part::Headers => {
                self.stop(Cut::Eof);
                Ok(())
            }
            Part::Done => Ok(()),
        }
    }

    /// The deadline came: what was read is all there is.
    pub fn deadline(&mut self) {
        if self.part == Part::Headers {
            self.stop(Cut::Deadline);
        }
    }

    /// The final response's status, once its status line is read.
    pub fn status(&self) -> Option<&Response> {
        self.response.as_ref()
    }

    /// The final head; `None` until its status line was read.
    pub fn into_head(self) -> Option<Head> {
        Some(Head { response: self.response?, headers: self.headers, cut: self.cut })
    }

    /// Adds `piece` to the line being read, but never past the limit of the
    /// part being read: one byte over it is enough to know the line is too
    /// long, so a big chunk cannot make the parser hold more than that,
    /// whatever the caller's reads return.
    /// Returns how many bytes of `piece` it holds.
    fn hold(&mut self, piece: &[u8]) -> usize {
        let limit = match self.part {
            Part::StatusLine => MAX_STATUS_LINE,
            _ => MAX_FIELD_LINE + 1,
        };
        let held = piece.len().min(limit.saturating_sub(self.line.len()));
        self.line.extend_from_slice(&piece[..held]);
        held
    }

    /// Gives up at once on bytes that cannot grow into a status line, or
    /// a status line longer than [`MAX_STATUS_LINE`].
    fn check_status_line_so_far(&self) -> Result<(), String> {
        if !could_be_status_line(&self.line) {
            return Err(not_http(&self.line));
        }
        if self.line.len() >= MAX_STATUS_LINE {
            return Err(format!("status line too long: no line end in the first {MAX_STATUS_LINE} bytes"));
        }
        Ok(())
    }

    /// One whole line, without its line end.
    fn on_line(&mut self, line: &[u8]) -> Result<(), String> {
        match self.part {
            Part::StatusLine => {
                let response = parse_status_line(line)?;
                match response.code {
                    101 => return Err("unsolicited 101 Switching Protocols: no upgrade was asked for".into()),
                    100..=199 => {
                        self.interim += 1;
                        self.part = Part::Interim;
                    }
                    code => {
                        self.part = if self.fields.reads(code) { Part::Headers } else { Part::Done };
                        self.response = Some(response);
                    }
                }
            }
            Part::Interim if line.is_empty() => self.part = Part::StatusLine,
            Part::Interim => {}
            Part::Headers if line.is_empty() => self.part = Part::Done,
            Part::Headers => self.add_header(line),
            Part::Done => {}
        }
        Ok(())
    }

    /// Drops the line being read as soon as it is known not to be kept: an
    /// interim head's fields (only its blank line matters), a field whose
    /// name is not kept, or a continuation of a line that was not kept.
    fn skip_unless_kept(&mut self) {
        if self.skipping {
            return;
        }
        let line = self.line.strip_suffix(b"\r").unwrap_or(&self.line);
        let kept = match self.part {
            Part::Interim => line.is_empty(),
            Part::Headers if line.starts_with(b" ") || line.starts_with(b"\t") => self.last_kept,
            Part::Headers => match line.iter().position(|&b| b == b':') {
                Some(colon) => self.fields.keeps(&String::from_utf8_lossy(&line[..colon]).trim().to_ascii_lowercase()),
                None => line.len() <= self.fields.longest_name(),
            },
            Part::StatusLine | Part::Done => true,
        };
        if !kept {
            self.skipping = true;
            self.line.clear();
        }
    }

    /// A `name: value` field; a line starting with a space or tab continues
    /// the one before (obsolete folding, RFC 9112 5.2); other lines are
    /// skipped: headers only ever add to an answer we already have.
    fn add_header(&mut self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        if text.starts_with([' ', '\t']) {
            if let Some((_, value)) = self.headers.last_mut() {
                value.push(' ');
                value.push_str(text.trim());
            }
            return;
        }
        self.last_kept = false;
        if let Some((name, value)) = text.split_once(':') {
            self.headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            self.last_kept = true;
        }
    }

    fn stop(&mut self, cut: Cut) {
        self.cut = Some(cut);
        self.part = Part::Done;
    }

    fn closed_after_interim(&self) -> String {
        format!("the server closed the connection after {} interim (1xx) responses and no final one", self.interim)
    }
}

/// The error for bytes that are not HTTP/1.x, naming TLS when it is TLS.
pub fn not_http(received: &[u8]) -> String {
    let hint = match received.first() {
        Some(0x15 | 0x16) => " (that is TLS: try https://)",
        _ => "",
    };
    format!("not an HTTP/1.x response: {}{hint}", quote(received))
}

/// Whether `received` can still grow into a status line. Lets the reader give
/// up on `hello` or a TLS alert at once instead of waiting for a newline.
pub fn could_be_status_line(received: &[u8]) -> bool {
    const PREFIX: &[u8] = b"HTTP/1.";
    let n = received.len().min(PREFIX.len());
    received[..n] == PREFIX[..n]
}

/// Parses a status line (without its line ending), strictly:
/// `HTTP/1.0` or `HTTP/1.1`, one space, three digits from 100 to 599, then
/// nothing or a space and a reason phrase of printable UTF-8.
///
/// The code is exactly three digits (RFC 9112 4: `status-code = 3DIGIT`),
/// so `HTTP/1.1 2000 OK` or `HTTP/1.1 0123456789` is malformed, never a
/// code read from its first three digits; curl refuses both too.
pub fn parse_status_line(line: &[u8]) -> Result<Response, String> {
    let malformed = || format!("malformed status line: {}", quote(line));
    let version = match line.get(..8) {
        Some(b"HTTP/1.1") => HttpVersion::Http11,
        Some(b"HTTP/1.0") => HttpVersion::Http10,
        _ => return Err(malformed()),
    };
    let (Some(b' '), Some(digits)) = (line.get(8), line.get(9..12)) else {
        return Err(malformed());
    };
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(malformed());
    }
    let reason = match &line[12..] {
        [] => &[][..],
        [b' ', reason @ ..] => reason,
        _ => return Err(malformed()),
    };
    let code = digits.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    if !(100..=599).contains(&code) {
        return Err(format!("status code {code} is outside 100-599: {}", quote(line)));
    }
    let reason = std::str::from_utf8(reason).map_err(|_| malformed())?;
    if reason.chars().any(|c| c.is_control() && c != '\t') {
        return Err(malformed());
    }
    Ok(Response::new(version, code, reason))
}

/// The first bytes of a response, quoted and escaped so that control bytes and
/// invalid UTF-8 never reach a terminal raw: `"\x15\x03\x01"`.
pub fn quote(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(QUOTE_LIMIT)];
    let more = if bytes.len() > QUOTE_LIMIT { "..." } else { "" };
    format!("\"{}\"{more}", shown.escape_ascii())
}

/// A fixed rule that lives as long as the test.
#[cfg(test)]
fn fixed(reads: fn(u16) -> bool, keeps: fn(&str) -> bool) -> &'static Fixed {
    Box::leak(Box::new(Fixed { reads, keeps }))
}

#[cfg(test)]
#[path = "proptests.rs"]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;

    /// Wants the headers of every final code, as for a 3xx.
    fn all(_: u16) -> bool {
        true
    }

    /// Feeds `chunks` in turn, then the end of the connection if the head
    /// was not done by then.
    fn parse_chunks<'a>(chunks: impl IntoIterator<Item = &'a [u8]>, wants: fn(u16) -> bool) -> Result<Head, String> {
        let mut parser = HeadParser::new(fixed(wants, |_| true));
        let mut done = false;
        for chunk in chunks {
            done = matches!(parser.feed(chunk)?, Fed::Done { .. });
            if done {
                break;
            }
        }
        if !done {
            parser.eof()?;
        }
        Ok(parser.into_head().expect("a final head"))
    }

    fn parse_whole(bytes: &[u8]) -> Result<Head, String> {
        parse_chunks([bytes], all)
    }

    fn summary(head: &Head) -> (u16, String, Vec<(String, String)>, Option<Cut>) {
        (head.response.code, head.response.reason.clone(), head.headers.clone(), head.cut)
    }

    const INTERIM_THEN_REDIRECT: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n\
        HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n\
        HTTP/1.1 301 Moved Permanently\r\nLocation: /next\r\nServer:  cloudflare \r\nbogus\r\n\r\nbody";

    #[test]
    fn interim_responses_are_skipped_and_headers_kept() {
        let head = parse_whole(INTERIM_THEN_REDIRECT).unwrap();
        let expected = vec![("location".into(), "/next".into()), ("server".into(), "cloudflare".into())];
        assert_eq!(summary(&head), (301, "Moved Permanently".into(), expected, None));
        let mut parser = HeadParser::new(fixed(all, |_| true));
        assert_eq!(parser.feed(INTERIM_THEN_REDIRECT), Ok(Fed::Done { used: INTERIM_THEN_REDIRECT.len() - 4 }));
    }

    #[test]
    fn every_split_position_and_byte_by_byte_give_the_same_head() {
        let whole = summary(&parse_whole(INTERIM_THEN_REDIRECT).unwrap());
        for at in 0..=INTERIM_THEN_REDIRECT.len() {
            let (a, b) = INTERIM_THEN_REDIRECT.split_at(at);
            assert_eq!(summary(&parse_chunks([a, b], all).unwrap()), whole, "split at {at}");
        }
        let bytes = INTERIM_THEN_REDIRECT.chunks(1);
        assert_eq!(summary(&parse_chunks(bytes, all).unwrap()), whole);
        let bare = b"HTTP/1.1 102 Processing\n\nHTTP/1.0 404 Not Found\n\n";
        for at in 0..=bare.len() {
            let (a, b) = bare.split_at(at);
            let head = parse_chunks([a, b], |_| false).unwrap();
            assert_eq!(summary(&head), (404, "Not Found".into(), vec![], None), "split at {at}");
        }
    }

    #[test]
    fn a_line_end_split_between_cr_and_lf() {
        let head = parse_chunks([&b"HTTP/1.1 200 OK\r"[..], b"\n"], |_| false).unwrap();
        assert_eq!((head.response.code, head.response.reason.as_str()), (200, "OK"));
        let head = parse_chunks([&b"HTTP/1.1 302 Found\r\nLocation: /a\r"[..], b"\n\r", b"\n"], all).unwrap();
        assert_eq!(summary(&head), (302, "Found".into(), vec![("location".into(), "/a".into())], None));
    }

    #[test]
    fn bare_lf_line_ends_and_folded_headers() {
        let head =
            parse_whole(b"HTTP/1.1 100 Continue\n\nHTTP/1.1 503 Busy\nRetry-After: 5\nX-A: one\n two\n\n").unwrap();
        let expected = vec![("retry-after".into(), "5".into()), ("x-a".into(), "one two".into())];
        assert_eq!(summary(&head), (503, "Busy".into(), expected, None));
    }

    #[test]
    fn codes_whose_headers_are_not_wanted_end_at_the_status_line() {
        let mut parser = HeadParser::new(fixed(|code| code != 200, |_| true));
        assert_eq!(parser.feed(b"HTTP/1.1 200 OK\r\nServer: x\r\n"), Ok(Fed::Done { used: 17 }));
        let head = parser.into_head().unwrap();
        assert_eq!((head.response.code, head.headers.len(), head.cut), (200, 0, None));
    }

    #[test]
    fn interim_heads_count_toward_one_limit() {
        let endless = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(MAX_HEAD / 25 + 10);
        let err = parse_whole(&endless).unwrap_err();
        assert!(err.starts_with("no final response in the first 300 KiB: "), "{err}");
        // Fed in small pieces, the error comes at the limit, not later.
        let mut parser = HeadParser::new(fixed(all, |_| true));
        let mut fed = 0;
        let err = loop {
            match parser.feed(&endless[fed..fed + 100]) {
                Ok(Fed::More) => fed += 100,
                Ok(done) => panic!("{done:?}"),
                Err(err) => break err,
            }
        };
        assert!(fed < MAX_HEAD && fed + 100 >= MAX_HEAD, "{fed}: {err}");
    }

    #[test]
    fn only_kept_fields_are_held_and_a_kept_line_is_bounded() {
        let keeps = |name: &str| name == "location";
        let mut head = b"HTTP/1.1 302 Found\r\nX-Big: ".to_vec();
        head.extend(std::iter::repeat_n(b'a', MAX_FIELD_LINE * 2));
        head.extend_from_slice(b"\r\n folded: into x-big\r\nServer: x\r\nLocation: /b\r\n\r\n");
        for chunk_size in [1, 4096, head.len()] {
            let mut parser = HeadParser::new(fixed(all, keeps));
            for chunk in head.chunks(chunk_size) {
                assert!(parser.line.len() <= LONGEST_KEPT_NAME + 2, "an unkept line is not held");
                if parser.feed(chunk) != Ok(Fed::More) {
                    break;
                }
            }
            let parsed = parser.into_head().unwrap();
            assert_eq!((parsed.headers, parsed.cut), (vec![("location".into(), "/b".into())], None));
        }
        let mut long = b"HTTP/1.1 302 Found\r\nLocation: /".to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_FIELD_LINE));
        long.extend_from_slice(b"\r\n\r\n");
        let parsed = parse_chunks([&long[..]], all).unwrap();
        assert_eq!((parsed.headers.len(), parsed.cut), (0, Some(Cut::Limit)));
    }

    #[test]
    fn a_location_early_in_an_over_limit_head_is_kept() {
        let mut head = b"HTTP/1.1 301 Moved\r\nLocation: https://a.test/next\r\n".to_vec();
        while head.len() < MAX_HEAD + 4096 {
            head.extend_from_slice(b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        head.extend_from_slice(b"Late: yes\r\n\r\n");
        for chunk_size in [1, 1000, 4096, head.len()] {
            let parsed = parse_chunks(head.chunks(chunk_size), all).unwrap();
            assert_eq!(parsed.cut, Some(Cut::Limit));
            assert_eq!(parsed.headers[0], ("location".into(), "https://a.test/next".into()));
            assert!(!parsed.headers.iter().any(|(name, _)| name == "late"));
            let padding = &parsed.headers[1..];
            assert!(padding.iter().all(|(_, value)| value.len() == 59), "only whole fields");
        }
        // A 30 KiB head is read whole.
        let mut big = b"HTTP/1.1 301 Moved\r\n".to_vec();
        big.extend(b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(400));
        big.extend_from_slice(b"Location: /last\r\n\r\n");
        let parsed = parse_whole(&big).unwrap();
        assert_eq!((parsed.cut, parsed.headers.last().unwrap().1.as_str()), (None, "/last"));
    }

    #[test]
    fn unsolicited_101_is_an_error() {
        let err = parse_whole(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n").unwrap_err();
        assert!(err.contains("101 Switching Protocols"), "{err}");
        let err = parse_whole(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching\r\n\r\n").unwrap_err();
        assert!(err.contains("101"), "{err}");
    }

    #[test]
    fn ends_of_the_connection() {
        assert!(parse_whole(b"").unwrap_err().starts_with("empty response"));
        let err = parse_whole(b"HTTP/1.1 100 Continue\r\n\r\n").unwrap_err();
        assert!(err.contains("after 1 interim (1xx) responses and no final one"), "{err}");
        assert!(parse_whole(b"HTTP/1.1 103 Early Hints\r\nLink: x").is_err());
        let head = parse_chunks([&b"HTTP/1.1 200 OK"[..]], |_| false).unwrap();
        assert_eq!((head.response.code, head.cut), (200, None));
        let head = parse_whole(b"HTTP/1.1 301 Moved\r").unwrap();
        assert_eq!((head.response.reason.as_str(), head.cut), ("Moved", Some(Cut::Eof)));
        let head = parse_whole(b"HTTP/1.1 301 Moved\r\nServer: x\r\nLocation: /ha").unwrap();
        assert_eq!((head.headers.len(), head.cut), (1, Some(Cut::Eof)), "a cut field is not kept");
    }

    #[test]
    fn the_deadline_keeps_what_was_read() {
        let mut parser = HeadParser::new(fixed(all, |_| true));
        assert!(parser.status().is_none());
        assert_eq!(parser.feed(b"HTTP/1.1 308 P\r\nLocation: /x\r\nA:"), Ok(Fed::More));
        assert_eq!(parser.status().map(|r| r.code), Some(308));
        parser.deadline();
        let head = parser.into_head().unwrap();
        assert_eq!((head.headers.len(), head.cut), (1, Some(Cut::Deadline)));
    }

    #[test]
    fn non_http_bytes_and_long_status_lines_fail_early() {
        let mut parser = HeadParser::new(fixed(all, |_| true));
        let err = parser.feed(b"\x15\x03\x01\x00\x02").unwrap_err();
        assert!(err.starts_with("not an HTTP/1.x response: \"\\x15") && err.ends_with("(that is TLS: try https://)"));
        let mut parser = HeadParser::new(fixed(all, |_| true));
        assert!(parser.feed(b"hel").is_err(), "no need to wait for a line end");
        let mut parser = HeadParser::new(fixed(all, |_| true));
        assert_eq!(parser.feed(b"HTTP/1.1 100 Continue\r\n\r\nHT"), Ok(Fed::More));
        assert!(parser.feed(b"ML>").unwrap_err().contains("not an HTTP/1.x response"));
        let mut long = b"HTTP/1.1 200 ".to_vec();
        long.resize(MAX_STATUS_LINE, b'a');
        let err = parse_whole(&long).unwrap_err();
        assert_eq!(err, "status line too long: no line end in the first 8192 bytes");
        long.truncate(MAX_STATUS_LINE - 1);
        long.push(b'\n');
        assert_eq!(parse_whole(&long).unwrap().response.code, 200);
        assert!(parse_whole(b"HTTP/1.1 200 OK\r\r\n\r\n").unwrap_err().starts_with("malformed status line"));
    }

    #[test]
    fn status_line_prefix_detection() {
        assert!(could_be_status_line(b""));
        assert!(could_be_status_line(b"HT"));
        assert!(could_be_status_line(b"HTTP/1.1 200"));
        assert!(!could_be_status_line(b"hello"));
        assert!(!could_be_status_line(b"HTTP/2 200"));
        assert!(!could_be_status_line(b"\x15\x03\x03"));
    }

    #[test]
    fn good_status_lines_parse() {
        let ok = parse_status_line(b"HTTP/1.1 200 OK").unwrap();
        assert_eq!((ok.version, ok.code, ok.reason.as_str()), (HttpVersion::Http11, 200, "OK"));
        let r = parse_status_line(b"HTTP/1.0 404 Not Found").unwrap();
        assert_eq!((r.version, r.code, r.reason.as_str()), (HttpVersion::Http10, 404, "Not Found"));
        assert_eq!(parse_status_line(b"HTTP/1.1 204").unwrap().reason, "");
        assert_eq!(parse_status_line(b"HTTP/1.1 204 ").unwrap().reason, "");
        assert_eq!(parse_status_line(b"HTTP/1.1 599 Caf\xc3\xa9\tx").unwrap().reason, "Caf\u{e9}\tx");
        assert_eq!(parse_status_line(b"HTTP/1.1 100 Continue").unwrap().code, 100);
    }

    #[test]
    fn bad_status_lines_are_rejected_with_escaped_quote() {
        for line in [
            &b"hello"[..],
            b"HTTP/1.1 99 X",
            b"HTTP/1.1 1000 X",
            b"HTTP/1.1 600 X",
            b"HTTP/2 200",
            b"HTTP/1.2 200 OK",
            b"http/1.1 200 OK",
            b"HTTP/1.1  200 OK",
            b"HTTP/1.1 2x0 OK",
            b"HTTP/1.1 200OK",
            b"HTTP/1.1 200 O\0K",
            b"HTTP/1.1 200 \xff\xfe",
            b"HTTP/1.1 200 a\x1b[31m",
            b"",
        ] {
            let err = parse_status_line(line).unwrap_err();
            assert!(!err.chars().any(|c| c.is_control()), "raw control in {err:?}");
            assert!(err.contains('"'), "{err}");
        }
    }

    #[test]
    fn a_code_is_exactly_three_digits() {
        for line in [
            &b"HTTP/1.1 0123456789"[..],
            b"HTTP/1.1 0123456789 OK",
            b"HTTP/1.1 2000 OK",
            b"HTTP/1.1 2001",
            b"HTTP/1.1 200\tOK",
            b"HTTP/1.1 099999",
        ] {
            let err = parse_status_line(line).unwrap_err();
            assert_eq!(err, format!("malformed status line: {}", quote(line)));
        }
        // Three digits outside the range say so.
        let err = parse_status_line(b"HTTP/1.1 099 X").unwrap_err();
        assert_eq!(err, "status code 99 is outside 100-599: \"HTTP/1.1 099 X\"");
        // Over the head reader too, whatever the split.
        let line = b"HTTP/1.1 0123456789 OK\r\n\r\n";
        for at in 0..=line.len() {
            let (a, b) = line.split_at(at);
            let err = parse_chunks([a, b], all).unwrap_err();
            assert!(err.starts_with("malformed status line: \"HTTP/1.1 0123456789"), "split at {at}: {err}");
        }
    }

    #[test]
    fn quote_escapes_and_truncates() {
        assert_eq!(quote(b"a\0\xff\r\n\""), r#""a\x00\xff\r\n\"""#);
        let long = quote(&[b'x'; 100]);
        assert!(long.ends_with("\"...") && long.len() == 64 + 5);
    }
}
