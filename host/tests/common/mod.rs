//! What the tests against the local control plane share: its kubeconfig and kubectl (from
//! `ECS_TEST_KUBECONFIG` and `ECS_TEST_KUBECTL`, set by `make integration`), and bounded polling.
#![allow(dead_code)] // each test crate uses a part

pub mod admission;
pub mod live;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set; run `make integration`"))
}

pub fn kubeconfig() -> PathBuf {
    PathBuf::from(var("ECS_TEST_KUBECONFIG"))
}

/// `kubectl --kubeconfig KUBECONFIG ARGS` with `stdin`: its stdout, or stdout and stderr on failure.
pub fn run_kubectl(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
    let mut child = Command::new(var("ECS_TEST_KUBECTL"))
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    child.stdin.take().unwrap().write_all(stdin.unwrap_or_default().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

/// kubectl as the control plane's admin; panics on failure.
pub fn kubectl(args: &[&str]) -> String {
    run_kubectl(&kubeconfig(), args, None).unwrap_or_else(|e| panic!("kubectl {}: {e}", args.join(" ")))
}

/// kubectl as the admin, with `stdin`.
pub fn kubectl_in(stdin: &str, args: &[&str]) -> Result<String, String> {
    run_kubectl(&kubeconfig(), args, Some(stdin))
}

/// Polls `f` every 100 ms until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
