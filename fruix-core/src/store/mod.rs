//! The content-addressed store: items under the logical prefix `/frx/store/<hash>-<name>`,
//! kept in a physical directory of the caller's choosing.
//!
//! Physical layout (only this module knows it):
//!
//! ```text
//! DIR/<hash>-<name>/        items: canonical modes, fixed times, read-only; files that
//!                           are private in the image (no read bit for others, e.g.
//!                           password hashes) are 0400/0500, all else 0444/0555
//! DIR/.fruix/db/<hash>.json registration: name, references, sizes, image metadata
//! DIR/.fruix/tmp/           staging directories of builds in progress
//! DIR/.fruix/locks/         one lock file per item hash and per cache key
//! DIR/.fruix/cache/<key>    build cache: input identity -> store path
//! DIR/.fruix/roots/<name>   GC roots
//! DIR/.fruix/downloads/     fetched package files by sha256 (`pkg::cache`)
//! DIR/.fruix/gc.lock        shared by builders, exclusive for cleanup and GC
//! ```
//!
//! Lock files are empty and stay once created: they hold no data, and deleting one could
//! let two processes believe they hold the same lock.
//!
//! An item counts as present only when its directory and its registration both exist; the
//! registration is written last. Builders hold `gc.lock` shared, so opening the store can
//! remove the leftovers of killed builds (staging directories, unregistered item
//! directories) whenever no build is running. The hash scheme is documented in [`hash`].

mod builder;
mod error;
mod gc;
pub mod hash;
mod lock;
mod path;
pub mod refs;
mod stamp;

pub use builder::{is_private, ItemBuilder, STORE_MTIME};
pub use error::{Result, StoreError};
pub use gc::{GcReport, VerifyProblem};
pub use hash::{Digest, ImageMeta};
pub use path::{is_valid_item_name, StorePath, StorePathError, HASH_LEN, STORE_DIR};
pub use stamp::tree_stamp;

use error::io;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A reference scanner over the given candidate hashes (for re-hashing items found
/// elsewhere, e.g. inside an image).
pub fn refs_scanner(candidates: impl IntoIterator<Item = [u8; HASH_LEN]>) -> refs::HashScanner {
    refs::HashScanner::new(candidates)
}

/// What the store knows about one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRecord {
    /// The item's store path.
    pub path: StorePath,
    /// Other items this one mentions, sorted.
    pub references: Vec<StorePath>,
    /// Bytes of file contents.
    pub content_bytes: u64,
    /// Number of entries (files, directories, links), the root included.
    pub entries: u64,
    /// Image metadata of entries that differ from root:wheel 0444/0555.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub image_meta: BTreeMap<String, ImageMeta>,
    /// Files that name the item itself (hashed modulo the self-reference).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub self_refs: Vec<String>,
}

/// A store in a physical directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

static STAGING_SEQ: AtomicU64 = AtomicU64::new(0);

/// Where the default store lives, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// Named by the `FRUIX_STORE` environment variable.
    FromEnv(PathBuf),
    /// `/frx/store` itself exists or could be created.
    Canonical,
    /// `/frx/store` is not writable: a per-user cache directory instead.
    UserCache(PathBuf),
}

impl StoreLocation {
    /// The store directory this location names.
    pub fn dir(&self) -> PathBuf {
        match self {
            StoreLocation::FromEnv(dir) | StoreLocation::UserCache(dir) => dir.clone(),
            StoreLocation::Canonical => PathBuf::from(STORE_DIR),
        }
    }

    /// `FRUIX_STORE`, else `/frx/store` when usable, else `$XDG_CACHE_HOME/fruix/store`
    /// (or `~/.cache/fruix/store`). Callers announce a `UserCache` choice to the user.
    pub fn default_location() -> StoreLocation {
        if let Some(dir) = std::env::var_os("FRUIX_STORE").filter(|d| !d.is_empty()) {
            return StoreLocation::FromEnv(dir.into());
        }
        let canonical = Path::new(STORE_DIR);
        if fs::create_dir_all(canonical).is_ok() && writable(canonical) {
            return StoreLocation::Canonical;
        }
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir);
        StoreLocation::UserCache(cache.join("fruix").join("store"))
    }
}

fn writable(dir: &Path) -> bool {
    let probe = dir.join(format!(".fruix-probe-{}", std::process::id()));
    let ok = fs::File::create(&probe).is_ok();
    let _ = fs::remove_file(&probe);
    ok
}

impl Store {
    /// Opens (creating if needed) the store in `dir`, and removes what killed builds left.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Store> {
        let dir = dir.into();
        let store = Store { dir };
        for sub in ["db", "tmp", "locks", "cache", "roots"] {
            let d = store.meta_dir().join(sub);
            fs::create_dir_all(&d).map_err(io("creating", &d))?;
        }
        store.clean_leftovers()?;
        Ok(store)
    }

    /// The physical directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn meta_dir(&self) -> PathBuf {
        self.dir.join(".fruix")
    }

    /// Where fetched package files are cached by sha256 (`pkg::cache` owns its contents).
    pub fn downloads_dir(&self) -> PathBuf {
        self.meta_dir().join("downloads")
    }

    fn record_path(&self, hash: &str) -> PathBuf {
        self.meta_dir().join("db").join(format!("{hash}.json"))
    }

    fn gc_lock_path(&self) -> PathBuf {
        self.meta_dir().join("gc.lock")
    }

    fn item_lock(&self, hash: &str) -> Result<lock::Lock> {
        lock::lock(&self.meta_dir().join("locks").join(format!("{hash}.lock")))
    }

    /// The physical directory of an item.
    pub fn physical(&self, item: &StorePath) -> PathBuf {
        self.dir.join(item.base_name())
    }

    /// Holds `gc.lock` shared: what every writer holds while it adds to the store, so that
    /// cleanup (which holds it exclusively) only ever sees the leftovers of dead processes.
    fn shared_gc_lock(&self) -> Result<lock::Lock> {
        let gc_lock = self.gc_lock_path();
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&gc_lock)
            .map_err(io("opening lock", &gc_lock))?;
        file.lock_shared().map_err(io("locking", &gc_lock))?;
        Ok(lock::Lock::from_file(file))
    }

    /// The physical path of the regular file at `rel` inside `item`, following symlinks only
    /// within the item: relative targets from the link's directory, absolute ones from the
    /// item's root (as they resolve when the item's tree is a system's root, e.g. a base's
    /// `/usr/share/zoneinfo/...`). `None` when it is missing, not a regular file, or would
    /// leave the item: an item's links never make fruix read a file of the building host.
    pub fn item_file(&self, item: &StorePath, rel: &str) -> Option<PathBuf> {
        crate::links::file_within(&self.physical(item), rel)
    }

    /// Starts building an item called `name`.
    pub fn builder(&self, name: &str) -> Result<ItemBuilder<'_>> {
        let lock = self.shared_gc_lock()?;
        let seq = STAGING_SEQ.fetch_add(1, Ordering::Relaxed);
        let staging = self
            .meta_dir()
            .join("tmp")
            .join(format!("{}-{seq}-{name}", std::process::id()));
        ItemBuilder::new(self, name, staging, lock)
    }

    /// Moves a finished staging directory into place under its hash and registers it.
    pub(crate) fn register(
        &self,
        staging: &Path,
        name: &str,
        overlay: BTreeMap<String, ImageMeta>,
        self_refs: Vec<String>,
    ) -> Result<StorePath> {
        let candidates = self.hashes()?;
        let scanner = refs::HashScanner::new(
            candidates
                .iter()
                .filter_map(|h| h.as_bytes().try_into().ok()),
        );
        let building = hash::SelfRefs {
            files: &self_refs,
            hash: None,
        };
        let digest = hash::digest(staging, name, &overlay, scanner, building)?;
        let path = StorePath::new(&digest.hash, name)?;
        for rel in &self_refs {
            rewrite_self_ref(&staging.join(rel), &digest.hash)?;
        }
        let _lock = self.item_lock(&digest.hash)?;
        let target = self.physical(&path);
        if self.contains(&path) {
            remove_tree(staging)?;
            return Ok(path);
        }
        if fs::symlink_metadata(&target).is_ok() {
            // An unregistered directory under our name: a killed build's; ours replaces it.
            remove_tree(&target)?;
        }
        // Moving a directory to another parent rewrites its `..`: without root, that needs
        // write permission on the directory itself, which canonical items do not have.
        fs::set_permissions(staging, fs::Permissions::from_mode(0o755))
            .map_err(io("unlocking", staging))?;
        fs::rename(staging, &target).map_err(io("moving into the store", &target))?;
        fs::set_permissions(&target, fs::Permissions::from_mode(0o555))
            .map_err(io("setting mode of", &target))?;
        sync_dir(&self.dir)?;
        let mut references = Vec::new();
        for hash in &digest.references {
            references.push(self.path_of_hash(hash)?);
        }
        let record = ItemRecord {
            path: path.clone(),
            references,
            content_bytes: digest.content_bytes,
            entries: digest.entries,
            image_meta: overlay,
            self_refs,
        };
        let json = serde_json::to_vec_pretty(&record).map_err(|e| StoreError::CorruptRecord {
            path: self.record_path(&digest.hash),
            why: e.to_string(),
        })?;
        write_atomic(&self.record_path(&digest.hash), &json)?;
        Ok(path)
    }

    /// Hash parts of every registered item.
    fn hashes(&self) -> Result<BTreeSet<String>> {
        let db = self.meta_dir().join("db");
        let mut out = BTreeSet::new();
        for entry in fs::read_dir(&db).map_err(io("listing", &db))? {
            let name = entry.map_err(io("listing", &db))?.file_name();
            if let Some(hash) = name.to_str().and_then(|n| n.strip_suffix(".json")) {
                if path::is_hash(hash.as_bytes()) {
                    out.insert(hash.to_owned());
                }
            }
        }
        Ok(out)
    }

    fn path_of_hash(&self, hash: &str) -> Result<StorePath> {
        Ok(self.record_by_hash(hash)?.path)
    }

    fn record_by_hash(&self, hash: &str) -> Result<ItemRecord> {
        let file = self.record_path(hash);
        let bytes = fs::read(&file).map_err(io("reading", &file))?;
        serde_json::from_slice(&bytes).map_err(|e| StoreError::CorruptRecord {
            path: file,
            why: e.to_string(),
        })
    }

    /// The registration of `item`.
    pub fn record(&self, item: &StorePath) -> Result<ItemRecord> {
        if !self.contains(item) {
            return Err(StoreError::NotInStore(item.to_string()));
        }
        self.record_by_hash(item.hash())
    }

    /// Whether `item` is registered and its directory exists.
    pub fn contains(&self, item: &StorePath) -> bool {
        self.record_by_hash(item.hash())
            .is_ok_and(|r| r.path == *item)
            && self.physical(item).is_dir()
    }

    /// Every registered item, sorted.
    pub fn items(&self) -> Result<Vec<StorePath>> {
        let mut out = Vec::new();
        for hash in self.hashes()? {
            out.push(self.path_of_hash(&hash)?);
        }
        out.sort();
        Ok(out)
    }

    /// `roots` and everything they reference, transitively; sorted by store path.
    pub fn closure(&self, roots: &[StorePath]) -> Result<Vec<StorePath>> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<StorePath> = roots.to_vec();
        while let Some(item) = todo.pop() {
            if seen.insert(item.clone()) {
                todo.extend(self.record(&item)?.references);
            }
        }
        Ok(seen.into_iter().collect())
    }

    /// The item built before for input identity `key`, if it is still in the store.
    pub fn cached(&self, key: &str) -> Option<StorePath> {
        let text = fs::read_to_string(self.meta_dir().join("cache").join(key)).ok()?;
        let item: StorePath = text.trim().parse().ok()?;
        self.contains(&item).then_some(item)
    }

    /// Returns the cached item for `key`, or builds it with `build` and remembers it.
    /// Concurrent callers with the same key wait for each other and share one build.
    pub fn build_cached<E: From<StoreError>>(
        &self,
        key: &str,
        build: impl FnOnce(&Store) -> std::result::Result<StorePath, E>,
    ) -> std::result::Result<StorePath, E> {
        if let Some(hit) = self.cached(key) {
            return Ok(hit);
        }
        let _lock = lock::lock(
            &self
                .meta_dir()
                .join("locks")
                .join(format!("cache-{key}.lock")),
        )?;
        if let Some(hit) = self.cached(key) {
            return Ok(hit);
        }
        let item = build(self)?;
        let _writing = self.shared_gc_lock()?;
        write_atomic(
            &self.meta_dir().join("cache").join(key),
            item.to_string().as_bytes(),
        )?;
        Ok(item)
    }

    /// Removes staging directories, unregistered items and half-written registrations,
    /// cache entries or roots left by killed builds, when no build is running (otherwise
    /// the next open does it).
    fn clean_leftovers(&self) -> Result<()> {
        let Some(_exclusive) = lock::try_lock(&self.gc_lock_path())? else {
            return Ok(());
        };
        let tmp = self.meta_dir().join("tmp");
        for entry in fs::read_dir(&tmp).map_err(io("listing", &tmp))? {
            remove_tree(&entry.map_err(io("listing", &tmp))?.path())?;
        }
        for sub in ["db", "cache", "roots"] {
            let dir = self.meta_dir().join(sub);
            for entry in fs::read_dir(&dir).map_err(io("listing", &dir))? {
                let path = entry.map_err(io("listing", &dir))?.path();
                if path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(ATOMIC_TMP))
                {
                    fs::remove_file(&path).map_err(io("removing", &path))?;
                }
            }
        }
        let registered = self.hashes()?;
        for entry in fs::read_dir(&self.dir).map_err(io("listing", &self.dir))? {
            let entry = entry.map_err(io("listing", &self.dir))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Ok(item) = name.parse::<StorePath>() {
                if !registered.contains(item.hash()) {
                    remove_tree(&entry.path())?;
                }
            }
        }
        // Registrations whose directory vanished are not items either.
        for hash in registered {
            if let Ok(record) = self.record_by_hash(&hash) {
                if !self.physical(&record.path).is_dir() {
                    let file = self.record_path(&hash);
                    fs::remove_file(&file).map_err(io("removing", &file))?;
                }
            }
        }
        Ok(())
    }
}

/// Puts the item's hash where the builder wrote the self placeholder, keeping the file's
/// canonical mode and time.
fn rewrite_self_ref(file: &Path, hash: &str) -> Result<()> {
    let mut bytes = fs::read(file).map_err(io("reading", file))?;
    hash::replace_all(
        &mut bytes,
        hash::SELF_PLACEHOLDER.as_bytes(),
        hash.as_bytes(),
    );
    let mode = fs::metadata(file)
        .map_err(io("reading", file))?
        .permissions()
        .mode();
    fs::set_permissions(file, fs::Permissions::from_mode(0o644)).map_err(io("unlocking", file))?;
    fs::write(file, &bytes).map_err(io("writing", file))?;
    fs::set_permissions(file, fs::Permissions::from_mode(mode))
        .map_err(io("setting mode of", file))?;
    let time = filetime::FileTime::from_unix_time(STORE_MTIME, 0);
    filetime::set_file_times(file, time, time).map_err(io("setting times of", file))?;
    Ok(())
}

/// The prefix of [`write_atomic`]'s temporary files (`.tmp-<pid>-<seq>-<name>`): no item,
/// root or cache name starts with a dot.
const ATOMIC_TMP: &str = ".tmp-";

/// Writes `bytes` to `path` through a temporary file and a rename, synced. Callers hold
/// `gc.lock` shared, so that cleanup never removes a temporary file still being written.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(
        "{ATOMIC_TMP}{}-{}-{name}",
        std::process::id(),
        STAGING_SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = fs::File::create(&tmp).map_err(io("creating", &tmp))?;
        f.write_all(bytes).map_err(io("writing", &tmp))?;
        f.sync_all().map_err(io("syncing", &tmp))?;
        fs::rename(&tmp, path).map_err(io("renaming", path))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    if let Some(parent) = path.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("syncing", dir))?;
    Ok(())
}

/// Removes a tree even when its directories are read-only (as store items are).
pub(crate) fn remove_tree(path: &Path) -> Result<()> {
    let Ok(md) = fs::symlink_metadata(path) else {
        return Ok(());
    };
    if md.is_dir() {
        fs::set_permissions(path, fs::Permissions::from_mode(0o755))
            .map_err(io("unlocking", path))?;
        for entry in fs::read_dir(path).map_err(io("listing", path))? {
            remove_tree(&entry.map_err(io("listing", path))?.path())?;
        }
        fs::remove_dir(path).map_err(io("removing", path))?;
        Ok(())
    } else {
        fs::remove_file(path).map_err(io("removing", path))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
