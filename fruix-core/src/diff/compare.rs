//! Comparing what two sides hold: declarations field by field, entries of one item, and
//! items matched by name (without their hashes).

use super::entry::{Body, Entry, Item, Manifest};
use super::report::{Change, FileChange};
use std::collections::BTreeMap;

/// Fields of two declarations (JSON) that differ, by path (`rc_conf.sshd_enable`,
/// `packages[1].source.files[0].executable`). A field only one side has is `(absent)`.
pub(crate) fn json_fields(a: &serde_json::Value, b: &serde_json::Value) -> Vec<Change> {
    let mut out = Vec::new();
    walk_json("", Some(a), Some(b), &mut out);
    out
}

fn walk_json(
    path: &str,
    a: Option<&serde_json::Value>,
    b: Option<&serde_json::Value>,
    out: &mut Vec<Change>,
) {
    use serde_json::Value;
    let child = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for key in keys {
                walk_json(&child(key), x.get(key), y.get(key), out);
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            for i in 0..x.len().max(y.len()) {
                walk_json(&format!("{path}[{i}]"), x.get(i), y.get(i), out);
            }
        }
        (x, y) if x == y => {}
        (x, y) => {
            let show =
                |v: Option<&Value>| v.map_or_else(|| "(absent)".to_owned(), Value::to_string);
            out.push(Change::new(
                if path.is_empty() { "." } else { path },
                show(x),
                show(y),
            ));
        }
    }
}

fn owner(e: &Entry) -> String {
    format!("{}:{}", e.uid, e.gid)
}

/// How two versions of one entry differ. A change is derived when the contents are the
/// same once other items' hashes are replaced by their names.
fn entry_changes(a: &Entry, b: &Entry) -> (Vec<Change>, bool) {
    let mut out = Vec::new();
    let mut real = false;
    let mut field = |name: &str, x: String, y: String, is_real: bool| {
        if x != y {
            real |= is_real;
            out.push(Change::new(name, x, y));
        }
    };
    field("type", a.body.kind().into(), b.body.kind().into(), true);
    field(
        "mode",
        format!("{:04o}", a.perm),
        format!("{:04o}", b.perm),
        true,
    );
    field("owner", owner(a), owner(b), true);
    field(
        "flags",
        format!("{:#x}", a.flags),
        format!("{:#x}", b.flags),
        true,
    );
    match (&a.body, &b.body) {
        (Body::File(x), Body::File(y)) => {
            let same = x.normalized == y.normalized;
            field("sha256", x.sha256.clone(), y.sha256.clone(), !same);
            field("size", x.len.to_string(), y.len.to_string(), !same);
        }
        (
            Body::Symlink {
                target: x,
                normalized: nx,
            },
            Body::Symlink {
                target: y,
                normalized: ny,
            },
        ) => field("target", x.clone(), y.clone(), nx != ny),
        (Body::Device { rdev: x, .. }, Body::Device { rdev: y, .. }) => {
            field("rdev", x.to_string(), y.to_string(), true)
        }
        _ => {}
    }
    (out, real)
}

/// Every entry that differs between two versions of an item, in path order.
pub(crate) fn manifests(a: &Manifest, b: &Manifest) -> Vec<FileChange> {
    let mut out = Vec::new();
    let paths: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for path in paths {
        let change = match (a.get(path), b.get(path)) {
            (Some(x), Some(y)) => {
                let (fields, real) = entry_changes(x, y);
                if fields.is_empty() {
                    continue;
                }
                FileChange::new(path, "changed", fields, !real)
            }
            (Some(x), None) => FileChange::new(path, "removed", vec![kind_of(x)], false),
            (None, Some(y)) => FileChange::new(path, "added", vec![kind_of(y)], false),
            (None, None) => continue,
        };
        out.push(change);
    }
    out
}

fn kind_of(e: &Entry) -> Change {
    let what = match &e.body {
        Body::File(h) => format!("file, {} bytes", h.len),
        Body::Symlink { target, .. } => format!("symlink to {target}"),
        other => other.kind().to_owned(),
    };
    Change::new("entry", String::new(), what)
}

/// Items of two sides paired by name: `(a, b)` with either missing for an item only one
/// side has. Items of one name pair up with their identical twin first (same store path),
/// then in store-path order. `roots`, the names of the two items the sides were given as
/// (`hello-2.12`, `hello-2.13`), pair up whatever their names.
pub(crate) fn pair_items<'s>(
    a: impl IntoIterator<Item = &'s Item>,
    b: impl IntoIterator<Item = &'s Item>,
    roots: Option<(&'s str, &'s str)>,
) -> Vec<(Option<&'s Item>, Option<&'s Item>)> {
    let mut by_name: BTreeMap<&str, (Vec<&Item>, Vec<&Item>)> = BTreeMap::new();
    for item in a {
        by_name.entry(&item.name).or_default().0.push(item);
    }
    for item in b {
        let name = match roots {
            Some((root_a, root_b)) if item.name == root_b => root_a,
            _ => &item.name,
        };
        by_name.entry(name).or_default().1.push(item);
    }
    let mut out = Vec::new();
    for (_, (mut xs, mut ys)) in by_name {
        xs.sort_by(|p, q| p.store_path.cmp(&q.store_path));
        ys.sort_by(|p, q| p.store_path.cmp(&q.store_path));
        let mut rest_x = Vec::new();
        for x in xs {
            match ys
                .iter()
                .position(|y| y.store_path.is_some() && y.store_path == x.store_path)
            {
                Some(i) => out.push((Some(x), Some(ys.remove(i)))),
                None => rest_x.push(x),
            }
        }
        let mut ys = ys.into_iter();
        for x in rest_x {
            out.push((Some(x), ys.next()));
        }
        out.extend(ys.map(|y| (None, Some(y))));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::content::Hashed;
    use serde_json::json;

    fn file(sha: &str, normalized: &str, perm: u16) -> Entry {
        Entry {
            uid: 0,
            gid: 0,
            perm,
            flags: 0,
            body: Body::File(Hashed {
                len: 3,
                sha256: sha.into(),
                normalized: normalized.into(),
                refs: Default::default(),
            }),
        }
    }

    #[test]
    fn declarations_differ_by_field_path() {
        let a = json!({"rc_conf": {"sshd_enable": "NO"}, "packages": [{"name": "a"}]});
        let b = json!({"rc_conf": {"sshd_enable": "YES", "x": "1"}, "packages": [{"name": "a"}, {"name": "b"}]});
        let fields: Vec<(String, String, String)> = json_fields(&a, &b)
            .into_iter()
            .map(|c| (c.field, c.a, c.b))
            .collect();
        assert_eq!(
            fields,
            [
                (
                    "packages[1]".into(),
                    "(absent)".into(),
                    r#"{"name":"b"}"#.into()
                ),
                (
                    "rc_conf.sshd_enable".into(),
                    r#""NO""#.into(),
                    r#""YES""#.into()
                ),
                ("rc_conf.x".into(), "(absent)".into(), r#""1""#.into()),
            ]
        );
        assert!(json_fields(&a, &a).is_empty());
    }

    #[test]
    fn reference_only_changes_are_derived_and_modes_are_not() {
        let a = Manifest::from([
            ("bin/sh".to_owned(), file("aa", "nn", 0o555)),
            ("etc/motd".to_owned(), file("bb", "bb", 0o444)),
            ("gone".to_owned(), file("cc", "cc", 0o444)),
        ]);
        let b = Manifest::from([
            ("bin/sh".to_owned(), file("ab", "nn", 0o555)),
            ("etc/motd".to_owned(), file("bb", "bb", 0o644)),
            ("new".to_owned(), file("dd", "dd", 0o444)),
        ]);
        let changes = manifests(&a, &b);
        let summary: Vec<(&str, &str, bool)> = changes
            .iter()
            .map(|c| (c.path.as_str(), c.status, c.derived))
            .collect();
        assert_eq!(
            summary,
            [
                ("bin/sh", "changed", true),
                ("etc/motd", "changed", false),
                ("gone", "removed", false),
                ("new", "added", false),
            ]
        );
        assert_eq!(changes[1].changes, [Change::new("mode", "0444", "0644")]);
    }

    #[test]
    fn items_pair_by_name_identical_twins_first() {
        let item =
            |name: &str, hash: &str| Item::new(name, Some(format!("/frx/store/{hash}-{name}")));
        let a = [item("sh", "1"), item("sh", "2"), item("old", "3")];
        let b = [item("sh", "2"), item("sh", "4"), item("new", "5")];
        let pairs: Vec<(Option<&str>, Option<&str>)> = pair_items(&a, &b, None)
            .into_iter()
            .map(|(x, y)| {
                (
                    x.and_then(|i| i.store_path.as_deref()),
                    y.and_then(|i| i.store_path.as_deref()),
                )
            })
            .collect();
        assert_eq!(
            pairs,
            [
                (None, Some("/frx/store/5-new")),
                (Some("/frx/store/3-old"), None),
                (Some("/frx/store/2-sh"), Some("/frx/store/2-sh")),
                (Some("/frx/store/1-sh"), Some("/frx/store/4-sh")),
            ]
        );
    }

    #[test]
    fn the_given_items_pair_up_across_versions() {
        let a = [Item::new("hello-2.12", None), Item::new("libc", None)];
        let b = [Item::new("hello-2.13", None), Item::new("libc", None)];
        let pairs: Vec<(Option<&str>, Option<&str>)> =
            pair_items(&a, &b, Some(("hello-2.12", "hello-2.13")))
                .into_iter()
                .map(|(x, y)| (x.map(|i| i.name.as_str()), y.map(|i| i.name.as_str())))
                .collect();
        assert_eq!(
            pairs,
            [
                (Some("hello-2.12"), Some("hello-2.13")),
                (Some("libc"), Some("libc"))
            ]
        );
    }
}
