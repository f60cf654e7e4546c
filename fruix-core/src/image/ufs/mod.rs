//! UFS2, FreeBSD's file system, written, read and checked without FreeBSD.
//!
//! - [`UfsLayout::plan`] lays a [`FileTree`](crate::tree::FileTree) out (geometry as newfs
//!   computes it, inode numbers, every block address), and [`UfsLayout::write_to`] streams
//!   it to a `Write + Seek` target at an offset; [`min_size`] is the smallest size that
//!   holds a tree.
//! - [`Ufs`] reads an image: directories, inodes, files, symlinks.
//! - [`check`] enforces what fsck_ffs's passes 1-5 check and lists every problem.
//!
//! On-disk facts follow FreeBSD's headers (`sys/ufs/ffs/fs.h`, `sys/ufs/ufs/dinode.h`,
//! `sys/ufs/ufs/dir.h`); the code is our own.

mod alloc;
mod bitmap;
mod cg;
pub mod check;
mod crc;
pub mod dir;
pub mod format;
pub mod geometry;
pub mod host_tree;
pub mod layout;
pub mod read;
mod write;
mod write_file;

pub use check::{check, check_at, Problem};
pub use geometry::{Geometry, GeometryError, Params};
pub use host_tree::{tree_from_host, HostTreeError};
pub use layout::{min_size, PlanError, UfsLayout, UfsOptions};
pub use read::{DirEntry, FileType, ReadError, Stat, Ufs};
pub use write::{WriteError, WriteStats};

/// Checks an image file: a bare UFS2 file system, or every FreeBSD UFS partition of a GPT
/// disk. Returns each file system's name (`image` or `partition N`) with its problems.
/// A disk whose partition table is there but broken in both copies is an error.
pub fn check_image<R: std::io::Read + std::io::Seek>(
    r: &mut R,
) -> Result<Vec<(String, Vec<Problem>)>, crate::image::gpt::ReadError> {
    use crate::image::gpt::{self, PartitionType};
    match gpt::read(r) {
        Ok(read) => Ok(read
            .table
            .partitions_of_type(PartitionType::FreebsdUfs)
            .map(|p| {
                (
                    format!("partition {}", p.number),
                    check_at(&mut *r, p.offset()),
                )
            })
            .collect()),
        Err(e) if e.is_unpartitioned() => Ok(vec![("image".to_string(), check(r))]),
        Err(e) => Err(e),
    }
}
