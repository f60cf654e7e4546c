//! Service backends: the rc.d backend's image built and checked (its scripts pass `sh -n`
//! and order as the requirement graph does under rcorder(8)'s rules), the closure
//! completeness check refusing a system that lacks a program before any image item is
//! written, and `verify` finding a program missing from a tampered image. (The Shepherd
//! backend's image is the default system's, checked in `tests/image.rs`.)

use fruix_core::image::programs::MissingPrograms;
use fruix_core::image::ufs::FileType;
use fruix_core::image::verify::verify_image;
use fruix_core::image::{materialize_bhyve_image, ImageError};
use fruix_core::store::{Store, StorePath};
use fruix_core::system::rcorder::{self, RcHeader};
use fruix_core::system::{rcd, SystemError};
use fruix_core::{InitMode, OperatingSystem, Service};
use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

mod common;

fn temp(tag: &str) -> PathBuf {
    common::scratch(&format!("services-{tag}"))
}

/// The rc.d backend's image, built once for this file.
fn built() -> &'static common::BuiltImage {
    static BUILT: OnceLock<common::BuiltImage> = OnceLock::new();
    BUILT.get_or_init(|| common::build_image("services-rc", &fruix_systems::fruix_freebsd_rc()))
}

/// FreeBSD's milestones as `rcorder` sees them, headers as in `libexec/rc/rc.d` (LOGIN,
/// DAEMON, sshd verbatim; NETWORKING and SERVERS cut down to the file systems they wait
/// for), passed first as rc passes `/etc/rc.d/*`.
fn base_scripts() -> Vec<(String, RcHeader)> {
    let header = |provide: &str, require: &str| RcHeader {
        provide: provide.split_whitespace().map(str::to_owned).collect(),
        require: require.split_whitespace().map(str::to_owned).collect(),
        ..RcHeader::default()
    };
    vec![
        (
            "/etc/rc.d/DAEMON".into(),
            header("DAEMON", "NETWORKING SERVERS"),
        ),
        ("/etc/rc.d/FILESYSTEMS".into(), header("FILESYSTEMS", "")),
        ("/etc/rc.d/LOGIN".into(), header("LOGIN", "DAEMON")),
        (
            "/etc/rc.d/NETWORKING".into(),
            header("NETWORKING NETWORK", "FILESYSTEMS"),
        ),
        ("/etc/rc.d/SERVERS".into(), header("SERVERS", "FILESYSTEMS")),
        ("/etc/rc.d/sshd".into(), header("sshd", "LOGIN FILESYSTEMS")),
    ]
}

/// Orders the base milestones and `local` scripts (`/usr/local/etc/rc.d/<file>`, text) as
/// rcorder does and checks the result against the declared requirement graph: rcorder has
/// nothing to warn about, activation runs after the file systems and before LOGIN and sshd,
/// every service after LOGIN, activation and each of its requirements, and each service's
/// sequence number is LOGIN's plus its depth in the graph.
fn check_order(os: &OperatingSystem, local: &BTreeMap<String, String>) {
    let mut scripts = base_scripts();
    for (file, text) in local {
        scripts.push((format!("/usr/local/etc/rc.d/{file}"), rcorder::parse(text)));
    }
    let order = rcorder::order(&scripts);
    assert_eq!(order.problems, Vec::<String>::new());
    assert_eq!(order.order.len(), scripts.len(), "every script runs once");
    let position = |provision: &str| -> usize {
        let file = scripts
            .iter()
            .position(|(_, h)| h.provide.iter().any(|p| p == provision))
            .unwrap_or_else(|| panic!("nothing provides {provision}"));
        order.order.iter().position(|&f| f == file).unwrap()
    };
    let sequence = |provision: &str| -> u32 {
        let file = scripts
            .iter()
            .position(|(_, h)| h.provide.iter().any(|p| p == provision))
            .unwrap();
        order.sequence[file]
    };
    assert!(position("FILESYSTEMS") < position("fruix_activate"));
    assert!(position("fruix_activate") < position("LOGIN"));
    assert!(position("fruix_activate") < position("sshd"));
    fn depth(os: &OperatingSystem, name: &str) -> u32 {
        let service = os.services.iter().find(|s| s.name == name).unwrap();
        1 + service
            .requires
            .iter()
            .map(|r| depth(os, r))
            .max()
            .unwrap_or(0)
    }
    for service in &os.services {
        let me = position(&service.rc_name());
        assert!(position("LOGIN") < me, "{}", service.name);
        assert!(position("fruix_activate") < me, "{}", service.name);
        for required in &service.requires {
            assert!(
                position(&fruix_core::rc_name(required)) < me,
                "{} runs before its requirement {required}",
                service.name
            );
        }
        assert_eq!(
            sequence(&service.rc_name()),
            sequence("LOGIN") + depth(os, &service.name),
            "{}",
            service.name
        );
    }
}

fn sh_n(what: &str, text: &str) {
    let out = Command::new("sh")
        .arg("-n")
        .arg("-c")
        .arg(text)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sh -n {what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn generated_scripts_order_as_the_requirement_graph() {
    // A diamond and a chain, names rc.d must rewrite, one-shots and daemons mixed.
    let mut db = Service::new("db.main", ["/usr/local/bin/db"]);
    db.user = Some("nobody".into());
    let os = OperatingSystem {
        host_name: "order".into(),
        init_mode: InitMode::FreebsdInitRcd,
        services: vec![
            Service::new("web-front", ["/usr/local/bin/front"]).requires(["api", "cache"]),
            Service::new("api", ["/usr/local/bin/api"]).requires(["db.main"]),
            Service::new("cache", ["/usr/local/bin/cache"]).requires(["db.main"]),
            db,
            Service::new("migrate", ["/usr/local/bin/migrate"])
                .requires(["db.main"])
                .one_shot(),
            Service::new("ready", ["/usr/bin/touch", "/var/run/ready"])
                .requires(["web-front", "migrate"])
                .one_shot(),
            Service::new("lonely", ["/usr/local/bin/lonely"]),
        ],
        ..OperatingSystem::default()
    };
    assert_eq!(os.validate(), Ok(()));
    let mut local = BTreeMap::new();
    local.insert("fruix-activate".to_owned(), activate_rc_script());
    for service in &os.services {
        let text = rcd::script(service);
        sh_n(&service.name, &text);
        local.insert(service.name.clone(), text);
    }
    check_order(&os, &local);
}

/// Fruix's activation rc.d script, as every system has it.
fn activate_rc_script() -> String {
    let b = built();
    let system: StorePath = b.artifact.metadata.closure_path.parse().unwrap();
    let closure = fruix_core::system::load(&b.store, &system).unwrap();
    fs::read_to_string(
        b.store
            .physical(&closure.config)
            .join("rc.d/fruix-activate"),
    )
    .unwrap()
}

#[test]
fn the_rc_d_image_has_a_script_per_service_that_sh_and_rcorder_accept() {
    let b = built();
    let md = &b.artifact.metadata;
    assert_eq!(md.init_mode, "freebsd-init+rc.d");
    assert_eq!(md.service_backend, "rc.d");
    assert_eq!(md.shepherd_package, "");
    assert_eq!(md.rc_script_target, "");
    let report = verify_image(&b.artifact.disk_image).unwrap();
    assert!(report.is_ok(), "{:#?}", report.problems);
    assert!(
        report
            .passed
            .iter()
            .any(|p| p.contains("programs the system runs are executable files in the image")),
        "{:#?}",
        report.passed
    );

    let os = fruix_systems::fruix_freebsd_rc();
    let system: StorePath = md.closure_path.parse().unwrap();
    let closure = fruix_core::system::load(&b.store, &system).unwrap();
    let config = b.store.physical(&closure.config);
    let mut local = BTreeMap::new();
    for entry in fs::read_dir(config.join("rc.d")).unwrap() {
        let path = entry.unwrap().path();
        let text = fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        sh_n(&name, &text);
        local.insert(name, text);
    }
    let names: Vec<&str> = local.keys().map(String::as_str).collect();
    assert_eq!(names, ["fruix-activate", "fruix-ready", "heartbeat"]);
    check_order(&os, &local);
    sh_n(
        "activate",
        &fs::read_to_string(config.join("activate")).unwrap(),
    );
    assert!(!config.join("shepherd").exists() && !config.join("boot/shepherd-pid1").exists());

    let rc_conf = fs::read_to_string(config.join("etc/rc.conf")).unwrap();
    for line in [
        "fruix_activate_enable=\"YES\"",
        "heartbeat_enable=\"YES\"",
        "fruix_ready_enable=\"YES\"",
        "sshd_enable=\"YES\"",
    ] {
        assert!(rc_conf.lines().any(|l| l == line), "{line} in\n{rc_conf}");
    }
    assert!(!rc_conf.contains("shepherd"), "{rc_conf}");
    let heartbeat = &local["heartbeat"];
    for want in [
        "command=\"/usr/sbin/daemon\"",
        "command_args='-f -P /var/run/fruix-heartbeat.pid -r -R 5 -u nobody -o /var/log/heartbeat.log -t heartbeat /usr/bin/env -i PATH=/bin:/usr/bin /usr/local/bin/fruix-heartbeat 60'",
        "\tcd /var/empty",
    ] {
        assert!(heartbeat.lines().any(|l| l == want), "{want} in\n{heartbeat}");
    }

    // In the image's root file system, the scripts are where rc looks for them.
    // The root file system is the root partition's range of the image item's disk.img.
    let root_item: StorePath = md.root_store_path.parse().unwrap();
    assert_eq!(root_item, b.artifact.image);
    let mut ufs = common::image_root(&b.store, &b.artifact);
    for (name, text) in &local {
        let path = format!("/usr/local/etc/rc.d/{name}");
        let (ino, _) = fruix_core::links::resolve(&mut ufs, path.as_bytes()).unwrap();
        let st = ufs.stat(ino).unwrap();
        assert_eq!(
            (st.ftype, st.perm & 0o111 != 0),
            (FileType::File, true),
            "{name}"
        );
        let mut bytes = Vec::new();
        ufs.read_file(ino, &mut bytes).unwrap();
        assert_eq!(&String::from_utf8(bytes).unwrap(), text, "{name}");
    }
}

/// The image items of a store: what must not exist after a refused build.
fn image_items(store: &Store) -> Vec<String> {
    common::item_names(store)
        .into_iter()
        .filter(|n| {
            ["fruix-esp", "fruix-root", "fruix-bhyve"]
                .iter()
                .any(|p| n.starts_with(p))
        })
        .collect()
}

#[test]
fn a_system_missing_a_program_is_refused_before_any_image_item() {
    let dir = temp("missing");
    let store = Store::open(dir.join("store")).unwrap();

    let mut os = fruix_systems::fruix_freebsd_rc();
    os.services[0].start[0] = "/usr/local/bin/not-installed".into();
    os.services[1].stop = vec!["/usr/local/sbin/also-missing".into()];
    os.users[1].shell = Some("/usr/local/bin/zsh".into());
    os.kernel.modules.push("vmm".into());
    let err = materialize_bhyve_image(&os, &store).unwrap_err();
    let ImageError::MissingPrograms(MissingPrograms(missing)) = &err else {
        panic!("wanted missing programs, got {err}");
    };
    let found: Vec<(&str, &str, Vec<&str>)> = missing
        .iter()
        .map(|m| {
            let by = m.needed_by.iter().map(String::as_str).collect();
            (m.path.as_str(), m.why.as_str(), by)
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                "/usr/local/bin/not-installed",
                "`not-installed` not found",
                vec!["service `heartbeat` (start)"]
            ),
            (
                "/usr/local/sbin/also-missing",
                "`sbin` not found",
                vec!["service `fruix-ready` (stop)"]
            ),
            (
                "/usr/local/bin/zsh",
                "`zsh` not found",
                vec!["user `operator` (login shell)"]
            ),
        ],
        "{err}"
    );
    assert!(
        err.to_string().starts_with(
            "3 program(s) the system runs are not executable files in its root file system:\n  - /usr/local/bin/not-installed (`not-installed` not found), needed by service `heartbeat` (start)"
        ),
        "{err}"
    );
    assert_eq!(image_items(&store), Vec::<String>::new());

    // A module the kernel has, a program that is there but not executable.
    let mut os = fruix_systems::fruix_freebsd_rc();
    os.services[0].start = vec!["/etc/rc.subr".into()];
    let err = materialize_bhyve_image(&os, &store)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "/etc/rc.subr (not executable (mode 0644)), needed by service `heartbeat` (start)"
        ),
        "{err}"
    );

    // A Shepherd mode without a Shepherd package.
    let mut os = fruix_systems::fruix_freebsd();
    os.packages.retain(|p| p.name != "fruix-sample-shepherd");
    let err = materialize_bhyve_image(&os, &store)
        .unwrap_err()
        .to_string();
    for want in [
        "/usr/local/bin/shepherd (`bin` not found), needed by init mode `freebsd-init+rc.d-shepherd` (GNU Shepherd)",
        "/usr/local/bin/herd (`bin` not found), needed by init mode `freebsd-init+rc.d-shepherd` (GNU Shepherd)",
    ] {
        assert!(err.contains(want), "{want} in {err}");
    }
    assert_eq!(image_items(&store), Vec::<String>::new());
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_service_named_like_a_base_rc_d_script_is_refused() {
    let dir = temp("shadow");
    let store = Store::open(dir.join("store")).unwrap();
    let mut os = fruix_systems::fruix_freebsd();
    os.init_mode = InitMode::FreebsdInitRcd;
    let err = fruix_core::system::build_system(&os, &store).unwrap_err();
    assert!(
        matches!(&err, SystemError::ShadowsBaseScript { service, script, .. } if service == "sshd" && script == "sshd"),
        "{err}"
    );
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn verify_finds_a_program_missing_from_a_tampered_image() {
    let b = built();
    let mut bytes = fs::read(&b.artifact.disk_image).unwrap();
    // The directory entry of the heartbeat program in its package item: a regular file
    // (d_type 8) with a 15-byte name. Renaming it takes the program away.
    let entry: Vec<u8> = [&[8u8, 15][..], b"fruix-heartbeat"].concat();
    let at: Vec<usize> = bytes
        .windows(entry.len())
        .enumerate()
        .filter(|(_, w)| *w == entry.as_slice())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(at.len(), 1, "one directory entry names the program");
    bytes[at[0] + entry.len() - 1] = b'T';
    let copy = b.dir.join("tampered.img");
    fs::write(&copy, &bytes).unwrap();
    let report = verify_image(&copy).unwrap();
    assert!(
        report.problems.iter().any(|p| p
            == "missing program: /usr/local/bin/fruix-heartbeat (`fruix-heartbeat` not found), needed by service `heartbeat` (start)"),
        "{:#?}",
        report.problems
    );
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("fruix-heartbeat-1.0 in the image hashes to")),
        "the store item's hash tells the tampering too: {:#?}",
        report.problems
    );
}
