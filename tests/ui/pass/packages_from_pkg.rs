//! FreeBSD packages: repositories, `pkg(..)` and `pkg_file(..)` beside an inline package,
//! literal and computed. Computed values are checked by validate(), with the same rules.
use fruix_core::{Package, PackageRepository, PackageSource, RepositorySignature, Rule};
use fruix_macros::operating_system;
use std::path::PathBuf;

fn main() {
    let keys = PathBuf::from("/usr/share/keys/pkg");
    let version = String::from("1.26.2_3,3");
    let repo = "locall";
    let os = operating_system! {
        host_name: "pkg-user",
        base: sample_base("15.0-RELEASE"),
        package_repositories: [
            { name: "FreeBSD", url: "https://pkg.FreeBSD.org/${ABI}/quarterly",
              signature: fingerprints("/usr/share/keys/pkg") },
            { name: "local", url: "/srv/pkg/${ABI}", abi: "FreeBSD:15:*",
              signature: pubkey("/usr/local/etc/ssl/local.pub") },
            { name: "mirror", url: "file:///srv/mirror", signature: none },
            { name: "computed", url: "http://127.0.0.1:8080/repo", signature: fingerprints(keys.clone()) },
        ],
        packages: [
            { name: "motd", version: "1", files: { "etc/motd.extra": "hi" } },
            pkg("sudo"),
            pkg("nginx", version = version.clone(), repository = "local"),
            pkg("curl", version = "8.11.1_1", repository = "FreeBSD"),
            // A computed repository name: judged by validate(), which finds the typo.
            pkg("git", repository = repo),
            pkg_file("/var/cache/pkg/hello-2.12_1.pkg",
                     sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
            pkg_file("/var/cache/pkg/old-1.0.txz", name = "old", version = "1.0"),
        ],
    };
    assert_eq!(os.package_repositories.len(), 4);
    assert_eq!(
        os.package_repositories[0].signature,
        RepositorySignature::Fingerprints { dir: "/usr/share/keys/pkg".into() }
    );
    assert_eq!(os.package_repositories[1].abi.as_deref(), Some("FreeBSD:15:*"));
    assert_eq!(os.package_repositories[2], PackageRepository::new("mirror", "file:///srv/mirror"));
    assert_eq!(os.package_repositories[3].signature, RepositorySignature::Fingerprints { dir: keys });
    assert_eq!(os.packages[1], Package::pkg("sudo"));
    assert_eq!(os.packages[2].version, "1.26.2_3,3");
    assert_eq!(
        os.packages[2].source,
        PackageSource::Pkg { repository: Some("local".into()) }
    );
    assert_eq!(
        os.packages[5].source,
        PackageSource::PkgFile {
            path: "/var/cache/pkg/hello-2.12_1.pkg".into(),
            sha256: Some("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into()),
        }
    );
    assert_eq!((os.packages[6].name.as_str(), os.packages[6].version.as_str()), ("old", "1.0"));
    let problems = os.validate().expect_err("repository `locall` is not declared");
    let found: Vec<(Rule, String)> =
        problems.0.iter().map(|v| (v.rule, v.path.to_string())).collect();
    assert_eq!(
        found,
        [(Rule::UndeclaredRepository, "packages[4].source.repository".to_string())]
    );
    assert_eq!(problems.0[0].help.as_deref(), Some("did you mean `local`?"));
    assert_eq!(computed_repositories(&["git"]).validate(), Ok(()));
    let without = computed_repository_without_any(Some("FreeBSD")).validate();
    let rules: Vec<Rule> = without.err().map(|e| e.0.iter().map(|v| v.rule).collect()).unwrap_or_default();
    assert_eq!(rules, [Rule::UndeclaredRepository]);
}

/// Repositories computed at run time: whether `pkg(..)` has one is left to validate().
fn computed_repositories(names: &[&str]) -> fruix_core::OperatingSystem {
    let repos = vec![PackageRepository::new("FreeBSD", "https://pkg.FreeBSD.org/${ABI}/latest")];
    let name = names[0].to_owned();
    operating_system! {
        host_name: "pkg-computed",
        base: sample_base("15.0-RELEASE"),
        package_repositories: repos,
        packages: [pkg(name), pkg("sudo", repository = "FreeBSD")],
    }
}

/// A computed repository and none declared: which rule it breaks is known only at run time.
fn computed_repository_without_any(repo: Option<&str>) -> fruix_core::OperatingSystem {
    operating_system! {
        host_name: "pkg-computed",
        base: sample_base("15.0-RELEASE"),
        packages: [pkg("git", repository = repo)],
    }
}
