use super::*;
use std::sync::OnceLock;

/// Two keys, generated once per test run (key generation is the slow part).
fn keys() -> &'static (SigningKey, SigningKey) {
    static KEYS: OnceLock<(SigningKey, SigningKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        (
            SigningKey::generate(2048).unwrap(),
            SigningKey::generate(2048).unwrap(),
        )
    })
}

const DATA: &[u8] = br#"{"groups":[],"expired_packages":[],"packages":[{"name":"a"}]}"#;

fn members(extra: &[(&str, Vec<u8>)]) -> BTreeMap<String, Vec<u8>> {
    let mut m: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    m.insert("data".into(), DATA.to_vec());
    for (name, bytes) in extra {
        m.insert(name.to_string(), bytes.clone());
    }
    m
}

fn pubkey_setting(dir: &Path, key: &SigningKey) -> RepositorySignature {
    let path = dir.join("repo.pub");
    fs::write(&path, key.public_key_pem().unwrap()).unwrap();
    RepositorySignature::Pubkey { key: path }
}

/// A key directory trusting `trusted` and revoking `revoked` fingerprints.
fn keydir(dir: &Path, trusted: &[&str], revoked: &[&str]) -> RepositorySignature {
    for (sub, list) in [("trusted", trusted), ("revoked", revoked)] {
        fs::create_dir_all(dir.join(sub)).unwrap();
        for (i, fp) in list.iter().enumerate() {
            fs::write(dir.join(sub).join(format!("key{i}")), fingerprint_file(fp)).unwrap();
        }
    }
    RepositorySignature::Fingerprints {
        dir: dir.to_path_buf(),
    }
}

fn fingerprint_members(key: &SigningKey, data: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut m = members(&[
        ("data.sig", key.sign(data).unwrap()),
        ("data.pub", key.public_key_pem().unwrap().into_bytes()),
    ]);
    m.insert("data".into(), data.to_vec());
    m
}

#[test]
fn unsigned_is_reported_as_such() {
    let status = verify_catalogue("r", &RepositorySignature::None, "data", &members(&[])).unwrap();
    assert_eq!(status, SignatureStatus::Unsigned);
    assert_eq!(status.metadata_value(), "unsigned");
    assert!(status.to_string().starts_with("unsigned"));
}

#[test]
fn pubkey_good_signature_both_forms() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = keys();
    let setting = pubkey_setting(dir.path(), key);
    for signature in [key.sign(DATA).unwrap(), key.sign_historical(DATA).unwrap()] {
        let status =
            verify_catalogue("r", &setting, "data", &members(&[("signature", signature)])).unwrap();
        assert_eq!(status.metadata_value(), "pubkey");
    }
}

#[test]
fn pubkey_tampered_catalogue_and_wrong_key_fail() {
    let dir = tempfile::tempdir().unwrap();
    let (key, other) = keys();
    let setting = pubkey_setting(dir.path(), key);
    let mut tampered = members(&[("signature", key.sign(DATA).unwrap())]);
    tampered.insert(
        "data".into(),
        DATA.iter()
            .map(|&b| if b == b'a' { b'b' } else { b })
            .collect(),
    );
    let err = verify_catalogue("FreeBSD", &setting, "data", &tampered).unwrap_err();
    assert!(matches!(err, SignatureError::Mismatch { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("repository \"FreeBSD\": catalogue member data does not match"),
        "{err}"
    );

    let wrong = members(&[("signature", other.sign(DATA).unwrap())]);
    let err = verify_catalogue("FreeBSD", &setting, "data", &wrong).unwrap_err();
    assert!(matches!(err, SignatureError::Mismatch { .. }), "{err}");

    let err = verify_catalogue("FreeBSD", &setting, "data", &members(&[])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "repository \"FreeBSD\" is declared pubkey-signed but its catalogue has no signature member"
    );
}

#[test]
fn fingerprints_good_signature() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = keys();
    let fp = fingerprint(key.public_key_pem().unwrap().as_bytes());
    let setting = keydir(dir.path(), &[&fp], &[]);
    let status = verify_catalogue("r", &setting, "data", &fingerprint_members(key, DATA)).unwrap();
    assert_eq!(status.metadata_value(), format!("fingerprint:{fp}"));
}

#[test]
fn fingerprints_refuse_historical_form_and_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let (key, other) = keys();
    let fp = fingerprint(key.public_key_pem().unwrap().as_bytes());
    let setting = keydir(dir.path(), &[&fp], &[]);
    let mut m = fingerprint_members(key, DATA);
    m.insert("data.sig".into(), key.sign_historical(DATA).unwrap());
    assert!(matches!(
        verify_catalogue("r", &setting, "data", &m),
        Err(SignatureError::Mismatch { .. })
    ));
    let mut m = fingerprint_members(key, DATA);
    m.insert("data".into(), b"{}".to_vec());
    assert!(matches!(
        verify_catalogue("r", &setting, "data", &m),
        Err(SignatureError::Mismatch { .. })
    ));
    // Signed by another key but shipping the trusted key's .pub: still a mismatch.
    let mut m = fingerprint_members(key, DATA);
    m.insert("data.sig".into(), other.sign(DATA).unwrap());
    assert!(matches!(
        verify_catalogue("r", &setting, "data", &m),
        Err(SignatureError::Mismatch { .. })
    ));
}

#[test]
fn fingerprints_untrusted_and_revoked() {
    let (key, other) = keys();
    let fp = fingerprint(key.public_key_pem().unwrap().as_bytes());
    let other_fp = fingerprint(other.public_key_pem().unwrap().as_bytes());

    let dir = tempfile::tempdir().unwrap();
    let setting = keydir(dir.path(), &[&other_fp], &[]);
    let err =
        verify_catalogue("FreeBSD", &setting, "data", &fingerprint_members(key, DATA)).unwrap_err();
    assert!(matches!(err, SignatureError::Untrusted { .. }), "{err}");
    assert!(err.to_string().contains(&fp), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let setting = keydir(dir.path(), &[&fp], &[&fp]);
    let err =
        verify_catalogue("FreeBSD", &setting, "data", &fingerprint_members(key, DATA)).unwrap_err();
    match &err {
        SignatureError::Revoked {
            fingerprint, file, ..
        } => {
            assert_eq!(fingerprint, &fp);
            assert!(file.ends_with("revoked/key0"));
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn malformed_trust_files_and_foreign_signers_are_errors() {
    let (key, _) = keys();
    let fp = fingerprint(key.public_key_pem().unwrap().as_bytes());
    let dir = tempfile::tempdir().unwrap();
    let setting = keydir(dir.path(), &[&fp], &[]);
    fs::write(
        dir.path().join("revoked/broken"),
        "function: \"md5\"\nfingerprint: \"x\"\n",
    )
    .unwrap();
    let err = verify_catalogue("r", &setting, "data", &fingerprint_members(key, DATA)).unwrap_err();
    assert!(
        matches!(err, SignatureError::BadFingerprintFile { .. }),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let setting = keydir(dir.path(), &[&fp], &[]);
    let mut m = fingerprint_members(key, DATA);
    m.insert("data.sig".into(), b"$PKGSIGN:ecc$abc".to_vec());
    let err = verify_catalogue("r", &setting, "data", &m).unwrap_err();
    assert_eq!(
        err.to_string(),
        "repository \"r\": ecc signatures are not supported (only RSA)"
    );
}

#[test]
fn fingerprint_files_parse_like_pkg_writes_them() {
    let fp = "b0170035af3acc5f3f3ae1859dc717101b4e6c1d0a794ad554928ca0cbb2f438";
    assert_eq!(parse_fingerprint_file(&fingerprint_file(fp)).unwrap(), fp);
    let ucl = format!(
        "# key\nfunction = \"SHA256\";\nfingerprint = \"{}\";\n",
        fp.to_uppercase()
    );
    assert_eq!(parse_fingerprint_file(&ucl).unwrap(), fp);
    assert!(parse_fingerprint_file("fingerprint: \"abc\"").is_err());
}

#[test]
fn keys_round_trip_through_pem() {
    let (key, _) = keys();
    let again = SigningKey::from_pem(&key.to_pem().unwrap()).unwrap();
    assert_eq!(
        again.public_key_pem().unwrap(),
        key.public_key_pem().unwrap()
    );
    assert!(SigningKey::from_pem("not a key").is_err());
}

#[test]
fn catalogue_members_are_what_verification_reads() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = keys();
    let mut m = members(&[]);
    m.extend(
        key.catalogue_members(SignMode::Pubkey, "data", DATA)
            .unwrap(),
    );
    let setting = pubkey_setting(dir.path(), key);
    assert_eq!(
        verify_catalogue("r", &setting, "data", &m)
            .unwrap()
            .metadata_value(),
        "pubkey"
    );

    let fp = fingerprint(key.public_key_pem().unwrap().as_bytes());
    let setting = keydir(dir.path(), &[&fp], &[]);
    let mut m: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    m.insert("packagesite.yaml".into(), DATA.to_vec());
    let extra = key
        .catalogue_members(SignMode::Fingerprints, "packagesite.yaml", DATA)
        .unwrap();
    let names: Vec<&str> = extra.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["packagesite.yaml.sig", "packagesite.yaml.pub"]);
    m.extend(extra);
    let status = verify_catalogue("r", &setting, "packagesite.yaml", &m).unwrap();
    assert_eq!(status, SignatureStatus::Fingerprint { fingerprint: fp });
}
