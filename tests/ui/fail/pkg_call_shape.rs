use fruix_macros::operating_system;

fn main() {
    let _os = operating_system! {
        host_name: "fruix-test",
        base: sample_base("15.0-RELEASE"),
        package_repositories: [
            { name: "FreeBSD", url: "https://pkg.FreeBSD.org/${ABI}/quarterly", signature: gpg("/k") },
            { name: "local", url: "/srv/pkg", signature: pubkey("/a.pub", "/b.pub") },
            { name: "other", url: 42, signature: [none] },
            { url: "/srv/x" },
        ],
        packages: [
            pkg(),
            pkg("sudo", versoin = "1.0"),
            pkg("curl", repository = "FreeBSD", repository = "local"),
            pkg(version = "1.0", "git"),
            pkg_file("/x.pkg", "/y.pkg"),
            pkg_file(42),
        ],
    };
}
