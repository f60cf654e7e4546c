//! The default Fruix system's command line: `cargo run --example fruix-freebsd`.
//!
//! It validates the declaration in `systems/` (the same rules the macro ran at compile
//! time, now on computed values too) and prints the spec as JSON. Later stages of the
//! pipeline (store, closure, disk image) hang off this same entry point.

use std::process::ExitCode;

fn main() -> ExitCode {
    let os = fruix_systems::fruix_freebsd();
    if let Err(problems) = os.validate() {
        eprintln!("fruix-freebsd: {problems}");
        return ExitCode::FAILURE;
    }
    println!("{}", os.to_json());
    ExitCode::SUCCESS
}
