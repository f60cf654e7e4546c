//! Tests of `pkg.rs`: the predicates, then the rules on whole specs.

use super::*;
use crate::validate::test_support::broken;
use crate::{Arch, Package, PackageRepository};

fn os() -> OperatingSystem {
    OperatingSystem {
        host_name: "h".into(),
        ..Default::default()
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

const FREEBSD_URL: &str = "https://pkg.FreeBSD.org/${ABI}/quarterly";

#[test]
fn repository_names() {
    for ok in ["FreeBSD", "FreeBSD-base", "local", "my_repo2"] {
        assert_eq!(repository_name_problem(ok), None, "{ok}");
    }
    for bad in ["", "2nd", "-x", "a b", "a.b", "a/b", "é"] {
        assert!(repository_name_problem(bad).is_some(), "{bad}");
    }
}

#[test]
fn repository_urls() {
    for ok in [
        FREEBSD_URL,
        "http://127.0.0.1:8080/repo",
        "https://pkg.FreeBSD.org/FreeBSD:15:amd64/latest/",
        "file:///srv/pkg/${ABI}",
        "/srv/pkg",
        "/srv/pkg/${ABI}/latest",
    ] {
        assert_eq!(url_problem(ok), None, "{ok}");
    }
    let problem = |url: &str| url_problem(url).unwrap_or_else(|| panic!("{url} accepted"));
    let (what, help) = problem("pkg+https://pkg.FreeBSD.org/${ABI}/quarterly");
    assert!(what.contains("SRV mirror"), "{what}");
    assert_eq!(
        help.as_deref(),
        Some("fetch from one server over https: `https://pkg.FreeBSD.org/${ABI}/quarterly`")
    );
    let (what, help) = problem("https://pkg.FreeBSD.org/${ABI}/base_release_${VERSION_MINOR}");
    assert!(what.contains("`${VERSION_MINOR}`"), "{what}");
    assert!(help.is_some_and(|h| h.contains("only variable")));
    let (_, help) = problem("https://pkg.FreeBSD.org/$ABI/latest");
    assert_eq!(help.as_deref(), Some("did you mean `${ABI}`?"));
    let (_, help) = problem("https://pkg.FreeBSD.org/${abi}/latest");
    assert_eq!(help.as_deref(), Some("did you mean `${ABI}`?"));
    let (_, help) = problem("file://srv/pkg");
    assert_eq!(
        help.as_deref(),
        Some("file URLs have three slashes: `file:///srv/pkg`")
    );
    let (_, help) = problem("ftp://example.org/pkg");
    assert!(help.is_some_and(|h| h.starts_with("`ftp` is not supported")));
    for bad in [
        "",
        "srv/pkg",
        "https:///x",
        "https://x/a b",
        "https://x/repo?mirror=1",
        "/srv/../pkg",
        "file:///srv/./pkg",
    ] {
        assert!(url_problem(bad).is_some(), "{bad:?} accepted");
    }
}

#[test]
fn pkg_versions() {
    for ok in [
        "1.9.16p2_1",
        "2.12_1,1",
        "15.0",
        "0.23",
        "1.0,2",
        "3.1.4+git20250101_2",
        "15.0.a4.20250101",
    ] {
        assert!(is_pkg_version(ok), "{ok}");
    }
    for bad in [
        "", "_1", "1.0_", "1.0_a", "1.0,", "1.0,x", "1.0-2", "1 0", "1.0/2", ".1",
    ] {
        assert!(!is_pkg_version(bad), "{bad:?} accepted");
    }
}

#[test]
fn sha256_sums() {
    let ok = "a".repeat(64);
    assert_eq!(sha256_problem(&ok), None);
    let (what, help) = sha256_problem(&"A".repeat(64)).unwrap_or_default();
    assert_eq!(what, "sha256 is in uppercase");
    assert_eq!(help, Some(format!("write it in lowercase: `{ok}`")));
    assert!(sha256_problem(&"a".repeat(63)).is_some_and(|(w, _)| w.contains("63 hex digits")));
    assert!(sha256_problem(&format!("{}g", "a".repeat(63))).is_some_and(|(w, _)| w.contains("`g`")));
}

#[test]
fn abi_forms() {
    assert_eq!(abi_form_problem("FreeBSD:15:amd64"), None);
    assert_eq!(abi_form_problem("FreeBSD:15:*"), None);
    for bad in [
        "freebsd:15:x86:64",
        "FreeBSD:15",
        "FreeBSD:x:amd64",
        "Linux:6:amd64",
        "FreeBSD:15:",
    ] {
        assert!(abi_form_problem(bad).is_some(), "{bad}");
    }
}

#[test]
fn a_system_with_repositories_and_pkg_packages_is_clean() {
    let mut os = os();
    let mut local = PackageRepository::new("local", "/srv/pkg");
    local.abi = Some("FreeBSD:15:*".into());
    local.signature = RepositorySignature::Fingerprints {
        dir: "/usr/share/keys/pkg".into(),
    };
    os.package_repositories = vec![PackageRepository::new("FreeBSD", FREEBSD_URL), local];
    let mut nginx = Package::pkg("nginx");
    nginx.version = "1.26.2_3,3".into();
    nginx.source = PackageSource::Pkg {
        repository: Some("local".into()),
    };
    os.packages = vec![
        Package::pkg("sudo"),
        nginx,
        Package::pkg_file("/var/cache/pkg/x-1.0.pkg"),
        Package::pkg_file("/var/cache/pkg/y-1.0.txz"),
    ];
    assert_eq!(broken(&os), vec![]);
    assert_eq!(
        os.package_repositories[0].abi_for(&os.base).as_deref(),
        Some("FreeBSD:15:amd64")
    );
    assert_eq!(
        os.package_repositories[0].url_with_abi("FreeBSD:15:amd64"),
        "https://pkg.FreeBSD.org/FreeBSD:15:amd64/quarterly"
    );
}

#[test]
fn every_repository_and_pkg_mistake_is_reported_where_it_is() {
    let mut os = os();
    let mut wrong_abi = PackageRepository::new("FreeBSD", FREEBSD_URL);
    wrong_abi.abi = Some("FreeBSD:14:amd64".into());
    let mut bad_key = PackageRepository::new("local", "pkg+https://example.org/${ABI}");
    bad_key.signature = RepositorySignature::Pubkey {
        key: "keys/repo.pub".into(),
    };
    bad_key.abi = Some("freebsd:15:amd64".into());
    os.package_repositories = vec![
        wrong_abi,
        bad_key,
        PackageRepository::new("local", "/srv/pkg"),
        PackageRepository::new("2nd", "srv/pkg"),
    ];
    let mut bad_version = Package::pkg("sudo");
    bad_version.version = "1.9 beta".into();
    let mut typo = Package::pkg("nginx");
    typo.source = PackageSource::Pkg {
        repository: Some("locl".into()),
    };
    let mut bad_sum = Package::pkg_file("/srv/x.tar");
    bad_sum.source = PackageSource::PkgFile {
        path: "/srv/x.tar".into(),
        sha256: Some("abc".into()),
    };
    os.packages = vec![
        bad_version,
        typo,
        bad_sum,
        Package::pkg_file("relative/y.pkg"),
        Package::pkg_file("/srv/z.pkg"),
        Package::pkg_file("/srv/z.pkg"),
        Package::pkg("bad name"),
    ];
    let expected = pairs(&[
        ("package-name", "packages[6].name"),
        ("repository-abi", "package_repositories[0].abi"),
        ("repository-url", "package_repositories[1].url"),
        ("repository-abi", "package_repositories[1].abi"),
        ("not-absolute-path", "package_repositories[1].signature.key"),
        ("duplicate-repository", "package_repositories[2].name"),
        ("repository-name", "package_repositories[3].name"),
        ("repository-url", "package_repositories[3].url"),
        ("pkg-version", "packages[0].version"),
        ("undeclared-repository", "packages[1].source.repository"),
        ("pkg-file", "packages[2].source.path"),
        ("sha256", "packages[2].source.sha256"),
        ("pkg-file", "packages[3].source.path"),
        ("duplicate-package", "packages[5].source.path"),
    ]);
    assert_eq!(broken(&os), expected);
    let found = crate::validate::validate(&os);
    let typo = found
        .iter()
        .find(|v| v.rule == Rule::UndeclaredRepository)
        .and_then(|v| v.help.clone());
    assert_eq!(typo.as_deref(), Some("did you mean `local`?"));
    let abi = found
        .iter()
        .find(|v| v.rule == Rule::RepositoryAbi)
        .map(|v| &v.message);
    assert_eq!(
        abi.map(String::as_str),
        Some("ABI `FreeBSD:14:amd64` is for FreeBSD 14, but the base is `15.0-RELEASE`")
    );
}

#[test]
fn abi_follows_the_base_arch_and_any_arch_glob() {
    let mut os = os();
    os.base.arch = Arch::Aarch64;
    let mut repo = PackageRepository::new("FreeBSD", FREEBSD_URL);
    repo.abi = Some("FreeBSD:15:amd64".into());
    os.package_repositories = vec![repo];
    let codes = broken(&os);
    assert!(
        codes.contains(&(
            "repository-abi".into(),
            "package_repositories[0].abi".into()
        )),
        "{codes:?}"
    );
    os.package_repositories[0].abi = Some("FreeBSD:15:*".into());
    assert!(!broken(&os).iter().any(|(code, _)| code == "repository-abi"));
    assert_eq!(os.base.pkg_abi().as_deref(), Some("FreeBSD:15:aarch64"));
}

#[test]
fn pkg_packages_need_a_repository_reported_once() {
    let mut os = os();
    os.packages = vec![
        Package::pkg("sudo"),
        Package::pkg("nginx"),
        Package::pkg_file("/srv/x.pkg"),
    ];
    assert_eq!(
        broken(&os),
        pairs(&[("no-repository", "packages[0].source")])
    );
    let found = crate::validate::validate(&os);
    assert_eq!(
        found[0].depends_on,
        vec![
            FieldPath::root().field("package_repositories").all(),
            FieldPath::root()
                .field("packages")
                .index(0)
                .field("source")
                .field("repository")
        ]
    );
}

#[test]
fn pkg_files_may_leave_their_name_to_the_manifest() {
    let mut os = os();
    os.packages = vec![
        Package::pkg_file("/srv/a.pkg"),
        Package::pkg_file("/srv/b.pkg"),
    ];
    assert_eq!(broken(&os), vec![]);
    os.packages.push(Package::inline("", "1", []));
    assert_eq!(broken(&os), pairs(&[("package-name", "packages[2].name")]));
}

#[test]
fn a_pkgbase_base_names_a_declared_repository_and_base_packages() {
    let mut os = os();
    os.base.source = crate::BaseSource::pkgbase("FreeBSD-base");
    assert_eq!(
        broken(&os),
        pairs(&[("no-repository", "base.source.repository")])
    );
    let url = "https://pkg.FreeBSD.org/${ABI}/base_release_0";
    os.package_repositories = vec![PackageRepository::new("FreeBSD-base", url)];
    assert_eq!(broken(&os), vec![]);
    os.package_repositories[0].name = "FreeBSD-bsae".into();
    os.base.source = crate::BaseSource::Pkgbase {
        repository: "FreeBSD-base".into(),
        packages: vec![
            "FreeBSD-runtime".into(),
            "runtime".into(),
            "FreeBSD-runtime".into(),
            "FreeBSD kernel".into(),
        ],
    };
    let expected = pairs(&[
        ("undeclared-repository", "base.source.repository"),
        ("package-name", "base.source.packages[1]"),
        ("duplicate-package", "base.source.packages[2]"),
        ("package-name", "base.source.packages[3]"),
    ]);
    assert_eq!(broken(&os), expected);
    let found = crate::validate::validate(&os);
    assert_eq!(
        found[0].help.as_deref(),
        Some("did you mean `FreeBSD-bsae`?")
    );
    assert_eq!(
        found[1].help.as_deref(),
        Some("did you mean `FreeBSD-runtime`?")
    );
}
