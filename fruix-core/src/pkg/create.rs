//! Writing packages and repositories the way `pkg create` and `pkg repo` do: for people
//! packaging their own software, and for the tests (which also need hostile ones, hence
//! [`PackageWriter::raw_member`] and [`PackageWriter::to_bytes_with`]).
//!
//! ```no_run
//! use fruix_core::pkg::compress::Compression;
//! use fruix_core::pkg::create::{Meta, PackageWriter, RepoWriter};
//! let mut sudo = PackageWriter::new("sudo", "1.9.16p2");
//! sudo.file("/usr/local/bin/sudo", b"#!/bin/sh\n", Meta::new("root", "wheel", 0o4111))
//!     .compression(Compression::Xz);
//! let mut repo = RepoWriter::new("/tmp/repo");
//! repo.add(&sudo).unwrap();
//! repo.write().unwrap();
//! ```

use super::compress::Compression;
use super::error::{PkgError, Result};
use super::manifest::{CatalogueEntry, DirEntry, FileEntry, Manifest, ScriptPhase, Sum, SumKind};
use super::tar_write::{append, MemberKind, RawMember};
use crate::io_error::io;
use crate::store::hash::hex;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Owner, group, permission bits and flags of an entry to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// Owner name.
    pub uname: String,
    /// Group name.
    pub gname: String,
    /// Permission bits including setuid/setgid/sticky.
    pub perm: u16,
    /// BSD file flags.
    pub fflags: u32,
}

impl Meta {
    /// `uname:gname` with `perm`, no flags.
    pub fn new(uname: &str, gname: &str, perm: u16) -> Meta {
        Meta {
            uname: uname.into(),
            gname: gname.into(),
            perm,
            fflags: 0,
        }
    }
    /// root:wheel with `perm`.
    pub fn root(perm: u16) -> Meta {
        Meta::new("root", "wheel", perm)
    }
    /// These flags too.
    pub fn flags(mut self, fflags: u32) -> Meta {
        self.fflags = fflags;
        self
    }
}

#[derive(Debug, Clone)]
enum Content {
    File(Vec<u8>),
    Symlink(String),
    HardLink(String),
    Dir,
}

#[derive(Debug, Clone)]
struct Entry {
    path: String,
    content: Content,
    meta: Meta,
}

/// A package being written: manifest fields, then members in order (files, symlinks and
/// hard links as added; directories last, as pkg writes them).
#[derive(Debug, Clone)]
pub struct PackageWriter {
    manifest: Manifest,
    entries: Vec<Entry>,
    raw: Vec<RawMember>,
    compression: Compression,
    sum_kind: SumKind,
}

/// A package file written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenPackage {
    /// Where it is.
    pub path: PathBuf,
    /// Its sha256 (hex).
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
}

fn absolute(path: &str) -> String {
    if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    }
}

impl PackageWriter {
    /// A package `name-version` for `FreeBSD:15:amd64`, prefix `/usr/local`, zstd, with
    /// placeholder comment/desc/maintainer/www (edit them with [`Self::manifest_mut`]).
    pub fn new(name: &str, version: &str) -> PackageWriter {
        PackageWriter {
            manifest: Manifest {
                name: name.into(),
                origin: format!("misc/{name}"),
                version: version.into(),
                comment: format!("The {name} package"),
                desc: format!("{name} {version}, written by fruix."),
                maintainer: "nobody@example.invalid".into(),
                www: "https://example.invalid/".into(),
                prefix: "/usr/local".into(),
                abi: "FreeBSD:15:amd64".into(),
                arch: "freebsd:15:x86:64".into(),
                ..Manifest::default()
            },
            entries: Vec::new(),
            raw: Vec::new(),
            compression: Compression::Zstd,
            sum_kind: SumKind::Sha256,
        }
    }

    /// The manifest's own fields (deps, users, groups, abi, annotations, scripts...);
    /// files, directories and flatsize are computed from the members when written.
    pub fn manifest_mut(&mut self) -> &mut Manifest {
        &mut self.manifest
    }

    /// Compresses with `c` (zstd by default).
    pub fn compression(&mut self, c: Compression) -> &mut Self {
        self.compression = c;
        self
    }

    /// Writes file sums of `kind` (`1$` SHA-256 by default, `2$` BLAKE2b as pkg 2.8).
    pub fn sum_kind(&mut self, kind: SumKind) -> &mut Self {
        self.sum_kind = kind;
        self
    }

    /// Adds a regular file at absolute install path `path`.
    pub fn file(&mut self, path: &str, data: &[u8], meta: Meta) -> &mut Self {
        self.push(path, Content::File(data.to_vec()), meta)
    }

    /// Adds a directory.
    pub fn dir(&mut self, path: &str, meta: Meta) -> &mut Self {
        self.push(path, Content::Dir, meta)
    }

    /// Adds a symlink to `target` (verbatim).
    pub fn symlink(&mut self, path: &str, target: &str) -> &mut Self {
        self.push(path, Content::Symlink(target.into()), Meta::root(0o755))
    }

    /// Adds `path` as another name of the file `existing`, added before.
    pub fn hard_link(&mut self, path: &str, existing: &str) -> &mut Self {
        let meta = self
            .entries
            .iter()
            .find(|e| e.path == absolute(existing))
            .map_or(Meta::root(0o644), |e| e.meta.clone());
        self.push(path, Content::HardLink(absolute(existing)), meta)
    }

    /// Sets the shell script of `phase`.
    pub fn script(&mut self, phase: ScriptPhase, body: &str) -> &mut Self {
        self.manifest.scripts.insert(phase, body.into());
        self
    }

    /// Marks `sample` (a file added, named `x.sample`, relative to the prefix or absolute)
    /// as ports' `@sample` does: a lua post-install script copying it to `x` if absent.
    pub fn sample(&mut self, sample: &str) -> &mut Self {
        let script = format!(
            "sample_file = pkg.prefixed_path(\"{sample}\")\nif \"1\" == 2 then\n  target_file = pkg.prefixed_path(\"{sample}\")\nelse\n  target_file = string.gsub(sample_file,'%.sample$', \"\")\nend\nif not pkg.stat(target_file) then\n  pkg.copy(sample_file, target_file)\nend\n"
        );
        self.manifest
            .lua_scripts
            .entry(ScriptPhase::PostInstall)
            .or_default()
            .push(script);
        self
    }

    /// Adds a member written as given, after the listed ones and not in the manifest
    /// (hostile archives: devices, traversal, unlisted files...).
    pub fn raw_member(&mut self, member: RawMember) -> &mut Self {
        self.raw.push(member);
        self
    }

    fn push(&mut self, path: &str, content: Content, meta: Meta) -> &mut Self {
        self.entries.push(Entry {
            path: absolute(path),
            content,
            meta,
        });
        self
    }

    /// The full manifest this package gets: sums, owners, modes, flatsize computed.
    pub fn full_manifest(&self) -> Manifest {
        let mut m = self.manifest.clone();
        m.flatsize = 0;
        let mut sums: BTreeMap<&str, Sum> = BTreeMap::new();
        for e in &self.entries {
            let file = |sum: Option<Sum>, target: Option<String>| FileEntry {
                sum,
                uname: e.meta.uname.clone(),
                gname: e.meta.gname.clone(),
                perm: Some(e.meta.perm),
                fflags: e.meta.fflags,
                symlink_target: target,
            };
            match &e.content {
                Content::File(data) => {
                    let sum = Sum::of_bytes(self.sum_kind, data);
                    sums.insert(&e.path, sum.clone());
                    m.flatsize += data.len() as u64;
                    m.files.insert(e.path.clone(), file(Some(sum), None));
                }
                Content::Symlink(t) => {
                    let sum = Sum::of_symlink(self.sum_kind, t);
                    m.files
                        .insert(e.path.clone(), file(Some(sum), Some(t.clone())));
                }
                Content::HardLink(first) => {
                    let sum = sums.get(first.as_str()).cloned();
                    m.files.insert(e.path.clone(), file(sum, None));
                }
                Content::Dir => {
                    m.directories.insert(
                        e.path.clone(),
                        DirEntry {
                            uname: e.meta.uname.clone(),
                            gname: e.meta.gname.clone(),
                            perm: Some(e.meta.perm),
                            fflags: e.meta.fflags,
                        },
                    );
                }
            }
        }
        m
    }

    /// The compressed package.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let full = self.full_manifest();
        self.to_bytes_with(
            full.to_json(true).as_bytes(),
            Some(full.to_json(false).as_bytes()),
        )
    }

    /// The compressed package with these manifest texts instead of the computed ones
    /// (`compact: None` leaves `+COMPACT_MANIFEST` out).
    pub fn to_bytes_with(&self, full: &[u8], compact: Option<&[u8]>) -> Result<Vec<u8>> {
        let err = |e: std::io::Error| PkgError::Create {
            package: format!("{}-{}", self.manifest.name, self.manifest.version),
            why: e.to_string(),
        };
        let mut b = tar::Builder::new(Vec::new());
        let mut plus = |name: &str, text: &[u8]| {
            let mut m = RawMember::new(name, MemberKind::File);
            m.data = text.to_vec();
            append(&mut b, &m)
        };
        if let Some(c) = compact {
            plus("+COMPACT_MANIFEST", c).map_err(err)?;
        }
        plus("+MANIFEST", full).map_err(err)?;
        let (dirs, others): (Vec<&Entry>, Vec<&Entry>) = self
            .entries
            .iter()
            .partition(|e| matches!(e.content, Content::Dir));
        for e in others.into_iter().chain(dirs) {
            let (kind, data, link) = match &e.content {
                Content::File(d) => (MemberKind::File, d.clone(), Vec::new()),
                Content::Symlink(t) => (MemberKind::Symlink, Vec::new(), t.as_bytes().to_vec()),
                Content::HardLink(t) => (MemberKind::HardLink, Vec::new(), t.as_bytes().to_vec()),
                Content::Dir => (MemberKind::Dir, Vec::new(), Vec::new()),
            };
            let member = RawMember {
                data,
                link,
                mode: u32::from(e.meta.perm),
                uname: e.meta.uname.clone(),
                gname: e.meta.gname.clone(),
                fflags: e.meta.fflags,
                ..RawMember::new(e.path.as_bytes(), kind)
            };
            append(&mut b, &member).map_err(err)?;
        }
        for m in &self.raw {
            append(&mut b, m).map_err(err)?;
        }
        let tar = b.into_inner().map_err(err)?;
        self.compression.compress(&tar).map_err(err)
    }

    /// Writes the package to `path`.
    pub fn write(&self, path: &Path) -> Result<WrittenPackage> {
        let bytes = self.to_bytes()?;
        write_file(path, &bytes)
    }

    /// `<name>-<version>.pkg`, the file name `pkg create` gives it.
    pub fn file_name(&self) -> String {
        format!("{}-{}.pkg", self.manifest.name, self.manifest.version)
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<WrittenPackage> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io("creating", parent))?;
    }
    std::fs::write(path, bytes).map_err(io("writing", path))?;
    Ok(WrittenPackage {
        path: path.to_owned(),
        sha256: hex(&Sha256::digest(bytes)),
        size: bytes.len() as u64,
    })
}

/// Makes the extra members of a signed catalogue from the uncompressed member's name and
/// bytes (e.g. `signature`, or `data.sig` + `data.pub`).
pub type Signer = Box<dyn Fn(&str, &[u8]) -> Vec<(String, Vec<u8>)>>;

/// A repository being written: `All/<name>-<version>.pkg`, `meta.conf`, `data.pkg` and
/// `packagesite.pkg` (each with its compat symlink `data.<format>`...).
pub struct RepoWriter {
    dir: PathBuf,
    packing: Compression,
    entries: Vec<CatalogueEntry>,
    raw_entries: Vec<String>,
    data: bool,
    packagesite: bool,
    signer: Option<Signer>,
}

/// What [`RepoWriter::write`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenRepo {
    /// `meta.conf`.
    pub meta_conf: PathBuf,
    /// `data.pkg`, when written.
    pub data: Option<WrittenPackage>,
    /// `packagesite.pkg`, when written.
    pub packagesite: Option<WrittenPackage>,
}

impl RepoWriter {
    /// A repository in `dir`, catalogues packed with zstd, both `data` and `packagesite`.
    pub fn new(dir: impl Into<PathBuf>) -> RepoWriter {
        RepoWriter {
            dir: dir.into(),
            packing: Compression::Zstd,
            entries: Vec::new(),
            raw_entries: Vec::new(),
            data: true,
            packagesite: true,
            signer: None,
        }
    }

    /// Packs the catalogues with `c`.
    pub fn packing(&mut self, c: Compression) -> &mut Self {
        self.packing = c;
        self
    }

    /// Which catalogues to write (`pkg repo` writes both).
    pub fn catalogues(&mut self, data: bool, packagesite: bool) -> &mut Self {
        self.data = data;
        self.packagesite = packagesite;
        self
    }

    /// Adds signature members to each catalogue archive (the signature engineer's hook).
    pub fn sign_with(&mut self, signer: Signer) -> &mut Self {
        self.signer = Some(signer);
        self
    }

    /// Writes `pkg` to `All/<name>-<version>.pkg` and lists it.
    pub fn add(&mut self, pkg: &PackageWriter) -> Result<CatalogueEntry> {
        let repopath = format!("All/{}", pkg.file_name());
        let written = write_file(&self.dir.join(&repopath), &pkg.to_bytes()?)?;
        let entry = CatalogueEntry {
            manifest: pkg.full_manifest().compact(),
            sha256: written.sha256,
            pkgsize: written.size,
            repopath,
        };
        self.entries.push(entry.clone());
        Ok(entry)
    }

    /// Copies the package file `pkg_file` to `All/` and lists it.
    pub fn add_file(&mut self, pkg_file: &Path) -> Result<CatalogueEntry> {
        let archive = super::archive::PkgArchive::open(pkg_file)?;
        let bytes = std::fs::read(pkg_file).map_err(io("reading", pkg_file))?;
        let repopath = format!("All/{}.pkg", archive.label());
        let written = write_file(&self.dir.join(&repopath), &bytes)?;
        let entry = CatalogueEntry {
            manifest: archive.manifest().compact(),
            sha256: written.sha256,
            pkgsize: written.size,
            repopath,
        };
        self.entries.push(entry.clone());
        Ok(entry)
    }

    /// The entries listed so far, to alter before writing (hostile catalogues).
    pub fn entries_mut(&mut self) -> &mut Vec<CatalogueEntry> {
        &mut self.entries
    }

    /// Adds a catalogue entry as raw JSON text (hostile catalogues).
    pub fn raw_entry(&mut self, json: &str) -> &mut Self {
        self.raw_entries.push(json.into());
        self
    }

    /// One catalogue entry as `pkg repo` writes it.
    pub fn entry_json(entry: &CatalogueEntry) -> String {
        let mut o = entry.manifest.compact().to_value(false);
        o.insert("sum".into(), Value::String(entry.sha256.clone()));
        o.insert("pkgsize".into(), Value::from(entry.pkgsize));
        o.insert("path".into(), Value::String(entry.repopath.clone()));
        o.insert("repopath".into(), Value::String(entry.repopath.clone()));
        Value::Object(o).to_string()
    }

    /// Writes `meta.conf` and the catalogues.
    pub fn write(&self) -> Result<WrittenRepo> {
        let lines: Vec<String> = self
            .entries
            .iter()
            .map(RepoWriter::entry_json)
            .chain(self.raw_entries.iter().cloned())
            .collect();
        let fmt = self.packing.format_name();
        let meta = format!(
            "version = 2;\npacking_format = \"{fmt}\";\nmanifests = \"packagesite.yaml\";\ndata = \"data\";\nfilesite = \"filesite.yaml\";\nmanifests_archive = \"packagesite\";\nfilesite_archive = \"filesite\";\ndata_archive = \"data\";\n"
        );
        let meta_conf = self.dir.join("meta.conf");
        std::fs::create_dir_all(&self.dir).map_err(io("creating", &self.dir))?;
        std::fs::write(&meta_conf, meta).map_err(io("writing", &meta_conf))?;
        std::fs::write(
            self.dir.join("meta"),
            std::fs::read(&meta_conf).map_err(io("reading", &meta_conf))?,
        )
        .map_err(io("writing", &self.dir))?;
        let data = if self.data {
            let doc = format!(
                "{{\"groups\":[],\"expired_packages\":[],\"packages\":[{}]}}",
                lines.join(",")
            );
            Some(self.catalogue("data", "data", doc.as_bytes())?)
        } else {
            None
        };
        let packagesite = if self.packagesite {
            let mut text = lines.join("\n");
            text.push('\n');
            Some(self.catalogue("packagesite", "packagesite.yaml", text.as_bytes())?)
        } else {
            None
        };
        Ok(WrittenRepo {
            meta_conf,
            data,
            packagesite,
        })
    }

    fn catalogue(&self, archive: &str, member: &str, bytes: &[u8]) -> Result<WrittenPackage> {
        let err = |e: std::io::Error| PkgError::Create {
            package: self.dir.join(archive).display().to_string(),
            why: e.to_string(),
        };
        let mut b = tar::Builder::new(Vec::new());
        let mut m = RawMember::new(member, MemberKind::File);
        m.data = bytes.to_vec();
        append(&mut b, &m).map_err(err)?;
        if let Some(sign) = &self.signer {
            for (name, data) in sign(member, bytes) {
                let mut s = RawMember::new(name, MemberKind::File);
                s.data = data;
                append(&mut b, &s).map_err(err)?;
            }
        }
        let tar = b.into_inner().map_err(err)?;
        let packed = self.packing.compress(&tar).map_err(err)?;
        let path = self.dir.join(format!("{archive}.pkg"));
        let written = write_file(&path, &packed)?;
        let compat = self
            .dir
            .join(format!("{archive}.{}", self.packing.format_name()));
        let _ = std::fs::remove_file(&compat);
        std::os::unix::fs::symlink(format!("{archive}.pkg"), &compat)
            .map_err(io("linking", &compat))?;
        Ok(written)
    }
}
