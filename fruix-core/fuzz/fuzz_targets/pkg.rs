//! The `.pkg` reader on arbitrary bytes: decompression by magic, the manifests, and the
//! checked walk over every member.
#![no_main]
use fruix_core::pkg::archive::{Limits, PkgArchive};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("fruix-fuzz-{}.pkg", std::process::id()));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let limits = Limits {
        max_manifest: 1 << 20,
        max_unpacked: 16 << 20,
    };
    if let Ok(archive) = PkgArchive::open_with_limits(&path, limits) {
        let _ = archive.verify();
    }
});
