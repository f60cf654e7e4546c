//! The ssh key rule agrees with OpenSSH itself: keys made by `ssh-keygen` are accepted, and
//! damaged ones that `ssh-keygen -l` refuses are refused too.

use fruix_core::{OperatingSystem, Rule, User};
use std::path::Path;
use std::process::Command;

fn ssh_keygen(args: &[&str]) -> std::process::Output {
    Command::new("ssh-keygen")
        .args(args)
        .output()
        .expect("ssh-keygen (openssh-client) must be installed; .ci/run installs it")
}

fn key_problems(key: &str) -> Vec<Rule> {
    let mut os = OperatingSystem {
        host_name: "keys".into(),
        ..OperatingSystem::default()
    };
    os.users.push(User {
        name: "alice".into(),
        uid: 1002,
        group: "wheel".into(),
        ssh_keys: vec![key.to_owned()],
        ..User::default()
    });
    match os.validate() {
        Ok(()) => Vec::new(),
        Err(found) => found.0.iter().map(|v| v.rule).collect(),
    }
}

fn openssh_accepts(dir: &Path, key: &str) -> bool {
    let file = dir.join("check.pub");
    std::fs::write(&file, format!("{key}\n")).expect("write key");
    ssh_keygen(&["-l", "-f", file.to_str().expect("utf-8 path")])
        .status
        .success()
}

#[test]
fn keys_from_ssh_keygen_are_accepted_and_damaged_ones_refused_like_openssh_does() {
    let dir = std::env::temp_dir().join(format!("fruix-ssh-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (kind, bits) in [
        ("ed25519", None),
        ("rsa", Some("2048")),
        ("ecdsa", Some("384")),
    ] {
        let private = dir.join(format!("id_{kind}"));
        let _ = std::fs::remove_file(&private);
        let mut args = vec!["-q", "-t", kind, "-N", "", "-C", "alice@test", "-f"];
        let path = private.to_str().expect("utf-8 path").to_owned();
        args.push(&path);
        if let Some(bits) = bits {
            args.extend(["-b", bits]);
        }
        assert!(ssh_keygen(&args).status.success(), "ssh-keygen -t {kind}");
        let public = std::fs::read_to_string(format!("{path}.pub")).expect("public key");
        let public = public.trim();

        assert!(openssh_accepts(&dir, public));
        assert_eq!(key_problems(public), [], "{public}");

        // Damage the key data: change its type word, truncate the base64, break a character.
        let (ty, rest) = public.split_once(' ').expect("type and data");
        let (data, _comment) = rest.split_once(' ').expect("data and comment");
        let wrong_type = if ty == "ssh-ed25519" {
            "ssh-rsa"
        } else {
            "ssh-ed25519"
        };
        let damaged = [
            format!("{wrong_type} {data}"),
            format!("{ty} {}", &data[..data.len() - 3]),
            format!("{ty} {}*{}", &data[..10], &data[11..]),
            ty.to_owned(),
        ];
        for bad in damaged {
            assert!(!openssh_accepts(&dir, &bad), "OpenSSH accepted {bad}");
            assert_eq!(key_problems(&bad), [Rule::SshKey], "{bad}");
        }
    }
    std::fs::remove_dir_all(&dir).expect("clean up");
}
