//! Directory blocks (`struct direct`): encoding for the writer, parsing for the reader and
//! the checker. Entries are packed into 512-byte chunks (`DIRBLKSIZ`); an entry never
//! crosses a chunk and the last entry of a chunk takes the slack.

use super::format::{DIRBLKSIZ, MAXNAMLEN};

const CHUNK: usize = DIRBLKSIZ as usize;
const HEADER: usize = 8;

/// Bytes an entry with a name of `namlen` bytes needs (`DIRSIZ`): header, name, NUL,
/// padded to 4 bytes.
pub const fn dirsiz(namlen: usize) -> usize {
    (HEADER + namlen + 1 + 3) & !3
}

/// One entry to encode.
#[derive(Debug, Clone, Copy)]
pub struct EntryIn<'a> {
    /// Entry name (no `/` or NUL, 1 to 255 bytes).
    pub name: &'a [u8],
    /// Inode number the entry names.
    pub ino: u32,
    /// `d_type` of the target (`DT_DIR`, `DT_REG`, ...).
    pub dtype: u8,
}

/// Packs `entries` (`.` and `..` first) into chunks; appends the bytes to `out` when given.
/// Returns the directory size in bytes, a multiple of 512. Sizing and encoding share this
/// one loop so the planned size is always the written size.
pub fn encode<'a>(
    entries: impl IntoIterator<Item = EntryIn<'a>>,
    mut out: Option<&mut Vec<u8>>,
) -> u64 {
    let mut chunks = 0u64;
    let mut used = 0usize;
    let mut last = 0usize;
    let mut start = out.as_ref().map_or(0, |o| o.len());
    let close = |out: &mut Option<&mut Vec<u8>>, start: usize, last: usize| {
        if let Some(o) = out.as_deref_mut() {
            let reclen = (CHUNK - last) as u16;
            o[start + last + 4..start + last + 6].copy_from_slice(&reclen.to_le_bytes());
            o.resize(start + CHUNK, 0);
        }
    };
    for e in entries {
        let need = dirsiz(e.name.len());
        if used + need > CHUNK {
            close(&mut out, start, last);
            chunks += 1;
            start += CHUNK;
            used = 0;
        }
        if let Some(o) = out.as_deref_mut() {
            o.extend_from_slice(&e.ino.to_le_bytes());
            o.extend_from_slice(&(need as u16).to_le_bytes());
            o.push(e.dtype);
            o.push(e.name.len() as u8);
            o.extend_from_slice(e.name);
            o.resize(start + used + need, 0);
        }
        last = used;
        used += need;
    }
    if used > 0 {
        close(&mut out, start, last);
        chunks += 1;
    }
    chunks * DIRBLKSIZ
}

/// A parsed, well-formed entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    /// Byte offset of the entry inside the directory.
    pub offset: u64,
    /// Inode number the entry names.
    pub ino: u32,
    /// `d_type` the entry records.
    pub dtype: u8,
    /// Entry name, raw bytes.
    pub name: Vec<u8>,
}

/// What is wrong with a directory entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EntryFault {
    #[error("record length {0} is below 8, not a multiple of 4, or crosses a 512-byte chunk")]
    /// Record length (the argument) below 8, not a multiple of 4, or crossing a 512-byte chunk.
    BadReclen(u16),
    #[error("name of {namlen} bytes does not fit its record length {reclen}")]
    /// The name length does not fit in the record.
    NameOverflows {
        /// The name length the entry claims.
        namlen: u8,
        /// The record length it has.
        reclen: u16,
    },
    #[error("empty name")]
    /// A live entry with a zero-length name.
    EmptyName,
    #[error("name holds `/` or NUL")]
    /// The name holds `/` or NUL.
    BadNameByte,
    #[error("name is not NUL-terminated")]
    /// No NUL after the name.
    Unterminated,
    #[error("directory size is not a multiple of 512")]
    /// The directory's size is not a whole number of 512-byte chunks.
    PartialChunk,
}

/// Parses directory bytes. Well-formed live entries are returned; every fault is passed
/// to `fault` with its offset, and the rest of a chunk whose record lengths cannot be
/// trusted is skipped (as fsck does), so garbage never loops or panics.
pub fn parse(data: &[u8], mut fault: impl FnMut(u64, EntryFault)) -> Vec<RawEntry> {
    let mut out = Vec::new();
    for (ci, chunk) in data.chunks(CHUNK).enumerate() {
        let base = (ci * CHUNK) as u64;
        if chunk.len() < CHUNK {
            fault(base, EntryFault::PartialChunk);
            break;
        }
        let mut pos = 0usize;
        while pos < CHUNK {
            let at = base + pos as u64;
            let h = &chunk[pos..];
            let reclen = u16::from_le_bytes([h[4], h[5]]);
            let r = usize::from(reclen);
            if r < HEADER || r % 4 != 0 || pos + r > CHUNK {
                fault(at, EntryFault::BadReclen(reclen));
                break;
            }
            let ino = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
            let (dtype, namlen) = (h[6], h[7]);
            pos += r;
            if ino == 0 {
                continue;
            }
            let n = usize::from(namlen);
            if dirsiz(n) > r {
                fault(at, EntryFault::NameOverflows { namlen, reclen });
                continue;
            }
            let name = &h[HEADER..HEADER + n];
            if n == 0 {
                fault(at, EntryFault::EmptyName);
            } else if name.iter().any(|b| *b == 0 || *b == b'/') {
                fault(at, EntryFault::BadNameByte);
            } else if h[HEADER + n] != 0 {
                fault(at, EntryFault::Unterminated);
            } else {
                debug_assert!(n <= MAXNAMLEN);
                out.push(RawEntry {
                    offset: at,
                    ino,
                    dtype,
                    name: name.to_vec(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(name: &[u8], ino: u32) -> EntryIn<'_> {
        EntryIn {
            name,
            ino,
            dtype: 8,
        }
    }

    #[test]
    fn packs_chunks_and_parses_back() {
        let names: Vec<Vec<u8>> = (0..200)
            .map(|i| format!("file-{i:04}").into_bytes())
            .collect();
        let mut entries = vec![e(b".", 2), e(b"..", 2)];
        entries.extend(names.iter().enumerate().map(|(i, n)| e(n, 10 + i as u32)));
        let size = encode(entries.clone(), None);
        let mut bytes = Vec::new();
        assert_eq!(encode(entries.clone(), Some(&mut bytes)), size);
        assert_eq!(bytes.len() as u64, size);
        assert_eq!(size % 512, 0);
        assert!(size > 512);
        let mut faults = Vec::new();
        let parsed = parse(&bytes, |o, f| faults.push((o, f)));
        assert!(faults.is_empty(), "{faults:?}");
        assert_eq!(parsed.len(), entries.len());
        for (p, e) in parsed.iter().zip(&entries) {
            assert_eq!((&p.name[..], p.ino), (e.name, e.ino));
        }
    }

    #[test]
    fn max_names_and_garbage() {
        let long = [b'n'; 255];
        let mut bytes = Vec::new();
        encode(
            [e(b".", 2), e(b"..", 2), e(&long, 3), e(&long, 4)],
            Some(&mut bytes),
        );
        assert_eq!(bytes.len(), 1024);
        assert_eq!(parse(&bytes, |_, _| panic!()).len(), 4);
        let mut count = 0;
        parse(&[0xffu8; 1500], |_, _| count += 1);
        assert!(count >= 2);
    }
}
