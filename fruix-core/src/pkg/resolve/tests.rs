use super::*;
use crate::pkg::{Dependency, Manifest};

const ABI: &str = "FreeBSD:15:amd64";

fn entry(name: &str, version: &str, deps: &[&str]) -> CatalogueEntry {
    entry_abi(name, version, deps, ABI)
}

fn entry_abi(name: &str, version: &str, deps: &[&str], abi: &str) -> CatalogueEntry {
    CatalogueEntry {
        manifest: Manifest {
            name: name.to_string(),
            version: version.to_string(),
            abi: abi.to_string(),
            deps: deps
                .iter()
                .map(|d| (d.to_string(), Dependency::default()))
                .collect(),
            ..Manifest::default()
        },
        sha256: "0".repeat(64),
        pkgsize: 1,
        repopath: format!("All/{name}-{version}.pkg"),
    }
}

fn catalogue(entries: Vec<CatalogueEntry>) -> BTreeMap<String, CatalogueEntry> {
    entries
        .into_iter()
        .map(|e| (e.manifest.name.clone(), e))
        .collect()
}

fn names(resolution: &Resolution) -> Vec<String> {
    resolution
        .packages
        .iter()
        .map(|p| format!("{}@{}", p.name(), p.repository))
        .collect()
}

#[test]
fn closure_is_in_dependency_order_with_ties_by_name() {
    let main = catalogue(vec![
        entry("app", "1.0", &["zlib", "libb", "liba"]),
        entry("liba", "1.0", &["zlib"]),
        entry("libb", "2.0", &[]),
        entry("zlib", "1.3", &[]),
        entry("unrelated", "1.0", &[]),
    ]);
    let repos = [RepositoryIndex {
        name: "main",
        abi: ABI,
        entries: &main,
    }];
    let resolution = resolve(&repos, &[Request::name("app")]).unwrap();
    assert_eq!(
        names(&resolution),
        ["libb@main", "zlib@main", "liba@main", "app@main"]
    );
    let requested: Vec<bool> = resolution.packages.iter().map(|p| p.requested).collect();
    assert_eq!(requested, [false, false, false, true]);
    // Same input, same output, whatever the request order.
    let again = resolve(&repos, &[Request::name("liba"), Request::name("app")]).unwrap();
    assert_eq!(names(&again), names(&resolution));
}

#[test]
fn first_declared_repository_wins_unless_the_request_names_one() {
    let first = catalogue(vec![entry("a", "1.0", &["b"]), entry("b", "1.0", &[])]);
    let second = catalogue(vec![entry("a", "2.0", &[]), entry("b", "2.0", &[])]);
    let repos = [
        RepositoryIndex {
            name: "first",
            abi: ABI,
            entries: &first,
        },
        RepositoryIndex {
            name: "second",
            abi: ABI,
            entries: &second,
        },
    ];
    let plain = resolve(&repos, &[Request::name("a")]).unwrap();
    assert_eq!(names(&plain), ["b@first", "a@first"]);

    let pinned = Request {
        repository: Some("second".into()),
        ..Request::name("b")
    };
    let mixed = resolve(&repos, &[Request::name("a"), pinned]).unwrap();
    assert_eq!(names(&mixed), ["b@second", "a@first"]);

    let by_version = Request {
        version: Some("2.0".into()),
        ..Request::name("a")
    };
    let resolution = resolve(&repos, &[by_version]).unwrap();
    assert_eq!(names(&resolution), ["a@second"]);
    assert_eq!(resolution.packages[0].entry.manifest.version, "2.0");
}

#[test]
fn missing_dependency_names_the_whole_chain() {
    let main = catalogue(vec![entry("a", "1", &["b"]), entry("b", "1", &["c"])]);
    let repos = [RepositoryIndex {
        name: "main",
        abi: ABI,
        entries: &main,
    }];
    let err = resolve(&repos, &[Request::name("a")]).unwrap_err();
    assert_eq!(
        err,
        ResolveError::MissingDependency {
            chain: vec!["a".into(), "b".into(), "c".into()],
            searched: vec!["main".into()],
        }
    );
    assert_eq!(
        err.to_string(),
        "a -> b -> c: c is in no repository (searched main)"
    );
}

#[test]
fn cycle_names_the_loop() {
    let main = catalogue(vec![
        entry("top", "1", &["a"]),
        entry("a", "1", &["b"]),
        entry("b", "1", &["a"]),
    ]);
    let repos = [RepositoryIndex {
        name: "main",
        abi: ABI,
        entries: &main,
    }];
    let err = resolve(&repos, &[Request::name("top")]).unwrap_err();
    assert_eq!(err.to_string(), "dependency cycle: a -> b -> a");
    let self_loop = catalogue(vec![entry("a", "1", &["a"])]);
    let repos = [RepositoryIndex {
        name: "main",
        abi: ABI,
        entries: &self_loop,
    }];
    let err = resolve(&repos, &[Request::name("a")]).unwrap_err();
    assert_eq!(err.to_string(), "dependency cycle: a -> a");
}

#[test]
fn abi_is_checked_with_globs() {
    let main = catalogue(vec![
        entry("a", "1", &["noarch", "old"]),
        entry_abi("noarch", "1", &[], "FreeBSD:15:*"),
        entry_abi("old", "1", &[], "FreeBSD:14:amd64"),
    ]);
    let repos = [RepositoryIndex {
        name: "main",
        abi: ABI,
        entries: &main,
    }];
    let err = resolve(&repos, &[Request::name("a")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "a -> old: old 1 from repository \"main\" is built for ABI \"FreeBSD:14:amd64\", not \"FreeBSD:15:amd64\""
    );
    let no_abi = catalogue(vec![entry_abi("bare", "1", &[], "")]);
    let repos = [RepositoryIndex {
        name: "main",
        abi: ABI,
        entries: &no_abi,
    }];
    let err = resolve(&repos, &[Request::name("bare")]).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("is built for ABI \"(none)\", not \"FreeBSD:15:amd64\""),
        "{err}"
    );
    let noarch_only = catalogue(vec![entry_abi("noarch", "1", &[], "FreeBSD:15:*")]);
    let repos = [RepositoryIndex {
        name: "main",
        abi: ABI,
        entries: &noarch_only,
    }];
    assert_eq!(
        names(&resolve(&repos, &[Request::name("noarch")]).unwrap()),
        ["noarch@main"]
    );
}

#[test]
fn unavailable_version_lists_the_available_ones() {
    let first = catalogue(vec![entry("sudo", "1.9.16", &[])]);
    let second = catalogue(vec![entry("sudo", "1.9.17", &[])]);
    let repos = [
        RepositoryIndex {
            name: "FreeBSD",
            abi: ABI,
            entries: &first,
        },
        RepositoryIndex {
            name: "local",
            abi: ABI,
            entries: &second,
        },
    ];
    let request = Request {
        version: Some("1.8".into()),
        ..Request::name("sudo")
    };
    let err = resolve(&repos, &[request]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "package \"sudo\": version \"1.8\" is not available; available: 1.9.16 (in FreeBSD), 1.9.17 (in local)"
    );
}

#[test]
fn unknown_name_suggests_close_ones() {
    let main = catalogue(vec![
        entry("sudo", "1", &[]),
        entry("doas", "1", &[]),
        entry("nginx", "1", &[]),
        entry("nginx-full", "1", &[]),
    ]);
    let repos = [RepositoryIndex {
        name: "main",
        abi: ABI,
        entries: &main,
    }];
    let err = resolve(&repos, &[Request::name("sduo")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "package \"sduo\" is in no repository (searched main); did you mean sudo?"
    );
    let err = resolve(&repos, &[Request::name("ngnix")]).unwrap_err();
    match err {
        ResolveError::NotFound { suggestions, .. } => assert_eq!(suggestions, ["nginx"]),
        other => panic!("unexpected {other}"),
    }
    let err = resolve(&repos, &[Request::name("zzzzzzzz")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "package \"zzzzzzzz\" is in no repository (searched main)"
    );
}

#[test]
fn bad_requests_are_refused() {
    let main = catalogue(vec![entry("a", "1", &[])]);
    let repos = [RepositoryIndex {
        name: "main",
        abi: ABI,
        entries: &main,
    }];
    let err = resolve(
        &repos,
        &[Request {
            repository: Some("other".into()),
            ..Request::name("a")
        }],
    )
    .unwrap_err();
    assert!(
        matches!(err, ResolveError::UnknownRepository { .. }),
        "{err}"
    );
    let err = resolve(
        &repos,
        &[
            Request::name("a"),
            Request {
                version: Some("2".into()),
                ..Request::name("a")
            },
        ],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "package \"a\" is requested twice, differently: a and a version 2"
    );
}

#[test]
fn dependency_order_reports_cycles() {
    let deps: BTreeMap<&str, Vec<&str>> = [("x", vec!["y"]), ("y", vec!["z"]), ("z", vec!["y"])]
        .into_iter()
        .collect();
    assert_eq!(dependency_order(&deps).unwrap_err(), ["y", "z", "y"]);
    let deps: BTreeMap<&str, Vec<&str>> = [("x", vec!["y", "outside"]), ("y", vec![])]
        .into_iter()
        .collect();
    assert_eq!(dependency_order(&deps).unwrap(), ["y", "x"]);
}
