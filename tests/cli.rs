//! The system-crate command line (`fruix_core::cli::run`), run as a real process: this
//! test has its own `main` (harness = false) that acts as the system crate's binary when
//! `FRUIX_CLI_CHILD` is set, and otherwise runs the cases below against itself.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output};

fn cli(args: &[&str]) -> Output {
    Command::new(std::env::current_exe().expect("test binary"))
        .args(args)
        .env("FRUIX_CLI_CHILD", "1")
        .output()
        .expect("run the CLI")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn value<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in\n{text}"))
}

fn help_lists_every_verb_with_examples(_: &Path) {
    let o = cli(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    for verb in [
        "image",
        "build",
        "rootfs",
        "verify",
        "describe",
        "closure",
        "diff",
        "Examples:",
    ] {
        assert!(stdout(&o).contains(verb), "{verb} missing from --help");
    }
    let o = cli(&["rootfs", "--help"]);
    assert!(
        stdout(&o).contains("Example: fruix-freebsd rootfs --out"),
        "{}",
        stdout(&o)
    );
}

fn usage_errors_exit_2(_: &Path) {
    let o = cli(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unrecognized subcommand 'frobnicate'"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        cli(&["rootfs"]).status.code(),
        Some(2),
        "rootfs needs --out"
    );
}

fn image_is_the_default_and_prints_metadata(dir: &Path) {
    let store = dir.join("store");
    let o = cli(&["--store", store.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(value(&out, "image_store_path").starts_with("/frx/store/"));
    assert_eq!(value(&out, "partition_scheme"), "gpt");
    assert_eq!(value(&out, "raw_sha256").len(), 64);
    assert!(Path::new(value(&out, "physical_disk_image")).starts_with(&store));
    // Not a terminal: progress as plain lines on stderr, never on stdout.
    assert!(
        stderr(&o).contains("fruix: [") && stderr(&o).contains("UFS2 root file system"),
        "{}",
        stderr(&o)
    );
    assert!(!out.contains("fruix: ["));

    let roots =
        std::fs::read_to_string(store.join(".fruix/roots/image-fruix-freebsd")).expect("GC root");
    assert_eq!(roots.trim(), value(&out, "image_store_path"));

    let json = cli(&["--store", store.to_str().unwrap(), "--json", "-q", "image"]);
    assert_eq!(json.status.code(), Some(0));
    assert!(json.stderr.is_empty(), "--quiet: {}", stderr(&json));
    let parsed: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(parsed["image_store_path"], value(&out, "image_store_path"));
    assert_eq!(parsed["image_size_bytes"], 335_544_320u64);
}

fn verify_passes_the_image_and_fails_garbage(dir: &Path) {
    let store = dir.join("store");
    let o = cli(&["--store", store.to_str().unwrap(), "-q", "verify"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(value(&stdout(&o), "status"), "ok");
    let garbage = dir.join("garbage.img");
    std::fs::write(&garbage, vec![7u8; 1 << 20]).unwrap();
    let o = cli(&[
        "--store",
        store.to_str().unwrap(),
        "verify",
        garbage.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(value(&stdout(&o), "status"), "failed");
    assert!(
        stdout(&o).contains("problem=LBA 0 is not a protective MBR"),
        "{}",
        stdout(&o)
    );
    assert!(stderr(&o).contains("problem(s) in"), "{}", stderr(&o));
}

fn describe_closure_and_rootfs(dir: &Path) {
    let store = dir.join("store");
    let o = cli(&["describe"]);
    let spec =
        fruix_core::OperatingSystem::from_json(&stdout(&o)).expect("describe prints the spec");
    assert_eq!(spec, fruix_systems::fruix_freebsd());

    let o = cli(&["--store", store.to_str().unwrap(), "closure"]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    let items: Vec<&str> = text.lines().filter(|l| l.starts_with("item=")).collect();
    assert_eq!(
        items.len(),
        value(&text, "store_item_count").parse::<usize>().unwrap()
    );
    assert!(items
        .iter()
        .any(|l| l.contains("-fruix-system-fruix-freebsd ")));

    let out = dir.join("rootfs");
    let o = cli(&[
        "--store",
        store.to_str().unwrap(),
        "-q",
        "rootfs",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let link = std::fs::read_link(out.join("run/current-system")).unwrap();
    assert_eq!(
        link.to_str().unwrap(),
        value(&stdout(&o), "system_store_path")
    );
    let _ = Command::new("chmod").args(["-R", "u+w"]).arg(&out).status();
}

fn diff_against_an_image_exits_0_equal_1_different_2_unreadable(dir: &Path) {
    let store = dir.join("store");
    let store = store.to_str().unwrap();
    let image = cli(&["--store", store, "-q", "image"]);
    let disk = value(&stdout(&image), "physical_disk_image").to_owned();
    let o = cli(&["--store", store, "-q", "diff", "--against", &disk]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(value(&stdout(&o), "a").starts_with("declared /frx/store/"));
    assert_eq!(value(&stdout(&o), "result"), "equal");
    // A tree that is not the system: every item of the declaration is missing from it.
    let tree = dir.join("not-a-system");
    std::fs::create_dir_all(&tree).unwrap();
    let o = cli(&[
        "--store",
        store,
        "-q",
        "diff",
        "--against",
        tree.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("item=fruix-system-fruix-freebsd: removed"),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).is_empty(),
        "a difference is no error: {}",
        stderr(&o)
    );
    let o = cli(&[
        "--store",
        store,
        "diff",
        "--against",
        "/nonexistent/disk.img",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("/nonexistent/disk.img"),
        "{}",
        stderr(&o)
    );
    let o = cli(&["diff", "--help"]);
    assert!(
        stdout(&o).contains("0 equal, 1 different, 2"),
        "{}",
        stdout(&o)
    );
}

fn failures_exit_1_with_a_message(dir: &Path) {
    // A store under a regular file cannot be created.
    let file = dir.join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let o = cli(&["--store", file.join("store").to_str().unwrap(), "build"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("fruix: error: creating"),
        "{}",
        stderr(&o)
    );
}

/// A named test case.
type Case = (&'static str, fn(&Path));

fn main() -> ExitCode {
    if std::env::var_os("FRUIX_CLI_CHILD").is_some() {
        return fruix_core::cli::run(fruix_systems::fruix_freebsd());
    }
    let dir: PathBuf = std::env::temp_dir().join(format!("fruix-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cases: [Case; 7] = [
        (
            "help_lists_every_verb_with_examples",
            help_lists_every_verb_with_examples,
        ),
        ("usage_errors_exit_2", usage_errors_exit_2),
        (
            "image_is_the_default_and_prints_metadata",
            image_is_the_default_and_prints_metadata,
        ),
        (
            "verify_passes_the_image_and_fails_garbage",
            verify_passes_the_image_and_fails_garbage,
        ),
        ("describe_closure_and_rootfs", describe_closure_and_rootfs),
        (
            "diff_against_an_image_exits_0_equal_1_different_2_unreadable",
            diff_against_an_image_exits_0_equal_1_different_2_unreadable,
        ),
        (
            "failures_exit_1_with_a_message",
            failures_exit_1_with_a_message,
        ),
    ];
    let mut failed = 0;
    for (name, case) in cases {
        let ok = std::panic::catch_unwind(|| case(&dir)).is_ok();
        println!("test {name} ... {}", if ok { "ok" } else { "FAILED" });
        failed += usize::from(!ok);
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("cli: {} passed, {failed} failed", cases.len() - failed);
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
