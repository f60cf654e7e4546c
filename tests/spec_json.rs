//! Specs built in code survive a JSON round trip unchanged and validate the same way.

use fruix_core::{ByteSize, FsKind, ImageSize, OperatingSystem, Rule, Service, User};

fn codes(os: &OperatingSystem) -> Vec<(Rule, String)> {
    match os.validate() {
        Ok(()) => Vec::new(),
        Err(found) => found
            .0
            .iter()
            .map(|v| (v.rule, v.path.to_string()))
            .collect(),
    }
}

fn round_trip(os: &OperatingSystem) -> OperatingSystem {
    let json = os.to_json();
    OperatingSystem::from_json(&json).unwrap_or_else(|e| panic!("{e}\n{json}"))
}

#[test]
fn default_system_round_trips_and_stays_valid() {
    let os = fruix_systems::fruix_freebsd();
    let back = round_trip(&os);
    assert_eq!(back, os);
    assert_eq!(back.to_json(), os.to_json());
    assert_eq!(codes(&back), []);
}

#[test]
fn broken_spec_built_in_code_round_trips_with_the_same_violations() {
    let mut os = fruix_systems::fruix_freebsd();
    os.host_name = "not_valid".into();
    os.users.push(User {
        name: "Eve".into(),
        uid: 1001,
        group: "nobody-here".into(),
        password: "letmein".into(),
        ..User::default()
    });
    os.services
        .push(Service::new("loop", ["bin/loop"]).requires(["loop", "missing"]));
    os.file_systems[2].pass = Some(1);
    os.file_systems[2].kind = FsKind::Procfs;
    os.rc_conf.insert("bad key".into(), "x".into());
    os.rc_conf.insert("hostname".into(), "x\ny".into());
    os.image.size = ImageSize::Fixed(ByteSize(1000));
    os.image.esp_size = ByteSize::mib(20);
    os.time_zone = "Nowhere/City".into();

    let before = codes(&os);
    let back = round_trip(&os);
    assert_eq!(back, os);
    assert_eq!(codes(&back), before);

    let rules: Vec<Rule> = before.iter().map(|(rule, _)| *rule).collect();
    for expected in [
        Rule::HostName,
        Rule::UserName,
        Rule::DuplicateUid,
        Rule::UndeclaredGroup,
        Rule::ClearTextPassword,
        Rule::StartCommand,
        Rule::UndeclaredRequirement,
        Rule::RequirementCycle,
        Rule::PseudoFsckPass,
        Rule::SettingKey,
        Rule::SettingValue,
        Rule::ImageSize,
        Rule::EspSize,
        Rule::TimeZone,
    ] {
        assert!(
            rules.contains(&expected),
            "{expected:?} missing from {before:#?}"
        );
    }
}

#[test]
fn json_written_by_hand_gets_defaults_and_the_same_rules() {
    let os = OperatingSystem::from_json(
        r#"{
            "host_name": "from-json",
            "base": { "release": "15.0-RELEASE", "arch": "amd64", "source": { "kind": "sample" } },
            "image": { "size": "320MiB", "esp_size": 34603008 },
            "users": [ { "name": "root", "uid": 0, "group": "wheel" },
                       { "name": "op", "uid": 0, "group": "wheel" } ]
        }"#,
    )
    .expect("valid JSON spec");
    assert_eq!(os.image.esp_size, ByteSize::mib(33));
    assert_eq!(os.loader.serial_speed, 115_200);
    assert_eq!(
        codes(&os),
        [(Rule::DuplicateUid, "users[1].uid".to_string())]
    );
}

#[test]
fn a_base_loader_reads_from_json_and_is_held_to_the_same_rule() {
    let json = |path: &str| {
        format!(
            r#"{{ "host_name": "h", "base": {{ "release": "15.0-RELEASE", "loader_efi": "{path}" }} }}"#
        )
    };
    let os = OperatingSystem::from_json(&json("/srv/freebsd/loader.efi")).expect("valid");
    let given =
        fruix_core::freebsd::sample_base("15.0-RELEASE").with_loader_efi("/srv/freebsd/loader.efi");
    assert_eq!(os.base, given);
    assert_eq!(round_trip(&os), os);
    assert_eq!(codes(&os), []);
    let relative = OperatingSystem::from_json(&json("obj/loader.efi")).expect("valid JSON");
    assert_eq!(
        codes(&relative),
        [(Rule::NotAbsolutePath, "base.loader_efi".to_string())]
    );
    // Without one, the field is not written: specs without it keep their JSON (and hashes).
    assert!(!fruix_systems::fruix_freebsd()
        .to_json()
        .contains("loader_efi"));
}

#[test]
fn json_shape_errors_name_the_problem_and_place() {
    let unknown = OperatingSystem::from_json(r#"{ "host_name": "x", "hostname": "y" }"#)
        .expect_err("unknown field");
    let text = unknown.to_string();
    assert!(text.contains("unknown field `hostname`"), "{text}");
    assert!(text.contains("line 1"), "{text}");

    let wrong_type =
        OperatingSystem::from_json(r#"{ "users": [ { "name": "a", "uid": "one" } ] }"#)
            .expect_err("wrong type");
    assert!(
        wrong_type.to_string().contains("invalid type"),
        "{wrong_type}"
    );

    let bad_console = OperatingSystem::from_json(r#"{ "loader": { "console": ["vga"] } }"#)
        .expect_err("unknown console");
    assert!(
        bad_console.to_string().contains("unknown variant `vga`"),
        "{bad_console}"
    );

    let bad_size = OperatingSystem::from_json(r#"{ "image": { "size": "12 parsecs" } }"#)
        .expect_err("bad size");
    assert!(
        bad_size.to_string().contains("unknown size unit `parsecs`"),
        "{bad_size}"
    );
}

/// A system using every FreeBSD package form, written in code.
fn with_pkg_packages() -> OperatingSystem {
    use fruix_core::{Package, PackageRepository, PackageSource, RepositorySignature};
    let mut os = fruix_systems::fruix_freebsd();
    let mut local = PackageRepository::new("local", "file:///srv/pkg/${ABI}");
    local.abi = Some("FreeBSD:15:*".into());
    local.signature = RepositorySignature::Pubkey {
        key: "/usr/local/etc/ssl/local.pub".into(),
    };
    let mut official =
        PackageRepository::new("FreeBSD", "https://pkg.FreeBSD.org/${ABI}/quarterly");
    official.signature = RepositorySignature::Fingerprints {
        dir: "/usr/share/keys/pkg".into(),
    };
    os.package_repositories = vec![official, local];
    let mut nginx = Package::pkg("nginx");
    nginx.version = "1.26.2_3,3".into();
    nginx.source = PackageSource::Pkg {
        repository: Some("local".into()),
    };
    let mut hello = Package::pkg_file("/var/cache/pkg/hello-2.12_1.pkg");
    hello.source = PackageSource::PkgFile {
        path: "/var/cache/pkg/hello-2.12_1.pkg".into(),
        sha256: Some("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into()),
    };
    os.packages.extend([Package::pkg("sudo"), nginx, hello]);
    os
}

#[test]
fn pkg_packages_and_repositories_round_trip() {
    let os = with_pkg_packages();
    assert_eq!(codes(&os), []);
    let json = os.to_json();
    let back = round_trip(&os);
    assert_eq!(back, os);
    assert_eq!(back.to_json(), json);
    // The shapes other tools read: tagged sources and signatures, absent defaults left out.
    let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let repos = &value["package_repositories"];
    assert_eq!(repos[0]["signature"]["kind"], "fingerprints");
    assert_eq!(repos[0]["signature"]["dir"], "/usr/share/keys/pkg");
    assert!(repos[0].get("abi").is_none());
    assert_eq!(repos[1]["abi"], "FreeBSD:15:*");
    assert_eq!(repos[1]["signature"]["kind"], "pubkey");
    let packages = value["packages"].as_array().expect("packages");
    let sudo = &packages[packages.len() - 3];
    assert_eq!(sudo["source"], serde_json::json!({ "kind": "pkg" }));
    assert_eq!(
        packages[packages.len() - 2]["source"]["repository"],
        "local"
    );
    assert_eq!(packages[packages.len() - 1]["source"]["kind"], "pkg-file");
}

#[test]
fn systems_without_repositories_keep_their_json() {
    let json = fruix_systems::fruix_freebsd().to_json();
    assert!(!json.contains("package_repositories"), "{json}");
    assert!(!json.contains("\"pkg"), "{json}");
}

/// The mistakes of `tests/ui/fail/package_repository.rs` and `pkg_package.rs`, as JSON:
/// the same rules at the same places.
#[test]
fn pkg_mistakes_in_json_break_the_same_rules() {
    let os = OperatingSystem::from_json(
        r#"{
            "host_name": "from-json",
            "base": { "release": "15.0-RELEASE" },
            "package_repositories": [
                { "name": "FreeBSD", "url": "pkg+https://pkg.FreeBSD.org/${ABI}/quarterly" },
                { "name": "FreeBSD", "url": "https://pkg.FreeBSD.org/${ABI}/base_release_${VERSION_MINOR}" },
                { "name": "my repo", "url": "srv/pkg", "abi": "FreeBSD:14:amd64" },
                { "name": "local", "url": "file://srv/pkg", "abi": "freebsd:15:amd64" },
                { "name": "keys", "url": "/srv/pkg/$ABI",
                  "signature": { "kind": "fingerprints", "dir": "keys/pkg" } },
                { "name": "arm", "url": "/srv/arm", "abi": "FreeBSD:15:aarch64",
                  "signature": { "kind": "pubkey", "key": "" } }
            ],
            "packages": [
                { "name": "sudo", "version": "1.9.16p2-1", "source": { "kind": "pkg" } },
                { "name": "nginx", "source": { "kind": "pkg", "repository": "locla" } },
                { "name": "sudo", "source": { "kind": "pkg" } },
                { "name": "hello world", "source": { "kind": "pkg" } },
                { "source": { "kind": "pkg-file", "path": "/srv/pkg/All/hello-2.12.tar.gz", "sha256": "ABCDEF" } },
                { "source": { "kind": "pkg-file", "path": "pkgs/tool-1.0.pkg" } },
                { "source": { "kind": "pkg-file", "path": "/srv/pkg/All/tool-1.0.pkg",
                              "sha256": "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08" } },
                { "source": { "kind": "pkg-file", "path": "/srv/pkg/All/tool-1.0.pkg" } }
            ]
        }"#,
    )
    .expect("valid JSON spec");
    let expected = [
        (Rule::DuplicatePackage, "packages[2].name"),
        (Rule::PackageName, "packages[3].name"),
        (Rule::RepositoryUrl, "package_repositories[0].url"),
        (Rule::DuplicateRepository, "package_repositories[1].name"),
        (Rule::RepositoryUrl, "package_repositories[1].url"),
        (Rule::RepositoryName, "package_repositories[2].name"),
        (Rule::RepositoryUrl, "package_repositories[2].url"),
        (Rule::RepositoryAbi, "package_repositories[2].abi"),
        (Rule::RepositoryUrl, "package_repositories[3].url"),
        (Rule::RepositoryAbi, "package_repositories[3].abi"),
        (Rule::RepositoryUrl, "package_repositories[4].url"),
        (
            Rule::NotAbsolutePath,
            "package_repositories[4].signature.dir",
        ),
        (Rule::RepositoryAbi, "package_repositories[5].abi"),
        (
            Rule::NotAbsolutePath,
            "package_repositories[5].signature.key",
        ),
        (Rule::PkgVersion, "packages[0].version"),
        (Rule::UndeclaredRepository, "packages[1].source.repository"),
        (Rule::PkgFile, "packages[4].source.path"),
        (Rule::Sha256, "packages[4].source.sha256"),
        (Rule::PkgFile, "packages[5].source.path"),
        (Rule::Sha256, "packages[6].source.sha256"),
        (Rule::DuplicatePackage, "packages[7].source.path"),
    ];
    let expected: Vec<(Rule, String)> = expected.iter().map(|(r, p)| (*r, p.to_string())).collect();
    assert_eq!(codes(&os), expected);
    assert_eq!(codes(&round_trip(&os)), expected);

    let no_repository = OperatingSystem::from_json(
        r#"{ "host_name": "h", "packages": [ { "name": "sudo", "source": { "kind": "pkg" } } ] }"#,
    )
    .expect("valid JSON spec");
    assert_eq!(
        codes(&no_repository),
        [(Rule::NoRepository, "packages[0].source".to_string())]
    );
}

#[test]
fn a_pkgbase_base_round_trips_and_is_held_to_the_same_rules() {
    let os = OperatingSystem::from_json(
        r#"{ "host_name": "h",
             "base": { "release": "15.0-RELEASE",
                       "source": { "kind": "pkgbase", "repository": "FreeBSD-bsae",
                                   "packages": ["FreeBSD-runtime", "runtime"] } },
             "package_repositories": [ { "name": "FreeBSD-base", "url": "/srv/pkgbase" } ] }"#,
    )
    .expect("valid JSON spec");
    assert_eq!(round_trip(&os), os);
    assert_eq!(
        codes(&os),
        [
            (
                Rule::UndeclaredRepository,
                "base.source.repository".to_string()
            ),
            (Rule::PackageName, "base.source.packages[1]".to_string()),
        ]
    );
    let mut default = os.clone();
    default.base.source = fruix_core::BaseSource::pkgbase("FreeBSD-base");
    let json: serde_json::Value = serde_json::from_str(&default.to_json()).expect("JSON");
    assert_eq!(
        json["base"]["source"],
        serde_json::json!({ "kind": "pkgbase", "repository": "FreeBSD-base" })
    );
    assert_eq!(codes(&default), []);
}
