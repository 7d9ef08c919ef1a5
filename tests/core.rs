//! End-to-end: the real binary against real local servers, for the core
//! contract: codes, formats, inputs, modes and exit statuses.

mod common;

use common::*;

#[test]
fn reports_each_code_the_server_sends() {
    let server = http_server();
    let urls: Vec<String> = [200, 301, 404, 500].iter().map(|c| server.url(&format!("/status/{c}"))).collect();
    let mut args = vec!["--format", "json", "--ordered"];
    for url in &urls {
        args.extend(["-u", url]);
    }
    let run = run(&args);
    let records = run.json();
    let codes: Vec<u64> = records.iter().map(|r| r["code"].as_u64().unwrap()).collect();
    assert_eq!(codes, [200, 301, 404, 500]);
    let oks: Vec<bool> = records.iter().map(|r| r["ok"].as_bool().unwrap()).collect();
    assert_eq!(oks, [true, true, false, false]);
    assert_eq!(records[2]["reason"], "Not Found");
    assert_eq!(records[0]["http_version"], "1.1");
    assert_eq!(run.code, 1, "404 and 500 are failures");
    assert!(run.stderr.contains("4 checked: 2 ok, 2 failed, 0 errors"), "{}", run.stderr);
}

#[test]
fn exit_zero_only_when_every_url_is_accepted() {
    let server = http_server();
    let ok = run(&["-u", &server.url("/"), "-u", &server.url("/status/301")]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let custom = run(&["--ok-codes", "200,404", "-u", &server.url("/status/404")]);
    assert_eq!(custom.code, 0);
    let strict = run(&["--ok-codes", "200", "-u", &server.url("/status/301")]);
    assert_eq!(strict.code, 1);
}

#[test]
fn sends_the_documented_request() {
    let server = http_server();
    let run = run(&["-u", &server.url("/a/b?x=1&y=2#frag")]);
    assert_eq!(run.code, 0);
    let requests = server.requests.lock().unwrap();
    let expected = format!(
        "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: {}\r\nUser-Agent: statuscheck/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        server.addr,
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(requests.as_slice(), [expected]);
}

#[test]
fn https_with_a_ca_made_at_test_time() {
    let ca = Ca::new();
    let server = https_server(&ca, Leaf { names: &["localhost", "127.0.0.1"], expired: false });
    let cacert = ca.pem.to_str().unwrap();
    let by_name = run(&["--format", "json", "--cacert", cacert, "-u", &server.https_url("localhost", "/status/204")]);
    assert_eq!(by_name.record()["code"], 204, "{}", by_name.stdout);
    let by_ip = run(&["--format", "json", "--cacert", cacert, "-u", &server.https_url("127.0.0.1", "/")]);
    assert_eq!(by_ip.record()["code"], 200, "{}", by_ip.stdout);
    assert_eq!(by_ip.code, 0);
}

#[test]
fn untrusted_certificate_is_a_tls_error_unless_insecure() {
    let ca = Ca::new();
    let server = https_server(&ca, Leaf { names: &["localhost"], expired: false });
    let url = server.https_url("localhost", "/");
    let untrusted = run(&["--format", "json", "-u", &url]);
    let record = untrusted.record();
    assert_eq!(record["error"]["kind"], "tls");
    let message = record["error"]["message"].as_str().unwrap();
    assert_eq!(
        message,
        "certificate issued by an unknown authority (subject CN=localhost, issuer CN=statuscheck test CA, \
         expires 4096-01-01)"
    );
    assert_eq!(untrusted.code, 1);
    let insecure = run(&["--format", "json", "-k", "-u", &url]);
    assert_eq!(insecure.record()["code"], 200);
    assert_eq!(insecure.stderr.matches("--insecure").count(), 1, "{}", insecure.stderr);
}

/// A check's TLS writes are held until it reads (`src/wire/corked.rs`):
/// both TLS versions must still finish their handshakes, TLS 1.2 sending
/// its flight before it waits for the server's Finished.
#[test]
fn tls_1_2_and_tls_1_3_servers_both_answer() {
    let ca = Ca::new();
    let both = ca.server_config(Leaf { names: &["localhost"], expired: false });
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls12 = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(both.cert_resolver.clone());
    let cacert = ca.pem.to_str().unwrap();
    for (config, version) in [(std::sync::Arc::new(tls12), "TLS 1.2"), (both, "TLS 1.3")] {
        let server = tls_server(config);
        let url = server.https_url("localhost", "/status/204");
        let run = run(&["--format", "json", "--cacert", cacert, "-u", &url]);
        let record = run.record();
        assert_eq!((record["code"].as_u64(), run.code), (Some(204), 0), "{version}: {}{}", run.stdout, run.stderr);
        assert_eq!(record["tls"]["version"], version, "{record}");
    }
}

/// A refused handshake still tells the server why, as curl's does: the
/// alert rustls wrote leaves before the connection closes, although the
/// check's writes are otherwise held until it reads.
#[test]
fn a_refused_certificate_sends_the_server_an_alert() {
    let ca = Ca::new();
    let config = ca.server_config(Leaf { names: &["localhost"], expired: false });
    let (seen, told) = std::sync::mpsc::channel();
    let server = serve(move |mut tcp| {
        let mut conn = rustls::ServerConnection::new(config.clone()).unwrap();
        let ended = loop {
            match conn.complete_io(&mut tcp) {
                Ok(_) if conn.is_handshaking() => continue,
                Ok(_) => break "handshake finished".to_string(),
                Err(error) => break error.to_string(),
            }
        };
        let _ = seen.send(ended);
    });
    let run = run(&["--format", "json", "-u", &server.https_url("localhost", "/")]);
    assert_eq!(run.record()["error"]["kind"], "tls", "{}", run.stdout);
    let ended = told.recv_timeout(std::time::Duration::from_secs(30)).unwrap();
    assert!(ended.contains("received fatal alert"), "the server saw: {ended}");
}

#[test]
fn refused_port_is_a_connect_error() {
    let port = refused_port();
    let run = run(&["--format", "json", "-u", &format!("http://127.0.0.1:{port}/")]);
    let record = run.record();
    assert_eq!(record["error"]["kind"], "connect");
    assert_eq!(record["error"]["message"], format!("connection refused (127.0.0.1:{port})"));
    assert_eq!(run.code, 1);
}

#[test]
fn ipv6_loopback_works_where_available() {
    if !require("IPv6 loopback ([::1])", have_ipv6_loopback(), IPV6_INSTALL) {
        return;
    }
    let server = http_server_on("[::1]:0");
    let url = format!("http://[::1]:{}/status/204", server.port());
    let run = run(&["--format", "json", "-u", &url]);
    assert_eq!(run.record()["code"], 204);
    let requests = server.requests.lock().unwrap();
    assert!(requests[0].contains(&format!("\r\nHost: [::1]:{}\r\n", server.port())));
}

#[test]
fn mixed_good_and_bad_lines_in_one_file() {
    let server = http_server();
    let list = format!(
        "# a comment\n{}\nftp://example.com/\n\nnot a url at all\n{}\n",
        server.url("/"),
        server.url("/status/404")
    );
    let file = write_file("mixed.txt", list);
    let name = file.to_str().unwrap();
    let run = run(&["--format", "json", "--ordered", name]);
    let records = run.json();
    assert_eq!(records.len(), 4, "one record per URL line: {}", run.stdout);
    assert_eq!(records[0]["code"], 200);
    assert_eq!(records[1]["error"]["kind"], "invalid-url");
    let message = records[1]["error"]["message"].as_str().unwrap();
    assert!(message.contains(&format!("{name}:3")), "{message}");
    assert_eq!(records[1]["source"], format!("{name}:3"));
    assert_eq!(records[2]["error"]["kind"], "invalid-url");
    assert_eq!(records[2]["input"], "not a url at all");
    assert_eq!(records[3]["code"], 404);
    assert_eq!(run.code, 1);
}

#[test]
fn reads_stdin_with_dash_and_when_no_file_is_given() {
    let server = http_server();
    let list = format!("{}\n{}\n", server.url("/"), server.url("/status/500"));
    for args in [&["--format", "tsv", "--ordered", "-"][..], &["--format", "tsv", "--ordered"]] {
        let run = run_with_stdin(args, &list);
        let codes: Vec<&str> = run.stdout.lines().map(|l| l.split('\t').nth(1).unwrap()).collect();
        assert_eq!(codes, ["200", "500"], "{args:?}");
        let json = run_with_stdin(&["--format", "json", "--ordered", "-"], &list);
        assert_eq!(json.json()[0]["source"], "stdin:1");
    }
}

#[test]
fn tsv_rows_keep_their_five_fields_and_append_state_and_unmet() {
    let server = http_server();
    let port = refused_port();
    let run = run(&[
        "--format",
        "tsv",
        "--ordered",
        "-u",
        &server.url("/status/301"),
        "-u",
        &format!("http://127.0.0.1:{port}/"),
        "-u",
        "ftp://x/",
    ]);
    let rows: Vec<Vec<&str>> = run.stdout.lines().map(|l| l.split('\t').collect()).collect();
    assert!(rows.iter().all(|r| r.len() == 7), "{rows:?}");
    let states: Vec<[&str; 2]> = rows.iter().map(|r| [r[5], r[6]]).collect();
    assert_eq!(states, [["up", ""], ["down", ""], ["down", ""]], "errors are down; the error says why");
    assert_eq!(&rows[0][..3], [server.url("/status/301").as_str(), "301", "Moved Permanently"]);
    assert!(rows[0][3].parse::<f64>().unwrap() >= 0.0);
    assert_eq!(rows[0][4], "");
    assert_eq!(rows[1][1], "");
    assert!(rows[1][4].starts_with("connect: connection refused"), "{:?}", rows[1]);
    assert!(rows[2][4].starts_with("invalid-url: "), "{:?}", rows[2]);
    assert_eq!(rows[2][3], "", "never checked, so no time");
}

#[test]
fn text_format_is_one_readable_line_per_url() {
    let server = http_server();
    let run = run(&["--color", "never", "-u", &server.url("/status/404")]);
    let line = run.stdout.lines().next().unwrap();
    assert!(line.starts_with(&server.url("/status/404")));
    assert!(line.contains("HTTP/1.1 404 Not Found"), "{line}");
    assert!(line.trim_end().ends_with("ms  [down: status 100-399, got 404]"), "{line}");
    assert!(!run.stdout.contains('\x1b'), "no colour when asked for none");
    let coloured = common::run(&["--color", "always", "-u", &server.url("/status/404")]);
    assert!(coloured.stdout.contains("\x1b[33m"), "404 is yellow");
}

#[test]
fn sequential_gives_the_same_results_as_concurrent_in_input_order() {
    let server = http_server();
    let port = refused_port();
    let mut list = String::new();
    for i in 0..30 {
        match i % 3 {
            0 => list.push_str(&server.url(&format!("/status/{}\n", 200 + i))),
            1 => list.push_str(&format!("http://127.0.0.1:{port}/{i}\n")),
            _ => list.push_str(&format!("gopher://x/{i}\n")),
        }
    }
    let file = write_file("list.txt", &list);
    let file = file.to_str().unwrap();
    let rows = |args: &[&str]| -> Vec<String> {
        let run = run(args);
        run.json().iter().map(|r| format!("{} {} {}", r["source"], r["code"], r["error"]["kind"])).collect()
    };
    let sequential = rows(&["--format", "json", "--sequential", file]);
    let mut concurrent = rows(&["--format", "json", "-c", "8", file]);
    let ordered = rows(&["--format", "json", "-c", "8", "--ordered", file]);
    assert_eq!(sequential.len(), 30);
    assert_eq!(ordered, sequential, "--ordered is input order");
    let in_input_order: Vec<String> = (1..=30).map(|line| format!("\"{file}:{line}\"")).collect();
    let sources: Vec<String> = sequential.iter().map(|r| r.split(' ').next().unwrap().to_string()).collect();
    assert_eq!(sources, in_input_order);
    concurrent.sort();
    let mut sorted = sequential.clone();
    sorted.sort();
    assert_eq!(concurrent, sorted, "same results, whatever the order");
}

#[test]
fn unreadable_input_is_a_usage_error_and_nothing_is_checked() {
    let server = http_server();
    let dir = temp_path("dir");
    std::fs::create_dir_all(&dir).unwrap();
    for (bad, says) in
        [("/nonexistent/list.txt", "cannot read '/nonexistent/list.txt'"), (dir.to_str().unwrap(), "is a directory")]
    {
        let run = run(&["-u", &server.url("/"), bad]);
        assert_eq!(run.code, 2, "{bad}");
        assert!(run.stderr.contains(says), "{}", run.stderr);
        assert_eq!(run.stdout, "");
    }
    assert!(server.requests.lock().unwrap().is_empty(), "nothing checked");
}

#[test]
fn quiet_drops_the_summary() {
    let server = http_server();
    let run = run(&["-q", "-u", &server.url("/")]);
    assert_eq!(run.stderr, "");
    assert_eq!(run.code, 0);
}

#[test]
fn help_and_version() {
    let help = run(&["--help"]);
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("--sequential") && help.stdout.contains("Examples:"));
    let version = run(&["--version"]);
    assert_eq!(version.stdout.trim(), format!("statuscheck {}", env!("CARGO_PKG_VERSION")));
}

/// `script` gives the binary a terminal on stdin: with no FILE and no `--url`
/// there is nothing to read, which is a usage error rather than a hang.
#[test]
fn no_input_on_a_terminal_is_a_usage_error() {
    if !require("`script`", have_command("script", &["--version"]), SCRIPT_INSTALL) {
        return;
    }
    let binary = env!("CARGO_BIN_EXE_statuscheck");
    let output = std::process::Command::new("script")
        .args(["-qec", binary, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("no URLs to check"), "{text}");
    assert_eq!(output.status.code(), Some(2), "{text}");
}

/// A missing outside tool skips its test on a laptop, but fails it under
/// `CI=true`, so a green CI never hides a test that did not run.
#[test]
fn a_missing_tool_fails_under_ci_and_skips_elsewhere() {
    let missing = have_command("statuscheck-no-such-tool-3f9c2a", &["--version"]);
    assert!(!missing);
    assert!(!require_in(false, "no-such-tool", missing, "nowhere"), "skipped off CI");
    assert!(require_in(true, "sh", have_command("sh", &["-c", "true"]), "apt-get install dash"));
    let failed = std::panic::catch_unwind(|| require_in(true, "no-such-tool", missing, "install it from nowhere"));
    let message = failed.expect_err("CI=true: a missing tool fails the test");
    let message = message.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("no-such-tool is missing and CI=true") && message.contains("install it from nowhere"));
}
