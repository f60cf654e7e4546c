//! Reads a UFS2 file system at a byte offset of any `Read + Seek` source: superblock,
//! inodes, directories, file contents and symlinks. Every address is checked against the
//! file system before it is read, and indirect blocks are never followed twice, so a
//! damaged image gives errors, not panics or endless loops.

use std::collections::HashSet;
use std::io::{self, Read, Seek, SeekFrom, Write};

use super::dir;
use super::format::*;
use super::geometry::Geometry;
use crate::links::{EntryType, LinkTree};
use crate::tree::{Content, Dir, FileTree, Meta, Node, NodeKind};

#[derive(Debug, thiserror::Error)]
/// Why the reader could not answer: the image is unreadable, or not the file system it says.
pub enum ReadError {
    #[error("reading the image: {0}")]
    /// Reading the underlying image failed (including reading past its end).
    Io(#[from] io::Error),
    #[error("no usable UFS2 superblock: {0}")]
    /// No valid UFS2 superblock at the expected place; the text says what is wrong with it.
    NoSuperblock(String),
    #[error("inode {0} does not exist")]
    /// The inode number is 0, 1 or beyond the file system's inode count.
    BadInode(u64),
    #[error("`{0}` not found")]
    /// A path component does not exist.
    NotFound(String),
    #[error("`{0}` is not a directory")]
    /// A path component before the last one is not a directory.
    NotADirectory(String),
    #[error("inode {ino}: {what}")]
    /// An inode's contents contradict the file system (bad pointer, size, directory block...).
    Corrupt {
        /// The inode at fault.
        ino: u64,
        /// What is wrong with it.
        what: String,
    },
}

/// An inode's file type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    /// Named pipe.
    Fifo,
    /// Character device.
    Char,
    /// Directory.
    Dir,
    /// Block device.
    Block,
    /// Regular file.
    File,
    /// Symbolic link.
    Symlink,
    /// Local-domain socket.
    Socket,
    /// A mode whose type bits name no type.
    Unknown,
}

impl FileType {
    /// The type named by `mode`'s type bits (`IFMT`).
    pub fn from_mode(mode: u16) -> FileType {
        match mode & IFMT {
            IFIFO => FileType::Fifo,
            IFCHR => FileType::Char,
            IFDIR => FileType::Dir,
            IFBLK => FileType::Block,
            IFREG => FileType::File,
            IFLNK => FileType::Symlink,
            IFSOCK => FileType::Socket,
            _ => FileType::Unknown,
        }
    }
}

/// What `stat` tells about an inode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// Inode number.
    pub ino: u64,
    /// File type from the mode.
    pub ftype: FileType,
    /// Permission bits with setuid/setgid/sticky.
    pub perm: u16,
    /// Hard-link count (`di_nlink`).
    pub nlink: u16,
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// Size in bytes (`di_size`).
    pub size: u64,
    /// Allocated 512-byte units.
    pub blocks: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// BSD file flags (`chflags`), e.g. `SF_IMMUTABLE`.
    pub flags: u32,
    /// Device number (devices only).
    pub rdev: u64,
}

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// Entry name, raw bytes (UFS names are not required to be UTF-8).
    pub name: Vec<u8>,
    /// Inode number the entry names.
    pub ino: u64,
    /// `d_type`: the `DT_*` type the entry records for its target.
    pub dtype: u8,
}

/// A block pointer met while walking an inode's block tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ptr {
    /// Data for logical block `lbn`: `frags` fragments at `addr`.
    Data { lbn: u64, addr: u64, frags: u64 },
    /// `count` logical blocks from `lbn` with no storage.
    Hole { lbn: u64, count: u64 },
    /// An indirect block at tree level `level` (1 = points at data) mapping from `lbn`.
    Indirect { level: u32, lbn: u64, addr: u64 },
    /// A non-zero pointer for blocks past the end of the file.
    BeyondEof { lbn: u64, addr: u64 },
}

/// A UFS2 file system inside `R`, starting at byte `offset`.
pub struct Ufs<R> {
    r: R,
    offset: u64,
    /// The primary superblock as decoded.
    pub sb: Superblock,
    /// The layout derived from the superblock.
    pub geometry: Geometry,
}

impl<R: Read + Seek> Ufs<R> {
    /// Reads and validates the primary superblock at `offset + 65536`.
    pub fn open(mut r: R, offset: u64) -> Result<Ufs<R>, ReadError> {
        let mut b = vec![0u8; SBLOCKSIZE as usize];
        r.seek(SeekFrom::Start(offset + SBLOCK_UFS2))?;
        r.read_exact(&mut b).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => {
                ReadError::NoSuperblock("the image ends before byte 73728".into())
            }
            _ => ReadError::Io(e),
        })?;
        let sb = Superblock::decode(&b);
        let geometry = geometry_of(&sb).map_err(ReadError::NoSuperblock)?;
        Ok(Ufs {
            r,
            offset,
            sb,
            geometry,
        })
    }

    /// A reader over a superblock and geometry the caller has already read and derived
    /// (the checker, which reports a bad superblock field instead of giving up).
    pub(crate) fn with_geometry(r: R, offset: u64, sb: Superblock, geometry: Geometry) -> Ufs<R> {
        Ufs {
            r,
            offset,
            sb,
            geometry,
        }
    }

    /// Gives the source back.
    pub fn into_inner(self) -> R {
        self.r
    }

    /// Reads `buf.len()` bytes at byte `at` of the file system.
    pub fn read_at(&mut self, at: u64, buf: &mut [u8]) -> io::Result<()> {
        let at = self
            .offset
            .checked_add(at)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "address past 2^64"))?;
        self.r.seek(SeekFrom::Start(at))?;
        self.r.read_exact(buf)
    }

    /// The raw 256 bytes and decoded form of inode `ino`.
    pub fn dinode(&mut self, ino: u64) -> Result<(Dinode, [u8; DINODE_SIZE]), ReadError> {
        if ino >= self.geometry.inodes() {
            return Err(ReadError::BadInode(ino));
        }
        let mut b = [0u8; DINODE_SIZE];
        let at = self.geometry.inode_byte(ino);
        self.read_at(at, &mut b)?;
        Ok((Dinode::decode(&b), b))
    }

    /// What `stat(2)` would say about inode `ino`.
    pub fn stat(&mut self, ino: u64) -> Result<Stat, ReadError> {
        let (d, _) = self.dinode(ino)?;
        let ftype = FileType::from_mode(d.mode);
        Ok(Stat {
            ino,
            ftype,
            perm: d.mode & 0o7777,
            nlink: d.nlink as u16,
            uid: d.uid,
            gid: d.gid,
            size: d.size,
            blocks: d.blocks,
            mtime: d.mtime,
            flags: d.flags,
            rdev: if matches!(ftype, FileType::Char | FileType::Block) {
                d.db[0] as u64
            } else {
                0
            },
        })
    }

    /// [`stat`](Self::stat) of the inode a path names.
    pub fn stat_path(&mut self, path: &[u8]) -> Result<Stat, ReadError> {
        let ino = self.lookup(path)?;
        self.stat(ino)
    }

    /// The inode a path names (from the root; `/` or empty is the root). Symlinks are
    /// not followed.
    pub fn lookup(&mut self, path: &[u8]) -> Result<u64, ReadError> {
        let mut ino = u64::from(ROOTINO);
        for part in path.split(|b| *b == b'/').filter(|p| !p.is_empty()) {
            let entries = self.read_dir(ino).map_err(|e| match e {
                ReadError::NotADirectory(_) => {
                    ReadError::NotADirectory(String::from_utf8_lossy(path).into())
                }
                e => e,
            })?;
            ino = entries
                .iter()
                .find(|e| e.name == part)
                .map(|e| e.ino)
                .ok_or_else(|| ReadError::NotFound(String::from_utf8_lossy(path).into()))?;
        }
        Ok(ino)
    }

    /// Entries of directory `ino`, `.` and `..` included, in on-disk order.
    pub fn read_dir(&mut self, ino: u64) -> Result<Vec<DirEntry>, ReadError> {
        let (d, _) = self.dinode(ino)?;
        if d.mode & IFMT != IFDIR {
            return Err(ReadError::NotADirectory(format!("inode {ino}")));
        }
        if d.size > d.blocks.saturating_mul(512) {
            return Err(corrupt(ino, "directory larger than its blocks"));
        }
        let mut data = Vec::new();
        self.read_data(&d, &mut data)?;
        let mut fault = None;
        let entries = dir::parse(&data, |at, f| {
            fault.get_or_insert(format!("entry at {at}: {f}"));
        });
        if let Some(what) = fault {
            return Err(ReadError::Corrupt { ino, what });
        }
        Ok(entries
            .into_iter()
            .map(|e| DirEntry {
                name: e.name,
                ino: u64::from(e.ino),
                dtype: e.dtype,
            })
            .collect())
    }

    /// Writes the contents of inode `ino` (a file, directory or long symlink) to `out`.
    pub fn read_file(&mut self, ino: u64, out: &mut dyn Write) -> Result<u64, ReadError> {
        let (d, _) = self.dinode(ino)?;
        self.read_data(&d, out)?;
        Ok(d.size)
    }

    /// The target of symlink `ino`.
    pub fn read_link(&mut self, ino: u64) -> Result<Vec<u8>, ReadError> {
        let (d, raw) = self.dinode(ino)?;
        if d.mode & IFMT != IFLNK {
            return Err(corrupt(ino, "not a symlink"));
        }
        if d.size < MAXSYMLINKLEN && d.blocks == 0 {
            return Ok(raw[DINODE_SHORTLINK][..d.size as usize].to_vec());
        }
        if d.size > 1 << 20 {
            return Err(corrupt(ino, "symlink longer than 1 MiB"));
        }
        let mut out = Vec::new();
        self.read_data(&d, &mut out)?;
        Ok(out)
    }

    fn read_data(&mut self, d: &Dinode, out: &mut dyn Write) -> Result<(), ReadError> {
        let g = self.geometry.clone();
        let mut pos = 0u64;
        let mut failure: Option<ReadError> = None;
        let mut buf = vec![0u8; g.bsize as usize];
        let zeros = vec![0u8; g.bsize as usize];
        self.walk(d, &mut |ufs, ptr| {
            if failure.is_some() {
                return false;
            }
            let step = match ptr {
                Ptr::Data { lbn, addr, frags } => {
                    // Damaged pointers can be anything: byte offsets are checked, not trusted.
                    let (Some(want), Some(at), Some(len)) = (
                        lbn.checked_mul(g.bsize),
                        addr.checked_mul(g.fsize),
                        frags.checked_mul(g.fsize),
                    ) else {
                        failure = Some(corrupt(
                            0,
                            &format!("block pointer {addr} (block {lbn}) is out of range"),
                        ));
                        return false;
                    };
                    let n = len.min(d.size.saturating_sub(want)).min(g.bsize);
                    let r = fill_gap(out, &zeros, &mut pos, want)
                        .and_then(|_| ufs.read_at(at, &mut buf[..n as usize]))
                        .and_then(|_| out.write_all(&buf[..n as usize]));
                    pos = want + n;
                    r
                }
                Ptr::Hole { .. } => Ok(()),
                Ptr::Indirect { .. } => return true,
                Ptr::BeyondEof { .. } => Ok(()),
            };
            if let Err(e) = step {
                failure = Some(e.into());
            }
            false
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        fill_gap(out, &zeros, &mut pos, d.size)?;
        Ok(())
    }

    /// Walks the block tree of an inode in logical order. `visit` returns whether to
    /// descend into an indirect block; addresses outside the file system and indirect
    /// blocks already visited are never read.
    pub(crate) fn walk(
        &mut self,
        d: &Dinode,
        visit: &mut dyn FnMut(&mut Self, Ptr) -> bool,
    ) -> Result<(), ReadError> {
        let g = self.geometry.clone();
        let nblocks = d.size.div_ceil(g.bsize);
        let last_frags = |lbn: u64| {
            if lbn < NDADDR as u64 && lbn + 1 == nblocks {
                (d.size - lbn * g.bsize).div_ceil(g.fsize)
            } else {
                g.frag
            }
        };
        for (lbn, &addr) in d.db.iter().enumerate() {
            let lbn = lbn as u64;
            let addr = addr as u64;
            if lbn >= nblocks {
                if addr != 0 {
                    visit(self, Ptr::BeyondEof { lbn, addr });
                }
            } else if addr == 0 {
                visit(self, Ptr::Hole { lbn, count: 1 });
            } else {
                visit(
                    self,
                    Ptr::Data {
                        lbn,
                        addr,
                        frags: last_frags(lbn),
                    },
                );
            }
        }
        let mut seen = HashSet::new();
        let mut first = NDADDR as u64;
        let mut span = 1u64;
        for (k, &addr) in d.ib.iter().enumerate() {
            span = span.saturating_mul(g.nindir());
            self.walk_indirect(
                k as u32 + 1,
                first,
                addr as u64,
                span,
                nblocks,
                &mut seen,
                visit,
            )?;
            first = first.saturating_add(span);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn walk_indirect(
        &mut self,
        level: u32,
        lbn: u64,
        addr: u64,
        span: u64,
        nblocks: u64,
        seen: &mut HashSet<u64>,
        visit: &mut dyn FnMut(&mut Self, Ptr) -> bool,
    ) -> Result<(), ReadError> {
        let g = self.geometry.clone();
        if lbn >= nblocks {
            if addr != 0 {
                visit(self, Ptr::BeyondEof { lbn, addr });
            }
            return Ok(());
        }
        if addr == 0 {
            visit(
                self,
                Ptr::Hole {
                    lbn,
                    count: span.min(nblocks - lbn),
                },
            );
            return Ok(());
        }
        let descend = visit(self, Ptr::Indirect { level, lbn, addr });
        if !descend || addr.saturating_add(g.frag) > g.size || !seen.insert(addr) {
            return Ok(());
        }
        let mut block = vec![0u8; g.bsize as usize];
        self.read_at(addr * g.fsize, &mut block)?;
        let child_span = span / g.nindir();
        for i in 0..g.nindir() {
            let child = i64::get(&block, (i * 8) as usize) as u64;
            let clbn = lbn.saturating_add(i.saturating_mul(child_span));
            if level == 1 {
                if clbn >= nblocks {
                    if child != 0 {
                        visit(
                            self,
                            Ptr::BeyondEof {
                                lbn: clbn,
                                addr: child,
                            },
                        );
                    }
                } else if child == 0 {
                    visit(
                        self,
                        Ptr::Hole {
                            lbn: clbn,
                            count: 1,
                        },
                    );
                } else {
                    visit(
                        self,
                        Ptr::Data {
                            lbn: clbn,
                            addr: child,
                            frags: g.frag,
                        },
                    );
                }
            } else {
                self.walk_indirect(level - 1, clbn, child, child_span, nblocks, seen, visit)?;
            }
        }
        Ok(())
    }

    /// The whole tree, contents in memory (for tests and small images). A non-directory
    /// inode met again becomes a hard link to the path it was first met at, in
    /// [`FileTree::walk`] order.
    pub fn to_tree(&mut self) -> Result<FileTree, ReadError> {
        let root = u64::from(ROOTINO);
        let root_meta = self.meta(root)?;
        let mut tree = FileTree::new(root_meta);
        let mut first_path: std::collections::HashMap<u64, Vec<u8>> = Default::default();
        let mut dirs_seen = HashSet::from([root]);
        tree.root = self.dir_tree(root, Vec::new(), &mut first_path, &mut dirs_seen)?;
        Ok(tree)
    }

    fn meta(&mut self, ino: u64) -> Result<Meta, ReadError> {
        let s = self.stat(ino)?;
        Ok(Meta {
            uid: s.uid,
            gid: s.gid,
            perm: s.perm,
            flags: s.flags,
            mtime: s.mtime,
        })
    }

    fn dir_tree(
        &mut self,
        ino: u64,
        path: Vec<u8>,
        first_path: &mut std::collections::HashMap<u64, Vec<u8>>,
        dirs_seen: &mut HashSet<u64>,
    ) -> Result<Dir, ReadError> {
        let mut dir = Dir::default();
        let mut entries = self.read_dir(ino)?;
        entries.retain(|e| e.name != b"." && e.name != b"..");
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        for e in entries {
            let mut p = path.clone();
            if !p.is_empty() {
                p.push(b'/');
            }
            p.extend_from_slice(&e.name);
            let s = self.stat(e.ino)?;
            let meta = self.meta(e.ino)?;
            let kind = if let Some(first) = first_path.get(&e.ino) {
                NodeKind::HardLink(first.clone())
            } else {
                match s.ftype {
                    FileType::Dir => {
                        if !dirs_seen.insert(e.ino) {
                            return Err(corrupt(e.ino, "directory reached twice"));
                        }
                        NodeKind::Dir(self.dir_tree(e.ino, p.clone(), first_path, dirs_seen)?)
                    }
                    FileType::File => {
                        let mut bytes = Vec::new();
                        self.read_file(e.ino, &mut bytes)?;
                        NodeKind::File(Content::Bytes(bytes.into()))
                    }
                    FileType::Symlink => NodeKind::Symlink(self.read_link(e.ino)?),
                    FileType::Char => NodeKind::CharDevice { rdev: s.rdev },
                    FileType::Block => NodeKind::BlockDevice { rdev: s.rdev },
                    FileType::Fifo => NodeKind::Fifo,
                    FileType::Socket => NodeKind::Socket,
                    FileType::Unknown => return Err(corrupt(e.ino, "unknown file type")),
                }
            };
            if s.ftype != FileType::Dir {
                first_path.entry(e.ino).or_insert(p);
            }
            dir.entries.insert(e.name, Node { meta, kind });
        }
        Ok(dir)
    }
}

fn corrupt(ino: u64, what: &str) -> ReadError {
    ReadError::Corrupt {
        ino,
        what: what.into(),
    }
}

/// Writes zeros from `*pos` up to `to` (holes).
fn fill_gap(out: &mut dyn Write, zeros: &[u8], pos: &mut u64, to: u64) -> io::Result<()> {
    while *pos < to {
        let n = (to - *pos).min(zeros.len() as u64) as usize;
        out.write_all(&zeros[..n])?;
        *pos += n as u64;
    }
    Ok(())
}

/// The geometry a superblock describes, or why it is not a usable UFS2 superblock.
pub fn geometry_of(sb: &Superblock) -> Result<Geometry, String> {
    if sb.magic != FS_UFS2_MAGIC {
        return Err(format!(
            "magic {:#x} is not UFS2's {:#x}",
            sb.magic, FS_UFS2_MAGIC
        ));
    }
    if sb.sblockloc != SBLOCK_UFS2 as i64 {
        return Err(format!(
            "fs_sblockloc {} is not {}",
            sb.sblockloc, SBLOCK_UFS2
        ));
    }
    let g = Geometry::derive(
        i64::from(sb.bsize),
        i64::from(sb.fsize),
        sb.size,
        i64::from(sb.fpg),
        i64::from(sb.ipg),
        i64::from(sb.maxcontig),
        i64::from(sb.contigsumsize),
        i64::from(sb.minfree),
    )?;
    let stored = [
        ("fs_ncg", u64::from(sb.ncg), g.ncg),
        ("fs_sblkno", sb.sblkno as u64, g.sblkno),
        ("fs_cblkno", sb.cblkno as u64, g.cblkno),
        ("fs_iblkno", sb.iblkno as u64, g.iblkno),
        ("fs_dblkno", sb.dblkno as u64, g.dblkno),
        ("fs_csaddr", sb.csaddr as u64, g.csaddr()),
    ];
    for (name, found, want) in stored {
        if found != want {
            return Err(format!("{name} is {found}, its formula gives {want}"));
        }
    }
    Ok(g)
}

/// Links inside an image are followed by [`crate::links::resolve`], as the kernel follows them.
impl<R: Read + Seek> LinkTree for Ufs<R> {
    type Node = u64;
    type Error = ReadError;
    fn root(&mut self) -> Result<u64, ReadError> {
        Ok(u64::from(ROOTINO))
    }
    fn child(&mut self, dir: &u64, name: &[u8]) -> Result<Option<(u64, EntryType)>, ReadError> {
        let entries = self.read_dir(*dir)?;
        let Some(ino) = entries.iter().find(|e| e.name == name).map(|e| e.ino) else {
            return Ok(None);
        };
        let kind = match self.stat(ino)?.ftype {
            FileType::Dir => EntryType::Dir,
            FileType::Symlink => EntryType::Symlink,
            _ => EntryType::Other,
        };
        Ok(Some((ino, kind)))
    }
    fn read_link(&mut self, link: &u64) -> Result<Vec<u8>, ReadError> {
        Ufs::read_link(self, *link)
    }
}
