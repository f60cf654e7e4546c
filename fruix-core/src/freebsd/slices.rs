//! Splitting a FreeBSD base into store items, whatever it comes from.
//!
//! Entries arrive one at a time (from a tar stream, a host tree, or the sample generator)
//! and are written straight into the staging directory of their slice: nothing is held in
//! memory but the names seen so far. Every entry is checked before anything is written:
//! relative, no `..`, not through a symlink, not twice, hard links only to files already
//! seen, no device nodes, names UTF-8 and at most 255 bytes, paths at most 1023 bytes.

use super::loader_efi::{LoaderEfi, LOADER_PATH};
use crate::io_error::IoError;
use crate::links::file_within;
use crate::rootfs::RESERVED_TOP_LEVEL;
use crate::store::hash::{default_meta, EntryKind};
use crate::store::{ImageMeta, ItemBuilder, Store, StoreError, StorePath};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::PathBuf;

/// The store items of one base.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseItems {
    /// Index item: links to the slices and `provenance.json`.
    pub base: StorePath,
    /// `freebsd-runtime-<release>`: the userland (everything of `base.txz` but `boot/`).
    pub runtime: StorePath,
    /// `freebsd-bootloader-<release>`: `boot/` of `base.txz` (`loader.efi`, lua, defaults).
    pub bootloader: StorePath,
    /// `freebsd-kernel-<release>`: `kernel.txz`'s `boot/kernel`.
    pub kernel: StorePath,
    /// Where the base came from.
    pub provenance: Provenance,
}

/// Where a base came from, recorded in the base item and in the system's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// FreeBSD release (`15.0-RELEASE`).
    pub release: String,
    /// Architecture (`amd64`).
    pub arch: String,
    /// `sample`, `dist-sets`, `tree` or `pkgbase`.
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// sha256 of `base.txz` as checked, for distribution sets.
    pub base_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// sha256 of `kernel.txz` as checked, for distribution sets.
    pub kernel_sha256: Option<String>,
    /// The sha256 of the UEFI loader shipped instead of the base's own, if one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loader_efi_sha256: Option<String>,
    /// The pkgbase repository the base's packages come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// The pkgbase packages the base is made of, in the order they were sliced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<BasePackageRecord>,
}

/// One pkgbase package of a base, as its provenance records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasePackageRecord {
    /// Package name (`FreeBSD-runtime`).
    pub name: String,
    /// Exact version.
    pub version: String,
    /// sha256 of the `.pkg` file, lowercase hex.
    pub sha256: String,
}

/// Why a base could not be imported. The store is left as it was.
#[derive(Debug, thiserror::Error)]
pub enum BaseError {
    #[error(transparent)]
    /// The store refused an item.
    Store(#[from] StoreError),
    #[error("`{archive}`: entry `{entry}`: {why}")]
    /// An archive entry is unsafe or unsupported (absolute, `..`, through a symlink, a device...).
    Entry {
        /// The archive (or tree) it comes from.
        archive: String,
        /// The entry's path.
        entry: String,
        /// What is wrong with it.
        why: String,
    },
    #[error("`{}`: sha256 is {actual}, expected {expected}", file.display())]
    /// A distribution set's sha256 differs from the pinned or `MANIFEST` value.
    Checksum {
        /// The set file.
        file: PathBuf,
        /// The expected sha256.
        expected: String,
        /// The sha256 it has.
        actual: String,
    },
    #[error("`{}`: {why}", file.display())]
    /// The distribution directory's `MANIFEST` is missing, unreadable or lacks the set.
    Manifest {
        /// The `MANIFEST` file.
        file: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    #[error("`{archive}` is not a readable xz-compressed tar archive: {why}")]
    /// A set is not a readable xz-compressed tar archive.
    Archive {
        /// The set file.
        archive: String,
        /// What the decompressor or tar reader said.
        why: String,
    },
    #[error(transparent)]
    /// An I/O operation on a base file failed.
    Io(#[from] IoError),
    #[error("boot loader `{}` {why}", path.display())]
    /// The UEFI loader given to the base cannot be used (unreadable, too large, or not an
    /// EFI application for the base's architecture).
    LoaderEfi {
        /// The loader file given in the declaration.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    #[error("the base comes from pkgbase repository `{repository}`, which is resolved and locked with the system's package repositories: build it as part of a system (`build_system`)")]
    /// A pkgbase base asked for outside a system build, which alone knows the repository
    /// and the lock file.
    PkgbaseOutsideSystem {
        /// The repository named by the declaration.
        repository: String,
    },
    #[error("pkgbase package `{package}`: {source}")]
    /// A base package is unusable: unreadable, not what the lock says, built for another
    /// ABI, or one of its members is refused.
    PkgbasePackage {
        /// The package (`FreeBSD-runtime-15.0`).
        package: String,
        /// What is wrong with it.
        #[source]
        source: Box<crate::pkg::PkgError>,
    },
    #[error("package `{package}` (needed by {needed_by}) is not a base package: a pkgbase base holds only `FreeBSD-*` packages of repository `{repository}`; declare it in `packages` instead")]
    /// The base's packages pull in one that is not a `FreeBSD-*` package of its repository.
    NotBasePackage {
        /// The package pulled in.
        package: String,
        /// The base package that depends on it (or `the declaration`).
        needed_by: String,
        /// The base's repository.
        repository: String,
    },
    #[error("`/{path}` belongs to two base packages, `{first}` and `{second}`")]
    /// Two base packages install the same path (a directory shared by both excepted).
    PkgbaseConflict {
        /// The install path, relative to `/`.
        path: String,
        /// The package seen first.
        first: String,
        /// The other one.
        second: String,
    },
    #[error("base index `{0}` is damaged")]
    /// A stored base index item (the argument) cannot be read back.
    BadIndex(String),
    #[error("`{archive}`: entry `{entry}`: the base's `/{name}` collides with `{made}`, which Fruix makes in the root file system; remove `{name}` from the base")]
    /// An entry would replace a top-level path Fruix makes itself in the root file system.
    TopLevelCollision {
        /// The archive (or tree) it comes from.
        archive: String,
        /// The entry's path.
        entry: String,
        /// The top-level name it collides with.
        name: &'static str,
        /// What Fruix makes there.
        made: &'static str,
    },
    #[error("`{base}`: boot/loader.efi {problem}: the EFI system partition boots FreeBSD's UEFI loader from it (as EFI/BOOT/BOOTX64.EFI); `base.txz` has it, `make installworld` installs it")]
    /// The base has no usable `boot/loader.efi`, which the ESP boots.
    MissingLoader {
        /// Where the base came from.
        base: String,
        /// What is wrong (missing, empty, not a file...).
        problem: &'static str,
    },
}

/// Which distribution set an entry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Set {
    Base,
    Kernel,
}

impl Set {
    /// The set an installed path belongs to when the base comes as one tree (a host tree,
    /// pkgbase packages): `boot/kernel` is the kernel's, the rest is `base.txz`'s.
    pub fn of_install_path(path: &str) -> Set {
        if path == "boot/kernel" || path.starts_with("boot/kernel/") {
            Set::Kernel
        } else {
            Set::Base
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Slice {
    Runtime = 0,
    Bootloader = 1,
    Kernel = 2,
}

/// One archive entry, already typed.
pub enum EntryData<'r> {
    Dir,
    File {
        data: &'r mut dyn Read,
        exec: bool,
    },
    Symlink(String),
    /// Another name for the file at this (archive) path.
    HardLink(String),
    /// Device nodes, FIFOs, sockets: never accepted in a base.
    Special(&'static str),
}

/// Routes entries into the three slice builders.
pub struct Slicer<'s> {
    builders: Vec<ItemBuilder<'s>>,
    /// The whole base (sets directory, tree, sample), for errors about the base as such.
    base: String,
    origin: String,
    /// Paths seen per set: `kernel.txz` and `base.txz` both hold `./boot`.
    seen: HashSet<(Set, String)>,
    symlinks: HashSet<String>,
    files: HashMap<String, Slice>,
}

/// `./usr/bin/x` -> `usr/bin/x`; `None` for the archive's root entry.
pub(crate) fn normalize(raw: &str) -> Result<Option<String>, String> {
    if raw.starts_with('/') {
        return Err("absolute paths are not allowed".into());
    }
    if raw.contains('\0') {
        return Err("the name holds a NUL byte".into());
    }
    let mut parts = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("`..` is not allowed".into()),
            p if p.len() > 255 => return Err("a name is longer than 255 bytes".into()),
            p => parts.push(p),
        }
    }
    let path = parts.join("/");
    if path.len() > MAX_PATH {
        return Err(format!(
            "the path is longer than FreeBSD's {MAX_PATH}-byte limit"
        ));
    }
    Ok((!parts.is_empty()).then_some(path))
}

/// The longest path FreeBSD can open (`PATH_MAX` is 1024 bytes, the NUL included).
const MAX_PATH: usize = 1023;

impl<'s> Slicer<'s> {
    /// A slicer for the base `origin` names (its archives may be named later with
    /// [`set_origin`](Self::set_origin)).
    pub fn new(store: &'s Store, release: &str, origin: &str) -> Result<Self, BaseError> {
        let builders = vec![
            store.builder(&format!("freebsd-runtime-{release}"))?,
            store.builder(&format!("freebsd-bootloader-{release}"))?,
            store.builder(&format!("freebsd-kernel-{release}"))?,
        ];
        Ok(Slicer {
            builders,
            base: origin.to_owned(),
            origin: origin.to_owned(),
            seen: HashSet::new(),
            symlinks: HashSet::new(),
            files: HashMap::new(),
        })
    }

    /// Names the archive entries come from (for error messages).
    pub fn set_origin(&mut self, origin: &str) {
        self.origin = origin.to_owned();
    }

    fn refuse(&self, entry: &str, why: impl Into<String>) -> BaseError {
        BaseError::Entry {
            archive: self.origin.clone(),
            entry: entry.to_owned(),
            why: why.into(),
        }
    }

    /// Adds one entry of `set` at archive path `raw` with image metadata `meta`.
    pub fn add(
        &mut self,
        set: Set,
        raw: &str,
        data: EntryData<'_>,
        meta: ImageMeta,
    ) -> Result<(), BaseError> {
        let path = match normalize(raw) {
            Ok(Some(path)) => path,
            Ok(None) => return Ok(()),
            Err(why) => return Err(self.refuse(raw, why)),
        };
        let mut prefix = String::new();
        for part in path.split('/') {
            if !prefix.is_empty() {
                if self.symlinks.contains(&prefix) {
                    return Err(self.refuse(
                        raw,
                        format!("it would be written through the symlink `{prefix}`"),
                    ));
                }
                prefix.push('/');
            }
            prefix.push_str(part);
        }
        if !self.seen.insert((set, path.clone())) {
            return Err(self.refuse(raw, "the archive holds this path twice"));
        }
        let slice = match set {
            Set::Kernel => Slice::Kernel,
            Set::Base if path == "boot" || path.starts_with("boot/") => Slice::Bootloader,
            Set::Base => Slice::Runtime,
        };
        if slice == Slice::Runtime {
            // The runtime's top level becomes the root's: where the root file system puts
            // its own entries, the import fails now rather than the image build later.
            let top = path.split('/').next().unwrap_or(&path);
            if let Some(&(name, made)) = RESERVED_TOP_LEVEL.iter().find(|(n, _)| *n == top) {
                return Err(BaseError::TopLevelCollision {
                    archive: self.origin.clone(),
                    entry: raw.to_owned(),
                    name,
                    made,
                });
            }
        }
        let kind = match data {
            EntryData::Dir => {
                self.builders[slice as usize].dir(&path)?;
                EntryKind::Dir
            }
            EntryData::File { data, exec } => {
                self.builders[slice as usize]
                    .file_from(&path, data, exec)
                    .map_err(|e| match e {
                        StoreError::Io(e) => BaseError::Archive {
                            archive: self.origin.clone(),
                            why: format!("reading `{path}`: {}", e.source),
                        },
                        other => other.into(),
                    })?;
                self.files.insert(path.clone(), slice);
                EntryKind::File { exec }
            }
            EntryData::Symlink(target) => {
                if target.is_empty() || target.contains('\0') {
                    return Err(self.refuse(raw, "the symlink target is empty or holds NUL"));
                }
                self.builders[slice as usize].symlink(&path, &target)?;
                self.symlinks.insert(path.clone());
                EntryKind::Symlink
            }
            EntryData::HardLink(target) => {
                let target = match normalize(&target) {
                    Ok(Some(t)) => t,
                    _ => {
                        return Err(self.refuse(
                            raw,
                            format!("hard link to `{target}`, which is outside the archive"),
                        ))
                    }
                };
                let Some(&from) = self.files.get(&target) else {
                    return Err(self.refuse(
                        raw,
                        format!("hard link to `{target}`, which is not a file seen before"),
                    ));
                };
                if from == slice {
                    self.builders[slice as usize].hard_link(&path, &target)?;
                } else {
                    // Slices are separate items: a link across them becomes a copy.
                    let src = self.builders[from as usize].root().join(&target);
                    let exec = is_exec(&src);
                    self.builders[slice as usize].copy_file(&path, &src, exec)?;
                }
                self.files.insert(path.clone(), slice);
                // A hard link shares its target's metadata.
                return Ok(());
            }
            EntryData::Special(what) => {
                return Err(self.refuse(
                    raw,
                    format!("{what}s do not belong in a FreeBSD base (devfs makes device nodes)"),
                ))
            }
        };
        if meta != default_meta(kind) {
            self.builders[slice as usize].set_meta(&path, meta);
        }
        Ok(())
    }

    /// Puts `loader` in place of the bootloader slice's `boot/loader.efi`, whatever the base
    /// had there (a file, maybe hard-linked to `loader_lua.efi`, a symlink, or nothing).
    fn ship_loader(&mut self, loader: &LoaderEfi) -> Result<(), BaseError> {
        let refuse = |why: &str| BaseError::LoaderEfi {
            path: loader.path.clone(),
            why: format!("cannot take the place of the base's `{LOADER_PATH}`: {why}"),
        };
        if self.symlinks.contains("boot") {
            // Writing through it would write outside the item.
            return Err(refuse("`boot` is a symlink"));
        }
        let builder = &mut self.builders[Slice::Bootloader as usize];
        let full = builder.prepare(LOADER_PATH)?;
        let io = |source| BaseError::Io(IoError::new("replacing", &full, source));
        match std::fs::symlink_metadata(&full) {
            Ok(md) if md.is_dir() => return Err(refuse("it is a directory")),
            // Removed, not overwritten: a hard-linked original keeps its other names.
            Ok(_) => std::fs::remove_file(&full).map_err(io)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        builder.file(LOADER_PATH, &loader.bytes, true)?;
        Ok(())
    }

    /// Commits the three slices and the index item that ties them to their provenance,
    /// with `loader` (if given) as the bootloader slice's `boot/loader.efi`.
    pub fn finish(
        mut self,
        store: &Store,
        provenance: Provenance,
        loader: Option<&LoaderEfi>,
    ) -> Result<BaseItems, BaseError> {
        if let Some(loader) = loader {
            self.ship_loader(loader)?;
        }
        self.check_loader()?;
        let mut paths = Vec::new();
        for builder in self.builders {
            paths.push(builder.commit()?);
        }
        let (runtime, bootloader, kernel) = (paths[0].clone(), paths[1].clone(), paths[2].clone());
        let mut index = store.builder(&format!("freebsd-base-{}", provenance.release))?;
        index.symlink("runtime", &runtime.to_string())?;
        index.symlink("bootloader", &bootloader.to_string())?;
        index.symlink("kernel", &kernel.to_string())?;
        let json = serde_json::to_vec_pretty(&provenance)
            .map_err(|e| BaseError::BadIndex(e.to_string()))?;
        index.file("provenance.json", &json, false)?;
        let base = index.commit()?;
        Ok(BaseItems {
            base,
            runtime,
            bootloader,
            kernel,
            provenance,
        })
    }
}

impl Slicer<'_> {
    /// The ESP is made of `boot/loader.efi`: a base without it cannot give a bootable
    /// image, which is said here rather than as a damaged image item later.
    fn check_loader(&self) -> Result<(), BaseError> {
        let boot = self.builders[Slice::Bootloader as usize].root();
        if file_within(boot, LOADER_PATH).is_some() {
            return Ok(());
        }
        let problem = if std::fs::symlink_metadata(boot.join(LOADER_PATH)).is_ok() {
            "is not a regular file inside the base (a directory, or a link leaving the base)"
        } else {
            "is missing"
        };
        Err(BaseError::MissingLoader {
            base: self.base.clone(),
            problem,
        })
    }
}

fn is_exec(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

/// Reads a base index item back (for cache hits).
pub fn read_index(store: &Store, base: &StorePath) -> Result<BaseItems, BaseError> {
    let dir = store.physical(base);
    let bad = || BaseError::BadIndex(base.to_string());
    let link = |name: &str| -> Result<StorePath, BaseError> {
        let target = std::fs::read_link(dir.join(name)).map_err(|_| bad())?;
        target.to_str().and_then(|t| t.parse().ok()).ok_or_else(bad)
    };
    let json = std::fs::read(dir.join("provenance.json")).map_err(|_| bad())?;
    let provenance = serde_json::from_slice(&json).map_err(|_| bad())?;
    Ok(BaseItems {
        base: base.clone(),
        runtime: link("runtime")?,
        bootloader: link("bootloader")?,
        kernel: link("kernel")?,
        provenance,
    })
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn normalizes_and_refuses_escapes() {
        assert_eq!(normalize("./usr/bin/ls"), Ok(Some("usr/bin/ls".into())));
        assert_eq!(normalize("."), Ok(None));
        assert_eq!(normalize("./"), Ok(None));
        assert!(normalize("/etc/passwd").is_err());
        assert!(normalize("usr/../../etc").is_err());
    }
}
