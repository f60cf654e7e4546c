//! The sealed image layout: every partition's place, size, type, label and GUID, computed
//! from a validated declaration and the root file system's size before the disk is
//! written. Where partitions go is [`fruix_spec::geometry`]'s rule (also what validation
//! checks); this module adds what only the contents decide (the root's size, whether it
//! fits) and the identities (GUIDs, the ESP's volume id).

use crate::spec::FatType;
use crate::ValidatedSystem;
use fruix_spec::geometry::{align_up, HEAD};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use fruix_spec::geometry::{
    ALIGN, AUTO_FREE_PERCENT, AUTO_MIN_FREE, BACKUP_GPT_SECTORS, SECTOR,
};

/// EFI system partition type.
pub const TYPE_ESP: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
/// FreeBSD UFS type.
pub const TYPE_FREEBSD_UFS: &str = "516E7CB6-6ECF-11D6-8FF8-00022D09712B";
/// FreeBSD swap type.
pub const TYPE_FREEBSD_SWAP: &str = "516E7CB5-6ECF-11D6-8FF8-00022D09712B";

/// What a partition holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PartitionKind {
    /// The EFI system partition (FAT), holding `EFI/BOOT/BOOTX64.EFI`.
    Esp,
    /// The UFS2 root file system.
    FreebsdUfs,
    /// Swap.
    FreebsdSwap,
}

impl PartitionKind {
    /// The GPT partition type GUID, uppercase text.
    pub fn type_guid(self) -> &'static str {
        match self {
            PartitionKind::Esp => TYPE_ESP,
            PartitionKind::FreebsdUfs => TYPE_FREEBSD_UFS,
            PartitionKind::FreebsdSwap => TYPE_FREEBSD_SWAP,
        }
    }
    /// gpart(8)'s name for the type.
    pub fn name(self) -> &'static str {
        match self {
            PartitionKind::Esp => "efi",
            PartitionKind::FreebsdUfs => "freebsd-ufs",
            PartitionKind::FreebsdSwap => "freebsd-swap",
        }
    }
}

/// One partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionSpec {
    /// GPT entry number (1-based).
    pub number: u32,
    /// What the partition holds.
    pub kind: PartitionKind,
    /// GPT partition type GUID, uppercase text.
    pub type_guid: String,
    /// GPT partition label (`/dev/gpt/<label>` on FreeBSD).
    pub label: String,
    /// Unique partition GUID, derived from the build's seed, not random, so
    /// images are reproducible.
    pub guid: String,
    /// First sector.
    pub first_lba: u64,
    /// Inclusive, as GPT stores it.
    pub last_lba: u64,
}

impl PartitionSpec {
    /// Byte offset of the partition in the disk image.
    pub fn offset(&self) -> u64 {
        self.first_lba * SECTOR
    }
    /// Size in bytes.
    pub fn size(&self) -> u64 {
        (self.last_lba + 1 - self.first_lba) * SECTOR
    }
}

/// The whole image, as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSpec {
    /// Host name of the system in the image.
    pub host_name: String,
    /// Disk image size in bytes, a whole number of sectors.
    pub disk_size: u64,
    /// Sector size in bytes (512).
    pub sector_size: u64,
    /// Disk GUID, derived from the build's seed, not random, so
    /// images are reproducible.
    pub disk_guid: String,
    /// In GPT entry order: ESP (1), root (2), swap (3). On disk, swap sits between the ESP
    /// and the root, so the root is last and can grow (growfs).
    pub partitions: Vec<PartitionSpec>,
    /// FAT type of the ESP.
    pub esp_fat: FatType,
    /// FAT volume serial number of the ESP.
    pub esp_volume_id: u32,
    /// GPT label of the root partition.
    pub root_label: String,
    /// Bytes of the root UFS2 file system (its partition may be a few sectors longer).
    pub root_fs_size: u64,
}

impl ImageSpec {
    /// The partition of kind `kind`, if the image has one.
    pub fn partition(&self, kind: PartitionKind) -> Option<&PartitionSpec> {
        self.partitions.iter().find(|p| p.kind == kind)
    }
}

/// Why an image cannot be laid out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("image size {given} bytes is too small: the ESP ({esp} bytes){swap}, the root file system ({root} bytes) and the partition table need {needed} bytes; declare at least `{needed_mib}MiB` or `size: auto`")]
    /// The declared image size cannot hold the partitions and the GPT.
    TooSmall {
        /// The declared size in bytes.
        given: u64,
        /// Bytes the partitions and tables need.
        needed: u64,
        /// `needed`, rounded up to whole MiB.
        needed_mib: u64,
        /// ESP size in bytes.
        esp: u64,
        /// Root file-system size in bytes.
        root: u64,
        /// The swap partition's part of the message (empty without swap).
        swap: String,
    },
    #[error("a root file system of {0} bytes cannot be the image's root: it must be a non-zero number of whole MiB that fits the declared image size")]
    /// The root size (the argument, in bytes) is zero, not whole MiB, or does not fit.
    RootSize(u64),
}

/// A GUID derived from the system's identity: the same system always gets the same one.
pub fn derived_guid(seed: &str, what: &str) -> uuid::Uuid {
    let digest = Sha256::digest(format!("fruix-guid-v1\0{seed}\0{what}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// The ESP's FAT volume id, derived from `esp_seed` (the boot loader item's hash) so that
/// the ESP only changes with the loader and is reused otherwise.
pub fn esp_volume_id(esp_seed: &str) -> u32 {
    let digest = Sha256::digest(format!("fruix-esp-volume-id-v1\0{esp_seed}").as_bytes());
    u32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// The size of the root file system of `os` for contents that need `root_min` bytes, or
/// why a declared image size cannot hold them.
pub fn root_fs_size(os: &ValidatedSystem, root_min: u64) -> Result<u64, LayoutError> {
    let geometry = os.geometry();
    let size = geometry.root_size(root_min);
    if size < root_min {
        let needed = geometry.disk_size_needed(root_min);
        return Err(LayoutError::TooSmall {
            given: geometry.disk_size(size),
            needed,
            needed_mib: needed >> 20,
            esp: geometry.esp,
            root: align_up(root_min),
            swap: if geometry.swap > 0 {
                format!(", swap ({} bytes)", geometry.swap)
            } else {
                String::new()
            },
        });
    }
    Ok(size)
}

/// Lays out the image of `os` whose root file system needs `root_min` bytes: [`seal`] of
/// [`root_fs_size`].
pub fn plan(
    os: &ValidatedSystem,
    seed: &str,
    esp_seed: &str,
    root_min: u64,
) -> Result<ImageSpec, LayoutError> {
    seal(os, seed, esp_seed, root_fs_size(os, root_min)?)
}

/// Seals the layout of `os` around a root file system of `root_fs_size` bytes (what
/// [`root_fs_size`] gave, which the root file system is laid out with). `seed` (the
/// system's store hash) derives the GUIDs; `esp_seed` (the boot loader item's hash) the
/// ESP's volume id.
pub fn seal(
    os: &ValidatedSystem,
    seed: &str,
    esp_seed: &str,
    root_fs_size: u64,
) -> Result<ImageSpec, LayoutError> {
    let layout = &os.image;
    let geometry = os.geometry();
    let disk_size = geometry.disk_size(root_fs_size);
    let fits = geometry
        .fixed_root_size()
        .is_none_or(|room| root_fs_size <= room);
    if root_fs_size == 0 || !root_fs_size.is_multiple_of(ALIGN) || !fits {
        return Err(LayoutError::RootSize(root_fs_size));
    }
    let esp_first = HEAD / SECTOR;
    let esp_last = esp_first + geometry.esp / SECTOR - 1;
    let swap_first = geometry.swap_start() / SECTOR;
    let root_first = geometry.root_start / SECTOR;
    let root_last = root_first + root_fs_size / SECTOR - 1;
    let guid = |what: &str| {
        derived_guid(seed, what)
            .hyphenated()
            .to_string()
            .to_uppercase()
    };
    let mut partitions = vec![
        PartitionSpec {
            number: 1,
            kind: PartitionKind::Esp,
            type_guid: TYPE_ESP.into(),
            label: layout.esp_label.clone(),
            guid: guid("esp"),
            first_lba: esp_first,
            last_lba: esp_last,
        },
        PartitionSpec {
            number: 2,
            kind: PartitionKind::FreebsdUfs,
            type_guid: TYPE_FREEBSD_UFS.into(),
            label: layout.root_label.clone(),
            guid: guid("root"),
            first_lba: root_first,
            last_lba: root_last,
        },
    ];
    if let Some(s) = &layout.swap {
        partitions.push(PartitionSpec {
            number: 3,
            kind: PartitionKind::FreebsdSwap,
            type_guid: TYPE_FREEBSD_SWAP.into(),
            label: s.label.clone(),
            guid: guid("swap"),
            first_lba: swap_first,
            last_lba: swap_first + geometry.swap / SECTOR - 1,
        });
    }
    Ok(ImageSpec {
        host_name: os.host_name.clone(),
        disk_size,
        sector_size: SECTOR,
        disk_guid: guid("disk"),
        partitions,
        esp_fat: layout.esp_fat,
        esp_volume_id: esp_volume_id(esp_seed),
        root_label: layout.root_label.clone(),
        root_fs_size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{ByteSize, ImageSize, OperatingSystem, SwapPartition};

    fn spec(size: ImageSize) -> OperatingSystem {
        let mut os = OperatingSystem {
            host_name: "h".into(),
            ..Default::default()
        };
        os.image.size = size;
        os
    }

    fn os(size: ImageSize) -> ValidatedSystem {
        spec(size).validated().unwrap()
    }

    #[test]
    fn a_320_mib_image_is_laid_out_like_upstream() {
        let spec = plan(
            &os(ImageSize::Fixed(ByteSize::mib(320))),
            "seed",
            "esp",
            10 << 20,
        )
        .unwrap();
        assert_eq!(spec.disk_size, 320 << 20);
        let esp = spec.partition(PartitionKind::Esp).unwrap();
        assert_eq!((esp.first_lba, esp.size()), (2048, 33 << 20));
        let root = spec.partition(PartitionKind::FreebsdUfs).unwrap();
        assert_eq!(root.first_lba, 2048 + (33 << 20) / 512);
        assert!(
            root.last_lba < 655_360 - 33 - 1 + 1,
            "root ends before the backup GPT"
        );
        assert_eq!(root.size(), spec.root_fs_size);
        assert_eq!(spec.root_fs_size % 4096, 0);
        assert_eq!(
            (esp.label.as_str(), root.label.as_str()),
            ("efiboot", "fruix-root")
        );
    }

    #[test]
    fn guids_are_derived_not_random() {
        let a = plan(&os(ImageSize::Auto), "seed", "esp", 1 << 20).unwrap();
        let b = plan(&os(ImageSize::Auto), "seed", "esp", 1 << 20).unwrap();
        let c = plan(&os(ImageSize::Auto), "other", "esp", 1 << 20).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.disk_guid, c.disk_guid);
        assert_ne!(a.partitions[0].guid, a.partitions[1].guid);
        assert_eq!(a.disk_size % ALIGN, 0);
    }

    #[test]
    fn swap_sits_before_the_root_and_too_small_sizes_say_what_is_needed() {
        let mut with_swap = spec(ImageSize::Auto);
        with_swap.image.swap = Some(SwapPartition::default());
        let spec = plan(&with_swap.validated().unwrap(), "s", "e", 1 << 20).unwrap();
        let swap = spec.partition(PartitionKind::FreebsdSwap).unwrap();
        let root = spec.partition(PartitionKind::FreebsdUfs).unwrap();
        assert_eq!((swap.number, swap.last_lba + 1), (3, root.first_lba));
        let err = plan(
            &os(ImageSize::Fixed(ByteSize::mib(40))),
            "s",
            "e",
            100 << 20,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("image size 41943040 bytes is too small") && text.contains("`135MiB`"),
            "{text}"
        );
    }

    #[test]
    fn sealing_takes_the_built_root_size_and_refuses_one_that_does_not_fit() {
        let fixed = os(ImageSize::Fixed(ByteSize::mib(320)));
        let root = root_fs_size(&fixed, 10 << 20).unwrap();
        assert_eq!(
            seal(&fixed, "s", "e", root),
            plan(&fixed, "s", "e", 10 << 20)
        );
        for wrong in [0, root + ALIGN, (10 << 20) + 512] {
            assert_eq!(
                seal(&fixed, "s", "e", wrong),
                Err(LayoutError::RootSize(wrong))
            );
        }
        // An automatic size follows the root: the disk is sealed around what was built.
        let auto = os(ImageSize::Auto);
        let root = root_fs_size(&auto, 200 << 20).unwrap();
        let spec = seal(&auto, "s", "e", root).unwrap();
        assert_eq!(
            spec.partition(PartitionKind::FreebsdUfs).unwrap().size(),
            root
        );
        assert_eq!(spec.disk_size, (34 << 20) + root + ALIGN);
    }
}
