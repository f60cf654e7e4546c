//! A sample FreeBSD base generated in-process: FreeBSD's layout, ownership and modes
//! (setuid `su`, `schg` on `init` and the kernel, hard-linked `[`), with files that say
//! plainly that they are placeholders. It lets builds and tests run offline and fast;
//! images made from it have the real structure but do not boot a real kernel. It holds
//! every program the generated scripts run (daemon, limits, ps, pwait, rcorder, ...), so
//! that systems built from it pass the closure-completeness check as real ones do.
//! `FRUIX_FREEBSD_DIST` (see the `systems` crate) switches to real release sets.

use super::dist::cache_key;
use super::loader_efi::LoaderEfi;
use super::slices::{read_index, BaseError, BaseItems, EntryData, Provenance, Set, Slicer};
use crate::store::{ImageMeta, Store};
use crate::FreeBsdBase;

/// `schg`: the system-immutable flag FreeBSD sets on init, libc, ld-elf and the kernel.
const SCHG: u32 = 0x2_0000;
/// Bumped whenever the generated contents change.
const SAMPLE_VERSION: &str = "sample-v3";

enum Kind {
    Dir,
    File,
    Text(&'static [u8]),
    Link(&'static str),
    Hard(&'static str),
}

struct Sample {
    path: &'static str,
    kind: Kind,
    perm: u16,
    gid: u32,
    flags: u32,
}

const fn e(path: &'static str, kind: Kind, perm: u16) -> Sample {
    Sample {
        path,
        kind,
        perm,
        gid: 0,
        flags: 0,
    }
}

const fn schg(path: &'static str, perm: u16) -> Sample {
    Sample {
        path,
        kind: Kind::File,
        perm,
        gid: 0,
        flags: SCHG,
    }
}

/// A real, minimal TZif file for UTC (version 2: v1 block, v2 block, footer).
const UTC_TZIF: &[u8] = b"TZif2\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\0\0\0\x04\0\0\0\0\0\0UTC\0\
TZif2\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\0\0\0\x04\0\0\0\0\0\0UTC\0\nUTC0\n";

const BASE: &[Sample] = &[
    e("bin", Kind::Dir, 0o755),
    e("bin/sh", Kind::File, 0o555),
    e("bin/cat", Kind::File, 0o555),
    e("bin/chmod", Kind::File, 0o555),
    e("bin/cp", Kind::File, 0o555),
    e("bin/ln", Kind::File, 0o555),
    e("bin/ls", Kind::File, 0o555),
    e("bin/mkdir", Kind::File, 0o555),
    e("bin/ps", Kind::File, 0o555),
    e("bin/pwait", Kind::File, 0o555),
    e("bin/rm", Kind::File, 0o555),
    e("bin/test", Kind::File, 0o555),
    e("bin/[", Kind::Hard("bin/test"), 0o555),
    e("boot", Kind::Dir, 0o755),
    e("boot/defaults", Kind::Dir, 0o755),
    e("boot/defaults/loader.conf", Kind::File, 0o444),
    e("boot/device.hints", Kind::File, 0o644),
    e("boot/loader", Kind::File, 0o555),
    e("boot/loader.efi", Kind::File, 0o555),
    e("boot/lua", Kind::Dir, 0o755),
    e("boot/lua/loader.lua", Kind::File, 0o444),
    e("etc", Kind::Dir, 0o755),
    e("etc/defaults", Kind::Dir, 0o755),
    e("etc/defaults/rc.conf", Kind::File, 0o444),
    e("etc/login.conf", Kind::File, 0o644),
    e("etc/mtree", Kind::Dir, 0o755),
    e("etc/mtree/BSD.var.dist", Kind::File, 0o444),
    e("etc/rc", Kind::File, 0o644),
    e("etc/rc.d", Kind::Dir, 0o755),
    e("etc/rc.d/sshd", Kind::File, 0o555),
    e("etc/rc.shutdown", Kind::File, 0o644),
    e("etc/rc.subr", Kind::File, 0o644),
    e("etc/services", Kind::File, 0o644),
    e("etc/ssh", Kind::Dir, 0o755),
    e("etc/ssh/sshd_config", Kind::File, 0o644),
    e("etc/termcap", Kind::Link("/usr/share/misc/termcap"), 0o755),
    e("etc/ttys", Kind::File, 0o644),
    e("lib", Kind::Dir, 0o755),
    schg("lib/libc.so.7", 0o444),
    e("libexec", Kind::Dir, 0o755),
    schg("libexec/ld-elf.so.1", 0o555),
    e("sbin", Kind::Dir, 0o755),
    e("sbin/dhclient", Kind::File, 0o555),
    e("sbin/fsck_ufs", Kind::File, 0o555),
    e("sbin/ifconfig", Kind::File, 0o555),
    schg("sbin/init", 0o500),
    e("sbin/mount", Kind::File, 0o555),
    e("sbin/rcorder", Kind::File, 0o555),
    e("usr", Kind::Dir, 0o755),
    e("usr/bin", Kind::Dir, 0o755),
    e("usr/bin/env", Kind::File, 0o555),
    e("usr/bin/install", Kind::File, 0o555),
    e("usr/bin/limits", Kind::File, 0o555),
    e("usr/bin/login", Kind::File, 0o4555),
    e("usr/bin/passwd", Kind::File, 0o4555),
    e("usr/bin/ssh-keygen", Kind::File, 0o555),
    e("usr/bin/su", Kind::File, 0o4555),
    e("usr/bin/touch", Kind::File, 0o555),
    Sample {
        path: "usr/bin/wall",
        kind: Kind::File,
        perm: 0o2555,
        gid: 4,
        flags: 0,
    },
    e("usr/libexec", Kind::Dir, 0o755),
    e("usr/libexec/getty", Kind::File, 0o555),
    e("usr/sbin", Kind::Dir, 0o755),
    e("usr/sbin/cap_mkdb", Kind::File, 0o555),
    e("usr/sbin/daemon", Kind::File, 0o555),
    e("usr/sbin/nologin", Kind::File, 0o555),
    e("usr/sbin/pwd_mkdb", Kind::File, 0o555),
    e("usr/sbin/sshd", Kind::File, 0o555),
    e("usr/share", Kind::Dir, 0o755),
    e("usr/share/misc", Kind::Dir, 0o755),
    e("usr/share/misc/termcap", Kind::File, 0o444),
    e("usr/share/zoneinfo", Kind::Dir, 0o755),
    e("usr/share/zoneinfo/Etc", Kind::Dir, 0o755),
    e("usr/share/zoneinfo/UTC", Kind::Text(UTC_TZIF), 0o444),
    e(
        "usr/share/zoneinfo/Etc/UTC",
        Kind::Hard("usr/share/zoneinfo/UTC"),
        0o444,
    ),
];

const KERNEL: &[Sample] = &[
    e("boot", Kind::Dir, 0o755),
    e("boot/kernel", Kind::Dir, 0o755),
    schg("boot/kernel/kernel", 0o555),
    e("boot/kernel/if_vtnet.ko", Kind::File, 0o555),
    e("boot/kernel/linker.hints", Kind::File, 0o444),
    e("boot/kernel/virtio_console.ko", Kind::File, 0o555),
    e("boot/kernel/vmm.ko", Kind::File, 0o555),
    e("boot/kernel/zfs.ko", Kind::File, 0o555),
];

/// The placeholder text of a sample file.
pub fn placeholder(release: &str, arch: &str, path: &str) -> String {
    format!("fruix sample base: placeholder for /{path} of FreeBSD {release} ({arch}); not a real program\n")
}

/// Generates the sample base for `base` into `store` (or finds it there).
pub fn materialize(base: &FreeBsdBase, store: &Store) -> Result<BaseItems, BaseError> {
    let loader = LoaderEfi::of(base)?;
    let provenance = Provenance {
        release: base.release.clone(),
        arch: base.arch.name().to_owned(),
        source: "sample".to_owned(),
        base_sha256: Some(SAMPLE_VERSION.to_owned()),
        kernel_sha256: None,
        loader_efi_sha256: loader.as_ref().map(|l| l.sha256.clone()),
        repository: None,
        packages: Vec::new(),
    };
    let key = cache_key(&provenance);
    let index = store.build_cached::<BaseError>(&key, |store| {
        let mut slicer = Slicer::new(store, &base.release, "sample base")?;
        for (set, entries) in [(Set::Base, BASE), (Set::Kernel, KERNEL)] {
            for s in entries {
                let meta = ImageMeta {
                    uid: 0,
                    gid: s.gid,
                    perm: s.perm,
                    flags: s.flags,
                };
                let text = placeholder(&base.release, base.arch.name(), s.path);
                let mut bytes: &[u8] = match s.kind {
                    Kind::Text(bytes) => bytes,
                    _ => text.as_bytes(),
                };
                let data = match s.kind {
                    Kind::Dir => EntryData::Dir,
                    Kind::File | Kind::Text(_) => EntryData::File {
                        data: &mut bytes,
                        exec: s.perm & 0o111 != 0,
                    },
                    Kind::Link(target) => EntryData::Symlink(target.to_owned()),
                    Kind::Hard(target) => EntryData::HardLink(target.to_owned()),
                };
                slicer.add(set, s.path, data, meta)?;
            }
        }
        Ok(slicer
            .finish(store, provenance.clone(), loader.as_ref())?
            .base)
    })?;
    read_index(store, &index)
}
