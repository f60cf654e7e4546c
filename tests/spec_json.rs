//! Specs built in code survive a JSON round trip unchanged and validate the same way.

use fruix_core::{ByteSize, FsKind, ImageSize, OperatingSystem, Rule, Service, User};

fn codes(os: &OperatingSystem) -> Vec<(Rule, String)> {
    match os.validate() {
        Ok(()) => Vec::new(),
        Err(found) => found
            .0
            .iter()
            .map(|v| (v.rule, v.path.to_string()))
            .collect(),
    }
}

fn round_trip(os: &OperatingSystem) -> OperatingSystem {
    let json = os.to_json();
    OperatingSystem::from_json(&json).unwrap_or_else(|e| panic!("{e}\n{json}"))
}

#[test]
fn default_system_round_trips_and_stays_valid() {
    let os = fruix_systems::fruix_freebsd();
    let back = round_trip(&os);
    assert_eq!(back, os);
    assert_eq!(back.to_json(), os.to_json());
    assert_eq!(codes(&back), []);
}

#[test]
fn broken_spec_built_in_code_round_trips_with_the_same_violations() {
    let mut os = fruix_systems::fruix_freebsd();
    os.host_name = "not_valid".into();
    os.users.push(User {
        name: "Eve".into(),
        uid: 1001,
        group: "nobody-here".into(),
        password: "letmein".into(),
        ..User::default()
    });
    os.services
        .push(Service::new("loop", ["bin/loop"]).requires(["loop", "missing"]));
    os.file_systems[2].pass = Some(1);
    os.file_systems[2].kind = FsKind::Procfs;
    os.rc_conf.insert("bad key".into(), "x".into());
    os.rc_conf.insert("hostname".into(), "x\ny".into());
    os.image.size = ImageSize::Fixed(ByteSize(1000));
    os.image.esp_size = ByteSize::mib(20);
    os.time_zone = "Nowhere/City".into();

    let before = codes(&os);
    let back = round_trip(&os);
    assert_eq!(back, os);
    assert_eq!(codes(&back), before);

    let rules: Vec<Rule> = before.iter().map(|(rule, _)| *rule).collect();
    for expected in [
        Rule::HostName,
        Rule::UserName,
        Rule::DuplicateUid,
        Rule::UndeclaredGroup,
        Rule::ClearTextPassword,
        Rule::StartCommand,
        Rule::UndeclaredRequirement,
        Rule::RequirementCycle,
        Rule::PseudoFsckPass,
        Rule::SettingKey,
        Rule::SettingValue,
        Rule::ImageSize,
        Rule::EspSize,
        Rule::TimeZone,
    ] {
        assert!(
            rules.contains(&expected),
            "{expected:?} missing from {before:#?}"
        );
    }
}

#[test]
fn json_written_by_hand_gets_defaults_and_the_same_rules() {
    let os = OperatingSystem::from_json(
        r#"{
            "host_name": "from-json",
            "base": { "release": "15.0-RELEASE", "arch": "amd64", "source": { "kind": "sample" } },
            "image": { "size": "320MiB", "esp_size": 34603008 },
            "users": [ { "name": "root", "uid": 0, "group": "wheel" },
                       { "name": "op", "uid": 0, "group": "wheel" } ]
        }"#,
    )
    .expect("valid JSON spec");
    assert_eq!(os.image.esp_size, ByteSize::mib(33));
    assert_eq!(os.loader.serial_speed, 115_200);
    assert_eq!(
        codes(&os),
        [(Rule::DuplicateUid, "users[1].uid".to_string())]
    );
}

#[test]
fn a_base_loader_reads_from_json_and_is_held_to_the_same_rule() {
    let json = |path: &str| {
        format!(
            r#"{{ "host_name": "h", "base": {{ "release": "15.0-RELEASE", "loader_efi": "{path}" }} }}"#
        )
    };
    let os = OperatingSystem::from_json(&json("/srv/freebsd/loader.efi")).expect("valid");
    let given =
        fruix_core::freebsd::sample_base("15.0-RELEASE").with_loader_efi("/srv/freebsd/loader.efi");
    assert_eq!(os.base, given);
    assert_eq!(round_trip(&os), os);
    assert_eq!(codes(&os), []);
    let relative = OperatingSystem::from_json(&json("obj/loader.efi")).expect("valid JSON");
    assert_eq!(
        codes(&relative),
        [(Rule::NotAbsolutePath, "base.loader_efi".to_string())]
    );
    // Without one, the field is not written: specs without it keep their JSON (and hashes).
    assert!(!fruix_systems::fruix_freebsd()
        .to_json()
        .contains("loader_efi"));
}

#[test]
fn json_shape_errors_name_the_problem_and_place() {
    let unknown = OperatingSystem::from_json(r#"{ "host_name": "x", "hostname": "y" }"#)
        .expect_err("unknown field");
    let text = unknown.to_string();
    assert!(text.contains("unknown field `hostname`"), "{text}");
    assert!(text.contains("line 1"), "{text}");

    let wrong_type =
        OperatingSystem::from_json(r#"{ "users": [ { "name": "a", "uid": "one" } ] }"#)
            .expect_err("wrong type");
    assert!(
        wrong_type.to_string().contains("invalid type"),
        "{wrong_type}"
    );

    let bad_console = OperatingSystem::from_json(r#"{ "loader": { "console": ["vga"] } }"#)
        .expect_err("unknown console");
    assert!(
        bad_console.to_string().contains("unknown variant `vga`"),
        "{bad_console}"
    );

    let bad_size = OperatingSystem::from_json(r#"{ "image": { "size": "12 parsecs" } }"#)
        .expect_err("bad size");
    assert!(
        bad_size.to_string().contains("unknown size unit `parsecs`"),
        "{bad_size}"
    );
}
