//! A UEFI boot loader given to a base ([`crate::FreeBsdBase::loader_efi`]): read once,
//! checked to be an EFI application for the base's architecture, and shipped as the
//! bootloader slice's `boot/loader.efi` (which the image's ESP carries as
//! `EFI/BOOT/BOOTX64.EFI`).

use super::slices::BaseError;
use crate::store::hash::hex;
use crate::{Arch, FreeBsdBase};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Where the loader goes in the bootloader slice.
pub const LOADER_PATH: &str = "boot/loader.efi";

/// Far more than any boot loader (FreeBSD's is under 1 MiB); a bigger file is a mistake.
pub const MAX_LOADER_BYTES: u64 = 16 << 20;

/// A checked loader: its bytes, read once, and their sha256.
#[derive(Debug, Clone)]
pub struct LoaderEfi {
    /// Where it was read from, on the host.
    pub path: PathBuf,
    /// Its contents, shipped as the base's `boot/loader.efi`.
    pub bytes: Vec<u8>,
    /// The lower-case hex sha256 of `bytes`; part of the bootloader item's identity.
    pub sha256: String,
}

impl LoaderEfi {
    /// The loader `base` is given, read and checked; `None` when it keeps its own.
    pub fn of(base: &FreeBsdBase) -> Result<Option<LoaderEfi>, BaseError> {
        match &base.loader_efi {
            Some(path) => LoaderEfi::read(path, base.arch).map(Some),
            None => Ok(None),
        }
    }

    /// Reads `path` and checks that it is a PE image of an EFI application for `arch`.
    pub fn read(path: &Path, arch: Arch) -> Result<LoaderEfi, BaseError> {
        let refuse = |why: String| BaseError::LoaderEfi {
            path: path.to_owned(),
            why,
        };
        let file = std::fs::File::open(path).map_err(|e| refuse(format!("cannot be read: {e}")))?;
        let md = file
            .metadata()
            .map_err(|e| refuse(format!("cannot be read: {e}")))?;
        if !md.is_file() {
            return Err(refuse("is not a regular file".into()));
        }
        if md.len() > MAX_LOADER_BYTES {
            return Err(refuse(format!(
                "is {} bytes, more than the {MAX_LOADER_BYTES} a boot loader can sensibly be",
                md.len()
            )));
        }
        let mut bytes = Vec::new();
        file.take(MAX_LOADER_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| refuse(format!("cannot be read: {e}")))?;
        if let Some(why) = efi_application_problem(&bytes, arch) {
            return Err(refuse(why));
        }
        let sha256 = hex(&Sha256::digest(&bytes));
        Ok(LoaderEfi {
            path: path.to_owned(),
            bytes,
            sha256,
        })
    }
}

/// PE machine types (`IMAGE_FILE_MACHINE_*`) UEFI firmware runs for each architecture.
fn pe_machine(arch: Arch) -> u16 {
    match arch {
        Arch::Amd64 => 0x8664,
        Arch::Aarch64 => 0xaa64,
    }
}

/// `IMAGE_SUBSYSTEM_EFI_APPLICATION`.
const EFI_APPLICATION: u16 = 10;

/// What keeps `bytes` from being an EFI application firmware of `arch` would start: the
/// DOS stub's `MZ`, the `PE\0\0` signature it points at, the COFF machine type, and the
/// optional header's subsystem (at the same offset in PE32 and PE32+).
pub fn efi_application_problem(bytes: &[u8], arch: Arch) -> Option<String> {
    let u16_at = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    if bytes.get(..2) != Some(b"MZ") {
        return Some("is not a PE/EFI image: it does not start with `MZ`".into());
    }
    let Some(pe) = bytes
        .get(0x3c..0x40)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    else {
        return Some("is not a PE/EFI image: it ends inside the DOS header".into());
    };
    if bytes.get(pe..pe.saturating_add(4)) != Some(b"PE\0\0") {
        return Some(format!(
            "is not a PE/EFI image: no `PE` signature at offset {pe:#x}"
        ));
    }
    let want = pe_machine(arch);
    match u16_at(pe + 4) {
        Some(machine) if machine == want => {}
        Some(machine) => {
            return Some(format!(
                "is a PE image for machine {machine:#06x}, not for {} ({want:#06x})",
                arch.name()
            ))
        }
        None => return Some("is not a PE/EFI image: it ends inside the COFF header".into()),
    }
    // COFF header (20 bytes) after the signature, then the optional header.
    match u16_at(pe + 24 + 68) {
        Some(EFI_APPLICATION) => None,
        Some(other) => Some(format!(
            "is a PE image of subsystem {other}, not an EFI application ({EFI_APPLICATION})"
        )),
        None => Some("is not a PE/EFI image: it ends inside the optional header".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest header `efi_application_problem` accepts.
    fn pe(machine: u16, subsystem: u16) -> Vec<u8> {
        let mut bytes = vec![0u8; 0x80 + 24 + 70];
        bytes[..2].copy_from_slice(b"MZ");
        bytes[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        bytes[0x80..0x84].copy_from_slice(b"PE\0\0");
        bytes[0x84..0x86].copy_from_slice(&machine.to_le_bytes());
        bytes[0x80 + 24 + 68..][..2].copy_from_slice(&subsystem.to_le_bytes());
        bytes
    }

    #[test]
    fn accepts_efi_applications_of_the_base_arch_only() {
        assert_eq!(efi_application_problem(&pe(0x8664, 10), Arch::Amd64), None);
        assert_eq!(
            efi_application_problem(&pe(0xaa64, 10), Arch::Aarch64),
            None
        );
        let wrong_arch = efi_application_problem(&pe(0xaa64, 10), Arch::Amd64);
        assert!(wrong_arch.is_some_and(|w| w.contains("not for amd64")));
        let windows = efi_application_problem(&pe(0x8664, 3), Arch::Amd64);
        assert!(windows.is_some_and(|w| w.contains("not an EFI application")));
    }

    #[test]
    fn refuses_what_is_not_pe() {
        let problem = |bytes: &[u8]| efi_application_problem(bytes, Arch::Amd64);
        assert!(problem(b"").is_some_and(|w| w.contains("`MZ`")));
        assert!(problem(b"#!/bin/sh\n").is_some_and(|w| w.contains("`MZ`")));
        assert!(problem(b"MZ").is_some_and(|w| w.contains("DOS header")));
        let mut far = pe(0x8664, 10);
        far[0x3c..0x40].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(problem(&far).is_some_and(|w| w.contains("no `PE` signature")));
        let whole = pe(0x8664, 10);
        assert!(problem(&whole[..0x85]).is_some_and(|w| w.contains("COFF header")));
        assert!(problem(&whole[..0x90]).is_some_and(|w| w.contains("optional header")));
    }
}
