//! Fetching repository files: `http://`, `https://` (rustls, no OpenSSL), `file://` and
//! plain directories, into memory (catalogue files) or into the download cache (`.pkg`
//! files, checked against the catalogue's size and sha256 before they are kept).
//!
//! Transient failures (connection refused or reset, timeouts, truncated bodies, HTTP 5xx
//! and 429) are retried with exponential backoff; anything else (404, a sha256 mismatch,
//! an oversized body) fails at once. `pkg+https://` URLs are fetched as `https://`: the
//! `pkg+` SRV lookup only picks a mirror, and the named host serves the files itself.

use super::cache::DownloadCache;
use super::location::{RepoLocation, Source};
use super::lock::{Lock, LockedPackage};
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;
use thiserror::Error;

/// Catalogue archives, in the order they are looked for: the `data` catalogue pkg
/// prefers, then `packagesite`, then the pre-1.17 names of both.
pub const CATALOGUE_ARCHIVES: [&str; 4] =
    ["data.pkg", "packagesite.pkg", "data.txz", "packagesite.txz"];

/// A generous bound on a catalogue archive (pkg.FreeBSD.org's are tens of MB).
pub const CATALOGUE_LIMIT: u64 = 512 << 20;

/// What a package file must be: its catalogue (or lock) entry.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The repository's name (for messages).
    pub repository: &'a str,
    /// `name-version` (for messages and progress).
    pub package: &'a str,
    /// Path below the repository location.
    pub repopath: &'a str,
    /// sha256, lowercase hex.
    pub sha256: &'a str,
    /// Size in bytes: more is refused, less is a truncated download.
    pub size: u64,
}

/// Progress of one file, for progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress<'a> {
    /// What is being fetched (`sudo-1.9.16`, `meta.conf`).
    pub label: &'a str,
    /// Bytes received so far in this attempt.
    pub done: u64,
    /// Bytes expected, when known.
    pub total: Option<u64>,
}

/// Timeouts and retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchOptions {
    /// Attempts per file, at least 1.
    pub attempts: u32,
    /// Wait before the second attempt; doubled before each further one.
    pub backoff: Duration,
    /// Connecting (including TLS) must take no longer.
    pub connect_timeout: Duration,
    /// Waiting for the response head, and for each chunk of the body, must take no longer.
    pub read_timeout: Duration,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            attempts: 4,
            backoff: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(60),
        }
    }
}

/// Fetching failed.
#[derive(Debug, Error)]
pub enum FetchError {
    /// A repository URL cannot be used.
    #[error("repository {repository:?}: URL {url:?}: {problem}")]
    BadUrl {
        /// The repository.
        repository: String,
        /// The declared URL.
        url: String,
        /// What is wrong.
        problem: String,
    },
    /// A catalogue path would leave the repository or cannot be fetched.
    #[error("repository {repository:?}: package path {repopath:?} refused: {problem}")]
    BadRepopath {
        /// The repository.
        repository: String,
        /// The catalogue's path.
        repopath: String,
        /// What is wrong.
        problem: String,
    },
    /// A sha256 that is not 64 lowercase hex characters.
    #[error("{sha256:?} is not a sha256 (64 lowercase hex characters)")]
    BadSha256 {
        /// The value.
        sha256: String,
    },
    /// The file is not there (HTTP 404/410, or no such local file).
    #[error("{what}: {source_url} does not exist (HTTP 404 or missing file)")]
    NotFound {
        /// What was fetched.
        what: String,
        /// Where from.
        source_url: String,
    },
    /// The server answered with an error status.
    #[error("{what}: {source_url} answered HTTP {status} (after {attempts} attempt(s))")]
    Status {
        /// What was fetched.
        what: String,
        /// Where from.
        source_url: String,
        /// The status code.
        status: u16,
        /// Attempts made.
        attempts: u32,
    },
    /// The connection failed or broke, every attempt.
    #[error("{what}: fetching {source_url} failed after {attempts} attempt(s): {message}")]
    Transport {
        /// What was fetched.
        what: String,
        /// Where from.
        source_url: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        message: String,
    },
    /// The body ended before the expected size, every attempt.
    #[error("{what}: {source_url} is truncated: {got} of {expected} bytes (after {attempts} attempt(s))")]
    Truncated {
        /// What was fetched.
        what: String,
        /// Where from.
        source_url: String,
        /// Bytes received.
        got: u64,
        /// Bytes expected.
        expected: u64,
        /// Attempts made.
        attempts: u32,
    },
    /// The body is larger than the expected size or limit.
    #[error("{what}: {source_url} is larger than the expected {limit} bytes")]
    TooLarge {
        /// What was fetched.
        what: String,
        /// Where from.
        source_url: String,
        /// The limit.
        limit: u64,
    },
    /// The file's sha256 is not the catalogue's.
    #[error(
        "{what}: {source_url} has sha256 {actual}, but the catalogue says {expected}; not kept"
    )]
    Sha256Mismatch {
        /// What was fetched.
        what: String,
        /// Where from.
        source_url: String,
        /// The catalogue's sha256.
        expected: String,
        /// What arrived.
        actual: String,
    },
    /// The repository has none of the catalogue archives.
    #[error("repository {repository:?} at {location} has no catalogue (looked for {})", CATALOGUE_ARCHIVES.join(", "))]
    NoCatalogue {
        /// The repository.
        repository: String,
        /// Where it was looked for.
        location: String,
    },
    /// A local file operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// One attempt's failure: whether to try again.
enum Attempt {
    Retry(FetchError),
    Fail(FetchError),
}

/// Fetches repository files over one connection pool.
#[derive(Debug, Clone)]
pub struct Fetcher {
    agent: ureq::Agent,
    options: FetchOptions,
}

impl Default for Fetcher {
    fn default() -> Self {
        Fetcher::new(FetchOptions::default())
    }
}

impl Fetcher {
    /// A fetcher with these timeouts and retries.
    pub fn new(options: FetchOptions) -> Fetcher {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(options.connect_timeout))
            .timeout_recv_response(Some(options.read_timeout))
            .timeout_per_read(Some(options.read_timeout))
            .user_agent(concat!("fruix/", env!("CARGO_PKG_VERSION")))
            .build();
        Fetcher {
            agent: config.into(),
            options,
        }
    }

    /// The `.pkg` file `want` from `repo`, through `cache`: a verified cache hit needs no
    /// network; otherwise it is fetched, checked against the expected size and sha256,
    /// and kept. A mismatching download is deleted and leaves the cache as it was.
    pub fn fetch_package(
        &self,
        cache: &DownloadCache,
        repo: &RepoLocation,
        want: &Expected<'_>,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<PathBuf, FetchError> {
        if let Some(hit) = cache.lookup(want.sha256, want.size)? {
            progress(Progress {
                label: want.package,
                done: want.size,
                total: Some(want.size),
            });
            return Ok(hit);
        }
        let source = repo.join(want.repository, want.repopath)?;
        let what = format!(
            "package {} from repository {:?}",
            want.package, want.repository
        );
        let mut partial = cache.begin(want.sha256)?;
        self.with_retries(&what, &source, || {
            partial.restart().map_err(Attempt::Fail)?;
            self.receive(
                &what,
                &source,
                want.size,
                &mut |chunk| partial.write_chunk(chunk),
                &mut |done| {
                    progress(Progress {
                        label: want.package,
                        done,
                        total: Some(want.size),
                    })
                },
            )?;
            if partial.written() < want.size {
                return Err(Attempt::Retry(FetchError::Truncated {
                    what: what.clone(),
                    source_url: source.to_string(),
                    got: partial.written(),
                    expected: want.size,
                    attempts: 0,
                }));
            }
            Ok(())
        })?;
        let actual = partial.sha256();
        if actual != want.sha256 {
            return Err(FetchError::Sha256Mismatch {
                what,
                source_url: source.to_string(),
                expected: want.sha256.to_string(),
                actual,
            });
        }
        partial.commit()
    }

    /// A small repository file (`meta.conf`, `data.pkg`, ...) into memory, at most
    /// `limit` bytes. `what` names it in errors. A missing file is
    /// [`FetchError::NotFound`], so callers can try another name.
    pub fn fetch_bytes(
        &self,
        what: &str,
        source: &Source,
        limit: u64,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Vec<u8>, FetchError> {
        let mut bytes = Vec::new();
        self.with_retries(what, source, || {
            bytes.clear();
            self.receive(
                what,
                source,
                limit,
                &mut |chunk| {
                    bytes.extend_from_slice(chunk);
                    Ok(())
                },
                &mut |done| {
                    progress(Progress {
                        label: what,
                        done,
                        total: None,
                    })
                },
            )
        })?;
        Ok(bytes)
    }

    /// Copies `repository`'s catalogue files into `dest` (a directory the caller owns, for
    /// the catalogue reader): `meta.conf` when the repository has one, and the first
    /// catalogue archive of [`CATALOGUE_ARCHIVES`] it has, each at most `limit` bytes.
    /// Returns the names copied.
    pub fn fetch_catalogue(
        &self,
        repository: &str,
        location: &RepoLocation,
        dest: &Path,
        limit: u64,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Vec<String>, FetchError> {
        let mut copied = Vec::new();
        let fetch = |name: &str, progress: &mut dyn FnMut(Progress<'_>)| {
            let what = format!("catalogue file {name} of repository {repository:?}");
            let source = location.join(repository, name)?;
            match self.fetch_bytes(&what, &source, limit, progress) {
                Ok(bytes) => {
                    let path = dest.join(name);
                    fs::write(&path, bytes).map_err(|source| FetchError::Io {
                        action: "writing",
                        path,
                        source,
                    })?;
                    Ok(true)
                }
                Err(FetchError::NotFound { .. }) => Ok(false),
                Err(e) => Err(e),
            }
        };
        if fetch("meta.conf", progress)? {
            copied.push("meta.conf".to_string());
        }
        for name in CATALOGUE_ARCHIVES {
            if fetch(name, progress)? {
                copied.push(name.to_string());
                return Ok(copied);
            }
        }
        Err(FetchError::NoCatalogue {
            repository: repository.to_string(),
            location: location.to_string(),
        })
    }

    /// Every package `lock` pins, through `cache`: with all of them cached, no network
    /// and no catalogue is needed. In the lock's order (by name).
    pub fn fetch_locked<'l>(
        &self,
        cache: &DownloadCache,
        lock: &'l Lock,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Vec<(&'l LockedPackage, PathBuf)>, FetchError> {
        let mut fetched = Vec::with_capacity(lock.packages.len());
        for package in &lock.packages {
            let repository =
                lock.repository(&package.repository)
                    .ok_or_else(|| FetchError::BadUrl {
                        repository: package.repository.clone(),
                        url: String::new(),
                        problem: format!(
                            "package {:?} names a repository the lock does not list",
                            package.name
                        ),
                    })?;
            let location = RepoLocation::parse(&repository.name, &repository.url, &repository.abi)?;
            let label = format!("{}-{}", package.name, package.version);
            let want = Expected {
                repository: &repository.name,
                package: &label,
                repopath: &package.repopath,
                sha256: &package.sha256,
                size: package.pkgsize,
            };
            let path = self.fetch_package(cache, &location, &want, progress)?;
            fetched.push((package, path));
        }
        Ok(fetched)
    }

    /// Runs `attempt` until it succeeds, fails for good, or attempts run out.
    fn with_retries<F>(&self, what: &str, source: &Source, mut attempt: F) -> Result<(), FetchError>
    where
        F: FnMut() -> Result<(), Attempt>,
    {
        let attempts = self.options.attempts.max(1);
        let mut wait = self.options.backoff;
        for n in 1..=attempts {
            match attempt() {
                Ok(()) => return Ok(()),
                Err(Attempt::Fail(e)) => return Err(e),
                Err(Attempt::Retry(e)) if n == attempts => return Err(with_attempts(e, n)),
                Err(Attempt::Retry(_)) => {
                    thread::sleep(wait);
                    wait = wait.saturating_mul(2);
                }
            }
        }
        Err(FetchError::Transport {
            what: what.to_string(),
            source_url: source.to_string(),
            attempts,
            message: "no attempt made".to_string(),
        })
    }

    /// One attempt: streams the body into `sink`, refusing more than `limit` bytes.
    fn receive(
        &self,
        what: &str,
        source: &Source,
        limit: u64,
        sink: &mut dyn FnMut(&[u8]) -> Result<(), FetchError>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), Attempt> {
        let transport = |message: String| {
            Attempt::Retry(FetchError::Transport {
                what: what.to_string(),
                source_url: source.to_string(),
                attempts: 0,
                message,
            })
        };
        let mut reader: Box<dyn Read> = match source {
            Source::Local(path) => match fs::File::open(path) {
                Ok(f) => Box::new(f),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(Attempt::Fail(FetchError::NotFound {
                        what: what.to_string(),
                        source_url: source.to_string(),
                    }))
                }
                Err(source) => {
                    return Err(Attempt::Fail(FetchError::Io {
                        action: "opening",
                        path: path.clone(),
                        source,
                    }))
                }
            },
            Source::Http(url) => {
                let response = match self.agent.get(url).call() {
                    Ok(r) => r,
                    Err(e) if is_transient(&e) => return Err(transport(e.to_string())),
                    Err(e) => {
                        return Err(Attempt::Fail(FetchError::Transport {
                            what: what.to_string(),
                            source_url: source.to_string(),
                            attempts: 1,
                            message: e.to_string(),
                        }))
                    }
                };
                let status = response.status().as_u16();
                if status == 404 || status == 410 {
                    return Err(Attempt::Fail(FetchError::NotFound {
                        what: what.to_string(),
                        source_url: source.to_string(),
                    }));
                }
                if status != 200 {
                    let error = FetchError::Status {
                        what: what.to_string(),
                        source_url: source.to_string(),
                        status,
                        attempts: 1,
                    };
                    return Err(if status >= 500 || status == 429 {
                        Attempt::Retry(error)
                    } else {
                        Attempt::Fail(error)
                    });
                }
                Box::new(
                    response
                        .into_body()
                        .into_with_config()
                        .limit(u64::MAX)
                        .reader(),
                )
            }
        };
        let mut buffer = vec![0u8; 64 * 1024];
        let mut done = 0u64;
        loop {
            let n = match reader.read(&mut buffer) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if matches!(source, Source::Local(_)) => {
                    return Err(Attempt::Fail(FetchError::Io {
                        action: "reading",
                        path: PathBuf::from(source.to_string()),
                        source: e,
                    }))
                }
                Err(e) => return Err(transport(e.to_string())),
            };
            done += n as u64;
            if done > limit {
                return Err(Attempt::Fail(FetchError::TooLarge {
                    what: what.to_string(),
                    source_url: source.to_string(),
                    limit,
                }));
            }
            sink(&buffer[..n]).map_err(Attempt::Fail)?;
            progress(done);
        }
    }
}

fn with_attempts(error: FetchError, n: u32) -> FetchError {
    match error {
        FetchError::Transport {
            what,
            source_url,
            message,
            ..
        } => FetchError::Transport {
            what,
            source_url,
            attempts: n,
            message,
        },
        FetchError::Status {
            what,
            source_url,
            status,
            ..
        } => FetchError::Status {
            what,
            source_url,
            status,
            attempts: n,
        },
        FetchError::Truncated {
            what,
            source_url,
            got,
            expected,
            ..
        } => FetchError::Truncated {
            what,
            source_url,
            got,
            expected,
            attempts: n,
        },
        other => other,
    }
}

/// Failures worth another attempt: the network, not the request.
fn is_transient(error: &ureq::Error) -> bool {
    match error {
        ureq::Error::Io(e) => matches!(
            e.kind(),
            io::ErrorKind::ConnectionRefused
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::NotConnected
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::TimedOut
                | io::ErrorKind::UnexpectedEof
                | io::ErrorKind::Interrupted
        ),
        ureq::Error::Timeout(_)
        | ureq::Error::ConnectionFailed
        | ureq::Error::HostNotFound
        | ureq::Error::Protocol(_)
        | ureq::Error::BodyStalled => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests;
