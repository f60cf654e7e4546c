//! GUID partition tables (UEFI specification, chapter 5), read and written by one module.
//!
//! - [`types`]: [`Guid`] in GPT's mixed-endian layout and [`PartitionType`] with the names
//!   gpart(8) and sgdisk print.
//! - [`Table`] and [`Partition`]: a table as values.
//! - [`read()`]: the protective MBR, both headers and both entry arrays with their CRC32s,
//!   where everything lies and whether the copies agree, from untrusted bytes. A table
//!   comes back with the [`Problem`]s found, or a [`ReadError`] when there is none to use.
//! - [`write()`]: the same structures from a [`Table`], checked by the reader's rules;
//!   [`write_partition_table`] writes the table of an [`ImageSpec`](super::ImageSpec).
//!
//! Sectors are 512 bytes. `verify`, `fruix inspect` and `fruix fsck` read tables here; the
//! image builder writes them here.

mod format;
mod read;
mod table;
pub mod types;
mod write;

pub use format::crc32;
pub use read::{
    read, EntriesError, HeaderError, HeaderField, MbrProblem, Problem, ReadError, ReadReport,
    TableCopy, MAX_ENTRY_ARRAY_BYTES,
};
pub use table::{Partition, PartitionProblem, Table};
pub use types::{Guid, GuidError, PartitionType};
pub use write::{image_table, write, write_partition_table, WriteError};

#[cfg(test)]
mod tests;
