//! Giving the parsed values meaning: each spec type has a lowering that turns a [`Value`]
//! into (a) the value itself, as far as it is written literally, for the compile-time
//! checks, and (b) the Rust tokens that build it at run time.
//!
//! Values written as Rust expressions are unknown at compile time: their path goes into
//! [`Cx::opaque`] and a default stands in for them, so that the shared rules can run on
//! the rest without judging what they cannot see.

mod entries;
mod leaves;
mod pkg;
mod system;

pub use system::operating_system;

use crate::ast::{Braced, Range, Value};
use fruix_spec::__private::closest;
use fruix_spec::FieldPath;
use proc_macro2::TokenStream;
use quote::quote;
use std::collections::HashMap;

/// A lowered value: what it is (as far as known) and how to build it.
pub type Lowered<T> = (T, TokenStream);

/// Lowering context: errors so far, where each known value was written, what is unknown.
#[derive(Default)]
pub struct Cx {
    pub errors: Vec<syn::Error>,
    pub opaque: Vec<FieldPath>,
    spans: HashMap<FieldPath, Range>,
}

impl Cx {
    pub fn error(&mut self, at: Range, message: impl std::fmt::Display) {
        self.errors.push(at.error(message));
    }

    pub fn error_help(&mut self, at: Range, message: impl std::fmt::Display, help: &str) {
        self.errors
            .push(at.error(format!("{message}\n= help: {help}")));
    }

    /// Records where the value at `path` was written.
    pub fn at(&mut self, path: &FieldPath, range: Range) {
        self.spans.entry(path.clone()).or_insert(range);
    }

    /// Marks the value at `path` as computed at run time (or broken: either way, unknown).
    pub fn unknown(&mut self, path: &FieldPath) {
        self.opaque.push(path.clone());
    }

    /// Where to report a violation about `path`: the closest recorded enclosing value.
    pub fn span_of(&self, path: &FieldPath) -> Option<Range> {
        let mut at = Some(path.clone());
        while let Some(path) = at {
            if let Some(range) = self.spans.get(&path) {
                return Some(*range);
            }
            at = path.parent();
        }
        None
    }

    /// The value as a `{ .. }` struct, or `None` after handling the other cases.
    fn braced<'v>(&mut self, path: &FieldPath, value: &'v Value, what: &str) -> Option<&'v Braced> {
        match value {
            Value::Braced(braced) => Some(braced),
            Value::Expr(_) => {
                self.unknown(path);
                None
            }
            Value::List(_) => {
                self.unknown(path);
                self.error_help(
                    value.head(),
                    format_args!("expected {what} `{{ .. }}`, found a list"),
                    "remove the brackets, or write the value as a Rust expression in parentheses",
                );
                None
            }
        }
    }

    /// The entries of a struct literal, after rejecting unknown and duplicate fields and
    /// reporting missing required ones at `missing_at`.
    fn fields<'v>(
        &mut self,
        path: &FieldPath,
        entries: &'v [crate::ast::Entry],
        missing_at: Range,
        what: &str,
        known: &[&str],
        required: &[&str],
    ) -> Vec<(String, &'v Value)> {
        let mut seen: Vec<String> = Vec::new();
        let mut out = Vec::new();
        for entry in entries {
            let key = entry.key.text();
            let key_at = Range::single(entry.key.span());
            if let crate::ast::Key::Str(_) = entry.key {
                self.error_help(
                    key_at,
                    format_args!("expected a field name, found the string \"{key}\""),
                    &format!("write the field name without quotes: `{key}: ..`"),
                );
                continue;
            }
            if !known.contains(&key.as_str()) {
                let help = match closest(&key, known.iter().copied()) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => format!(
                        "{what} has the fields {}",
                        known
                            .iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                self.error_help(
                    key_at,
                    format_args!("unknown field `{key}` in {what}"),
                    &help,
                );
                continue;
            }
            if seen.contains(&key) {
                self.error_help(
                    key_at,
                    format_args!("field `{key}` is given more than once in {what}"),
                    &format!("remove one of the `{key}` entries"),
                );
                self.unknown(&path.field(&key));
                continue;
            }
            seen.push(key.clone());
            let field_path = path.field(&key);
            // Composite values are pointed at by their key, leaves by the value itself.
            match entry.value {
                Value::Expr(_) => self.at(&field_path, entry.value.range()),
                _ => self.at(&field_path, key_at),
            }
            out.push((key, &entry.value));
        }
        for field in required {
            if !seen.iter().any(|s| s == field) {
                self.error_help(
                    missing_at,
                    format_args!("missing field `{field}` in {what}"),
                    &format!("add `{field}: ..`"),
                );
                // Judge nothing by the default standing in for it: one error is enough.
                self.unknown(&path.field(field));
            }
        }
        out
    }
}

/// Stores the lowered value in `slot` and returns its tokens.
fn set<T>(slot: &mut T, (value, tokens): Lowered<T>) -> TokenStream {
    *slot = value;
    tokens
}

/// The tokens for a value that is not a struct literal: the expression converted with
/// `Into`, or a default after an error already reported.
fn not_literal<T: Default>(value: &Value) -> Lowered<T> {
    match value {
        Value::Expr(expr) => (T::default(), quote!(::core::convert::Into::into(#expr))),
        _ => (T::default(), quote!(::core::default::Default::default())),
    }
}

/// A struct literal `{ field: value, .. }` of spec type `ty`, or an expression of that type.
/// `field` lowers one known field into `out` and returns its `name: tokens` initializer;
/// fields not written keep the type's `Default`.
#[allow(clippy::too_many_arguments)]
fn structure<T: Default>(
    cx: &mut Cx,
    path: &FieldPath,
    value: &Value,
    what: &str,
    ty: TokenStream,
    known: &[&str],
    required: &[&str],
    mut field: impl FnMut(&mut Cx, &str, &FieldPath, &Value, &mut T) -> TokenStream,
) -> Lowered<T> {
    let Some(braced) = cx.braced(path, value, what) else {
        return not_literal(value);
    };
    let mut out = T::default();
    let mut inits = Vec::new();
    let missing_at = Range::single(braced.open);
    for (key, v) in cx.fields(path, &braced.entries, missing_at, what, known, required) {
        let p = path.field(&key);
        inits.push(field(cx, &key, &p, v, &mut out));
    }
    (
        out,
        quote!(#ty { #(#inits,)* ..::core::default::Default::default() }),
    )
}
