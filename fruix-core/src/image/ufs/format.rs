//! On-disk records of UFS2 (`struct fs`, `struct cg`, `struct ufs2_dinode`) and constants,
//! as FreeBSD's `sys/ufs/ffs/fs.h` and `sys/ufs/ufs/dinode.h` define them.
//!
//! Each record is declared once, as a list of `field: type = byte offset`, and the macro
//! derives decoding, encoding and a field-by-field comparison from that list, so the
//! writer, the reader and the checker cannot disagree about an offset. All integers are
//! little-endian (amd64/arm64 FreeBSD).

/// Byte address of the UFS2 superblock inside the file system.
pub const SBLOCK_UFS2: u64 = 65536;
/// Space reserved for a superblock (`SBLOCKSIZE`).
pub const SBLOCKSIZE: u64 = 8192;
/// Size of `struct fs`.
pub const SB_STRUCT_SIZE: usize = 1376;
/// Size of `struct cg` before its maps (`cg_space`).
pub const CG_STRUCT_SIZE: usize = 168;
/// Size of `struct ufs2_dinode`.
pub const DINODE_SIZE: usize = 256;
/// Size of `struct csum`.
pub const CSUM_SIZE: u64 = 16;

/// `fs_magic` of a UFS2 superblock.
pub const FS_UFS2_MAGIC: i32 = 0x1954_0119;
/// `cg_magic` of a cylinder-group header.
pub const CG_MAGIC: i32 = 0x0009_0255;

/// Inode number of the root directory.
pub const ROOTINO: u32 = 2;
/// Direct block pointers in an inode (`di_db`).
pub const NDADDR: usize = 12;
/// Indirect block pointers in an inode (`di_ib`): single, double, triple.
pub const NIADDR: usize = 3;
/// Symlinks shorter than this live inside the inode (`(NDADDR + NIADDR) * 8`).
pub const MAXSYMLINKLEN: u64 = 120;
/// Directory entries never cross a chunk of this size.
pub const DIRBLKSIZ: u64 = 512;
/// Longest name of a directory entry, in bytes.
pub const MAXNAMLEN: usize = 255;
/// Longest cluster counted in the cluster summaries.
pub const FS_MAXCONTIG: u32 = 16;
/// newfs wants at least this many cylinder groups before growing them.
pub const MINCYLGRPS: u64 = 4;
/// newfs keeps a cylinder group's header this far below a block.
pub const CGSIZEFUDGE: u64 = 8;
/// `MAXPHYS` on amd64 (1 MiB): newfs's default `maxcontig` is `MAXPHYS / bsize`.
pub const MAXPHYS: u32 = 1 << 20;
/// Offset of the 20-byte recovery record newfs leaves before the superblock.
pub const FSRECOVERY_OFFSET: u64 = SBLOCK_UFS2 - 20;

// fs_flags and fs_metackhash bits.
/// `fs_flags`: not cleanly unmounted.
pub const FS_UNCLEAN: i32 = 0x01;
/// `fs_flags`: soft updates on.
pub const FS_DOSOFTDEP: i32 = 0x02;
/// `fs_flags`: fsck must run before mounting.
pub const FS_NEEDSFSCK: i32 = 0x04;
/// `fs_flags`: soft-updates journaling on.
pub const FS_SUJ: i32 = 0x08;
/// `fs_flags`: `fs_metackhash` says which metadata carries check-hashes.
pub const FS_METACKHASH: i32 = 0x200;
/// fs_old_flags: "fs_flags and fs_sblockloc are valid"; readers rewrite both without it.
pub const FS_FLAGS_UPDATED: u8 = 0x80;
/// `fs_metackhash`: the superblock has a check-hash.
pub const CK_SUPERBLOCK: u32 = 0x01;
/// `fs_metackhash`: cylinder groups have check-hashes.
pub const CK_CYLGRP: u32 = 0x02;
/// `fs_metackhash`: inodes have check-hashes.
pub const CK_INODE: u32 = 0x04;
/// Every check-hash kind this code writes and verifies.
pub const CK_SUPPORTED: u32 = CK_SUPERBLOCK | CK_CYLGRP | CK_INODE;

// Inode modes.
/// Mask of the file-type bits of an inode mode.
pub const IFMT: u16 = 0o170000;
/// Mode type: named pipe.
pub const IFIFO: u16 = 0o010000;
/// Mode type: character device.
pub const IFCHR: u16 = 0o020000;
/// Mode type: directory.
pub const IFDIR: u16 = 0o040000;
/// Mode type: block device.
pub const IFBLK: u16 = 0o060000;
/// Mode type: regular file.
pub const IFREG: u16 = 0o100000;
/// Mode type: symbolic link.
pub const IFLNK: u16 = 0o120000;
/// Mode type: socket.
pub const IFSOCK: u16 = 0o140000;

/// Directory entry type (`d_type`) of an inode mode: `mode >> 12`, as `IFTODT`.
pub const fn iftodt(mode: u16) -> u8 {
    ((mode & IFMT) >> 12) as u8
}

/// A fixed-size little-endian value inside a record.
pub trait Field: Sized + std::fmt::Debug + PartialEq {
    /// Bytes the value takes on disk.
    const SIZE: usize;
    /// Reads the value at `off`; bytes outside `b` read as zero, so a short buffer never
    /// panics (callers size their buffers; this is the last line of defence).
    fn get(b: &[u8], off: usize) -> Self;
    /// Writes the value at `off`; bytes outside `b` are dropped.
    fn put(&self, b: &mut [u8], off: usize);
}

fn get_array<const N: usize>(b: &[u8], off: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = b.get(off..) {
        let n = src.len().min(N);
        out[..n].copy_from_slice(&src[..n]);
    }
    out
}

fn put_bytes(b: &mut [u8], off: usize, bytes: &[u8]) {
    if let Some(dst) = b.get_mut(off..) {
        let n = dst.len().min(bytes.len());
        dst[..n].copy_from_slice(&bytes[..n]);
    }
}

macro_rules! int_field {
    ($($t:ty),*) => {$(
        impl Field for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn get(b: &[u8], off: usize) -> Self {
                <$t>::from_le_bytes(get_array(b, off))
            }
            fn put(&self, b: &mut [u8], off: usize) {
                put_bytes(b, off, &self.to_le_bytes());
            }
        }
    )*};
}
int_field!(u8, i8, u16, i16, u32, i32, u64, i64);

impl<T: Field + Copy + Default, const N: usize> Field for [T; N] {
    const SIZE: usize = T::SIZE * N;
    fn get(b: &[u8], off: usize) -> Self {
        let mut out = [T::default(); N];
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = T::get(b, off + i * T::SIZE);
        }
        out
    }
    fn put(&self, b: &mut [u8], off: usize) {
        for (i, v) in self.iter().enumerate() {
            v.put(b, off + i * T::SIZE);
        }
    }
}

/// One field that differs between two records: name, then the two values shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDiff {
    /// The field's name in the record.
    pub field: &'static str,
    /// Its value in the first record, as `Debug` shows it.
    pub left: String,
    /// Its value in the second record.
    pub right: String,
}

macro_rules! record {
    ($(#[$m:meta])* pub struct $name:ident ($size:expr, $prefix:literal) { $( $(#[$fm:meta])* $f:ident : $t:ty = $off:expr ),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name { $(
            $(#[$fm])*
            #[doc = ""]
            #[doc = concat!("FreeBSD's `", $prefix, stringify!($f), "`, at byte ", stringify!($off), ".")]
            pub $f: $t
        ),* }

        impl Default for $name {
            /// All zeros.
            fn default() -> Self {
                Self::decode(&[])
            }
        }

        impl $name {
            /// Size of the record on disk.
            pub const SIZE: usize = $size;
            /// Decodes the record from the start of `b`.
            pub fn decode(b: &[u8]) -> Self {
                Self { $( $f: <$t as Field>::get(b, $off) ),* }
            }
            /// Encodes the record into the start of `b` (only its own fields' bytes).
            pub fn encode_into(&self, b: &mut [u8]) {
                $( <$t as Field>::put(&self.$f, b, $off); )*
            }
            /// Fields whose values differ, in declaration order.
            pub fn diff(&self, other: &Self) -> Vec<FieldDiff> {
                let mut out = Vec::new();
                $( if self.$f != other.$f {
                    out.push(FieldDiff {
                        field: stringify!($f),
                        left: format!("{:?}", self.$f),
                        right: format!("{:?}", other.$f),
                    });
                } )*
                out
            }
        }

        #[cfg(test)]
        impl $name {
            /// Every field's (offset, size), to test that fields tile the record.
            pub fn field_spans() -> Vec<(&'static str, usize, usize)> {
                vec![ $( (stringify!($f), $off, <$t as Field>::SIZE) ),* ]
            }
        }
    };
}

record! {
    /// `struct fs` (UFS2 fields; UFS1-only fields are kept as `old_*` and stay zero).
    pub struct Superblock (SB_STRUCT_SIZE, "fs_") {
        firstfield: i32 = 0,
        unused_1: i32 = 4,
        sblkno: i32 = 8,
        cblkno: i32 = 12,
        iblkno: i32 = 16,
        dblkno: i32 = 20,
        old_cgoffset: i32 = 24,
        old_cgmask: i32 = 28,
        old_time: i32 = 32,
        old_size: i32 = 36,
        old_dsize: i32 = 40,
        ncg: u32 = 44,
        bsize: i32 = 48,
        fsize: i32 = 52,
        frag: i32 = 56,
        minfree: i32 = 60,
        old_rotdelay: i32 = 64,
        old_rps: i32 = 68,
        bmask: i32 = 72,
        fmask: i32 = 76,
        bshift: i32 = 80,
        fshift: i32 = 84,
        maxcontig: i32 = 88,
        maxbpg: i32 = 92,
        fragshift: i32 = 96,
        fsbtodb: i32 = 100,
        sbsize: i32 = 104,
        spare1: [i32; 2] = 108,
        nindir: i32 = 116,
        inopb: u32 = 120,
        old_nspf: i32 = 124,
        optim: i32 = 128,
        old_npsect: i32 = 132,
        old_interleave: i32 = 136,
        old_trackskew: i32 = 140,
        id: [i32; 2] = 144,
        old_csaddr: i32 = 152,
        cssize: i32 = 156,
        cgsize: i32 = 160,
        spare2: i32 = 164,
        old_nsect: i32 = 168,
        old_spc: i32 = 172,
        old_ncyl: i32 = 176,
        old_cpg: i32 = 180,
        ipg: u32 = 184,
        fpg: i32 = 188,
        old_cstotal: [i32; 4] = 192,
        fmod: i8 = 208,
        clean: i8 = 209,
        ronly: i8 = 210,
        old_flags: u8 = 211,
        fsmnt: [u8; 468] = 212,
        volname: [u8; 32] = 680,
        swuid: u64 = 712,
        pad: i32 = 720,
        cgrotor: i32 = 724,
        ocsp: [u64; 15] = 728,
        si: u64 = 848,
        old_cpc: i32 = 856,
        maxbsize: i32 = 860,
        unrefs: i64 = 864,
        providersize: i64 = 872,
        metaspace: i64 = 880,
        save_maxfilesize: u64 = 888,
        sparecon64: [i64; 12] = 896,
        sblockactualloc: i64 = 992,
        sblockloc: i64 = 1000,
        /// `fs_cstotal`: ndir, nbfree, nifree, nffree, numclusters, 3 spares.
        cstotal: [i64; 8] = 1008,
        time: i64 = 1072,
        size: i64 = 1080,
        dsize: i64 = 1088,
        csaddr: i64 = 1096,
        pendingblocks: i64 = 1104,
        pendinginodes: u32 = 1112,
        snapinum: [u32; 20] = 1116,
        avgfilesize: u32 = 1196,
        avgfpdir: u32 = 1200,
        available_spare: i32 = 1204,
        mtime: i64 = 1208,
        sujfree: i32 = 1216,
        sparecon32: [i32; 21] = 1220,
        ckhash: u32 = 1304,
        metackhash: u32 = 1308,
        flags: i32 = 1312,
        contigsumsize: i32 = 1316,
        maxsymlinklen: i32 = 1320,
        old_inodefmt: i32 = 1324,
        maxfilesize: u64 = 1328,
        qbmask: i64 = 1336,
        qfmask: i64 = 1344,
        state: i32 = 1352,
        old_postblformat: i32 = 1356,
        old_nrpos: i32 = 1360,
        spare5: [i32; 2] = 1364,
        magic: i32 = 1372,
    }
}

/// Byte offset of `fs_sblockactualloc`, which differs between the primary and its backups.
pub const SB_ACTUALLOC_OFFSET: usize = 992;
/// Byte offset of `fs_ckhash`, which differs between copies too (the hash is computed
/// with it zeroed).
pub const SB_CKHASH_OFFSET: usize = 1304;

record! {
    /// `struct cg`, the header of a cylinder group block (its maps follow at the offsets it names).
    pub struct CgHeader (CG_STRUCT_SIZE, "cg_") {
        firstfield: i32 = 0,
        magic: i32 = 4,
        old_time: i32 = 8,
        cgx: u32 = 12,
        old_ncyl: i16 = 16,
        old_niblk: i16 = 18,
        ndblk: u32 = 20,
        /// `cg_cs`: ndir, nbfree, nifree, nffree.
        cs: [i32; 4] = 24,
        rotor: u32 = 40,
        frotor: u32 = 44,
        irotor: u32 = 48,
        frsum: [u32; 8] = 52,
        old_btotoff: i32 = 84,
        old_boff: i32 = 88,
        iusedoff: u32 = 92,
        freeoff: u32 = 96,
        nextfreeoff: u32 = 100,
        clustersumoff: u32 = 104,
        clusteroff: u32 = 108,
        nclusterblks: u32 = 112,
        niblk: u32 = 116,
        initediblk: u32 = 120,
        unrefs: u32 = 124,
        sparecon32: i32 = 128,
        ckhash: u32 = 132,
        time: i64 = 136,
        sparecon64: [i64; 3] = 144,
    }
}

/// Byte offset of `cg_ckhash` (the hash is computed with this field zeroed).
pub const CG_CKHASH_OFFSET: usize = 132;

record! {
    /// `struct ufs2_dinode`. Inline symlink targets overlay `db` and `ib` (bytes 112..232).
    pub struct Dinode (DINODE_SIZE, "di_") {
        mode: u16 = 0,
        nlink: i16 = 2,
        uid: u32 = 4,
        gid: u32 = 8,
        blksize: u32 = 12,
        size: u64 = 16,
        /// Allocated space in 512-byte units, indirect blocks included.
        blocks: u64 = 24,
        atime: i64 = 32,
        mtime: i64 = 40,
        ctime: i64 = 48,
        birthtime: i64 = 56,
        mtimensec: i32 = 64,
        atimensec: i32 = 68,
        ctimensec: i32 = 72,
        birthnsec: i32 = 76,
        gen: u32 = 80,
        kernflags: u32 = 84,
        flags: u32 = 88,
        extsize: u32 = 92,
        extb: [i64; 2] = 96,
        /// Direct block pointers; `db[0]` is the device number of device inodes.
        db: [i64; 12] = 112,
        ib: [i64; 3] = 208,
        modrev: u64 = 232,
        freelink: u32 = 240,
        ckhash: u32 = 244,
        spare: [u32; 2] = 248,
    }
}

/// Where inline symlink bytes live inside an inode.
pub const DINODE_SHORTLINK: std::ops::Range<usize> = 112..232;
/// Byte offset of `di_ckhash` (the hash is computed with this field zeroed).
pub const DINODE_CKHASH_OFFSET: usize = 244;

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_tiles(name: &str, mut spans: Vec<(&'static str, usize, usize)>, size: usize) {
        spans.sort_by_key(|s| s.1);
        let mut at = 0;
        for (field, off, len) in spans {
            assert_eq!(off, at, "{name}.{field} should start at {at}");
            at = off + len;
        }
        assert_eq!(at, size, "{name} fields should end at its size");
    }

    #[test]
    fn records_tile_their_structs_exactly() {
        assert_tiles("fs", Superblock::field_spans(), Superblock::SIZE);
        assert_tiles("cg", CgHeader::field_spans(), CgHeader::SIZE);
        assert_tiles("dinode", Dinode::field_spans(), Dinode::SIZE);
    }

    #[test]
    fn round_trips_and_diffs() {
        let sb = Superblock {
            magic: FS_UFS2_MAGIC,
            cstotal: [1, 2, 3, 4, 0, 0, 0, 0],
            volname: *b"root\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
            ..Default::default()
        };
        let mut buf = vec![0u8; Superblock::SIZE];
        sb.encode_into(&mut buf);
        assert_eq!(&buf[1372..1376], &0x1954_0119i32.to_le_bytes());
        assert_eq!(Superblock::decode(&buf), sb);
        let mut other = sb.clone();
        other.ncg = 4;
        let diff = sb.diff(&other);
        assert_eq!(diff.len(), 1);
        assert_eq!(diff[0].field, "ncg");
        // A short buffer reads zeros instead of panicking.
        assert_eq!(Superblock::decode(&buf[..10]).magic, 0);
    }
}
