//! The EFI system partition: a FAT file system holding `EFI/BOOT/BOOTX64.EFI` (FreeBSD's
//! `loader.efi`), built in memory (fatfs writes cluster by cluster; a Vec is ~20x faster
//! than a file) with a fixed volume id and timestamps.

use crate::geometry::EspVolume;
use crate::spec::FatType;
use fatfs::{FileSystem, FormatVolumeOptions, FsOptions, NullTimeProvider, StdIoWrapper};
use std::io::{Cursor, Write};

/// Why the ESP could not be built.
#[derive(Debug, thiserror::Error)]
pub enum EspError {
    #[error("the boot loader ({loader} bytes) does not fit in the ESP ({size} bytes)")]
    /// The loader is larger than the ESP can hold.
    LoaderTooLarge {
        /// Loader size in bytes.
        loader: u64,
        /// ESP size in bytes.
        size: u64,
    },
    #[error("formatting the ESP: {0}")]
    /// The FAT formatter refused the volume or a write; the text is its error.
    Fat(String),
}

/// A finished ESP image.
pub struct EspImage {
    /// The whole ESP volume, ready to be placed at the partition's offset.
    pub bytes: Vec<u8>,
}

fn fat(e: impl std::fmt::Debug) -> EspError {
    EspError::Fat(format!("{e:?}"))
}

/// Builds a FAT ESP of `volume`'s size and type (which [`EspVolume`] guarantees FAT can
/// format) with `loader` as `EFI/BOOT/BOOTX64.EFI`.
pub fn build_esp(volume: EspVolume, volume_id: u32, loader: &[u8]) -> Result<EspImage, EspError> {
    let (size, fat_type) = (volume.bytes(), volume.fat());
    // Room for the FATs and directories aside, the loader must fit.
    if loader.len() as u64 + (1 << 20) > size {
        return Err(EspError::LoaderTooLarge {
            loader: loader.len() as u64,
            size,
        });
    }
    let len = usize::try_from(size).map_err(fat)?;
    let mut image = Cursor::new(vec![0u8; len]);
    // FAT32 needs at least 65525 clusters, FAT16 at most 65524: 512-byte clusters give
    // FAT32 the most; FAT16 takes the smallest cluster that keeps it under its limit.
    let (kind, cluster) = match fat_type {
        FatType::Fat32 => (fatfs::FatType::Fat32, 512),
        FatType::Fat16 => {
            let mut cluster = 512u32;
            while size / u64::from(cluster) >= 65_000 && cluster < 65_536 {
                cluster *= 2;
            }
            (fatfs::FatType::Fat16, cluster)
        }
    };
    let options = FormatVolumeOptions::new()
        .fat_type(kind)
        .bytes_per_cluster(cluster)
        .volume_id(volume_id)
        .volume_label(*b"EFISYS     ");
    fatfs::format_volume(&mut StdIoWrapper::new(&mut image), options).map_err(fat)?;
    image.set_position(0);
    {
        let fs = FileSystem::new(
            StdIoWrapper::new(&mut image),
            FsOptions::new().time_provider(NullTimeProvider::new()),
        )
        .map_err(fat)?;
        {
            let root = fs.root_dir();
            let boot = root
                .create_dir("EFI")
                .and_then(|efi| efi.create_dir("BOOT"))
                .map_err(fat)?;
            let mut file = boot.create_file("BOOTX64.EFI").map_err(fat)?;
            file.write_all(loader).map_err(fat)?;
            file.flush().map_err(fat)?;
        }
        fs.unmount().map_err(fat)?;
    }
    Ok(EspImage {
        bytes: image.into_inner(),
    })
}

/// Reads `EFI/BOOT/BOOTX64.EFI` back from an ESP image (for verification). A malformed
/// file system is an error, never a panic.
pub fn read_loader(esp: &[u8]) -> Result<Vec<u8>, EspError> {
    contain_panics(|| read_loader_unchecked(esp))
}

/// Runs a read of a FAT volume. The FAT library trusts some on-disk values (e.g. a
/// directory entry naming cluster 0 or 1 underflows `cluster - 2`; found by fuzzing):
/// contain what it does on garbage.
fn contain_panics<T>(read: impl FnOnce() -> Result<T, EspError>) -> Result<T, EspError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)).unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(EspError::Fat(format!(
            "malformed FAT file system (the reader gave up: {why})"
        )))
    })
}

fn read_loader_unchecked(esp: &[u8]) -> Result<Vec<u8>, EspError> {
    use std::io::Read;
    let fs = FileSystem::new(
        // fatfs wants a writable device even to read: work on a copy.
        StdIoWrapper::new(Cursor::new(esp.to_vec())),
        FsOptions::new().time_provider(NullTimeProvider::new()),
    )
    .map_err(fat)?;
    let mut out = Vec::new();
    {
        let mut file = fs
            .root_dir()
            .open_file("EFI/BOOT/BOOTX64.EFI")
            .map_err(fat)?;
        file.read_to_end(&mut out).map_err(fat)?;
    }
    Ok(out)
}

/// Visits every file of the FAT volume on `dev` (which is only read: nothing is written
/// unless the volume is changed), depth first: `visit` gets the path (`/EFI/BOOT/..`),
/// the length and the contents as a reader. A malformed file system is an error.
pub fn walk_files<D>(
    dev: D,
    visit: &mut dyn FnMut(&str, u64, &mut dyn std::io::Read) -> std::io::Result<()>,
) -> Result<(), EspError>
where
    D: std::io::Read + std::io::Write + std::io::Seek,
{
    contain_panics(|| {
        let fs = FileSystem::new(
            StdIoWrapper::new(dev),
            FsOptions::new().time_provider(NullTimeProvider::new()),
        )
        .map_err(fat)?;
        let mut todo = vec![(String::new(), fs.root_dir())];
        while let Some((prefix, dir)) = todo.pop() {
            for entry in dir.iter() {
                let entry = entry.map_err(fat)?;
                let name = entry.file_name();
                if name == "." || name == ".." {
                    continue;
                }
                let path = format!("{prefix}/{name}");
                if entry.is_dir() {
                    todo.push((path, entry.to_dir()));
                } else {
                    let mut file = entry.to_file();
                    visit(&path, entry.len(), &mut file).map_err(fat)?;
                }
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_reads_back_both_fat_types_deterministically() {
        let loader = b"MZ fake loader".repeat(1000);
        for (fat_type, size) in [(FatType::Fat32, 33u64 << 20), (FatType::Fat16, 8 << 20)] {
            let volume = EspVolume::new(size, fat_type).unwrap();
            let a = build_esp(volume, 0x1234_abcd, &loader).unwrap();
            let b = build_esp(volume, 0x1234_abcd, &loader).unwrap();
            assert!(a.bytes == b.bytes, "{fat_type:?} not reproducible");
            assert_eq!(a.bytes.len() as u64, size);
            assert_eq!(read_loader(&a.bytes).unwrap(), loader);
        }
    }

    #[test]
    fn refuses_a_loader_the_esp_cannot_hold() {
        let volume = EspVolume::new(33 << 20, FatType::Fat32).unwrap();
        assert!(matches!(
            build_esp(volume, 1, &vec![0; 40 << 20]),
            Err(EspError::LoaderTooLarge { .. })
        ));
    }
}
