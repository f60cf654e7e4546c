//! Requested package names -> the dependency closure, in dependency order.
//!
//! Dependencies are resolved by name, as pkg does (a manifest's dependency version is
//! informational). Each name resolves to exactly one catalogue entry for the whole
//! closure: the one a request pins (by repository and/or version), else the first
//! repository, in declaration order, whose catalogue lists the name. The result is
//! deterministic: dependencies come before their dependents, ties broken by name.
//!
//! Errors carry the whole chain from the request that pulled the package in
//! (`a -> b -> c: c is in no repository`).

use super::archive::{abi_matches, manifest_abi};
use super::CatalogueEntry;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use thiserror::Error;

/// One declared repository's catalogue, as the resolver sees it.
#[derive(Debug, Clone, Copy)]
pub struct RepositoryIndex<'a> {
    /// The repository's declared name.
    pub name: &'a str,
    /// The ABI its packages must match (`FreeBSD:15:amd64`).
    pub abi: &'a str,
    /// The catalogue's entries by package name.
    pub entries: &'a BTreeMap<String, CatalogueEntry>,
}

/// A package the declaration asks for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Request {
    /// Package name (`sudo`).
    pub name: String,
    /// Exact version wanted, if any.
    pub version: Option<String>,
    /// Repository it must come from, if any.
    pub repository: Option<String>,
}

impl Request {
    /// A request for `name`, any version, from any repository.
    pub fn name(name: &str) -> Request {
        Request {
            name: name.to_string(),
            ..Request::default()
        }
    }
}

/// One package of the closure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedPackage {
    /// The repository it comes from.
    pub repository: String,
    /// Its catalogue entry.
    pub entry: CatalogueEntry,
    /// Whether the declaration asked for it (rather than only depending on it).
    pub requested: bool,
}

impl ResolvedPackage {
    /// The package's name.
    pub fn name(&self) -> &str {
        &self.entry.manifest.name
    }
}

/// The dependency closure of the requests, dependencies before dependents.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resolution {
    /// The packages in dependency order (ties by name).
    pub packages: Vec<ResolvedPackage>,
}

/// Why the requests could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ResolveError {
    /// A requested name is in none of the repositories.
    #[error(
        "package {name:?} is in no repository (searched {}){}",
        list(searched),
        suggest(suggestions)
    )]
    NotFound {
        /// The requested name.
        name: String,
        /// The repositories searched, in order.
        searched: Vec<String>,
        /// Close names that do exist.
        suggestions: Vec<String>,
    },
    /// A dependency is in none of the repositories.
    #[error(
        "{}: {} is in no repository (searched {})",
        chain.join(" -> "),
        chain.last().map(String::as_str).unwrap_or_default(),
        list(searched)
    )]
    MissingDependency {
        /// From the request to the missing package.
        chain: Vec<String>,
        /// The repositories searched, in order.
        searched: Vec<String>,
    },
    /// Packages depend on each other in a loop.
    #[error("dependency cycle: {}", chain.join(" -> "))]
    Cycle {
        /// The loop, its first package repeated at the end.
        chain: Vec<String>,
    },
    /// A package was built for another ABI than the repository's target.
    #[error(
        "{}: {package} from repository {repository:?} is built for ABI {abi:?}, not {target:?}",
        chain.join(" -> ")
    )]
    AbiMismatch {
        /// From the request to the package.
        chain: Vec<String>,
        /// The package and its version (`sudo 1.9.16`).
        package: String,
        /// Its repository.
        repository: String,
        /// The ABI its catalogue entry names (may be a glob).
        abi: String,
        /// The ABI the system needs.
        target: String,
    },
    /// The requested version is in no repository searched.
    #[error(
        "package {name:?}: version {wanted:?} is not available{}; available: {}",
        repository.as_ref().map(|r| format!(" in repository {r:?}")).unwrap_or_default(),
        available_list(available)
    )]
    VersionNotAvailable {
        /// The package.
        name: String,
        /// The version asked for.
        wanted: String,
        /// The repository asked for, if any.
        repository: Option<String>,
        /// `(repository, version)` pairs that do exist.
        available: Vec<(String, String)>,
    },
    /// A request names a repository that is not declared.
    #[error(
        "package {name:?} asks for repository {repository:?}, which is not declared (declared: {})",
        list(declared)
    )]
    UnknownRepository {
        /// The package.
        name: String,
        /// The repository it names.
        repository: String,
        /// The declared repositories.
        declared: Vec<String>,
    },
    /// The same name is requested twice with different pins.
    #[error("package {name:?} is requested twice, differently: {first} and {second}")]
    ConflictingRequests {
        /// The package.
        name: String,
        /// The first request, described.
        first: String,
        /// The second request, described.
        second: String,
    },
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

fn suggest(names: &[String]) -> String {
    if names.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", names.join(", "))
    }
}

fn available_list(available: &[(String, String)]) -> String {
    if available.is_empty() {
        return "none".to_string();
    }
    let mut out = String::new();
    for (i, (repo, version)) in available.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{version} (in {repo})");
    }
    out
}

fn describe(request: &Request) -> String {
    let mut out = request.name.clone();
    if let Some(v) = &request.version {
        let _ = write!(out, " version {v}");
    }
    if let Some(r) = &request.repository {
        let _ = write!(out, " from {r}");
    }
    out
}

/// Resolves `requests` against the repositories (in declaration order).
pub fn resolve(
    repositories: &[RepositoryIndex<'_>],
    requests: &[Request],
) -> Result<Resolution, ResolveError> {
    let declared: Vec<String> = repositories.iter().map(|r| r.name.to_string()).collect();
    let mut pins: BTreeMap<&str, &Request> = BTreeMap::new();
    for request in requests {
        if let Some(repo) = &request.repository {
            if !declared.contains(repo) {
                return Err(ResolveError::UnknownRepository {
                    name: request.name.clone(),
                    repository: repo.clone(),
                    declared,
                });
            }
        }
        if let Some(first) = pins.insert(&request.name, request) {
            if first != request {
                return Err(ResolveError::ConflictingRequests {
                    name: request.name.clone(),
                    first: describe(first),
                    second: describe(request),
                });
            }
        }
    }

    let mut resolver = Resolver {
        repositories,
        pins: &pins,
        chosen: BTreeMap::new(),
        done: BTreeSet::new(),
    };
    for name in pins.keys() {
        resolver.visit(name, &mut Vec::new())?;
    }

    let deps: BTreeMap<&str, Vec<&str>> = resolver
        .chosen
        .iter()
        .map(|(name, (_, entry))| {
            let deps = entry.manifest.deps.keys().map(String::as_str).collect();
            (name.as_str(), deps)
        })
        .collect();
    let order = dependency_order(&deps).map_err(|chain| ResolveError::Cycle { chain })?;
    let packages = order
        .into_iter()
        .filter_map(|name| {
            let (repository, entry) = resolver.chosen.get(name)?;
            Some(ResolvedPackage {
                repository: repository.to_string(),
                entry: (*entry).clone(),
                requested: pins.contains_key(name),
            })
        })
        .collect();
    Ok(Resolution { packages })
}

struct Resolver<'r, 'a> {
    repositories: &'r [RepositoryIndex<'a>],
    pins: &'r BTreeMap<&'r str, &'r Request>,
    /// Name -> (repository, entry), for every package reached.
    chosen: BTreeMap<String, (&'a str, &'a CatalogueEntry)>,
    /// Names whose whole dependency subtree has been checked.
    done: BTreeSet<String>,
}

impl<'a> Resolver<'_, 'a> {
    /// Depth-first: `path` holds the chain from the request to `name` (exclusive).
    fn visit(&mut self, name: &str, path: &mut Vec<String>) -> Result<(), ResolveError> {
        if let Some(at) = path.iter().position(|p| p == name) {
            let mut chain = path[at..].to_vec();
            chain.push(name.to_string());
            return Err(ResolveError::Cycle { chain });
        }
        if self.done.contains(name) {
            return Ok(());
        }
        path.push(name.to_string());
        let (repository, target, entry) = self.choose(name, path)?;
        let abi = manifest_abi(&entry.manifest).unwrap_or_default();
        if abi.is_empty() || !abi_matches(&abi, target) {
            return Err(ResolveError::AbiMismatch {
                chain: path.clone(),
                package: format!("{name} {}", entry.manifest.version),
                repository: repository.to_string(),
                abi: if abi.is_empty() {
                    "(none)".to_string()
                } else {
                    abi
                },
                target: target.to_string(),
            });
        }
        self.chosen.insert(name.to_string(), (repository, entry));
        for dep in entry.manifest.deps.keys() {
            self.visit(dep, path)?;
        }
        path.pop();
        self.done.insert(name.to_string());
        Ok(())
    }

    /// The entry `name` resolves to: `(repository, its target ABI, entry)`.
    fn choose(
        &self,
        name: &str,
        path: &[String],
    ) -> Result<(&'a str, &'a str, &'a CatalogueEntry), ResolveError> {
        let searched = || -> Vec<String> {
            self.repositories
                .iter()
                .map(|r| r.name.to_string())
                .collect()
        };
        let pin = self.pins.get(name);
        let candidates: Vec<(&'a str, &'a str, &'a CatalogueEntry)> = self
            .repositories
            .iter()
            .filter(|r| {
                pin.and_then(|p| p.repository.as_deref())
                    .is_none_or(|want| want == r.name)
            })
            .filter_map(|r| r.entries.get(name).map(|e| (r.name, r.abi, e)))
            .collect();
        let wanted = pin.and_then(|p| p.version.as_deref());
        if let Some(found) = candidates
            .iter()
            .find(|(_, _, e)| wanted.is_none_or(|v| v == e.manifest.version))
        {
            return Ok(*found);
        }
        match (wanted, path.len()) {
            (Some(version), _) if !candidates.is_empty() => {
                Err(ResolveError::VersionNotAvailable {
                    name: name.to_string(),
                    wanted: version.to_string(),
                    repository: pin.and_then(|p| p.repository.clone()),
                    available: candidates
                        .iter()
                        .map(|(r, _, e)| (r.to_string(), e.manifest.version.clone()))
                        .collect(),
                })
            }
            (_, 1) => Err(ResolveError::NotFound {
                name: name.to_string(),
                searched: match pin.and_then(|p| p.repository.clone()) {
                    Some(repo) => vec![repo],
                    None => searched(),
                },
                suggestions: close_names(name, self.repositories),
            }),
            _ => Err(ResolveError::MissingDependency {
                chain: path.to_vec(),
                searched: searched(),
            }),
        }
    }
}

/// Up to five names from the repositories close to `name`: by edit distance (at most a
/// third of the name, at least 2) or containing it, closest first.
fn close_names(name: &str, repositories: &[RepositoryIndex<'_>]) -> Vec<String> {
    let limit = (name.chars().count() / 3).max(2);
    let lower = name.to_lowercase();
    let mut scored: BTreeSet<(usize, &str)> = BTreeSet::new();
    for repo in repositories {
        for candidate in repo.entries.keys() {
            let other = candidate.to_lowercase();
            let distance = edit_distance(&lower, &other);
            if distance <= limit {
                scored.insert((distance, candidate));
            } else if lower.len() >= 3 && (other.contains(&lower) || lower.contains(&other)) {
                scored.insert((limit + 1, candidate));
            }
        }
    }
    scored
        .into_iter()
        .map(|(_, n)| n.to_string())
        .take(5)
        .collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// Orders names so that each comes after its dependencies, ties broken by name (Kahn's
/// algorithm over a sorted ready set). Dependencies outside `deps` are ignored. `Err`
/// holds a cycle, its first name repeated at the end.
pub fn dependency_order<'a>(
    deps: &BTreeMap<&'a str, Vec<&'a str>>,
) -> Result<Vec<&'a str>, Vec<String>> {
    let mut waiting: BTreeMap<&str, usize> = BTreeMap::new();
    let mut dependents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (&name, list) in deps {
        let inside: BTreeSet<&str> = list
            .iter()
            .copied()
            .filter(|d| deps.contains_key(d))
            .collect();
        waiting.insert(name, inside.len());
        for dep in inside {
            dependents.entry(dep).or_default().push(name);
        }
    }
    let mut ready: BTreeSet<&str> = waiting
        .iter()
        .filter(|(_, &n)| n == 0)
        .map(|(&k, _)| k)
        .collect();
    let mut order = Vec::with_capacity(deps.len());
    while let Some(name) = ready.pop_first() {
        order.push(name);
        for &dependent in dependents.get(name).map(Vec::as_slice).unwrap_or_default() {
            if let Some(n) = waiting.get_mut(dependent) {
                *n -= 1;
                if *n == 0 {
                    ready.insert(dependent);
                }
            }
        }
    }
    if order.len() == deps.len() {
        return Ok(order);
    }
    Err(find_cycle(deps, &order))
}

/// A cycle among the names `order` could not place: walk unplaced dependencies until a
/// name repeats.
fn find_cycle(deps: &BTreeMap<&str, Vec<&str>>, placed: &[&str]) -> Vec<String> {
    let placed: BTreeSet<&str> = placed.iter().copied().collect();
    let unplaced = |name: &&str| deps.contains_key(name) && !placed.contains(name);
    let Some(mut current) = deps.keys().copied().find(|n| unplaced(n)) else {
        return Vec::new();
    };
    let mut path: Vec<&str> = Vec::new();
    loop {
        if let Some(at) = path.iter().position(|p| *p == current) {
            let mut chain: Vec<String> = path[at..].iter().map(|s| s.to_string()).collect();
            chain.push(current.to_string());
            return chain;
        }
        path.push(current);
        let next = deps
            .get(current)
            .and_then(|list| list.iter().copied().filter(|d| unplaced(d)).min());
        match next {
            Some(n) => current = n,
            None => return path.iter().map(|s| s.to_string()).collect(),
        }
    }
}

#[cfg(test)]
mod tests;
