//! Writing a partition table: the protective MBR, both headers and both entry arrays,
//! checked first by the rules the reader applies, so whatever is written reads back.

use super::format::{self, encode_entry, protective_mbr, Header};
use super::read::{check_entries_placement, check_geometry, EntriesError, HeaderError};
use super::table::{Partition, PartitionProblem, Table};
use super::types::{Guid, GuidError, PartitionType};
use crate::image::layout::{ImageSpec, SECTOR};
use std::collections::BTreeSet;
use std::io::{self, Seek, SeekFrom, Write};

/// Why a partition table cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The disk could not be written.
    #[error("writing the partition table at byte {at}: {source}")]
    Io {
        /// Byte offset of the failed write.
        at: u64,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The usable sectors or the entry geometry do not fit the disk.
    #[error("partition table: {0}")]
    Geometry(HeaderError),
    /// An entry array would not lie between the headers, clear of the usable sectors.
    #[error("partition table: the {which} entry array {error}")]
    EntryArray {
        /// `primary` or `backup`.
        which: &'static str,
        /// Where it went wrong.
        error: EntriesError,
    },
    /// A partition's number is 0, above the entry count, or used twice.
    #[error("partition {number}: entry numbers are 1..={entry_count}, each used once")]
    Number {
        /// Its number.
        number: u32,
        /// Entries in the table.
        entry_count: u32,
    },
    /// A partition has the zero type GUID, which marks unused entries.
    #[error("partition {0}: its type is the zero GUID, which marks an unused entry")]
    UnusedType(u32),
    /// A label is longer than 36 UTF-16 units or holds a NUL.
    #[error("partition {number}: label `{label}` is not up to 36 UTF-16 units without NUL")]
    Label {
        /// Its number.
        number: u32,
        /// The label.
        label: String,
    },
    /// A partition lies where it cannot.
    #[error("partition {number}: {problem}")]
    Placement {
        /// Its number.
        number: u32,
        /// What is wrong.
        problem: PartitionProblem,
    },
    /// A GUID of the image layout is not a GUID.
    #[error("image layout: {0}")]
    Guid(#[from] GuidError),
}

/// The table of the image layout `spec`: standard geometry over its disk size, its disk
/// GUID, and its partitions with their numbers, types, GUIDs, places and labels.
pub fn image_table(spec: &ImageSpec) -> Result<Table, GuidError> {
    let mut table = Table::new(spec.disk_guid.parse()?, spec.disk_size / SECTOR);
    for p in &spec.partitions {
        table.partitions.push(Partition {
            number: p.number,
            partition_type: PartitionType::from_guid(p.type_guid.parse::<Guid>()?),
            guid: p.guid.parse()?,
            first_lba: p.first_lba,
            last_lba: p.last_lba,
            attributes: 0,
            label: p.label.clone(),
        });
    }
    Ok(table)
}

/// Writes the table of the image layout `spec` into `disk`, whose length should already
/// be the layout's disk size (the backup header goes into its last sector either way).
pub fn write_partition_table<W: Write + Seek>(
    spec: &ImageSpec,
    disk: &mut W,
) -> Result<(), WriteError> {
    write(&image_table(spec)?, disk)
}

/// Writes `table` into `disk`: the protective MBR at LBA 0, the primary header at LBA 1
/// and its entries from LBA 2, the backup entries just before the last sector and the
/// backup header in it. Other sectors are left as they are. Nothing is written if the
/// table is invalid.
pub fn write<W: Write + Seek>(table: &Table, disk: &mut W) -> Result<(), WriteError> {
    let entries = entry_array(table)?;
    let last_lba = table.last_lba();
    let array_sectors = table.entry_array_sectors();
    let backup_entries_lba = last_lba.saturating_sub(array_sectors);
    for (which, lba) in [("primary", 2), ("backup", backup_entries_lba)] {
        check_entries_placement(
            lba,
            table.entry_array_bytes(),
            table.first_usable_lba,
            table.last_usable_lba,
            last_lba,
        )
        .map_err(|error| WriteError::EntryArray { which, error })?;
    }
    let primary = Header {
        my_lba: 1,
        alternate_lba: last_lba,
        first_usable_lba: table.first_usable_lba,
        last_usable_lba: table.last_usable_lba,
        disk_guid: table.disk_guid,
        entries_lba: 2,
        entry_count: table.entry_count,
        entry_size: table.entry_size,
        entries_crc32: format::crc32(&entries),
    };
    let backup = Header {
        my_lba: last_lba,
        alternate_lba: 1,
        entries_lba: backup_entries_lba,
        ..primary.clone()
    };
    let writes: [(u64, &[u8]); 5] = [
        (0, &protective_mbr(table.disk_sectors)),
        (1, &primary.encode()),
        (2, &entries),
        (backup_entries_lba, &entries),
        (last_lba, &backup.encode()),
    ];
    for (lba, bytes) in writes {
        let at = lba * SECTOR;
        disk.seek(SeekFrom::Start(at))
            .and_then(|_| disk.write_all(bytes))
            .map_err(|source| WriteError::Io { at, source })?;
    }
    disk.flush().map_err(|source| WriteError::Io {
        at: last_lba * SECTOR,
        source,
    })
}

/// The checked entry array of `table`.
fn entry_array(table: &Table) -> Result<Vec<u8>, WriteError> {
    check_geometry(
        table.first_usable_lba,
        table.last_usable_lba,
        table.entry_count,
        table.entry_size,
        table.last_lba(),
    )
    .map_err(WriteError::Geometry)?;
    // Bounded by check_geometry (at most 1 MiB).
    let size = table.entry_size as usize;
    let mut entries = vec![0u8; table.entry_array_bytes() as usize];
    let mut numbers = BTreeSet::new();
    for p in &table.partitions {
        let number = p.number;
        if number == 0 || number > table.entry_count || !numbers.insert(number) {
            return Err(WriteError::Number {
                number,
                entry_count: table.entry_count,
            });
        }
        if p.partition_type.guid().is_zero() {
            return Err(WriteError::UnusedType(number));
        }
        if p.label.encode_utf16().count() > format::NAME_UNITS || p.label.contains('\0') {
            return Err(WriteError::Label {
                number,
                label: p.label.clone(),
            });
        }
        if let Some(problem) = table.placement_problem(p, &table.partitions) {
            return Err(WriteError::Placement { number, problem });
        }
        let at = (number as usize - 1) * size;
        encode_entry(p, &mut entries[at..at + size]);
    }
    Ok(entries)
}
