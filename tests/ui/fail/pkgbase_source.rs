use fruix_macros::operating_system;

fn main() {
    let _os = operating_system! {
        host_name: "fruix-test",
        base: {
            release: "15.0-RELEASE",
            source: pkgbase("FreeBSD-bsae", packages = ["FreeBSD-runtime", "runtime", "FreeBSD-runtime"]),
        },
        package_repositories: [
            { name: "FreeBSD-base", url: "https://pkg.FreeBSD.org/${ABI}/base_release_0",
              signature: fingerprints("/usr/share/keys/pkgbase-15") },
        ],
    };
    let _none = operating_system! {
        host_name: "fruix-test",
        base: { release: "15.0-RELEASE", source: pkgbase("FreeBSD-base") },
    };
}
