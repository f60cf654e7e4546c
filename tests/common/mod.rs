//! Helpers shared by the integration tests: scratch directories, store states, hashes, and
//! builds in child processes ([`child_process`]).

#![allow(dead_code)]

pub mod child_process;
pub mod http;
pub mod pkg_repo;

use fruix_core::store::Store;
use sha2::{Digest, Sha256};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh, empty scratch directory `fruix-<name>-<pid>` in the temporary directory.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fruix-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// A scratch directory like [`scratch`] that lives as long as the test process: for
/// fixtures built once per test binary and kept in a `static` (statics are never dropped,
/// so the directory is removed by an exit hook instead of leaking into the temp dir).
pub fn process_scratch(name: &str) -> PathBuf {
    static DIRS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    static HOOK: std::sync::Once = std::sync::Once::new();
    extern "C" fn remove_all() {
        let dirs = DIRS.lock().map(|d| d.clone()).unwrap_or_default();
        for dir in dirs {
            // Store items and images are read-only: make them writable, then remove.
            let _ = Command::new("chmod").args(["-R", "u+w"]).arg(&dir).status();
            let _ = fs::remove_dir_all(&dir);
        }
    }
    let dir = scratch(name);
    DIRS.lock().unwrap().push(dir.clone());
    // SAFETY: registers a plain `extern "C"` function with no arguments, as atexit(3)
    // requires; it runs once when the test harness exits.
    HOOK.call_once(|| unsafe {
        libc::atexit(remove_all);
    });
    dir
}

/// An image built once per test binary into its own store, in a [`process_scratch`]
/// directory that also holds the tests' scratch files.
pub struct BuiltImage {
    /// The store the image was built into.
    pub store: Store,
    /// The built image.
    pub artifact: fruix_core::image::ImageArtifact,
    /// The scratch directory (the store is `dir/store`).
    pub dir: PathBuf,
}

/// Builds `os`'s image into a fresh store in `process_scratch(name)`; the tests keep the
/// result in a `static OnceLock`.
pub fn build_image(name: &str, os: &fruix_core::OperatingSystem) -> BuiltImage {
    let dir = process_scratch(name);
    let store = Store::open(dir.join("store")).unwrap();
    let artifact = fruix_core::image::materialize_bhyve_image(os, &store)
        .unwrap_or_else(|e| panic!("building {name}: {e}"));
    BuiltImage {
        store,
        artifact,
        dir,
    }
}

/// The smallest file the base import takes for a UEFI loader: an amd64 PE32+ image of an
/// EFI application, then `payload`.
pub fn efi_app(payload: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0u8; 0x80 + 24 + 70];
    bytes[..2].copy_from_slice(b"MZ");
    bytes[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
    bytes[0x80..0x84].copy_from_slice(b"PE\0\0");
    bytes[0x84..0x86].copy_from_slice(&0x8664u16.to_le_bytes());
    bytes[0x80 + 24 + 68..][..2].copy_from_slice(&10u16.to_le_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// An image's root file system, read in place: the root partition's range of the image
/// item's `disk.img` (there is no separate root item).
pub fn image_root(
    store: &Store,
    artifact: &fruix_core::image::ImageArtifact,
) -> fruix_core::image::ufs::Ufs<fs::File> {
    let root = artifact
        .spec
        .partition(fruix_core::image::PartitionKind::FreebsdUfs)
        .expect("the image has a UFS2 root partition");
    let disk = store.physical(&artifact.image).join("disk.img");
    fruix_core::image::ufs::Ufs::open(fs::File::open(disk).unwrap(), root.offset()).unwrap()
}

/// Where an image's root file system starts in its `disk.img`, in 512-byte sectors (for
/// The Sleuth Kit's `-o`).
pub fn image_root_sectors(artifact: &fruix_core::image::ImageArtifact) -> u64 {
    artifact
        .spec
        .partition(fruix_core::image::PartitionKind::FreebsdUfs)
        .expect("the image has a UFS2 root partition")
        .offset()
        / 512
}

/// Removes a tree that holds read-only directories (as store items and images are written).
pub fn remove_read_only_tree(root: &Path) {
    Command::new("chmod")
        .args(["-R", "u+w"])
        .arg(root)
        .status()
        .unwrap();
    fs::remove_dir_all(root).unwrap();
}

/// The names (without hash) of a store's registered items.
pub fn item_names(store: &Store) -> Vec<String> {
    store
        .items()
        .unwrap()
        .iter()
        .map(|i| i.name().to_owned())
        .collect()
}

/// Everything in a store directory (names only, recursively): what "unchanged" means.
/// Lock files are left out: they are empty coordination files that hold no store data
/// and are kept for reuse (removing them would race with other builders).
pub fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "lock") {
                continue;
            }
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() && !p.is_symlink() {
                todo.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Every entry under `dir` (itself included) with its size and modification time,
/// sorted: any write shows up here.
pub fn entry_state(dir: &Path) -> Vec<(PathBuf, u64, i64, i64)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(p) = todo.pop() {
        let md = fs::symlink_metadata(&p).unwrap();
        out.push((p.clone(), md.size(), md.mtime(), md.mtime_nsec()));
        if md.is_dir() {
            todo.extend(fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        }
    }
    out.sort();
    out
}

/// Every regular file under `dir`, with its metadata (symbolic links are not followed).
pub fn regular_files(dir: &Path) -> Vec<(PathBuf, fs::Metadata)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(p) = todo.pop() {
        let md = fs::symlink_metadata(&p).unwrap();
        if md.is_dir() {
            todo.extend(fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else if md.is_file() {
            out.push((p, md));
        }
    }
    out
}

/// Space on the file system holding a directory, in bytes.
pub struct FsSpace {
    pub used: u64,
    /// What an unprivileged writer may still use.
    pub available: u64,
}

/// statvfs(3) of the file system holding `dir`; None when it cannot be asked.
pub fn fs_space(dir: &Path) -> Option<FsSpace> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs is plain data; all zeros is a valid value.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `st` a valid out-parameter.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    // The field types differ between systems; they are u64 on some.
    #[allow(clippy::unnecessary_cast)]
    let (blocks, free, avail, frsize) = (
        st.f_blocks as u64,
        st.f_bfree as u64,
        st.f_bavail as u64,
        st.f_frsize as u64,
    );
    Some(FsSpace {
        used: (blocks - free) * frsize,
        available: avail * frsize,
    })
}

/// The sha256 of a file, as hex.
pub fn sha(path: &Path) -> String {
    Sha256::digest(fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
