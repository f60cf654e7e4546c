//! Builders sharing one store: eight processes building the same image, two different
//! systems built at once; and a store on a file system that runs out of space.

mod common;

use common::child_process;
use fruix_core::store::{Store, StorePath};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn temp(tag: &str) -> PathBuf {
    common::scratch(&format!("conc-{tag}"))
}

/// The default system, or the same with the host name `FRUIX_CHILD_HOST`.
fn system() -> fruix_core::OperatingSystem {
    let mut os = fruix_systems::fruix_freebsd();
    if let Ok(host) = std::env::var("FRUIX_CHILD_HOST") {
        os.host_name = host;
    }
    os
}

/// Runs in child processes: builds the image into `FRUIX_CHILD_STORE`.
#[test]
#[ignore = "helper run in child processes by the other tests"]
fn child_build_image() {
    let store = Store::open(child_process::store_dir()).unwrap();
    let artifact = fruix_core::image::materialize_bhyve_image(&system(), &store).unwrap();
    println!(
        "\nFRUIX-RESULT {} {} {}",
        artifact.image,
        artifact.metadata.raw_sha256,
        artifact.disk_image.display()
    );
}

/// A child building `child_build_image` into `store`, for the host name `host` if given.
fn child(store: &Path, host: Option<&str>) -> Command {
    let mut cmd = child_process::command("child_build_image", store);
    if let Some(host) = host {
        cmd.env("FRUIX_CHILD_HOST", host);
    }
    cmd
}

/// (image store path, raw_sha256, disk.img path) printed by a successful child.
fn result_of(out: &Output) -> (String, String, String) {
    let line = child_process::tagged(out, "FRUIX-RESULT ");
    let parts: Vec<&str> = line.split(' ').collect();
    (parts[0].into(), parts[1].into(), parts[2].into())
}

/// Staging directories, unregistered item directories and temporary metadata files.
fn leftovers(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir.join(".fruix/tmp")).unwrap() {
        out.push(e.unwrap().path().display().to_string());
    }
    for sub in ["db", "cache", "roots"] {
        for e in fs::read_dir(dir.join(".fruix").join(sub)).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            if name.starts_with('.') {
                out.push(format!("{sub}/{name}"));
            }
        }
    }
    let store = Store::open(dir).unwrap();
    for e in fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        if let Ok(item) = name.parse::<StorePath>() {
            if !store.contains(&item) {
                out.push(name);
            }
        }
    }
    out
}

#[test]
fn eight_processes_building_one_image_into_one_store_agree() {
    let root = temp("eight");
    let store_dir = root.join("store");
    let children: Vec<_> = (0..8)
        .map(|_| child(&store_dir, None).spawn().unwrap())
        .collect();
    let results: Vec<_> = children
        .into_iter()
        .map(|c| result_of(&c.wait_with_output().unwrap()))
        .collect();
    println!("8 concurrent builds: {:?}", results[0]);
    assert!(results.windows(2).all(|w| w[0] == w[1]), "{results:#?}");
    let store = Store::open(&store_dir).unwrap();
    assert_eq!(store.verify().unwrap(), []);
    assert_eq!(leftovers(&store_dir), Vec::<String>::new());
    // One item per name: nobody built a second copy of anything.
    let items = store.items().unwrap();
    let mut names: Vec<&str> = items.iter().map(StorePath::name).collect();
    names.dedup();
    assert_eq!(names.len(), items.len(), "{items:#?}");
    // And the image is the one a lone build makes.
    let alone = result_of(&child(&root.join("alone"), None).output().unwrap());
    assert_eq!((&alone.0, &alone.1), (&results[0].0, &results[0].1));
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn two_different_systems_built_at_once_share_the_store_and_match_lone_builds() {
    let root = temp("two");
    let store_dir = root.join("store");
    let a = child(&store_dir, None).spawn().unwrap();
    let b = child(&store_dir, Some("other-host")).spawn().unwrap();
    let a = result_of(&a.wait_with_output().unwrap());
    let b = result_of(&b.wait_with_output().unwrap());
    assert_ne!(a.0, b.0);
    assert_ne!(a.1, b.1);
    assert!(b.0.ends_with("-fruix-bhyve-image-other-host"), "{b:?}");
    let store = Store::open(&store_dir).unwrap();
    assert_eq!(store.verify().unwrap(), []);
    assert_eq!(leftovers(&store_dir), Vec::<String>::new());
    // The base is shared, not imported twice.
    let items = store.items().unwrap();
    let runtimes = items
        .iter()
        .filter(|i| i.name().starts_with("freebsd-runtime-"))
        .count();
    assert_eq!(runtimes, 1, "{items:#?}");
    let lone_a = result_of(&child(&root.join("lone-a"), None).output().unwrap());
    let lone_b = result_of(
        &child(&root.join("lone-b"), Some("other-host"))
            .output()
            .unwrap(),
    );
    assert_eq!((&lone_a.0, &lone_a.1), (&a.0, &a.1));
    assert_eq!((&lone_b.0, &lone_b.1), (&b.0, &b.1));
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn an_image_does_not_depend_on_what_the_store_held_before() {
    // Regression: the ESP's cache key left out the host name, so a second host's image
    // reused the first host's `fruix-esp-<first host>` item and got another store path
    // than the same build in an empty store.
    let root = temp("history");
    let shared = Store::open(root.join("shared")).unwrap();
    let empty = Store::open(root.join("empty")).unwrap();
    let mut other = fruix_systems::fruix_freebsd();
    other.host_name = "other-host".into();
    let build = |os: &fruix_core::OperatingSystem, store: &Store| {
        fruix_core::image::materialize_bhyve_image(os, store).unwrap()
    };
    build(&fruix_systems::fruix_freebsd(), &shared);
    let after = build(&other, &shared);
    let alone = build(&other, &empty);
    assert_eq!(after.image, alone.image);
    assert_eq!(after.metadata, alone.metadata);
    assert!(after
        .metadata
        .esp_store_path
        .ends_with("-fruix-esp-other-host"));
    fs::remove_dir_all(root).unwrap();
}

// The disk-full test needs Linux: a private mount namespace (unshare) with tmpfs mounts.

/// Where a disk-full build is made to stop: in the middle of each of these stages.
#[cfg(target_os = "linux")]
const FULL_STAGES: [&str; 3] = ["system", "ESP", "disk image (root file system)"];

#[cfg(target_os = "linux")]
fn mount_tmpfs(dir: &Path, bytes: u64) {
    fs::create_dir_all(dir).unwrap();
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
        .arg(dir)
        .status()
        .expect("mount (util-linux) must be installed");
    assert!(status.success(), "mounting a tmpfs on {}", dir.display());
}

#[cfg(target_os = "linux")]
fn used_bytes(dir: &Path) -> u64 {
    common::fs_space(dir).unwrap().used
}

/// Runs inside a private mount namespace (as root there): measures how much space each
/// stage of a build takes on a tmpfs, then builds into tmpfs file systems sized to run
/// out in the middle of each stage, and reports what happened.
#[cfg(target_os = "linux")]
#[test]
#[ignore = "helper run in child processes by the other tests"]
fn child_disk_full() {
    use fruix_core::image::Stage;
    let base = PathBuf::from(std::env::var_os("FRUIX_FULL_DIR").expect("FRUIX_FULL_DIR"));
    let roomy = base.join("roomy");
    mount_tmpfs(&roomy, 1 << 30);
    let store = Store::open(roomy.join("store")).unwrap();
    let mut marks = vec![used_bytes(&roomy)];
    fruix_core::image::materialize_bhyve_image_with_progress(&system(), &store, &mut |stage| {
        // The root file system is written into the image item's disk.img: the image is
        // the last item, after the ESP's.
        let new = match stage {
            Stage::System | Stage::Packages { .. } | Stage::Disk => false,
            Stage::Esp | Stage::Done => true,
            Stage::Root { .. } => marks.len() == 2,
        };
        if new {
            marks.push(used_bytes(&roomy));
        }
    })
    .unwrap();
    // marks: start, system built, ESP built, image built.
    assert_eq!(marks.len(), 4, "{marks:?}");
    for (i, stage) in FULL_STAGES.iter().enumerate() {
        let limit = (marks[i] + marks[i + 1]) / 2;
        let dir = base.join(format!("full-{i}"));
        mount_tmpfs(&dir, limit.div_ceil(4096) * 4096);
        let store = Store::open(dir.join("store")).unwrap();
        let err = match fruix_core::image::materialize_bhyve_image(&system(), &store) {
            Ok(a) => format!("BUILT {}", a.image),
            Err(e) => e.to_string(),
        };
        let store = Store::open(dir.join("store")).unwrap();
        let problems = store.verify().unwrap();
        let left = leftovers(&dir.join("store"));
        let names = common::item_names(&store);
        println!("\nFULL {i} LIMIT {limit} bytes, in the {stage} stage ({marks:?})");
        println!("FULL {i} ERROR {err}");
        println!("FULL {i} VERIFY {problems:?}");
        println!("FULL {i} LEFTOVERS {left:?}");
        println!("FULL {i} ITEMS {}", names.join(","));
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_file_system_gives_a_no_space_error_and_leaves_no_partial_item() {
    let root = temp("full");
    // A private mount namespace: the file systems vanish with the child, whatever happens.
    // Root needs no user namespace; anyone else maps themselves to root in one.
    let mut unshare = Command::new("unshare");
    if unsafe { libc::geteuid() } != 0 {
        unshare.args(["--user", "--map-root-user"]);
    }
    let out = unshare
        .args(["--mount", "--propagation", "private"])
        .arg(std::env::current_exe().unwrap())
        .args(child_process::helper_args("child_disk_full"))
        .env("FRUIX_FULL_DIR", &root)
        .output()
        .expect("unshare (util-linux) must be installed");
    let all = child_process::output_text(&out);
    assert!(out.status.success(), "{all}");
    let field = |i: usize, what: &str| -> String {
        let tag = format!("FULL {i} {what} ");
        all.lines()
            .find_map(|l| l.split_once(&tag).map(|(_, r)| r.to_owned()))
            .unwrap_or_else(|| panic!("no `{tag}` in {all}"))
    };
    let mut reached = Vec::new();
    for (i, stage) in FULL_STAGES.iter().enumerate() {
        let err = field(i, "ERROR");
        println!("{stage}: {}\n  {err}", field(i, "LIMIT"));
        assert!(
            err.starts_with("no space left on the device holding `"),
            "{stage}: not a clear no-space error: {err}"
        );
        assert!(err.ends_with("the store is unchanged"), "{stage}: {err}");
        assert_eq!(field(i, "VERIFY"), "[]", "{stage}");
        assert_eq!(field(i, "LEFTOVERS"), "[]", "{stage}");
        let items = field(i, "ITEMS");
        assert!(!items.contains("fruix-bhyve-image"), "{stage}: {items}");
        reached.push(items);
    }
    // Each limit stopped the build at a later point than the one before.
    reached.dedup();
    assert_eq!(reached.len(), FULL_STAGES.len(), "{reached:#?}");
    assert!(reached[1].contains("fruix-system-") && !reached[1].contains("fruix-esp-"));
    assert!(reached[2].contains("fruix-esp-"));
    fs::remove_dir_all(root).unwrap();
}
