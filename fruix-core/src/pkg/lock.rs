//! The lock file (`fruix.lock`, beside the system crate, like `Cargo.lock`): the resolved
//! closure pinned, so that builds need no catalogue and work offline from the download
//! cache.
//!
//! Format: TOML, because it is what a Rust user already reads in `Cargo.lock`, diffs one
//! field a line, and takes a leading comment saying the file is generated. It is written
//! deterministically: repositories in declaration order (the order is their priority),
//! packages sorted by name, their dependencies sorted, fixed field order.
//!
//! ```toml
//! version = 1
//!
//! [[repository]]
//! name = "FreeBSD"
//! url = "https://pkg.FreeBSD.org/${ABI}/quarterly"
//! abi = "FreeBSD:15:amd64"
//! catalogue_sha256 = "<hex>"
//! signature = "fingerprints"
//!
//! [[package]]
//! name = "sudo"
//! version = "1.9.16p2_1"
//! repository = "FreeBSD"
//! repopath = "All/sudo-1.9.16p2_1.pkg"
//! sha256 = "<hex>"
//! pkgsize = 1843200
//! deps = ["gettext-runtime"]
//! requested = true
//! ```

use super::resolve::{dependency_order, Request, Resolution};
use super::signature::signature_mode;
use fruix_spec::PackageRepository;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The lock file's usual name, beside the system crate's `Cargo.toml`.
pub const LOCK_FILE: &str = "fruix.lock";

/// The format version this code reads and writes.
pub const LOCK_VERSION: u32 = 1;

const HEADER: &str =
    "# Written by fruix (`<system> lock` or `--update-lock`): the packages of the\n\
# system's pkg repositories, pinned. Commit it; do not edit it by hand.\n";

/// A lock file's contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// Format version ([`LOCK_VERSION`]).
    pub version: u32,
    /// The repositories, in declaration order.
    #[serde(default, rename = "repository")]
    pub repositories: Vec<LockedRepository>,
    /// The packages, by name.
    #[serde(default, rename = "package")]
    pub packages: Vec<LockedPackage>,
}

/// A repository as it was when the lock was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedRepository {
    /// Declared name.
    pub name: String,
    /// Declared URL, `${ABI}` not substituted.
    pub url: String,
    /// The ABI used.
    pub abi: String,
    /// sha256 of the catalogue the packages were resolved from.
    pub catalogue_sha256: String,
    /// `unsigned`, `pubkey` or `fingerprints`.
    pub signature: String,
}

impl LockedRepository {
    /// The lock's record of a declared repository whose catalogue hashed to
    /// `catalogue_sha256`.
    pub fn new(repository: &PackageRepository, abi: &str, catalogue_sha256: &str) -> Self {
        LockedRepository {
            name: repository.name.clone(),
            url: repository.url.clone(),
            abi: abi.to_string(),
            catalogue_sha256: catalogue_sha256.to_string(),
            signature: signature_mode(&repository.signature).to_string(),
        }
    }
}

/// A package pinned by the lock: all a build needs to fetch and check it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedPackage {
    /// Package name.
    pub name: String,
    /// Exact version.
    pub version: String,
    /// The repository it comes from.
    pub repository: String,
    /// Path of the `.pkg` below the repository URL.
    pub repopath: String,
    /// sha256 of the `.pkg`, lowercase hex.
    pub sha256: String,
    /// Size of the `.pkg` in bytes.
    pub pkgsize: u64,
    /// Names of its dependencies (all in the lock).
    #[serde(default)]
    pub deps: Vec<String>,
    /// Whether the declaration asks for it by name.
    #[serde(default)]
    pub requested: bool,
}

/// A repository as the declaration has it now, for [`Lock::check`].
#[derive(Debug, Clone, Copy)]
pub struct DeclaredRepository<'a> {
    /// The declaration.
    pub repository: &'a PackageRepository,
    /// Its effective ABI (declared, or derived from the base).
    pub abi: &'a str,
}

/// Lock file problems.
#[derive(Debug, Error)]
pub enum LockError {
    /// Reading or writing the file failed.
    #[error("{action} lock file {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a lock file this code understands.
    #[error("lock file {}: {problem}", path.display())]
    Malformed {
        /// The file (`<text>` when parsed from memory).
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The declaration has changed since the lock was written.
    #[error(
        "the lock file no longer matches the declaration:\n  - {}\nupdate it with the system's `lock` verb (or build with `--update-lock`)",
        problems.join("\n  - ")
    )]
    Stale {
        /// Each difference, one sentence each.
        problems: Vec<String>,
    },
    /// The lock holds a value TOML cannot represent.
    #[error("the lock cannot be written: {problem}")]
    Unwritable {
        /// What the serialiser said.
        problem: String,
    },
    /// A resolved package names a repository the lock is not given.
    #[error("package {package:?} comes from repository {repository:?}, which is not among the locked repositories")]
    UnknownRepository {
        /// The package.
        package: String,
        /// Its repository.
        repository: String,
    },
}

impl Lock {
    /// Pins a resolution. `repositories` are the declared ones, in declaration order.
    pub fn new(
        repositories: Vec<LockedRepository>,
        resolution: &Resolution,
    ) -> Result<Lock, LockError> {
        let mut packages = Vec::with_capacity(resolution.packages.len());
        for p in &resolution.packages {
            if !repositories.iter().any(|r| r.name == p.repository) {
                return Err(LockError::UnknownRepository {
                    package: p.name().to_string(),
                    repository: p.repository.clone(),
                });
            }
            packages.push(LockedPackage {
                name: p.name().to_string(),
                version: p.entry.manifest.version.clone(),
                repository: p.repository.clone(),
                repopath: p.entry.repopath.clone(),
                sha256: p.entry.sha256.clone(),
                pkgsize: p.entry.pkgsize,
                deps: p.entry.manifest.deps.keys().cloned().collect(),
                requested: p.requested,
            });
        }
        let mut lock = Lock {
            version: LOCK_VERSION,
            repositories,
            packages,
        };
        lock.normalise();
        Ok(lock)
    }

    fn normalise(&mut self) {
        self.packages.sort_by(|a, b| a.name.cmp(&b.name));
        for p in &mut self.packages {
            p.deps.sort();
            p.deps.dedup();
        }
    }

    /// The file's text: deterministic for the same lock. Fails only for values TOML
    /// cannot hold (a size above 2^63 - 1 from a hostile catalogue).
    pub fn to_toml(&self) -> Result<String, LockError> {
        if let Some(p) = self
            .packages
            .iter()
            .find(|p| i64::try_from(p.pkgsize).is_err())
        {
            return Err(LockError::Unwritable {
                problem: format!(
                    "package {:?}: pkgsize {} is above TOML's integers",
                    p.name, p.pkgsize
                ),
            });
        }
        let mut lock = self.clone();
        lock.normalise();
        let body = toml::to_string(&lock).map_err(|e| LockError::Unwritable {
            problem: e.to_string(),
        })?;
        Ok(format!("{HEADER}\n{body}"))
    }

    /// Parses and checks a lock file's text; `path` only names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Lock, LockError> {
        let malformed = |problem: String| LockError::Malformed {
            path: path.to_path_buf(),
            problem,
        };
        let lock: Lock = toml::from_str(text).map_err(|e| malformed(e.to_string()))?;
        if lock.version != LOCK_VERSION {
            return Err(malformed(format!(
                "format version {} is not supported (this fruix reads version {LOCK_VERSION})",
                lock.version
            )));
        }
        lock.validate().map_err(malformed)?;
        Ok(lock)
    }

    fn validate(&self) -> Result<(), String> {
        let mut repositories = BTreeSet::new();
        for r in &self.repositories {
            if !repositories.insert(r.name.as_str()) {
                return Err(format!("repository {:?} is listed twice", r.name));
            }
            if !is_sha256_hex(&r.catalogue_sha256) {
                return Err(format!(
                    "repository {:?}: catalogue_sha256 {:?} is not a sha256",
                    r.name, r.catalogue_sha256
                ));
            }
        }
        let mut names = BTreeSet::new();
        for p in &self.packages {
            if !names.insert(p.name.as_str()) {
                return Err(format!("package {:?} is listed twice", p.name));
            }
            if !repositories.contains(p.repository.as_str()) {
                return Err(format!(
                    "package {:?} comes from repository {:?}, which the lock does not list",
                    p.name, p.repository
                ));
            }
            if !is_sha256_hex(&p.sha256) {
                return Err(format!(
                    "package {:?}: sha256 {:?} is not a sha256",
                    p.name, p.sha256
                ));
            }
        }
        for p in &self.packages {
            if let Some(missing) = p.deps.iter().find(|d| !names.contains(d.as_str())) {
                return Err(format!(
                    "package {:?} depends on {missing:?}, which the lock does not list",
                    p.name
                ));
            }
        }
        self.in_dependency_order()
            .map(|_| ())
            .map_err(|chain| format!("dependency cycle: {}", chain.join(" -> ")))
    }

    /// The packages, dependencies before dependents (ties by name): the order to import
    /// them in. `Err` holds a dependency cycle (a parsed lock has none).
    pub fn in_dependency_order(&self) -> Result<Vec<&LockedPackage>, Vec<String>> {
        let by_name: BTreeMap<&str, &LockedPackage> =
            self.packages.iter().map(|p| (p.name.as_str(), p)).collect();
        let deps: BTreeMap<&str, Vec<&str>> = self
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.deps.iter().map(String::as_str).collect()))
            .collect();
        let order = dependency_order(&deps)?;
        Ok(order
            .iter()
            .filter_map(|n| by_name.get(n).copied())
            .collect())
    }

    /// The locked repository called `name`.
    pub fn repository(&self, name: &str) -> Option<&LockedRepository> {
        self.repositories.iter().find(|r| r.name == name)
    }

    /// Reads and checks the lock file at `path`.
    pub fn read(path: &Path) -> Result<Lock, LockError> {
        let text = fs::read_to_string(path).map_err(|source| LockError::Io {
            action: "reading",
            path: path.to_path_buf(),
            source,
        })?;
        Lock::parse(&text, path)
    }

    /// Writes the lock to `path` atomically (temporary file in the same directory, then
    /// rename), so a crash leaves the old lock or the new one.
    pub fn write(&self, path: &Path) -> Result<(), LockError> {
        let io = |action: &'static str| {
            move |source| LockError::Io {
                action,
                path: path.to_path_buf(),
                source,
            }
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| LOCK_FILE.to_string());
        let text = self.to_toml()?;
        let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        let result = (|| {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map_err(io("writing"))
    }

    /// Checks that the declaration (its repositories in order, its requests) is still
    /// what the lock was written for. Every difference is reported, each in one sentence.
    pub fn check(
        &self,
        repositories: &[DeclaredRepository<'_>],
        requests: &[Request],
    ) -> Result<(), LockError> {
        let mut problems = Vec::new();
        self.check_repositories(repositories, &mut problems);
        self.check_requests(requests, &mut problems);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(LockError::Stale { problems })
        }
    }

    fn check_repositories(&self, declared: &[DeclaredRepository<'_>], problems: &mut Vec<String>) {
        for d in declared {
            let repo = d.repository;
            let Some(locked) = self.repository(&repo.name) else {
                problems.push(format!(
                    "repository {:?} is declared but not in the lock",
                    repo.name
                ));
                continue;
            };
            let mode = signature_mode(&repo.signature);
            let fields = [
                ("URL", locked.url.as_str(), repo.url.as_str()),
                ("ABI", locked.abi.as_str(), d.abi),
                ("signature", locked.signature.as_str(), mode),
            ];
            for (field, was, now) in fields {
                if was != now {
                    problems.push(format!(
                        "repository {:?}: {field} is {now:?} but the lock has {was:?}",
                        repo.name
                    ));
                }
            }
        }
        for locked in &self.repositories {
            if !declared.iter().any(|d| d.repository.name == locked.name) {
                problems.push(format!(
                    "repository {:?} is in the lock but no longer declared",
                    locked.name
                ));
            }
        }
        let now: Vec<&str> = declared
            .iter()
            .map(|d| d.repository.name.as_str())
            .collect();
        let was: Vec<&str> = self
            .repositories
            .iter()
            .map(|r| r.name.as_str())
            .filter(|n| now.contains(n))
            .collect();
        let still: Vec<&str> = now.iter().copied().filter(|n| was.contains(n)).collect();
        if was != still {
            problems.push(format!(
                "repositories are declared in the order {} but the lock has {}",
                still.join(", "),
                was.join(", ")
            ));
        }
    }

    fn check_requests(&self, requests: &[Request], problems: &mut Vec<String>) {
        for request in requests {
            let Some(locked) = self.packages.iter().find(|p| p.name == request.name) else {
                problems.push(format!(
                    "package {:?} is requested but not in the lock",
                    request.name
                ));
                continue;
            };
            if !locked.requested {
                problems.push(format!(
                    "package {:?} is requested but the lock has it only as a dependency",
                    request.name
                ));
            }
            if let Some(version) = request.version.as_deref().filter(|v| *v != locked.version) {
                problems.push(format!(
                    "package {:?}: version {version:?} is requested but the lock has {:?}",
                    request.name, locked.version
                ));
            }
            if let Some(repo) = request
                .repository
                .as_deref()
                .filter(|r| *r != locked.repository)
            {
                problems.push(format!(
                    "package {:?}: repository {repo:?} is requested but the lock has it from {:?}",
                    request.name, locked.repository
                ));
            }
        }
        for locked in self.packages.iter().filter(|p| p.requested) {
            if !requests.iter().any(|r| r.name == locked.name) {
                problems.push(format!(
                    "package {:?} is in the lock as requested but no longer requested",
                    locked.name
                ));
            }
        }
    }
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests;
