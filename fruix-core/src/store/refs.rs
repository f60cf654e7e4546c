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
    /// The last `HASH_LEN` hex digits of the current run (a ring would save little here).
    run: Vec<u8>,
    found: BTreeSet<String>,
}

fn is_hex(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'a'..=b'f')
}

impl HashScanner {
    /// A scanner looking for the hash parts `candidates` (other items' hashes).
    pub fn new(candidates: impl IntoIterator<Item = [u8; HASH_LEN]>) -> HashScanner {
        HashScanner {
            candidates: candidates.into_iter().collect(),
            run: Vec::with_capacity(HASH_LEN),
            found: BTreeSet::new(),
        }
    }

    /// Scans the next bytes of the current file; a hash may straddle two calls.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.candidates.is_empty() {
            return;
        }
        for &b in bytes {
            if !is_hex(b) {
                self.run.clear();
                continue;
            }
            if self.run.len() == HASH_LEN {
                self.run.remove(0);
            }
            self.run.push(b);
            if let Ok(window) = <[u8; HASH_LEN]>::try_from(self.run.as_slice()) {
                if self.candidates.contains(&window) {
                    self.found
                        .insert(window.iter().map(|&c| c as char).collect());
                }
            }
        }
    }

    /// Ends the current file: runs do not continue into the next one.
    pub fn break_run(&mut self) {
        self.run.clear();
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
    fn ignores_partial_and_unknown_hashes() {
        let mut s = scanner();
        s.feed(&H.as_bytes()[..39]);
        s.break_run();
        s.feed(&H.as_bytes()[39..]);
        s.feed(b"ffffffffffffffffffffffffffffffffffffffff");
        assert!(s.into_found().is_empty());
    }
}
