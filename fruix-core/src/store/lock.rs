//! Advisory file locks (flock-style, released when the file closes or the process dies).

use super::error::{io, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

/// A held exclusive lock.
pub struct Lock {
    _file: File,
}

fn open(path: &Path) -> Result<File> {
    Ok(OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io("opening lock", path))?)
}

impl Lock {
    /// Wraps a file whose lock the caller already holds.
    pub fn from_file(file: File) -> Lock {
        Lock { _file: file }
    }
}

/// Waits for the exclusive lock on `path` (created if missing).
pub fn lock(path: &Path) -> Result<Lock> {
    let file = open(path)?;
    file.lock().map_err(io("locking", path))?;
    Ok(Lock { _file: file })
}

/// Takes the lock on `path` if nobody holds it.
pub fn try_lock(path: &Path) -> Result<Option<Lock>> {
    let file = open(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(Lock { _file: file })),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(io("locking", path)(e).into()),
    }
}
