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
    /// The superblock at byte 65536.
    Primary,
    /// The copy in the cylinder group numbered by the argument.
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
    /// The inode numbered by the argument (its data or indirect blocks).
    Inode(u64),
}

/// A cylinder-group map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgMap {
    /// The inode-used bitmap.
    Inodes,
    /// The free-fragment bitmap.
    Fragments,
    /// The counts of free clusters by size.
    ClusterSummary,
    /// The free-block (cluster) bitmap.
    Clusters,
}

/// One problem found by [`check`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("cannot read {what}: {error}")]
    /// A structure could not be read (I/O error or past the end of the image).
    Unreadable {
        /// The structure (e.g. "cylinder group 3").
        what: String,
        /// The error, as text.
        error: String,
    },
    #[error("no usable UFS2 superblock: {0}")]
    /// No valid UFS2 superblock; the text says why the candidate was refused.
    NoSuperblock(String),
    #[error("the image holds {len} bytes of the file system's {needed}")]
    /// The image is shorter than the file system the superblock describes.
    Truncated {
        /// Bytes the file system spans.
        needed: u64,
        /// Bytes the image has.
        len: u64,
    },
    #[error("superblock field {field} is {found}, expected {expected}")]
    /// A derived superblock field differs from what newfs would compute from the others.
    SuperblockField {
        /// The field's name (`fs_sblkno`).
        field: String,
        /// Its value on disk.
        found: String,
        /// The value recomputed.
        expected: String,
    },
    #[error("superblock state: {0}")]
    /// A superblock flag or tunable is out of range, or marks the file system unclean; the
    /// text names the field.
    SuperblockState(String),
    #[error("{copy}: check-hash {stored:#x}, computed {computed:#x}")]
    /// A superblock copy's check-hash does not match its contents.
    SuperblockHash {
        /// Which copy.
        copy: SbCopy,
        /// The hash stored in it.
        stored: u32,
        /// The hash of its contents.
        computed: u32,
    },
    #[error("superblock backup in group {cg} differs from the primary in {fields:?}")]
    /// A backup superblock differs from the primary in fields that must be equal.
    BackupDiffers {
        /// The group holding the backup.
        cg: u64,
        /// The fields that differ.
        fields: Vec<String>,
    },
    #[error("superblock backup in group {cg} says it is at byte {found}, it is at {expected}")]
    /// A backup superblock's `fs_sblockloc` is not where it is.
    BackupLocation {
        /// The group holding the backup.
        cg: u64,
        /// The location it records, in bytes.
        found: i64,
        /// Its actual location, in bytes.
        expected: u64,
    },
    #[error("recovery record before the superblock does not match it")]
    /// The 20-byte recovery record before the superblock disagrees with it.
    RecoveryRecord,
    #[error("cylinder group {cg}: magic {found:#x}")]
    /// A cylinder-group header has the wrong magic number.
    CgMagic {
        /// The group.
        cg: u64,
        /// The magic found.
        found: i32,
    },
    #[error("cylinder group {cg}: check-hash {stored:#x}, computed {computed:#x}")]
    /// A cylinder group's check-hash does not match its contents.
    CgHash {
        /// The group.
        cg: u64,
        /// The hash stored in the header.
        stored: u32,
        /// The hash of its contents.
        computed: u32,
    },
    #[error("cylinder group {cg}: {field} is {found}, rebuilt {expected}")]
    /// A header field differs from the value rebuilt from the inodes and blocks.
    CgField {
        /// The group.
        cg: u64,
        /// The field's name (`cg_ndblk`).
        field: String,
        /// Its value on disk.
        found: String,
        /// The rebuilt value.
        expected: String,
    },
    #[error("cylinder group {cg}: {map:?} map differs from the rebuilt one in {bits} bits, first at bit {first}")]
    /// One of a group's maps differs from the one rebuilt from the inodes.
    CgMapDiffers {
        /// The group.
        cg: u64,
        /// Which map.
        map: CgMap,
        /// How many bits differ.
        bits: u64,
        /// The first differing bit.
        first: u64,
    },
    #[error("summary array, group {cg}: {field} is {found}, rebuilt {expected}")]
    /// A group's entry in the summary array differs from its rebuilt counts.
    Csum {
        /// The group.
        cg: u64,
        /// The count (`cs_ndir`, `cs_nbfree`, ...).
        field: &'static str,
        /// Its value on disk.
        found: i64,
        /// The rebuilt value.
        expected: i64,
    },
    #[error("superblock total {field} is {found}, rebuilt {expected}")]
    /// A superblock total (`fs_cstotal`) differs from the sum of the groups' rebuilt counts.
    CsTotal {
        /// The count (`cs_ndir`, `cs_nbfree`, ...).
        field: &'static str,
        /// Its value on disk.
        found: i64,
        /// The rebuilt value.
        expected: i64,
    },
    #[error("inode {ino}: check-hash {stored:#x}, computed {computed:#x}")]
    /// An inode's check-hash does not match its contents.
    InodeHash {
        /// The inode.
        ino: u64,
        /// The hash stored in it.
        stored: u32,
        /// The hash of its contents.
        computed: u32,
    },
    #[error("inode {ino}: unallocated (mode 0) but has a size or block pointers")]
    /// An inode with mode 0 that still has a size or block pointers.
    PartiallyAllocated {
        /// The inode.
        ino: u64,
    },
    #[error("inode {ino}: mode {mode:#o} names no file type")]
    /// An inode whose mode names no file type.
    BadType {
        /// The inode.
        ino: u64,
        /// Its mode.
        mode: u16,
    },
    #[error("inode {ino}: size {size}: {reason}")]
    /// An inode's size is impossible for its type or blocks.
    BadSize {
        /// The inode.
        ino: u64,
        /// Its size in bytes.
        size: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
    #[error("inode {ino}: {what} should be zero")]
    /// Pointers or fields that must be zero for this inode's type are not.
    StrayPointers {
        /// The inode.
        ino: u64,
        /// Which ones.
        what: &'static str,
    },
    #[error("inode {ino}: pointer {addr} (lbn {lbn}) is outside the file system, misaligned or crosses a block")]
    /// A block pointer outside the data area, misaligned, or crossing a block.
    BadPointer {
        /// The inode.
        ino: u64,
        /// The logical block it maps.
        lbn: u64,
        /// The fragment address it holds.
        addr: u64,
    },
    #[error("inode {ino}: pointer {addr} past the end of the file (lbn {lbn})")]
    /// A pointer for a block past the end of the file.
    PointerBeyondEof {
        /// The inode.
        ino: u64,
        /// The logical block it maps.
        lbn: u64,
        /// The fragment address it holds.
        addr: u64,
    },
    #[error("fragments {addr}..{} are used more than once: {owners:?}", addr + frags)]
    /// Fragments claimed by more than one owner.
    DuplicateBlock {
        /// First fragment of the shared run.
        addr: u64,
        /// Number of fragments shared.
        frags: u64,
        /// Every owner of them.
        owners: Vec<Owner>,
    },
    #[error("inode {ino}: di_blocks is {stored}, its blocks add up to {actual}")]
    /// An inode's `di_blocks` differs from the blocks its pointers use.
    BlockCount {
        /// The inode.
        ino: u64,
        /// `di_blocks`, in 512-byte units.
        stored: u64,
        /// What its blocks add up to, in 512-byte units.
        actual: u64,
    },
    #[error("directory {dir}: no block at lbn {lbn}")]
    /// A directory with a hole: directories must have every block.
    DirHole {
        /// The directory's inode.
        dir: u64,
        /// The missing logical block.
        lbn: u64,
    },
    #[error("directory {dir}, offset {offset}: {fault}")]
    /// A malformed directory entry.
    DirEntry {
        /// The directory's inode.
        dir: u64,
        /// Byte offset of the entry in the directory.
        offset: u64,
        /// What is wrong with it.
        fault: EntryFault,
    },
    #[error("directory {dir}: first entry should be `.` naming itself, found {found}")]
    /// A directory's first entry is not `.` naming itself.
    DirDot {
        /// The directory's inode.
        dir: u64,
        /// What the first entry is.
        found: String,
    },
    #[error("directory {dir}: second entry should be `..` naming {expected}, found {found}")]
    /// A directory's second entry is not `..` naming its parent.
    DirDotDot {
        /// The directory's inode.
        dir: u64,
        /// The parent's inode.
        expected: u64,
        /// What the second entry is.
        found: String,
    },
    #[error("directory {dir}: `{name}` names inode {ino}, which {reason}")]
    /// An entry names an inode that is unallocated, out of range, or otherwise unfit.
    DirEntryTarget {
        /// The directory's inode.
        dir: u64,
        /// The entry's name.
        name: String,
        /// The inode it names.
        ino: u64,
        /// Why that inode is unfit.
        reason: &'static str,
    },
    #[error("directory {dir}: `{name}` has type {found}, its inode's is {expected}")]
    /// An entry's `d_type` differs from its inode's type.
    DirEntryType {
        /// The directory's inode.
        dir: u64,
        /// The entry's name.
        name: String,
        /// The `d_type` in the entry.
        found: u8,
        /// The type from the inode's mode.
        expected: u8,
    },
    #[error("directory {dir}: `{name}` appears more than once")]
    /// A name appears twice in one directory.
    DuplicateName {
        /// The directory's inode.
        dir: u64,
        /// The name.
        name: String,
    },
    #[error("directory {ino} is named by more than one directory")]
    /// A directory named by more than one parent (a directory hard link).
    DirMultipleParents {
        /// The directory's inode.
        ino: u64,
    },
    #[error("the root inode is not an allocated directory")]
    /// Inode 2 is not an allocated directory.
    BadRoot,
    #[error("directory {ino} is not reachable from the root")]
    /// A directory no path from the root reaches.
    UnreachableDir {
        /// The directory's inode.
        ino: u64,
    },
    #[error("inode {ino} is allocated but no directory names it")]
    /// An allocated inode no directory entry names.
    Unreferenced {
        /// The inode.
        ino: u64,
    },
    #[error("inode {ino}: link count {stored}, named {actual} times")]
    /// An inode's link count differs from the number of entries naming it.
    LinkCount {
        /// The inode.
        ino: u64,
        /// `di_nlink`.
        stored: i64,
        /// The entries naming it.
        actual: u64,
    },
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
