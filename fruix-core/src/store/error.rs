//! Store errors: every I/O failure names the file it concerns.

pub(crate) use crate::io_error::io;
use crate::io_error::IoError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
/// Why a store operation failed. A failed operation leaves the store as it was.
pub enum StoreError {
    #[error(transparent)]
    /// An I/O operation on a store file failed.
    Io(IoError),
    #[error("no space left on the device holding `{}` while {action}; the store is unchanged", path.display())]
    /// The device holding the store is full; nothing was registered.
    NoSpace {
        /// What was being done.
        action: &'static str,
        /// The file being written.
        path: PathBuf,
    },
    #[error("store directory `{}` cannot be used: {why}", path.display())]
    /// The store directory cannot be created, locked or written.
    Unusable {
        /// The store directory.
        path: PathBuf,
        /// Why it cannot be used.
        why: String,
    },
    #[error("`{path}` in item `{item}`: {why}")]
    /// An entry of an item is something a store item may not hold (device, escaping symlink...).
    BadEntry {
        /// The item's name.
        item: String,
        /// The entry's path inside the item.
        path: String,
        /// What is wrong with it.
        why: String,
    },
    #[error("registration of `{}` is corrupt: {why}", path.display())]
    /// An item's registration file cannot be parsed.
    CorruptRecord {
        /// The registration file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    #[error(transparent)]
    /// A string that is not a store path or item name.
    Name(#[from] super::path::StorePathError),
    #[error("`{0}` is not in the store")]
    /// The named item (the argument) is not registered in the store.
    NotInStore(String),
}

/// Results of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A full disk is [`StoreError::NoSpace`]: the caller can free space and retry.
impl From<IoError> for StoreError {
    fn from(e: IoError) -> StoreError {
        if e.is_no_space() {
            StoreError::NoSpace {
                action: e.action,
                path: e.path,
            }
        } else {
            StoreError::Io(e)
        }
    }
}
