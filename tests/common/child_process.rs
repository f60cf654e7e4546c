//! Builds in child processes. A test binary runs one of its own ignored helper tests as a
//! separate process (to kill it, run several at once, or give it another umask, user or
//! environment); the helper builds into the store directory named by `FRUIX_CHILD_STORE`
//! and prints its result on a line that starts with a tag.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The environment variable that names the child's store directory.
pub const STORE_VAR: &str = "FRUIX_CHILD_STORE";

/// In the child: the store directory it was given.
pub fn store_dir() -> PathBuf {
    PathBuf::from(std::env::var_os(STORE_VAR).expect(STORE_VAR))
}

/// The test harness's arguments that run only the ignored helper test `name`, on one
/// thread, with what it prints passed through.
pub fn helper_args(name: &str) -> [&str; 5] {
    [
        "--exact",
        name,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]
}

/// This test binary running its helper test `name` on the store `store`, output captured.
pub fn command(name: &str, store: &Path) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(helper_args(name));
    with_store(cmd, store)
}

/// As [`command`], under the umask `umask` (set by sh, which then becomes the child).
pub fn command_with_umask(name: &str, store: &Path, umask: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("umask {umask}; exec \"$0\" \"$@\""))
        .arg(std::env::current_exe().unwrap())
        .args(helper_args(name));
    with_store(cmd, store)
}

fn with_store(mut cmd: Command, store: &Path) -> Command {
    cmd.env(STORE_VAR, store)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// A finished process's standard output, then its standard error, as text.
pub fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// What a child that succeeded printed after `tag`, on the first line that has it.
pub fn tagged(out: &Output, tag: &str) -> String {
    assert!(out.status.success(), "child failed: {}", output_text(out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.split_once(tag).map(|(_, rest)| rest.to_owned()))
        .unwrap_or_else(|| panic!("no `{tag}` in {stdout}"))
}
