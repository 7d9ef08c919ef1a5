//! The Markdown format: a table for an issue or a CI job summary, every
//! cell escaped so that what a server sends shows as text.

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
    let status = markdown_cell(&status);
    let state = match unmet_text(checked) {
        unmet if unmet.is_empty() => judged.state.to_string(),
        unmet => format!("{}: {unmet}", judged.state),
    };
    let _ = writeln!(out, "| {url} | {status} | {} | {} |", human_elapsed(checked), markdown_cell(&state));
}

/// Text as a Markdown table cell that shows as the text itself: what a
/// server sends (`![x](https://evil.test/t.png)`, `<img>`) never becomes an
/// image, a link, emphasis or HTML: a backslash before each of
/// ``\ ` * _ [ ] ! ~ |`` (CommonMark's escapes), entities for `< > &`.
fn markdown_cell(text: &str) -> String {
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
