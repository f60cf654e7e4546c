//! Reading a `.pkg`: decompressed by magic, its `+MANIFEST` parsed, then every member
//! checked against the manifest while it streams past (nothing is held in memory but the
//! names seen so far).
//!
//! A member is refused when its name escapes the package (`..`, NUL, too long), when it
//! is a device, FIFO or socket, when the manifest does not list it (directories excepted:
//! pkg skips unlisted ones), when it comes twice, when it would be written through a
//! symlink or below a file of the package, when a hard link names no earlier file, when
//! its contents (or symlink target) do not hash to the manifest's sum, or when the files
//! outgrow the manifest's `flatsize`. Files the manifest lists but the archive lacks, and
//! a `+COMPACT_MANIFEST` that disagrees with `+MANIFEST`, are refused too.
//!
//! Owners, modes and flags come from the tar header (as pkg 2.4 applies them), the
//! manifest's values standing in where the header has none.

use super::compress::{decompress, Budget, Compression, Limited};
use super::error::{PkgError, Result};
use super::manifest::{Manifest, Sum, SumKind};
use super::sum::SumHasher;
use crate::io_error::io;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Size limits against decompression bombs and lying sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest `+MANIFEST` / `+COMPACT_MANIFEST` (and catalogue member) accepted.
    pub max_manifest: u64,
    /// Largest decompressed archive, whatever the manifest says.
    pub max_unpacked: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_manifest: 64 << 20,
            max_unpacked: 16 << 30,
        }
    }
}

/// Tar bytes allowed per member beyond its data: header, pax records, padding.
const MEMBER_OVERHEAD: u64 = 4096;

/// The system a package is checked against.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Target {
    /// The system's ABI (`FreeBSD:15:amd64`).
    pub abi: String,
    /// The system's OSVERSION (`1500068`), checked against the `FreeBSD_version`
    /// annotation; `None` skips that check.
    pub osversion: Option<u32>,
}

/// Whether a package built for `pkg_abi` (globs like `FreeBSD:15:*` allowed) runs on a
/// system of ABI `target`.
pub fn abi_matches(pkg_abi: &str, target: &str) -> bool {
    let p: Vec<&str> = pkg_abi.split(':').collect();
    let t: Vec<&str> = target.split(':').collect();
    p.len() == t.len()
        && p.iter()
            .zip(&t)
            .all(|(p, t)| *p == "*" || p.eq_ignore_ascii_case(t))
}

/// The ABI of a manifest: `abi`, or derived from the legacy `arch`
/// (`freebsd:15:x86:64` -> `FreeBSD:15:amd64`) when it has none.
pub fn manifest_abi(m: &Manifest) -> Option<String> {
    if !m.abi.is_empty() {
        return Some(m.abi.clone());
    }
    let parts: Vec<&str> = m.arch.split(':').collect();
    let [os, major, rest @ ..] = parts.as_slice() else {
        return None;
    };
    let arch = match rest {
        ["x86", "64"] => "amd64",
        ["x86", "32"] => "i386",
        ["aarch64", "64"] => "aarch64",
        ["*"] => "*",
        _ => return None,
    };
    os.eq_ignore_ascii_case("freebsd")
        .then(|| format!("FreeBSD:{major}:{arch}"))
}

/// Checks a manifest's ABI and `FreeBSD_version` against `target`.
pub fn check_target(m: &Manifest, label: &str, target: &Target) -> Result<()> {
    let abi = manifest_abi(m).unwrap_or_default();
    if !abi_matches(&abi, &target.abi) {
        return Err(PkgError::Abi {
            package: label.to_owned(),
            abi: if abi.is_empty() { "(none)".into() } else { abi },
            target: target.abi.clone(),
        });
    }
    if let (Some(os), Some(v)) = (target.osversion, m.annotations.get("FreeBSD_version")) {
        let needs: u32 = v.trim().parse().map_err(|_| PkgError::Manifest {
            package: label.to_owned(),
            why: format!(
                "annotation FreeBSD_version `{}` is not a number",
                v.escape_debug()
            ),
        })?;
        if needs > os {
            return Err(PkgError::TooNew {
                package: label.to_owned(),
                needs,
                target: os,
            });
        }
    }
    Ok(())
}

/// A package file whose manifest has been read (and whose members are checked by
/// [`PkgArchive::members`]).
#[derive(Debug, Clone)]
pub struct PkgArchive {
    path: PathBuf,
    compression: Compression,
    manifest: Manifest,
    limits: Limits,
}

/// Owner, group, permission bits and flags of a member, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberMeta {
    /// Owner name (`root` when neither header nor manifest gives one).
    pub uname: String,
    /// Group name (`wheel` when neither gives one).
    pub gname: String,
    /// Permission bits including setuid/setgid/sticky.
    pub perm: u16,
    /// BSD file flags.
    pub fflags: u32,
}

/// What a checked member is.
pub enum MemberData<'a> {
    /// A regular file: its contents, hashed as they are read (the walk reads what the
    /// visitor leaves and then checks the sum).
    File(&'a mut dyn Read),
    /// A directory the manifest lists.
    Dir,
    /// A symlink to this target (verbatim).
    Symlink(&'a str),
    /// Another name of this earlier file (a normalized path).
    HardLink(&'a str),
}

/// One checked member: its install path relative to `/` (`usr/local/bin/sudo`).
pub struct Member<'a> {
    /// Normalized install path, relative to `/`.
    pub path: &'a str,
    /// What it is.
    pub data: MemberData<'a>,
    /// Its owner, group, mode and flags.
    pub meta: MemberMeta,
}

/// The decompressed, size-limited tar stream of a package.
type TarStream = tar::Archive<Box<dyn Read>>;

/// The normalized form of an install path (`/usr/local/bin/x` -> `usr/local/bin/x`);
/// `None` for the root itself.
pub fn normalize(raw: &str) -> std::result::Result<Option<String>, String> {
    crate::freebsd::normalize_member_path(raw.trim_start_matches('/'))
}

/// What the walk knows about a path already seen.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    File(Option<Sum>),
    Symlink,
    Other,
}

impl PkgArchive {
    /// Opens `path` and reads its manifests, with the default [`Limits`].
    pub fn open(path: &Path) -> Result<PkgArchive> {
        PkgArchive::open_with_limits(path, Limits::default())
    }

    /// Opens `path` and reads its manifests within `limits`.
    pub fn open_with_limits(path: &Path, limits: Limits) -> Result<PkgArchive> {
        let mut archive = PkgArchive {
            path: path.to_owned(),
            compression: Compression::None,
            manifest: Manifest::default(),
            limits,
        };
        let file = path.display().to_string();
        let (compression, budget, mut tar) = archive.stream()?;
        archive.compression = compression;
        let mut entries = tar
            .entries()
            .map_err(|e| archive_error(&file, &budget, e))?;
        let mut full = None;
        let mut compact = None;
        for entry in entries.by_ref() {
            let mut entry = entry.map_err(|e| archive_error(&file, &budget, e))?;
            let name = entry.path_bytes().into_owned();
            let slot = match name.as_slice() {
                b"+MANIFEST" => &mut full,
                b"+COMPACT_MANIFEST" => &mut compact,
                n if n.first() == Some(&b'+') => continue,
                _ => break,
            };
            let member = String::from_utf8_lossy(&name).into_owned();
            let size = entry
                .header()
                .size()
                .map_err(|e| archive_error(&file, &budget, e))?;
            if size > limits.max_manifest {
                return Err(PkgError::TooLarge {
                    package: file,
                    what: format!("member `{member}` ({size} bytes)"),
                    limit: limits.max_manifest,
                });
            }
            if slot.is_some() {
                return Err(PkgError::Member {
                    package: file,
                    member,
                    why: "the archive holds it twice".into(),
                });
            }
            let mut text = Vec::new();
            entry
                .read_to_end(&mut text)
                .map_err(|e| archive_error(&file, &budget, e))?;
            let parsed = Manifest::from_json(&text).map_err(|why| PkgError::Manifest {
                package: file.clone(),
                why: format!("{member}: {why}"),
            })?;
            *slot = Some(parsed);
        }
        let Some(full) = full else {
            return Err(PkgError::Manifest {
                package: file,
                why: "the archive has no +MANIFEST before its files".into(),
            });
        };
        if let Some(compact) = compact {
            if compact != full.compact() {
                return Err(PkgError::Manifest {
                    package: file,
                    why: format!(
                        "+COMPACT_MANIFEST disagrees with +MANIFEST ({})",
                        first_difference(&compact, &full.compact())
                    ),
                });
            }
        }
        archive.manifest = full;
        Ok(archive)
    }

    /// The full manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The file it was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How it is compressed.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// `name-version`, how errors name it.
    pub fn label(&self) -> String {
        format!("{}-{}", self.manifest.name, self.manifest.version)
    }

    /// Checks the package's ABI and `FreeBSD_version` against `target`.
    pub fn check_target(&self, target: &Target) -> Result<()> {
        check_target(&self.manifest, &self.label(), target)
    }

    /// Reads the whole archive, checking every member, without keeping anything.
    pub fn verify(&self) -> Result<()> {
        // The walk itself reads and hashes what a visitor leaves unread.
        self.members(&mut |_| Ok(()))
    }

    fn stream(&self) -> Result<(Compression, Budget, TarStream)> {
        let file = File::open(&self.path).map_err(io("opening", &self.path))?;
        let label = self.path.display().to_string();
        let Some((kind, reader)) = decompress(file).map_err(io("reading", &self.path))? else {
            return Err(PkgError::Archive {
                package: label,
                why: "not a package: no zstd, xz, gzip, bzip2 or tar magic".into(),
            });
        };
        let budget = Budget::new(self.limits.max_manifest.saturating_mul(2) + (1 << 20));
        let limited: Box<dyn Read> = Box::new(Limited::new(reader, budget.clone()));
        Ok((kind, budget, tar::Archive::new(limited)))
    }

    /// Walks every member after the manifests, checks it, and hands it to `visit` (which
    /// may refuse it in turn). Manifest directories the archive lacks are visited last.
    pub fn members(&self, visit: &mut dyn FnMut(Member<'_>) -> Result<()>) -> Result<()> {
        let label = self.label();
        let m = &self.manifest;
        let (_, budget, mut tar) = self.stream()?;
        let files = normalized_map(&label, "files", &m.files)?;
        let dirs = normalized_map(&label, "directories", &m.directories)?;
        let mut seen: HashMap<String, Seen> = HashMap::new();
        let mut file_bytes = 0u64;
        let mut started = false;
        let flatsize_limit = (m.flatsize > 0).then_some(m.flatsize);
        for entry in tar
            .entries()
            .map_err(|e| archive_error(&label, &budget, e))?
        {
            let mut entry = entry.map_err(|e| archive_error(&label, &budget, e))?;
            let name = entry.path_bytes().into_owned();
            if !started {
                if name.first() == Some(&b'+') {
                    continue;
                }
                started = true;
                // The manifests are read: the rest may hold the files and per-member
                // overhead, no more.
                let rest = match flatsize_limit {
                    Some(flat) => flat.saturating_add(
                        MEMBER_OVERHEAD * (files.len() as u64 + dirs.len() as u64 + 4),
                    ),
                    None => self.limits.max_unpacked,
                };
                budget.set_limit(
                    budget
                        .used()
                        .saturating_add(rest.min(self.limits.max_unpacked)),
                );
            }
            let raw = match std::str::from_utf8(&name) {
                Ok(s) => s.to_owned(),
                Err(_) => {
                    return Err(member_error(
                        &label,
                        &name.escape_ascii().to_string(),
                        "the name is not UTF-8",
                    ))
                }
            };
            let refuse = |why: String| member_error(&label, &raw, &why);
            let kind = entry.header().entry_type();
            use tar::EntryType as T;
            match kind {
                T::XHeader | T::XGlobalHeader | T::GNULongName | T::GNULongLink => continue,
                T::Regular | T::Continuous | T::Directory | T::Symlink | T::Link => {}
                T::Char => return Err(refuse("character devices are not allowed".into())),
                T::Block => return Err(refuse("block devices are not allowed".into())),
                T::Fifo => return Err(refuse("FIFOs are not allowed".into())),
                other => {
                    return Err(refuse(format!(
                        "tar member type `{}` is not allowed",
                        other.as_byte().escape_ascii()
                    )))
                }
            }
            let path = match normalize(&raw) {
                Ok(Some(p)) => p,
                Ok(None) if kind == T::Directory => continue,
                Ok(None) => return Err(refuse("it names the root itself".into())),
                Err(why) => return Err(refuse(why)),
            };
            check_parents(&path, &seen).map_err(&refuse)?;
            if seen.contains_key(&path) {
                return Err(refuse("the archive holds this path twice".into()));
            }
            let header_meta =
                header_meta(&mut entry).map_err(|e| archive_error(&label, &budget, e))?;
            let link = match entry.link_name_bytes() {
                Some(l) => Some(
                    String::from_utf8(l.into_owned())
                        .map_err(|_| refuse("the link target is not UTF-8".into()))?,
                ),
                None => None,
            };
            if kind == T::Directory {
                seen.insert(path.clone(), Seen::Other);
                let Some(dir) = dirs.get(&path) else {
                    continue; // pkg skips directories its manifest does not list
                };
                let meta = merge_meta(header_meta, &dir.uname, &dir.gname, dir.perm, dir.fflags);
                visit(Member {
                    path: &path,
                    data: MemberData::Dir,
                    meta,
                })?;
                continue;
            }
            let Some(listed) = files.get(&path) else {
                return Err(refuse("the manifest does not list it".into()));
            };
            let meta = merge_meta(
                header_meta,
                &listed.uname,
                &listed.gname,
                listed.perm,
                listed.fflags,
            );
            match kind {
                T::Symlink => {
                    let target = link.unwrap_or_default();
                    if target.is_empty() || target.contains('\0') {
                        return Err(refuse("the symlink target is empty or holds NUL".into()));
                    }
                    if let Some(t) = &listed.symlink_target {
                        if *t != target {
                            return Err(refuse(format!(
                                "it links to `{}`, the manifest says `{}`",
                                target.escape_debug(),
                                t.escape_debug()
                            )));
                        }
                    }
                    if let Some(sum) = &listed.sum {
                        let actual = Sum::of_symlink(sum.kind, &target);
                        if actual != *sum {
                            return Err(checksum_error(&label, &path, sum, &actual));
                        }
                    }
                    seen.insert(path.clone(), Seen::Symlink);
                    visit(Member {
                        path: &path,
                        data: MemberData::Symlink(&target),
                        meta,
                    })?;
                }
                T::Link => {
                    let target = link.unwrap_or_default();
                    let earlier = match normalize(&target) {
                        Ok(Some(t)) => t,
                        _ => {
                            return Err(refuse(format!(
                                "hard link to `{}`, outside the package",
                                target.escape_debug()
                            )))
                        }
                    };
                    let Some(Seen::File(first_sum)) = seen.get(&earlier) else {
                        return Err(refuse(format!(
                            "hard link to `{}`, which is not a file seen before",
                            target.escape_debug()
                        )));
                    };
                    if let (Some(want), Some(have)) = (&listed.sum, first_sum) {
                        if want.kind != have.kind {
                            return Err(refuse(
                                "its sum is of another kind than its first name's".into(),
                            ));
                        }
                        if want != have {
                            return Err(checksum_error(&label, &path, want, have));
                        }
                    }
                    let first_sum = first_sum.clone();
                    visit(Member {
                        path: &path,
                        data: MemberData::HardLink(&earlier),
                        meta,
                    })?;
                    seen.insert(path.clone(), Seen::File(first_sum));
                }
                _ => {
                    if listed.symlink_target.is_some() {
                        return Err(refuse("the manifest says it is a symlink".into()));
                    }
                    let size = entry
                        .header()
                        .size()
                        .map_err(|e| archive_error(&label, &budget, e))?;
                    file_bytes = file_bytes.saturating_add(size);
                    if let Some(flat) = flatsize_limit {
                        if file_bytes > flat {
                            return Err(PkgError::TooLarge {
                                package: label,
                                what: format!("the files up to `{path}` ({file_bytes} bytes, more than the manifest's flatsize)"),
                                limit: flat,
                            });
                        }
                    }
                    let kind = listed.sum.as_ref().map_or(SumKind::Sha256, |s| s.kind);
                    let mut reader = HashingReader {
                        inner: &mut entry,
                        hasher: SumHasher::new(kind),
                        failure: None,
                        bytes: 0,
                    };
                    let visited = visit(Member {
                        path: &path,
                        data: MemberData::File(&mut reader),
                        meta,
                    });
                    let drained = io::copy(&mut reader, &mut io::sink());
                    if let Some(e) = reader.failure.take() {
                        return Err(archive_error(&label, &budget, e));
                    }
                    visited?;
                    drained.map_err(|e| archive_error(&label, &budget, e))?;
                    if reader.bytes != size {
                        return Err(PkgError::Archive {
                            package: label,
                            why: format!(
                                "unreadable or truncated archive: `/{path}` holds {} of its {size} bytes",
                                reader.bytes
                            ),
                        });
                    }
                    let actual = reader.hasher.finish();
                    if let Some(want) = &listed.sum {
                        if *want != actual {
                            return Err(checksum_error(&label, &path, want, &actual));
                        }
                    }
                    seen.insert(path.clone(), Seen::File(Some(actual)));
                }
            }
        }
        for path in files.keys() {
            if !seen.contains_key(path) {
                return Err(PkgError::Manifest {
                    package: label,
                    why: format!("`/{path}` is listed but the archive does not hold it"),
                });
            }
        }
        for (path, dir) in &dirs {
            if !seen.contains_key(path) {
                check_parents(path, &seen).map_err(|why| member_error(&label, path, &why))?;
                let meta = merge_meta(None, &dir.uname, &dir.gname, dir.perm, dir.fflags);
                visit(Member {
                    path,
                    data: MemberData::Dir,
                    meta,
                })?;
            }
        }
        Ok(())
    }
}

/// A reader that hashes what passes and remembers the first error it met (so that a
/// visitor's I/O error can be told apart from a broken archive).
struct HashingReader<'r> {
    inner: &'r mut dyn Read,
    hasher: SumHasher,
    failure: Option<io::Error>,
    bytes: u64,
}

impl Read for HashingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.hasher.update(&buf[..n]);
                self.bytes += n as u64;
                Ok(n)
            }
            Err(e) => {
                let copy = io::Error::new(e.kind(), e.to_string());
                self.failure.get_or_insert(e);
                Err(copy)
            }
        }
    }
}

/// The manifest's paths by normalized install path; refuses escaping or doubled paths.
fn normalized_map<'m, T>(
    label: &str,
    what: &str,
    entries: &'m BTreeMap<String, T>,
) -> Result<BTreeMap<String, &'m T>> {
    let mut out = BTreeMap::new();
    for (raw, entry) in entries {
        let bad = |why: String| PkgError::Manifest {
            package: label.to_owned(),
            why: format!("{what}: `{}`: {why}", raw.escape_debug()),
        };
        if !raw.starts_with('/') {
            return Err(bad("the path is not absolute".into()));
        }
        let path = match normalize(raw) {
            Ok(Some(p)) => p,
            Ok(None) => return Err(bad("it names the root itself".into())),
            Err(why) => return Err(bad(why)),
        };
        if out.insert(path, entry).is_some() {
            return Err(bad("another path normalizes to the same one".into()));
        }
    }
    Ok(out)
}

/// Refuses a path below a symlink or a file of the package.
fn check_parents(path: &str, seen: &HashMap<String, Seen>) -> std::result::Result<(), String> {
    let mut end = 0;
    while let Some(i) = path[end..].find('/') {
        let prefix = &path[..end + i];
        match seen.get(prefix) {
            Some(Seen::Symlink) => {
                return Err(format!(
                    "it would be written through the symlink `/{prefix}`"
                ))
            }
            Some(Seen::File(_)) => return Err(format!("it lies below the file `/{prefix}`")),
            _ => {}
        }
        end += i + 1;
    }
    Ok(())
}

fn header_meta<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Option<MemberMeta>> {
    let mut fflags = 0;
    if let Some(exts) = entry.pax_extensions()? {
        for ext in exts {
            let ext = ext?;
            if ext.key() == Ok("SCHILY.fflags") {
                fflags = crate::freebsd::dist::file_flags(ext.value().unwrap_or(""));
            }
        }
    }
    let h = entry.header();
    let name = |b: Option<&[u8]>| {
        b.and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
            .to_owned()
    };
    Ok(Some(MemberMeta {
        uname: name(h.username_bytes()),
        gname: name(h.groupname_bytes()),
        perm: (h.mode()? & 0o7777) as u16,
        fflags,
    }))
}

/// The header's values, the manifest's where the header has none, root:wheel last.
fn merge_meta(
    header: Option<MemberMeta>,
    uname: &str,
    gname: &str,
    perm: Option<u16>,
    fflags: u32,
) -> MemberMeta {
    let pick = |h: Option<&str>, m: &str, d: &str| {
        h.filter(|s| !s.is_empty())
            .or(Some(m).filter(|s| !s.is_empty()))
            .unwrap_or(d)
            .to_owned()
    };
    MemberMeta {
        uname: pick(header.as_ref().map(|h| h.uname.as_str()), uname, "root"),
        gname: pick(header.as_ref().map(|h| h.gname.as_str()), gname, "wheel"),
        perm: header.as_ref().map(|h| h.perm).or(perm).unwrap_or(0o755),
        fflags: header
            .as_ref()
            .map(|h| h.fflags)
            .filter(|f| *f != 0)
            .unwrap_or(fflags),
    }
}

fn member_error(label: &str, member: &str, why: &str) -> PkgError {
    PkgError::Member {
        package: label.to_owned(),
        member: member.escape_debug().to_string(),
        why: why.to_owned(),
    }
}

fn checksum_error(label: &str, path: &str, want: &Sum, have: &Sum) -> PkgError {
    PkgError::Checksum {
        package: label.to_owned(),
        path: format!("/{path}"),
        expected: want.to_string(),
        actual: have.to_string(),
    }
}

/// A decompression or tar error, or the size limit reached.
pub(crate) fn archive_error(label: &str, budget: &Budget, e: io::Error) -> PkgError {
    if budget.exhausted() {
        PkgError::TooLarge {
            package: label.to_owned(),
            what: "the decompressed archive".into(),
            limit: budget.limit(),
        }
    } else {
        PkgError::Archive {
            package: label.to_owned(),
            why: format!("unreadable or truncated archive: {e}"),
        }
    }
}

/// The first field two manifests disagree on, for error messages.
fn first_difference(a: &Manifest, b: &Manifest) -> String {
    let fields: [(&str, bool); 12] = [
        ("name", a.name == b.name),
        ("origin", a.origin == b.origin),
        ("version", a.version == b.version),
        ("abi", a.abi == b.abi),
        ("prefix", a.prefix == b.prefix),
        ("flatsize", a.flatsize == b.flatsize),
        ("deps", a.deps == b.deps),
        ("users", a.users == b.users),
        ("groups", a.groups == b.groups),
        ("annotations", a.annotations == b.annotations),
        (
            "shlibs",
            a.shlibs_required == b.shlibs_required && a.shlibs_provided == b.shlibs_provided,
        ),
        ("desc", a.desc == b.desc),
    ];
    fields
        .iter()
        .find(|(_, same)| !same)
        .map_or("comment, maintainer, www or arch".to_owned(), |(f, _)| {
            format!("`{f}` differs")
        })
}
