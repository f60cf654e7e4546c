use super::*;

#[test]
fn urls_and_repopaths_are_checked() {
    let abi = "FreeBSD:15:amd64";
    assert_eq!(
        RepoLocation::parse(
            "FreeBSD",
            "pkg+https://pkg.FreeBSD.org/${ABI}/quarterly",
            abi
        )
        .unwrap(),
        RepoLocation::Http("https://pkg.FreeBSD.org/FreeBSD:15:amd64/quarterly".into())
    );
    let err = RepoLocation::parse("r", "https://x/${ARCH}/latest", abi).unwrap_err();
    assert_eq!(
        err.to_string(),
        "repository \"r\": URL \"https://x/${ARCH}/latest\": unknown variable ${ARCH} (only ${ABI} is replaced)"
    );
    for bad in [
        "ftp://x/y",
        "relative/dir",
        "https:///nohost",
        "https://x/?q=1",
    ] {
        assert!(RepoLocation::parse("r", bad, abi).is_err(), "{bad}");
    }
    let repo = RepoLocation::Http("https://h/base".into());
    assert_eq!(
        repo.join("r", "All/c++ lib-1.0.pkg").unwrap(),
        Source::Http("https://h/base/All/c++%20lib-1.0.pkg".into())
    );
    for bad in [
        "../etc/passwd",
        "All/../../x.pkg",
        "/abs.pkg",
        "%2e%2e/x",
        "a\\b",
        "",
        ".",
        "x?y",
        "All/x\n.pkg",
    ] {
        let err = repo.join("r", bad).unwrap_err();
        assert!(
            matches!(err, FetchError::BadRepopath { .. }),
            "{bad}: {err}"
        );
    }
    assert_eq!(
        repo.join("r", "All/./x.pkg").unwrap(),
        Source::Http("https://h/base/All/x.pkg".into())
    );
    assert_eq!(
        repo.join("r", "All/./x.pkg").unwrap(),
        Source::Http("https://h/base/All/x.pkg".into())
    );
    let local = RepoLocation::Local("/srv/repo".into());
    assert!(local.join("r", "../x.pkg").is_err());
    assert_eq!(
        local.join("r", "All/x.pkg").unwrap(),
        Source::Local("/srv/repo/All/x.pkg".into())
    );
}
