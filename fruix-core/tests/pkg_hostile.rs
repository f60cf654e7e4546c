//! Every hostile case of PKG.md's list that the package and catalogue readers own: each
//! gets a clear error naming the package and member (or entry), and the store is byte for
//! byte as it was (its directory listing, staging included, compared before and after).
//! Dependency cycles, missing dependencies and two packages owning one path are the
//! resolver's and the profile's (tested there).

use fruix_core::pkg::archive::{Limits, Target};
use fruix_core::pkg::catalogue::Catalogue;
use fruix_core::pkg::compress::Compression;
use fruix_core::pkg::create::{Meta, PackageWriter, RepoWriter};
use fruix_core::pkg::import::{import, Expectation, OwnerIds};
use fruix_core::pkg::tar_write::{MemberKind, RawMember};
use fruix_core::pkg::{FileEntry, Manifest, PkgError, Sum, SumKind};
use fruix_core::store::Store;
use std::path::{Path, PathBuf};

struct RootOnly;

impl OwnerIds for RootOnly {
    fn uid(&self, name: &str) -> Option<u32> {
        (name == "root").then_some(0)
    }
    fn gid(&self, name: &str) -> Option<u32> {
        (name == "wheel").then_some(0)
    }
}

fn good() -> PackageWriter {
    let mut p = PackageWriter::new("hello", "2.12_1");
    p.manifest_mut()
        .annotations
        .insert("FreeBSD_version".into(), "1500000".into());
    p.file("/usr/local/bin/hello", b"hello binary", Meta::root(0o755))
        .file(
            "/usr/local/share/hello/README",
            b"read me",
            Meta::root(0o644),
        )
        .dir("/usr/local/share/hello", Meta::root(0o755));
    p
}

fn target() -> Target {
    Target {
        abi: "FreeBSD:15:amd64".into(),
        osversion: Some(1500068),
    }
}

/// The package with its full manifest edited (the compact one left out).
fn with_manifest(p: &PackageWriter, edit: impl FnOnce(&mut Manifest)) -> Vec<u8> {
    with_manifest_text(p, edit, &[])
}

/// The same, with text replacements in the manifest's JSON afterwards (raw escapes).
fn with_manifest_text(
    p: &PackageWriter,
    edit: impl FnOnce(&mut Manifest),
    replace: &[(&str, &str)],
) -> Vec<u8> {
    let mut m = p.full_manifest();
    edit(&mut m);
    let mut text = m.to_json(true);
    for (from, to) in replace {
        text = text.replace(from, to);
    }
    p.to_bytes_with(text.as_bytes(), None).unwrap()
}

fn with_raw(mut p: PackageWriter, member: RawMember) -> Vec<u8> {
    p.raw_member(member);
    p.to_bytes().unwrap()
}

fn raw(name: &str, kind: MemberKind, data: &[u8], link: &str) -> RawMember {
    let mut m = RawMember::new(name, kind);
    m.data = data.to_vec();
    m.link = link.as_bytes().to_vec();
    m
}

fn listing(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let md = std::fs::symlink_metadata(e.path()).unwrap();
            out.push((e.path(), md.len()));
            if md.is_dir() {
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}

fn entry(sum: Option<Sum>) -> FileEntry {
    FileEntry {
        sum,
        uname: "root".into(),
        gname: "wheel".into(),
        perm: Some(0o644),
        ..FileEntry::default()
    }
}

#[test]
fn hostile_packages_are_refused_and_leave_the_store_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    let expect = Expectation {
        target: target(),
        ..Expectation::default()
    };
    // One good import first: the store's lock files exist from then on.
    let file = tmp.path().join("good.pkg");
    let good_written = good().write(&file).unwrap();
    import(&store, &file, &expect, &RootOnly).unwrap();

    let sum_of = |b: &[u8]| Some(Sum::of_bytes(SumKind::Sha256, b));
    let mut bomb = PackageWriter::new("bomb", "1");
    bomb.file("/usr/local/zeros", &vec![0u8; 4 << 20], Meta::root(0o644));
    let mut big_manifest = good();
    big_manifest.manifest_mut().desc = "x".repeat(3 << 20);
    let mut truncated = good().to_bytes().unwrap();
    truncated.truncate(truncated.len() / 2);
    let mut lying = good();
    lying.raw_member(RawMember {
        claimed_size: Some(1 << 20),
        ..raw("/usr/local/bin/hello2", MemberKind::File, b"short", "")
    });
    let lying_flatsize = with_manifest(&lying, |m| {
        m.files
            .insert("/usr/local/bin/hello2".into(), entry(sum_of(b"short")));
    });
    let lying = with_manifest(&lying, |m| {
        m.files
            .insert("/usr/local/bin/hello2".into(), entry(sum_of(b"short")));
        m.flatsize = 2 << 20;
    });
    let mut escape = good();
    escape.symlink("/usr/local/etc", "/etc").file(
        "/usr/local/etc/passwd",
        b"root::0:0::/:/bin/sh\n",
        Meta::root(0o644),
    );
    let mut below_file = good();
    below_file.file("/usr/local/bin/hello/x", b"x", Meta::root(0o644));
    let mut unknown_owner = good();
    unknown_owner.file("/usr/local/bin/www", b"w", Meta::new("www", "www", 0o644));
    let mut nul = good();
    nul.raw_member(raw("/usr/local/bin/a\0b", MemberKind::File, b"x", ""));
    let long_nul = format!("/usr/local/{}\0/x", "d".repeat(120));

    let cases: Vec<(&str, Vec<u8>, Expectation, &str)> = vec![
        (
            "traversal member",
            with_raw(
                good(),
                raw("/usr/local/../../etc/passwd", MemberKind::File, b"x", ""),
            ),
            Expectation::default(),
            "`..` is not allowed",
        ),
        (
            "traversal in manifest %2e%2e",
            with_manifest_text(
                &good(),
                |m| {
                    m.files
                        .insert("/usr/local/DOTS/DOTS/etc/x".into(), entry(None));
                },
                &[("DOTS", "%2e%2e")],
            ),
            Expectation::default(),
            "`..` is not allowed",
        ),
        (
            "NUL in manifest path",
            with_manifest_text(
                &good(),
                |m| {
                    m.files.insert("/usr/local/aNULb".into(), entry(None));
                },
                &[("NUL", "%00")],
            ),
            Expectation::default(),
            "NUL",
        ),
        (
            "NUL in member name",
            with_raw(good(), raw(&long_nul, MemberKind::File, b"x", "")),
            Expectation::default(),
            "NUL",
        ),
        (
            "NUL in a ustar name ends it",
            nul.to_bytes().unwrap(),
            Expectation::default(),
            "does not list it",
        ),
        (
            "symlink escape then write through it",
            escape.to_bytes().unwrap(),
            Expectation::default(),
            "written through the symlink `/usr/local/etc`",
        ),
        (
            "member below a file",
            below_file.to_bytes().unwrap(),
            Expectation::default(),
            "below the file `/usr/local/bin/hello`",
        ),
        (
            "hard link to an unseen path",
            {
                let p = with_raw(
                    good(),
                    raw(
                        "/usr/local/bin/pw",
                        MemberKind::HardLink,
                        b"",
                        "/etc/master.passwd",
                    ),
                );
                let mut w = good();
                w.raw_member(raw(
                    "/usr/local/bin/pw",
                    MemberKind::HardLink,
                    b"",
                    "/etc/master.passwd",
                ));
                drop(p);
                with_manifest(&w, |m| {
                    m.files.insert("/usr/local/bin/pw".into(), entry(None));
                })
            },
            Expectation::default(),
            "not a file seen before",
        ),
        (
            "member not in the manifest",
            with_raw(
                good(),
                raw("/usr/local/bin/extra", MemberKind::File, b"x", ""),
            ),
            Expectation::default(),
            "does not list it",
        ),
        (
            "manifest file not in the archive",
            with_manifest(&good(), |m| {
                m.files.insert("/usr/local/bin/ghost".into(), entry(None));
            }),
            Expectation::default(),
            "`/usr/local/bin/ghost` is listed but the archive does not hold it",
        ),
        (
            "duplicate member",
            with_raw(
                good(),
                raw(
                    "/usr/local/bin/hello",
                    MemberKind::File,
                    b"hello binary",
                    "",
                ),
            ),
            Expectation::default(),
            "holds this path twice",
        ),
        (
            "duplicate JSON key",
            {
                let m = good().full_manifest().to_json(true);
                let m = m.replacen(
                    "\"name\":\"hello\"",
                    "\"name\":\"hello\",\"name\":\"evil\"",
                    1,
                );
                good().to_bytes_with(m.as_bytes(), None).unwrap()
            },
            Expectation::default(),
            "`name` appears twice",
        ),
        (
            "file sum mismatch",
            with_manifest(&good(), |m| {
                m.files
                    .insert("/usr/local/bin/hello".into(), entry(sum_of(b"other")));
            }),
            Expectation::default(),
            "has checksum 1$",
        ),
        (
            "blake2 sum mismatch",
            with_manifest(&good(), |m| {
                m.files.insert(
                    "/usr/local/bin/hello".into(),
                    entry(Some(Sum::of_bytes(SumKind::Blake2b, b"other"))),
                );
            }),
            Expectation::default(),
            "has checksum 2$",
        ),
        (
            "symlink sum mismatch",
            {
                let mut w = good();
                w.symlink("/usr/local/lib/l", "x");
                with_manifest(&w, |m| {
                    if let Some(e) = m.files.get_mut("/usr/local/lib/l") {
                        e.sum = Some(Sum::of_symlink(SumKind::Sha256, "y"));
                    }
                })
            },
            Expectation::default(),
            "`/usr/local/lib/l` has checksum",
        ),
        (
            "package sha256 mismatch",
            good().to_bytes().unwrap(),
            Expectation {
                sha256: Some("00".repeat(32)),
                ..Expectation::default()
            },
            "has sha256",
        ),
        (
            "package size mismatch",
            good().to_bytes().unwrap(),
            Expectation {
                size: Some(good_written.size + 1),
                ..Expectation::default()
            },
            "bytes, the catalogue says",
        ),
        (
            "not the package asked for",
            good().to_bytes().unwrap(),
            Expectation {
                name: Some("sudo".into()),
                ..Expectation::default()
            },
            "expected `sudo-2.12_1`",
        ),
        (
            "compact and full manifests disagree",
            {
                let full = good().full_manifest();
                let mut compact = full.compact();
                compact.deps.insert("evil".into(), Default::default());
                good()
                    .to_bytes_with(
                        full.to_json(true).as_bytes(),
                        Some(compact.to_json(false).as_bytes()),
                    )
                    .unwrap()
            },
            Expectation::default(),
            "+COMPACT_MANIFEST disagrees with +MANIFEST (`deps` differs)",
        ),
        (
            "no +MANIFEST",
            {
                let mut b = tar::Builder::new(Vec::new());
                fruix_core::pkg::tar_write::append(
                    &mut b,
                    &raw("/usr/local/bin/hello", MemberKind::File, b"x", ""),
                )
                .unwrap();
                Compression::Zstd
                    .compress(&b.into_inner().unwrap())
                    .unwrap()
            },
            Expectation::default(),
            "no +MANIFEST",
        ),
        (
            "character device",
            with_raw(
                good(),
                raw("/usr/local/dev/mem", MemberKind::CharDevice, b"", ""),
            ),
            Expectation::default(),
            "character devices are not allowed",
        ),
        (
            "FIFO",
            with_raw(good(), raw("/usr/local/fifo", MemberKind::Fifo, b"", "")),
            Expectation::default(),
            "FIFOs are not allowed",
        ),
        (
            "wrong ABI",
            {
                let mut w = good();
                w.manifest_mut().abi = "FreeBSD:14:amd64".into();
                w.to_bytes().unwrap()
            },
            Expectation::default(),
            "built for ABI `FreeBSD:14:amd64`",
        ),
        (
            "wrong architecture",
            {
                let mut w = good();
                w.manifest_mut().abi = "FreeBSD:15:aarch64".into();
                w.to_bytes().unwrap()
            },
            Expectation::default(),
            "built for ABI `FreeBSD:15:aarch64`",
        ),
        (
            "too-new FreeBSD_version",
            {
                let mut w = good();
                w.manifest_mut()
                    .annotations
                    .insert("FreeBSD_version".into(), "1600001".into());
                w.to_bytes().unwrap()
            },
            Expectation::default(),
            "needs FreeBSD_version 1600001",
        ),
        (
            "decompression bomb past flatsize",
            with_manifest(&bomb, |m| m.flatsize = 1000),
            Expectation::default(),
            "more than the manifest's flatsize",
        ),
        (
            "decompression bomb past the cap",
            bomb.to_bytes().unwrap(),
            Expectation {
                limits: Limits {
                    max_manifest: 1 << 20,
                    max_unpacked: 1 << 20,
                },
                ..Expectation::default()
            },
            "exceeds the limit",
        ),
        (
            "huge +MANIFEST",
            big_manifest.to_bytes().unwrap(),
            Expectation {
                limits: Limits {
                    max_manifest: 1 << 20,
                    max_unpacked: 1 << 30,
                },
                ..Expectation::default()
            },
            "member `+COMPACT_MANIFEST`",
        ),
        (
            "lying member size",
            lying,
            Expectation::default(),
            "unreadable or truncated",
        ),
        (
            "member size beyond flatsize",
            lying_flatsize,
            Expectation::default(),
            "more than the manifest's flatsize",
        ),
        (
            "truncated archive",
            truncated,
            Expectation::default(),
            "unreadable or truncated",
        ),
        (
            "wrong magic",
            b"PK\x03\x04 this is a zip file, not a package".to_vec(),
            Expectation::default(),
            "no zstd, xz, gzip, bzip2 or tar magic",
        ),
        (
            "empty file",
            Vec::new(),
            Expectation::default(),
            "no zstd, xz, gzip, bzip2 or tar magic",
        ),
        (
            "unknown script key",
            with_manifest_text(
                &good(),
                |m| {
                    m.scripts
                        .insert(fruix_core::pkg::ScriptPhase::PostInstall, "x".into());
                },
                &[("\"post-install\"", "\"post-instal\"")],
            ),
            Expectation::default(),
            "unknown script `post-instal`",
        ),
        (
            "malformed manifest",
            good().to_bytes_with(b"{\"name\":\"hello\"", None).unwrap(),
            Expectation::default(),
            "EOF",
        ),
        (
            "UCL manifest",
            good().to_bytes_with(b"name: hello\n", None).unwrap(),
            Expectation::default(),
            "only the JSON form",
        ),
        (
            "unknown owner",
            unknown_owner.to_bytes().unwrap(),
            Expectation::default(),
            "owned by user `www`, which the system does not define",
        ),
    ];
    let before = listing(store.dir());
    for (name, bytes, mut exp, why) in cases {
        if exp.target.abi.is_empty() {
            exp.target = target();
        }
        let file = tmp.path().join("hostile.pkg");
        std::fs::write(&file, &bytes).unwrap();
        let err = match import(&store, &file, &exp, &RootOnly) {
            Ok(p) => panic!("{name}: imported as {p:?}"),
            Err(e) => e,
        };
        let text = err.to_string();
        assert!(text.contains(why), "{name}: `{text}` does not say `{why}`");
        assert!(
            text.contains("hello") || text.contains("hostile.pkg") || text.contains("bomb"),
            "{name}: `{text}` does not name the package"
        );
        assert_eq!(listing(store.dir()), before, "{name}: the store changed");
    }
}

fn write_repo(dir: &Path, edit: impl FnOnce(&mut RepoWriter)) -> PathBuf {
    let mut repo = RepoWriter::new(dir);
    repo.add(&good()).unwrap();
    let mut other = PackageWriter::new("other", "1.0");
    other.file("/usr/local/bin/other", b"o", Meta::root(0o755));
    repo.add(&other).unwrap();
    edit(&mut repo);
    repo.write().unwrap();
    dir.to_owned()
}

#[test]
fn hostile_catalogues_are_refused_naming_the_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let mut n = 0;
    let mut dir = || {
        n += 1;
        tmp.path().join(format!("repo{n}"))
    };
    let cases: Vec<(&str, PathBuf, &str)> = vec![
        (
            "duplicate name",
            write_repo(&dir(), |r| {
                let dup = r.entries_mut()[0].clone();
                r.entries_mut().push(dup);
            }),
            "package `hello`: the catalogue lists this name twice",
        ),
        (
            "absolute repopath",
            write_repo(&dir(), |r| {
                r.entries_mut()[0].repopath = "/etc/passwd".into()
            }),
            "package `hello`: path `/etc/passwd` is absolute",
        ),
        (
            "repopath with ..",
            write_repo(&dir(), |r| {
                r.entries_mut()[1].repopath = "All/../../../x.pkg".into()
            }),
            "package `other`: path `All/../../../x.pkg`: `..` is not allowed",
        ),
        (
            "repopath with %2e%2e",
            write_repo(&dir(), |r| {
                r.entries_mut()[1].repopath = "All/%2e%2e/x.pkg".into()
            }),
            "package `other`: path",
        ),
        (
            "malformed sum",
            write_repo(&dir(), |r| r.entries_mut()[0].sha256 = "zz".into()),
            "package `hello`: checksum `zz` is malformed",
        ),
        (
            "missing required key",
            write_repo(&dir(), |r| {
                r.raw_entry(
                    r#"{"name":"bad","version":"1","sum":"00","pkgsize":1,"path":"All/bad.pkg"}"#,
                );
            }),
            "package `bad`: the required key `origin` is missing",
        ),
        (
            "entry with no name",
            write_repo(&dir(), |r| {
                r.raw_entry(r#"{"x":1}"#);
            }),
            "package `#3`: the required key `name` is missing",
        ),
        (
            "duplicate JSON key in an entry",
            write_repo(&dir(), |r| {
                r.raw_entry(r#"{"name":"a","name":"b"}"#);
            }),
            "`name` appears twice",
        ),
        (
            "not JSON",
            write_repo(&dir(), |r| {
                r.raw_entry("name: x");
            }),
            "expected",
        ),
    ];
    for (name, repo, why) in cases {
        let err = Catalogue::read_dir(&repo)
            .map(|c| c.entries.len())
            .unwrap_err()
            .to_string();
        assert!(err.contains(why), "{name}: `{err}` does not say `{why}`");
        // packagesite.pkg (one JSON per line) refuses it too.
        std::fs::remove_file(repo.join("data.pkg")).unwrap();
        std::fs::remove_file(repo.join("data.tzst")).unwrap();
        let err = Catalogue::read_dir(&repo)
            .map(|c| c.entries.len())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(why) || name.contains("entry with no name") || name.contains("not JSON"),
            "{name} (packagesite): `{err}` does not say `{why}`"
        );
    }
    // A foreign-ABI entry makes the catalogue unusable, naming the entry.
    let repo = write_repo(&dir(), |r| {
        r.entries_mut()[1].manifest.abi = "FreeBSD:14:amd64".into()
    });
    let cat = Catalogue::read_dir(&repo).unwrap();
    let err = cat.check_abi(&target()).unwrap_err().to_string();
    assert!(
        err.contains("package `other`") && err.contains("FreeBSD:14:amd64"),
        "{err}"
    );
    // Truncated, bombed or wrong-magic catalogue archives.
    let repo = write_repo(&dir(), |_| {});
    let data = repo.join("data.pkg");
    let bytes = std::fs::read(&data).unwrap();
    std::fs::write(&data, &bytes[..bytes.len() / 2]).unwrap();
    let err = Catalogue::read_dir(&repo).unwrap_err().to_string();
    assert!(err.contains("unreadable or truncated"), "{err}");
    std::fs::write(&data, b"garbage").unwrap();
    let err = Catalogue::read_dir(&repo).unwrap_err().to_string();
    assert!(
        err.contains("no zstd, xz, gzip, bzip2 or tar magic"),
        "{err}"
    );
    let err =
        fruix_core::pkg::catalogue::read_members(&repo.join("packagesite.pkg"), 100).unwrap_err();
    assert!(matches!(err, PkgError::TooLarge { .. }), "{err}");
    std::fs::write(
        repo.join("meta.conf"),
        "version = 2;\nsignature { type = x; }\n",
    )
    .unwrap();
    let err = Catalogue::read_dir(&repo).unwrap_err().to_string();
    assert!(err.contains("meta.conf: line 2"), "{err}");
}
