//! Inline and tree packages become store items named `<name>-<version>` (FreeBSD
//! packages are imported by `super::pkgs`).

use super::SystemError;
use crate::store::{ItemBuilder, Store, StorePath};
use crate::{Package, PackageSource};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Puts `package` into the store.
pub fn materialize(package: &Package, store: &Store) -> Result<StorePath, SystemError> {
    let name = if package.version.is_empty() {
        package.name.clone()
    } else {
        format!("{}-{}", package.name, package.version)
    };
    let mut b = store.builder(&name)?;
    match &package.source {
        PackageSource::Inline { files } => {
            for file in files {
                b.file(&file.path, file.contents.as_bytes(), file.executable)?;
            }
        }
        PackageSource::Tree { path } => copy_tree(package, path, path, &mut b)?,
        // FreeBSD packages are the package stage's (`super::pkgs`), never built here.
        PackageSource::Pkg { .. } | PackageSource::PkgFile { .. } => {
            return Err(SystemError::Package {
                name: package.name.clone(),
                why: "a FreeBSD package reached the inline/tree package builder".to_owned(),
            })
        }
    }
    Ok(b.commit()?)
}

fn copy_tree(
    package: &Package,
    root: &Path,
    dir: &Path,
    b: &mut ItemBuilder<'_>,
) -> Result<(), SystemError> {
    let fail = |why: String| SystemError::Package {
        name: package.name.clone(),
        why,
    };
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(|e| fail(format!("cannot list `{}`: {e}", dir.display())))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        let rel = path
            .strip_prefix(root)
            .ok()
            .and_then(Path::to_str)
            .ok_or_else(|| fail(format!("`{}` has a name that is not UTF-8", path.display())))?
            .to_owned();
        let md =
            fs::symlink_metadata(&path).map_err(|e| fail(format!("`{}`: {e}", path.display())))?;
        if md.is_dir() {
            b.dir(&rel)?;
            copy_tree(package, root, &path, b)?;
        } else if md.file_type().is_symlink() {
            let target =
                fs::read_link(&path).map_err(|e| fail(format!("`{}`: {e}", path.display())))?;
            let target = target.to_str().ok_or_else(|| {
                fail(format!(
                    "`{}` points to a name that is not UTF-8",
                    path.display()
                ))
            })?;
            b.symlink(&rel, target)?;
        } else if md.is_file() {
            b.copy_file(&rel, &path, md.permissions().mode() & 0o111 != 0)?;
        } else {
            return Err(fail(format!(
                "`{}` is not a file, directory or symlink",
                path.display()
            )));
        }
    }
    Ok(())
}
