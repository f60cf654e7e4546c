//! Cylinder-group headers and maps, the superblock's derived fields and the summaries, all
//! rebuilt from "which inodes and fragments are in use". The writer emits what these
//! functions build; the checker rebuilds the same from what it found on disk and compares,
//! as fsck_ffs pass 5 does.

use super::bitmap::Bitmap;
use super::crc::ckhash;
use super::format::*;
use super::geometry::Geometry;

/// `struct csum`: counts of one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Csum {
    pub ndir: i64,
    pub nbfree: i64,
    pub nifree: i64,
    pub nffree: i64,
}

impl Csum {
    pub fn add(&mut self, o: &Csum) {
        self.ndir += o.ndir;
        self.nbfree += o.nbfree;
        self.nifree += o.nifree;
        self.nffree += o.nffree;
    }
    pub fn encode(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        for (i, v) in [self.ndir, self.nbfree, self.nifree, self.nffree]
            .iter()
            .enumerate()
        {
            b[i * 4..i * 4 + 4].copy_from_slice(&(*v as i32).to_le_bytes());
        }
        b
    }
    pub fn decode(b: &[u8]) -> Csum {
        let f = |i: usize| i64::from(i32::get(b, i * 4));
        Csum {
            ndir: f(0),
            nbfree: f(1),
            nifree: f(2),
            nffree: f(3),
        }
    }
}

/// Marks the fragments every file system uses for itself: boot area and primary
/// superblock, each group's superblock copy, header and inodes, and the summary array.
pub fn mark_metadata(g: &Geometry, used: &mut Bitmap) {
    for c in 0..g.ncg {
        let base = g.cgbase(c);
        let start = if c == 0 { base } else { g.cgsblock(c) };
        used.set_range(start, g.cgdmin(c).min(base + g.ndblk(c)));
    }
    used.set_range(g.csaddr(), g.csaddr() + g.csfrags());
}

/// The parts of a group header that are not derived from the maps.
#[derive(Debug, Clone, Copy)]
pub struct CgExtra {
    pub time: i64,
    pub initediblk: u32,
    pub rotor: u32,
    pub frotor: u32,
    pub irotor: u32,
    pub check_hash: bool,
}

/// Builds group `c`'s block (`fs_cgsize` bytes) from the global inode and fragment maps
/// (bit set = in use) and the number of directories in the group.
pub fn build_cg(
    g: &Geometry,
    c: u64,
    inodes: &Bitmap,
    frags: &Bitmap,
    ndir: u64,
    extra: CgExtra,
) -> (Vec<u8>, Csum) {
    let mut b = vec![0u8; g.cgsize as usize];
    let off = g.cg_offsets();
    let base = g.cgbase(c);
    let ndblk = g.ndblk(c);
    let mut cs = Csum {
        ndir: ndir as i64,
        ..Csum::default()
    };
    for k in 0..g.ipg {
        if inodes.get(c * g.ipg + k) {
            set_bit(&mut b, off.iusedoff, k);
        } else {
            cs.nifree += 1;
        }
    }
    let mut frsum = [0u32; 8];
    let mut block = 0;
    while block * g.frag < ndblk {
        let first = block * g.frag;
        let n = g.frag.min(ndblk - first);
        let mut free = 0;
        let mut run = 0;
        let mut runs = Vec::new();
        for j in 0..n {
            if frags.get(base + first + j) {
                if run > 0 {
                    runs.push(run);
                }
                run = 0;
            } else {
                set_bit(&mut b, off.freeoff, first + j);
                free += 1;
                run += 1;
            }
        }
        if run > 0 {
            runs.push(run);
        }
        if free == g.frag {
            cs.nbfree += 1;
            if g.contigsumsize > 0 {
                set_bit(&mut b, off.clusteroff, block);
            }
        } else if free > 0 {
            cs.nffree += free as i64;
            for r in runs {
                frsum[r as usize] += 1;
            }
        }
        block += 1;
    }
    let nclusterblks = if g.contigsumsize > 0 {
        ndblk / g.frag
    } else {
        0
    };
    if g.contigsumsize > 0 {
        let mut sums = vec![0u32; g.contigsumsize as usize + 1];
        let mut run = 0u64;
        for blk in 0..=nclusterblks {
            if blk < nclusterblks && b[(off.clusteroff + blk / 8) as usize] & (1 << (blk % 8)) != 0
            {
                run += 1;
            } else if run > 0 {
                sums[run.min(g.contigsumsize) as usize] += 1;
                run = 0;
            }
        }
        for (i, s) in sums.iter().enumerate().skip(1) {
            s.put(&mut b, (off.clustersumoff + 4 * i as u64) as usize);
        }
    }
    let h = CgHeader {
        magic: CG_MAGIC,
        cgx: c as u32,
        ndblk: ndblk as u32,
        cs: [
            cs.ndir as i32,
            cs.nbfree as i32,
            cs.nifree as i32,
            cs.nffree as i32,
        ],
        rotor: extra.rotor,
        frotor: extra.frotor,
        irotor: extra.irotor,
        frsum,
        iusedoff: off.iusedoff as u32,
        freeoff: off.freeoff as u32,
        nextfreeoff: off.nextfreeoff as u32,
        clustersumoff: off.clustersumoff as u32,
        clusteroff: off.clusteroff as u32,
        nclusterblks: nclusterblks as u32,
        niblk: g.ipg as u32,
        initediblk: extra.initediblk,
        time: extra.time,
        ..CgHeader::default()
    };
    h.encode_into(&mut b);
    if extra.check_hash {
        let hash = ckhash(&b, CG_CKHASH_OFFSET);
        hash.put(&mut b, CG_CKHASH_OFFSET);
    }
    (b, cs)
}

fn set_bit(b: &mut [u8], off: u64, bit: u64) {
    if let Some(byte) = b.get_mut((off + bit / 8) as usize) {
        *byte |= 1 << (bit % 8);
    }
}

/// What a superblock holds besides geometry.
#[derive(Debug, Clone)]
pub struct SbExtra {
    pub total: Csum,
    pub time: i64,
    pub id: [i32; 2],
    pub volname: [u8; 32],
    pub check_hashes: bool,
    /// Size of the medium in fragments (`fs_providersize`).
    pub providersize: u64,
}

/// The superblock newfs would write for this geometry (with the given extras). Every
/// field the checker compares against a formula comes from here.
pub fn build_superblock(g: &Geometry, x: &SbExtra) -> Superblock {
    let sbsize = (SB_STRUCT_SIZE as u64).div_ceil(g.fsize) * g.fsize;
    let (metackhash, flags) = if x.check_hashes {
        (CK_SUPERBLOCK | CK_CYLGRP | CK_INODE, FS_METACKHASH)
    } else {
        (0, 0)
    };
    Superblock {
        sblkno: g.sblkno as i32,
        cblkno: g.cblkno as i32,
        iblkno: g.iblkno as i32,
        dblkno: g.dblkno as i32,
        ncg: g.ncg as u32,
        bsize: g.bsize as i32,
        fsize: g.fsize as i32,
        frag: g.frag as i32,
        minfree: g.minfree as i32,
        bmask: !(g.bsize as i32 - 1),
        fmask: !(g.fsize as i32 - 1),
        bshift: g.bshift as i32,
        fshift: g.fshift as i32,
        maxcontig: g.maxcontig as i32,
        maxbpg: g.nindir() as i32,
        fragshift: g.fragshift as i32,
        fsbtodb: (g.fsize / 512).trailing_zeros() as i32,
        sbsize: sbsize.min(SBLOCKSIZE) as i32,
        nindir: g.nindir() as i32,
        inopb: g.inopb() as u32,
        id: x.id,
        cssize: g.cssize as i32,
        cgsize: g.cgsize as i32,
        ipg: g.ipg as u32,
        fpg: g.fpg as i32,
        clean: 1,
        old_flags: FS_FLAGS_UPDATED,
        volname: x.volname,
        maxbsize: g.bsize as i32,
        providersize: x.providersize as i64,
        metaspace: g.metaspace() as i64,
        sblockactualloc: SBLOCK_UFS2 as i64,
        sblockloc: SBLOCK_UFS2 as i64,
        cstotal: [
            x.total.ndir,
            x.total.nbfree,
            x.total.nifree,
            x.total.nffree,
            0,
            0,
            0,
            0,
        ],
        time: x.time,
        size: g.size as i64,
        dsize: g.dsize() as i64,
        csaddr: g.csaddr() as i64,
        avgfilesize: 16384,
        avgfpdir: 64,
        metackhash,
        flags,
        contigsumsize: g.contigsumsize as i32,
        maxsymlinklen: MAXSYMLINKLEN as i32,
        maxfilesize: g.maxfilesize(),
        qbmask: g.bsize as i64 - 1,
        qfmask: g.fsize as i64 - 1,
        magic: FS_UFS2_MAGIC,
        ..Superblock::default()
    }
}

/// The `fs_sbsize` bytes of a superblock copy stored at byte `actualloc`, hashed.
pub fn superblock_bytes(sb: &Superblock, actualloc: u64) -> Vec<u8> {
    let mut sb = sb.clone();
    sb.sblockactualloc = actualloc as i64;
    sb.ckhash = 0;
    let mut b = vec![0u8; sb.sbsize.clamp(SB_STRUCT_SIZE as i32, SBLOCKSIZE as i32) as usize];
    sb.encode_into(&mut b);
    if sb.metackhash & CK_SUPERBLOCK != 0 {
        ckhash(&b, SB_CKHASH_OFFSET).put(&mut b, SB_CKHASH_OFFSET);
    }
    b
}

/// newfs's recovery record: magic, fsbtodb, sblkno, fpg, ncg, ending at byte 65536.
pub fn recovery_record(sb: &Superblock) -> [u8; 20] {
    let mut b = [0u8; 20];
    for (i, v) in [sb.magic, sb.fsbtodb, sb.sblkno, sb.fpg, sb.ncg as i32]
        .iter()
        .enumerate()
    {
        b[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::ufs::geometry::Params;

    /// An empty file system's counts, as newfs's own formulas give them.
    #[test]
    fn empty_file_system_counts_match_newfs() {
        for size in [3u64 << 20, 100 << 20, 1 << 30] {
            let g = Geometry::new(size, &Params::default()).unwrap();
            let mut frags = Bitmap::new(g.size);
            mark_metadata(&g, &mut frags);
            let mut inodes = Bitmap::new(g.inodes());
            inodes.set(0);
            inodes.set(1);
            let mut total = Csum::default();
            for c in 0..g.ncg {
                let extra = CgExtra {
                    time: 0,
                    initediblk: g.ipg as u32,
                    rotor: 0,
                    frotor: 0,
                    irotor: 0,
                    check_hash: true,
                };
                let (b, cs) = build_cg(&g, c, &inodes, &frags, 0, extra);
                assert_eq!(b.len() as u64, g.cgsize);
                let h = CgHeader::decode(&b);
                assert_eq!(h.magic, CG_MAGIC);
                assert_eq!(ckhash(&b, CG_CKHASH_OFFSET), h.ckhash);
                total.add(&cs);
            }
            let csfrags = g.csfrags();
            let dsize = g.size - g.sblkno - g.ncg * (g.dblkno - g.sblkno);
            assert_eq!(
                total.nbfree as u64,
                dsize / g.frag - csfrags.div_ceil(g.frag)
            );
            let nffree = if !csfrags.is_multiple_of(g.frag) {
                g.frag - csfrags % g.frag
            } else {
                0
            };
            assert_eq!(total.nffree as u64, nffree);
            assert_eq!(total.nifree as u64, g.inodes() - 2);
            assert_eq!(g.dsize(), dsize - csfrags);
        }
    }
}
