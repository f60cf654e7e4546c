//! Every program a system will execute, with the declarations that need it: what the
//! closure-completeness check (`image::programs`) looks for in the root file system, when
//! an image is built and again when one is verified.
//!
//! The list is computed from the declaration alone, so that `verify` can recompute it
//! from the image's own `metadata/spec.json`: the boot loader, the kernel and its declared
//! modules; init and rc (or the PID 1 script); the activation script and what it runs;
//! Shepherd and herd in the Shepherd modes; each service's rc.d script, start and stop
//! programs, and what its script runs; each account's login shell.

use super::{accounts, activate, etc, rcd, shepherd};
use crate::{InitMode, OperatingSystem};

/// One program and everything that needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredProgram {
    /// Absolute path on the target system.
    pub path: String,
    /// What needs it, e.g. "service `sshd` (start)", "user `root` (login shell)".
    pub needed_by: Vec<String>,
}

/// The shell rc(8), rc.d scripts and the generated scripts run in.
pub const SH: &str = "/bin/sh";
/// What FreeBSD's init runs rc with, and how rc orders the rc.d scripts.
pub const RC_PROGRAMS: &[&str] = &["/sbin/init", SH, "/sbin/rcorder"];

#[derive(Default)]
struct List(Vec<RequiredProgram>);

impl List {
    fn need(&mut self, path: &str, by: impl Into<String>) {
        let by = by.into();
        match self.0.iter_mut().find(|p| p.path == path) {
            Some(p) if p.needed_by.contains(&by) => {}
            Some(p) => p.needed_by.push(by),
            None => self.0.push(RequiredProgram {
                path: path.to_owned(),
                needed_by: vec![by],
            }),
        }
    }

    fn need_all<'a>(&mut self, paths: impl IntoIterator<Item = &'a str>, by: &str) {
        for path in paths {
            self.need(path, by);
        }
    }
}

/// Every program `os` will execute, in a stable order (first need first).
pub fn required_programs(os: &OperatingSystem) -> Vec<RequiredProgram> {
    let mut list = List::default();
    list.need("/boot/loader.efi", "the boot loader (UEFI)");
    list.need("/boot/kernel/kernel", "the kernel");
    for module in &os.kernel.modules {
        list.need(
            &format!("/boot/kernel/{module}.ko"),
            format!("kernel module `{module}`"),
        );
    }
    let mode = os.init_mode;
    let init = format!("init mode `{mode}`");
    if mode.uses_rc() {
        list.need_all(RC_PROGRAMS.iter().copied(), &init);
        let by = format!("activation (rc.d script {})", activate::RC_SCRIPT);
        list.need(&format!("/usr/local/etc/rc.d/{}", activate::RC_SCRIPT), &by);
    } else {
        list.need(
            etc::PID1_SCRIPT,
            format!("{init} (loader.conf's init_exec)"),
        );
        list.need_all(
            shepherd::PID1_PROGRAMS.iter().copied(),
            "the shepherd-pid1 script",
        );
    }
    list.need(activate::ACTIVATE, "activation");
    list.need_all(activate::PROGRAMS.iter().copied(), "the activate script");
    if mode.uses_shepherd() {
        let by = format!("{init} (GNU Shepherd)");
        list.need(&os.shepherd.program, &by);
        list.need(&os.shepherd.herd, &by);
    }
    if mode == InitMode::FreebsdInitRcShepherd {
        let by = format!("rc.d script {}", shepherd::RC_SCRIPT);
        list.need(&format!("/usr/local/etc/rc.d/{}", shepherd::RC_SCRIPT), &by);
        list.need_all(shepherd::RC_SCRIPT_PROGRAMS.iter().copied(), &by);
    }
    for service in &os.services {
        let name = &service.name;
        if mode == InitMode::FreebsdInitRcd {
            let by = format!("service `{name}` (rc.d script)");
            list.need(&format!("/{}", rcd::script_path(service)), &by);
            list.need_all(rcd::script_programs(service), &by);
        }
        if let Some(program) = service.start.first() {
            list.need(program, format!("service `{name}` (start)"));
        }
        if let Some(program) = service.stop.first() {
            list.need(program, format!("service `{name}` (stop)"));
        }
    }
    for account in accounts::accounts(os) {
        // An empty shell field means /bin/sh to login(1).
        let shell = if account.shell.is_empty() {
            SH
        } else {
            &account.shell
        };
        list.need(shell, format!("user `{}` (login shell)", account.name));
    }
    list.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Service;
    use std::collections::BTreeSet;

    fn paths(list: &[RequiredProgram]) -> Vec<&str> {
        list.iter().map(|p| p.path.as_str()).collect()
    }

    fn needers<'a>(list: &'a [RequiredProgram], path: &str) -> &'a [String] {
        &list.iter().find(|p| p.path == path).unwrap().needed_by
    }

    fn os(mode: InitMode) -> OperatingSystem {
        let mut stop = Service::new("web", ["/usr/local/bin/web"]);
        stop.stop = vec!["/usr/local/bin/web-ctl".into(), "stop".into()];
        stop.environment.insert("PATH".into(), "/bin".into());
        OperatingSystem {
            host_name: "h".into(),
            init_mode: mode,
            services: vec![
                stop,
                Service::new("keys", ["/usr/bin/ssh-keygen", "-A"]).one_shot(),
            ],
            kernel: crate::Kernel {
                modules: vec!["vmm".into()],
                ..Default::default()
            },
            ..Default::default()
        }
    }

    /// The commands a generated sh script runs, read the way sh does as far as our scripts
    /// need: quotes, `;` `&&` `||` `|` `(` `)` between commands, `$( )` inside words,
    /// keywords, `NAME=value` prefixes, redirections, case patterns, functions.
    fn commands(script: &str) -> BTreeSet<String> {
        const SKIP: &[&str] = &[
            "if", "then", "else", "elif", "fi", "for", "do", "done", "while", "until", "!", "{",
            "}", "exec", "esac",
        ];
        // sh builtins, and rc.subr's functions the scripts call.
        const BUILTINS: &[&str] = &[
            "set",
            "export",
            "umask",
            "cd",
            "echo",
            "kill",
            "test",
            "[",
            ".",
            ":",
            "return",
            "true",
            "false",
            "load_rc_config",
            "run_rc_command",
            "check_pidfile",
            "wait_for_pids",
        ];
        let mut found = BTreeSet::new();
        let mut functions = BTreeSet::new();
        let mut in_case = false;
        let mut segments = vec![String::new()];
        for line in script.lines() {
            let mut line = line.trim();
            if line.starts_with('#') {
                continue;
            }
            if let Some(f) = line.strip_suffix("()") {
                functions.insert(f.to_owned());
                continue;
            }
            if line.starts_with("case ") {
                in_case = true;
                continue;
            }
            if in_case {
                if line == "esac" {
                    in_case = false;
                    continue;
                }
                // A case arm: drop its pattern, through the first `)`.
                if let Some(at) = line.find(')') {
                    line = &line[at + 1..];
                }
            }
            let (mut quote, mut depth) = (None, 0);
            let mut chars = line.chars().peekable();
            while let Some(c) = chars.next() {
                let last = segments.last_mut().unwrap();
                match (quote, c) {
                    (Some(q), c) if c == q => {
                        quote = None;
                        last.push(c);
                    }
                    (None, '\'' | '"') => {
                        quote = Some(c);
                        last.push(c);
                    }
                    (q, '$') if q != Some('\'') && chars.peek() == Some(&'(') => {
                        chars.next();
                        depth += 1;
                        segments.push(String::new());
                    }
                    // `1>&2` is a redirection, not a separator.
                    (None, '&') if last.ends_with(['>', '<']) => last.push(c),
                    (None, ';' | '&' | '|' | '(') => segments.push(String::new()),
                    (_, ')') if depth > 0 => {
                        depth -= 1;
                        segments.push(String::new());
                    }
                    (None, ')') => segments.push(String::new()),
                    _ => last.push(c),
                }
            }
            segments.push(String::new());
        }
        for segment in &segments {
            // A loop's header names its variable and list, not a command.
            if words(segment).first().map(String::as_str) == Some("for") {
                continue;
            }
            let first = words(segment).into_iter().find(|w| {
                let redirect = w.contains('>') || w.contains('<');
                let assignment = w.split_once('=').is_some_and(|(name, _)| {
                    !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_')
                });
                let bare = w.trim_matches(['"', '\'']).is_empty();
                !redirect && !assignment && !bare && !SKIP.contains(&w.as_str())
            });
            if let Some(word) = first {
                found.insert(word.trim_matches(['"', '\'']).to_owned());
            }
        }
        found.retain(|c| !BUILTINS.contains(&c.as_str()) && !functions.contains(c));
        found
    }

    /// Words split at blanks outside quotes (quotes kept).
    fn words(text: &str) -> Vec<String> {
        let mut out = vec![String::new()];
        let mut quote = None;
        for c in text.chars() {
            match (quote, c) {
                (None, ' ' | '\t') => out.push(String::new()),
                (None, '\'' | '"') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                _ => {}
            }
            if quote.is_some() || !matches!(c, ' ' | '\t') {
                out.last_mut().unwrap().push(c);
            }
        }
        out.retain(|w| !w.is_empty());
        out
    }

    /// Whether `command` (a path, or a name looked up in rc's PATH) is one of `declared`.
    fn covered(command: &str, declared: &[&str]) -> bool {
        declared.iter().any(|d| {
            *d == command
                || ["/sbin/", "/bin/", "/usr/sbin/", "/usr/bin/"]
                    .iter()
                    .any(|dir| *d == format!("{dir}{command}"))
        })
    }

    fn assert_covered(what: &str, script: &str, declared: &[&str]) {
        let found = commands(script);
        assert!(!found.is_empty(), "{what}: the reader found no command");
        for command in &found {
            assert!(
                covered(command, declared),
                "{what} runs `{command}`, which its program list lacks ({declared:?})"
            );
        }
    }

    #[test]
    fn the_declared_lists_cover_every_command_of_the_generated_scripts() {
        let mut spec = os(InitMode::FreebsdInitRcShepherd);
        spec.users[1].ssh_keys = vec!["ssh-ed25519 AAAA k".into()];
        assert_covered(
            "activate",
            &activate::activate(&spec, true),
            activate::PROGRAMS,
        );
        assert_covered(
            "fruix-activate",
            &activate::rc_script(),
            &[activate::ACTIVATE],
        );
        let mut with_shepherd: Vec<&str> = shepherd::RC_SCRIPT_PROGRAMS.to_vec();
        with_shepherd.extend([spec.shepherd.program.as_str(), spec.shepherd.herd.as_str()]);
        assert_covered(
            "fruix-shepherd",
            &shepherd::rc_script(&spec),
            &with_shepherd,
        );
        let mut pid1: Vec<&str> = shepherd::PID1_PROGRAMS.to_vec();
        pid1.extend([activate::ACTIVATE, spec.shepherd.program.as_str()]);
        assert_covered("shepherd-pid1", &shepherd::pid1_script(&spec), &pid1);

        let mut user_one_shot = Service::new("as-user", ["/usr/bin/id"]).one_shot();
        user_one_shot.user = Some("nobody".into());
        user_one_shot.stop = vec!["/usr/bin/logger".into(), "stopped".into()];
        let mut services = spec.services.clone();
        services.push(user_one_shot);
        for service in &services {
            let mut declared = rcd::script_programs(service);
            declared.extend(service.start.first().map(String::as_str));
            declared.extend(service.stop.first().map(String::as_str));
            assert_covered(&service.name, &rcd::script(service), &declared);
        }
        // The reader does see commands: a script that runs an undeclared one fails.
        let sample =
            "x()\n{\n\tif (cd / && exec mkdir -p \"$(cat f)\") 2>/dev/null; then :; fi\n}\n";
        assert_eq!(
            commands(sample),
            BTreeSet::from(["cat".to_owned(), "mkdir".to_owned()])
        );
    }

    #[test]
    fn the_rc_d_mode_needs_the_scripts_and_what_they_run_but_no_shepherd() {
        let list = required_programs(&os(InitMode::FreebsdInitRcd));
        let p = paths(&list);
        for want in [
            "/boot/loader.efi",
            "/boot/kernel/kernel",
            "/boot/kernel/vmm.ko",
            "/sbin/init",
            "/sbin/rcorder",
            "/usr/local/etc/rc.d/fruix-activate",
            "/run/current-system/activate",
            "/usr/sbin/pwd_mkdb",
            "/usr/local/etc/rc.d/web",
            "/usr/sbin/daemon",
            "/usr/bin/limits",
            "/usr/bin/env",
            "/usr/local/bin/web",
            "/usr/local/bin/web-ctl",
            "/usr/local/etc/rc.d/keys",
            "/usr/bin/ssh-keygen",
            "/usr/sbin/nologin",
        ] {
            assert!(p.contains(&want), "{want} missing from {p:?}");
        }
        assert!(!p
            .iter()
            .any(|p| p.contains("shepherd") || p.contains("herd")));
        assert_eq!(
            needers(&list, "/usr/sbin/daemon"),
            ["service `web` (rc.d script)"]
        );
        assert_eq!(
            needers(&list, "/usr/local/bin/web-ctl"),
            ["service `web` (stop)"]
        );
        assert_eq!(
            needers(&list, "/boot/kernel/vmm.ko"),
            ["kernel module `vmm`"]
        );
        let sh = needers(&list, "/bin/sh");
        assert!(
            sh.contains(&"user `root` (login shell)".to_owned())
                && sh.contains(&"init mode `freebsd-init+rc.d`".to_owned()),
            "{sh:?}"
        );
        let unique: BTreeSet<&str> = p.iter().copied().collect();
        assert_eq!(unique.len(), p.len(), "each path once");
    }

    #[test]
    fn shepherd_modes_need_shepherd_and_herd_where_declared() {
        let mut spec = os(InitMode::FreebsdInitRcShepherd);
        spec.shepherd.program = "/opt/shepherd/bin/shepherd".into();
        let list = required_programs(&spec);
        let p = paths(&list);
        for want in [
            "/opt/shepherd/bin/shepherd",
            "/usr/local/bin/herd",
            "/usr/local/etc/rc.d/fruix-shepherd",
            "/usr/sbin/daemon",
            "/sbin/init",
        ] {
            assert!(p.contains(&want), "{want} missing from {p:?}");
        }
        assert!(!p.contains(&"/usr/local/etc/rc.d/web"));
        assert_eq!(
            needers(&list, "/usr/sbin/daemon"),
            ["rc.d script fruix-shepherd"]
        );

        let list = required_programs(&os(InitMode::ShepherdPid1));
        let p = paths(&list);
        assert!(p.contains(&"/run/current-system/boot/shepherd-pid1"));
        assert!(p.contains(&"/usr/local/bin/shepherd"));
        assert!(!p.contains(&"/sbin/init") && !p.contains(&"/usr/sbin/daemon"));
    }
}
