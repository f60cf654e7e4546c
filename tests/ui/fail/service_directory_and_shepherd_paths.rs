use fruix_macros::operating_system;

fn main() {
    let _os = operating_system! {
        host_name: "fruix-test",
        base: sample_base("15.0-RELEASE"),
        services: [
            { name: "web", start: ["/usr/local/bin/web"], directory: "var/www" },
        ],
        shepherd: { program: "shepherd", herd: "/usr/local/bin/herd", socket: "/x" },
    };
}
