//! The default Fruix system's command line: `cargo run --example fruix-freebsd [VERB]`.
//!
//! Verbs: `build` (default: the system closure), `rootfs --out DIR`, `describe` (the spec
//! as JSON). `--store DIR` (or `FRUIX_STORE`) picks the store directory. Results are
//! key=value lines on stdout.

use fruix_core::store::{Store, StoreLocation};
use std::path::PathBuf;
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: fruix-freebsd [build | rootfs --out DIR | describe] [--store DIR]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut verb = None;
    let mut store_dir: Option<PathBuf> = None;
    let mut out: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--store" => store_dir = args.next().map(PathBuf::from),
            "--out" => out = args.next().map(PathBuf::from),
            "build" | "rootfs" | "describe" if verb.is_none() => verb = Some(arg),
            _ => return usage(),
        }
    }
    let os = fruix_systems::fruix_freebsd();
    if let Err(problems) = os.validate() {
        eprintln!("fruix-freebsd: {problems}");
        return ExitCode::FAILURE;
    }
    if verb.as_deref() == Some("describe") {
        println!("{}", os.to_json());
        return ExitCode::SUCCESS;
    }
    let location = match store_dir {
        Some(dir) => StoreLocation::FromEnv(dir),
        None => StoreLocation::default_location(),
    };
    if let StoreLocation::UserCache(dir) = &location {
        eprintln!(
            "fruix-freebsd: /frx/store is not writable; using {}",
            dir.display()
        );
    }
    let result = Store::open(location.dir())
        .map_err(|e| e.to_string())
        .and_then(|store| {
            let closure =
                fruix_core::system::build_system(&os, &store).map_err(|e| e.to_string())?;
            println!("system_store_path={}", closure.system);
            println!("store_item_count={}", closure.items.len());
            println!("physical_store={}", store.dir().display());
            if verb.as_deref() == Some("rootfs") {
                let out = out.ok_or("rootfs needs --out DIR")?;
                let tree =
                    fruix_core::rootfs::root_tree(&store, &closure).map_err(|e| e.to_string())?;
                fruix_core::rootfs::write_dir(&tree, &out).map_err(|e| e.to_string())?;
                println!("rootfs={}", out.display());
            }
            Ok::<(), String>(())
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fruix-freebsd: {e}");
            ExitCode::FAILURE
        }
    }
}
