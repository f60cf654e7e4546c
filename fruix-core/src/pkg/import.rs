//! A checked `.pkg` becomes one store item, `<name>-<version>` (the store adds the hash),
//! holding the package's files at their install paths relative to `/`
//! (`usr/local/bin/sudo`) with the owners, modes (setuid included) and flags the package
//! gives them, its hard links and symlinks kept.
//!
//! Owner and group names become ids through the caller's [`OwnerIds`] (the system's
//! accounts, including those packages add); a name it does not know is an error.
//!
//! Configuration samples, the way pkg installs them: ports' `@sample x.sample` keyword is
//! a lua post-install script that copies `x.sample` to `x` when `x` is absent. A fresh
//! system has no `x`, so the import adds `x` as a copy of `x.sample` (same owner and mode)
//! for every `pkg.prefixed_path("….sample")` that a post-install lua script passing it to
//! `pkg.copy` names, when the package holds that sample file and does not install `x`
//! itself. [`ImportedPackage::samples`] lists them, so the script stage can skip those
//! scripts. `config` files (`@config`) need nothing: pkg merges them only on upgrade.
//!
//! Paths under the root's entries Fruix makes itself (`/frx`, `/run`, `/activate`) are
//! refused.
//!
//! Nothing is kept when anything fails: the item's staging directory is removed and the
//! store is as it was.

use super::archive::{normalize, Limits, MemberData, PkgArchive, Target};
use super::error::{PkgError, Result};
use super::manifest::{Manifest, ScriptPhase};
use crate::io_error::io;
use crate::rootfs::RESERVED_TOP_LEVEL;
use crate::store::{is_valid_item_name, ImageMeta, Store, StorePath};
use std::collections::BTreeMap;
use std::path::Path;

/// Owner and group ids by name, as the system being built defines them.
pub trait OwnerIds {
    /// The id of user `name`, if the system has it.
    fn uid(&self, name: &str) -> Option<u32>;
    /// The id of group `name`, if the system has it.
    fn gid(&self, name: &str) -> Option<u32>;
}

/// What the caller knows the package must be.
#[derive(Debug, Clone, Default)]
pub struct Expectation {
    /// The system it must run on (an empty ABI skips the ABI check).
    pub target: Target,
    /// The sha256 (hex) of the `.pkg` file, from the catalogue or lock.
    pub sha256: Option<String>,
    /// The size of the `.pkg` file in bytes (the catalogue's `pkgsize`).
    pub size: Option<u64>,
    /// The package name the catalogue gives.
    pub name: Option<String>,
    /// The version the catalogue gives.
    pub version: Option<String>,
    /// Size limits while reading it.
    pub limits: Limits,
}

/// A configuration file installed from its sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleConfig {
    /// The sample's install path relative to `/` (`usr/local/etc/sudoers.sample`).
    pub sample: String,
    /// The configuration file made from it (`usr/local/etc/sudoers`).
    pub target: String,
}

/// A package in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedPackage {
    /// The store item.
    pub path: StorePath,
    /// Its full manifest (users, groups, scripts for the system stage).
    pub manifest: Manifest,
    /// Configuration files installed from samples.
    pub samples: Vec<SampleConfig>,
}

/// The store item name of package `name-version`: characters an item name may not hold
/// (the `,` of an epoch) become `_`.
pub fn item_name(m: &Manifest) -> String {
    let raw = format!("{}-{}", m.name, m.version);
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+-._?=".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    name.truncate(200);
    name
}

/// The `@sample` pairs of a manifest (install paths relative to `/`).
pub fn samples(m: &Manifest) -> Vec<SampleConfig> {
    const CALL: &str = "pkg.prefixed_path(\"";
    let mut out = Vec::new();
    let scripts = m.lua_scripts.get(&ScriptPhase::PostInstall);
    for script in scripts.into_iter().flatten() {
        if !script.contains("pkg.copy(") {
            continue;
        }
        let mut rest = script.as_str();
        while let Some(i) = rest.find(CALL) {
            rest = &rest[i + CALL.len()..];
            let Some(end) = rest.find('"') else { break };
            let named = &rest[..end];
            rest = &rest[end..];
            let Some(stem) = named.strip_suffix(".sample") else {
                continue;
            };
            let abs = |p: &str| {
                if p.starts_with('/') {
                    p.to_owned()
                } else {
                    format!("{}/{p}", m.prefix.trim_end_matches('/'))
                }
            };
            let (Ok(Some(sample)), Ok(Some(target))) =
                (normalize(&abs(named)), normalize(&abs(stem)))
            else {
                continue;
            };
            let listed = |p: &str| {
                m.files
                    .keys()
                    .any(|k| normalize(k).ok().flatten().as_deref() == Some(p))
            };
            let is_file = m.files.iter().any(|(k, f)| {
                f.symlink_target.is_none()
                    && normalize(k).ok().flatten().as_deref() == Some(sample.as_str())
            });
            let pair = SampleConfig { sample, target };
            if is_file && !listed(&pair.target) && !out.contains(&pair) {
                out.push(pair);
            }
        }
    }
    out
}

/// Checks `pkg_file` against `expect` (size, sha256, name and version, ABI) and opens
/// it; its members are checked as they are read.
pub fn open_checked(pkg_file: &Path, expect: &Expectation) -> Result<PkgArchive> {
    if let Some(want) = expect.size {
        let actual = std::fs::metadata(pkg_file)
            .map_err(io("reading", pkg_file))?
            .len();
        if actual != want {
            return Err(PkgError::FileSize {
                package: pkg_file.display().to_string(),
                expected: want,
                actual,
            });
        }
    }
    if let Some(want) = &expect.sha256 {
        let actual = crate::store::hash::sha256_file(pkg_file).map_err(io("reading", pkg_file))?;
        if !actual.eq_ignore_ascii_case(want) {
            return Err(PkgError::FileChecksum {
                package: pkg_file.display().to_string(),
                expected: want.clone(),
                actual,
            });
        }
    }
    let archive = PkgArchive::open_with_limits(pkg_file, expect.limits)?;
    let m = archive.manifest();
    let wanted = (
        expect.name.as_deref().unwrap_or(&m.name),
        expect.version.as_deref().unwrap_or(&m.version),
    );
    if wanted != (m.name.as_str(), m.version.as_str()) {
        return Err(PkgError::Unexpected {
            package: pkg_file.display().to_string(),
            expected: format!("{}-{}", wanted.0, wanted.1),
            found: archive.label(),
        });
    }
    if !expect.target.abi.is_empty() {
        archive.check_target(&expect.target)?;
    }
    Ok(archive)
}

/// Checks `pkg_file` against `expect` and imports it as one store item.
pub fn import(
    store: &Store,
    pkg_file: &Path,
    expect: &Expectation,
    owners: &dyn OwnerIds,
) -> Result<ImportedPackage> {
    let archive = open_checked(pkg_file, expect)?;
    let m = archive.manifest();
    let label = archive.label();
    let name = item_name(m);
    debug_assert!(is_valid_item_name(&name));
    let mut builder = store.builder(&name)?;
    let mut metas: BTreeMap<String, ImageMeta> = BTreeMap::new();
    archive.members(&mut |member| {
        // The root file system's own top-level entries (`/frx`, `/run`, `/activate`) are
        // Fruix's: a package there would collide with the store or the activation.
        let top = member.path.split('/').next().unwrap_or(member.path);
        if let Some((_, made)) = RESERVED_TOP_LEVEL.iter().find(|(n, _)| *n == top) {
            return Err(PkgError::Member {
                package: label.clone(),
                member: format!("/{}", member.path),
                why: format!("`/{top}` is where Fruix puts `{made}` in the root file system"),
            });
        }
        let image = |kind: &'static str, name: &str, id: Option<u32>| {
            id.ok_or_else(|| PkgError::UnknownOwner {
                package: label.clone(),
                path: format!("/{}", member.path),
                kind,
                owner: name.to_owned(),
            })
        };
        let meta = ImageMeta {
            uid: image("user", &member.meta.uname, owners.uid(&member.meta.uname))?,
            gid: image("group", &member.meta.gname, owners.gid(&member.meta.gname))?,
            perm: member.meta.perm,
            flags: member.meta.fflags,
        };
        match member.data {
            MemberData::File(r) => {
                builder.file_from(member.path, r, meta.perm & 0o111 != 0)?;
            }
            MemberData::Dir => builder.dir(member.path)?,
            MemberData::Symlink(target) => builder.symlink(member.path, target)?,
            MemberData::HardLink(first) => {
                builder.hard_link(member.path, first)?;
                // One inode: every name carries the first name's metadata (a private
                // file stays private whichever name the store visits last).
                let first_meta = metas.get(first).copied().unwrap_or(meta);
                builder.set_meta(member.path, first_meta);
                metas.insert(member.path.to_owned(), first_meta);
                return Ok(());
            }
        }
        builder.set_meta(member.path, meta);
        metas.insert(member.path.to_owned(), meta);
        Ok(())
    })?;
    let samples = samples(m);
    for s in &samples {
        let Some(meta) = metas.get(&s.sample).copied() else {
            continue;
        };
        let src = builder.root().join(&s.sample);
        builder.copy_file(&s.target, &src, meta.perm & 0o111 != 0)?;
        builder.set_meta(&s.target, meta);
    }
    let path = builder.commit()?;
    Ok(ImportedPackage {
        path,
        manifest: m.clone(),
        samples,
    })
}
