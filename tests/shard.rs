//! Sharding: `--shard K/N` over one list gives disjoint parts that together
//! are exactly the single-process run; the job-array environment picks the
//! shard when `--shard` is not given.

mod common;

use std::collections::BTreeSet;

use common::*;

/// A list over many host names (all pinned to the local server) with some
/// invalid lines, and the `--resolve` pins it needs.
fn list(server: &Server) -> (String, Vec<String>) {
    let port = server.port();
    let mut lines = String::new();
    let mut pins = Vec::new();
    for i in 0..40 {
        lines.push_str(&format!("http://h{i}.test:{port}/status/{}\n", 200 + i % 3));
        pins.push(format!("h{i}.test:{port}:127.0.0.1"));
    }
    for i in 0..5 {
        lines.push_str(&format!("gopher://bad{i}/\n"));
    }
    (write_file("shard.txt", lines).to_str().unwrap().to_string(), pins)
}

fn records(args: &[String], env: &[(&str, &str)]) -> BTreeSet<String> {
    let mut command = statuscheck();
    command.args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    stdout
        .lines()
        .map(|line| {
            let r: serde_json::Value = serde_json::from_str(line).unwrap();
            format!("{} {} {}", r["source"], r["code"], r["error"]["kind"])
        })
        .collect()
}

fn args(file: &str, pins: &[String], extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec!["--format".into(), "json".into(), file.into()];
    for pin in pins {
        args.extend(["--resolve".into(), pin.clone()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

#[test]
fn shards_are_disjoint_and_cover_the_single_run() {
    let server = http_server();
    let (file, pins) = list(&server);
    let whole = records(&args(&file, &pins, &[]), &[]);
    assert_eq!(whole.len(), 45);
    let mut union = BTreeSet::new();
    let mut sizes = Vec::new();
    for k in 0..4 {
        let part = records(&args(&file, &pins, &["--shard", &format!("{k}/4")]), &[]);
        sizes.push(part.len());
        for record in part {
            assert!(union.insert(record.clone()), "{record} in two shards");
        }
    }
    assert_eq!(union, whole);
    assert!(sizes.iter().all(|&n| n > 0), "every shard gets work: {sizes:?}");
}

#[test]
fn job_array_environments_pick_the_shard() {
    let server = http_server();
    let (file, pins) = list(&server);
    let explicit = records(&args(&file, &pins, &["--shard", "2/3"]), &[]);
    let slurm = records(
        &args(&file, &pins, &[]),
        &[("SLURM_ARRAY_TASK_ID", "12"), ("SLURM_ARRAY_TASK_MIN", "10"), ("SLURM_ARRAY_TASK_COUNT", "3")],
    );
    assert_eq!(slurm, explicit);
    let kubernetes = records(&args(&file, &pins, &["--shards", "3"]), &[("JOB_COMPLETION_INDEX", "2")]);
    assert_eq!(kubernetes, explicit);
    let missing_index = run(&["--shards", "3", "-u", "x.test"]);
    assert_eq!(missing_index.code, 2);
    assert!(missing_index.stderr.contains("JOB_COMPLETION_INDEX"), "{}", missing_index.stderr);
}

/// Runs with `env` set and no URLs that need the network.
fn run_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = statuscheck();
    command.args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// A shard picked from the environment is said on stderr (a quarter of the
/// list checked without a word would look like lost rows), except with -q.
#[test]
fn a_shard_from_the_environment_is_named_on_stderr() {
    let slurm = [("SLURM_ARRAY_TASK_ID", "1"), ("SLURM_ARRAY_TASK_COUNT", "4")];
    let said = run_env(&["-u", "not a url"], &slurm);
    assert!(
        said.stderr
            .contains("statuscheck: checking shard 1 of 4 (from SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT)\n"),
        "{}",
        said.stderr
    );
    let with_min = [("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "4")];
    let said = run_env(&["-u", "not a url"], &with_min);
    assert!(said.stderr.contains("checking shard 2 of 4 (from SLURM_ARRAY_TASK_ID"), "{}", said.stderr);
    assert!(said.stderr.contains("SLURM_ARRAY_TASK_MIN"), "{}", said.stderr);
    let kubernetes = run_env(&["--shards", "3", "-u", "not a url"], &[("JOB_COMPLETION_INDEX", "2")]);
    assert!(
        kubernetes.stderr.contains("checking shard 2 of 3 (from JOB_COMPLETION_INDEX and --shards)"),
        "{}",
        kubernetes.stderr
    );
    let quiet = run_env(&["-q", "-u", "not a url"], &slurm);
    assert_eq!(quiet.stderr, "", "-q: nothing on stderr");
    let explicit = run_env(&["--shard", "1/4", "-u", "not a url"], &[]);
    assert!(!explicit.stderr.contains("checking shard"), "asked for on the command line: {}", explicit.stderr);
}

#[test]
fn a_slurm_task_id_below_the_minimum_is_a_usage_error() {
    let env = [("SLURM_ARRAY_TASK_ID", "0"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "4")];
    let run = run_env(&["-u", "not a url"], &env);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("SLURM_ARRAY_TASK_ID=0 is below SLURM_ARRAY_TASK_MIN=1"), "{}", run.stderr);
    assert_eq!(run.stdout, "");
}
