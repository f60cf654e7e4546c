//! What becomes of packages' install scripts. One policy, [`POLICY`] (`first-boot`):
//!
//! - Nothing a package ships runs on the building host.
//! - Shell install scripts (`pre-install`, `install`, `post-install`) are collected, in
//!   dependency order, into `package-scripts`, which the activation runs at first boot:
//!   once per `<name>-<version>` (a marker in [`DONE_DIR`]), the way `pkg install` would
//!   have run them: `/bin/sh -c` with the body prefixed by `set -- <name>-<version>`
//!   (plus `PRE-INSTALL`/`POST-INSTALL` for the generic `install` script), and `PKG_NAME`,
//!   `PKG_PREFIX`, `PKG_ROOTDIR=/`, `PKG_UPGRADE=false`, `PKG_MSGFD=4` in the environment.
//!   The files are already in place when they run, pre-install ones included.
//! - `pw groupadd/useradd/groupmod` lines were applied when the system was built (see
//!   [`super::accounts`]): in the collected scripts they become `:`. (At first boot they
//!   would be lost anyway: the activation installs the system's account files.)
//! - Deinstall scripts never run: nothing is deinstalled from an image.
//! - Lua scripts are refused ([`ScriptError::Lua`]), except the `@sample` one the ports
//!   generate for configuration samples (copy `x.sample` to `x` when `x` is absent), which
//!   the import does when the package's item is made.
//!
//! The image's metadata says so: `package_script_policy=first-boot`,
//! `package_scripts=<how many scripts were collected>`.

use super::{pw, Manifest, ScriptPhase};
use crate::system::quote::sh;

/// The install-script policy, as the image's metadata names it.
pub const POLICY: &str = "first-boot";

/// Where the first-boot runner records the packages whose scripts ran.
pub const DONE_DIR: &str = "/var/db/fruix/package-scripts";

/// Why a package's scripts cannot be carried into the system.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    #[error(
        "package `{package}` has a Lua {phase} script that Fruix cannot run at build time \
         nor carry to first boot (only the ports' @sample script is understood): {excerpt}"
    )]
    /// A Lua script other than the known `@sample` one.
    Lua {
        /// The package.
        package: String,
        /// The script's phase (`post-install`).
        phase: &'static str,
        /// Its first line that is not understood.
        excerpt: String,
    },
}

/// One shell script to run at first boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstBootScript {
    /// `<name>-<version>`: the `$1` pkg gives scripts, and the marker's name.
    pub package: String,
    /// The package's name (`PKG_NAME`).
    pub name: String,
    /// The package's prefix (`PKG_PREFIX`).
    pub prefix: String,
    /// The phase it belongs to (`pre-install`, `install`, `post-install`).
    pub phase: ScriptPhase,
    /// `PRE-INSTALL`/`POST-INSTALL` for the generic `install` script.
    pub argument: Option<&'static str>,
    /// The body, with the `pw` lines applied at build time replaced by `:`.
    pub body: String,
}

/// The scripts of a set of packages, sorted out by the policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScriptPlan {
    /// Shell scripts for first boot, in dependency order, then phase order.
    pub first_boot: Vec<FirstBootScript>,
    /// `@sample` Lua scripts left to the import (package, phase).
    pub samples: Vec<(String, &'static str)>,
}

/// Install phases in the order pkg runs them: (phase, argument of the generic script).
const INSTALL_ORDER: [(ScriptPhase, Option<&str>); 4] = [
    (ScriptPhase::PreInstall, None),
    (ScriptPhase::Install, Some("PRE-INSTALL")),
    (ScriptPhase::PostInstall, None),
    (ScriptPhase::Install, Some("POST-INSTALL")),
];

/// Sorts out the scripts of `packages`, given in dependency order (dependencies first).
pub fn plan(packages: &[&Manifest]) -> Result<ScriptPlan, ScriptError> {
    let mut out = ScriptPlan::default();
    for manifest in packages {
        for (phase, scripts) in &manifest.lua_scripts {
            if !matches!(phase, ScriptPhase::PreInstall | ScriptPhase::PostInstall) {
                continue;
            }
            for script in scripts {
                if let Some(line) = unknown_sample_line(script) {
                    return Err(ScriptError::Lua {
                        package: manifest.name.clone(),
                        phase: phase.key(),
                        excerpt: line.chars().take(80).collect(),
                    });
                }
                out.samples.push((manifest.name.clone(), phase.key()));
            }
        }
        let package = format!("{}-{}", manifest.name, manifest.version);
        for (phase, argument) in INSTALL_ORDER {
            let Some(body) = manifest.scripts.get(&phase) else {
                continue;
            };
            let body = without_pw_lines(body);
            if body.trim().is_empty() {
                continue;
            }
            out.first_boot.push(FirstBootScript {
                package: package.clone(),
                name: manifest.name.clone(),
                prefix: manifest.prefix.clone(),
                phase,
                argument,
                body,
            });
        }
    }
    Ok(out)
}

/// `script` with each `pw` account command Fruix applied replaced by `:`.
fn without_pw_lines(script: &str) -> String {
    let mut out = script.to_owned();
    // Back to front, so earlier spans stay where they are.
    for line in pw::parse(script).iter().rev() {
        out.replace_range(line.span.clone(), ":");
    }
    out
}

/// The first line of `script` that the ports' `@sample` Lua script does not have, or
/// `None` when it is that script (a sample path, a target, `pkg.stat`, `pkg.copy`).
fn unknown_sample_line(script: &str) -> Option<&str> {
    const KNOWN: &[&str] = &[
        "sample_file = pkg.prefixed_path(",
        "target_file = pkg.prefixed_path(",
        "target_file = string.gsub(sample_file,",
        "if not pkg.stat(target_file) then",
        "pkg.copy(sample_file, target_file)",
        "if string.sub(sample_file, -7) ~= \".sample\" then",
        "if \"",
        "else",
        "end",
        "return",
        "--",
    ];
    let mut copies = false;
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !KNOWN.iter().any(|k| line.starts_with(k)) {
            return Some(line);
        }
        copies |= line.starts_with("pkg.copy(");
    }
    if copies {
        None
    } else {
        script.lines().map(str::trim).find(|l| !l.is_empty())
    }
}

/// The `package-scripts` program the activation runs: every collected script once per
/// package version. It goes on after a failing script and fails at the end.
pub fn render(plan: &ScriptPlan) -> String {
    let mut out = format!(
        r#"#!/bin/sh
# Generated by Fruix: the install scripts of the system's FreeBSD packages, run the way
# `pkg install` runs them, once per package version, at first boot (policy: {POLICY}).
# Account (pw) lines were applied when the system was built and are `:` here.
PATH=/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin
export PATH
done_dir={DONE_DIR}
install -d -m 0755 "$done_dir"
failed=0

# run PACKAGE NAME PREFIX PHASE SCRIPT
run() {{
	echo "fruix: $1: $4 script"
	(
		PKG_NAME=$2 PKG_PREFIX=$3 PKG_ROOTDIR=/ PKG_UPGRADE=false PKG_MSGFD=4
		export PKG_NAME PKG_PREFIX PKG_ROOTDIR PKG_UPGRADE PKG_MSGFD
		exec /bin/sh -c "$5" 4>&2
	) || {{
		echo "fruix: $1: $4 script failed" >&2
		failed=1
	}}
}}
"#
    );
    let mut current: Option<&str> = None;
    for script in &plan.first_boot {
        if current != Some(script.package.as_str()) {
            if current.is_some() {
                out.push_str("\ttouch \"$done_dir\"/");
                out.push_str(&sh(current.unwrap_or_default()));
                out.push_str("\nfi\n");
            }
            current = Some(&script.package);
            out.push_str(&format!(
                "\nif [ ! -e \"$done_dir\"/{p} ]; then\n",
                p = sh(&script.package)
            ));
        }
        let mut text = format!("set -- {}", script.package);
        if let Some(argument) = script.argument {
            text.push(' ');
            text.push_str(argument);
        }
        text.push('\n');
        text.push_str(&script.body);
        let phase = match script.argument {
            Some(argument) => format!("install {argument}"),
            None => script.phase.key().to_owned(),
        };
        out.push_str(&format!(
            "\trun {} {} {} {} {}\n",
            sh(&script.package),
            sh(&script.name),
            sh(&script.prefix),
            sh(&phase),
            sh(&text)
        ));
    }
    if let Some(package) = current {
        out.push_str(&format!("\ttouch \"$done_dir\"/{}\nfi\n", sh(package)));
    }
    out.push_str("exit $failed\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Lua script ports generate for `@sample etc/x.conf.sample`.
    const SAMPLE_LUA: &str = r#"sample_file = pkg.prefixed_path("etc/x.conf.sample")
if "" == "" then
  if string.sub(sample_file, -7) ~= ".sample" then
    return
  end
  target_file = string.gsub(sample_file,'%.sample$', "")
else
  target_file = pkg.prefixed_path("")
end
if not pkg.stat(target_file) then
  pkg.copy(sample_file, target_file)
end
"#;

    fn manifest(name: &str) -> Manifest {
        Manifest {
            name: name.into(),
            version: "1.0_1".into(),
            prefix: "/usr/local".into(),
            ..Manifest::default()
        }
    }

    #[test]
    fn shell_scripts_go_to_first_boot_in_order_without_pw_lines() {
        let mut dep = manifest("dep");
        dep.scripts
            .insert(ScriptPhase::PostInstall, "echo 'dep done'\n".into());
        let mut app = manifest("app");
        app.scripts.insert(
            ScriptPhase::PreInstall,
            "if ! pw groupshow app; then\n  pw groupadd app -g 901\nfi\n".into(),
        );
        app.scripts
            .insert(ScriptPhase::Install, "echo \"$1 $2\"\n".into());
        app.scripts
            .insert(ScriptPhase::PostInstall, "echo 100%\n".into());
        app.scripts
            .insert(ScriptPhase::PreDeinstall, "rm -rf /\n".into());
        let plan = plan(&[&dep, &app]).unwrap();
        let phases: Vec<(&str, &str, Option<&str>)> = plan
            .first_boot
            .iter()
            .map(|s| (s.package.as_str(), s.phase.key(), s.argument))
            .collect();
        assert_eq!(
            phases,
            [
                ("dep-1.0_1", "post-install", None),
                ("app-1.0_1", "pre-install", None),
                ("app-1.0_1", "install", Some("PRE-INSTALL")),
                ("app-1.0_1", "post-install", None),
                ("app-1.0_1", "install", Some("POST-INSTALL")),
            ]
        );
        assert_eq!(
            plan.first_boot[1].body,
            "if ! pw groupshow app; then\n  :\nfi\n"
        );
        let text = render(&plan);
        assert!(!text.contains("rm -rf"), "deinstall scripts never run");
        assert!(text.contains("set -- app-1.0_1 PRE-INSTALL\n"), "{text}");
        // A script of only pw lines has nothing left to run.
        let mut only_pw = manifest("only");
        only_pw
            .scripts
            .insert(ScriptPhase::PreInstall, "pw groupadd x -g 5\n".into());
        let plan_only = super::plan(&[&only_pw]).unwrap();
        assert_eq!(plan_only.first_boot[0].body, ":\n");
    }

    #[test]
    fn the_runner_is_valid_sh_and_runs_scripts_like_pkg() {
        let mut a = manifest("a");
        a.scripts.insert(
            ScriptPhase::PostInstall,
            "echo \"$1 $PKG_NAME $PKG_PREFIX $PKG_ROOTDIR\" >> \"$OUT\"\necho msg >&${PKG_MSGFD}\nexit 3\n"
                .into(),
        );
        a.scripts.insert(
            ScriptPhase::Install,
            "echo \"install $2 it's\" >> \"$OUT\"\n".into(),
        );
        let text = render(&plan(&[&a]).unwrap());
        let dir = tempfile::tempdir().unwrap();
        let runner = dir.path().join("package-scripts");
        let done = dir.path().join("done");
        std::fs::write(&runner, text.replace(DONE_DIR, done.to_str().unwrap())).unwrap();
        let check = std::process::Command::new("sh")
            .arg("-n")
            .arg(&runner)
            .status()
            .unwrap();
        assert!(check.success(), "{text}");
        let out = dir.path().join("out");
        let run = || {
            std::process::Command::new("sh")
                .arg(&runner)
                .env("OUT", &out)
                .output()
                .unwrap()
        };
        let first = run();
        assert_eq!(
            first.status.code(),
            Some(1),
            "a failed script fails the run"
        );
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "install PRE-INSTALL it's\na-1.0_1 a /usr/local /\ninstall POST-INSTALL it's\n"
        );
        assert!(done.join("a-1.0_1").exists());
        // Once: a second run does nothing.
        assert!(run().status.success());
        assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 3);
    }

    #[test]
    fn lua_scripts_other_than_sample_are_refused() {
        let mut a = manifest("a");
        a.lua_scripts
            .insert(ScriptPhase::PostInstall, vec![SAMPLE_LUA.into()]);
        let plan_a = plan(&[&a]).unwrap();
        assert_eq!(plan_a.samples, [("a".to_owned(), "post-install")]);
        assert!(plan_a.first_boot.is_empty());
        a.lua_scripts.insert(
            ScriptPhase::PreInstall,
            vec!["os.execute(\"rm -rf /\")".into()],
        );
        let err = plan(&[&a]).unwrap_err();
        assert_eq!(
            err,
            ScriptError::Lua {
                package: "a".into(),
                phase: "pre-install",
                excerpt: "os.execute(\"rm -rf /\")".into()
            }
        );
        assert!(err
            .to_string()
            .contains("package `a` has a Lua pre-install script"));
    }
}
