//! Plain data types describing an operating system.
//!
//! Every type is `serde`-serializable, has defaults that follow upstream Fruix and
//! FreeBSD, and rejects unknown fields when read from JSON. Nothing here checks
//! values: that is [`crate::validate`]'s job, shared with the `operating_system!` macro.

mod accounts;
mod base;
mod boot;
mod fs;
mod image;
mod package;
mod repository;
mod service;
mod size;

pub use crate::geometry::{FAT16_MIN_ESP, FAT32_MIN_ESP, GPT_LABEL_MAX};
pub use accounts::{Group, User};
pub use base::{Arch, BaseSource, FreeBsdBase, Kernel, PKGBASE_DEFAULT_PACKAGES};
pub use boot::{Console, InitMode, Loader, STANDARD_SERIAL_SPEEDS};
pub use fs::{device_path, gpt_label, Device, FileSystem, FsKind, Swap};
pub use image::{FatType, ImageLayout, ImageSize, SwapPartition};
pub use package::{InlineFile, Package, PackageSource};
pub use repository::{PackageRepository, RepositorySignature, ABI_VARIABLE};
pub use service::{rc_name, Service, ShepherdPrograms};
pub use size::{ByteSize, ParseSizeError};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A whole system declaration: what `operating_system!` expands to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OperatingSystem {
    /// Host name (RFC 1123); also names the system closure `…-fruix-system-<host>`.
    pub host_name: String,
    /// The FreeBSD base the system is made of.
    pub base: FreeBsdBase,
    /// Kernel configuration and modules loaded at boot.
    pub kernel: Kernel,
    /// `loader.conf` settings.
    pub loader: Loader,
    /// Packages added to the system profile.
    pub packages: Vec<Package>,
    /// pkg repositories that `pkg(...)` packages are resolved in. Left out of the JSON
    /// when empty, so systems without them keep their bytes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub package_repositories: Vec<PackageRepository>,
    /// Login accounts, merged over FreeBSD's system accounts.
    pub users: Vec<User>,
    /// Groups, merged over FreeBSD's system groups.
    pub groups: Vec<Group>,
    /// `/etc/fstab` entries.
    pub file_systems: Vec<FileSystem>,
    /// Swap devices.
    pub swap: Vec<Swap>,
    /// Services, run by GNU Shepherd or by rc.d depending on `init_mode`.
    pub services: Vec<Service>,
    /// Extra `/etc/rc.conf` assignments.
    pub rc_conf: BTreeMap<String, String>,
    /// `/etc/sysctl.conf` entries.
    pub sysctl: BTreeMap<String, String>,
    /// IANA time zone name, e.g. `Europe/Berlin`.
    pub time_zone: String,
    /// Default locale (`LANG`), e.g. `C.UTF-8`.
    pub locale: String,
    /// Extra `/etc/hosts` entries (localhost and the host name are always present).
    pub hosts: Vec<HostEntry>,
    /// Contents of `/etc/motd`.
    pub motd: String,
    /// Which service manager runs the services: Shepherd (under rc.d or as PID 1) or rc.d.
    pub init_mode: InitMode,
    /// Where GNU Shepherd is installed (Shepherd init modes only).
    pub shepherd: ShepherdPrograms,
    /// Disk image layout.
    pub image: ImageLayout,
}

impl Default for OperatingSystem {
    fn default() -> Self {
        OperatingSystem {
            host_name: String::new(),
            base: FreeBsdBase::default(),
            kernel: Kernel::default(),
            loader: Loader::default(),
            packages: Vec::new(),
            package_repositories: Vec::new(),
            users: User::defaults(),
            groups: Group::defaults(),
            file_systems: FileSystem::defaults(),
            swap: Vec::new(),
            services: Vec::new(),
            rc_conf: BTreeMap::new(),
            sysctl: BTreeMap::new(),
            time_zone: "UTC".to_owned(),
            locale: "C.UTF-8".to_owned(),
            hosts: Vec::new(),
            motd: String::new(),
            init_mode: InitMode::default(),
            shepherd: ShepherdPrograms::default(),
            image: ImageLayout::default(),
        }
    }
}

/// One `/etc/hosts` line.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HostEntry {
    /// IPv4 or IPv6 address.
    pub address: String,
    /// Host names for the address, canonical name first.
    pub names: Vec<String>,
}

/// Why a JSON document is not a spec.
#[derive(Debug, thiserror::Error)]
pub enum SpecJsonError {
    /// The document is not valid JSON, or does not have the spec's shape.
    #[error("spec JSON at line {line}, column {column}: {source}")]
    Parse {
        /// 1-based line of the error in the document.
        line: usize,
        /// 1-based column of the error in the document.
        column: usize,
        #[source]
        /// What serde_json found wrong.
        source: serde_json::Error,
    },
}

impl OperatingSystem {
    /// Reads a spec from JSON. Shape errors (unknown fields, wrong types) are reported here;
    /// value rules are checked by [`OperatingSystem::validate`].
    pub fn from_json(text: &str) -> Result<Self, SpecJsonError> {
        serde_json::from_str(text).map_err(|source| SpecJsonError::Parse {
            line: source.line(),
            column: source.column(),
            source,
        })
    }

    /// The spec as pretty-printed JSON, fields in declaration order.
    pub fn to_json(&self) -> String {
        // Serializing plain data into a String cannot fail: no maps with non-string keys.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks every rule of [`crate::validate`] and returns all violations.
    pub fn validate(&self) -> Result<(), crate::Violations> {
        let found = crate::validate::validate(self);
        if found.is_empty() {
            Ok(())
        } else {
            Err(crate::Violations(found))
        }
    }
}
