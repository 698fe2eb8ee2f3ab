//! Multi-process tests run their own test binary again as child processes:
//! one test of it, chosen by name, told what to do by environment variables.

use std::ffi::OsStr;
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
