//! The TSV format: tab-separated fields per result, no header, for scripts
//! (`cut -f2`): the first five are the 1.x contract, later ones are appended.

use std::fmt::Write as _;

use super::{elapsed_ms, sanitize, shown_url, unmet_text, Export, Judged, Style};
use crate::app::input::Checked;

/// url, code, reason, elapsed_ms, error, state, unmet.
pub struct Tsv;

impl Export for Tsv {
    fn record(&mut self, out: &mut String, _: Style, checked: &Checked, judged: Judged) {
        tsv(out, checked, judged);
    }
}

/// `url<TAB>code<TAB>reason<TAB>elapsed_ms<TAB>error<TAB>state<TAB>unmet`;
/// fields never hold a tab or line break, because `sanitize` escapes every
/// control character.
fn tsv(out: &mut String, checked: &Checked, judged: Judged) {
    let url = sanitize(shown_url(checked));
    let (code, reason, error) = match &checked.outcome {
        Ok(r) => (r.code.to_string(), sanitize(&r.reason).into_owned(), String::new()),
        Err(e) => (String::new(), String::new(), format!("{}: {}", e.kind(), sanitize(&crate::app::flags::message(e)))),
    };
    let elapsed = elapsed_ms(checked).map(|ms| format!("{ms:.3}")).unwrap_or_default();
    let (state, unmet) = (judged.state, unmet_text(checked));
    let _ = writeln!(out, "{url}\t{code}\t{reason}\t{elapsed}\t{error}\t{state}\t{unmet}");
}
