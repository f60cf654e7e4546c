//! The command line every system crate gets: `fruix_core::cli::run(my_system())` in its
//! `main` gives upstream Fruix's verbs.
//!
//! ```text
//! image                 build the bhyve disk image (default)
//! build                 build the system closure
//! rootfs --out DIR      write the root file system to DIR
//! verify [IMAGE]        check an image (the system's own by default)
//! describe              print the spec as JSON
//! closure               list the closure's store items with their sizes
//! diff --against IMAGE  what differs between the declared system and a built image
//! lock                  resolve the FreeBSD packages afresh and write the lock file
//! ```
//!
//! A system with FreeBSD packages (`pkg(...)`) is built from its lock file, `fruix.lock`
//! beside the system crate (`$CARGO_MANIFEST_DIR` under cargo, else the current
//! directory; `--lock-file` to choose): written when missing, used as it is when it
//! matches the declaration (offline, from the store's download cache), an error saying
//! to run `lock` (or pass `--update-lock`) when it does not.
//!
//! `image` and `build` register their result as a GC root (`image-<host>`,
//! `system-<host>`), so `fruix store gc` keeps what was last built.
//!
//! Options: `--store DIR` (or `FRUIX_STORE`), `--json`, `-q/--quiet`. Results go to stdout
//! as `key=value` lines (or JSON); progress to stderr. Exit codes (see [`CliError`]): 0 ok,
//! 1 failure (`verify` found problems, or the build failed), 2 usage or an invalid
//! declaration, 3 no space left. `diff`: 0 equal, 1 different, 2 a side cannot be read or
//! built.

mod diff;
mod error;
mod inspect;
mod progress;

pub use diff::{diff_args, print_report};
pub use error::CliError;
pub use inspect::{inspect_image, Facts};

pub use progress::Progress;

use crate::image::{materialize_bhyve_image_with, verify::verify_image};
use crate::store::{Store, StoreLocation, STORE_DIR};
use crate::system::{build_system_with, lock_packages, PackageOptions};
use crate::{OperatingSystem, ToValidated};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    about = "Build this Fruix system: its closure, root file system and bhyve disk image",
    after_help = "Examples:\n  cargo run --example fruix-freebsd                 # the disk image\n  cargo run --example fruix-freebsd -- verify       # build, then check it\n  cargo run --example fruix-freebsd -- --json build # the closure, as JSON\n  FRUIX_STORE=/var/tmp/store cargo run --example fruix-freebsd"
)]
struct Args {
    /// Physical store directory [default: $FRUIX_STORE, /frx/store, or a per-user cache]
    #[arg(long, global = true, value_name = "DIR")]
    store: Option<PathBuf>,
    /// Print results as JSON instead of key=value lines.
    #[arg(long, global = true)]
    json: bool,
    /// No progress on stderr.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Lock file of the FreeBSD packages [default: fruix.lock beside the system crate]
    #[arg(long, global = true, value_name = "FILE")]
    lock_file: Option<PathBuf>,
    /// Resolve the FreeBSD packages afresh and rewrite the lock file before building.
    #[arg(long, global = true)]
    update_lock: bool,
    #[command(subcommand)]
    verb: Option<Verb>,
}

#[derive(Subcommand, Debug)]
enum Verb {
    /// Build the bhyve disk image as a store item and print its metadata (the default).
    #[command(after_help = "Example: fruix-freebsd image --store /tmp/store")]
    Image,
    /// Build the system closure and print its store path.
    #[command(after_help = "Example: fruix-freebsd build --json")]
    Build,
    /// Write the root file system (the /run/current-system topology) to a directory.
    #[command(after_help = "Example: fruix-freebsd rootfs --out /tmp/rootfs")]
    Rootfs {
        /// Directory to create (must not exist).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Check a disk image without mounting it: GPT, ESP, UFS2, the system's links, every
    /// store item's hash.
    #[command(
        after_help = "Examples:\n  fruix-freebsd verify\n  fruix-freebsd verify /path/to/disk.img"
    )]
    Verify {
        /// Image to check; the system's own image when omitted (built if needed).
        image: Option<PathBuf>,
    },
    /// Print the system's spec as JSON.
    #[command(after_help = "Example: fruix-freebsd describe > system.json")]
    Describe,
    /// List the store items of the system closure with their sizes.
    #[command(after_help = "Example: fruix-freebsd closure --json")]
    Closure,
    /// Explain what differs between the declared system (its closure, built if needed) and
    /// a built image: declaration fields, store items matched by name, files with unified
    /// diffs of small text files; derived changes listed below their causes.
    #[command(
        after_help = "Exit status: 0 equal, 1 different, 2 a side cannot be read or built.\n\nExample: fruix-freebsd diff --against /frx/store/<hash>-fruix-bhyve-image-vm/disk.img"
    )]
    Diff {
        /// The disk image (or store item, or path) to compare the declaration with.
        #[arg(long, value_name = "IMAGE")]
        against: PathBuf,
    },
    /// Resolve the FreeBSD packages against the repositories' catalogues and write the
    /// lock file (what later builds use, offline).
    #[command(after_help = "Example: fruix-freebsd-pkgs lock --lock-file fruix.lock")]
    Lock,
}

/// The lock file's name beside the system crate.
pub const LOCK_FILE: &str = "fruix.lock";

/// `--lock-file`, else `fruix.lock` beside the system crate: `$CARGO_MANIFEST_DIR` (set
/// by `cargo run`), else the current directory.
fn lock_file(given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(|| match std::env::var_os("CARGO_MANIFEST_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join(LOCK_FILE),
        _ => PathBuf::from(LOCK_FILE),
    })
}

/// Ordered key=value results, printed as lines or as one JSON object.
struct Results {
    json: bool,
    entries: Vec<(String, serde_json::Value)>,
}

impl Results {
    fn new(json: bool) -> Results {
        Results {
            json,
            entries: Vec::new(),
        }
    }
    fn put(&mut self, key: &str, value: impl Into<serde_json::Value>) {
        self.entries.push((key.to_owned(), value.into()));
    }
    fn print(self) {
        if self.json {
            let map: serde_json::Map<String, serde_json::Value> =
                self.entries.into_iter().collect();
            println!("{}", serde_json::to_string_pretty(&map).unwrap_or_default());
        } else {
            for (key, value) in self.entries {
                match value {
                    serde_json::Value::String(s) => println!("{key}={s}"),
                    serde_json::Value::Array(items) => {
                        for item in items {
                            println!(
                                "{key}={}",
                                item.as_str()
                                    .map_or_else(|| item.to_string(), str::to_owned)
                            );
                        }
                    }
                    other => println!("{key}={other}"),
                }
            }
        }
    }
}

/// Parses the process's arguments and runs the verb on `os`.
pub fn run(os: OperatingSystem) -> ExitCode {
    run_with_args(os, std::env::args_os())
}

/// [`run`] with explicit arguments (the first is the program name).
pub fn run_with_args<I, T>(os: OperatingSystem, args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args = match Args::try_parse_from(args) {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(2),
            };
        }
    };
    match execute(&os, args) {
        Ok(()) => ExitCode::SUCCESS,
        // The report said how they differ: not an error to announce.
        Err(e @ CliError::Differs) => ExitCode::from(&e),
        Err(e) => {
            eprintln!("fruix: error: {e}");
            ExitCode::from(&e)
        }
    }
}

fn open_store(dir: Option<PathBuf>, progress: &Progress) -> Result<Store, CliError> {
    let location = match dir {
        Some(dir) => StoreLocation::FromEnv(dir),
        None => StoreLocation::default_location(),
    };
    if let StoreLocation::UserCache(dir) = &location {
        progress.note(&format!(
            "{STORE_DIR} is not writable; using the store in {}",
            dir.display()
        ));
    }
    Ok(Store::open(location.dir())?)
}

fn execute(os: &OperatingSystem, args: Args) -> Result<(), CliError> {
    // Validated once; every stage below takes the validated system as it is.
    let os = os.to_validated()?;
    let os = &*os;
    let verb = args.verb.unwrap_or(Verb::Image);
    let mut out = Results::new(args.json);
    if let Verb::Describe = verb {
        println!("{}", os.to_json());
        return Ok(());
    }
    let mut progress = Progress::new(args.quiet);
    let options = PackageOptions {
        lock_file: Some(lock_file(args.lock_file)),
        update_lock: args.update_lock || matches!(verb, Verb::Lock),
        ..PackageOptions::default()
    };
    if let Verb::Lock = verb {
        let pins = lock_packages(os, &options, &mut |done, total| {
            progress.stage(crate::image::Stage::Packages { done, total })
        })?;
        match &pins.lock {
            Some(lock) => {
                if let Some(path) = &options.lock_file {
                    out.put("lock_file", path.display().to_string());
                }
                let repositories: Vec<serde_json::Value> = lock
                    .repositories
                    .iter()
                    .map(|r| format!("{} {} {}", r.name, r.catalogue_sha256, r.signature).into())
                    .collect();
                out.put("repository", repositories);
                let packages: Vec<serde_json::Value> = lock
                    .packages
                    .iter()
                    .map(|p| format!("{}-{} {}", p.name, p.version, p.sha256).into())
                    .collect();
                out.put("package", packages);
            }
            None => {
                progress.note("the system has no FreeBSD packages from repositories: no lock file")
            }
        }
        out.print();
        return Ok(());
    }
    let store = open_store(args.store, &progress)?;
    match verb {
        Verb::Image => {
            let artifact =
                materialize_bhyve_image_with(os, &store, &options, &mut |s| progress.stage(s))?;
            // What the user asked for survives `fruix store gc`, as Guix's auto roots do.
            let root = format!("image-{}", os.host_name);
            store.add_root(&root, &artifact.image)?;
            let md = serde_json::to_value(&artifact.metadata)?;
            for key in crate::image::Metadata::KEYS {
                out.put(key, md.get(*key).cloned().unwrap_or_default());
            }
            out.put(
                "physical_disk_image",
                artifact.disk_image.display().to_string(),
            );
        }
        Verb::Build | Verb::Closure | Verb::Rootfs { .. } => {
            progress.stage(crate::image::Stage::System);
            let closure = build_system_with(os, &store, &options, &mut |done, total| {
                progress.stage(crate::image::Stage::Packages { done, total })
            })?;
            let root = format!("system-{}", os.host_name);
            store.add_root(&root, &closure.system)?;
            out.put("system_store_path", closure.system.to_string());
            out.put("store_item_count", closure.items.len());
            if let Verb::Closure = verb {
                let mut total = 0;
                let mut items = Vec::new();
                for item in &closure.items {
                    let bytes = store.record(item)?.content_bytes;
                    total += bytes;
                    items.push(if args.json {
                        serde_json::json!({ "path": item.to_string(), "bytes": bytes })
                    } else {
                        serde_json::Value::String(format!("{item} {bytes}"))
                    });
                }
                out.put("item", items);
                out.put("closure_bytes", total);
            }
            if let Verb::Rootfs { out: dir } = verb {
                let tree = crate::rootfs::root_tree(&store, &closure)?;
                // A root file system that lacks a program the system runs is refused here too.
                crate::image::programs::check_tree(os, &tree)
                    .map_err(crate::image::ImageError::from)?;
                crate::rootfs::write_dir(&tree, &dir)?;
                out.put("rootfs", dir.display().to_string());
            }
        }
        Verb::Verify { image } => {
            let disk = match image {
                Some(path) => path,
                None => {
                    materialize_bhyve_image_with(os, &store, &options, &mut |s| progress.stage(s))?
                        .disk_image
                }
            };
            let report = verify_image(&disk)?;
            out.put("image", disk.display().to_string());
            out.put("passed", report.passed.clone());
            out.put("problem", report.problems.clone());
            out.put("status", if report.is_ok() { "ok" } else { "failed" });
            let problems = report.problems.len();
            out.print();
            return if problems == 0 {
                Ok(())
            } else {
                Err(CliError::Problems {
                    count: problems,
                    path: disk,
                })
            };
        }
        Verb::Diff { against } => {
            progress.stage(crate::image::Stage::System);
            let closure = build_system_with(os, &store, &options, &mut |done, total| {
                progress.stage(crate::image::Stage::Packages { done, total })
            })
            .map_err(|e| CliError::DiffSide(Box::new(e.into())))?;
            let declared = crate::diff::Side::closure(
                &format!("declared {}", closure.system),
                &store,
                &closure.system,
            )?;
            let image = crate::diff::Side::open(&against.to_string_lossy(), Some(&store))?;
            let report = crate::diff::diff(&declared, &image);
            print_report(&report, args.json)?;
            return if report.equal {
                Ok(())
            } else {
                Err(CliError::Differs)
            };
        }
        Verb::Describe | Verb::Lock => {}
    }
    out.print();
    Ok(())
}
