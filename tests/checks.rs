//! Checks files end to end: `examples/deploy.toml` run against local
//! servers (its hosts rewritten to them), a deploy gate's states and exit
//! statuses, `--fail-on degraded`, the keys the README documents, and
//! hostile files, each refused with file, line and key before any
//! connection is made.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use common::*;

/// A server that answers each request after `delay`, with `code`, these
/// extra header lines and `body`.
fn server(delay: Duration, code: u16, headers: &'static str, body: &'static str) -> Server {
    serve(move |mut stream| {
        read_head(&mut stream);
        thread::sleep(delay);
        let response = format!(
            "HTTP/1.1 {code} Whatever\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(response.as_bytes());
    })
}

fn fast(code: u16) -> Server {
    server(Duration::ZERO, code, "", "")
}

/// `examples/deploy.toml` with its hosts pointed at local servers.
fn example_on(api: &Server, www: &Server, assets: &Server) -> PathBuf {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/deploy.toml")).unwrap();
    let text = text
        .replace("https://api.example.com", &api.url(""))
        .replace("https://www.example.com", &www.url(""))
        .replace("http://www.example.com", &www.url(""))
        .replace("https://static.example.com", &assets.url(""));
    assert!(!text.contains("example.com"), "every host rewritten:\n{text}");
    write_file("deploy.toml", text)
}

/// The state of each record, by name (or URL), in input order.
fn states(run: &Run) -> Vec<(String, String)> {
    let mut states: Vec<(u64, String, String)> = run
        .json()
        .iter()
        .map(|r| {
            let line = r["source"].as_str().unwrap().rsplit_once(':').unwrap().1.parse().unwrap();
            let name = r["name"].as_str().or(r["url"].as_str()).unwrap().to_owned();
            (line, name, r["state"].as_str().unwrap().to_owned())
        })
        .collect();
    states.sort();
    states.into_iter().map(|(_, name, state)| (name, state)).collect()
}

#[test]
fn the_example_deploy_gate_passes_with_a_slow_page_and_fails_on_a_down_one() {
    let api = server(Duration::ZERO, 200, "Content-Type: application/json\r\n", "{\"status\":\"UP\"}");
    // Slower than the login page's degraded budget (1500ms), far within down_after (5s).
    let www = serve(|mut stream| {
        let head = read_head(&mut stream);
        let (code, delay) = if head.starts_with("GET /login ") { (200, 2000) } else { (301, 0) };
        thread::sleep(Duration::from_millis(delay));
        let _ = write!(stream, "HTTP/1.1 {code} X\r\nLocation: /login\r\nContent-Length: 0\r\n\r\n");
    });
    let assets = http_server();
    let file = example_on(&api, &www, &assets);
    let file = file.to_str().unwrap();
    let run = run(&["--format", "json", "--checks", file]);
    let want = [
        ("API health", "up"),
        ("Login page", "degraded"),
        ("Old address redirects", "up"),
        (&*assets.url("/app.js"), "up"),
        (&*assets.url("/app.css"), "up"),
    ]
    .map(|(name, state)| (name.to_owned(), state.to_owned()));
    assert_eq!(states(&run), want, "{}", run.stderr);
    let records = run.json();
    let login = records.iter().find(|r| r["name"] == "Login page").unwrap();
    assert_eq!(login["unmet"][0]["kind"], "latency");
    assert_eq!(login["unmet"][0]["expect"], "latency at most 1.5s");
    assert_eq!(login["group"], "web");
    assert!(records.iter().filter(|r| r["group"] == "static").count() == 2);
    assert_eq!(run.code, 0, "a degraded page passes the gate: {}", run.stderr);
    assert!(run.stderr.contains("states: 4 up, 1 degraded\n"), "{}", run.stderr);
    let strict = common::run(&["--fail-on", "degraded", "-q", "--checks", file]);
    assert_eq!(strict.code, 1, "--fail-on degraded");
    // The static group's own method.
    let heads = assets.requests.lock().unwrap().clone();
    assert!(heads.len() >= 2 && heads.iter().all(|h| h.starts_with("HEAD /app.")), "{heads:?}");
}

#[test]
fn a_deploy_gate_up_degraded_and_down_with_its_exit_statuses() {
    let up = fast(200);
    let slow = server(Duration::from_millis(600), 200, "", "");
    let wrong = fast(404);
    let gate = |down: bool| {
        let mut text = format!(
            "[defaults]\ncodes = \"200\"\ndegraded_after = \"300ms\"\n\n\
             [[check]]\nname = \"home\"\nurl = \"{}\"\ndegraded_after = \"5s\"\n\n\
             [[check]]\nname = \"search\"\nurl = \"{}\"\n",
            up.url("/"),
            slow.url("/search")
        );
        if down {
            text +=
                &format!("\n[[check]]\nname = \"account\"\nurl = \"{}\"\ndegraded_after = \"5s\"\n", wrong.url("/"));
        }
        write_file("gate.toml", text)
    };
    let healthy = gate(false);
    let healthy = healthy.to_str().unwrap();
    let run = run(&["--checks", healthy, "--color", "never"]);
    assert_eq!(run.code, 0, "degraded is not down: {}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("[degraded: latency at most 300ms, got "), "{}", run.stdout);
    assert!(run.stderr.starts_with("2 checked: 2 ok, 0 failed, 0 errors in "), "{}", run.stderr);
    assert!(run.stderr.contains("\n  states: 1 up, 1 degraded\n"), "{}", run.stderr);
    assert_eq!(common::run(&["--checks", healthy, "--fail-on", "degraded", "-q"]).code, 1);
    assert_eq!(common::run(&["--checks", healthy, "--fail-on", "down", "-q"]).code, 0);

    let failing = gate(true);
    let failing = failing.to_str().unwrap();
    let run = common::run(&["--checks", failing, "--format", "tsv", "--summary-json"]);
    assert_eq!(run.code, 1, "a wrong code is down");
    let rows: Vec<Vec<&str>> = run.stdout.lines().map(|l| l.split('\t').collect()).collect();
    assert!(rows.iter().all(|r| r.len() == 7), "{rows:?}");
    let account = rows.iter().find(|r| r[1] == "404").unwrap();
    assert_eq!((account[5], account[6]), ("down", "status 200, got 404"));
    let summary: serde_json::Value = serde_json::from_str(run.stderr.trim()).unwrap();
    assert_eq!(summary["states"], serde_json::json!({"up": 1, "degraded": 1, "down": 1, "unknown": 0}));
    let only = common::run(&["--checks", failing, "--only-failed", "--format", "json", "-q"]);
    assert_eq!(only.json().iter().map(|r| r["name"].clone()).collect::<Vec<_>>(), ["account"]);

    // The flags alone make the same gate of a plain list.
    let flags = common::run(&["--degraded-after", "300ms", "-u", &slow.url("/"), "--format", "json"]);
    assert_eq!((flags.record()["state"].clone(), flags.code), (serde_json::json!("degraded"), 0));
    let down = common::run(&["--down-after", "300ms", "-u", &slow.url("/"), "--format", "json"]);
    assert_eq!((down.record()["state"].clone(), down.code), (serde_json::json!("down"), 1));
}

#[test]
fn checks_file_urls_go_through_the_input_pipeline() {
    let server = http_server();
    let text = format!(
        "[[group]]\nname = \"g\"\nurls = [\n  \"{}\",\n  \"{}\",\n]\n",
        server.url("/a"),
        server.url("/status/404")
    );
    let file = write_file("pipeline.toml", text);
    let file = file.to_str().unwrap();
    let first = run(&["--format", "json", "--checks", file, "-u", &server.url("/arg")]);
    let sources: Vec<String> = first.json().iter().map(|r| r["source"].as_str().unwrap().to_owned()).collect();
    let mut sorted = sources.clone();
    sorted.sort();
    assert_eq!(sorted, [format!("{file}:4"), format!("{file}:5"), "arg:1".to_owned()]);
    // --resume skips what the first run answered, keyed by file and line.
    let resume = write_file("pipeline.jsonl", &first.stdout);
    let again = run(&["--format", "json", "--checks", file, "--resume", resume.to_str().unwrap()]);
    assert_eq!((again.stdout.as_str(), again.code), ("", 0), "{}", again.stderr);
    // --dedupe: one check for both lines of a URL listed twice.
    let twice =
        write_file("twice.toml", format!("[[check]]\nurl = \"{0}\"\n[[check]]\nurl = \"{0}\"\n", server.url("/d")));
    let before = server.requests.lock().unwrap().len();
    let deduped = run(&["--format", "json", "--dedupe", "--checks", twice.to_str().unwrap()]);
    assert_eq!(deduped.json().len(), 2);
    assert_eq!(server.requests.lock().unwrap().len() - before, 1);
    // ... but one check per set of expectations: each entry judged by its own.
    let (url, codes) = (server.url("/d"), ["200", "404"]);
    let entries: String = codes.iter().map(|c| format!("[[check]]\nurl = \"{url}\"\ncodes = \"{c}\"\n")).collect();
    let differing = write_file("differing.toml", entries);
    let before = server.requests.lock().unwrap().len();
    let judged = run(&["--format", "json", "--dedupe", "--checks", differing.to_str().unwrap()]);
    let mut states: Vec<String> = judged.json().iter().map(|r| r["state"].as_str().unwrap().to_owned()).collect();
    states.sort();
    assert_eq!(states, ["down", "up"], "{}", judged.stdout);
    assert_eq!(server.requests.lock().unwrap().len() - before, 2);
    // --shard: the shards of a checks file add up to the whole.
    let shards: usize =
        (0..3).map(|k| run(&["--format", "json", "--shard", &format!("{k}/3"), "--checks", file]).json().len()).sum();
    assert_eq!(shards, 2);
}

/// A listener no check may reach: its `accept` must find nobody.
struct Untouched(TcpListener);

impl Untouched {
    fn new() -> Untouched {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Untouched(listener)
    }

    fn url(&self) -> String {
        format!("http://{}/", self.0.local_addr().unwrap())
    }

    fn assert_untouched(&self) {
        let mut connection = self.0.accept();
        if let Ok((stream, _)) = &mut connection {
            let mut head = String::new();
            let _ = stream.read_to_string(&mut head);
            panic!("a check reached the listener: {head}");
        }
        assert_eq!(connection.unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    }
}

#[test]
fn hostile_checks_files_are_refused_before_anything_is_checked() {
    let listener = Untouched::new();
    let url = listener.url();
    let entry = format!("[[check]]\nurl = \"{url}\"\nname = \"ok\"\n");
    let deep = format!("x = {}{}\n", "[".repeat(50_000), "]".repeat(50_000));
    let deep_value = format!("{entry}body_contains = {}\"x\"{}\n", "[".repeat(50_000), "]".repeat(50_000));
    let deep_table = format!("{entry}expect_headers = {}1{}\n", "{ a = ".repeat(50_000), " }".repeat(50_000));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "wrong type",
            format!("{entry}timeout = [5]\n").into_bytes(),
            ":4: key 'timeout': invalid type: sequence, expected a string or a number",
        ),
        ("unknown key", format!("{entry}retry = 3\n").into_bytes(), ":4: key 'retry': unknown field `retry`"),
        (
            "unknown table",
            format!("{entry}[default]\ntimeout = \"1s\"\n").into_bytes(),
            ":4: key 'default': unknown field",
        ),
        (
            "huge duration",
            format!("{entry}timeout = \"100000s\"\n").into_bytes(),
            ":4: key 'timeout': use a positive duration of at most a day",
        ),
        ("huge number", format!("{entry}cert_days = 99999999999999999999\n").into_bytes(), ":4: key 'cert_days':"),
        ("bad URL", b"[[check]]\nurl = \"ftp://x/\"\n".to_vec(), ":2: key 'url': not a URL to check"),
        ("bad regex", format!("{entry}body_matches = \"(\"\n").into_bytes(), ":4: key 'body_matches':"),
        (
            "control character",
            format!("{entry}headers = {{ X-A = \"a\\nb\" }}\n").into_bytes(),
            ":4: key 'headers': the value of 'X-A' holds a control character",
        ),
        (
            "budgets",
            format!("{entry}degraded_after = \"2s\"\ndown_after = \"1s\"\n").into_bytes(),
            ":4: key 'degraded_after': the degraded budget (2s) is above the down budget (1s)",
        ),
        ("deep nesting", deep.into_bytes(), ".toml:1"),
        ("deep nesting in a key", deep_value.into_bytes(), ":4: key 'body_contains': cannot recurse further"),
        ("deep tables in a key", deep_table.into_bytes(), ":4: key 'expect_headers':"),
        ("invalid UTF-8", [entry.as_bytes(), b"group = \"\xff\"\n"].concat(), ":4: not valid UTF-8"),
        (
            "oversized",
            [entry.as_bytes(), &vec![b'#'; 1024 * 1024]].concat(),
            "larger than 1024 KiB, the limit of a checks file",
        ),
    ];
    for (what, contents, wanted) in cases {
        let file = write_file("hostile.toml", &contents);
        let name = file.to_str().unwrap();
        let run = run(&["--checks", name, "-u", &url]);
        assert_eq!(run.code, 2, "{what}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{what}: nothing checked: {}", run.stdout);
        let expected = format!("statuscheck: checks file {name}");
        assert!(
            run.stderr.starts_with(&expected) && run.stderr.contains(wanted),
            "{what}: {}\nwanted {wanted}",
            run.stderr
        );
        assert_eq!(run.stderr.lines().count(), 1, "{what}: one line: {}", run.stderr);
    }
    for (args, wanted) in [
        (&["--checks", "-"][..], "--checks reads a file, not standard input"),
        (&["--checks", "/nonexistent/deploy.toml"], "cannot read '/nonexistent/deploy.toml'"),
    ] {
        let run = run(&[args, &["-u", &url]].concat());
        assert_eq!((run.code, run.stdout.as_str()), (2, ""), "{args:?}");
        assert!(run.stderr.contains(wanted), "{args:?}: {}", run.stderr);
    }
    listener.assert_untouched();
}

#[test]
fn no_secret_of_a_checks_file_reaches_the_output() {
    let listener = Untouched::new();
    let text =
        format!("[[check]]\nurl = \"{}\"\nheaders = {{ Authorization = \"Bearer S3cr\\u0007et\" }}\n", listener.url());
    let file = write_file("secret.toml", text);
    let run = run(&["--checks", file.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(!run.stderr.contains("S3cr") && run.stderr.contains("'Authorization'"), "{}", run.stderr);
    listener.assert_untouched();
}

/// The README's table of checks file keys: every key it names, with its
/// example value, is accepted in `[defaults]`, `[[check]]` and `[[group]]`.
#[test]
fn every_key_the_readme_documents_is_accepted() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme.split("<!-- checks-keys -->").nth(1).expect("the README marks its table of keys");
    let rows: Vec<(String, String)> = section
        .lines()
        .skip_while(|l| !l.starts_with("| `"))
        .take_while(|l| l.starts_with('|'))
        .map(|row| {
            let cells: Vec<&str> = row.split(" | ").collect();
            let key = cells[0].trim_start_matches("| ").trim_matches('`').to_owned();
            let example = cells[1].trim_matches('`').replace("\\|", "|");
            (key, example)
        })
        .collect();
    assert!(rows.len() >= 10, "{rows:?}");
    let server = http_server();
    let settings: String = rows.iter().map(|(key, value)| format!("{key} = {value}\n")).collect();
    let text = format!(
        "[defaults]\n{settings}\n[[check]]\nurl = \"{}\"\nname = \"n\"\ngroup = \"g\"\n{settings}\n\
         [[group]]\nname = \"g2\"\nurls = [\"{}\"]\n{settings}",
        server.url("/a"),
        server.url("/b")
    );
    let file = write_file("keys.toml", &text);
    let run = run(&["--format", "json", "--checks", file.to_str().unwrap()]);
    assert!(!run.stderr.contains("checks file"), "{}\n{text}", run.stderr);
    assert_eq!(run.json().len(), 2, "{}", run.stderr);
}

/// Writes `path` whole, as an editor does: a round reads the old or the new file.
fn replace(path: &Path, text: String) {
    let new = path.with_extension("new");
    std::fs::write(&new, text).unwrap();
    std::fs::rename(new, path).unwrap();
}

/// `--watch` reads the checks file again each round: an entry added shows
/// in the next round, and a file that has turned bad ends the watch (exit 2).
#[test]
fn watch_reads_the_checks_file_each_round() {
    use std::io::BufRead;
    use std::process::Stdio;
    let server = http_server();
    let file = write_file("watch.toml", format!("[[check]]\nurl = \"{}\"\nname = \"a\"\n", server.url("/a")));
    let mut child = statuscheck()
        .args(["--watch", "0.2", "--format", "json", "-q", "--checks", file.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["name"], "a");
    let text = format!(
        "[[check]]\nurl = \"{}\"\nname = \"a\"\n\n[[check]]\nurl = \"{}\"\nname = \"b\"\n",
        server.url("/a"),
        server.url("/b")
    );
    replace(&file, text);
    // Later rounds print what changed: the new entry.
    let added: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!((added["name"].as_str(), added["source"].as_str().map(|s| s.ends_with(":6"))), (Some("b"), Some(true)));
    replace(&file, "[[check]]\nurl = 5\n".into());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the watch did not end on a bad checks file");
        }
        thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(":2: key 'url': invalid type: integer `5`"), "{stderr}");
}
