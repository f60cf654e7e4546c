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
        let mut out = Normalized::default();
        let mut stream = Stream::new(self);
        stream.feed(bytes, &mut out);
        let refs = stream.finish(&mut out);
        (out.0, refs)
    }
}

fn is_hex(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'a'..=b'f')
}

/// Where the bytes of a stream go: as they are, or a hash replaced by a name.
trait Out {
    fn plain(&mut self, bytes: &[u8]);
    fn replaced(&mut self, hash: &[u8], name: &str);
}

#[derive(Default)]
struct Normalized(Vec<u8>);
impl Out for Normalized {
    fn plain(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
    fn replaced(&mut self, _: &[u8], name: &str) {
        self.0.push(b'{');
        self.0.extend_from_slice(name.as_bytes());
        self.0.push(b'}');
    }
}

/// Replaces known hashes in a byte stream, across chunk boundaries. Only hex runs of 40
/// digits or more can hold a hash: they are found by looking at every 40th byte (a byte
/// that is not a hex digit rules out the 40 windows through it), so most bytes are only
/// passed on in bulk. The end of a chunk's last run waits for the next chunk.
struct Stream<'a> {
    names: &'a ItemNames,
    /// Hex digits at the end of what was fed, not yet passed on.
    carry: Vec<u8>,
    refs: BTreeSet<String>,
}

impl<'a> Stream<'a> {
    fn new(names: &'a ItemNames) -> Self {
        Stream {
            names,
            carry: Vec::with_capacity(HASH_LEN),
            refs: BTreeSet::new(),
        }
    }

    fn feed(&mut self, b: &[u8], out: &mut dyn Out) {
        let (mut p, mut i) = (0, 0);
        if !self.carry.is_empty() {
            let k = b.iter().take_while(|&&c| is_hex(c)).count();
            let mut run = std::mem::take(&mut self.carry);
            run.extend_from_slice(&b[..k]);
            self.run(&run, k == b.len(), out);
            if k == b.len() {
                return;
            }
            // b[k] is not a hex digit: it ends the run.
            (p, i) = (k, k + 1);
        }
        // Invariant: b[i - 1] is not a hex digit, or i == 0 and nothing was carried.
        while i + HASH_LEN <= b.len() {
            if !is_hex(b[i + HASH_LEN - 1]) {
                i += HASH_LEN;
                continue;
            }
            let mut start = i + HASH_LEN - 1;
            while start > i && is_hex(b[start - 1]) {
                start -= 1;
            }
            let mut end = i + HASH_LEN;
            while end < b.len() && is_hex(b[end]) {
                end += 1;
            }
            if end - start >= HASH_LEN {
                out.plain(&b[p..start]);
                self.run(&b[start..end], end == b.len(), out);
                if end == b.len() {
                    return;
                }
                p = end;
            } else if end == b.len() {
                // A short run at the end may go on in the next chunk.
                i = start;
                break;
            }
            i = end + 1;
        }
        let i = i.min(b.len());
        let mut tail = b.len();
        while tail > i && is_hex(b[tail - 1]) {
            tail -= 1;
        }
        out.plain(&b[p..tail]);
        self.carry.extend_from_slice(&b[tail..]);
    }

    /// Passes on a run of hex digits with its known hashes replaced; when the run may go
    /// on (`open`), its last 39 digits (or fewer) are carried instead.
    fn run(&mut self, run: &[u8], open: bool, out: &mut dyn Out) {
        let keep_from = if open {
            run.len().saturating_sub(HASH_LEN - 1)
        } else {
            run.len()
        };
        let (mut last, mut j) = (0, 0);
        while j + HASH_LEN <= run.len() {
            if let Some(name) = self.names.name(&run[j..j + HASH_LEN]) {
                out.plain(&run[last..j]);
                out.replaced(&run[j..j + HASH_LEN], name);
                self.refs.insert(name.to_owned());
                j += HASH_LEN;
                last = j;
            } else {
                j += 1;
            }
        }
        let keep_from = keep_from.max(last);
        out.plain(&run[last..keep_from]);
        self.carry.extend_from_slice(&run[keep_from..]);
    }

    fn finish(&mut self, out: &mut dyn Out) -> BTreeSet<String> {
        out.plain(&std::mem::take(&mut self.carry));
        std::mem::take(&mut self.refs)
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

/// The two hashes. Until the first replacement they would see the same bytes: one hasher
/// serves both, and the normalized one splits off (as a copy) at the first replacement.
struct Hashers {
    raw: Sha256,
    normalized: Option<Sha256>,
}

impl Out for Hashers {
    fn plain(&mut self, bytes: &[u8]) {
        self.raw.update(bytes);
        if let Some(n) = &mut self.normalized {
            n.update(bytes);
        }
    }
    fn replaced(&mut self, hash: &[u8], name: &str) {
        let n = self.normalized.get_or_insert_with(|| self.raw.clone());
        n.update(b"{");
        n.update(name.as_bytes());
        n.update(b"}");
        self.raw.update(hash);
    }
}

/// Hashes a file's contents as they are written to it.
pub(crate) struct ContentHasher<'a> {
    stream: Stream<'a>,
    hashers: Hashers,
    len: u64,
}

impl<'a> ContentHasher<'a> {
    pub(crate) fn new(names: &'a ItemNames) -> Self {
        ContentHasher {
            stream: Stream::new(names),
            hashers: Hashers {
                raw: Sha256::new(),
                normalized: None,
            },
            len: 0,
        }
    }

    pub(crate) fn finish(mut self) -> Hashed {
        let refs = self.stream.finish(&mut self.hashers);
        let sha256 = hex(&self.hashers.raw.clone().finalize());
        let normalized = match self.hashers.normalized {
            Some(n) => hex(&n.finalize()),
            None => sha256.clone(),
        };
        Hashed {
            len: self.len,
            sha256,
            normalized,
            refs,
        }
    }
}

impl std::io::Write for ContentHasher<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.len += buf.len() as u64;
        self.stream.feed(buf, &mut self.hashers);
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

    #[test]
    fn every_chunking_gives_the_same_hashes_as_one_piece() {
        let n = names(H1);
        let text = format!(
            "{H1}{H1}x{H2}-{H1}ab\n/frx/store/{H1}-sh 0123 {}{H1}",
            "a".repeat(70)
        );
        let whole = hashed(&n, &[text.as_bytes()]);
        let (normalized, _) = n.normalize(text.as_bytes());
        let want = format!(
            "{{sh}}{{sh}}x{H2}-{{sh}}ab\n/frx/store/{{sh}}-sh 0123 {}{{sh}}",
            "a".repeat(70)
        );
        assert_eq!(String::from_utf8(normalized).unwrap(), want);
        let bytes = text.as_bytes();
        for size in 1..bytes.len() {
            let chunks: Vec<&[u8]> = bytes.chunks(size).collect();
            assert_eq!(hashed(&n, &chunks), whole, "chunks of {size}");
        }
        let other = hashed(&n, &[want.as_bytes()]);
        assert_eq!(other.normalized, whole.normalized);
        assert_eq!(other.sha256, other.normalized, "nothing to replace");
    }
}
