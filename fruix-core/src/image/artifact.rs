//! The image as a store item: `<hash>-fruix-bhyve-image-<host>` with `disk.img`,
//! `metadata`, `metadata.json`, `run-bhyve.sh` and `run-qemu.sh`. The ESP and the root
//! file system are store items of their own (`fruix-esp-*`, `fruix-root-*`), so a change
//! that touches only one of them reuses the other; `disk.img` is assembled from them.

use super::esp::{build_esp, EspError};
use super::gpt::{self, write_partition_table};
use super::layout::{self, ImageSpec, LayoutError, PartitionKind};
use super::metadata::{self, Metadata};
use super::ufs::{self, UfsLayout, UfsOptions};
use crate::rootfs::{self, RootfsError};
use crate::store::{ImageMeta, Store, StoreError, StorePath, STORE_MTIME};
use crate::system::{build_system, SystemClosure, SystemError};
use crate::OperatingSystem;
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Why an image could not be made. The store keeps only complete items.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    System(#[from] SystemError),
    #[error(transparent)]
    Rootfs(#[from] RootfsError),
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error(transparent)]
    Esp(#[from] EspError),
    #[error(transparent)]
    Gpt(#[from] gpt::WriteError),
    #[error("root file system: {0}")]
    Plan(#[from] ufs::PlanError),
    #[error("root file system: {0}")]
    Write(#[from] ufs::WriteError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{action} `{}`: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no space left on the device holding `{}` while {action}; the store is unchanged", path.display())]
    NoSpace { action: &'static str, path: PathBuf },
    #[error("image item `{0}` is damaged: {1}")]
    Damaged(String, String),
}

fn is_no_space(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error() == Some(28)
}

/// Adds the action and path to an I/O error; "no space" gets its own variant.
fn io<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(std::io::Error) -> ImageError + 'p {
    move |source| {
        if is_no_space(&source) {
            ImageError::NoSpace {
                action,
                path: path.to_owned(),
            }
        } else {
            ImageError::Io {
                action,
                path: path.to_owned(),
                source,
            }
        }
    }
}

/// A built image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageArtifact {
    /// The image item.
    pub image: StorePath,
    /// `disk.img` in the physical store.
    pub disk_image: PathBuf,
    pub spec: ImageSpec,
    pub metadata: Metadata,
}

/// Stages of a build, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    System,
    Esp,
    Root { done: u64, total: u64 },
    Disk,
    Done,
}

/// Bumped whenever the image's bytes would change for the same inputs.
const SCHEME: &str = "fruix-image-v1";

fn key(kind: &str, parts: &[&str]) -> String {
    let mut sha = Sha256::new();
    sha.update(SCHEME);
    for part in parts {
        sha.update([0]);
        sha.update(part);
    }
    format!("{kind}-{}", crate::store::hash::hex(&sha.finalize()))
}

fn ufs_options(spec: &ImageSpec, size: Option<u64>) -> UfsOptions {
    // The UFS volume label is stricter (31 bytes) than the GPT's: keep it when it fits.
    let label = &spec.root_label;
    let fits = label.len() <= 31
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    UfsOptions {
        size,
        label: fits.then(|| label.clone()),
        time: Some(STORE_MTIME),
        ..UfsOptions::default()
    }
}

/// The image layout of `os`, computed before anything is written (building the system
/// closure in `store` if needed).
pub fn operating_system_image_spec(
    os: &OperatingSystem,
    store: &Store,
) -> Result<ImageSpec, ImageError> {
    let closure = build_system(os, store)?;
    spec_for(os, store, &closure)
}

fn spec_for(
    os: &OperatingSystem,
    store: &Store,
    closure: &SystemClosure,
) -> Result<ImageSpec, ImageError> {
    let tree = rootfs::root_tree(store, closure)?;
    // Only the tree's needs matter here, not the options' size or label.
    let min = ufs::min_size(&tree, &UfsOptions::default())?;
    Ok(layout::plan(
        os,
        closure.system.hash(),
        closure.base.bootloader.hash(),
        min,
    )?)
}

/// Builds the bhyve image of `os` (or finds it in the build cache) and returns its paths
/// and metadata.
pub fn materialize_bhyve_image(
    os: &OperatingSystem,
    store: &Store,
) -> Result<ImageArtifact, ImageError> {
    materialize_bhyve_image_with_progress(os, store, &mut |_| {})
}

/// [`materialize_bhyve_image`], reporting each stage to `progress`.
pub fn materialize_bhyve_image_with_progress(
    os: &OperatingSystem,
    store: &Store,
    progress: &mut dyn FnMut(Stage),
) -> Result<ImageArtifact, ImageError> {
    progress(Stage::System);
    let closure = build_system(os, store)?;
    let spec = spec_for(os, store, &closure)?;
    let spec_json = serde_json::to_string(&spec)
        .map_err(|e| ImageError::Damaged(String::new(), e.to_string()))?;
    let image_key = key("image", &[&closure.system.to_string(), &spec_json]);
    let image = store.build_cached::<ImageError>(&image_key, |store| {
        progress(Stage::Esp);
        let esp = esp_item(store, &closure, &spec)?;
        let root = root_item(store, &closure, &spec, progress)?;
        progress(Stage::Disk);
        disk_item(os, store, &closure, &spec, &esp, &root)
    })?;
    progress(Stage::Done);
    load(store, &image)
}

/// Reads a built image back from its item.
pub fn load(store: &Store, image: &StorePath) -> Result<ImageArtifact, ImageError> {
    let dir = store.physical(image);
    let damaged = |why: String| ImageError::Damaged(image.to_string(), why);
    let json = fs::read(dir.join("metadata.json")).map_err(|e| damaged(e.to_string()))?;
    let metadata: Metadata = serde_json::from_slice(&json).map_err(|e| damaged(e.to_string()))?;
    let spec_json = fs::read(dir.join("image-spec.json")).map_err(|e| damaged(e.to_string()))?;
    let spec = serde_json::from_slice(&spec_json).map_err(|e| damaged(e.to_string()))?;
    Ok(ImageArtifact {
        image: image.clone(),
        disk_image: dir.join("disk.img"),
        spec,
        metadata,
    })
}

fn esp_item(
    store: &Store,
    closure: &SystemClosure,
    spec: &ImageSpec,
) -> Result<StorePath, ImageError> {
    let part = spec
        .partition(PartitionKind::Esp)
        .ok_or_else(|| ImageError::Damaged(String::new(), "layout has no ESP".into()))?;
    // Through `item_file`: a base's symlink must not put a file of the host in the ESP.
    let loader_path = store
        .item_file(&closure.base.bootloader, "boot/loader.efi")
        .ok_or_else(|| {
            ImageError::Damaged(
                closure.base.bootloader.to_string(),
                "no regular file boot/loader.efi inside the item".into(),
            )
        })?;
    // The item's name is part of its identity: without it, another host's ESP with the
    // same bytes would be found in the cache, and the image would depend on what the
    // store happened to hold before.
    let name = format!("fruix-esp-{}", spec.host_name);
    let esp_key = key(
        "esp",
        &[
            &name,
            &closure.base.bootloader.to_string(),
            &part.size().to_string(),
            spec.esp_fat.name(),
            &spec.esp_volume_id.to_string(),
        ],
    );
    store.build_cached::<ImageError>(&esp_key, |store| {
        let loader = fs::read(&loader_path).map_err(io("reading", &loader_path))?;
        let esp = build_esp(part.size(), spec.esp_fat, spec.esp_volume_id, &loader)?;
        let mut b = store.builder(&name)?;
        b.file("esp.img", &esp.bytes, false)?;
        Ok(b.commit()?)
    })
}

fn root_item(
    store: &Store,
    closure: &SystemClosure,
    spec: &ImageSpec,
    progress: &mut dyn FnMut(Stage),
) -> Result<StorePath, ImageError> {
    let root_key = key(
        "root",
        &[
            &closure.system.to_string(),
            &spec.root_fs_size.to_string(),
            &spec.root_label,
        ],
    );
    store.build_cached::<ImageError>(&root_key, |store| {
        let tree = rootfs::root_tree(store, closure)?;
        let plan = UfsLayout::plan(&tree, &ufs_options(spec, Some(spec.root_fs_size)))?;
        let mut b = store.builder(&format!("fruix-root-{}", spec.host_name))?;
        let path = b.prepare("root.img")?;
        // It holds every file of the system, secrets included: owner-only on the host.
        b.set_meta("root.img", ImageMeta::root(0o400));
        let file = File::create(&path).map_err(io("creating", &path))?;
        // A new file reads as zeros: the writer's fast path for files applies (kernel-side
        // copies, sources opened ahead, holes kept).
        let total = plan.inodes.iter().map(|p| p.size).sum();
        progress(Stage::Root { done: 0, total });
        plan.write_to_file(&file, 0).map_err(|e| match e {
            ufs::WriteError::Io(source) => io("writing the root file system", &path)(source),
            other => other.into(),
        })?;
        progress(Stage::Root { done: total, total });
        file.sync_all().map_err(io("syncing", &path))?;
        Ok(b.commit()?)
    })
}

/// Copies `src` into `dst` (the file at `dst_path`) at `offset`, leaving all-zero blocks as
/// holes.
fn copy_sparse(src: &Path, dst: &mut File, dst_path: &Path, offset: u64) -> Result<(), ImageError> {
    const BLOCK: usize = 64 << 10;
    let mut input = File::open(src).map_err(io("opening", src))?;
    let mut buf = vec![0u8; BLOCK];
    let mut at = offset;
    loop {
        let mut n = 0;
        while n < BLOCK {
            let got = input.read(&mut buf[n..]).map_err(io("reading", src))?;
            if got == 0 {
                break;
            }
            n += got;
        }
        if n == 0 {
            return Ok(());
        }
        if buf[..n].iter().any(|&b| b != 0) {
            dst.seek(SeekFrom::Start(at))
                .map_err(io("seeking in", dst_path))?;
            dst.write_all(&buf[..n])
                .map_err(io("writing the disk image", dst_path))?;
        }
        at += n as u64;
    }
}

fn disk_item(
    os: &OperatingSystem,
    store: &Store,
    closure: &SystemClosure,
    spec: &ImageSpec,
    esp: &StorePath,
    root: &StorePath,
) -> Result<StorePath, ImageError> {
    let mut b = store.builder(&format!("fruix-bhyve-image-{}", spec.host_name))?;
    let disk_path = b.prepare("disk.img")?;
    // Like root.img, it holds the system's secrets: owner-only on the host.
    b.set_meta("disk.img", ImageMeta::root(0o400));
    let mut disk = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&disk_path)
        .map_err(io("creating", &disk_path))?;
    disk.set_len(spec.disk_size)
        .map_err(io("sizing", &disk_path))?;
    write_partition_table(spec, &mut disk)?;
    for (kind, item, file) in [
        (PartitionKind::Esp, esp, "esp.img"),
        (PartitionKind::FreebsdUfs, root, "root.img"),
    ] {
        if let Some(part) = spec.partition(kind) {
            copy_sparse(
                &store.physical(item).join(file),
                &mut disk,
                &disk_path,
                part.offset(),
            )?;
        }
    }
    disk.sync_all().map_err(io("syncing", &disk_path))?;
    drop(disk);
    let raw_sha256 =
        crate::store::hash::sha256_file(&disk_path).map_err(io("reading", &disk_path))?;
    let md = metadata::metadata(
        os,
        store,
        closure,
        spec,
        &b.self_path(),
        esp,
        root,
        &raw_sha256,
    )?;
    b.file_with_self_ref("metadata", md.to_key_values().as_bytes(), false)?;
    let json = serde_json::to_vec_pretty(&md)
        .map_err(|e| ImageError::Damaged(String::new(), e.to_string()))?;
    b.file_with_self_ref("metadata.json", &json, false)?;
    let spec_json = serde_json::to_vec_pretty(spec)
        .map_err(|e| ImageError::Damaged(String::new(), e.to_string()))?;
    b.file("image-spec.json", &spec_json, false)?;
    b.file(
        "run-bhyve.sh",
        metadata::run_bhyve(&spec.host_name).as_bytes(),
        true,
    )?;
    b.file(
        "run-qemu.sh",
        metadata::run_qemu(&spec.host_name).as_bytes(),
        true,
    )?;
    Ok(b.commit()?)
}
