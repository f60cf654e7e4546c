//! Where repository files are: a declared repository URL (`${ABI}` replaced) and the
//! paths below it, refused when they would leave the repository.

use super::catalogue::check_repopath;
use super::fetch::FetchError;
use crate::freebsd::normalize_member_path;
use std::fmt;
use std::path::PathBuf;

/// Where a repository's files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoLocation {
    /// An `http://` or `https://` base URL, without a trailing `/`.
    Http(String),
    /// A directory on the building host (`file://` URLs and plain absolute paths).
    Local(PathBuf),
}

impl fmt::Display for RepoLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RepoLocation::Http(url) => f.write_str(url),
            RepoLocation::Local(dir) => write!(f, "{}", dir.display()),
        }
    }
}

/// One file's place, after joining a repository path to the location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A URL to GET.
    Http(String),
    /// A local file.
    Local(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Http(url) => f.write_str(url),
            Source::Local(path) => write!(f, "{}", path.display()),
        }
    }
}

impl RepoLocation {
    /// The location of `repository`'s declared `url` with `${ABI}` replaced by `abi`.
    pub fn parse(repository: &str, url: &str, abi: &str) -> Result<RepoLocation, FetchError> {
        let bad = |problem: String| FetchError::BadUrl {
            repository: repository.to_string(),
            url: url.to_string(),
            problem,
        };
        let expanded = url.replace("${ABI}", abi);
        if let Some(at) = expanded.find("${") {
            let var: String = expanded[at..].chars().take_while(|&c| c != '}').collect();
            return Err(bad(format!(
                "unknown variable {var}}} (only ${{ABI}} is replaced)"
            )));
        }
        let plain = expanded.strip_prefix("pkg+").unwrap_or(&expanded);
        if plain.starts_with("http://") || plain.starts_with("https://") {
            let rest = plain.split_once("://").map(|(_, r)| r).unwrap_or_default();
            if rest.is_empty() || rest.starts_with('/') {
                return Err(bad("no host".to_string()));
            }
            if plain.contains(['?', '#', ' ']) {
                return Err(bad(
                    "query, fragment or space in a repository URL".to_string()
                ));
            }
            return Ok(RepoLocation::Http(plain.trim_end_matches('/').to_string()));
        }
        let path = if let Some(rest) = plain.strip_prefix("file://") {
            let rest = rest.strip_prefix("localhost").unwrap_or(rest);
            percent_decode(rest).ok_or_else(|| bad("bad %-escape".to_string()))?
        } else if plain.contains("://") {
            return Err(bad(
                "only http, https and file URLs and local directories are supported".to_string(),
            ));
        } else {
            plain.to_string()
        };
        if !path.starts_with('/') {
            return Err(bad(
                "a local repository must be an absolute path".to_string()
            ));
        }
        Ok(RepoLocation::Local(PathBuf::from(path)))
    }

    /// The place of `repopath` (`All/sudo-1.9.pkg`) in this repository; refuses paths that
    /// would leave it (the catalogue reader's rule, plus control characters).
    pub fn join(&self, repository: &str, repopath: &str) -> Result<Source, FetchError> {
        let bad = |problem: &str| FetchError::BadRepopath {
            repository: repository.to_string(),
            repopath: repopath.to_string(),
            problem: problem.to_string(),
        };
        check_repopath(repopath).map_err(|why| bad(&why))?;
        if repopath.chars().any(char::is_control) {
            return Err(bad("control character"));
        }
        let normal = normalize_member_path(repopath)
            .ok()
            .flatten()
            .ok_or_else(|| bad("empty"))?;
        Ok(match self {
            RepoLocation::Http(base) => Source::Http(format!("{base}/{}", percent_encode(&normal))),
            RepoLocation::Local(dir) => Source::Local(dir.join(normal)),
        })
    }
}

fn percent_encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/+!$&'()*,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hexpair = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hexpair, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests;
