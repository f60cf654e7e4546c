//! GPT's on-disk byte layout (UEFI specification, chapter 5): the protective MBR, the
//! 92-byte header and the partition entry, encoded and decoded without I/O.

use super::types::{Guid, PartitionType};
use super::{HeaderError, MbrProblem, Partition};
use crate::image::layout::SECTOR;

/// `EFI PART`, the first 8 bytes of every header.
pub(super) const SIGNATURE: &[u8; 8] = b"EFI PART";
/// Revision 1.0, the only one there is.
pub(super) const REVISION: u32 = 0x0001_0000;
/// Bytes of the header that the header CRC covers, as written.
pub(super) const HEADER_SIZE: u32 = 92;
/// Bytes of a partition entry that have a meaning; larger entries are zero-padded.
pub(super) const ENTRY_MIN_SIZE: u32 = 128;
/// UTF-16 code units of a partition name.
pub(super) const NAME_UNITS: usize = 36;
/// MBR partition type of the protective partition covering a GPT disk.
const MBR_TYPE_PROTECTIVE: u8 = 0xEE;
/// Where the MBR's four partition records start.
const MBR_RECORDS: usize = 446;
const SECTOR_BYTES: usize = SECTOR as usize;

/// CRC-32 (IEEE 802.3, reflected, as zlib computes it), the checksum of GPT headers and
/// entry arrays.
pub fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(0xFFFF_FFFF, |crc: u32, &b| {
        CRC_TABLE[usize::from((crc as u8) ^ b)] ^ (crc >> 8)
    })
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            bit += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn le64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}
fn guid(b: &[u8], at: usize) -> Guid {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[at..at + 16]);
    Guid::from_disk_bytes(a)
}

/// LBA 0 of a GPT disk of `sectors` sectors: no boot code, one partition of type `EE`
/// from LBA 1 over the rest of the disk (capped at what 32 bits hold), signature `55 AA`.
pub(super) fn protective_mbr(sectors: u64) -> [u8; SECTOR_BYTES] {
    let mut mbr = [0u8; SECTOR_BYTES];
    let size = u32::try_from(sectors.saturating_sub(1)).unwrap_or(u32::MAX);
    let record = &mut mbr[MBR_RECORDS..MBR_RECORDS + 16];
    // Not bootable; CHS start 0/0/2 (LBA 1); type EE; CHS end at the CHS maximum.
    record[..8].copy_from_slice(&[
        0x00,
        0x00,
        0x02,
        0x00,
        MBR_TYPE_PROTECTIVE,
        0xFF,
        0xFF,
        0xFF,
    ]);
    record[8..12].copy_from_slice(&1u32.to_le_bytes());
    record[12..16].copy_from_slice(&size.to_le_bytes());
    mbr[510..512].copy_from_slice(&[0x55, 0xAA]);
    mbr
}

/// Whether LBA 0 is a protective MBR: the `55 AA` signature and a type-`EE` partition
/// starting at LBA 1.
pub(super) fn check_protective_mbr(mbr: &[u8; SECTOR_BYTES]) -> Result<(), MbrProblem> {
    if mbr[510..512] != [0x55, 0xAA] {
        return Err(MbrProblem::NoSignature);
    }
    let protective = mbr[MBR_RECORDS..MBR_RECORDS + 64]
        .chunks_exact(16)
        .any(|r| r[4] == MBR_TYPE_PROTECTIVE && le32(r, 8) == 1);
    if protective {
        Ok(())
    } else {
        Err(MbrProblem::NoProtectivePartition)
    }
}

/// A GPT header's fields (the CRCs are checked on decoding and computed on encoding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Header {
    /// The LBA this header is at.
    pub my_lba: u64,
    /// The LBA of the other header.
    pub alternate_lba: u64,
    pub first_usable_lba: u64,
    pub last_usable_lba: u64,
    pub disk_guid: Guid,
    pub entries_lba: u64,
    pub entry_count: u32,
    pub entry_size: u32,
    pub entries_crc32: u32,
}

impl Header {
    /// Decodes a header sector, checking its signature, size and CRC.
    pub fn decode(sector: &[u8; SECTOR_BYTES]) -> Result<Header, HeaderError> {
        if &sector[..8] != SIGNATURE {
            return Err(HeaderError::NoSignature);
        }
        let size = le32(sector, 12);
        if !(HEADER_SIZE..=SECTOR as u32).contains(&size) {
            return Err(HeaderError::Size(size));
        }
        let stored = le32(sector, 16);
        let mut covered = sector[..size as usize].to_vec();
        covered[16..20].fill(0);
        let computed = crc32(&covered);
        if computed != stored {
            return Err(HeaderError::Crc { stored, computed });
        }
        Ok(Header {
            my_lba: le64(sector, 24),
            alternate_lba: le64(sector, 32),
            first_usable_lba: le64(sector, 40),
            last_usable_lba: le64(sector, 48),
            disk_guid: guid(sector, 56),
            entries_lba: le64(sector, 72),
            entry_count: le32(sector, 80),
            entry_size: le32(sector, 84),
            entries_crc32: le32(sector, 88),
        })
    }

    /// The header's sector: revision 1.0, 92 bytes, CRC computed, the rest zero.
    pub fn encode(&self) -> [u8; SECTOR_BYTES] {
        let mut s = [0u8; SECTOR_BYTES];
        s[..8].copy_from_slice(SIGNATURE);
        s[8..12].copy_from_slice(&REVISION.to_le_bytes());
        s[12..16].copy_from_slice(&HEADER_SIZE.to_le_bytes());
        s[24..32].copy_from_slice(&self.my_lba.to_le_bytes());
        s[32..40].copy_from_slice(&self.alternate_lba.to_le_bytes());
        s[40..48].copy_from_slice(&self.first_usable_lba.to_le_bytes());
        s[48..56].copy_from_slice(&self.last_usable_lba.to_le_bytes());
        s[56..72].copy_from_slice(&self.disk_guid.to_disk_bytes());
        s[72..80].copy_from_slice(&self.entries_lba.to_le_bytes());
        s[80..84].copy_from_slice(&self.entry_count.to_le_bytes());
        s[84..88].copy_from_slice(&self.entry_size.to_le_bytes());
        s[88..92].copy_from_slice(&self.entries_crc32.to_le_bytes());
        let crc = crc32(&s[..HEADER_SIZE as usize]);
        s[16..20].copy_from_slice(&crc.to_le_bytes());
        s
    }
}

/// Decodes entry `number` (1-based) from its bytes (at least [`ENTRY_MIN_SIZE`]); `None`
/// for an unused entry. A name that is not valid UTF-16 is decoded lossily.
pub(super) fn decode_entry(number: u32, e: &[u8]) -> Option<Partition> {
    let type_guid = guid(e, 0);
    if type_guid.is_zero() {
        return None;
    }
    let units: Vec<u16> = (0..NAME_UNITS)
        .map(|i| le16(e, 56 + 2 * i))
        .take_while(|&u| u != 0)
        .collect();
    Some(Partition {
        number,
        partition_type: PartitionType::from_guid(type_guid),
        guid: guid(e, 16),
        first_lba: le64(e, 32),
        last_lba: le64(e, 40),
        attributes: le64(e, 48),
        label: String::from_utf16_lossy(&units),
    })
}

/// Encodes `p` into its entry slot `e` (zeroed beyond the name). The label must already
/// fit [`NAME_UNITS`] units: longer ones are cut here.
pub(super) fn encode_entry(p: &Partition, e: &mut [u8]) {
    e.fill(0);
    e[..16].copy_from_slice(&p.partition_type.guid().to_disk_bytes());
    e[16..32].copy_from_slice(&p.guid.to_disk_bytes());
    e[32..40].copy_from_slice(&p.first_lba.to_le_bytes());
    e[40..48].copy_from_slice(&p.last_lba.to_le_bytes());
    e[48..56].copy_from_slice(&p.attributes.to_le_bytes());
    for (i, unit) in p.label.encode_utf16().take(NAME_UNITS).enumerate() {
        e[56 + 2 * i..58 + 2 * i].copy_from_slice(&unit.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn the_protective_mbr_covers_the_disk_up_to_32_bits() {
        let mbr = protective_mbr(655_360);
        assert_eq!(check_protective_mbr(&mbr), Ok(()));
        assert_eq!(le32(&mbr, 446 + 12), 655_359);
        assert_eq!(le32(&protective_mbr(1 << 40), 446 + 12), u32::MAX);
        let mut broken = mbr;
        broken[446 + 4] = 0x83;
        assert_eq!(
            check_protective_mbr(&broken),
            Err(MbrProblem::NoProtectivePartition)
        );
        broken[511] = 0;
        assert_eq!(check_protective_mbr(&broken), Err(MbrProblem::NoSignature));
    }

    #[test]
    fn headers_decode_what_they_encode_and_check_size_and_crc() {
        let h = Header {
            my_lba: 1,
            alternate_lba: 99,
            first_usable_lba: 34,
            last_usable_lba: 65,
            disk_guid: PartitionType::FreebsdUfs.guid(),
            entries_lba: 2,
            entry_count: 128,
            entry_size: 128,
            entries_crc32: 0xDEAD_BEEF,
        };
        let mut s = h.encode();
        assert_eq!(Header::decode(&s), Ok(h));
        s[12] = 91;
        assert_eq!(Header::decode(&s), Err(HeaderError::Size(91)));
        s[12] = 92;
        s[100] = 1; // beyond the 92 bytes the CRC covers
        assert!(Header::decode(&s).is_ok());
        s[40] ^= 1;
        assert!(matches!(Header::decode(&s), Err(HeaderError::Crc { .. })));
        s[0] = b'e';
        assert_eq!(Header::decode(&s), Err(HeaderError::NoSignature));
    }
}
