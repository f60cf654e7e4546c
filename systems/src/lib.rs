//! The Fruix project's own system declarations.
//!
//! [`fruix_freebsd`] is the default system: what `cargo run --example fruix-freebsd`
//! builds. It is also the reference for writing a system crate: literal values are checked
//! when this crate compiles, computed ones (the base, the service list) when the spec is
//! validated at run time.

#![warn(missing_docs)]

use fruix_core::{
    freebsd, FreeBsdBase, Package, PackageRepository, RepositorySignature, Service,
    ShepherdPrograms,
};
use fruix_macros::operating_system;

pub use fruix_core::OperatingSystem;

/// The FreeBSD release the default system is made of.
pub const RELEASE: &str = "15.0-RELEASE";

/// Environment variable naming a directory with real `base.txz` and `kernel.txz`; without
/// it the default system uses the generated sample base (offline, placeholder contents).
pub const DIST_ENV: &str = "FRUIX_FREEBSD_DIST";

/// Environment variable naming a UEFI loader (e.g. a FreeBSD `loader.efi`) for the default
/// system to ship as `boot/loader.efi`, and so as its ESP's `EFI/BOOT/BOOTX64.EFI`.
pub const LOADER_ENV: &str = "FRUIX_LOADER_EFI";

/// The base of the default system: real release sets when [`DIST_ENV`] is set, with the
/// loader [`LOADER_ENV`] names (made absolute against the current directory) if it is set.
pub fn default_base() -> FreeBsdBase {
    let base = match std::env::var_os(DIST_ENV) {
        Some(dir) if !dir.is_empty() => freebsd::dist_sets(RELEASE, dir),
        _ => freebsd::sample_base(RELEASE),
    };
    match std::env::var_os(LOADER_ENV) {
        Some(loader) if !loader.is_empty() => {
            let loader = std::path::PathBuf::from(loader);
            // A relative path that cannot be made absolute is left for validate() to report.
            base.with_loader_efi(std::path::absolute(&loader).unwrap_or(loader))
        }
        _ => base,
    }
}

/// Environment variable naming a directory tree with a real GNU Shepherd for the default
/// system (`usr/local/bin/shepherd`, `usr/local/bin/herd` and whatever they need, such as
/// Guile); without it the sample Shepherd stands in (placeholder programs, offline).
pub const SHEPHERD_ENV: &str = "FRUIX_SHEPHERD";

/// The package that provides Shepherd: the tree [`SHEPHERD_ENV`] names, or the sample one.
pub fn shepherd_package() -> Package {
    match std::env::var_os(SHEPHERD_ENV) {
        Some(dir) if !dir.is_empty() => Package::tree("shepherd", "", dir),
        _ => fruix_core::system::shepherd::sample_package(&ShepherdPrograms::default()),
    }
}

/// Services every Fruix machine runs: ssh host keys once, then sshd. (The network is
/// configured by rc.conf's `ifconfig_vtnet0`, before Shepherd starts.)
pub fn base_services() -> Vec<Service> {
    vec![
        Service::new("ssh-host-keys", ["/usr/bin/ssh-keygen", "-A"]).one_shot(),
        Service::new("sshd", ["/usr/sbin/sshd", "-D"]).requires(["ssh-host-keys"]),
    ]
}

/// The operator's authorized key (a throwaway key made for this example).
pub const OPERATOR_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFCs+myzQZ1NqgXHDbDz6qyVBAg0aNMPEJwopc3O6umw operator@fruix";

/// The default `fruix-freebsd` system: upstream Fruix's example machine, for bhyve.
pub fn fruix_freebsd() -> OperatingSystem {
    operating_system! {
        host_name: "fruix-freebsd",
        base: default_base(),
        kernel: { config: "GENERIC", modules: ["virtio_console"] },
        loader: {
            console: [comconsole],
            serial_speed: 115200,
            autoboot_delay: 2,
            entries: { "kern.geom.label.disk_ident.enable": "0" },
        },
        packages: [
            Package::inline("fruix-motd", "1.0", [("share/fruix/welcome", "Welcome to Fruix.\n")]),
            shepherd_package(),
        ],
        groups: [
            { name: "wheel", gid: 0 },
            { name: "operator", gid: 5 },
        ],
        users: [
            { name: "root", uid: 0, group: "wheel", home: "/root", shell: "/bin/sh",
              comment: "Charlie &", password: "" },
            { name: "operator", uid: 1001, group: "operator", groups: ["wheel"],
              comment: "Fruix operator", shell: "/bin/sh", password: "*",
              ssh_keys: [OPERATOR_KEY] },
        ],
        file_systems: [
            { mount: "/", device: gpt_label("fruix-root"), kind: ufs },
            { mount: "/boot/efi", device: gpt_label("efiboot"), kind: msdosfs },
            { mount: "/dev", kind: devfs },
            { mount: "/dev/fd", kind: fdescfs },
            { mount: "/proc", kind: procfs },
            { mount: "/tmp", kind: tmpfs, options: ["rw", "mode=1777"] },
        ],
        services: [
            ..base_services(),
            { name: "fruix-ready", start: ["/usr/bin/touch", "/var/lib/fruix/ready"],
              requires: ["sshd"], one_shot: true, documentation: "Marks the system as booted." },
        ],
        rc_conf: {
            ifconfig_vtnet0: "DHCP",
            // sshd runs under Shepherd, not rc.d.
            sshd_enable: false,
            dumpdev: "NO",
        },
        sysctl: { "kern.ipc.somaxconn": 1024, "security.bsd.see_other_uids": 0 },
        time_zone: "UTC",
        locale: "C.UTF-8",
        hosts: [ { address: "10.0.2.2", names: ["gateway.fruix", "gateway"] } ],
        motd: "Welcome to Fruix on FreeBSD 15.0.\n",
        init_mode: "freebsd-init+rc.d-shepherd",
        image: { size: "320MiB", esp_size: "33MiB", esp_label: "efiboot", root_label: "fruix-root" },
    }
}

/// A small long-running program for [`fruix_freebsd_rc`]: logs the time every N seconds.
pub const HEARTBEAT: &str = "#!/bin/sh
# Logs the time every N seconds (default 60).
interval=${1:-60}
while :; do
	date
	sleep \"$interval\"
done
";

/// The package holding `/usr/local/bin/fruix-heartbeat`.
pub fn heartbeat_package() -> Package {
    Package::inline(
        "fruix-heartbeat",
        "1.0",
        [("usr/local/bin/fruix-heartbeat", HEARTBEAT)],
    )
    .with_executable("usr/local/bin/fruix-heartbeat")
}

/// The default machine on FreeBSD's own service manager (`freebsd-init+rc.d`): each
/// service is an rc.d script of its own and nothing beyond the base is needed. FreeBSD's
/// sshd runs from the base's own rc.d script (`sshd_enable`), which also makes host keys.
pub fn fruix_freebsd_rc() -> OperatingSystem {
    operating_system! {
        host_name: "fruix-rc",
        base: default_base(),
        init_mode: "freebsd-init+rc.d",
        kernel: { config: "GENERIC", modules: ["virtio_console"] },
        loader: { console: [comconsole], serial_speed: 115200, autoboot_delay: 2 },
        packages: [heartbeat_package()],
        file_systems: [
            { mount: "/", device: gpt_label("fruix-root"), kind: ufs },
            { mount: "/boot/efi", device: gpt_label("efiboot"), kind: msdosfs },
            { mount: "/dev", kind: devfs },
            { mount: "/tmp", kind: tmpfs, options: ["rw", "mode=1777"] },
        ],
        services: [
            { name: "heartbeat", start: ["/usr/local/bin/fruix-heartbeat", "60"],
              user: "nobody", environment: { PATH: "/bin:/usr/bin" }, directory: "/var/empty",
              log_file: "/var/log/heartbeat.log", documentation: "Logs the time every minute." },
            { name: "fruix-ready", start: ["/usr/bin/touch", "/var/lib/fruix/ready"],
              requires: ["heartbeat"], one_shot: true, documentation: "Marks the system as booted." },
        ],
        rc_conf: { ifconfig_vtnet0: "DHCP", sshd_enable: true, dumpdev: "NO" },
        image: { size: "320MiB", esp_size: "33MiB" },
    }
}

/// Environment variable naming the pkg repository of [`fruix_freebsd_pkgs`]: an
/// `http(s)://` or `file://` URL or a directory (`${ABI}` is replaced by
/// `FreeBSD:15:amd64`). Default: [`FREEBSD_PKG_URL`].
pub const PKG_REPO_ENV: &str = "FRUIX_PKG_REPO";

/// Environment variable naming a directory of trusted pkg key fingerprints (`trusted/`,
/// `revoked/`, as FreeBSD's `/usr/share/keys/pkg`) that the repository's catalogue must
/// be signed with. Default: [`FREEBSD_PKG_KEYS`] for FreeBSD's repository; a repository
/// from [`PKG_REPO_ENV`] without it is used unsigned (and the build says so).
pub const PKG_KEYS_ENV: &str = "FRUIX_PKG_KEYS";

/// Environment variable listing the packages of [`fruix_freebsd_pkgs`], separated by
/// spaces (`sudo nginx`). Default: `sudo`.
pub const PKGS_ENV: &str = "FRUIX_PKGS";

/// FreeBSD's own package repository (quarterly branch).
pub const FREEBSD_PKG_URL: &str = "https://pkg.FreeBSD.org/${ABI}/quarterly";

/// Where a FreeBSD host keeps the fingerprints of FreeBSD's package signing keys.
pub const FREEBSD_PKG_KEYS: &str = "/usr/share/keys/pkg";

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The repository of [`fruix_freebsd_pkgs`]: [`PKG_REPO_ENV`] (made absolute when it
/// is a relative directory) or FreeBSD's, signed as [`PKG_KEYS_ENV`] says.
pub fn pkg_repository() -> PackageRepository {
    let keys = env(PKG_KEYS_ENV).map(std::path::PathBuf::from);
    match env(PKG_REPO_ENV) {
        Some(url) => {
            let url = if url.contains("://") || url.starts_with('/') {
                url
            } else {
                std::path::absolute(&url).map_or(url, |p| p.display().to_string())
            };
            let mut repo = PackageRepository::new("custom", &url);
            if let Some(dir) = keys {
                repo.signature = RepositorySignature::Fingerprints { dir };
            }
            repo
        }
        None => {
            let mut repo = PackageRepository::new("FreeBSD", FREEBSD_PKG_URL);
            repo.signature = RepositorySignature::Fingerprints {
                dir: keys.unwrap_or_else(|| FREEBSD_PKG_KEYS.into()),
            };
            repo
        }
    }
}

/// The default machine with third-party software from a pkg repository: the packages
/// [`PKGS_ENV`] names (default `sudo`) and their dependencies, pinned in `fruix.lock`
/// beside the crate that runs it (`cargo run --example fruix-freebsd-pkgs -- lock`).
pub fn fruix_freebsd_pkgs() -> OperatingSystem {
    let mut os = fruix_freebsd();
    os.host_name = "fruix-pkgs".into();
    os.package_repositories = vec![pkg_repository()];
    let names = env(PKGS_ENV).unwrap_or_else(|| "sudo".into());
    os.packages
        .extend(names.split_whitespace().map(Package::pkg));
    // As large as the packages need.
    os.image.size = fruix_core::ImageSize::Auto;
    os
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_system_validates() {
        let os = fruix_freebsd();
        assert_eq!(os.validate(), Ok(()));
        assert_eq!(os.host_name, "fruix-freebsd");
        assert_eq!(os.services.len(), 3);
        assert_eq!(os.services[2].requires, ["sshd"]);
        assert_eq!(os.rc_conf["sshd_enable"], "NO");
        assert_eq!(os.sysctl["kern.ipc.somaxconn"], "1024");
        assert_eq!(os.init_mode, fruix_core::InitMode::FreebsdInitRcShepherd);
        if std::env::var_os(SHEPHERD_ENV).is_none() {
            assert_eq!(os.packages[1].name, "fruix-sample-shepherd");
            assert_eq!(os.packages[1].version, "placeholder");
        }
    }

    #[test]
    fn pkgs_system_validates() {
        let os = fruix_freebsd_pkgs();
        assert_eq!(os.validate(), Ok(()));
        assert_eq!(os.package_repositories.len(), 1);
        assert!(os
            .packages
            .iter()
            .any(|p| matches!(p.source, fruix_core::PackageSource::Pkg { .. })));
    }

    #[test]
    fn rc_system_validates() {
        let os = fruix_freebsd_rc();
        assert_eq!(os.validate(), Ok(()));
        assert_eq!(os.init_mode, fruix_core::InitMode::FreebsdInitRcd);
        assert_eq!(os.services[0].directory.as_deref(), Some("/var/empty"));
        assert_eq!(os.rc_conf["sshd_enable"], "YES");
    }
}

/// The README's system-crate example compiles as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeExample;
