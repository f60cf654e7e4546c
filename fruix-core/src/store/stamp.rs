//! A cheap identity for a host directory tree: every entry's name, size, mode, inode and
//! change times, hashed. It changes whenever the tree's contents could have changed, so
//! build-cache keys of things copied from host trees can use it without reading a byte.

use super::error::{io, Result};
use sha2::{Digest, Sha256};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The stamp of the tree at `root`, as hex.
pub fn tree_stamp(root: &Path) -> Result<String> {
    let mut sha = Sha256::new();
    stamp(root, &mut sha)?;
    Ok(super::hash::hex(&sha.finalize()))
}

fn stamp(path: &Path, sha: &mut Sha256) -> Result<()> {
    let md = std::fs::symlink_metadata(path).map_err(io("reading", path))?;
    sha.update(path.as_os_str().as_encoded_bytes());
    for n in [
        md.size(),
        u64::from(md.mode()),
        md.ino(),
        md.mtime() as u64,
        md.mtime_nsec() as u64,
        md.ctime() as u64,
        md.ctime_nsec() as u64,
    ] {
        sha.update(n.to_le_bytes());
    }
    if md.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io("listing", path))?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()
            .map_err(io("listing", path))?;
        entries.sort();
        for entry in entries {
            stamp(&entry, sha)?;
        }
    }
    Ok(())
}
