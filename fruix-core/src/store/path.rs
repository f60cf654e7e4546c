//! Store paths: `/frx/store/<hash>-<name>`.

use std::fmt;
use std::str::FromStr;

/// The logical store directory. Every path written into items and images uses it, whatever
/// directory holds the store on the building host.
pub const STORE_DIR: &str = "/frx/store";

/// Length of the hash part: 160 bits as lowercase hex.
pub const HASH_LEN: usize = 40;

/// One store item's identity: its hash and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorePath {
    hash: String,
    name: String,
}

/// Why a string is not a store path or item name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorePathError {
    #[error("`{0}` is not a store item name `<40 hex digits>-<name>`")]
    /// The string (the argument) is not `<40 hex digits>-<name>`.
    Malformed(String),
    #[error("item name `{0}` must be 1-200 of letters, digits, `+-._?=`, not starting with `.`")]
    /// The name (the argument) is empty, too long, starts with `.` or holds other characters.
    BadName(String),
}

/// Whether `name` may be an item name (the part after the hash).
pub fn is_valid_item_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-._?=".contains(&b))
}

/// Whether `s` is a hash part (40 lowercase hex digits).
pub fn is_hash(s: &[u8]) -> bool {
    s.len() == HASH_LEN && s.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl StorePath {
    /// The store path for hash part `hash` and item name `name`, if both are valid.
    pub fn new(hash: &str, name: &str) -> Result<StorePath, StorePathError> {
        if !is_hash(hash.as_bytes()) {
            return Err(StorePathError::Malformed(format!("{hash}-{name}")));
        }
        if !is_valid_item_name(name) {
            return Err(StorePathError::BadName(name.to_owned()));
        }
        Ok(StorePath {
            hash: hash.to_owned(),
            name: name.to_owned(),
        })
    }

    /// The 40-hex hash part.
    pub fn hash(&self) -> &str {
        &self.hash
    }
    /// The name part.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// `<hash>-<name>`: the item's directory name in the store.
    pub fn base_name(&self) -> String {
        format!("{}-{}", self.hash, self.name)
    }
    /// `/frx/store/<hash>-<name>`.
    pub fn logical(&self) -> String {
        format!("{STORE_DIR}/{}", self.base_name())
    }
    /// `/frx/store/<hash>-<name>/<rel>`.
    pub fn join(&self, rel: &str) -> String {
        format!("{}/{}", self.logical(), rel.trim_start_matches('/'))
    }
}

impl FromStr for StorePath {
    type Err = StorePathError;
    /// Accepts `<hash>-<name>` or `/frx/store/<hash>-<name>`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let base = s
            .strip_prefix(STORE_DIR)
            .map_or(s, |rest| rest.trim_start_matches('/'));
        match (
            base.get(..HASH_LEN),
            base.get(HASH_LEN..HASH_LEN + 1),
            base.get(HASH_LEN + 1..),
        ) {
            (Some(hash), Some("-"), Some(name)) => StorePath::new(hash, name),
            _ => Err(StorePathError::Malformed(s.to_owned())),
        }
    }
}

impl fmt::Display for StorePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.logical())
    }
}

impl serde::Serialize for StorePath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for StorePath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let hash = "0123456789abcdef0123456789abcdef01234567";
        let p: StorePath = format!("/frx/store/{hash}-fruix-system-x").parse().unwrap();
        assert_eq!(p.hash(), hash);
        assert_eq!(p.name(), "fruix-system-x");
        assert_eq!(p.to_string(), format!("/frx/store/{hash}-fruix-system-x"));
        assert_eq!(
            p.join("/etc/rc.conf"),
            format!("/frx/store/{hash}-fruix-system-x/etc/rc.conf")
        );
        assert_eq!(
            format!("{hash}-a").parse::<StorePath>().unwrap().name(),
            "a"
        );
    }

    #[test]
    fn rejects_malformed() {
        assert!("/frx/store/xyz-a".parse::<StorePath>().is_err());
        let upper = "0123456789ABCDEF0123456789abcdef01234567-a";
        assert!(upper.parse::<StorePath>().is_err());
        let hash = "0123456789abcdef0123456789abcdef01234567";
        assert!(format!("{hash}-").parse::<StorePath>().is_err());
        assert!(format!("{hash}-a/b").parse::<StorePath>().is_err());
        assert!(format!("{hash}-.hidden").parse::<StorePath>().is_err());
    }
}
