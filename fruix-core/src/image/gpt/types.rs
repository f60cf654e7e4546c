//! GUIDs as GPT stores them, and the partition types fruix knows by name.

use std::fmt;
use std::str::FromStr;

/// A GUID as GPT stores it: 16 bytes whose first three fields are little-endian
/// ("mixed-endian"), written as text in the usual `8-4-4-4-12` hex form.
///
/// `C12A7328-F81F-11D2-BA4B-00A0C93EC93B` is stored as `28 73 2A C1 1F F8 D2 11 BA 4B ...`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Guid([u8; 16]);

/// Why a text is not a GUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a GUID (want 8-4-4-4-12 hex digits)")]
pub struct GuidError(pub String);

impl Guid {
    /// The all-zero GUID; as a partition type it marks an unused entry.
    pub const ZERO: Guid = Guid([0; 16]);

    /// The GUID whose text form is `d1-d2-d3-d4[0..2]-d4[2..8]`, as RFC 4122 splits it.
    pub const fn from_fields(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> Guid {
        let a = d1.to_le_bytes();
        let b = d2.to_le_bytes();
        let c = d3.to_le_bytes();
        Guid([
            a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4],
            d4[5], d4[6], d4[7],
        ])
    }

    /// The GUID stored as these 16 bytes on disk.
    pub const fn from_disk_bytes(bytes: [u8; 16]) -> Guid {
        Guid(bytes)
    }

    /// The 16 bytes to store on disk.
    pub const fn to_disk_bytes(self) -> [u8; 16] {
        self.0
    }

    /// Whether this is [`Guid::ZERO`].
    pub fn is_zero(self) -> bool {
        self == Guid::ZERO
    }

    /// The bytes in text order: the first three fields turned big-endian.
    fn text_order(self) -> [u8; 16] {
        let mut b = self.0;
        b[0..4].reverse();
        b[4..6].reverse();
        b[6..8].reverse();
        b
    }

    fn write(self, f: &mut fmt::Formatter<'_>, upper: bool) -> fmt::Result {
        for (i, byte) in self.text_order().iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            if upper {
                write!(f, "{byte:02X}")?;
            } else {
                write!(f, "{byte:02x}")?;
            }
        }
        Ok(())
    }
}

/// Upper case, as sgdisk prints GUIDs and as fruix's image spec stores them.
impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, true)
    }
}

/// Lower case, as gpart(8) and FreeBSD's kernel print GUIDs.
impl fmt::LowerHex for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, false)
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({self})")
    }
}

/// Parses `8-4-4-4-12` hex digits, either case.
impl FromStr for Guid {
    type Err = GuidError;

    fn from_str(text: &str) -> Result<Guid, GuidError> {
        let bad = || GuidError(text.to_owned());
        let groups: Vec<&str> = text.split('-').collect();
        let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        if lengths != [8, 4, 4, 4, 12] {
            return Err(bad());
        }
        let digits: String = groups.concat();
        let mut bytes = [0u8; 16];
        for (byte, pair) in bytes.iter_mut().zip(digits.as_bytes().chunks_exact(2)) {
            let pair = std::str::from_utf8(pair).map_err(|_| bad())?;
            // from_str_radix accepts a leading `+`; a GUID has only hex digits.
            if !pair.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            *byte = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
        }
        // `bytes` is in text order; store the first three fields little-endian.
        bytes[0..4].reverse();
        bytes[4..6].reverse();
        bytes[6..8].reverse();
        Ok(Guid(bytes))
    }
}

/// A partition's type. The named ones are those a FreeBSD disk uses; any other GUID is
/// [`PartitionType::Other`]. An unused entry (type [`Guid::ZERO`]) is not a partition and
/// has no `PartitionType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PartitionType {
    /// EFI system partition (the ESP): `C12A7328-F81F-11D2-BA4B-00A0C93EC93B`.
    EfiSystem,
    /// FreeBSD boot code for BIOS booting: `83BD6B9D-7F41-11DC-BE0B-001560B84F0F`.
    FreebsdBoot,
    /// FreeBSD UFS: `516E7CB6-6ECF-11D6-8FF8-00022D09712B`.
    FreebsdUfs,
    /// FreeBSD swap: `516E7CB5-6ECF-11D6-8FF8-00022D09712B`.
    FreebsdSwap,
    /// FreeBSD ZFS: `516E7CBA-6ECF-11D6-8FF8-00022D09712B`.
    FreebsdZfs,
    /// Any other type.
    Other(Guid),
}

/// FreeBSD's partition types share all but their first field.
const FREEBSD_TAIL: [u8; 8] = [0x8F, 0xF8, 0x00, 0x02, 0x2D, 0x09, 0x71, 0x2B];

impl PartitionType {
    /// The named types, for lookups.
    pub const NAMED: [PartitionType; 5] = [
        PartitionType::EfiSystem,
        PartitionType::FreebsdBoot,
        PartitionType::FreebsdUfs,
        PartitionType::FreebsdSwap,
        PartitionType::FreebsdZfs,
    ];

    /// The type GUID.
    pub const fn guid(self) -> Guid {
        match self {
            PartitionType::EfiSystem => Guid::from_fields(
                0xC12A_7328,
                0xF81F,
                0x11D2,
                [0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9, 0x3B],
            ),
            PartitionType::FreebsdBoot => Guid::from_fields(
                0x83BD_6B9D,
                0x7F41,
                0x11DC,
                [0xBE, 0x0B, 0x00, 0x15, 0x60, 0xB8, 0x4F, 0x0F],
            ),
            PartitionType::FreebsdUfs => {
                Guid::from_fields(0x516E_7CB6, 0x6ECF, 0x11D6, FREEBSD_TAIL)
            }
            PartitionType::FreebsdSwap => {
                Guid::from_fields(0x516E_7CB5, 0x6ECF, 0x11D6, FREEBSD_TAIL)
            }
            PartitionType::FreebsdZfs => {
                Guid::from_fields(0x516E_7CBA, 0x6ECF, 0x11D6, FREEBSD_TAIL)
            }
            PartitionType::Other(guid) => guid,
        }
    }

    /// The named type with this GUID, or [`PartitionType::Other`].
    pub fn from_guid(guid: Guid) -> PartitionType {
        PartitionType::NAMED
            .into_iter()
            .find(|t| t.guid() == guid)
            .unwrap_or(PartitionType::Other(guid))
    }

    /// gpart(8)'s alias (`efi`, `freebsd-ufs`, ...); `None` for [`PartitionType::Other`].
    pub fn gpart_name(self) -> Option<&'static str> {
        Some(match self {
            PartitionType::EfiSystem => "efi",
            PartitionType::FreebsdBoot => "freebsd-boot",
            PartitionType::FreebsdUfs => "freebsd-ufs",
            PartitionType::FreebsdSwap => "freebsd-swap",
            PartitionType::FreebsdZfs => "freebsd-zfs",
            PartitionType::Other(_) => return None,
        })
    }

    /// The name `sgdisk -i` prints after the GUID; `Unknown` for [`PartitionType::Other`].
    pub fn sgdisk_name(self) -> &'static str {
        match self {
            PartitionType::EfiSystem => "EFI system partition",
            PartitionType::FreebsdBoot => "FreeBSD boot",
            PartitionType::FreebsdUfs => "FreeBSD UFS",
            PartitionType::FreebsdSwap => "FreeBSD swap",
            PartitionType::FreebsdZfs => "FreeBSD ZFS",
            PartitionType::Other(_) => "Unknown",
        }
    }
}

impl From<Guid> for PartitionType {
    fn from(guid: Guid) -> PartitionType {
        PartitionType::from_guid(guid)
    }
}

/// As `gpart show` prints the type: its alias, or `!` and the lower-case GUID.
impl fmt::Display for PartitionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.gpart_name() {
            Some(name) => f.write_str(name),
            None => write!(f, "!{:x}", self.guid()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_are_stored_mixed_endian_and_printed_as_text() {
        let esp: Guid = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b".parse().unwrap();
        assert_eq!(
            esp.to_disk_bytes(),
            [
                0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11, 0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E,
                0xC9, 0x3B
            ]
        );
        assert_eq!(esp.to_string(), "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
        assert_eq!(format!("{esp:x}"), "c12a7328-f81f-11d2-ba4b-00a0c93ec93b");
        assert_eq!(esp, PartitionType::EfiSystem.guid());
        assert_eq!(Guid::from_disk_bytes(esp.to_disk_bytes()), esp);
    }

    #[test]
    fn malformed_guid_text_is_an_error() {
        for text in [
            "",
            "C12A7328F81F11D2BA4B00A0C93EC93B",
            "C12A7328-F81F-11D2-BA4B-00A0C93EC93",
            "C12A7328-F81F-11D2-BA4B-00A0C93EC93BB",
            "G12A7328-F81F-11D2-BA4B-00A0C93EC93B",
            "+12A7328-F81F-11D2-BA4B-00A0C93EC93B",
            "C12A7328-F81F-11D2-BA4B-00A0C93EC9é",
            "C12A7328-F81F-11D2-BA4B-00A0C93EC93B-",
        ] {
            assert_eq!(text.parse::<Guid>(), Err(GuidError(text.to_owned())));
        }
    }

    #[test]
    fn types_have_gpart_and_sgdisk_names_and_unknown_guids_stay_other() {
        let named = [
            (
                "efi",
                "EFI system partition",
                "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
            ),
            (
                "freebsd-boot",
                "FreeBSD boot",
                "83BD6B9D-7F41-11DC-BE0B-001560B84F0F",
            ),
            (
                "freebsd-ufs",
                "FreeBSD UFS",
                "516E7CB6-6ECF-11D6-8FF8-00022D09712B",
            ),
            (
                "freebsd-swap",
                "FreeBSD swap",
                "516E7CB5-6ECF-11D6-8FF8-00022D09712B",
            ),
            (
                "freebsd-zfs",
                "FreeBSD ZFS",
                "516E7CBA-6ECF-11D6-8FF8-00022D09712B",
            ),
        ];
        for (t, (gpart, sgdisk, guid)) in PartitionType::NAMED.into_iter().zip(named) {
            assert_eq!(t.guid().to_string(), guid);
            assert_eq!(PartitionType::from_guid(guid.parse().unwrap()), t);
            assert_eq!((t.to_string().as_str(), t.sgdisk_name()), (gpart, sgdisk));
        }
        let linux: Guid = "0FC63DAF-8483-4772-8E79-3D69D8477DE4".parse().unwrap();
        let t = PartitionType::from(linux);
        assert_eq!(t, PartitionType::Other(linux));
        assert_eq!(t.to_string(), "!0fc63daf-8483-4772-8e79-3d69d8477de4");
        assert_eq!((t.gpart_name(), t.sgdisk_name()), (None, "Unknown"));
    }
}
