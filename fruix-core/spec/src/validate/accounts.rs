//! Users and groups: names, ids, group membership, home and shell paths, ssh keys and
//! passwords. Declared accounts are merged over FreeBSD's system accounts
//! ([`crate::freebsd`]): a declared account named like a system account replaces it, but a
//! declared id equal to the id of a system account with another name clashes.

use super::syntax::{
    absolute_path_problem, account_name_help, account_name_problem, did_you_mean,
    earlier_duplicates, is_password_field, maybe_help, show_char, ssh_key_problem,
};
use super::{FieldPath, Report, Rule};
use crate::freebsd::{self, SystemGroup, SystemUser, SYSTEM_GROUPS, SYSTEM_USERS};
use crate::{OperatingSystem, User};

/// Checks `users` and `groups`.
pub(crate) fn check(os: &OperatingSystem, root: &FieldPath, r: &mut Report) {
    check_users(os, root, r);
    check_groups(os, root, r);
}

fn check_users(os: &OperatingSystem, root: &FieldPath, r: &mut Report) {
    let users = root.field("users");
    let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let same_names = earlier_duplicates(os.users.iter().map(|u| nonempty(&u.name)));
    let same_uids = earlier_duplicates(os.users.iter().map(|u| Some(u.uid)));
    for (i, user) in os.users.iter().enumerate() {
        let at = users.index(i);
        let name = &user.name;
        if let Some(problem) = account_name_problem(name) {
            let v = r.error(
                Rule::UserName,
                at.field("name"),
                format!("user name `{name}` {problem}"),
            );
            maybe_help(v, account_name_help(name));
        } else if let Some(first) = same_names[i] {
            r.error(
                Rule::DuplicateUserName,
                at.field("name"),
                format!("duplicate user name `{name}`: `users[{first}]` already declares it"),
            )
            .depends(users.index(first).field("name"));
        }
        check_uid(os, user, same_uids[i], &users, i, r);
        check_membership(os, user, &at, root, r);
        check_passwd_fields(user, &at, r);
        for (j, key) in user.ssh_keys.iter().enumerate() {
            if let Some(problem) = ssh_key_problem(key) {
                let v = r.error(Rule::SshKey, at.field("ssh_keys").index(j), problem.what);
                maybe_help(v, problem.help);
            }
        }
    }
}

fn check_uid(
    os: &OperatingSystem,
    user: &User,
    same_uid: Option<usize>,
    users: &FieldPath,
    i: usize,
    r: &mut Report,
) {
    let (name, uid) = (&user.name, user.uid);
    let at = users.index(i);
    let other = same_uid.and_then(|first| Some((first, os.users.get(first)?)));
    if let Some((first, other)) =
        other.filter(|(_, o)| o.name != *name && !shared_by_freebsd(&o.name, name, uid))
    {
        r.error(
            Rule::DuplicateUid,
            at.field("uid"),
            format!(
                "duplicate uid `{uid}`: user `{}` already has it",
                other.name
            ),
        )
        .depends(users.index(first).field("uid"))
        .depends(users.index(first).field("name"))
        .depends(at.field("name"));
    } else if let Some(system) = system_uid_clash(os, user) {
        // A set, not a scan per candidate: a spec may declare very many users.
        let ids: std::collections::HashSet<u32> = os.users.iter().map(|u| u.uid).collect();
        let taken = |id: u32| ids.contains(&id) || freebsd::system_user_by_uid(id).is_some();
        r.error(
            Rule::SystemIdClash,
            at.field("uid"),
            format!(
                "uid `{uid}` of user `{name}` belongs to FreeBSD's system user `{}`",
                system.name
            ),
        )
        .help(format!(
            "use a uid FreeBSD does not reserve, such as `{}`",
            free_id(taken)
        ))
        .depends(users.all().field("name"))
        .depends(at.field("name"));
    }
}

/// Whether two accounts sharing `uid` are FreeBSD's own doing (`root` and `toor`).
fn shared_by_freebsd(a: &str, b: &str, uid: u32) -> bool {
    [a, b]
        .iter()
        .all(|n| freebsd::system_user(n).is_some_and(|s| s.uid == uid))
}

/// The system user whose uid `user` takes, unless the user is that account, or the system
/// account is replaced by a declared one of its name.
fn system_uid_clash(os: &OperatingSystem, user: &User) -> Option<&'static SystemUser> {
    if freebsd::system_user(&user.name).is_some_and(|s| s.uid == user.uid) {
        return None;
    }
    SYSTEM_USERS.iter().find(|s| {
        s.uid == user.uid && s.name != user.name && !os.users.iter().any(|u| u.name == s.name)
    })
}

/// The first id from 1001 up that `taken` does not claim.
fn free_id(taken: impl Fn(u32) -> bool) -> u32 {
    (1001..=u32::MAX).find(|id| !taken(*id)).unwrap_or(1001)
}

fn check_membership(
    os: &OperatingSystem,
    user: &User,
    at: &FieldPath,
    root: &FieldPath,
    r: &mut Report,
) {
    let declared =
        |g: &str| os.groups.iter().any(|d| d.name == g) || freebsd::system_group(g).is_some();
    let help = |g: &str| {
        let names = os
            .groups
            .iter()
            .map(|d| d.name.as_str())
            .chain(SYSTEM_GROUPS.iter().map(|s| s.name));
        did_you_mean(g, names).unwrap_or_else(|| "declare it in `groups: [...]`".to_owned())
    };
    let all_group_names = root.field("groups").all().field("name");
    let name = &user.name;
    let group = &user.group;
    if group.is_empty() {
        r.error(
            Rule::UndeclaredGroup,
            at.field("group"),
            format!("user `{name}` has no primary group"),
        )
        .help("name a declared group or a FreeBSD group such as `wheel`")
        .depends(all_group_names.clone());
    } else if !declared(group) {
        r.error(
            Rule::UndeclaredGroup,
            at.field("group"),
            format!("primary group `{group}` of user `{name}` is not declared"),
        )
        .help(help(group))
        .depends(all_group_names.clone());
    }
    for (j, group) in user.groups.iter().enumerate().filter(|(_, g)| !declared(g)) {
        r.error(
            Rule::UndeclaredGroup,
            at.field("groups").index(j),
            format!("user `{name}` is in group `{group}`, which is not declared"),
        )
        .help(help(group))
        .depends(all_group_names.clone());
    }
}

/// Home, shell, comment and password: the `master.passwd` fields.
fn check_passwd_fields(user: &User, at: &FieldPath, r: &mut Report) {
    let name = &user.name;
    let paths = [
        ("home", "home directory", &user.home, "/home/user"),
        ("shell", "shell", &user.shell, "/bin/sh"),
    ];
    for (field, what, value, example) in paths {
        let Some(path) = value else { continue };
        if let Some(problem) = absolute_path_problem(path) {
            r.error(
                Rule::NotAbsolutePath,
                at.field(field),
                format!(
                    "{what} `{}` of user `{name}` {problem}",
                    path.escape_debug()
                ),
            )
            .help(format!("use an absolute path such as `{example}`"));
        } else if path.contains(':') {
            r.error(
                Rule::InvalidValue,
                at.field(field),
                format!("{what} `{path}` of user `{name}` contains `:`, which `master.passwd` cannot hold"),
            );
        }
    }
    if let Some(c) = user.comment.chars().find(|c| *c == ':' || c.is_control()) {
        r.error(
            Rule::InvalidValue,
            at.field("comment"),
            format!(
                "comment of user `{name}` contains {}, which `master.passwd` cannot hold",
                show_char(c)
            ),
        );
    }
    if !is_password_field(&user.password) {
        // Never echo the password itself: it may be a real one.
        r.error(
            Rule::ClearTextPassword,
            at.field("password"),
            format!("password of user `{name}` is not a crypt(3) hash; it looks like clear text"),
        )
        .help(
            "generate a hash with `openssl passwd -6` or `mkpasswd -m sha-512`, \
             or use `*` (no password login) or `locked: true`",
        );
    }
}

fn check_groups(os: &OperatingSystem, root: &FieldPath, r: &mut Report) {
    let groups = root.field("groups");
    let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let same_names = earlier_duplicates(os.groups.iter().map(|g| nonempty(&g.name)));
    let same_gids = earlier_duplicates(os.groups.iter().map(|g| Some(g.gid)));
    for (i, group) in os.groups.iter().enumerate() {
        let at = groups.index(i);
        let (name, gid) = (&group.name, group.gid);
        if let Some(problem) = account_name_problem(name) {
            let v = r.error(
                Rule::GroupName,
                at.field("name"),
                format!("group name `{name}` {problem}"),
            );
            maybe_help(v, account_name_help(name));
        } else if let Some(first) = same_names[i] {
            r.error(
                Rule::DuplicateGroupName,
                at.field("name"),
                format!("duplicate group name `{name}`: `groups[{first}]` already declares it"),
            )
            .depends(groups.index(first).field("name"));
        }
        let other = same_gids[i].and_then(|first| Some((first, os.groups.get(first)?)));
        if let Some((first, other)) = other.filter(|(_, o)| o.name != *name) {
            r.error(
                Rule::DuplicateGid,
                at.field("gid"),
                format!(
                    "duplicate gid `{gid}`: group `{}` already has it",
                    other.name
                ),
            )
            .depends(groups.index(first).field("gid"))
            .depends(groups.index(first).field("name"))
            .depends(at.field("name"));
        } else if let Some(system) = system_gid_clash(os, name, gid) {
            let ids: std::collections::HashSet<u32> = os.groups.iter().map(|g| g.gid).collect();
            let taken = |id: u32| ids.contains(&id) || freebsd::system_group_by_gid(id).is_some();
            r.error(
                Rule::SystemIdClash,
                at.field("gid"),
                format!(
                    "gid `{gid}` of group `{name}` belongs to FreeBSD's system group `{}`",
                    system.name
                ),
            )
            .help(format!(
                "use a gid FreeBSD does not reserve, such as `{}`",
                free_id(taken)
            ))
            .depends(groups.all().field("name"))
            .depends(at.field("name"));
        }
    }
}

fn system_gid_clash(os: &OperatingSystem, name: &str, gid: u32) -> Option<&'static SystemGroup> {
    SYSTEM_GROUPS
        .iter()
        .find(|s| s.gid == gid && s.name != name && !os.groups.iter().any(|g| g.name == s.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::test_support::broken;
    use crate::validate::{validate, Violation};
    use crate::Group;

    fn os() -> OperatingSystem {
        OperatingSystem {
            host_name: "h".into(),
            ..Default::default()
        }
    }

    fn user(name: &str, uid: u32, group: &str) -> User {
        User {
            name: name.into(),
            uid,
            group: group.into(),
            password: "*".into(),
            ..User::default()
        }
    }

    fn group(name: &str, gid: u32) -> Group {
        Group {
            name: name.into(),
            gid,
        }
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn find(spec: &OperatingSystem, rule: Rule) -> Violation {
        let found = validate(spec).into_iter().find(|v| v.rule == rule);
        found.unwrap_or_else(|| panic!("no {rule:?} in {:?}", broken(spec)))
    }

    fn deps(v: &Violation) -> Vec<String> {
        v.depends_on.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_default_spec_is_clean() {
        assert_eq!(broken(&os()), vec![]);
    }

    #[test]
    fn user_names() {
        let mut spec = os();
        spec.users.push(user("Bob!", 1002, "wheel"));
        spec.users.push(user("Carol", 1003, "wheel"));
        spec.users.push(user("dave", 1004, "wheel"));
        assert_eq!(
            broken(&spec),
            pairs(&[
                ("user-name", "users[2].name"),
                ("user-name", "users[3].name")
            ])
        );
        let v = find(&spec, Rule::UserName);
        assert_eq!(
            v.message,
            "user name `Bob!` contains `!`, which FreeBSD does not allow"
        );
        spec.users.truncate(2);
        spec.users.push(user("carol", 1003, "wheel"));
        assert_eq!(broken(&spec), vec![]);
    }

    #[test]
    fn duplicate_names_and_uids_point_at_the_later_entry() {
        let mut spec = os();
        spec.users.push(user("alice", 1001, "wheel"));
        spec.users.push(user("bob", 1002, "wheel"));
        spec.users.push(user("bob", 1003, "wheel"));
        assert_eq!(
            broken(&spec),
            pairs(&[
                ("duplicate-uid", "users[2].uid"),
                ("duplicate-user-name", "users[4].name")
            ])
        );
        let v = find(&spec, Rule::DuplicateUid);
        assert_eq!(
            v.message,
            "duplicate uid `1001`: user `operator` already has it"
        );
        assert_eq!(deps(&v), ["users[1].uid", "users[1].name", "users[2].name"]);
        let v = find(&spec, Rule::DuplicateUserName);
        assert_eq!(
            v.message,
            "duplicate user name `bob`: `users[3]` already declares it"
        );
        assert_eq!(deps(&v), ["users[3].name"]);
    }

    #[test]
    fn root_and_toor_may_share_uid_zero() {
        let mut spec = os();
        spec.users.push(user("toor", 0, "wheel"));
        assert_eq!(broken(&spec), vec![]);
        spec.users.push(user("admin", 0, "wheel"));
        assert_eq!(broken(&spec), pairs(&[("duplicate-uid", "users[3].uid")]));
    }

    #[test]
    fn system_uid_clashes_unless_the_system_account_is_replaced() {
        let mut spec = os();
        spec.users.push(user("bob", 22, "wheel"));
        assert_eq!(broken(&spec), pairs(&[("system-id-clash", "users[2].uid")]));
        let v = find(&spec, Rule::SystemIdClash);
        assert_eq!(
            v.message,
            "uid `22` of user `bob` belongs to FreeBSD's system user `sshd`"
        );
        assert_eq!(
            v.help.as_deref(),
            Some("use a uid FreeBSD does not reserve, such as `1002`")
        );
        assert_eq!(deps(&v), ["users[*].name", "users[2].name"]);
        spec.users.push(user("sshd", 500, "sshd"));
        assert_eq!(broken(&spec), vec![]);
        // A declared system account keeping its own uid is fine.
        spec.users.push(user("www", 80, "www"));
        assert_eq!(broken(&spec), vec![]);
    }

    #[test]
    fn groups_names_gids_and_clashes() {
        let mut spec = os();
        spec.groups.push(group("Devs", 2000));
        spec.groups.push(group("wheel", 2001));
        spec.groups.push(group("ops", 5));
        spec.groups.push(group("web", 80));
        spec.groups.push(group("sshd", 3000));
        spec.groups.push(group("ssh2", 22));
        assert_eq!(
            broken(&spec),
            pairs(&[
                ("group-name", "groups[2].name"),
                ("duplicate-group-name", "groups[3].name"),
                ("duplicate-gid", "groups[4].gid"),
                ("system-id-clash", "groups[5].gid"),
            ])
        );
        assert_eq!(
            find(&spec, Rule::DuplicateGid).message,
            "duplicate gid `5`: group `operator` already has it"
        );
        let v = find(&spec, Rule::SystemIdClash);
        assert_eq!(
            v.message,
            "gid `80` of group `web` belongs to FreeBSD's system group `www`"
        );
        assert_eq!(deps(&v), ["groups[*].name", "groups[5].name"]);
    }

    #[test]
    fn groups_must_be_declared_or_freebsds() {
        let mut spec = os();
        let mut alice = user("alice", 1002, "staf");
        alice.groups = vec![
            "wheel".into(),
            "video".into(),
            "devs".into(),
            "operatr".into(),
        ];
        spec.users.push(alice);
        let mut bob = user("bob", 1003, "");
        bob.groups = vec!["devs".into()];
        spec.users.push(bob);
        spec.groups.push(group("devs", 2000));
        assert_eq!(
            broken(&spec),
            pairs(&[
                ("undeclared-group", "users[2].group"),
                ("undeclared-group", "users[2].groups[3]"),
                ("undeclared-group", "users[3].group"),
            ])
        );
        let found: Vec<_> = validate(&spec)
            .into_iter()
            .map(|v| (v.message, v.help))
            .collect();
        assert_eq!(
            found[0].0,
            "primary group `staf` of user `alice` is not declared"
        );
        assert_eq!(found[0].1.as_deref(), Some("did you mean `staff`?"));
        assert_eq!(found[1].1.as_deref(), Some("did you mean `operator`?"));
        assert_eq!(
            deps(&find(&spec, Rule::UndeclaredGroup)),
            ["groups[*].name"]
        );
        spec.users[3].group = "nobody".into();
        spec.users[2].group = "nonesuch".into();
        let v = find(&spec, Rule::UndeclaredGroup);
        assert_eq!(v.help.as_deref(), Some("declare it in `groups: [...]`"));
    }

    #[test]
    fn home_shell_and_comment() {
        let mut spec = os();
        let mut alice = user("alice", 1002, "wheel");
        alice.home = Some("home/alice".into());
        alice.shell = Some("/bin/../bin/sh".into());
        alice.comment = "Alice: admin".into();
        spec.users.push(alice);
        let mut bob = user("bob", 1003, "wheel");
        bob.home = Some("/home/bob".into());
        bob.shell = Some("/usr/local/bin/bash".into());
        bob.comment = "Bob, Room 1".into();
        spec.users.push(bob);
        assert_eq!(
            broken(&spec),
            pairs(&[
                ("not-absolute-path", "users[2].home"),
                ("not-absolute-path", "users[2].shell"),
                ("invalid-value", "users[2].comment"),
            ])
        );
        let v = find(&spec, Rule::NotAbsolutePath);
        assert_eq!(
            v.message,
            "home directory `home/alice` of user `alice` is not an absolute path"
        );
    }

    #[test]
    fn passwords_are_hashes_and_never_echoed() {
        let mut spec = os();
        let mut alice = user("alice", 1002, "wheel");
        alice.password = "hunter2".into();
        spec.users.push(alice);
        let mut bob = user("bob", 1003, "wheel");
        bob.password = format!("$6$salt${}", "h".repeat(86));
        spec.users.push(bob);
        assert_eq!(
            broken(&spec),
            pairs(&[("clear-text-password", "users[2].password")])
        );
        let v = find(&spec, Rule::ClearTextPassword);
        assert!(!v.to_string().contains("hunter2"), "{v}");
        assert!(v.help.is_some_and(|h| h.contains("openssl passwd -6")));
    }

    #[test]
    fn ssh_keys_name_the_broken_part() {
        let key =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me";
        let mut spec = os();
        let mut alice = user("alice", 1002, "wheel");
        alice.ssh_keys = vec![
            key.into(),
            key.replace("ssh-ed25519 ", "ssh-rsa "),
            "ssh-ed25519".into(),
        ];
        spec.users.push(alice);
        assert_eq!(
            broken(&spec),
            pairs(&[
                ("ssh-key", "users[2].ssh_keys[1]"),
                ("ssh-key", "users[2].ssh_keys[2]")
            ])
        );
        let v = find(&spec, Rule::SshKey);
        assert_eq!(
            v.message,
            "ssh key says `ssh-rsa`, but its key data is a `ssh-ed25519` key"
        );
    }
}
