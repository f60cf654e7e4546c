//! An in-memory file tree with explicit metadata: what the root file-system layout
//! produces and what the file-system writers (UFS2, FAT) consume.
//!
//! Ownership, modes and times are data here, never read from the building host, so the
//! same tree always gives the same image. File contents are either held in memory or
//! named by a host path and streamed when written; their size is known up front so a
//! writer can lay out the whole file system before writing a byte.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Metadata of one inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Meta {
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// Permission bits including setuid (0o4000), setgid (0o2000) and sticky (0o1000);
    /// the file type comes from the [`NodeKind`].
    pub perm: u16,
    /// BSD file flags (`chflags`), e.g. `schg`; 0 for none.
    pub flags: u32,
    /// Modification (and access, change, birth) time, seconds since the epoch.
    pub mtime: i64,
}

impl Meta {
    /// root:wheel with the given permissions at time `mtime`.
    pub const fn root(perm: u16, mtime: i64) -> Meta {
        Meta {
            uid: 0,
            gid: 0,
            perm,
            flags: 0,
            mtime,
        }
    }
}

/// Where a regular file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Bytes held in memory.
    Bytes(Arc<[u8]>),
    /// A file on the building host, `len` bytes long (checked again when it is read).
    Host {
        /// Path of the file on the host.
        path: PathBuf,
        /// Its length when the tree was made, in bytes.
        len: u64,
    },
}

impl Content {
    /// Length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Content::Bytes(bytes) => bytes.len() as u64,
            Content::Host { len, .. } => *len,
        }
    }
    /// Whether the content is zero bytes long.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Opens the content for streaming.
    pub fn open(&self) -> std::io::Result<Box<dyn std::io::Read + '_>> {
        match self {
            Content::Bytes(bytes) => Ok(Box::new(&bytes[..])),
            Content::Host { path, .. } => Ok(Box::new(std::fs::File::open(path)?)),
        }
    }
}

impl From<&[u8]> for Content {
    fn from(bytes: &[u8]) -> Self {
        Content::Bytes(bytes.into())
    }
}
impl From<Vec<u8>> for Content {
    fn from(bytes: Vec<u8>) -> Self {
        Content::Bytes(bytes.into())
    }
}
impl From<&str> for Content {
    fn from(text: &str) -> Self {
        Content::Bytes(text.as_bytes().into())
    }
}

/// What a directory entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    /// A regular file.
    File(Content),
    /// A directory.
    Dir(Dir),
    /// Target bytes, as readlink(2) returns them.
    Symlink(Vec<u8>),
    /// Another name for the regular file at this path (from the tree's root, no leading
    /// `/`): one inode, several links. The target comes earlier in [`FileTree::walk`] order.
    HardLink(Vec<u8>),
    /// A character device.
    CharDevice {
        /// Device number (`st_rdev`).
        rdev: u64,
    },
    /// A block device.
    BlockDevice {
        /// Device number (`st_rdev`).
        rdev: u64,
    },
    /// A named pipe.
    Fifo,
    /// A local-domain socket.
    Socket,
}

/// One directory entry's inode: metadata and kind. (Hard links carry no metadata of their
/// own; their `meta` is ignored.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Owner, mode and times.
    pub meta: Meta,
    /// What the entry is.
    pub kind: NodeKind,
}

/// A directory: entries by name (bytes, sorted, no `/` or NUL, at most 255 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dir {
    /// The entries, keyed by name.
    pub entries: BTreeMap<Vec<u8>, Node>,
}

/// A whole tree: the root directory's metadata and contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileTree {
    /// Owner, mode and times of the root directory.
    pub root_meta: Meta,
    /// The root directory's entries.
    pub root: Dir,
}

/// Why a path cannot be added to a tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error("`{path}`: name component is empty, `.`, `..`, longer than 255 bytes, or holds NUL")]
    /// A path component is empty, `.`, `..`, longer than 255 bytes or holds NUL.
    BadName {
        /// The path added.
        path: String,
    },
    #[error("`{path}`: a parent is not a directory")]
    /// A component before the last one exists and is not a directory.
    NotADirectory {
        /// The path added.
        path: String,
    },
    #[error("`{path}` already exists")]
    /// Something already exists at the path.
    Exists {
        /// The path added.
        path: String,
    },
}

fn show(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

/// Splits `a/b/c` into checked components.
fn components(path: &[u8]) -> Result<Vec<&[u8]>, TreeError> {
    let parts: Vec<&[u8]> = path
        .split(|b| *b == b'/')
        .filter(|part| !part.is_empty())
        .collect();
    let bad = |p: &&[u8]| *p == b"." || *p == b".." || p.len() > 255 || p.contains(&0);
    if parts.is_empty() || parts.iter().any(bad) {
        return Err(TreeError::BadName { path: show(path) });
    }
    Ok(parts)
}

impl FileTree {
    /// An empty tree whose root directory has `root_meta`.
    pub fn new(root_meta: Meta) -> FileTree {
        FileTree {
            root_meta,
            root: Dir::default(),
        }
    }

    /// Adds `node` at `path` (relative to the root; a leading `/` is ignored). Missing
    /// parent directories are created with `parent_meta`.
    pub fn insert(&mut self, path: &[u8], node: Node, parent_meta: Meta) -> Result<(), TreeError> {
        let parts = components(path)?;
        let (last, parents) = parts
            .split_last()
            .ok_or_else(|| TreeError::BadName { path: show(path) })?;
        let mut dir = &mut self.root;
        for part in parents {
            let entry = dir.entries.entry(part.to_vec()).or_insert_with(|| Node {
                meta: parent_meta,
                kind: NodeKind::Dir(Dir::default()),
            });
            dir = match &mut entry.kind {
                NodeKind::Dir(d) => d,
                _ => return Err(TreeError::NotADirectory { path: show(path) }),
            };
        }
        if dir.entries.contains_key(*last) {
            return Err(TreeError::Exists { path: show(path) });
        }
        dir.entries.insert(last.to_vec(), node);
        Ok(())
    }

    /// The node at `path`, if any.
    pub fn get(&self, path: &[u8]) -> Option<&Node> {
        let parts = components(path).ok()?;
        let (last, parents) = parts.split_last()?;
        let mut dir = &self.root;
        for part in parents {
            match &dir.entries.get(*part)?.kind {
                NodeKind::Dir(d) => dir = d,
                _ => return None,
            }
        }
        dir.entries.get(*last)
    }

    /// Every entry, depth first in name order, with its full path (no leading `/`).
    pub fn walk(&self) -> Vec<(Vec<u8>, &Node)> {
        fn visit<'t>(dir: &'t Dir, prefix: &[u8], out: &mut Vec<(Vec<u8>, &'t Node)>) {
            for (name, node) in &dir.entries {
                let mut path = prefix.to_vec();
                if !path.is_empty() {
                    path.push(b'/');
                }
                path.extend_from_slice(name);
                out.push((path.clone(), node));
                if let NodeKind::Dir(sub) = &node.kind {
                    visit(sub, &path, out);
                }
            }
        }
        let mut out = Vec::new();
        visit(&self.root, b"", &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: Meta = Meta::root(0o755, 0);

    fn file(text: &str) -> Node {
        Node {
            meta: Meta::root(0o644, 0),
            kind: NodeKind::File(text.into()),
        }
    }

    #[test]
    fn insert_creates_parents_and_walks_in_order() {
        let mut tree = FileTree::new(DIR);
        tree.insert(b"/etc/rc.conf", file("x"), DIR).unwrap();
        tree.insert(b"bin/sh", file("sh"), DIR).unwrap();
        tree.insert(b"etc/fstab", file("y"), DIR).unwrap();
        let paths: Vec<String> = tree.walk().iter().map(|(p, _)| show(p)).collect();
        assert_eq!(paths, ["bin", "bin/sh", "etc", "etc/fstab", "etc/rc.conf"]);
        assert!(matches!(
            tree.get(b"etc/fstab").map(|n| &n.kind),
            Some(NodeKind::File(_))
        ));
    }

    #[test]
    fn rejects_bad_names_duplicates_and_files_as_parents() {
        let mut tree = FileTree::new(DIR);
        assert!(matches!(
            tree.insert(b"a/../b", file(""), DIR),
            Err(TreeError::BadName { .. })
        ));
        assert!(matches!(
            tree.insert(&[b'x'; 256], file(""), DIR),
            Err(TreeError::BadName { .. })
        ));
        tree.insert(b"f", file(""), DIR).unwrap();
        assert!(matches!(
            tree.insert(b"f", file(""), DIR),
            Err(TreeError::Exists { .. })
        ));
        assert!(matches!(
            tree.insert(b"f/g", file(""), DIR),
            Err(TreeError::NotADirectory { .. })
        ));
    }
}
