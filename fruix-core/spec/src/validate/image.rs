//! Disk image layout: sizes (sector multiples, FAT minimums, room for the root partition)
//! and GPT labels. The rules themselves are [`crate::geometry`]'s; this module says where
//! a declaration breaks them, and how to fix it.

use super::syntax::{earlier_duplicates, show_char};
use super::{FieldPath, Report, Rule};
use crate::geometry::{
    self, fat_minimum, gpt_label_problem, GptLabelProblem, PartitionGeometry, SECTOR,
};
use crate::{ByteSize, FatType, ImageSize, OperatingSystem, GPT_LABEL_MAX};

/// Checks `image`.
pub(crate) fn check(os: &OperatingSystem, root: &FieldPath, r: &mut Report) {
    let image = root.field("image");
    let layout = &os.image;
    if let ImageSize::Fixed(size) = layout.size {
        let size_ok = check_size(size, "image size", Rule::ImageSize, &image.field("size"), r);
        let overhead = ByteSize(PartitionGeometry::of(layout).overhead());
        if size_ok && size <= overhead {
            let whole_mib = ByteSize::mib(overhead.bytes().div_ceil(geometry::ALIGN));
            r.error(
                Rule::ImageSize,
                image.field("size"),
                format!(
                    "image size `{size}` leaves no room for the root partition: \
                     the ESP, swap, 1MiB alignment and GPT take {}",
                    kib(overhead)
                ),
            )
            .help(format!(
                "make it larger than `{whole_mib}` by the root file system's size, or use `auto`"
            ))
            .depends(image.field("esp_size"))
            .depends(image.field("swap").field("size"));
        }
    }
    if check_size(
        layout.esp_size,
        "ESP size",
        Rule::EspSize,
        &image.field("esp_size"),
        r,
    ) {
        let min = fat_minimum(layout.esp_fat);
        let fat = match layout.esp_fat {
            FatType::Fat32 => "FAT32",
            FatType::Fat16 => "FAT16",
        };
        if layout.esp_size < min {
            let whole_mib = ByteSize::mib(min.bytes().div_ceil(geometry::ALIGN));
            let mut help = format!("use at least `{}` (e.g. `{whole_mib}`)", kib(min));
            if layout.esp_fat == FatType::Fat32 {
                help.push_str(" or `esp_fat: fat16`");
            }
            r.error(
                Rule::EspSize,
                image.field("esp_size"),
                format!(
                    "ESP size {} is below the {fat} minimum of {}",
                    kib(layout.esp_size),
                    kib(min)
                ),
            )
            .help(help)
            .depends(image.field("esp_fat"));
        }
    }
    if let Some(part) = &layout.swap {
        check_size(
            part.size,
            "swap size",
            Rule::ImageSize,
            &image.field("swap").field("size"),
            r,
        );
    }
    check_labels(os, &image, r);
}

/// Reports a zero size or one that is not a whole number of sectors; true when fine.
fn check_size(size: ByteSize, what: &str, rule: Rule, at: &FieldPath, r: &mut Report) -> bool {
    if size.bytes() == 0 {
        r.error(rule, at.clone(), format!("{what} is zero"));
        false
    } else if !geometry::is_whole_sectors(size.bytes()) {
        let up = ByteSize(size.bytes().div_ceil(SECTOR).saturating_mul(SECTOR));
        r.error(
            rule,
            at.clone(),
            format!("{what} `{size}` is not a multiple of 512 bytes"),
        )
        .help(format!(
            "round it to a whole number of sectors, e.g. `{up}`"
        ));
        false
    } else {
        true
    }
}

/// A size in KiB, as `33292KiB` or `4117.5KiB`.
fn kib(size: ByteSize) -> String {
    let b = size.bytes();
    let thousandths = format!("{:03}", (b % 1024) * 1000 / 1024);
    match thousandths.trim_end_matches('0') {
        "" => format!("{}KiB", b / 1024),
        fraction => format!("{}.{fraction}KiB", b / 1024),
    }
}

fn check_labels(os: &OperatingSystem, image: &FieldPath, r: &mut Report) {
    let labels = os.image.labels();
    let path_of = |field: &str| field.split('.').fold(image.clone(), |p, f| p.field(f));
    let same = earlier_duplicates(labels.iter().map(|(_, l)| (!l.is_empty()).then_some(*l)));
    for ((field, label), first) in labels.iter().zip(same) {
        let at = path_of(field);
        let problem = gpt_label_problem(label).map(|problem| match problem {
            GptLabelProblem::Empty => "GPT label is empty".to_owned(),
            GptLabelProblem::TooLong { units } => format!(
                "GPT label `{label}` is {units} UTF-16 units long; GPT allows {GPT_LABEL_MAX}"
            ),
            GptLabelProblem::Char(c) => format!(
                "GPT label `{}` contains {}",
                label.escape_debug(),
                show_char(c)
            ),
        });
        if let Some(problem) = problem {
            r.error(Rule::GptLabel, at, problem)
                .help("labels become `/dev/gpt/<label>`; use letters, digits, `-` and `_`");
        } else if let Some((first_field, _)) = first.and_then(|i| labels.get(i)) {
            r.error(
                Rule::DuplicateGptLabel,
                at,
                format!("duplicate GPT label `{label}`: `image.{first_field}` already uses it"),
            )
            .depends(path_of(first_field));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::test_support::broken;
    use crate::validate::validate;
    use crate::SwapPartition;

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
    fn valid_layouts_pass() {
        let mut spec = os();
        spec.image.size = ImageSize::Fixed(ByteSize::gib(2));
        spec.image.swap = Some(SwapPartition::default());
        assert_eq!(broken(&spec), vec![]);
        spec.image.esp_size = ByteSize::kib(33_292);
        assert_eq!(broken(&spec), vec![]);
        spec.image.esp_fat = FatType::Fat16;
        spec.image.esp_size = ByteSize::mib(5);
        assert_eq!(broken(&spec), vec![]);
    }

    #[test]
    fn sizes() {
        let mut spec = os();
        spec.image.size = ImageSize::Fixed(ByteSize(1000));
        spec.image.esp_size = ByteSize(0);
        spec.image.swap = Some(SwapPartition {
            size: ByteSize(513),
            label: "swapfs".into(),
        });
        assert_eq!(
            broken(&spec),
            pairs(&[
                ("image-size", "image.size"),
                ("esp-size", "image.esp_size"),
                ("image-size", "image.swap.size")
            ])
        );
        assert_eq!(
            validate(&spec)[0].help.as_deref(),
            Some("round it to a whole number of sectors, e.g. `1KiB`")
        );
    }

    #[test]
    fn image_must_leave_room_for_root() {
        let mut spec = os();
        spec.image.size = ImageSize::Fixed(ByteSize::mib(34));
        assert_eq!(broken(&spec), pairs(&[("image-size", "image.size")]));
        let v = &validate(&spec)[0];
        assert_eq!(
            v.message,
            "image size `34MiB` leaves no room for the root partition: \
             the ESP, swap, 1MiB alignment and GPT take 34832.5KiB"
        );
        assert_eq!(
            v.help.as_deref(),
            Some("make it larger than `35MiB` by the root file system's size, or use `auto`")
        );
        spec.image.size = ImageSize::Fixed(ByteSize::mib(36));
        assert_eq!(broken(&spec), vec![]);
        spec.image.swap = Some(SwapPartition::default());
        assert_eq!(broken(&spec), pairs(&[("image-size", "image.size")]));
    }

    #[test]
    fn esp_minimums() {
        let mut spec = os();
        spec.image.esp_size = ByteSize::mib(32);
        assert_eq!(broken(&spec), pairs(&[("esp-size", "image.esp_size")]));
        let v = &validate(&spec)[0];
        assert_eq!(
            v.message,
            "ESP size 32768KiB is below the FAT32 minimum of 33292KiB"
        );
        assert_eq!(
            v.help.as_deref(),
            Some("use at least `33292KiB` (e.g. `33MiB`) or `esp_fat: fat16`")
        );
        assert_eq!(v.depends_on[0].to_string(), "image.esp_fat");
        spec.image.esp_fat = FatType::Fat16;
        assert_eq!(broken(&spec), vec![]);
        spec.image.esp_size = ByteSize::mib(4);
        let v = &validate(&spec)[0];
        assert_eq!(
            v.message,
            "ESP size 4096KiB is below the FAT16 minimum of 4118KiB"
        );
        assert_eq!(
            v.help.as_deref(),
            Some("use at least `4118KiB` (e.g. `5MiB`)")
        );
        assert_eq!(kib(ByteSize(4_216_320)), "4117.5KiB");
    }

    #[test]
    fn labels() {
        let mut spec = os();
        spec.image.esp_label = "efi boot".into();
        spec.image.root_label = "x".repeat(37);
        spec.image.swap = Some(SwapPartition {
            size: ByteSize::mib(64),
            label: String::new(),
        });
        let image_only: Vec<_> = broken(&spec)
            .into_iter()
            .filter(|(_, p)| p.starts_with("image."))
            .collect();
        assert_eq!(
            image_only,
            pairs(&[
                ("gpt-label", "image.esp_label"),
                ("gpt-label", "image.root_label"),
                ("gpt-label", "image.swap.label")
            ])
        );
        let mut spec = os();
        spec.image.swap = Some(SwapPartition {
            size: ByteSize::mib(64),
            label: "efiboot".into(),
        });
        assert_eq!(
            broken(&spec),
            pairs(&[("duplicate-gpt-label", "image.swap.label")])
        );
        let v = &validate(&spec)[0];
        assert_eq!(
            v.message,
            "duplicate GPT label `efiboot`: `image.esp_label` already uses it"
        );
        assert_eq!(v.depends_on[0].to_string(), "image.esp_label");
    }
}
