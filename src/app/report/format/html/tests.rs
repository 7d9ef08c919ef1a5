//! The page made from results built by hand: the policy names the page's own
//! stylesheet and script, server text is escaped, the rows are bounded.

use std::borrow::Cow;
use std::sync::Arc;

use statuscheck::{CheckError, HttpVersion, Policy, Response};

use super::markup::*;
use super::*;
use crate::app::input::{parse_url, Source, Target};

fn checked(line: &str, outcome: Result<Response, CheckError>, ms: u64) -> Checked {
    let source = Source::Line { name: Arc::from("list.txt"), line: 3 };
    let target = Target::plain(source, line.into(), parse_url(line));
    let mut checked = Checked::invalid(target, "");
    checked.outcome = outcome;
    checked.elapsed = Duration::from_millis(ms);
    checked.attempts = 1;
    (checked.state, checked.unmet) = Policy::default().judge(&checked, Vec::new());
    checked
}

fn answer(code: u16, reason: &str) -> Result<Response, CheckError> {
    Ok(Response::new(HttpVersion::Http11, code, reason))
}

fn options(up_rows: u64) -> PageOptions {
    PageOptions { stdout: true, file: None, refresh: None, up_rows }
}

/// The page of `results`, as stdout gets it.
fn page(up_rows: u64, results: &[Checked]) -> String {
    let mut page = Page::new(options(up_rows)).unwrap();
    for checked in results {
        page.add(checked, Judged::of(checked)).unwrap();
    }
    page.finish_round().unwrap();
    let mut out = Vec::new();
    let mut parts = 0;
    while page.next_part(&mut out).unwrap() {
        parts += 1;
    }
    assert!(parts >= 1);
    assert!(!page.next_part(&mut out).unwrap(), "handed over once");
    String::from_utf8(out).unwrap()
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap() + start.len();
    &text[from..from + text[from..].find(end).unwrap()]
}

#[test]
fn base64_matches_rfc_4648() {
    for (raw, encoded) in
        [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("foobar", "Zm9vYmFy")]
    {
        assert_eq!(base64(raw.as_bytes()), encoded, "{raw}");
    }
}

#[test]
fn the_policy_names_exactly_the_pages_stylesheet_and_script() {
    let html = page(10, &[checked("https://a.test/", answer(200, "OK"), 12)]);
    let policy = between(&html, "http-equiv=\"Content-Security-Policy\" content=\"", "\"");
    let style = between(&html, "<style>", "</style>");
    let script = between(&html, "<script>", "</script>");
    assert!(policy.starts_with("default-src 'none'; "), "{policy}");
    assert!(policy.contains(&format!("style-src '{}'", sha256_source(style))), "{policy}");
    assert!(policy.contains(&format!("script-src '{}'", sha256_source(script))), "{policy}");
    assert!(!policy.contains("unsafe"), "{policy}");
}

#[test]
fn server_text_is_escaped_in_content_and_attributes() {
    assert_eq!(text("<b>&\"'"), "&lt;b&gt;&amp;\"'");
    assert_eq!(attr("\"><script>'"), "&quot;&gt;&lt;script&gt;&#39;");
    assert_eq!(text("evil\u{202e}txt.exe\n"), "evil\\u{202e}txt.exe\\n", "invisible and control characters");
    assert!(matches!(text("plain"), Cow::Borrowed(_)));

    let mut redirect = Response::new(HttpVersion::Http11, 302, "<script>alert(1)</script>");
    redirect.location = Some("\"><img src=x onerror=alert(2)>".into());
    let html = page(10, &[checked("https://a.test/x?a=1&b=\"2\"", Ok(redirect), 5)]);
    let row = between(&html, "<tbody>", "</tbody>");
    assert!(!row.contains("<script") && !row.contains("<img"), "{row}");
    assert!(row.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{row}");
    assert!(row.contains("href=\"https://a.test/x?a=1&amp;b=%222%22\""), "{row}");
}

#[test]
fn every_url_not_up_is_listed_and_the_up_ones_are_bounded() {
    let mut results: Vec<Checked> =
        (0..5).map(|i| checked(&format!("https://a.test/{i}"), answer(200, "OK"), 3 + i)).collect();
    results.push(checked("https://b.test/", answer(503, "Unavailable"), 700));
    results.push(checked("not a url", Err(CheckError::InvalidUrl("no".into())), 0));
    let html = page(2, &results);
    assert_eq!(html.matches("<tr data-state=\"up\"").count(), 2);
    assert_eq!(html.matches("<tr data-state=\"down\"").count(), 2);
    let first_up = html.find("<tr data-state=\"up\"").unwrap();
    assert!(html.rfind("<tr data-state=\"down\"").unwrap() < first_up, "the rows not up come first");
    assert!(html.contains("the first 2 that are up; left out: <strong>3 URLs up</strong>"), "{html}");
    assert!(html.contains("<span class=\"n\">5</span> <span class=\"what\">up</span>"), "the counts cover all");
    assert!(html.contains("<title>statuscheck: 2 down of 7</title>"), "{html}");
    assert!(html.contains("<td class=\"c5\">1</td><td class=\"c0\">1</td>"), "5xx and no answer");

    let all_up = page(10, &results[..5]);
    assert!(!all_up.contains("left out"));
    assert!(all_up.contains("<title>statuscheck: 5 up</title>"));
}

#[test]
fn the_chart_has_a_bar_per_bin_from_fastest_to_slowest() {
    let results: Vec<Checked> =
        [0, 3, 4, 30, 2500].iter().map(|ms| checked("https://a.test/", answer(200, "OK"), *ms)).collect();
    let html = page(10, &results);
    let svg = between(&html, "<svg class=\"chart\"", "</svg>");
    // <1 ms, 1, 2, 5, 10, 20, 50, 100, 200, 500 ms, 1 s, 2 s: twelve bins.
    assert_eq!(svg.matches("<rect class=\"bar\"").count(), 12, "{svg}");
    assert!(svg.contains("<title>2 URLs: 2 ms to 5 ms</title>"), "{svg}");
    assert!(svg.contains(">&lt;1 ms</text>"), "{svg}");
    assert_eq!(bin_label(0, &edges()), "<1 ms");
    assert_eq!(bin_range(edges().len(), &edges()), "500 s or more");
    let empty = page(10, &[]);
    assert!(empty.contains("No URL was checked.") && !empty.contains("<svg"));
}

#[test]
fn numbers_are_grouped_by_thousands() {
    for (n, shown) in [(0, "0"), (999, "999"), (1000, "1,000"), (1_234_567, "1,234,567")] {
        assert_eq!(grouped(n), shown);
    }
    assert_eq!(milliseconds(0.42), "0.4 ms");
    assert_eq!(milliseconds(123.4), "123 ms");
    assert_eq!(milliseconds(1420.0), "1.42 s");
}

#[test]
fn an_interrupted_round_says_so_and_the_next_starts_afresh() {
    let mut page = Page::new(options(10)).unwrap();
    let result = checked("https://a.test/", answer(200, "OK"), 12);
    page.add(&result, Judged::of(&result)).unwrap();
    page.interrupted();
    page.finish_round().unwrap();
    let mut first = Vec::new();
    while page.next_part(&mut first).unwrap() {}
    let first = String::from_utf8(first).unwrap();
    assert!(first.contains("<strong>interrupted</strong>") && first.contains("1 URL checked"), "{first}");
    page.finish_round().unwrap();
    let mut second = Vec::new();
    while page.next_part(&mut second).unwrap() {}
    let second = String::from_utf8(second).unwrap();
    assert!(!second.contains("interrupted") && second.contains("0 URLs checked"), "{second}");
    assert_eq!(second.matches("<tr data-state").count(), 0);
}
