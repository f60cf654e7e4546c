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
//! Secrets: a file whose image mode lets others not read it (`perm & 0o004 == 0`, e.g.
//! `etc/master.passwd` at 0600) is *private*, and stored 0400 (0500 if executable) instead
//! of 0444/0555, so that it is readable on the building host only by the store's owner.
//! The physical mode follows from the image metadata, which is hashed: it needs no field
//! of its own. Verification reports a private file that others can read.
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
    /// The files (paths inside the item) that mention the item's own hash.
    pub files: &'a [String],
    /// The hash standing in the files (`None` while building: they hold the placeholder).
    pub hash: Option<&'a str>,
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of a file's bytes as hex, streamed (holes are not read).
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut sha = Sha256::new();
    let mut file = fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut buf = vec![0; 1 << 20];
    crate::sparse::stream(&mut file, len, &mut buf, &mut |chunk| sha.update(chunk))?;
    Ok(hex(&sha.finalize()))
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
    /// Owner user id in the image.
    pub uid: u32,
    /// Owner group id in the image.
    pub gid: u32,
    /// Permission bits, including setuid/setgid/sticky.
    pub perm: u16,
    #[serde(default, skip_serializing_if = "is_zero")]
    /// BSD file flags (`chflags`), 0 for none.
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
    /// A directory.
    Dir,
    /// A regular file.
    File {
        /// Whether it is executable (mode 0555 rather than 0444).
        exec: bool,
    },
    /// A symbolic link.
    Symlink,
}

/// The result of reading a whole item once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// The item's hash part: 40 hex digits.
    pub hash: String,
    /// Hash parts of other items its files mention.
    pub references: BTreeSet<String>,
    /// Bytes of file contents.
    pub content_bytes: u64,
    /// Entries read (directories, files, symlinks).
    pub entries: u64,
}

/// One entry of an item, as a [`ItemSource`] sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceEntry {
    /// A directory.
    Dir {
        /// Its image metadata.
        meta: ImageMeta,
    },
    /// A regular file.
    File {
        /// Its image metadata.
        meta: ImageMeta,
        /// Whether it is executable.
        exec: bool,
        /// Its length in bytes.
        len: u64,
        /// Identity of the inode when it has several names (hard links).
        link_key: Option<(u64, u64)>,
    },
    /// A symbolic link.
    Symlink {
        /// Its image metadata.
        meta: ImageMeta,
        /// The link's target bytes.
        target: Vec<u8>,
    },
}

/// Where an item's contents are read from: the physical store, or a file system image.
pub trait ItemSource {
    /// The entry at `rel` (`""` is the item's root).
    fn entry(&mut self, rel: &str) -> Result<SourceEntry>;
    /// Names in the directory `rel`, in byte order.
    fn list(&mut self, rel: &str) -> Result<Vec<String>>;
    /// Streams the file at `rel` into `sink`; returns its length.
    fn read(&mut self, rel: &str, sink: &mut dyn FnMut(&[u8])) -> Result<u64>;
}

fn put(sha: &mut Sha256, bytes: &[u8]) {
    sha.update((bytes.len() as u64).to_le_bytes());
    sha.update(bytes);
}

fn put_meta(sha: &mut Sha256, m: &ImageMeta) {
    sha.update(m.uid.to_le_bytes());
    sha.update(m.gid.to_le_bytes());
    sha.update(m.perm.to_le_bytes());
    sha.update(m.flags.to_le_bytes());
}

struct Walk<'a, S> {
    src: S,
    self_refs: SelfRefs<'a>,
    sha: Sha256,
    scanner: HashScanner,
    links: HashMap<(u64, u64), String>,
    content_bytes: u64,
    entries: u64,
}

/// Hashes the item named `name` read from `src`, and finds references among `scanner`'s
/// candidates.
pub fn digest_source(
    src: impl ItemSource,
    name: &str,
    scanner: HashScanner,
    self_refs: SelfRefs<'_>,
) -> Result<Digest> {
    let mut walk = Walk {
        src,
        self_refs,
        sha: Sha256::new(),
        scanner,
        links: HashMap::new(),
        content_bytes: 0,
        entries: 0,
    };
    put(&mut walk.sha, SCHEME.as_bytes());
    put(&mut walk.sha, name.as_bytes());
    walk.entry("")?;
    let full = walk.sha.finalize();
    let hash = hex(&full[..20]);
    Ok(Digest {
        hash,
        references: walk.scanner.into_found(),
        content_bytes: walk.content_bytes,
        entries: walk.entries,
    })
}

/// Hashes the physical item directory `root` named `name`, whose entries get image
/// metadata from `overlay` (entries not in it get [`default_meta`]).
pub fn digest(
    root: &Path,
    name: &str,
    overlay: &BTreeMap<String, ImageMeta>,
    scanner: HashScanner,
    self_refs: SelfRefs<'_>,
) -> Result<Digest> {
    let src = PhysicalItem {
        root,
        name,
        overlay,
        buf: vec![0; 1 << 16],
        plain: None,
    };
    digest_source(src, name, scanner, self_refs)
}

/// An item's hash taken as far as its first entry, a large file, while the item is being
/// built: the pass that reads the file also gives its plain sha256, and the commit goes on
/// from here instead of reading the file again.
pub struct Prefix {
    sha: Sha256,
    scanner: HashScanner,
    candidates: BTreeSet<String>,
    root_meta: ImageMeta,
    rel: String,
    entry: SourceEntry,
    content_bytes: u64,
    entries: u64,
    /// The plain sha256 of the file's bytes, as hex.
    pub plain_sha256: String,
}

/// Hashes the physical item at `root` (named `name`) as far as its entry `rel`, taken to
/// be its first (a regular file with one name), finding references among `candidates`.
pub(crate) fn digest_first_file(
    root: &Path,
    name: &str,
    overlay: &BTreeMap<String, ImageMeta>,
    candidates: BTreeSet<String>,
    rel: &str,
) -> Result<Prefix> {
    let src = PhysicalItem {
        root,
        name,
        overlay,
        buf: vec![0; 1 << 20],
        plain: Some((rel.to_owned(), Sha256::new())),
    };
    let scanner = HashScanner::new(
        candidates
            .iter()
            .filter_map(|h| h.as_bytes().try_into().ok()),
    );
    let mut walk = Walk {
        src,
        self_refs: SelfRefs {
            files: &[],
            hash: None,
        },
        sha: Sha256::new(),
        scanner,
        links: HashMap::new(),
        content_bytes: 0,
        entries: 1,
    };
    put(&mut walk.sha, SCHEME.as_bytes());
    put(&mut walk.sha, name.as_bytes());
    // What `Walk::entry("")` does before its children.
    let SourceEntry::Dir { meta: root_meta } = walk.src.entry("")? else {
        return Err(walk.src.bad("", "the item is not a directory"));
    };
    put(&mut walk.sha, b"d");
    put(&mut walk.sha, b"");
    put_meta(&mut walk.sha, &root_meta);
    let entry = walk.src.entry(rel)?;
    if !matches!(entry, SourceEntry::File { link_key: None, .. }) {
        return Err(walk
            .src
            .bad(rel, "only a file with one name can be hashed ahead"));
    }
    walk.entry(rel)?;
    let plain = walk.src.plain.take().map(|(_, sha)| hex(&sha.finalize()));
    Ok(Prefix {
        sha: walk.sha,
        scanner: walk.scanner,
        candidates,
        root_meta,
        rel: rel.to_owned(),
        entry,
        content_bytes: walk.content_bytes,
        entries: walk.entries,
        plain_sha256: plain.unwrap_or_default(),
    })
}

/// Finishes the hash begun by [`digest_first_file`]; `None` when it cannot be used (the
/// file is not the item's first entry, it changed, or the candidates for references
/// differ), and the item must be read whole.
pub(crate) fn digest_resume(
    prefix: Prefix,
    root: &Path,
    name: &str,
    overlay: &BTreeMap<String, ImageMeta>,
    candidates: &BTreeSet<String>,
    self_refs: SelfRefs<'_>,
) -> Result<Option<Digest>> {
    let mut src = PhysicalItem {
        root,
        name,
        overlay,
        buf: vec![0; 1 << 16],
        plain: None,
    };
    let names = src.list("")?;
    let usable = prefix.candidates == *candidates
        && names.first() == Some(&prefix.rel)
        && !self_refs.files.contains(&prefix.rel)
        && src.entry("")?
            == (SourceEntry::Dir {
                meta: prefix.root_meta,
            })
        && src.entry(&prefix.rel)? == prefix.entry;
    if !usable {
        return Ok(None);
    }
    let mut walk = Walk {
        src,
        self_refs,
        sha: prefix.sha,
        scanner: prefix.scanner,
        links: HashMap::new(),
        content_bytes: prefix.content_bytes,
        entries: prefix.entries,
    };
    for child in &names[1..] {
        walk.entry(child)?;
    }
    let full = walk.sha.finalize();
    Ok(Some(Digest {
        hash: hex(&full[..20]),
        references: walk.scanner.into_found(),
        content_bytes: walk.content_bytes,
        entries: walk.entries,
    }))
}

impl<S: ItemSource> Walk<'_, S> {
    fn entry(&mut self, rel: &str) -> Result<()> {
        self.entries += 1;
        match self.src.entry(rel)? {
            SourceEntry::Dir { meta } => {
                put(&mut self.sha, b"d");
                put(&mut self.sha, rel.as_bytes());
                put_meta(&mut self.sha, &meta);
                for name in self.src.list(rel)? {
                    let child = if rel.is_empty() {
                        name
                    } else {
                        format!("{rel}/{name}")
                    };
                    self.entry(&child)?;
                }
            }
            SourceEntry::Symlink { meta, target } => {
                put(&mut self.sha, b"l");
                put(&mut self.sha, rel.as_bytes());
                put_meta(&mut self.sha, &meta);
                put(&mut self.sha, &target);
                self.scanner.feed(&target);
                self.scanner.break_run();
            }
            SourceEntry::File {
                meta,
                exec,
                len,
                link_key,
            } => {
                if let Some(key) = link_key {
                    if let Some(first) = self.links.get(&key) {
                        put(&mut self.sha, b"h");
                        put(&mut self.sha, rel.as_bytes());
                        let first = first.clone();
                        put(&mut self.sha, first.as_bytes());
                        return Ok(());
                    }
                    self.links.insert(key, rel.to_owned());
                }
                put(&mut self.sha, b"f");
                put(&mut self.sha, rel.as_bytes());
                put_meta(&mut self.sha, &meta);
                self.sha.update([u8::from(exec)]);
                self.sha.update(len.to_le_bytes());
                let seen = if self.self_refs.files.iter().any(|f| f == rel) {
                    // Small files that name the item itself: hashed with the placeholder.
                    let mut bytes = Vec::new();
                    self.src
                        .read(rel, &mut |chunk| bytes.extend_from_slice(chunk))?;
                    if let Some(hash) = self.self_refs.hash {
                        replace_all(&mut bytes, hash.as_bytes(), SELF_PLACEHOLDER.as_bytes());
                    }
                    self.sha.update(&bytes);
                    self.scanner.feed(&bytes);
                    bytes.len() as u64
                } else {
                    let (sha, scanner) = (&mut self.sha, &mut self.scanner);
                    self.src.read(rel, &mut |chunk| {
                        sha.update(chunk);
                        scanner.feed(chunk);
                    })?
                };
                self.scanner.break_run();
                if seen != len {
                    return Err(StoreError::BadEntry {
                        item: String::new(),
                        path: rel.to_owned(),
                        why: "file changed size while it was read".to_owned(),
                    });
                }
                self.content_bytes += seen;
            }
        }
        Ok(())
    }
}

/// Files at least this long are read with their holes skipped (two more system calls).
const SPARSE_MIN: u64 = 1 << 20;

/// An item in the physical store.
struct PhysicalItem<'a> {
    root: &'a Path,
    name: &'a str,
    overlay: &'a BTreeMap<String, ImageMeta>,
    buf: Vec<u8>,
    /// A file whose plain sha256 is taken as it is read, and that hash.
    plain: Option<(String, Sha256)>,
}

impl PhysicalItem<'_> {
    fn path(&self, rel: &str) -> std::path::PathBuf {
        if rel.is_empty() {
            self.root.to_path_buf()
        } else {
            self.root.join(rel)
        }
    }
    fn bad(&self, rel: &str, why: impl Into<String>) -> StoreError {
        StoreError::BadEntry {
            item: self.name.to_owned(),
            path: rel.to_owned(),
            why: why.into(),
        }
    }
    fn meta(&self, rel: &str, kind: EntryKind) -> ImageMeta {
        self.overlay
            .get(rel)
            .copied()
            .unwrap_or_else(|| default_meta(kind))
    }
}

impl ItemSource for PhysicalItem<'_> {
    fn entry(&mut self, rel: &str) -> Result<SourceEntry> {
        let path = self.path(rel);
        let md = fs::symlink_metadata(&path).map_err(io("reading", &path))?;
        let ft = md.file_type();
        if ft.is_dir() {
            Ok(SourceEntry::Dir {
                meta: self.meta(rel, EntryKind::Dir),
            })
        } else if ft.is_symlink() {
            let target = fs::read_link(&path).map_err(io("reading link", &path))?;
            Ok(SourceEntry::Symlink {
                meta: self.meta(rel, EntryKind::Symlink),
                target: target.into_os_string().into_encoded_bytes(),
            })
        } else if ft.is_file() {
            let exec = md.permissions().mode() & 0o111 != 0;
            let meta = self.meta(rel, EntryKind::File { exec });
            if super::builder::is_private(&meta) && md.permissions().mode() & 0o044 != 0 {
                return Err(self.bad(
                    rel,
                    format!(
                        "it is private in the image (mode {:04o}) but readable by others on this host",
                        meta.perm
                    ),
                ));
            }
            Ok(SourceEntry::File {
                meta,
                exec,
                len: md.len(),
                link_key: (md.nlink() > 1).then_some((md.dev(), md.ino())),
            })
        } else {
            Err(self.bad(
                rel,
                "only files, directories and symlinks may be in the store",
            ))
        }
    }

    fn list(&mut self, rel: &str) -> Result<Vec<String>> {
        let path = self.path(rel);
        let mut names = Vec::new();
        for entry in fs::read_dir(&path).map_err(io("listing", &path))? {
            let entry = entry.map_err(io("listing", &path))?;
            let name = entry
                .file_name()
                .into_string()
                .map_err(|raw| self.bad(rel, format!("entry name {raw:?} is not UTF-8")))?;
            names.push(name);
        }
        names.sort();
        Ok(names)
    }

    fn read(&mut self, rel: &str, sink: &mut dyn FnMut(&[u8])) -> Result<u64> {
        let path = self.path(rel);
        let mut file = fs::File::open(&path).map_err(io("opening", &path))?;
        let len = file.metadata().map_err(io("reading", &path))?.len();
        if let Some((_, plain)) = self.plain.as_mut().filter(|(r, _)| r == rel) {
            let mut both = |chunk: &[u8]| {
                plain.update(chunk);
                sink(chunk);
            };
            return Ok(
                crate::sparse::stream(&mut file, len, &mut self.buf, &mut both)
                    .map_err(io("reading", &path))?,
            );
        }
        if len >= SPARSE_MIN {
            // Large files may be sparse (disk images): their holes are not read.
            return Ok(crate::sparse::stream(&mut file, len, &mut self.buf, sink)
                .map_err(io("reading", &path))?);
        }
        let mut seen = 0u64;
        loop {
            let n = file.read(&mut self.buf).map_err(io("reading", &path))?;
            if n == 0 {
                return Ok(seen);
            }
            seen += n as u64;
            sink(&self.buf[..n]);
        }
    }
}
