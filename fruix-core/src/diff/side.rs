//! One side of a comparison, whatever it was given as: a disk image (or a bare UFS2 file
//! system), a store item (its closure; an image item stands for its `disk.img`), a path
//! inside a store item, or any file or directory. Each is read once into [`Item`]s, with
//! the declaration and the image's own structures when it has them.

use super::content::{ContentHasher, ItemNames};
use super::entry::{Item, TREE_ITEM};
use super::walk::{ufs_store_items, walk_host, walk_ufs, HostMeta};
use super::DiffError;
use crate::image::esp::walk_files;
use crate::image::gpt::{self, PartitionType, Table};
use crate::image::ufs::format::Superblock;
use crate::image::ufs::Ufs;
use crate::io_error::io;
use crate::store::{ImageMeta, Store, StorePath, STORE_DIR};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The file of a system item that holds its declaration.
pub(crate) const SPEC_FILE: &str = "metadata/spec.json";
/// Files at most this large are read back for a unified diff.
const TEXT_LIMIT: u64 = 64 << 10;

/// A disk image's own structures.
#[derive(Debug, Clone, Default)]
pub(crate) struct ImageFacts {
    pub size: u64,
    pub table: Option<Table>,
    /// ESP files: path -> (length, sha256).
    pub esp: Option<BTreeMap<String, (u64, String)>>,
    pub superblock: Option<Superblock>,
}

/// Where a side's bytes are, to read small files back.
#[derive(Debug)]
enum Source {
    /// A UFS2 file system at `offset` of `file`.
    Ufs { file: File, offset: u64 },
    /// Store items in `store`.
    Store(Store),
    /// A host file or directory.
    Host(PathBuf),
}

/// One side, read.
#[derive(Debug)]
pub struct Side {
    /// What the side was given as.
    pub label: String,
    source: Source,
    pub(crate) items: Vec<Item>,
    /// The store items it holds, to read hashes in its files as names.
    pub(crate) names: ItemNames,
    pub(crate) spec: Option<serde_json::Value>,
    pub(crate) image: Option<ImageFacts>,
    /// The name of the item a closure side was given as.
    pub(crate) root: Option<String>,
}

impl Side {
    /// Opens `arg`: a store path (`/frx/store/<hash>-<name>[/path]` or `<hash>-<name>`,
    /// looked up in `store`), a disk image, a bare UFS2 image, or any file or directory.
    pub fn open(arg: &str, store: Option<&Store>) -> Result<Side, DiffError> {
        if let (Some(store), Some((item, sub))) = (store, store_path_of(arg)) {
            if store.contains(&item) {
                return Side::from_store(arg, store, &item, &sub);
            }
        }
        let path = Path::new(arg);
        let md = std::fs::symlink_metadata(path).map_err(|e| DiffError::NotFound {
            arg: arg.to_owned(),
            why: e.to_string(),
        })?;
        if md.is_file() {
            let file = File::open(path).map_err(io("opening", path))?;
            if let Some(side) = Side::from_image(arg, file)? {
                return Ok(side);
            }
        }
        Side::from_host(arg, path, HostMeta::Host)
    }

    /// The closure of `root` in `store`, as a side called `label`.
    pub fn closure(label: &str, store: &Store, root: &StorePath) -> Result<Side, DiffError> {
        let paths = store.closure(std::slice::from_ref(root))?;
        let mut names = ItemNames::default();
        for p in &paths {
            names.insert(p.hash(), p.name());
        }
        let mut items = Vec::new();
        for p in &paths {
            let record = store.record(p)?;
            let mut item = Item::new(p.name(), Some(p.logical()));
            walk_host(
                &store.physical(p),
                &HostMeta::Store(&record.image_meta),
                &names,
                &mut item,
            )?;
            items.push(item);
        }
        let mut side = Side {
            label: label.to_owned(),
            source: Source::Store(store.clone()),
            items,
            names,
            spec: None,
            image: None,
            root: Some(root.name().to_owned()),
        };
        side.spec = side.read_spec();
        Ok(side)
    }

    fn from_store(
        arg: &str,
        store: &Store,
        item: &StorePath,
        sub: &str,
    ) -> Result<Side, DiffError> {
        let dir = store.physical(item);
        if sub.is_empty() {
            let disk = dir.join("disk.img");
            if dir.join("metadata.json").is_file() && disk.is_file() {
                let file = File::open(&disk).map_err(io("opening", &disk))?;
                if let Some(side) = Side::from_image(arg, file)? {
                    return Ok(side);
                }
            }
            return Side::closure(arg, store, item);
        }
        // A path inside an item: its image metadata, re-rooted.
        let record = store.record(item)?;
        let prefix = format!("{sub}/");
        let overlay: BTreeMap<String, ImageMeta> = record
            .image_meta
            .iter()
            .filter_map(|(rel, meta)| {
                if rel == sub {
                    Some((String::new(), *meta))
                } else {
                    Some((rel.strip_prefix(&prefix)?.to_owned(), *meta))
                }
            })
            .collect();
        Side::from_host(arg, &dir.join(sub), HostMeta::Store(&overlay))
    }

    fn from_host(arg: &str, path: &Path, meta: HostMeta<'_>) -> Result<Side, DiffError> {
        let mut item = Item::new(TREE_ITEM, None);
        walk_host(path, &meta, &ItemNames::default(), &mut item)?;
        Ok(Side {
            label: arg.to_owned(),
            source: Source::Host(path.to_owned()),
            items: vec![item],
            names: ItemNames::default(),
            spec: None,
            image: None,
            root: None,
        })
    }

    /// A GPT disk image or a bare UFS2 file system; `None` when `file` is neither.
    fn from_image(arg: &str, mut file: File) -> Result<Option<Side>, DiffError> {
        let path = Path::new(arg);
        let size = file.seek(SeekFrom::End(0)).map_err(io("reading", path))?;
        let mut facts = ImageFacts {
            size,
            ..ImageFacts::default()
        };
        let root_offset = match gpt::read(&mut file) {
            Ok(read) => {
                let table = read.table;
                if let Some(esp) = table.first_of_type(PartitionType::EfiSystem) {
                    facts.esp = Some(esp_files(&file, esp.offset(), esp.size(), arg)?);
                }
                let root = table
                    .first_of_type(PartitionType::FreebsdUfs)
                    .map(|p| p.offset());
                facts.table = Some(table);
                root
            }
            Err(gpt::ReadError::Io { source, .. }) => {
                return Err(io("reading", path)(source).into())
            }
            // No partition table: perhaps a bare file system.
            Err(_) => Some(0),
        };
        let mut items = Vec::new();
        let mut names = ItemNames::default();
        if let Some(offset) = root_offset {
            match Ufs::open(&file, offset) {
                Ok(mut fs) => {
                    facts.superblock = Some(fs.sb.clone());
                    for p in ufs_store_items(&mut fs)? {
                        names.insert(p.hash(), p.name());
                    }
                    items = walk_ufs(&mut fs, &names)?;
                }
                Err(_) if facts.table.is_none() => return Ok(None),
                Err(e) => return Err(DiffError::Ufs(e)),
            }
        }
        let mut side = Side {
            label: arg.to_owned(),
            source: Source::Ufs {
                file,
                offset: root_offset.unwrap_or(0),
            },
            items,
            names,
            spec: None,
            image: Some(facts),
            root: None,
        };
        side.spec = side.read_spec();
        Ok(Some(side))
    }

    /// The declaration its system item carries, if it has one system item.
    fn read_spec(&self) -> Option<serde_json::Value> {
        let mut systems = self
            .items
            .iter()
            .filter(|i| i.name.starts_with("fruix-system-") && i.entries.contains_key(SPEC_FILE));
        let system = systems.next()?;
        if systems.next().is_some() {
            return None;
        }
        serde_json::from_slice(&self.read_small(system, SPEC_FILE)?).ok()
    }

    /// The bytes of the file `rel` of `item`, if it is at most 64 KiB.
    pub(crate) fn read_small(&self, item: &Item, rel: &str) -> Option<Vec<u8>> {
        let in_item = match &item.store_path {
            Some(p) if rel.is_empty() => p.clone(),
            Some(p) => format!("{p}/{rel}"),
            None => rel.to_owned(),
        };
        let mut out = Vec::new();
        match &self.source {
            Source::Ufs { file, offset } => {
                let mut fs = Ufs::open(file, *offset).ok()?;
                let ino = fs.lookup(in_item.as_bytes()).ok()?;
                if fs.stat(ino).ok()?.size > TEXT_LIMIT {
                    return None;
                }
                fs.read_file(ino, &mut out).ok()?;
            }
            Source::Store(store) => {
                let rel_in_store = in_item.strip_prefix(STORE_DIR)?.trim_start_matches('/');
                read_host_small(&store.dir().join(rel_in_store), &mut out)?;
            }
            Source::Host(root) => {
                let path = if rel.is_empty() {
                    root.clone()
                } else {
                    root.join(rel)
                };
                read_host_small(&path, &mut out)?;
            }
        }
        Some(out)
    }
}

fn read_host_small(path: &Path, out: &mut Vec<u8>) -> Option<()> {
    let md = std::fs::symlink_metadata(path).ok()?;
    if !md.is_file() || md.len() > TEXT_LIMIT {
        return None;
    }
    File::open(path).ok()?.read_to_end(out).ok()?;
    Some(())
}

/// `(item, path inside it)` when `arg` names a store item.
pub(crate) fn store_path_of(arg: &str) -> Option<(StorePath, String)> {
    let rest = arg
        .strip_prefix(STORE_DIR)
        .map(|r| r.trim_start_matches('/'))
        .unwrap_or(arg);
    let (base, sub) = rest.split_once('/').unwrap_or((rest, ""));
    Some((base.parse().ok()?, sub.trim_matches('/').to_owned()))
}

/// A partition of an open image as a device of its own, read-only.
struct Window<'f> {
    file: &'f File,
    start: u64,
    len: u64,
    pos: u64,
}

impl Read for Window<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let n = (buf.len() as u64).min(left) as usize;
        if n == 0 {
            return Ok(0);
        }
        let mut f = self.file;
        f.seek(SeekFrom::Start(self.start + self.pos))?;
        let n = f.read(&mut buf[..n])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Write for Window<'_> {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "the image is only read",
        ))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Seek for Window<'_> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start")
        })?;
        Ok(self.pos)
    }
}

/// The ESP's files with their lengths and hashes, streamed from the image.
fn esp_files(
    file: &File,
    start: u64,
    len: u64,
    arg: &str,
) -> Result<BTreeMap<String, (u64, String)>, DiffError> {
    let names = ItemNames::default();
    let mut files = BTreeMap::new();
    let window = Window {
        file,
        start,
        len,
        pos: 0,
    };
    walk_files(window, &mut |path, len, contents| {
        let mut hasher = ContentHasher::new(&names);
        std::io::copy(contents, &mut hasher)?;
        files.insert(path.to_owned(), (len, hasher.finish().sha256));
        Ok(())
    })
    .map_err(|source| DiffError::Esp {
        arg: arg.to_owned(),
        source,
    })?;
    Ok(files)
}
