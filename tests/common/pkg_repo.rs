//! A generated pkg repository for the system tests, written with the project's own
//! `pkg create` / `pkg repo` equivalents:
//!
//! ```text
//! libfoo 1.0     xz     lib/libfoo.so.1 + symlink libfoo.so; post-install script
//! sudo 1.9.16p2  zstd   bin/sudo 4111 root:wheel, hard link bin/sudoedit,
//!                       etc/sudoers.sample (@sample); depends on libfoo
//! svc 2.0        gzip   user/group svcd (901) from a ports-style pre-install pw script,
//!                       sbin/svcd 0750 svcd:svcd, post-install script; depends on sudo
//! tiny 0.1       bzip2  share/tiny/README
//! plain 0.1      none   share/plain/README
//! ```

use fruix_core::pkg::compress::Compression;
use fruix_core::pkg::create::{Meta, PackageWriter, RepoWriter};
use fruix_core::pkg::{Dependency, ScriptPhase};
use std::path::Path;

/// The bytes of `sudo`.
pub const SUDO: &[u8] = b"#!/bin/sh\necho sudo stand-in\n";

/// The pre-install script of `svc`, as `Mk/Scripts/do-users-groups.sh` writes them.
pub const SVC_PRE_INSTALL: &str = r#"if [ -n "${PKG_ROOTDIR}" ] && [ "${PKG_ROOTDIR}" != "/" ]; then
  PW="/usr/sbin/pw -R ${PKG_ROOTDIR}"
else
  PW=/usr/sbin/pw
fi
echo "===> Creating groups."
if ! ${PW} groupshow svcd >/dev/null 2>&1; then
  echo "Creating group 'svcd' with gid '901'."
  ${PW} groupadd svcd -g 901
else
  echo "Using existing group 'svcd'."
fi
echo "===> Creating users"
if ! ${PW} usershow svcd >/dev/null 2>&1; then
  echo "Creating user 'svcd' with uid '901'."
  ${PW} useradd svcd -u 901 -g 901  -c "Svc daemon" -d /nonexistent -s /usr/sbin/nologin
else
  echo "Using existing user 'svcd'."
fi
"#;

fn depends(p: &mut PackageWriter, name: &str, version: &str) {
    p.manifest_mut().deps.insert(
        name.to_owned(),
        Dependency {
            origin: format!("misc/{name}"),
            version: version.to_owned(),
        },
    );
}

/// The packages, as writers (to add to a repository or write as files).
pub fn packages() -> Vec<PackageWriter> {
    let mut libfoo = PackageWriter::new("libfoo", "1.0");
    libfoo
        .compression(Compression::Xz)
        .file(
            "/usr/local/lib/libfoo.so.1",
            b"\x7fELF libfoo",
            Meta::root(0o444),
        )
        .symlink("/usr/local/lib/libfoo.so", "libfoo.so.1")
        .script(
            ScriptPhase::PostInstall,
            "echo \"libfoo: $1 installed in ${PKG_PREFIX}\"\n",
        );

    let mut sudo = PackageWriter::new("sudo", "1.9.16p2");
    sudo.compression(Compression::Zstd)
        .file("/usr/local/bin/sudo", SUDO, Meta::root(0o4111))
        .hard_link("/usr/local/bin/sudoedit", "/usr/local/bin/sudo")
        .file(
            "/usr/local/etc/sudoers.sample",
            b"root ALL=(ALL:ALL) ALL\n",
            Meta::root(0o440),
        )
        .sample("etc/sudoers.sample");
    depends(&mut sudo, "libfoo", "1.0");

    let mut svc = PackageWriter::new("svc", "2.0");
    svc.compression(Compression::Gzip)
        .file(
            "/usr/local/sbin/svcd",
            b"#!/bin/sh\nexec sleep 1\n",
            Meta::new("svcd", "svcd", 0o750),
        )
        .script(ScriptPhase::PreInstall, SVC_PRE_INSTALL)
        .script(
            ScriptPhase::PostInstall,
            "echo \"svc: $1 post-install, 100% done\"\n",
        );
    svc.manifest_mut().users = vec!["svcd".into()];
    svc.manifest_mut().groups = vec!["svcd".into()];
    depends(&mut svc, "sudo", "1.9.16p2");

    let mut tiny = PackageWriter::new("tiny", "0.1");
    tiny.compression(Compression::Bzip2).file(
        "/usr/local/share/tiny/README",
        b"tiny\n",
        Meta::root(0o644),
    );

    let mut plain = PackageWriter::new("plain", "0.1");
    plain.compression(Compression::None).file(
        "/usr/local/share/plain/README",
        b"plain\n",
        Meta::root(0o644),
    );
    vec![libfoo, sudo, svc, tiny, plain]
}

/// Writes the repository (every package of [`packages`] plus `extra`) into `dir`.
pub fn write(dir: &Path, extra: &[PackageWriter]) {
    let mut repo = RepoWriter::new(dir);
    for p in packages().iter().chain(extra) {
        repo.add(p).unwrap();
    }
    repo.write().unwrap();
}
