//! Boot tests: real UEFI firmware (OVMF under QEMU: EDK II, the firmware family bhyve uses)
//! starts the image's `EFI/BOOT/BOOTX64.EFI`, which is FreeBSD's own loader, and the loader
//! reads the image's UFS2 root. Each image is booted once, with the `run-qemu.sh` it
//! ships, and every fact is asserted from that one serial transcript: as far as anything
//! can go without a FreeBSD kernel (the sample base's kernel is a placeholder the loader
//! refuses, which is the expected end).
//!
//! Needs `qemu-system-x86_64` and OVMF (Debian: `qemu-system-x86`, `ovmf`; `.ci/run`
//! installs them) and FreeBSD's `loader.efi`: `../shared/freebsd/loader_simp.efi` beside
//! the checkout, or the file `FRUIX_TEST_LOADER_EFI` names. Without them the tests fail
//! and say what is missing.

mod serial_console;

use fruix_core::image::esp::read_loader;
use fruix_core::image::verify::verify_image;
use fruix_core::image::{materialize_bhyve_image, ImageArtifact};
use fruix_core::store::{Store, StorePath};
use fruix_core::system::{build_system, SystemClosure};
use fruix_core::{OperatingSystem, Package};
use serial_console::{Console, ConsoleError};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Environment variable naming the FreeBSD loader to boot with.
const LOADER_ENV: &str = "FRUIX_TEST_LOADER_EFI";

/// From power-on to the loader's prompt: 15-60 s under TCG on 2 cores; the rest is slack
/// for a machine shared with builds.
const BOOT_TIMEOUT: Duration = Duration::from_secs(300);
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// One VM at a time: two TCG guests on a 2-core machine only slow each other down.
static ONE_VM: Mutex<()> = Mutex::new(());

/// What booting needs from the host; every missing piece is named at once.
struct Host {
    loader: PathBuf,
}

fn host() -> Host {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let loader = std::env::var_os(LOADER_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/freebsd/loader_simp.efi"));
    let firmware = |var: &str, default: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(default))
    };
    let mut missing = Vec::new();
    if !loader.is_file() {
        missing.push(format!(
            "FreeBSD's UEFI loader: no file at {} (see ../shared/freebsd/README.md, or set {LOADER_ENV})",
            loader.display()
        ));
    }
    let has_qemu = Command::new("qemu-system-x86_64")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_qemu {
        missing.push("qemu-system-x86_64 (apt-get install qemu-system-x86)".into());
    }
    for (var, default) in [
        ("OVMF_CODE", "/usr/share/OVMF/OVMF_CODE_4M.fd"),
        ("OVMF_VARS", "/usr/share/OVMF/OVMF_VARS_4M.fd"),
    ] {
        let file = firmware(var, default);
        if !file.is_file() {
            missing.push(format!(
                "OVMF firmware: no {} (apt-get install ovmf, or set {var})",
                file.display()
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "\n\n*** BOOT TEST CANNOT RUN: missing {} ***\n  - {}\n\n",
        missing.len(),
        missing.join("\n  - ")
    );
    Host {
        loader: fs::canonicalize(&loader).unwrap_or(loader),
    }
}

/// A temporary directory, in memory where the host has `/dev/shm`: the deep tree's
/// thousands of files are written and removed several times, which takes minutes on a
/// disk mounted with `discard`.
fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    tempfile::Builder::new()
        .prefix("fruix-boot-")
        .tempdir_in(base)
        .unwrap()
}

/// A system built into its own store, with FreeBSD's loader as its `boot/loader.efi`.
struct Built {
    _dir: tempfile::TempDir,
    store: Store,
    closure: SystemClosure,
    image: ImageArtifact,
}

fn build(mut os: OperatingSystem, host: &Host) -> Built {
    os.base = os.base.with_loader_efi(&host.loader);
    let dir = scratch_dir();
    let started = Instant::now();
    let store = Store::open(dir.path().join("store")).unwrap();
    let closure = build_system(&os, &store).unwrap();
    let image = materialize_bhyve_image(&os, &store).unwrap();
    eprintln!(
        "{}: image built in {:.1} s",
        os.host_name,
        started.elapsed().as_secs_f64()
    );
    // The loader went in the normal way: the ESP's BOOTX64.EFI is the given file, and the
    // image passes our own verifier (which compares it with the root's /boot/loader.efi).
    let esp_item: StorePath = image.metadata.esp_store_path.parse().unwrap();
    let esp = fs::read(store.physical(&esp_item).join("esp.img")).unwrap();
    assert!(
        read_loader(&esp).unwrap() == fs::read(&host.loader).unwrap(),
        "the ESP's EFI/BOOT/BOOTX64.EFI is not {}",
        host.loader.display()
    );
    let report = verify_image(&image.disk_image).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    Built {
        _dir: dir,
        store,
        closure,
        image,
    }
}

impl Built {
    /// The text of a file of the system's configuration item.
    fn config_file(&self, rel: &str) -> String {
        let path = self.store.physical(&self.closure.config).join(rel);
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

/// FreeBSD's loader at its prompt, on the serial console of the image's `run-qemu.sh`.
struct Loader {
    console: Console,
    _work: tempfile::TempDir,
    /// Everything up to the first prompt.
    boot_transcript: String,
    /// Power-on to the first prompt.
    boot_time: Duration,
}

/// The loader's prompt, and its autoboot countdown (a real kernel would get this far).
const PROMPT: &str = "OK ";
const COUNTDOWN: &str = "Hit [Enter] to boot immediately";
const PAGER: &str = "--more--";

impl Loader {
    /// Boots a writable copy of `built`'s disk with the image's own `run-qemu.sh`.
    fn boot(built: &Built) -> Result<Loader, ConsoleError> {
        let work = scratch_dir();
        let script = built.store.physical(&built.image.image).join("run-qemu.sh");
        let mut command = Command::new("sh");
        command
            .arg(&script)
            .current_dir(work.path())
            .env("FRUIX_DISK", work.path().join("disk.img"))
            // `/dev/kvm` may exist and still fail for x86 guests (design/BOOT.md).
            .env("FRUIX_QEMU_ACCEL", "tcg")
            .env("FRUIX_SSH_PORT", free_port().to_string());
        let mut console = Console::spawn(command)?;
        let mut countdown_stopped = false;
        loop {
            console.wait("loader prompt", BOOT_TIMEOUT, |s| {
                s.current() == PROMPT || (!countdown_stopped && s.text().contains(COUNTDOWN))
            })?;
            if console.with_screen(|s| s.current() == PROMPT) {
                break;
            }
            // Any key but Enter stops the countdown at the prompt.
            console.send(b" ")?;
            countdown_stopped = true;
        }
        let boot_time = console.elapsed();
        let boot_transcript = console.text();
        Ok(Loader {
            console,
            _work: work,
            boot_transcript,
            boot_time,
        })
    }

    /// Runs `command` at the prompt and returns what it printed (paged output included:
    /// the pager is answered). With `last`, the command is done only once a line equal
    /// to it was printed (an `include` prints prompts of its own).
    fn run(&mut self, command: &str, last: Option<&str>) -> Result<Vec<String>, ConsoleError> {
        let echo_line = self.console.with_screen(|s| s.lines.len());
        self.console.type_text(command)?;
        self.console.send(b"\r")?;
        loop {
            let last_seen = |lines: &[String]| last.is_none_or(|l| lines.iter().any(|x| x == l));
            self.console
                .wait(&format!("prompt after `{command}`"), COMMAND_TIMEOUT, |s| {
                    let out = s.lines.get(echo_line + 1..).unwrap_or_default();
                    (s.lines.len() > echo_line && s.current() == PROMPT && last_seen(out))
                        || s.current().contains(PAGER)
                })?;
            if self.console.with_screen(|s| s.current().contains(PAGER)) {
                self.console.send(b" ")?;
                self.console.wait("pager to go on", COMMAND_TIMEOUT, |s| {
                    !s.current().contains(PAGER)
                })?;
                continue;
            }
            return Ok(self
                .console
                .with_screen(|s| s.lines.get(echo_line + 1..).unwrap_or_default().to_vec()));
        }
    }
}

/// A TCP port nobody listens on now, for the ssh forward `run-qemu.sh` sets up.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `more FILE`, checked to fit the loader: it prints its `*** FILE F BEGIN ***` banner
/// through an 80-byte buffer, so a longer banner loses its end and its newline.
fn more(file: &str) -> String {
    assert!(
        file.len() <= 59,
        "`{file}` is too long for the loader's `more` banner: use a shorter path"
    );
    format!("more {file}")
}

/// The lines of `more FILE`'s output between its BEGIN and END banners.
fn more_body(output: &[String], file: &str) -> Vec<String> {
    let begin = format!("*** FILE {file} BEGIN ***");
    let end = format!("*** FILE {file} END ***");
    let start = output.iter().position(|l| *l == begin);
    let stop = output.iter().position(|l| *l == end);
    match (start, stop) {
        (Some(a), Some(b)) if a < b => output[a + 1..b].to_vec(),
        _ => panic!(
            "`more {file}` printed no complete file:\n{}",
            output.join("\n")
        ),
    }
}

fn lines_of(text: &str) -> Vec<String> {
    text.lines().map(|l| l.trim_end().to_owned()).collect()
}

/// Boots `built` once and asserts everything the loader shows of any Fruix image; then
/// runs `extra` commands and hands their outputs to `more_checks`.
fn boot_and_check(
    name: &str,
    built: &Built,
    extra: &[(&str, Option<&str>)],
    more_checks: impl FnOnce(&[Vec<String>]),
) {
    let _one_vm = ONE_VM.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let mut loader = Loader::boot(built).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut run = |command: &str, last: Option<&str>| {
        loader
            .run(command, last)
            .unwrap_or_else(|e| panic!("{name}: `{command}`: {e}"))
    };
    let lsdev = run("lsdev", None);
    let loader_conf = run(&more("/boot/loader.conf"), None);
    let rc_conf = run(&more("/etc/rc.conf"), None);
    let store = run("ls /frx/store", None);
    let extra_outputs: Vec<Vec<String>> = extra.iter().map(|(c, last)| run(c, *last)).collect();
    let commands_time = started.elapsed() - loader.boot_time;
    loader.console.kill();
    // Kept for whoever reads a failure (or wonders what the loader said).
    let transcript =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("boot-{}.txt", name.replace(' ', "-")));
    let _ = fs::write(&transcript, loader.console.text());
    eprintln!(
        "{name}: firmware to loader prompt {:.1} s, {} commands {:.1} s, whole boot {:.1} s \
         (transcript: {})",
        loader.boot_time.as_secs_f64(),
        4 + extra.len(),
        commands_time.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        transcript.display()
    );

    // The firmware found the ESP by its GUID and started EFI/BOOT/BOOTX64.EFI from it.
    let boot = &loader.boot_transcript;
    let md = &built.image.metadata;
    let has_line = |what: &str, pred: &dyn Fn(&str) -> bool| {
        assert!(
            boot.lines().any(pred),
            "{name}: the boot transcript shows no {what}:\n{boot}"
        );
    };
    has_line("firmware start of a boot option", &|l| {
        l.starts_with("BdsDxe: starting Boot")
    });
    has_line("FreeBSD loader banner", &|l| {
        l.starts_with("FreeBSD/amd64 EFI loader, Revision")
    });
    has_line("load path EFI/BOOT/BOOTX64.EFI", &|l| {
        l.trim() == r"Load Path: \EFI\BOOT\BOOTX64.EFI"
    });
    let esp = format!("HD(1,GPT,{},", md.esp_guid).to_ascii_uppercase();
    has_line("load device on the ESP", &|l| {
        l.trim().starts_with("Load Device:") && l.to_ascii_uppercase().contains(&esp)
    });
    let root = format!("HD(2,GPT,{},", md.root_guid).to_ascii_uppercase();
    has_line("try of the root partition", &|l| {
        l.starts_with("Trying:") && l.to_ascii_uppercase().contains(&root)
    });
    has_line("root partition as currdev", &|l| {
        l == "Setting currdev to disk0p2:"
    });
    // It got as far as loading the kernel: the sample base's is a placeholder.
    has_line("kernel load step", &|l| l.ends_with("can't load 'kernel'"));

    let lsdev: Vec<&str> = lsdev.iter().map(|l| l.trim()).collect();
    assert!(
        lsdev.contains(&"disk0p1: EFI") && lsdev.contains(&"disk0p2: FreeBSD UFS"),
        "{name}: lsdev:\n{}",
        lsdev.join("\n")
    );

    let loader_conf = more_body(&loader_conf, "/boot/loader.conf");
    assert_eq!(
        loader_conf,
        lines_of(&built.config_file("boot/loader.conf")),
        "{name}: /boot/loader.conf as the loader reads it"
    );
    for setting in [
        "console=\"comconsole\"",
        "vfs.root.mountfrom=\"ufs:/dev/gpt/fruix-root\"",
    ] {
        assert!(
            loader_conf.iter().any(|l| l == setting),
            "{name}: {setting}"
        );
    }

    let rc_conf = more_body(&rc_conf, "/etc/rc.conf");
    assert_eq!(
        rc_conf,
        lines_of(&built.config_file("etc/rc.conf")),
        "{name}: /etc/rc.conf as the loader reads it"
    );

    // `ls` prints the directory, then ` d  NAME` per entry.
    let listed: BTreeSet<String> = store
        .iter()
        .filter_map(|l| l.trim().strip_prefix("d "))
        .map(|n| n.trim().to_owned())
        .collect();
    let closure: BTreeSet<String> = built
        .closure
        .items
        .iter()
        .map(StorePath::base_name)
        .collect();
    assert_eq!(listed, closure, "{name}: ls /frx/store");

    more_checks(&extra_outputs);
}

#[test]
fn the_default_system_boots_to_freebsds_loader() {
    let host = host();
    let built = build(fruix_systems::fruix_freebsd(), &host);
    boot_and_check("default system", &built, &[], |_| {});
}

/// How the deep tree is made: sizes chosen to need UFS2's indirect blocks (an inode has
/// 12 direct block pointers; blocks are 32 KiB, so anything past 384 KiB is reached
/// through the single-indirect block).
const DIRECT_BYTES: u64 = 12 * 32 * 1024;
const WIDE_ENTRIES: usize = 3000;
const DEPTH: usize = 16;
const SCRIPT_BYTES: usize = 4 << 20;

/// A package tree with thousands of files in one directory (whose entries spill past the
/// direct blocks), a 16-level deep path, long symlinks (targets longer than the 120 bytes
/// an inode holds, so they live in a data block) to the deep leaf and to the wide
/// directory's last entry, and a 4 MiB loader script whose commands sit in its first
/// block, past the direct blocks, and at its end.
struct DeepTree {
    /// The contents of the wide directory's last entry.
    last_wide_text: String,
    leaf_text: String,
    script_len: u64,
    /// Lines the script's `echo` commands print.
    script_echoes: Vec<String>,
}

fn wide_name(i: usize) -> String {
    // 120-byte names: 132-byte directory entries, 3 to a 512-byte directory block, so
    // 3,000 entries take 1,000 blocks (500 KiB). Entries are written in name order: the
    // last one is in the directory's last block.
    format!("entry-{i:05}-{}", "w".repeat(120 - 12))
}

fn make_deep_tree(dir: &Path) -> DeepTree {
    let link = |target: &Path, name: &str| {
        assert!(target.as_os_str().len() > 120, "{name} is a long symlink");
        std::os::unix::fs::symlink(target, dir.join("links").join(name)).unwrap();
    };
    fs::create_dir_all(dir.join("links")).unwrap();

    let wide = dir.join("wide");
    fs::create_dir_all(&wide).unwrap();
    for i in 0..WIDE_ENTRIES {
        fs::write(wide.join(wide_name(i)), format!("fruix wide entry {i}\n")).unwrap();
    }
    let last = WIDE_ENTRIES - 1;
    let last_wide_text = format!("fruix wide entry {last}");
    link(&Path::new("../wide").join(wide_name(last)), "last-wide");

    let mut rel = PathBuf::from("deep");
    for level in 0..DEPTH {
        rel.push(format!("level-{level:02}-{}", "d".repeat(30)));
    }
    fs::create_dir_all(dir.join(&rel)).unwrap();
    let leaf_text = format!("fruix deep leaf at depth {DEPTH}");
    fs::write(dir.join(&rel).join("leaf.txt"), format!("{leaf_text}\n")).unwrap();
    link(&Path::new("..").join(&rel).join("leaf.txt"), "deep-leaf");

    // The simple interpreter skips lines starting with `\`; lines stay under its 256 bytes.
    let mut script = String::new();
    let mut script_echoes = Vec::new();
    let mut echo = |script: &mut String, what: &str| {
        let line = format!("fruix-big-script: {what} at offset {}", script.len());
        script.push_str(&format!("echo {line}\n"));
        script_echoes.push(line);
    };
    echo(&mut script, "first line");
    let pad = format!("\\ {}\n", "p".repeat(125));
    while script.len() < 1 << 20 {
        script.push_str(&pad);
    }
    echo(&mut script, "past the direct blocks");
    let last_line_len = 80;
    while script.len() + pad.len() + last_line_len < SCRIPT_BYTES {
        script.push_str(&pad);
    }
    echo(&mut script, "last line");
    fs::create_dir_all(dir.join("big")).unwrap();
    fs::write(dir.join("big/script.rc"), &script).unwrap();
    DeepTree {
        last_wide_text,
        leaf_text,
        script_len: script.len() as u64,
        script_echoes,
    }
}

#[test]
fn a_deep_wide_tree_reads_through_indirect_blocks_in_freebsds_loader() {
    let host = host();
    let tree_dir = scratch_dir();
    let tree = make_deep_tree(tree_dir.path());
    let mut os = fruix_systems::fruix_freebsd();
    os.host_name = "fruix-deep".into();
    os.packages
        .push(Package::tree("fruix-deep-tree", "1", tree_dir.path()));
    let built = build(os, &host);
    let package = built
        .closure
        .packages
        .iter()
        .find(|p| p.name() == "fruix-deep-tree-1")
        .map(|p| p.to_string())
        .expect("the deep tree's store item");
    let ls = format!("ls -l {package}");
    let ls_big = format!("ls -l {package}/big");
    // Through the profile (its `links` is a symlink into the package's item): the loader's
    // `more` takes short paths only.
    let wide_file = "/run/current-system/profile/links/last-wide";
    let long_link = "/run/current-system/profile/links/deep-leaf";
    let include = format!("include {package}/big/script.rc");
    let script_last = tree.script_echoes.last().cloned();
    let extra = [
        (ls.as_str(), None),
        (ls_big.as_str(), None),
        (&more(wide_file), None),
        (&more(long_link), None),
        (include.as_str(), script_last.as_deref()),
    ];
    boot_and_check("deep tree", &built, &extra, |out| {
        // `ls -l`: ` T   SIZE NAME` (T is `d`, `l`, or blank for a file); the loader's own
        // sizes show the direct blocks hold neither the wide directory nor the script.
        let size_of = |listing: &[String], name: &str| -> u64 {
            listing
                .iter()
                .find_map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
                    [.., size, last] if last == name => size.parse().ok(),
                    _ => None,
                })
                .unwrap_or_else(|| panic!("no {name} in:\n{}", listing.join("\n")))
        };
        let wide = size_of(&out[0], "wide");
        assert!(wide > DIRECT_BYTES, "wide/ is {wide} bytes");
        assert_eq!(size_of(&out[1], "script.rc"), tree.script_len);
        assert!(tree.script_len > DIRECT_BYTES);
        let wide_body = more_body(&out[2], wide_file);
        assert_eq!(wide_body, [tree.last_wide_text.as_str()], "{wide_file}");
        let leaf = more_body(&out[3], long_link);
        assert_eq!(leaf, [tree.leaf_text.as_str()], "{long_link}");
        let include_out = &out[4];
        for echo in &tree.script_echoes {
            assert!(
                include_out.iter().any(|l| l == echo),
                "`{include}` did not print {echo:?}:\n{}",
                include_out.join("\n")
            );
        }
    });
}
