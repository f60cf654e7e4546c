//! Benchmark: the whole image stage (system closure -> disk.img) against the equivalent
//! external pipeline (makefs for the root, mkfs.fat + mcopy for the ESP, sgdisk for the
//! table, dd to assemble), a warm rebuild, and a rebuild after one rc.conf change, with
//! each step's peak memory, all in one run. Not a test: run it by hand.
//!
//! ```text
//! apt-get install -y makefs dosfstools mtools gdisk
//! cargo run --release --example bench-image [-- --files N --scale K --dir DIR]
//! ```
//!
//! The system is the default `fruix-freebsd` one with its base replaced by a generated
//! FreeBSD-shaped tree (`support/bench.rs`: ~40,000 files, ~600 MB at scale 1, symlinks
//! and hard links). Each step runs in a child process so that its wall time and peak RSS
//! (`wait4`) are its own. The external pipeline gets the same root directory tree
//! (written by `fruix_core::rootfs`) and the same sizes.

#[path = "support/bench.rs"]
mod bench;

use fruix_core::image::{materialize_bhyve_image_with_progress, Stage};
use fruix_core::store::Store;
use fruix_core::{BaseSource, OperatingSystem};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The benchmark's system: the default one on the generated base.
fn system(tree: &Path, rc_change: bool) -> OperatingSystem {
    let mut os = fruix_systems::fruix_freebsd();
    os.base.source = BaseSource::Tree {
        path: tree.to_owned(),
    };
    os.image.size = fruix_core::ImageSize::Auto;
    if rc_change {
        os.rc_conf.insert("dumpdev".into(), "AUTO".into());
    }
    os
}

/// Child mode: `FRUIX_BENCH_CHILD=closure|image|image-rc STORE TREE`.
fn child(mode: &str, store: &Path, tree: &Path) {
    let store = Store::open(store).expect("store");
    let result = match mode {
        "closure" => fruix_core::system::build_system(&system(tree, false), &store)
            .map(|c| c.system.to_string())
            .map_err(|e| e.to_string()),
        "image" | "image-rc" => {
            // Each stage's share of the wall time, on stderr.
            let mut last = (Instant::now(), "system closure");
            let mut shares = Vec::new();
            let mut note = |stage: Stage| {
                let name = match stage {
                    Stage::System => "system closure",
                    Stage::Packages { .. } => "FreeBSD packages",
                    Stage::Esp => "ESP",
                    Stage::Root { .. } => "UFS2 root",
                    Stage::Disk => "disk assembly + hashing",
                    Stage::Done => "done",
                };
                if name != last.1 {
                    shares.push(format!("{} {:.2}s", last.1, last.0.elapsed().as_secs_f64()));
                    last = (Instant::now(), name);
                }
            };
            let built = materialize_bhyve_image_with_progress(
                &system(tree, mode == "image-rc"),
                &store,
                &mut note,
            );
            eprintln!("  [{mode}] {}", shares.join(", "));
            built
                .map(|a| a.disk_image.display().to_string())
                .map_err(|e| e.to_string())
        }
        other => Err(format!("unknown mode {other}")),
    };
    match result {
        Ok(out) => println!("{out}"),
        Err(e) => {
            eprintln!("bench child: {e}");
            std::process::exit(1);
        }
    }
}

fn ours(mode: &str, store: &Path, tree: &Path) -> (f64, u64) {
    let exe = std::env::current_exe().expect("exe");
    bench::measure(
        Command::new(exe)
            .env("FRUIX_BENCH_CHILD", mode)
            .arg(store)
            .arg(tree)
            .stdout(Stdio::null()),
    )
}

/// Makes the generated tree bootable-shaped: a loader, a time zone, a kernel module.
fn complete_base(tree: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let program = |rel: &str, bytes: &[u8]| {
        let path = tree.join(rel);
        fs::create_dir_all(path.parent().expect("parent")).expect("directory");
        fs::write(&path, bytes).expect(rel);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o555)).expect(rel);
    };
    program("boot/loader.efi", &vec![0x4d; 650_000]);
    program("boot/kernel/kernel", b"ELF kernel (bench)\n");
    program("boot/kernel/virtio_console.ko", &vec![7u8; 40_000]);
    fs::create_dir_all(tree.join("usr/share/zoneinfo")).expect("zoneinfo");
    fs::write(tree.join("usr/share/zoneinfo/UTC"), b"TZif2 (bench)\n").expect("UTC");
    // Every program of the base the system runs (the build checks they are there).
    let os = system(tree, false);
    for needed in fruix_core::system::programs::required_programs(&os) {
        let in_base = ["/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/"]
            .iter()
            .any(|dir| needed.path.starts_with(dir));
        let rel = needed.path.trim_start_matches('/');
        if in_base && !tree.join(rel).exists() {
            program(rel, b"program (bench)\n");
        }
    }
}

fn main() {
    if let Ok(mode) = std::env::var("FRUIX_BENCH_CHILD") {
        let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
        return child(&mode, &args[0], &args[1]);
    }
    let mut args = std::env::args().skip(1);
    let (mut files, mut scale, mut dir) = (40_000u64, 1u64, None);
    while let Some(a) = args.next() {
        let v = args.next().expect("option needs a value");
        match a.as_str() {
            "--files" => files = v.parse().expect("--files N"),
            "--scale" => scale = v.parse().expect("--scale K"),
            "--dir" => dir = Some(PathBuf::from(v)),
            _ => panic!("unknown option {a}"),
        }
    }
    let tmp = tempfile::Builder::new()
        .prefix("bench-image")
        .tempdir_in(dir.unwrap_or_else(std::env::temp_dir))
        .expect("temp dir");
    let (tree, store) = (tmp.path().join("tree"), tmp.path().join("store"));
    let t = Instant::now();
    let (nfiles, bytes, nsym, nhard) = bench::generate(&tree, files, scale);
    complete_base(&tree);
    println!(
        "tree: {nfiles} files, {:.0} MiB, {nsym} symlinks, {nhard} hard links (generated in {:.1} s)",
        bytes as f64 / (1 << 20) as f64,
        t.elapsed().as_secs_f64()
    );

    let mut rows: Vec<(String, f64, u64)> = Vec::new();
    let (w, rss) = ours("closure", &store, &tree);
    rows.push(("fruix: import base + system closure".into(), w, rss));
    let (image_wall, image_rss) = ours("image", &store, &tree);
    rows.push((
        "fruix: image (closure -> disk.img)".into(),
        image_wall,
        image_rss,
    ));
    let (w, rss) = ours("image", &store, &tree);
    rows.push(("fruix: warm rebuild (unchanged system)".into(), w, rss));
    let (w, rss) = ours("image-rc", &store, &tree);
    rows.push(("fruix: rebuild after one rc.conf change".into(), w, rss));

    // The external pipeline on the same root tree and sizes.
    let st = Store::open(&store).expect("store");
    let os = system(&tree, false);
    let closure = fruix_core::system::build_system(&os, &st).expect("closure");
    let spec = fruix_core::image::operating_system_image_spec(&os, &st).expect("spec");
    let rootfs = tmp.path().join("rootfs");
    let root_tree = fruix_core::rootfs::root_tree(&st, &closure).expect("root tree");
    fruix_core::rootfs::write_dir(&root_tree, &rootfs).expect("rootfs");
    let loader = st
        .physical(&closure.base.bootloader)
        .join("boot/loader.efi");
    let esp_part = spec
        .partition(fruix_core::image::PartitionKind::Esp)
        .expect("esp");
    let root_part = spec
        .partition(fruix_core::image::PartitionKind::FreebsdUfs)
        .expect("root");
    let out = tmp.path().join("external");
    fs::create_dir_all(&out).expect("out");
    let p = |name: &str| out.join(name).display().to_string();
    let s = |v: u64| v.to_string();
    let steps: Vec<(&str, Vec<String>)> = vec![
        (
            "makefs",
            vec![
                "-t".into(),
                "ffs".into(),
                "-o".into(),
                "version=2".into(),
                "-T".into(),
                "0".into(),
                "-s".into(),
                s(spec.root_fs_size),
                p("root.img"),
                rootfs.display().to_string(),
            ],
        ),
        (
            "mkfs.fat",
            vec![
                "-F".into(),
                "32".into(),
                "-s".into(),
                "1".into(),
                "-C".into(),
                p("esp.img"),
                s(esp_part.size() / 1024),
            ],
        ),
        (
            "mmd",
            vec![
                "-i".into(),
                p("esp.img"),
                "::/EFI".into(),
                "::/EFI/BOOT".into(),
            ],
        ),
        (
            "mcopy",
            vec![
                "-i".into(),
                p("esp.img"),
                loader.display().to_string(),
                "::/EFI/BOOT/BOOTX64.EFI".into(),
            ],
        ),
        (
            "truncate",
            vec!["-s".into(), s(spec.disk_size), p("disk.img")],
        ),
        (
            "sgdisk",
            vec![
                "-n".into(),
                format!("1:{}:{}", esp_part.first_lba, esp_part.last_lba),
                "-t".into(),
                "1:EF00".into(),
                "-c".into(),
                "1:efiboot".into(),
                "-n".into(),
                format!("2:{}:{}", root_part.first_lba, root_part.last_lba),
                "-t".into(),
                "2:A503".into(),
                "-c".into(),
                "2:fruix-root".into(),
                p("disk.img"),
            ],
        ),
        (
            "dd",
            vec![
                format!("if={}", p("esp.img")),
                format!("of={}", p("disk.img")),
                "bs=1M".into(),
                format!("seek={}", esp_part.offset() >> 20),
                "conv=notrunc,sparse".into(),
                "status=none".into(),
            ],
        ),
        (
            "dd",
            vec![
                format!("if={}", p("root.img")),
                format!("of={}", p("disk.img")),
                "bs=1M".into(),
                format!("seek={}", root_part.offset() >> 20),
                "conv=notrunc,sparse".into(),
                "status=none".into(),
            ],
        ),
    ];
    let (mut ext_wall, mut ext_rss) = (0.0, 0u64);
    for (tool, args) in &steps {
        let (w, rss) = bench::measure(Command::new(tool).args(args).stdout(Stdio::null()));
        ext_wall += w;
        ext_rss = ext_rss.max(rss);
    }
    rows.push((
        "external: makefs + mkfs.fat/mcopy + sgdisk + dd".into(),
        ext_wall,
        ext_rss,
    ));

    println!("{:<48} {:>9} {:>15}", "step", "wall (s)", "peak RSS (MiB)");
    for (name, wall, rss) in &rows {
        println!("{name:<48} {wall:>9.2} {:>15.1}", *rss as f64 / 1024.0);
    }
    println!("image ratio fruix/external: {:.2}", image_wall / ext_wall);
    let _ = Command::new("chmod")
        .args(["-R", "u+w"])
        .arg(tmp.path())
        .status();
}
