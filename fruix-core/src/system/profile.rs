//! The system profile: the union of the base userland and the packages, made of symlinks
//! into their items. Like Nix's buildEnv, a directory only one item provides is one link;
//! directories several items provide are real and merged entry by entry. A file several
//! items provide is fine when it is the same everywhere (same bytes and mode, or the same
//! symlink target: packages often share a license or a directory link); otherwise it is a
//! [`SystemError::ProfileConflict`] naming the path and both items.

use super::SystemError;
use crate::store::{ItemBuilder, Store, StorePath};
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Builds the profile item of `items` (earlier items first in error messages).
pub fn build(items: &[StorePath], store: &Store) -> Result<StorePath, SystemError> {
    let mut b = store.builder("fruix-profile")?;
    let sources: Vec<(StorePath, PathBuf)> = items
        .iter()
        .map(|i| (i.clone(), store.physical(i)))
        .collect();
    merge(&mut b, "", &sources)?;
    Ok(b.commit()?)
}

fn merge(
    b: &mut ItemBuilder<'_>,
    rel: &str,
    sources: &[(StorePath, PathBuf)],
) -> Result<(), SystemError> {
    let mut names = BTreeSet::new();
    for (_, dir) in sources {
        let listing = fs::read_dir(dir).map_err(crate::io_error::io("listing", dir))?;
        for entry in listing {
            let entry = entry.map_err(crate::io_error::io("listing", dir))?;
            if let Ok(name) = entry.file_name().into_string() {
                names.insert(name);
            }
        }
    }
    for name in names {
        let child = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let having: Vec<(StorePath, PathBuf)> = sources
            .iter()
            .map(|(item, dir)| (item.clone(), dir.join(&name)))
            .filter(|(_, p)| fs::symlink_metadata(p).is_ok())
            .collect();
        let all_dirs = having
            .iter()
            .all(|(_, p)| fs::symlink_metadata(p).is_ok_and(|m| m.is_dir()));
        match having.as_slice() {
            [(item, _)] => b.symlink(&child, &item.join(&child))?,
            [(item, first), rest @ ..] if rest.iter().all(|(_, p)| same_file(first, p)) => {
                b.symlink(&child, &item.join(&child))?
            }
            [_, _, ..] if all_dirs => {
                b.dir(&child)?;
                merge(b, &child, &having)?;
            }
            [(a, _), (c, _), ..] => {
                return Err(SystemError::ProfileConflict {
                    path: child,
                    first: a.to_string(),
                    second: c.to_string(),
                })
            }
            [] => {}
        }
    }
    Ok(())
}

/// Are `a` and `b` the same non-directory: both symlinks to the same target, or both
/// regular files with the same permission bits and bytes?
fn same_file(a: &Path, b: &Path) -> bool {
    let (Ok(ma), Ok(mb)) = (fs::symlink_metadata(a), fs::symlink_metadata(b)) else {
        return false;
    };
    if ma.file_type().is_symlink() && mb.file_type().is_symlink() {
        return matches!((fs::read_link(a), fs::read_link(b)), (Ok(x), Ok(y)) if x == y);
    }
    ma.is_file()
        && mb.is_file()
        && ma.len() == mb.len()
        && ma.permissions().mode() == mb.permissions().mode()
        && matches!((fs::read(a), fs::read(b)), (Ok(x), Ok(y)) if x == y)
}
