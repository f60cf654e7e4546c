//! Lowering of FreeBSD packages: `package_repositories: [{ name, url, abi, signature }]`,
//! and the `pkg("name", version = "..", repository = "..")` and
//! `pkg_file("/x.pkg", sha256 = "..")` entries of `packages`.
//!
//! The call forms are grammar, like `gpt_label(..)`: their arguments are literals checked
//! at compile time, or Rust expressions left to the run-time rules.

use super::leaves::{list, opt_string, string};
use super::{set, structure, Cx, Lowered};
use crate::ast::Value;
use fruix_spec::__private::closest;
use fruix_spec::{
    BaseSource, FieldPath, Package, PackageRepository, PackageSource, RepositorySignature,
};
use quote::quote;
use std::path::PathBuf;
use syn::{Expr, ExprCall};

/// `pkg(..)` or `pkg_file(..)`: which call form a package entry is, if either.
pub fn package_call(value: &Value) -> Option<(&'static str, &ExprCall)> {
    call_form(value, &["pkg", "pkg_file"])
}

/// The call `form(..)` for one of `forms`, written with a bare name.
fn call_form<'v>(value: &'v Value, forms: &[&'static str]) -> Option<(&'static str, &'v ExprCall)> {
    let Value::Expr(Expr::Call(call)) = value else {
        return None;
    };
    let Expr::Path(func) = &*call.func else {
        return None;
    };
    let ident = func.path.get_ident()?;
    let form = forms.iter().copied().find(|f| ident == f)?;
    Some((form, call))
}

/// `pkgbase("FreeBSD-base")` or `pkgbase("FreeBSD-base", packages = ["FreeBSD-set-minimal", ..])`
/// as a base's `source`, if `value` is one.
pub fn pkgbase(cx: &mut Cx, path: &FieldPath, value: &Value) -> Option<Lowered<BaseSource>> {
    let (_, call) = call_form(value, &["pkgbase"])?;
    let args = args(cx, call, "pkgbase", "the repository's name", &["packages"]);
    let (repository, repo_tokens) = match args.positional {
        Some(arg) => string_arg(cx, &path.field("repository"), arg),
        None => {
            cx.unknown(&path.field("repository"));
            (String::new(), quote!(::std::string::String::new()))
        }
    };
    let list_path = path.field("packages");
    let (packages, list_tokens) = match named(&args, "packages") {
        None => (Vec::new(), quote!(::std::vec::Vec::new())),
        Some(Expr::Array(array)) => {
            let mut names = Vec::new();
            let mut tokens = Vec::new();
            for (j, element) in array.elems.iter().enumerate() {
                let (name, t) = string_arg(cx, &list_path.index(j), element);
                names.push(name);
                tokens.push(t);
            }
            (names, quote!(::std::vec![#(#tokens),*]))
        }
        Some(expr) => {
            cx.unknown(&list_path);
            (Vec::new(), quote!(::fruix_core::__private::strings(#expr)))
        }
    };
    let tokens = quote!(::fruix_core::BaseSource::Pkgbase {
        repository: #repo_tokens,
        packages: #list_tokens,
    });
    Some((
        BaseSource::Pkgbase {
            repository,
            packages,
        },
        tokens,
    ))
}

/// The arguments of a call form: the one positional argument, then `key = value` pairs.
struct Args<'c> {
    positional: Option<&'c Expr>,
    named: Vec<(String, &'c Expr)>,
}

fn args<'c>(cx: &mut Cx, call: &'c ExprCall, form: &str, what: &str, keys: &[&str]) -> Args<'c> {
    let mut out = Args {
        positional: None,
        named: Vec::new(),
    };
    let list = keys
        .iter()
        .map(|k| format!("`{k} = ..`"))
        .collect::<Vec<_>>()
        .join(", ");
    for arg in &call.args {
        let Expr::Assign(assign) = arg else {
            if keys.is_empty() && out.positional.is_some() {
                cx.error(
                    Value::Expr(arg.clone()).range(),
                    format_args!("`{form}(..)` takes one argument: {what}"),
                );
            } else if out.positional.is_some() || !out.named.is_empty() {
                cx.error_help(
                    Value::Expr(arg.clone()).range(),
                    format_args!("`{form}(..)` takes {what} first, then only named arguments"),
                    &format!("name the argument: {list}"),
                );
                // A misplaced first argument is still the one meant: judge it as such.
                out.positional.get_or_insert(arg);
            } else {
                out.positional = Some(arg);
            }
            continue;
        };
        let key_expr = Value::Expr((*assign.left).clone());
        let key = match &*assign.left {
            Expr::Path(p) => p.path.get_ident().map(|i| i.to_string()),
            _ => None,
        };
        let Some(key) = key else {
            cx.error(
                key_expr.range(),
                format_args!("expected an argument name such as {list}"),
            );
            continue;
        };
        if !keys.contains(&key.as_str()) {
            let help = match closest(&key, keys.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("`{form}(..)` takes {list}"),
            };
            cx.error_help(
                key_expr.range(),
                format_args!("unknown argument `{key}` of `{form}(..)`"),
                &help,
            );
        } else if out.named.iter().any(|(k, _)| *k == key) {
            cx.error_help(
                key_expr.range(),
                format_args!("argument `{key}` is given more than once"),
                &format!("remove one of the `{key} = ..`"),
            );
        } else {
            out.named.push((key, &*assign.right));
        }
    }
    if out.positional.is_none() {
        let whole = Value::Expr(Expr::Call(call.clone())).range();
        cx.error_help(
            whole,
            format_args!("`{form}(..)` needs {what}"),
            &format!(
                "write it first: `{form}({})`",
                if form == "pkg" {
                    "\"sudo\""
                } else {
                    "\"/path/to/x.pkg\""
                }
            ),
        );
    }
    out
}

/// A string argument at `path`: known when a literal, run-time otherwise.
fn string_arg(cx: &mut Cx, path: &FieldPath, arg: &Expr) -> Lowered<String> {
    let value = Value::Expr(arg.clone());
    cx.at(path, value.range());
    string(cx, path, &value)
}

fn opt_string_arg(cx: &mut Cx, path: &FieldPath, arg: Option<&Expr>) -> Lowered<Option<String>> {
    let Some(arg) = arg else {
        return (None, quote!(::core::option::Option::None));
    };
    let value = Value::Expr(arg.clone());
    cx.at(path, value.range());
    opt_string(cx, path, &value)
}

/// A host path argument: a string literal, or an expression converted `Into<PathBuf>`.
fn path_arg(cx: &mut Cx, path: &FieldPath, arg: &Expr) -> Lowered<PathBuf> {
    let value = Value::Expr(arg.clone());
    cx.at(path, value.range());
    match arg {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => (
            PathBuf::from(s.value()),
            quote!(::std::path::PathBuf::from(#s)),
        ),
        // Any other literal is the wrong shape: `string` says so.
        Expr::Lit(_) => (PathBuf::new(), string(cx, path, &value).1),
        _ => {
            cx.unknown(path);
            let tokens = quote!(::core::convert::Into::<::std::path::PathBuf>::into(#arg));
            (PathBuf::new(), tokens)
        }
    }
}

fn named<'c>(args: &Args<'c>, key: &str) -> Option<&'c Expr> {
    args.named.iter().find(|(k, _)| k == key).map(|(_, e)| *e)
}

/// `pkg("sudo")`, `pkg("sudo", version = "1.9.16p2_1", repository = "FreeBSD")`.
pub fn pkg(cx: &mut Cx, path: &FieldPath, call: &ExprCall) -> Lowered<Package> {
    let args = args(
        cx,
        call,
        "pkg",
        "the package name",
        &["version", "repository"],
    );
    let mut package = Package::pkg("");
    let name = match args.positional {
        Some(arg) => set(&mut package.name, string_arg(cx, &path.field("name"), arg)),
        None => {
            cx.unknown(&path.field("name"));
            quote!(::std::string::String::new())
        }
    };
    let version = match named(&args, "version") {
        Some(arg) => set(
            &mut package.version,
            string_arg(cx, &path.field("version"), arg),
        ),
        None => quote!(::std::string::String::new()),
    };
    let repo_path = path.field("source").field("repository");
    let (repository, repo_tokens) = opt_string_arg(cx, &repo_path, named(&args, "repository"));
    package.source = PackageSource::Pkg { repository };
    let tokens = quote!(::fruix_core::Package {
        name: #name,
        version: #version,
        source: ::fruix_core::PackageSource::Pkg { repository: #repo_tokens },
    });
    (package, tokens)
}

/// `pkg_file("/x.pkg")`, `pkg_file("/x.pkg", sha256 = "..", name = "x", version = "1.0")`.
pub fn pkg_file(cx: &mut Cx, path: &FieldPath, call: &ExprCall) -> Lowered<Package> {
    let what = "the `.pkg` file's path";
    let args = args(cx, call, "pkg_file", what, &["sha256", "name", "version"]);
    let source = path.field("source");
    let mut package = Package::pkg_file("");
    let (file, file_tokens) = match args.positional {
        Some(arg) => path_arg(cx, &source.field("path"), arg),
        None => {
            cx.unknown(&source.field("path"));
            (PathBuf::new(), quote!(::std::path::PathBuf::new()))
        }
    };
    let (sha256, sum_tokens) = opt_string_arg(cx, &source.field("sha256"), named(&args, "sha256"));
    package.source = PackageSource::PkgFile { path: file, sha256 };
    let mut text = |key: &str, slot: &mut String| match named(&args, key) {
        Some(arg) => set(slot, string_arg(cx, &path.field(key), arg)),
        None => quote!(::std::string::String::new()),
    };
    let name = text("name", &mut package.name);
    let version = text("version", &mut package.version);
    let tokens = quote!(::fruix_core::Package {
        name: #name,
        version: #version,
        source: ::fruix_core::PackageSource::PkgFile { path: #file_tokens, sha256: #sum_tokens },
    });
    (package, tokens)
}

/// `{ name, url, abi, signature }`.
pub fn repository(cx: &mut Cx, path: &FieldPath, value: &Value) -> Lowered<PackageRepository> {
    let ty = quote!(::fruix_core::PackageRepository);
    let fields = &["name", "url", "abi", "signature"];
    structure(
        cx,
        path,
        value,
        "a package repository",
        ty,
        fields,
        &["name", "url"],
        |cx, key, p, v, repo: &mut PackageRepository| match key {
            "name" => {
                let t = set(&mut repo.name, string(cx, p, v));
                quote!(name: #t)
            }
            "url" => {
                let t = set(&mut repo.url, string(cx, p, v));
                quote!(url: #t)
            }
            "abi" => {
                let t = set(&mut repo.abi, opt_string(cx, p, v));
                quote!(abi: #t)
            }
            _ => {
                let t = set(&mut repo.signature, signature(cx, p, v));
                quote!(signature: #t)
            }
        },
    )
}

/// `none`, `pubkey("/key.pub")`, `fingerprints("/usr/share/keys/pkg")`, or an expression.
fn signature(cx: &mut Cx, path: &FieldPath, value: &Value) -> Lowered<RepositorySignature> {
    let help =
        "write `none`, `pubkey(\"/path/to/key.pub\")` or `fingerprints(\"/usr/share/keys/pkg\")`";
    let expr = match value {
        Value::Expr(expr) => expr,
        _ => {
            cx.unknown(path);
            cx.error_help(
                value.head(),
                format_args!("expected a signature, found {}", value.describe()),
                help,
            );
            return (
                RepositorySignature::None,
                quote!(::core::default::Default::default()),
            );
        }
    };
    let ident = |e: &Expr| match e {
        Expr::Path(p) => p.path.get_ident().map(|i| i.to_string()),
        _ => None,
    };
    if ident(expr).as_deref() == Some("none") {
        return (
            RepositorySignature::None,
            quote!(::fruix_core::RepositorySignature::None),
        );
    }
    let Expr::Call(call) = expr else {
        cx.unknown(path);
        let expr = match expr {
            Expr::Paren(paren) => &*paren.expr,
            other => other,
        };
        return (
            RepositorySignature::None,
            quote!(::core::convert::Into::into(#expr)),
        );
    };
    let form = ident(&call.func);
    let (field, variant) = match form.as_deref() {
        Some("pubkey") => ("key", quote!(Pubkey)),
        Some("fingerprints") => ("dir", quote!(Fingerprints)),
        _ => {
            cx.unknown(path);
            let written = form.unwrap_or_else(|| "..".to_owned());
            cx.error_help(
                value.range(),
                format_args!("unknown signature `{written}(..)`"),
                help,
            );
            return (
                RepositorySignature::None,
                quote!(::core::default::Default::default()),
            );
        }
    };
    let form = form.unwrap_or_default();
    let what = if field == "key" {
        "the public key's path"
    } else {
        "the fingerprints directory"
    };
    let args = args(cx, call, &form, what, &[]);
    let (dir, tokens) = match args.positional {
        Some(arg) => path_arg(cx, &path.field(field), arg),
        None => {
            cx.unknown(path);
            (PathBuf::new(), quote!(::std::path::PathBuf::new()))
        }
    };
    let field_ident = syn::Ident::new(field, proc_macro2::Span::call_site());
    let signature = if field == "key" {
        RepositorySignature::Pubkey { key: dir }
    } else {
        RepositorySignature::Fingerprints { dir }
    };
    (
        signature,
        quote!(::fruix_core::RepositorySignature::#variant { #field_ident: #tokens }),
    )
}

pub fn repositories(cx: &mut Cx, p: &FieldPath, v: &Value) -> Lowered<Vec<PackageRepository>> {
    list(cx, p, v, repository)
}

/// A package written as a call form (`form` from [`package_call`]).
pub fn entry(cx: &mut Cx, path: &FieldPath, form: &str, call: &ExprCall) -> Lowered<Package> {
    if form == "pkg" {
        pkg(cx, path, call)
    } else {
        pkg_file(cx, path, call)
    }
}
