//! The system closure of the default system: generated files checked by real tools,
//! reproducibility across stores, umasks and time zones, the build cache, killed and
//! concurrent builds, and the root file-system layout.

mod common;

use common::child_process;
use fruix_core::rootfs;
use fruix_core::store::{Store, StorePath};
use fruix_core::system::{build_system, SystemClosure};
use fruix_core::tree::NodeKind;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn temp(tag: &str) -> PathBuf {
    common::scratch(&format!("sys-{tag}"))
}

fn build(store_dir: &Path) -> (Store, SystemClosure) {
    let store = Store::open(store_dir).unwrap();
    let closure = build_system(&fruix_systems::fruix_freebsd(), &store).unwrap();
    (store, closure)
}

/// Runs in a child process (see `child`): builds into `FRUIX_CHILD_STORE`.
#[test]
#[ignore = "helper run in child processes by the other tests"]
fn child_build() {
    let (_, closure) = build(&child_process::store_dir());
    println!("SYSTEM={}", closure.system);
}

/// Starts this test binary as a builder child with the given umask and TZ.
fn child(store_dir: &Path, umask: &str, tz: &str) -> Command {
    let mut cmd = child_process::command_with_umask("child_build", store_dir, umask);
    cmd.env("TZ", tz);
    cmd
}

fn system_of(output: &std::process::Output) -> String {
    child_process::tagged(output, "SYSTEM=")
}

/// Every entry of an item: path, kind, mode, contents or link target.
fn item_snapshot(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(p) = todo.pop() {
        let md = fs::symlink_metadata(&p).unwrap();
        let rel = p.strip_prefix(dir).unwrap().display().to_string();
        let what = if md.file_type().is_symlink() {
            format!("-> {}", fs::read_link(&p).unwrap().display())
        } else if md.is_dir() {
            todo.extend(fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            "dir".to_owned()
        } else {
            format!("{:?}", fs::read(&p).unwrap())
        };
        out.push(format!(
            "{rel} {:o} {} {what}",
            md.permissions().mode() & 0o7777,
            md.mtime()
        ));
    }
    out.sort();
    out
}

#[test]
fn same_declaration_same_items_whatever_the_store_umask_or_time_zone() {
    let root = temp("repro");
    let (a, b) = (root.join("a/store"), root.join("b/nested/other-store"));
    let out_a = child(&a, "022", "UTC").output().unwrap();
    let out_b = child(&b, "077", "Asia/Tokyo").output().unwrap();
    let (sys_a, sys_b) = (system_of(&out_a), system_of(&out_b));
    assert_eq!(sys_a, sys_b);
    let store_a = Store::open(&a).unwrap();
    let store_b = Store::open(&b).unwrap();
    let system: StorePath = sys_a.parse().unwrap();
    let items = store_a.closure(std::slice::from_ref(&system)).unwrap();
    assert_eq!(items, store_b.closure(&[system]).unwrap());
    for item in &items {
        assert_eq!(
            item_snapshot(&store_a.physical(item)),
            item_snapshot(&store_b.physical(item)),
            "{item}"
        );
    }
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn a_second_build_writes_nothing_and_verify_catches_tampering() {
    let root = temp("cache");
    let (store, first) = build(&root.join("store"));
    let before = common::entry_state(store.dir());
    std::thread::sleep(Duration::from_millis(20));
    let (_, second) = build(&root.join("store"));
    assert_eq!(first, second);
    assert_eq!(
        common::entry_state(store.dir()),
        before,
        "a warm build must not touch the store"
    );

    assert_eq!(store.verify().unwrap(), []);
    let rc_conf = store.physical(&first.config).join("etc/rc.conf");
    fs::set_permissions(&rc_conf, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(&rc_conf, "sshd_enable=\"YES\"\n").unwrap();
    let problems = store.verify().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0]
            .to_string()
            .contains("fruix-config-fruix-freebsd: contents were modified"),
        "{}",
        problems[0]
    );
    fs::remove_dir_all(root).unwrap();
}

fn run(tool: &str, args: &[&str]) -> std::process::Output {
    Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool} must be installed (.ci/run installs it): {e}"))
}

#[test]
fn generated_files_pass_sh_guile_and_field_counts() {
    let root = temp("files");
    let (store, closure) = build(&root.join("store"));
    let config = store.physical(&closure.config);
    for script in [
        "activate",
        "rc.d/fruix-shepherd",
        "rc.d/fruix-activate",
        "boot/shepherd-pid1",
        "etc/rc.conf",
    ] {
        let path = config.join(script);
        let out = run("sh", &["-n", path.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "sh -n {script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let init = config.join("shepherd/init.scm");
    let reader = format!(
        "(call-with-input-file {:?} (lambda (port) (let loop ((n 0)) (let ((form (read port))) (if (eof-object? form) (begin (display n) (newline)) (loop (+ n 1)))))))",
        init.display().to_string()
    );
    let out = run("guile", &["--no-auto-compile", "-c", &reader]);
    assert!(
        out.status.success(),
        "guile: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "2",
        "register-services and start-in-the-background"
    );
    let text = fs::read_to_string(&init).unwrap();
    assert!(
        text.contains("(service '(sshd)") && text.contains("#:requirement '(ssh-host-keys)"),
        "{text}"
    );

    let rows = |file: &str| -> Vec<String> {
        fs::read_to_string(config.join(file))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(str::to_owned)
            .collect()
    };
    for (file, sep, fields) in [
        ("etc/fstab", '\t', 6),
        ("etc/master.passwd", ':', 10),
        ("etc/passwd", ':', 7),
        ("etc/group", ':', 4),
    ] {
        let rows = rows(file);
        assert!(!rows.is_empty(), "{file} is empty");
        for row in rows {
            assert_eq!(row.split(sep).count(), fields, "{file}: {row}");
        }
    }
    let rc = fs::read_to_string(config.join("rc.d/fruix-shepherd")).unwrap();
    for needle in [
        "# PROVIDE: fruix_shepherd",
        "# REQUIRE: LOGIN",
        "# KEYWORD: shutdown",
        "command=\"/usr/sbin/daemon\"",
        "stop root",
        "run_rc_command \"$1\"",
    ] {
        assert!(rc.contains(needle), "{needle} missing from the rc.d script");
    }
    let loader = fs::read_to_string(config.join("boot/loader.conf")).unwrap();
    assert!(
        loader.contains("vfs.root.mountfrom=\"ufs:/dev/gpt/fruix-root\""),
        "{loader}"
    );
    assert_eq!(
        store.record(&closure.config).unwrap().image_meta["etc/master.passwd"].perm,
        0o600
    );
    let keys = fs::read_to_string(config.join("etc/fruix/authorized_keys/operator")).unwrap();
    assert_eq!(keys, format!("{}\n", fruix_systems::OPERATOR_KEY));
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn killed_builds_leave_no_partial_items() {
    let root = temp("kill");
    let reference_dir = root.join("reference");
    let started = Instant::now();
    let reference = system_of(&child(&reference_dir, "022", "UTC").output().unwrap());
    let full = started.elapsed();
    let store_dir = root.join("store");
    let kills = 12;
    let mut interrupted = 0;
    for k in 0..kills {
        let mut proc = child(&store_dir, "022", "UTC").spawn().unwrap();
        // Over the first half of a cold build's time: builds after the first reuse what
        // earlier ones finished, so later kills would often find them done.
        std::thread::sleep(full * k / (2 * kills));
        let _ = proc.kill();
        if !proc.wait().unwrap().success() {
            interrupted += 1;
        }
        let store = Store::open(&store_dir).unwrap();
        assert_eq!(store.verify().unwrap(), [], "after kill {k}");
        assert!(
            fs::read_dir(store_dir.join(".fruix/tmp"))
                .unwrap()
                .next()
                .is_none(),
            "staging left after kill {k}"
        );
        for entry in fs::read_dir(&store_dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if let Ok(item) = name.parse::<StorePath>() {
                assert!(store.contains(&item), "unregistered {item} after kill {k}");
            }
        }
    }
    assert!(
        interrupted >= kills / 2,
        "only {interrupted} of {kills} builds were interrupted"
    );
    assert_eq!(
        system_of(&child(&store_dir, "022", "UTC").output().unwrap()),
        reference
    );
    assert_eq!(Store::open(&store_dir).unwrap().verify().unwrap(), []);
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn concurrent_builds_agree() {
    let root = temp("concurrent");
    let store_dir = root.join("store");
    let children: Vec<_> = (0..4)
        .map(|_| child(&store_dir, "022", "UTC").spawn().unwrap())
        .collect();
    let systems: Vec<String> = children
        .into_iter()
        .map(|c| system_of(&c.wait_with_output().unwrap()))
        .collect();
    assert!(systems.windows(2).all(|w| w[0] == w[1]), "{systems:?}");
    assert_eq!(Store::open(&store_dir).unwrap().verify().unwrap(), []);
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn root_file_system_has_the_current_system_topology() {
    let root = temp("rootfs");
    let (store, closure) = build(&root.join("store"));
    let tree = rootfs::root_tree(&store, &closure).unwrap();
    let target = |path: &str| match tree.get(path.as_bytes()).map(|n| &n.kind) {
        Some(NodeKind::Symlink(t)) => String::from_utf8(t.clone()).unwrap(),
        other => panic!("{path} is not a symlink: {other:?}"),
    };
    assert_eq!(target("run/current-system"), closure.system.to_string());
    assert_eq!(target("boot/kernel"), "/run/current-system/boot/kernel");
    assert_eq!(
        target("boot/loader.conf"),
        "/run/current-system/boot/loader.conf"
    );
    assert_eq!(target("etc/rc.conf"), "/run/current-system/etc/rc.conf");
    assert_eq!(
        target("etc/rc.subr"),
        "/run/current-system/profile/etc/rc.subr"
    );
    assert_eq!(target("bin"), "/run/current-system/profile/bin");
    assert_eq!(target("usr/sbin"), "/run/current-system/profile/usr/sbin");
    assert_eq!(
        target("usr/local/etc/rc.d/fruix-shepherd"),
        "/run/current-system/usr/local/etc/rc.d/fruix-shepherd"
    );
    assert_eq!(target("activate"), "/run/current-system/activate");
    let passwd = tree.get(b"etc/master.passwd").unwrap();
    assert!(matches!(passwd.kind, NodeKind::File(_)) && passwd.meta.perm == 0o600);
    assert!(
        matches!(
            tree.get(b"etc/ssh").map(|n| &n.kind),
            Some(NodeKind::Dir(_))
        ),
        "/etc/ssh must be writable"
    );
    assert_eq!(tree.get(b"tmp").unwrap().meta.perm, 0o1777);
    for item in &closure.items {
        assert!(
            tree.get(format!("frx/store/{}", item.base_name()).as_bytes())
                .is_some(),
            "{item} missing"
        );
    }
    let su = tree
        .get(format!("frx/store/{}/usr/bin/su", closure.base.runtime.base_name()).as_bytes())
        .unwrap();
    assert_eq!(su.meta.perm, 0o4555);

    let out = root.join("rootfs");
    rootfs::write_dir(&tree, &out).unwrap();
    assert_eq!(
        fs::read_link(out.join("run/current-system")).unwrap(),
        Path::new(&closure.system.to_string())
    );
    let store_rc = out.join(format!(
        "frx/store/{}/etc/rc.conf",
        closure.config.base_name()
    ));
    assert_eq!(
        fs::read(store_rc).unwrap(),
        fs::read(store.physical(&closure.config).join("etc/rc.conf")).unwrap()
    );
    // Directories were written read-only like the image's.
    common::remove_read_only_tree(&root);
}
