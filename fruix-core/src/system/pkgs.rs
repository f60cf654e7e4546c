//! FreeBSD packages (`pkg(...)`, `pkg_file(...)`) in a system build, in two steps:
//!
//! 1. [`pin`], before the build cache is asked: the packages the declaration needs,
//!    pinned. With a lock file that matches the declaration, that is the lock (no
//!    network); without one (or with `update_lock`), the repositories' catalogues are
//!    fetched, their signatures checked, the requests resolved, and the lock written.
//!    A lock that no longer matches the declaration is an error saying how to update it.
//! 2. [`build`], inside the system build: every pinned `.pkg` fetched into the download
//!    cache (no network on a hit) and checked whole, then the manifests' accounts merged,
//!    their scripts sorted out by the policy, their paths checked against each other,
//!    and only then the packages imported as store items. Everything that can be refused
//!    is refused before the first item is written, so a refused build leaves the store's
//!    items as they were (the download cache keeps only verified downloads).

use super::pkg_record::{PackagesRecord, RecordedPackage, RecordedRepository};
use super::SystemError;
use crate::pkg::accounts::{self, AccountTable};
use crate::pkg::archive::{PkgArchive, Target};
use crate::pkg::cache::DownloadCache;
use crate::pkg::catalogue::{catalogue_file, read_members, Catalogue, MAX_CATALOGUE};
use crate::pkg::fetch::{Expected, FetchOptions, Fetcher, CATALOGUE_LIMIT};
use crate::pkg::import::{import, Expectation, OwnerIds};
use crate::pkg::location::RepoLocation;
use crate::pkg::lock::{DeclaredRepository, Lock, LockedPackage, LockedRepository};
use crate::pkg::resolve::{resolve, RepositoryIndex, Request};
use crate::pkg::scripts::{self, ScriptPlan};
use crate::pkg::signature::verify_catalogue;
use crate::pkg::{Manifest, PkgError};
use crate::store::{Store, StorePath};
use crate::{OperatingSystem, Package, PackageSource};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How a build treats the lock file and the network for FreeBSD packages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageOptions {
    /// The lock file (`fruix.lock` beside the system crate). `None`: resolve at every
    /// build and write nothing.
    pub lock_file: Option<PathBuf>,
    /// Resolve afresh and rewrite the lock file, even when it matches the declaration.
    pub update_lock: bool,
    /// Timeouts and retries of downloads.
    pub fetch: FetchOptions,
}

/// Progress of the package stage: bytes fetched so far and in all.
pub type PackageProgress<'a> = &'a mut dyn FnMut(u64, u64);

/// A `pkg_file(...)` package: the file and what it hashes to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PinnedFile {
    path: PathBuf,
    sha256: String,
}

/// The FreeBSD packages of a system, pinned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pins {
    /// The repositories' packages (`None` when the system asks none by name).
    pub lock: Option<Lock>,
    files: Vec<PinnedFile>,
    /// The locked packages a pkgbase base is made of (`system::pkgbase`), in the lock's
    /// dependency order; the package stage leaves them to the base.
    pub base: Vec<String>,
}

impl Pins {
    /// What identifies the pinned packages, for the build cache.
    pub fn identity(&self) -> Result<String, SystemError> {
        let mut out = match &self.lock {
            Some(lock) => lock.to_toml()?,
            None => String::new(),
        };
        for f in &self.files {
            out.push_str(&format!("file {}\n", f.sha256));
        }
        Ok(out)
    }

    /// Are there no packages?
    pub fn is_empty(&self) -> bool {
        self.lock.is_none() && self.files.is_empty()
    }
}

fn hash_file(path: &Path) -> Result<String, SystemError> {
    Ok(crate::store::hash::sha256_file(path).map_err(crate::io_error::io("reading", path))?)
}

/// The ABI `os`'s packages are for, per repository.
fn abi_of(os: &OperatingSystem, repo: &fruix_spec::PackageRepository) -> String {
    repo.abi_for(&os.base).unwrap_or_default()
}

/// Pins the FreeBSD packages of `os` (see the module documentation).
pub fn pin(
    os: &OperatingSystem,
    options: &PackageOptions,
    progress: PackageProgress<'_>,
) -> Result<Pins, SystemError> {
    let mut pins = Pins::default();
    let mut requests: Vec<Request> = Vec::new();
    let mut file_names: Vec<String> = Vec::new();
    let mut file_deps: Vec<String> = Vec::new();
    for package in &os.packages {
        match &package.source {
            PackageSource::Pkg { repository } => requests.push(Request {
                name: package.name.clone(),
                version: Some(package.version.clone()).filter(|v| !v.is_empty()),
                repository: repository.clone(),
            }),
            PackageSource::PkgFile { path, sha256 } => {
                let actual = hash_file(path)?;
                if let Some(want) = sha256.as_ref().filter(|w| **w != actual) {
                    return Err(SystemError::from(PkgError::FileChecksum {
                        package: path.display().to_string(),
                        expected: want.clone(),
                        actual,
                    }));
                }
                let archive = PkgArchive::open(path)?;
                let m = archive.manifest();
                for (declared, actual, what) in [
                    (&package.name, &m.name, "name"),
                    (&package.version, &m.version, "version"),
                ] {
                    if !declared.is_empty() && declared != actual {
                        return Err(SystemError::Package {
                            name: m.name.clone(),
                            why: format!(
                                "`{}` has {what} `{actual}`, the declaration says `{declared}`",
                                path.display()
                            ),
                        });
                    }
                }
                file_names.push(archive.manifest().name.clone());
                file_deps.extend(archive.manifest().deps.keys().cloned());
                pins.files.push(PinnedFile {
                    path: path.clone(),
                    sha256: actual,
                });
            }
            PackageSource::Inline { .. } | PackageSource::Tree { .. } => {}
        }
    }
    requests.extend(super::pkgbase::requests(os));
    // A package file's dependencies come from the repositories, unless another file
    // given is that dependency.
    for dep in file_deps {
        if !file_names.contains(&dep) && !requests.iter().any(|r| r.name == dep) {
            requests.push(Request::name(&dep));
        }
    }
    if requests.is_empty() {
        return Ok(pins);
    }
    let abis: Vec<String> = os
        .package_repositories
        .iter()
        .map(|r| abi_of(os, r))
        .collect();
    let declared: Vec<DeclaredRepository<'_>> = os
        .package_repositories
        .iter()
        .zip(&abis)
        .map(|(repository, abi)| DeclaredRepository { repository, abi })
        .collect();
    if let (Some(path), false) = (&options.lock_file, options.update_lock) {
        if path.exists() {
            let lock = Lock::read(path)?;
            lock.check(&declared, &requests)?;
            pins.base = super::pkgbase::closure(os, &lock)?;
            pins.lock = Some(lock);
            return Ok(pins);
        }
    }
    let lock = resolve_fresh(os, &abis, &requests, options, progress)?;
    // Checked before the lock is written: a base pulling in other packages is refused.
    pins.base = super::pkgbase::closure(os, &lock)?;
    if let Some(path) = &options.lock_file {
        lock.write(path)?;
    }
    pins.lock = Some(lock);
    Ok(pins)
}

/// Fetches the catalogues, resolves the requests, pins the result.
fn resolve_fresh(
    os: &OperatingSystem,
    abis: &[String],
    requests: &[Request],
    options: &PackageOptions,
    progress: PackageProgress<'_>,
) -> Result<Lock, SystemError> {
    let fetcher = Fetcher::new(options.fetch);
    let mut catalogues = Vec::new();
    let mut locked = Vec::new();
    for (repo, abi) in os.package_repositories.iter().zip(abis) {
        let catalogue = fetch_catalogue(&fetcher, repo, abi, progress)?;
        locked.push(LockedRepository::new(
            repo,
            abi,
            &catalogue.sha256_of_catalogue,
        ));
        catalogues.push(catalogue);
    }
    let indices: Vec<RepositoryIndex<'_>> = os
        .package_repositories
        .iter()
        .zip(abis)
        .zip(&catalogues)
        .map(|((repo, abi), catalogue)| RepositoryIndex {
            name: &repo.name,
            abi,
            entries: &catalogue.entries,
        })
        .collect();
    let resolution = resolve(&indices, requests)?;
    Ok(Lock::new(locked, &resolution)?)
}

/// One repository's catalogue, copied into a scratch directory (from the network or a
/// local repository) and read there, its signature checked as declared. A repository
/// used unsigned is said so on stderr.
fn fetch_catalogue(
    fetcher: &Fetcher,
    repo: &fruix_spec::PackageRepository,
    abi: &str,
    progress: PackageProgress<'_>,
) -> Result<Catalogue, SystemError> {
    let location = RepoLocation::parse(&repo.name, &repo.url, abi)?;
    let scratch = Scratch::new()?;
    fetcher.fetch_catalogue(
        &repo.name,
        &location,
        &scratch.0,
        CATALOGUE_LIMIT,
        &mut |p| progress(p.done, p.total.unwrap_or(0)),
    )?;
    let catalogue = Catalogue::read_dir(&scratch.0)?;
    let member = catalogue_file(&scratch.0, &catalogue.meta).map(|(_, member)| member);
    catalogue.check_abi(&Target {
        abi: abi.to_owned(),
        osversion: None,
    })?;
    let members = read_members(&catalogue.file, MAX_CATALOGUE)?;
    let status = verify_catalogue(
        &repo.name,
        &repo.signature,
        member.as_deref().unwrap_or_default(),
        &members,
    )?;
    if repo.signature.is_none() {
        eprintln!(
            "fruix: warning: repository `{}` is used unsigned: {status}",
            repo.name
        );
    }
    Ok(catalogue)
}

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch, SystemError> {
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("fruix-catalogue-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(crate::io_error::io("creating", &dir))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What the package stage made.
#[derive(Debug, Default)]
pub struct PkgStage {
    /// The items, in dependency order.
    pub items: Vec<StorePath>,
    /// Each package's item by name.
    pub by_name: BTreeMap<String, StorePath>,
    /// The items of `pkg_file(...)` packages by declared path.
    pub by_file: BTreeMap<PathBuf, StorePath>,
    /// Accounts the packages add.
    pub accounts: accounts::PackageAccounts,
    /// Their scripts, sorted out.
    pub scripts: ScriptPlan,
    /// `metadata/packages.json`.
    pub record: Option<PackagesRecord>,
}

impl PkgStage {
    /// The item of a declared FreeBSD package; `None` for other packages.
    pub fn item_of(&self, package: &Package) -> Option<StorePath> {
        match &package.source {
            PackageSource::Pkg { .. } => self.by_name.get(&package.name).cloned(),
            PackageSource::PkgFile { path, .. } => self.by_file.get(path).cloned(),
            PackageSource::Inline { .. } | PackageSource::Tree { .. } => None,
        }
    }
}

impl OwnerIds for AccountTable {
    fn uid(&self, name: &str) -> Option<u32> {
        AccountTable::uid(self, name)
    }
    fn gid(&self, name: &str) -> Option<u32> {
        AccountTable::gid(self, name)
    }
}

/// One package to import: its file and what it must be.
struct Fetched {
    path: PathBuf,
    /// The declared path of a `pkg_file(...)`.
    declared: Option<PathBuf>,
    sha256: String,
    repository: String,
    abi: String,
    archive: PkgArchive,
}

/// Fetches, checks and imports the pinned packages (see the module documentation).
pub fn build(
    os: &OperatingSystem,
    store: &Store,
    pins: &Pins,
    options: &PackageOptions,
    progress: PackageProgress<'_>,
) -> Result<PkgStage, SystemError> {
    if pins.is_empty() {
        return Ok(PkgStage::default());
    }
    let mut fetched: Vec<Fetched> = Vec::new();
    if let Some(lock) = &pins.lock {
        let order = in_dependency_order(lock)?;
        let order = order
            .into_iter()
            .filter(|p| !pins.base.contains(&p.name))
            .collect();
        for (path, p, repo) in fetch_locked(lock, order, store, options, progress)? {
            fetched.push(Fetched {
                archive: PkgArchive::open(&path)?,
                path,
                declared: None,
                sha256: p.sha256.clone(),
                repository: repo.name.clone(),
                abi: repo.abi.clone(),
            });
        }
    }
    if fetched.is_empty() && pins.files.is_empty() {
        // Only a pkgbase base's packages: no package stage.
        return Ok(PkgStage::default());
    }
    let default_abi = os.base.pkg_abi().unwrap_or_default();
    for f in &pins.files {
        fetched.push(Fetched {
            archive: PkgArchive::open(&f.path)?,
            path: f.path.clone(),
            declared: Some(f.path.clone()),
            sha256: f.sha256.clone(),
            repository: String::new(),
            abi: default_abi.clone(),
        });
    }
    // Everything checked before the first item is written.
    for f in &fetched {
        f.archive.check_target(&Target {
            abi: f.abi.clone(),
            osversion: None,
        })?;
        f.archive.verify()?;
    }
    let manifests: Vec<&Manifest> = fetched.iter().map(|f| f.archive.manifest()).collect();
    let (accounts, table) = accounts::merge(os, &manifests)?;
    let scripts = scripts::plan(&manifests)?;
    check_paths(&manifests)?;

    let mut stage = PkgStage {
        accounts,
        scripts,
        ..PkgStage::default()
    };
    let mut recorded = Vec::new();
    for f in &fetched {
        let manifest = f.archive.manifest();
        let expect = Expectation {
            target: Target {
                abi: f.abi.clone(),
                osversion: None,
            },
            sha256: Some(f.sha256.clone()),
            name: Some(manifest.name.clone()),
            version: Some(manifest.version.clone()),
            ..Expectation::default()
        };
        let imported = import(store, &f.path, &expect, &table)?;
        recorded.push(RecordedPackage {
            name: manifest.name.clone(),
            version: manifest.version.clone(),
            repository: f.repository.clone(),
            sha256: f.sha256.clone(),
            item: imported.path.to_string(),
        });
        stage
            .by_name
            .insert(manifest.name.clone(), imported.path.clone());
        if let Some(declared) = &f.declared {
            stage
                .by_file
                .insert(declared.clone(), imported.path.clone());
        }
        stage.items.push(imported.path);
    }
    let repositories = pins
        .lock
        .iter()
        .flat_map(|l| &l.repositories)
        .map(|r| RecordedRepository {
            name: r.name.clone(),
            signature: r.signature.clone(),
            catalogue_sha256: r.catalogue_sha256.clone(),
        })
        .collect();
    stage.record = Some(PackagesRecord::new(
        recorded,
        repositories,
        &stage.accounts,
        &stage.scripts,
    ));
    Ok(stage)
}

/// The lock's packages, dependencies first.
pub(super) fn in_dependency_order(lock: &Lock) -> Result<Vec<&LockedPackage>, SystemError> {
    lock.in_dependency_order()
        .map_err(|chain| SystemError::Package {
            name: chain.first().cloned().unwrap_or_default(),
            why: format!(
                "the lock file has a dependency cycle: {}",
                chain.join(" -> ")
            ),
        })
}

/// Fetches `packages` of `lock` into the store's download cache (no network on a hit),
/// each checked against its pinned size and sha256; returns each file with its package
/// and repository.
pub(super) fn fetch_locked<'l>(
    lock: &'l Lock,
    packages: Vec<&'l LockedPackage>,
    store: &Store,
    options: &PackageOptions,
    progress: PackageProgress<'_>,
) -> Result<Vec<(PathBuf, &'l LockedPackage, &'l LockedRepository)>, SystemError> {
    let cache = DownloadCache::in_store(store)?;
    let fetcher = Fetcher::new(options.fetch);
    let total: u64 = packages.iter().map(|p| p.pkgsize).sum();
    let mut before = 0;
    let mut out = Vec::new();
    for p in packages {
        let repo = lock
            .repository(&p.repository)
            .ok_or_else(|| SystemError::Package {
                name: p.name.clone(),
                why: format!(
                    "the lock names repository `{}`, which it lacks",
                    p.repository
                ),
            })?;
        let location = RepoLocation::parse(&repo.name, &repo.url, &repo.abi)?;
        let label = format!("{}-{}", p.name, p.version);
        let path = fetcher.fetch_package(
            &cache,
            &location,
            &Expected {
                repository: &repo.name,
                package: &label,
                repopath: &p.repopath,
                sha256: &p.sha256,
                size: p.pkgsize,
            },
            &mut |pr| progress(before + pr.done, total),
        )?;
        before += p.pkgsize;
        out.push((path, p, repo));
    }
    Ok(out)
}

/// Two packages owning one path: the same file (sum, owner, mode, flags, target) is
/// allowed; different files, or a file where another package has a directory, are a
/// [`SystemError::PackagePathConflict`] naming both. Checked on the manifests, before
/// anything is imported.
fn check_paths(manifests: &[&Manifest]) -> Result<(), SystemError> {
    let mut files: BTreeMap<&str, (&Manifest, &crate::pkg::FileEntry)> = BTreeMap::new();
    for m in manifests {
        for (path, entry) in &m.files {
            match files.get(path.as_str()) {
                Some((first, other)) if *other != entry => return Err(conflict(path, first, m)),
                Some(_) => {}
                None => {
                    files.insert(path, (m, entry));
                }
            }
        }
    }
    for m in manifests {
        let dirs = m.directories.keys().map(String::as_str);
        // A file's parent directories are directories of its package too.
        let parents = m.files.keys().flat_map(|p| {
            std::iter::successors(p.rsplit_once('/').map(|(d, _)| d), |d| {
                d.rsplit_once('/').map(|(d, _)| d)
            })
        });
        for dir in dirs.chain(parents) {
            if let Some((first, _)) = files.get(dir) {
                return Err(conflict(dir, first, m));
            }
        }
    }
    Ok(())
}

fn conflict(path: &str, first: &Manifest, second: &Manifest) -> SystemError {
    SystemError::PackagePathConflict {
        path: path.to_owned(),
        first: format!("{}-{}", first.name, first.version),
        second: format!("{}-{}", second.name, second.version),
    }
}
