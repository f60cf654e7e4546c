//! File systems (`/etc/fstab`) and swap.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One `/etc/fstab` entry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileSystem {
    /// Absolute mount point.
    pub mount: String,
    /// What is mounted; `None` for pseudo file systems (the fstab device column then
    /// names the file system, as FreeBSD's own fstab does: `proc`, `fdesc`, `tmpfs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<Device>,
    /// File-system type.
    pub kind: FsKind,
    /// Mount options; empty means `rw`.
    pub options: Vec<String>,
    /// dump(8) frequency.
    pub dump: u32,
    /// fsck(8) pass; `None` means FreeBSD's convention: 1 for `/`, 2 for other disks,
    /// 0 for pseudo file systems.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass: Option<u32>,
}

impl FileSystem {
    /// Upstream Fruix's three file systems: the UFS root, the ESP and devfs.
    pub fn defaults() -> Vec<FileSystem> {
        vec![
            FileSystem {
                mount: "/".to_owned(),
                device: Some(Device::GptLabel("fruix-root".to_owned())),
                kind: FsKind::Ufs,
                ..FileSystem::default()
            },
            FileSystem {
                mount: "/boot/efi".to_owned(),
                device: Some(Device::GptLabel("efiboot".to_owned())),
                kind: FsKind::Msdosfs,
                ..FileSystem::default()
            },
            FileSystem {
                mount: "/dev".to_owned(),
                kind: FsKind::Devfs,
                ..FileSystem::default()
            },
        ]
    }

    /// The fsck pass this entry gets in `/etc/fstab`.
    pub fn fsck_pass(&self) -> u32 {
        match self.pass {
            Some(pass) => pass,
            None if self.kind.is_pseudo() || self.kind == FsKind::Nullfs => 0,
            None if self.mount == "/" => 1,
            None => 2,
        }
    }
}

/// Where a file system's data lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Device {
    /// A GPT partition label, mounted as `/dev/gpt/<label>`.
    GptLabel(String),
    /// A device or directory path (`/dev/ada0p2`, or a nullfs source directory).
    Path(String),
}

impl Device {
    /// The fstab device column.
    pub fn fstab_name(&self) -> String {
        match self {
            Device::GptLabel(label) => format!("/dev/gpt/{label}"),
            Device::Path(path) => path.clone(),
        }
    }
}

/// A device by GPT label: `gpt_label("fruix-root")` is `/dev/gpt/fruix-root`.
pub fn gpt_label(label: &str) -> Device {
    Device::GptLabel(label.to_owned())
}

/// A device (or nullfs source directory) by path.
pub fn device_path(path: &str) -> Device {
    Device::Path(path.to_owned())
}

/// File-system types Fruix knows how to mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FsKind {
    #[default]
    /// FreeBSD's native file system; the only kind the root may be.
    Ufs,
    /// FAT, as the EFI system partition is mounted.
    Msdosfs,
    /// Memory-backed file system (`/tmp`).
    Tmpfs,
    /// The device file system on `/dev`.
    Devfs,
    /// File-descriptor file system (`/dev/fd`).
    Fdescfs,
    /// Process file system (`/proc`).
    Procfs,
    /// Loopback mount of another directory.
    Nullfs,
}

impl FsKind {
    /// Every kind, in the order "expected one of" lists them.
    pub const ALL: &'static [FsKind] = &[
        FsKind::Ufs,
        FsKind::Msdosfs,
        FsKind::Tmpfs,
        FsKind::Devfs,
        FsKind::Fdescfs,
        FsKind::Procfs,
        FsKind::Nullfs,
    ];

    /// The name `mount -t` and fstab use (`ufs`).
    pub fn name(self) -> &'static str {
        match self {
            FsKind::Ufs => "ufs",
            FsKind::Msdosfs => "msdosfs",
            FsKind::Tmpfs => "tmpfs",
            FsKind::Devfs => "devfs",
            FsKind::Fdescfs => "fdescfs",
            FsKind::Procfs => "procfs",
            FsKind::Nullfs => "nullfs",
        }
    }

    /// Kernel-backed file systems with no disk behind them: never fsck'd.
    pub fn is_pseudo(self) -> bool {
        matches!(
            self,
            FsKind::Tmpfs | FsKind::Devfs | FsKind::Fdescfs | FsKind::Procfs
        )
    }

    /// Whether entries of this kind need a `device`.
    pub fn needs_device(self) -> bool {
        matches!(self, FsKind::Ufs | FsKind::Msdosfs | FsKind::Nullfs)
    }
}

impl fmt::Display for FsKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FsKind {
    type Err = crate::validate::UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::validate::names::lookup("file-system kind", s, FsKind::ALL, |k| k.name())
    }
}

/// A swap device (`/etc/fstab` `sw` entry).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Swap {
    /// The swap device; `None` is refused by validation (an fstab `sw` line needs one).
    pub device: Option<Device>,
}
