use fruix_macros::operating_system;

fn main() {
    let os = operating_system! {
        host_name: "minimal",
        base: sample_base("14.3-RELEASE"),
    };
    // Everything else follows upstream Fruix's defaults.
    let defaults = fruix_core::OperatingSystem {
        host_name: "minimal".into(),
        base: fruix_core::freebsd::sample_base("14.3-RELEASE"),
        ..Default::default()
    };
    assert_eq!(os, defaults);
    assert_eq!(os.users.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(), ["root", "operator"]);
    assert_eq!(os.loader.serial_speed, 115_200);
    assert_eq!(os.image.root_label, "fruix-root");
    assert_eq!(os.validate(), Ok(()));

    // The service backend and where Shepherd is, written literally.
    let rc = operating_system! {
        host_name: "rc",
        base: sample_base("15.0-RELEASE"),
        init_mode: "freebsd-init+rc.d",
        shepherd: { program: "/opt/shepherd/bin/shepherd" },
        services: [{ name: "web", start: ["/usr/local/bin/web"], directory: "/var/www" }],
    };
    assert_eq!(rc.init_mode, fruix_core::InitMode::FreebsdInitRcd);
    assert_eq!(rc.shepherd.program, "/opt/shepherd/bin/shepherd");
    assert_eq!(rc.shepherd.herd, "/usr/local/bin/herd");
    assert_eq!(rc.services[0].directory.as_deref(), Some("/var/www"));
    assert_eq!(rc.validate(), Ok(()));
}
