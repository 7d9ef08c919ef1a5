//! As a person sees it: the progress line under a pseudo-terminal (made by
//! `script`), snapshots of `--help` and of every output format, completions,
//! the man page, colours and the environment.
//!
//! Snapshots live in `tests/snapshots/`; after an intended change, rewrite
//! them with `UPDATE_SNAPSHOTS=1 cargo test --test terminal` and review the diff.

mod common;

use std::path::Path;
use std::process::Command;
use std::thread::sleep;
use std::time::Duration;

use common::*;

fn snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots").join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == actual,
        "snapshot {name} differs (UPDATE_SNAPSHOTS=1 rewrites it)\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}

/// Runs `statuscheck ARGS` under a pseudo-terminal; returns what the terminal
/// showed (stdout and stderr together), or `None` where `script` is missing.
fn under_terminal(args: &str) -> Option<String> {
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_statuscheck"));
    let output = Command::new("script").args(["-qec", &command, "/dev/null"]).output().ok()?;
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn slow_list(count: usize) -> String {
    let server = serve(|mut stream| {
        read_head(&mut stream);
        sleep(Duration::from_millis(300));
        let _ = std::io::Write::write_all(&mut stream, b"HTTP/1.1 200 OK\r\n\r\n");
    });
    let list: String = (0..count).map(|i| server.url(&format!("/{i}\n"))).collect();
    write_file("slow.txt", list).to_str().unwrap().to_string()
}

#[test]
fn progress_line_appears_on_a_terminal_and_never_in_a_pipe() {
    let file = slow_list(12);
    if !require("`script`", have_command("script", &["--version"]), SCRIPT_INSTALL) {
        return;
    }
    let screen = under_terminal(&format!("-c 2 {file}")).unwrap();
    assert!(screen.contains("/12 checked: "), "no progress line in {screen:?}");
    assert!(screen.contains(" ok, 0 failed, 0 errors, "), "{screen:?}");
    assert!(screen.contains("12/12 checked: "), "the total is known from the start: {screen:?}");
    assert!(!screen.contains("/6 checked"), "{screen:?}");
    assert!(screen.contains("\x1b[2K12 checked: 12 ok"), "progress line cleared before the summary: {screen:?}");

    let piped = run(&["-c", "2", &file]);
    assert!(!piped.stderr.contains("/12 checked"), "{}", piped.stderr);
    assert!(!piped.stdout.contains("checked"));
    assert_eq!(piped.stdout.lines().count(), 12);

    let few = slow_list(3);
    let screen = under_terminal(&format!("-c 1 {few}")).unwrap();
    assert!(!screen.contains("/3 checked"), "no progress line for a handful: {screen:?}");
}

#[test]
fn help_snapshots() {
    let long = run(&["--help"]);
    assert_eq!(long.code, 0);
    snapshot("help.txt", &long.stdout);
    let short = run(&["-h"]);
    snapshot("help-short.txt", &short.stdout);
    assert!(short.stdout.lines().count() < long.stdout.lines().count());
}

/// The results of one fixed list, with what varies from run to run (port,
/// timings) masked.
fn formatted(format: &str) -> String {
    let server = http_server();
    let port = refused_port();
    let list = format!(
        "{}\n{}\nftp://example.com/\nhttp://127.0.0.1:{port}/\n",
        server.url("/status/200"),
        server.url("/status/404")
    );
    let file = write_file("formats.txt", list);
    let run = run(&["--ordered", "--color", "never", "--format", format, file.to_str().unwrap()]);
    let dir = file.parent().unwrap().to_str().unwrap();
    // Markdown escapes what a path may hold (`_`, `~`), so look for it escaped too.
    let markdown_dir: String =
        dir.chars().flat_map(|c| "\\`*_[]!~|".contains(c).then_some('\\').into_iter().chain([c])).collect();
    let text = run
        .stdout
        .replace(&server.port().to_string(), "PORT")
        .replace(&port.to_string(), "DEAD")
        .replace(dir, "DIR")
        .replace(&markdown_dir, "DIR");
    mask_elapsed(format, &text)
}

fn mask_elapsed(format: &str, text: &str) -> String {
    let mask_field = |line: &str, sep: char, index: usize| -> String {
        let mut fields: Vec<String> = line.split(sep).map(str::to_string).collect();
        if fields.len() > index && !fields[index].trim().is_empty() {
            fields[index] = "ELAPSED".into();
        }
        fields.join(&sep.to_string())
    };
    let lines: Vec<String> = text
        .split_inclusive('\n')
        .map(|line| match format {
            "json" => {
                let mut record: serde_json::Value = serde_json::from_str(line).unwrap();
                if record["elapsed_ms"].is_number() {
                    record["elapsed_ms"] = "ELAPSED".into();
                }
                for phase in ["dns", "connect", "tls", "ttfb", "total"] {
                    if record["timings_ms"][phase].is_number() {
                        record["timings_ms"][phase] = "T".into();
                    }
                }
                if let Some(address) = record["address"].as_str() {
                    record["address"] = address.replace(|c: char| c.is_ascii_digit(), "9").into();
                }
                format!("{record}\n")
            }
            "tsv" => mask_field(line, '\t', 3),
            "csv" if !line.starts_with("input,") => mask_field(line, ',', 7),
            "markdown" if line.starts_with("| http") || line.starts_with("| ftp") => mask_field(line, '|', 3),
            "text" => mask_text_elapsed(line),
            _ => line.to_string(),
        })
        .collect();
    lines.concat()
}

/// The text format's time column (`12 ms`, `1.42 s`, right-aligned) as
/// `ELAPSED` after the status, whatever its width, with any notes after it.
fn mask_text_elapsed(line: &str) -> String {
    let line = line.trim_end_matches('\n');
    let is_elapsed = |part: &&str| {
        let part = part.trim();
        let number = part.strip_suffix(" ms").or_else(|| part.strip_suffix(" s"));
        number.is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit() || c == '.'))
    };
    let parts: Vec<&str> = line.split("  ").collect();
    let Some(i) = parts.iter().position(is_elapsed) else { return format!("{line}\n") };
    let notes = parts[i + 1..].join("  ");
    let notes = if notes.is_empty() { notes } else { format!("  {notes}") };
    format!("{}  ELAPSED{notes}\n", parts[..i].join("  ").trim_end())
}

#[test]
fn format_snapshots() {
    for (format, file) in [
        ("text", "text.txt"),
        ("tsv", "tsv.txt"),
        ("json", "json.txt"),
        ("csv", "csv.txt"),
        ("markdown", "markdown.txt"),
    ] {
        snapshot(file, &formatted(format));
    }
}

#[test]
fn filters_show_only_what_was_asked() {
    let server = http_server();
    let ok = server.url("/status/200");
    let missing = server.url("/status/404");
    let failed = run(&["--format", "tsv", "--only-failed", "-u", &ok, "-u", &missing]);
    assert_eq!(failed.stdout.lines().count(), 1);
    assert!(failed.stdout.starts_with(&missing));
    assert_eq!(failed.code, 1);
    let summary = run(&["--summary-only", "-u", &ok, "-u", &missing]);
    assert_eq!(summary.stdout, "");
    assert!(summary.stderr.starts_with("2 checked: 1 ok, 1 failed, 0 errors"), "{}", summary.stderr);
    assert!(summary.stderr.contains("  2xx 1, 4xx 1\n"), "{}", summary.stderr);
    assert!(summary.stderr.contains("latency p50 "), "{}", summary.stderr);
}

#[test]
fn summary_json_is_one_object_on_stderr() {
    let server = http_server();
    let port = refused_port();
    let run = run(&[
        "--format",
        "json",
        "--summary-json",
        "-u",
        &server.url("/status/301"),
        "-u",
        &format!("http://127.0.0.1:{port}/"),
    ]);
    assert_eq!(run.json().len(), 2);
    let summary: serde_json::Value = serde_json::from_str(run.stderr.trim_end()).unwrap();
    assert_eq!(summary["checked"], 2);
    assert_eq!((summary["ok"].as_u64(), summary["errors"].as_u64()), (Some(1), Some(1)));
    assert_eq!(summary["status_classes"]["3xx"], 1);
    assert_eq!(summary["error_kinds"]["connect"], 1);
    assert_eq!(summary["interrupted"], false);
    assert!(summary["latency_ms"]["p99"].as_f64().unwrap() >= 0.0);
    assert!(summary["slowest"]["url"].is_string());
}

#[test]
fn completions_are_valid_scripts() {
    let bash = run(&["completions", "bash"]);
    assert_eq!(bash.code, 0);
    assert!(bash.stdout.contains("_statuscheck()") && bash.stdout.contains("--only-failed"));
    let script = write_file("statuscheck.bash", &bash.stdout);
    let syntax = Command::new("bash").arg("-n").arg(&script).status().unwrap();
    assert!(syntax.success(), "bash -n rejects the completion script");
    assert!(run(&["completions", "zsh"]).stdout.starts_with("#compdef statuscheck"));
    assert!(run(&["completions", "fish"]).stdout.contains("complete -c statuscheck"));
}

#[test]
fn man_page_is_roff_from_the_same_definitions() {
    let man = run(&["man"]);
    assert_eq!(man.code, 0);
    assert!(man.stdout.contains(".TH statuscheck 1"));
    assert!(man.stdout.contains("\\-\\-sequential") && man.stdout.contains("STATUSCHECK_TIMEOUT"));
}

#[test]
fn colour_follows_no_color_and_clicolor_force() {
    let server = http_server();
    let url = server.url("/status/404");
    let with_env = |pairs: &[(&str, &str)]| {
        let mut command = statuscheck();
        command.args(["-u", &url]);
        for (k, v) in pairs {
            command.env(k, v);
        }
        String::from_utf8(command.output().unwrap().stdout).unwrap()
    };
    assert!(!with_env(&[]).contains('\x1b'), "piped: no colour");
    assert!(with_env(&[("CLICOLOR_FORCE", "1")]).contains("\x1b[33m"));
    assert!(!with_env(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]).contains('\x1b'));
}

#[test]
fn options_come_from_the_environment() {
    let silent = serve(|stream| {
        sleep(Duration::from_secs(30));
        drop(stream);
    });
    let output = statuscheck()
        .env("STATUSCHECK_TIMEOUT", "1")
        .args(["--format", "json", "-u", &silent.url("/")])
        .output()
        .unwrap();
    let record: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(record["error"]["message"], "no status line after 1s");
    let bad = statuscheck().env("STATUSCHECK_CONCURRENCY", "0").args(["-u", "x.test"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("from 1 to 1000000"));
}
