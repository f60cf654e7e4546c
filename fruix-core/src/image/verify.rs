//! Static boot-structure checks of a disk image, without mounting anything: the partition
//! table, the ESP's loader, the root file system's consistency, the `/run/current-system`
//! topology, `loader.conf`, and every store item re-hashed from the image's own bytes.

use super::esp::read_loader;
use super::layout::{TYPE_ESP, TYPE_FREEBSD_UFS};
use super::ufs::{self, FileType, Ufs};
use crate::store::hash::{digest_source, ItemSource, SelfRefs, SourceEntry};
use crate::store::refs_scanner;
use crate::store::{ImageMeta, StoreError, StorePath};
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
    pub path: std::path::PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// CRC-32 (IEEE 802.3), as GPT uses it.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn le32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}
fn le64(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8).map_or(0, |s| {
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        u64::from_le_bytes(a)
    })
}

/// A GUID stored in GPT's mixed-endian layout, as text.
fn guid(b: &[u8]) -> String {
    if b.len() < 16 {
        return String::new();
    }
    format!(
        "{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{}",
        le32(b, 0),
        u16::from_le_bytes([b[4], b[5]]),
        u16::from_le_bytes([b[6], b[7]]),
        b[8],
        b[9],
        b[10..16]
            .iter()
            .map(|x| format!("{x:02X}"))
            .collect::<String>()
    )
}

/// One GPT entry as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GptEntry {
    pub number: u32,
    pub type_guid: String,
    pub guid: String,
    pub first_lba: u64,
    pub last_lba: u64,
    pub label: String,
}

impl GptEntry {
    pub fn offset(&self) -> u64 {
        self.first_lba.saturating_mul(512)
    }
    pub fn size(&self) -> u64 {
        self.last_lba
            .saturating_add(1)
            .saturating_sub(self.first_lba)
            .saturating_mul(512)
    }
}

fn read_at<R: Read + Seek>(f: &mut R, at: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    f.seek(SeekFrom::Start(at))?;
    f.read_exact(&mut buf)?;
    Ok(buf)
}

/// Reads and checks the protective MBR and both GPT headers; returns the entries.
pub fn read_gpt<R: Read + Seek>(
    f: &mut R,
    report: &mut ImageReport,
) -> std::io::Result<Vec<GptEntry>> {
    let size = f.seek(SeekFrom::End(0))?;
    if size < 34 * 512 * 2 {
        report.fail(format!("image is {size} bytes: too small for a GPT disk"));
        return Ok(Vec::new());
    }
    let mbr = read_at(f, 0, 512)?;
    if mbr[510..512] != [0x55, 0xAA] || mbr[446 + 4] != 0xEE {
        report.fail("LBA 0 is not a protective MBR (signature 55AA, partition type EE)");
    } else {
        report.pass("protective MBR");
    }
    let last_lba = size / 512 - 1;
    let mut tables = Vec::new();
    for (which, lba) in [("primary", 1), ("backup", last_lba)] {
        let header = read_at(f, lba * 512, 512)?;
        if &header[..8] != b"EFI PART" {
            report.fail(format!(
                "{which} GPT header at LBA {lba}: no `EFI PART` signature"
            ));
            continue;
        }
        let header_size = (le32(&header, 12) as usize).clamp(92, 512);
        let mut zeroed = header[..header_size].to_vec();
        zeroed[16..20].fill(0);
        if crc32(&zeroed) != le32(&header, 16) {
            report.fail(format!(
                "{which} GPT header at LBA {lba}: header CRC32 mismatch"
            ));
            continue;
        }
        let (my_lba, alt_lba) = (le64(&header, 24), le64(&header, 32));
        let expected_alt = if lba == 1 { last_lba } else { 1 };
        if my_lba != lba || alt_lba != expected_alt {
            report.fail(format!(
                "{which} GPT header: it places itself at LBA {my_lba} and its twin at {alt_lba}"
            ));
        }
        let (entries_lba, count, entry_size) = (
            le64(&header, 72),
            le32(&header, 80) as usize,
            le32(&header, 84) as usize,
        );
        if entry_size < 128 || count == 0 || count * entry_size > 1 << 20 {
            report.fail(format!(
                "{which} GPT header: {count} entries of {entry_size} bytes is not a valid table"
            ));
            continue;
        }
        // Checked: the header is input, and its CRC only says it was not damaged by accident.
        let entries = match entries_lba
            .checked_mul(512)
            .filter(|at| at.saturating_add((count * entry_size) as u64) <= size)
        {
            Some(at) => read_at(f, at, count * entry_size)?,
            None => {
                report.fail(format!(
                    "{which} GPT header: its entries at LBA {entries_lba} lie outside the disk"
                ));
                continue;
            }
        };
        if crc32(&entries) != le32(&header, 88) {
            report.fail(format!("{which} GPT partition entries: CRC32 mismatch"));
            continue;
        }
        report.pass(format!("{which} GPT header and entries (CRC32 valid)"));
        tables.push((entries, entry_size, guid(&header[56..72])));
    }
    if tables.len() == 2 && tables[0].0 != tables[1].0 {
        report.fail("primary and backup GPT partition entries differ");
    }
    let Some((entries, entry_size, _)) = tables.first() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (i, e) in entries.chunks(*entry_size).enumerate() {
        if e[..16].iter().all(|&b| b == 0) {
            continue;
        }
        let name: Vec<u16> = e[56..128]
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&c| c != 0)
            .collect();
        let entry = GptEntry {
            number: i as u32 + 1,
            type_guid: guid(&e[..16]),
            guid: guid(&e[16..32]),
            first_lba: le64(e, 32),
            last_lba: le64(e, 40),
            label: String::from_utf16_lossy(&name),
        };
        if entry.first_lba < 34 || entry.first_lba > entry.last_lba || entry.last_lba >= last_lba {
            report.fail(format!(
                "partition {} `{}`: LBAs {}..={} are not inside the disk's usable sectors",
                entry.number, entry.label, entry.first_lba, entry.last_lba
            ));
            continue;
        }
        out.push(entry);
    }
    Ok(out)
}

/// Follows a path in the image, symlinks included (absolute targets restart at the root),
/// as the kernel and the loader do. Returns the final inode.
fn resolve<R: Read + Seek>(fs: &mut Ufs<R>, path: &str) -> Result<u64, String> {
    let mut todo: Vec<String> = path
        .split('/')
        .filter(|p| !p.is_empty())
        .rev()
        .map(str::to_owned)
        .collect();
    let mut stack: Vec<u64> = vec![2];
    let mut hops = 0;
    while let Some(part) = todo.pop() {
        let dir = *stack.last().unwrap_or(&2);
        match part.as_str() {
            "." => continue,
            ".." => {
                if stack.len() > 1 {
                    stack.pop();
                }
                continue;
            }
            _ => {}
        }
        let entries = fs.read_dir(dir).map_err(|e| format!("{path}: {e}"))?;
        let ino = entries
            .iter()
            .find(|e| e.name == part.as_bytes())
            .map(|e| e.ino)
            .ok_or_else(|| format!("{path}: `{part}` not found"))?;
        let stat = fs.stat(ino).map_err(|e| format!("{path}: {e}"))?;
        if stat.ftype == FileType::Symlink {
            hops += 1;
            if hops > 32 {
                return Err(format!("{path}: too many symbolic links"));
            }
            let target = fs.read_link(ino).map_err(|e| format!("{path}: {e}"))?;
            let target = String::from_utf8_lossy(&target).into_owned();
            if target.starts_with('/') {
                stack.truncate(1);
            }
            todo.extend(
                target
                    .split('/')
                    .filter(|p| !p.is_empty())
                    .rev()
                    .map(str::to_owned),
            );
        } else {
            stack.push(ino);
        }
    }
    stack
        .last()
        .copied()
        .ok_or_else(|| format!("{path}: empty"))
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
    let parts = read_gpt(&mut f, &mut report).map_err(err)?;
    let esp = parts.iter().find(|p| p.type_guid == TYPE_ESP).cloned();
    let root = parts
        .iter()
        .find(|p| p.type_guid == TYPE_FREEBSD_UFS)
        .cloned();
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

fn check_topology<R: Read + Seek>(fs: &mut Ufs<R>, root: &GptEntry, report: &mut ImageReport) {
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
            "/usr/local/etc/rc.d/fruix-shepherd",
            "/usr/local/etc/rc.d/fruix-shepherd",
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
    let entries = match fs.lookup(b"frx/store").and_then(|ino| fs.read_dir(ino)) {
        Ok(entries) => entries,
        Err(e) => return report.fail(format!("/frx/store: {e}")),
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
            root: format!("frx/store/{}", item.base_name()),
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
            "all {} store items in /frx/store re-hash to their names",
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
            report.pass("every item of the system's closure is in /frx/store");
        } else {
            report.fail(format!("missing from /frx/store: {}", missing.join(", ")));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
    }
}
