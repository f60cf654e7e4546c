//! A base from pkgbase packages: literal, and with the package list computed.
use fruix_core::{BaseSource, PKGBASE_DEFAULT_PACKAGES};
use fruix_macros::operating_system;

fn main() {
    let os = operating_system! {
        host_name: "pkgbase",
        base: { release: "15.0-RELEASE", source: pkgbase("FreeBSD-base") },
        package_repositories: [
            { name: "FreeBSD-base", url: "https://pkg.FreeBSD.org/${ABI}/base_release_0",
              signature: fingerprints("/usr/share/keys/pkgbase-15") },
        ],
    };
    assert_eq!(os.base.source, BaseSource::pkgbase("FreeBSD-base"));
    assert!(os.validate().is_ok());

    let extra = vec!["FreeBSD-ssh", "FreeBSD-caroot"];
    let os = operating_system! {
        host_name: "pkgbase",
        base: {
            release: "15.0-RELEASE",
            source: pkgbase("FreeBSD-base", packages = PKGBASE_DEFAULT_PACKAGES.iter().chain(&extra).copied()),
        },
        package_repositories: [{ name: "FreeBSD-base", url: "/srv/pkgbase" }],
    };
    let BaseSource::Pkgbase { packages, .. } = &os.base.source else {
        panic!("not a pkgbase base: {:?}", os.base.source);
    };
    assert_eq!(packages.len(), 5);
    assert!(os.validate().is_ok());
}
