//! GNU Shepherd services.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One Shepherd service (`(service '(NAME) …)` in the generated `init.scm`).
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
    /// The whole environment of the process (Shepherd replaces, not extends, it).
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
    /// One line for `herd doc`.
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
}
