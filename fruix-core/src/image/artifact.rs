//! The image as a store item: `<hash>-fruix-bhyve-image-<host>` with `disk.img`,
//! `metadata`, `metadata.json`, `run-bhyve.sh` and `run-qemu.sh`. The ESP and the root
//! file system are store items of their own (`fruix-esp-*`, `fruix-root-*`), so a change
//! that touches only one of them reuses the other; `disk.img` is assembled from them.
//!
//! Every item is found by the identities of its inputs (the system item, the boot loader
//! item, the declared layout, the scheme), so a warm rebuild finds the image without
//! building anything. A cold one moves forward: root tree (once) -> every program the
//! system runs is in it ([`super::programs`]) -> its UFS2 layout ->
//! ESP item -> root item -> the sealed disk layout, from the partitions' sizes -> disk.

use super::esp::{build_esp, EspError};
use super::gpt::{self, write_partition_table};
use super::layout::{self, ImageSpec, LayoutError, PartitionKind};
use super::metadata::{self, Metadata};
use super::programs::{check_tree, MissingPrograms};
use super::ufs::{self, UfsLayout, UfsOptions};
use crate::io_error::{io, IoError};
use crate::rootfs::{self, RootfsError};
use crate::store::{ImageMeta, Store, StoreError, StorePath, STORE_MTIME};
use crate::system::{build_system, build_system_with, PackageOptions, SystemClosure, SystemError};
use crate::tree::FileTree;
use crate::{geometry, ToValidated, ValidatedSystem};
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Why an image could not be made. The store keeps only complete items.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    /// The system closure could not be built.
    System(#[from] SystemError),
    #[error(transparent)]
    /// The root tree could not be assembled.
    Rootfs(#[from] RootfsError),
    #[error(transparent)]
    /// The partitions do not fit the declared image size.
    Layout(#[from] LayoutError),
    #[error(transparent)]
    /// A program the system runs is missing from its root file system.
    MissingPrograms(#[from] MissingPrograms),
    #[error(transparent)]
    /// The ESP could not be built.
    Esp(#[from] EspError),
    #[error(transparent)]
    /// The partition table could not be written.
    Gpt(#[from] gpt::WriteError),
    #[error("root file system: {0}")]
    /// The root file system cannot be laid out.
    Plan(#[from] ufs::PlanError),
    #[error("root file system: {0}")]
    /// The root file system could not be written.
    Write(#[from] ufs::WriteError),
    #[error(transparent)]
    /// The store refused an item.
    Store(#[from] StoreError),
    #[error(transparent)]
    /// An I/O operation on an image file failed.
    Io(IoError),
    #[error("no space left on the device holding `{}` while {action}; the store is unchanged", path.display())]
    /// The device holding the store is full; the store is unchanged.
    NoSpace {
        /// What was being done.
        action: &'static str,
        /// The file being written.
        path: PathBuf,
    },
    #[error("image item `{0}` is damaged: {1}")]
    /// A stored image item (first) cannot be read back; the second string says why.
    Damaged(String, String),
}

/// A full disk is [`ImageError::NoSpace`]: the caller can free space and retry.
impl From<IoError> for ImageError {
    fn from(e: IoError) -> ImageError {
        if e.is_no_space() {
            ImageError::NoSpace {
                action: e.action,
                path: e.path,
            }
        } else {
            ImageError::Io(e)
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
    /// The partition layout the image was written with.
    pub spec: ImageSpec,
    /// The image's metadata (also stored in the item).
    pub metadata: Metadata,
}

/// Stages of a build, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Building the system closure.
    System,
    /// Fetching FreeBSD packages (part of the system closure).
    Packages {
        /// Bytes fetched so far (cache hits count as fetched).
        done: u64,
        /// Bytes of all the packages.
        total: u64,
    },
    /// Building the ESP.
    Esp,
    /// Writing the root file system.
    Root {
        /// Bytes of file contents written so far.
        done: u64,
        /// Bytes of file contents in all.
        total: u64,
    },
    /// Assembling the disk image.
    Disk,
    /// The image is finished.
    Done,
}

/// Bumped whenever the image's bytes would change for the same inputs (v2: metadata
/// derived from the layout and the consoles, `loader_console`).
const SCHEME: &str = "fruix-image-v2";

fn key(kind: &str, parts: &[&str]) -> String {
    let mut sha = Sha256::new();
    sha.update(SCHEME);
    for part in parts {
        sha.update([0]);
        sha.update(part);
    }
    format!("{kind}-{}", crate::store::hash::hex(&sha.finalize()))
}

/// What the image and its partition items are found by: the identities of their inputs,
/// never anything computed from their contents, so that finding them builds nothing.
struct ImageKeys {
    image: String,
    esp: String,
    root: String,
}

impl ImageKeys {
    fn new(os: &ValidatedSystem, closure: &SystemClosure) -> Result<ImageKeys, ImageError> {
        let system = closure.system.to_string();
        let loader = closure.base.bootloader.to_string();
        // The system item records the whole declaration (`metadata/spec.json`) and every
        // generated file, so its path stands for all the image's metadata reads; the
        // declared layout is added to say what the image's own inputs are.
        let layout = serde_json::to_string(&os.image)
            .map_err(|e| ImageError::Damaged(String::new(), e.to_string()))?;
        let image = key("image", &[&system, &loader, &layout]);
        // The item's name is part of its identity: without it, another host's ESP with the
        // same bytes would be found in the cache, and the image would depend on what the
        // store happened to hold before.
        let esp_volume = os.esp_volume();
        let esp = key(
            "esp",
            &[
                &esp_name(os),
                &loader,
                &esp_volume.bytes().to_string(),
                esp_volume.fat().name(),
                &layout::esp_volume_id(closure.base.bootloader.hash()).to_string(),
            ],
        );
        // A fixed image size fixes the root's; `auto` sizes it from the tree, which the
        // system item determines.
        let root_size = os
            .geometry()
            .fixed_root_size()
            .map_or_else(|| "auto".to_owned(), |size| size.to_string());
        let root = key("root", &[&system, &root_size, &os.image.root_label]);
        Ok(ImageKeys { image, esp, root })
    }
}

fn esp_name(os: &ValidatedSystem) -> String {
    format!("fruix-esp-{}", os.host_name)
}

/// The UFS options of the root file system: the image's root label is also the volume's
/// when UFS allows it (its rule is stricter than GPT's).
fn root_options(os: &ValidatedSystem, size: Option<u64>) -> UfsOptions {
    let label = &os.image.root_label;
    UfsOptions {
        size,
        label: geometry::is_ufs_volume_label(label).then(|| label.clone()),
        time: Some(STORE_MTIME),
        ..UfsOptions::default()
    }
}

/// Sizes the root file system for `tree` (the smallest size that holds it, grown as the
/// declaration says) and lays it out.
fn plan_root<'t>(os: &ValidatedSystem, tree: &'t FileTree) -> Result<UfsLayout<'t>, ImageError> {
    let options = root_options(os, None);
    let size = layout::root_fs_size(os, ufs::min_size(tree, &options)?)?;
    Ok(UfsLayout::plan(tree, &root_options(os, Some(size)))?)
}

/// The size of a root item's file system (its `root.img` is exactly that long).
fn built_root_size(store: &Store, root: &StorePath) -> Result<u64, ImageError> {
    let path = store.physical(root).join("root.img");
    fs::metadata(&path)
        .map(|m| m.len())
        .map_err(|e| ImageError::Damaged(root.to_string(), e.to_string()))
}

/// The image layout of `os`, sealed before anything is written (building the system
/// closure in `store` if needed). Found without building anything when the image is built.
pub fn operating_system_image_spec(
    os: &impl ToValidated,
    store: &Store,
) -> Result<ImageSpec, ImageError> {
    let os = os.to_validated().map_err(SystemError::from)?;
    let closure = build_system(&*os, store)?;
    let keys = ImageKeys::new(&os, &closure)?;
    if let Some(image) = store.cached(&keys.image) {
        return Ok(load(store, &image)?.spec);
    }
    let root_fs_size = match store.cached(&keys.root) {
        Some(root) => built_root_size(store, &root)?,
        None => {
            let tree = rootfs::root_tree(store, &closure)?;
            check_tree(&os, &tree)?;
            layout::root_fs_size(&os, ufs::min_size(&tree, &root_options(&os, None))?)?
        }
    };
    Ok(layout::seal(
        &os,
        closure.system.hash(),
        closure.base.bootloader.hash(),
        root_fs_size,
    )?)
}

/// Builds the bhyve image of `os` (or finds it in the build cache) and returns its paths
/// and metadata. An [`OperatingSystem`](crate::OperatingSystem) is validated first; pass
/// a [`ValidatedSystem`] to validate once for several calls.
pub fn materialize_bhyve_image(
    os: &impl ToValidated,
    store: &Store,
) -> Result<ImageArtifact, ImageError> {
    materialize_bhyve_image_with_progress(os, store, &mut |_| {})
}

/// [`materialize_bhyve_image`], reporting each stage to `progress`.
pub fn materialize_bhyve_image_with_progress(
    os: &impl ToValidated,
    store: &Store,
    progress: &mut dyn FnMut(Stage),
) -> Result<ImageArtifact, ImageError> {
    materialize_bhyve_image_with(os, store, &PackageOptions::default(), progress)
}

/// [`materialize_bhyve_image_with_progress`] with FreeBSD packages pinned by `options`
/// (lock file, downloads), package downloads reported as [`Stage::Packages`].
pub fn materialize_bhyve_image_with(
    os: &impl ToValidated,
    store: &Store,
    options: &PackageOptions,
    progress: &mut dyn FnMut(Stage),
) -> Result<ImageArtifact, ImageError> {
    progress(Stage::System);
    let os = os.to_validated().map_err(SystemError::from)?;
    let closure = build_system_with(&*os, store, options, &mut |done, total| {
        progress(Stage::Packages { done, total })
    })?;
    let keys = ImageKeys::new(&os, &closure)?;
    let image = store.build_cached::<ImageError>(&keys.image, |store| {
        build_image(&os, store, &closure, &keys, progress)
    })?;
    progress(Stage::Done);
    load(store, &image)
}

/// The root partition's item: found in the store, or laid out and still to be written.
enum Root<'t> {
    Built(StorePath),
    Planned(UfsLayout<'t>),
}

/// The image stage, forward only: the root tree (built once, and only when the root item
/// is not in the store) and its layout, the ESP item, the root item, the sealed layout
/// from the partitions' sizes, the disk.
fn build_image(
    os: &ValidatedSystem,
    store: &Store,
    closure: &SystemClosure,
    keys: &ImageKeys,
    progress: &mut dyn FnMut(Stage),
) -> Result<StorePath, ImageError> {
    // Sized and planned before any item is written: an image too small for its
    // contents fails here, leaving the store as it was.
    let tree;
    let root = match store.cached(&keys.root) {
        Some(item) => Root::Built(item),
        None => {
            tree = rootfs::root_tree(store, closure)?;
            // Closure completeness: every program the system runs is in the tree.
            check_tree(os, &tree)?;
            Root::Planned(plan_root(os, &tree)?)
        }
    };
    progress(Stage::Esp);
    let esp = esp_item(os, store, closure, &keys.esp)?;
    let (root, root_fs_size) = match root {
        Root::Built(item) => {
            let size = built_root_size(store, &item)?;
            (item, size)
        }
        Root::Planned(plan) => {
            let size = plan.size_bytes;
            (root_item(os, store, &keys.root, &plan, progress)?, size)
        }
    };
    let spec = layout::seal(
        os,
        closure.system.hash(),
        closure.base.bootloader.hash(),
        root_fs_size,
    )?;
    progress(Stage::Disk);
    disk_item(os, store, closure, &spec, &esp, &root)
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
    os: &ValidatedSystem,
    store: &Store,
    closure: &SystemClosure,
    esp_key: &str,
) -> Result<StorePath, ImageError> {
    // Through `item_file`: a base's symlink must not put a file of the host in the ESP.
    let loader_path = store
        .item_file(&closure.base.bootloader, "boot/loader.efi")
        .ok_or_else(|| {
            ImageError::Damaged(
                closure.base.bootloader.to_string(),
                "no regular file boot/loader.efi inside the item".into(),
            )
        })?;
    store.build_cached::<ImageError>(esp_key, |store| {
        let loader = fs::read(&loader_path).map_err(io("reading", &loader_path))?;
        let volume_id = layout::esp_volume_id(closure.base.bootloader.hash());
        let esp = build_esp(os.esp_volume(), volume_id, &loader)?;
        let mut b = store.builder(&esp_name(os))?;
        b.file("esp.img", &esp.bytes, false)?;
        Ok(b.commit()?)
    })
}

fn root_item(
    os: &ValidatedSystem,
    store: &Store,
    root_key: &str,
    plan: &UfsLayout<'_>,
    progress: &mut dyn FnMut(Stage),
) -> Result<StorePath, ImageError> {
    store.build_cached::<ImageError>(root_key, |store| {
        let mut b = store.builder(&format!("fruix-root-{}", os.host_name))?;
        let path = b.prepare("root.img")?;
        // It holds every file of the system, secrets included: owner-only on the host.
        b.set_meta("root.img", ImageMeta::root(0o400));
        let file = File::create(&path).map_err(io("creating", &path))?;
        // A new file reads as zeros: the writer's fast path for files applies (kernel-side
        // copies, sources opened ahead, holes kept).
        plan.write_to_file_with_progress(&file, 0, &mut |done, total| {
            progress(Stage::Root { done, total })
        })
        .map_err(|e| match e {
            ufs::WriteError::Io(source) => {
                ImageError::from(io("writing the root file system", &path)(source))
            }
            other => ImageError::from(other),
        })?;
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
    os: &ValidatedSystem,
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
