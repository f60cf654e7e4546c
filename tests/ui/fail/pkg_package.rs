use fruix_macros::operating_system;

fn main() {
    let _os = operating_system! {
        host_name: "fruix-test",
        base: sample_base("15.0-RELEASE"),
        package_repositories: [
            { name: "FreeBSD", url: "https://pkg.FreeBSD.org/${ABI}/quarterly" },
            { name: "local", url: "/srv/pkg" },
        ],
        packages: [
            pkg("sudo", version = "1.9.16p2-1"),
            pkg("nginx", repository = "locla"),
            pkg("sudo"),
            pkg("hello world"),
            pkg_file("/srv/pkg/All/hello-2.12.tar.gz", sha256 = "ABCDEF"),
            pkg_file("pkgs/tool-1.0.pkg"),
            pkg_file("/srv/pkg/All/tool-1.0.pkg", sha256 = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"),
            pkg_file("/srv/pkg/All/tool-1.0.pkg"),
        ],
    };
}
