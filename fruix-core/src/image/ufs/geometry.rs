//! File-system geometry: block and fragment sizes, cylinder groups, where each group's
//! superblock copy, header, inodes and data start. Computed from the size the way
//! FreeBSD's newfs (`sbin/newfs/mkfs.c`) does, so the kernel's superblock validation,
//! which insists on newfs's formulas, accepts it.

use super::format::{
    CGSIZEFUDGE, CG_STRUCT_SIZE, CSUM_SIZE, DINODE_SIZE, FS_MAXCONTIG, MAXPHYS, MINCYLGRPS, NDADDR,
    NIADDR, SBLOCKSIZE, SBLOCK_UFS2,
};

/// The tunables newfs exposes; the defaults are newfs's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// Block size in bytes (`-b`): a power of two from 4096 to 65536.
    pub bsize: u32,
    /// Fragment size in bytes (`-f`): a power of two, bsize/8 ..= bsize, at least 512.
    pub fsize: u32,
    /// Bytes of file-system space per inode (`-i`).
    pub density: u32,
    /// Percentage of space reserved for root (`-m`).
    pub minfree: u32,
    /// Maximum contiguous blocks the allocator clusters (`-a`).
    pub maxcontig: u32,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            bsize: 32768,
            fsize: 4096,
            // newfs: NFPI (2) fragments per inode.
            density: 2 * 4096,
            minfree: 8,
            maxcontig: MAXPHYS / 32768,
        }
    }
}

/// Why no geometry exists for a size and parameters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GeometryError {
    #[error("block size {bsize} and fragment size {fsize}: need powers of two, 4096 <= block <= 65536, block/8 <= fragment <= block, fragment >= 512")]
    /// Block and fragment sizes newfs would refuse.
    BadSizes {
        /// Block size asked for, in bytes.
        bsize: u32,
        /// Fragment size asked for, in bytes.
        fsize: u32,
    },
    #[error("bytes per inode {0} is below the fragment size")]
    /// Bytes per inode (the argument) below the fragment size.
    BadDensity(u32),
    #[error("minfree {0}% is above 99%")]
    /// A minfree percentage (the argument) above 99.
    BadMinfree(u32),
    #[error("{given} bytes is smaller than the smallest UFS2 file system ({needed} bytes)")]
    /// The size is below the smallest UFS2 file system these parameters allow.
    TooSmall {
        /// The smallest size, in bytes.
        needed: u64,
        /// The size asked for, in bytes.
        given: u64,
    },
    #[error("{0} bytes holds more than 2^32 inodes")]
    /// The size (in bytes) would need more inodes than a 32-bit inode number can name.
    TooLarge(u64),
}

/// The geometry of one file system. Addresses and counts are in fragments unless named
/// otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Geometry {
    /// Block size in bytes (`fs_bsize`).
    pub bsize: u64,
    /// Fragment size in bytes (`fs_fsize`).
    pub fsize: u64,
    /// Fragments per block (`fs_frag`).
    pub frag: u64,
    /// log2 of the block size (`fs_bshift`).
    pub bshift: u32,
    /// log2 of the fragment size (`fs_fshift`).
    pub fshift: u32,
    /// log2 of fragments per block (`fs_fragshift`).
    pub fragshift: u32,
    /// File-system size in fragments (a whole number of blocks).
    pub size: u64,
    /// Number of cylinder groups (`fs_ncg`).
    pub ncg: u64,
    /// Fragments per cylinder group.
    pub fpg: u64,
    /// Inodes per cylinder group.
    pub ipg: u64,
    /// Offset of the superblock copy in each group, in fragments (`fs_sblkno`).
    pub sblkno: u64,
    /// Offset of each group's header, in fragments (`fs_cblkno`).
    pub cblkno: u64,
    /// Offset of each group's inode table, in fragments (`fs_iblkno`).
    pub iblkno: u64,
    /// Offset of each group's first data fragment (`fs_dblkno`).
    pub dblkno: u64,
    /// Bytes of a cylinder group header with its maps, rounded to fragments.
    pub cgsize: u64,
    /// Bytes of the cylinder-group summary array, rounded to fragments.
    pub cssize: u64,
    /// Largest run of blocks allocated together (`fs_maxcontig`).
    pub maxcontig: u64,
    /// Largest cluster size the cluster summary counts (`fs_contigsumsize`).
    pub contigsumsize: u64,
    /// Percent of data space kept free for root (`fs_minfree`).
    pub minfree: u64,
    /// Bytes per inode after newfs's adjustments.
    pub density: u64,
}

const fn howmany(x: u64, y: u64) -> u64 {
    x.div_ceil(y)
}
const fn roundup(x: u64, y: u64) -> u64 {
    x.div_ceil(y) * y
}

/// `fs_maxfilesize` for a block size: what 12 direct and 3 indirect pointers reach.
pub fn max_file_size(bsize: u64) -> u64 {
    let mut max = (bsize * NDADDR as u64).saturating_sub(1);
    let mut sizepb = bsize;
    for _ in 0..NIADDR {
        sizepb = sizepb.saturating_mul(bsize / 8);
        max = max.saturating_add(sizepb);
    }
    max
}

/// `CGSIZE(fs)` for UFS2: header, inode map, fragment map, cluster summary and map.
/// The `int32_t` after the fragment map is fs.h's room for aligning the cluster summary
/// to 4 bytes ([`Geometry::cg_offsets`]): without it a group whose maps end just short of
/// a fragment boundary had its cluster map run past `fs_cgsize`.
pub fn cgsize_raw(fpg: u64, ipg: u64, frag: u64, contigsumsize: u64) -> u64 {
    let cluster = if contigsumsize > 0 {
        contigsumsize * 4 + howmany(fpg / frag, 8)
    } else {
        0
    };
    CG_STRUCT_SIZE as u64 + howmany(ipg, 8) + howmany(fpg, 8) + 4 + cluster
}

impl Geometry {
    /// The geometry newfs picks for a file system of `size_bytes` (rounded down to whole
    /// blocks: the last group then never ends in a partial block).
    pub fn new(size_bytes: u64, p: &Params) -> Result<Geometry, GeometryError> {
        let (bsize, fsize) = (u64::from(p.bsize), u64::from(p.fsize));
        let pow2 = |x: u64| x.is_power_of_two();
        if !pow2(bsize)
            || !pow2(fsize)
            || !(4096..=65536).contains(&bsize)
            || fsize < 512
            || fsize > bsize
            || fsize * 8 < bsize
        {
            return Err(GeometryError::BadSizes {
                bsize: p.bsize,
                fsize: p.fsize,
            });
        }
        if u64::from(p.density) < fsize {
            return Err(GeometryError::BadDensity(p.density));
        }
        if p.minfree > 99 {
            return Err(GeometryError::BadMinfree(p.minfree));
        }
        let frag = bsize / fsize;
        let size = size_bytes / bsize * frag;
        let inopb = bsize / DINODE_SIZE as u64;
        let inopf = inopb / frag;
        let sblkno = roundup(howmany(SBLOCK_UFS2 + SBLOCKSIZE, fsize), frag);
        let cblkno = sblkno + roundup(howmany(SBLOCKSIZE, fsize), frag);
        let iblkno = cblkno + frag;
        let maxcontig = u64::from(p.maxcontig.max(1));
        let contigsumsize = if maxcontig > 1 {
            maxcontig.min(u64::from(FS_MAXCONTIG))
        } else {
            0
        };
        // One group of one inode block, no data.
        let smallest = roundup(iblkno + inopb / inopf, frag) * fsize;
        let too_small = GeometryError::TooSmall {
            needed: smallest,
            given: size_bytes,
        };
        if size == 0 {
            return Err(too_small);
        }
        let cgsize = |fpg: u64, ipg: u64| cgsize_raw(fpg, ipg, frag, contigsumsize);
        let fits = |fpg: u64, ipg: u64| cgsize(fpg, ipg) < bsize - CGSIZEFUDGE;

        // The smallest group that meets the density; lower the density until its header
        // fits in a block.
        let maxinum = (1u64 << 32) - inopb;
        let minfragsperinode = 1 + size / maxinum;
        let mut density = u64::from(p.density).max(minfragsperinode * fsize);
        let (mut fpg, fragsperinode) = loop {
            let fragsperinode = (density / fsize).max(1);
            if fragsperinode < minfragsperinode {
                return Err(GeometryError::TooLarge(size_bytes));
            }
            let minfpg = (fragsperinode * inopb).min(size);
            let mut ipg = inopb;
            let mut fpg = roundup(iblkno + ipg / inopf, frag).max(minfpg);
            ipg = roundup(howmany(fpg, fragsperinode), inopb);
            fpg = roundup(iblkno + ipg / inopf, frag).max(minfpg);
            ipg = roundup(howmany(fpg, fragsperinode), inopb);
            if fits(fpg, ipg) {
                break (fpg, fragsperinode);
            }
            if density <= fsize {
                return Err(GeometryError::BadDensity(p.density));
            }
            density -= fsize;
        };
        // Grow the groups until the header fills a block or there would be fewer than
        // MINCYLGRPS groups.
        let ipg_for = |fpg: u64| roundup(howmany(fpg, fragsperinode), inopb);
        let mut ipg;
        loop {
            ipg = ipg_for(fpg);
            if size / fpg < MINCYLGRPS {
                break;
            }
            let cg = cgsize(fpg, ipg);
            if cg < bsize - CGSIZEFUDGE {
                fpg += frag;
                continue;
            }
            if cg > bsize - CGSIZEFUDGE {
                fpg -= frag;
                ipg = ipg_for(fpg);
            }
            break;
        }
        // Shrink the groups until the last one can hold its own metadata.
        let ncg = loop {
            let lastminfpg = roundup(iblkno + ipg / inopf, frag);
            if size < lastminfpg {
                return Err(too_small);
            }
            if size % fpg >= lastminfpg || size.is_multiple_of(fpg) {
                break howmany(size, fpg);
            }
            fpg -= frag;
            ipg = ipg_for(fpg);
        };
        if ncg * ipg > u64::from(u32::MAX) {
            return Err(GeometryError::TooLarge(size_bytes));
        }
        // Group 0 must also hold the summary array after its inodes.
        let dblkno = iblkno + ipg / inopf;
        if dblkno + howmany(ncg * CSUM_SIZE, fsize) > fpg.min(size) {
            return Err(too_small);
        }
        Ok(Geometry {
            bsize,
            fsize,
            frag,
            bshift: bsize.trailing_zeros(),
            fshift: fsize.trailing_zeros(),
            fragshift: frag.trailing_zeros(),
            size,
            ncg,
            fpg,
            ipg,
            sblkno,
            cblkno,
            iblkno,
            dblkno,
            cgsize: roundup(cgsize(fpg, ipg), fsize),
            cssize: roundup(ncg * CSUM_SIZE, fsize),
            maxcontig,
            contigsumsize,
            minfree: u64::from(p.minfree),
            density,
        })
    }

    /// The geometry an existing superblock describes, from its independent fields; every
    /// other field follows from these by newfs's formulas. Fails, saying why, when the
    /// values cannot describe a usable file system (so nothing downstream can divide by
    /// zero, overflow or read outside the file system).
    #[allow(clippy::too_many_arguments)]
    pub fn derive(
        bsize: i64,
        fsize: i64,
        size: i64,
        fpg: i64,
        ipg: i64,
        maxcontig: i64,
        contigsumsize: i64,
        minfree: i64,
    ) -> Result<Geometry, String> {
        let ok_pow2 = |x: i64, lo: i64, hi: i64| x >= lo && x <= hi && (x as u64).is_power_of_two();
        if !ok_pow2(bsize, 4096, 65536) {
            return Err(format!("block size {bsize}"));
        }
        if !ok_pow2(fsize, 512, bsize) || fsize * 8 < bsize {
            return Err(format!("fragment size {fsize} with block size {bsize}"));
        }
        let (bsize, fsize) = (bsize as u64, fsize as u64);
        let frag = bsize / fsize;
        let inopb = bsize / DINODE_SIZE as u64;
        if fpg <= 0 || !(fpg as u64).is_multiple_of(frag) || fpg > 1 << 31 {
            return Err(format!("fragments per group {fpg}"));
        }
        if ipg <= 0 || !(ipg as u64).is_multiple_of(inopb) || ipg > 1 << 31 {
            return Err(format!("inodes per group {ipg}"));
        }
        if size <= 0 || size > 1 << 50 {
            return Err(format!("size {size} fragments"));
        }
        if !(0..=i64::from(FS_MAXCONTIG)).contains(&contigsumsize) {
            return Err(format!("cluster summary size {contigsumsize}"));
        }
        let (size, fpg, ipg) = (size as u64, fpg as u64, ipg as u64);
        let sblkno = roundup(howmany(SBLOCK_UFS2 + SBLOCKSIZE, fsize), frag);
        let cblkno = sblkno + roundup(howmany(SBLOCKSIZE, fsize), frag);
        let iblkno = cblkno + frag;
        let dblkno = iblkno + ipg / (inopb / frag);
        let ncg = howmany(size, fpg);
        if dblkno >= fpg || ncg * ipg > u64::from(u32::MAX) {
            return Err(format!("{ipg} inodes do not fit groups of {fpg} fragments"));
        }
        if size - (ncg - 1) * fpg < dblkno {
            return Err("the last cylinder group cannot hold its inodes".into());
        }
        let cssize = roundup(ncg * CSUM_SIZE, fsize);
        if dblkno + cssize / fsize > fpg.min(size) {
            return Err("the cylinder-group summary does not fit group 0".into());
        }
        let contigsumsize = contigsumsize as u64;
        let raw = cgsize_raw(fpg, ipg, frag, contigsumsize);
        if raw > bsize {
            return Err(format!(
                "a cylinder group header of {raw} bytes exceeds a block"
            ));
        }
        Ok(Geometry {
            bsize,
            fsize,
            frag,
            bshift: bsize.trailing_zeros(),
            fshift: fsize.trailing_zeros(),
            fragshift: frag.trailing_zeros(),
            size,
            ncg,
            fpg,
            ipg,
            sblkno,
            cblkno,
            iblkno,
            dblkno,
            cgsize: roundup(raw, fsize),
            cssize,
            maxcontig: maxcontig.max(0) as u64,
            contigsumsize,
            minfree: minfree.clamp(0, 99) as u64,
            density: 0,
        })
    }

    /// Inodes per block (`INOPB`).
    pub fn inopb(&self) -> u64 {
        self.bsize / DINODE_SIZE as u64
    }
    /// Inodes per fragment (`INOPF`).
    pub fn inopf(&self) -> u64 {
        self.inopb() / self.frag
    }
    /// Block pointers per indirect block.
    pub fn nindir(&self) -> u64 {
        self.bsize / 8
    }
    /// All inodes, allocated or not.
    pub fn inodes(&self) -> u64 {
        self.ncg * self.ipg
    }
    /// First fragment of group `c` (`cgbase`).
    pub fn cgbase(&self, c: u64) -> u64 {
        c * self.fpg
    }
    /// Fragment address of group `c`'s superblock copy.
    pub fn cgsblock(&self, c: u64) -> u64 {
        self.cgbase(c) + self.sblkno
    }
    /// Fragment address of group `c`'s header.
    pub fn cgtod(&self, c: u64) -> u64 {
        self.cgbase(c) + self.cblkno
    }
    /// Fragment address of group `c`'s inode table (`cgimin`).
    pub fn cgimin(&self, c: u64) -> u64 {
        self.cgbase(c) + self.iblkno
    }
    /// Fragment address of group `c`'s first data fragment (`cgdmin`).
    pub fn cgdmin(&self, c: u64) -> u64 {
        self.cgbase(c) + self.dblkno
    }
    /// Fragments in group `c` (the last one may be shorter).
    pub fn ndblk(&self, c: u64) -> u64 {
        self.fpg.min(self.size.saturating_sub(self.cgbase(c)))
    }
    /// Fragments taken by the summary array at the start of group 0's data.
    pub fn csfrags(&self) -> u64 {
        howmany(self.cssize, self.fsize)
    }
    /// Fragment address of the summary array (`fs_csaddr`): group 0's first data fragment.
    pub fn csaddr(&self) -> u64 {
        self.cgdmin(0)
    }
    /// Fragments available for data (`fs_dsize`).
    pub fn dsize(&self) -> u64 {
        (self.size - self.sblkno)
            .saturating_sub(self.ncg * (self.dblkno - self.sblkno))
            .saturating_sub(self.csfrags())
    }
    /// `fs_maxfilesize`: what 12 direct and 3 indirect pointers reach.
    pub fn maxfilesize(&self) -> u64 {
        max_file_size(self.bsize)
    }
    /// `fs_metaspace`: newfs reserves half of minfree for metadata.
    pub fn metaspace(&self) -> u64 {
        self.fpg * self.minfree / 200 / self.frag * self.frag
    }
    /// Byte offset of inode `ino` inside the file system.
    pub fn inode_byte(&self, ino: u64) -> u64 {
        let c = ino / self.ipg;
        self.cgimin(c) * self.fsize + (ino % self.ipg) * DINODE_SIZE as u64
    }
    /// Bytes of the file system.
    pub fn size_bytes(&self) -> u64 {
        self.size * self.fsize
    }
    /// Byte offsets of a group header's maps: inode map, fragment map, cluster summary,
    /// cluster map, end.
    pub fn cg_offsets(&self) -> CgOffsets {
        let iusedoff = CG_STRUCT_SIZE as u64;
        let freeoff = iusedoff + howmany(self.ipg, 8);
        let mut nextfreeoff = freeoff + howmany(self.fpg, 8);
        let (mut clustersumoff, mut clusteroff) = (0, 0);
        if self.contigsumsize > 0 {
            // Summary entry 0 is never used: the array starts 4 bytes early and overlaps
            // the end of the fragment map.
            clustersumoff = roundup(nextfreeoff, 4) - 4;
            clusteroff = clustersumoff + (self.contigsumsize + 1) * 4;
            nextfreeoff = clusteroff + howmany(self.fpg / self.frag, 8);
        }
        CgOffsets {
            iusedoff,
            freeoff,
            clustersumoff,
            clusteroff,
            nextfreeoff,
        }
    }
}

/// Where a cylinder group's maps start, in bytes from the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CgOffsets {
    /// Offset of the inode-used bitmap (`cg_iusedoff`).
    pub iusedoff: u64,
    /// Offset of the free-fragment bitmap (`cg_freeoff`).
    pub freeoff: u64,
    /// Offset of the cluster-size summary counts (`cg_clustersumoff`).
    pub clustersumoff: u64,
    /// Offset of the free-cluster bitmap (`cg_clusteroff`).
    pub clusteroff: u64,
    /// Offset of the end of the maps (`cg_nextfreeoff`): the header's used size.
    pub nextfreeoff: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_gib_matches_newfs() {
        // newfs on 1 GiB: "4 cylinder groups of 256.03MB, 8193 blks, 32896 inodes".
        let g = Geometry::new(1 << 30, &Params::default()).unwrap();
        assert_eq!((g.ncg, g.fpg, g.ipg), (4, 65544, 32896));
        assert_eq!((g.sblkno, g.cblkno, g.iblkno), (24, 32, 40));
        assert_eq!(g.dblkno, 40 + 32896 / 16);
        assert_eq!(g.cssize, 4096);
        assert_eq!(g.contigsumsize, 16);
        assert!(g.cgsize <= g.bsize);
        assert_eq!(
            g.maxfilesize(),
            32768 * 12 - 1 + 32768 * (4096 + 4096 * 4096 + 4096u64.pow(3))
        );
    }

    #[test]
    fn large_file_systems_fill_the_group_header() {
        let g = Geometry::new(64 << 30, &Params::default()).unwrap();
        let raw = cgsize_raw(g.fpg, g.ipg, g.frag, g.contigsumsize);
        assert!(raw <= g.bsize - CGSIZEFUDGE);
        assert!(cgsize_raw(g.fpg + g.frag, g.ipg + 128, g.frag, 16) > g.bsize - CGSIZEFUDGE);
        assert!(g.ncg >= MINCYLGRPS);
        assert_eq!(g.ncg, g.size.div_ceil(g.fpg));
    }

    #[test]
    fn tiny_and_odd_sizes() {
        let p = Params::default();
        assert!(matches!(
            Geometry::new(100_000, &p),
            Err(GeometryError::TooSmall { .. })
        ));
        for mib in [1u64, 2, 3, 5, 17, 100, 333] {
            let g = Geometry::new(mib << 20, &p).unwrap();
            let last = g.size - (g.ncg - 1) * g.fpg;
            assert!(last >= g.dblkno, "{mib} MiB: last group too small");
            assert_eq!(g.size % g.frag, 0);
            assert_eq!(g.ipg % g.inopb(), 0);
        }
        assert!(Geometry::new(
            1 << 30,
            &Params {
                fsize: 3000,
                ..p.clone()
            }
        )
        .is_err());
    }
}
