//! Benchmark: building a disk image from FreeBSD-style release sets, the way users do
//! (`base.txz`, `kernel.txz` and `MANIFEST` in a directory, imported through the dist-set
//! path), against the external pipeline it replaces on the same sets (`tar -xJf` of both
//! sets, makefs, mkfs.fat + mmd + mcopy, truncate + sgdisk, dd, sha256sum), all in one run:
//! a cold build, a warm rebuild of the unchanged system, and a rebuild after one rc.conf
//! change, each with its stages' times, peak RSS, and the store space the image took. Not
//! a test: run it by hand.
//!
//! ```text
//! apt-get install -y makefs dosfstools mtools gdisk
//! cargo run --release --example bench-image [-- --files N --scale K --dir DIR]
//! ```
//!
//! The sets are generated (`support/bench.rs`: ~29,000 entries, ~660 MB unpacked, hard
//! links, symlinks, setuid programs, `schg` files; xz-compressed about as well as a real
//! base) and cached under `target/bench-sets/`, so reruns skip generation. Each step runs in
//! a child process so that its wall time and peak RSS (`wait4`) are its own.

#[path = "support/bench.rs"]
mod bench;

use fruix_core::image::{materialize_bhyve_image_with_progress, Stage};
use fruix_core::store::Store;
use fruix_core::{BaseSource, OperatingSystem};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The benchmark's system: the default one on the generated release sets.
fn system(sets: &Path, rc_change: bool) -> OperatingSystem {
    system_of_size(sets, rc_change, "1GiB")
}

/// [`system`] with an image of `size`.
fn system_of_size(sets: &Path, rc_change: bool, size: &str) -> OperatingSystem {
    let mut os = fruix_systems::fruix_freebsd();
    os.base.source = BaseSource::DistSets {
        dir: sets.to_owned(),
        base_sha256: None,
        kernel_sha256: None,
    };
    os.image.size = fruix_core::ImageSize::Fixed(size.parse().expect("size"));
    if rc_change {
        os.rc_conf.insert("dumpdev".into(), "AUTO".into());
    }
    os
}

/// Child mode: `FRUIX_BENCH_CHILD=image|image-rc STORE SETS`; prints each stage's time.
fn child(mode: &str, store: &Path, sets: &Path) {
    if mode == "generate" {
        return generate(store, &sets.display().to_string());
    }
    let store = Store::open(store).expect("store");
    let mut last = (Instant::now(), "system closure (import sets)");
    let mut shares = Vec::new();
    let mut note = |stage: Stage| {
        let name = match stage {
            Stage::System => "system closure (import sets)",
            Stage::Packages { .. } => "FreeBSD packages",
            Stage::Esp => "ESP",
            Stage::Root { .. } => "UFS2 root",
            Stage::Disk => "disk image + hashing",
            Stage::Done => "done",
        };
        if name != last.1 {
            shares.push(format!("{} {:.2}s", last.1, last.0.elapsed().as_secs_f64()));
            last = (Instant::now(), name);
        }
    };
    let os = match mode {
        "image-rc" => system(sets, true),
        "image-4g" => system_of_size(sets, false, "4GiB"),
        _ => system(sets, false),
    };
    let built = materialize_bhyve_image_with_progress(&os, &store, &mut note);
    shares.push(format!("{} {:.2}s", last.1, last.0.elapsed().as_secs_f64()));
    eprintln!("  stages: {}", shares.join(", "));
    match built {
        Ok(a) => println!("{}", a.disk_image.display()),
        Err(e) => {
            eprintln!("bench child: {e}");
            std::process::exit(1);
        }
    }
}

fn ours(mode: &str, store: &Path, sets: &Path) -> (f64, u64, f64) {
    let exe = std::env::current_exe().expect("exe");
    bench::measure_cpu(
        Command::new(exe)
            .env("FRUIX_BENCH_CHILD", mode)
            .arg(store)
            .arg(sets)
            .stdout(Stdio::null()),
    )
}

/// Files every system needs from its base beyond the generated shape: the loader, a
/// kernel module loader.conf loads, a time zone, every program the system runs.
fn required_files(sets: &Path) -> Vec<(String, u32, Vec<u8>)> {
    let mut files = vec![
        ("boot/loader.efi".to_owned(), 0o555, vec![0x4d; 650_000]),
        (
            "boot/kernel/virtio_console.ko".to_owned(),
            0o555,
            vec![7u8; 40_000],
        ),
        (
            "usr/share/zoneinfo/UTC".to_owned(),
            0o444,
            b"TZif2 (bench)\n".to_vec(),
        ),
    ];
    let os = system(sets, false);
    for needed in fruix_core::system::programs::required_programs(&os) {
        let in_base = ["/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/"]
            .iter()
            .any(|dir| needed.path.starts_with(dir));
        if in_base {
            let rel = needed.path.trim_start_matches('/').to_owned();
            if !files.iter().any(|(r, _, _)| *r == rel) {
                files.push((rel, 0o555, b"program (bench)\n".to_vec()));
            }
        }
    }
    files
}

/// The release sets for these parameters, generated once and kept under `target/`.
fn release_sets(files: u64, scale: u64) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-sets");
    let dir = root.join(format!("v1-f{files}-s{scale}"));
    let stats = dir.join("stats.txt");
    if !stats.exists() {
        // In a child: the parent's peak memory would count as every later child's own
        // (`ru_maxrss` carries over fork and exec).
        let exe = std::env::current_exe().expect("exe");
        bench::measure(
            Command::new(exe)
                .env("FRUIX_BENCH_CHILD", "generate")
                .arg(&dir)
                .arg(format!("{files}:{scale}")),
        );
    }
    dir
}

/// Child mode `generate DIR FILES:SCALE`: writes the sets into `DIR`.
fn generate(dir: &Path, params: &str) {
    let (files, scale) = params.split_once(':').expect("FILES:SCALE");
    let (files, scale): (u64, u64) = (files.parse().expect("files"), scale.parse().expect("scale"));
    let root = dir.parent().expect("parent");
    {
        let t = Instant::now();
        let tmp = root.join(format!("tmp-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        let st = bench::release_sets(&tmp, files, scale, &required_files(dir));
        let line = format!(
            "{} files ({} setuid, {} schg), {} symlinks, {} hard links, {:.0} MiB unpacked; \
             base.txz {:.1} MiB, kernel.txz {:.1} MiB (generated in {:.0} s)",
            st.files,
            st.setuid,
            st.schg,
            st.symlinks,
            st.hard_links,
            st.bytes as f64 / (1 << 20) as f64,
            st.base_txz as f64 / (1 << 20) as f64,
            st.kernel_txz as f64 / (1 << 20) as f64,
            t.elapsed().as_secs_f64()
        );
        fs::write(tmp.join("stats.txt"), line).expect("stats");
        let _ = fs::remove_dir_all(dir);
        fs::rename(&tmp, dir).expect("sets");
    }
}

/// Allocated bytes under `path` (hard links counted once), from `du`.
fn du(paths: &[PathBuf]) -> u64 {
    let out = Command::new("du")
        .arg("-scB1")
        .args(paths)
        .output()
        .expect("du");
    let text = String::from_utf8_lossy(&out.stdout);
    let total = text.lines().last().unwrap_or("");
    total
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn uptime() -> String {
    let out = Command::new("uptime").output().expect("uptime");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

fn main() {
    if let Ok(mode) = std::env::var("FRUIX_BENCH_CHILD") {
        let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
        return child(&mode, &args[0], &args[1]);
    }
    let mut args = std::env::args().skip(1);
    let (mut files, mut scale, mut dir) = (30_000u64, 1u64, None);
    while let Some(a) = args.next() {
        let v = args.next().expect("option needs a value");
        match a.as_str() {
            "--files" => files = v.parse().expect("--files N"),
            "--scale" => scale = v.parse().expect("--scale K"),
            "--dir" => dir = Some(PathBuf::from(v)),
            _ => panic!("unknown option {a}"),
        }
    }
    let sets = release_sets(files, scale);
    println!(
        "sets: {}",
        fs::read_to_string(sets.join("stats.txt")).expect("stats")
    );
    let tmp = tempfile::Builder::new()
        .prefix("bench-image")
        .tempdir_in(dir.unwrap_or_else(std::env::temp_dir))
        .expect("temp dir");
    let store = tmp.path().join("store");
    println!("load before: {}", uptime());

    let mut rows: Vec<(String, f64, u64, f64)> = Vec::new();
    let (cold, rss, cpu) = ours("image", &store, &sets);
    rows.push((
        "fruix: cold build (sets -> disk.img)".into(),
        cold,
        rss,
        cpu,
    ));
    let (warm, rss, cpu) = ours("image", &store, &sets);
    rows.push((
        "fruix: warm rebuild (unchanged system)".into(),
        warm,
        rss,
        cpu,
    ));
    // Store space of one image: everything the cold build and the warm one left.
    let st = Store::open(&store).expect("store");
    let os = system(&sets, false);
    let closure = fruix_core::system::build_system(&os, &st).expect("closure");
    let image = fruix_core::image::materialize_bhyve_image(&os, &st).expect("image");
    let spec = image.spec.clone();
    let store_bytes = du(std::slice::from_ref(&store));
    let base_bytes = du(&[
        st.physical(&closure.base.runtime),
        st.physical(&closure.base.bootloader),
        st.physical(&closure.base.kernel),
    ]);
    let image_bytes = du(std::slice::from_ref(&image.disk_image));
    let (rc, rss, cpu) = ours("image-rc", &store, &sets);
    rows.push((
        "fruix: rebuild after one rc.conf change".into(),
        rc,
        rss,
        cpu,
    ));
    // Peak memory must not grow with the image: the same system in a 4 GiB image.
    let (w, rss, cpu) = ours("image-4g", &store, &sets);
    rows.push((
        "fruix: the same system in a 4 GiB image".into(),
        w,
        rss,
        cpu,
    ));

    // The external pipeline on the same sets and sizes.
    let out = tmp.path().join("external");
    let rootfs = out.join("rootfs");
    fs::create_dir_all(&rootfs).expect("out");
    let loader = st
        .physical(&closure.base.bootloader)
        .join("boot/loader.efi");
    let esp_part = spec
        .partition(fruix_core::image::PartitionKind::Esp)
        .expect("esp");
    let root_part = spec
        .partition(fruix_core::image::PartitionKind::FreebsdUfs)
        .expect("root");
    let p = |name: &str| out.join(name).display().to_string();
    let set = |name: &str| sets.join(name).display().to_string();
    let s = |v: u64| v.to_string();
    let args = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let root_dir = rootfs.display().to_string();
    let steps: Vec<(&str, Vec<String>)> = vec![
        (
            "tar",
            args(&[
                "-xJf",
                &set("base.txz"),
                "-C",
                &root_dir,
                "--warning=no-unknown-keyword",
            ]),
        ),
        (
            "tar",
            args(&[
                "-xJf",
                &set("kernel.txz"),
                "-C",
                &root_dir,
                "--warning=no-unknown-keyword",
            ]),
        ),
        (
            "makefs",
            args(&[
                "-t",
                "ffs",
                "-o",
                "version=2",
                "-T",
                "0",
                "-s",
                &s(spec.root_fs_size),
                &p("root.img"),
                &root_dir,
            ]),
        ),
        (
            "mkfs.fat",
            args(&[
                "-F",
                "32",
                "-s",
                "1",
                "-C",
                &p("esp.img"),
                &s(esp_part.size() / 1024),
            ]),
        ),
        ("mmd", args(&["-i", &p("esp.img"), "::/EFI", "::/EFI/BOOT"])),
        (
            "mcopy",
            args(&[
                "-i",
                &p("esp.img"),
                &loader.display().to_string(),
                "::/EFI/BOOT/BOOTX64.EFI",
            ]),
        ),
        (
            "truncate",
            args(&["-s", &s(spec.disk_size), &p("disk.img")]),
        ),
        (
            "sgdisk",
            args(&[
                "-n",
                &format!("1:{}:{}", esp_part.first_lba, esp_part.last_lba),
                "-t",
                "1:EF00",
                "-c",
                "1:efiboot",
                "-n",
                &format!("2:{}:{}", root_part.first_lba, root_part.last_lba),
                "-t",
                "2:A503",
                "-c",
                "2:fruix-root",
                &p("disk.img"),
            ]),
        ),
        (
            "dd",
            args(&[
                &format!("if={}", p("esp.img")),
                &format!("of={}", p("disk.img")),
                "bs=1M",
                &format!("seek={}", esp_part.offset() >> 20),
                "conv=notrunc,sparse",
                "status=none",
            ]),
        ),
        (
            "dd",
            args(&[
                &format!("if={}", p("root.img")),
                &format!("of={}", p("disk.img")),
                "bs=1M",
                &format!("seek={}", root_part.offset() >> 20),
                "conv=notrunc,sparse",
                "status=none",
            ]),
        ),
        ("sha256sum", args(&[&p("disk.img")])),
    ];
    let (mut ext_wall, mut ext_rss, mut ext_cpu) = (0.0, 0u64, 0.0);
    let mut ext_steps = Vec::new();
    for (tool, args) in &steps {
        let (w, rss, cpu) = bench::measure_cpu(Command::new(tool).args(args).stdout(Stdio::null()));
        ext_steps.push(format!("{tool} {w:.2}s"));
        ext_wall += w;
        ext_rss = ext_rss.max(rss);
        ext_cpu += cpu;
    }
    println!("  external steps: {}", ext_steps.join(", "));
    rows.push((
        "external: tar -xJf x2, makefs, mkfs.fat/mmd/mcopy, sgdisk, dd, sha256sum".into(),
        ext_wall,
        ext_rss,
        ext_cpu,
    ));
    println!("load after: {}", uptime());

    println!("| step | wall (s) | CPU (s) | peak RSS (MiB) |\n|---|---|---|---|");
    for (name, wall, rss, cpu) in &rows {
        println!(
            "| {name} | {wall:.2} | {cpu:.2} | {:.1} |",
            *rss as f64 / 1024.0
        );
    }
    println!(
        "ratios to the external pipeline: cold {:.2} (goal <= 0.5), rc.conf change {:.2} \
         (goal <= 0.25); warm rebuild {:.2} s (goal <= 0.2 s)",
        cold / ext_wall,
        rc / ext_wall,
        warm
    );
    let budget = base_bytes as f64 + 1.1 * image_bytes as f64;
    println!(
        "store after one image: {:.0} MiB; base items {:.0} MiB + 1.1 x disk.img allocated \
         {:.0} MiB = {:.0} MiB (goal: store <= that; {:.2} of it)",
        mib(store_bytes),
        mib(base_bytes),
        mib(image_bytes),
        budget / (1 << 20) as f64,
        store_bytes as f64 / budget
    );
    let _ = Command::new("chmod")
        .args(["-R", "u+w"])
        .arg(tmp.path())
        .status();
}
