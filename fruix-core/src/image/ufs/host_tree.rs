//! A [`FileTree`] from a directory on the building host, as FreeBSD's makefs reads one:
//! owners, modes and times from the host files (times replaced by a fixed epoch when
//! given), hard links kept as hard links, contents streamed later from the host paths.

use std::collections::HashMap;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use crate::io_error::{io, IoError};
use crate::tree::{Content, Dir, FileTree, Meta, Node, NodeKind};

#[derive(Debug, thiserror::Error)]
/// Why a host directory could not be read into a tree.
pub enum HostTreeError {
    #[error(transparent)]
    /// A file or directory of the host tree could not be read.
    Io(#[from] IoError),
    #[error("`{0}` is not a directory")]
    /// The given root (the argument) is not a directory.
    NotADirectory(PathBuf),
}

/// Reads the tree under `root`. With `epoch`, every time is `epoch`; otherwise each file's
/// own mtime. BSD file flags do not exist on Linux and are 0.
///
/// Directories are read by a few threads (stat calls dominate); the result does not
/// depend on their timing: entries are sorted, and of the names of a hard-linked file the
/// first in [`FileTree::walk`] order keeps the file, the later ones link to it.
pub fn tree_from_host(root: &Path, epoch: Option<i64>) -> Result<FileTree, HostTreeError> {
    let md = fs::metadata(root).map_err(io("reading", root))?;
    if !md.is_dir() {
        return Err(HostTreeError::NotADirectory(root.to_path_buf()));
    }
    let (mut dirs, mut links) = read_all(root, epoch)?;
    let mut tree = FileTree {
        root_meta: meta(&md, epoch),
        root: assemble(Vec::new(), &mut dirs),
    };
    // Component-wise order of paths is the walk order.
    links.sort_by(|a, b| a.0.split(|c| *c == b'/').cmp(b.0.split(|c| *c == b'/')));
    let mut first: HashMap<(u64, u64), Vec<u8>> = HashMap::new();
    for (path, id) in links {
        match first.get(&id) {
            Some(target) => {
                if let Some(node) = node_mut(&mut tree.root, &path) {
                    node.kind = NodeKind::HardLink(target.clone());
                }
            }
            None => {
                first.insert(id, path);
            }
        }
    }
    Ok(tree)
}

/// Directories by tree path, their subdirectories still empty.
type Dirs = HashMap<Vec<u8>, Dir>;
/// Files with more than one link: tree path and (device, inode).
type Links = Vec<(Vec<u8>, (u64, u64))>;

#[derive(Default)]
struct Work {
    queue: Vec<(Vec<u8>, PathBuf)>,
    active: usize,
    dirs: Dirs,
    links: Links,
    error: Option<HostTreeError>,
}

/// Reads every directory under `root` with a few threads sharing a queue.
fn read_all(root: &Path, epoch: Option<i64>) -> Result<(Dirs, Links), HostTreeError> {
    let work = Mutex::new(Work {
        queue: vec![(Vec::new(), root.to_path_buf())],
        ..Work::default()
    });
    let wake = Condvar::new();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| worker(&work, &wake, epoch));
        }
    });
    let work = work
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    match work.error {
        Some(e) => Err(e),
        None => Ok((work.dirs, work.links)),
    }
}

fn worker(work: &Mutex<Work>, wake: &Condvar, epoch: Option<i64>) {
    let lock = || work.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    loop {
        let (rel, abs) = {
            let mut w = lock();
            loop {
                if w.error.is_some() {
                    return;
                }
                if let Some(job) = w.queue.pop() {
                    w.active += 1;
                    break job;
                }
                if w.active == 0 {
                    wake.notify_all();
                    return;
                }
                w = wake
                    .wait(w)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        };
        let result = read_dir(&abs, &rel, epoch);
        let mut w = lock();
        w.active -= 1;
        match result {
            Ok((dir, subdirs, links)) => {
                w.dirs.insert(rel, dir);
                w.queue.extend(subdirs);
                w.links.extend(links);
            }
            Err(e) => {
                w.error.get_or_insert(e);
            }
        }
        wake.notify_all();
    }
}

/// Directory `rel` with its subdirectories filled in from `dirs`.
fn assemble(rel: Vec<u8>, dirs: &mut Dirs) -> Dir {
    let mut dir = dirs.remove(&rel).unwrap_or_default();
    for (name, node) in dir.entries.iter_mut() {
        if let NodeKind::Dir(sub) = &mut node.kind {
            *sub = assemble(join(&rel, name), dirs);
        }
    }
    dir
}

fn node_mut<'t>(dir: &'t mut Dir, path: &[u8]) -> Option<&'t mut Node> {
    let (name, parent) = match path.iter().rposition(|c| *c == b'/') {
        Some(i) => (&path[i + 1..], Some(&path[..i])),
        None => (path, None),
    };
    let mut dir = dir;
    if let Some(parent) = parent {
        for part in parent.split(|c| *c == b'/') {
            match &mut dir.entries.get_mut(part)?.kind {
                NodeKind::Dir(d) => dir = d,
                _ => return None,
            }
        }
    }
    dir.entries.get_mut(name)
}

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = dir.to_vec();
    if !p.is_empty() {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

fn meta(md: &fs::Metadata, epoch: Option<i64>) -> Meta {
    Meta {
        uid: md.uid(),
        gid: md.gid(),
        perm: (md.mode() & 0o7777) as u16,
        flags: 0,
        mtime: epoch.unwrap_or(md.mtime()),
    }
}

/// Linux's `dev_t` (glibc encoding) as FreeBSD's (`makedev` in sys/types.h).
pub fn freebsd_rdev(linux: u64) -> u64 {
    let major = ((linux >> 8) & 0xfff) | ((linux >> 32) & !0xfff);
    let minor = (linux & 0xff) | ((linux >> 12) & !0xff);
    ((major & 0xffff_ff00) << 32)
        | ((major & 0xff) << 8)
        | ((minor & 0xff00) << 24)
        | (minor & 0xffff_00ff)
}

/// The building host's device number as FreeBSD encodes it: a FreeBSD host's as it is,
/// any other's read as Linux's.
fn host_rdev(rdev: u64) -> u64 {
    if cfg!(target_os = "freebsd") {
        rdev
    } else {
        freebsd_rdev(rdev)
    }
}

/// Reads one directory (`rel` is its path in the tree): its entries, subdirectories left
/// empty and returned to be read, and its multiply-linked files.
#[allow(clippy::type_complexity)]
fn read_dir(
    dir: &Path,
    rel: &[u8],
    epoch: Option<i64>,
) -> Result<(Dir, Vec<(Vec<u8>, PathBuf)>, Links), HostTreeError> {
    let mut out = Dir::default();
    let (mut subdirs, mut links) = (Vec::new(), Vec::new());
    for entry in fs::read_dir(dir).map_err(io("listing", dir))? {
        let entry = entry.map_err(io("listing", dir))?;
        let name = entry.file_name();
        let path = dir.join(&name);
        let trel = join(rel, name.as_bytes());
        // Relative to the open directory (fstatat), not a walk of the whole path; like
        // lstat, it does not follow symlinks.
        let md = entry.metadata().map_err(io("reading", &path))?;
        let ft = md.file_type();
        if !ft.is_dir() && md.nlink() > 1 {
            links.push((trel.clone(), (md.dev(), md.ino())));
        }
        let kind = if ft.is_dir() {
            subdirs.push((trel, path.clone()));
            NodeKind::Dir(Dir::default())
        } else if ft.is_file() {
            NodeKind::File(Content::Host {
                path: path.clone(),
                len: md.len(),
            })
        } else if ft.is_symlink() {
            let target = fs::read_link(&path).map_err(io("reading link", &path))?;
            NodeKind::Symlink(target.as_os_str().as_bytes().to_vec())
        } else if ft.is_char_device() {
            NodeKind::CharDevice {
                rdev: host_rdev(md.rdev()),
            }
        } else if ft.is_block_device() {
            NodeKind::BlockDevice {
                rdev: host_rdev(md.rdev()),
            }
        } else if ft.is_fifo() {
            NodeKind::Fifo
        } else {
            NodeKind::Socket
        };
        let node = Node {
            meta: meta(&md, epoch),
            kind,
        };
        out.entries.insert(name.as_bytes().to_vec(), node);
    }
    Ok((out, subdirs, links))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_tree_with_hard_links_in_walk_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for d in ["b/c", "a-z", "a"] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        fs::write(root.join("b/c/file"), "data").unwrap();
        for link in ["a-z/l1", "a/l2", "b/l3"] {
            fs::hard_link(root.join("b/c/file"), root.join(link)).unwrap();
        }
        std::os::unix::fs::symlink("b/c/file", root.join("sym")).unwrap();
        let tree = tree_from_host(root, Some(7)).unwrap();
        let kinds: Vec<(String, String)> = tree
            .walk()
            .iter()
            .map(|(p, n)| {
                let k = match &n.kind {
                    NodeKind::Dir(_) => "dir".to_string(),
                    NodeKind::File(c) => format!("file {}", c.len()),
                    NodeKind::HardLink(t) => format!("link {}", String::from_utf8_lossy(t)),
                    NodeKind::Symlink(t) => format!("symlink {}", String::from_utf8_lossy(t)),
                    k => format!("{k:?}"),
                };
                (String::from_utf8_lossy(p).into_owned(), k)
            })
            .collect();
        let expect = [
            ("a", "dir"),
            ("a/l2", "file 4"),
            ("a-z", "dir"),
            ("a-z/l1", "link a/l2"),
            ("b", "dir"),
            ("b/c", "dir"),
            ("b/c/file", "link a/l2"),
            ("b/l3", "link a/l2"),
            ("sym", "symlink b/c/file"),
        ];
        let expect: Vec<(String, String)> = expect
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(kinds, expect);
        assert!(tree.walk().iter().all(|(_, n)| n.meta.mtime == 7));
    }

    #[test]
    fn device_numbers_convert() {
        // Linux makedev(1, 3) (/dev/null) is 0x103; FreeBSD's makedev(1, 3) is 0x103 too.
        assert_eq!(freebsd_rdev(0x103), 0x103);
        // Large minors move: Linux puts minor bits 8.. at 20..; FreeBSD at 24.. (high part).
        let linux = (5 << 8) | 0x12 | (0x345 << 20);
        assert_eq!(
            freebsd_rdev(linux),
            (5 << 8) | 0x12 | (0x4500 << 24) | 0x0003_0000
        );
    }
}
