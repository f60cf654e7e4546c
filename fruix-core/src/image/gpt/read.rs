//! Reading a partition table from untrusted bytes: the protective MBR, both headers, both
//! entry arrays, their CRC32s, where everything lies. Every finding is a typed
//! [`Problem`]; nothing here panics on what the disk holds.

use super::format::{self, check_protective_mbr, decode_entry, Header};
use super::table::{Partition, PartitionProblem, Table};
use crate::image::layout::SECTOR;
use std::fmt;
use std::io::{self, Read, Seek, SeekFrom};

/// The largest entry array read (8192 entries of 128 bytes); real ones are 16 KiB.
pub const MAX_ENTRY_ARRAY_BYTES: u64 = 1 << 20;

/// One of the two copies of a GPT: the primary (header at LBA 1, entries after it) or
/// the backup (entries before the header in the disk's last sector).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableCopy {
    /// Header at LBA 1.
    Primary,
    /// Header at the disk's last LBA.
    Backup,
}

impl fmt::Display for TableCopy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TableCopy::Primary => "primary",
            TableCopy::Backup => "backup",
        })
    }
}

/// What is wrong with LBA 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MbrProblem {
    /// The last two bytes are not `55 AA`.
    #[error("no 55AA signature")]
    NoSignature,
    /// No partition record has type `EE` and starts at LBA 1.
    #[error("no partition of type EE starting at LBA 1")]
    NoProtectivePartition,
}

/// What is wrong with a GPT header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// No `EFI PART` at its start: there is no header here.
    #[error("no `EFI PART` signature")]
    NoSignature,
    /// Its size field is below 92 or above the sector size.
    #[error("header size {0} is not between 92 and 512 bytes")]
    Size(u32),
    /// Its CRC32 does not match its bytes.
    #[error("header CRC32 mismatch (stored {stored:08X}, computed {computed:08X})")]
    Crc {
        /// The CRC the header holds.
        stored: u32,
        /// The CRC of its bytes.
        computed: u32,
    },
    /// It names another LBA as its own, or its twin's LBA is not where the twin is.
    #[error(
        "it places itself at LBA {my_lba} and its twin at {alternate_lba} (they are at {expected_my} and {expected_alternate})"
    )]
    Misplaced {
        /// The LBA the header says it is at.
        my_lba: u64,
        /// The LBA the header says its twin is at.
        alternate_lba: u64,
        /// Where it is.
        expected_my: u64,
        /// Where its twin is.
        expected_alternate: u64,
    },
    /// Its usable sectors are empty or reach the MBR or the last sector.
    #[error("usable LBAs {first}..={last} are not inside the disk's sectors 2..{last_lba}")]
    UsableRange {
        /// The header's first usable LBA.
        first: u64,
        /// The header's last usable LBA.
        last: u64,
        /// The disk's last LBA.
        last_lba: u64,
    },
    /// Its entry count or size is not a table fruix reads.
    #[error(
        "{count} entries of {size} bytes is not a valid table (entries are 128 x 2^n bytes, at most 1 MiB in all)"
    )]
    EntryGeometry {
        /// Entries in the array.
        count: u32,
        /// Bytes per entry.
        size: u32,
    },
}

/// What is wrong with an entry array.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntriesError {
    /// The array reaches past the disk's end (or its LBA overflows).
    #[error("at LBA {lba} they lie outside the disk")]
    OutsideDisk {
        /// Where the header says the array starts.
        lba: u64,
    },
    /// The array covers a header, the MBR or usable sectors.
    #[error("at LBA {lba} they cover a header or usable sectors")]
    Overlap {
        /// Where the header says the array starts.
        lba: u64,
    },
    /// Their CRC32 does not match the header's.
    #[error("CRC32 mismatch (header says {stored:08X}, computed {computed:08X})")]
    Crc {
        /// The CRC the header holds.
        stored: u32,
        /// The CRC of the array.
        computed: u32,
    },
}

/// A header field the two copies must agree on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderField {
    /// The disk GUID.
    DiskGuid,
    /// First and last usable LBAs.
    UsableRange,
    /// Entries per array.
    EntryCount,
    /// Bytes per entry.
    EntrySize,
}

impl fmt::Display for HeaderField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HeaderField::DiskGuid => "disk GUID",
            HeaderField::UsableRange => "usable LBAs",
            HeaderField::EntryCount => "entry count",
            HeaderField::EntrySize => "entry size",
        })
    }
}

/// Something wrong found while reading a partition table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// LBA 0 is not a protective MBR.
    #[error("LBA 0 is not a protective MBR: {0}")]
    ProtectiveMbr(MbrProblem),
    /// A header is missing or damaged.
    #[error("{copy} GPT header at LBA {lba}: {error}")]
    Header {
        /// Which copy.
        copy: TableCopy,
        /// Where the header was read.
        lba: u64,
        /// What is wrong.
        error: HeaderError,
    },
    /// An entry array is misplaced or damaged.
    #[error("{copy} GPT partition entries: {error}")]
    Entries {
        /// Which copy.
        copy: TableCopy,
        /// What is wrong.
        error: EntriesError,
    },
    /// Both copies are intact but their headers say different things.
    #[error("primary and backup GPT headers disagree on the {0}")]
    HeadersDisagree(HeaderField),
    /// Both copies are intact but their entry arrays differ.
    #[error("primary and backup GPT partition entries differ")]
    EntriesDiffer,
    /// A used entry cannot be a partition; it is left out of the table.
    #[error("partition {number} `{label}`: {problem}")]
    Partition {
        /// Its entry number.
        number: u32,
        /// Its label.
        label: String,
        /// What is wrong.
        problem: PartitionProblem,
    },
}

impl Problem {
    /// The copy of the table the problem is in; `None` for the MBR, the comparison of the
    /// copies and single partitions.
    pub fn copy(&self) -> Option<TableCopy> {
        match self {
            Problem::Header { copy, .. } | Problem::Entries { copy, .. } => Some(*copy),
            _ => None,
        }
    }
}

/// Why no partition table could be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The disk could not be read.
    #[error("reading the disk at byte {at}: {source}")]
    Io {
        /// Byte offset of the failed read.
        at: u64,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The disk has fewer than 3 sectors (MBR, primary header, backup header).
    #[error("the disk is {bytes} bytes: too small for a GPT")]
    TooSmall {
        /// The disk's size.
        bytes: u64,
    },
    /// Neither LBA 1 nor the last LBA starts with `EFI PART`: no GPT at all.
    #[error("no GPT: neither LBA 1 nor the last LBA holds a GPT header")]
    NotGpt {
        /// Everything found: the two missing signatures, and the MBR if it is not
        /// protective.
        problems: Vec<Problem>,
    },
    /// There is a GPT but neither copy is intact.
    #[error("no intact GPT: {}", join(.problems))]
    NoValidCopy {
        /// Everything found, the protective MBR included.
        problems: Vec<Problem>,
    },
}

impl ReadError {
    /// Whether the disk simply has no GPT (too small for one, or no header signature),
    /// as a bare file-system image has not.
    pub fn is_unpartitioned(&self) -> bool {
        matches!(self, ReadError::TooSmall { .. } | ReadError::NotGpt { .. })
    }

    /// The problems found before giving up (none for [`ReadError::Io`] and
    /// [`ReadError::TooSmall`]).
    pub fn problems(&self) -> &[Problem] {
        match self {
            ReadError::NotGpt { problems } | ReadError::NoValidCopy { problems } => problems,
            ReadError::Io { .. } | ReadError::TooSmall { .. } => &[],
        }
    }
}

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A partition table as read, with what was wrong on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadReport {
    /// The table, from the primary copy if it is intact, else from the backup.
    pub table: Table,
    /// The copy the table comes from.
    pub source: TableCopy,
    /// Everything wrong that still left a table to read, in the order found.
    pub problems: Vec<Problem>,
}

/// One intact copy: its header and entry array.
struct IntactCopy {
    header: Header,
    entries: Vec<u8>,
}

fn read_at<R: Read + Seek>(r: &mut R, at: u64, len: usize) -> Result<Vec<u8>, ReadError> {
    let mut buf = vec![0u8; len];
    r.seek(SeekFrom::Start(at))
        .and_then(|_| r.read_exact(&mut buf))
        .map_err(|source| ReadError::Io { at, source })?;
    Ok(buf)
}

fn read_sector<R: Read + Seek>(r: &mut R, lba: u64) -> Result<[u8; 512], ReadError> {
    let mut sector = [0u8; 512];
    sector.copy_from_slice(&read_at(r, lba * SECTOR, 512)?);
    Ok(sector)
}

/// Reads the partition table of the disk `r` (512-byte sectors; its length is the disk's
/// size). Fails only when no copy of the table is intact or the disk cannot be read; any
/// other problem is in [`ReadReport::problems`].
pub fn read<R: Read + Seek>(r: &mut R) -> Result<ReadReport, ReadError> {
    let bytes = r
        .seek(SeekFrom::End(0))
        .map_err(|source| ReadError::Io { at: 0, source })?;
    let sectors = bytes / SECTOR;
    if sectors < 3 {
        return Err(ReadError::TooSmall { bytes });
    }
    let last_lba = sectors - 1;
    let mut problems = Vec::new();
    if let Err(e) = check_protective_mbr(&read_sector(r, 0)?) {
        problems.push(Problem::ProtectiveMbr(e));
    }
    let primary = read_copy(r, TableCopy::Primary, last_lba, &mut problems)?;
    let backup = read_copy(r, TableCopy::Backup, last_lba, &mut problems)?;
    let no_signature = |copy| {
        problems.iter().any(|p| {
            matches!(p, Problem::Header { copy: c, error: HeaderError::NoSignature, .. } if *c == copy)
        })
    };
    if no_signature(TableCopy::Primary) && no_signature(TableCopy::Backup) {
        return Err(ReadError::NotGpt { problems });
    }
    let (source, copy) = match (primary, backup) {
        (Some(p), Some(b)) => {
            compare(&p, &b, &mut problems);
            (TableCopy::Primary, p)
        }
        (Some(p), None) => (TableCopy::Primary, p),
        (None, Some(b)) => (TableCopy::Backup, b),
        (None, None) => return Err(ReadError::NoValidCopy { problems }),
    };
    let h = &copy.header;
    let mut table = Table {
        disk_guid: h.disk_guid,
        disk_sectors: sectors,
        first_usable_lba: h.first_usable_lba,
        last_usable_lba: h.last_usable_lba,
        entry_count: h.entry_count,
        entry_size: h.entry_size,
        partitions: Vec::new(),
    };
    let mut partitions: Vec<Partition> = Vec::new();
    let entries = copy.entries.chunks_exact(h.entry_size as usize);
    for p in (1..).zip(entries).filter_map(|(n, e)| decode_entry(n, e)) {
        match table.placement_problem(&p, &partitions) {
            None => partitions.push(p),
            Some(problem) => problems.push(Problem::Partition {
                number: p.number,
                label: p.label,
                problem,
            }),
        }
    }
    table.partitions = partitions;
    Ok(ReadReport {
        table,
        source,
        problems,
    })
}

/// Reads and checks one copy; `None` (with its problems recorded) if it is unusable.
fn read_copy<R: Read + Seek>(
    r: &mut R,
    copy: TableCopy,
    last_lba: u64,
    problems: &mut Vec<Problem>,
) -> Result<Option<IntactCopy>, ReadError> {
    let (lba, alternate) = match copy {
        TableCopy::Primary => (1, last_lba),
        TableCopy::Backup => (last_lba, 1),
    };
    let header = match Header::decode(&read_sector(r, lba)?) {
        Ok(h) => h,
        Err(error) => {
            problems.push(Problem::Header { copy, lba, error });
            return Ok(None);
        }
    };
    // Reported, but the copy stays usable: where it is was known without asking it.
    if header.my_lba != lba || header.alternate_lba != alternate {
        let error = HeaderError::Misplaced {
            my_lba: header.my_lba,
            alternate_lba: header.alternate_lba,
            expected_my: lba,
            expected_alternate: alternate,
        };
        problems.push(Problem::Header { copy, lba, error });
    }
    let (first, last) = (header.first_usable_lba, header.last_usable_lba);
    let (count, size) = (header.entry_count, header.entry_size);
    if let Err(error) = check_geometry(first, last, count, size, last_lba) {
        problems.push(Problem::Header { copy, lba, error });
        return Ok(None);
    }
    let array_bytes = u64::from(count) * u64::from(size);
    let start = header.entries_lba;
    if let Err(error) = check_entries_placement(start, array_bytes, first, last, last_lba) {
        problems.push(Problem::Entries { copy, error });
        return Ok(None);
    }
    // At most MAX_ENTRY_ARRAY_BYTES, checked above.
    let entries = read_at(r, start * SECTOR, array_bytes as usize)?;
    let computed = format::crc32(&entries);
    if computed != header.entries_crc32 {
        let error = EntriesError::Crc {
            stored: header.entries_crc32,
            computed,
        };
        problems.push(Problem::Entries { copy, error });
        return Ok(None);
    }
    Ok(Some(IntactCopy { header, entries }))
}

/// Whether a header's usable sectors and entry geometry make sense on a disk whose last
/// LBA is `last_lba`.
pub(super) fn check_geometry(
    first_usable: u64,
    last_usable: u64,
    entry_count: u32,
    entry_size: u32,
    last_lba: u64,
) -> Result<(), HeaderError> {
    if first_usable < 2 || first_usable > last_usable || last_usable >= last_lba {
        return Err(HeaderError::UsableRange {
            first: first_usable,
            last: last_usable,
            last_lba,
        });
    }
    let array_bytes = u64::from(entry_count) * u64::from(entry_size);
    if entry_count == 0
        || entry_size < format::ENTRY_MIN_SIZE
        || !entry_size.is_power_of_two()
        || array_bytes > MAX_ENTRY_ARRAY_BYTES
    {
        return Err(HeaderError::EntryGeometry {
            count: entry_count,
            size: entry_size,
        });
    }
    Ok(())
}

/// Whether an entry array of `array_bytes` at LBA `start` lies inside the disk, between
/// the two headers and clear of the usable sectors.
pub(super) fn check_entries_placement(
    start: u64,
    array_bytes: u64,
    first_usable: u64,
    last_usable: u64,
    last_lba: u64,
) -> Result<(), EntriesError> {
    // Checked: the header is input, and its CRC only says it was not damaged by accident.
    let end = start
        .checked_add(array_bytes.div_ceil(SECTOR))
        .filter(|&end| end <= last_lba + 1)
        .ok_or(EntriesError::OutsideDisk { lba: start })?;
    // [start, end) against the MBR, the primary header, the usable sectors, the backup header.
    if start < 2 || end > last_lba || (start <= last_usable && first_usable < end) {
        return Err(EntriesError::Overlap { lba: start });
    }
    Ok(())
}

/// What two intact copies must share.
fn compare(primary: &IntactCopy, backup: &IntactCopy, problems: &mut Vec<Problem>) {
    let (p, b) = (&primary.header, &backup.header);
    let fields = [
        (HeaderField::DiskGuid, p.disk_guid == b.disk_guid),
        (
            HeaderField::UsableRange,
            (p.first_usable_lba, p.last_usable_lba) == (b.first_usable_lba, b.last_usable_lba),
        ),
        (HeaderField::EntryCount, p.entry_count == b.entry_count),
        (HeaderField::EntrySize, p.entry_size == b.entry_size),
    ];
    for (field, same) in fields {
        if !same {
            problems.push(Problem::HeadersDisagree(field));
        }
    }
    if primary.entries != backup.entries {
        problems.push(Problem::EntriesDiffer);
    }
}
