//! Lowering of the list entries: users, groups, file systems, swap, services, hosts,
//! packages.

use super::leaves::{boolean, device, int, list, map, name, opt_int, opt_string, string, strings};
use super::{set, structure, Cx, Lowered};
use crate::ast::Value;
use fruix_spec::{
    FieldPath, FileSystem, Group, HostEntry, Package, PackageSource, Service, Swap, User,
};
use proc_macro2::TokenStream;
use quote::quote;

const USER_FIELDS: &[&str] = &[
    "name", "uid", "group", "groups", "home", "shell", "comment", "password", "locked", "ssh_keys",
];

pub fn user(cx: &mut Cx, path: &FieldPath, value: &Value) -> Lowered<User> {
    let ty = quote!(::fruix_core::User);
    let required = &["name", "uid", "group"];
    structure(
        cx,
        path,
        value,
        "a user",
        ty,
        USER_FIELDS,
        required,
        |cx, key, p, v, u: &mut User| match key {
            "name" => {
                let t = set(&mut u.name, string(cx, p, v));
                quote!(name: #t)
            }
            "uid" => {
                let t = set(&mut u.uid, int(cx, p, v, "u32"));
                quote!(uid: #t)
            }
            "group" => {
                let t = set(&mut u.group, string(cx, p, v));
                quote!(group: #t)
            }
            "groups" => {
                let t = set(&mut u.groups, strings(cx, p, v));
                quote!(groups: #t)
            }
            "home" => {
                let t = set(&mut u.home, opt_string(cx, p, v));
                quote!(home: #t)
            }
            "shell" => {
                let t = set(&mut u.shell, opt_string(cx, p, v));
                quote!(shell: #t)
            }
            "comment" => {
                let t = set(&mut u.comment, string(cx, p, v));
                quote!(comment: #t)
            }
            "password" => {
                let t = set(&mut u.password, string(cx, p, v));
                quote!(password: #t)
            }
            "locked" => {
                let t = set(&mut u.locked, boolean(cx, p, v));
                quote!(locked: #t)
            }
            _ => {
                let t = set(&mut u.ssh_keys, strings(cx, p, v));
                quote!(ssh_keys: #t)
            }
        },
    )
}

pub fn group(cx: &mut Cx, path: &FieldPath, value: &Value) -> Lowered<Group> {
    let ty = quote!(::fruix_core::Group);
    let fields = &["name", "gid"];
    structure(
        cx,
        path,
        value,
        "a group",
        ty,
        fields,
        fields,
        |cx, key, p, v, g: &mut Group| match key {
            "name" => {
                let t = set(&mut g.name, string(cx, p, v));
                quote!(name: #t)
            }
            _ => {
                let t = set(&mut g.gid, int(cx, p, v, "u32"));
                quote!(gid: #t)
            }
        },
    )
}

const FS_FIELDS: &[&str] = &["mount", "device", "kind", "options", "dump", "pass"];

pub fn file_system(cx: &mut Cx, path: &FieldPath, value: &Value) -> Lowered<FileSystem> {
    let ty = quote!(::fruix_core::FileSystem);
    let required = &["mount", "kind"];
    structure(
        cx,
        path,
        value,
        "a file system",
        ty,
        FS_FIELDS,
        required,
        |cx, key, p, v, f: &mut FileSystem| {
            match key {
                "mount" => {
                    let t = set(&mut f.mount, string(cx, p, v));
                    quote!(mount: #t)
                }
                "device" => {
                    let t = set(&mut f.device, device(cx, p, v));
                    quote!(device: #t)
                }
                "kind" => {
                    let t = set(&mut f.kind, name(cx, p, v, "FsKind"));
                    quote!(kind: #t)
                }
                "options" => {
                    let t = set(&mut f.options, strings(cx, p, v));
                    quote!(options: #t)
                }
                "dump" => {
                    let t = set(&mut f.dump, int(cx, p, v, "u32"));
                    quote!(dump: #t)
                }
                _ => {
                    let (pass, t) = opt_int::<u32>(cx, p, v, "u32");
                    f.pass = Some(pass);
                    // A literal is wrapped here; an expression may give a u32 or an Option<u32>.
                    match v {
                        Value::Expr(syn::Expr::Lit(_)) => {
                            quote!(pass: ::core::option::Option::Some(#t))
                        }
                        _ => quote!(pass: #t),
                    }
                }
            }
        },
    )
}

pub fn swap(cx: &mut Cx, path: &FieldPath, value: &Value) -> Lowered<Swap> {
    let ty = quote!(::fruix_core::Swap);
    let fields = &["device"];
    structure(
        cx,
        path,
        value,
        "a swap device",
        ty,
        fields,
        fields,
        |cx, _, p, v, s: &mut Swap| {
            let t = set(&mut s.device, device(cx, p, v));
            quote!(device: #t)
        },
    )
}

const SERVICE_FIELDS: &[&str] = &[
    "name",
    "requires",
    "start",
    "stop",
    "environment",
    "user",
    "respawn",
    "one_shot",
    "log_file",
    "directory",
    "documentation",
];

pub fn service(cx: &mut Cx, path: &FieldPath, value: &Value) -> Lowered<Service> {
    let ty = quote!(::fruix_core::Service);
    let required = &["name", "start"];
    structure(
        cx,
        path,
        value,
        "a service",
        ty,
        SERVICE_FIELDS,
        required,
        |cx, key, p, v, s: &mut Service| match key {
            "name" => {
                let t = set(&mut s.name, string(cx, p, v));
                quote!(name: #t)
            }
            "requires" => {
                let t = set(&mut s.requires, strings(cx, p, v));
                quote!(requires: #t)
            }
            "start" => {
                let t = set(&mut s.start, strings(cx, p, v));
                quote!(start: #t)
            }
            "stop" => {
                let t = set(&mut s.stop, strings(cx, p, v));
                quote!(stop: #t)
            }
            "environment" => {
                let t = set(&mut s.environment, map(cx, p, v, "environment"));
                quote!(environment: #t)
            }
            "user" => {
                let t = set(&mut s.user, opt_string(cx, p, v));
                quote!(user: #t)
            }
            "respawn" => {
                let t = set(&mut s.respawn, boolean(cx, p, v));
                quote!(respawn: #t)
            }
            "one_shot" => {
                let t = set(&mut s.one_shot, boolean(cx, p, v));
                quote!(one_shot: #t)
            }
            "log_file" => {
                let t = set(&mut s.log_file, opt_string(cx, p, v));
                quote!(log_file: #t)
            }
            "directory" => {
                let t = set(&mut s.directory, opt_string(cx, p, v));
                quote!(directory: #t)
            }
            _ => {
                let t = set(&mut s.documentation, string(cx, p, v));
                quote!(documentation: #t)
            }
        },
    )
}

pub fn host(cx: &mut Cx, path: &FieldPath, value: &Value) -> Lowered<HostEntry> {
    let ty = quote!(::fruix_core::HostEntry);
    let fields = &["address", "names"];
    structure(
        cx,
        path,
        value,
        "a hosts entry",
        ty,
        fields,
        fields,
        |cx, key, p, v, h: &mut HostEntry| match key {
            "address" => {
                let t = set(&mut h.address, string(cx, p, v));
                quote!(address: #t)
            }
            _ => {
                let t = set(&mut h.names, strings(cx, p, v));
                quote!(names: #t)
            }
        },
    )
}

/// `{ name, version, files: { "path": "contents" } }`, `{ name, version, tree: "/dir" }`,
/// `{ name, version, source: <PackageSource expression> }`, or a `pkg(..)` /
/// `pkg_file(..)` call form (see `pkg.rs`).
pub fn package(cx: &mut Cx, path: &FieldPath, value: &Value) -> Lowered<Package> {
    if let Some((form, call)) = super::pkg::package_call(value) {
        return super::pkg::entry(cx, path, form, call);
    }
    let ty = quote!(::fruix_core::Package);
    let fields = &["name", "version", "files", "tree", "source"];
    let mut source_given: Option<String> = None;
    structure(
        cx,
        path,
        value,
        "a package",
        ty,
        fields,
        &["name"],
        |cx, key, p, v, pkg: &mut Package| {
            if matches!(key, "files" | "tree" | "source") {
                if let Some(first) = source_given.replace(key.to_owned()) {
                    cx.error_help(
                    v.range(),
                    format_args!("a package takes one of `files`, `tree` and `source`, but has `{first}` and `{key}`"),
                    "remove one of them",
                );
                }
            }
            let source_path = path.field("source");
            match key {
                "name" => {
                    let t = set(&mut pkg.name, string(cx, p, v));
                    quote!(name: #t)
                }
                "version" => {
                    let t = set(&mut pkg.version, string(cx, p, v));
                    quote!(version: #t)
                }
                "files" => {
                    let (files, t) = map(cx, &source_path, v, "file");
                    pkg.source = PackageSource::Inline {
                        files: files
                            .into_iter()
                            .map(|(path, contents)| fruix_spec::InlineFile {
                                path,
                                contents,
                                executable: false,
                            })
                            .collect(),
                    };
                    quote!(source: ::fruix_core::PackageSource::Inline {
                        files: #t.into_iter().map(|(path, contents)| ::fruix_core::InlineFile {
                            path, contents, executable: false,
                        }).collect(),
                    })
                }
                "tree" => {
                    let (dir, t) = string(cx, &source_path, v);
                    pkg.source = PackageSource::Tree { path: dir.into() };
                    quote!(source: ::fruix_core::PackageSource::Tree { path: ::std::path::PathBuf::from(#t) })
                }
                _ => {
                    cx.unknown(&source_path);
                    let expr: TokenStream = match v {
                        Value::Expr(e) => quote!(#e),
                        _ => quote!(::core::default::Default::default()),
                    };
                    quote!(source: ::core::convert::Into::into(#expr))
                }
            }
        },
    )
}

pub fn users(cx: &mut Cx, p: &FieldPath, v: &Value) -> Lowered<Vec<User>> {
    list(cx, p, v, user)
}
pub fn groups(cx: &mut Cx, p: &FieldPath, v: &Value) -> Lowered<Vec<Group>> {
    list(cx, p, v, group)
}
pub fn file_systems(cx: &mut Cx, p: &FieldPath, v: &Value) -> Lowered<Vec<FileSystem>> {
    list(cx, p, v, file_system)
}
pub fn swaps(cx: &mut Cx, p: &FieldPath, v: &Value) -> Lowered<Vec<Swap>> {
    list(cx, p, v, swap)
}
pub fn services(cx: &mut Cx, p: &FieldPath, v: &Value) -> Lowered<Vec<Service>> {
    list(cx, p, v, service)
}
pub fn hosts(cx: &mut Cx, p: &FieldPath, v: &Value) -> Lowered<Vec<HostEntry>> {
    list(cx, p, v, host)
}
pub fn packages(cx: &mut Cx, p: &FieldPath, v: &Value) -> Lowered<Vec<Package>> {
    list(cx, p, v, package)
}
