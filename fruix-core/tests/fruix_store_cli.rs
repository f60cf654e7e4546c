//! The `fruix` binary's `inspect` and `store` verbs on a real image and store.

use fruix_core::image::materialize_bhyve_image;
use fruix_core::store::Store;
use fruix_core::OperatingSystem;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

fn fruix(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fruix"))
        .args(args)
        .output()
        .unwrap()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn inspect_store_verify_roots_and_gc() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    let store = Store::open(&store_dir).unwrap();
    // FreeBSD's own rc.d: the default spec declares no Shepherd package.
    let os = OperatingSystem {
        host_name: "inspected".into(),
        init_mode: fruix_core::InitMode::FreebsdInitRcd,
        ..OperatingSystem::default()
    };
    let image = materialize_bhyve_image(&os, &store).unwrap();
    let disk = image.disk_image.to_str().unwrap();

    let o = fruix(&["inspect", disk]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = out(&o);
    assert!(text.contains("partition_scheme=gpt"), "{text}");
    assert!(
        text.contains("partition.1=efi label=efiboot start=2048"),
        "{text}"
    );
    assert!(
        text.contains("partition.1.file=/EFI/BOOT/BOOTX64.EFI "),
        "{text}"
    );
    assert!(
        text.contains("partition.2=freebsd-ufs label=fruix-root"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "partition.2.current_system={}",
            image.metadata.closure_path
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "partition.2.store_item_count={}",
            image.metadata.store_item_count
        )),
        "{text}"
    );

    let garbage = dir.path().join("garbage.img");
    fs::write(&garbage, vec![1u8; 1 << 20]).unwrap();
    let o = fruix(&["inspect", garbage.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out(&o).contains("problem=LBA 0 is not a protective MBR"),
        "{}",
        out(&o)
    );

    let s = store_dir.to_str().unwrap();
    let o = fruix(&["store", "verify", "--store", s]);
    assert!(o.status.success(), "{}", out(&o));
    assert!(out(&o).contains("problems=0"));
    let items = store.items().unwrap().len();
    assert!(out(&o).contains(&format!("items={items}")));

    // Keep the image; everything it does not reach goes.
    let o = fruix(&[
        "store",
        "add-root",
        "vm",
        &image.image.to_string(),
        "--store",
        s,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        out(&fruix(&["store", "roots", "--store", s])),
        format!("root={}\n", image.image)
    );
    let o = fruix(&["store", "gc", "--store", s]);
    assert!(o.status.success());
    let kept = store.closure(std::slice::from_ref(&image.image)).unwrap();
    assert_eq!(store.items().unwrap(), kept);
    assert!(
        out(&o).contains(&format!("deleted_items={}", items - kept.len())),
        "{}",
        out(&o)
    );

    // A modified item is reported and the exit code says so.
    let rc = store
        .physical(
            &kept
                .iter()
                .find(|i| i.name().starts_with("fruix-config-"))
                .unwrap()
                .clone(),
        )
        .join("etc/rc.conf");
    fs::set_permissions(&rc, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(&rc, "tampered=\"YES\"\n").unwrap();
    let o = fruix(&["store", "verify", "--store", s]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out(&o).contains("fruix-config-inspected: contents were modified"),
        "{}",
        out(&o)
    );
    let _ = Command::new("chmod")
        .args(["-R", "u+w"])
        .arg(dir.path())
        .status();
}
