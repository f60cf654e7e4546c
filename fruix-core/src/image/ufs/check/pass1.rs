//! Pass 1: every inode, its type, size and check-hash; every block pointer in range,
//! aligned and owned once; `di_blocks`. Duplicates get all their owners named (pass 1b).

use std::collections::{HashMap, HashSet};
use std::io::{Read, Seek};

use super::{unreadable, Checker, InodeInfo, Owner, Problem};
use crate::image::ufs::bitmap::Bitmap;
use crate::image::ufs::cg::mark_metadata;
use crate::image::ufs::crc::ckhash;
use crate::image::ufs::format::*;
use crate::image::ufs::read::Ptr;

impl<R: Read + Seek> Checker<R> {
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

    pub(super) fn pass1(&mut self) {
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
                allocated: 0,
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
        if let Some(info) = self.inodes.get_mut(&ino) {
            info.allocated = frags * g.fsize;
        }
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
}
