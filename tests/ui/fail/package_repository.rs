use fruix_macros::operating_system;

fn main() {
    let _os = operating_system! {
        host_name: "fruix-test",
        base: sample_base("15.0-RELEASE"),
        package_repositories: [
            { name: "FreeBSD", url: "pkg+https://pkg.FreeBSD.org/${ABI}/quarterly" },
            { name: "FreeBSD", url: "https://pkg.FreeBSD.org/${ABI}/base_release_${VERSION_MINOR}" },
            { name: "my repo", url: "srv/pkg", abi: "FreeBSD:14:amd64" },
            { name: "local", url: "file://srv/pkg", abi: "freebsd:15:amd64" },
            { name: "keys", url: "/srv/pkg/$ABI", signature: fingerprints("keys/pkg") },
            { name: "arm", url: "/srv/arm", abi: "FreeBSD:15:aarch64", signature: pubkey("") },
        ],
    };
}
