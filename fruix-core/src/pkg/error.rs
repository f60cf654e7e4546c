//! Why a package or a catalogue was refused. Every variant names the package (its file,
//! or `name-version` once known) or the repository, and the member or entry concerned.

use crate::io_error::IoError;
use crate::store::StoreError;

/// Why reading, checking, importing or writing a package or a catalogue failed. A failed
/// import leaves the store as it was.
#[derive(Debug, thiserror::Error)]
pub enum PkgError {
    #[error(transparent)]
    /// An I/O operation on a package, catalogue or output file failed.
    Io(#[from] IoError),
    #[error(transparent)]
    /// The store refused an item.
    Store(#[from] StoreError),
    #[error("package `{package}`: {why}")]
    /// The package file is not a readable archive: unknown compression, a corrupt or
    /// truncated stream, a broken tar header.
    Archive {
        /// The package file.
        package: String,
        /// What is wrong with it.
        why: String,
    },
    #[error("package `{package}`: member `{member}`: {why}")]
    /// One member of the archive is refused (traversal, device, not in the manifest,
    /// written through a symlink, hard link to an unseen path, twice in the archive...).
    Member {
        /// The package (file or `name-version`).
        package: String,
        /// The member's name as the archive gives it (escaped when not printable).
        member: String,
        /// What is wrong with it.
        why: String,
    },
    #[error("package `{package}`: manifest: {why}")]
    /// The manifest is malformed, incomplete, or disagrees with the archive.
    Manifest {
        /// The package (file or `name-version`).
        package: String,
        /// What is wrong with it.
        why: String,
    },
    #[error("package `{package}`: `{path}` has checksum {actual}, the manifest says {expected}")]
    /// A file's (or symlink's) contents do not hash to the manifest's sum.
    Checksum {
        /// The package.
        package: String,
        /// The install path.
        path: String,
        /// The sum the manifest gives.
        expected: String,
        /// The sum of what the archive holds.
        actual: String,
    },
    #[error("package file `{package}` has sha256 {actual}, expected {expected}")]
    /// The `.pkg` file itself does not have the sha256 the catalogue or lock gives.
    FileChecksum {
        /// The package file.
        package: String,
        /// The expected sha256 (hex).
        expected: String,
        /// The sha256 it has.
        actual: String,
    },
    #[error("package file `{package}` is {actual} bytes, the catalogue says {expected}")]
    /// The `.pkg` file does not have the size the catalogue gives.
    FileSize {
        /// The package file.
        package: String,
        /// The catalogue's `pkgsize`.
        expected: u64,
        /// Its size.
        actual: u64,
    },
    #[error("package `{package}` is built for ABI `{abi}`, the system is `{target}`")]
    /// The package's ABI does not match the target's.
    Abi {
        /// The package.
        package: String,
        /// The package's ABI.
        abi: String,
        /// The target's ABI.
        target: String,
    },
    #[error("package `{package}` needs FreeBSD_version {needs}, newer than the system's {target}")]
    /// The package's `FreeBSD_version` annotation is newer than the target's OSVERSION.
    TooNew {
        /// The package.
        package: String,
        /// The package's `FreeBSD_version`.
        needs: u32,
        /// The target's OSVERSION.
        target: u32,
    },
    #[error("package `{package}`: `{path}` is owned by {kind} `{owner}`, which the system does not define")]
    /// An owner or group name has no id in the system's accounts.
    UnknownOwner {
        /// The package.
        package: String,
        /// The install path.
        path: String,
        /// `user` or `group`.
        kind: &'static str,
        /// The name.
        owner: String,
    },
    #[error("package `{package}` is `{found}`, expected `{expected}`")]
    /// The package is not the one the catalogue or declaration names.
    Unexpected {
        /// The package file.
        package: String,
        /// `name-version` expected.
        expected: String,
        /// `name-version` found.
        found: String,
    },
    #[error("package `{package}`: {what} exceeds the limit of {limit} bytes (a decompression bomb or a lying size)")]
    /// A size limit was exceeded while decompressing.
    TooLarge {
        /// The package or catalogue file.
        package: String,
        /// What grew too large.
        what: String,
        /// The limit in bytes.
        limit: u64,
    },
    #[error("repository `{repository}`: {why}")]
    /// The repository's `meta.conf` or catalogue is missing, malformed or unsupported.
    Catalogue {
        /// The repository directory or catalogue file.
        repository: String,
        /// What is wrong with it.
        why: String,
    },
    #[error("repository `{repository}`: package `{entry}`: {why}")]
    /// One catalogue entry is refused (malformed, duplicate name, path leaving the
    /// repository, foreign ABI...).
    CatalogueEntry {
        /// The repository directory or catalogue file.
        repository: String,
        /// The entry's name (or its position when it has none).
        entry: String,
        /// What is wrong with it.
        why: String,
    },
    #[error("writing package `{package}`: {why}")]
    /// A package or repository could not be written as asked.
    Create {
        /// The package or repository being written.
        package: String,
        /// What is wrong.
        why: String,
    },
}

/// Results of package operations.
pub type Result<T, E = PkgError> = std::result::Result<T, E>;
