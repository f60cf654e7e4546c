//! A base made of pkgbase packages (`FreeBSD-*`, FreeBSD 15.0 and later).
//!
//! The system stage resolves, locks and fetches the packages like any others
//! (`system::pkgbase`); here their checked members ([`PkgArchive::members`]) go one at a
//! time through the same slicer as release sets: `boot/kernel` becomes the kernel slice,
//! the rest of `boot/` the boot loader slice, everything else the runtime. Owners come
//! from the members' names (`root:wheel`, `root:tty`...), mapped through FreeBSD's own
//! account table, since the base defines the accounts; modes (setuid included) and flags
//! from the package; hard links and symlinks are kept.
//!
//! Install scripts are not run, at build time or later (the package stage's first-boot
//! runner is for `pkg(...)` packages). What pkgbase's post-install scripts do (PKG.md §4):
//! - `pwd_mkdb` (FreeBSD-runtime): done; the activation script runs it at every boot over
//!   the `master.passwd` the system generates;
//! - `services_mkdb` (FreeBSD-runtime): not done; `/var/db/services.db` is absent until
//!   `services_mkdb -l -q -o /var/db/services.db /etc/services` is run on the machine;
//! - `certctl rehash` (FreeBSD-caroot): not done; `/etc/ssl/certs` has no hashed links
//!   until `certctl rehash` is run on the machine;
//! - `kldxref` (kernels, uncertain in 15.0): not done; the kernel package's own
//!   `boot/kernel/linker.hints`, if it has one, is used as it is.
//!
//! Two base packages may share directories but not files; a package that is not a
//! `FreeBSD-*` one, a foreign ABI, or a refused member fail the import naming the
//! package, and the store is left as it was.

use super::dist::{cache_key, hex};
use super::loader_efi::LoaderEfi;
use super::slices::{
    read_index, BaseError, BaseItems, BasePackageRecord, EntryData, Provenance, Set, Slicer,
};
use crate::pkg::archive::{normalize, MemberData, PkgArchive, Target};
use crate::pkg::import::{open_checked, Expectation};
use crate::pkg::PkgError;
use crate::store::{ImageMeta, Store};
use crate::FreeBsdBase;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

/// The prefix every pkgbase package name has.
pub const BASE_PREFIX: &str = "FreeBSD-";

/// Is `name` a pkgbase package's name?
pub fn is_base_package(name: &str) -> bool {
    name.len() > BASE_PREFIX.len() && name.starts_with(BASE_PREFIX)
}

/// One base package, fetched and pinned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasePackage {
    /// The `.pkg` file (in the download cache).
    pub file: PathBuf,
    /// Its name, as pinned.
    pub name: String,
    /// Its version, as pinned.
    pub version: String,
    /// Its sha256, as pinned.
    pub sha256: String,
}

impl BasePackage {
    fn label(&self) -> String {
        format!("{}-{}", self.name, self.version)
    }
}

/// Imports `packages` of pkgbase repository `repository` (for ABI `abi`) as the slices of
/// `base`, or finds them in the store.
pub fn materialize(
    base: &FreeBsdBase,
    repository: &str,
    abi: &str,
    packages: &[BasePackage],
    store: &Store,
) -> Result<BaseItems, BaseError> {
    for p in packages {
        if !is_base_package(&p.name) {
            return Err(BaseError::NotBasePackage {
                package: p.name.clone(),
                needed_by: "the declaration".to_owned(),
                repository: repository.to_owned(),
            });
        }
    }
    let loader = LoaderEfi::of(base)?;
    let provenance = Provenance {
        release: base.release.clone(),
        arch: base.arch.name().to_owned(),
        source: "pkgbase".to_owned(),
        base_sha256: None,
        kernel_sha256: None,
        loader_efi_sha256: loader.as_ref().map(|l| l.sha256.clone()),
        repository: Some(repository.to_owned()),
        packages: packages
            .iter()
            .map(|p| BasePackageRecord {
                name: p.name.clone(),
                version: p.version.clone(),
                sha256: p.sha256.clone(),
            })
            .collect(),
    };
    // The packages' sums identify the base; the repository's name only labels them.
    let mut packages_digest = Sha256::new();
    for p in packages {
        packages_digest.update(format!("{}\0{}\0{}\n", p.name, p.version, p.sha256));
    }
    let key = cache_key(&Provenance {
        base_sha256: Some(hex(&packages_digest.finalize())),
        ..provenance.clone()
    });
    let index = store.build_cached::<BaseError>(&key, |store| {
        let target = Target {
            abi: abi.to_owned(),
            osversion: None,
        };
        let mut archives = Vec::new();
        for p in packages {
            let expect = Expectation {
                target: target.clone(),
                sha256: Some(p.sha256.clone()),
                name: Some(p.name.clone()),
                version: Some(p.version.clone()),
                ..Expectation::default()
            };
            let archive = open_checked(&p.file, &expect).map_err(|e| package_error(p, e))?;
            archives.push(archive);
        }
        check_owners(packages, &archives)?;
        let origin = format!("pkgbase repository `{repository}`");
        let mut slicer = Slicer::new(store, &base.release, &origin)?;
        let mut dirs = HashSet::new();
        for (p, archive) in packages.iter().zip(&archives) {
            slice_package(p, archive, &mut slicer, &mut dirs)?;
        }
        Ok(slicer
            .finish(store, provenance.clone(), loader.as_ref())?
            .base)
    })?;
    read_index(store, &index)
}

fn package_error(p: &BasePackage, e: PkgError) -> BaseError {
    BaseError::PkgbasePackage {
        package: p.label(),
        source: Box::new(e),
    }
}

/// Refuses two packages listing one file, or a file where another has a directory,
/// from the manifests, before anything is written.
fn check_owners(packages: &[BasePackage], archives: &[PkgArchive]) -> Result<(), BaseError> {
    // Path -> (owning package, is a directory).
    let mut owners: BTreeMap<String, (usize, bool)> = BTreeMap::new();
    for (i, archive) in archives.iter().enumerate() {
        let m = archive.manifest();
        let files = m.files.keys().map(|p| (p, false));
        let dirs = m.directories.keys().map(|p| (p, true));
        for (raw, is_dir) in files.chain(dirs) {
            let Ok(Some(path)) = normalize(raw) else {
                // The member walk refuses it, naming the member.
                continue;
            };
            match owners.get(&path) {
                Some(&(_, true)) if is_dir => {}
                Some(&(first, _)) if first != i => {
                    return Err(BaseError::PkgbaseConflict {
                        path,
                        first: packages[first].label(),
                        second: packages[i].label(),
                    })
                }
                Some(_) => {}
                None => {
                    owners.insert(path, (i, is_dir));
                }
            }
        }
    }
    Ok(())
}

/// Feeds `archive`'s checked members to the slicer. Directories another base package
/// made already are skipped (pkgbase packages share `etc`, `usr/bin`, `boot`...).
fn slice_package(
    p: &BasePackage,
    archive: &PkgArchive,
    slicer: &mut Slicer<'_>,
    dirs: &mut HashSet<String>,
) -> Result<(), BaseError> {
    slicer.set_origin(&p.label());
    // The walk speaks `PkgError`; the slicer's refusals are kept here and returned as
    // they are.
    let mut refused: Option<BaseError> = None;
    let walked = archive.members(&mut |member| {
        let unknown = |kind: &'static str, owner: &str| PkgError::UnknownOwner {
            package: p.label(),
            path: format!("/{}", member.path),
            kind,
            owner: owner.to_owned(),
        };
        let uid = fruix_spec::freebsd::system_user(&member.meta.uname)
            .map(|u| u.uid)
            .ok_or_else(|| unknown("user", &member.meta.uname))?;
        let gid = fruix_spec::freebsd::system_group(&member.meta.gname)
            .map(|g| g.gid)
            .ok_or_else(|| unknown("group", &member.meta.gname))?;
        let meta = ImageMeta {
            uid,
            gid,
            perm: member.meta.perm,
            flags: member.meta.fflags,
        };
        let data = match member.data {
            MemberData::Dir => {
                if !dirs.insert(member.path.to_owned()) {
                    return Ok(());
                }
                EntryData::Dir
            }
            MemberData::File(data) => EntryData::File {
                data,
                exec: meta.perm & 0o111 != 0,
            },
            MemberData::Symlink(target) => EntryData::Symlink(target.to_owned()),
            MemberData::HardLink(first) => EntryData::HardLink(first.to_owned()),
        };
        let set = Set::of_install_path(member.path);
        slicer.add(set, member.path, data, meta).map_err(|e| {
            let why = e.to_string();
            refused = Some(e);
            PkgError::Member {
                package: p.label(),
                member: member.path.to_owned(),
                why,
            }
        })
    });
    match (walked, refused) {
        (_, Some(e)) => Err(e),
        (Err(e), None) => Err(package_error(p, e)),
        (Ok(()), None) => Ok(()),
    }
}
