//! Static boot-structure checks of a disk image, without mounting anything: the partition
//! table, the ESP's loader, the root file system's consistency, the `/run/current-system`
//! topology, `loader.conf`, every store item re-hashed from the image's own bytes, and
//! every program the system runs (see [`super::programs`]).

use super::esp::read_loader;
use super::gpt::{self, Partition, PartitionType, Problem, ReadError, Table, TableCopy};
use super::ufs::{self, FileType, Ufs};
use crate::links;
use crate::store::hash::{digest_source, ItemSource, SelfRefs, SourceEntry};
use crate::store::refs_scanner;
use crate::store::{ImageMeta, StoreError, StorePath, STORE_DIR};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// What verification found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageReport {
    /// What was checked and passed, one line each.
    pub passed: Vec<String>,
    /// What is wrong, one line each, naming the structure or file.
    pub problems: Vec<String>,
}

impl ImageReport {
    /// Whether nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
    fn pass(&mut self, what: impl Into<String>) {
        self.passed.push(what.into());
    }
    fn fail(&mut self, what: impl Into<String>) {
        self.problems.push(what.into());
    }
}

/// The image cannot be read at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot read `{}`: {source}", path.display())]
pub struct VerifyError {
    /// The image.
    pub path: std::path::PathBuf,
    /// Why it cannot be read.
    #[source]
    pub source: std::io::Error,
}

fn read_at<R: Read + Seek>(f: &mut R, at: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    f.seek(SeekFrom::Start(at))?;
    f.read_exact(&mut buf)?;
    Ok(buf)
}

/// Checks the partition table and returns it, if there is one to use.
fn check_gpt(f: &mut File, report: &mut ImageReport) -> Result<Option<Table>, std::io::Error> {
    let read = match gpt::read(f) {
        Ok(read) => read,
        Err(ReadError::Io { source, .. }) => return Err(source),
        Err(e) => {
            report.fail(e.to_string());
            for p in e.problems() {
                report.fail(p.to_string());
            }
            return Ok(None);
        }
    };
    let mbr_damaged = read
        .problems
        .iter()
        .any(|p| matches!(p, Problem::ProtectiveMbr(_)));
    if !mbr_damaged {
        report.pass("protective MBR");
    }
    for copy in [TableCopy::Primary, TableCopy::Backup] {
        if !read.problems.iter().any(|p| p.copy() == Some(copy)) {
            report.pass(format!("{copy} GPT header and entries (CRC32 valid)"));
        }
    }
    for p in &read.problems {
        report.fail(p.to_string());
    }
    Ok(Some(read.table))
}

/// Follows a path in the image, symlinks included, as the kernel and the loader do.
/// Returns the final inode.
fn resolve<R: Read + Seek>(fs: &mut Ufs<R>, path: &str) -> Result<u64, String> {
    links::resolve(fs, path.as_bytes())
        .map(|(ino, _)| ino)
        .map_err(|e| format!("{path}: {e}"))
}

fn read_all<R: Read + Seek>(fs: &mut Ufs<R>, ino: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    fs.read_file(ino, &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// A store item inside a UFS image, for re-hashing.
struct ImageItem<'a, R> {
    fs: &'a mut Ufs<R>,
    root: String,
    name: String,
}

impl<R: Read + Seek> ImageItem<'_, R> {
    fn bad(&self, rel: &str, why: impl std::fmt::Display) -> StoreError {
        StoreError::BadEntry {
            item: self.name.clone(),
            path: rel.to_owned(),
            why: why.to_string(),
        }
    }
    fn ino(&mut self, rel: &str) -> Result<u64, StoreError> {
        let path = if rel.is_empty() {
            self.root.clone()
        } else {
            format!("{}/{rel}", self.root)
        };
        self.fs
            .lookup(path.as_bytes())
            .map_err(|e| self.bad(rel, e))
    }
}

struct Sink<'s>(&'s mut dyn FnMut(&[u8]));
impl Write for Sink<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        (self.0)(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<R: Read + Seek> ItemSource for ImageItem<'_, R> {
    fn entry(&mut self, rel: &str) -> Result<SourceEntry, StoreError> {
        let ino = self.ino(rel)?;
        let st = self.fs.stat(ino).map_err(|e| self.bad(rel, e))?;
        let meta = ImageMeta {
            uid: st.uid,
            gid: st.gid,
            perm: st.perm,
            flags: st.flags,
        };
        match st.ftype {
            FileType::Dir => Ok(SourceEntry::Dir { meta }),
            FileType::Symlink => {
                let target = self.fs.read_link(ino).map_err(|e| self.bad(rel, e))?;
                Ok(SourceEntry::Symlink { meta, target })
            }
            FileType::File => Ok(SourceEntry::File {
                meta,
                exec: st.perm & 0o111 != 0,
                len: st.size,
                link_key: (st.nlink > 1).then_some((0, ino)),
            }),
            other => Err(self.bad(
                rel,
                format!("{other:?} inodes do not belong in a store item"),
            )),
        }
    }

    fn list(&mut self, rel: &str) -> Result<Vec<String>, StoreError> {
        let ino = self.ino(rel)?;
        let entries = self.fs.read_dir(ino).map_err(|e| self.bad(rel, e))?;
        let mut names = Vec::new();
        for e in entries {
            if e.name == b"." || e.name == b".." {
                continue;
            }
            names
                .push(String::from_utf8(e.name).map_err(|_| self.bad(rel, "a name is not UTF-8"))?);
        }
        names.sort();
        Ok(names)
    }

    fn read(&mut self, rel: &str, sink: &mut dyn FnMut(&[u8])) -> Result<u64, StoreError> {
        let ino = self.ino(rel)?;
        let mut out = Sink(sink);
        self.fs
            .read_file(ino, &mut out)
            .map_err(|e| self.bad(rel, e))
    }
}

/// Verifies the disk image at `path`.
pub fn verify_image(path: &Path) -> Result<ImageReport, VerifyError> {
    let err = |source| VerifyError {
        path: path.to_owned(),
        source,
    };
    let mut f = File::open(path).map_err(err)?;
    let mut report = ImageReport::default();
    let table = check_gpt(&mut f, &mut report).map_err(err)?;
    let first = |t| {
        table
            .as_ref()
            .and_then(|table| table.first_of_type(t))
            .cloned()
    };
    let esp = first(PartitionType::EfiSystem);
    let root = first(PartitionType::FreebsdUfs);
    match (&esp, &root) {
        (Some(e), Some(r)) => report.pass(format!(
            "partitions: {} `{}` (EFI system), {} `{}` (freebsd-ufs)",
            e.number, e.label, r.number, r.label
        )),
        _ => report.fail("the GPT has no EFI system partition or no freebsd-ufs partition"),
    }
    let Some(root) = root else { return Ok(report) };

    let problems = ufs::check_at(&mut f, root.offset());
    if problems.is_empty() {
        report.pass("root file system passes the UFS2 checker");
    }
    for p in &problems {
        report.fail(format!("root file system: {p}"));
    }
    let mut fs = match Ufs::open(&mut f, root.offset()) {
        Ok(fs) => fs,
        Err(e) => {
            report.fail(format!("root file system cannot be read: {e}"));
            return Ok(report);
        }
    };
    check_topology(&mut fs, &root, &mut report);
    super::programs::verify_programs(&mut fs, &mut report);
    let loader = resolve(&mut fs, "/boot/loader.efi").and_then(|ino| read_all(&mut fs, ino));

    if let Some(esp) = esp {
        let bytes = read_at(
            &mut f,
            esp.offset(),
            usize::try_from(esp.size()).unwrap_or(0),
        )
        .map_err(err)?;
        match (read_loader(&bytes), loader) {
            (Ok(efi), Ok(loader)) if efi == loader => report.pass(format!(
                "ESP: EFI/BOOT/BOOTX64.EFI equals /boot/loader.efi ({} bytes)",
                efi.len()
            )),
            (Ok(_), Ok(_)) => {
                report.fail("ESP: EFI/BOOT/BOOTX64.EFI differs from the root's /boot/loader.efi")
            }
            (Err(e), _) => report.fail(format!("ESP: cannot read EFI/BOOT/BOOTX64.EFI: {e}")),
            (_, Err(e)) => report.fail(format!("root: /boot/loader.efi: {e}")),
        }
    }
    Ok(report)
}

fn check_topology<R: Read + Seek>(fs: &mut Ufs<R>, root: &Partition, report: &mut ImageReport) {
    // /run/current-system -> the system closure.
    let system = fs
        .lookup(b"run/current-system")
        .map_err(|e| e.to_string())
        .and_then(|ino| fs.read_link(ino).map_err(|e| e.to_string()))
        .map(|t| String::from_utf8_lossy(&t).into_owned());
    match system.as_deref().map(str::parse::<StorePath>) {
        Ok(Ok(item)) if item.name().starts_with("fruix-system-") => {
            report.pass(format!("/run/current-system -> {item}"));
        }
        Ok(_) => report.fail(format!(
            "/run/current-system does not point at a fruix-system item: {system:?}"
        )),
        Err(e) => report.fail(format!("/run/current-system: {e}")),
    }
    let paths = [
        ("/boot/loader", "/boot/loader"),
        ("/boot/loader.efi", "/boot/loader.efi"),
        ("/boot/loader.conf", "/boot/loader.conf"),
        ("/boot/kernel", "/boot/kernel/kernel"),
        ("/etc/rc.conf", "/etc/rc.conf"),
        (
            "/usr/local/etc/rc.d/fruix-activate",
            "/usr/local/etc/rc.d/fruix-activate",
        ),
    ];
    // `link` must be a link into /run/current-system and `path` must end at a file.
    for (link, path) in paths {
        let through = fs
            .lookup(link.as_bytes())
            .ok()
            .and_then(|ino| fs.read_link(ino).ok())
            .is_some_and(|t| t.starts_with(b"/run/current-system/"));
        let is_file = resolve(fs, path)
            .and_then(|ino| fs.stat(ino).map_err(|e| e.to_string()))
            .map(|s| s.ftype == FileType::File);
        match (through, is_file) {
            (true, Ok(true)) => report.pass(format!("{path} resolves through /run/current-system")),
            (false, _) => report.fail(format!("{link} is not a link into /run/current-system")),
            (_, Ok(false)) => report.fail(format!("{path} does not resolve to a file")),
            (_, Err(e)) => report.fail(format!("{path} does not resolve: {e}")),
        }
    }
    let conf = resolve(fs, "/boot/loader.conf").and_then(|ino| read_all(fs, ino));
    if let Ok(conf) = conf {
        let conf = String::from_utf8_lossy(&conf);
        let want_root = format!("vfs.root.mountfrom=\"ufs:/dev/gpt/{}\"", root.label);
        if conf.lines().any(|l| l.trim() == want_root) {
            report.pass(format!(
                "loader.conf mounts the root from /dev/gpt/{}",
                root.label
            ));
        } else {
            report.fail(format!("loader.conf does not set {want_root}"));
        }
        if conf.lines().any(|l| {
            l.starts_with("console=\"") && (l.contains("comconsole") || l.contains("eficom"))
        }) {
            report.pass("loader.conf sets a serial console");
        } else {
            report.fail("loader.conf sets no serial console (comconsole or eficom)");
        }
    }
    check_items(fs, report);
}

fn check_items<R: Read + Seek>(fs: &mut Ufs<R>, report: &mut ImageReport) {
    let entries = match fs
        .lookup(STORE_DIR.as_bytes())
        .and_then(|ino| fs.read_dir(ino))
    {
        Ok(entries) => entries,
        Err(e) => return report.fail(format!("{STORE_DIR}: {e}")),
    };
    let items: Vec<StorePath> = entries
        .iter()
        .filter_map(|e| std::str::from_utf8(&e.name).ok()?.parse().ok())
        .collect();
    let hashes: Vec<[u8; 40]> = items
        .iter()
        .filter_map(|i| i.hash().as_bytes().try_into().ok())
        .collect();
    let mut bad = 0;
    for item in &items {
        let source = ImageItem {
            fs,
            root: format!("{STORE_DIR}/{}", item.base_name()),
            name: item.name().to_owned(),
        };
        let no_self = SelfRefs {
            files: &[],
            hash: None,
        };
        match digest_source(
            source,
            item.name(),
            refs_scanner(hashes.iter().copied()),
            no_self,
        ) {
            Ok(d) if d.hash == item.hash() => {}
            Ok(d) => {
                bad += 1;
                report.fail(format!(
                    "store item {item} in the image hashes to {}: its contents changed",
                    d.hash
                ));
            }
            Err(e) => {
                bad += 1;
                report.fail(format!(
                    "store item {item} in the image cannot be read: {e}"
                ));
            }
        }
    }
    if bad == 0 {
        report.pass(format!(
            "all {} store items in {STORE_DIR} re-hash to their names",
            items.len()
        ));
    }
    // Every item the system lists is there.
    let listed =
        resolve(fs, "/run/current-system/metadata/closure").and_then(|ino| read_all(fs, ino));
    if let Ok(listed) = listed {
        let missing: Vec<String> = String::from_utf8_lossy(&listed)
            .lines()
            .filter(|l| l.parse::<StorePath>().is_ok_and(|p| !items.contains(&p)))
            .map(str::to_owned)
            .collect();
        if missing.is_empty() {
            report.pass(format!(
                "every item of the system's closure is in {STORE_DIR}"
            ));
        } else {
            report.fail(format!("missing from {STORE_DIR}: {}", missing.join(", ")));
        }
    }
}
