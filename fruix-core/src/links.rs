//! Following symbolic links the way the kernel does, inside a tree that is not the
//! building host's: a store item's directory, the store seen at its logical `/frx/store`,
//! or a UFS2 image. One algorithm over a small [`LinkTree`] trait, so that every place
//! that follows a link inside something it did not make follows it the same way.
//!
//! Paths are followed component by component: relative targets continue from the link's
//! directory, absolute ones from the tree's root, `..` climbs the directories actually
//! walked (a link's target, not its name) and stops at the root, and at most
//! [`MAX_LINK_HOPS`] links are followed. Nothing outside the tree can be reached: a tree
//! only answers for its own entries.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Links followed in one resolution before giving up, like the kernel's loop limit.
pub const MAX_LINK_HOPS: usize = 32;

/// What an entry is, as far as resolution cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    /// A directory: resolution can descend into it.
    Dir,
    /// A symbolic link: resolution follows it.
    Symlink,
    /// A regular file, a device, anything that has no entries of its own.
    Other,
}

/// A tree whose symbolic links can be followed.
pub trait LinkTree {
    /// A handle on one entry (a host path, an inode number).
    type Node: Clone;
    /// What reading the tree can fail with.
    type Error;
    /// The root directory.
    fn root(&mut self) -> Result<Self::Node, Self::Error>;
    /// The entry `name` (never empty, `.`, `..` or containing `/`) of directory `dir`,
    /// with its type; `None` when there is none.
    fn child(
        &mut self,
        dir: &Self::Node,
        name: &[u8],
    ) -> Result<Option<(Self::Node, EntryType)>, Self::Error>;
    /// The target of symbolic link `link`.
    fn read_link(&mut self, link: &Self::Node) -> Result<Vec<u8>, Self::Error>;
}

/// Why a path does not resolve.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError<E> {
    /// A component of the path (given, as resolved so far) does not exist.
    #[error("`{0}` not found")]
    NotFound(String),
    /// A component other than the last is not a directory.
    #[error("`{0}` is not a directory")]
    NotADirectory(String),
    /// The links loop, or chain more than [`MAX_LINK_HOPS`] deep.
    #[error("more than {MAX_LINK_HOPS} symbolic links")]
    TooManyLinks,
    /// The tree itself could not be read.
    #[error("{0}")]
    Tree(E),
}

/// The entry `path` names in `tree`, every link followed (the last one too), with its type.
pub fn resolve<T: LinkTree>(
    tree: &mut T,
    path: &[u8],
) -> Result<(T::Node, EntryType), ResolveError<T::Error>> {
    let components = |p: &[u8]| -> Vec<Vec<u8>> {
        p.split(|b| *b == b'/')
            .filter(|c| !c.is_empty() && *c != b".")
            .rev()
            .map(<[u8]>::to_vec)
            .collect()
    };
    let mut todo = components(path);
    let root = tree.root().map_err(ResolveError::Tree)?;
    let mut walked: Vec<(T::Node, EntryType)> = vec![(root, EntryType::Dir)];
    let mut hops = 0;
    while let Some(part) = todo.pop() {
        if part == b".." {
            if walked.len() > 1 {
                walked.pop();
            }
            continue;
        }
        let name = || String::from_utf8_lossy(&part).into_owned();
        let Some((dir, kind)) = walked.last() else {
            return Err(ResolveError::NotFound(name()));
        };
        if *kind != EntryType::Dir {
            return Err(ResolveError::NotADirectory(name()));
        }
        let (node, kind) = tree
            .child(dir, &part)
            .map_err(ResolveError::Tree)?
            .ok_or_else(|| ResolveError::NotFound(name()))?;
        if kind == EntryType::Symlink {
            hops += 1;
            if hops > MAX_LINK_HOPS {
                return Err(ResolveError::TooManyLinks);
            }
            let target = tree.read_link(&node).map_err(ResolveError::Tree)?;
            if target.starts_with(b"/") {
                walked.truncate(1);
            }
            todo.extend(components(&target));
        } else {
            walked.push((node, kind));
        }
    }
    walked
        .pop()
        .ok_or_else(|| ResolveError::NotFound(String::from_utf8_lossy(path).into_owned()))
}

/// A directory of the building host taken as a root: links never leave it.
#[derive(Debug, Clone)]
pub struct HostTree<'a>(pub &'a Path);

/// The entry `name` of the host directory `dir`, with its type (not following a link).
pub(crate) fn host_child(dir: &Path, name: &[u8]) -> io::Result<Option<(PathBuf, EntryType)>> {
    let path = dir.join(OsStr::from_bytes(name));
    match std::fs::symlink_metadata(&path) {
        Ok(md) => {
            let kind = if md.file_type().is_symlink() {
                EntryType::Symlink
            } else if md.is_dir() {
                EntryType::Dir
            } else {
                EntryType::Other
            };
            Ok(Some((path, kind)))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

impl LinkTree for HostTree<'_> {
    type Node = PathBuf;
    type Error = io::Error;
    fn root(&mut self) -> io::Result<PathBuf> {
        Ok(self.0.to_path_buf())
    }
    fn child(&mut self, dir: &PathBuf, name: &[u8]) -> io::Result<Option<(PathBuf, EntryType)>> {
        host_child(dir, name)
    }
    fn read_link(&mut self, link: &PathBuf) -> io::Result<Vec<u8>> {
        Ok(std::fs::read_link(link)?
            .into_os_string()
            .into_encoded_bytes())
    }
}

/// The regular file at `rel` under the host directory `root`, links followed only within
/// `root` (absolute targets from `root`, as they resolve when `root` is a system's root);
/// `None` when it is missing, not a regular file, or reachable only by leaving `root`.
pub fn file_within(root: &Path, rel: &str) -> Option<PathBuf> {
    let (path, _) = resolve(&mut HostTree(root), rel.as_bytes()).ok()?;
    std::fs::symlink_metadata(&path)
        .is_ok_and(|m| m.is_file())
        .then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("usr/share/zoneinfo/Etc")).unwrap();
        std::fs::write(root.join("usr/share/zoneinfo/Etc/UTC"), b"utc").unwrap();
        symlink("Etc/UTC", root.join("usr/share/zoneinfo/UTC")).unwrap();
        symlink("/usr/share", root.join("share")).unwrap();
        symlink("../../../../../../etc/passwd", root.join("up")).unwrap();
        symlink("loop", root.join("loop")).unwrap();
        symlink("usr/share/zoneinfo/Etc/UTC", root.join("file")).unwrap();
        dir
    }

    #[test]
    fn relative_absolute_and_dotdot_targets_resolve_inside_the_root() {
        let dir = tree();
        let root = dir.path();
        let utc = root.join("usr/share/zoneinfo/Etc/UTC");
        assert_eq!(
            file_within(root, "usr/share/zoneinfo/UTC"),
            Some(utc.clone())
        );
        assert_eq!(file_within(root, "share/zoneinfo/UTC"), Some(utc.clone()));
        assert_eq!(
            file_within(root, "share/../share/./zoneinfo/UTC"),
            Some(utc)
        );
    }

    #[test]
    fn nothing_outside_the_root_is_reached() {
        let dir = tree();
        let root = dir.path();
        // `..` stops at the root: the host's /etc/passwd is never what `up` names.
        assert!(matches!(
            resolve(&mut HostTree(root), b"up"),
            Err(ResolveError::NotFound(name)) if name == "etc"
        ));
        assert_eq!(file_within(root, "../../etc/passwd"), None);
        assert!(matches!(
            resolve(&mut HostTree(root), b"loop"),
            Err(ResolveError::TooManyLinks)
        ));
        assert!(matches!(
            resolve(&mut HostTree(root), b"file/x"),
            Err(ResolveError::NotADirectory(name)) if name == "x"
        ));
        assert_eq!(
            file_within(root, "usr/share"),
            None,
            "a directory is no file"
        );
    }
}
