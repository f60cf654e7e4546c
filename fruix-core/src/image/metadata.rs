//! What an image records about itself (`metadata`, `metadata.json`: upstream Fruix's keys
//! and more), and its launch scripts.

use super::artifact::ImageError;
use super::layout::{ImageSpec, PartitionKind};
use crate::store::{Store, StorePath};
use crate::system::SystemClosure;
use crate::{FsKind, InitMode, OperatingSystem};
use serde::{Deserialize, Serialize};

/// The image's metadata. Key order is upstream's, then Fruix-rs's additions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// Store path of the image item.
    pub image_store_path: String,
    /// Store path of `disk.img` inside the image item.
    pub disk_image: String,
    /// Store path of the system item the image boots.
    pub closure_path: String,
    /// sha256 of the raw disk image, lowercase hex: the reproducibility check.
    pub raw_sha256: String,
    /// Disk image size in bytes.
    pub image_size_bytes: u64,
    /// Number of store items in the system's closure.
    pub store_item_count: usize,
    /// File-system type of the ESP (`msdosfs`), or `none`.
    pub esp_fstype: String,
    /// File-system type of the root (`ufs`), or `none`.
    pub root_fstype: String,
    /// Partition table kind: always `gpt`.
    pub partition_scheme: String,
    /// How firmware boots it: `uefi` with an ESP.
    pub boot_mode: String,
    /// Disk image format: always `raw`.
    pub image_format: String,
    /// The serial loader consoles, comma-separated, or `none`.
    pub serial_console: String,
    /// GPT label of the ESP.
    pub esp_label: String,
    /// GPT label of the root partition.
    pub root_label: String,
    /// Where `/run/current-system` points: the system item.
    pub run_current_system_target: String,
    /// Store path of the `loader.efi` the ESP carries.
    pub boot_loader_target: String,
    /// Store path of the generated `etc/rc.conf`.
    pub rc_conf_target: String,
    /// Store path of the rc.d script that starts Shepherd.
    pub rc_script_target: String,
    /// How the image was made: `declarative-system-layer` (upstream's key).
    pub image_generation_mode: String,
    /// The system's host name.
    pub host_name: String,
    /// The init mode's name (`freebsd-init+rc.d-shepherd`).
    pub init_mode: String,
    /// FAT type of the ESP (`fat32`).
    pub esp_fat: String,
    /// GPT disk GUID.
    pub disk_guid: String,
    /// GPT partition GUID of the ESP.
    pub esp_guid: String,
    /// GPT partition GUID of the root.
    pub root_guid: String,
    /// Store path of the ESP volume item.
    pub esp_store_path: String,
    /// Store path of the item holding the root file system: the image item itself, whose
    /// `disk.img` holds it at the root partition's offset (`image-spec.json`).
    pub root_store_path: String,
    /// FreeBSD release of the base (`15.0-RELEASE`).
    pub freebsd_base_release: String,
    /// Architecture of the base (`amd64`).
    pub freebsd_base_arch: String,
    /// Where the base came from: `sample`, `dist-sets` or `tree`.
    pub freebsd_base_source: String,
    /// Store path of the base's index item.
    pub freebsd_base_store_path: String,
    /// sha256 of `base.txz`, when the base came from distribution sets; else empty.
    pub freebsd_base_sha256: String,
    /// sha256 of `kernel.txz`, when the base came from distribution sets; else empty.
    pub freebsd_kernel_sha256: String,
    /// Every loader console, in `console=` order (`serial_console` has the serial ones).
    #[serde(default)]
    pub loader_console: String,
    /// Who starts the services: `shepherd` or `rc.d` (see `init_mode`).
    #[serde(default)]
    pub service_backend: String,
    /// The package item providing Shepherd (Shepherd modes; the sample stand-in's name says
    /// `fruix-sample-shepherd-placeholder`), empty for `rc.d`.
    #[serde(default)]
    pub shepherd_package: String,
    /// What becomes of FreeBSD packages' install scripts: `first-boot` (see
    /// [`crate::pkg::scripts`]).
    #[serde(default)]
    pub package_script_policy: String,
    /// How many package install scripts the activation runs at first boot.
    #[serde(default)]
    pub package_scripts: usize,
    /// How many FreeBSD packages (`pkg(...)`, `pkg_file(...)` and their dependencies)
    /// the system holds.
    #[serde(default)]
    pub pkg_packages: usize,
}

impl Metadata {
    /// `key=value` lines, in the same order as the JSON.
    pub fn to_key_values(&self) -> String {
        let Ok(serde_json::Value::Object(map)) = serde_json::to_value(self) else {
            return String::new();
        };
        // serde_json's map is sorted; the struct's order is the one to show.
        let mut out = String::new();
        for key in Self::KEYS {
            let value = match map.get(*key) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            out.push_str(&format!("{key}={value}\n"));
        }
        out
    }

    /// Every key, in order.
    pub const KEYS: &'static [&'static str] = &[
        "image_store_path",
        "disk_image",
        "closure_path",
        "raw_sha256",
        "image_size_bytes",
        "store_item_count",
        "esp_fstype",
        "root_fstype",
        "partition_scheme",
        "boot_mode",
        "image_format",
        "serial_console",
        "esp_label",
        "root_label",
        "run_current_system_target",
        "boot_loader_target",
        "rc_conf_target",
        "rc_script_target",
        "image_generation_mode",
        "host_name",
        "init_mode",
        "esp_fat",
        "disk_guid",
        "esp_guid",
        "root_guid",
        "esp_store_path",
        "root_store_path",
        "freebsd_base_release",
        "freebsd_base_arch",
        "freebsd_base_source",
        "freebsd_base_store_path",
        "freebsd_base_sha256",
        "freebsd_kernel_sha256",
        "loader_console",
        "service_backend",
        "shepherd_package",
        "package_script_policy",
        "package_scripts",
        "pkg_packages",
    ];
}

/// Collects the metadata of an image whose own (future) store path is `self_path`.
#[allow(clippy::too_many_arguments)]
pub fn metadata(
    os: &OperatingSystem,
    store: &Store,
    closure: &SystemClosure,
    spec: &ImageSpec,
    self_path: &str,
    esp: &StorePath,
    raw_sha256: &str,
) -> Result<Metadata, ImageError> {
    let guid = |kind| {
        spec.partition(kind)
            .map(|p| p.guid.clone())
            .unwrap_or_default()
    };
    let label = |kind| {
        spec.partition(kind)
            .map(|p| p.label.clone())
            .unwrap_or_default()
    };
    let consoles = |serial_only: bool| {
        let names: Vec<&str> = os
            .loader
            .console
            .iter()
            .filter(|c| !serial_only || c.is_serial())
            .map(|c| c.name())
            .collect();
        if names.is_empty() {
            NONE.to_owned()
        } else {
            names.join(",")
        }
    };
    let provenance = &closure.base.provenance;
    let uses_shepherd = os.init_mode.uses_shepherd();
    let shepherd_rel = os.shepherd.program.trim_start_matches('/');
    let shepherd_package = if uses_shepherd {
        closure
            .packages
            .iter()
            .find(|item| store.item_file(item, shepherd_rel).is_some())
            .map(ToString::to_string)
            .unwrap_or_default()
    } else {
        String::new()
    };
    let packages = crate::system::packages_record(store, &closure.system)?;
    Ok(Metadata {
        image_store_path: self_path.to_owned(),
        disk_image: format!("{self_path}/disk.img"),
        closure_path: closure.system.to_string(),
        raw_sha256: raw_sha256.to_owned(),
        image_size_bytes: spec.disk_size,
        store_item_count: closure.items.len(),
        esp_fstype: fstype(spec, PartitionKind::Esp),
        root_fstype: fstype(spec, PartitionKind::FreebsdUfs),
        partition_scheme: "gpt".into(),
        boot_mode: boot_mode(spec).into(),
        image_format: "raw".into(),
        serial_console: consoles(true),
        esp_label: label(PartitionKind::Esp),
        root_label: label(PartitionKind::FreebsdUfs),
        run_current_system_target: closure.system.to_string(),
        boot_loader_target: closure.base.bootloader.join("boot/loader.efi"),
        rc_conf_target: closure.config.join("etc/rc.conf"),
        // Shepherd's rc.d script; rc.d services have one script each, under `rc.d/`.
        rc_script_target: if os.init_mode == InitMode::FreebsdInitRcd {
            String::new()
        } else {
            closure.config.join("rc.d/fruix-shepherd")
        },
        image_generation_mode: "declarative-system-layer".into(),
        host_name: os.host_name.clone(),
        init_mode: os.init_mode.name().into(),
        esp_fat: spec.esp_fat.name().into(),
        disk_guid: spec.disk_guid.clone(),
        esp_guid: guid(PartitionKind::Esp),
        root_guid: guid(PartitionKind::FreebsdUfs),
        esp_store_path: esp.to_string(),
        // The root file system is a range of the image's own `disk.img`.
        root_store_path: self_path.to_owned(),
        freebsd_base_release: provenance.release.clone(),
        freebsd_base_arch: provenance.arch.clone(),
        freebsd_base_source: provenance.source.clone(),
        freebsd_base_store_path: closure.base.base.to_string(),
        freebsd_base_sha256: provenance.base_sha256.clone().unwrap_or_default(),
        freebsd_kernel_sha256: provenance.kernel_sha256.clone().unwrap_or_default(),
        loader_console: consoles(false),
        service_backend: if uses_shepherd { "shepherd" } else { "rc.d" }.into(),
        shepherd_package,
        package_script_policy: crate::pkg::scripts::POLICY.to_owned(),
        package_scripts: packages.first_boot_scripts,
        pkg_packages: packages.packages.len(),
    })
}

/// The value of a key whose thing the image does not have (no serial console, no ESP).
const NONE: &str = "none";

/// FreeBSD's mount(8) type of the file system on the image's partition of `kind`
/// (`msdosfs`, `ufs`), or `none` without such a partition.
fn fstype(spec: &ImageSpec, kind: PartitionKind) -> String {
    let fs = match spec.partition(kind).map(|p| p.kind) {
        Some(PartitionKind::Esp) => Some(FsKind::Msdosfs),
        Some(PartitionKind::FreebsdUfs) => Some(FsKind::Ufs),
        Some(PartitionKind::FreebsdSwap) | None => None,
    };
    fs.map_or(NONE, FsKind::name).to_owned()
}

/// `uefi` when the image has an EFI system partition to boot from.
fn boot_mode(spec: &ImageSpec) -> &'static str {
    if spec.partition(PartitionKind::Esp).is_some() {
        "uefi"
    } else {
        NONE
    }
}

/// A disk the VM may write: the store's copy is read-only, so the scripts work on a copy.
fn disk_copy(host: &str) -> String {
    format!(
        r#"dir=$(cd "$(dirname "$0")" && pwd)
disk=${{FRUIX_DISK:-$PWD/fruix-{host}.img}}
if [ ! -e "$disk" ]; then
	cp "$dir/disk.img" "$disk"
	chmod u+w "$disk"
fi
"#
    )
}

/// `run-bhyve.sh`: boots the image under bhyve(8) on a FreeBSD host (as root), serial
/// console on stdio.
pub fn run_bhyve(host: &str) -> String {
    format!(
        r#"#!/bin/sh
# Boots this Fruix image under bhyve(8): UEFI firmware (edk2-bhyve), virtio disk and
# network, COM1 on stdio. Run as root on FreeBSD. The VM works on a writable copy.
set -e
{copy}name=${{FRUIX_VM_NAME:-fruix-{host}}}
firmware=${{BHYVE_UEFI:-/usr/local/share/uefi-firmware/BHYVE_UEFI.fd}}
tap=${{FRUIX_TAP:-tap0}}
kldload -n vmm
bhyvectl --destroy --vm="$name" 2>/dev/null || true
set +e
bhyve -c 2 -m 2G -A -H -P -w -u \
	-s 0,hostbridge -s 2,virtio-blk,"$disk" -s 3,virtio-net,"$tap" -s 31,lpc \
	-l com1,stdio -l bootrom,"$firmware" "$name"
status=$?
bhyvectl --destroy --vm="$name" 2>/dev/null || true
# bhyve exits 0 on reboot, 1 on power off, 2 on halt.
exit $status
"#,
        copy = disk_copy(host)
    )
}

/// `run-qemu.sh`: boots the image under QEMU with OVMF, serial console on stdio.
/// Environment: `OVMF_CODE`/`OVMF_VARS` (firmware), `FRUIX_DISK` (the writable copy),
/// `FRUIX_QEMU_ACCEL` (`kvm:tcg` by default: KVM when it works, else emulation),
/// `FRUIX_SSH_PORT` (host port forwarded to the guest's 22; 2222 by default).
pub fn run_qemu(host: &str) -> String {
    format!(
        r#"#!/bin/sh
# Boots this Fruix image under QEMU with OVMF (Debian's ovmf package), serial console
# on stdio (no graphics; Ctrl-A x quits), ssh forwarded from host port 2222
# (FRUIX_SSH_PORT). The VM works on a writable copy.
set -e
code=${{OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.fd}}
vars_template=${{OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}}
for firmware in "$code" "$vars_template"; do
	if [ ! -r "$firmware" ]; then
		echo "run-qemu.sh: no OVMF firmware at $firmware (install ovmf, or set OVMF_CODE and OVMF_VARS)" >&2
		exit 1
	fi
done
{copy}vars=${{disk%.img}}-vars.fd
if [ ! -e "$vars" ]; then
	cp "$vars_template" "$vars"
	chmod u+w "$vars"
fi
exec qemu-system-x86_64 -machine accel=${{FRUIX_QEMU_ACCEL:-kvm:tcg}} -cpu max -m 2G -smp 2 \
	-drive if=pflash,format=raw,unit=0,readonly=on,file="$code" \
	-drive if=pflash,format=raw,unit=1,file="$vars" \
	-drive file="$disk",format=raw,if=virtio \
	-netdev user,id=n0,hostfwd=tcp::${{FRUIX_SSH_PORT:-2222}}-:22 -device virtio-net-pci,netdev=n0 \
	-nographic
"#,
        copy = disk_copy(host)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::layout;
    use crate::system::build_system;
    use crate::Console;

    /// The metadata of `os`'s image laid out by `edit`, without writing the image.
    fn metadata_of(os: &OperatingSystem, edit: impl FnOnce(&mut ImageSpec)) -> Metadata {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let closure = build_system(os, &store).unwrap();
        let valid = os.clone().validated().unwrap();
        let mut spec = layout::plan(
            &valid,
            closure.system.hash(),
            closure.base.bootloader.hash(),
            1 << 20,
        )
        .unwrap();
        edit(&mut spec);
        let item = &closure.system;
        metadata(os, &store, &closure, &spec, "/frx/store/x", item, "00").unwrap()
    }

    fn os(console: Vec<Console>) -> OperatingSystem {
        let mut os = OperatingSystem {
            host_name: "meta".into(),
            ..Default::default()
        };
        os.loader.console = console;
        os
    }

    #[test]
    fn serial_console_names_only_serial_consoles() {
        let md = metadata_of(&os(vec![Console::Vidconsole]), |_| {});
        assert_eq!(
            (md.serial_console.as_str(), md.loader_console.as_str()),
            ("none", "vidconsole")
        );
        let md = metadata_of(
            &os(vec![
                Console::Vidconsole,
                Console::Comconsole,
                Console::Eficom,
            ]),
            |_| {},
        );
        assert_eq!(md.serial_console, "comconsole,eficom");
        assert_eq!(md.loader_console, "vidconsole,comconsole,eficom");
    }

    #[test]
    fn file_system_keys_follow_the_layout() {
        let declared = os(vec![Console::Comconsole]);
        let md = metadata_of(&declared, |_| {});
        assert_eq!(
            (
                md.esp_fstype.as_str(),
                md.root_fstype.as_str(),
                md.boot_mode.as_str()
            ),
            ("msdosfs", "ufs", "uefi")
        );
        assert_eq!(
            (md.esp_label.as_str(), md.root_label.as_str()),
            ("efiboot", "fruix-root")
        );
        // What the keys say comes from the partitions, not from constants.
        let md = metadata_of(&declared, |spec| {
            spec.partitions.retain(|p| p.kind != PartitionKind::Esp);
            spec.partitions[0].label = "root0".into();
        });
        assert_eq!(
            (
                md.esp_fstype.as_str(),
                md.root_fstype.as_str(),
                md.boot_mode.as_str()
            ),
            ("none", "ufs", "none")
        );
        assert_eq!(
            (md.esp_label.as_str(), md.root_label.as_str()),
            ("", "root0")
        );
        // Upstream's keys are all there, in upstream's order, before Fruix-rs's own.
        let lines = md.to_key_values();
        let keys: Vec<&str> = lines
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, Metadata::KEYS);
        assert_eq!(
            &keys[..8],
            [
                "image_store_path",
                "disk_image",
                "closure_path",
                "raw_sha256",
                "image_size_bytes",
                "store_item_count",
                "esp_fstype",
                "root_fstype"
            ]
        );
        assert!(lines.contains("\nimage_generation_mode=declarative-system-layer\n"));
    }
}
