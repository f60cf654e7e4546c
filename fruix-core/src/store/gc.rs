//! Keeping the store honest: verification, GC roots and garbage collection.

use super::error::{io, Result, StoreError};
use super::{hash, lock, refs, remove_tree, write_atomic, Store, StorePath};
use std::collections::BTreeSet;
use std::fs;

/// Something wrong with one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyProblem {
    /// The registration exists but the directory is gone.
    Missing(StorePath),
    /// The contents hash to something else: they were changed after the item was made.
    Modified {
        /// The item's path.
        item: StorePath,
        /// What its contents hash to now.
        actual_hash: String,
    },
    /// The contents cannot be read, or hold something a store item may not.
    Unreadable {
        /// The item's path.
        item: StorePath,
        /// What could not be read, or is not allowed.
        why: String,
    },
    /// References recorded at registration differ from those found now.
    References {
        /// The item's path.
        item: StorePath,
    },
}

impl std::fmt::Display for VerifyProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifyProblem::Missing(item) => write!(f, "{item}: directory is missing"),
            VerifyProblem::Modified { item, actual_hash } => {
                write!(
                    f,
                    "{item}: contents were modified (they now hash to {actual_hash})"
                )
            }
            VerifyProblem::Unreadable { item, why } => write!(f, "{item}: {why}"),
            VerifyProblem::References { item } => write!(f, "{item}: references changed"),
        }
    }
}

/// What [`Store::gc`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Items removed, in the order they were deleted.
    pub deleted: Vec<StorePath>,
    /// Bytes of file contents they held.
    pub freed_bytes: u64,
}

impl Store {
    /// Re-hashes every item and reports each one whose contents no longer match its name.
    pub fn verify(&self) -> Result<Vec<VerifyProblem>> {
        let mut problems = Vec::new();
        let all = self.hashes()?;
        for hash in &all {
            let record = self.record_by_hash(hash)?;
            let item = record.path.clone();
            let dir = self.physical(&item);
            if !dir.is_dir() {
                problems.push(VerifyProblem::Missing(item));
                continue;
            }
            let scanner =
                refs::HashScanner::new(all.iter().filter_map(|h| h.as_bytes().try_into().ok()));
            let self_refs = hash::SelfRefs {
                files: &record.self_refs,
                hash: Some(item.hash()),
            };
            match hash::digest(&dir, item.name(), &record.image_meta, scanner, self_refs) {
                Err(e) => problems.push(VerifyProblem::Unreadable {
                    item,
                    why: e.to_string(),
                }),
                Ok(d) if d.hash != item.hash() => problems.push(VerifyProblem::Modified {
                    item,
                    actual_hash: d.hash,
                }),
                Ok(d) => {
                    let recorded: BTreeSet<&str> =
                        record.references.iter().map(StorePath::hash).collect();
                    let found: BTreeSet<&str> = d.references.iter().map(String::as_str).collect();
                    if recorded != found {
                        problems.push(VerifyProblem::References { item });
                    }
                }
            }
        }
        Ok(problems)
    }

    /// Makes `item` (and its closure) survive garbage collection under `name`.
    pub fn add_root(&self, name: &str, item: &StorePath) -> Result<()> {
        if !super::is_valid_item_name(name) {
            return Err(super::StorePathError::BadName(name.to_owned()).into());
        }
        let _writing = self.shared_gc_lock()?;
        if !self.contains(item) {
            return Err(StoreError::NotInStore(item.to_string()));
        }
        write_atomic(
            &self.meta_dir().join("roots").join(name),
            item.to_string().as_bytes(),
        )
    }

    /// Removes the root `name`; a missing root is not an error.
    pub fn remove_root(&self, name: &str) -> Result<()> {
        let file = self.meta_dir().join("roots").join(name);
        match fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(io("removing", &file)(e).into())
            }
            _ => Ok(()),
        }
    }

    /// The items named by GC roots.
    pub fn roots(&self) -> Result<Vec<StorePath>> {
        let dir = self.meta_dir().join("roots");
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io("listing", &dir))? {
            let file = entry.map_err(io("listing", &dir))?.path();
            if file
                .file_name()
                .is_some_and(|n| n.as_encoded_bytes().starts_with(b"."))
            {
                continue; // a root being written (see `write_atomic`)
            }
            let text = fs::read_to_string(&file).map_err(io("reading", &file))?;
            let item: StorePath = text.trim().parse()?;
            if self.contains(&item) {
                out.push(item);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Deletes every item not reachable from a GC root. Waits for running builds first.
    pub fn gc(&self) -> Result<GcReport> {
        let _exclusive = lock::lock(&self.gc_lock_path())?;
        let live: BTreeSet<StorePath> = self.closure(&self.roots()?)?.into_iter().collect();
        let mut report = GcReport::default();
        for item in self.items()? {
            if live.contains(&item) {
                continue;
            }
            let record = self.record(&item)?;
            // Unregister first: a half-deleted item is then a leftover, never an item.
            let file = self.record_path(item.hash());
            fs::remove_file(&file).map_err(io("removing", &file))?;
            remove_tree(&self.physical(&item))?;
            report.freed_bytes += record.content_bytes;
            report.deleted.push(item);
        }
        // Cache entries now pointing nowhere would only miss; drop them.
        let cache = self.meta_dir().join("cache");
        for entry in fs::read_dir(&cache).map_err(io("listing", &cache))? {
            let file = entry.map_err(io("listing", &cache))?.path();
            let stale = fs::read_to_string(&file)
                .ok()
                .and_then(|t| t.trim().parse::<StorePath>().ok())
                .is_none_or(|item| !self.contains(&item));
            if stale {
                fs::remove_file(&file).map_err(io("removing", &file))?;
            }
        }
        Ok(report)
    }
}
