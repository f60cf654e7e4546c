//! The checker against damaged images: each corruption, made at a different place, is
//! reported as the problem it is; garbage and truncated input never panics or hangs.
//!
//! Corruptions that should be found by more than their check-hash re-hash the record
//! afterwards, so the test proves the semantic check, not just the hash.

mod ufs_common;

use std::io::Cursor;

use fruix_core::image::ufs::check::{CgMap, Owner, Problem, SbCopy};
use fruix_core::image::ufs::dir::EntryFault;
use fruix_core::image::ufs::format::*;
use fruix_core::image::ufs::{check, Geometry, Ufs, UfsLayout, UfsOptions};
use fruix_core::tree::{FileTree, NodeKind};
use ufs_common::*;

/// FreeBSD's check-hash (CRC-32C without the final inversion) with the field zeroed.
fn ckhash(data: &[u8], field: usize) -> u32 {
    let mut copy = data.to_vec();
    copy[field..field + 4].fill(0);
    !crc32c(&copy)
}

fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn tree() -> FileTree {
    let dirm = meta(0, 0, 0o755);
    let mut t = FileTree::new(dirm);
    let mut add = |p: &str, n| t.insert(p.as_bytes(), n, dirm).unwrap();
    add("etc/motd", file(0o644, b"hello\n".to_vec()));
    add("etc/big", file(0o644, bytes(1, 32768 * 13 + 10)));
    add("etc/tail", file(0o644, bytes(2, 5000)));
    add("bin/sh", file(0o555, bytes(3, 70000)));
    add(
        "bin/sh-link",
        node(meta(0, 0, 0), NodeKind::HardLink(b"bin/sh".to_vec())),
    );
    add("usr/share/doc/readme", file(0o644, b"read me\n".to_vec()));
    add(
        "link",
        node(meta(0, 0, 0o755), NodeKind::Symlink(b"etc/motd".to_vec())),
    );
    t
}

/// A clean image with known places to damage.
struct Img {
    bytes: Vec<u8>,
    g: Geometry,
}

impl Img {
    fn new() -> Img {
        let t = tree();
        let opts = UfsOptions {
            size: Some(24 << 20),
            ..UfsOptions::default()
        };
        let layout = UfsLayout::plan(&t, &opts).unwrap();
        let mut c = Cursor::new(Vec::new());
        layout.write_to(&mut c, 0).unwrap();
        let img = Img {
            bytes: c.into_inner(),
            g: layout.geometry.clone(),
        };
        assert_eq!(img.check(), vec![], "the undamaged image is clean");
        img
    }
    fn check(&self) -> Vec<Problem> {
        check(Cursor::new(&self.bytes))
    }
    fn reader(&self) -> Ufs<Cursor<&Vec<u8>>> {
        Ufs::open(Cursor::new(&self.bytes), 0).unwrap()
    }
    fn ino(&self, path: &str) -> u64 {
        self.reader().lookup(path.as_bytes()).unwrap()
    }
    fn inode_at(&self, ino: u64) -> usize {
        self.g.inode_byte(ino) as usize
    }
    fn dinode(&self, ino: u64) -> Dinode {
        let at = self.inode_at(ino);
        Dinode::decode(&self.bytes[at..at + DINODE_SIZE])
    }
    /// Changes inode `ino` and re-hashes it.
    fn edit_inode(&mut self, ino: u64, f: impl FnOnce(&mut Dinode)) {
        let at = self.inode_at(ino);
        let mut d = self.dinode(ino);
        f(&mut d);
        d.encode_into(&mut self.bytes[at..at + DINODE_SIZE]);
        self.rehash_inode(ino);
    }
    fn rehash_inode(&mut self, ino: u64) {
        let at = self.inode_at(ino);
        let h = ckhash(&self.bytes[at..at + DINODE_SIZE], DINODE_CKHASH_OFFSET);
        self.bytes[at + DINODE_CKHASH_OFFSET..at + DINODE_CKHASH_OFFSET + 4]
            .copy_from_slice(&h.to_le_bytes());
    }
    fn cg_at(&self, c: u64) -> usize {
        (self.g.cgtod(c) * self.g.fsize) as usize
    }
    fn rehash_cg(&mut self, c: u64) {
        let at = self.cg_at(c);
        let h = ckhash(
            &self.bytes[at..at + self.g.cgsize as usize],
            CG_CKHASH_OFFSET,
        );
        self.bytes[at + CG_CKHASH_OFFSET..at + CG_CKHASH_OFFSET + 4]
            .copy_from_slice(&h.to_le_bytes());
    }
    fn edit_cg(&mut self, c: u64, f: impl FnOnce(&mut [u8])) {
        let at = self.cg_at(c);
        f(&mut self.bytes[at..at + self.g.cgsize as usize]);
        self.rehash_cg(c);
    }
    /// Changes the superblock copy at byte `at` and re-hashes it.
    fn edit_sb(&mut self, at: usize, f: impl FnOnce(&mut Superblock)) {
        let mut sb = Superblock::decode(&self.bytes[at..]);
        f(&mut sb);
        sb.encode_into(&mut self.bytes[at..at + SB_STRUCT_SIZE]);
        let h = ckhash(&self.bytes[at..at + 4096], SB_CKHASH_OFFSET);
        self.bytes[at + SB_CKHASH_OFFSET..at + SB_CKHASH_OFFSET + 4]
            .copy_from_slice(&h.to_le_bytes());
    }
    /// Every superblock copy: primary and backups.
    fn edit_all_sbs(&mut self, f: impl Fn(&mut Superblock)) {
        self.edit_sb(SBLOCK_UFS2 as usize, &f);
        for c in 0..self.g.ncg {
            let at = (self.g.cgsblock(c) * self.g.fsize) as usize;
            self.edit_sb(at, &f);
        }
    }
    /// Byte offset of the first data fragment of inode `ino`.
    fn data_at(&self, ino: u64) -> usize {
        (self.dinode(ino).db[0] as u64 * self.g.fsize) as usize
    }
}

macro_rules! expect {
    ($problems:expr, $pat:pat $(if $guard:expr)?) => {{
        let problems = $problems;
        assert!(
            problems.iter().any(|p| matches!(p, $pat $(if $guard)?)),
            "expected {} among {problems:#?}",
            stringify!($pat)
        );
        problems
    }};
}

#[test]
fn superblock_damage() {
    let primary = SBLOCK_UFS2 as usize;
    let mut i = Img::new();
    i.bytes[primary + 680] ^= 0x20; // volume label, hash not updated
    expect!(
        i.check(),
        Problem::SuperblockHash {
            copy: SbCopy::Primary,
            ..
        }
    );

    let mut i = Img::new();
    i.edit_sb(primary, |sb| sb.dblkno += 8);
    let p = expect!(i.check(), Problem::SuperblockField { field, .. } if field == "fs_dblkno");
    expect!(p, Problem::BackupDiffers { cg: 0, .. });

    let mut i = Img::new();
    i.edit_all_sbs(|sb| sb.maxfilesize -= 1);
    expect!(i.check(), Problem::SuperblockField { field, .. } if field == "fs_maxfilesize");

    let mut i = Img::new();
    i.edit_all_sbs(|sb| sb.dsize += 1);
    expect!(i.check(), Problem::SuperblockField { field, .. } if field == "fs_dsize");

    let mut i = Img::new();
    i.edit_all_sbs(|sb| sb.cstotal[1] += 1);
    expect!(
        i.check(),
        Problem::CsTotal {
            field: "cs_nbfree",
            ..
        }
    );

    let mut i = Img::new();
    i.edit_all_sbs(|sb| sb.flags |= FS_NEEDSFSCK);
    expect!(i.check(), Problem::SuperblockState(_));

    let mut i = Img::new();
    i.edit_all_sbs(|sb| sb.old_flags = 0);
    expect!(i.check(), Problem::SuperblockState(_));

    let mut i = Img::new();
    let at = (i.g.cgsblock(2) * i.g.fsize) as usize;
    i.edit_sb(at, |sb| sb.cstotal[0] = 99);
    expect!(i.check(), Problem::BackupDiffers { cg: 2, .. });

    let mut i = Img::new();
    let at = (i.g.cgsblock(1) * i.g.fsize) as usize;
    i.edit_sb(at, |sb| sb.sblockactualloc = 65536);
    expect!(i.check(), Problem::BackupLocation { cg: 1, .. });

    let mut i = Img::new();
    let at = (i.g.cgsblock(3) * i.g.fsize) as usize;
    i.bytes[at + 2000] = 1; // past struct fs but inside fs_sbsize: only the hash sees it
    expect!(
        i.check(),
        Problem::SuperblockHash {
            copy: SbCopy::Backup(3),
            ..
        }
    );

    let mut i = Img::new();
    i.bytes[FSRECOVERY_OFFSET as usize + 12] ^= 1;
    expect!(i.check(), Problem::RecoveryRecord);

    let mut i = Img::new();
    i.bytes[primary + 1372] = 0; // magic
    expect!(i.check(), Problem::NoSuperblock(_));

    let mut i = Img::new();
    i.edit_sb(primary, |sb| sb.fpg = 7); // not a multiple of frag
    expect!(i.check(), Problem::NoSuperblock(_));
}

#[test]
fn cylinder_group_damage() {
    let mut i = Img::new();
    let at = i.cg_at(1);
    i.bytes[at + 4] ^= 0xff; // magic
    expect!(i.check(), Problem::CgMagic { cg: 1, .. });

    let mut i = Img::new();
    let at = i.cg_at(2);
    i.bytes[at + 40] = 3; // rotor, hash not updated
    expect!(i.check(), Problem::CgHash { cg: 2, .. });

    let off = Img::new().g.cg_offsets();
    let mut i = Img::new();
    i.edit_cg(0, |b| b[off.freeoff as usize + 10] ^= 0x10);
    expect!(
        i.check(),
        Problem::CgMapDiffers {
            cg: 0,
            map: CgMap::Fragments,
            bits: 1,
            ..
        }
    );

    let mut i = Img::new();
    i.edit_cg(1, |b| b[off.iusedoff as usize + 3] ^= 0x01);
    expect!(
        i.check(),
        Problem::CgMapDiffers {
            cg: 1,
            map: CgMap::Inodes,
            ..
        }
    );

    let mut i = Img::new();
    i.edit_cg(3, |b| b[off.clusteroff as usize + 2] ^= 0x01);
    expect!(
        i.check(),
        Problem::CgMapDiffers {
            cg: 3,
            map: CgMap::Clusters,
            ..
        }
    );

    let mut i = Img::new();
    i.edit_cg(3, |b| b[off.clustersumoff as usize + 8] ^= 0x01);
    expect!(
        i.check(),
        Problem::CgMapDiffers {
            cg: 3,
            map: CgMap::ClusterSummary,
            ..
        }
    );

    let mut i = Img::new();
    i.edit_cg(1, |b| b[28] = b[28].wrapping_add(1)); // cg_cs.cs_nbfree
    expect!(i.check(), Problem::CgField { cg: 1, field, .. } if field == "cg_cs");

    let mut i = Img::new();
    i.edit_cg(2, |b| b[116] ^= 0x80); // cg_niblk
    expect!(i.check(), Problem::CgField { cg: 2, field, .. } if field == "cg_niblk");

    let mut i = Img::new();
    i.edit_cg(0, |b| b[52 + 4] = b[52 + 4].wrapping_add(1)); // cg_frsum[1]
    expect!(i.check(), Problem::CgField { cg: 0, field, .. } if field == "cg_frsum");

    let mut i = Img::new();
    let at = (i.g.csaddr() * i.g.fsize) as usize + 16 + 8; // group 1's nifree
    i.bytes[at] = i.bytes[at].wrapping_add(1);
    expect!(
        i.check(),
        Problem::Csum {
            cg: 1,
            field: "cs_nifree",
            ..
        }
    );
}

#[test]
fn inode_damage() {
    let mut i = Img::new();
    let ino = i.ino("etc/motd");
    let at = i.inode_at(ino);
    i.bytes[at + 40] ^= 1; // mtime, hash not updated
    expect!(i.check(), Problem::InodeHash { ino: x, .. } if *x == ino);

    let mut i = Img::new();
    i.edit_inode(ino, |d| d.nlink = 3);
    expect!(i.check(), Problem::LinkCount { ino: x, stored: 3, actual: 1 } if *x == ino);

    let mut i = Img::new();
    i.edit_inode(ino, |d| d.blocks += 8);
    expect!(i.check(), Problem::BlockCount { ino: x, .. } if *x == ino);

    let mut i = Img::new();
    i.edit_inode(ino, |d| d.mode = 0o170644);
    expect!(i.check(), Problem::BadType { ino: x, .. } if *x == ino);

    let mut i = Img::new();
    let dir = i.ino("etc");
    i.edit_inode(dir, |d| d.size = 700);
    expect!(i.check(), Problem::BadSize { ino: x, .. } if *x == dir);

    let mut i = Img::new();
    let (a, b) = (i.ino("etc/motd"), i.ino("usr/share/doc/readme"));
    let theirs = i.dinode(b).db[0];
    i.edit_inode(a, |d| d.db[0] = theirs);
    let owners = vec![Owner::Inode(a.min(b)), Owner::Inode(a.max(b))];
    expect!(i.check(), Problem::DuplicateBlock { owners: o, .. } if *o == owners);

    let mut i = Img::new();
    let meta = (i.g.cgsblock(1)) as i64;
    i.edit_inode(a, |d| d.db[0] = meta);
    expect!(i.check(), Problem::DuplicateBlock { owners: o, .. } if o.contains(&Owner::Metadata));

    let mut i = Img::new();
    let past = i.g.size as i64 + 100;
    i.edit_inode(a, |d| d.db[0] = past);
    expect!(i.check(), Problem::BadPointer { ino: x, .. } if *x == a);

    let mut i = Img::new();
    i.edit_inode(a, |d| d.db[5] = 1000);
    expect!(i.check(), Problem::PointerBeyondEof { ino: x, lbn: 5, .. } if *x == a);

    let mut i = Img::new();
    let big = i.ino("etc/big");
    let ind = (i.dinode(big).ib[0] as u64 * i.g.fsize) as usize;
    i.bytes[ind..ind + 8].copy_from_slice(&(i.g.size as i64 * 2).to_le_bytes());
    expect!(i.check(), Problem::BadPointer { ino: x, lbn: 12, .. } if *x == big);

    // An unallocated inode that still has a size.
    let mut i = Img::new();
    let free = i.g.ipg + 5; // group 1 holds no files
    let at = i.inode_at(free);
    i.bytes[at + 16] = 1;
    expect!(i.check(), Problem::PartiallyAllocated { ino: x } if *x == free);

    // An allocated inode no directory names.
    let mut i = Img::new();
    let orphan = i.ino("usr/share/doc/readme") + 1;
    i.edit_inode(orphan, |d| {
        d.mode = IFREG | 0o644;
        d.nlink = 1;
    });
    let p = expect!(i.check(), Problem::Unreferenced { ino: x } if *x == orphan);
    expect!(
        p,
        Problem::CgMapDiffers {
            cg: 0,
            map: CgMap::Inodes,
            ..
        }
    );
}

#[test]
fn directory_damage() {
    let root = u64::from(ROOTINO);
    // Entry offsets in the root directory: "." at 0, ".." at 12, then "bin" at 24.
    let setup = || {
        let i = Img::new();
        let at = i.data_at(root);
        (i, at)
    };
    let (mut i, at) = setup();
    i.bytes[at + 24 + 4..at + 24 + 6].copy_from_slice(&6u16.to_le_bytes());
    expect!(i.check(), Problem::DirEntry { dir, fault: EntryFault::BadReclen(6), .. } if *dir == root);

    let (mut i, at) = setup();
    i.bytes[at + 24 + 9] = b'/'; // "bin" -> "b/n"
    expect!(
        i.check(),
        Problem::DirEntry {
            fault: EntryFault::BadNameByte,
            ..
        }
    );

    let (mut i, at) = setup();
    i.bytes[at + 24 + 8 + 3] = b'x'; // overwrite the NUL after "bin"
    expect!(
        i.check(),
        Problem::DirEntry {
            fault: EntryFault::Unterminated,
            ..
        }
    );

    let (mut i, at) = setup();
    i.bytes[at + 24 + 6] = 8; // "bin" says regular file
    expect!(
        i.check(),
        Problem::DirEntryType {
            found: 8,
            expected: 4,
            ..
        }
    );

    let (mut i, at) = setup();
    let free = (i.g.ipg * 2 + 9) as u32;
    i.bytes[at + 24..at + 28].copy_from_slice(&free.to_le_bytes());
    expect!(
        i.check(),
        Problem::DirEntryTarget {
            reason: "is not allocated",
            ..
        }
    );

    let (mut i, at) = setup();
    i.bytes[at..at + 4].copy_from_slice(&5u32.to_le_bytes());
    expect!(i.check(), Problem::DirDot { dir, .. } if *dir == root);

    let mut i = Img::new();
    let etc = i.ino("etc");
    let at = i.data_at(etc);
    i.bytes[at + 12..at + 16].copy_from_slice(&(etc as u32).to_le_bytes());
    expect!(i.check(), Problem::DirDotDot { dir, expected, .. } if *dir == etc && *expected == root);

    // A second name for a directory: "link" (last root entry) now names "etc".
    let mut i = Img::new();
    let at = i.data_at(root);
    let link_ino = i.ino("link") as u32;
    let pos = (0..512)
        .step_by(4)
        .find(|o| i.bytes[at + o..at + o + 4] == link_ino.to_le_bytes())
        .unwrap();
    i.bytes[at + pos..at + pos + 4].copy_from_slice(&(etc as u32).to_le_bytes());
    i.bytes[at + pos + 6] = 4;
    let p = expect!(i.check(), Problem::DirMultipleParents { ino } if *ino == etc);
    expect!(p, Problem::Unreferenced { ino } if *ino == u64::from(link_ino));
}

#[test]
fn truncated_and_garbage_input_never_panics() {
    let clean = Img::new();
    let len = clean.bytes.len();
    // Cut everywhere from inside the superblock to the last fragment.
    for cut in (0..len)
        .step_by(len / 97)
        .chain([len - 1, 70000, 65536 + 1376])
    {
        let problems = check(Cursor::new(&clean.bytes[..cut]));
        assert!(!problems.is_empty(), "cut at {cut} went unnoticed");
    }
    expect!(
        check(Cursor::new(&clean.bytes[..len - 4096])),
        Problem::Truncated { .. }
    );
    for garbage in [
        vec![],
        vec![0u8; 1 << 20],
        vec![0xffu8; 1 << 20],
        bytes(9, 1 << 20),
    ] {
        assert!(!check(Cursor::new(garbage)).is_empty());
    }
    // A sound superblock over garbage: everything below it is noise.
    let mut noisy = bytes(10, len);
    let sb = SBLOCK_UFS2 as usize;
    noisy[sb..sb + 4096].copy_from_slice(&clean.bytes[sb..sb + 4096]);
    assert!(!check(Cursor::new(noisy)).is_empty());
}

#[test]
fn every_flipped_bit_in_hashed_metadata_is_reported() {
    let clean = Img::new();
    let g = clean.g.clone();
    let mut regions = vec![(SBLOCK_UFS2, 4096u64)];
    for c in 0..g.ncg {
        regions.push((g.cgsblock(c) * g.fsize, 4096));
        regions.push((g.cgtod(c) * g.fsize, g.cgsize));
    }
    // Allocated inodes only: fsck cannot tell a changed time in a free inode either, and
    // a renamed directory entry is still well-formed.
    let last = clean.ino("usr/share/doc/readme");
    regions.push((g.inode_byte(2), (last - 1) * DINODE_SIZE as u64));
    let mut seed = 12345u64;
    for n in 0..400 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let (start, len) = regions[(seed >> 33) as usize % regions.len()];
        let at = (start + (seed >> 7) % len) as usize;
        let mut i = Img {
            bytes: clean.bytes.clone(),
            g: g.clone(),
        };
        i.bytes[at] ^= 1 << (seed % 8);
        assert!(
            !i.check().is_empty(),
            "flip {n} at byte {at} went unnoticed"
        );
    }
}
