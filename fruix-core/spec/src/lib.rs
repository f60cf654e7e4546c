//! Fruix system declarations as plain data ([`spec`]) and the one rule set that checks
//! them ([`validate`]), shared by `OperatingSystem::validate()` at run time and by the
//! `operating_system!` macro at compile time.
//!
//! This crate is small on purpose: the proc macro links it (and only it) into every
//! system crate's compiler plugin. Users reach everything here through `fruix_core`,
//! which re-exports it unchanged.

pub mod freebsd;
pub mod spec;
pub mod validate;

#[doc(hidden)]
pub mod __private;

pub use spec::*;
pub use validate::{FieldPath, Rule, Violation, Violations};
