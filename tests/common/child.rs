//! Multi-process tests run their own test binary again as child processes:
//! one test of it, chosen by name, told what to do by environment variables.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Starts this test binary running only the test `name`, with `env` set and
/// its standard output piped to the caller (stderr inherited).
pub fn spawn_test<V: AsRef<OsStr>>(name: &str, env: &[(&str, V)]) -> Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .stdout(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    command.spawn().unwrap()
}

/// The numbers a child printed after `marker` on one line of its standard
/// output, once it has exited successfully. The whole output is read
/// first: a child writing to a closed pipe would fail.
#[allow(dead_code)] // each binary including this file uses its own part
pub fn reported_figures(mut child: Child, marker: &str) -> Vec<u64> {
    let lines: Vec<String> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(Result::unwrap)
        .collect();
    let report = lines
        .iter()
        .find_map(|line| line.split_once(marker).map(|(_, rest)| rest.to_owned()))
        .expect("the child reports its counts");
    assert!(child.wait().unwrap().success());
    report
        .split_whitespace()
        .map(|figure| figure.parse().unwrap())
        .collect()
}
