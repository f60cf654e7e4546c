//! FreeBSD itself: the system accounts, and the base a system is made of.
//!
//! A base becomes three store items, split like upstream Fruix's output slices:
//! `freebsd-runtime-<release>` (the userland: everything in `base.txz` but `boot/`),
//! `freebsd-bootloader-<release>` (`boot/` of `base.txz`: `loader.efi`, lua scripts,
//! defaults) and `freebsd-kernel-<release>` (`kernel.txz`: `boot/kernel`). They come from
//! release distribution sets ([`dist`]), pkgbase packages ([`pkgbase`]) or a generated
//! sample base ([`sample`]); all go through the same slicer (which checks and routes every entry), so they are treated
//! alike downstream. A base may be given its own UEFI loader ([`loader_efi`]), shipped as
//! `boot/loader.efi`.

pub mod dist;
pub mod loader_efi;
pub mod pkgbase;
pub mod sample;
mod slices;
// Archive member names are checked the same way for packages (`pkg::archive`).
pub(crate) use slices::normalize as normalize_member_path;

pub use fruix_spec::freebsd::*;
pub use slices::{BaseError, BaseItems, BasePackageRecord, Provenance};

use crate::store::Store;
use crate::{BaseSource, FreeBsdBase};

/// Puts `base` into `store` (or finds it there) and returns its slices. A pkgbase base
/// needs the system's repositories and lock file: the system build imports it
/// ([`pkgbase::materialize`] with the fetched packages).
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
        BaseSource::Pkgbase { repository, .. } => Err(BaseError::PkgbaseOutsideSystem {
            repository: repository.clone(),
        }),
    }
}
