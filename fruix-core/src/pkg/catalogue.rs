//! A repository's catalogue: `meta.conf` and the catalogue archive `pkg repo` writes,
//! `data.pkg` (member `data`: one JSON document) or `packagesite.pkg` (member
//! `packagesite.yaml`: one JSON entry per line), in any packing format (told by magic).
//!
//! `read_dir` tries `data` before `packagesite`, and for each the `.pkg` name before the
//! compat names (`data.tzst`, `data.txz`...). Entries are refused, naming them, when
//! malformed, listed twice, when their path leaves the repository (absolute, `..`, or
//! URL syntax that a server could decode into one), or, through [`Catalogue::check_abi`],
//! when built for another ABI (one such entry makes `pkg update` fail too).
//!
//! `meta.conf` is UCL; this reads the subset `pkg repo` writes (`key = value;`,
//! `key: "value"`, `#` comments) or JSON, and refuses the rest (blocks, arrays, macros)
//! with a clear error.

use super::archive::{check_target, Target};
use super::compress::{decompress, Budget, Compression, Limited};
use super::error::{PkgError, Result};
use super::json;
use super::manifest::{CatalogueEntry, Manifest, Sum, SumKind};
use crate::io_error::io;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest uncompressed catalogue member (the FreeBSD repository's is ~150 MB).
pub const MAX_CATALOGUE: u64 = 1 << 30;

/// What `meta.conf` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoMeta {
    /// Repository format version (1 or 2).
    pub version: u32,
    /// `packing_format` (`tzst`), if given.
    pub packing_format: Option<String>,
    /// Member of the per-line catalogue (`packagesite.yaml`).
    pub manifests: String,
    /// Its archive's base name (`packagesite`).
    pub manifests_archive: String,
    /// Member of the one-document catalogue (`data`).
    pub data: String,
    /// Its archive's base name (`data`).
    pub data_archive: String,
    /// Every key as written (maintainer, source, revision, signature settings...).
    pub values: BTreeMap<String, String>,
}

impl Default for RepoMeta {
    fn default() -> RepoMeta {
        RepoMeta {
            version: 2,
            packing_format: None,
            manifests: "packagesite.yaml".into(),
            manifests_archive: "packagesite".into(),
            data: "data".into(),
            data_archive: "data".into(),
            values: BTreeMap::new(),
        }
    }
}

/// A repository's catalogue, read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalogue {
    /// What `meta.conf` says.
    pub meta: RepoMeta,
    /// Entries by package name.
    pub entries: BTreeMap<String, CatalogueEntry>,
    /// sha256 (hex) of the catalogue archive read (what a lock file pins).
    pub sha256_of_catalogue: String,
    /// The catalogue archive read.
    pub file: PathBuf,
}

fn repo_error(repo: &Path, why: impl Into<String>) -> PkgError {
    PkgError::Catalogue {
        repository: repo.display().to_string(),
        why: why.into(),
    }
}

impl RepoMeta {
    /// Parses `meta.conf` text (`repo` names the repository in errors).
    pub fn parse(text: &[u8], repo: &Path) -> Result<RepoMeta> {
        let values = if text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            json_values(text).map_err(|e| repo_error(repo, format!("meta.conf: {e}")))?
        } else {
            let text = std::str::from_utf8(text)
                .map_err(|_| repo_error(repo, "meta.conf is not UTF-8"))?;
            ucl_values(text).map_err(|e| repo_error(repo, format!("meta.conf: {e}")))?
        };
        let mut meta = RepoMeta::default();
        let version = values
            .get("version")
            .ok_or_else(|| repo_error(repo, "meta.conf has no `version`"))?;
        meta.version = match version.as_str() {
            "1" => 1,
            "2" => 2,
            v => {
                return Err(repo_error(
                    repo,
                    format!("meta.conf: repository format version `{v}` is not 1 or 2"),
                ))
            }
        };
        if let Some(f) = values.get("packing_format") {
            if Compression::from_format_name(f).is_none() {
                return Err(repo_error(
                    repo,
                    format!("meta.conf: unknown packing_format `{}`", f.escape_debug()),
                ));
            }
            meta.packing_format = Some(f.clone());
        }
        for (key, slot) in [
            ("manifests", &mut meta.manifests),
            ("manifests_archive", &mut meta.manifests_archive),
            ("data", &mut meta.data),
            ("data_archive", &mut meta.data_archive),
        ] {
            if let Some(v) = values.get(key) {
                if v.is_empty() || v.contains('/') || v.starts_with('.') || v.contains('\0') {
                    return Err(repo_error(
                        repo,
                        format!(
                            "meta.conf: `{key}` `{}` is not a plain file name",
                            v.escape_debug()
                        ),
                    ));
                }
                *slot = v.clone();
            }
        }
        meta.values = values;
        Ok(meta)
    }
}

fn json_values(text: &[u8]) -> std::result::Result<BTreeMap<String, String>, String> {
    let v = json::parse(text)?;
    let obj = v.as_object().ok_or("not a JSON object")?;
    let mut out = BTreeMap::new();
    for (k, v) in obj {
        let v = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return Err(format!("`{}` is not a plain value", k.escape_debug())),
        };
        out.insert(k.clone(), v);
    }
    Ok(out)
}

/// The UCL subset `pkg repo` writes: one `key = value;` (or `key: value`) a line.
fn ucl_values(text: &str) -> std::result::Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("//") {
            continue;
        }
        let at = |why: &str| {
            format!(
                "line {}: {why} (fruix reads only `key = value;` lines)",
                n + 1
            )
        };
        let split = line.find(['=', ':']).ok_or_else(|| at("no `=` or `:`"))?;
        let key = line[..split].trim();
        if key.is_empty()
            || !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(at("the key is not a plain name"));
        }
        let mut value = line[split + 1..].trim();
        value = value
            .strip_suffix(';')
            .or(value.strip_suffix(','))
            .unwrap_or(value)
            .trim();
        let value = if let Some(inner) = value.strip_prefix('"') {
            let inner = inner
                .strip_suffix('"')
                .ok_or_else(|| at("unterminated string"))?;
            if inner.contains('"') || inner.contains('\\') {
                return Err(at("escapes in strings are not read"));
            }
            inner.to_owned()
        } else if !value.is_empty()
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b))
        {
            value.to_owned()
        } else {
            return Err(at("the value is neither a quoted string nor a plain word"));
        };
        if out.insert(key.to_owned(), value).is_some() {
            return Err(at(&format!("`{key}` is given twice")));
        }
    }
    Ok(out)
}

/// Every member of a catalogue archive (the catalogue and any signature members), each
/// at most `max_member` bytes uncompressed.
pub fn read_members(path: &Path, max_member: u64) -> Result<BTreeMap<String, Vec<u8>>> {
    let file = std::fs::File::open(path).map_err(io("opening", path))?;
    let label = path.display().to_string();
    let Some((_, reader)) = decompress(file).map_err(io("reading", path))? else {
        return Err(repo_error(
            path,
            "not a catalogue archive: no zstd, xz, gzip, bzip2 or tar magic",
        ));
    };
    let budget = Budget::new(max_member.saturating_mul(2).saturating_add(1 << 20));
    let mut tar = tar::Archive::new(Limited::new(reader, budget.clone()));
    let mut out = BTreeMap::new();
    let err = |e| super::archive::archive_error(&label, &budget, e);
    for entry in tar.entries().map_err(err)? {
        let mut entry = entry.map_err(err)?;
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::XHeader | tar::EntryType::XGlobalHeader | tar::EntryType::GNULongName
        ) {
            continue;
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if !kind.is_file() {
            return Err(repo_error(
                path,
                format!(
                    "catalogue member `{}` is not a regular file",
                    name.escape_debug()
                ),
            ));
        }
        let size = entry.header().size().map_err(err)?;
        if size > max_member {
            return Err(PkgError::TooLarge {
                package: label,
                what: format!("catalogue member `{}` ({size} bytes)", name.escape_debug()),
                limit: max_member,
            });
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(err)?;
        if out.insert(name.clone(), bytes).is_some() {
            return Err(repo_error(
                path,
                format!("catalogue member `{}` appears twice", name.escape_debug()),
            ));
        }
    }
    Ok(out)
}

/// The catalogue archive `read_dir` reads in `dir`: `data` before `packagesite`, `.pkg`
/// before the compat names; with the member it holds.
pub fn catalogue_file(dir: &Path, meta: &RepoMeta) -> Option<(PathBuf, String)> {
    let preferred = meta
        .packing_format
        .as_deref()
        .and_then(Compression::from_format_name);
    for (archive, member) in [
        (&meta.data_archive, &meta.data),
        (&meta.manifests_archive, &meta.manifests),
    ] {
        let mut exts = vec!["pkg"];
        exts.extend(preferred.map(Compression::format_name));
        exts.extend(Compression::ALL.map(Compression::format_name));
        for ext in exts {
            let path = dir.join(format!("{archive}.{ext}"));
            if path.is_file() {
                return Some((path, member.clone()));
            }
        }
    }
    None
}

impl Catalogue {
    /// Reads a local copy of a repository: `meta.conf` (or `meta`; format-2 defaults when
    /// neither exists) and the catalogue archive.
    pub fn read_dir(dir: &Path) -> Result<Catalogue> {
        Catalogue::read_dir_with_limit(dir, MAX_CATALOGUE)
    }

    /// [`Catalogue::read_dir`] with catalogue members of at most `max_member` bytes.
    pub fn read_dir_with_limit(dir: &Path, max_member: u64) -> Result<Catalogue> {
        let meta = ["meta.conf", "meta"]
            .iter()
            .map(|n| dir.join(n))
            .find(|p| p.is_file());
        let meta = match meta {
            Some(p) => {
                let text = std::fs::read(&p).map_err(io("reading", &p))?;
                RepoMeta::parse(&text, dir)?
            }
            None => RepoMeta::default(),
        };
        let Some((file, member)) = catalogue_file(dir, &meta) else {
            return Err(repo_error(
                dir,
                format!(
                    "no catalogue: neither {0}.pkg nor {1}.pkg (nor their .tzst/.txz/.tbz/.tgz/.tar names)",
                    meta.data_archive, meta.manifests_archive
                ),
            ));
        };
        let members = read_members(&file, max_member)?;
        Catalogue::from_members(meta, &file, &members, &member)
    }

    /// Reads `meta.conf` and one catalogue archive (`data.pkg` or `packagesite.pkg`, any
    /// packing), e.g. as downloaded.
    pub fn from_files(meta_conf: &Path, catalogue: &Path) -> Result<Catalogue> {
        let text = std::fs::read(meta_conf).map_err(io("reading", meta_conf))?;
        let meta = RepoMeta::parse(&text, meta_conf)?;
        let members = read_members(catalogue, MAX_CATALOGUE)?;
        let member = if members.contains_key(&meta.data) {
            meta.data.clone()
        } else {
            meta.manifests.clone()
        };
        Catalogue::from_members(meta, catalogue, &members, &member)
    }

    fn from_members(
        meta: RepoMeta,
        file: &Path,
        members: &BTreeMap<String, Vec<u8>>,
        member: &str,
    ) -> Result<Catalogue> {
        let Some(bytes) = members.get(member) else {
            return Err(repo_error(
                file,
                format!("the archive has no member `{member}`"),
            ));
        };
        let values: Vec<(String, Value)> = if member == meta.data {
            let mut doc =
                json::parse(bytes).map_err(|e| repo_error(file, format!("`{member}`: {e}")))?;
            let Some(Value::Array(packages)) = doc.get_mut("packages").map(Value::take) else {
                return Err(repo_error(
                    file,
                    format!("`{member}` has no `packages` array"),
                ));
            };
            packages
                .into_iter()
                .enumerate()
                .map(|(i, v)| (format!("#{}", i + 1), v))
                .collect()
        } else {
            let mut out = Vec::new();
            for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let where_ = format!("line {}", n + 1);
                let v = json::parse(line).map_err(|why| PkgError::CatalogueEntry {
                    repository: file.display().to_string(),
                    entry: where_.clone(),
                    why,
                })?;
                out.push((where_, v));
            }
            out
        };
        let mut entries = BTreeMap::new();
        for (position, value) in values {
            let entry = entry_from_value(&value).map_err(|why| PkgError::CatalogueEntry {
                repository: file.display().to_string(),
                entry: value
                    .get("name")
                    .and_then(Value::as_str)
                    .map_or(position.clone(), |n| n.escape_debug().to_string()),
                why,
            })?;
            let name = entry.manifest.name.clone();
            if entries.insert(name.clone(), entry).is_some() {
                return Err(PkgError::CatalogueEntry {
                    repository: file.display().to_string(),
                    entry: name,
                    why: "the catalogue lists this name twice".into(),
                });
            }
        }
        let sha256 = crate::store::hash::sha256_file(file).map_err(io("reading", file))?;
        Ok(Catalogue {
            meta,
            entries,
            sha256_of_catalogue: sha256,
            file: file.to_owned(),
        })
    }

    /// Refuses the catalogue if any entry is built for another ABI than `target`'s, or
    /// needs a newer FreeBSD_version (as `pkg update` refuses it).
    pub fn check_abi(&self, target: &Target) -> Result<()> {
        for (name, e) in &self.entries {
            check_target(&e.manifest, name, target).map_err(|err| PkgError::CatalogueEntry {
                repository: self.file.display().to_string(),
                entry: name.clone(),
                why: err.to_string(),
            })?;
        }
        Ok(())
    }

    /// The entry of package `name`.
    pub fn get(&self, name: &str) -> Option<&CatalogueEntry> {
        self.entries.get(name)
    }
}

/// Whether `repopath` stays inside the repository: relative, no `..`, no characters a URL
/// or a server would read as syntax.
pub fn check_repopath(repopath: &str) -> std::result::Result<(), String> {
    if repopath.starts_with('/') {
        return Err(format!("path `{}` is absolute", repopath.escape_debug()));
    }
    if repopath.contains(['%', '?', '#', '\\']) {
        return Err(format!(
            "path `{}` holds `%`, `?`, `#` or `\\`",
            repopath.escape_debug()
        ));
    }
    match crate::freebsd::normalize_member_path(repopath) {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err("the path is empty".into()),
        Err(why) => Err(format!("path `{}`: {why}", repopath.escape_debug())),
    }
}

fn entry_from_value(v: &Value) -> std::result::Result<CatalogueEntry, String> {
    let manifest: Manifest = Manifest::from_value(v)?.compact();
    let obj = v.as_object().ok_or("not a JSON object")?;
    let sum = obj
        .get("sum")
        .and_then(Value::as_str)
        .ok_or("no `sum` string")?;
    let sha256 = match Sum::parse(sum)? {
        Some(Sum {
            kind: SumKind::Sha256,
            digest,
        }) => digest,
        Some(_) => return Err("`sum` is not SHA-256: fruix checks packages by sha256".into()),
        None => return Err("`sum` is empty".into()),
    };
    let pkgsize = obj
        .get("pkgsize")
        .and_then(Value::as_u64)
        .ok_or("no `pkgsize` integer")?;
    let repopath = obj
        .get("repopath")
        .or_else(|| obj.get("path"))
        .and_then(Value::as_str)
        .ok_or("no `repopath` or `path` string")?
        .to_owned();
    check_repopath(&repopath)?;
    Ok(CatalogueEntry {
        manifest,
        sha256,
        pkgsize,
        repopath,
    })
}

#[cfg(test)]
#[path = "catalogue_tests.rs"]
mod tests;
