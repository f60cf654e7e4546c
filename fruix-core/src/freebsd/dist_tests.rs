//! Bases refused at import, with the reason, before anything reaches the store.

use super::{materialize, materialize_tree};
use crate::freebsd::BaseError;
use crate::store::Store;
use crate::FreeBsdBase;
use std::fs;
use std::path::Path;

fn release() -> FreeBsdBase {
    FreeBsdBase::default()
}

/// A FreeBSD tree with the files a system needs, plus `extra` (path, contents or `None`
/// for a directory); `loader` false leaves out `boot/loader.efi`.
fn tree(root: &Path, loader: bool, extra: &[(&str, Option<&str>)]) {
    let mut entries = vec![
        ("bin/sh", Some("sh")),
        ("usr/share/zoneinfo/UTC", Some("TZif2")),
        ("boot/kernel/kernel", Some("ELF kernel")),
        ("boot/lua/loader.lua", Some("-- lua")),
    ];
    if loader {
        entries.push(("boot/loader.efi", Some("MZ loader")));
    }
    entries.extend_from_slice(extra);
    for (path, data) in entries {
        let path = root.join(path);
        match data {
            Some(data) => {
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(path, data).unwrap();
            }
            None => fs::create_dir_all(path).unwrap(),
        }
    }
}

/// `base.txz` and `kernel.txz` of the tree at `root`, in `dir`; returns their sha256s.
fn sets(root: &Path, dir: &Path) -> (String, String) {
    let pack = |name: &str, include: &dyn Fn(&Path) -> bool| {
        let file = fs::File::create(dir.join(name)).unwrap();
        let mut tar = tar::Builder::new(xz2::write::XzEncoder::new(file, 1));
        tar.follow_symlinks(false);
        let mut todo = vec![root.to_path_buf()];
        while let Some(path) = todo.pop() {
            let rel = path.strip_prefix(root).unwrap();
            if fs::symlink_metadata(&path).unwrap().is_dir() {
                let mut children: Vec<_> = fs::read_dir(&path)
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .collect();
                children.sort();
                todo.extend(children.into_iter().rev());
            }
            if rel.as_os_str().is_empty() || !include(rel) {
                continue;
            }
            tar.append_path_with_name(&path, Path::new(".").join(rel))
                .unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap();
        crate::store::hash::sha256_file(&dir.join(name)).unwrap()
    };
    let in_kernel = |rel: &Path| rel.starts_with("boot/kernel");
    let base = pack("base.txz", &|rel| {
        !in_kernel(rel) || rel == Path::new("boot")
    });
    let kernel = pack("kernel.txz", &|rel| {
        in_kernel(rel) || rel == Path::new("boot")
    });
    (base, kernel)
}

/// Imports the tree at `root` both as a tree and as release sets; returns both results
/// and checks that a refused import leaves the store empty.
fn import_both_ways(root: &Path) -> Vec<Result<(), BaseError>> {
    let work = tempfile::tempdir().unwrap();
    let dist = work.path().join("dist");
    fs::create_dir(&dist).unwrap();
    let (base_sum, kernel_sum) = sets(root, &dist);
    let mut results = Vec::new();
    for as_sets in [false, true] {
        let store = Store::open(work.path().join(format!("store-{as_sets}"))).unwrap();
        let result = if as_sets {
            materialize(
                &release(),
                &dist,
                Some(&base_sum),
                Some(&kernel_sum),
                &store,
            )
        } else {
            materialize_tree(&release(), root, &store)
        };
        if result.is_err() {
            assert_eq!(store.items().unwrap(), []);
        }
        results.push(result.map(|_| ()));
    }
    results
}

#[test]
fn a_top_level_run_is_refused_at_import() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path(), true, &[("run", None), ("run/pid", Some("1"))]);
    for result in import_both_ways(dir.path()) {
        let err = result.unwrap_err();
        let BaseError::TopLevelCollision { name, made, .. } = &err else {
            panic!("{err}");
        };
        assert_eq!((*name, *made), ("run", "/run/current-system"));
        assert!(
            err.to_string()
                .contains("the base's `/run` collides with `/run/current-system`"),
            "{err}"
        );
    }
}

#[test]
fn a_base_without_its_uefi_loader_is_refused_at_import() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path(), false, &[]);
    for result in import_both_ways(dir.path()) {
        let err = result.unwrap_err();
        assert!(
            matches!(
                err,
                BaseError::MissingLoader {
                    problem: "is missing",
                    ..
                }
            ),
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.contains("boot/loader.efi is missing: the EFI system partition boots"),
            "{text}"
        );
    }
}

#[test]
fn the_loader_may_be_a_link_inside_the_base_but_not_outside() {
    let host = tempfile::NamedTempFile::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    tree(
        dir.path(),
        false,
        &[("boot/loader_lua.efi", Some("MZ lua"))],
    );
    let loader = dir.path().join("boot/loader.efi");
    std::os::unix::fs::symlink("loader_lua.efi", &loader).unwrap();
    for result in import_both_ways(dir.path()) {
        result.unwrap();
    }
    fs::remove_file(&loader).unwrap();
    std::os::unix::fs::symlink(host.path(), &loader).unwrap();
    for result in import_both_ways(dir.path()) {
        let err = result.unwrap_err();
        assert!(
            err.to_string()
                .contains("not a regular file inside the base"),
            "{err}"
        );
    }
}
