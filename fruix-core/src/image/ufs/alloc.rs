//! Block and fragment allocation over a geometry: full blocks in address order through
//! every group's free area, fragment runs packed best-fit into partially used blocks.

use super::geometry::Geometry;

/// A run of whole blocks: first fragment address and number of blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub addr: u64,
    pub blocks: u64,
}

/// The file system is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoSpace;

/// What one inode needs: full data blocks, a fragment tail, indirect blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Demand {
    pub full: u64,
    pub tail: u64,
    pub indirect: u64,
}

impl Demand {
    /// The blocks a file of `size` bytes takes: only a file of at most 12 blocks ends in
    /// a fragment run; past that every block is full and indirect blocks map them.
    pub fn for_size(size: u64, bsize: u64, fsize: u64, nindir: u64) -> Demand {
        let nblocks = size.div_ceil(bsize);
        if nblocks <= 12 {
            let rem = size % bsize;
            return Demand {
                full: size / bsize,
                tail: rem.div_ceil(fsize),
                indirect: 0,
            };
        }
        let sizes = indirect_tree_sizes(nblocks, nindir);
        Demand {
            full: nblocks,
            tail: 0,
            indirect: sizes.iter().map(|s| s.blocks).sum(),
        }
    }
}

/// One indirect tree (single, double, triple): how many data blocks it maps and how many
/// indirect blocks it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TreeSize {
    pub data: u64,
    pub blocks: u64,
}

/// The three indirect trees of a file of `nblocks` data blocks.
pub fn indirect_tree_sizes(nblocks: u64, nindir: u64) -> [TreeSize; 3] {
    let mut out = [TreeSize::default(); 3];
    let mut rest = nblocks.saturating_sub(12);
    let mut span = 1u64;
    for (level, slot) in out.iter_mut().enumerate() {
        span = span.saturating_mul(nindir);
        let data = rest.min(span);
        if data == 0 {
            break;
        }
        // Blocks at each level: pointers to `data` blocks, then to those, up to the root.
        let mut blocks = 0;
        let mut n = data;
        for _ in 0..=level {
            n = n.div_ceil(nindir);
            blocks += n;
        }
        *slot = TreeSize { data, blocks };
        rest -= data;
    }
    out
}

/// Best-fit packing of fragment runs into partially used blocks. The allocator and the
/// size search share it, so the search counts blocks exactly as allocation uses them.
pub struct FragPacker {
    /// Partially used blocks by number of free fragments: the first free fragment of each.
    partial: Vec<Vec<u64>>,
}

impl FragPacker {
    pub fn new(frag: u64) -> FragPacker {
        FragPacker {
            partial: vec![Vec::new(); frag as usize],
        }
    }

    /// A block whose last `free` fragments, from `addr`, are free.
    pub fn add_partial(&mut self, free: u64, addr: u64) {
        if free == 0 {
            return;
        }
        if let Some(bin) = self.partial.get_mut(free as usize) {
            bin.push(addr);
        }
    }

    /// Places a run of `n` (< frag) fragments in the fullest partial block it fits (best
    /// fit); None when no partial block has room.
    pub fn find(&mut self, n: u64) -> Option<u64> {
        let k = (n as usize..self.partial.len()).find(|&k| !self.partial[k].is_empty())?;
        let addr = self.partial[k].pop()?;
        self.add_partial(k as u64 - n, addr + n);
        Some(addr)
    }

    /// Places a run of `n` fragments at the start of the fresh block at `block`.
    pub fn fresh(&mut self, n: u64, block: u64) -> u64 {
        let frag = self.partial.len() as u64;
        self.add_partial(frag - n, block + n);
        block
    }
}

/// Whole blocks the demands take when fragment packing starts with one partial block of
/// `initial_free` free fragments (0: none).
pub fn blocks_needed(demands: &[Demand], frag: u64, initial_free: u64) -> u64 {
    let mut packer = FragPacker::new(frag);
    if initial_free > 0 {
        packer.add_partial(initial_free, 0);
    }
    let mut blocks = 0;
    for d in demands {
        blocks += d.full + d.indirect;
        if d.tail > 0 && packer.find(d.tail).is_none() {
            blocks += 1;
            packer.fresh(d.tail, blocks * frag);
        }
    }
    blocks
}

pub struct Allocator<'g> {
    g: &'g Geometry,
    /// Free ranges of whole blocks `[start, end)` in fragments, in address order.
    ranges: Vec<(u64, u64)>,
    next: usize,
    cursor: u64,
    packer: FragPacker,
    /// Free fragments of the partial block after the summary array (0: none).
    initial_free: u64,
}

impl<'g> Allocator<'g> {
    pub fn new(g: &'g Geometry) -> Allocator<'g> {
        let mut ranges = Vec::new();
        let mut packer = FragPacker::new(g.frag);
        let mut initial_free = 0;
        for c in 0..g.ncg {
            let base = g.cgbase(c);
            let end = base + g.ndblk(c);
            if c == 0 {
                let start = g.csaddr() + g.csfrags();
                let rem = start % g.frag;
                if rem != 0 {
                    initial_free = g.frag - rem;
                    packer.add_partial(initial_free, start);
                }
                ranges.push((start.next_multiple_of(g.frag), end));
            } else {
                ranges.push((base, g.cgsblock(c)));
                ranges.push((g.cgdmin(c), end));
            }
        }
        // Whole blocks only: every bound is block-aligned, this keeps it so regardless.
        let frag = g.frag;
        ranges = ranges
            .into_iter()
            .map(|(s, e)| (s, s + (e.saturating_sub(s)) / frag * frag))
            .filter(|(s, e)| s < e)
            .collect();
        let cursor = ranges.first().map_or(0, |r| r.0);
        Allocator {
            g,
            ranges,
            next: 0,
            cursor,
            packer,
            initial_free,
        }
    }

    /// Whole free blocks before anything is allocated.
    pub fn capacity(&self) -> u64 {
        self.ranges.iter().map(|(s, e)| (e - s) / self.g.frag).sum()
    }

    /// See [`blocks_needed`].
    pub fn initial_free(&self) -> u64 {
        self.initial_free
    }

    /// `n` whole blocks, as few extents as the free ranges allow.
    pub fn blocks(&mut self, mut n: u64) -> Result<Vec<Extent>, NoSpace> {
        let mut out: Vec<Extent> = Vec::new();
        while n > 0 {
            let &(_, end) = self.ranges.get(self.next).ok_or(NoSpace)?;
            let take = n.min((end - self.cursor) / self.g.frag);
            if take > 0 {
                match out.last_mut() {
                    Some(e) if e.addr + e.blocks * self.g.frag == self.cursor => e.blocks += take,
                    _ => out.push(Extent {
                        addr: self.cursor,
                        blocks: take,
                    }),
                }
            }
            self.cursor += take * self.g.frag;
            n -= take;
            if self.cursor >= end || take == 0 {
                self.next += 1;
                if let Some(r) = self.ranges.get(self.next) {
                    self.cursor = r.0;
                }
            }
        }
        Ok(out)
    }

    /// A run of `n` (< frag) fragments inside one block.
    pub fn frags(&mut self, n: u64) -> Result<u64, NoSpace> {
        if let Some(addr) = self.packer.find(n) {
            return Ok(addr);
        }
        let block = self.blocks(1)?.first().ok_or(NoSpace)?.addr;
        Ok(self.packer.fresh(n, block))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::ufs::geometry::Params;

    #[test]
    fn demands() {
        let d = |s| Demand::for_size(s, 32768, 4096, 4096);
        assert_eq!(
            d(0),
            Demand {
                full: 0,
                tail: 0,
                indirect: 0
            }
        );
        assert_eq!(
            d(1),
            Demand {
                full: 0,
                tail: 1,
                indirect: 0
            }
        );
        assert_eq!(
            d(32768 * 3 + 4097),
            Demand {
                full: 3,
                tail: 2,
                indirect: 0
            }
        );
        assert_eq!(
            d(32768 * 12 + 1),
            Demand {
                full: 13,
                tail: 0,
                indirect: 1
            }
        );
        let dbl = 12 + 4096 + 4097;
        assert_eq!(
            d(32768 * dbl),
            Demand {
                full: dbl,
                tail: 0,
                indirect: 1 + 1 + 2
            }
        );
        let s = indirect_tree_sizes(12 + 4096 + 4096 * 4096 + 1, 4096);
        assert_eq!(
            s[1],
            TreeSize {
                data: 4096 * 4096,
                blocks: 4096 + 1
            }
        );
        assert_eq!(s[2], TreeSize { data: 1, blocks: 3 });
    }

    #[test]
    fn allocates_around_metadata_and_packs_fragments() {
        let g = Geometry::new(64 << 20, &Params::default()).unwrap();
        let mut a = Allocator::new(&g);
        let first = a.frags(3).unwrap();
        assert_eq!(first, g.csaddr() + g.csfrags());
        let second = a.frags(4).unwrap();
        assert_eq!(
            second / g.frag,
            first / g.frag,
            "best fit reuses the partial block"
        );
        let all = a.blocks(g.fpg / g.frag).unwrap();
        assert!(
            all.len() >= 2,
            "a group's worth of blocks crosses into the next group"
        );
        for e in &all {
            for c in 0..g.ncg {
                let meta = g.cgsblock(c)..g.cgdmin(c);
                assert!(e.addr + e.blocks * g.frag <= meta.start || e.addr >= meta.end);
            }
        }
        assert!(a.blocks(u64::MAX / 2).is_err());
    }
}
