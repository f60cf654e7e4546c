//! Writing the partition table: a protective MBR and both GPT headers, with the GUIDs of
//! the [`ImageSpec`] (the `gpt` crate would pick random ones).

use super::layout::{ImageSpec, SECTOR};
use gpt::disk::LogicalBlockSize;
use gpt::partition::Partition;
use gpt::partition_types::Type;
use std::collections::BTreeMap;
use std::fs::File;
use std::str::FromStr;

/// Why the partition table could not be written.
#[derive(Debug, thiserror::Error)]
pub enum GptWriteError {
    #[error("writing the GPT: {0}")]
    Gpt(String),
    #[error("writing the protective MBR: {0}")]
    Mbr(String),
    #[error("GUID `{0}` in the image layout is malformed")]
    Guid(String),
}

fn uuid(text: &str) -> Result<uuid::Uuid, GptWriteError> {
    uuid::Uuid::parse_str(text).map_err(|_| GptWriteError::Guid(text.to_owned()))
}

/// Writes the tables of `spec` into `disk`, whose length must already be the disk size.
pub fn write_partition_table(spec: &ImageSpec, disk: File) -> Result<File, GptWriteError> {
    let total_lba = spec.disk_size / SECTOR;
    let mut disk = disk;
    // The protective partition covers the disk after LBA 0, capped as the spec says.
    let protective = u32::try_from(total_lba - 1).unwrap_or(u32::MAX);
    gpt::mbr::ProtectiveMBR::with_lb_size(protective)
        .overwrite_lba0(&mut disk)
        .map_err(|e| GptWriteError::Mbr(e.to_string()))?;
    let mut table = gpt::GptConfig::new()
        .writable(true)
        .logical_block_size(LogicalBlockSize::Lb512)
        .create_from_device(disk, Some(uuid(&spec.disk_guid)?))
        .map_err(|e| GptWriteError::Gpt(e.to_string()))?;
    let mut entries = BTreeMap::new();
    for p in &spec.partitions {
        let part_type =
            Type::from_str(&p.type_guid).map_err(|_| GptWriteError::Guid(p.type_guid.clone()))?;
        entries.insert(
            p.number,
            Partition {
                part_type_guid: part_type,
                part_guid: uuid(&p.guid)?,
                first_lba: p.first_lba,
                last_lba: p.last_lba,
                flags: 0,
                name: p.label.clone(),
            },
        );
    }
    table
        .update_partitions(entries)
        .map_err(|e| GptWriteError::Gpt(e.to_string()))?;
    table.write().map_err(|e| GptWriteError::Gpt(e.to_string()))
}
