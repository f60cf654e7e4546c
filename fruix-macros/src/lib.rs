//! `operating_system!`: declare a Fruix (FreeBSD + Shepherd or rc.d) system as Rust code.
//!
//! The macro expands to an expression of type [`fruix_core::OperatingSystem`]. Everything
//! written literally is checked at compile time, by the same rules
//! [`fruix_core::OperatingSystem::validate`] runs at run time; errors point at the offending
//! token. Values computed by Rust expressions are checked when the program validates the spec.
//!
//! # Example
//!
//! ```
//! use fruix_macros::operating_system;
//!
//! let os = operating_system! {
//!     host_name: "fruix-freebsd",
//!     base: fruix_core::freebsd::sample_base("15.0-RELEASE"),
//!     kernel: { config: "GENERIC", modules: ["vmm"] },
//!     loader: { console: [comconsole], serial_speed: 115200, autoboot_delay: 3 },
//!     groups: [ { name: "wheel", gid: 0 }, { name: "operator", gid: 5 } ],
//!     users: [
//!         { name: "root", uid: 0, group: "wheel", home: "/root", shell: "/bin/sh" },
//!         { name: "operator", uid: 1001, group: "operator", groups: ["wheel"],
//!           ssh_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFCs+myzQZ1NqgXHDbDz6qyVBAg0aNMPEJwopc3O6umw operator@fruix"] },
//!     ],
//!     file_systems: [
//!         { mount: "/", device: gpt_label("fruix-root"), kind: ufs },
//!         { mount: "/boot/efi", device: gpt_label("efiboot"), kind: msdosfs },
//!         { mount: "/dev", kind: devfs },
//!         { mount: "/tmp", kind: tmpfs, options: ["rw", "mode=1777"] },
//!     ],
//!     services: [
//!         { name: "networking", start: ["/sbin/dhclient", "vtnet0"], one_shot: true },
//!         { name: "sshd", start: ["/usr/sbin/sshd", "-D"], requires: ["networking"] },
//!     ],
//!     rc_conf: { ifconfig_vtnet0: "DHCP", sshd_enable: true },
//!     sysctl: { "kern.ipc.somaxconn": 1024 },
//!     time_zone: "Europe/Berlin",
//!     image: { size: "320MiB", esp_size: "33MiB" },
//! };
//! assert_eq!(os.host_name, "fruix-freebsd");
//! assert_eq!(os.rc_conf["sshd_enable"], "YES");
//! assert!(os.validate().is_ok());
//! ```
//!
//! # Grammar
//!
//! The body is a list of `field: value` entries separated by commas. Only `host_name` and
//! `base` are required; every other field has the default of [`fruix_core::OperatingSystem`].
//! Each field is written at most once.
//!
//! | field | value | example |
//! |---|---|---|
//! | `host_name` | string (RFC 1123) | `"fruix-freebsd"` |
//! | `base` | `sample_base("REL")`, `{ release, arch, source, loader_efi }`, or expression; `source` is `pkgbase(..)` or an expression | `{ release: "15.0-RELEASE", arch: amd64, loader_efi: "/usr/obj/loader.efi" }` |
//! | `kernel` | `{ config, modules }` | `{ config: "GENERIC", modules: ["vmm"] }` |
//! | `loader` | `{ console, serial_speed, autoboot_delay, menu, entries }` | `{ console: [comconsole, vidconsole] }` |
//! | `packages` | list of `{ name, version, files \| tree \| source }`, `pkg(..)` or `pkg_file(..)` (see [FreeBSD packages](#freebsd-packages)) | `[{ name: "motd", version: "1", files: { "etc/x": "y" } }, pkg("sudo")]` |
//! | `package_repositories` | list of `{ name, url, abi, signature }` | `[{ name: "FreeBSD", url: "https://pkg.FreeBSD.org/${ABI}/quarterly" }]` |
//! | `users` | list of `{ name, uid, group, groups, home, shell, comment, password, locked, ssh_keys }` | |
//! | `groups` | list of `{ name, gid }` | `[{ name: "staff", gid: 20 }]` |
//! | `file_systems` | list of `{ mount, device, kind, options, dump, pass }` | `{ mount: "/", device: gpt_label("fruix-root"), kind: ufs }` |
//! | `swap` | list of `{ device }` | `[{ device: gpt_label("swapfs") }]` |
//! | `services` | list of `{ name, requires, start, stop, environment, user, respawn, one_shot, log_file, directory, documentation }` | |
//! | `rc_conf`, `sysctl` | map | `{ sshd_enable: true, "ifconfig_vtnet0": "DHCP" }` |
//! | `time_zone`, `locale`, `motd` | string | `"UTC"`, `"C.UTF-8"` |
//! | `hosts` | list of `{ address, names }` | `[{ address: "10.0.0.1", names: ["gw"] }]` |
//! | `init_mode` | `"freebsd-init+rc.d-shepherd"`, `"shepherd-pid1"` or `"freebsd-init+rc.d"` (services as rc.d scripts, no Shepherd) | `"freebsd-init+rc.d"` |
//! | `shepherd` | `{ program, herd }`: where the Shepherd package installs them | `{ program: "/usr/local/bin/shepherd" }` |
//! | `image` | `{ size, esp_size, esp_fat, esp_label, root_label, swap: { size, label } }` | `{ size: "320MiB" }` |
//!
//! Values:
//! - **Strings**, **integers** and **booleans** are Rust literals. In maps (`rc_conf`,
//!   `sysctl`, `loader.entries`, `environment`, package `files`) keys are bare identifiers
//!   or string literals and values may also be integers, or booleans written as `YES`/`NO`.
//! - **Names** of closed sets are bare words (or strings): consoles `comconsole vidconsole efi
//!   eficom nullconsole spinconsole`; file-system kinds `ufs msdosfs tmpfs devfs fdescfs procfs
//!   nullfs`; FAT types `fat16 fat32`; architectures `amd64 aarch64` (`aarch64` is refused
//!   until images boot it); image size `auto`.
//! - **Sizes** are strings such as `"320MiB"`, `"33292KiB"`, `"2G"`, or a number of bytes.
//! - **Host paths** (`base.loader_efi`: a UEFI loader to ship as `boot/loader.efi`) are
//!   absolute path strings; the file itself is read when the base is imported.
//! - **Devices** are `gpt_label("LABEL")` (`/dev/gpt/LABEL`), `device_path("/dev/ada0p2")`, or
//!   a path string. These call forms are part of the grammar and need no import.
//! - **Lists** are `[a, b]`; `..expr` inside a list splices in every element of an iterable:
//!   `services: [..base_services(), { name: "web", start: ["/usr/local/bin/web"] }]`.
//! - **Structs** are `{ field: value, .. }`. Fields not written keep their defaults.
//! - **Any other Rust expression** may stand for any value: a variable, a function call, a
//!   `vec!`. It is converted with `Into` (strings accept `&str` and `String`, lists accept any
//!   iterable of convertible items, maps any iterable of pairs). Integer fields (`uid`, `gid`,
//!   `serial_speed`, `autoboot_delay`, `dump`) take the field's type, as in a struct literal:
//!   `uid: 1000 + 1` is a `u32`. To use a variable where a bare name is expected
//!   (e.g. `kind: my_kind`), write it in parentheses: `kind: (my_kind)`.
//!
//! # FreeBSD packages
//!
//! Packages from pkg repositories are resolved by name, with their dependencies:
//!
//! ```
//! # use fruix_macros::operating_system;
//! let os = operating_system! {
//!     host_name: "web1",
//!     base: sample_base("15.0-RELEASE"),
//!     package_repositories: [
//!         { name: "FreeBSD", url: "https://pkg.FreeBSD.org/${ABI}/quarterly",
//!           signature: fingerprints("/usr/share/keys/pkg") },
//!         { name: "local", url: "/srv/pkg", abi: "FreeBSD:15:*", signature: none },
//!     ],
//!     packages: [
//!         pkg("sudo"),
//!         pkg("nginx", version = "1.26.2_3,3", repository = "local"),
//!         pkg_file("/var/cache/pkg/hello-2.12_1.pkg",
//!                  sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
//!     ],
//! };
//! assert_eq!(os.package_repositories[0].abi_for(&os.base).as_deref(), Some("FreeBSD:15:amd64"));
//! assert!(os.validate().is_ok());
//! ```
//!
//! - **`package_repositories`**: `{ name, url, abi, signature }`; `name` and `url` are
//!   required. `name` is identifier-like (`FreeBSD`, `FreeBSD-base`, `local`: a letter, then
//!   letters, digits, `_`, `-`) and unique. `url` is `https://host/..`, `http://host/..`,
//!   `file:///dir` or an absolute directory `/dir`; `${ABI}` is its only variable. pkg's
//!   SRV mirror URLs (`pkg+https://`) are refused: write the `https://` URL of one server.
//!   `abi` (`"FreeBSD:15:amd64"`, or `"FreeBSD:15:*"` for any architecture) defaults to the
//!   base's release major and architecture and must match them. `signature` is `none` (the
//!   default: the catalogue is trusted as fetched, packages are still checked against its
//!   sums), `pubkey("/path/key.pub")` (one RSA key) or `fingerprints("/usr/share/keys/pkg")`
//!   (a directory with `trusted/` and `revoked/`, as pkg.FreeBSD.org uses); paths are
//!   absolute paths on the building host.
//! - **`pkg("name", version = "..", repository = "..")`**: a package of that name from the
//!   first repository that has it, or from the named one. `version` (optional) is the exact
//!   version, `<version>[_<revision>][,<epoch>]` as the catalogue lists it (`1.9.16p2_1`).
//!   At least one repository must be declared.
//! - **`pkg_file("/path/x.pkg", sha256 = "..", name = "..", version = "..")`**: a `.pkg` (or
//!   older `.txz`) file on the building host, by absolute path; `sha256` (64 lowercase hex
//!   digits) pins its bytes; `name` and `version`, when given, must match its manifest (left
//!   out, they are read from it). Its dependencies are resolved in the repositories.
//! - **`base: { release, source: pkgbase("FreeBSD-base", packages = [..]) }`**: the base
//!   from pkgbase packages (FreeBSD 15.0 and later) of the named repository, e.g.
//!   `{ name: "FreeBSD-base", url: "https://pkg.FreeBSD.org/${ABI}/base_release_0",
//!   signature: fingerprints("/usr/share/keys/pkgbase-15") }`. `packages` (optional) lists
//!   `FreeBSD-*` packages or `FreeBSD-set-*` metapackages; left out, it is
//!   `fruix_core::PKGBASE_DEFAULT_PACKAGES` (`FreeBSD-set-minimal`, `FreeBSD-kernel-generic`,
//!   `FreeBSD-bootloader`).
//!
//! The call forms are grammar, like `gpt_label(..)`, and need no import; a path such as
//! `crate::pkg(..)` is an ordinary expression. Their first argument is positional, the others
//! are named (`key = value`), in any order. Any argument, and any repository field, may be a
//! Rust expression (`pkg(name, version = v.clone())`, `signature: fingerprints(keys_dir)`,
//! `package_repositories: my_repositories()`), judged by `validate()`.
//!
//! # Compile-time checks
//!
//! Unknown fields (with the closest known name suggested), duplicate fields, and missing
//! required fields; then every rule in [`fruix_core::validate`]: host names, user and group
//! names and ids, undeclared groups, absolute paths, ssh keys, clear-text passwords, service
//! names, commands, requirements and requirement cycles, rc.d names (`freebsd-init+rc.d`),
//! working directories, Shepherd's paths, mount points, the root file system,
//! fsck passes of pseudo file systems, GPT labels the image does not create, rc.conf, sysctl
//! and loader.conf keys and values, consoles and serial speeds, image sizes and labels, time
//! zones, host addresses, package names, init modes and the architecture, package
//! repositories (names, URLs, ABIs, signature paths), `pkg(..)` versions and the repositories
//! they name, `pkg_file(..)` paths and sha256 sums. All errors of one
//! invocation are reported together. A rule that depends on a value computed at run time is
//! left to `validate()`.

#![warn(missing_docs)]

mod ast;
mod check;
mod lower;

use proc_macro::TokenStream;
use quote::quote;

/// Declares an operating system; see the [crate documentation](crate) for the grammar.
#[proc_macro]
pub fn operating_system(input: TokenStream) -> TokenStream {
    let input = match syn::parse::<ast::Input>(input) {
        Ok(input) => input,
        Err(err) => return err.to_compile_error().into(),
    };
    let mut cx = lower::Cx::default();
    let (os, tokens) = lower::operating_system(&mut cx, &input);
    check::check(&mut cx, &os);
    let errors = cx.errors.iter().map(syn::Error::to_compile_error);
    // The expansion is emitted even with errors so that the surrounding code still
    // type-checks and only the declaration's own problems are reported.
    // Fields written out may be all a struct has: `..Default::default()` is then needless,
    // which is no concern of the user's.
    quote!({
        #(#errors)*
        #[allow(clippy::needless_update)]
        let __fruix_os: ::fruix_core::OperatingSystem = #tokens;
        __fruix_os
    })
    .into()
}
