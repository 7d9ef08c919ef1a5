//! The TSV format: five tab-separated fields per result, no header, for
//! scripts (`cut -f2`).

use std::fmt::Write as _;

use super::{elapsed_ms, sanitize, shown_url, Export, Judged, Style};
use crate::app::input::Checked;

/// url, code, reason, elapsed_ms, error.
pub struct Tsv;

impl Export for Tsv {
    fn record(&mut self, out: &mut String, _: Style, checked: &Checked, _: Judged) {
        tsv(out, checked);
    }
}

/// `url<TAB>code<TAB>reason<TAB>elapsed_ms<TAB>error`; fields never hold a
/// tab or line break, because `sanitize` escapes every control character.
fn tsv(out: &mut String, checked: &Checked) {
    let url = sanitize(shown_url(checked));
    let (code, reason, error) = match &checked.outcome {
        Ok(r) => (r.code.to_string(), sanitize(&r.reason).into_owned(), String::new()),
        Err(e) => (String::new(), String::new(), format!("{}: {}", e.kind(), sanitize(&crate::app::flags::message(e)))),
    };
    let elapsed = elapsed_ms(checked).map(|ms| format!("{ms:.3}")).unwrap_or_default();
    let _ = writeln!(out, "{url}\t{code}\t{reason}\t{elapsed}\t{error}");
}
