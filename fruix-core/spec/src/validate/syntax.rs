//! Value syntax shared by the rules (names, paths, setting keys and values, ssh keys,
//! password hashes, release labels, locales) and the checks of the top-level fields:
//! host name, base release, kernel, packages, time zone, locale and `/etc/hosts` entries.

use super::names::closest;
use super::tz_names::{TZDATA_VERSION, ZONE_NAMES};
use super::{FieldPath, Report, Rule, Violation};
use crate::{Arch, OperatingSystem, Package, PackageSource};
use std::collections::btree_map::{BTreeMap, Entry};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `name` is an RFC 1123 host name: dot-separated labels of 1–63 letters, digits and
/// `-` (not first or last), 253 bytes at most.
pub fn is_valid_host_name(name: &str) -> bool {
    host_name_problem(name).is_none()
}

/// Whether `name` is a zone (or link) of the IANA tz database this crate knows.
pub fn is_valid_time_zone(name: &str) -> bool {
    ZONE_NAMES.binary_search(&name).is_ok()
}

/// The tzdata release the time zone names come from, e.g. `2025b`.
pub fn tzdata_version() -> &'static str {
    TZDATA_VERSION
}

/// A character as messages show it: `` `!` ``, or a word for invisible ones.
pub(crate) fn show_char(c: char) -> String {
    match c {
        ' ' => "a space".to_owned(),
        '\n' => "a newline".to_owned(),
        '\r' => "a carriage return".to_owned(),
        '\t' => "a tab".to_owned(),
        '\0' => "a NUL byte".to_owned(),
        c if c.is_control() => format!("`{}`", c.escape_default()),
        c => format!("`{c}`"),
    }
}

/// "did you mean `x`?" for the closest candidate, if one is close.
pub(crate) fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// Sets the help of `v` when there is one.
pub(crate) fn maybe_help(v: &mut Violation, help: Option<String>) {
    if let Some(help) = help {
        v.help(help);
    }
}

/// For each item, the index of the earlier item with the same key (`None` keys never match).
pub(crate) fn earlier_duplicates<K: Ord>(
    keys: impl IntoIterator<Item = Option<K>>,
) -> Vec<Option<usize>> {
    let mut seen = BTreeMap::new();
    let mut out = Vec::new();
    for (i, key) in keys.into_iter().enumerate() {
        out.push(match key.map(|k| seen.entry(k)) {
            Some(Entry::Occupied(e)) => Some(*e.get()),
            Some(Entry::Vacant(e)) => {
                e.insert(i);
                None
            }
            None => None,
        });
    }
    out
}

/// What makes `name` not an RFC 1123 host name, as "… `name` {problem}".
pub(crate) fn host_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("is empty".to_owned());
    }
    if name.len() > 253 {
        return Some(format!("is {} bytes long; the limit is 253", name.len()));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Some("has an empty label (a leading, trailing or doubled `.`)".to_owned());
        }
        if let Some(c) = label
            .chars()
            .find(|c| !c.is_ascii_alphanumeric() && *c != '-')
        {
            return Some(format!(
                "contains {}, which host names cannot hold",
                show_char(c)
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some(format!(
                "has a label `{label}` that starts or ends with `-`"
            ));
        }
        if label.len() > 63 {
            return Some(format!(
                "has a label of {} bytes; the limit is 63",
                label.len()
            ));
        }
    }
    None
}

/// A valid host name close to `name` (other characters become `-`), if there is one.
fn suggest_host_name(name: &str) -> Option<String> {
    let mapped: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let labels: Vec<&str> = mapped
        .split('.')
        .map(|l| l.trim_matches('-'))
        .filter(|l| !l.is_empty())
        .collect();
    let fixed = labels.join(".");
    (fixed != name && is_valid_host_name(&fixed)).then_some(fixed)
}

fn host_name_help(name: &str) -> String {
    match suggest_host_name(name) {
        Some(fixed) => format!("did you mean `{fixed}`?"),
        None => "host names are dot-separated labels of letters, digits and `-`".to_owned(),
    }
}

/// Longest FreeBSD user or group name.
pub(crate) const ACCOUNT_NAME_MAX: usize = 32;

/// What makes `name` unusable as a FreeBSD user or group name: we accept lowercase letters,
/// digits, `_`, `-` and `.`, not starting with `-` or `.`, optionally ending with `$`.
pub(crate) fn account_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("is empty".to_owned());
    }
    let body = name.strip_suffix('$').unwrap_or(name);
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if let Some(c) = body.chars().find(|c| !allowed(*c)) {
        return Some(format!(
            "contains {}, which FreeBSD does not allow",
            show_char(c)
        ));
    }
    if let Some(c) = body.chars().find(char::is_ascii_uppercase) {
        return Some(format!(
            "contains uppercase `{c}`; account names are lowercase"
        ));
    }
    if let Some(c) = name.chars().next().filter(|c| matches!(c, '-' | '.')) {
        return Some(format!("starts with `{c}`, which FreeBSD does not allow"));
    }
    if name.len() > ACCOUNT_NAME_MAX {
        return Some(format!(
            "is {} bytes long; FreeBSD allows {ACCOUNT_NAME_MAX}",
            name.len()
        ));
    }
    None
}

/// Help for an account name: its lowercase form, when that one is valid.
pub(crate) fn account_name_help(name: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    (lower != name && account_name_problem(&lower).is_none())
        .then(|| format!("did you mean `{lower}`?"))
}

/// What makes `path` not a clean absolute path.
pub(crate) fn absolute_path_problem(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        Some("is empty")
    } else if !path.starts_with('/') {
        Some("is not an absolute path")
    } else {
        path_text_problem(path).or_else(|| components_problem(path.split('/').skip(1), true))
    }
}

/// What makes `path` not a clean relative path (inside a package).
pub(crate) fn relative_path_problem(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        Some("is empty")
    } else if path.starts_with('/') {
        Some("is absolute; paths inside a package are relative")
    } else {
        path_text_problem(path).or_else(|| components_problem(path.split('/'), false))
    }
}

fn path_text_problem(path: &str) -> Option<&'static str> {
    if path.contains('\0') {
        Some("contains a NUL byte")
    } else if path.contains(['\n', '\r']) {
        Some("contains a line break")
    } else if path.contains("//") {
        Some("contains `//`")
    } else {
        None
    }
}

fn components_problem<'a>(
    mut parts: impl Iterator<Item = &'a str>,
    trailing_slash_ok: bool,
) -> Option<&'static str> {
    parts.find_map(|part| match part {
        ".." => Some("contains a `..` component"),
        "." => Some("contains a `.` component"),
        "" if !trailing_slash_ok => Some("ends with `/`"),
        _ => None,
    })
}

/// Whether `key` is a shell identifier (`[A-Za-z_][A-Za-z0-9_]*`), as rc.conf and
/// environment variable names must be.
pub(crate) fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `key` is a sysctl or loader.conf name: dot-separated parts of letters, digits,
/// `_`, `-` and `%`.
pub(crate) fn is_sysctl_name(key: &str) -> bool {
    key.split('.').all(|part| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '%'))
    })
}

/// What makes `value` unsafe between the double quotes of a `key="value"` line.
pub(crate) fn value_problem(value: &str) -> Option<&'static str> {
    if value.contains('\n') {
        return Some("contains a newline");
    }
    if value.contains('\r') {
        return Some("contains a carriage return");
    }
    if value.contains('\0') {
        return Some("contains a NUL byte");
    }
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.next().is_none() => return Some("ends with a lone `\\`"),
            '"' => return Some("contains an unescaped `\"`"),
            _ => {}
        }
    }
    None
}

/// What is wrong with a value, and how to fix it when that is obvious.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) what: String,
    pub(crate) help: Option<String>,
}

/// Public key types OpenSSH accepts in `authorized_keys`.
pub(crate) const SSH_KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-dss",
];

/// What is wrong with an `authorized_keys` line `TYPE BASE64 [comment]`.
pub(crate) fn ssh_key_problem(line: &str) -> Option<Problem> {
    let problem = |what: String, help: Option<String>| Some(Problem { what, help });
    if let Some(c) = line.chars().find(|c| c.is_control() && *c != '\t') {
        return problem(
            format!("ssh key contains {}", show_char(c)),
            Some("give each key as one line".to_owned()),
        );
    }
    let mut fields = line.split_ascii_whitespace();
    let Some(kind) = fields.next() else {
        return problem(
            "ssh key is empty".to_owned(),
            Some("paste a line of a `.pub` file, e.g. `ssh-ed25519 AAAAC3Nz… me@host`".to_owned()),
        );
    };
    if !SSH_KEY_TYPES.contains(&kind) {
        let help = if kind.starts_with("AAAA") {
            Some("the line lacks its key type; start it with e.g. `ssh-ed25519`".to_owned())
        } else {
            did_you_mean(kind, SSH_KEY_TYPES.iter().copied()).or_else(|| {
                let types: Vec<String> = SSH_KEY_TYPES.iter().map(|t| format!("`{t}`")).collect();
                Some(format!("supported types are {}", types.join(", ")))
            })
        };
        return problem(format!("unknown ssh key type `{kind}`"), help);
    }
    let Some(data) = fields.next() else {
        return problem(format!("ssh key has no key data after `{kind}`"), None);
    };
    let Some(blob) = decode_base64(data) else {
        return problem(
            format!("key data of the `{kind}` ssh key is not valid base64"),
            None,
        );
    };
    let embedded = blob
        .get(..4)
        .and_then(|len| <[u8; 4]>::try_from(len).ok())
        .map(|len| u32::from_be_bytes(len) as usize)
        .and_then(|len| blob.get(4..4usize.checked_add(len)?));
    match embedded {
        Some(found) if found == kind.as_bytes() => None,
        Some(found) => match SSH_KEY_TYPES.iter().find(|t| t.as_bytes() == found) {
            Some(actual) => problem(
                format!("ssh key says `{kind}`, but its key data is a `{actual}` key"),
                Some(format!(
                    "use `{actual}` as the type, or copy the whole line from the `.pub` file"
                )),
            ),
            None => problem(
                format!("key data of the `{kind}` ssh key does not hold a `{kind}` key"),
                None,
            ),
        },
        None => problem(
            format!("key data of the `{kind}` ssh key is truncated"),
            None,
        ),
    }
}

/// Strict standard base64 (RFC 4648, padded, canonical trailing bits).
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return None;
    }
    let pad = bytes.iter().rev().take_while(|b| **b == b'=').count();
    if pad > 2 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in &bytes[..bytes.len() - pad] {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.extend_from_slice(&(acc >> bits).to_be_bytes()[3..]);
            acc &= (1 << bits) - 1;
        }
    }
    (acc == 0).then_some(out)
}

/// Whether `password` may go into `master.passwd`: empty, `*`, or a crypt(3) hash
/// (`$1$`, `$2a$`/`$2b$`/`$2y$`, `$5$`, `$6$`, `$y$`, `$7$`, `$argon2…`).
pub(crate) fn is_password_field(password: &str) -> bool {
    const CRYPT64: &str = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let crypt64 = |s: &str| !s.is_empty() && s.chars().all(|c| CRYPT64.contains(c));
    let sha_crypt = |rest: &str, hash_len: usize| {
        let rest = match rest.strip_prefix("rounds=") {
            Some(r) => match r.split_once('$') {
                Some((n, r)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => r,
                _ => return false,
            },
            None => rest,
        };
        let Some((salt, hash)) = rest.split_once('$') else {
            return false;
        };
        let salt_ok = salt.len() <= 16 && (salt.is_empty() || crypt64(salt));
        salt_ok && hash.len() == hash_len && crypt64(hash)
    };
    if password.is_empty() || password == "*" {
        return true;
    }
    if let Some(rest) = password.strip_prefix("$1$") {
        return sha_crypt(rest, 22) && !rest.starts_with("rounds=");
    }
    if let Some(rest) = password.strip_prefix("$5$") {
        return sha_crypt(rest, 43);
    }
    if let Some(rest) = password.strip_prefix("$6$") {
        return sha_crypt(rest, 86);
    }
    if let Some(rest) = ["$2a$", "$2b$", "$2y$"]
        .iter()
        .find_map(|p| password.strip_prefix(p))
    {
        let Some((cost, hash)) = rest.split_once('$') else {
            return false;
        };
        let cost_ok = cost.len() == 2 && cost.chars().all(|c| c.is_ascii_digit());
        return cost_ok && hash.len() == 53 && crypt64(hash);
    }
    if let Some(rest) = password
        .strip_prefix("$y$")
        .or_else(|| password.strip_prefix("$7$"))
    {
        let parts: Vec<&str> = rest.split('$').collect();
        return (2..=3).contains(&parts.len()) && parts.iter().all(|p| crypt64(p));
    }
    if let Some(rest) = password.strip_prefix("$argon2") {
        let phc = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | ',' | '$');
        return rest.split('$').count() >= 4 && rest.chars().all(phc);
    }
    false
}

/// Whether `label` is a FreeBSD release label: `MAJOR.MINOR-BRANCH[-pN]` with BRANCH one of
/// `RELEASE`, `STABLE`, `CURRENT`, `PRERELEASE`, `ALPHAn`, `BETAn`, `RCn`.
pub(crate) fn is_release_label(label: &str) -> bool {
    let number = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let Some((version, rest)) = label.split_once('-') else {
        return false;
    };
    let version_ok =
        matches!(version.split_once('.'), Some((major, minor)) if number(major) && number(minor));
    let (branch, patch) = match rest.split_once("-p") {
        Some((branch, patch)) => (branch, Some(patch)),
        None => (rest, None),
    };
    let branch_ok = matches!(branch, "RELEASE" | "STABLE" | "CURRENT" | "PRERELEASE")
        || ["ALPHA", "BETA", "RC"]
            .iter()
            .any(|p| branch.strip_prefix(p).is_some_and(number));
    version_ok && branch_ok && patch.is_none_or(number)
}

/// Whether `locale` is `C`, `POSIX`, `C.ENCODING` or `ll[_Ssss]_CC.ENCODING`.
pub(crate) fn is_locale(locale: &str) -> bool {
    if locale == "C" || locale == "POSIX" {
        return true;
    }
    let Some((name, encoding)) = locale.split_once('.') else {
        return false;
    };
    let encoding_ok = !encoding.is_empty()
        && encoding
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    let lower =
        |s: &str, n: &[usize]| n.contains(&s.len()) && s.chars().all(|c| c.is_ascii_lowercase());
    let upper = |s: &str| s.len() == 2 && s.chars().all(|c| c.is_ascii_uppercase());
    let script = |s: &str| {
        let mut c = s.chars();
        s.len() == 4
            && c.next().is_some_and(|c| c.is_ascii_uppercase())
            && c.all(|c| c.is_ascii_lowercase())
    };
    let parts: Vec<&str> = name.split('_').collect();
    let name_ok = match parts.as_slice() {
        ["C"] => true,
        [lang, country] => lower(lang, &[2, 3]) && upper(country),
        [lang, scr, country] => lower(lang, &[2, 3]) && script(scr) && upper(country),
        _ => false,
    };
    encoding_ok && name_ok
}

pub(crate) fn is_package_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'))
}

fn is_kernel_config(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn is_module_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Checks the host name, base release, kernel, packages, time zone, locale and hosts.
pub(crate) fn check_top_level(os: &OperatingSystem, root: &FieldPath, r: &mut Report) {
    let host = &os.host_name;
    if host.is_empty() {
        r.error(
            Rule::MissingField,
            root.field("host_name"),
            "host name is empty",
        )
        .help("give the system a name such as `fruix`");
    } else if let Some(problem) = host_name_problem(host) {
        r.error(
            Rule::HostName,
            root.field("host_name"),
            format!("host name `{host}` {problem}"),
        )
        .help(host_name_help(host));
    }
    check_base(os, root, r);
    check_arch(os, root, r);
    check_kernel(os, root, r);
    check_packages(os, root, r);
    check_time_zone_and_locale(os, root, r);
    check_hosts(os, root, r);
}

/// Images are amd64 only for now: the ESP's boot file is `BOOTX64.EFI`, the launch scripts
/// start x86 machines, and no arm64 image has been booted. An aarch64 base would build an
/// image that cannot start, so it is refused rather than ignored.
fn check_arch(os: &OperatingSystem, root: &FieldPath, r: &mut Report) {
    let arch = os.base.arch;
    if arch != Arch::Amd64 {
        r.error(
            Rule::UnsupportedArch,
            root.field("base").field("arch"),
            format!(
                "architecture `{}` is not supported yet: images boot amd64 only \
                 (EFI/BOOT/BOOTX64.EFI, bhyve and qemu-system-x86_64)",
                arch.name()
            ),
        )
        .help("use `amd64`, with amd64 release sets or tree");
    }
}

/// The base's release label and the boot loader it is given (a host path, read at import).
fn check_base(os: &OperatingSystem, root: &FieldPath, r: &mut Report) {
    let base = root.field("base");
    let release = &os.base.release;
    if !is_release_label(release) {
        r.error(
            Rule::ReleaseLabel,
            base.field("release"),
            format!("`{release}` is not a FreeBSD release label"),
        )
        .help("write it like `15.0-RELEASE`, `14.3-RELEASE-p2` or `16.0-CURRENT`");
    }
    if let Some(loader) = &os.base.loader_efi {
        let shown = loader.to_string_lossy();
        // A host path, not one in the image: `..` and symlinks are the host's business.
        let problem = if loader.as_os_str().is_empty() {
            Some("is empty")
        } else if !loader.is_absolute() {
            Some("is not an absolute path")
        } else {
            None
        };
        if let Some(problem) = problem {
            r.error(
                Rule::NotAbsolutePath,
                base.field("loader_efi"),
                format!("boot loader `{shown}` {problem}"),
            )
            .help(
                "give the loader's absolute path on the building host, e.g. `/usr/obj/loader.efi`",
            );
        }
    }
}

fn check_kernel(os: &OperatingSystem, root: &FieldPath, r: &mut Report) {
    let kernel = root.field("kernel");
    let config = &os.kernel.config;
    if config.is_empty() {
        r.error(
            Rule::KernelName,
            kernel.field("config"),
            "kernel configuration name is empty",
        )
        .help("use `GENERIC` unless you built your own kernel");
    } else if !is_kernel_config(config) {
        r.error(
            Rule::KernelName,
            kernel.field("config"),
            format!("`{config}` is not a kernel configuration name"),
        )
        .help("kernel configurations are named like `GENERIC`: letters, digits, `_`, `.` and `-`");
    }
    for (j, module) in os.kernel.modules.iter().enumerate() {
        if is_module_name(module) {
            continue;
        }
        let fixed = module
            .strip_suffix(".ko")
            .unwrap_or(module)
            .to_ascii_lowercase()
            .replace('-', "_");
        let v = r.error(
            Rule::KernelName,
            kernel.field("modules").index(j),
            format!("`{module}` is not a kernel module name"),
        );
        if is_module_name(&fixed) {
            v.help(format!("did you mean `{fixed}`?"));
        } else {
            v.help("module names are lowercase letters, digits and `_`, e.g. `if_vtnet`");
        }
    }
}

fn check_packages(os: &OperatingSystem, root: &FieldPath, r: &mut Report) {
    let packages = root.field("packages");
    // A `pkg_file` may leave its name to the file's manifest.
    let named_by_manifest =
        |p: &Package| p.name.is_empty() && matches!(p.source, PackageSource::PkgFile { .. });
    let earlier = earlier_duplicates(
        os.packages
            .iter()
            .map(|p| (!named_by_manifest(p)).then_some(p.name.as_str())),
    );
    for (i, (package, earlier)) in os.packages.iter().zip(earlier).enumerate() {
        let at = packages.index(i);
        let name = &package.name;
        if named_by_manifest(package) {
            // The name is read from the file's manifest at build time.
        } else if name.is_empty() {
            r.error(Rule::PackageName, at.field("name"), "package name is empty");
        } else if !is_package_name(name) {
            r.error(Rule::PackageName, at.field("name"), format!("`{name}` is not a package name"))
                .help("package names are letters, digits, `.`, `_`, `+` and `-`, starting with a letter or digit");
        } else if let Some(first) = earlier {
            r.error(
                Rule::DuplicatePackage,
                at.field("name"),
                format!("duplicate package `{name}`: `packages[{first}]` already adds it"),
            )
            .depends(packages.index(first).field("name"));
        }
        // pkg versions have their own, stricter rule.
        let pkg_version = matches!(package.source, PackageSource::Pkg { .. });
        if let Some(c) = package
            .version
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || *c == '/')
            .filter(|_| !pkg_version)
        {
            r.error(
                Rule::InvalidValue,
                at.field("version"),
                format!("version of package `{name}` contains {}", show_char(c)),
            );
        }
        if let PackageSource::Inline { files } = &package.source {
            // The macro writes files as a map `files: { "path": "contents" }`, recorded
            // under `source["path"]`.
            let earlier = earlier_duplicates(files.iter().map(|f| Some(f.path.as_str())));
            for (file, earlier) in files.iter().zip(earlier) {
                let path = &file.path;
                let file_at = at.field("source").key(path);
                if let Some(problem) = relative_path_problem(path) {
                    r.error(
                        Rule::InvalidValue,
                        file_at,
                        format!(
                            "file path `{}` in package `{name}` {problem}",
                            path.escape_debug()
                        ),
                    )
                    .help("use a relative path such as `bin/hello` or `share/doc/README`");
                } else if earlier.is_some() {
                    r.error(
                        Rule::InvalidValue,
                        file_at,
                        format!("package `{name}` lists file `{path}` twice"),
                    );
                }
            }
        }
    }
}

fn check_time_zone_and_locale(os: &OperatingSystem, root: &FieldPath, r: &mut Report) {
    let tz = &os.time_zone;
    let example = "use an IANA time zone name such as `UTC` or `Europe/Berlin`";
    if tz.is_empty() {
        r.error(
            Rule::TimeZone,
            root.field("time_zone"),
            "time zone is empty",
        )
        .help(example);
    } else if !is_valid_time_zone(tz) {
        let help = did_you_mean(tz, ZONE_NAMES.iter().copied())
            .unwrap_or_else(|| format!("{example} (tzdata {TZDATA_VERSION})"));
        r.error(
            Rule::TimeZone,
            root.field("time_zone"),
            format!("unknown time zone `{tz}`"),
        )
        .help(help);
    }
    let locale = &os.locale;
    if !is_locale(locale) {
        let utf8 = format!("{locale}.UTF-8");
        let help = if is_locale(&utf8) {
            format!("did you mean `{utf8}`?")
        } else {
            "use `C.UTF-8`, or a name like `en_US.UTF-8`".to_owned()
        };
        r.error(
            Rule::Locale,
            root.field("locale"),
            format!("`{locale}` is not a locale name"),
        )
        .help(help);
    }
}

/// What is wrong with an `/etc/hosts` address, with the fix: it must be an IPv4 or IPv6
/// address; an IPv6 one may carry a zone after `%`, as FreeBSD's own `/etc/hosts` writes
/// `fe80::1%lo0`. Like getaddrinfo(3), a numeric zone fits any IPv6 address, an interface
/// name only the link-scoped ones (link-local unicast, interface- and link-local multicast).
fn host_address_problem(address: &str) -> Option<(String, String)> {
    let not_an_address = || {
        (
            format!("`{address}` is not an IPv4 or IPv6 address"),
            "write an address such as `192.0.2.10` or `2001:db8::10`".to_owned(),
        )
    };
    let Some((ip, zone)) = address.split_once('%') else {
        return address.parse::<IpAddr>().is_err().then(not_an_address);
    };
    let Ok(ip) = ip.parse::<Ipv6Addr>() else {
        if ip.parse::<Ipv4Addr>().is_ok() {
            return Some((
                format!("`{address}` is an IPv4 address with a zone; only IPv6 addresses have one"),
                format!("write `{ip}`"),
            ));
        }
        return Some(not_an_address());
    };
    if zone.bytes().all(|b| b.is_ascii_digit()) && zone.parse::<u32>().is_ok() {
        return None;
    }
    if !is_interface_name(zone) {
        let shown = if zone.is_empty() { "empty" } else { zone };
        return Some((
            format!("the zone of `{address}` ({shown}) is not a FreeBSD interface name"),
            format!(
                "name the interface after `%`, e.g. `{ip}%lo0`: up to {IFNAME_MAX} letters, \
                 digits, `.`, `_` and `-`, starting with a letter"
            ),
        ));
    }
    if !is_link_scoped(&ip) {
        return Some((
            format!(
                "`{address}` names interface `{zone}`, but `{ip}` is not a link-scoped address"
            ),
            format!(
                "interface zones are for link-local addresses (`fe80::/10`, `ff02::/16`); \
                 write `{ip}`"
            ),
        ));
    }
    None
}

/// The longest FreeBSD interface name (`IFNAMSIZ` is 16 bytes, the NUL included).
const IFNAME_MAX: usize = 15;

/// Whether `name` is a FreeBSD interface name: `lo0`, `em0`, `vtnet0.100`, `bridge0`...
/// (ifconfig's `name` can rename one to any such word).
fn is_interface_name(name: &str) -> bool {
    name.len() <= IFNAME_MAX
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Whether an interface name can scope `ip` (FreeBSD's `ip6_str2scopeid`): link-local
/// unicast, or multicast of interface-local or link-local scope.
fn is_link_scoped(ip: &Ipv6Addr) -> bool {
    let [first, second, ..] = ip.octets();
    ip.is_unicast_link_local() || (first == 0xff && matches!(second & 0x0f, 0x01 | 0x02))
}

fn check_hosts(os: &OperatingSystem, root: &FieldPath, r: &mut Report) {
    for (i, entry) in os.hosts.iter().enumerate() {
        let at = root.field("hosts").index(i);
        let address = &entry.address;
        if let Some((message, help)) = host_address_problem(address) {
            r.error(Rule::HostAddress, at.field("address"), message)
                .help(help);
        }
        if entry.names.is_empty() {
            r.error(
                Rule::HostName,
                at.field("names"),
                format!("hosts entry `{address}` has no names"),
            )
            .help("list at least one host name for the address");
        }
        for (j, name) in entry.names.iter().enumerate() {
            if let Some(problem) = host_name_problem(name) {
                r.error(
                    Rule::HostName,
                    at.field("names").index(j),
                    format!("host name `{name}` {problem}"),
                )
                .help(host_name_help(name));
            }
        }
    }
}

#[cfg(test)]
#[path = "syntax_tests.rs"]
mod tests;
