use fruix_macros::operating_system;

fn main() {
    // In the rc.d mode each service is an rc.d script named by a shell identifier.
    let _os = operating_system! {
        host_name: "fruix-test",
        base: sample_base("15.0-RELEASE"),
        init_mode: "freebsd-init+rc.d",
        services: [
            { name: "web-app", start: ["/usr/local/bin/web"] },
            { name: "web.app", start: ["/usr/local/bin/web"] },
            { name: "fruix-activate", start: ["/usr/bin/true"], one_shot: true },
        ],
    };
    // The same services are fine under Shepherd.
    let _shepherd = operating_system! {
        host_name: "fruix-test",
        base: sample_base("15.0-RELEASE"),
        services: [
            { name: "web-app", start: ["/usr/local/bin/web"] },
            { name: "web.app", start: ["/usr/local/bin/web"] },
        ],
    };
}
