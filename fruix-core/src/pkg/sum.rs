//! Checksums as pkg writes them: `1$<sha256 hex>`, `2$<BLAKE2b-512 z-base32>`, or bare
//! SHA-256 hex (before pkg 2.4 and in catalogues).
//!
//! A file's sum is the hash of its bytes. A symlink's is the hash of its target with one
//! leading `/` removed but the original length kept (pkg hashes `linklen` bytes from the
//! relative start, so `/a/b` hashes `a/b\0`): kept for compatibility with pkg.

use super::manifest::{Sum, SumKind};
use crate::store::hash::hex;
use blake2::Blake2b512;
use sha2::{Digest, Sha256};
use std::fmt;

/// pkg's z-base32 alphabet (Zimmermann's human-oriented base 32).
const ZBASE32: &[u8; 32] = b"ybndrfg8ejkmcpqxot1uwisza345h769";

/// `bytes` in pkg's z-base32: 5 bits at a time, least significant first, the last group
/// holding what remains (64 bytes give 103 characters).
pub fn zbase32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc |= u32::from(b) << bits;
        bits += 8;
        while bits >= 5 {
            out.push(char::from(ZBASE32[(acc & 0x1f) as usize]));
            acc >>= 5;
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(char::from(ZBASE32[(acc & 0x1f) as usize]));
    }
    out
}

impl Sum {
    /// Parses `1$<hex>`, `2$<z-base32>` or bare hex; `-` (and the empty string) is `None`.
    pub fn parse(text: &str) -> Result<Option<Sum>, String> {
        if text.is_empty() || text == "-" {
            return Ok(None);
        }
        let (kind, digest) = match text.split_once('$') {
            None => (SumKind::Sha256, text),
            Some(("1", d)) => (SumKind::Sha256, d),
            Some(("2", d)) => (SumKind::Blake2b, d),
            Some((k, _)) => {
                return Err(format!(
                    "checksum `{}` has type `{}`: only 1 (SHA-256 hex) and 2 (BLAKE2b z-base32) are known",
                    text.escape_debug(),
                    k.escape_debug()
                ))
            }
        };
        let ok = match kind {
            SumKind::Sha256 => digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()),
            SumKind::Blake2b => digest.len() == 103 && digest.bytes().all(|b| ZBASE32.contains(&b)),
        };
        if !ok {
            return Err(format!("checksum `{}` is malformed", text.escape_debug()));
        }
        Ok(Some(Sum {
            kind,
            digest: digest.to_ascii_lowercase(),
        }))
    }

    /// The sum of `bytes`.
    pub fn of_bytes(kind: SumKind, bytes: &[u8]) -> Sum {
        let mut h = SumHasher::new(kind);
        h.update(bytes);
        h.finish()
    }

    /// The sum pkg gives a symlink to `target`.
    pub fn of_symlink(kind: SumKind, target: &str) -> Sum {
        let bytes = target.as_bytes();
        let start = usize::from(bytes.first() == Some(&b'/'));
        let mut hashed = bytes[start..].to_vec();
        hashed.resize(bytes.len(), 0);
        Sum::of_bytes(kind, &hashed)
    }
}

/// `1$<hex>` / `2$<z-base32>`: the form `pkg create` writes.
impl fmt::Display for Sum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            SumKind::Sha256 => 1,
            SumKind::Blake2b => 2,
        };
        write!(f, "{kind}${}", self.digest)
    }
}

/// A streaming hasher of either kind.
#[derive(Clone)]
pub enum SumHasher {
    /// SHA-256.
    Sha256(Sha256),
    /// BLAKE2b-512.
    Blake2b(Blake2b512),
}

impl SumHasher {
    /// A fresh hasher of `kind`.
    pub fn new(kind: SumKind) -> SumHasher {
        match kind {
            SumKind::Sha256 => SumHasher::Sha256(Sha256::new()),
            SumKind::Blake2b => SumHasher::Blake2b(Blake2b512::new()),
        }
    }

    /// Adds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            SumHasher::Sha256(h) => h.update(bytes),
            SumHasher::Blake2b(h) => h.update(bytes),
        }
    }

    /// The sum of everything added.
    pub fn finish(self) -> Sum {
        match self {
            SumHasher::Sha256(h) => Sum {
                kind: SumKind::Sha256,
                digest: hex(&h.finalize()),
            },
            SumHasher::Blake2b(h) => Sum {
                kind: SumKind::Blake2b,
                digest: zbase32(&h.finalize()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_forms_parse_alike() {
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let empty = Sum::of_bytes(SumKind::Sha256, b"");
        assert_eq!(empty.digest, hex);
        assert_eq!(Sum::parse(hex).unwrap(), Some(empty.clone()));
        assert_eq!(
            Sum::parse(&format!("1${hex}")).unwrap(),
            Some(empty.clone())
        );
        assert_eq!(
            Sum::parse(&hex.to_uppercase()).unwrap(),
            Some(empty.clone())
        );
        assert_eq!(empty.to_string(), format!("1${hex}"));
        assert_eq!(Sum::parse("-").unwrap(), None);
        assert!(Sum::parse("1$abc").is_err());
        assert!(Sum::parse("0$abc").unwrap_err().contains("type `0`"));
    }

    #[test]
    fn zbase32_is_lsb_first_with_a_final_partial_group() {
        assert_eq!(zbase32(&[0]), "yy");
        // 0x01: low 5 bits 00001 -> 'b', then 000 -> 'y'.
        assert_eq!(zbase32(&[1]), "by");
        // 0xff 0x01: 11111 -> '9', 111 | 1<<3 = 01111 -> 'x', remaining 0 -> 'y'... 16 bits: 4 groups.
        assert_eq!(zbase32(&[0xff, 0x01]), "9xyy");
        let blake = Sum::of_bytes(SumKind::Blake2b, b"abc");
        assert_eq!(blake.digest.len(), 103);
        assert_eq!(Sum::parse(&blake.to_string()).unwrap(), Some(blake));
    }

    #[test]
    fn symlinks_hash_the_relative_target_at_the_original_length() {
        assert_eq!(
            Sum::of_symlink(SumKind::Sha256, "/a/b"),
            Sum::of_bytes(SumKind::Sha256, b"a/b\0")
        );
        assert_eq!(
            Sum::of_symlink(SumKind::Sha256, "../lib/x"),
            Sum::of_bytes(SumKind::Sha256, b"../lib/x")
        );
    }
}
