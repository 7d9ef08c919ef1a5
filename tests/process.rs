//! The process itself: signals, a closed stdout, file-descriptor limits and
//! memory that does not grow with the length of the list.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// Waits for `child` at most `limit`; kills it and fails the test otherwise.
fn wait_bounded(child: &mut Child, limit: Duration) -> i32 {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("statuscheck did not exit within {limit:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// A list whose first URL answers at once and whose others never do.
fn list_with_one_fast_url() -> String {
    let silent = serve(|stream| {
        thread::sleep(Duration::from_secs(60));
        drop(stream);
    });
    let mut list = format!("http://127.0.0.1:{}/\n", refused_port());
    for i in 0..20 {
        list.push_str(&silent.url(&format!("/{i}\n")));
    }
    write_file("hang.txt", list).to_str().unwrap().to_string()
}

fn interrupt_with(signal: i32, expected_code: i32) {
    let file = list_with_one_fast_url();
    let mut child = statuscheck()
        .args(["--format", "tsv", "--timeout", "60s", &file])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.contains("connection refused"), "{first}");
    // The first result is out, so the run is under way: interrupt it.
    unsafe { libc::kill(child.id() as i32, signal) };
    let code = wait_bounded(&mut child, SLACK);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(code, expected_code);
    assert_eq!(rest, "", "no result for checks that never finished");
    assert!(stderr.starts_with("interrupted: 1 checked: 0 ok, 0 failed, 1 error"), "{stderr}");
}

#[test]
fn sigint_flushes_results_prints_the_summary_and_exits_130() {
    interrupt_with(libc::SIGINT, 130);
}

#[test]
fn sigterm_exits_143() {
    interrupt_with(libc::SIGTERM, 143);
}

#[test]
fn a_closed_stdout_ends_the_run_quietly() {
    let port = refused_port();
    let mut child = statuscheck()
        .args(["--format", "tsv", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Far more lines than could be checked in the time allowed: only stopping
    // early lets the run end in time. Bounded in count all the same.
    let feeder = thread::spawn(move || {
        let line = format!("http://127.0.0.1:{port}/\n");
        for _ in 0..5_000_000 {
            if stdin.write_all(line.as_bytes()).is_err() {
                return;
            }
        }
    });
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    drop(stdout);
    let code = wait_bounded(&mut child, Duration::from_secs(20));
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(stderr, "", "quiet: no panic, no error text");
    assert_eq!(code, 1, "the results it had seen were failures");
    feeder.join().unwrap();
}

#[test]
fn concurrency_is_lowered_to_fit_the_descriptor_limit() {
    let server = http_server();
    let mut list = String::new();
    for i in 0..300 {
        list.push_str(&server.url(&format!("/{i}\n")));
    }
    let file = write_file("fds.txt", list);
    let mut command = statuscheck();
    command.args(["-c", "5000", "--format", "tsv", file.to_str().unwrap()]);
    limit_descriptors(&mut command, 200);
    let output = command.output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stderr.matches("needs more file descriptors than the limit of 200; using 34").count(), 1, "{stderr}");
    assert_eq!(stdout.lines().count(), 300);
    assert!(stdout.lines().all(|l| l.split('\t').nth(1) == Some("200")), "{stdout}");
    assert_eq!(output.status.code(), Some(0));
}

/// Peak RSS of a child run over a long list, measured with wait4: it must
/// not grow with the list. Every line is 1 KiB, so holding the 100,000 lines
/// would take over 100 MB; the bound is far below that.
#[test]
#[allow(clippy::zombie_processes)] // reaped by wait4, which also gives the peak RSS
fn memory_stays_bounded_on_100000_duplicate_lines() {
    let port = refused_port();
    let line = format!("http://127.0.0.1:{port}/{}\n", "a".repeat(1000));
    let mut child = statuscheck()
        .args(["--format", "tsv", "-q", "-c", "500", "--per-host", "500", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = thread::spawn(move || {
        for _ in 0..100_000 {
            stdin.write_all(line.as_bytes()).unwrap();
        }
    });
    let refused = format!("connection refused (127.0.0.1:{port})\tdown\t");
    let mut rows = 0;
    for row in BufReader::new(child.stdout.take().unwrap()).lines() {
        assert!(row.unwrap().ends_with(&refused));
        rows += 1;
    }
    feeder.join().unwrap();
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 writes into `status` and `usage`, both ours.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    assert_eq!(rows, 100_000, "one result per line, duplicates included");
    let peak_mb = usage.ru_maxrss / 1024;
    eprintln!("peak RSS over 100,000 lines: {peak_mb} MB");
    assert!(peak_mb < 48, "peak RSS {peak_mb} MB grows with the list");
}

/// A stdout whose reader is already gone: the write end of a pipe whose
/// read end is closed, so the first write fails with EPIPE.
fn closed_pipe() -> Stdio {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: pipe writes two new descriptors into `fds`; each is owned once.
    let (read, write) = unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
        (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))
    };
    drop(read);
    Stdio::from(write)
}

/// `statuscheck completions bash | true`, `statuscheck man | head -1`: a
/// reader that goes away is a quiet success for the subcommands too.
#[test]
fn subcommands_into_a_closed_pipe_exit_0_quietly() {
    for args in [&["completions", "bash"][..], &["completions", "zsh"], &["man"], &["--help"], &["--version"]] {
        let output = statuscheck().args(args).stdout(closed_pipe()).stderr(Stdio::piped()).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr, "", "{args:?}: nothing on stderr");
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
    }
}

/// Bytes waiting in the pipe behind `stdout`.
fn queued(stdout: &std::process::ChildStdout) -> usize {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int into `n`.
    unsafe { libc::ioctl(stdout.as_raw_fd(), libc::FIONREAD, &mut n) };
    n as usize
}

/// A reader that never reads: stdout fills up and stays full. A signal must
/// still end the run, with its exit status and the summary on stderr.
fn interrupt_with_stdout_blocked(signal: i32, expected_code: i32) {
    // Invalid lines give rows without any network: far more than a pipe holds.
    let list: String = (0..200_000).map(|i| format!("not a url {i}\n")).collect();
    let file = write_file("many-invalid.txt", list);
    let mut child = statuscheck()
        .args(["--format", "tsv", file.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    // Full: tens of KiB queued and no more coming for 10 polls in a row.
    let started = Instant::now();
    let (mut last, mut still) = (0, 0);
    while still < 10 {
        assert!(started.elapsed() < Duration::from_secs(30), "stdout never filled: {last} bytes");
        thread::sleep(Duration::from_millis(20));
        let now = queued(&stdout);
        still = if now == last && now > 32_768 { still + 1 } else { 0 };
        last = now;
    }
    // SAFETY: kill sends a signal to our own child.
    unsafe { libc::kill(child.id() as i32, signal) };
    let code = wait_bounded(&mut child, SLACK);
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(code, expected_code, "{stderr}");
    assert!(stderr.starts_with("interrupted: "), "the summary on stderr: {stderr}");
    assert!(stderr.contains(" checked: 0 ok, 0 failed, "), "{stderr}");
    drop(stdout);
}

#[test]
fn sigterm_ends_the_run_while_stdout_is_blocked() {
    interrupt_with_stdout_blocked(libc::SIGTERM, 143);
}

#[test]
fn sigint_ends_the_run_while_stdout_is_blocked() {
    interrupt_with_stdout_blocked(libc::SIGINT, 130);
}
