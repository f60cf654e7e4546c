//! Importing FreeBSD release distribution sets (`base.txz`, `kernel.txz`) and unpacked
//! trees.
//!
//! Each set is checked against a pinned sha256, or against the release's `MANIFEST`
//! (`base.txz<TAB>sha256<TAB>count<TAB>...` lines). The check is made while the set is
//! read for unpacking, so each set is read once: its entries go into the private staging
//! directories of the base's items (each one checked, see [`super::slices`]), and a set
//! whose sum differs fails the import before any item is committed, leaving the store
//! unchanged. Both sets are decompressed on threads of their own, ahead of the unpacking.
//! The import is cached by the sets' hashes, so a warm rebuild reads nothing but the
//! manifest.

use super::loader_efi::LoaderEfi;
use super::slices::{read_index, BaseError, BaseItems, EntryData, Provenance, Set, Slicer};
use crate::io_error::io;
use crate::store::{ImageMeta, Store};
use crate::FreeBsdBase;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

/// The sha256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String, BaseError> {
    Ok(crate::store::hash::sha256_file(path).map_err(io("reading", path))?)
}

pub(crate) use crate::store::hash::hex;

/// The sha256 the release's `MANIFEST` in `dir` gives for `set` (e.g. `base.txz`).
pub fn manifest_sha256(dir: &Path, set: &str) -> Result<String, BaseError> {
    let file = dir.join("MANIFEST");
    let text = std::fs::read_to_string(&file).map_err(io("reading", &file))?;
    for line in text.lines() {
        let mut fields = line.split('\t');
        if fields.next() == Some(set) {
            return match fields.next() {
                Some(sum) if sum.len() == 64 && sum.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    Ok(sum.to_ascii_lowercase())
                }
                _ => Err(BaseError::Manifest {
                    file,
                    why: format!("the line for `{set}` has no sha256"),
                }),
            };
        }
    }
    Err(BaseError::Manifest {
        file,
        why: format!("no line for `{set}`"),
    })
}

/// Imports `base.txz` and `kernel.txz` from `dir`.
pub fn materialize(
    base: &FreeBsdBase,
    dir: &Path,
    base_pin: Option<&str>,
    kernel_pin: Option<&str>,
    store: &Store,
) -> Result<BaseItems, BaseError> {
    let expected = |pin: Option<&str>, set: &str| match pin {
        Some(sum) => Ok(sum.to_ascii_lowercase()),
        None => manifest_sha256(dir, set),
    };
    let base_sum = expected(base_pin, "base.txz")?;
    let kernel_sum = expected(kernel_pin, "kernel.txz")?;
    let loader = LoaderEfi::of(base)?;
    let provenance = Provenance {
        release: base.release.clone(),
        arch: base.arch.name().to_owned(),
        source: "dist-sets".to_owned(),
        base_sha256: Some(base_sum.clone()),
        kernel_sha256: Some(kernel_sum.clone()),
        loader_efi_sha256: loader.as_ref().map(|l| l.sha256.clone()),
        repository: None,
        packages: Vec::new(),
    };
    let key = cache_key(&provenance);
    let index = store.build_cached::<BaseError>(&key, |store| {
        let sets = [
            (dir.join("base.txz"), base_sum.as_str(), Set::Base),
            (dir.join("kernel.txz"), kernel_sum.as_str(), Set::Kernel),
        ];
        // Both sets start decompressing at once; the kernel's waits (a few chunks ahead)
        // until the base is unpacked.
        let mut streams = Vec::new();
        for (file, _, _) in &sets {
            streams.push(SetStream::open(file)?);
        }
        let mut slicer = Slicer::new(store, &base.release, &dir.display().to_string())?;
        let mut failed = None;
        for ((file, _, set), stream) in sets.iter().zip(&mut streams) {
            if failed.is_none() {
                failed = unpack(file, stream, *set, &mut slicer).err();
            }
        }
        // A set whose sum differs is reported as such, whatever its unpacking said.
        for ((file, expected, _), stream) in sets.iter().zip(streams) {
            let actual = stream.finish(file)?;
            if actual != *expected {
                return Err(BaseError::Checksum {
                    file: file.clone(),
                    expected: (*expected).to_owned(),
                    actual,
                });
            }
        }
        if let Some(e) = failed {
            return Err(e);
        }
        Ok(slicer
            .finish(store, provenance.clone(), loader.as_ref())?
            .base)
    })?;
    read_index(store, &index)
}

/// The build-cache key of a base: what identifies its contents.
pub(crate) fn cache_key(p: &Provenance) -> String {
    let mut text = format!(
        "fruix-base-v1\0{}\0{}\0{}\0{}\0{}",
        p.release,
        p.arch,
        p.source,
        p.base_sha256.as_deref().unwrap_or(""),
        p.kernel_sha256.as_deref().unwrap_or("")
    );
    // Only when given, so that the keys of bases without one stay what they were.
    if let Some(loader) = &p.loader_efi_sha256 {
        text.push_str("\0loader-efi\0");
        text.push_str(loader);
    }
    format!("base-{}", hex(&Sha256::digest(text.as_bytes())))
}

/// BSD file flags from a `SCHILY.fflags` pax value (`schg,uarch`).
pub(crate) fn file_flags(value: &str) -> u32 {
    value
        .split(',')
        .map(|flag| match flag.trim() {
            "nodump" => 0x1,
            "uchg" | "uimmutable" => 0x2,
            "uappnd" | "uappend" => 0x4,
            "opaque" => 0x8,
            "uunlnk" | "uunlink" => 0x10,
            "arch" | "archived" => 0x1_0000,
            "schg" | "simmutable" => 0x2_0000,
            "sappnd" | "sappend" => 0x4_0000,
            "sunlnk" | "sunlink" => 0x10_0000,
            _ => 0,
        })
        .fold(0, |a, b| a | b)
}

/// Streams one decompressed `.txz` into the slicer, to the end of the set.
fn unpack(
    file: &Path,
    stream: &mut SetStream,
    set: Set,
    slicer: &mut Slicer<'_>,
) -> Result<(), BaseError> {
    let name = file.display().to_string();
    slicer.set_origin(&name);
    let archive_err = |e: std::io::Error| BaseError::Archive {
        archive: name.clone(),
        why: e.to_string(),
    };
    let mut archive = tar::Archive::new(&mut *stream);
    unpack_entries(&name, &mut archive, set, slicer)?;
    // Past tar's end marker: the rest must decompress too (a damaged tail is an error).
    std::io::copy(stream, &mut std::io::sink()).map_err(archive_err)?;
    Ok(())
}

fn unpack_entries(
    name: &str,
    archive: &mut tar::Archive<&mut SetStream>,
    set: Set,
    slicer: &mut Slicer<'_>,
) -> Result<(), BaseError> {
    let name = name.to_owned();
    let archive_err = |e: std::io::Error| BaseError::Archive {
        archive: name.clone(),
        why: e.to_string(),
    };
    for entry in archive.entries().map_err(archive_err)? {
        let mut entry = entry.map_err(archive_err)?;
        let not_utf8 = |what: &str, bytes: &[u8]| BaseError::Entry {
            archive: name.clone(),
            entry: bytes.escape_ascii().to_string(),
            why: format!("the {what} is not UTF-8"),
        };
        let path_bytes = entry.path_bytes();
        let raw = std::str::from_utf8(&path_bytes)
            .map_err(|_| not_utf8("name", &path_bytes))?
            .to_owned();
        let header = entry.header();
        let mode = header.mode().map_err(archive_err)?;
        let uid = header.uid().map_err(archive_err)?;
        let gid = header.gid().map_err(archive_err)?;
        let kind = header.entry_type();
        let link = match entry.link_name_bytes() {
            Some(l) => Some(
                std::str::from_utf8(&l)
                    .map_err(|_| not_utf8("link target", &l))?
                    .to_owned(),
            ),
            None => None,
        };
        let mut flags = 0;
        if let Some(exts) = entry.pax_extensions().map_err(archive_err)? {
            for ext in exts {
                let ext = ext.map_err(archive_err)?;
                if ext.key() == Ok("SCHILY.fflags") {
                    flags = file_flags(ext.value().unwrap_or(""));
                }
            }
        }
        let (Ok(uid), Ok(gid)) = (u32::try_from(uid), u32::try_from(gid)) else {
            return Err(BaseError::Entry {
                archive: name.clone(),
                entry: raw,
                why: format!("owner {uid}:{gid} does not fit FreeBSD's 32-bit ids"),
            });
        };
        let meta = ImageMeta {
            uid,
            gid,
            perm: (mode & 0o7777) as u16,
            flags,
        };
        let data = match kind {
            tar::EntryType::Directory => EntryData::Dir,
            tar::EntryType::Regular | tar::EntryType::Continuous => EntryData::File {
                data: &mut entry,
                exec: mode & 0o111 != 0,
            },
            tar::EntryType::Symlink => EntryData::Symlink(link.unwrap_or_default()),
            tar::EntryType::Link => EntryData::HardLink(link.unwrap_or_default()),
            tar::EntryType::Char => EntryData::Special("character device"),
            tar::EntryType::Block => EntryData::Special("block device"),
            tar::EntryType::Fifo => EntryData::Special("FIFO"),
            _ => continue, // pax/GNU metadata records, already applied by the tar reader
        };
        slicer.add(set, &raw, data, meta)?;
    }
    Ok(())
}

/// Imports an unpacked FreeBSD tree (e.g. `make installworld installkernel DESTDIR=`):
/// metadata from the host files, `boot/kernel` as the kernel slice.
pub fn materialize_tree(
    base: &FreeBsdBase,
    root: &Path,
    store: &Store,
) -> Result<BaseItems, BaseError> {
    let loader = LoaderEfi::of(base)?;
    let provenance = Provenance {
        release: base.release.clone(),
        arch: base.arch.name().to_owned(),
        source: "tree".to_owned(),
        base_sha256: None,
        kernel_sha256: None,
        loader_efi_sha256: loader.as_ref().map(|l| l.sha256.clone()),
        repository: None,
        packages: Vec::new(),
    };
    // Cached by the tree's stamp (names, sizes, inodes, times): an unchanged tree is not
    // read again; any change to it is a new key.
    let stamp = crate::store::tree_stamp(root)?;
    let key = cache_key(&Provenance {
        base_sha256: Some(stamp),
        ..provenance.clone()
    });
    let index = store.build_cached::<BaseError>(&key, |store| {
        let mut slicer = Slicer::new(store, &base.release, &root.display().to_string())?;
        walk_tree(
            root,
            root,
            &mut slicer,
            &mut std::collections::HashMap::new(),
        )?;
        Ok(slicer
            .finish(store, provenance.clone(), loader.as_ref())?
            .base)
    })?;
    read_index(store, &index)
}

/// Hard-linked files seen so far, by (device, inode), with their first path.
type Inodes = std::collections::HashMap<(u64, u64), String>;

fn walk_tree(
    root: &Path,
    dir: &Path,
    slicer: &mut Slicer<'_>,
    inodes: &mut Inodes,
) -> Result<(), BaseError> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io("listing", dir))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io("listing", dir))?;
    entries.sort();
    for path in entries {
        let md = std::fs::symlink_metadata(&path).map_err(io("reading", &path))?;
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        let set = Set::of_install_path(&rel);
        let meta = ImageMeta {
            uid: md.uid(),
            gid: md.gid(),
            perm: (md.mode() & 0o7777) as u16,
            flags: 0,
        };
        let ft = md.file_type();
        if ft.is_dir() {
            slicer.add(set, &rel, EntryData::Dir, meta)?;
            walk_tree(root, &path, slicer, inodes)?;
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&path).map_err(io("reading link", &path))?;
            slicer.add(
                set,
                &rel,
                EntryData::Symlink(target.to_string_lossy().into_owned()),
                meta,
            )?;
        } else if ft.is_file() {
            if md.nlink() > 1 {
                if let Some(first) = inodes.get(&(md.dev(), md.ino())) {
                    slicer.add(set, &rel, EntryData::HardLink(String::clone(first)), meta)?;
                    continue;
                }
                inodes.insert((md.dev(), md.ino()), rel.clone());
            }
            let mut file = File::open(&path).map_err(io("opening", &path))?;
            let exec = md.mode() & 0o111 != 0;
            slicer.add(
                set,
                &rel,
                EntryData::File {
                    data: &mut file as &mut dyn Read,
                    exec,
                },
                meta,
            )?;
        } else {
            let what = if ft.is_char_device() {
                "character device"
            } else if ft.is_block_device() {
                "block device"
            } else if ft.is_fifo() {
                "FIFO"
            } else {
                "socket"
            };
            slicer.add(set, &rel, EntryData::Special(what), meta)?;
        }
    }
    Ok(())
}

/// Decompressed bytes travel in chunks of this size, at most `AHEAD` of them queued.
const CHUNK: usize = 1 << 20;
const AHEAD: usize = 4;

/// A set decompressed on a thread of its own, which also hashes the compressed bytes.
struct SetStream {
    rx: Option<mpsc::Receiver<std::io::Result<Vec<u8>>>>,
    chunk: Vec<u8>,
    at: usize,
    thread: Option<std::thread::JoinHandle<std::io::Result<String>>>,
}

/// Reads a file, hashing every byte read.
struct Hashing<R> {
    inner: R,
    sha: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha.update(&buf[..n]);
        Ok(n)
    }
}

impl SetStream {
    fn open(file: &Path) -> Result<SetStream, BaseError> {
        let input = File::open(file).map_err(io("opening", file))?;
        let (tx, rx) = mpsc::sync_channel(AHEAD);
        let thread = std::thread::spawn(move || {
            let mut xz = xz2::read::XzDecoder::new(Hashing {
                inner: input,
                sha: Sha256::new(),
            });
            loop {
                let mut chunk = vec![0u8; CHUNK];
                let n = match read_full(&mut xz, &mut chunk) {
                    Ok(n) => n,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        break;
                    }
                };
                if n == 0 {
                    break;
                }
                chunk.truncate(n);
                if tx.send(Ok(chunk)).is_err() {
                    break; // The unpacking stopped: only the sum is still wanted.
                }
            }
            // Whatever was not decompressed is hashed as it is.
            let mut rest = xz.into_inner();
            std::io::copy(&mut rest, &mut std::io::sink())?;
            Ok(hex(&rest.sha.finalize()))
        });
        Ok(SetStream {
            rx: Some(rx),
            chunk: Vec::new(),
            at: 0,
            thread: Some(thread),
        })
    }

    /// Stops decompressing; the sha256 of the whole set file.
    fn finish(mut self, file: &Path) -> Result<String, BaseError> {
        self.rx = None;
        let thread = self.thread.take();
        match thread.map(|t| t.join()) {
            Some(Ok(Ok(sum))) => Ok(sum),
            Some(Ok(Err(e))) => Err(io("reading", file)(e).into()),
            _ => Err(
                io("reading", file)(std::io::Error::other("the decompressing thread failed"))
                    .into(),
            ),
        }
    }
}

impl Drop for SetStream {
    fn drop(&mut self) {
        self.rx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads until `buf` is full or the input ends.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl Read for SetStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.chunk.len() {
            let Some(rx) = &self.rx else { return Ok(0) };
            match rx.recv() {
                Ok(Ok(chunk)) => {
                    self.chunk = chunk;
                    self.at = 0;
                }
                Ok(Err(e)) => {
                    self.rx = None;
                    return Err(e);
                }
                Err(_) => {
                    self.rx = None;
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
#[path = "dist_tests.rs"]
mod tests;
