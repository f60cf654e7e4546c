//! The default system's bhyve image, checked with independent tools (sgdisk, fsck.fat,
//! mtools, grub-fstest, The Sleuth Kit) as well as our own verifier, reproduced in other
//! stores, rebuilt warm, partially rebuilt, and refused when it cannot fit.

mod common;

use common::child_process::{self, output_text as text};
use fruix_core::image::verify::verify_image;
use fruix_core::image::{materialize_bhyve_image, ImageError};
use fruix_core::store::{Store, StorePath};
use fruix_core::{ByteSize, ImageSize};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// One image shared by the tests of this file (built once, in-process, through the
/// library: no CLI involved).
fn built() -> &'static common::BuiltImage {
    static BUILT: OnceLock<common::BuiltImage> = OnceLock::new();
    BUILT.get_or_init(|| common::build_image("image", &fruix_systems::fruix_freebsd()))
}

fn tool(name: &str, args: &[&str]) -> Output {
    Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{name} must be installed (.ci/run installs it): {e}"))
}

fn disk() -> String {
    built().artifact.disk_image.display().to_string()
}

#[test]
fn sgdisk_reads_a_valid_table_with_our_types_labels_and_guids() {
    let md = &built().artifact.metadata;
    let verify = tool("sgdisk", &["-v", &disk()]);
    assert!(
        text(&verify).contains("No problems found"),
        "{}",
        text(&verify)
    );
    let print = text(&tool("sgdisk", &["-p", &disk()]));
    assert!(
        print.contains(&format!("Disk identifier (GUID): {}", md.disk_guid)),
        "{print}"
    );
    let esp = text(&tool("sgdisk", &["-i", "1", &disk()]));
    assert!(
        esp.contains("C12A7328-F81F-11D2-BA4B-00A0C93EC93B (EFI system partition)"),
        "{esp}"
    );
    assert!(
        esp.contains(&format!("Partition unique GUID: {}", md.esp_guid)),
        "{esp}"
    );
    assert!(esp.contains("Partition name: 'efiboot'"), "{esp}");
    let root = text(&tool("sgdisk", &["-i", "2", &disk()]));
    assert!(
        root.contains("516E7CB6-6ECF-11D6-8FF8-00022D09712B (FreeBSD UFS)"),
        "{root}"
    );
    assert!(
        root.contains(&format!("Partition unique GUID: {}", md.root_guid)),
        "{root}"
    );
    assert!(root.contains("Partition name: 'fruix-root'"), "{root}");
    assert_eq!(fs::metadata(disk()).unwrap().len(), md.image_size_bytes);
    assert_eq!(
        md.image_size_bytes,
        320 << 20,
        "the default system declares 320MiB"
    );
}

#[test]
fn our_reader_reads_the_tables_sgdisk_writes() {
    use fruix_core::image::gpt::{self, PartitionType};
    let copy = built().dir.join("sgdisk-edited.img");
    fs::copy(disk(), &copy).unwrap();
    let path = copy.display().to_string();
    // Two partitions in the alignment gap before the ESP, written by sgdisk itself.
    let edit = tool(
        "sgdisk",
        &[
            "-a",
            "1",
            "-n",
            "4:40:1039",
            "-t",
            "4:a501",
            "-c",
            "4:gptboot",
            "-n",
            "5:1040:2047",
            "-t",
            "5:a504",
            "-c",
            "5:tank",
            &path,
        ],
    );
    assert!(edit.status.success(), "{}", text(&edit));
    let ours = gpt::read(&mut fs::File::open(disk()).unwrap())
        .unwrap()
        .table;
    let read = gpt::read(&mut fs::File::open(&copy).unwrap()).unwrap();
    assert_eq!(read.problems, []);
    let table = read.table;
    assert_eq!(table.disk_guid, ours.disk_guid);
    assert_eq!(table.partitions[..2], ours.partitions[..2]);
    let added: Vec<_> = table.partitions[2..]
        .iter()
        .map(|p| {
            (
                p.number,
                p.partition_type,
                p.first_lba,
                p.last_lba,
                p.label.as_str(),
            )
        })
        .collect();
    assert_eq!(
        added,
        [
            (4, PartitionType::FreebsdBoot, 40, 1039, "gptboot"),
            (5, PartitionType::FreebsdZfs, 1040, 2047, "tank")
        ]
    );
    fs::remove_file(&copy).unwrap();
}

fn partition(number: u32) -> (u64, u64) {
    let info = text(&tool("sgdisk", &["-i", &number.to_string(), &disk()]));
    let field = |name: &str| -> u64 {
        let line = info
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {info}"));
        line[name.len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (field("First sector:"), field("Last sector:"))
}

#[test]
fn the_esp_passes_fsck_fat_and_mtools_finds_the_loader() {
    let b = built();
    let (first, last) = partition(1);
    let bytes = fs::read(disk()).unwrap();
    let esp = b.dir.join("esp-extracted.img");
    fs::write(
        &esp,
        &bytes[(first * 512) as usize..((last + 1) * 512) as usize],
    )
    .unwrap();
    let esp = esp.display().to_string();
    let fsck = tool("fsck.fat", &["-n", &esp]);
    assert!(fsck.status.success(), "{}", text(&fsck));
    let dir = text(&tool("mdir", &["-i", &esp, "::/EFI/BOOT"]));
    assert!(dir.contains("BOOTX64  EFI"), "{dir}");
    let out = b.dir.join("BOOTX64.EFI");
    let _ = fs::remove_file(&out);
    let copy = tool(
        "mcopy",
        &["-i", &esp, "::/EFI/BOOT/BOOTX64.EFI", out.to_str().unwrap()],
    );
    assert!(copy.status.success(), "{}", text(&copy));
    let closure =
        fruix_core::system::load(&b.store, &b.artifact.metadata.closure_path.parse().unwrap())
            .unwrap();
    let loader = fs::read(
        b.store
            .physical(&closure.base.bootloader)
            .join("boot/loader.efi"),
    )
    .unwrap();
    assert_eq!(fs::read(&out).unwrap(), loader);
}

/// Every regular file of every item of the system closure: (path in the image, host path).
fn store_files() -> Vec<(String, PathBuf)> {
    let b = built();
    let system: StorePath = b.artifact.metadata.closure_path.parse().unwrap();
    let mut out = Vec::new();
    for item in b.store.closure(&[system]).unwrap() {
        let root = b.store.physical(&item);
        for (p, _) in common::regular_files(&root) {
            let rel = p.strip_prefix(&root).unwrap().display();
            out.push((format!("frx/store/{}/{rel}", item.base_name()), p));
        }
    }
    out.sort();
    out
}

#[test]
fn grub_lists_the_store_and_finds_files_identical() {
    let listing = text(&tool(
        "grub-fstest",
        &[&disk(), "ls", "(loop0,gpt2)/frx/store"],
    ));
    let system: StorePath = built().artifact.metadata.closure_path.parse().unwrap();
    for item in built().store.closure(&[system]).unwrap() {
        assert!(
            listing.contains(&item.base_name()),
            "{item} not in {listing}"
        );
    }
    // GRUB reads the files themselves (its symlink following drops a byte of inline
    // targets, so paths here name store files directly).
    let files = store_files();
    assert!(files.len() > 50, "{} files", files.len());
    for (path, host) in files.iter().step_by(7) {
        let cmp = tool(
            "grub-fstest",
            &[
                &disk(),
                "cmp",
                &format!("(loop0,gpt2)/{path}"),
                host.to_str().unwrap(),
            ],
        );
        assert!(
            cmp.status.success(),
            "grub-fstest cmp {path}: {}",
            text(&cmp)
        );
    }
}

#[test]
fn the_sleuth_kit_reads_every_store_file_and_the_links() {
    let (first, _) = partition(2);
    let offset = first.to_string();
    let fls = tool("fls", &["-f", "ufs2", "-o", &offset, "-r", "-p", &disk()]);
    assert!(fls.status.success(), "{}", text(&fls));
    let inodes: HashMap<String, String> = String::from_utf8_lossy(&fls.stdout)
        .lines()
        .filter_map(|l| {
            let (kind_ino, path) = l.split_once('\t')?;
            let ino = kind_ino.split_whitespace().nth(1)?.trim_end_matches(':');
            Some((path.to_owned(), ino.to_owned()))
        })
        .collect();
    for (path, host) in store_files() {
        let ino = inodes
            .get(&path)
            .unwrap_or_else(|| panic!("fls does not list {path}"));
        let cat = tool("icat", &["-f", "ufs2", "-o", &offset, &disk(), ino]);
        assert!(
            cat.stdout == fs::read(&host).unwrap(),
            "icat {path} differs from the store"
        );
    }
    let md = &built().artifact.metadata;
    for (link, target) in [
        ("run/current-system", md.closure_path.clone()),
        (
            "boot/loader.conf",
            "/run/current-system/boot/loader.conf".to_owned(),
        ),
        ("etc/rc.conf", "/run/current-system/etc/rc.conf".to_owned()),
    ] {
        let ino = &inodes[link];
        let stat = text(&tool("istat", &["-f", "ufs2", "-o", &offset, &disk(), ino]));
        assert!(
            stat.contains(&format!("symbolic link to: {target}")),
            "{link}: {stat}"
        );
    }
    let fsstat = text(&tool("fsstat", &["-f", "ufs2", "-o", &offset, &disk()]));
    assert!(fsstat.contains("Volume Name: fruix-root"), "{fsstat}");
}

#[test]
fn our_verifier_passes_the_image_and_names_each_corruption() {
    let report = verify_image(&built().artifact.disk_image).unwrap();
    assert!(report.is_ok(), "{:#?}", report.problems);
    assert!(report.passed.len() >= 15, "{:#?}", report.passed);
    // The Shepherd backend, with the sample Shepherd standing in, has all its programs.
    let md = &built().artifact.metadata;
    assert_eq!(md.service_backend, "shepherd");
    assert!(md
        .shepherd_package
        .ends_with("-fruix-sample-shepherd-placeholder"));
    assert!(report
        .passed
        .iter()
        .any(|p| p.contains("programs the system runs")));

    let original = fs::read(disk()).unwrap();
    let copy = built().dir.join("corrupt.img");
    let corrupt = |at: usize, problem: &str| {
        let mut bytes = original.clone();
        bytes[at] ^= 0x55;
        fs::write(&copy, &bytes).unwrap();
        let report = verify_image(&copy).unwrap();
        assert!(
            report.problems.iter().any(|p| p.contains(problem)),
            "flipping byte {at}: wanted `{problem}`, got {:#?}",
            report.problems
        );
    };
    // The primary GPT header, the backup's entries, a store file's bytes, the loader in the ESP.
    corrupt(
        512 + 40,
        "primary GPT header at LBA 1: header CRC32 mismatch",
    );
    corrupt(
        original.len() - 33 * 512,
        "backup GPT partition entries: CRC32 mismatch",
    );
    let needle = b"hostname=\"fruix-freebsd\"";
    let at = original
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("rc.conf in the image");
    corrupt(at + 1, "fruix-config-fruix-freebsd in the image hashes to");
    let loader = b"placeholder for /boot/loader.efi";
    let at = original
        .windows(loader.len())
        .position(|w| w == loader)
        .expect("loader in the ESP");
    corrupt(at, "ESP: EFI/BOOT/BOOTX64.EFI differs");
    // Garbage and truncation are reported, never a panic.
    fs::write(&copy, &original[..4096]).unwrap();
    assert!(!verify_image(&copy).unwrap().is_ok());
    fs::write(&copy, vec![0xA5u8; 1 << 20]).unwrap();
    assert!(!verify_image(&copy).unwrap().is_ok());
}

/// Runs in a child process (see `child`): builds the image into `FRUIX_CHILD_STORE`.
#[test]
#[ignore = "helper run in child processes by the other tests"]
fn child_image() {
    let store = Store::open(child_process::store_dir()).unwrap();
    let artifact = materialize_bhyve_image(&fruix_systems::fruix_freebsd(), &store).unwrap();
    print!("{}", artifact.metadata.to_key_values());
}

/// Builds the image in a child with the umask `umask` in the time zone `tz`; returns
/// the metadata it printed.
fn child(store: &Path, umask: &str, tz: &str) -> HashMap<String, String> {
    let out = child_process::command_with_umask("child_image", store, umask)
        .env("TZ", tz)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let l = l.rsplit("... ").next()?;
            let (k, v) = l.split_once('=')?;
            Some((k.to_owned(), v.to_owned()))
        })
        .collect()
}

#[test]
fn same_declaration_same_image_bytes_in_any_store_umask_or_time_zone() {
    let dir = built().dir.join("repro");
    let a = child(&dir.join("a"), "022", "UTC");
    let b = child(&dir.join("deeper/b"), "077", "America/Los_Angeles");
    assert_eq!(a["raw_sha256"], b["raw_sha256"]);
    assert_eq!(a["image_store_path"], b["image_store_path"]);
    assert_eq!(
        a["raw_sha256"],
        built().artifact.metadata.raw_sha256,
        "and the same as in-process"
    );
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn warm_rebuilds_write_nothing_and_one_rc_conf_change_reuses_the_esp() {
    let b = built();
    // Its own store: other tests add items to the shared one concurrently.
    let dir = b.dir.join("warm");
    let store = Store::open(dir.join("store")).unwrap();
    let os = fruix_systems::fruix_freebsd();
    let first = materialize_bhyve_image(&os, &store).unwrap();
    let before = common::entry_state(store.dir());
    assert_eq!(materialize_bhyve_image(&os, &store).unwrap(), first);
    assert_eq!(
        common::entry_state(store.dir()),
        before,
        "a warm rebuild must not write"
    );

    let mut changed = os.clone();
    changed.rc_conf.insert("dumpdev".into(), "AUTO".into());
    let second = materialize_bhyve_image(&changed, &store).unwrap();
    assert_ne!(second.image, first.image);
    assert_ne!(
        second.metadata.root_store_path,
        first.metadata.root_store_path
    );
    assert_eq!(
        second.metadata.esp_store_path, first.metadata.esp_store_path,
        "the ESP is reused"
    );
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_image_too_small_for_its_contents_fails_before_writing() {
    let dir = built().dir.join("small");
    let store = Store::open(dir.join("store")).unwrap();
    let mut os = fruix_systems::fruix_freebsd();
    os.image.size = ImageSize::Fixed(ByteSize::mib(35));
    let err = materialize_bhyve_image(&os, &store).unwrap_err();
    assert!(matches!(err, ImageError::Layout(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("image size 36700160 bytes is too small")
            && text.contains("declare at least"),
        "{text}"
    );
    // The system closure is built (complete items); no partition or disk item is.
    let names = common::item_names(&store);
    assert!(
        names.iter().all(|n| !n.starts_with("fruix-esp")
            && !n.starts_with("fruix-root")
            && !n.starts_with("fruix-bhyve")),
        "{names:?}"
    );
    fs::remove_dir_all(dir).unwrap();
}
