//! Pass 5: every cylinder group's header, maps and counts rebuilt from what passes 1-4
//! found and compared; the summary array and the superblock totals.

use std::io::{Read, Seek};

use super::{unreadable, CgMap, Checker, Problem};
use crate::image::ufs::bitmap::Bitmap;
use crate::image::ufs::cg::{build_cg, CgExtra, Csum};
use crate::image::ufs::crc::ckhash;
use crate::image::ufs::format::*;

impl<R: Read + Seek> Checker<R> {
    pub(super) fn pass5(&mut self) {
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
