//! Tests of `syntax.rs`: the predicates, then the top-level rules.

use super::*;
use crate::validate::test_support::broken;
use crate::{HostEntry, InlineFile, Package};

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

const ED25519: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@host";

#[test]
fn zone_names_are_sorted_for_binary_search() {
    assert!(ZONE_NAMES.windows(2).all(|w| w[0] < w[1]));
    assert!(is_valid_time_zone("Europe/Berlin") && is_valid_time_zone("UTC"));
    assert!(!is_valid_time_zone("Europe/Berln") && !is_valid_time_zone(""));
    assert_eq!(tzdata_version(), "2025b");
}

#[test]
fn host_names() {
    for ok in ["h", "fruix", "a-b.example.org", "x1", &"a".repeat(63)] {
        assert!(is_valid_host_name(ok), "{ok}");
    }
    for bad in [
        "",
        "-a",
        "a-",
        "a..b",
        "a.",
        "my_host",
        "a b",
        &"a".repeat(64),
        &["a"; 130].join("."),
    ] {
        assert!(!is_valid_host_name(bad), "{bad}");
    }
    assert_eq!(suggest_host_name("my_host"), Some("my-host".to_owned()));
}

#[test]
fn account_names() {
    for ok in ["root", "_dhcp", "a.b-c_1", "machine$", &"a".repeat(32)] {
        assert_eq!(account_name_problem(ok), None, "{ok}");
    }
    let problem = |n: &str| account_name_problem(n).unwrap_or_default();
    assert_eq!(
        problem("Bob!"),
        "contains `!`, which FreeBSD does not allow"
    );
    assert_eq!(
        problem("Bob"),
        "contains uppercase `B`; account names are lowercase"
    );
    assert_eq!(
        problem("-x"),
        "starts with `-`, which FreeBSD does not allow"
    );
    assert_eq!(
        problem("a b"),
        "contains a space, which FreeBSD does not allow"
    );
    assert_eq!(problem("a$b"), "contains `$`, which FreeBSD does not allow");
    assert!(problem(&"a".repeat(33)).contains("33 bytes"));
    assert_eq!(problem(""), "is empty");
    assert_eq!(
        account_name_help("Bob"),
        Some("did you mean `bob`?".to_owned())
    );
}

#[test]
fn paths() {
    assert_eq!(absolute_path_problem("/"), None);
    assert_eq!(absolute_path_problem("/usr/local/"), None);
    assert_eq!(
        absolute_path_problem("bin/sh"),
        Some("is not an absolute path")
    );
    assert_eq!(
        absolute_path_problem("/a/../b"),
        Some("contains a `..` component")
    );
    assert_eq!(
        absolute_path_problem("/a/./b"),
        Some("contains a `.` component")
    );
    assert_eq!(absolute_path_problem("/a//b"), Some("contains `//`"));
    assert_eq!(
        absolute_path_problem("/a\nb"),
        Some("contains a line break")
    );
    assert_eq!(absolute_path_problem("/a\0"), Some("contains a NUL byte"));
    assert_eq!(relative_path_problem("bin/hello"), None);
    assert_eq!(
        relative_path_problem("/bin"),
        Some("is absolute; paths inside a package are relative")
    );
    assert_eq!(
        relative_path_problem("../x"),
        Some("contains a `..` component")
    );
    assert_eq!(relative_path_problem("x/"), Some("ends with `/`"));
}

#[test]
fn setting_keys_and_values() {
    assert!(is_identifier("sshd_enable") && is_identifier("_x1"));
    assert!(!is_identifier("1x") && !is_identifier("ifconfig vtnet0") && !is_identifier(""));
    assert!(
        is_sysctl_name("kern.ipc.maxsockbuf")
            && is_sysctl_name("dev.em.0.fc")
            && is_sysctl_name("if_vtnet_load")
    );
    assert!(
        !is_sysctl_name("kern..x")
            && !is_sysctl_name(".x")
            && !is_sysctl_name("a=b")
            && !is_sysctl_name("")
    );
    assert_eq!(value_problem(r#"a \"quoted\" word"#), None);
    assert_eq!(value_problem("-f -r"), None);
    assert_eq!(value_problem("a\nb"), Some("contains a newline"));
    assert_eq!(value_problem("a\rb"), Some("contains a carriage return"));
    assert_eq!(value_problem("a\0"), Some("contains a NUL byte"));
    assert_eq!(
        value_problem(r#"say "hi""#),
        Some("contains an unescaped `\"`")
    );
    assert_eq!(value_problem(r"trailing\"), Some("ends with a lone `\\`"));
    assert_eq!(value_problem(r"escaped\\"), None);
}

#[test]
fn base64() {
    assert_eq!(decode_base64("aGVsbG8="), Some(b"hello".to_vec()));
    assert_eq!(decode_base64("aGVsbA=="), Some(b"hell".to_vec()));
    assert_eq!(decode_base64("aGVs"), Some(b"hel".to_vec()));
    for bad in ["", "aGVsbG8", "aGVsbG9=", "a===", "aGV$", "aG=s"] {
        assert_eq!(decode_base64(bad), None, "{bad}");
    }
}

#[test]
fn ssh_keys() {
    assert_eq!(ssh_key_problem(ED25519), None);
    assert_eq!(
        ssh_key_problem(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
        ),
        None
    );
    let what = |k: &str| ssh_key_problem(k).map(|p| p.what).unwrap_or_default();
    assert_eq!(
        what("ssh-ed25519"),
        "ssh key has no key data after `ssh-ed25519`"
    );
    assert_eq!(
        what("ssh-ed25519 !!!!"),
        "key data of the `ssh-ed25519` ssh key is not valid base64"
    );
    assert_eq!(
        what("ssh-ed25519 AAAAC3Nz"),
        "key data of the `ssh-ed25519` ssh key is truncated"
    );
    assert_eq!(
        what("ssh-ed25519 AAAAAAAA"),
        "key data of the `ssh-ed25519` ssh key does not hold a `ssh-ed25519` key"
    );
    assert_eq!(what(""), "ssh key is empty");
    assert_eq!(
        what("ssh-ed25519 AAAA\nssh-rsa AAAA"),
        "ssh key contains a newline"
    );
    let mismatch = ED25519.replacen("ssh-ed25519", "ssh-rsa", 1);
    assert_eq!(
        what(&mismatch),
        "ssh key says `ssh-rsa`, but its key data is a `ssh-ed25519` key"
    );
    let typo = ssh_key_problem(&ED25519.replacen("ssh-ed25519", "ssh-ed2519", 1));
    assert_eq!(
        typo.and_then(|p| p.help),
        Some("did you mean `ssh-ed25519`?".to_owned())
    );
    assert_eq!(
        what("AAAAC3NzaC1lZDI1NTE5AAAAIOMq"),
        "unknown ssh key type `AAAAC3NzaC1lZDI1NTE5AAAAIOMq`"
    );
}

#[test]
fn password_fields() {
    let sha512 = format!("$6$saltsalt${}", "x".repeat(86));
    let sha512_rounds = format!("$6$rounds=5000$salt${}", "y".repeat(86));
    let bcrypt = format!("$2b$12${}", "a".repeat(53));
    let md5 = format!("$1$salt${}", "b".repeat(22));
    let sha256 = format!("$5$salt${}", "c".repeat(43));
    let yescrypt = "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7";
    let argon = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";
    for ok in [
        "",
        "*",
        &sha512,
        &sha512_rounds,
        &bcrypt,
        &md5,
        &sha256,
        yescrypt,
        argon,
    ] {
        assert!(is_password_field(ok), "{ok}");
    }
    for bad in [
        "hunter2",
        "$6$hunter2",
        "$6$salt$short",
        "$9$x$y",
        "**",
        "$2b$12$short",
        "$y$a:b$c$d",
    ] {
        assert!(!is_password_field(bad), "{bad}");
    }
}

#[test]
fn release_labels_and_locales() {
    for ok in [
        "15.0-RELEASE",
        "14.3-RELEASE-p2",
        "16.0-CURRENT",
        "14.2-STABLE",
        "15.0-BETA3",
        "15.0-RC1",
        "15.0-ALPHA2",
        "14.0-PRERELEASE",
    ] {
        assert!(is_release_label(ok), "{ok}");
    }
    for bad in [
        "",
        "15.0",
        "15-RELEASE",
        "15.0-release",
        "15.0-RC",
        "15.0-RELEASE-p",
        "15.0-RELEASE-px",
        "v15.0-RELEASE",
    ] {
        assert!(!is_release_label(bad), "{bad}");
    }
    for ok in [
        "C",
        "POSIX",
        "C.UTF-8",
        "en_US.UTF-8",
        "de_DE.ISO8859-15",
        "sr_Latn_RS.UTF-8",
        "ast_ES.UTF-8",
    ] {
        assert!(is_locale(ok), "{ok}");
    }
    for bad in [
        "",
        "en_US",
        "en-US.UTF-8",
        "EN_us.UTF-8",
        "en_US.",
        "C.UTF 8",
        "utf8",
    ] {
        assert!(!is_locale(bad), "{bad}");
    }
}

#[test]
fn default_top_level_is_clean() {
    assert_eq!(broken(&os()), vec![]);
}

#[test]
fn host_name_rules() {
    let mut spec = OperatingSystem::default();
    assert_eq!(broken(&spec), pairs(&[("missing-field", "host_name")]));
    spec.host_name = "my_host".into();
    let found = validate_all(&spec);
    assert_eq!(
        found[0].message,
        "host name `my_host` contains `_`, which host names cannot hold"
    );
    assert_eq!(found[0].help.as_deref(), Some("did you mean `my-host`?"));
}

fn validate_all(spec: &OperatingSystem) -> Vec<Violation> {
    crate::validate::validate(spec)
}

#[test]
fn release_kernel_time_zone_and_locale_rules() {
    let mut spec = os();
    spec.base.release = "15.0".into();
    spec.kernel.config = "GEN/ERIC".into();
    spec.kernel.modules = vec!["vmm".into(), "if-vtnet.ko".into()];
    spec.time_zone = "Europe/Berln".into();
    spec.locale = "en_US".into();
    assert_eq!(
        broken(&spec),
        pairs(&[
            ("release-label", "base.release"),
            ("kernel-name", "kernel.config"),
            ("kernel-name", "kernel.modules[1]"),
            ("time-zone", "time_zone"),
            ("locale", "locale"),
        ])
    );
    let helps: Vec<_> = validate_all(&spec)
        .into_iter()
        .filter_map(|v| v.help)
        .collect();
    assert!(helps.contains(&"did you mean `if_vtnet`?".to_owned()));
    assert!(helps.contains(&"did you mean `Europe/Berlin`?".to_owned()));
    assert!(helps.contains(&"did you mean `en_US.UTF-8`?".to_owned()));
}

#[test]
fn the_base_loader_is_an_absolute_host_path() {
    let mut spec = os();
    spec.base = crate::freebsd::sample_base("15.0-RELEASE").with_loader_efi("/srv/loader.efi");
    assert_eq!(broken(&spec), pairs(&[]));
    spec.base.loader_efi = Some("/srv/freebsd/../obj/loader.efi".into());
    assert_eq!(broken(&spec), pairs(&[]));
    for bad in ["loader.efi", "", "./loader.efi"] {
        spec.base.loader_efi = Some(bad.into());
        assert_eq!(
            broken(&spec),
            pairs(&[("not-absolute-path", "base.loader_efi")]),
            "{bad:?}"
        );
    }
    spec.base.loader_efi = Some("boot/loader.efi".into());
    let found = validate_all(&spec);
    assert_eq!(
        found[0].message,
        "boot loader `boot/loader.efi` is not an absolute path"
    );
}

#[test]
fn hosts_rules() {
    let mut spec = os();
    spec.hosts = vec![
        HostEntry {
            address: "192.0.2.1".into(),
            names: vec!["db".into(), "db.example.org".into()],
        },
        HostEntry {
            address: "2001:db8::1".into(),
            names: vec!["v6".into()],
        },
        HostEntry {
            address: "192.0.2.300".into(),
            names: vec![],
        },
        HostEntry {
            address: "::1".into(),
            names: vec!["ok".into(), "bad name".into()],
        },
    ];
    assert_eq!(
        broken(&spec),
        pairs(&[
            ("host-address", "hosts[2].address"),
            ("host-name", "hosts[2].names"),
            ("host-name", "hosts[3].names[1]"),
        ])
    );
}

#[test]
fn only_amd64_is_supported() {
    let mut spec = os();
    spec.base.arch = crate::Arch::Aarch64;
    assert_eq!(broken(&spec), pairs(&[("unsupported-arch", "base.arch")]));
    let violations = validate_all(&spec);
    assert!(
        violations[0]
            .message
            .contains("`aarch64` is not supported yet"),
        "{}",
        violations[0]
    );
    spec.base.arch = crate::Arch::Amd64;
    assert_eq!(broken(&spec), vec![]);
}

#[test]
fn scoped_ipv6_host_addresses() {
    let problem = |address: &str| super::host_address_problem(address).map(|(m, _)| m);
    // FreeBSD's own /etc/hosts, a numeric scope, a VLAN interface, link-local multicast.
    for ok in [
        "fe80::1%lo0",
        "fe80::1%2",
        "fe80::a:b%vtnet0.100",
        "ff02::1%em0",
        "2001:db8::1%3",
    ] {
        assert_eq!(problem(ok), None, "{ok}");
    }
    let cases = [
        (
            "fe80::1%",
            "the zone of `fe80::1%` (empty) is not a FreeBSD interface name",
        ),
        (
            "fe80::1%lo 0",
            "the zone of `fe80::1%lo 0` (lo 0) is not a FreeBSD interface name",
        ),
        ("fe80::1%0lo", "(0lo) is not a FreeBSD interface name"),
        (
            "fe80::1%averyveryverylong0",
            "is not a FreeBSD interface name",
        ),
        (
            "fe80::1%lo0%lo0",
            "(lo0%lo0) is not a FreeBSD interface name",
        ),
        (
            "fe80::1%99999999999",
            "(99999999999) is not a FreeBSD interface name",
        ),
        (
            "2001:db8::1%em0",
            "`2001:db8::1` is not a link-scoped address",
        ),
        ("127.0.0.1%lo0", "is an IPv4 address with a zone"),
        (
            "fe80::g%lo0",
            "`fe80::g%lo0` is not an IPv4 or IPv6 address",
        ),
        ("%lo0", "`%lo0` is not an IPv4 or IPv6 address"),
    ];
    for (address, expected) in cases {
        let found = problem(address).unwrap_or_default();
        assert!(found.contains(expected), "{address}: {found}");
    }
    let mut spec = os();
    spec.hosts = vec![
        HostEntry {
            address: "fe80::1%lo0".into(),
            names: vec!["localhost".into()],
        },
        HostEntry {
            address: "fe80::1%lo0 ".into(),
            names: vec!["spaced".into()],
        },
    ];
    assert_eq!(
        broken(&spec),
        pairs(&[("host-address", "hosts[1].address")])
    );
}

#[test]
fn package_rules() {
    let mut spec = os();
    spec.packages = vec![
        Package::inline("hello", "1.0", [("bin/hello", "#!/bin/sh\n")]),
        Package::inline("", "1", []),
        Package::inline("bad name", "1", []),
        Package::inline("hello", "2.0", []),
        Package::inline(
            "files",
            "1 0",
            [("/abs", ""), ("a/../b", ""), ("ok", ""), ("ok", "")],
        ),
    ];
    if let PackageSource::Inline { files } = &mut spec.packages[0].source {
        files.push(InlineFile {
            path: "share/x".into(),
            ..InlineFile::default()
        });
    }
    assert_eq!(
        broken(&spec),
        pairs(&[
            ("package-name", "packages[1].name"),
            ("package-name", "packages[2].name"),
            ("duplicate-package", "packages[3].name"),
            ("invalid-value", "packages[4].version"),
            ("invalid-value", "packages[4].source[\"/abs\"]"),
            ("invalid-value", "packages[4].source[\"a/../b\"]"),
            ("invalid-value", "packages[4].source[\"ok\"]"),
        ])
    );
    let dup = validate_all(&spec)
        .into_iter()
        .find(|v| v.rule == Rule::DuplicatePackage);
    let dup = dup.map(|v| {
        (
            v.message,
            v.depends_on
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
        )
    });
    assert_eq!(
        dup,
        Some((
            "duplicate package `hello`: `packages[0]` already adds it".to_owned(),
            vec!["packages[0].name".to_owned()]
        ))
    );
}

#[test]
fn earlier_duplicates_skips_none() {
    let keys = [Some("a"), None, Some("b"), None, Some("a"), Some("a")];
    assert_eq!(
        earlier_duplicates(keys),
        vec![None, None, None, None, Some(0), Some(0)]
    );
}
