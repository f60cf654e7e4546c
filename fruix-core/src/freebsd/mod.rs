//! FreeBSD itself: the system accounts, and the base a system is made of.
//!
//! A base becomes three store items, split like upstream Fruix's output slices:
//! `freebsd-runtime-<release>` (the userland: everything in `base.txz` but `boot/`),
//! `freebsd-bootloader-<release>` (`boot/` of `base.txz`: `loader.efi`, lua scripts,
//! defaults) and `freebsd-kernel-<release>` (`kernel.txz`: `boot/kernel`). They come from
//! release distribution sets ([`dist`]) or from a generated sample base ([`sample`]); both
//! go through the same [`slices::Slicer`], so they are treated alike downstream.

mod accounts;
pub mod dist;
pub mod sample;
pub mod slices;

pub use accounts::*;
pub use slices::{BaseError, BaseItems};

use crate::store::Store;
use crate::{Arch, BaseSource, FreeBsdBase};
use std::path::PathBuf;

/// A base generated in-process (FreeBSD's layout, placeholder contents) for `release`.
pub fn sample_base(release: &str) -> FreeBsdBase {
    FreeBsdBase {
        release: release.to_owned(),
        arch: Arch::Amd64,
        source: BaseSource::Sample,
    }
}

/// The amd64 release distribution sets (`base.txz`, `kernel.txz`) of `release` in `dir`,
/// checked against the directory's `MANIFEST`.
pub fn dist_sets(release: &str, dir: impl Into<PathBuf>) -> FreeBsdBase {
    FreeBsdBase {
        release: release.to_owned(),
        arch: Arch::Amd64,
        source: BaseSource::DistSets {
            dir: dir.into(),
            base_sha256: None,
            kernel_sha256: None,
        },
    }
}

/// Puts `base` into `store` (or finds it there) and returns its slices.
pub fn materialize_base(base: &FreeBsdBase, store: &Store) -> Result<BaseItems, BaseError> {
    match &base.source {
        BaseSource::Sample => sample::materialize(base, store),
        BaseSource::DistSets {
            dir,
            base_sha256,
            kernel_sha256,
        } => dist::materialize(
            base,
            dir,
            base_sha256.as_deref(),
            kernel_sha256.as_deref(),
            store,
        ),
        BaseSource::Tree { path } => dist::materialize_tree(base, path, store),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_constructors() {
        let sample = sample_base("14.3-RELEASE");
        assert_eq!(sample.release, "14.3-RELEASE");
        assert_eq!(sample.source, BaseSource::Sample);
        let sets = dist_sets("15.0-RELEASE", "/srv/dist");
        assert_eq!(sets.arch, Arch::Amd64);
        assert!(
            matches!(sets.source, BaseSource::DistSets { ref dir, .. } if dir == std::path::Path::new("/srv/dist"))
        );
    }
}
