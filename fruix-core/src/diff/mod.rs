//! `fruix diff`: what differs between two images, two store items (their closures) or
//! two trees, explained from the declaration down.
//!
//! - [`side`]: opens each argument as a [`Side`]: a disk image read in place (GPT, the
//!   ESP's files, the UFS2 root split into its store items and the rest), a store item's
//!   closure from the store, or a host tree. File contents stream through hashes.
//! - `content`: each file is hashed as it is and with other items' hashes replaced by
//!   their names, so a change that only follows another item's new hash is recognised.
//! - `compare`: declarations field by field, items matched by name without hash, entries
//!   by path.
//! - [`diff`] (here): sorts what differs into causes and what derives from them.
//! - [`report`]: the result as `key=value` lines or JSON. `textdiff`: unified diffs.

mod compare;
mod content;
mod entry;
pub mod report;
pub mod side;
mod textdiff;
mod walk;

pub use entry::{ROOT_FS_ITEM, TREE_ITEM};
pub use report::{Change, FileChange, ItemChange, Report, Role};
pub use side::Side;

use crate::image::esp::EspError;
use crate::io_error::IoError;
use crate::store::{Store, StoreError};
use entry::Item;
use side::{ImageFacts, SPEC_FILE};
use std::collections::{BTreeMap, BTreeSet};

/// Why two sides could not be compared.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// The argument names nothing readable.
    #[error("`{arg}` is not a disk image, a store item or a path: {why}")]
    NotFound {
        /// The argument as given.
        arg: String,
        /// What opening it said.
        why: String,
    },
    /// A file could not be read.
    #[error(transparent)]
    Io(#[from] IoError),
    /// The root file system of an image could not be read.
    #[error("root file system: {0}")]
    Ufs(crate::image::ufs::ReadError),
    /// The ESP of an image could not be read.
    #[error("`{arg}`: ESP: {source}")]
    Esp {
        /// The image.
        arg: String,
        /// What the FAT reader said.
        source: EspError,
    },
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether `arg` names a store item (`/frx/store/<hash>-<name>[/...]` or `<hash>-<name>`),
/// so that a store is needed to read it.
pub fn names_store_item(arg: &str) -> bool {
    side::store_path_of(arg).is_some()
}

/// Opens both sides at once: each is read and hashed on a thread of its own, so that one
/// side's reading does not wait for the other's hashing.
pub fn open_pair(a: &str, b: &str, store: Option<&Store>) -> Result<(Side, Side), DiffError> {
    std::thread::scope(|scope| {
        let first = scope.spawn(|| Side::open(a, store));
        let second = Side::open(b, store);
        let first = first
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        Ok((first?, second?))
    })
}

/// Compares two opened sides.
pub fn diff(a: &Side, b: &Side) -> Report {
    let spec = match (&a.spec, &b.spec) {
        (Some(x), Some(y)) => compare::json_fields(x, y),
        _ => Vec::new(),
    };
    let mut items = Vec::new();
    let mut refs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // A closure has no root file system outside the store: compared with an image, the
    // image's is not a difference.
    let comparable = |i: &&Item| a.image.is_some() == b.image.is_some() || i.name != ROOT_FS_ITEM;
    let roots = a.root.as_deref().zip(b.root.as_deref());
    let pairs = compare::pair_items(
        a.items.iter().filter(comparable),
        b.items.iter().filter(comparable),
        roots,
    );
    for (x, y) in pairs {
        if let Some(change) = item_change(a, b, x, y, !spec.is_empty()) {
            let named = refs.entry(change.name.clone()).or_default();
            for item in [x, y].into_iter().flatten() {
                named.extend(item.refs.iter().cloned());
            }
            items.push(change);
        }
    }
    order_by_cause(&mut items, &refs);
    let (disk, esp, superblock) = match (&a.image, &b.image) {
        (Some(x), Some(y)) => image_changes(x, y),
        _ => Default::default(),
    };
    let image_role = if spec.is_empty() && items.is_empty() {
        Role::Cause
    } else {
        Role::Derived
    };
    let causes = causes(&spec, &items, &disk, &esp, &superblock);
    Report {
        a: a.label.clone(),
        b: b.label.clone(),
        equal: causes.is_empty(),
        causes,
        spec,
        items,
        disk,
        esp,
        superblock,
        image_role,
    }
}

/// How item `x` of side `a` became `y` of side `b`, if it changed.
fn item_change(
    a: &Side,
    b: &Side,
    x: Option<&Item>,
    y: Option<&Item>,
    spec_changed: bool,
) -> Option<ItemChange> {
    let (name, status, files) = match (x, y) {
        (Some(x), Some(y)) => {
            let mut files = compare::manifests(&x.entries, &y.entries);
            if files.is_empty() {
                return None;
            }
            for f in &mut files {
                // The declaration is reported field by field above: its file is not a cause.
                if spec_changed && f.path == SPEC_FILE && y.name.starts_with("fruix-system-") {
                    f.derived = true;
                }
                if !f.derived && f.status == "changed" {
                    text_change(a, x, b, y, f);
                }
            }
            let name = if x.name == y.name {
                y.name.clone()
            } else {
                format!("{} -> {}", x.name, y.name)
            };
            (name, "changed", files)
        }
        (Some(x), None) => (x.name.clone(), "removed", Vec::new()),
        (None, Some(y)) => (y.name.clone(), "added", Vec::new()),
        (None, None) => return None,
    };
    let role = if status == "changed" && files.iter().all(|f| f.derived) {
        Role::Derived
    } else {
        Role::Cause
    };
    Some(ItemChange {
        name,
        status,
        a: x.and_then(|i| i.store_path.clone()),
        b: y.and_then(|i| i.store_path.clone()),
        role,
        caused_by: Vec::new(),
        files,
    })
}

/// Reads a changed small text file on both sides: a change that only moves and renames
/// lines naming other items (a list sorted by store path) is derived; any other gets a
/// unified diff.
fn text_change(a: &Side, x: &Item, b: &Side, y: &Item, f: &mut FileChange) {
    let (Some(old), Some(new)) = (a.read_small(x, &f.path), b.read_small(y, &f.path)) else {
        return;
    };
    if !textdiff::is_text(&old) || !textdiff::is_text(&new) {
        return;
    }
    let (old, new) = (String::from_utf8_lossy(&old), String::from_utf8_lossy(&new));
    let content_only = f
        .changes
        .iter()
        .all(|c| c.field == "sha256" || c.field == "size");
    if content_only && named_lines(&a.names, &old) == named_lines(&b.names, &new) {
        f.derived = true;
    } else {
        f.diff = textdiff::unified(&old, &new);
    }
}

/// A text's lines that name no item, in order, and those that do (normalized), sorted.
fn named_lines(names: &content::ItemNames, text: &str) -> (Vec<String>, Vec<String>) {
    let (mut plain, mut named) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let (normalized, refs) = names.normalize(line.as_bytes());
        let normalized = String::from_utf8_lossy(&normalized).into_owned();
        if refs.is_empty() {
            plain.push(normalized);
        } else {
            named.push(normalized);
        }
    }
    named.sort();
    (plain, named)
}

/// Fills each derived item's `caused_by` (the changed items it names) and orders the
/// items: causes by name, then derived items by their distance from a cause.
fn order_by_cause(items: &mut [ItemChange], refs: &BTreeMap<String, BTreeSet<String>>) {
    let changed: BTreeSet<String> = items.iter().map(|i| i.name.clone()).collect();
    let mut depth: BTreeMap<String, usize> = items
        .iter()
        .filter(|i| i.role == Role::Cause)
        .map(|i| (i.name.clone(), 0))
        .collect();
    for item in items.iter_mut().filter(|i| i.role == Role::Derived) {
        item.caused_by = refs
            .get(&item.name)
            .into_iter()
            .flatten()
            .filter(|r| changed.contains(*r) && **r != item.name)
            .cloned()
            .collect();
    }
    // Distances settle in at most one round per item.
    for _ in 0..items.len() {
        for item in items.iter().filter(|i| i.role == Role::Derived) {
            let d = item
                .caused_by
                .iter()
                .filter_map(|c| depth.get(c))
                .min()
                .map(|d| d + 1);
            if let Some(d) = d {
                if depth.get(&item.name).is_none_or(|old| d < *old) {
                    depth.insert(item.name.clone(), d);
                }
            }
        }
    }
    items.sort_by_key(|i| {
        (
            depth.get(&i.name).copied().unwrap_or(usize::MAX),
            i.name == ROOT_FS_ITEM,
            i.name.clone(),
        )
    });
}

type ImageChanges = (Vec<Change>, Vec<FileChange>, Vec<Change>);

fn image_changes(x: &ImageFacts, y: &ImageFacts) -> ImageChanges {
    let mut disk = Vec::new();
    let mut push = |field: &str, a: String, b: String| {
        if a != b {
            disk.push(Change::new(field, a, b));
        }
    };
    push("size", x.size.to_string(), y.size.to_string());
    if let (Some(t), Some(u)) = (&x.table, &y.table) {
        push(
            "disk_guid",
            t.disk_guid.to_string(),
            u.disk_guid.to_string(),
        );
        push(
            "usable_lbas",
            format!("{}..{}", t.first_usable_lba, t.last_usable_lba),
            format!("{}..{}", u.first_usable_lba, u.last_usable_lba),
        );
        let numbers: BTreeSet<u32> = t
            .partitions
            .iter()
            .chain(&u.partitions)
            .map(|p| p.number)
            .collect();
        for n in numbers {
            let p = t.partitions.iter().find(|p| p.number == n);
            let q = u.partitions.iter().find(|p| p.number == n);
            let (Some(p), Some(q)) = (p, q) else {
                let show = |p: Option<&crate::image::gpt::Partition>| {
                    p.map_or_else(|| "(absent)".to_owned(), |p| p.label.clone())
                };
                push(&format!("partition.{n}"), show(p), show(q));
                continue;
            };
            let f = |what: &str| format!("partition.{n}.{what}");
            push(
                &f("type"),
                p.partition_type.to_string(),
                q.partition_type.to_string(),
            );
            push(&f("label"), p.label.clone(), q.label.clone());
            push(&f("guid"), p.guid.to_string(), q.guid.to_string());
            push(
                &f("first_lba"),
                p.first_lba.to_string(),
                q.first_lba.to_string(),
            );
            push(&f("bytes"), p.size().to_string(), q.size().to_string());
            push(
                &f("attributes"),
                format!("{:#x}", p.attributes),
                format!("{:#x}", q.attributes),
            );
        }
    } else if x.table.is_some() != y.table.is_some() {
        let has = |t: bool| if t { "gpt" } else { "none" }.to_owned();
        push(
            "partition_scheme",
            has(x.table.is_some()),
            has(y.table.is_some()),
        );
    }
    let mut esp = Vec::new();
    if let (Some(e), Some(f)) = (&x.esp, &y.esp) {
        let paths: BTreeSet<&String> = e.keys().chain(f.keys()).collect();
        for path in paths {
            let change = match (e.get(path), f.get(path)) {
                (Some(p), Some(q)) if p == q => continue,
                (Some(p), Some(q)) => {
                    let mut c = vec![Change::new("sha256", p.1.clone(), q.1.clone())];
                    if p.0 != q.0 {
                        c.push(Change::new("size", p.0.to_string(), q.0.to_string()));
                    }
                    FileChange::new(path, "changed", c, false)
                }
                (Some(p), None) => FileChange::new(
                    path,
                    "removed",
                    vec![Change::new("entry", "", format!("file, {} bytes", p.0))],
                    false,
                ),
                (None, Some(q)) => FileChange::new(
                    path,
                    "added",
                    vec![Change::new("entry", "", format!("file, {} bytes", q.0))],
                    false,
                ),
                (None, None) => continue,
            };
            esp.push(change);
        }
    }
    let superblock = match (&x.superblock, &y.superblock) {
        (Some(s), Some(t)) => s
            .diff(t)
            .into_iter()
            .map(|d| Change::new(d.field, d.left, d.right))
            .collect(),
        _ => Vec::new(),
    };
    (disk, esp, superblock)
}

/// One line per root cause: the declaration's fields, else what changed in content, else
/// the image's own structures.
fn causes(
    spec: &[Change],
    items: &[ItemChange],
    disk: &[Change],
    esp: &[FileChange],
    superblock: &[Change],
) -> Vec<String> {
    if !spec.is_empty() {
        return spec
            .iter()
            .map(|c| format!("spec {}: {} -> {}", c.field, c.a, c.b))
            .collect();
    }
    let item_causes: Vec<String> = items
        .iter()
        .filter(|i| i.role == Role::Cause)
        .map(|i| format!("item {}: {}", i.name, i.summary()))
        .collect();
    if !item_causes.is_empty() || !items.is_empty() {
        return if item_causes.is_empty() {
            items
                .iter()
                .map(|i| format!("item {}: {}", i.name, i.summary()))
                .collect()
        } else {
            item_causes
        };
    }
    let fields = disk
        .iter()
        .map(|c| format!("disk {}: {} -> {}", c.field, c.a, c.b))
        .chain(esp.iter().map(|f| format!("esp {}: {}", f.path, f.status)))
        .chain(
            superblock
                .iter()
                .map(|c| format!("superblock {}: {} -> {}", c.field, c.a, c.b)),
        );
    fields.collect()
}
