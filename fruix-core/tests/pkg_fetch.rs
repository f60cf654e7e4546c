//! A signed repository written by `pkg::create` goes through the whole front half of the
//! pipeline: catalogue fetched, signature checked, dependencies resolved, lock written
//! and checked, packages fetched into the download cache, then fetched again offline
//! from the lock alone. (HTTP, retries and hostile servers are covered by the unit tests
//! of `pkg::fetch`; here the repository is a `file://` URL.)

use fruix_core::pkg::archive::PkgArchive;
use fruix_core::pkg::cache::DownloadCache;
use fruix_core::pkg::catalogue::{read_members, Catalogue, MAX_CATALOGUE};
use fruix_core::pkg::create::{Meta, PackageWriter, RepoWriter};
use fruix_core::pkg::fetch::{Fetcher, CATALOGUE_LIMIT};
use fruix_core::pkg::location::RepoLocation;
use fruix_core::pkg::lock::{DeclaredRepository, Lock, LockedRepository, LOCK_FILE};
use fruix_core::pkg::resolve::{resolve, RepositoryIndex, Request};
use fruix_core::pkg::signature::{
    fingerprint, fingerprint_file, verify_catalogue, SignMode, SignatureError, SignatureStatus,
    SigningKey,
};
use fruix_core::pkg::Dependency;
use fruix_spec::{PackageRepository, RepositorySignature};
use std::fs;

const ABI: &str = "FreeBSD:15:amd64";

fn package(name: &str, version: &str, deps: &[&str]) -> PackageWriter {
    let mut p = PackageWriter::new(name, version);
    for dep in deps {
        p.manifest_mut().deps.insert(
            dep.to_string(),
            Dependency {
                origin: format!("misc/{dep}"),
                version: "1.0".into(),
            },
        );
    }
    p.file(
        &format!("/usr/local/bin/{name}"),
        format!("#!/bin/sh\necho {name}\n").as_bytes(),
        Meta::root(0o755),
    );
    p
}

#[test]
fn signed_repository_to_offline_lock() {
    let work = tempfile::tempdir().unwrap();
    let repo_dir = work.path().join("repo");
    let keys = work.path().join("keys");
    let key = SigningKey::generate(2048).unwrap();
    let fp = fingerprint(key.public_key_pem().unwrap().as_bytes());
    fs::create_dir_all(keys.join("trusted")).unwrap();
    fs::write(keys.join("trusted/local"), fingerprint_file(&fp)).unwrap();

    let mut writer = RepoWriter::new(&repo_dir);
    writer.add(&package("app", "2.1_1", &["libfoo"])).unwrap();
    writer.add(&package("libfoo", "1.0", &["libbar"])).unwrap();
    writer.add(&package("libbar", "0.9", &[])).unwrap();
    writer.add(&package("unused", "1.0", &[])).unwrap();
    writer.sign_with(key.clone().signer(SignMode::Fingerprints));
    writer.write().unwrap();

    let declared = PackageRepository {
        name: "local".into(),
        url: format!("file://{}", repo_dir.display()),
        abi: None,
        signature: RepositorySignature::Fingerprints { dir: keys.clone() },
    };
    let location = RepoLocation::parse(&declared.name, &declared.url, ABI).unwrap();
    let fetcher = Fetcher::default();

    // Catalogue: fetched, its signature checked, read.
    let copy = work.path().join("catalogue");
    fs::create_dir_all(&copy).unwrap();
    let names = fetcher
        .fetch_catalogue("local", &location, &copy, CATALOGUE_LIMIT, &mut |_| {})
        .unwrap();
    assert_eq!(names, ["meta.conf", "data.pkg"]);
    let members = read_members(&copy.join("data.pkg"), MAX_CATALOGUE).unwrap();
    let status = verify_catalogue("local", &declared.signature, "data", &members).unwrap();
    assert_eq!(status, SignatureStatus::Fingerprint { fingerprint: fp });
    let catalogue = Catalogue::read_dir(&copy).unwrap();

    // A key that is not trusted is refused on the same catalogue.
    let other_keys = work.path().join("other-keys");
    fs::create_dir_all(other_keys.join("trusted")).unwrap();
    let stranger = fingerprint(b"another key");
    fs::write(other_keys.join("trusted/x"), fingerprint_file(&stranger)).unwrap();
    let err = verify_catalogue(
        "local",
        &RepositorySignature::Fingerprints { dir: other_keys },
        "data",
        &members,
    )
    .unwrap_err();
    assert!(matches!(err, SignatureError::Untrusted { .. }), "{err}");

    // Resolved in dependency order, locked, checked against the declaration.
    let index = [RepositoryIndex {
        name: "local",
        abi: ABI,
        entries: &catalogue.entries,
    }];
    let requests = [Request::name("app")];
    let resolution = resolve(&index, &requests).unwrap();
    let order: Vec<&str> = resolution.packages.iter().map(|p| p.name()).collect();
    assert_eq!(order, ["libbar", "libfoo", "app"]);
    let locked_repo = LockedRepository::new(&declared, ABI, &catalogue.sha256_of_catalogue);
    let lock = Lock::new(vec![locked_repo], &resolution).unwrap();
    let lock_path = work.path().join(LOCK_FILE);
    lock.write(&lock_path).unwrap();
    let lock = Lock::read(&lock_path).unwrap();
    let declaration = [DeclaredRepository {
        repository: &declared,
        abi: ABI,
    }];
    lock.check(&declaration, &requests).unwrap();
    let text = fs::read_to_string(&lock_path).unwrap();
    assert!(text.contains("signature = \"fingerprints\""), "{text}");
    assert!(
        text.contains(&format!(
            "catalogue_sha256 = \"{}\"",
            catalogue.sha256_of_catalogue
        )),
        "{text}"
    );

    // Fetched into the cache, each file the package the lock names.
    let cache = DownloadCache::open(work.path().join("store/.fruix/downloads")).unwrap();
    let fetched = fetcher.fetch_locked(&cache, &lock, &mut |_| {}).unwrap();
    assert_eq!(fetched.len(), 3);
    for (package, path) in &fetched {
        let archive = PkgArchive::open(path).unwrap();
        assert_eq!(archive.manifest().name, package.name);
        assert_eq!(archive.manifest().version, package.version);
    }

    // The repository is gone: the lock and the cache are enough.
    fs::remove_dir_all(&repo_dir).unwrap();
    let offline = fetcher.fetch_locked(&cache, &lock, &mut |_| {}).unwrap();
    let paths: Vec<_> = offline.iter().map(|(_, p)| p.clone()).collect();
    let before: Vec<_> = fetched.iter().map(|(_, p)| p.clone()).collect();
    assert_eq!(paths, before);
}
