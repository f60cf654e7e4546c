//! Conversions used by the code `operating_system!` expands to. Not a public API: the
//! macro calls these so that a field may be given any reasonable Rust value (`&str` or
//! `String`, an array or a `Vec`, ...), not only the exact spec type.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Values usable where the spec holds an `Option<String>`.
pub trait IntoOptString {
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
