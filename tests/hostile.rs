//! Hostile and broken input: release sets whose links point at the building host, archive
//! entries no base may hold, JSON specs of the wrong shape or with invalid values, deep and
//! huge documents, sizes that cannot work, and damaged images given to the verifier and the
//! UFS2 checker. Each is refused with an error naming the problem (or reported), the store
//! keeps only complete items, and nothing panics.

mod common;

use common::{listing, sha};

use fruix_core::freebsd::BaseError;
use fruix_core::freebsd::{self, materialize_base};
use fruix_core::image::{materialize_bhyve_image, verify::verify_image, ImageError};
use fruix_core::store::{Store, StorePath};
use fruix_core::system::SystemError;
use fruix_core::{OperatingSystem, Rule};
use std::fs;
use std::path::{Path, PathBuf};

fn temp(tag: &str) -> PathBuf {
    common::scratch(&format!("hostile-{tag}"))
}

#[derive(Clone, Copy)]
enum E<'a> {
    Dir(&'a str),
    File(&'a str, &'a [u8], u32),
    Symlink(&'a str, &'a str),
    /// Raw name bytes (not necessarily UTF-8).
    RawFile(&'a [u8]),
    /// A regular file whose header declares `size` bytes but carries `data`.
    Lying(&'a str, u64, &'a [u8]),
    Block(&'a str),
    Fifo(&'a str),
    /// Through the tar crate's own long-name (GNU) extension.
    Long(&'a str),
}

/// Writes a `.txz` whose entry names are taken verbatim.
fn txz(path: &Path, entries: &[E]) {
    let mut tar = Vec::new();
    {
        let mut builder = tar::Builder::new(&mut tar);
        for entry in entries {
            let mut h = tar::Header::new_gnu();
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            h.set_mode(0o644);
            let (name, kind, data, link): (&[u8], _, &[u8], Option<&str>) = match entry {
                E::Dir(n) => (n.as_bytes(), tar::EntryType::Directory, b"", None),
                E::File(n, d, m) => {
                    h.set_mode(*m);
                    (n.as_bytes(), tar::EntryType::Regular, *d, None)
                }
                E::Symlink(n, t) => (n.as_bytes(), tar::EntryType::Symlink, b"", Some(*t)),
                E::RawFile(n) => (*n, tar::EntryType::Regular, b"x", None),
                E::Block(n) => (n.as_bytes(), tar::EntryType::Block, b"", None),
                E::Fifo(n) => (n.as_bytes(), tar::EntryType::Fifo, b"", None),
                E::Lying(n, size, d) => {
                    let raw = &mut h.as_old_mut().name;
                    raw[..n.len()].copy_from_slice(n.as_bytes());
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(*size);
                    h.set_cksum();
                    let mut bytes = h.as_bytes().to_vec();
                    bytes.extend_from_slice(d);
                    builder.get_mut().extend_from_slice(&bytes);
                    continue;
                }
                E::Long(n) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(1);
                    builder.append_data(&mut h, n, &b"x"[..]).unwrap();
                    continue;
                }
            };
            let raw = &mut h.as_old_mut().name;
            raw.fill(0);
            raw[..name.len()].copy_from_slice(name);
            if let Some(t) = link {
                h.as_old_mut().linkname[..t.len()].copy_from_slice(t.as_bytes());
            }
            h.set_entry_type(kind);
            h.set_size(data.len() as u64);
            h.set_cksum();
            builder.append(&h, data).unwrap();
        }
        builder.finish().unwrap();
    }
    xz(path, &tar);
}

fn xz(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    let mut enc = xz2::write::XzEncoder::new(fs::File::create(path).unwrap(), 1);
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap();
}

fn manifest(dir: &Path) {
    let text = format!(
        "base.txz\t{}\t1\tbase\t\"\"\ton\nkernel.txz\t{}\t1\tkernel\t\"\"\ton\n",
        sha(&dir.join("base.txz")),
        sha(&dir.join("kernel.txz"))
    );
    fs::write(dir.join("MANIFEST"), text).unwrap();
}

/// `./path` of every program the default system runs from FreeBSD's base (a shell, init,
/// daemon, ...), and of the directories they are in.
fn base_programs() -> (Vec<String>, Vec<String>) {
    let os = fruix_systems::fruix_freebsd();
    let programs: Vec<String> = fruix_core::system::programs::required_programs(&os)
        .into_iter()
        .filter(|p| {
            ["/bin/", "/sbin/", "/usr/"]
                .iter()
                .any(|d| p.path.starts_with(d))
        })
        .filter(|p| !p.path.starts_with("/usr/local/"))
        .map(|p| format!(".{}", p.path))
        .collect();
    let mut dirs: Vec<String> = programs
        .iter()
        .flat_map(|p| {
            let parts: Vec<&str> = p.split('/').collect();
            (2..parts.len()).map(move |n| format!("{}/", parts[..n].join("/")))
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    (dirs, programs)
}

/// A base with what the default system needs (the programs it runs, the UTC zone, the
/// loader, the virtio_console module), plus `extra` entries and `kernel_extra` in kernel.txz.
fn dist_with(dir: &Path, extra: &[E], kernel_extra: &[E]) {
    fs::create_dir_all(dir).unwrap();
    let (dirs, programs) = base_programs();
    let mut base = vec![E::Dir("./")];
    base.extend(dirs.iter().map(|d| E::Dir(d)));
    base.extend(programs.iter().map(|p| E::File(p, b"program", 0o555)));
    base.extend(extra.iter().map(copy));
    txz(&dir.join("base.txz"), &base);
    let mut kernel = vec![
        E::Dir("./boot/"),
        E::Dir("./boot/kernel/"),
        E::File("./boot/kernel/kernel", b"ELF kernel", 0o555),
    ];
    kernel.extend(kernel_extra.iter().map(copy));
    txz(&dir.join("kernel.txz"), &kernel);
    manifest(dir);
}

fn copy<'a>(e: &E<'a>) -> E<'a> {
    *e
}

const ZONE: E = E::File("./usr/share/zoneinfo/UTC", b"TZif2 utc", 0o444);
const LOADER: E = E::File("./boot/loader.efi", b"MZ loader", 0o555);
const MODULE: E = E::File("./boot/kernel/virtio_console.ko", b"ELF ko", 0o555);

/// Whether `needle` occurs in any file of any item of the store.
fn store_mentions(store: &Store, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut todo = vec![store.dir().to_path_buf()];
    while let Some(p) = todo.pop() {
        let md = fs::symlink_metadata(&p).unwrap();
        if md.is_dir() {
            todo.extend(fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else if md.is_file() {
            let bytes = fs::read(&p).unwrap();
            if bytes.windows(needle.len()).any(|w| w == needle) {
                found.push(p.display().to_string());
            }
        } else if fs::read_link(&p)
            .unwrap()
            .as_os_str()
            .as_encoded_bytes()
            .windows(needle.len())
            .any(|w| w == needle)
        {
            found.push(p.display().to_string());
        }
    }
    found
}

/// What a build is given (base and kernel entries) and the error it must give, if any.
type Case<'a> = (
    &'a str,
    Vec<E<'a>>,
    Vec<E<'a>>,
    Option<fn(&ImageError) -> bool>,
);

#[test]
fn links_in_a_base_never_make_fruix_read_the_building_host() {
    let root = temp("links");
    // A "host secret" outside any store: a file and a directory with a telling name.
    let secret = format!("HOST-SECRET-{}", std::process::id());
    let host_file = root.join("host-file");
    fs::write(&host_file, &secret).unwrap();
    let host_dir = root.join("host-etc");
    fs::create_dir_all(host_dir.join(&secret)).unwrap();
    fs::write(host_dir.join(format!("{secret}.conf")), &secret).unwrap();
    let host_file_s = host_file.display().to_string();
    let host_dir_s = host_dir.display().to_string();
    let up = format!("../../../../../../../../..{host_file_s}");

    let zone_to_host = E::Symlink("./usr/share/zoneinfo/UTC", &host_file_s);
    let zone_escapes = E::Symlink("./usr/share/zoneinfo/UTC", &up);
    let loader_to_host = E::Symlink("./boot/loader.efi", &host_file_s);
    let module_to_host = E::Symlink("./boot/kernel/virtio_console.ko", &host_file_s);
    let etc_to_host = E::Symlink("./etc", &host_dir_s);
    let cases: Vec<Case> = vec![
        (
            "zone -> host file",
            vec![zone_to_host, copy(&LOADER)],
            vec![copy(&MODULE)],
            Some(
                |e| matches!(e, ImageError::System(SystemError::MissingTimeZone { zone, .. }) if zone == "UTC"),
            ),
        ),
        (
            "zone -> ../../.. out of the item",
            vec![zone_escapes, copy(&LOADER)],
            vec![copy(&MODULE)],
            Some(
                |e| matches!(e, ImageError::System(SystemError::MissingTimeZone { zone, .. }) if zone == "UTC"),
            ),
        ),
        (
            "loader -> host file",
            vec![copy(&ZONE), loader_to_host],
            vec![copy(&MODULE)],
            Some(|e| {
                matches!(
                    e,
                    ImageError::System(SystemError::Base(BaseError::MissingLoader { problem, .. }))
                        if problem.starts_with("is not a regular file inside the base")
                )
            }),
        ),
        (
            "module -> host file",
            vec![copy(&ZONE), copy(&LOADER)],
            vec![module_to_host],
            Some(
                |e| matches!(e, ImageError::System(SystemError::MissingModule { module, .. }) if module == "virtio_console"),
            ),
        ),
        (
            "etc -> host directory",
            vec![copy(&ZONE), copy(&LOADER), etc_to_host],
            vec![copy(&MODULE)],
            None,
        ),
    ];
    for (k, (what, base, kernel, error)) in cases.into_iter().enumerate() {
        let dist = root.join(format!("dist-{k}"));
        dist_with(&dist, &base, &kernel);
        let store = Store::open(root.join(format!("store-{k}"))).unwrap();
        let mut os = fruix_systems::fruix_freebsd();
        os.base = freebsd::dist_sets("15.0-RELEASE", &dist);
        let result = materialize_bhyve_image(&os, &store);
        match (error, result) {
            (Some(expected), Err(e)) => {
                assert!(expected(&e), "{what}: {e}")
            }
            (None, Ok(_)) => {}
            (_, other) => panic!("{what}: {:?}", other.map(|a| a.image)),
        }
        assert_eq!(store.verify().unwrap(), [], "{what}");
        assert_eq!(
            store_mentions(&store, secret.as_bytes()),
            Vec::<String>::new(),
            "{what}: host data reached the store"
        );
    }

    // The same links pointing inside the base are followed.
    let dist = root.join("dist-inside");
    dist_with(
        &dist,
        &[
            E::File("./usr/share/zoneinfo/Etc/UTC", b"TZif2 real utc", 0o444),
            E::Symlink("./usr/share/zoneinfo/UTC", "Etc/UTC"),
            E::File("./boot/loader.efi.real", b"MZ real loader", 0o555),
            E::Symlink("./boot/loader.efi", "/boot/loader.efi.real"),
        ],
        &[copy(&MODULE)],
    );
    let store = Store::open(root.join("store-inside")).unwrap();
    let mut os = fruix_systems::fruix_freebsd();
    os.base = freebsd::dist_sets("15.0-RELEASE", &dist);
    let closure = fruix_core::system::build_system(&os, &store).unwrap();
    assert_eq!(
        fs::read(store.physical(&closure.config).join("etc/localtime")).unwrap(),
        b"TZif2 real utc"
    );
    let image = materialize_bhyve_image(&os, &store).unwrap();
    let disk = fs::read(&image.disk_image).unwrap();
    assert!(disk.windows(14).any(|w| w == b"MZ real loader"));
    fs::remove_dir_all(root).unwrap();
}

/// Imports a base made of `entries` and expects an error containing `expect`, with the
/// store unchanged.
fn refused(entries: &[E], expect: &str) {
    let root = temp("refused");
    let dist = root.join("dist");
    dist_with(&dist, entries, &[]);
    refused_dist(&root, &dist, expect);
}

fn refused_dist(root: &Path, dist: &Path, expect: &str) {
    let store = Store::open(root.join("store")).unwrap();
    let before = listing(store.dir());
    let err = materialize_base(&freebsd::dist_sets("15.0-RELEASE", dist), &store)
        .expect_err(expect)
        .to_string();
    assert!(err.contains(expect), "expected `{expect}` in: {err}");
    assert_eq!(listing(store.dir()), before, "store changed after: {err}");
    assert_eq!(store.items().unwrap(), Vec::<StorePath>::new());
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn archive_entries_no_base_may_hold_are_refused_by_name() {
    refused(
        &[E::Block("./dev/ada0")],
        "entry `./dev/ada0`: block devices do not belong in a FreeBSD base",
    );
    refused(
        &[E::Fifo("./var/run/log")],
        "entry `./var/run/log`: FIFOs do not belong in a FreeBSD base",
    );
    refused(
        &[E::RawFile(b"./etc/caf\xe9")],
        "entry `./etc/caf\\xe9`: the name is not UTF-8",
    );
    let long = format!("./etc/{}", "n".repeat(256));
    refused(&[E::Long(&long)], "a name is longer than 255 bytes");
    // Deeper than any path FreeBSD can open (PATH_MAX is 1024 bytes).
    let deep = format!("./{}f", "d/".repeat(600));
    refused(
        &[E::Long(&deep)],
        "the path is longer than FreeBSD's 1023-byte limit",
    );
    refused(
        &[
            E::Symlink("./lib", "/"),
            E::File("./lib/libc.so.7", b"x", 0o444),
        ],
        "it would be written through the symlink `lib`",
    );
}

#[test]
fn huge_declared_sizes_and_corrupt_archives_are_refused() {
    // A header that declares a terabyte and carries ten bytes: no huge file, no item.
    refused(
        &[E::Lying("./usr/lib/huge", 1 << 40, b"0123456789")],
        "not a readable xz-compressed tar archive",
    );
    // Not xz at all, and xz around a tar header with a bad checksum.
    for (what, bytes) in [
        ("garbage", vec![0x5au8; 4096]),
        ("bad tar", {
            let mut h = vec![0u8; 1024];
            h[..8].copy_from_slice(b"./x\0\0\0\0\0");
            h[148..156].copy_from_slice(b"0000000\0");
            h
        }),
    ] {
        let root = temp("corrupt");
        let dist = root.join("dist");
        dist_with(&dist, &[], &[]);
        if what == "garbage" {
            fs::write(dist.join("base.txz"), &bytes).unwrap();
        } else {
            xz(&dist.join("base.txz"), &bytes);
        }
        manifest(&dist);
        refused_dist(&root, &dist, "not a readable xz-compressed tar archive");
    }
}

/// The default spec as JSON, changed at `pointer` to `value`.
fn patched(pointer: &str, value: serde_json::Value) -> String {
    let mut doc: serde_json::Value =
        serde_json::from_str(&fruix_systems::fruix_freebsd().to_json()).unwrap();
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    match doc.pointer_mut(parent).unwrap() {
        serde_json::Value::Object(map) => {
            map.insert(key.to_owned(), value);
        }
        serde_json::Value::Array(list) => list[key.parse::<usize>().unwrap()] = value,
        other => panic!("{pointer}: {other}"),
    }
    doc.to_string()
}

#[test]
fn json_specs_of_the_wrong_shape_are_refused_with_their_position() {
    use serde_json::json;
    for (pointer, value, expect) in [
        (
            "/host_name",
            json!(42),
            "invalid type: integer `42`, expected a string",
        ),
        (
            "/users/0/uid",
            json!("zero"),
            "invalid type: string \"zero\"",
        ),
        ("/users/0/uid", json!(-1), "invalid value: integer `-1`"),
        ("/users/0/uid", json!(1u64 << 40), "invalid value: integer"),
        ("/hostname", json!("typo"), "unknown field `hostname`"),
        (
            "/users/0/shell_path",
            json!("/bin/sh"),
            "unknown field `shell_path`",
        ),
        (
            "/image/size",
            json!("12 parsecs"),
            "unknown size unit `parsecs`",
        ),
        (
            "/file_systems/0/kind",
            json!("zfs"),
            "unknown variant `zfs`",
        ),
        (
            "/base/source",
            json!({"kind": "ftp"}),
            "unknown variant `ftp`",
        ),
        (
            "/services",
            json!({}),
            "invalid type: map, expected a sequence",
        ),
    ] {
        let err = OperatingSystem::from_json(&patched(pointer, value))
            .expect_err(pointer)
            .to_string();
        assert!(
            err.starts_with("spec JSON at line ") && err.contains(expect),
            "{pointer}: {err}"
        );
    }
    for (text, expect) in [
        ("", "EOF while parsing"),
        ("{\"host_name\": \"a\"", "EOF while parsing"),
        (
            "42",
            "invalid type: integer `42`, expected struct OperatingSystem",
        ),
        ("{\"host_name\": \"\\ud800\"}", "hex escape"),
    ] {
        let err = OperatingSystem::from_json(text).unwrap_err().to_string();
        assert!(err.contains(expect), "{text:?}: {err}");
    }
}

#[test]
fn json_specs_with_invalid_values_name_the_rule_and_field() {
    use serde_json::json;
    for (pointer, value, rule, field) in [
        (
            "/host_name",
            json!("not_valid"),
            Rule::HostName,
            "host_name",
        ),
        (
            "/users/1/name",
            json!("Eve"),
            Rule::UserName,
            "users[1].name",
        ),
        (
            "/users/1/name",
            json!("root"),
            Rule::DuplicateUserName,
            "users[1].name",
        ),
        ("/users/1/uid", json!(0), Rule::DuplicateUid, "users[1].uid"),
        (
            "/users/1/group",
            json!("nope"),
            Rule::UndeclaredGroup,
            "users[1].group",
        ),
        (
            "/users/1/home",
            json!("home/op"),
            Rule::NotAbsolutePath,
            "users[1].home",
        ),
        (
            "/users/1/ssh_keys",
            json!(["ssh-rsa garbage"]),
            Rule::SshKey,
            "users[1].ssh_keys[0]",
        ),
        (
            "/users/1/password",
            json!("letmein"),
            Rule::ClearTextPassword,
            "users[1].password",
        ),
        (
            "/groups/1/name",
            json!("op erator"),
            Rule::GroupName,
            "groups[1].name",
        ),
        (
            "/groups/1/gid",
            json!(0),
            Rule::DuplicateGid,
            "groups[1].gid",
        ),
        (
            "/services/0/name",
            json!("bad name!"),
            Rule::ServiceName,
            "services[0].name",
        ),
        (
            "/services/0/start",
            json!([]),
            Rule::StartCommand,
            "services[0].start",
        ),
        (
            "/services/0/requires",
            json!(["nowhere"]),
            Rule::UndeclaredRequirement,
            "services[0].requires[0]",
        ),
        (
            "/file_systems/2/mount",
            json!("dev"),
            Rule::MountPoint,
            "file_systems[2].mount",
        ),
        (
            "/file_systems/0/device",
            json!({"gpt_label": "missing"}),
            Rule::UnknownGptLabel,
            "file_systems[0].device",
        ),
        ("/rc_conf/bad key", json!("x"), Rule::SettingKey, "rc_conf"),
        (
            "/rc_conf/hostname",
            json!("x\ny"),
            Rule::SettingValue,
            "rc_conf",
        ),
        (
            "/loader/serial_speed",
            json!(12345),
            Rule::SerialSpeed,
            "loader.serial_speed",
        ),
        (
            "/kernel/config",
            json!("BAD CONFIG"),
            Rule::KernelName,
            "kernel.config",
        ),
        ("/image/size", json!("1MiB"), Rule::ImageSize, "image.size"),
        ("/image/size", json!("0"), Rule::ImageSize, "image.size"),
        (
            "/image/esp_size",
            json!("0"),
            Rule::EspSize,
            "image.esp_size",
        ),
        (
            "/image/root_label",
            json!("efiboot"),
            Rule::DuplicateGptLabel,
            "image",
        ),
        (
            "/time_zone",
            json!("Nowhere/City"),
            Rule::TimeZone,
            "time_zone",
        ),
        ("/locale", json!("no such locale"), Rule::Locale, "locale"),
        (
            "/hosts/0/address",
            json!("999.1.1.1"),
            Rule::HostAddress,
            "hosts[0].address",
        ),
        (
            "/packages/0/name",
            json!("Bad Name!"),
            Rule::PackageName,
            "packages[0].name",
        ),
        (
            "/base/release",
            json!("15.0 RELEASE"),
            Rule::ReleaseLabel,
            "base.release",
        ),
        (
            "/base/arch",
            json!("aarch64"),
            Rule::UnsupportedArch,
            "base.arch",
        ),
    ] {
        let os = OperatingSystem::from_json(&patched(pointer, value.clone()))
            .unwrap_or_else(|e| panic!("{pointer} = {value}: {e}"));
        let found = os.validate().expect_err(pointer).0;
        assert!(
            found
                .iter()
                .any(|v| v.rule == rule && v.path.to_string().starts_with(field)),
            "{pointer} = {value}: wanted {rule:?} at {field}, got {:#?}",
            found
                .iter()
                .map(|v| (v.rule, v.path.to_string()))
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn deep_and_huge_json_documents_give_errors_not_crashes() {
    // Nesting far beyond serde_json's recursion limit, at the top and in fields of every
    // kind: an error with a position (serde_json gives up at its limit or on the type).
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let mut docs = vec![deep(200_000), "{\"a\":".repeat(100_000)];
    for field in ["/host_name", "/users", "/rc_conf", "/image", "/services"] {
        docs.push(patched_raw(field, &deep(200_000)));
        docs.push(patched_raw(field, &"{\"x\":".repeat(100_000)));
    }
    for doc in &docs {
        let err = OperatingSystem::from_json(doc).unwrap_err().to_string();
        assert!(err.starts_with("spec JSON at line 1, column "), "{err}");
    }
    let err = serde_json::from_str::<serde_json::Value>(&deep(200_000)).unwrap_err();
    assert!(
        err.to_string().contains("recursion limit exceeded"),
        "{err}"
    );
    // 64 MiB host name and a million users: parsed, then refused by the rules.
    let huge = "a".repeat(64 << 20);
    let os = OperatingSystem::from_json(&patched("/host_name", huge.into())).unwrap();
    let found = os.validate().unwrap_err().0;
    assert!(found.iter().any(|v| v.rule == Rule::HostName), "{found:?}");
    let users: Vec<serde_json::Value> = (0..1_000_000)
        .map(|i| serde_json::json!({"name": "root", "uid": i, "group": "wheel"}))
        .collect();
    let os = OperatingSystem::from_json(&patched("/users", users.into())).unwrap();
    let found = os.validate().unwrap_err().0;
    assert!(
        found.iter().any(|v| v.rule == Rule::DuplicateUserName),
        "{}",
        found.len()
    );
}

/// The default spec with `raw` JSON text at a top-level `pointer`.
fn patched_raw(pointer: &str, raw: &str) -> String {
    let marker = "\"@@RAW@@\"";
    patched(pointer, serde_json::Value::String("@@RAW@@".into())).replace(marker, raw)
}

#[test]
fn a_loader_larger_than_the_esp_is_refused_before_anything_is_written() {
    let root = temp("big-loader");
    let dist = root.join("dist");
    let loader = vec![0x4du8; 34 << 20];
    dist_with(
        &dist,
        &[copy(&ZONE), E::File("./boot/loader.efi", &loader, 0o555)],
        &[copy(&MODULE)],
    );
    let store = Store::open(root.join("store")).unwrap();
    let mut os = fruix_systems::fruix_freebsd();
    os.base = freebsd::dist_sets("15.0-RELEASE", &dist);
    let err = materialize_bhyve_image(&os, &store)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the boot loader (35651584 bytes) does not fit in the ESP (34603008 bytes)"),
        "{err}"
    );
    assert!(store
        .items()
        .unwrap()
        .iter()
        .all(|i| !i.name().starts_with("fruix-esp") && !i.name().starts_with("fruix-bhyve")));
    assert_eq!(store.verify().unwrap(), []);
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn the_fuzzer_s_fat_crash_is_an_error() {
    // Found by `fruix-core/fuzz` (target fat): a directory entry naming cluster 0 made the
    // FAT library subtract with overflow.
    let bytes = fs::read("tests/fixtures/fuzz/fat-dir-entry-cluster-underflow.bin").unwrap();
    let err = fruix_core::image::esp::read_loader(&bytes).unwrap_err();
    assert!(
        err.to_string().contains("malformed FAT file system"),
        "{err}"
    );
}

/// One default image for the damage tests.
fn default_image(root: &Path) -> Vec<u8> {
    let store = Store::open(root.join("store")).unwrap();
    let image = materialize_bhyve_image(&fruix_systems::fruix_freebsd(), &store).unwrap();
    fs::read(image.disk_image).unwrap()
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Re-seals a GPT header's CRC after editing it, so the damage gets past the checksum.
fn reseal(header: &mut [u8]) {
    header[16..20].fill(0);
    let crc = fruix_core::image::gpt::crc32(&header[..92]);
    header[16..20].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn damaged_images_are_reported_never_a_panic() {
    let root = temp("damaged");
    let original = default_image(&root);
    let file = root.join("damaged.img");
    let check = |what: &str, bytes: &[u8]| {
        fs::write(&file, bytes).unwrap();
        match verify_image(&file) {
            Ok(report) => assert!(!report.is_ok(), "{what}: passed"),
            Err(e) => assert!(e.to_string().contains("cannot read"), "{what}: {e}"),
        }
    };
    // Truncated anywhere, empty, garbage.
    for len in [
        0,
        1,
        511,
        512 * 34,
        1 << 20,
        original.len() / 2,
        original.len() - 512,
    ] {
        check(&format!("truncated to {len}"), &original[..len]);
    }
    check("garbage", &vec![0xa5; 4 << 20]);

    // GPT headers with valid CRCs but absurd fields.
    let esp_first = le64(&original, 1024 + 32) as usize * 512;
    for (what, at, value) in [
        ("entries beyond u64 sectors", 72, u64::MAX / 3),
        (
            "entries at the end of the disk",
            72,
            (original.len() / 512) as u64 - 1,
        ),
        ("the header claiming another LBA", 24, 7),
        ("an alternate header past the end", 32, u64::MAX),
    ] {
        let mut bytes = original.clone();
        bytes[512 + at..512 + at + 8].copy_from_slice(&value.to_le_bytes());
        reseal(&mut bytes[512..1024]);
        check(what, &bytes);
    }
    // A partition entry reaching past the end of the disk (entries re-sealed too).
    let mut bytes = original.clone();
    for (hdr, entries) in [
        (512, 1024),
        (original.len() - 512, original.len() - 33 * 512),
    ] {
        bytes[entries + 40..entries + 48].copy_from_slice(&u64::MAX.to_le_bytes());
        let crc = fruix_core::image::gpt::crc32(&bytes[entries..entries + 128 * 128]);
        bytes[hdr + 88..hdr + 92].copy_from_slice(&crc.to_le_bytes());
        reseal(&mut bytes[hdr..hdr + 512]);
    }
    check("partition past the end", &bytes);

    // The ESP: its boot sector, its FAT geometry, its root directory; and the fuzzer's FAT
    // in its place.
    for (what, at, len) in [
        ("ESP boot sector", esp_first, 512),
        ("ESP sectors per FAT", esp_first + 36, 4),
        ("ESP root directory cluster", esp_first + 44, 4),
    ] {
        let mut bytes = original.clone();
        bytes[at..at + len].fill(0xff);
        check(what, &bytes);
    }
    let fuzzed = fs::read("tests/fixtures/fuzz/fat-dir-entry-cluster-underflow.bin").unwrap();
    let mut bytes = original.clone();
    bytes[esp_first..esp_first + fuzzed.len()].copy_from_slice(&fuzzed);
    check("fuzzed FAT as the ESP", &bytes);

    // The root file system's superblock.
    let ufs_first = le64(&original, 1024 + 128 + 32) as usize * 512;
    for (what, at, len) in [
        ("UFS2 superblock", ufs_first + 65536, 1376),
        ("UFS2 superblock magic", ufs_first + 65536 + 1372, 4),
    ] {
        for fill in [0x00, 0xff, 0x7f] {
            let mut bytes = original.clone();
            bytes[at..at + len].fill(fill);
            check(&format!("{what} filled with {fill:#x}"), &bytes);
        }
    }
    // And the UFS2 checker itself on partitions damaged anywhere in their first 4 MiB
    // (cylinder groups, inodes, directories): whatever it finds, it returns.
    let part = &original[ufs_first..];
    for flip in (65536..part.len().min(4 << 20)).step_by(4099) {
        let mut bytes = part[..(4 << 20).min(part.len())].to_vec();
        bytes[flip] ^= 0x5a;
        let _ = fruix_core::image::ufs::check(std::io::Cursor::new(&bytes));
    }
    fs::remove_dir_all(root).unwrap();
}
