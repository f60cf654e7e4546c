use super::*;
use crate::pkg::create::{Meta, PackageWriter, RepoWriter};

#[test]
fn meta_conf_as_pkg_repo_writes_it() {
    let text = b"version = 2;\npacking_format = \"tzst\";\nmanifests: \"packagesite.yaml\";\n# comment\ndata = \"data\";\nrevision = 1733;\n";
    let m = RepoMeta::parse(text, Path::new("r")).unwrap();
    assert_eq!(m.version, 2);
    assert_eq!(m.packing_format.as_deref(), Some("tzst"));
    assert_eq!(m.values["revision"], "1733");
    let json = br#"{"version":2,"packing_format":"txz","data_archive":"data"}"#;
    assert_eq!(
        RepoMeta::parse(json, Path::new("r"))
            .unwrap()
            .packing_format
            .as_deref(),
        Some("txz")
    );
    for (bad, why) in [
        (&b"version = 2;\nversion = 2;\n"[..], "given twice"),
        (b"version = 2;\nkeys { a = 1; }\n", "line 2"),
        (b"version = 2;\nx = [1, 2];\n", "neither a quoted string"),
        (b"version = 3;\n", "not 1 or 2"),
        (b"packing_format = \"tzst\";\n", "no `version`"),
        (
            b"version = 2;\npacking_format = \"rar\";\n",
            "unknown packing_format",
        ),
        (b"version = 2;\ndata = \"../x\";\n", "plain file name"),
        (b"{\"version\":2,\"version\":2}", "appears twice"),
    ] {
        let e = RepoMeta::parse(bad, Path::new("r"))
            .unwrap_err()
            .to_string();
        assert!(e.contains(why), "{e} / {why}");
    }
}

#[test]
fn repopaths_stay_inside_the_repository() {
    assert!(check_repopath("All/sudo-1.9.pkg").is_ok());
    assert!(check_repopath("All/Hashed/c++-1~ab.pkg").is_ok());
    for bad in [
        "/etc/passwd",
        "All/../../x.pkg",
        "..",
        "All/%2e%2e/x.pkg",
        "",
        "a\0b",
        "a\\..\\b",
    ] {
        assert!(check_repopath(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn every_packing_and_both_catalogues_read_back() {
    for packing in Compression::ALL {
        let tmp = tempfile::tempdir().unwrap();
        let mut repo = RepoWriter::new(tmp.path());
        repo.packing(packing);
        let mut a = PackageWriter::new("a", "1.0");
        a.file("/usr/local/bin/a", b"a", Meta::root(0o755));
        a.manifest_mut().deps.insert("b".into(), Default::default());
        let mut b = PackageWriter::new("b", "2.0_1");
        b.file("/usr/local/bin/b", b"b", Meta::root(0o755));
        let ea = repo.add(&a).unwrap();
        repo.add(&b).unwrap();
        let written = repo.write().unwrap();
        let cat = Catalogue::read_dir(tmp.path()).unwrap();
        assert_eq!(cat.entries.len(), 2);
        assert_eq!(cat.entries["a"], ea);
        assert!(cat.file.ends_with("data.pkg"));
        assert_eq!(cat.sha256_of_catalogue, written.data.unwrap().sha256);
        // Without data.pkg, the packagesite catalogue, by its compat name too.
        std::fs::remove_file(tmp.path().join("data.pkg")).unwrap();
        std::fs::remove_file(tmp.path().join(format!("data.{}", packing.format_name()))).unwrap();
        let cat = Catalogue::read_dir(tmp.path()).unwrap();
        assert!(cat.file.ends_with("packagesite.pkg"));
        assert_eq!(cat.entries["a"], ea);
        let compat = tmp
            .path()
            .join(format!("packagesite.{}", packing.format_name()));
        std::fs::remove_file(&compat).unwrap();
        std::fs::rename(tmp.path().join("packagesite.pkg"), &compat).unwrap();
        let cat = Catalogue::read_dir(tmp.path()).unwrap();
        assert!(cat
            .file
            .ends_with(format!("packagesite.{}", packing.format_name())));
        let from = Catalogue::from_files(&tmp.path().join("meta.conf"), &cat.file).unwrap();
        assert_eq!(from.entries, cat.entries);
        assert!(cat
            .check_abi(&Target {
                abi: "FreeBSD:15:amd64".into(),
                osversion: None
            })
            .is_ok());
        let e = cat
            .check_abi(&Target {
                abi: "FreeBSD:14:amd64".into(),
                osversion: None,
            })
            .unwrap_err();
        assert!(e.to_string().contains("package `a`"), "{e}");
    }
}
