//! Lowering of leaf values (strings, numbers, names, sizes, devices) and of the
//! generic containers (lists, maps).

use super::{Cx, Lowered};
use crate::ast::{Item, Key, Range, Value};
use fruix_spec::validate::UnknownName;
use fruix_spec::{ByteSize, Device, FieldPath, ImageSize};
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::PathBuf;
use std::str::FromStr;
use syn::{Expr, ExprLit, Lit};

/// The literal inside a value, if it is one (`-1` counts, as a negative integer).
fn literal(value: &Value) -> Option<&Lit> {
    match value {
        Value::Expr(Expr::Lit(ExprLit { lit, .. })) => Some(lit),
        _ => None,
    }
}

/// A bare name such as `comconsole` or `ufs`.
fn bare_name(value: &Value) -> Option<&syn::Ident> {
    match value {
        Value::Expr(Expr::Path(p)) if p.qself.is_none() => p.path.get_ident(),
        _ => None,
    }
}

/// Reports that `value` has the wrong shape, marks it unknown, and yields a default.
fn mismatch<T: Default>(
    cx: &mut Cx,
    path: &FieldPath,
    value: &Value,
    expected: &str,
) -> Lowered<T> {
    cx.unknown(path);
    cx.error(
        value.head(),
        format_args!("expected {expected}, found {}", value.describe()),
    );
    (T::default(), quote!(::core::default::Default::default()))
}

/// Run-time value: unknown now, converted with `convert` (a path to a function).
fn computed<T: Default>(
    cx: &mut Cx,
    path: &FieldPath,
    expr: &Expr,
    convert: TokenStream,
) -> Lowered<T> {
    cx.unknown(path);
    // `(name)` is how a variable is written where a bare word would be a name: drop the
    // parentheses so that the expansion does not trip `unused_parens`.
    let expr = match expr {
        Expr::Paren(paren) => &*paren.expr,
        other => other,
    };
    (T::default(), quote!(#convert(#expr)))
}

fn into() -> TokenStream {
    quote!(::core::convert::Into::into)
}

pub fn string(cx: &mut Cx, path: &FieldPath, value: &Value) -> Lowered<String> {
    match (literal(value), value) {
        (Some(Lit::Str(s)), _) => (s.value(), quote!(::std::string::String::from(#s))),
        (_, Value::Expr(expr)) if literal(value).is_none() => computed(
            cx,
            path,
            expr,
            quote!(::core::convert::Into::<::std::string::String>::into),
        ),
        _ => mismatch(cx, path, value, "a string"),
    }
}

/// A string, also accepting integer and boolean literals (settings maps: `1024`, `true`).
pub fn setting(cx: &mut Cx, path: &FieldPath, value: &Value) -> Lowered<String> {
    let text = match literal(value) {
        Some(Lit::Int(i)) => i.base10_digits().to_owned(),
        // rc.conf's own spelling of booleans.
        Some(Lit::Bool(b)) => if b.value { "YES" } else { "NO" }.to_owned(),
        _ => return string(cx, path, value),
    };
    let lit = Literal::string(&text);
    (text, quote!(::std::string::String::from(#lit)))
}

pub fn opt_string(cx: &mut Cx, path: &FieldPath, value: &Value) -> Lowered<Option<String>> {
    match (literal(value), value) {
        (Some(Lit::Str(s)), _) => (
            Some(s.value()),
            quote!(::core::option::Option::Some(::std::string::String::from(#s))),
        ),
        (None, Value::Expr(expr)) => {
            computed(cx, path, expr, quote!(::fruix_core::__private::opt_string))
        }
        _ => mismatch(cx, path, value, "a string"),
    }
}

/// A host path that may be absent: a string literal, or an expression giving a path, a
/// string, or an `Option` of either.
pub fn opt_path(cx: &mut Cx, path: &FieldPath, value: &Value) -> Lowered<Option<PathBuf>> {
    match (literal(value), value) {
        (Some(Lit::Str(s)), _) => (
            Some(PathBuf::from(s.value())),
            quote!(::core::option::Option::Some(::std::path::PathBuf::from(#s))),
        ),
        (None, Value::Expr(expr)) => {
            computed(cx, path, expr, quote!(::fruix_core::__private::opt_path))
        }
        _ => mismatch(cx, path, value, "a path string"),
    }
}

pub fn boolean(cx: &mut Cx, path: &FieldPath, value: &Value) -> Lowered<bool> {
    match (literal(value), value) {
        (Some(Lit::Bool(b)), _) => (b.value, quote!(#b)),
        (None, Value::Expr(expr)) => computed(cx, path, expr, into()),
        _ => mismatch(cx, path, value, "`true` or `false`"),
    }
}

/// An integer of type `T` (named `ty`); a literal out of `T`'s range is an error. An
/// expression takes its type from the field, as in a Rust struct literal: `1000 + 1` is a
/// `u32` for a uid, not an `i32` to convert.
pub fn int<T>(cx: &mut Cx, path: &FieldPath, value: &Value, ty: &str) -> Lowered<T>
where
    T: FromStr + Default,
{
    let ty_ident = format_ident!("{}", ty);
    int_converted(
        cx,
        path,
        value,
        ty,
        quote!(::core::convert::identity::<#ty_ident>),
    )
}

/// An integer field that an expression may also give as an `Option` (the fsck pass):
/// converted with `Into`, whose only integer source for `Option<u32>` is `u32`.
pub fn opt_int<T>(cx: &mut Cx, path: &FieldPath, value: &Value, ty: &str) -> Lowered<T>
where
    T: FromStr + Default,
{
    int_converted(cx, path, value, ty, into())
}

/// An integer literal checked against `T`, or an expression passed through `convert`.
fn int_converted<T>(
    cx: &mut Cx,
    path: &FieldPath,
    value: &Value,
    ty: &str,
    convert: TokenStream,
) -> Lowered<T>
where
    T: FromStr + Default,
{
    let Value::Expr(expr) = value else {
        return mismatch(cx, path, value, "an integer");
    };
    let text = match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => i.base10_digits().to_owned(),
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr: inner,
            ..
        }) => match &**inner {
            Expr::Lit(ExprLit {
                lit: Lit::Int(i), ..
            }) => format!("-{}", i.base10_digits()),
            _ => return computed(cx, path, expr, convert),
        },
        Expr::Lit(_) => return mismatch(cx, path, value, "an integer"),
        _ => return computed(cx, path, expr, convert),
    };
    match text.parse::<T>() {
        Ok(n) => (n, quote!(#expr)),
        Err(_) => {
            cx.unknown(path);
            cx.error(
                value.range(),
                format_args!("`{text}` does not fit in `{ty}`"),
            );
            (T::default(), quote!(::core::default::Default::default()))
        }
    }
}

/// A name of a closed set (`comconsole`, `ufs`, `fat32`), written bare or as a string,
/// parsed with the core's own `FromStr` (the same names JSON uses).
pub fn name<T>(cx: &mut Cx, path: &FieldPath, value: &Value, ty: &str) -> Lowered<T>
where
    T: FromStr<Err = UnknownName> + Default + Debug,
{
    let Value::Expr(expr) = value else {
        return mismatch(cx, path, value, "a name");
    };
    let (text, at) = match (bare_name(value), literal(value)) {
        (Some(ident), _) => (ident.to_string(), Range::single(ident.span())),
        (None, Some(Lit::Str(s))) => (s.value(), Range::single(s.span())),
        (None, Some(_)) => return mismatch(cx, path, value, "a name"),
        (None, None) => return computed(cx, path, expr, into()),
    };
    match text.parse::<T>() {
        Ok(parsed) => {
            // Unit variants: the Debug name is the Rust variant name.
            let variant = format_ident!("{}", format!("{parsed:?}"));
            let ty = format_ident!("{}", ty);
            (parsed, quote!(::fruix_core::#ty::#variant))
        }
        Err(err) => {
            cx.unknown(path);
            let help = match &err.suggestion {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("expected one of {}", err.expected.join(", ")),
            };
            cx.error_help(
                at,
                format_args!("unknown {} `{}`", err.what, err.name),
                &help,
            );
            (T::default(), quote!(::core::default::Default::default()))
        }
    }
}

/// A byte size: `"33MiB"`, `"1G"`, or a number of bytes.
pub fn size(cx: &mut Cx, path: &FieldPath, value: &Value) -> Lowered<ByteSize> {
    let parsed = match (literal(value), value) {
        (Some(Lit::Str(s)), _) => s.value().parse::<ByteSize>().map_err(|e| e.to_string()),
        (Some(Lit::Int(i)), _) => i
            .base10_parse::<u64>()
            .map(ByteSize)
            .map_err(|e| e.to_string()),
        (None, Value::Expr(expr)) => return computed(cx, path, expr, into()),
        _ => return mismatch(cx, path, value, "a size such as \"320MiB\""),
    };
    match parsed {
        Ok(size) => {
            let n = Literal::u64_unsuffixed(size.bytes());
            (size, quote!(::fruix_core::ByteSize(#n)))
        }
        Err(message) => {
            cx.unknown(path);
            cx.error_help(
                value.range(),
                format_args!("invalid size: {message}"),
                "write sizes like \"320MiB\", \"33292KiB\", \"2GiB\" or a number of bytes",
            );
            (
                ByteSize::default(),
                quote!(::core::default::Default::default()),
            )
        }
    }
}

/// The whole-image size: `auto` or a byte size.
pub fn image_size(cx: &mut Cx, path: &FieldPath, value: &Value) -> Lowered<ImageSize> {
    let is_auto = bare_name(value).is_some_and(|i| i == "auto")
        || matches!(literal(value), Some(Lit::Str(s)) if s.value() == "auto");
    if is_auto {
        return (ImageSize::Auto, quote!(::fruix_core::ImageSize::Auto));
    }
    if let (None, Value::Expr(expr)) = (literal(value), value) {
        return computed(cx, path, expr, into());
    }
    let (size, tokens) = size(cx, path, value);
    (
        ImageSize::Fixed(size),
        quote!(::fruix_core::ImageSize::Fixed(#tokens)),
    )
}

/// A device: `gpt_label("fruix-root")`, `device_path("/dev/ada0p2")`, or a path string.
pub fn device(cx: &mut Cx, path: &FieldPath, value: &Value) -> Lowered<Option<Device>> {
    if let Value::Expr(Expr::Call(call)) = value {
        let func = match &*call.func {
            Expr::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        };
        let arg = match (call.args.len(), call.args.first()) {
            (
                1,
                Some(Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                })),
            ) => Some(s),
            _ => None,
        };
        match (func.as_deref(), arg) {
            (Some("gpt_label"), Some(s)) => {
                return (
                    Some(Device::GptLabel(s.value())),
                    quote!(::core::option::Option::Some(::fruix_core::gpt_label(#s))),
                )
            }
            (Some("device_path"), Some(s)) => {
                return (
                    Some(Device::Path(s.value())),
                    quote!(::core::option::Option::Some(::fruix_core::device_path(#s))),
                )
            }
            _ => {}
        }
    }
    match (literal(value), value) {
        (Some(Lit::Str(s)), _) => (
            Some(Device::Path(s.value())),
            quote!(::core::option::Option::Some(::fruix_core::device_path(#s))),
        ),
        (None, Value::Expr(expr)) => computed(cx, path, expr, into()),
        _ => mismatch(
            cx,
            path,
            value,
            "a device such as `gpt_label(\"fruix-root\")`",
        ),
    }
}

/// A list: `[a, b, ..more]`, or any expression yielding an iterable.
pub fn list<T: Default>(
    cx: &mut Cx,
    path: &FieldPath,
    value: &Value,
    element: impl Fn(&mut Cx, &FieldPath, &Value) -> Lowered<T>,
) -> Lowered<Vec<T>> {
    let list = match value {
        Value::List(list) => list,
        Value::Expr(expr) => {
            return computed(cx, path, expr, quote!(::fruix_core::__private::list))
        }
        Value::Braced(_) => return mismatch(cx, path, value, "a list `[ .. ]`"),
    };
    let mut values = Vec::new();
    let mut pushes = Vec::new();
    for item in &list.items {
        match item {
            Item::Value(v) => {
                let p = path.index(values.len());
                cx.at(&p, v.head());
                let (value, tokens) = element(cx, &p, v);
                values.push(value);
                pushes.push(quote!(__list.push(#tokens);));
            }
            Item::Spread(expr) => {
                cx.unknown(&path.rest());
                pushes.push(quote!(__list.extend(::fruix_core::__private::list(#expr));));
            }
        }
    }
    let tokens = quote!({
        #[allow(unused_mut)]
        let mut __list = ::std::vec::Vec::new();
        #(#pushes)*
        __list
    });
    (values, tokens)
}

/// A list of strings.
pub fn strings(cx: &mut Cx, path: &FieldPath, value: &Value) -> Lowered<Vec<String>> {
    if let Value::Expr(expr) = value {
        return computed(cx, path, expr, quote!(::fruix_core::__private::strings));
    }
    list(cx, path, value, string)
}

/// A settings map `{ key: value, "key": value }`, or an expression yielding pairs.
pub fn map(
    cx: &mut Cx,
    path: &FieldPath,
    value: &Value,
    what: &str,
) -> Lowered<BTreeMap<String, String>> {
    let braced = match value {
        Value::Braced(braced) => braced,
        Value::Expr(expr) => return computed(cx, path, expr, quote!(::fruix_core::__private::map)),
        // An array of pairs, `[("key", "value")]`, is an ordinary Rust expression here.
        Value::List(list) => {
            cx.unknown(path);
            let tokens = &list.tokens;
            return (
                BTreeMap::new(),
                quote!(::fruix_core::__private::map(#tokens)),
            );
        }
    };
    let mut values = BTreeMap::new();
    let mut inserts = Vec::new();
    for entry in &braced.entries {
        let key = entry.key.text();
        let p = path.key(&key);
        if values.contains_key(&key) {
            cx.error_help(
                Range::single(entry.key.span()),
                format_args!("{what} key `{key}` is given more than once"),
                &format!("remove one of the `{key}` entries"),
            );
            continue;
        }
        // The shared rules judge key and value under one path: underline the whole entry.
        let at = Range {
            first: entry.key.span(),
            last: entry.value.range().last,
        };
        cx.at(&p, at);
        let key_lit = match &entry.key {
            Key::Str(s) => s.clone(),
            Key::Ident(_) => syn::LitStr::new(&key, entry.key.span()),
        };
        let (v, tokens) = setting(cx, &p, &entry.value);
        values.insert(key, v);
        inserts.push(quote!(__map.insert(::std::string::String::from(#key_lit), #tokens);));
    }
    let tokens = quote!({
        #[allow(unused_mut)]
        let mut __map = ::std::collections::BTreeMap::new();
        #(#inserts)*
        __map
    });
    (values, tokens)
}
