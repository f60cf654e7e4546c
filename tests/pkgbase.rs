//! A base made of pkgbase packages: a generated `FreeBSD-base` repository (the sample
//! base's files repackaged as FreeBSD-runtime, FreeBSD-bootloader with a real PE32+
//! loader, FreeBSD-kernel-generic and the FreeBSD-set-minimal metapackage) served over
//! HTTP, resolved, locked, fetched, sliced, built into an image that verifies; and the
//! ways such a base is refused, each leaving the store's items as they were.

mod common;

use common::http::TestServer;
use fruix_core::freebsd::pkgbase::{materialize as materialize_pkgbase, BasePackage};
use fruix_core::freebsd::{self, materialize_base, BaseError};
use fruix_core::image::materialize_bhyve_image_with;
use fruix_core::image::ufs::FileType;
use fruix_core::image::verify::verify_image;
use fruix_core::pkg::create::{Meta, PackageWriter, RepoWriter};
use fruix_core::pkg::Dependency;
use fruix_core::store::Store;
use fruix_core::system::{build_system_with, PackageOptions, SystemError};
use fruix_core::{BaseSource, OperatingSystem, PackageRepository};
use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

const SCHG: u32 = 0x2_0000;
const REPO: &str = "FreeBSD-base";

fn base_package(name: &str) -> PackageWriter {
    let mut p = PackageWriter::new(name, "15.0");
    let m = p.manifest_mut();
    m.origin = format!("base/{}", name.trim_start_matches("FreeBSD-"));
    m.prefix = "/".into();
    p
}

fn depends(p: &mut PackageWriter, name: &str) {
    p.manifest_mut().deps.insert(
        name.to_owned(),
        Dependency {
            origin: format!("base/{name}"),
            version: "15.0".into(),
        },
    );
}

/// The owner and mode a sample file gets in its package (FreeBSD's, not the store's).
fn meta_of(rel: &str, exec: bool) -> Meta {
    match rel {
        "usr/bin/su" | "usr/bin/login" | "usr/bin/passwd" => Meta::root(0o4555),
        "usr/bin/wall" => Meta::new("root", "tty", 0o2555),
        "boot/kernel/kernel" | "sbin/init" => Meta::root(0o555).flags(SCHG),
        _ if exec => Meta::root(0o555),
        _ => Meta::root(0o444),
    }
}

/// Adds every entry below `dir` (a sample base slice) to `p`, hard links kept.
fn add_tree(p: &mut PackageWriter, root: &Path, dir: &Path, inodes: &mut HashMap<u64, String>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let md = fs::symlink_metadata(&path).unwrap();
        if md.is_dir() {
            p.dir(&rel, Meta::root(0o755));
            add_tree(p, root, &path, inodes);
        } else if md.file_type().is_symlink() {
            p.symlink(&rel, fs::read_link(&path).unwrap().to_str().unwrap());
        } else if let Some(first) = inodes.get(&md.ino()).filter(|_| md.nlink() > 1) {
            p.hard_link(&rel, &format!("/{first}"));
        } else {
            inodes.insert(md.ino(), rel.clone());
            let bytes = if rel == "boot/loader.efi" {
                common::efi_app(b"pkgbase loader")
            } else {
                fs::read(&path).unwrap()
            };
            p.file(&rel, &bytes, meta_of(&rel, md.mode() & 0o111 != 0));
        }
    }
}

/// The pkgbase packages made from the sample base's slices (plus `extra`), written as a
/// repository in `dir`.
fn write_repo(dir: &Path, extra: &[PackageWriter]) {
    let scratch = Store::open(dir.with_extension("sample-store")).unwrap();
    let sample = materialize_base(&freebsd::sample_base("15.0-RELEASE"), &scratch).unwrap();
    let mut packages = Vec::new();
    for (name, item) in [
        ("FreeBSD-runtime", &sample.runtime),
        ("FreeBSD-bootloader", &sample.bootloader),
        ("FreeBSD-kernel-generic", &sample.kernel),
    ] {
        let mut p = base_package(name);
        let root = scratch.physical(item);
        add_tree(&mut p, &root, &root, &mut HashMap::new());
        packages.push(p);
    }
    let mut set = base_package("FreeBSD-set-minimal");
    depends(&mut set, "FreeBSD-runtime");
    packages.push(set);
    let mut repo = RepoWriter::new(dir);
    for p in packages.iter().chain(extra) {
        repo.add(p).unwrap();
    }
    repo.write().unwrap();
    common::remove_read_only_tree(&dir.with_extension("sample-store"));
}

fn pkgbase_system(url: &str, packages: &[&str]) -> OperatingSystem {
    let mut os = fruix_systems::fruix_freebsd();
    os.base.source = BaseSource::Pkgbase {
        repository: REPO.into(),
        packages: packages.iter().map(|p| p.to_string()).collect(),
    };
    os.package_repositories
        .push(PackageRepository::new(REPO, url));
    os
}

fn options(lock: &Path) -> PackageOptions {
    let mut options = PackageOptions {
        lock_file: Some(lock.to_path_buf()),
        ..PackageOptions::default()
    };
    options.fetch.attempts = 2;
    options.fetch.backoff = std::time::Duration::from_millis(10);
    options
}

#[test]
fn a_pkgbase_base_is_sliced_locked_and_boots_into_a_verified_image() {
    let root = common::scratch("pkgbase-image");
    write_repo(&root.join("repo"), &[]);
    let mut server = TestServer::serve(&root.join("repo"));
    let store = Store::open(root.join("store")).unwrap();
    let lock = root.join("fruix.lock");
    let os = pkgbase_system(&server.url(), &[]);
    let artifact = materialize_bhyve_image_with(&os, &store, &options(&lock), &mut |_| {}).unwrap();
    let md = &artifact.metadata;
    let closure = fruix_core::system::load(&store, &md.closure_path.parse().unwrap()).unwrap();
    let base = &closure.base;

    // Provenance: the repository and each package's name, version and sha256.
    let prov = &base.provenance;
    assert_eq!(prov.source, "pkgbase");
    assert_eq!(prov.repository.as_deref(), Some(REPO));
    let mut names: Vec<&str> = prov.packages.iter().map(|p| p.name.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "FreeBSD-bootloader",
            "FreeBSD-kernel-generic",
            "FreeBSD-runtime",
            "FreeBSD-set-minimal"
        ]
    );
    let runtime_pkg = root.join("repo/All/FreeBSD-runtime-15.0.pkg");
    let runtime_rec = prov
        .packages
        .iter()
        .find(|p| p.name == "FreeBSD-runtime")
        .unwrap();
    assert_eq!(
        (runtime_rec.version.as_str(), runtime_rec.sha256.clone()),
        ("15.0", common::sha(&runtime_pkg))
    );
    // The lock pins them like other packages.
    let lock_text = fs::read_to_string(&lock).unwrap();
    for name in &names {
        assert!(
            lock_text.contains(&format!("name = \"{name}\"")),
            "{lock_text}"
        );
    }
    assert!(lock_text.contains(&runtime_rec.sha256), "{lock_text}");
    // A base-only system has no package stage.
    assert_eq!(md.pkg_packages, 0);

    // The three slices: boot/kernel, the rest of boot/, everything else.
    let runtime = store.physical(&base.runtime);
    let bootloader = store.physical(&base.bootloader);
    let kernel = store.physical(&base.kernel);
    for file in ["bin/sh", "etc/rc", "usr/bin/su", "usr/share/zoneinfo/UTC"] {
        assert!(runtime.join(file).is_file(), "runtime lacks {file}");
    }
    assert!(!runtime.join("boot").exists());
    assert_eq!(
        fs::read(bootloader.join("boot/loader.efi")).unwrap(),
        common::efi_app(b"pkgbase loader")
    );
    assert!(bootloader.join("boot/lua/loader.lua").is_file());
    assert!(!bootloader.join("boot/kernel").exists());
    assert!(kernel.join("boot/kernel/kernel").is_file());
    assert!(kernel.join("boot/kernel/vmm.ko").is_file());
    assert_eq!(
        fs::metadata(runtime.join("bin/[")).unwrap().ino(),
        fs::metadata(runtime.join("bin/test")).unwrap().ino(),
        "the hard link is kept"
    );
    assert_eq!(
        fs::read_link(runtime.join("etc/termcap")).unwrap(),
        Path::new("/usr/share/misc/termcap")
    );

    // Owners, modes and flags from the packages, in the image's root file system.
    let mut ufs = common::image_root(&store, &artifact);
    let mut stat = |path: &str| {
        let (ino, _) = fruix_core::links::resolve(&mut ufs, path.as_bytes()).unwrap();
        ufs.stat(ino).unwrap()
    };
    let su = stat("/usr/bin/su");
    assert_eq!(
        (su.ftype, su.perm, su.uid, su.gid),
        (FileType::File, 0o4555, 0, 0)
    );
    let wall = stat("/usr/bin/wall");
    assert_eq!((wall.perm, wall.gid), (0o2555, 4), "root:tty setgid");
    let kernel_file = stat("/boot/kernel/kernel");
    assert_eq!(kernel_file.flags & SCHG, SCHG, "schg from the package");
    assert_eq!(stat("/bin/[").ino, stat("/bin/test").ino);

    let report = verify_image(Path::new(&artifact.disk_image)).unwrap();
    assert!(report.is_ok(), "{:#?}", report.problems);

    // Offline: the lock and the download cache are enough; the same base comes back.
    server.stop();
    let again = build_system_with(&os, &store, &options(&lock), &mut |_, _| {}).unwrap();
    assert_eq!(again.base, closure.base);
    assert_eq!(fs::read_to_string(&lock).unwrap(), lock_text);
    common::remove_read_only_tree(&root);
}

#[test]
fn refused_pkgbase_bases_name_the_package_and_leave_the_store_unchanged() {
    let root = common::scratch("pkgbase-refused");
    let mut libfoo = PackageWriter::new("libfoo", "1.0");
    libfoo.file("/usr/local/lib/libfoo.so.1", b"\x7fELF", Meta::root(0o444));
    let mut bad_set = base_package("FreeBSD-set-bad");
    depends(&mut bad_set, "FreeBSD-runtime");
    depends(&mut bad_set, "libfoo");
    let mut clash = base_package("FreeBSD-clash");
    clash.file("/bin/sh", b"another sh\n", Meta::root(0o555));
    write_repo(&root.join("repo"), &[libfoo, bad_set, clash]);
    let server = TestServer::serve(&root.join("repo"));
    let store = Store::open(root.join("store")).unwrap();
    let before = common::item_names(&store);
    let build = |packages: &[&str]| {
        let os = pkgbase_system(&server.url(), packages);
        // No lock file: resolved afresh every time.
        build_system_with(&os, &store, &PackageOptions::default(), &mut |_, _| {}).unwrap_err()
    };

    let err = build(&["FreeBSD-set-minimal", "FreeBSD-nope"]);
    let msg = err.to_string();
    assert!(
        matches!(err, SystemError::Resolve(_)) && msg.contains("FreeBSD-nope"),
        "{msg}"
    );

    let err = build(&["FreeBSD-set-bad", "FreeBSD-bootloader"]);
    assert!(
        matches!(&err, SystemError::Base(BaseError::NotBasePackage { package, needed_by, .. })
            if package == "libfoo" && needed_by.contains("FreeBSD-set-bad")),
        "{err}"
    );

    let default = [
        "FreeBSD-set-minimal",
        "FreeBSD-kernel-generic",
        "FreeBSD-bootloader",
    ];
    let err = build(&[&default[..], &["FreeBSD-clash"]].concat());
    assert!(
        matches!(&err, SystemError::Base(BaseError::PkgbaseConflict { path, first, second })
            if path == "bin/sh"
                && [first.as_str(), second.as_str()].contains(&"FreeBSD-clash-15.0")
                && [first.as_str(), second.as_str()].contains(&"FreeBSD-runtime-15.0")),
        "{err}"
    );
    assert_eq!(common::item_names(&store), before);

    // A package built for another ABI, as the base import meets it: named, refused.
    let mut old = base_package("FreeBSD-runtime");
    old.manifest_mut().abi = "FreeBSD:14:amd64".into();
    old.manifest_mut().arch = "freebsd:14:x86:64".into();
    old.file("/bin/sh", b"sh\n", Meta::root(0o555));
    let written = old.write(&root.join("old.pkg")).unwrap();
    let err = materialize_pkgbase(
        &freebsd::sample_base("15.0-RELEASE"),
        REPO,
        "FreeBSD:15:amd64",
        &[BasePackage {
            file: written.path.clone(),
            name: "FreeBSD-runtime".into(),
            version: "15.0".into(),
            sha256: written.sha256.clone(),
        }],
        &store,
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(&err, BaseError::PkgbasePackage { package, .. } if package == "FreeBSD-runtime-15.0")
            && msg.contains("FreeBSD:14:amd64"),
        "{msg}"
    );
    // Not a base package at all.
    let err = materialize_pkgbase(
        &freebsd::sample_base("15.0-RELEASE"),
        REPO,
        "FreeBSD:15:amd64",
        &[BasePackage {
            file: written.path,
            name: "sudo".into(),
            version: "1.0".into(),
            sha256: written.sha256,
        }],
        &store,
    )
    .unwrap_err();
    assert!(
        matches!(&err, BaseError::NotBasePackage { package, .. } if package == "sudo"),
        "{err}"
    );
    assert_eq!(common::item_names(&store), before);
    common::remove_read_only_tree(&root);
}
