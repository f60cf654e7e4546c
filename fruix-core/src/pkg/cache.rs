//! The content-addressed download cache: `.pkg` files by sha256, in the store's directory
//! (`Store::downloads_dir`), so repeated builds and offline builds need no network.
//!
//! A file enters the cache only whole and verified: it is written to a temporary file in
//! the cache directory, hashed as it is written, and renamed to `<sha256>.pkg` only when
//! its size and hash are the expected ones. Every hit is hashed again before use; a
//! corrupted entry is deleted and fetched anew.

use super::fetch::FetchError;
use crate::store::hash::hex;
use crate::store::Store;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// Temporary files start with this; older than [`STALE_AFTER`] they are a killed
/// download's leftovers.
const PARTIAL_PREFIX: &str = ".partial-";
const STALE_AFTER: Duration = Duration::from_secs(24 * 60 * 60);
static PARTIAL_SEQ: AtomicU64 = AtomicU64::new(0);

/// A directory of verified downloads named by their sha256.
#[derive(Debug, Clone)]
pub struct DownloadCache {
    dir: PathBuf,
}

impl DownloadCache {
    /// The cache of `store`.
    pub fn in_store(store: &Store) -> Result<DownloadCache, FetchError> {
        DownloadCache::open(store.downloads_dir())
    }

    /// A cache in `dir` (created if needed); removes day-old partial downloads.
    pub fn open(dir: PathBuf) -> Result<DownloadCache, FetchError> {
        fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
        for entry in fs::read_dir(&dir).map_err(io("listing", &dir))? {
            let entry = entry.map_err(io("listing", &dir))?;
            let partial = entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(PARTIAL_PREFIX));
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age > STALE_AFTER);
            if partial && old {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(DownloadCache { dir })
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the file with this sha256 lives (whether or not it is there).
    pub fn path_of(&self, sha256: &str) -> Result<PathBuf, FetchError> {
        check_sha256(sha256)?;
        Ok(self.dir.join(format!("{sha256}.pkg")))
    }

    /// The cached file with this sha256 and size, hashed again to be sure; a corrupted
    /// entry is deleted and reported as absent.
    pub fn lookup(&self, sha256: &str, size: u64) -> Result<Option<PathBuf>, FetchError> {
        let path = self.path_of(sha256)?;
        let mut file = match fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("opening", &path)(e)),
        };
        let mut hasher = Sha256::new();
        let copied = io::copy(&mut (&mut file).take(size.saturating_add(1)), &mut hasher)
            .map_err(io("reading", &path))?;
        if copied == size && hex(&hasher.finalize()) == sha256 {
            return Ok(Some(path));
        }
        fs::remove_file(&path).map_err(io("removing corrupted", &path))?;
        Ok(None)
    }

    /// Starts writing a download that must hash to `sha256`.
    pub(crate) fn begin(&self, sha256: &str) -> Result<Partial, FetchError> {
        let target = self.path_of(sha256)?;
        let path = self.dir.join(format!(
            "{PARTIAL_PREFIX}{}-{}-{sha256}",
            std::process::id(),
            PARTIAL_SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let file = fs::File::create(&path).map_err(io("creating", &path))?;
        Ok(Partial {
            file,
            path,
            target,
            hasher: Sha256::new(),
            written: 0,
            done: false,
        })
    }
}

/// A download being written; removed unless [`Partial::commit`] succeeds.
pub(crate) struct Partial {
    file: fs::File,
    path: PathBuf,
    target: PathBuf,
    hasher: Sha256,
    written: u64,
    done: bool,
}

impl Partial {
    /// Bytes written so far.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// Empties it for another attempt.
    pub(crate) fn restart(&mut self) -> Result<(), FetchError> {
        self.file.set_len(0).map_err(io("truncating", &self.path))?;
        io::Seek::seek(&mut self.file, io::SeekFrom::Start(0))
            .map_err(io("rewinding", &self.path))?;
        self.hasher = Sha256::new();
        self.written = 0;
        Ok(())
    }

    /// The sha256 of what was written.
    pub(crate) fn sha256(&self) -> String {
        hex(&self.hasher.clone().finalize())
    }

    /// Syncs and renames it into place.
    pub(crate) fn commit(mut self) -> Result<PathBuf, FetchError> {
        self.file.sync_all().map_err(io("syncing", &self.path))?;
        fs::rename(&self.path, &self.target).map_err(io("renaming into place", &self.target))?;
        self.done = true;
        if let Some(dir) = self.target.parent() {
            let _ = fs::File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(self.target.clone())
    }

    /// Writes a chunk of the download.
    pub(crate) fn write_chunk(&mut self, chunk: &[u8]) -> Result<(), FetchError> {
        self.file
            .write_all(chunk)
            .map_err(io("writing", &self.path))?;
        self.hasher.update(chunk);
        self.written += chunk.len() as u64;
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn check_sha256(sha256: &str) -> Result<(), FetchError> {
    if sha256.len() == 64
        && sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(FetchError::BadSha256 {
            sha256: sha256.to_string(),
        })
    }
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> FetchError + 'a {
    move |source| FetchError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}
