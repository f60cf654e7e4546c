//! Users and groups. Declared accounts are merged over FreeBSD's system accounts
//! (see [`crate::freebsd::SYSTEM_USERS`]); a declared account with a system account's
//! name replaces it.

use serde::{Deserialize, Serialize};

/// A user account (`/etc/master.passwd` row plus its ssh keys).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct User {
    /// Login name: 1–32 of `a-z 0-9 _ -` (and `.`), not starting with `-`.
    pub name: String,
    /// Numeric user id.
    pub uid: u32,
    /// Primary group name; must be declared in `groups` or be a FreeBSD system group.
    pub group: String,
    /// Supplementary groups.
    pub groups: Vec<String>,
    /// Home directory; `None` means `/root` for root and `/home/<name>` otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
    /// Login shell; `None` means `/bin/sh`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    /// GECOS comment (full name).
    pub comment: String,
    /// The `master.passwd` password field: a crypt(3) hash (`$6$…`, `$2b$…`, `$y$…`),
    /// `*` (no password login), or empty (no password at all). Never clear text.
    pub password: String,
    /// Locked accounts get FreeBSD's `*LOCKED*` prefix: no login of any kind.
    pub locked: bool,
    /// Lines for `~/.ssh/authorized_keys`: `TYPE BASE64 [comment]`.
    pub ssh_keys: Vec<String>,
}

impl User {
    /// Upstream Fruix's accounts: root (empty password on the console, as FreeBSD ships)
    /// and operator, a login user in `wheel`.
    pub fn defaults() -> Vec<User> {
        vec![
            User {
                name: "root".to_owned(),
                uid: 0,
                group: "wheel".to_owned(),
                home: Some("/root".to_owned()),
                shell: Some("/bin/sh".to_owned()),
                comment: "Charlie &".to_owned(),
                ..User::default()
            },
            User {
                name: "operator".to_owned(),
                uid: 1001,
                group: "operator".to_owned(),
                groups: vec!["wheel".to_owned()],
                home: Some("/home/operator".to_owned()),
                shell: Some("/bin/sh".to_owned()),
                comment: "Fruix operator".to_owned(),
                password: "*".to_owned(),
                ..User::default()
            },
        ]
    }

    /// The home directory this user gets.
    pub fn home_dir(&self) -> String {
        match &self.home {
            Some(home) => home.clone(),
            None if self.uid == 0 => "/root".to_owned(),
            None => format!("/home/{}", self.name),
        }
    }

    /// The login shell this user gets.
    pub fn login_shell(&self) -> &str {
        self.shell.as_deref().unwrap_or("/bin/sh")
    }
}

/// A group (`/etc/group` row). Members come from users' `groups`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Group {
    /// Group name (FreeBSD's rules: letters, digits, `_`, `-`; at most 16 characters).
    pub name: String,
    /// Group id; must not clash with FreeBSD's system groups of another name.
    pub gid: u32,
}

impl Group {
    /// Upstream Fruix's groups: wheel (0) and operator (5), FreeBSD's own numbers.
    pub fn defaults() -> Vec<Group> {
        vec![
            Group {
                name: "wheel".to_owned(),
                gid: 0,
            },
            Group {
                name: "operator".to_owned(),
                gid: 5,
            },
        ]
    }
}
