//! Packages from host trees and inline files become items; the profile merges them over
//! the base and refuses two packages that provide the same file.

mod common;

use fruix_core::store::Store;
use fruix_core::system::{build_system, SystemError};
use fruix_core::Package;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

fn temp(tag: &str) -> PathBuf {
    common::scratch(&format!("pkg-{tag}"))
}

#[test]
fn tree_and_inline_packages_join_the_profile() {
    let root = temp("ok");
    let src = root.join("src");
    fs::create_dir_all(src.join("usr/local/bin")).unwrap();
    fs::write(src.join("usr/local/bin/hello"), "#!/bin/sh\necho hello\n").unwrap();
    fs::set_permissions(
        src.join("usr/local/bin/hello"),
        fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    std::os::unix::fs::symlink("hello", src.join("usr/local/bin/hi")).unwrap();

    let mut os = fruix_systems::fruix_freebsd();
    os.packages.push(Package::tree("hello", "2.12", &src));
    let store = Store::open(root.join("store")).unwrap();
    let closure = build_system(&os, &store).unwrap();
    let hello = closure
        .packages
        .iter()
        .find(|p| p.name() == "hello-2.12")
        .expect("hello item");
    let item = store.physical(hello);
    assert_eq!(
        fs::read_to_string(item.join("usr/local/bin/hello")).unwrap(),
        "#!/bin/sh\necho hello\n"
    );
    assert_eq!(
        fs::metadata(item.join("usr/local/bin/hello"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o555
    );
    assert_eq!(
        fs::read_link(item.join("usr/local/bin/hi")).unwrap(),
        PathBuf::from("hello")
    );
    let profile = store.physical(&closure.profile);
    // `usr` comes from the base and from hello: a real, merged directory.
    assert!(fs::symlink_metadata(profile.join("usr")).unwrap().is_dir());
    // So is `usr/local/bin`, which the default system's (sample) Shepherd provides too.
    assert!(fs::symlink_metadata(profile.join("usr/local/bin"))
        .unwrap()
        .is_dir());
    assert_eq!(
        fs::read_link(profile.join("usr/local/bin/hello")).unwrap(),
        PathBuf::from(hello.join("usr/local/bin/hello"))
    );
    assert_eq!(
        fs::read_link(profile.join("usr/bin")).unwrap(),
        PathBuf::from(closure.base.runtime.join("usr/bin"))
    );
    // The recorded spec names the package by its item, not by the host directory.
    let spec =
        fs::read_to_string(store.physical(&closure.system).join("metadata/spec.json")).unwrap();
    assert!(
        spec.contains(&hello.to_string()) && !spec.contains(src.to_str().unwrap()),
        "{spec}"
    );
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn two_packages_with_the_same_file_conflict() {
    let root = temp("conflict");
    let mut os = fruix_systems::fruix_freebsd();
    os.packages
        .push(Package::inline("a", "1", [("bin/tool", "a")]));
    os.packages
        .push(Package::inline("b", "1", [("bin/tool", "b")]));
    let store = Store::open(root.join("store")).unwrap();
    let err = build_system(&os, &store).unwrap_err();
    assert!(matches!(err, SystemError::ProfileConflict { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("`bin/tool` is provided by both")
            && text.contains("-a-1")
            && text.contains("-b-1")
            && text.contains("with different contents"),
        "{text}"
    );
    // The same file (bytes and mode) from two packages is one file of the profile.
    let mut os = fruix_systems::fruix_freebsd();
    os.packages
        .push(Package::inline("a", "1", [("share/doc/LICENSE", "BSD\n")]));
    os.packages
        .push(Package::inline("b", "1", [("share/doc/LICENSE", "BSD\n")]));
    let closure = build_system(&os, &store).unwrap();
    let link = fs::read_link(store.physical(&closure.profile).join("share/doc/LICENSE")).unwrap();
    assert!(link.to_str().unwrap().contains("-a-1/"), "{link:?}");
    // A file in one package and a directory in another conflict.
    let mut os = fruix_systems::fruix_freebsd();
    os.packages
        .push(Package::inline("a", "1", [("share/x", "file")]));
    os.packages
        .push(Package::inline("b", "1", [("share/x/y", "in a dir")]));
    let err = build_system(&os, &store).unwrap_err();
    assert!(
        matches!(&err, SystemError::ProfileConflict { path, .. } if path == "share/x"),
        "{err}"
    );
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn missing_kernel_modules_and_time_zones_are_named() {
    let root = temp("missing");
    let store = Store::open(root.join("store")).unwrap();
    let mut os = fruix_systems::fruix_freebsd();
    os.kernel.modules.push("nvidia".into());
    let err = build_system(&os, &store).unwrap_err();
    assert!(
        matches!(&err, SystemError::MissingModule { module, .. } if module == "nvidia"),
        "{err}"
    );
    let mut os = fruix_systems::fruix_freebsd();
    os.time_zone = "Europe/Berlin".into();
    let err = build_system(&os, &store).unwrap_err();
    assert!(
        matches!(&err, SystemError::MissingTimeZone { zone, .. } if zone == "Europe/Berlin"),
        "{err}"
    );
    let mut os = fruix_systems::fruix_freebsd();
    os.host_name = "bad_host".into();
    assert!(matches!(
        build_system(&os, &store),
        Err(SystemError::Invalid(_))
    ));
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn the_test_http_server_serves_a_directory_and_injects_faults() {
    use common::http::{get, Fault, TestServer};
    let root = temp("http");
    fs::create_dir_all(root.join("All")).unwrap();
    fs::write(root.join("All/x-1.0.pkg"), b"0123456789").unwrap();
    fs::write(root.join("secret"), b"no").unwrap();
    let mut server = TestServer::serve(&root.join("All"));
    let url = server.url();
    assert_eq!(
        get(&format!("{url}/x-1.0.pkg")).unwrap(),
        (200, b"0123456789".to_vec())
    );
    assert_eq!(get(&format!("{url}/missing")).unwrap().0, 404);
    assert_eq!(get(&format!("{url}/../secret")).unwrap().0, 404);
    assert_eq!(get(&format!("{url}/%2e%2e/secret")).unwrap().0, 404);
    server.inject("x-1.0.pkg", Fault::Status(503));
    server.inject("x-1.0.pkg", Fault::Truncate(4));
    server.inject("x-1.0.pkg", Fault::Corrupt);
    assert_eq!(get(&format!("{url}/x-1.0.pkg")).unwrap().0, 503);
    assert_eq!(
        get(&format!("{url}/x-1.0.pkg")).unwrap(),
        (200, b"0123".to_vec())
    );
    assert_ne!(get(&format!("{url}/x-1.0.pkg")).unwrap().1, b"0123456789");
    assert_eq!(get(&format!("{url}/x-1.0.pkg")).unwrap().1, b"0123456789");
    server.inject("x-1.0.pkg", Fault::Drop);
    assert!(get(&format!("{url}/x-1.0.pkg")).is_err());
    assert_eq!(server.requests().len(), 9);
    server.stop();
    assert!(
        get(&format!("{url}/x-1.0.pkg")).is_err(),
        "stopped: the port is closed"
    );
    fs::remove_dir_all(root).unwrap();
}

// FreeBSD packages (`pkg(...)`) from a generated repository served over HTTP.

use common::http::{Fault, TestServer};
use fruix_core::image::materialize_bhyve_image_with;
use fruix_core::image::ufs::FileType;
use fruix_core::system::{build_system_with, PackageOptions};
use fruix_core::{PackageRepository, User};
use std::collections::HashMap;

/// The default system plus the test repository and `pkg("svc")` (which pulls in sudo and
/// libfoo) and `pkg("tiny")`.
fn pkg_system(url: &str) -> fruix_core::OperatingSystem {
    let mut os = fruix_systems::fruix_freebsd();
    os.package_repositories
        .push(PackageRepository::new("test", url));
    os.packages.push(Package::pkg("svc"));
    os.packages.push(Package::pkg("tiny"));
    os
}

fn options(lock: &std::path::Path) -> PackageOptions {
    let mut options = PackageOptions {
        lock_file: Some(lock.to_path_buf()),
        ..PackageOptions::default()
    };
    options.fetch.attempts = 2;
    options.fetch.backoff = std::time::Duration::from_millis(10);
    options
}

/// `fls -r -p` of the UFS file system `sectors` 512-byte sectors into `img`: path -> inode.
fn fls(img: &str, sectors: u64) -> HashMap<String, String> {
    let out = std::process::Command::new("fls")
        .args(["-f", "ufs2", "-o", &sectors.to_string(), "-r", "-p", img])
        .output()
        .expect("fls (sleuthkit) must be installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (kind_ino, path) = l.split_once('\t')?;
            let ino = kind_ino.split_whitespace().nth(1)?.trim_end_matches(':');
            Some((path.to_owned(), ino.to_owned()))
        })
        .collect()
}

fn istat(img: &str, sectors: u64, ino: &str) -> String {
    let out = std::process::Command::new("istat")
        .args(["-f", "ufs2", "-o", &sectors.to_string(), img, ino])
        .output()
        .expect("istat (sleuthkit) must be installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn field<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no `{key}` in\n{text}"))
        .trim()
}

#[test]
fn pkg_packages_from_an_http_repository_reach_the_image_and_the_lock_works_offline() {
    let root = temp("repo-image");
    common::pkg_repo::write(&root.join("repo"), &[]);
    let mut server = TestServer::serve(&root.join("repo"));
    let store = Store::open(root.join("store")).unwrap();
    let lock = root.join("fruix.lock");
    let os = pkg_system(&server.url());
    let mut fetched = 0;
    let artifact = materialize_bhyve_image_with(&os, &store, &options(&lock), &mut |s| {
        if let fruix_core::image::Stage::Packages { done, .. } = s {
            fetched = done;
        }
    })
    .unwrap();
    assert!(fetched > 0, "package downloads are reported");

    // The lock: the catalogue's digest, each package's name, version, path and sha256.
    let lock_text = fs::read_to_string(&lock).unwrap();
    let text = lock_text.clone();
    for name in ["libfoo", "sudo", "svc", "tiny"] {
        assert!(text.contains(&format!("name = \"{name}\"")), "{text}");
    }
    assert!(
        !text.contains("name = \"plain\""),
        "only the closure is locked"
    );
    assert!(
        text.contains("catalogue_sha256 = ") && text.contains("sha256 = "),
        "{text}"
    );
    let sudo_sha = common::sha(&root.join("repo/All/sudo-1.9.16p2.pkg"));
    assert!(text.contains(&sudo_sha), "{text}");

    // Metadata: the script policy and counts.
    let md = &artifact.metadata;
    assert_eq!(md.package_script_policy, "first-boot");
    assert_eq!(
        md.package_scripts, 3,
        "libfoo post, svc pre (minus pw), svc post"
    );
    assert_eq!(md.pkg_packages, 4);
    let closure = fruix_core::system::load(&store, &md.closure_path.parse().unwrap()).unwrap();
    let system = store.physical(&closure.system);
    let config = store.physical(&closure.config);
    let record = fs::read_to_string(system.join("metadata/packages.json")).unwrap();
    assert!(record.contains("\"signature\": \"unsigned\""), "{record}");

    // Accounts: svcd joins the system's databases.
    let etc = config.join("etc");
    let passwd = fs::read_to_string(etc.join("passwd")).unwrap();
    assert!(
        passwd.contains("\nsvcd:*:901:901:Svc daemon:/nonexistent:/usr/sbin/nologin\n"),
        "{passwd}"
    );
    assert!(fs::read_to_string(etc.join("group"))
        .unwrap()
        .contains("\nsvcd:*:901:\n"));

    // Scripts: first boot, in dependency order, pw lines already applied; valid sh.
    assert_eq!(
        fs::read_link(system.join("package-scripts")).unwrap(),
        PathBuf::from(closure.config.join("package-scripts"))
    );
    let runner = config.join("package-scripts");
    let runner_text = fs::read_to_string(&runner).unwrap();
    let check = std::process::Command::new("sh")
        .arg("-n")
        .arg(&runner)
        .status()
        .unwrap();
    assert!(check.success(), "{runner_text}");
    let libfoo_at = runner_text.find("set -- libfoo-1.0").unwrap();
    let svc_at = runner_text.find("set -- svc-2.0").unwrap();
    assert!(libfoo_at < svc_at, "dependencies' scripts run first");
    assert!(!runner_text.contains("groupadd") && !runner_text.contains("useradd"));
    let activate = fs::read_to_string(config.join("activate")).unwrap();
    assert!(
        activate.contains("/bin/sh \"$system/package-scripts\""),
        "{activate}"
    );

    // The image's root file system, through our UFS reader...
    let mut ufs = common::image_root(&store, &artifact);
    let root_img = store.physical(&artifact.image).join("disk.img");
    let mut stat = |path: &str| {
        let (ino, _) = fruix_core::links::resolve(&mut ufs, path.as_bytes()).unwrap();
        ufs.stat(ino).unwrap()
    };
    let sudo = stat("/usr/local/bin/sudo");
    assert_eq!(
        (sudo.ftype, sudo.perm, sudo.uid, sudo.gid, sudo.nlink),
        (FileType::File, 0o4111, 0, 0, 2),
        "setuid sudo, root:wheel, hard-linked as sudoedit"
    );
    assert_eq!(stat("/usr/local/bin/sudoedit").ino, sudo.ino);
    let svcd = stat("/usr/local/sbin/svcd");
    assert_eq!((svcd.perm, svcd.uid, svcd.gid), (0o750, 901, 901));
    let sudoers = stat("/usr/local/etc/sudoers");
    assert_eq!(
        (sudoers.ftype, sudoers.perm),
        (FileType::File, 0o440),
        "@sample installed"
    );
    assert_eq!(stat("/usr/local/share/tiny/README").ftype, FileType::File);

    // ... and through The Sleuth Kit.
    let img = root_img.to_str().unwrap();
    let sectors = common::image_root_sectors(&artifact);
    let listed = fls(img, sectors);
    let item_path = |name: &str, file: &str| {
        let (path, _) = listed
            .iter()
            .find(|(p, _)| p.starts_with("frx/store/") && p.contains(name) && p.ends_with(file))
            .unwrap_or_else(|| panic!("fls lists no {name} {file}"));
        path.clone()
    };
    let sudo_path = item_path("-sudo-1.9.16p2/", "usr/local/bin/sudo");
    let text = istat(img, sectors, &listed[&sudo_path]);
    assert_eq!(field(&text, "mode:"), "r--s--x--x", "{text}");
    assert_eq!(field(&text, "uid / gid:"), "0 / 0", "{text}");
    assert_eq!(field(&text, "num of links:"), "2", "{text}");
    let sudoedit = item_path("-sudo-1.9.16p2/", "usr/local/bin/sudoedit");
    assert_eq!(
        listed[&sudoedit], listed[&sudo_path],
        "one inode, two names"
    );
    let svcd_path = item_path("-svc-2.0/", "usr/local/sbin/svcd");
    let text = istat(img, sectors, &listed[&svcd_path]);
    assert_eq!(field(&text, "uid / gid:"), "901 / 901", "{text}");
    assert_eq!(field(&text, "mode:"), "rrwxr-x---", "{text}");
    let link = item_path("-libfoo-1.0/", "usr/local/lib/libfoo.so");
    let text = istat(img, sectors, &listed[&link]);
    assert!(text.contains("symbolic link to: libfoo.so.1"), "{text}");

    // Offline: the server is gone; the lock and the download cache are enough, even for
    // a system that was never built (another package beside them).
    let served = server.requests().len();
    server.stop();
    let mut offline = pkg_system(&server.url());
    offline
        .packages
        .push(Package::inline("extra", "1", [("share/extra", "x")]));
    let closure = build_system_with(&offline, &store, &options(&lock), &mut |_, _| {}).unwrap();
    assert!(closure.packages.iter().any(|p| p.name() == "sudo-1.9.16p2"));
    assert_eq!(
        fs::read_to_string(&lock).unwrap(),
        lock_text,
        "the lock is reused as it is"
    );
    assert!(served >= 5, "catalogue and packages were fetched: {served}");

    // A declaration the lock no longer matches says how to update it.
    let mut changed = pkg_system(&server.url());
    changed.packages.push(Package::pkg("plain"));
    let err = build_system_with(&changed, &store, &options(&lock), &mut |_, _| {}).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("plain") && msg.contains("lock"), "{msg}");
    common::remove_read_only_tree(&root);
}

#[test]
fn refused_pkg_packages_leave_the_store_unchanged_and_name_the_culprits() {
    use fruix_core::pkg::compress::Compression;
    use fruix_core::pkg::create::{Meta, PackageWriter};
    use fruix_core::pkg::ScriptPhase;
    let root = temp("repo-refused");
    // Extra packages: one with a Lua script Fruix does not run, one whose file clashes
    // with sudo's, one whose download will be corrupted.
    let mut lua = PackageWriter::new("lua-user", "1.0");
    lua.file("/usr/local/share/lua-user", b"x", Meta::root(0o644));
    lua.manifest_mut()
        .lua_scripts
        .insert(ScriptPhase::PostInstall, vec!["os.execute(\"id\")".into()]);
    let mut clash = PackageWriter::new("fake-sudo", "1.0");
    clash
        .compression(Compression::Xz)
        .file("/usr/local/bin/sudo", b"not sudo", Meta::root(0o755));
    let mut corrupt = PackageWriter::new("corrupt", "1.0");
    corrupt.file("/usr/local/share/corrupt", b"data", Meta::root(0o644));
    common::pkg_repo::write(&root.join("repo"), &[lua, clash, corrupt]);
    let server = TestServer::serve(&root.join("repo"));
    let store = Store::open(root.join("store")).unwrap();
    let lock = root.join("fruix.lock");
    let mut opts = options(&lock);
    opts.update_lock = true;
    build_system_with(&pkg_system(&server.url()), &store, &opts, &mut |_, _| {}).unwrap();
    // The download cache (`.fruix/downloads`) is not the store's items: it may gain
    // verified downloads, each named by its sha256; nothing else may change.
    let downloads = store.dir().join(".fruix/downloads");
    let items_and_records = || -> Vec<String> {
        common::listing(store.dir())
            .into_iter()
            .filter(|p| !p.starts_with(".fruix/downloads"))
            .collect()
    };
    let before = items_and_records();

    let refused = |edit: &dyn Fn(&mut fruix_core::OperatingSystem)| {
        let mut os = pkg_system(&server.url());
        edit(&mut os);
        let err = build_system_with(&os, &store, &opts, &mut |_, _| {}).unwrap_err();
        let after = items_and_records();
        let changed: Vec<&String> = after
            .iter()
            .filter(|p| !before.contains(p))
            .chain(before.iter().filter(|p| !after.contains(p)))
            .collect();
        assert!(changed.is_empty(), "{err}: the store changed: {changed:?}");
        for entry in fs::read_dir(&downloads).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            assert_eq!(format!("{}.pkg", common::sha(&path)), name, "{err}");
        }
        err
    };
    // A declared user with the package's name and another uid.
    let err = refused(&|os| {
        os.users.push(User {
            name: "svcd".into(),
            uid: 2000,
            group: "wheel".into(),
            ..User::default()
        })
    });
    let msg = err.to_string();
    assert!(
        matches!(err, SystemError::Accounts(_))
            && msg.contains("package `svc`")
            && msg.contains("the system declaration"),
        "{msg}"
    );
    // Two packages owning /usr/local/bin/sudo with different contents.
    let err = refused(&|os| os.packages.push(Package::pkg("fake-sudo")));
    assert!(
        matches!(&err, SystemError::PackagePathConflict { path, first, second }
            if path == "/usr/local/bin/sudo"
                && [first.as_str(), second.as_str()].contains(&"sudo-1.9.16p2")
                && [first.as_str(), second.as_str()].contains(&"fake-sudo-1.0")),
        "{err}"
    );
    // A Lua script that is not the @sample one.
    let err = refused(&|os| os.packages.push(Package::pkg("lua-user")));
    assert!(matches!(err, SystemError::Scripts(_)), "{err}");
    // A download that does not match the catalogue's sha256.
    server.inject("corrupt-1.0.pkg", Fault::Corrupt);
    server.inject("corrupt-1.0.pkg", Fault::Corrupt);
    let err = refused(&|os| os.packages.push(Package::pkg("corrupt")));
    assert!(err.to_string().contains("corrupt"), "{err}");
    // A package nobody has.
    let err = refused(&|os| os.packages.push(Package::pkg("nowhere")));
    assert!(err.to_string().contains("nowhere"), "{err}");
    common::remove_read_only_tree(&root);
}

#[test]
fn the_lock_verb_writes_the_lock_and_pkg_files_join_the_system() {
    let root = temp("repo-cli");
    common::pkg_repo::write(&root.join("repo"), &[]);
    let server = TestServer::serve(&root.join("repo"));
    let lock = root.join("sub/fruix.lock");
    fs::create_dir_all(lock.parent().unwrap()).unwrap();
    let os = pkg_system(&server.url());
    let args = |verb: &[&str]| {
        let mut v = vec![
            "fruix-test",
            "--quiet",
            "--lock-file",
            lock.to_str().unwrap(),
        ];
        v.extend_from_slice(verb);
        v.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let code = fruix_core::cli::run_with_args(os.clone(), args(&["lock"]));
    assert_eq!(code, std::process::ExitCode::SUCCESS);
    let text = fs::read_to_string(&lock).unwrap();
    assert!(
        text.contains("name = \"svc\"") && text.contains("requested = true"),
        "{text}"
    );

    // A `.pkg` file beside repository packages: its item stands for it in the spec.
    let plain = common::pkg_repo::packages()
        .into_iter()
        .find(|p| p.file_name() == "plain-0.1.pkg")
        .unwrap();
    let file = root.join("plain-0.1.pkg");
    let written = plain.write(&file).unwrap();
    let mut with_file = pkg_system(&server.url());
    with_file.packages.push(Package {
        source: fruix_core::PackageSource::PkgFile {
            path: file.clone(),
            sha256: Some(written.sha256.clone()),
        },
        ..Package::pkg_file(&file)
    });
    let store = Store::open(root.join("store")).unwrap();
    let closure = build_system_with(&with_file, &store, &options(&lock), &mut |_, _| {}).unwrap();
    let item = closure
        .packages
        .iter()
        .find(|p| p.name() == "plain-0.1")
        .expect("the pkg_file item");
    assert_eq!(
        fs::read_to_string(store.physical(item).join("usr/local/share/plain/README")).unwrap(),
        "plain\n"
    );
    let spec =
        fs::read_to_string(store.physical(&closure.system).join("metadata/spec.json")).unwrap();
    assert!(
        spec.contains(&item.to_string()) && !spec.contains(file.to_str().unwrap()),
        "{spec}"
    );
    // The wrong sha256 for the file is refused.
    let mut wrong = with_file.clone();
    if let Some(Package {
        source: fruix_core::PackageSource::PkgFile { sha256, .. },
        ..
    }) = wrong.packages.last_mut()
    {
        *sha256 = Some("0".repeat(64));
    }
    let err = build_system_with(&wrong, &store, &options(&lock), &mut |_, _| {}).unwrap_err();
    assert!(err.to_string().contains(&written.sha256), "{err}");
    common::remove_read_only_tree(&root);
}
