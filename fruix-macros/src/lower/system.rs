//! Lowering of the top level (`operating_system! { .. }` itself) and of the single-valued
//! sections: base, kernel, loader, image.

use super::leaves::{boolean, image_size, int, map, name, opt_path, size, string, strings};
use super::{entries, pkg};
use super::{not_literal, set, structure, Cx, Lowered};
use crate::ast::{Input, Range, Value};
use fruix_spec::{
    FieldPath, FreeBsdBase, ImageLayout, Kernel, Loader, OperatingSystem, ShepherdPrograms,
    SwapPartition,
};
use proc_macro2::Span;
use quote::quote;
use syn::{Expr, ExprLit, Lit};

/// Every field `operating_system!` accepts (see the crate docs for the grammar).
pub const SYSTEM_FIELDS: &[&str] = &[
    "host_name",
    "base",
    "kernel",
    "loader",
    "packages",
    "package_repositories",
    "users",
    "groups",
    "file_systems",
    "swap",
    "services",
    "rc_conf",
    "sysctl",
    "time_zone",
    "locale",
    "hosts",
    "motd",
    "init_mode",
    "shepherd",
    "image",
];

pub fn operating_system(cx: &mut Cx, input: &Input) -> Lowered<OperatingSystem> {
    let root = FieldPath::root();
    let mut os = OperatingSystem::default();
    let mut inits = Vec::new();
    let whole = Range::single(Span::call_site());
    let required = &["host_name", "base"];
    let fields = cx.fields(
        &root,
        &input.entries,
        whole,
        "`operating_system!`",
        SYSTEM_FIELDS,
        required,
    );
    for (key, v) in fields {
        let p = root.field(&key);
        let t = match key.as_str() {
            "host_name" => {
                let t = set(&mut os.host_name, string(cx, &p, v));
                quote!(host_name: #t)
            }
            "base" => {
                let t = set(&mut os.base, base(cx, &p, v));
                quote!(base: #t)
            }
            "kernel" => {
                let t = set(&mut os.kernel, kernel(cx, &p, v));
                quote!(kernel: #t)
            }
            "loader" => {
                let t = set(&mut os.loader, loader(cx, &p, v));
                quote!(loader: #t)
            }
            "packages" => {
                let t = set(&mut os.packages, entries::packages(cx, &p, v));
                quote!(packages: #t)
            }
            "package_repositories" => {
                let t = set(&mut os.package_repositories, pkg::repositories(cx, &p, v));
                quote!(package_repositories: #t)
            }
            "users" => {
                let t = set(&mut os.users, entries::users(cx, &p, v));
                quote!(users: #t)
            }
            "groups" => {
                let t = set(&mut os.groups, entries::groups(cx, &p, v));
                quote!(groups: #t)
            }
            "file_systems" => {
                let t = set(&mut os.file_systems, entries::file_systems(cx, &p, v));
                quote!(file_systems: #t)
            }
            "swap" => {
                let t = set(&mut os.swap, entries::swaps(cx, &p, v));
                quote!(swap: #t)
            }
            "services" => {
                let t = set(&mut os.services, entries::services(cx, &p, v));
                quote!(services: #t)
            }
            "rc_conf" => {
                let t = set(&mut os.rc_conf, map(cx, &p, v, "rc.conf"));
                quote!(rc_conf: #t)
            }
            "sysctl" => {
                let t = set(&mut os.sysctl, map(cx, &p, v, "sysctl"));
                quote!(sysctl: #t)
            }
            "time_zone" => {
                let t = set(&mut os.time_zone, string(cx, &p, v));
                quote!(time_zone: #t)
            }
            "locale" => {
                let t = set(&mut os.locale, string(cx, &p, v));
                quote!(locale: #t)
            }
            "hosts" => {
                let t = set(&mut os.hosts, entries::hosts(cx, &p, v));
                quote!(hosts: #t)
            }
            "motd" => {
                let t = set(&mut os.motd, string(cx, &p, v));
                quote!(motd: #t)
            }
            "init_mode" => {
                let t = set(&mut os.init_mode, name(cx, &p, v, "InitMode"));
                quote!(init_mode: #t)
            }
            "shepherd" => {
                let t = set(&mut os.shepherd, shepherd(cx, &p, v));
                quote!(shepherd: #t)
            }
            _ => {
                let t = set(&mut os.image, image(cx, &p, v));
                quote!(image: #t)
            }
        };
        inits.push(t);
    }
    let tokens = quote!(::fruix_core::OperatingSystem {
        #(#inits,)*
        ..::core::default::Default::default()
    });
    (os, tokens)
}

/// `{ release, arch, source, loader_efi }`, `sample_base("15.0-RELEASE")`, or any expression.
fn base(cx: &mut Cx, path: &FieldPath, value: &Value) -> Lowered<FreeBsdBase> {
    if let Some(release) = sample_base_call(value) {
        cx.at(&path.field("release"), Range::single(release.span()));
        let base = fruix_spec::freebsd::sample_base(&release.value());
        return (base, quote!(::fruix_core::freebsd::sample_base(#release)));
    }
    let ty = quote!(::fruix_core::FreeBsdBase);
    let fields = &["release", "arch", "source", "loader_efi"];
    structure(
        cx,
        path,
        value,
        "a FreeBSD base",
        ty,
        fields,
        &["release"],
        |cx, key, p, v, b: &mut FreeBsdBase| match key {
            "release" => {
                let t = set(&mut b.release, string(cx, p, v));
                quote!(release: #t)
            }
            "arch" => {
                let t = set(&mut b.arch, name(cx, p, v, "Arch"));
                quote!(arch: #t)
            }
            "loader_efi" => {
                let t = set(&mut b.loader_efi, opt_path(cx, p, v));
                quote!(loader_efi: #t)
            }
            _ => {
                if let Some(lowered) = pkg::pkgbase(cx, p, v) {
                    let t = set(&mut b.source, lowered);
                    return quote!(source: #t);
                }
                let t = set(&mut b.source, not_literal(v));
                cx.unknown(p);
                quote!(source: #t)
            }
        },
    )
}

/// `sample_base("…")` (any path ending in it) with a literal release: known at compile time.
fn sample_base_call(value: &Value) -> Option<&syn::LitStr> {
    let Value::Expr(Expr::Call(call)) = value else {
        return None;
    };
    let Expr::Path(func) = &*call.func else {
        return None;
    };
    let is_sample = func
        .path
        .segments
        .last()
        .is_some_and(|s| s.ident == "sample_base");
    match (is_sample, call.args.len(), call.args.first()) {
        (
            true,
            1,
            Some(Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            })),
        ) => Some(s),
        _ => None,
    }
}

fn kernel(cx: &mut Cx, path: &FieldPath, value: &Value) -> Lowered<Kernel> {
    let ty = quote!(::fruix_core::Kernel);
    let fields = &["config", "modules"];
    structure(
        cx,
        path,
        value,
        "a kernel",
        ty,
        fields,
        &[],
        |cx, key, p, v, k: &mut Kernel| match key {
            "config" => {
                let t = set(&mut k.config, string(cx, p, v));
                quote!(config: #t)
            }
            _ => {
                let t = set(&mut k.modules, strings(cx, p, v));
                quote!(modules: #t)
            }
        },
    )
}

/// `{ program, herd }`: where Shepherd's two programs are installed.
fn shepherd(cx: &mut Cx, path: &FieldPath, value: &Value) -> Lowered<ShepherdPrograms> {
    let ty = quote!(::fruix_core::ShepherdPrograms);
    structure(
        cx,
        path,
        value,
        "`shepherd`",
        ty,
        &["program", "herd"],
        &[],
        |cx, key, p, v, s: &mut ShepherdPrograms| match key {
            "program" => {
                let t = set(&mut s.program, string(cx, p, v));
                quote!(program: #t)
            }
            _ => {
                let t = set(&mut s.herd, string(cx, p, v));
                quote!(herd: #t)
            }
        },
    )
}

const LOADER_FIELDS: &[&str] = &[
    "console",
    "serial_speed",
    "autoboot_delay",
    "menu",
    "entries",
];

fn loader(cx: &mut Cx, path: &FieldPath, value: &Value) -> Lowered<Loader> {
    let ty = quote!(::fruix_core::Loader);
    structure(
        cx,
        path,
        value,
        "the loader",
        ty,
        LOADER_FIELDS,
        &[],
        |cx, key, p, v, l: &mut Loader| match key {
            "console" => {
                let consoles = super::leaves::list(cx, p, v, |cx, p, v| name(cx, p, v, "Console"));
                let t = set(&mut l.console, consoles);
                quote!(console: #t)
            }
            "serial_speed" => {
                let t = set(&mut l.serial_speed, int(cx, p, v, "u32"));
                quote!(serial_speed: #t)
            }
            "autoboot_delay" => {
                let t = set(&mut l.autoboot_delay, int(cx, p, v, "i32"));
                quote!(autoboot_delay: #t)
            }
            "menu" => {
                let t = set(&mut l.menu, boolean(cx, p, v));
                quote!(menu: #t)
            }
            _ => {
                let t = set(&mut l.entries, map(cx, p, v, "loader.conf"));
                quote!(entries: #t)
            }
        },
    )
}

const IMAGE_FIELDS: &[&str] = &[
    "size",
    "esp_size",
    "esp_fat",
    "esp_label",
    "root_label",
    "swap",
];

fn image(cx: &mut Cx, path: &FieldPath, value: &Value) -> Lowered<ImageLayout> {
    let ty = quote!(::fruix_core::ImageLayout);
    structure(
        cx,
        path,
        value,
        "an image layout",
        ty,
        IMAGE_FIELDS,
        &[],
        |cx, key, p, v, i: &mut ImageLayout| {
            match key {
                "size" => {
                    let t = set(&mut i.size, image_size(cx, p, v));
                    quote!(size: #t)
                }
                "esp_size" => {
                    let t = set(&mut i.esp_size, size(cx, p, v));
                    quote!(esp_size: #t)
                }
                "esp_fat" => {
                    let t = set(&mut i.esp_fat, name(cx, p, v, "FatType"));
                    quote!(esp_fat: #t)
                }
                "esp_label" => {
                    let t = set(&mut i.esp_label, string(cx, p, v));
                    quote!(esp_label: #t)
                }
                "root_label" => {
                    let t = set(&mut i.root_label, string(cx, p, v));
                    quote!(root_label: #t)
                }
                _ => {
                    // `Some(..)` for a literal; an expression may give a partition or an Option.
                    let (swap, t) = swap_partition(cx, p, v);
                    i.swap = Some(swap);
                    match v {
                        Value::Expr(e) => quote!(swap: ::core::convert::Into::into(#e)),
                        _ => quote!(swap: ::core::option::Option::Some(#t)),
                    }
                }
            }
        },
    )
}

fn swap_partition(cx: &mut Cx, path: &FieldPath, value: &Value) -> Lowered<SwapPartition> {
    let ty = quote!(::fruix_core::SwapPartition);
    let fields = &["size", "label"];
    structure(
        cx,
        path,
        value,
        "a swap partition",
        ty,
        fields,
        &[],
        |cx, key, p, v, s: &mut SwapPartition| match key {
            "size" => {
                let t = set(&mut s.size, size(cx, p, v));
                quote!(size: #t)
            }
            _ => {
                let t = set(&mut s.label, string(cx, p, v));
                quote!(label: #t)
            }
        },
    )
}
