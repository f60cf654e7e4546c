//! Store errors: every I/O failure names the file it concerns.

pub(crate) use crate::io_error::io;
use crate::io_error::IoError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Io(IoError),
    #[error("no space left on the device holding `{}` while {action}; the store is unchanged", path.display())]
    NoSpace { action: &'static str, path: PathBuf },
    #[error("store directory `{}` cannot be used: {why}", path.display())]
    Unusable { path: PathBuf, why: String },
    #[error("`{path}` in item `{item}`: {why}")]
    BadEntry {
        item: String,
        path: String,
        why: String,
    },
    #[error("registration of `{}` is corrupt: {why}", path.display())]
    CorruptRecord { path: PathBuf, why: String },
    #[error(transparent)]
    Name(#[from] super::path::StorePathError),
    #[error("`{0}` is not in the store")]
    NotInStore(String),
}

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
