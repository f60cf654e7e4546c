//! Boot loader settings: consoles, serial speed and autoboot delay.

use super::syntax::earlier_duplicates;
use super::{FieldPath, Report, Rule};
use crate::{OperatingSystem, STANDARD_SERIAL_SPEEDS};

/// Checks `loader` (its `entries` are checked with the other settings files).
pub(crate) fn check(os: &OperatingSystem, root: &FieldPath, r: &mut Report) {
    let loader = root.field("loader");
    let consoles = &os.loader.console;
    if consoles.is_empty() {
        r.error(
            Rule::InvalidValue,
            loader.field("console"),
            "no loader console is set",
        )
        .help("use `comconsole` for bhyve's serial console (`-l com1,stdio`)");
    }
    let same = earlier_duplicates(consoles.iter().map(|c| Some(c.name())));
    for (j, first) in same.into_iter().enumerate() {
        let (Some(first), Some(console)) = (first, consoles.get(j)) else {
            continue;
        };
        r.error(
            Rule::InvalidValue,
            loader.field("console").index(j),
            format!("console `{console}` is listed twice"),
        )
        .depends(loader.field("console").index(first));
    }
    let speed = os.loader.serial_speed;
    if !STANDARD_SERIAL_SPEEDS.contains(&speed) {
        let listed: Vec<String> = STANDARD_SERIAL_SPEEDS
            .iter()
            .map(|s| format!("`{s}`"))
            .collect();
        let mut help = format!("use one of {}", listed.join(", "));
        if let Some(near) = STANDARD_SERIAL_SPEEDS
            .iter()
            .min_by_key(|s| s.abs_diff(speed))
        {
            help.push_str(&format!("; did you mean `{near}`?"));
        }
        r.error(
            Rule::SerialSpeed,
            loader.field("serial_speed"),
            format!("serial speed `{speed}` is not a standard serial speed"),
        )
        .help(help);
    }
    let delay = os.loader.autoboot_delay;
    if delay < -1 {
        r.error(
            Rule::AutobootDelay,
            loader.field("autoboot_delay"),
            format!("autoboot delay `{delay}` is below `-1`"),
        )
        .help("use `-1` to boot at once without a chance to interrupt, or a number of seconds");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::test_support::broken;
    use crate::validate::validate;
    use crate::Console;

    fn os() -> OperatingSystem {
        OperatingSystem {
            host_name: "h".into(),
            ..Default::default()
        }
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn valid_loader_settings_pass() {
        let mut spec = os();
        for speed in STANDARD_SERIAL_SPEEDS {
            spec.loader.serial_speed = *speed;
            spec.loader.autoboot_delay = -1;
            spec.loader.console = vec![Console::Comconsole, Console::Vidconsole];
            assert_eq!(broken(&spec), vec![]);
        }
    }

    #[test]
    fn bad_loader_settings() {
        let mut spec = os();
        spec.loader.serial_speed = 115_000;
        spec.loader.autoboot_delay = -2;
        spec.loader.console = vec![Console::Efi, Console::Comconsole, Console::Efi];
        assert_eq!(
            broken(&spec),
            pairs(&[
                ("invalid-value", "loader.console[2]"),
                ("serial-speed", "loader.serial_speed"),
                ("autoboot-delay", "loader.autoboot_delay"),
            ])
        );
        let found = validate(&spec);
        assert_eq!(found[0].message, "console `efi` is listed twice");
        assert_eq!(
            found[1].help.as_deref(),
            Some("use one of `9600`, `19200`, `38400`, `57600`, `115200`; did you mean `115200`?")
        );
        spec.loader.console.clear();
        assert_eq!(
            broken(&spec)[0],
            ("invalid-value".to_owned(), "loader.console".to_owned())
        );
    }
}
