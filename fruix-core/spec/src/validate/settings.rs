//! Extra `rc.conf`, `sysctl.conf` and `loader.conf` entries: every one is written as
//! `key="value"`, so keys must be names of their kind and values must stay inside the quotes.

use super::syntax::{is_identifier, is_sysctl_name, value_problem};
use super::{FieldPath, Report, Rule};
use crate::OperatingSystem;
use std::collections::BTreeMap;

/// One kind of settings file.
struct Kind {
    /// How messages name the file ("rc.conf").
    file: &'static str,
    valid_key: fn(&str) -> bool,
    /// What a valid key is, for the message ("a shell identifier").
    key_is: &'static str,
    help: &'static str,
}

const RC_CONF: Kind = Kind {
    file: "rc.conf",
    valid_key: is_identifier,
    key_is: "a shell identifier",
    help: "rc.conf keys are letters, digits and `_`, not starting with a digit, e.g. `ifconfig_vtnet0`",
};

const SYSCTL: Kind = Kind {
    file: "sysctl.conf",
    valid_key: is_sysctl_name,
    key_is: "a sysctl name",
    help: "sysctl names are dot-separated parts of letters, digits, `_`, `-` and `%`, e.g. `kern.ipc.somaxconn`",
};

const LOADER: Kind = Kind {
    file: "loader.conf",
    valid_key: is_sysctl_name,
    key_is: "a loader variable name",
    help: "loader variables are dot-separated parts of letters, digits, `_`, `-` and `%`, e.g. `vfs.zfs.arc_max`",
};

/// Checks `rc_conf`, `sysctl` and `loader.entries`.
pub(crate) fn check(os: &OperatingSystem, root: &FieldPath, r: &mut Report) {
    check_map(&os.rc_conf, &root.field("rc_conf"), &RC_CONF, r);
    check_map(&os.sysctl, &root.field("sysctl"), &SYSCTL, r);
    check_map(
        &os.loader.entries,
        &root.field("loader").field("entries"),
        &LOADER,
        r,
    );
}

fn check_map(entries: &BTreeMap<String, String>, at: &FieldPath, kind: &Kind, r: &mut Report) {
    let file = kind.file;
    for (key, value) in entries {
        let path = at.key(key);
        if key.is_empty() {
            r.error(Rule::SettingKey, path, format!("{file} key is empty"))
                .help(kind.help);
        } else if !(kind.valid_key)(key) {
            r.error(
                Rule::SettingKey,
                path,
                format!("{file} key `{}` is not {}", key.escape_debug(), kind.key_is),
            )
            .help(kind.help);
        } else if let Some(problem) = value_problem(value) {
            let v = r.error(
                Rule::SettingValue,
                path,
                format!("{file} value for `{key}` {problem}"),
            );
            if problem.contains('"') {
                v.help("escape it as `\\\"`");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::test_support::broken;
    use crate::validate::validate;

    fn os() -> OperatingSystem {
        OperatingSystem {
            host_name: "h".into(),
            ..Default::default()
        }
    }

    fn map(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn valid_settings_pass() {
        let mut spec = os();
        spec.rc_conf = map(&[
            ("sshd_enable", "YES"),
            ("ifconfig_DEFAULT", "DHCP"),
            ("x", r#"a \"b\""#),
        ]);
        spec.sysctl = map(&[
            ("kern.ipc.somaxconn", "1024"),
            ("net.inet.tcp.cc.algorithm", "cubic"),
        ]);
        spec.loader.entries = map(&[("if_vtnet_load", "YES"), ("hint.uart.0.flags", "0x10")]);
        assert_eq!(broken(&spec), vec![]);
    }

    #[test]
    fn bad_keys_and_values() {
        let mut spec = os();
        spec.rc_conf = map(&[
            ("ifconfig vtnet0", "DHCP"),
            ("sshd_enable", "YES\n"),
            ("", "x"),
            ("q", r#"say "hi""#),
        ]);
        spec.sysctl = map(&[("kern..x", "1"), ("kern.y", "a\rb")]);
        spec.loader.entries = map(&[("a=b", "1"), ("ok", "trailing\\")]);
        assert_eq!(
            broken(&spec),
            pairs(&[
                ("setting-key", r#"rc_conf[""]"#),
                ("setting-key", r#"rc_conf["ifconfig vtnet0"]"#),
                ("setting-value", r#"rc_conf["q"]"#),
                ("setting-value", r#"rc_conf["sshd_enable"]"#),
                ("setting-key", r#"sysctl["kern..x"]"#),
                ("setting-value", r#"sysctl["kern.y"]"#),
                ("setting-key", r#"loader.entries["a=b"]"#),
                ("setting-value", r#"loader.entries["ok"]"#),
            ])
        );
        let messages: Vec<_> = validate(&spec)
            .into_iter()
            .map(|v| (v.message, v.help))
            .collect();
        assert_eq!(
            messages[1].0,
            "rc.conf key `ifconfig vtnet0` is not a shell identifier"
        );
        assert_eq!(
            messages[2].0,
            "rc.conf value for `q` contains an unescaped `\"`"
        );
        assert_eq!(messages[2].1.as_deref(), Some("escape it as `\\\"`"));
        assert_eq!(
            messages[3].0,
            "rc.conf value for `sshd_enable` contains a newline"
        );
        assert_eq!(
            messages[7].0,
            "loader.conf value for `ok` ends with a lone `\\`"
        );
    }
}
