//! Rows kept for the formats written at the end (JUnit, HTML): they need
//! totals before their first row, so each result is written as one compact
//! [`Row`] (a JSON line) to an anonymous temporary file as it comes, and read
//! back once the run is over. Memory stays flat however long the list:
//! what is held is the file's write buffer, not the rows.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};

use serde::{Deserialize, Serialize};
use statuscheck::result::unix_now;

use super::format::{shown_url, Judged};
use crate::app::flags;
use crate::app::input::{Checked, Source};

/// What a report shows of one result: every field as text or number, server
/// text as sent (each format escapes it for its own syntax).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The URL as checked, or the line as written when it is not a URL.
    pub url: String,
    /// The checks file's name for it, if any.
    pub name: Option<String>,
    /// The checks file's group, if any.
    pub group: Option<String>,
    /// The list it came from (`-u` arguments: `None`) and its line there.
    pub file: Option<String>,
    pub line: Option<u64>,
    /// `up`, `degraded`, `down` or `unknown`.
    pub state: String,
    /// Whether it counts as ok in the summary's first line.
    pub ok: bool,
    pub code: Option<u16>,
    pub reason: Option<String>,
    /// The error's kind, TLS cause and message, for a check with no answer.
    pub error_kind: Option<String>,
    pub error_cause: Option<String>,
    pub error: Option<String>,
    /// Where a 3xx pointed.
    pub location: Option<String>,
    /// Whole seconds would hide what matters: milliseconds, as in JSON.
    pub elapsed_ms: Option<f64>,
    /// The earliest-expiring certificate of the chain: its subject and days left.
    pub cert_subject: Option<String>,
    pub cert_days_left: Option<i64>,
    /// The expectations not met: (kind, expected, got).
    pub unmet: Vec<(String, String, String)>,
    /// The phases of the last request, in milliseconds (rows spooled before
    /// this field read back without them).
    #[serde(default)]
    pub timings_ms: Timings,
}

/// How long each phase of the last request took, in milliseconds; `None`
/// for a phase that did not happen (no DNS for an IP literal, no TLS for http).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    pub dns: Option<f64>,
    pub connect: Option<f64>,
    pub tls: Option<f64>,
    pub ttfb: Option<f64>,
}

impl Timings {
    fn of(trace: &statuscheck::Trace) -> Timings {
        let ms = |d: Option<std::time::Duration>| d.map(|d| (d.as_secs_f64() * 1e6).round() / 1e3);
        Timings { dns: ms(trace.dns), connect: ms(trace.connect), tls: ms(trace.tls), ttfb: ms(trace.ttfb) }
    }
}

impl Row {
    /// The row of one result, as judged.
    pub fn of(checked: &Checked, judged: Judged) -> Row {
        let response = checked.outcome.as_ref().ok();
        let error = checked.outcome.as_ref().err();
        let (file, line) = match &checked.target.source {
            Source::Line { name, line } => (Some(name.to_string()), Some(*line)),
            Source::Arg(_) => (None, None),
        };
        let earliest = checked.earliest_expiry();
        Row {
            url: shown_url(checked).to_owned(),
            name: checked.target.name().map(str::to_owned),
            group: checked.target.group().map(str::to_owned),
            file,
            line,
            state: judged.state.as_str().to_owned(),
            ok: judged.verdict == statuscheck::Verdict::Ok,
            code: response.map(|r| r.code),
            reason: response.map(|r| r.reason.clone()),
            error_kind: error.map(|e| e.kind().as_str().to_owned()),
            error_cause: error.and_then(|e| e.tls_cause()).map(|c| c.as_str().to_owned()),
            error: error.map(flags::message),
            location: response.and_then(|r| r.location.clone()),
            elapsed_ms: super::format::elapsed_ms(checked),
            cert_subject: earliest.map(|c| c.subject.clone()),
            cert_days_left: earliest.map(|c| c.days_left(unix_now())),
            unmet: checked
                .unmet
                .iter()
                .map(|u| (u.kind.as_str().to_owned(), u.expect.clone(), u.got.clone()))
                .collect(),
            timings_ms: Timings::of(&checked.trace),
        }
    }
}

/// The rows of a run, in an anonymous temporary file (gone when dropped,
/// or when the process ends, however it ends).
pub struct Spool {
    file: BufWriter<File>,
    rows: u64,
}

// `len` and `for_each` serve the formats that read the spool once (HTML).
#[allow(dead_code)]
impl Spool {
    pub fn new() -> io::Result<Spool> {
        Ok(Spool { file: BufWriter::new(tempfile::tempfile()?), rows: 0 })
    }

    pub fn push(&mut self, row: &Row) -> io::Result<()> {
        serde_json::to_writer(&mut self.file, row)?;
        self.file.write_all(b"\n")?;
        self.rows += 1;
        Ok(())
    }

    /// How many rows were pushed.
    pub fn len(&self) -> u64 {
        self.rows
    }

    /// Reads every row back, in order, one at a time (never all at once),
    /// then empties the spool (`--watch` writes a report per round).
    pub fn for_each(&mut self, mut each: impl FnMut(Row) -> io::Result<()>) -> io::Result<()> {
        self.file.flush()?;
        let file = self.file.get_mut();
        file.seek(SeekFrom::Start(0))?;
        for line in BufReader::new(&*file).lines() {
            each(serde_json::from_str(&line?)?)?;
        }
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        self.rows = 0;
        Ok(())
    }
}

/// The rows of a [`Spool`] read back one at a time, from the first, without
/// emptying it: a format that needs several passes (JUnit: one per suite)
/// opens one reader per pass, and pulls rows as it has room to write them.
pub struct Reader {
    lines: io::Lines<BufReader<File>>,
}

impl Spool {
    /// A reader of every row pushed so far. It shares the spool's file
    /// offset: push nothing while it is in use, and use one at a time.
    pub fn reader(&mut self) -> io::Result<Reader> {
        self.file.flush()?;
        let mut file = self.file.get_ref().try_clone()?;
        file.seek(SeekFrom::Start(0))?;
        Ok(Reader { lines: BufReader::new(file).lines() })
    }
}

impl Iterator for Reader {
    type Item = io::Result<Row>;

    fn next(&mut self) -> Option<io::Result<Row>> {
        let line = self.lines.next()?;
        Some(line.and_then(|line| serde_json::from_str(&line).map_err(io::Error::from)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(spool: &mut Spool) -> Vec<Row> {
        let mut rows = Vec::new();
        spool
            .for_each(|row| {
                rows.push(row);
                Ok(())
            })
            .unwrap();
        rows
    }

    #[test]
    fn rows_come_back_in_order_and_the_spool_empties() {
        let mut spool = Spool::new().unwrap();
        for i in 0..1000u16 {
            let row = Row { url: format!("https://a.test/{i}\n\"]]>"), code: Some(i), ..Row::default() };
            spool.push(&row).unwrap();
        }
        assert_eq!(spool.len(), 1000);
        let rows = drain(&mut spool);
        assert_eq!(rows.len(), 1000);
        assert_eq!(rows[999].url, "https://a.test/999\n\"]]>");
        assert_eq!(rows[7].code, Some(7));
        assert_eq!(spool.len(), 0);
        spool.push(&Row { url: "x".into(), ..Row::default() }).unwrap();
        assert_eq!(drain(&mut spool).len(), 1, "a new round starts empty");
    }

    #[test]
    fn readers_read_every_row_again_without_emptying() {
        let mut spool = Spool::new().unwrap();
        for i in 0..300u16 {
            spool.push(&Row { code: Some(i), ..Row::default() }).unwrap();
        }
        for _pass in 0..2 {
            let codes: Vec<u16> = spool.reader().unwrap().map(|row| row.unwrap().code.unwrap()).collect();
            assert_eq!(codes, (0..300).collect::<Vec<u16>>());
        }
        assert_eq!(drain(&mut spool).len(), 300, "for_each still reads from the start");
    }

    #[test]
    fn rows_spooled_without_timings_read_back() {
        let row: Row = serde_json::from_str(
            r#"{"url":"u","name":null,"group":null,"file":null,"line":null,
            "state":"up","ok":true,"code":200,"reason":"OK","error_kind":null,"error_cause":null,"error":null,
            "location":null,"elapsed_ms":1.5,"cert_subject":null,"cert_days_left":null,"unmet":[]}"#,
        )
        .unwrap();
        assert_eq!((row.code, row.timings_ms), (Some(200), Timings::default()));
    }
}
