//! Reports that CI systems and people read, checked by their real readers:
//! JUnit XML against the schema Jenkins' xUnit plugin uses (`xmllint`) and
//! read back by the `junitparser` Python package; Markdown and the GitHub job
//! summary rendered by cmark-gfm (GitHub's renderer) from a hostile server's
//! answers; GitHub annotations, their escaping and their caps.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// What a hostile server puts in reason phrases and `Location` headers:
/// everything GFM would make a link, an image or HTML, and table breakers.
const HOSTILE: &[&str] = &[
    "https://evil.test/x.png",
    "www.evil.test",
    "mailto:phish@evil.test",
    "phish@evil.test",
    "xmpp:phish@evil.test",
    "ftp://evil.test/f",
    "![x](https://evil.test/x.png)",
    "<img src=x>",
    "<https://evil.test/>",
    "[a](b)",
    "[a]: https://evil.test/",
    "a|b|c",
    "`code` ``x``",
    "*em* _em_ ~~s~~",
    "\\<img src=x> \\[a](https://evil.test/)",
    "&lt;img src=x&gt; &#60;img&#62;",
    "http://evil.test/ www.evil.test/p?x=1 ph@evil.test",
];

/// Answers `/h/N` with a 500 whose reason phrase and `Location` are
/// `HOSTILE[N]`, `/u/N` the same with a 302 (where `Location` is shown),
/// anything else with a 200.
fn hostile_server() -> Server {
    serve(|mut stream| {
        let head = read_head(&mut stream);
        let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
        let pick = |prefix: &str| path.strip_prefix(prefix).and_then(|n| n.parse::<usize>().ok());
        let response = match (pick("/h/"), pick("/u/")) {
            (Some(n), _) => format!("HTTP/1.1 500 {0}\r\nLocation: {0}\r\n", HOSTILE[n]),
            (_, Some(n)) => format!("HTTP/1.1 302 {0}\r\nLocation: {0}\r\n", HOSTILE[n]),
            _ => "HTTP/1.1 200 OK\r\n".to_owned(),
        };
        let _ = std::io::Write::write_all(
            &mut stream,
            format!("{response}Content-Length: 0\r\nConnection: close\r\n\r\n").as_bytes(),
        );
    })
}

/// A list of every hostile answer, down and up.
fn hostile_list(server: &Server) -> PathBuf {
    let mut list = String::new();
    for n in 0..HOSTILE.len() {
        list.push_str(&format!("{}\n{}\n", server.url(&format!("/h/{n}")), server.url(&format!("/u/{n}"))));
    }
    write_file("hostile.txt", list)
}

/// Markdown as GitHub shows it: cmark-gfm with the autolink and table
/// extensions (its command line leaves them off). `None`: not installed.
fn render_gfm(markdown: &str) -> Option<String> {
    let present = have_command("cmark-gfm", &["--version"]);
    if !require("cmark-gfm", present, "apt-get install cmark-gfm") {
        return None;
    }
    let file = write_file("render.md", markdown);
    let output = Command::new("cmark-gfm").args(["-e", "autolink", "-e", "table"]).arg(&file).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    Some(String::from_utf8(output.stdout).unwrap())
}

/// Checks that rendered HTML links only to the URLs we checked (the URL
/// column is ours) and shows no image; the hostile text must be there, as text.
fn assert_no_server_links(html: &str, server: &Server) {
    assert!(!html.contains("<img"), "an image from server text:\n{html}");
    let ours = format!("http://127.0.0.1:{}/", server.port());
    let anchors = html.matches("<a").count();
    let hrefs: Vec<&str> = html.split("<a href=\"").skip(1).map(|rest| &rest[..rest.find('"').unwrap()]).collect();
    assert_eq!(anchors, hrefs.len(), "an anchor that is not ours:\n{html}");
    for href in &hrefs {
        assert!(href.starts_with(&ours) && !href.contains("evil"), "a link from server text: {href}\n{html}");
    }
    for text in ["phish@evil.test", "www.evil.test", "https://evil.test/x.png", "&lt;img src=x&gt;"] {
        assert!(html.contains(text), "{text} is shown as text:\n{html}");
    }
}

/// The renderer autolinks what the tests feed it: without that the checks
/// above could not fail.
#[test]
fn cmark_gfm_autolinks_bare_server_text() {
    let Some(html) = render_gfm("| a |\n|---|\n| phish@evil.test www.evil.test https://evil.test/ |\n") else {
        return;
    };
    assert_eq!(html.matches("<a href=").count(), 3, "{html}");
}

#[test]
fn markdown_output_shows_server_text_as_text() {
    let server = hostile_server();
    let list = hostile_list(&server);
    let run = run(&["--format", "markdown", list.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 2 + 2 * HOSTILE.len(), "{}", run.stdout);
    let Some(html) = render_gfm(&run.stdout) else { return };
    assert_eq!(html.matches("<tr>").count(), 1 + 2 * HOSTILE.len(), "every row is a row:\n{html}");
    assert_no_server_links(&html, &server);
    assert_eq!(html.matches("<a href=").count(), 2 * HOSTILE.len(), "our URL column links:\n{html}");
}

#[test]
fn the_job_summary_shows_server_text_as_text() {
    let server = hostile_server();
    let list = hostile_list(&server);
    let summary = temp_path("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let run = finish(
        statuscheck()
            // 302 is down too, so that the table shows each Location.
            .args(["--format", "json", "--ok-codes", "200-299", list.to_str().unwrap()])
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &summary)
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.json().len(), 2 * HOSTILE.len(), "stdout is the format's alone");
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.starts_with("earlier step\n## statuscheck\n"), "appended: {text}");
    assert!(text.contains(&format!("| up | 0 |\n| degraded | 0 |\n| down | {} |", 2 * HOSTILE.len())), "{text}");
    assert!(text.contains(&format!("### Down ({})", 2 * HOSTILE.len())), "{text}");
    assert!(text.contains("location: www.evil.test"), "{text}");
    let Some(html) = render_gfm(&text) else { return };
    assert_no_server_links(&html, &server);
}

/// Whether xmllint is here (Debian: libxml2-utils).
fn have_xmllint() -> bool {
    require("xmllint", have_command("xmllint", &["--version"]), "apt-get install libxml2-utils")
}

/// The vendored schema (tests/junit/README.md says where it is from).
fn schema() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/junit/jenkins-junit.xsd")
}

fn assert_schema_valid(xml: &str) {
    let file = write_file("report.xml", xml);
    let output = Command::new("xmllint").arg("--noout").arg("--schema").arg(schema()).arg(&file).output().unwrap();
    assert!(output.status.success(), "{}\n{xml}", String::from_utf8_lossy(&output.stderr));
}

/// The report as `junitparser` reads it: each suite's name and counts, and
/// each case's name, class name and result tags. `None`: not installed.
fn junitparser(xml: &str) -> Option<serde_json::Value> {
    let present = have_command("python3", &["-c", "import junitparser"]);
    if !require("the python3 junitparser module", present, "python3 -m pip install junitparser==3.2.0") {
        return None;
    }
    let file = write_file("report.xml", xml);
    let script = "import sys, json\n\
        from junitparser import JUnitXml\n\
        xml = JUnitXml.fromfile(sys.argv[1])\n\
        print(json.dumps({'tests': xml.tests, 'failures': xml.failures, 'errors': xml.errors, 'suites': [\n\
          {'name': s.name, 'tests': s.tests, 'failures': s.failures, 'errors': s.errors, 'skipped': s.skipped,\n\
           'cases': [[c.name, c.classname, [r._tag for r in c.result], [r.message for r in c.result]] for c in s]}\n\
          for s in xml]}))";
    let output = Command::new("python3").args(["-c", script]).arg(&file).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    Some(serde_json::from_slice(&output.stdout).unwrap())
}

#[test]
fn junit_is_valid_and_reads_back_as_one_suite_per_file() {
    let server = http_server();
    let hostile = hostile_server();
    let refused = format!("http://127.0.0.1:{}/", refused_port());
    let first = write_file(
        "first.txt",
        format!("{}\n{}\n{refused}\nftp://not-checked/\n", server.url("/"), server.url("/status/404")),
    );
    let fine = server.url("/status/200");
    let second = write_file(
        "second \"quo'te\" <x>]]>.txt",
        format!("{fine}\n{}\n{}\n", hostile.url("/h/7"), hostile.url("/h/13")),
    );
    let run = run(&["--format", "junit", first.to_str().unwrap(), second.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "), "{}", run.stdout);
    if have_xmllint() {
        assert_schema_valid(&run.stdout);
    }
    let Some(report) = junitparser(&run.stdout) else { return };
    assert_eq!(
        (report["tests"].as_u64(), report["failures"].as_u64(), report["errors"].as_u64()),
        (Some(7), Some(3), Some(2))
    );
    let suites = report["suites"].as_array().unwrap();
    assert_eq!(suites.len(), 2, "{report}");
    let (a, b) = (&suites[0], &suites[1]);
    let named = |suite: &serde_json::Value, file: &Path| suite["name"] == file.to_str().unwrap();
    let (a, b) = if named(a, &first) { (a, b) } else { (b, a) };
    assert!(named(a, &first) && named(b, &second), "{report}");
    assert_eq!((a["tests"].as_u64(), a["failures"].as_u64(), a["errors"].as_u64()), (Some(4), Some(1), Some(2)));
    assert_eq!((b["tests"].as_u64(), b["failures"].as_u64(), b["skipped"].as_u64()), (Some(3), Some(2), Some(0)));
    let case = |suite: &serde_json::Value, name: &str| {
        suite["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c[0] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name}: {suite}"))
    };
    assert_eq!(case(a, &server.url("/"))[2], serde_json::json!([]), "up: passed");
    assert_eq!(case(a, &server.url("/"))[1], first.to_str().unwrap(), "classname: the file");
    let not_found = case(a, &server.url("/status/404"));
    assert_eq!(not_found[2], serde_json::json!(["failure"]));
    assert_eq!(not_found[3][0], "status: expected status 100-399, got 404");
    assert_eq!(case(a, &refused)[2], serde_json::json!(["error"]));
    assert_eq!(case(a, "ftp://not-checked/")[2], serde_json::json!(["error"]), "invalid lines are errors");
    assert_eq!(case(b, &fine)[1], second.to_str().unwrap(), "quotes, < and ]]> in a class name read back");
    let img = case(b, &hostile.url("/h/7"));
    assert_eq!(img[3][0], "status: expected status 100-399, got 500");
}

/// An inconclusive run (every `--canary` refused): what would be down is
/// skipped, not failed; what answered still passes; exit status 3.
#[test]
fn an_inconclusive_run_skips_what_would_be_down() {
    let server = http_server();
    let canary = format!("http://127.0.0.1:{}/", refused_port());
    let refused = format!("http://127.0.0.1:{}/", refused_port());
    let list = write_file("inconclusive.txt", format!("{}\n{refused}\n", server.url("/status/200")));
    let run = run(&["--format", "junit", "--canary", &canary, list.to_str().unwrap()]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_eq!(run.stdout.matches("<skipped").count(), 1, "{}", run.stdout);
    assert!(!run.stdout.contains("<error") && !run.stdout.contains("<failure"), "{}", run.stdout);
    if have_xmllint() {
        assert_schema_valid(&run.stdout);
    }
    let Some(report) = junitparser(&run.stdout) else { return };
    let suite = &report["suites"][0];
    assert_eq!((suite["tests"].as_u64(), suite["skipped"].as_u64()), (Some(2), Some(1)), "{report}");
}

#[test]
fn junit_escapes_what_xml_forbids() {
    let server = raw_server(b"HTTP/1.1 500 ]]></failure>\"'<x a='1'>\x01\x1b[2J\x7f&amp;\r\nContent-Length: 0\r\n\r\n");
    let run = run(&["--format", "junit", "-u", &server.url("/")]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(!run.stdout.contains("<x") && !run.stdout.contains("]]>"), "{}", run.stdout);
    assert!(!run.stdout.chars().any(|c| c.is_control() && c != '\n'), "{:?}", run.stdout);
    assert_eq!(run.stdout.matches("<testcase ").count(), 1, "{}", run.stdout);
    if have_xmllint() {
        assert_schema_valid(&run.stdout);
    }
    let Some(report) = junitparser(&run.stdout) else { return };
    let (failures, errors) = (report["failures"].as_u64().unwrap(), report["errors"].as_u64().unwrap());
    assert_eq!((report["tests"].as_u64(), failures + errors), (Some(1), 1), "{report}");
    let result = &report["suites"][0]["cases"][0];
    assert_eq!(result[1], "--url", "{report}");
    assert_eq!(result[2].as_array().unwrap().len(), 1, "one failure or error: {report}");
}

#[test]
fn watch_refuses_junit_and_github_always() {
    let run = run(&["--watch", "1s", "--format", "junit", "-u", "http://127.0.0.1:9/"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--watch cannot write JUnit XML"), "{}", run.stderr);
    let run = run_github(&["--watch", "1s", "--github", "always", "-u", "http://127.0.0.1:9/"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--watch cannot write for GitHub Actions"), "{}", run.stderr);
}

fn run_github(args: &[&str]) -> Run {
    finish(statuscheck().args(args).output().unwrap())
}

/// The lines of stderr that are workflow commands.
fn commands(stderr: &str) -> Vec<&str> {
    stderr.split('\n').filter(|line| line.starts_with("::")).collect()
}

#[test]
fn annotations_point_at_the_line_and_cannot_be_forged() {
    let forged =
        raw_server(b"HTTP/1.1 500 100% x::error file=evil.txt,line=1::forged\rbare\r\nContent-Length: 0\r\n\r\n");
    let server = http_server();
    let list = write_file(
        "deploy,gate:list.txt",
        format!("{}\n# a comment\n{}\n{}\n", server.url("/"), forged.url("/"), server.url("/status/503")),
    );
    let path = list.to_str().unwrap();
    let run = run_github(&["--github", "always", "--format", "junit", path]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(!run.stderr.contains('\r'), "a bare CR would start a new command: {:?}", run.stderr);
    let file = path.replace('%', "%25").replace(':', "%3A").replace(',', "%2C");
    let commands = commands(&run.stderr);
    assert_eq!(commands.len(), 2, "{}", run.stderr);
    for command in &commands {
        assert!(command.starts_with(&format!("::error file={file},line=")), "{command}");
    }
    let forged_line = commands.iter().find(|c| c.contains(",line=3,")).expect("line 3 annotated");
    assert!(forged_line.contains("title=down%3A http%3A//127.0.0.1%3A"), "{forged_line}");
    let message = &forged_line[forged_line[2..].find("::").unwrap() + 4..];
    assert!(message.contains("100%25 x::error file=evil.txt,line=1::forged"), "{forged_line}");
    assert!(commands.iter().any(|c| c.contains(",line=4,") && c.contains("HTTP 503")), "{commands:?}");
    assert!(run.stdout.starts_with("<?xml"), "stdout is the format's alone: {}", run.stdout);
    if have_xmllint() {
        assert_schema_valid(&run.stdout);
    }
}

#[test]
fn annotations_stop_at_ten_and_the_summary_at_one_mib() {
    // 1,100 answers of 1,000 bytes of reason each: more than a summary holds.
    let big = serve(|mut stream| {
        read_head(&mut stream);
        let reason = "r".repeat(1000);
        let response = format!("HTTP/1.1 500 {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        let _ = std::io::Write::write_all(&mut stream, response.as_bytes());
    });
    let list: String = (0..1100).map(|i| big.url(&format!("/{i}\n"))).collect();
    let list = write_file("big.txt", list);
    let summary = temp_path("summary.md");
    let run = finish(
        statuscheck()
            .args(["--summary-only", list.to_str().unwrap()])
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &summary)
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let commands = commands(&run.stderr);
    assert_eq!(commands.iter().filter(|c| c.starts_with("::error ")).count(), 10, "{}", run.stderr);
    let notice = commands.iter().find(|c| c.starts_with("::notice ")).expect("a notice of the rest");
    assert!(notice.contains("::1090 more down URLs were not annotated"), "{notice}");
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.len() <= 1 << 20 && text.len() > (1 << 20) - 8192, "{}", text.len());
    let shown = text.matches("HTTP 500 r").count();
    assert!(shown > 500 && shown < 1100, "{shown}");
    assert!(text.contains(&format!("_{} more down URLs not shown: a job summary holds at most 1 MiB._", 1100 - shown)));
    assert!(text.contains("| down | 1100 |"), "{}", &text[..300]);
}

#[test]
fn an_interrupted_run_writes_the_junit_it_has() {
    let silent = serve(|stream| {
        thread::sleep(Duration::from_secs(60));
        drop(stream);
    });
    let list = format!("http://127.0.0.1:{}/\n{}\n{}\n", refused_port(), silent.url("/a"), silent.url("/b"));
    let list = write_file("hang.txt", list);
    let mut child = statuscheck()
        .args(["--format", "junit", "--github", "always", "--timeout", "60s", list.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    assert!(first.starts_with("::error file=") && first.contains("connection refused"), "{first}");
    // The refused URL's result is in: interrupt the run.
    // SAFETY: kill sends a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let started = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code().unwrap_or(-1);
        }
        if started.elapsed() > SLACK {
            let _ = child.kill();
            panic!("statuscheck did not exit after SIGINT");
        }
        thread::sleep(Duration::from_millis(20));
    };
    let mut xml = String::new();
    child.stdout.take().unwrap().read_to_string(&mut xml).unwrap();
    assert_eq!(code, 130);
    assert_eq!(xml.matches("<testcase ").count(), 1, "{xml}");
    assert!(xml.contains("errors=\"1\"") && xml.ends_with("</testsuites>\n"), "{xml}");
    if have_xmllint() {
        assert_schema_valid(&xml);
    }
}
