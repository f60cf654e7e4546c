//! The rules of FreeBSD packages: `package_repositories` (names, URLs, ABIs, signature
//! keys) and the `pkg(...)` and `pkg_file(...)` entries of `packages` (versions, the
//! repositories they name, file paths and sha256 sums).

use super::syntax::is_package_name;
use super::syntax::{did_you_mean, earlier_duplicates, maybe_help, show_char};
use super::{FieldPath, Report, Rule};
use crate::{BaseSource, OperatingSystem, PackageSource, RepositorySignature, ABI_VARIABLE};
use std::path::Path;

/// What makes `name` unusable as a repository name: pkg.conf keys are identifiers
/// (`FreeBSD`, `FreeBSD-base`, `local`): a letter, then letters, digits, `_` and `-`.
pub(crate) fn repository_name_problem(name: &str) -> Option<String> {
    let Some(first) = name.chars().next() else {
        return Some("is empty".to_owned());
    };
    if !first.is_ascii_alphabetic() {
        return Some(format!(
            "starts with {}; it must start with a letter",
            show_char(first)
        ));
    }
    name.chars()
        .find(|c| !c.is_ascii_alphanumeric() && !matches!(c, '_' | '-'))
        .map(|c| {
            format!(
                "contains {}, which repository names cannot hold",
                show_char(c)
            )
        })
}

/// What is wrong with a repository URL, and the fix when there is an obvious one. Accepted:
/// `http://host/...`, `https://host/...`, `file:///dir` and `/dir`, where `${ABI}` is the one
/// variable (pkg's others, such as `${VERSION_MINOR}`, are not expanded by Fruix).
pub(crate) fn url_problem(url: &str) -> Option<(String, Option<String>)> {
    if url.is_empty() {
        return Some((
            "repository URL is empty".to_owned(),
            Some(format!(
                "e.g. `https://pkg.FreeBSD.org/{ABI_VARIABLE}/quarterly`"
            )),
        ));
    }
    if let Some(c) = url.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Some((
            format!(
                "repository URL `{}` contains {}",
                url.escape_debug(),
                show_char(c)
            ),
            None,
        ));
    }
    if let Some(rest) = url.strip_prefix("pkg+") {
        return Some((
            format!("repository URL `{url}` asks for an SRV mirror lookup (`pkg+`), which Fruix does not support"),
            Some(format!("fetch from one server over https: `{}`", rest.replacen("http://", "https://", 1))),
        ));
    }
    if let Some(problem) = variable_problem(url) {
        return Some(problem);
    }
    if let Some(c) = url.chars().find(|c| matches!(c, '?' | '#')) {
        return Some((
            format!(
                "repository URL `{url}` has a {}; pkg appends file names to the URL",
                if c == '?' { "query" } else { "fragment" }
            ),
            Some("remove everything from `?` or `#` on".to_owned()),
        ));
    }
    let dir = if let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    {
        let host = rest.split('/').next().unwrap_or_default();
        if host.is_empty() {
            return Some((
                format!("repository URL `{url}` has no host"),
                Some("write it like `https://pkg.FreeBSD.org/...`".to_owned()),
            ));
        }
        return None;
    } else if let Some(rest) = url.strip_prefix("file://") {
        if !rest.starts_with('/') {
            return Some((
                format!("repository URL `{url}` does not name an absolute directory"),
                Some(format!(
                    "file URLs have three slashes: `file:///{}`",
                    rest.trim_start_matches('/')
                )),
            ));
        }
        rest
    } else if url.starts_with('/') {
        url
    } else {
        let help = match url.split_once("://") {
            Some((scheme, _)) => format!("`{scheme}` is not supported; use `https://`, `http://`, `file://` or an absolute directory"),
            None => "use an `https://`, `http://` or `file://` URL, or an absolute directory".to_owned(),
        };
        return Some((format!("repository URL `{url}` is neither an http(s) or file URL nor an absolute directory"), Some(help)));
    };
    dir.split('/')
        .skip(1)
        .find(|part| matches!(*part, "." | ".."))
        .map(|part| {
            (
                format!("repository directory `{dir}` contains a `{part}` component"),
                Some("write the directory without `.` and `..`".to_owned()),
            )
        })
}

/// `$` anywhere but in `${ABI}`: another pkg variable, or a misspelled one.
fn variable_problem(url: &str) -> Option<(String, Option<String>)> {
    let without_abi = url.replace(ABI_VARIABLE, "");
    let at = without_abi.find('$')?;
    let rest = &without_abi[at..];
    let written = match rest.strip_prefix("${").and_then(|r| r.split_once('}')) {
        Some((name, _)) => format!("${{{name}}}"),
        None => rest
            .chars()
            .take_while(|c| *c == '$' || c.is_ascii_alphanumeric() || *c == '_')
            .collect(),
    };
    let bare = written
        .trim_start_matches('$')
        .trim_start_matches('{')
        .trim_end_matches('}');
    let help = if bare.eq_ignore_ascii_case("ABI") {
        format!("did you mean `{ABI_VARIABLE}`?")
    } else {
        format!("`{ABI_VARIABLE}` is the only variable a repository URL may hold; write the value of `{written}` out")
    };
    Some((
        format!("repository URL `{url}` uses `{written}`, which Fruix does not expand"),
        Some(help),
    ))
}

/// What makes `abi` not a pkg ABI Fruix can use: `FreeBSD:<major>:<arch>`, arch `*` for any.
fn abi_form_problem(abi: &str) -> Option<String> {
    let parts: Vec<&str> = abi.split(':').collect();
    let number = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    match parts.as_slice() {
        [os, major, arch] if *os == "FreeBSD" && number(major) && !arch.is_empty() => None,
        [os, ..] if os.eq_ignore_ascii_case("freebsd") && *os != "FreeBSD" => {
            Some("writes the system as `FreeBSD`, with that capitalisation".to_owned())
        }
        _ => Some("is not of the form `FreeBSD:<major>:<arch>`".to_owned()),
    }
}

/// Whether `version` is a pkg version `<ver>[_<rev>][,<epoch>]`: `ver` letters, digits,
/// `.` and `+` (as ports' PORTVERSION), revision and epoch numbers.
pub(crate) fn is_pkg_version(version: &str) -> bool {
    let number = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let (rest, epoch) = match version.rsplit_once(',') {
        Some((rest, epoch)) => (rest, Some(epoch)),
        None => (version, None),
    };
    let (ver, revision) = match rest.rsplit_once('_') {
        Some((ver, revision)) => (ver, Some(revision)),
        None => (rest, None),
    };
    let ver_ok = ver.starts_with(|c: char| c.is_ascii_alphanumeric())
        && ver
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+'));
    ver_ok && revision.is_none_or(number) && epoch.is_none_or(number)
}

/// What is wrong with a sha256 written as text, and its fix.
pub(crate) fn sha256_problem(sum: &str) -> Option<(String, Option<String>)> {
    let hex = sum.chars().all(|c| c.is_ascii_hexdigit());
    if sum.len() == 64 && hex && sum.chars().all(|c| !c.is_ascii_uppercase()) {
        return None;
    }
    if sum.len() == 64 && hex {
        return Some((
            "sha256 is in uppercase".to_owned(),
            Some(format!(
                "write it in lowercase: `{}`",
                sum.to_ascii_lowercase()
            )),
        ));
    }
    let what = match sum.chars().find(|c| !c.is_ascii_hexdigit()) {
        Some(c) => format!(
            "sha256 `{sum}` contains {}, which is not a hex digit",
            show_char(c)
        ),
        None => format!("sha256 `{sum}` has {} hex digits instead of 64", sum.len()),
    };
    Some((
        what,
        Some("give the 64 lowercase hex digits `sha256sum` prints".to_owned()),
    ))
}

/// Checks the repositories, then the pkg packages against them.
pub(crate) fn check(os: &OperatingSystem, root: &FieldPath, r: &mut Report) {
    check_repositories(os, root, r);
    check_pkgbase(os, root, r);
    check_pkg_packages(os, root, r);
}

/// "did you mean" among the declared repositories, else what they are.
fn undeclared_help(wanted: &str, declared: &[&str]) -> String {
    did_you_mean(wanted, declared.iter().copied()).unwrap_or_else(|| match declared {
        [] => "declare it in `package_repositories`".to_owned(),
        names => format!(
            "declared repositories: {}",
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}

/// A base from pkgbase: its repository is declared, its packages are `FreeBSD-*` ones.
fn check_pkgbase(os: &OperatingSystem, root: &FieldPath, r: &mut Report) {
    let BaseSource::Pkgbase {
        repository,
        packages,
    } = &os.base.source
    else {
        return;
    };
    let source = root.field("base").field("source");
    let repos = root.field("package_repositories");
    let declared: Vec<&str> = os
        .package_repositories
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    if declared.is_empty() {
        r.error(
            Rule::NoRepository,
            source.field("repository"),
            format!("the base comes from pkgbase repository `{repository}`, but `package_repositories` declares none"),
        )
        .help(format!(
            "add `package_repositories: [{{ name: \"{repository}\", url: \"https://pkg.FreeBSD.org/{ABI_VARIABLE}/base_release_0\", signature: fingerprints(\"/usr/share/keys/pkgbase-15\") }}]`"
        ))
        .depends(repos.all());
    } else if !declared.contains(&repository.as_str()) {
        r.error(
            Rule::UndeclaredRepository,
            source.field("repository"),
            format!("the base comes from repository `{repository}`, which is not declared"),
        )
        .help(undeclared_help(repository, &declared))
        .depends(repos.all().field("name"));
    }
    let at = source.field("packages");
    let earlier = earlier_duplicates(packages.iter().map(|p| Some(p.as_str())));
    for (j, (name, earlier)) in packages.iter().zip(earlier).enumerate() {
        if !name.starts_with("FreeBSD-") || !is_package_name(name) {
            let fixed = format!("FreeBSD-{name}");
            let help = if is_package_name(&fixed) && !name.starts_with("FreeBSD") {
                format!("did you mean `{fixed}`?")
            } else {
                "base packages are named like `FreeBSD-runtime` or `FreeBSD-set-minimal`".to_owned()
            };
            r.error(
                Rule::PackageName,
                at.index(j),
                format!(
                    "`{}` is not a base package name: pkgbase packages are named `FreeBSD-*`",
                    name.escape_debug()
                ),
            )
            .help(help);
        } else if let Some(first) = earlier {
            r.error(
                Rule::DuplicatePackage,
                at.index(j),
                format!("base package `{name}` is listed twice (first as `packages[{first}]`)"),
            );
        }
    }
}

fn check_repositories(os: &OperatingSystem, root: &FieldPath, r: &mut Report) {
    let repos = root.field("package_repositories");
    let earlier = earlier_duplicates(
        os.package_repositories
            .iter()
            .map(|p| Some(p.name.as_str())),
    );
    for (i, (repo, earlier)) in os.package_repositories.iter().zip(earlier).enumerate() {
        let at = repos.index(i);
        let name = &repo.name;
        if let Some(problem) = repository_name_problem(name) {
            r.error(
                Rule::RepositoryName,
                at.field("name"),
                format!("repository name `{}` {problem}", name.escape_debug()),
            )
            .help("name repositories like pkg.conf does: `FreeBSD`, `FreeBSD-base`, `local`");
        } else if let Some(first) = earlier {
            r.error(Rule::DuplicateRepository, at.field("name"), format!("duplicate repository `{name}`: `package_repositories[{first}]` already declares it"))
                .depends(repos.index(first).field("name"));
        }
        if let Some((message, help)) = url_problem(&repo.url) {
            let v = r.error(Rule::RepositoryUrl, at.field("url"), message);
            maybe_help(v, help);
        }
        if let Some(abi) = &repo.abi {
            check_abi(os, root, &at, abi, r);
        }
        let (field, key, example) = match &repo.signature {
            RepositorySignature::None => continue,
            RepositorySignature::Pubkey { key } => ("key", key, "/usr/local/etc/ssl/repo.pub"),
            RepositorySignature::Fingerprints { dir } => ("dir", dir, "/usr/share/keys/pkg"),
        };
        if let Some(problem) = host_path_problem(key) {
            r.error(
                Rule::NotAbsolutePath,
                at.field("signature").field(field),
                format!(
                    "signature {} `{}` of repository `{name}` {problem}",
                    if field == "key" { "key" } else { "directory" },
                    key.display()
                ),
            )
            .help(format!(
                "give an absolute path on the building host, e.g. `{example}`"
            ));
        }
    }
}

/// A path on the building host must be written and absolute; what it holds is checked
/// when it is read.
fn host_path_problem(path: &Path) -> Option<&'static str> {
    if path.as_os_str().is_empty() {
        Some("is empty")
    } else if !path.is_absolute() {
        Some("is not an absolute path")
    } else {
        None
    }
}

fn check_abi(os: &OperatingSystem, root: &FieldPath, at: &FieldPath, abi: &str, r: &mut Report) {
    let base = root.field("base");
    if let Some(problem) = abi_form_problem(abi) {
        let v = r.error(
            Rule::RepositoryAbi,
            at.field("abi"),
            format!("ABI `{}` {problem}", abi.escape_debug()),
        );
        maybe_help(
            v,
            os.base
                .pkg_abi()
                .map(|own| format!("the base's ABI is `{own}`; leave `abi` out to use it")),
        );
        return;
    }
    let (Some(major), Some(own)) = (os.base.major_version(), os.base.pkg_abi()) else {
        return; // The release label is reported on its own.
    };
    let mut parts = abi.split(':').skip(1);
    let (abi_major, abi_arch) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let arch = os.base.arch.name();
    let mismatch = if abi_major.parse::<u32>().ok() != Some(major) {
        Some(format!(
            "is for FreeBSD {abi_major}, but the base is `{}`",
            os.base.release
        ))
    } else if abi_arch != "*" && abi_arch != arch {
        Some(format!("is for `{abi_arch}`, but the base is `{arch}`"))
    } else {
        None
    };
    if let Some(mismatch) = mismatch {
        r.error(
            Rule::RepositoryAbi,
            at.field("abi"),
            format!("ABI `{abi}` {mismatch}"),
        )
        .help(format!(
            "use `{own}` (or leave `abi` out: it defaults to the base's)"
        ))
        .depends(base.field("release"))
        .depends(base.field("arch"));
    }
}

fn check_pkg_packages(os: &OperatingSystem, root: &FieldPath, r: &mut Report) {
    let packages = root.field("packages");
    let repos = root.field("package_repositories");
    let declared: Vec<&str> = os
        .package_repositories
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    let files = os.packages.iter().map(|p| match &p.source {
        PackageSource::PkgFile { path, .. } => Some(path.as_path()),
        _ => None,
    });
    let earlier_files = earlier_duplicates(files);
    let mut reported_no_repository = false;
    for (i, (package, earlier_file)) in os.packages.iter().zip(earlier_files).enumerate() {
        let at = packages.index(i);
        let name = &package.name;
        let source = at.field("source");
        match &package.source {
            PackageSource::Pkg { repository } => {
                if !package.version.is_empty() && !is_pkg_version(&package.version) {
                    r.error(Rule::PkgVersion, at.field("version"), format!("`{}` is not a pkg version", package.version.escape_debug()))
                        .help("write the exact version as the repository lists it: `<version>[_<revision>][,<epoch>]`, e.g. `1.9.16p2_1`");
                }
                match repository {
                    Some(wanted) if !declared.contains(&wanted.as_str()) => {
                        let help = undeclared_help(wanted, &declared);
                        r.error(Rule::UndeclaredRepository, source.field("repository"), format!("package `{name}` names repository `{wanted}`, which is not declared"))
                            .help(help)
                            .depends(repos.all().field("name"));
                    }
                    None if declared.is_empty() && !reported_no_repository => {
                        reported_no_repository = true;
                        r.error(Rule::NoRepository, source.clone(), format!("package `{name}` comes from a pkg repository, but `package_repositories` declares none"))
                            .help(format!("add `package_repositories: [{{ name: \"FreeBSD\", url: \"https://pkg.FreeBSD.org/{ABI_VARIABLE}/quarterly\" }}]`"))
                            .depends(repos.all())
                            .depends(source.field("repository"));
                    }
                    _ => {}
                }
            }
            PackageSource::PkgFile { path, sha256 } => {
                let shown = path.display();
                let problem = host_path_problem(path).or_else(|| {
                    let ext = path.extension().and_then(|e| e.to_str());
                    (!matches!(ext, Some("pkg" | "txz")))
                        .then_some("does not end in `.pkg` or `.txz`")
                });
                if let Some(problem) = problem {
                    r.error(Rule::PkgFile, source.field("path"), format!("package file `{shown}` {problem}"))
                        .help("give the absolute path of a `.pkg` file on the building host, e.g. `/var/cache/pkg/sudo-1.9.16p2_1.pkg`");
                } else if let Some(first) = earlier_file {
                    r.error(
                        Rule::DuplicatePackage,
                        source.field("path"),
                        format!(
                            "duplicate package file `{shown}`: `packages[{first}]` already adds it"
                        ),
                    )
                    .depends(packages.index(first).field("source").field("path"));
                }
                if let Some((what, help)) = sha256.as_deref().and_then(sha256_problem) {
                    let v = r.error(
                        Rule::Sha256,
                        source.field("sha256"),
                        format!("{what} (package file `{shown}`)"),
                    );
                    maybe_help(v, help);
                }
            }
            PackageSource::Inline { .. } | PackageSource::Tree { .. } => {}
        }
    }
}

#[cfg(test)]
#[path = "pkg_tests.rs"]
mod tests;
