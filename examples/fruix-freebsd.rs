//! The default Fruix system's command line: a system crate's whole `main`.
//!
//! `cargo run --example fruix-freebsd` builds the bhyve disk image; `-- --help` lists the
//! other verbs (build, rootfs, verify, describe, closure).

fn main() -> std::process::ExitCode {
    fruix_core::cli::run(fruix_systems::fruix_freebsd())
}
