//! The disk image's geometry rules, written once: sectors, 1 MiB alignment, the backup
//! GPT, the FAT minimums of the ESP, GPT and UFS labels, and where each partition goes.
//!
//! [`crate::validate`] reports them (at compile time through the `operating_system!` macro,
//! at run time through [`crate::OperatingSystem::validate`]); fruix-core's image stage lays
//! the disk out with the same functions instead of checking again. What only the built
//! contents can tell (does the root tree fit the declared size, does the boot loader fit
//! the ESP) is the image stage's own business.
//!
//! On disk, partitions sit in this order, each on a 1 MiB boundary:
//!
//! ```text
//! | MBR + GPT + gap (1 MiB) | ESP | swap (optional) | root (to the end) | backup GPT |
//! ```
//!
//! The root comes last so that it can grow (growfs).

use crate::{ByteSize, FatType, ImageLayout, ImageSize};

/// Bytes per logical block.
pub const SECTOR: u64 = 512;
/// Partitions start and end on 1 MiB boundaries, as FreeBSD's and everyone's tools do.
pub const ALIGN: u64 = 1 << 20;
/// Before the first partition: the protective MBR, the primary GPT and the alignment gap.
pub const HEAD: u64 = ALIGN;
/// Sectors of the backup GPT at the end of the disk (128 entries of 128 bytes + header).
pub const BACKUP_GPT_SECTORS: u64 = 33;
/// Bytes of the backup GPT.
pub const BACKUP_GPT_BYTES: u64 = BACKUP_GPT_SECTORS * SECTOR;
/// Headroom for an automatically sized root: at least this much free space...
pub const AUTO_MIN_FREE: u64 = 64 << 20;
/// ...or this share of the contents, whichever is more.
pub const AUTO_FREE_PERCENT: u64 = 25;
/// FAT32 needs at least this much with 512-byte clusters; FreeBSD's own ESP minimum.
pub const FAT32_MIN_ESP: ByteSize = ByteSize::kib(33_292);
/// Below this a FAT16 volume has too few clusters to be FAT16.
pub const FAT16_MIN_ESP: ByteSize = ByteSize::kib(4_118);
/// Longest GPT partition name: 36 UTF-16 code units.
pub const GPT_LABEL_MAX: usize = 36;
/// Longest UFS volume label (`/dev/ufs/LABEL`): 31 bytes and a NUL.
pub const UFS_LABEL_MAX: usize = 31;

/// `bytes` rounded up to the next 1 MiB boundary (saturating: declared sizes may be huge).
pub fn align_up(bytes: u64) -> u64 {
    bytes.div_ceil(ALIGN).saturating_mul(ALIGN)
}

/// Whether `bytes` is a whole number of sectors.
pub fn is_whole_sectors(bytes: u64) -> bool {
    bytes.is_multiple_of(SECTOR)
}

/// The smallest ESP a FAT type can format.
pub fn fat_minimum(fat: FatType) -> ByteSize {
    match fat {
        FatType::Fat32 => FAT32_MIN_ESP,
        FatType::Fat16 => FAT16_MIN_ESP,
    }
}

/// What is wrong with a GPT partition label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GptLabelProblem {
    /// The label is empty: the partition would get no `/dev/gpt/` name.
    Empty,
    /// Longer than [`GPT_LABEL_MAX`] UTF-16 code units.
    TooLong {
        /// How many UTF-16 code units the label has.
        units: usize,
    },
    /// A `/`, white space or control character: labels become `/dev/gpt/<label>`.
    Char(char),
}

/// Checks a GPT partition label.
pub fn gpt_label_problem(label: &str) -> Option<GptLabelProblem> {
    let units = label.encode_utf16().count();
    if label.is_empty() {
        Some(GptLabelProblem::Empty)
    } else if units > GPT_LABEL_MAX {
        Some(GptLabelProblem::TooLong { units })
    } else {
        label
            .chars()
            .find(|c| *c == '/' || c.is_whitespace() || c.is_control())
            .map(GptLabelProblem::Char)
    }
}

/// Whether `label` can be a UFS volume label: at most [`UFS_LABEL_MAX`] bytes of
/// `A-Za-z0-9._-`. (Stricter than GPT: the image's root label is also the file system's
/// volume label only when it fits.)
pub fn is_ufs_volume_label(label: &str) -> bool {
    label.len() <= UFS_LABEL_MAX
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Where the partitions of a declared layout go, from the declared sizes alone (no
/// contents needed). Arithmetic saturates, so any layout has a geometry; it is a
/// meaningful one when the layout passes validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionGeometry {
    /// Bytes of the ESP partition: the declared size rounded up to 1 MiB.
    pub esp: u64,
    /// Bytes of the swap partition (0 without swap), rounded up to 1 MiB.
    pub swap: u64,
    /// Where the root partition starts: after the head, the ESP and swap.
    pub root_start: u64,
    /// The declared disk size.
    pub disk: ImageSize,
}

impl PartitionGeometry {
    /// The geometry of `layout`.
    pub fn of(layout: &ImageLayout) -> PartitionGeometry {
        let esp = align_up(layout.esp_size.bytes());
        let swap = layout.swap.as_ref().map_or(0, |s| align_up(s.size.bytes()));
        PartitionGeometry {
            esp,
            swap,
            root_start: HEAD.saturating_add(esp).saturating_add(swap),
            disk: layout.size,
        }
    }

    /// Where the swap partition starts (right after the ESP).
    pub fn swap_start(&self) -> u64 {
        HEAD.saturating_add(self.esp)
    }

    /// What a fixed disk size must exceed to leave any room for the root: everything but
    /// the root partition.
    pub fn overhead(&self) -> u64 {
        self.root_start.saturating_add(BACKUP_GPT_BYTES)
    }

    /// The root file system's size when the declaration alone fixes it (a fixed disk
    /// size: all whole MiB between the root's start and the backup GPT; up to 1 MiB at the
    /// end stays free, as partitioning tools leave it); `None` when it follows the
    /// contents (`size: auto`).
    pub fn fixed_root_size(&self) -> Option<u64> {
        match self.disk {
            ImageSize::Fixed(size) => {
                Some(size.bytes().saturating_sub(self.overhead()) / ALIGN * ALIGN)
            }
            ImageSize::Auto => None,
        }
    }

    /// The root file system's size for contents that need `root_min` bytes: the fixed one,
    /// or (for `size: auto`) the contents in whole MiB plus headroom, the disk rounded to
    /// whole MiB. Whether the contents fit a fixed size is for the caller to judge.
    pub fn root_size(&self, root_min: u64) -> u64 {
        self.fixed_root_size().unwrap_or_else(|| {
            let free = AUTO_MIN_FREE.max(root_min.saturating_mul(AUTO_FREE_PERCENT) / 100);
            // The backup GPT shares the last MiB(s) with the headroom.
            align_up(root_min)
                .saturating_add(align_up(free.saturating_add(BACKUP_GPT_BYTES)))
                .saturating_sub(ALIGN)
        })
    }

    /// The disk size for a root file system of `root_size` bytes: the declared one, or the
    /// partitions, the root and one more MiB that holds the backup GPT.
    pub fn disk_size(&self, root_size: u64) -> u64 {
        match self.disk {
            ImageSize::Fixed(size) => size.bytes(),
            ImageSize::Auto => self
                .root_start
                .saturating_add(root_size)
                .saturating_add(ALIGN),
        }
    }

    /// The smallest whole-MiB disk that holds a root of `root_min` bytes.
    pub fn disk_size_needed(&self, root_min: u64) -> u64 {
        self.root_start
            .saturating_add(align_up(root_min))
            .saturating_add(ALIGN)
    }
}

/// An ESP size its FAT type can format: made by [`EspVolume::new`], which applies the
/// rule, or by [`crate::ValidatedSystem::esp_volume`] for a declaration that passed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EspVolume {
    bytes: u64,
    fat: FatType,
}

/// Why a size cannot hold an ESP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EspSizeError {
    #[error("ESP of {size} bytes is below the {} minimum of {min} bytes", .fat.name())]
    /// `size` is below what FAT type `fat` needs (`min` bytes): too few clusters for it.
    BelowFatMinimum {
        /// The ESP size asked for, in bytes.
        size: u64,
        /// The FAT type asked for.
        fat: FatType,
        /// The smallest ESP of that type, in bytes.
        min: u64,
    },
    #[error("ESP of {0} bytes is not a whole number of 512-byte sectors")]
    /// The size (in bytes) is not a multiple of the 512-byte sector.
    NotWholeSectors(u64),
}

impl EspVolume {
    /// An ESP of `bytes` formatted as `fat`, if that type can hold it.
    pub fn new(bytes: u64, fat: FatType) -> Result<EspVolume, EspSizeError> {
        if !is_whole_sectors(bytes) {
            Err(EspSizeError::NotWholeSectors(bytes))
        } else if bytes < fat_minimum(fat).bytes() {
            Err(EspSizeError::BelowFatMinimum {
                size: bytes,
                fat,
                min: fat_minimum(fat).bytes(),
            })
        } else {
            Ok(EspVolume { bytes, fat })
        }
    }

    /// For a layout that passed validation: its partition, which the rule was checked on.
    pub(crate) fn of_valid(geometry: &PartitionGeometry, fat: FatType) -> EspVolume {
        EspVolume {
            bytes: geometry.esp,
            fat,
        }
    }

    /// The ESP's size in bytes (whole sectors, at least the FAT type's minimum).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The FAT type the ESP is formatted with.
    pub fn fat(&self) -> FatType {
        self.fat
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SwapPartition;

    fn layout(size: ImageSize, swap: bool) -> ImageLayout {
        ImageLayout {
            size,
            swap: swap.then(SwapPartition::default),
            ..ImageLayout::default()
        }
    }

    #[test]
    fn partitions_follow_each_other_on_mib_boundaries() {
        let g = PartitionGeometry::of(&ImageLayout {
            esp_size: FAT32_MIN_ESP,
            ..layout(ImageSize::Auto, true)
        });
        assert_eq!((g.esp, g.swap), (33 << 20, 512 << 20));
        assert_eq!((g.swap_start(), g.root_start), (34 << 20, 546 << 20));
        assert_eq!(g.overhead(), (546 << 20) + 16_896);
    }

    #[test]
    fn a_fixed_disk_gives_the_root_every_whole_mib_before_the_backup_gpt() {
        let g = PartitionGeometry::of(&layout(ImageSize::Fixed(ByteSize::mib(320)), false));
        // 320 MiB - 34 MiB (head, ESP) - 16.5 KiB (backup GPT), in whole MiB.
        assert_eq!(g.fixed_root_size(), Some(285 << 20));
        assert_eq!(g.root_size(1), 285 << 20);
        assert_eq!(g.disk_size(285 << 20), 320 << 20);
        let tiny = PartitionGeometry::of(&layout(ImageSize::Fixed(ByteSize::mib(34)), false));
        assert_eq!(tiny.fixed_root_size(), Some(0));
    }

    #[test]
    fn an_auto_disk_is_the_contents_plus_headroom_in_whole_mib() {
        let g = PartitionGeometry::of(&layout(ImageSize::Auto, false));
        assert_eq!(g.fixed_root_size(), None);
        // Small contents: 64 MiB of headroom, of which the backup GPT takes its share.
        let root = g.root_size(10 << 20);
        assert_eq!(root, (10 + 64) << 20);
        assert_eq!(g.disk_size(root), (34 + 74 + 1) << 20);
        // Large contents: a quarter of them free.
        let root = g.root_size(1 << 30);
        assert_eq!(root, (1024 + 256) << 20);
        for min in [1, 4095, 1 << 20, (300 << 20) + 7] {
            let root = g.root_size(min);
            let disk = g.disk_size(root);
            assert!(root >= min + AUTO_MIN_FREE - ALIGN, "{min}");
            assert_eq!((root % ALIGN, disk % ALIGN), (0, 0), "{min}");
            assert!(g.root_start + root + BACKUP_GPT_BYTES <= disk, "{min}");
        }
    }

    #[test]
    fn esp_volumes_hold_the_fat_minimums() {
        assert!(EspVolume::new(FAT32_MIN_ESP.bytes(), FatType::Fat32).is_ok());
        let err = EspVolume::new(32 << 20, FatType::Fat32).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ESP of 33554432 bytes is below the fat32 minimum of 34091008 bytes"
        );
        assert!(EspVolume::new(8 << 20, FatType::Fat16).is_ok());
        assert!(EspVolume::new(4 << 20, FatType::Fat16).is_err());
        assert_eq!(
            EspVolume::new((8 << 20) + 1, FatType::Fat16),
            Err(EspSizeError::NotWholeSectors((8 << 20) + 1))
        );
    }

    #[test]
    fn labels() {
        assert_eq!(gpt_label_problem("efiboot"), None);
        assert_eq!(gpt_label_problem(""), Some(GptLabelProblem::Empty));
        assert_eq!(
            gpt_label_problem(&"x".repeat(37)),
            Some(GptLabelProblem::TooLong { units: 37 })
        );
        assert_eq!(gpt_label_problem("a/b"), Some(GptLabelProblem::Char('/')));
        assert!(is_ufs_volume_label("fruix-root"));
        assert!(!is_ufs_volume_label("fruix root"));
        assert!(!is_ufs_volume_label(&"x".repeat(32)));
    }
}
