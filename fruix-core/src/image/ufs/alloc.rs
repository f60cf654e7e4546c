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

pub struct Allocator<'g> {
    g: &'g Geometry,
    /// Free ranges of whole blocks `[start, end)` in fragments, in address order.
    ranges: Vec<(u64, u64)>,
    next: usize,
    cursor: u64,
    /// Partially used blocks by number of free fragments: the first free fragment of each.
    partial: Vec<Vec<u64>>,
}

impl<'g> Allocator<'g> {
    pub fn new(g: &'g Geometry) -> Allocator<'g> {
        let mut ranges = Vec::new();
        let mut partial = vec![Vec::new(); g.frag as usize];
        for c in 0..g.ncg {
            let base = g.cgbase(c);
            let end = base + g.ndblk(c);
            if c == 0 {
                let start = g.csaddr() + g.csfrags();
                let rem = start % g.frag;
                if rem != 0 {
                    partial[(g.frag - rem) as usize].push(start);
                }
                ranges.push((start.next_multiple_of(g.frag), end));
            } else {
                ranges.push((base, g.cgsblock(c)));
                ranges.push((g.cgdmin(c), end));
            }
        }
        ranges.retain(|(s, e)| s < e);
        let cursor = ranges.first().map_or(0, |r| r.0);
        Allocator {
            g,
            ranges,
            next: 0,
            cursor,
            partial,
        }
    }

    /// `n` whole blocks, as few extents as the free ranges allow.
    pub fn blocks(&mut self, mut n: u64) -> Result<Vec<Extent>, NoSpace> {
        let mut out: Vec<Extent> = Vec::new();
        while n > 0 {
            let &(_, end) = self.ranges.get(self.next).ok_or(NoSpace)?;
            let take = n.min((end - self.cursor) / self.g.frag);
            match out.last_mut() {
                Some(e) if e.addr + e.blocks * self.g.frag == self.cursor => e.blocks += take,
                _ => out.push(Extent {
                    addr: self.cursor,
                    blocks: take,
                }),
            }
            self.cursor += take * self.g.frag;
            n -= take;
            if self.cursor >= end {
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
        let found = (n as usize..self.partial.len()).find(|&k| !self.partial[k].is_empty());
        let (addr, free) = match found {
            Some(k) => (self.partial[k].pop().ok_or(NoSpace)?, k as u64),
            None => (self.blocks(1)?.first().ok_or(NoSpace)?.addr, self.g.frag),
        };
        if free > n {
            self.partial[(free - n) as usize].push(addr + n);
        }
        Ok(addr)
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
