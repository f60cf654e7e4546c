//! Turning trees into [`Item`]s: a UFS2 root read in place (split into its store items and
//! the rest), or directories of the building host (store items with their recorded image
//! metadata, or any directory with its own). File contents stream through
//! [`ContentHasher`]; nothing is kept but hashes.

use super::content::{ContentHasher, ItemNames};
use super::entry::{Body, Entry, Item, ROOT_FS_ITEM};
use super::DiffError;
use crate::image::ufs::{FileType, Ufs};
use crate::io_error::io;
use crate::store::{hash::default_meta, hash::EntryKind, ImageMeta, StorePath, STORE_DIR};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io::{Read, Seek};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// The store items an image's `/frx/store` holds, by directory name.
pub(crate) fn ufs_store_items<R: Read + Seek>(
    fs: &mut Ufs<R>,
) -> Result<Vec<StorePath>, DiffError> {
    let Ok(ino) = fs.lookup(STORE_DIR.as_bytes()) else {
        return Ok(Vec::new());
    };
    let mut items: Vec<StorePath> = fs
        .read_dir(ino)
        .map_err(DiffError::Ufs)?
        .iter()
        .filter_map(|e| std::str::from_utf8(&e.name).ok()?.parse().ok())
        .collect();
    items.sort();
    Ok(items)
}

/// Reads a whole UFS2 root: one item per store item, plus [`ROOT_FS_ITEM`] for the rest.
pub(crate) fn walk_ufs<R: Read + Seek>(
    fs: &mut Ufs<R>,
    names: &ItemNames,
) -> Result<Vec<Item>, DiffError> {
    let mut walk = UfsWalk {
        fs,
        names,
        items: vec![Item::new(ROOT_FS_ITEM, None)],
        links: HashMap::new(),
    };
    let root = u64::from(crate::image::ufs::format::ROOTINO);
    walk.entry(root, 0, String::new())?;
    Ok(walk.items)
}

struct UfsWalk<'a, R> {
    fs: &'a mut Ufs<R>,
    names: &'a ItemNames,
    items: Vec<Item>,
    /// Files with several names, read once.
    links: HashMap<u64, (Entry, BTreeSet<String>)>,
}

impl<R: Read + Seek> UfsWalk<'_, R> {
    /// Records inode `ino` at `rel` inside item `item`, and what lies below it.
    fn entry(&mut self, ino: u64, item: usize, rel: String) -> Result<(), DiffError> {
        let st = self.fs.stat(ino).map_err(DiffError::Ufs)?;
        if let Some((entry, refs)) = self.links.get(&ino) {
            let (entry, refs) = (entry.clone(), refs.clone());
            self.items[item].add(rel, entry, refs);
            return Ok(());
        }
        let mut refs = BTreeSet::new();
        let body = match st.ftype {
            FileType::Dir => Body::Dir,
            FileType::File => {
                let mut hasher = ContentHasher::new(self.names);
                self.fs
                    .read_file(ino, &mut hasher)
                    .map_err(DiffError::Ufs)?;
                let hashed = hasher.finish();
                refs = hashed.refs.clone();
                Body::File(hashed)
            }
            FileType::Symlink => {
                let target = self.fs.read_link(ino).map_err(DiffError::Ufs)?;
                symlink(self.names, &target, &mut refs)
            }
            FileType::Char | FileType::Block => Body::Device {
                block: st.ftype == FileType::Block,
                rdev: st.rdev,
            },
            FileType::Fifo => Body::Fifo,
            FileType::Socket => Body::Socket,
            FileType::Unknown => {
                return Err(DiffError::Ufs(crate::image::ufs::ReadError::Corrupt {
                    ino,
                    what: "unknown file type".into(),
                }))
            }
        };
        let entry = Entry {
            uid: st.uid,
            gid: st.gid,
            perm: st.perm,
            flags: st.flags,
            body,
        };
        if st.ftype != FileType::Dir && st.nlink > 1 {
            self.links.insert(ino, (entry.clone(), refs.clone()));
        }
        let is_dir = st.ftype == FileType::Dir;
        let full = if item == 0 {
            rel.clone()
        } else {
            String::new()
        };
        self.items[item].add(rel.clone(), entry, refs);
        if !is_dir {
            return Ok(());
        }
        let mut children = self.fs.read_dir(ino).map_err(DiffError::Ufs)?;
        children.retain(|e| e.name != b"." && e.name != b"..");
        children.sort_by(|a, b| a.name.cmp(&b.name));
        let in_store = item == 0 && format!("/{full}") == STORE_DIR;
        for child in children {
            let name = String::from_utf8_lossy(&child.name).into_owned();
            let child_rel = join(&rel, &name);
            match in_store.then(|| name.parse::<StorePath>()) {
                Some(Ok(path)) => {
                    self.items
                        .push(Item::new(path.name(), Some(path.logical())));
                    let index = self.items.len() - 1;
                    self.entry(child.ino, index, String::new())?;
                }
                _ => self.entry(child.ino, item, child_rel)?,
            }
        }
        Ok(())
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

fn symlink(names: &ItemNames, target: &[u8], refs: &mut BTreeSet<String>) -> Body {
    let (normalized, found) = names.normalize(target);
    refs.extend(found);
    Body::Symlink {
        target: String::from_utf8_lossy(target).into_owned(),
        normalized: String::from_utf8_lossy(&normalized).into_owned(),
    }
}

/// Where a host tree's image metadata comes from.
pub(crate) enum HostMeta<'a> {
    /// A store item: its recorded image metadata, the store's defaults for the rest.
    Store(&'a BTreeMap<String, ImageMeta>),
    /// Any directory: owners, modes and flags as the host has them.
    Host,
}

/// Reads the host tree at `root` (a directory, a file or a link) into `item`.
pub(crate) fn walk_host(
    root: &Path,
    meta: &HostMeta<'_>,
    names: &ItemNames,
    item: &mut Item,
) -> Result<(), DiffError> {
    let mut todo = vec![String::new()];
    while let Some(rel) = todo.pop() {
        let path = if rel.is_empty() {
            root.to_owned()
        } else {
            root.join(&rel)
        };
        let md = fs::symlink_metadata(&path).map_err(io("reading", &path))?;
        let ft = md.file_type();
        let mut refs = BTreeSet::new();
        let (body, kind) = if ft.is_dir() {
            let mut names: Vec<String> = Vec::new();
            for e in fs::read_dir(&path).map_err(io("listing", &path))? {
                let e = e.map_err(io("listing", &path))?;
                names.push(e.file_name().to_string_lossy().into_owned());
            }
            names.sort();
            todo.extend(names.iter().rev().map(|n| join(&rel, n)));
            (Body::Dir, EntryKind::Dir)
        } else if ft.is_symlink() {
            let target = fs::read_link(&path).map_err(io("reading link", &path))?;
            let target = target.into_os_string().into_encoded_bytes();
            (symlink(names, &target, &mut refs), EntryKind::Symlink)
        } else if ft.is_file() {
            let mut hasher = ContentHasher::new(names);
            let mut file = fs::File::open(&path).map_err(io("opening", &path))?;
            std::io::copy(&mut file, &mut hasher).map_err(io("reading", &path))?;
            let hashed = hasher.finish();
            refs = hashed.refs.clone();
            let exec = md.mode() & 0o111 != 0;
            (Body::File(hashed), EntryKind::File { exec })
        } else {
            let body = if ft.is_block_device() || ft.is_char_device() {
                Body::Device {
                    block: ft.is_block_device(),
                    rdev: md.rdev(),
                }
            } else if ft.is_fifo() {
                Body::Fifo
            } else {
                Body::Socket
            };
            (body, EntryKind::File { exec: false })
        };
        let image = match meta {
            HostMeta::Store(overlay) => overlay
                .get(&rel)
                .copied()
                .unwrap_or_else(|| default_meta(kind)),
            HostMeta::Host => ImageMeta {
                uid: md.uid(),
                gid: md.gid(),
                perm: (md.mode() & 0o7777) as u16,
                flags: 0,
            },
        };
        let entry = Entry {
            uid: image.uid,
            gid: image.gid,
            perm: image.perm,
            flags: image.flags,
            body,
        };
        item.add(rel, entry, refs);
    }
    Ok(())
}
