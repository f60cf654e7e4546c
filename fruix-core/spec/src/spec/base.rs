//! The FreeBSD base a system is made of, and its kernel.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Which FreeBSD release the system uses and where its files come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FreeBsdBase {
    /// Release label, e.g. `15.0-RELEASE`, `14.3-RELEASE-p2`, `16.0-CURRENT`.
    pub release: String,
    /// Target architecture.
    pub arch: Arch,
    /// Where the base's files come from.
    pub source: BaseSource,
    /// A UEFI boot loader (a PE image, e.g. a `loader.efi` built by FreeBSD) to ship as
    /// `boot/loader.efi` instead of the base's own: the image's ESP then carries it as
    /// `EFI/BOOT/BOOTX64.EFI`. An absolute path on the building host, checked at import.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loader_efi: Option<PathBuf>,
}

impl Default for FreeBsdBase {
    fn default() -> Self {
        FreeBsdBase {
            release: "15.0-RELEASE".to_owned(),
            arch: Arch::Amd64,
            source: BaseSource::Sample,
            loader_efi: None,
        }
    }
}

impl FreeBsdBase {
    /// This base with `loader` shipped as `boot/loader.efi` (see [`FreeBsdBase::loader_efi`]).
    pub fn with_loader_efi(mut self, loader: impl Into<PathBuf>) -> Self {
        self.loader_efi = Some(loader.into());
        self
    }

    /// The release's major version (`15` for `15.0-RELEASE`), if the label has one.
    pub fn major_version(&self) -> Option<u32> {
        let (major, _) = self.release.split_once('.')?;
        major.parse().ok()
    }

    /// The pkg ABI of this base (`FreeBSD:15:amd64`): what repositories default to.
    pub fn pkg_abi(&self) -> Option<String> {
        let major = self.major_version()?;
        Some(format!("FreeBSD:{major}:{}", self.arch.name()))
    }
}

/// FreeBSD machine architectures (`uname -m` / `MACHINE_ARCH` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    #[default]
    /// x86-64: the only architecture images are built and booted for today.
    Amd64,
    /// 64-bit ARM: accepted by the parser, refused by validation until images boot it.
    Aarch64,
}

impl Arch {
    /// Every architecture, in the order "expected one of" lists them.
    pub const ALL: &'static [Arch] = &[Arch::Amd64, Arch::Aarch64];
    /// The `MACHINE_ARCH` spelling (`amd64`).
    pub fn name(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Aarch64 => "aarch64",
        }
    }
}

impl std::str::FromStr for Arch {
    type Err = crate::validate::UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::validate::names::lookup("architecture", s, Arch::ALL, |a| a.name())
    }
}

/// Where a FreeBSD base's files come from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", deny_unknown_fields)]
pub enum BaseSource {
    /// A small base generated in-process with FreeBSD's layout and placeholder contents:
    /// builds run offline and fast, but the image does not boot a real kernel.
    #[default]
    Sample,
    /// Release distribution sets (`base.txz`, `kernel.txz`) in a directory, each optionally
    /// pinned by sha256 (otherwise checked against the directory's `MANIFEST`).
    DistSets {
        /// Directory holding `base.txz` and `kernel.txz` (and optionally `MANIFEST`).
        dir: PathBuf,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        /// Expected sha256 of `base.txz`, lowercase hex.
        base_sha256: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        /// Expected sha256 of `kernel.txz`, lowercase hex.
        kernel_sha256: Option<String>,
    },
    /// An already unpacked FreeBSD tree (e.g. a `make installworld DESTDIR=`).
    Tree {
        /// The tree's root directory on the building host.
        path: PathBuf,
    },
    /// FreeBSD's base published as packages (pkgbase, FreeBSD 15.0 and later): `FreeBSD-*`
    /// packages of a declared repository, with their dependencies, sliced into the same
    /// runtime, boot loader and kernel items as release sets.
    Pkgbase {
        /// The `package_repositories` entry that holds them, e.g. `FreeBSD-base` at
        /// `https://pkg.FreeBSD.org/${ABI}/base_release_0`.
        repository: String,
        /// The base packages (or `FreeBSD-set-*` metapackages) to install;
        /// [`PKGBASE_DEFAULT_PACKAGES`] when empty.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        packages: Vec<String>,
    },
}

/// What a pkgbase base installs when it names no packages: the minimal set, the GENERIC
/// kernel and the boot loader.
pub const PKGBASE_DEFAULT_PACKAGES: &[&str] = &[
    "FreeBSD-set-minimal",
    "FreeBSD-kernel-generic",
    "FreeBSD-bootloader",
];

impl BaseSource {
    /// The base packages of `repository`: [`PKGBASE_DEFAULT_PACKAGES`].
    pub fn pkgbase(repository: &str) -> BaseSource {
        BaseSource::Pkgbase {
            repository: repository.to_owned(),
            packages: Vec::new(),
        }
    }
}

/// The kernel: which configuration, and which modules `loader.conf` loads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Kernel {
    /// Kernel configuration name (`GENERIC`, `MINIMAL`, ...).
    pub config: String,
    /// Modules loaded by the boot loader (`<name>_load="YES"`).
    pub modules: Vec<String>,
}

impl Default for Kernel {
    fn default() -> Self {
        Kernel {
            config: "GENERIC".to_owned(),
            modules: Vec::new(),
        }
    }
}
