//! Store errors: every I/O failure names the file it concerns.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
/// Why a store operation failed. A failed operation leaves the store as it was.
pub enum StoreError {
    #[error("{action} `{}`: {source}", path.display())]
    /// An I/O operation on a store file failed.
    Io {
        /// What was being done ("creating", "renaming"...).
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        #[source]
        /// The underlying error.
        source: std::io::Error,
    },
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

/// Adds the action and path to an I/O error; "no space" gets its own variant.
pub(crate) fn io<'p>(
    action: &'static str,
    path: &'p Path,
) -> impl FnOnce(std::io::Error) -> StoreError + 'p {
    move |source| {
        if source.kind() == std::io::ErrorKind::StorageFull || source.raw_os_error() == Some(28) {
            StoreError::NoSpace {
                action,
                path: path.to_owned(),
            }
        } else {
            StoreError::Io {
                action,
                path: path.to_owned(),
                source,
            }
        }
    }
}
