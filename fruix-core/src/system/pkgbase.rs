//! A pkgbase base in a system build: its packages are requested from the declared
//! repository beside the system's own (`pkgs::pin`), so the one lock file pins them like
//! any package; here they are told apart from the rest, fetched through the package
//! stage's fetcher and handed to the base slicer ([`crate::freebsd::pkgbase`]).

use super::pkgs::{fetch_locked, in_dependency_order, PackageOptions, PackageProgress, Pins};
use super::SystemError;
use crate::freebsd::pkgbase::{is_base_package, BasePackage};
use crate::freebsd::{materialize_base as materialize_other_base, BaseError, BaseItems};
use crate::pkg::lock::Lock;
use crate::pkg::resolve::Request;
use crate::store::Store;
use crate::{BaseSource, OperatingSystem, PKGBASE_DEFAULT_PACKAGES};
use std::collections::{BTreeMap, VecDeque};

/// The base's repository and package names, when the base comes from pkgbase.
fn declared(os: &OperatingSystem) -> Option<(&str, Vec<&str>)> {
    let BaseSource::Pkgbase {
        repository,
        packages,
    } = &os.base.source
    else {
        return None;
    };
    let names = if packages.is_empty() {
        PKGBASE_DEFAULT_PACKAGES.to_vec()
    } else {
        packages.iter().map(String::as_str).collect()
    };
    Some((repository.as_str(), names))
}

/// The requests a pkgbase base adds to the system's packages: each declared base package
/// from the base's repository.
pub(super) fn requests(os: &OperatingSystem) -> Vec<Request> {
    let Some((repository, names)) = declared(os) else {
        return Vec::new();
    };
    names
        .into_iter()
        .map(|name| Request {
            name: name.to_owned(),
            version: None,
            repository: Some(repository.to_owned()),
        })
        .collect()
}

/// The locked packages the base is made of: its requests and their dependencies, in the
/// lock's dependency order. Every one must be a `FreeBSD-*` package of the base's
/// repository ([`BaseError::NotBasePackage`] names it and what needs it).
pub(super) fn closure(os: &OperatingSystem, lock: &Lock) -> Result<Vec<String>, SystemError> {
    let Some((repository, names)) = declared(os) else {
        return Ok(Vec::new());
    };
    let by_name: BTreeMap<&str, _> = lock.packages.iter().map(|p| (p.name.as_str(), p)).collect();
    let mut needed_by: BTreeMap<&str, String> = BTreeMap::new();
    let mut queue: VecDeque<(&str, String)> = names
        .iter()
        .map(|n| (*n, "the declaration".to_owned()))
        .collect();
    while let Some((name, parent)) = queue.pop_front() {
        if needed_by.contains_key(name) {
            continue;
        }
        let locked = by_name.get(name).copied();
        let from_base_repo = locked.is_some_and(|p| p.repository == repository);
        if !is_base_package(name) || (locked.is_some() && !from_base_repo) {
            return Err(BaseError::NotBasePackage {
                package: name.to_owned(),
                needed_by: parent,
                repository: repository.to_owned(),
            }
            .into());
        }
        // The lock was checked against the requests; a dependency it lacks is its own
        // damage, reported when the lock is ordered.
        if let Some(p) = locked {
            for dep in &p.deps {
                queue.push_back((dep.as_str(), format!("`{name}`")));
            }
        }
        needed_by.insert(name, parent);
    }
    Ok(in_dependency_order(lock)?
        .into_iter()
        .filter(|p| needed_by.contains_key(p.name.as_str()))
        .map(|p| p.name.clone())
        .collect())
}

/// The base of `os` in `store`: a pkgbase base from its pinned packages (fetched into the
/// download cache when missing), any other through [`crate::freebsd::materialize_base`].
pub(super) fn materialize_base(
    os: &OperatingSystem,
    store: &Store,
    pins: &Pins,
    options: &PackageOptions,
    progress: PackageProgress<'_>,
) -> Result<BaseItems, SystemError> {
    let (Some((repository, _)), Some(lock)) = (declared(os), &pins.lock) else {
        return Ok(materialize_other_base(&os.base, store)?);
    };
    let packages = in_dependency_order(lock)?
        .into_iter()
        .filter(|p| pins.base.contains(&p.name))
        .collect();
    let fetched = fetch_locked(lock, packages, store, options, progress)?;
    let abi = lock
        .repository(repository)
        .map(|r| r.abi.clone())
        .unwrap_or_default();
    let packages: Vec<BasePackage> = fetched
        .into_iter()
        .map(|(file, p, _)| BasePackage {
            file,
            name: p.name.clone(),
            version: p.version.clone(),
            sha256: p.sha256.clone(),
        })
        .collect();
    Ok(crate::freebsd::pkgbase::materialize(
        &os.base, repository, &abi, &packages, store,
    )?)
}
