//! The default Fruix system's command line: `cargo run --example fruix-freebsd [VERB]`.
//!
//! Verbs: `image` (default: the bhyve disk image, as a store item), `build` (the system
//! closure), `rootfs --out DIR`, `verify [IMAGE]`, `describe` (the spec as JSON).
//! `--store DIR` (or `FRUIX_STORE`) picks the store directory. Results are key=value
//! lines on stdout.

use fruix_core::image::{materialize_bhyve_image, verify::verify_image};
use fruix_core::store::{Store, StoreLocation};
use fruix_core::OperatingSystem;
use std::path::PathBuf;
use std::process::ExitCode;

struct Args {
    verb: String,
    store: Option<PathBuf>,
    out: Option<PathBuf>,
    image: Option<PathBuf>,
}

fn parse() -> Option<Args> {
    let mut args = Args {
        verb: "image".into(),
        store: None,
        out: None,
        image: None,
    };
    let mut verb_given = false;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--store" => args.store = Some(it.next()?.into()),
            "--out" => args.out = Some(it.next()?.into()),
            "image" | "build" | "rootfs" | "verify" | "describe" if !verb_given => {
                args.verb = arg;
                verb_given = true;
            }
            path if args.verb == "verify" && args.image.is_none() => args.image = Some(path.into()),
            _ => return None,
        }
    }
    Some(args)
}

fn run(os: &OperatingSystem, args: Args) -> Result<(), String> {
    let location = match args.store {
        Some(dir) => StoreLocation::FromEnv(dir),
        None => StoreLocation::default_location(),
    };
    if let StoreLocation::UserCache(dir) = &location {
        eprintln!(
            "fruix-freebsd: /frx/store is not writable; using {}",
            dir.display()
        );
    }
    let store = Store::open(location.dir()).map_err(|e| e.to_string())?;
    match args.verb.as_str() {
        "image" => {
            let artifact = materialize_bhyve_image(os, &store).map_err(|e| e.to_string())?;
            print!("{}", artifact.metadata.to_key_values());
            println!("physical_disk_image={}", artifact.disk_image.display());
            Ok(())
        }
        "verify" => {
            let disk = match args.image {
                Some(path) => path,
                None => {
                    materialize_bhyve_image(os, &store)
                        .map_err(|e| e.to_string())?
                        .disk_image
                }
            };
            let report = verify_image(&disk).map_err(|e| e.to_string())?;
            for line in &report.passed {
                println!("ok: {line}");
            }
            for line in &report.problems {
                println!("FAILED: {line}");
            }
            match report.problems.len() {
                0 => Ok(()),
                n => Err(format!("{n} problem(s) in {}", disk.display())),
            }
        }
        verb => {
            let closure =
                fruix_core::system::build_system(os, &store).map_err(|e| e.to_string())?;
            println!("system_store_path={}", closure.system);
            println!("store_item_count={}", closure.items.len());
            if verb == "rootfs" {
                let out = args.out.ok_or("rootfs needs --out DIR")?;
                let tree =
                    fruix_core::rootfs::root_tree(&store, &closure).map_err(|e| e.to_string())?;
                fruix_core::rootfs::write_dir(&tree, &out).map_err(|e| e.to_string())?;
                println!("rootfs={}", out.display());
            }
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let Some(args) = parse() else {
        eprintln!("usage: fruix-freebsd [image | build | rootfs --out DIR | verify [IMAGE] | describe] [--store DIR]");
        return ExitCode::from(2);
    };
    let os = fruix_systems::fruix_freebsd();
    if let Err(problems) = os.validate() {
        eprintln!("fruix-freebsd: {problems}");
        return ExitCode::FAILURE;
    }
    if args.verb == "describe" {
        println!("{}", os.to_json());
        return ExitCode::SUCCESS;
    }
    match run(&os, args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fruix-freebsd: {e}");
            ExitCode::FAILURE
        }
    }
}
