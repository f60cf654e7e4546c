//! The repository catalogue reader on arbitrary bytes. The first byte chooses: `meta.conf`
//! text (even), or a catalogue archive read as `data.pkg` (1 mod 4) or `packagesite.pkg`
//! (3 mod 4) beside a fixed `meta.conf`.
#![no_main]
use fruix_core::pkg::catalogue::{Catalogue, RepoMeta};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let _ = RepoMeta::parse(rest, Path::new("fuzz"));
        return;
    }
    let dir = std::env::temp_dir().join(format!("fruix-fuzz-repo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    if std::fs::create_dir_all(&dir).is_err()
        || std::fs::write(dir.join("meta.conf"), "version = 2;\npacking_format = \"tzst\";\n").is_err()
    {
        return;
    }
    let name = if mode % 4 == 1 { "data.pkg" } else { "packagesite.pkg" };
    if std::fs::write(dir.join(name), rest).is_ok() {
        let _ = Catalogue::read_dir_with_limit(&dir, 4 << 20);
    }
});
