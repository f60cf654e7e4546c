//! The hash scheme: how an item's contents become its name.
//!
//! An item is a directory tree plus, for each entry, the metadata it gets in the image
//! (owner, group, permission bits including setuid/setgid/sticky, BSD flags). The physical
//! files on the building host always have canonical modes (files 0444 or 0555, directories
//! 0555, a fixed mtime); the image metadata is recorded beside them, so it survives a store
//! that lives on a host file system or is owned by an unprivileged user.
//!
//! The store path's hash part is the first 160 bits, as 40 lowercase hex digits, of the
//! SHA-256 of this serialization (every string and byte run is written as a little-endian
//! `u64` length followed by the bytes):
//!
//! ```text
//! "fruix-store-item-v1"  name
//! for every entry, depth first, siblings in byte order of their names, the root ("") first:
//!   "d" path  uid gid perm flags                        directory
//!   "f" path  uid gid perm flags  exec  size  bytes     regular file (exec: 1 if 0555)
//!   "l" path  uid gid perm flags  target                symbolic link
//!   "h" path  first-path                                another name of an earlier file
//! ```
//!
//! (uid, gid, flags as u32 LE, perm as u16 LE, exec as one byte, size as u64 LE.)
//! Nothing else enters the hash: not the physical location, times, the building user or
//! the umask. References are not hashed separately: they are part of the bytes.
//!
//! Self-references (an item naming its own store path, e.g. an image's metadata) are
//! hashed *modulo* themselves, as Nix's content-addressed paths are: the builder writes
//! [`SELF_PLACEHOLDER`] where its own hash goes, in files it declares; the hash is taken
//! with the placeholder, then the placeholder is replaced by the hash. Verification puts
//! the placeholder back in those files before hashing. `Store::verify` recomputes this
//! hash for every item.

use super::error::{io, Result, StoreError};
use super::refs::HashScanner;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

const SCHEME: &str = "fruix-store-item-v1";

/// Stands for an item's own hash part until it is known (40 hex digits, like a hash).
pub const SELF_PLACEHOLDER: &str = "5e1f5e1f5e1f5e1f5e1f5e1f5e1f5e1f5e1f5e1f";

/// Files of an item that mention the item itself, and its hash once known.
#[derive(Debug, Clone, Copy)]
pub struct SelfRefs<'a> {
    pub files: &'a [String],
    /// The hash standing in the files (`None` while building: they hold the placeholder).
    pub hash: Option<&'a str>,
}

/// Replaces every occurrence of `from` by `to` (same length) in `bytes`.
pub fn replace_all(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    debug_assert_eq!(from.len(), to.len());
    let mut i = 0;
    while i + from.len() <= bytes.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
            i += from.len();
        } else {
            i += 1;
        }
    }
}

/// The metadata an entry gets in the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImageMeta {
    pub uid: u32,
    pub gid: u32,
    pub perm: u16,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub flags: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl ImageMeta {
    /// root:wheel with `perm`.
    pub const fn root(perm: u16) -> ImageMeta {
        ImageMeta {
            uid: 0,
            gid: 0,
            perm,
            flags: 0,
        }
    }
}

/// The default image metadata of a physical entry: root:wheel, read-only.
pub fn default_meta(kind: EntryKind) -> ImageMeta {
    match kind {
        EntryKind::Dir => ImageMeta::root(0o555),
        EntryKind::File { exec: true } => ImageMeta::root(0o555),
        EntryKind::File { exec: false } => ImageMeta::root(0o444),
        EntryKind::Symlink => ImageMeta::root(0o755),
    }
}

/// What a physical entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    File { exec: bool },
    Symlink,
}

/// The result of reading a whole item once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    pub hash: String,
    pub references: BTreeSet<String>,
    /// Bytes of file contents.
    pub content_bytes: u64,
    pub entries: u64,
}

struct Walk<'a> {
    self_refs: SelfRefs<'a>,
    sha: Sha256,
    scanner: HashScanner,
    overlay: &'a BTreeMap<String, ImageMeta>,
    item: &'a str,
    links: HashMap<(u64, u64), String>,
    content_bytes: u64,
    entries: u64,
    buf: Vec<u8>,
}

fn put(sha: &mut Sha256, bytes: &[u8]) {
    sha.update((bytes.len() as u64).to_le_bytes());
    sha.update(bytes);
}

/// Hashes the item directory `root` named `name`, whose entries get image metadata from
/// `overlay` (entries not in it get [`default_meta`]), and finds references among `scanner`'s
/// candidates.
pub fn digest(
    root: &Path,
    name: &str,
    overlay: &BTreeMap<String, ImageMeta>,
    scanner: HashScanner,
    self_refs: SelfRefs<'_>,
) -> Result<Digest> {
    let mut walk = Walk {
        self_refs,
        sha: Sha256::new(),
        scanner,
        overlay,
        item: name,
        links: HashMap::new(),
        content_bytes: 0,
        entries: 0,
        buf: vec![0; 1 << 16],
    };
    put(&mut walk.sha, SCHEME.as_bytes());
    put(&mut walk.sha, name.as_bytes());
    walk.entry(root, "")?;
    let full = walk.sha.finalize();
    let hash: String = full[..20].iter().map(|b| format!("{b:02x}")).collect();
    Ok(Digest {
        hash,
        references: walk.scanner.into_found(),
        content_bytes: walk.content_bytes,
        entries: walk.entries,
    })
}

impl Walk<'_> {
    fn bad(&self, rel: &str, why: impl Into<String>) -> StoreError {
        StoreError::BadEntry {
            item: self.item.to_owned(),
            path: rel.to_owned(),
            why: why.into(),
        }
    }

    fn meta(&mut self, rel: &str, kind: EntryKind) {
        let m = self
            .overlay
            .get(rel)
            .copied()
            .unwrap_or_else(|| default_meta(kind));
        self.sha.update(m.uid.to_le_bytes());
        self.sha.update(m.gid.to_le_bytes());
        self.sha.update(m.perm.to_le_bytes());
        self.sha.update(m.flags.to_le_bytes());
    }

    fn entry(&mut self, path: &Path, rel: &str) -> Result<()> {
        self.entries += 1;
        let md = fs::symlink_metadata(path).map_err(io("reading", path))?;
        let ft = md.file_type();
        if ft.is_dir() {
            put(&mut self.sha, b"d");
            put(&mut self.sha, rel.as_bytes());
            self.meta(rel, EntryKind::Dir);
            let mut names = Vec::new();
            for entry in fs::read_dir(path).map_err(io("listing", path))? {
                let entry = entry.map_err(io("listing", path))?;
                let name = entry
                    .file_name()
                    .into_string()
                    .map_err(|raw| self.bad(rel, format!("entry name {raw:?} is not UTF-8")))?;
                names.push(name);
            }
            names.sort();
            for name in names {
                let child_rel = if rel.is_empty() {
                    name.clone()
                } else {
                    format!("{rel}/{name}")
                };
                self.entry(&path.join(&name), &child_rel)?;
            }
        } else if ft.is_symlink() {
            let target = fs::read_link(path).map_err(io("reading link", path))?;
            let target = target
                .into_os_string()
                .into_string()
                .map_err(|_| self.bad(rel, "link target is not UTF-8"))?;
            put(&mut self.sha, b"l");
            put(&mut self.sha, rel.as_bytes());
            self.meta(rel, EntryKind::Symlink);
            put(&mut self.sha, target.as_bytes());
            self.scanner.feed(target.as_bytes());
            self.scanner.break_run();
        } else if ft.is_file() {
            if md.nlink() > 1 {
                let key = (md.dev(), md.ino());
                if let Some(first) = self.links.get(&key) {
                    put(&mut self.sha, b"h");
                    put(&mut self.sha, rel.as_bytes());
                    let first = first.clone();
                    put(&mut self.sha, first.as_bytes());
                    return Ok(());
                }
                self.links.insert(key, rel.to_owned());
            }
            let exec = md.permissions().mode() & 0o111 != 0;
            put(&mut self.sha, b"f");
            put(&mut self.sha, rel.as_bytes());
            self.meta(rel, EntryKind::File { exec });
            self.sha.update([u8::from(exec)]);
            self.sha.update(md.len().to_le_bytes());
            let mut file = fs::File::open(path).map_err(io("opening", path))?;
            let mut seen = 0u64;
            if self.self_refs.files.iter().any(|f| f == rel) {
                // Small files that name the item itself: hashed with the placeholder.
                let mut bytes = Vec::new();
                file.read_to_end(&mut bytes).map_err(io("reading", path))?;
                if let Some(hash) = self.self_refs.hash {
                    replace_all(&mut bytes, hash.as_bytes(), SELF_PLACEHOLDER.as_bytes());
                }
                seen = bytes.len() as u64;
                self.sha.update(&bytes);
                self.scanner.feed(&bytes);
            } else {
                loop {
                    let n = file.read(&mut self.buf).map_err(io("reading", path))?;
                    if n == 0 {
                        break;
                    }
                    seen += n as u64;
                    self.sha.update(&self.buf[..n]);
                    self.scanner.feed(&self.buf[..n]);
                }
            }
            self.scanner.break_run();
            if seen != md.len() {
                return Err(self.bad(rel, "file changed size while it was read"));
            }
            self.content_bytes += seen;
        } else {
            return Err(self.bad(
                rel,
                "only files, directories and symlinks may be in the store",
            ));
        }
        Ok(())
    }
}
