//! Building one item: write into a private staging directory inside the store, then
//! [`ItemBuilder::commit`] makes it canonical, names it by its hash, and moves it into
//! place atomically.

use super::error::{io, Result, StoreError};
use super::hash::ImageMeta;
use super::lock::Lock;
use super::path::{is_valid_item_name, StorePath};
use super::Store;
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

/// An item being built. Dropping it without `commit` removes the staging directory.
pub struct ItemBuilder<'s> {
    store: &'s Store,
    name: String,
    staging: PathBuf,
    overlay: BTreeMap<String, ImageMeta>,
    self_refs: Vec<String>,
    prefix: Option<super::hash::Prefix>,
    _staging_lock: Lock,
    done: bool,
}

impl<'s> ItemBuilder<'s> {
    pub(crate) fn new(store: &'s Store, name: &str, staging: PathBuf, lock: Lock) -> Result<Self> {
        if !is_valid_item_name(name) {
            return Err(super::path::StorePathError::BadName(name.to_owned()).into());
        }
        fs::create_dir(&staging).map_err(io("creating", &staging))?;
        Ok(ItemBuilder {
            store,
            name: name.to_owned(),
            staging,
            overlay: BTreeMap::new(),
            self_refs: Vec::new(),
            prefix: None,
            _staging_lock: lock,
            done: false,
        })
    }

    /// The staging directory, for writers that fill it in bulk (e.g. an archive import).
    pub fn root(&self) -> &Path {
        &self.staging
    }

    /// The physical path for `rel` (relative, no `..`), creating parent directories.
    pub fn prepare(&self, rel: &str) -> Result<PathBuf> {
        let bad = || StoreError::BadEntry {
            item: self.name.clone(),
            path: rel.to_owned(),
            why: "paths in an item are relative and have no `..`".to_owned(),
        };
        let relp = Path::new(rel);
        if rel.is_empty()
            || relp
                .components()
                .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(bad());
        }
        let full = self.staging.join(relp);
        if let Some(parent) = full.parent() {
            fs::create_dir_all(parent).map_err(io("creating", parent))?;
        }
        Ok(full)
    }

    /// Writes a regular file.
    pub fn file(&mut self, rel: &str, data: &[u8], exec: bool) -> Result<()> {
        let full = self.prepare(rel)?;
        let mut f = fs::File::create(&full).map_err(io("creating", &full))?;
        f.write_all(data).map_err(io("writing", &full))?;
        set_exec(&full, exec)
    }

    /// Writes a regular file from a reader (streamed); returns the bytes written.
    pub fn file_from(
        &mut self,
        rel: &str,
        data: &mut dyn std::io::Read,
        exec: bool,
    ) -> Result<u64> {
        let full = self.prepare(rel)?;
        let mut f = fs::File::create(&full).map_err(io("creating", &full))?;
        let n = std::io::copy(data, &mut f).map_err(io("writing", &full))?;
        set_exec(&full, exec)?;
        Ok(n)
    }

    /// Makes `rel` another name of the file `existing` (both relative to this item).
    pub fn hard_link(&mut self, rel: &str, existing: &str) -> Result<()> {
        let from = self.prepare(existing)?;
        let to = self.prepare(rel)?;
        fs::hard_link(&from, &to).map_err(io("linking", &to))?;
        Ok(())
    }

    /// Copies a regular file from `src` (streamed).
    pub fn copy_file(&mut self, rel: &str, src: &Path, exec: bool) -> Result<()> {
        let full = self.prepare(rel)?;
        fs::copy(src, &full).map_err(io("copying", src))?;
        set_exec(&full, exec)
    }

    /// Creates a directory.
    pub fn dir(&mut self, rel: &str) -> Result<()> {
        let full = self.prepare(rel)?;
        fs::create_dir_all(&full).map_err(io("creating", &full))?;
        Ok(())
    }

    /// Creates a symbolic link.
    pub fn symlink(&mut self, rel: &str, target: &str) -> Result<()> {
        let full = self.prepare(rel)?;
        std::os::unix::fs::symlink(target, &full).map_err(io("linking", &full))?;
        Ok(())
    }

    /// The item's own future store path, for files written with [`Self::file_with_self_ref`].
    pub fn self_path(&self) -> String {
        format!(
            "{}/{}-{}",
            super::STORE_DIR,
            super::hash::SELF_PLACEHOLDER,
            self.name
        )
    }

    /// Writes a (small) file that names the item itself through [`Self::self_path`]; the
    /// placeholder becomes the real hash when the item is committed.
    pub fn file_with_self_ref(&mut self, rel: &str, data: &[u8], exec: bool) -> Result<()> {
        self.file(rel, data, exec)?;
        self.self_refs.push(rel.to_owned());
        Ok(())
    }

    /// Reads the finished file `rel` once and returns the sha256 of its bytes (hex), also
    /// taking the item's hash as far as this file, so that [`Self::commit`] need not read
    /// it again: for a large file (a disk image) that comes first among the item's entries
    /// (names in byte order) and has one name. Give it its image metadata
    /// ([`Self::set_meta`]) before, and change it no more; otherwise `commit` simply reads
    /// the item whole, as it does for every other item.
    pub fn hash_first_file(&mut self, rel: &str) -> Result<String> {
        let full = self.prepare(rel)?;
        // The mode it will have in the store, which the hash depends on.
        let md = fs::symlink_metadata(&full).map_err(io("reading", &full))?;
        let exec = md.permissions().mode() & 0o111 != 0;
        let private = self.overlay.get(rel).is_some_and(is_private);
        fs::set_permissions(
            &full,
            fs::Permissions::from_mode(physical_mode(exec, private)),
        )
        .map_err(io("setting mode of", &full))?;
        let candidates = self.store.hashes()?;
        let prefix = super::hash::digest_first_file(
            &self.staging,
            &self.name,
            &self.overlay,
            candidates,
            rel,
        )?;
        let plain = prefix.plain_sha256.clone();
        self.prefix = Some(prefix);
        Ok(plain)
    }

    /// Gives `rel` non-default image metadata (owner, group, mode bits, flags).
    pub fn set_meta(&mut self, rel: &str, meta: ImageMeta) {
        self.overlay.insert(rel.to_owned(), meta);
    }

    /// Makes the contents canonical, hashes them, and moves the item into the store.
    pub fn commit(mut self) -> Result<StorePath> {
        let overlay = std::mem::take(&mut self.overlay);
        canonicalize(&self.staging, &overlay)?;
        let self_refs = std::mem::take(&mut self.self_refs);
        let prefix = self.prefix.take();
        let path = self
            .store
            .register(&self.staging, &self.name, overlay, self_refs, prefix)?;
        self.done = true;
        Ok(path)
    }
}

impl Drop for ItemBuilder<'_> {
    fn drop(&mut self) {
        if !self.done {
            // Best effort: a leftover is also removed the next time the store is opened.
            let _ = super::remove_tree(&self.staging);
        }
    }
}

fn set_exec(path: &Path, exec: bool) -> Result<()> {
    let mode = if exec { 0o755 } else { 0o644 };
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(io("setting mode of", path))?;
    Ok(())
}

/// The fixed time every store entry carries (1970-01-01T00:00:01Z, as Nix).
pub const STORE_MTIME: i64 = 1;

/// Whether a file with image metadata `meta` is private: nobody but its owner may read it
/// in the image (e.g. `etc/master.passwd`, 0600). Private files are stored owner-only.
pub fn is_private(meta: &ImageMeta) -> bool {
    meta.perm & 0o004 == 0
}

/// The physical mode of a file in the store: 0444/0555, or 0400/0500 when it is private.
pub(crate) fn physical_mode(exec: bool, private: bool) -> u32 {
    match (exec, private) {
        (false, false) => 0o444,
        (true, false) => 0o555,
        (false, true) => 0o400,
        (true, true) => 0o500,
    }
}

/// Files 0444/0555 (0400/0500 when private in `overlay`), directories 0555, fixed times;
/// children before their directory.
pub(crate) fn canonicalize(root: &Path, overlay: &BTreeMap<String, ImageMeta>) -> Result<()> {
    canonicalize_at(root, "", overlay)
}

fn canonicalize_at(path: &Path, rel: &str, overlay: &BTreeMap<String, ImageMeta>) -> Result<()> {
    let md = fs::symlink_metadata(path).map_err(io("reading", path))?;
    let time = filetime::FileTime::from_unix_time(STORE_MTIME, 0);
    if md.file_type().is_symlink() {
        filetime::set_symlink_file_times(path, time, time).map_err(io("setting times of", path))?;
        return Ok(());
    }
    if md.is_dir() {
        for entry in fs::read_dir(path).map_err(io("listing", path))? {
            let entry = entry.map_err(io("listing", path))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let child = if rel.is_empty() {
                name.into_owned()
            } else {
                format!("{rel}/{name}")
            };
            canonicalize_at(&entry.path(), &child, overlay)?;
        }
        fs::set_permissions(path, fs::Permissions::from_mode(0o555))
            .map_err(io("setting mode of", path))?;
    } else {
        let exec = md.permissions().mode() & 0o111 != 0;
        let private = overlay.get(rel).is_some_and(is_private);
        fs::set_permissions(
            path,
            fs::Permissions::from_mode(physical_mode(exec, private)),
        )
        .map_err(io("setting mode of", path))?;
    }
    filetime::set_file_times(path, time, time).map_err(io("setting times of", path))?;
    Ok(())
}
