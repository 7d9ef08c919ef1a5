//! The HTML report end to end: a hostile server's answers on the page,
//! opened in headless Chromium (tests/html/browse.py) where it is installed;
//! `--html FILE` beside another format and rewritten each `--watch` round;
//! the rows left out; the usage errors.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Reason phrases and a `Location` that would run script if they reached
/// the page as markup: each sets `window.__pwned` or calls `alert`.
const HOSTILE: &[(&str, u16, &str)] = &[
    ("/script", 500, "<script>window.__pwned=1;alert(1)</script>"),
    ("/img", 404, "<img src=x onerror=\"window.__pwned=2;alert(2)\">"),
    ("/quotes", 503, "\"'><svg onload=window.__pwned=3>"),
    ("/style", 500, "</style><script>window.__pwned=4</script><style>"),
    ("/table", 200, "</td></tr></table><script>window.__pwned=5</script>"),
];
const LOCATION: &str = "javascript:window.__pwned=6//\"><script>window.__pwned=7</script>";
/// An input line that is not a URL, echoed on the page.
const BAD_LINE: &str = "<script>window.__pwned=8</script>";
/// The subject of an intermediate certificate that expires first.
const SUBJECT: &str = "<script>window.__pwned=9</script>\"'";

fn hostile_server() -> Server {
    serve(|mut stream| {
        let head = read_head(&mut stream);
        let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
        let answer = match HOSTILE.iter().find(|(p, _, _)| *p == path) {
            Some((_, code, reason)) => format!("HTTP/1.1 {code} {reason}\r\n"),
            None if path == "/redirect" => format!("HTTP/1.1 302 Found\r\nLocation: {LOCATION}\r\n"),
            None => "HTTP/1.1 200 OK\r\n".to_owned(),
        };
        let _ = stream.write_all(format!("{answer}Content-Length: 0\r\nConnection: close\r\n\r\n").as_bytes());
    })
}

/// The list: 12 plain URLs that are up, the hostile ones, a refused port,
/// a line that is not a URL; and the https server's URL.
struct Lists {
    file: PathBuf,
    ca: Ca,
    _servers: (Server, Server),
}

const UP: usize = 15;
const DOWN: usize = 6;

fn lists() -> Lists {
    let server = hostile_server();
    let mut lines: Vec<String> = (1..=12).map(|i| server.url(&format!("/ok/{i}"))).collect();
    lines.extend(HOSTILE.iter().map(|(path, _, _)| server.url(path)));
    lines.push(server.url("/redirect"));
    lines.push(format!("http://127.0.0.1:{}/", refused_port()));
    lines.push(BAD_LINE.to_owned());
    let ca = Ca::new();
    let https = expiring_server(&ca.intermediate(SUBJECT, 20), 90);
    lines.push(https.https_url("localhost", "/"));
    let file = write_file("hostile.txt", lines.join("\n") + "\n");
    Lists { file, ca, _servers: (server, https) }
}

fn html_run(lists: &Lists, extra: &[&str]) -> Run {
    let mut args = vec!["--format", "html", "--cacert", lists.ca.pem.to_str().unwrap(), "--timeout", "5s"];
    args.extend(extra);
    args.push(lists.file.to_str().unwrap());
    run(&args)
}

/// Where CI keeps the report and its screenshot: target/html-report/.
fn artefacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("html-report");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_hostile_servers_report_is_inert_and_works_in_chromium() {
    let lists = lists();
    let run = html_run(&lists, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let page = &run.stdout;
    assert_static_page(page);
    let report = artefacts().join("report.html");
    std::fs::write(&report, page).unwrap();

    if !browser_present() {
        return;
    }
    let screenshot = artefacts().join("report.png");
    let _ = std::fs::remove_file(&screenshot);
    let (ok, said) = browse(&report, &screenshot);
    assert!(ok, "browser checks failed:\n{said}");
    let png = std::fs::read(&screenshot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "screenshot: {} bytes", png.len());

    // The checks can fail: the same page without its policy and with one
    // reason phrase unescaped runs the payload, and the browser sees it.
    let policy = page.find("<meta http-equiv=\"Content-Security-Policy\"").unwrap();
    let policy_end = policy + page[policy..].find(">\n").unwrap() + 2;
    let broken = format!("{}{}", &page[..policy], &page[policy_end..]).replacen(
        "<tbody>\n",
        "<tbody>\n<img src=x onerror=\"window.__pwned=2\">",
        1,
    );
    let broken_file = write_file("broken.html", broken);
    let (ok, said) = browse(&broken_file, &temp_path("broken.png"));
    assert!(!ok && said.contains("a hostile string ran: window.__pwned = 2"), "{said}");
}

/// Runs tests/html/browse.py on `report`: whether every check passed, and what it said.
fn browse(report: &Path, screenshot: &Path) -> (bool, String) {
    let expect = serde_json::json!({"rows": UP + DOWN, "down": DOWN, "filter": "/ok/1", "filtered": 4});
    let expect_file = write_file("expect.json", expect.to_string());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/html/browse.py");
    let output = Command::new("python3")
        .args([script, report.to_str().unwrap(), expect_file.to_str().unwrap(), screenshot.to_str().unwrap()])
        .output()
        .unwrap();
    let said = format!("{}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), said)
}

/// Python, Selenium, Chromium and its driver, as `.ci/run` installs them.
fn browser_present() -> bool {
    require("python3", have_command("python3", &["--version"]), "apt-get install python3")
        && require(
            "the python3 selenium module",
            have_command("python3", &["-c", "import selenium"]),
            "python3 -m pip install selenium==4.27.1",
        )
        && require("chromium", Path::new("/usr/bin/chromium").exists(), "apt-get install chromium")
        && require(
            "chromedriver",
            have_command("/usr/bin/chromedriver", &["--version"]),
            "apt-get install chromium-driver",
        )
}

/// What holds without a browser: the page's one script and one stylesheet,
/// a policy that lets nothing load, and the server's text escaped.
fn assert_static_page(page: &str) {
    assert!(page.starts_with("<!DOCTYPE html>"), "{}", &page[..page.len().min(200)]);
    assert_eq!(page.matches("<script").count(), 1, "only the report's own script");
    assert_eq!(page.matches("<style").count(), 1, "only the report's own stylesheet");
    assert_eq!(page.matches("</style>").count(), 1);
    for absent in ["<img", "<svg onload", "<script>window", "<style><", "http-equiv=\"refresh\""] {
        assert!(!page.contains(absent), "{absent} on the page");
    }
    assert!(page.contains("content=\"default-src 'none'; style-src 'sha256-"), "no strict policy");
    assert!(page.contains("&lt;script&gt;window.__pwned=1;alert(1)&lt;/script&gt;"), "reason not shown escaped");
    assert!(page.contains("&lt;img src=x onerror=\"window.__pwned=2;alert(2)\"&gt;"));
    assert!(page.contains("→ javascript:window.__pwned=6//\"&gt;&lt;script&gt;"), "Location as text");
    assert!(page.contains("title=\"CN=&lt;script&gt;window.__pwned=9&lt;/script&gt;&quot;&#39;\""), "subject");
    assert!(page.contains(">20</td>"), "the intermediate's 20 days left");
    assert!(page.contains("<span class=\"line\">&lt;script&gt;window.__pwned=8&lt;/script&gt;</span>"));
    assert_eq!(page.matches("<tr data-state=").count(), UP + DOWN);
    assert_eq!(page.matches("<tr data-state=\"down\"").count(), DOWN);
    assert!(page.contains("<span class=\"n\">15</span> <span class=\"what\">up</span>"));
    assert!(page.contains("<svg class=\"chart\""), "no latency chart");
    assert!(page.trim_end().ends_with("</html>"));
}

#[test]
fn only_failed_leaves_the_up_rows_out_and_says_how_many() {
    let lists = lists();
    let run = html_run(&lists, &["--only-failed"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stdout.matches("<tr data-state=").count(), DOWN);
    assert!(run.stdout.contains("left out: <strong>15 URLs up</strong>"), "no note of what is left out");
    assert!(run.stdout.contains("<span class=\"n\">15</span> <span class=\"what\">up</span>"), "counts cover all");
    let quiet = html_run(&lists, &["--summary-only"]);
    assert_eq!(quiet.stdout, "", "--summary-only: nothing on stdout");
}

#[test]
fn html_file_beside_json_is_replaced_each_watch_round() {
    let server = http_server();
    let dir = temp_path("watch");
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("status.html");
    let list = write_file("watch.txt", format!("{}\n{}\n", server.url("/"), server.url("/status/503")));
    let child = statuscheck()
        .args(["--watch", "100ms", "--format", "json", "--html", page.to_str().unwrap(), list.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Each round renames a new file over the page: a new inode each time.
    let mut inodes = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while inodes.len() < 3 && Instant::now() < deadline {
        if let Ok(meta) = std::fs::metadata(&page) {
            let inode = std::os::unix::fs::MetadataExt::ino(&meta);
            if inodes.last() != Some(&inode) {
                let html = std::fs::read_to_string(&page).unwrap();
                assert!(html.trim_end().ends_with("</html>"), "a reader saw half a page");
                assert!(html.contains("<meta http-equiv=\"refresh\" content=\"1\">"), "a live page reloads itself");
                assert_eq!(html.matches("<tr data-state=").count(), 2);
                inodes.push(inode);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let output = child.wait_with_output().unwrap();
    assert!(inodes.len() >= 3, "the page was written {} times in 60 s", inodes.len());
    assert_eq!(output.status.code(), Some(143), "{}", String::from_utf8_lossy(&output.stderr));
    let json = String::from_utf8(output.stdout).unwrap();
    assert!(json.lines().next().is_some_and(|l| l.starts_with('{')), "stdout keeps its own format: {json}");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, [std::ffi::OsString::from("status.html")], "no temporary file left behind");
}

#[test]
fn an_html_file_without_watch_is_written_once_at_the_end() {
    let server = http_server();
    let page = temp_path("once.html");
    let run = run(&["-q", "--html", page.to_str().unwrap(), "-u", &server.url("/"), "-u", &server.url("/status/404")]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("HTTP/1.1 404 Not Found"), "text on stdout: {}", run.stdout);
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(html.matches("<tr data-state=").count(), 2);
    assert!(!html.contains("http-equiv=\"refresh\""), "a page of one run does not reload");
}

#[test]
fn format_html_and_an_html_file_get_the_same_page() {
    let server = http_server();
    let page = temp_path("both.html");
    let secret = format!("http://user:S3cret@{}/", server.addr);
    let run = run(&["-q", "--format", "html", "--html", page.to_str().unwrap(), "-u", &server.url("/"), "-u", &secret]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.matches("<tr data-state=\"up\"").count(), 2, "{}", run.stdout);
    assert!(!run.stdout.contains("S3cret"), "a password on the page");
    assert_eq!(std::fs::read_to_string(&page).unwrap(), run.stdout);
}

#[test]
fn html_usage_errors_say_what_to_do() {
    for (args, said) in [
        (&["--watch", "1s", "--format", "html", "-u", "x.test"][..], "use --html FILE"),
        (&["--html", "-", "-u", "x.test"], "use --format html"),
        (&["--html", "/nonexistent/dir/page.html", "-u", "x.test"], "cannot write in '/nonexistent/dir'"),
        (&["--html", "/", "-u", "x.test"], "is a directory"),
    ] {
        let run = run(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(said), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn an_interrupted_run_writes_its_page_marked_interrupted() {
    use std::io::{BufRead, BufReader};
    let fast = http_server();
    let stuck = serve(|mut stream| {
        read_head(&mut stream);
        std::thread::sleep(Duration::from_secs(60));
    });
    let page = temp_path("interrupted.html");
    let mut child = statuscheck()
        .args(["--format", "json", "--timeout", "60s", "--html", page.to_str().unwrap()])
        .args(["-u", &stuck.url("/"), "-u", &fast.url("/")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.contains("\"code\":200"), "{first}");
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<strong>interrupted</strong>"), "the page says the run was cut short");
    assert_eq!(html.matches("<tr data-state=\"up\"").count(), 1, "the result that came is on it");
    assert!(html.trim_end().ends_with("</html>"));
}
