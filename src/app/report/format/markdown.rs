//! The Markdown format: a table for an issue or a CI job summary. What a
//! server sent can never render as a link, an image, emphasis or HTML: it
//! goes into code spans ([`code_cell`]), which GitHub's renderer (cmark-gfm,
//! with its autolink extension) leaves as text. The URL column is ours (the
//! URL from the list) and is escaped as text ([`markdown_cell`]); cmark-gfm
//! may turn it into a link to the URL that was checked, on purpose.

use std::fmt::Write as _;

use super::{human_elapsed, notes, sanitize, shown_url, status_text, unmet_text, Export, Judged, Style};
use crate::app::input::Checked;

/// A Markdown table.
pub struct Markdown;

impl Export for Markdown {
    fn header(&self) -> Option<&'static str> {
        Some("| URL | Status | Time | State |\n|---|---|--:|---|\n")
    }

    fn record(&mut self, out: &mut String, _: Style, checked: &Checked, judged: Judged) {
        markdown(out, checked, judged);
    }
}

/// A row of a Markdown table, for pasting into an issue or a CI summary.
fn markdown(out: &mut String, checked: &Checked, judged: Judged) {
    let url = markdown_cell(shown_url(checked));
    let mut status = status_text(checked);
    for note in notes(checked, judged) {
        status = format!("{status} {note}");
    }
    let status = code_cell(&status);
    // `got` may be a server's header value: a code span, as the status.
    let state = match unmet_text(checked) {
        unmet if unmet.is_empty() => judged.state.to_string(),
        unmet => format!("{}: {unmet}", judged.state),
    };
    let _ = writeln!(out, "| {url} | {status} | {} | {} |", human_elapsed(checked), code_cell(&state));
}

/// Text of our own (a URL from the list, a name from the checks file) as
/// a Markdown table cell that shows as the text itself: a backslash before
/// each of ``\ ` * _ [ ] ! ~ |`` (CommonMark's escapes), entities for
/// `< > &`. It stops images, links in brackets, emphasis and HTML, but not
/// GFM's autolinks (`www.`, `https://`, e-mail addresses): server text goes
/// through [`code_cell`] instead.
pub(crate) fn markdown_cell(text: &str) -> String {
    let text = sanitize(text);
    let mut cell = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '<' => cell.push_str("&lt;"),
            '>' => cell.push_str("&gt;"),
            '&' => cell.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '!' | '~' | '|' => {
                cell.push('\\');
                cell.push(c);
            }
            _ => cell.push(c),
        }
    }
    cell
}

/// Text a server sent, as a Markdown table cell: one code span, inside which
/// CommonMark parses nothing (no links, autolinks, images, entities or
/// HTML). The fence is one backtick longer than the longest run of them in
/// the text, with a space inside each end (CommonMark strips one from each
/// side), and `|` is escaped as the GFM table extension asks, also in code.
/// Control characters are escaped first ([`sanitize`]), so the row stays one
/// line. Empty text is an empty cell.
pub(crate) fn code_cell(text: &str) -> String {
    let text = sanitize(text);
    if text.is_empty() {
        return String::new();
    }
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    format!("{fence} {} {fence}", text.replace('|', "\\|"))
}
