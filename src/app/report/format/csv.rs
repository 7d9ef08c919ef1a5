//! The CSV format: RFC 4180, a header, the same fields as JSON (the state,
//! the unmet expectations, name and group at the end), with formulas
//! neutralised for spreadsheets.

use std::borrow::Cow;
use std::fmt::Write as _;

use statuscheck::Verdict;

use super::{elapsed_ms, sanitize, unmet_text, Export, Judged, Style};
use crate::app::input::Checked;

/// Columns of the CSV format, which carries the same fields as JSON.
const CSV_HEADER: &str =
    "input,source,url,ok,code,reason,http_version,elapsed_ms,error_kind,error_message,state,unmet,name,group\r\n";

/// RFC 4180 CSV with a header.
pub struct Csv;

impl Export for Csv {
    fn header(&self) -> Option<&'static str> {
        Some(CSV_HEADER)
    }

    fn record(&mut self, out: &mut String, _: Style, checked: &Checked, judged: Judged) {
        csv(out, checked, judged);
    }
}

/// RFC 4180: CRLF line ends, fields quoted when they hold a comma or a
/// quote, quotes doubled. Same fields as JSON, error split in two, and
/// escaped as in every other format; see [`csv_cell`].
fn csv(out: &mut String, checked: &Checked, judged: Judged) {
    let target = &checked.target;
    let response = checked.outcome.as_ref().ok();
    let error = checked.outcome.as_ref().err();
    let fields: [Cow<str>; 14] = [
        Cow::Borrowed(&target.input),
        Cow::Owned(target.source.to_string()),
        Cow::Borrowed(target.url.as_ref().map(|u| u.as_str()).unwrap_or("")),
        Cow::Borrowed(if judged.verdict == Verdict::Ok { "true" } else { "false" }),
        Cow::Owned(response.map(|r| r.code.to_string()).unwrap_or_default()),
        Cow::Borrowed(response.map(|r| r.reason.as_str()).unwrap_or("")),
        Cow::Borrowed(response.map(|r| r.version.number()).unwrap_or("")),
        Cow::Owned(elapsed_ms(checked).map(|ms| format!("{ms:.3}")).unwrap_or_default()),
        Cow::Borrowed(error.map(|e| e.kind().as_str()).unwrap_or("")),
        Cow::Owned(error.map(crate::app::flags::message).unwrap_or_default()),
        Cow::Borrowed(judged.state.as_str()),
        Cow::Owned(unmet_text(checked)),
        Cow::Borrowed(target.name().unwrap_or("")),
        Cow::Borrowed(target.group().unwrap_or("")),
    ];
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_cell(out, field);
    }
    out.push_str("\r\n");
}

/// One CSV cell. Control and invisible characters are escaped by
/// [`sanitize`], so no line break, tab or escape sequence is ever raw; a
/// cell that a spreadsheet would take for a formula (`=`, `+`, `-`, `@`
/// first: OWASP's CSV-injection advice) gets a `'` in front and quotes.
fn csv_cell(out: &mut String, field: &str) {
    let field = sanitize(field);
    let formula = field.starts_with(['=', '+', '-', '@']);
    if formula || field.contains([',', '"']) {
        let _ = write!(out, "\"{}{}\"", if formula { "'" } else { "" }, field.replace('"', "\"\""));
    } else {
        out.push_str(&field);
    }
}
