//! The checker: what fsck_ffs's passes 1-5 check, without repairing anything.
//!
//! - Superblock: every field that newfs derives is recomputed from the independent ones
//!   and compared; the check-hash; every backup equals the primary; the summary array.
//! - Pass 1: every inode: type, size, check-hash, each block pointer in range, aligned and
//!   owned once (a second owner is a duplicate, with every owner named), `di_blocks`.
//! - Pass 2-4: directories from the root: entry format, `.` and `..`, targets allocated and
//!   of the type the entry says, every directory reached once, link counts.
//! - Pass 5: every cylinder group's header, maps and counts rebuilt and compared, the
//!   summary array and the superblock totals.
//!
//! Every problem is collected; nothing panics or loops on garbage or truncated input.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io::{Read, Seek, SeekFrom};

use super::bitmap::Bitmap;
use super::cg::{
    build_cg, build_superblock, mark_metadata, recovery_record, CgExtra, Csum, SbExtra,
};
use super::crc::ckhash;
use super::dir::{self, EntryFault};
use super::format::*;
use super::geometry::Geometry;
use super::read::{Ptr, Ufs};

/// Which superblock copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SbCopy {
    Primary,
    Backup(u64),
}

impl std::fmt::Display for SbCopy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SbCopy::Primary => write!(f, "primary superblock"),
            SbCopy::Backup(cg) => write!(f, "superblock backup in group {cg}"),
        }
    }
}

/// Who uses a fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Owner {
    /// The file system's own areas (boot area, superblocks, group headers, inodes, summary).
    Metadata,
    Inode(u64),
}

/// A cylinder-group map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgMap {
    Inodes,
    Fragments,
    ClusterSummary,
    Clusters,
}

/// One problem found by [`check`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("cannot read {what}: {error}")]
    Unreadable { what: String, error: String },
    #[error("no usable UFS2 superblock: {0}")]
    NoSuperblock(String),
    #[error("the image holds {len} bytes of the file system's {needed}")]
    Truncated { needed: u64, len: u64 },
    #[error("superblock field {field} is {found}, expected {expected}")]
    SuperblockField {
        field: String,
        found: String,
        expected: String,
    },
    #[error("superblock state: {0}")]
    SuperblockState(String),
    #[error("{copy}: check-hash {stored:#x}, computed {computed:#x}")]
    SuperblockHash {
        copy: SbCopy,
        stored: u32,
        computed: u32,
    },
    #[error("superblock backup in group {cg} differs from the primary in {fields:?}")]
    BackupDiffers { cg: u64, fields: Vec<String> },
    #[error("superblock backup in group {cg} says it is at byte {found}, it is at {expected}")]
    BackupLocation { cg: u64, found: i64, expected: u64 },
    #[error("recovery record before the superblock does not match it")]
    RecoveryRecord,
    #[error("cylinder group {cg}: magic {found:#x}")]
    CgMagic { cg: u64, found: i32 },
    #[error("cylinder group {cg}: check-hash {stored:#x}, computed {computed:#x}")]
    CgHash { cg: u64, stored: u32, computed: u32 },
    #[error("cylinder group {cg}: {field} is {found}, rebuilt {expected}")]
    CgField {
        cg: u64,
        field: String,
        found: String,
        expected: String,
    },
    #[error("cylinder group {cg}: {map:?} map differs from the rebuilt one in {bits} bits, first at bit {first}")]
    CgMapDiffers {
        cg: u64,
        map: CgMap,
        bits: u64,
        first: u64,
    },
    #[error("summary array, group {cg}: {field} is {found}, rebuilt {expected}")]
    Csum {
        cg: u64,
        field: &'static str,
        found: i64,
        expected: i64,
    },
    #[error("superblock total {field} is {found}, rebuilt {expected}")]
    CsTotal {
        field: &'static str,
        found: i64,
        expected: i64,
    },
    #[error("inode {ino}: check-hash {stored:#x}, computed {computed:#x}")]
    InodeHash {
        ino: u64,
        stored: u32,
        computed: u32,
    },
    #[error("inode {ino}: unallocated (mode 0) but has a size or block pointers")]
    PartiallyAllocated { ino: u64 },
    #[error("inode {ino}: mode {mode:#o} names no file type")]
    BadType { ino: u64, mode: u16 },
    #[error("inode {ino}: size {size}: {reason}")]
    BadSize {
        ino: u64,
        size: u64,
        reason: &'static str,
    },
    #[error("inode {ino}: {what} should be zero")]
    StrayPointers { ino: u64, what: &'static str },
    #[error("inode {ino}: pointer {addr} (lbn {lbn}) is outside the file system, misaligned or crosses a block")]
    BadPointer { ino: u64, lbn: u64, addr: u64 },
    #[error("inode {ino}: pointer {addr} past the end of the file (lbn {lbn})")]
    PointerBeyondEof { ino: u64, lbn: u64, addr: u64 },
    #[error("fragments {addr}..{} are used more than once: {owners:?}", addr + frags)]
    DuplicateBlock {
        addr: u64,
        frags: u64,
        owners: Vec<Owner>,
    },
    #[error("inode {ino}: di_blocks is {stored}, its blocks add up to {actual}")]
    BlockCount { ino: u64, stored: u64, actual: u64 },
    #[error("directory {dir}: no block at lbn {lbn}")]
    DirHole { dir: u64, lbn: u64 },
    #[error("directory {dir}, offset {offset}: {fault}")]
    DirEntry {
        dir: u64,
        offset: u64,
        fault: EntryFault,
    },
    #[error("directory {dir}: first entry should be `.` naming itself, found {found}")]
    DirDot { dir: u64, found: String },
    #[error("directory {dir}: second entry should be `..` naming {expected}, found {found}")]
    DirDotDot {
        dir: u64,
        expected: u64,
        found: String,
    },
    #[error("directory {dir}: `{name}` names inode {ino}, which {reason}")]
    DirEntryTarget {
        dir: u64,
        name: String,
        ino: u64,
        reason: &'static str,
    },
    #[error("directory {dir}: `{name}` has type {found}, its inode's is {expected}")]
    DirEntryType {
        dir: u64,
        name: String,
        found: u8,
        expected: u8,
    },
    #[error("directory {dir}: `{name}` appears more than once")]
    DuplicateName { dir: u64, name: String },
    #[error("directory {ino} is named by more than one directory")]
    DirMultipleParents { ino: u64 },
    #[error("the root inode is not an allocated directory")]
    BadRoot,
    #[error("directory {ino} is not reachable from the root")]
    UnreachableDir { ino: u64 },
    #[error("inode {ino} is allocated but no directory names it")]
    Unreferenced { ino: u64 },
    #[error("inode {ino}: link count {stored}, named {actual} times")]
    LinkCount { ino: u64, stored: i64, actual: u64 },
}

/// Checks the UFS2 file system at the start of `r`.
pub fn check<R: Read + Seek>(r: R) -> Vec<Problem> {
    check_at(r, 0)
}

/// Checks the UFS2 file system starting at byte `offset` of `r` (a partition).
pub fn check_at<R: Read + Seek>(mut r: R, offset: u64) -> Vec<Problem> {
    let mut problems = Vec::new();
    let Some((sb, raw, g)) = superblock(&mut r, offset, &mut problems) else {
        return problems;
    };
    let ufs = Ufs::with_geometry(r, offset, sb.clone(), g.clone());
    let mut c = Checker {
        ufs,
        g,
        sb,
        p: problems,
        claimed: Bitmap::new(0),
        dup_claims: Vec::new(),
        inodes: BTreeMap::new(),
        cgs: Vec::new(),
    };
    c.superblock_fields(&raw);
    c.backups();
    c.pass1();
    c.pass2_to_4();
    c.pass5();
    c.p
}

/// Reads the primary superblock and derives a geometry, or reports why not.
fn superblock<R: Read + Seek>(
    r: &mut R,
    offset: u64,
    p: &mut Vec<Problem>,
) -> Option<(Superblock, Vec<u8>, Geometry)> {
    let mut raw = vec![0u8; SBLOCKSIZE as usize];
    let read = r
        .seek(SeekFrom::Start(offset + SBLOCK_UFS2))
        .and_then(|_| r.read_exact(&mut raw));
    if let Err(e) = read {
        p.push(Problem::NoSuperblock(format!("cannot read it: {e}")));
        return None;
    }
    let sb = Superblock::decode(&raw);
    if sb.magic != FS_UFS2_MAGIC {
        p.push(Problem::NoSuperblock(format!("magic {:#x}", sb.magic)));
        return None;
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
    );
    let g = match g {
        Ok(g) => g,
        Err(e) => {
            p.push(Problem::NoSuperblock(e));
            return None;
        }
    };
    match r.seek(SeekFrom::End(0)) {
        Ok(len) if len < offset + g.size_bytes() => p.push(Problem::Truncated {
            needed: g.size_bytes(),
            len: len.saturating_sub(offset),
        }),
        Ok(_) => {}
        Err(e) => p.push(unreadable("the image length", e)),
    }
    Some((sb, raw, g))
}

fn unreadable(what: impl Into<String>, e: impl std::fmt::Display) -> Problem {
    Problem::Unreadable {
        what: what.into(),
        error: e.to_string(),
    }
}

/// What pass 1 learned about an allocated inode.
#[derive(Debug, Clone)]
struct InodeInfo {
    mode: u16,
    nlink: i16,
    size: u64,
    blocks: u64,
    refs: u64,
    reached: bool,
}

struct Checker<R> {
    ufs: Ufs<R>,
    g: Geometry,
    sb: Superblock,
    p: Vec<Problem>,
    /// Fragments in use: metadata first, then every inode's blocks.
    claimed: Bitmap,
    /// Claims that hit fragments already in use: (first fragment, count).
    dup_claims: Vec<(u64, u64)>,
    inodes: BTreeMap<u64, InodeInfo>,
    /// Each group's block as read (None when unreadable).
    cgs: Vec<Option<Vec<u8>>>,
}

impl<R: Read + Seek> Checker<R> {
    fn hashes(&self, which: u32) -> bool {
        self.sb.flags & FS_METACKHASH != 0 && self.sb.metackhash & which != 0
    }

    fn superblock_fields(&mut self, raw: &[u8]) {
        let g = &self.g;
        let disk = &self.sb;
        // Start from the disk's values and replace every derived field by its formula;
        // whatever then differs is a field that breaks its formula.
        let formulas = build_superblock(
            g,
            &SbExtra {
                total: Csum::default(),
                time: 0,
                id: [0; 2],
                volname: [0; 32],
                check_hashes: false,
                providersize: 0,
            },
        );
        let mut expected = disk.clone();
        macro_rules! derived {
            ($($f:ident),*) => { $( expected.$f = formulas.$f; )* };
        }
        derived!(
            sblkno,
            cblkno,
            iblkno,
            dblkno,
            ncg,
            frag,
            bmask,
            fmask,
            bshift,
            fshift,
            fragshift,
            fsbtodb,
            sbsize,
            nindir,
            inopb,
            cssize,
            cgsize,
            dsize,
            csaddr,
            maxsymlinklen,
            maxfilesize,
            qbmask,
            qfmask,
            sblockloc
        );
        if disk.maxcontig > 1 {
            expected.contigsumsize = disk.maxcontig.min(FS_MAXCONTIG as i32);
        } else {
            expected.contigsumsize = 0;
        }
        if disk.sblockactualloc != 0 {
            expected.sblockactualloc = SBLOCK_UFS2 as i64;
        }
        for d in disk.diff(&expected) {
            self.p.push(Problem::SuperblockField {
                field: format!("fs_{}", d.field),
                found: d.left,
                expected: d.right,
            });
        }
        let mut state = Vec::new();
        if disk.clean != 1 {
            state.push(format!("fs_clean is {}", disk.clean));
        }
        if disk.fmod != 0 {
            state.push(format!("fs_fmod is {}", disk.fmod));
        }
        if disk.old_flags & FS_FLAGS_UPDATED == 0 {
            state.push("fs_old_flags lacks FS_FLAGS_UPDATED".into());
        }
        if disk.flags & (FS_UNCLEAN | FS_NEEDSFSCK) != 0 {
            state.push(format!(
                "fs_flags {:#x} marks it unclean or needing fsck",
                disk.flags
            ));
        }
        if disk.metackhash & !CK_SUPPORTED != 0 {
            state.push(format!(
                "fs_metackhash {:#x} has unknown bits",
                disk.metackhash
            ));
        }
        if !(0..=1).contains(&disk.optim) {
            state.push(format!("fs_optim {}", disk.optim));
        }
        if !(0..=99).contains(&disk.minfree) {
            state.push(format!("fs_minfree {}", disk.minfree));
        }
        if disk.maxbsize < disk.bsize {
            state.push(format!("fs_maxbsize {} is below fs_bsize", disk.maxbsize));
        }
        if disk.maxbpg <= 0 || disk.maxcontig <= 0 {
            state.push("fs_maxbpg or fs_maxcontig is not positive".into());
        }
        if disk.volname[31] != 0 {
            state.push("fs_volname is not NUL-terminated".into());
        }
        self.p
            .extend(state.into_iter().map(Problem::SuperblockState));
        let sbsize = (disk.sbsize.max(0) as usize).min(raw.len());
        if self.hashes(CK_SUPERBLOCK) {
            let computed = ckhash(&raw[..sbsize], SB_CKHASH_OFFSET);
            if computed != disk.ckhash {
                self.p.push(Problem::SuperblockHash {
                    copy: SbCopy::Primary,
                    stored: disk.ckhash,
                    computed,
                });
            }
        }
        let mut rec = [0u8; 20];
        match self.ufs.read_at(FSRECOVERY_OFFSET, &mut rec) {
            // Other makers leave the record out; when present it must match.
            Ok(()) if rec != [0; 20] && rec != recovery_record(disk) => {
                self.p.push(Problem::RecoveryRecord)
            }
            Ok(()) => {}
            Err(e) => self.p.push(unreadable("the recovery record", e)),
        }
    }

    fn backups(&mut self) {
        let g = self.g.clone();
        let sbsize = (self.sb.sbsize.max(SB_STRUCT_SIZE as i32) as usize).min(SBLOCKSIZE as usize);
        for c in 0..g.ncg {
            let at = g.cgsblock(c) * g.fsize;
            let mut raw = vec![0u8; sbsize];
            if let Err(e) = self.ufs.read_at(at, &mut raw) {
                self.p
                    .push(unreadable(format!("the superblock backup in group {c}"), e));
                continue;
            }
            let backup = Superblock::decode(&raw);
            if backup.sblockactualloc != at as i64 {
                self.p.push(Problem::BackupLocation {
                    cg: c,
                    found: backup.sblockactualloc,
                    expected: at,
                });
            }
            let mut same = backup.clone();
            same.sblockactualloc = self.sb.sblockactualloc;
            same.ckhash = self.sb.ckhash;
            let fields: Vec<String> = self
                .sb
                .diff(&same)
                .into_iter()
                .map(|d| format!("fs_{}", d.field))
                .collect();
            if !fields.is_empty() {
                self.p.push(Problem::BackupDiffers { cg: c, fields });
            }
            if self.hashes(CK_SUPERBLOCK) {
                let computed = ckhash(&raw, SB_CKHASH_OFFSET);
                if computed != backup.ckhash {
                    self.p.push(Problem::SuperblockHash {
                        copy: SbCopy::Backup(c),
                        stored: backup.ckhash,
                        computed,
                    });
                }
            }
        }
    }

    /// Marks `addr..addr+n` as used by `owner`; a fragment already used is a duplicate.
    fn claim(&mut self, addr: u64, n: u64) {
        let mut dup = false;
        for f in addr..addr + n {
            dup |= self.claimed.set(f);
        }
        if dup {
            self.dup_claims.push((addr, n));
        }
    }

    fn pass1(&mut self) {
        let g = self.g.clone();
        self.claimed = Bitmap::new(g.size);
        mark_metadata(&g, &mut self.claimed);
        let inopb = g.inopb();
        let mut block = vec![0u8; g.bsize as usize];
        for c in 0..g.ncg {
            let mut cg = vec![0u8; g.cgsize as usize];
            let cg = match self.ufs.read_at(g.cgtod(c) * g.fsize, &mut cg) {
                Ok(()) => Some(cg),
                Err(e) => {
                    self.p.push(unreadable(format!("cylinder group {c}"), e));
                    None
                }
            };
            let inited = cg.as_ref().map_or(g.ipg, |b| self.inited(b));
            self.cgs.push(cg);
            let mut k = 0;
            while k < inited {
                let first = c * g.ipg + k;
                if let Err(e) = self.ufs.read_at(g.inode_byte(first), &mut block) {
                    self.p.push(unreadable(format!("inodes {first}.."), e));
                    k += inopb;
                    continue;
                }
                for j in 0..inopb {
                    let ino = first + j;
                    if ino >= u64::from(ROOTINO) {
                        let raw =
                            &block[(j as usize) * DINODE_SIZE..(j as usize + 1) * DINODE_SIZE];
                        self.inode(ino, raw);
                    }
                }
                k += inopb;
            }
        }
        self.report_duplicates();
    }

    /// Inodes initialized in a group (`cg_initediblk`), when the header says so sensibly.
    fn inited(&self, cg: &[u8]) -> u64 {
        let h = CgHeader::decode(cg);
        let n = u64::from(h.initediblk);
        if h.magic == CG_MAGIC && n <= self.g.ipg && n % self.g.inopb() == 0 {
            n
        } else {
            self.g.ipg
        }
    }

    fn inode(&mut self, ino: u64, raw: &[u8]) {
        let g = self.g.clone();
        let d = Dinode::decode(raw);
        if d.mode == 0 {
            if d.size != 0 || d.db.iter().chain(&d.ib).any(|a| *a != 0) {
                self.p.push(Problem::PartiallyAllocated { ino });
            }
            return;
        }
        self.inodes.insert(
            ino,
            InodeInfo {
                mode: d.mode,
                nlink: d.nlink,
                size: d.size,
                blocks: d.blocks,
                refs: 0,
                reached: false,
            },
        );
        if self.hashes(CK_INODE) {
            let computed = ckhash(raw, DINODE_CKHASH_OFFSET);
            if computed != d.ckhash {
                self.p.push(Problem::InodeHash {
                    ino,
                    stored: d.ckhash,
                    computed,
                });
            }
        }
        let size = d.size;
        let bad_size = |reason| Problem::BadSize { ino, size, reason };
        if size > g.maxfilesize() {
            self.p.push(bad_size("larger than fs_maxfilesize"));
            return;
        }
        let ifmt = d.mode & IFMT;
        match ifmt {
            IFDIR if size == 0 || !size.is_multiple_of(DIRBLKSIZ) => self.p.push(bad_size(
                "a directory's size must be a non-zero multiple of 512",
            )),
            IFCHR | IFBLK | IFIFO | IFSOCK => {
                if size != 0 {
                    self.p
                        .push(bad_size("devices, FIFOs and sockets have no data"));
                }
                let skip = usize::from(matches!(ifmt, IFCHR | IFBLK));
                if d.db[skip..].iter().chain(&d.ib).any(|a| *a != 0) || d.blocks != 0 {
                    self.p.push(Problem::StrayPointers {
                        ino,
                        what: "block pointers and di_blocks",
                    });
                }
                return;
            }
            IFDIR | IFREG | IFLNK => {}
            _ => {
                self.p.push(Problem::BadType { ino, mode: d.mode });
                return;
            }
        }
        if ifmt == IFLNK && size < MAXSYMLINKLEN && d.blocks == 0 {
            return;
        }
        let mut frags = 0u64;
        let mut events = Vec::new();
        let (claimed, dups) = (&mut self.claimed, &mut self.dup_claims);
        let sound = |addr: u64, n: u64| {
            addr.checked_add(n).is_some_and(|end| end <= g.size) && addr % g.frag + n <= g.frag
        };
        // Indirect blocks are claimed while walking, so one already owned is never
        // followed again (a shared or looping tree cannot blow up the walk).
        let walked = self.ufs.walk(&d, &mut |_, ptr| {
            events.push(ptr);
            let Ptr::Indirect { addr, .. } = ptr else {
                return false;
            };
            if !sound(addr, g.frag) {
                return false;
            }
            let mut dup = false;
            for f in addr..addr + g.frag {
                dup |= claimed.set(f);
            }
            if dup {
                dups.push((addr, g.frag));
            }
            !dup
        });
        if let Err(e) = walked {
            self.p
                .push(unreadable(format!("the blocks of inode {ino}"), e));
        }
        let is_dir = ifmt == IFDIR;
        for ptr in events {
            match ptr {
                Ptr::Data {
                    lbn,
                    addr,
                    frags: n,
                } => {
                    if sound(addr, n) {
                        self.claim(addr, n);
                        frags += n;
                    } else {
                        self.p.push(Problem::BadPointer { ino, lbn, addr });
                    }
                }
                Ptr::Indirect { lbn, addr, .. } => {
                    if sound(addr, g.frag) {
                        frags += g.frag;
                    } else {
                        self.p.push(Problem::BadPointer { ino, lbn, addr });
                    }
                }
                Ptr::Hole { lbn, .. } if is_dir => self.p.push(Problem::DirHole { dir: ino, lbn }),
                Ptr::Hole { .. } => {}
                Ptr::BeyondEof { lbn, addr } => {
                    self.p.push(Problem::PointerBeyondEof { ino, lbn, addr })
                }
            }
        }
        frags += self.ext_blocks(ino, &d);
        let actual = frags * (g.fsize / 512);
        if actual != d.blocks {
            self.p.push(Problem::BlockCount {
                ino,
                stored: d.blocks,
                actual,
            });
        }
    }

    /// Claims the extended-attribute blocks (`di_extb`); returns their fragments.
    fn ext_blocks(&mut self, ino: u64, d: &Dinode) -> u64 {
        let g = self.g.clone();
        let ext = u64::from(d.extsize);
        if ext > 2 * g.bsize {
            self.p.push(Problem::BadSize {
                ino,
                size: ext,
                reason: "extended attributes larger than two blocks",
            });
            return 0;
        }
        let mut frags = 0;
        let n = ext.div_ceil(g.bsize);
        for (i, &addr) in d.extb.iter().enumerate() {
            let (i, addr) = (i as u64, addr as u64);
            if i >= n {
                if addr != 0 {
                    self.p.push(Problem::StrayPointers {
                        ino,
                        what: "extended attribute pointers past di_extsize",
                    });
                }
                continue;
            }
            let len = if i + 1 == n {
                (ext - i * g.bsize).div_ceil(g.fsize)
            } else {
                g.frag
            };
            if addr == 0 {
                continue;
            }
            if addr.saturating_add(len) > g.size || addr % g.frag + len > g.frag {
                self.p.push(Problem::BadPointer { ino, lbn: i, addr });
                continue;
            }
            self.claim(addr, len);
            frags += len;
        }
        frags
    }

    /// Names every owner of each duplicated range (fsck's pass 1b): a second walk over
    /// block pointers only, done only when duplicates exist.
    fn report_duplicates(&mut self) {
        if self.dup_claims.is_empty() {
            return;
        }
        let g = self.g.clone();
        let mut dup = Bitmap::new(g.size);
        for &(a, n) in &self.dup_claims {
            dup.set_range(a, a + n);
        }
        let mut meta = Bitmap::new(g.size);
        mark_metadata(&g, &mut meta);
        let mut owners: HashMap<u64, Vec<Owner>> = HashMap::new();
        let inos: Vec<u64> = self.inodes.keys().copied().collect();
        for ino in inos {
            let Ok((d, _)) = self.ufs.dinode(ino) else {
                continue;
            };
            let ifmt = d.mode & IFMT;
            if !matches!(ifmt, IFDIR | IFREG | IFLNK)
                || (ifmt == IFLNK && d.size < MAXSYMLINKLEN && d.blocks == 0)
            {
                continue;
            }
            let mut ranges = Vec::new();
            let _ = self.ufs.walk(&d, &mut |_, ptr| match ptr {
                Ptr::Data { addr, frags, .. } => {
                    ranges.push((addr, frags));
                    false
                }
                Ptr::Indirect { addr, .. } => {
                    ranges.push((addr, g.frag));
                    addr % g.frag == 0 && addr + g.frag <= g.size
                }
                _ => false,
            });
            for (a, n) in ranges {
                for f in a..a.saturating_add(n).min(g.size) {
                    if dup.get(f) {
                        let o = owners.entry(f).or_default();
                        if o.last() != Some(&Owner::Inode(ino)) {
                            o.push(Owner::Inode(ino));
                        }
                    }
                }
            }
        }
        let mut seen = HashSet::new();
        for (addr, frags) in std::mem::take(&mut self.dup_claims) {
            if !seen.insert((addr, frags)) {
                continue;
            }
            let mut all: Vec<Owner> = Vec::new();
            for f in addr..addr + frags {
                if meta.get(f) {
                    all.push(Owner::Metadata);
                }
                all.extend(owners.get(&f).into_iter().flatten().copied());
            }
            all.sort();
            all.dedup();
            self.p.push(Problem::DuplicateBlock {
                addr,
                frags,
                owners: all,
            });
        }
    }

    /// Raw bytes of directory `ino`, if its size is backed by its blocks.
    fn dir_data(&mut self, ino: u64, info: &InodeInfo) -> Option<Vec<u8>> {
        if info.size > info.blocks.saturating_mul(512) || info.size > 1 << 31 {
            self.p.push(Problem::BadSize {
                ino,
                size: info.size,
                reason: "directory larger than its blocks",
            });
            return None;
        }
        let mut data = Vec::with_capacity(info.size as usize);
        match self.ufs.read_file(ino, &mut data) {
            Ok(_) => Some(data),
            Err(e) => {
                self.p.push(unreadable(format!("directory {ino}"), e));
                None
            }
        }
    }

    fn pass2_to_4(&mut self) {
        let root = u64::from(ROOTINO);
        match self.inodes.get(&root) {
            Some(i) if i.mode & IFMT == IFDIR => {}
            _ => {
                self.p.push(Problem::BadRoot);
                return;
            }
        }
        let mut queue = VecDeque::from([(root, root)]);
        if let Some(i) = self.inodes.get_mut(&root) {
            i.reached = true;
        }
        while let Some((dino, parent)) = queue.pop_front() {
            let Some(info) = self.inodes.get(&dino).cloned() else {
                continue;
            };
            let Some(data) = self.dir_data(dino, &info) else {
                continue;
            };
            let mut faults = Vec::new();
            let entries = dir::parse(&data, |offset, fault| faults.push((offset, fault)));
            for (offset, fault) in faults {
                self.p.push(Problem::DirEntry {
                    dir: dino,
                    offset,
                    fault,
                });
            }
            let show = |e: Option<&dir::RawEntry>| {
                e.map_or("nothing".to_string(), |e| {
                    format!("`{}` -> {}", String::from_utf8_lossy(&e.name), e.ino)
                })
            };
            let dot = entries.first();
            if dot.is_none_or(|e| e.offset != 0 || e.name != b"." || u64::from(e.ino) != dino) {
                self.p.push(Problem::DirDot {
                    dir: dino,
                    found: show(dot),
                });
            }
            let dotdot = entries.get(1);
            if dotdot
                .is_none_or(|e| e.offset != 12 || e.name != b".." || u64::from(e.ino) != parent)
            {
                self.p.push(Problem::DirDotDot {
                    dir: dino,
                    expected: parent,
                    found: show(dotdot),
                });
            }
            let mut names = HashSet::new();
            for (i, e) in entries.iter().enumerate() {
                let name = String::from_utf8_lossy(&e.name).into_owned();
                let ino = u64::from(e.ino);
                let special = e.name == b"." || e.name == b"..";
                if special && i >= 2 {
                    self.p.push(Problem::DirEntryTarget {
                        dir: dino,
                        name,
                        ino,
                        reason: "is a `.` or `..` out of place",
                    });
                    continue;
                }
                if !names.insert(e.name.clone()) {
                    self.p.push(Problem::DuplicateName {
                        dir: dino,
                        name: name.clone(),
                    });
                }
                let Some(target) = self.inodes.get_mut(&ino) else {
                    let reason = if ino >= self.g.inodes() {
                        "does not exist"
                    } else {
                        "is not allocated"
                    };
                    self.p.push(Problem::DirEntryTarget {
                        dir: dino,
                        name,
                        ino,
                        reason,
                    });
                    continue;
                };
                target.refs += 1;
                let expected = iftodt(target.mode);
                if e.dtype != expected {
                    self.p.push(Problem::DirEntryType {
                        dir: dino,
                        name: name.clone(),
                        found: e.dtype,
                        expected,
                    });
                }
                if special || target.mode & IFMT != IFDIR {
                    continue;
                }
                if target.reached {
                    self.p.push(Problem::DirMultipleParents { ino });
                } else {
                    target.reached = true;
                    queue.push_back((ino, dino));
                }
            }
        }
        for (&ino, info) in &self.inodes {
            if info.mode & IFMT == IFDIR && !info.reached {
                self.p.push(Problem::UnreachableDir { ino });
            }
            if info.refs == 0 {
                self.p.push(Problem::Unreferenced { ino });
            } else if i64::from(info.nlink) != info.refs as i64 {
                self.p.push(Problem::LinkCount {
                    ino,
                    stored: i64::from(info.nlink),
                    actual: info.refs,
                });
            }
        }
    }

    fn pass5(&mut self) {
        let g = self.g.clone();
        let mut inodes = Bitmap::new(g.inodes());
        inodes.set(0);
        inodes.set(1);
        let mut ndir = vec![0u64; g.ncg as usize];
        for (&ino, info) in &self.inodes {
            inodes.set(ino);
            if info.mode & IFMT == IFDIR {
                ndir[(ino / g.ipg) as usize] += 1;
            }
        }
        let mut csums = vec![0u8; g.cssize as usize];
        if let Err(e) = self.ufs.read_at(g.csaddr() * g.fsize, &mut csums) {
            self.p
                .push(unreadable("the cylinder-group summary array", e));
        }
        let off = g.cg_offsets();
        let mut total = Csum::default();
        let cgs = std::mem::take(&mut self.cgs);
        for (c, disk) in cgs.iter().enumerate() {
            let c = c as u64;
            let Some(disk) = disk else { continue };
            let h = CgHeader::decode(disk);
            let in_range = |v: u32, max: u64| if u64::from(v) < max { v } else { 0 };
            let extra = CgExtra {
                time: h.time,
                initediblk: h.initediblk,
                rotor: in_range(h.rotor, g.ndblk(c)),
                frotor: in_range(h.frotor, g.ndblk(c)),
                irotor: in_range(h.irotor, g.ipg),
                check_hash: self.hashes(CK_CYLGRP),
            };
            let (built, cs) = build_cg(&g, c, &inodes, &self.claimed, ndir[c as usize], extra);
            total.add(&cs);
            let entry = Csum::decode(csums.get(c as usize * 16..).unwrap_or(&[]));
            for (field, found, expected) in [
                ("cs_ndir", entry.ndir, cs.ndir),
                ("cs_nbfree", entry.nbfree, cs.nbfree),
                ("cs_nifree", entry.nifree, cs.nifree),
                ("cs_nffree", entry.nffree, cs.nffree),
            ] {
                if found != expected {
                    self.p.push(Problem::Csum {
                        cg: c,
                        field,
                        found,
                        expected,
                    });
                }
            }
            if h.magic != CG_MAGIC {
                self.p.push(Problem::CgMagic {
                    cg: c,
                    found: h.magic,
                });
                continue;
            }
            if self.hashes(CK_CYLGRP) {
                let computed = ckhash(disk, CG_CKHASH_OFFSET);
                if computed != h.ckhash {
                    self.p.push(Problem::CgHash {
                        cg: c,
                        stored: h.ckhash,
                        computed,
                    });
                }
            }
            let mut rebuilt = CgHeader::decode(&built);
            rebuilt.ckhash = h.ckhash;
            for d in h.diff(&rebuilt) {
                self.p.push(Problem::CgField {
                    cg: c,
                    field: format!("cg_{}", d.field),
                    found: d.left,
                    expected: d.right,
                });
            }
            let maps = [
                (CgMap::Inodes, off.iusedoff, off.iusedoff * 8 + g.ipg),
                (CgMap::Fragments, off.freeoff, off.freeoff * 8 + g.fpg),
            ];
            let mut ranges: Vec<(CgMap, u64, u64)> = maps.to_vec();
            if g.contigsumsize > 0 {
                ranges.push((
                    CgMap::ClusterSummary,
                    off.clustersumoff + 4,
                    off.clusteroff * 8,
                ));
                ranges.push((
                    CgMap::Clusters,
                    off.clusteroff,
                    off.clusteroff * 8 + g.fpg / g.frag,
                ));
            }
            for (map, start, end_bit) in ranges {
                let (mut bits, mut first) = (0u64, None);
                for bit in start * 8..end_bit {
                    let byte = (bit / 8) as usize;
                    let mask = 1u8 << (bit % 8);
                    let a = disk.get(byte).map_or(0, |b| b & mask);
                    let b = built.get(byte).map_or(0, |b| b & mask);
                    if a != b {
                        bits += 1;
                        first.get_or_insert(bit - start * 8);
                    }
                }
                if let Some(first) = first {
                    self.p.push(Problem::CgMapDiffers {
                        cg: c,
                        map,
                        bits,
                        first,
                    });
                }
            }
        }
        let disk = self.sb.cstotal;
        for (i, (field, expected)) in [
            ("cs_ndir", total.ndir),
            ("cs_nbfree", total.nbfree),
            ("cs_nifree", total.nifree),
            ("cs_nffree", total.nffree),
        ]
        .into_iter()
        .enumerate()
        {
            if disk[i] != expected {
                self.p.push(Problem::CsTotal {
                    field,
                    found: disk[i],
                    expected,
                });
            }
        }
    }
}
