//! Fruix system declarations as plain data ([`spec`]) and the one rule set that checks
//! them ([`validate`], with the image's [`geometry`]), shared by
//! `OperatingSystem::validate()` at run time and by the `operating_system!` macro at
//! compile time. A declaration that passed is a [`ValidatedSystem`], the type the build
//! stages take.
//!
//! This crate is small on purpose: the proc macro links it (and only it) into every
//! system crate's compiler plugin. Users reach everything here through `fruix_core`,
//! which re-exports it unchanged.

#![warn(missing_docs)]

pub mod freebsd;
pub mod geometry;
pub mod spec;
pub mod validate;
mod validated;

#[doc(hidden)]
pub mod __private;

pub use spec::*;
pub use validate::{FieldPath, Rule, Violation, Violations};
pub use validated::{ToValidated, ValidatedSystem};
