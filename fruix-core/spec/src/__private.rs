//! Conversions used by the code `operating_system!` expands to. Not a public API: the
//! macro calls these so that a field may be given any reasonable Rust value (`&str` or
//! `String`, an array or a `Vec`, ...), not only the exact spec type.

//!
//! It also holds what only the macro's own checks use: the full violation list, whether a
//! violation is decidable from the literal values, and the "did you mean" lookup.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::{FieldPath, OperatingSystem, Violation};

pub use crate::validate::names::closest;

/// Every violation of the rules in `os`, in spec order (what `OperatingSystem::validate`
/// wraps into `Violations`).
pub fn violations(os: &OperatingSystem) -> Vec<Violation> {
    crate::validate::validate(os)
}

/// Whether every value `violation`'s verdict depends on is known (none is under an
/// `opaque` path): only then may the macro report it at compile time.
pub fn is_decidable(violation: &Violation, opaque: &[FieldPath]) -> bool {
    violation.path.is_known(opaque) && violation.depends_on.iter().all(|p| p.is_known(opaque))
}

/// Values usable where the spec holds an `Option<String>`.
pub trait IntoOptString {
    /// The value as the spec's optional string.
    fn into_opt_string(self) -> Option<String>;
}

impl IntoOptString for &str {
    fn into_opt_string(self) -> Option<String> {
        Some(self.to_owned())
    }
}
impl IntoOptString for String {
    fn into_opt_string(self) -> Option<String> {
        Some(self)
    }
}
impl IntoOptString for &String {
    fn into_opt_string(self) -> Option<String> {
        Some(self.clone())
    }
}
impl IntoOptString for Option<&str> {
    fn into_opt_string(self) -> Option<String> {
        self.map(str::to_owned)
    }
}
impl IntoOptString for Option<String> {
    fn into_opt_string(self) -> Option<String> {
        self
    }
}

/// An optional string field from a string, a `String`, or an `Option` of either.
pub fn opt_string(value: impl IntoOptString) -> Option<String> {
    value.into_opt_string()
}

/// Values usable where the spec holds an `Option<PathBuf>`: a path or string, or an
/// `Option` of one.
pub trait IntoOptPath {
    fn into_opt_path(self) -> Option<PathBuf>;
}

macro_rules! into_opt_path {
    ($($ty:ty),*) => {$(
        impl IntoOptPath for $ty {
            fn into_opt_path(self) -> Option<PathBuf> {
                Some(self.into())
            }
        }
        impl IntoOptPath for Option<$ty> {
            fn into_opt_path(self) -> Option<PathBuf> {
                self.map(Into::into)
            }
        }
    )*};
}
into_opt_path!(&str, String, &String, PathBuf, &Path, &PathBuf);

pub fn opt_path(value: impl IntoOptPath) -> Option<PathBuf> {
    value.into_opt_path()
}

/// A list of strings from any iterable of string-likes.
pub fn strings<I>(items: I) -> Vec<String>
where
    I: IntoIterator,
    I::Item: Into<String>,
{
    items.into_iter().map(Into::into).collect()
}

/// A list of spec values from any iterable of things convertible to them.
pub fn list<T, I>(items: I) -> Vec<T>
where
    I: IntoIterator,
    I::Item: Into<T>,
{
    items.into_iter().map(Into::into).collect()
}

/// A settings map from any iterable of string-like pairs (a `BTreeMap`, an array of tuples).
pub fn map<I, K, V>(entries: I) -> BTreeMap<String, String>
where
    I: IntoIterator<Item = (K, V)>,
    K: Into<String>,
    V: Into<String>,
{
    entries
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect()
}
