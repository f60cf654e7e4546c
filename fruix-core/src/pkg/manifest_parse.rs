//! Manifests from and to the JSON `pkg create` writes (`+MANIFEST`, `+COMPACT_MANIFEST`,
//! catalogue entries). UCL that is not JSON is refused with a clear error.
//!
//! Rules (pkg 2.4's, made strict where pkg only warns):
//! - required: name, origin, version, comment, desc, maintainer, www, prefix;
//! - `desc`, script bodies and `files`/`directories` keys are URL-decoded (pkg encodes
//!   `%` and non-ASCII bytes as `%XX`);
//! - `files`: `{path: {sum, uname, gname, perm, fflags, symlink_target, mtime}}` (2.4+) or
//!   `{path: "<sum>"|"-"}` (up to 2.3); `directories`: `{path: {uname, gname, perm,
//!   fflags}}` or `{path: "y"|true}`; `perm` is an octal string (`"4111"`) or a number;
//! - a key twice in one object is an error; unknown top-level keys are skipped;
//! - a known key of the wrong type is an error (pkg skips it with a warning);
//! - scripts: the six phases of [`ScriptPhase`]; `pre-upgrade`/`upgrade`/`post-upgrade`
//!   are ignored (a system build installs, it never upgrades); any other script key is an
//!   error, so that a script fruix does not know of is never silently dropped.

use super::json;
use super::manifest::{Dependency, DirEntry, FileEntry, Manifest, ScriptPhase, Sum};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Keys every manifest must have.
pub const REQUIRED: [&str; 8] = [
    "name",
    "origin",
    "version",
    "comment",
    "desc",
    "maintainer",
    "www",
    "prefix",
];

/// Script keys of old packages that a fresh install never runs.
const UPGRADE_SCRIPTS: [&str; 3] = ["pre-upgrade", "upgrade", "post-upgrade"];

/// Lua script phases (pkg-lua-script(5)).
const LUA_PHASES: [ScriptPhase; 4] = [
    ScriptPhase::PreInstall,
    ScriptPhase::PostInstall,
    ScriptPhase::PreDeinstall,
    ScriptPhase::PostDeinstall,
];

/// pkg's URL decoding: `%XX` is a byte; `%` followed by non-hex stays as it is.
pub fn url_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let Some(pair) = bytes.get(i + 1..i + 3) else {
                return Err(format!(
                    "`{}` ends inside a `%XX` escape",
                    text.escape_debug()
                ));
            };
            match std::str::from_utf8(pair)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(b) => out.push(b),
                None => out.extend_from_slice(&bytes[i..i + 3]),
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| format!("`{}` decodes to non-UTF-8 bytes", text.escape_debug()))
}

/// pkg's URL encoding: `%` and non-ASCII bytes become `%xx`.
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b == b'%' || !b.is_ascii() {
            out.push_str(&format!("%{b:02x}"));
        } else {
            out.push(char::from(b));
        }
    }
    out
}

impl Manifest {
    /// Parses a manifest from the JSON `pkg create` writes.
    pub fn from_json(text: &[u8]) -> Result<Manifest, String> {
        let first = text.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') {
            return Err(
                "not a JSON object: only the JSON form of UCL that `pkg create` writes is read"
                    .into(),
            );
        }
        let value = json::parse(text)?;
        Manifest::from_value(&value)
    }

    /// Reads a manifest from an already parsed JSON object (catalogue entries).
    pub fn from_value(value: &Value) -> Result<Manifest, String> {
        let obj = value.as_object().ok_or("not a JSON object")?;
        let mut m = Manifest::default();
        for key in REQUIRED {
            if !obj.contains_key(key) {
                return Err(format!("the required key `{key}` is missing"));
            }
        }
        m.name = scalar(obj, "name")?;
        m.origin = string(obj, "origin")?;
        m.version = scalar(obj, "version")?;
        m.comment = string(obj, "comment")?;
        m.desc = url_decode(&string(obj, "desc")?).map_err(|e| format!("`desc`: {e}"))?;
        m.maintainer = string(obj, "maintainer")?;
        m.www = string(obj, "www")?;
        m.prefix = string(obj, "prefix")?;
        m.abi = opt_string(obj, "abi")?;
        m.arch = opt_string(obj, "arch")?;
        check_name("name", &m.name)?;
        check_name("version", &m.version)?;
        if !m.prefix.starts_with('/') {
            return Err(format!(
                "`prefix` `{}` is not absolute",
                m.prefix.escape_debug()
            ));
        }
        if let Some(v) = obj.get("flatsize") {
            m.flatsize = v
                .as_u64()
                .ok_or("`flatsize` is not a non-negative integer")?;
        }
        if let Some(deps) = opt_object(obj, "deps")? {
            for (name, dep) in deps {
                let d = dep.as_object().ok_or_else(|| {
                    format!("dependency `{}` is not an object", name.escape_debug())
                })?;
                check_name("dependency name", name)?;
                m.deps.insert(
                    name.clone(),
                    Dependency {
                        origin: opt_string(d, "origin")?,
                        version: opt_scalar(d, "version")?,
                    },
                );
            }
        }
        m.users = names(obj, "users")?;
        m.groups = names(obj, "groups")?;
        m.shlibs_required = strings(obj, "shlibs_required")?;
        if m.shlibs_required.is_empty() {
            m.shlibs_required = strings(obj, "shlibs")?;
        }
        m.shlibs_provided = strings(obj, "shlibs_provided")?;
        if let Some(ann) = opt_object(obj, "annotations")? {
            for (k, v) in ann {
                let v = v
                    .as_str()
                    .ok_or_else(|| format!("annotation `{}` is not a string", k.escape_debug()))?;
                m.annotations.insert(k.clone(), v.to_owned());
            }
        }
        if let Some(files) = opt_object(obj, "files")? {
            for (key, v) in files {
                let path = url_decode(key).map_err(|e| format!("`files`: {e}"))?;
                let entry = file_entry(&path, v)?;
                if m.files.insert(path.clone(), entry).is_some() {
                    return Err(format!("`files` lists `{}` twice", path.escape_debug()));
                }
            }
        }
        if let Some(dirs) = opt_object(obj, "directories")? {
            for (key, v) in dirs {
                let path = url_decode(key).map_err(|e| format!("`directories`: {e}"))?;
                let entry = dir_entry(&path, v)?;
                if m.directories.insert(path.clone(), entry).is_some() {
                    return Err(format!(
                        "`directories` lists `{}` twice",
                        path.escape_debug()
                    ));
                }
            }
        }
        m.config = strings(obj, "config")?;
        if let Some(scripts) = opt_object(obj, "scripts")? {
            for (key, v) in scripts {
                if UPGRADE_SCRIPTS.contains(&key.as_str()) {
                    continue;
                }
                let phase = ScriptPhase::ALL
                    .into_iter()
                    .find(|p| p.key() == key)
                    .ok_or_else(|| unknown_script("scripts", key))?;
                let body = v
                    .as_str()
                    .ok_or_else(|| format!("script `{key}` is not a string"))?;
                let body = url_decode(body).map_err(|e| format!("script `{key}`: {e}"))?;
                m.scripts.insert(phase, body);
            }
        }
        if let Some(lua) = opt_object(obj, "lua_scripts")? {
            for (key, v) in lua {
                let phase = LUA_PHASES
                    .into_iter()
                    .find(|p| p.key() == key)
                    .ok_or_else(|| unknown_script("lua_scripts", key))?;
                let bodies = v
                    .as_array()
                    .ok_or_else(|| format!("lua script `{key}` is not an array"))?;
                let mut out = Vec::new();
                for b in bodies {
                    let b = b
                        .as_str()
                        .ok_or_else(|| format!("lua script `{key}` holds a non-string"))?;
                    out.push(url_decode(b).map_err(|e| format!("lua script `{key}`: {e}"))?);
                }
                m.lua_scripts.insert(phase, out);
            }
        }
        Ok(m)
    }

    /// This manifest without what only the full manifest holds (files, directories,
    /// config, scripts): what `+COMPACT_MANIFEST` and a catalogue entry hold.
    pub fn compact(&self) -> Manifest {
        Manifest {
            files: BTreeMap::new(),
            directories: BTreeMap::new(),
            config: Vec::new(),
            scripts: BTreeMap::new(),
            lua_scripts: BTreeMap::new(),
            ..self.clone()
        }
    }

    /// The JSON object `pkg create` would write for this manifest (`full`: with files,
    /// directories, config and scripts).
    pub fn to_value(&self, full: bool) -> Map<String, Value> {
        let mut o = Map::new();
        let s = |v: &str| Value::String(v.to_owned());
        for (k, v) in [
            ("name", &self.name),
            ("origin", &self.origin),
            ("version", &self.version),
            ("comment", &self.comment),
            ("maintainer", &self.maintainer),
            ("www", &self.www),
            ("abi", &self.abi),
            ("arch", &self.arch),
            ("prefix", &self.prefix),
        ] {
            o.insert(k.into(), s(v));
        }
        o.insert("desc".into(), s(&url_encode(&self.desc)));
        o.insert("flatsize".into(), Value::from(self.flatsize));
        if !self.deps.is_empty() {
            let deps = self
                .deps
                .iter()
                .map(|(n, d)| {
                    let mut dep = Map::new();
                    dep.insert("origin".into(), s(&d.origin));
                    dep.insert("version".into(), s(&d.version));
                    (n.clone(), Value::Object(dep))
                })
                .collect();
            o.insert("deps".into(), Value::Object(deps));
        }
        let list = |v: &[String]| Value::Array(v.iter().map(|x| s(x)).collect());
        for (k, v) in [
            ("users", &self.users),
            ("groups", &self.groups),
            ("shlibs_required", &self.shlibs_required),
            ("shlibs_provided", &self.shlibs_provided),
        ] {
            if !v.is_empty() {
                o.insert(k.into(), list(v));
            }
        }
        if !self.annotations.is_empty() {
            let ann = self
                .annotations
                .iter()
                .map(|(k, v)| (k.clone(), s(v)))
                .collect();
            o.insert("annotations".into(), Value::Object(ann));
        }
        if !full {
            return o;
        }
        let owner = |m: &mut Map<String, Value>, u: &str, g: &str, perm: Option<u16>, fl: u32| {
            m.insert("uname".into(), s(u));
            m.insert("gname".into(), s(g));
            if let Some(p) = perm {
                m.insert("perm".into(), s(&format!("{p:04o}")));
            }
            m.insert("fflags".into(), Value::from(fl));
        };
        if !self.files.is_empty() {
            let files = self
                .files
                .iter()
                .map(|(p, f)| {
                    let mut e = Map::new();
                    e.insert(
                        "sum".into(),
                        s(&f.sum.as_ref().map_or("-".to_owned(), Sum::to_string)),
                    );
                    owner(&mut e, &f.uname, &f.gname, f.perm, f.fflags);
                    if let Some(t) = &f.symlink_target {
                        e.insert("symlink_target".into(), s(t));
                    }
                    (url_encode(p), Value::Object(e))
                })
                .collect();
            o.insert("files".into(), Value::Object(files));
        }
        if !self.directories.is_empty() {
            let dirs = self
                .directories
                .iter()
                .map(|(p, d)| {
                    let mut e = Map::new();
                    owner(&mut e, &d.uname, &d.gname, d.perm, d.fflags);
                    (url_encode(p), Value::Object(e))
                })
                .collect();
            o.insert("directories".into(), Value::Object(dirs));
        }
        if !self.config.is_empty() {
            o.insert("config".into(), list(&self.config));
        }
        if !self.scripts.is_empty() {
            let sc = self
                .scripts
                .iter()
                .map(|(p, b)| (p.key().to_owned(), s(&url_encode(b))))
                .collect();
            o.insert("scripts".into(), Value::Object(sc));
        }
        if !self.lua_scripts.is_empty() {
            let sc = self
                .lua_scripts
                .iter()
                .map(|(p, b)| {
                    let bodies = b.iter().map(|x| s(&url_encode(x))).collect();
                    (p.key().to_owned(), Value::Array(bodies))
                })
                .collect();
            o.insert("lua_scripts".into(), Value::Object(sc));
        }
        o
    }

    /// Compact JSON text of [`Self::to_value`].
    pub fn to_json(&self, full: bool) -> String {
        Value::Object(self.to_value(full)).to_string()
    }
}

fn unknown_script(section: &str, key: &str) -> String {
    format!(
        "`{section}` has the unknown script `{}`: fruix refuses scripts it does not know rather than drop them",
        key.escape_debug()
    )
}

/// Names and versions: non-empty, no `/`, whitespace or control characters.
fn check_name(what: &str, value: &str) -> Result<(), String> {
    if value.is_empty()
        || value.contains('/')
        || value.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "{what} `{}` is empty or holds `/`, spaces or control characters",
            value.escape_debug()
        ));
    }
    Ok(())
}

fn string(obj: &Map<String, Value>, key: &str) -> Result<String, String> {
    match obj.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(format!("`{key}` is not a string")),
        None => Err(format!("the required key `{key}` is missing")),
    }
}

fn opt_string(obj: &Map<String, Value>, key: &str) -> Result<String, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(_) => string(obj, key),
    }
}

/// A string, or a number written as one (UCL reads `version: 2` as a number).
fn scalar(obj: &Map<String, Value>, key: &str) -> Result<String, String> {
    match obj.get(key) {
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => string(obj, key),
    }
}

fn opt_scalar(obj: &Map<String, Value>, key: &str) -> Result<String, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(_) => scalar(obj, key),
    }
}

fn opt_object<'v>(
    obj: &'v Map<String, Value>,
    key: &str,
) -> Result<Option<&'v Map<String, Value>>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(format!("`{key}` is not an object")),
    }
}

fn strings(obj: &Map<String, Value>, key: &str) -> Result<Vec<String>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("`{key}` holds a non-string"))
            })
            .collect(),
        Some(_) => Err(format!("`{key}` is not an array")),
    }
}

/// `users`/`groups`: an array of names, or (old manifests) an object keyed by name.
fn names(obj: &Map<String, Value>, key: &str) -> Result<Vec<String>, String> {
    match obj.get(key) {
        Some(Value::Object(o)) => Ok(o.keys().cloned().collect()),
        _ => strings(obj, key),
    }
}

fn perm(path: &str, v: Option<&Value>) -> Result<Option<u16>, String> {
    let bad = || format!("`{}`: `perm` is not an octal mode", path.escape_debug());
    let mode = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.is_empty() => return Ok(None),
        Some(Value::String(s)) => u32::from_str_radix(s, 8).map_err(|_| bad())?,
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(bad)?,
        Some(_) => return Err(bad()),
    };
    if mode > 0o7777 {
        return Err(bad());
    }
    Ok(Some(mode as u16))
}

fn fflags(path: &str, v: Option<&Value>) -> Result<u32, String> {
    match v {
        None | Some(Value::Null) => Ok(0),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| format!("`{}`: `fflags` is not a 32-bit number", path.escape_debug())),
    }
}

fn owner_name(path: &str, obj: &Map<String, Value>, key: &str) -> Result<String, String> {
    opt_string(obj, key).map_err(|e| format!("`{}`: {e}", path.escape_debug()))
}

fn file_entry(path: &str, v: &Value) -> Result<FileEntry, String> {
    match v {
        Value::String(sum) => Ok(FileEntry {
            sum: Sum::parse(sum).map_err(|e| format!("`{}`: {e}", path.escape_debug()))?,
            ..FileEntry::default()
        }),
        Value::Object(o) => {
            let sum = match o.get("sum") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => {
                    Sum::parse(s).map_err(|e| format!("`{}`: {e}", path.escape_debug()))?
                }
                Some(_) => return Err(format!("`{}`: `sum` is not a string", path.escape_debug())),
            };
            let target = opt_string(o, "symlink_target")
                .map_err(|e| format!("`{}`: {e}", path.escape_debug()))?;
            Ok(FileEntry {
                sum,
                uname: owner_name(path, o, "uname")?,
                gname: owner_name(path, o, "gname")?,
                perm: perm(path, o.get("perm"))?,
                fflags: fflags(path, o.get("fflags"))?,
                symlink_target: (!target.is_empty()).then_some(target),
            })
        }
        _ => Err(format!(
            "file `{}` is neither a sum nor an object",
            path.escape_debug()
        )),
    }
}

fn dir_entry(path: &str, v: &Value) -> Result<DirEntry, String> {
    match v {
        Value::String(_) | Value::Bool(_) => Ok(DirEntry::default()),
        Value::Object(o) => Ok(DirEntry {
            uname: owner_name(path, o, "uname")?,
            gname: owner_name(path, o, "gname")?,
            perm: perm(path, o.get("perm"))?,
            fflags: fflags(path, o.get("fflags"))?,
        }),
        _ => Err(format!(
            "directory `{}` is neither a flag nor an object",
            path.escape_debug()
        )),
    }
}

#[cfg(test)]
#[path = "manifest_parse_tests.rs"]
mod tests;
