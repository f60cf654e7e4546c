//! File contents as the comparison sees them: hashed twice while they stream by, once as
//! they are and once with every store hash of a known item replaced by `{name}` (the
//! item's name without its hash). Two files whose second hashes agree differ only in which
//! version of other items they name: their change is derived from those items' changes.

use crate::store::hash::hex;
use crate::store::HASH_LEN;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeSet, HashMap};

/// The store items one side knows: hash part -> item name.
#[derive(Debug, Clone, Default)]
pub(crate) struct ItemNames {
    by_hash: HashMap<[u8; HASH_LEN], String>,
}

impl ItemNames {
    /// Adds the item `<hash>-<name>`.
    pub(crate) fn insert(&mut self, hash: &str, name: &str) {
        if let Ok(key) = <[u8; HASH_LEN]>::try_from(hash.as_bytes()) {
            self.by_hash.insert(key, name.to_owned());
        }
    }

    fn name(&self, hash: &[u8]) -> Option<&str> {
        let key: [u8; HASH_LEN] = hash.try_into().ok()?;
        self.by_hash.get(&key).map(String::as_str)
    }

    /// `bytes` with known hashes replaced, and the names replaced (for symlink targets).
    pub(crate) fn normalize(&self, bytes: &[u8]) -> (Vec<u8>, BTreeSet<String>) {
        let mut sink = Normalized::default();
        let mut stream = Stream::new(self, &mut sink);
        stream.feed(bytes);
        let refs = stream.finish();
        (sink.0, refs)
    }
}

fn is_hex(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'a'..=b'f')
}

/// Where normalized bytes go.
trait Out {
    fn put(&mut self, bytes: &[u8]);
}

impl Out for Sha256 {
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

#[derive(Default)]
struct Normalized(Vec<u8>);
impl Out for Normalized {
    fn put(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

/// Replaces known hashes in a byte stream, across chunk boundaries: a run of hex digits is
/// held back until it ends or a known hash completes in it.
struct Stream<'a, O: Out> {
    names: &'a ItemNames,
    out: &'a mut O,
    run: Vec<u8>,
    refs: BTreeSet<String>,
}

impl<'a, O: Out> Stream<'a, O> {
    fn new(names: &'a ItemNames, out: &'a mut O) -> Self {
        Stream {
            names,
            out,
            run: Vec::with_capacity(HASH_LEN),
            refs: BTreeSet::new(),
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        let mut plain_from = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if is_hex(b) {
                if self.run.is_empty() {
                    self.out.put(&bytes[plain_from..i]);
                }
                self.run.push(b);
                if self.run.len() == HASH_LEN {
                    if let Some(name) = self.names.name(&self.run) {
                        self.out.put(b"{");
                        self.out.put(name.as_bytes());
                        self.out.put(b"}");
                        self.refs.insert(name.to_owned());
                        self.run.clear();
                    } else {
                        self.out.put(&self.run[..1]);
                        self.run.remove(0);
                    }
                }
                plain_from = i + 1;
            } else if !self.run.is_empty() {
                self.out.put(&self.run);
                self.run.clear();
                plain_from = i;
            }
        }
        if self.run.is_empty() {
            self.out.put(&bytes[plain_from..]);
        }
    }

    fn finish(self) -> BTreeSet<String> {
        self.out.put(&self.run);
        self.refs
    }
}

/// What a file's contents come to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hashed {
    /// Length in bytes.
    pub len: u64,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    /// SHA-256 of the bytes with known hashes replaced by names, hex.
    pub normalized: String,
    /// Names of the items the bytes mention.
    pub refs: BTreeSet<String>,
}

/// Hashes a file's contents as they are written to it.
pub(crate) struct ContentHasher<'a> {
    names: &'a ItemNames,
    raw: Sha256,
    norm: Sha256,
    run: Vec<u8>,
    refs: BTreeSet<String>,
    len: u64,
}

impl<'a> ContentHasher<'a> {
    pub(crate) fn new(names: &'a ItemNames) -> Self {
        ContentHasher {
            names,
            raw: Sha256::new(),
            norm: Sha256::new(),
            run: Vec::with_capacity(HASH_LEN),
            refs: BTreeSet::new(),
            len: 0,
        }
    }

    pub(crate) fn finish(mut self) -> Hashed {
        self.norm.put(&self.run);
        Hashed {
            len: self.len,
            sha256: hex(&self.raw.finalize()),
            normalized: hex(&self.norm.finalize()),
            refs: self.refs,
        }
    }
}

impl std::io::Write for ContentHasher<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.raw.update(buf);
        self.len += buf.len() as u64;
        // The stream borrows the hasher's parts for one chunk; its state lives in `run`.
        let mut stream = Stream {
            names: self.names,
            out: &mut self.norm,
            run: std::mem::take(&mut self.run),
            refs: std::mem::take(&mut self.refs),
        };
        stream.feed(buf);
        self.run = stream.run;
        self.refs = stream.refs;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const H1: &str = "0123456789abcdef0123456789abcdef01234567";
    const H2: &str = "fedcba9876543210fedcba9876543210fedcba98";

    fn names(hash: &str) -> ItemNames {
        let mut n = ItemNames::default();
        n.insert(hash, "sh");
        n
    }

    fn hashed(names: &ItemNames, chunks: &[&[u8]]) -> Hashed {
        let mut h = ContentHasher::new(names);
        for c in chunks {
            h.write_all(c).unwrap();
        }
        h.finish()
    }

    #[test]
    fn two_versions_of_an_item_normalize_alike_across_chunks() {
        let a = format!("exec /frx/store/{H1}-sh/bin/sh\n");
        let b = format!("exec /frx/store/{H2}-sh/bin/sh\n");
        let ha = hashed(&names(H1), &[&a.as_bytes()[..20], &a.as_bytes()[20..]]);
        let hb = hashed(&names(H2), &[b.as_bytes()]);
        assert_ne!(ha.sha256, hb.sha256);
        assert_eq!(ha.normalized, hb.normalized);
        assert_eq!(ha.refs, BTreeSet::from(["sh".to_owned()]));
        let (text, _) = names(H1).normalize(a.as_bytes());
        assert_eq!(text, b"exec /frx/store/{sh}-sh/bin/sh\n");
    }

    #[test]
    fn unknown_hashes_and_other_bytes_still_count() {
        let n = names(H1);
        let plain = hashed(&n, &[b"abc 12 xyz"]);
        assert_eq!(plain.sha256, plain.normalized, "nothing replaced");
        let other = hashed(&n, &[format!("x{H2}y").as_bytes()]);
        assert_eq!(other.sha256, other.normalized);
        assert!(other.refs.is_empty());
        assert_ne!(
            hashed(&n, &[b"sshd_enable=\"NO\""]).normalized,
            hashed(&n, &[b"sshd_enable=\"YES\""]).normalized
        );
    }
}
