//! The partition table as values: what the reader returns and the writer takes.

use super::types::{Guid, PartitionType};
use crate::image::layout::SECTOR;

/// A GUID partition table of a disk with 512-byte sectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The disk's GUID.
    pub disk_guid: Guid,
    /// Sectors of the disk the table describes; the backup header is in the last one.
    pub disk_sectors: u64,
    /// The first sector a partition may use.
    pub first_usable_lba: u64,
    /// The last sector a partition may use (inclusive).
    pub last_usable_lba: u64,
    /// Entries in each entry array, used or not.
    pub entry_count: u32,
    /// Bytes per entry (128, or a larger multiple of 8).
    pub entry_size: u32,
    /// The used entries, in entry order.
    pub partitions: Vec<Partition>,
}

/// One used partition entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// 1-based entry number: FreeBSD's `ada0p<number>`, GRUB's `gpt<number>`.
    pub number: u32,
    /// What the partition holds.
    pub partition_type: PartitionType,
    /// The partition's own GUID.
    pub guid: Guid,
    /// Its first sector.
    pub first_lba: u64,
    /// Its last sector (inclusive, as GPT stores it).
    pub last_lba: u64,
    /// Attribute bits (bit 0: required by the platform; bits 48-63: type-specific).
    pub attributes: u64,
    /// The partition name (FreeBSD's label: `/dev/gpt/<label>`), at most 36 UTF-16 units.
    pub label: String,
}

/// What is wrong with where a partition lies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartitionProblem {
    /// It ends before it starts.
    #[error("it ends (LBA {last}) before it starts (LBA {first})")]
    Reversed {
        /// Its first LBA.
        first: u64,
        /// Its last LBA.
        last: u64,
    },
    /// It reaches outside the sectors the table lets partitions use.
    #[error(
        "LBAs {first}..={last} are not inside the disk's usable sectors {first_usable}..={last_usable}"
    )]
    OutsideUsable {
        /// Its first LBA.
        first: u64,
        /// Its last LBA.
        last: u64,
        /// The table's first usable LBA.
        first_usable: u64,
        /// The table's last usable LBA.
        last_usable: u64,
    },
    /// It shares sectors with another partition.
    #[error("it overlaps partition {0}")]
    Overlaps(u32),
}

impl Table {
    /// Entries a table gets when written: 128 (the minimum the UEFI specification asks for).
    pub const ENTRY_COUNT: u32 = 128;
    /// Bytes per entry when written.
    pub const ENTRY_SIZE: u32 = 128;

    /// An empty table over a disk of `disk_sectors` sectors with 128 entries of 128 bytes:
    /// partitions may use every sector between the two entry arrays.
    pub fn new(disk_guid: Guid, disk_sectors: u64) -> Table {
        let mut table = Table {
            disk_guid,
            disk_sectors,
            first_usable_lba: 0,
            last_usable_lba: 0,
            entry_count: Table::ENTRY_COUNT,
            entry_size: Table::ENTRY_SIZE,
            partitions: Vec::new(),
        };
        let array = table.entry_array_sectors();
        // LBA 0 (MBR), LBA 1 (primary header), its entries | usable | entries, header.
        table.first_usable_lba = 2 + array;
        table.last_usable_lba = disk_sectors.saturating_sub(2 + array);
        table
    }

    /// The disk's last LBA, where the backup header lives.
    pub fn last_lba(&self) -> u64 {
        self.disk_sectors.saturating_sub(1)
    }

    /// Bytes of one entry array.
    pub fn entry_array_bytes(&self) -> u64 {
        u64::from(self.entry_count) * u64::from(self.entry_size)
    }

    /// Sectors of one entry array.
    pub fn entry_array_sectors(&self) -> u64 {
        self.entry_array_bytes().div_ceil(SECTOR)
    }

    /// The partition with entry number `number`.
    pub fn partition(&self, number: u32) -> Option<&Partition> {
        self.partitions.iter().find(|p| p.number == number)
    }

    /// The partitions of type `partition_type`, in entry order.
    pub fn partitions_of_type(
        &self,
        partition_type: PartitionType,
    ) -> impl Iterator<Item = &Partition> {
        self.partitions
            .iter()
            .filter(move |p| p.partition_type == partition_type)
    }

    /// The first partition of type `partition_type`.
    pub fn first_of_type(&self, partition_type: PartitionType) -> Option<&Partition> {
        self.partitions_of_type(partition_type).next()
    }

    /// Why `p` cannot be in this table next to `others`, if it cannot.
    pub(super) fn placement_problem(
        &self,
        p: &Partition,
        others: &[Partition],
    ) -> Option<PartitionProblem> {
        let (first, last) = (p.first_lba, p.last_lba);
        if first > last {
            return Some(PartitionProblem::Reversed { first, last });
        }
        if first < self.first_usable_lba || last > self.last_usable_lba {
            return Some(PartitionProblem::OutsideUsable {
                first,
                last,
                first_usable: self.first_usable_lba,
                last_usable: self.last_usable_lba,
            });
        }
        others
            .iter()
            .find(|o| o.number != p.number && o.first_lba <= last && first <= o.last_lba)
            .map(|o| PartitionProblem::Overlaps(o.number))
    }
}

impl Partition {
    /// Byte offset of the partition on the disk.
    pub fn offset(&self) -> u64 {
        self.first_lba.saturating_mul(SECTOR)
    }

    /// Bytes of the partition (0 if it ends before it starts).
    pub fn size(&self) -> u64 {
        self.last_lba
            .saturating_add(1)
            .saturating_sub(self.first_lba)
            .saturating_mul(SECTOR)
    }
}
