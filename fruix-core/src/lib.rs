//! Fruix core: declare a FreeBSD-based operating system as data and turn it into
//! content-addressed store items and a bhyve-bootable disk image.
//!
//! The pipeline, one module per stage:
//!
//! ```text
//! operating_system! { .. }   (fruix-macros; checked with the same rules as `validate`)
//!         |
//!         v
//! spec::OperatingSystem  --OperatingSystem::validated()-->  ValidatedSystem  (or Violations)
//!         |
//!         v
//! store items -> system closure -> root tree -> ESP + UFS2 -> disk.img   (later stages)
//! ```
//!
//! Specs are plain `serde` data: build them with the macro, in code, or from JSON
//! ([`OperatingSystem::from_json`]); every path runs the same [`validate`] rules. The
//! stages take a [`ValidatedSystem`] (see [`ToValidated`]): given a plain
//! [`OperatingSystem`], they validate it first.

#![warn(missing_docs)]

pub mod cli;
pub mod diff;
pub mod freebsd;
pub mod image;
pub mod io_error;
pub mod links;
pub mod pkg;
pub mod rootfs;
pub mod sparse;
pub mod store;
pub mod system;
pub mod tree;

// The declaration layer lives in its own small crate (`fruix-core/spec`) so that the
// `operating_system!` macro links only it; re-exported here unchanged.
#[doc(hidden)]
pub use fruix_spec::__private;
pub use fruix_spec::{geometry, spec, validate};

pub use fruix_spec::{ToValidated, ValidatedSystem};
pub use spec::*;
pub use validate::{FieldPath, Rule, Violation, Violations};
