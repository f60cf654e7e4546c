//! The Fruix project's own system declarations.
//!
//! [`fruix_freebsd`] is the default system: what `cargo run --example fruix-freebsd`
//! builds. It is also the reference for writing a system crate: literal values are checked
//! when this crate compiles, computed ones (the base, the service list) when the spec is
//! validated at run time.

#![warn(missing_docs)]

use fruix_core::{freebsd, FreeBsdBase, Package, Service};
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
        image: { size: "320MiB", esp_size: "33MiB", esp_label: "efiboot", root_label: "fruix-root" },
    }
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
    }
}

/// The README's system-crate example compiles as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeExample;
