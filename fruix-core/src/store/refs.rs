//! Finding references: hash parts of store items mentioned in an item's bytes.
//!
//! Like Nix, a reference is any occurrence of another item's 40-hex hash part, wherever
//! it appears (in `/frx/store/<hash>-name`, in a symlink target, in a script). Only hashes
//! of items already in the store count, so the scan needs the candidates up front.

use super::path::HASH_LEN;
use std::collections::{BTreeSet, HashSet};

/// Streams bytes and collects every candidate hash seen, across chunk boundaries.
pub struct HashScanner {
    candidates: HashSet<[u8; HASH_LEN]>,
    /// The last (up to `HASH_LEN - 1`) hex digits of the previous chunk, when it ended in
    /// a run of them: a hash may straddle two chunks.
    carry: Vec<u8>,
    found: BTreeSet<String>,
}

/// Runs of zeros skipped at once.
const ZERO_BLOCK: usize = 256;

/// Whether each byte is a lowercase hex digit (what hash parts are made of).
const HEX: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = matches!(b as u8, b'0'..=b'9' | b'a'..=b'f');
        b += 1;
    }
    t
};

impl HashScanner {
    /// A scanner looking for the hash parts `candidates` (other items' hashes).
    pub fn new(candidates: impl IntoIterator<Item = [u8; HASH_LEN]>) -> HashScanner {
        HashScanner {
            candidates: candidates.into_iter().collect(),
            carry: Vec::with_capacity(2 * HASH_LEN),
            found: BTreeSet::new(),
        }
    }

    fn check(&mut self, window: &[u8]) {
        if let Ok(window) = <[u8; HASH_LEN]>::try_from(window) {
            if self.candidates.contains(&window) {
                self.found
                    .insert(window.iter().map(|&c| c as char).collect());
            }
        }
    }

    /// Scans the next bytes of the current file; a hash may straddle two calls.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.candidates.is_empty() || bytes.is_empty() {
            return;
        }
        // The run of hex digits the chunk starts with continues the carried one.
        let lead = bytes.iter().take_while(|&&b| HEX[b as usize]).count();
        if !self.carry.is_empty() {
            let joined: Vec<u8> = self
                .carry
                .iter()
                .chain(&bytes[..lead.min(HASH_LEN - 1)])
                .copied()
                .collect();
            for end in HASH_LEN..=joined.len() {
                if end > self.carry.len() {
                    self.check(&joined[end - HASH_LEN..end]);
                }
            }
            if lead == bytes.len() {
                // Still one run: keep its last digits.
                let keep = joined.len().min(HASH_LEN - 1);
                self.carry = joined[joined.len() - keep..].to_vec();
                if lead >= HASH_LEN {
                    self.scan_run(bytes);
                    self.carry = bytes[bytes.len() - (HASH_LEN - 1)..].to_vec();
                }
                return;
            }
        }
        // Runs wholly inside the chunk; the last one may go on in the next chunk.
        let mut i = 0;
        let n = bytes.len();
        while i < n {
            // Disk images are mostly zeros: skip them a block at a time (vectorized).
            while i + ZERO_BLOCK <= n && bytes[i..i + ZERO_BLOCK].iter().all(|&b| b == 0) {
                i += ZERO_BLOCK;
            }
            // Binary data is mostly zeros and other non-digits: skip them 8 at a time.
            while i + 8 <= n && bytes[i..i + 8].iter().all(|&b| !HEX[b as usize]) {
                i += 8;
            }
            if i < n && !HEX[bytes[i] as usize] {
                i += 1;
                continue;
            }
            let start = i;
            while i < n && HEX[bytes[i] as usize] {
                i += 1;
            }
            if start < i {
                self.scan_run(&bytes[start..i]);
            }
            if i == n {
                let keep = (i - start).min(HASH_LEN - 1);
                self.carry.clear();
                self.carry.extend_from_slice(&bytes[n - keep..]);
                return;
            }
        }
        self.carry.clear();
    }

    /// Every window of a run of hex digits.
    fn scan_run(&mut self, run: &[u8]) {
        if run.len() >= HASH_LEN {
            for end in HASH_LEN..=run.len() {
                self.check(&run[end - HASH_LEN..end]);
            }
        }
    }

    /// Ends the current file: runs do not continue into the next one.
    pub fn break_run(&mut self) {
        self.carry.clear();
    }

    /// The candidate hashes found, as text.
    pub fn into_found(self) -> BTreeSet<String> {
        self.found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "0123456789abcdef0123456789abcdef01234567";

    fn scanner() -> HashScanner {
        let mut key = [0u8; HASH_LEN];
        key.copy_from_slice(H.as_bytes());
        HashScanner::new([key])
    }

    #[test]
    fn finds_candidates_across_chunks_and_inside_longer_runs() {
        let text = format!("exec /frx/store/{H}-sh/bin/sh");
        let mut s = scanner();
        let (a, b) = text.as_bytes().split_at(25);
        s.feed(a);
        s.feed(b);
        assert!(s.into_found().contains(H));
        let mut s = scanner();
        s.feed(format!("x{H}f").as_bytes());
        assert!(s.into_found().contains(H));
    }

    #[test]
    fn finds_candidates_however_the_bytes_are_split() {
        // Hashes inside longer runs, at chunk edges, split over several chunks, and one
        // cut short by a file boundary.
        let text = format!("\0\0{H}0\0 x{H}\0\0\0\0\0\0\0\0\0\0ab{H}");
        for sizes in [
            vec![1],
            vec![7],
            vec![10, 10, 3],
            vec![39],
            vec![40],
            vec![41, 2],
        ] {
            let mut s = scanner();
            let (mut at, mut k) = (0, 0);
            while at < text.len() {
                let n = sizes[k % sizes.len()].min(text.len() - at);
                s.feed(&text.as_bytes()[at..at + n]);
                at += n;
                k += 1;
            }
            assert!(s.into_found().contains(H), "{sizes:?}");
        }
        let mut s = scanner();
        s.feed(&H.as_bytes()[..20]);
        s.break_run();
        s.feed(&H.as_bytes()[20..]);
        assert!(s.into_found().is_empty());
    }

    #[test]
    fn ignores_partial_and_unknown_hashes() {
        let mut s = scanner();
        s.feed(&H.as_bytes()[..39]);
        s.break_run();
        s.feed(&H.as_bytes()[39..]);
        s.feed(b"ffffffffffffffffffffffffffffffffffffffff");
        assert!(s.into_found().is_empty());
    }
}
