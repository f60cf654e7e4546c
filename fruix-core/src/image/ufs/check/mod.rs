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

mod pass1;
mod pass2;
mod pass5;
mod superblock;

use std::collections::BTreeMap;
use std::io::{Read, Seek};

use super::bitmap::Bitmap;
use super::dir::EntryFault;
use super::format::*;
use super::geometry::Geometry;
use super::read::Ufs;

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
    let Some((sb, raw, g)) = superblock::read(&mut r, offset, &mut problems) else {
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
    /// Bytes of the sound blocks pass 1 found (what a directory's size must fit in).
    allocated: u64,
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
}
