//! The data a package describes itself with: its manifest (`+MANIFEST`,
//! `+COMPACT_MANIFEST`) and its catalogue entry in a repository.
//!
//! Plain data; parsing and checking live in the readers (`archive`, `catalogue`).

use std::collections::BTreeMap;

/// A package manifest. The compact manifest (and a catalogue entry) is this without
/// `files`, `directories`, `config`, `scripts` and `lua_scripts`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Manifest {
    /// Package name (`sudo`, `FreeBSD-runtime`).
    pub name: String,
    /// Port origin (`security/sudo`; pkgbase: `base/...`).
    pub origin: String,
    /// Version: `<version>[_<revision>][,<epoch>]`.
    pub version: String,
    /// One-line description.
    pub comment: String,
    /// Long description (URL-decoded).
    pub desc: String,
    /// Maintainer's address.
    pub maintainer: String,
    /// Project web site.
    pub www: String,
    /// Installation prefix (`/usr/local`; pkgbase: `/`).
    pub prefix: String,
    /// ABI the package was built for (`FreeBSD:15:amd64`; globs like `FreeBSD:15:*`).
    pub abi: String,
    /// Legacy architecture string (`freebsd:15:x86:64`).
    pub arch: String,
    /// Installed size of the regular files, hard links counted once.
    pub flatsize: u64,
    /// Dependencies by name; resolved by name, the version is informational.
    pub deps: BTreeMap<String, Dependency>,
    /// Users the package needs (names only; ids come from its scripts' `pw` lines).
    pub users: Vec<String>,
    /// Groups the package needs (names only).
    pub groups: Vec<String>,
    /// Shared libraries it needs (`libz.so.6`).
    pub shlibs_required: Vec<String>,
    /// Shared libraries it provides.
    pub shlibs_provided: Vec<String>,
    /// Free-form annotations (`FreeBSD_version`, pkgbase's `set`).
    pub annotations: BTreeMap<String, String>,
    /// Files by absolute install path (full manifest only).
    pub files: BTreeMap<String, FileEntry>,
    /// Directories by absolute install path (full manifest only).
    pub directories: BTreeMap<String, DirEntry>,
    /// Configuration files (also in `files`), installed the way pkg does.
    pub config: Vec<String>,
    /// Shell scripts by phase (full manifest only).
    pub scripts: BTreeMap<ScriptPhase, String>,
    /// Lua scripts by phase (full manifest only).
    pub lua_scripts: BTreeMap<ScriptPhase, Vec<String>>,
}

/// A dependency as a manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dependency {
    /// The dependency's origin.
    pub origin: String,
    /// The version it was built against (informational).
    pub version: String,
}

/// A file (or symlink) a package installs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileEntry {
    /// Checksum of the contents (of the target, for a symlink); `None` for `-`.
    pub sum: Option<Sum>,
    /// Owner name (`root`); empty when the manifest gives none.
    pub uname: String,
    /// Group name (`wheel`); empty when the manifest gives none.
    pub gname: String,
    /// Permission bits including setuid/setgid/sticky, when given.
    pub perm: Option<u16>,
    /// BSD file flags (`chflags`).
    pub fflags: u32,
    /// Target, when the entry is a symlink.
    pub symlink_target: Option<String>,
}

/// A directory a package installs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirEntry {
    /// Owner name; empty when the manifest gives none.
    pub uname: String,
    /// Group name; empty when the manifest gives none.
    pub gname: String,
    /// Permission bits, when given.
    pub perm: Option<u16>,
    /// BSD file flags.
    pub fflags: u32,
}

/// When a package script runs (pkg-script(5)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ScriptPhase {
    /// `pre-install`
    PreInstall,
    /// `install` (run twice, with `PRE-INSTALL` and `POST-INSTALL`)
    Install,
    /// `post-install`
    PostInstall,
    /// `pre-deinstall`
    PreDeinstall,
    /// `deinstall`
    Deinstall,
    /// `post-deinstall`
    PostDeinstall,
}

impl ScriptPhase {
    /// Every phase, in manifest-key order.
    pub const ALL: [ScriptPhase; 6] = [
        ScriptPhase::PreInstall,
        ScriptPhase::Install,
        ScriptPhase::PostInstall,
        ScriptPhase::PreDeinstall,
        ScriptPhase::Deinstall,
        ScriptPhase::PostDeinstall,
    ];

    /// The manifest key (`post-install`).
    pub fn key(self) -> &'static str {
        match self {
            ScriptPhase::PreInstall => "pre-install",
            ScriptPhase::Install => "install",
            ScriptPhase::PostInstall => "post-install",
            ScriptPhase::PreDeinstall => "pre-deinstall",
            ScriptPhase::Deinstall => "deinstall",
            ScriptPhase::PostDeinstall => "post-deinstall",
        }
    }
}

/// A checksum as pkg writes it: `<kind>$<digest>`, or bare SHA-256 hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sum {
    /// The algorithm.
    pub kind: SumKind,
    /// The digest as written (lowercase hex for SHA-256, z-base32 for BLAKE2b).
    pub digest: String,
}

/// Checksum algorithms pkg uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SumKind {
    /// `1$` or no prefix: SHA-256, lowercase hex.
    Sha256,
    /// `2$`: BLAKE2b-512 in pkg's z-base32 (pkg 2.8+).
    Blake2b,
}

/// A package as a repository's catalogue lists it: the compact manifest plus where the
/// `.pkg` is and what it must hash to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CatalogueEntry {
    /// The compact manifest (no files, directories, config or scripts).
    pub manifest: Manifest,
    /// sha256 of the `.pkg` file, lowercase hex.
    pub sha256: String,
    /// Size of the `.pkg` file in bytes.
    pub pkgsize: u64,
    /// Path of the `.pkg` relative to the repository URL (`All/sudo-1.9.16p2_1.pkg`).
    pub repopath: String,
}
