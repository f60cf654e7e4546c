//! Values computed by Rust code: the macro leaves them to run-time validation, which
//! applies the same rules.
use fruix_core::{FsKind, Rule, Service, User};
use fruix_macros::operating_system;

fn web_services(n: usize) -> Vec<Service> {
    (0..n)
        .map(|i| Service::new(&format!("web{i}"), ["/usr/local/bin/web"]))
        .collect()
}

fn extra_user(uid: u32) -> User {
    User { name: "alice".into(), uid, group: "wheel".into(), ..Default::default() }
}

fn main() {
    let host = String::from("computed");
    let root_kind = FsKind::Ufs;
    let speed = 115_200u32;
    let os = operating_system! {
        host_name: host.clone(),
        base: fruix_core::freebsd::sample_base("15.0-RELEASE"),
        loader: { serial_speed: speed, autoboot_delay: -1 },
        users: [
            { name: "root", uid: 0, group: "wheel" },
            extra_user(1001),
            // Computed at run time: the duplicate uid is found by validate(), not the compiler.
            extra_user(0),
        ],
        groups: fruix_core::Group::defaults(),
        file_systems: [
            { mount: "/", device: gpt_label("fruix-root"), kind: (root_kind) },
            { mount: "/dev", kind: devfs, pass: Some(0) },
        ],
        services: [
            ..web_services(3),
            { name: "proxy", start: ["/usr/local/bin/proxy"], requires: ["web0", "web2"] },
        ],
        rc_conf: [("sshd_enable", "YES")],
        sysctl: { "kern.maxfiles": format!("{}", 1 << 16) },
        image: { size: auto, swap: { size: "1GiB" } },
        swap: [{ device: gpt_label("swapfs") }],
    };
    assert_eq!(os.host_name, "computed");
    assert_eq!(os.services.len(), 4);
    assert_eq!(os.services[3].requires, ["web0", "web2"]);
    assert_eq!(os.loader.autoboot_delay, -1);
    assert_eq!(os.sysctl["kern.maxfiles"], "65536");
    assert_eq!(os.image.swap.as_ref().map(|s| s.label.as_str()), Some("swapfs"));
    let problems = os.validate().expect_err("uid 0 is used twice");
    let rules: Vec<_> = problems.0.iter().map(|v| (v.rule, v.path.to_string())).collect();
    assert_eq!(rules, [(Rule::DuplicateUserName, "users[2].name".to_string()), (Rule::DuplicateUid, "users[2].uid".to_string())]);
}
