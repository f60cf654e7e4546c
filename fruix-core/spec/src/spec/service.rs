//! Services, and where GNU Shepherd is installed when it runs them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One service: a Shepherd service (`(service '(NAME) …)` in the generated `init.scm`) in
/// the Shepherd init modes, an rc.d script in `/usr/local/etc/rc.d` in `freebsd-init+rc.d`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Service {
    /// Service name: lowercase letters, digits, `-`, `_`, `.`, starting with a letter.
    pub name: String,
    /// Services that must be running first.
    pub requires: Vec<String>,
    /// Program (absolute path) and arguments.
    pub start: Vec<String>,
    /// Stop command; empty means "send SIGTERM to the started process".
    pub stop: Vec<String>,
    /// The whole environment of the process (replaced, not extended, as Shepherd does);
    /// empty means the service manager's own environment.
    pub environment: BTreeMap<String, String>,
    /// Run as this user (with its primary group); `None` means root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Restart the process when it dies.
    pub respawn: bool,
    /// Runs to completion once instead of staying up (e.g. network configuration).
    pub one_shot: bool,
    /// Where the process's output goes; `None` means `/var/log/<name>.log`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_file: Option<String>,
    /// The process's working directory; `None` means `/`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directory: Option<String>,
    /// One line for `herd doc` and `service NAME describe`.
    pub documentation: String,
}

impl Default for Service {
    fn default() -> Self {
        Service {
            name: String::new(),
            requires: Vec::new(),
            start: Vec::new(),
            stop: Vec::new(),
            environment: BTreeMap::new(),
            user: None,
            respawn: true,
            one_shot: false,
            log_file: None,
            directory: None,
            documentation: String::new(),
        }
    }
}

impl Service {
    /// A long-running service: `Service::new("sshd", ["/usr/sbin/sshd", "-D"])`.
    pub fn new<'a>(name: &str, start: impl IntoIterator<Item = &'a str>) -> Service {
        Service {
            name: name.to_owned(),
            start: start.into_iter().map(str::to_owned).collect(),
            ..Service::default()
        }
    }

    /// Adds requirements.
    pub fn requires<'a>(mut self, names: impl IntoIterator<Item = &'a str>) -> Service {
        self.requires.extend(names.into_iter().map(str::to_owned));
        self
    }

    /// Makes the service one-shot (and not respawned).
    pub fn one_shot(mut self) -> Service {
        self.one_shot = true;
        self.respawn = false;
        self
    }

    /// The log file the service's output goes to.
    pub fn log_path(&self) -> String {
        self.log_file
            .clone()
            .unwrap_or_else(|| format!("/var/log/{}.log", self.name))
    }

    /// The working directory the service starts in.
    pub fn working_directory(&self) -> &str {
        self.directory.as_deref().unwrap_or("/")
    }

    /// The name rc.d knows the service by (`name=`, `PROVIDE:`, `<rc_name>_enable` in
    /// rc.conf): a shell identifier, so `-` and `.` become `_` (as FreeBSD's `ftp-proxy`
    /// script is `ftpproxy`). The script's file name keeps the service name.
    pub fn rc_name(&self) -> String {
        rc_name(&self.name)
    }
}

/// [`Service::rc_name`] of a service name.
pub fn rc_name(service: &str) -> String {
    service.replace(['-', '.'], "_")
}

/// Where the system's GNU Shepherd is installed, for the Shepherd init modes: some
/// package of the system must provide both programs at these paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShepherdPrograms {
    /// The `shepherd` daemon.
    pub program: String,
    /// Its control command, `herd`.
    pub herd: String,
}

impl Default for ShepherdPrograms {
    /// FreeBSD's ports and packages prefix, `/usr/local`.
    fn default() -> Self {
        ShepherdPrograms {
            program: "/usr/local/bin/shepherd".to_owned(),
            herd: "/usr/local/bin/herd".to_owned(),
        }
    }
}
