//! Services: names, commands, requirements (declared, acyclic), the user a service runs
//! as, its environment, log file and working directory; the names rc.d gives them in
//! `freebsd-init+rc.d`; where Shepherd is installed.

use super::syntax::{
    absolute_path_problem, did_you_mean, earlier_duplicates, is_identifier, maybe_help, show_char,
    value_problem,
};
use super::{FieldPath, Report, Rule};
use crate::freebsd::{self, SYSTEM_USERS};
use crate::{InitMode, OperatingSystem, Service};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Checks `services`.
pub(crate) fn check(os: &OperatingSystem, root: &FieldPath, r: &mut Report) {
    let services = root.field("services");
    let names: Vec<&str> = os.services.iter().map(|s| s.name.as_str()).collect();
    let same_names = earlier_duplicates(names.iter().map(|n| (!n.is_empty()).then_some(*n)));
    for (i, service) in os.services.iter().enumerate() {
        let at = services.index(i);
        let name = &service.name;
        if let Some((problem, help)) = service_name_problem(name) {
            let v = r.error(Rule::ServiceName, at.field("name"), problem);
            maybe_help(v, help);
        } else if let Some(first) = same_names[i] {
            r.error(
                Rule::DuplicateService,
                at.field("name"),
                format!("duplicate service `{name}`: `services[{first}]` already declares it"),
            )
            .depends(services.index(first).field("name"));
        }
        check_commands(service, &at, r);
        for (j, required) in service.requires.iter().enumerate() {
            if !names.contains(&required.as_str()) {
                let v = r.error(
                    Rule::UndeclaredRequirement,
                    at.field("requires").index(j),
                    format!("service `{name}` requires `{required}`, which is not declared"),
                );
                v.depends(services.all().field("name"));
                maybe_help(v, did_you_mean(required, names.iter().copied()));
            }
        }
        check_user(os, service, &at, root, r);
        check_environment(service, &at, r);
        if let Some(log) = &service.log_file {
            if let Some(problem) = absolute_path_problem(log) {
                r.error(
                    Rule::NotAbsolutePath,
                    at.field("log_file"),
                    format!(
                        "log file `{}` of service `{name}` {problem}",
                        log.escape_debug()
                    ),
                )
                .help(format!(
                    "use an absolute path such as `/var/log/{name}.log`"
                ));
            }
        }
        if let Some(dir) = &service.directory {
            if let Some(problem) = absolute_path_problem(dir) {
                r.error(
                    Rule::NotAbsolutePath,
                    at.field("directory"),
                    format!(
                        "working directory `{}` of service `{name}` {problem}",
                        dir.escape_debug()
                    ),
                )
                .help("use an absolute path such as `/var/empty`");
            }
        }
    }
    check_cycles(os, &services, r);
    if os.init_mode == InitMode::FreebsdInitRcd {
        check_rc_names(os, root, &services, &same_names, r);
    }
    check_shepherd(os, root, r);
}

/// rc.d scripts Fruix writes itself (`name=` of `/usr/local/etc/rc.d/fruix-*`).
pub const FRUIX_RC_NAMES: &[&str] = &["fruix_activate", "fruix_shepherd"];

/// In `freebsd-init+rc.d`, every service is an rc.d script named by its
/// [`Service::rc_name`]: two services must not share one, nor take Fruix's own.
fn check_rc_names(
    os: &OperatingSystem,
    root: &FieldPath,
    services: &FieldPath,
    same_names: &[Option<usize>],
    r: &mut Report,
) {
    let mut first_with: BTreeMap<String, usize> = BTreeMap::new();
    for (i, service) in os.services.iter().enumerate() {
        if service_name_problem(&service.name).is_some() || same_names[i].is_some() {
            continue;
        }
        let rc = service.rc_name();
        let at = services.index(i).field("name");
        if FRUIX_RC_NAMES.contains(&rc.as_str()) {
            r.error(
                Rule::RcNameClash,
                at,
                format!(
                    "service `{}` would be rc.d's `{rc}`, which is Fruix's own rc.d script",
                    service.name
                ),
            )
            .help("pick another name")
            .depends(root.field("init_mode"));
        } else if let Some(&first) = first_with.get(&rc) {
            r.error(
                Rule::RcNameClash,
                at,
                format!(
                    "services `{}` and `{}` would both be rc.d's `{rc}`",
                    os.services[first].name, service.name
                ),
            )
            .help("rc.d names are shell identifiers (`-` and `.` become `_`): rename one of them")
            .depends(services.index(first).field("name"))
            .depends(root.field("init_mode"));
        } else {
            first_with.insert(rc, i);
        }
    }
}

/// Shepherd's programs are absolute paths (used only in the Shepherd init modes).
fn check_shepherd(os: &OperatingSystem, root: &FieldPath, r: &mut Report) {
    let at = root.field("shepherd");
    for (field, path, example) in [
        ("program", &os.shepherd.program, "/usr/local/bin/shepherd"),
        ("herd", &os.shepherd.herd, "/usr/local/bin/herd"),
    ] {
        if let Some(problem) = absolute_path_problem(path) {
            r.error(
                Rule::NotAbsolutePath,
                at.field(field),
                format!("Shepherd's `{field}` `{}` {problem}", path.escape_debug()),
            )
            .help(format!("use an absolute path such as `{example}`"));
        }
    }
}

/// Shepherd service names: `[a-z][a-z0-9._-]*`, and not `root` (Shepherd's own service).
fn service_name_problem(name: &str) -> Option<(String, Option<String>)> {
    let allowed =
        |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-');
    let lower = name.to_ascii_lowercase();
    let lower_help = (lower != *name && service_name_problem(&lower).is_none())
        .then(|| format!("did you mean `{lower}`?"));
    if name.is_empty() {
        Some(("service name is empty".to_owned(), None))
    } else if name == "root" {
        let help = "`root` is Shepherd's own service; pick another name".to_owned();
        Some((
            "service name `root` is reserved by Shepherd".to_owned(),
            Some(help),
        ))
    } else if let Some(c) = name.chars().find(|c| !allowed(c.to_ascii_lowercase())) {
        let what = format!(
            "service name `{name}` contains {}, which Shepherd names cannot hold",
            show_char(c)
        );
        Some((what, lower_help))
    } else if let Some(c) = name.chars().find(char::is_ascii_uppercase) {
        Some((
            format!("service name `{name}` contains uppercase `{c}`"),
            lower_help,
        ))
    } else if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        let help = "service names start with a lowercase letter".to_owned();
        Some((
            format!("service name `{name}` does not start with a letter"),
            Some(help),
        ))
    } else {
        None
    }
}

fn check_commands(service: &Service, at: &FieldPath, r: &mut Report) {
    let name = &service.name;
    match service.start.first() {
        None => {
            r.error(
                Rule::StartCommand,
                at.field("start"),
                format!("service `{name}` has no start command"),
            )
            .help("give the program and its arguments, e.g. `[\"/usr/sbin/sshd\", \"-D\"]`");
        }
        Some(program) => check_program(name, "start", program, at, r),
    }
    if let Some(program) = service.stop.first() {
        check_program(name, "stop", program, at, r);
    }
}

fn check_program(name: &str, field: &str, program: &str, at: &FieldPath, r: &mut Report) {
    if let Some(problem) = absolute_path_problem(program) {
        let example = if program.contains('/') || program.is_empty() {
            "/usr/sbin/daemon".to_owned()
        } else {
            format!("/usr/sbin/{program}")
        };
        r.error(
            Rule::StartCommand,
            at.field(field).index(0),
            format!(
                "{field} program `{}` of service `{name}` {problem}",
                program.escape_debug()
            ),
        )
        .help(format!("use the program's absolute path, e.g. `{example}`"));
    }
}

fn check_user(
    os: &OperatingSystem,
    service: &Service,
    at: &FieldPath,
    root: &FieldPath,
    r: &mut Report,
) {
    let Some(user) = &service.user else { return };
    if os.users.iter().any(|u| u.name == *user) || freebsd::system_user(user).is_some() {
        return;
    }
    let names = os
        .users
        .iter()
        .map(|u| u.name.as_str())
        .chain(SYSTEM_USERS.iter().map(|s| s.name));
    let help = did_you_mean(user, names).unwrap_or_else(|| {
        "declare it in `users: [...]`, or use a FreeBSD user such as `nobody`".to_owned()
    });
    r.error(
        Rule::UnknownServiceUser,
        at.field("user"),
        format!(
            "service `{}` runs as user `{user}`, which is not declared",
            service.name
        ),
    )
    .help(help)
    .depends(root.field("users").all().field("name"));
}

fn check_environment(service: &Service, at: &FieldPath, r: &mut Report) {
    let name = &service.name;
    for (key, value) in &service.environment {
        let path = at.field("environment").key(key);
        if !is_identifier(key) {
            r.error(
                Rule::SettingKey,
                path,
                format!(
                    "environment variable `{}` of service `{name}` is not a shell identifier",
                    key.escape_debug()
                ),
            )
            .help("variable names are letters, digits and `_`, not starting with a digit");
        } else if let Some(problem) = value_problem(value) {
            r.error(
                Rule::SettingValue,
                path,
                format!("value of environment variable `{key}` of service `{name}` {problem}"),
            );
        }
    }
}

/// Reports one requirement cycle per strongly connected component of the requirement graph
/// (first declarations only), starting at the component's first-declared service and
/// pointing at the `requires` entry that closes it.
fn check_cycles(os: &OperatingSystem, services: &FieldPath, r: &mut Report) {
    let mut first_index = BTreeMap::new();
    for (i, s) in os.services.iter().enumerate() {
        first_index.entry(s.name.as_str()).or_insert(i);
    }
    let edges: Vec<Vec<(usize, usize)>> = os
        .services
        .iter()
        .enumerate()
        .map(|(i, s)| match first_index.get(s.name.as_str()) {
            Some(&first) if first == i => s
                .requires
                .iter()
                .enumerate()
                .filter_map(|(j, req)| Some((j, *first_index.get(req.as_str())?)))
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    let mut done = vec![false; edges.len()];
    for start in 0..edges.len() {
        if done[start] {
            continue;
        }
        let forward = reachable(start, |u| edges[u].iter().map(|e| e.1).collect());
        let backward = reachable(start, |u| {
            (0..edges.len())
                .filter(|&v| edges[v].iter().any(|e| e.1 == u))
                .collect()
        });
        let component: BTreeSet<usize> = forward.intersection(&backward).copied().collect();
        for &member in &component {
            done[member] = true;
        }
        if let Some((cycle, (last, j))) = shortest_cycle(start, &component, &edges) {
            let names: Vec<&str> = cycle
                .iter()
                .chain([&start])
                .map(|&i| os.services[i].name.as_str())
                .collect();
            r.error(
                Rule::RequirementCycle,
                services.index(last).field("requires").index(j),
                format!("requirement cycle: {}", names.join(" -> ")),
            )
            .help("Shepherd cannot start services that require each other; remove one of these requirements")
            .depends(services.all().field("name"))
            .depends(services.all().field("requires").all());
        }
    }
}

/// Every node reachable from `start` (including it) by `next`.
fn reachable(start: usize, next: impl Fn(usize) -> Vec<usize>) -> BTreeSet<usize> {
    let mut seen = BTreeSet::from([start]);
    let mut queue = VecDeque::from([start]);
    while let Some(u) = queue.pop_front() {
        for v in next(u) {
            if seen.insert(v) {
                queue.push_back(v);
            }
        }
    }
    seen
}

/// The shortest cycle through `start` inside `component`, breadth first in declaration
/// order: the services from `start` on, and the (service, requires index) closing it.
fn shortest_cycle(
    start: usize,
    component: &BTreeSet<usize>,
    edges: &[Vec<(usize, usize)>],
) -> Option<(Vec<usize>, (usize, usize))> {
    let mut parent: BTreeMap<usize, usize> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(u) = queue.pop_front() {
        for &(j, v) in edges.get(u)? {
            if v == start {
                let mut path = vec![u];
                while let Some(&p) = path.last().and_then(|last| parent.get(last)) {
                    path.push(p);
                }
                path.reverse();
                return Some((path, (u, j)));
            }
            if component.contains(&v) && !parent.contains_key(&v) {
                parent.insert(v, u);
                queue.push_back(v);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::test_support::broken;
    use crate::validate::{validate, Violation};
    use crate::User;

    fn os_with(services: Vec<Service>) -> OperatingSystem {
        OperatingSystem {
            host_name: "h".into(),
            services,
            ..Default::default()
        }
    }

    fn svc(name: &str, requires: &[&str]) -> Service {
        Service::new(name, ["/usr/sbin/daemon"]).requires(requires.iter().copied())
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn of_rule(spec: &OperatingSystem, rule: Rule) -> Vec<Violation> {
        validate(spec)
            .into_iter()
            .filter(|v| v.rule == rule)
            .collect()
    }

    #[test]
    fn valid_services_pass() {
        let mut sshd = Service::new("sshd", ["/usr/sbin/sshd", "-D"]).requires(["networking"]);
        sshd.environment.insert("PATH".into(), "/sbin:/bin".into());
        sshd.user = Some("sshd".into());
        sshd.log_file = Some("/var/log/sshd.log".into());
        sshd.stop = vec!["/bin/kill".into()];
        let net = Service::new("networking", ["/sbin/dhclient", "vtnet0"]).one_shot();
        assert_eq!(broken(&os_with(vec![sshd, net])), vec![]);
    }

    #[test]
    fn names() {
        let spec = os_with(vec![
            svc("Web", &[]),
            svc("root", &[]),
            svc("9lives", &[]),
            svc("a b", &[]),
            svc("", &[]),
            svc("web", &[]),
            svc("web", &[]),
        ]);
        assert_eq!(
            broken(&spec),
            pairs(&[
                ("service-name", "services[0].name"),
                ("service-name", "services[1].name"),
                ("service-name", "services[2].name"),
                ("service-name", "services[3].name"),
                ("service-name", "services[4].name"),
                ("duplicate-service", "services[6].name"),
            ])
        );
        let found = validate(&spec);
        assert_eq!(found[0].help.as_deref(), Some("did you mean `web`?"));
        assert_eq!(
            found[5].depends_on,
            vec![FieldPath::root().field("services").index(5).field("name")]
        );
    }

    #[test]
    fn commands() {
        let mut stop = svc("b", &[]);
        stop.stop = vec!["kill".into()];
        let spec = os_with(vec![
            Service::new("a", []),
            Service::new("sshd", ["sshd", "-D"]),
            stop,
        ]);
        assert_eq!(
            broken(&spec),
            pairs(&[
                ("start-command", "services[0].start"),
                ("start-command", "services[1].start[0]"),
                ("start-command", "services[2].stop[0]"),
            ])
        );
        let found = validate(&spec);
        assert_eq!(
            found[1].message,
            "start program `sshd` of service `sshd` is not an absolute path"
        );
        assert_eq!(
            found[1].help.as_deref(),
            Some("use the program's absolute path, e.g. `/usr/sbin/sshd`")
        );
    }

    #[test]
    fn undeclared_requirements() {
        let spec = os_with(vec![
            svc("networking", &[]),
            svc("sshd", &["networking", "netwrking"]),
        ]);
        assert_eq!(
            broken(&spec),
            pairs(&[("undeclared-requirement", "services[1].requires[1]")])
        );
        let v = &validate(&spec)[0];
        assert_eq!(
            v.message,
            "service `sshd` requires `netwrking`, which is not declared"
        );
        assert_eq!(v.help.as_deref(), Some("did you mean `networking`?"));
        assert_eq!(v.depends_on[0].to_string(), "services[*].name");
    }

    #[test]
    fn each_cycle_is_reported_once_where_it_closes() {
        let spec = os_with(vec![
            svc("a", &["b"]),
            svc("b", &["c"]),
            svc("c", &["x", "a"]),
            svc("x", &[]),
            svc("self", &["self"]),
            svc("p", &["q"]),
            svc("q", &["p", "a"]),
        ]);
        assert_eq!(
            broken(&spec),
            pairs(&[
                ("requirement-cycle", "services[2].requires[1]"),
                ("requirement-cycle", "services[4].requires[0]"),
                ("requirement-cycle", "services[6].requires[0]"),
            ])
        );
        let messages: Vec<_> = of_rule(&spec, Rule::RequirementCycle)
            .into_iter()
            .map(|v| v.message)
            .collect();
        assert_eq!(
            messages,
            [
                "requirement cycle: a -> b -> c -> a",
                "requirement cycle: self -> self",
                "requirement cycle: p -> q -> p",
            ]
        );
        assert_eq!(
            broken(&os_with(vec![
                svc("a", &["b"]),
                svc("b", &[]),
                svc("c", &["a", "b"])
            ])),
            vec![]
        );
    }

    #[test]
    fn service_users() {
        let mut spec = os_with(vec![svc("a", &[]), svc("b", &[]), svc("c", &[])]);
        spec.users.push(User {
            name: "web".into(),
            uid: 2000,
            group: "www".into(),
            ..User::default()
        });
        spec.services[0].user = Some("web".into());
        spec.services[1].user = Some("_dhcp".into());
        spec.services[2].user = Some("wbe".into());
        assert_eq!(
            broken(&spec),
            pairs(&[("unknown-service-user", "services[2].user")])
        );
        let v = &validate(&spec)[0];
        assert_eq!(v.help.as_deref(), Some("did you mean `web`?"));
        assert_eq!(v.depends_on[0].to_string(), "users[*].name");
    }

    #[test]
    fn rc_names_must_be_distinct_in_the_rc_d_mode_only() {
        let mut spec = os_with(vec![
            svc("a-b", &[]),
            svc("a.b", &[]),
            svc("a_b", &[]),
            svc("fruix-activate", &[]),
            svc("fruix_shepherd", &[]),
            svc("web", &[]),
        ]);
        assert_eq!(broken(&spec), vec![], "Shepherd modes have no rc.d names");
        spec.init_mode = InitMode::FreebsdInitRcd;
        assert_eq!(
            broken(&spec),
            pairs(&[
                ("rc-name-clash", "services[1].name"),
                ("rc-name-clash", "services[2].name"),
                ("rc-name-clash", "services[3].name"),
                ("rc-name-clash", "services[4].name"),
            ])
        );
        let found = validate(&spec);
        assert_eq!(
            found[0].message,
            "services `a-b` and `a.b` would both be rc.d's `a_b`"
        );
        assert_eq!(
            found[2].message,
            "service `fruix-activate` would be rc.d's `fruix_activate`, which is Fruix's own rc.d script"
        );
        assert_eq!(
            found[0].depends_on,
            vec![
                FieldPath::root().field("services").index(0).field("name"),
                FieldPath::root().field("init_mode")
            ]
        );
    }

    #[test]
    fn working_directory_and_shepherd_programs_are_absolute() {
        let mut spec = os_with(vec![svc("a", &[])]);
        spec.services[0].directory = Some("var/www".into());
        spec.shepherd.herd = "herd".into();
        assert_eq!(
            broken(&spec),
            pairs(&[
                ("not-absolute-path", "services[0].directory"),
                ("not-absolute-path", "shepherd.herd"),
            ])
        );
        assert_eq!(
            validate(&spec)[1].message,
            "Shepherd's `herd` `herd` is not an absolute path"
        );
    }

    #[test]
    fn environment_and_log_file() {
        let mut spec = os_with(vec![svc("a", &[])]);
        let env = &mut spec.services[0].environment;
        env.insert("GOOD".into(), "fine value".into());
        env.insert("BAD-KEY".into(), "x".into());
        env.insert("LINES".into(), "a\nb".into());
        spec.services[0].log_file = Some("var/log/a.log".into());
        assert_eq!(
            broken(&spec),
            pairs(&[
                ("setting-key", "services[0].environment[\"BAD-KEY\"]"),
                ("setting-value", "services[0].environment[\"LINES\"]"),
                ("not-absolute-path", "services[0].log_file"),
            ])
        );
    }
}
