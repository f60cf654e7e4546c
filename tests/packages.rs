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
