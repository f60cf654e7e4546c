use fruix_macros::operating_system;

fn main() {
    let _os = operating_system! {
        host_name: "fruix-test",
        base: sample_base("15.0-RELEASE"),
        packages: [
            { name: "motd", version: "1", files: { "etc/motd.extra": "hi" } },
            pkg("sudo"),
            pkg("nginx"),
            // A package file needs a repository only for its dependencies.
            pkg_file("/srv/pkg/All/tool-1.0.pkg"),
        ],
    };
}
