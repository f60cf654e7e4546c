//! Security properties of a build: it needs no root, writes nothing outside its store, puts
//! nothing of the building host (paths, user, host name, time, environment) into any store
//! item or image, and keeps declared secrets out of world-readable store files.

mod common;

use common::child_process;
use fruix_core::image::materialize_bhyve_image;
use fruix_core::store::Store;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

fn temp(tag: &str) -> PathBuf {
    common::scratch(&format!("sec-{tag}"))
}

/// A sha512-crypt hash standing for a real password's.
const HASH: &str = "$6$fruixsalt$zbx/Q0gf52TKJIzwfs9mjTG0Q70zzCoiXnSnoF.gmBkssx3CW1ONQzU07Jpj3J9DRUjBu0tl4uPLCWgLgxY0y.";

/// Every regular file under `dir` with its mode.
fn files(dir: &Path) -> Vec<(PathBuf, u32)> {
    common::regular_files(dir)
        .into_iter()
        .map(|(p, md)| (p, md.permissions().mode() & 0o7777))
        .collect()
}

/// Whether `needle` occurs in `hay` (fast on the mostly-zero bytes of disk images).
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    let mut from = 0;
    while let Some(p) = hay[from..].iter().position(|&b| b == needle[0]) {
        if hay[from + p..].starts_with(needle) {
            return true;
        }
        from += p + 1;
    }
    false
}

#[test]
fn password_hashes_never_land_in_world_readable_store_files() {
    let root = temp("secrets");
    let store = Store::open(root.join("store")).unwrap();
    let mut os = fruix_systems::fruix_freebsd();
    os.users[1].password = HASH.into();
    let image = materialize_bhyve_image(&os, &store).unwrap();

    let mut private_holders = Vec::new();
    for (file, mode) in files(store.dir()) {
        if contains(&fs::read(&file).unwrap(), HASH.as_bytes()) {
            assert_eq!(mode & 0o044, 0, "{} is {mode:o}", file.display());
            private_holders.push(file.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    private_holders.sort();
    // The root file system lives only inside disk.img (its root partition).
    assert_eq!(private_holders, ["disk.img", "master.passwd"]);
    // It does reach the image, where master.passwd is 0600.
    let passwd = store
        .physical(
            &fruix_core::system::build_system(&os, &store)
                .unwrap()
                .config,
        )
        .join("etc/master.passwd");
    assert_eq!(fs::metadata(&passwd).unwrap().mode() & 0o777, 0o400);
    assert!(contains(
        &fs::read(&image.disk_image).unwrap(),
        HASH.as_bytes()
    ));
    let closure = fruix_core::system::build_system(&os, &store).unwrap();
    let spec =
        fs::read_to_string(store.physical(&closure.system).join("metadata/spec.json")).unwrap();
    assert!(spec.contains(fruix_core::system::REDACTED), "{spec}");
    assert_eq!(store.verify().unwrap(), []);

    // Made readable by others behind the store's back: verification says so.
    fs::set_permissions(&passwd, fs::Permissions::from_mode(0o444)).unwrap();
    let problems = store.verify().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    let text = problems[0].to_string();
    assert!(
        text.contains("etc/master.passwd")
            && text.contains("private in the image (mode 0600) but readable by others"),
        "{text}"
    );
    fs::remove_dir_all(root).unwrap();
}

/// Runs as an unprivileged user with a scrubbed, sentinel-laden environment: builds the
/// default image into `FRUIX_CHILD_STORE` and prints where it is.
#[test]
#[ignore = "helper run in child processes by the other tests"]
fn child_build_image() {
    let store = Store::open(child_process::store_dir()).unwrap();
    let artifact = materialize_bhyve_image(&fruix_systems::fruix_freebsd(), &store).unwrap();
    println!("\nFRUIX-DISK {}", artifact.disk_image.display());
}

/// Today's date as `date` prints it, in UTC and local time, with and without dashes.
fn dates() -> Vec<String> {
    [
        &["-u", "+%F"][..],
        &["-u", "+%Y%m%d"],
        &["+%F"],
        &["+%d.%m.%Y"],
    ]
    .iter()
    .map(|args| {
        let out = Command::new("date").args(*args).output().unwrap();
        let date = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        assert!(date.len() >= 8, "date {args:?} printed {date:?}");
        date
    })
    .collect()
}

#[test]
fn an_unprivileged_build_writes_only_its_store_and_leaks_nothing_of_the_host() {
    let root = temp("unprivileged");
    // Everything the child may see, owned by nobody (65534): its own copy of this test
    // binary (the checkout may not be readable to it), the store's parent, HOME, TMPDIR
    // and the working directory.
    let exe = root.join("fruix-security-test");
    fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    let sentinel = format!("zzz-sentinel-{}", std::process::id());
    let parent = root.join(format!("parent-{sentinel}"));
    let (home, tmp, cwd) = (root.join("home"), root.join("tmp"), root.join("cwd"));
    for dir in [&parent, &home, &tmp, &cwd] {
        fs::create_dir_all(dir).unwrap();
    }
    for path in [&root, &parent, &home, &tmp, &cwd, &exe] {
        std::os::unix::fs::chown(path, Some(65534), Some(65534)).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let store_dir = parent.join("store");
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--no-new-privs",
        ])
        .arg(&exe)
        .args(child_process::helper_args("child_build_image"))
        .current_dir(&cwd)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env(child_process::STORE_VAR, &store_dir)
        .env("HOME", &home)
        .env("TMPDIR", &tmp)
        .env("USER", format!("user-{sentinel}"))
        .env("LOGNAME", format!("user-{sentinel}"))
        .env("FRUIX_SENTINEL", &sentinel)
        .env("TZ", "Pacific/Chatham")
        .env("SOURCE_DATE_EPOCH", "1234567890")
        .output()
        .expect("setpriv (util-linux) must be installed");
    let text = child_process::output_text(&out);
    assert!(out.status.success(), "unprivileged build failed: {text}");
    assert!(text.contains("FRUIX-DISK "), "{text}");

    // Nothing written outside the store.
    for dir in [&home, &tmp, &cwd] {
        let left: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(left.is_empty(), "{} got {left:?}", dir.display());
    }
    let beside: Vec<_> = fs::read_dir(&parent)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(beside, ["store"]);
    // Every store file belongs to the unprivileged user.
    for (file, _) in files(&store_dir) {
        assert_eq!(
            fs::metadata(&file).unwrap().uid(),
            65534,
            "{}",
            file.display()
        );
    }

    // Nothing of the host in any store file or link (disk.img included).
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let mut needles = vec![
        store_dir.display().to_string(),
        root.display().to_string(),
        sentinel.clone(),
        "Pacific/Chatham".to_owned(),
        "1234567890".to_owned(),
    ];
    needles.extend(dates());
    // Too short or too common a host name would match by chance.
    if host.trim().len() >= 6 && host.trim() != "localhost" {
        needles.push(host.trim().to_owned());
    }
    let store = Store::open(&store_dir).unwrap();
    for (file, _) in files(&store_dir) {
        if file.starts_with(store_dir.join(".fruix")) {
            continue; // the store's own bookkeeping, not items
        }
        let bytes = fs::read(&file).unwrap();
        for needle in &needles {
            assert!(
                !contains(&bytes, needle.as_bytes()),
                "`{needle}` in {}",
                file.display()
            );
        }
    }
    for item in store.items().unwrap() {
        let mut todo = vec![store.physical(&item)];
        while let Some(p) = todo.pop() {
            let md = fs::symlink_metadata(&p).unwrap();
            if md.is_dir() {
                todo.extend(fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            } else if md.file_type().is_symlink() {
                let target = fs::read_link(&p).unwrap().display().to_string();
                assert!(!target.contains(&root.display().to_string()), "{target}");
            }
        }
    }
    assert_eq!(store.verify().unwrap(), []);
    common::remove_read_only_tree(&root);
}
