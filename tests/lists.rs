//! Every line answered exactly once, whatever the input is and however the
//! run is resumed: pipes and FIFOs under a terminal, the README's resume
//! recipe after a killed run, `-u` arguments, hostile resume files, lists
//! sorted by host, and the note when `--per-host` held the run back.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;

/// Counts each `input` of JSON Lines; panics on a line that does not parse.
fn inputs(json_lines: &str) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for line in json_lines.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        *seen.entry(record["input"].as_str().unwrap().to_string()).or_default() += 1;
    }
    seen
}

#[test]
fn pipes_and_fifos_lose_no_rows_when_stderr_is_a_terminal() {
    if !require("`script`", have_command("script", &["--version"]), SCRIPT_INSTALL)
        || !require("`mkfifo`", have_command("mkfifo", &["--version"]), "apt-get install coreutils")
    {
        return;
    }
    // Invalid lines need no network; a line split by a second reader would
    // show up as an input that is no line of the list.
    let lines: Vec<String> = (0..20_000).map(|i| format!("ftp://line-{i}.test/x")).collect();
    let list = write_file("piped.txt", lines.join("\n") + "\n");
    let dir = list.parent().unwrap().join(format!("piped-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (bin, list) = (env!("CARGO_BIN_EXE_statuscheck"), list.to_str().unwrap());
    let d = dir.to_str().unwrap();
    let shell = format!(
        "cat '{list}' | '{bin}' --format json /dev/stdin > '{d}/stdin.jsonl'\n\
         rm -f '{d}/fifo' && mkfifo '{d}/fifo'\n\
         cat '{list}' > '{d}/fifo' &\n\
         '{bin}' --format json '{d}/fifo' > '{d}/fifo.jsonl'\n\
         wait\n"
    );
    let script_file = dir.join("run.sh");
    std::fs::write(&script_file, shell).unwrap();
    let command = format!("sh '{}'", script_file.display());
    let status = Command::new("script").args(["-qec", &command, "/dev/null"]).stdin(Stdio::null()).output().unwrap();
    assert!(status.status.code().is_some(), "script ended by a signal");
    for out in ["stdin.jsonl", "fifo.jsonl"] {
        let seen = inputs(&std::fs::read_to_string(dir.join(out)).unwrap());
        let invented: Vec<_> = seen.keys().filter(|input| !lines.contains(input)).take(3).collect();
        assert!(invented.is_empty(), "{out}: rows for lines not in the list: {invented:?}");
        assert!(seen.values().all(|&n| n == 1), "{out}: a line answered twice");
        assert_eq!(seen.len(), lines.len(), "{out}: every line gives a row");
    }
}

/// `n` URLs of a local server, one a line, as `big.txt` in a directory of its own.
fn big_list(server: &Server, n: usize, name: &str) -> std::path::PathBuf {
    let dir = temp_path(&format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let list: String = (0..n).map(|i| server.url(&format!("/status/200?n={i}\n"))).collect();
    std::fs::write(dir.join("big.txt"), list).unwrap();
    dir
}

/// Runs `command` with `sh -c` in `dir`, as a user would type it.
fn shell_in(dir: &Path, command: &str) -> std::process::Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_statuscheck")).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut sh = Command::new("sh");
    sh.args(["-c", command]).current_dir(dir).env("PATH", path).stdin(Stdio::null());
    for name in ["http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "SLURM_ARRAY_TASK_ID"] {
        sh.env_remove(name);
    }
    sh.output().unwrap()
}

/// The README's commands for an interrupted run, taken from the README itself.
fn readme_recipe() -> (String, String) {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let command = |needle: &str| {
        let line = readme.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("README has no {needle}"));
        line.split('#').next().unwrap().trim().to_string()
    };
    (command("big.txt > results.jsonl"), command("--resume results.jsonl big.txt >> results.jsonl"))
}

#[test]
fn the_readme_resume_recipe_survives_a_cut_record() {
    let server = http_server();
    let dir = big_list(&server, 40, "recipe");
    let (first, again) = readme_recipe();
    assert!(shell_in(&dir, &first).status.code() == Some(0), "{first}");
    // As if the first run had been killed 15 records in, mid-record.
    let results = dir.join("results.jsonl");
    let full = std::fs::read_to_string(&results).unwrap();
    let kept: usize = full.lines().take(15).map(|l| l.len() + 1).sum::<usize>() + 30;
    std::fs::write(&results, &full.as_bytes()[..kept]).unwrap();

    let output = shell_in(&dir, &again);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{again}: {stderr}");
    assert!(stderr.contains("cut record: removed it; its line is checked again"), "{stderr}");
    let text = std::fs::read_to_string(&results).unwrap();
    let mut sources: HashMap<String, usize> = HashMap::new();
    for line in text.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        *sources.entry(record["source"].as_str().unwrap().to_string()).or_default() += 1;
    }
    assert_eq!(sources.len(), 40, "every line answered:\n{text}");
    assert!(sources.values().all(|&n| n == 1), "no line answered twice:\n{text}");
}

#[test]
fn a_resume_file_ending_in_a_whole_record_without_newline_still_gets_one() {
    let server = http_server();
    let dir = big_list(&server, 6, "no-newline");
    let (first, again) = readme_recipe();
    shell_in(&dir, &first);
    let results = dir.join("results.jsonl");
    let full = std::fs::read_to_string(&results).unwrap();
    let three: String = full.lines().take(3).collect::<Vec<_>>().join("\n");
    std::fs::write(&results, three).unwrap();
    let output = shell_in(&dir, &again);
    assert!(!String::from_utf8_lossy(&output.stderr).contains("cut record"));
    let text = std::fs::read_to_string(&results).unwrap();
    assert_eq!(inputs(&text).len(), 6, "{text}");
    assert_eq!(text.lines().count(), 6, "{text}");
}

#[test]
fn long_and_repeated_u_arguments_resume_by_position() {
    let server = http_server();
    let long = server.url(&format!("/status/200?{}", "a".repeat(300)));
    let short = server.url("/status/204");
    let first = run(&["--format", "json", "--ordered", "-u", &long, "-u", &short, "-u", &short]);
    let records = first.json();
    let sources: Vec<_> = records.iter().map(|r| r["source"].as_str().unwrap().to_string()).collect();
    assert_eq!(sources, ["arg:1", "arg:2", "arg:3"]);

    // Everything answered: nothing is checked again, however long the URL.
    let all = write_file("args-all.jsonl", &first.stdout);
    let again = run(&["--format", "json", "--resume", all.to_str().unwrap(), "-u", &long, "-u", &short, "-u", &short]);
    assert_eq!(again.stdout, "", "{}", again.stdout);

    // Only the first of two identical arguments answered: the second is checked.
    let one: String = first.stdout.lines().take(2).map(|l| format!("{l}\n")).collect();
    let partial = write_file("args-two.jsonl", one);
    let rest =
        run(&["--format", "json", "--resume", partial.to_str().unwrap(), "-u", &long, "-u", &short, "-u", &short]);
    let record = rest.record();
    assert_eq!((record["source"].as_str(), record["code"].as_u64()), (Some("arg:3"), Some(204)));
}

/// Runs the binary and returns its exit code, wall time and peak RSS in KiB.
/// The child is reaped by `wait4`, which also gives its own resource usage.
#[allow(clippy::zombie_processes)]
fn measured(args: &[&str]) -> (Option<i32>, Duration, i64) {
    let started = Instant::now();
    let child = statuscheck().args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t);
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    (code, started.elapsed(), usage.ru_maxrss)
}

#[test]
fn hostile_resume_files_neither_abort_nor_take_memory() {
    let list = write_file("hostile-list.txt", "ftp://a.test/\n");
    let list = list.to_str().unwrap();
    let baseline = write_file("hostile-none.jsonl", "");
    let (code, _, base_rss) = measured(&["--format", "json", "--resume", baseline.to_str().unwrap(), list]);
    assert_eq!(code, Some(1));

    let huge_numbers = format!(
        "{{\"source\":\"{list}:18446744073709551615\"}}\n{{\"source\":\"{list}:1000000000\"}}\n\
         {{\"source\":\"arg:18446744073709551615\"}}\n"
    );
    let numbers = write_file("hostile-numbers.jsonl", huge_numbers);
    // 100 MB in one line without a newline (a sparse file: no disk used).
    let line = temp_path("hostile-line.jsonl");
    std::fs::File::create(&line).unwrap().set_len(100 << 20).unwrap();
    for resume in [&numbers, &line] {
        let (code, took, rss) = measured(&["--format", "json", "--resume", resume.to_str().unwrap(), list]);
        assert_eq!(code, Some(1), "{resume:?}: exits normally, the ftp line still answered");
        assert!(took < Duration::from_secs(20), "{resume:?}: {took:?}");
        assert!(rss < base_rss + 24 * 1024, "{resume:?}: peak RSS {rss} KiB against {base_rss} KiB");
    }
}

/// A server that answers 200 after `delay`, counting nothing.
fn delayed_server(delay: Duration) -> Server {
    serve(move |mut stream| {
        read_head(&mut stream);
        sleep(delay);
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    })
}

/// `--resolve` pins for `names` on the server's port, and the URLs.
fn pins(server: &Server, names: &[String]) -> Vec<String> {
    names.iter().flat_map(|name| ["--resolve".to_string(), format!("{name}:{}:127.0.0.1", server.port())]).collect()
}

#[test]
fn a_list_sorted_by_host_does_not_stall_the_other_hosts() {
    let server = delayed_server(Duration::from_millis(3));
    let mut names = vec!["big.test".to_string()];
    names.extend((0..20).map(|i| format!("h{i}.test")));
    let mut list = String::new();
    for i in 0..1600 {
        list.push_str(&format!("http://big.test:{}/{i}\n", server.port()));
    }
    for name in &names[1..] {
        for i in 0..5 {
            list.push_str(&format!("http://{name}:{}/{i}\n", server.port()));
        }
    }
    let file = write_file("sorted.txt", list);
    let mut args: Vec<String> = ["--format", "json", "-c", "100", "--per-host", "4"].map(String::from).to_vec();
    args.extend(pins(&server, &names));
    args.push(file.to_str().unwrap().to_string());
    let run = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let records = run.json();
    assert_eq!(records.len(), 1700);
    let first_other = records.iter().position(|r| !r["url"].as_str().unwrap().contains("big.test")).unwrap();
    assert!(first_other < 60, "the first other-host result is row {first_other}");
}

#[test]
fn the_summary_says_when_per_host_held_the_run_back() {
    let server = delayed_server(Duration::from_millis(40));
    let one_host: String = (0..40).map(|i| server.url(&format!("/{i}\n"))).collect();
    let file = write_file("one-host.txt", one_host);
    let held = run(&["-c", "1000", file.to_str().unwrap()]);
    assert!(held.stderr.contains("--per-host 4 held"), "{}", held.stderr);
    let json = run(&["-c", "1000", "--summary-json", file.to_str().unwrap()]);
    let summary: serde_json::Value = serde_json::from_str(json.stderr.trim_end()).unwrap();
    assert_eq!(summary["per_host"]["limit"], 4, "{summary}");
    assert_eq!(summary["per_host"]["held_back"], true, "{summary}");

    let names: Vec<String> = (0..40).map(|i| format!("s{i}.test")).collect();
    let spread: String = names.iter().map(|name| format!("http://{name}:{}/\n", server.port())).collect();
    let file = write_file("spread.txt", spread);
    let mut args: Vec<String> = ["-c", "1000", "--summary-json"].map(String::from).to_vec();
    args.extend(pins(&server, &names));
    args.push(file.to_str().unwrap().to_string());
    let spread = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let summary: serde_json::Value = serde_json::from_str(spread.stderr.trim_end()).unwrap();
    assert_eq!(summary["checked"], 40);
    assert_eq!(summary["per_host"]["held_back"], false, "{summary}");
    let mut text_args = args.clone();
    text_args.retain(|a| a != "--summary-json");
    let text = run(&text_args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!text.stderr.contains("--per-host"), "{}", text.stderr);
}
