//! The sealed layout: inode numbers, sizes, link counts and every block address, computed
//! from a [`FileTree`] before a byte is written.
//!
//! Inodes are numbered depth first, a directory's entries together in name order (root is
//! 2). Data is allocated in inode order from the start of the file system: each file's full
//! blocks, then its fragment tail, then its indirect blocks; tails share partially used
//! blocks (best fit). So the writer can stream contents in nearly increasing addresses and
//! the image is as small as the data allows.

use std::collections::HashMap;

use super::alloc::{blocks_needed, Allocator, Demand, Extent, NoSpace};
use super::dir::{self, EntryIn};
use super::format::*;
use super::geometry::{max_file_size, Geometry, GeometryError, Params};
use crate::tree::{Content, Dir, FileTree, Meta, Node, NodeKind};

/// How to build the file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UfsOptions {
    /// Size in bytes; `None` for the smallest size that holds the tree.
    pub size: Option<u64>,
    /// Volume label (`/dev/ufs/LABEL`): at most 31 bytes of `A-Za-z0-9._-`.
    pub label: Option<String>,
    /// Superblock and group timestamps; `None` for the newest mtime in the tree.
    pub time: Option<i64>,
    /// Geometry tunables (newfs's defaults).
    pub params: Params,
    /// Superblock, cylinder-group and inode check-hashes, on by default as newfs does.
    pub check_hashes: bool,
}

impl Default for UfsOptions {
    fn default() -> Self {
        UfsOptions {
            size: None,
            label: None,
            time: None,
            params: Params::default(),
            check_hashes: true,
        }
    }
}

/// Why a tree cannot be laid out.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("`{path}`: bad name (empty, `.`, `..`, longer than 255 bytes, or holds `/` or NUL)")]
    /// A path component is not a name UFS can store.
    BadName {
        /// The tree path at fault.
        path: String,
    },
    #[error("hard link `{path}` -> `{target}`: {reason}")]
    /// A hard link whose target is missing, not a file, or itself a link.
    HardLink {
        /// The link's path.
        path: String,
        /// The path it names.
        target: String,
        /// Why the link cannot be made.
        reason: &'static str,
    },
    #[error("`{path}`: more than 32767 links")]
    /// A file has more names than a UFS2 link count holds (32767).
    TooManyLinks {
        /// The file's path.
        path: String,
    },
    #[error("`{path}`: {size} bytes is larger than the largest UFS2 file ({max} bytes)")]
    /// A file is larger than UFS2 can address with this block size.
    FileTooLarge {
        /// The file's path.
        path: String,
        /// Its size in bytes.
        size: u64,
        /// The largest file, in bytes, this geometry can hold.
        max: u64,
    },
    #[error("label `{0}`: at most 31 bytes of letters, digits, `.`, `_` and `-`")]
    /// The volume label is too long or has characters `/dev/ufs/` cannot name.
    BadLabel(String),
    #[error("the tree needs {needed} bytes but the file system is {given} bytes")]
    /// The requested size cannot hold the tree (`needed` is the smallest that can, in bytes).
    TooSmall {
        /// Bytes the tree needs.
        needed: u64,
        /// Bytes requested.
        given: u64,
    },
    #[error(transparent)]
    /// No geometry exists for the size and parameters.
    Geometry(#[from] GeometryError),
}

/// What an inode is, borrowed from the tree.
#[derive(Debug, Clone, Copy)]
pub enum Kind<'t> {
    /// A directory and its entries.
    Dir(&'t Dir),
    /// A regular file and where its bytes come from.
    File(&'t Content),
    /// A symbolic link's target bytes.
    Symlink(&'t [u8]),
    /// A character device and its device number.
    Char(u64),
    /// A block device and its device number.
    Block(u64),
    /// A named pipe.
    Fifo,
    /// A local-domain socket.
    Socket,
}

impl Kind<'_> {
    /// The inode mode's type bits (`IFDIR`, `IFREG`, ...).
    pub fn ifmt(&self) -> u16 {
        match self {
            Kind::Dir(_) => IFDIR,
            Kind::File(_) => IFREG,
            Kind::Symlink(_) => IFLNK,
            Kind::Char(_) => IFCHR,
            Kind::Block(_) => IFBLK,
            Kind::Fifo => IFIFO,
            Kind::Socket => IFSOCK,
        }
    }
}

/// One inode of the layout.
#[derive(Debug, Clone)]
pub struct InodePlan<'t> {
    /// What the inode is.
    pub kind: Kind<'t>,
    /// Owner, mode and times.
    pub meta: Meta,
    /// Link count: entries naming it (plus `.` and subdirectories' `..` for directories).
    pub nlink: u32,
    /// Parent directory's inode (directories only; the root's is itself).
    pub parent: u32,
    /// Entry inode numbers, in the directory's name order (directories only).
    pub children: Vec<u32>,
    /// Size in bytes (`di_size`).
    pub size: u64,
    /// Full data blocks, in file order.
    pub data: Vec<Extent>,
    /// The fragment run holding the last partial block (files under 12 blocks).
    pub tail: Option<(u64, u64)>,
    /// Indirect blocks, in the order the writer fills them (children before parents).
    pub indirect: Vec<Extent>,
    /// Allocated space in 512-byte units.
    pub blocks512: u64,
}

impl InodePlan<'_> {
    /// Whether the inode keeps its data inside itself (short symlinks).
    pub fn is_inline(&self) -> bool {
        matches!(self.kind, Kind::Symlink(_)) && self.size < MAXSYMLINKLEN
    }
}

/// The complete layout of one UFS2 file system.
#[derive(Debug, Clone)]
pub struct UfsLayout<'t> {
    /// The file system's geometry.
    pub geometry: Geometry,
    /// Inode plans; index `i` is inode `i + 2`.
    pub inodes: Vec<InodePlan<'t>>,
    pub(crate) volname: [u8; 32],
    pub(crate) time: i64,
    pub(crate) id: [i32; 2],
    pub(crate) check_hashes: bool,
    /// Bytes the target range spans (the requested size, or the computed minimum).
    pub size_bytes: u64,
}

/// The smallest size in bytes that holds `tree` with `opts` (ignoring `opts.size`).
pub fn min_size(tree: &FileTree, opts: &UfsOptions) -> Result<u64, PlanError> {
    let inodes = number(tree, &opts.params)?;
    let demands = demands(&inodes, &opts.params)?;
    search_min_size(&demands, inodes.len() as u64, &opts.params)
}

impl<'t> UfsLayout<'t> {
    /// Lays out `tree`: everything but the file contents' bytes is decided here.
    pub fn plan(tree: &'t FileTree, opts: &UfsOptions) -> Result<UfsLayout<'t>, PlanError> {
        let volname = volname(opts.label.as_deref())?;
        let mut inodes = number(tree, &opts.params)?;
        let demands = demands(&inodes, &opts.params)?;
        let size_bytes = match opts.size {
            Some(given) => {
                let fits = Geometry::new(given, &opts.params)
                    .ok()
                    .filter(|g| allocate(g, &demands, inodes.len() as u64, |_, _| {}).is_ok());
                if fits.is_none() {
                    let needed = search_min_size(&demands, inodes.len() as u64, &opts.params)?;
                    return Err(PlanError::TooSmall { needed, given });
                }
                given
            }
            None => search_min_size(&demands, inodes.len() as u64, &opts.params)?,
        };
        let geometry = Geometry::new(size_bytes, &opts.params)?;
        allocate(&geometry, &demands, inodes.len() as u64, |i, a| {
            let p = &mut inodes[i];
            p.data = a.data;
            p.tail = a.tail;
            p.indirect = a.indirect;
            p.blocks512 = a.frags * (geometry.fsize / 512);
        })
        .map_err(|_| PlanError::TooSmall {
            needed: size_bytes,
            given: size_bytes,
        })?;
        let time = opts
            .time
            .unwrap_or_else(|| inodes.iter().map(|p| p.meta.mtime).max().unwrap_or(0));
        let id = fs_id(time, inodes.len() as u64, &volname, size_bytes);
        Ok(UfsLayout {
            geometry,
            inodes,
            volname,
            time,
            id,
            check_hashes: opts.check_hashes,
            size_bytes,
        })
    }

    /// The plan of inode `ino`.
    pub fn inode(&self, ino: u32) -> Option<&InodePlan<'t>> {
        self.inodes.get(ino.checked_sub(ROOTINO)? as usize)
    }

    /// The generation number of inode `ino`: fixed per file system, never zero.
    pub(crate) fn generation(&self, ino: u32) -> u32 {
        let mut x =
            (u64::from(self.id[0] as u32) << 32 | u64::from(self.id[1] as u32)) ^ u64::from(ino);
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((x ^ (x >> 31)) as u32) | 1
    }
}

fn volname(label: Option<&str>) -> Result<[u8; 32], PlanError> {
    let mut out = [0u8; 32];
    if let Some(l) = label {
        if !fruix_spec::geometry::is_ufs_volume_label(l) {
            return Err(PlanError::BadLabel(l.to_string()));
        }
        out[..l.len()].copy_from_slice(l.as_bytes());
    }
    Ok(out)
}

/// A fixed, non-zero file-system id derived from what defines the image.
fn fs_id(time: i64, ninodes: u64, volname: &[u8; 32], size: u64) -> [i32; 2] {
    let mut seed = Vec::new();
    seed.extend_from_slice(&time.to_le_bytes());
    seed.extend_from_slice(&ninodes.to_le_bytes());
    seed.extend_from_slice(volname);
    seed.extend_from_slice(&size.to_le_bytes());
    let a = crc32c::crc32c(&seed) | 1;
    let b = crc32c::crc32c_append(a, &seed) | 1;
    [a as i32, b as i32]
}

fn show(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = dir.to_vec();
    if !p.is_empty() {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

fn blank<'t>(kind: Kind<'t>, meta: Meta, size: u64) -> InodePlan<'t> {
    InodePlan {
        kind,
        meta,
        nlink: 1,
        parent: 0,
        children: Vec::new(),
        size,
        data: Vec::new(),
        tail: None,
        indirect: Vec::new(),
        blocks512: 0,
    }
}

/// Numbers the inodes, resolves hard links, counts links and sizes every inode.
fn number<'t>(tree: &'t FileTree, params: &Params) -> Result<Vec<InodePlan<'t>>, PlanError> {
    let max = max_file_size(u64::from(params.bsize));
    let mut plans = vec![blank(Kind::Dir(&tree.root), tree.root_meta, 0)];
    plans[0].parent = ROOTINO;
    plans[0].nlink = 2;
    let mut by_node: HashMap<*const Node, u32> = HashMap::new();
    // (dir inode, position in its children, link path, target path)
    let mut links: Vec<(u32, usize, Vec<u8>, &[u8])> = Vec::new();
    let mut stack: Vec<(u32, &Dir, Vec<u8>)> = vec![(ROOTINO, &tree.root, Vec::new())];
    while let Some((dino, dir, path)) = stack.pop() {
        let mut subdirs = Vec::new();
        let mut children = Vec::with_capacity(dir.entries.len());
        for (name, node) in &dir.entries {
            let bad = name.is_empty()
                || name.len() > MAXNAMLEN
                || name == b"."
                || name == b".."
                || name.iter().any(|b| *b == 0 || *b == b'/');
            if bad {
                return Err(PlanError::BadName {
                    path: show(&join(&path, name)),
                });
            }
            let (kind, size) = match &node.kind {
                NodeKind::HardLink(target) => {
                    links.push((dino, children.len(), join(&path, name), target));
                    children.push(0);
                    continue;
                }
                NodeKind::Dir(d) => (Kind::Dir(d), 0),
                NodeKind::File(c) => (Kind::File(c), c.len()),
                NodeKind::Symlink(t) => (Kind::Symlink(t), t.len() as u64),
                NodeKind::CharDevice { rdev } => (Kind::Char(*rdev), 0),
                NodeKind::BlockDevice { rdev } => (Kind::Block(*rdev), 0),
                NodeKind::Fifo => (Kind::Fifo, 0),
                NodeKind::Socket => (Kind::Socket, 0),
            };
            if size > max {
                return Err(PlanError::FileTooLarge {
                    path: show(&join(&path, name)),
                    size,
                    max,
                });
            }
            let ino = ROOTINO + plans.len() as u32;
            let mut plan = blank(kind, node.meta, size);
            if let NodeKind::Dir(d) = &node.kind {
                plan.parent = dino;
                plan.nlink = 2;
                subdirs.push((ino, d, join(&path, name)));
            }
            plans.push(plan);
            by_node.insert(node as *const Node, ino);
            children.push(ino);
        }
        let parent = &mut plans[(dino - ROOTINO) as usize];
        parent.nlink += subdirs.len() as u32;
        parent.children = children;
        // Reversed so the first subdirectory is numbered next (depth first, name order).
        stack.extend(subdirs.into_iter().rev());
    }
    for (dino, pos, path, target) in links {
        let err = |reason| PlanError::HardLink {
            path: show(&path),
            target: show(target),
            reason,
        };
        let node = tree
            .get(target)
            .ok_or_else(|| err("target does not exist"))?;
        if matches!(node.kind, NodeKind::Dir(_) | NodeKind::HardLink(_)) {
            return Err(err("target is a directory or another hard link"));
        }
        let ino = *by_node
            .get(&(node as *const Node))
            .ok_or_else(|| err("target does not exist"))?;
        plans[(dino - ROOTINO) as usize].children[pos] = ino;
        plans[(ino - ROOTINO) as usize].nlink += 1;
    }
    for p in &mut plans {
        if p.nlink > i16::MAX as u32 {
            return Err(PlanError::TooManyLinks {
                path: format!(
                    "a {} inode",
                    if matches!(p.kind, Kind::Dir(_)) {
                        "directory"
                    } else {
                        "file"
                    }
                ),
            });
        }
        if let Kind::Dir(d) = p.kind {
            let names = [&b"."[..], b".."]
                .into_iter()
                .chain(d.entries.keys().map(|k| &k[..]));
            p.size = dir::encode(
                names.map(|name| EntryIn {
                    name,
                    ino: 0,
                    dtype: 0,
                }),
                None,
            );
        }
    }
    Ok(plans)
}

/// What each inode needs from the allocator.
fn demands(plans: &[InodePlan<'_>], p: &Params) -> Result<Vec<Demand>, PlanError> {
    let (bsize, fsize) = (u64::from(p.bsize), u64::from(p.fsize));
    let nindir = bsize / 8;
    Ok(plans
        .iter()
        .map(|plan| {
            let stored = match plan.kind {
                Kind::Dir(_) | Kind::File(_) => plan.size,
                Kind::Symlink(_) if !plan.is_inline() => plan.size,
                _ => 0,
            };
            Demand::for_size(stored, bsize, fsize, nindir)
        })
        .collect())
}

/// One inode's allocation.
pub(crate) struct Allocation {
    pub(crate) data: Vec<Extent>,
    pub(crate) tail: Option<(u64, u64)>,
    pub(crate) indirect: Vec<Extent>,
    pub(crate) frags: u64,
}

/// Allocates every demand in inode order on `g`; `sink` receives each allocation.
fn allocate(
    g: &Geometry,
    demands: &[Demand],
    ninodes: u64,
    mut sink: impl FnMut(usize, Allocation),
) -> Result<(), NoSpace> {
    if ninodes + u64::from(ROOTINO) > g.inodes() {
        return Err(NoSpace);
    }
    let mut a = Allocator::new(g);
    for (i, d) in demands.iter().enumerate() {
        let data = a.blocks(d.full)?;
        let tail = match d.tail {
            0 => None,
            n => Some((a.frags(n)?, n)),
        };
        let indirect = a.blocks(d.indirect)?;
        sink(
            i,
            Allocation {
                data,
                tail,
                indirect,
                frags: (d.full + d.indirect) * g.frag + d.tail,
            },
        );
    }
    Ok(())
}

/// Binary search over whole blocks for the smallest size whose geometry holds the demands.
fn search_min_size(demands: &[Demand], ninodes: u64, p: &Params) -> Result<u64, PlanError> {
    let bsize = u64::from(p.bsize);
    let frag = bsize / u64::from(p.fsize);
    // Blocks needed depend on the geometry only through the partial block after the
    // summary array: count once per possible start, then each probe is O(groups).
    let mut needed: Vec<Option<u64>> = vec![None; frag as usize];
    let mut fits = |blocks: u64| {
        let Ok(g) = Geometry::new(blocks * bsize, p) else {
            return false;
        };
        let a = Allocator::new(&g);
        let k = a.initial_free() as usize;
        let need = *needed[k].get_or_insert_with(|| blocks_needed(demands, frag, k as u64));
        ninodes + u64::from(ROOTINO) <= g.inodes() && need <= a.capacity()
    };
    // Validate the parameters once, so a bad one is reported rather than searched for.
    if let Err(e) = Geometry::new(u64::from(u32::MAX), p) {
        return Err(e.into());
    }
    // A true lower bound: whole blocks, plus tails packed perfectly.
    let full: u64 = demands.iter().map(|d| d.full + d.indirect).sum();
    let tails: u64 = demands.iter().map(|d| d.tail).sum();
    let mut lo = (full + tails.div_ceil(frag)).max(1);
    let mut hi = lo;
    while !fits(hi) {
        lo = hi;
        hi = hi.saturating_mul(2).max(hi + 8);
        if hi > u64::MAX / bsize / 2 {
            return Err(PlanError::Geometry(GeometryError::TooLarge(hi * bsize)));
        }
    }
    // `lo` does not fit (or is the data size itself); `hi` fits.
    while lo + 1 < hi {
        let mid = lo + (hi - lo) / 2;
        if fits(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    if fits(lo) {
        hi = lo;
    }
    Ok(hi * bsize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size search's block count agrees with real allocation, size after size.
    #[test]
    fn counted_blocks_match_allocation() {
        let p = Params::default();
        let mut x = 0x1234_5678_9abc_def1u64;
        let demands: Vec<Demand> = (0..400)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let size = match x % 4 {
                    0 => x % 4096,
                    1 => x % 40_000,
                    2 => x % 500_000,
                    _ => 0,
                };
                Demand::for_size(size, 32768, 4096, 4096)
            })
            .collect();
        for blocks in (40..1200).step_by(7) {
            let Ok(g) = Geometry::new(blocks * 32768, &p) else {
                continue;
            };
            let a = Allocator::new(&g);
            let counted = blocks_needed(&demands, g.frag, a.initial_free()) <= a.capacity();
            let real = {
                let mut a = Allocator::new(&g);
                demands.iter().try_for_each(|d| {
                    a.blocks(d.full)?;
                    if d.tail > 0 {
                        a.frags(d.tail)?;
                    }
                    a.blocks(d.indirect).map(|_| ())
                })
            };
            assert_eq!(counted, real.is_ok(), "{blocks} blocks");
        }
    }
}
