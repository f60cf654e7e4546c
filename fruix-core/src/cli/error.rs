//! What a command can fail with: the library's own errors, kept typed up to `main`, and
//! the exit code each kind gives.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success |
//! | 1 | failure: what was checked has problems (`verify`, `fsck`, `inspect`, `store verify`), or the command could not do its work (a build, the store, a file) |
//! | 2 | usage: bad arguments, or a declaration that does not validate; nothing was attempted |
//! | 3 | no space left on a device; the store is unchanged: free space and run it again |
//!
//! `diff` has its own: 0 equal, 1 different, 2 when a side cannot be read or built.

use crate::diff::DiffError;
use crate::image::gpt;
use crate::image::ufs::{HostTreeError, PlanError, WriteError};
use crate::image::verify::VerifyError;
use crate::image::ImageError;
use crate::io_error::IoError;
use crate::rootfs::RootfsError;
use crate::store::{StoreError, StorePathError};
use crate::system::SystemError;
use crate::Violations;
use std::path::PathBuf;
use std::process::ExitCode;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Arguments that make no sense (clap reports its own before this).
    #[error("{0}")]
    Usage(String),
    /// The declaration breaks rules (exit 2).
    #[error(transparent)]
    Invalid(#[from] Violations),
    /// A store path given on the command line is malformed.
    #[error(transparent)]
    StorePath(#[from] StorePathError),
    /// Building or loading the image failed.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// Building the system closure failed.
    #[error(transparent)]
    System(#[from] SystemError),
    /// The store could not be opened, read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Laying out or writing the root file system failed.
    #[error(transparent)]
    Rootfs(#[from] RootfsError),
    /// The image to verify could not be read at all.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// A file the command works on could not be read or written.
    #[error(transparent)]
    Io(IoError),
    /// The host directory given to `makefs` could not be read.
    #[error(transparent)]
    HostTree(#[from] HostTreeError),
    /// The tree does not fit the UFS2 file system asked for.
    #[error("{0}")]
    Plan(#[from] PlanError),
    #[error("`{}`: {source}", path.display())]
    /// Writing the UFS2 image at `path` failed.
    WriteUfs {
        /// The image being written.
        path: PathBuf,
        /// What went wrong.
        source: WriteError,
    },
    #[error("`{}`: {source}", path.display())]
    /// The disk at `path` has no readable partition table.
    Gpt {
        /// The disk image.
        path: PathBuf,
        /// What the GPT reader found.
        source: gpt::ReadError,
    },
    /// A GPT disk given to `fsck` has no freebsd-ufs partition.
    #[error("`{}`: no UFS partition found", .0.display())]
    NoUfs(PathBuf),
    /// Results could not be printed as JSON.
    #[error("printing results: {0}")]
    Json(#[from] serde_json::Error),
    /// `diff` could not read a side (exit 2).
    #[error(transparent)]
    Diff(#[from] DiffError),
    /// `diff --against` could not build the declared side (exit 2).
    #[error("building the declared system to compare: {0}")]
    DiffSide(Box<CliError>),
    /// `diff` found differences (they were printed as results; exit 1).
    #[error("the two sides differ")]
    Differs,
    /// What was checked has problems (they were printed as results).
    #[error("{count} problem(s) in {}", path.display())]
    Problems {
        /// How many problems were found.
        count: usize,
        /// What was checked.
        path: PathBuf,
    },
}

/// A full disk is told apart by [`CliError::exit_code`] through the library's own variant.
impl From<IoError> for CliError {
    fn from(e: IoError) -> CliError {
        if e.is_no_space() {
            CliError::Store(e.into())
        } else {
            CliError::Io(e)
        }
    }
}

impl CliError {
    /// The process's exit status for this error (see the module's table).
    pub fn exit_code(&self) -> u8 {
        if self.is_usage() || matches!(self, CliError::Diff(_) | CliError::DiffSide(_)) {
            2
        } else if self.is_no_space() {
            3
        } else {
            1
        }
    }

    fn is_usage(&self) -> bool {
        matches!(
            self,
            CliError::Usage(_)
                | CliError::Invalid(_)
                | CliError::StorePath(_)
                | CliError::System(SystemError::Invalid(_))
                | CliError::Image(ImageError::System(SystemError::Invalid(_)))
        )
    }

    fn is_no_space(&self) -> bool {
        let store = |e: &StoreError| matches!(e, StoreError::NoSpace { .. });
        let system = |e: &SystemError| match e {
            SystemError::Store(e) => store(e),
            SystemError::Base(crate::freebsd::BaseError::Store(e)) => store(e),
            _ => false,
        };
        match self {
            CliError::Store(e) => store(e),
            CliError::System(e) => system(e),
            CliError::Rootfs(RootfsError::Store(e)) => store(e),
            CliError::Image(e) => match e {
                ImageError::NoSpace { .. } => true,
                ImageError::Store(e) | ImageError::Rootfs(RootfsError::Store(e)) => store(e),
                ImageError::System(e) => system(e),
                _ => false,
            },
            _ => false,
        }
    }
}

impl From<&CliError> for ExitCode {
    fn from(e: &CliError) -> ExitCode {
        ExitCode::from(e.exit_code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn exit_codes_follow_the_kind_of_failure() {
        let io =
            |kind: std::io::ErrorKind| crate::io_error::io("writing", Path::new("/x"))(kind.into());
        assert_eq!(CliError::Usage("x".into()).exit_code(), 2);
        assert_eq!(
            CliError::from(Violations(Vec::new())).exit_code(),
            2,
            "an invalid declaration is a usage error"
        );
        assert_eq!(
            CliError::from(io(std::io::ErrorKind::PermissionDenied)).exit_code(),
            1
        );
        let full = CliError::from(io(std::io::ErrorKind::StorageFull));
        assert!(matches!(full, CliError::Store(StoreError::NoSpace { .. })));
        assert_eq!(full.exit_code(), 3);
        let image_full = CliError::from(ImageError::from(io(std::io::ErrorKind::StorageFull)));
        assert!(matches!(
            image_full,
            CliError::Image(ImageError::NoSpace { .. })
        ));
        assert_eq!(image_full.exit_code(), 3);
        let problems = CliError::Problems {
            count: 2,
            path: "disk.img".into(),
        };
        assert_eq!(problems.exit_code(), 1);
        let unreadable = CliError::from(DiffError::NotFound {
            arg: "a.img".into(),
            why: "no such file".into(),
        });
        assert_eq!(unreadable.exit_code(), 2, "diff: a side it cannot read");
        let side = CliError::DiffSide(Box::new(CliError::from(io(
            std::io::ErrorKind::PermissionDenied,
        ))));
        assert_eq!(side.exit_code(), 2);
    }
}
