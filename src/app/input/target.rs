//! One URL line as a target: the URL it names (or why it names none, see
//! [`parse_url`]), the line as shown back (user-info masked, cut if huge),
//! the smaller form it waits in ([`Parked`]) and how wide it is in the text
//! format's URL column ([`Widths`]).

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use statuscheck::{lock, mask_userinfo, Profile};
use url::Url;

use super::{Source, MAX_LINE};

/// How much of an over-long or invalid line is echoed back in results.
pub(super) const ECHO_LIMIT: usize = 200;

/// One URL line to check, with where it came from.
#[derive(Clone, Debug)]
pub struct Target {
    pub source: Source,
    /// The line as written (trimmed; lossily decoded; shortened if huge).
    pub input: String,
    /// The URL to check, or why the line cannot be checked.
    pub url: Result<Url, String>,
    /// The checks file's entry this URL came from (`None` for a plain list).
    pub entry: Option<Arc<Entry>>,
}

/// What a checks file says of its URLs beyond the URL itself, shared by
/// every target of one entry or group.
#[derive(Debug, Default)]
pub struct Entry {
    /// A name for reports, instead of the URL.
    pub name: Option<String>,
    /// The group it is reported under.
    pub group: Option<String>,
    /// Its own request, deadline and expectations (`None`: the run's).
    pub profile: Option<Profile>,
}

impl Target {
    /// A target of a plain list or `-u`: no checks file entry.
    pub fn plain(source: Source, input: String, url: Result<Url, String>) -> Target {
        Target { source, input, url, entry: None }
    }

    /// The entry's name, if the checks file gave one.
    pub fn name(&self) -> Option<&str> {
        self.entry.as_ref()?.name.as_deref()
    }

    /// The entry's group, if the checks file gave one.
    pub fn group(&self) -> Option<&str> {
        self.entry.as_ref()?.group.as_deref()
    }
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

    fn profile(&self) -> Option<&Profile> {
        self.entry.as_ref()?.profile.as_ref()
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
    entry: Option<Arc<Entry>>,
}

impl Parked {
    fn new(target: Target) -> Parked {
        let url = target.url.map(|url| String::from(url).into_boxed_str());
        let input = match &url {
            Ok(text) if **text == *target.input => None,
            _ => Some(target.input.into_boxed_str()),
        };
        Parked { source: target.source, url, input, entry: target.entry }
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
        Target { source, input, url, entry: self.entry }
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
    pub(super) fn note(&self, index: u64, width: usize, widest: &mut usize) {
        let width = width.min(URL_COLUMN_CAP);
        if width > *widest {
            *widest = width;
            lock(&self.0).push((index, width));
        }
    }

    /// The widest of the first `read` targets.
    pub fn widest(&self, read: u64) -> usize {
        let widths = lock(&self.0);
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

pub(super) fn to_target(source: Source, line: &[u8], too_long: Option<usize>) -> Target {
    let url = match (too_long, std::str::from_utf8(line)) {
        (Some(length), _) => Err(format!("line is {length} bytes long; the limit is {MAX_LINE}")),
        (None, Ok(text)) => parse_url(text),
        (None, Err(e)) => Err(format!("not valid UTF-8 (byte {} of the line)", e.valid_up_to() + 1)),
    };
    let url = url.map_err(|reason| format!("invalid URL at {source}: {reason}"));
    let input = echo(line, url.is_ok());
    Target::plain(source, input, url)
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
        Target::plain(Source::Arg(1), url.into(), parse_url(url))
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
}
