//! A [`FileTree`] from a directory on the building host, as FreeBSD's makefs reads one:
//! owners, modes and times from the host files (times replaced by a fixed epoch when
//! given), hard links kept as hard links, contents streamed later from the host paths.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::tree::{Content, Dir, FileTree, Meta, Node, NodeKind};

#[derive(Debug, thiserror::Error)]
pub enum HostTreeError {
    #[error("`{path}`: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("`{0}` is not a directory")]
    NotADirectory(PathBuf),
}

/// Reads the tree under `root`. With `epoch`, every time is `epoch`; otherwise each file's
/// own mtime. BSD file flags do not exist on Linux and are 0.
pub fn tree_from_host(root: &Path, epoch: Option<i64>) -> Result<FileTree, HostTreeError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| HostTreeError::Io { path, source }
    };
    let md = fs::metadata(root).map_err(io_err(root))?;
    if !md.is_dir() {
        return Err(HostTreeError::NotADirectory(root.to_path_buf()));
    }
    let mut links = HashMap::new();
    let root_dir = read_dir(root, &[], epoch, &mut links)?;
    Ok(FileTree {
        root_meta: meta(&md, epoch),
        root: root_dir,
    })
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

/// Reads one directory; `rel` is its path in the tree. Entries are visited in name order,
/// depth first, so the first name of a hard-linked file is the first in
/// [`FileTree::walk`] order and later names link to it.
fn read_dir(
    dir: &Path,
    rel: &[u8],
    epoch: Option<i64>,
    links: &mut HashMap<(u64, u64), Vec<u8>>,
) -> Result<Dir, HostTreeError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| HostTreeError::Io { path, source }
    };
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        names.push(entry.map_err(io_err(dir))?.file_name());
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let mut out = Dir::default();
    for name in names {
        let path = dir.join(&name);
        let mut trel = rel.to_vec();
        if !trel.is_empty() {
            trel.push(b'/');
        }
        trel.extend_from_slice(name.as_bytes());
        let md = fs::symlink_metadata(&path).map_err(io_err(&path))?;
        let ft = md.file_type();
        if !ft.is_dir() && md.nlink() > 1 {
            if let Some(first) = links.get(&(md.dev(), md.ino())) {
                let node = Node {
                    meta: meta(&md, epoch),
                    kind: NodeKind::HardLink(first.clone()),
                };
                out.entries.insert(name.as_bytes().to_vec(), node);
                continue;
            }
            links.insert((md.dev(), md.ino()), trel.clone());
        }
        let kind = if ft.is_dir() {
            NodeKind::Dir(read_dir(&path, &trel, epoch, links)?)
        } else if ft.is_file() {
            NodeKind::File(Content::Host {
                path: path.clone(),
                len: md.len(),
            })
        } else if ft.is_symlink() {
            let target = fs::read_link(&path).map_err(io_err(&path))?;
            NodeKind::Symlink(target.as_os_str().as_bytes().to_vec())
        } else if ft.is_char_device() {
            NodeKind::CharDevice {
                rdev: freebsd_rdev(md.rdev()),
            }
        } else if ft.is_block_device() {
            NodeKind::BlockDevice {
                rdev: freebsd_rdev(md.rdev()),
            }
        } else if ft.is_fifo() {
            NodeKind::Fifo
        } else {
            NodeKind::Socket
        };
        out.entries.insert(
            name.as_bytes().to_vec(),
            Node {
                meta: meta(&md, epoch),
                kind,
            },
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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
