use super::*;
use crate::pkg::resolve::{resolve, RepositoryIndex};
use crate::pkg::{CatalogueEntry, Dependency, Manifest};
use fruix_spec::RepositorySignature;

const ABI: &str = "FreeBSD:15:amd64";

fn entry(name: &str, version: &str, deps: &[&str]) -> CatalogueEntry {
    CatalogueEntry {
        manifest: Manifest {
            name: name.to_string(),
            version: version.to_string(),
            abi: ABI.to_string(),
            deps: deps
                .iter()
                .map(|d| (d.to_string(), Dependency::default()))
                .collect(),
            ..Manifest::default()
        },
        sha256: format!("{:064x}", name.len() * 1000 + version.len()),
        pkgsize: 100 + name.len() as u64,
        repopath: format!("All/{name}-{version}.pkg"),
    }
}

fn repository(name: &str) -> PackageRepository {
    PackageRepository {
        name: name.to_string(),
        url: format!("https://pkg.example.org/${{ABI}}/{name}"),
        abi: None,
        signature: RepositorySignature::None,
    }
}

struct Fixture {
    repo: PackageRepository,
    entries: BTreeMap<String, CatalogueEntry>,
}

fn fixture() -> Fixture {
    let entries = [
        entry("sudo", "1.9.16", &["gettext-runtime"]),
        entry("gettext-runtime", "0.23", &["indexinfo"]),
        entry("indexinfo", "0.3.1", &[]),
    ]
    .into_iter()
    .map(|e| (e.manifest.name.clone(), e))
    .collect();
    Fixture {
        repo: repository("FreeBSD"),
        entries,
    }
}

fn lock_for(f: &Fixture, requests: &[Request]) -> Lock {
    let index = [RepositoryIndex {
        name: &f.repo.name,
        abi: ABI,
        entries: &f.entries,
    }];
    let resolution = resolve(&index, requests).unwrap();
    Lock::new(
        vec![LockedRepository::new(&f.repo, ABI, &"c".repeat(64))],
        &resolution,
    )
    .unwrap()
}

#[test]
fn written_text_is_stable_and_reads_back() {
    let f = fixture();
    let lock = lock_for(&f, &[Request::name("sudo")]);
    let text = lock.to_toml().unwrap();
    assert!(text.starts_with("# Written by fruix"));
    let expected_body = format!(
        r#"version = 1

[[repository]]
name = "FreeBSD"
url = "https://pkg.example.org/${{ABI}}/FreeBSD"
abi = "FreeBSD:15:amd64"
catalogue_sha256 = "{c}"
signature = "unsigned"

[[package]]
name = "gettext-runtime"
version = "0.23"
repository = "FreeBSD"
repopath = "All/gettext-runtime-0.23.pkg"
sha256 = "{g:064x}"
pkgsize = 115
deps = ["indexinfo"]
requested = false

[[package]]
name = "indexinfo"
version = "0.3.1"
repository = "FreeBSD"
repopath = "All/indexinfo-0.3.1.pkg"
sha256 = "{i:064x}"
pkgsize = 109
deps = []
requested = false

[[package]]
name = "sudo"
version = "1.9.16"
repository = "FreeBSD"
repopath = "All/sudo-1.9.16.pkg"
sha256 = "{s:064x}"
pkgsize = 104
deps = ["gettext-runtime"]
requested = true
"#,
        c = "c".repeat(64),
        g = 15004,
        i = 9005,
        s = 4006,
    );
    assert!(text.ends_with(&expected_body), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(LOCK_FILE);
    lock.write(&path).unwrap();
    let back = Lock::read(&path).unwrap();
    assert_eq!(back, lock);
    assert_eq!(fs::read_to_string(&path).unwrap(), text);
    let order: Vec<&str> = back
        .in_dependency_order()
        .unwrap()
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(order, ["indexinfo", "gettext-runtime", "sudo"]);
    // No temporary file is left beside it.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn matching_declaration_passes() {
    let f = fixture();
    let lock = lock_for(&f, &[Request::name("sudo")]);
    let declared = [DeclaredRepository {
        repository: &f.repo,
        abi: ABI,
    }];
    lock.check(&declared, &[Request::name("sudo")]).unwrap();
    let exact = Request {
        version: Some("1.9.16".into()),
        repository: Some("FreeBSD".into()),
        ..Request::name("sudo")
    };
    lock.check(&declared, &[exact]).unwrap();
}

#[test]
fn changed_declaration_reports_every_difference() {
    let f = fixture();
    let lock = lock_for(&f, &[Request::name("sudo")]);
    let mut moved = f.repo.clone();
    moved.url = "file:///srv/pkg".into();
    moved.signature = RepositorySignature::Pubkey {
        key: "/k.pub".into(),
    };
    let extra = repository("local");
    let declared = [
        DeclaredRepository {
            repository: &moved,
            abi: "FreeBSD:14:amd64",
        },
        DeclaredRepository {
            repository: &extra,
            abi: ABI,
        },
    ];
    let requests = [
        Request {
            version: Some("1.9.17".into()),
            ..Request::name("sudo")
        },
        Request::name("nginx"),
        Request::name("indexinfo"),
    ];
    let err = lock.check(&declared, &requests).unwrap_err();
    let LockError::Stale { problems } = &err else {
        panic!("unexpected {err}");
    };
    assert_eq!(
        problems,
        &[
            "repository \"FreeBSD\": URL is \"file:///srv/pkg\" but the lock has \"https://pkg.example.org/${ABI}/FreeBSD\"",
            "repository \"FreeBSD\": ABI is \"FreeBSD:14:amd64\" but the lock has \"FreeBSD:15:amd64\"",
            "repository \"FreeBSD\": signature is \"pubkey\" but the lock has \"unsigned\"",
            "repository \"local\" is declared but not in the lock",
            "package \"sudo\": version \"1.9.17\" is requested but the lock has \"1.9.16\"",
            "package \"nginx\" is requested but not in the lock",
            "package \"indexinfo\" is requested but the lock has it only as a dependency",
        ]
    );
    assert!(
        err.to_string()
            .contains("`lock` verb (or build with `--update-lock`)"),
        "{err}"
    );

    let declared = [DeclaredRepository {
        repository: &f.repo,
        abi: ABI,
    }];
    let err = lock.check(&declared, &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the lock file no longer matches the declaration:\n  - package \"sudo\" is in the lock as requested but no longer requested\nupdate it with the system's `lock` verb (or build with `--update-lock`)"
    );
    let err = lock.check(&[], &[Request::name("sudo")]).unwrap_err();
    assert!(
        err.to_string()
            .contains("repository \"FreeBSD\" is in the lock but no longer declared"),
        "{err}"
    );
}

#[test]
fn repository_order_matters() {
    let a = repository("a");
    let b = repository("b");
    let lock = Lock {
        version: LOCK_VERSION,
        repositories: vec![
            LockedRepository::new(&a, ABI, &"0".repeat(64)),
            LockedRepository::new(&b, ABI, &"0".repeat(64)),
        ],
        packages: vec![],
    };
    let declared = [
        DeclaredRepository {
            repository: &b,
            abi: ABI,
        },
        DeclaredRepository {
            repository: &a,
            abi: ABI,
        },
    ];
    let err = lock.check(&declared, &[]).unwrap_err();
    assert!(
        err.to_string()
            .contains("declared in the order b, a but the lock has a, b"),
        "{err}"
    );
}

#[test]
fn malformed_locks_are_refused() {
    let f = fixture();
    let good = lock_for(&f, &[Request::name("sudo")]).to_toml().unwrap();
    let path = Path::new("fruix.lock");
    let cases = [
        (
            good.replace("version = 1", "version = 2"),
            "format version 2 is not supported",
        ),
        (
            good.replace("deps = [\"indexinfo\"]", "deps = [\"nope\"]"),
            "depends on \"nope\"",
        ),
        (
            good.replace("repository = \"FreeBSD\"", "repository = \"Other\""),
            "which the lock does not list",
        ),
        (
            good.replace(&format!("{:064x}", 9005), "xyz"),
            "is not a sha256",
        ),
        (
            good.replace("requested = true", "requested = true\nsurprise = 1"),
            "surprise",
        ),
        (
            good.replace("deps = []", "deps = [\"sudo\"]"),
            "dependency cycle",
        ),
        ("not toml at all [".to_string(), "fruix.lock"),
    ];
    for (text, expected) in cases {
        let err = Lock::parse(&text, path).unwrap_err();
        assert!(matches!(err, LockError::Malformed { .. }), "{err}");
        assert!(
            err.to_string().contains(expected),
            "{expected:?} not in {err}"
        );
    }
    let err = Lock::read(Path::new("/nonexistent/fruix.lock")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("reading lock file /nonexistent/fruix.lock"),
        "{err}"
    );
}

#[test]
fn sizes_toml_cannot_hold_are_an_error_not_an_empty_lock() {
    let f = fixture();
    let mut lock = lock_for(&f, &[Request::name("sudo")]);
    lock.packages[0].pkgsize = u64::MAX;
    let err = lock.to_toml().unwrap_err();
    assert!(matches!(err, LockError::Unwritable { .. }), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(LOCK_FILE);
    assert!(lock.write(&path).is_err());
    assert!(!path.exists());
}
