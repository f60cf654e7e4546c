//! The image as a store item: `<hash>-fruix-bhyve-image-<host>` with `disk.img`,
//! `metadata`, `metadata.json`, `run-bhyve.sh` and `run-qemu.sh`. The ESP is a store item
//! of its own (`fruix-esp-*`, small, shared by every system with the same loader); the
//! root file system is written straight into `disk.img` at its partition's offset, so its
//! bytes are stored once: the image item is also the root's item (`root_store_path`).
//!
//! Every item is found by the identities of its inputs (the system item, the boot loader
//! item, the declared layout, the scheme), so a warm rebuild finds the image without
//! building anything. A cold one moves forward: root tree (once) -> every program the
//! system runs is in it ([`super::programs`]) -> its UFS2 layout -> ESP item -> the sealed
//! disk layout, from the partitions' sizes -> disk (table, ESP, root, in one file).

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
use std::os::unix::fs::FileExt;
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
/// derived from the layout and the consoles, `loader_console`; v3: the root file system is
/// a range of `disk.img`, `root_store_path` the image item; v4: metadata keys for FreeBSD
/// packages, `package_script_policy`, `package_scripts`, `pkg_packages`).
const SCHEME: &str = "fruix-image-v4";

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
        Ok(ImageKeys { image, esp })
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
    let tree = rootfs::root_tree(store, &closure)?;
    check_tree(&os, &tree)?;
    let root_fs_size = layout::root_fs_size(&os, ufs::min_size(&tree, &root_options(&os, None))?)?;
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

/// The image stage, forward only: the root tree and its layout, the ESP item, the sealed
/// layout from the partitions' sizes, the disk.
fn build_image(
    os: &ValidatedSystem,
    store: &Store,
    closure: &SystemClosure,
    keys: &ImageKeys,
    progress: &mut dyn FnMut(Stage),
) -> Result<StorePath, ImageError> {
    // Sized and planned before any item is written: an image too small for its
    // contents fails here, leaving the store as it was.
    let tree = rootfs::root_tree(store, closure)?;
    // Closure completeness: every program the system runs is in the tree.
    check_tree(os, &tree)?;
    let root = plan_root(os, &tree)?;
    progress(Stage::Esp);
    let esp = esp_item(os, store, closure, &keys.esp)?;
    let spec = layout::seal(
        os,
        closure.system.hash(),
        closure.base.bootloader.hash(),
        root.size_bytes,
    )?;
    disk_item(os, store, closure, &spec, &esp, &root, progress)
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

/// Copies `src` into `dst` (the file at `dst_path`) at `offset`, leaving holes where
/// `src` has them.
fn copy_sparse(src: &Path, dst: &File, dst_path: &Path, offset: u64) -> Result<(), ImageError> {
    let mut input = File::open(src).map_err(io("opening", src))?;
    let len = input.metadata().map_err(io("reading", src))?.len();
    let mut buf = vec![0u8; 1 << 20];
    let mut at = offset;
    let mut failed = None;
    crate::sparse::stream(&mut input, len, &mut buf, &mut |chunk| {
        if failed.is_none() && chunk.iter().any(|&b| b != 0) {
            failed = dst.write_all_at(chunk, at).err();
        }
        at += chunk.len() as u64;
    })
    .map_err(io("reading", src))?;
    match failed {
        Some(e) => Err(io("writing the disk image", dst_path)(e).into()),
        None => Ok(()),
    }
}

/// The image item: `disk.img` written in one go (the table, the ESP copied from its item,
/// the root file system written in place at its partition's offset), then hashed.
fn disk_item(
    os: &ValidatedSystem,
    store: &Store,
    closure: &SystemClosure,
    spec: &ImageSpec,
    esp: &StorePath,
    root: &UfsLayout<'_>,
    progress: &mut dyn FnMut(Stage),
) -> Result<StorePath, ImageError> {
    let mut b = store.builder(&format!("fruix-bhyve-image-{}", spec.host_name))?;
    let disk_path = b.prepare("disk.img")?;
    // It holds every file of the system, secrets included: owner-only on the host.
    b.set_meta("disk.img", ImageMeta::root(0o400));
    let mut disk = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&disk_path)
        .map_err(io("creating", &disk_path))?;
    disk.set_len(spec.disk_size)
        .map_err(io("sizing", &disk_path))?;
    write_partition_table(spec, &mut disk)?;
    if let Some(part) = spec.partition(PartitionKind::Esp) {
        let esp_img = store.physical(esp).join("esp.img");
        copy_sparse(&esp_img, &disk, &disk_path, part.offset())?;
    }
    if let Some(part) = spec.partition(PartitionKind::FreebsdUfs) {
        // The new file reads as zeros: the writer's fast path for files applies
        // (kernel-side copies, sources opened ahead, holes kept).
        root.write_to_file_with_progress(&disk, part.offset(), &mut |done, total| {
            progress(Stage::Root { done, total })
        })
        .map_err(|e| match e {
            ufs::WriteError::Io(source) => {
                ImageError::from(io("writing the root file system", &disk_path)(source))
            }
            other => ImageError::from(other),
        })?;
    }
    progress(Stage::Disk);
    // Not fsynced, like every other item's files: a killed build leaves only its staging
    // directory (the item appears by one rename, and is registered after it, the record
    // synced). After an operating-system crash an item's data may be incomplete under a
    // durable record, which `fruix store verify` finds by re-hashing; syncing here would
    // only make the build wait for the disk to write the whole image.
    drop(disk);
    // One read gives raw_sha256 and the item hash's share of disk.img (its first entry).
    let raw_sha256 = b.hash_first_file("disk.img")?;
    let md = metadata::metadata(os, store, closure, spec, &b.self_path(), esp, &raw_sha256)?;
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
