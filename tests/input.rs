//! Input that is wrong: every bad line gets its own clear result, and the good
//! lines in the same file are still checked.

mod common;

use common::*;

#[test]
fn empty_and_comment_only_files_check_nothing_and_succeed() {
    for contents in ["", "# only a comment\n\n   \n#another\n"] {
        let file = write_file("empty.txt", contents);
        let run = run(&["--format", "json", file.to_str().unwrap()]);
        assert_eq!((run.code, run.stdout.as_str()), (0, ""));
        assert!(run.stderr.starts_with("0 checked"), "{}", run.stderr);
    }
}

#[test]
fn every_bad_line_gets_a_row_and_good_lines_still_run() {
    let server = http_server();
    let good = server.url("/status/204");
    let mut list = Vec::new();
    list.extend_from_slice(b"\xEF\xBB\xBF# list with a BOM and CRLF endings\r\n");
    let lines: Vec<(Vec<u8>, &str)> = vec![
        (good.clone().into_bytes(), "ok"),
        (b"ftp://example.com/".to_vec(), "scheme 'ftp'"),
        (b"file:///etc/passwd".to_vec(), "scheme 'file'"),
        (b"javascript:alert(1)".to_vec(), "scheme 'javascript'"),
        (b"http://".to_vec(), "empty host"),
        (b"http://example.com:0/".to_vec(), "port 0"),
        (b"http://example.com:70000/".to_vec(), "invalid port"),
        (b"http://bad\xff\xfehost/".to_vec(), "not valid UTF-8"),
        (b"http://exa mple.com/".to_vec(), "domain"),
        (vec![b'a'; 1 << 20], "bytes long; the limit is"),
        (good.clone().into_bytes(), "ok"),
    ];
    for (line, _) in &lines {
        list.extend_from_slice(line);
        list.extend_from_slice(b"\r\n");
    }
    let file = write_file("bad.txt", &list);
    let name = file.to_str().unwrap();
    let run = run(&["--format", "json", "--ordered", name]);
    let records = run.json();
    assert_eq!(records.len(), lines.len(), "{}", run.stdout);
    for (i, (record, (_, expect))) in records.iter().zip(&lines).enumerate() {
        assert_eq!(record["source"], format!("{name}:{}", i + 2));
        if *expect == "ok" {
            assert_eq!(record["code"], 204, "{record}");
        } else {
            assert_eq!(record["error"]["kind"], "invalid-url", "{record}");
            let message = record["error"]["message"].as_str().unwrap();
            assert!(message.contains(expect) && message.contains(&format!("{name}:{}", i + 2)), "{message}");
            assert!(record["input"].as_str().unwrap().len() < 1000, "huge lines are not echoed whole");
        }
    }
    assert_eq!(run.code, 1);
    assert_eq!(server.requests.lock().unwrap().len(), 2);
}

#[test]
fn userinfo_is_never_sent_and_injection_is_impossible() {
    let server = http_server();
    let port = server.port();
    let lines = [
        format!("http://alice:s3cret@127.0.0.1:{port}/private"),
        format!("http://127.0.0.1:{port}/a%0d%0aX-Injected:%201"),
        format!("http://127.0.0.1:{port}/b\rX-Raw: 1"),
        format!("http://127.0.0.1:{port}/with space?q=a b#fragment"),
    ];
    let file = write_file("sneaky.txt", lines.join("\n"));
    let run = run(&["--format", "json", "--ordered", file.to_str().unwrap()]);
    assert!(run.json().iter().all(|r| r["code"] == 200), "{}", run.stdout);
    let requests = server.requests.lock().unwrap();
    assert_eq!(requests.len(), 4);
    for request in requests.iter() {
        assert!(!request.contains("alice") && !request.contains("s3cret") && !request.contains("Authorization"));
        assert!(!request.contains("\r\nX-"), "header injected: {request:?}");
        assert!(!request.contains("fragment"));
        assert_eq!(request.matches("\r\n").count(), 6, "{request:?}");
    }
    let targets: Vec<&str> = requests.iter().map(|r| r.split(' ').nth(1).unwrap()).collect();
    assert!(targets.contains(&"/a%0d%0aX-Injected:%201"), "{targets:?}");
    assert!(targets.contains(&"/with%20space?q=a%20b"), "{targets:?}");
}

#[test]
fn credentials_in_lines_are_never_echoed_in_any_format() {
    let server = http_server();
    let port = server.port();
    let lines = [
        format!("http://alice:S3cretPW@127.0.0.1:{port}/private"),
        format!("bob:S3cretPW@localhost:{port}/no-scheme"),
        "ftp://carol:S3cretPW@example.com/".to_string(),
        "https://dave:S3cret/PW@example.com/".to_string(),
        format!("http://erin:S3cretPW@127.0.0.1:{port}/{}", "long/".repeat(60)),
    ];
    let file = write_file("secret.txt", lines.join("\n"));
    for format in ["text", "json", "csv", "tsv", "markdown", "prometheus", "junit"] {
        let run = run(&["--format", format, "-v", "-u", &lines[0], "-u", &lines[2], file.to_str().unwrap()]);
        let all = format!("{}{}", run.stdout, run.stderr);
        for secret in ["S3cret", "alice", "carol", "dave", "erin"] {
            assert!(!all.contains(secret), "{format}: {secret} in\n{all}");
        }
        // Markdown writes `***` as `\*\*\*`.
        assert!(all.replace("\\*", "*").contains("ftp://***@example.com/"), "{format}: {all}");
    }
    let run = run(&["--format", "json", "--ordered", file.to_str().unwrap()]);
    let inputs: Vec<String> = run.json().iter().map(|r| r["input"].as_str().unwrap().to_string()).collect();
    assert_eq!(inputs[0], format!("http://***@127.0.0.1:{port}/private"));
    assert_eq!(inputs[1], format!("***@localhost:{port}/no-scheme"));
    assert_eq!(inputs[3], "https://***@example.com/");
}

#[test]
fn internationalised_names_are_checked_as_punycode() {
    let server = http_server();
    let port = server.port();
    let pin = format!("xn--bcher-kva.test:{port}:127.0.0.1");
    let run = run(&["--format", "json", "--resolve", &pin, "-u", &format!("http://bücher.test:{port}/")]);
    let record = run.record();
    assert_eq!(record["code"], 200, "{record}");
    assert_eq!(record["url"], format!("http://xn--bcher-kva.test:{port}/"));
    assert!(server.requests.lock().unwrap()[0].contains(&format!("Host: xn--bcher-kva.test:{port}\r\n")));
}

#[test]
fn lines_without_a_scheme_are_checked_as_https() {
    let ca = Ca::new();
    let server = https_server(&ca, Leaf { names: &["localhost"], expired: false });
    let line = format!("localhost:{}/status/204", server.port());
    let run = run(&["--format", "json", "--cacert", ca.pem.to_str().unwrap(), "-u", &line]);
    let record = run.record();
    assert_eq!(record["url"], format!("https://{line}"));
    assert_eq!(record["code"], 204);
}

#[test]
fn nonsense_option_values_are_usage_errors() {
    for (args, says) in [
        (&["--concurrency", "0"][..], "from 1 to 1000000"),
        (&["--timeout", "-1"], "positive duration"),
        (&["--ok-codes", "99-700"], "100 to 599"),
        (&["--connect-timeout", "soon"], "positive duration"),
    ] {
        let mut all = args.to_vec();
        all.extend(["-u", "example.com"]);
        let run = run(&all);
        assert_eq!(run.code, 2, "{args:?}");
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
        assert_eq!(run.stdout, "");
    }
}

#[test]
fn a_bad_cacert_is_a_usage_error() {
    let not_pem = write_file("not.pem", "hello\n");
    let run = run(&["--cacert", not_pem.to_str().unwrap(), "-u", "example.com"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("holds no PEM certificate"), "{}", run.stderr);
}
