//! The rules every spec must satisfy: one implementation, run by
//! [`crate::OperatingSystem::validate`] at run time and by the `operating_system!` macro at
//! compile time (on the values written literally; see [`FieldPath::is_known`]).
//!
//! Each rule reports a [`Violation`] naming the value it is about (`path`), the other values
//! its verdict depends on (`depends_on`), a message in rustc's style, and a fix where one is
//! obvious. All violations are collected; checking never stops at the first.

mod accounts;
mod boot;
mod fs;
mod image;
pub(crate) mod names;
mod path;
mod pkg;
mod services;
mod settings;
mod syntax;
mod tz_names;

pub use names::UnknownName;
pub use path::{FieldPath, Seg};
pub use syntax::{is_valid_host_name, is_valid_time_zone, tzdata_version};

use crate::OperatingSystem;
use std::fmt;

/// Which rule a violation breaks. Stable names for tests and tools (`Rule::code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Rule {
    // Declaration shape (reported by the macro; JSON gets serde's errors).
    /// A field name the declaration's struct does not have (macro only).
    UnknownField,
    /// A field written twice in one struct (macro only).
    DuplicateField,
    /// A required field (`host_name`, `base`, a user's `name`...) is not written (macro only).
    MissingField,
    /// A value of the wrong shape for its field, e.g. a mount option list written as one string.
    InvalidValue,
    // Names and accounts.
    /// The host name is not an RFC 1123 name.
    HostName,
    /// A user name FreeBSD would refuse (`pw`'s rules).
    UserName,
    /// Two users share a name.
    DuplicateUserName,
    /// Two users share a uid.
    DuplicateUid,
    /// A uid or gid is one of FreeBSD's system accounts', under another name.
    SystemIdClash,
    /// A group name FreeBSD would refuse.
    GroupName,
    /// Two groups share a name.
    DuplicateGroupName,
    /// Two groups share a gid.
    DuplicateGid,
    /// A user's group (primary or supplementary) is neither declared nor a system group.
    UndeclaredGroup,
    /// A path that must be absolute (home, shell, log file) is not.
    NotAbsolutePath,
    /// An ssh public key that does not parse, or whose type and key data disagree.
    SshKey,
    /// A password that is not a crypt(3) hash, `*` or empty: it would be stored in clear.
    ClearTextPassword,
    // Services.
    /// Two services share a name.
    DuplicateService,
    /// A service name Shepherd cannot use.
    ServiceName,
    /// A service has no start command, or its program path is not absolute.
    StartCommand,
    /// A service requires a service that is not declared.
    UndeclaredRequirement,
    /// Services require each other in a cycle, so none could start.
    RequirementCycle,
    /// A service runs as a user that is not declared.
    UnknownServiceUser,
    /// In `freebsd-init+rc.d`, two services would be the same rc.d script, or one would be
    /// Fruix's own (`fruix_activate`, `fruix_shepherd`).
    RcNameClash,
    // File systems.
    /// A mount point that is not an absolute, normalized path.
    MountPoint,
    /// Two file systems are mounted on the same point.
    DuplicateMountPoint,
    /// No file system is mounted on `/`.
    NoRootFileSystem,
    /// The root file system is not `ufs` or has no device.
    RootFileSystem,
    /// A pseudo file system (tmpfs, devfs, ...) has a non-zero fsck pass.
    PseudoFsckPass,
    /// A `/dev/gpt/` device names a label the image does not create.
    UnknownGptLabel,
    /// A file system or swap entry's device is missing or not usable for its kind.
    Device,
    // rc.conf, sysctl.conf, loader.conf.
    /// An rc.conf, sysctl, loader.conf or environment key that is empty or malformed.
    SettingKey,
    /// A setting value that the file's syntax cannot hold (quotes, newlines...).
    SettingValue,
    // Loader and kernel.
    /// A loader serial speed that is not a standard baud rate.
    SerialSpeed,
    /// An autoboot delay below `-1`.
    AutobootDelay,
    /// An empty or malformed kernel configuration or module name.
    KernelName,
    // Image layout.
    /// An image size too small for the contents, or not whole sectors.
    ImageSize,
    /// An ESP size below its FAT type's minimum, or not whole sectors.
    EspSize,
    /// A GPT partition label that is empty, too long, or has characters `/dev/gpt/` cannot name.
    GptLabel,
    /// Two image partitions share a GPT label.
    DuplicateGptLabel,
    // Everything else.
    /// A time zone that is not in the tzdata the build knows.
    TimeZone,
    /// A locale that is not a locale name (`C.UTF-8`).
    Locale,
    /// A hosts entry whose address is not an IPv4 or IPv6 address, or without valid names.
    HostAddress,
    /// Two packages share a name.
    DuplicatePackage,
    /// An empty or malformed package name (it becomes part of a store path).
    PackageName,
    /// A base release that is not a FreeBSD release label (`15.0-RELEASE`).
    ReleaseLabel,
    /// An architecture images cannot be built for yet (`aarch64`).
    UnsupportedArch,
    // FreeBSD packages and their repositories.
    /// A repository name that is empty or not identifier-like (`FreeBSD`, `local`).
    RepositoryName,
    /// Two repositories share a name.
    DuplicateRepository,
    /// A repository URL that is not an http(s) or file URL or an absolute directory, holds a
    /// variable other than `${ABI}`, or asks for SRV mirrors (`pkg+https`).
    RepositoryUrl,
    /// A repository ABI that is not `FreeBSD:<major>:<arch>`, or not the base's.
    RepositoryAbi,
    /// A `pkg(...)` version that is not `<version>[_<revision>][,<epoch>]`.
    PkgVersion,
    /// A `pkg(...)` names a repository that is not declared.
    UndeclaredRepository,
    /// `pkg(...)` packages, but no repository to resolve them in.
    NoRepository,
    /// A `pkg_file(...)` path that is not an absolute path to a `.pkg` or `.txz` file.
    PkgFile,
    /// A sha256 that is not 64 lowercase hex digits.
    Sha256,
}

impl Rule {
    /// A short kebab-case name, e.g. `duplicate-uid`.
    pub fn code(self) -> String {
        let debug = format!("{self:?}");
        let mut code = String::new();
        for (i, c) in debug.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                code.push('-');
            }
            code.push(c.to_ascii_lowercase());
        }
        code
    }
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Which rule is broken.
    pub rule: Rule,
    /// The value the violation is about (where the macro points its error).
    pub path: FieldPath,
    /// What is wrong, e.g. "duplicate uid 1001: already used by user `alice`".
    pub message: String,
    /// How to fix it, when that is obvious.
    pub help: Option<String>,
    /// Other values the verdict depends on besides `path`.
    pub depends_on: Vec<FieldPath>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)?;
        if let Some(help) = &self.help {
            write!(f, " (help: {help})")?;
        }
        Ok(())
    }
}

/// All violations found in a spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Violations(pub Vec<Violation>);

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the system declaration has {} problem(s):", self.0.len())?;
        for v in &self.0 {
            write!(f, "\n  - {v}")?;
        }
        Ok(())
    }
}

/// Collects violations; each rule module adds to it.
#[derive(Default)]
pub(crate) struct Report {
    found: Vec<Violation>,
}

impl Report {
    pub(crate) fn error(
        &mut self,
        rule: Rule,
        path: FieldPath,
        message: impl Into<String>,
    ) -> &mut Violation {
        self.found.push(Violation {
            rule,
            path,
            message: message.into(),
            help: None,
            depends_on: Vec::new(),
        });
        let last = self.found.len() - 1;
        &mut self.found[last]
    }
}

impl Violation {
    pub(crate) fn help(&mut self, help: impl Into<String>) -> &mut Self {
        self.help = Some(help.into());
        self
    }
    pub(crate) fn depends(&mut self, path: FieldPath) -> &mut Self {
        self.depends_on.push(path);
        self
    }
}

/// Checks every rule; returns all violations, in spec order. Users call
/// [`OperatingSystem::validate`]; the macro reaches this through `__private`.
pub(crate) fn validate(os: &OperatingSystem) -> Vec<Violation> {
    let mut report = Report::default();
    let root = FieldPath::root();
    syntax::check_top_level(os, &root, &mut report);
    pkg::check(os, &root, &mut report);
    accounts::check(os, &root, &mut report);
    services::check(os, &root, &mut report);
    fs::check(os, &root, &mut report);
    settings::check(os, &root, &mut report);
    boot::check(os, &root, &mut report);
    image::check(os, &root, &mut report);
    report.found
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// The rules broken by `os`, as (code, path) pairs.
    pub(crate) fn broken(os: &OperatingSystem) -> Vec<(String, String)> {
        validate(os)
            .into_iter()
            .map(|v| (v.rule.code(), v.path.to_string()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::broken;
    use super::*;
    use crate::{Device, FileSystem, FsKind, Group, Service, User};

    #[test]
    fn the_default_spec_with_a_host_name_is_clean() {
        let os = OperatingSystem {
            host_name: "h".into(),
            ..Default::default()
        };
        assert_eq!(broken(&os), vec![]);
        assert!(os.validate().is_ok());
    }

    #[test]
    fn rule_codes_are_kebab_case() {
        assert_eq!(Rule::DuplicateUid.code(), "duplicate-uid");
        assert_eq!(Rule::SshKey.code(), "ssh-key");
        assert_eq!(Rule::RootFileSystem.code(), "root-file-system");
    }

    #[test]
    fn a_spec_with_many_problems_reports_all_of_them() {
        let mut os = OperatingSystem {
            host_name: "bad_host".into(),
            time_zone: "Mars/Olympus".into(),
            ..Default::default()
        };
        os.users.push(User {
            name: "bob".into(),
            uid: 1001,
            group: "devs".into(),
            password: "hunter2".into(),
            ..User::default()
        });
        os.groups.push(Group {
            name: "web".into(),
            gid: 80,
        });
        os.services = vec![
            Service::new("a", ["/bin/a"]).requires(["b"]),
            Service::new("b", ["b"]).requires(["a", "c"]),
        ];
        os.file_systems.push(FileSystem {
            mount: "/tmp".into(),
            kind: FsKind::Tmpfs,
            device: Some(Device::Path("/dev/md0".into())),
            pass: Some(2),
            ..FileSystem::default()
        });
        os.rc_conf.insert("bad key".into(), "YES".into());
        os.loader.serial_speed = 1234;
        os.image.esp_size = crate::ByteSize::mib(1);
        let codes: Vec<(String, String)> = broken(&os);
        let expected = [
            ("host-name", "host_name"),
            ("time-zone", "time_zone"),
            ("duplicate-uid", "users[2].uid"),
            ("undeclared-group", "users[2].group"),
            ("clear-text-password", "users[2].password"),
            ("system-id-clash", "groups[2].gid"),
            ("start-command", "services[1].start[0]"),
            ("undeclared-requirement", "services[1].requires[1]"),
            ("requirement-cycle", "services[1].requires[0]"),
            ("device", "file_systems[3].device"),
            ("pseudo-fsck-pass", "file_systems[3].pass"),
            ("setting-key", "rc_conf[\"bad key\"]"),
            ("serial-speed", "loader.serial_speed"),
            ("esp-size", "image.esp_size"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(c, p)| (c.to_string(), p.to_string()))
            .collect();
        assert_eq!(codes, expected);
        let err = os
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.starts_with("the system declaration has 14 problem(s):"),
            "{err}"
        );
        assert!(!err.contains("hunter2"));
    }
}
