//! Just enough GPT reading to find the UFS partitions of a disk image for `fruix fsck`:
//! the primary header at LBA 1 (512-byte sectors) and its partition entries. CRCs are not
//! verified; a disk without a GPT yields `None`.

use std::io::{self, Read, Seek, SeekFrom};

/// FreeBSD's UFS partition type, 516E7CB6-6ECF-11D6-8FF8-00022D09712B, as stored on disk
/// (first three fields little-endian).
pub const FREEBSD_UFS: [u8; 16] = [
    0xb6, 0x7c, 0x6e, 0x51, 0xcf, 0x6e, 0xd6, 0x11, 0x8f, 0xf8, 0x00, 0x02, 0x2d, 0x09, 0x71, 0x2b,
];

const SECTOR: u64 = 512;

/// One partition entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// 1-based entry number (as in `gpt2`).
    pub number: u32,
    pub type_guid: [u8; 16],
    pub first_lba: u64,
    pub last_lba: u64,
    pub name: String,
}

impl Partition {
    pub fn offset(&self) -> u64 {
        self.first_lba * SECTOR
    }
    pub fn len(&self) -> u64 {
        (self.last_lba + 1).saturating_sub(self.first_lba) * SECTOR
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn is_ufs(&self) -> bool {
        self.type_guid == FREEBSD_UFS
    }
}

/// The used partition entries, or `None` when there is no GPT header at LBA 1.
pub fn partitions<R: Read + Seek>(r: &mut R) -> io::Result<Option<Vec<Partition>>> {
    let mut h = [0u8; 92];
    r.seek(SeekFrom::Start(SECTOR))?;
    if let Err(e) = r.read_exact(&mut h) {
        return if e.kind() == io::ErrorKind::UnexpectedEof {
            Ok(None)
        } else {
            Err(e)
        };
    }
    if &h[..8] != b"EFI PART" {
        return Ok(None);
    }
    let le64 = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
    let le32 = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap_or([0; 4]));
    let entries_lba = le64(&h, 72);
    let count = le32(&h, 80).min(4096);
    let size = le32(&h, 84);
    if !(128..=4096).contains(&size) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("GPT entry size {size}"),
        ));
    }
    let mut table = vec![0u8; count as usize * size as usize];
    r.seek(SeekFrom::Start(entries_lba.saturating_mul(SECTOR)))?;
    r.read_exact(&mut table)?;
    let mut out = Vec::new();
    for (i, e) in table.chunks_exact(size as usize).enumerate() {
        let mut type_guid = [0u8; 16];
        type_guid.copy_from_slice(&e[..16]);
        if type_guid == [0; 16] {
            continue;
        }
        let units: Vec<u16> = e[56..128]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|u| *u != 0)
            .collect();
        out.push(Partition {
            number: i as u32 + 1,
            type_guid,
            first_lba: le64(e, 32),
            last_lba: le64(e, 40),
            name: String::from_utf16_lossy(&units),
        });
    }
    Ok(Some(out))
}
