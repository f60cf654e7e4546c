//! `fruix diff` on pairs of images built with the library: the default system with a probe
//! package, and variants that differ from it in one rc.conf entry, in one package file's
//! mode, in the image size, and not at all (the same declaration built in another store).
//! Each report must name exactly the root cause and list what derives from it.

mod common;

use fruix_core::diff::{self, Report, Role, Side};
use fruix_core::image::{materialize_bhyve_image, ImageArtifact};
use fruix_core::store::Store;
use fruix_core::{ByteSize, ImageSize, OperatingSystem, Package};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

const CONFIG: &str = "fruix-config-fruix-freebsd";
const SYSTEM: &str = "fruix-system-fruix-freebsd";
const PROBE: &str = "diff-probe-1.0";

struct Stores {
    dir: PathBuf,
    store: Store,
    base: ImageArtifact,
}

/// The default system plus a small package whose file modes a variant can change.
fn base_os() -> OperatingSystem {
    let mut os = fruix_systems::fruix_freebsd();
    os.packages.push(Package::inline(
        "diff-probe",
        "1.0",
        [("bin/probe", "#!/bin/sh\necho probe\n")],
    ));
    os
}

/// One store for the base image and every variant (variants reuse the base's items, so
/// each costs one image, not a system).
fn stores() -> &'static Stores {
    static STORES: OnceLock<Stores> = OnceLock::new();
    STORES.get_or_init(|| {
        let dir = common::scratch("diff");
        let store = Store::open(dir.join("store")).unwrap();
        let base = materialize_bhyve_image(&base_os(), &store).unwrap();
        Stores { dir, store, base }
    })
}

/// Builds a variant of the base (one at a time: they share the store).
fn variant(change: impl FnOnce(&mut OperatingSystem)) -> ImageArtifact {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut os = base_os();
    change(&mut os);
    materialize_bhyve_image(&os, &stores().store).unwrap()
}

fn disk(artifact: &ImageArtifact) -> String {
    artifact.disk_image.display().to_string()
}

fn report(a: &ImageArtifact, b: &ImageArtifact) -> Report {
    let a = Side::open(&disk(a), None).unwrap();
    let b = Side::open(&disk(b), None).unwrap();
    diff::diff(&a, &b)
}

fn lines<'r>(text: &'r str, key: &str) -> Vec<&'r str> {
    text.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .collect()
}

fn cause_items(r: &Report) -> Vec<&str> {
    r.items
        .iter()
        .filter(|i| i.role == Role::Cause)
        .map(|i| i.name.as_str())
        .collect()
}

fn derived_items(r: &Report) -> Vec<&str> {
    r.items
        .iter()
        .filter(|i| i.role == Role::Derived)
        .map(|i| i.name.as_str())
        .collect()
}

#[test]
fn one_rc_conf_entry_is_named_once_with_its_derived_items() {
    let base = &stores().base;
    let changed = variant(|os| {
        os.rc_conf.insert("fruix_diff_probe".into(), "YES".into());
    });
    let r = report(base, &changed);
    let text = r.to_key_values();
    println!("{text}");
    assert!(!r.equal);
    assert_eq!(
        r.causes,
        ["spec rc_conf.fruix_diff_probe: (absent) -> \"YES\""],
        "{text}"
    );
    assert_eq!(cause_items(&r), [CONFIG], "{text}");
    let config = &r.items[0];
    assert_eq!(config.files.len(), 1, "{text}");
    let rc = &config.files[0];
    assert_eq!(
        (rc.path.as_str(), rc.status, rc.derived),
        ("etc/rc.conf", "changed", false)
    );
    assert!(
        rc.diff.contains(&"+fruix_diff_probe=\"YES\"".to_owned()),
        "{:?}",
        rc.diff
    );
    assert_eq!(
        rc.diff.iter().filter(|l| l.starts_with(['+', '-'])).count(),
        1
    );
    // The system item names the config item; the root outside the store names the system.
    assert_eq!(derived_items(&r), [SYSTEM, "/"], "{text}");
    let system = &r.items[1];
    assert_eq!(system.caused_by, [CONFIG]);
    assert_eq!(r.items[2].caused_by, [SYSTEM]);
    assert!(r
        .items
        .iter()
        .skip(1)
        .all(|i| i.files.iter().all(|f| f.derived)));
    assert_eq!(r.image_role, Role::Derived);
    assert!(
        r.disk.iter().any(|c| c.field == "partition.2.guid"),
        "the root's GUID follows the system: {text}"
    );
    // The key=value report says it in that order.
    assert_eq!(lines(&text, "cause").len(), 1);
    assert_eq!(lines(&text, "item"), [format!("{CONFIG}: 1 file changed")]);
    assert!(lines(&text, "item.diff")
        .contains(&format!("{CONFIG} etc/rc.conf: +fruix_diff_probe=\"YES\"").as_str()));
    assert_eq!(
        lines(&text, "derived")[0],
        format!(
            "{SYSTEM}: {}, only references, from {CONFIG}",
            system.summary()
        )
    );
    assert_eq!(lines(&text, "result"), ["different"]);
}

#[test]
fn one_package_file_mode_is_named_with_its_package() {
    let base = &stores().base;
    let changed = variant(|os| {
        let probe = os.packages.pop().unwrap();
        os.packages.push(probe.with_executable("bin/probe"));
    });
    let r = report(base, &changed);
    let text = r.to_key_values();
    println!("{text}");
    let probe_index = base_os().packages.len() - 1;
    assert_eq!(
        r.causes,
        [format!(
            "spec packages[{probe_index}].source.files[0].executable: false -> true"
        )],
        "{text}"
    );
    assert_eq!(cause_items(&r), [PROBE], "{text}");
    let probe = &r.items[0];
    assert_eq!(probe.files.len(), 1);
    assert_eq!(probe.files[0].path, "bin/probe");
    assert_eq!(
        probe.files[0]
            .changes
            .iter()
            .map(|c| (c.field.as_str(), c.a.as_str(), c.b.as_str()))
            .collect::<Vec<_>>(),
        [("mode", "0444", "0555")]
    );
    let derived = derived_items(&r);
    assert!(
        derived.contains(&SYSTEM) && derived.contains(&"/"),
        "{text}"
    );
    assert!(!derived.contains(&CONFIG), "{text}");
}

#[test]
fn the_image_size_is_the_cause_of_partition_and_superblock_changes() {
    let base = &stores().base;
    let changed = variant(|os| {
        os.image.size = ImageSize::Fixed(ByteSize(384 << 20));
    });
    let r = report(base, &changed);
    let text = r.to_key_values();
    println!("{text}");
    assert_eq!(r.causes.len(), 1, "{text}");
    assert!(r.causes[0].starts_with("spec image.size: "), "{text}");
    assert_eq!(cause_items(&r), Vec::<&str>::new(), "{text}");
    assert_eq!(r.image_role, Role::Derived);
    let disk_size = r.disk.iter().find(|c| c.field == "size").unwrap();
    assert_eq!(
        (disk_size.a.as_str(), disk_size.b.as_str()),
        ("335544320", "402653184")
    );
    assert!(
        r.disk.iter().any(|c| c.field == "partition.2.bytes"),
        "{text}"
    );
    assert!(r.superblock.iter().any(|c| c.field == "size"), "{text}");
    assert!(lines(&text, "derived.superblock")
        .iter()
        .any(|l| l.starts_with("size: ")));
}

#[test]
fn the_same_declaration_in_another_store_is_equal_and_exits_0() {
    let base = &stores().base;
    let other = Store::open(stores().dir.join("other-store")).unwrap();
    let again = materialize_bhyve_image(&base_os(), &other).unwrap();
    assert_ne!(again.disk_image, base.disk_image);
    let r = report(base, &again);
    assert!(r.equal, "{}", r.to_key_values());
    assert!(r.causes.is_empty() && r.items.is_empty() && r.disk.is_empty());
    assert_eq!(lines(&r.to_key_values(), "result"), ["equal"]);
}

#[test]
fn json_and_store_closures_tell_the_same_story() {
    let base = &stores().base;
    let changed = variant(|os| {
        os.rc_conf.insert("fruix_diff_probe".into(), "YES".into());
    });
    let json = serde_json::to_value(report(base, &changed)).unwrap();
    assert_eq!(json["equal"], false);
    assert_eq!(
        json["causes"][0],
        "spec rc_conf.fruix_diff_probe: (absent) -> \"YES\""
    );
    assert_eq!(json["items"][0]["name"], CONFIG);
    assert_eq!(json["items"][0]["role"], "cause");
    assert_eq!(json["items"][1]["role"], "derived");
    assert_eq!(json["image_role"], "derived");
    // The two system items, as closures read from the store: the same cause and items,
    // without the image's own structures.
    let store = &stores().store;
    let a = Side::open(&base.metadata.closure_path, Some(store)).unwrap();
    let b = Side::open(&changed.metadata.closure_path, Some(store)).unwrap();
    let r = diff::diff(&a, &b);
    let text = r.to_key_values();
    assert_eq!(
        r.causes,
        ["spec rc_conf.fruix_diff_probe: (absent) -> \"YES\""],
        "{text}"
    );
    assert_eq!(cause_items(&r), [CONFIG], "{text}");
    assert_eq!(derived_items(&r), [SYSTEM], "{text}");
    assert!(r.disk.is_empty() && r.superblock.is_empty());
    let missing = stores().dir.join("no-such.img").display().to_string();
    assert!(matches!(
        Side::open(&missing, None),
        Err(diff::DiffError::NotFound { .. })
    ));
}
