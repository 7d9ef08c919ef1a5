//! Richer answers: redirects, methods and headers, timings, the address,
//! TLS details and certificate expiry, and "blocked or down?".

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;

/// A server whose answers are given per path: `(path, raw head)`.
fn scripted(routes: Vec<(&'static str, String)>) -> Server {
    let routes = Arc::new(routes);
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    let mut server = serve(move |mut stream| {
        let head = read_head(&mut stream);
        let path = head.split(' ').nth(1).unwrap_or("").to_string();
        seen.lock().unwrap().push(head);
        let answer = routes.iter().find(|(p, _)| *p == path).map(|(_, a)| a.clone());
        let answer = answer.unwrap_or_else(|| "HTTP/1.1 404 Not Found\r\n\r\n".into());
        let _ = stream.write_all(answer.as_bytes());
    });
    server.requests = requests;
    server
}

fn redirect(code: u16, to: &str) -> String {
    format!("HTTP/1.1 {code} Moved\r\nLocation: {to}\r\nContent-Length: 0\r\n\r\n")
}

fn json_run(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--format", "json", "--timeout", "5"];
    all.extend_from_slice(args);
    run(&all).record()
}

#[test]
fn redirect_chains_relative_and_absolute_are_followed() {
    let target = http_server();
    let absolute = target.url("/status/204");
    let server = scripted(vec![
        ("/start", redirect(301, "/step")),
        ("/step", redirect(302, "next?x=1")),
        ("/next?x=1", redirect(308, &absolute)),
    ]);
    let record = json_run(&["-L", "-u", &server.url("/start")]);
    assert_eq!(record["code"], 204, "{record}");
    assert_eq!(record["final_url"], absolute);
    let chain: Vec<(String, u64)> = record["redirects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hop| (hop["url"].as_str().unwrap().to_string(), hop["code"].as_u64().unwrap()))
        .collect();
    assert_eq!(chain, [(server.url("/start"), 301), (server.url("/step"), 302), (server.url("/next?x=1"), 308)]);
    let text = run(&["-L", "-u", &server.url("/start")]);
    let expected = format!(
        "via {} → 301 → {} → 302 → {} → 308 → {absolute} → 204",
        server.url("/start"),
        server.url("/step"),
        server.url("/next?x=1")
    );
    assert!(text.stdout.contains(&expected), "{}", text.stdout);
}

#[test]
fn without_follow_the_location_is_shown() {
    let server = scripted(vec![("/old", redirect(301, "https://example.test/new"))]);
    let record = json_run(&["-u", &server.url("/old")]);
    assert_eq!((record["code"].as_u64(), record["location"].as_str()), (Some(301), Some("https://example.test/new")));
    assert_eq!(record["redirects"], serde_json::json!([]));
    let text = run(&["-u", &server.url("/old")]);
    assert!(text.stdout.contains("HTTP/1.1 301 Moved") && text.stdout.contains("→ https://example.test/new"));
}

#[test]
fn loops_limits_and_other_schemes_stop_with_a_redirect_error() {
    let server = scripted(vec![
        ("/a", redirect(302, "/b")),
        ("/b", redirect(302, "/a")),
        ("/ftp", redirect(301, "ftp://example.test/file")),
        ("/1", redirect(302, "/2")),
        ("/2", redirect(302, "/3")),
        ("/3", redirect(302, "/4")),
    ]);
    let looped = json_run(&["-L", "-u", &server.url("/a")]);
    assert_eq!(looped["error"]["kind"], "redirect");
    assert_eq!(looped["error"]["message"], format!("redirect loop back to {}", server.url("/a")));
    assert_eq!(looped["redirects"].as_array().unwrap().len(), 2);
    let ftp = json_run(&["-L", "-u", &server.url("/ftp")]);
    assert_eq!(ftp["error"]["message"], "not following a redirect to a ftp: URL");
    let limited = json_run(&["--follow=2", "-u", &server.url("/1")]);
    assert_eq!(limited["error"]["message"], "more than 2 redirects");
    let enough = json_run(&["--follow=3", "-u", &server.url("/1")]);
    assert_eq!(enough["code"], 404, "{enough}");
}

/// curl's spelling: `-L` follows, `--max-redirs N` limits.
#[test]
fn max_redirs_limits_what_follow_follows() {
    let server = scripted(vec![("/1", redirect(302, "/2")), ("/2", redirect(302, "/3"))]);
    let limited = json_run(&["-L", "--max-redirs", "1", "-u", &server.url("/1")]);
    assert_eq!(limited["error"]["message"], "more than 1 redirects", "{limited}");
    let enough = json_run(&["--follow", "--max-redirs", "2", "-u", &server.url("/1")]);
    assert_eq!(enough["code"], 404, "{enough}");
    let unfollowed = json_run(&["--max-redirs", "1", "-u", &server.url("/1")]);
    assert_eq!(unfollowed["code"], 302, "--max-redirs alone does not follow, as in curl");
}

/// `--follow 2` would read `2` as a file: a usage error that names the fix.
#[test]
fn follow_with_a_separate_number_names_max_redirs() {
    for flag in ["--follow", "-L"] {
        let run = run(&[flag, "2", "-u", "http://127.0.0.1:9/"]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains("use --max-redirs 2"), "{}", run.stderr);
        assert_eq!(run.stdout, "");
    }
}

/// With a file `2` there, `-L 2` reads it, as any FILE, but says on stderr
/// how it was taken and how to ask for a redirect limit instead.
#[test]
fn follow_with_a_number_that_is_a_file_reads_it_and_warns() {
    let server = http_server();
    let list = write_file("2", format!("{}\n", server.url("/status/204")));
    let dir = list.parent().unwrap();
    for flag in ["--follow", "-L"] {
        let run = finish(statuscheck().current_dir(dir).args([flag, "2", "--format", "json"]).output().unwrap());
        assert_eq!((run.code, run.record()["code"].as_u64()), (0, Some(204)), "{}", run.stderr);
        assert!(run.stderr.contains("warning: reading the file '2' as a list of URLs"), "{}", run.stderr);
        assert!(run.stderr.contains("use -L --max-redirs 2") && run.stderr.contains("./2"), "{}", run.stderr);
    }
    // A limit given, or the file named as ./2: nothing to warn about.
    for args in [&["-L", "--max-redirs", "3", "2"][..], &["-L", "./2"], &["--follow=3", "2"]] {
        let run = finish(statuscheck().current_dir(dir).args(args).arg("-q").output().unwrap());
        assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{args:?}");
    }
}

/// `Location:` with nothing in it is no Location, as in curl: with or
/// without -L the 3xx is the answer, not a loop back to the same URL.
#[test]
fn an_empty_location_is_no_location() {
    let server = scripted(vec![
        ("/empty", "HTTP/1.1 301 Moved\r\nLocation:\r\nContent-Length: 0\r\n\r\n".into()),
        ("/blank", "HTTP/1.1 302 Found\r\nLocation:   \t \r\n\r\n".into()),
    ]);
    for (path, code) in [("/empty", 301), ("/blank", 302)] {
        for follow in [&["-L"][..], &[]] {
            let record = json_run(&[follow, &["-u", &server.url(path)]].concat());
            assert_eq!(record["code"], code, "{path} {follow:?}: {record}");
            assert_eq!((&record["error"], &record["location"]), (&serde_json::Value::Null, &serde_json::Value::Null));
            assert_eq!(record["redirects"], serde_json::json!([]), "{record}");
        }
        let text = run(&["-L", "-u", &server.url(path)]);
        assert!(!text.stdout.contains('→'), "no location note: {}", text.stdout);
    }
    assert_eq!(server.requests.lock().unwrap().len(), 6, "each check asked once");
}

/// `http:////host/` has an empty host (RFC 9110 says to refuse it), though
/// URL parsing would read it as `http://host/`: refused, as curl does.
#[test]
fn a_location_with_an_empty_host_is_a_redirect_error() {
    let server = scripted(vec![("/to", "HTTP/1.1 302 Found\r\nLocation: http:////127.0.0.1/to\r\n\r\n".into())]);
    let record = json_run(&["-L", "-u", &server.url("/to")]);
    assert_eq!(record["error"]["kind"], "redirect", "{record}");
    let message = record["error"]["message"].as_str().unwrap();
    assert_eq!(message, "Location \"http:////127.0.0.1/to\" has an empty host, which RFC 9110 says to refuse");
    assert_eq!(server.requests.lock().unwrap().len(), 1, "nothing followed");
    let unfollowed = json_run(&["-u", &server.url("/to")]);
    assert_eq!(
        (unfollowed["code"].as_u64(), unfollowed["location"].as_str()),
        (Some(302), Some("http:////127.0.0.1/to"))
    );
}

#[test]
fn method_is_accepted_in_any_case() {
    let server = http_server();
    for method in ["HEAD", "Head", "GET"] {
        let record = json_run(&["--method", method, "-u", &server.url("/status/204")]);
        assert_eq!(record["code"], 204, "{method}: {record}");
    }
    let requests = server.requests.lock().unwrap();
    assert!(requests[0].starts_with("HEAD /status/204 "), "{}", requests[0]);
    assert!(requests[1].starts_with("HEAD /status/204 "), "{}", requests[1]);
    assert!(requests[2].starts_with("GET /status/204 "), "{}", requests[2]);
}

#[test]
fn head_method_and_headers_reach_the_server() {
    let server = http_server();
    let record = json_run(&[
        "--method",
        "head",
        "-A",
        "uptime-bot/3",
        "-H",
        "X-Check: nightly",
        "-H",
        "Accept: text/html",
        "-u",
        &server.url("/status/204"),
    ]);
    assert_eq!(record["code"], 204);
    let requests = server.requests.lock().unwrap();
    let request = &requests[0];
    assert!(request.starts_with("HEAD /status/204 HTTP/1.1\r\n"), "{request}");
    assert!(request.contains("\r\nUser-Agent: uptime-bot/3\r\n"), "{request}");
    assert!(request.contains("\r\nX-Check: nightly\r\n"), "{request}");
    assert!(request.contains("\r\nAccept: text/html\r\n") && !request.contains("*/*"), "{request}");
}

#[test]
fn phases_are_timed_and_the_address_is_reported() {
    let ca = Ca::new();
    let server = https_server(&ca, Leaf { names: &["localhost"], expired: false });
    let pin = format!("localhost:{}:127.0.0.1", server.port());
    let record =
        json_run(&["--cacert", ca.pem.to_str().unwrap(), "--resolve", &pin, "-u", &server.https_url("localhost", "/")]);
    let timings = &record["timings_ms"];
    let phase = |name: &str| timings[name].as_f64().unwrap_or_else(|| panic!("no {name} in {timings}"));
    let sum = phase("dns") + phase("connect") + phase("tls") + phase("ttfb");
    assert!(sum <= phase("total") + 0.01, "phases {sum} fit in the total {}", phase("total"));
    assert_eq!(record["address"], format!("127.0.0.1:{}", server.port()));
    assert_eq!(record["tls"]["version"], "TLS 1.3");
    assert_eq!(record["tls"]["subject"], "CN=localhost");
    assert_eq!(record["tls"]["issuer"], "CN=statuscheck test CA");
    let verbose = run(&["-v", "--cacert", ca.pem.to_str().unwrap(), "-u", &server.https_url("localhost", "/")]);
    let detail = verbose.stdout.lines().nth(1).unwrap_or_default();
    for part in ["address 127.0.0.1:", "connect ", "tls ", "ttfb ", "TLS 1.3", "certificate CN=localhost"] {
        assert!(detail.contains(part), "{part} missing from {detail:?}");
    }
    let positions: Vec<usize> = ["connect ", " tls ", "ttfb "].iter().map(|p| detail.find(p).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "phases in order: {detail}");
}

#[test]
fn one_address_family_only() {
    let server = http_server();
    let port = server.port();
    let pin = format!("dual.test:{port}:::1,127.0.0.1");
    let url = format!("http://dual.test:{port}/");
    let v4 = json_run(&["-4", "--resolve", &pin, "-u", &url]);
    assert_eq!(v4["address"], format!("127.0.0.1:{port}"));
    let v6 = json_run(&["-6", "--resolve", &format!("dual.test:{port}:127.0.0.1"), "-u", &url]);
    assert_eq!(v6["error"]["kind"], "dns");
    assert!(v6["error"]["message"].as_str().unwrap().starts_with("no IPv6 address"));
}

#[test]
fn certificate_expiring_soon_fails_with_cert_expiry() {
    let ca = Ca::new();
    let server = expiring_server(&ca, 5);
    let url = server.https_url("localhost", "/");
    let cacert = ca.pem.to_str().unwrap();
    let plain = run(&["--format", "json", "--cacert", cacert, "-u", &url]);
    let record = plain.record();
    assert_eq!((record["ok"].as_bool(), plain.code), (Some(true), 0));
    let days = record["tls"]["days_left"].as_i64().unwrap();
    assert_eq!(days, 5);
    let strict = run(&["--format", "json", "--cert-expiry", "14", "--cacert", cacert, "-u", &url]);
    let record = strict.record();
    assert_eq!((record["ok"].as_bool(), record["code"].as_u64()), (Some(false), Some(200)));
    assert_eq!(record["tls"]["expiring"], true);
    assert_eq!(strict.code, 1);
    let text = run(&["--cert-expiry", "14", "--cacert", cacert, "-u", &url]);
    assert!(text.stdout.contains(&format!("[certificate expires in {days} days]")), "{}", text.stdout);
    let relaxed = run(&["--cert-expiry", "3", "--cacert", cacert, "-u", &url]);
    assert_eq!(relaxed.code, 0);
}

#[test]
fn blocked_or_down() {
    let server = scripted(vec![
        ("/challenge", "HTTP/1.1 403 Forbidden\r\nServer: cloudflare\r\ncf-mitigated: challenge\r\n\r\n".into()),
        ("/limited", "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 30\r\n\r\n".into()),
        ("/down", "HTTP/1.1 503 Service Unavailable\r\nServer: nginx\r\n\r\n".into()),
    ]);
    let challenge = json_run(&["-u", &server.url("/challenge")]);
    assert_eq!((challenge["blocked"].as_bool(), challenge["blocked_by"].as_str()), (Some(true), Some("cloudflare")));
    let limited = json_run(&["-u", &server.url("/limited")]);
    assert_eq!((limited["blocked_by"].as_str(), limited["retry_after"].as_u64()), (Some("rate-limit"), Some(30)));
    let down = json_run(&["-u", &server.url("/down")]);
    assert_eq!((down["blocked"].as_bool(), down["blocked_by"].is_null()), (Some(false), true));
    let text = run(&["-u", &server.url("/challenge")]);
    assert!(text.stdout.contains("[blocked by cloudflare]"), "{}", text.stdout);
    assert_eq!(text.code, 1, "blocked still counts as failed");
}

#[test]
fn a_tls_failure_never_sends_the_request() {
    let ca = Ca::new();
    let server = expiring_server(&ca, -3);
    let record = json_run(&["--cacert", ca.pem.to_str().unwrap(), "-u", &server.https_url("localhost", "/secret")]);
    assert_eq!(record["error"]["kind"], "tls");
    assert!(record["error"]["message"].as_str().unwrap().contains("subject CN=localhost"));
    assert!(server.requests.lock().unwrap().is_empty());
}

#[test]
fn prometheus_output_parses_with_a_real_parser() {
    let ca = Ca::new();
    let tls = https_server(&ca, Leaf { names: &["localhost"], expired: false });
    let plain = http_server();
    let refused = format!("http://127.0.0.1:{}/", refused_port());
    let quoted = plain.url("/status/404");
    let run = run(&[
        "--format",
        "prometheus",
        "--cacert",
        ca.pem.to_str().unwrap(),
        "-u",
        &tls.https_url("localhost", "/"),
        "-u",
        &quoted,
        "-u",
        &refused,
    ]);
    let lines = run.stdout.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("valid Prometheus text format");
    let value = |metric: &str, url: &str| -> f64 {
        let sample = scrape
            .samples
            .iter()
            .find(|s| s.metric == metric && s.labels.get("url") == Some(url) && s.labels.get("phase").is_none())
            .unwrap_or_else(|| panic!("no {metric} for {url} in\n{}", run.stdout));
        match sample.value {
            prometheus_parse::Value::Gauge(v) => v,
            ref other => panic!("{metric} is not a gauge: {other:?}"),
        }
    };
    let https = tls.https_url("localhost", "/");
    let checked_404 = plain.url("/status/404");
    assert_eq!(value("probe_success", &https), 1.0);
    assert_eq!(value("probe_http_status_code", &https), 200.0);
    assert_eq!(value("probe_ip_protocol", &https), 4.0);
    assert!(value("probe_ssl_earliest_cert_expiry", &https) > 4.0e9, "rcgen's default expiry is 4096");
    assert_eq!(value("probe_success", &checked_404), 0.0);
    assert_eq!(value("probe_http_status_code", &checked_404), 404.0);
    assert_eq!(value("probe_http_version", &checked_404), 1.1);
    assert_eq!(value("probe_http_status_code", &refused), 0.0);
    let phases: Vec<&str> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "probe_http_duration_seconds" && s.labels.get("url") == Some(https.as_str()))
        .filter_map(|s| s.labels.get("phase"))
        .collect();
    assert_eq!(phases, ["resolve", "connect", "tls", "processing"]);
    assert!(scrape.docs.contains_key("probe_success"));
    assert_eq!(run.stdout.matches("# TYPE probe_success gauge").count(), 1);
    assert_eq!(run.code, 1);
}

/// The official Python client's parser is strict about the format, label
/// escaping included. It is used where installed (`.ci/run` installs it).
#[test]
fn prometheus_output_parses_with_the_official_client_parser() {
    let present = have_command("python3", &["-c", "import prometheus_client"]);
    if !require("the python3 prometheus_client module", present, "python3 -m pip install prometheus-client") {
        return;
    }
    let server = http_server();
    let tricky = server.url("/status/301?a=b,c&d=\"e\"\\f");
    let run = run(&["--format", "prometheus", "-u", &tricky, "-u", &server.url("/")]);
    let file = write_file("metrics.prom", &run.stdout);
    let script = "import sys, json\n\
        from prometheus_client.parser import text_string_to_metric_families as parse\n\
        families = list(parse(open(sys.argv[1]).read()))\n\
        print(json.dumps([[f.name, f.type, s.labels, s.value] for f in families for s in f.samples]))";
    let output = std::process::Command::new("python3").args(["-c", script, file.to_str().unwrap()]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let samples: Vec<(String, String, std::collections::HashMap<String, String>, f64)> =
        serde_json::from_slice(&output.stdout).unwrap();
    let checked = samples
        .iter()
        .find(|(name, _, labels, _)| name == "probe_http_status_code" && labels["url"].contains("a=b,c"))
        .expect("the URL with '=' and ',' survives as one label value");
    assert_eq!(checked.3, 301.0);
    assert!(samples.iter().all(|(_, kind, _, _)| kind == "gauge"));
    assert_eq!(samples.iter().filter(|(name, ..)| name == "probe_success").count(), 2);
}

/// Reason phrases a hostile server might send, by path.
fn hostile() -> Server {
    scripted(vec![
        ("/formula", "HTTP/1.1 200 =HYPERLINK(\"http://evil.test/\",\"ok\")\r\n\r\n".into()),
        ("/tab", "HTTP/1.1 200 \tTab\r\n\r\n".into()),
        ("/bidi", "HTTP/1.1 200 OK\u{202E}gnp.exe\u{2028}\u{200B}\u{FEFF}\r\n\r\n".into()),
        (
            "/markup",
            "HTTP/1.1 200 ![x](https://evil.test/t.png) [y](https://evil.test/) <img src=x> *b*\r\n\r\n".into(),
        ),
        ("/moved", redirect(301, "https://bücher.example/a\u{202E}")),
    ])
}

#[test]
fn csv_cells_are_escaped_and_never_formulas() {
    let server = hostile();
    let list = write_file(
        "csv-hostile.txt",
        format!("{}\n{}\n-x\x1b[2J\x07\rz\n", server.url("/formula"), server.url("/tab")),
    );
    let run = run(&["--format", "csv", "--ordered", list.to_str().unwrap()]);
    let rows: Vec<&str> = run.stdout.split_terminator("\r\n").collect();
    assert_eq!(rows.len(), 4, "a header and one row per line: {:?}", run.stdout);
    assert!(!run.stdout.contains(['\x1b', '\x07', '\t']), "{:?}", run.stdout);
    assert!(!run.stdout.replace("\r\n", "").contains(['\r', '\n']), "{:?}", run.stdout);
    assert!(rows[1].contains(",200,\"'=HYPERLINK(\"\"http://evil.test/\"\",\"\"ok\"\")\",1.1,"), "{}", rows[1]);
    assert!(rows[2].contains(",200,\\tTab,1.1,"), "{}", rows[2]);
    assert!(rows[3].starts_with("\"'-x\\u{1b}[2J\\u{7}\\rz\","), "{}", rows[3]);
}

#[test]
fn text_escapes_invisible_characters_and_shows_location_hosts_as_punycode() {
    let server = hostile();
    let run = run(&["--ordered", "-u", &server.url("/bidi"), "-u", &server.url("/moved")]);
    let raw = ['\u{202E}', '\u{2028}', '\u{200B}', '\u{FEFF}'];
    assert!(!format!("{}{}", run.stdout, run.stderr).contains(raw), "{}", run.stdout);
    assert!(run.stdout.contains("HTTP/1.1 200 OK\\u{202e}gnp.exe\\u{2028}\\u{200b}\\u{feff}"), "{}", run.stdout);
    assert!(run.stdout.contains("→ https://xn--bcher-kva.example/a%E2%80%AE"), "{}", run.stdout);
    let tsv = self::run(&["--format", "tsv", "-u", &server.url("/bidi")]);
    assert!(!tsv.stdout.contains(raw), "{}", tsv.stdout);
}

#[test]
fn markdown_does_not_render_what_a_server_sends() {
    let server = hostile();
    let run = run(&["--format", "markdown", "-u", &server.url("/markup")]);
    // One code span, where Markdown parses nothing (tests/reports.rs renders
    // such output with cmark-gfm).
    let status = run.stdout.lines().nth(2).and_then(|row| row.split(" | ").nth(1)).unwrap_or_default();
    let markup = "![x](https://evil.test/t.png) [y](https://evil.test/) <img src=x> *b*";
    assert_eq!(status, format!("` HTTP/1.1 200 {markup} `"), "{}", run.stdout);
}

/// The samples of a Prometheus exposition as the official Python client's
/// parser reads them: `[name, type, labels, value]`. The parser is needed
/// (`.ci/run` installs it): without it this fails.
type Samples = Vec<(String, std::collections::BTreeMap<String, String>, f64)>;

/// The samples of an exposition, by the official Python client's parser:
/// `None` where python3 or its `prometheus_client` is missing (a skip, or a
/// failure under CI, by [`require`]).
fn python_parsed(exposition: &str) -> Option<Samples> {
    let present = have_command("python3", &["-c", "import prometheus_client"]);
    if !require("the python3 prometheus_client module", present, "python3 -m pip install prometheus-client") {
        return None;
    }
    let file = write_file("metrics.prom", exposition);
    let script = "import sys, json\n\
        from prometheus_client.parser import text_string_to_metric_families as parse\n\
        families = list(parse(open(sys.argv[1]).read()))\n\
        print(json.dumps([[s.name, s.labels, s.value] for f in families for s in f.samples]))";
    let output = std::process::Command::new("python3").args(["-c", script, file.to_str().unwrap()]).output().unwrap();
    assert!(output.status.success(), "the parser refused it: {}", String::from_utf8_lossy(&output.stderr));
    Some(serde_json::from_slice(&output.stdout).unwrap())
}

/// The samples of an exposition, by the Rust parser (always there).
fn rust_parsed(exposition: &str) -> Samples {
    let lines = exposition.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("valid Prometheus text format");
    let value = |v: &prometheus_parse::Value| match v {
        prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => *v,
        other => panic!("not a gauge: {other:?}"),
    };
    let labels = |l: &prometheus_parse::Labels| l.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    scrape.samples.iter().map(|s| (s.metric.clone(), labels(&s.labels), value(&s.value))).collect()
}

/// A URL (or a line that is no URL) listed twice gets one set of series,
/// from its last answer. Read by the Rust parser everywhere and by the
/// official Python client's strict one where it is installed.
#[test]
fn prometheus_has_one_series_per_label_set() {
    let server = http_server();
    let url = server.url("/status/204");
    let list = write_file("twice.txt", format!("{url}\nftp://x/\nftp://x/\n{url}\n"));
    let run = run(&["--format", "prometheus", "-u", &url, list.to_str().unwrap()]);
    let check = |samples: Samples| {
        let mut keys: Vec<_> = samples.iter().map(|(name, labels, _)| (name.clone(), labels.clone())).collect();
        let all = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), all, "a label set repeats:\n{}", run.stdout);
        let success: Vec<_> = samples.iter().filter(|(name, ..)| name == "probe_success").collect();
        assert_eq!(success.len(), 2, "{}", run.stdout);
        let status =
            |u: &str| samples.iter().find(|(n, l, _)| n == "probe_http_status_code" && l["url"] == u).unwrap().2;
        assert_eq!((status(&url), status("ftp://x/")), (204.0, 0.0));
    };
    check(rust_parsed(&run.stdout));
    if let Some(samples) = python_parsed(&run.stdout) {
        check(samples);
    }
}

#[test]
fn watch_with_prometheus_is_a_usage_error_that_says_what_to_do() {
    let mut child = statuscheck()
        .args(["--watch", "1s", "--format", "prometheus", "-u", "http://127.0.0.1:9/"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() && started.elapsed() < SLACK {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "still watching after {SLACK:?}: {stderr}");
    assert!(stderr.contains("textfile collector") && stderr.contains("--format prometheus"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn watch_prints_only_changes_and_ends_with_the_summary_on_ctrl_c() {
    use std::io::{BufRead, BufReader, Read};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let flips = Arc::new(AtomicUsize::new(0));
    let count = flips.clone();
    let server = serve(move |mut stream| {
        let head = read_head(&mut stream);
        let answer: &[u8] = if head.starts_with("GET /flip ") && count.fetch_add(1, Ordering::SeqCst) >= 2 {
            b"HTTP/1.1 500 Internal Server Error\r\n\r\n"
        } else {
            b"HTTP/1.1 200 OK\r\n\r\n"
        };
        let _ = stream.write_all(answer);
    });
    let mut child = statuscheck()
        .args(["--watch", "200ms", "--format", "json", "-u", &server.url("/flip"), "-u", &server.url("/steady")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut records: Vec<serde_json::Value> =
        (0..3).map(|_| serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap()).collect();
    // Round 3 brought the change; a few more rounds must print nothing new.
    while flips.load(Ordering::SeqCst) < 6 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    records.extend(lines.map(|l| serde_json::from_str(&l.unwrap()).unwrap()));
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(status.code(), Some(130));
    let seen: Vec<(String, u64)> = records
        .iter()
        .map(|r| (r["url"].as_str().unwrap().rsplit('/').next().unwrap().to_string(), r["code"].as_u64().unwrap()))
        .collect();
    let mut first_round = seen[..2].to_vec();
    first_round.sort();
    assert_eq!(first_round, [("flip".to_string(), 200), ("steady".to_string(), 200)]);
    assert_eq!(seen[2..], [("flip".to_string(), 500)], "only the change is printed after round one");
    assert!(records.iter().all(|r| r["checked_at"].as_str().is_some_and(|t| t.ends_with('Z'))));
    assert!(stderr.starts_with("interrupted: "), "{stderr}");
}
