//! What `fruix diff` reports, top down: the root causes, the declaration's fields, the
//! items that changed in content (each file, small text files as unified diffs), the items
//! whose only change is that they name changed items (derived, listed below what they
//! name), then the image's own structures (derived from the above when there is any).
//! Printed as `key=value` lines or as JSON.

use serde::Serialize;
use std::fmt::Write as _;

/// One field with its two values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The field's name or path.
    pub field: String,
    /// Its value on side A (empty when absent).
    pub a: String,
    /// Its value on side B.
    pub b: String,
}

impl Change {
    pub(crate) fn new(field: &str, a: impl Into<String>, b: impl Into<String>) -> Change {
        Change {
            field: field.to_owned(),
            a: a.into(),
            b: b.into(),
        }
    }
}

/// One file, directory or link that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileChange {
    /// Its path inside the item (or the ESP).
    pub path: String,
    /// `changed`, `added` or `removed`.
    pub status: &'static str,
    /// The fields that differ (`sha256`, `size`, `mode`, `owner`, `flags`, `target`,
    /// `type`, `rdev`; `entry` for what was added or removed).
    pub changes: Vec<Change>,
    /// Whether it differs only in the hashes of other items it names.
    pub derived: bool,
    /// Unified diff lines, for small text files.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diff: Vec<String>,
}

impl FileChange {
    pub(crate) fn new(
        path: &str,
        status: &'static str,
        changes: Vec<Change>,
        derived: bool,
    ) -> FileChange {
        FileChange {
            path: path.to_owned(),
            status,
            changes,
            derived,
            diff: Vec::new(),
        }
    }
}

/// Whether a change is a cause or follows from one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// A change of its own: content, metadata, an item added or removed.
    Cause,
    /// A consequence of the causes: only references to changed items (or the declaration
    /// itself) differ.
    Derived,
}

/// One item (matched by name) that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemChange {
    /// Its name without hash (`/` for the root file system outside the store).
    pub name: String,
    /// `changed`, `added` or `removed`.
    pub status: &'static str,
    /// Its store path on side A.
    pub a: Option<String>,
    /// Its store path on side B.
    pub b: Option<String>,
    /// Cause or derived.
    pub role: Role,
    /// For derived items: the changed items it names (its causes, one step up).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub caused_by: Vec<String>,
    /// Its entries that differ.
    pub files: Vec<FileChange>,
}

impl ItemChange {
    /// `3 files changed`, `1 file changed, 2 added`; `added` or `removed` for a whole item.
    pub fn summary(&self) -> String {
        if self.status != "changed" {
            return self.status.to_owned();
        }
        let mut parts = Vec::new();
        for status in ["changed", "added", "removed"] {
            let n = self.files.iter().filter(|f| f.status == status).count();
            if n > 0 {
                if parts.is_empty() {
                    parts.push(format!("{n} {} {status}", files(n)));
                } else {
                    parts.push(format!("{n} {status}"));
                }
            }
        }
        parts.join(", ")
    }
}

fn files(n: usize) -> &'static str {
    if n == 1 {
        "file"
    } else {
        "files"
    }
}

/// Everything that differs between two sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Side A as given.
    pub a: String,
    /// Side B as given.
    pub b: String,
    /// Whether nothing differs.
    pub equal: bool,
    /// The root causes, one line each: declaration fields when both sides carry one,
    /// else items that changed in content, else the image's own fields.
    pub causes: Vec<String>,
    /// Declaration fields that differ (both sides' `metadata/spec.json`).
    pub spec: Vec<Change>,
    /// Items that differ: causes first, then derived items below what they name.
    pub items: Vec<ItemChange>,
    /// Disk-level fields: size, partition table (`disk_guid`, `partition.2.guid`...).
    pub disk: Vec<Change>,
    /// ESP files that differ.
    pub esp: Vec<FileChange>,
    /// UFS2 superblock fields of the root that differ.
    pub superblock: Vec<Change>,
    /// Whether the disk, ESP and superblock changes follow from the changes above.
    pub image_role: Role,
}

/// How many files of a derived item the `key=value` report lists.
const DERIVED_FILES_SHOWN: usize = 12;

fn short(value: &str) -> &str {
    // Hashes are shown whole in JSON; 16 digits tell them apart on a line.
    if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        &value[..16]
    } else {
        value
    }
}

fn changes_text(changes: &[Change]) -> String {
    changes
        .iter()
        .map(|c| {
            if c.a.is_empty() {
                format!("{} {}", c.field, short(&c.b))
            } else {
                format!("{} {} -> {}", c.field, short(&c.a), short(&c.b))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn change_line(c: &Change) -> String {
    format!("{}: {} -> {}", c.field, c.a, c.b)
}

impl Report {
    /// `key=value` lines, top down (see the module documentation).
    pub fn to_key_values(&self) -> String {
        let mut out = String::new();
        let mut put = |key: &str, value: &str| {
            let _ = writeln!(out, "{key}={value}");
        };
        put("a", &self.a);
        put("b", &self.b);
        for cause in &self.causes {
            put("cause", cause);
        }
        for c in &self.spec {
            put("spec", &change_line(c));
        }
        for item in &self.items {
            let (key, summary) = match item.role {
                Role::Cause => ("item", item.summary()),
                Role::Derived => (
                    "derived",
                    format!(
                        "{}, only references, from {}",
                        item.summary(),
                        if item.caused_by.is_empty() {
                            "the declaration".to_owned()
                        } else {
                            item.caused_by.join(", ")
                        }
                    ),
                ),
            };
            put(key, &format!("{}: {summary}", item.name));
            // A derived item can name a changed item from many files (a profile links
            // every file of a package): the first few say what happened; JSON has all.
            let shown = match item.role {
                Role::Cause => item.files.len(),
                Role::Derived => DERIVED_FILES_SHOWN,
            };
            for file in item.files.iter().take(shown) {
                let what = format!("{} {}", item.name, file.path);
                put(
                    &format!("{key}.file"),
                    &format!(
                        "{what}: {}{} {}",
                        file.status,
                        if file.derived && item.role == Role::Cause {
                            " (only references)"
                        } else {
                            ""
                        },
                        changes_text(&file.changes)
                    ),
                );
                for line in &file.diff {
                    put(&format!("{key}.diff"), &format!("{what}: {line}"));
                }
            }
            if item.files.len() > shown {
                put(
                    &format!("{key}.file"),
                    &format!(
                        "{}: {} more files, also only references",
                        item.name,
                        item.files.len() - shown
                    ),
                );
            }
        }
        let prefix = match self.image_role {
            Role::Cause => "",
            Role::Derived => "derived.",
        };
        for c in &self.disk {
            put(&format!("{prefix}disk"), &change_line(c));
        }
        for f in &self.esp {
            put(
                &format!("{prefix}esp"),
                &format!("{}: {} {}", f.path, f.status, changes_text(&f.changes)),
            );
        }
        for c in &self.superblock {
            put(&format!("{prefix}superblock"), &change_line(c));
        }
        put("result", if self.equal { "equal" } else { "different" });
        out
    }
}
