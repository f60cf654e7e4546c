//! `fruix diff` as a process: two UFS2 images written by `fruix makefs` from host trees
//! that differ in one line of rc.conf, the trees themselves, and its exit codes (0 equal,
//! 1 different, 2 a side cannot be read).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn fruix(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fruix"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn tree(root: &Path, sshd: &str) {
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::write(
        root.join("etc/rc.conf"),
        format!("hostname=\"vm\"\nsshd_enable=\"{sshd}\"\ndumpdev=\"NO\"\n"),
    )
    .unwrap();
    fs::write(root.join("bin/tool"), vec![7u8; 100_000]).unwrap();
    fs::set_permissions(root.join("bin/tool"), fs::Permissions::from_mode(0o755)).unwrap();
}

fn makefs(image: &Path, dir: &Path) {
    let o = fruix(&[
        "makefs",
        "-t",
        "ufs2",
        "-T",
        "0",
        image.to_str().unwrap(),
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{o:?}");
}

#[test]
fn images_and_trees_differ_by_what_changed_with_exit_codes() {
    let dir = std::env::temp_dir().join(format!("fruix-diff-cli-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    let (a, b) = (dir.join("a"), dir.join("b"));
    tree(&a, "NO");
    tree(&b, "YES");
    let (img_a, img_b, img_a2) = (dir.join("a.img"), dir.join("b.img"), dir.join("a2.img"));
    makefs(&img_a, &a);
    makefs(&img_b, &b);
    makefs(&img_a2, &a);
    let s = |p: &Path| p.to_str().unwrap().to_owned();

    let equal = fruix(&["diff", &s(&img_a), &s(&img_a2)]);
    assert_eq!(equal.status.code(), Some(0), "{equal:?}");
    assert!(
        stdout(&equal).ends_with("result=equal\n"),
        "{}",
        stdout(&equal)
    );

    let different = fruix(&["diff", &s(&img_a), &s(&img_b)]);
    assert_eq!(different.status.code(), Some(1), "{different:?}");
    let out = stdout(&different);
    assert!(out.contains("cause=item /: 1 file changed\n"), "{out}");
    assert!(
        out.contains("item.file=/ etc/rc.conf: changed sha256 "),
        "{out}"
    );
    assert!(
        out.contains("item.diff=/ etc/rc.conf: -sshd_enable=\"NO\"\n"),
        "{out}"
    );
    assert!(
        out.contains("item.diff=/ etc/rc.conf: +sshd_enable=\"YES\"\n"),
        "{out}"
    );
    assert!(!out.contains("bin/tool"), "{out}");

    let json = fruix(&["diff", "--json", &s(&img_a), &s(&img_b)]);
    assert_eq!(json.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["items"][0]["files"][0]["path"], "etc/rc.conf");
    assert_eq!(report["items"][0]["role"], "cause");

    // Host trees: a mode change is named with both modes.
    fs::set_permissions(b.join("bin/tool"), fs::Permissions::from_mode(0o700)).unwrap();
    let trees = fruix(&["diff", &s(&a), &s(&b)]);
    assert_eq!(trees.status.code(), Some(1));
    assert!(
        stdout(&trees).contains("item.file=. bin/tool: changed mode 0755 -> 0700\n"),
        "{}",
        stdout(&trees)
    );

    let missing = fruix(&["diff", &s(&img_a), &s(&dir.join("missing.img"))]);
    assert_eq!(missing.status.code(), Some(2), "{missing:?}");
    assert!(String::from_utf8_lossy(&missing.stderr).contains("missing.img"));
    assert_eq!(fruix(&["diff", &s(&img_a)]).status.code(), Some(2), "usage");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn two_versions_of_a_package_in_the_store_pair_up() {
    use fruix_core::store::Store;
    let dir = std::env::temp_dir().join(format!("fruix-diff-pkg-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    let store = Store::open(dir.join("store")).unwrap();
    let item = |name: &str, greeting: &str, exec: bool| {
        let mut b = store.builder(name).unwrap();
        b.file("bin/hello", greeting.as_bytes(), exec).unwrap();
        b.file("share/doc/README", b"hello\n", false).unwrap();
        b.commit().unwrap()
    };
    let old = item("hello-2.12", "#!/bin/sh\necho hello\n", true);
    let new = item("hello-2.13", "#!/bin/sh\necho hello, world\n", false);
    let store_dir = dir.join("store");
    let o = fruix(&[
        "diff",
        "--store",
        store_dir.to_str().unwrap(),
        &old.logical(),
        &new.logical(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let out = stdout(&o);
    assert!(
        out.contains("cause=item hello-2.12 -> hello-2.13: 1 file changed\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "item.file=hello-2.12 -> hello-2.13 bin/hello: changed mode 0555 -> 0444, sha256 "
        ),
        "{out}"
    );
    assert!(out.contains(": +echo hello, world\n"), "{out}");
    assert!(!out.contains("README"), "{out}");
    // Without the store, a store path names nothing.
    let o = fruix(&[
        "diff",
        "--store",
        dir.join("none").to_str().unwrap(),
        &old.logical(),
        &new.logical(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let _ = std::process::Command::new("chmod")
        .args(["-R", "u+w"])
        .arg(&dir)
        .status();
    let _ = fs::remove_dir_all(&dir);
}
