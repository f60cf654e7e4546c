use super::*;
use crate::pkg::SumKind;

const HELLO: &str = r#"{"name":"hello","origin":"misc/hello","version":"2.12_1","comment":"Hi","maintainer":"a@b","www":"https://x","abi":"FreeBSD:15:amd64","arch":"freebsd:15:x86:64","prefix":"/usr/local","flatsize":10,"desc":"Says 100%25 hello %c3%a9.","deps":{"gettext-runtime":{"origin":"devel/gettext-runtime","version":"0.23"}},"users":["www"],"annotations":{"FreeBSD_version":"1500000"},"files":{"/usr/local/bin/hello":{"sum":"1$e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","uname":"root","gname":"wheel","perm":"4111","fflags":0},"/usr/local/share/a%25b":"-","/usr/local/lib/l":{"sum":"-","uname":"root","gname":"wheel","perm":"0755","symlink_target":"x"}},"directories":{"/usr/local/share/hello":{"uname":"root","gname":"wheel","perm":"0755","fflags":0},"/usr/local/old":"y"},"scripts":{"post-install":"echo 100%25","pre-upgrade":"x"},"lua_scripts":{"post-install":["print(1)"]}}"#;

#[test]
fn pkg_create_json_parses_with_decoding() {
    let m = Manifest::from_json(HELLO.as_bytes()).unwrap();
    assert_eq!(m.name, "hello");
    assert_eq!(m.desc, "Says 100% hello é.");
    assert_eq!(m.deps["gettext-runtime"].origin, "devel/gettext-runtime");
    let hello = &m.files["/usr/local/bin/hello"];
    assert_eq!(hello.perm, Some(0o4111));
    assert_eq!(hello.sum.as_ref().unwrap().kind, SumKind::Sha256);
    assert!(m.files.contains_key("/usr/local/share/a%b"));
    assert_eq!(m.files["/usr/local/share/a%b"].sum, None);
    assert_eq!(
        m.files["/usr/local/lib/l"].symlink_target.as_deref(),
        Some("x")
    );
    assert_eq!(m.directories["/usr/local/share/hello"].perm, Some(0o755));
    assert_eq!(m.directories["/usr/local/old"], DirEntry::default());
    assert_eq!(m.scripts[&ScriptPhase::PostInstall], "echo 100%");
    assert_eq!(m.scripts.len(), 1, "upgrade scripts are ignored");
    assert_eq!(m.lua_scripts[&ScriptPhase::PostInstall], vec!["print(1)"]);
    assert_eq!(m.users, vec!["www"]);
}

#[test]
fn json_round_trips() {
    let m = Manifest::from_json(HELLO.as_bytes()).unwrap();
    let back = Manifest::from_json(m.to_json(true).as_bytes()).unwrap();
    assert_eq!(back, m);
    let compact = Manifest::from_json(m.to_json(false).as_bytes()).unwrap();
    assert_eq!(compact, m.compact());
}

#[test]
fn malformed_manifests_are_refused_with_the_reason() {
    let cases: Vec<(String, &str)> = vec![
        (
            HELLO.replace(r#""www":"https://x","#, ""),
            "`www` is missing",
        ),
        (
            HELLO.replace(r#""name":"hello","#, r#""name":"hello","name":"evil","#),
            "`name` appears twice",
        ),
        (
            HELLO.replace(r#""post-install":"echo"#, r#""post-instal":"echo"#),
            "unknown script `post-instal`",
        ),
        (
            HELLO.replace(r#""perm":"4111""#, r#""perm":"9""#),
            "not an octal mode",
        ),
        (
            HELLO.replace(r#""perm":"4111""#, r#""perm":"77777""#),
            "not an octal mode",
        ),
        (
            HELLO.replace(r#""flatsize":10"#, r#""flatsize":-1"#),
            "flatsize",
        ),
        (
            HELLO.replace(r#""deps":{"#, r#""deps":7,"x":{"#),
            "`deps` is not an object",
        ),
        (HELLO.replace("2.12_1", "2.12 1"), "version"),
        (HELLO.replace("\"/usr/local\"", "\"usr\""), "not absolute"),
        (HELLO.replace("%a9.\"", "%a9.%2\""), "ends inside"),
        ("name: hello".to_owned(), "only the JSON form"),
        ("{\"name\": ".to_owned(), "EOF"),
    ];
    for (text, why) in cases {
        let e = Manifest::from_json(text.as_bytes())
            .map(|m| m.desc)
            .unwrap_err();
        assert!(e.contains(why), "{e} / {why}");
    }
}

#[test]
fn url_coding_matches_pkg() {
    assert_eq!(url_encode("a%b é"), "a%25b %c3%a9");
    assert_eq!(url_decode("a%25b %c3%a9").unwrap(), "a%b é");
    assert_eq!(url_decode("%zz").unwrap(), "%zz");
    assert_eq!(url_decode("%2e%2e").unwrap(), "..");
    assert!(url_decode("%2").is_err());
    assert!(url_decode("%ff").is_err());
}
