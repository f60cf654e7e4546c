//! One shape for the I/O failures of every module: what was being done, to which file,
//! and the system's error. Module error enums hold it as `Io(IoError)`; those whose
//! callers need to tell a full disk apart (the store, the image) turn
//! [`IoError::is_no_space`] into a variant of their own.

use std::path::{Path, PathBuf};

/// An I/O failure naming the action and the file.
#[derive(Debug, thiserror::Error)]
#[error("{action} `{}`: {source}", path.display())]
pub struct IoError {
    /// What was being done, as a verb phrase (`reading`, `moving into the store`).
    pub action: &'static str,
    /// The file or directory it concerns.
    pub path: PathBuf,
    /// What the operating system said.
    #[source]
    pub source: std::io::Error,
}

impl IoError {
    /// `source` met while doing `action` on `path`.
    pub fn new(action: &'static str, path: &Path, source: std::io::Error) -> IoError {
        IoError {
            action,
            path: path.to_owned(),
            source,
        }
    }

    /// Whether the device ran out of space (`ENOSPC`).
    pub fn is_no_space(&self) -> bool {
        self.source.kind() == std::io::ErrorKind::StorageFull
            || self.source.raw_os_error() == Some(libc::ENOSPC)
    }
}

/// Names the action and the file of an I/O error: `.map_err(io("reading", &path))?`.
pub fn io<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(std::io::Error) -> IoError + 'p {
    move |source| IoError::new(action, path, source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_space_is_told_apart_by_kind_and_by_errno() {
        let path = Path::new("/x");
        let full = io("writing", path)(std::io::Error::from_raw_os_error(libc::ENOSPC));
        assert!(full.is_no_space());
        let kind = io("writing", path)(std::io::ErrorKind::StorageFull.into());
        assert!(kind.is_no_space());
        let denied = io("writing", path)(std::io::ErrorKind::PermissionDenied.into());
        assert!(!denied.is_no_space());
        assert!(denied.to_string().starts_with("writing `/x`: "));
    }
}
