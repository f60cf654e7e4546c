//! Packages written by `pkg::create` in every compression, read back and imported into a
//! real store: files at their install paths with owners, modes (setuid), flags, hard
//! links, symlinks and `@sample` configuration files.

use fruix_core::pkg::archive::{PkgArchive, Target};
use fruix_core::pkg::compress::Compression;
use fruix_core::pkg::create::{Meta, PackageWriter};
use fruix_core::pkg::import::{import, Expectation, OwnerIds};
use fruix_core::pkg::{PkgError, ScriptPhase, SumKind};
use fruix_core::store::{ImageMeta, Store};
use std::fs;
use std::os::unix::fs::MetadataExt;

struct Accounts;

impl OwnerIds for Accounts {
    fn uid(&self, name: &str) -> Option<u32> {
        match name {
            "root" => Some(0),
            "www" => Some(80),
            _ => None,
        }
    }
    fn gid(&self, name: &str) -> Option<u32> {
        match name {
            "wheel" => Some(0),
            "www" => Some(80),
            _ => None,
        }
    }
}

const SCHG: u32 = 0x2_0000;

fn sudo() -> PackageWriter {
    let mut p = PackageWriter::new("sudo", "1.9.16p2_1,1");
    p.manifest_mut().origin = "security/sudo".into();
    p.manifest_mut()
        .annotations
        .insert("FreeBSD_version".into(), "1500000".into());
    p.file("/usr/local/bin/sudo", b"\x7fELF sudo", Meta::root(0o4111))
        .hard_link("/usr/local/bin/sudoedit", "/usr/local/bin/sudo")
        .file(
            "/usr/local/etc/sudoers.sample",
            b"root ALL=(ALL) ALL\n",
            Meta::root(0o440),
        )
        .sample("etc/sudoers.sample")
        .file(
            "/usr/local/lib/libsudo_util.so.0",
            b"lib",
            Meta::root(0o444),
        )
        .symlink("/usr/local/lib/libsudo_util.so", "libsudo_util.so.0")
        .file(
            "/usr/local/www/index.html",
            b"<p>hi</p>",
            Meta::new("www", "www", 0o640),
        )
        .file(
            "/usr/local/libexec/pinned",
            b"x",
            Meta::root(0o555).flags(SCHG),
        )
        .dir("/usr/local/etc/sudoers.d", Meta::root(0o750))
        .script(ScriptPhase::PostInstall, "echo 100% done");
    p
}

fn target() -> Target {
    Target {
        abi: "FreeBSD:15:amd64".into(),
        osversion: Some(1500068),
    }
}

#[test]
fn every_compression_imports_with_owners_modes_links_and_samples() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    let mut paths = Vec::new();
    for (i, c) in Compression::ALL.into_iter().enumerate() {
        let mut p = sudo();
        p.compression(c);
        if i == 1 {
            p.sum_kind(SumKind::Blake2b);
        }
        let file = tmp.path().join(format!("sudo-{}.pkg", c.format_name()));
        let written = p.write(&file).unwrap();
        let archive = PkgArchive::open(&file).unwrap();
        assert_eq!(archive.compression(), c);
        assert_eq!(archive.manifest().files.len(), 7);
        let expect = Expectation {
            target: target(),
            sha256: Some(written.sha256.clone()),
            name: Some("sudo".into()),
            version: Some("1.9.16p2_1,1".into()),
            ..Expectation::default()
        };
        let got = import(&store, &file, &expect, &Accounts).unwrap();
        assert_eq!(got.path.name(), "sudo-1.9.16p2_1_1");
        assert_eq!(
            got.manifest.scripts[&ScriptPhase::PostInstall],
            "echo 100% done"
        );
        assert_eq!(got.samples.len(), 1);
        assert_eq!(got.samples[0].target, "usr/local/etc/sudoers");
        let root = store.physical(&got.path);
        let rec = store.record(&got.path).unwrap();
        assert_eq!(
            rec.image_meta["usr/local/bin/sudo"],
            ImageMeta::root(0o4111)
        );
        assert_eq!(
            rec.image_meta["usr/local/www/index.html"],
            ImageMeta {
                uid: 80,
                gid: 80,
                perm: 0o640,
                flags: 0
            }
        );
        assert_eq!(rec.image_meta["usr/local/libexec/pinned"].flags, SCHG);
        assert_eq!(rec.image_meta["usr/local/etc/sudoers.d"].perm, 0o750);
        assert_eq!(
            rec.image_meta["usr/local/etc/sudoers"],
            ImageMeta::root(0o440)
        );
        let sudo_md = fs::metadata(root.join("usr/local/bin/sudo")).unwrap();
        let edit_md = fs::metadata(root.join("usr/local/bin/sudoedit")).unwrap();
        assert_eq!(sudo_md.ino(), edit_md.ino(), "hard link kept");
        assert_eq!(
            fs::read_link(root.join("usr/local/lib/libsudo_util.so")).unwrap(),
            std::path::Path::new("libsudo_util.so.0")
        );
        assert_eq!(
            fs::read(root.join("usr/local/etc/sudoers")).unwrap(),
            b"root ALL=(ALL) ALL\n"
        );
        paths.push(got.path);
    }
    // The same files and metadata make the same item, whatever the compression or sums.
    assert!(paths.windows(2).all(|w| w[0] == w[1]), "{paths:?}");
}

#[test]
fn the_tar_is_standard_for_python_tarfile() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("sudo.tar");
    let mut p = sudo();
    p.compression(Compression::None);
    p.write(&file).unwrap();
    let script = "import sys,tarfile\nfor m in tarfile.open(sys.argv[1]):\n print(m.name, oct(m.mode), m.uname, m.type.decode() if m.type else '0', m.linkname)";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&file)
        .output()
        .expect("python3 must be installed (.ci/run installs it): it reads our tar independently");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains("+COMPACT_MANIFEST"), "{listing}");
    assert!(
        listing.contains("/usr/local/bin/sudo 0o4111 root 0"),
        "{listing}"
    );
    assert!(
        listing.contains("/usr/local/bin/sudoedit 0o4111 root 1 /usr/local/bin/sudo"),
        "{listing}"
    );
    assert!(
        listing.contains("/usr/local/lib/libsudo_util.so 0o755 root 2 libsudo_util.so.0"),
        "{listing}"
    );
    assert!(
        listing.contains("/usr/local/etc/sudoers.d 0o750 root 5"),
        "{listing}"
    );
}

#[test]
fn abi_and_osversion_are_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    let file = tmp.path().join("sudo.pkg");
    sudo().write(&file).unwrap();
    let mut expect = Expectation {
        target: Target {
            abi: "FreeBSD:14:amd64".into(),
            osversion: None,
        },
        ..Expectation::default()
    };
    let e = import(&store, &file, &expect, &Accounts).unwrap_err();
    assert!(matches!(e, PkgError::Abi { .. }), "{e}");
    expect.target = Target {
        abi: "FreeBSD:15:amd64".into(),
        osversion: Some(1400000),
    };
    let e = import(&store, &file, &expect, &Accounts).unwrap_err();
    assert!(matches!(e, PkgError::TooNew { needs: 1500000, .. }), "{e}");
    let mut noarch = sudo();
    noarch.manifest_mut().abi = "FreeBSD:15:*".into();
    noarch.write(&file).unwrap();
    expect.target = target();
    import(&store, &file, &expect, &Accounts).unwrap();
}
