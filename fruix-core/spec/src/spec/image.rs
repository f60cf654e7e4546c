//! Disk image layout: GPT with an EFI system partition, a UFS2 root and optional swap.
//! Its rules (sizes, alignment, labels) are in [`crate::geometry`].

use super::ByteSize;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// How the bhyve disk image is laid out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImageLayout {
    /// Whole-disk size, or `auto` (contents plus headroom, rounded to MiB).
    pub size: ImageSize,
    /// EFI system partition size.
    pub esp_size: ByteSize,
    /// FAT variant of the ESP.
    pub esp_fat: FatType,
    /// GPT label of the ESP.
    pub esp_label: String,
    /// GPT label of the UFS2 root.
    pub root_label: String,
    /// Optional `freebsd-swap` partition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swap: Option<SwapPartition>,
}

impl Default for ImageLayout {
    fn default() -> Self {
        ImageLayout {
            size: ImageSize::Auto,
            esp_size: ByteSize::mib(33),
            esp_fat: FatType::Fat32,
            esp_label: "efiboot".to_owned(),
            root_label: "fruix-root".to_owned(),
            swap: None,
        }
    }
}

impl ImageLayout {
    /// Every GPT label the image creates, with the layout field that sets it.
    pub fn labels(&self) -> Vec<(&'static str, &str)> {
        let mut labels = vec![
            ("esp_label", self.esp_label.as_str()),
            ("root_label", self.root_label.as_str()),
        ];
        if let Some(swap) = &self.swap {
            labels.push(("swap.label", swap.label.as_str()));
        }
        labels
    }
}

/// A swap partition in the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SwapPartition {
    /// Partition size; the partition is a whole number of 512-byte sectors.
    pub size: ByteSize,
    /// GPT label; the swap device is `/dev/gpt/<label>`.
    pub label: String,
}

impl Default for SwapPartition {
    fn default() -> Self {
        SwapPartition {
            size: ByteSize::mib(512),
            label: "swapfs".to_owned(),
        }
    }
}

/// FAT variant for the ESP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FatType {
    /// FAT16: for ESPs below FAT32's minimum ([`crate::geometry::FAT32_MIN_ESP`]).
    Fat16,
    #[default]
    /// FAT32: what UEFI firmware is required to read; the default.
    Fat32,
}

impl FatType {
    /// Every FAT type, in the order "expected one of" lists them.
    pub const ALL: &'static [FatType] = &[FatType::Fat16, FatType::Fat32];
    /// The name used in declarations (`fat32`).
    pub fn name(self) -> &'static str {
        match self {
            FatType::Fat16 => "fat16",
            FatType::Fat32 => "fat32",
        }
    }
}

impl FromStr for FatType {
    type Err = crate::validate::UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::validate::names::lookup("FAT type", s, FatType::ALL, |t| t.name())
    }
}

/// A whole-disk size: fixed, or computed from the contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImageSize {
    #[default]
    /// Just large enough for the contents plus free space (see `geometry`).
    Auto,
    /// Exactly this many bytes.
    Fixed(ByteSize),
}

impl FromStr for ImageSize {
    type Err = super::ParseSizeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim() == "auto" {
            Ok(ImageSize::Auto)
        } else {
            s.parse().map(ImageSize::Fixed)
        }
    }
}

impl fmt::Display for ImageSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageSize::Auto => f.write_str("auto"),
            ImageSize::Fixed(size) => size.fmt(f),
        }
    }
}

impl From<ByteSize> for ImageSize {
    fn from(size: ByteSize) -> Self {
        ImageSize::Fixed(size)
    }
}

/// A number of bytes, as the macro's integer literals and JSON's numbers are.
impl From<u64> for ImageSize {
    fn from(bytes: u64) -> Self {
        ImageSize::Fixed(ByteSize(bytes))
    }
}

impl Serialize for ImageSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ImageSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(ImageSize::Fixed(ByteSize(n))),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}
