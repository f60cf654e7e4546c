//! The default machine with packages from a pkg repository (`fruix_freebsd_pkgs`).
//!
//! ```text
//! FRUIX_PKG_REPO=/path/to/repo cargo run --example fruix-freebsd-pkgs -- lock
//! FRUIX_PKG_REPO=/path/to/repo cargo run --example fruix-freebsd-pkgs
//! ```
//!
//! `lock` resolves the packages and writes `fruix.lock` beside the crate; builds use it
//! (offline, from the store's download cache, once the packages were fetched).

fn main() -> std::process::ExitCode {
    fruix_core::cli::run(fruix_systems::fruix_freebsd_pkgs())
}
