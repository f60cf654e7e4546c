//! FreeBSD facts a declaration needs: the system accounts, and constructors for a base.
//!
//! The account tables are FreeBSD 14's `etc/master.passwd` and `etc/group` from the
//! FreeBSD source tree (`freebsd-src`, branch `main`/`stable/14`; root's shell is `/bin/sh`
//! since 14.0, and its password field is empty as shipped). Declared users and groups are
//! merged over these: a declared account with a system account's name replaces it, and a
//! declared id that collides with a system account of another name is a validation error
//! (`system-id-clash`).

use crate::{Arch, BaseSource, FreeBsdBase};
use std::path::PathBuf;

/// A base generated in-process (FreeBSD's layout, placeholder contents) for `release`.
pub fn sample_base(release: &str) -> FreeBsdBase {
    FreeBsdBase {
        release: release.to_owned(),
        arch: Arch::Amd64,
        source: BaseSource::Sample,
        loader_efi: None,
    }
}

/// The amd64 release distribution sets (`base.txz`, `kernel.txz`) of `release` in `dir`,
/// checked against the directory's `MANIFEST`.
pub fn dist_sets(release: &str, dir: impl Into<PathBuf>) -> FreeBsdBase {
    FreeBsdBase {
        release: release.to_owned(),
        arch: Arch::Amd64,
        source: BaseSource::DistSets {
            dir: dir.into(),
            base_sha256: None,
            kernel_sha256: None,
        },
        loader_efi: None,
    }
}

/// One row of FreeBSD's `master.passwd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemUser {
    /// Login name.
    pub name: &'static str,
    /// The password field: empty (root, as shipped) or `*` (no password login).
    pub password: &'static str,
    /// User id, as FreeBSD ships it.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// GECOS comment.
    pub gecos: &'static str,
    /// Home directory (`/nonexistent` for daemons).
    pub home: &'static str,
    /// Login shell; empty for `toor` (meaning `/bin/sh`).
    pub shell: &'static str,
}

/// One row of FreeBSD's `group`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemGroup {
    /// Group name.
    pub name: &'static str,
    /// Group id, as FreeBSD ships it.
    pub gid: u32,
    /// Users listed as members.
    pub members: &'static [&'static str],
}

/// The shell of FreeBSD's system accounts.
pub const NOLOGIN: &str = "/usr/sbin/nologin";

const fn sys(
    name: &'static str,
    uid: u32,
    gid: u32,
    gecos: &'static str,
    home: &'static str,
) -> SystemUser {
    SystemUser {
        name,
        password: "*",
        uid,
        gid,
        gecos,
        home,
        shell: NOLOGIN,
    }
}

/// FreeBSD 14's `master.passwd`, in file order.
pub const SYSTEM_USERS: &[SystemUser] = &[
    SystemUser {
        name: "root",
        password: "",
        uid: 0,
        gid: 0,
        gecos: "Charlie &",
        home: "/root",
        shell: "/bin/sh",
    },
    SystemUser {
        name: "toor",
        password: "*",
        uid: 0,
        gid: 0,
        gecos: "Bourne-again Superuser",
        home: "/root",
        shell: "",
    },
    sys("daemon", 1, 1, "Owner of many system processes", "/root"),
    sys("operator", 2, 5, "System &", "/"),
    sys("bin", 3, 7, "Binaries Commands and Source", "/"),
    sys("tty", 4, 65533, "Tty Sandbox", "/"),
    sys("kmem", 5, 65533, "KMem Sandbox", "/"),
    sys("games", 7, 13, "Games pseudo-user", "/"),
    sys("news", 8, 8, "News Subsystem", "/"),
    sys("man", 9, 9, "Mister Man Pages", "/usr/share/man"),
    sys("sshd", 22, 22, "Secure Shell Daemon", "/var/empty"),
    sys(
        "smmsp",
        25,
        25,
        "Sendmail Submission User",
        "/var/spool/clientmqueue",
    ),
    sys(
        "mailnull",
        26,
        26,
        "Sendmail Default User",
        "/var/spool/mqueue",
    ),
    sys("bind", 53, 53, "Bind Sandbox", "/"),
    sys("unbound", 59, 59, "Unbound DNS Resolver", "/var/unbound"),
    sys("proxy", 62, 62, "Packet Filter pseudo-user", "/nonexistent"),
    sys("_pflogd", 64, 64, "pflogd privsep user", "/var/empty"),
    sys("_dhcp", 65, 65, "dhcp programs", "/var/empty"),
    // Upstream's shell is uucico from the uucp port; the base has no uucp since 12.0.
    sys("uucp", 66, 66, "UUCP pseudo-user", "/var/spool/uucppublic"),
    sys("pop", 68, 6, "Post Office Owner", "/nonexistent"),
    sys(
        "auditdistd",
        78,
        77,
        "Auditdistd unprivileged user",
        "/var/empty",
    ),
    sys("www", 80, 80, "World Wide Web Owner", "/nonexistent"),
    sys("ntpd", 123, 123, "NTP Daemon", "/var/db/ntp"),
    sys(
        "_ypldap",
        160,
        160,
        "YP LDAP unprivileged user",
        "/var/empty",
    ),
    sys("hast", 845, 845, "HAST unprivileged user", "/var/empty"),
    sys(
        "tests",
        977,
        977,
        "Unprivileged user for tests",
        "/nonexistent",
    ),
    sys("nobody", 65534, 65534, "Unprivileged user", "/nonexistent"),
];

const fn grp(name: &'static str, gid: u32) -> SystemGroup {
    SystemGroup {
        name,
        gid,
        members: &[],
    }
}

/// FreeBSD 14's `group`, in file order.
pub const SYSTEM_GROUPS: &[SystemGroup] = &[
    SystemGroup {
        name: "wheel",
        gid: 0,
        members: &["root"],
    },
    grp("daemon", 1),
    grp("kmem", 2),
    grp("sys", 3),
    grp("tty", 4),
    SystemGroup {
        name: "operator",
        gid: 5,
        members: &["root"],
    },
    grp("mail", 6),
    grp("bin", 7),
    grp("news", 8),
    grp("man", 9),
    grp("games", 13),
    grp("ftp", 14),
    grp("staff", 20),
    grp("sshd", 22),
    grp("smmsp", 25),
    grp("mailnull", 26),
    grp("guest", 31),
    grp("video", 44),
    grp("realtime", 47),
    grp("idletime", 48),
    grp("bind", 53),
    grp("unbound", 59),
    grp("proxy", 62),
    grp("authpf", 63),
    grp("_pflogd", 64),
    grp("_dhcp", 65),
    grp("uucp", 66),
    grp("dialer", 68),
    grp("network", 69),
    grp("audit", 77),
    grp("www", 80),
    grp("u2f", 116),
    grp("ntpd", 123),
    grp("_ypldap", 160),
    grp("hast", 845),
    grp("tests", 977),
    grp("nogroup", 65533),
    grp("nobody", 65534),
];

/// The system user named `name`.
pub fn system_user(name: &str) -> Option<&'static SystemUser> {
    SYSTEM_USERS.iter().find(|u| u.name == name)
}

/// The system group named `name`.
pub fn system_group(name: &str) -> Option<&'static SystemGroup> {
    SYSTEM_GROUPS.iter().find(|g| g.name == name)
}

/// The first system user with uid `uid` (`root` for 0, not `toor`).
pub fn system_user_by_uid(uid: u32) -> Option<&'static SystemUser> {
    SYSTEM_USERS.iter().find(|u| u.uid == uid)
}

/// The system group with gid `gid`.
pub fn system_group_by_gid(gid: u32) -> Option<&'static SystemGroup> {
    SYSTEM_GROUPS.iter().find(|g| g.gid == gid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn tables_have_unique_names_and_group_ids() {
        let users: BTreeSet<_> = SYSTEM_USERS.iter().map(|u| u.name).collect();
        assert_eq!(users.len(), SYSTEM_USERS.len());
        let groups: BTreeSet<_> = SYSTEM_GROUPS.iter().map(|g| g.name).collect();
        assert_eq!(groups.len(), SYSTEM_GROUPS.len());
        let gids: BTreeSet<_> = SYSTEM_GROUPS.iter().map(|g| g.gid).collect();
        assert_eq!(gids.len(), SYSTEM_GROUPS.len());
    }

    #[test]
    fn primary_groups_exist_except_freebsds_own_gaps() {
        // tty/kmem use 65533 (nogroup); auditdistd's 77 is `audit`.
        for user in SYSTEM_USERS {
            assert!(system_group_by_gid(user.gid).is_some(), "{}", user.name);
        }
    }

    #[test]
    fn lookups() {
        assert_eq!(
            system_user("sshd").map(|u| (u.uid, u.home)),
            Some((22, "/var/empty"))
        );
        assert_eq!(system_user("root").map(|u| u.shell), Some("/bin/sh"));
        assert_eq!(system_user_by_uid(0).map(|u| u.name), Some("root"));
        assert_eq!(system_user_by_uid(65).map(|u| u.name), Some("_dhcp"));
        assert_eq!(
            system_group("wheel").map(|g| g.members),
            Some(&["root"][..])
        );
        assert_eq!(system_group_by_gid(69).map(|g| g.name), Some("network"));
        assert!(system_user("alice").is_none());
        assert!(system_group_by_gid(1001).is_none());
    }
}

#[cfg(test)]
mod base_tests {
    use super::*;

    #[test]
    fn base_constructors() {
        let sample = sample_base("14.3-RELEASE");
        assert_eq!(sample.release, "14.3-RELEASE");
        assert_eq!(sample.source, BaseSource::Sample);
        let sets = dist_sets("15.0-RELEASE", "/srv/dist");
        assert_eq!(sets.arch, Arch::Amd64);
        assert!(
            matches!(sets.source, BaseSource::DistSets { ref dir, .. } if dir == std::path::Path::new("/srv/dist"))
        );
    }
}
