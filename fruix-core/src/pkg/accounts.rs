//! The users and groups packages need, joined to the system's accounts.
//!
//! A manifest names its users and groups (`users`, `groups`); the ids come from the `pw`
//! lines of its pre-install script ([`super::pw`]), as the ports write them. They are
//! merged after FreeBSD's base accounts and the declared ones, in dependency order:
//!
//! - an account that already exists with the same name and id is shared (nginx's `www`
//!   is FreeBSD's own `www`, 80);
//! - the same name with another id, or the same id with another name, is an
//!   [`AccountError::Conflict`] naming both sides (package and declaration, or two
//!   packages);
//! - a name the manifest lists that neither a `pw` line nor the system provides is an
//!   error, as is a `pw` line without a fixed id (pw would pick one at install time; the
//!   image needs it now, to own the package's files).
//!
//! File owners of every package then resolve through [`AccountTable`].

use super::pw::{self, PwCommand};
use super::{Manifest, ScriptPhase};
use crate::system::accounts as system_accounts;
use crate::OperatingSystem;
use std::collections::BTreeMap;
use std::fmt;

/// Who an account comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountSource {
    /// FreeBSD's `master.passwd` / `group`.
    Base,
    /// The system declaration's `users` / `groups`.
    Declared,
    /// A package (by name).
    Package(String),
}

impl fmt::Display for AccountSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountSource::Base => f.write_str("FreeBSD's base accounts"),
            AccountSource::Declared => f.write_str("the system declaration"),
            AccountSource::Package(name) => write!(f, "package `{name}`"),
        }
    }
}

/// Users or groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKind {
    /// A user (`uid`).
    User,
    /// A group (`gid`).
    Group,
}

impl AccountKind {
    /// What its id is called.
    pub fn id_name(self) -> &'static str {
        match self {
            AccountKind::User => "uid",
            AccountKind::Group => "gid",
        }
    }
}

impl fmt::Display for AccountKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AccountKind::User => "user",
            AccountKind::Group => "group",
        })
    }
}

/// Why a package's accounts cannot join the system.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error(
        "{kind} `{name}` ({} {id}) of package `{package}` conflicts with {kind} \
         `{other_name}` ({} {other_id}) of {other}",
        kind.id_name(),
        kind.id_name()
    )]
    /// Same name with another id, or same id with another name.
    Conflict {
        /// User or group.
        kind: AccountKind,
        /// The package adding the account.
        package: String,
        /// The account it adds.
        name: String,
        /// Its id.
        id: u32,
        /// Where the account already in the table comes from.
        other: AccountSource,
        /// That account's name.
        other_name: String,
        /// That account's id.
        other_id: u32,
    },
    #[error(
        "package `{package}` creates {kind} `{name}` without a fixed id (`pw {kind}add` has no \
         {flag}): the image needs the id to own the package's files"
    )]
    /// A `pw` line leaves the id to pw.
    NoFixedId {
        /// The package.
        package: String,
        /// `user` or `group`.
        kind: &'static str,
        /// The account.
        name: String,
        /// The missing option (`-u`, `-g`).
        flag: &'static str,
    },
    #[error(
        "package `{package}` needs {kind} `{name}`, which neither the system has nor a \
         `pw {kind}add` line of its pre-install script creates"
    )]
    /// A name in the manifest that nothing provides.
    Missing {
        /// The package.
        package: String,
        /// `user` or `group`.
        kind: &'static str,
        /// The account.
        name: String,
    },
}

/// A user a package adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageUser {
    /// The package that adds it.
    pub package: String,
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// GECOS comment.
    pub gecos: String,
    /// Home directory (pw's default: `/home/<name>`; ports say `/nonexistent`).
    pub home: String,
    /// Login shell (pw's default: `/bin/sh`; ports say `/usr/sbin/nologin`).
    pub shell: String,
}

/// A group a package adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageGroup {
    /// The package that adds it.
    pub package: String,
    /// Group name.
    pub name: String,
    /// Group id.
    pub gid: u32,
}

/// Everything packages add to the system's accounts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PackageAccounts {
    /// New users, in dependency order.
    pub users: Vec<PackageUser>,
    /// New groups, in dependency order.
    pub groups: Vec<PackageGroup>,
    /// Members added to groups (any group: base, declared or a package's): (group, user).
    pub members: Vec<(String, String)>,
}

impl PackageAccounts {
    /// Is there nothing to add?
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty() && self.members.is_empty()
    }
}

/// Names to ids over the whole system (base, declared, packages): how package files'
/// `uname`/`gname` become the image's numbers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccountTable {
    users: BTreeMap<String, u32>,
    groups: BTreeMap<String, u32>,
}

impl AccountTable {
    /// The uid of user `name`.
    pub fn uid(&self, name: &str) -> Option<u32> {
        self.users.get(name).copied()
    }

    /// The gid of group `name`.
    pub fn gid(&self, name: &str) -> Option<u32> {
        self.groups.get(name).copied()
    }
}

/// An account row while merging: name, id, source.
struct Row {
    name: String,
    id: u32,
    source: AccountSource,
}

/// A table of one kind (users or groups) with the conflict rules.
struct Rows {
    kind: AccountKind,
    rows: Vec<Row>,
}

impl Rows {
    /// Adds `name`/`id` for `package`; false when an identical account is already there.
    fn add(&mut self, package: &str, name: &str, id: u32) -> Result<bool, AccountError> {
        let clash = self
            .rows
            .iter()
            .find(|r| (r.name == name) != (r.id == id) && (r.name == name || r.id == id));
        if let Some(other) = clash {
            // FreeBSD's `toor` shares root's uid 0 by design; only names decide for it.
            if !(other.source == AccountSource::Base && other.name == "toor") {
                return Err(AccountError::Conflict {
                    kind: self.kind,
                    package: package.to_owned(),
                    name: name.to_owned(),
                    id,
                    other: other.source.clone(),
                    other_name: other.name.clone(),
                    other_id: other.id,
                });
            }
        }
        if self.rows.iter().any(|r| r.name == name) {
            return Ok(false);
        }
        self.rows.push(Row {
            name: name.to_owned(),
            id,
            source: AccountSource::Package(package.to_owned()),
        });
        Ok(true)
    }

    fn id(&self, name: &str) -> Option<u32> {
        self.rows.iter().find(|r| r.name == name).map(|r| r.id)
    }
}

/// The system's accounts before packages: (users, groups).
fn system_rows(os: &OperatingSystem) -> (Rows, Rows) {
    let source = |declared: bool| {
        if declared {
            AccountSource::Declared
        } else {
            AccountSource::Base
        }
    };
    let users = system_accounts::accounts(os)
        .into_iter()
        .map(|a| Row {
            source: source(os.users.iter().any(|u| u.name == a.name)),
            name: a.name,
            id: a.uid,
        })
        .collect();
    let groups = system_accounts::group_rows(os)
        .into_iter()
        .map(|g| Row {
            source: source(os.groups.iter().any(|d| d.name == g.name)),
            name: g.name,
            id: g.gid,
        })
        .collect();
    (
        Rows {
            kind: AccountKind::User,
            rows: users,
        },
        Rows {
            kind: AccountKind::Group,
            rows: groups,
        },
    )
}

/// The `pw` commands of a package's scripts that run before its files are in place.
fn pw_commands(manifest: &Manifest) -> Vec<PwCommand> {
    [ScriptPhase::PreInstall, ScriptPhase::Install]
        .iter()
        .filter_map(|phase| manifest.scripts.get(phase))
        .flat_map(|script| pw::parse(script))
        .map(|line| line.command)
        .collect()
}

/// Merges the accounts of `packages` (in dependency order) into `os`'s.
pub fn merge(
    os: &OperatingSystem,
    packages: &[&Manifest],
) -> Result<(PackageAccounts, AccountTable), AccountError> {
    let (mut users, mut groups) = system_rows(os);
    let mut out = PackageAccounts::default();
    for manifest in packages {
        let package = manifest.name.as_str();
        let commands = pw_commands(manifest);
        // Groups first: users name them.
        for command in &commands {
            if let PwCommand::GroupAdd { name, gid, members } = command {
                let gid = gid.ok_or_else(|| AccountError::NoFixedId {
                    package: package.to_owned(),
                    kind: "group",
                    name: name.clone(),
                    flag: "-g",
                })?;
                if groups.add(package, name, gid)? {
                    out.groups.push(PackageGroup {
                        package: package.to_owned(),
                        name: name.clone(),
                        gid,
                    });
                }
                out.members
                    .extend(members.iter().map(|m| (name.clone(), m.clone())));
            }
        }
        for command in &commands {
            match command {
                PwCommand::UserAdd {
                    name,
                    uid,
                    group,
                    groups: extra,
                    gecos,
                    home,
                    shell,
                } => {
                    let uid = uid.ok_or_else(|| AccountError::NoFixedId {
                        package: package.to_owned(),
                        kind: "user",
                        name: name.clone(),
                        flag: "-u",
                    })?;
                    // pw's default primary group is the user's own name.
                    let group = group.as_deref().unwrap_or(name);
                    let gid = match group.parse::<u32>() {
                        Ok(gid) => gid,
                        Err(_) => groups.id(group).ok_or_else(|| AccountError::Missing {
                            package: package.to_owned(),
                            kind: "group",
                            name: group.to_owned(),
                        })?,
                    };
                    if users.add(package, name, uid)? {
                        out.users.push(PackageUser {
                            package: package.to_owned(),
                            name: name.clone(),
                            uid,
                            gid,
                            gecos: gecos.clone().unwrap_or_default(),
                            home: home.clone().unwrap_or_else(|| format!("/home/{name}")),
                            shell: shell.clone().unwrap_or_else(|| "/bin/sh".to_owned()),
                        });
                    }
                    out.members
                        .extend(extra.iter().map(|g| (g.clone(), name.clone())));
                }
                PwCommand::GroupMod { name, members } => {
                    out.members
                        .extend(members.iter().map(|m| (name.clone(), m.clone())));
                }
                PwCommand::GroupAdd { .. } => {}
            }
        }
        for (kind, names, rows) in [
            ("user", &manifest.users, &users),
            ("group", &manifest.groups, &groups),
        ] {
            if let Some(name) = names.iter().find(|n| rows.id(n).is_none()) {
                return Err(AccountError::Missing {
                    package: package.to_owned(),
                    kind,
                    name: name.clone(),
                });
            }
        }
    }
    let table = AccountTable {
        users: users.rows.iter().map(|r| (r.name.clone(), r.id)).collect(),
        groups: groups.rows.iter().map(|r| (r.name.clone(), r.id)).collect(),
    };
    out.members.dedup();
    Ok((out, table))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Group, User};

    fn package(name: &str, users: &[&str], groups: &[&str], pre_install: &str) -> Manifest {
        let mut m = Manifest {
            name: name.into(),
            version: "1.0".into(),
            users: users.iter().map(|s| (*s).to_owned()).collect(),
            groups: groups.iter().map(|s| (*s).to_owned()).collect(),
            ..Manifest::default()
        };
        m.scripts
            .insert(ScriptPhase::PreInstall, pre_install.to_owned());
        m
    }

    fn os() -> OperatingSystem {
        let mut os = OperatingSystem {
            host_name: "h".into(),
            ..Default::default()
        };
        os.groups.push(Group {
            name: "staffers".into(),
            gid: 1500,
        });
        os.users.push(User {
            name: "alice".into(),
            uid: 1002,
            group: "staffers".into(),
            ..User::default()
        });
        os
    }

    #[test]
    fn pw_lines_add_accounts_and_owners_resolve() {
        let svc = package(
            "svc",
            &["svc", "www"],
            &["svc"],
            "pw groupadd svc -g 901\n\
             pw useradd svc -u 901 -g svc -c 'Service user' -d /var/db/svc -s /usr/sbin/nologin -G www\n\
             pw groupadd www -g 80\npw useradd www -u 80 -g 80\n",
        );
        let (accounts, table) = merge(&os(), &[&svc]).unwrap();
        assert_eq!(
            accounts.users,
            [PackageUser {
                package: "svc".into(),
                name: "svc".into(),
                uid: 901,
                gid: 901,
                gecos: "Service user".into(),
                home: "/var/db/svc".into(),
                shell: "/usr/sbin/nologin".into(),
            }],
            "FreeBSD's own www (80) is shared, not added again"
        );
        assert_eq!(accounts.groups.len(), 1);
        assert_eq!(accounts.members, [("www".to_owned(), "svc".to_owned())]);
        assert_eq!(table.uid("svc"), Some(901));
        assert_eq!(table.gid("svc"), Some(901));
        assert_eq!(table.uid("root"), Some(0));
        assert_eq!(table.gid("wheel"), Some(0));
        assert_eq!(table.uid("alice"), Some(1002));
        assert_eq!(table.gid("staffers"), Some(1500));
        assert_eq!(table.uid("nobody-else"), None);
    }

    #[test]
    fn conflicts_name_both_sides() {
        // Same name, other id, against the declaration.
        let p = package("p", &["alice"], &[], "pw useradd alice -u 2000 -g wheel");
        let err = merge(&os(), &[&p]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("user `alice` (uid 2000) of package `p`")
                && text.contains("user `alice` (uid 1002) of the system declaration"),
            "{text}"
        );
        // Same id, other name, against FreeBSD's base.
        let p = package("p", &[], &["mine"], "pw groupadd mine -g 80");
        let text = merge(&os(), &[&p]).unwrap_err().to_string();
        assert!(
            text.contains("group `mine` (gid 80) of package `p`")
                && text.contains("group `www` (gid 80) of FreeBSD's base accounts"),
            "{text}"
        );
        // Between two packages.
        let a = package("a", &[], &["g"], "pw groupadd g -g 3000");
        let b = package("b", &[], &["g"], "pw groupadd g -g 3001");
        assert_eq!(
            merge(&os(), &[&a, &b]).unwrap_err(),
            AccountError::Conflict {
                kind: AccountKind::Group,
                package: "b".into(),
                name: "g".into(),
                id: 3001,
                other: AccountSource::Package("a".into()),
                other_name: "g".into(),
                other_id: 3000,
            }
        );
        // The same account from two packages is one account.
        let c = package("c", &[], &["g"], "pw groupadd g -g 3000");
        let (accounts, _) = merge(&os(), &[&a, &c]).unwrap();
        assert_eq!(accounts.groups.len(), 1);
    }

    #[test]
    fn missing_and_unfixed_ids_are_errors() {
        let p = package("p", &["ghost"], &[], "echo no pw here");
        assert!(matches!(
            merge(&os(), &[&p]),
            Err(AccountError::Missing { kind: "user", ref name, .. }) if name == "ghost"
        ));
        let p = package("p", &["x"], &[], "pw useradd x -g wheel");
        assert!(matches!(
            merge(&os(), &[&p]),
            Err(AccountError::NoFixedId { flag: "-u", .. })
        ));
        // A user whose primary group nothing creates.
        let p = package("p", &["x"], &[], "pw useradd x -u 3000");
        let err = merge(&os(), &[&p]).unwrap_err();
        assert!(err.to_string().contains("group `x`"), "{err}");
        // Names the system already has need no pw line.
        let p = package("p", &["www", "root"], &["wheel", "staffers"], "");
        assert_eq!(merge(&os(), &[&p]).unwrap().0, PackageAccounts::default());
    }
}
