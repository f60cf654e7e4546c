//! File systems and swap: mount points, the root file system, devices (GPT labels must be
//! partitions of the image), fsck passes and mount options.

use super::syntax::{
    absolute_path_problem, did_you_mean, earlier_duplicates, maybe_help, show_char,
};
use super::{FieldPath, Report, Rule};
use crate::{Device, FileSystem, FsKind, OperatingSystem};

/// Checks `file_systems` and `swap`.
pub(crate) fn check(os: &OperatingSystem, root: &FieldPath, r: &mut Report) {
    let file_systems = root.field("file_systems");
    let mounts: Vec<Option<&str>> = os
        .file_systems
        .iter()
        .map(|f| mount_key(&f.mount))
        .collect();
    if !mounts.contains(&Some("/")) {
        r.error(
            Rule::NoRootFileSystem,
            file_systems.clone(),
            "no file system is mounted on `/`",
        )
        .help(format!(
            "add a `ufs` file system mounted on `/` from GPT label `{}`",
            os.image.root_label
        ))
        .depends(file_systems.all().field("mount"));
    }
    let same_mounts = earlier_duplicates(mounts.iter().copied());
    for (i, fs) in os.file_systems.iter().enumerate() {
        let at = file_systems.index(i);
        let mount = &fs.mount;
        if let Some(problem) = absolute_path_problem(mount) {
            r.error(
                Rule::MountPoint,
                at.field("mount"),
                format!("mount point `{}` {problem}", mount.escape_debug()),
            )
            .help("use an absolute path such as `/data`");
        } else if let Some(c) = mount.chars().find(|c| c.is_whitespace()) {
            r.error(
                Rule::MountPoint,
                at.field("mount"),
                format!(
                    "mount point `{mount}` contains {}, which fstab cannot hold",
                    show_char(c)
                ),
            );
        } else if let Some(first) = same_mounts[i] {
            r.error(
                Rule::DuplicateMountPoint,
                at.field("mount"),
                format!(
                    "duplicate mount point `{mount}`: `file_systems[{first}]` already mounts it"
                ),
            )
            .depends(file_systems.index(first).field("mount"));
        }
        if mounts[i] == Some("/") {
            check_root(os, fs, &at, root, r);
        }
        let what = format!("`{}` file system on `{mount}`", fs.kind);
        let entry = Entry {
            device: fs.device.as_ref(),
            kind: fs.kind,
            what: &what,
            at: &at,
            kind_at: Some(at.field("kind")),
        };
        check_device(os, &entry, root, r);
        check_pass(fs, &what, &at, r);
        for (j, option) in fs.options.iter().enumerate() {
            let problem = match option
                .chars()
                .find(|c| *c == ',' || c.is_whitespace() || c.is_control())
            {
                _ if option.is_empty() => "mount option is empty".to_owned(),
                Some(c) => format!(
                    "mount option `{}` contains {}",
                    option.escape_debug(),
                    show_char(c)
                ),
                None => continue,
            };
            r.error(Rule::InvalidValue, at.field("options").index(j), problem)
                .help("give each option as its own list entry, e.g. `[\"rw\", \"noatime\"]`");
        }
    }
    for (i, swap) in os.swap.iter().enumerate() {
        let at = root.field("swap").index(i).field("device");
        match &swap.device {
            None => {
                let v = r.error(Rule::Device, at, "swap entry has no device");
                match &os.image.swap {
                    Some(part) => v.help(format!(
                        "use the image's swap partition, GPT label `{}`",
                        part.label
                    )),
                    None => v.help("name a GPT label or a device path"),
                };
            }
            device => {
                let entry = Entry {
                    device: device.as_ref(),
                    kind: FsKind::Ufs,
                    what: "swap",
                    at: &root.field("swap").index(i),
                    kind_at: None,
                };
                check_device(os, &entry, root, r);
            }
        }
    }
}

/// The mount point as compared for duplicates (`/tmp/` is `/tmp`); `None` when invalid.
fn mount_key(mount: &str) -> Option<&str> {
    if absolute_path_problem(mount).is_some() {
        return None;
    }
    match mount.trim_end_matches('/') {
        "" => Some("/"),
        trimmed => Some(trimmed),
    }
}

fn check_root(
    os: &OperatingSystem,
    fs: &FileSystem,
    at: &FieldPath,
    root: &FieldPath,
    r: &mut Report,
) {
    if fs.kind != FsKind::Ufs {
        r.error(
            Rule::RootFileSystem,
            at.field("kind"),
            format!("the root file system must be `ufs`, not `{}`", fs.kind),
        )
        .help("Fruix images boot from a UFS2 root partition")
        .depends(at.field("mount"));
    }
    let root_label = &os.image.root_label;
    if let Some(Device::GptLabel(label)) = &fs.device {
        let known = os.image.labels().iter().any(|(_, l)| l == label);
        if known && label != root_label {
            r.error(
                Rule::RootFileSystem,
                at.field("device"),
                format!("the root file system is on GPT label `{label}`, not on the image's root partition `{root_label}`"),
            )
            .help(format!("use GPT label `{root_label}`"))
            .depends(at.field("mount"))
            .depends(root.field("image").field("root_label"));
        }
    }
}

/// A file system or swap entry whose device is checked.
struct Entry<'a> {
    device: Option<&'a Device>,
    /// The kind the device is checked for (`ufs` for swap: it needs a device).
    kind: FsKind,
    /// How messages name the entry ("`ufs` file system on `/data`").
    what: &'a str,
    /// The entry (`file_systems[i]` or `swap[i]`).
    at: &'a FieldPath,
    /// Where the kind is declared, if the entry has one.
    kind_at: Option<FieldPath>,
}

fn check_device(os: &OperatingSystem, entry: &Entry, root: &FieldPath, r: &mut Report) {
    let (kind, what) = (entry.kind, entry.what);
    let at = &entry.at.field("device");
    let kind_error = |r: &mut Report, message: String, help: String| {
        let v = r.error(Rule::Device, at.clone(), message).help(help);
        if let Some(kind_at) = &entry.kind_at {
            v.depends(kind_at.clone());
        }
    };
    match entry.device {
        None if kind.needs_device() => {
            let help = match kind {
                FsKind::Nullfs => "give the directory it mirrors as a device path".to_owned(),
                _ => format!("name its GPT label, e.g. `{}`", os.image.root_label),
            };
            kind_error(r, format!("{what} has no device"), help);
        }
        None => {}
        Some(_) if kind.is_pseudo() => {
            let help = "remove `device`; fstab names pseudo file systems by their type";
            kind_error(r, format!("{what} takes no device"), help.to_owned());
        }
        Some(Device::GptLabel(label)) if kind == FsKind::Nullfs => {
            let message = format!("{what} mirrors a directory, not GPT label `{label}`");
            let help = "give the source directory as a device path".to_owned();
            kind_error(r, message, help);
        }
        Some(Device::GptLabel(label)) => {
            let mut labels: Vec<&str> = Vec::new();
            for (_, l) in os.image.labels() {
                if !labels.contains(&l) {
                    labels.push(l);
                }
            }
            if !labels.contains(&label.as_str()) {
                let image = root.field("image");
                let v = r.error(
                    Rule::UnknownGptLabel,
                    at.clone(),
                    format!("GPT label `{label}` of {what} is not a partition of the image"),
                );
                v.depends(image.field("esp_label"))
                    .depends(image.field("root_label"))
                    .depends(image.field("swap").field("label"));
                let known = labels
                    .iter()
                    .map(|l| format!("`{l}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let help = did_you_mean(label, labels.iter().copied())
                    .unwrap_or_else(|| format!("the image's partitions are labelled {known}"));
                maybe_help(v, Some(help));
            }
        }
        Some(Device::Path(path)) => {
            let problem = absolute_path_problem(path).map(str::to_owned).or_else(|| {
                let c = path.chars().find(|c| c.is_whitespace())?;
                Some(format!(
                    "contains {}, which fstab cannot hold",
                    show_char(c)
                ))
            });
            if let Some(problem) = problem {
                r.error(
                    Rule::Device,
                    at.clone(),
                    format!("device `{}` of {what} {problem}", path.escape_debug()),
                )
                .help("use an absolute path such as `/dev/vtbd1p1`");
            }
        }
    }
}

fn check_pass(fs: &FileSystem, what: &str, at: &FieldPath, r: &mut Report) {
    let Some(pass) = fs.pass.filter(|p| *p != 0) else {
        return;
    };
    if fs.kind.is_pseudo() || fs.kind == FsKind::Nullfs {
        r.error(
            Rule::PseudoFsckPass,
            at.field("pass"),
            format!("{what} has fsck pass `{pass}`, but fsck cannot check it"),
        )
        .help("use `pass: 0` or leave it out")
        .depends(at.field("kind"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::test_support::broken;
    use crate::validate::validate;
    use crate::{ImageLayout, Swap, SwapPartition};

    fn os() -> OperatingSystem {
        OperatingSystem {
            host_name: "h".into(),
            ..Default::default()
        }
    }

    fn fs(mount: &str, kind: FsKind, device: Option<Device>) -> FileSystem {
        FileSystem {
            mount: mount.into(),
            kind,
            device,
            ..FileSystem::default()
        }
    }

    fn label(l: &str) -> Option<Device> {
        Some(Device::GptLabel(l.into()))
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn usual_file_systems_pass() {
        let mut spec = os();
        spec.file_systems.push(fs("/tmp", FsKind::Tmpfs, None));
        spec.file_systems.push(fs("/proc", FsKind::Procfs, None));
        spec.file_systems.push(fs(
            "/data",
            FsKind::Nullfs,
            Some(Device::Path("/srv/data".into())),
        ));
        spec.file_systems[3].options = vec!["rw".into(), "mode=1777".into()];
        spec.file_systems[3].pass = Some(0);
        spec.image.swap = Some(SwapPartition::default());
        spec.swap.push(Swap {
            device: label("swapfs"),
        });
        assert_eq!(broken(&spec), vec![]);
    }

    #[test]
    fn mount_points() {
        let mut spec = os();
        spec.file_systems.push(fs("tmp", FsKind::Tmpfs, None));
        spec.file_systems.push(fs("/dev/", FsKind::Devfs, None));
        spec.file_systems.push(fs("/my data", FsKind::Tmpfs, None));
        assert_eq!(
            broken(&spec),
            pairs(&[
                ("mount-point", "file_systems[3].mount"),
                ("duplicate-mount-point", "file_systems[4].mount"),
                ("mount-point", "file_systems[5].mount"),
            ])
        );
        let dup = &validate(&spec)[1];
        assert_eq!(
            dup.message,
            "duplicate mount point `/dev/`: `file_systems[2]` already mounts it"
        );
        assert_eq!(dup.depends_on[0].to_string(), "file_systems[2].mount");
    }

    #[test]
    fn root_file_system() {
        let mut spec = os();
        spec.file_systems.remove(0);
        assert_eq!(
            broken(&spec),
            pairs(&[("no-root-file-system", "file_systems")])
        );
        assert_eq!(
            validate(&spec)[0].depends_on[0].to_string(),
            "file_systems[*].mount"
        );
        spec.file_systems.push(fs("/", FsKind::Tmpfs, None));
        assert_eq!(
            broken(&spec),
            pairs(&[("root-file-system", "file_systems[2].kind")])
        );
        spec.file_systems[2] = fs("/", FsKind::Ufs, label("efiboot"));
        assert_eq!(
            broken(&spec),
            pairs(&[("root-file-system", "file_systems[2].device")])
        );
    }

    #[test]
    fn devices() {
        let mut spec = os();
        spec.file_systems.push(fs("/data", FsKind::Ufs, None));
        spec.file_systems
            .push(fs("/tmp", FsKind::Tmpfs, label("fruix-root")));
        spec.file_systems
            .push(fs("/mirror", FsKind::Nullfs, label("fruix-root")));
        spec.file_systems.push(fs(
            "/disk",
            FsKind::Ufs,
            Some(Device::Path("ada0p3".into())),
        ));
        spec.file_systems
            .push(fs("/typo", FsKind::Ufs, label("fruix-rot")));
        spec.swap.push(Swap { device: None });
        spec.swap.push(Swap {
            device: label("swapfs"),
        });
        assert_eq!(
            broken(&spec),
            pairs(&[
                ("device", "file_systems[3].device"),
                ("device", "file_systems[4].device"),
                ("device", "file_systems[5].device"),
                ("device", "file_systems[6].device"),
                ("unknown-gpt-label", "file_systems[7].device"),
                ("device", "swap[0].device"),
                ("unknown-gpt-label", "swap[1].device"),
            ])
        );
        let found = validate(&spec);
        assert_eq!(
            found[4].message,
            "GPT label `fruix-rot` of `ufs` file system on `/typo` is not a partition of the image"
        );
        assert_eq!(found[4].help.as_deref(), Some("did you mean `fruix-root`?"));
        let deps: Vec<_> = found[4]
            .depends_on
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            deps,
            ["image.esp_label", "image.root_label", "image.swap.label"]
        );
        assert_eq!(
            found[6].help.as_deref(),
            Some("the image's partitions are labelled `efiboot`, `fruix-root`")
        );
        spec.image = ImageLayout {
            swap: Some(SwapPartition::default()),
            ..ImageLayout::default()
        };
        assert_eq!(broken(&spec).len(), 6);
    }

    #[test]
    fn pseudo_fsck_pass_and_options() {
        let mut spec = os();
        spec.file_systems[2].pass = Some(2);
        spec.file_systems[1].pass = Some(2);
        spec.file_systems[1].options = vec!["rw,noatime".into(), String::new(), "ro".into()];
        assert_eq!(
            broken(&spec),
            pairs(&[
                ("invalid-value", "file_systems[1].options[0]"),
                ("invalid-value", "file_systems[1].options[1]"),
                ("pseudo-fsck-pass", "file_systems[2].pass"),
            ])
        );
        assert_eq!(
            validate(&spec)[2].help.as_deref(),
            Some("use `pass: 0` or leave it out")
        );
    }
}
