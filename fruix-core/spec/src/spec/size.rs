//! Byte sizes written the way people write them: `"320MiB"`, `"33 MiB"`, `"1G"`, `4096`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A size in bytes. Serialized as its shortest exact binary-unit spelling (`"320MiB"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

const UNITS: &[(&str, u64)] = &[
    ("TiB", 1 << 40),
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
];

/// Why a size string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseSizeError {
    #[error("size is empty")]
    /// The string is empty or only white space.
    Empty,
    #[error("size `{0}` does not start with a number")]
    /// The string does not start with a digit.
    NoNumber(String),
    #[error("unknown size unit `{unit}` in `{text}`; use B, KiB, MiB, GiB or TiB")]
    /// The unit after the number is not one of B, K/KiB/KB, M/MiB/MB, G/GiB/GB, T/TiB/TB
    /// (all binary).
    UnknownUnit {
        /// The whole size string.
        text: String,
        /// The unit found.
        unit: String,
    },
    #[error("size `{0}` does not fit in 64 bits")]
    /// The number times its unit exceeds `u64::MAX` bytes.
    Overflow(String),
}

impl ByteSize {
    /// The size in bytes.
    pub const fn bytes(self) -> u64 {
        self.0
    }
    /// `n` KiB (`n * 1024` bytes).
    pub const fn kib(n: u64) -> Self {
        ByteSize(n << 10)
    }
    /// `n` MiB.
    pub const fn mib(n: u64) -> Self {
        ByteSize(n << 20)
    }
    /// `n` GiB.
    pub const fn gib(n: u64) -> Self {
        ByteSize(n << 30)
    }
}

impl From<u64> for ByteSize {
    fn from(bytes: u64) -> Self {
        ByteSize(bytes)
    }
}

impl FromStr for ByteSize {
    type Err = ParseSizeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(ParseSizeError::Empty);
        }
        let digits_end = trimmed
            .find(|c: char| !c.is_ascii_digit() && c != '_')
            .unwrap_or(trimmed.len());
        let digits: String = trimmed[..digits_end]
            .chars()
            .filter(|c| *c != '_')
            .collect();
        if digits.is_empty() {
            return Err(ParseSizeError::NoNumber(text.to_owned()));
        }
        let number: u64 = digits
            .parse()
            .map_err(|_| ParseSizeError::Overflow(text.to_owned()))?;
        let unit = trimmed[digits_end..].trim();
        // Both binary (KiB) and the short forms FreeBSD tools use (K, M, G: also binary).
        let factor: u64 = match unit {
            "" | "B" | "b" => 1,
            "K" | "k" | "KiB" | "KB" => 1 << 10,
            "M" | "m" | "MiB" | "MB" => 1 << 20,
            "G" | "g" | "GiB" | "GB" => 1 << 30,
            "T" | "t" | "TiB" | "TB" => 1 << 40,
            other => {
                return Err(ParseSizeError::UnknownUnit {
                    text: text.to_owned(),
                    unit: other.to_owned(),
                })
            }
        };
        number
            .checked_mul(factor)
            .map(ByteSize)
            .ok_or_else(|| ParseSizeError::Overflow(text.to_owned()))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, factor) in UNITS {
            if self.0 != 0 && self.0.is_multiple_of(*factor) {
                return write!(f, "{}{}", self.0 / factor, name);
            }
        }
        write!(f, "{}B", self.0)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(ByteSize(n)),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_spellings() {
        assert_eq!("320MiB".parse(), Ok(ByteSize::mib(320)));
        assert_eq!("33 MiB".parse(), Ok(ByteSize::mib(33)));
        assert_eq!("1G".parse(), Ok(ByteSize::gib(1)));
        assert_eq!("33292KiB".parse(), Ok(ByteSize::kib(33292)));
        assert_eq!("4_096".parse(), Ok(ByteSize(4096)));
        assert_eq!("512B".parse(), Ok(ByteSize(512)));
    }

    #[test]
    fn rejects_nonsense() {
        assert_eq!("".parse::<ByteSize>(), Err(ParseSizeError::Empty));
        assert!(matches!(
            "MiB".parse::<ByteSize>(),
            Err(ParseSizeError::NoNumber(_))
        ));
        assert!(matches!(
            "3 parsecs".parse::<ByteSize>(),
            Err(ParseSizeError::UnknownUnit { .. })
        ));
        assert!(matches!(
            "99999999999TiB".parse::<ByteSize>(),
            Err(ParseSizeError::Overflow(_))
        ));
    }

    #[test]
    fn displays_shortest_exact_unit_and_round_trips() {
        for size in [0, 1, 512, 1024, 1536, 335_544_320, 335_578_624, 1 << 40] {
            let shown = ByteSize(size).to_string();
            assert_eq!(shown.parse(), Ok(ByteSize(size)), "{shown}");
        }
        assert_eq!(ByteSize::mib(320).to_string(), "320MiB");
        assert_eq!(ByteSize(335_578_624).to_string(), "335578624B");
        assert_eq!(ByteSize(335_578_112).to_string(), "327713KiB");
        assert_eq!(ByteSize(513).to_string(), "513B");
    }
}
