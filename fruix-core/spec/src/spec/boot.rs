//! Boot loader (`loader.conf`) settings and the init mode.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// `loader.conf` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Loader {
    /// Consoles, in `console="a,b"` order.
    pub console: Vec<Console>,
    /// `comconsole_speed`: one of the standard serial speeds.
    pub serial_speed: u32,
    /// Seconds before autoboot; `-1` boots at once without a chance to interrupt.
    pub autoboot_delay: i32,
    /// Show the beastie boot menu.
    pub menu: bool,
    /// Extra `name="value"` lines.
    pub entries: BTreeMap<String, String>,
}

impl Default for Loader {
    fn default() -> Self {
        Loader {
            console: vec![Console::Comconsole],
            serial_speed: 115_200,
            autoboot_delay: 3,
            menu: false,
            entries: BTreeMap::new(),
        }
    }
}

/// Serial speeds `comconsole_speed` accepts on FreeBSD's uart consoles.
pub const STANDARD_SERIAL_SPEEDS: &[u32] = &[9600, 19_200, 38_400, 57_600, 115_200];

/// A FreeBSD loader console (`console=` in loader.conf).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Console {
    /// COM1 driven directly by the loader (bhyve's `-l com1,stdio`).
    #[default]
    Comconsole,
    /// The VGA/framebuffer console.
    Vidconsole,
    /// The UEFI firmware's console.
    Efi,
    /// The UEFI firmware's serial protocol.
    Eficom,
    /// Discard output.
    Nullconsole,
    /// Spinning-wheel "console".
    Spinconsole,
}

impl Console {
    /// Every console, in the order "expected one of" lists them.
    pub const ALL: &'static [Console] = &[
        Console::Comconsole,
        Console::Vidconsole,
        Console::Efi,
        Console::Eficom,
        Console::Nullconsole,
        Console::Spinconsole,
    ];

    /// Whether the console is a serial line (the loader's own COM driver or UEFI's).
    pub fn is_serial(self) -> bool {
        matches!(self, Console::Comconsole | Console::Eficom)
    }

    /// loader.conf's name for the console (`comconsole`).
    pub fn name(self) -> &'static str {
        match self {
            Console::Comconsole => "comconsole",
            Console::Vidconsole => "vidconsole",
            Console::Efi => "efi",
            Console::Eficom => "eficom",
            Console::Nullconsole => "nullconsole",
            Console::Spinconsole => "spinconsole",
        }
    }
}

impl fmt::Display for Console {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Console {
    type Err = crate::validate::UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::validate::names::lookup("loader console", s, Console::ALL, |c| c.name())
    }
}

/// Which service manager starts the declared services, and how it is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum InitMode {
    /// FreeBSD's init and rc.d boot the system; an rc.d script starts Shepherd (upstream default).
    #[default]
    #[serde(rename = "freebsd-init+rc.d-shepherd")]
    FreebsdInitRcShepherd,
    /// Shepherd is PID 1 (`init_exec` in loader.conf).
    #[serde(rename = "shepherd-pid1")]
    ShepherdPid1,
    /// FreeBSD's init and rc.d, and nothing else: each service is an rc.d script of its own
    /// under daemon(8). Needs nothing beyond FreeBSD's base.
    #[serde(rename = "freebsd-init+rc.d")]
    FreebsdInitRcd,
}

impl InitMode {
    /// Every init mode, in the order "expected one of" lists them.
    pub const ALL: &'static [InitMode] = &[
        InitMode::FreebsdInitRcShepherd,
        InitMode::ShepherdPid1,
        InitMode::FreebsdInitRcd,
    ];

    /// The name used in declarations and metadata (`shepherd-pid1`).
    pub fn name(self) -> &'static str {
        match self {
            InitMode::FreebsdInitRcShepherd => "freebsd-init+rc.d-shepherd",
            InitMode::ShepherdPid1 => "shepherd-pid1",
            InitMode::FreebsdInitRcd => "freebsd-init+rc.d",
        }
    }

    /// Whether GNU Shepherd runs the services (and so must be installed).
    pub fn uses_shepherd(self) -> bool {
        self != InitMode::FreebsdInitRcd
    }

    /// Whether FreeBSD's init(8) runs rc(8) at boot.
    pub fn uses_rc(self) -> bool {
        self != InitMode::ShepherdPid1
    }
}

impl fmt::Display for InitMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for InitMode {
    type Err = crate::validate::UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::validate::names::lookup("init mode", s, InitMode::ALL, |m| m.name())
    }
}
