//! The system profile: the union of the base userland and the packages, made of symlinks
//! into their items. Like Nix's buildEnv, a directory only one item provides is one link;
//! directories several items provide are real and merged entry by entry.

use super::SystemError;
use crate::store::{ItemBuilder, Store, StorePath};
use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

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
