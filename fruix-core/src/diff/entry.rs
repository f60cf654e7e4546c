//! What one side holds: items (store items, or one unnamed tree), each a sorted list of
//! entries with their metadata and content hashes. Contents are never kept: a manifest's
//! size follows the number of files, not their bytes.

use super::content::Hashed;
use std::collections::{BTreeMap, BTreeSet};

/// What an entry is, with what identifies its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Body {
    Dir,
    File(Hashed),
    Symlink {
        target: String,
        /// The target with known hashes replaced by names.
        normalized: String,
    },
    Device {
        block: bool,
        rdev: u64,
    },
    Fifo,
    Socket,
}

impl Body {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Body::Dir => "directory",
            Body::File(_) => "file",
            Body::Symlink { .. } => "symlink",
            Body::Device { block: true, .. } => "block device",
            Body::Device { block: false, .. } => "character device",
            Body::Fifo => "fifo",
            Body::Socket => "socket",
        }
    }
}

/// One file, directory or link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub uid: u32,
    pub gid: u32,
    /// Permission bits with setuid/setgid/sticky.
    pub perm: u16,
    /// BSD file flags.
    pub flags: u32,
    pub body: Body,
}

/// Paths inside an item (`""` is its root) -> entries.
pub(crate) type Manifest = BTreeMap<String, Entry>;

/// An item of one side.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    /// The name items are matched by: a store item's name without its hash, `/` for an
    /// image's root file system outside the store, `.` for a plain directory.
    pub name: String,
    /// `/frx/store/<hash>-<name>`, for store items.
    pub store_path: Option<String>,
    pub entries: Manifest,
    /// Names of other items its contents mention.
    pub refs: BTreeSet<String>,
}

impl Item {
    pub(crate) fn new(name: &str, store_path: Option<String>) -> Item {
        Item {
            name: name.to_owned(),
            store_path,
            entries: Manifest::new(),
            refs: BTreeSet::new(),
        }
    }

    pub(crate) fn add(&mut self, rel: String, entry: Entry, refs: BTreeSet<String>) {
        self.refs
            .extend(refs.into_iter().filter(|r| *r != self.name));
        self.entries.insert(rel, entry);
    }
}

/// The name an image's root file system outside `/frx/store` goes by.
pub const ROOT_FS_ITEM: &str = "/";
/// The name of a plain directory or file compared as a whole.
pub const TREE_ITEM: &str = ".";
