//! Store errors: every I/O failure names the file it concerns.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{action} `{}`: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
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
