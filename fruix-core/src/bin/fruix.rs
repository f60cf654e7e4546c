//! `fruix`: the command-line front end. Parses arguments, calls the library, prints.
//! Exit codes ([`CliError::exit_code`]): 0 success, 1 failure (fsck, inspect or store
//! verify found problems, or the command failed), 2 usage, 3 no space left; `diff`: 0
//! equal, 1 different, 2 a side cannot be read.

use std::fs::File;
use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use fruix_core::cli::CliError;
use fruix_core::image::ufs::{self, UfsLayout, UfsOptions};
use fruix_core::io_error::io;
use fruix_core::ByteSize;

#[derive(Parser)]
#[command(
    name = "fruix",
    about = "Declarative FreeBSD systems: file systems, images and the store",
    version,
    after_help = "Exit codes: 0 success, 1 problems found or failure, 2 usage, 3 no space left;\ndiff: 0 equal, 1 different, 2 a side cannot be read.\n\nExamples:\n  fruix makefs -t ufs2 -o label=root root.img ./rootfs\n  fruix fsck disk.img\n  fruix inspect disk.img\n  fruix diff old/disk.img new/disk.img\n  fruix store verify --store /frx/store\n  fruix store gc"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a UFS2 image of a host directory (like FreeBSD's makefs).
    Makefs {
        /// File-system type; only `ufs2`.
        #[arg(short = 't', value_name = "TYPE")]
        fstype: String,
        /// Image size: bytes, or with a unit as sizes print (`320MiB`, `1G`, `512k`); the
        /// smallest size that holds the tree when omitted.
        #[arg(short = 's', value_name = "SIZE")]
        size: Option<ByteSize>,
        /// Options, comma-separated or repeated: `label=NAME`.
        #[arg(short = 'o', value_name = "OPTIONS")]
        options: Vec<String>,
        /// Seconds since the epoch to use for every timestamp.
        #[arg(short = 'T', value_name = "EPOCH", allow_negative_numbers = true)]
        epoch: Option<i64>,
        /// The image file to write.
        image: std::path::PathBuf,
        /// The directory to copy.
        directory: std::path::PathBuf,
    },
    /// Check the UFS2 file system of an image, or of every UFS partition of a GPT disk.
    #[command(after_help = "Example: fruix fsck disk.img")]
    Fsck { image: std::path::PathBuf },
    /// Show what a disk image holds: partitions, labels, sizes, ESP files, UFS2 geometry,
    /// the current system and the store items.
    #[command(
        after_help = "Example: fruix inspect /frx/store/<hash>-fruix-bhyve-image-vm/disk.img"
    )]
    Inspect { image: std::path::PathBuf },
    /// Explain what differs between two disk images, two store items (their closures) or
    /// two paths: declaration fields, partition table, ESP files, UFS2 superblock, store
    /// items matched by name, files (hash, size, mode, owner, flags, link target; small
    /// text files as unified diffs). Changes that only follow from another item's new
    /// hash are listed below their cause as `derived`.
    #[command(
        after_help = "Exit status: 0 equal, 1 different, 2 a side cannot be read.\n\nExamples:\n  fruix diff old/disk.img new/disk.img\n  fruix diff --json /frx/store/<hash>-fruix-system-vm /frx/store/<hash>-fruix-system-vm\n  fruix diff ./rootfs-a ./rootfs-b"
    )]
    Diff {
        /// Store directory for arguments that name store items [default: $FRUIX_STORE,
        /// /frx/store, or a per-user cache]
        #[arg(long, value_name = "DIR")]
        store: Option<std::path::PathBuf>,
        /// Print the report as JSON instead of key=value lines.
        #[arg(long)]
        json: bool,
        /// Side A: a disk image, a store item, a path.
        a: String,
        /// Side B.
        b: String,
    },
    /// Work on the store.
    Store {
        /// Physical store directory [default: $FRUIX_STORE or /frx/store]
        #[arg(long, global = true, value_name = "DIR")]
        store: Option<std::path::PathBuf>,
        #[command(subcommand)]
        command: StoreCommand,
    },
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Re-hash every item and report each one whose contents no longer match its name.
    #[command(after_help = "Example: fruix store verify --store /var/tmp/store")]
    Verify,
    /// Delete every item not reachable from a GC root; print what was freed.
    #[command(after_help = "Example: fruix store gc")]
    Gc,
    /// List the GC roots.
    #[command(after_help = "Example: fruix store roots")]
    Roots,
    /// Make an item (and its closure) a GC root under a name.
    #[command(
        after_help = "Example: fruix store add-root vm /frx/store/<hash>-fruix-bhyve-image-vm"
    )]
    AddRoot { name: String, item: String },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Makefs {
            fstype,
            size,
            options,
            epoch,
            image,
            directory,
        } => makefs(
            &fstype,
            size.map(|s| s.0),
            &options,
            epoch,
            &image,
            &directory,
        ),
        Command::Fsck { image } => fsck(&image),
        Command::Inspect { image } => inspect(&image),
        Command::Diff { store, json, a, b } => {
            fruix_core::cli::diff_args(&a, &b, store, json).map(|equal| {
                if equal {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            })
        }
        Command::Store { store, command } => store_command(store, command),
    };
    result.unwrap_or_else(|e| {
        eprintln!("fruix: {e}");
        ExitCode::from(&e)
    })
}

fn inspect(image: &Path) -> Result<ExitCode, CliError> {
    let facts = fruix_core::cli::inspect_image(image)?;
    let mut problems = false;
    for (key, value) in facts {
        problems |= key.ends_with("problem");
        println!("{key}={value}");
    }
    Ok(if problems {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn store_command(
    dir: Option<std::path::PathBuf>,
    command: StoreCommand,
) -> Result<ExitCode, CliError> {
    use fruix_core::store::{Store, StoreLocation};
    let dir = dir.unwrap_or_else(|| StoreLocation::default_location().dir());
    let store = Store::open(&dir)?;
    match command {
        StoreCommand::Verify => {
            let items = store.items()?;
            let problems = store.verify()?;
            for p in &problems {
                println!("problem={p}");
            }
            println!("items={}", items.len());
            println!("problems={}", problems.len());
            Ok(if problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        StoreCommand::Gc => {
            let report = store.gc()?;
            for item in &report.deleted {
                println!("deleted={item}");
            }
            println!("deleted_items={}", report.deleted.len());
            println!("freed_bytes={}", report.freed_bytes);
            Ok(ExitCode::SUCCESS)
        }
        StoreCommand::Roots => {
            for root in store.roots()? {
                println!("root={root}");
            }
            Ok(ExitCode::SUCCESS)
        }
        StoreCommand::AddRoot { name, item } => {
            let item: fruix_core::store::StorePath = item.parse()?;
            store.add_root(&name, &item)?;
            println!("root={item}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn usage(message: String) -> Result<ExitCode, CliError> {
    Err(CliError::Usage(format!("makefs: {message}")))
}

fn makefs(
    fstype: &str,
    size: Option<u64>,
    options: &[String],
    epoch: Option<i64>,
    image: &Path,
    directory: &Path,
) -> Result<ExitCode, CliError> {
    if fstype != "ufs2" {
        return usage(format!("unsupported type `{fstype}` (only ufs2)"));
    }
    let mut opts = UfsOptions {
        size,
        time: epoch,
        ..UfsOptions::default()
    };
    for opt in options.iter().flat_map(|o| o.split(',')) {
        match opt.split_once('=') {
            Some(("label", name)) => opts.label = Some(name.to_string()),
            Some(("version", "2")) => {}
            _ => {
                return usage(format!(
                    "unknown option `{opt}` (known: label=NAME, version=2)"
                ))
            }
        }
    }
    let tree = ufs::tree_from_host(directory, epoch)?;
    let layout = UfsLayout::plan(&tree, &opts)?;
    let shown = image.display();
    let file = File::create(image).map_err(io("creating", image))?;
    layout
        .write_to_file(&file, 0)
        .map_err(|source| CliError::WriteUfs {
            path: image.to_owned(),
            source,
        })?;
    let g = &layout.geometry;
    println!(
        "{shown}: {} bytes, {} of {} inodes, {} cylinder groups of {} blocks",
        layout.size_bytes,
        layout.inodes.len() + 2,
        g.inodes(),
        g.ncg,
        g.fpg / g.frag
    );
    Ok(ExitCode::SUCCESS)
}

fn fsck(image: &Path) -> Result<ExitCode, CliError> {
    let shown = image.display();
    let mut file = File::open(image).map_err(io("opening", image))?;
    let results = ufs::check_image(&mut file).map_err(|source| CliError::Gpt {
        path: image.to_owned(),
        source,
    })?;
    if results.is_empty() {
        return Err(CliError::NoUfs(image.to_owned()));
    }
    let mut bad = false;
    for (name, problems) in results {
        if problems.is_empty() {
            println!("{shown}: {name}: clean");
        } else {
            bad = true;
            println!("{shown}: {name}: {} problems", problems.len());
            for p in problems {
                println!("  {p}");
            }
        }
    }
    Ok(if bad {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
