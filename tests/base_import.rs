//! Importing FreeBSD bases: the sample base, real-layout release sets, and hostile or
//! broken archives (each refused with an error naming the problem, the store unchanged).

mod common;

use common::{listing, sha};

use fruix_core::freebsd::{self, materialize_base, BaseError};
use fruix_core::store::{Store, StorePath};
use fruix_core::{BaseSource, FreeBsdBase};
use std::fs;
use std::path::{Path, PathBuf};

fn temp() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "fruix-base-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

enum E<'a> {
    Dir(&'a str),
    File(&'a str, &'a [u8], u32),
    Symlink(&'a str, &'a str),
    Hard(&'a str, &'a str),
    Char(&'a str),
}

/// Writes a `.txz` whose entry names are taken verbatim (no sanitizing by the tar crate).
fn txz(path: &Path, entries: &[E]) {
    let file = fs::File::create(path).unwrap();
    let mut builder = tar::Builder::new(xz2::write::XzEncoder::new(file, 1));
    for entry in entries {
        let mut h = tar::Header::new_ustar();
        let (name, kind, data, mode, link): (&str, tar::EntryType, &[u8], u32, Option<&str>) =
            match entry {
                E::Dir(n) => (n, tar::EntryType::Directory, b"", 0o755, None),
                E::File(n, d, m) => (n, tar::EntryType::Regular, d, *m, None),
                E::Symlink(n, t) => (n, tar::EntryType::Symlink, b"", 0o755, Some(t)),
                E::Hard(n, t) => (n, tar::EntryType::Link, b"", 0o555, Some(t)),
                E::Char(n) => (n, tar::EntryType::Char, b"", 0o600, None),
            };
        let raw = &mut h.as_old_mut().name;
        raw.fill(0);
        raw[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(t) = link {
            let l = &mut h.as_old_mut().linkname;
            l[..t.len()].copy_from_slice(t.as_bytes());
        }
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(data.len() as u64);
        h.set_cksum();
        builder.append(&h, data).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap();
}

fn manifest(dir: &Path) {
    let text = format!(
        "base.txz\t{}\t10\tbase\t\"Base system\"\ton\nkernel.txz\t{}\t3\tkernel\t\"Kernel\"\ton\n",
        sha(&dir.join("base.txz")),
        sha(&dir.join("kernel.txz"))
    );
    fs::write(dir.join("MANIFEST"), text).unwrap();
}

fn good_kernel(dir: &Path) {
    txz(
        &dir.join("kernel.txz"),
        &[
            E::Dir("./boot/"),
            E::Dir("./boot/kernel/"),
            E::File("./boot/kernel/kernel", b"ELF kernel", 0o555),
        ],
    );
}

fn dist(dir: &Path) -> FreeBsdBase {
    freebsd::dist_sets("15.0-RELEASE", dir)
}

#[test]
fn sample_base_has_freebsd_layout_and_is_cached() {
    let root = temp();
    let store = Store::open(root.join("store")).unwrap();
    let items = materialize_base(&freebsd::sample_base("15.0-RELEASE"), &store).unwrap();
    let runtime = store.physical(&items.runtime);
    let sh = fs::read_to_string(runtime.join("bin/sh")).unwrap();
    assert!(sh.contains("placeholder for /bin/sh"), "{sh}");
    assert!(store
        .physical(&items.bootloader)
        .join("boot/loader.efi")
        .is_file());
    assert!(store
        .physical(&items.kernel)
        .join("boot/kernel/kernel")
        .is_file());
    let record = store.record(&items.runtime).unwrap();
    assert_eq!(record.image_meta["usr/bin/su"].perm, 0o4555);
    assert_eq!(record.image_meta["sbin/init"].flags, 0x2_0000);
    assert_eq!(record.image_meta["usr/bin/wall"].gid, 4);
    assert_eq!(items.provenance.source, "sample");
    assert_eq!(
        store
            .closure(std::slice::from_ref(&items.base))
            .unwrap()
            .len(),
        4
    );

    let before = listing(store.dir());
    let again = materialize_base(&freebsd::sample_base("15.0-RELEASE"), &store).unwrap();
    assert_eq!(again, items);
    assert_eq!(listing(store.dir()), before, "a warm import writes nothing");
    assert_eq!(store.verify().unwrap(), []);
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn release_sets_are_checked_unpacked_and_sliced() {
    let root = temp();
    let dist_dir = root.join("dist");
    fs::create_dir_all(&dist_dir).unwrap();
    txz(
        &dist_dir.join("base.txz"),
        &[
            E::Dir("./"),
            E::Dir("./bin/"),
            E::File("./bin/test", b"test", 0o555),
            E::Hard("./bin/[", "./bin/test"),
            E::Dir("./usr/"),
            E::Dir("./usr/bin/"),
            E::File("./usr/bin/su", b"su", 0o4555),
            E::Dir("./etc/"),
            E::Symlink("./etc/termcap", "/usr/share/misc/termcap"),
            E::Dir("./boot/"),
            E::File("./boot/loader.efi", b"MZ loader", 0o444),
        ],
    );
    good_kernel(&dist_dir);
    manifest(&dist_dir);
    let store = Store::open(root.join("store")).unwrap();
    let items = materialize_base(&dist(&dist_dir), &store).unwrap();
    let runtime = store.physical(&items.runtime);
    assert_eq!(fs::read(runtime.join("bin/[")).unwrap(), b"test");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        fs::metadata(runtime.join("bin/[")).unwrap().ino(),
        fs::metadata(runtime.join("bin/test")).unwrap().ino()
    );
    assert_eq!(
        fs::read_link(runtime.join("etc/termcap")).unwrap(),
        Path::new("/usr/share/misc/termcap")
    );
    assert_eq!(
        store.record(&items.runtime).unwrap().image_meta["usr/bin/su"].perm,
        0o4555
    );
    assert_eq!(
        fs::read(store.physical(&items.bootloader).join("boot/loader.efi")).unwrap(),
        b"MZ loader"
    );
    assert!(
        !runtime.join("boot").exists(),
        "boot/ belongs to the bootloader slice"
    );
    assert_eq!(
        items.provenance.base_sha256.as_deref(),
        Some(sha(&dist_dir.join("base.txz")).as_str())
    );
    fs::remove_dir_all(root).unwrap();
}

fn refused(base_entries: &[E], expect: &str) {
    let root = temp();
    let dist_dir = root.join("dist");
    fs::create_dir_all(&dist_dir).unwrap();
    txz(&dist_dir.join("base.txz"), base_entries);
    good_kernel(&dist_dir);
    manifest(&dist_dir);
    let store = Store::open(root.join("store")).unwrap();
    let before = listing(store.dir());
    let err = materialize_base(&dist(&dist_dir), &store).expect_err(expect);
    let text = err.to_string();
    assert!(text.contains(expect), "expected `{expect}` in: {text}");
    assert_eq!(
        listing(store.dir()),
        before,
        "the store changed after: {text}"
    );
    assert_eq!(store.items().unwrap(), Vec::<StorePath>::new());
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn hostile_archive_entries_are_refused_by_name() {
    refused(
        &[E::File("../../etc/evil", b"x", 0o644)],
        "entry `../../etc/evil`: `..` is not allowed",
    );
    refused(
        &[E::File("/etc/evil", b"x", 0o644)],
        "entry `/etc/evil`: absolute paths are not allowed",
    );
    refused(
        &[
            E::Symlink("./usr", "/tmp"),
            E::File("./usr/evil", b"x", 0o644),
        ],
        "entry `./usr/evil`: it would be written through the symlink `usr`",
    );
    refused(
        &[E::Hard("./bin/ls", "./bin/missing")],
        "hard link to `bin/missing`, which is not a file seen before",
    );
    refused(
        &[E::Hard("./bin/ls", "../outside")],
        "hard link to `../outside`, which is outside the archive",
    );
    refused(
        &[E::Char("./dev/null")],
        "character devices do not belong in a FreeBSD base",
    );
    refused(
        &[
            E::File("./etc/motd", b"a", 0o644),
            E::File("./etc/motd", b"b", 0o644),
        ],
        "holds this path twice",
    );
}

#[test]
fn wrong_checksums_truncated_archives_and_bad_manifests_are_refused() {
    let root = temp();
    let dist_dir = root.join("dist");
    fs::create_dir_all(&dist_dir).unwrap();
    txz(
        &dist_dir.join("base.txz"),
        &[
            E::Dir("./bin/"),
            E::File("./bin/sh", &[7u8; 100_000], 0o555),
        ],
    );
    good_kernel(&dist_dir);
    let store = Store::open(root.join("store")).unwrap();
    let before = listing(store.dir());

    // No MANIFEST, nothing pinned.
    let err = materialize_base(&dist(&dist_dir), &store).unwrap_err();
    assert!(
        matches!(&err, BaseError::Io(e) if e.path.ends_with("MANIFEST")),
        "{err}"
    );

    // A pinned sum that does not match.
    let pinned = FreeBsdBase {
        source: BaseSource::DistSets {
            dir: dist_dir.clone(),
            base_sha256: Some("00".repeat(32)),
            kernel_sha256: Some(sha(&dist_dir.join("kernel.txz"))),
        },
        ..dist(&dist_dir)
    };
    let err = materialize_base(&pinned, &store).unwrap_err();
    assert!(matches!(err, BaseError::Checksum { .. }), "{err}");
    assert!(err.to_string().contains("base.txz`: sha256 is"), "{err}");

    // A truncated archive whose MANIFEST matches the truncated bytes: unpacking fails.
    let full = fs::read(dist_dir.join("base.txz")).unwrap();
    fs::write(dist_dir.join("base.txz"), &full[..full.len() / 2]).unwrap();
    manifest(&dist_dir);
    let err = materialize_base(&dist(&dist_dir), &store).unwrap_err();
    assert!(matches!(err, BaseError::Archive { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("not a readable xz-compressed tar archive"),
        "{err}"
    );

    // A MANIFEST without the kernel's line.
    fs::write(
        dist_dir.join("MANIFEST"),
        format!(
            "base.txz\t{}\t1\tbase\t\"\"\ton\n",
            sha(&dist_dir.join("base.txz"))
        ),
    )
    .unwrap();
    let err = materialize_base(&dist(&dist_dir), &store).unwrap_err();
    assert!(
        matches!(&err, BaseError::Manifest { why, .. } if why.contains("kernel.txz")),
        "{err}"
    );

    assert_eq!(listing(store.dir()), before);
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn a_given_loader_becomes_boot_loader_efi_of_any_base() {
    let root = temp();
    let store = Store::open(root.join("store")).unwrap();
    let loader = root.join("loader.efi");
    let bytes = common::efi_app(b"fruix test loader");
    fs::write(&loader, &bytes).unwrap();
    let shipped = |items: &freebsd::BaseItems, file: &str| {
        fs::read(store.physical(&items.bootloader).join(file)).unwrap()
    };

    // The sample base: only the bootloader slice changes, and the provenance says why.
    let plain = materialize_base(&freebsd::sample_base("15.0-RELEASE"), &store).unwrap();
    let given = freebsd::sample_base("15.0-RELEASE").with_loader_efi(&loader);
    let items = materialize_base(&given, &store).unwrap();
    assert_eq!(shipped(&items, "boot/loader.efi"), bytes);
    assert_eq!(
        items.provenance.loader_efi_sha256,
        Some(sha(&loader)),
        "recorded in provenance.json"
    );
    assert_eq!(plain.provenance.loader_efi_sha256, None);
    assert_eq!(
        (&items.runtime, &items.kernel),
        (&plain.runtime, &plain.kernel)
    );
    assert_ne!(items.bootloader, plain.bootloader);
    let before = listing(store.dir());
    assert_eq!(materialize_base(&given, &store).unwrap(), items);
    assert_eq!(listing(store.dir()), before, "a warm import writes nothing");

    // Release sets whose loader.efi is a hard link to loader_lua.efi (as FreeBSD ships
    // it): the link is broken, loader_lua.efi keeps its bytes.
    let dist_dir = root.join("dist");
    fs::create_dir_all(&dist_dir).unwrap();
    txz(
        &dist_dir.join("base.txz"),
        &[
            E::Dir("./boot/"),
            E::File("./boot/loader_lua.efi", b"MZ lua loader", 0o555),
            E::Hard("./boot/loader.efi", "./boot/loader_lua.efi"),
        ],
    );
    good_kernel(&dist_dir);
    manifest(&dist_dir);
    let items = materialize_base(&dist(&dist_dir).with_loader_efi(&loader), &store).unwrap();
    assert_eq!(shipped(&items, "boot/loader.efi"), bytes);
    assert_eq!(shipped(&items, "boot/loader_lua.efi"), b"MZ lua loader");
    assert_eq!(store.verify().unwrap(), []);
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn a_loader_that_is_missing_or_not_an_efi_application_is_refused() {
    let root = temp();
    let store = Store::open(root.join("store")).unwrap();
    let before = listing(store.dir());
    let refused = |file: &Path, expect: &str| {
        let base = freebsd::sample_base("15.0-RELEASE").with_loader_efi(file);
        let err = materialize_base(&base, &store).expect_err(expect);
        assert!(matches!(err, BaseError::LoaderEfi { .. }), "{err}");
        let text = err.to_string();
        let named = format!("boot loader `{}` {expect}", file.display());
        assert!(text.starts_with(&named), "expected `{named}` in: {text}");
        assert_eq!(
            listing(store.dir()),
            before,
            "the store changed after: {text}"
        );
    };
    refused(&root.join("absent.efi"), "cannot be read");
    refused(&root, "is not a regular file");
    let script = root.join("loader.sh");
    fs::write(&script, "#!/bin/sh\n").unwrap();
    refused(
        &script,
        "is not a PE/EFI image: it does not start with `MZ`",
    );
    let arm = root.join("arm64.efi");
    let mut bytes = common::efi_app(b"");
    bytes[0x84..0x86].copy_from_slice(&0xaa64u16.to_le_bytes());
    fs::write(&arm, &bytes).unwrap();
    refused(&arm, "is a PE image for machine 0xaa64, not for amd64");
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn a_pkgbase_base_outside_a_system_build_is_refused() {
    let root = temp();
    let store = Store::open(root.join("store")).unwrap();
    let before = listing(store.dir());
    let base = FreeBsdBase {
        source: BaseSource::pkgbase("FreeBSD-base"),
        ..FreeBsdBase::default()
    };
    let err = materialize_base(&base, &store).unwrap_err();
    assert!(
        matches!(&err, BaseError::PkgbaseOutsideSystem { repository } if repository == "FreeBSD-base"),
        "{err}"
    );
    assert!(
        err.to_string().contains("build it as part of a system"),
        "{err}"
    );
    assert_eq!(listing(store.dir()), before);
}
